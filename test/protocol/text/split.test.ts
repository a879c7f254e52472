import t from 'tap'
import fc from 'fast-check'
import { countParts, splitBinary, splitMessage, type TextCoding } from '../../../engine/protocol/text/split'
import { parseUdh } from '../../../engine/protocol/text/udh'
import { encodeText } from '../../../engine/protocol/text/charsets'

const failure = <T>(p: fc.IPropertyWithHooks<T>, numRuns = 300) => fc.defaultReportMessage(fc.check(p, { numRuns }))

/** Payloads of a split result with their UDHs removed (parts without UDH when udhi is false). */
function payloads(r: { parts: Buffer[]; udhi: boolean }): Buffer[] {
  return r.parts.map((p) => (r.udhi ? parseUdh(p)!.payload : p))
}

t.test('GSM: 160 septets is one part without UDH, 161 is two concatenated parts', async (t) => {
  const one = splitMessage('x'.repeat(160), 'gsm')!
  t.equal(one.parts.length, 1)
  t.equal(one.udhi, false)
  t.equal(one.parts[0].length, 160)
  const two = splitMessage('x'.repeat(161), 'gsm', { ref: 0x42 })!
  t.equal(two.udhi, true)
  t.equal(two.coding, 'gsm')
  t.same(two.parts.map((p) => p.length), [6 + 153, 6 + 8])
  t.same([...two.parts[0].subarray(0, 6)], [0x05, 0x00, 0x03, 0x42, 0x02, 0x01])
  t.same([...two.parts[1].subarray(0, 6)], [0x05, 0x00, 0x03, 0x42, 0x02, 0x02])
})

t.test('GSM: extension characters count 2 septets towards the limit', async (t) => {
  t.equal(splitMessage('€'.repeat(80), 'gsm')!.parts.length, 1)
  t.equal(splitMessage('€'.repeat(80) + 'a', 'gsm')!.parts.length, 2)
  t.equal(splitMessage('x'.repeat(159) + '[', 'gsm')!.parts.length, 2)
})

t.test('UCS2: 70 code units is one part, 71 is two parts of 67 + 4', async (t) => {
  const one = splitMessage('Ж'.repeat(70), 'ucs2')!
  t.same(one.parts.map((p) => p.length), [140])
  t.equal(one.udhi, false)
  const two = splitMessage('Ж'.repeat(71), 'ucs2')!
  t.same(two.parts.map((p) => p.length), [6 + 134, 6 + 8])
})

t.test('latin1 and ia5: 140 octets is one part, 141 is 134 + 7', async (t) => {
  for (const c of ['latin1', 'ia5'] as const) {
    t.equal(splitMessage('a'.repeat(140), c)!.parts.length, 1, c)
    t.same(splitMessage('a'.repeat(141), c)!.parts.map((p) => p.length), [6 + 134, 6 + 7], c)
  }
})

t.test('16-bit reference: 152 septets / 66 UCS2 units / 133 octets per part', async (t) => {
  const g = splitMessage('x'.repeat(161), 'gsm', { refBits: 16, ref: 0x1234 })!
  t.same(g.parts.map((p) => p.length), [7 + 152, 7 + 9])
  t.same([...g.parts[1].subarray(0, 7)], [0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x02])
  const u = splitMessage('Ж'.repeat(71), 'ucs2', { refBits: 16 })!
  t.same(u.parts.map((p) => p.length), [7 + 132, 7 + 10])
  const l = splitMessage('a'.repeat(141), 'latin1', { refBits: 16 })!
  t.same(l.parts.map((p) => p.length), [7 + 133, 7 + 8])
})

t.test('a cut never falls inside a GSM ESC pair', async (t) => {
  // ESC at septet 152 (0-based): the naive 153-septet cut would separate ESC from 0x65.
  const text = 'a'.repeat(152) + '€' + 'b'.repeat(20)
  const p = payloads(splitMessage(text, 'gsm')!)
  t.equal(p[0].length, 152)
  t.equal(p[0][p[0].length - 1], 0x61)
  t.same([...p[1].subarray(0, 2)], [0x1b, 0x65])
  // 16-bit reference: ESC at septet 151
  const p16 = payloads(splitMessage('a'.repeat(151) + '{' + 'b'.repeat(20), 'gsm', { refBits: 16 })!)
  t.equal(p16[0].length, 151)
  t.same([...p16[1].subarray(0, 2)], [0x1b, 0x28])
  // an ESC pair that ends exactly on the limit stays whole in the first part
  const exact = payloads(splitMessage('a'.repeat(151) + '€' + 'b'.repeat(10), 'gsm')!)
  t.equal(exact[0].length, 153)
})

t.test('a cut never falls inside a UTF-16 surrogate pair', async (t) => {
  // high surrogate at unit 66: the naive 67-unit cut would separate it from its low half
  const text = 'a'.repeat(66) + '😀' + 'b'.repeat(10)
  const p = payloads(splitMessage(text, 'ucs2')!)
  t.equal(p[0].length, 132)
  t.same([...p[1].subarray(0, 4)], [0xd8, 0x3d, 0xde, 0x00])
  const p16 = payloads(splitMessage('a'.repeat(65) + '😀' + 'b'.repeat(10), 'ucs2', { refBits: 16 })!)
  t.equal(p16[0].length, 130)
  t.same([...p16[1].subarray(0, 2)], [0xd8, 0x3d])
})

t.test('unrepresentable text or more than 255 parts gives null', async (t) => {
  t.equal(splitMessage('😀', 'gsm'), null)
  t.equal(splitMessage('é', 'ia5'), null)
  t.equal(splitMessage('x'.repeat(153 * 255), 'gsm')!.parts.length, 255)
  t.equal(splitMessage('x'.repeat(153 * 255 + 1), 'gsm'), null)
})

t.test('without opts.ref, consecutive messages get different references', async (t) => {
  const a = parseUdh(splitMessage('x'.repeat(200), 'gsm')!.parts[0])!.concat!
  const b = parseUdh(splitMessage('x'.repeat(200), 'gsm')!.parts[0])!.concat!
  t.not(a.ref, b.ref)
  t.ok(a.ref >= 0 && a.ref <= 255)
})

t.test('countParts for UI counters', async (t) => {
  t.same(countParts('hello'), { parts: 1, coding: 'gsm', unitsPerPart: 160, units: 5 })
  t.same(countParts('x'.repeat(161)), { parts: 2, coding: 'gsm', unitsPerPart: 153, units: 161 })
  t.same(countParts('€'.repeat(81)), { parts: 2, coding: 'gsm', unitsPerPart: 153, units: 162 })
  t.same(countParts('Ж'.repeat(71)), { parts: 2, coding: 'ucs2', unitsPerPart: 67, units: 71 })
  t.same(countParts('😀'), { parts: 1, coding: 'ucs2', unitsPerPart: 70, units: 2 })
  t.same(countParts('x'.repeat(161), 'gsm', { refBits: 16 }), { parts: 2, coding: 'gsm', unitsPerPart: 152, units: 161 })
  t.same(countParts('hello', 'ucs2'), { parts: 1, coding: 'ucs2', unitsPerPart: 70, units: 5 })
  t.same(countParts('a'.repeat(141), 'latin1'), { parts: 2, coding: 'latin1', unitsPerPart: 134, units: 141 })
  t.equal(countParts('😀', 'gsm'), null)
  // the boundary shift from an ESC pair costs a part the naive ceil(units / 153) would miss
  const text = 'a'.repeat(152) + '€' + 'a'.repeat(152)
  t.equal(countParts(text).parts, 3)
  t.equal(Math.ceil(countParts(text).units / 153), 2)
})

const gsmChars = [...'@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCZÄÖÑÜ§¿abxyzäöñüà', ...'\f^{}\\[~]|€']
const texts: fc.Arbitrary<[string, TextCoding]> = fc.oneof(
  fc.string({ unit: fc.constantFrom(...gsmChars), maxLength: 800 }).map((s): [string, TextCoding] => [s, 'gsm']),
  fc.string({ unit: fc.constantFrom('€', '[', 'a'), maxLength: 800 }).map((s): [string, TextCoding] => [s, 'gsm']),
  fc.string({ unit: 'grapheme', maxLength: 400 }).map((s): [string, TextCoding] => [s, 'ucs2']),
  fc.string({ unit: fc.constantFrom('😀', 'a', 'Ж'), maxLength: 400 }).map((s): [string, TextCoding] => [s, 'ucs2']),
  fc.string({ unit: 'binary-ascii', maxLength: 800 }).map((s): [string, TextCoding] => [s, 'ia5']),
)

t.test('property: concatenated split payloads equal the encoded text; parts are well-formed', async (t) => {
  t.equal(failure(fc.property(texts, fc.constantFrom<8 | 16>(8, 16), ([text, coding], refBits) => {
    const r = splitMessage(text, coding, { refBits, ref: 7 })
    if (!r) return false
    const ps = payloads(r)
    if (!Buffer.concat(ps).equals(encodeText(text, coding)!)) return false
    if (countParts(text, coding, { refBits })!.parts !== r.parts.length) return false
    return ps.every((p, k) => {
      const udh = r.udhi ? parseUdh(r.parts[k])!.concat! : undefined
      if (udh && (udh.seq !== k + 1 || udh.total !== r.parts.length || udh.ref !== 7)) return false
      if (coding === 'gsm') return p.length <= 160 && p[p.length - 1] !== 0x1b
      if (coding === 'ucs2') return p.length <= 140 && (p.length < 2 || p[p.length - 2] < 0xd8 || p[p.length - 2] > 0xdb)
      return p.length <= 140
    })
  })), undefined)
})

t.test('splitBinary: 140 octets one part, 141 two parts of 134 + 7', async (t) => {
  const one = splitBinary(Buffer.alloc(140, 1))
  t.equal(one.length, 1)
  t.equal(one[0].length, 140)
  const two = splitBinary(Buffer.alloc(141, 1), { ref: 9 })
  t.same(two.map((p) => p.length), [140, 13])
  t.same([...two[1].subarray(0, 6)], [0x05, 0x00, 0x03, 0x09, 0x02, 0x02])
  const s16 = splitBinary(Buffer.alloc(141, 1), { refBits: 16, ref: 0x0102 })
  t.same(s16.map((p) => p.length), [140, 15])
  t.same([...s16[0].subarray(0, 7)], [0x06, 0x08, 0x04, 0x01, 0x02, 0x02, 0x01])
  t.same(splitBinary(Buffer.alloc(134 * 256)), [])
})

t.test('property: splitBinary parts rejoin to the original bytes', async (t) => {
  t.equal(failure(fc.property(fc.uint8Array({ maxLength: 2000 }), fc.constantFrom<8 | 16>(8, 16), (a, refBits) => {
    const parts = splitBinary(Buffer.from(a), { refBits })
    const joined = parts.length === 1 ? parts[0] : Buffer.concat(parts.map((p) => parseUdh(p)!.payload))
    return joined.equals(Buffer.from(a)) && parts.every((p) => p.length <= 140)
  })), undefined)
})
