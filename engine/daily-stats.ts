/**
 * Daily traffic per account and UTC day (docs/ACCOUNTS.md "Traffic reports"): submits accepted and refused (by
 * status), receipts (by stat), deliveries to the ESME (ok, failed, discarded unacknowledged). It owns the day buckets, their meta keys in
 * the store and their retention; nothing else writes `traffic:` keys.
 *
 * PURE (no timers, no actors): the engine calls sample() once a second with the cumulative per-account counters
 * the hot path already bumps (engine/telemetry.ts Metrics: smsc_submit_total, smsc_receipts_total,
 * smsc_deliver_total, smsc_deliveries_discarded_total) and adds what grew since the last sample to the bucket of the sample's UTC day. So a day
 * costs the SMPP path nothing: no per-PDU, per-batch or per-message work, only a walk of the counters a second.
 * A sample just after midnight puts the last second of the old day into the new one.
 *
 * flush() gives the meta entries to commit (changed buckets, and once a UTC day the keys past retention, null):
 * the engine commits them at most once a minute and at a graceful stop, so a kill -9 loses at most the last
 * minute's counts. A bucket is read from the store the first time a sample touches it, so a restart goes on
 * with the day. Keys: `traffic:<YYYY-MM-DD>:<systemId>` -> TrafficCounts (one per account and day: a flush
 * writes the accounts that changed, a day's purge is one key range).
 */
import { statusName } from './protocol/constants'
import type { TrafficCounts } from './wire'

export type { TrafficCounts, TrafficDay, TrafficDayRows } from './wire'

/** Prefix of the store's meta keys holding the buckets. */
export const TRAFFIC_META = 'traffic:'
const DAY_MS = 86_400_000
/** Days one report may span (GET /api/v1/accounts/{id}/stats, smsc account stats). */
export const MAX_REPORT_DAYS = 366

export const trafficKey = (day: string, systemId: string): string => `${TRAFFIC_META}${day}:${systemId}`
/** The UTC day of a time, YYYY-MM-DD. */
export const dayOf = (t: number): string => new Date(t).toISOString().slice(0, 10)
/** 00:00 UTC of a YYYY-MM-DD day, or null when it is not one (2024-02-30 is not). */
function dayStart(day: string): number | null {
  if (!/^\d{4}-\d\d-\d\d$/.test(day)) return null
  const t = Date.parse(`${day}T00:00:00Z`)
  return Number.isFinite(t) && dayOf(t) === day ? t : null
}
/** `day` moved by `n` days. */
export const addDays = (day: string, n: number): string => dayOf((dayStart(day) as number) + n * DAY_MS)
/** The days from `from` to `to`, both included, oldest first. */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = []
  for (let t = dayStart(from) as number, end = dayStart(to) as number; t <= end; t += DAY_MS) out.push(dayOf(t))
  return out
}

export const emptyCounts = (): TrafficCounts => ({
  accepted: 0, refused: 0, refusedBy: {}, receipts: {},
  toEsme: { receiptsOk: 0, receiptsFailed: 0, receiptsDiscarded: 0, moOk: 0, moFailed: 0, moDiscarded: 0 },
})

/** Adds `from` into `into` (a tree's sum). */
export function addCounts(into: TrafficCounts, from: TrafficCounts): TrafficCounts {
  into.accepted += from.accepted
  into.refused += from.refused
  for (const k in from.refusedBy) into.refusedBy[k] = (into.refusedBy[k] ?? 0) + from.refusedBy[k]
  for (const k in from.receipts) into.receipts[k] = (into.receipts[k] ?? 0) + from.receipts[k]
  into.toEsme.receiptsOk += from.toEsme.receiptsOk
  into.toEsme.receiptsFailed += from.toEsme.receiptsFailed
  into.toEsme.receiptsDiscarded += from.toEsme.receiptsDiscarded
  into.toEsme.moOk += from.toEsme.moOk
  into.toEsme.moFailed += from.toEsme.moFailed
  into.toEsme.moDiscarded += from.toEsme.moDiscarded
  return into
}

const copyCounts = (c: TrafficCounts): TrafficCounts => addCounts(emptyCounts(), c)

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0)
const countsOf = (v: unknown): Record<string, number> => {
  const out: Record<string, number> = {}
  if (typeof v === 'object' && v !== null) for (const [k, n] of Object.entries(v)) if (count(n) > 0) out[k] = count(n)
  return out
}

/** A stored bucket as read back: every field there (a value written by another version lacks none it needs). */
function readCounts(v: unknown): TrafficCounts | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const o = v as Record<string, unknown>
  const e = (typeof o.toEsme === 'object' && o.toEsme !== null ? o.toEsme : {}) as Record<string, unknown>
  const refusedBy = countsOf(o.refusedBy)
  return {
    accepted: count(o.accepted), refused: Object.values(refusedBy).reduce((a, b) => a + b, 0), refusedBy, receipts: countsOf(o.receipts),
    toEsme: {
      receiptsOk: count(e.receiptsOk), receiptsFailed: count(e.receiptsFailed), receiptsDiscarded: count(e.receiptsDiscarded),
      moOk: count(e.moOk), moFailed: count(e.moFailed), moDiscarded: count(e.moDiscarded),
    },
  }
}

/** The per-account counters sample() reads (engine/telemetry.ts AccountCounters has them). */
export interface CumulativeCounters {
  /** submit responses by command_status (0 included) */
  readonly statuses: ReadonlyMap<number, number>
  /** receipts made, by stat */
  readonly receipts: Readonly<Record<string, number>>
  /** deliver_sm answered, by kind: [ok, failed] */
  readonly byKind: { readonly receipt: readonly [number, number]; readonly mo: readonly [number, number] }
  /** items discarded unacknowledged (receipts.maxAgeMs), by kind */
  readonly discarded: { readonly receipt: number; readonly mo: number }
}

/** The store's meta keys, as far as the buckets need them (engine/store.ts). */
export interface TrafficStore {
  getMeta(key: string): unknown
  metaWithPrefix(prefix: string): [string, unknown][]
  metaKeys(start: string, end: string): string[]
}

/** What the reports read (engine/admin.ts): one account's day, every account of a day. */
export interface TrafficSource {
  counts(day: string, systemId: string): TrafficCounts | undefined
  accountsOf(day: string): Map<string, TrafficCounts>
}

/** The buckets as committed (the CLI with no engine running; the engine's own reads go through DailyStats). */
export function storedTraffic(store: TrafficStore): TrafficSource {
  return {
    counts: (day, systemId) => readCounts(store.getMeta(trafficKey(day, systemId))),
    accountsOf: (day) => {
      const prefix = `${TRAFFIC_META}${day}:`
      const out = new Map<string, TrafficCounts>()
      for (const [k, v] of store.metaWithPrefix(prefix)) {
        const c = readCounts(v)
        if (c !== undefined) out.set(k.slice(prefix.length), c)
      }
      return out
    },
  }
}

/** What an account's counters were at the last sample (the counters object itself: another one started from 0). */
interface Seen {
  src: CumulativeCounters
  statuses: Map<number, number>
  receipts: Map<string, number>
  /** receipt ok, receipt failed, mo ok, mo failed, receipt discarded, mo discarded */
  kinds: [number, number, number, number, number, number]
}

/** How much a cumulative counter grew from `prev` to `n`; below its last value it started again from 0 (all of n is new). */
const grew = (n: number, prev: number): number => (n >= prev ? n - prev : n)

export class DailyStats implements TrafficSource {
  private readonly seen = new Map<string, Seen>()
  /** Buckets touched since start (the current day's, a day or two around midnight): day -> systemId -> counts. */
  private readonly days = new Map<string, Map<string, TrafficCounts>>()
  /** Buckets changed since the last flush: day -> systemIds. */
  private readonly dirty = new Map<string, Set<string>>()
  /** The UTC day of the last sample: its buckets stay in memory after a flush. */
  private current = ''
  /** The UTC day whose purge has been given out by flush() ('' after a failed commit: the next flush tries again). */
  private purgedFor = ''
  private readonly stored: TrafficSource

  /** `retentionDays`: the buckets of that many days are kept, today included (config stats.retentionDays). */
  constructor(private readonly store: TrafficStore, private readonly retentionDays: number) {
    this.stored = storedTraffic(store)
  }

  /** Adds what every account's counters grew since the last sample to its bucket of `t`'s UTC day. */
  sample(t: number, counters: Iterable<[string, CumulativeCounters]>): void {
    const day = dayOf(t)
    this.current = day
    for (const [systemId, c] of counters) {
      if (systemId === '') continue // submits refused before bind: no account
      let s = this.seen.get(systemId)
      if (s === undefined || s.src !== c) this.seen.set(systemId, (s = { src: c, statuses: new Map(), receipts: new Map(), kinds: [0, 0, 0, 0, 0, 0] }))
      let row: TrafficCounts | undefined
      for (const [status, n] of c.statuses) {
        const d = grew(n, s.statuses.get(status) ?? 0)
        if (d === 0) continue
        s.statuses.set(status, n)
        row ??= this.bucket(day, systemId)
        if (status === 0) row.accepted += d
        else {
          const name = statusName(status)
          row.refused += d
          row.refusedBy[name] = (row.refusedBy[name] ?? 0) + d
        }
      }
      for (const stat in c.receipts) {
        const n = c.receipts[stat]
        const d = grew(n, s.receipts.get(stat) ?? 0)
        if (d === 0) continue
        s.receipts.set(stat, n)
        row ??= this.bucket(day, systemId)
        row.receipts[stat] = (row.receipts[stat] ?? 0) + d
      }
      const k = s.kinds
      const r = c.byKind.receipt
      const m = c.byKind.mo
      const x = c.discarded
      if (r[0] !== k[0] || r[1] !== k[1] || m[0] !== k[2] || m[1] !== k[3] || x.receipt !== k[4] || x.mo !== k[5]) {
        row ??= this.bucket(day, systemId)
        row.toEsme.receiptsOk += grew(r[0], k[0])
        row.toEsme.receiptsFailed += grew(r[1], k[1])
        row.toEsme.moOk += grew(m[0], k[2])
        row.toEsme.moFailed += grew(m[1], k[3])
        row.toEsme.receiptsDiscarded += grew(x.receipt, k[4])
        row.toEsme.moDiscarded += grew(x.mo, k[5])
        k[0] = r[0]; k[1] = r[1]; k[2] = m[0]; k[3] = m[1]; k[4] = x.receipt; k[5] = x.mo
      }
    }
  }

  /**
   * The meta entries to commit: a copy of every bucket changed since the last flush, and once a UTC day the keys
   * of the days past retention (value null: removed). Buckets of days other than the current one leave memory
   * (at the flush after the one that wrote them).
   * After a failed commit, give the entries to unflushed().
   */
  flush(t: number): [string, TrafficCounts | null][] {
    const out: [string, TrafficCounts | null][] = []
    const today = dayOf(t)
    const oldest = addDays(today, 1 - this.retentionDays)
    for (const [day, ids] of this.dirty) {
      if (day < oldest) continue
      const bucket = this.days.get(day) as Map<string, TrafficCounts>
      for (const id of ids) out.push([trafficKey(day, id), copyCounts(bucket.get(id) as TrafficCounts)])
    }
    // A day flushed now stays until the next flush: its commit is on its way, and reads take memory first.
    const flushed = new Set(this.dirty.keys())
    this.dirty.clear()
    if (this.purgedFor !== today) {
      this.purgedFor = today
      for (const k of this.store.metaKeys(TRAFFIC_META, `${TRAFFIC_META}${oldest}`)) out.push([k, null])
    }
    for (const day of this.days.keys()) if (day !== this.current && (!flushed.has(day) || day < oldest)) this.days.delete(day)
    return out
  }

  /** Entries of a flush whose commit failed: their buckets are given out again by the next flush (and the purge). */
  unflushed(entries: readonly [string, TrafficCounts | null][]): void {
    for (const [k, v] of entries) {
      if (v === null) { this.purgedFor = ''; continue }
      const day = k.slice(TRAFFIC_META.length, TRAFFIC_META.length + 10)
      const id = k.slice(TRAFFIC_META.length + 11)
      const bucket = this.days.get(day) ?? this.days.set(day, new Map()).get(day) as Map<string, TrafficCounts>
      // a later sample may have read the bucket again (its day left memory): the newer one has these counts too
      if (!bucket.has(id)) bucket.set(id, v)
      this.markDirty(day, id)
    }
  }

  counts(day: string, systemId: string): TrafficCounts | undefined {
    return this.days.get(day)?.get(systemId) ?? this.stored.counts(day, systemId)
  }

  accountsOf(day: string): Map<string, TrafficCounts> {
    const out = this.stored.accountsOf(day)
    for (const [id, c] of this.days.get(day) ?? []) out.set(id, c)
    return out
  }

  /** An account's bucket of a day, read from the store the first time (a restart goes on with the day). */
  private bucket(day: string, systemId: string): TrafficCounts {
    let b = this.days.get(day)
    if (b === undefined) this.days.set(day, (b = new Map()))
    let row = b.get(systemId)
    if (row === undefined) b.set(systemId, (row = this.stored.counts(day, systemId) ?? emptyCounts()))
    this.markDirty(day, systemId)
    return row
  }

  private markDirty(day: string, systemId: string): void {
    let d = this.dirty.get(day)
    if (d === undefined) this.dirty.set(day, (d = new Set()))
    d.add(systemId)
  }
}

/** A day as the API and the CLI take it: YYYY-MM-DD (UTC), `today` or `yesterday`; null when it is none of them. */
export function parseDay(v: string, today: string): string | null {
  if (v === 'today') return today
  if (v === 'yesterday') return addDays(today, -1)
  return dayStart(v) === null ? null : v
}

/** The one line for a day that parseDay refused, naming the parameter as the caller calls it. */
export const dayProblem = (name: string, v: unknown): string => `${name} must be a day as YYYY-MM-DD (UTC), today or yesterday (got ${JSON.stringify(v)})`

/**
 * The days of a report from its `from` and `to` (YYYY-MM-DD, UTC, today or yesterday; either may be missing): neither, the last 7 days
 * to today; only `from`, from then to today; only `to`, the 7 days to then. A problem is one line naming the
 * parameter as the caller calls it (`names`: the API's query parameters, the CLI's flags).
 */
export function reportRange(q: { from?: string; to?: string }, today: string, names = { from: 'from', to: 'to' }): [string, string] | string {
  const given: { from?: string; to?: string } = {}
  for (const k of ['from', 'to'] as const) {
    const v = q[k]
    if (v === undefined) continue
    const d = parseDay(v, today)
    if (d === null) return dayProblem(names[k], v)
    given[k] = d
  }
  const to = given.to ?? (given.from !== undefined && given.from > today ? given.from : today)
  const from = given.from ?? addDays(to, -6)
  if (from > to) return `${names.from} ${from} is after ${names.to} ${to}`
  const span = daysBetween(from, to).length
  if (span > MAX_REPORT_DAYS) return `${names.from} to ${names.to} spans ${span} days: at most ${MAX_REPORT_DAYS}`
  return [from, to]
}
