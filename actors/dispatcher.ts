/**
 * The dispatcher: between the store and the connectors. It owns WHEN and WHERE each destination of
 * an accepted message goes:
 * - schedule_delivery_time: held in 1 s buckets until due (durable: the record is in the store's
 *   active index, and recover() rebuilds the buckets at start);
 * - the connector: the first one up among the route's candidates (`dest.via`, ordered by the router:
 *   failover lists in order, round robin rotated), so a dead connector fails over to the next;
 * - retries: a temporary failure (link down, ESME_RTHROTTLED, ESME_RMSGQFUL, timeout, HTTP 5xx) goes
 *   to another candidate that is up, else waits with exponential back-off (dispatch.retryMs);
 * - expiry: a destination not final at its validity_period (expireAt) gets an EXPIRED outcome,
 *   whether it is scheduled, waiting for a retry, queued at a connector or awaiting an upstream receipt.
 * It never writes the store: outcomes go to the delivery actor, which commits them with the receipts.
 */
import { MessageState } from '../engine/protocol/constants'
import { isFinal, type MessageRecord } from '../engine/message'
import { SIMULATOR_CONNECTOR } from '../engine/config'
import type { Connector, Dispatch } from './connectors/types'
import type { Outcome } from './messages'

/** One destination of one message on its way out; connectors get these objects and hand them back. */
export interface Job extends Dispatch {
  attempts: number
  /** first dispatch (the simulator sends an intermediate notification only then) */
  fresh: boolean
  rev: number
}

export interface DispatcherDeps {
  now(): number
  /** Live connectors by id (owned by their actors). */
  connector(id: string): Connector | undefined
  /** Hands a batch to a connector's actor. */
  send(connectorId: string, jobs: Job[]): void
  /** Outcomes the dispatcher decides (EXPIRED, or UNDELIVERABLE when a route names no connector). */
  outcomes(outcomes: Outcome[]): void
  retryMs: readonly [number, number]
}

const SEC = 1000

export class Dispatcher {
  /** Not yet due (schedule or back-off), by second. */
  private readonly later = new Map<number, Job[]>()
  private laterCount = 0
  private ready: Job[] = []
  /** Handed to an upstream that accepted them: waiting for its receipt, by expiry second. */
  private readonly awaiting = new Map<number, Job[]>()
  private awaitingCount = 0
  private cursor: number

  constructor(private readonly d: DispatcherDeps) {
    this.cursor = Math.floor(d.now() / SEC)
  }

  /** Destinations waiting for a connector (due or not): the overload gauge. */
  get backlog(): number {
    return this.ready.length + this.laterCount
  }

  get waitingForReceipt(): number {
    return this.awaitingCount
  }

  /** Accepted (or replaced) records: every destination not final is scheduled or made ready. */
  submit(records: MessageRecord[], fresh = true): void {
    const now = this.d.now()
    for (const r of records) {
      for (let i = 0; i < r.dests.length; i++) {
        if (isFinal(r.dests[i].state)) continue
        const job: Job = { record: r, dest: i, attempts: 0, fresh, rev: r.rev ?? 0 }
        if (r.scheduleAt > now) this.at(r.scheduleAt, job)
        else this.ready.push(job)
      }
    }
  }

  /** At start: active records from the store. Destinations an upstream already holds wait for its receipt. */
  recover(records: MessageRecord[]): void {
    const now = this.d.now()
    for (const r of records) {
      for (let i = 0; i < r.dests.length; i++) {
        const dest = r.dests[i]
        if (isFinal(dest.state)) continue
        const job: Job = { record: r, dest: i, attempts: 0, fresh: false, rev: r.rev ?? 0 }
        if (typeof (dest as { up?: string }).up === 'string') this.await(job)
        else if (r.scheduleAt > now) this.at(r.scheduleAt, job)
        else this.ready.push(job)
      }
    }
  }

  /** The upstream took these: they wait for its receipt (or their expiry). */
  accepted(jobs: Job[]): void {
    for (const j of jobs) this.await(j)
  }

  /** Temporary failures: another candidate that is up takes them at once, else back-off. */
  retry(jobs: Job[], failed: string | null): void {
    const now = this.d.now()
    const [min, max] = this.d.retryMs
    for (const j of jobs) {
      if (this.stale(j)) continue
      if (failed !== null && this.pick(j, failed) !== null) { this.ready.push(j); continue }
      j.attempts++
      this.at(now + Math.min(max, min * 2 ** Math.min(j.attempts - 1, 20)), j)
    }
  }

  /** Jobs a connector's queue gave back unsent (it went down): choose again now. */
  requeue(jobs: Job[]): void {
    for (const j of jobs) this.ready.push(j)
  }

  /** The coarse tick: due buckets to ready, expiry, then one batch per connector. */
  tick(now: number): void {
    const until = Math.floor(now / SEC)
    const expired: Outcome[] = []
    for (; this.cursor <= until; this.cursor++) {
      const due = this.later.get(this.cursor)
      if (due !== undefined) {
        this.later.delete(this.cursor)
        this.laterCount -= due.length
        for (const j of due) this.ready.push(j)
      }
      const exp = this.awaiting.get(this.cursor)
      if (exp !== undefined) {
        this.awaiting.delete(this.cursor)
        this.awaitingCount -= exp.length
        for (const j of exp) if (!this.stale(j)) expired.push(this.expire(j))
      }
    }
    if (this.ready.length > 0) {
      const jobs = this.ready
      this.ready = []
      const byConnector = new Map<string, Job[]>()
      const noneUp: Job[] = []
      for (const j of jobs) {
        if (this.stale(j)) continue
        if (j.record.expireAt <= now) { expired.push(this.expire(j)); continue }
        const c = this.pick(j, null)
        if (c === null) { noneUp.push(j); continue }
        let list = byConnector.get(c)
        if (list === undefined) byConnector.set(c, (list = []))
        list.push(j)
      }
      for (const [c, list] of byConnector) this.d.send(c, list)
      // No candidate is up: wait (with back-off) for one to come up, or for the expiry.
      if (noneUp.length > 0) this.retry(noneUp, null)
    }
    if (expired.length > 0) this.d.outcomes(expired)
  }

  /** First candidate connector that is up, skipping `not`; null when none is. */
  private pick(j: Job, not: string | null): string | null {
    const via = (j.record.dests[j.dest] as { via?: string[] }).via
    if (via === undefined || via.length === 0) return not === SIMULATOR_CONNECTOR ? null : SIMULATOR_CONNECTOR
    for (const id of via) {
      if (id === not) continue
      const c = this.d.connector(id)
      if (c !== undefined && c.up) return id
    }
    return null
  }

  /** Finished, cancelled or replaced since it was queued: nothing to do. */
  private stale(j: Job): boolean {
    return isFinal(j.record.dests[j.dest].state) || (j.record.rev ?? 0) !== j.rev
  }

  private expire(j: Job): Outcome {
    return { id: j.record.id, dest: j.dest, state: MessageState.EXPIRED, err: 0, rev: j.rev }
  }

  private at(ms: number, j: Job): void {
    const b = Math.max(Math.ceil(ms / SEC), this.cursor)
    let list = this.later.get(b)
    if (list === undefined) this.later.set(b, (list = []))
    list.push(j)
    this.laterCount++
  }

  private await(j: Job): void {
    const b = Math.max(Math.ceil(j.record.expireAt / SEC), this.cursor)
    let list = this.awaiting.get(b)
    if (list === undefined) this.awaiting.set(b, (list = []))
    list.push(j)
    this.awaitingCount++
  }
}
