/**
 * The dispatcher: between the store and the connectors. It owns WHEN and WHERE each destination of
 * an accepted message goes:
 * - schedule_delivery_time: held in 1 s buckets until due (durable: the record is in the store's
 *   active index, and recover() rebuilds the buckets at start);
 * - the connector: the first one up among the route's candidates (`dest.via`, ordered by the router:
 *   failover lists in order, round robin rotated), so a dead (or operator-stopped) connector fails
 *   over to the next; a destination none of whose candidates exists any more (removed by a config
 *   reload) is routed again by the routes in force (`reroute`);
 * - retries: a temporary failure (link down, ESME_RTHROTTLED, ESME_RMSGQFUL, timeout, HTTP 5xx) goes
 *   to another candidate that is up, else waits with exponential back-off (dispatch.retryMs), cut short
 *   when one of its candidates comes up (`wake`); a connector paused by its upstream's throttling is
 *   taken only when no other candidate is up (the destination waits in its lane for the pause's end);
 * - expiry: a destination not final at its validity_period (expireAt) gets an EXPIRED outcome,
 *   whether it is scheduled, waiting for a retry, queued at a connector or awaiting an upstream receipt;
 * - opt-outs: a destination whose number went on a list that binds its account after it was admitted
 *   (scheduled, waiting for a retry or another connector) ends REJECTED with SMSC_ROPTEDOUT when it is
 *   due, instead of going to a connector: nothing goes out after a STOP (docs/ROUTING.md "Opt-outs").
 * It never writes the store: outcomes go to the delivery actor, which commits them with the receipts.
 */
import { CommandStatus, MessageState } from '../engine/protocol/constants'
import { isFinal, type MessageRecord } from '../engine/message'
import { SIMULATOR_CONNECTOR } from '../engine/config'
import type { OptOutBinding, OptOutLists } from '../engine/optouts'
import type { Connector, Dispatch } from './connectors/types'
import type { Outcome } from './messages'

/**
 * Who holds a destination right now, on the in-memory record (a Symbol key: never stored): the
 * dispatcher ('') or a connector (its id), with the revision it holds. A destination is held once:
 * a restart of a connector takes back only what that connector held, a restart of the dispatcher
 * only what the dispatcher held, so nothing is sent twice because of a restart of ours.
 */
export const HOLDER = Symbol('holder')
export interface Holder { by: string; rev: number }
type Held = { [HOLDER]?: Holder }
const holderOf = (j: Dispatch): Holder | undefined => (j.record.dests[j.dest] as Held)[HOLDER]
const hold = (j: Job, by: string): void => { (j.record.dests[j.dest] as Held)[HOLDER] = { by, rev: j.rev } }

/** One destination of one message on its way out; connectors get these objects and hand them back. */
export interface Job extends Dispatch {
  attempts: number
  /** first dispatch (the simulator sends an intermediate notification only then) */
  fresh: boolean
  rev: number
  /** Connectors that failed this job since its last back-off: the next try goes to another candidate. */
  tried?: string[]
  /** The second (bucket of `later`) it waits for; a job woken before it (`wake`) leaves an entry there that is skipped. */
  wait?: number
}

export interface DispatcherDeps {
  now(): number
  /** Live connectors by id (owned by their actors); a stopped one reads as down. Undefined: no such connector (any more). */
  connector(id: string): Pick<Connector, 'up' | 'probing' | 'paused'> | undefined
  /**
   * The candidates the routes in force give a destination whose route named only connectors that are gone
   * (a config reload removed them); null when no route takes it now (it waits, and expires at its validity).
   */
  reroute?(record: MessageRecord, dest: number): string[] | null
  /** Hands a batch to a connector's actor. */
  send(connectorId: string, jobs: Job[]): void
  /** Outcomes the dispatcher decides (EXPIRED; REJECTED for a number opted out since its admission). */
  outcomes(outcomes: Outcome[]): void
  /** The opt-out lists (the store's, engine/optouts.ts) and an account's reseller: asked for each due destination. */
  optOuts?: { lists: OptOutLists; parentOf(systemId: string): string | null }
  retryMs: readonly [number, number]
}

const SEC = 1000
/** A destination whose route names no connector goes to the simulated carrier. */
const DEFAULT_VIA = [SIMULATOR_CONNECTOR] as const

/** Finished, cancelled or replaced since it was queued: nothing to do. */
export function isStale(j: Job): boolean {
  return isFinal(j.record.dests[j.dest].state) || (j.record.rev ?? 0) !== j.rev
}
/** How often settled destinations leave the wait-for-receipt buckets (their records are freed then). */
const SWEEP_MS = 5_000

export class Dispatcher {
  /** Not yet due (schedule or back-off), by second. */
  private readonly later = new Map<number, Job[]>()
  /** Jobs in `later` for a back-off (scheduled ones are not a backlog: they are not due). */
  private backingOff = 0
  private readonly waitingRetry = new Set<Job>()
  private ready: Job[] = []
  /** Handed to an upstream that accepted them: waiting for its receipt, by expiry second. */
  private readonly awaiting = new Map<number, Job[]>()
  private awaitingCount = 0
  private cursor: number
  private lastSweep = 0

  constructor(private readonly d: DispatcherDeps) {
    this.cursor = Math.floor(d.now() / SEC)
  }

  /** Destinations due and waiting for a connector (ready, or backing off): the overload gauge. */
  get backlog(): number {
    return this.ready.length + this.waitingRetry.size
  }

  get waitingForReceipt(): number {
    return this.awaitingCount
  }

  /**
   * Accepted (or replaced) records: every destination not final is scheduled or made ready,
   * unless it is already held at this revision (a replace_sm makes a new revision).
   */
  submit(records: MessageRecord[], fresh = true): void {
    const now = this.d.now()
    for (const r of records) {
      const rev = r.rev ?? 0
      for (let i = 0; i < r.dests.length; i++) {
        const d = r.dests[i] as Held & (typeof r.dests)[number]
        if (isFinal(d.state) || d[HOLDER]?.rev === rev) continue
        const job: Job = { record: r, dest: i, attempts: 0, fresh, rev }
        hold(job, '')
        if (r.scheduleAt > now) this.at(r.scheduleAt, job)
        else this.ready.push(job)
      }
    }
  }

  /**
   * At start, or after a restart of this actor: active records from the store. Destinations an
   * upstream already accepted wait for its receipt; destinations a connector holds stay with it.
   */
  recover(records: MessageRecord[]): void {
    const now = this.d.now()
    for (const r of records) {
      for (let i = 0; i < r.dests.length; i++) {
        const dest = r.dests[i]
        if (isFinal(dest.state)) continue
        const job: Job = { record: r, dest: i, attempts: 0, fresh: false, rev: r.rev ?? 0 }
        const h = holderOf(job)
        if (h !== undefined && h.by !== '' && h.rev === job.rev && dest.up === undefined) continue // in a lane or at a connector
        hold(job, h !== undefined && h.by !== '' ? h.by : '')
        if (typeof dest.up === 'string') this.await(job)
        else if (r.scheduleAt > now) this.at(r.scheduleAt, job)
        else this.ready.push(job)
      }
    }
  }

  /** After connector `id` restarted: what it held (its lane and link are gone) comes back here. */
  reclaim(id: string, records: MessageRecord[]): void {
    for (const r of records) {
      for (let i = 0; i < r.dests.length; i++) {
        const dest = r.dests[i]
        const h = (dest as Held)[HOLDER]
        if (isFinal(dest.state) || dest.up !== undefined || h === undefined || h.by !== id) continue
        const job: Job = { record: r, dest: i, attempts: 0, fresh: false, rev: h.rev }
        if (job.rev !== (r.rev ?? 0)) continue
        hold(job, '')
        this.ready.push(job)
      }
    }
  }

  /** The upstream took these: they wait for its receipt (or their expiry). */
  accepted(jobs: Job[]): void {
    for (const j of jobs) this.await(j)
  }

  /**
   * Temporary failures: another candidate that is up (and has not failed this job since its last
   * back-off) takes them at once, else back-off. A back-off never outlasts the validity: the job is
   * due again at its expiry at the latest, and expires then.
   */
  retry(jobs: Job[], failed: string | null): void {
    const now = this.d.now()
    const [min, max] = this.d.retryMs
    for (const j of jobs) {
      if (isStale(j)) continue
      // Handed back by a connector that no longer holds it (reclaimed after its restart): not twice.
      if (failed !== null && holderOf(j)?.by !== failed) continue
      hold(j, '')
      if (failed !== null) {
        ;(j.tried ??= []).push(failed)
        if (this.choose(j, null) !== null) { this.ready.push(j); continue }
      }
      j.tried = undefined
      j.attempts++
      this.waitingRetry.add(j)
      this.at(now + Math.min(max, min * 2 ** Math.min(j.attempts - 1, 20)), j)
    }
  }

  /** Drops waiting-for-receipt jobs whose destination became final (their receipt came): frees their records. */
  sweep(): void {
    for (const [b, list] of this.awaiting) {
      const keep = list.filter((j) => !isStale(j))
      this.awaitingCount -= list.length - keep.length
      if (keep.length === 0) this.awaiting.delete(b)
      else if (keep.length < list.length) this.awaiting.set(b, keep)
    }
  }

  /**
   * Connector `id` came up (bound again, or an HTTP one answering again): the destinations backing off that it may
   * carry (a candidate of theirs) go now, not at the end of their back-off; its window and rate then pace them. One
   * walk of the jobs backing off per connector coming up: nothing per message.
   */
  wake(id: string): void {
    for (const j of this.waitingRetry) {
      const via = j.record.dests[j.dest].via
      if (via === undefined || via.length === 0 ? id !== SIMULATOR_CONNECTOR : !via.includes(id)) continue
      this.waitingRetry.delete(j)
      j.wait = undefined
      this.ready.push(j)
    }
  }

  /** Jobs a connector's queue gave back unsent (it went down): choose again now. */
  requeue(jobs: Job[]): void {
    for (const j of jobs) { hold(j, ''); this.ready.push(j) }
  }

  /** The coarse tick: due buckets to ready, expiry, then one batch per connector. */
  tick(now: number): void {
    if (now - this.lastSweep >= SWEEP_MS) { this.lastSweep = now; this.sweep() }
    const until = Math.floor(now / SEC)
    const ended: Outcome[] = [] // EXPIRED, or REJECTED (opted out)
    for (; this.cursor <= until; this.cursor++) {
      const due = this.later.get(this.cursor)
      if (due !== undefined) {
        this.later.delete(this.cursor)
        for (const j of due) {
          if (j.wait !== this.cursor) continue // woken since (wake), and maybe waiting again elsewhere
          j.wait = undefined
          this.waitingRetry.delete(j)
          this.ready.push(j)
        }
      }
      const exp = this.awaiting.get(this.cursor)
      if (exp !== undefined) {
        this.awaiting.delete(this.cursor)
        this.awaitingCount -= exp.length
        for (const j of exp) if (!isStale(j)) ended.push(this.expire(j))
      }
    }
    if (this.ready.length > 0) {
      const jobs = this.ready
      this.ready = []
      const byConnector = new Map<string, Job[]>()
      const noneUp: Job[] = []
      const probes = new Set<string>()
      // The opt-out rule of admission (OptOutLists.binding), again now: nothing while every list is empty, else one
      // Set lookup per destination and non-empty list (the lists of an account looked up once a tick). A STOP
      // confirmation passes here as at admission: its number went on the list just before it.
      const screen = this.d.optOuts !== undefined && this.d.optOuts.lists.size > 0 ? this.d.optOuts : null
      let bindings: Map<string, OptOutBinding | null> | undefined
      for (const j of jobs) {
        if (isStale(j)) continue
        if (j.record.expireAt <= now) { ended.push(this.expire(j)); continue }
        if (screen !== null && j.record.confirmsOptOut !== true) {
          const sys = j.record.systemId
          let b = (bindings ??= new Map()).get(sys)
          if (b === undefined) bindings.set(sys, (b = screen.lists.binding(sys, screen.parentOf(sys))))
          if (b !== null && b.listOf(j.record.dests[j.dest].addr[2]) !== null) { ended.push(this.optedOut(j)); continue }
        }
        const c = this.choose(j, probes)
        if (c === null) { noneUp.push(j); continue }
        let list = byConnector.get(c)
        if (list === undefined) byConnector.set(c, (list = []))
        list.push(j)
      }
      for (const [c, list] of byConnector) {
        for (const j of list) hold(j, c)
        this.d.send(c, list)
      }
      // No candidate is up: wait (with back-off) for one to come up, or for the expiry.
      if (noneUp.length > 0) this.retry(noneUp, null)
      // Sent: the failed-connector memory lasts until the next failure or back-off.
    }
    if (ended.length > 0) this.d.outcomes(ended)
  }

  /**
   * The connector for a job: the first candidate (the simulator when the route names none) that has
   * not failed it since its last back-off and is up. With `probes` (the dispatch of a tick), a
   * candidate that is down but probing (HTTP: it has no link to watch, a request is its probe) may
   * take one job per tick, so a failover primary that comes back gets its traffic back. A candidate
   * paused by its upstream's throttling is the last resort, whether or not it failed the job (its pause
   * is the back-off): the job waits in its lane rather than in a back-off of dispatch.retryMs.
   */
  private choose(j: Job, probes: Set<string> | null, rerouted = false): string | null {
    const dest = j.record.dests[j.dest]
    const via = dest.via
    let known = false
    let paused: string | null = null
    for (const id of via === undefined || via.length === 0 ? DEFAULT_VIA : via) {
      const c = this.d.connector(id)
      if (c === undefined) continue
      known = true
      if (c.paused === true && c.up) { paused ??= id; continue }
      if (j.tried !== undefined && j.tried.includes(id)) continue
      if (c.up) return id
      if (probes !== null && c.probing === true && !probes.has(id)) { probes.add(id); return id }
    }
    if (paused !== null) return paused
    // Every candidate is gone (config reload): the routes in force choose again. The price charged stays.
    if (!known && !rerouted && this.d.reroute !== undefined) {
      const next = this.d.reroute(j.record, j.dest)
      if (next === null) return null
      dest.via = next.length === 1 && next[0] === SIMULATOR_CONNECTOR ? undefined : next
      j.tried = undefined
      return this.choose(j, probes, true)
    }
    return null
  }

  private expire(j: Job): Outcome {
    return { id: j.record.id, dest: j.dest, state: MessageState.EXPIRED, err: 0, rev: j.rev }
  }

  /** SMPP 3.4 §5.2.28 message_state REJECTED, its receipt REJECTD err:1027 (SMSC_ROPTEDOUT 0x403, as at admission). */
  private optedOut(j: Job): Outcome {
    return { id: j.record.id, dest: j.dest, state: MessageState.REJECTED, err: CommandStatus.SMSC_ROPTEDOUT, rev: j.rev }
  }

  private at(ms: number, j: Job): void {
    const b = Math.max(Math.ceil(Math.min(ms, j.record.expireAt) / SEC), this.cursor)
    j.wait = b
    let list = this.later.get(b)
    if (list === undefined) this.later.set(b, (list = []))
    list.push(j)
  }

  private await(j: Job): void {
    const b = Math.max(Math.ceil(j.record.expireAt / SEC), this.cursor)
    let list = this.awaiting.get(b)
    if (list === undefined) this.awaiting.set(b, (list = []))
    list.push(j)
    this.awaitingCount++
  }
}
