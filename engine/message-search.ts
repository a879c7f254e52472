/**
 * Finding messages for support: by id (GET /api/v1/messages/{id}, `smsc message show`) and by what a customer
 * knows, the number, the sender, the account, the time, the outcome (GET /api/v1/messages, `smsc message find`,
 * the console's search). docs/API.md "Message search" is the contract.
 *
 * The store has no index by number, and gets none: every index write per message would cost the hot path
 * (docs/BENCHMARKS.md). A search walks the messages table newest first instead (ids grow with time;
 * Store.scanMessagesDown), reading only each record's head (record-codec.ts readRecordHead: account, state,
 * submit time, addresses; not the text), in slices of SEARCH_SLICE records with the event loop free between
 * them, within a time window (the last SEARCH_WINDOW_MS by default: the walk ends at the first message older
 * than it), and at most SEARCH_MAX_SCAN records per request: past that the answer says `truncated` and gives
 * the cursor to go on from. A window that ends in the past starts where it ends (Store.counterSubmittedAfter,
 * a binary search), not at the newest message.
 *
 * Numbers compare in international form: a leading + or 00 is ignored on both sides (actors/dpf.ts addressKey),
 * spaces, dashes, dots and brackets typed into a number are dropped, and a trailing * matches a prefix.
 */
import { addressKey } from '../actors/dpf'
import { MessageState } from './protocol/constants'
import { isFinal, recordText, referenceProblem, statOf, STATE_OF_STAT, type MessageRecord } from './message'
import { HEX_ID_BASE, ID_WIDTH, counterOf, type ScannedMessage, type Store } from './store'
import type { AddressOctets, HeadFilter, RecordHead } from './record-codec'
import type { MessageDest, MessageMo, MessageSearchResult, MessageSummary } from './wire'
import { upstreamKey } from './upstream-ids'
import type { ReceiptIdMode } from './config'

export type { MessageSearchResult, MessageSummary } from './wire'

/** Records read per slice of a search: a slice holds the event loop for about a millisecond (docs/API.md). */
export const SEARCH_SLICE = 2_000
/** Records one request reads at most; past that the answer is `truncated`, with the cursor to go on. */
export const SEARCH_MAX_SCAN = 1_000_000
/** The window when `since` is not given: the last 24 hours before `until`. */
export const SEARCH_WINDOW_MS = 24 * 3600_000
export const SEARCH_DEFAULT_LIMIT = 50
export const SEARCH_MAX_LIMIT = 500
/** How far submit times may run against id order (a clock stepped back a little): the walk reads this much past
 *  both ends of the window, and filters exactly. */
const SKEW_MS = 1_000

/** A number or sender id to match: its international form (or a prefix of it), letters in any case. */
export interface AddressPattern {
  /** as given */
  text: string
  key: string
  prefix: boolean
  /** the pattern has letters: compare case-insensitively */
  fold: boolean
}

/** `s` as a number the way addresses are compared: its international form (actors/dpf.ts addressKey). */
export function numberKey(s: string): string {
  return addressKey(s)
}

/** A number or sender id a search matches (`what` names the parameter in the error), or why it cannot be one. */
export function parseAddressPattern(v: string, what: string): AddressPattern | string {
  let s = v.trim()
  const prefix = s.endsWith('*')
  if (prefix) s = s.slice(0, -1).trim()
  // a number as people write it: "+49 151 1234-5678", "(0049) 151 12345678"
  if (/\d/.test(s) && /^[+\d\s().\/-]+$/.test(s)) s = (s.startsWith('+') ? '+' : '') + s.replace(/\D/g, '')
  let key = numberKey(s)
  if (key.length === 0 || key.length > 21 || key.includes('*')) {
    return `${what} must be a number or a sender id of 1 to 21 characters, a trailing * for a prefix (got ${JSON.stringify(v)})`
  }
  const fold = /[a-z]/i.test(key)
  if (fold) key = key.toLowerCase()
  return { text: v, key, prefix, fold }
}

/** Whether address `addr` (as stored) matches `p`. */
export function addressMatches(p: AddressPattern, addr: string): boolean {
  let k = numberKey(addr)
  if (p.fold) k = k.toLowerCase()
  return p.prefix ? k.startsWith(p.key) : k === p.key
}

const STATE_NAMES = Object.keys(MessageState) as (keyof typeof MessageState)[]

/** message_state names (DELIVERED), receipt stats (DELIVRD) or numbers (2), comma-separated; or why not. */
export function parseStates(v: string): Set<number> | string {
  const out = new Set<number>()
  for (const raw of v.split(',')) {
    const w = raw.trim().toUpperCase()
    if (w === '') continue
    const n = /^\d+$/.test(w) ? Number(w) : (MessageState as Record<string, number>)[w] ?? STATE_OF_STAT[w]
    if (n === undefined || !STATE_NAMES.some((k) => MessageState[k] === n)) {
      return `state must be message states (${STATE_NAMES.join(', ')}), receipt stats (DELIVRD, UNDELIV, …) or their numbers, comma-separated (got ${JSON.stringify(raw.trim())})`
    }
    out.add(n)
  }
  if (out.size === 0) return 'state must name at least one state'
  return out
}

/** ms since the epoch, or an ISO-8601 time; NaN when neither. */
export function parseTime(v: string): number {
  const s = v.trim()
  if (/^\d+$/.test(s)) return Number(s)
  return /^\d{4}-\d\d-\d\d/.test(s) ? Date.parse(s) : NaN
}

export interface SearchQuery {
  to?: AddressPattern
  from?: AddressPattern
  /** only this account's messages */
  systemId?: string
  /** only messages in one of these message_states */
  states?: ReadonlySet<number>
  /** only messages an account sent ('mt') or MO from subscribers ('mo') */
  direction?: 'mt' | 'mo'
  /** submitted in [since, until] (ms) */
  since: number
  until: number
  limit: number
  /** the cursor: only messages older than this id (a `next` of an earlier page) */
  before?: string
  /** only messages a destination of which an upstream took under this id (its submit_sm_resp message_id, as a
   *  carrier quotes it): compared as the destination's connector compares its receipts' ids (receiptIds) */
  upstreamId?: string
  /** only send API messages given this `reference` (exactly: it is the customer's own id) */
  reference?: string
}

/** The query parameters GET /api/v1/messages takes (and `token`, a credential). */
export const SEARCH_PARAMS = ['to', 'from', 'systemId', 'state', 'direction', 'since', 'until', 'limit', 'before', 'upstreamId', 'reference'] as const

/** A search from its parameters (`get` reads one; `null` or '' when absent), or the one line saying what is wrong. */
export function parseSearchQuery(get: (name: string) => string | null | undefined, now: number): SearchQuery | string {
  const v = (k: string): string | undefined => {
    const x = get(k)
    return x === null || x === undefined || x.trim() === '' ? undefined : x
  }
  const q: Partial<SearchQuery> = {}
  for (const k of ['to', 'from'] as const) {
    const s = v(k)
    if (s === undefined) continue
    const p = parseAddressPattern(s, k)
    if (typeof p === 'string') return p
    q[k] = p
  }
  const systemId = v('systemId')
  if (systemId !== undefined) q.systemId = systemId.trim()
  const state = v('state')
  if (state !== undefined) {
    const s = parseStates(state)
    if (typeof s === 'string') return s
    q.states = s
  }
  const direction = v('direction')
  if (direction !== undefined) {
    const d = direction.trim().toLowerCase()
    if (d !== 'mt' && d !== 'mo') return `direction must be mt (messages the account sent) or mo (from subscribers) (got ${JSON.stringify(direction)})`
    q.direction = d
  }
  const upstreamId = v('upstreamId')
  if (upstreamId !== undefined) {
    // SMPP 3.4 §5.2.23 message_id: a C-Octet String of at most 65 octets (64 characters and the NUL)
    if (upstreamId.trim().length > 64) return `upstreamId must be an upstream's message id of at most 64 characters (got ${upstreamId.trim().length})`
    q.upstreamId = upstreamId.trim()
  }
  const reference = v('reference')
  if (reference !== undefined) {
    // the send API's rule (engine/message.ts REFERENCE): no message has another
    const bad = referenceProblem(reference.trim())
    if (bad !== null) return `reference ${bad}, as the send API takes it`
    q.reference = reference.trim()
  }
  for (const k of ['since', 'until'] as const) {
    const s = v(k)
    if (s === undefined) continue
    const t = parseTime(s)
    if (!Number.isFinite(t)) return `${k} must be an ISO-8601 time (2024-05-01T08:00:00Z) or ms since the epoch (got ${JSON.stringify(s)})`
    q[k] = t
  }
  q.until ??= now
  q.since ??= q.until - SEARCH_WINDOW_MS
  if (q.since > q.until) return `since (${new Date(q.since).toISOString()}) is after until (${new Date(q.until).toISOString()})`
  const limit = v('limit')
  q.limit = SEARCH_DEFAULT_LIMIT
  if (limit !== undefined) {
    const n = Number(limit)
    if (!/^\d+$/.test(limit.trim()) || n < 1 || n > SEARCH_MAX_LIMIT) return `limit must be an integer from 1 to ${SEARCH_MAX_LIMIT} (got ${JSON.stringify(limit)})`
    q.limit = n
  }
  const before = v('before')
  if (before !== undefined) {
    if (counterOf(before.trim()) < 0) return `before must be a message id as the engine gives them, e.g. the "next" of a search (got ${JSON.stringify(before)})`
    q.before = before.trim()
  }
  return q as SearchQuery
}

export interface SearchOptions {
  /** Whether the caller may see messages of account `systemId` (its scope); asked once per account. */
  sees: (systemId: string) => boolean
  sliceSize?: number
  maxScan?: number
  /** Checked between slices: true ends the search (the client went away). */
  cancelled?: () => boolean
  /** How a connector compares upstream ids (connectors[].receiptIds); 'exact' for one not configured (any more). */
  receiptIds?: (connector: string) => ReceiptIdMode | undefined
}

/** The receiptIds of connector `id` in a config's connectors (undefined: not an smpp connector there). */
export function receiptIdsOf(connectors: readonly { id: string; kind: string }[], id: string): ReceiptIdMode | undefined {
  const c = connectors.find((x) => x.id === id)
  return c !== undefined && c.kind === 'smpp' ? (c as { receiptIds?: ReceiptIdMode }).receiptIds : undefined
}

/**
 * Whether the id an upstream gave a destination (`stored`, from its submit_sm_resp) is the one a carrier quotes
 * (`wanted`): the same string, in any case, or the same number the way the connector compares its receipts'
 * ids with its submit ids (engine/upstream-ids.ts): with receiptIds 'hex', `00A50A` is `a50a`; with 'hex-submit',
 * the receipt's decimal `42250` is the submit's `A50A` too.
 */
export function upstreamIdMatches(stored: string, wanted: string, mode: ReceiptIdMode = 'exact'): boolean {
  if (stored === wanted || stored.toLowerCase() === wanted.toLowerCase()) return true
  if (mode === 'exact') return false
  const key = upstreamKey(stored, 'submit', mode)
  return key === upstreamKey(wanted, 'submit', mode) || key === upstreamKey(wanted, 'receipt', mode)
}

const ascii = (s: string): boolean => /^[\x00-\x7f]*$/.test(s)
const octetsOf = (p: AddressPattern): AddressOctets | undefined => (ascii(p.key) ? { key: Buffer.from(p.key, 'latin1'), prefix: p.prefix, fold: p.fold } : undefined)

/** The part of `q` the store checks on a record's octets, before decoding its strings (record-codec.ts). */
function headFilterOf(q: SearchQuery): HeadFilter | undefined {
  const f: HeadFilter = {}
  const states = q.states
  // a final state never changes: one not asked for rules the record out; a pending one may have moved on since
  if (states !== undefined) f.state = (state) => !isFinal(state) || states.has(state)
  if (q.systemId !== undefined && ascii(q.systemId)) f.systemId = Buffer.from(q.systemId, 'latin1')
  if (q.from !== undefined) f.src = octetsOf(q.from)
  if (q.to !== undefined) f.dest = octetsOf(q.to)
  if (q.reference !== undefined) f.reference = true
  return f.state === undefined && f.systemId === undefined && f.src === undefined && f.dest === undefined && f.reference === undefined ? undefined : f
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * The messages `q` asks for that the caller may see, newest first: a walk of the store in slices (the event loop
 * is free between them), ended by `limit` matches, the start of the window, or `maxScan` records read.
 */
export async function searchMessages(store: Store, q: SearchQuery, o: SearchOptions): Promise<MessageSearchResult> {
  const started = performance.now()
  // an upstream id is in a destination, not in the head the walk reads: every record in the window is decoded, so
  // slices are smaller to keep each as short
  const slice = Math.max(1, Math.floor((o.sliceSize ?? SEARCH_SLICE) / (q.upstreamId !== undefined ? 4 : 1)))
  const maxScan = Math.max(1, o.maxScan ?? SEARCH_MAX_SCAN)
  let below = store.nextIdCounter()
  if (q.before !== undefined) below = Math.min(below, counterOf(q.before))
  // A window that ends before the newest message starts the walk where it ends.
  if (below > 0 && q.until + SKEW_MS < Date.now()) below = Math.min(below, store.counterSubmittedAfter(q.until + SKEW_MS))
  const floor = q.since - SKEW_MS
  const scope = new Map<string, boolean>()
  const visible = (systemId: string): boolean => {
    let ok = scope.get(systemId)
    if (ok === undefined) { ok = o.sees(systemId); scope.set(systemId, ok) }
    return ok
  }
  const filter = headFilterOf(q)
  const head = (h: RecordHead): boolean => {
    if (!h.pass) return false
    if (h.submitAt < q.since || h.submitAt > q.until) return false
    if (q.systemId !== undefined && h.systemId !== q.systemId) return false
    // a final state never changes: the stored one decides; a pending one is checked on the latest version
    if (q.states !== undefined && isFinal(h.state) && !q.states.has(h.state)) return false
    if (q.direction !== undefined && h.mo !== (q.direction === 'mo')) return false
    if (q.reference !== undefined && h.reference !== q.reference) return false
    if (q.from !== undefined && !addressMatches(q.from, h.src)) return false
    if (q.to !== undefined) {
      let any = false
      for (const d of h.dests) if (addressMatches(q.to, d)) { any = true; break }
      if (!any) return false
    }
    return visible(h.systemId)
  }

  const messages: MessageSummary[] = []
  let scanned = 0
  let lastId: string | null = null
  let next: string | null = null
  let done = false
  let truncated = false
  const visit = (m: ScannedMessage): boolean => {
    scanned++
    lastId = m.id
    if (m.head.submitAt < floor) { done = true; return false }
    if (!head(m.head)) return true
    // the latest version (a pending message may have moved on since its last commit), and its text
    const r = store.getMessage(m.id) as MessageRecord | undefined
    if (r === undefined || (q.states !== undefined && !q.states.has(r.state))) return true
    if (q.upstreamId !== undefined && !r.dests.some((d) => d.up !== undefined && upstreamIdMatches(d.up, q.upstreamId as string, d.conn === undefined ? undefined : o.receiptIds?.(d.conn)))) return true
    messages.push(summaryOf(r))
    if (messages.length >= q.limit) { next = m.id; done = true; return false }
    return true
  }
  while (!done && below > 0) {
    const budget = Math.min(slice, maxScan - scanned)
    if (budget <= 0) { truncated = true; next = lastId; break }
    below = store.scanMessagesDown(below, budget, visit, filter)
    if (below < 0) break
    if (done) break
    await nextTurn()
    if (o.cancelled?.()) break
  }
  return { messages, scanned, truncated, next, since: q.since, until: q.until, ms: Math.round(performance.now() - started) }
}

// ---- views

/** A message as a search lists it. */
export function summaryOf(r: MessageRecord): MessageSummary {
  const s: MessageSummary = {
    id: r.id, systemId: r.systemId, from: r.src[2], to: r.dests.map((d) => d.addr[2]), state: r.state, stat: statOf(r.state),
    err: r.err, submitAt: r.submitAt, doneAt: r.doneAt, text: textOf(r), direction: r.mo === undefined ? 'mt' : 'mo',
  }
  if (r.part) s.part = [r.part[0], r.part[1]]
  if (r.reference !== undefined) s.reference = r.reference
  return s
}

function textOf(r: MessageRecord): string {
  try {
    return recordText(r)
  } catch {
    return ''
  }
}

/** The times the engine saw a message pass (telemetry keeps them for the recent ones). */
export interface TimelineTimes { stored?: number; carrier?: number; receipt?: number; stat?: string; delivered?: number }

/** GET /api/v1/messages/{id}: the message, each destination with how it was carried, and its timeline. */
export interface MessageView extends MessageSummary {
  timeline: { t: number; event: string; stat?: string }[]
  dests: MessageDest[]
  /** registered_delivery as submitted (SMPP 3.4 §5.2.17): which receipts the ESME asked for ("I got no receipt"). */
  registeredDelivery: number
  price?: number
  scheduleAt?: number
  expireAt: number
  /** an MO's (direction 'mo'): where it came from, its route, its delivery to the account */
  mo?: MessageMo
  /** an MT's: when a receipt of it was discarded, never acknowledged by the account within receipts.maxAgeMs */
  receiptDiscarded?: number
}

/** An MO's delivery to the account, in words (engine/message.ts MoFacts says how its state follows it). */
const MO_DELIVERY: Record<number, MessageMo['delivery']> = {
  [MessageState.DELIVERED]: 'delivered', [MessageState.UNDELIVERABLE]: 'refused', [MessageState.EXPIRED]: 'expired',
}

export function viewOf(r: MessageRecord, tl?: TimelineTimes): MessageView {
  if (r.mo !== undefined) return moViewOf(r)
  const timeline: MessageView['timeline'] = [{ t: r.submitAt, event: 'received' }]
  if (tl?.stored) timeline.push({ t: tl.stored, event: 'stored' })
  // The simulator's step is stamped when the message is stored (engine/telemetry.ts accepted): for a scheduled message
  // that is before it was due, so not a hand-over at all (an upstream's lane stamps its real one, after the schedule).
  if (tl?.carrier && !(r.scheduleAt > tl.carrier)) timeline.push({ t: tl.carrier, event: 'carrier' })
  if (tl?.receipt) timeline.push({ t: tl.receipt, event: 'receipt', stat: tl.stat })
  else if (isFinal(r.state) && r.doneAt) timeline.push({ t: r.doneAt, event: 'receipt', stat: statOf(r.state) })
  if (tl?.delivered) timeline.push({ t: tl.delivered, event: 'delivered' })
  // its receipt never reached the account: a DELIVERED message whose customer saw no receipt
  if (r.receiptDiscarded) timeline.push({ t: r.receiptDiscarded, event: 'discarded' })
  const dests = r.dests.map((d): MessageDest => {
    const v: MessageDest = { to: d.addr[2], state: d.state, stat: statOf(d.state), err: d.err, doneAt: d.doneAt }
    if (d.conn !== undefined) v.connector = d.conn
    if (d.up !== undefined) v.upstreamId = d.up
    if (d.price !== undefined) v.price = d.price
    if (d.refunded) v.refunded = true
    if (d.via !== undefined) v.via = [...d.via]
    return v
  })
  const v: MessageView = { ...summaryOf(r), timeline, dests, registeredDelivery: r.registeredDelivery, expireAt: r.expireAt }
  if (r.price !== undefined) v.price = r.price
  if (r.scheduleAt) v.scheduleAt = r.scheduleAt
  if (r.receiptDiscarded) v.receiptDiscarded = r.receiptDiscarded
  return v
}

/**
 * An MO's lookup: no carrier, receipt or price, but where it came from, its route, and its delivery to the account.
 * Its timeline is its record's: received, then delivered (or refused, expired) when it ended.
 */
function moViewOf(r: MessageRecord): MessageView {
  const f = r.mo as NonNullable<MessageRecord['mo']>
  const delivery = MO_DELIVERY[r.state] ?? (f.retries > 0 ? 'retrying' : 'waiting')
  const mo: MessageMo = { connector: f.connector, delivery, parts: f.parts, acked: f.acked, retries: f.retries }
  if (f.route !== undefined) mo.route = f.route
  if (f.keyword !== undefined) mo.keyword = f.keyword
  if (f.via !== undefined) mo.via = f.via
  if (f.reply !== undefined) mo.reply = f.reply
  if (f.replyNot !== undefined) mo.replyNot = f.replyNot
  const timeline: MessageView['timeline'] = [{ t: r.submitAt, event: 'received' }]
  if (r.doneAt && delivery !== 'waiting' && delivery !== 'retrying') timeline.push({ t: r.doneAt, event: delivery, stat: statOf(r.state) })
  const dests = r.dests.map((d): MessageDest => ({ to: d.addr[2], state: d.state, stat: statOf(d.state), err: d.err, doneAt: d.doneAt }))
  return { ...summaryOf(r), timeline, dests, registeredDelivery: r.registeredDelivery, expireAt: r.expireAt, mo }
}

/**
 * The message with id `id` as operators type it: "34726" finds "0000034726", "2a" finds the hex id "a00000002a"
 * (a short form with no letter is a decimal id; hex ids are matched in any case).
 */
export function findById(store: Store, id: string): MessageRecord | undefined {
  const candidates = [id, id.toLowerCase()]
  if (/^\d{1,9}$/.test(id)) candidates.push(id.padStart(ID_WIDTH, '0'))
  else if (/^[0-9a-f]{1,9}$/i.test(id)) candidates.push((HEX_ID_BASE + parseInt(id, 16)).toString(16))
  for (const c of candidates) {
    const r = store.getMessage(c) as MessageRecord | undefined
    if (r) return r
  }
  return undefined
}
