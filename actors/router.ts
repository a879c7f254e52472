/**
 * A router actor (`router-<n>`; accounts are spread over them by a hash of the system_id). For a
 * batch that passed the account's rate actor it:
 * 1. routes every destination with the compiled MT table (engine/routing.ts): the candidates go on
 *    the destination (`via`, in the order to try) and the route's price on it (`price`, per part);
 *    a reject route or no match refuses the record with its status;
 * 2. debits the account's prepaid credit (engine/ledger.ts; synchronous, so concurrent binds can
 *    never overdraw): a record the balance does not cover gets SMSC_RNOCREDIT and costs nothing;
 * 3. commits the admitted records, ONE ledger entry for the batch and the quota counter in one store
 *    transaction (through the store actor), then answers and hands the records to the dispatcher.
 * A table change (`tables` message) recompiles the table; jobs already routed keep their candidates.
 */
import { CommandStatus as S, MessageState } from '../engine/protocol/constants'
import { isFinal } from '../engine/message'
import { SIMULATOR_CONNECTOR } from '../engine/config'
import { MtRouter, type RouteTables } from '../engine/routing'
import type { Ledger, LedgerEntry } from '../engine/ledger'
import type { Account } from '../engine/accounts'
import type { CommitBatch } from '../engine/store'
import type { Destination, MessageRecord } from '../engine/message'
import { groupEnd, type AcceptJob } from './messages'

export interface RouterDeps {
  now(): number
  ledger: Ledger
  account(systemId: string): Account | undefined
  commit(batch: CommitBatch, done: (err: Error | null) => void): void
  /** Committed records go on to the dispatcher (and telemetry). */
  accepted(records: MessageRecord[]): void
  /** Gives daily-quota units back to the account's rate actor (records it admitted that were refused here). */
  quotaGiveBack(systemId: string, units: number): void
  /** The daily quota's count of an account's gate now (a reseller's: its tree's), to persist; undefined without one. */
  quotaNow(systemId: string): { day: number; used: number } | undefined
  /** Upstream id links of destinations (a replaced message's links go with it). */
  upstreamLinks(dests: readonly Destination[]): { connector: string; upstreamId: string }[]
}

export class Router {
  private mt: MtRouter

  constructor(private readonly d: RouterDeps, tables: RouteTables) {
    this.mt = new MtRouter(tables.mt)
  }

  setTables(tables: RouteTables): void {
    this.mt = new MtRouter(tables.mt)
  }

  route(job: AcceptJob): void {
    const { records, statuses, groups, systemId } = job
    const now = this.d.now()
    const account = this.d.account(systemId)
    const group = account?.group ?? null
    const prepaid = account?.prepaid === true
    const passed = statuses.map((s) => s === 0) // what the rate actor admitted (and counted in the quota)
    // 1. routes, per destination
    const prices = new Array<number>(records.length).fill(0)
    for (let i = 0; i < records.length; i++) {
      if (statuses[i] !== 0) continue
      const r = records[i]
      let price = 0
      for (const dest of r.dests) {
        const dec = this.mt.route(systemId, group, r.src[2], dest.addr[2], now)
        if (!dec.ok) { statuses[i] = dec.status; break }
        // The simulator alone is what a destination without `via` means: not stored (every byte of a record is encoded twice).
        if (dec.connectors.length !== 1 || dec.connectors[0] !== SIMULATOR_CONNECTOR) dest.via = dec.connectors
        if (prepaid) dest.price = dec.price
        price += dec.price
      }
      prices[i] = price
    }
    // A group (the parts of one HTTP message) is refused as a whole when one part is.
    if (groups !== null) spreadRefusals(statuses, groups)
    // 2. credit, per record (per group for HTTP messages)
    let charged = 0
    let count = 0
    if (prepaid) {
      let i = 0
      while (i < records.length) {
        const end = groupEnd(groups, i, records.length)
        if (statuses[i] === 0) {
          let units = 0
          for (let k = i; k < end; k++) units += prices[k]
          if (this.d.ledger.tryDebit(systemId, units)) { charged += units; count += end - i }
          else for (let k = i; k < end; k++) statuses[k] = S.SMSC_RNOCREDIT
        }
        i = end
      }
    }
    // Refused here (no route, no credit): not sent, so not counted in the daily quota (nor in its reseller's).
    const parent = job.treeQuota ? account?.parent ?? null : null
    if (job.quota !== undefined || parent !== null) {
      let back = 0
      // a STOP confirmation took no quota (actors/rate.ts): it gives none back
      for (let i = 0; i < records.length; i++) if (passed[i] && statuses[i] !== 0 && records[i].confirmsOptOut !== true) back += records[i].dests.length
      if (back > 0) {
        if (job.quota !== undefined) {
          job.quota = { day: job.quota.day, used: Math.max(0, job.quota.used - back) }
          this.d.quotaGiveBack(systemId, back)
        }
        if (parent !== null) this.d.quotaGiveBack(parent, back)
      }
    }
    // 3. commit what is admitted
    const ok: MessageRecord[] = []
    const replaced: MessageRecord[] = []
    const unlinks: { connector: string; upstreamId: string }[] = []
    for (let i = 0; i < records.length; i++) {
      if (statuses[i] !== 0) continue
      if (prepaid) records[i].price = prices[i]
      ok.push(records[i])
      // replace_if_present_flag (SMPP 3.4 §5.2.18): the pending message it replaces ends DELETED in the same commit.
      for (const old of job.replaces?.[i] ?? []) {
        if (isFinal(old.state)) continue
        for (const l of this.d.upstreamLinks(old.dests.filter((d) => !isFinal(d.state)))) unlinks.push(l)
        for (const d of old.dests) if (!isFinal(d.state)) { d.state = MessageState.DELETED; d.doneAt = now }
        old.state = MessageState.DELETED
        old.doneAt = now
        replaced.push(old)
      }
    }
    if (ok.length === 0) {
      job.done(null, statuses)
      return
    }
    const entry: LedgerEntry | null = charged > 0 ? this.d.ledger.debitEntry(systemId, charged, count, ok.length === 1 ? ok[0].id : `${ok[0].id}..${ok[ok.length - 1].id}`) : null
    const batch: CommitBatch = { messages: replaced.length > 0 ? [...replaced, ...ok] : ok }
    if (entry !== null) batch.ledger = [entry]
    // The counts as the gates hold them now, not as of this job's admission: a reseller's gate counts its users'
    // batches too, which go through other routers and may be committed before this one (a reseller's own batch
    // would write back its older count); commits keep the order they are asked for in, so the last one written is
    // the latest.
    const own = job.quota === undefined ? undefined : this.d.quotaNow(systemId) ?? job.quota
    if (own !== undefined) batch.meta = [[`quota:${systemId}`, own]]
    const tree = parent === null ? undefined : this.d.quotaNow(parent)
    if (tree !== undefined) (batch.meta ??= []).push([`quota:${parent}`, tree])
    if (unlinks.length > 0) batch.upstreamRemove = unlinks
    this.d.commit(batch, (err) => {
      if (err) {
        if (entry !== null) this.d.ledger.revert(entry)
        // Not stored, so not sent: its parts go back to the quotas as those refused above (the next commit writes the counts).
        let units = 0
        for (const r of ok) if (r.confirmsOptOut !== true) units += r.dests.length
        if (job.quota !== undefined) this.d.quotaGiveBack(systemId, units)
        if (parent !== null) this.d.quotaGiveBack(parent, units)
        for (let i = 0; i < statuses.length; i++) if (statuses[i] === 0) statuses[i] = S.ESME_RSYSERR
        job.done(err, statuses)
        return
      }
      // Stored and acknowledged: dispatched whatever happens while answering.
      try {
        job.done(null, statuses)
      } finally {
        this.d.accepted(ok)
      }
    })
  }
}

function spreadRefusals(statuses: number[], groups: number[]): void {
  let i = 0
  while (i < statuses.length) {
    const end = groupEnd(groups, i, statuses.length)
    let status = 0
    for (let k = i; k < end; k++) if (statuses[k] !== 0) { status = statuses[k]; break }
    if (status !== 0) for (let k = i; k < end; k++) statuses[k] = status
    i = end
  }
}
