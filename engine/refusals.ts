/**
 * Recent refusals: the submits the engine refused (a submit_sm_resp with an error, a refused HTTP send), the newest
 * `stats.refusalsKept` of each account, in memory. A refused submit has no message id and no record, so without this
 * "my message to +44 7700 900123 at 10:32 was refused" had no answer but the daily counts by status. Message search
 * (engine/message-search.ts, docs/API.md "Message search") returns the ones matching its numbers and window beside
 * the messages, on its first page.
 *
 * Owns: the per-account rings, their matching. A removed account's stay (its id is never reused, and the operator
 * still finds its messages). Not stored: a restart forgets them (the traffic reports,
 * engine/daily-stats.ts, keep the counts by status). An account that never had a refusal costs nothing; one that
 * has had some holds an array of at most `kept` small objects (strings the request already carried).
 */
import { statusName } from './protocol/constants'
import { addressMatches, type AddressPattern } from './message-search'
import type { RefusalView } from './wire'

export interface Refusal {
  t: number
  systemId: string
  /** the SMPP bind's session id, or 0 for the HTTP send API */
  session: number
  /** submit_sm, data_sm, submit_multi, or 'send' (the HTTP send API) */
  command: string
  status: number
  /** the addresses the request carried; absent when it could not be decoded */
  from?: string
  to?: readonly string[]
}

/** A refusal as kept: `seq` orders the refusals of one millisecond (the newest first). */
type Kept = Refusal & { seq: number }
interface Ring { items: Kept[]; next: number }

export interface RefusalQuery {
  systemId?: string
  to?: AddressPattern
  from?: AddressPattern
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
        out.push(r)
      }
    }
    out.sort((a, b) => b.t - a.t || b.seq - a.seq)
    return out.slice(0, q.limit).map((r) => ({
      t: r.t, systemId: r.systemId, via: r.session === 0 ? 'http' : 'smpp', ...(r.session !== 0 ? { session: r.session } : {}),
      command: r.command, status: r.status, statusName: statusName(r.status), from: r.from ?? null, to: r.to === undefined ? null : [...r.to],
    }))
  }
}
