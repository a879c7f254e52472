/**
 * Mobile-originated messages from the simulated carrier (POST /api/v1/simulator/mo) delivered as deliver_sm
 * (esm_class message type 0, SMPP 3.4 §4.6) to a receiver or transceiver bind of the account, and kept
 * until one binds when none is.
 */
import t from 'tap'
import { httpCall, startEngine } from '../helpers/engine'
import { isMo, messageText, openEsme, type Pdu } from '../helpers/esme'

t.test('MO through the HTTP endpoint', async (t) => {
  const engine = await startEngine(t, {
    accounts: [
      { systemId: 'esme1', password: 'secret1' },
      { systemId: 'esme2', password: 'secret2' },
    ],
  })
  const postMo = async (body: Record<string, unknown>): Promise<string> => {
    const res = await engine.http('POST', '/api/v1/simulator/mo', body, await engine.operatorToken())
    if (res.status < 200 || res.status > 299) throw new Error(`POST /api/v1/simulator/mo → ${res.status} ${res.body}`)
    const id = (res.json as { id?: unknown } | undefined)?.id
    if (id === undefined || id === null || id === '') throw new Error(`MO response has no id: ${res.body}`)
    return String(id)
  }
  const moFrom = (from: string) => (p: Pdu) => isMo(p) && p.source_addr === from

  t.test('a GSM MO arrives on a transceiver bind', async (t) => {
    const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver' })
    const id = await postMo({ from: '4915100000101', to: '12345', text: 'Hello MO @ € [x]', systemId: 'esme1' })
    t.ok(id, `MO id ${id}`)
    const mo = await esme.waitFor(moFrom('4915100000101'), 10_000)
    t.equal(mo.esm_class ?? 0, 0, 'esm_class 0: a plain short message, not a receipt')
    t.equal(mo.destination_addr, '12345')
    t.equal(messageText(mo), 'Hello MO @ € [x]')
  })

  t.test("the sender's TON as a carrier gives it: a sender id TON 5, an international number TON 1 without its '+'", async (t) => {
    const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver' })
    await postMo({ from: 'ShopX', to: '+4915100000999', text: 'from a name', systemId: 'esme1' })
    t.match(await esme.waitFor(moFrom('ShopX'), 10_000), { source_addr_ton: 5, source_addr_npi: 0, dest_addr_ton: 1, destination_addr: '4915100000999' }, 'alphanumeric: TON 5, NPI 0')
    await postMo({ from: '+4915100000108', to: '12345', text: 'from a number', systemId: 'esme1' })
    t.match(await esme.waitFor(moFrom('4915100000108'), 10_000), { source_addr_ton: 1, source_addr_npi: 1 }, "'+4915100000108' arrives as 4915100000108, TON 1")
  })

  t.test('a UCS2 MO with emoji arrives with data_coding 8', async (t) => {
    const esme = await openEsme(t, { port: engine.smppPort, kind: 'receiver' })
    const text = 'Привет 😀👍🏽'
    await postMo({ from: '4915100000102', to: '12345', text, coding: 'ucs2', systemId: 'esme1' })
    const mo = await esme.waitFor(moFrom('4915100000102'), 10_000)
    t.equal(mo.data_coding, 8)
    t.equal(messageText(mo), text)
  })

  t.test('a latin1 MO arrives with data_coding 3', async (t) => {
    const esme = await openEsme(t, { port: engine.smppPort, kind: 'receiver' })
    await postMo({ from: '4915100000103', to: '12345', text: 'Grüße façade', coding: 'latin1', systemId: 'esme1' })
    const mo = await esme.waitFor(moFrom('4915100000103'), 10_000)
    t.equal(mo.data_coding, 3)
    t.equal(messageText(mo), 'Grüße façade')
  })

  t.test('an MO while no receiver is bound is queued and delivered on bind', async (t) => {
    await postMo({ from: '4915100000104', to: '12345', text: 'queued one', systemId: 'esme2' })
    await postMo({ from: '4915100000105', to: '12345', text: 'queued two', systemId: 'esme2' })
    // a transmitter bind cannot take deliver_sm: still queued
    const tx = await openEsme(t, { port: engine.smppPort, kind: 'transmitter', systemId: 'esme2', password: 'secret2' })
    await new Promise((r) => setTimeout(r, 300))
    t.equal(tx.delivered.length, 0, 'nothing delivered to a transmitter bind')
    const rx = await openEsme(t, { port: engine.smppPort, kind: 'receiver', systemId: 'esme2', password: 'secret2' })
    const [one, two] = await Promise.all([rx.waitFor(moFrom('4915100000104'), 10_000), rx.waitFor(moFrom('4915100000105'), 10_000)])
    t.equal(messageText(one), 'queued one')
    t.equal(messageText(two), 'queued two')
  })

  t.test('an MO for one account does not reach another account', async (t) => {
    const other = await openEsme(t, { port: engine.smppPort, kind: 'receiver', systemId: 'esme1', password: 'secret1' })
    const mine = await openEsme(t, { port: engine.smppPort, kind: 'receiver', systemId: 'esme2', password: 'secret2' })
    await postMo({ from: '4915100000106', to: '12345', text: 'for esme2', systemId: 'esme2' })
    await mine.waitFor(moFrom('4915100000106'), 10_000)
    await new Promise((r) => setTimeout(r, 200))
    t.notOk(other.delivered.some(moFrom('4915100000106')), 'esme1 did not get it')
  })

  t.test('without systemId and with two accounts the MO is refused or routed to one of them', async (t) => {
    const res = await engine.http('POST', '/api/v1/simulator/mo', { from: '4915100000107', to: '12345', text: 'which one' }, await engine.operatorToken())
    t.ok(res.status === 200 || (res.status >= 400 && res.status < 500), `200 or 4xx (got ${res.status} ${res.body})`)
  })

  t.test('a bad MO request is refused', async (t) => {
    const res = await engine.http('POST', '/api/v1/simulator/mo', { from: '1', text: 'no to' }, await engine.operatorToken())
    t.match(res, { status: 400, json: { code: 'SMSC_ERR_HTTP_BODY', error: 'to is required' } }, 'a missing "to"')
  })
})

t.test('only the operator may make the simulated carrier send an MO: anyone reaching the port could write into any account\'s queue', async (t) => {
  const engine = await startEngine(t, { accounts: [{ systemId: 'esme1', password: 'secret1' }] })
  const op = await engine.operatorToken()
  const mo = { from: '4915100000109', to: '12345', text: 'fake MO', systemId: 'esme1' }
  t.match(await engine.http('POST', '/api/v1/simulator/mo', mo), { status: 401, json: { code: 'SMSC_ERR_HTTP_AUTH' } }, 'no login: 401')
  const account = (await engine.http('POST', '/api/v1/login', { systemId: 'esme1', password: 'secret1' })).json as { token: string }
  t.match(await engine.http('POST', '/api/v1/simulator/mo', mo, account.token), { status: 403, json: { code: 'SMSC_ERR_ADMIN_FORBIDDEN' } }, 'the account itself: 403')
  await engine.http('POST', '/api/v1/admin/users', { user: 'noc1', role: 'viewer', password: 'noc1-password' }, op)
  const viewer = (await engine.http('POST', '/api/v1/login', { user: 'noc1', password: 'noc1-password' })).json as { token: string }
  t.match(await engine.http('POST', '/api/v1/simulator/mo', mo, viewer.token), { status: 403, json: { code: 'SMSC_ERR_ADMIN_READ_ONLY' } }, 'a viewer: 403')
  const esme = await openEsme(t, { port: engine.smppPort, kind: 'receiver' })
  const ok = await httpCall(engine.httpPort, 'POST', '/api/v1/simulator/mo', { body: mo, cookie: `smsc_session=${op}` })
  t.match(ok, { status: 202, json: { systemId: 'esme1', parts: 1 } }, 'the operator (the console\'s cookie): 202')
  const got = await esme.waitFor((p: Pdu) => isMo(p) && p.source_addr === mo.from, 10_000)
  t.equal(messageText(got), 'fake MO', 'and it arrives')
  await new Promise((r) => setTimeout(r, 200))
  t.equal(esme.delivered.filter(isMo).length, 1, 'once: the refused requests queued nothing')
})
