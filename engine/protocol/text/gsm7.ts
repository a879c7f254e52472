// GSM 03.38 (3GPP TS 23.038 §6.2.1) default alphabet, UNPACKED: one septet per octet, which is how SMPP carries
// data_coding 0 in short_message / message_payload. Owns the character tables (default, extension via ESC 0x1B,
// and the national language locking/single shift tables of TS 23.038 Annex A) and the transforms
// text <-> septets. Packing into 7-bit octets is an air-interface concern and is not done here.
// All lookup tables are built once at module load; encode/decode are allocation-light loops.

const ESC = 0x1b
const NONE = 0xffff // "no character at this position" in the code-unit tables below
const SPACE = 0x20

// TS 23.038 §6.2.1 default alphabet, position = septet value. '\uffff' at 0x1B: ESC is not a character.
const DEFAULT_TABLE =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\uffffÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà'

// Shift tables as sparse [septet, char] lists (TS 23.038 §6.2.1.1 and Annex A.2). Every other position is undefined.
const EXT_DEFAULT: [number, string][] = [
  [0x0a, '\f'], [0x14, '^'], [0x28, '{'], [0x29, '}'], [0x2f, '\\'],
  [0x3c, '['], [0x3d, '~'], [0x3e, ']'], [0x40, '|'], [0x65, '€'],
]
// National language identifiers (TS 23.038 §6.2.1.2.4): 1 Turkish, 2 Spanish, 3 Portuguese.
// Indian languages (4..13) are not included; unknown identifiers fall back to the default tables.
const SINGLE_SHIFT: Record<number, [number, string][]> = {
  // A.2.1 Turkish single shift
  1: [...EXT_DEFAULT, [0x47, 'Ğ'], [0x49, 'İ'], [0x53, 'Ş'], [0x63, 'ç'], [0x67, 'ğ'], [0x69, 'ı'], [0x73, 'ş']],
  // A.2.2 Spanish single shift
  2: [...EXT_DEFAULT, [0x09, 'ç'], [0x41, 'Á'], [0x49, 'Í'], [0x4f, 'Ó'], [0x55, 'Ú'],
    [0x61, 'á'], [0x69, 'í'], [0x6f, 'ó'], [0x75, 'ú']],
  // A.2.3 Portuguese single shift
  3: [...EXT_DEFAULT, [0x05, 'ê'], [0x09, 'ç'], [0x0b, 'Ô'], [0x0c, 'ô'], [0x0e, 'Á'], [0x0f, 'á'],
    [0x12, 'Φ'], [0x13, 'Γ'], [0x15, 'Ω'], [0x16, 'Π'], [0x17, 'Ψ'], [0x18, 'Σ'], [0x19, 'Θ'], [0x1f, 'Ê'],
    [0x41, 'À'], [0x49, 'Í'], [0x4f, 'Ó'], [0x55, 'Ú'], [0x5b, 'Ã'], [0x5c, 'Õ'], [0x61, 'Â'],
    [0x69, 'í'], [0x6f, 'ó'], [0x75, 'ú'], [0x7b, 'ã'], [0x7c, 'õ'], [0x7f, 'â']],
}
// A.3 locking shift tables (replace the default alphabet). Spanish has none: it locks to the default alphabet.
const LOCKING_SHIFT: Record<number, string> = {
  // A.3.1 Turkish locking shift
  1: '@£$¥€éùıòÇ\nĞğ\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\uffffŞşßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
    'İABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§çabcdefghijklmnopqrstuvwxyzäöñüà',
  // A.3.3 Portuguese locking shift
  3: '@£$¥êéúíóç\nÔô\rÁáΔ_ªÇÀ∞^\\€Ó|\uffffÂâÊÉ !"#º%&\'()*+,-./0123456789:;<=>?' +
    'ÍABCDEFGHIJKLMNOPQRSTUVWXYZÃÕÚÜ§~abcdefghijklmnopqrstuvwxyzãõ`üà',
}

/** Decode tables: septet -> UTF-16 code unit (NONE where undefined). */
interface Tables { main: Uint16Array; ext: Uint16Array }
function mainTable(chars: string): Uint16Array {
  const t = new Uint16Array(128)
  for (let i = 0; i < 128; i++) t[i] = chars.charCodeAt(i)
  return t
}
function extTable(list: [number, string][]): Uint16Array {
  const t = new Uint16Array(128).fill(NONE)
  for (const [septet, ch] of list) t[septet] = ch.charCodeAt(0)
  return t
}

const DEFAULT_MAIN = mainTable(DEFAULT_TABLE)
const DEFAULT_EXT = extTable(EXT_DEFAULT)
const MAINS = new Map<number, Uint16Array>(Object.entries(LOCKING_SHIFT).map(([k, v]) => [Number(k), mainTable(v)]))
const EXTS = new Map<number, Uint16Array>(Object.entries(SINGLE_SHIFT).map(([k, v]) => [Number(k), extTable(v)]))

// Encode table for the default alphabet, indexed by UTF-16 code unit: septet, or 0x100 | ext septet, or -1.
// Every default-table character is below U+20AD ('€' = U+20AC), so the table stops there.
const ENC_LIMIT = 0x20ad
const ENC_DEFAULT = new Int16Array(ENC_LIMIT).fill(-1)
for (let i = 0; i < 128; i++) if (DEFAULT_EXT[i] !== NONE) ENC_DEFAULT[DEFAULT_EXT[i]] = 0x100 | i
for (let i = 0; i < 128; i++) if (DEFAULT_MAIN[i] !== NONE) ENC_DEFAULT[DEFAULT_MAIN[i]] = i

/** Encoding with national tables (rare): a Map per (locking, single) pair, built on first use and cached. */
const encCache = new Map<number, Map<number, number>>()
function encMap(locking: number, single: number): Map<number, number> {
  const key = locking * 256 + single
  let m = encCache.get(key)
  if (m) return m
  m = new Map()
  const main = MAINS.get(locking) ?? DEFAULT_MAIN
  const ext = EXTS.get(single) ?? DEFAULT_EXT
  for (let i = 0; i < 128; i++) if (ext[i] !== NONE && i !== ESC) m.set(ext[i], 0x100 | i)
  for (let i = 0; i < 128; i++) if (main[i] !== NONE) m.set(main[i], i) // one septet beats an ESC pair
  encCache.set(key, m)
  return m
}

/** Septet count of `text` in the default alphabet (extension characters count 2); -1 if not representable. */
export function gsm7Septets(text: string): number {
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    const v = c < ENC_LIMIT ? ENC_DEFAULT[c] : -1
    if (v < 0) return -1
    n += v > 0xff ? 2 : 1
  }
  return n
}

/** Text -> unpacked septets in the default alphabet + extension table; null if a character is not representable. */
export function gsm7Encode(text: string): Buffer | null {
  const n = gsm7Septets(text)
  if (n < 0) return null
  const out = Buffer.allocUnsafe(n)
  let o = 0
  for (let i = 0; i < text.length; i++) {
    const v = ENC_DEFAULT[text.charCodeAt(i)]
    if (v > 0xff) { out[o++] = ESC; out[o++] = v & 0x7f } else out[o++] = v
  }
  return out
}

export interface ShiftTables {
  /** national language identifier of the single shift table (UDH IEI 0x24) */
  single?: number
  /** national language identifier of the locking shift table (UDH IEI 0x25) */
  locking?: number
}

/**
 * Text -> unpacked septets using national language tables (TS 23.038 Annex A); null if not representable.
 * The caller must add the matching UDH IEs (0x24 single shift, 0x25 locking shift, TS 23.040 §9.2.3.24.15/16).
 */
export function gsm7EncodeWithShift(text: string, shift: ShiftTables): Buffer | null {
  const m = encMap(shift.locking ?? 0, shift.single ?? 0)
  const out: number[] = []
  for (let i = 0; i < text.length; i++) {
    const v = m.get(text.charCodeAt(i))
    if (v === undefined) return null
    if (v > 0xff) out.push(ESC, v & 0x7f)
    else out.push(v)
  }
  return Buffer.from(out)
}

function decodeWith(buf: Buffer, main: Uint16Array, ext: Uint16Array): string {
  const n = buf.length
  const u = Buffer.allocUnsafe(n * 2) // UTF-16LE code units; never more than one per septet
  let o = 0
  for (let i = 0; i < n; i++) {
    // Octets above 0x7F cannot be septets; the high bit is ignored (tolerant of senders that set it).
    const s = buf[i] & 0x7f
    let c: number
    if (s === ESC) {
      if (i + 1 >= n) c = SPACE // TS 23.038 §6.2.1 note 1: an ESC with nothing after it displays as a space
      else {
        const x = buf[++i] & 0x7f
        // ESC ESC is reserved for a further extension table: display a space (§6.2.1.1).
        // An ESC before a septet with no extension character displays the main table character (§6.2.1.1).
        c = x === ESC ? SPACE : ext[x] !== NONE ? ext[x] : main[x]
      }
    } else c = main[s]
    if (c === NONE) c = SPACE
    u[o++] = c & 0xff
    u[o++] = c >>> 8
  }
  return u.toString('utf16le', 0, o)
}

/** Unpacked septets -> text (default alphabet + extension table). Never throws. */
export function gsm7Decode(buf: Buffer): string {
  return decodeWith(buf, DEFAULT_MAIN, DEFAULT_EXT)
}

/**
 * Unpacked septets -> text with the national language tables named by the UDH (IEI 0x24 single shift,
 * IEI 0x25 locking shift). Unknown or absent identifiers use the default tables. Never throws.
 * Supported identifiers: single shift 1 (Turkish), 2 (Spanish), 3 (Portuguese); locking shift 1, 3
 * (Spanish has no locking shift table, so 2 is the default alphabet as the spec says).
 */
export function gsm7DecodeWithShift(buf: Buffer, shift: ShiftTables): string {
  const main = (shift.locking !== undefined && MAINS.get(shift.locking)) || DEFAULT_MAIN
  const ext = (shift.single !== undefined && EXTS.get(shift.single)) || DEFAULT_EXT
  return decodeWith(buf, main, ext)
}
