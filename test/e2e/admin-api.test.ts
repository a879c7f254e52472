/**
 * The admin API over HTTP against an engine process: operator and account logins (and what ends
 * them), the operator managing accounts, credit, API keys, routes and connectors end to end, a
 * reseller and a user kept to their scope (403 SMSC_ERR_ADMIN_FORBIDDEN), the error codes and
 * statuses of docs/API.md, and the OpenAPI document (served without a login, naming every route).
 */
import t from 'tap'
import http from 'node:http'
import { httpCall, startEngine, type Engine } from '../helpers/engine'
import { OPENAPI } from '../../engine/openapi'

const OPERATOR_PW = 'operator-secret'

interface Res { status: number; json: any; headers: http.IncomingHttpHeaders }

/** One request with a bearer token (a login or an API key) or other headers. */
function call(e: Engine, method: string, path: string, o: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Res> {
  return httpCall(e.httpPort, method, path, { ...o, timeoutMs: 10_000 })
}

async function login(e: Engine, body: Record<string, string>): Promise<string> {
  const r = await call(e, 'POST', '/api/v1/login', { body })
  if (r.status !== 200) throw new Error(`login ${JSON.stringify(body.systemId ?? 'operator')}: ${r.status} ${JSON.stringify(r.json)}`)
  return r.json.token as string
}

function engine(t: Parameters<typeof startEngine>[0]) {
  return startEngine(t, {
    accounts: [
      { systemId: 'res1', password: 'rpw1', role: 'reseller', prepaid: true, credit: 1000 },
      { systemId: 'u1', password: 'upw1', parent: 'res1', prepaid: true },
      { systemId: 'res2', password: 'rpw2', role: 'reseller' },
      { systemId: 'other', password: 'opw1' },
    ] as never,
    extra: { admin: { password: OPERATOR_PW }, log: { level: 'warn' } },
  })
}

t.test('logins: the operator and accounts, /me, and what ends an account\'s token', async (t) => {
  const e = await engine(t)
  const op = await login(e, { password: OPERATOR_PW })
  t.match((await call(e, 'GET', '/api/v1/me', { token: op })).json, { role: 'operator', systemId: null })

  const login1 = await call(e, 'POST', '/api/v1/login', { body: { systemId: 'res1', password: 'rpw1' } })
  t.equal(login1.status, 200)
  t.same(login1.json.principal, { role: 'reseller', systemId: 'res1', name: 'res1' }, 'the login answers the principal')
  t.match(login1.headers['set-cookie']?.[0], /^smsc_session=[^;]+; HttpOnly; SameSite=Strict/, 'and sets the session cookie')
  const res1 = login1.json.token as string
  t.same((await call(e, 'GET', '/api/v1/me', { token: res1 })).json, { role: 'reseller', systemId: 'res1', name: 'res1' })
  t.same((await call(e, 'GET', '/api/v1/me', { headers: { cookie: `smsc_session=${res1}` } })).json.systemId, 'res1', 'the cookie works too')

  for (const [body, what] of [
    [{ systemId: 'res1', password: 'wrong' }, 'a wrong password'],
    [{ systemId: 'nobody', password: 'rpw1' }, 'an unknown account'],
    [{ password: 'rpw1' }, 'an account password without systemId (the operator\'s login)'],
  ] as const) {
    const r = await call(e, 'POST', '/api/v1/login', { body })
    t.equal(r.status, 401, `${what}: 401`)
    t.equal(r.json.code, 'SMSC_ERR_HTTP_AUTH')
  }
  t.match(await call(e, 'POST', '/api/v1/login', { body: { systemId: 'res1' } }), { status: 400, json: { code: 'SMSC_ERR_API_INVALID' } }, 'password is required')

  // suspension: the login is refused and a token issued before stops working, until resumed
  const u1 = await login(e, { systemId: 'u1', password: 'upw1' })
  t.equal((await call(e, 'POST', '/api/v1/accounts/u1/suspend', { token: res1 })).status, 200, 'the reseller suspends its user')
  t.match(await call(e, 'POST', '/api/v1/login', { body: { systemId: 'u1', password: 'upw1' } }), { status: 403, json: { code: 'SMSC_ERR_ACCOUNT_SUSPENDED' } })
  t.match(await call(e, 'GET', '/api/v1/me', { token: u1 }), { status: 403, json: { code: 'SMSC_ERR_ACCOUNT_SUSPENDED' } }, 'the earlier token is refused')
  t.equal((await call(e, 'POST', '/api/v1/accounts/u1/resume', { token: op })).status, 200)
  t.equal((await call(e, 'GET', '/api/v1/me', { token: u1 })).status, 200, 'and works again once resumed')

  // a password change ends the account's tokens
  const pw = await call(e, 'POST', '/api/v1/accounts/u1/password', { token: op, body: { password: 'newpw1' } })
  t.same({ status: pw.status, json: pw.json }, { status: 200, json: { password: 'newpw1' } })
  t.equal((await call(e, 'GET', '/api/v1/me', { token: u1 })).status, 401, 'the token of the old password is dead')
  t.ok(await login(e, { systemId: 'u1', password: 'newpw1' }), 'the new password logs in')

  // tokens survive a restart, and logout ends one
  await e.restart()
  t.equal((await call(e, 'GET', '/api/v1/me', { token: res1 })).status, 200, 'an account token survives a restart')
  t.equal((await call(e, 'POST', '/api/v1/logout', { token: res1 })).status, 204)
  t.equal((await call(e, 'GET', '/api/v1/me', { token: res1 })).status, 401, 'logout ends it')
})

t.test('the operator manages accounts, credit, API keys and the audit trail', async (t) => {
  const e = await engine(t)
  const op = await login(e, { password: OPERATOR_PW })

  const created = await call(e, 'POST', '/api/v1/accounts', { token: op, body: { systemId: 'shop', prepaid: true, rateLimit: { perSecond: 50, burst: 100 } } })
  t.equal(created.status, 201, JSON.stringify(created.json))
  t.match(created.json.account, { systemId: 'shop', role: 'user', prepaid: true, balance: 0, rateLimit: { perSecond: 50, burst: 100 } })
  t.match(created.json.password, /^.{8}$/, 'a generated 8-character password, shown once')
  t.ok(await login(e, { systemId: 'shop', password: created.json.password }), 'which logs in')
  t.match(await call(e, 'POST', '/api/v1/accounts', { token: op, body: { systemId: 'shop' } }), { status: 400, json: { code: 'SMSC_ERR_API_INVALID' } }, 'a used systemId')
  t.match(await call(e, 'POST', '/api/v1/accounts', { token: op, body: { systemId: 'x', maxBinds: -1 } }), { status: 400, json: { code: 'SMSC_ERR_API_INVALID', error: /maxBinds/ } }, 'a bad setting is named')
  t.match(await call(e, 'POST', '/api/v1/accounts', { token: op, body: '{"systemId":' }), { status: 400, json: { code: 'SMSC_ERR_HTTP_BODY' } }, 'a body that is not JSON')

  const list = await call(e, 'GET', '/api/v1/accounts', { token: op })
  t.same(list.json.accounts.map((a: { systemId: string }) => a.systemId).sort(), ['other', 'res1', 'res2', 'shop', 'u1'])
  t.match((await call(e, 'GET', '/api/v1/accounts/res1', { token: op })).json, { systemId: 'res1', role: 'reseller', balance: 1000, children: 1 })
  t.match(await call(e, 'GET', '/api/v1/accounts/nobody', { token: op }), { status: 404, json: { code: 'SMSC_ERR_AUTH_SYSTEM_ID' } })

  const patched = await call(e, 'PATCH', '/api/v1/accounts/shop', { token: op, body: { dailyQuota: 5000, webhooks: { receipts: 'http://127.0.0.1:9/r', mo: null } } })
  t.equal(patched.status, 200, JSON.stringify(patched.json))
  t.match(patched.json, { dailyQuota: 5000, webhooks: { receipts: 'http://127.0.0.1:9/r', mo: null } })

  // credit: a grant, a move, too much, the ledger
  t.match(await call(e, 'POST', '/api/v1/accounts/shop/credit', { token: op, body: { amount: 300, reason: 'top-up' } }), { status: 200, json: { from: null, to: { systemId: 'shop', delta: 300, balance: 300, reason: 'grant' } } })
  t.match(await call(e, 'POST', '/api/v1/accounts/shop/credit', { token: op, body: { amount: 200, from: 'res1' } }), { status: 200, json: { from: { systemId: 'res1', delta: -200, balance: 800 }, to: { balance: 500 } } })
  t.match(await call(e, 'POST', '/api/v1/accounts/shop/credit', { token: op, body: { amount: 5000, from: 'res1' } }), { status: 409, json: { code: 'SMSC_ERR_CREDIT_EXHAUSTED' } }, 'more than the payer has')
  t.match(await call(e, 'POST', '/api/v1/accounts/shop/credit', { token: op, body: { amount: '5' } }), { status: 400, json: { code: 'SMSC_ERR_API_INVALID', error: /amount/ } })
  const ledger = await call(e, 'GET', '/api/v1/accounts/shop/ledger?limit=10', { token: op })
  t.same(ledger.json.entries.map((x: { delta: number }) => x.delta), [200, 300], 'the ledger, newest first')
  const page2 = await call(e, 'GET', `/api/v1/accounts/shop/ledger?limit=1&before=${ledger.json.entries[0].seq}`, { token: op })
  t.same(page2.json.entries.map((x: { delta: number }) => x.delta), [300], 'paged with before')
  t.match(await call(e, 'GET', '/api/v1/accounts/shop/ledger?limit=x', { token: op }), { status: 400, json: { code: 'SMSC_ERR_API_INVALID', error: /limit/ } })

  // API keys: created once, listed without the key, revoked
  const key = await call(e, 'POST', '/api/v1/accounts/shop/apikeys', { token: op, body: { label: 'backend' } })
  t.equal(key.status, 201)
  t.match(key.json, { id: /^[0-9a-f]{12}$/, key: /^smsc_[\w-]{32}$/ }) // base64url: '-' too
  const keys = await call(e, 'GET', '/api/v1/accounts/shop/apikeys', { token: op })
  t.match(keys.json.keys, [{ id: key.json.id, label: 'backend' }])
  t.notOk(JSON.stringify(keys.json).includes(key.json.key), 'the key itself is never listed')
  t.equal((await call(e, 'GET', '/api/v1/me', { token: key.json.key })).status, 401, 'an API key is not a login for the admin API')
  t.equal((await call(e, 'DELETE', `/api/v1/accounts/shop/apikeys/${key.json.id}`, { token: op })).status, 204)
  t.same((await call(e, 'GET', '/api/v1/accounts/shop/apikeys', { token: op })).json.keys, [])

  // remove, then the audit trail has every change, newest first
  t.equal((await call(e, 'DELETE', '/api/v1/accounts/shop', { token: op })).status, 204)
  t.equal((await call(e, 'GET', '/api/v1/accounts/shop', { token: op })).status, 404)
  const audit = await call(e, 'GET', '/api/v1/audit?limit=100', { token: op })
  const mine = audit.json.entries.filter((x: { target: string }) => x.target === 'shop').map((x: { action: string }) => x.action)
  t.same(mine, ['account.remove', 'apikey.revoke', 'apikey.create', 'credit.transfer', 'credit.transfer', 'account.update', 'account.create'])
  t.ok(audit.json.entries.every((x: { by: string }) => x.by === 'admin'), 'by the operator')
})

t.test('a reseller and a user stay in their scope', async (t) => {
  const e = await engine(t)
  const res1 = await login(e, { systemId: 'res1', password: 'rpw1' })
  const u1 = await login(e, { systemId: 'u1', password: 'upw1' })
  const forbidden = { status: 403, json: { code: 'SMSC_ERR_ADMIN_FORBIDDEN' } }

  t.same((await call(e, 'GET', '/api/v1/accounts', { token: res1 })).json.accounts.map((a: { systemId: string }) => a.systemId).sort(), ['res1', 'u1'], 'the reseller sees itself and its user')
  t.match(await call(e, 'GET', '/api/v1/accounts/other', { token: res1 }), forbidden)
  t.match(await call(e, 'GET', '/api/v1/accounts/res2', { token: res1 }), forbidden, 'not another reseller')
  t.match(await call(e, 'GET', '/api/v1/accounts/nobody', { token: res1 }), forbidden, 'an unknown account looks the same (no probing)')
  const made = await call(e, 'POST', '/api/v1/accounts', { token: res1, body: { systemId: 'u2', credit: 100 } })
  t.equal(made.status, 201, JSON.stringify(made.json))
  t.match(made.json.account, { systemId: 'u2', role: 'user', parent: 'res1', balance: 100 })
  t.match(await call(e, 'POST', '/api/v1/accounts', { token: res1, body: { systemId: 'r3', role: 'reseller' } }), forbidden, 'no resellers')
  t.match(await call(e, 'POST', '/api/v1/accounts/u1/credit', { token: res1, body: { amount: 100 } }), { status: 200, json: { from: { systemId: 'res1', balance: 800 }, to: { systemId: 'u1', balance: 100 } } }, 'credit from itself to its user')
  t.match(await call(e, 'POST', '/api/v1/accounts/u1/credit', { token: res1, body: { amount: 10_000 } }), { status: 409, json: { code: 'SMSC_ERR_CREDIT_EXHAUSTED' } })
  t.match(await call(e, 'POST', '/api/v1/accounts/other/credit', { token: res1, body: { amount: 1 } }), forbidden)
  for (const [method, path] of [['GET', '/api/v1/routes'], ['PUT', '/api/v1/routes'], ['GET', '/api/v1/connectors'], ['POST', '/api/v1/binds/1/unbind']]) {
    t.match(await call(e, method, path, { token: res1, body: method === 'GET' ? undefined : {} }), forbidden, `${method} ${path} is the operator's`)
  }
  const ws = await call(e, 'GET', '/ws/telemetry?topics=engine', { token: res1, headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } })
  t.match(ws, forbidden, 'so are the engine-wide telemetry topics (a reseller\'s stream is scoped: test/e2e/telemetry.test.ts)')

  t.same((await call(e, 'GET', '/api/v1/accounts', { token: u1 })).json.accounts.map((a: { systemId: string }) => a.systemId), ['u1'], 'a user sees itself')
  t.match(await call(e, 'POST', '/api/v1/accounts', { token: u1, body: { systemId: 'u9' } }), forbidden)
  t.match(await call(e, 'PATCH', '/api/v1/accounts/u1', { token: u1, body: { rateLimit: null } }), forbidden, 'not its own limits')
  t.match(await call(e, 'PATCH', '/api/v1/accounts/u1', { token: u1, body: { webhooks: { receipts: 'https://example.com/r', mo: null } } }), { status: 200 }, 'but its webhooks')
  t.equal((await call(e, 'POST', '/api/v1/accounts/u1/apikeys', { token: u1, body: {} })).status, 201, 'and its API keys')
  t.match(await call(e, 'GET', '/api/v1/accounts/u2/ledger', { token: u1 }), forbidden)
  const audit = await call(e, 'GET', '/api/v1/audit', { token: u1 })
  t.ok(audit.json.entries.length > 0 && audit.json.entries.every((x: { target: string }) => x.target === 'u1'), 'the user\'s audit is about itself only')
})

t.test('routes and connectors (operator)', async (t) => {
  const e = await engine(t)
  const op = await login(e, { password: OPERATOR_PW })
  const before = await call(e, 'GET', '/api/v1/routes', { token: op })
  t.equal(before.status, 200)
  t.ok(Array.isArray(before.json.mt) && Array.isArray(before.json.mo))
  const tables = {
    mt: [
      { name: 'blocked', match: { destPrefix: ['999'] }, action: { reject: 0x0b } },
      { name: 'default', match: {}, action: { connector: 'simulator' } },
    ],
    mo: [],
  }
  const put = await call(e, 'PUT', '/api/v1/routes', { token: op, body: tables })
  t.equal(put.status, 200, JSON.stringify(put.json))
  t.match((await call(e, 'GET', '/api/v1/routes', { token: op })).json, tables, 'read back')
  t.match(await call(e, 'PUT', '/api/v1/routes', { token: op, body: { mt: [{ name: 'x', match: {}, action: { connector: 'nowhere' } }], mo: [] } }), { status: 400, json: { code: 'SMSC_ERR_API_INVALID', error: /nowhere/ } }, 'an unknown connector')
  const c = await call(e, 'GET', '/api/v1/connectors', { token: op })
  t.equal(c.status, 200)
  t.match(c.json.connectors, [{ id: 'simulator', up: true }])
})

t.test('the OpenAPI document is open and names every route the server has', async (t) => {
  const e = await engine(t)
  const r = await call(e, 'GET', '/api/v1/openapi.json')
  t.equal(r.status, 200)
  t.equal(r.json.openapi, '3.1.0')
  t.same(r.json, JSON.parse(JSON.stringify(OPENAPI)), 'the document as built')
  const routes: [string, string][] = [
    ['post', '/api/v1/login'], ['post', '/api/v1/logout'], ['get', '/api/v1/me'],
    ['get', '/api/v1/accounts'], ['post', '/api/v1/accounts'], ['get', '/api/v1/accounts/{id}'], ['patch', '/api/v1/accounts/{id}'],
    ['delete', '/api/v1/accounts/{id}'], ['post', '/api/v1/accounts/{id}/suspend'], ['post', '/api/v1/accounts/{id}/resume'],
    ['post', '/api/v1/accounts/{id}/password'], ['post', '/api/v1/accounts/{id}/credit'], ['get', '/api/v1/accounts/{id}/ledger'],
    ['get', '/api/v1/accounts/{id}/apikeys'], ['post', '/api/v1/accounts/{id}/apikeys'], ['delete', '/api/v1/accounts/{id}/apikeys/{keyId}'],
    ['get', '/api/v1/audit'], ['get', '/api/v1/routes'], ['put', '/api/v1/routes'], ['get', '/api/v1/connectors'], ['post', '/api/v1/admin/password'],
    ['get', '/api/v1/admin/users'], ['post', '/api/v1/admin/users'], ['patch', '/api/v1/admin/users/{name}'], ['delete', '/api/v1/admin/users/{name}'],
    ['post', '/api/v1/admin/users/{name}/password'],
    ['post', '/api/v1/binds/{id}/unbind'], ['get', '/api/v1/messages'], ['post', '/api/v1/messages'], ['get', '/api/v1/messages/{id}'],
    ['post', '/api/v1/simulator/mo'], ['get', '/api/v1/openapi.json'], ['get', '/healthz'], ['get', '/metrics'],
  ]
  for (const [method, path] of routes) {
    t.ok(r.json.paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`)
    // and the server has it: an unknown route answers 404 SMSC_ERR_HTTP_NOT_FOUND, a known one anything else
    const probe = await call(e, method.toUpperCase(), path.replace('{id}', 'x').replace('{keyId}', 'y').replace('{name}', 'z'), { body: method === 'get' || method === 'delete' ? undefined : {} })
    t.not(probe.json?.code, 'SMSC_ERR_HTTP_NOT_FOUND', `${method.toUpperCase()} ${path} is served`)
  }
  t.match(await call(e, 'GET', '/api/v1/nothing-here'), { status: 404, json: { code: 'SMSC_ERR_HTTP_NOT_FOUND' } }, 'the probe can tell')
})
