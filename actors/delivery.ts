/**
 * Delivery of receipts and MO to ESMEs. Turns connector outcomes into record updates, refunds and
 * receipt items (one store commit per batch), keeps a per-account queue of items not yet
 * acknowledged (durable in the store, mirrored here), hands them to bound receivers and
 * transceivers of the account round robin within each bind's window — or, for an account with a
 * webhook, POSTs them as JSON batches — and retries with back-off after a response timeout, a
 * negative deliver_sm_resp or a failed webhook. An item leaves the store only after a
 * deliver_sm_resp with status 0 (or a 2xx from the webhook). State is rebuilt from the store when
 * the actor (re)starts.
 *
 * Receipts for long messages follow the account's receiptPolicy: 'every' part, the 'last' part, or
 * one 'aggregate' receipt (the first part's id; DELIVRD only when every part is) once all parts are
 * final; the parts seen so far are kept durable in the store (meta `mp:…`) until then.
 * Settlement 'refund': a destination that ends without being delivered (REFUND_SETTLEMENT in
 * engine/accounts.ts) gives its price back: one ledger entry per account per batch, committed with the
 * outcome, whose ref spans the message ids; each such destination is marked `refunded` in its record.
 * alert_notification (SMPP 3.4 §4.12): a destination delivered after its subscriber was absent
 * (outcome `available`) of a message submitted with set_dpf 1 is announced to one bound receiver or
 * transceiver of the account, once the outcome is committed and before its receipt. Best effort: the
 * PDU has no response, and nothing is queued when no receiver is bound.
 * An MO's record (engine/message.ts MoFacts) follows its items: acknowledged (DELIVERED once every part is, by a bind
 * or the webhook), retried (counted), refused for good (UNDELIVERABLE) or discarded (EXPIRED), written with the ack
 * that ends the item. Receipts are not looked at: an MT's path pays nothing for it.
 * Discarded items (never acknowledged within receipts.maxAgeMs): counted per account and kind
 * (smsc_deliveries_discarded_total, the daily traffic reports), logged once per account and minute with a count, and
 * an MT whose receipt goes so is written again with `receiptDiscarded` (its lookup says so): that write is on the
 * discard path only, never on a delivered receipt's.
 */
import type { CommitBatch, DeliveryItem, Store } from '../engine/store'
import { MessageState, statusName } from '../engine/protocol/constants'
import { STATE_OF_STAT, aggregateState, isFinal, eventAddress, receiptItem, statOf, wantsReceipt, type Address, type MessageRecord } from '../engine/message'
import { REFUND_SETTLEMENT, type Account } from '../engine/accounts'
import type { Ledger, LedgerEntry } from '../engine/ledger'
import type { WebhookSender } from '../engine/webhook'
import type { RefusedDelivery, Session } from '../engine/session/session'
import { RepeatedLog, type LogFn } from '../engine/log'
import type { Outcome } from './messages'
import type { Metrics } from '../engine/telemetry'

interface Queue {
  ready: DeliveryItem[]
  head: number
  retry: { due: number; item: DeliveryItem }[]
  rr: number
  /** Items for the account's webhooks (their own queue: binds never see them, the tick never rescans them). */
  hooks: DeliveryItem[]
  hooksInFlight: number
  /** Highest queue key loaded into memory. */
  maxKey: number
  /** Set while the store holds items beyond maxKey that are not in memory (a long-offline receiver). */
  paged: boolean
}

/** How often aggregate messages with parts that never came are looked at. */
const PARTS_CHECK_MS = 10_000

/** Webhook requests in flight per account: one slow endpoint cannot take every slot of the sender. */
const HOOK_REQUESTS_PER_ACCOUNT = 4
/** Events per webhook request. */
const HOOK_BATCH = 100

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
  /** Items per account kept in memory; beyond that they wait in the store and are read a page at a time. Default 20,000. */
  memoryItems?: number
  /** Items older than this are discarded (acked away) with a warning. */
  maxAgeMs: number
  multipart: 'every' | 'last'
  account(systemId: string): Account | undefined
  ledger: Ledger
  webhooks: WebhookSender
  /** The store key of an upstream connector's id for a destination (its link is removed once the destination is final). */
  upstreamLink(connectorId: string, upstreamId: string): { connector: string; upstreamId: string }
  /** Webhook answers come back through the mailbox as results. */
  resultsLater(ok: DeliveryItem[], failed: DeliveryItem[]): void
  log: LogFn
  metrics: Metrics
}

/** The account's webhook for this kind of item (receipts or MO), or null: then binds take it. */
function hookUrl(a: Account | undefined, it: DeliveryItem): string | null {
  return a === undefined ? null : it.kind === 'receipt' ? a.webhooks.receipts : a.webhooks.mo
}

/** True when the webhook for this kind of item was set by a reseller or user: its target must be public (engine/webhook-target.ts). */
function hookGuarded(a: Account, it: DeliveryItem): boolean {
  return a.webhooksByOperator?.[it.kind === 'receipt' ? 'receipts' : 'mo'] !== true
}

/** What became of one MO item: acknowledged, to be tried again, refused for good (with the ESME's status), discarded. */
type MoStep = 'acked' | 'retry' | 'refused' | 'expired'

/** Parts of an aggregate-receipt message seen final so far: [seq, state, err, id]. */
type PartsSeen = [number, number, number, string][]

export class Delivery {
  private readonly queues = new Map<string, Queue>()
  /** Aggregate-receipt messages in progress (mirror of the store's `mp:` meta keys). */
  private readonly parts = new Map<string, PartsSeen>()
  /**
   * MO records this actor changed whose commits are not written yet, with how many such commits: the next answer for
   * the same MO changes this version, not the store's. A commit waits in the store actor's queue, unknown to the store,
   * while another is written; read from the store meanwhile, a second part's ack would be counted on the version
   * before the first's, and the MO would never end DELIVERED.
   */
  private readonly moInFlight = new Map<string, [MessageRecord, number]>()
  private lastPartsCheck = 0

  /** Items per account in memory at most (about): a receiver down for hours does not grow the heap. */
  private readonly memoryItems: number
  /** deliver_sms an ESME refused for good: a warning per account and status, then a count once a minute. */
  private readonly refusals: RepeatedLog
  /** Items discarded unacknowledged (receipts.maxAgeMs): a warning per account, then a count once a minute. */
  private readonly discards: RepeatedLog

  constructor(private readonly d: DeliveryDeps) {
    this.memoryItems = d.memoryItems ?? 20_000
    this.refusals = new RepeatedLog(d.log, {
      level: 'warn', keyName: 'refusal',
      first: 'the ESME refused a receipt or MO for good (ESME_RX_P_APPN or ESME_RX_R_APPN): it is not sent again',
      more: 'more receipts or MO refused for good by the ESME: not sent again',
    })
    this.discards = new RepeatedLog(d.log, {
      level: 'warn', keyName: 'systemId',
      first: 'discarding receipts/MO the account never acknowledged within receipts.maxAgeMs (no receiver or transceiver bound, or none answered): they are not sent again',
      more: 'more receipts/MO discarded, never acknowledged within receipts.maxAgeMs',
    })
    // Aggregates in progress before a restart: their missing parts may still come, or never (flushIncomplete).
    // Their parts' records are pinned: the receipt is built from them, so retention must not take them first.
    for (const [key, seen] of d.store.metaWithPrefix('mp:')) {
      this.parts.set(key, seen as PartsSeen)
      for (const p of seen as PartsSeen) d.store.pin(p[3])
    }
    for (const systemId of d.store.accountsWithPending()) {
      const q = this.queue(systemId)
      q.paged = true
      this.refill(systemId, q)
    }
  }

  /** Items in memory, not in flight. */
  private static inMemory(q: Queue): number {
    return q.ready.length - q.head + q.hooks.length
  }

  /** Reads the next page of an account's queue from the store (oldest first) while memory has room. */
  private refill(systemId: string, q: Queue): void {
    if (!q.paged || Delivery.inMemory(q) > this.memoryItems / 2) return
    const want = this.memoryItems - Delivery.inMemory(q)
    const page = this.d.store.pendingDeliveries(systemId, q.maxKey, want)
    for (const it of page) this.place(q, it)
    if (page.length < want) q.paged = false
  }

  private queue(systemId: string): Queue {
    let q = this.queues.get(systemId)
    if (q === undefined) this.queues.set(systemId, (q = { ready: [], head: 0, retry: [], rr: 0, hooks: [], hooksInFlight: 0, maxKey: 0, paged: false }))
    return q
  }

  /** Items waiting (not in flight) for an account. */
  waiting(systemId: string): number {
    const q = this.queues.get(systemId)
    return q ? q.ready.length - q.head + q.retry.length + q.hooks.length : 0
  }

  /** Webhook queue when the account takes this kind over HTTP (and the item carries its event), else the binds' queue. */
  private place(q: Queue, it: DeliveryItem): void {
    if (it.key !== undefined && it.key > q.maxKey) q.maxKey = it.key
    if (it.event !== undefined && hookUrl(this.d.account(it.systemId), it)) q.hooks.push(it)
    else q.ready.push(it)
  }

  /**
   * `stored` runs once everything the outcomes caused is committed (or at once when they cause nothing). `connector`:
   * the connector they came from (none: the engine's own ends), whose smsc_connector_final_seconds times the final ones
   * from when each message was due to now (not the upstream's done date: a receipt gives it to the minute).
   */
  outcomes(outcomes: Outcome[], stored?: () => void, connector?: string): void {
    const now = this.d.now()
    const timed = connector === undefined ? undefined : this.d.metrics.finalOf(connector)
    const changed = new Map<string, MessageRecord>()
    const receipts: DeliveryItem[] = []
    const refunds = new Map<string, { units: number; count: number; first: string; last: string }>()
    const meta: [string, unknown][] = []
    const unlink: { connector: string; upstreamId: string }[] = []
    const alerts: MessageRecord[] = []
    const alertDests: number[] = []
    for (const o of outcomes) {
      const r = changed.get(o.id) ?? (this.d.store.getMessage(o.id) as MessageRecord | undefined)
      if (r === undefined) continue
      const dest = r.dests[o.dest]
      if (dest === undefined || isFinal(dest.state)) continue // cancelled, expired or already settled
      if ((o.rev ?? 0) !== (r.rev ?? 0)) continue // replaced since the carrier took it: a newer outcome follows
      const account = this.d.account(r.systemId)
      // Not final (ENROUTE; an upstream's ACCEPTD, SMPP 3.4 §5.2.28 state 6, which many send before their final
      // receipt): an intermediate notification if asked for. An ACCEPTD is recorded (query_sm shows it); nothing else
      // changes: no refund, no aggregate part, and the upstream id link stays, or the final receipt would find nothing.
      if (!isFinal(o.state)) {
        if (o.state !== MessageState.ENROUTE) {
          dest.state = o.state
          dest.err = o.err
          r.state = aggregateState(r.dests)
          changed.set(r.id, r)
        }
        if (wantsReceipt(r.registeredDelivery, o.state)) receipts.push(this.item(receiptItem(r, { ...dest, state: o.state }, now), r, dest.addr, account))
        continue
      }
      dest.state = o.state
      dest.err = o.err
      // The upstream's done time when it gave one (never before the submit nor in the future), else now.
      dest.doneAt = o.doneAt === undefined ? now : Math.min(now, Math.max(r.submitAt, o.doneAt))
      timed?.record((now - Math.max(r.submitAt, r.scheduleAt)) * 1000)
      // Final: the upstream's id is no longer needed to find this message (the map would grow forever).
      if (dest.up !== undefined && dest.conn !== undefined) unlink.push(this.d.upstreamLink(dest.conn, dest.up))
      r.state = aggregateState(r.dests)
      if (isFinal(r.state)) {
        r.doneAt = now
        r.err = dest.err
      }
      changed.set(r.id, r)
      // SMPP 3.4 §5.3.2.29 set_dpf: the subscriber that was absent is available now
      if (o.available && o.state === MessageState.DELIVERED && r.setDpf) { alerts.push(r); alertDests.push(o.dest) }
      // Settlement 'refund': a message not delivered costs nothing.
      if (dest.price && account?.prepaid && account.settlement === 'refund' && REFUND_SETTLEMENT[o.state] === 'refund') {
        dest.refunded = true
        const f = refunds.get(r.systemId)
        if (f === undefined) refunds.set(r.systemId, { units: dest.price, count: 1, first: r.id, last: r.id })
        else {
          f.units += dest.price
          f.count++
          // ids of one format have one width: string order is id order
          if (r.id < f.first) f.first = r.id
          if (r.id > f.last) f.last = r.id
        }
      }
      this.d.metrics.step(r.id, 'receipt', now, statOf(dest.state))
      const policy = account?.receiptPolicy ?? this.d.multipart
      if (policy === 'aggregate' && r.part && r.part[1] > 1) {
        // every final part counts towards the aggregate; registered_delivery applies to the whole message's outcome
        if ((r.registeredDelivery & 0x03) === 0) continue
        const flushed: DeliveryItem[] = []
        const item = this.aggregate(r, dest.state, dest.err, now, meta, flushed)
        for (const f of flushed) {
          if (wantsReceipt(r.registeredDelivery, STATE_OF_STAT[f.stat as string])) receipts.push(this.item(f, (this.d.store.getMessage(f.messageId as string) as MessageRecord | undefined) ?? r, dest.addr, account))
        }
        if (item && wantsReceipt(r.registeredDelivery, STATE_OF_STAT[item.stat as string])) receipts.push(this.item(item, r, dest.addr, account))
        continue
      }
      if (!wantsReceipt(r.registeredDelivery, dest.state)) continue
      if (policy !== 'last' || !r.part || r.part[0] === r.part[1]) {
        receipts.push(this.item(receiptItem(r, dest, now), r, dest.addr, account))
      }
    }
    const m = this.d.metrics
    for (const it of receipts) {
      const c = m.account(it.systemId)
      c.receipts[it.stat as string] = (c.receipts[it.stat as string] ?? 0) + 1
    }
    m.totals.receipts += receipts.length
    if (changed.size === 0 && receipts.length === 0 && meta.length === 0) { stored?.(); return }
    const ledger: LedgerEntry[] = []
    for (const [systemId, f] of refunds) ledger.push(this.d.ledger.credit(systemId, f.units, 'refund', 'settlement', f.first === f.last ? f.first : `${f.first}..${f.last}`, f.count))
    const batch: CommitBatch = { messages: [...changed.values()], enqueue: receipts }
    if (ledger.length > 0) batch.ledger = ledger
    if (meta.length > 0) batch.meta = meta
    if (unlink.length > 0) batch.upstreamRemove = unlink
    this.d.commit(batch, (err) => {
      if (err) {
        for (const e of ledger) this.d.ledger.revert(e)
        this.d.log('error', 'outcome commit failed', { error: err.message, count: changed.size })
        return
      }
      for (let i = 0; i < alerts.length; i++) this.alert(alerts[i], alertDests[i])
      if (receipts.length > 0) this.d.enqueueLater(receipts)
      stored?.()
    })
  }

  /** The simulated carrier's alert: destination `dest` of `r` was absent and is delivered now. */
  private alert(r: MessageRecord, dest: number): void {
    this.alertTo(r.systemId, r.dests[dest].addr, r.src, 0, { id: r.id })
  }

  /**
   * SMPP 3.4 §4.12 alert_notification to one bound receiver/transceiver of `systemId`: source_addr = the
   * subscriber now available, esme_addr = the source of the message that asked (set_dpf),
   * ms_availability_status (§5.3.2.30, 0 available). No response PDU exists; with no receiver bound it
   * is dropped. `about`: what the log lines name (the message, or the upstream that alerted).
   */
  alertTo(systemId: string, ms: Address, esme: Address, status: number, about: Record<string, string>): void {
    const fields = {
      source_addr_ton: ms[0], source_addr_npi: ms[1], source_addr: ms[2],
      esme_addr_ton: esme[0], esme_addr_npi: esme[1], esme_addr: esme[2],
      ms_availability_status: status,
    }
    for (const s of this.d.receivers(systemId)) {
      if (s.alertNotification(fields)) {
        this.d.log('debug', 'alert_notification sent', { systemId, session: s.id, ...about, subscriber: ms[2] })
        this.d.metrics.totals.alertsSent++
        return
      }
    }
    this.d.log('info', 'alert_notification not sent: no receiver bound', { systemId, ...about, subscriber: ms[2] })
    this.d.metrics.totals.alertsUnsent++
  }

  /** The webhook form of a receipt (for destination `from` of `r`), for accounts that take receipts over HTTP. */
  private item(it: DeliveryItem, r: MessageRecord, from: Address, account: Account | undefined): DeliveryItem {
    if (account?.webhooks.receipts) {
      const err = r.dests.find((x) => x.addr[2] === from[2])?.err ?? r.err
      it.event = { type: 'receipt', id: r.id, from: eventAddress(from), to: eventAddress(r.src), stat: it.stat, err, submitAt: r.submitAt, doneAt: this.d.now(), part: r.part ?? null, reference: r.reference ?? null }
    }
    return it
  }

  /** Records one final part of an aggregate-receipt message; the receipt once every part is final. */
  private aggregate(r: MessageRecord, state: number, err: number, now: number, meta: [string, unknown][], out: DeliveryItem[]): DeliveryItem | null {
    const [seq, total] = r.part as [number, number]
    const key = `mp:${r.systemId}:${r.src[2]}:${r.dests[0].addr[2]}:${r.ref ?? 0}:${total}`
    let seen = this.parts.get(key) ?? (this.d.store.getMeta(key) as PartsSeen | undefined) ?? []
    const same = seen.find((p) => p[0] === seq)
    if (same !== undefined && same[3] !== r.id) {
      // This part number is already there under another message id: the concatenation reference was
      // reused (8-bit refs wrap) before the older message completed. The older one is answered now as
      // it stands (parts never seen count as undeliverable), and this part starts a new one.
      out.push(this.wholeReceipt(seen, total, now, r))
      for (const p of seen) this.d.store.unpin(p[3])
      seen = []
    }
    if (!seen.some((p) => p[0] === seq)) seen = [...seen, [seq, state, err, r.id]]
    if (seen.length < total) {
      this.parts.set(key, seen)
      this.d.store.pin(r.id)
      meta.push([key, seen])
      return null
    }
    this.parts.delete(key)
    meta.push([key, null])
    const receipt = this.wholeReceipt(seen, total, now, r)
    for (const p of seen) this.d.store.unpin(p[3])
    return receipt
  }

  /**
   * Aggregate messages some of whose parts never came: once the validity of every part seen has
   * run out, a missing part can no longer arrive, so the message is answered as it stands (missing
   * parts count as undeliverable) and its state leaves the store.
   */
  private flushIncomplete(now: number): void {
    const receipts: DeliveryItem[] = []
    const meta: [string, unknown][] = []
    let gone = 0
    for (const [key, seen] of this.parts) {
      let until = 0
      let any: MessageRecord | undefined
      for (const p of seen) {
        const rec = this.d.store.getMessage(p[3]) as MessageRecord | undefined
        if (rec !== undefined) { until = Math.max(until, rec.expireAt); any ??= rec }
      }
      if (any !== undefined && now <= until) continue
      this.parts.delete(key)
      for (const p of seen) this.d.store.unpin(p[3])
      meta.push([key, null])
      // Every part seen has left the store (retention, for parts stored before pins existed): nothing to build a receipt from.
      if (any === undefined) { gone++; continue }
      const item = this.wholeReceipt(seen, (any.part as [number, number])[1], now, any)
      const first = this.d.store.getMessage(item.messageId as string) as MessageRecord | undefined ?? any
      if (wantsReceipt(first.registeredDelivery, STATE_OF_STAT[item.stat as string])) {
        receipts.push(this.item(item, first, first.dests[0].addr, this.d.account(first.systemId)))
      }
    }
    if (meta.length === 0) return
    if (gone > 0) this.d.log('warn', 'long messages with parts that never came, purged from the store before they could be answered: no receipt', { count: gone })
    if (meta.length > gone) this.d.log('info', 'long messages with parts that never came answered with one receipt each', { count: meta.length - gone })
    this.d.commit({ enqueue: receipts, meta }, (err) => {
      if (err) this.d.log('error', 'aggregate flush commit failed', { error: err.message })
      else if (receipts.length > 0) this.d.enqueueLater(receipts)
    })
  }

  /**
   * One receipt for a whole long message: the first part's id; DELIVRD only when every part was delivered.
   * `other`: a part's record for the addresses when the first part's record has already left the store.
   */
  private wholeReceipt(seen: PartsSeen, total: number, now: number, other: MessageRecord): DeliveryItem {
    const parts = [...seen].sort((a, b) => a[0] - b[0])
    const failed = parts.find((p) => p[1] !== MessageState.DELIVERED)
    const missing = parts.length < total
    const first = (this.d.store.getMessage(parts[0][3]) as MessageRecord | undefined) ?? { ...other, id: parts[0][3] }
    const dest = {
      ...first.dests[0], doneAt: now,
      state: failed ? failed[1] : missing ? MessageState.UNDELIVERABLE : MessageState.DELIVERED,
      err: failed ? failed[2] : 0,
    }
    return receiptItem(first, dest, now)
  }

  /** Items already committed to the store. */
  enqueue(items: DeliveryItem[]): void {
    const touched = new Set<string>()
    for (const it of items) {
      const q = this.queue(it.systemId)
      touched.add(it.systemId)
      // Already read from the store with a page, or the store holds older ones not in memory yet:
      // it stays on disk and comes with a later page, in key order.
      if (q.paged || (it.key !== undefined && it.key <= q.maxKey)) continue
      if (Delivery.inMemory(q) >= this.memoryItems) { q.paged = true; continue }
      this.place(q, it)
    }
    for (const s of touched) this.pump(s)
  }

  results(ok: DeliveryItem[], failed: DeliveryItem[], refused: readonly RefusedDelivery[] = []): void {
    const touched = new Set<string>()
    const m = this.d.metrics
    if (refused.length > 0) {
      // Refused for good by the ESME (ESME_RX_P_APPN, ESME_RX_R_APPN): failed, and out of the queue, never sent again.
      const now = this.d.now()
      let mo: Map<string, MessageRecord> | undefined
      for (const { item, status } of refused) {
        const c = m.account(item.systemId)
        c.deliverFailed++
        c.byKind[item.kind][1]++
        this.refusals.add(`${item.systemId} ${statusName(status)}`, { kind: item.kind, messageId: item.messageId }, now)
        if (item.kind === 'mo') this.moStep((mo ??= new Map()), item, 'refused', now, status)
      }
      const ack = refused.map(({ item }) => ({ systemId: item.systemId, key: item.key! }))
      this.commitMo({ ack }, mo, (err) => { if (err) this.d.log('error', 'ack commit failed', { error: err.message }) })
    }
    if (ok.length > 0) {
      const wall = this.d.now()
      let mo: Map<string, MessageRecord> | undefined
      // submit→receipt latency: submitAt is wall-clock ms; recorded in µs
      for (const it of ok) {
        const c = m.account(it.systemId)
        c.delivered++
        c.byKind[it.kind][0]++
        if (it.kind === 'receipt') {
          m.receiptLatency.record((wall - (it.submitAt as number)) * 1000)
          m.step(it.messageId as string, 'delivered', wall)
        } else this.moStep((mo ??= new Map()), it, 'acked', wall)
      }
      m.totals.delivered += ok.length
      const ack = ok.map((it) => ({ systemId: it.systemId, key: it.key! }))
      this.commitMo({ ack }, mo, (err) => { if (err) this.d.log('error', 'ack commit failed', { error: err.message }) })
      for (const it of ok) touched.add(it.systemId)
    }
    const now = this.d.now()
    const [min, max] = this.d.redeliveryMs
    let retried: Map<string, MessageRecord> | undefined
    for (const it of failed) {
      const c = m.account(it.systemId)
      c.deliverFailed++
      c.byKind[it.kind][1]++
      it.attempts++
      const delay = Math.min(max, min * 2 ** Math.min(it.attempts - 1, 20))
      this.queue(it.systemId).retry.push({ due: now + delay, item: it })
      if (it.kind === 'mo') this.moStep((retried ??= new Map()), it, 'retry', now)
    }
    if (retried !== undefined) {
      this.commitMo({}, retried, (err) => { if (err) this.d.log('error', 'MO record commit failed', { error: err.message }) })
    }
    for (const s of touched) this.pump(s)
  }

  /** Moves due retries back to the ready queue and pumps every account with work. */
  tick(now: number): void {
    this.refusals.tick(now)
    this.discards.tick(now)
    if (now - this.lastPartsCheck >= PARTS_CHECK_MS) { this.lastPartsCheck = now; this.flushIncomplete(now) }
    const cutoff = now - this.d.maxAgeMs
    const expired: DeliveryItem[] = []
    for (const [systemId, q] of this.queues) {
      if (q.retry.length > 0) {
        const keep: Queue['retry'] = []
        for (const r of q.retry) {
          if (r.item.createdAt < cutoff) expired.push(r.item)
          else if (r.due <= now) this.place(q, r.item)
          else keep.push(r)
        }
        q.retry = keep
      }
      // The oldest items are at the head: discard those past receipts.maxAgeMs.
      while (q.head < q.ready.length && q.ready[q.head].createdAt < cutoff) expired.push(q.ready[q.head++])
      if (q.hooks.length > 0 && q.hooks[0].createdAt < cutoff) {
        const keep = q.hooks.filter((it) => it.createdAt >= cutoff)
        for (const it of q.hooks) if (it.createdAt < cutoff) expired.push(it)
        q.hooks = keep
      }
      if (q.paged) this.refill(systemId, q)
      if (q.ready.length > q.head || (q.hooks.length > 0 && q.hooksInFlight < HOOK_REQUESTS_PER_ACCOUNT)) this.pump(systemId)
    }
    if (expired.length > 0) this.discard(expired, now)
  }

  /**
   * Items past receipts.maxAgeMs leave the queue unacknowledged: counted and logged per account, an MO's record ends
   * EXPIRED, an MT whose receipt this was gets `receiptDiscarded` (only while its record is stored: a rewrite).
   */
  private discard(expired: DeliveryItem[], now: number): void {
    const m = this.d.metrics
    const byAccount = new Map<string, { receipts: number; mo: number }>()
    let mo: Map<string, MessageRecord> | undefined
    let mt: Map<string, MessageRecord> | undefined
    for (const it of expired) {
      m.account(it.systemId).discarded[it.kind]++
      const n = byAccount.get(it.systemId) ?? { receipts: 0, mo: 0 }
      if (it.kind === 'mo') { n.mo++; this.moStep((mo ??= new Map()), it, 'expired', now) } else {
        n.receipts++
        const id = it.messageId as string | undefined
        const r = id === undefined ? undefined : mt?.get(id) ?? (this.d.store.getMessage(id) as MessageRecord | undefined)
        if (r !== undefined && r.mo === undefined) { r.receiptDiscarded = now; (mt ??= new Map()).set(r.id, r) }
      }
      byAccount.set(it.systemId, n)
    }
    for (const [systemId, n] of byAccount) this.discards.add(systemId, n, now, n.receipts + n.mo)
    const ack = expired.map((it) => ({ systemId: it.systemId, key: it.key! }))
    this.commitMo(mt === undefined ? { ack } : { ack, rewrites: [...mt.values()] }, mo, (err) => {
      if (err) this.d.log('error', 'discard commit failed', { error: err.message })
    })
  }

  /**
   * What became of an MO's auto-reply (docs/ROUTING.md "Auto-replies"): the reply's id, or why none went, on the MO's
   * record, so its lookup answers "did the subscriber get the STOP confirmation?". Through this actor, which writes the
   * MO's records: the latest version (moInFlight) takes it, not one an ack is about to replace.
   */
  moReplied(id: string, reply: { id: string } | { not: string }): void {
    const r = this.moInFlight.get(id)?.[0] ?? (this.d.store.getMessage(id) as MessageRecord | undefined)
    if (r === undefined || r.mo === undefined) return // purged meanwhile, or no MO
    if ('id' in reply) { r.mo.reply = reply.id; delete r.mo.replyNot } else { r.mo.replyNot = reply.not; delete r.mo.reply }
    this.commitMo({}, new Map([[r.id, r]]), (err) => { if (err) this.d.log('error', 'MO record commit failed', { error: err.message }) })
  }

  /** Commits `batch` with the MO records `mo` changed (when any), each kept as the latest version until written. */
  private commitMo(batch: CommitBatch, mo: Map<string, MessageRecord> | undefined, done: (err: Error | null) => void): void {
    if (mo === undefined) return this.d.commit(batch, done)
    const records = [...mo.values()]
    for (const r of records) {
      const held = this.moInFlight.get(r.id)
      if (held === undefined) this.moInFlight.set(r.id, [r, 1])
      else held[1]++
    }
    this.d.commit({ ...batch, rewrites: [...(batch.rewrites ?? []), ...records] }, (err) => {
      for (const r of records) {
        const held = this.moInFlight.get(r.id)
        if (held !== undefined && --held[1] === 0) this.moInFlight.delete(r.id)
      }
      done(err)
    })
  }

  /**
   * What one MO item's answer does to its MO's record (engine/message.ts MoFacts), collected in `into` for the commit
   * that acks the item. An MO stored by a version without records, or purged by the retention, has none: nothing to do.
   */
  private moStep(into: Map<string, MessageRecord>, it: DeliveryItem, step: MoStep, now: number, status = 0): void {
    const id = it.messageId as string | undefined
    const r = id === undefined ? undefined : into.get(id) ?? this.moInFlight.get(id)?.[0] ?? (this.d.store.getMessage(id) as MessageRecord | undefined)
    if (r === undefined || r.mo === undefined) return
    const mo = r.mo
    const open = r.state === MessageState.ENROUTE
    let end = 0
    if (step === 'acked') {
      mo.acked = Math.min(mo.parts, mo.acked + 1)
      // the webhook's queue takes an item that carries its event while the account has a webhook (place())
      mo.via = it.event !== undefined && hookUrl(this.d.account(it.systemId), it) !== null ? 'webhook' : 'bind'
      if (open && mo.acked >= mo.parts) end = MessageState.DELIVERED
    } else if (step === 'retry') {
      if (!open) return
      mo.retries++
    } else if (open) end = step === 'refused' ? MessageState.UNDELIVERABLE : MessageState.EXPIRED
    if (end !== 0) {
      r.state = end
      r.err = status
      r.doneAt = now
      for (const d of r.dests) { d.state = end; d.err = status; d.doneAt = now }
    }
    into.set(r.id, r)
  }

  /** Round robin over the account's bound receivers, each up to its free window. */
  pump(systemId: string): void {
    const q = this.queues.get(systemId)
    if (q === undefined) return
    if (q.paged) this.refill(systemId, q)
    if (q.hooks.length > 0 && q.hooksInFlight < HOOK_REQUESTS_PER_ACCOUNT) this.post(q, systemId)
    if (q.ready.length === q.head) return
    const sessions = this.d.receivers(systemId)
    if (sessions.length === 0) return
    // An even share per bind, so a burst is spread over the binds rather than filling the first window.
    const share = Math.ceil((q.ready.length - q.head) / sessions.length)
    for (let tries = 0; tries < sessions.length && q.head < q.ready.length; tries++) {
      const s = sessions[q.rr++ % sessions.length]
      const n = Math.min(s.freeSlots, share)
      if (n === 0) continue
      const start = q.head
      const end = Math.min(q.ready.length, q.head + n)
      const items = q.ready.slice(q.head, end)
      q.head = end
      const rest = this.d.send(s, items)
      q.head -= rest.length
      for (let i = 0; i < rest.length; i++) q.ready[q.head + i] = rest[i]
      // The slots handed out no longer hold their items: a long-lived array would keep each one alive
      // until the next compaction, through scavenges, into the old generation (young-map.ts says why that costs).
      ;(q.ready as (DeliveryItem | undefined)[]).fill(undefined, start, q.head)
    }
    if (q.head === q.ready.length) {
      q.ready = []
      q.head = 0
    } else if (q.head > 1024 && q.head * 2 > q.ready.length) {
      q.ready = q.ready.slice(q.head)
      q.head = 0
    }
  }

  /**
   * Webhook accounts: receipts and MO leave as JSON arrays of up to HOOK_BATCH events per request,
   * at most HOOK_REQUESTS_PER_ACCOUNT requests in flight per account; a 2xx acknowledges them like
   * a deliver_sm_resp, anything else retries them with back-off. Items whose webhook was removed
   * meanwhile go to the binds' queue.
   */
  private post(q: Queue, systemId: string): void {
    const account = this.d.account(systemId)
    while (q.hooks.length > 0 && q.hooksInFlight < HOOK_REQUESTS_PER_ACCOUNT) {
      const chunk = q.hooks.splice(0, HOOK_BATCH)
      // One request per URL and guard (the same URL for receipts and MO may have been set by different principals).
      const byUrl = new Map<string, { url: string; guarded: boolean; items: DeliveryItem[] }>()
      for (const it of chunk) {
        const url = hookUrl(account, it)
        if (!url) { q.ready.push(it); continue }
        const guarded = hookGuarded(account as Account, it)
        const key = `${guarded ? 'g' : 'o'} ${url}`
        let batch = byUrl.get(key)
        if (batch === undefined) byUrl.set(key, (batch = { url, guarded, items: [] }))
        batch.items.push(it)
      }
      for (const { url, guarded, items } of byUrl.values()) {
        q.hooksInFlight++
        this.d.webhooks.send(url, items.map((it) => it.event), (ok, status, refused) => {
          q.hooksInFlight--
          if (ok) return this.d.resultsLater(items, [])
          // A refused target is a failure like any other (back-off, receipts.maxAgeMs); the sender logs those, once a minute per URL.
          if (refused === undefined) this.d.log('warn', 'webhook failed; retrying with back-off', { systemId, url: url.replace(/\/\/[^/@]*@/, '//…@'), status, events: items.length, attempts: items[0].attempts + 1 })
          this.d.resultsLater([], items)
        }, { secret: account?.webhookSecret ?? null, guarded, systemId })
      }
    }
  }
}
