/**
 * Telemetry subscribers for the load runs (`smsc bench <scenario> --subscribers N`): log in to the
 * engine's admin API, open N /ws/telemetry clients (msgpack, all topics) and count what they
 * receive, so a run measures what the live console costs the engine at full load.
 */
import http from 'node:http'
// eslint-disable-next-line @typescript-eslint/no-var-requires
const WebSocket = require('ws') as new (url: string) => { on(ev: string, fn: (...a: any[]) => void): void; close(): void }

export const BENCH_ADMIN_PASSWORD = 'bench-admin-password'

function login(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ password: BENCH_ADMIN_PASSWORD })
    const req = http.request({ host: '127.0.0.1', port, path: '/api/v1/login', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let data = ''
      res.on('data', (c) => { data += c })
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(data).token) : reject(new Error(`login answered ${res.statusCode}: ${data}`))))
    })
    req.on('error', reject)
    req.end(body)
  })
}

export interface Subscribers {
  /** Frames and bytes received so far, over all clients. */
  stats(): { clients: number; frames: number; bytes: number }
  close(): void
}

export async function openSubscribers(httpPort: number, n: number): Promise<Subscribers> {
  const token = await login(httpPort)
  const sockets: { close(): void }[] = []
  let frames = 0
  let bytes = 0
  await Promise.all(Array.from({ length: n }, () => new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/ws/telemetry?format=msgpack&token=${encodeURIComponent(token)}`)
    ws.on('open', () => resolve())
    ws.on('error', reject)
    ws.on('message', (data: Buffer) => { frames++; bytes += data.length })
    sockets.push(ws)
  })))
  return {
    stats: () => ({ clients: n, frames, bytes }),
    close: () => { for (const s of sockets) s.close() },
  }
}

/** Sum and count of smsc_telemetry_tick_seconds from the engine's /metrics. */
export function telemetryTickCost(httpPort: number): Promise<{ ticks: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: httpPort, path: '/metrics' }, (res) => {
      let text = ''
      res.on('data', (c) => { text += c })
      res.on('end', () => {
        const num = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)
        resolve({ ticks: num('smsc_telemetry_tick_seconds_count'), seconds: num('smsc_telemetry_tick_seconds_sum') })
      })
    }).on('error', reject)
  })
}
