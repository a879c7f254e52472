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

function merge(group: Request[]): CommitBatch {
  if (group.length === 1) return group[0].batch
  const out: Required<CommitBatch> = { messages: [], enqueue: [], ack: [] }
  for (const { batch } of group) {
    if (batch.messages) for (const m of batch.messages) out.messages.push(m)
    if (batch.enqueue) for (const it of batch.enqueue) out.enqueue.push(it)
    if (batch.ack) for (const a of batch.ack) out.ack.push(a)
  }
  return out
}

export class GroupCommit {
  private pending: Request[] = []
  private inFlight = false

  constructor(
    private readonly store: Committer,
    /** Called after each transaction: its duration (ms) and how many requests it carried. */
    private readonly committed: (ms: number, requests: number) => void = () => {},
    private readonly onCallbackError: (err: unknown) => void = () => {},
  ) {}

  /** Requests waiting for the transaction in flight. */
  get waiting(): number { return this.pending.length }

  add(batch: CommitBatch, done: (err: Error | null) => void): void {
    this.pending.push({ batch, done })
    if (!this.inFlight) this.flush()
  }

  private flush(): void {
    const group = this.pending
    this.pending = []
    this.inFlight = true
    const t0 = performance.now()
    let p: Promise<void>
    try {
      p = this.store.commit(merge(group))
    } catch (err) {
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
    }, (err: Error) => settle(err)).finally(() => {
      this.inFlight = false
      if (this.pending.length > 0) this.flush()
    })
  }
}
