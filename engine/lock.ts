/**
 * The data-dir lock: one writer per store. The engine holds it while it runs, and so does the CLI when
 * it opens the store itself (engine/admin-client.ts); two writers would hand out the same message ids
 * and ledger/audit seqs. The lock is the file <dataDir>/smsc.lock holding the owner's pid, created
 * exclusively. A lock whose pid is gone is stale and taken over; a pid that exists but belongs to
 * another user (kill(pid, 0) fails with EPERM) is alive. Our own pid counts as alive only while this
 * process holds the lock (a lock file left by an earlier process that had our pid, e.g. pid 1 in a
 * container, is stale).
 *
 * A stale lock means its holder did not stop cleanly (kill -9, a crash, a power loss): a clean stop removes the lock.
 * Whoever takes one over (the engine, or the CLI opening the store with no engine running) leaves the mark
 * <dataDir>/smsc.unclean (the dead holder's pid, when it was found): the next engine start reports it (a warn line,
 * the banner, smsc_unclean_start) and removes it, so a CLI command run between the crash and the start does not make
 * that start look clean.
 */
import fs from 'node:fs'
import path from 'node:path'
import { checkDataDirAccess } from './dirs'
import { smscError } from './errors'

const LOCK_FILE = 'smsc.lock'
/** The mark of a lock found stale (uncleanStop): JSON { pid, at }. */
const UNCLEAN_FILE = 'smsc.unclean'
/** An empty lock file younger than this is being written by its owner. */
const FRESH_MS = 5_000
/** Lock files this process holds (resolved paths). */
const held = new Set<string>()

/** True if a process with this pid exists (also one of another user: EPERM). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes the lock of `dir` (which must exist) and returns its release. SMSC_ERR_DATA_DIR_LOCKED (the message
 * names the holder's pid) when a live process holds it; SMSC_ERR_DATA_DIR_ACCESS when this user cannot write
 * the data dir or its store.
 */
export function lockDataDir(dir: string): () => void {
  checkDataDirAccess(dir)
  const file = path.resolve(dir, LOCK_FILE)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' })
      // Only a pid: readable by everyone whatever the umask (077 under `smsc`), so another user's command names
      // the engine that holds the data dir.
      fs.chmodSync(file, 0o644)
      held.add(file)
      return () => {
        if (!held.delete(file)) return
        try { if (fs.readFileSync(file, 'utf8') === String(process.pid)) fs.unlinkSync(file) } catch { /* gone already */ }
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      const pid = lockHolder(dir)
      if (pid !== null) throw smscError('SMSC_ERR_DATA_DIR_LOCKED', `data dir ${path.resolve(dir)} is in use by another smsc (${holderText(pid)})`)
      markUnclean(dir, file)
      try { fs.unlinkSync(file) } catch (u) { if ((u as NodeJS.ErrnoException).code !== 'ENOENT') throw u } // stale: its process is gone
    }
  }
  throw smscError('SMSC_ERR_DATA_DIR_LOCKED', `cannot lock data dir ${path.resolve(dir)}`)
}

/**
 * The pid of the live process holding the lock of `dir`, 0 when a holder is assumed but its pid is not known
 * (a lock file we cannot read, or one just created and not yet written), or null (no lock, or a stale one).
 */
export function lockHolder(dir: string): number | null {
  const file = path.resolve(dir, LOCK_FILE)
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    // A lock we cannot read is someone else's: take it for alive rather than write beside its owner.
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? null : 0
  }
  if (text === '') {
    // Between the exclusive create and the write of the pid.
    try { return Date.now() - fs.statSync(file).mtimeMs < FRESH_MS ? 0 : null } catch { return null }
  }
  const pid = Number(text)
  if (pid === process.pid) return held.has(file) ? pid : null
  return pidAlive(pid) ? pid : null
}

/**
 * A stale lock about to be taken over: its holder did not stop cleanly. The mark keeps the first such holder (a CLI
 * command killed after it took over an engine's stale lock leaves the engine's pid there). A mark that cannot be
 * written is no reason to refuse the start or the command.
 */
function markUnclean(dir: string, lockFile: string): void {
  let pid = 0
  try { pid = Number(fs.readFileSync(lockFile, 'utf8')) || 0 } catch { /* gone meanwhile: pid unknown */ }
  try {
    fs.writeFileSync(path.resolve(dir, UNCLEAN_FILE), JSON.stringify({ pid, at: Date.now() }), { flag: 'wx', mode: 0o644 })
  } catch { /* EEXIST: an earlier holder's mark stays */ }
}

/**
 * The mark of a holder that did not stop cleanly (its lock was found stale since the last engine start): its pid (0 when
 * not known) and when its lock was found, or null.
 */
export function uncleanStop(dir: string): { pid: number; at: number } | null {
  let text: string
  try { text = fs.readFileSync(path.resolve(dir, UNCLEAN_FILE), 'utf8') } catch { return null }
  try {
    const v = JSON.parse(text) as { pid?: unknown; at?: unknown }
    return { pid: Number.isInteger(v.pid) ? (v.pid as number) : 0, at: typeof v.at === 'number' ? v.at : 0 }
  } catch {
    return { pid: 0, at: 0 } // a mark cut short (a crash while writing it) is still a mark
  }
}

/** The engine has reported the unclean stop: the mark goes. */
export function clearUncleanStop(dir: string): void {
  try { fs.unlinkSync(path.resolve(dir, UNCLEAN_FILE)) } catch { /* none */ }
}

/** "pid 123", or "pid unknown" for a holder whose pid cannot be read. */
export function holderText(pid: number): string {
  return pid > 0 ? `pid ${pid}` : 'pid unknown'
}
