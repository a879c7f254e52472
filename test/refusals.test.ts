// engine/refusals.ts: the newest `kept` refusals of each account, found by number, sender, account and window, newest
// first (those of one millisecond too), within the caller's scope; kept 0 keeps none.
import t from 'tap'
import { Refusals } from '../engine/refusals'
import { parseAddressPattern, type AddressPattern } from '../engine/message-search'

const p = (s: string): AddressPattern => parseAddressPattern(s, 'to') as AddressPattern
const all = { since: 0, until: 10_000, limit: 50 }
const everyone = () => true

t.test('newest first, those of one millisecond in the order they came; the oldest go past kept', async (t) => {
  const r = new Refusals(3)
  for (const [i, to] of ['4915100000001', '4915100000002', '4915100000003', '4915100000004'].entries()) {
    r.add({ t: 1000, systemId: 'a', session: 7, command: 'submit_sm', status: 0x58, from: '447700900001', to: [to] })
    r.add({ t: 1000 + i, systemId: 'b', session: 0, command: 'send', status: 0x401, from: 'Shop', to: [to] })
  }
  t.same(r.find({ ...all, systemId: 'a' }, everyone).map((x) => x.to), [['4915100000004'], ['4915100000003'], ['4915100000002']], 'the same millisecond: the last first; the first went past 3')
  t.same(r.find(all, everyone).map((x) => `${x.systemId}${x.to?.[0].slice(-1)}`), ['b4', 'b3', 'b2', 'a4', 'a3', 'a2'])
  t.match(r.find({ ...all, systemId: 'b', limit: 1 }, everyone), [{ t: 1003, systemId: 'b', via: 'http', command: 'send', status: 0x401, statusName: 'SMSC_RNOCREDIT', from: 'Shop', to: ['4915100000004'] }])
  t.match(r.find({ ...all, systemId: 'a', limit: 1 }, everyone), [{ via: 'smpp', session: 7, statusName: 'ESME_RTHROTTLED' }])
  t.same(r.find({ ...all, to: p('+49 151 00000003') }, everyone).map((x) => x.systemId), ['b', 'a'], 'by number, in any form')
  t.same(r.find({ ...all, from: p('shop') }, everyone).length, 3, 'by sender id, in any case')
  t.same(r.find({ ...all, since: 1002 }, everyone).map((x) => x.t), [1003, 1002], 'within the window')
  t.same(r.find(all, (id) => id === 'a').map((x) => x.systemId), ['a', 'a', 'a'], "another account's are not seen")
})

t.test('kept 0 keeps none; an undecoded refusal has no addresses and matches no number', async (t) => {
  const none = new Refusals(0)
  none.add({ t: 1, systemId: 'a', session: 1, command: 'submit_sm', status: 0x61 })
  t.same(none.find(all, everyone), [])
  const r = new Refusals(5)
  r.add({ t: 1, systemId: 'a', session: 1, command: 'submit_sm', status: 0xc2 })
  t.match(r.find(all, everyone), [{ from: null, to: null, statusName: 'ESME_RINVTLVLEN' }])
  t.same(r.find({ ...all, to: p('4915100000001') }, everyone), [])
})

t.test("an auto-reply's refusal says so, with its MO route, keyword and MO; a send's reference is kept and searched", async (t) => {
  const r = new Refusals(5)
  r.add({ t: 1, systemId: 'a', session: 0, command: 'reply', status: 0x401, from: '9090', to: ['4915100000001'], autoReply: { route: 'help', keyword: 'HELP', mo: '0000000007' } })
  r.add({ t: 2, systemId: 'a', session: 0, command: 'send', status: 0x401, from: 'Shop', to: ['4915100000001'], reference: 'order-1' })
  r.add({ t: 3, systemId: 'a', session: 0, command: 'send', status: 0x401, from: 'Shop', to: ['4915100000001'] })
  t.same(r.find(all, everyone).map((x) => x.via), ['http', 'http', 'auto-reply'], 'not an HTTP send')
  t.match(r.find(all, everyone)[2], { via: 'auto-reply', command: 'reply', route: 'help', keyword: 'HELP', mo: '0000000007', statusName: 'SMSC_RNOCREDIT' })
  t.notOk('session' in r.find(all, everyone)[2], 'no bind')
  t.same(r.find({ ...all, reference: 'order-1' }, everyone).map((x) => [x.t, x.reference]), [[2, 'order-1']], 'by reference: only the send given it')
  t.notOk('reference' in r.find(all, everyone)[0], 'none on a send without one')
})

t.test('all() gives each account oldest first, a wrapped ring too; restore() of it finds the same, and skips what is not a refusal', async (t) => {
  const r = new Refusals(3)
  for (let i = 1; i <= 5; i++) r.add({ t: 1000 + i, systemId: 'a', session: 2, command: 'submit_sm', status: 0x58, from: 'x', to: [`491510000000${i}`] })
  r.add({ t: 1000, systemId: 'b', session: 0, command: 'send', status: 0x401, reference: 'order-7', to: ['4915100000009'] })
  const kept = r.all()
  t.same(kept.map((x) => `${x.systemId}${x.t}`), ['a1003', 'a1004', 'a1005', 'b1000'], 'the ring wrapped: its oldest kept first')
  t.notOk(kept.some((x) => 'seq' in x), 'no sequence stored: the restore gives new ones, in order')
  const back = new Refusals(3)
  t.equal(back.restore(JSON.parse(JSON.stringify([...kept, { t: 'no' }, null, 5]))), 4, 'four taken, three skipped')
  t.same(back.find(all, everyone), r.find(all, everyone), 'the same answers as before the stop')
  t.equal(back.restore(undefined), 0, 'nothing kept (a first start): nothing')
  back.add({ t: 1006, systemId: 'a', session: 1, command: 'submit_sm', status: 0x58, to: ['4915100000006'] })
  t.same(back.find({ ...all, systemId: 'a' }, everyone).map((x) => x.t), [1006, 1005, 1004], 'a new one goes on the restored ring, the oldest out')
})
