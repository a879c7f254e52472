/**
 * The engine's own places on disk: the directories a user names, and the private files it writes there.
 *
 * Creating the directories a user names (data dir, backup target, certificate dir). Node's
 * mkdirSync({ recursive: true }) never returns where mkdir answers ENOENT under a parent that
 * exists (anything under /proc): it takes that for a missing parent and tries again, forever, so
 * `dataDir: "/proc/smsc"` hung the engine's start. This walks up to the nearest existing parent and
 * makes each level once, so such a path fails at once with the system's answer.
 *
 * Private files (writePrivateFile: the first start's passwords) are never written in place: a reader or a
 * crash sees the old file or the new one, whole, and only ever with mode 0600.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { smscError } from './errors'

/** mkdir -p: creates `dir` and its missing parents; true if `dir` was created here. Throws the first mkdir error. */
export function makeDirs(dir: string): boolean {
  const missing: string[] = []
  let at = path.resolve(dir)
  while (!fs.existsSync(at)) {
    missing.push(at)
    const up = path.dirname(at)
    if (up === at) break
    at = up
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      fs.mkdirSync(missing[i])
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e // made meanwhile by someone else: fine
    }
  }
  return missing.length > 0
}

/** The data dir (config `dataDir`, `--data-dir`), created if missing: a path that cannot be one is a config error in one line. */
export function makeDataDir(dir: string): void {
  try {
    makeDirs(dir)
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    throw smscError('SMSC_ERR_CONFIG_INVALID', `dataDir ${path.resolve(dir)}: cannot be created (${err.code ?? err.message}${err.path && path.resolve(err.path) !== path.resolve(dir) ? ` at ${err.path}` : ''})`)
  }
  if (!fs.statSync(dir).isDirectory()) throw smscError('SMSC_ERR_CONFIG_INVALID', `dataDir ${path.resolve(dir)}: not a directory`)
}

/**
 * The data dir, its store dir and the store's files must be readable and writable by the user the engine runs
 * as. Checked before the lock is taken, so a data dir made by root (`sudo smsc account add` before the first
 * start) and a service running as its own user get one line naming the path, its owner and this user, instead
 * of an EACCES stack from the lock file or lmdb's "Attempting to setup locks".
 */
export function checkDataDirAccess(dir: string): void {
  const store = path.join(dir, 'store')
  for (const [p, isDir] of [[dir, true], [store, true], [path.join(store, 'data.mdb'), false], [path.join(store, 'lock.mdb'), false]] as const) {
    let st: fs.Stats | null = null
    try {
      st = fs.statSync(p)
      fs.accessSync(p, fs.constants.R_OK | fs.constants.W_OK | (isDir ? fs.constants.X_OK : 0))
    } catch (e) {
      if (st === null && (e as NodeJS.ErrnoException).code === 'ENOENT') continue // made later, by this user
      const me = os.userInfo()
      const whose = st === null ? `${(e as NodeJS.ErrnoException).code} reaching it` : `it belongs to uid ${st.uid}, mode ${(st.mode & 0o777).toString(8).padStart(3, '0')}`
      throw smscError('SMSC_ERR_DATA_DIR_ACCESS',
        `${path.resolve(p)} is not writable by ${me.username} (uid ${me.uid}): ${whose}; run smsc as its owner or chown -R the data dir to ${me.username}`)
    }
  }
}

/** Where a first start leaves the passwords it generated (the console admin's, the demo account's), readable by the engine's user only. */
export const INITIAL_CREDENTIALS = 'initial-credentials'
/** The labels of its lines (`label: password`). */
export const ADMIN_CREDENTIAL = 'console admin password'
export const accountCredential = (systemId: string): string => `account ${systemId} (SMPP system_id and API login) password`

/**
 * A generated password was changed (`smsc admin passwd`, the API, the console): its line leaves
 * <dataDir>/initial-credentials, which is removed once it holds none, so the file never shows a password that no
 * longer works (and starts stop pointing at it). Best effort: a file that cannot be read or written stays as it is.
 */
export function forgetInitialCredential(dataDir: string, label: string): void {
  const file = path.join(path.resolve(dataDir), INITIAL_CREDENTIALS)
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
    let text: string
    try { text = fs.readFileSync(fd, 'utf8') } finally { fs.closeSync(fd) }
    const lines = text.split('\n').filter((l) => l !== '')
    const kept = lines.filter((l) => l.slice(0, l.indexOf(':')) !== label)
    if (kept.length === lines.length) return
    if (kept.every((l) => l.startsWith('#'))) fs.unlinkSync(file)
    else writePrivateFile(file, kept.join('\n') + '\n')
  } catch { /* no file, or not ours to change */ }
}

/**
 * Writes `data` to `file` whole, readable by this user only (0600): a temp file beside it (created with
 * O_EXCL and mode 0600, so never one planted there nor a link), fsynced, renamed over `file` (which
 * replaces a link there instead of writing through it), then the directory fsynced so the rename
 * survives a crash. On failure the temp file is removed and the old file is left as it was.
 */
export function writePrivateFile(file: string, data: string): void {
  const dir = path.dirname(file)
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  let fd = fs.openSync(tmp, 'wx', 0o600)
  try {
    fs.fchmodSync(fd, 0o600) // the umask can only have narrowed it; exactly 0600
    fs.writeFileSync(fd, data)
    fs.fsyncSync(fd)
    fs.closeSync(fd)
    fd = -1
    fs.renameSync(tmp, file)
  } catch (e) {
    if (fd >= 0) fs.closeSync(fd)
    fs.rmSync(tmp, { force: true })
    throw e
  }
  try {
    const d = fs.openSync(dir, 'r')
    try { fs.fsyncSync(d) } finally { fs.closeSync(d) }
  } catch { /* a file system that cannot fsync a directory: the file is written, the rename may not be on disk yet */ }
}
