/**
 * Property tests (fast-check), mqtt-packet's testRandom.js made biased: random input must never get
 * past the framer or the decoder as anything but a frame, a Pdu or an SmscError with a status to
 * answer with. Inputs lean towards the valid (table command_ids, matching command_length, mutated
 * fixtures, known TLV tags) so the body and TLV decoders run, not just the header check.
 */
import t from 'tap'
import fc from 'fast-check'
import { isDeepStrictEqual } from 'node:util'
import { HEADER_LENGTH } from '../../engine/protocol/constants'
import { decode, encode, type Pdu } from '../../engine/protocol/codec'
import type { FieldDef } from '../../engine/protocol/fields'
import { Framer } from '../../engine/protocol/framer'
import { PDUS, type PduDef } from '../../engine/protocol/pdus'
import { TLVS, TLV_BY_TAG, type TlvDef } from '../../engine/protocol/tlvs'
import { isSmscError } from '../../engine/errors'
import { FIXTURES } from './fixtures'

// fc.check + report: undefined when the property holds, the counterexample report when it fails.
const failure = <T>(p: fc.IPropertyWithHooks<T>, numRuns: number) => fc.defaultReportMessage(fc.check(p, { numRuns }))

const FRAMES = FIXTURES.map((f) => Buffer.from(f.hex, 'hex'))
const DEFS = Object.values(PDUS)
const u32 = fc.integer({ min: 0, max: 0xffffffff })
const bytes = (maxLength: number, minLength = 0) => fc.uint8Array({ minLength, maxLength }).map((a) => Buffer.from(a))

function withHeader(commandLength: number, commandId: number, status: number, seq: number, body: Buffer): Buffer {
  const h = Buffer.alloc(HEADER_LENGTH)
  h.writeUInt32BE(commandLength >>> 0, 0)
  h.writeUInt32BE(commandId >>> 0, 4)
  h.writeUInt32BE(status >>> 0, 8)
  h.writeUInt32BE(seq >>> 0, 12)
  return Buffer.concat([h, body])
}

// ------------------------------------------------------------- (a) framer

/** A frame with a valid command_length and a random body. */
const randomFrame = fc.tuple(u32, bytes(120)).map(([id, body]) => withHeader(HEADER_LENGTH + body.length, id, 0, 1, body))
const streamPiece = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...FRAMES) },
  { weight: 4, arbitrary: randomFrame },
  { weight: 1, arbitrary: bytes(24, 1) }, // garbage, usually an absurd command_length
)
const stream = fc.oneof(
  { weight: 1, arbitrary: bytes(600) },
  { weight: 4, arbitrary: fc.array(streamPiece, { maxLength: 12 }).map((p) => Buffer.concat(p)) },
)

t.test('(a) random streams in random chunkings: the framer never throws and yields only whole frames', async (t) => {
  const p = fc.property(stream, fc.array(fc.nat(), { maxLength: 24 }), fc.constantFrom(64, 200, 65536), (s, cuts, max) => {
    const points = [...new Set(cuts.map((c) => c % (s.length + 1)))].sort((a, b) => a - b)
    const framer = new Framer(max)
    const frames: Buffer[] = []
    let from = 0
    let ok = true
    for (const to of [...points, s.length]) {
      const out: Buffer[] = []
      ok = framer.push(s.subarray(from, to), out)
      for (const f of out) frames.push(Buffer.from(f))
      from = to
      if (!ok) break
    }
    let off = 0
    for (const f of frames) {
      const len = f.readUInt32BE(0)
      if (len !== f.length || len < HEADER_LENGTH || len > max) throw new Error(`frame of ${f.length} octets says ${len} (max ${max})`)
      if (!f.equals(s.subarray(off, off + len))) throw new Error(`frame at ${off} is not the stream's octets`)
      off += len
    }
    if (ok) {
      if (off + framer.buffered !== s.length) throw new Error(`${off} framed + ${framer.buffered} buffered != ${s.length}`)
      if (framer.buffered > max) throw new Error(`buffered ${framer.buffered} > max ${max}`)
    } else {
      const e = framer.error
      if (!e) throw new Error('push returned false without an error')
      if (e.commandLength >= HEADER_LENGTH && e.commandLength <= max) throw new Error(`error for a valid length ${e.commandLength}`)
      if (s.readUInt32BE(off) !== e.commandLength) throw new Error('the error is not about the header right after the last frame')
      if (s.readUInt32BE(off + 12) !== e.sequenceNumber) throw new Error('error sequenceNumber is not the header\'s')
    }
  })
  t.equal(failure(p, 10_000), undefined)
})

// ------------------------------------------------------------- (b) decode

type Mutation =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; data: Buffer }
  | { kind: 'tlv'; tag: number; length: number; value: Buffer }

const knownTag = fc.constantFrom(...TLVS.map((d) => d.tag))
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(0, 1, 2, 3, 0xff), fc.nat(255)) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), data: bytes(6, 1) }),
  fc.record({
    kind: fc.constant('tlv' as const),
    tag: fc.oneof({ weight: 4, arbitrary: knownTag }, { weight: 1, arbitrary: fc.nat(0xffff) }),
    length: fc.oneof({ weight: 4, arbitrary: fc.nat(8) }, { weight: 1, arbitrary: fc.nat(0xffff) }),
    value: bytes(8),
  }),
)

function mutate(frame: Buffer, muts: Mutation[]): Buffer {
  let body = frame.subarray(HEADER_LENGTH)
  const pos = (at: number) => at % (body.length + 1)
  for (const m of muts) {
    switch (m.kind) {
      case 'set': if (pos(m.at) < body.length) { body = Buffer.from(body); body[pos(m.at)] = m.value } break
      case 'cut': body = body.subarray(0, pos(m.at)); break
      case 'insert': body = Buffer.concat([body.subarray(0, pos(m.at)), m.data, body.subarray(pos(m.at))]); break
      case 'tlv': {
        const tl = Buffer.alloc(4)
        tl.writeUInt16BE(m.tag, 0)
        tl.writeUInt16BE(m.length, 2)
        body = Buffer.concat([body, tl, m.value.subarray(0, Math.min(m.value.length, m.length))])
        break
      }
    }
  }
  return Buffer.concat([frame.subarray(0, HEADER_LENGTH), body])
}

/** command_length matches the frame most of the time, else anything. */
const fixLength = (frame: Buffer, exact: boolean, other: number) => {
  const f = Buffer.from(frame)
  if (f.length >= 4) f.writeUInt32BE(exact ? f.length : other, 0)
  return f
}

const mutatedFixture = fc
  .tuple(fc.constantFrom(...FRAMES), fc.array(mutation, { maxLength: 4 }), fc.boolean(), u32)
  .map(([frame, muts, keepStatus, status]) => {
    const f = mutate(frame, muts)
    if (!keepStatus) f.writeUInt32BE(status, 8)
    return f
  })
const tableFrame = fc
  .tuple(
    fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...DEFS.map((d) => d.id)) }, { weight: 1, arbitrary: u32 }),
    fc.oneof(fc.constant(0), u32),
    u32,
    fc.oneof(bytes(40), bytes(300), fc.array(fc.oneof(bytes(6), fc.constant(Buffer.alloc(1))), { maxLength: 30 }).map((p) => Buffer.concat(p))),
  )
  .map(([id, status, seq, body]) => withHeader(0, id, status, seq, body))

/** Biased frames: mutated fixtures or table ids with random bodies; command_length right 9 times in 10. */
const biasedFrame = fc
  .tuple(fc.oneof(mutatedFixture, tableFrame), fc.integer({ min: 0, max: 9 }), u32, fc.nat(20))
  .map(([f, dice, len, shorten]) => (dice === 0 && shorten < 3 ? f.subarray(0, shorten * 5) : fixLength(f, dice !== 0, len)))

/** decode, classifying the outcome; throws for anything but a Pdu or a well-formed SmscError. */
function decodeOrStatus(frame: Buffer): { pdu: Pdu } | { status: number } {
  try {
    return { pdu: decode(frame) }
  } catch (e) {
    if (!isSmscError(e) || !Number.isInteger(e.commandStatus) || e.commandStatus <= 0) {
      throw new Error(`decode threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`)
    }
    return { status: e.commandStatus }
  }
}

t.test('(b) biased random frames: decode returns a Pdu or throws an SmscError with a command_status', async (t) => {
  let decoded = 0
  let rejected = 0
  const p = fc.property(biasedFrame, (frame) => {
    if ('pdu' in decodeOrStatus(frame)) decoded++
    else rejected++
  })
  t.equal(failure(p, 50_000), undefined)
  t.ok(decoded > 1_000, `${decoded} frames decoded: the bias reaches the body decoders`)
  t.ok(rejected > 1_000, `${rejected} frames rejected`)
})

// ------------------------------------------------------------- (c) mirror of decoded PDUs

t.test('(c) for every frame that decodes, encode(decode(x)) decodes to the same object', async (t) => {
  let decoded = 0
  const p = fc.property(biasedFrame, (frame) => {
    const r = decodeOrStatus(frame)
    if (!('pdu' in r)) return
    decoded++
    const again = decode(encode(r.pdu))
    if (!isDeepStrictEqual(again, r.pdu)) throw new Error(`mirror differs: ${JSON.stringify(again)} vs ${JSON.stringify(r.pdu)}`)
  })
  t.equal(failure(p, 20_000), undefined)
  t.ok(decoded > 1_000, `${decoded} decoded frames mirrored`)
})

// ------------------------------------------------------------- (d) table-generated PDUs

// fc.record builds null-prototype objects; the codec builds plain ones (isDeepStrictEqual sees it).
const plain = <T extends object>(a: fc.Arbitrary<T>) => a.map((r) => ({ ...r }))
const latin1NoNul = fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c))
const text = (maxLength: number) => fc.string({ unit: latin1NoNul, maxLength })
const ton = fc.nat(255)

function fieldArb(f: FieldDef): fc.Arbitrary<unknown> {
  switch (f.kind) {
    case 'u8': return fc.nat(0xff)
    case 'u16': return fc.nat(0xffff)
    case 'u32': return u32
    case 'cstring': return text(f.max - 1)
    case 'sm': return bytes(254)
    case 'dest_addresses':
      return fc.array(fc.oneof(
        plain(fc.record({ dest_flag: fc.constant(1 as const), dest_addr_ton: ton, dest_addr_npi: ton, destination_addr: text(20) })),
        plain(fc.record({ dest_flag: fc.constant(2 as const), dl_name: text(20) })),
      ), { minLength: 1, maxLength: 5 })
    case 'unsuccess_smes':
      return fc.array(plain(fc.record({ dest_addr_ton: ton, dest_addr_npi: ton, destination_addr: text(20), error_status_code: u32 })), { maxLength: 4 })
  }
}

function tlvArb(d: TlvDef): fc.Arbitrary<unknown> {
  const one = (): fc.Arbitrary<unknown> => {
    switch (d.type) {
      case 'u8': return fc.nat(0xff)
      case 'u16': return fc.nat(0xffff)
      case 'u32': return u32
      case 'flag': return fc.constant(true)
      case 'cstring': return text(Math.min((d.max ?? 256) - 1, 80))
      case 'octets': return d.size !== undefined ? bytes(d.size, d.size) : bytes(Math.min(d.max ?? 64, 64))
    }
  }
  return d.multiple ? fc.array(one(), { minLength: 1, maxLength: 3 }) : one()
}

const unknownTlv = plain(fc.record({
  tag: fc.nat(0xffff).filter((tag) => !TLV_BY_TAG.has(tag)),
  value: bytes(10),
}))

function pduArb(def: PduDef): fc.Arbitrary<Pdu> {
  const body: Record<string, fc.Arbitrary<unknown>> = {}
  for (const f of def.body) body[f.name] = fieldArb(f)
  const tlvs = def.tlvs
    ? fc.tuple(fc.subarray([...TLVS], { maxLength: 4 }).chain((ds) => fc.tuple(...ds.map((d) => tlvArb(d).map((v) => [d.name, v] as const)))),
      fc.array(unknownTlv, { maxLength: 2 }))
    : fc.constant([[], []] as const)
  return fc.tuple(fc.record(body), tlvs, fc.oneof(fc.constant(0), u32), fc.integer({ min: 1, max: 0x7fffffff })).map(([b, [known, unknown], status, seq]) => {
    const pdu: Pdu = { command: def.name, command_status: status, sequence_number: seq, ...b }
    for (const [name, v] of known) pdu[name] = v
    if (unknown.length > 0) pdu.unknown_tlvs = unknown
    return pdu
  })
}

t.test('(d) random PDUs built from the tables encode and decode back to themselves', async (t) => {
  const p = fc.property(fc.oneof(...DEFS.map(pduArb)), (pdu) => {
    const bytesOut = encode(pdu)
    const back = decode(bytesOut)
    if (!isDeepStrictEqual(back, pdu)) throw new Error(`decode(encode(pdu)) differs: ${JSON.stringify(back)}`)
    if (!encode(back).equals(bytesOut)) throw new Error('encode(decode(bytes)) differs from bytes')
  })
  t.equal(failure(p, 10_000), undefined)
})
