// engine/store.ts: durability (commit, reopen, kill -9), id allocation, the delivery queue, the active index
// and password verification. Each test gets a fresh temp dir and closes its stores.
import t from 'tap'
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ID_BLOCK, Store, type Account, type DeliveryItem, type StoredMessage } from '../engine/store'

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
async function account(systemId: string, password: string): Promise<Account> {
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
  t.equal(hex[0], '0000000004')
  t.equal(hex[11], '000000000f', 'lowercase hex')
  t.ok(hex.every((id) => /^[0-9a-f]{10}$/.test(id)))
  t.same(store.allocateIds(0, 'decimal'), [])
  t.throws(() => store.allocateIds(-1, 'decimal'), TypeError)
  const last = parseInt(hex[11], 16)
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
