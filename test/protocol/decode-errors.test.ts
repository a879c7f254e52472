/**
 * Malformed frames: each case is named by its outcome, the command_status the SMSC answers with
 * (SMPP 3.4 §5.1.3), and checks that decode() throws an SmscError carrying exactly that status, and
 * that the header stays readable (peekHeader) so the answer can reuse the sequence_number.
 */
import t from 'tap'
import { CommandId, CommandStatus, type CommandName, type StatusName } from '../../engine/protocol/constants'
import { decode, peekHeader } from '../../engine/protocol/codec'
import { isSmscError, type SmscErrorCode } from '../../engine/errors'

const SEQ = 0x01020304

/** A frame for `command` with a correct command_length around the given body rows. */
function frame(command: CommandName | number, ...body: string[]): string {
  const id = typeof command === 'number' ? command : CommandId[command]
  const bodyHex = body.join('')
  const hex = (n: number) => n.toString(16).padStart(8, '0')
  return hex(16 + bodyHex.length / 2) + hex(id) + '00000000' + hex(SEQ) + bodyHex
}

const ascii = (s: string) => Buffer.from(s, 'latin1').toString('hex')
const cstr = (s: string) => ascii(s) + '00'

function testDecodeError(expected: StatusName, why: string, hex: string, code?: SmscErrorCode): void {
  t.test(`${expected}: ${why}`, async (t) => {
    const buf = Buffer.from(hex, 'hex')
    let thrown: unknown
    try {
      const pdu = decode(buf)
      t.fail(`decoded without error: ${JSON.stringify(pdu)}`)
    } catch (e) {
      thrown = e
    }
    t.ok(isSmscError(thrown), `an SmscError, got ${String(thrown)}`)
    if (!isSmscError(thrown)) return
    t.equal(thrown.commandStatus, CommandStatus[expected], `commandStatus ${expected}`)
    if (code !== undefined) t.equal(thrown.code, code)
    if (buf.length >= 16) t.equal(peekHeader(buf).sequence_number, buf.readUInt32BE(12), 'sequence_number still readable')
  })
}

// bind_transmitter body after system_id (SMPP 3.4 §4.1.1)
const bindRest =
  cstr('secret') +   // password
  cstr('') +         // system_type
  '34' +             // interface_version 0x34
  '00' + '00' +      // addr_ton, addr_npi
  cstr('')           // address_range

// submit_sm body from esm_class on, with an empty short_message (SMPP 3.4 §4.4.1)
const smTail =
  '00' + '00' + '00' + // esm_class, protocol_id, priority_flag
  '00' + '00' +        // schedule_delivery_time "", validity_period ""
  '01' + '00' +        // registered_delivery, replace_if_present_flag
  '00' + '00'          // data_coding, sm_default_msg_id
const addr = (s: string) => '01' + '01' + cstr(s) // ton 1, npi 1, address
const submitSm = (...tail: string[]) =>
  frame('submit_sm', cstr(''), addr('447700900001'), addr('447700900002'), smTail, ...tail)

// submit_multi up to the dest_address list (SMPP 3.4 §4.5.1)
const multiHead = cstr('') + addr('ACME')
const multiTail = smTail + '00' // ... sm_length 0

// ------------------------------------------------------------- header

testDecodeError('ESME_RINVCMDID', 'unknown command_id 0x00000999',
  frame(0x00000999), 'SMSC_ERR_PDU_UNKNOWN_COMMAND')
testDecodeError('ESME_RINVCMDID', 'unknown response id 0x80000999',
  frame(0x80000999, '00'), 'SMSC_ERR_PDU_UNKNOWN_COMMAND')
testDecodeError('ESME_RINVCMDID', 'alert_notification_resp does not exist (SMPP 3.4 §4.12)',
  frame(0x80000102), 'SMSC_ERR_PDU_UNKNOWN_COMMAND')
testDecodeError('ESME_RINVCMDLEN', 'frame shorter than the 16-octet header',
  '0000000c' + '00000015' + '00000000', 'SMSC_ERR_PDU_TOO_SHORT')
testDecodeError('ESME_RINVCMDLEN', 'command_length differs from the frame length',
  '00000011' + '00000015' + '00000000' + '00000001', 'SMSC_ERR_PDU_MALFORMED')

// ------------------------------------------------------------- C-Octet String maxima (SMPP 3.4 §4)

testDecodeError('ESME_RINVSYSID', 'system_id of 16 octets without NUL in bind_transmitter',
  frame('bind_transmitter', ascii('ABCDEFGHIJKLMNOP'), bindRest))
testDecodeError('ESME_RINVSYSID', 'system_id of 16 octets without NUL in bind_transceiver_resp',
  frame('bind_transceiver_resp', ascii('ABCDEFGHIJKLMNOP') + '00'))
testDecodeError('ESME_RINVPASWD', 'password of 9 octets in bind_receiver',
  frame('bind_receiver', cstr('esme'), cstr('123456789'), cstr(''), '34', '00', '00', cstr('')))
testDecodeError('ESME_RINVSYSTYP', 'system_type of 13 octets in bind_transceiver',
  frame('bind_transceiver', cstr('esme'), cstr('pw'), cstr('ABCDEFGHIJKLM'), '34', '00', '00', cstr('')))
testDecodeError('ESME_RINVSRCADR', 'address_range of 41 octets in bind_transmitter',
  frame('bind_transmitter', cstr('esme'), cstr('pw'), cstr(''), '34', '00', '00', cstr('1'.repeat(41))))
testDecodeError('ESME_RINVSRCADR', 'source_addr of 21 octets in submit_sm',
  frame('submit_sm', cstr(''), addr('1'.repeat(21)), addr('447700900002'), smTail, '00'))
testDecodeError('ESME_RINVDSTADR', 'destination_addr of 21 octets in submit_sm',
  frame('submit_sm', cstr(''), addr('447700900001'), addr('2'.repeat(21)), smTail, '00'))
testDecodeError('ESME_RINVSERTYP', 'service_type of 6 octets in submit_sm',
  frame('submit_sm', cstr('ABCDEF'), addr('447700900001'), addr('447700900002'), smTail, '00'))
testDecodeError('ESME_RINVSRCADR', 'source_addr of 65 octets in data_sm',
  frame('data_sm', cstr(''), addr('1'.repeat(65)), addr('2'), '00', '00', '00'))
testDecodeError('ESME_RINVSCHED', 'schedule_delivery_time of 17 octets in submit_sm',
  frame('submit_sm', cstr(''), addr('1'), addr('2'), '00', '00', '00', cstr('2501011200000000+'), cstr(''), '01', '00', '00', '00', '00'))
testDecodeError('ESME_RINVEXPIRY', 'validity_period of 17 octets in submit_sm',
  frame('submit_sm', cstr(''), addr('1'), addr('2'), '00', '00', '00', cstr(''), cstr('2501011200000000+'), '01', '00', '00', '00', '00'))
testDecodeError('ESME_RINVMSGID', 'message_id of 65 octets in query_sm',
  frame('query_sm', cstr('9'.repeat(65)), addr('447700900001')))
testDecodeError('ESME_RINVCMDLEN', 'body ends inside source_addr (no NUL, shorter than its maximum)',
  frame('submit_sm', cstr(''), '01', '01', ascii('4477')), 'SMSC_ERR_PDU_MALFORMED')
testDecodeError('ESME_RINVCMDLEN', 'body ends before the last one-octet field',
  frame('bind_transmitter', cstr('esme'), cstr('pw'), cstr(''), '34', '00'), 'SMSC_ERR_PDU_MALFORMED')

// ------------------------------------------------------------- short_message (SMPP 3.4 §5.2.21)

testDecodeError('ESME_RINVMSGLEN', 'sm_length 255',
  submitSm('ff', '41'.repeat(255)))
testDecodeError('ESME_RINVCMDLEN', 'sm_length 20 with 5 octets of short_message left',
  submitSm('14', ascii('Hello')), 'SMSC_ERR_PDU_MALFORMED')
testDecodeError('ESME_RINVCMDLEN', 'body ends before sm_length',
  frame('submit_sm', cstr(''), addr('447700900001'), addr('447700900002'), smTail), 'SMSC_ERR_PDU_MALFORMED')

// ------------------------------------------------------------- submit_multi lists (SMPP 3.4 §4.5)

testDecodeError('ESME_RINVNUMDESTS', 'number_of_dests 0',
  frame('submit_multi', multiHead, '00', multiTail))
testDecodeError('ESME_RINVNUMDESTS', 'number_of_dests 255',
  frame('submit_multi', multiHead, 'ff', ('01' + addr('1')).repeat(255), multiTail))
testDecodeError('ESME_RINVDESTFLAG', 'dest_flag 3',
  frame('submit_multi', multiHead, '01', '03', addr('447700900003'), multiTail))
testDecodeError('ESME_RINVDESTFLAG', 'dest_flag 0 after a valid SME address',
  frame('submit_multi', multiHead, '02', '01', addr('447700900003'), '00', cstr('x'), multiTail))
testDecodeError('ESME_RINVDSTADR', 'SME destination_addr of 21 octets',
  frame('submit_multi', multiHead, '01', '01', addr('3'.repeat(21)), multiTail))
testDecodeError('ESME_RINVDLNAME', 'dl_name of 21 octets',
  frame('submit_multi', multiHead, '01', '02', cstr('L'.repeat(21)), multiTail))
testDecodeError('ESME_RINVCMDLEN', 'number_of_dests 3 with 1 destination present',
  frame('submit_multi', multiHead, '03', '01', addr('447700900003')), 'SMSC_ERR_PDU_MALFORMED')
testDecodeError('ESME_RINVCMDLEN', 'unsuccess_sme cut before error_status_code',
  frame('submit_multi_resp', cstr('1'), '01', addr('447700900004'), '0000'), 'SMSC_ERR_PDU_MALFORMED')

// ------------------------------------------------------------- TLVs (SMPP 3.4 §3.2.4, §5.3)

testDecodeError('ESME_RINVTLVSTREAM', 'TLV length overruns the PDU',
  submitSm('00',
    '0424' + '000a' + // message_payload, length 10
    '4142'))           // only 2 octets
testDecodeError('ESME_RINVTLVSTREAM', 'three octets after the last TLV (TLV header cut short)',
  submitSm('00',
    '020e' + '0001' + '02' + // sar_total_segments 2
    '020f' + '00'))          // tag and half a length
testDecodeError('ESME_RINVTLVLEN', 'u8 TLV (sar_total_segments) with length 2',
  submitSm('00', '020e' + '0002' + '0002'))
testDecodeError('ESME_RINVTLVLEN', 'u16 TLV (sar_msg_ref_num) with length 1',
  submitSm('00', '020c' + '0001' + '12'))
testDecodeError('ESME_RINVTLVLEN', 'u32 TLV (qos_time_to_live) with length 3',
  submitSm('00', '0017' + '0003' + '000e10'))
testDecodeError('ESME_RINVTLVLEN', 'fixed-size TLV (network_error_code, 3 octets) with length 2',
  frame('deliver_sm', cstr(''), addr('1'), addr('2'), smTail, '00', '0423' + '0002' + '0300'))
testDecodeError('ESME_RINVTLVLEN', 'receipted_message_id of 66 octets with NUL (max 65)',
  frame('deliver_sm', cstr(''), addr('1'), addr('2'), smTail, '00', '001e' + '0042' + cstr('7'.repeat(65))))
testDecodeError('ESME_RINVTLVLEN', 'receipted_message_id of 65 octets without NUL (no room for it)',
  frame('deliver_sm', cstr(''), addr('1'), addr('2'), smTail, '00', '001e' + '0041' + ascii('7'.repeat(65))))
testDecodeError('ESME_RINVTLVLEN', 'octet TLV (source_subaddress, max 23) with length 24',
  submitSm('00', '0202' + '0018' + 'a0'.repeat(24)))

// ------------------------------------------------------------- trailing octets

testDecodeError('ESME_RINVCMDLEN', 'one octet after enquire_link (no body, no TLVs)',
  frame('enquire_link', '00'), 'SMSC_ERR_PDU_MALFORMED')
testDecodeError('ESME_RINVCMDLEN', 'a TLV after bind_transmitter, which takes none',
  frame('bind_transmitter', cstr('esme'), bindRest, '0210' + '0001' + '34'), 'SMSC_ERR_PDU_MALFORMED')
testDecodeError('ESME_RINVCMDLEN', 'octets after query_sm_resp, which takes no TLVs',
  frame('query_sm_resp', cstr('1'), cstr(''), '02', '00', '00'), 'SMSC_ERR_PDU_MALFORMED')
testDecodeError('ESME_RINVCMDLEN', 'octets after cancel_sm_resp',
  frame('cancel_sm_resp', '0000'), 'SMSC_ERR_PDU_MALFORMED')

// ------------------------------------------------------------- what is NOT an error

t.test('accepted: limits are inclusive of the NUL, an unterminated TLV text fits', async (t) => {
  const ok = (hex: string) => decode(Buffer.from(hex, 'hex'))
  t.equal(ok(frame('bind_transmitter', cstr('ABCDEFGHIJKLMNO'), bindRest)).system_id, 'ABCDEFGHIJKLMNO', 'system_id of 15 + NUL')
  t.equal(ok(frame('bind_transmitter', cstr('esme'), cstr('12345678'), cstr(''), '34', '00', '00', cstr(''))).password, '12345678', 'password of 8 + NUL')
  t.equal(ok(submitSm('fe', '41'.repeat(254))).short_message.length, 254, 'sm_length 254')
  t.equal(ok(frame('deliver_sm', cstr(''), addr('1'), addr('2'), smTail, '00', '001e' + '0040' + ascii('7'.repeat(64)))).receipted_message_id,
    '7'.repeat(64), 'receipted_message_id of 64 without NUL')
  t.strictSame(ok(submitSm('00', '1401' + '0000')).unknown_tlvs, [{ tag: 0x1401, value: Buffer.alloc(0) }], 'empty unknown TLV')
})
