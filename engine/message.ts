/**
 * The message record: what the engine stores for every accepted submit (submit_sm, data_sm, each
 * submit_multi), and the pure functions that turn records into receipts and MO into deliver_sm
 * items. One record may have several destinations (submit_multi); each destination has its own
 * outcome and its own receipt, all carrying the record's message id.
 */
import { CommandId, EsmClass, MessageState, RegisteredDelivery } from './protocol/constants'
import { smscError } from './errors'
import { first20, type ReceiptStat } from './protocol/dlr'
import { formatReceiptDate } from './protocol/time'
import { codingOfDcs, decodeText } from './protocol/text/charsets'
import { parseUdh } from './protocol/text/udh'
import { gsm7Encode, gsm7Septets } from './protocol/text/gsm7'
import type { DeliveryItem, StoredMessage } from './store'
import { encode, type Pdu } from './protocol/codec'

/**
 * A deliver_sm as queue items carry it: encoded once when the receipt or MO is made, with
 * sequence_number 0; the session patches the sequence number of a copy when it sends it.
 */
export function deliverFrame(fields: Record<string, unknown>): Buffer {
  const pdu = fields as Pdu
  pdu.command = 'deliver_sm'
  pdu.command_status = 0
  pdu.sequence_number = 0
  return encode(pdu)
}

/** [ton, npi, address] */
export type Address = [number, number, string]

export interface Destination {
  addr: Address
  state: number
  err: number
  doneAt: number
  /** Connector ids to try, in order (set by the router). */
  via?: string[]
  /** Credit units charged for this destination (prepaid accounts). */
  price?: number
  /** Its price was given back (settlement 'refund', engine/accounts.ts REFUND_SETTLEMENT). */
  refunded?: true
  /** The upstream's message id once an upstream connector accepted it. */
  up?: string
  /** The connector that carries it (set when dispatched). */
  conn?: string
}

export interface MessageRecord extends StoredMessage {
  id: string
  systemId: string
  /** message_state (SMPP 3.4 §5.2.28); 0 = scheduled, not yet handed to the carrier. */
  state: number
  err: number
  submitAt: number
  doneAt: number
  src: Address
  dests: Destination[]
  serviceType: string
  esmClass: number
  protocolId: number
  priority: number
  dataCoding: number
  registeredDelivery: number
  /** short_message, or message_payload when that carried the text. UDH included when esm_class has UDHI. */
  sm: Buffer
  /** Delivery not before (ms since epoch), 0 = now. */
  scheduleAt: number
  /** Expire at (ms since epoch). */
  expireAt: number
  /** user_message_reference TLV, echoed in receipts. */
  umr?: number
  /** Revision: incremented by each replace_sm, so the carrier's outcomes for an older one are ignored. */
  rev?: number
  /** [seq, total] when this record is one part of a concatenated message (UDH or SAR TLVs). */
  part?: [number, number]
  /** Concatenation reference (UDH IEI 0/8 or sar_msg_ref_num) of `part`: parts of one message share it. */
  ref?: number
  /** replace_if_present_flag 1: the admission replaces a pending message with the same source, destination and service_type. */
  replaceIfPresent?: boolean
  /** Credit units charged for the record (sum of its destinations' prices), prepaid accounts only. */
  price?: number
  /** set_dpf TLV 1 (SMPP 3.4 §5.3.2.29): alert_notification when an absent subscriber becomes available. */
  setDpf?: boolean
  /** The auto-reply of an MO route with optOut "add": the STOP confirmation, the one message allowed to a number that
   *  just opted out (CTIA). The opt-out lists pass it, at admission and when due (engine/optouts.ts); set only by the engine. */
  confirmsOptOut?: true
  /** Set on an MO's record only (a message from a subscriber to the account, not one the account sent): what an MT
   *  has not. query_sm, cancel_sm, replace_sm and the API's cancel treat such an id as unknown. */
  mo?: MoFacts
  /** An MT's: when a receipt of it was discarded, never acknowledged by the account within receipts.maxAgeMs (the
   *  delivery actor writes it on that path only, actors/delivery.ts; the binary layout leaves such a record to msgpackr). */
  receiptDiscarded?: number
  /** The send API's `reference`: the customer's own id for the message (REFERENCE: 1–64 printable ASCII),
   *  given back in lookups, searches and receipt webhooks. The binary layout leaves such a record to msgpackr
   *  (record-codec.ts): an SMPP submit never has one, so its record encodes as before. */
  reference?: string
}

/**
 * A message's `reference` (the send API's, engine/http.ts; docs/API.md "Send API"): 1 to 64 printable ASCII characters, space (0x20) to ~ (0x7E),
 * neither first nor last a space (a search's value is trimmed). What a customer's own records use as ids (a
 * Vonage client-ref, an order number, a UUID) fits; it goes into URLs, CSV exports and logs unescaped.
 */
export const REFERENCE = /^[\x21-\x7e](?:[\x20-\x7e]{0,62}[\x21-\x7e])?$/
export const REFERENCE_RULE = 'must be 1 to 64 printable ASCII characters (space to ~), not starting or ending with a space'

/** Why `v` is no reference (the rule and what breaks it), or null when it is one. */
export function referenceProblem(v: unknown): string | null {
  if (typeof v === 'string' && REFERENCE.test(v)) return null
  if (typeof v !== 'string') return `${REFERENCE_RULE} (got ${v === null ? 'null' : typeof v})`
  const bad = /[^\x20-\x7e]/.exec(v)
  const got = bad !== null ? `${JSON.stringify(bad[0])} at ${bad.index + 1}` : v.length === 0 || v.length > 64 ? `${v.length} characters` : 'a space at an end'
  return `${REFERENCE_RULE} (got ${got})`
}

/**
 * An MO's record (engine/index.ts stores one per MO, in the commit that queues it for the account): `src` the
 * subscriber, `dests[0]` the number it texted, `systemId` the account it goes to. Its `state` is its delivery to the
 * account: ENROUTE until the account has acknowledged every part (deliver_sm_resp 0, a webhook's 2xx), then DELIVERED
 * (doneAt), UNDELIVERABLE (err: the ESME's status) when the ESME refused a part for good, EXPIRED when a part was
 * discarded unacknowledged after receipts.maxAgeMs. The store keeps it as a final message whatever that state
 * (Store.commit `mo`): never in the active index, so no dispatcher, recovery or receipt ever takes it for an MT.
 */
export interface MoFacts {
  /** the connector it came from: an upstream's id, or 'simulator' (POST /api/v1/simulator/mo) */
  connector: string
  /** the MO route that took it; absent when the request named the account (the simulator's systemId) */
  route?: string
  /** that route's keyword (the first it lists), when it matches on keywords */
  keyword?: string
  /** queue items it went to the account as: 1 for an upstream's part (each part is its own MO), the simulator's parts */
  parts: number
  /** of those, acknowledged by the account */
  acked: number
  /** deliveries that failed and wait to be tried again (no answer, a temporary refusal, a failed webhook) */
  retries: number
  /** where the last acknowledged part went */
  via?: 'bind' | 'webhook'
  /** its MO route's auto-reply (docs/ROUTING.md "Auto-replies"): the id of the message that went back */
  reply?: string
  /** or why none went: the admission's refusal code (SMSC_ERR_QUOTA_EXCEEDED, …), `held` (one a minute), `not a phone number` */
  replyNot?: string
}

export const FINAL_STATES: ReadonlySet<number> = new Set([
  MessageState.DELIVERED, MessageState.EXPIRED, MessageState.DELETED, MessageState.UNDELIVERABLE,
  MessageState.UNKNOWN, MessageState.REJECTED, MessageState.SKIPPED,
])

export const isFinal = (state: number): boolean => FINAL_STATES.has(state)

const STAT_OF_STATE: Record<number, ReceiptStat> = {
  [MessageState.SCHEDULED]: 'ENROUTE',
  [MessageState.ENROUTE]: 'ENROUTE',
  [MessageState.DELIVERED]: 'DELIVRD',
  [MessageState.EXPIRED]: 'EXPIRED',
  [MessageState.DELETED]: 'DELETED',
  [MessageState.UNDELIVERABLE]: 'UNDELIV',
  [MessageState.ACCEPTED]: 'ACCEPTD',
  [MessageState.UNKNOWN]: 'UNKNOWN',
  [MessageState.REJECTED]: 'REJECTD',
  [MessageState.SKIPPED]: 'SKIPPED',
}
export const STATE_OF_STAT: Record<string, number> = {
  ENROUTE: MessageState.ENROUTE, DELIVRD: MessageState.DELIVERED, EXPIRED: MessageState.EXPIRED,
  DELETED: MessageState.DELETED, UNDELIV: MessageState.UNDELIVERABLE, ACCEPTD: MessageState.ACCEPTED,
  UNKNOWN: MessageState.UNKNOWN, REJECTD: MessageState.REJECTED, SKIPPED: MessageState.SKIPPED,
}
export const statOf = (state: number): ReceiptStat => STAT_OF_STATE[state] ?? 'UNKNOWN'

/** Aggregate state of a multi-destination record once its destinations change. */
export function aggregateState(dests: Destination[]): number {
  let allDelivered = true
  for (const d of dests) {
    if (!isFinal(d.state)) return d.state
    if (d.state !== MessageState.DELIVERED) allDelivered = false
  }
  if (allDelivered) return MessageState.DELIVERED
  for (const d of dests) if (d.state !== MessageState.DELIVERED) return d.state
  return MessageState.UNKNOWN
}

/**
 * Whether registered_delivery asks for a receipt for this outcome (SMPP 3.4 §5.2.17;
 * 0x03 success-only is SMPP 5.0 §4.7.21). Intermediate notifications are bit 4.
 */
export function wantsReceipt(registeredDelivery: number, state: number): boolean {
  if (!isFinal(state)) return (registeredDelivery & RegisteredDelivery.INTERMEDIATE) !== 0
  switch (registeredDelivery & RegisteredDelivery.RECEIPT_MASK) {
    case RegisteredDelivery.FINAL: return true
    case RegisteredDelivery.FAILURE: return state !== MessageState.DELIVERED
    case RegisteredDelivery.SUCCESS: return state === MessageState.DELIVERED
    default: return false
  }
}

/** The text a record carries, without UDH, decoded for the receipt's `text:` field. */
export function recordText(r: MessageRecord): string {
  let payload = r.sm
  if (r.esmClass & EsmClass.UDHI) {
    const u = parseUdh(payload)
    if (u) payload = u.payload
  }
  return decodeText(payload, r.dataCoding)
}

/** The SAR TLVs of a concatenated MO part (SMPP 3.4 §5.3.2.22–24), when it came with all three. */
export interface Sar {
  /** sar_msg_ref_num: the parts of one message share it */
  ref: number
  /** sar_total_segments */
  total: number
  /** sar_segment_seqnum */
  seq: number
}

/**
 * An MO's text without its UDH (a concatenated part's header is not text), and where the part sits in its
 * message: `part` [seq, total] and the concatenation `ref` its parts share, from the UDH (IEI 0 or 8) or from
 * the SAR TLVs, which win when both are there (as in a submit, engine/session/submit.ts); both null for a
 * message in one piece. Text that does not decode is ''.
 */
export function moText(sm: Buffer, esmClass: number, dataCoding: number, sar?: Sar): { text: string; part: [number, number] | null; ref: number | null } {
  let payload = sm
  let part: [number, number] | null = null
  let ref: number | null = null
  if (esmClass & EsmClass.UDHI) {
    const u = parseUdh(sm)
    if (u) {
      payload = u.payload
      if (u.concat && u.concat.total > 1) {
        part = [u.concat.seq, u.concat.total]
        ref = u.concat.ref
      }
    }
  }
  if (sar !== undefined && sar.total > 1) {
    part = [sar.seq, sar.total]
    ref = sar.ref
  }
  let text = ''
  try { text = decodeText(payload, dataCoding) ?? '' } catch { text = '' }
  return { text, part, ref }
}

/**
 * An address as webhook events give it (docs/API.md, "Outbound HTTP"): an international number (TON 1, SMPP 3.4
 * §5.2.5) in its written E.164 form, with the '+', whether the '+' was typed or only the TON said it (the send API
 * takes a typed '+' off for the SMPP wire, where TON 1 says it); any other address as it was submitted.
 */
export function eventAddress(a: Address): string {
  return a[0] === 1 && /^[0-9]+$/.test(a[2]) ? `+${a[2]}` : a[2]
}

/**
 * The address a sender written as text stands for (the send API's `from`, the simulator's MO `from`), SMPP 3.4
 * §5.2.5: a sender id (not all digits) TON 5 alphanumeric, NPI 0; a short code (at most 8 digits, no '+') TON 3
 * network specific, NPI 0 (carriers refuse a short code typed as an international number); any other number TON 1,
 * NPI 1, without its '+' (TON 1 says it).
 */
export function senderAddress(text: string): Address {
  if (!/^\+?\d{1,20}$/.test(text)) return [5, 0, text]
  if (/^\d{1,8}$/.test(text)) return [3, 0, text]
  return [1, 1, text.replace(/^\+/, '')]
}

/** Receipt text as GSM 03.38 septets (data_coding 0); characters GSM cannot carry become '?'. */
function gsmLossy(text: string): Buffer {
  return gsm7Encode(text) ?? gsm7Encode(Array.from(text, (c) => (gsm7Septets(c) < 0 ? '?' : c)).join(''))!
}

/**
 * What one octet of a single-octet text coding becomes in the receipt's `text:` field (decoded, then
 * GSM-encoded lossily): an octet, or 0x100 | x for ESC x (an extension character). GSM's ESC gets -1:
 * its meaning depends on the next septet, so such a text takes the general path.
 */
function octetTable(decode: (b: Buffer) => string, isEsc: (b: number) => boolean): Int16Array {
  const t = new Int16Array(256)
  for (let b = 0; b < 256; b++) {
    const enc = gsmLossy(decode(Buffer.of(b)))
    t[b] = isEsc(b) ? -1 : enc.length === 1 ? enc[0] : 0x100 | enc[1]
  }
  return t
}
// GSM decoding ignores the high bit of an octet, so 0x9B is an ESC too.
const GSM_TEXT = octetTable((b) => decodeText(b, 0), (b) => (b & 0x7f) === 0x1b)
const LATIN1_TEXT = octetTable((b) => b.toString('latin1'), () => false)

/** Receipt `text:` octets (the first 20 characters of the message, GSM 03.38) written at `off` of `out`; returns the end. */
function writeReceiptText(r: MessageRecord, out: Buffer, off: number): number {
  let payload = r.sm
  if (r.esmClass & EsmClass.UDHI) {
    const u = parseUdh(payload)
    if (u) payload = u.payload
  }
  const coding = codingOfDcs(r.dataCoding)
  const table = coding === 'gsm' ? GSM_TEXT : coding === 'ia5' || coding === 'latin1' ? LATIN1_TEXT : null
  if (table !== null) {
    const n = Math.min(payload.length, 20)
    let o = off
    for (let i = 0; i < n; i++) {
      const v = table[payload[i]]
      if (v < 0) return off + gsmLossy(first20(recordText(r))).copy(out, off)
      if (v > 0xff) { out[o++] = 0x1b; out[o++] = v & 0x7f } else out[o++] = v
    }
    return o
  }
  return off + gsmLossy(first20(recordText(r))).copy(out, off)
}

/** YYMMDDhhmm of the last two minutes formatted (receipts of one batch share their dates). */
const dateCache: { minute: number; digits: string }[] = [{ minute: -1, digits: '' }, { minute: -1, digits: '' }]
function receiptDate(ms: number): string {
  const minute = Math.floor(ms / 60_000)
  for (const c of dateCache) if (c.minute === minute) return c.digits
  const c = dateCache[1]
  dateCache[1] = dateCache[0]
  dateCache[0] = c
  c.minute = minute
  c.digits = formatReceiptDate(ms)
  return c.digits
}

/** Buffer#write(s, o, 'latin1') for a short string (each UTF-16 unit's low octet); returns the end. A loop beats
 *  the native call for a few octets. */
function putLatin1(buf: Buffer, o: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[o++] = s.charCodeAt(i) & 0xff
  return o
}
/** Appendix B's zero-padded three digits (more when the number needs them); returns the end. */
function put3(buf: Buffer, o: number, n: number): number {
  n = Math.max(0, Math.trunc(n))
  if (n >= 1000) return putLatin1(buf, o, String(n))
  buf[o] = 48 + Math.floor(n / 100); buf[o + 1] = 48 + (Math.floor(n / 10) % 10); buf[o + 2] = 48 + (n % 10)
  return o + 3
}

const MAX_ADDR = 20 // deliver_sm source_addr / destination_addr: 21 octets with the NUL (SMPP 3.4 §4.6.1)
const RECEIPT_MAX_TEXT = 40 // 20 characters, each at most two septets

/**
 * The deliver_sm frame of a receipt for destination `d` of record `r`, written straight into one buffer
 * (the general encoder's output byte for byte, test/message.test.ts): SMPP 3.4 Appendix B text in
 * data_coding 0, esm_class 0x04 (0x20 for an intermediate notification), then the TLVs
 * receipted_message_id, message_state, network_error_code (§5.3.2.31: GSM + 2-octet code) and
 * user_message_reference when the submit had one. sequence_number 0 (see deliverFrame).
 */
function receiptFrame(r: MessageRecord, d: Destination, now: number): Buffer {
  const final = isFinal(d.state)
  const from = d.addr[2]
  const to = r.src[2]
  if (from.length > MAX_ADDR || to.length > MAX_ADDR) {
    throw smscError('SMSC_ERR_FIELD_INVALID', `cannot encode a receipt to or from an address longer than ${MAX_ADDR} octets`)
  }
  // Appendix B: sub = short messages originally submitted, dlvrd = delivered. Everything before
  // `text:` is digits, letters, ':' and ' ', the same octets in ASCII and GSM 03.38.
  // The head is protocol/dlr.ts receiptHead()'s text, written octet by octet (no string is built).
  const submitDate = receiptDate(r.submitAt)
  const doneDate = receiptDate(final ? d.doneAt : now)
  const stat = statOf(d.state)
  const idLen = r.id.length
  const umr = r.umr !== undefined
  const headMax = 3 + idLen + 5 + 3 + 7 + 3 + 13 + submitDate.length + 11 + doneDate.length + 6 + stat.length + 5 + 16 + 6
  const max = 16 + 1 + (3 + from.length) + (3 + to.length) + 10 + headMax + RECEIPT_MAX_TEXT +
    (4 + idLen + 1) + 5 + 7 + (umr ? 6 : 0)
  const buf = Buffer.allocUnsafe(max)
  let o = 16
  buf[o++] = 0 // service_type ''
  buf[o++] = d.addr[0]; buf[o++] = d.addr[1]; o = putLatin1(buf, o, from); buf[o++] = 0
  buf[o++] = r.src[0]; buf[o++] = r.src[1]; o = putLatin1(buf, o, to); buf[o++] = 0
  buf[o++] = final ? EsmClass.MC_DELIVERY_RECEIPT : EsmClass.INTERMEDIATE_NOTIFICATION
  // protocol_id, priority_flag, schedule_delivery_time '', validity_period '', registered_delivery, replace_if_present_flag, data_coding 0, sm_default_msg_id
  buf.fill(0, o, o + 8); o += 8
  const smLenAt = o++
  o = putLatin1(buf, o, 'id:'); o = putLatin1(buf, o, r.id)
  o = putLatin1(buf, o, ' sub:'); o = put3(buf, o, 1)
  o = putLatin1(buf, o, ' dlvrd:'); o = put3(buf, o, d.state === MessageState.DELIVERED ? 1 : 0)
  o = putLatin1(buf, o, ' submit date:'); o = putLatin1(buf, o, submitDate)
  o = putLatin1(buf, o, ' done date:'); o = putLatin1(buf, o, doneDate)
  o = putLatin1(buf, o, ' stat:'); o = putLatin1(buf, o, stat)
  o = putLatin1(buf, o, ' err:'); o = put3(buf, o, d.err)
  o = putLatin1(buf, o, ' text:')
  o = writeReceiptText(r, buf, o)
  buf[smLenAt] = o - smLenAt - 1
  buf.writeUInt16BE(0x001e, o); buf.writeUInt16BE(idLen + 1, o + 2); o += 4 // receipted_message_id
  o = putLatin1(buf, o, r.id); buf[o++] = 0
  buf.writeUInt16BE(0x0427, o); buf.writeUInt16BE(1, o + 2) // message_state
  buf[o + 4] = d.state === MessageState.SCHEDULED ? MessageState.ENROUTE : d.state
  o += 5
  buf.writeUInt16BE(0x0423, o); buf.writeUInt16BE(3, o + 2) // network_error_code
  buf[o + 4] = 3; buf[o + 5] = (d.err >> 8) & 0xff; buf[o + 6] = d.err & 0xff
  o += 7
  if (umr) { buf.writeUInt16BE(0x0204, o); buf.writeUInt16BE(2, o + 2); buf.writeUInt16BE(r.umr as number, o + 4); o += 6 }
  buf.writeUInt32BE(o, 0)
  buf.writeUInt32BE(CommandId.deliver_sm, 4)
  buf.writeUInt32BE(0, 8)
  buf.writeUInt32BE(0, 12)
  return buf.subarray(0, o)
}

/** The deliver_sm item for a receipt of destination `d` of record `r` (see receiptFrame). */
export function receiptItem(r: MessageRecord, d: Destination, now: number): DeliveryItem {
  return { systemId: r.systemId, kind: 'receipt', createdAt: now, attempts: 0, messageId: r.id, submitAt: r.submitAt, stat: statOf(d.state), frame: receiptFrame(r, d, now) }
}
