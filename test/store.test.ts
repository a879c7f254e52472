// engine/store.ts: durability (commit, reopen, kill -9), id allocation, the delivery queue, the active index (written late)
// and password verification. Each test gets a fresh temp dir and closes its stores.
import t from 'tap'
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ACTIVE_CHECKPOINT_MS, HEX_ID_BASE, ID_BLOCK, Store, type Account, type AccountRecord, type ApiKeyRecord, type CommitBatch, type DeliveryItem, type StoredMessage } from '../engine/store'
import { defaultSettings } from '../engine/accounts'
import { DEFAULTS } from '../engine/config'
import type { LedgerEntry } from '../engine/ledger'
import type { AuditEntry } from '../engine/admin'

function freshDir(t: { teardown(fn: () => void): void }): string {
  // a dot in the name on purpose: lmdb would take it for a file name unless told otherwise
  const dir = mkdtempSync(join(tmpdir(), 'smsc-store.'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function msg(id: string, state = 1, extra: Record<string, unknown> = {}): StoredMessage {
  return { id, systemId: 'esme-a', state, ...extra }
}
function receipt(systemId: string, extra: Record<string, unknown> = {}): DeliveryItem {
  return { systemId, kind: 'receipt', createdAt: 1_700_000_000_000, attempts: 0, ...extra }
}
async function account(systemId: string, password: string): Promise<AccountRecord> {
  return { systemId, passwordHash: await Store.hashPassword(password), maxBinds: 2, windowSize: 10, createdAt: 1, updatedAt: 1 }
}

t.test('a committed batch is found after reopen: messages (Buffers stay Buffers), queue items, accounts, meta', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  const body = Buffer.from([0x00, 0xff, 0x1b, 0x41])
  const item = receipt('esme-a', { messageId: 'x1' })
  await store.commit({ messages: [msg('m1', 1, { body, dest: '447700900001' })], enqueue: [item] })
  await store.putAccount(await account('esme-a', 'secret'))
  await store.putMeta('routes', { version: 3 })
  await store.close()

  store = await Store.open(dir)
  const m = store.getMessage('m1')
  t.ok(m, 'message present')
  t.ok(Buffer.isBuffer(m?.body), 'body is a Buffer')
  t.same(m?.body, body)
  t.equal(m?.dest, '447700900001')
  t.equal(store.getMessage('nope'), undefined)
  t.equal(store.pendingCount('esme-a'), 1)
  t.same(store.pendingDeliveries('esme-a'), [{ ...item, key: item.key }])
  t.same(store.accountsWithPending(), ['esme-a'])
  t.equal(store.getAccount('esme-a')?.maxBinds, 2)
  t.same(store.listAccounts().map((a) => a.systemId), ['esme-a'])
  t.same(store.getMeta('routes'), { version: 3 })
  await store.close()
})

t.test('commit assigns queue keys synchronously, increasing and unique across reopen', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  const a = receipt('esme-a')
  const b = receipt('esme-b')
  const p = store.commit({ enqueue: [a, b] })
  t.type(a.key, 'number', 'key readable right after commit() returns')
  t.ok((b.key as number) > (a.key as number))
  await p
  await store.commit({ ack: [{ systemId: 'esme-b', key: b.key as number }] }) // the highest key is gone from the queue
  await store.close()
  store = await Store.open(dir)
  const c = receipt('esme-a')
  await store.commit({ enqueue: [c] })
  t.ok((c.key as number) > (b.key as number), 'a key is never reused, even after the highest was acked')
  await store.close()
})

t.test('allocateIds: decimal and hex, 10 characters, increasing, never repeated across reopen', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  const dec = store.allocateIds(3, 'decimal')
  t.same(dec, ['0000000001', '0000000002', '0000000003'])
  const hex = store.allocateIds(12, 'hex')
  t.equal(hex[0], 'a000000004')
  t.equal(hex[11], 'a00000000f', 'lowercase hex')
  t.ok(hex.every((id) => /^[a-f][0-9a-f]{9}$/.test(id)), 'a letter first: never the decimal id of another number')
  t.notOk(hex.some((id) => dec.includes(id)))
  t.same(store.allocateIds(0, 'decimal'), [])
  t.throws(() => store.allocateIds(-1, 'decimal'), TypeError)
  const last = parseInt(hex[11], 16) - HEX_ID_BASE
  await store.close() // nothing else is written: the reservation alone must protect the ids

  store = await Store.open(dir)
  const after = store.allocateIds(ID_BLOCK + 5, 'decimal') // larger than one block
  t.ok(Number(after[0]) > last, `after reopen ${after[0]} > ${last}`)
  t.equal(Number(after[0]), ID_BLOCK + 1, 'the rest of the reserved block is skipped')
  t.equal(new Set(after).size, after.length, 'unique')
  t.ok(after.every((id, i) => i === 0 || id > after[i - 1]), 'increasing (fixed width sorts as numbers)')
  await store.close()

  store = await Store.open(dir)
  t.ok(Number(store.allocateIds(1, 'decimal')[0]) > Number(after[after.length - 1]))
  await store.close()
})

t.test('a batch of 1000 messages is all or nothing', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  const ids = store.allocateIds(1000, 'decimal')
  const good = ids.map((id) => msg(id, 1, { text: Buffer.from(`hello ${id}`) }))
  const items = ids.slice(0, 100).map((id) => receipt('esme-a', { messageId: id }))

  const bad = [...good.slice(0, 500), msg('x'.repeat(300)), ...good.slice(500)]
  t.throws(() => store.commit({ messages: bad, enqueue: items }), TypeError, 'an over-long id rejects the whole batch')
  const nul = [...good.slice(0, 10), msg('a\0b')]
  t.throws(() => store.commit({ messages: nul }), TypeError, 'NUL in an id rejects the whole batch')
  const unencodable = [...good.slice(0, 10), msg('big', 1, { n: 2n ** 70n })]
  t.throws(() => store.commit({ messages: unencodable }), 'a value msgpack cannot encode rejects the whole batch')
  await store.close()
  store = await Store.open(dir)
  t.equal(store.getMessage(ids[0]), undefined, 'nothing of the rejected batches was written')
  t.equal(store.getMessage(ids[999]), undefined)
  t.equal(store.pendingCount('esme-a'), 0)
  t.equal(store.pendingDeliveries('esme-a').length, 0)

  await store.commit({ messages: good, enqueue: items })
  await store.close()
  store = await Store.open(dir)
  t.equal(ids.filter((id) => store.getMessage(id) !== undefined).length, 1000, 'all 1000 messages')
  t.equal(store.pendingCount('esme-a'), 100)
  t.equal(store.activeMessages().length, 1000)
  await store.close()
})

t.test('acks remove items; a repeated or unknown ack does not move the count', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  const items = [receipt('esme-a'), receipt('esme-a'), receipt('esme-b'), receipt('esme-a')]
  await store.commit({ enqueue: items })
  t.equal(store.pendingCount('esme-a'), 3)
  t.equal(store.pendingCount('esme-b'), 1)
  t.same(store.accountsWithPending().sort(), ['esme-a', 'esme-b'])

  const [a1, a2, b1, a3] = items.map((i) => i.key as number)
  await Promise.all([
    store.commit({ ack: [{ systemId: 'esme-a', key: a1 }, { systemId: 'esme-a', key: a1 }] }), // twice in one batch
    store.commit({ ack: [{ systemId: 'esme-a', key: a1 }] }), // and again while the first is in flight
    store.commit({ ack: [{ systemId: 'esme-a', key: 999_999 }, { systemId: 'esme-a', key: b1 }] }), // unknown; wrong account
  ])
  t.equal(store.pendingCount('esme-a'), 2)
  t.equal(store.pendingCount('esme-b'), 1)
  t.same(store.pendingDeliveries('esme-a').map((i) => i.key), [a2, a3])

  // enqueue and ack of that same item in one batch: net zero
  const tmp = receipt('esme-c')
  const p = store.commit({ enqueue: [tmp] })
  await store.commit({ ack: [{ systemId: 'esme-c', key: tmp.key as number }] })
  await p
  t.equal(store.pendingCount('esme-c'), 0)
  t.same(store.pendingDeliveries('esme-c'), [])

  await store.commit({ ack: [{ systemId: 'esme-b', key: b1 }] })
  t.equal(store.pendingCount('esme-b'), 0)
  t.same(store.accountsWithPending(), ['esme-a'])
  t.throws(() => store.commit({ ack: [{ systemId: 'esme-a', key: 1.5 }] }), TypeError)
  await store.close()

  store = await Store.open(dir)
  t.equal(store.pendingCount('esme-a'), 2, 'counts rebuilt at open')
  t.same(store.accountsWithPending(), ['esme-a'])
  await store.close()
})

t.test('pendingCount stays exact: enqueue and ack in one call, an ack while the enqueue is stalled past the key maps, an ack of an item whose enqueue fails', async (t) => {
  const dir = freshDir(t)
  const store = await Store.open(dir)
  t.teardown(() => store.close())
  const internals = store as unknown as { lastRotation: number; root: { batch: (cb: () => void) => Promise<unknown> } }
  const onDisk = (): number => store.pendingDeliveries('esme-a', 0, 100).length
  // 1. the ack of an item enqueued in the same commit() call
  const a = receipt('esme-a')
  const keyA = (store as unknown as { queueSeq: number }).queueSeq + 1
  await store.commit({ enqueue: [a], ack: [{ systemId: 'esme-a', key: keyA }] })
  t.equal(a.key, keyA)
  t.equal(store.pendingCount('esme-a'), 0, 'enqueued and acked in one transaction: none pending')
  t.equal(onDisk(), 0)
  // 2. the key maps rotate (every 5 s) twice while an enqueue is still being committed: its ack still counts
  const b = receipt('esme-a')
  const pb = store.commit({ enqueue: [b] })
  for (let i = 0; i < 2; i++) {
    internals.lastRotation = performance.now() - 6000
    await store.commit({ ack: [{ systemId: 'esme-a', key: 999_999 + i }] }).catch(() => {})
  }
  await store.commit({ ack: [{ systemId: 'esme-a', key: b.key as number }] })
  await pb
  t.equal(store.pendingCount('esme-a'), onDisk(), `counted as on disk (${onDisk()})`)
  // 3. an enqueue whose transaction fails, acked while it was in flight (the ack commits after it, in order)
  const keep = receipt('esme-c')
  await store.commit({ enqueue: [keep] })
  const batch = internals.root.batch
  let failed!: Promise<unknown>
  internals.root.batch = () => {
    internals.root.batch = (cb) => { internals.root.batch = batch; const p = batch.call(internals.root, cb); return failed.then(() => p, () => p) }
    return (failed = new Promise((_, reject) => setTimeout(() => reject(new Error('simulated transaction failure')), 30)))
  }
  const c = receipt('esme-c')
  const pc = store.commit({ enqueue: [c] })
  const pa = store.commit({ ack: [{ systemId: 'esme-c', key: c.key as number }] })
  await t.rejects(pc)
  await pa
  t.equal(store.pendingCount('esme-c'), 1, 'the item that was never written is not taken off the count')
  t.equal(store.pendingDeliveries('esme-c', 0, 100).length, 1)
})

t.test('pendingDeliveries: key order per account, afterKey paging, limit', async (t) => {
  const dir = freshDir(t)
  const store = await Store.open(dir)
  const mine: DeliveryItem[] = []
  for (let round = 0; round < 5; round++) {
    const batch = [receipt('esme-a', { n: round * 2 }), receipt('esme-b'), receipt('esme-a', { n: round * 2 + 1, kind: 'mo' })]
    await store.commit({ enqueue: batch })
    mine.push(batch[0], batch[2])
  }
  const all = store.pendingDeliveries('esme-a')
  t.same(all.map((i) => i.n), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'in enqueue order, other accounts excluded')
  t.same(all.map((i) => i.key), mine.map((i) => i.key))
  t.equal(all[1].kind, 'mo')

  const page1 = store.pendingDeliveries('esme-a', 0, 4)
  const page2 = store.pendingDeliveries('esme-a', page1[3].key, 4)
  const page3 = store.pendingDeliveries('esme-a', page2[3].key, 4)
  t.same([...page1, ...page2, ...page3].map((i) => i.n), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  t.equal(page3.length, 2)
  t.same(store.pendingDeliveries('esme-a', page3[1].key), [])
  t.same(store.pendingDeliveries('esme-zz'), [])
  t.same(store.pendingDeliveries('esme'), [], 'a prefix of a systemId is another account')
  await store.close()
})

t.test('inFlightByAccount counts the messages not final, by account, across state changes and reopen', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  const of = (systemId: string, id: string, state: number) => ({ ...msg(id, state), systemId })
  await store.commit({ messages: [of('a', 'a1', 1), of('a', 'a2', 0), of('a', 'a3', 2), of('b', 'b1', 6)] })
  t.same([...store.inFlightByAccount()].sort(), [['a', 2], ['b', 1]], 'ENROUTE, SCHEDULED and ACCEPTED count; DELIVERED does not')
  await store.commit({ messages: [of('a', 'a1', 2), of('b', 'b1', 5)] })
  t.same([...store.inFlightByAccount()], [['a', 1]], 'messages that end leave the count; an account with none is absent')
  await store.close()
  store = await Store.open(dir)
  t.same([...store.inFlightByAccount()], [['a', 1]], 'after reopen, from the active index')
  await store.close()
})

t.test('activeMessages holds only SCHEDULED, ENROUTE and ACCEPTED, across state changes and reopen', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  await store.commit({ messages: [msg('s', 0), msg('e', 1), msg('a', 6), msg('d', 2), msg('x', 8)] })
  const ids = (): string[] => store.activeMessages().map((m) => m.id).sort()
  t.same(ids(), ['a', 'e', 's'])
  await store.commit({ messages: [msg('e', 2), msg('s', 1)] }) // ENROUTE -> DELIVERED, SCHEDULED -> ENROUTE
  t.same(ids(), ['a', 's'])
  // two updates of one message in one event turn: the last one wins
  const p1 = store.commit({ messages: [msg('a', 5)] })
  const p2 = store.commit({ messages: [msg('a', 6, { retry: 1 })] })
  await Promise.all([p1, p2])
  t.same(ids(), ['a', 's'])
  t.equal(store.getMessage('a')?.retry, 1)
  for (const [i, final] of [2, 3, 4, 5, 7, 8, 9].entries()) {
    await store.commit({ messages: [msg(`f${i}`, 1)] })
    await store.commit({ messages: [msg(`f${i}`, final)] })
  }
  t.same(ids(), ['a', 's'], 'every final state leaves the active set')
  await store.close()
  store = await Store.open(dir)
  t.same(ids(), ['a', 's'])
  t.equal(store.getMessage('e')?.state, 2, 'final messages stay readable')
  await store.close()
})

t.test('the active index is written late: allocated ids are indexed at the next checkpoint, or found by the scan at open', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  const indexed = (): string[] => [...(store as unknown as { active: { getKeys(): Iterable<string> } }).active.getKeys()].sort()
  const ids = (): string[] => store.activeMessages().map((m) => m.id).sort()
  const [d1, d2, d3] = store.allocateIds(3, 'decimal')
  const [h1, h2] = store.allocateIds(2, 'hex')
  await store.commit({ messages: [msg(d1, 1), msg(d2, 0), msg(d3, 2), msg(h1, 6), msg(h2, 1), msg('other', 1)] })
  t.same(indexed(), ['other'], 'ids of allocateIds are left out of the index at their commit; other ids are not')
  t.same(ids(), [d1, d2, d3, h1, h2, 'other'].filter((id) => id !== d3).sort(), 'activeMessages has them all the same')
  await store.close() // no checkpoint since: only the scan at open can find them

  store = await Store.open(dir)
  t.same(ids(), [d1, d2, h1, h2, 'other'].sort(), 'found again after reopen')
  t.same(indexed(), [d1, d2, h1, h2, 'other'].sort(), 'and indexed by the open')
  const [d4, d5] = store.allocateIds(2, 'decimal')
  const [h3] = store.allocateIds(1, 'hex')
  await store.commit({ messages: [msg(d4, 1), msg(d5, 1), msg(h3, 1)] })
  t.notOk(indexed().includes(d4), 'a new message waits for the checkpoint')
  await new Promise((resolve) => setTimeout(resolve, ACTIVE_CHECKPOINT_MS + 50))
  await store.commit({ messages: [msg(d4, 2), msg(d1, 2)] }) // a checkpoint: d5 goes in; d4 and d1 end in the same transaction
  t.same(indexed(), [d2, d5, h1, h2, h3, 'other'].sort(), 'the checkpoint indexed the live ones (a decimal and a hex id), and the ones that ended are out')
  await store.commit({ messages: [msg(d5, 5), msg(h1, 2)] })
  t.same(indexed(), [d2, h2, h3, 'other'].sort(), 'a message indexed by a checkpoint leaves the index when it ends')
  await store.close()
  store = await Store.open(dir)
  t.same(ids(), [d2, h2, h3, 'other'].sort())
  t.equal(store.getMessage(d5)?.state, 5, 'final messages stay readable')
  await store.close()
})

t.test('the late active index keeps every committed active message recoverable: failed newer version, checkpoint in flight, foreign ids, ids past 10 digits', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  const ids = (): string[] => store.activeMessages().map((m) => m.id).sort()
  const failNextBatch = (): void => {
    const root = (store as unknown as { root: { batch: (...a: unknown[]) => Promise<unknown> } }).root
    const batch = root.batch
    root.batch = () => { root.batch = batch; return Promise.reject(new Error('simulated transaction failure')) }
  }
  // 1. its final version fails: the committed ENROUTE one is still active, now and after a checkpoint and a reopen
  const [a, b] = store.allocateIds(2, 'decimal')
  await store.commit({ messages: [msg(a, 1), msg(b, 0)] })
  failNextBatch()
  await t.rejects(store.commit({ messages: [msg(a, 2), msg(b, 1)] }))
  t.same(ids(), [a, b].sort(), 'both still active at run time')
  await new Promise((resolve) => setTimeout(resolve, ACTIVE_CHECKPOINT_MS + 50))
  // 2. a checkpoint in flight: its messages are neither left out nor (yet) indexed
  const [c] = store.allocateIds(1, 'hex')
  await store.commit({ messages: [msg(c, 1)] })
  await new Promise((resolve) => setTimeout(resolve, ACTIVE_CHECKPOINT_MS + 50))
  const p = store.commit({ meta: [['x', 1]] })
  t.same(ids(), [a, b, c].sort(), 'while the checkpoint is being written')
  await p
  // 3. 10-character ids that allocateIds did not hand out are indexed at their commit
  await store.commit({ messages: [msg('4477009000', 1), msg('deadbeef01', 1)] })
  await store.close()
  store = await Store.open(dir)
  t.same(ids(), [a, b, c, '4477009000', 'deadbeef01'].sort(), 'all found after reopen')
  // 4. the decimal counter crosses 10 digits before a checkpoint: the last 10-digit ids are found by the scan
  ;(store as unknown as { meta: { putSync(k: string, v: number): void } }).meta.putSync('store:idHigh', 9_999_999_990)
  await store.close()
  store = await Store.open(dir)
  const wide = store.allocateIds(15, 'decimal') // 9999999991 .. 10000000005
  await store.commit({ messages: wide.map((id) => msg(id, 1)) })
  await store.close()
  store = await Store.open(dir)
  const after = new Set(ids())
  t.same(wide.filter((id) => !after.has(id)), [], 'every id on both sides of 10^10')
  await store.close()
})

t.test('passwords: scrypt format, ok / bad-password / no-account, cache dropped when the account changes', async (t) => {
  const dir = freshDir(t)
  const store = await Store.open(dir)
  const hash = await Store.hashPassword('pw1')
  const parts = hash.split('$')
  t.equal(parts.length, 6)
  t.same(parts.slice(0, 4), ['scrypt', '16384', '8', '1'])
  t.equal(Buffer.from(parts[4], 'base64').length, 16, '16-byte salt')
  t.equal(Buffer.from(parts[5], 'base64').length, 32, '32-byte hash')
  t.not(await Store.hashPassword('pw1'), hash, 'salted')
  t.notMatch(hash, /pw1/)

  await store.putAccount({ systemId: 'esme-a', passwordHash: hash, maxBinds: 1, windowSize: 10, createdAt: 1, updatedAt: 1 })
  t.equal(await store.verifyPassword('esme-a', 'pw1'), 'ok')
  t.equal(await store.verifyPassword('esme-a', 'pw1'), 'ok', 'again (from the cache)')
  t.equal(await store.verifyPassword('esme-a', 'pw2'), 'bad-password', 'a cached account still rejects a wrong password')
  t.equal(await store.verifyPassword('esme-a', ''), 'bad-password')
  t.equal(await store.verifyPassword('esme-z', 'pw1'), 'no-account')
  const storm = await Promise.all(Array.from({ length: 50 }, (_, i) => store.verifyPassword('esme-a', i % 10 === 9 ? 'no' : 'pw1')))
  t.equal(storm.filter((r) => r === 'ok').length, 45)
  t.equal(storm.filter((r) => r === 'bad-password').length, 5)

  await store.putAccount({ ...(store.getAccount('esme-a') as Account), passwordHash: await Store.hashPassword('pw2'), updatedAt: 2 })
  t.equal(await store.verifyPassword('esme-a', 'pw1'), 'bad-password', 'the old password no longer passes from the cache')
  t.equal(await store.verifyPassword('esme-a', 'pw2'), 'ok')

  await store.putAccount({ ...(store.getAccount('esme-a') as Account), passwordHash: 'garbage$1$2' })
  t.equal(await store.verifyPassword('esme-a', 'pw2'), 'bad-password', 'a malformed hash fails closed')

  t.equal(await store.removeAccount('esme-a'), true)
  t.equal(await store.removeAccount('esme-a'), false)
  t.equal(await store.verifyPassword('esme-a', 'pw2'), 'no-account')
  t.same(store.listAccounts(), [])
  await store.close()
})

t.test('close waits for commits that were not awaited; a closed store refuses writes', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  void store.commit({ messages: [msg('late')] })
  await store.close()
  t.throws(() => store.commit({ messages: [msg('after')] }), /closed/)
  t.throws(() => store.allocateIds(1, 'hex'), /closed/)
  store = await Store.open(dir)
  t.equal(store.getMessage('late')?.id, 'late')
  t.throws(() => store.putMeta('store:idHigh', 0), TypeError, 'reserved meta prefix')
  await store.close()
})

t.test("durability 'flushed': commit resolves after the flush, and the batch is there after reopen", async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir, { durability: 'flushed' })
  const item = receipt('esme-a')
  await store.commit({ messages: [msg('f1', 6)], enqueue: [item] })
  t.equal(store.getMessage('f1')?.state, 6, 'visible once commit resolved')
  await store.close()
  store = await Store.open(dir)
  t.same(store.activeMessages().map((m) => m.id), ['f1'])
  t.equal(store.pendingDeliveries('esme-a')[0]?.key, item.key)
  await store.close()
})

t.test('kill -9 after "committed" loses nothing committed, keeps batches whole, and ids never repeat', async (t) => {
  const dir = freshDir(t)
  const N = 2000
  const child = fork(join(__dirname, 'helpers', 'store-writer.js'), [dir, String(N)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let out = ''
  let allocatedAfterCommit = 0
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)))
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      out += chunk
      const tail = out.split('\ncommitted\n')[1]
      if (tail === undefined) return
      allocatedAfterCommit = tail.split('\n').filter((l) => l.startsWith('allocated ')).length
      if (allocatedAfterCommit >= 5) { // the child is in the middle of later commits: kill it there
        child.kill('SIGKILL')
        resolve()
      }
    })
  })
  await new Promise((resolve) => child.once('exit', resolve))
  t.equal(child.signalCode, 'SIGKILL')

  const store = await Store.open(dir)
  const first = store.allocateIds(1, 'decimal')[0]
  const handedOut = out.split('\n').filter((l) => l.startsWith('allocated ')).map((l) => Number(l.slice(10)))
  t.ok(Number(first) > Math.max(...handedOut), `new id ${first} is above every id the killed writer handed out`)

  const byBatch = new Map<number, number>()
  for (const m of store.activeMessages()) byBatch.set(m.batch as number, (byBatch.get(m.batch as number) ?? 0) + 1)
  t.equal(byBatch.get(0), N, `all ${N} messages of the acknowledged batch are there`)
  const partial = [...byBatch].filter(([b, count]) => b > 0 && count !== 100)
  t.same(partial, [], 'every later batch is whole or absent')
  t.ok(byBatch.size >= 5, 'later batches were committed before the kill')
  t.equal(store.pendingCount('esme-a'), N / 10)
  const q = store.pendingDeliveries('esme-a', 0, N)
  t.equal(q.length, N / 10)
  t.ok(Buffer.isBuffer(store.getMessage('0000000001')?.body))
  await store.close()
})

// ---- accounts with settings, ledger, balances, audit, API keys, upstream links, meta (issue #5) ----------

function entry(systemId: string, delta: number, balance: number, extra: Partial<LedgerEntry> = {}): LedgerEntry {
  return { systemId, t: 1_700_000_000_000, delta, balance, reason: 'grant', by: 'admin', ...extra }
}

t.test('an account record of the old format (only maxBinds/windowSize) reads back with every setting filled in', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir, { accountDefaults: { maxBinds: 7, windowSize: 70, messageIdFormat: 'hex' } })
  await store.putAccount({ systemId: 'old', passwordHash: 'h', maxBinds: 2, windowSize: 10, createdAt: 1, updatedAt: 1 })
  await store.putAccount({ systemId: 'bare', passwordHash: 'h', createdAt: 1, updatedAt: 1 })
  const full: Account = { ...defaultSettings({ maxBinds: 3, windowSize: 30, messageIdFormat: 'decimal' }), role: 'reseller', prepaid: true,
    allowedIps: ['10.0.0.0/8'], systemId: 'full', passwordHash: 'h', createdAt: 2, updatedAt: 3 }
  await store.commit({ accounts: [full] })
  await store.close()

  store = await Store.open(dir, { accountDefaults: { maxBinds: 7, windowSize: 70, messageIdFormat: 'hex' } })
  const old = store.getAccount('old') as Account
  t.same(old, { ...defaultSettings({ maxBinds: 7, windowSize: 70, messageIdFormat: 'hex' }), maxBinds: 2, windowSize: 10,
    systemId: 'old', passwordHash: 'h', createdAt: 1, updatedAt: 1 }, 'given limits kept, the rest from the defaults')
  t.equal(store.getAccount('bare')?.maxBinds, 7, 'missing limits come from accountDefaults')
  t.same(store.getAccount('full'), full, 'a full record reads back as written')
  t.ok(Object.isFrozen(old) && Object.isFrozen(old.allowedIps) && Object.isFrozen(old.validity), 'frozen: copy to change')
  t.same(store.listAccounts().map((a) => [a.systemId, a.role, a.messageIdFormat]), [['bare', 'user', 'hex'], ['full', 'reseller', 'decimal'], ['old', 'user', 'hex']])
  await store.close()

  store = await Store.open(dir) // no accountDefaults: the config DEFAULTS
  t.equal(store.getAccount('bare')?.maxBinds, DEFAULTS.session.maxBindsPerAccount)
  t.equal(store.getAccount('bare')?.messageIdFormat, DEFAULTS.messageIdFormat)
  await store.close()
})

t.test('messages, ledger, balances, upstream links, meta, audit, accounts and keys commit in ONE transaction', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  const e1 = entry('acc-a', 100, 100, { reason: 'opening' })
  const e2 = entry('acc-a', -3, 97, { reason: 'submit', by: 'acc-a', ref: 'm1', count: 3 })
  const audit: AuditEntry = { t: 5, by: 'admin', action: 'account.create', target: 'acc-a', detail: { role: 'user' } }
  const acc: AccountRecord = { systemId: 'acc-a', passwordHash: 'h', createdAt: 1, updatedAt: 1, prepaid: true }
  const key: ApiKeyRecord = { systemId: 'acc-a', id: 'k1', label: 'ci', createdAt: 5 }
  const p = store.commit({
    messages: [msg('m1')], ledger: [e1, e2], upstream: [{ connector: 'up1', upstreamId: 'U-1', id: 'm1', dest: 0 }],
    meta: [['routes', { mt: [], mo: [] }]], audit: [audit], accounts: [acc], apiKeys: [{ hash: 'a'.repeat(64), key }],
  })
  t.ok(typeof e1.seq === 'number' && (e2.seq as number) > (e1.seq as number), 'ledger seqs assigned synchronously, increasing')
  t.type(audit.seq, 'number')
  t.same(store.upstreamLookup('up1', 'U-1'), ['m1', 0], 'an upstream link is readable before its commit (a receipt may race it)')
  await p
  await store.close()

  store = await Store.open(dir)
  t.equal(store.getMessage('m1')?.id, 'm1')
  t.same(store.balances(), new Map([['acc-a', 97]]), 'the balance is the last entry\'s')
  t.same(store.ledgerEntries('acc-a', { limit: 10 }), [e2, e1], 'newest first, seq kept')
  t.equal(store.ledgerSum('acc-a'), 97)
  t.same(store.upstreamLookup('up1', 'U-1'), ['m1', 0])
  t.equal(store.upstreamLookup('up1', 'U-2'), undefined)
  t.equal(store.upstreamLookup('up2', 'U-1'), undefined, 'links are per connector')
  t.same(store.getMeta('routes'), { mt: [], mo: [] })
  t.same(store.auditEntries({ limit: 10 }), [audit])
  t.equal(store.getAccount('acc-a')?.prepaid, true)
  t.same(store.apiKey('a'.repeat(64)), key)
  t.same(store.apiKeysOf('acc-a'), [{ ...key, hash: 'a'.repeat(64) }])

  await store.commit({ upstreamRemove: [{ connector: 'up1', upstreamId: 'U-1' }] })
  t.equal(store.upstreamLookup('up1', 'U-1'), undefined, 'upstreamRemove drops the link')
  await store.close()
})

t.test('a failing batch writes none of its parts', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  const parts = (): CommitBatch => ({
    messages: [msg('m1')], ledger: [entry('acc-a', 5, 5)], upstream: [{ connector: 'up', upstreamId: 'u1', id: 'm1', dest: 0 }],
    meta: [['routes', 1]], audit: [{ t: 1, by: 'admin', action: 'x', target: 'acc-a' }],
    accounts: [{ systemId: 'acc-a', passwordHash: 'h', createdAt: 1, updatedAt: 1 }],
    apiKeys: [{ hash: 'h1', key: { systemId: 'acc-a', id: 'k', label: '', createdAt: 1 } }],
  })
  const bad: [string, CommitBatch][] = [
    ['reserved meta key', { ...parts(), meta: [['routes', 1], ['store:idHigh', 0]] }],
    ['over-long message id', { ...parts(), messages: [msg('m1'), msg('x'.repeat(300))] }],
    ['ledger delta not a number', { ...parts(), ledger: [entry('acc-a', 5, 5), entry('acc-a', NaN, 5)] }],
    ['upstream dest negative', { ...parts(), upstream: [{ connector: 'up', upstreamId: 'u2', id: 'm1', dest: -1 }] }],
    ['unencodable audit detail', { ...parts(), audit: [{ t: 1, by: 'a', action: 'x', target: 'y', detail: { n: 2n ** 70n } }] }],
    ['NUL in an account id', { ...parts(), accounts: [{ systemId: 'a\0b', passwordHash: 'h', createdAt: 1, updatedAt: 1 }] }],
  ]
  for (const [what, batch] of bad) t.throws(() => store.commit(batch), what)
  await store.close()
  store = await Store.open(dir)
  t.equal(store.getMessage('m1'), undefined)
  t.same(store.balances(), new Map())
  t.same(store.ledgerEntries('acc-a', { limit: 10 }), [])
  t.equal(store.upstreamLookup('up', 'u1'), undefined)
  t.equal(store.getMeta('routes'), undefined)
  t.same(store.auditEntries({ limit: 10 }), [])
  t.equal(store.getAccount('acc-a'), undefined)
  t.equal(store.apiKey('h1'), undefined)
  await store.commit(parts())
  t.equal(store.getAccount('acc-a')?.systemId, 'acc-a', 'the same batch without the bad part commits')
  await store.close()
})

t.test('ledgerSum equals the stored balance after many random commits, exact with fractional amounts, across reopen', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  const accounts = ['a', 'b', 'c']
  const micro = new Map<string, number>(accounts.map((a) => [a, 0]))
  let seed = 42
  const rnd = (): number => { seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31; return seed / 2 ** 31 }
  for (let round = 0; round < 60; round++) {
    const batch: LedgerEntry[] = []
    for (let i = 0; i < 1 + Math.floor(rnd() * 5); i++) {
      const a = accounts[Math.floor(rnd() * accounts.length)]
      const dm = Math.round((rnd() * 20 - 8) * 1e6) // micro-units: amounts with 6 decimals (fractional prices)
      micro.set(a, (micro.get(a) as number) + dm)
      batch.push(entry(a, dm / 1e6, (micro.get(a) as number) / 1e6, { reason: dm < 0 ? 'submit' : 'grant' }))
    }
    await store.commit({ ledger: batch, messages: [msg(`r${round}`)] })
    if (round === 30) { await store.close(); store = await Store.open(dir) }
  }
  for (const a of accounts) {
    t.equal(store.ledgerSum(a), (micro.get(a) as number) / 1e6, `ledgerSum(${a})`)
    t.equal(store.balances().get(a) ?? 0, store.ledgerSum(a), `balance(${a}) == sum of its deltas`)
  }
  const seqs = accounts.flatMap((a) => store.ledgerEntries(a, { limit: 1000 }).map((e) => e.seq as number))
  t.equal(new Set(seqs).size, seqs.length, 'seqs unique across accounts and reopen')
  await store.close()
})

t.test('ledgerEntries and auditEntries: newest first, limit, before; seqs keep increasing after reopen', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  for (let i = 1; i <= 5; i++) {
    await store.commit({ ledger: [entry('a', 1, i), entry('ab', 1, i)], audit: [{ t: i, by: 'admin', action: 'n', target: `t${i}` }] })
  }
  const a = store.ledgerEntries('a', { limit: 100 })
  t.same(a.map((e) => e.balance), [5, 4, 3, 2, 1])
  t.ok(a.every((e) => e.systemId === 'a'), 'a prefix of another systemId is another account')
  const page1 = store.ledgerEntries('a', { limit: 2 })
  const page2 = store.ledgerEntries('a', { limit: 2, before: page1[1].seq })
  const page3 = store.ledgerEntries('a', { limit: 2, before: page2[1].seq })
  t.same([...page1, ...page2, ...page3].map((e) => e.balance), [5, 4, 3, 2, 1])
  t.same(store.ledgerEntries('a', { limit: 2, before: 1 }), [])
  t.same(store.ledgerEntries('nobody', { limit: 2 }), [])
  t.same(store.auditEntries({ limit: 2 }).map((e) => e.target), ['t5', 't4'])
  t.same(store.auditEntries({ limit: 10, before: store.auditEntries({ limit: 2 })[1].seq }).map((e) => e.target), ['t3', 't2', 't1'])
  const lastSeq = a[0].seq as number
  const lastAudit = store.auditEntries({ limit: 1 })[0].seq as number
  await store.close()
  store = await Store.open(dir)
  const e = entry('a', 1, 6)
  const au: AuditEntry = { t: 6, by: 'admin', action: 'n', target: 't6' }
  await store.commit({ ledger: [e], audit: [au] })
  t.ok((e.seq as number) > lastSeq, 'ledger seq after reopen is above every earlier one')
  t.ok((au.seq as number) > lastAudit, 'audit seq after reopen is above every earlier one')
  t.equal(store.auditEntries({ limit: 1 })[0].target, 't6')
  await store.close()
})

t.test('removeAccount removes its API keys; its ledger and balance stay as history', async (t) => {
  const dir = freshDir(t)
  const store = await Store.open(dir)
  await store.commit({
    accounts: [{ systemId: 'x', passwordHash: 'h', createdAt: 1, updatedAt: 1 }, { systemId: 'y', passwordHash: 'h', createdAt: 1, updatedAt: 1 }],
    ledger: [entry('x', 9, 9)],
  })
  await store.putApiKey('hx1', { systemId: 'x', id: 'k1', label: 'one', createdAt: 1 })
  await store.putApiKey('hx2', { systemId: 'x', id: 'k2', label: 'two', createdAt: 2 })
  await store.putApiKey('hy1', { systemId: 'y', id: 'k3', label: '', createdAt: 3 })
  t.same(store.apiKeysOf('x').map((k) => k.id), ['k1', 'k2'])
  await store.removeApiKey('hx2')
  t.same(store.apiKeysOf('x').map((k) => k.id), ['k1'])
  t.equal(await store.removeAccount('x'), true)
  t.equal(store.getAccount('x'), undefined)
  t.equal(store.apiKey('hx1'), undefined, 'the key went with the account')
  t.same(store.apiKey('hy1')?.systemId, 'y', 'other accounts keep theirs')
  t.equal(store.balances().get('x'), 9)
  t.equal(store.ledgerEntries('x', { limit: 5 }).length, 1)
  t.throws(() => store.commit({ meta: [['store:queueSeq', 1]] }), TypeError, 'commit refuses reserved meta keys too')
  await store.close()
})

t.test('a meta value of null removes the key (commit and putMeta), also after reopen', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  await store.commit({ meta: [['mp:0000000001', { parts: 3, done: 1 }], ['mp:0000000002', { parts: 2, done: 0 }], ['keep', 1]] })
  t.same(store.getMeta('mp:0000000001'), { parts: 3, done: 1 })
  // A finished aggregate receipt drops its state in the same batch that another one updates.
  await store.commit({ meta: [['mp:0000000001', null], ['mp:0000000002', { parts: 2, done: 1 }]] })
  t.equal(store.getMeta('mp:0000000001'), undefined, 'gone, not stored as null')
  t.same(store.getMeta('mp:0000000002'), { parts: 2, done: 1 })
  await store.putMeta('keep', null)
  t.equal(store.getMeta('keep'), undefined, 'putMeta(key, null) removes too')
  await store.commit({ meta: [['never-there', null]] })
  await store.close()
  store = await Store.open(dir)
  for (const k of ['mp:0000000001', 'keep', 'never-there']) t.equal(store.getMeta(k), undefined, `${k} absent after reopen`)
  t.same(store.getMeta('mp:0000000002'), { parts: 2, done: 1 })
  await store.close()
})

t.test('the store gives each ledger entry its balance from committed and queued entries; a refused batch counts nowhere', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  const g = entry('a', 10, 999) // whatever balance the caller wrote is replaced
  await store.commit({ ledger: [g] })
  t.equal(g.balance, 10)
  const d1 = entry('a', -3, 0)
  const d2 = entry('a', 0.000001, 0)
  const p = store.commit({ ledger: [d1, d2] }) // queued, not yet committed
  const r = entry('a', 2.5, 0)
  const p2 = store.commit({ ledger: [r, entry('b', 1, 0)] })
  t.same([d1.balance, d2.balance, r.balance], [7, 7.000001, 9.500001], 'each after the entries queued before it')
  t.throws(() => store.commit({ ledger: [entry('a', -100, 0)], messages: [msg('')] }), TypeError)
  const after = entry('a', 1, 0)
  await Promise.all([p, p2, store.commit({ ledger: [after] })])
  t.equal(after.balance, 10.500001, 'the refused batch is not in any balance')
  t.equal(store.balances().get('a'), store.ledgerSum('a'))
  t.equal(store.balances().get('b'), 1)
  await store.close()
  store = await Store.open(dir)
  const more = entry('a', -0.500001, 0)
  await store.commit({ ledger: [more] })
  t.equal(more.balance, 10, 'after reopen it continues from the stored balance')
  t.equal(store.balances().get('a'), store.ledgerSum('a'))
  await store.close()
})

t.test('purgeFinal removes final messages that ended before the cutoff, oldest first, at most limit; active ones stay', async (t) => {
  const dir = freshDir(t)
  const store = await Store.open(dir)
  t.teardown(() => store.close())
  const T = 1_700_000_000_000
  // ended at T+1000, T+3000, T+2000 (DELIVERED, UNDELIV, REJECTD); one still ENROUTE; one ended late
  await store.commit({ messages: [msg('a', 2, { doneAt: T + 1000 }), msg('b', 5, { doneAt: T + 3000 }), msg('c', 8, { doneAt: T + 2000 }), msg('live', 1), msg('late', 2, { doneAt: T + 9000 })] })
  t.equal(await store.purgeFinal(T, 100), 0, 'nothing ended before the cutoff')
  t.equal(await store.purgeFinal(T + 5000, 2), 2, 'limit 2: the two oldest')
  t.equal(store.getMessage('a'), undefined)
  t.equal(store.getMessage('c'), undefined)
  t.ok(store.getMessage('b'), 'b ended after c: still there')
  t.equal(await store.purgeFinal(T + 5000, 100), 1)
  t.equal(store.getMessage('b'), undefined)
  t.ok(store.getMessage('live'), 'a message in flight is never purged')
  t.ok(store.getMessage('late'))
  t.equal(await store.purgeFinal(T + 5000, 100), 0, 'the index entries went with the messages')
  // a message that turns final later is purged by its own end time
  await store.commit({ messages: [msg('live', 2, { doneAt: T + 4000 })] })
  t.equal(await store.purgeFinal(T + 5000, 100), 1)
  t.equal(store.getMessage('live'), undefined)
  t.ok(store.getMessage('late'))
})

t.test('sweepLinks removes the upstream links whose message the retention purged, in slices; the others stay', async (t) => {
  const dir = freshDir(t)
  const store = await Store.open(dir)
  t.teardown(() => store.close())
  const T = 1_700_000_000_000
  const link = (ns: string, upstreamId: string, id: string) => ({ connector: ns, upstreamId, id, dest: 0 })
  // 'gone1' and 'gone2' end and are purged with their links left behind (their connector's upstream changed: the
  // outcome unlinked under another namespace); 'kept' ended but is within the retention; 'open' waits for its receipt.
  await store.commit({
    messages: [msg('gone1', 2, { doneAt: T }), msg('gone2', 5, { doneAt: T }), msg('kept', 2, { doneAt: T + 9000 }), msg('open', 1)],
    upstream: [link('smpp:old:1', 'U1', 'gone1'), link('smpp:old:1', 'U2', 'gone2'), link('smpp:new:1', 'U3', 'kept'), link('smpp:new:1', 'U4', 'open')],
  })
  t.equal(await store.purgeFinal(T + 5000, 100), 2)
  t.same(store.upstreamLookup('smpp:old:1', 'U1'), ['gone1', 0], 'the purge left the links')

  // Slices of 3 over the four links (key order: smpp:new:1 U3 U4, smpp:old:1 U1 U2): the first reads U3, U4 and U1,
  // the second U2 and says it was the end.
  const first = await store.sweepLinks(null, 3)
  t.same(first, { removed: 1, next: ['smpp:old:1', 'U1'] }, 'the first slice: U1 removed, the next goes on after it')
  const second = await store.sweepLinks(first.next, 3)
  t.same(second, { removed: 1, next: null }, 'the second: U2 removed, and the end')
  t.equal(store.upstreamLookup('smpp:old:1', 'U1'), undefined)
  t.equal(store.upstreamLookup('smpp:old:1', 'U2'), undefined)
  t.same(store.upstreamLookup('smpp:new:1', 'U3'), ['kept', 0], "a final message's link stays while the message does (a late duplicate receipt still finds it)")
  t.same(store.upstreamLookup('smpp:new:1', 'U4'), ['open', 0], 'a waiting message keeps its link')

  // A link of a batch not yet committed is left, even when the message it names is not (yet) stored.
  await store.commit({ messages: [msg('gone3', 2, { doneAt: T })], upstream: [link('smpp:old:1', 'U5', 'gone3')] })
  t.equal(await store.purgeFinal(T + 5000, 100), 1)
  const again = store.commit({ messages: [msg('fresh', 1)], upstream: [link('smpp:old:1', 'U5', 'fresh')] }) // the upstream reused U5
  t.same(await store.sweepLinks(null, 100), { removed: 0, next: null }, 'U5 is in a commit on its way: not removed')
  await again
  t.same(store.upstreamLookup('smpp:old:1', 'U5'), ['fresh', 0], "the newer message's link")
})

t.test('a store written before the retention index gets it at open, once, and purges its old messages', async (t) => {
  const dir = freshDir(t)
  const T = 1_700_000_000_000
  let store = await Store.open(dir)
  await store.commit({ messages: [msg('old1', 2, { doneAt: T }), msg('old2', 3, { doneAt: T + 1 }), msg('pending', 0)] })
  await store.close()
  // Take the index away, as a store of the previous version has none.
  const { open } = await import('lmdb')
  const raw = open(dir, { maxDbs: 16, noSubdir: false })
  raw.openDB('done', {}).clearSync()
  raw.openDB('meta', {}).removeSync('store:doneIndex')
  await raw.close()
  store = await Store.open(dir)
  t.teardown(() => store.close())
  t.equal(await store.purgeFinal(T + 10, 100), 2)
  t.equal(store.getMessage('old1'), undefined)
  t.equal(store.getMessage('old2'), undefined)
  t.ok(store.getMessage('pending'))
})

t.test('the retention index has one entry per commit; entries of schema 2 (one per message) are purged alike', async (t) => {
  const dir = freshDir(t)
  const T = 1_700_000_000_000
  let store = await Store.open(dir)
  await store.commit({ messages: Array.from({ length: 50 }, (_, i) => msg(`n${i}`, 2, { doneAt: T + 50 - i })) })
  await store.commit({ messages: [msg('n50', 5, { doneAt: T + 100 }), msg('still', 1)] })
  await store.close()
  const { open } = await import('lmdb')
  let raw = open(dir, { maxDbs: 16, noSubdir: false })
  const entries = [...raw.openDB('done', {}).getKeys()]
  t.equal(entries.length, 2, '51 messages ended in two commits: two entries')
  raw.openDB('done', {}).putSync([T + 10, 'old'], '') // what schema 2 wrote for each message
  raw.openDB('messages', {}).putSync('old', { id: 'old', systemId: 'esme-a', state: 2 })
  await raw.close()
  store = await Store.open(dir)
  t.equal(await store.purgeFinal(T + 20, 100), 20, 'n31..n49 (ended T+19..T+1) and the schema-2 message (T+10)')
  t.equal(store.getMessage('old'), undefined)
  t.equal(store.getMessage('n49'), undefined)
  t.ok(store.getMessage('n30'), 'n30 ended at T+20: not before the cutoff')
  await store.close()
  raw = open(dir, { maxDbs: 16, noSubdir: false })
  t.equal([...raw.openDB('done', {}).getKeys()].length, 2, 'the emptied schema-2 entry is gone, the partly purged one is rewritten')
  await raw.close()
  store = await Store.open(dir)
  t.teardown(() => store.close())
  t.equal(await store.purgeFinal(T + 1000, 100), 32, 'the rest: n0..n30 and n50')
  t.ok(store.getMessage('still'), 'the active one stays')
})

t.test('a message written final twice gets two retention entries: neither commit hides the messages of the other', async (t) => {
  const dir = freshDir(t)
  const store = await Store.open(dir)
  t.teardown(() => store.close())
  await store.commit({ messages: [msg('x', 2, { doneAt: 1000 }), msg('y', 2, { doneAt: 2000 })] })
  await store.commit({ messages: [msg('x', 2, { doneAt: 1000 })] }) // same earliest time, same first id
  t.equal(await store.purgeFinal(10_000, 100), 2, 'x once, and y')
  t.equal(store.getMessage('y'), undefined)
})

t.test('purgeFinal: pinned messages are kept and do not hold back the ones after them', async (t) => {
  const dir = freshDir(t)
  const store = await Store.open(dir)
  t.teardown(() => store.close())
  const T = 1_700_000_000_000
  const msgs = Array.from({ length: 10 }, (_, i) => msg(`p${i}`, 2, { doneAt: T + i }))
  await store.commit({ messages: msgs })
  for (let i = 0; i < 4; i++) store.pin(`p${i}`) // the four oldest
  t.equal(await store.purgeFinal(T + 100, 3), 3, 'three purged past the four pinned ones')
  t.same(msgs.filter((m) => store.getMessage(m.id)).map((m) => m.id), ['p0', 'p1', 'p2', 'p3', 'p7', 'p8', 'p9'])
  store.unpin('p1')
  t.equal(await store.purgeFinal(T + 100, 100), 4, 'the rest, and p1 once unpinned')
  t.same(msgs.filter((m) => store.getMessage(m.id)).map((m) => m.id), ['p0', 'p2', 'p3'])
})

t.test('a store written by a newer engine (higher schema) is refused with SMSC_ERR_STORE_NEWER and left as it is', async (t) => {
  const dir = freshDir(t)
  const store = await Store.open(dir)
  await store.commit({ messages: [msg('kept', 1)] })
  await store.close()
  const { open } = await import('lmdb')
  const raw = open(dir, { maxDbs: 16, noSubdir: false })
  raw.openDB('meta', {}).putSync('store:schema', 99)
  await raw.close()
  await t.rejects(Store.open(dir), { code: 'SMSC_ERR_STORE_NEWER', message: /schema 99, this engine knows 4/ })
  const again = open(dir, { maxDbs: 16, noSubdir: false })
  t.equal(again.openDB('meta', {}).get('store:schema'), 99, 'the schema mark is untouched')
  await again.close()
})
