/**
 * Group commit: while a transaction is in flight, commit requests join the next one; every caller
 * is answered after the transaction carrying its batch. Uses the real LMDB store, counting its
 * transactions.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { GroupCommit } from '../../actors/group-commit'
import { Store, type CommitBatch, type StoredMessage } from '../../engine/store'

async function rig(t: { teardown(fn: () => unknown): void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-gc-'))
  const store = await Store.open(dir)
  t.teardown(async () => { await store.close(); fs.rmSync(dir, { recursive: true, force: true }) })
  const transactions: CommitBatch[] = []
  const counting = { commit: (b: CommitBatch) => { transactions.push(b); return store.commit(b) } }
  const sizes: number[] = []
  const gc = new GroupCommit(counting, (_ms, n) => sizes.push(n))
  return { store, gc, transactions, sizes }
}

const msg = (id: string): StoredMessage => ({ id, systemId: 'u', state: 1 })

t.test('requests made while a transaction is in flight share the next one', async (t) => {
  const r = await rig(t)
  const answered: string[] = []
  const all = Array.from({ length: 50 }, (_, i) => new Promise<void>((resolve, reject) =>
    r.gc.add({ messages: [msg(`m${i}`)] }, (err) => {
      if (err) return reject(err)
      t.ok(r.store.getMessage(`m${i}`), `m${i} is readable when its caller is answered`)
      answered.push(`m${i}`)
      resolve()
    })))
  t.equal(r.transactions.length, 1, 'the first request is written at once')
  t.equal(r.gc.waiting, 49, 'the other 49 wait for it')
  await Promise.all(all)
  t.equal(r.transactions.length, 2, '50 requests, 2 transactions')
  t.same(r.sizes, [1, 49])
  t.equal(answered.length, 50)
})

t.test('a lone request is written at once, without waiting for company', async (t) => {
  const r = await rig(t)
  await new Promise<void>((resolve, reject) => r.gc.add({ messages: [msg('solo')] }, (err) => (err ? reject(err) : resolve())))
  t.equal(r.transactions.length, 1)
  t.ok(r.store.getMessage('solo'))
})

t.test('a request the store refuses fails alone: the others of its group still commit, and the writer goes on', async (t) => {
  const r = await rig(t)
  const results: (string | null)[] = []
  const p1 = new Promise<void>((resolve) => r.gc.add({ messages: [msg('ok1')] }, (err) => { results.push(err ? 'err' : null); resolve() }))
  // Joins the second transaction together with a request the store refuses (an id it cannot key).
  const p2 = new Promise<void>((resolve) => r.gc.add({ messages: [msg('x'.repeat(600))] }, (err) => { results.push(err ? 'err' : null); resolve() }))
  const p3 = new Promise<void>((resolve) => r.gc.add({ messages: [msg('ok3')] }, (err) => { results.push(err ? 'err' : null); resolve() }))
  await Promise.all([p1, p2, p3])
  t.same(results, [null, 'err', null], 'the first commits; in the second group only the refused request fails')
  t.ok(r.store.getMessage('ok3'), 'the good request of the refused group was written')
  t.notOk(r.store.getMessage('x'.repeat(600)), 'nothing of the refused request was written')
  await new Promise<void>((resolve, reject) => r.gc.add({ messages: [msg('after')] }, (err) => (err ? reject(err) : resolve())))
  t.ok(r.store.getMessage('after'), 'the writer goes on after a failure')
})

t.test('queued requests wait for kick() and then share one transaction (the store actor kicks once per wake-up)', async (t) => {
  const r = await rig(t)
  const all = Array.from({ length: 20 }, (_, i) => new Promise<void>((resolve, reject) =>
    r.gc.queue({ messages: [msg(`q${i}`)] }, (err) => (err ? reject(err) : resolve()))))
  t.equal(r.transactions.length, 0, 'nothing written before the kick')
  t.equal(r.gc.waiting, 20)
  r.gc.kick()
  r.gc.kick() // a second kick while in flight writes nothing more
  await Promise.all(all)
  t.same(r.sizes, [20], 'one transaction for the 20')
  r.gc.kick()
  t.equal(r.transactions.length, 1, 'a kick with nothing queued writes nothing')
})

t.test('with a wake, requests waiting for the next transaction are written only after the owner has taken what was posted to it', async (t) => {
  // The race a kill -9 exposed (test/e2e/crash-under-load): the upstream's id for a message is queued while a
  // transaction is in flight; the upstream's receipt then makes the delivery actor set that same record final
  // and post its own request (the record, the refund, the ESME's receipt) to the store actor's mailbox. Written
  // at the end of the transaction, the first request alone would carry the final record without the rest.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-gc-'))
  const store = await Store.open(dir)
  t.teardown(async () => { await store.close(); fs.rmSync(dir, { recursive: true, force: true }) })
  const transactions: CommitBatch[] = []
  const mailbox: { batch: CommitBatch; done: (err: Error | null) => void }[] = []
  const drain = () => { for (const m of mailbox.splice(0)) gc.queue(m.batch, m.done); gc.kick() } // the store actor's turn
  const gc: GroupCommit = new GroupCommit({ commit: (b) => { transactions.push(b); return store.commit(b) } }, () => {}, () => {}, () => setImmediate(drain))
  const post = (batch: CommitBatch) => new Promise<void>((resolve, reject) => { mailbox.push({ batch, done: (err) => (err ? reject(err) : resolve()) }) })

  const first = post({ messages: [msg('m0')] })
  drain() // written at once: in flight
  const record: StoredMessage = { id: 'm1', systemId: 'u', state: 1 }
  const link = post({ messages: [record] })
  drain() // waits for the next transaction
  record.state = 5 // the delivery actor: final, and its request goes to the mailbox in the same turn
  const outcome = post({ messages: [record], meta: [['outcome:m1', 'UNDELIV']] })
  await Promise.all([first, link, outcome])
  t.equal(transactions.length, 2, 'two transactions')
  t.same(transactions[1].messages?.map((m) => m.id), ['m1', 'm1'], 'the record changed while waiting goes in one transaction with the request that changed it')
  t.same(transactions[1].meta, [['outcome:m1', 'UNDELIV']])
})
