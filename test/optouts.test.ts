/**
 * Opt-out lists (engine/optouts.ts): numbers normalised as routing's destPrefix compares them, the in-memory lists
 * and the admission screen; their store (engine/store.ts `optouts`): committed with a batch, in memory once
 * committed, back after a reopen, paged by number, gone with their account.
 */
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GLOBAL, OptOutLists, looksInternational, normaliseNumber, numberKey, numberProblem } from '../engine/optouts'
import { Store } from '../engine/store'

const dest = (addr: string) => ({ addr: [1, 1, addr] as [number, number, string] })

t.test('a number is digits, a leading "+" or "00" and typed separators dropped; anything else is no number', async (t) => {
  t.equal(normaliseNumber('+4915112345678'), '4915112345678')
  t.equal(normaliseNumber(' +49 (151) 1234-5678 '), '4915112345678')
  t.equal(normaliseNumber('49.151.12345678'), '4915112345678')
  t.equal(normaliseNumber('004915112345678'), '4915112345678', '00 is the international prefix, as "+" is')
  t.equal(normaliseNumber('0049 151 12345678'), '4915112345678')
  t.equal(normaliseNumber('015112345678'), '015112345678', 'a national form stays as given (no country code to make it international)')
  for (const bad of ['', '+', '00', 'STOP', '12ab34', '++49', '123456789012345678901', 49151, null, undefined]) t.equal(normaliseNumber(bad), null, `${JSON.stringify(bad)} is no number`)
  t.equal(numberKey('+4915'), '4915')
  t.equal(numberKey('004915'), '4915')
  t.equal(numberKey('04915'), '04915')
  t.equal(numberKey('4915'), '4915')
  t.ok(looksInternational('+4915') && looksInternational('004915'))
  t.notOk(looksInternational('4915') || looksInternational('04915'))
  t.equal(numberProblem('12ab', 'numbers[2]'), 'numbers[2] must be a phone number: 1 to 20 digits, a leading "+" or "00" and spaces, dashes, dots or brackets allowed (got "12ab")')
  t.equal(numberProblem('+4915', 'number'), null)
})

t.test('the lists: per scope, a total size, an emptied list gone', async (t) => {
  const l = new OptOutLists()
  t.equal(l.size, 0)
  t.ok(l.add(GLOBAL, '4915'))
  t.notOk(l.add(GLOBAL, '4915'), 'twice is once')
  t.ok(l.add('shop', '4915'))
  t.equal(l.size, 2)
  t.equal(l.count(GLOBAL), 1)
  t.ok(l.has('shop', '4915'))
  t.notOk(l.has('other', '4915'))
  t.ok(l.delete('shop', '4915'))
  t.notOk(l.delete('shop', '4915'), 'not there any more')
  t.equal(l.list('shop'), undefined, 'an emptied list is no list')
  l.apply([{ scope: 'res1', number: '1', entry: { at: 1, by: 'x' } }, { scope: 'res1', number: '2', entry: { at: 1, by: 'x' } }, { scope: GLOBAL, number: '4915', entry: null }])
  t.equal(l.size, 2)
  l.drop('res1')
  t.equal(l.size, 0)
})

t.test("binding: the global list, the account's own, its reseller's; another account's never", async (t) => {
  const l = new OptOutLists()
  t.equal(l.binding('shop', 'res1'), null, 'no list: nothing binds')
  l.add(GLOBAL, '111')
  l.add('shop', '222')
  l.add('res1', '333')
  l.add('other', '444')
  const shop = l.binding('shop', 'res1')
  t.equal(shop?.listOf('+111'), 'global', 'a leading "+" in the address is ignored')
  t.equal(shop?.listOf('00111'), 'global', 'a leading "00" too')
  t.equal(shop?.listOf('222'), 'account')
  t.equal(shop?.listOf('333'), 'reseller')
  t.equal(l.binding('shop', null)?.listOf('333'), null, 'without a reseller, not its list')
  t.equal(shop?.listOf('444'), null, "another account's list")
  t.equal(l.binding('res1', null)?.listOf('333'), 'account', "a reseller's own list binds itself")
  l.delete(GLOBAL, '111')
  t.equal(l.binding('someone', null), null, 'only lists that bind it count')
})

t.test('screen: a record whose every destination is listed gets the status; a submit_multi keeps the others', async (t) => {
  const l = new OptOutLists()
  const none = [{ dests: [dest('111')] }]
  t.equal(l.screen('shop', null, none, [0], 0x403), null, 'no list: nothing to do')
  l.add('shop', '111')
  l.add(GLOBAL, '999')
  const records = [
    { dests: [dest('111')] }, // submit_sm to a listed number
    { dests: [dest('222')] }, // not listed
    { dests: [dest('999'), dest('222'), dest('+111')] }, // submit_multi: two listed
    { dests: [dest('111')] }, // refused before (rate, source): left alone
  ]
  const statuses = [0, 0, 0, 0x58]
  const r = l.screen('shop', 'res1', records, statuses, 0x403)
  t.same(statuses, [0x403, 0, 0, 0x58])
  t.same(records[2].dests.map((d) => d.addr[2]), ['222'], 'the submit_multi goes on with its unlisted destination')
  t.same(records[1].dests.map((d) => d.addr[2]), ['222'])
  t.same(r?.removed.map((x) => x?.map((d) => d.addr[2])), [['111'], undefined, ['999', '+111']], 'what each record lost, as submitted')
  t.same(r?.counts, { global: 1, account: 2, reseller: 0 })
  const other = [{ dests: [dest('111')] }]
  t.equal(l.screen('someone', null, other, [0], 0x403), null, "another account is not bound by shop's list")
  const intl = [{ dests: [dest('00999')] }, { dests: [dest('0999')] }]
  const st = [0, 0]
  l.screen('someone', null, intl, st, 0x403)
  t.same(st, [0x403, 0], '"00999" is the listed 999 (international prefix); "0999", a national form, is not')
})

t.test("screen: a STOP confirmation (an optOut \"add\" route's reply) passes every list; any other record to the number does not", async (t) => {
  const l = new OptOutLists()
  l.add('shop', '111')
  l.add(GLOBAL, '111')
  const records: { dests: ReturnType<typeof dest>[]; confirmsOptOut?: true }[] = [{ dests: [dest('111')], confirmsOptOut: true }, { dests: [dest('111')] }]
  const statuses = [0, 0]
  const r = l.screen('shop', null, records, statuses, 0x403)
  t.same(statuses, [0, 0x403], 'the confirmation is admitted, the next message refused')
  t.same(records[0].dests.map((d) => d.addr[2]), ['111'], 'with its destination')
  t.same(r?.counts, { global: 1, account: 0, reseller: 0 }, 'only the refused one counted')
})

function freshDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'smsc-optouts.'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('the store: committed lists are in memory at once and again after a reopen, paged in number order', async (t) => {
  const dir = freshDir(t)
  let s = await Store.open(dir)
  const add = (scope: string, numbers: string[], by = 'api') => s.commit({ optOuts: numbers.map((number) => ({ scope, number, entry: { at: 1000, by } })) })
  const pending = add(GLOBAL, ['4915100000002', '4915100000001', '4477009'])
  t.equal(s.optOuts.size, 0, 'not in memory before it is committed')
  await pending
  t.equal(s.optOuts.count(GLOBAL), 3, 'in memory once committed')
  await add('shop', ['4915100000001'], 'mo:STOP')
  await s.commit({ optOuts: [{ scope: GLOBAL, number: '4477009', entry: null }] })
  t.same(s.optOutEntries(GLOBAL, { limit: 10 }), [
    { number: '4915100000001', at: 1000, by: 'api' }, { number: '4915100000002', at: 1000, by: 'api' },
  ], 'removed one gone; number order')
  await s.close()

  s = await Store.open(dir)
  t.equal(s.optOuts.size, 3, 'all lists back after a reopen')
  t.ok(s.optOuts.has('shop', '4915100000001'))
  t.same(s.optOutEntries('shop', { limit: 10 }), [{ number: '4915100000001', at: 1000, by: 'mo:STOP' }], 'with when and by whom')
  await add(GLOBAL, ['4915200000001', '4915200000002', '4915200000003'])
  const first = s.optOutEntries(GLOBAL, { limit: 2 })
  t.same(first.map((e) => e.number), ['4915100000001', '4915100000002'])
  t.same(s.optOutEntries(GLOBAL, { limit: 2, after: first[1].number }).map((e) => e.number), ['4915200000001', '4915200000002'], 'the next page')
  t.same(s.optOutEntries(GLOBAL, { limit: 10, prefix: '49152' }).map((e) => e.number), ['4915200000001', '4915200000002', '4915200000003'], 'a prefix')
  t.same(s.optOutEntries(GLOBAL, { limit: 10, prefix: '49152', after: '4915200000002' }).map((e) => e.number), ['4915200000003'], 'a prefix and a page')
  t.same(s.optOutEntries(GLOBAL, { limit: 10, prefix: '5' }), [], 'nothing starts so')
  t.throws(() => s.commit({ optOuts: [{ scope: 'shop', number: '+49', entry: { at: 1, by: 'x' } }] }), /optOuts.number must be 1 to 20 digits/, 'the store takes normalised numbers only, and writes nothing else')
  await s.close()
})

t.test("the store: a removed account's list goes with it (in memory and on disk)", async (t) => {
  const dir = freshDir(t)
  let s = await Store.open(dir)
  await s.commit({ optOuts: [{ scope: 'shop', number: '1', entry: { at: 1, by: 'x' } }, { scope: 'shop', number: '2', entry: { at: 1, by: 'x' } }, { scope: 'shop2', number: '1', entry: { at: 1, by: 'x' } }] })
  await s.commit({ removeAccounts: ['shop'] })
  t.equal(s.optOuts.count('shop'), 0)
  t.equal(s.optOuts.count('shop2'), 1, "another account's list stays (shop2 starts with shop)")
  await s.close()
  s = await Store.open(dir)
  t.same([s.optOuts.count('shop'), s.optOuts.count('shop2')], [0, 1], 'also after a reopen')
  await s.close()
})

t.test('the store: changes of one number apply in order, the last one wins (in one commit, and commits in a row)', async (t) => {
  const dir = freshDir(t)
  let s = await Store.open(dir)
  const on = { at: 1, by: 'mo:STOP' }
  await s.commit({ optOuts: [{ scope: 'shop', number: '49', entry: null }, { scope: 'shop', number: '49', entry: on }] })
  t.ok(s.optOuts.has('shop', '49'), 'remove then add in one commit: on the list')
  await s.commit({ optOuts: [{ scope: 'shop', number: '49', entry: on }, { scope: 'shop', number: '49', entry: null }] })
  t.notOk(s.optOuts.has('shop', '49'), 'add then remove in one commit: off the list')
  const a = s.commit({ optOuts: [{ scope: 'shop', number: '49', entry: null }] })
  const b = s.commit({ optOuts: [{ scope: 'shop', number: '49', entry: on }] })
  await Promise.all([a, b])
  t.ok(s.optOuts.has('shop', '49'), 'two commits in flight: the later wins')
  await s.close()
  s = await Store.open(dir)
  t.ok(s.optOuts.has('shop', '49'), 'on disk as in memory')
  await s.close()
})

t.test("the store: removing an account drops its list in the write, with an add still being committed; an add after it is refused", async (t) => {
  const dir = freshDir(t)
  let s = await Store.open(dir)
  const add = (number: string) => s.commit({ optOuts: [{ scope: 'shop', number, entry: { at: 1, by: 'x' } }] })
  await add('1')
  const before = add('2') // not committed when the removal is asked for
  await new Promise((r) => setImmediate(r)) // a later event turn: the add is in a transaction of its own
  const removal = s.commit({ removeAccounts: ['shop'] })
  const after = add('3') // queued after the removal: the account is gone
  await Promise.all([before, removal, after])
  t.equal(s.optOuts.count('shop'), 0, 'nothing in memory')
  await s.close()
  s = await Store.open(dir)
  t.equal(s.optOuts.count('shop'), 0, 'nothing on disk: not the add committed while the removal was asked for, nor the one after')
  await s.close()
})
