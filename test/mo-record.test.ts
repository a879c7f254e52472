/**
 * An MO's record (engine/message.ts MoFacts) in the record layout (record-codec.ts, kind 03) and in the store
 * (Store.commit `mo` / `rewrites`): it reads back whole, an MT record of kind 01 still reads as before, a search's
 * head says which is which; the store never counts an MO as active (not at its commit, not after a reopen) whatever
 * its state; the retention purges it retentionHours after it came; an outcome written after the purge does not
 * bring it back. A final MT written again the same way (its receipt discarded, `receiptDiscarded`) does likewise.
 */
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from '../engine/store'
import { decodeValue, encodeMoRecord, encodeRecord, readRecordHead } from '../engine/record-codec'
import type { MessageRecord } from '../engine/message'

const T0 = 1_700_000_000_000
const HOUR = 3_600_000

function freshDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'smsc-mo-record.'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** An MO from 4915100000300 to the short code 70001, waiting for the account (ENROUTE). */
function mo(id: string, at = T0, over: Partial<MessageRecord> = {}): MessageRecord {
  return {
    id, systemId: 'shop', state: 1, err: 0, submitAt: at, doneAt: 0, src: [1, 1, '4915100000300'],
    dests: [{ addr: [3, 0, '70001'], state: 1, err: 0, doneAt: 0 }],
    serviceType: '', esmClass: 0, protocolId: 0, priority: 0, dataCoding: 0, registeredDelivery: 0, sm: Buffer.from('STOP'),
    scheduleAt: 0, expireAt: 0, mo: { connector: 'up', route: 'stop', keyword: 'STOP', parts: 1, acked: 0, retries: 0 }, ...over,
  }
}

t.test('the layout: an MO record reads back whole, with kind 03; an MT record is kind 01 as before; the head tells them apart', async (t) => {
  const m = mo('0000000083', T0, { part: [1, 2], ref: 7 })
  const b = Buffer.from(encodeMoRecord(m) as Buffer)
  t.same(b.subarray(0, 2), Buffer.from([0xc1, 0x03]), 'C1 03')
  t.same(decodeValue(b), m, 'every field, its MO facts too')
  const delivered = mo('0000000084', T0, { state: 2, doneAt: T0 + 5, mo: { connector: 'simulator', parts: 3, acked: 3, retries: 2, via: 'webhook' } })
  t.same(decodeValue(Buffer.from(encodeMoRecord(delivered) as Buffer)), delivered, 'without a route, delivered by webhook')
  const replied = mo('0000000085', T0, { mo: { connector: 'up', route: 'stop', keyword: 'STOP', parts: 1, acked: 1, retries: 0, reply: '0000000086' } })
  t.same(decodeValue(Buffer.from(encodeMoRecord(replied) as Buffer)), replied, 'with the id of its auto-reply')
  const unanswered = mo('0000000087', T0, { mo: { connector: 'up', route: 'help', parts: 1, acked: 0, retries: 0, replyNot: 'SMSC_ERR_QUOTA_EXCEEDED' } })
  t.same(decodeValue(Buffer.from(encodeMoRecord(unanswered) as Buffer)), unanswered, 'with why no auto-reply went')
  const { mo: _facts, ...mt } = m
  const old = Buffer.from(encodeRecord(mt as MessageRecord) as Buffer)
  t.same(old.subarray(0, 2), Buffer.from([0xc1, 0x01]), 'an MT is C1 01')
  t.notOk('mo' in decodeValue(old), 'and reads back without MO facts')
  t.equal(encodeRecord(m), null, "encodeRecord (every MT's) does not take an MO: the store writes those with encodeMoRecord")
  t.equal(encodeMoRecord({ ...m, mo: { ...m.mo!, via: 'fax' as never } }), null, 'a value the layout does not cover: msgpackr then')
  t.match(readRecordHead(b, b.length), { pass: true, mo: true, src: '4915100000300', dests: ['70001'], state: 1, systemId: 'shop' })
  t.match(readRecordHead(old, old.length), { mo: false })
})

t.test('the store: an MO is never active (at its commit, after a reopen), reads back while committing and after', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  const [id] = store.allocateIds(1, 'decimal')
  const pending = store.commit({ mo: [mo(id, Date.now())] })
  t.equal((store.getMessage(id) as MessageRecord).mo?.route, 'stop', 'read back before it is committed')
  await pending
  t.same(store.activeMessages().map((m) => m.id), [], 'ENROUTE, yet not active: no dispatcher takes it for an MT')
  t.same([...store.inFlightByAccount()], [], 'nor counted in flight')
  await store.close()
  store = await Store.open(dir) // its id is above activeFrom: the open scans it
  t.teardown(() => store.close())
  t.same(store.activeMessages().map((m) => m.id), [], 'nor after a reopen')
  t.same((store.getMessage(id) as MessageRecord).mo, mo(id).mo, 'stored with its facts')
})

t.test('retention purges an MO retentionHours after it came; its outcome written after the purge does not bring it back', async (t) => {
  const store = await Store.open(freshDir(t))
  t.teardown(() => store.close())
  const [old, young] = store.allocateIds(2, 'decimal')
  await store.commit({ mo: [mo(old, T0), mo(young, T0 + 10 * HOUR)] })
  // its delivery, written later: no second retention entry (the purge counts it once)
  const delivered = { ...(store.getMessage(old) as MessageRecord), state: 2, doneAt: T0 + 20 * HOUR }
  await store.commit({ rewrites: [delivered] })
  t.equal((store.getMessage(old) as MessageRecord).state, 2, 'the outcome is written')
  t.equal(await store.purgeFinal(T0 + HOUR, 100), 1, 'the one received before the cutoff goes, once')
  t.equal(store.getMessage(old), undefined, 'purged, although delivered after the cutoff')
  t.ok(store.getMessage(young), 'the younger one stays')
  await store.commit({ rewrites: [{ ...delivered, state: 5 }] })
  t.equal(store.getMessage(old), undefined, 'an outcome of a purged MO is not written back')
  t.equal(await store.purgeFinal(T0 + 30 * HOUR, 100), 1, 'the younger one, later; nothing else was left behind')
})

t.test('a store that may hold MO records is schema 4: an engine of schema 3, which cannot read layout kind 03, refuses it', async (t) => {
  // An engine of schema 3 decodes a message of kind 03 as "store value of unknown layout 3": at its open when an MO came
  // in the last second before the stop (the scan from activeFrom), else at a lookup or search. It must refuse the store
  // at its schema check instead (SMSC_ERR_STORE_NEWER, docs/OPERATIONS.md "Rolling back").
  const dir = freshDir(t)
  const { open } = await import('lmdb')
  let store = await Store.open(dir)
  const [mt] = store.allocateIds(1, 'decimal')
  const { mo: _facts, ...record } = mo(mt, Date.now())
  await store.commit({ messages: [record as MessageRecord] })
  await store.close()
  // as a schema-3 engine left it: MT records only
  let raw = open(dir, { maxDbs: 16, noSubdir: false })
  raw.openDB('meta', {}).putSync('store:schema', 3)
  await raw.close()
  store = await Store.open(dir)
  const [id] = store.allocateIds(1, 'decimal')
  await store.commit({ mo: [mo(id, Date.now())] })
  t.equal((store.getMessage(mt) as MessageRecord).src[2], '4915100000300', "the schema-3 store's MT reads as before")
  await store.close()
  raw = open(dir, { maxDbs: 16, noSubdir: false })
  const schema = raw.openDB('meta', {}).get('store:schema') as number
  await raw.close()
  t.equal(schema, 4, 'opening upgraded it to schema 4')
  t.ok(schema > 3, 'so a schema-3 engine refuses it (its check: a schema above the one it knows)')
})

t.test('an MT written again through rewrites (its receipt discarded): read back with receiptDiscarded, never active, purged once, not written back after its purge', async (t) => {
  const store = await Store.open(freshDir(t))
  t.teardown(() => store.close())
  const [id, other] = store.allocateIds(2, 'decimal')
  const { mo: _facts, ...base } = mo(id, T0)
  const mt = { ...base, state: 2, doneAt: T0 + 1000, dests: [{ ...base.dests[0], state: 2, doneAt: T0 + 1000 }] } as MessageRecord
  await store.commit({ messages: [mt, { ...mt, id: other }] })
  const marked = { ...mt, receiptDiscarded: T0 + 2 * HOUR }
  t.equal(encodeRecord(marked), null, 'past the binary layout (its flags are full): msgpackr writes it')
  await store.commit({ rewrites: [marked] })
  t.same(store.getMessage(id), marked, 'read back whole, with when its receipt was discarded')
  t.same(store.activeMessages().map((m) => m.id), [], 'not active')
  t.equal(await store.purgeFinal(T0 + HOUR, 100), 2, 'both purged by their one retention entry (the rewrite made none)')
  t.equal(store.getMessage(id), undefined)
  await store.commit({ rewrites: [{ ...marked, receiptDiscarded: T0 + 3 * HOUR }] })
  t.equal(store.getMessage(id), undefined, 'a purged one is not written back')
  t.equal(await store.purgeFinal(T0 + 30 * HOUR, 100), 0, 'nothing was left behind')
})
