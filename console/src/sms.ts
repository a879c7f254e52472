/**
 * The send form's live counter ("2 parts, UCS2"): GSM 03.38 alphabet check and part counting, done in
 * the browser so the counter follows every keystroke. Same rules as engine/protocol/text/split.ts:
 * 3GPP TS 23.038 §6.2.1 default alphabet, the extension table characters cost 2 septets (ESC + char);
 * one part holds 160 septets or 70 UCS2 code units, a concatenated part (8-bit reference UDH,
 * TS 23.040 §9.2.3.24.1) 153 septets or 67 code units; a cut never splits an ESC pair or a surrogate pair.
 */

// TS 23.038 §6.2.1 default alphabet (position 0x1B is ESC, not a character).
const DEFAULT_ALPHABET =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà'
// TS 23.038 §6.2.1.1 extension table reached through ESC: each costs two septets.
const EXTENSION = '\f^{}\\[~]|€'

const BASIC = new Set<number>()
for (let i = 0; i < DEFAULT_ALPHABET.length; i++) BASIC.add(DEFAULT_ALPHABET.charCodeAt(i))
const EXT = new Set<number>()
for (let i = 0; i < EXTENSION.length; i++) EXT.add(EXTENSION.charCodeAt(i))

export type Coding = 'GSM' | 'UCS2'

export interface PartCount {
  coding: Coding
  parts: number
  /** septets (GSM) or UTF-16 code units (UCS2) of the whole text */
  units: number
  /** capacity of one part at this part count: 160/153 or 70/67 */
  perPart: number
  /** units still free in the last part */
  left: number
  /** characters that forced UCS2 (first few, for the hint) */
  nonGsm: string[]
}

const GSM_SINGLE = 160
const GSM_CONCAT = 153
const UCS2_SINGLE = 70
const UCS2_CONCAT = 67

/** Septet cost of each UTF-16 code unit of `text` (1 or 2), or null when a character is not in GSM 03.38. */
function gsmCosts(text: string, nonGsm: string[]): number[] | null {
  const costs: number[] = new Array(text.length)
  let ok = true
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (BASIC.has(c)) costs[i] = 1
    else if (EXT.has(c)) costs[i] = 2
    else {
      ok = false
      if (nonGsm.length < 5) {
        const cp = text.codePointAt(i) ?? c
        const ch = String.fromCodePoint(cp)
        if (!nonGsm.includes(ch)) nonGsm.push(ch)
      }
      if (c >= 0xd800 && c <= 0xdbff) i++
    }
  }
  return ok ? costs : null
}

/** Number of parts when `costs` (per character, never split) are packed into parts of `per` units. */
function packParts(costs: ArrayLike<number>, per: number): number {
  let parts = 1
  let used = 0
  for (let i = 0; i < costs.length; i++) {
    const w = costs[i]
    if (used + w > per) {
      parts++
      used = 0
    }
    used += w
  }
  return parts
}

/** Units used in the last part (for the "n left" hint). */
function lastPartUsed(costs: ArrayLike<number>, per: number): number {
  let used = 0
  for (let i = 0; i < costs.length; i++) {
    const w = costs[i]
    if (used + w > per) used = 0
    used += w
  }
  return used
}

export function countParts(text: string): PartCount {
  const nonGsm: string[] = []
  const gsm = gsmCosts(text, nonGsm)
  if (gsm) {
    let units = 0
    for (const w of gsm) units += w
    if (units <= GSM_SINGLE) return { coding: 'GSM', parts: 1, units, perPart: GSM_SINGLE, left: GSM_SINGLE - units, nonGsm }
    return {
      coding: 'GSM',
      parts: packParts(gsm, GSM_CONCAT),
      units,
      perPart: GSM_CONCAT,
      left: GSM_CONCAT - lastPartUsed(gsm, GSM_CONCAT),
      nonGsm,
    }
  }
  // UCS2: one unit per UTF-16 code unit; a surrogate pair (2 units) stays in one part.
  const costs: number[] = []
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      costs.push(2)
      i++
    } else costs.push(1)
  }
  const units = text.length
  if (units <= UCS2_SINGLE) return { coding: 'UCS2', parts: 1, units, perPart: UCS2_SINGLE, left: UCS2_SINGLE - units, nonGsm }
  return {
    coding: 'UCS2',
    parts: packParts(costs, UCS2_CONCAT),
    units,
    perPart: UCS2_CONCAT,
    left: UCS2_CONCAT - lastPartUsed(costs, UCS2_CONCAT),
    nonGsm,
  }
}

/** "1 part, GSM 03.38" / "2 parts, UCS2": the coding names the API answers with */
export function describeParts(c: PartCount): string {
  return `${c.parts} ${c.parts === 1 ? 'part' : 'parts'}, ${c.coding === 'GSM' ? 'GSM 03.38' : 'UCS2'}`
}

// invisible or blank on screen: separators and spaces (NBSP, thin space…), format characters (ZWJ,
// ZWSP, bidi marks, BOM), controls, lone combining marks and variation selectors, unassigned/private
const INVISIBLE = /^[\p{Z}\p{Cf}\p{Cc}\p{M}\p{Co}\p{Cn}\p{Cs}\u115F\u1160\u3164\uFFA0\u2800]$/u

/** A character for the "not in GSM 03.38" hint: itself when visible, else its code point ("U+00A0"). */
export function showChar(ch: string): string {
  if (!INVISIBLE.test(ch)) return ch
  return `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`
}
