/**
 * Opt-outs end to end (docs/ROUTING.md "Opt-outs"): numbers on the operator's global list, an account's own list or
 * its reseller's are refused at MT admission with SMSC_ROPTEDOUT (0x403) and cost nothing (submit_sm, data_sm, the
 * send API; a submit_multi goes on with its other destinations and lists the refused one in unsuccess_sme); an MO
 * route with optOut adds the subscriber on STOP and removes it on START (from the simulated carrier and from an
 * upstream SMSC's deliver_sm); the lists survive a restart; the API is scoped (a reseller its own and its users'
 * lists, a user its own, a viewer reads only) and audited; the CLI manages them through the running engine.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { projectRoot, startEngine, type Engine } from '../helpers/engine'
import { MessageState, Status, gsm, isMo, isReceipt, messageText, openEsme, receiptFor, type Pdu } from '../helpers/esme'
import { AdminApi, ADMIN_PASSWORD, hex, httpCall, startPolicyEngine, type PolicyAccount } from '../helpers/policy'
import { startUpstream, type NodePdu } from '../helpers/upstream'

const OPTED_OUT = 0x403 // SMSC_ROPTEDOUT
const GLOBAL_NO = '4915100000001' // on the operator's global list
const RES_NO = '4915100000002' // on res1's list
const SHOP_NO = '4915100000003' // on shop's own list
const FREE_NO = '4915100000009' // on no list
const SUBSCRIBER = '4917700000042' // texts STOP, then START

const ACCOUNTS: PolicyAccount[] = [
  { systemId: 'res1', password: 'rpw1', role: 'reseller' },
  { systemId: 'shop', password: 'spw1', parent: 'res1', credit: 10 },
  { systemId: 'res2', password: 'rpw2', role: 'reseller' },
  { systemId: 'other', password: 'opw1', parent: 'res2' },
]
const MO_ROUTES = [
  { name: 'stop', match: { keyword: 'STOP' }, account: 'shop', optOut: 'add' },
  { name: 'start', match: { keyword: 'START' }, account: 'shop', optOut: 'remove' },
  { name: 'unstop', match: { keyword: 'UNSTOP' }, account: 'shop', optOut: 'remove' },
]

async function login(e: Engine, body: Record<string, string>): Promise<string> {
  const r = await httpCall(e.httpPort, 'POST', '/api/v1/login', body)
  const token = (r.json as { token?: string } | undefined)?.token
  if (r.status !== 200 || typeof token !== 'string') throw new Error(`login ${JSON.stringify(body.systemId ?? body.user ?? 'operator')}: ${r.status} ${r.body}`)
  return token
}
const as = (e: Engine, token: string) => (method: string, urlPath: string, body?: unknown) => httpCall(e.httpPort, method, urlPath, body, { authorization: `Bearer ${token}` })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const numbersOf = (json: unknown) => ((json as { optouts: { number: string }[] }).optouts ?? []).map((x) => x.number)

t.test('opt-outs refuse MT without charge, MO STOP and START change the list, and the lists survive a restart', async (t) => {
  const engine = await startPolicyEngine(t, { accounts: ACCOUNTS, extra: { routes: { mo: MO_ROUTES } } })
  const api = await AdminApi.login(engine)
  const res1 = as(engine, await login(engine, { systemId: 'res1', password: 'rpw1' }))
  const shopApi = as(engine, await login(engine, { systemId: 'shop', password: 'spw1' }))
  t.match(await api.call('POST', '/api/v1/optouts', { number: `+${GLOBAL_NO}` }), { status: 200, json: { added: 1, already: 0, total: 1 } }, "the operator's global list ('+' dropped)")
  t.match(await res1('POST', '/api/v1/accounts/res1/optouts', { numbers: [RES_NO] }), { status: 200, json: { added: 1 } }, "res1's own list")
  t.match(await shopApi('POST', '/api/v1/accounts/shop/optouts', { numbers: [SHOP_NO, SHOP_NO] }), { status: 200, json: { added: 1, total: 1 } }, "shop's own list (a number given twice is one)")
  t.match(await shopApi('POST', '/api/v1/accounts/shop/optouts', { number: SHOP_NO }), { status: 200, json: { added: 0, already: 1 } }, 'on it already: left as it was')

  const shop = await openEsme(t, { port: engine.smppPort, kind: 'transceiver', systemId: 'shop', password: 'spw1' })
  const submit = (to: string, text = 'offer') => shop.submit({ source_addr: 'SHOP', source_addr_ton: 5, destination_addr: to, short_message: gsm(text), registered_delivery: 1 })
  t.equal(await api.balance('shop'), 10, 'shop starts with 10 credit')

  t.test('submit_sm and data_sm to a listed number: SMSC_ROPTEDOUT, not charged', async (t) => {
    for (const [to, list] of [[GLOBAL_NO, 'the global list'], [RES_NO, "its reseller's list"], [SHOP_NO, 'its own list'], [`+${SHOP_NO}`, 'its own list, "+" ignored']]) {
      t.equal(hex((await submit(to)).command_status), hex(OPTED_OUT), `${to}: on ${list}`)
    }
    const data = await shop.request('data_sm', { source_addr: 'SHOP', source_addr_ton: 5, destination_addr: SHOP_NO, message_payload: gsm('data') })
    t.equal(hex(data.command_status), hex(OPTED_OUT), 'data_sm too')
    t.equal(await api.balance('shop'), 10, 'nothing charged for the refusals')
    const ok = await submit(FREE_NO)
    t.equal(ok.command_status, 0, 'a number on no list goes')
    await shop.waitFor((p) => isReceipt(p) && p.receipted_message_id === ok.message_id, 10_000)
    t.equal(await api.balance('shop'), 9, 'and is charged')
  })

  t.test('submit_multi: the listed destinations go to unsuccess_sme with 0x403, the others are sent and charged', async (t) => {
    const others = ['4915100000011', '4915100000012']
    const resp = await shop.request('submit_multi', {
      source_addr: 'SHOP', source_addr_ton: 5, short_message: gsm('to four'), registered_delivery: 1,
      dest_address: [SHOP_NO, others[0], GLOBAL_NO, others[1]].map((d) => ({ dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: d })),
    })
    t.equal(resp.command_status, Status.ESME_ROK)
    t.same((resp.unsuccess_sme ?? []).map((u) => [u.destination_addr, hex(u.error_status_code)]), [[SHOP_NO, hex(OPTED_OUT)], [GLOBAL_NO, hex(OPTED_OUT)]], 'the two listed ones, each with 0x403')
    await Promise.all(others.map((d) => shop.waitFor((p) => isReceipt(p) && p.source_addr === d, 10_000)))
    t.equal(await api.balance('shop'), 7, 'two destinations charged, not four')
    const all = await shop.request('submit_multi', {
      source_addr: 'SHOP', source_addr_ton: 5, short_message: gsm('to none'),
      dest_address: [{ dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: RES_NO }],
    })
    t.equal(hex(all.command_status), hex(OPTED_OUT), 'every destination listed: the submit_multi is refused with 0x403')
    t.same((all.unsuccess_sme ?? []).map((u) => u.destination_addr), [RES_NO], 'and names it')
    await sleep(200)
    t.notOk(shop.delivered.some((p) => isReceipt(p) && (p.source_addr === SHOP_NO || p.source_addr === GLOBAL_NO)), 'no receipt for a refused destination')
    t.equal(await api.balance('shop'), 7)
  })

  t.test("another reseller's user is not bound by res1's or shop's lists, only by the global one", async (t) => {
    const other = await openEsme(t, { port: engine.smppPort, kind: 'transmitter', systemId: 'other', password: 'opw1' })
    const to = (d: string) => other.submit({ source_addr: '123', destination_addr: d, short_message: gsm('x') })
    t.equal((await to(RES_NO)).command_status, 0)
    t.equal((await to(SHOP_NO)).command_status, 0)
    t.equal(hex((await to(GLOBAL_NO)).command_status), hex(OPTED_OUT))
  })

  t.test('the send API: 403 SMSC_ERR_DEST_OPTED_OUT for one message; per message in a batch', async (t) => {
    const key = (await api.ok<{ key: string }>('POST', '/api/v1/accounts/shop/apikeys', {})).key
    const send = (body: unknown) => httpCall(engine.httpPort, 'POST', '/api/v1/messages', body, { 'x-api-key': key })
    const one = await send({ from: 'SHOP', to: `+49 151 0000 0003`, text: 'hi' })
    t.equal(one.status, 403)
    t.match(one.json, { ok: false, status: OPTED_OUT, code: 'SMSC_ERR_DEST_OPTED_OUT', error: /has opted out/ })
    const batch = await send({ messages: [{ from: 'SHOP', to: GLOBAL_NO, text: 'a' }, { from: 'SHOP', to: FREE_NO, text: 'b' }] })
    t.match(batch.json, { results: [{ ok: false, code: 'SMSC_ERR_DEST_OPTED_OUT' }, { ok: true }] })
    await sleep(300)
    t.equal(await api.balance('shop'), 6, 'only the message that went is charged')
    t.match(await httpCall(engine.httpPort, 'GET', '/api/v1/accounts/shop/optouts', undefined, { 'x-api-key': key }), { status: 200, json: { total: 1 } }, "shop's API key reads its own list")
    t.match(await httpCall(engine.httpPort, 'GET', '/api/v1/accounts/res1/optouts', undefined, { 'x-api-key': key }), { status: 403 }, "but not its reseller's")
  })

  t.test('/metrics counts the refused destinations by list', async (t) => {
    const m = (await httpCall(engine.httpPort, 'GET', '/metrics')).body
    t.match(m, /smsc_optout_refused_total\{list="global"\} [1-9]/)
    t.match(m, /smsc_optout_refused_total\{list="account"\} [1-9]/)
    t.match(m, /smsc_optout_refused_total\{list="reseller"\} [1-9]/)
    t.match(m, /smsc_submit_total\{account="shop",status="SMSC_ROPTEDOUT"\} [1-9]/)
  })

  t.test("an MO STOP puts the subscriber on the route's account's list and is delivered; START takes it off", async (t) => {
    const mo = async (text: string) => httpCall(engine.httpPort, 'POST', '/api/v1/simulator/mo', { from: `+${SUBSCRIBER}`, to: '12345', text }, { authorization: `Bearer ${await engine.operatorToken()}` })
    t.equal(hex((await submit(SUBSCRIBER)).command_status), '0x00', 'before STOP the subscriber gets messages')
    t.equal((await mo('STOP')).status, 202)
    const got = await shop.waitFor((p: Pdu) => isMo(p) && p.source_addr === SUBSCRIBER && p.source_addr_ton === 1, 10_000)
    t.ok(got, 'the STOP is delivered to shop as any MO, from the number without its + (TON 1 says it)')
    const list = await shopApi('GET', '/api/v1/accounts/shop/optouts')
    t.same(numbersOf(list.json), [SHOP_NO, SUBSCRIBER].sort(), 'on shop\'s list')
    t.match((list.json as { optouts: unknown[] }).optouts.find((x) => (x as { number: string }).number === SUBSCRIBER), { by: 'mo:STOP', at: Number }, 'added by the route, with when')
    t.equal(hex((await submit(SUBSCRIBER)).command_status), hex(OPTED_OUT), 'after STOP: refused')
    t.equal((await mo('start')).status, 202)
    await shop.waitFor((p: Pdu) => isMo(p) && p.source_addr === SUBSCRIBER && String((p.short_message as { message?: string })?.message ?? '').toLowerCase() === 'start', 10_000).catch(() => null)
    t.equal(hex((await submit(SUBSCRIBER)).command_status), '0x00', 'after START: sent again')
    t.same(numbersOf((await shopApi('GET', '/api/v1/accounts/shop/optouts')).json), [SHOP_NO], 'off the list')
    t.equal((await mo('STOP now')).status, 202, 'STOP again')
    await sleep(300)
    // START took the entry off the list: the audit keeps the history (retention does not purge it)
    const audit = (await shopApi('GET', '/api/v1/audit')).json as { entries: { action: string; target: string; by: string; detail?: { numbers?: string[] } }[] }
    t.same(audit.entries.filter((e) => e.detail?.numbers?.[0] === SUBSCRIBER).map((e) => [e.action, e.target, e.by]),
      [['optout.add', 'shop', 'mo:STOP'], ['optout.remove', 'shop', 'mo:START'], ['optout.add', 'shop', 'mo:STOP']], "the subscriber's STOP, START and STOP, newest first, in shop's audit")
  })

  t.test('the lists survive a restart; the CLI reads and changes them through the running engine', async (t) => {
    await engine.restart()
    const again = await AdminApi.login(engine)
    t.same(numbersOf(await again.ok('GET', '/api/v1/optouts')), [GLOBAL_NO])
    t.same(numbersOf(await again.ok('GET', '/api/v1/accounts/shop/optouts')), [SHOP_NO, SUBSCRIBER].sort(), 'the MO\'s STOP too')
    const shop2 = await openEsme(t, { port: engine.smppPort, kind: 'transmitter', systemId: 'shop', password: 'spw1' })
    t.equal(hex((await shop2.submit({ source_addr: 'SHOP', source_addr_ton: 5, destination_addr: SUBSCRIBER, short_message: gsm('x') })).command_status), hex(OPTED_OUT), 'refused after the restart')
    t.equal(hex((await shop2.submit({ source_addr: 'SHOP', source_addr_ton: 5, destination_addr: RES_NO, short_message: gsm('x') })).command_status), hex(OPTED_OUT))

    const cli = (args: string[]) => {
      const r = spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'smsc.js'), 'optout', ...args, '--config', engine.configPath], { encoding: 'utf8', timeout: 60_000 })
      return { code: r.status, out: r.stdout, err: r.stderr }
    }
    const listed = cli(['list', '--account', 'shop'])
    t.equal(listed.code, 0, listed.err)
    t.match(listed.out, new RegExp(`${SUBSCRIBER} +\\S+Z  mo:STOP`), 'each number with when and by whom')
    t.match(listed.out, /2 shown of 2 on shop's list/)
    const added = cli(['add', '+49 160 1111111', '4916022222'])
    t.equal(added.code, 0, added.err)
    t.match(added.out, /^2 added to the global list; 3 on it \(live\)/)
    t.equal(hex((await shop2.submit({ source_addr: 'SHOP', source_addr_ton: 5, destination_addr: '491601111111', short_message: gsm('x') })).command_status), hex(OPTED_OUT), 'a number the CLI added is refused at once')
    const removed = cli(['remove', '491601111111', '499999'])
    t.match(removed.out, /^1 removed from the global list \(1 not on it\); 2 on it/)
    t.match(cli(['list', '--prefix', '4916']).out, /4916022222/)
    const bad = cli(['add', '12ab'])
    t.equal(bad.code, 2)
    t.match(bad.err, /^smsc: NUMBER 1 must be a phone number/, 'one line naming the field')
  })
})

t.test('an upstream SMSC\'s MO STOP adds the sender to the route\'s account\'s list, in the commit that stores the MO', async (t) => {
  const up = await startUpstream(t)
  const engine = await startEngine(t, {
    accounts: [{ systemId: 'shop', password: 'spw1' }],
    extra: {
      connectors: [{ id: 'up', kind: 'smpp', host: '127.0.0.1', port: up.port, systemId: 'engA', password: 'pwA', reconnectMs: [100, 1000] }],
      routes: { mt: [{ name: 'all', match: {}, action: { connector: 'up' } }], mo: MO_ROUTES },
      admin: { password: ADMIN_PASSWORD },
      log: { level: 'warn' },
    },
  })
  const rx = await openEsme(t, { port: engine.smppPort, kind: 'transceiver', systemId: 'shop', password: 'spw1' })
  for (let i = 0; i < 100 && up.sessions.length === 0; i++) await sleep(50)
  const session = up.sessions[0]
  t.ok(session, 'the engine is bound to the upstream')
  const deliver = (text: string) => new Promise<NodePdu>((resolve) => session.deliver_sm({ source_addr_ton: 1, source_addr_npi: 1, source_addr: SUBSCRIBER, destination_addr: '70001', esm_class: 0, data_coding: 0, short_message: Buffer.from(text) }, resolve))
  t.equal((await deliver('Stop')).command_status, 0, 'the STOP is acknowledged once stored')
  await rx.waitFor((p) => isMo(p) && p.source_addr === SUBSCRIBER, 10_000)
  const api = await AdminApi.login(engine)
  t.match(await api.ok('GET', '/api/v1/accounts/shop/optouts'), { optouts: [{ number: SUBSCRIBER, by: 'mo:STOP' }], total: 1 })
  t.equal(hex((await rx.submit({ source_addr: '123', destination_addr: SUBSCRIBER, short_message: gsm('x') })).command_status), hex(OPTED_OUT))
  t.equal((await deliver('UNSTOP')).command_status, 0)
  await sleep(300)
  t.match(await api.ok('GET', '/api/v1/accounts/shop/optouts'), { optouts: [], total: 0 }, 'UNSTOP takes it off')
  t.equal((await rx.submit({ source_addr: '123', destination_addr: SUBSCRIBER, short_message: gsm('x') })).command_status, 0)
})

t.test("an upstream's MO: one read's START then STOP ends listed (the last wins); a later part that comes first changes no list; a '00' sender is listed without it", async (t) => {
  const up = await startUpstream(t)
  const engine = await startEngine(t, {
    accounts: [{ systemId: 'shop', password: 'spw1' }],
    extra: {
      connectors: [{ id: 'up', kind: 'smpp', host: '127.0.0.1', port: up.port, systemId: 'engA', password: 'pwA', reconnectMs: [100, 1000] }],
      routes: { mt: [{ name: 'all', match: {}, action: { connector: 'up' } }], mo: [...MO_ROUTES, { name: 'rest', match: {}, account: 'shop' }] },
      admin: { password: ADMIN_PASSWORD },
      log: { level: 'warn' },
    },
  })
  await openEsme(t, { port: engine.smppPort, kind: 'transceiver', systemId: 'shop', password: 'spw1' })
  for (let i = 0; i < 100 && up.sessions.length === 0; i++) await sleep(50)
  const session = up.sessions[0]
  const deliver = (o: Record<string, unknown>) => new Promise<NodePdu>((resolve) => session.deliver_sm({ source_addr_ton: 1, source_addr_npi: 1, source_addr: SUBSCRIBER, destination_addr: '70001', esm_class: 0, data_coding: 0, ...o }, resolve))
  /** MOs in one upstream write, so the engine reads them as one batch */
  const oneRead = async (texts: string[]) => {
    session.socket.cork()
    const acks = texts.map((text) => deliver({ short_message: Buffer.from(text) }))
    process.nextTick(() => session.socket.uncork())
    for (const a of await Promise.all(acks)) t.equal(a.command_status, 0)
    await sleep(300)
  }
  const api = await AdminApi.login(engine)
  const listed = async () => numbersOf(await api.ok('GET', '/api/v1/accounts/shop/optouts'))

  await api.ok('POST', '/api/v1/accounts/shop/optouts', { number: SUBSCRIBER })
  await oneRead(['START', 'STOP'])
  t.same(await listed(), [SUBSCRIBER], 'listed before, START then STOP in one read: listed (the STOP came last)')
  await oneRead(['STOP', 'START'])
  t.same(await listed(), [], 'STOP then START in one read: off the list')

  // part 2 of 2 (SAR TLVs) before part 1: routed on its own text, which starts with a keyword of no one's
  const p2 = await deliver({ short_message: Buffer.from('stop by our shop today'), sar_msg_ref_num: 7, sar_total_segments: 2, sar_segment_seqnum: 2 })
  t.equal(p2.command_status, 0, 'the early part is taken (routed on its own text)')
  const p1 = await deliver({ short_message: Buffer.from('Hello, I love your offers, please '), sar_msg_ref_num: 7, sar_total_segments: 2, sar_segment_seqnum: 1 })
  t.equal(p1.command_status, 0)
  await sleep(300)
  t.same(await listed(), [], 'a later part changes no list, even when it comes first')

  const INTL = '4917700000043'
  t.equal((await deliver({ source_addr: `00${INTL}`, source_addr_ton: 0, short_message: Buffer.from('STOP') })).command_status, 0)
  await sleep(300)
  t.same(await listed(), [INTL], '"00" is the international prefix: stored without it')
  t.equal((await deliver({ source_addr: '01700000044', source_addr_ton: 2, short_message: Buffer.from('STOP') })).command_status, 0)
  await sleep(300)
  t.same(await listed(), ['01700000044', INTL], 'a national form (TON 2) is stored as given')
  t.match(engine.output(), /MO opt-out from a sender that is not international/, 'and logged as a warning: it matches only MT to those digits')
})

t.test('a message admitted before its number opted out does not go out: REJECTD with err 0x403 when it is due, refunded', async (t) => {
  const engine = await startPolicyEngine(t, { accounts: [{ systemId: 'shop', password: 'spw1', credit: 10, settlement: 'refund' }] })
  const api = await AdminApi.login(engine)
  const shop = await openEsme(t, { port: engine.smppPort, kind: 'transceiver', systemId: 'shop', password: 'spw1' })
  // schedule_delivery_time 3 s ahead (SMPP 3.4 §7.1.1 relative time)
  const later = (to: string) => shop.submit({ source_addr: 'SHOP', source_addr_ton: 5, destination_addr: to, short_message: gsm('promo'), registered_delivery: 1, schedule_delivery_time: '000000000003000R' })
  const held = await later(SUBSCRIBER)
  const free = await later(FREE_NO)
  t.same([held.command_status, free.command_status], [0, 0], 'both admitted (on no list yet)')
  t.equal(await api.balance('shop'), 8, 'both charged')
  await api.ok('POST', '/api/v1/accounts/shop/optouts', { number: `00${SUBSCRIBER}` })
  const rejected = await shop.waitFor(receiptFor(held.message_id as string), 15_000)
  t.match(messageText(rejected), /stat:REJECTD err:1027 /, 'REJECTD, err SMSC_ROPTEDOUT (0x403 = 1027)')
  t.equal(rejected.message_state, MessageState.REJECTED)
  const delivered = await shop.waitFor(receiptFor(free.message_id as string), 15_000)
  t.match(messageText(delivered), /stat:DELIVRD/, 'the other number gets its message')
  t.equal(await api.balance('shop'), 9, 'the rejected one refunded (settlement refund), the delivered one paid')
  const info = await api.ok<{ dests: { state: string; refunded?: boolean }[] }>('GET', `/api/v1/messages/${held.message_id}`)
  t.match(info, { dests: [{ refunded: true }] }, 'marked refunded')
})

t.test('scope: a reseller manages its own and its users\' lists only, a user its own, a viewer reads; wrong input is one line naming the field', async (t) => {
  const engine = await startPolicyEngine(t, { accounts: ACCOUNTS })
  const api = await AdminApi.login(engine)
  const res1 = as(engine, await login(engine, { systemId: 'res1', password: 'rpw1' }))
  const shop = as(engine, await login(engine, { systemId: 'shop', password: 'spw1' }))
  await api.ok('POST', '/api/v1/admin/users', { user: 'nina', role: 'viewer', password: 'viewer-pw-1' })
  const nina = as(engine, await login(engine, { user: 'nina', password: 'viewer-pw-1' }))

  t.match(await res1('POST', '/api/v1/accounts/shop/optouts', { numbers: ['111', '222'] }), { status: 200, json: { added: 2 } }, "res1 adds to its user's list")
  t.match(await res1('POST', '/api/v1/accounts/res2/optouts', { numbers: ['111'] }), { status: 403, json: { code: 'SMSC_ERR_ADMIN_FORBIDDEN' } }, "not to another reseller's")
  t.match(await res1('GET', '/api/v1/accounts/other/optouts'), { status: 403 }, "nor reads another reseller's user's")
  t.match(await res1('DELETE', '/api/v1/accounts/other/optouts/111'), { status: 403 })
  t.match(await res1('GET', '/api/v1/optouts'), { status: 403, json: { code: 'SMSC_ERR_ADMIN_FORBIDDEN', error: /global opt-out list/ } }, 'nor the global list')
  t.match(await shop('POST', '/api/v1/accounts/res1/optouts', { number: '1' }), { status: 403 }, "a user: not its reseller's list")
  t.match(await shop('POST', '/api/v1/optouts', { number: '1' }), { status: 403 }, 'nor the global one')
  t.match(await shop('DELETE', '/api/v1/accounts/shop/optouts/%2B111'), { status: 200, json: { removed: 1, absent: 0, total: 1 } }, 'a user removes from its own list')
  t.match(await shop('POST', '/api/v1/accounts/shop/optouts/remove', { numbers: ['222', '333'] }), { status: 200, json: { removed: 1, absent: 1, total: 0 } })

  await api.ok('POST', '/api/v1/optouts', { numbers: ['4930', '4931', '4940'] })
  t.match(await nina('GET', '/api/v1/optouts?prefix=493'), { status: 200, json: { optouts: [{ number: '4930', by: 'admin' }, { number: '4931' }], total: 3, next: null } }, 'a viewer reads the global list, with a prefix filter')
  t.match(await nina('GET', '/api/v1/accounts/shop/optouts'), { status: 200 }, "and an account's")
  for (const [method, url] of [['POST', '/api/v1/optouts'], ['POST', '/api/v1/optouts/remove'], ['DELETE', '/api/v1/optouts/4930'], ['POST', '/api/v1/accounts/shop/optouts']]) {
    t.match(await nina(method, url, { number: '4950' }), { status: 403, json: { code: 'SMSC_ERR_ADMIN_READ_ONLY' } }, `a viewer may not ${method} ${url}`)
  }
  const page1 = await api.ok<{ optouts: { number: string }[]; next: string | null }>('GET', '/api/v1/optouts?limit=2')
  t.same([page1.optouts.map((x) => x.number), page1.next], [['4930', '4931'], '4931'], 'a page and where the next starts')
  t.same(numbersOf(await api.ok('GET', `/api/v1/optouts?limit=2&after=${page1.next}`)), ['4940'])
  t.match(await api.ok('GET', '/api/v1/optouts?limit=1&after=4931'), { optouts: [{ number: '4940' }], next: null }, 'a full last page: next is null')
  t.match(await api.ok('GET', '/api/v1/optouts?limit=3'), { next: null, total: 3 }, 'the whole list in one full page: next is null')
  t.match(await api.ok('GET', '/api/v1/optouts?prefix=0049'), { optouts: [{ number: '4930' }, { number: '4931' }, { number: '4940' }] }, 'a prefix in "00" form')

  // An API key reads its account's list and adds to it; removing needs a login (a leaked key must not undo STOPs).
  const key = ((await shop('POST', '/api/v1/accounts/shop/apikeys', { label: 'backend' })).json as { key: string }).key
  const byKey = (method: string, url: string, body?: unknown) => httpCall(engine.httpPort, method, url, body, { 'x-api-key': key })
  t.match(await byKey('POST', '/api/v1/accounts/shop/optouts', { number: '777' }), { status: 200, json: { added: 1 } }, 'a key adds')
  t.match(await byKey('GET', '/api/v1/accounts/shop/optouts'), { status: 200, json: { optouts: [{ number: '777' }] } }, 'a key reads')
  for (const [method, url] of [['POST', '/api/v1/accounts/shop/optouts/remove'], ['DELETE', '/api/v1/accounts/shop/optouts/777']]) {
    t.match(await byKey(method, url, { number: '777' }), { status: 403, json: { code: 'SMSC_ERR_ADMIN_FORBIDDEN', error: /^an API key may read its account's opt-out list and add numbers to it, not remove them/ } }, `a key may not ${method} ${url}`)
  }
  t.match(await byKey('POST', '/api/v1/accounts/res1/optouts', { number: '1' }), { status: 403, json: { error: /^an API key is for its own account only \(shop\)/ } }, "nor add to another account's")
  t.match(await shop('DELETE', '/api/v1/accounts/shop/optouts/777'), { status: 200, json: { removed: 1 } }, 'the account logged in removes')

  for (const [body, message] of [
    [{ numbers: ['4915', '12ab'] }, /^numbers\[1\] must be a phone number: 1 to 20 digits/],
    [{ numbers: [] }, /^numbers must be an array of 1 to 1000 phone numbers/],
    [{ numbers: Array.from({ length: 1001 }, (_, i) => String(1000 + i)) }, /^numbers must be an array of 1 to 1000 phone numbers \(got 1001 of them\)/],
    [{ number: '1', numbers: ['2'] }, /^give numbers \(an array\) or number \(one\), not both/],
    [{ phone: '1' }, /^phone is not a known field/],
    [{}, /^numbers \(an array\) or number \(one\) is missing/],
    [{ number: '00' }, /^number must be a phone number: 1 to 20 digits, a leading "\+" or "00"/],

  ] as const) {
    t.match(await api.call('POST', '/api/v1/optouts', body), { status: 400, json: { code: 'SMSC_ERR_API_INVALID', error: message } }, String(message))
  }
  t.match(await api.call('GET', '/api/v1/optouts?limit=0'), { status: 400, json: { error: /^limit must be a positive integer \(got "0"\)/ } })
  t.match(await api.call('GET', '/api/v1/optouts?sort=1'), { status: 400, json: { error: /^sort is not a parameter of an opt-out list/ } })
  t.match(await api.call('GET', '/api/v1/accounts/nosuch/optouts'), { status: 404, json: { code: 'SMSC_ERR_AUTH_SYSTEM_ID' } })

  const audit = (await res1('GET', '/api/v1/audit')).json as { entries: { action: string; target: string; by: string; detail?: { count?: number; numbers?: string[] } }[] }
  t.match(audit.entries.filter((e) => e.action.startsWith('optout.')).map((e) => [e.action, e.target, e.by, e.detail?.count]), [
    ['optout.remove', 'shop', 'shop', 1], ['optout.add', 'shop', 'shop', 1], // the login's removal, the key's add
    ['optout.remove', 'shop', 'shop', 1], ['optout.remove', 'shop', 'shop', 1], ['optout.add', 'shop', 'res1', 2],
  ], "res1 sees the changes of its user's list, newest first")
  t.notOk(audit.entries.some((e) => e.action.startsWith('global-optout.')), "but not the operator's global list")
  const all = await api.ok<{ entries: { action: string; detail?: { numbers?: string[] } }[] }>('GET', '/api/v1/audit')
  t.match(all.entries.find((e) => e.action === 'global-optout.add'), { detail: { count: 3, numbers: ['4930', '4931', '4940'] } }, 'the operator sees the global changes')
})

t.test('which lists hold a number: the operator sees every list, a reseller the global one and its tree\'s, a user those that bind it', async (t) => {
  const engine = await startPolicyEngine(t, { accounts: ACCOUNTS })
  const api = await AdminApi.login(engine)
  const N = '4915100000077'
  await api.ok('POST', '/api/v1/optouts', { number: N })
  for (const id of ['res1', 'shop', 'res2', 'other']) await api.ok('POST', `/api/v1/accounts/${id}/optouts`, { number: `+${N}` })
  const logins: Record<string, [string, string]> = { res1: ['res1', 'rpw1'], shop: ['shop', 'spw1'], res2: ['res2', 'rpw2'], other: ['other', 'opw1'] }
  const find = async (who: string, number: string) => {
    const call = who === 'operator' ? api.call.bind(api) : as(engine, await login(engine, { systemId: logins[who][0], password: logins[who][1] }))
    return call('GET', `/api/v1/optouts/find?number=${encodeURIComponent(number)}`)
  }
  const lists = async (who: string) => {
    const r = await find(who, `+49 151 00000077`)
    t.equal(r.status, 200, `${who}: ${r.body}`)
    const body = r.json as { number: string; lists: { list: string; at: number; by: string }[] }
    t.equal(body.number, N, 'the number as the lists hold it')
    return body.lists.map((e) => e.list)
  }
  t.same(await lists('operator'), ['global', 'res1', 'shop', 'res2', 'other'], 'the operator: every list, the global one first')
  t.same(await lists('res1'), ['global', 'res1', 'shop'], "res1: the global list and its tree's, not res2's")
  t.same(await lists('shop'), ['global', 'res1', 'shop'], "shop: the lists that refuse its sends, its reseller's too")
  t.same(await lists('other'), ['global', 'res2', 'other'])
  const entry = (await find('shop', N)).json as { lists: { list: string; at: number; by: string }[] }
  t.match(entry.lists[0], { list: 'global', by: 'admin' }, 'when and by whom')
  t.ok(entry.lists[0].at > 0)
  t.same(((await find('operator', '4915100000078')).json as { lists: unknown[] }).lists, [], 'a number on no list')
  const bad = await find('operator', '12ab')
  t.equal(bad.status, 400)
  t.match(bad.body, /number must be a phone number/, 'a bad number: one line naming the field')

  const cli = spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'smsc.js'), 'optout', 'find', `+${N}`, '--config', engine.configPath], { encoding: 'utf8', timeout: 60_000 })
  t.equal(cli.status, 0, cli.stderr)
  t.match(cli.stdout, /^global list +\S+Z  admin$/m, 'the CLI: each list with when and by whom')
  t.match(cli.stdout, /^other's list +\S+Z  admin$/m)
  t.match(cli.stdout, new RegExp(`^${N} is on 5 lists$`, 'm'))
})
