/**
 * `smsc bench http`: autocannon against the engine's HTTP side, with the engine started as a child
 * process exactly as for the SMPP scenarios. Scenarios: GET /healthz, GET /metrics, and the send
 * API: POST /api/v1/messages with a per-account API key (X-API-Key), one message per request
 * (`send`) and 100 per request (`send-batch`). Reports requests/s (and messages/s for the send
 * API) and latency percentiles; results go to bench/results/<date>-http.json.
 */
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { startTarget } from './targets'
import { BENCH_ADMIN_PASSWORD } from './telemetry-subscribers'

// eslint-disable-next-line @typescript-eslint/no-var-requires
const autocannon = require('autocannon') as (opts: Record<string, unknown>, cb: (err: Error | null, r: any) => void) => unknown

export const HTTP_SCENARIOS = ['healthz', 'metrics', 'send', 'send-batch'] as const
export type HttpScenario = (typeof HTTP_SCENARIOS)[number]

export interface HttpBenchOptions {
  root: string
  durationS: number
  connections: number
  resultsDir?: string
  machine: unknown
  git: unknown
  /** default: all of HTTP_SCENARIOS */
  scenarios?: readonly HttpScenario[]
}

/** Messages per request of the send-batch scenario. */
const BATCH = 100

interface Request { method: 'GET' | 'POST'; path: string; headers?: Record<string, string>; body?: string; messagesPerRequest?: number }

function cannon(port: number, r: Request, durationS: number, connections: number): Promise<any> {
  return new Promise((resolve, reject) => autocannon({
    url: `http://127.0.0.1:${port}${r.path}`, method: r.method, headers: r.headers, body: r.body, duration: durationS, connections, pipelining: 1,
  }, (err, res) => (err ? reject(err) : resolve(res))))
}

function post(port: number, urlPath: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body))
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: urlPath, agent: false, headers: { ...headers, 'content-type': 'application/json', 'content-length': payload.length } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        try { resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }) } catch (e) { reject(e) }
      })
    })
    req.on('error', reject)
    req.end(payload)
  })
}

/** An API key of the bench account: the operator logs in and creates one through the admin API. */
async function apiKey(port: number, systemId: string): Promise<string> {
  const login = await post(port, '/api/v1/login', { password: BENCH_ADMIN_PASSWORD })
  if (login.status !== 200) throw new Error(`bench http: operator login failed (${login.status} ${JSON.stringify(login.json)})`)
  const key = await post(port, `/api/v1/accounts/${encodeURIComponent(systemId)}/apikeys`, { label: 'bench' }, { authorization: `Bearer ${login.json.token}` })
  if (key.status !== 201) throw new Error(`bench http: creating an API key failed (${key.status} ${JSON.stringify(key.json)})`)
  return key.json.key as string
}

export async function runHttpBench(o: HttpBenchOptions): Promise<number> {
  const target = await startTarget('engine', { root: o.root, binds: 1, window: 1, carrierDelayMs: [0, 0], nodeArgs: [], logLevel: 'warn' })
  const results: Record<string, unknown>[] = []
  const scenarios = o.scenarios ?? HTTP_SCENARIOS
  try {
    const port = target.httpPort as number
    const needsKey = scenarios.some((s) => s.startsWith('send'))
    const key = needsKey ? await apiKey(port, target.systemId) : ''
    const message = { from: 'Bench', to: '4915112345678', text: 'autocannon says hello', registeredDelivery: false }
    const sendHeaders = { 'x-api-key': key, 'content-type': 'application/json' }
    const requests: Record<HttpScenario, Request> = {
      healthz: { method: 'GET', path: '/healthz' },
      metrics: { method: 'GET', path: '/metrics' },
      send: { method: 'POST', path: '/api/v1/messages', headers: sendHeaders, body: JSON.stringify(message), messagesPerRequest: 1 },
      'send-batch': { method: 'POST', path: '/api/v1/messages', headers: sendHeaders, body: JSON.stringify({ messages: Array(BATCH).fill(message) }), messagesPerRequest: BATCH },
    }
    for (const scenario of scenarios) {
      const req = requests[scenario]
      process.stdout.write(`autocannon ${scenario} (${req.method} ${req.path}): ${o.connections} connections, ${o.durationS} s ...\n`)
      const r = await cannon(port, req, o.durationS, o.connections)
      const row: Record<string, unknown> & { requestsPerSec: number; latencyMs: Record<string, number>; non2xx: number; errors: number } = {
        scenario, endpoint: `${req.method} ${req.path}`, connections: o.connections, durationS: o.durationS,
        requestsPerSec: r.requests.average, latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
        non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts,
      }
      if (req.messagesPerRequest) row.messagesPerSec = r.requests.average * req.messagesPerRequest
      results.push(row)
      const msgs = req.messagesPerRequest ? `  (${Math.round(row.messagesPerSec as number).toLocaleString('en-US')} messages/s)` : ''
      process.stdout.write(`  ${Math.round(row.requestsPerSec).toLocaleString('en-US')} req/s${msgs}  latency ms p50 ${row.latencyMs.p50} p90 ${row.latencyMs.p90} p99 ${row.latencyMs.p99} max ${row.latencyMs.max}  non-2xx ${row.non2xx}  errors ${row.errors}\n`)
    }
  } finally {
    await target.stop()
  }
  if (o.resultsDir) {
    const date = new Date().toISOString()
    const file = path.join(o.resultsDir, `${date.slice(0, 10)}-http.json`)
    writeFileSync(file, JSON.stringify({ date, command: `smsc bench http --duration ${o.durationS} --connections ${o.connections}`, machine: o.machine, git: o.git, results }, null, 2))
    process.stdout.write(`results: ${file}\n`)
  }
  return results.every((r) => r.errors === 0 && r.non2xx === 0) ? 0 : 1
}
