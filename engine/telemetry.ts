/**
 * Telemetry: the counters the hot path bumps (plain increments and histogram records, batched
 * where the path is batched), and the hub that turns them into snapshot and delta frames every
 * interval (docs/TELEMETRY.md) and into the Prometheus text of /metrics. Nothing here runs per
 * PDU except an increment; frames are built once per tick, whatever the number of subscribers.
 */
import type { Bind, EventType, TelemetryEvent } from './wire'
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { Histogram } from './histogram'
import { statusName } from './protocol/constants'
import type { Session } from './session/session'
import { VERSION } from './config'

export interface AccountCounters {
  submitted: number
  rejected: number
  throttled: number
  delivered: number
  deliverFailed: number
  /** deliver_sm answered, by kind: [ok, failed]. */
  byKind: { receipt: [number, number]; mo: [number, number] }
  /** Receipts and MO discarded, never acknowledged within receipts.maxAgeMs (the delivery actor's tick), by kind. */
  discarded: { receipt: number; mo: number }
  /** Receipts made, by stat. */
  receipts: Record<string, number>
  /** submit responses by command_status (0 included). */
  statuses: Map<number, number>
}

export type { EventType, TelemetryEvent } from './wire'

const TL_COLUMNS = 5

export interface Timeline {
  received: number
  stored?: number
  carrier?: number
  receipt?: number
  stat?: string
  delivered?: number
}

const newCounters = (): AccountCounters => ({
  submitted: 0, rejected: 0, throttled: 0, delivered: 0, deliverFailed: 0, byKind: { receipt: [0, 0], mo: [0, 0] }, discarded: { receipt: 0, mo: 0 },
  receipts: {}, statuses: new Map(),
})

/** Counters and histograms, written by sessions, the store actor and the delivery actor. */
export class Metrics {
  /** This interval's latencies (µs); folded into the cumulative ones at each tick. */
  readonly submitLatency = new Histogram()
  readonly receiptLatency = new Histogram()
  readonly commitLatency = new Histogram()
  readonly submitLatencyAll = new Histogram()
  readonly receiptLatencyAll = new Histogram()
  readonly commitLatencyAll = new Histogram()
  /** Per connector: from a message's due time (its submit, or its schedule) to the connector's final outcome, µs
   *  (smsc_connector_final_seconds): which carrier is slow to deliver, or to send its receipts. */
  readonly connectorFinal = new Map<string, Histogram>()
  /** Duration of each telemetry tick (collect, encode, publish): what the live console costs. */
  readonly telemetryTick = new Histogram()
  readonly accounts = new Map<string, AccountCounters>()
  /** The connector's final-outcome histogram (made on its first outcome). */
  finalOf(connector: string): Histogram {
    let h = this.connectorFinal.get(connector)
    if (h === undefined) this.connectorFinal.set(connector, (h = new Histogram()))
    return h
  }
  /** Submits refused before bind (no account yet). */
  readonly unbound = newCounters()
  readonly totals = { submitted: 0, delivered: 0, receipts: 0, purged: 0, outbindAttempts: 0, outbindFailed: 0, outbindBound: 0, alertsSent: 0, alertsUnsent: 0, authFailures: 0, authLockoutRefusals: 0, crossOriginRefusals: 0, bindsRefused: 0, tlsHandshakeFailures: 0 }
  /** Destinations MT admission refused because they are on an opt-out list, by the list (smsc_optout_refused_total). */
  readonly optOuts = { global: 0, account: 0, reseller: 0 }
  /** SMPP connections closed at accept, by the cap they were over (smsc_connections_refused_total, engine/transport/unbound.ts). */
  readonly connectionsRefused = { unbound_total: 0, unbound_per_ip: 0, evicted: 0 }
  /** MO routes' auto-replies (docs/ROUTING.md "Auto-replies"), by what became of them (smsc_mo_reply_total). */
  readonly moReplies = { sent: 0, refused: 0, held: 0 }
  /** Upstream receipts that matched no message, by connector id (smsc_connector_receipts_unmatched_total). */
  readonly receiptsUnmatched = new Map<string, number>()
  /** Submits connectors handed back for retry, by connector and reason (smsc_connector_retries_total). */
  readonly connectorRetries = new Map<string, Record<ConnectorRetryReason, number>>()
  /** Event-loop delay (ms) of the last telemetry interval, set by the hub at each tick; for /metrics. */
  readonly eventLoop = { p50: 0, p99: 0, max: 0 }
  /**
   * The last reload (SIGHUP: TLS files, then the config file; Smsc.reload): whether all of it succeeded, and when the
   * config was last taken whole (the start, or the last reload that succeeded), ms. As Prometheus's own
   * prometheus_config_last_reload_successful and …_success_timestamp_seconds.
   */
  readonly configReload: { ok: boolean; at: number }
  /** When the certificate the TLS listeners serve (SMPP/TLS, HTTPS) stops being valid, s since the epoch; null without
   *  TLS (smsc_tls_cert_expiry_timestamp_seconds). Set at start and by each certificate reload. */
  tlsCertExpiry: number | null = null
  /** This start followed a run that did not stop cleanly (engine/lock.ts uncleanStop; smsc_unclean_start). */
  uncleanStart = false
  private readonly ring: TelemetryEvent[] = []
  private eventSeq = 0
  /**
   * Timelines of the last timelineSize messages, as columns of a ring indexed by the number in the message
   * id (ids are consecutive numbers, decimal or hex: slot = number % timelineSize), so keeping one costs no
   * object and no Map entry per message. (A Map of objects first, then a Map with a ring of keys: 2–4% of
   * the CPU and old-generation garbage at 30,000 messages/s.)
   */
  /**
   * Which id a slot holds, as numbers, not the id strings: a ring of 100,000 strings keeps each id
   * for seconds, so every one of them was promoted (young-map.ts). The id's number, and its length
   * plus 128 for hex: with the lower-case digits slot() accepts, these two give back the one string.
   */
  private readonly tlNum: Float64Array
  private readonly tlForm: Uint8Array
  /** Set by slot(): the number and form of the id it was given. */
  private idNum = 0
  private idForm = 0
  /** TL_COLUMNS per slot: received, stored, carrier, receipt, delivered; NaN = not yet. */
  private readonly tlT: Float64Array
  private readonly tlStat: (string | undefined)[]

  constructor(private readonly maxEvents = 500, private readonly timelineSize = 100_000, private readonly now: () => number = Date.now) {
    this.configReload = { ok: true, at: Date.now() } // the start (not `now`: a test's clock steps at each call)
    this.tlNum = new Float64Array(timelineSize).fill(NaN)
    this.tlForm = new Uint8Array(timelineSize)
    this.tlT = new Float64Array(timelineSize * TL_COLUMNS)
    this.tlStat = new Array(timelineSize)
  }

  account(systemId: string): AccountCounters {
    let c = this.accounts.get(systemId)
    if (c === undefined) this.accounts.set(systemId, (c = newCounters()))
    return c
  }

  /** Counts `n` submit responses with `status` for an account (a batch at a time on success). */
  submitted(c: AccountCounters, status: number, n = 1): void {
    c.statuses.set(status, (c.statuses.get(status) ?? 0) + n)
    if (status === 0) {
      c.submitted += n
      this.totals.submitted += n
    } else {
      c.rejected += n
      if (status === 0x58) c.throttled += n
    }
  }

  /** Destinations of one batch refused by opt-out lists (engine/optouts.ts), by the list that refused each. */
  optOutRefused(counts: { global: number; account: number; reseller: number }): void {
    this.optOuts.global += counts.global
    this.optOuts.account += counts.account
    this.optOuts.reseller += counts.reseller
  }

  /** A reload (SIGHUP) ended: all of it applied (`ok`), or some part refused. */
  configReloaded(ok: boolean): void {
    this.configReload.ok = ok
    if (ok) this.configReload.at = this.now()
  }

  /** Connector `connector` handed back `n` submits its upstream refused for now or did not answer (one batch). */
  connectorRetried(connector: string, reason: ConnectorRetryReason, n: number): void {
    let c = this.connectorRetries.get(connector)
    if (c === undefined) this.connectorRetries.set(connector, (c = { throttled: 0, queue_full: 0, system_error: 0, generic_nack: 0, timeout: 0, server_error: 0 }))
    c[reason] += n
  }

  /** An upstream receipt on this connector matched no message (docs/CONNECTORS.md, Receipt ids). */
  receiptUnmatched(connector: string): void {
    this.receiptsUnmatched.set(connector, (this.receiptsUnmatched.get(connector) ?? 0) + 1)
  }

  event(type: EventType, fields: Omit<TelemetryEvent, 'seq' | 't' | 'type'> = {}): void {
    if (type === 'auth_failure') this.totals.authFailures++
    else if (type === 'bind_refused') this.totals.bindsRefused++
    this.ring.push({ seq: ++this.eventSeq, t: this.now(), type, ...fields })
    if (this.ring.length > this.maxEvents) this.ring.shift()
  }

  /** Events after `seq` (all when 0), oldest first. */
  eventsSince(seq: number): TelemetryEvent[] {
    if (seq === 0) return this.ring.slice()
    let i = this.ring.length
    while (i > 0 && this.ring[i - 1].seq > seq) i--
    return this.ring.slice(i)
  }

  get lastEventSeq(): number { return this.eventSeq }

  /** The ring slot of a message id: decimal ids by their value, hex ones (a letter first) by theirs; -1 for anything else. */
  private slot(id: string): number {
    if (this.timelineSize === 0 || id.length === 0) return -1
    // The id's number: decimal if all digits, else lower-case hex (a loop: two regex tests per step were 1.5% of the CPU)
    let dec = 0
    let hex = 0
    let isDec = true
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i)
      let d: number
      if (c >= 48 && c <= 57) d = c - 48
      else if (c >= 97 && c <= 102) { d = c - 87; isDec = false } else return -1
      dec = dec * 10 + d
      hex = hex * 16 + d
    }
    const n = isDec ? dec : hex
    if (!Number.isSafeInteger(n) || id.length > 127) return -1
    this.idNum = n
    this.idForm = id.length + (isDec ? 0 : 128)
    return n % this.timelineSize
  }

  /** Whether slot s holds the id slot() was last given. */
  private holds(s: number): boolean {
    return this.tlNum[s] === this.idNum && this.tlForm[s] === this.idForm
  }

  timeline(id: string): Timeline | undefined {
    const s = this.slot(id)
    if (s < 0 || !this.holds(s)) return undefined
    const c = this.tlT
    const b = s * TL_COLUMNS
    const tl: Timeline = { received: c[b], stored: c[b + 1], carrier: c[b + 2] }
    if (!Number.isNaN(c[b + 3])) tl.receipt = c[b + 3]
    if (this.tlStat[s] !== undefined) tl.stat = this.tlStat[s]
    if (!Number.isNaN(c[b + 4])) tl.delivered = c[b + 4]
    return tl
  }

  /** Starts the timelines of a committed batch: received, stored and handed to the carrier. */
  accepted(records: readonly { id: string; submitAt: number }[], storedAt: number): void {
    const c = this.tlT
    for (const r of records) {
      const s = this.slot(r.id)
      if (s < 0) continue
      this.tlNum[s] = this.idNum
      this.tlForm[s] = this.idForm
      this.tlStat[s] = undefined
      const b = s * TL_COLUMNS
      c[b] = r.submitAt
      c[b + 1] = storedAt
      c[b + 2] = storedAt
      c[b + 3] = NaN
      c[b + 4] = NaN
    }
  }

  /** Records a later step (handed to an upstream connector, receipt, delivered) of a message whose timeline is still kept. */
  step(id: string, step: 'carrier' | 'receipt' | 'delivered', t: number, stat?: string): void {
    const s = this.slot(id)
    if (s < 0 || !this.holds(s)) return
    this.tlT[s * TL_COLUMNS + (step === 'carrier' ? 2 : step === 'receipt' ? 3 : 4)] = t
    if (stat !== undefined) this.tlStat[s] = stat
  }
}

// ---------------------------------------------------------------------------------------------- frames

/** A bind's row on the stream (engine/wire.ts Bind). */
export type BindRow = Bind

/**
 * THE reasons smsc_connector_retries_total counts a submit under that a connector's upstream refused for now or did
 * not answer (actors/connectors/smpp-client.ts maps its statuses to them, actors/connectors/http.ts its answers;
 * docs/TELEMETRY.md).
 */
export const CONNECTOR_RETRY_REASONS = {
  throttled: 'ESME_RTHROTTLED (0x58), HTTP 429: the connector pauses',
  queue_full: 'ESME_RMSGQFUL (0x14): the connector pauses',
  system_error: 'ESME_RSYSERR (0x08)',
  generic_nack: 'a generic_nack to the submit_sm',
  timeout: 'no submit_sm_resp within responseMs; no HTTP answer within timeoutMs, or a 408',
  server_error: 'an HTTP 5xx answer',
} as const
export type ConnectorRetryReason = keyof typeof CONNECTOR_RETRY_REASONS
/** The reasons each kind of connector has (their series start at 0 on /metrics). */
export const CONNECTOR_RETRY_REASONS_OF: Readonly<Record<'smpp' | 'http', readonly ConnectorRetryReason[]>> = {
  smpp: ['throttled', 'queue_full', 'system_error', 'generic_nack', 'timeout'],
  http: ['throttled', 'timeout', 'server_error'],
}

/** THE reasons GET /healthz says "degraded" for (smsc_health_problems{reason}). */
export const HEALTH_REASONS = {
  /** an upstream connector down that the operator did not stop: one problem per connector */
  connector_down: 'a connector is down',
  /** the overload guard refuses submits (overload.highWater) */
  overload: 'the overload guard refuses submits',
  /** the disk guard refuses submits (store.minFreeMiB) */
  disk: 'the disk guard refuses submits',
} as const
export type HealthReason = keyof typeof HEALTH_REASONS

/** What GET /healthz says (Smsc.health): starting (or stopping: SMPP does not listen), degraded with its problems, ok. */
export interface EngineHealth {
  status: 'ok' | 'degraded' | 'starting'
  problems: { reason: HealthReason; text: string }[]
}

export interface HubSources {
  sessions(): Iterable<{ session: Session; tls: boolean }>
  /** Every configured account, so idle ones show too. */
  accounts(): string[]
  pending(): Map<string, number>
  /** Messages not final yet, by account (a walk of the messages in flight: the hub calls it at most once a second). */
  inFlight(): Map<string, number>
  carrierInFlight(): number
  /** Destinations waiting for a connector, and each connector's link and counters. */
  connectors(): { backlog: number; list: { id: string; kind: 'simulator' | 'smpp' | 'http'; up: boolean; stopped?: true; paused?: string; inFlight: number; queued: number; sent: number; failed: number }[] }
  workers(): { threads: number; utilization: number; queued: number } | null
  /** The store's file size and the free space of its file system (bytes), for /metrics; null if they cannot be read. */
  storeSpace(): { bytes: number; free: number } | null
  /** The credit balance of every prepaid account, for /metrics. */
  balances(): Map<string, number>
  /** What /healthz says: its status, and the problems it names while degraded ([] when healthy). */
  health(): EngineHealth
  /** When the oldest receipt or MO waiting for each account with any was made (ms): a read of the head of its queue in
   *  the store per such account, at a scrape only. */
  pendingOldest(): Map<string, number>
}

export type Topic = 'binds' | 'accounts' | 'queues' | 'engine' | 'latency' | 'events'
export const TOPICS: readonly Topic[] = ['binds', 'accounts', 'queues', 'engine', 'latency', 'events']

export interface TickFrames {
  /** Full state; filtered per client topics before encoding. */
  snapshot: Record<string, unknown>
  delta: Record<string, unknown>
  /** The account of each bind in delta.binds.remove (same order; '' before bind): a scoped stream sends only its own. */
  removedOf: string[]
}

/** The part of the engine a reseller or user stream sees: its accounts (docs/TELEMETRY.md, Scoped streams). */
export const SCOPED_TOPICS: readonly Topic[] = ['binds', 'accounts', 'queues', 'events']

const LOOP_RESOLUTION_MS = 10
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d
const pct = (h: Histogram) => ({ count: h.count, p50: h.percentile(50) / 1000, p99: h.percentile(99) / 1000, p999: h.percentile(99.9) / 1000, max: h.max / 1000 })

interface Sample { t: number; submitted: number; delivered: number; receipts: number }

/** Adds the counters at `t` to samples that cover at least the last second (the rates are averaged over them). */
function advance(samples: Sample[], t: number, submitted: number, delivered: number, receipts = 0): void {
  const n = samples.length
  if (n >= 2 && samples[0].submitted === submitted && samples[0].delivered === delivered && samples[0].receipts === receipts) {
    // Idle over the whole window (the counters only grow, so every sample is equal): two samples moved
    // forward, the first one second back, no allocation; the rate is 0, and it is right again once
    // traffic resumes (averaged over the last second).
    samples[1] = samples[n - 1]
    samples.length = 2
    samples[0].t = Math.max(samples[0].t, t - 1000)
    samples[1].t = t
  } else {
    samples.push({ t, submitted, delivered, receipts })
    while (samples.length > 2 && t - samples[1].t >= 1000) samples.shift()
  }
}

/** The rate of one counter over the samples (0 until there are two). */
function perSec(samples: Sample[], t: number, now: number, key: 'submitted' | 'delivered' | 'receipts'): number {
  if (samples.length < 2) return 0
  const first = samples[0]
  return round((now - first[key]) / (Math.max(1, t - first.t) / 1000))
}

/** Builds the frames of each tick from the metrics and the live sessions. */
export class TelemetryHub {
  /**
   * Per bind: its last row (kept as is while nothing in it changes, so an idle bind costs a few comparisons
   * per tick and no allocation), counter samples covering at least the last second (bind rates are averaged
   * over >= 1 s), and the tick that last saw it (the others are gone: removed).
   */
  private readonly binds = new Map<number, { row: BindRow | null; samples: Sample[]; seen: number }>()
  private ticks = 0
  /** The last 5 minutes of the engine's rates and latencies, for the charts of a console that connects late. */
  private readonly history: (number | null)[][] = []
  private readonly historySize: number
  /** Messages not final by account, as of inFlightAt (read once a second while someone subscribes). */
  private inFlight = new Map<string, number>()
  private inFlightAt = 0
  /** Per account: counter samples covering at least the last second (its rates, as a bind's). */
  private readonly accountSamples = new Map<string, Sample[]>()
  /** The engine's totals: samples covering at least the last second (its rates, as an account's). */
  private readonly engineSamples: Sample[] = []
  private lastCpu = process.cpuUsage()
  private lastT: number
  private lastEventSeq = 0
  private readonly loop: IntervalHistogram
  private readonly started: number
  /** The last frames, for clients that connect between ticks. */
  current: TickFrames | null = null

  constructor(private readonly m: Metrics, private readonly src: HubSources, private readonly intervalMs: number, private readonly now: () => number = Date.now) {
    this.lastT = this.started = now()
    this.historySize = Math.ceil(300_000 / intervalMs)
    this.loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
    this.loop.enable()
  }

  stop(): void { this.loop.disable() }

  /**
   * One tick. With `full` false (nobody subscribed to the stream) the per-bind rows are not built (the
   * costly part with thousands of binds) and no frames are kept: the metrics, the loop delay and the chart
   * history still advance, and the first tick with a subscriber starts the rows afresh.
   */
  tick(): TickFrames
  tick(full: boolean): TickFrames | null
  tick(full = true): TickFrames | null {
    const t = this.now()
    const dt = Math.max(1, t - this.lastT) / 1000
    this.lastT = t
    const m = this.m

    // binds
    const tick = ++this.ticks
    const rows: BindRow[] = []
    const upsert: BindRow[] = []
    const bindsByAccount = new Map<string, number>()
    if (!full) this.binds.clear()
    for (const { session: s, tls } of full ? this.src.sessions() : []) {
      const st = s.stats
      let b = this.binds.get(s.id)
      if (b === undefined) this.binds.set(s.id, (b = { row: null, samples: [], seen: tick }))
      b.seen = tick
      const samples = b.samples
      advance(samples, t, st.submitted, st.delivered)
      if (s.systemId) bindsByAccount.set(s.systemId, (bindsByAccount.get(s.systemId) ?? 0) + 1)
      const inPerSec = perSec(samples, t, st.submitted, 'submitted')
      const outPerSec = perSec(samples, t, st.delivered, 'delivered')
      const errors = st.rejected + st.deliverFailed
      const old = b.row
      if (old === null || old.state !== s.state || old.submitted !== st.submitted || old.delivered !== st.delivered || old.rejected !== st.rejected || old.errors !== errors ||
        old.window.inFlight !== s.inFlight || old.window.outstanding !== s.outstandingCount || old.window.size !== s.window || old.inPerSec !== inPerSec || old.outPerSec !== outPerSec ||
        old.systemId !== s.systemId || old.kind !== s.kind) {
        b.row = {
          id: s.id, systemId: s.systemId, kind: s.kind, state: s.state, remote: s.remote, tls, connectedAt: s.connectedAt,
          window: { inFlight: s.inFlight, outstanding: s.outstandingCount, size: s.window },
          inPerSec, outPerSec, submitted: st.submitted, delivered: st.delivered, rejected: st.rejected, errors,
        }
        upsert.push(b.row)
      }
      rows.push(b.row as BindRow)
    }
    const remove: number[] = []
    const removedOf: string[] = []
    for (const [id, b] of this.binds) if (b.seen !== tick) { remove.push(id); removedOf.push(b.row?.systemId ?? ''); this.binds.delete(id) }

    // accounts and queues
    const pending = this.src.pending()
    if (full && t - this.inFlightAt >= 1000) { this.inFlight = this.src.inFlight(); this.inFlightAt = t }
    else if (!full && this.inFlightAt !== 0) { this.inFlight = new Map(); this.inFlightAt = 0 }
    const accounts = []
    for (const id of this.src.accounts()) m.account(id)
    for (const [systemId, c] of m.accounts) {
      // averaged over the last second or more, as the bind rows: per tick, 1 msg/s reads 4, 0, 0, 0
      let samples = this.accountSamples.get(systemId)
      if (samples === undefined) this.accountSamples.set(systemId, (samples = []))
      advance(samples, t, c.submitted, c.delivered)
      accounts.push({
        systemId, binds: bindsByAccount.get(systemId) ?? 0,
        submitPerSec: perSec(samples, t, c.submitted, 'submitted'), deliverPerSec: perSec(samples, t, c.delivered, 'delivered'),
        submitted: c.submitted, rejected: c.rejected, throttled: c.throttled, receipts: { ...c.receipts }, pending: pending.get(systemId) ?? 0,
        inFlight: this.inFlight.get(systemId) ?? 0,
      })
    }
    let pendingTotal = 0
    const pendingObj: Record<string, number> = {}
    for (const [k, v] of pending) { pendingObj[k] = v; pendingTotal += v }
    const conn = this.src.connectors()
    const queues = { pending: pendingObj, pendingTotal, carrierInFlight: this.src.carrierInFlight(), backlog: conn.backlog, connectors: conn.list }

    // engine
    const cpu = process.cpuUsage(this.lastCpu)
    this.lastCpu = process.cpuUsage()
    const mem = process.memoryUsage()
    // The histogram includes the 10 ms sampling timer itself: subtract it to report the delay.
    const delay = (ns: number) => round(Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS), 2)
    const loop = { p50: delay(this.loop.percentile(50)), p99: delay(this.loop.percentile(99)), max: delay(this.loop.max) }
    this.loop.reset()
    Object.assign(m.eventLoop, loop)
    const totals = m.totals
    advance(this.engineSamples, t, totals.submitted, totals.delivered, totals.receipts)
    const engine = {
      uptimeS: Math.round((t - this.started) / 1000), cpu: round((cpu.user + cpu.system) / 1e6 / dt, 2),
      rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, eventLoopDelayMs: loop,
      storeCommitMs: { p50: m.commitLatency.percentile(50) / 1000, p99: m.commitLatency.percentile(99) / 1000, count: m.commitLatency.count },
      workers: this.src.workers(),
      sessions: rows.length, bound: rows.filter((r) => r.kind !== null && r.state.startsWith('BOUND')).length,
      // averaged over the last second or more, as an account's: per tick, 10 msg/s reads 8, 12, 8, 12
      submitPerSec: perSec(this.engineSamples, t, totals.submitted, 'submitted'),
      deliverPerSec: perSec(this.engineSamples, t, totals.delivered, 'delivered'),
      receiptPerSec: perSec(this.engineSamples, t, totals.receipts, 'receipts'),
      problems: this.src.health().problems.map((p) => p.text),
    }
    const latency = { submitResp: pct(m.submitLatency), submitReceipt: pct(m.receiptLatency) }
    m.submitLatencyAll.add(m.submitLatency); m.submitLatency.reset()
    m.receiptLatencyAll.add(m.receiptLatency); m.receiptLatency.reset()
    m.commitLatencyAll.add(m.commitLatency); m.commitLatency.reset()

    const newEvents = m.eventsSince(this.lastEventSeq)
    this.lastEventSeq = m.lastEventSeq
    // An interval without samples has no latency: null (a gap in the chart), not 0 ms.
    const sr = latency.submitResp.count > 0 ? latency.submitResp : null
    const rr = latency.submitReceipt.count > 0 ? latency.submitReceipt : null
    this.history.push([t, engine.submitPerSec, engine.deliverPerSec, engine.receiptPerSec,
      sr ? sr.p50 : null, sr ? sr.p99 : null, rr ? rr.p50 : null, rr ? rr.p99 : null])
    if (this.history.length > this.historySize) this.history.shift()
    const base = { t, interval: this.intervalMs, accounts, queues, engine, latency }
    if (!full) return (this.current = null)
    const snapshot: Record<string, unknown> = { type: 'snapshot', ...base, binds: rows, events: m.eventsSince(0) }
    // Built only when a snapshot is encoded (a client connects or catches up), not every tick.
    Object.defineProperty(snapshot, 'history', { enumerable: true, get: () => this.historyColumns() })
    this.current = { snapshot, delta: { type: 'delta', ...base, binds: { upsert, remove }, events: newEvents }, removedOf }
    return this.current
  }

  /** The history as parallel arrays, oldest first (docs/TELEMETRY.md). */
  historyColumns(): Record<string, (number | null)[]> {
    const names = ['t', 'submitPerSec', 'deliverPerSec', 'receiptPerSec', 'submitP50', 'submitP99', 'receiptP50', 'receiptP99']
    const out: Record<string, (number | null)[]> = {}
    names.forEach((n, i) => { out[n] = this.history.map((h) => h[i]) })
    return out
  }
}

/**
 * A reseller's or user's view: `sees` tells which accounts it may see (admin.canSee); `removedOf` is the
 * tick's TickFrames.removedOf, the account of each removed bind.
 */
export interface FrameScope {
  /** Whether it may see this account; with `at` (an event's time), whether it may see what happened to it then. */
  sees(systemId: string, at?: number): boolean
  removedOf: readonly string[]
}

/**
 * Keeps only the requested topics of a frame; with a scope, only what concerns the accounts it sees: their
 * binds, their accounts, their pending counts (engine-wide queue figures left out) and their events.
 */
export function filterFrame(frame: Record<string, unknown>, topics: ReadonlySet<Topic>, eventsOf?: string, scope?: FrameScope): Record<string, unknown> {
  const out: Record<string, unknown> = { type: frame.type, t: frame.t, interval: frame.interval }
  const sees = scope ? (id: string | undefined, at?: number) => id !== undefined && id !== '' && scope.sees(id, at) : undefined
  for (const k of topics) {
    if (k === 'events' && (eventsOf !== undefined || sees)) {
      out.events = (frame.events as TelemetryEvent[]).filter((e) => (eventsOf === undefined || e.systemId === eventsOf) && (!sees || sees(e.systemId, e.t)))
    } else if (!sees) out[k] = frame[k]
    else if (k === 'binds') {
      if (frame.type === 'snapshot') out.binds = (frame.binds as BindRow[]).filter((b) => sees(b.systemId))
      else {
        const d = frame.binds as { upsert: BindRow[]; remove: number[] }
        out.binds = { upsert: d.upsert.filter((b) => sees(b.systemId)), remove: d.remove.filter((_, i) => sees(scope!.removedOf[i])) }
      }
    } else if (k === 'accounts') out.accounts = (frame.accounts as { systemId: string }[]).filter((a) => sees(a.systemId))
    else if (k === 'queues') {
      const pending: Record<string, number> = {}
      let pendingTotal = 0
      for (const [id, n] of Object.entries((frame.queues as { pending: Record<string, number> }).pending)) if (sees(id)) { pending[id] = n; pendingTotal += n }
      out.queues = { pending, pendingTotal }
    }
    // engine and latency are engine-wide: never in a scoped frame (the upgrade refuses them)
  }
  // The chart history (snapshots only) travels with the engine and latency topics.
  if (frame.type === 'snapshot' && (topics.has('engine') || topics.has('latency')) && !sees) out.history = frame.history
  return out
}

// ---------------------------------------------------------------------------------------------- Prometheus

const LATENCY_BOUNDS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** Receipts can take minutes (a carrier retrying an absent subscriber): bounds up to the histogram's 35 minutes. */
const RECEIPT_BOUNDS_S = [...LATENCY_BOUNDS_S, 120, 300, 600, 1200, 1800]

function promHistogram(name: string, help: string, h: Histogram, out: string[], bounds = LATENCY_BOUNDS_S, labels = '', head = true): void {
  if (head) out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`)
  const l = labels === '' ? '' : `${labels},`
  for (const b of bounds) out.push(`${name}_bucket{${l}le="${b}"} ${h.countAtOrBelow(b * 1e6)}`)
  const tail = labels === '' ? '' : `{${labels}}`
  out.push(`${name}_bucket{${l}le="+Inf"} ${h.count}`, `${name}_sum${tail} ${(h.mean * h.count) / 1e6}`, `${name}_count${tail} ${h.count}`)
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/** When this process started, s (performance.timeOrigin: the process's start, not the module's load). */
const PROCESS_START_S = Math.round(performance.timeOrigin) / 1000

/** The Prometheus text exposition (format 0.0.4) of the metrics. */
export function prometheusText(m: Metrics, src: HubSources): string {
  const out: string[] = []
  // What an alert needs first (docs/TELEMETRY.md "Alerting"): the health /healthz says, which build runs since when,
  // and whether the last reload took.
  const health = src.health()
  out.push('# HELP smsc_health 1 for what GET /healthz says: ok, degraded (smsc_health_problems says why) or starting (also while stopping)', '# TYPE smsc_health gauge')
  for (const status of ['ok', 'degraded', 'starting'] as const) out.push(`smsc_health{status="${status}"} ${health.status === status ? 1 : 0}`)
  out.push('# HELP smsc_health_problems what makes GET /healthz say degraded, by reason: connector_down (connectors down that the operator did not stop), overload and disk (1 while that guard refuses submits)', '# TYPE smsc_health_problems gauge')
  for (const reason of Object.keys(HEALTH_REASONS) as HealthReason[]) out.push(`smsc_health_problems{reason="${reason}"} ${health.problems.filter((p) => p.reason === reason).length}`)
  out.push('# HELP smsc_build_info the engine\'s version and the Node.js it runs on', '# TYPE smsc_build_info gauge',
    `smsc_build_info{version="${esc(VERSION)}",node="${esc(process.version)}"} 1`)
  out.push('# HELP process_start_time_seconds when the engine\'s process started, since the epoch', '# TYPE process_start_time_seconds gauge', `process_start_time_seconds ${PROCESS_START_S}`)
  if (m.tlsCertExpiry !== null) {
    out.push('# HELP smsc_tls_cert_expiry_timestamp_seconds when the certificate SMPP/TLS and HTTPS serve expires (its notAfter), since the epoch: renew it and reload (SIGHUP) before', '# TYPE smsc_tls_cert_expiry_timestamp_seconds gauge',
      `smsc_tls_cert_expiry_timestamp_seconds ${m.tlsCertExpiry}`)
  }
  out.push('# HELP smsc_config_reload_success 1 while the last reload (SIGHUP: TLS files, then the config file) succeeded whole, or none came since the start; 0 after one refused', '# TYPE smsc_config_reload_success gauge',
    `smsc_config_reload_success ${m.configReload.ok ? 1 : 0}`)
  out.push('# HELP smsc_config_reload_timestamp_seconds when the config was last taken whole: the start, or the last reload that succeeded', '# TYPE smsc_config_reload_timestamp_seconds gauge',
    `smsc_config_reload_timestamp_seconds ${m.configReload.at / 1000}`)
  out.push('# HELP smsc_unclean_start 1 when this start followed a run that did not stop cleanly (kill -9, a crash, a power loss: its data-dir lock was left behind), 0 after a clean stop', '# TYPE smsc_unclean_start gauge',
    `smsc_unclean_start ${m.uncleanStart ? 1 : 0}`)
  out.push('# HELP smsc_submit_total submit_sm, data_sm and submit_multi answered, by account and command_status', '# TYPE smsc_submit_total counter')
  const all: [string, AccountCounters][] = [...m.accounts.entries(), ['', m.unbound]]
  for (const [acc, c] of all) for (const [status, n] of c.statuses) out.push(`smsc_submit_total{account="${esc(acc)}",status="${statusName(status)}"} ${n}`)
  out.push('# HELP smsc_receipts_total delivery receipts made, by account and stat', '# TYPE smsc_receipts_total counter')
  for (const [acc, c] of m.accounts) for (const [stat, n] of Object.entries(c.receipts)) out.push(`smsc_receipts_total{account="${esc(acc)}",stat="${stat}"} ${n}`)
  out.push('# HELP smsc_optout_refused_total destinations refused because they are on an opt-out list (SMSC_ROPTEDOUT), by the list: the global one, the account\'s own, its reseller\'s', '# TYPE smsc_optout_refused_total counter',
    `smsc_optout_refused_total{list="global"} ${m.optOuts.global}`, `smsc_optout_refused_total{list="account"} ${m.optOuts.account}`, `smsc_optout_refused_total{list="reseller"} ${m.optOuts.reseller}`)
  out.push('# HELP smsc_mo_reply_total MO routes\' auto-replies: sent (admitted as an MT of the route\'s account), refused (no credit, suspended, no MT route, rate limit, opt-out list, …), held (one per route and sender a minute)', '# TYPE smsc_mo_reply_total counter',
    `smsc_mo_reply_total{result="sent"} ${m.moReplies.sent}`, `smsc_mo_reply_total{result="refused"} ${m.moReplies.refused}`, `smsc_mo_reply_total{result="held"} ${m.moReplies.held}`)
  out.push('# HELP smsc_messages_purged_total messages removed from the store after their retention (store.retentionHours)', '# TYPE smsc_messages_purged_total counter',
    `smsc_messages_purged_total ${m.totals.purged}`)
  out.push('# HELP smsc_outbind_total outbind connections the engine opened to ESMEs (docs/ACCOUNTS.md), by result', '# TYPE smsc_outbind_total counter',
    `smsc_outbind_total{result="attempt"} ${m.totals.outbindAttempts}`, `smsc_outbind_total{result="bound"} ${m.totals.outbindBound}`, `smsc_outbind_total{result="failed"} ${m.totals.outbindFailed}`)
  out.push('# HELP smsc_alert_notifications_total alert_notification PDUs (SMPP 3.4 §4.12), sent or not sent for want of a bound receiver', '# TYPE smsc_alert_notifications_total counter',
    `smsc_alert_notifications_total{result="sent"} ${m.totals.alertsSent}`, `smsc_alert_notifications_total{result="unsent"} ${m.totals.alertsUnsent}`)
  out.push('# HELP smsc_deliver_total deliver_sm (receipts and MO) answered by ESMEs, by account and result', '# TYPE smsc_deliver_total counter')
  for (const [acc, c] of m.accounts) {
    for (const kind of ['receipt', 'mo'] as const) {
      const [ok, failed] = c.byKind[kind]
      out.push(`smsc_deliver_total{account="${esc(acc)}",kind="${kind}",result="ok"} ${ok}`, `smsc_deliver_total{account="${esc(acc)}",kind="${kind}",result="failed"} ${failed}`)
    }
  }
  // Every account from 0, so that an alert on increase() sees the first one.
  out.push('# HELP smsc_deliveries_discarded_total receipts and MO discarded because the account never acknowledged them within receipts.maxAgeMs (no receiver bound, or none answered), by account and kind', '# TYPE smsc_deliveries_discarded_total counter')
  for (const acc of new Set([...src.accounts(), ...m.accounts.keys()])) {
    const d = m.accounts.get(acc)?.discarded
    out.push(`smsc_deliveries_discarded_total{account="${esc(acc)}",kind="receipt"} ${d?.receipt ?? 0}`, `smsc_deliveries_discarded_total{account="${esc(acc)}",kind="mo"} ${d?.mo ?? 0}`)
  }
  const binds = { transmitter: 0, receiver: 0, transceiver: 0 }
  const sessions = [...src.sessions()]
  for (const { session: s } of sessions) if (s.kind && s.state.startsWith('BOUND')) binds[s.kind]++
  out.push('# HELP smsc_binds bound SMPP sessions by bind type', '# TYPE smsc_binds gauge')
  for (const [k, v] of Object.entries(binds)) out.push(`smsc_binds{type="${k}"} ${v}`)
  out.push('# HELP smsc_connections open SMPP connections (bound or not)', '# TYPE smsc_connections gauge', `smsc_connections ${sessions.length}`)
  const byAccount = new Map<string, number>()
  for (const { session: s } of sessions) if (s.systemId && s.state.startsWith('BOUND')) byAccount.set(s.systemId, (byAccount.get(s.systemId) ?? 0) + 1)
  out.push('# HELP smsc_account_binds bound SMPP sessions by account (every account, 0 when none)', '# TYPE smsc_account_binds gauge')
  for (const acc of new Set([...src.accounts(), ...byAccount.keys()])) out.push(`smsc_account_binds{account="${esc(acc)}"} ${byAccount.get(acc) ?? 0}`)
  out.push('# HELP smsc_auth_failures_total refused credentials: SMPP binds (wrong password, unknown system_id) and HTTP logins or API keys (see the login refused log)', '# TYPE smsc_auth_failures_total counter',
    `smsc_auth_failures_total ${m.totals.authFailures}`)
  out.push('# HELP smsc_auth_lockout_refusals_total HTTP logins, API keys and receipt callbacks refused (429) during a lockout, their credentials unchecked (see the login refused log)', '# TYPE smsc_auth_lockout_refusals_total counter',
    `smsc_auth_lockout_refusals_total ${m.totals.authLockoutRefusals}`)
  out.push('# HELP smsc_http_cross_origin_refused_total changes and telemetry streams refused because their session cookie came from another origin (SMSC_ERR_CROSS_ORIGIN; see the cross-origin log line: a reverse proxy that rewrites Host shows here)', '# TYPE smsc_http_cross_origin_refused_total counter',
    `smsc_http_cross_origin_refused_total ${m.totals.crossOriginRefusals}`)
  out.push('# HELP smsc_binds_refused_total binds with good credentials refused (maxBinds reached, suspended, outside allowedIps, without one of the clientCerts)', '# TYPE smsc_binds_refused_total counter',
    `smsc_binds_refused_total ${m.totals.bindsRefused}`)
  out.push('# HELP smsc_tls_handshake_failures_total TLS handshakes on the SMPP TLS port that failed (see the TLS handshake failed log)', '# TYPE smsc_tls_handshake_failures_total counter',
    `smsc_tls_handshake_failures_total ${m.totals.tlsHandshakeFailures}`)
  out.push('# HELP smsc_connections_refused_total SMPP connections closed at accept, by reason: too many not bound yet in all (smpp.maxUnboundConnections) or from the address (smpp.maxUnboundPerIp), or evicted: closed to let in another address while all were taken; see the connection refused log', '# TYPE smsc_connections_refused_total counter',
    `smsc_connections_refused_total{reason="unbound_total"} ${m.connectionsRefused.unbound_total}`, `smsc_connections_refused_total{reason="unbound_per_ip"} ${m.connectionsRefused.unbound_per_ip}`,
    `smsc_connections_refused_total{reason="evicted"} ${m.connectionsRefused.evicted}`)
  const space = src.storeSpace()
  if (space !== null) {
    out.push('# HELP smsc_store_bytes size of the store\'s file (data.mdb)', '# TYPE smsc_store_bytes gauge', `smsc_store_bytes ${space.bytes}`)
    out.push('# HELP smsc_store_free_bytes free space of the file system the store is on', '# TYPE smsc_store_free_bytes gauge', `smsc_store_free_bytes ${space.free}`)
  }
  out.push('# HELP smsc_account_balance prepaid credit left, by account (prepaid accounts only): alert before a customer runs dry', '# TYPE smsc_account_balance gauge')
  for (const [acc, b] of src.balances()) out.push(`smsc_account_balance{account="${esc(acc)}"} ${b}`)
  out.push('# HELP smsc_pending_deliveries receipts and MO waiting for a receiver, by account', '# TYPE smsc_pending_deliveries gauge')
  const pending = src.pending()
  for (const acc of new Set([...src.accounts(), ...pending.keys()])) out.push(`smsc_pending_deliveries{account="${esc(acc)}"} ${pending.get(acc) ?? 0}`)
  out.push('# HELP smsc_pending_oldest_age_seconds age of the oldest receipt or MO waiting for the account (0 when none waits): they are discarded at receipts.maxAgeMs', '# TYPE smsc_pending_oldest_age_seconds gauge')
  const oldest = src.pendingOldest()
  const nowMs = Date.now()
  for (const acc of new Set([...src.accounts(), ...pending.keys()])) {
    const at = oldest.get(acc)
    out.push(`smsc_pending_oldest_age_seconds{account="${esc(acc)}"} ${at === undefined ? 0 : Math.max(0, nowMs - at) / 1000}`)
  }
  out.push('# HELP smsc_carrier_in_flight messages handed to the carrier and not yet settled', '# TYPE smsc_carrier_in_flight gauge', `smsc_carrier_in_flight ${src.carrierInFlight()}`)
  const conn = src.connectors()
  out.push('# HELP smsc_dispatch_backlog message destinations waiting for a connector (the overload gauge)', '# TYPE smsc_dispatch_backlog gauge', `smsc_dispatch_backlog ${conn.backlog}`)
  out.push('# HELP smsc_connector_up 1 while the connector can take traffic', '# TYPE smsc_connector_up gauge')
  for (const c of conn.list) out.push(`smsc_connector_up{connector="${esc(c.id)}",kind="${c.kind}"} ${c.up ? 1 : 0}`)
  out.push('# HELP smsc_connector_stopped 1 while the operator has the connector stopped (smsc connector stop): down on purpose', '# TYPE smsc_connector_stopped gauge')
  for (const c of conn.list) out.push(`smsc_connector_stopped{connector="${esc(c.id)}",kind="${c.kind}"} ${c.stopped === true ? 1 : 0}`)
  out.push('# HELP smsc_connector_paused 1 while its upstream throttles it (ESME_RTHROTTLED, ESME_RMSGQFUL, HTTP 429): up, but its submits wait (throttlePauseMs)', '# TYPE smsc_connector_paused gauge')
  for (const c of conn.list) out.push(`smsc_connector_paused{connector="${esc(c.id)}",kind="${c.kind}"} ${c.paused !== undefined ? 1 : 0}`)
  out.push('# HELP smsc_connector_sent_total submits the connector\'s upstream accepted', '# TYPE smsc_connector_sent_total counter')
  for (const c of conn.list) out.push(`smsc_connector_sent_total{connector="${esc(c.id)}"} ${c.sent}`)
  out.push('# HELP smsc_connector_failed_total submits the connector\'s upstream refused or that failed', '# TYPE smsc_connector_failed_total counter')
  for (const c of conn.list) out.push(`smsc_connector_failed_total{connector="${esc(c.id)}"} ${c.failed}`)
  out.push('# HELP smsc_connector_queued destinations queued in front of the connector', '# TYPE smsc_connector_queued gauge')
  for (const c of conn.list) out.push(`smsc_connector_queued{connector="${esc(c.id)}"} ${c.queued}`)
  out.push('# HELP smsc_connector_receipts_unmatched_total receipts from the connector\'s upstream (an http one\'s callbacks) that matched no message (acknowledged and dropped; see its receiptIds, or answerId)', '# TYPE smsc_connector_receipts_unmatched_total counter')
  for (const c of conn.list) if (c.kind !== 'simulator') out.push(`smsc_connector_receipts_unmatched_total{connector="${esc(c.id)}"} ${m.receiptsUnmatched.get(c.id) ?? 0}`)
  out.push('# HELP smsc_connector_retries_total submits the connector\'s upstream refused for now or did not answer, by reason (each also in smsc_connector_failed_total): sent again elsewhere or later', '# TYPE smsc_connector_retries_total counter')
  for (const c of conn.list) {
    if (c.kind === 'simulator') continue
    const n = m.connectorRetries.get(c.id)
    for (const reason of CONNECTOR_RETRY_REASONS_OF[c.kind]) out.push(`smsc_connector_retries_total{connector="${esc(c.id)}",reason="${reason}"} ${n?.[reason] ?? 0}`)
  }
  const fold = (all: Histogram, cur: Histogram) => { const h = new Histogram(); h.add(all); h.add(cur); return h }
  promHistogram('smsc_submit_latency_seconds', 'time from handing a read batch of submits to the store to writing their submit_sm_resp', fold(m.submitLatencyAll, m.submitLatency), out)
  promHistogram('smsc_receipt_latency_seconds', 'time from submit to the receipt acknowledged by the ESME', fold(m.receiptLatencyAll, m.receiptLatency), out, RECEIPT_BOUNDS_S)
  const finalHelp = 'time from a message\'s due time (its submit, or its schedule) to the connector\'s final outcome (its receipt, or its refusal), by connector'
  const none = new Histogram() // a connector without a final outcome yet: its series at 0, for rules and dashboards
  conn.list.forEach((c, i) => promHistogram('smsc_connector_final_seconds', finalHelp, m.connectorFinal.get(c.id) ?? none, out, RECEIPT_BOUNDS_S, `connector="${esc(c.id)}"`, i === 0))
  promHistogram('smsc_store_commit_seconds', 'store group commit duration', fold(m.commitLatencyAll, m.commitLatency), out)
  promHistogram('smsc_telemetry_tick_seconds', 'time to build and publish one telemetry tick (the cost of the live console)', m.telemetryTick, out)
  const mem = process.memoryUsage()
  const cpu = process.cpuUsage()
  out.push('# HELP smsc_event_loop_delay_seconds event-loop delay over the last telemetry interval', '# TYPE smsc_event_loop_delay_seconds gauge',
    `smsc_event_loop_delay_seconds{quantile="0.5"} ${m.eventLoop.p50 / 1000}`, `smsc_event_loop_delay_seconds{quantile="0.99"} ${m.eventLoop.p99 / 1000}`)
  out.push('# HELP process_resident_memory_bytes resident memory', '# TYPE process_resident_memory_bytes gauge', `process_resident_memory_bytes ${mem.rss}`)
  out.push('# HELP process_cpu_seconds_total user and system CPU time', '# TYPE process_cpu_seconds_total counter', `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`)
  return out.join('\n') + '\n'
}
