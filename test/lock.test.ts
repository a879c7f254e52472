// engine/lock.ts: one writer per data dir. A held lock refuses a second holder (in this process too), a
// stale one (dead pid, or our own pid from an earlier process) is taken over, a holder of another user
// (kill(pid, 0) → EPERM) counts as alive; and the CLI's store client (engine/admin-client.ts) holds the
// lock while it is open, so an engine cannot start beside it.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { clearUncleanStop, lockDataDir, lockHolder, pidAlive, uncleanStop } from '../engine/lock'
import { openAdminClient } from '../engine/admin-client'
import { resolveOptions } from '../engine/config'
import { isSmscError } from '../engine/errors'

function freshDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'smsc-lock-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A pid no process has now: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  return Number(r.stdout)
}

t.test('held: a second lock is refused until released; stale locks are taken over', async (t) => {
  const dir = freshDir(t)
  const file = path.join(dir, 'smsc.lock')
  const release = lockDataDir(dir)
  t.equal(readFileSync(file, 'utf8'), String(process.pid))
  t.equal(lockHolder(dir), process.pid)
  t.throws(() => lockDataDir(dir), { code: 'SMSC_ERR_DATA_DIR_LOCKED', message: `data dir ${dir} is in use by another smsc (pid ${process.pid})` },
    'refused in the same process while held')
  release()
  t.notOk(existsSync(file), 'released: the file is gone')
  t.equal(lockHolder(dir), null)

  writeFileSync(file, String(deadPid()))
  t.equal(lockHolder(dir), null, 'a dead pid is stale')
  lockDataDir(dir)()
  writeFileSync(file, String(process.pid))
  t.equal(lockHolder(dir), null, 'our own pid, not held by us: left by an earlier process with the same pid')
  const again = lockDataDir(dir)
  t.equal(lockHolder(dir), process.pid)
  again()
})

t.test('a stale lock taken over leaves the mark of an unclean stop (the first holder\'s pid) until it is cleared; a clean release leaves none', async (t) => {
  const dir = freshDir(t)
  const file = path.join(dir, 'smsc.lock')
  lockDataDir(dir)()
  t.equal(uncleanStop(dir), null, 'a lock released is a clean stop')
  const dead = deadPid()
  writeFileSync(file, String(dead))
  const before = Date.now()
  lockDataDir(dir)()
  const mark = uncleanStop(dir)
  t.equal(mark?.pid, dead, 'the mark names the holder that did not stop')
  t.ok((mark?.at ?? 0) >= before, 'and when its lock was found')
  // Another stale lock before the engine cleared the mark (a CLI command killed too): the first holder stays named.
  writeFileSync(file, String(deadPid()))
  lockDataDir(dir)()
  t.equal(uncleanStop(dir)?.pid, dead, 'a later stale lock keeps the first mark')
  clearUncleanStop(dir)
  t.equal(uncleanStop(dir), null, 'cleared')
})

t.test('a holder of another user (kill(pid, 0) fails with EPERM) is alive', async (t) => {
  t.equal(pidAlive(deadPid()), false)
  t.equal(pidAlive(process.pid), true)
  const dir = freshDir(t)
  if (process.getuid?.() !== 0) {
    // Not root: pid 1 belongs to another user, kill(1, 0) fails with EPERM.
    writeFileSync(path.join(dir, 'smsc.lock'), '1')
    t.equal(pidAlive(1), true)
    t.throws(() => lockDataDir(dir), { code: 'SMSC_ERR_DATA_DIR_LOCKED' })
    return
  }
  // Root: the lock is held by this (root) process, and a process of user nobody tries to take it.
  chmodSync(dir, 0o777)
  const release = lockDataDir(dir)
  t.teardown(release)
  const lock = path.join(__dirname, '..', 'engine', 'lock.js')
  // `env -i`: a bare environment (tap's process hooks would write where user nobody may not)
  const r = spawnSync('env', ['-i', `PATH=${process.env.PATH ?? ''}`, process.execPath, '-e', `
    const { lockDataDir, pidAlive } = require(${JSON.stringify(lock)})
    let kill = 'ok'; try { process.kill(${process.pid}, 0) } catch (e) { kill = e.code }
    let res; try { lockDataDir(${JSON.stringify(dir)}); res = 'taken' } catch (e) { res = e.code }
    process.stdout.write(JSON.stringify({ kill, alive: pidAlive(${process.pid}), res }))`], { encoding: 'utf8', uid: 65534, gid: 65534 })
  t.equal(r.status, 0, r.stderr)
  t.same(JSON.parse(r.stdout), { kill: 'EPERM', alive: true, res: 'SMSC_ERR_DATA_DIR_LOCKED' })
  t.equal(readFileSync(path.join(dir, 'smsc.lock'), 'utf8'), String(process.pid), 'the lock is still ours')
})

t.test('the CLI\'s store client holds the data-dir lock until closed', async (t) => {
  const dataDir = freshDir(t)
  const client = await openAdminClient(resolveOptions({ dataDir }))
  t.equal(client.via, 'store')
  t.equal(lockHolder(dataDir), process.pid, 'locked while open')
  try {
    lockDataDir(dataDir)()
    t.fail('an engine could have started beside the CLI')
  } catch (e) {
    t.ok(isSmscError(e, 'SMSC_ERR_DATA_DIR_LOCKED'), String(e))
  }
  await client.create({ systemId: 'x1', password: 'pw' })
  await client.close()
  t.equal(lockHolder(dataDir), null, 'released at close')
  t.notOk(existsSync(path.join(dataDir, 'smsc.lock')))
  const again = await openAdminClient(resolveOptions({ dataDir }))
  t.same((await again.list()).map((a) => a.systemId), ['x1'])
  await again.close()
})
