// SMPP time formats (SMPP 3.4 §7.1.1): schedule_delivery_time / validity_period in absolute
// `YYMMDDhhmmsstnnp` or relative `YYMMDDhhmmss000R` form, and the `YYMMDDhhmm[ss]` dates of receipt text.
// Pure: the caller passes `nowMs`, so tests need no clock. All output is UTC.
//
// Choices the spec leaves open:
// - YY is 2000 + YY (00..99 -> 2000..2099).
// - Relative periods are a duration, not calendar arithmetic: a year is 365 days and a month 30 days.
//   Their fields are counts, so they are not range-checked (e.g. 90 minutes is accepted); t and nn must be 0.

export type SmppTime = { ok: true; ms: number | null; relative: boolean } | { ok: false }

const FAIL: SmppTime = { ok: false }
const EMPTY: SmppTime = { ok: true, ms: null, relative: false }

function digits(s: string, from: number, n: number): number {
  let v = 0
  for (let i = from; i < from + n; i++) {
    const d = s.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    v = v * 10 + d
  }
  return v
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate() // month is 1-based here: day 0 of the next month
}

/** ms since epoch of a UTC calendar time, or -1 if a field is out of range. */
function utcMs(yy: number, mo: number, dd: number, hh: number, mi: number, ss: number): number {
  const year = 2000 + yy
  if (mo < 1 || mo > 12 || dd < 1 || dd > daysInMonth(year, mo) || hh > 23 || mi > 59 || ss > 59) return -1
  return Date.UTC(year, mo - 1, dd, hh, mi, ss)
}

/**
 * Parse an SMPP time field. '' (not set) gives ms null. Absolute times become UTC epoch ms; relative times
 * are added to `nowMs`. { ok: false } for anything malformed (ESME_RINVSCHED / ESME_RINVEXPIRY by field).
 */
export function parseSmppTime(s: string, nowMs: number): SmppTime {
  if (s.length === 0) return EMPTY
  if (s.length !== 16) return FAIL // §7.1.1: 16 characters (17 octets with the NUL)
  const yy = digits(s, 0, 2), mo = digits(s, 2, 2), dd = digits(s, 4, 2)
  const hh = digits(s, 6, 2), mi = digits(s, 8, 2), ss = digits(s, 10, 2)
  const t = digits(s, 12, 1), nn = digits(s, 13, 2)
  if (yy < 0 || mo < 0 || dd < 0 || hh < 0 || mi < 0 || ss < 0 || t < 0 || nn < 0) return FAIL
  const p = s[15]
  if (p === 'R') {
    // §7.1.1.2 relative: tnn is always 000
    if (t !== 0 || nn !== 0) return FAIL
    const secs = (yy * 365 + mo * 30 + dd) * 86_400 + hh * 3600 + mi * 60 + ss
    return { ok: true, ms: nowMs + secs * 1000, relative: true }
  }
  if (p !== '+' && p !== '-') return FAIL
  if (nn > 48) return FAIL // §7.1.1.1: nn is 00..48 quarter hours from UTC
  const local = utcMs(yy, mo, dd, hh, mi, ss)
  if (local < 0) return FAIL
  // The fields are local time "nn quarter hours advanced (+) or retarded (-)" from UTC: UTC = local - offset.
  const offset = nn * 900_000 * (p === '+' ? 1 : -1)
  return { ok: true, ms: local + t * 100 - offset, relative: false }
}

function two(n: number): string {
  return n < 10 ? '0' + n : String(n)
}

function yymmddhhmm(d: Date): string {
  return two(d.getUTCFullYear() % 100) + two(d.getUTCMonth() + 1) + two(d.getUTCDate()) +
    two(d.getUTCHours()) + two(d.getUTCMinutes())
}

/** UTC absolute time `YYMMDDhhmmss000+` (16 characters; tenths and offset are 0). */
export function formatSmppAbsolute(ms: number): string {
  const d = new Date(ms)
  return yymmddhhmm(d) + two(d.getUTCSeconds()) + '000+'
}

/** Receipt date `YYMMDDhhmm`, or `YYMMDDhhmmss` with seconds (UTC), SMPP 3.4 Appendix B. */
export function formatReceiptDate(ms: number, withSeconds = false): string {
  const d = new Date(ms)
  return withSeconds ? yymmddhhmm(d) + two(d.getUTCSeconds()) : yymmddhhmm(d)
}

/** Receipt date `YYMMDDhhmm` or `YYMMDDhhmmss` (UTC) -> epoch ms, or null if malformed. */
export function parseReceiptDate(s: string): number | null {
  if (s.length !== 10 && s.length !== 12) return null
  const f = [0, 2, 4, 6, 8].map((i) => digits(s, i, 2))
  const ss = s.length === 12 ? digits(s, 10, 2) : 0
  if (ss < 0 || f.some((v) => v < 0)) return null
  const ms = utcMs(f[0], f[1], f[2], f[3], f[4], ss)
  return ms < 0 ? null : ms
}
