/**
 * The HTTP port on uWebSockets.js: health, Prometheus metrics, the simulated carrier's MO
 * origination, the admin API (login, unbind, send, message lookup), the telemetry WebSocket and
 * the web console's static files. JSON in, JSON out; every error answers { error, code } with a
 * 4xx/5xx status. The contract is docs/TELEMETRY.md.
 */
import fs from 'node:fs'
import path from 'node:path'
import { pack } from 'msgpackr'
import type { LogFn } from './log'
import type { MoRequest, Smsc, TextSubmit } from './index'
import { isSmscError, smscError } from './errors'
import { AdminAuth, SESSION_COOKIE } from './auth'
import { TOPICS, filterFrame, prometheusText, type Topic } from './telemetry'

// eslint-disable-next-line @typescript-eslint/no-var-requires
const uWS = require('uWebSockets.js') as any

export interface HttpServer {
  port: number
  /** Sends this tick's frames to every WebSocket subscriber (called by the telemetry actor). */
  publish(frames: { snapshot: Record<string, unknown>; delta: Record<string, unknown> }): void
  close(): Promise<void>
}

const MAX_BODY = 64 * 1024
const CONSOLE_DIR = path.join(__dirname, '..', '..', 'console', 'dist')
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.webmanifest': 'application/manifest+json', '.png': 'image/png', '.svg': 'image/svg+xml',
  '.map': 'application/json', '.ico': 'image/x-icon',
}

function send(res: any, status: string, body: unknown, headers: Record<string, string> = {}): void {
  // The client may have gone while we worked: uWS forbids touching an aborted response.
  if (res.aborted) return
  res.cork(() => {
    res.writeStatus(status)
    for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v)
    if (body === null) res.end()
    else res.writeHeader('content-type', 'application/json').end(JSON.stringify(body))
  })
}

const fail = (res: any, status: string, error: string, code: string) => send(res, status, { error, code })

/** Reads a JSON body (bounded), then calls `cb`; answers 400/413 itself on bad input. */
function readJson(res: any, cb: (body: unknown) => void): void {
  const chunks: Buffer[] = []
  let size = 0
  let aborted = false
  res.onAborted(() => { aborted = true; res.aborted = true })
  res.onData((ab: ArrayBuffer, last: boolean) => {
    if (aborted) return
    size += ab.byteLength
    if (size > MAX_BODY) { aborted = true; return fail(res, '413 Payload Too Large', `body larger than ${MAX_BODY} bytes`, 'SMSC_ERR_HTTP_BODY') }
    chunks.push(Buffer.from(ab.slice(0)))
    if (!last) return
    let body: unknown
    try {
      body = chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch (e) {
      return fail(res, '400 Bad Request', `body is not JSON: ${(e as Error).message}`, 'SMSC_ERR_HTTP_BODY')
    }
    cb(body)
  })
}

type Fields = Record<string, 'string' | 'string?' | 'boolean?' | 'number?'>

/** Checks a JSON object against a tiny schema; returns the message of the first problem. */
function check(body: unknown, fields: Fields): string | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body must be a JSON object'
  const b = body as Record<string, unknown>
  for (const k of Object.keys(b)) if (!(k in fields)) return `${k} is not a known field`
  for (const [k, t] of Object.entries(fields)) {
    const v = b[k]
    const optional = t.endsWith('?')
    if (v === undefined) { if (!optional) return `${k} is required`; continue }
    if (typeof v !== t.replace('?', '')) return `${k} must be a ${t.replace('?', '')}`
  }
  return null
}

function moRequest(body: unknown): MoRequest | string {
  const bad = check(body, { from: 'string', to: 'string', text: 'string', coding: 'string?', systemId: 'string?' })
  if (bad) return bad
  const b = body as Record<string, string>
  if (b.from.length === 0 || b.from.length > 20) return 'from must be a string of 1 to 20 characters'
  if (b.to.length === 0 || b.to.length > 20) return 'to must be a string of 1 to 20 characters'
  if (b.coding !== undefined && !['gsm', 'ucs2', 'latin1'].includes(b.coding)) return 'coding must be "gsm", "ucs2" or "latin1"'
  return b as unknown as MoRequest
}

function loadConsole(): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>()
  if (!fs.existsSync(CONSOLE_DIR)) return files
  const walk = (dir: string, prefix: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name)
      if (e.isDirectory()) walk(full, `${prefix}${e.name}/`)
      else files.set(`/${prefix}${e.name}`, { body: fs.readFileSync(full), type: TYPES[path.extname(e.name)] ?? 'application/octet-stream' })
    }
  }
  walk(CONSOLE_DIR, '')
  return files
}

interface WsData {
  format: 'msgpack' | 'json'
  topics: Set<Topic>
  eventsOf?: string
  group: string
  stale: boolean
}

export function startHttp(o: { host: string; port: number }, smsc: Smsc, auth: AdminAuth, log: LogFn, maxBufferedBytes: number): Promise<HttpServer> {
  const app = uWS.App()
  const consoleFiles = loadConsole()
  const clients = new Set<any>()

  const principal = (req: any) => auth.check(AdminAuth.tokenOf(req.getHeader('authorization'), req.getHeader('cookie'), req.getQuery() ?? ''))
  const guarded = (handler: (res: any, req: any) => void) => (res: any, req: any) => {
    if (!principal(req)) return fail(res, '401 Unauthorized', 'log in first (POST /api/v1/login)', 'SMSC_ERR_HTTP_AUTH')
    handler(res, req)
  }
  const errorOf = (res: any, err: unknown) => {
    const code = isSmscError(err) ? err.code : 'SMSC_ERR_STORE_UNAVAILABLE'
    const status = code === 'SMSC_ERR_STORE_UNAVAILABLE' ? '503 Service Unavailable' : '400 Bad Request'
    send(res, status, { error: (err as Error).message, code })
  }

  app.get('/healthz', (res: any) => {
    const h = smsc.health()
    send(res, h.status === 'ok' ? '200 OK' : '503 Service Unavailable', h)
  })
  app.get('/metrics', (res: any) => {
    const text = prometheusText(smsc.metrics, smsc.telemetrySources)
    res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8').end(text))
  })

  // ---- MO from the simulated carrier (issue: SMSC core; open like /healthz, loopback by default)
  app.post('/api/v1/simulator/mo', (res: any) => {
    readJson(res, (body) => {
      const req = moRequest(body)
      if (typeof req === 'string') return fail(res, '400 Bad Request', req, 'SMSC_ERR_HTTP_BODY')
      smsc.mo(req).then((r) => send(res, '202 Accepted', r), (err) => {
        log('warn', 'MO refused', { error: String((err as Error).message) })
        errorOf(res, err)
      })
    })
  })

  // ---- admin login
  app.post('/api/v1/login', (res: any) => {
    readJson(res, (body) => {
      const bad = check(body, { password: 'string' })
      if (bad) return fail(res, '400 Bad Request', bad, 'SMSC_ERR_HTTP_BODY')
      auth.login((body as { password: string }).password).then((token) => {
        if (!token) {
          smsc.metrics.event('auth_failure', { detail: 'console login' })
          return fail(res, '401 Unauthorized', 'wrong password', 'SMSC_ERR_HTTP_AUTH')
        }
        send(res, '200 OK', { token }, { 'set-cookie': `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/` })
      }, (err) => errorOf(res, err))
    })
  })
  app.post('/api/v1/logout', (res: any, req: any) => {
    const token = AdminAuth.tokenOf(req.getHeader('authorization'), req.getHeader('cookie'), '')
    if (token) auth.logout(token)
    send(res, '204 No Content', null, { 'set-cookie': `${SESSION_COOKIE}=; Max-Age=0; Path=/` })
  })
  app.get('/api/v1/me', (res: any, req: any) => {
    const p = principal(req)
    if (!p) return fail(res, '401 Unauthorized', 'not logged in', 'SMSC_ERR_HTTP_AUTH')
    send(res, '200 OK', p)
  })

  // ---- admin API
  app.post('/api/v1/binds/:id/unbind', guarded((res: any, req: any) => {
    const id = Number(req.getParameter(0))
    if (!smsc.unbindSession(id)) return fail(res, '404 Not Found', `no session ${req.getParameter(0)}`, 'SMSC_ERR_HTTP_NOT_FOUND')
    send(res, '202 Accepted', { id })
  }))
  app.post('/api/v1/messages', guarded((res: any) => {
    readJson(res, (body) => {
      const bad = check(body, { systemId: 'string?', from: 'string', to: 'string', text: 'string', registeredDelivery: 'boolean?' })
      if (bad) return fail(res, '400 Bad Request', bad, 'SMSC_ERR_HTTP_BODY')
      smsc.submitText(body as TextSubmit).then((r) => send(res, '202 Accepted', r), (err) => errorOf(res, err))
    })
  }))
  app.get('/api/v1/messages/:id', guarded((res: any, req: any) => {
    const m = smsc.lookup(decodeURIComponent(req.getParameter(0)))
    if (!m) return fail(res, '404 Not Found', 'no such message', 'SMSC_ERR_MESSAGE_NOT_FOUND')
    send(res, '200 OK', m)
  }))

  // ---- telemetry stream
  app.ws('/ws/telemetry', {
    compression: uWS.DISABLED,
    maxPayloadLength: 16 * 1024,
    idleTimeout: 120,
    // uWS drops what is published to a client above this (closeOnBackpressureLimit false): a slow
    // client loses deltas, never slows the engine, and gets a fresh snapshot once it drains.
    maxBackpressure: maxBufferedBytes,
    closeOnBackpressureLimit: false,
    upgrade: (res: any, req: any, context: any) => {
      const query = req.getQuery() ?? ''
      if (!principal(req)) return fail(res, '401 Unauthorized', 'log in first (POST /api/v1/login)', 'SMSC_ERR_HTTP_AUTH')
      const params = new URLSearchParams(query)
      const fmt = params.get('format') ?? 'msgpack'
      if (fmt !== 'json' && fmt !== 'msgpack') return fail(res, '400 Bad Request', `format must be msgpack or json (got ${JSON.stringify(fmt)})`, 'SMSC_ERR_HTTP_BODY')
      const format = fmt
      const topics = new Set<Topic>()
      let eventsOf: string | undefined
      for (const t of (params.get('topics') ?? TOPICS.join(',')).split(',')) {
        if (t.startsWith('events:') && t.length > 7) { topics.add('events'); eventsOf = t.slice(7) } else if ((TOPICS as readonly string[]).includes(t)) topics.add(t as Topic)
        else return fail(res, '400 Bad Request', `unknown topic ${JSON.stringify(t)}; topics are ${TOPICS.join(', ')}, events:<systemId>`, 'SMSC_ERR_HTTP_BODY')
      }
      const group = `${format}|${[...topics].sort().join(',')}|${eventsOf ?? ''}`
      res.upgrade({ format, topics, eventsOf, group, stale: true } satisfies WsData,
        req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context)
    },
    open: (ws: any) => {
      clients.add(ws)
      const d = ws.getUserData() as WsData
      groups.set(d.group, { d, n: (groups.get(d.group)?.n ?? 0) + 1 })
      sendSnapshot(ws, d)
    },
    message: () => { /* the stream is one way */ },
    close: (ws: any) => {
      clients.delete(ws)
      const d = ws.getUserData() as WsData
      const g = groups.get(d.group)
      if (g && --g.n === 0) groups.delete(d.group)
    },
  })

  // ---- the console (static files built by console/build.js)
  app.get('/*', (res: any, req: any) => {
    let url = req.getUrl()
    if (url === '/' || !consoleFiles.has(url)) url = url.startsWith('/api/') ? url : '/index.html'
    const f = consoleFiles.get(url)
    if (!f) return fail(res, url.startsWith('/api/') ? '404 Not Found' : '503 Service Unavailable', url.startsWith('/api/') ? 'no such endpoint' : 'the console is not built: run npm run build', 'SMSC_ERR_HTTP_NOT_FOUND')
    res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', f.type)
      .writeHeader('cache-control', url === '/index.html' || url === '/sw.js' ? 'no-cache' : 'max-age=3600').end(f.body))
  })
  app.any('/*', (res: any) => fail(res, '404 Not Found', 'no such endpoint', 'SMSC_ERR_HTTP_NOT_FOUND'))

  /** Each (format, topics) group is a uWebSockets.js topic; its subscribers share one encode. */
  const groups = new Map<string, { d: WsData; n: number }>()
  const encode = (d: WsData, frame: Record<string, unknown>) => {
    const f = filterFrame(frame, d.topics, d.eventsOf)
    return d.format === 'json' ? JSON.stringify(f) : pack(f)
  }
  /** A client gets deltas (is subscribed to its group's topic) only after a snapshot. */
  function sendSnapshot(ws: any, d: WsData): void {
    const cur = smsc.telemetryFrames()
    if (!cur) { d.stale = true; return } // before the first tick: the first publish sends one
    ws.send(encode(d, cur.snapshot), d.format !== 'json')
    d.stale = false
    ws.subscribe(d.group)
  }

  /** One encode and one uWS publish per group per tick; stale clients get a snapshot instead. */
  function publish(frames: { snapshot: Record<string, unknown>; delta: Record<string, unknown> }): void {
    if (clients.size === 0) return
    // A client over the limit loses this delta (uWS drops it): it needs a snapshot when it drains.
    // A lagging client leaves its topic (no more deltas) until it has drained and had a snapshot.
    const catchUp: any[] = []
    for (const ws of clients) {
      const d = ws.getUserData() as WsData
      if (ws.getBufferedAmount() > maxBufferedBytes) {
        if (!d.stale) { d.stale = true; ws.unsubscribe(d.group) }
      } else if (d.stale) catchUp.push(ws)
    }
    for (const [group, { d }] of groups) app.publish(group, encode(d, frames.delta), d.format !== 'json')
    // After the delta: the snapshot of this same tick, then the deltas of the next ticks.
    for (const ws of catchUp) sendSnapshot(ws, ws.getUserData() as WsData)
  }

  return new Promise((resolve, reject) => {
    // LIBUS_LISTEN_EXCLUSIVE_PORT (1): a port in use fails the start instead of being shared (SO_REUSEPORT).
    app.listen(o.host, o.port, 1, (token: unknown) => {
      if (!token) return reject(smscError('SMSC_ERR_LISTEN_FAILED', `cannot listen for HTTP on ${o.host}:${o.port} (in use, or not an address of this machine)`))
      resolve({
        port: uWS.us_socket_local_port(token),
        publish,
        close: async () => {
          uWS.us_listen_socket_close(token)
          for (const ws of clients) ws.end(1001, 'server stopping')
          clients.clear()
        },
      })
    })
  })
}
