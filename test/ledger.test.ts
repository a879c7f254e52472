// engine/ledger.ts: prepaid balances in memory with ledger entries committed to a real store. Under random
// interleavings of submits (per-part debits), refunds, grants, transfers and failed commits, no balance ever
// goes below zero and every balance equals the sum of its committed entries (in memory, in the store, reopened).
import t from 'tap'
import fc from 'fast-check'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ledger, type LedgerEntry } from '../engine/ledger'
import { Store } from '../engine/store'
import { GroupCommit } from '../actors/group-commit'

function freshDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'smsc-ledger-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

let clock = 1_700_000_000_000
const now = (): number => ++clock

t.test('tryDebit: covers or refuses whole, exact with fractional prices, 0 for unknown accounts', async (t) => {
  const store = await Store.open(freshDir(t))
  t.teardown(() => store.close())
  const ledger = new Ledger(store, now)
  t.equal(ledger.balance('nobody'), 0)
  t.notOk(ledger.tryDebit('nobody', 0.000001), 'no credit, no debit')
  t.ok(ledger.tryDebit('nobody', 0), 'a free message passes')
  ledger.credit('a', 0.3, 'grant', 'admin')
  for (let i = 0; i < 10; i++) t.ok(ledger.tryDebit('a', 0.03), `part ${i}`)
  t.equal(ledger.balance('a'), 0, 'ten 0.03 debits of 0.3 leave exactly 0 (no float drift)')
  t.notOk(ledger.tryDebit('a', 0.03))
  t.equal(ledger.balance('a'), 0, 'a refused debit changes nothing')
  t.throws(() => ledger.tryDebit('a', -1), RangeError, 'a negative debit is a bug, not a credit')
  t.throws(() => ledger.tryDebit('a', NaN), RangeError)
  t.throws(() => ledger.credit('a', -1, 'grant', 'admin'), RangeError)
})

t.test('entries: debitEntry sums a batch, credit and debit carry the balance after, revert restores', async (t) => {
  const store = await Store.open(freshDir(t))
  t.teardown(() => store.close())
  const ledger = new Ledger(store, now)
  const g = ledger.credit('a', 10, 'grant', 'admin', 'note', undefined)
  t.match(g, { systemId: 'a', delta: 10, balance: 10, reason: 'grant', by: 'admin', ref: 'note' })
  t.notOk('count' in g, 'no undefined fields')
  t.ok(ledger.tryDebit('a', 1.5) && ledger.tryDebit('a', 1.5))
  const d = ledger.debitEntry('a', 3, 2, 'm1')
  t.match(d, { systemId: 'a', delta: -3, balance: 7, reason: 'submit', by: 'a', ref: 'm1', count: 2 })
  const out = ledger.debit('a', 8, 'transfer-out', 'admin', 'b')
  t.equal(out, null, 'a checked debit the balance does not cover is refused')
  t.equal(ledger.balance('a'), 7)
  const out2 = ledger.debit('a', 2, 'transfer-out', 'admin', 'b') as LedgerEntry
  t.match(out2, { delta: -2, balance: 5, reason: 'transfer-out' })
  await store.commit({ ledger: [g, d, out2] })
  t.equal(store.ledgerSum('a'), 5)

  // A commit that fails: the caller reverts, the memory balance is back to the committed one.
  const r = ledger.credit('a', 4, 'refund', 'engine', 'm1', 1)
  t.equal(ledger.balance('a'), 9)
  t.throws(() => store.commit({ ledger: [r], messages: [{ id: 'x'.repeat(300), systemId: 'a', state: 1 }] }))
  ledger.revert(r)
  t.equal(ledger.balance('a'), 5, 'revert of a credit')
  t.ok(ledger.tryDebit('a', 5))
  const d2 = ledger.debitEntry('a', 5, 1, 'm2')
  ledger.revert(d2)
  t.equal(ledger.balance('a'), 5, 'revert of a debit')
  t.equal(store.ledgerSum('a'), 5)
  t.equal(new Ledger(store, now).balance('a'), 5, 'a new Ledger loads the committed balance')
})

type Op =
  | { kind: 'submit'; acc: number; parts: number; price: number; fail: boolean }
  | { kind: 'refund'; acc: number; units: number; fail: boolean }
  | { kind: 'grant'; acc: number; units: number; fail: boolean }
  | { kind: 'transfer'; from: number; to: number; units: number; fail: boolean }
  | { kind: 'settle' }

const ACCOUNTS = 4
const micro = fc.integer({ min: 1, max: 5_000_000 }) // 0.000001 .. 5 units
const acc = fc.integer({ min: 0, max: ACCOUNTS - 1 })
const fail = fc.integer({ min: 0, max: 9 }).map((n) => n < 2) // some commits fail and are reverted
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('submit' as const), acc, parts: fc.integer({ min: 1, max: 8 }), price: fc.integer({ min: 0, max: 400_000 }), fail }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('refund' as const), acc, units: micro, fail }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('grant' as const), acc, units: micro, fail }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('transfer' as const), from: acc, to: acc, units: micro, fail }), weight: 2 },
  { arbitrary: fc.constant({ kind: 'settle' as const }), weight: 1 },
)

t.test('property: random interleavings never overdraw, and every balance == sum of its committed entries', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  let run = 0
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 80 }), async (ops) => {
      const names = Array.from({ length: ACCOUNTS }, (_, i) => `r${run}-${i}`)
      run++
      const ledger = new Ledger(store, now)
      const model = new Map<string, number>(names.map((n) => [n, 0])) // committed + in flight, in micro-units
      const inFlight: Promise<void>[] = []
      // Commits a change; a failing one (an over-long id in the same batch) throws at once and is reverted.
      const commit = (entries: LedgerEntry[], bad: boolean): boolean => {
        try {
          inFlight.push(store.commit({ ledger: entries, messages: bad ? [{ id: 'x'.repeat(300), systemId: 'a', state: 1 }] : [] }))
          return true
        } catch {
          for (let i = entries.length - 1; i >= 0; i--) ledger.revert(entries[i])
          return false
        }
      }
      for (const o of ops) {
        if (o.kind === 'settle') { await Promise.all(inFlight.splice(0)); continue }
        if (o.kind === 'submit') {
          const a = names[o.acc]
          let ok = 0
          for (let i = 0; i < o.parts; i++) if (ledger.tryDebit(a, o.price / 1e6)) ok++
          const have = model.get(a) as number
          const expected = o.price === 0 ? o.parts : Math.min(o.parts, Math.floor(have / o.price))
          if (ok !== expected) throw new Error(`${a}: ${ok} parts debited, model says ${expected}`)
          if (ok === 0) continue
          if (commit([ledger.debitEntry(a, (ok * o.price) / 1e6, ok, `m${ok}`)], o.fail)) model.set(a, have - ok * o.price)
        } else if (o.kind === 'refund' || o.kind === 'grant') {
          const a = names[o.acc]
          if (commit([ledger.credit(a, o.units / 1e6, o.kind, 'admin')], o.fail)) model.set(a, (model.get(a) as number) + o.units)
        } else {
          const from = names[o.from]
          const to = names[o.to]
          const out = ledger.debit(from, o.units / 1e6, 'transfer-out', 'admin', to)
          const have = model.get(from) as number
          if ((out !== null) !== (have >= o.units)) throw new Error(`transfer from ${from} refused/allowed wrongly`)
          if (out === null) continue
          const inn = ledger.credit(to, o.units / 1e6, 'transfer-in', 'admin', from)
          if (commit([out, inn], o.fail)) {
            model.set(from, (model.get(from) as number) - o.units)
            model.set(to, (model.get(to) as number) + o.units)
          }
        }
        for (const n of names) {
          if (ledger.balance(n) < 0) throw new Error(`${n} overdrawn: ${ledger.balance(n)}`)
          if (ledger.balance(n) !== (model.get(n) as number) / 1e6) throw new Error(`${n}: ledger ${ledger.balance(n)} != model ${model.get(n)}`)
        }
      }
      await Promise.all(inFlight)
      const stored = store.balances()
      for (const n of names) {
        const sum = store.ledgerSum(n)
        if (sum !== ledger.balance(n)) throw new Error(`${n}: sum of entries ${sum} != balance ${ledger.balance(n)}`)
        if ((stored.get(n) ?? 0) !== sum) throw new Error(`${n}: stored balance ${stored.get(n)} != sum ${sum}`)
      }
      if (run % 10 === 0) { // reopen: balances come back from the store
        await store.close()
        store = await Store.open(dir)
        const again = new Ledger(store, now)
        for (const n of names) if (again.balance(n) !== ledger.balance(n)) throw new Error(`${n} after reopen: ${again.balance(n)}`)
      }
    }),
    { numRuns: 60 },
  )
  t.pass('60 random runs')
  await store.close()
})

t.test('a failed debit batch grouped with a committed refund: stored balance and entry balances follow committed entries only, across a restart', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  const ledger = new Ledger(store, now)
  await store.commit({ ledger: [ledger.credit('A', 100, 'grant', 'admin')] })
  const gc = new GroupCommit(store)
  const add = (batch: Parameters<GroupCommit['add']>[0], onErr?: () => void): Promise<Error | null> =>
    new Promise((resolve) => gc.add(batch, (err) => { if (err && onErr) onErr(); resolve(err) }))
  // A transaction in flight: the next two batches wait and are merged into one, which fails and is retried per batch.
  const busy = add({ meta: [['k', 1]] })
  // The router debits 10 for a batch the store refuses (a bad message id stands for any batch failing alone) …
  t.ok(ledger.tryDebit('A', 10))
  const debit = ledger.debitEntry('A', 10, 1, 'm1')
  const failed = add({ ledger: [debit], messages: [{ id: '', systemId: 'A', state: 1 }] }, () => ledger.revert(debit))
  // … while the delivery actor refunds 5 to the same account, in the same group (in memory: 90 + 5 = 95).
  const refund = ledger.credit('A', 5, 'refund', 'settlement', 'm0', 1)
  const committed = add({ ledger: [refund] })
  t.equal(await busy, null)
  t.ok(await failed, 'the debit batch failed')
  t.equal(await committed, null, 'the refund committed')
  t.equal(ledger.balance('A'), 105, 'in memory: the failed debit is reverted')
  t.equal(store.ledgerSum('A'), 105, 'committed entries: 100 + 5')
  t.equal(store.balances().get('A'), 105, 'the stored balance is the sum of the committed entries')
  t.equal(refund.balance, 105, "the refund entry's balance counts only committed entries")
  t.same(store.ledgerEntries('A', { limit: 10 }).map((e) => [e.reason, e.delta, e.balance]), [['refund', 5, 105], ['grant', 100, 100]])

  // Later entries build on it, and a restart loads the same balance.
  t.ok(ledger.tryDebit('A', 1))
  await store.commit({ ledger: [ledger.debitEntry('A', 1, 1, 'm2')] })
  t.equal(store.balances().get('A'), 104)
  await store.close()
  store = await Store.open(dir)
  t.equal(store.balances().get('A'), store.ledgerSum('A'), 'after a restart: balance == sum of the ledger')
  t.equal(new Ledger(store, now).balance('A'), 104, 'the Ledger loads it')
  t.equal(store.ledgerEntries('A', { limit: 1 })[0].balance, 104)
  await store.close()
})
