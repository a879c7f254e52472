import t from 'tap'
import fc from 'fast-check'
import { gsm7Decode, gsm7DecodeWithShift, gsm7Encode, gsm7EncodeWithShift, gsm7Septets } from '../../../engine/protocol/text/gsm7'

// fc.check + report: undefined when the property holds, the counterexample report when it fails.
const failure = <T>(p: fc.IPropertyWithHooks<T>, numRuns = 500) => fc.defaultReportMessage(fc.check(p, { numRuns }))

// TS 23.038 §6.2.1, written out independently of the module's table (index = septet, '' = ESC).
const BASIC = [
  '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
  'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '', 'Æ', 'æ', 'ß', 'É',
  ' ', '!', '"', '#', '¤', '%', '&', "'", '(', ')', '*', '+', ',', '-', '.', '/',
  '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
  '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
  'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
  '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
  'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
]
const EXT: [string, number][] = [
  ['\f', 0x0a], ['^', 0x14], ['{', 0x28], ['}', 0x29], ['\\', 0x2f],
  ['[', 0x3c], ['~', 0x3d], [']', 0x3e], ['|', 0x40], ['€', 0x65],
]
const GSM_CHARS = [...BASIC.filter((c) => c !== ''), ...EXT.map(([c]) => c)]

t.test('every default-alphabet character encodes to its septet and decodes back', async (t) => {
  for (let septet = 0; septet < 128; septet++) {
    const ch = BASIC[septet]
    if (ch === '') continue
    t.same([...gsm7Encode(ch)!], [septet], `encode ${JSON.stringify(ch)}`)
    t.equal(gsm7Decode(Buffer.from([septet])), ch, `decode 0x${septet.toString(16)}`)
    t.equal(gsm7Septets(ch), 1)
  }
})

t.test('every extension character encodes as ESC + code, costs 2 septets and decodes back', async (t) => {
  for (const [ch, code] of EXT) {
    t.same([...gsm7Encode(ch)!], [0x1b, code], `encode ${JSON.stringify(ch)}`)
    t.equal(gsm7Decode(Buffer.from([0x1b, code])), ch)
    t.equal(gsm7Septets(ch), 2)
  }
  t.equal(gsm7Septets('€'), 2)
  t.equal(gsm7Septets('[]'), 4)
  t.equal(gsm7Septets('a€b'), 4)
})

t.test('the whole alphabet round trips as one string', async (t) => {
  const all = GSM_CHARS.join('')
  const enc = gsm7Encode(all)!
  t.equal(enc.length, 127 + 2 * EXT.length)
  t.equal(gsm7Septets(all), enc.length)
  t.equal(gsm7Decode(enc), all)
})

t.test('characters outside GSM 03.38 are not representable', async (t) => {
  for (const ch of ['ç', 'á', '`', 'Ж', '中', '😀', '\x1b', '\t', '\u00a0', 'ı']) {
    t.equal(gsm7Encode('ok' + ch), null, `encode ${JSON.stringify(ch)}`)
    t.equal(gsm7Septets('ok' + ch), -1, `septets ${JSON.stringify(ch)}`)
  }
  t.same(gsm7Encode(''), Buffer.alloc(0))
  t.equal(gsm7Septets(''), 0)
})

t.test('decode is tolerant of malformed escapes and high bits', async (t) => {
  t.equal(gsm7Decode(Buffer.from([0x41, 0x1b])), 'A ', 'trailing ESC is a space')
  t.equal(gsm7Decode(Buffer.from([0x1b, 0x1b, 0x41])), ' A', 'ESC ESC is a space')
  t.equal(gsm7Decode(Buffer.from([0x1b, 0x41])), 'A', 'ESC + undefined extension shows the base character')
  t.equal(gsm7Decode(Buffer.from([0xc1, 0x80])), 'A@', 'high bit ignored')
})

t.test('property: decode(encode(x)) == x for GSM-representable strings', async (t) => {
  const gsmString = fc.string({ unit: fc.constantFrom(...GSM_CHARS), maxLength: 400 })
  t.equal(failure(fc.property(gsmString, (s) => gsm7Decode(gsm7Encode(s)!) === s)), undefined)
  t.equal(failure(fc.property(gsmString, (s) => gsm7Septets(s) === gsm7Encode(s)!.length)), undefined)
})

t.test('property: decode never throws and gives at most one character per octet', async (t) => {
  t.equal(failure(fc.property(fc.uint8Array({ maxLength: 300 }), (a) => {
    return gsm7Decode(Buffer.from(a)).length <= a.length
  })), undefined)
})

t.test('Turkish single shift (national language 1)', async (t) => {
  const text = 'ĞİŞçğış€{'
  const enc = gsm7EncodeWithShift(text, { single: 1 })!
  t.same([...enc], [0x1b, 0x47, 0x1b, 0x49, 0x1b, 0x53, 0x1b, 0x63, 0x1b, 0x67, 0x1b, 0x69, 0x1b, 0x73, 0x1b, 0x65, 0x1b, 0x28])
  t.equal(gsm7DecodeWithShift(enc, { single: 1 }), text)
  t.equal(gsm7Decode(enc), 'GIScgis€{', 'without the shift table the base characters show')
})

t.test('Turkish locking shift replaces the main table', async (t) => {
  t.equal(gsm7DecodeWithShift(Buffer.from([0x04, 0x07, 0x0b, 0x0c, 0x1c, 0x1d, 0x40, 0x60]), { locking: 1 }), '€ıĞğŞşİç')
  const text = 'Ağrı İstanbul çiçek'
  const enc = gsm7EncodeWithShift(text, { locking: 1, single: 1 })!
  t.equal(enc.length, text.length, 'every Turkish letter is one septet under locking shift')
  t.equal(gsm7DecodeWithShift(enc, { locking: 1, single: 1 }), text)
})

t.test('Spanish single shift', async (t) => {
  const text = 'ÁÍÓÚáíóúç€'
  const enc = gsm7EncodeWithShift(text, { single: 2 })!
  t.same([...enc], [0x1b, 0x41, 0x1b, 0x49, 0x1b, 0x4f, 0x1b, 0x55, 0x1b, 0x61, 0x1b, 0x69, 0x1b, 0x6f, 0x1b, 0x75, 0x1b, 0x09, 0x1b, 0x65])
  t.equal(gsm7DecodeWithShift(enc, { single: 2 }), text)
  t.equal(gsm7DecodeWithShift(Buffer.from([0x41]), { locking: 2 }), 'A', 'Spanish locking shift is the default table')
})

t.test('Portuguese single and locking shift', async (t) => {
  t.equal(gsm7DecodeWithShift(Buffer.from([0x1b, 0x05, 0x1b, 0x5b, 0x1b, 0x7f, 0x1b, 0x12]), { single: 3 }), 'êÃâΦ')
  t.equal(gsm7DecodeWithShift(Buffer.from([0x04, 0x09, 0x12, 0x15, 0x7d, 0x60]), { locking: 3 }), 'êçª∞`~')
  const text = 'Ação, coração e pão: 5€ ^'
  const enc = gsm7EncodeWithShift(text, { locking: 3, single: 3 })!
  t.equal(gsm7DecodeWithShift(enc, { locking: 3, single: 3 }), text)
  t.equal(enc.indexOf(0x1b), -1, '€ and ^ are in the Portuguese locking table, no ESC needed')
})

t.test('shift encode rejects characters in neither table; unknown identifiers use the default tables', async (t) => {
  t.equal(gsm7EncodeWithShift('ş', { single: 2 }), null)
  t.equal(gsm7EncodeWithShift('😀', { single: 1, locking: 1 }), null)
  t.same(gsm7EncodeWithShift('a€', { single: 99 }), gsm7Encode('a€'))
  t.equal(gsm7DecodeWithShift(Buffer.from([0x1b, 0x65, 0x04]), { single: 99, locking: 99 }), '€è')
})

t.test('property: Turkish shift round trip', async (t) => {
  const chars = [...GSM_CHARS.filter((c) => !'ØøÆæ¿¡ìè'.includes(c)), ...'ĞğŞşİıç']
  const s = fc.string({ unit: fc.constantFrom(...chars), maxLength: 200 })
  t.equal(failure(fc.property(s, (x) => {
    const enc = gsm7EncodeWithShift(x, { single: 1, locking: 1 })
    return enc !== null && gsm7DecodeWithShift(enc, { single: 1, locking: 1 }) === x
  })), undefined)
})
