// Delivery receipt text (SMPP 3.4 Appendix B) and message_state values (SMPP 3.4 §5.2.28).
// Owns the receipt short_message format we send and a tolerant parser for receipts from upstream SMSCs.
// Pure; dates are UTC.

import { formatReceiptDate, parseReceiptDate } from './time'

export type ReceiptStat =
  'DELIVRD' | 'EXPIRED' | 'DELETED' | 'UNDELIV' | 'ACCEPTD' | 'UNKNOWN' | 'REJECTD' | 'ENROUTE' | 'SKIPPED'

export interface ReceiptFields {
  id: string
  sub: number
  dlvrd: number
  submitDate: number // epoch ms
  doneDate: number // epoch ms
  stat: ReceiptStat
  err: number
  text: string
}

export type ParsedReceipt = Partial<ReceiptFields & { submitDateRaw: string; doneDateRaw: string }>

// SMPP 3.4 §5.2.28 message_state
export const MESSAGE_STATE = {
  ENROUTE: 1, DELIVERED: 2, EXPIRED: 3, DELETED: 4, UNDELIVERABLE: 5,
  ACCEPTED: 6, UNKNOWN: 7, REJECTED: 8, SKIPPED: 9,
} as const
export type MessageState = (typeof MESSAGE_STATE)[keyof typeof MESSAGE_STATE]

// Index = message_state; 0 (SCHEDULED in SMPP 5.0) and anything unknown report as UNKNOWN.
const STAT_BY_STATE: readonly ReceiptStat[] = [
  'UNKNOWN', 'ENROUTE', 'DELIVRD', 'EXPIRED', 'DELETED', 'UNDELIV', 'ACCEPTD', 'UNKNOWN', 'REJECTD', 'SKIPPED',
]
const STATE_BY_STAT: Record<ReceiptStat, number> = {
  ENROUTE: 1, DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8, SKIPPED: 9,
}
// Long spellings seen from other SMSCs, normalised on parse.
const STAT_ALIASES: Record<string, ReceiptStat> = {
  DELIVERED: 'DELIVRD', UNDELIVERABLE: 'UNDELIV', ACCEPTED: 'ACCEPTD', REJECTED: 'REJECTD',
}

export function statOfState(state: number): ReceiptStat {
  return STAT_BY_STATE[state] ?? 'UNKNOWN'
}

export function stateOfStat(stat: ReceiptStat): number {
  return STATE_BY_STAT[stat] ?? MESSAGE_STATE.UNKNOWN
}

function pad3(n: number): string {
  const s = String(Math.max(0, Math.trunc(n)))
  return s.length >= 3 ? s : '000'.slice(s.length) + s
}

/** First 20 UTF-16 code units of the message text, not ending in half a surrogate pair. */
export function first20(text: string): string {
  if (text.length <= 20) return text
  const c = text.charCodeAt(19)
  return text.slice(0, c >= 0xd800 && c <= 0xdbff ? 19 : 20)
}

/**
 * `id:<id> sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD err:000 text:<20 chars>`.
 * withSeconds writes the dates as YYMMDDhhmmss (a common extension).
 */
export function formatReceipt(f: ReceiptFields, opts: { withSeconds?: boolean } = {}): string {
  const ws = opts.withSeconds ?? false
  return receiptHead(f.id, f.sub, f.dlvrd, formatReceiptDate(f.submitDate, ws), formatReceiptDate(f.doneDate, ws), f.stat, f.err) + first20(f.text)
}

/** The receipt text up to and including `text:`, the dates already formatted (formatReceiptDate). */
export function receiptHead(id: string, sub: number, dlvrd: number, submitDate: string, doneDate: string, stat: ReceiptStat, err: number): string {
  return `id:${id} sub:${pad3(sub)} dlvrd:${pad3(dlvrd)} submit date:${submitDate} done date:${doneDate} stat:${stat} err:${pad3(err)} text:`
}

const KEY = /(?<=^|\s)(id|sub|dlvrd|submit[ _]?date|done[ _]?date|stat|err|text):/gi
const DIGITS = /^\d+$/

/**
 * Parse receipt text, tolerant of key case, `submit_date` spellings, YYMMDDhhmmss dates and missing fields.
 * `text:` runs to the end of the string. null if there is no `id:` key (not a receipt).
 * Unparsable numbers / dates / stats are left out; the raw date strings are always kept.
 */
export function parseReceipt(s: string): ParsedReceipt | null {
  const found: { key: string; start: number; valueStart: number }[] = []
  KEY.lastIndex = 0
  for (let m = KEY.exec(s); m; m = KEY.exec(s)) {
    const key = m[1].toLowerCase().replace(/[ _]/, '')
    found.push({ key, start: m.index, valueStart: m.index + m[0].length })
    if (key === 'text') break
  }
  if (!found.some((f) => f.key === 'id')) return null
  const r: ParsedReceipt = {}
  for (let k = 0; k < found.length; k++) {
    const { key, valueStart } = found[k]
    const raw = key === 'text' ? s.slice(valueStart) : s.slice(valueStart, found[k + 1]?.start ?? s.length).trim()
    switch (key) {
      case 'id': r.id = raw; break
      case 'sub': if (DIGITS.test(raw)) r.sub = Number(raw); break
      case 'dlvrd': if (DIGITS.test(raw)) r.dlvrd = Number(raw); break
      case 'err': if (DIGITS.test(raw)) r.err = Number(raw); break
      case 'text': r.text = raw; break
      case 'stat': {
        const up = raw.toUpperCase()
        const stat = Object.hasOwn(STATE_BY_STAT, up) ? (up as ReceiptStat)
          : Object.hasOwn(STAT_ALIASES, up) ? STAT_ALIASES[up] : undefined
        if (stat) r.stat = stat
        break
      }
      case 'submitdate': {
        r.submitDateRaw = raw
        const ms = parseReceiptDate(raw)
        if (ms !== null) r.submitDate = ms
        break
      }
      case 'donedate': {
        r.doneDateRaw = raw
        const ms = parseReceiptDate(raw)
        if (ms !== null) r.doneDate = ms
        break
      }
    }
  }
  return r
}
