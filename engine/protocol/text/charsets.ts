// data_coding handling (SMPP 3.4 §5.2.19, with the GSM 03.38 / TS 23.038 §4 coding groups above 0x0F).
// Owns the mapping DCS -> Coding and the text <-> octets transforms per Coding. Pure, never throws:
// an unusable DCS is reported as null so the session can answer ESME_RINVDCS.

import { gsm7Decode, gsm7Encode, gsm7Septets } from './gsm7'

/**
 * 'gsm'    GSM 03.38 default alphabet, unpacked septets (DCS 0: "SMSC default alphabet")
 * 'ia5'    IA5 / ASCII (DCS 1)
 * 'latin1' ISO-8859-1 (DCS 3)
 * 'ucs2'   UTF-16BE, surrogate pairs allowed (DCS 8)
 * 'binary' opaque octets (DCS 2, 4, 8-bit data groups, and the national charsets we do not transcode)
 */
export type Coding = 'gsm' | 'ia5' | 'latin1' | 'ucs2' | 'binary'

/**
 * SMPP 3.4 §5.2.19 data_coding -> Coding; null for reserved values (caller answers ESME_RINVDCS).
 * 5 (JIS), 6 (Cyrillic), 7 (Latin/Hebrew), 9 (pictogram), 10 (ISO-2022-JP), 13 (extended Kanji) and
 * 14 (KS C 5601) are valid but carried as opaque octets ('binary'): the engine passes them through unchanged
 * and never re-encodes them; decodeText() shows them as hex.
 */
export function codingOfDcs(dcs: number): Coding | null {
  if (!Number.isInteger(dcs) || dcs < 0 || dcs > 0xff) return null
  if (dcs < 0x10) {
    switch (dcs) {
      case 0: return 'gsm'
      case 1: return 'ia5'
      case 2: case 4: return 'binary'
      case 3: return 'latin1'
      case 8: return 'ucs2'
      case 5: case 6: case 7: case 9: case 10: case 13: case 14: return 'binary' // national charsets: opaque
      default: return null // 11, 12, 15 reserved
    }
  }
  const group = dcs >> 4
  // TS 23.038 §4 general data coding 00xx (0x10-0x3F) and automatic deletion 01xx (0x40-0x7F):
  // bit 5 = compressed, bits 3..2 = alphabet (00 default, 01 8-bit, 10 UCS2, 11 reserved).
  if (group <= 0x7) {
    const alphabet = (dcs >> 2) & 3
    if (alphabet === 3) return null
    if (dcs & 0x20) return 'binary' // compressed text (TS 23.042): not decompressed here, opaque octets
    return alphabet === 0 ? 'gsm' : alphabet === 1 ? 'binary' : 'ucs2'
  }
  if (group <= 0xb) return null // 1000..1011 reserved coding groups
  if (group <= 0xd) return 'gsm' // 1100 / 1101 message waiting indication, default alphabet
  if (group === 0xe) return 'ucs2' // 1110 message waiting indication, UCS2
  return dcs & 0x04 ? 'binary' : 'gsm' // 1111 data coding / message class: bit 2 = 8-bit data
}

/** Coding -> the plain SMPP data_coding value we send (never a message-class DCS). */
export function dcsOfCoding(c: Coding): number {
  switch (c) {
    case 'gsm': return 0
    case 'ia5': return 1
    case 'latin1': return 3
    case 'ucs2': return 8
    case 'binary': return 4
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const NOT_IA5 = /[^\x00-\x7f]/
const NOT_LATIN1 = /[^\x00-\xff]/
const HEX = /^(?:[0-9a-fA-F]{2})*$/

/** UTF-16BE of a well-formed string (emoji become surrogate pairs); null for a lone surrogate. */
export function ucs2Encode(text: string): Buffer | null {
  if (LONE_SURROGATE.test(text)) return null
  return Buffer.from(text, 'utf16le').swap16()
}

/** UTF-16BE -> string. A trailing odd octet becomes U+FFFD. Lone surrogates are kept as they are. */
export function ucs2Decode(buf: Buffer): string {
  const even = buf.length & ~1
  const tmp = Buffer.allocUnsafe(even)
  for (let i = 0; i < even; i += 2) { tmp[i] = buf[i + 1]; tmp[i + 1] = buf[i] }
  const s = tmp.toString('utf16le')
  return even === buf.length ? s : s + '\ufffd'
}

/**
 * Text -> octets for short_message; null if a character is not representable in `coding`.
 * 'binary' takes the text as hex (the inverse of decodeText), null if it is not an even run of hex digits.
 */
export function encodeText(text: string, coding: Coding): Buffer | null {
  switch (coding) {
    case 'gsm': return gsm7Encode(text)
    case 'ia5': return NOT_IA5.test(text) ? null : Buffer.from(text, 'latin1')
    case 'latin1': return NOT_LATIN1.test(text) ? null : Buffer.from(text, 'latin1')
    case 'ucs2': return ucs2Encode(text)
    case 'binary': return HEX.test(text) ? Buffer.from(text, 'hex') : null
  }
}

/**
 * Octets + data_coding -> text, for display, HTTP and receipts. Never throws.
 * Binary / opaque / reserved DCS give lowercase hex. IA5 octets above 0x7F are shown as Latin-1
 * (common ESME mistake; it keeps the information instead of masking the high bit).
 */
export function decodeText(buf: Buffer, dcs: number): string {
  switch (codingOfDcs(dcs)) {
    case 'gsm': return gsm7Decode(buf)
    case 'ia5':
    case 'latin1': return buf.toString('latin1')
    case 'ucs2': return ucs2Decode(buf)
    default: return buf.toString('hex')
  }
}

/** The cheapest coding that can carry `text`: GSM 03.38 if every character is in it, else UCS2. */
export function pickCoding(text: string): 'gsm' | 'ucs2' {
  return gsm7Septets(text) >= 0 ? 'gsm' : 'ucs2'
}
