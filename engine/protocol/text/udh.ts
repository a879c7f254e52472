// User Data Header (3GPP TS 23.040 §9.2.3.24), present in short_message when esm_class has UDHI (0x40).
// Owns splitting a short_message into its information elements and payload, and building the
// concatenation headers used by split.ts. Pure; returns null instead of throwing on malformed input.

export interface ConcatInfo { ref: number; total: number; seq: number; bits: 8 | 16 }
export interface UdhIe { iei: number; data: Buffer }
export interface ParsedUdh { ies: UdhIe[]; concat?: ConcatInfo; payload: Buffer }

export const IEI_CONCAT_8 = 0x00 // §9.2.3.24.1 concatenated short messages, 8-bit reference
export const IEI_CONCAT_16 = 0x08 // §9.2.3.24.8 concatenated short messages, 16-bit reference
export const IEI_SINGLE_SHIFT = 0x24 // §9.2.3.24.15 national language single shift
export const IEI_LOCKING_SHIFT = 0x25 // §9.2.3.24.16 national language locking shift

/**
 * Parse the UDH at the start of `sm`. null if the UDHL or an IE length overruns the buffer (the caller answers
 * with an error status). Buffers in the result are views into `sm`, not copies.
 * A concat IE with total 0, seq 0 or seq > total is ignored, as §9.2.3.24.1 says; the last valid one wins.
 */
export function parseUdh(sm: Buffer): ParsedUdh | null {
  if (sm.length < 1) return null
  const end = 1 + sm[0]
  if (end > sm.length) return null
  const ies: UdhIe[] = []
  let concat: ConcatInfo | undefined
  let i = 1
  while (i < end) {
    if (i + 2 > end) return null
    const iei = sm[i]
    const len = sm[i + 1]
    const start = i + 2
    if (start + len > end) return null
    const data = sm.subarray(start, start + len)
    ies.push({ iei, data })
    if (iei === IEI_CONCAT_8 && len === 3) {
      const c: ConcatInfo = { ref: data[0], total: data[1], seq: data[2], bits: 8 }
      if (c.total > 0 && c.seq > 0 && c.seq <= c.total) concat = c
    } else if (iei === IEI_CONCAT_16 && len === 4) {
      const c: ConcatInfo = { ref: (data[0] << 8) | data[1], total: data[2], seq: data[3], bits: 16 }
      if (c.total > 0 && c.seq > 0 && c.seq <= c.total) concat = c
    }
    i = start + len
  }
  const out: ParsedUdh = { ies, payload: sm.subarray(end) }
  if (concat) out.concat = concat
  return out
}

/** `05 00 03 ref total seq` (8-bit reference) or `06 08 04 refHi refLo total seq` (16-bit reference). */
export function buildConcatUdh(info: ConcatInfo): Buffer {
  if (info.bits === 16) {
    return Buffer.from([0x06, IEI_CONCAT_16, 0x04, (info.ref >> 8) & 0xff, info.ref & 0xff, info.total & 0xff, info.seq & 0xff])
  }
  return Buffer.from([0x05, IEI_CONCAT_8, 0x03, info.ref & 0xff, info.total & 0xff, info.seq & 0xff])
}
