/**
 * The send API (POST /api/v1/messages) against an engine process: per-account API keys in either
 * header, one message or a batch of up to 1000 with one result per message, a bad message in a
 * batch refused on its own while the others go through, the limits (count and size), which account
 * a caller may send for, the console's form (operator login, one object), and message lookups
 * scoped to the caller (another account's message is as unknown as a missing one).
 */
import t from 'tap'
import { httpCall, startEngine, type Engine } from '../helpers/engine'
import { openEsme, receiptFor } from '../helpers/esme'

const OPERATOR_PW = 'operator-secret'

interface Res { status: number; json: any; headers: Record<string, string | string[] | undefined> }

/** One request; the server may answer 413 and close before it has read everything (status -1). */
function call(e: Engine, method: string, path: string, o: { token?: string; key?: string; body?: unknown; raw?: Buffer } = {}): Promise<Res> {
  return httpCall(e.httpPort, method, path, { token: o.token, apiKey: o.key, body: o.body, raw: o.raw, timeoutMs: 20_000, resetIsAnswer: true })
}

interface Setup { e: Engine; op: string; keys: Record<string, string> }

/** An engine with accounts api1, api2 (users), res (reseller) and child (its user), and one API key each. */
async function setup(t: Parameters<typeof startEngine>[0]): Promise<Setup> {
  const e = await startEngine(t, {
    accounts: [
      { systemId: 'api1', password: 'pw1' },
      { systemId: 'api2', password: 'pw2' },
      { systemId: 'res', password: 'pw3', role: 'reseller' },
      { systemId: 'child', password: 'pw4', parent: 'res' },
    ] as never,
    extra: { admin: { password: OPERATOR_PW }, log: { level: 'warn' } },
  })
  const login = await call(e, 'POST', '/api/v1/login', { body: { password: OPERATOR_PW } })
  const op = login.json.token as string
  const keys: Record<string, string> = {}
  for (const id of ['api1', 'api2', 'res', 'child']) {
    const r = await call(e, 'POST', `/api/v1/accounts/${id}/apikeys`, { token: op, body: { label: 'test' } })
    if (r.status !== 201) throw new Error(`API key for ${id}: ${r.status} ${JSON.stringify(r.json)}`)
    keys[id] = r.json.key
  }
  return { e, op, keys }
}

const msg = (i: number) => ({ from: 'Shop', to: `4915100${String(i).padStart(5, '0')}`, text: `message ${i}` })

t.test('an API key sends and looks up, in either header; a bad or revoked key is refused', async (t) => {
  const { e, op, keys } = await setup(t)
  const one = await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body: { from: '+4915100000001', to: '+4915112345678', text: 'hello' } })
  t.equal(one.status, 202, JSON.stringify(one.json))
  t.match(one.json, { ok: true, parts: 1, coding: 'GSM 03.38' })
  t.equal(one.json.ids.length, 1)
  const id = one.json.ids[0] as string

  const bearer = await call(e, 'POST', '/api/v1/messages', { token: keys.api1, body: { from: 'Shop', to: '4915112345678', text: 'Привет', registeredDelivery: false } })
  t.match(bearer, { status: 202, json: { ok: true, parts: 1, coding: 'UCS2' } }, 'Authorization: Bearer <key> works as well')

  const seen = await call(e, 'GET', `/api/v1/messages/${id}`, { key: keys.api1 })
  t.equal(seen.status, 200)
  t.match(seen.json, { id, systemId: 'api1', from: '4915100000001', to: ['4915112345678'], text: 'hello' })

  t.match(await call(e, 'POST', '/api/v1/messages', { key: 'smsc_not-a-key', body: msg(1) }), { status: 401, json: { code: 'SMSC_ERR_HTTP_AUTH' } })
  t.match(await call(e, 'POST', '/api/v1/messages', { body: msg(1) }), { status: 401, json: { code: 'SMSC_ERR_HTTP_AUTH' } }, 'no credentials')
  const list = await call(e, 'GET', '/api/v1/accounts/api1/apikeys', { token: op })
  t.equal((await call(e, 'DELETE', `/api/v1/accounts/api1/apikeys/${list.json.keys[0].id}`, { token: op })).status, 204)
  t.match(await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body: msg(1) }), { status: 401 }, 'a revoked key')

  // a suspended account's key is refused with its own code
  t.equal((await call(e, 'POST', '/api/v1/accounts/api2/suspend', { token: op })).status, 200)
  t.match(await call(e, 'POST', '/api/v1/messages', { key: keys.api2, body: msg(1) }), { status: 403, json: { code: 'SMSC_ERR_ACCOUNT_SUSPENDED' } })
})

t.test('a batch of 1000 messages gets 1000 results; more is refused', async (t) => {
  const { e, keys } = await setup(t)
  const messages = Array.from({ length: 1000 }, (_, i) => msg(i))
  const r = await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body: { messages } })
  t.equal(r.status, 200)
  t.equal(r.json.results.length, 1000)
  t.ok(r.json.results.every((x: { ok: boolean; parts: number }) => x.ok && x.parts === 1), 'every one accepted')
  const ids = r.json.results.map((x: { ids: string[] }) => x.ids[0])
  t.equal(new Set(ids).size, 1000, 'each with its own id')
  const last = await call(e, 'GET', `/api/v1/messages/${ids[999]}`, { key: keys.api1 })
  t.match(last.json, { to: [msg(999).to], text: 'message 999' }, 'results are in the order of the messages')

  const over = await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body: { messages: [...messages, msg(1000)] } })
  t.match(over, { status: 413, json: { code: 'SMSC_ERR_API_INVALID', error: /at most 1000 messages/ } })
  t.match(await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body: { messages: [] } }), { status: 400, json: { code: 'SMSC_ERR_API_INVALID' } }, 'an empty batch')
  t.match(await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body: { messages: {} } }), { status: 400, json: { code: 'SMSC_ERR_API_INVALID' } })
  t.match(await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body: { messages, extra: 1 } }), { status: 400, json: { error: /extra is not a known field/ } })
  const huge = Buffer.from(JSON.stringify({ messages: [{ ...msg(0), text: 'x'.repeat(1024 * 1024) }] }))
  const big = await call(e, 'POST', '/api/v1/messages', { key: keys.api1, raw: huge })
  t.ok(big.status === 413 || big.status === -1, `a body over 1 MiB is refused (${big.status})`)
  if (big.status === 413) t.match(big.json, { code: 'SMSC_ERR_HTTP_BODY' })
  t.equal((await call(e, 'GET', '/healthz')).status, 200, 'and the engine carries on')
})

t.test('a bad message in a batch gets its own refusal; the others go through', async (t) => {
  const { e, keys } = await setup(t)
  const body = {
    messages: [
      msg(1),
      { from: 'Shop', text: 'no destination' },
      { ...msg(3), colour: 'red' },
      { from: 'Shop', to: '4915100000004', binary: 'xyz' },
      { from: 'Shop', to: '4915100000005', text: 'both', binary: '00' },
      { ...msg(6), scheduleAt: 'next tuesday' },
      { ...msg(7), validityMs: -5 },
      { ...msg(8), coding: 'ebcdic' },
      'not an object',
      { from: 'Shop', to: '4915100000010', binary: '0102030405', registeredDelivery: true },
      { ...msg(11), to: '1'.repeat(21) },
      msg(12),
    ],
  }
  const r = await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body })
  t.equal(r.status, 200)
  const res = r.json.results as { ok: boolean; status?: number; code?: string; error?: string }[]
  t.equal(res.length, body.messages.length)
  t.same(res.map((x) => x.ok), [true, false, false, false, false, false, false, false, false, true, false, true])
  const want: [number, RegExp, number][] = [
    [1, /messages\[1\]\.to is required/, 0x0b],
    [2, /messages\[2\]\.colour is not a known field/, 0x08],
    [3, /messages\[3\]\.binary must be hex/, 0x08],
    [4, /not both/, 0x08],
    [5, /messages\[5\]\.scheduleAt/, 0x61],
    [6, /messages\[6\]\.validityMs/, 0x62],
    [7, /messages\[7\]\.coding/, 0x104],
    [8, /messages\[8\] must be a JSON object/, 0x08],
    [10, /messages\[10\]\.to must be 1 to 20 characters/, 0x0b],
  ]
  for (const [i, error, status] of want) t.match(res[i], { ok: false, code: 'SMSC_ERR_API_INVALID', status, error }, `message ${i}: ${error}`)
  t.match(res[9], { ok: true, parts: 1, coding: 'binary' })

  // one bad message alone: its refusal with a 4xx status
  const alone = await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body: { from: 'Shop', text: 'x' } })
  t.match(alone, { status: 400, json: { ok: false, code: 'SMSC_ERR_API_INVALID', error: /^to is required/ } })
  // and a message the engine refuses (not its shape): the refusal comes from the engine
  const engineRefused = await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body: { messages: [{ from: 'Shop', to: '4915100000001', binary: '00'.repeat(141) }] } })
  t.match(engineRefused.json.results[0], { ok: false, status: 0x01 }, 'binary over 140 octets: ESME_RINVMSGLEN')
  // a text the coding cannot carry names the character, not a length
  const latin = await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body: { from: 'Shop', to: '4915100000001', text: 'price 5 €', coding: 'latin1' } })
  t.match(latin, { status: 400, json: { ok: false, code: 'SMSC_ERR_DCS_INVALID', error: /^text has a character latin1 cannot carry: "€" \(leave coding out/ } })
  const huge = await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body: { from: 'Shop', to: '4915100000001', text: 'x'.repeat(153 * 255 + 1) } })
  t.match(huge, { status: 400, json: { ok: false, code: 'SMSC_ERR_DCS_INVALID', error: 'text is longer than 255 parts in gsm' } })
  const notANumber = await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body: { from: 'Shop', to: 'abc', text: 'x' } })
  t.match(notANumber, { status: 400, json: { ok: false, status: 0x0b, error: /^to "abc" is not a number a handset has: digits .*\(ESME_RINVDSTADR\)$/ } },
    'a destination that is not a number: ESME_RINVDSTADR, not sent and charged; the error names the field')
  const far = await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body: { ...msg(1), scheduleAt: Date.now() + 8 * 86_400_000 } })
  t.match(far, { status: 400, json: { ok: false, status: 0x61, error: "scheduleAt must be at most 7 days ahead (the account's validity.maxMs) (ESME_RINVSCHED)" } },
    'a schedule past the horizon says what the horizon is')
  t.equal((await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body: { ...msg(1), scheduleAt: Date.now() + 6 * 86_400_000 } })).status, 202, 'within it: accepted')
  const typed = await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body: { from: 'Shop', to: '+49 (151) 123-456.78', text: 'x' } })
  t.equal(typed.status, 202, 'the spaces, brackets, dashes and dots people type into a number are not part of it')
  t.match((await call(e, 'GET', `/api/v1/messages/${(typed.json as { ids: string[] }).ids[0]}`, { key: keys.api1 })).json, { to: ['4915112345678'] })
})

t.test('who may send for whom, and the console\'s form', async (t) => {
  const { e, op, keys } = await setup(t)
  t.match(await call(e, 'POST', '/api/v1/messages', { key: keys.api2, body: { systemId: 'api1', ...msg(1) } }), { status: 403, json: { code: 'SMSC_ERR_ADMIN_FORBIDDEN' } }, 'a user for another account')
  t.match(await call(e, 'POST', '/api/v1/messages', { key: keys.api2, body: { systemId: 'api2', ...msg(1) } }), { status: 202 }, 'a user naming itself')
  t.match(await call(e, 'POST', '/api/v1/messages', { key: keys.res, body: { systemId: 'child', messages: [msg(1)] } }), { status: 200, json: { results: [{ ok: true }] } }, 'a reseller for its user')
  t.match(await call(e, 'POST', '/api/v1/messages', { key: keys.res, body: { systemId: 'api1', ...msg(1) } }), { status: 403 }, 'but not for others')
  t.match(await call(e, 'POST', '/api/v1/messages', { token: op, body: msg(1) }), { status: 400, json: { code: 'SMSC_ERR_API_INVALID', error: /systemId is required/ } }, 'the operator names the account')
  t.match(await call(e, 'POST', '/api/v1/messages', { token: op, body: { systemId: 'nobody', ...msg(1) } }), { status: 404, json: { code: 'SMSC_ERR_AUTH_SYSTEM_ID' } })
  // the console's send form: { systemId, from, to, text, registeredDelivery } with the operator's login
  const rx = await openEsme(t, { port: e.smppPort, kind: 'receiver', systemId: 'api1', password: 'pw1' })
  const form = await call(e, 'POST', '/api/v1/messages', { token: op, body: { systemId: 'api1', from: 'Console', to: '+4915112345678', text: 'Привет, мир '.repeat(10), registeredDelivery: true } })
  t.equal(form.status, 202)
  t.match(form.json, { ok: true, coding: 'UCS2', parts: 2 })
  t.equal(form.json.ids.length, 2, 'one id per part')
  const view = await call(e, 'GET', `/api/v1/messages/${form.json.ids[0]}`, { token: op })
  t.match(view.json, { systemId: 'api1', from: 'Console' })
  for (const id of form.json.ids) await rx.waitFor(receiptFor(id), 10_000)
  t.pass('the account\'s receiver gets a receipt for every part')
})

t.test('a message lookup shows only what the caller may see', async (t) => {
  const { e, op, keys } = await setup(t)
  const sent: Record<string, string> = {}
  for (const id of ['api1', 'child']) {
    const r = await call(e, 'POST', '/api/v1/messages', { key: keys[id], body: msg(1) })
    sent[id] = r.json.ids[0]
  }
  const look = (who: { key?: string; token?: string }, id: string) => call(e, 'GET', `/api/v1/messages/${id}`, who).then((r) => r.status)
  t.equal(await look({ key: keys.api1 }, sent.api1), 200, 'its own')
  t.equal(await look({ key: keys.api2 }, sent.api1), 404, 'another user\'s: as unknown as a missing one')
  t.equal(await look({ key: keys.child }, sent.api1), 404)
  t.equal(await look({ key: keys.res }, sent.child), 200, 'a reseller sees its user\'s')
  t.equal(await look({ key: keys.res }, sent.api1), 404, 'but not others\'')
  t.equal(await look({ token: op }, sent.api1), 200, 'the operator sees all')
  t.equal(await look({ token: op }, sent.child), 200)
  const accountLogin = (await call(e, 'POST', '/api/v1/login', { body: { systemId: 'api2', password: 'pw2' } })).json.token
  t.equal(await look({ token: accountLogin }, sent.api1), 404, 'the same scope with an account\'s login')
  t.equal(await look({}, sent.api1), 401, 'nothing without credentials')
})

t.test('an account\'s allowedIps apply to its HTTP login, its tokens and its API keys (403 SMSC_ERR_IP_NOT_ALLOWED)', async (t) => {
  const e = await startEngine(t, {
    accounts: [
      { systemId: 'far', password: 'pw1', allowedIps: ['10.1.2.0/24'] },
      { systemId: 'near', password: 'pw2', allowedIps: ['10.1.2.0/24', '127.0.0.0/8', '::1'] },
    ] as never,
    extra: { admin: { password: OPERATOR_PW }, log: { level: 'warn' } },
  })
  const op = (await call(e, 'POST', '/api/v1/login', { body: { password: OPERATOR_PW } })).json.token as string
  const keys: Record<string, string> = {}
  for (const id of ['far', 'near']) keys[id] = (await call(e, 'POST', `/api/v1/accounts/${id}/apikeys`, { token: op, body: {} })).json.key
  const NOT_ALLOWED = { status: 403, json: { code: 'SMSC_ERR_IP_NOT_ALLOWED', error: 'account far may not be used from 127.0.0.1: not in its allowedIps' } }

  // We call from 127.0.0.1: outside far's list, inside near's.
  const farLogin = await call(e, 'POST', '/api/v1/login', { body: { systemId: 'far', password: 'pw1' } })
  t.match(farLogin, NOT_ALLOWED, 'the login is refused')
  t.equal(farLogin.json.token, undefined, 'and no token issued')
  t.match(await call(e, 'POST', '/api/v1/messages', { key: keys.far, body: msg(1) }), NOT_ALLOWED, 'its API key is refused')
  t.match(await call(e, 'POST', '/api/v1/messages', { token: keys.far, body: msg(1) }), NOT_ALLOWED, 'also as a bearer')
  t.match(await call(e, 'POST', '/api/v1/login', { body: { systemId: 'far', password: 'wrong' } }), NOT_ALLOWED, 'a wrong password gets the same answer: from outside allowedIps nothing tells whether the password is right')

  const nearLogin = await call(e, 'POST', '/api/v1/login', { body: { systemId: 'near', password: 'pw2' } })
  t.equal(nearLogin.status, 200, 'inside the list: logged in')
  t.match(await call(e, 'POST', '/api/v1/messages', { key: keys.near, body: msg(1) }), { status: 202, json: { ok: true } }, 'its API key sends')
  t.match(await call(e, 'POST', '/api/v1/messages', { token: nearLogin.json.token, body: msg(2) }), { status: 202 }, 'its login sends')

  // A token issued while the address was allowed stops working when the list changes.
  t.equal((await call(e, 'PATCH', '/api/v1/accounts/near', { token: op, body: { allowedIps: ['10.1.2.0/24'] } })).status, 200)
  t.match(await call(e, 'POST', '/api/v1/messages', { token: nearLogin.json.token, body: msg(3) }), { status: 403, json: { code: 'SMSC_ERR_IP_NOT_ALLOWED' } })
  t.match(await call(e, 'GET', '/api/v1/me', { token: nearLogin.json.token }), { status: 403, json: { code: 'SMSC_ERR_IP_NOT_ALLOWED' } })
  t.equal((await call(e, 'POST', '/api/v1/messages', { token: op, body: { systemId: 'far', ...msg(4) } })).status, 202, 'the operator is not bound to an account\'s addresses')
})

t.test('behind a trusted proxy (http.trustProxy) the client is the last untrusted X-Forwarded-For address; elsewhere the header is ignored', async (t) => {
  const accounts = [{ systemId: 'far', password: 'pw1', allowedIps: ['10.1.2.0/24'] }] as never
  const login = (e: Engine, xff: string) => httpCall(e.httpPort, 'POST', '/api/v1/login', { body: { systemId: 'far', password: 'pw1' }, headers: { 'x-forwarded-for': xff } })
  const proxied = await startEngine(t, { accounts, extra: { http: { trustProxy: ['127.0.0.0/8', '::1', '192.0.2.7'] }, log: { level: 'warn' } } })
  t.equal((await login(proxied, '10.1.2.3')).status, 200, 'the client the proxy names is in allowedIps: logged in')
  t.equal((await login(proxied, '10.1.2.3, 192.0.2.7')).status, 200, 'a chain of trusted proxies is walked from the right')
  t.match(await login(proxied, '10.1.2.3, 203.0.113.9'), { status: 403, json: { error: 'account far may not be used from 203.0.113.9: not in its allowedIps' } },
    'an address the client wrote itself (left of the last untrusted hop) is not believed')
  const lines = await httpCall(proxied.httpPort, 'POST', '/api/v1/login', { body: { systemId: 'far', password: 'pw1' }, headers: { 'x-forwarded-for': ['10.1.2.3', '203.0.113.9'] as never } })
  t.match(lines, { status: 403, json: { error: /from 203\.0\.113\.9:/ } }, 'every X-Forwarded-For line counts, in order: the client\'s own line before the proxy\'s is not believed')
  t.equal((await login(proxied, '10.1.2.3:5678')).status, 200, 'an entry with a port is the address without it')
  t.match(await login(proxied, 'unknown'), { status: 403, json: { error: /from 127\.0\.0\.1:/ } }, 'an entry that is no address: the proxy is the client')
  const direct = await startEngine(t, { accounts, extra: { log: { level: 'warn' } } })
  t.match(await login(direct, '10.1.2.3'), { status: 403, json: { error: 'account far may not be used from 127.0.0.1: not in its allowedIps' } }, 'without trustProxy the header counts for nothing')
})

t.test('DELETE /api/v1/messages/:id cancels a message not final yet, within the caller\'s scope; a final one is 409', async (t) => {
  const { e, op, keys } = await setup(t)
  const send = async (key: string, at: number) => {
    const r = await call(e, 'POST', '/api/v1/messages', { key, body: { ...msg(at), scheduleAt: Date.now() + 1500 } })
    if (r.status !== 202) throw new Error(`send: ${r.status} ${JSON.stringify(r.json)}`)
    return r.json.ids[0] as string
  }
  const scheduled = await send(keys.api1, 1)
  const other = await send(keys.api2, 2)
  const childs = await send(keys.child, 3)
  t.match(await call(e, 'DELETE', `/api/v1/messages/${other}`, { key: keys.api1 }), { status: 404, json: { code: 'SMSC_ERR_MESSAGE_NOT_FOUND' } }, "another account's message is as unknown as a missing one")
  t.match(await call(e, 'DELETE', '/api/v1/messages/9999999999', { key: keys.api1 }), { status: 404 })
  const cancelled = await call(e, 'DELETE', `/api/v1/messages/${scheduled}`, { key: keys.api1 })
  t.match(cancelled, { status: 200, json: { id: scheduled, stat: 'DELETED', dests: [{ stat: 'DELETED' }] } }, 'cancelled with the API key: the message as it is now')
  t.match(await call(e, 'DELETE', `/api/v1/messages/${childs}`, { key: keys.res }), { status: 200, json: { stat: 'DELETED' } }, "a reseller cancels its user's")
  await new Promise((r) => setTimeout(r, 2500)) // past its schedule: the carrier never got it
  t.match(await call(e, 'GET', `/api/v1/messages/${scheduled}`, { key: keys.api1 }), { status: 200, json: { stat: 'DELETED' } }, 'still DELETED after its schedule')
  const carried = (await call(e, 'GET', '/api/v1/connectors', { token: op })).json.connectors.find((c: { id: string }) => c.id === 'simulator').sent
  t.equal(carried, 1, 'the carrier got only the one not cancelled')
  t.match(await call(e, 'GET', `/api/v1/messages/${other}`, { key: keys.api2 }), { status: 200, json: { stat: 'DELIVRD' } }, 'the one not cancelled went out')
  t.match(await call(e, 'DELETE', `/api/v1/messages/${other}`, { token: op }), { status: 409, json: { code: 'SMSC_ERR_MESSAGE_FINAL', error: /is DELIVRD already: nothing to cancel/ } }, 'a final message: 409')
})

t.test('a method an API path does not take is 405 with Allow; an unknown path is 404', async (t) => {
  const { e, keys } = await setup(t)
  const put = await httpCall(e.httpPort, 'PUT', '/api/v1/messages', { apiKey: keys.api1, body: {} })
  t.match(put, { status: 405, json: { code: 'SMSC_ERR_HTTP_METHOD', error: 'PUT is not a method of /api/v1/messages: GET, HEAD, POST are' } }, 'PUT on the send API')
  t.equal(put.headers.allow, 'GET, HEAD, POST', 'with an Allow header (RFC 9110 §15.5.6)')
  t.match(await httpCall(e.httpPort, 'GET', '/api/v1/login'), { status: 405, headers: { allow: 'POST' } }, 'GET on a POST-only path')
  t.match(await httpCall(e.httpPort, 'PATCH', '/api/v1/messages/0000000001'), { status: 405, headers: { allow: 'GET, HEAD, DELETE' } }, 'a path with a parameter')
  t.match(await httpCall(e.httpPort, 'POST', '/api/v1/nosuch'), { status: 404, json: { code: 'SMSC_ERR_HTTP_NOT_FOUND' } }, 'no such path: 404')
  t.match(await httpCall(e.httpPort, 'GET', '/api/v1/messages/1/more'), { status: 404 }, 'more segments than any route: 404')
  t.match(await httpCall(e.httpPort, 'GET', '/accounts'), { status: 200 }, 'a console path still serves the console')
})

t.test("an API key reads its own account's balance and ledger, and nothing else of the admin API", async (t) => {
  const { e, op, keys } = await setup(t)
  t.equal((await call(e, 'PATCH', '/api/v1/accounts/api1', { token: op, body: { prepaid: true } })).status, 200, 'api1 is made prepaid')
  t.equal((await call(e, 'POST', '/api/v1/accounts/api1/credit', { token: op, body: { amount: 7 } })).status, 200, 'the operator gives it credit')
  t.match(await call(e, 'GET', '/api/v1/accounts/api1', { key: keys.api1 }), { status: 200, json: { systemId: 'api1', balance: 7 } }, 'its balance with its key')
  t.match(await call(e, 'GET', '/api/v1/accounts/api1/ledger', { key: keys.api1 }), { status: 200, json: { entries: [{ delta: 7, balance: 7 }] } }, 'its ledger')
  t.match(await call(e, 'GET', '/api/v1/accounts/api2', { key: keys.api1 }), { status: 403, json: { code: 'SMSC_ERR_ADMIN_FORBIDDEN', error: /its own account only \(api1\)/ } }, "not another account's")
  t.match(await call(e, 'GET', '/api/v1/accounts/child/ledger', { key: keys.res }), { status: 403 }, "a reseller's key: not its users' (a login is)")
  t.match(await call(e, 'PATCH', '/api/v1/accounts/api1', { key: keys.api1, body: { registeredDelivery: 1 } }), { status: 401 }, 'no change with a key')
  t.match(await call(e, 'GET', '/api/v1/accounts', { key: keys.api1 }), { status: 401 }, 'no account list with a key')
})

t.test('a send refused by the rate limit or the daily quota says when to try again (Retry-After)', async (t) => {
  const { e, op, keys } = await setup(t)
  t.equal((await call(e, 'PATCH', '/api/v1/accounts/api1', { token: op, body: { rateLimit: { perSecond: 1, burst: 1 } } })).status, 200)
  t.equal((await call(e, 'PATCH', '/api/v1/accounts/api2', { token: op, body: { dailyQuota: 1 } })).status, 200)
  const sends = []
  for (let i = 0; i < 3; i++) sends.push(await call(e, 'POST', '/api/v1/messages', { key: keys.api1, body: msg(i) }))
  const throttled = sends.find((r) => r.status === 429)
  t.ok(throttled, `over 1/s: ${sends.map((r) => r.status).join(', ')}`)
  t.match(throttled, { json: { code: 'SMSC_ERR_RATE_LIMITED' }, headers: { 'retry-after': '1' } }, 'a rate limit: again in a second')
  t.equal(sends[0].headers['retry-after'], undefined, 'an accepted send has none')
  t.equal((await call(e, 'POST', '/api/v1/messages', { key: keys.api2, body: msg(1) })).status, 202)
  const over = await call(e, 'POST', '/api/v1/messages', { key: keys.api2, body: msg(2) })
  t.match(over, { status: 429, json: { code: 'SMSC_ERR_QUOTA_EXCEEDED' } })
  const wait = Number(over.headers['retry-after'])
  const midnight = Math.ceil((86_400_000 - (Date.now() % 86_400_000)) / 1000)
  t.ok(wait > 0 && wait <= 86_400 && Math.abs(wait - midnight) <= 2, `a daily quota: at 00:00 UTC (${wait} s, ${midnight} s from now)`)
})
