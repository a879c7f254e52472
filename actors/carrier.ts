/**
 * The simulated carrier: the default route and a connector like any other. It takes accepted
 * records in batches, draws a delivery latency from the configured range and an outcome from the
 * configured probabilities (SMPPSim style), and reports outcomes in batches to the delivery actor.
 * Pending deliveries sit in coarse time buckets driven by one tick, never one timer per message.
 * Its in-memory state is rebuilt from the store's active messages when it (re)starts, so neither
 * a restart of the actor nor of the process loses an accepted message.
 * Absent subscribers (`simulator.absentRate`): at its first attempt a destination may find the
 * subscriber absent; it is handed back as a temporary failure (the dispatcher retries it with
 * dispatch.retryMs back-off), and its outcome at a later attempt is marked `available`, which is
 * what alert_notification (SMPP 3.4 §4.12) is about. Which destinations were absent is kept in
 * memory only: after a restart their next attempt is a first attempt again.
 */
import { MessageState } from '../engine/protocol/constants'
import { YoungMap } from '../engine/young-map'
import type { ResolvedOptions } from '../engine/config'
import { STATE_OF_STAT, isFinal, type MessageRecord } from '../engine/message'
import type { Outcome } from './messages'
import { addressKey } from './dpf'

const BUCKET_MS = 20
/** At most this many absent destinations remembered (simulator.absentRate). */
const MAX_ABSENT = 100_000

interface Pending {
  id: string
  dest: number
  state: number
  err: number
  rev: number
  available?: boolean
}

/** What the carrier takes: one destination of one record; `attempts` (the dispatcher's Job) 0 = the first. */
export interface CarrierItem { record: MessageRecord; dest: number; fresh?: boolean; attempts?: number }

export class SimulatedCarrier {
  private readonly buckets = new YoungMap<number, Pending[]>() // a bucket per 20 ms: churn (young-map.ts)
  private cursor: number
  private readonly table: { state: number; err: number; upTo: number }[] = []
  /** simulator.fixedOutcomes, longest prefix first; empty (no lookup per destination) unless configured */
  private readonly fixed: { prefix: string; state: number; err: number }[] = []
  /** `${id}:${dest}` of destinations whose subscriber was absent at their first attempt. */
  private readonly absent = new Set<string>()
  inFlight = 0

  constructor(
    private readonly cfg: ResolvedOptions['simulator'],
    private readonly emit: (outcomes: Outcome[]) => void,
    now: number,
    private readonly random: () => number = Math.random,
    /** Temporary failures (subscriber absent): the dispatcher tries them again later. */
    private readonly retry: (items: CarrierItem[]) => void = () => {},
  ) {
    this.cursor = Math.floor(now / BUCKET_MS)
    let acc = 0
    for (const [stat, p] of Object.entries(cfg.outcomes)) {
      if (!p) continue
      acc += p
      this.table.push({ state: STATE_OF_STAT[stat], err: (cfg.errorCodes as Record<string, number>)[stat] ?? 0, upTo: acc })
    }
    for (const [prefix, stat] of Object.entries(cfg.fixedOutcomes ?? {})) {
      this.fixed.push({ prefix, state: STATE_OF_STAT[stat], err: (cfg.errorCodes as Record<string, number>)[stat] ?? 0 })
    }
    this.fixed.sort((a, b) => b.prefix.length - a.prefix.length)
  }

  /** The fixed outcome of a test number (simulator.fixedOutcomes), or undefined. */
  private fixedFor(addr: string): { state: number; err: number } | undefined {
    const key = addressKey(addr)
    for (const f of this.fixed) if (key.startsWith(f.prefix)) return f
    return undefined
  }

  private pick(): { state: number; err: number } {
    const x = this.random() * (this.table.length ? this.table[this.table.length - 1].upTo : 1)
    for (const o of this.table) if (x < o.upTo) return o
    return this.table[this.table.length - 1] ?? { state: MessageState.DELIVERED, err: 0 }
  }

  /** Takes a batch of accepted (or recovered) records: every destination not yet final. */
  submit(records: MessageRecord[], now: number, fresh = true): void {
    const items: { record: MessageRecord; dest: number; fresh?: boolean }[] = []
    for (const r of records) for (let i = 0; i < r.dests.length; i++) items.push({ record: r, dest: i, fresh })
    this.submitDests(items, now)
  }

  /** Takes a batch of destinations (the connector form: one destination of one message each). */
  submitDests(items: readonly CarrierItem[], now: number): void {
    const [min, max] = this.cfg.deliveryDelayMs
    const intermediate: Outcome[] = []
    const absent: CarrierItem[] = []
    for (const item of items) {
      const { record: r, dest: i, fresh } = item
      if (isFinal(r.dests[i].state)) continue
      // simulator.absentRate only: no key and no set lookup per message otherwise
      const key = this.cfg.absentRate > 0 ? `${r.id}:${i}` : ''
      // Subscriber absent at the first attempt: a temporary failure, delivered at a later attempt
      if (key !== '' && (item.attempts ?? 0) === 0 && !this.absent.has(key) && r.scheduleAt <= now && this.random() < this.cfg.absentRate) {
        this.absent.add(key)
        // A destination cancelled, replaced or expired while it waits for its retry never comes back to
        // take its key: the oldest keys go beyond a bound (the set is in insertion order).
        if (this.absent.size > MAX_ABSENT) this.absent.delete(this.absent.values().next().value as string)
        absent.push(item)
        continue
      }
      const available = key !== '' && this.absent.delete(key)
      // ENROUTE intermediate notification (SMPP 3.4 §5.2.17 bit 4), once, when first accepted
      if (fresh !== false && this.cfg.intermediate && (r.registeredDelivery & 0x10) !== 0) {
        intermediate.push({ id: r.id, dest: i, state: MessageState.ENROUTE, err: 0, rev: r.rev ?? 0 })
      }
      let due = Math.max(now, r.scheduleAt) + min + Math.floor(this.random() * (max - min + 1))
      let o = (this.fixed.length > 0 ? this.fixedFor(r.dests[i].addr[2]) : undefined) ?? this.pick()
      // validity_period runs out before the carrier would deliver: EXPIRED at expiry time
      if (due >= r.expireAt) {
        due = Math.max(now, r.expireAt)
        o = { state: MessageState.EXPIRED, err: (this.cfg.errorCodes as Record<string, number>).EXPIRED ?? 0 }
      }
      const p: Pending = { id: r.id, dest: i, state: o.state, err: o.err, rev: r.rev ?? 0 }
      if (available) p.available = true
      this.add(due, p)
    }
    if (intermediate.length > 0) this.emit(intermediate)
    if (absent.length > 0) this.retry(absent)
  }

  private add(due: number, p: Pending): void {
    const b = Math.max(Math.ceil(due / BUCKET_MS), this.cursor)
    let list = this.buckets.get(b)
    if (list === undefined) this.buckets.set(b, (list = []))
    list.push(p)
    this.inFlight++
  }

  /** Emits every outcome that is due, as one batch. */
  tick(now: number): void {
    const until = Math.floor(now / BUCKET_MS)
    let out: Outcome[] | null = null
    for (; this.cursor <= until; this.cursor++) {
      const list = this.buckets.get(this.cursor)
      if (list === undefined) continue
      this.buckets.delete(this.cursor)
      this.inFlight -= list.length
      out = out === null ? list : out.concat(list)
    }
    if (out !== null) this.emit(out)
  }
}
