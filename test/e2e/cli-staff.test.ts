/**
 * `smsc admin user add|list|role|passwd|remove` (staff logins): offline on a data dir (an engine started on it
 * afterwards lets those users log in), and against a running engine, where the commands go through its admin
 * API (the control file) and a change ends the user's logins at once. Errors are one line, exit 2.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { projectRoot, startEngine } from '../helpers/engine'
import { api } from '../helpers/ws'

const ROOT = projectRoot()

function smsc(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'smsc.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

async function loginStatus(port: number, user: string, password: string): Promise<{ status: number; token?: string }> {
  const r = await api(port, 'POST', '/api/v1/login', { body: { user, password } })
  return { status: r.status, token: (r.json as { token?: string } | undefined)?.token }
}

/** The engine writes control.json once its listeners are up (a little after /healthz answers): polled, with a deadline. */
async function controlFile(dataDir: string): Promise<void> {
  const file = path.join(dataDir, 'control.json')
  const deadline = Date.now() + 20_000
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} did not appear`)
    await new Promise((r) => setTimeout(r, 25))
  }
  JSON.parse(readFileSync(file, 'utf8'))
}

t.test('offline: staff users are managed on the data dir; an engine started there lets them log in', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smsc-cli-staff-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const d = ['--data-dir', dir]
  const add = smsc(['admin', 'user', 'add', 'noc1', '--role', 'viewer', ...d])
  t.equal(add.code, 0, add.err)
  const m = /^added viewer noc1 with password (\S{12}) \(shown only this once\)\n$/.exec(add.out)
  t.ok(m, `a generated password is printed once: ${add.out}`)
  const nocPw = m?.[1] as string
  t.equal(smsc(['admin', 'user', 'add', 'alice', '--role', 'admin', '--password', 'alice-password', ...d]).out, 'added admin alice\n')
  t.equal(smsc(['admin', 'user', 'add', 'bob', '--role', 'viewer', '--password', 'bob-password', ...d]).code, 0)
  t.equal(smsc(['admin', 'user', 'role', 'bob', 'admin', ...d]).out, 'bob is now admin\n')
  const list = JSON.parse(smsc(['admin', 'user', 'list', '--json', ...d]).out) as { name: string; role: string }[]
  t.same(list.map((u) => [u.name, u.role]), [['alice', 'admin'], ['bob', 'admin'], ['noc1', 'viewer']])
  t.match(smsc(['admin', 'user', 'list', ...d]).out, /^user +role +changed\nalice +admin +\d{4}-/)
  t.equal(smsc(['admin', 'user', 'remove', 'bob', ...d]).out, 'removed bob\n')

  // one-line errors, exit 2
  for (const [args, re] of [
    [['admin', 'user', 'add', 'admin', '--role', 'viewer'], /^smsc: user "admin" is reserved for the built-in operator login\n$/],
    [['admin', 'user', 'add', 'x y', '--role', 'viewer'], /^smsc: user must be 1 to 32 letters/],
    [['admin', 'user', 'add', 'carl'], /^smsc: admin user add needs --role admin or --role viewer\n$/],
    [['admin', 'user', 'add', 'carl', '--role', 'root'], /^smsc: role must be "admin" or "viewer" \(got "root"\)\n$/],
    [['admin', 'user', 'add', 'carl', '--role', 'viewer', '--password', 'short'], /^smsc: --password must be 8 to 128 characters\n$/],
    [['admin', 'user', 'add', 'alice', '--role', 'viewer'], /^smsc: staff user alice exists already\n$/],
    [['admin', 'user', 'remove', 'bob'], /^smsc: no staff user bob\n$/],
    [['admin', 'user', 'frob'], /^smsc: admin user needs one of add, list, remove, passwd, role/],
  ] as [string[], RegExp][]) {
    const r = smsc([...args, ...d])
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`)
    t.match(r.err, re, args.join(' '))
  }
  t.match(smsc(['admin', '--help']).out, /smsc admin user add <name> --role admin\|viewer/, 'the help names the commands')
  const audit = JSON.parse(smsc(['audit', '--json', ...d]).out) as { action: string; target: string; by: string }[]
  t.same(audit.filter((e) => e.action.startsWith('staff.')).map((e) => [e.action, e.target, e.by]).reverse(),
    [['staff.add', 'noc1', 'admin'], ['staff.add', 'alice', 'admin'], ['staff.add', 'bob', 'admin'], ['staff.update', 'bob', 'admin'], ['staff.remove', 'bob', 'admin']])

  const engine = await startEngine(t, { dataDir: dir, extra: { admin: { password: 'operator-secret' }, log: { level: 'warn' } } })
  t.equal((await loginStatus(engine.httpPort, 'noc1', nocPw)).status, 200, 'the generated password logs in')
  const alice = await loginStatus(engine.httpPort, 'alice', 'alice-password')
  t.equal(alice.status, 200)
  t.match((await api(engine.httpPort, 'GET', '/api/v1/me', { token: alice.token })).json, { name: 'alice', staff: 'admin' })
  t.equal((await loginStatus(engine.httpPort, 'bob', 'bob-password')).status, 401, 'a removed user does not')
})

t.test('online: the commands go through the running engine; a change ends the user\'s logins at once', async (t) => {
  const engine = await startEngine(t, { extra: { admin: { password: 'operator-secret' }, log: { level: 'warn' } } })
  await controlFile(engine.dataDir)
  const d = ['--data-dir', engine.dataDir]
  const add = smsc(['admin', 'user', 'add', 'noc1', '--role', 'viewer', '--password', 'noc1-password', ...d])
  t.equal(add.code, 0, add.err)
  const noc = await loginStatus(engine.httpPort, 'noc1', 'noc1-password')
  t.equal(noc.status, 200, 'logs in at once')
  t.match((await api(engine.httpPort, 'GET', '/api/v1/me', { token: noc.token })).json, { name: 'noc1', staff: 'viewer' })
  t.match(await api(engine.httpPort, 'POST', '/api/v1/accounts', { token: noc.token, body: { systemId: 'x' } }), { status: 403, json: { code: 'SMSC_ERR_ADMIN_READ_ONLY' } })

  const pw = smsc(['admin', 'user', 'passwd', 'noc1', ...d])
  t.equal(pw.code, 0, pw.err)
  const m = /^new password for noc1: (\S{12})\nin force now: noc1's logins made before have ended\n$/.exec(pw.out)
  t.ok(m, pw.out)
  t.equal((await api(engine.httpPort, 'GET', '/api/v1/me', { token: noc.token })).status, 401, 'the old login ended')
  const noc2 = await loginStatus(engine.httpPort, 'noc1', m?.[1] as string)
  t.equal(noc2.status, 200, 'the new password logs in')

  t.equal(smsc(['admin', 'user', 'role', 'noc1', 'admin', ...d]).code, 0)
  t.equal((await api(engine.httpPort, 'GET', '/api/v1/me', { token: noc2.token })).status, 401, 'a role change ends the login')
  const noc3 = await loginStatus(engine.httpPort, 'noc1', m?.[1] as string)
  t.match((await api(engine.httpPort, 'GET', '/api/v1/me', { token: noc3.token })).json, { staff: 'admin' })
  t.same(JSON.parse(smsc(['admin', 'user', 'list', '--json', ...d]).out).map((u: { name: string; role: string }) => [u.name, u.role]), [['noc1', 'admin']])

  const rm = smsc(['admin', 'user', 'remove', 'noc1', ...d])
  t.equal(rm.out, 'removed noc1\n', rm.err)
  t.equal((await api(engine.httpPort, 'GET', '/api/v1/me', { token: noc3.token })).status, 401, 'removal ends the login')
  const again = smsc(['admin', 'user', 'remove', 'noc1', ...d])
  t.equal(again.code, 2)
  t.equal(again.err, 'smsc: no staff user noc1\n')
})
