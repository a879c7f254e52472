/**
 * Codec fixtures, mqtt-packet style: every fixture is decoded, encoded and mirrored, and compared
 * byte for byte with what node-smpp (the npm `smpp` package, a codec we did not write) encodes for
 * the same PDU. Table coverage: every command of THE PDU TABLE has at least one fixture.
 */
import t from 'tap'
import fc from 'fast-check'
import { CommandStatus as S, type CommandName } from '../../engine/protocol/constants'
import { decode, encode, encodeIdResp, withoutTlvs, type Pdu } from '../../engine/protocol/codec'
import type { DestAddress } from '../../engine/protocol/fields'
import { PDUS } from '../../engine/protocol/pdus'
import { isSmscError } from '../../engine/errors'
import { FIXTURES } from './fixtures'

// node-smpp ships no types; this is the part of its API the interop checks use.
interface NodeSmppPdu { toBuffer(): Buffer }
const smpp = require('smpp') as { PDU: new (command: string, options: Record<string, unknown>) => NodeSmppPdu }

const fromHex = (hex: string) => Buffer.from(hex, 'hex')

function testPdu(name: string, pdu: Pdu, hex: string): void {
  t.test(`${name} decode`, async (t) => {
    t.strictSame(decode(fromHex(hex)), pdu)
  })
  t.test(`${name} encode`, async (t) => {
    t.equal(encode(pdu).toString('hex'), hex)
  })
  t.test(`${name} mirror`, async (t) => {
    t.strictSame(decode(encode(pdu)), pdu, 'decode(encode(pdu)) is the pdu')
    t.equal(encode(decode(fromHex(hex))).toString('hex'), hex, 'encode(decode(hex)) is the hex')
  })
}

for (const f of FIXTURES) testPdu(f.name, f.pdu, f.hex)

t.test('every command of the PDU table has a fixture', async (t) => {
  const covered = new Set(FIXTURES.map((f) => f.pdu.command))
  for (const name of Object.keys(PDUS) as CommandName[]) t.ok(covered.has(name), name)
})

t.test('fixture hex is well formed: even length, command_length matches', async (t) => {
  for (const f of FIXTURES) {
    t.match(f.hex, /^([0-9a-f]{2})+$/, `${f.name}: lower-case hex octets`)
    t.equal(fromHex(f.hex).readUInt32BE(0), f.hex.length / 2, `${f.name}: command_length`)
  }
})

// ------------------------------------------------------------- interop with node-smpp

/** Our pdu as node-smpp's constructor options (it names two list fields and one TLV differently). */
function nodeSmppOptions(pdu: Pdu): Record<string, unknown> {
  const o: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(pdu)) {
    if (k === 'command') continue
    if (k === 'dest_addresses') {
      o.dest_address = (v as DestAddress[]).map((d) =>
        d.dest_flag === 1
          ? { dest_addr_ton: d.dest_addr_ton, dest_addr_npi: d.dest_addr_npi, destination_addr: d.destination_addr }
          : { dl_name: d.dl_name })
    } else if (k === 'unsuccess_smes') {
      o.unsuccess_sme = (v as object[]).map((u) => ({ ...u }))
    } else if (k === 'destination_port') {
      o.dest_port = v // SMPP 3.4 §5.3.2.6 spells it destination_port; node-smpp says dest_port
    } else {
      o[k] = Array.isArray(v) ? [...v] : v // node-smpp's filters rewrite arrays in place
    }
  }
  return o
}

for (const f of FIXTURES) {
  if (f.nodeSmppSkip !== undefined) continue
  t.test(`${f.name}: node-smpp encodes the same bytes`, async (t) => {
    const theirs = new smpp.PDU(f.pdu.command, nodeSmppOptions(f.pdu)).toBuffer()
    t.equal(theirs.toString('hex'), f.hex, 'node-smpp bytes equal the fixture')
    t.strictSame(decode(theirs), f.pdu, 'we decode node-smpp bytes to the fixture pdu')
  })
}

t.test('node-smpp interop covers most fixtures and every skip says why', async (t) => {
  const skipped = FIXTURES.filter((f) => f.nodeSmppSkip !== undefined)
  for (const f of skipped) t.ok(f.nodeSmppSkip!.length > 10, `${f.name}: ${f.nodeSmppSkip}`)
  t.ok(FIXTURES.length - skipped.length >= 30, `${FIXTURES.length - skipped.length} fixtures checked against node-smpp`)
})

// ------------------------------------------------------------- behaviour beyond the fixtures

t.test('a response with status 0 and no body decodes to the zero values encode writes', async (t) => {
  // Seen in the field: deliver_sm_resp without even the message_id NUL (SMPP 3.4 §4.6.2 says NULL).
  const frame = fromHex('00000010' + '80000005' + '00000000' + '00000009')
  const pdu = decode(frame)
  t.strictSame(pdu, { command: 'deliver_sm_resp', command_status: 0, sequence_number: 9, message_id: '' })
  t.strictSame(decode(encode(pdu)), pdu, 'mirror')
})

t.test('a response body cut at a field boundary reads the missing fields as zero values', async (t) => {
  // query_sm_resp with only message_id "7"
  const frame = fromHex('00000012' + '80000003' + '00000000' + '00000001' + '3700')
  const pdu = decode(frame)
  t.strictSame(pdu, { command: 'query_sm_resp', command_status: 0, sequence_number: 1, message_id: '7', final_date: '', message_state: 0, error_code: 0 })
  t.strictSame(decode(encode(pdu)), pdu, 'mirror')
})

t.test('a failed response keeps its body when it carries TLVs', async (t) => {
  // Without the body, the TLV octets would be read back as message_id.
  const pdu: Pdu = { command: 'submit_sm_resp', command_status: S.ESME_RSUBMITFAIL, sequence_number: 3, additional_status_info_text: 'no route' }
  const bytes = encode(pdu)
  t.equal(bytes.toString('hex', 16, 17), '00', 'empty message_id is written')
  t.strictSame(decode(bytes), { ...pdu, message_id: '' })
})

t.test('encode gives missing body fields their zero value', async (t) => {
  const bytes = encode({ command: 'submit_sm', command_status: 0, sequence_number: 1, destination_addr: '123' })
  const back = decode(bytes)
  t.equal(back.destination_addr, '123')
  t.equal(back.source_addr, '')
  t.equal(back.esm_class, 0)
  t.equal(back.short_message.length, 0)
  t.equal(bytes.length, 16 + 17 + 3, 'header + 17 one-octet fields + "123"')
})

/** The SmscError code `fn` throws, or what it threw instead, or 'no throw'. */
function thrownCode(fn: () => unknown): unknown {
  try {
    fn()
  } catch (e) {
    return isSmscError(e) ? e.code : e
  }
  return 'no throw'
}

t.test('encode refuses an over-long field instead of writing a frame we would reject', async (t) => {
  const base = { command: 'submit_sm' as const, command_status: 0, sequence_number: 1 }
  t.equal(thrownCode(() => encode({ ...base, source_addr: '1'.repeat(21) })), 'SMSC_ERR_FIELD_INVALID', 'source_addr of 21')
  t.equal(thrownCode(() => encode({ ...base, short_message: Buffer.alloc(255) })), 'SMSC_ERR_FIELD_INVALID', 'short_message of 255')
  t.equal(thrownCode(() => encode({ ...base, command: 'nope' as CommandName })), 'SMSC_ERR_PDU_UNKNOWN_COMMAND', 'unknown command')
})

t.test('encode refuses counts and TLV lengths that would wrap their length octets', async (t) => {
  const multi = { command: 'submit_multi' as const, command_status: 0, sequence_number: 1 }
  const dl = (i: number): DestAddress => ({ dest_flag: 2, dl_name: `list${i}` })
  t.equal(thrownCode(() => encode({ ...multi, dest_addresses: Array.from({ length: 300 }, (_, i) => dl(i)) })), 'SMSC_ERR_FIELD_INVALID',
    '300 destinations (number_of_dests is one octet)')
  t.equal(thrownCode(() => encode({ ...multi, dest_addresses: [] })), 'SMSC_ERR_FIELD_INVALID', 'no destination (SMPP 3.4 §5.2.24: 1..254)')
  t.equal(decode(encode({ ...multi, dest_addresses: Array.from({ length: 254 }, (_, i) => dl(i)) })).dest_addresses.length, 254, '254 is fine')
  const smes = Array.from({ length: 256 }, () => ({ dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '1', error_status_code: 8 }))
  t.equal(thrownCode(() => encode({ command: 'submit_multi_resp', command_status: 0, sequence_number: 1, message_id: '1', unsuccess_smes: smes })),
    'SMSC_ERR_FIELD_INVALID', '256 unsuccess_smes (no_unsuccess is one octet)')
  const data = { command: 'data_sm' as const, command_status: 0, sequence_number: 1 }
  t.equal(thrownCode(() => encode({ ...data, message_payload: Buffer.alloc(0x10000) })), 'SMSC_ERR_FIELD_INVALID', 'message_payload of 65536')
  t.equal(thrownCode(() => encode({ ...data, unknown_tlvs: [{ tag: 0x1400, value: Buffer.alloc(0x10000) }] })), 'SMSC_ERR_FIELD_INVALID', 'unknown TLV of 65536')
  t.equal(thrownCode(() => encode({ ...data, receipted_message_id: 'x'.repeat(65) })), 'SMSC_ERR_FIELD_INVALID', 'receipted_message_id of 65 + NUL')
  t.equal(thrownCode(() => encode({ ...data, network_error_code: Buffer.from('0300', 'hex') })), 'SMSC_ERR_FIELD_INVALID', 'network_error_code of 2 (is 3)')
  t.equal(decode(encode({ ...data, message_payload: Buffer.alloc(0xffff) })).message_payload.length, 0xffff, 'message_payload of 65535 is fine')
})

t.test('TLVs given on a PDU that takes none are not written', async (t) => {
  const bytes = encode({ command: 'enquire_link', command_status: 0, sequence_number: 1, sc_interface_version: 0x34 })
  t.equal(bytes.length, 16)
})

t.test('keys that are not TLV names are ignored by encode', async (t) => {
  const bytes = encode({ command: 'submit_sm_resp', command_status: 0, sequence_number: 1, message_id: 'x', somethingElse: 5 })
  t.equal(bytes.toString('hex'), '00000012800000040000000000000001' + '7800')
})

t.test('the templated submit_sm_resp / data_sm_resp is the general encoder\'s output byte for byte', async (t) => {
  fc.assert(fc.property(
    fc.constantFrom('submit_sm_resp' as const, 'data_sm_resp' as const),
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF-'.split('')), maxLength: 64 }),
    (command, seq, id) => encodeIdResp(command, seq, id).equals(encode({ command, command_status: 0, sequence_number: seq, message_id: id })),
  ), { numRuns: 2000 })
  t.throws(() => encodeIdResp('submit_sm_resp', 1, 'x'.repeat(65)), /longer than 64 octets/, 'a message_id the spec does not allow is refused, as by encode')
  t.throws(() => encode({ command: 'submit_sm_resp', command_status: 0, sequence_number: 1, message_id: 'x'.repeat(65) }), /longer than 64 octets/)
})

t.test('withoutTlvs: what an SMPP 3.3 bind gets is the mandatory body only, the text kept', async (t) => {
  const receipt: Pdu = {
    command: 'deliver_sm', command_status: 0, sequence_number: 7,
    service_type: '', source_addr_ton: 1, source_addr_npi: 1, source_addr: '4915112345678',
    dest_addr_ton: 0, dest_addr_npi: 0, destination_addr: '12345', esm_class: 0x04, protocol_id: 0, priority_flag: 0,
    schedule_delivery_time: '', validity_period: '', registered_delivery: 0, replace_if_present_flag: 0, data_coding: 0, sm_default_msg_id: 0,
    short_message: Buffer.from('id:0000000042 sub:001 dlvrd:001 submit date:2612071200 done date:2612071200 stat:DELIVRD err:000 text:hi'),
    receipted_message_id: '0000000042', message_state: 2, network_error_code: Buffer.from([3, 0, 0]),
    unknown_tlvs: [{ tag: 0x1400, value: Buffer.from([1, 2]) }],
  }
  const full = encode(receipt)
  const bare = withoutTlvs(full)
  const d = decode(bare)
  t.equal(bare.readUInt32BE(0), bare.length, 'command_length is the new length')
  t.equal(d.sequence_number, 7)
  t.same(d.short_message, receipt.short_message, 'the text is kept')
  t.equal(d.esm_class, 0x04)
  for (const k of ['receipted_message_id', 'message_state', 'network_error_code', 'unknown_tlvs']) t.equal(d[k], undefined, `no ${k}`)
  t.same(bare.subarray(4), full.subarray(4, bare.length), 'after command_length, the same bytes up to the end of short_message')
  t.ok(bare.length < full.length)

  const payload = Buffer.from('a text carried in message_payload')
  const moved = decode(withoutTlvs(encode({ ...receipt, short_message: Buffer.alloc(0), message_payload: payload })))
  t.same(moved.short_message, payload, 'a message_payload that fits becomes the short_message')
  t.equal(moved.message_payload, undefined)
  const long = Buffer.alloc(300, 0x41)
  t.same(decode(withoutTlvs(encode({ ...receipt, short_message: Buffer.alloc(0), message_payload: long }))).message_payload, long, 'one that does not fit is kept: the text would be lost')

  const unbind = encode({ command: 'unbind', command_status: 0, sequence_number: 9 })
  t.same(withoutTlvs(unbind), unbind, 'a PDU with no TLVs is unchanged')
})
