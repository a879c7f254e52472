/**
 * Upstream SMSCs that keep their bind but stop taking our traffic, and one that comes back, in an engine (in process,
 * real sockets) with a node-smpp upstream (test/helpers/upstream.ts) and an HTTP provider as the failover connector
 * (test/helpers/lifecycle.ts startSink):
 * - an upstream that answers enquire_link but no submit_sm: after three time-outs in a row its connector drops the
 *   link and binds again, its window and its queue go to the failover connector, the time-outs are counted
 *   (smsc_connector_failed_total, smsc_connector_retries_total{reason="timeout"}) and a warning says why;
 * - an upstream that answers ESME_RTHROTTLED: its connector pauses, its traffic goes to the failover connector, one
 *   warning, refusals counted by reason; with no failover, messages wait for the pause to end (not for a back-off of
 *   dispatch.retryMs) and go once the upstream takes them again;
 * - messages backing off for a connector that was down go the moment it binds again, not at the end of their back-off.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createSmsc, type Options, type Smsc } from '../../engine/index'
import type { LogFn } from '../../engine/log'
import { httpCall, type TestLike } from '../helpers/engine'
import { startSink, sleep, until, type Sink, submitBatch } from '../helpers/lifecycle'
import { startUpstream } from '../helpers/upstream'

interface Line { level: string; msg: string; fields: Record<string, unknown> }

/** An engine with `esme1`, the given connectors and routes; what it logs is kept in `lines`. Stopped in t's teardown. */
async function engine(t: TestLike, over: Partial<Options>): Promise<{ smsc: Smsc; lines: Line[] }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-stall-'))
  const lines: Line[] = []
  const log: LogFn = (level, msg, fields) => { lines.push({ level, msg, fields: fields ?? {} }) }
  const smsc = await createSmsc({
    dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'esme1', password: 'secret1' }],
    log: { level: 'debug' },
    ...over,
  } as Options, { log })
  t.teardown(async () => { await smsc.stop(); fs.rmSync(dataDir, { recursive: true, force: true }) })
  return { smsc, lines }
}

const smpp = (id: string, port: number, over: Record<string, unknown> = {}) =>
  ({ id, kind: 'smpp', host: '127.0.0.1', port, systemId: 'esme1', password: 'secret1', reconnectMs: [200, 2000], ...over })
const http = (id: string, sink: Sink) => ({ id, kind: 'http', url: sink.url })


const row = (smsc: Smsc, id: string) => smsc.connectorStats().find((c) => c.id === id)!
const metric = async (smsc: Smsc, series: string): Promise<number | undefined> => {
  const text = (await httpCall(smsc.ports.http, 'GET', '/metrics')).body
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}
const postedIds = (sink: Sink) => new Set(sink.posted.map((p) => p.id))

t.test('an upstream bound but answering no submit_sm: after three time-outs in a row its window and queue fail over, the link is dropped and bound again, counted and warned about', async (t) => {
  const a = await startUpstream(t, { onSubmit: () => 'hold' }) // answers bind and enquire_link, never a submit_sm
  const h = await startSink(t)
  const { smsc, lines } = await engine(t, {
    connectors: [smpp('a', a.port, { windowSize: 5, responseMs: 500 }), http('h', h)],
    routes: { mt: [{ name: 'all', match: {}, action: { failover: ['a', 'h'] } }], mo: [] },
  } as Partial<Options>)
  await until(() => row(smsc, 'a').up, 'a bound')
  const ids = await submitBatch(smsc, 20)
  await until(() => ids.every((id) => postedIds(h).has(id)), 'every message at the failover connector', 10_000)
  t.equal(a.received('submit_sm').length, 5, 'the stalled upstream got one window, not every message in turn')
  await until(() => a.received('unbind').length === 1, 'the connector unbinds from the stalled link')
  t.match(lines.find((l) => l.level === 'warn' && l.msg === 'connector down')?.fields,
    { connector: 'a', reason: /^stalled: 5 submit_sm in a row unanswered after responseMs 500: unbinding to bind again$/ }, 'a warning names the connector and why')
  t.equal(await metric(smsc, 'smsc_connector_failed_total{connector="a"}'), 5, 'the time-outs count as failed')
  t.equal(await metric(smsc, 'smsc_connector_retries_total{connector="a",reason="timeout"}'), 5, '… and as time-outs')
  t.equal(await metric(smsc, 'smsc_connector_retries_total{connector="a",reason="throttled"}'), 0, 'every reason from 0')
  await until(() => a.received('bind_transceiver').length === 2 && row(smsc, 'a').up, 'bound again')
  const health = smsc.health() as { backlog: number; overloaded: boolean }
  t.match(health, { backlog: 0, overloaded: false }, 'nothing waits: its queue went to the failover connector')
  t.equal(row(smsc, 'a').queued, 0)
  t.equal(row(smsc, 'a').inFlight, 0)
})

t.test('an upstream that answers ESME_RTHROTTLED: its connector pauses and the failover connector takes its traffic, one warning, refusals counted', async (t) => {
  const a = await startUpstream(t, { onSubmit: () => 0x58 }) // ESME_RTHROTTLED
  const h = await startSink(t)
  const { smsc, lines } = await engine(t, {
    connectors: [smpp('a', a.port, { windowSize: 5, throttlePauseMs: [5000, 10_000] }), http('h', h)],
    routes: { mt: [{ name: 'all', match: {}, action: { failover: ['a', 'h'] } }], mo: [] },
  } as Partial<Options>)
  await until(() => row(smsc, 'a').up, 'a bound')
  const first = await submitBatch(smsc, 40)
  await until(() => first.every((id) => postedIds(h).has(id)), 'the first 40 at the failover connector', 10_000)
  const more = await submitBatch(smsc, 20)
  await until(() => more.every((id) => postedIds(h).has(id)), 'the next 20 too', 10_000)
  t.equal(a.received('submit_sm').length, 5, 'one window refused, then nothing while paused (not a refusal per message)')
  t.equal(h.posted.length, 60, 'each message once at the failover connector')
  t.equal(await metric(smsc, 'smsc_connector_retries_total{connector="a",reason="throttled"}'), 5, 'refusals counted by reason')
  t.equal(await metric(smsc, 'smsc_connector_failed_total{connector="a"}'), 5)
  t.same(lines.filter((l) => l.level === 'warn' && l.fields.connector !== undefined).map((l) => [l.msg, l.fields.connector, l.fields.status]),
    [['upstream throttling: submits paused', 'a', 'ESME_RTHROTTLED']], 'one warning for the episode, none per refusal')
  t.equal(row(smsc, 'a').up, true, 'throttled is not down')
  t.equal((smsc.health() as { status: string }).status, 'ok', 'nor a problem for /healthz')
})

t.test('a throttling upstream with no failover: messages wait for its pause to end, not for a back-off, and go once it takes them', async (t) => {
  let busy = true
  const taken = new Set<string>()
  const a = await startUpstream(t, { onSubmit: (pdu) => { if (busy) return 0x58; taken.add(String(pdu.destination_addr)); return 0 } })
  const { smsc } = await engine(t, {
    connectors: [smpp('a', a.port, { windowSize: 5, throttlePauseMs: [300, 1000] })],
    routes: { mt: [{ name: 'all', match: {}, action: { connector: 'a' } }], mo: [] },
    dispatch: { retryMs: [30_000, 300_000] }, // a back-off would hold them past this test
  } as Partial<Options>)
  await until(() => row(smsc, 'a').up, 'a bound')
  await submitBatch(smsc, 30)
  await sleep(1200) // pauses of 300, 600 ms: a window refused after each
  const refused = a.received('submit_sm').length
  t.ok(refused >= 5 && refused <= 20, `a window per pause, not a refusal per message (${refused} refused)`)
  busy = false
  await until(() => taken.size === 30, 'all 30 taken once the upstream takes them again', 5000)
})

t.test('messages backing off for a connector that was down go as soon as it binds again, not at the end of their back-off', async (t) => {
  const gone = await startUpstream(t)
  const port = gone.port
  await gone.close()
  const { smsc } = await engine(t, {
    connectors: [smpp('a', port, { reconnectMs: [100, 200] })],
    routes: { mt: [{ name: 'all', match: {}, action: { connector: 'a' } }], mo: [] },
    dispatch: { retryMs: [30_000, 300_000] },
  } as Partial<Options>)
  await submitBatch(smsc, 10)
  await sleep(300)
  t.equal((smsc.health() as { backlog: number }).backlog, 10, 'they back off: no connector up')
  const a = await startUpstream(t, { port })
  await until(() => row(smsc, 'a').up, 'a bound again', 3000)
  const boundAt = Date.now()
  await until(() => a.received('submit_sm').length === 10, 'the ten at the upstream', 3000)
  t.ok(Date.now() - boundAt < 1000, `within ${Date.now() - boundAt} ms of the bind (their back-off was 30 s)`)
})
