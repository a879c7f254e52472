/**
 * What the server answers is what the OpenAPI document says it may answer: requests a client generated
 * from the document meets (a login throttled, a single message refused, a suspended account's key) get
 * a status the operation lists, with a body its schema for that status allows. Before, the document
 * listed no 429 for the login, no 403/429 for a message lookup, and described a refused single message
 * as an Error, though its body is the message's SubmitResult ({ ok: false, status, code, error }).
 * An API key given to the admin API is told that keys are for the send API and lookups only.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createSmsc } from '../../engine/index'
import { OPENAPI } from '../../engine/openapi'

type Json = Record<string, any>
const doc = JSON.parse(JSON.stringify(OPENAPI)) as Json
/** the response object the document gives for this operation and status, or undefined */
const documented = (method: string, p: string, status: number): Json | undefined => doc.paths[p]?.[method.toLowerCase()]?.responses?.[status]
/** the schema names (components) a response's JSON body may have */
const schemaNames = (r: Json): string[] => {
  const s = r.content?.['application/json']?.schema ?? {}
  return [s, ...(s.anyOf ?? []), ...(s.oneOf ?? [])].map((x: Json) => String(x.$ref ?? '').replace('#/components/schemas/', '')).filter(Boolean)
}

t.test('answers a client meets are documented, with their body\'s schema', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-openapi-answers-'))
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const smsc = await createSmsc({
    dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'shop', password: 'shop-pw', allowedSources: ['SHOP'] }], admin: { password: 'operator-secret' }, log: { level: 'silent' },
  })
  t.teardown(() => smsc.stop())
  const base = `http://127.0.0.1:${smsc.ports.http}`
  const call = async (method: string, p: string, headers: Record<string, string>, body?: unknown) => {
    const r = await fetch(`${base}${p}`, { method, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) })
    return { status: r.status, body: (await r.json()) as Json }
  }
  /** the answer is listed for the operation, and its body is one of the schemas listed for that status */
  const check = (method: string, docPath: string, a: { status: number; body: Json }, what: string) => {
    const r = documented(method, docPath, a.status)
    t.ok(r, `${what}: ${a.status} is documented for ${method} ${docPath}`)
    if (!r) return
    const names = schemaNames(r)
    const shape = 'ok' in a.body ? 'SubmitResult' : 'Error'
    t.ok(names.includes(shape), `${what}: the body is a ${shape}, which the ${a.status} of ${method} ${docPath} allows (${names.join(', ')})`)
  }

  const op = (await call('POST', '/api/v1/login', {}, { password: 'operator-secret' })).body.token as string
  const key = (await call('POST', '/api/v1/accounts/shop/apikeys', { authorization: `Bearer ${op}` }, { label: 't' })).body.key as string
  t.ok(key, 'an API key')

  let refused = { status: 0, body: {} as Json }
  for (let i = 0; i < 11; i++) refused = await call('POST', '/api/v1/login', {}, { systemId: 'shop', password: 'wrong' })
  t.equal(refused.status, 429, 'the 11th wrong password in a minute is throttled')
  check('POST', '/api/v1/login', refused, 'throttled login')

  const bad = await call('POST', '/api/v1/messages', { 'x-api-key': key }, { from: 'OTHER', to: '4915112345678', text: 'hi' })
  t.equal(bad.status, 403, 'a sender the account may not use')
  t.equal(bad.body.ok, false)
  check('POST', '/api/v1/messages', bad, 'single message refused by policy')
  const invalid = await call('POST', '/api/v1/messages', { 'x-api-key': key }, { from: 'SHOP', text: 'no to' })
  check('POST', '/api/v1/messages', invalid, 'single message with a missing field')
  const empty = await call('POST', '/api/v1/messages', { 'x-api-key': key }, { messages: [] })
  check('POST', '/api/v1/messages', empty, 'an empty batch')

  const sent = await call('POST', '/api/v1/messages', { 'x-api-key': key }, { from: 'SHOP', to: '4915112345678', text: 'hi' })
  t.equal(sent.status, 202)
  // the admin API takes logins only (an API key reads its own account's balance and ledger): an API key there is told so, not just "log in first"
  for (const headers of [{ 'x-api-key': key }, { authorization: `Bearer ${key}` }] as Record<string, string>[]) {
    const own = await call('GET', '/api/v1/accounts/shop/apikeys', headers)
    t.equal(own.status, 401, 'an API key does not list the keys')
    t.match(own.body.error, /API key is taken only by the send API, message lookups .* and its own account's balance, ledger and opt-out list \(to read and add\): .*POST \/api\/v1\/login/, `the refusal says why (${Object.keys(headers)[0]})`)
  }
  t.match(await call('GET', '/api/v1/accounts/shop/ledger', { 'x-api-key': key }), { status: 200 }, 'it reads its own ledger')
  await call('POST', '/api/v1/accounts/shop/suspend', { authorization: `Bearer ${op}` })
  const lookup = await call('GET', `/api/v1/messages/${sent.body.ids[0]}`, { 'x-api-key': key })
  t.equal(lookup.status, 403, 'a suspended account\'s key')
  check('GET', '/api/v1/messages/{id}', lookup, 'lookup by a suspended account')
})

t.test("the webhook secret is the top-level webhookSecret of both answers that make it, as the document says", async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-openapi-secret-'))
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const smsc = await createSmsc({
    dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'shop', password: 'shop-pw' }], admin: { password: 'operator-secret' }, log: { level: 'silent' },
  })
  t.teardown(() => smsc.stop())
  const call = async (method: string, p: string, token: string, body?: unknown) => {
    const r = await fetch(`http://127.0.0.1:${smsc.ports.http}${p}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    return { status: r.status, body: (await r.json()) as Json }
  }
  const op = (await call('POST', '/api/v1/login', '', { password: 'operator-secret' })).body.token as string
  const webhooks = { receipts: null, mo: 'https://hooks.example/mo' }

  const created = await call('POST', '/api/v1/accounts', op, { systemId: 'hooked', webhooks })
  t.equal(created.status, 201)
  t.match(created.body.webhookSecret, /^whsec_/, 'POST: webhookSecret at the top of the body, beside account and password')
  t.notOk('webhookSecret' in created.body.account, 'not in account (a view never carries it)')
  const patched = await call('PATCH', '/api/v1/accounts/shop', op, { webhooks })
  t.equal(patched.status, 200)
  t.match(patched.body.webhookSecret, /^whsec_/, 'PATCH: webhookSecret at the top of the body too, whose fields are the account\'s')

  const schemas = doc.components.schemas as Json
  t.ok(schemas.Created.properties.webhookSecret && schemas.Account.properties.webhookSecret, 'both answers\' schemas have it at their top')
  t.match(documented('POST', '/api/v1/accounts', 201)?.description, /webhookSecret/, "the POST's 201 says it may carry it")
  t.match(documented('PATCH', '/api/v1/accounts/{id}', 200)?.description, /webhookSecret/, "the PATCH's 200 says it may carry it")
  t.match(schemas.Created.properties.webhookSecret.description, /PATCH/, 'each place names the other answer')
  t.match(schemas.Account.properties.webhookSecret.description, /POST \/api\/v1\/accounts/)
})
