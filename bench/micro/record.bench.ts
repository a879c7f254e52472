/**
 * Record micro-benchmarks (engine/record-codec.ts, engine/message.ts): what the store encodes per message
 * (the record at submit and again at its outcome, the receipt's queue item) and the receipt's deliver_sm
 * frame, for a typical one-destination GSM message as the simulator carries it.
 */
import { decodeValue, encodeItem, encodeRecord } from '../../engine/record-codec'
import { receiptItem, type MessageRecord } from '../../engine/message'
import { measure, type MicroResult } from './harness'

function record(i: number, now: number): MessageRecord {
  return {
    id: `a1b2c3d4${i}`, systemId: 'bench01', state: 2, err: 0, submitAt: now, doneAt: 0, src: [5, 0, 'BENCH'],
    dests: [{ addr: [1, 1, `4479${1_000_000 + i}`], state: 2, err: 0, doneAt: 0, via: ['simulator'], conn: 'simulator' }],
    serviceType: '', esmClass: 0, protocolId: 0, priority: 0, dataCoding: 0, registeredDelivery: 1,
    sm: Buffer.from(`Hello world, this is benchmark message ${i}`), scheduleAt: 0, expireAt: now + 86_400_000,
  }
}

export async function run(): Promise<MicroResult[]> {
  const now = Date.now()
  const records = Array.from({ length: 1000 }, (_, i) => record(i, now))
  const delivered = records.map((r) => ({ ...r, state: 2, doneAt: now, dests: r.dests.map((d) => ({ ...d, state: 2, doneAt: now, up: 'up-1' })) }))
  const encoded = records.map((r) => Buffer.from(encodeRecord(r) as Buffer))
  const items = delivered.map((r) => receiptItem(r, r.dests[0], now))
  const out: MicroResult[] = []
  let k = 0
  out.push(measure('record', 'encodeRecord (1 destination, GSM)', () => encodeRecord(records[k++ % 1000])))
  out.push(measure('record', 'decode a record', () => decodeValue(encoded[k++ % 1000])))
  out.push(measure('record', 'receiptItem (deliver_sm frame)', () => receiptItem(delivered[k % 1000], delivered[k++ % 1000].dests[0], now)))
  out.push(measure('record', 'encodeItem (receipt)', () => encodeItem(items[k++ % 1000])))
  return out
}
