/**
 * Upstream message ids: how the id an upstream SMSC gave in its submit_sm_resp and the id in its later
 * receipt (receipted_message_id, else the `id:` of the text) are compared, per connector
 * (`connectors[].receiptIds`, docs/CONNECTORS.md; Kannel's msg-id-type).
 *
 * The comparison lives in the key of the store's upstream map: a link is stored under
 * upstreamKey(id, 'submit', mode) and a receipt looks up upstreamKey(id, 'receipt', mode), so matching
 * stays one map get and no scan. 'exact' keys are the id itself (what the engine always stored). The
 * numeric modes key an id by the number it stands for in its side's base, written in decimal without
 * leading zeros (`00ff` hex and `255` decimal are both `255`); an id that is not a number (`msg-7`)
 * stays its own string, so it still matches exactly and never meets a numeric key (those are all digits,
 * such an id has a character that is not even a hex digit).
 *
 * receiptCandidates() adds the few other keys one receipt may safely stand for (tried only when the first
 * misses), and sameUpstreamId() is the check a hit must pass against the id the message waits on: a key
 * found through a fallback never settles a message whose own id does not compare equal.
 */
import type { ReceiptIdMode } from './config'

type Base = 'text' | 'decimal' | 'hex'

/** The base of the submit_sm_resp id and of the receipt's id, per mode (Kannel msg-id-type bits 0 and 1). */
const SUBMIT_BASE: Readonly<Record<ReceiptIdMode, Base>> = { exact: 'text', decimal: 'decimal', hex: 'hex', 'hex-submit': 'hex', 'hex-receipt': 'decimal' }
const RECEIPT_BASE: Readonly<Record<ReceiptIdMode, Base>> = { exact: 'text', decimal: 'decimal', hex: 'hex', 'hex-submit': 'decimal', 'hex-receipt': 'hex' }

/** SMPP message_id is a C-Octet String of 65: ids longer than 64 characters are not read as numbers. */
const MAX_NUMERIC_ID = 64
const DECIMAL = /^[0-9]+$/
const HEX = /^[0-9A-Fa-f]+$/
/** Hex-looking with at least one letter, all in one case: the only ids whose case is ignored in 'exact' mode. */
const LOWER_HEX = /^[0-9a-f]*[a-f][0-9a-f]*$/
const UPPER_HEX = /^[0-9A-F]*[A-F][0-9A-F]*$/

/**
 * The number `id` stands for in `base`, as decimal digits without leading zeros (`0` for zero); null when
 * it is not a number in that base (empty, other characters, longer than 64).
 */
export function idNumber(id: string, base: 'decimal' | 'hex'): string | null {
  if (id.length === 0 || id.length > MAX_NUMERIC_ID) return null
  if (!(base === 'decimal' ? DECIMAL : HEX).test(id)) return null
  // Up to 13 hex or 15 decimal digits are exact in a double; longer ones go through BigInt.
  if (id.length <= (base === 'decimal' ? 15 : 13)) return String(parseInt(id, base === 'decimal' ? 10 : 16))
  return BigInt(base === 'decimal' ? id : `0x${id}`).toString()
}

/**
 * The number an id of one side stands for, or null (then it is compared as a string). With the two sides
 * in different bases, an id that is not a number in its own side's base but is in the other's (`abc` in a
 * receipt said to be decimal, with hex submit ids) is read in the other's, as Kannel does: it cannot be
 * the decimal form of anything, so it is the id the upstream gave, as given.
 */
function numberOn(id: string, side: 'submit' | 'receipt', mode: ReceiptIdMode): string | null {
  const [own, other] = side === 'submit' ? [SUBMIT_BASE[mode], RECEIPT_BASE[mode]] : [RECEIPT_BASE[mode], SUBMIT_BASE[mode]]
  if (own === 'text') return null
  return idNumber(id, own) ?? (other !== own && other !== 'text' ? idNumber(id, other) : null)
}

/** The store key of an upstream id: from the submit_sm_resp (`submit`) or from a receipt (`receipt`). */
export function upstreamKey(id: string, side: 'submit' | 'receipt', mode: ReceiptIdMode): string {
  return numberOn(id, side, mode) ?? id
}

/** A key to look up for a receipt, and which of the receipt's ids it comes from. */
export interface ReceiptCandidate { key: string; id: string }

/**
 * The keys a receipt is looked up by, in order; the first is the only one that hits with a well-behaved
 * upstream. `id` is the id the receipt is reported under (receipted_message_id, else the text's id:);
 * `textId` the text's id: when the PDU has both and they differ.
 * - the receipt's id, then the text's: an upstream whose TLV id is in another form than its
 *   submit_sm_resp id often has the text's right (or the other way round);
 * - 'exact': an id of hex digits all in one case, in the other case (`1A2B` finds `1a2b`); mixed-case or
 *   other ids are never changed (they may be case-sensitive);
 * - 'decimal' and 'hex' (both sides in one base): the id as given, which finds a link stored before
 *   receiptIds was set (as the plain string).
 * Leading zeros are never guessed in 'exact' mode: `0042` and `42` may be two messages of an opaque-id upstream.
 */
export function receiptCandidates(id: string, textId: string | undefined, mode: ReceiptIdMode): ReceiptCandidate[] {
  const out: ReceiptCandidate[] = []
  const add = (key: string, from: string): void => {
    for (const c of out) if (c.key === key) return
    out.push({ key, id: from })
  }
  const ids = textId !== undefined && textId !== '' && textId !== id ? [id, textId] : [id]
  for (const x of ids) add(upstreamKey(x, 'receipt', mode), x)
  for (const x of ids) {
    if (mode === 'exact') {
      if (LOWER_HEX.test(x)) add(x.toUpperCase(), x)
      else if (UPPER_HEX.test(x)) add(x.toLowerCase(), x)
    } else if (SUBMIT_BASE[mode] === RECEIPT_BASE[mode]) add(x, x)
  }
  return out
}

/**
 * Whether a receipt's receipted_message_id and the `id:` of its text can name the same submission, so the text's
 * id may stand in for a TLV id that finds nothing: the same string (hex case aside), the same number read in
 * either base (an upstream that writes one in hex and the other in decimal), or one cut from the other (a text
 * id truncated to 10 characters). Two ids that agree in none of these ways are two messages: a fallback to the
 * text's id would settle another one.
 */
export function idsAgree(a: string, b: string): boolean {
  if (a.toLowerCase() === b.toLowerCase()) return true
  const nums = (x: string): bigint[] => {
    const out: bigint[] = []
    if (/^\d{1,64}$/.test(x)) out.push(BigInt(x))
    if (/^[0-9a-f]{1,64}$/i.test(x)) out.push(BigInt(`0x${x}`))
    return out
  }
  for (const x of nums(a)) for (const y of nums(b)) if (x === y) return true
  const [short, long] = a.length <= b.length ? [a, b] : [b, a]
  return short.length >= 6 && (long.startsWith(short) || long.endsWith(short))
}

const uniformHex = (s: string): boolean => LOWER_HEX.test(s) || UPPER_HEX.test(s)

/**
 * Whether the id a message's submit_sm_resp gave and a receipt's id name the same submission under
 * `mode`: 'exact' as strings (hex ids all in one case ignoring case); otherwise as numbers when both are
 * numbers in their bases, as strings when neither is, never when only one is.
 */
export function sameUpstreamId(submitId: string, receiptId: string, mode: ReceiptIdMode): boolean {
  if (mode === 'exact') return submitId === receiptId || (uniformHex(submitId) && uniformHex(receiptId) && submitId.toLowerCase() === receiptId.toLowerCase())
  const a = numberOn(submitId, 'submit', mode)
  const b = numberOn(receiptId, 'receipt', mode)
  if (a !== null || b !== null) return a === b
  return submitId === receiptId
}

/**
 * Upstream ids whose links were removed lately (the message ended, was cancelled or replaced): a receipt
 * for one of them is a duplicate or stale, not a sign of ids that do not compare. A fixed table of 32-bit
 * fingerprints (512 KB, no allocation per id): an id is remembered until a later one lands in its slot
 * (about the last 100,000). A fingerprint collision only makes an unknown id count as remembered.
 */
export class RecentUpstreamIds {
  private readonly table: Uint32Array
  private readonly mask: number

  constructor(bits = 17) {
    this.table = new Uint32Array(1 << bits)
    this.mask = (1 << bits) - 1
  }

  add(ns: string, key: string): void {
    const h = fingerprint(ns, key)
    this.table[h & this.mask] = h
  }

  has(ns: string, key: string): boolean {
    const h = fingerprint(ns, key)
    return this.table[h & this.mask] === h
  }
}

/** FNV-1a of `ns \0 key`, never 0 (0 marks an empty slot). */
function fingerprint(ns: string, key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < ns.length; i++) h = Math.imul(h ^ ns.charCodeAt(i), 0x01000193)
  h = Math.imul(h, 0x01000193) // the \0 between them
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  return (h >>> 0) || 1
}

