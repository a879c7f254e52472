/**
 * Finding an MO for support ("the subscriber replied STOP and my app never got it"): an MO through an upstream SMSC
 * and one through the simulator's MO API are stored as records of their own, found by id (GET /api/v1/messages/{id},
 * `smsc message show`), by the subscriber's number and by account (GET /api/v1/messages, `smsc message find`), marked
 * as MO; they show the connector and MO route, and their delivery to the account: waiting while no receiver is bound,
 * delivered once the ESME answered, retrying, refused. A user sees only its own MO; query_sm, cancel_sm and replace_sm
 * answer an MO's id as an unknown one; an MT between the same numbers is told apart.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { projectRoot } from '../helpers/engine'
import { gsm, isMo, messageText, openEsme, type Pdu } from '../helpers/esme'
import { AdminApi, httpCall, sleep, startPolicyEngine, until } from '../helpers/policy'
import { startUpstream, type NodePdu } from '../helpers/upstream'

const SHORT_CODE = '70001'
const SUBSCRIBER = '4915100000300' // replies STOP through the upstream
const VOTER = '4915100000301' // texts through the simulator's MO API
const S = { ESME_RQUERYFAIL: 0x67, ESME_RCANCELFAIL: 0x11, ESME_RREPLACEFAIL: 0x13, ESME_RX_P_APPN: 0x65, ESME_RSYSERR: 0x08 }

function smsc(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'smsc.js'), ...args], { cwd: projectRoot(), encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

t.test('MO lookup and search', async (t) => {
  const up = await startUpstream(t)
  const engine = await startPolicyEngine(t, {
    accounts: [{ systemId: 'shop', password: 'spw1' }, { systemId: 'other', password: 'opw1' }],
    extra: {
      connectors: [{ id: 'up', kind: 'smpp', host: '127.0.0.1', port: up.port, systemId: 'engA', password: 'pwA', reconnectMs: [100, 1000] }],
      receipts: { redeliveryMs: [300, 1000] },
      routes: {
        mt: [{ name: 'all', match: {}, action: { connector: 'simulator' } }],
        mo: [
          { name: 'stop', match: { keyword: ['STOP', 'UNSUBSCRIBE'] }, account: 'shop' },
          { name: 'shop-line', match: { destPrefix: [SHORT_CODE] }, account: 'shop' },
          { name: 'other-line', match: { destPrefix: ['80002'] }, account: 'other' },
        ],
      },
      log: { level: 'warn' },
    },
  })
  const api = await AdminApi.login(engine)
  const user = async (systemId: string, password: string): Promise<string> => {
    const r = await httpCall(engine.httpPort, 'POST', '/api/v1/login', { systemId, password })
    return (r.json as { token: string }).token
  }
  const session = await until('the connector bound to the upstream', () => up.sessions[0])
  const deliver = (from: string, to: string, text: string) => new Promise<NodePdu>((resolve) => session.deliver_sm({
    source_addr_ton: 1, source_addr_npi: 1, source_addr: from, dest_addr_ton: 3, dest_addr_npi: 0, destination_addr: to,
    esm_class: 0, data_coding: 0, short_message: Buffer.from(text),
  }, resolve))
  const lookup = (id: string) => api.ok<any>('GET', `/api/v1/messages/${id}`)
  const search = async (q: string) => (await api.ok<any>('GET', `/api/v1/messages?${q}`)).messages as any[]
  /** The id of the newest message from `from` to `to` (an MO's, as the upstream cannot see it). */
  const idOf = async (from: string, to: string): Promise<string> =>
    until(`the record of ${from} → ${to}`, async () => (await search(`from=${from}&to=${to}`))[0]?.id as string | undefined)

  let stopId = ''
  await t.test('an MO from an upstream is found by id while no receiver is bound: waiting, its connector and route', async (t) => {
    t.equal((await deliver(SUBSCRIBER, SHORT_CODE, 'Stop')).command_status, 0, 'acknowledged to the upstream once stored')
    stopId = await idOf(SUBSCRIBER, SHORT_CODE)
    const m = await lookup(stopId)
    t.match(m, {
      id: stopId, direction: 'mo', systemId: 'shop', from: SUBSCRIBER, to: [SHORT_CODE], text: 'Stop', state: 1, stat: 'ENROUTE',
      mo: { connector: 'up', route: 'stop', keyword: 'STOP', delivery: 'waiting', parts: 1, acked: 0, retries: 0, receivers: 0, webhook: false },
    })
    t.same(m.timeline.map((e: { event: string }) => e.event), ['received'], 'received, not yet delivered')
    t.equal(m.dests[0].connector, undefined, 'no carrier fields: it went to no carrier')
    t.equal((await lookup(String(Number(stopId)))).id, stopId, 'found by its id without the zeros too')
  })

  const shop = await openEsme(t, { port: engine.smppPort, kind: 'transceiver', systemId: 'shop', password: 'spw1' })
  await t.test('once the ESME answered its deliver_sm: delivered to the bind, when', async (t) => {
    await shop.waitFor((p: Pdu) => isMo(p) && p.source_addr === SUBSCRIBER, 10_000)
    const m = await until('delivered', async () => { const v = await lookup(stopId); return v.mo.delivery === 'delivered' ? v : undefined })
    t.match(m, { state: 2, stat: 'DELIVRD', mo: { delivery: 'delivered', via: 'bind', acked: 1, retries: 0 } })
    t.ok(m.doneAt >= m.submitAt, 'delivered at doneAt')
    t.same(m.timeline.map((e: { event: string }) => e.event), ['received', 'delivered'])
    t.notOk('receivers' in m.mo, 'no live bind count once delivered')
  })

  let voteId = ''
  await t.test('an MO through the simulator API is found by the id it answered, routed by its number', async (t) => {
    const r = await api.ok<{ id: string; systemId: string }>('POST', '/api/v1/simulator/mo', { from: `+${VOTER}`, to: SHORT_CODE, text: 'YES I vote' })
    voteId = r.id
    t.equal(r.systemId, 'shop')
    await shop.waitFor((p: Pdu) => isMo(p) && messageText(p) === 'YES I vote', 10_000)
    const m = await until('delivered', async () => { const v = await lookup(voteId); return v.mo.delivery === 'delivered' ? v : undefined })
    t.match(m, { direction: 'mo', from: VOTER, to: [SHORT_CODE], text: 'YES I vote', mo: { connector: 'simulator', route: 'shop-line', via: 'bind' } })
    t.notOk('keyword' in m.mo, 'a route without keywords has none')
  })

  let mtId = ''
  await t.test('found by the subscriber\'s number and by account, marked MO; an MT between the same numbers is told apart', async (t) => {
    const sent = await shop.submit({ source_addr: SHORT_CODE, source_addr_ton: 3, source_addr_npi: 0, destination_addr: SUBSCRIBER, short_message: gsm('You are unsubscribed') })
    t.equal(sent.command_status, 0)
    mtId = sent.message_id as string
    for (const form of [SUBSCRIBER, `%2B${SUBSCRIBER}`, `00${SUBSCRIBER}`]) {
      t.same((await search(`from=${form}`)).map((m) => [m.id, m.direction]), [[stopId, 'mo']], `from=${form}: the subscriber's MO`)
    }
    t.same((await search(`to=${SUBSCRIBER}`)).map((m) => [m.id, m.direction]), [[mtId, 'mt']], 'to the subscriber: the MT')
    t.same((await search('systemId=shop')).map((m) => [m.id, m.direction]), [[mtId, 'mt'], [voteId, 'mo'], [stopId, 'mo']], "the account's messages, both ways, newest first")
    t.same((await search(`to=${SHORT_CODE}`)).map((m) => m.id), [voteId, stopId], 'to the short code: the MOs')
    t.same((await search('systemId=shop&direction=mo')).map((m) => m.id), [voteId, stopId], 'direction=mo: the MOs only')
    t.same((await search('systemId=shop&direction=MT')).map((m) => m.id), [mtId], 'direction=mt: the MTs only')
    t.equal((await lookup(mtId)).direction, 'mt')
    t.notOk('mo' in (await lookup(mtId)), 'an MT has no MO facts')
  })

  await t.test('query_sm, cancel_sm, replace_sm and the API cancel answer an MO id as an unknown one', async (t) => {
    const unknown = '9999999999'
    // one not yet delivered (ENROUTE): a cancel or replace would otherwise take it for a pending MT
    shop.deliverSmStatus = null
    t.equal((await deliver(SUBSCRIBER, SHORT_CODE, 'STOP now')).command_status, 0)
    const pending = await idOf(SUBSCRIBER, SHORT_CODE)
    t.equal((await lookup(pending)).state, 1, 'not yet delivered')
    for (const id of [stopId, pending, unknown]) {
      const what = id === unknown ? 'an unknown id' : id === pending ? "a waiting MO's id" : "a delivered MO's id"
      t.equal((await shop.request('query_sm', { message_id: id, source_addr: '' })).command_status, S.ESME_RQUERYFAIL, `query_sm of ${what}`)
      t.equal((await shop.request('cancel_sm', { message_id: id, source_addr: '', destination_addr: '' })).command_status, S.ESME_RCANCELFAIL, `cancel_sm of ${what}`)
      t.equal((await shop.request('replace_sm', { message_id: id, source_addr: SUBSCRIBER, short_message: gsm('x') })).command_status, S.ESME_RREPLACEFAIL, `replace_sm of ${what}`)
    }
    t.equal((await shop.request('query_sm', { message_id: mtId, source_addr: '' })).command_status, 0, 'while the MT is found')
    t.match(await api.call('DELETE', `/api/v1/messages/${stopId}`), { status: 404, json: { code: 'SMSC_ERR_MESSAGE_NOT_FOUND' } }, 'DELETE: no such message')
    t.match(await api.call('DELETE', `/api/v1/messages/${pending}`), { status: 404, json: { code: 'SMSC_ERR_MESSAGE_NOT_FOUND' } }, 'nor a waiting one')
    t.equal((await lookup(stopId)).stat, 'DELIVRD', 'and it is unchanged')
    t.equal((await lookup(pending)).mo.delivery, 'waiting', 'as is the waiting one')
    shop.deliverSmStatus = 0
  })

  await t.test('retrying while the ESME fails it, refused when it refuses it for good', async (t) => {
    shop.deliverSmStatus = S.ESME_RSYSERR
    t.equal((await deliver(SUBSCRIBER, SHORT_CODE, 'UNSUBSCRIBE please')).command_status, 0)
    const retryId = await idOf(SUBSCRIBER, SHORT_CODE)
    t.not(retryId, stopId)
    const retrying = await until('retrying', async () => { const v = await lookup(retryId); return v.mo.delivery === 'retrying' ? v : undefined })
    t.match(retrying, { state: 1, mo: { retries: Number, receivers: 1, acked: 0 } })
    t.ok(retrying.mo.retries >= 1)
    shop.deliverSmStatus = S.ESME_RX_P_APPN
    const refused = await until('refused', async () => { const v = await lookup(retryId); return v.mo.delivery === 'refused' ? v : undefined })
    t.match(refused, { state: 5, stat: 'UNDELIV', err: S.ESME_RX_P_APPN })
    shop.deliverSmStatus = 0
  })

  await t.test("a user sees only its own MO", async (t) => {
    const other = await user('other', 'opw1')
    t.equal((await deliver(SUBSCRIBER, '80002', 'hi other')).command_status, 0)
    const otherMo = await idOf(SUBSCRIBER, '80002')
    const get = (id: string, token: string) => httpCall(engine.httpPort, 'GET', `/api/v1/messages/${id}`, undefined, { authorization: `Bearer ${token}` })
    t.equal((await get(stopId, other)).status, 404, "shop's MO is unknown to other")
    t.equal((await get(otherMo, other)).status, 200, 'its own is found')
    const found = await httpCall(engine.httpPort, 'GET', `/api/v1/messages?from=${SUBSCRIBER}`, undefined, { authorization: `Bearer ${other}` })
    t.same((found.json as any).messages.map((m: { id: string }) => m.id), [otherMo], "a search by the subscriber's number: its own MO only")
    const shopToken = await user('shop', 'spw1')
    t.equal((await get(otherMo, shopToken)).status, 404, "and other's is unknown to shop")
  })

  await t.test('smsc message show and find mark it as MO and say what became of it', async (t) => {
    for (let i = 0; i < 200 && !existsSync(path.join(engine.dataDir, 'control.json')); i++) await sleep(25)
    const cfg = ['--config', engine.configPath]
    const shown = smsc(['message', 'show', String(Number(stopId)), ...cfg])
    t.equal(shown.code, 0, shown.err)
    t.match(shown.out, new RegExp(`^${stopId}  MO \\(from a subscriber to the account\\)  DELIVERED$`, 'm'))
    t.match(shown.out, /^ {2}came from {3}connector up$/m)
    t.match(shown.out, /^ {2}MO route {4}stop \(keyword STOP\)$/m)
    t.match(shown.out, /^ {2}delivery {4}delivered to a bind \(deliver_sm_resp 0\) at \d{4}-/m)
    const found = smsc(['message', 'find', '--from', `+${SUBSCRIBER}`, '--account', 'shop', ...cfg])
    t.equal(found.code, 0, found.err)
    t.match(found.out, new RegExp(`${stopId} +shop +${SUBSCRIBER} +${SHORT_CODE} +MO DELIVERED`), 'the MO, marked')
    t.match(found.out, /\nMO: from a subscriber to the account/)
    const onlyMt = smsc(['message', 'find', '--account', 'shop', '--direction', 'mt', ...cfg])
    t.equal(onlyMt.code, 0, onlyMt.err)
    t.match(onlyMt.out, new RegExp(`^\\S+ +${mtId} +shop`, 'm'), '--direction mt: the MT')
    t.notMatch(onlyMt.out, / MO /, 'and no MO')
  })

  await t.test('waiting for a receiver: the lookup says none is bound, then delivered when one binds', async (t) => {
    await shop.unbind()
    await sleep(200)
    const r = await api.ok<{ id: string }>('POST', '/api/v1/simulator/mo', { from: VOTER, to: SHORT_CODE, text: 'anyone there' })
    t.match(await lookup(r.id), { mo: { delivery: 'waiting', receivers: 0 } })
    const cfg = ['--config', engine.configPath]
    t.match(smsc(['message', 'show', r.id, ...cfg]).out, /^ {2}delivery {4}waiting: not yet acknowledged by the account; no receiver or transceiver bound: it goes out when one binds$/m)
    const rx = await openEsme(t, { port: engine.smppPort, kind: 'receiver', systemId: 'shop', password: 'spw1' })
    await rx.waitFor((p: Pdu) => isMo(p) && messageText(p) === 'anyone there', 10_000)
    await until('delivered', async () => ((await lookup(r.id)).mo.delivery === 'delivered' ? true : undefined))
    t.pass('delivered once a receiver bound')
  })
})
