/**
 * The HTTP connector: delivers each destination of a message as one JSON POST to an upstream URL
 * (an SMS gateway's HTTP API, a test sink). It owns its keep-alive agent, the cap on requests in
 * flight, its send rate and its up/down state; the dispatcher owns retries and failover.
 *
 * Request body: { id, from, to, text, binary, dataCoding, esmClass }: `text` is the decoded text
 * when data_coding is a text coding (GSM 03.38, IA5, Latin-1, UCS2; UDH removed), `binary` is
 * always the octets as sent by the ESME (hex, UDH included when esmClass has UDHI).
 *
 * Answers: 2xx → DELIVERED err 0 with receipts 'none' (the provider's id is only logged); with receipts
 * 'callback', `accepted` with the provider's id (at `answerId` in the JSON answer), whose receipt comes by
 * the provider's callback, or UNKNOWN when the answer has no id (no callback could ever be matched);
 * 4xx other than 408/429 → REJECTED with err = the HTTP status; 408, 429, 5xx, network errors and
 * timeouts → retry. Three network/5xx failures in a row take the connector down; while down it
 * sends one request per tick as a probe, and the first answer that is not a failure brings it up.
 *
 * Hot path: no timer and no event per request. The engine's tick checks the deadlines of the
 * requests in flight (they are in start order, so the scan stops at the first one not yet due)
 * and reports the answers collected since the last tick as one batch per kind of event.
 *
 * Callbacks that overtake the answer: a provider may call back before its 2xx reaches us, or before the
 * tick reports it. So a callback's receipts wait here (`callbackReceipts`) until every request started before
 * they came has been answered (or timed out), and go to the dispatcher right after those answers:
 * the provider's id is then known, and the receipt matches. The wait is at most timeoutMs.
 */
import http from 'node:http'
import https from 'node:https'
import { MessageState } from '../../engine/protocol/constants'
import { codingOfDcs } from '../../engine/protocol/text/charsets'
import { recordText } from '../../engine/message'
import { RepeatedLog, type LogFn } from '../../engine/log'
import { idAt } from '../../engine/provider-receipts'
import type { HttpConnectorOptions } from '../../engine/config'
import type { Connector, ConnectorEvents, ConnectorOutcome, ConnectorStats, Dispatch, UpstreamReceipt } from './types'

/** The connector's config: `connectors[i]` of kind 'http', checked and defaulted by engine/config.ts (docs/CONNECTORS.md). */
export type HttpConnectorConfig = HttpConnectorOptions

/** Network/5xx failures in a row that take the connector down. */
export const DOWN_AFTER_FAILURES = 3
/** Answer bodies are read up to this size (the `id` is all we want from them). */
const MAX_ANSWER = 64 * 1024

interface InFlight {
  /** start order (1, 2, …): a callback waits for the requests started before it */
  seq: number
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
  /** requests started so far */
  private seq = 0
  /** callbacks' receipts waiting for the answers to the requests started before them (`after`: the last one) */
  private waiting: { after: number; items: UpstreamReceipt[]; stored: () => void }[] = []
  /** 2xx answers without an id in receipts 'callback' (UNKNOWN): warned about, rate-limited */
  private readonly noId: RepeatedLog

  constructor(private readonly cfg: HttpConnectorConfig, private readonly events: ConnectorEvents, private readonly log: LogFn = () => {}) {
    this.id = cfg.id
    this.url = new URL(cfg.url)
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') throw new TypeError(`connector ${cfg.id}: url must be http: or https: (got ${cfg.url})`)
    const Agent = this.url.protocol === 'https:' ? https.Agent : http.Agent
    this.agent = new Agent({ keepAlive: true, maxSockets: cfg.concurrency })
    this.headers = { ...cfg.headers, 'content-type': 'application/json' }
    this.tokens = cfg.ratePerSecond > 0 ? cfg.ratePerSecond : Infinity
    this.noId = new RepeatedLog(log, {
      level: 'warn', keyName: 'connector',
      first: `HTTP provider accepted a message without an id at answerId: its receipt cannot be matched, the message is UNKNOWN (check answerId, docs/CONNECTORS.md)`,
      more: 'more HTTP provider answers without an id: UNKNOWN',
    })
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
    this.release()
    this.noId.tick(now)
  }

  /**
   * Receipts from the provider's callback (receipts 'callback'): passed on to the engine as soon as every
   * request started before they came has been answered and reported (see the header), `stored` as the
   * engine's receipts contract says (called once what they cause is committed).
   */
  callbackReceipts(items: UpstreamReceipt[], stored: () => void): void {
    this.waiting.push({ after: this.seq, items, stored })
    this.release()
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
    this.release()
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
    const f: InFlight = { seq: ++this.seq, item, req, deadline: now + this.cfg.timeoutMs, done: false }
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
      const upstreamId = idAt(body, this.cfg.answerId)
      if (this.cfg.receipts === 'none') {
        // Final at once: this provider sends no receipt, so its id is only logged (no id map to keep).
        this.outcomes.push({ id: r.id, dest: item.dest, state: MessageState.DELIVERED, err: 0, rev: r.rev ?? 0 })
        if (upstreamId !== null) this.log('debug', 'HTTP provider id', { connector: this.id, id: r.id, upstreamId })
      } else if (upstreamId !== null) {
        // Taken, not delivered: the provider's callback brings the outcome, matched by this id (as an SMPP upstream's receipt).
        this.accepted.push({ id: r.id, dest: item.dest, upstreamId })
      } else {
        // No id, so no callback can ever be matched: UNKNOWN, rather than a DELIVRD the provider never said.
        this.outcomes.push({ id: r.id, dest: item.dest, state: MessageState.UNKNOWN, err: 0, rev: r.rev ?? 0 })
        this.noId.add(this.id, { id: r.id, answerId: this.cfg.answerId, status }, Date.now())
      }
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

  /** Hands on the callbacks' receipts whose earlier requests are all answered, right after those answers. */
  private release(): void {
    if (this.waiting.length === 0) return
    let oldest = Infinity // the first request still on the wire (the map is in start order)
    for (const f of this.inFlight.keys()) { oldest = f.seq; break }
    let n = 0
    while (n < this.waiting.length && this.waiting[n].after < oldest) n++
    if (n === 0) return
    this.flush() // the answers' ids reach the dispatcher before the receipts that name them
    for (const w of this.waiting.splice(0, n)) this.events.receipts(w.items, w.stored)
  }

  /** Reports what was answered since the last flush: at most one call per kind of event. */
  private flush(): void {
    if (this.outcomes.length > 0) { const o = this.outcomes; this.outcomes = []; this.events.outcomes(o) }
    if (this.accepted.length > 0) { const a = this.accepted; this.accepted = []; this.events.accepted(a) }
    if (this.retries.length > 0) { const r = this.retries; this.retries = []; this.events.retry(r, this.retryReason) }
  }
}
