/**
 * The console's picture of the engine, built from the telemetry stream: a snapshot replaces it, a
 * delta patches it (binds upsert/remove by id, accounts replace by systemId, events append keeping
 * the last 500). It also keeps the chart series (the last 5 minutes of rates and latency
 * percentiles) and tells listeners which accounts' receipts or pending counts moved, so message
 * timelines are refreshed on an event, never on a timer. Plain mutable data and version counters:
 * the UI re-renders at most once per animation frame and memoises on the counters.
 */
import type { Account, Bind, Engine, Frame, Latency, Queues, TelemetryEvent } from './types'

export const MAX_EVENTS = 500
export const WINDOW_S = 300

/** Column-oriented series as uPlot wants them: xs in seconds, then one array per line (null = gap). */
export class Series {
  readonly cols: (number | null)[][]
  constructor(lines: number) {
    this.cols = Array.from({ length: lines + 1 }, () => [])
  }
  get length(): number {
    return this.cols[0].length
  }
  lastX(): number | null {
    const xs = this.cols[0]
    return xs.length ? (xs[xs.length - 1] as number) : null
  }
  push(x: number, values: (number | null)[]): void {
    this.cols[0].push(x)
    for (let i = 0; i < values.length; i++) this.cols[i + 1].push(values[i])
  }
  /** Drop points older than `windowS` before `now` (seconds). */
  trim(now: number, windowS: number): void {
    const xs = this.cols[0] as number[]
    let n = 0
    while (n < xs.length && xs[n] < now - windowS) n++
    if (n > 0) for (const c of this.cols) c.splice(0, n)
  }
  /** Forget every point. */
  clear(): void {
    for (const c of this.cols) c.length = 0
  }
  /** Largest value of line `i` (1-based, as in cols) over the window; 0 when empty. */
  max(i: number): number {
    let m = 0
    for (const v of this.cols[i]) if (v !== null && v > m) m = v
    return m
  }
}

/** Append (x, values) unless x is not newer than the last point; a break of 3+ intervals becomes a gap. */
function pushPoint(s: Series, x: number, step: number, values: (number | null)[]): void {
  const last = s.lastX()
  if (last !== null && x <= last) return // the same tick twice (a snapshot after a catch-up)
  if (last !== null && x - last > 3 * step) s.push(last + step, values.map(() => null))
  s.push(x, values)
  s.trim(x, WINDOW_S)
}

/**
 * Replace the series with a snapshot's history (parallel arrays, oldest first; xs in ms): same gap
 * rule as pushPoint, points out of order skipped, trimmed to the window.
 */
function replaceSeries(s: Series, ts: number[], step: number, lines: ((number | null)[] | undefined)[], zeroIsGap = false): void {
  s.clear()
  const val = (a: (number | null)[] | undefined, i: number): number | null => {
    const v = a?.[i]
    return typeof v === 'number' && Number.isFinite(v) && !(zeroIsGap && v === 0) ? v : null
  }
  for (let i = 0; i < ts.length; i++) {
    if (typeof ts[i] !== 'number') continue
    pushPoint(s, ts[i] / 1000, step, lines.map((a) => val(a, i)))
  }
}

export interface AccountChange {
  systemId: string
  receipts: boolean
  pending: boolean
}

export type ChangeListener = (changes: AccountChange[]) => void

function receiptTotal(a: Account | undefined): number {
  if (!a) return 0
  let n = 0
  for (const k in a.receipts) n += a.receipts[k]
  return n
}

export class TelemetryState {
  binds = new Map<number, Bind>()
  accounts = new Map<string, Account>()
  queues: Queues | null = null
  engine: Engine | null = null
  latency: Latency | null = null
  events: TelemetryEvent[] = []
  /** server time (ms) and interval of the last frame */
  t = 0
  interval = 250
  snapshots = 0
  frames = 0
  /** points in the history of the last snapshot that had one (0: none yet) */
  historyPoints = 0

  /** bumped on every frame / only when that part changed; components memoise on them */
  version = 0
  bindsVersion = 0
  accountsVersion = 0
  eventsVersion = 0

  /** [x, in, out, receipts] msg/s */
  readonly rates = new Series(3)
  /** [x, submitResp p50, p99, submitReceipt p50, p99] ms */
  readonly latencySeries = new Series(4)

  /** A scoped stream: receipt totals of the accounts seen, over the last second or more (the receipts/s line). */
  private receiptSamples: { t: number; n: number }[] = []

  private listeners = new Set<ChangeListener>()
  private updateListeners = new Set<() => void>()

  /** Called after every applied frame (the UI schedules one render per animation frame). */
  onUpdate(fn: () => void): () => void {
    this.updateListeners.add(fn)
    return () => this.updateListeners.delete(fn)
  }

  onAccountChange(fn: ChangeListener): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  apply(frame: Frame): void {
    const changes: AccountChange[] = []
    if (frame.type === 'snapshot') {
      if (frame.binds) {
        this.binds = new Map(frame.binds.map((b) => [b.id, b]))
        this.bindsVersion++
      }
      if (frame.accounts) {
        const before = this.accounts
        this.accounts = new Map()
        for (const a of frame.accounts) this.putAccount(a, before.get(a.systemId), changes)
        this.accountsVersion++
      }
      if (frame.events) {
        this.events = frame.events.slice(-MAX_EVENTS)
        this.eventsVersion++
      }
      if (frame.history && Array.isArray(frame.history.t)) {
        // the engine's last minutes: they replace what this console sampled (a gap while it was away)
        const h = frame.history
        const step = (frame.interval || this.interval) / 1000
        replaceSeries(this.rates, h.t, step, [h.submitPerSec, h.deliverPerSec, h.receiptPerSec])
        // an interval without a sample has 0 percentiles in the history: a gap, as from deltas (count 0)
        replaceSeries(this.latencySeries, h.t, step, [h.submitP50, h.submitP99, h.receiptP50, h.receiptP99], true)
        this.historyPoints = h.t.length
      }
      this.snapshots++
    } else {
      if (frame.binds) {
        for (const id of frame.binds.remove) this.binds.delete(id)
        for (const b of frame.binds.upsert) this.binds.set(b.id, b)
        if (frame.binds.remove.length || frame.binds.upsert.length) this.bindsVersion++
      }
      if (frame.accounts && frame.accounts.length) {
        for (const a of frame.accounts) this.putAccount(a, this.accounts.get(a.systemId), changes)
        this.accountsVersion++
      }
      if (frame.events && frame.events.length) {
        const last = this.events.length ? this.events[this.events.length - 1].seq : -1
        for (const e of frame.events) if (e.seq > last) this.events.push(e)
        if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS)
        this.eventsVersion++
      }
    }
    if (frame.queues) {
      const before = this.queues
      this.queues = frame.queues
      // pending per account also lives in the queues topic (for clients that take only queues)
      for (const id in frame.queues.pending) {
        if ((before?.pending[id] ?? 0) !== frame.queues.pending[id] && !changes.some((c) => c.systemId === id)) {
          changes.push({ systemId: id, receipts: false, pending: true })
        }
      }
    }
    if (frame.engine) this.engine = frame.engine
    if (frame.latency) this.latency = frame.latency
    this.t = frame.t
    this.interval = frame.interval || this.interval
    this.frames++
    this.version++
    this.sample(frame)
    if (changes.length) for (const fn of this.listeners) fn(changes)
    for (const fn of this.updateListeners) fn()
  }

  private putAccount(a: Account, prev: Account | undefined, changes: AccountChange[]): void {
    this.accounts.set(a.systemId, a)
    const receipts = receiptTotal(a) !== receiptTotal(prev)
    const pending = (prev?.pending ?? 0) !== a.pending
    if (receipts || pending) changes.push({ systemId: a.systemId, receipts, pending })
  }

  /** Append one point to the chart series from this frame's engine and latency parts. */
  private sample(frame: Frame): void {
    const x = frame.t / 1000
    const step = this.interval / 1000
    if (frame.engine) {
      const e = frame.engine
      pushPoint(this.rates, x, step, [e.submitPerSec, e.deliverPerSec, e.receiptPerSec])
    } else if (frame.accounts) {
      // A scoped stream (a reseller or user): no engine part; the rates of the accounts it sees, summed.
      let inS = 0
      let outS = 0
      let receipts = 0
      for (const a of this.accounts.values()) { inS += a.submitPerSec; outS += a.deliverPerSec; receipts += receiptTotal(a) }
      // Averaged over the last second or more, as the engine's per-account rates. Across a snapshot the accounts
      // seen may have changed (a user added or moved): a new baseline.
      const rs = this.receiptSamples
      const last = rs[rs.length - 1]
      if (frame.type === 'snapshot' || (last && (frame.t <= last.t || receipts < last.n))) rs.length = 0
      rs.push({ t: frame.t, n: receipts })
      while (rs.length > 2 && frame.t - rs[1].t >= 1000) rs.shift()
      const rps = rs.length < 2 ? null : Math.round(((receipts - rs[0].n) / ((frame.t - rs[0].t) / 1000)) * 10) / 10
      pushPoint(this.rates, x, step, [Math.round(inS * 10) / 10, Math.round(outS * 10) / 10, rps])
    }
    if (frame.latency) {
      const l = frame.latency
      const r = l.submitResp.count > 0
      const d = l.submitReceipt.count > 0
      pushPoint(this.latencySeries, x, step, [
        r ? l.submitResp.p50 : null, r ? l.submitResp.p99 : null,
        d ? l.submitReceipt.p50 : null, d ? l.submitReceipt.p99 : null,
      ])
    }
  }

  /** Forget everything (logout). The chart history is kept across reconnects, not across logins. */
  reset(): void {
    this.binds = new Map()
    this.accounts = new Map()
    this.queues = null
    this.engine = null
    this.latency = null
    this.events = []
    for (const s of [this.rates, this.latencySeries]) s.clear()
    this.receiptSamples = []
    this.historyPoints = 0
    this.version++
    this.bindsVersion++
    this.accountsVersion++
    this.eventsVersion++
    for (const fn of this.updateListeners) fn()
  }
}
