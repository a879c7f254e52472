/**
 * `smsc admin passwd` and POST /api/v1/admin/password: with an engine running, the new admin password
 * goes through its API and is in force at once (operator logins made with the old one end, the CLI's
 * control-file token goes on); with none, the CLI changes the store under the data-dir lock. Only the
 * operator may change it, and not while config admin.password (which takes precedence) is set.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { httpCall, initialCredentials, projectRoot, startEngine, type Engine } from '../helpers/engine'
import { TelemetryClient } from '../helpers/ws'

const ROOT = projectRoot()

function smsc(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'smsc.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

const login = (e: Engine, body: Record<string, string>) => httpCall(e.httpPort, 'POST', '/api/v1/login', { body })
const token = async (e: Engine, body: Record<string, string>): Promise<string> => {
  const r = await login(e, body)
  if (r.status !== 200) throw new Error(`login: ${r.status} ${r.body}`)
  return (r.json as { token: string }).token
}
const me = (e: Engine, tok: string) => httpCall(e.httpPort, 'GET', '/api/v1/me', { token: tok }).then((r) => r.status)
const setPw = (e: Engine, tok: string, body: unknown) => httpCall(e.httpPort, 'POST', '/api/v1/admin/password', { token: tok, body })

const CONFIGURED = 'the admin password is config admin.password, which takes precedence: change it in the config file'

t.test('with an engine running: the new admin password (8 to 128 characters) is in force at once, old operator logins end, the CLI goes on', async (t) => {
  const e = await startEngine(t)
  const d = ['--data-dir', e.dataDir]
  const generated = initialCredentials(e.dataDir).admin ?? ''
  const old = await token(e, { password: generated })
  const stream = await TelemetryClient.open(e.httpPort, `token=${old}`)
  await stream.waitFor((f) => f.type === 'snapshot')

  const r = smsc(['admin', 'passwd', '--password', 'newpassword1', ...d])
  t.equal(r.code, 0, r.err)
  await stream.waitUntil(() => stream.closed, 5000)
  t.equal(stream.closeCode, 4001, 'a telemetry stream opened with an old token is closed too')
  t.equal(r.out, 'console admin password changed\nin force now: operator logins made with the old password have ended\n')
  t.equal((await login(e, { password: 'newpassword1' })).status, 200, 'the new password logs in without a restart')
  t.equal((await login(e, { password: generated })).status, 401, 'the old one does not')
  t.equal(await me(e, old), 401, 'a token of the old password has ended')
  const control = JSON.parse(readFileSync(path.join(e.dataDir, 'control.json'), 'utf8')) as { token: string }
  t.equal(await me(e, control.token), 200, 'the control file\'s token (no password) goes on')
  t.equal(smsc(['account', 'list', ...d]).code, 0, 'so the CLI still works with the engine')

  const audit = smsc(['audit', '--json', ...d])
  t.match(JSON.parse(audit.out), [{ by: 'admin', action: 'admin.password', target: 'admin' }], 'audited')
  t.notMatch(audit.out, /newpassword1/, 'without the password')

  // Through the API, by the operator: a generated password, and the caller's own token ends too.
  const current = await token(e, { password: 'newpassword1' })
  t.match(await setPw(e, current, { password: 'short' }), { status: 400, json: { code: 'SMSC_ERR_API_INVALID', error: 'password must be 8 to 128 characters' } })
  t.match(await setPw(e, current, { password: 'x'.repeat(129) }), { status: 400, json: { code: 'SMSC_ERR_API_INVALID' } })
  t.equal(await me(e, current), 200, 'a refused change ends nothing')
  const gen = await setPw(e, current, {})
  t.equal(gen.status, 200, 'generated')
  const fresh = (gen.json as { password: string }).password
  t.match(fresh, /^[A-Za-z0-9]{12}$/)
  t.equal(await me(e, current), 401, 'the caller logs in again, as after any password change')
  const kept = await token(e, { password: fresh })

  // A logout ends the telemetry streams opened with that token, at once.
  const leaving = await token(e, { password: fresh })
  const stream2 = await TelemetryClient.open(e.httpPort, `token=${leaving}`)
  await stream2.waitFor((f) => f.type === 'snapshot')
  t.equal((await httpCall(e.httpPort, 'POST', '/api/v1/logout', { token: leaving })).status, 204)
  await stream2.waitUntil(() => stream2.closed, 5000)
  t.equal(stream2.closeCode, 4001, 'the stream of a logged-out token is closed')

  // Restart: the change was stored, and a token of the new password survives.
  await e.restart()
  t.equal(await me(e, kept), 200)
  t.equal((await login(e, { password: fresh })).status, 200)
  t.equal((await login(e, { password: 'newpassword1' })).status, 401)
  t.notMatch(e.output().split('--- spawn:').pop() ?? '', /Console admin password created/, 'nothing new was generated')
})

t.test('with no engine: the CLI changes the password under the data-dir lock', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smsc-passwd-'))
  const d = ['--data-dir', dir]
  const first = smsc(['admin', 'passwd', '--password', 'offline-pass1', ...d])
  t.equal(first.code, 0, first.err)
  t.equal(first.out, 'console admin password changed\n')
  t.notOk(existsSync(path.join(dir, 'smsc.lock')), 'the lock is released')

  // A live process holds the lock and there is no control file (an engine starting): refused, nothing written.
  const lock = path.join(dir, 'smsc.lock')
  writeFileSync(lock, String(process.pid))
  const locked = smsc(['admin', 'passwd', '--password', 'offline-pass2', ...d])
  t.equal(locked.code, 2, locked.out)
  t.match(locked.err, new RegExp(`^smsc: an engine is running on ${dir} \\(pid ${process.pid}\\) but its control file cannot be used: .*control\\.json is missing`))
  unlinkSync(lock)

  const e = await startEngine(t, { dataDir: dir })
  t.teardown(() => rmSync(dir, { recursive: true, force: true })) // after the engine's own teardown stops it
  t.equal((await login(e, { password: 'offline-pass1' })).status, 200, 'the engine starts with the password set offline')
  t.equal((await login(e, { password: 'offline-pass2' })).status, 401, 'not the one refused under the lock')
  t.notMatch(e.output(), /Console admin password created/)
})

t.test('only the operator may change it, and not while config admin.password is set', async (t) => {
  const e = await startEngine(t, { accounts: [{ systemId: 'u1', password: 'upw1' }], extra: { admin: { password: 'cfg-admin-pass' } } })
  const d = ['--config', e.configPath]
  t.match(await setPw(e, '', { password: 'newpassword1' }), { status: 401, json: { code: 'SMSC_ERR_HTTP_AUTH' } })
  const user = await token(e, { systemId: 'u1', password: 'upw1' })
  t.match(await setPw(e, user, { password: 'newpassword1' }), { status: 403, json: { code: 'SMSC_ERR_ADMIN_FORBIDDEN' } }, 'an account may not')
  const op = await token(e, { password: 'cfg-admin-pass' })
  t.match(await setPw(e, op, { password: 'newpassword1', x: 1 }), { status: 400, json: { code: 'SMSC_ERR_API_INVALID', error: 'x is not a known field' } })
  t.match(await setPw(e, op, { password: 'newpassword1' }), { status: 400, json: { code: 'SMSC_ERR_API_INVALID', error: CONFIGURED } }, 'the config password is in force')
  t.equal(await me(e, op), 200, 'and nothing ended')

  const live = smsc(['admin', 'passwd', '--password', 'newpassword1', ...d])
  t.equal(live.code, 2)
  t.equal(live.err, `smsc: ${CONFIGURED}\n`)
  t.equal(await e.stop(), 0)
  const offline = smsc(['admin', 'passwd', ...d])
  t.equal(offline.code, 2)
  t.equal(offline.err, `smsc: ${CONFIGURED}\n`)
  await e.restart()
  t.equal((await login(e, { password: 'cfg-admin-pass' })).status, 200)
})
