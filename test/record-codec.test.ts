/**
 * engine/record-codec.ts: message records and queue items round-trip through the binary layout
 * with every field, any string and any octets; a value the layout does not cover is left to
 * msgpackr (encode says null), and the store reads both kinds of values, also after reopen.
 */
import t from 'tap'
import fc from 'fast-check'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MARK, decodeValue, encodeItem, encodeRecord } from '../engine/record-codec'
import { Store, type DeliveryItem, type StoredMessage } from '../engine/store'
import type { Destination, MessageRecord } from '../engine/message'

const failure = <T>(p: fc.IPropertyWithHooks<T>, numRuns = 1000) => fc.defaultReportMessage(fc.check(p, { numRuns }))

const byte = fc.integer({ min: 0, max: 255 })
const num = fc.oneof(fc.integer(), fc.double({ noNaN: true }), fc.constant(Date.now()))
const text = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 30 }), fc.string({ minLength: 250, maxLength: 400 }))
const address = fc.tuple(byte, byte, text)
const destination: fc.Arbitrary<Destination> = fc.record({
  addr: address, state: byte, err: num, doneAt: num,
  via: fc.array(text, { maxLength: 4 }), price: num, up: text, conn: text, refunded: fc.constant(true as const),
}, { requiredKeys: ['addr', 'state', 'err', 'doneAt'] })
const record: fc.Arbitrary<MessageRecord> = fc.record({
  id: text, systemId: text, state: byte, err: num, submitAt: num, doneAt: num, src: address,
  dests: fc.array(destination, { minLength: 1, maxLength: 5 }), serviceType: text,
  esmClass: byte, protocolId: byte, priority: byte, dataCoding: byte, registeredDelivery: byte,
  sm: fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)), scheduleAt: num, expireAt: num,
  umr: num, rev: num, part: fc.tuple(num, num), ref: num, replaceIfPresent: fc.boolean(), price: num, setDpf: fc.boolean(),
  confirmsOptOut: fc.constant(true as const),
}, { requiredKeys: ['id', 'systemId', 'state', 'err', 'submitAt', 'doneAt', 'src', 'dests', 'serviceType', 'esmClass', 'protocolId', 'priority', 'dataCoding', 'registeredDelivery', 'sm', 'scheduleAt', 'expireAt'] })
const item: fc.Arbitrary<DeliveryItem> = fc.record({
  key: fc.integer({ min: 1 }), systemId: text, kind: fc.constantFrom('receipt' as const, 'mo' as const), createdAt: num, attempts: fc.nat(),
  messageId: text, submitAt: num, stat: fc.constantFrom('DELIVRD', 'UNDELIV', 'EXPIRED'),
  frame: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
}, { requiredKeys: ['systemId', 'kind', 'createdAt', 'attempts', 'frame'] })

/** Deep equality, key order aside, Buffers by content. */
function canonical(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return `hex:${v.toString('hex')}`
  if (Array.isArray(v)) return v.map(canonical)
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
  return Object.is(v, -0) ? '-0' : v
}
const same = (a: unknown, b: unknown) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b))

t.test('every message record round-trips through the layout, field for field', async (t) => {
  t.equal(failure(fc.property(record, (r) => {
    const b = encodeRecord(r)
    if (b === null || b[0] !== MARK) return false
    const back = decodeValue(b) as MessageRecord
    return same(back, r) && Buffer.isBuffer(back.sm) && Object.keys(back).sort().join() === Object.keys(r).sort().join()
  })), undefined)
})

t.test('every receipt and MO queue item round-trips through the layout', async (t) => {
  t.equal(failure(fc.property(item, (it) => {
    const b = encodeItem(it)
    if (b === null) return false
    const back = decodeValue(b) as DeliveryItem
    return same(back, it) && Buffer.isBuffer(back.frame)
  })), undefined)
})

t.test('a value the layout does not cover is refused (the store writes it with msgpackr); undefined fields are left out', async (t) => {
  const r = fc.sample(record, { numRuns: 1, seed: 7 })[0]
  t.equal(encodeRecord({ ...r, extra: 1 } as unknown as StoredMessage), null, 'an unknown field')
  t.equal(encodeRecord({ ...r, state: 300 } as unknown as StoredMessage), null, 'state out of a byte')
  t.equal(encodeRecord({ ...r, sm: 'text' } as unknown as StoredMessage), null, 'sm not octets')
  t.equal(encodeRecord({ ...r, setDpf: 1 } as unknown as StoredMessage), null, 'setDpf not a boolean')
  t.equal(encodeRecord({ ...r, confirmsOptOut: false } as unknown as StoredMessage), null, 'confirmsOptOut other than true')
  t.equal(encodeRecord({ ...r, dests: [{ ...r.dests[0], note: 'x' }] } as unknown as StoredMessage), null, 'an unknown destination field')
  t.equal(encodeRecord({ id: 'x', systemId: 'y', state: 1 }), null, 'a bare record')
  t.equal(encodeItem({ systemId: 'a', kind: 'mo', createdAt: 1, attempts: 0, frame: Buffer.alloc(1), event: { type: 'mo' } }), null, 'a webhook event')
  const back = decodeValue(encodeRecord({ ...r, umr: undefined } as unknown as StoredMessage)!) as MessageRecord
  t.notOk('umr' in back, 'umr: undefined reads back absent')
})

t.test('the store writes records and items in the layout and reads them, and msgpackr values, after reopen', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'smsc-codec-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const [r] = fc.sample(record, { numRuns: 1, seed: 11 })
  const full = { ...r, id: 'full', state: 1 }
  const bare: StoredMessage = { id: 'bare', systemId: 'acct', state: 1, note: 'kept by msgpackr' }
  const receipt: DeliveryItem = { systemId: 'acct', kind: 'receipt', createdAt: 5, attempts: 0, messageId: 'full', submitAt: 4, stat: 'DELIVRD', frame: Buffer.from([1, 2, 3]) }
  const hooked: DeliveryItem = { systemId: 'acct', kind: 'mo', createdAt: 6, attempts: 0, frame: Buffer.from([4]), event: { type: 'mo', id: 'm' } }
  let store = await Store.open(dir)
  await store.commit({ messages: [full, bare], enqueue: [receipt, hooked] })
  await store.close()
  const { open } = await import('lmdb')
  const raw = open(dir, { maxDbs: 16, noSubdir: false })
  t.equal(raw.openDB('messages', { encoding: 'binary' }).getBinary('full')?.[0], MARK, 'the record is in the layout')
  t.not(raw.openDB('messages', { encoding: 'binary' }).getBinary('bare')?.[0], MARK, 'the bare record is msgpackr')
  await raw.close()
  store = await Store.open(dir)
  t.teardown(() => store.close())
  t.ok(same(store.getMessage('full'), full), 'record read back')
  t.same(store.getMessage('bare'), bare, 'msgpackr record read back')
  const items = store.pendingDeliveries('acct')
  t.equal(items.length, 2)
  t.ok(same(items[0], receipt), 'receipt item read back with its key')
  t.same(items[1].event, { type: 'mo', id: 'm' }, 'msgpackr item read back')
  t.same(store.activeMessages().map((m) => m.id).sort(), ['bare', 'full'])
})

t.test("a record with the send API's reference is left to msgpackr, round-trips through the store and its reopen, and one without still takes the layout", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'smsc-codec-ref-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const [r] = fc.sample(record, { numRuns: 1, seed: 13 })
  const plain = { ...r, id: 'plain', state: 2 }
  const before = Buffer.from(encodeRecord(plain) as Buffer)
  const referenced = { ...r, id: 'ref', state: 2, reference: 'order-4711/A b~' }
  t.equal(encodeRecord(referenced), null, 'the layout does not cover a reference: msgpackr writes it, the schema stays')
  t.same(encodeRecord(plain), before, 'a record without one encodes octet for octet as before (the SMPP submit path)')
  let store = await Store.open(dir)
  await store.commit({ messages: [plain, referenced] })
  await store.close()
  const { open } = await import('lmdb')
  const raw = open(dir, { maxDbs: 16, noSubdir: false })
  t.equal(raw.openDB('messages', { encoding: 'binary' }).getBinary('plain')?.[0], MARK, 'the plain record is in the layout')
  t.not(raw.openDB('messages', { encoding: 'binary' }).getBinary('ref')?.[0], MARK, 'the referenced one is msgpackr')
  await raw.close()
  store = await Store.open(dir)
  t.teardown(() => store.close())
  const back = store.getMessage('ref') as MessageRecord
  t.equal(back.reference, 'order-4711/A b~', 'the reference read back after reopen')
  t.ok(same(back, referenced), 'and every other field')
  t.notOk('reference' in (store.getMessage('plain') as MessageRecord), 'none on the plain one')
})
