/**
 * The HTTP connector: delivers each destination of a message as one JSON POST to an upstream URL
 * (an SMS gateway's HTTP API, a test sink). It owns its keep-alive agent, the cap on requests in
 * flight, its send rate and its up/down state; the dispatcher owns retries and failover.
 *
 * Request body: { id, from, to, text, binary, dataCoding, esmClass }: `text` is the decoded text
 * when data_coding is a text coding (GSM 03.38, IA5, Latin-1, UCS2; UDH removed), `binary` is
 * always the octets as sent by the ESME (hex, UDH included when esmClass has UDHI).
 *
 * Answers: 2xx → DELIVERED err 0 (and `accepted` with the answer's JSON `id` when it has one);
 * 4xx other than 408/429 → REJECTED with err = the HTTP status; 408, 429, 5xx, network errors and
 * timeouts → retry. Three network/5xx failures in a row take the connector down; while down it
 * sends one request per tick as a probe, and the first answer that is not a failure brings it up.
 *
 * Hot path: no timer and no event per request. The engine's tick checks the deadlines of the
 * requests in flight (they are in start order, so the scan stops at the first one not yet due)
 * and reports the answers collected since the last tick as one batch per kind of event.
 */
import http from 'node:http'
import https from 'node:https'
import { MessageState } from '../../engine/protocol/constants'
import { codingOfDcs } from '../../engine/protocol/text/charsets'
import { recordText } from '../../engine/message'
import type { LogFn } from '../../engine/log'
import type { HttpConnectorOptions } from '../../engine/config'
import type { Connector, ConnectorEvents, ConnectorOutcome, ConnectorStats, Dispatch } from './types'

/** The connector's config: `connectors[i]` of kind 'http', checked and defaulted by engine/config.ts (docs/CONNECTORS.md). */
export type HttpConnectorConfig = HttpConnectorOptions

/** Network/5xx failures in a row that take the connector down. */
export const DOWN_AFTER_FAILURES = 3
/** Answer bodies are read up to this size (the `id` is all we want from them). */
const MAX_ANSWER = 64 * 1024

interface InFlight {
  item: Dispatch
  req: http.ClientRequest
  deadline: number
  done: boolean
}

export class HttpConnector implements Connector {
  readonly kind = 'http' as const
  readonly id: string
  private readonly url: URL
  private readonly agent: http.Agent
  private readonly headers: Record<string, string>
  private readonly inFlight = new Map<InFlight, true>() // insertion (= start) order: deadlines ascend
  private isUp = true
  private failures = 0
  private probeAllowed = false
  private tokens: number
  private lastRefill = 0
  private sent = 0
  private failed = 0
  private stopped = false
  private started = false
  // answers of this turn, reported as batches
  private outcomes: ConnectorOutcome[] = []
  private accepted: { id: string; dest: number; upstreamId: string }[] = []
  private retries: Dispatch[] = []
  private retryReason = ''
  private drained: (() => void) | null = null

  constructor(private readonly cfg: HttpConnectorConfig, private readonly events: ConnectorEvents, private readonly log: LogFn = () => {}) {
    this.id = cfg.id
    this.url = new URL(cfg.url)
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') throw new TypeError(`connector ${cfg.id}: url must be http: or https: (got ${cfg.url})`)
    const Agent = this.url.protocol === 'https:' ? https.Agent : http.Agent
    this.agent = new Agent({ keepAlive: true, maxSockets: cfg.concurrency })
    this.headers = { ...cfg.headers, 'content-type': 'application/json' }
    this.tokens = cfg.ratePerSecond > 0 ? cfg.ratePerSecond : Infinity
  }

  get up(): boolean {
    return this.isUp && !this.stopped
  }

  /** Down, and a probe request may go now (one per tick, none while one is on the wire). */
  get probing(): boolean {
    return !this.isUp && !this.stopped && this.probeAllowed && this.inFlight.size === 0
  }

  start(): void {
    if (this.started) return
    this.started = true
    this.events.up()
  }

  submit(items: Dispatch[], now: number): Dispatch[] {
    if (this.stopped || !this.started) return items
    this.refill(now)
    let room = Math.min(this.cfg.concurrency - this.inFlight.size, Math.floor(this.tokens))
    // Down: one probe per tick, and only when nothing else is on the wire.
    if (!this.isUp) room = this.probeAllowed && this.inFlight.size === 0 ? Math.min(room, 1) : 0
    if (room <= 0) return items
    const take = Math.min(room, items.length)
    for (let i = 0; i < take; i++) this.post(items[i], now)
    if (!this.isUp) this.probeAllowed = false
    if (this.tokens !== Infinity) this.tokens -= take
    return take === items.length ? [] : items.slice(take)
  }

  tick(now: number): void {
    this.refill(now)
    if (!this.isUp) this.probeAllowed = true
    // In start order: the first one not yet due ends the scan.
    for (const f of this.inFlight.keys()) {
      if (f.deadline > now) break
      this.finish(f, 'timeout', 0)
      f.req.destroy()
    }
    this.flush()
  }

  stats(): ConnectorStats {
    return { id: this.id, kind: 'http', up: this.up, inFlight: this.inFlight.size, sent: this.sent, failed: this.failed }
  }

  /** Waits for the requests in flight (up to timeoutMs), then hands what is left to retry(). */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.inFlight.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.cfg.timeoutMs)
        this.drained = () => { clearTimeout(timer); resolve() }
      })
      this.drained = null
    }
    for (const f of [...this.inFlight.keys()]) {
      this.finish(f, 'connector stopped', 0)
      f.req.destroy()
    }
    this.flush()
    this.agent.destroy()
  }

  private refill(now: number): void {
    const rate = this.cfg.ratePerSecond
    if (rate <= 0) return
    if (this.lastRefill === 0) { this.lastRefill = now; return }
    const dt = now - this.lastRefill
    if (dt <= 0) return
    // A bucket of one second's worth: a burst never exceeds the configured rate over a second.
    this.tokens = Math.min(rate, this.tokens + (dt * rate) / 1000)
    this.lastRefill = now
  }

  private post(item: Dispatch, now: number): void {
    const r = item.record
    const coding = codingOfDcs(r.dataCoding)
    const body = JSON.stringify({
      id: r.id,
      from: r.src[2],
      to: r.dests[item.dest].addr[2],
      text: coding === null || coding === 'binary' ? null : recordText(r),
      binary: r.sm.toString('hex'),
      dataCoding: r.dataCoding,
      esmClass: r.esmClass,
    })
    const req = (this.url.protocol === 'https:' ? https : http).request(this.url, {
      method: 'POST',
      agent: this.agent,
      headers: { ...this.headers, 'content-length': Buffer.byteLength(body) },
    })
    const f: InFlight = { item, req, deadline: now + this.cfg.timeoutMs, done: false }
    this.inFlight.set(f, true)
    req.on('response', (res) => {
      const status = res.statusCode ?? 0
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        size += c.length
        if (size <= MAX_ANSWER) chunks.push(c)
      })
      res.on('end', () => this.finish(f, 'answer', status, size <= MAX_ANSWER ? Buffer.concat(chunks) : null))
      res.on('error', (e) => this.finish(f, e.message, 0))
    })
    req.on('error', (e) => this.finish(f, e.message, 0))
    req.end(body)
  }

  /** Classifies one answer (status 0: no answer) and queues its event for the next tick. */
  private finish(f: InFlight, why: string, status: number, body: Buffer | null = null): void {
    if (f.done) return
    f.done = true
    this.inFlight.delete(f)
    const { item } = f
    const r = item.record
    if (status >= 200 && status < 300) {
      this.sent++
      // Final at once: an HTTP provider sends no receipt, so its id is only logged (no id map to keep).
      this.outcomes.push({ id: r.id, dest: item.dest, state: MessageState.DELIVERED, err: 0, rev: r.rev ?? 0 })
      const upstreamId = idOf(body)
      if (upstreamId !== null) this.log('debug', 'HTTP provider id', { connector: this.id, id: r.id, upstreamId })
      this.alive()
    } else if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      this.failed++
      this.outcomes.push({ id: r.id, dest: item.dest, state: MessageState.REJECTED, err: status, rev: r.rev ?? 0 })
      this.alive()
    } else {
      this.failed++
      this.retries.push(item)
      this.retryReason = status === 0 ? `${this.id}: ${why}` : `${this.id}: HTTP ${status}`
      if (status === 0 || status >= 500) {
        if (++this.failures >= DOWN_AFTER_FAILURES && this.isUp && !this.stopped) {
          this.isUp = false
          this.probeAllowed = false
          this.log('warn', 'HTTP connector down', { connector: this.id, reason: this.retryReason })
          this.events.down(this.retryReason)
        }
      } else {
        // 408/429: the upstream is there, only busy
        this.alive()
      }
    }
    if (this.inFlight.size === 0 && this.drained) this.drained()
  }

  /** The upstream answered: the failure run ends and a down connector comes back up. */
  private alive(): void {
    this.failures = 0
    if (!this.isUp) {
      this.isUp = true
      this.log('info', 'HTTP connector up', { connector: this.id })
      if (!this.stopped) this.events.up()
    }
  }

  /** Reports what was answered since the last flush: at most one call per kind of event. */
  private flush(): void {
    if (this.outcomes.length > 0) { const o = this.outcomes; this.outcomes = []; this.events.outcomes(o) }
    if (this.accepted.length > 0) { const a = this.accepted; this.accepted = []; this.events.accepted(a) }
    if (this.retries.length > 0) { const r = this.retries; this.retries = []; this.events.retry(r, this.retryReason) }
  }
}

/** The upstream's message id: the answer's JSON `id` (string or number), else null. */
function idOf(body: Buffer | null): string | null {
  if (!body || body.length === 0) return null
  try {
    const j = JSON.parse(body.toString('utf8')) as { id?: unknown }
    if (typeof j?.id === 'string' && j.id.length > 0) return j.id
    if (typeof j?.id === 'number' && Number.isFinite(j.id)) return String(j.id)
  } catch {
    // not JSON: no id
  }
  return null
}
