/**
 * Submit validation: turns a decoded submit_sm, data_sm or submit_multi into a MessageRecord, or
 * the precise command_status that refuses it. Pure and synchronous (no ids, no I/O) so the
 * session runs it inline on a whole batch, and tests call it directly. Every check cites the
 * spec field it enforces.
 */
import { CommandStatus as S, EsmClass, MessageState } from '../protocol/constants'
import type { Pdu } from '../protocol/codec'
import type { DestAddress, UnsuccessSme } from '../protocol/fields'
import { codingOfDcs } from '../protocol/text/charsets'
import { parseUdh } from '../protocol/text/udh'
import { parseSmppTime } from '../protocol/time'
import type { Address, Destination, MessageRecord } from '../message'

export interface SubmitLimits {
  /** Validity when the ESME gives none (ms). */
  defaultValidityMs: number
  /** Longest validity accepted (ms). */
  maxValidityMs: number
  /** The bind speaks SMPP 5.0 (interface_version 0x50): 5.0 ranges apply. */
  smpp5?: boolean
}

export const DEFAULT_LIMITS: SubmitLimits = { defaultValidityMs: 48 * 3_600_000, maxValidityMs: 7 * 24 * 3_600_000 }

/**
 * A record without its id: the session allocates ids for a whole batch at once. (Not
 * `Omit<MessageRecord, 'id'>`: MessageRecord inherits an index signature from StoredMessage, and
 * Omit over it keeps only that signature, typing every field as unknown.)
 */
export type Draft = { [K in keyof MessageRecord as string extends K ? never : K extends 'id' ? never : K]: MessageRecord[K] }

export type SubmitResult =
  | { status: 0; draft: Draft; unsuccess?: UnsuccessSme[] }
  | { status: number; unsuccess?: UnsuccessSme[] }

// SMPP 3.4 §5.2.5 addr_ton 0..6; §5.2.6 addr_npi values
const NPI = new Set([0, 1, 3, 4, 6, 8, 9, 10, 14, 18])
const validTon = (ton: number) => ton <= 6
const validNpi = (npi: number) => NPI.has(npi)

/** A destination a handset has: digits (service codes with * and #), an international one with a leading '+' (which some ESMEs send). */
const DIALLABLE = /^\+?[0-9*#]+$/
const TON_ALPHANUMERIC = 5
/** NPIs whose addresses are not numbers: private (9), Internet (14), WAP client id (18). */
const NPI_NOT_NUMBERS = new Set([9, 14, 18])

function addressStatus(ton: number, npi: number, addr: string, src: boolean): number {
  if (!validTon(ton)) return src ? S.ESME_RINVSRCTON : S.ESME_RINVDSTTON
  if (!validNpi(npi)) return src ? S.ESME_RINVSRCNPI : S.ESME_RINVDSTNPI
  if (!src && addr.length === 0) return S.ESME_RINVDSTADR
  // SMPP 3.4 §5.2.9: a destination is an MS address. Anything but digits (alphanumeric TON 5, and the private,
  // Internet and WAP NPIs, aside) reaches no handset: refused here, not routed, charged and failed by the carrier.
  if (!src && ton !== TON_ALPHANUMERIC && !NPI_NOT_NUMBERS.has(npi) && !DIALLABLE.test(addr)) return S.ESME_RINVDSTADR
  return 0
}

/** Whole-record checks shared by submit_sm, data_sm and submit_multi. */
type Common = { status: number; scheduleAt?: number; expireAt?: number; sm?: Buffer; part?: [number, number]; ref?: number }

function common(pdu: Pdu, now: number, limits: SubmitLimits): Common {
  const esm = (pdu.esm_class ?? 0) as number
  // SMPP 3.4 §5.2.12 esm_class: an ESME may submit only default message type, or an ESME ack (0x08/0x10)
  const type = esm & EsmClass.TYPE_MASK
  if (type !== 0 && type !== 0x08 && type !== 0x10) return { status: S.ESME_RINVESMCLASS }
  // SMPP 3.4 §5.2.14 priority_flag 0..3 (SMPP 5.0 §4.7.19 allows 4)
  if ((pdu.priority_flag ?? 0) > (limits.smpp5 ? 4 : 3)) return { status: S.ESME_RINVPRTFLG }
  // SMPP 3.4 §5.2.17 registered_delivery: bits 5..7 reserved
  if (((pdu.registered_delivery ?? 0) & 0xe0) !== 0) return { status: S.ESME_RINVREGDLVFLG }
  // SMPP 3.4 §5.2.18 replace_if_present_flag 0 or 1
  if ((pdu.replace_if_present_flag ?? 0) > 1) return { status: S.ESME_RINVREPFLAG }
  // SMPP 3.4 §5.2.19 data_coding; SMPP 5.0 ESME_RINVDCS for a value we cannot carry
  if (codingOfDcs(pdu.data_coding ?? 0) === null) return { status: S.ESME_RINVDCS }

  // SMPP 3.4 §7.1 times
  let scheduleAt = 0
  if (pdu.schedule_delivery_time) {
    const t = parseSmppTime(pdu.schedule_delivery_time, now)
    if (!t.ok) return { status: S.ESME_RINVSCHED }
    scheduleAt = t.ms ?? 0
    if (scheduleAt > now + limits.maxValidityMs) return { status: S.ESME_RINVSCHED }
  }
  const base = Math.max(now, scheduleAt)
  let expireAt = base + limits.defaultValidityMs
  if (pdu.validity_period) {
    const t = parseSmppTime(pdu.validity_period, now)
    if (!t.ok || t.ms === null) return { status: S.ESME_RINVEXPIRY }
    if (t.ms <= now || t.ms <= scheduleAt) return { status: S.ESME_RINVEXPIRY }
    expireAt = Math.min(t.ms, base + limits.maxValidityMs)
  }

  // SMPP 3.4 §5.3.2.32 message_payload: sm_length must be 0 when it is present
  const short = pdu.short_message as Buffer | undefined
  const payload = pdu.message_payload as Buffer | undefined
  if (payload !== undefined && short !== undefined && short.length > 0) return { status: S.ESME_RINVMSGLEN }
  const sm = payload ?? short ?? Buffer.alloc(0)

  // SMPP 3.4 §5.2.12 UDHI: the payload must start with a well-formed UDH
  let part: [number, number] | undefined
  let ref: number | undefined
  if (esm & EsmClass.UDHI) {
    const udh = parseUdh(sm)
    if (udh === null) return { status: S.ESME_RINVESMCLASS }
    if (udh.concat) { part = [udh.concat.seq, udh.concat.total]; ref = udh.concat.ref }
  }

  // SMPP 3.4 §5.3.2.22-24 SAR TLVs: all three or none; 1 <= seqnum <= total
  const sar = [pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum]
  const present = sar.filter((v) => v !== undefined).length
  if (present !== 0 && present !== 3) return { status: S.ESME_RMISSINGTLV }
  if (present === 3 && (pdu.sar_total_segments < 1 || pdu.sar_segment_seqnum < 1 || pdu.sar_segment_seqnum > pdu.sar_total_segments)) {
    return { status: S.ESME_RINVTLVVAL }
  }
  if (present === 3) { part = [pdu.sar_segment_seqnum, pdu.sar_total_segments]; ref = pdu.sar_msg_ref_num }
  // SMPP 3.4 §5.3.2.29 set_dpf: 0 or 1
  if (pdu.set_dpf !== undefined && pdu.set_dpf > 1) return { status: S.ESME_RINVTLVVAL }
  // Receipt `sub:` counts short messages originally submitted (SMPP 3.4 Appendix B): one per submit.
  return { status: 0, scheduleAt, expireAt, sm, part, ref }
}

function draftOf(pdu: Pdu, systemId: string, now: number, src: Address, dests: Destination[], c: Common): Draft {
  const draft: Draft = {
    systemId,
    state: c.scheduleAt && c.scheduleAt > now ? MessageState.SCHEDULED : MessageState.ENROUTE,
    err: 0,
    submitAt: now,
    doneAt: 0,
    src,
    dests,
    serviceType: pdu.service_type ?? '',
    esmClass: pdu.esm_class ?? 0,
    protocolId: pdu.protocol_id ?? 0,
    priority: pdu.priority_flag ?? 0,
    dataCoding: pdu.data_coding ?? 0,
    registeredDelivery: pdu.registered_delivery ?? 0,
    sm: Buffer.from(c.sm!), // own the bytes: the frame's memory belongs to the socket chunk
    scheduleAt: c.scheduleAt ?? 0,
    expireAt: c.expireAt!,
  }
  if (pdu.user_message_reference !== undefined) draft.umr = pdu.user_message_reference
  // SMPP 3.4 §5.2.18: replace a pending message with the same source, destination and service_type
  if (pdu.replace_if_present_flag === 1) draft.replaceIfPresent = true
  // SMPP 3.4 §5.3.2.29 set_dpf 1 (data_sm; SMPP 5.0 also on submit_sm): alert_notification when an
  // absent subscriber becomes available (actors/delivery.ts)
  if (pdu.set_dpf === 1) draft.setDpf = true
  if (c.part) draft.part = c.part
  if (c.part && c.ref !== undefined) draft.ref = c.ref
  return draft
}

const dest = (ton: number, npi: number, addr: string): Destination => ({ addr: [ton, npi, addr], state: MessageState.ENROUTE, err: 0, doneAt: 0 })

/** submit_sm (SMPP 3.4 §4.4.1) and data_sm (§4.7.1). */
export function validateSubmit(pdu: Pdu, systemId: string, now: number, limits: SubmitLimits = DEFAULT_LIMITS): SubmitResult {
  let st = addressStatus(pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr, true)
  if (st) return { status: st }
  st = addressStatus(pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr, false)
  if (st) return { status: st }
  const c = common(pdu, now, limits)
  if (c.status) return { status: c.status }
  const d = dest(pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr)
  const draft = draftOf(pdu, systemId, now, [pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr], [d], c)
  d.state = draft.state as number
  return { status: 0, draft }
}

/**
 * submit_multi (SMPP 3.4 §4.5.1): one record, one message id, one receipt per destination.
 * Destinations that fail their checks are listed in unsuccess_sme with their status; distribution
 * lists are not provisioned here, so a dl_name answers ESME_RINVDLNAME.
 */
export function validateSubmitMulti(pdu: Pdu, systemId: string, now: number, limits: SubmitLimits = DEFAULT_LIMITS): SubmitResult {
  const st = addressStatus(pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr, true)
  if (st) return { status: st }
  const c = common(pdu, now, limits)
  if (c.status) return { status: c.status }
  const dests: Destination[] = []
  const unsuccess: UnsuccessSme[] = []
  for (const d of pdu.dest_addresses as DestAddress[]) {
    if (d.dest_flag === 2) {
      unsuccess.push({ dest_addr_ton: 0, dest_addr_npi: 0, destination_addr: d.dl_name, error_status_code: S.ESME_RINVDLNAME })
      continue
    }
    const s = addressStatus(d.dest_addr_ton, d.dest_addr_npi, d.destination_addr, false)
    if (s) unsuccess.push({ dest_addr_ton: d.dest_addr_ton, dest_addr_npi: d.dest_addr_npi, destination_addr: d.destination_addr, error_status_code: s })
    else dests.push(dest(d.dest_addr_ton, d.dest_addr_npi, d.destination_addr))
  }
  if (dests.length === 0) return { status: S.ESME_RSUBMITFAIL, unsuccess }
  const draft = draftOf(pdu, systemId, now, [pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr], dests, c)
  for (const d of dests) d.state = draft.state as number
  return { status: 0, draft, unsuccess }
}
