import t from 'tap'
import fc from 'fast-check'
import { receiptItem, recordText, isFinal, moText, type Destination, type MessageRecord } from '../engine/message'
import { encode, decode, type Pdu } from '../engine/protocol/codec'
import { formatReceipt, statOfState } from '../engine/protocol/dlr'
import { gsm7Encode, gsm7Septets } from '../engine/protocol/text/gsm7'
import { EsmClass, MessageState } from '../engine/protocol/constants'

const failure = <T>(p: fc.IPropertyWithHooks<T>, numRuns = 2000) => fc.defaultReportMessage(fc.check(p, { numRuns }))

/**
 * The receipt as the general encoder writes it from the Appendix B text (SMPP 3.4): the reference the
 * templated receipt encoder must match byte for byte.
 */
function referenceFrame(r: MessageRecord, d: Destination, now: number): Buffer {
  const final = isFinal(d.state)
  const text = formatReceipt({
    id: r.id, sub: 1, dlvrd: d.state === MessageState.DELIVERED ? 1 : 0, submitDate: r.submitAt,
    doneDate: final ? d.doneAt : now, stat: statOfState(d.state === MessageState.SCHEDULED ? MessageState.ENROUTE : d.state), err: d.err, text: recordText(r),
  })
  const lossy = gsm7Encode(Array.from(text, (c) => (gsm7Septets(c) < 0 ? '?' : c)).join(''))!
  const pdu: Pdu = {
    command: 'deliver_sm', command_status: 0, sequence_number: 0,
    service_type: '', source_addr_ton: d.addr[0], source_addr_npi: d.addr[1], source_addr: d.addr[2],
    dest_addr_ton: r.src[0], dest_addr_npi: r.src[1], destination_addr: r.src[2],
    esm_class: final ? EsmClass.MC_DELIVERY_RECEIPT : EsmClass.INTERMEDIATE_NOTIFICATION,
    data_coding: 0, short_message: lossy, receipted_message_id: r.id,
    message_state: d.state === MessageState.SCHEDULED ? MessageState.ENROUTE : d.state,
    network_error_code: Buffer.from([3, (d.err >> 8) & 0xff, d.err & 0xff]),
  }
  if (r.umr !== undefined) pdu.user_message_reference = r.umr
  return encode(pdu)
}

const addr = fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 18 }), fc.stringMatching(/^[0-9A-Za-z+ ]{0,20}$/))
  .map((a): [number, number, string] => a)
const TIME = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2099, 0, 1) })
// Text codings (GSM, IA5, Latin-1, UCS2 and DCS groups of them) and opaque ones; bodies of any octets.
const DCS = fc.constantFrom(0, 1, 2, 3, 4, 8, 0x10, 0x18, 0xc0, 0xe0, 0xf0, 0xf4, 11)
const record = fc.record({
  id: fc.stringMatching(/^[0-9a-f]{10}$/),
  src: addr,
  dest: addr,
  state: fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
  err: fc.integer({ min: 0, max: 0xffff }),
  submitAt: TIME,
  doneAt: TIME,
  now: TIME,
  dataCoding: DCS,
  udhi: fc.boolean(),
  sm: fc.oneof(
    fc.uint8Array({ maxLength: 160 }),
    fc.uint8Array({ maxLength: 60 }).map((a) => a.map((b) => b & 0x7f)),
    fc.stringMatching(/^[ -~]{0,40}$/).map((s) => new TextEncoder().encode(s)),
  ),
  umr: fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }),
})

function build(x: typeof record extends fc.Arbitrary<infer R> ? R : never): [MessageRecord, Destination] {
  const d: Destination = { addr: x.dest, state: x.state, err: x.err, doneAt: x.doneAt }
  const r = {
    id: x.id, systemId: 'acct', state: x.state, err: x.err, submitAt: x.submitAt, doneAt: x.doneAt, src: x.src, dests: [d],
    serviceType: '', esmClass: x.udhi ? EsmClass.UDHI : 0, protocolId: 0, priority: 0, dataCoding: x.dataCoding, registeredDelivery: 1,
    sm: Buffer.from(x.sm), scheduleAt: 0, expireAt: 0, umr: x.umr,
  } as MessageRecord
  return [r, d]
}

t.test('receipt frames are the general encoder\'s deliver_sm byte for byte, for any text, coding, address and state', async (t) => {
  t.equal(failure(fc.property(record, (x) => {
    const [r, d] = build(x)
    const got = receiptItem(r, d, x.now).frame as Buffer
    const want = referenceFrame(r, d, x.now)
    if (!got.equals(want)) throw new Error(`got ${got.toString('hex')}\nwant ${want.toString('hex')}`)
  })), undefined)
})

t.test('a receipt decodes as deliver_sm with the Appendix B text and the receipt TLVs', async (t) => {
  const d: Destination = { addr: [1, 1, '447700900001'], state: MessageState.DELIVERED, err: 0, doneAt: Date.UTC(2026, 10, 25, 12, 31) }
  const r = {
    id: '0000000042', systemId: 'acct', state: d.state, err: 0, submitAt: Date.UTC(2026, 10, 25, 12, 30), doneAt: d.doneAt,
    src: [5, 0, 'ACME'], dests: [d], serviceType: '', esmClass: 0, protocolId: 0, priority: 0, dataCoding: 0,
    registeredDelivery: 1, sm: gsm7Encode('Price: 5€ at the shop, today only')!, scheduleAt: 0, expireAt: 0, umr: 7,
  } as MessageRecord
  const pdu = decode(receiptItem(r, d, Date.now()).frame as Buffer)
  t.equal(pdu.command, 'deliver_sm')
  t.equal(pdu.source_addr, '447700900001')
  t.equal(pdu.destination_addr, 'ACME')
  t.equal(pdu.esm_class, EsmClass.MC_DELIVERY_RECEIPT)
  // The € is an escape sequence in GSM 03.38: 20 characters are 21 septets.
  t.equal((pdu.short_message as Buffer).toString('latin1').replace('\x1be', '€'),
    'id:0000000042 sub:001 dlvrd:001 submit date:2611251230 done date:2611251231 stat:DELIVRD err:000 text:Price: 5€ at the sho')
  t.equal(pdu.receipted_message_id, '0000000042')
  t.equal(pdu.message_state, MessageState.DELIVERED)
  t.same([...(pdu.network_error_code as Buffer)], [3, 0, 0])
  t.equal(pdu.user_message_reference, 7)
})

t.test('a receipt to an address longer than deliver_sm allows is refused, not truncated', async (t) => {
  const d: Destination = { addr: [1, 1, '1'.repeat(21)], state: MessageState.DELIVERED, err: 0, doneAt: 0 }
  const r = { id: '1', systemId: 'a', src: [0, 0, 'x'], dests: [d], esmClass: 0, dataCoding: 0, sm: Buffer.alloc(0), submitAt: 0 } as unknown as MessageRecord
  t.throws(() => receiptItem(r, d, 0), { code: 'SMSC_ERR_FIELD_INVALID' })
})

t.test('moText: an MO part\'s text without its UDH, and where it sits', async (t) => {
  const udh8 = Buffer.from([0x05, 0x00, 0x03, 0x2a, 0x02, 0x01])
  const gsmPart = Buffer.concat([udh8, gsm7Encode('KEYWORD hello')!])
  t.same(moText(gsmPart, EsmClass.UDHI, 0), { text: 'KEYWORD hello', part: [1, 2], ref: 0x2a }, 'GSM: the header is not text (a keyword still starts the text)')
  t.same(moText(gsmPart, 0, 0).part, null, 'without UDHI the octets are all text')
  const udh16 = Buffer.from([0x06, 0x08, 0x04, 0x01, 0x02, 0x03, 0x03])
  t.same(moText(Buffer.concat([udh16, Buffer.from('Grüße 👋', 'utf16le').swap16()]), EsmClass.UDHI, 8), { text: 'Grüße 👋', part: [3, 3], ref: 0x0102 }, 'UCS2 with a 16-bit reference: the odd-length header does not shift the text')
  t.same(moText(gsm7Encode('one piece')!, 0, 0), { text: 'one piece', part: null, ref: null }, 'a message in one piece')
})

t.test('moText: a part that says where it sits with the SAR TLVs (SMPP 3.4 §5.3.2.22–24) instead of a UDH', async (t) => {
  t.same(moText(gsm7Encode('JOIN the club')!, 0, 0, { ref: 0x1234, total: 3, seq: 1 }), { text: 'JOIN the club', part: [1, 3], ref: 0x1234 }, 'part and ref from the TLVs, a 16-bit ref')
  t.same(moText(gsm7Encode(' and more')!, 0, 0, { ref: 7, total: 3, seq: 2 }).part, [2, 3], 'a later part')
  t.same(moText(gsm7Encode('whole')!, 0, 0, { ref: 7, total: 1, seq: 1 }), { text: 'whole', part: null, ref: null }, '1 of 1: a message in one piece')
  const udh8 = Buffer.from([0x05, 0x00, 0x03, 0x2a, 0x02, 0x01])
  t.same(moText(Buffer.concat([udh8, gsm7Encode('both')!]), EsmClass.UDHI, 0, { ref: 9, total: 2, seq: 2 }), { text: 'both', part: [2, 2], ref: 9 },
    'UDH and TLVs both: the TLVs win (as in a submit), the header is still not text')
})
