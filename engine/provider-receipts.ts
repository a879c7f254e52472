/**
 * An HTTP provider's delivery receipts (connectors[] of kind 'http' with receipts "callback",
 * docs/CONNECTORS.md): where its message id is in its 2xx answer, what its receipt callbacks
 * (POST /api/v1/connectors/:id/receipts) look like, and THE table of its status words. PURE: the HTTP
 * connector reads its answers with `idAt`, the HTTP server checks the token and parses the bodies
 * here, and the engine matches the receipts by id as it does an upstream SMSC's.
 *
 * Why it exists: a provider's 2xx only says it accepted the message; the outcome comes later, in
 * its own words, by a webhook. Each provider names the fields differently, so the names are data
 * (config), and so are the words.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { MessageState } from './protocol/constants'

/** What a provider's status word may mean: the receipt stats (SMPP 3.4 Appendix B). ACCEPTD and ENROUTE are not final. */
export const CALLBACK_STATS = ['DELIVRD', 'UNDELIV', 'EXPIRED', 'REJECTD', 'DELETED', 'UNKNOWN', 'ACCEPTD', 'ENROUTE'] as const
export type CallbackStat = (typeof CALLBACK_STATS)[number]

/** The message_state each stat gives. ACCEPTD means "taken, not yet delivered" from a provider: an intermediate state, as ENROUTE. */
const STATE: Record<CallbackStat, number> = {
  DELIVRD: MessageState.DELIVERED, UNDELIV: MessageState.UNDELIVERABLE, EXPIRED: MessageState.EXPIRED,
  REJECTD: MessageState.REJECTED, DELETED: MessageState.DELETED, UNKNOWN: MessageState.UNKNOWN,
  ACCEPTD: MessageState.ENROUTE, ENROUTE: MessageState.ENROUTE,
}

/**
 * The words common providers use (Infobip, Vonage, Twilio, Plivo, Sinch, MessageBird, Telnyx) and the
 * stats themselves, in lower case: a callback's word is compared in lower case. A connector's
 * `callbackStatuses` add to these and override them.
 */
export const DEFAULT_CALLBACK_STATUSES: Readonly<Record<string, CallbackStat>> = Object.freeze({
  delivrd: 'DELIVRD', delivered: 'DELIVRD',
  undeliv: 'UNDELIV', undelivered: 'UNDELIV', undeliverable: 'UNDELIV', failed: 'UNDELIV', delivery_failed: 'UNDELIV',
  sending_failed: 'UNDELIV', aborted: 'UNDELIV',
  expired: 'EXPIRED',
  rejectd: 'REJECTD', rejected: 'REJECTD',
  deleted: 'DELETED', cancelled: 'DELETED', canceled: 'DELETED',
  unknown: 'UNKNOWN', delivery_unconfirmed: 'UNKNOWN',
  acceptd: 'ACCEPTD', accepted: 'ACCEPTD',
  enroute: 'ENROUTE', queued: 'ENROUTE', buffered: 'ENROUTE', pending: 'ENROUTE', scheduled: 'ENROUTE',
  sending: 'ENROUTE', sent: 'ENROUTE', dispatched: 'ENROUTE',
})

/** Where each value is in one receipt of a callback body (dotted paths); `list`: where the array is, when the body wraps it. */
export interface CallbackFields {
  /** path of the receipts' array in a body that wraps it ({ "results": [...] }); null: the body is one receipt or an array */
  list: string | null
  /** the provider's message id (its 2xx answer gave it) */
  id: string
  /** the provider's status word (or number) */
  status: string
  /** an error code (a number, or a string of digits): the receipt's err:; null: not read */
  err: string | null
  /** when it was delivered or failed (ISO-8601, or seconds or ms since the epoch): the receipt's done date; null: not read */
  doneAt: string | null
}

export const DEFAULT_CALLBACK_FIELDS: Readonly<CallbackFields> = Object.freeze({ list: null, id: 'id', status: 'status', err: 'err', doneAt: 'doneAt' })

/** What a connector's callbacks need (its config). */
export interface CallbackSpec {
  token: string
  fields: CallbackFields
  /** lower-case word → stat (the defaults and the connector's own, merged by engine/config.ts) */
  statuses: Readonly<Record<string, CallbackStat>>
}

/** One receipt of a callback, by the provider's id (the shape of actors/connectors/types.ts UpstreamReceipt). */
export interface ProviderReceipt {
  upstreamId: string
  state: number
  err: number
  /** ms since the epoch, when the callback said */
  doneAt?: number
}

/** A parsed callback: its receipts, and the words no status maps (those receipts change nothing). */
export interface ParsedCallback {
  receipts: ProviderReceipt[]
  unmapped: string[]
}

/** A dotted path ('id', 'messages.0.id') is segments of 1 to 64 characters; a number indexes an array. */
export const isFieldPath = (p: string): boolean => p.length <= 200 && p.split('.').every((s) => s.length >= 1 && s.length <= 64)

/** The value at a dotted path of a JSON value, or undefined. */
export function valueAt(v: unknown, path: string): unknown {
  for (const k of path.split('.')) {
    if (Array.isArray(v)) v = /^\d+$/.test(k) ? v[Number(k)] : undefined
    else if (typeof v === 'object' && v !== null && Object.prototype.hasOwnProperty.call(v, k)) v = (v as Record<string, unknown>)[k]
    else return undefined
  }
  return v
}

/** An id: a non-empty string, or a finite number (as its decimal text); else null. */
function idText(v: unknown): string | null {
  if (typeof v === 'string') return v.length > 0 ? v : null
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  return null
}

/** The provider's message id in its 2xx answer (JSON), at `path`; null when the answer has none. */
export function idAt(body: Buffer | null, path: string): string | null {
  if (!body || body.length === 0) return null
  try {
    return idText(valueAt(JSON.parse(body.toString('utf8')), path))
  } catch {
    return null // not JSON: no id
  }
}

/** The callback's token against the connector's, in constant time (both hashed first: lengths do not leak either). */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

/** An err: field: an integer 0..65535 (network_error_code has two octets, SMPP 3.4 §5.3.2.31) or its digits; else 0. */
function errOf(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : NaN
  return Number.isInteger(n) && n >= 0 && n <= 0xffff ? n : 0
}

/** A done time: ISO-8601 text, or a number of seconds (below 1e11) or ms since the epoch; else undefined. */
function timeOf(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v < 1e11 ? Math.round(v * 1000) : Math.round(v)
  if (typeof v === 'string' && v.length > 0) {
    if (/^\d+$/.test(v)) return timeOf(Number(v))
    const t = Date.parse(v)
    if (Number.isFinite(t)) return t
  }
  return undefined
}

/**
 * A callback body (parsed JSON): one receipt, an array of them, or an object with the array at
 * `fields.list`. Returns the receipts, or the one-line reason the body is refused (400), naming the
 * field as the body has it (`[3].status`). An err or doneAt that does not read is left out (err 0,
 * done now): providers' own error words do not fit a receipt. A status no word maps is reported in
 * `unmapped` and its receipt left out.
 */
export function parseCallback(body: unknown, spec: Pick<CallbackSpec, 'fields' | 'statuses'>): ParsedCallback | string {
  const f = spec.fields
  let list: unknown = body
  let at = ''
  if (f.list !== null) {
    list = valueAt(body, f.list)
    at = f.list
    if (!Array.isArray(list)) return `${f.list} must be an array of receipts`
  }
  const items = Array.isArray(list) ? list : [list]
  const receipts: ProviderReceipt[] = []
  const unmapped = new Set<string>()
  for (let i = 0; i < items.length; i++) {
    const it = items[i]
    const where = Array.isArray(list) ? `${at}[${i}]` : ''
    const name = (k: string) => (where === '' ? k : `${where}.${k}`)
    if (typeof it !== 'object' || it === null || Array.isArray(it)) return `${where === '' ? 'the body' : where} must be a JSON object (a receipt)`
    const id = idText(valueAt(it, f.id))
    if (id === null) return `${name(f.id)} is required: the provider's message id (a string or a number)`
    const word = valueAt(it, f.status)
    if (!(typeof word === 'string' && word.length > 0) && !(typeof word === 'number' && Number.isFinite(word))) {
      return `${name(f.status)} is required: the provider's status (a string or a number)`
    }
    const stat = Object.prototype.hasOwnProperty.call(spec.statuses, String(word).toLowerCase()) ? spec.statuses[String(word).toLowerCase()] : undefined
    if (stat === undefined) { unmapped.add(String(word)); continue }
    const r: ProviderReceipt = { upstreamId: id, state: STATE[stat], err: f.err === null ? 0 : errOf(valueAt(it, f.err)) }
    const done = f.doneAt === null ? undefined : timeOf(valueAt(it, f.doneAt))
    if (done !== undefined) r.doneAt = done
    receipts.push(r)
  }
  return { receipts, unmapped: [...unmapped] }
}
