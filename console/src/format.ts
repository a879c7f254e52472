/** Number, byte, time and duration formatting for the console (tabular, locale-aware, short). */

const int = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 })
const dec1 = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 })
const dec2 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 })

export function n0(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : int.format(v)
}

/** rates: integers above 10, one decimal below */
/** "1 session", "2 sessions" (n0 formatting). */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n0(n)} ${n === 1 ? one : many}`
}

export function rate(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–'
  if (v === 0) return '0'
  return Math.abs(v) >= 10 || Number.isInteger(v) ? int.format(v) : dec1.format(v)
}

export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–'
  if (v >= 10_000) return `${dec1.format(v / 1000)} s`
  if (v >= 100) return `${int.format(v)} ms`
  return `${dec2.format(v)} ms`
}

export function bytes(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let x = v
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024
    i++
  }
  return `${i === 0 ? int.format(x) : dec1.format(x)} ${units[i]}`
}

export function pct(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–'
  return `${dec1.format(v * 100)} %`
}

/** 3d 4h, 5h 12m, 12m 5s, 42s */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–'
  const s = Math.floor(seconds)
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  const r = s % 60
  if (d) return `${d}d ${h}h`
  if (h) return `${h}h ${m}m`
  if (m) return `${m}m ${r}s`
  return `${r}s`
}

const pad = (v: number, w = 2) => String(v).padStart(w, '0')

/** HH:MM:SS (local) */
export function clock(t: number): string {
  const d = new Date(t)
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** HH:MM:SS.mmm (local) */
export function clockMs(t: number): string {
  return `${clock(t)}.${pad(new Date(t).getMilliseconds(), 3)}`
}

/** YYYY-MM-DD HH:MM:SS (local) */
export function dateTime(t: number | null | undefined): string {
  if (t === null || t === undefined || !Number.isFinite(t)) return '–'
  const d = new Date(t)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(t)}`
}

const trim2 = (v: number): string => String(Number(v.toFixed(2)))

/** short axis labels for milliseconds: "0 ms", "250 ms", "1.5 s", "2 s" */
export function msShort(v: number): string {
  if (!Number.isFinite(v)) return ''
  return Math.abs(v) >= 1000 ? `${trim2(v / 1000)} s` : `${trim2(v)} ms`
}

/** short axis labels for rates: "0", "2.5", "800", "1.2k", "15k" */
export function rateShort(v: number): string {
  if (!Number.isFinite(v)) return ''
  if (Math.abs(v) >= 1_000_000) return `${trim2(v / 1_000_000)}M`
  if (Math.abs(v) >= 1000) return `${trim2(v / 1000)}k`
  return trim2(v)
}

const money6 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 6 })

/** credit units (exact to the micro-unit, as the ledger keeps them); "–" for none */
export function credit(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : money6.format(v)
}

/** a ledger delta with its sign: "+20", "−5" */
export function signed(v: number): string {
  return v > 0 ? `+${money6.format(v)}` : v < 0 ? `−${money6.format(-v)}` : '0'
}
