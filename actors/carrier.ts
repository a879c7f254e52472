/**
 * The simulated carrier: the default route and a connector like any other. It takes accepted
 * records in batches, draws a delivery latency from the configured range and an outcome from the
 * configured probabilities (SMPPSim style), and reports outcomes in batches to the delivery actor.
 * Pending deliveries sit in coarse time buckets driven by one tick, never one timer per message.
 * Its in-memory state is rebuilt from the store's active messages when it (re)starts, so neither
 * a restart of the actor nor of the process loses an accepted message.
 */
import { MessageState } from '../engine/protocol/constants'
import type { ResolvedOptions } from '../engine/config'
import { STATE_OF_STAT, isFinal, type MessageRecord } from '../engine/message'
import type { Outcome } from './messages'

const BUCKET_MS = 20

interface Pending {
  id: string
  dest: number
  state: number
  err: number
  rev: number
}

export class SimulatedCarrier {
  private readonly buckets = new Map<number, Pending[]>()
  private cursor: number
  private readonly table: { state: number; err: number; upTo: number }[] = []
  inFlight = 0

  constructor(
    private readonly cfg: ResolvedOptions['simulator'],
    private readonly emit: (outcomes: Outcome[]) => void,
    now: number,
    private readonly random: () => number = Math.random,
  ) {
    this.cursor = Math.floor(now / BUCKET_MS)
    let acc = 0
    for (const [stat, p] of Object.entries(cfg.outcomes)) {
      if (!p) continue
      acc += p
      this.table.push({ state: STATE_OF_STAT[stat], err: (cfg.errorCodes as Record<string, number>)[stat] ?? 0, upTo: acc })
    }
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
  submitDests(items: readonly { record: MessageRecord; dest: number; fresh?: boolean }[], now: number): void {
    const [min, max] = this.cfg.deliveryDelayMs
    const intermediate: Outcome[] = []
    for (const { record: r, dest: i, fresh } of items) {
      if (isFinal(r.dests[i].state)) continue
      // ENROUTE intermediate notification (SMPP 3.4 §5.2.17 bit 4), once, when first accepted
      if (fresh !== false && this.cfg.intermediate && (r.registeredDelivery & 0x10) !== 0) {
        intermediate.push({ id: r.id, dest: i, state: MessageState.ENROUTE, err: 0, rev: r.rev ?? 0 })
      }
      let due = Math.max(now, r.scheduleAt) + min + Math.floor(this.random() * (max - min + 1))
      let o = this.pick()
      // validity_period runs out before the carrier would deliver: EXPIRED at expiry time
      if (due >= r.expireAt) {
        due = Math.max(now, r.expireAt)
        o = { state: MessageState.EXPIRED, err: (this.cfg.errorCodes as Record<string, number>).EXPIRED ?? 0 }
      }
      this.add(due, { id: r.id, dest: i, state: o.state, err: o.err, rev: r.rev ?? 0 })
    }
    if (intermediate.length > 0) this.emit(intermediate)
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
