/**
 * Store.backup: a consistent copy that another store opens; close() waits for a copy being made; a
 * target with files, or a failure, leaves nothing that looks like a backup (a stale .partial from a crash
 * is cleaned); the engine's first open of a copy skips message ids by the time since the backup (capped),
 * once, while an offline open (the CLI's) leaves the mark in place. And Admin.backup: one at a time, the
 * operator's only, its state followed, audited.
 */
import t from 'tap'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open } from 'lmdb'
import { ID_BLOCK, RESTORE_IDS_MAX, RESTORE_IDS_PER_SECOND, Store, type StoredMessage } from '../engine/store'
import { Admin } from '../engine/admin'
import { Ledger } from '../engine/ledger'
import { defaultSettings, OPERATOR } from '../engine/accounts'
import { isSmscError } from '../engine/errors'

function tmp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'smsc-backup.'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A store with `n` messages (ids from allocateIds) and one account; closed in teardown unless closed before. */
async function filled(t: { teardown(fn: () => unknown): void }, n: number): Promise<{ store: Store; ids: string[] }> {
  const store = await Store.open(join(tmp(t), 'store'))
  t.teardown(() => store.close())
  const ids = store.allocateIds(n, 'decimal')
  const msgs: StoredMessage[] = ids.map((id) => ({ id, systemId: 'acc', state: 1, text: Buffer.alloc(200, 7) }))
  for (let i = 0; i < msgs.length; i += 5000) await store.commit({ messages: msgs.slice(i, i + 5000) })
  await store.putAccount({ systemId: 'acc', passwordHash: 'x', createdAt: 1, updatedAt: 1 })
  return { store, ids }
}

/** Sets the copy's backup mark to `at` (as if the copy had been made then). */
async function markAt(copyStore: string, at: number): Promise<void> {
  const env = open(copyStore, { maxDbs: 16, noSubdir: false } as never)
  await env.openDB<unknown, string>('meta', {}).put('store:backupAt', at)
  await env.close()
}

t.test('the copy has every message and account; close() waits for a copy being made', async (t) => {
  const { store, ids } = await filled(t, 20_000)
  const dir = join(tmp(t), 'b')
  const copying = store.backup(dir)
  await store.close() // right away: it must wait for the copy, not pull LMDB from under it
  const bytes = await copying
  t.ok(bytes > 20_000 * 200, `the copy has the messages (${bytes} bytes)`)
  t.same(readdirSync(dir), ['store'], 'a data dir: store/ and nothing else')
  const copy = await Store.open(join(dir, 'store'), { restoreIds: true })
  t.teardown(() => copy.close())
  t.equal(copy.getMessage(ids[12_345])?.id, ids[12_345])
  t.equal((copy.getMessage(ids[0]) as unknown as { text: Buffer }).text.length, 200)
  t.ok(copy.getAccount('acc'))
  t.equal(copy.activeMessages().length, 20_000, 'every message in flight is in flight on the copy')
})

t.test('a target with files is refused and left as it was; a stale .partial is cleaned', async (t) => {
  const { store } = await filled(t, 10)
  const full = join(tmp(t), 'full')
  mkdirSync(full)
  writeFileSync(join(full, 'keep'), 'x')
  await t.rejects(store.backup(full), /backup to .*full failed: .*full is not empty/)
  t.same(readdirSync(full), ['keep'], 'nothing added, nothing removed')
  const crashed = join(tmp(t), 'crashed')
  mkdirSync(join(crashed, '.partial', 'store'), { recursive: true })
  writeFileSync(join(crashed, '.partial', 'store', 'data.mdb'), 'half a copy')
  await store.backup(crashed)
  t.same(readdirSync(crashed), ['store'], 'the half copy of a crashed attempt is gone, the new copy is there')
  const mount = join(tmp(t), 'mount')
  mkdirSync(join(mount, 'lost+found'), { recursive: true })
  await store.backup(mount)
  t.same(readdirSync(mount).sort(), ['lost+found', 'store'], 'a new file system\'s lost+found does not make it "not empty"')
  const storeDir = (store as unknown as { dir: string }).dir
  await t.rejects(store.backup(join(storeDir, 'inside')), /inside the store it would copy/, 'not into the store itself')
  await t.rejects(store.backup(join(storeDir, '..foo')), /inside the store it would copy/, 'nor into a child whose name starts with ..')
  const link = join(tmp(t), 'link')
  symlinkSync(storeDir, link)
  await t.rejects(store.backup(join(link, 'sub')), /inside the store it would copy/, 'nor through a symlink to it')
  t.notOk(existsSync(join(storeDir, 'inside')) || existsSync(join(storeDir, '..foo')) || existsSync(join(storeDir, 'sub')), 'and nothing was created there')
  const bad = join(tmp(t), 'a-file')
  writeFileSync(bad, 'x')
  try {
    await store.backup(join(bad, 'sub'))
    t.fail('a target under a file cannot be made')
  } catch (e) {
    t.ok(isSmscError(e, 'SMSC_ERR_BACKUP_FAILED'), String(e))
  }
})

t.test('the engine\'s first open of a copy skips ids by the time since the backup, capped, once; an offline open leaves the mark', async (t) => {
  const { store, ids } = await filled(t, 10)
  const last = Number(ids[ids.length - 1])
  const dir = join(tmp(t), 'b')
  await store.backup(dir)
  const copyStore = join(dir, 'store')
  await markAt(copyStore, Date.now() - 10_000)

  const offline = await Store.open(copyStore) // the CLI's open: hands out no ids
  t.equal(offline.restored, null, 'an offline open does not take the mark')
  await offline.close()

  const first = await Store.open(copyStore, { restoreIds: true })
  t.match(first.restored, { capped: false })
  const skipped = first.restored?.skippedIds ?? 0
  t.ok(skipped >= 10 * RESTORE_IDS_PER_SECOND && skipped <= 12 * RESTORE_IDS_PER_SECOND, `10 s since the backup: about ${10 * RESTORE_IDS_PER_SECOND} ids skipped (${skipped})`)
  const next = Number(first.allocateIds(1, 'decimal')[0])
  t.ok(next > last + skipped, `the next id (${next}) is past every id before the backup (${last}) by the skip`)
  await first.close()

  const again = await Store.open(copyStore, { restoreIds: true })
  t.equal(again.restored, null, 'the second open is an ordinary one')
  const after = Number(again.allocateIds(1, 'decimal')[0])
  t.ok(after > next && after - next <= 2 * ID_BLOCK, `no second skip (${after})`)
  await again.close()

  const dir2 = join(tmp(t), 'old')
  await store.backup(dir2)
  await markAt(join(dir2, 'store'), Date.now() - 86_400_000)
  const old = await Store.open(join(dir2, 'store'), { restoreIds: true })
  t.match(old.restored, { skippedIds: RESTORE_IDS_MAX, capped: true }, 'a day-old copy skips at most RESTORE_IDS_MAX')
  t.equal(old.allocateIds(1, 'decimal')[0].length, 10, 'and its ids stay 10 digits')
  await old.close()
})

t.test('backups the engine names itself beyond store.backupsKept are removed, oldest first; others are left alone', async (t) => {
  const { store } = await filled(t, 10)
  const base = join(tmp(t), 'backups')
  let clock = Date.UTC(2026, 11, 7, 3, 0, 0)
  const admin = new Admin({
    store, ledger: new Ledger(store, Date.now), now: () => (clock += 60_000), commit: (b) => store.commit(b),
    defaults: defaultSettings({ maxBinds: 1, windowSize: 1, messageIdFormat: 'decimal' }), connectors: () => new Set(['simulator']), backupsDir: base, backupsKept: 2,
  })
  mkdirSync(join(base, 'mine'), { recursive: true })
  const made: string[] = []
  for (let i = 0; i < 3; i++) made.push((await admin.backup(OPERATOR)).path)
  t.same(readdirSync(base).sort(), ['mine', ...made.slice(1).map((p) => p.slice(base.length + 1))].sort(), 'the two latest and a directory of another name')
  t.same(admin.backupState(OPERATOR).backup?.removed, [made[0].slice(base.length + 1)], 'the state says which were removed')
  const given = join(tmp(t), 'given')
  await admin.backup(OPERATOR, given)
  t.ok(existsSync(join(given, 'store')), 'a backup written elsewhere')
  t.equal(readdirSync(base).length, 3, 'removes nothing under backups (and is never removed)')
  t.throws(() => admin.backup(OPERATOR, join(base, 'x')), { code: 'SMSC_ERR_BACKUP_FAILED' }, 'a given place inside the engine\'s own backups directory is refused (it would be pruned)')
})

t.test('pruning keeps the backup just made, whatever its name sorts as, and counts only complete copies', async (t) => {
  const { store } = await filled(t, 10)
  const base = join(tmp(t), 'backups')
  const clock = Date.UTC(2026, 11, 7, 3, 0, 0) // every backup in the same second: the random suffix orders them
  const admin = new Admin({
    store, ledger: new Ledger(store, Date.now), now: () => clock, commit: (b) => store.commit(b),
    defaults: defaultSettings({ maxBinds: 1, windowSize: 1, messageIdFormat: 'decimal' }), connectors: () => new Set(['simulator']), backupsDir: base, backupsKept: 1,
  })
  for (let i = 0; i < 6; i++) {
    const made = await admin.backup(OPERATOR)
    t.ok(existsSync(join(made.path, 'store', 'data.mdb')), `backup ${i + 1}: the one just made is there`)
    t.equal(readdirSync(base).length, 1, 'and only it')
  }
  // left by a crash: a stamped directory with no complete copy, named as if later than any
  mkdirSync(join(base, '20991231T235959Z-ffffff', 'store'), { recursive: true })
  const admin2 = new Admin({
    store, ledger: new Ledger(store, Date.now), now: () => clock + 60_000, commit: (b) => store.commit(b),
    defaults: defaultSettings({ maxBinds: 1, windowSize: 1, messageIdFormat: 'decimal' }), connectors: () => new Set(['simulator']), backupsDir: base, backupsKept: 2,
  })
  const before = readdirSync(base).filter((n) => n !== '20991231T235959Z-ffffff')
  const made = await admin2.backup(OPERATOR)
  t.same(readdirSync(base).sort(), [...before, made.path.slice(base.length + 1)].sort(), 'the leftover is removed and does not count: the previous complete backup stays')
})

t.test('Admin.backup: the operator only, one at a time, its state followed, audited', async (t) => {
  const { store } = await filled(t, 10)
  const base = join(tmp(t), 'backups')
  const admin = new Admin({
    store, ledger: new Ledger(store, Date.now), now: Date.now, commit: (b) => store.commit(b),
    defaults: defaultSettings({ maxBinds: 1, windowSize: 1, messageIdFormat: 'decimal' }), connectors: () => new Set(['simulator']), backupsDir: base,
  })
  t.throws(() => admin.backup({ role: 'reseller', systemId: 'r', name: 'r' }), { code: 'SMSC_ERR_ADMIN_FORBIDDEN' })
  const done = admin.backup(OPERATOR)
  t.match(admin.backupState(OPERATOR).backup, { state: 'running' }, 'followed while it runs')
  t.throws(() => admin.backup(OPERATOR), { code: 'SMSC_ERR_BACKUP_RUNNING' }, 'one at a time')
  const st = await done
  t.match(st, { state: 'done', bytes: Number, ms: Number })
  t.ok(st.path.startsWith(base) && existsSync(join(st.path, 'store', 'data.mdb')), 'under backupsDir, named by its time')
  t.match(store.auditEntries({ limit: 1 })[0], { action: 'store.backup', target: 'store', detail: { path: st.path, bytes: st.bytes } })
  const second = await admin.backup(OPERATOR, join(tmp(t), 'given'))
  t.match(second, { state: 'done' }, 'the next one may start once it is done, into a given directory too')
  const full = join(tmp(t), 'full')
  mkdirSync(full)
  writeFileSync(join(full, 'x'), 'x')
  await t.rejects(admin.backup(OPERATOR, full), { code: 'SMSC_ERR_BACKUP_FAILED' })
  t.match(admin.backupState(OPERATOR).backup, { state: 'failed', error: /not empty/ }, 'a failure is in the state, with why')
  t.same(admin.backupState(OPERATOR).recent.map((b) => b.state), ['done', 'done', 'failed'], 'and the earlier ones are still known (a client following its own finds it)')
})
