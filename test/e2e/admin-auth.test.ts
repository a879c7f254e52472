/**
 * Console logins survive an engine restart (only the token's SHA-256 is stored) and end when the
 * admin password changes.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createSmsc, type Smsc } from '../../engine/index'
import { TelemetryClient, api } from '../helpers/ws'

const start = (dataDir: string, password: string) => createSmsc({
  dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
  accounts: [{ systemId: 'a', password: 'pw' }], admin: { password }, log: { level: 'silent' },
})

/** An engine in this process on a fresh data dir (operator password first-password), stopped and removed at the test's end. */
async function running(t: Test): Promise<Smsc> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-auth-'))
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const smsc = await start(dataDir, 'first-password')
  t.teardown(() => smsc.stop())
  return smsc
}

t.test('a console token survives a restart and dies with a password change', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-auth-'))
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  let smsc = await start(dataDir, 'first-password')
  const login = await api(smsc.ports.http, 'POST', '/api/v1/login', { body: { password: 'first-password' } })
  t.equal(login.status, 200)
  const token = (login.json as { token: string }).token
  t.equal((await api(smsc.ports.http, 'GET', '/api/v1/me', { token })).status, 200, 'valid before the restart')
  await new Promise((r) => setTimeout(r, 100)) // the token write is asynchronous
  await smsc.stop()

  smsc = await start(dataDir, 'first-password')
  t.equal((await api(smsc.ports.http, 'GET', '/api/v1/me', { token })).status, 200, 'still valid after the restart')
  t.equal((await api(smsc.ports.http, 'GET', '/api/v1/me', { token: token + 'x' })).status, 401, 'a different token is not')
  await smsc.stop()

  smsc = await start(dataDir, 'second-password')
  t.equal((await api(smsc.ports.http, 'GET', '/api/v1/me', { token })).status, 401, 'invalid once the admin password changed')
  await smsc.stop()
})

t.test('a token that does not percent-decode is no token: 401, logout answers, and the engine goes on', async (t) => {
  const port = (await running(t)).ports.http
  const bad = 'smsc_session=%E0%A4%A'
  // Before: decodeURIComponent threw inside a uWS handler, which ends the process (every SMPP session with it).
  t.equal((await api(port, 'POST', '/api/v1/logout', { cookie: bad })).status, 204, 'logout (no login needed) answers')
  t.equal((await api(port, 'GET', '/api/v1/me', { cookie: bad })).status, 401, 'a guarded read: 401')
  t.equal((await api(port, 'PUT', '/api/v1/routes', { cookie: bad, body: { mt: [], mo: [] } })).status, 401, 'a guarded change: 401')
  t.equal((await api(port, 'GET', '/api/v1/accounts?token=%E0')).status, 401, 'in the query string: 401')
  const login = await api(port, 'POST', '/api/v1/login', { body: { password: 'first-password' } })
  t.equal(login.status, 200, 'and the engine still serves')
})

t.test('names no store key can hold (a path, a topic, a login) are no such thing: 4xx, and the engine goes on', async (t) => {
  const port = (await running(t)).ports.http
  const op = ((await api(port, 'POST', '/api/v1/login', { body: { password: 'first-password' } })).json as { token: string }).token
  t.equal((await api(port, 'POST', '/api/v1/accounts', { token: op, body: { systemId: 'res1', role: 'reseller', password: 'rpw' } })).status, 201)
  const res1 = ((await api(port, 'POST', '/api/v1/login', { body: { systemId: 'res1', password: 'rpw' } })).json as { token: string }).token
  const long = 'a'.repeat(9000)
  // Before: LMDB threw on the key inside the WebSocket upgrade, outside any catch: uWS ended the process.
  const ws = await TelemetryClient.open(port, `topics=events:${long}`, { authorization: `Bearer ${res1}` }).then(() => 0, (e: { status?: number }) => e.status ?? -1)
  t.equal(ws, 403, 'a reseller\'s stream of an account name too long for a key: 403 (not visible)')
  t.equal((await api(port, 'GET', `/api/v1/accounts/${long}`, { token: op })).status, 404, 'an account path: 404')
  t.equal((await api(port, 'GET', `/api/v1/messages/${'9'.repeat(5000)}`, { token: op })).status, 404, 'a message path: 404')
  t.equal((await api(port, 'POST', '/api/v1/login', { body: { systemId: long, password: 'x' } })).status, 401, 'a login: 401')
  t.equal((await api(port, 'GET', '/healthz')).status, 200, 'and the engine still serves')
})
