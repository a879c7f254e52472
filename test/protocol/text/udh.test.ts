import t from 'tap'
import fc from 'fast-check'
import { buildConcatUdh, parseUdh, type ConcatInfo } from '../../../engine/protocol/text/udh'

const failure = <T>(p: fc.IPropertyWithHooks<T>, numRuns = 500) => fc.defaultReportMessage(fc.check(p, { numRuns }))

t.test('8-bit reference concat header', async (t) => {
  const udh = buildConcatUdh({ ref: 0x2a, total: 3, seq: 2, bits: 8 })
  t.same([...udh], [0x05, 0x00, 0x03, 0x2a, 0x03, 0x02])
  const sm = Buffer.concat([udh, Buffer.from('hello')])
  const p = parseUdh(sm)!
  t.same(p.concat, { ref: 0x2a, total: 3, seq: 2, bits: 8 })
  t.equal(p.payload.toString(), 'hello')
  t.equal(p.ies.length, 1)
  t.equal(p.ies[0].iei, 0x00)
  t.same([...p.ies[0].data], [0x2a, 0x03, 0x02])
})

t.test('16-bit reference concat header', async (t) => {
  const udh = buildConcatUdh({ ref: 0xbeef, total: 4, seq: 4, bits: 16 })
  t.same([...udh], [0x06, 0x08, 0x04, 0xbe, 0xef, 0x04, 0x04])
  const p = parseUdh(Buffer.concat([udh, Buffer.from([1, 2])]))!
  t.same(p.concat, { ref: 0xbeef, total: 4, seq: 4, bits: 16 })
  t.same([...p.payload], [1, 2])
})

t.test('other IEs are listed and the concat IE is found among them', async (t) => {
  // UDHL 11: port addressing 16-bit (05 04 0b84 23f0), then concat 8-bit (00 03 01 02 01)
  const sm = Buffer.from('0b05040b8423f0000301020178', 'hex')
  const p = parseUdh(sm)!
  t.same(p.ies.map((ie) => ie.iei), [0x05, 0x00])
  t.same([...p.ies[0].data], [0x0b, 0x84, 0x23, 0xf0])
  t.same(p.concat, { ref: 1, total: 2, seq: 1, bits: 8 })
  t.same([...p.payload], [0x78])
})

t.test('an empty UDH and a UDH with no payload are valid', async (t) => {
  t.same(parseUdh(Buffer.from([0x00, 0x41])), { ies: [], payload: Buffer.from([0x41]) })
  const p = parseUdh(Buffer.from('050003010101', 'hex'))!
  t.equal(p.payload.length, 0)
  t.ok(p.concat)
})

t.test('UDHL or an IE length overrunning the buffer gives null', async (t) => {
  t.equal(parseUdh(Buffer.alloc(0)), null, 'empty short_message')
  t.equal(parseUdh(Buffer.from([0x05, 0x00, 0x03, 0x01, 0x02])), null, 'UDHL 5 with 4 octets after it')
  t.equal(parseUdh(Buffer.from([0xff, 0x00])), null)
  t.equal(parseUdh(Buffer.from([0x03, 0x00, 0x03, 0x01, 0x41, 0x42])), null, 'IE length runs past the UDH')
  t.equal(parseUdh(Buffer.from([0x01, 0x00, 0x41])), null, 'IE header cut by the UDH end')
})

t.test('a concat IE with seq 0, total 0, seq > total or the wrong length is ignored', async (t) => {
  for (const hex of ['050003010200', '050003010001', '050003010203', '0400020102', '06080401020300']) {
    const p = parseUdh(Buffer.from(hex, 'hex'))
    t.ok(p, hex)
    t.equal(p!.concat, undefined, hex)
  }
})

t.test('property: parse(build(info) + payload) gives info and payload back', async (t) => {
  const info = fc.oneof(
    fc.record({ ref: fc.integer({ min: 0, max: 255 }), bits: fc.constant<8>(8) }),
    fc.record({ ref: fc.integer({ min: 0, max: 0xffff }), bits: fc.constant<16>(16) }),
  ).chain((r) => fc.integer({ min: 1, max: 255 }).chain((total) =>
    fc.integer({ min: 1, max: total }).map((seq): ConcatInfo => ({ ...r, total, seq }))))
  t.equal(failure(fc.property(info, fc.uint8Array({ maxLength: 140 }), (i, payload) => {
    const p = parseUdh(Buffer.concat([buildConcatUdh(i), payload]))
    return p !== null && JSON.stringify(p.concat) === JSON.stringify({ ref: i.ref, total: i.total, seq: i.seq, bits: i.bits }) &&
      p.payload.equals(payload)
  })), undefined)
})

t.test('property: parseUdh never throws on random bytes', async (t) => {
  t.equal(failure(fc.property(fc.uint8Array({ maxLength: 64 }), (a) => {
    const p = parseUdh(Buffer.from(a))
    return p === null || p.payload.length === a.length - 1 - a[0]
  })), undefined)
})
