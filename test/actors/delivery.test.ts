/**
 * The delivery actor's state (actors/delivery.ts) with a real Store in a temp dir and fake receiver
 * sessions: carrier outcomes update the records and become receipts as registered_delivery asks
 * (final, failure only, success only, intermediate); receipts go to the account's bound receivers
 * round robin within each window; failed items come back after back-off on tick(now); an ack
 * removes an item from the store, and a restarted Delivery picks up what is still pending.
 */
import t from 'tap'
import { Metrics } from '../../engine/telemetry'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Delivery, type DeliveryDeps } from '../../actors/delivery'
import type { Outcome } from '../../actors/messages'
import { EsmClass, MessageState } from '../../engine/protocol/constants'
import { Store, type DeliveryItem } from '../../engine/store'
import { deliverFrame, type MessageRecord } from '../../engine/message'
import { decode } from '../../engine/protocol/codec'
import type { Session } from '../../engine/session/session'
import { Ledger } from '../../engine/ledger'
import { defaultSettings, type Account } from '../../engine/accounts'
import { WebhookSender } from '../../engine/webhook'
import { until } from '../helpers/lifecycle'

/** A receiver bind as Delivery sees it: a window, and the items it was handed. */
class FakeReceiver {
  readonly got: DeliveryItem[] = []
  constructor(readonly id: number, public freeSlots: number) {}
  deliver(items: DeliveryItem[]): DeliveryItem[] {
    const n = Math.min(this.freeSlots, items.length)
    this.got.push(...items.slice(0, n))
    this.freeSlots -= n
    return items.slice(n)
  }
}

interface Rig {
  store: Store
  d: Delivery
  receivers: FakeReceiver[]
  clock: { now: number }
  /** Items the actor handed back to its own mailbox (committed receipts). */
  later: DeliveryItem[][]
  /** Resolves once `n` enqueueLater batches have come back (and been enqueued, as the mailbox would). */
  laterCount(n: number): Promise<void>
  commits: number
  restart(): Delivery
  /** With `holdCommits`: writes the commits held so far (as the store actor's group commit does after the one in flight). */
  release(): Promise<void>
}

async function rig(t: { teardown(fn: () => unknown): void }, opts: { redeliveryMs?: [number, number]; multipart?: 'every' | 'last'; maxAgeMs?: number; account?: Partial<Account>; memoryItems?: number; holdCommits?: boolean } = {}): Promise<Rig> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-delivery-'))
  const store = await Store.open(dir)
  t.teardown(async () => {
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  const waiters: { n: number; resolve: () => void }[] = []
  const r: Rig = {
    store,
    d: null as unknown as Delivery,
    receivers: [],
    clock: { now: 1_000_000 },
    later: [],
    commits: 0,
    laterCount(n) {
      if (r.later.length >= n) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ n, resolve }))
    },
    restart() { r.d = new Delivery(deps); return r.d },
    async release() {
      for (const [batch, done] of held.splice(0)) await store.commit(batch).then(() => done(null), (err: Error) => done(err))
    },
  }
  // Commits asked for while the store writes another wait in its queue, unwritten: the store does not know them yet.
  const held: [Parameters<DeliveryDeps['commit']>[0], Parameters<DeliveryDeps['commit']>[1]][] = []
  const deps: DeliveryDeps = {
    metrics: new Metrics(),
    store,
    commit(batch, done) {
      r.commits++
      if (opts.holdCommits) return void held.push([batch, done])
      store.commit(batch).then(() => done(null), (err: Error) => done(err))
    },
    receivers: (systemId) => (systemId === 'u' ? (r.receivers as unknown as Session[]) : []),
    send: (s, items) => (s as unknown as FakeReceiver).deliver(items),
    enqueueLater(items) {
      r.later.push(items)
      // As the actor's mailbox would: the items come back as an 'enqueue' message.
      setImmediate(() => {
        r.d.enqueue(items)
        for (const w of waiters.splice(0)) if (r.later.length >= w.n) w.resolve(); else waiters.push(w)
      })
    },
    now: () => r.clock.now,
    redeliveryMs: opts.redeliveryMs ?? [1000, 8000],
    multipart: opts.multipart ?? 'every',
    maxAgeMs: opts.maxAgeMs ?? 86_400_000,
    memoryItems: opts.memoryItems,
    // No account settings unless the test gives some: the engine's defaults (receipts.multipart, no webhooks).
    account: (systemId) => (opts.account ? { ...defaultSettings({ maxBinds: 1, windowSize: 10, messageIdFormat: 'decimal' }), systemId, passwordHash: '', createdAt: 0, updatedAt: 0, ...opts.account } : undefined),
    ledger: new Ledger(store, () => r.clock.now),
    webhooks: new WebhookSender({ timeoutMs: 1_000, concurrency: 1, log() {} }),
    resultsLater: (ok, failed) => setImmediate(() => r.d.results(ok, failed)),
    upstreamLink: (connector, upstreamId) => ({ connector, upstreamId }),
    log() {},
  }
  r.d = new Delivery(deps)
  return r
}

let n = 0
function rec(over: Partial<MessageRecord> = {}): MessageRecord {
  return {
    id: `m${++n}`, systemId: 'u', state: MessageState.ENROUTE, err: 0, submitAt: 999_000, doneAt: 0,
    src: [1, 1, '447700900001'], dests: [{ addr: [1, 1, '447700900002'], state: MessageState.ENROUTE, err: 0, doneAt: 0 }],
    serviceType: '', esmClass: 0, protocolId: 0, priority: 0, dataCoding: 0, registeredDelivery: 1,
    sm: Buffer.from('hello there'), scheduleAt: 0, expireAt: 2_000_000_000_000,
    ...over,
  }
}

/** Queue items as the engine commits them (MO or receipts), keys assigned by the store. */
async function committedItems(store: Store, count: number, systemId = 'u'): Promise<DeliveryItem[]> {
  const items: DeliveryItem[] = Array.from({ length: count }, (_, i) => ({
    systemId, kind: 'mo', createdAt: 0, attempts: 0, messageId: `mo${++n}-${i}`, frame: deliverFrame({ short_message: Buffer.from(`mo ${i}`) }),
  }))
  await store.commit({ enqueue: items })
  return items
}

const outcome = (r: MessageRecord, state: number, err = 0, dest = 0): Outcome => ({ id: r.id, dest, state, err })

t.test('outcomes become receipts as registered_delivery asks (SMPP 3.4 §5.2.17, 5.0 §4.7.21)', async (t) => {
  const r = await rig(t)
  const D = MessageState.DELIVERED, U = MessageState.UNDELIVERABLE, E = MessageState.ENROUTE
  // [registered_delivery, outcome state, receipt expected?]
  const cases: [number, number, boolean][] = [
    [0x00, D, false], [0x00, U, false],
    [0x01, D, true], [0x01, U, true], // final: always
    [0x02, D, false], [0x02, U, true], // failure only
    [0x03, D, true], [0x03, U, false], // success only (5.0)
    [0x10, E, true], [0x10, D, false], // intermediate only
    [0x11, E, true], [0x01, E, false], // intermediate needs bit 4
  ]
  const records = cases.map(([rd]) => rec({ registeredDelivery: rd }))
  await r.store.commit({ messages: records })
  r.d.outcomes(cases.map(([, state], i) => outcome(records[i], state, state === U ? 1 : 0)))
  await r.laterCount(1)
  const receipts = r.later.flat()
  const got = new Set(receipts.map((it) => it.messageId))
  cases.forEach(([rd, state, want], i) => {
    t.equal(got.has(records[i].id), want, `registered_delivery 0x${rd.toString(16)}, state ${state}: ${want ? 'receipt' : 'none'}`)
  })
  for (const it of receipts) {
    const pdu = decode(it.frame as Buffer)
    const i = records.findIndex((x) => x.id === it.messageId)
    const state = cases[i][1]
    t.equal(it.kind, 'receipt')
    t.equal(pdu.esm_class, state === E ? EsmClass.INTERMEDIATE_NOTIFICATION : EsmClass.MC_DELIVERY_RECEIPT)
    t.equal(pdu.receipted_message_id, it.messageId)
    t.equal(pdu.message_state, state)
    t.match((pdu.short_message as Buffer).toString('latin1'), new RegExp(`^id:${it.messageId} sub:001 dlvrd:00${state === D ? 1 : 0} .* stat:${state === D ? 'DELIVRD' : state === U ? 'UNDELIV' : 'ENROUTE'} err:00${state === U ? 1 : 0} text:hello there$`))
  }
  // The records are updated in the store: final outcomes settle, ENROUTE leaves them open.
  cases.forEach(([, state], i) => {
    const m = r.store.getMessage(records[i].id) as MessageRecord
    t.equal(m.state, state === E ? MessageState.ENROUTE : state, `${records[i].id} state`)
  })
  t.equal(r.store.pendingCount('u'), receipts.length, 'receipts are durable before they are queued')
  t.equal(r.commits, 1, 'one commit for the whole outcome batch')
})

t.test("an upstream's ACCEPTD keeps its id link, so its final receipt still finds the message (SMPP 3.4 §5.2.28)", async (t) => {
  const r = await rig(t)
  const m = rec({ dests: [{ addr: [1, 1, '447700900002'], state: MessageState.ENROUTE, err: 0, doneAt: 0, up: 'U1', conn: 'c1' }] })
  await r.store.commit({ messages: [m], upstream: [{ connector: 'c1', upstreamId: 'U1', id: m.id, dest: 0 }] })
  await new Promise<void>((resolve) => r.d.outcomes([outcome(m, MessageState.ACCEPTED)], resolve))
  t.equal((r.store.getMessage(m.id) as MessageRecord).state, MessageState.ACCEPTED, 'ACCEPTD recorded, not final')
  t.same(r.store.upstreamLookup('c1', 'U1'), [m.id, 0], 'the link stays for the final receipt')
  await new Promise<void>((resolve) => r.d.outcomes([outcome(m, MessageState.DELIVERED)], resolve))
  t.equal((r.store.getMessage(m.id) as MessageRecord).state, MessageState.DELIVERED, 'the final receipt settles it')
  t.equal(r.store.upstreamLookup('c1', 'U1'), undefined, 'a final outcome removes the link')
})

t.test('an outcome for a message already final (cancelled) or unknown is dropped', async (t) => {
  const r = await rig(t)
  const cancelled = rec({ state: MessageState.DELETED, dests: [{ addr: [1, 1, 'x'], state: MessageState.DELETED, err: 0, doneAt: 5 }] })
  await r.store.commit({ messages: [cancelled] })
  r.d.outcomes([outcome(cancelled, MessageState.DELIVERED), { id: 'nope', dest: 0, state: MessageState.DELIVERED, err: 0 }])
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(r.commits, 0)
  t.equal((r.store.getMessage(cancelled.id) as MessageRecord).state, MessageState.DELETED)
})

t.test('receipts.multipart last: only the last part of a long message gets a receipt', async (t) => {
  const r = await rig(t, { multipart: 'last' })
  const parts = [1, 2, 3].map((seq) => rec({ part: [seq, 3] } as Partial<MessageRecord>))
  await r.store.commit({ messages: parts })
  r.d.outcomes(parts.map((p) => outcome(p, MessageState.DELIVERED)))
  await r.laterCount(1)
  t.same(r.later.flat().map((it) => it.messageId), [parts[2].id])
})

t.test('aggregate receipts: one per long message; a reused concatenation reference answers the older message as it stands', async (t) => {
  const r = await rig(t, { account: { receiptPolicy: 'aggregate' } })
  const a = [1, 2, 3].map((seq) => rec({ part: [seq, 3], ref: 7 } as Partial<MessageRecord>))
  await r.store.commit({ messages: a })
  r.d.outcomes([outcome(a[0], MessageState.DELIVERED), outcome(a[1], MessageState.DELIVERED)])
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(r.later.length, 0, 'no receipt while parts are missing')
  // A new message reuses ref 7 before part 3 of the first came (8-bit references wrap).
  const b = [1, 2].map((seq) => rec({ part: [seq, 2], ref: 7 } as Partial<MessageRecord>))
  const b3 = [1, 2, 3].map((seq) => rec({ part: [seq, 3], ref: 7 } as Partial<MessageRecord>))
  await r.store.commit({ messages: [...b, ...b3] })
  r.d.outcomes([outcome(b3[0], MessageState.DELIVERED)])
  await r.laterCount(1)
  const first = r.later.flat()
  t.same(first.map((it) => [it.messageId, it.stat]), [[a[0].id, 'UNDELIV']], 'the older message: one receipt, its first part id, a part never seen counts as undeliverable')
  r.d.outcomes([outcome(b3[1], MessageState.DELIVERED), outcome(b3[2], MessageState.DELIVERED)])
  await r.laterCount(2)
  t.same(r.later[1].map((it) => [it.messageId, it.stat]), [[b3[0].id, 'DELIVRD']], 'the newer message completes on its own parts')
  r.d.outcomes([outcome(a[2], MessageState.DELIVERED)])
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(r.later.length, 2, 'a late part of the answered message starts nothing new that completes')
  void b
})

t.test("aggregate receipts: an upstream's ACCEPTD for a part is not that part's outcome; its final receipt is (one receipt, once)", async (t) => {
  const r = await rig(t, { account: { receiptPolicy: 'aggregate' } })
  const parts = [1, 2].map((seq) => rec({ part: [seq, 2], ref: 9 } as Partial<MessageRecord>))
  await r.store.commit({ messages: parts })
  r.d.outcomes([outcome(parts[0], MessageState.ACCEPTED), outcome(parts[1], MessageState.DELIVERED)])
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(r.later.length, 0, 'no aggregate receipt while a part is only ACCEPTD')
  r.d.outcomes([outcome(parts[0], MessageState.UNDELIVERABLE)])
  await r.laterCount(1)
  t.same(r.later.flat().map((it) => [it.messageId, it.stat]), [[parts[0].id, 'UNDELIV']], 'one receipt, with the part\'s final outcome')
  r.clock.now = 2_000_000_000_001 // past every part's validity: nothing left open to answer again
  r.d.tick(r.clock.now)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(r.later.length, 1, 'and no second receipt later')
})

t.test('aggregate receipts: a long message whose last part never comes is answered once every part seen has expired', async (t) => {
  const r = await rig(t, { account: { receiptPolicy: 'aggregate' } })
  const parts = [1, 2].map((seq) => rec({ part: [seq, 3], ref: 9, expireAt: 1_500_000 } as Partial<MessageRecord>))
  await r.store.commit({ messages: parts })
  r.d.outcomes(parts.map((p) => outcome(p, MessageState.DELIVERED)))
  await new Promise((resolve) => setTimeout(resolve, 50))
  r.d.tick(1_400_000)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(r.later.length, 0, 'nothing while part 3 may still come')
  r.d.tick(1_600_000 + 10_000)
  await r.laterCount(1)
  t.same(r.later.flat().map((it) => [it.messageId, it.stat]), [[parts[0].id, 'UNDELIV']], 'one receipt, the first part\'s id; the missing part counts as undeliverable')
})

t.test('aggregate receipts: an aggregate in progress when the engine stopped is answered after the restart once its parts expire', async (t) => {
  const r = await rig(t, { account: { receiptPolicy: 'aggregate' } })
  const parts = [1, 2].map((seq) => rec({ part: [seq, 3], ref: 11, expireAt: 1_500_000 } as Partial<MessageRecord>))
  await r.store.commit({ messages: parts })
  r.d.outcomes(parts.map((p) => outcome(p, MessageState.DELIVERED)))
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(r.store.metaWithPrefix('mp:').length, 1, 'the parts seen are in the store')
  const d = r.restart()
  d.tick(1_600_000 + 10_000)
  await until(() => r.later.length >= 1, 'the receipt')
  t.same(r.later.flat().map((it) => [it.messageId, it.stat]), [[parts[0].id, 'UNDELIV']], 'one receipt after the restart, the first part\'s id')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(r.store.metaWithPrefix('mp:'), [], 'and its state left the store')
})

t.test('aggregate receipts: retention keeps the parts of an open aggregate; the receipt carries the first part\'s id, time and text', async (t) => {
  const r = await rig(t, { account: { receiptPolicy: 'aggregate' } })
  const parts = [1, 2].map((seq) => rec({ part: [seq, 2], ref: 13, submitAt: 990_000 + seq, sm: Buffer.from(`part ${seq} text`) } as Partial<MessageRecord>))
  await r.store.commit({ messages: parts })
  r.d.outcomes([outcome(parts[0], MessageState.DELIVERED)])
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(await r.store.purgeFinal(r.clock.now + 1, 100), 0, 'part 1 ended, but its aggregate is open: kept')
  t.ok(r.store.getMessage(parts[0].id))
  r.d.outcomes([outcome(parts[1], MessageState.DELIVERED)])
  await until(() => r.later.length >= 1, 'the receipt')
  const [it] = r.later.flat()
  t.equal(it.messageId, parts[0].id)
  t.match((it.frame as Buffer).toString('latin1'), /submit date:\d{10} .* text:part 1 text/, 'text of the first part')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(await r.store.purgeFinal(r.clock.now + 1, 100), 2, 'answered: both parts can go now')
})

t.test('aggregate receipts: an aggregate whose parts were all purged (stored before pins) leaves the store without a receipt', async (t) => {
  const r = await rig(t, { account: { receiptPolicy: 'aggregate' } })
  const parts = [1, 2].map((seq) => rec({ part: [seq, 3], ref: 12, expireAt: 1_500_000 } as Partial<MessageRecord>))
  await r.store.commit({ messages: parts })
  r.d.outcomes(parts.map((p) => outcome(p, MessageState.DELIVERED)))
  await new Promise((resolve) => setTimeout(resolve, 50))
  for (const p of parts) r.store.unpin(p.id) // as a version without pins left them
  t.equal(await r.store.purgeFinal(r.clock.now + 1, 100), 2, 'both parts purged')
  const d = r.restart()
  d.tick(1_600_000 + 10_000)
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(r.later.length, 0, 'no receipt: nothing left to build it from')
  t.same(r.store.metaWithPrefix('mp:'), [], 'the aggregate state is gone too')
})

t.test('a long-offline receiver: at most memoryItems per account in memory, the rest read from the store in key order, each once', async (t) => {
  const r = await rig(t, { memoryItems: 10 })
  const first = await committedItems(r.store, 25)
  const d = r.restart() // starts with 25 pending in the store
  t.ok(d.waiting('u') <= 10, `${d.waiting('u')} in memory after the start`)
  // 15 more arrive while nobody is bound: they stay on disk.
  const more = await committedItems(r.store, 15)
  d.enqueue(more)
  t.ok(d.waiting('u') <= 10, `${d.waiting('u')} in memory after more arrived`)
  const a = new FakeReceiver(1, 1_000)
  r.receivers.push(a)
  let acked = 0
  for (let round = 0; round < 20 && a.got.length < 40; round++) {
    d.pump('u')
    const got = a.got.slice(acked)
    acked = a.got.length
    if (got.length > 0) d.results(got, [])
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const keys = a.got.map((it) => it.key as number)
  t.same(keys, [...first, ...more].map((it) => it.key as number), 'all 40 delivered once, oldest first')
})

t.test('receipts are delivered to the bound receiver once committed', async (t) => {
  const r = await rig(t)
  const a = new FakeReceiver(1, 10)
  r.receivers.push(a)
  const m = rec()
  await r.store.commit({ messages: [m] })
  r.d.outcomes([outcome(m, MessageState.DELIVERED)])
  await r.laterCount(1)
  await new Promise((resolve) => setImmediate(resolve))
  t.same(a.got.map((it) => it.messageId), [m.id])
})

t.test('round robin across two receivers of the account, each within its window', async (t) => {
  const r = await rig(t)
  const a = new FakeReceiver(1, 2)
  const b = new FakeReceiver(2, 2)
  r.receivers.push(a, b)
  const items = await committedItems(r.store, 5)
  r.d.enqueue(items)
  t.same(a.got, items.slice(0, 2), 'first window to the first bind')
  t.same(b.got, items.slice(2, 4), 'the next to the second')
  t.equal(r.d.waiting('u'), 1, 'the fifth waits for room')
  // The first bind acknowledges one: room there, the waiting item goes to it.
  a.freeSlots = 1
  r.d.results([items[0]], [])
  t.same(a.got.slice(2), [items[4]])
  t.equal(r.d.waiting('u'), 0)
  // With room everywhere, each batch is spread over both binds (an even share each).
  a.freeSlots = b.freeSlots = 100
  const batch1 = await committedItems(r.store, 3)
  const batch2 = await committedItems(r.store, 3)
  const before = [a.got.length, b.got.length]
  r.d.enqueue(batch1)
  r.d.enqueue(batch2)
  const toA = a.got.length - before[0], toB = b.got.length - before[1]
  t.equal(toA + toB, 6)
  t.ok(toA >= 2 && toB >= 2, `both binds get a share of every batch (got ${toA} and ${toB})`)
})

t.test('nothing is sent while no receiver is bound; a bind (pump) flushes the queue', async (t) => {
  const r = await rig(t)
  const items = await committedItems(r.store, 3)
  r.d.enqueue(items)
  t.equal(r.d.waiting('u'), 3)
  const a = new FakeReceiver(1, 10)
  r.receivers.push(a)
  r.d.pump('u')
  t.same(a.got, items)
  t.equal(r.d.waiting('u'), 0)
})

t.test('failed items come back after back-off on tick(now), doubling up to the maximum', async (t) => {
  const r = await rig(t, { redeliveryMs: [1000, 3000] })
  const a = new FakeReceiver(1, 10)
  r.receivers.push(a)
  const [it] = await committedItems(r.store, 1)
  r.d.enqueue([it])
  t.equal(a.got.length, 1)
  const t0 = r.clock.now
  const expectDelays = [1000, 2000, 3000, 3000]
  let sends = 1
  for (const delay of expectDelays) {
    a.freeSlots = 10
    r.d.results([], [it]) // timeout or negative deliver_sm_resp
    t.equal(r.d.waiting('u'), 1)
    r.d.tick(r.clock.now + delay - 1)
    t.equal(a.got.length, sends, `attempt ${it.attempts}: not before ${delay} ms`)
    r.clock.now += delay
    r.d.tick(r.clock.now)
    t.equal(a.got.length, ++sends, `attempt ${it.attempts}: sent again after ${delay} ms`)
  }
  t.equal(it.attempts, 4)
  t.equal(r.clock.now - t0, 9000)
  t.equal(r.store.pendingCount('u'), 1, 'still in the store until acknowledged')
  r.d.results([it], [])
  await until(() => r.store.pendingCount('u') === 0, 'the ack committed')
  t.equal(r.store.pendingCount('u'), 0, 'acked: gone from the store')
})

t.test('a retry due while no receiver is bound waits, then goes out on the next bind', async (t) => {
  const r = await rig(t, { redeliveryMs: [100, 100] })
  const a = new FakeReceiver(1, 10)
  r.receivers.push(a)
  const [it] = await committedItems(r.store, 1)
  r.d.enqueue([it])
  r.receivers.length = 0
  r.d.results([], [it])
  r.clock.now += 100
  r.d.tick(r.clock.now)
  t.equal(r.d.waiting('u'), 1)
  const b = new FakeReceiver(2, 10)
  r.receivers.push(b)
  r.d.pump('u')
  t.same(b.got, [it])
})

t.test('items older than receipts.maxAgeMs are discarded on tick and removed from the store', async (t) => {
  const r = await rig(t, { maxAgeMs: 60_000, redeliveryMs: [1000, 1000] })
  const [old, fresh] = await committedItems(r.store, 2)
  old.createdAt = r.clock.now - 61_000
  fresh.createdAt = r.clock.now
  r.d.enqueue([old, fresh]) // no receiver bound: both wait
  r.d.tick(r.clock.now)
  t.equal(r.d.waiting('u'), 1, 'the old one is dropped')
  await until(() => r.store.pendingCount('u') === 1, 'the drop committed')
  t.equal(r.store.pendingCount('u'), 1)
  const a = new FakeReceiver(1, 10)
  r.receivers.push(a)
  r.d.pump('u')
  t.same(a.got, [fresh])
})

t.test('a restarted Delivery rebuilds its queues from the store', async (t) => {
  const r = await rig(t)
  const items = await committedItems(r.store, 4)
  const other = await committedItems(r.store, 2, 'v')
  r.d.enqueue(items)
  r.d.results([items[0]], [])
  await until(() => r.store.pendingCount('u') === items.length - 1, 'the ack committed')
  const d2 = r.restart()
  t.equal(d2.waiting('u'), 3, 'the acknowledged one is gone')
  t.equal(d2.waiting('v'), 2)
  const a = new FakeReceiver(1, 10)
  r.receivers.push(a)
  d2.pump('u')
  t.same(a.got.map((it) => it.key), items.slice(1).map((it) => it.key), 'in queue order')
  void other
})

t.test('outcomes for two destinations of one message in back-to-back batches both stick', async (t) => {
  const r = await rig(t)
  const m = rec({
    dests: [
      { addr: [1, 1, 'a'], state: MessageState.ENROUTE, err: 0, doneAt: 0 },
      { addr: [1, 1, 'b'], state: MessageState.ENROUTE, err: 0, doneAt: 0 },
    ],
  })
  await r.store.commit({ messages: [m] })
  // Two carrier ticks 20 ms apart can arrive before the first commit is visible.
  r.d.outcomes([outcome(m, MessageState.DELIVERED, 0, 0)])
  r.d.outcomes([outcome(m, MessageState.DELIVERED, 0, 1)])
  await r.laterCount(2)
  const stored = r.store.getMessage(m.id) as MessageRecord
  t.same(stored.dests.map((d) => d.state), [MessageState.DELIVERED, MessageState.DELIVERED])
  t.equal(stored.state, MessageState.DELIVERED)
})

t.test("an MO's parts acknowledged in two reads while the first ack's commit waits in the store's queue: both count, it ends DELIVERED", async (t) => {
  const r = await rig(t, { holdCommits: true })
  const id = '0000000090'
  const record = { ...rec({ id, state: MessageState.ENROUTE }), mo: { connector: 'simulator', parts: 2, acked: 0, retries: 0 } } as MessageRecord
  const items: DeliveryItem[] = [0, 1].map((i) => ({ systemId: 'u', kind: 'mo' as const, createdAt: 0, attempts: 0, messageId: id, frame: deliverFrame({ short_message: Buffer.from(`part ${i}`) }) }))
  await r.store.commit({ enqueue: items, mo: [record] })
  r.d.results([items[0]], []) // one read: the first part's deliver_sm_resp
  r.d.results([items[1]], []) // the next read, before the first ack's commit was written
  await r.release()
  const stored = r.store.getMessage(id) as MessageRecord
  t.match(stored.mo, { acked: 2, via: 'bind' }, 'both parts acknowledged')
  t.equal(stored.state, MessageState.DELIVERED, 'and so delivered')
})
