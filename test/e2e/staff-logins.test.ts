/**
 * Staff logins end to end (docs/ACCOUNTS.md "Staff logins", docs/API.md): the operator adds a viewer and a
 * staff admin over the API; the viewer reads everything the operator can (GETs, the telemetry stream) and is
 * refused, 403 SMSC_ERR_ADMIN_READ_ONLY, on every route of the server's own route table that is not a GET
 * (walked from the engine's table, so a route added later is covered without touching this test); the staff
 * admin changes things and the audit names it; removing a user, setting its password or changing its role
 * ends its logins (its stream too); the login throttle counts a staff user's failures by name; the built-in
 * operator's login is as it was.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createSmsc } from '../../engine/index'
import { startEngine, type AccountConfig, type Engine } from '../helpers/engine'
import { api, TelemetryClient } from '../helpers/ws'

const OPERATOR_PW = 'operator-secret'

async function login(port: number, body: Record<string, string>): Promise<string> {
  const r = await api(port, 'POST', '/api/v1/login', { body })
  if (r.status !== 200) throw new Error(`login ${JSON.stringify(body.user ?? body.systemId ?? 'operator')}: ${r.status} ${r.body}`)
  return (r.json as { token: string }).token
}

async function addStaff(port: number, token: string, user: string, role: string, password: string): Promise<void> {
  const r = await api(port, 'POST', '/api/v1/admin/users', { token, body: { user, role, password } })
  if (r.status !== 201) throw new Error(`add ${user}: ${r.status} ${r.body}`)
}

t.test('viewer reads, staff admin changes and is audited, logins end with their user', async (t) => {
  const e: Engine = await startEngine(t, {
    accounts: [{ systemId: 'esme1', password: 'secret1', prepaid: true, credit: 10 }] as unknown as AccountConfig[],
    extra: { admin: { password: OPERATOR_PW }, log: { level: 'warn' } },
  })
  const port = e.httpPort
  const op = await login(port, { password: OPERATOR_PW })

  // the built-in operator's login is as it was: a password only, principal 'admin' with no staff role
  t.same((await api(port, 'GET', '/api/v1/me', { token: op })).json, { role: 'operator', systemId: null, name: 'admin' })

  const created = await api(port, 'POST', '/api/v1/admin/users', { token: op, body: { user: 'nina', role: 'viewer' } })
  t.equal(created.status, 201)
  const ninaPw = (created.json as { password: string }).password
  t.match(created.json, { user: { name: 'nina', role: 'viewer' }, password: /^[A-Za-z0-9]{12}$/ }, 'a generated password, returned once')
  await addStaff(port, op, 'sam', 'admin', 'sam-password')
  t.match((await api(port, 'GET', '/api/v1/admin/users', { token: op })).json, { users: [{ name: 'nina', role: 'viewer' }, { name: 'sam', role: 'admin' }] })
  t.notMatch((await api(port, 'GET', '/api/v1/admin/users', { token: op })).body, /scrypt|passwordHash/, 'no hash in the list')

  const nina = await login(port, { user: 'nina', password: ninaPw })
  const sam = await login(port, { user: 'sam', password: 'sam-password' })
  t.same((await api(port, 'GET', '/api/v1/me', { token: nina })).json, { role: 'operator', systemId: null, name: 'nina', staff: 'viewer' })
  t.same((await api(port, 'GET', '/api/v1/me', { token: sam })).json, { role: 'operator', systemId: null, name: 'sam', staff: 'admin' })
  t.match(await api(port, 'POST', '/api/v1/login', { body: { user: 'nina', systemId: 'esme1', password: ninaPw } }), { status: 400, json: { code: 'SMSC_ERR_API_INVALID' } }, 'user and systemId together')
  t.match(await api(port, 'POST', '/api/v1/login', { body: { systemId: 'nina', password: ninaPw } }), { status: 401 }, 'a staff name is not a systemId')
  t.match(await api(port, 'POST', '/api/v1/login', { body: { password: ninaPw } }), { status: 401 }, 'a staff password is not the operator\'s')

  // the viewer reads what the operator reads
  for (const p of ['/api/v1/me', '/api/v1/accounts', '/api/v1/accounts/esme1', '/api/v1/accounts/esme1/ledger', '/api/v1/accounts/esme1/apikeys',
    '/api/v1/audit', '/api/v1/routes', '/api/v1/connectors', '/api/v1/admin/users', '/api/v1/backup', '/api/v1/messages?to=123']) {
    const r = await api(port, 'GET', p, { token: nina })
    t.equal(r.status, 200, `viewer GET ${p}: ${r.body.slice(0, 200)}`)
  }
  // and the operator's whole stream (engine-wide topics included)
  const stream = await TelemetryClient.open(port, `format=json&token=${encodeURIComponent(nina)}`)
  t.teardown(() => stream.close())
  const snap = await stream.waitFor((f) => f.type === 'snapshot', 10_000)
  t.ok(snap.frame.engine, 'the viewer gets the engine-wide topics')

  // a few refusals here (every route is walked in the next test); nothing happened
  const audited = (await api(port, 'GET', '/api/v1/audit', { token: op })).json as { entries: unknown[] }
  for (const [method, p, body] of [['POST', '/api/v1/accounts', { systemId: 'x1' }], ['POST', '/api/v1/accounts/esme1/credit', { amount: 5 }],
    ['PUT', '/api/v1/routes', { mt: [], mo: [] }], ['DELETE', '/api/v1/admin/users/sam', undefined], ['POST', '/api/v1/messages', { systemId: 'esme1', from: '1', to: '2', text: 'x' }]] as const) {
    t.match(await api(port, method, p, { token: nina, body }), { status: 403, json: { code: 'SMSC_ERR_ADMIN_READ_ONLY', error: /nina is a viewer/ } }, `viewer ${method} ${p}`)
  }
  t.same(((await api(port, 'GET', '/api/v1/audit', { token: op })).json as { entries: unknown[] }).entries, audited.entries, 'no change was made')
  t.equal((await api(port, 'GET', '/api/v1/accounts/x1', { token: op })).status, 404)

  // the staff admin changes things; the audit names it
  t.equal((await api(port, 'POST', '/api/v1/accounts', { token: sam, body: { systemId: 'acc2', password: 'pw2' } })).status, 201)
  t.equal((await api(port, 'POST', '/api/v1/accounts/esme1/credit', { token: sam, body: { amount: 5 } })).status, 200)
  await addStaff(port, sam, 'vic', 'viewer', 'vic-password')
  const entries = ((await api(port, 'GET', '/api/v1/audit?limit=3', { token: nina })).json as { entries: { action: string; target: string; by: string }[] }).entries
  t.match(entries.map((x) => [x.action, x.target, x.by]), [['staff.add', 'vic', 'staff:sam'], ['credit.transfer', 'esme1', 'staff:sam'], ['account.create', 'acc2', 'staff:sam']])
  const first = ((await api(port, 'GET', '/api/v1/audit', { token: op })).json as { entries: { action: string; target: string; by: string }[] }).entries
    .find((x) => x.action === 'staff.add' && x.target === 'nina')
  t.equal(first?.by, 'admin', 'the built-in operator stays admin')

  // a password change ends the user's logins, its stream at once
  const vic = await login(port, { user: 'vic', password: 'vic-password' })
  const samOld = sam
  const pw = await api(port, 'POST', '/api/v1/admin/users/sam/password', { token: op, body: {} })
  t.equal(pw.status, 200)
  t.equal((await api(port, 'GET', '/api/v1/me', { token: samOld })).status, 401, 'sam\'s token ended with its password')
  const sam2 = await login(port, { user: 'sam', password: (pw.json as { password: string }).password })
  t.equal((await api(port, 'GET', '/api/v1/me', { token: sam2 })).status, 200, 'the new password works')
  // a role change ends them
  t.match(await api(port, 'PATCH', '/api/v1/admin/users/vic', { token: sam2, body: { role: 'admin' } }), { status: 200, json: { name: 'vic', role: 'admin' } })
  t.equal((await api(port, 'GET', '/api/v1/me', { token: vic })).status, 401, 'vic\'s token ended with its role')
  // removal ends them, and the viewer's stream is closed
  t.equal((await api(port, 'DELETE', '/api/v1/admin/users/nina', { token: sam2 })).status, 204)
  t.equal((await api(port, 'GET', '/api/v1/me', { token: nina })).status, 401, 'nina\'s token ended with the user')
  await stream.waitUntil(() => stream.closed, 10_000).catch(() => undefined)
  t.ok(stream.closed, 'the removed viewer\'s stream is closed')
  t.equal(stream.closeCode, 4001)
  t.match(await api(port, 'DELETE', '/api/v1/admin/users/nina', { token: sam2 }), { status: 404, json: { code: 'SMSC_ERR_STAFF_NOT_FOUND' } })
  t.match(await api(port, 'POST', '/api/v1/admin/users', { token: op, body: { user: 'admin', role: 'viewer' } }), { status: 400, json: { error: /reserved/ } })
  t.equal((await api(port, 'GET', '/api/v1/me', { token: op })).status, 200, 'the operator\'s own login went on all along')
})

t.test('the login throttle counts a staff user\'s failures by name; the operator and other users are not held', async (t) => {
  const e = await startEngine(t, { extra: { admin: { password: OPERATOR_PW }, log: { level: 'warn' } } })
  const port = e.httpPort
  const op = await login(port, { password: OPERATOR_PW })
  await addStaff(port, op, 'sam', 'admin', 'sam-password')
  await addStaff(port, op, 'nina', 'viewer', 'nina-password')
  for (let i = 0; i < 10; i++) {
    t.equal((await api(port, 'POST', '/api/v1/login', { body: { user: 'sam', password: `guess-${i}` } })).status, 401, `guess ${i}`)
  }
  const held = await api(port, 'POST', '/api/v1/login', { body: { user: 'sam', password: 'sam-password' } })
  t.match(held, { status: 429, json: { code: 'SMSC_ERR_RATE_LIMITED', error: /as sam/ } }, 'the right password is held too')
  t.equal((await api(port, 'POST', '/api/v1/login', { body: { user: 'nina', password: 'nina-password' } })).status, 200, 'another staff user is not')
  t.equal((await api(port, 'POST', '/api/v1/login', { body: { password: OPERATOR_PW } })).status, 200, 'the operator is not')
  // nor an unknown name: its count is its own (and unknown names fail as wrong passwords do)
  t.equal((await api(port, 'POST', '/api/v1/login', { body: { user: 'nobody', password: 'x' } })).status, 401)
})

t.test('every route of the server\'s table but GET (and login/logout) refuses a viewer; nothing changes', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-staff-'))
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const smsc = await createSmsc({
    dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'a', password: 'pw', prepaid: true, credit: 5 }], admin: { password: OPERATOR_PW }, log: { level: 'silent' },
  })
  t.teardown(() => smsc.stop())
  const port = smsc.ports.http
  const op = await login(port, { password: OPERATOR_PW })
  await addStaff(port, op, 'nina', 'viewer', 'nina-password')
  const nina = await login(port, { user: 'nina', password: 'nina-password' })
  const key = (await api(port, 'POST', '/api/v1/accounts/a/apikeys', { token: op, body: {} })).json as { id: string }
  const before = {
    audit: (await api(port, 'GET', '/api/v1/audit', { token: op })).body,
    accounts: (await api(port, 'GET', '/api/v1/accounts', { token: op })).body,
    staff: (await api(port, 'GET', '/api/v1/admin/users', { token: op })).body,
  }

  const routes = smsc.httpRoutes()
  const mutating = routes.filter((r) => r.method !== 'GET' && r.method !== 'HEAD' && r.pattern !== '/api/v1/login' && r.pattern !== '/api/v1/logout')
  // the table is the server's: it holds the routes every kind of change goes through
  for (const must of ['POST /api/v1/accounts', 'PATCH /api/v1/accounts/:id', 'DELETE /api/v1/accounts/:id', 'POST /api/v1/accounts/:id/credit',
    'PUT /api/v1/routes', 'POST /api/v1/admin/password', 'POST /api/v1/admin/users', 'POST /api/v1/messages', 'POST /api/v1/simulator/mo',
    'POST /api/v1/backup', 'POST /api/v1/accounts/:id/webhook-secret', 'DELETE /api/v1/accounts/:id/apikeys/:keyId']) {
    t.ok(mutating.some((r) => `${r.method} ${r.pattern}` === must), `${must} is in the table`)
  }
  t.ok(routes.some((r) => r.method === 'GET' && r.pattern === '/api/v1/accounts'), 'GETs are in the table too')
  // Real parameters: without the guard these would remove the account, the key and the viewer itself.
  const pathOf = (pattern: string) => pattern.replace(':id', 'a').replace(':keyId', key.id).replace(':name', 'nina')
  for (const r of mutating) {
    const body = r.method === 'DELETE' ? undefined : r.pattern === '/api/v1/accounts/:id/credit' ? { amount: 1 } : {}
    const res = await api(port, r.method, pathOf(r.pattern), { token: nina, body })
    t.match(res, { status: 403, json: { code: 'SMSC_ERR_ADMIN_READ_ONLY' } }, `viewer ${r.method} ${r.pattern}`)
    // the cookie the console sends is the same login
    const viaCookie = await api(port, r.method, pathOf(r.pattern), { cookie: `smsc_session=${nina}`, body })
    t.equal(viaCookie.status, 403, `viewer (cookie) ${r.method} ${r.pattern}`)
  }
  t.same({
    audit: (await api(port, 'GET', '/api/v1/audit', { token: op })).body,
    accounts: (await api(port, 'GET', '/api/v1/accounts', { token: op })).body,
    staff: (await api(port, 'GET', '/api/v1/admin/users', { token: op })).body,
  }, before, 'nothing changed')
  // and the refusal is the viewer's alone: the operator's same request goes through
  t.equal((await api(port, 'POST', '/api/v1/accounts/a/credit', { token: op, body: { amount: 1 } })).status, 200)
  t.equal((await api(port, 'POST', '/api/v1/logout', { token: nina })).status, 204, 'a viewer may log out')
})
