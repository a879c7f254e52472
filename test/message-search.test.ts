// engine/message-search.ts (and the store's walk, engine/store.ts scanMessagesDown, and record-codec.ts readRecordHead):
// numbers in any international form, the filters, the window, pages through the cursor, the scan cap, the caller's
// scope, records of both id formats and of the msgpackr fallback, the lookup's carrier details, and a search that
// leaves the event loop free while it walks 200,000 messages.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from '../engine/store'
import { encodeRecord, readRecordHead } from '../engine/record-codec'
import type { Destination, MessageRecord } from '../engine/message'
import {
  SEARCH_DEFAULT_LIMIT, SEARCH_WINDOW_MS, addressMatches, findById, parseAddressPattern, parseSearchQuery, parseStates, searchMessages, upstreamIdMatches,
  viewOf, type AddressPattern, type SearchQuery,
} from '../engine/message-search'
import { showMessage } from '../engine/cli'

const T0 = 1_700_000_000_000
const HOUR = 3_600_000

function freshDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'smsc-search-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function record(id: string, o: { systemId?: string; from?: string; to?: string | string[]; state?: number; at?: number; text?: string; dest?: Partial<Destination> } = {}): MessageRecord {
  const to = Array.isArray(o.to) ? o.to : [o.to ?? '4915100000000']
  const state = o.state ?? 2
  return {
    id, systemId: o.systemId ?? 'shop', state, err: 0, submitAt: o.at ?? T0, doneAt: 0,
    src: [5, 0, o.from ?? 'Shop'], dests: to.map((a) => ({ addr: [1, 1, a], state, err: 0, doneAt: 0, ...o.dest } as Destination)),
    serviceType: '', esmClass: 0, protocolId: 0, priority: 0, dataCoding: 0, registeredDelivery: 1,
    sm: Buffer.from(o.text ?? `to ${to.join(',')}`), scheduleAt: 0, expireAt: (o.at ?? T0) + 48 * HOUR,
  }
}

const pattern = (s: string): AddressPattern => {
  const p = parseAddressPattern(s, 'to')
  if (typeof p === 'string') throw new Error(p)
  return p
}

const query = (params: Record<string, string>, now = T0 + HOUR): SearchQuery => {
  const q = parseSearchQuery((k) => params[k], now)
  if (typeof q === 'string') throw new Error(q)
  return q
}

const everyone = { sees: () => true }

t.test('numbers match in any international form; a trailing * matches a prefix; sender ids in any case', async (t) => {
  for (const typed of ['+4915112345678', '004915112345678', '4915112345678', ' +49 151 1234-5678 ', '(0049) 151.12345678']) {
    const p = pattern(typed)
    t.equal(p.key, '4915112345678', `${JSON.stringify(typed)} is 4915112345678`)
    for (const stored of ['4915112345678', '+4915112345678', '004915112345678']) t.ok(addressMatches(p, stored), `${typed} finds ${stored}`)
    t.notOk(addressMatches(p, '491511234567'), 'a shorter number is another number')
    t.notOk(addressMatches(p, '49151123456789'), 'so is a longer one')
    t.notOk(addressMatches(p, '015112345678'), 'the national form is not the international one')
  }
  const prefix = pattern('+49151*')
  t.ok(prefix.prefix)
  t.ok(addressMatches(prefix, '004915199999999'))
  t.notOk(addressMatches(prefix, '4915299999999'))
  const shop = pattern('shop')
  t.ok(addressMatches(shop, 'Shop') && addressMatches(shop, 'SHOP'), 'a sender id matches in any case')
  t.notOk(addressMatches(shop, 'Shopping'))
  t.ok(addressMatches(pattern('Sho*'), 'shopping'))
  for (const bad of ['', '*', '+', '00', '1'.repeat(22), 'a*b']) t.type(parseAddressPattern(bad, 'to'), 'string', `${JSON.stringify(bad)} is refused`)
  t.ok(addressMatches(pattern('My Shop'), 'my shop'), 'a sender id with a space')
  t.match(parseAddressPattern('', 'from'), /^from must be/, 'the message names the parameter')
})

t.test('states by name, receipt stat or number; the query with its defaults and its errors', async (t) => {
  t.same([...(parseStates('delivered, UNDELIV,8') as Set<number>)].sort(), [2, 5, 8])
  t.match(parseStates('DELIVERED,LOST'), /state must be .*"LOST"/)
  t.match(parseStates('10'), /state must be/)
  t.match(parseStates(' , '), /at least one/)

  const now = T0
  const q = query({}, now)
  t.same(q, { since: now - SEARCH_WINDOW_MS, until: now, limit: SEARCH_DEFAULT_LIMIT }, 'no filter: the last 24 hours, 50 at most')
  const w = query({ since: '2023-11-14T20:00:00Z', until: String(T0), limit: '500', before: '0000000042', systemId: ' shop ', state: 'EXPIRED' }, now)
  t.equal(w.since, Date.parse('2023-11-14T20:00:00Z'))
  t.equal(w.until, T0)
  t.equal(w.limit, 500)
  t.equal(w.before, '0000000042')
  t.equal(w.systemId, 'shop')
  t.same([...(w.states as Set<number>)], [3])
  t.equal(query({ until: String(T0 - HOUR) }, now).since, T0 - HOUR - SEARCH_WINDOW_MS, 'the default window ends at until')
  t.equal(query({ before: 'a00000002a' }, now).before, 'a00000002a', 'a hex id is a cursor too')
  const bad: [Record<string, string>, RegExp][] = [
    [{ limit: '0' }, /^limit must be an integer from 1 to 500/], [{ limit: '501' }, /^limit/], [{ limit: '2.5' }, /^limit/],
    [{ since: 'yesterday' }, /^since must be an ISO-8601 time/], [{ until: 'x' }, /^until must be/],
    [{ since: String(T0), until: String(T0 - 1) }, /^since .* is after until/],
    [{ before: '42' }, /^before must be a message id/], [{ before: 'zzzzzzzzzz' }, /^before/],
    [{ to: '*' }, /^to must be/], [{ state: 'gone' }, /^state must be/],
    [{ direction: 'in' }, /^direction must be mt \(messages the account sent\) or mo \(from subscribers\) \(got "in"\)$/],
  ]
  for (const [params, re] of bad) t.match(parseSearchQuery((k) => params[k], now), re, JSON.stringify(params))
})

t.test("a record's head is read from its octets; the octet filter lets through every record that can match", async (t) => {
  const r = record('0000000007', { systemId: 'shop', from: '+4930123', to: ['004915112345678', '4917700000001'], state: 5, at: T0 + 5, dest: { via: ['up1', 'sim'], price: 0.5, up: 'abc', conn: 'up1' } })
  const b = encodeRecord(r) as Buffer
  t.ok(b, 'the record has the binary layout')
  t.same(readRecordHead(b, b.length), { pass: true, systemId: 'shop', state: 5, submitAt: T0 + 5, src: '+4930123', dests: ['004915112345678', '4917700000001'], mo: false })
  const key = (s: string) => Buffer.from(s, 'latin1')
  const pass = (f: Parameters<typeof readRecordHead>[2]) => readRecordHead(b, b.length, f)?.pass
  t.equal(pass({ dest: { key: key('4915112345678'), prefix: false, fold: false } }), true, 'the first destination, written with 00')
  t.equal(pass({ dest: { key: key('4917700000001'), prefix: false, fold: false } }), true, 'the second one')
  t.equal(pass({ dest: { key: key('49177'), prefix: true, fold: false } }), true, 'a prefix')
  t.equal(pass({ dest: { key: key('49177'), prefix: false, fold: false } }), false, 'not as a whole number')
  t.equal(pass({ dest: { key: key('4930123'), prefix: false, fold: false } }), false, 'the source is not a destination')
  t.equal(pass({ src: { key: key('4930123'), prefix: false, fold: false } }), true, 'the source, written with +')
  t.equal(pass({ state: (st) => st === 5 }), true, 'its state')
  t.equal(pass({ state: (st) => st === 2 }), false, 'a state that rules it out')
  t.equal(pass({ systemId: key('shop') }), true)
  t.equal(pass({ systemId: key('sho') }), false, 'an account is matched whole')
  t.equal(pass({ systemId: key('shop'), dest: { key: key('4999'), prefix: false, fold: false } }), false, 'every filter must pass')
  const refused = readRecordHead(b, b.length, { systemId: key('other') })
  t.same(refused, { pass: false, systemId: '', state: 5, submitAt: T0 + 5, src: '', dests: [], mo: false }, 'a refused record: its time and state only')
  const alpha = encodeRecord(record('0000000008', { from: 'ShopX' })) as Buffer
  t.equal(readRecordHead(alpha, alpha.length, { src: { key: key('shopx'), prefix: false, fold: true } })?.pass, true, 'letters in any case')
  const utf8 = encodeRecord(record('0000000009', { from: 'Café' })) as Buffer
  t.equal(readRecordHead(utf8, utf8.length, { src: { key: key('nomatch'), prefix: false, fold: true } })?.pass, true, 'a UTF-8 address is left to the check on strings')
  t.equal(readRecordHead(utf8, utf8.length)?.src, 'Café')
  t.equal(readRecordHead(Buffer.from([0x92, 1, 2]), 3), null, 'a msgpackr value is not read here')
  t.same(readRecordHead(b, b.length, { reference: true }), { pass: false, systemId: '', state: 5, submitAt: T0 + 5, src: '', dests: [], mo: false },
    "a search by reference refuses a record of the layout on sight: none has one (the send API's are msgpackr's)")
})

t.test("a search by the send API's reference finds the messages given it, exactly, with the other filters; the lookup and the list show it", async (t) => {
  const { store, ids } = await fixture(t)
  const put = async (name: string, reference: string, o: Parameters<typeof record>[1]) => {
    const [id] = store.allocateIds(1, 'decimal')
    ids[name] = id
    await store.commit({ messages: [{ ...record(id, o), reference }] })
  }
  await put('ref1', 'order-4711', { systemId: 'shop', to: '4915112345678', at: T0 + 9 * HOUR + 1 })
  await put('ref2', 'order-4711', { systemId: 'other', to: '4915199999999', at: T0 + 9 * HOUR + 2 })
  await put('ref3', 'Order-4711', { systemId: 'shop', to: '4915112345678', at: T0 + 9 * HOUR + 3 })
  const found = await searchMessages(store, query({ reference: 'order-4711' }, now), everyone)
  t.same(idsOf(found), [ids.ref2, ids.ref1], 'both messages given it, newest first; not one given it in another case')
  t.match(found.messages[1], { id: ids.ref1, reference: 'order-4711' }, 'the list carries it')
  t.same(idsOf(await searchMessages(store, query({ reference: ' order-4711 ', systemId: 'shop', to: '+49 151 12345678' }, now), everyone)), [ids.ref1], 'with account and number (the value trimmed)')
  t.same(idsOf(await searchMessages(store, query({ reference: 'order-4712' }, now), everyone)), [], 'another reference finds nothing')
  t.same(idsOf(await searchMessages(store, query({ reference: 'order-4711' }, now), { sees: (id) => id === 'shop' })), [ids.ref1], "another account's is not seen")
  t.equal(viewOf(store.getMessage(ids.ref1) as MessageRecord).reference, 'order-4711', 'the lookup has it')
  t.match(showMessage(viewOf(store.getMessage(ids.ref1) as MessageRecord)), /\n  reference   order-4711\n/, '`smsc message show` prints it')
  t.notOk('reference' in viewOf(store.getMessage(ids.shop1) as MessageRecord), 'none on a message without one')
  t.equal(parseSearchQuery((k) => ({ reference: 'x'.repeat(65) } as Record<string, string>)[k], now), 'reference must be 1 to 64 printable ASCII characters (space to ~), not starting or ending with a space (got 65 characters), as the send API takes it')
  t.match(parseSearchQuery((k) => ({ reference: 'caf\u00e9' } as Record<string, string>)[k], now), /^reference must be 1 to 64 printable ASCII .*\(got "é" at 4\)/)
})

/** A store with messages of three accounts over 10 hours, in both id formats. */
async function fixture(t: { teardown(fn: () => void): void }): Promise<{ store: Store; ids: Record<string, string> }> {
  const store = await Store.open(freshDir(t))
  t.teardown(() => store.close())
  const ids: Record<string, string> = {}
  const put = async (name: string, format: 'decimal' | 'hex', o: Parameters<typeof record>[1]) => {
    const [id] = store.allocateIds(1, format)
    ids[name] = id
    await store.commit({ messages: [record(id, o)] })
  }
  await put('shop1', 'decimal', { systemId: 'shop', to: '+4915112345678', at: T0 })
  await put('other1', 'decimal', { systemId: 'other', to: '4915112345678', from: 'Bank', at: T0 + HOUR })
  await put('child1', 'hex', { systemId: 'child', to: '004915112345678', from: '+4930111', state: 5, at: T0 + 2 * HOUR })
  await put('shop2', 'hex', { systemId: 'shop', to: '4917700000000', at: T0 + 3 * HOUR })
  await put('shop3', 'decimal', { systemId: 'shop', to: ['4917700000001', '4915112345678'], state: 1, at: T0 + 4 * HOUR })
  // a record the binary layout does not cover (an extra field): written with msgpackr, found all the same
  const [legacy] = store.allocateIds(1, 'decimal')
  ids.legacy = legacy
  await store.commit({ messages: [{ ...record(legacy, { systemId: 'shop', to: '+4915112345678', at: T0 + 5 * HOUR }), legacyField: 1 } as unknown as MessageRecord] })
  for (let i = 0; i < 20; i++) await put(`bulk${i}`, i % 3 === 0 ? 'hex' : 'decimal', { systemId: 'bulk', to: `49160000000${String(i).padStart(2, '0')}`, at: T0 + 6 * HOUR + i * 1000 })
  await put('late', 'hex', { systemId: 'shop', to: '+4915112345678', from: 'Late', at: T0 + 9 * HOUR })
  return { store, ids }
}

const now = T0 + 10 * HOUR
const idsOf = (r: { messages: { id: string }[] }) => r.messages.map((m) => m.id)

t.test("an upstream's id matches in any case, and as the same number the way its connector's receiptIds compares ids", async (t) => {
  t.ok(upstreamIdMatches('A50A', 'a50a'), 'any case')
  t.notOk(upstreamIdMatches('A50A', '00a50a'), "'exact': leading zeros make another id")
  t.notOk(upstreamIdMatches('A50A', '42250'), "'exact': no base is guessed")
  t.ok(upstreamIdMatches('A50A', '00a50a', 'hex'), "'hex': the same number")
  t.ok(upstreamIdMatches('A50A', '42250', 'hex-submit'), "'hex-submit': the receipts' decimal form of the submit's hex id")
  t.ok(upstreamIdMatches('0042', '42', 'decimal'))
  t.notOk(upstreamIdMatches('0042', '43', 'decimal'))
  t.notOk(upstreamIdMatches('msg-7', 'msg-70', 'hex'), 'an id that is not a number stays a string')
})

t.test('a search by upstream id reads the destinations: connector and id, as that connector compares them', async (t) => {
  const { store, ids } = await fixture(t)
  const r = store.getMessage(ids.shop3) as MessageRecord
  await store.commit({ messages: [{ ...r, dests: [{ ...r.dests[0], up: 'A50A', conn: 'carrier-h' }, { ...r.dests[1], up: '77', conn: 'carrier-x' }] }] })
  const modes = { receiptIds: (c: string) => (c === 'carrier-h' ? 'hex-submit' as const : undefined) }
  t.same(idsOf(await searchMessages(store, query({ upstreamId: 'a50a' }, now), { ...everyone, ...modes })), [ids.shop3], 'its first destination, in any case')
  t.same(idsOf(await searchMessages(store, query({ upstreamId: '42250' }, now), { ...everyone, ...modes })), [ids.shop3], 'the decimal form its hex-submit connector would match')
  t.same(idsOf(await searchMessages(store, query({ upstreamId: '42250' }, now), everyone)), [], 'not without that connector\'s receiptIds')
  t.same(idsOf(await searchMessages(store, query({ upstreamId: '77', to: '4915112345678' }, now), everyone)), [ids.shop3], 'its second destination, with other filters')
  t.same(idsOf(await searchMessages(store, query({ upstreamId: '78' }, now), everyone)), [], 'another id finds nothing')
})

t.test('a search finds by number, source, account and state, newest first across both id formats', async (t) => {
  const { store, ids } = await fixture(t)
  t.equal(encodeRecord(store.getMessage(ids.legacy) as MessageRecord), null, 'the legacy record is not in the binary layout')
  const byTo = await searchMessages(store, query({ to: '+4915112345678' }, now), everyone)
  t.same(idsOf(byTo), [ids.late, ids.legacy, ids.shop3, ids.child1, ids.other1, ids.shop1], 'every form of the number, newest first (decimal and hex ids merged)')
  t.equal(byTo.truncated, false)
  t.equal(byTo.next, null, 'the window was searched to its start')
  t.equal(byTo.scanned, 27, 'every stored message was read once')
  t.match(byTo.messages[2], { id: ids.shop3, systemId: 'shop', from: 'Shop', to: ['4917700000001', '4915112345678'], state: 1, stat: 'ENROUTE', submitAt: T0 + 4 * HOUR, text: 'to 4917700000001,4915112345678' })

  t.same(idsOf(await searchMessages(store, query({ to: '0049151123*' }, now), everyone)), idsOf(byTo), 'a prefix')
  t.same(idsOf(await searchMessages(store, query({ to: '4915112345678', systemId: 'shop' }, now), everyone)), [ids.late, ids.legacy, ids.shop3, ids.shop1], 'one account')
  t.same(idsOf(await searchMessages(store, query({ from: '004930111' }, now), everyone)), [ids.child1], 'by source number')
  t.same(idsOf(await searchMessages(store, query({ from: 'BANK' }, now), everyone)), [ids.other1], 'by sender id, in any case')
  t.same(idsOf(await searchMessages(store, query({ state: 'UNDELIV' }, now), everyone)), [ids.child1], 'by state')
  t.same(idsOf(await searchMessages(store, query({ state: 'ENROUTE', to: '4915112345678' }, now), everyone)), [ids.shop3])
  t.same(idsOf(await searchMessages(store, query({ to: '4915112345679' }, now), everyone)), [], 'nothing for another number')

  // the latest version of a pending message decides its state
  const done = { ...(store.getMessage(ids.shop3) as MessageRecord), state: 2 }
  await store.commit({ messages: [done] })
  t.same(idsOf(await searchMessages(store, query({ state: 'ENROUTE' }, now), everyone)), [], 'no longer en route')
  t.same(idsOf(await searchMessages(store, query({ state: 'DELIVERED', systemId: 'shop', to: '4917700000001' }, now), everyone)), [ids.shop3], 'delivered now')
})

t.test('the window: since, until (the walk starts where it ends) and the default 24 hours', async (t) => {
  const { store, ids } = await fixture(t)
  const mid = await searchMessages(store, query({ to: '4915112345678', since: String(T0 + HOUR), until: String(T0 + 4 * HOUR) }, now), everyone)
  t.same(idsOf(mid), [ids.shop3, ids.child1, ids.other1], 'both ends inclusive')
  t.ok((mid.scanned ?? Infinity) <= 6, `the walk started at until and ended at since (${mid.scanned} read)`)
  t.same([mid.since, mid.until], [T0 + HOUR, T0 + 4 * HOUR], 'the answer says the window')
  const early = await searchMessages(store, query({ until: String(T0 + 30 * 60_000) }, now), everyone)
  t.same(idsOf(early), [ids.shop1], 'the first hour')
  t.ok((early.scanned ?? Infinity) <= 2, `read from the first message on (${early.scanned})`)
  const recent = await searchMessages(store, query({}, T0 + 26 * HOUR), everyone)
  t.same(idsOf(recent), [ids.late, ...Array.from({ length: 20 }, (_, i) => ids[`bulk${19 - i}`]), ids.legacy, ids.shop3, ids.shop2, ids.child1], 'the default window: 24 hours back from now')
  t.equal(recent.next, null)
  t.same(idsOf(await searchMessages(store, query({}, T0 + 40 * HOUR), everyone)), [], 'nothing in the last 24 hours')
})

t.test('pages: limit and the next cursor go through everything once; the scan cap truncates and goes on', async (t) => {
  const { store, ids } = await fixture(t)
  const all = await searchMessages(store, query({ since: '0', limit: '500' }, now), everyone)
  t.equal(all.messages.length, 27)
  const seen: string[] = []
  let before: string | undefined
  for (let page = 0; page < 20; page++) {
    const r = await searchMessages(store, query({ since: '0', limit: '4', ...(before ? { before } : {}) }, now), everyone)
    t.ok(r.messages.length <= 4)
    seen.push(...idsOf(r))
    if (r.next === null) break
    t.equal(r.next, r.messages[r.messages.length - 1].id, 'the cursor is the last message of the page')
    before = r.next
  }
  t.same(seen, idsOf(all), 'the pages together: every message once, in order')

  const capped = await searchMessages(store, query({ to: '4915112345678', since: '0' }, now), { ...everyone, maxScan: 10, sliceSize: 3 })
  t.equal(capped.scanned, 10)
  t.equal(capped.truncated, true, 'the cap stopped it')
  t.same(idsOf(capped), [ids.late], 'what it found before the cap')
  t.type(capped.next, 'string')
  const rest = await searchMessages(store, query({ to: '4915112345678', since: '0', before: capped.next as string }, now), { ...everyone, maxScan: 100 })
  t.same(idsOf(rest), [ids.legacy, ids.shop3, ids.child1, ids.other1, ids.shop1], 'the next call goes on from the cursor')
  t.equal(rest.truncated, false)
})

t.test("the caller's scope: messages of accounts it may not see are never listed", async (t) => {
  const { store, ids } = await fixture(t)
  const asked: string[] = []
  const reseller = { sees: (s: string) => { asked.push(s); return s === 'shop' || s === 'child' } }
  t.same(idsOf(await searchMessages(store, query({ to: '4915112345678' }, now), reseller)), [ids.late, ids.legacy, ids.shop3, ids.child1, ids.shop1], "no other's")
  t.same(asked.sort(), ['child', 'other', 'shop'], 'the scope is asked once per account')
  t.same(idsOf(await searchMessages(store, query({ from: 'Bank' }, now), reseller)), [], 'another account is as if it had none')
})

t.test('the lookup: short ids, and each destination with its connector, upstream id, route and price', async (t) => {
  const store = await Store.open(freshDir(t))
  t.teardown(() => store.close())
  store.allocateIds(10, 'decimal') // so that the hex id's counter has a letter (c)
  const [dec] = store.allocateIds(1, 'decimal')
  const [hex] = store.allocateIds(1, 'hex')
  t.equal(hex, 'a00000000c')
  const r = { ...record(dec, { to: '4915112345678', state: 2, dest: { via: ['up1', 'up2'], conn: 'up2', up: 'UP-77', price: 0.07, doneAt: T0 + 900 } }), price: 0.07, doneAt: T0 + 900, part: [1, 2] as [number, number] }
  await store.commit({ messages: [r, record(hex)] })
  t.equal(findById(store, String(Number(dec)))?.id, dec, 'a decimal id without its zeros')
  t.equal(findById(store, (parseInt(hex, 16) - 0xa0_0000_0000).toString(16).toUpperCase())?.id, hex, 'a hex id without its a and zeros, in upper case')
  t.equal(findById(store, 'nope'), undefined)
  const v = viewOf(findById(store, dec) as MessageRecord, { stored: T0 + 2, carrier: T0 + 3, receipt: T0 + 900, stat: 'DELIVRD' })
  t.same(v.dests, [{ to: '4915112345678', state: 2, stat: 'DELIVRD', err: 0, doneAt: T0 + 900, connector: 'up2', upstreamId: 'UP-77', price: 0.07, via: ['up1', 'up2'] }])
  t.equal(v.price, 0.07)
  t.same(v.part, [1, 2])
  t.equal(v.expireAt, T0 + 48 * HOUR)
  t.same(v.timeline.map((e) => e.event), ['received', 'stored', 'carrier', 'receipt'])
  const scheduled = { ...r, state: 0, doneAt: 0, scheduleAt: T0 + 60_000 }
  t.same(viewOf(scheduled, { stored: T0 + 2, carrier: T0 + 2 }).timeline.map((e) => e.event), ['received', 'stored'],
    'a scheduled message is not with the carrier when it is stored')
  t.same(viewOf({ ...scheduled, state: 1 }, { stored: T0 + 2, carrier: T0 + 60_005 }).timeline.map((e) => e.event), ['received', 'stored', 'carrier'], 'but once handed over when due')
  const bare = viewOf(findById(store, hex) as MessageRecord)
  t.same(bare.dests, [{ to: '4915100000000', state: 2, stat: 'DELIVRD', err: 0, doneAt: 0 }], 'a destination not yet carried has no carrier fields')
  t.notOk('price' in bare, 'nor a price')
})

t.test('the lookup says which receipts the message asked for, and `smsc message show` says it and what was refunded', async (t) => {
  // "I was charged but got no receipt": a message that asked for none (registered_delivery 0) still shows its outcome
  const at = (rd: number, state: number, dest: Partial<Destination> = {}) =>
    viewOf({ ...record('0000000042', { state, dest }), registeredDelivery: rd, price: 1, doneAt: T0 + 900 }, { stored: T0 + 2, carrier: T0 + 3, receipt: T0 + 900, stat: 'DELIVRD' })
  t.equal(at(0, 2).registeredDelivery, 0, 'registered_delivery as submitted')
  t.equal(at(17, 2).registeredDelivery, 17)
  const line = (rd: number, state: number) => /^ {2}receipt {5}(.*)$/m.exec(showMessage(at(rd, state)))?.[1]
  t.equal(line(0, 2), 'not asked for (registered_delivery 0): the ESME gets none')
  t.equal(line(1, 5), 'asked for: the final outcome (registered_delivery 1)')
  t.equal(line(2, 2), 'asked for failures only (registered_delivery 2): none for a delivered message')
  t.equal(line(2, 5), 'asked for failures only (registered_delivery 2)')
  t.equal(line(3, 5), 'asked for success only (registered_delivery 3): none for this outcome')
  t.equal(line(3, 1), 'asked for success only (registered_delivery 3)', 'not final yet: nothing to say about the outcome')
  t.equal(line(16, 2), 'intermediate ones only (registered_delivery 16): none for the final outcome')
  t.equal(line(17, 2), 'asked for: the final outcome, and intermediate ones (registered_delivery 17)')
  const refunded = showMessage(at(1, 5, { price: 1, refunded: true }))
  t.match(refunded, /^ {2}price {7}1, refunded$/m, 'the message: its price given back (settlement "refund")')
  t.match(refunded, /; connector simulator, upstream id -, route simulator, price 1 \(refunded\)$/m, 'and the destination')
  const kept = showMessage(at(1, 2, { price: 1 }))
  t.match(kept, /^ {2}price {7}1$/m, 'a delivered message keeps its charge')
  t.notMatch(kept, /refunded/)
})

t.test('`smsc message show` names the simulated carrier, which a record does not store, and says "-" for what no connector took', async (t) => {
  const dest = (state: number, d: Partial<Destination>) => /^ {2}to \d+: .*$/m.exec(showMessage(viewOf({ ...record('0000000045', { state, dest: d }), doneAt: T0 })))
  t.match(dest(2, {})?.[0], /connector simulator, upstream id -, route simulator/, "delivered on the simulator's route")
  t.match(dest(0, {})?.[0], /connector -, upstream id -, route simulator/, 'scheduled: not carried yet')
  t.match(dest(3, { via: ['up1'] })?.[0], /connector -, upstream id -, route up1/, 'expired before the upstream took it')
  t.match(dest(2, { via: ['up1', 'simulator'] })?.[0], /connector simulator, upstream id -, route up1 → simulator/, 'failed over to the simulator')
  t.match(dest(2, { via: ['up1'], conn: 'up1', up: 'U-1' })?.[0], /connector up1, upstream id U-1, route up1/)
})

t.test("`smsc message show` of an MO its ESME refused names the ESME's status (an SMPP command_status)", async (t) => {
  const v = viewOf({ ...record('0000000044', { state: 5 }), err: 0x65, doneAt: T0 + 900 })
  v.mo = { connector: 'up1', delivery: 'refused', parts: 1, acked: 0, retries: 0 }
  const shown = showMessage(v)
  t.match(shown, /^0000000044 {2}MO .* err 101 \(0x65 ESME_RX_P_APPN\)$/m)
  t.match(shown, /refused for good by the ESME \(err 101 \(0x65 ESME_RX_P_APPN\), not sent again\)/)
})

t.test('`smsc message show` names the engine\'s own error codes and leaves an upstream\'s as they came', async (t) => {
  const shown = (err: number) => showMessage(viewOf({ ...record('0000000043', { state: 8, dest: { err } }), err, doneAt: T0 + 900 }))
  const opted = shown(0x403)
  t.match(opted, /^0000000043 .* err 1027 \(0x403 SMSC_ROPTEDOUT\)$/m, 'opted out after it was accepted: 0x403 by name')
  t.match(opted, /^ {2}to \d+: .* err 1027 \(0x403 SMSC_ROPTEDOUT\)/m, 'on the destination too')
  t.match(shown(11), / err 11$/m, "an upstream's status or network code is not named: its meaning is the upstream's")
  t.notMatch(shown(11), /ESME_/)
  // An upstream's own vendor-specific status (0x400-0x4FF is every SMSC's range) refusing the submit for good: its meaning
  // is the upstream's, not this engine's 0x401 (a prepaid account out of credit, refused at admission, never stored).
  const upstream = (err: number) => showMessage(viewOf({ ...record('0000000044', { state: 8, dest: { err, conn: 'up1' } }), err, doneAt: T0 + 900 }))
  t.notMatch(upstream(0x401), /SMSC_RNOCREDIT/, "an upstream's 0x401 is not named as this engine's credit refusal")
  t.match(upstream(0x401), /^0000000044 .* err 1025$/m, 'shown as it came')
  t.match(upstream(0x401), /^ {2}to \d+: .* err 1025;/m, 'on the destination too')
  t.match(upstream(0x403), /^ {2}to \d+: .* err 1027 \(0x403: SMSC_ROPTEDOUT if the engine ended it, else connector up1's own code\)/m,
    "0x403 after a connector carried it: the engine's opt-out (the destination was retried before) or the upstream's own")
})

t.test('a search over 200,000 messages leaves the event loop free; the same walk in one slice would not', async (t) => {
  const store = await Store.open(freshDir(t))
  t.teardown(() => store.close())
  const N = 200_000
  for (let done = 0; done < N; done += 10_000) {
    const ids = store.allocateIds(10_000, 'decimal')
    await store.commit({ messages: ids.map((id, i) => record(id, { systemId: `acct${i % 7}`, to: `49151${String(done + i).padStart(8, '0')}`, at: T0 + done + i })) })
  }
  const q = query({ to: '+4915199999999', since: '0' }, T0 + N)
  /** The longest wait of a 1 ms timer while `work` runs. */
  const longestGap = async (work: () => Promise<unknown>): Promise<number> => {
    let last = performance.now()
    let worst = 0
    const timer = setInterval(() => {
      const t1 = performance.now()
      worst = Math.max(worst, t1 - last)
      last = t1
    }, 1)
    await new Promise((r) => setTimeout(r, 5))
    last = performance.now()
    await work()
    clearInterval(timer)
    return Math.max(worst, performance.now() - last)
  }
  await searchMessages(store, query({ to: '4915100000001', since: '0' }, T0 + N), everyone) // warm up (JIT), not measured
  let result: Awaited<ReturnType<typeof searchMessages>> | undefined
  const sliced = await longestGap(async () => { result = await searchMessages(store, q, everyone) })
  t.equal(result?.scanned, N, 'the search read every message')
  t.same(result?.messages, [], 'and found none')
  const rate = Math.round(N / Math.max(1, result?.ms ?? 1) * 1000)
  t.comment(`${N} messages searched in ${result?.ms} ms (${rate.toLocaleString('en-US')} a second), longest event-loop wait ${sliced.toFixed(1)} ms`)
  const whole = await longestGap(() => searchMessages(store, q, { ...everyone, sliceSize: N }))
  t.comment(`the same walk in one slice: longest wait ${whole.toFixed(1)} ms`)
  t.ok(whole > 35, `one slice of ${N} holds the event loop for more than 35 ms (${whole.toFixed(1)}): the measure can see a blocking walk`)
  t.ok(sliced < 35, `the search in slices never held it for 35 ms (${sliced.toFixed(1)})`)
})
