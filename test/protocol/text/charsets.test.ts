import t from 'tap'
import fc from 'fast-check'
import { codingOfDcs, dcsOfCoding, decodeText, encodeText, pickCoding, type Coding } from '../../../engine/protocol/text/charsets'

const failure = <T>(p: fc.IPropertyWithHooks<T>, numRuns = 500) => fc.defaultReportMessage(fc.check(p, { numRuns }))

t.test('SMPP 3.4 §5.2.19 data_coding values 0x00-0x0F', async (t) => {
  const expected: [number, Coding | null][] = [
    [0, 'gsm'], [1, 'ia5'], [2, 'binary'], [3, 'latin1'], [4, 'binary'], [5, 'binary'], [6, 'binary'],
    [7, 'binary'], [8, 'ucs2'], [9, 'binary'], [10, 'binary'], [11, null], [12, null], [13, 'binary'],
    [14, 'binary'], [15, null],
  ]
  for (const [dcs, coding] of expected) t.equal(codingOfDcs(dcs), coding, `dcs ${dcs}`)
})

t.test('GSM 03.38 §4 coding groups above 0x0F', async (t) => {
  const expected: [number, Coding | null][] = [
    [0x10, 'gsm'], [0x11, 'gsm'], [0x14, 'binary'], [0x15, 'binary'], [0x18, 'ucs2'], [0x19, 'ucs2'],
    [0x1c, null], [0x1f, null], // alphabet 11 reserved
    [0x20, 'binary'], [0x28, 'binary'], [0x2c, null], // compressed: opaque
    [0x40, 'gsm'], [0x48, 'ucs2'], [0x4c, null], // automatic deletion group
    [0x80, null], [0xbf, null], // reserved groups
    [0xc0, 'gsm'], [0xcf, 'gsm'], [0xd0, 'gsm'], [0xdb, 'gsm'], [0xe0, 'ucs2'], [0xef, 'ucs2'],
    [0xf0, 'gsm'], [0xf1, 'gsm'], [0xf3, 'gsm'], [0xf4, 'binary'], [0xf5, 'binary'], [0xf7, 'binary'],
  ]
  for (const [dcs, coding] of expected) t.equal(codingOfDcs(dcs), coding, `dcs 0x${dcs.toString(16)}`)
  t.equal(codingOfDcs(-1), null)
  t.equal(codingOfDcs(256), null)
  t.equal(codingOfDcs(1.5), null)
})

t.test('dcsOfCoding gives the plain values and maps back', async (t) => {
  const expected: [Coding, number][] = [['gsm', 0], ['ia5', 1], ['latin1', 3], ['ucs2', 8], ['binary', 4]]
  for (const [c, dcs] of expected) {
    t.equal(dcsOfCoding(c), dcs)
    t.equal(codingOfDcs(dcs), c)
  }
})

t.test('encodeText per coding', async (t) => {
  t.same(encodeText('Hi€', 'gsm'), Buffer.from([0x48, 0x69, 0x1b, 0x65]))
  t.same(encodeText('Hi~', 'ia5'), Buffer.from('Hi~'))
  t.equal(encodeText('é', 'ia5'), null)
  t.same(encodeText('é', 'latin1'), Buffer.from([0xe9]))
  t.equal(encodeText('€', 'latin1'), null)
  t.same(encodeText('aЖ', 'ucs2'), Buffer.from([0x00, 0x61, 0x04, 0x16]))
  t.same(encodeText('😀', 'ucs2'), Buffer.from([0xd8, 0x3d, 0xde, 0x00]), 'emoji is a surrogate pair, big-endian')
  t.equal(encodeText('a\ud83d', 'ucs2'), null, 'lone high surrogate')
  t.equal(encodeText('\ude00a', 'ucs2'), null, 'lone low surrogate')
  t.same(encodeText('00ff7F', 'binary'), Buffer.from([0x00, 0xff, 0x7f]))
  t.equal(encodeText('abc', 'binary'), null)
  t.equal(encodeText('zz', 'binary'), null)
})

t.test('decodeText per data_coding', async (t) => {
  t.equal(decodeText(Buffer.from([0x48, 0x1b, 0x65]), 0), 'H€')
  t.equal(decodeText(Buffer.from([0x48, 0x1b, 0x65]), 0xf1), 'H€', 'message class, default alphabet')
  t.equal(decodeText(Buffer.from([0xab, 0xcd]), 0xf5), 'abcd', 'message class, 8-bit data is hex')
  t.equal(decodeText(Buffer.from('hi'), 1), 'hi')
  t.equal(decodeText(Buffer.from([0xe9]), 3), 'é')
  t.equal(decodeText(Buffer.from([0xd8, 0x3d, 0xde, 0x00]), 8), '😀')
  t.equal(decodeText(Buffer.from([0x00, 0x61, 0x00]), 8), 'a\ufffd', 'odd UCS2 length')
  t.equal(decodeText(Buffer.from([0xde, 0xad, 0xbe, 0xef]), 4), 'deadbeef')
  t.equal(decodeText(Buffer.from([0x0a]), 11), '0a', 'reserved dcs shows hex')
  t.equal(decodeText(Buffer.from([0x1b, 0x65]), 0x18), '\u1b65', 'UCS2 via general group')
})

t.test('pickCoding', async (t) => {
  t.equal(pickCoding('Hello {world} €5'), 'gsm')
  t.equal(pickCoding(''), 'gsm')
  t.equal(pickCoding('Привет'), 'ucs2')
  t.equal(pickCoding('ok 😀'), 'ucs2')
})

t.test('property: UCS2 decode(encode(x)) == x, including non-BMP characters', async (t) => {
  t.equal(failure(fc.property(fc.string({ unit: 'grapheme', maxLength: 100 }), (s) => {
    const enc = encodeText(s, 'ucs2')
    return enc !== null && enc.length === s.length * 2 && decodeText(enc, 8) === s
  })), undefined)
})

t.test('property: latin1 and binary round trip', async (t) => {
  t.equal(failure(fc.property(fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)) }), (s) => {
    return decodeText(encodeText(s, 'latin1')!, 3) === s
  })), undefined)
  t.equal(failure(fc.property(fc.uint8Array(), (a) => {
    return encodeText(decodeText(Buffer.from(a), 4), 'binary')!.equals(Buffer.from(a))
  })), undefined)
})

t.test('property: decodeText never throws for any octets and any data_coding', async (t) => {
  t.equal(failure(fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: -5, max: 300 }), (a, dcs) => {
    return typeof decodeText(Buffer.from(a), dcs) === 'string'
  })), undefined)
})
