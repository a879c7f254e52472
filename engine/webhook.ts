/**
 * The webhook sender: POSTs batches of events (receipts, MO) as one JSON array per request to an
 * account's webhook URL. It owns the HTTP side only: a request timeout, a cap on requests in
 * flight (the rest wait in a FIFO) and the answer (ok on 2xx, the HTTP status, 0 on a network
 * error or a timeout). Retries and back-off are the delivery actor's, from its durable queue: a
 * failed call here is reported once and forgotten. Redirects are not followed (a 3xx is a failure).
 *
 * Signatures (docs/API.md "Webhook signatures"): given the account's secret, each request carries
 * `X-Smsc-Timestamp: <unix seconds>` and `X-Smsc-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`,
 * computed when the request goes out (a retry is signed anew).
 *
 * The SSRF guard (engine/webhook-target.ts): a `guarded` call (a URL a reseller or user set) goes only
 * to public addresses unless `allowPrivateTargets`. A literal address or a local name is refused before
 * anything is sent; a name is resolved when the connection is made, every address it resolves to is
 * checked, and the socket connects to those very addresses (the lookup is the connection's own, so the
 * check cannot be raced by a second resolution), with the Host header and TLS SNI still the URL's name.
 * Guarded requests have their own connection pools, so they never reuse a socket an unchecked request
 * opened. A refusal answers (false, 0, why) at once and is logged at most once a minute per URL.
 */
import { createHmac } from 'node:crypto'
import dns from 'node:dns'
import http from 'node:http'
import https from 'node:https'
import { isIP, type LookupFunction } from 'node:net'
import type { LogFn } from './log'
import { addressRefusal, hostOf, localNameRefusal } from './webhook-target'

/** All the addresses of a name (dns.lookup with { all: true } by default). */
export type LookupAll = (hostname: string, cb: (err: NodeJS.ErrnoException | null, addresses: { address: string; family: number }[]) => void) => void

export interface WebhookSenderOptions {
  /** Per request, from the start of the request to the end of the answer's body (ms). */
  timeoutMs: number
  /** Requests in flight at once, over all URLs; further calls wait in order. */
  concurrency: number
  log: LogFn
  /** Config webhooks.allowPrivateTargets: guarded calls may go to private addresses too (default false). */
  allowPrivateTargets?: boolean
  /** How names of guarded calls are resolved (tests give their own); default dns.lookup, every address. */
  lookup?: LookupAll
  /** Why an address may not be a guarded target, or null (tests give their own); default addressRefusal. */
  refusal?: (ip: string) => string | null
  /** Refusals of one URL are logged at most once per this many ms (default 60 s). */
  refusalLogMs?: number
}

/** What a call may carry besides the URL and the events. */
export interface SendOptions {
  /** The account's webhook secret: the request is signed (X-Smsc-Timestamp, X-Smsc-Signature). */
  secret?: string | null
  /** The URL was set by a reseller or user: only public targets (unless allowPrivateTargets). */
  guarded?: boolean
  /** Whose webhook it is, for the logs. */
  systemId?: string
}

/** The answer of a call: ok on 2xx; the HTTP status, 0 without one; why the target was refused (guarded calls). */
export type SendCallback = (ok: boolean, status: number, refused?: string) => void

export const SIGNATURE_HEADER = 'x-smsc-signature'
export const TIMESTAMP_HEADER = 'x-smsc-timestamp'

/** `sha256=<hex>`: the HMAC-SHA256 of `${timestamp}.${body}` with `secret` as the key (the receiver computes the same). */
export function signature(secret: string, timestamp: number | string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`
}

interface Job {
  url: string
  body: string
  secret: string | null
  guarded: boolean
  systemId: string | undefined
  cb: SendCallback
}

/** A target refused by the guard (the lookup's error; the request never connects). */
class TargetRefused extends Error {
  readonly refused = true
}

const defaultLookup: LookupAll = (hostname, cb) => dns.lookup(hostname, { all: true, verbatim: true }, cb)

export class WebhookSender {
  private readonly queue: Job[] = []
  private head = 0
  private readonly inFlight = new Set<Promise<void>>()
  private stopping = false
  /** Connection pools: unchecked calls, and guarded ones (whose sockets all went to checked addresses). */
  private readonly agents = {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true }),
    guardedHttp: new http.Agent({ keepAlive: true }),
    guardedHttps: new https.Agent({ keepAlive: true }),
  }
  /** Per URL (redacted): when its last refusal was logged, and the refusals since. */
  private readonly refusalsLogged = new Map<string, { at: number; since: number }>()
  private readonly lookupAll: LookupAll
  private readonly refusal: (ip: string) => string | null
  /** The guarded calls' lookup: resolves, refuses unless every address is public, and hands the connection those addresses. */
  private readonly guardedLookup: LookupFunction

  constructor(private readonly opts: WebhookSenderOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new TypeError('WebhookSender concurrency must be a positive integer')
    if (!(opts.timeoutMs > 0)) throw new TypeError('WebhookSender timeoutMs must be a positive number of ms')
    this.lookupAll = opts.lookup ?? defaultLookup
    this.refusal = opts.refusal ?? addressRefusal
    this.guardedLookup = ((hostname: string, options: { family?: number | string; all?: boolean }, cb: (...a: unknown[]) => void) => {
      this.lookupAll(hostname, (err, addresses) => {
        if (err) return cb(err)
        if (addresses.length === 0) return cb(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }))
        for (const a of addresses) {
          const why = this.refusal(a.address)
          if (why !== null) return cb(new TargetRefused(`${why} (${hostname} resolves to it)`))
        }
        const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : Number(options.family ?? 0)
        const usable = family === 4 || family === 6 ? addresses.filter((a) => a.family === family) : addresses
        if (usable.length === 0) return cb(Object.assign(new Error(`${hostname} has no IPv${family} address`), { code: 'ENOTFOUND' }))
        if (options.all) cb(null, usable)
        else cb(null, usable[0].address, usable[0].family)
      })
    }) as unknown as LookupFunction
  }

  /** Requests waiting for a free slot. */
  get queued(): number {
    return this.queue.length - this.head
  }

  /** Requests on the wire now. */
  get active(): number {
    return this.inFlight.size
  }

  /**
   * POSTs `events` as one JSON array to `url` (one request per call); `cb(ok, httpStatus, refused?)`: ok
   * on 2xx, status 0 on a network error, a timeout or a refused target (then `refused` says why). Signed
   * when `o.secret` is given; `o.guarded`: the target must be public (module comment). Beyond
   * `concurrency` requests in flight the call waits its turn. After stop() the callback answers (false, 0)
   * at once.
   */
  send(url: string, events: unknown[], cb: SendCallback, o: SendOptions = {}): void {
    if (this.stopping) { cb(false, 0); return }
    this.queue.push({ url, body: JSON.stringify(events), secret: o.secret ?? null, guarded: o.guarded === true, systemId: o.systemId, cb })
    this.pump()
  }

  /** Refuses new calls, answers the waiting ones (false, 0) and waits for the requests in flight. */
  async stop(): Promise<void> {
    this.stopping = true
    const waiting = this.queue.splice(this.head)
    this.queue.length = 0
    this.head = 0
    for (const j of waiting) this.answer(j, false, 0)
    await Promise.all([...this.inFlight])
    for (const a of Object.values(this.agents)) a.destroy()
  }

  private pump(): void {
    while (this.inFlight.size < this.opts.concurrency && this.head < this.queue.length) {
      const job = this.queue[this.head++]
      // Compact the FIFO now and then instead of shifting on every call.
      if (this.head > 1024 && this.head * 2 > this.queue.length) { this.queue.splice(0, this.head); this.head = 0 }
      const p = this.post(job)
      this.inFlight.add(p)
      void p.finally(() => {
        this.inFlight.delete(p)
        if (!this.stopping) this.pump()
      })
    }
  }

  private post(job: Job): Promise<void> {
    let url: URL
    try {
      url = new URL(job.url)
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`not http(s): ${url.protocol}`)
    } catch (e) {
      this.opts.log('debug', 'webhook request failed', { url: redact(job.url), error: String((e as Error)?.message ?? e) })
      this.answer(job, false, 0)
      return Promise.resolve()
    }
    const checked = job.guarded && this.opts.allowPrivateTargets !== true
    const host = hostOf(url)
    const literal = isIP(host) !== 0
    if (checked) {
      // A literal address is connected to as it is (no lookup): judged here, as is a local name.
      const why = literal ? this.refusal(host) : localNameRefusal(host)
      if (why !== null) { this.refused(job, why); return Promise.resolve() }
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(job.body)),
      'user-agent': 'smsc-engine webhook',
    }
    if (job.secret) {
      const ts = Math.floor(Date.now() / 1000)
      headers[TIMESTAMP_HEADER] = String(ts)
      headers[SIGNATURE_HEADER] = signature(job.secret, ts, job.body)
    }
    const tls = url.protocol === 'https:'
    const agent = checked ? (tls ? this.agents.guardedHttps : this.agents.guardedHttp) : (tls ? this.agents.https : this.agents.http)
    return new Promise<void>((resolve) => {
      let status = 0
      let done = false
      const finish = (err?: unknown): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        if (err instanceof TargetRefused) this.refused(job, err.message)
        else {
          if (err !== undefined && status === 0) this.opts.log('debug', 'webhook request failed', { url: redact(job.url), error: String((err as Error)?.message ?? err) })
          this.answer(job, status >= 200 && status < 300, status)
        }
        resolve()
      }
      const req = (tls ? https : http).request(url, {
        method: 'POST', headers, agent,
        ...(checked && !literal ? { lookup: this.guardedLookup } : {}),
      }, (res) => {
        status = res.statusCode ?? 0
        // The answer's body is read (bounded by the same timeout) so the connection can be reused.
        res.on('error', () => { /* 'close' follows */ })
        res.on('end', () => finish())
        res.on('close', () => finish())
        res.resume()
      })
      req.on('error', (e) => finish(e))
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs)
      req.end(job.body)
    })
  }

  /** A guarded call whose target is not public: answered (false, 0, why); logged at most once per refusalLogMs per URL. */
  private refused(job: Job, why: string): void {
    const url = redact(job.url)
    const now = Date.now()
    const seen = this.refusalsLogged.get(url)
    if (seen === undefined || now - seen.at >= (this.opts.refusalLogMs ?? 60_000)) {
      this.opts.log('warn', 'webhook target refused: a webhook set by a reseller or user must point at a public address (config webhooks.allowPrivateTargets)', {
        ...(job.systemId !== undefined ? { systemId: job.systemId } : {}), url, why, ...(seen !== undefined && seen.since > 0 ? { refusedSinceLastLog: seen.since } : {}),
      })
      if (this.refusalsLogged.size >= 10_000) this.refusalsLogged.clear()
      this.refusalsLogged.set(url, { at: now, since: 0 })
    } else seen.since++
    this.answer(job, false, 0, why)
  }

  private answer(job: Job, ok: boolean, status: number, refused?: string): void {
    try {
      if (refused === undefined) job.cb(ok, status)
      else job.cb(ok, status, refused)
    } catch (e) {
      this.opts.log('error', 'webhook callback failed', { error: String((e as Error)?.stack ?? e) })
    }
  }
}

/** A URL for the logs: user info and query string (which may carry secrets) left out. */
export function redact(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}`
  } catch {
    return '(invalid url)'
  }
}
