/**
 * Submit validation (engine/session/submit.ts) as pure functions: each field check of submit_sm,
 * data_sm and submit_multi answers its precise command_status, and a valid submit becomes a draft
 * record with the times, addresses and payload the rest of the engine relies on.
 */
import t from 'tap'
import { CommandStatus as S, MessageState } from '../../engine/protocol/constants'
import type { Pdu } from '../../engine/protocol/codec'
import { formatSmppAbsolute } from '../../engine/protocol/time'
import { DEFAULT_LIMITS, validateSubmit, validateSubmitMulti, type Draft } from '../../engine/session/submit'

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0)
const HOUR = 3_600_000

function submit(over: Record<string, unknown> = {}): Pdu {
  return {
    command: 'submit_sm', command_status: 0, sequence_number: 1, service_type: '',
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '447700900001',
    dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '447700900002',
    esm_class: 0, protocol_id: 0, priority_flag: 0, schedule_delivery_time: '', validity_period: '',
    registered_delivery: 1, replace_if_present_flag: 0, data_coding: 0, sm_default_msg_id: 0,
    short_message: Buffer.from('hello', 'latin1'),
    ...over,
  }
}

function multi(dests: unknown[], over: Record<string, unknown> = {}): Pdu {
  return {
    command: 'submit_multi', command_status: 0, sequence_number: 2, service_type: '',
    source_addr_ton: 5, source_addr_npi: 0, source_addr: 'ACME', dest_addresses: dests,
    esm_class: 0, protocol_id: 0, priority_flag: 0, schedule_delivery_time: '', validity_period: '',
    registered_delivery: 1, replace_if_present_flag: 0, data_coding: 0, sm_default_msg_id: 0,
    short_message: Buffer.from('Hi all', 'latin1'),
    ...over,
  }
}

const status = (pdu: Pdu) => validateSubmit(pdu, 'u', NOW).status
function draftOf(pdu: Pdu): Draft {
  const r = validateSubmit(pdu, 'u', NOW)
  if (r.status !== 0 || !('draft' in r)) throw new Error(`expected a draft, got status 0x${r.status.toString(16)}`)
  return r.draft
}
/** `hours` from NOW as an absolute SMPP time. */
const at = (hours: number) => formatSmppAbsolute(NOW + hours * HOUR)

t.test('a valid submit_sm becomes a draft record', async (t) => {
  const pdu = submit({ user_message_reference: 7 })
  const d = draftOf(pdu)
  t.match(d, {
    systemId: 'u', state: MessageState.ENROUTE, err: 0, submitAt: NOW, doneAt: 0,
    src: [1, 1, '447700900001'], dests: [{ addr: [1, 1, '447700900002'], state: MessageState.ENROUTE, err: 0, doneAt: 0 }],
    registeredDelivery: 1, dataCoding: 0, scheduleAt: 0, expireAt: NOW + DEFAULT_LIMITS.defaultValidityMs, umr: 7,
  })
  t.same(d.sm, Buffer.from('hello'))
  t.not(d.sm, pdu.short_message, 'the draft owns a copy of the bytes, not a view of the socket chunk')
  t.notOk('id' in d, 'ids are allocated by the session for the whole batch')
})

t.test('TON and NPI (SMPP 3.4 §5.2.5, §5.2.6)', async (t) => {
  for (const ton of [0, 1, 2, 3, 4, 5, 6]) t.equal(status(submit({ source_addr_ton: ton, dest_addr_ton: ton })), 0, `ton ${ton} accepted`)
  for (const npi of [0, 1, 3, 4, 6, 8, 9, 10, 14, 18]) t.equal(status(submit({ source_addr_npi: npi, dest_addr_npi: npi })), 0, `npi ${npi} accepted`)
  t.equal(status(submit({ source_addr_ton: 7 })), S.ESME_RINVSRCTON)
  t.equal(status(submit({ source_addr_ton: 0xff })), S.ESME_RINVSRCTON)
  t.equal(status(submit({ source_addr_npi: 2 })), S.ESME_RINVSRCNPI)
  t.equal(status(submit({ source_addr_npi: 0xff })), S.ESME_RINVSRCNPI)
  t.equal(status(submit({ dest_addr_ton: 7 })), S.ESME_RINVDSTTON)
  t.equal(status(submit({ dest_addr_npi: 5 })), S.ESME_RINVDSTNPI)
  // The source is checked before the destination.
  t.equal(status(submit({ source_addr_ton: 9, dest_addr_ton: 9 })), S.ESME_RINVSRCTON)
})

t.test('destination_addr must not be empty; source_addr may be (SMSC default)', async (t) => {
  t.equal(status(submit({ destination_addr: '' })), S.ESME_RINVDSTADR)
  t.equal(status(submit({ source_addr: '' })), 0)
})

t.test('destination_addr is digits (a leading + allowed) unless alphanumeric (TON 5) or an Internet address (NPI 14)', async (t) => {
  for (const d of ['abc', '4915 1234', '49-151', '+', '4915112345678x', '++49151']) t.equal(status(submit({ destination_addr: d })), S.ESME_RINVDSTADR, `${JSON.stringify(d)} refused`)
  for (const d of ['4915112345678', '+4915112345678', '112', '0', '*100#']) t.equal(status(submit({ destination_addr: d })), 0, `${JSON.stringify(d)} accepted`)
  t.equal(status(submit({ dest_addr_ton: 5, destination_addr: 'ACME' })), 0, 'TON 5 alphanumeric')
  t.equal(status(submit({ dest_addr_npi: 14, destination_addr: '192.0.2.1' })), 0, 'NPI 14 Internet')
  t.equal(status(submit({ dest_addr_npi: 9, destination_addr: 'desk-7' })), 0, 'NPI 9 private')
  t.equal(status(submit({ dest_addr_npi: 18, destination_addr: 'wap:client' })), 0, 'NPI 18 WAP client id')
  t.equal(status(submit({ source_addr: 'Shop Ltd' })), 0, 'the source is not held to it (alphanumeric sender ids)')
})

t.test('esm_class message type bits (SMPP 3.4 §5.2.12)', async (t) => {
  // ESME → SMSC: default type, ESME delivery ack (0x08), ESME manual/user ack (0x10); any messaging mode
  for (const esm of [0x00, 0x01, 0x02, 0x03, 0x08, 0x10, 0x80]) t.equal(status(submit({ esm_class: esm })), 0, `0x${esm.toString(16)} accepted`)
  // SMSC → ESME types and reserved combinations
  for (const esm of [0x04, 0x0c, 0x18, 0x20, 0x24, 0x3c]) t.equal(status(submit({ esm_class: esm })), S.ESME_RINVESMCLASS, `0x${esm.toString(16)} refused`)
})

t.test('priority_flag and replace_if_present_flag ranges', async (t) => {
  // SMPP 3.4 §5.2.14: 0..3; SMPP 5.0 adds 4
  for (const p of [0, 1, 2, 3]) t.equal(status(submit({ priority_flag: p })), 0)
  t.equal(status(submit({ priority_flag: 4 })), S.ESME_RINVPRTFLG, '4 on a 3.4 bind')
  t.equal(validateSubmit(submit({ priority_flag: 4 }), 'u', NOW, { ...DEFAULT_LIMITS, smpp5: true }).status, 0, '4 on a 5.0 bind')
  t.equal(validateSubmit(submit({ priority_flag: 5 }), 'u', NOW, { ...DEFAULT_LIMITS, smpp5: true }).status, S.ESME_RINVPRTFLG)
  t.equal(status(submit({ replace_if_present_flag: 1 })), 0)
  t.equal(status(submit({ replace_if_present_flag: 2 })), S.ESME_RINVREPFLAG)
})

t.test('registered_delivery reserved bits 5..7 (SMPP 3.4 §5.2.17)', async (t) => {
  for (const rd of [0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x0c, 0x10, 0x1f]) t.equal(status(submit({ registered_delivery: rd })), 0, `0x${rd.toString(16)} accepted`)
  for (const rd of [0x20, 0x40, 0x80, 0x21, 0xff]) t.equal(status(submit({ registered_delivery: rd })), S.ESME_RINVREGDLVFLG, `0x${rd.toString(16)} refused`)
})

t.test('data_coding (SMPP 3.4 §5.2.19): reserved values are ESME_RINVDCS', async (t) => {
  for (const dcs of [0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x10, 0x18, 0xc0, 0xe0, 0xf0, 0xf4]) t.equal(status(submit({ data_coding: dcs })), 0, `0x${dcs.toString(16)} accepted`)
  for (const dcs of [0x0b, 0x0c, 0x0f, 0x0c | 0x10, 0x80, 0x9f, 0xb0]) t.equal(status(submit({ data_coding: dcs })), S.ESME_RINVDCS, `0x${dcs.toString(16)} refused`)
})

t.test('schedule_delivery_time (SMPP 3.4 §7.1): parse errors and range are ESME_RINVSCHED', async (t) => {
  for (const bad of ['garbage', '2501151300000', '250132120000000+', '251315120000000+', '250115250000000+', '250115120000049+', '25011512000000x+', '000000010000100R', '250115120000000*']) {
    t.equal(status(submit({ schedule_delivery_time: bad })), S.ESME_RINVSCHED, JSON.stringify(bad))
  }
  // Later than the longest validity the SMSC keeps a message
  t.equal(status(submit({ schedule_delivery_time: at(DEFAULT_LIMITS.maxValidityMs / HOUR + 1) })), S.ESME_RINVSCHED)
  // A valid future schedule: SCHEDULED, and the default validity counts from it
  const d = draftOf(submit({ schedule_delivery_time: at(2) }))
  t.equal(d.state, MessageState.SCHEDULED)
  t.equal(d.dests[0].state, MessageState.SCHEDULED)
  t.equal(d.scheduleAt, NOW + 2 * HOUR)
  t.equal(d.expireAt, NOW + 2 * HOUR + DEFAULT_LIMITS.defaultValidityMs)
  // Relative form: 1 hour from now
  t.equal(draftOf(submit({ schedule_delivery_time: '000000010000000R' })).scheduleAt, NOW + HOUR)
  // A schedule in the past means now: delivered straight away, not SCHEDULED
  t.equal(draftOf(submit({ schedule_delivery_time: at(-1) })).state, MessageState.ENROUTE)
})

t.test('validity_period (SMPP 3.4 §7.1): parse errors, the past, before the schedule are ESME_RINVEXPIRY', async (t) => {
  for (const bad of ['x', '2501151300000', '251301120000000+', '000000010000100R', '250115120000060-']) {
    t.equal(status(submit({ validity_period: bad })), S.ESME_RINVEXPIRY, JSON.stringify(bad))
  }
  t.equal(status(submit({ validity_period: at(-1) })), S.ESME_RINVEXPIRY, 'absolute, in the past')
  t.equal(status(submit({ validity_period: formatSmppAbsolute(NOW) })), S.ESME_RINVEXPIRY, 'absolute, exactly now')
  t.equal(status(submit({ validity_period: '000000000000000R' })), S.ESME_RINVEXPIRY, 'relative zero')
  t.equal(status(submit({ schedule_delivery_time: at(3), validity_period: at(2) })), S.ESME_RINVEXPIRY, 'expires before it is due')
  t.equal(draftOf(submit({ validity_period: at(5) })).expireAt, NOW + 5 * HOUR)
  t.equal(draftOf(submit({ validity_period: '000001000000000R' })).expireAt, NOW + 24 * HOUR, 'relative one day')
  // Longer than the maximum is clamped, not refused
  t.equal(draftOf(submit({ validity_period: '010000000000000R' })).expireAt, NOW + DEFAULT_LIMITS.maxValidityMs)
  // Custom limits apply
  const r = validateSubmit(submit(), 'u', NOW, { defaultValidityMs: 1000, maxValidityMs: 2000 })
  t.equal(r.status === 0 && 'draft' in r ? r.draft.expireAt : -1, NOW + 1000)
})

t.test('message_payload (SMPP 3.4 §5.3.2.32): with sm_length > 0 it is ESME_RINVMSGLEN', async (t) => {
  const payload = Buffer.alloc(300, 0x41)
  t.equal(status(submit({ message_payload: payload })), S.ESME_RINVMSGLEN)
  const d = draftOf(submit({ short_message: Buffer.alloc(0), message_payload: payload }))
  t.same(d.sm, payload)
  t.same(draftOf(submit({ short_message: undefined, message_payload: Buffer.from('x') })).sm, Buffer.from('x'))
})

t.test('UDHI (SMPP 3.4 §5.2.12) needs a well-formed UDH at the start of the message', async (t) => {
  t.equal(status(submit({ esm_class: 0x40, short_message: Buffer.from('hello') })), S.ESME_RINVESMCLASS, 'UDHL 0x68 overruns')
  t.equal(status(submit({ esm_class: 0x40, short_message: Buffer.alloc(0) })), S.ESME_RINVESMCLASS, 'no UDH at all')
  t.equal(status(submit({ esm_class: 0x40, short_message: Buffer.from('0500032a02', 'hex') })), S.ESME_RINVESMCLASS, 'IE cut short')
  t.equal(status(submit({ esm_class: 0x40, short_message: Buffer.from('0500032a020148656c6c6f', 'hex') })), 0, 'concat 1/2')
  t.equal(status(submit({ esm_class: 0x40, short_message: Buffer.alloc(0), message_payload: Buffer.from('0500032a0201' + '41'.repeat(140), 'hex') })), 0, 'UDH in message_payload')
})

t.test('SAR TLVs (SMPP 3.4 §5.3.2.22-24): all three or none, 1 <= seqnum <= total', async (t) => {
  const sar = { sar_msg_ref_num: 42, sar_total_segments: 3, sar_segment_seqnum: 2 }
  t.equal(status(submit(sar)), 0)
  t.same(draftOf(submit(sar)).part, [2, 3], 'the record knows it is part 2 of 3')
  t.notOk('part' in draftOf(submit()), 'no SAR TLVs, no part')
  t.equal(status(submit({ sar_msg_ref_num: 42 })), S.ESME_RMISSINGTLV)
  t.equal(status(submit({ sar_total_segments: 3 })), S.ESME_RMISSINGTLV)
  t.equal(status(submit({ sar_msg_ref_num: 42, sar_total_segments: 3 })), S.ESME_RMISSINGTLV)
  t.equal(status(submit({ sar_msg_ref_num: 42, sar_segment_seqnum: 1 })), S.ESME_RMISSINGTLV)
  t.equal(status(submit({ ...sar, sar_segment_seqnum: 4 })), S.ESME_RINVTLVVAL, 'seqnum > total')
  t.equal(status(submit({ ...sar, sar_segment_seqnum: 0 })), S.ESME_RINVTLVVAL, 'seqnum 0')
  t.equal(status(submit({ ...sar, sar_total_segments: 0, sar_segment_seqnum: 0 })), S.ESME_RINVTLVVAL, 'total 0')
  t.equal(status(submit({ ...sar, sar_total_segments: 3, sar_segment_seqnum: 3 })), 0, 'last part')
})

t.test('data_sm (SMPP 3.4 §4.7.1) goes through the same checks', async (t) => {
  const dataSm: Pdu = {
    command: 'data_sm', command_status: 0, sequence_number: 3, service_type: '',
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '447700900001', dest_addr_ton: 1, dest_addr_npi: 1,
    destination_addr: '447700900002', esm_class: 0, registered_delivery: 1, data_coding: 4,
    message_payload: Buffer.from('payload'),
  }
  const r = validateSubmit(dataSm, 'u', NOW)
  t.equal(r.status, 0)
  t.same(r.status === 0 && 'draft' in r ? r.draft.sm : null, Buffer.from('payload'))
  t.equal(validateSubmit({ ...dataSm, destination_addr: '' }, 'u', NOW).status, S.ESME_RINVDSTADR)
  t.equal(validateSubmit({ ...dataSm, data_coding: 0x0f }, 'u', NOW).status, S.ESME_RINVDCS)
  t.equal(validateSubmit({ ...dataSm, registered_delivery: 0x40 }, 'u', NOW).status, S.ESME_RINVREGDLVFLG)
})

t.test('submit_multi (SMPP 3.4 §4.5): distribution lists and bad addresses go to unsuccess_sme', async (t) => {
  const r = validateSubmitMulti(multi([
    { dest_flag: 1, dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '447700900003' },
    { dest_flag: 2, dl_name: 'friends' },
    { dest_flag: 1, dest_addr_ton: 9, dest_addr_npi: 1, destination_addr: '447700900004' },
    { dest_flag: 1, dest_addr_ton: 1, dest_addr_npi: 7, destination_addr: '447700900005' },
    { dest_flag: 1, dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '' },
    { dest_flag: 1, dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '447700900006' },
  ]), 'u', NOW)
  t.equal(r.status, 0, 'accepted: some destinations are good')
  t.same(r.unsuccess, [
    { dest_addr_ton: 0, dest_addr_npi: 0, destination_addr: 'friends', error_status_code: S.ESME_RINVDLNAME },
    { dest_addr_ton: 9, dest_addr_npi: 1, destination_addr: '447700900004', error_status_code: S.ESME_RINVDSTTON },
    { dest_addr_ton: 1, dest_addr_npi: 7, destination_addr: '447700900005', error_status_code: S.ESME_RINVDSTNPI },
    { dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '', error_status_code: S.ESME_RINVDSTADR },
  ])
  const draft = r.status === 0 && 'draft' in r ? r.draft : null
  t.same(draft?.dests.map((d) => d.addr), [[1, 1, '447700900003'], [1, 1, '447700900006']], 'one record, only the good destinations')
  t.same(draft?.src, [5, 0, 'ACME'])
})

t.test('submit_multi with no good destination is ESME_RSUBMITFAIL, still listing why', async (t) => {
  const r = validateSubmitMulti(multi([{ dest_flag: 2, dl_name: 'friends' }, { dest_flag: 1, dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '' }]), 'u', NOW)
  t.equal(r.status, S.ESME_RSUBMITFAIL)
  t.notOk('draft' in r)
  t.same(r.unsuccess?.map((u) => u.error_status_code), [S.ESME_RINVDLNAME, S.ESME_RINVDSTADR])
})

t.test('submit_multi: source and whole-message checks refuse the whole submit', async (t) => {
  const good = [{ dest_flag: 1, dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '447700900003' }]
  t.equal(validateSubmitMulti(multi(good), 'u', NOW).status, 0)
  t.equal(validateSubmitMulti(multi(good, { source_addr_ton: 7 }), 'u', NOW).status, S.ESME_RINVSRCTON)
  t.equal(validateSubmitMulti(multi(good, { source_addr_npi: 2 }), 'u', NOW).status, S.ESME_RINVSRCNPI)
  t.equal(validateSubmitMulti(multi(good, { data_coding: 0x0b }), 'u', NOW).status, S.ESME_RINVDCS)
  t.equal(validateSubmitMulti(multi(good, { esm_class: 0x04 }), 'u', NOW).status, S.ESME_RINVESMCLASS)
  t.equal(validateSubmitMulti(multi(good, { validity_period: at(-1) }), 'u', NOW).status, S.ESME_RINVEXPIRY)
  t.equal(validateSubmitMulti(multi(good, { schedule_delivery_time: 'bad' }), 'u', NOW).status, S.ESME_RINVSCHED)
  t.equal(validateSubmitMulti(multi(good, { sar_msg_ref_num: 1 }), 'u', NOW).status, S.ESME_RMISSINGTLV)
})
