/**
 * Codec micro-benchmarks (engine/protocol/codec.ts): decode and encode of the PDUs on the hot path:
 * submit_sm (GSM short and 3-part UCS2 part), submit_sm_resp, the deliver_sm receipt (with TLVs),
 * enquire_link. Inputs are built once with the same templates the load generator sends.
 */
import { decode, encode, type Pdu } from '../../engine/protocol/codec'
import { receiptTemplate, submitTemplates } from '../templates'
import { measure, type MicroResult } from './harness'

export async function run(): Promise<MicroResult[]> {
  const frames: [string, Buffer][] = [
    ['submit_sm (gsm, 1 part)', submitTemplates('gsm', 1)[0].buf],
    ['submit_sm (ucs2 long, part 1/3)', submitTemplates('long-ucs2', 1)[0].buf],
    ['submit_sm_resp', encode({ command: 'submit_sm_resp', command_status: 0, sequence_number: 7, message_id: '0000000042' })],
    ['deliver_sm receipt (+TLVs)', receiptTemplate().buf],
    ['enquire_link', encode({ command: 'enquire_link', command_status: 0, sequence_number: 7 })],
  ]
  const out: MicroResult[] = []
  for (const [name, frame] of frames) out.push(measure('codec', `decode ${name} (${frame.length} B)`, () => decode(frame)))
  for (const [name, frame] of frames) {
    const pdu: Pdu = decode(frame)
    out.push(measure('codec', `encode ${name}`, () => encode(pdu)))
  }
  return out
}
