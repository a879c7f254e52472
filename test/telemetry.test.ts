/**
 * Telemetry units (engine/telemetry.ts, docs/TELEMETRY.md): the message timelines and their eviction,
 * the event ring, the hub's per-tick rates and bind-row deltas from fake sessions on a fake clock,
 * topic filtering, and the Prometheus text (label escaping, histogram buckets).
 */
import t from 'tap'
import { Metrics, TelemetryHub, filterFrame, prometheusText, type BindRow, type HubSources, type TelemetryEvent, type Topic } from '../engine/telemetry'
import type { Session } from '../engine/session/session'

interface FakeSession {
  id: number
  systemId: string
  kind: 'transmitter' | 'receiver' | 'transceiver' | null
  state: string
  remote: string
  connectedAt: number
  inFlight: number
  outstandingCount: number
  window: number
  stats: { submitted: number; rejected: number; delivered: number; deliverFailed: number; pdusIn: number; pdusOut: number }
}

const fake = (id: number, systemId: string, kind: FakeSession['kind'] = 'transceiver'): FakeSession => ({
  id, systemId, kind, state: kind === null ? 'OPEN' : kind === 'transmitter' ? 'BOUND_TX' : kind === 'receiver' ? 'BOUND_RX' : 'BOUND_TRX',
  remote: `127.0.0.1:${40000 + id}`, connectedAt: 1_000, inFlight: 0, outstandingCount: 0, window: 10,
  stats: { submitted: 0, rejected: 0, delivered: 0, deliverFailed: 0, pdusIn: 0, pdusOut: 0 },
})

function sources(list: FakeSession[], pending = new Map<string, number>(), accounts: string[] = [], inFlight = new Map<string, number>(), inFlightCalls = { n: 0 }): HubSources {
  return {
    sessions: () => list.map((s) => ({ session: s as unknown as Session, tls: false })),
    accounts: () => accounts,
    pending: () => pending,
    inFlight: () => { inFlightCalls.n++; return new Map(inFlight) },
    carrierInFlight: () => 7,
    connectors: () => ({ backlog: 3, list: [{ id: 'up"1', kind: 'smpp', up: false, inFlight: 0, queued: 3, sent: 9, failed: 1 }] }),
    workers: () => null,
    storeSpace: () => ({ bytes: 4096, free: 1e9 }),
    balances: () => new Map([['acme', 12.5]]),
    health: () => ({ status: 'degraded', problems: [{ reason: 'connector_down', text: 'connector up"1 is down' }] }),
    pendingOldest: () => new Map(),
  }
}

t.test('Metrics keeps the timelines of the last timelineSize messages', async (t) => {
  const m = new Metrics(10, 3)
  const id = (n: number) => String(n).padStart(10, '0')
  m.accepted([{ id: id(1), submitAt: 1 }, { id: id(2), submitAt: 1 }, { id: id(3), submitAt: 1 }], 2)
  m.step(id(1), 'receipt', 4, 'DELIVRD')
  m.step(id(1), 'delivered', 5)
  t.same(m.timeline(id(1)), { received: 1, stored: 2, carrier: 2, receipt: 4, stat: 'DELIVRD', delivered: 5 }, 'every step recorded')
  t.same(m.timeline(id(2)), { received: 1, stored: 2, carrier: 2 }, 'steps not reached are absent')
  m.accepted([{ id: id(4), submitAt: 6 }], 6)
  t.equal(m.timeline(id(1)), undefined, 'the oldest is forgotten past timelineSize')
  t.ok(m.timeline(id(2)) && m.timeline(id(3)) && m.timeline(id(4)), 'the newest three stay')
  t.same(m.timeline(id(4)), { received: 6, stored: 6, carrier: 6 }, 'a reused slot starts afresh')
  m.step(id(1), 'receipt', 7, 'UNDELIV')
  m.step(id(99), 'delivered', 7)
  t.equal(m.timeline(id(1)), undefined, 'a late receipt does not bring back a forgotten timeline')
  t.equal(m.timeline(id(99)), undefined, 'nor start one')
  m.accepted([{ id: id(5), submitAt: 8 }], 8)
  t.equal(m.timeline(id(2)), undefined, 'each new one evicts the oldest')
  for (let i = 10; i < 1010; i++) m.accepted([{ id: id(i), submitAt: i }], i)
  t.ok(m.timeline(id(1009)) && m.timeline(id(1008)) && m.timeline(id(1007)) && !m.timeline(id(1006)), 'the ring keeps exactly the last three')
  const hex = (n: number) => (0xa000000000 + n).toString(16)
  for (let i = 0xfa; i < 0x10a; i++) m.accepted([{ id: hex(i), submitAt: i }], i)
  t.ok(m.timeline(hex(0x109)) && m.timeline(hex(0x108)) && m.timeline(hex(0x107)) && !m.timeline(hex(0x106)), 'hex ids too')
  m.accepted([{ id: 'not-an-id', submitAt: 1 }], 1)
  t.equal(m.timeline('not-an-id'), undefined, 'an id that is no number has no timeline (ids are always numbers)')
  // The ring keeps numbers, not strings: another spelling of the same number is another id.
  m.accepted([{ id: id(2000), submitAt: 9 }], 9)
  t.ok(m.timeline(id(2000)), 'kept')
  t.equal(m.timeline('2000'), undefined, 'the same number without its zeros is not that message')
  t.equal(m.timeline('00' + id(2000)), undefined, 'nor with more zeros')
  m.accepted([{ id: 'a000000fff', submitAt: 9 }], 9)
  t.equal(m.timeline('a000000fff'.replace('a', 'A')), undefined, 'a hex id in capitals is not that message either')
  t.equal(m.timeline(String(0xa000000fff)), undefined, 'nor its decimal value')

  const none = new Metrics(10, 0)
  none.accepted([{ id: id(1), submitAt: 1 }], 1)
  t.equal(none.timeline(id(1)), undefined, 'timelineSize 0 keeps none')
})

t.test('Metrics.eventsSince reads the bounded ring', async (t) => {
  let now = 100
  const m = new Metrics(3, 10, () => now++)
  t.same(m.eventsSince(0), [], 'empty')
  m.event('bind', { systemId: 'a', session: 1 })
  m.event('throttle', { systemId: 'a', session: 1, detail: 'window of 10 full' })
  m.event('unbind', { systemId: 'a', session: 1 })
  m.event('auth_failure', { detail: 'console login' })
  m.event('bind', { systemId: 'b', session: 2 })
  t.equal(m.lastEventSeq, 5)
  const all = m.eventsSince(0)
  t.same(all.map((e) => e.seq), [3, 4, 5], 'only the last maxEvents are kept, oldest first')
  t.match(all[0], { seq: 3, t: 102, type: 'unbind', systemId: 'a', session: 1 }, 'with time and fields')
  t.same(m.eventsSince(4).map((e) => e.seq), [5], 'after a seq')
  t.same(m.eventsSince(3).map((e) => e.seq), [4, 5])
  t.same(m.eventsSince(1).map((e) => e.seq), [3, 4, 5], 'a seq older than the ring gives the whole ring')
  t.same(m.eventsSince(5), [], 'nothing new')
})

t.test('Metrics.submitted counts by status, throttles apart', async (t) => {
  const m = new Metrics()
  const c = m.account('a')
  m.submitted(c, 0, 5)
  m.submitted(c, 0x58)
  m.submitted(c, 0x0b)
  t.match(c, { submitted: 5, rejected: 2, throttled: 1 })
  t.same([...c.statuses], [[0, 5], [0x58, 1], [0x0b, 1]])
  t.match(m.totals, { submitted: 5, delivered: 0, receipts: 0, purged: 0 })
  t.equal(m.account('a'), c, 'one counter set per account')
})

/** A hub over one transceiver of acc1 on a fake clock, already 250 ms (one interval) past its start; later() adds 250 ms. */
function oneBind(t: { teardown(fn: () => void): void }) {
  let now = 10_000
  const m = new Metrics(100, 100, () => now)
  const s1 = fake(1, 'acc1')
  const hub = new TelemetryHub(m, sources([s1], new Map(), ['acc1']), 250, () => now)
  t.teardown(() => hub.stop())
  now += 250
  return { m, s1, hub, later: () => { now += 250 } }
}

t.test('a bind idle for a while, then busy: its rate is averaged over about the last second, not over the idle time; an idle row is the same object', async (t) => {
  const { s1, hub, later } = oneBind(t)
  const first = (hub.tick().snapshot.binds as BindRow[])[0]
  for (let i = 0; i < 40; i++) { later(); hub.tick() } // 10 s idle
  t.equal((hub.current!.snapshot.binds as BindRow[])[0], first, 'an idle bind keeps its row: nothing is built for it')
  s1.stats.submitted = 100
  later()
  const row = (hub.tick().delta.binds as { upsert: BindRow[] }).upsert[0]
  t.ok(row.inPerSec >= 80 && row.inPerSec <= 100, `100 submits in the last 250 ms read as 80 to 100/s (1 to 1.25 s window), not 10/s over the idle time: ${row.inPerSec}`)
})

t.test('an account sending 1 msg/s reads about 1/s at every tick (averaged over the last second), not 4, 0, 0, 0', async (t) => {
  const { m, s1, hub, later } = oneBind(t)
  hub.tick()
  const rates: number[] = []
  for (let i = 1; i <= 24; i++) {
    if (i % 4 === 0) { m.submitted(m.account('acc1'), 0, 1); s1.stats.submitted++ }
    later()
    const f = hub.tick()
    if (i > 8) rates.push((f.delta.accounts as { systemId: string; submitPerSec: number }[]).find((a) => a.systemId === 'acc1')!.submitPerSec)
  }
  t.ok(rates.every((r) => r >= 0.75 && r <= 1.34), `account submitPerSec stays near 1: ${rates.join(', ')}`)
})

t.test('the engine sending 10 msg/s reads about 10/s at every tick (averaged over the last second), not 8, 12, 8, 12', async (t) => {
  const { m, hub, later } = oneBind(t)
  hub.tick()
  const rates: number[] = []
  for (let i = 1; i <= 24; i++) {
    m.submitted(m.account('acc1'), 0, i % 2 === 0 ? 2 : 3) // 2.5 per 250 ms tick
    later()
    const f = hub.tick()
    if (i > 8) rates.push((f.delta.engine as { submitPerSec: number }).submitPerSec)
  }
  t.ok(rates.every((r) => r >= 8.5 && r <= 12), `engine submitPerSec stays near 10: ${rates.join(', ')}`)
  t.ok(rates.some((r) => r !== 8 && r !== 12), 'not the per-tick 8 and 12')
  t.same(hub.historyColumns().submitPerSec.slice(-4), rates.slice(-4), 'the chart history has the same values')
})

t.test('messages in flight per account: read at most once a second, and not at all without a subscriber', async (t) => {
  let now = 10_000
  const m = new Metrics(100, 100, () => now)
  const inFlight = new Map([['acc1', 5]])
  const calls = { n: 0 }
  const hub = new TelemetryHub(m, sources([], new Map(), ['acc1', 'idle'], inFlight, calls), 250, () => now)
  t.teardown(() => hub.stop())
  const inFlightOf = (f: { delta: Record<string, unknown> }, id: string) => (f.delta.accounts as { systemId: string; inFlight: number }[]).find((a) => a.systemId === id)!.inFlight
  now += 250
  t.equal(inFlightOf(hub.tick(), 'acc1'), 5)
  t.equal(inFlightOf(hub.current!, 'idle'), 0, 'an account with nothing in flight: 0')
  inFlight.set('acc1', 2)
  for (let i = 0; i < 3; i++) { now += 250; t.equal(inFlightOf(hub.tick(), 'acc1'), 5, 'the count of the last read, within the second') }
  now += 250
  t.equal(inFlightOf(hub.tick(), 'acc1'), 2, 'read again after a second')
  t.equal(calls.n, 2, 'two walks in five ticks')
  now += 1000
  hub.tick(false)
  t.equal(calls.n, 2, 'none without a subscriber')
})

t.test('with no subscriber a tick builds no bind rows and keeps no frames, but the metrics and the chart history go on', async (t) => {
  const { m, s1, hub, later } = oneBind(t)
  t.ok(hub.tick(true), 'with a subscriber: frames')
  m.submitted(m.account('acc1'), 0, 25)
  later()
  t.equal(hub.tick(false), null, 'without: none')
  t.equal(hub.current, null, 'and none kept for a client that connects now (it waits for the next tick)')
  t.same(hub.historyColumns().submitPerSec, [0, 100], 'the chart history has both ticks')
  s1.stats.submitted = 25
  later()
  const f = hub.tick(true)!
  t.same((f.delta.binds as { upsert: BindRow[] }).upsert.map((r) => r.id), [1], 'the next full tick builds the rows afresh')
  t.equal((f.snapshot.binds as BindRow[]).length, 1)
})

t.test('TelemetryHub.tick computes rates from counter deltas and upserts only changed rows', async (t) => {
  let now = 10_000
  const m = new Metrics(100, 100, () => now)
  const s1 = fake(1, 'acc1')
  const s2 = fake(2, 'acc2', 'transmitter')
  const list = [s1, s2]
  const hub = new TelemetryHub(m, sources(list, new Map([['acc1', 3]]), ['acc1', 'acc2', 'idle']), 250, () => now)
  t.teardown(() => hub.stop())

  now += 1000
  const f1 = hub.tick()
  t.equal(hub.current, f1, 'the frames are kept for clients that connect between ticks')
  t.match(f1.snapshot, { type: 'snapshot', t: 11_000, interval: 250 })
  t.same((f1.delta.binds as { upsert: BindRow[] }).upsert.map((r) => r.id), [1, 2], 'first tick: every row is new')
  t.match((f1.snapshot.binds as BindRow[])[0], { id: 1, systemId: 'acc1', kind: 'transceiver', state: 'BOUND_TRX', remote: '127.0.0.1:40001', tls: false, connectedAt: 1_000, window: { inFlight: 0, outstanding: 0, size: 10 }, inPerSec: 0 })
  t.match(f1.delta.queues, { pending: { acc1: 3 }, pendingTotal: 3, carrierInFlight: 7 })
  t.match(f1.delta.engine, { sessions: 2, bound: 2, submitPerSec: 0, workers: null, problems: ['connector up"1 is down'] }, "with /healthz's problems")
  t.same(m.eventLoop, (f1.delta.engine as { eventLoopDelayMs: unknown }).eventLoopDelayMs, 'the event-loop delay of the interval is kept for /metrics')
  t.same((f1.delta.accounts as { systemId: string }[]).map((a) => a.systemId).sort(), ['acc1', 'acc2', 'idle'], 'every configured account, idle ones too')
  t.match((f1.delta.accounts as { systemId: string }[]).find((a) => a.systemId === 'idle'), { binds: 0, submitPerSec: 0, submitted: 0, receipts: {}, pending: 0 })

  // 50 submits on s1 (and its account) in 500 ms; s2 unchanged
  s1.stats.submitted = 50
  m.submitted(m.account('acc1'), 0, 50)
  m.totals.receipts += 20
  m.totals.delivered += 10
  m.event('throttle', { systemId: 'acc1', session: 1 })
  now += 500
  const f2 = hub.tick()
  const up2 = (f2.delta.binds as { upsert: BindRow[]; remove: number[] }).upsert
  t.same(up2.map((r) => r.id), [1], 'only the changed row is upserted')
  t.match(up2[0], { submitted: 50, inPerSec: 100 }, '50 in 0.5 s is 100/s')
  t.match(f2.delta.engine, { submitPerSec: 100, receiptPerSec: 40, deliverPerSec: 20 }, 'engine rates from the totals')
  t.match((f2.delta.accounts as { systemId: string }[]).find((a) => a.systemId === 'acc1'), { submitPerSec: 100, submitted: 50, binds: 1, pending: 3 })
  t.same((f2.delta.events as TelemetryEvent[]).map((e) => e.type), ['throttle'], 'the delta carries the new events')
  t.equal((f2.snapshot.binds as BindRow[]).length, 2, 'the snapshot carries every row')

  now += 1000
  const f3 = hub.tick()
  const up3 = (f3.delta.binds as { upsert: BindRow[] }).upsert
  t.same(up3.map((r) => r.id), [1], 'a rate falling to 0 is a change')
  t.equal(up3[0].inPerSec, 0)
  t.same(f3.delta.events, [], 'no new events')
  t.equal((f3.snapshot.events as TelemetryEvent[]).length, 1, 'the snapshot has the ring')

  now += 1000
  t.same((hub.tick().delta.binds as { upsert: BindRow[] }).upsert, [], 'nothing changed, nothing upserted')

  s2.stats.rejected = 1
  s2.stats.deliverFailed = 2
  now += 1000
  const up5 = (hub.tick().delta.binds as { upsert: BindRow[] }).upsert
  t.match(up5, [{ id: 2, rejected: 1, errors: 3 }], 'rejected and deliver errors change the row')

  s2.stats.deliverFailed = 5
  now += 1000
  t.match((hub.tick().delta.binds as { upsert: BindRow[] }).upsert, [{ id: 2, errors: 6 }], 'a deliver error alone changes the row too')

  s1.outstandingCount = 4
  now += 1000
  t.match((hub.tick().delta.binds as { upsert: BindRow[] }).upsert, [{ id: 1, window: { outstanding: 4 } }], 'the window in use changes the row')

  list.splice(1, 1)
  now += 1000
  const f6 = hub.tick()
  t.same((f6.delta.binds as { remove: number[] }).remove, [2], 'a closed session is removed')
  t.same(f6.removedOf, ['acc2'], 'with the account it was bound as (a scoped stream sends only its own)')
  t.match(f6.delta.engine, { sessions: 1, bound: 1 })
  now += 1000
  t.same((hub.tick().delta.binds as { remove: number[] }).remove, [], 'once')
})

t.test('filterFrame keeps the requested topics only', async (t) => {
  const frame = {
    type: 'delta', t: 5, interval: 250, binds: { upsert: [], remove: [] }, accounts: [], queues: {}, engine: { cpu: 1 }, latency: {},
    events: [{ seq: 1, t: 1, type: 'bind', systemId: 'a' }, { seq: 2, t: 2, type: 'bind', systemId: 'b' }, { seq: 3, t: 3, type: 'auth_failure' }],
  }
  t.same(filterFrame(frame, new Set<Topic>(['engine'])), { type: 'delta', t: 5, interval: 250, engine: { cpu: 1 } })
  t.same(Object.keys(filterFrame(frame, new Set<Topic>(['binds', 'accounts']))).sort(), ['accounts', 'binds', 'interval', 't', 'type'])
  t.same((filterFrame(frame, new Set<Topic>(['events'])).events as TelemetryEvent[]).map((e) => e.seq), [1, 2, 3], 'all events')
  t.same(filterFrame(frame, new Set<Topic>(['events']), 'b').events, [{ seq: 2, t: 2, type: 'bind', systemId: 'b' }], "events:<systemId>: that account's only")
  t.same(frame.events.length, 3, 'the frame itself is not changed')
})

t.test('filterFrame with a scope keeps only what concerns the accounts it sees, and nothing engine-wide', async (t) => {
  const row = (id: number, systemId: string) => ({ id, systemId }) as unknown as BindRow
  const base = {
    t: 5, interval: 250, accounts: [{ systemId: 'res1' }, { systemId: 'u1' }, { systemId: 'other' }],
    queues: { pending: { u1: 2, other: 5 }, pendingTotal: 7, carrierInFlight: 9, backlog: 3, connectors: [{ id: 'sim' }] },
    engine: { cpu: 1 }, latency: { submitResp: {} },
    events: [{ seq: 1, t: 1, type: 'bind', systemId: 'u1' }, { seq: 2, t: 2, type: 'bind', systemId: 'other' }, { seq: 3, t: 3, type: 'connector_up', detail: 'sim' }, { seq: 4, t: 4, type: 'unbind', systemId: 'res1' }],
  }
  const mine = new Set(['res1', 'u1'])
  const all = new Set<Topic>(['binds', 'accounts', 'queues', 'engine', 'latency', 'events'])
  const scope = { sees: (id: string) => mine.has(id), removedOf: ['u1', 'other', ''] }
  const snapshot = { type: 'snapshot', ...base, binds: [row(1, 'u1'), row(2, 'other'), row(3, ''), row(4, 'res1')], history: { t: [1] } }
  const s = filterFrame(snapshot, all, undefined, scope)
  t.same(Object.keys(s).sort(), ['accounts', 'binds', 'events', 'interval', 'queues', 't', 'type'], 'no engine, latency or chart history, even when asked for')
  t.same((s.binds as BindRow[]).map((b) => b.id), [1, 4], 'its binds only (not another account\'s, not one not bound yet)')
  t.same((s.accounts as { systemId: string }[]).map((a) => a.systemId), ['res1', 'u1'])
  t.same(s.queues, { pending: { u1: 2 }, pendingTotal: 2 }, 'its pending counts, their total, no engine-wide queue figures')
  t.same((s.events as TelemetryEvent[]).map((e) => e.seq), [1, 4], 'its accounts\' events (not another account\'s, not the engine\'s)')
  const delta = { type: 'delta', ...base, binds: { upsert: [row(1, 'u1'), row(2, 'other')], remove: [7, 8, 9] } }
  t.same(filterFrame(delta, all, undefined, scope).binds, { upsert: [row(1, 'u1')], remove: [7] }, 'a removed bind is sent only if it was its own')
  t.same((filterFrame(delta, new Set<Topic>(['events']), 'other', scope).events as TelemetryEvent[]), [], 'events:<systemId> cannot widen the scope')
  t.same((filterFrame(delta, new Set<Topic>(['events']), 'u1', scope).events as TelemetryEvent[]).map((e) => e.seq), [1])
  t.equal((filterFrame(snapshot, all).binds as BindRow[]).length, 4, 'without a scope: everything (the operator)')
})

t.test('prometheusText escapes label values and folds the histograms', async (t) => {
  const m = new Metrics()
  const odd = 'a"b\\c\nd'
  m.submitted(m.account(odd), 0, 3)
  m.submitted(m.account(odd), 0x58)
  m.account(odd).receipts.DELIVRD = 2
  m.account(odd).delivered = 2
  m.account(odd).byKind.receipt[0] = 2
  m.submitted(m.unbound, 0x04)
  for (const us of [300, 800, 2000, 2000, 40_000]) m.submitLatency.record(us)
  m.submitLatencyAll.record(4_000_000)
  Object.assign(m.eventLoop, { p50: 1.5, p99: 12, max: 30 })
  m.event('auth_failure', { detail: 'x' })
  m.event('auth_failure', { detail: 'y' })
  m.event('bind_refused', { detail: 'z' })
  const text = prometheusText(m, sources([fake(1, odd), fake(2, odd, 'receiver'), fake(3, '', null)], new Map([[odd, 4]])))
  const esc = 'a\\"b\\\\c\\nd'
  t.match(text, `smsc_submit_total{account="${esc}",status="ESME_ROK"} 3\n`, 'quote, backslash and newline escaped')
  t.match(text, `smsc_submit_total{account="${esc}",status="ESME_RTHROTTLED"} 1\n`)
  t.match(text, 'smsc_submit_total{account="",status="ESME_RINVBNDSTS"} 1\n', 'refusals before bind under account ""')
  t.match(text, `smsc_receipts_total{account="${esc}",stat="DELIVRD"} 2\n`)
  t.match(text, `smsc_deliver_total{account="${esc}",kind="receipt",result="ok"} 2\n`)
  t.match(text, `smsc_deliver_total{account="${esc}",kind="mo",result="ok"} 0\n`)
  t.match(text, `smsc_pending_deliveries{account="${esc}"} 4\n`)
  t.match(text, 'smsc_binds{type="transmitter"} 0\nsmsc_binds{type="receiver"} 1\nsmsc_binds{type="transceiver"} 1\n', 'bound sessions by type; an open one is not a bind')
  t.match(text, 'smsc_connections 3\n')
  t.match(text, `smsc_account_binds{account="${esc}"} 2\n`, 'bound sessions by account (the open one not counted)')
  t.match(text, '# TYPE smsc_account_balance gauge\nsmsc_account_balance{account="acme"} 12.5\n', 'prepaid balances')
  t.match(text, 'smsc_store_bytes 4096\nsmsc_store_free_bytes 1000000000\n'.replace('\nsmsc_store_free', '\n# HELP smsc_store_free_bytes free space of the file system the store is on\n# TYPE smsc_store_free_bytes gauge\nsmsc_store_free'), 'the store\'s size and free space')
  t.match(text, 'smsc_carrier_in_flight 7\n')
  t.match(text, 'smsc_auth_failures_total 2\n', 'auth_failure events counted')
  t.match(text, 'smsc_binds_refused_total 1\n', 'bind_refused events counted apart')
  t.match(text, 'smsc_dispatch_backlog 3\n')
  t.match(text, 'smsc_connector_up{connector="up\\"1",kind="smpp"} 0\n', 'connector ids escaped like account labels')
  t.match(text, 'smsc_connector_sent_total{connector="up\\"1"} 9\n')
  t.match(text, '# TYPE smsc_event_loop_delay_seconds gauge\nsmsc_event_loop_delay_seconds{quantile="0.5"} 0.0015\nsmsc_event_loop_delay_seconds{quantile="0.99"} 0.012\n', 'event-loop delay in seconds by quantile')
  const sample = /^[a-zA-Z_:][\w:]*(\{\w+="(?:[^"\\\n]|\\.)*"(,\w+="(?:[^"\\\n]|\\.)*")*\})? -?[\d.e+-]+$/
  const bad = text.split('\n').filter((l) => l !== '' && !l.startsWith('# ') && !sample.test(l))
  t.same(bad, [], 'every line is a comment or a well-formed sample (no raw quote or newline in a label)')
  const bucket = (le: string) => Number(new RegExp(`smsc_submit_latency_seconds_bucket\\{le="${le.replace('+', '\\+')}"\\} (\\d+)`).exec(text)?.[1])
  t.equal(bucket('0.0005'), 1, '300 µs is at or below 0.5 ms')
  t.equal(bucket('0.001'), 2)
  t.equal(bucket('0.0025'), 4)
  t.equal(bucket('0.05'), 5)
  t.equal(bucket('5'), 6, 'the cumulative histogram and this interval are folded together')
  t.equal(bucket('+Inf'), 6)
  t.match(text, 'smsc_submit_latency_seconds_count 6\n')
  t.match(text, /smsc_submit_latency_seconds_sum 4\.045\d*\n/)
  t.ok(text.endsWith('\n'), 'ends with a newline')
})

t.test('prometheusText times final outcomes per connector, up to 30 minutes, for the connectors listed', async (t) => {
  const m = new Metrics()
  for (const s of [2, 90, 400, 4000]) m.finalOf('up"1').record(s * 1e6)
  m.finalOf('gone').record(1e6) // a connector a reload removed: not in the list any more
  const text = prometheusText(m, sources([], new Map()))
  const bucket = (le: string) => Number(new RegExp(`smsc_connector_final_seconds_bucket\\{connector="up\\\\"1",le="${le.replace('+', '\\+')}"\\} (\\d+)`).exec(text)?.[1])
  t.equal(bucket('2.5'), 1)
  t.equal(bucket('60'), 1)
  t.equal(bucket('120'), 2, '90 s lands in the 2-minute bucket')
  t.equal(bucket('600'), 3)
  t.equal(bucket('1800'), 3, '4,000 s is past the last bound')
  t.equal(bucket('+Inf'), 4)
  t.match(text, 'smsc_connector_final_seconds_count{connector="up\\"1"} 4\n')
  t.equal(text.split('# TYPE smsc_connector_final_seconds histogram').length, 2, 'one TYPE line')
  t.notMatch(text, 'connector="gone"', 'a connector no longer configured is left out')
  t.match(text, 'smsc_receipt_latency_seconds_bucket{le="1800"}', 'submit→receipt has the long bounds too')
})
