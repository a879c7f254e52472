/**
 * The simulated carrier with a seeded random source: outcomes follow the configured probabilities,
 * delivery latency stays in the configured range (never early, at most one bucket late), validity
 * running out gives EXPIRED, intermediate ENROUTE notifications come only when asked for, and
 * recovery (fresh = false) re-schedules without repeating them.
 */
import t from 'tap'
import { SimulatedCarrier } from '../../actors/carrier'
import type { Outcome } from '../../actors/messages'
import { DEFAULTS, type ResolvedOptions } from '../../engine/config'
import { MessageState } from '../../engine/protocol/constants'
import type { MessageRecord } from '../../engine/message'

/** mulberry32: a small seeded PRNG, so every run draws the same numbers. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

type Sim = ResolvedOptions['simulator']
const sim = (over: Partial<Sim> = {}): Sim => ({
  enabled: true,
  deliveryDelayMs: [100, 500],
  outcomes: { DELIVRD: 1 },
  intermediate: false,
  errorCodes: { ...DEFAULTS.simulator.errorCodes },
  absentRate: 0,
  fixedOutcomes: {},
  ...over,
})

const T0 = 1_000_000 // a multiple of the carrier's 20 ms bucket

let n = 0
function rec(over: Partial<MessageRecord> = {}): MessageRecord {
  return {
    id: `r${++n}`, systemId: 'u', state: MessageState.ENROUTE, err: 0, submitAt: T0, doneAt: 0,
    src: [1, 1, '447700900001'], dests: [{ addr: [1, 1, '447700900002'], state: MessageState.ENROUTE, err: 0, doneAt: 0 }],
    serviceType: '', esmClass: 0, protocolId: 0, priority: 0, dataCoding: 0, registeredDelivery: 1,
    sm: Buffer.from('x'), scheduleAt: 0, expireAt: T0 + 86_400_000,
    ...over,
  }
}

/** A carrier whose emitted outcomes are collected with the (fake) time they came out. */
function carrier(cfg: Sim, seed = 42) {
  const out: { at: number; o: Outcome }[] = []
  let now = T0
  const c = new SimulatedCarrier(cfg, (batch) => { for (const o of batch) out.push({ at: now, o }) }, T0, seeded(seed))
  return {
    c, out,
    /** Tick every `step` ms up to `until`. */
    runTo(until: number, step = 1) { for (; now < until;) { now = Math.min(until, now + step); c.tick(now) } },
    get now() { return now },
  }
}

t.test('outcomes follow the configured probabilities over 10,000 records', async (t) => {
  const outcomes = { DELIVRD: 0.9, UNDELIV: 0.06, EXPIRED: 0.02, REJECTD: 0.02 }
  const h = carrier(sim({ outcomes }), 7)
  const records = Array.from({ length: 10_000 }, () => rec())
  h.c.submit(records, T0)
  t.equal(h.c.inFlight, 10_000)
  h.runTo(T0 + 600, 20)
  t.equal(h.out.length, 10_000, 'one outcome per record')
  t.equal(h.c.inFlight, 0)
  const count = new Map<number, number>()
  for (const { o } of h.out) count.set(o.state, (count.get(o.state) ?? 0) + 1)
  const expect: [string, number, number][] = [
    ['DELIVRD', MessageState.DELIVERED, 0.9], ['UNDELIV', MessageState.UNDELIVERABLE, 0.06],
    ['EXPIRED', MessageState.EXPIRED, 0.02], ['REJECTD', MessageState.REJECTED, 0.02],
  ]
  for (const [name, state, p] of expect) {
    const share = (count.get(state) ?? 0) / 10_000
    // 4 standard deviations of a binomial share at n = 10,000
    const tol = 4 * Math.sqrt((p * (1 - p)) / 10_000)
    t.ok(Math.abs(share - p) <= tol, `${name}: ${share} within ${tol.toFixed(4)} of ${p}`)
  }
  t.equal([...count.keys()].length, 4, 'no other state')
  // err: per stat, from simulator.errorCodes
  for (const { o } of h.out) {
    if (o.state === MessageState.UNDELIVERABLE && o.err !== DEFAULTS.simulator.errorCodes.UNDELIV) { t.fail(`UNDELIV err ${o.err}`); break }
    if (o.state === MessageState.REJECTED && o.err !== DEFAULTS.simulator.errorCodes.REJECTD) { t.fail(`REJECTD err ${o.err}`); break }
    if (o.state === MessageState.DELIVERED && o.err !== 0) { t.fail(`DELIVRD err ${o.err}`); break }
  }
  t.same(new Set(h.out.map(({ o }) => o.id)).size, 10_000, 'every record exactly once')
})

t.test('a zero-probability outcome never happens; a certain one always does', async (t) => {
  const h = carrier(sim({ outcomes: { DELIVRD: 0, REJECTD: 1 } }), 3)
  h.c.submit(Array.from({ length: 1000 }, () => rec()), T0)
  h.runTo(T0 + 600, 20)
  t.equal(h.out.length, 1000)
  t.ok(h.out.every(({ o }) => o.state === MessageState.REJECTED))
})

t.test('test numbers (fixedOutcomes): a destination under a prefix always gets its stat, the longest prefix first; others draw as usual', async (t) => {
  const h = carrier(sim({ outcomes: { DELIVRD: 1 }, fixedOutcomes: { 49151000000: 'UNDELIV', 4915100000002: 'EXPIRED', 4915100000003: 'REJECTD' } as never }))
  const to = (addr: string) => rec({ dests: [{ addr: [1, 1, addr], state: MessageState.ENROUTE, err: 0, doneAt: 0 }] })
  const sent = ['4915100000001', '4915100000002', '+4915100000003', '004915100000002', '447700900002'].map(to)
  h.c.submit(sent, T0)
  h.runTo(T0 + 600, 20)
  const byId = new Map(h.out.map(({ o }) => [o.id, o]))
  t.same(sent.map((r) => [byId.get(r.id)?.state, byId.get(r.id)?.err]), [
    [MessageState.UNDELIVERABLE, 1], [MessageState.EXPIRED, 0], [MessageState.REJECTED, 2], [MessageState.EXPIRED, 0], [MessageState.DELIVERED, 0],
  ], 'UNDELIV under the short prefix, EXPIRED and REJECTD under the longer ones (in any international form), the rest by outcomes')
})

t.test('delivery latency stays within deliveryDelayMs (never early, at most one 20 ms bucket late)', async (t) => {
  const [min, max] = [100, 500]
  const h = carrier(sim({ deliveryDelayMs: [min, max] }), 11)
  h.c.submit(Array.from({ length: 2000 }, () => rec()), T0)
  h.runTo(T0 + max + 40)
  t.equal(h.out.length, 2000)
  const delays = h.out.map(({ at }) => at - T0)
  t.ok(Math.min(...delays) >= min, `earliest ${Math.min(...delays)} ms >= ${min}`)
  t.ok(Math.max(...delays) <= max + 20, `latest ${Math.max(...delays)} ms <= ${max} + 20`)
  // Spread over the range, not clumped at one end
  t.ok(Math.min(...delays) < min + 40 && Math.max(...delays) > max - 40, 'spread across the range')
  const mean = delays.reduce((a, b) => a + b, 0) / delays.length
  t.ok(Math.abs(mean - ((min + max) / 2 + 10)) < 25, `mean ${mean.toFixed(1)} near the middle`)
})

t.test('nothing is emitted before it is due, and one tick emits everything due as one batch', async (t) => {
  const batches: Outcome[][] = []
  const c = new SimulatedCarrier(sim({ deliveryDelayMs: [200, 200] }), (b) => batches.push(b), T0, seeded(1))
  c.submit([rec(), rec(), rec()], T0)
  c.tick(T0 + 199)
  t.same(batches, [])
  c.tick(T0 + 200)
  t.equal(batches.length, 1)
  t.equal(batches[0].length, 3)
})

t.test('a scheduled message is delivered after its schedule, not after submit', async (t) => {
  const h = carrier(sim({ deliveryDelayMs: [100, 100] }))
  h.c.submit([rec({ scheduleAt: T0 + 10_000, state: MessageState.SCHEDULED })], T0)
  h.runTo(T0 + 10_099, 20)
  t.same(h.out, [])
  h.runTo(T0 + 10_120, 1)
  t.equal(h.out.length, 1)
  t.ok(h.out[0].at >= T0 + 10_100)
})

t.test('validity running out before delivery gives EXPIRED at the expiry time', async (t) => {
  const h = carrier(sim({ deliveryDelayMs: [1000, 2000], outcomes: { DELIVRD: 1 } }))
  const r = rec({ expireAt: T0 + 300 })
  h.c.submit([r, rec()], T0)
  h.runTo(T0 + 299)
  t.same(h.out, [], 'not before the expiry')
  h.runTo(T0 + 320)
  t.equal(h.out.length, 1)
  t.match(h.out[0].o, { id: r.id, dest: 0, state: MessageState.EXPIRED, err: DEFAULTS.simulator.errorCodes.EXPIRED })
  h.runTo(T0 + 2100, 20)
  t.match(h.out[1].o, { state: MessageState.DELIVERED }, 'the other one is delivered as usual')
})

t.test('an already expired message (e.g. recovered after a long stop) expires at once', async (t) => {
  const h = carrier(sim())
  const r = rec({ expireAt: T0 - 5000 })
  h.c.submit([r], T0, false)
  h.runTo(T0 + 20)
  t.match(h.out, [{ o: { id: r.id, state: MessageState.EXPIRED } }])
})

t.test('intermediate ENROUTE outcomes: only when configured and asked for by registered_delivery bit 4', async (t) => {
  const batches: Outcome[][] = []
  const c = new SimulatedCarrier(sim({ intermediate: true }), (b) => batches.push(b), T0, seeded(5))
  const asks = rec({ registeredDelivery: 0x11 })
  const onlyFinal = rec({ registeredDelivery: 0x01 })
  c.submit([asks, onlyFinal], T0)
  t.equal(batches.length, 1, 'emitted at submit, before any tick')
  t.same(batches[0], [{ id: asks.id, dest: 0, state: MessageState.ENROUTE, err: 0, rev: 0 }], 'carries the revision, so a replace_sm makes it stale')
  c.tick(T0 + 600)
  t.same(batches[1].map((o) => [o.id, o.state]).sort(), [[asks.id, MessageState.DELIVERED], [onlyFinal.id, MessageState.DELIVERED]].sort(), 'finals for both follow')

  const off: Outcome[][] = []
  const c2 = new SimulatedCarrier(sim({ intermediate: false }), (b) => off.push(b), T0, seeded(5))
  c2.submit([rec({ registeredDelivery: 0x11 })], T0)
  t.same(off, [], 'simulator.intermediate false: no ENROUTE')

  const rec2: Outcome[][] = []
  const c3 = new SimulatedCarrier(sim({ intermediate: true }), (b) => rec2.push(b), T0, seeded(5))
  c3.submit([rec({ registeredDelivery: 0x11 })], T0, false)
  t.same(rec2, [], 'recovery does not repeat the ENROUTE notification')
  t.equal(c3.inFlight, 1, 'but the final outcome is scheduled again')
})

t.test('every open destination of a multi-destination record gets its own outcome; final ones are skipped', async (t) => {
  const h = carrier(sim())
  const r = rec({
    dests: [
      { addr: [1, 1, 'a'], state: MessageState.ENROUTE, err: 0, doneAt: 0 },
      { addr: [1, 1, 'b'], state: MessageState.DELIVERED, err: 0, doneAt: T0 },
      { addr: [1, 1, 'c'], state: MessageState.ENROUTE, err: 0, doneAt: 0 },
    ],
  })
  h.c.submit([r], T0)
  h.runTo(T0 + 600, 20)
  t.same(h.out.map(({ o }) => o.dest).sort(), [0, 2])
})

t.test('the same seed gives the same outcomes and delays', async (t) => {
  const run = () => {
    const h = carrier(sim({ outcomes: { DELIVRD: 0.5, UNDELIV: 0.5 } }), 99)
    n = 0
    h.c.submit(Array.from({ length: 200 }, () => rec()), T0)
    h.runTo(T0 + 600, 1)
    return h.out.map(({ at, o }) => `${o.id}:${o.state}@${at}`)
  }
  t.same(run(), run())
})

t.test('absentRate: the first attempt finds the subscriber absent (handed back), a later one delivers it marked available', async (t) => {
  const batches: Outcome[][] = []
  const retried: { id: string; dest: number }[][] = []
  const c = new SimulatedCarrier(sim({ absentRate: 1, deliveryDelayMs: [100, 100] }), (b) => batches.push(b), T0, seeded(3),
    (items) => retried.push(items.map((i) => ({ id: i.record.id, dest: i.dest }))))
  const r = rec()
  c.submitDests([{ record: r, dest: 0, attempts: 0 }], T0)
  t.same(retried, [[{ id: r.id, dest: 0 }]], 'handed back as a temporary failure')
  t.equal(c.inFlight, 0, 'nothing scheduled')
  c.tick(T0 + 1000)
  t.same(batches, [], 'no outcome')
  // the dispatcher's retry: a later attempt
  c.submitDests([{ record: r, dest: 0, attempts: 1 }], T0 + 1000)
  c.tick(T0 + 1100)
  t.same(batches, [[{ id: r.id, dest: 0, state: MessageState.DELIVERED, err: 0, rev: 0, available: true }]], 'delivered, marked available')
  t.equal(retried.length, 1, 'absent only once')
})

t.test('absentRate 0: never absent, and no outcome is marked available', async (t) => {
  const retried: unknown[] = []
  const h = carrier(sim({ absentRate: 0 }))
  const c = new SimulatedCarrier(sim({ absentRate: 0 }), () => {}, T0, seeded(42), (items) => retried.push(items))
  c.submitDests([{ record: rec(), dest: 0, attempts: 0 }], T0)
  t.same(retried, [])
  h.c.submit([rec(), rec()], T0)
  h.runTo(T0 + 600, 20)
  t.equal(h.out.length, 2)
  t.notOk(h.out.some(({ o }) => o.available), 'none available')
})
