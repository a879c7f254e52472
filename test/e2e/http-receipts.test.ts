/**
 * Receipts from an HTTP provider by callback (connectors[] kind 'http', receipts "callback";
 * docs/CONNECTORS.md "Receipts by callback"), end to end: an engine process routes to a provider played
 * by a node:http server in this test, which answers 200 with its own id and then calls
 * POST /api/v1/connectors/:id/receipts back. Seen from outside: the ESME's receipt carries the
 * provider's stat, err and done time under the id the ESME knows, and the message is final only then;
 * UNDELIV/EXPIRED/REJECTD map through; a not-final status changes nothing final; the token, an
 * unknown connector and a malformed body are refused (401, 404, 400 naming the field); an id the
 * engine does not know is acknowledged and counted; a callback that overtakes its 2xx is still
 * matched; the route answers over HTTPS too. In process: a callback of 1,000 receipts is one store commit.
 */
import t from 'tap'
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import os from 'node:os'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import { freePorts, httpCall, startEngine, type HttpCallResult, type TestLike } from '../helpers/engine'
import { gsm, isIntermediate, isReceipt, messageText, openEsme, parseReceipt, receiptFor, type Esme, type Pdu } from '../helpers/esme'
import { api, operatorToken, sleep, until } from '../helpers/lifecycle'
import { formatReceiptDate } from '../../engine/protocol/time'
import { MessageState } from '../../engine/protocol/constants'
import { createSmsc } from '../../engine/index'
import type { CommitBatch } from '../../engine/store'
import type { MessageRecord } from '../../engine/message'

const ADMIN_PASSWORD = 'callback-admin-1'
const TOKEN = 'provider-callback-secret-0123'

interface Posted { id: string; to: string; at: number }

/**
 * The provider: answers each POST with 200 { id: "prov-<our id>" }, after `delayMs(to)` ms; `onPost` sees
 * each request as it arrives (before the answer).
 */
async function provider(t: TestLike) {
  const p = {
    posted: [] as Posted[],
    answeredAt: new Map<string, number>(),
    delayMs: (_to: string) => 0,
    onPost: (_m: Posted) => {},
    url: '',
  }
  const srv = http.createServer((req, res) => {
    if (req.method === 'HEAD') return void res.end() // the connector's probe while it counts the provider down
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; to: string }
      const m = { id: body.id, to: body.to, at: Date.now() }
      p.posted.push(m)
      p.onPost(m)
      setTimeout(() => {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ id: `prov-${body.id}`, status: 'accepted' }))
        p.answeredAt.set(body.id, Date.now())
      }, p.delayMs(body.to))
    })
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => { srv.closeAllConnections(); srv.close(() => resolve()) }))
  p.url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/sms`
  return p
}

/** The provider's callback: POST /api/v1/connectors/<connector>/receipts with the token as a bearer, or in the query with `query`. */
function callback(port: number, body: unknown, o: { connector?: string; token?: string | null; query?: boolean; raw?: string; form?: string } = {}): Promise<HttpCallResult> {
  const token = o.token === undefined ? TOKEN : o.token
  const qs = o.query && token !== null ? `?token=${encodeURIComponent(token)}` : ''
  return httpCall(port, 'POST', `/api/v1/connectors/${o.connector ?? 'prov'}/receipts${qs}`, {
    ...(o.form !== undefined ? { raw: Buffer.from(o.form), headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } }
      : o.raw !== undefined ? { raw: Buffer.from(o.raw), headers: { 'content-type': 'application/json' } } : { body }),
    ...(token !== null && !o.query ? { token } : {}),
    timeoutMs: 20_000,
  })
}

t.test('receipts by callback', async (t) => {
  const prov = await provider(t)
  const plain = await provider(t)
  const [httpsPort] = await freePorts(1)
  const engine = await startEngine(t, {
    devTls: true,
    extra: {
      admin: { password: ADMIN_PASSWORD },
      http: { tlsHost: '127.0.0.1', tlsPort: httpsPort },
      connectors: [
        { id: 'prov', kind: 'http', url: prov.url, timeoutMs: 2000, receipts: 'callback', callbackToken: TOKEN, callbackStatuses: { '7': 'DELIVRD' } },
        { id: 'plain', kind: 'http', url: plain.url, timeoutMs: 2000 },
      ],
      routes: { mt: [{ name: 'plain', match: { destPrefix: ['33'] }, action: { connector: 'plain' } }, { name: 'all', match: {}, action: { connector: 'prov' } }], mo: [] },
      log: { level: 'warn' },
    },
  })
  const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver' })
  const token = await operatorToken(engine.httpPort, ADMIN_PASSWORD)
  const message = async (id: string) => (await api(engine.httpPort, 'GET', `/api/v1/messages/${id}`, undefined, token)).json as { state: number; stat: string; dests: { stat: string; err: number; upstreamId?: string; doneAt: number }[] }
  let n = 0
  /** Submits one message (receipts asked for) and waits until the provider has taken it. */
  const submit = async (registered = 1, to = `4477009${String(++n).padStart(5, '0')}`): Promise<string> => {
    const r = await esme.submit({ source_addr: 'Shop', source_addr_ton: 5, destination_addr: to, short_message: gsm(`hi ${n}`), registered_delivery: registered })
    if (r.command_status !== 0) throw new Error(`submit refused 0x${r.command_status.toString(16)}`)
    const id = r.message_id as string
    await until(() => prov.answeredAt.has(id) || plain.answeredAt.has(id), `the provider's answer for ${id}`)
    return id
  }
  /** Until the engine has taken the provider's id (the message waits for its receipt). */
  const accepted = (id: string) => until(async () => (await message(id)).dests[0].upstreamId === `prov-${id}`, `the provider's id on ${id}`)
  const finalReceipt = (id: string): Pdu | undefined => esme.delivered.find((p) => isReceipt(p) && p.receipted_message_id === id)

  t.test("the provider's 2xx leaves the message waiting; its callback is the ESME's receipt", async (t) => {
    const id = await submit()
    await accepted(id)
    const before = await message(id)
    t.match(before, { stat: 'ENROUTE' }, 'not final after the 2xx')
    t.match(before.dests[0], { upstreamId: `prov-${id}` }, "the provider's id is kept with the message")
    await sleep(200)
    t.notOk(finalReceipt(id), 'no receipt yet: the provider has only accepted it')
    const doneAt = (prov.posted.find((p) => p.id === id) as Posted).at + 3 // the provider's own time, between the submit and now
    const r = await callback(engine.httpPort, { id: `prov-${id}`, status: 'DELIVERED', err: 0, doneAt: new Date(doneAt).toISOString() })
    t.equal(r.status, 200, `answered 200 (${r.body})`)
    t.same(r.json, { received: 1, unmapped: [] })
    const pdu = await esme.waitFor(receiptFor(id), 5000)
    const text = parseReceipt(messageText(pdu))
    t.equal(pdu.receipted_message_id, id, 'receipted_message_id is the id the ESME got in submit_sm_resp')
    t.match(text, { id, stat: 'DELIVRD', err: '000', doneDate: formatReceiptDate(doneAt) }, "stat, err and the provider's done time")
    const after = await message(id)
    t.match(after, { stat: 'DELIVRD' }, 'the message is final')
    t.match(after.dests[0], { stat: 'DELIVRD', err: 0, doneAt }, "done when the provider says")
  })

  t.test('UNDELIV, EXPIRED and REJECTD with their err, in one callback; ?token= and numeric statuses too', async (t) => {
    const ids = [await submit(), await submit(), await submit(), await submit()]
    for (const id of ids) await accepted(id)
    const r = await callback(engine.httpPort, [
      { id: `prov-${ids[0]}`, status: 'failed', err: 34 },
      { id: `prov-${ids[1]}`, status: 'expired', err: '1' },
      { id: `prov-${ids[2]}`, status: 'Rejected', err: 11 },
      { id: `prov-${ids[3]}`, status: 7 },
    ], { query: true })
    t.equal(r.status, 200, r.body)
    const pdus = await Promise.all(ids.map((id) => esme.waitFor(receiptFor(id), 5000)))
    t.same(pdus.map((p) => [parseReceipt(messageText(p))?.stat, parseReceipt(messageText(p))?.err]), [['UNDELIV', '034'], ['EXPIRED', '001'], ['REJECTD', '011'], ['DELIVRD', '000']])
    t.match((await message(ids[0])).dests[0], { stat: 'UNDELIV', err: 34 })
  })

  t.test('a form-encoded callback (as Twilio and Plivo post them) reads the same fields by name', async (t) => {
    const id = await submit()
    await accepted(id)
    const r = await callback(engine.httpPort, null, { query: true, form: `id=${encodeURIComponent(`prov-${id}`)}&status=undelivered&err=30&extra=ignored` })
    t.equal(r.status, 200, r.body)
    t.same(r.json, { received: 1, unmapped: [] })
    const text = parseReceipt(messageText(await esme.waitFor(receiptFor(id), 5000)))
    t.match(text, { id, stat: 'UNDELIV', err: '030' })
    const bad = await callback(engine.httpPort, null, { query: true, form: 'status=delivered' })
    t.equal(bad.status, 400, 'a form without the id field is refused naming it')
    t.match(bad.json, { error: /id is required/ })
  })

  t.test('a GET callback (Kannel\'s dlr-url, Vonage\'s GET option) reads the fields from the query; a HEAD settles nothing', async (t) => {
    const id = await submit()
    await accepted(id)
    const query = `id=${encodeURIComponent(`prov-${id}`)}&status=undelivered&err=21&token=${TOKEN}`
    const head = await httpCall(engine.httpPort, 'HEAD', `/api/v1/connectors/prov/receipts?${query}`)
    t.equal(head.status, 200, 'a HEAD with the token is answered 200')
    await sleep(200)
    t.notOk(finalReceipt(id), 'and changes nothing')
    t.match(await message(id), { stat: 'ENROUTE' })
    t.equal((await httpCall(engine.httpPort, 'HEAD', `/api/v1/connectors/prov/receipts?${query.replace(TOKEN, 'wrong-token-here')}`)).status, 401, 'a HEAD checks the token too')
    const r = await httpCall(engine.httpPort, 'GET', `/api/v1/connectors/prov/receipts?${query}`)
    t.equal(r.status, 200, r.body)
    t.same(r.json, { received: 1, unmapped: [] })
    t.match(parseReceipt(messageText(await esme.waitFor(receiptFor(id), 5000))), { id, stat: 'UNDELIV', err: '021' }, 'the GET is the receipt')
    const bad = await httpCall(engine.httpPort, 'GET', `/api/v1/connectors/prov/receipts?status=delivered&token=${TOKEN}`)
    t.match([bad.status, bad.json], [400, { error: /^id is required/ }], 'a GET without the id field is refused naming it')
  })

  t.test('a not-final status changes nothing final (an intermediate notification when asked for)', async (t) => {
    const id = await submit(0x11) // final receipt + intermediate notifications (SMPP 3.4 §5.2.17)
    await accepted(id)
    const r = await callback(engine.httpPort, { id: `prov-${id}`, status: 'sent' })
    t.equal(r.status, 200, r.body)
    const note = await esme.waitFor((p) => isIntermediate(p) && p.receipted_message_id === id, 5000)
    t.equal(parseReceipt(messageText(note))?.stat, 'ENROUTE', 'an intermediate notification says ENROUTE')
    await sleep(200)
    t.notOk(finalReceipt(id), 'no final receipt')
    t.match(await message(id), { stat: 'ENROUTE' }, 'still waiting')
    t.match((await message(id)).dests[0], { upstreamId: `prov-${id}` }, 'still findable by the provider id')
    const unmapped = await callback(engine.httpPort, { id: `prov-${id}`, status: 'in-transit' })
    t.same(unmapped.json, { received: 0, unmapped: ['in-transit'] }, 'a word no status maps is acknowledged, reported, and changes nothing')
    t.equal((await callback(engine.httpPort, { id: `prov-${id}`, status: 'delivered' })).status, 200)
    t.equal(parseReceipt(messageText(await esme.waitFor((p) => isReceipt(p) && p.receipted_message_id === id, 5000)))?.stat, 'DELIVRD')
  })

  t.test('refusals: 401 without the token or for a connector without callbacks (ids cannot be probed), 400 naming the field', async (t) => {
    const ok = { id: 'prov-x', status: 'delivered' }
    const none = await callback(engine.httpPort, ok, { token: null })
    t.match([none.status, none.json], [401, { code: 'SMSC_ERR_HTTP_AUTH' }], 'no token')
    t.equal((await callback(engine.httpPort, ok, { token: `${TOKEN}x` })).status, 401, 'a wrong bearer')
    t.equal((await callback(engine.httpPort, ok, { token: 'nope-nope-nope-nope', query: true })).status, 401, 'a wrong ?token=')
    const unknown = await callback(engine.httpPort, ok, { connector: 'nosuch' })
    t.match([unknown.status, unknown.json], [401, { code: 'SMSC_ERR_HTTP_AUTH' }], 'no such connector: answered as a wrong token is')
    t.same(unknown.json, { ...(none.json as object), error: (unknown.json as { error: string }).error }, 'the same body but the id it names')
    t.equal((await callback(engine.httpPort, ok, { connector: 'plain' })).status, 401, 'a connector with receipts "none" takes no callbacks')
    t.equal((await callback(engine.httpPort, ok, { connector: 'simulator' })).status, 401, 'nor does the simulator')
    const noStatus = await callback(engine.httpPort, [ok, { id: 'prov-y' }])
    t.match([noStatus.status, noStatus.json], [400, { code: 'SMSC_ERR_API_INVALID', error: /^\[1\]\.status is required/ }], 'the field named as the body has it')
    const noId = await callback(engine.httpPort, { status: 'delivered' })
    t.match([noId.status, (noId.json as { error?: string } | undefined)?.error], [400, /^id is required/])
    const garbage = await callback(engine.httpPort, undefined, { raw: '{"id":' })
    t.match([garbage.status, garbage.json], [400, { code: 'SMSC_ERR_HTTP_BODY' }], 'not JSON')
  })

  t.test('an id the engine does not know is acknowledged and counted', async (t) => {
    const metric = async () => Number(/^smsc_connector_receipts_unmatched_total\{connector="prov"\} (\d+)$/m.exec((await httpCall(engine.httpPort, 'GET', '/metrics')).body)?.[1])
    const before = await metric()
    const r = await callback(engine.httpPort, [{ id: 'prov-never-sent-1', status: 'delivered' }, { id: 'prov-never-sent-2', status: 'failed' }])
    t.match([r.status, r.json], [200, { received: 2 }], 'acknowledged: the provider would only send them again')
    t.equal(await metric(), before + 2, 'counted in smsc_connector_receipts_unmatched_total{connector="prov"}')
    t.match(engine.output(), /upstream receipt for a message id we do not know/, 'and warned about')
    const warn = engine.output().split('\n').find((l) => /we do not know/.test(l)) ?? ''
    t.match(warn, /"connector":"prov","upstreamId":"prov-never-sent-1","answerId":"id","callbackFieldsId":"id"/, 'naming where an http connector reads its ids')
    t.notMatch(warn, /"receiptIds":/, 'not receiptIds, a setting of smpp connectors only')
  })

  t.test('a callback that comes before the 2xx answer is matched once the answer is in', async (t) => {
    const to = '447700955555'
    prov.delayMs = (x) => (x === to ? 600 : 0)
    let answered: { at: number; r: HttpCallResult } | null = null
    prov.onPost = (m) => {
      if (m.to !== to) return
      // The provider calls back at once, then answers the submit 600 ms later.
      void callback(engine.httpPort, { id: `prov-${m.id}`, status: 'delivered' }).then((r) => { answered = { at: Date.now(), r } })
    }
    t.teardown(() => { prov.delayMs = () => 0; prov.onPost = () => {} })
    const id = await submit(1, to)
    await until(() => answered !== null, 'the callback answered')
    const a = answered as unknown as { at: number; r: HttpCallResult }
    t.equal(a.r.status, 200, `the early callback is answered 200 (${a.r.body})`)
    t.ok(a.at >= (prov.answeredAt.get(id) as number), 'only after the 2xx it overtook')
    const pdu = await esme.waitFor(receiptFor(id), 5000)
    t.equal(parseReceipt(messageText(pdu))?.stat, 'DELIVRD', 'and the ESME gets its receipt')
  })

  t.test('the callback route answers on the HTTPS listener too', async (t) => {
    const id = await submit()
    await accepted(id)
    const body = JSON.stringify({ id: `prov-${id}`, status: 'delivered' })
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: httpsPort, method: 'POST', path: `/api/v1/connectors/prov/receipts?token=${TOKEN}`, rejectUnauthorized: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      req.on('error', reject)
      req.end(body)
    })
    t.equal(status, 200)
    t.equal(parseReceipt(messageText(await esme.waitFor(receiptFor(id), 5000)))?.stat, 'DELIVRD')
  })

  t.test('receipts "none" is unchanged: a 2xx is DELIVRD at once', async (t) => {
    const id = await submit(1, '33612345678')
    const pdu = await esme.waitFor(receiptFor(id), 5000)
    t.equal(parseReceipt(messageText(pdu))?.stat, 'DELIVRD')
    t.ok(plain.posted.some((p) => p.id === id), 'through the plain connector')
  })
})

t.test('one callback of 1,000 receipts is one store commit', async (t) => {
  const prov = await provider(t)
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-callback-'))
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const smsc = await createSmsc({
    dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'a', password: 'pw' }], log: { level: 'warn' },
    connectors: [{ id: 'prov', kind: 'http', url: prov.url, concurrency: 64, receipts: 'callback', callbackToken: TOKEN }],
    routes: { mt: [{ name: 'all', match: {}, action: { connector: 'prov' } }], mo: [] },
  })
  t.teardown(() => smsc.stop())
  const esme: Esme = await openEsme(t, { port: smsc.ports.smpp, kind: 'transceiver', systemId: 'a', password: 'pw' })
  const list = Array.from({ length: 1000 }, (_, i) => ({ source_addr: 'Shop', source_addr_ton: 5, destination_addr: `4477${String(i).padStart(8, '0')}`, short_message: gsm(`m${i}`), registered_delivery: 1 }))
  const ids = (await esme.submitMany(list, 50)).map((r) => r.message_id as string)
  await until(() => ids.every((id) => (smsc.store.getMessage(id) as MessageRecord | undefined)?.dests[0].up !== undefined), 'the provider ids of all 1,000', 30_000)
  // What each commit carries, read when it is made (records are updated in place after): our messages in a final
  // state, and receipts queued. A commit of provider ids still on its way carries them ENROUTE, and is not counted.
  const ours = new Set(ids)
  const carrying: { finals: number; receipts: number }[] = []
  const commit = smsc.store.commit.bind(smsc.store)
  smsc.store.commit = (batch: CommitBatch) => {
    const finals = batch.messages?.filter((m) => ours.has(m.id) && m.state === MessageState.DELIVERED).length ?? 0
    if (finals > 0) carrying.push({ finals, receipts: batch.enqueue?.length ?? 0 })
    return commit(batch)
  }
  const r = await callback(smsc.ports.http, ids.map((id) => ({ id: `prov-${id}`, status: 'delivered' })))
  t.match([r.status, r.json], [200, { received: 1000 }], r.body)
  t.equal(carrying.length, 1, 'the outcomes of the whole callback are one commit')
  t.equal(carrying[0]?.finals, 1000, 'holding all 1,000 messages')
  t.equal(carrying[0]?.receipts, 1000, 'and their 1,000 receipts')
  await until(() => esme.delivered.filter(isReceipt).length === 1000, 'the 1,000 receipts at the ESME', 20_000)
})
