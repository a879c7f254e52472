/**
 * The HTTP port on uWebSockets.js: health, Prometheus metrics, the simulated carrier's MO
 * origination, logins (operator, staff users and accounts), the admin API (accounts, credit, API keys, opt-out lists, audit,
 * routes, connectors, the admin password, staff users), the send API (POST /api/v1/messages, by login or
 * per-account API key), HTTP providers' receipt callbacks (by their connector's callbackToken), the OpenAPI
 * document, the telemetry WebSocket and the web console's static files. JSON in, JSON out; every error
 * answers { error, code } with a 4xx/5xx status. Contracts:
 * docs/API.md (the API), docs/TELEMETRY.md (the stream), GET /api/v1/openapi.json.
 *
 * An account's `allowedIps` apply to its HTTP requests as they do to its binds: a login, a token or an
 * API key of the account used from another address gets 403 SMSC_ERR_IP_NOT_ALLOWED.
 *
 * Every GET route answers HEAD as it answers GET (status, headers, content-length, the same login), with no body.
 *
 * Every answer carries the security headers of its listener, written by ONE helper (`head`) from lists made once:
 * nosniff, no framing, no referrer, a Content-Security-Policy (the console's: its own origin only; the API's: nothing),
 * and over HTTPS Strict-Transport-Security. A login over HTTPS sets its cookie `Secure`.
 *
 * A viewer (a read-only staff login, engine/staff.ts) is refused every method but GET and HEAD, on every route, in ONE
 * place: every route is registered through `routed` (the route table, HttpServer.routes), which wraps each
 * POST, PUT, PATCH and DELETE handler in that check (403 SMSC_ERR_ADMIN_READ_ONLY); logging in and out aside.
 *
 * Cross-origin request forgery (a page of another origin, even of the same site, posting with the operator's cookie) is
 * refused in ONE place too: `routed` wraps every handler of those methods (and the telemetry upgrade checks the same)
 * so that a request whose credential is the session cookie (no Bearer token, no X-API-Key: a browser page cannot attach
 * those to another origin without a CORS preflight, which this server never grants) must come from the engine's own
 * origin (`foreignOrigin`), else 403 SMSC_ERR_CROSS_ORIGIN. A login token in the URL (`?token=`) is taken by the
 * telemetry upgrade only (browsers cannot set its headers); elsewhere it is a 401 (URLs land in proxy logs).
 *
 * This module checks shapes and who is asking; the meaning is elsewhere: Admin scopes every admin
 * call by the principal, and the engine (submitMessages) applies account policy, rate, routing and
 * credit to every message.
 */
import fs from 'node:fs'
import path from 'node:path'
import { pack } from 'msgpackr'
import { RepeatedLog, type LogFn } from './log'
import type { MoRequest, Smsc } from './index'
import type { Admin } from './admin'
import { isIP } from 'node:net'
import { ipAllowed, isReadOnly, type Principal } from './accounts'
import { isSmscError, smscError } from './errors'
import { ADMIN_PASSWORD_CONFIGURED, AdminAuth, LOGIN_FAILURES_PER_ADDRESS, LoginThrottle, SESSION_COOKIE, sessionCookie } from './auth'
import { originOf } from './config'
import { CommandStatus as S } from './protocol/constants'
import { pickCoding } from './protocol/text/charsets'
import { SCOPED_TOPICS, TOPICS, filterFrame, prometheusText, type TickFrames, type Topic } from './telemetry'
import { OPENAPI } from './openapi'
import { SEARCH_PARAMS, parseSearchQuery } from './message-search'
import { referenceProblem } from './message'
import { MS_PER_DAY, utcDay } from './rate'
import { parseCallback, tokenMatches } from './provider-receipts'

// eslint-disable-next-line @typescript-eslint/no-var-requires
const uWS = require('uWebSockets.js') as any

/** A route the server answers: its method and uWS pattern (`:id` for a parameter). Every GET route answers HEAD too. */
export interface HttpRoute { method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; pattern: string }

export interface HttpServer {
  port: number
  /** Every route registered (both listeners), in registration order: the table the read-only guard covers. */
  routes: readonly HttpRoute[]
  /** The HTTPS listener's port (config http.tlsPort), or null without one. */
  tlsPort: number | null
  /** Sends this tick's frames to every WebSocket subscriber (called by the telemetry actor). */
  publish(frames: TickFrames): void
  /** An account was added, changed or removed: every scoped stream gets a fresh snapshot at the next tick (its scope may differ). */
  scopeChanged(): void
  /** Telemetry WebSockets open now (none: the tick builds no frames). */
  subscribers(): number
  /**
   * The HTTPS listener takes the certificate files again (a renewal, SIGHUP): a new HTTPS app set up as the
   * first was listens in its place; connections open on the old one stay, telemetry included. False without
   * an HTTPS listener or once closed; throws when the new one cannot listen (the old one listens again). Old
   * apps are kept (uWS must not free an app that has connections): the caller reloads only files that changed.
   */
  reloadTls(): boolean
  /** Writes the counts of the lockout log whose minute is over (called on every telemetry tick). */
  tick(): void
  close(): Promise<void>
}

/** One message of the send API (POST /api/v1/messages). */
export interface ApiMessage {
  from: string
  to: string
  text?: string
  /** hex octets; with coding 'binary' (the default for binary) or the text coding they are in */
  binary?: string
  coding?: 'gsm' | 'ucs2' | 'latin1' | 'binary'
  registeredDelivery?: boolean
  /** ISO-8601, or ms since the epoch */
  scheduleAt?: string | number
  validityMs?: number
  /** the caller's own id for the message (REFERENCE): stored with it, given back in lookups, searches and receipt webhooks */
  reference?: string
}

/** The answer for one message: its ids (one per part), or why it was refused. */
export type ApiSubmitResult =
  | { ok: true; ids: string[]; parts: number; coding?: string; reference?: string }
  | { ok: false; status: number /* SMPP command_status */; code: string; error: string; reference?: string }

/** What the HTTP side needs of the engine (the Smsc satisfies it). */
export interface HttpHost {
  readonly options: Smsc['options']
  readonly store: Smsc['store']
  readonly metrics: Smsc['metrics']
  readonly telemetrySources: Smsc['telemetrySources']
  readonly admin: Admin
  telemetryFrames: Smsc['telemetryFrames']
  health(): Record<string, unknown>
  mo(req: MoRequest): Promise<{ id: string; systemId: string; parts: number }>
  lookup: Smsc['lookup']
  cancelMessage: Smsc['cancelMessage']
  searchMessages: Smsc['searchMessages']
  unbindSession(id: number): boolean
  connectorStats(): readonly object[]
  receiptCallback: Smsc['receiptCallback']
  providerReceipts: Smsc['providerReceipts']
  submitMessages(systemId: string, msgs: ApiMessage[]): Promise<ApiSubmitResult[]>
}

/** Bodies of every endpoint but the send API. */
const MAX_BODY = 64 * 1024
/** POST /api/v1/messages: room for MAX_BATCH long messages. */
export const MAX_SEND_BODY = 1024 * 1024
/** Messages in one POST /api/v1/messages. */
export const MAX_BATCH = 1000
const CONSOLE_DIR = path.join(__dirname, '..', '..', 'console', 'dist')
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.webmanifest': 'application/manifest+json', '.png': 'image/png', '.svg': 'image/svg+xml',
  '.map': 'application/json', '.ico': 'image/x-icon',
}
const REASONS: Record<number, string> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
  404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
}
const statusLine = (n: number) => `${n} ${REASONS[n] ?? ''}`.trim()

/**
 * The security headers (OWASP Secure Headers), one list per listener and kind of answer, made once. The console is
 * self-hosted (console/build.js: one bundle, its stylesheet, icons, manifest, service worker; no CDN, no inline script),
 * so its policy allows its own origin only ('self' covers the same host's ws:/wss: telemetry, CSP Level 3 §6.7.2.8);
 * its inline styles are set through the DOM (el.style), which style-src does not govern. The API's policy allows
 * nothing: a JSON answer is never a document. The service worker (sw.js) is a console file: it gets the console's.
 * HSTS (RFC 6797 §7.2: sent over secure transport only) on HTTPS answers; one year, this host only.
 */
type HeaderList = readonly (readonly [string, string])[]
const COMMON_HEADERS: HeaderList = [['x-content-type-options', 'nosniff'], ['x-frame-options', 'DENY'], ['referrer-policy', 'no-referrer']]
const CONSOLE_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "font-src 'self'; manifest-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
const API_CSP = "default-src 'none'; frame-ancestors 'none'"
const HSTS: HeaderList = [['strict-transport-security', 'max-age=31536000']]
/** Indexed by (secure ? 2 : 0) + (console ? 1 : 0). */
const SECURITY_HEADERS: readonly HeaderList[] = [
  [...COMMON_HEADERS, ['content-security-policy', API_CSP]],
  [...COMMON_HEADERS, ['content-security-policy', CONSOLE_CSP]],
  [...COMMON_HEADERS, ['content-security-policy', API_CSP], ...HSTS],
  [...COMMON_HEADERS, ['content-security-policy', CONSOLE_CSP], ...HSTS],
]

/** THE start of every answer: the status line, then its listener's security headers (`res.secure`: came over HTTPS). */
function head(res: any, status: string, consoleFile = false): any {
  res.writeStatus(status)
  for (const [k, v] of SECURITY_HEADERS[(res.secure === true ? 2 : 0) + (consoleFile ? 1 : 0)]) res.writeHeader(k, v)
  return res
}

/** HTTP status for an engine error code (docs/API.md "Errors"); other engine errors are 400. */
const HTTP_STATUS: Record<string, number> = {
  SMSC_ERR_API_INVALID: 400,
  SMSC_ERR_ADMIN_FORBIDDEN: 403,
  SMSC_ERR_ADMIN_READ_ONLY: 403,
  SMSC_ERR_CROSS_ORIGIN: 403,
  SMSC_ERR_STAFF_NOT_FOUND: 404,
  SMSC_ERR_ACCOUNT_SUSPENDED: 403,
  SMSC_ERR_SOURCE_NOT_ALLOWED: 403,
  SMSC_ERR_DEST_OPTED_OUT: 403,
  SMSC_ERR_IP_NOT_ALLOWED: 403,
  SMSC_ERR_AUTH_SYSTEM_ID: 404,
  SMSC_ERR_MESSAGE_NOT_FOUND: 404,
  SMSC_ERR_MESSAGE_FINAL: 409,
  SMSC_ERR_CREDIT_EXHAUSTED: 409,
  SMSC_ERR_BACKUP_RUNNING: 409,
  SMSC_ERR_BACKUP_FAILED: 500,
  SMSC_ERR_RATE_LIMITED: 429,
  SMSC_ERR_QUOTA_EXCEEDED: 429,
  SMSC_ERR_WINDOW_FULL: 429,
  SMSC_ERR_QUEUE_FULL: 503,
  SMSC_ERR_CONNECTOR_DOWN: 503,
  SMSC_ERR_CONNECTOR_NOT_FOUND: 404,
  SMSC_ERR_STORE_UNAVAILABLE: 503,
}
export const httpStatusOf = (code: string): number => HTTP_STATUS[code] ?? 400

function send(res: any, status: string, body: unknown, headers: Record<string, string> = {}): void {
  // The client may have gone while we worked: uWS forbids touching an aborted response.
  if (res.aborted || res.done) return
  res.done = true
  res.cork(() => {
    head(res, status)
    for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v)
    if (body === null) res.end()
    else res.writeHeader('content-type', 'application/json').end(JSON.stringify(body))
  })
}

const fail = (res: any, status: string, error: string, code: string) => send(res, status, { error, code })
const invalid = (res: any, error: string) => fail(res, '400 Bad Request', error, 'SMSC_ERR_API_INVALID')

/**
 * HEAD (RFC 9110 §9.3.2) is GET without the content: the GET handler answers through this view of the
 * response, whose `end(body)` sends the status and headers with the body's content-length, and no body.
 */
function headOf(res: any): any {
  const view: any = new Proxy(res, {
    get: (target, prop) => {
      if (prop === 'end') {
        return (body?: string | ArrayBuffer | Uint8Array) => {
          // The header by hand: uWS 20.30's endWithoutBody(length) then waits for that many octets (the connection's
          // next request finds the response unfinished), and takes an undefined length for a huge one.
          const length = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength
          target.writeHeader('content-length', String(length)).endWithoutBody()
          return view
        }
      }
      const v = target[prop]
      if (typeof v !== 'function') return v
      return (...args: unknown[]) => { const r = v.apply(target, args); return r === target ? view : r }
    },
  })
  return view
}

/** An answer that comes later (a promise): the client may go meanwhile. */
function hold(res: any): void {
  if (res.held) return
  res.held = true
  res.onAborted(() => { res.aborted = true })
}

/** A body of `application/x-www-form-urlencoded` as an object (a name given twice: its last value), as Twilio and
 *  Plivo post their status callbacks. */
export function formBody(text: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(text))
}

/** Reads a JSON body (bounded; `form`: a form-encoded one), then calls `cb`; answers 400/413 itself on bad input. */
function readJson(res: any, cb: (body: unknown) => void, max: number, onThrow: (e: unknown) => void, form = false): void {
  const chunks: Buffer[] = []
  let size = 0
  let aborted = false
  res.held = true
  res.onAborted(() => { aborted = true; res.aborted = true })
  res.onData((ab: ArrayBuffer, last: boolean) => {
    if (aborted) return
    size += ab.byteLength
    if (size > max) { aborted = true; return fail(res, '413 Payload Too Large', `body larger than ${max} bytes`, 'SMSC_ERR_HTTP_BODY') }
    chunks.push(Buffer.from(ab.slice(0)))
    if (!last) return
    let body: unknown
    try {
      const text = Buffer.concat(chunks).toString('utf8')
      body = form ? formBody(text) : text.trim().length === 0 ? {} : JSON.parse(text)
    } catch (e) {
      return fail(res, '400 Bad Request', `body is not JSON: ${(e as Error).message}`, 'SMSC_ERR_HTTP_BODY')
    }
    try {
      cb(body)
    } catch (e) {
      onThrow(e) // a throw must not escape into uWS (it ends the process)
    }
  })
}

/** The client's address as text (IPv4, IPv6, or IPv4-mapped '::ffff:a.b.c.d'). uWS gives it only while the
 *  handler runs synchronously (res is not usable for it once the request was handed over or aborted). */
function remoteOf(res: any): string {
  return Buffer.from(res.getRemoteAddressAsText() as ArrayBuffer).toString('utf8')
}

/**
 * The client's address: the peer's, or, when the peer is one of config http.trustProxy (a reverse proxy
 * that terminates TLS, say), the last address of X-Forwarded-For that is not itself a trusted proxy (the
 * entries to its left are the client's own claims, which anyone can write). Read in the handler (uWS
 * headers live only during the handler's synchronous part).
 */
function clientOf(res: any, req: any, trustProxy: readonly string[]): string {
  const peer = remoteOf(res)
  if (trustProxy.length === 0 || !ipAllowed(trustProxy, peer)) return peer
  // Every X-Forwarded-For line, in order (getHeader gives the first only: a proxy that adds a line of its own
  // after the client's would otherwise be read as the client's line).
  const lines: string[] = []
  req.forEach((k: string, v: string) => { if (k === 'x-forwarded-for') lines.push(v) })
  const hops = lines.join(',').split(',').map(hopAddress).filter((h) => h !== '')
  for (let i = hops.length - 1; i >= 0; i--) {
    if (ipAllowed(trustProxy, hops[i])) continue
    return isIP(hops[i]) ? hops[i] : peer // 'unknown' or garbage where the client should be: the proxy is all we know
  }
  return hops[0] ?? peer
}

/** One X-Forwarded-For entry as an address: without a port ("1.2.3.4:5678", "[2001:db8::1]:443") or brackets. */
function hopAddress(h: string): string {
  const t = h.trim()
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(t)
  if (bracketed) return bracketed[1]
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(t)
  return v4port ? v4port[1] : t
}

const SESSION_COOKIE_RE = new RegExp(`(?:^|;)\\s*${SESSION_COOKIE}=[^;\\s]`)
/** True when a query string carries a `token` parameter. */
const hasQueryToken = (query: string): boolean => /(?:^|&)token=/.test(query)

/**
 * True when the request's credential is the session cookie: no Bearer token (taken before the cookie), no `?token=`
 * (`ws`: the telemetry upgrade, where one is taken before the cookie), and the cookie present. An X-API-Key beside the
 * cookie does not count: the cookie is checked first and, when valid, is what the request acts with. Read in the handler.
 */
function byCookie(req: any, ws = false): boolean {
  if (String(req.getHeader('authorization')).startsWith('Bearer ')) return false
  if (ws && hasQueryToken(req.getQuery() ?? '')) return false
  return SESSION_COOKIE_RE.test(req.getHeader('cookie'))
}

/** The login token of a request: Bearer, else (the telemetry upgrade: `ws`) `?token=`, else the session cookie. */
function tokenOfRequest(req: any, ws = false): string | undefined {
  const query: string = ws ? req.getQuery() ?? '' : ''
  return AdminAuth.tokenOf(req.getHeader('authorization'), hasQueryToken(query) ? '' : req.getHeader('cookie'), query)
}

/**
 * Who a session-cookie request came from, when it is not the engine's own origin: the Origin header (or, a request
 * without one, `Sec-Fetch-Site: cross-site|same-site`, Fetch Metadata §2.1), else null (its own origin; or no browser
 * said where from: curl and scripts send neither, and a browser page cannot send the cookie without one of the two).
 * Its own origin: the Host header with the listener's scheme (RFC 6454 §4); from a proxy of http.trustProxy also
 * the origin the proxy says the browser used (forwardedOrigin); and config http.allowedOrigins. Read in the handler.
 */
function foreignOrigin(res: any, req: any, o: HttpOptions): string | null {
  const given: string = req.getHeader('origin')
  if (given === '') {
    const site: string = req.getHeader('sec-fetch-site')
    return site === 'cross-site' || site === 'same-site' ? `a ${site} request (Sec-Fetch-Site) with no Origin` : null
  }
  const origin = originOf(given)
  if (origin === null) return given // "null" (a sandboxed frame, a file), or garbage: never the engine's own
  const scheme = res.secure === true ? 'https' : 'http'
  if (origin === originOf(`${scheme}://${req.getHeader('host')}`) || (o.allowedOrigins ?? []).includes(origin)) return null
  const forwarded = forwardedOrigin(res, req, o)
  return forwarded !== null && origin === forwarded ? null : origin
}

/**
 * From a proxy of http.trustProxy, the origin the browser used: X-Forwarded-Proto's scheme (else the listener's) with
 * X-Forwarded-Host (else Host: a proxy that passes Host but terminates TLS sends only the scheme), first entries of
 * each. Null from anyone else, or when the headers make no origin. Read in the handler.
 */
function forwardedOrigin(res: any, req: any, o: HttpOptions): string | null {
  if (o.trustProxy.length === 0 || !ipAllowed(o.trustProxy, remoteOf(res))) return null
  const host = String(req.getHeader('x-forwarded-host')).split(',')[0].trim() || String(req.getHeader('host'))
  const proto = String(req.getHeader('x-forwarded-proto')).split(',')[0].trim().toLowerCase() || (res.secure === true ? 'https' : 'http')
  return host !== '' && (proto === 'http' || proto === 'https') ? originOf(`${proto}://${host}`) : null
}
const crossOrigin = (what: string, from: string) => `${what} with the session cookie from ${from}, not this engine's origin: refused (cross-origin request forgery). ` +
  'Use the console from the engine\'s own address; behind a reverse proxy list it in http.trustProxy (it passes X-Forwarded-Host and X-Forwarded-Proto) or its address in http.allowedOrigins; scripts send Authorization: Bearer'
/** The 401 for a login token in the URL of anything but the telemetry WebSocket. */
const TOKEN_IN_URL = 'a token in the URL (?token=) is taken by the telemetry WebSocket only (URLs end up in proxy and access logs): send it as Authorization: Bearer <token>'
const ipRefusal = (systemId: string, remote: string) => `account ${systemId} may not be used from ${remote}: not in its allowedIps`
const throttled = (remote: string, ms: number, systemId?: string) => `too many failed logins from ${remote}${systemId !== undefined ? ` as ${systemId}` : ''}: try again in ${Math.ceil(ms / 1000)} s`

type Fields = Record<string, 'string' | 'string?' | 'boolean?' | 'number' | 'number?'>

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

// ---- the send API's message shape (the engine checks the meaning: policy, routing, lengths)

const MESSAGE_FIELDS = new Set(['from', 'to', 'text', 'binary', 'coding', 'registeredDelivery', 'scheduleAt', 'validityMs', 'reference'])
const CODINGS = ['gsm', 'ucs2', 'latin1', 'binary']
const HEX = /^(?:[0-9a-fA-F]{2})*$/
const CODING_LABEL: Record<string, string> = { gsm: 'GSM 03.38', ucs2: 'UCS2', latin1: 'Latin-1', binary: 'binary' }

type Refusal = { ok: false; status: number; code: string; error: string }
const refusal = (status: number, error: string): Refusal => ({ ok: false, status, code: 'SMSC_ERR_API_INVALID', error })

/**
 * One message of the send API, or why its shape is wrong (with the command_status an SMPP submit
 * with the same fault would get). `at` prefixes the field names ("messages[3].").
 */
export function parseApiMessage(m: unknown, at = '', extra: readonly string[] = []): ApiMessage | Refusal {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return refusal(S.ESME_RSYSERR, `${at ? at.slice(0, -1) : 'the message'} must be a JSON object`)
  const o = m as Record<string, unknown>
  for (const k of Object.keys(o)) if (!MESSAGE_FIELDS.has(k) && !extra.includes(k)) return refusal(S.ESME_RSYSERR, `${at}${k} is not a known field`)
  // SMPP 3.4 §5.2.8 source_addr and §5.2.9 destination_addr: at most 20 characters (21 with the NUL)
  const addr = (k: 'from' | 'to'): string | null => {
    const v = o[k]
    if (typeof v !== 'string') return `${at}${k} is required (a string)`
    const digits = v.startsWith('+') ? v.slice(1) : v
    if (digits.length === 0 || digits.length > 20) return `${at}${k} must be 1 to 20 characters (a leading + aside)`
    return null
  }
  let bad = addr('from')
  if (bad) return refusal(S.ESME_RINVSRCADR, bad)
  bad = addr('to')
  if (bad) return refusal(S.ESME_RINVDSTADR, bad)
  if (o.coding !== undefined && (typeof o.coding !== 'string' || !CODINGS.includes(o.coding))) return refusal(S.ESME_RINVDCS, `${at}coding must be "gsm", "ucs2", "latin1" or "binary"`)
  if (o.text !== undefined && o.binary !== undefined) return refusal(S.ESME_RSYSERR, `${at}give text or binary, not both`)
  if (o.text === undefined && o.binary === undefined) return refusal(S.ESME_RSYSERR, `${at}text or binary is required`)
  if (o.text !== undefined) {
    if (typeof o.text !== 'string') return refusal(S.ESME_RSYSERR, `${at}text must be a string`)
    if (o.coding === 'binary') return refusal(S.ESME_RINVDCS, `${at}coding "binary" goes with binary (hex), not text`)
  }
  if (o.binary !== undefined && (typeof o.binary !== 'string' || !HEX.test(o.binary))) return refusal(S.ESME_RSYSERR, `${at}binary must be hex digits, two per octet`)
  if (o.registeredDelivery !== undefined && typeof o.registeredDelivery !== 'boolean') return refusal(S.ESME_RINVREGDLVFLG, `${at}registeredDelivery must be a boolean`)
  if (o.scheduleAt !== undefined) {
    const v = o.scheduleAt
    const okTime = typeof v === 'number' ? Number.isFinite(v) && v >= 0 : typeof v === 'string' && Number.isFinite(Date.parse(v))
    if (!okTime) return refusal(S.ESME_RINVSCHED, `${at}scheduleAt must be an ISO-8601 time or ms since the epoch`)
  }
  if (o.validityMs !== undefined && !(typeof o.validityMs === 'number' && Number.isSafeInteger(o.validityMs) && o.validityMs > 0)) {
    return refusal(S.ESME_RINVEXPIRY, `${at}validityMs must be a positive integer (ms)`)
  }
  const badReference = o.reference === undefined ? null : referenceProblem(o.reference)
  if (badReference !== null) return refusal(S.ESME_RSYSERR, `${at}reference ${badReference}`)
  const out: ApiMessage = { from: o.from as string, to: o.to as string }
  for (const k of MESSAGE_FIELDS) if (o[k] !== undefined && k !== 'from' && k !== 'to') (out as unknown as Record<string, unknown>)[k] = o[k]
  return out
}

const isRefusal = (x: ApiMessage | Refusal): x is Refusal => (x as Refusal).ok === false

/** The coding a message goes out in, as the console shows it. */
function codingLabel(m: ApiMessage): string {
  if (m.coding) return CODING_LABEL[m.coding]
  if (m.binary !== undefined) return CODING_LABEL.binary
  return CODING_LABEL[pickCoding(m.text ?? '')]
}

/** ?limit=&before= of a list endpoint; a string names the bad parameter. */
function pageOf(query: string): { limit?: number; before?: number } | string {
  const q = new URLSearchParams(query)
  const out: { limit?: number; before?: number } = {}
  for (const k of ['limit', 'before'] as const) {
    const v = q.get(k)
    if (v === null || v === '') continue
    const n = Number(v)
    if (!Number.isSafeInteger(n) || n < (k === 'limit' ? 1 : 0)) return `${k} must be a ${k === 'limit' ? 'positive' : 'non-negative'} integer`
    out[k] = n
  }
  return out
}

/** ?limit=&after=&prefix= of an opt-out list; a string names the bad parameter. */
/** The 403 for an API key that would take a number off an opt-out list. */
const OPT_OUT_REMOVAL_BY_KEY = 'an API key may read its account\'s opt-out list and add numbers to it, not remove them (a subscriber\'s STOP must not be undone with a leaked key): log in (the account, its reseller or the operator) to remove'

function optOutQuery(query: string): { limit?: number; after?: string; prefix?: string } | string {
  const q = new URLSearchParams(query)
  const out: { limit?: number; after?: string; prefix?: string } = {}
  for (const [k, v] of q) {
    if (v === '') continue
    if (k === 'limit') {
      const n = Number(v)
      if (!Number.isSafeInteger(n) || n < 1) return `limit must be a positive integer (got ${JSON.stringify(v)})`
      out.limit = n
    } else if (k === 'after' || k === 'prefix') out[k] = v
    else return `${k} is not a parameter of an opt-out list (limit, after, prefix)`
  }
  return out
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

/** How often telemetry sockets are checked against token expiry. */
const REVALIDATE_MS = 10_000

interface WsData {
  /** The login token the socket opened with: when it ends (password change, logout, expiry), so does the socket. */
  token: string
  format: 'msgpack' | 'json'
  topics: Set<Topic>
  eventsOf?: string
  /** A reseller or user: the stream carries only what concerns the accounts it may see (absent for the operator). */
  scoped?: Principal
  /** The client's address: a scoped stream ends when its account's allowedIps no longer admit it. */
  remote: string
  group: string
  stale: boolean
}

type Handler = (res: any, req: any, p: Principal) => void

/** uWS's registering methods and the HTTP method each serves. */
const ROUTE_METHODS: Record<string, HttpRoute['method']> = { get: 'GET', post: 'POST', put: 'PUT', patch: 'PATCH', del: 'DELETE' }
/** uWS's registering methods outside the route table: only the catch-all 404 ('/*') may use them. */
/** The order an Allow header lists methods in. */
const METHOD_ORDER: readonly HttpRoute['method'][] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']
const OTHER_METHODS: ReadonlySet<string> = new Set(['any', 'options', 'head', 'connect', 'trace'])
/** uWS app methods that set an app up (what a renewed HTTPS app replays). */
const SETUP_METHODS: ReadonlySet<string> = new Set([...Object.keys(ROUTE_METHODS), ...OTHER_METHODS, 'ws'])
/** The routes a viewer may use with another method than GET: logging in and out. */
const READ_ONLY_EXEMPT: ReadonlySet<string> = new Set(['/api/v1/login', '/api/v1/logout'])
interface Guard {
  /** accept per-account API keys (Authorization: Bearer <key> or X-API-Key) as well as logins; 'own': a key only for
   *  its own account (the route's :id), to read its balance and ledger, and to read and add to its opt-out list */
  apiKeys?: boolean | 'own'
  /** a route a login may use and an API key may not, though its neighbours take one: the 403's reason */
  notForKeys?: string
  /** the operator only */
  operator?: boolean
}

/** The HTTP listener's options; `tls` (PEM file paths) with `tlsPort` adds an HTTPS listener serving the same routes. */
export interface HttpOptions {
  host: string
  port: number
  trustProxy: readonly string[]
  /** config http.allowedOrigins: origins (as originOf serialises them) a session-cookie request may come from, beside the engine's own */
  allowedOrigins?: readonly string[]
  tlsHost?: string
  tlsPort?: number | null
  /** `ciphers`: config tls.ciphers, or Node's default list (the SMPP TLS port's), so both listeners offer the same. */
  tls?: { cert: string; key: string; ciphers: string } | null
}

/**
 * An HTTPS app with the certificate files and the cipher list. uWebSockets.js (BoringSSL, built in) takes `ssl_ciphers`
 * but no minimum version: its floor is TLS 1.2 (config.ts refuses tls.minVersion "TLSv1.3" with HTTPS), and its TLS 1.3
 * suites are fixed (all AEAD and forward secret). BoringSSL lacks some suites OpenSSL has (DHE, CAMELLIA, ARIA; TLS 1.3
 * names are not set by a list): a list with none it knows fails the start in one line.
 */
function sslApp(t: { cert: string; key: string; ciphers: string }): any {
  try {
    return uWS.SSLApp({ cert_file_name: t.cert, key_file_name: t.key, ssl_ciphers: t.ciphers })
  } catch {
    // uWS says only "App construction failed": the same files without the list tell whether the list is at fault.
    let filesOk = false
    try { uWS.SSLApp({ cert_file_name: t.cert, key_file_name: t.key }); filesOk = true } catch { /* the files */ }
    throw filesOk
      ? smscError('SMSC_ERR_CONFIG_INVALID', `config.tls.ciphers has no suite the HTTPS listener (uWebSockets.js, BoringSSL: no DHE, CAMELLIA or ARIA suites; TLS 1.3 ones are not set by a list) can offer: ${JSON.stringify(t.ciphers)}`)
      : smscError('SMSC_ERR_CONFIG_INVALID', `config.tls: HTTPS cannot use the certificate ${t.cert} with the key ${t.key} (uWebSockets.js refused them)`)
  }
}

export function startHttp(o: HttpOptions, smsc: HttpHost, auth: AdminAuth, log: LogFn, maxBufferedBytes: number): Promise<HttpServer> {
  /**
   * THE read-only guard. Each uWS app is wrapped so that every route registered on it is recorded (`routes`) and
   * every handler of a method that changes something (POST, PUT, PATCH, DELETE) first refuses a viewer's login:
   * no route, present or future, can forget it. The route's own guard (`guarded`) then checks as always.
   */
  const routes: HttpRoute[] = []
  const readOnlyGuard = (method: string, pattern: string, handler: (res: any, req: any) => void) => (res: any, req: any) => {
    const p = auth.check(tokenOfRequest(req))
    if (p !== null && isReadOnly(p)) {
      return fail(res, '403 Forbidden', `${p.name} is a viewer, a read-only login: ${method} ${pattern} is refused (a staff admin or the operator may do it)`, 'SMSC_ERR_ADMIN_READ_ONLY')
    }
    handler(res, req)
  }
  /**
   * Cross-origin refusals: counted (smsc_http_cross_origin_refused_total) and logged once a minute per origin with a
   * count, naming the Host it was compared with: a reverse proxy that rewrites Host or drops the port shows here as
   * every console change refused, and the browser alone says why.
   */
  const crossOrigins = new RepeatedLog(log, { level: 'warn', keyName: 'origin', first: 'cross-origin request with the session cookie refused', more: 'more cross-origin requests refused from this origin' })
  const crossOriginRefused = (res: any, req: any, what: string, from: string): void => {
    smsc.metrics.totals.crossOriginRefusals++
    crossOrigins.add(from, { what, host: String(req.getHeader('host')), forwardedHost: String(req.getHeader('x-forwarded-host')) || undefined, forwardedProto: String(req.getHeader('x-forwarded-proto')) || undefined, remote: clientOf(res, req, o.trustProxy) }, Date.now())
    fail(res, '403 Forbidden', crossOrigin(what, from), 'SMSC_ERR_CROSS_ORIGIN')
  }
  /**
   * THE cross-origin guard, before any other (a forged request learns nothing): every handler of a method that changes
   * something, logging in and out included, refuses a request whose credential is the session cookie from another
   * origin than the engine's own (foreignOrigin). The cookie is SameSite=Strict, which keeps other sites' requests
   * from carrying it but not those of the same site (another port of the host, a sibling subdomain).
   */
  const originGuard = (method: string, pattern: string, handler: (res: any, req: any) => void) => (res: any, req: any) => {
    if (byCookie(req)) {
      const from = foreignOrigin(res, req, o)
      if (from !== null) return crossOriginRefused(res, req, `${method} ${pattern}`, from)
    }
    handler(res, req)
  }
  /**
   * Every route's handler runs inside this: uWS ends the process on an exception thrown from a handler, so a
   * bug (or input a check missed) answers 500 for that one request instead of taking every SMPP session down.
   */
  const safe = (handler: (res: any, req: any) => void) => (res: any, req: any) => {
    try {
      handler(res, req)
    } catch (e) {
      log('error', 'HTTP handler threw', { error: String((e as Error)?.stack ?? e) })
      try {
        send(res, '500 Internal Server Error', { error: 'internal error (logged)', code: 'SMSC_ERR_HTTP_INTERNAL' })
      } catch { /* the response was ended already */ }
    }
  }
  const routed = (a: any, secure: boolean): any => {
    // A request to the HTTPS app is marked so (`res.secure`): its answer gets HSTS (head) and its login a Secure cookie.
    const safeOn = secure ? (handler: (res: any, req: any) => void) => {
      const run = safe(handler)
      return (res: any, req: any) => { res.secure = true; run(res, req) }
    } : safe
    const proxy: any = new Proxy(a, {
      get: (target, prop) => {
        const method = typeof prop === 'string' ? ROUTE_METHODS[prop] : undefined
        if (method === undefined && typeof prop === 'string' && OTHER_METHODS.has(prop)) {
          // Handlers for any method would pass the read-only guard by: only the catch-all 404 may use them.
          return (pattern: string, handler: (res: any, req: any) => void) => {
            if (pattern !== '/*') throw new Error(`app.${prop}('${pattern}'): register routes with get/post/put/patch/del, which the read-only guard covers`)
            target[prop](pattern, safeOn(handler))
            return proxy
          }
        }
        if (prop === 'ws') {
          // WebSocket callbacks run in uWS as route handlers do: an exception ends the process. The upgrade answers
          // 500 instead; the others log it (the socket stays as it was).
          return (pattern: string, behavior: Record<string, unknown>) => {
            const b: Record<string, unknown> = { ...behavior }
            for (const [k, f] of Object.entries(behavior)) {
              if (typeof f !== 'function') continue
              b[k] = k === 'upgrade'
                ? (res: any, req: any, context: any) => safeOn((r: any, q: any) => (f as (a: any, b: any, c: any) => void)(r, q, context))(res, req)
                : (...args: unknown[]) => {
                    try { return (f as (...a: unknown[]) => unknown)(...args) } catch (e) { log('error', `WebSocket ${k} threw`, { error: String((e as Error)?.stack ?? e) }) }
                  }
            }
            target.ws(pattern, b)
            return proxy
          }
        }
        if (method === undefined) return typeof target[prop] === 'function' ? target[prop].bind(target) : target[prop]
        return (pattern: string, handler: (res: any, req: any) => void) => {
          if (!routes.some((r) => r.method === method && r.pattern === pattern)) routes.push({ method, pattern })
          target[prop](pattern, safeOn(method === 'GET' ? handler : originGuard(method, pattern, READ_ONLY_EXEMPT.has(pattern) ? handler : readOnlyGuard(method, pattern, handler))))
          if (method === 'GET') {
            // Every GET answers HEAD the same way, body aside (monitors and load balancers ask with HEAD).
            if (!routes.some((r) => r.method === 'HEAD' && r.pattern === pattern)) routes.push({ method: 'HEAD', pattern })
            const get = safeOn(handler)
            target.head(pattern, (res: any, req: any) => get(headOf(res), req))
          }
          return proxy
        }
      },
    })
    return proxy
  }
  /**
   * uWS reads an HTTPS app's certificate once, when the app is made. So every call that sets the HTTPS app up
   * (routes with their guards, WebSockets) is kept, to set up a new app the same way when the files are renewed.
   */
  const secureSetup: [string, unknown[]][] = []
  const recording = (a: any): any => new Proxy(a, {
    get: (target, prop) => {
      if (typeof prop !== 'string' || typeof target[prop] !== 'function') return target[prop]
      if (!SETUP_METHODS.has(prop)) return target[prop].bind(target)
      return (...args: unknown[]) => { secureSetup.push([prop, args]); target[prop](...args); return a }
    },
  })
  // uWS serves plain HTTP and HTTPS from two app objects: every route, WebSocket and publish goes to both
  // (after a certificate reload, to every HTTPS app still holding connections too).
  const apps: any[] = [routed(uWS.App(), false)]
  if (o.tls && o.tlsPort != null) apps.push(routed(recording(sslApp(o.tls)), true))
  let secureApp: any = apps[1]
  const app: any = apps.length === 1 ? apps[0] : new Proxy(apps[0], {
    get: (target, prop) => (typeof target[prop] === 'function' ? (...args: unknown[]) => { for (const a of apps) a[prop](...args); return app } : target[prop]),
  })
  const consoleFiles = loadConsole()
  const clients = new Set<any>()
  const openapiBody = JSON.stringify(OPENAPI)

  /**
   * A refused login or credential: logged with the client's address (what a fail2ban-style watcher reads;
   * the password never) and counted as an `auth_failure` event, detail "<what> from <address>".
   */
  // Guesses (wrong passwords, unknown API keys) count against the client's address (IPv6: its /64), not refusals
  // by allowedIps or suspension. A known API key is never refused by it: keys cannot be guessed.
  const throttle = new LoginThrottle()
  // Failed logins per address whatever the name (the count above is per address and name): a guesser trying many names,
  // each costing a scrypt hash (unknown names too, so the time does not tell which exist), is stopped at the limit.
  const addressLogins = new LoginThrottle(LOGIN_FAILURES_PER_ADDRESS)
  const authFailed = (remote: string, what: string, systemId?: string): void => {
    log('info', 'login refused', { remote, what, ...(systemId !== undefined ? { systemId } : {}) })
    smsc.metrics.event('auth_failure', { ...(systemId !== undefined ? { systemId } : {}), detail: `${what} from ${remote}` })
  }
  /**
   * A request refused during a lockout (429: its credentials are not checked, so it is no auth_failure). Counted
   * (smsc_auth_lockout_refusals_total) and logged as `login refused` too, but once a minute per address, then a count
   * (`more logins refused during a lockout`): a guesser hammering away must not flood the log or the events.
   */
  const lockouts = new RepeatedLog(log, { level: 'info', keyName: 'remote', first: 'login refused', more: 'more logins refused during a lockout' })
  const lockedOut = (remote: string, what: string, systemId?: string): void => {
    smsc.metrics.totals.authLockoutRefusals++
    lockouts.add(remote, { what: `${what}, refused unchecked during the lockout`, ...(systemId !== undefined ? { systemId } : {}) }, Date.now())
  }
  /** Who is asking: a principal, or the [status, error, code] to refuse with. Reads req synchronously;
   *  `remote` is the client's address (remoteOf, read in the handler). */
  const authenticate = (req: any, guard: Guard, remote: string, ws = false): Principal | [number, string, string] => {
    const authorization: string = req.getHeader('authorization')
    const query: string = req.getQuery() ?? ''
    if (!ws && hasQueryToken(query)) return [401, TOKEN_IN_URL, 'SMSC_ERR_HTTP_AUTH']
    let p = auth.check(tokenOfRequest(req, ws))
    if (!p && guard.apiKeys) {
      const key = req.getHeader('x-api-key') || (authorization.startsWith('Bearer ') ? authorization.slice(7).trim() : '')
      if (key) {
        const owner = smsc.admin.apiKeyOwner(key)
        p = owner === null ? null : auth.accountPrincipal(owner)
        if (!p) {
          const wait = throttle.retryIn(LoginThrottle.keyOf(remote))
          if (wait > 0) {
            lockedOut(remote, 'unknown API key')
            return [429, throttled(remote, wait), 'SMSC_ERR_RATE_LIMITED']
          }
          throttle.failed(LoginThrottle.keyOf(remote))
          authFailed(remote, 'unknown API key')
          return [401, 'unknown or revoked API key', 'SMSC_ERR_HTTP_AUTH']
        }
        if (guard.notForKeys !== undefined) return [403, guard.notForKeys, 'SMSC_ERR_ADMIN_FORBIDDEN']
        if (guard.apiKeys === 'own' && param(req, 0) !== p.systemId) {
          return [403, `an API key is for its own account only (${p.systemId}): log in for the others`, 'SMSC_ERR_ADMIN_FORBIDDEN']
        }
      }
    }
    if (!p && !guard.apiKeys && (req.getHeader('x-api-key') || authorization.startsWith('Bearer smsc_'))) {
      // An API key where only logins count (the admin API): say so, rather than a bare "log in first".
      return [401, 'an API key is taken only by the send API, message lookups (/api/v1/messages) and its own account\'s balance, ledger and opt-out list (to read and add): log in for this (POST /api/v1/login with the account\'s systemId and password)', 'SMSC_ERR_HTTP_AUTH']
    }
    if (!p) return [401, guard.apiKeys ? 'log in first (POST /api/v1/login) or give an API key' : 'log in first (POST /api/v1/login)', 'SMSC_ERR_HTTP_AUTH']
    if (auth.isSuspended(p)) return [403, `account ${p.systemId} is suspended`, 'SMSC_ERR_ACCOUNT_SUSPENDED']
    if (p.systemId !== null && !ipAllowed(smsc.store.getAccount(p.systemId)?.allowedIps ?? [], remote)) {
      authFailed(remote, 'HTTP request outside allowedIps', p.systemId)
      return [403, ipRefusal(p.systemId, remote), 'SMSC_ERR_IP_NOT_ALLOWED']
    }
    if (guard.operator && p.role !== 'operator') return [403, 'only the operator may do this', 'SMSC_ERR_ADMIN_FORBIDDEN']
    return p
  }
  const guarded = (guard: Guard, handler: Handler) => (res: any, req: any) => {
    // A throw must not escape into uWS (it ends the process): it answers like any other failure.
    try {
      const p = authenticate(req, guard, clientOf(res, req, o.trustProxy))
      if (Array.isArray(p)) return fail(res, statusLine(p[0]), p[1], p[2])
      handler(res, req, p)
    } catch (e) {
      errorOf(res, e)
    }
  }
  const errorOf = (res: any, err: unknown) => {
    if (isSmscError(err)) return send(res, statusLine(httpStatusOf(err.code)), { error: err.message, code: err.code })
    // Not an engine error: a failed store write, or a bug. Either way the request did not happen.
    log('error', 'HTTP request failed', { error: String((err as Error)?.stack ?? err) })
    send(res, '503 Service Unavailable', { error: String((err as Error)?.message ?? err), code: 'SMSC_ERR_STORE_UNAVAILABLE' })
  }
  /** Runs `work` (a value or a promise) and answers `status` with its result (undefined: no body). */
  const reply = (res: any, status: number, work: () => unknown) => {
    hold(res)
    let v: unknown
    try {
      v = work()
    } catch (e) {
      return errorOf(res, e)
    }
    const ok = (x: unknown) => send(res, statusLine(status), x === undefined || status === 204 ? null : x)
    if (v instanceof Promise) v.then(ok, (e) => errorOf(res, e))
    else ok(v)
  }
  /** The JSON body of a request (at most `max` bytes), then `cb`. */
  const readBody = (res: any, cb: (body: unknown) => void, max = MAX_BODY) => readJson(res, cb, max, (e) => errorOf(res, e))
  /** A route parameter, %-decoded. */
  function param(req: any, i: number): string {
    const raw: string = req.getParameter(i)
    try {
      return decodeURIComponent(raw)
    } catch {
      return raw // a malformed %-escape: taken as written (no account or message has such an id)
    }
  }

  app.get('/healthz', (res: any) => {
    const h = smsc.health()
    send(res, h.status === 'starting' ? '503 Service Unavailable' : '200 OK', h)
  })
  // /metrics needs no login (and names accounts and balances): served on the plain listener only (loopback by default),
  // never on the HTTPS one (public by default), where it answers 404 like any unknown path. The simulator's MO, a
  // testing tool, stays off HTTPS too.
  const plain = apps[0]
  for (const secure of apps.slice(1)) {
    secure.get('/metrics', (res: any) => fail(res, '404 Not Found', 'no such endpoint over HTTPS: /metrics is on the plain HTTP port', 'SMSC_ERR_HTTP_NOT_FOUND'))
    secure.post('/api/v1/simulator/mo', (res: any) => fail(res, '404 Not Found', 'no such endpoint over HTTPS: the simulator is on the plain HTTP port', 'SMSC_ERR_HTTP_NOT_FOUND'))
  }
  plain.get('/metrics', (res: any) => {
    const text = prometheusText(smsc.metrics, smsc.telemetrySources)
    res.cork(() => head(res, '200 OK').writeHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8').end(text))
  })
  app.get('/api/v1/openapi.json', (res: any) => {
    res.cork(() => head(res, '200 OK').writeHeader('content-type', 'application/json').end(openapiBody))
  })

  // ---- MO from the simulated carrier: it writes into any account's queue, so the operator's (an admin login's) only,
  // as every admin change is; a viewer is refused by the read-only guard.
  plain.post('/api/v1/simulator/mo', guarded({ operator: true }, (res: any) => {
    if (!smsc.options.simulator.enabled) return fail(res, '404 Not Found', 'the simulated carrier is off (simulator.enabled false): it sends no MO', 'SMSC_ERR_HTTP_NOT_FOUND')
    readBody(res, (body) => {
      const req = moRequest(body)
      if (typeof req === 'string') return fail(res, '400 Bad Request', req, 'SMSC_ERR_HTTP_BODY')
      smsc.mo(req).then((r) => send(res, '202 Accepted', r), (err) => {
        log('warn', 'MO refused', { error: String((err as Error).message) })
        errorOf(res, err)
      })
    })
  }))

  // ---- an HTTP provider's delivery receipts (docs/CONNECTORS.md, "Receipts by callback"). No login (providers cannot
  // log in): the connector's callbackToken, as a bearer or ?token=. On both listeners: the provider reaches the public one.
  // POST (a JSON or form body) or GET (the fields in the query string, as Kannel's dlr-url and Vonage's GET option call).
  // A HEAD (a provider checking its URL) checks the connector and token like the GET, then answers 200 and settles nothing.
  const receiptCallback = (res: any, req: any): void => {
    const id = param(req, 0)
    const remote = clientOf(res, req, o.trustProxy)
    const query: string = req.getQuery() ?? ''
    const cb = smsc.receiptCallback(id)
    // Wrong tokens count against the address as wrong passwords do; the right one is never refused (it cannot be
    // guessed). A connector without callbacks is refused as a wrong token is: the answer does not tell which connector
    // ids exist (the log says which it was).
    if (cb === null || !tokenMatches(AdminAuth.tokenOf(req.getHeader('authorization'), '', query), cb.token)) {
      const wait = throttle.retryIn(LoginThrottle.keyOf(remote))
      if (wait > 0) {
        lockedOut(remote, `receipt callback for connector ${JSON.stringify(id)}`)
        return fail(res, '429 Too Many Requests', throttled(remote, wait), 'SMSC_ERR_RATE_LIMITED')
      }
      throttle.failed(LoginThrottle.keyOf(remote))
      authFailed(remote, cb === null ? `receipt callback for ${JSON.stringify(id)}, which is no connector with receipts "callback"` : `receipt callback token of connector ${id}`)
      return fail(res, '401 Unauthorized', `give the callbackToken of connector ${id}, a connector with receipts "callback" (Authorization: Bearer, or ?token=)`, 'SMSC_ERR_HTTP_AUTH')
    }
    const settle = (body: unknown): void => {
      const parsed = parseCallback(body, cb)
      if (typeof parsed === 'string') return invalid(res, parsed)
      reply(res, 200, () => smsc.providerReceipts(id, parsed))
    }
    const method: string = req.getMethod()
    if (method === 'head') return send(res, '200 OK', { received: 0, unmapped: [] })
    if (method === 'get') return settle(formBody(query))
    // JSON, or a form (Twilio, Plivo and others post their status callbacks so): one receipt, its fields by name.
    const form = /^application\/x-www-form-urlencoded\b/i.test(req.getHeader('content-type') ?? '')
    readJson(res, settle, MAX_SEND_BODY, (e) => errorOf(res, e), form)
  }
  app.post('/api/v1/connectors/:id/receipts', receiptCallback)
  app.get('/api/v1/connectors/:id/receipts', receiptCallback)

  // ---- logins: the operator ({ password }), a staff user ({ user, password }) or an account ({ systemId, password })
  app.post('/api/v1/login', (res: any, req: any) => {
    const remote = clientOf(res, req, o.trustProxy)
    // Secure over HTTPS: the engine's own, or a trusted proxy's (X-Forwarded-Proto https). Read before the body's await.
    const secureCookie = res.secure === true || forwardedOrigin(res, req, o)?.startsWith('https:') === true
    readBody(res, (body) => {
      const bad = check(body, { systemId: 'string?', user: 'string?', password: 'string' })
      if (bad) return invalid(res, bad)
      const { systemId, user, password } = body as { systemId?: string; user?: string; password: string }
      if (systemId !== undefined && user !== undefined) return invalid(res, 'give systemId (an account) or user (a staff login), not both')
      // Counted per address and login name: one customer's wrong password behind a shared NAT locks out no one else;
      // and per address across names (LOGIN_FAILURES_PER_ADDRESS), so many names cannot each be tried ten times.
      const key = user !== undefined ? LoginThrottle.keyOf(remote, user, true) : LoginThrottle.keyOf(remote, systemId ?? '')
      const what = user !== undefined ? `console login as staff user ${JSON.stringify(user)}` : systemId !== undefined ? 'API login' : 'console login'
      // RFC 9110 §10.2.3 Retry-After: the seconds until the window that refuses it ends
      const refuse = (ms: number, name?: string) => send(res, '429 Too Many Requests', { error: throttled(remote, ms, name), code: 'SMSC_ERR_RATE_LIMITED' }, { 'retry-after': String(Math.ceil(ms / 1000)) })
      const anyName = addressLogins.begin(LoginThrottle.keyOf(remote))
      if (anyName === null) {
        lockedOut(remote, `${what} (${LOGIN_FAILURES_PER_ADDRESS} failed logins from the address, any name)`, systemId)
        return refuse(addressLogins.retryIn(LoginThrottle.keyOf(remote)))
      }
      const named = throttle.begin(key)
      if (named === null) {
        anyName(false)
        lockedOut(remote, what, systemId)
        return refuse(throttle.retryIn(key), systemId ?? user)
      }
      const attempt = (failed: boolean) => { named(failed); anyName(failed) }
      const cookie = (token: string) => ({ 'set-cookie': sessionCookie(token, secureCookie) })
      const failed = (err: unknown) => { attempt(false); errorOf(res, err) }
      if (user !== undefined) {
        return auth.loginStaff(user, password).then((r) => {
          attempt(r === null)
          if (r === null) {
            authFailed(remote, `console login: wrong password or no staff user ${JSON.stringify(user)}`)
            return fail(res, '401 Unauthorized', 'wrong user or password', 'SMSC_ERR_HTTP_AUTH')
          }
          send(res, '200 OK', { token: r.token, principal: r.principal }, cookie(r.token))
        }, failed)
      }
      if (systemId === undefined) {
        return auth.login(password).then((token) => {
          attempt(!token)
          if (!token) {
            authFailed(remote, 'console login: wrong password')
            return fail(res, '401 Unauthorized', 'wrong password', 'SMSC_ERR_HTTP_AUTH')
          }
          send(res, '200 OK', { token, principal: auth.check(token) }, cookie(token))
        }, failed)
      }
      auth.loginAccount(systemId, password, remote).then((r) => {
        attempt(r === 'bad-credentials' || r === 'ip-not-allowed') // a refused address counts, as a wrong password would
        if (r === 'bad-credentials') {
          authFailed(remote, 'API login: wrong systemId or password', systemId)
          return fail(res, '401 Unauthorized', 'wrong systemId or password', 'SMSC_ERR_HTTP_AUTH')
        }
        if (r === 'suspended') {
          authFailed(remote, 'API login: the account is suspended', systemId)
          return fail(res, '403 Forbidden', `account ${systemId} is suspended`, 'SMSC_ERR_ACCOUNT_SUSPENDED')
        }
        if (r === 'ip-not-allowed') {
          authFailed(remote, 'API login outside allowedIps', systemId)
          return fail(res, '403 Forbidden', ipRefusal(systemId, remote), 'SMSC_ERR_IP_NOT_ALLOWED')
        }
        send(res, '200 OK', { token: r.token, principal: r.principal }, cookie(r.token))
      }, failed)
    })
  })
  app.post('/api/v1/logout', (res: any, req: any) => {
    const token = AdminAuth.tokenOf(req.getHeader('authorization'), req.getHeader('cookie'), '')
    if (token) { auth.logout(token); endRevoked() }
    send(res, '204 No Content', null, { 'set-cookie': sessionCookie(null, res.secure === true) })
  })
  app.get('/api/v1/me', guarded({}, (res: any, _req: any, p: Principal) => send(res, '200 OK', p)))

  // ---- operator only: sessions, routes, connectors
  app.post('/api/v1/binds/:id/unbind', guarded({ operator: true }, (res: any, req: any) => {
    const id = Number(req.getParameter(0))
    if (!smsc.unbindSession(id)) return fail(res, '404 Not Found', `no session ${req.getParameter(0)}`, 'SMSC_ERR_HTTP_NOT_FOUND')
    send(res, '202 Accepted', { id })
  }))
  app.get('/api/v1/routes', guarded({ operator: true }, (res: any) => reply(res, 200, () => smsc.admin.getRoutes())))
  app.put('/api/v1/routes', guarded({ operator: true }, (res: any, _req: any, p: Principal) => {
    readBody(res, (body) => reply(res, 200, () => smsc.admin.setRoutes(p, body)))
  }))
  app.get('/api/v1/connectors', guarded({ operator: true }, (res: any) => reply(res, 200, () => ({ connectors: smsc.connectorStats() }))))
  // Stopped: no link, routes skip it, across restarts too; answered once its link is closed (or opening), with its row.
  for (const [action, stopped] of [['stop', true], ['start', false]] as const) {
    app.post(`/api/v1/connectors/:id/${action}`, guarded({ operator: true }, (res: any, req: any, p: Principal) => {
      const id = param(req, 0)
      reply(res, 200, () => smsc.admin.setConnectorStopped(p, id, stopped).then(() => (smsc.connectorStats() as { id: string }[]).find((c) => c.id === id)))
    }))
  }
  // The admin password: in force at once; the operator's login tokens end (the caller's too), as at a password change.
  app.post('/api/v1/admin/password', guarded({ operator: true }, (res: any, _req: any, p: Principal) => {
    readBody(res, (body) => {
      const bad = check(body, { password: 'string?' })
      if (bad) return invalid(res, bad)
      if (auth.configured) return invalid(res, ADMIN_PASSWORD_CONFIGURED)
      reply(res, 200, () => smsc.admin.setAdminPassword(p, (body as { password?: string }).password).then((password) => {
        auth.adminPasswordChanged()
        endRevoked()
        return { password }
      }))
    })
  }))
  // Staff logins (engine/staff.ts): a change ends the user's logins (tokens carry a fingerprint of its record), streams too.
  const staffChanged = <T>(v: Promise<T>): Promise<T> => v.then((x) => { endRevoked(); return x })
  app.get('/api/v1/admin/users', guarded({ operator: true }, (res: any, _req: any, p: Principal) => reply(res, 200, () => ({ users: smsc.admin.listStaff(p) }))))
  app.post('/api/v1/admin/users', guarded({ operator: true }, (res: any, _req: any, p: Principal) => {
    readBody(res, (body) => reply(res, 201, () => smsc.admin.addStaff(p, body)))
  }))
  app.patch('/api/v1/admin/users/:name', guarded({ operator: true }, (res: any, req: any, p: Principal) => {
    const name = param(req, 0)
    readBody(res, (body) => reply(res, 200, () => staffChanged(smsc.admin.updateStaff(p, name, body))))
  }))
  app.del('/api/v1/admin/users/:name', guarded({ operator: true }, (res: any, req: any, p: Principal) => {
    const name = param(req, 0)
    reply(res, 204, () => staffChanged(smsc.admin.removeStaff(p, name)))
  }))
  app.post('/api/v1/admin/users/:name/password', guarded({ operator: true }, (res: any, req: any, p: Principal) => {
    const name = param(req, 0)
    readBody(res, (body) => {
      const bad = check(body, { password: 'string?' })
      if (bad) return invalid(res, bad)
      reply(res, 200, () => staffChanged(smsc.admin.setStaffPassword(p, name, (body as { password?: string }).password).then((password) => ({ password }))))
    })
  }))

  // ---- accounts (Admin scopes every call by the principal)
  app.get('/api/v1/accounts', guarded({}, (res: any, _req: any, p: Principal) => reply(res, 200, () => ({ accounts: smsc.admin.list(p) }))))
  app.post('/api/v1/accounts', guarded({}, (res: any, _req: any, p: Principal) => {
    readBody(res, (body) => reply(res, 201, () => smsc.admin.create(p, body)))
  }))
  app.get('/api/v1/accounts/:id', guarded({ apiKeys: 'own' }, (res: any, req: any, p: Principal) => {
    const id = param(req, 0)
    reply(res, 200, () => smsc.admin.get(p, id))
  }))
  app.patch('/api/v1/accounts/:id', guarded({}, (res: any, req: any, p: Principal) => {
    const id = param(req, 0)
    readBody(res, (body) => reply(res, 200, () => smsc.admin.update(p, id, body)))
  }))
  app.del('/api/v1/accounts/:id', guarded({}, (res: any, req: any, p: Principal) => {
    const id = param(req, 0)
    reply(res, 204, () => smsc.admin.remove(p, id))
  }))
  for (const [action, suspended] of [['suspend', true], ['resume', false]] as const) {
    app.post(`/api/v1/accounts/:id/${action}`, guarded({}, (res: any, req: any, p: Principal) => {
      const id = param(req, 0)
      reply(res, 200, () => smsc.admin.setSuspended(p, id, suspended))
    }))
  }
  app.post('/api/v1/accounts/:id/password', guarded({}, (res: any, req: any, p: Principal) => {
    const id = param(req, 0)
    readBody(res, (body) => {
      const bad = check(body, { password: 'string?' })
      if (bad) return invalid(res, bad)
      reply(res, 200, () => smsc.admin.setPassword(p, id, (body as { password?: string }).password).then((password) => ({ password })))
    })
  }))
  app.post('/api/v1/accounts/:id/credit', guarded({}, (res: any, req: any, p: Principal) => {
    const id = param(req, 0)
    readBody(res, (body) => {
      const bad = check(body, { amount: 'number', from: 'string?', reason: 'string?' })
      if (bad) return invalid(res, bad)
      const b = body as { amount: number; from?: string; reason?: string }
      reply(res, 200, () => smsc.admin.transfer(p, { to: id, amount: b.amount, from: b.from, reason: b.reason }))
    })
  }))
  app.get('/api/v1/accounts/:id/ledger', guarded({ apiKeys: 'own' }, (res: any, req: any, p: Principal) => {
    const id = param(req, 0)
    const page = pageOf(req.getQuery() ?? '')
    if (typeof page === 'string') return invalid(res, page)
    reply(res, 200, () => ({ entries: smsc.admin.ledger(p, id, page) }))
  }))
  // Daily traffic (docs/API.md "Traffic reports"): an account's days (an API key: its own), every account's day in scope.
  app.get('/api/v1/accounts/:id/stats', guarded({ apiKeys: 'own' }, (res: any, req: any, p: Principal) => {
    const id = param(req, 0)
    const q = new URLSearchParams(req.getQuery() ?? '')
    const tree = q.get('tree')
    if (tree !== null && tree !== 'true' && tree !== 'false') return invalid(res, `tree must be true or false (got ${JSON.stringify(tree)})`)
    reply(res, 200, () => ({ days: smsc.admin.traffic(p, id, { from: q.get('from') ?? undefined, to: q.get('to') ?? undefined, tree: tree === 'true' }) }))
  }))
  app.get('/api/v1/stats', guarded({}, (res: any, req: any, p: Principal) => {
    const day = new URLSearchParams(req.getQuery() ?? '').get('day') ?? undefined
    reply(res, 200, () => smsc.admin.trafficDay(p, day))
  }))
  // A new webhook secret (the old one stops signing at once): shown only in this answer.
  app.post('/api/v1/accounts/:id/webhook-secret', guarded({}, (res: any, req: any, p: Principal) => {
    const id = param(req, 0)
    reply(res, 200, () => smsc.admin.rotateWebhookSecret(p, id).then((secret) => ({ secret })))
  }))
  app.get('/api/v1/accounts/:id/apikeys', guarded({}, (res: any, req: any, p: Principal) => {
    const id = param(req, 0)
    reply(res, 200, () => ({ keys: smsc.admin.listApiKeys(p, id) }))
  }))
  app.post('/api/v1/accounts/:id/apikeys', guarded({}, (res: any, req: any, p: Principal) => {
    const id = param(req, 0)
    readBody(res, (body) => {
      const bad = check(body, { label: 'string?' })
      if (bad) return invalid(res, bad)
      reply(res, 201, () => smsc.admin.createApiKey(p, id, (body as { label?: string }).label))
    })
  }))
  app.del('/api/v1/accounts/:id/apikeys/:keyId', guarded({}, (res: any, req: any, p: Principal) => {
    const id = param(req, 0)
    const keyId = param(req, 1)
    reply(res, 204, () => smsc.admin.revokeApiKey(p, id, keyId))
  }))
  // ---- opt-out lists (docs/ROUTING.md "Opt-outs"): the global one (the operator's) and each account's (in scope;
  // an API key: its own account's, to read and add only: a leaked backend key must not undo subscribers' STOPs, so
  // removing needs a login). Admin checks who may use which.
  const optOutRoutes = (base: string, guard: Guard, scopeOf: (req: any) => string | null) => {
    const removal: Guard = guard.apiKeys ? { ...guard, notForKeys: OPT_OUT_REMOVAL_BY_KEY } : guard
    app.get(base, guarded(guard, (res: any, req: any, p: Principal) => {
      const scope = scopeOf(req)
      const q = optOutQuery(req.getQuery() ?? '')
      if (typeof q === 'string') return invalid(res, q)
      reply(res, 200, () => smsc.admin.listOptOuts(p, scope, q))
    }))
    app.post(base, guarded(guard, (res: any, req: any, p: Principal) => {
      const scope = scopeOf(req)
      readBody(res, (body) => reply(res, 200, () => smsc.admin.addOptOuts(p, scope, body)))
    }))
    app.post(`${base}/remove`, guarded(removal, (res: any, req: any, p: Principal) => {
      const scope = scopeOf(req)
      readBody(res, (body) => reply(res, 200, () => smsc.admin.removeOptOuts(p, scope, body)))
    }))
    app.del(`${base}/:number`, guarded(removal, (res: any, req: any, p: Principal) => {
      const scope = scopeOf(req)
      const number = param(req, scope === null ? 0 : 1)
      reply(res, 200, () => smsc.admin.removeOptOuts(p, scope, { number }))
    }))
  }
  // Which lists hold one number (every login; Admin says which lists each may see): support's lookup.
  app.get('/api/v1/optouts/find', guarded({}, (res: any, req: any, p: Principal) => {
    const number = new URLSearchParams(req.getQuery() ?? '').get('number')
    if (number === null) return invalid(res, 'number is required: /api/v1/optouts/find?number=+4915112345678')
    reply(res, 200, () => smsc.admin.findOptOut(p, number))
  }))
  optOutRoutes('/api/v1/optouts', {}, () => null)
  optOutRoutes('/api/v1/accounts/:id/optouts', { apiKeys: 'own' }, (req) => param(req, 0))

  app.post('/api/v1/backup', guarded({}, (res: any, _req: any, p: Principal) => {
    readBody(res, (body) => {
      const bad = check(body, { dir: 'string?' })
      if (bad) return invalid(res, bad)
      const dir = (body as { dir?: string }).dir
      if (dir !== undefined && !path.isAbsolute(dir)) return invalid(res, `dir must be an absolute path (got ${JSON.stringify(dir)})`)
      reply(res, 202, () => {
        // Started here, answered at once: a large store takes minutes, longer than a client waits for a response.
        const started = smsc.admin.backup(p, dir)
        started.catch((e: Error) => log('error', 'backup failed', { error: e.message })) // and the state (GET) says so
        return { backup: smsc.admin.backupState(p).backup }
      })
    })
  }))
  app.get('/api/v1/backup', guarded({}, (res: any, _req: any, p: Principal) => {
    reply(res, 200, () => smsc.admin.backupState(p))
  }))
  app.get('/api/v1/audit', guarded({}, (res: any, req: any, p: Principal) => {
    const page = pageOf(req.getQuery() ?? '')
    if (typeof page === 'string') return invalid(res, page)
    reply(res, 200, () => ({ entries: smsc.admin.audit(p, page) }))
  }))

  // ---- the send API
  /** The account a send is for: the caller's own, or (operator, reseller) one it may act for. */
  const accountFor = (p: Principal, given: unknown): string | [number, string, string] => {
    if (given !== undefined && typeof given !== 'string') return [400, 'systemId must be a string', 'SMSC_ERR_API_INVALID']
    if (given === undefined || given === p.systemId) {
      if (p.systemId !== null) return p.systemId
      // The operator names the account, unless there is only one (the console's default).
      const all = smsc.store.listAccounts()
      if (all.length === 1) return all[0].systemId
      return [400, 'systemId is required (there is more than one account)', 'SMSC_ERR_API_INVALID']
    }
    // Out of scope and unknown look alike to an account (no probing); the operator is told.
    if (!smsc.admin.canSee(p, given) || (p.role !== 'operator' && !smsc.store.getAccount(given))) return [403, `you may not send for ${given}`, 'SMSC_ERR_ADMIN_FORBIDDEN']
    if (!smsc.store.getAccount(given)) return [404, `no account ${given}`, 'SMSC_ERR_AUTH_SYSTEM_ID']
    return given
  }

  app.post('/api/v1/messages', guarded({ apiKeys: true }, (res: any, _req: any, p: Principal) => {
    readBody(res, (body) => {
      if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalid(res, 'body must be a JSON object: one message, or { "messages": [...] }')
      const b = body as Record<string, unknown>
      const batch = b.messages !== undefined
      let list: unknown[]
      if (batch) {
        for (const k of Object.keys(b)) if (k !== 'messages' && k !== 'systemId') return invalid(res, `${k} is not a known field (a batch is { "systemId"?, "messages": [...] })`)
        if (!Array.isArray(b.messages)) return invalid(res, 'messages must be an array')
        if (b.messages.length === 0) return invalid(res, 'messages must hold at least one message')
        if (b.messages.length > MAX_BATCH) return fail(res, '413 Payload Too Large', `at most ${MAX_BATCH} messages per request (got ${b.messages.length}); split the batch`, 'SMSC_ERR_API_INVALID')
        list = b.messages
      } else {
        list = [b]
      }
      const systemId = accountFor(p, b.systemId)
      if (Array.isArray(systemId)) return fail(res, statusLine(systemId[0]), systemId[1], systemId[2])
      const parsed = list.map((m, i) => parseApiMessage(m, batch ? `messages[${i}].` : '', batch ? [] : ['systemId']))
      const valid: ApiMessage[] = []
      for (const m of parsed) if (!isRefusal(m)) valid.push(m)
      const answer = (submitted: ApiSubmitResult[]) => {
        let j = 0
        const results: ApiSubmitResult[] = parsed.map((m) => {
          if (isRefusal(m)) return m
          let r = submitted[j++] ?? { ok: false, status: S.ESME_RSYSERR, code: 'SMSC_ERR_STORE_UNAVAILABLE', error: 'no result from the engine' }
          if (r.ok && r.coding === undefined) r = { ...r, coding: codingLabel(m) }
          // the caller's own id, given back beside the result (a batch's results match up without counting)
          return m.reference === undefined ? r : { ...r, reference: m.reference }
        })
        if (batch) return send(res, '200 OK', { results })
        const r = results[0]
        // RFC 9110 §10.2.3 Retry-After: a rate limit's bucket refills within a second; a daily quota at 00:00 UTC
        const retry = r.ok ? undefined : r.code === 'SMSC_ERR_RATE_LIMITED' || r.code === 'SMSC_ERR_WINDOW_FULL' ? 1
          : r.code === 'SMSC_ERR_QUOTA_EXCEEDED' ? Math.ceil(((utcDay(Date.now()) + 1) * MS_PER_DAY - Date.now()) / 1000) : undefined
        send(res, r.ok ? '202 Accepted' : statusLine(httpStatusOf(r.code)), r, retry === undefined ? {} : { 'retry-after': String(retry) })
      }
      if (valid.length === 0) return answer([])
      smsc.submitMessages(systemId, valid).then(answer, (err) => errorOf(res, err)).catch((err) => errorOf(res, err))
    }, MAX_SEND_BODY)
  }))
  // A search (docs/API.md "Message search"): a walk of the store in slices, scoped like the lookup by id.
  app.get('/api/v1/messages', guarded({ apiKeys: true }, (res: any, req: any, p: Principal) => {
    const params = new URLSearchParams(req.getQuery() ?? '')
    for (const k of params.keys()) {
      if (!(SEARCH_PARAMS as readonly string[]).includes(k)) return invalid(res, `${k} is not a search parameter (they are ${SEARCH_PARAMS.join(', ')})`)
    }
    const q = parseSearchQuery((k) => params.get(k), Date.now())
    if (typeof q === 'string') return invalid(res, q)
    // Naming an account out of scope is refused as every admin call is (the operator may name a removed one).
    if (q.systemId !== undefined && !smsc.admin.canSee(p, q.systemId)) return fail(res, '403 Forbidden', `${q.systemId} is not visible to ${p.name}`, 'SMSC_ERR_ADMIN_FORBIDDEN')
    // A user sees its own messages only: searching for them alone lets the walk skip the others' in the raw bytes.
    if (p.role === 'user' && p.systemId !== null) q.systemId = p.systemId
    hold(res)
    smsc.searchMessages(q, (systemId) => smsc.admin.canSee(p, systemId), () => res.aborted === true, { key: `${p.systemId === null ? 'operator' : 'account'}:${p.name}`, name: p.name })
      // `scanned` counts every account's messages in the window (the platform's volume): the operator's and staff's only.
      .then((r) => send(res, '200 OK', p.role === 'operator' ? r : { ...r, scanned: undefined }), (e) => errorOf(res, e))
  }))
  app.get('/api/v1/messages/:id', guarded({ apiKeys: true }, (res: any, req: any, p: Principal) => {
    const m = smsc.lookup(param(req, 0))
    // Another account's message is as unknown as a missing one.
    if (!m || !smsc.admin.canSee(p, m.systemId)) {
      return fail(res, '404 Not Found', 'no such message', 'SMSC_ERR_MESSAGE_NOT_FOUND')
    }
    send(res, '200 OK', m)
  }))
  // A message not final yet is cancelled, as cancel_sm does (SMPP 3.4 §4.9): scheduled, waiting for a connector, or
  // with an upstream that has not reported. Its open destinations end DELETED; the charge stays (docs/ACCOUNTS.md).
  app.del('/api/v1/messages/:id', guarded({ apiKeys: true }, (res: any, req: any, p: Principal) => {
    const id = param(req, 0)
    const m = smsc.lookup(id)
    if (!m || !smsc.admin.canSee(p, m.systemId)) return fail(res, '404 Not Found', 'no such message', 'SMSC_ERR_MESSAGE_NOT_FOUND')
    reply(res, 200, () => smsc.cancelMessage(m.id).then(() => smsc.lookup(m.id)))
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
      let p: Principal | [number, string, string]
      let remote = ''
      try {
        remote = clientOf(res, req, o.trustProxy)
        p = authenticate(req, {}, remote, true)
      } catch (e) {
        return errorOf(res, e)
      }
      if (Array.isArray(p)) return fail(res, statusLine(p[0]), p[1], p[2])
      // WebSocket hijacking (RFC 6455 §10.2: the server checks Origin): opened with the session cookie, from the
      // engine's own origin only (a ?token= or Bearer upgrade is not an ambient credential).
      if (byCookie(req, true)) {
        const from = foreignOrigin(res, req, o)
        if (from !== null) return crossOriginRefused(res, req, 'the telemetry stream', from)
      }
      const params = new URLSearchParams(query)
      const fmt = params.get('format') ?? 'msgpack'
      if (fmt !== 'json' && fmt !== 'msgpack') return fail(res, '400 Bad Request', `format must be msgpack or json (got ${JSON.stringify(fmt)})`, 'SMSC_ERR_HTTP_BODY')
      const format = fmt
      // A reseller or user gets a scoped stream: its accounts' binds, rates, pending counts and events;
      // the engine-wide topics (engine, latency) are the operator's.
      const scoped = p.role === 'operator' ? undefined : p
      const topics = new Set<Topic>()
      let eventsOf: string | undefined
      for (const t of (params.get('topics') ?? (scoped ? SCOPED_TOPICS : TOPICS).join(',')).split(',')) {
        if (t.startsWith('events:') && t.length > 7) { topics.add('events'); eventsOf = t.slice(7) } else if ((TOPICS as readonly string[]).includes(t)) topics.add(t as Topic)
        else return fail(res, '400 Bad Request', `unknown topic ${JSON.stringify(t)}; topics are ${TOPICS.join(', ')}, events:<systemId>`, 'SMSC_ERR_HTTP_BODY')
      }
      if (scoped) {
        const wide = [...topics].find((t) => !SCOPED_TOPICS.includes(t))
        if (wide) return fail(res, '403 Forbidden', `topic ${wide} is the operator's; ${p.name} may have ${SCOPED_TOPICS.join(', ')}, events:<systemId>`, 'SMSC_ERR_ADMIN_FORBIDDEN')
        if (eventsOf !== undefined && !smsc.admin.canSee(scoped, eventsOf)) return fail(res, '403 Forbidden', `${eventsOf} is not visible to ${p.name}`, 'SMSC_ERR_ADMIN_FORBIDDEN')
      }
      // JSON, not a joined string: a system_id may hold any separator (two principals must never share a group)
      const group = JSON.stringify([format, [...topics].sort(), eventsOf ?? null, scoped ? [scoped.role, scoped.systemId] : null])
      const token = tokenOfRequest(req, true) ?? ''
      res.upgrade({ token, format, topics, eventsOf, scoped, remote, group, stale: true } satisfies WsData,
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

  /**
   * No route took the request: 405 with Allow when the path is an endpoint of other methods (RFC 9110 §15.5.6), else 404.
   * Read in the handler (uWS's req lives only there).
   */
  const unrouted = (res: any, req: any): void => {
    const url: string = req.getUrl()
    const segs = url.split('/')
    const allowed = url.startsWith('/api/') ? routes.filter((r) => {
      const p = r.pattern.split('/')
      return !r.pattern.includes('*') && p.length === segs.length && p.every((x, i) => (x.startsWith(':') ? segs[i] !== '' : x === segs[i]))
    }).map((r) => r.method) : []
    if (allowed.length === 0) return fail(res, '404 Not Found', 'no such endpoint', 'SMSC_ERR_HTTP_NOT_FOUND')
    const allow = METHOD_ORDER.filter((m) => allowed.includes(m)).join(', ')
    send(res, '405 Method Not Allowed', { error: `${String(req.getMethod()).toUpperCase()} is not a method of ${url}: ${allow} ${allow.includes(',') ? 'are' : 'is'}`, code: 'SMSC_ERR_HTTP_METHOD' }, { allow })
  }

  // ---- the console (static files built by console/build.js)
  app.get('/*', (res: any, req: any) => {
    let url = req.getUrl()
    if (url.startsWith('/api/')) return unrouted(res, req)
    if (url === '/' || !consoleFiles.has(url)) url = '/index.html'
    const f = consoleFiles.get(url)
    if (!f) return fail(res, '503 Service Unavailable', 'the console is not built: run npm run build', 'SMSC_ERR_HTTP_NOT_FOUND')
    res.cork(() => head(res, '200 OK', true).writeHeader('content-type', f.type)
      .writeHeader('cache-control', url === '/index.html' || url === '/sw.js' ? 'no-cache' : 'max-age=3600').end(f.body))
  })
  app.any('/*', unrouted)

  /** Each (format, topics, scope) group is a uWebSockets.js topic; its subscribers share one encode. */
  const groups = new Map<string, { d: WsData; n: number }>()
  const encode = (d: WsData, frame: Record<string, unknown>, removedOf: readonly string[]) => {
    const p = d.scoped
    // An event is shown only if it happened to the account it sees: not to an earlier account of that name.
    const sees = (id: string, at?: number) => smsc.admin.canSee(p!, id) && (at === undefined || at >= (smsc.store.getAccount(id)?.createdAt ?? Infinity))
    const f = filterFrame(frame, d.topics, d.eventsOf, p ? { sees, removedOf } : undefined)
    return d.format === 'json' ? JSON.stringify(f) : pack(f)
  }
  /** A client gets deltas (is subscribed to its group's topic) only after a snapshot. */
  function sendSnapshot(ws: any, d: WsData): void {
    const cur = smsc.telemetryFrames()
    if (!cur) { d.stale = true; return } // before the first tick: the first publish sends one
    ws.send(encode(d, cur.snapshot, cur.removedOf), d.format !== 'json')
    d.stale = false
    ws.subscribe(d.group)
  }

  /**
   * Telemetry sockets live longer than requests: one whose login token has ended (a password change, a
   * logout, dropped for a newer login) is closed with 4001, at once for the first two, else within
   * REVALIDATE_MS. The check is use of the token, as a request is: an open stream keeps its login alive.
   */
  let revalidatedAt = Date.now()
  function endRevoked(): void {
    revalidatedAt = Date.now()
    for (const ws of [...clients]) if (!auth.check((ws.getUserData() as WsData).token)) ws.end(4001, 'login ended: log in again')
  }

  /**
   * A scoped stream's deltas only patch what it already has: a user removed, or moved to another reseller, would
   * stay on its screen (its binds' removal is no longer its to see) and a user moved in would never show. So on
   * any account change each scoped client leaves its topic and gets a snapshot at the next tick, as a lagging one.
   */
  function scopeChanged(): void {
    for (const ws of clients) {
      const d = ws.getUserData() as WsData
      if (d.scoped && !d.stale) { d.stale = true; ws.unsubscribe(d.group) }
    }
  }

  /** One encode and one uWS publish per group per tick; stale clients get a snapshot instead. */
  function publish(frames: TickFrames): void {
    if (clients.size === 0) return
    if (Date.now() - revalidatedAt > REVALIDATE_MS) endRevoked()
    // A client over the limit loses this delta (uWS drops it): it needs a snapshot when it drains.
    // A lagging client leaves its topic (no more deltas) until it has drained and had a snapshot.
    const catchUp: any[] = []
    for (const ws of [...clients]) {
      const d = ws.getUserData() as WsData
      // A reseller's or user's stream ends with its account (suspended, removed) or when its allowedIps no longer
      // admit the client, as a request would be refused (checked every tick, a cached read).
      const a = d.scoped ? smsc.store.getAccount(d.scoped.systemId as string) : undefined
      if (d.scoped && (!a || a.suspended)) { ws.end(4003, `account ${d.scoped.systemId} is ${a ? 'suspended' : 'removed'}`); continue }
      if (a && !ipAllowed(a.allowedIps, d.remote)) { ws.end(4003, ipRefusal(a.systemId, d.remote)); continue }
      if (ws.getBufferedAmount() > maxBufferedBytes) {
        if (!d.stale) { d.stale = true; ws.unsubscribe(d.group) }
      } else if (d.stale) catchUp.push(ws)
    }
    for (const [group, { d }] of groups) app.publish(group, encode(d, frames.delta, frames.removedOf), d.format !== 'json')
    // After the delta: the snapshot of this same tick, then the deltas of the next ticks.
    for (const ws of catchUp) sendSnapshot(ws, ws.getUserData() as WsData)
  }

  // LIBUS_LISTEN_EXCLUSIVE_PORT (1): a port in use fails the start instead of being shared (SO_REUSEPORT).
  const listen = (a: any, host: string, port: number, what: string): Promise<unknown> => new Promise((resolve, reject) => {
    a.listen(host, port, 1, (token: unknown) => token ? resolve(token)
      : reject(smscError('SMSC_ERR_LISTEN_FAILED', `cannot listen for ${what} on ${host}:${port} (in use, or not an address of this machine${what === 'HTTPS' ? ', or tls.cert/tls.key unreadable' : ''})`)))
  })
  /** Once closed, a certificate reload (a SIGHUP while stopping) does nothing: its listen socket is gone. */
  let closed = false
  return (async () => {
    const tokens = [await listen(apps[0], o.host, o.port, 'HTTP')]
    try {
      if (apps.length > 1) tokens.push(await listen(apps[1], o.tlsHost ?? '0.0.0.0', o.tlsPort as number, 'HTTPS'))
    } catch (e) {
      uWS.us_listen_socket_close(tokens[0])
      throw e
    }
    return {
      port: uWS.us_socket_local_port(tokens[0]),
      routes,
      tlsPort: tokens.length > 1 ? uWS.us_socket_local_port(tokens[1]) : null,
      publish,
      scopeChanged,
      subscribers: () => clients.size,
      reloadTls: () => {
        if (closed || tokens.length < 2 || !o.tls) return false
        const port = uWS.us_socket_local_port(tokens[1])
        const host = o.tlsHost ?? '0.0.0.0'
        const fresh = sslApp(o.tls)
        for (const [method, args] of secureSetup) fresh[method](...args)
        // The port is exclusive: the old app stops listening, the new one starts (uWS listens synchronously).
        uWS.us_listen_socket_close(tokens[1])
        let token: unknown = null
        fresh.listen(host, port, 1, (t: unknown) => { token = t })
        if (!token) {
          secureApp.listen(host, port, 1, (t: unknown) => { token = t })
          if (token) tokens[1] = token
          throw smscError('SMSC_ERR_LISTEN_FAILED', `HTTPS with the renewed certificate cannot listen on ${host}:${port}: ${token ? 'the old certificate serves on' : 'HTTPS is down until a restart'}`)
        }
        tokens[1] = token
        secureApp = fresh
        apps.push(fresh)
        return true
      },
      tick: () => { const t = Date.now(); lockouts.tick(t); crossOrigins.tick(t) },
      close: async () => {
        closed = true
        for (const token of tokens) uWS.us_listen_socket_close(token)
        for (const ws of clients) ws.end(1001, 'server stopping')
        clients.clear()
      },
    }
  })()
}
