/**
 * `smsc bench http`: autocannon against the engine's HTTP side (/healthz and /metrics), with the
 * engine started as a child process exactly as for the SMPP scenarios. Reports requests/s and
 * latency percentiles per endpoint; results go to bench/results/<date>-http.json.
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { startTarget } from './targets'

// eslint-disable-next-line @typescript-eslint/no-var-requires
const autocannon = require('autocannon') as (opts: Record<string, unknown>, cb: (err: Error | null, r: any) => void) => unknown

export interface HttpBenchOptions {
  root: string
  durationS: number
  connections: number
  resultsDir?: string
  machine: unknown
  git: unknown
}

function cannon(url: string, durationS: number, connections: number): Promise<any> {
  return new Promise((resolve, reject) => autocannon({ url, duration: durationS, connections, pipelining: 1 }, (err, r) => (err ? reject(err) : resolve(r))))
}

export async function runHttpBench(o: HttpBenchOptions): Promise<number> {
  const target = await startTarget('engine', { root: o.root, binds: 1, window: 1, carrierDelayMs: [0, 0], nodeArgs: [], logLevel: 'warn' })
  const results: Record<string, unknown>[] = []
  try {
    for (const endpoint of ['/healthz', '/metrics']) {
      process.stdout.write(`autocannon ${endpoint}: ${o.connections} connections, ${o.durationS} s ...\n`)
      const r = await cannon(`http://127.0.0.1:${target.httpPort}${endpoint}`, o.durationS, o.connections)
      const row = {
        endpoint, connections: o.connections, durationS: o.durationS,
        requestsPerSec: r.requests.average, latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
        non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts,
      }
      results.push(row)
      process.stdout.write(`  ${Math.round(row.requestsPerSec).toLocaleString('en-US')} req/s  latency ms p50 ${row.latencyMs.p50} p90 ${row.latencyMs.p90} p99 ${row.latencyMs.p99} max ${row.latencyMs.max}  non-2xx ${row.non2xx}  errors ${row.errors}\n`)
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
