/**
 * Rate limits as pure state machines: a TokenBucket (submits per second with a burst) and a
 * DailyQuota (units per UTC day). No timers and no clock reads: every call takes `now` (ms epoch)
 * from the caller, which reads the clock once per batch. A batch asks for N units at once and is
 * granted as many as the limit allows (0..N); the caller answers the rest with ESME_RTHROTTLED or
 * SMSC_RQUOTA.
 */

/** Fill is kept in token-milliseconds (1 token = 1000 units; each ms adds `perSecond` units), so
 *  integer rates and integer ms timestamps accumulate in exact integers: no drift over time. */
const UNITS_PER_TOKEN = 1000
/** Guards the floor() below against 2.9999999 from fractional rates or timestamps. */
const EPSILON = 1e-6

/**
 * Token bucket: `perSecond` tokens per second, at most `burst` stored; it starts full.
 * `perSecond` = Infinity means unlimited. Over any interval the bucket grants at most
 * `burst + perSecond * elapsedSeconds` tokens. A clock that steps back adds nothing.
 */
export class TokenBucket {
  private rate: number // units per ms = perSecond
  private cap: number // burst in units
  private fill: number // units stored
  private last: number // ms of the last refill

  constructor(perSecond: number, burst: number, now: number) {
    this.rate = perSecond
    this.cap = burst * UNITS_PER_TOKEN
    this.fill = this.cap
    this.last = now
  }

  /** Grants as many of `n` tokens as are stored (0..n) and takes them. */
  take(n: number, now: number): number {
    if (!(n > 0)) return 0
    if (this.rate === Infinity) return n
    if (now > this.last) {
      const fill = this.fill + (now - this.last) * this.rate
      this.fill = fill < this.cap ? fill : this.cap
      this.last = now
    }
    const whole = Math.floor((this.fill + EPSILON) / UNITS_PER_TOKEN)
    const granted = whole < n ? whole : n
    if (granted > 0) this.fill = Math.max(0, this.fill - granted * UNITS_PER_TOKEN)
    return granted
  }

  /** All or nothing: takes `n` tokens when that many are stored, else takes none (a batch that is refused costs nothing). */
  tryTake(n: number, now: number): boolean {
    if (!(n > 0)) return true
    if (this.rate === Infinity) return true
    if (now > this.last) {
      const fill = this.fill + (now - this.last) * this.rate
      this.fill = fill < this.cap ? fill : this.cap
      this.last = now
    }
    if (Math.floor((this.fill + EPSILON) / UNITS_PER_TOKEN) < n) return false
    this.fill = Math.max(0, this.fill - n * UNITS_PER_TOKEN)
    return true
  }

  /** Gives back `n` tokens just taken (a batch another limit refused after this one granted it): at most up to `burst`. */
  giveBack(n: number): void {
    if (!(n > 0) || this.rate === Infinity) return
    const fill = this.fill + n * UNITS_PER_TOKEN
    this.fill = fill < this.cap ? fill : this.cap
  }

  /** Change limits live (hot reload), keeping the current fill capped to the new burst. Time since
   *  the last take() accrues at the new rate. */
  reconfigure(perSecond: number, burst: number): void {
    this.rate = perSecond
    this.cap = burst * UNITS_PER_TOKEN
    if (this.fill > this.cap) this.fill = this.cap
  }
}

export const MS_PER_DAY = 86_400_000

/** UTC day number of a ms epoch, as DailyQuota and the store count days. */
export function utcDay(ms: number): number {
  return Math.floor(ms / MS_PER_DAY)
}

/**
 * Daily quota per UTC day: `limit` units (Infinity = unlimited), `used` carried over from the
 * store for `day`; the count restarts at 00:00 UTC (the first take() of a later day). A clock that
 * steps back to an earlier day keeps counting on the current one.
 */
export class DailyQuota {
  private _limit: number
  private _used: number
  private _day: number

  constructor(limit: number, used: number, day: number) {
    this._limit = limit
    this._used = used > 0 ? used : 0
    this._day = day
  }

  /** Grants as many of `n` units as the day has left (0..n) and counts them. */
  take(n: number, now: number): number {
    const day = Math.floor(now / MS_PER_DAY)
    if (day > this._day) {
      this._day = day
      this._used = 0
    }
    if (!(n > 0)) return 0
    const left = this._limit - this._used
    const granted = left <= 0 ? 0 : left < n ? left : n
    this._used += granted
    return granted
  }

  /** Gives back units whose submit failed later (never below 0). Counts against the current day. */
  give(n: number): void {
    if (!(n > 0)) return
    this._used = this._used > n ? this._used - n : 0
  }

  /** Units used on `day`. */
  get used(): number {
    return this._used
  }

  /** The UTC day `used` counts. */
  get day(): number {
    return this._day
  }

  /** Change the limit live; units already used stay used (a lower limit may grant 0 until tomorrow). */
  setLimit(limit: number): void {
    this._limit = limit
  }
}
