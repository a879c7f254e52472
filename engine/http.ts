/**
 * The HTTP control port on uWebSockets.js: health, and the simulated carrier's MO origination.
 * JSON in, JSON out; every error answers with { error, code } and a 4xx/5xx status. Later issues
 * add the telemetry WebSocket, the console and the admin API here.
 */
import type { LogFn } from './log'
import type { MoRequest, Smsc } from './index'
import { isSmscError } from './errors'

// eslint-disable-next-line @typescript-eslint/no-var-requires
const uWS = require('uWebSockets.js') as any

export interface HttpServer {
  port: number
  close(): Promise<void>
}

const MAX_BODY = 64 * 1024

function send(res: any, status: string, body: unknown): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', 'application/json').end(JSON.stringify(body))
  })
}

/** Reads a JSON body (bounded), then calls `cb`; answers 400/413 itself on bad input. */
function readJson(res: any, cb: (body: unknown) => void): void {
  const chunks: Buffer[] = []
  let size = 0
  let aborted = false
  res.onAborted(() => { aborted = true })
  res.onData((ab: ArrayBuffer, last: boolean) => {
    if (aborted) return
    size += ab.byteLength
    if (size > MAX_BODY) { aborted = true; return send(res, '413 Payload Too Large', { error: `body larger than ${MAX_BODY} bytes`, code: 'SMSC_ERR_HTTP_BODY' }) }
    chunks.push(Buffer.from(ab.slice(0)))
    if (!last) return
    let body: unknown
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch (e) {
      return send(res, '400 Bad Request', { error: `body is not JSON: ${(e as Error).message}`, code: 'SMSC_ERR_HTTP_BODY' })
    }
    cb(body)
  })
}

function moRequest(body: unknown): MoRequest | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body must be a JSON object'
  const b = body as Record<string, unknown>
  for (const k of Object.keys(b)) if (!['from', 'to', 'text', 'coding', 'systemId'].includes(k)) return `${k} is not a known field`
  if (typeof b.from !== 'string' || b.from.length === 0 || b.from.length > 20) return 'from must be a string of 1 to 20 characters'
  if (typeof b.to !== 'string' || b.to.length === 0 || b.to.length > 20) return 'to must be a string of 1 to 20 characters'
  if (typeof b.text !== 'string') return 'text must be a string'
  if (b.coding !== undefined && !['gsm', 'ucs2', 'latin1'].includes(b.coding as string)) return 'coding must be "gsm", "ucs2" or "latin1"'
  if (b.systemId !== undefined && typeof b.systemId !== 'string') return 'systemId must be a string'
  return b as unknown as MoRequest
}

export function startHttp(o: { host: string; port: number }, smsc: Smsc, log: LogFn): Promise<HttpServer> {
  const app = uWS.App()
  app.get('/healthz', (res: any) => {
    const h = smsc.health()
    send(res, h.status === 'ok' ? '200 OK' : '503 Service Unavailable', h)
  })
  app.post('/api/v1/simulator/mo', (res: any) => {
    readJson(res, (body) => {
      const req = moRequest(body)
      if (typeof req === 'string') return send(res, '400 Bad Request', { error: req, code: 'SMSC_ERR_HTTP_BODY' })
      smsc.mo(req).then(
        (r) => send(res, '202 Accepted', r),
        (err) => {
          const code = isSmscError(err) ? err.code : 'SMSC_ERR_STORE_UNAVAILABLE'
          const status = code === 'SMSC_ERR_STORE_UNAVAILABLE' ? '503 Service Unavailable' : '400 Bad Request'
          log('warn', 'MO refused', { error: String((err as Error).message), code })
          send(res, status, { error: (err as Error).message, code })
        },
      )
    })
  })
  app.any('/*', (res: any) => send(res, '404 Not Found', { error: 'no such endpoint', code: 'SMSC_ERR_HTTP_NOT_FOUND' }))

  return new Promise((resolve, reject) => {
    app.listen(o.host, o.port, (token: unknown) => {
      if (!token) return reject(new Error(`cannot listen for HTTP on ${o.host}:${o.port}`))
      resolve({
        port: uWS.us_socket_local_port(token),
        close: async () => { uWS.us_listen_socket_close(token) },
      })
    })
  })
}
