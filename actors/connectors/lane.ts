/**
 * The queue in front of one connector, owned by that connector's actor (`connector-<id>`). The
 * dispatcher hands it batches; the lane offers them to the connector in chunks (so a window-limited
 * connector never makes it walk the whole backlog) whenever the connector may have room: on every
 * tick, and after each batch of events from the link (responses free the window). When the
 * connector goes down, or the operator stops it (`stopped`), the lane gives its queue back to the
 * dispatcher to fail over; when its upstream throttles it (`paused`), once at the pause's start, and
 * what has no other candidate up comes back to wait here while the lane offers nothing.
 */
import type { Connector } from './types'
import { isStale, type Job } from '../dispatcher'

const CHUNK = 256

export class Lane {
  private queue: Job[] = []
  private head = 0
  /** Stopped by the operator (smsc connector stop): offers nothing; its actor gives the queue back on the next tick. */
  stopped = false
  /** Restarted after a crash (the restart's number): offers nothing, its connector not started, until the dispatcher begins to take back the old instance's work. */
  awaitingReclaim = 0
  /**
   * The link that takes the provider's receipt callbacks: this lane's own, or, after a crash restart and until the
   * reclaim begins, the one it replaced. That one holds a callback until its requests in flight are answered, so
   * the provider ids a callback names reach the dispatcher before it does.
   */
  receiptsTo: Connector
  /**
   * Resolved once the links before this lane's have stopped (after a crash restart: the one it replaced, and that
   * one's predecessors still stopping if it crashed before its own reclaim began). Its own link may have nothing
   * in flight while an older one still has.
   */
  predecessorsStopped: Promise<void> = Promise.resolve()
  /** The connector was paused at the last pauseBegan(). */
  private paused = false

  /** `handedOver` is told what the connector took (the message timeline's 'carrier' step). */
  constructor(readonly connector: Connector, private readonly handedOver: (jobs: readonly Job[], now: number) => void = () => {}) {
    this.receiptsTo = connector
  }

  get queued(): number {
    return this.queue.length - this.head
  }

  add(jobs: Job[], now: number): void {
    for (const j of jobs) this.queue.push(j)
    this.pump(now)
  }

  /** True once per pause of the connector (its upstream throttled it), on the tick that first sees it paused. */
  pauseBegan(): boolean {
    const paused = this.connector.paused === true
    const began = paused && !this.paused
    this.paused = paused
    return began
  }

  /** Offers queued jobs chunk by chunk while the connector takes whole chunks (none while it is paused). */
  pump(now: number): void {
    if (this.stopped || this.awaitingReclaim !== 0 || this.connector.paused === true) return
    while (this.head < this.queue.length && (this.connector.up || this.connector.probing === true)) {
      const end = Math.min(this.queue.length, this.head + CHUNK)
      const chunk = this.queue.slice(this.head, end).filter((j) => !isStale(j)) // cancelled, finished or replaced while queued here
      if (chunk.length === 0) { this.head = end; continue }
      // Which connector holds it, for a restart of that connector (the simulator's are found without it).
      if (this.connector.kind !== 'simulator') for (const j of chunk) j.record.dests[j.dest].conn = this.connector.id
      const rest = this.connector.submit(chunk, now) as Job[]
      if (rest.length < chunk.length) this.handedOver(rest.length === 0 ? chunk : chunk.slice(0, chunk.length - rest.length), now)
      // The rest (the connector's window or rate is full) go back to the head of the queue, in order.
      this.head = end - rest.length
      for (let i = 0; i < rest.length; i++) this.queue[this.head + i] = rest[i]
      if (rest.length > 0) break
    }
    if (this.head === this.queue.length) { this.queue = []; this.head = 0 }
    else if (this.head > 4096 && this.head * 2 > this.queue.length) { this.queue = this.queue.slice(this.head); this.head = 0 }
  }

  /** Everything still queued (the connector is down or stopping). */
  drain(): Job[] {
    const out = this.queue.slice(this.head)
    this.queue = []
    this.head = 0
    return out
  }
}
