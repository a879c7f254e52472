/**
 * Group commit for the store actor: while one write transaction is in flight, every commit request
 * that arrives (from any session, the delivery actor, MO) waits and joins the next one, so N small
 * batches from N binds cost one LMDB transaction instead of N queued ones. At low load a request
 * is written at once; under load the groups grow by themselves. Each caller's `done` runs after
 * the transaction that carries its batch is committed.
 */
import type { CommitBatch } from '../engine/store'

interface Request {
  batch: CommitBatch
  done: (err: Error | null) => void
}

export interface Committer {
  commit(batch: CommitBatch): Promise<void>
}

/** One batch of the group's batches: every part (all arrays) concatenated in request order. */
function merge(group: Request[]): CommitBatch {
  if (group.length === 1) return group[0].batch
  const out: Record<string, unknown[]> = {}
  for (const { batch } of group) {
    for (const key in batch) {
      const part = (batch as Record<string, unknown[] | undefined>)[key]
      if (part === undefined) continue
      const into = out[key] ?? (out[key] = [])
      for (const x of part) into.push(x)
    }
  }
  return out as CommitBatch
}

export class GroupCommit {
  private pending: Request[] = []
  private inFlight = false

  constructor(
    private readonly store: Committer,
    /** Called after each transaction: its duration (ms) and how many requests it carried. */
    private readonly committed: (ms: number, requests: number) => void = () => {},
    private readonly onCallbackError: (err: unknown) => void = () => {},
    /**
     * A transaction ended with requests waiting: have kick() called once the owner has queued everything
     * posted to it so far (the store actor: through its mailbox). Writing them at once instead could write
     * a record that an actor has changed since its request was queued without that actor's own request,
     * still in the mailbox, which carries what goes with the change (a refund, a receipt): a kill -9 between
     * the two transactions kept the change and lost the rest. Without it: written at once.
     */
    private readonly wake: (() => void) | null = null,
  ) {}

  /** Requests waiting for the transaction in flight. */
  get waiting(): number { return this.pending.length }

  /** Nothing in flight and nothing waiting: every request so far is written (or failed). */
  get idle(): boolean { return !this.inFlight && this.pending.length === 0 }

  /** Messages in the requests waiting (the store's part of the overload gauge). */
  waitingMessages = 0

  add(batch: CommitBatch, done: (err: Error | null) => void): void {
    this.queue(batch, done)
    this.kick()
  }

  /** Queues without writing: the caller kicks once it has queued everything it has (one transaction for all). */
  queue(batch: CommitBatch, done: (err: Error | null) => void): void {
    this.pending.push({ batch, done })
    this.waitingMessages += batch.messages?.length ?? 0
  }

  /** Writes what is queued unless a transaction is in flight (then its end writes it). */
  kick(): void {
    if (!this.inFlight && this.pending.length > 0) this.flush()
  }

  private flush(): void {
    const group = this.pending
    this.pending = []
    this.waitingMessages = 0
    this.inFlight = true
    const t0 = performance.now()
    let p: Promise<void>
    // A batch the store refuses while checking it (before anything is written) can be retried alone;
    // a failure of the transaction itself cannot (it may have committed: a retry would apply it twice).
    let refusedUpFront = false
    try {
      p = this.store.commit(merge(group))
    } catch (err) {
      refusedUpFront = true
      p = Promise.reject(err)
    }
    const settle = (err: Error | null) => {
      for (const r of group) {
        try {
          r.done(err)
        } catch (e) {
          this.onCallbackError(e)
        }
      }
    }
    p.then(() => {
      this.committed(performance.now() - t0, group.length)
      settle(null)
    }, (err: Error) => {
      // One bad batch must not fail the others it was grouped with: commit each alone.
      if (group.length === 1 || !refusedUpFront) return settle(err)
      return Promise.all(group.map((r) => {
        let one: Promise<void>
        try { one = this.store.commit(r.batch) } catch (e) { one = Promise.reject(e) }
        return one.then(() => null, (e: Error) => e).then((e) => {
          try { r.done(e) } catch (cbErr) { this.onCallbackError(cbErr) }
        })
      })).then(() => undefined)
    }).finally(() => {
      this.inFlight = false
      if (this.pending.length > 0) {
        if (this.wake !== null) this.wake()
        else this.flush()
      }
    })
  }
}
