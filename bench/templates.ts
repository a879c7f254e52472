/**
 * Precomputed PDU bytes for the benchmark: submit_sm templates per message kind (the load generator
 * copies one and patches sequence_number, and the concat reference of long messages), the canned
 * receipt deliver_sm of the floor server, and sample frames for the micro-benchmarks. Everything is
 * built once with the engine's own codec and text code, so the bytes are what the engine itself
 * would produce, and nothing on the hot path encodes.
 */
import { encode, type Pdu } from '../engine/protocol/codec'
import { EsmClass, HEADER_LENGTH } from '../engine/protocol/constants'
import { formatReceipt } from '../engine/protocol/dlr'
import { encodeText } from '../engine/protocol/text/charsets'
import { splitMessage } from '../engine/protocol/text/split'

export const MESSAGE_KINDS = ['gsm', 'ucs2', 'long-gsm', 'long-ucs2'] as const
export type MessageKind = (typeof MESSAGE_KINDS)[number]
export type MessageMix = Partial<Record<MessageKind, number>>

export interface SubmitTemplate {
  kind: MessageKind
  /** A complete submit_sm frame; sequence_number (offset 12) is patched per send. */
  buf: Buffer
  /** Offset of the 8-bit concat reference in the UDH, or -1 for a single-part message. */
  refOffset: number
  /** 0 single part; 1..total for the parts of a long message. */
  part: number
}

const SOURCE = 'BENCH'
const DESTINATION = '4915112345678'
const GSM_TEXT = 'Benchmark message in GSM 7-bit: Hello @ £ $ ¥ è é ù ì ò Ç Ø ø Å å Δ _ Φ Γ Λ Ω'
const UCS2_TEXT = 'Benchmark UCS2: Привет, мир! 你好世界 € 😀'
// 3 parts of 153 septets (GSM) and 3 parts of 67 code units (UCS2), 8-bit reference.
const LONG_GSM_TEXT = 'The quick brown fox jumps over the lazy dog. '.repeat(9).slice(0, 400)
const LONG_UCS2_TEXT = 'Быстрая коричневая лиса прыгает через ленивую собаку. 🦊 '.repeat(4).slice(0, 190)

function submitPdu(sm: Buffer, dataCoding: number, esmClass: number, registeredDelivery: number): Pdu {
  return {
    command: 'submit_sm', command_status: 0, sequence_number: 1,
    service_type: '', source_addr_ton: 5, source_addr_npi: 0, source_addr: SOURCE,
    dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: DESTINATION,
    esm_class: esmClass, protocol_id: 0, priority_flag: 0, schedule_delivery_time: '', validity_period: '',
    registered_delivery: registeredDelivery, replace_if_present_flag: 0, data_coding: dataCoding, sm_default_msg_id: 0,
    short_message: sm,
  }
}

function must<T>(v: T | null, what: string): T {
  if (v === null) throw new Error(`bench templates: cannot encode ${what}`)
  return v
}

/** The templates of one message (1 for short kinds, 3 for long ones). */
export function submitTemplates(kind: MessageKind, registeredDelivery: number): SubmitTemplate[] {
  switch (kind) {
    case 'gsm':
      return [{ kind, buf: encode(submitPdu(must(encodeText(GSM_TEXT, 'gsm'), 'gsm text'), 0x00, 0, registeredDelivery)), refOffset: -1, part: 0 }]
    case 'ucs2':
      return [{ kind, buf: encode(submitPdu(must(encodeText(UCS2_TEXT, 'ucs2'), 'ucs2 text'), 0x08, 0, registeredDelivery)), refOffset: -1, part: 0 }]
    case 'long-gsm':
    case 'long-ucs2': {
      const coding = kind === 'long-gsm' ? 'gsm' : 'ucs2'
      const split = must(splitMessage(kind === 'long-gsm' ? LONG_GSM_TEXT : LONG_UCS2_TEXT, coding, { refBits: 8, ref: 0 }), kind)
      if (split.parts.length !== 3) throw new Error(`bench templates: ${kind} text gives ${split.parts.length} parts, not 3`)
      return split.parts.map((sm, i) => {
        const buf = encode(submitPdu(sm, coding === 'gsm' ? 0x00 : 0x08, EsmClass.UDHI, registeredDelivery))
        // No TLVs: short_message is the tail of the frame. UDH: 05 00 03 <ref> <total> <seq> (3GPP TS 23.040 §9.2.3.24.1)
        const sm0 = buf.length - sm.length
        if (buf[sm0] !== 0x05 || buf[sm0 + 1] !== 0x00 || buf[sm0 + 2] !== 0x03) throw new Error('bench templates: unexpected UDH layout')
        return { kind, buf, refOffset: sm0 + 3, part: i + 1 }
      })
    }
  }
}

/**
 * The per-bind send cycle: PDU templates in an order that realises `mix` (weights per message
 * kind, per message, not per PDU) over a cycle of at most 100 messages; the parts of a long
 * message stay consecutive.
 */
export function submitCycle(mix: MessageMix, registeredDelivery: number): SubmitTemplate[] {
  const kinds = MESSAGE_KINDS.filter((k) => (mix[k] ?? 0) > 0)
  if (kinds.length === 0) throw new Error('bench: the message mix is empty')
  const total = kinds.reduce((s, k) => s + (mix[k] as number), 0)
  const slots = 100
  const counts = kinds.map((k) => Math.max(1, Math.round(((mix[k] as number) / total) * slots)))
  // Interleave: at each step take the kind furthest behind its share (smooth weighted round robin).
  const per = new Map(kinds.map((k) => [k, submitTemplates(k, registeredDelivery)]))
  const n = counts.reduce((a, b) => a + b, 0)
  const credit = kinds.map(() => 0)
  const out: SubmitTemplate[] = []
  for (let i = 0; i < n; i++) {
    let best = 0
    for (let j = 0; j < kinds.length; j++) {
      credit[j] += counts[j]
      if (credit[j] > credit[best]) best = j
    }
    credit[best] -= n
    out.push(...(per.get(kinds[best]) as SubmitTemplate[]))
  }
  return out
}

/** "gsm=70,ucs2=20,long-ucs2=10" or "gsm" → a mix. */
export function parseMix(s: string): MessageMix {
  const mix: MessageMix = {}
  for (const part of s.split(',')) {
    const [name, weight] = part.split('=')
    if (!(MESSAGE_KINDS as readonly string[]).includes(name)) throw new Error(`unknown message kind ${JSON.stringify(name)} (${MESSAGE_KINDS.join(', ')})`)
    const w = weight === undefined ? 1 : Number(weight)
    if (!Number.isFinite(w) || w < 0) throw new Error(`bad weight for ${name}: ${JSON.stringify(weight)}`)
    mix[name as MessageKind] = w
  }
  return mix
}

export function formatMix(mix: MessageMix): string {
  return Object.entries(mix).filter(([, w]) => (w ?? 0) > 0).map(([k, w]) => `${k}=${w}`).join(',')
}

// ---------------------------------------------------------------- receipts

export const RECEIPT_ID_DIGITS = 10

export interface ReceiptTemplate {
  /** A complete deliver_sm receipt frame for id 0000000000. */
  buf: Buffer
  /** Where the 10 id digits sit in the text (`id:`) and in receipted_message_id. */
  textIdOffset: number
  tlvIdOffset: number
}

/** The receipt deliver_sm a peer sends back (SMPP 3.4 §4.6.1, Appendix B), id to be patched in. */
export function receiptTemplate(): ReceiptTemplate {
  const zero = '0'.repeat(RECEIPT_ID_DIGITS)
  const at = Date.UTC(2025, 0, 1, 12, 0)
  const text = formatReceipt({ id: zero, sub: 1, dlvrd: 1, submitDate: at, doneDate: at, stat: 'DELIVRD', err: 0, text: '' })
  const buf = encode({
    command: 'deliver_sm', command_status: 0, sequence_number: 1,
    service_type: '', source_addr_ton: 1, source_addr_npi: 1, source_addr: DESTINATION,
    dest_addr_ton: 5, dest_addr_npi: 0, destination_addr: SOURCE,
    esm_class: EsmClass.MC_DELIVERY_RECEIPT, protocol_id: 0, priority_flag: 0, schedule_delivery_time: '', validity_period: '',
    registered_delivery: 0, replace_if_present_flag: 0, data_coding: 0, sm_default_msg_id: 0,
    short_message: Buffer.from(text, 'latin1'),
    receipted_message_id: zero, // SMPP 3.4 §5.3.2.12
    message_state: 2, // DELIVERED, SMPP 3.4 §5.2.28
  })
  const textIdOffset = buf.indexOf(`id:${zero}`, HEADER_LENGTH, 'latin1') + 3
  const tag = Buffer.from([0x00, 0x1e, 0x00, RECEIPT_ID_DIGITS + 1])
  const tlvAt = buf.indexOf(tag, textIdOffset)
  if (textIdOffset < 3 || tlvAt < 0) throw new Error('bench templates: receipt layout not found')
  return { buf, textIdOffset, tlvIdOffset: tlvAt + 4 }
}

/** Writes `n` as RECEIPT_ID_DIGITS zero-padded decimal digits at `off`. */
export function writeIdDigits(buf: Buffer, off: number, n: number): void {
  for (let i = RECEIPT_ID_DIGITS - 1; i >= 0; i--) {
    buf[off + i] = 0x30 + (n % 10)
    n = Math.floor(n / 10)
  }
}
