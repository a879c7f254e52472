/**
 * The HTTP connector against a real HTTP server on loopback. The server answers by the message's
 * destination number, so one test can see every class of answer: 2xx → DELIVERED (and the
 * upstream id when the answer has one), 4xx → REJECTED with the status as err, 408/429/5xx,
 * timeouts and refused connections → retry. Also: the request body, the cap on requests in
 * flight, the send rate, down after three failures in a row with one probe per tick, up again on
 * the first answer, and stop() waiting for the requests in flight. With receipts "callback": a 2xx
 * with the provider's id is accepted (not final), one without is UNKNOWN, and a callback's receipts
 * wait for the answers of the requests started before them.
 */
import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { HttpConnector, DOWN_AFTER_FAILURES, retryAfterMs, type HttpConnectorConfig } from '../../actors/connectors/http'
import { THROTTLING_QUIET_MS } from '../../actors/connectors/smpp-client'
import type { ConnectorEvents, ConnectorOutcome, Dispatch, UpstreamReceipt } from '../../actors/connectors/types'
import { MessageState } from '../../engine/protocol/constants'
import type { MessageRecord } from '../../engine/message'
import { DEFAULT_CALLBACK_FIELDS, DEFAULT_CALLBACK_STATUSES } from '../../engine/provider-receipts'

interface Posted { headers: http.IncomingHttpHeaders; body: Record<string, unknown> }

/**
 * A server answering by `to`: "s<status>" answers that status, "s200id" answers 200 with { id },
 * "s200nested" answers 200 with { messages: [{ id }] }, "hang" never answers, "held" waits for the test
 * (`held`); anything else answers `fallback()` (so a test can switch it).
 */
async function upstream(t: { teardown(fn: () => unknown): void }, fallback: () => number = () => 200) {
  const posted: Posted[] = []
  const held: { body: Record<string, unknown>; res: http.ServerResponse }[] = []
  let open = 0
  let most = 0
  const srv = http.createServer((req, res) => {
    open++
    most = Math.max(most, open)
    res.on('close', () => open--)
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>
      posted.push({ headers: req.headers, body })
      const to = String(body.to)
      if (to === 'hang') return
      if (to.startsWith('r429-')) { res.statusCode = 429; res.setHeader('retry-after', to.slice(5)); return res.end() }
      if (to === 'held') return held.push({ body, res })
      if (to === 's200id') { res.setHeader('content-type', 'application/json'); return res.end(JSON.stringify({ id: `up-${String(body.id)}` })) }
      if (to === 's200nested') { res.setHeader('content-type', 'application/json'); return res.end(JSON.stringify({ messages: [{ id: `up-${String(body.id)}` }] })) }
      res.statusCode = to.startsWith('s') ? Number(to.slice(1)) : fallback()
      res.end('{"status":"whatever"}')
    })
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => { srv.closeAllConnections(); srv.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/sms`, posted, held, most: () => most }
}

/** Every event the connector reports, with awaitable counts. */
function recorder() {
  const ev = {
    outcomes: [] as ConnectorOutcome[],
    accepted: [] as { id: string; dest: number; upstreamId: string }[],
    retry: [] as { item: Dispatch; reason: string; counted: string | undefined }[],
    receipts: [] as UpstreamReceipt[],
    calls: [] as string[],
    ups: 0,
    downs: [] as string[],
  }
  const events: ConnectorEvents = {
    outcomes: (o) => { ev.calls.push('outcomes'); ev.outcomes.push(...o) },
    accepted: (a) => { ev.calls.push('accepted'); ev.accepted.push(...a) },
    retry: (items, reason, counted) => { ev.calls.push('retry'); for (const item of items) ev.retry.push({ item, reason, counted }) },
    receipts: (items, stored) => { ev.calls.push('receipts'); ev.receipts.push(...items); stored() },
    mo: () => { throw new Error('an HTTP connector has no MO') },
    up: () => { ev.ups++ },
    down: (reason) => { ev.downs.push(reason) },
  }
  const until = async (what: () => boolean, ms = 5000) => {
    const deadline = Date.now() + ms
    while (!what()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for connector events')
      await new Promise((r) => setTimeout(r, 5))
    }
  }
  return { ev, events, until }
}

let n = 0
function dispatch(to: string, over: Partial<MessageRecord> = {}): Dispatch {
  const record: MessageRecord = {
    id: `m${++n}`, systemId: 'u', state: MessageState.ENROUTE, err: 0, submitAt: 0, doneAt: 0,
    src: [5, 0, 'Shop'], dests: [{ addr: [1, 1, to], state: MessageState.ENROUTE, err: 0, doneAt: 0 }],
    serviceType: '', esmClass: 0, protocolId: 0, priority: 0, dataCoding: 0, registeredDelivery: 1,
    sm: Buffer.from('hello'), scheduleAt: 0, expireAt: Number.MAX_SAFE_INTEGER, rev: 0,
    ...over,
  }
  return { record, dest: 0 }
}

const config = (url: string, over: Partial<HttpConnectorConfig> = {}): HttpConnectorConfig => ({
  id: 'gw', kind: 'http', url, headers: {}, timeoutMs: 2000, concurrency: 10, ratePerSecond: 0,
  throttlePauseMs: [1000, 30_000], probeMs: [1000, 30_000], probeUrl: null,
  receipts: 'none', answerId: 'id', callbackToken: null, callbackFields: { ...DEFAULT_CALLBACK_FIELDS }, callbackStatuses: { ...DEFAULT_CALLBACK_STATUSES },
  ...over,
})

function connector(t: { teardown(fn: () => unknown): void }, cfg: HttpConnectorConfig, events: ConnectorEvents) {
  const c = new HttpConnector(cfg, events)
  c.start()
  t.teardown(() => c.stop())
  return c
}

/** The engine's tick, every 20 ms (answers are reported at ticks). */
function ticking(t: { teardown(fn: () => unknown): void }, c: HttpConnector) {
  const timer = setInterval(() => c.tick(Date.now()), 20)
  t.teardown(() => clearInterval(timer))
}

/** Waits until nothing is on the wire. */
async function drained(c: HttpConnector) {
  const deadline = Date.now() + 5000
  while (c.stats().inFlight > 0) {
    if (Date.now() > deadline) throw new Error('requests still in flight')
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** Waits until nothing is on the wire, then ticks once (which reports every answer). */
async function settle(c: HttpConnector, now = Date.now()) {
  await drained(c)
  c.tick(now)
}

t.test('every class of answer maps to its event', async (t) => {
  const up = await upstream(t)
  const { ev, events, until } = recorder()
  const c = connector(t, config(up.url), events)
  t.equal(ev.ups, 1, 'start() reports the connector up')
  t.equal(c.kind, 'http')
  const items = ['s200', 's200id', 's201', 's400', 's404', 's408', 's429', 's500', 's503'].map((to) => dispatch(to))
  t.same(c.submit(items, Date.now()), [], 'all taken')
  await settle(c)
  t.equal(ev.outcomes.length + ev.retry.length, items.length, 'every answer reported at the tick')
  const by = (to: string) => items.find((d) => d.record.dests[0].addr[2] === to)!.record.id
  const outcome = (to: string) => ev.outcomes.find((o) => o.id === by(to))
  for (const to of ['s200', 's200id', 's201']) t.match(outcome(to), { dest: 0, state: MessageState.DELIVERED, err: 0, rev: 0 }, `${to}: DELIVERED`)
  t.match(outcome('s400'), { state: MessageState.REJECTED, err: 400 }, '400: REJECTED, err 400')
  t.match(outcome('s404'), { state: MessageState.REJECTED, err: 404 }, '404: REJECTED, err 404')
  t.same(ev.retry.map((r) => r.item.record.id).sort(), ['s408', 's429', 's500', 's503'].map(by).sort(), '408, 429 and 5xx are retried')
  t.ok(ev.retry.every((r) => r.reason.startsWith('gw: HTTP ')), 'the reason names the connector and the status')
  t.same(ev.accepted, [], 'a 2xx is final: no upstream id is mapped (an HTTP provider sends no receipt)')
  t.same(ev.calls, ['outcomes', 'retry', 'retry', 'retry'], 'one call per kind of event for all the answers of the tick (retries: one per reason counted)')
  t.same(Object.fromEntries(ev.retry.map((r) => [r.item.record.dests[0].addr[2], r.counted])), { s408: 'timeout', s429: 'throttled', s500: 'server_error', s503: 'server_error' },
    'counted as smsc_connector_retries_total{reason} counts them')
  t.match(c.stats(), { id: 'gw', kind: 'http', up: true, inFlight: 0, sent: 3, failed: 6 })
  t.equal(ev.downs.length, 0, 'two 5xx in a row do not take it down')
})

t.test('the request: JSON with the decoded text, the octets as hex, and the configured headers', async (t) => {
  const up = await upstream(t)
  const { ev, events, until } = recorder()
  const c = connector(t, config(up.url, { headers: { authorization: 'Bearer up-secret' } }), events)
  const ucs2 = Buffer.from('Привет', 'utf16le').swap16()
  const udh = Buffer.from([0x05, 0x00, 0x03, 0x2a, 0x02, 0x01])
  c.submit([
    dispatch('s201', { sm: Buffer.from('hello'), dataCoding: 0 }),
    dispatch('s202', { sm: Buffer.concat([udh, ucs2]), dataCoding: 8, esmClass: 0x40 }),
    dispatch('s203', { sm: Buffer.from([0xde, 0xad, 0xbe, 0xef]), dataCoding: 4 }),
  ], Date.now())
  await settle(c)
  t.equal(ev.outcomes.length, 3)
  const body = (to: string) => up.posted.find((p) => p.body.to === to)!.body
  t.same(body('s201'), { id: ev.outcomes[0].id, from: 'Shop', to: 's201', text: 'hello', binary: Buffer.from('hello').toString('hex'), dataCoding: 0, esmClass: 0 })
  t.match(body('s202'), { text: 'Привет', binary: Buffer.concat([udh, ucs2]).toString('hex'), dataCoding: 8, esmClass: 0x40 }, 'UCS2 decoded, UDH left out of text, kept in binary')
  t.match(body('s203'), { text: null, binary: 'deadbeef', dataCoding: 4 }, 'binary data: no text')
  t.equal(up.posted[0].headers.authorization, 'Bearer up-secret')
  t.equal(up.posted[0].headers['content-type'], 'application/json')
})

t.test('a request without an answer in time is retried at the tick after its deadline', async (t) => {
  const up = await upstream(t)
  const { ev, events, until } = recorder()
  const c = connector(t, config(up.url, { timeoutMs: 100 }), events)
  const t0 = Date.now()
  c.submit([dispatch('hang')], t0)
  await until(() => up.posted.length === 1)
  c.tick(t0 + 50)
  await new Promise((r) => setTimeout(r, 20))
  t.equal(ev.retry.length, 0, 'not before the deadline')
  t.equal(c.stats().inFlight, 1)
  c.tick(t0 + 100)
  t.equal(ev.retry.length, 1, 'retried at the tick that found it due')
  t.match(ev.retry[0].reason, /timeout/)
  t.equal(c.stats().inFlight, 0)
  t.equal(ev.outcomes.length, 0)
})

t.test('a refused connection is retried', async (t) => {
  const free = await new Promise<number>((resolve) => {
    const x = http.createServer().listen(0, '127.0.0.1', () => { const p = (x.address() as AddressInfo).port; x.close(() => resolve(p)) })
  })
  const { ev, events, until } = recorder()
  const c = connector(t, config(`http://127.0.0.1:${free}/`), events)
  ticking(t, c)
  c.submit([dispatch('x')], Date.now())
  await until(() => ev.retry.length === 1)
  t.match(ev.retry[0].reason, /ECONNREFUSED/)
})

t.test(`down after ${DOWN_AFTER_FAILURES} failures in a row; one probe per tick; up at the first answer`, async (t) => {
  let status = 503
  const up = await upstream(t, () => status)
  const { ev, events, until } = recorder()
  const c = connector(t, config(up.url), events)
  let now = Date.now()
  c.submit([dispatch('a'), dispatch('b'), dispatch('c')], now)
  await drained(c)
  t.equal(ev.downs.length, 1, 'reported down once')
  t.match(ev.downs[0], /HTTP 503/)
  t.notOk(c.up)
  t.match(c.stats(), { up: false })
  const waiting = [dispatch('d'), dispatch('e'), dispatch('f')]
  t.equal(c.submit(waiting, now).length, 3, 'nothing is taken before the next tick')

  c.tick((now += 20))
  t.equal(ev.retry.length, 3, 'the tick reports the failures')
  const rest = c.submit(waiting, now)
  t.equal(rest.length, 2, 'the tick allows one probe')
  t.equal(c.submit(rest, now).length, 2, 'and only one')
  await settle(c, (now += 20))
  t.equal(ev.retry.length, 4, 'the probe failed')
  t.equal(ev.downs.length, 1, 'a failed probe does not report down again')

  status = 200
  const rest2 = c.submit(rest, now)
  t.equal(rest2.length, 1, 'one probe again')
  await settle(c, (now += 20))
  t.equal(ev.outcomes.length, 1)
  t.ok(c.up, 'up after the probe is answered')
  t.equal(ev.ups, 2, 'reported up again')
  t.equal(c.submit(rest2, now).length, 0, 'and takes traffic freely')
  await settle(c, (now += 20))
  t.equal(ev.outcomes.length, 2)
})

t.test('408 and 429 do not count as failures of the link', async (t) => {
  const up = await upstream(t)
  const { ev, events, until } = recorder()
  const c = connector(t, config(up.url, { throttlePauseMs: [10, 10] }), events)
  c.submit([dispatch('s500'), dispatch('s500')], Date.now())
  await settle(c)
  c.submit([dispatch('s429'), dispatch('s408')], Date.now())
  await settle(c)
  await new Promise((r) => setTimeout(r, 20))
  c.tick(Date.now()) // the 429's pause is over
  c.submit([dispatch('s500'), dispatch('s500')], Date.now())
  await settle(c)
  t.equal(ev.retry.length, 6)
  t.ok(c.up, 'a 429 between the 5xx answers broke the run')
  t.equal(ev.downs.length, 0)
})

t.test('no more requests in flight than `concurrency`; the rest are handed back', async (t) => {
  const up = await upstream(t)
  const { ev, events, until } = recorder()
  const c = connector(t, config(up.url, { concurrency: 3 }), events)
  ticking(t, c)
  const items = Array.from({ length: 10 }, () => dispatch('s200'))
  let rest = c.submit(items, Date.now())
  t.equal(rest.length, 7, 'three taken')
  t.equal(c.stats().inFlight, 3)
  while (rest.length > 0) {
    await new Promise((r) => setTimeout(r, 5))
    rest = c.submit(rest, Date.now())
  }
  await until(() => ev.outcomes.length === 10)
  t.ok(up.most() <= 3, `the server saw at most 3 at once (${up.most()})`)
})

t.test('ratePerSecond caps the requests started per second', async (t) => {
  const up = await upstream(t)
  const { ev, events, until } = recorder()
  const c = connector(t, config(up.url, { ratePerSecond: 50, concurrency: 200, timeoutMs: 60_000 }), events)
  const t0 = Date.now()
  const items = Array.from({ length: 100 }, () => dispatch('s200'))
  let rest = c.submit(items, t0)
  t.equal(rest.length, 50, 'a full bucket: one second\'s worth')
  c.tick(t0 + 100)
  rest = c.submit(rest, t0 + 100)
  t.equal(rest.length, 45, '100 ms later: 5 more')
  c.tick(t0 + 10_000)
  rest = c.submit(rest, t0 + 10_000)
  t.equal(rest.length, 0, '10 s later: the other 45')
  c.tick(t0 + 10_000)
  t.equal(c.submit(items.slice(0, 60), t0 + 10_000).length, 55, 'then 5 of the next 60: the bucket held one second\'s worth, not 10')
  await settle(c, t0 + 10_000)
  t.equal(ev.outcomes.length, 105)
})

t.test('stop() waits for the requests in flight, then hands the rest to retry', async (t) => {
  const up = await upstream(t)
  const { ev, events, until } = recorder()
  const c = new HttpConnector(config(up.url, { timeoutMs: 300 }), events)
  c.start()
  c.submit([dispatch('s200'), dispatch('hang')], Date.now())
  await until(() => up.posted.length === 2)
  const t0 = Date.now()
  await c.stop()
  const took = Date.now() - t0
  t.ok(took >= 250 && took < 2000, `waited about timeoutMs for the hanging request (${took} ms)`)
  t.equal(ev.outcomes.length, 1, 'the answered one is reported')
  t.equal(ev.retry.length, 1, 'the hanging one goes back for a retry')
  t.match(ev.retry[0].reason, /stopped/)
  t.notOk(c.up, 'a stopped connector is not up')
  const later = [dispatch('s200')]
  t.same(c.submit(later, Date.now()), later, 'and takes nothing')
})

const callback = (url: string, over: Partial<HttpConnectorConfig> = {}) => config(url, { receipts: 'callback', callbackToken: 'a-callback-token-0123', ...over })

t.test('receipts "callback": a 2xx with the provider\'s id is accepted, not final; one without an id is UNKNOWN', async (t) => {
  const up = await upstream(t)
  const { ev, events } = recorder()
  const c = connector(t, callback(up.url), events)
  const items = ['s200id', 's200', 's404'].map((to) => dispatch(to))
  c.submit(items, Date.now())
  await settle(c)
  const [withId, without, refused] = items.map((d) => d.record.id)
  t.same(ev.accepted, [{ id: withId, dest: 0, upstreamId: `up-${withId}` }], 'the id maps the message for its receipt')
  t.notOk(ev.outcomes.some((o) => o.id === withId), 'no outcome for it: the provider has not said it was delivered')
  t.match(ev.outcomes.find((o) => o.id === without), { state: MessageState.UNKNOWN, err: 0 }, 'no id: no receipt can ever match, so UNKNOWN, not DELIVRD')
  t.match(ev.outcomes.find((o) => o.id === refused), { state: MessageState.REJECTED, err: 404 }, '4xx as before')
  t.match(c.stats(), { sent: 2, failed: 1 })
})

t.test('answerId reads the id at a dotted path', async (t) => {
  const up = await upstream(t)
  const { ev, events } = recorder()
  const c = connector(t, callback(up.url, { answerId: 'messages.0.id' }), events)
  const [nested, flat] = [dispatch('s200nested'), dispatch('s200id')]
  c.submit([nested, flat], Date.now())
  await settle(c)
  t.same(ev.accepted, [{ id: nested.record.id, dest: 0, upstreamId: `up-${nested.record.id}` }])
  t.match(ev.outcomes, [{ id: flat.record.id, state: MessageState.UNKNOWN }], 'an answer with the id elsewhere has none')
})

t.test('a callback that overtakes its 2xx waits for the answers started before it, then follows their ids', async (t) => {
  const up = await upstream(t)
  const { ev, events, until } = recorder()
  const c = connector(t, callback(up.url), events)
  const d = dispatch('held')
  c.submit([d], Date.now())
  await until(() => up.held.length === 1)
  const receipt: UpstreamReceipt = { upstreamId: `up-${d.record.id}`, state: MessageState.DELIVERED, err: 0 }
  let stored = 0
  c.callbackReceipts([receipt], () => stored++)
  c.tick(Date.now())
  t.same(ev.receipts, [], 'held while the request started before it is unanswered')
  const later = dispatch('held')
  c.submit([later], Date.now())
  await until(() => up.held.length === 2)
  up.held[0].res.setHeader('content-type', 'application/json')
  up.held[0].res.end(JSON.stringify({ id: `up-${d.record.id}` }))
  await until(() => c.stats().inFlight === 1)
  c.tick(Date.now())
  t.same(ev.receipts, [receipt], 'passed on once that answer is in, without waiting for a request started after it')
  t.same(ev.calls, ['accepted', 'receipts'], 'the id it names reached the engine first')
  t.equal(stored, 1, 'the engine\'s stored() is the callback\'s')
  c.callbackReceipts([{ ...receipt, upstreamId: 'other' }], () => stored++)
  t.equal(ev.receipts.length, 1, 'a second callback waits for the request still on the wire')
  up.held[1].res.end('{}')
  await until(() => c.stats().inFlight === 0)
  c.tick(Date.now())
  t.equal(ev.receipts.length, 2)
  t.equal(stored, 2)
})

t.test('with nothing on the wire a callback goes on at once; stop() hands on what waits', async (t) => {
  const up = await upstream(t)
  const { ev, events, until } = recorder()
  const c = connector(t, callback(up.url, { timeoutMs: 200 }), events)
  c.callbackReceipts([{ upstreamId: 'x', state: MessageState.EXPIRED, err: 0 }], () => {})
  t.equal(ev.receipts.length, 1, 'nothing to wait for')
  c.submit([dispatch('hang')], Date.now())
  await until(() => up.posted.length === 1)
  c.callbackReceipts([{ upstreamId: 'y', state: MessageState.DELIVERED, err: 0 }], () => {})
  await c.stop()
  t.same(ev.receipts.map((r) => r.upstreamId), ['x', 'y'], 'the hung request ended with the stop, so the receipt went on')
})

t.test('a 429 pauses the connector: nothing goes until the pause ends, doubling while refused, Retry-After within throttlePauseMs, one warning per episode', async (t) => {
  const up = await upstream(t)
  const { ev, events } = recorder()
  const lines: [string, string, Record<string, unknown>][] = []
  let clock = 1_000_000
  const c = new HttpConnector(config(up.url, { throttlePauseMs: [100, 400] }), events, (level, msg, fields) => { lines.push([level, msg, fields ?? {}]) }, () => clock)
  c.start()
  t.teardown(() => c.stop())
  const at = (ms: number) => new Date(ms).toISOString()

  c.submit([dispatch('s429'), dispatch('s429')], clock)
  await settle(c, clock)
  t.ok(c.paused, 'paused')
  t.ok(c.up, 'and still up: throttled is not down')
  t.equal(c.stats().paused, at(clock + 100), 'stats say until when')
  t.same(ev.retry.map((r) => r.counted), ['throttled', 'throttled'], 'handed back, counted as throttled')
  const waiting = [dispatch('s200')]
  t.equal(c.submit(waiting, clock).length, 1, 'nothing goes while paused')
  c.tick(clock + 99)
  t.ok(c.paused, 'not before its end')
  clock += 100
  c.tick(clock)
  t.notOk(c.paused, 'over')
  t.equal(c.stats().paused, null)

  c.submit([dispatch('s429')], clock)
  await settle(c, clock)
  t.equal(c.stats().paused, at(clock + 200), 'refused again after a pause: the next is twice as long')
  clock += 200
  c.tick(clock)
  c.submit(waiting, clock)
  await settle(c, clock)
  t.equal(ev.outcomes.length, 1, 'taken after the pause')
  c.submit([dispatch('s429')], clock)
  await settle(c, clock)
  t.equal(c.stats().paused, at(clock + 100), 'a 2xx set it back to the minimum')

  clock += 100
  c.tick(clock)
  c.submit([dispatch('r429-1')], clock)
  await settle(c, clock)
  t.equal(c.stats().paused, at(clock + 400), 'Retry-After: 1 (1000 ms) capped at throttlePauseMs[1]')
  clock += 400
  c.tick(clock)
  c.submit([dispatch('r429-0')], clock)
  await settle(c, clock)
  t.equal(c.stats().paused, at(clock + 100), 'Retry-After: 0 raised to throttlePauseMs[0]')

  t.same(lines.filter(([level]) => level === 'warn').map(([, msg, f]) => [msg, f.connector, f.status, f.pauseMs]),
    [['upstream throttling: submits paused', 'gw', 'HTTP 429', 100]], 'one warning for the episode')
  c.tick(clock + THROTTLING_QUIET_MS)
  t.match(lines.find(([, msg]) => msg === 'upstream throttling over')?.[2], { connector: 'gw', refusals: 6, pauses: 5 }, 'its end, once quiet for a minute')
  t.equal(ev.downs.length, 0, 'never down')
})

t.test('Retry-After: seconds or an HTTP date', async (t) => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  t.equal(retryAfterMs('3', now), 3000)
  t.equal(retryAfterMs(' 0 ', now), 0)
  t.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000)
  t.equal(retryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', now), 0, 'a date past is now')
  t.equal(retryAfterMs('soon', now), null)
  t.equal(retryAfterMs(undefined, now), null)
})

/** A provider for the probes: POST answers `post`, HEAD answers `head` ('hang': never); every request kept. */
async function prober(t: { teardown(fn: () => unknown): void }) {
  const seen: { method: string; url: string; at: number; auth: string | undefined }[] = []
  const state = { post: 503, head: 503 as number | 'hang' }
  const srv = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', at: Date.now(), auth: req.headers.authorization })
    req.resume()
    req.on('end', () => {
      if (req.method === 'HEAD') {
        if (state.head === 'hang') return
        res.statusCode = state.head
        return res.end()
      }
      res.statusCode = state.post
      res.end('{}')
    })
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => { srv.closeAllConnections(); srv.close(() => resolve()) }))
  const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`
  return { base, seen, state, heads: () => seen.filter((s) => s.method === 'HEAD'), posts: () => seen.filter((s) => s.method === 'POST').length }
}

t.test('down with no traffic: it probes the provider on its own (a HEAD, backing off) and comes up at any answer below 500', async (t) => {
  const p = await prober(t)
  const { ev, events, until } = recorder()
  const c = connector(t, config(`${p.base}/sms`, { timeoutMs: 300, probeMs: [50, 200], probeUrl: `${p.base}/health`, headers: { authorization: 'Bearer k' } }), events)
  ticking(t, c)
  c.submit([dispatch('a'), dispatch('b'), dispatch('c')], Date.now())
  await until(() => ev.downs.length === 1)
  await until(() => p.heads().length === 4, 3000)
  const h = p.heads()
  t.same(h.map((x) => [x.url, x.auth]), Array(4).fill(['/health', 'Bearer k']), 'a HEAD to probeUrl, with the configured headers')
  const gaps = h.slice(1).map((x, i) => x.at - h[i].at)
  t.ok(gaps[0] >= 90 && gaps[1] >= 190 && gaps[2] >= 190, `twice as late after each failed probe, up to probeMs[1] (${gaps.join(', ')} ms)`)
  t.notOk(c.up, 'a 5xx keeps it down')
  p.state.head = 'hang'
  await until(() => p.heads().length === 6, 8000)
  t.notOk(c.up, 'so does no answer within timeoutMs')
  t.equal(ev.ups, 1, 'not reported up meanwhile')
  p.state.head = 405
  await until(() => c.up, 8000)
  t.equal(ev.ups, 2, 'a 405 (no HEAD there) proves the provider answers: up again')
  t.equal(p.posts(), 3, 'without a message as its probe')
  t.equal(ev.downs.length, 1)
})
