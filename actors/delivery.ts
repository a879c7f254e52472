/**
 * Delivery of receipts and MO to ESMEs. Turns carrier outcomes into record updates and receipt
 * items (one store commit per batch), keeps a per-account queue of items not yet acknowledged
 * (durable in the store, mirrored here), hands them to bound receivers and transceivers of the
 * account round robin within each bind's window, and retries with back-off after a response
 * timeout or a negative deliver_sm_resp. An item leaves the store only after a deliver_sm_resp
 * with status 0. State is rebuilt from the store when the actor (re)starts.
 */
import type { CommitBatch, DeliveryItem, Store } from '../engine/store'
import { MessageState } from '../engine/protocol/constants'
import { aggregateState, isFinal, receiptItem, statOf, wantsReceipt, type MessageRecord } from '../engine/message'
import type { Session } from '../engine/session/session'
import type { LogFn } from '../engine/log'
import type { Outcome } from './messages'
import type { Metrics } from '../engine/telemetry'

interface Queue {
  ready: DeliveryItem[]
  head: number
  retry: { due: number; item: DeliveryItem }[]
  rr: number
}

export interface DeliveryDeps {
  store: Store
  commit(batch: CommitBatch, done: (err: Error | null) => void): void
  /** Bound receivers/transceivers of an account. */
  receivers(systemId: string): Session[]
  /** Hands items to a session; returns the ones it could not take. */
  send(s: Session, items: DeliveryItem[]): DeliveryItem[]
  /** Items committed by this actor's own outcome handling come back through the mailbox. */
  enqueueLater(items: DeliveryItem[]): void
  now(): number
  redeliveryMs: [number, number]
  /** Items older than this are discarded (acked away) with a warning. */
  maxAgeMs: number
  multipart: 'every' | 'last'
  log: LogFn
  metrics: Metrics
}

export class Delivery {
  private readonly queues = new Map<string, Queue>()

  constructor(private readonly d: DeliveryDeps) {
    for (const systemId of d.store.accountsWithPending()) {
      const q = this.queue(systemId)
      let after = 0
      for (;;) {
        const page = d.store.pendingDeliveries(systemId, after, 10_000)
        if (page.length === 0) break
        for (const it of page) q.ready.push(it)
        after = page[page.length - 1].key!
      }
    }
  }

  private queue(systemId: string): Queue {
    let q = this.queues.get(systemId)
    if (q === undefined) this.queues.set(systemId, (q = { ready: [], head: 0, retry: [], rr: 0 }))
    return q
  }

  /** Items waiting (not in flight) for an account. */
  waiting(systemId: string): number {
    const q = this.queues.get(systemId)
    return q ? q.ready.length - q.head + q.retry.length : 0
  }

  outcomes(outcomes: Outcome[]): void {
    const now = this.d.now()
    const changed = new Map<string, MessageRecord>()
    const receipts: DeliveryItem[] = []
    for (const o of outcomes) {
      const r = changed.get(o.id) ?? (this.d.store.getMessage(o.id) as MessageRecord | undefined)
      if (r === undefined) continue
      const dest = r.dests[o.dest]
      if (dest === undefined || isFinal(dest.state)) continue // cancelled, expired or already settled
      if ((o.rev ?? 0) !== (r.rev ?? 0)) continue // replaced since the carrier took it: a newer outcome follows
      if (o.state === MessageState.ENROUTE) {
        if (wantsReceipt(r.registeredDelivery, MessageState.ENROUTE)) receipts.push(receiptItem(r, { ...dest, state: MessageState.ENROUTE }, now))
        continue
      }
      dest.state = o.state
      dest.err = o.err
      dest.doneAt = now
      r.state = aggregateState(r.dests)
      if (isFinal(r.state)) {
        r.doneAt = now
        r.err = dest.err
      }
      changed.set(r.id, r)
      if (wantsReceipt(r.registeredDelivery, dest.state) && this.receiptForPart(r)) receipts.push(receiptItem(r, dest, now))
      this.d.metrics.step(r.id, 'receipt', now, statOf(dest.state))
    }
    const m = this.d.metrics
    for (const it of receipts) {
      const c = m.account(it.systemId)
      c.receipts[it.stat as string] = (c.receipts[it.stat as string] ?? 0) + 1
    }
    m.totals.receipts += receipts.length
    if (changed.size === 0 && receipts.length === 0) return
    this.d.commit({ messages: [...changed.values()], enqueue: receipts }, (err) => {
      if (err) this.d.log('error', 'outcome commit failed', { error: err.message, count: changed.size })
      else if (receipts.length > 0) this.d.enqueueLater(receipts)
    })
  }

  /** receipts.multipart 'last': only the last part of a concatenated message gets a receipt. */
  private receiptForPart(r: MessageRecord): boolean {
    if (this.d.multipart === 'every' || !r.part) return true
    const [seq, total] = r.part as [number, number]
    return seq === total
  }

  /** Items already committed to the store. */
  enqueue(items: DeliveryItem[]): void {
    const touched = new Set<string>()
    for (const it of items) {
      this.queue(it.systemId).ready.push(it)
      touched.add(it.systemId)
    }
    for (const s of touched) this.pump(s)
  }

  results(ok: DeliveryItem[], failed: DeliveryItem[]): void {
    const touched = new Set<string>()
    const m = this.d.metrics
    if (ok.length > 0) {
      const wall = this.d.now()
      // submit→receipt latency: submitAt is wall-clock ms; recorded in µs
      for (const it of ok) {
        const c = m.account(it.systemId)
        c.delivered++
        c.byKind[it.kind][0]++
        if (it.kind === 'receipt') {
          m.receiptLatency.record((wall - (it.submitAt as number)) * 1000)
          m.step(it.messageId as string, 'delivered', wall)
        }
      }
      m.totals.delivered += ok.length
      const ack = ok.map((it) => ({ systemId: it.systemId, key: it.key! }))
      this.d.commit({ ack }, (err) => { if (err) this.d.log('error', 'ack commit failed', { error: err.message }) })
      for (const it of ok) touched.add(it.systemId)
    }
    const now = this.d.now()
    const [min, max] = this.d.redeliveryMs
    for (const it of failed) {
      const c = m.account(it.systemId)
      c.deliverFailed++
      c.byKind[it.kind][1]++
      it.attempts++
      const delay = Math.min(max, min * 2 ** Math.min(it.attempts - 1, 20))
      this.queue(it.systemId).retry.push({ due: now + delay, item: it })
    }
    for (const s of touched) this.pump(s)
  }

  /** Moves due retries back to the ready queue and pumps every account with work. */
  tick(now: number): void {
    const cutoff = now - this.d.maxAgeMs
    const expired: DeliveryItem[] = []
    for (const [systemId, q] of this.queues) {
      if (q.retry.length > 0) {
        const keep: Queue['retry'] = []
        for (const r of q.retry) {
          if (r.item.createdAt < cutoff) expired.push(r.item)
          else if (r.due <= now) q.ready.push(r.item)
          else keep.push(r)
        }
        q.retry = keep
      }
      // The oldest items are at the head: discard those past receipts.maxAgeMs.
      while (q.head < q.ready.length && q.ready[q.head].createdAt < cutoff) expired.push(q.ready[q.head++])
      if (q.ready.length > q.head) this.pump(systemId)
    }
    if (expired.length > 0) {
      this.d.log('warn', 'discarding receipts/MO never acknowledged within receipts.maxAgeMs', { count: expired.length })
      this.d.commit({ ack: expired.map((it) => ({ systemId: it.systemId, key: it.key! })) }, (err) => {
        if (err) this.d.log('error', 'discard commit failed', { error: err.message })
      })
    }
  }

  /** Round robin over the account's bound receivers, each up to its free window. */
  pump(systemId: string): void {
    const q = this.queues.get(systemId)
    if (q === undefined || q.ready.length === q.head) return
    const sessions = this.d.receivers(systemId)
    if (sessions.length === 0) return
    // An even share per bind, so a burst is spread over the binds rather than filling the first window.
    const share = Math.ceil((q.ready.length - q.head) / sessions.length)
    for (let tries = 0; tries < sessions.length && q.head < q.ready.length; tries++) {
      const s = sessions[q.rr++ % sessions.length]
      const n = Math.min(s.freeSlots, share)
      if (n === 0) continue
      const end = Math.min(q.ready.length, q.head + n)
      const items = q.ready.slice(q.head, end)
      q.head = end
      const rest = this.d.send(s, items)
      q.head -= rest.length
      for (let i = 0; i < rest.length; i++) q.ready[q.head + i] = rest[i]
    }
    if (q.head > 1024 && q.head * 2 > q.ready.length) {
      q.ready = q.ready.slice(q.head)
      q.head = 0
    }
  }
}
