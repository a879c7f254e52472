/**
 * The message record: what the engine stores for every accepted submit (submit_sm, data_sm, each
 * submit_multi), and the pure functions that turn records into receipts and MO into deliver_sm
 * items. One record may have several destinations (submit_multi); each destination has its own
 * outcome and its own receipt, all carrying the record's message id.
 */
import { EsmClass, MessageState, RegisteredDelivery } from './protocol/constants'
import { formatReceipt, type ReceiptStat } from './protocol/dlr'
import { decodeText } from './protocol/text/charsets'
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

/** Receipt text as GSM 03.38 septets (data_coding 0); characters GSM cannot carry become '?'. */
function gsmLossy(text: string): Buffer {
  return gsm7Encode(text) ?? gsm7Encode(Array.from(text, (c) => (gsm7Septets(c) < 0 ? '?' : c)).join(''))!
}

/**
 * The deliver_sm item for a receipt of destination `d` of record `r` (SMPP 3.4 Appendix B text,
 * esm_class 0x04, or 0x20 for an intermediate notification; TLVs receipted_message_id,
 * message_state, network_error_code; user_message_reference echoed).
 */
export function receiptItem(r: MessageRecord, d: Destination, now: number): DeliveryItem {
  const final = isFinal(d.state)
  const text = formatReceipt({
    id: r.id,
    // SMPP 3.4 Appendix B: sub = short messages originally submitted, dlvrd = delivered
    sub: 1,
    dlvrd: d.state === MessageState.DELIVERED ? 1 : 0,
    submitDate: r.submitAt,
    doneDate: final ? d.doneAt : now,
    stat: statOf(d.state),
    err: d.err,
    text: recordText(r).slice(0, 20),
  })
  const pdu: Record<string, unknown> = {
    service_type: '',
    source_addr_ton: d.addr[0], source_addr_npi: d.addr[1], source_addr: d.addr[2],
    dest_addr_ton: r.src[0], dest_addr_npi: r.src[1], destination_addr: r.src[2],
    esm_class: final ? EsmClass.MC_DELIVERY_RECEIPT : EsmClass.INTERMEDIATE_NOTIFICATION,
    data_coding: 0,
    short_message: gsmLossy(text),
    receipted_message_id: r.id,
    message_state: d.state === MessageState.SCHEDULED ? MessageState.ENROUTE : d.state,
    // SMPP 3.4 §5.3.2.31: network type 3 (GSM) + 2-octet error code
    network_error_code: Buffer.from([3, (d.err >> 8) & 0xff, d.err & 0xff]),
  }
  if (r.umr !== undefined) pdu.user_message_reference = r.umr
  return { systemId: r.systemId, kind: 'receipt', createdAt: now, attempts: 0, messageId: r.id, submitAt: r.submitAt, stat: statOf(d.state), frame: deliverFrame(pdu) }
}
