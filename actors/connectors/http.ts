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
 * Down with no traffic, nothing would ever find out that the provider is back (/healthz, smsc_connector_up and
 * failover would wait for a message): so, with nothing on the wire, the connector probes the provider on its own,
 * a HEAD to probeUrl (else url) after probeMs[0], then twice as long after each failed probe up to probeMs[1]. Any
 * HTTP answer below 500 brings it up: a 404 or a 405 (no HEAD there) or a 401 still proves the provider answers,
 * as a 4xx to a message does; a 5xx, a network error or no answer within timeoutMs keeps it down. One probe at a
 * time, started and timed out by the engine's tick: no timer of its own. The wait starts over at probeMs[0] only
 * once a message is taken (a 2xx): a provider that answers a HEAD but fails our messages flaps less and less often.
 *
 * 429 (Too Many Requests): the provider asks us to send less, so the connector pauses (`paused`), as an smpp
 * connector does at ESME_RTHROTTLED: no request for throttlePauseMs[0], or for the answer's Retry-After (seconds
 * or an HTTP date) kept within throttlePauseMs; 429s to what was already on the wire belong to that pause, one to
 * what goes after it starts the next, twice as long (up to throttlePauseMs[1]); a 2xx sets it back. One warning
 * per throttling episode, an info line when it ends.
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
import type { ConnectorRetryReason } from '../../engine/telemetry'
import { THROTTLING_QUIET_MS } from './smpp-client'
import type { Connector, ConnectorEvents, ConnectorOutcome, ConnectorStats, Dispatch, UpstreamReceipt } from './types'

/** The connector's config: `connectors[i]` of kind 'http', checked and defaulted by engine/config.ts (docs/CONNECTORS.md). */
export type HttpConnectorConfig = HttpConnectorOptions

/** Network/5xx failures in a row that take the connector down. */
export const DOWN_AFTER_FAILURES = 3
/** Answer bodies are read up to this size (the `id` is all we want from them). */
const MAX_ANSWER = 64 * 1024

/**
 * A Retry-After header (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) in ms from `now`; null when absent or unreadable.
 */
export function retryAfterMs(v: string | undefined, now: number): number | null {
  if (v === undefined) return null
  const s = v.trim()
  if (/^\d+$/.test(s)) return Number(s) * 1000
  const at = Date.parse(s)
  return Number.isNaN(at) ? null : Math.max(0, at - now)
}

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
  /** Down with nothing on the wire: the provider's own probe (a HEAD), one at a time; `probeAt`: when the next may go. */
  private probe: { req: http.ClientRequest; deadline: number } | null = null
  private probeAt = 0
  /**
   * The wait before the next probe (probeMs): doubles at each probe, failed or answered (a provider that answers a HEAD
   * and fails our messages comes up and goes down less and less often), back to the minimum once a message is taken.
   */
  private probeMs: number
  private readonly probeUrl: URL
  /** Paused by a 429: no request goes before pausedUntil; cleared by tick(). */
  private isPaused = false
  private pausedUntil = 0
  /** The length of the next pause without Retry-After (throttlePauseMs: doubles, back to the minimum at a 2xx). */
  private pauseMs: number
  /** The throttling episode under way: its one warning went, its end is logged after THROTTLING_QUIET_MS without a 429. */
  private throttling: { since: number; last: number; refusals: number; pauses: number } | null = null
  private tokens: number
  private lastRefill = 0
  private sent = 0
  private failed = 0
  private stopped = false
  private started = false
  // answers of this turn, reported as batches
  private outcomes: ConnectorOutcome[] = []
  private accepted: { id: string; dest: number; upstreamId: string }[] = []
  /** by the reason smsc_connector_retries_total counts them under ('' for none: a network error), with the last reason said */
  private retries = new Map<ConnectorRetryReason | '', { items: Dispatch[]; reason: string }>()
  private drained: (() => void) | null = null
  /** requests started so far */
  private seq = 0
  /** callbacks' receipts waiting for the answers to the requests started before them (`after`: the last one) */
  private waiting: { after: number; items: UpstreamReceipt[]; stored: () => void }[] = []
  /** 2xx answers without an id in receipts 'callback' (UNKNOWN): warned about, rate-limited */
  private readonly noId: RepeatedLog

  constructor(
    private readonly cfg: HttpConnectorConfig,
    private readonly events: ConnectorEvents,
    private readonly log: LogFn = () => {},
    private readonly now: () => number = Date.now,
  ) {
    this.id = cfg.id
    this.url = new URL(cfg.url)
    this.probeUrl = cfg.probeUrl === null ? this.url : new URL(cfg.probeUrl)
    this.probeMs = cfg.probeMs[0]
    this.pauseMs = cfg.throttlePauseMs[0]
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

  /** Up, but sending nothing until its throttling pause (a 429) is over (a boolean: the dispatcher reads it per destination). */
  get paused(): boolean {
    return this.isPaused
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
    if (this.stopped || !this.started || this.isPaused) return items
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
    if (this.isPaused && now >= this.pausedUntil) this.isPaused = false
    if (this.throttling !== null && now - this.throttling.last >= THROTTLING_QUIET_MS) {
      const { since, last, refusals, pauses } = this.throttling
      this.throttling = null
      this.log('info', 'upstream throttling over', { connector: this.id, refusals, pauses, forMs: last - since })
    }
    if (!this.isUp) this.probeAllowed = true
    if (this.probe !== null && this.probe.deadline <= now) this.probeFailed('timeout', now)
    else if (this.probe === null && !this.isUp && this.started && !this.stopped && this.inFlight.size === 0 && now >= this.probeAt) this.sendProbe(now)
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
    return {
      id: this.id, kind: 'http', up: this.up, inFlight: this.inFlight.size, sent: this.sent, failed: this.failed,
      paused: this.isPaused ? new Date(this.pausedUntil).toISOString() : null,
    }
  }

  /** Waits for the requests in flight (up to timeoutMs), then hands what is left to retry(). */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.endProbe()
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
      const retryAfter = status === 429 ? res.headers['retry-after'] : undefined
      res.on('end', () => this.finish(f, 'answer', status, size <= MAX_ANSWER ? Buffer.concat(chunks) : null, retryAfter))
      res.on('error', (e) => this.finish(f, e.message, 0))
    })
    req.on('error', (e) => this.finish(f, e.message, 0))
    req.end(body)
  }

  /** Classifies one answer (status 0: no answer) and queues its event for the next tick. */
  private finish(f: InFlight, why: string, status: number, body: Buffer | null = null, retryAfter?: string): void {
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
      // Taken: the next pause, and the probes of a next outage, start from the minimum again.
      this.pauseMs = this.cfg.throttlePauseMs[0]
      this.probeMs = this.cfg.probeMs[0]
      this.alive()
    } else if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      this.failed++
      this.outcomes.push({ id: r.id, dest: item.dest, state: MessageState.REJECTED, err: status, rev: r.rev ?? 0 })
      this.alive()
    } else {
      this.failed++
      // Counted as an smpp connector's: 429 throttled, no answer in time (ours or the provider's 408) a time-out, 5xx
      // server_error; a connection that failed is not (a lost link).
      const counted = status === 429 ? 'throttled' : status === 408 || why === 'timeout' ? 'timeout' : status >= 500 ? 'server_error' : ''
      this.addRetry(item, status === 0 ? `${this.id}: ${why}` : `${this.id}: HTTP ${status}`, counted)
      if (status === 429) this.pause(retryAfterMs(retryAfter, this.now()))
      if (status === 0 || status >= 500) {
        if (++this.failures >= DOWN_AFTER_FAILURES && this.isUp && !this.stopped) {
          const reason = status === 0 ? `${this.id}: ${why}` : `${this.id}: HTTP ${status}`
          this.isUp = false
          this.probeAllowed = false
          // probeMs where it was: back at the minimum only once a message was taken (a 2xx), not at a probe's answer
          this.probeAt = this.now() + this.probeMs
          this.log('warn', 'HTTP connector down', { connector: this.id, reason, probeMs: this.probeMs })
          this.events.down(reason)
        }
      } else {
        // 408/429: the upstream is there, only busy
        this.alive()
      }
    }
    if (this.inFlight.size === 0 && this.drained) this.drained()
  }

  /** The upstream answered: the failure run ends and a down connector comes back up. */
  private alive(via = 'answer'): void {
    this.failures = 0
    if (!this.isUp) {
      this.isUp = true
      this.endProbe()
      this.log('info', 'HTTP connector up', { connector: this.id, via })
      if (!this.stopped) this.events.up()
    }
  }

  /**
   * A 429: no request goes for the Retry-After it gave (within throttlePauseMs), else for pauseMs. A 429 that comes
   * during a pause (to a request sent before it) belongs to it; one after it starts the next, and pauseMs doubles (up
   * to throttlePauseMs[1]). The dispatcher sends what it can elsewhere meanwhile (`paused`), the rest waits in the lane.
   */
  private pause(retryAfter: number | null): void {
    const now = this.now()
    const [min, max] = this.cfg.throttlePauseMs
    const ms = retryAfter === null ? this.pauseMs : Math.min(max, Math.max(min, retryAfter))
    if (this.throttling === null) {
      this.throttling = { since: now, last: now, refusals: 0, pauses: 0 }
      this.log('warn', 'upstream throttling: submits paused', { connector: this.id, status: 'HTTP 429', pauseMs: ms, retryAfterMs: retryAfter, maxMs: max })
    }
    this.throttling.last = now
    this.throttling.refusals++
    if (this.isPaused && now < this.pausedUntil) return
    this.throttling.pauses++
    this.isPaused = true
    this.pausedUntil = now + ms
    this.pauseMs = Math.min(max, this.pauseMs * 2)
  }

  /** The probe of a down connector with no traffic: a HEAD (no side effect at the provider), with the configured headers. */
  private sendProbe(now: number): void {
    const req = (this.probeUrl.protocol === 'https:' ? https : http).request(this.probeUrl, { method: 'HEAD', agent: this.agent, headers: this.cfg.headers })
    const probe = { req, deadline: now + this.cfg.timeoutMs }
    this.probe = probe
    req.on('response', (res) => {
      res.resume()
      if (this.probe !== probe) return
      const status = res.statusCode ?? 0
      // Any answer below 500 (a 404 or 405 too: no HEAD there) proves the provider answers, as a 4xx to a message does.
      if (status > 0 && status < 500) {
        this.probe = null
        // A provider that answers a HEAD but fails what we send goes down again: its next probes wait longer.
        this.probeMs = Math.min(this.cfg.probeMs[1], this.probeMs * 2)
        this.alive('probe')
        if (status === 429) this.pause(retryAfterMs(res.headers['retry-after'], this.now()))
      } else this.probeFailed(`HTTP ${status}`, this.now())
    })
    req.on('error', (e) => { if (this.probe === probe) this.probeFailed(e.message, this.now()) })
    req.end()
  }

  /** The probe failed: the next one goes twice as late (up to probeMs[1]). */
  private probeFailed(why: string, now: number): void {
    this.endProbe()
    if (this.isUp || this.stopped) return
    this.probeMs = Math.min(this.cfg.probeMs[1], this.probeMs * 2)
    this.probeAt = now + this.probeMs
    this.log('debug', 'HTTP connector probe failed', { connector: this.id, reason: why, nextInMs: this.probeMs })
  }

  private endProbe(): void {
    const p = this.probe
    this.probe = null
    if (p !== null) p.req.destroy()
  }

  /** `counted`: the reason smsc_connector_retries_total counts it under ('' for none). */
  private addRetry(item: Dispatch, reason: string, counted: ConnectorRetryReason | ''): void {
    let r = this.retries.get(counted)
    if (r === undefined) this.retries.set(counted, (r = { items: [], reason }))
    r.items.push(item)
    r.reason = reason
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
    if (this.retries.size > 0) {
      const r = this.retries
      this.retries = new Map()
      for (const [counted, { items, reason }] of r) this.events.retry(items, reason, counted === '' ? undefined : counted)
    }
  }
}
