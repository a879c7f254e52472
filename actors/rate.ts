/**
 * The rate actor of one account (`rate-<systemId>`): one token bucket with burst shared by every
 * bind and the HTTP API of that account, so several binds together cannot exceed the account's
 * rate, and the daily quota (UTC day). It works on batches: a batch of N submits takes N tokens in
 * one message. Refused records get ESME_RTHROTTLED (0x58, the ESME retries later; the session stays
 * up) or SMSC_RQUOTA (0x402, vendor-specific: the quota is used up until 00:00 UTC).
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

  /** Marks the records over the rate or the quota; the rest go on. Units: one per destination. */
  admit(job: AcceptJob, now: number): void {
    const { records, statuses, groups } = job
    let i = 0
    while (i < records.length) {
      // A group (the parts of one HTTP message) takes its units at once; SMPP records are alone.
      const end = groupEnd(groups, i, records.length)
      let units = 0
      let refused = false
      for (let k = i; k < end; k++) {
        if (statuses[k] !== 0) refused = true
        units += records[k].dests.length
      }
      if (!refused) {
        let status = 0
        if (this.bucket !== null && !this.bucket.tryTake(units, now)) status = S.ESME_RTHROTTLED
        else if (this.quota !== null) {
          const got = this.quota.take(units, now)
          if (got < units) { this.quota.give(got); status = S.SMSC_RQUOTA }
        }
        if (status !== 0) for (let k = i; k < end; k++) statuses[k] = status
      }
      i = end
    }
    if (this.quota !== null) job.quota = { day: this.quota.day, used: this.quota.used }
  }
}
