// Segmentation of long messages into concatenated short_messages (3GPP TS 23.040 §9.2.3.24.1 UDH concat).
// Owns the per-coding size limits and the rule that a cut never falls inside a GSM ESC pair or a UTF-16
// surrogate pair. Pure; the only state is the rolling default concat reference.

import { encodeText } from './charsets'
import { buildConcatUdh } from './udh'

export type TextCoding = 'gsm' | 'ucs2' | 'latin1' | 'ia5'
export interface SplitOptions { refBits?: 8 | 16; ref?: number }
export interface SplitResult { parts: Buffer[]; udhi: boolean; coding: TextCoding }
export interface PartCount { parts: number; coding: TextCoding; unitsPerPart: number; units: number }

const ESC = 0x1b
const MAX_PARTS = 255 // total is one octet in the concat IE
const SM_OCTETS = 140 // TP-UD is 140 octets on the air interface

// Payload octets of short_message per part. GSM is unpacked (one septet per octet), so octets = septets:
// 160 septets single; the 6-octet (8-bit ref) UDH costs 7 septets -> 153, the 7-octet (16-bit) one 8 -> 152.
// UCS2 keeps whole code units: 140 -> 70 units; 134 -> 67; 133 rounds down to 132 -> 66.
const SINGLE: Record<TextCoding, number> = { gsm: 160, ucs2: 140, latin1: 140, ia5: 140 }
const CONCAT8: Record<TextCoding, number> = { gsm: 153, ucs2: 134, latin1: 134, ia5: 134 }
const CONCAT16: Record<TextCoding, number> = { gsm: 152, ucs2: 132, latin1: 133, ia5: 133 }

let nextRef = (Math.random() * 0x10000) | 0
function takeRef(): number { nextRef = (nextRef + 1) & 0xffff; return nextRef }

/** Segment ends for `buf`, each at most `max` octets, never inside an ESC pair (gsm) or a surrogate pair (ucs2). */
function cuts(buf: Buffer, coding: TextCoding, max: number): number[] {
  const ends: number[] = []
  let pos = 0
  while (pos < buf.length) {
    let end = Math.min(pos + max, buf.length)
    if (end < buf.length) {
      if (coding === 'gsm') {
        // Walk the segment pair-aware: an ESC and its follower are one character.
        let i = pos
        while (i < end) {
          const w = buf[i] === ESC ? 2 : 1
          if (i + w > end) break
          i += w
        }
        end = i
      } else if (coding === 'ucs2') {
        const hi = buf[end - 2]
        if (hi >= 0xd8 && hi <= 0xdb) end -= 2 // high surrogate last: move it to the next part
      }
    }
    ends.push(end)
    pos = end
  }
  return ends
}

function unitsOf(buf: Buffer, coding: TextCoding): number {
  return coding === 'ucs2' ? buf.length >> 1 : buf.length
}

/**
 * Split `text` into complete short_message values (UDH + payload). One part: no UDH, udhi false.
 * More: each part starts with a concat UDH and udhi is true (set esm_class 0x40).
 * null if `text` is not representable in `coding` or needs more than 255 parts.
 * Without opts.ref a rolling module-wide reference is used (masked to 8 or 16 bits).
 */
export function splitMessage(text: string, coding: TextCoding, opts: SplitOptions = {}): SplitResult | null {
  const buf = encodeText(text, coding)
  if (!buf) return null
  if (buf.length <= SINGLE[coding]) return { parts: [buf], udhi: false, coding }
  const bits = opts.refBits ?? 8
  const ends = cuts(buf, coding, bits === 16 ? CONCAT16[coding] : CONCAT8[coding])
  if (ends.length > MAX_PARTS) return null
  const ref = (opts.ref ?? takeRef()) & (bits === 16 ? 0xffff : 0xff)
  const parts: Buffer[] = []
  let pos = 0
  for (let k = 0; k < ends.length; k++) {
    const udh = buildConcatUdh({ ref, total: ends.length, seq: k + 1, bits })
    parts.push(Buffer.concat([udh, buf.subarray(pos, ends[k])], udh.length + ends[k] - pos))
    pos = ends[k]
  }
  return { parts, udhi: true, coding }
}

/**
 * Counter for UIs ("2 parts, UCS2"). units: septets (gsm), UTF-16 code units (ucs2), octets (latin1/ia5).
 * Without a coding, picks gsm when representable else ucs2. With a coding, null if `text` does not fit it.
 */
export function countParts(text: string): PartCount
export function countParts(text: string, coding: TextCoding, opts?: { refBits?: 8 | 16 }): PartCount | null
export function countParts(text: string, coding?: TextCoding, opts: { refBits?: 8 | 16 } = {}): PartCount | null {
  let c = coding
  let buf = c ? encodeText(text, c) : encodeText(text, (c = 'gsm'))
  if (!buf) {
    if (coding) return null
    buf = encodeText(text, (c = 'ucs2'))
    if (!buf) buf = Buffer.from(text, 'utf16le') // lone surrogate: count its code units anyway
  }
  const units = unitsOf(buf, c)
  const unitDiv = c === 'ucs2' ? 2 : 1
  if (buf.length <= SINGLE[c]) return { parts: 1, coding: c, unitsPerPart: SINGLE[c] / unitDiv, units }
  const per = opts.refBits === 16 ? CONCAT16[c] : CONCAT8[c]
  return { parts: cuts(buf, c, per).length, coding: c, unitsPerPart: per / unitDiv, units }
}

/**
 * Split opaque octets (binary data_coding, or a message_payload to be sent as short_message parts).
 * Up to 140 octets: one part without UDH. More: parts of 134 (8-bit ref) / 133 (16-bit ref) octets, each with a
 * concat UDH, so UDHI must be set iff the result has more than one part. [] if more than 255 parts are needed.
 */
export function splitBinary(payload: Buffer, opts: SplitOptions = {}): Buffer[] {
  if (payload.length <= SM_OCTETS) return [payload]
  const bits = opts.refBits ?? 8
  const per = bits === 16 ? SM_OCTETS - 7 : SM_OCTETS - 6
  const total = Math.ceil(payload.length / per)
  if (total > MAX_PARTS) return []
  const ref = (opts.ref ?? takeRef()) & (bits === 16 ? 0xffff : 0xff)
  const parts: Buffer[] = []
  for (let k = 0; k < total; k++) {
    const udh = buildConcatUdh({ ref, total, seq: k + 1, bits })
    const chunk = payload.subarray(k * per, Math.min((k + 1) * per, payload.length))
    parts.push(Buffer.concat([udh, chunk], udh.length + chunk.length))
  }
  return parts
}
