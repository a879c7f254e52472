/**
 * An HTTP provider that goes away and comes back with no traffic, and one that answers 429, in an engine (in process,
 * real sockets) with a real node:http provider:
 * - down after three 5xx in a row, the connector probes the provider on its own (a HEAD) and, once it answers, is up
 *   again: /healthz, smsc_connector_up and failover recover without a message;
 * - a 429 pauses the connector (Retry-After within throttlePauseMs): its traffic goes to the failover connector, one
 *   warning, the 429s counted as throttled, and GET /api/v1/connectors and /metrics say until when it is paused.
 */
import t from 'tap'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import { createSmsc, type Options, type Smsc } from '../../engine/index'
import type { LogFn } from '../../engine/log'
import { httpCall, type TestLike } from '../helpers/engine'
import { api, operatorToken, startSink, until, submitBatch } from '../helpers/lifecycle'

interface Line { level: string; msg: string; fields: Record<string, unknown> }
const OPERATOR_PW = 'operator-secret-1'

/** An engine with `esme1`, the given connectors and routes; what it logs is kept in `lines`. Stopped in t's teardown. */
async function engine(t: TestLike, over: Partial<Options>): Promise<{ smsc: Smsc; lines: Line[] }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-http-probe-'))
  const lines: Line[] = []
  const log: LogFn = (level, msg, fields) => { lines.push({ level, msg, fields: fields ?? {} }) }
  const smsc = await createSmsc({
    dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'esme1', password: 'secret1' }], admin: { password: OPERATOR_PW },
    log: { level: 'debug' },
    ...over,
  } as Options, { log })
  t.teardown(async () => { await smsc.stop(); fs.rmSync(dataDir, { recursive: true, force: true }) })
  return { smsc, lines }
}

/** A provider: POST answers `post` (with `retryAfter` on a 429), HEAD answers `head`; every request kept. */
async function provider(t: TestLike) {
  const seen: { method: string; id?: string }[] = []
  const state = { post: 200, head: 405, retryAfter: null as string | null }
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (req.method === 'HEAD') { seen.push({ method: 'HEAD' }); res.statusCode = state.head; return res.end() }
      seen.push({ method: 'POST', id: String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string }).id) })
      res.statusCode = state.post
      if (state.post === 429 && state.retryAfter !== null) res.setHeader('retry-after', state.retryAfter)
      res.end('{}')
    })
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => { srv.closeAllConnections(); srv.close(() => resolve()) }))
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/sms`, state,
    heads: () => seen.filter((s) => s.method === 'HEAD').length,
    posts: () => seen.filter((s) => s.method === 'POST').map((s) => s.id as string),
  }
}


const row = (smsc: Smsc, id: string) => (smsc.connectorStats() as { id: string; up: boolean; paused: string | null }[]).find((c) => c.id === id)!
const metric = async (smsc: Smsc, series: string): Promise<number | undefined> => {
  const text = (await httpCall(smsc.ports.http, 'GET', '/metrics')).body
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('an http connector down with no traffic probes its provider and comes up on its own: /healthz, smsc_connector_up and failover recover without a message', async (t) => {
  const p = await provider(t)
  p.state.post = 503
  p.state.head = 503
  const { smsc } = await engine(t, {
    connectors: [{ id: 'h', kind: 'http', url: p.url, probeMs: [100, 400] }],
    routes: { mt: [{ name: 'all', match: {}, action: { failover: ['h', 'simulator'] } }], mo: [] },
  } as Partial<Options>)
  await submitBatch(smsc, 3)
  await until(() => !row(smsc, 'h').up, 'h down after three 503s')
  t.match(smsc.health(), { status: 'degraded', problems: ['connector h is down'] }, '/healthz: degraded, naming it')
  await until(() => p.heads() >= 2, 'h probes on its own', 5000)
  t.notOk(row(smsc, 'h').up, 'a 503 to its probe keeps it down')
  t.equal(await metric(smsc, 'smsc_connector_up{connector="h",kind="http"}'), 0)
  p.state.post = 200
  p.state.head = 405 // no HEAD at this URL: still an answer
  await until(() => row(smsc, 'h').up, 'h up again without traffic', 5000)
  t.equal(p.posts().length, 3, 'no message was its probe')
  t.match(smsc.health(), { status: 'ok' }, '/healthz recovered')
  t.equal(await metric(smsc, 'smsc_connector_up{connector="h",kind="http"}'), 1)
  const next = await submitBatch(smsc, 1)
  await until(() => p.posts().includes(next[0]), 'the next message goes to h, the route\'s first candidate')
})

t.test('an http provider answering 429 pauses its connector: traffic fails over, one warning, counted as throttled, paused until when in the API and /metrics', async (t) => {
  const p = await provider(t)
  p.state.post = 429
  p.state.retryAfter = '20'
  const b = await startSink(t)
  const { smsc, lines } = await engine(t, {
    connectors: [{ id: 'h', kind: 'http', url: p.url, concurrency: 4, throttlePauseMs: [1000, 10_000] }, { id: 'b', kind: 'http', url: b.url }],
    routes: { mt: [{ name: 'all', match: {}, action: { failover: ['h', 'b'] } }], mo: [] },
  } as Partial<Options>)
  const before = Date.now()
  const ids = await submitBatch(smsc, 20)
  await until(() => ids.every((id) => b.posted.some((x) => x.id === id)), 'every message at the failover connector', 10_000)
  t.equal(p.posts().length, 4, 'h got one window (concurrency), then nothing while paused')
  t.equal(b.posted.length, 20, 'each message once at the failover connector')
  const paused = row(smsc, 'h').paused
  t.ok(paused !== null && Date.parse(paused) >= before + 10_000 && Date.parse(paused) <= Date.now() + 10_000, `paused until Retry-After 20 s capped at 10 s (${paused})`)
  t.equal(row(smsc, 'h').up, true, 'throttled is not down')
  t.equal((smsc.health() as { status: string }).status, 'ok', 'nor a problem for /healthz')
  const token = await operatorToken(smsc.ports.http, OPERATOR_PW)
  const listed = (await api(smsc.ports.http, 'GET', '/api/v1/connectors', undefined, token)).json as { connectors: { id: string; paused: string | null }[] }
  t.same(listed.connectors.filter((c) => c.id !== 'simulator').map((c) => [c.id, c.paused]), [['h', paused], ['b', null]], 'GET /api/v1/connectors says until when')
  t.equal(await metric(smsc, 'smsc_connector_paused{connector="h",kind="http"}'), 1)
  t.equal(await metric(smsc, 'smsc_connector_paused{connector="b",kind="http"}'), 0)
  t.equal(await metric(smsc, 'smsc_connector_retries_total{connector="h",reason="throttled"}'), 4, '429s counted as throttled')
  t.equal(await metric(smsc, 'smsc_connector_retries_total{connector="h",reason="server_error"}'), 0, 'every reason of the kind from 0')
  t.equal(await metric(smsc, 'smsc_connector_failed_total{connector="h"}'), 4)
  t.same(lines.filter((l) => l.level === 'warn' && l.fields.connector !== undefined).map((l) => [l.msg, l.fields.connector, l.fields.status, l.fields.pauseMs]),
    [['upstream throttling: submits paused', 'h', 'HTTP 429', 10_000]], 'one warning for the episode, none per 429')
})
