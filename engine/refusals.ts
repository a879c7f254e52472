/**
 * Recent refusals: the submits the engine refused (a submit_sm_resp with an error, a refused HTTP send, an MO route's
 * auto-reply refused: listed as `auto-reply` with its route, not as an HTTP send, though it takes the send API's path), the newest
 * `stats.refusalsKept` of each account, in memory. A refused submit has no message id and no record, so without this
 * "my message to +44 7700 900123 at 10:32 was refused" had no answer but the daily counts by status. Message search
 * (engine/message-search.ts, docs/API.md "Message search") returns the ones matching its numbers and window beside
 * the messages, on its first page.
 *
 * Owns: the per-account rings, their matching. A removed account's stay (its id is never reused, and the operator
 * still finds its messages). Kept in memory while the engine runs (a refusal costs no store write: refusals come in
 * floods, when an account is over its rate); a clean stop writes them all to the store's meta key REFUSALS_META, and
 * the next start reads them back (all()/restore()). A kill -9 loses those since the last clean stop (the traffic
 * reports, engine/daily-stats.ts, keep the counts by status). An account that never had a refusal costs nothing; one
 * that has had some holds an array of at most `kept` small objects (strings the request already carried).
 */
import { statusName } from './protocol/constants'
import { addressMatches, type AddressPattern } from './message-search'
import type { RefusalView } from './wire'

/** What an MO route's auto-reply that was refused answered: its route, that route's keyword, the MO's id. */
export interface AutoReplyOf {
  route: string
  keyword?: string
  mo: string
}

export interface Refusal {
  t: number
  systemId: string
  /** the SMPP bind's session id, or 0 for the HTTP send API and the engine's auto-replies */
  session: number
  /** submit_sm, data_sm, submit_multi, 'send' (the HTTP send API), or 'reply' (an MO route's auto-reply) */
  command: string
  status: number
  /** the addresses the request carried; absent when it could not be decoded */
  from?: string
  to?: readonly string[]
  /** the send API message's `reference` */
  reference?: string
  /** set on an MO route's auto-reply: the engine's own message, through the send API's path */
  autoReply?: AutoReplyOf
}

/** The store's meta key for the refusals a clean stop kept (engine/index.ts). */
export const REFUSALS_META = 'refusals'

/** A refusal as kept: `seq` orders the refusals of one millisecond (the newest first). */
type Kept = Refusal & { seq: number }
interface Ring { items: Kept[]; next: number }

export interface RefusalQuery {
  systemId?: string
  to?: AddressPattern
  from?: AddressPattern
  /** only refusals of send API messages with this `reference` */
  reference?: string
  since: number
  until: number
  limit: number
}

export class Refusals {
  private readonly rings = new Map<string, Ring>()
  private seq = 0

  constructor(private readonly kept: number) {}

  add(refusal: Refusal): void {
    if (this.kept <= 0) return
    const r = refusal as Kept
    r.seq = ++this.seq
    let ring = this.rings.get(r.systemId)
    if (ring === undefined) this.rings.set(r.systemId, (ring = { items: [], next: 0 }))
    if (ring.items.length < this.kept) ring.items.push(r)
    else ring.items[ring.next] = r
    ring.next = (ring.next + 1) % this.kept
  }

  /** Every refusal kept, each account's oldest first (what a clean stop writes; restore() reads it back in order). */
  all(): Refusal[] {
    const out: Refusal[] = []
    for (const ring of this.rings.values()) {
      const full = ring.items.length === this.kept
      for (let i = 0; i < ring.items.length; i++) {
        const { seq: _seq, ...r } = ring.items[full ? (ring.next + i) % this.kept : i]
        out.push(r)
      }
    }
    return out
  }

  /** Takes back what all() gave at the last clean stop (anything else in `list` is skipped); how many were taken. */
  restore(list: unknown): number {
    if (!Array.isArray(list)) return 0
    let n = 0
    for (const r of list as Partial<Refusal>[]) {
      if (typeof r?.t !== 'number' || typeof r.systemId !== 'string' || typeof r.command !== 'string' || typeof r.status !== 'number' || typeof r.session !== 'number') continue
      this.add({ ...r } as Refusal)
      n++
    }
    return n
  }

  /** The refusals `q` asks for that the caller sees, newest first, at most `q.limit`. */
  find(q: RefusalQuery, sees: (systemId: string) => boolean): RefusalView[] {
    const out: Kept[] = []
    const rings = q.systemId !== undefined ? [this.rings.get(q.systemId)] : [...this.rings.values()]
    for (const ring of rings) {
      if (ring === undefined || ring.items.length === 0 || !sees(ring.items[0].systemId)) continue
      for (const r of ring.items) {
        if (r.t < q.since || r.t > q.until) continue
        if (q.from !== undefined && (r.from === undefined || !addressMatches(q.from, r.from))) continue
        if (q.to !== undefined && (r.to === undefined || !r.to.some((a) => addressMatches(q.to as AddressPattern, a)))) continue
        if (q.reference !== undefined && r.reference !== q.reference) continue
        out.push(r)
      }
    }
    out.sort((a, b) => b.t - a.t || b.seq - a.seq)
    return out.slice(0, q.limit).map((r) => {
      const v: RefusalView = {
        t: r.t, systemId: r.systemId, via: r.autoReply !== undefined ? 'auto-reply' : r.session === 0 ? 'http' : 'smpp', ...(r.session !== 0 ? { session: r.session } : {}),
        command: r.command, status: r.status, statusName: statusName(r.status), from: r.from ?? null, to: r.to === undefined ? null : [...r.to],
      }
      if (r.autoReply !== undefined) {
        v.route = r.autoReply.route
        if (r.autoReply.keyword !== undefined) v.keyword = r.autoReply.keyword
        v.mo = r.autoReply.mo
      }
      if (r.reference !== undefined) v.reference = r.reference
      return v
    })
  }
}
