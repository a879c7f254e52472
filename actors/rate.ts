/**
 * The rate actor of one account (`rate-<systemId>`): one token bucket with burst shared by every
 * bind and the HTTP API of that account, so several binds together cannot exceed the account's
 * rate, and the daily quota (UTC day). It works on batches: a batch of N submits takes N tokens in
 * one message. Refused records get ESME_RTHROTTLED (0x58, the ESME retries later; the session stays
 * up) or SMSC_RQUOTA (0x402, vendor-specific: the quota is used up until 00:00 UTC).
 *
 * A reseller's limits are its whole tree's: the gate of each of its users takes a batch's tokens and quota
 * units from the user's own bucket and quota AND from the reseller's gate (`tree`, passed with each batch),
 * all or nothing, so the reseller's rateLimit and dailyQuota cap the sum of its own and its users' traffic
 * (docs/ACCOUNTS.md): what the operator sold the reseller is what its tree can send. One thread runs every
 * actor, so the reseller's gate is taken synchronously by whichever gate admits a batch, as the ledger's
 * balances are.
 */
import { CommandStatus as S } from '../engine/protocol/constants'
import { DailyQuota, TokenBucket, utcDay } from '../engine/rate'
import { groupEnd, type AcceptJob } from './messages'

export interface Limits {
  rateLimit: { perSecond: number; burst: number } | null
  dailyQuota: number | null
}

export class RateGate {
  private bucket: TokenBucket | null = null
  private quota: DailyQuota | null = null

  constructor(limits: Limits, quotaState: { day: number; used: number } | undefined, now: number) {
    this.reconfigure(limits, quotaState, now)
  }

  reconfigure(limits: Limits, quotaState: { day: number; used: number } | undefined, now: number): void {
    if (limits.rateLimit === null) this.bucket = null
    else if (this.bucket === null) this.bucket = new TokenBucket(limits.rateLimit.perSecond, limits.rateLimit.burst, now)
    else this.bucket.reconfigure(limits.rateLimit.perSecond, limits.rateLimit.burst)
    if (limits.dailyQuota === null) this.quota = null
    else if (this.quota === null) {
      const day = utcDay(now)
      const used = quotaState !== undefined && quotaState.day === day ? quotaState.used : 0
      this.quota = new DailyQuota(limits.dailyQuota, used, day)
    } else this.quota.setLimit(limits.dailyQuota)
  }

  /** Units the quota granted for records refused later (no route, no credit): they were not sent. */
  give(units: number): void {
    this.quota?.give(units)
  }

  /** The quota's count now (what the store keeps under `quota:<systemId>`); undefined without a quota. */
  quotaState(): { day: number; used: number } | undefined {
    return this.quota === null ? undefined : { day: this.quota.day, used: this.quota.used }
  }

  /** Takes `n` quota units, all or none; true when there is no quota. */
  private takeQuota(n: number, now: number): boolean {
    if (this.quota === null) return true
    const got = this.quota.take(n, now)
    if (got < n) this.quota.give(got)
    return got === n
  }

  /** Takes `n` tokens from this account's bucket (a reseller's: its tree's), all or none; true when there is no bucket. */
  take(n: number, now: number): boolean {
    return this.bucket === null || this.bucket.tryTake(n, now)
  }

  /** Gives back `n` tokens take() just granted. */
  giveBack(n: number): void {
    this.bucket?.giveBack(n)
  }

  /**
   * Marks the records over the rate or the quota (this account's, then its reseller's `tree` gate's when given);
   * the rest go on. Units: one per destination. A group refused by one limit takes nothing from the others.
   */
  admit(job: AcceptJob, now: number, tree: RateGate | null = null): void {
    const { records, statuses, groups } = job
    let i = 0
    while (i < records.length) {
      // A group (the parts of one HTTP message) takes its units at once; SMPP records are alone.
      const end = groupEnd(groups, i, records.length)
      let units = 0
      let refused = false
      let confirms = false
      for (let k = i; k < end; k++) {
        if (statuses[k] !== 0) refused = true
        units += records[k].dests.length
        if (records[k].confirmsOptOut === true) confirms = true
      }
      // A STOP confirmation (an optOut "add" route's reply) answers the subscriber's own STOP, which carriers require
      // (CTIA): neither the rate limit nor the daily quota holds it back, and it takes nothing from them. Credit does.
      if (!refused && !confirms) {
        let status = 0
        if (!this.take(units, now)) status = S.ESME_RTHROTTLED
        else if (tree !== null && !tree.take(units, now)) {
          this.giveBack(units)
          status = S.ESME_RTHROTTLED
        } else if (!this.takeQuota(units, now)) status = S.SMSC_RQUOTA
        else if (tree !== null && !tree.takeQuota(units, now)) {
          this.quota?.give(units)
          status = S.SMSC_RQUOTA
        }
        if (status === S.SMSC_RQUOTA) {
          // not sent: it costs no tokens (the tree's go back to the reseller's other users)
          this.giveBack(units)
          tree?.giveBack(units)
        }
        if (status !== 0) for (let k = i; k < end; k++) statuses[k] = status
      }
      i = end
    }
    if (this.quota !== null) job.quota = { day: this.quota.day, used: this.quota.used }
    if (tree !== null && tree.quota !== null) job.treeQuota = true
  }
}
