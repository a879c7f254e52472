/**
 * Starting the real CLI (`smsc start`) as a child process: what goes wrong at start is one line on
 * stderr and exit code 2, with nothing left behind (one engine per data dir, one per port, unreadable
 * TLS files); the console admin password is generated and shown once, kept in the data dir, and
 * changed with `smsc admin passwd` (docs/TELEMETRY.md, Access).
 */
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { request as httpsRequest } from 'node:https'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { X509Certificate } from 'node:crypto'
import { devTlsCert } from '../../engine/transport/listener'
import { createSmsc } from '../../engine/index'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePorts, httpRequest, initialCredentials, portFree, projectRoot, startEngine } from '../helpers/engine'
import { startUpstream } from '../helpers/upstream'

const BIN = process.env.SMSC_BIN ?? path.join(projectRoot(), 'bin', 'smsc.js')

interface CliResult {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  timedOut: boolean
}

/** Runs the CLI to its end; a process still alive after timeoutMs is killed and reported as timedOut. */
function cli(args: string[], timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: projectRoot(), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'test' } })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')))
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
    const timer = setTimeout(() => { timedOut = true; p.kill('SIGKILL') }, timeoutMs)
    p.on('exit', (code, signal) => {
      clearTimeout(timer)
      // the pipes may still hold the last line
      setImmediate(() => resolve({ code, signal, stdout, stderr, timedOut }))
    })
  })
}

/** A config file in a fresh temp dir (removed in teardown). */
function writeConfig(t: Test, config: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-startup-cfg-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'smsc.json')
  fs.writeFileSync(file, JSON.stringify(config, null, 2))
  return file
}

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-startup-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

const ACCOUNTS = [{ systemId: 'esme1', password: 'secret1' }]
const login = (port: number, password: string) => httpRequest(port, 'POST', '/api/v1/login', { password })

t.test('one engine per data dir and per port', async (t) => {
  const first = await startEngine(t)
  const pid = Number(fs.readFileSync(path.join(first.dataDir, 'smsc.lock'), 'utf8'))
  t.ok(pid > 0, `the data dir is locked by pid ${pid}`)

  t.test('a second start on the same data dir', async (t) => {
    const [smpp, http] = await freePorts(2)
    const config = writeConfig(t, { dataDir: first.dataDir, smpp: { host: '127.0.0.1', port: smpp }, http: { host: '127.0.0.1', port: http }, accounts: ACCOUNTS })
    const r = await cli(['start', '--config', config])
    t.notOk(r.timedOut, 'exits by itself')
    t.equal(r.code, 2, 'exit code 2')
    t.equal(r.stderr, `smsc: data dir ${path.resolve(first.dataDir)} is in use by another smsc (pid ${pid})\n`, 'one line naming the data dir and the owner')
    t.equal(r.stdout, '', 'no banner')
    t.ok(await portFree(http), 'it did not keep the HTTP port it would have used')
    t.ok(first.running, 'the first engine keeps running')
    t.equal((await first.http('GET', '/healthz')).status, 200, 'and answering')
    t.equal(Number(fs.readFileSync(path.join(first.dataDir, 'smsc.lock'), 'utf8')), pid, 'and keeps its lock')
  })

  t.test('a second engine on the same HTTP port', async (t) => {
    const dataDir = tempDir(t)
    const [smpp] = await freePorts(1)
    const config = writeConfig(t, { dataDir, smpp: { host: '127.0.0.1', port: smpp }, http: { host: '127.0.0.1', port: first.httpPort }, accounts: ACCOUNTS })
    const r = await cli(['start', '--config', config])
    t.notOk(r.timedOut, 'exits by itself')
    t.equal(r.code, 2, 'exit code 2')
    const lines = r.stderr.split('\n').filter(Boolean)
    t.equal(lines.length, 1, `one line: ${JSON.stringify(r.stderr)}`)
    t.match(lines[0], /^smsc: .*HTTP.*/, 'naming HTTP')
    t.match(lines[0], `127.0.0.1:${first.httpPort}`, 'and the address and port')
    t.notOk(fs.existsSync(path.join(dataDir, 'smsc.lock')), 'its data dir is unlocked again')
    t.ok(await portFree(smpp), 'it holds no SMPP port')
    t.equal((await first.http('GET', '/healthz')).status, 200, 'the first engine still answers on that port')
  })
})

t.test('an unreadable tls.cert fails the start with one line and leaves nothing behind', async (t) => {
  const dataDir = tempDir(t)
  const missing = path.join(dataDir, 'no-such-cert.pem')
  const [smpp, tls, http] = await freePorts(3)
  const config = writeConfig(t, {
    dataDir, accounts: ACCOUNTS,
    smpp: { host: '127.0.0.1', port: smpp }, http: { host: '127.0.0.1', port: http },
    tls: { host: '127.0.0.1', port: tls, cert: missing, key: path.join(dataDir, 'no-such-key.pem') },
  })
  const r = await cli(['start', '--config', config], 20_000)
  t.notOk(r.timedOut, 'the process exits by itself: no listener, timer or store left open')
  t.equal(r.code, 2, 'exit code 2')
  t.equal(r.stderr.split('\n').filter(Boolean).length, 1, `one line: ${JSON.stringify(r.stderr)}`)
  t.match(r.stderr, /^smsc: config\.tls\.cert cannot be read: ENOENT/, 'naming the key and the cause')
  t.match(r.stderr, missing, 'and the file')
  for (const port of [smpp, tls, http]) t.ok(await portFree(port), `port ${port} is free`)
  t.notOk(fs.existsSync(path.join(dataDir, 'smsc.lock')), 'the data dir is unlocked')
})

t.test('a data dir that cannot be made fails the start with one line at once (under /proc it used to hang)', { skip: fs.existsSync('/proc/self') ? false : 'no /proc here' }, async (t) => {
  const [smpp, http] = await freePorts(2)
  const config = writeConfig(t, { dataDir: '/proc/smsc-startup-test', smpp: { host: '127.0.0.1', port: smpp }, http: { host: '127.0.0.1', port: http }, accounts: ACCOUNTS })
  const r = await cli(['start', '--config', config], 20_000)
  t.notOk(r.timedOut, 'the process exits by itself')
  t.equal(r.code, 2, 'exit code 2')
  t.equal(r.stderr, 'smsc: dataDir /proc/smsc-startup-test: cannot be created (ENOENT)\n', 'one line naming dataDir and the cause')
  for (const port of [smpp, http]) t.ok(await portFree(port), `port ${port} is free`)
})

t.test('routes stored for a connector the config no longer has refuse the start in one line (they took messages no connector would carry)', async (t) => {
  const dataDir = tempDir(t)
  const [smpp, http] = await freePorts(2)
  const base = { dataDir, smpp: { host: '127.0.0.1', port: smpp }, http: { host: '127.0.0.1', port: http }, accounts: ACCOUNTS }
  const withHttp = writeConfig(t, { ...base, connectors: [{ id: 'httpA', kind: 'http', url: 'http://127.0.0.1:9/sms' }] })
  const routes = path.join(dataDir, '..', `${path.basename(dataDir)}-routes.json`)
  fs.writeFileSync(routes, JSON.stringify({ mt: [{ name: 'fr', match: { destPrefix: ['33'] }, action: { connector: 'httpA' } }, { name: 'default', match: {}, action: { connector: 'simulator' } }] }))
  t.teardown(() => fs.rmSync(routes, { force: true }))
  const set = await cli(['route', 'set', routes, '--config', withHttp])
  t.equal(set.code, 0, set.stderr)

  const without = writeConfig(t, base) // the connector taken out of the file
  const r = await cli(['start', '--config', without], 20_000)
  t.notOk(r.timedOut, 'the process exits by itself')
  t.equal(r.code, 2, 'exit code 2')
  t.equal(r.stderr, `smsc: the routes stored in ${path.resolve(dataDir)} (set through the API or CLI) do not fit this config: routes.mt[0].action.connector must be a configured connector id (got "httpA"; connectors: simulator). ` +
    'Add that connector to config.connectors, or replace the routes (smsc route set FILE, with this config)\n', 'one line naming the route, the connector and the ways out')
  for (const port of [smpp, http]) t.ok(await portFree(port), `port ${port} is free`)
  t.notOk(fs.existsSync(path.join(dataDir, 'smsc.lock')), 'the data dir is unlocked')

  const ok = await cli(['start', '--config', withHttp], 3000) // with the connector it starts (killed after 3 s)
  t.match(ok.stdout, /SMSC engine .* is running/, 'and starts again once the config has the connector')
})

t.test('simulator.enabled false: no route may name the simulator, it sends no MO, and the banner says so', async (t) => {
  const dataDir = tempDir(t)
  const [smpp, http] = await freePorts(2)
  const base = { dataDir, smpp: { host: '127.0.0.1', port: smpp }, http: { host: '127.0.0.1', port: http }, accounts: ACCOUNTS, simulator: { enabled: false }, connectors: [{ id: 'httpA', kind: 'http', url: 'http://127.0.0.1:9/sms' }] }
  const noRoutes = await cli(['start', '--config', writeConfig(t, base)], 20_000)
  t.equal(noRoutes.code, 2, 'without routes the start is refused: the default route is the simulator')
  t.equal(noRoutes.stderr, 'smsc: simulator.enabled is false and no routes are set, so every message would go to the simulator: give config.routes, or set the routes first (smsc route set FILE, with this config)\n')
  const toSim = await cli(['start', '--config', writeConfig(t, { ...base, routes: { mt: [{ name: 'all', match: {}, action: { connector: 'simulator' } }] } })], 20_000)
  t.equal(toSim.code, 2, 'config routes naming the simulator are refused')
  t.match(toSim.stderr, /^smsc: \S+smsc\.json: config\.routes\.mt\[0\]\.action\.connector must be a configured connector id \(got "simulator"; connectors: httpA\)\n$/)

  const e = await startEngine(t, { dataDir, extra: { simulator: { enabled: false }, connectors: base.connectors, routes: { mt: [{ name: 'all', match: {}, action: { connector: 'httpA' } }] } } })
  t.match(e.output(), /Carrier +no simulator \(simulator\.enabled false\)/, 'the banner says there is no simulator')
  const mo = await e.http('POST', '/api/v1/simulator/mo', { from: '4915112345678', to: '12345', text: 'spoofed?', systemId: 'esme1' }, await e.operatorToken())
  t.match(mo, { status: 404, json: { code: 'SMSC_ERR_HTTP_NOT_FOUND', error: 'the simulated carrier is off (simulator.enabled false): it sends no MO' } }, 'no MO can be injected')
})

t.test('http.tlsPort: the console and API over HTTPS with the SMPP TLS certificate; without a certificate the start is refused', async (t) => {
  const [smpp, http, https] = await freePorts(3)
  const dataDir = tempDir(t)
  const noCert = await cli(['start', '--config', writeConfig(t, { dataDir, smpp: { host: '127.0.0.1', port: smpp }, http: { host: '127.0.0.1', port: http, tlsPort: https }, accounts: ACCOUNTS })], 20_000)
  t.equal(noCert.code, 2)
  t.match(noCert.stderr, /config\.http\.tlsPort needs a certificate: set tls\.cert and tls\.key \(the SMPP TLS listener's, shared\), or start with --dev-tls\n$/, 'one line saying what is missing')

  const e = await startEngine(t, { devTls: true, extra: { http: { tlsHost: '127.0.0.1', tlsPort: https } } })
  t.match(e.output(), new RegExp(`HTTPS +https://127\\.0\\.0\\.1:${https}/`), 'the banner names the HTTPS listener')
  const get = (urlPath: string, body?: unknown) => new Promise<{ status: number; json: Record<string, unknown>; cn: unknown }>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = httpsRequest({ host: '127.0.0.1', port: https, path: urlPath, method: payload ? 'POST' : 'GET', rejectUnauthorized: false, headers: payload ? { 'content-type': 'application/json' } : {} }, (res) => {
      const cn = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN
      let text = ''
      res.on('data', (c: Buffer) => (text += c.toString('utf8')))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text || '{}') as Record<string, unknown>, cn }))
    })
    req.on('error', reject)
    req.end(payload)
  })
  const health = await get('/healthz')
  t.match(health, { status: 200, json: { status: 'ok' }, cn: 'localhost' }, '/healthz over TLS, with the dev certificate')
  const login = await get('/api/v1/login', { systemId: 'esme1', password: 'secret1' })
  t.match(login, { status: 200, json: { token: String } }, 'a login over HTTPS')
  t.equal((await e.http('GET', '/healthz')).status, 200, 'and the plain HTTP listener still answers (the CLI uses it)')
  t.match(await get('/metrics'), { status: 404 }, '/metrics (no login) is not served over HTTPS')
  t.match(await get('/api/v1/simulator/mo', { from: '1', to: '2', text: 'x' }), { status: 404 }, 'nor the simulator\'s MO (a testing tool)')
  t.equal((await e.http('GET', '/metrics')).status, 200, 'both stay on the plain port')
})

t.test('the console admin password: generated once into a file of its own (not into a log), kept, changed with smsc admin passwd', async (t) => {
  const engine = await startEngine(t)
  const file = path.join(engine.dataDir, 'initial-credentials')
  const { admin } = initialCredentials(engine.dataDir)
  t.ok(admin, 'the first start writes the generated admin password to <dataDir>/initial-credentials')
  const generated = admin as string
  t.equal(fs.statSync(file).mode & 0o777, 0o600, 'readable by the engine\'s user only')
  t.notOk(engine.output().includes(generated), 'stdout is a pipe here (a supervisor\'s log): the password is not printed')
  t.match(engine.output(), /Console admin password created: not printed/, 'the banner says one was made')
  t.ok(engine.output().includes(`Passwords  in ${file} (this user only): read it, then delete it`), 'and where it is')
  t.equal((await login(engine.httpPort, generated)).status, 200, 'and it logs in')

  await engine.restart()
  t.equal(engine.output().split('Console admin password created').length - 1, 1, 'a second start on the same data dir does not make or print another')
  t.match(engine.output().split('--- spawn:').pop(), /Passwords  the first start's generated passwords are still in .*initial-credentials: delete it/, 'it reminds the operator of the file')
  t.equal((await login(engine.httpPort, generated)).status, 200, 'the password is kept in the data dir')

  const short = await cli(['admin', 'passwd', '--password', 'short', '--config', engine.configPath])
  t.equal(short.code, 2, 'a too short password is refused')
  t.match(short.stderr, /^smsc: --password must be 8 to 128 characters\n$/)

  await engine.stop()
  const r = await cli(['admin', 'passwd', '--password', 'newpassword1', '--config', engine.configPath])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout, 'console admin password changed\n')
  t.notOk(fs.existsSync(file), 'the file held only that password: it is gone (it would show one that no longer works)')
  await engine.restart()
  t.equal((await login(engine.httpPort, 'newpassword1')).status, 200, 'the new password logs in')
  t.equal((await login(engine.httpPort, generated)).status, 401, 'the old one no longer does')
  t.equal(engine.output().split('Console admin password created').length - 1, 1, 'and nothing new was generated')
  t.notMatch(engine.output().split('--- spawn:').pop(), /Passwords /, 'and the banner no longer points at a file')
})

t.test('the startup banner names the ports, the data dir and how long messages are kept', async (t) => {
  const kept = await startEngine(t)
  const out = kept.output()
  // stdout on a pipe is the log: the banner too is JSON, a record per line (stderr is empty at a good start)
  const records = out.split('\n').filter((l) => l !== '' && !l.startsWith('--- spawn:'))
  t.ok(records.length > 5, `${records.length} lines`)
  for (const l of records) {
    const rec = ((): Record<string, unknown> | null => { try { return JSON.parse(l) as Record<string, unknown> } catch { return null } })()
    if (typeof rec?.level !== 'string' || typeof rec?.msg !== 'string') { t.fail(`not a JSON log record: ${l}`); break }
  }
  t.match(out, /"level":"info","msg":"SMSC engine \S+ is running"/, 'the banner\'s first line is an info record')
  t.match(out, new RegExp(`SMPP +smpp://127\\.0\\.0\\.1:${kept.smppPort}`))
  t.match(out, new RegExp(`Console +http://127\\.0\\.0\\.1:${kept.httpPort}/`))
  t.match(out, new RegExp(`Data +${kept.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, messages kept 72 h after they end \\(store\\.retentionHours\\)`))
  // The store holds message text and password hashes: its user's alone, whatever the umask of who starts it.
  for (const f of ['store', 'store/data.mdb', 'store/lock.mdb']) t.equal(fs.statSync(path.join(kept.dataDir, f)).mode & 0o077, 0, `${f} is not readable by group or others`)
  t.notMatch(out, /the store is readable by other users/)
  await kept.stop()
  fs.chmodSync(path.join(kept.dataDir, 'store', 'data.mdb'), 0o644) // as a store made under umask 022 is
  await kept.restart()
  t.match(kept.output(), new RegExp(`"level":"warn","msg":"the store is readable by other users \\(mode 644\\): it holds message text and password hashes\\. Run: chmod -R go-rwx ${kept.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`), 'an existing store open to others is warned about, with the command that closes it')
  await kept.stop()
  const forever = await startEngine(t, { extra: { store: { retentionHours: 0 } } })
  t.match(forever.output(), /Data +.*, messages kept forever \(store\.retentionHours 0\)/)
})

/** `runuser -u nobody` can run the CLI here: root, runuser present, and the project readable by nobody. */
function canRunAsNobody(): boolean {
  if (process.getuid?.() !== 0) return false
  return spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', `require(${JSON.stringify(BIN)}.replace(/bin[\\/]smsc\\.js$/, 'package.json'))`]).status === 0
}

t.test('a data dir made by root and started as another user: one line naming the path, its owner and the user, exit 2', { skip: canRunAsNobody() ? false : 'needs root, runuser and a project readable by nobody' }, async (t) => {
  const dir = tempDir(t)
  fs.chmodSync(dir, 0o755)
  const dataDir = path.join(dir, 'data')
  // `sudo smsc account add` before the first start: the data dir and its store are root's
  const added = await cli(['account', 'add', 'bank', '--password', 'bankpw1', '--data-dir', dataDir])
  t.equal(added.code, 0, `the account is added as root: ${added.stderr}`)
  fs.chownSync(dataDir, 65534, 65534) // the data dir handed to the service user, its store/ not
  const [smpp, http] = await freePorts(2)
  // env -i: not the hooks tap adds to every child's environment (they write where nobody cannot)
  const nobody = ['-u', 'nobody', '--', 'env', '-i', `PATH=${process.env.PATH}`, 'NODE_ENV=test', process.execPath, BIN]
  const r = spawnSync('runuser', [...nobody, 'start', '--data-dir', dataDir, '--smpp-host', '127.0.0.1', '--smpp-port', String(smpp), '--http-port', String(http)],
    { cwd: dir, encoding: 'utf8', timeout: 30_000 })
  t.equal(r.status, 2, 'exit code 2')
  t.equal(r.stderr, `smsc: ${path.join(dataDir, 'store')} is not writable by nobody (uid 65534): it belongs to uid 0, mode 700; run smsc as its owner or chown -R the data dir to nobody\n`, 'one line: the path, its owner and mode, the user, what to do')
  t.equal(r.stdout, '', 'no banner')
  t.notOk(fs.existsSync(path.join(dataDir, 'smsc.lock')), 'no lock file left')
  const list = spawnSync('runuser', [...nobody, 'account', 'list', '--data-dir', dataDir], { cwd: dir, encoding: 'utf8', timeout: 30_000 })
  t.equal(list.status, 2, 'the CLI on that data dir: exit 2')
  t.match(list.stderr, /^smsc: .*store is not writable by nobody/, 'with the same line')
})

/**
 * Starts `smsc start` under a stand-in for npm (a node process that spawns it and prints its pid), with
 * or without npm's `npm_command` variable; the stand-in is killed with SIGKILL, as npm leaves when stopped.
 */
async function underParent(t: Test, npm: boolean, viaShell = false): Promise<{ pid: number; log: () => string; alive: () => boolean }> {
  const [smpp, http] = await freePorts(2)
  const dataDir = tempDir(t)
  const config = writeConfig(t, { dataDir, smpp: { host: '127.0.0.1', port: smpp }, http: { host: '127.0.0.1', port: http }, accounts: ACCOUNTS })
  const logFile = path.join(dataDir, 'engine.log')
  const env: Record<string, string | undefined> = { ...process.env, NODE_ENV: 'test' }
  if (npm) env.npm_command = 'exec'
  else delete env.npm_command
  const script = `const { spawn } = require('node:child_process'); const fs = require('node:fs');
    const out = fs.openSync(${JSON.stringify(logFile)}, 'a');
    const args = [${JSON.stringify(BIN)}, 'start', '--config', ${JSON.stringify(config)}];
    // npm runs a bin as \`sh -c\`; the command after it keeps bash (as sh) from exec-ing the engine in its place
    const c = ${viaShell} ? spawn('sh', ['-c', '"$0" "$@"; exit $?', process.execPath, ...args], { stdio: ['ignore', out, out] }) : spawn(process.execPath, args, { stdio: ['ignore', out, out] });
    process.stdout.write(String(c.pid) + '\\n'); setInterval(() => {}, 1000)`
  const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env })
  const child = await new Promise<number>((resolve) => parent.stdout.once('data', (c: Buffer) => resolve(Number(c.toString('utf8').trim()))))
  let pid = child // the engine's own pid (from its lock file) once it runs; the shell's before, when viaShell
  const alive = (): boolean => { try { process.kill(pid, 0); return true } catch { return false } }
  t.teardown(() => { if (alive()) process.kill(pid, 'SIGKILL'); if (parent.exitCode === null) parent.kill('SIGKILL') })
  const log = (): string => { try { return fs.readFileSync(logFile, 'utf8') } catch { return '' } }
  const deadline = Date.now() + 20_000
  while (!/is running/.test(log()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(log(), /SMSC engine .* is running/, 'the engine started')
  pid = Number(fs.readFileSync(path.join(dataDir, 'smsc.lock'), 'utf8'))
  if (viaShell) t.not(pid, child, 'under a shell of its own')
  parent.kill('SIGKILL')
  await new Promise((resolve) => parent.once('exit', resolve))
  return { pid, log, alive }
}

t.test('started through npm, the engine stops by itself when npm is gone (npm does not pass SIGTERM on)', async (t) => {
  const e = await underParent(t, true)
  const deadline = Date.now() + 10_000
  while (e.alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
  t.notOk(e.alive(), 'the engine exited')
  t.match(e.log(), /the process that started it under npm \(pid \d+\) is gone: stopping/, 'saying why')
})

t.test('started through npx (npm, then sh -c), the engine stops by itself when npm is killed: the shell outlives npm', async (t) => {
  const e = await underParent(t, true, true)
  const deadline = Date.now() + 10_000
  while (e.alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
  t.notOk(e.alive(), 'the engine exited')
  t.match(e.log(), /the process that started it under npm \(pid \d+\) is gone: stopping/, 'saying why')
})

t.test('started without npm, the engine outlives the process that started it (nohup, a supervisor)', async (t) => {
  const e = await underParent(t, false)
  await new Promise((resolve) => setTimeout(resolve, 2500))
  t.ok(e.alive(), 'still running 2.5 s after its parent died')
  process.kill(e.pid, 'SIGTERM')
  const deadline = Date.now() + 10_000
  while (e.alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
  t.notOk(e.alive(), 'and stops on SIGTERM')
})

/** `smsc start` as a child with its stdout and stderr piped to this process; resolves once its banner is out. `config` is its config file, `values` what it holds. */
async function piped(t: Test): Promise<{ child: ReturnType<typeof spawn>; out: () => string; exited: (ms: number) => Promise<{ code: number | null; signal: string | null } | null>; config: string; values: Record<string, unknown> }> {
  const [smpp, http] = await freePorts(2)
  const dataDir = tempDir(t)
  const values = { dataDir, smpp: { host: '127.0.0.1', port: smpp }, http: { host: '127.0.0.1', port: http }, accounts: ACCOUNTS }
  const config = writeConfig(t, values)
  const child = spawn(process.execPath, [BIN, 'start', '--config', config], { cwd: projectRoot(), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'test' } })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let out = ''
  const onOut = (c: Buffer) => (out += c.toString('utf8'))
  child.stdout?.on('data', onOut)
  child.stderr?.on('data', onOut)
  const gone = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const deadline = Date.now() + 20_000
  while (!/Accounts /.test(out) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(out, /SMSC engine .* is running/, 'the engine started')
  const exited = (ms: number) => Promise.race([gone, new Promise<null>((resolve) => setTimeout(() => resolve(null), ms))])
  return { child, out: () => out, exited, config, values }
}

t.test('SIGHUP leaves the engine running and says what it reloaded; SIGTERM then stops it', async (t) => {
  const e = await piped(t)
  e.child.kill('SIGHUP')
  t.equal(await e.exited(1500), null, 'still running after SIGHUP (it used to end at once, with no drain)')
  const deadline = Date.now() + 5000
  while (!/SIGHUP: /.test(e.out()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(e.out(), /"level":"info","msg":"SIGHUP: no TLS certificate to reload \(tls\.cert and tls\.key are not set\)"/, 'a line says what happened')
  while (!/SIGHUP: config/.test(e.out()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(e.out(), /"level":"info","msg":"SIGHUP: config reloaded: connectors and routes unchanged"/, 'and one what the config file changed')
  e.child.kill('SIGTERM')
  t.same(await e.exited(15_000), { code: 0, signal: null }, 'stopped cleanly by SIGTERM')
})

t.test('SIGHUP on an engine started without a config file says there is no file to read, not "unchanged"; with --dev-tls, that the dev certificate is read at start only', async (t) => {
  const [smpp, tls, http] = await freePorts(3)
  const dataDir = tempDir(t)
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'test' }
  delete env.SMSC_CONFIG
  const child = spawn(process.execPath, [BIN, 'start', '--data-dir', dataDir, '--smpp-host', '127.0.0.1', '--smpp-port', String(smpp), '--tls-host', '127.0.0.1', '--tls-port', String(tls), '--http-port', String(http), '--dev-tls'],
    { cwd: projectRoot(), stdio: ['ignore', 'pipe', 'pipe'], env })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')))
  child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')))
  const until = async (re: RegExp) => {
    const deadline = Date.now() + 20_000
    while (!re.test(out) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await until(/Accounts /)
  child.kill('SIGHUP')
  await until(/SIGHUP: no config file/)
  t.match(out, /"level":"info","msg":"SIGHUP: no TLS certificate to reload: the listener uses the dev certificate \(devTls, [^"]*tls\), read at start only"/, 'the TLS line names the dev certificate')
  t.match(out, /"level":"warn","msg":"SIGHUP: no config file to read again: the engine was started without --config \(or SMSC_CONFIG\), so its connectors and routes stay as they are; to change connectors by a reload, restart it once with --config FILE"/)
  t.notMatch(out, /config reloaded/, 'no claim that a file was read')
  const gone = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  child.kill('SIGTERM')
  t.same(await gone, { code: 0, signal: null }, 'still running until SIGTERM, which stops it cleanly')
})

t.test('SIGHUP applies the config file\'s connectors: an added one binds, a bad file changes nothing and says why in one line', async (t) => {
  const e = await piped(t)
  const up = await startUpstream(t)
  const lines = (re: RegExp) => e.out().split('\n').filter((l) => re.test(l))
  const until = async (re: RegExp, n = 1) => {
    const deadline = Date.now() + 10_000
    while (lines(re).length < n && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const connector = { id: 'up', kind: 'smpp', host: '127.0.0.1', port: up.port, systemId: 'x', password: 'y', reconnectMs: [100, 1000] }
  fs.writeFileSync(e.config, JSON.stringify({ ...e.values, connectors: [connector] }))
  e.child.kill('SIGHUP')
  await until(/SIGHUP: config/)
  t.match(lines(/SIGHUP: config/)[0], /"level":"info","msg":"SIGHUP: config reloaded: connectors added up"/)
  t.match(e.out(), /"msg":"connector added \(config reload\)","connector":"up","kind":"smpp"/, 'a line for the connector')
  const deadline = Date.now() + 10_000
  while (up.received('bind_transceiver').length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(up.received('bind_transceiver').length, 1, 'the new connector bound to its upstream')

  fs.writeFileSync(e.config, JSON.stringify({ ...e.values, connectors: [{ ...connector, port: 'x' }] }))
  e.child.kill('SIGHUP')
  await until(/SIGHUP: config/, 2)
  t.equal(lines(/SIGHUP: config/).length, 2, 'one line per reload')
  t.match(lines(/SIGHUP: config/)[1], new RegExp(`"level":"error","msg":"SIGHUP: config not reloaded, nothing changed: ${e.config.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: config\\.connectors\\[0\\]\\.port must be an integer`), 'naming the file and the key')
  t.equal(up.received('unbind').length, 0, 'the connector stays bound')
  t.equal(e.child.exitCode, null, 'still running')
  e.child.kill('SIGTERM')
  t.same(await e.exited(15_000), { code: 0, signal: null })
})

t.test('an engine whose log reader went away (EPIPE) keeps serving and still stops on SIGTERM', async (t) => {
  const e = await piped(t)
  e.child.stdout?.destroy() // the reading end of the pipe is closed: every write to it fails with EPIPE
  e.child.stderr?.destroy()
  await new Promise((resolve) => setTimeout(resolve, 300))
  e.child.kill('SIGHUP') // a log line (to the dead pipe) is written on SIGHUP
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(e.child.exitCode, null, 'still running')
  e.child.kill('SIGTERM')
  t.same(await e.exited(10_000), { code: 0, signal: null }, 'exits by itself within 10 s (it used to spin at 100% CPU until killed)')
})

/** Two certificates (a, b) and the config's cert/key files, holding a's pair: a renewal writes b's over them. */
async function renewableCert(t: Test) {
  const dir = tempDir(t)
  const a = await devTlsCert(path.join(dir, 'a'))
  const b = await devTlsCert(path.join(dir, 'b'))
  const cert = path.join(dir, 'cert.pem')
  const key = path.join(dir, 'key.pem')
  fs.writeFileSync(cert, a.cert)
  fs.writeFileSync(key, a.key)
  return { dir, a, b, cert, key }
}

t.test('SIGHUP reloads a renewed TLS certificate for SMPP/TLS and HTTPS: new connections get it, open ones stay; an unusable one is refused and the old one stays', async (t) => {
  const { dir, a, b, cert, key } = await renewableCert(t)
  const [smpp, tlsPort, http, https] = await freePorts(4)
  const config = writeConfig(t, { dataDir: path.join(dir, 'data'), smpp: { host: '127.0.0.1', port: smpp }, http: { host: '127.0.0.1', port: http, tlsHost: '127.0.0.1', tlsPort: https }, tls: { host: '127.0.0.1', port: tlsPort, cert, key }, accounts: ACCOUNTS })
  const child = spawn(process.execPath, [BIN, 'start', '--config', config], { cwd: projectRoot(), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'test' } })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let out = ''
  child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')))
  child.stderr?.on('data', (c: Buffer) => (out += c.toString('utf8')))
  const until = async (re: RegExp) => {
    const deadline = Date.now() + 20_000
    while (!re.test(out) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    t.match(out, re)
  }
  await until(/Accounts /)
  const fingerprint = (pem: Buffer) => new X509Certificate(pem).fingerprint256
  const served = (port = tlsPort) => new Promise<{ fp: string; socket: TLSSocket }>((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve({ fp: socket.getPeerX509Certificate()?.fingerprint256 ?? '', socket }))
    socket.on('error', reject)
  })
  /** The certificate HTTPS serves a new connection, and that the API answers there. */
  const httpsServes = async (): Promise<string> => {
    const { fp, socket } = await served(https)
    socket.destroy()
    const health = await new Promise<number>((resolve, reject) => {
      httpsRequest({ host: '127.0.0.1', port: https, path: '/healthz', rejectUnauthorized: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject).end()
    })
    t.equal(health, 200, 'HTTPS answers')
    return fp
  }
  const first = await served()
  t.teardown(() => first.socket.destroy())
  t.equal(first.fp, fingerprint(a.cert), 'the certificate of the start')
  t.equal(await httpsServes(), fingerprint(a.cert), 'HTTPS serves it too')
  const httpsFirst = await served(https)
  t.teardown(() => httpsFirst.socket.destroy())

  child.kill('SIGHUP') // the same files: HTTPS keeps its app (each reload keeps the old one alive for its connections)
  await until(/SIGHUP: TLS certificate reloaded from .*HTTPS already serves these files/)

  fs.writeFileSync(cert, b.cert)
  fs.writeFileSync(key, b.key)
  child.kill('SIGHUP')
  await until(/SIGHUP: TLS certificate reloaded from .*: new SMPP\/TLS and HTTPS connections get it/)
  const second = await served()
  second.socket.destroy()
  t.equal(second.fp, fingerprint(b.cert), 'a new connection gets the renewed one')
  t.notOk(first.socket.destroyed, 'the connection made before stays open')
  t.equal(await httpsServes(), fingerprint(b.cert), 'a new HTTPS connection gets the renewed one too')
  t.notOk(httpsFirst.socket.destroyed, 'and the HTTPS connection made before stays open')
  const answer = await new Promise<string>((resolve, reject) => {
    let got = ''
    httpsFirst.socket.on('data', (c: Buffer) => { got += c.toString('latin1'); if (got.includes('\r\n\r\n')) resolve(got) })
    httpsFirst.socket.once('error', reject)
    httpsFirst.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
  })
  t.match(answer, /^HTTP\/1\.1 200/, 'and is still served (by the old app)')

  fs.writeFileSync(cert, 'not a certificate')
  child.kill('SIGHUP')
  await until(/"level":"error","msg":"SIGHUP: config\.tls: the certificate or key is not usable, the old one stays/)
  const third = await served()
  third.socket.destroy()
  t.equal(third.fp, fingerprint(b.cert), 'a broken file changes nothing')
  fs.writeFileSync(cert, a.cert) // a renewal that left the old key: OpenSSL would take the pair and fail every handshake
  const errors = (out.match(/"level":"error","msg":"SIGHUP: /g) ?? []).length
  child.kill('SIGHUP')
  const deadline = Date.now() + 10_000
  while ((out.match(/"level":"error","msg":"SIGHUP: /g) ?? []).length === errors && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(out.slice(out.lastIndexOf('"level":"error","msg":"SIGHUP: ')), /^"level":"error","msg":"SIGHUP: config\.tls: the certificate or key is not usable, the old one stays: the key is not the private key of the certificate/, 'a certificate with another key is refused too')
  const fourth = await served()
  fourth.socket.destroy()
  t.equal(fourth.fp, fingerprint(b.cert), 'and the old pair still serves')
  t.equal(await httpsServes(), fingerprint(b.cert), 'on HTTPS too')
  t.equal(child.exitCode, null, 'and the engine runs on')
  // SIGHUPs while it stops (a reload racing a stop): they reload nothing, and the stop completes (it used to crash
  // re-listening HTTPS on a closed socket).
  const exited = new Promise<[number | null, string | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])))
  child.kill('SIGTERM')
  for (let i = 0; i < 5; i++) { await new Promise((resolve) => setTimeout(resolve, 10)); child.kill('SIGHUP') }
  t.same(await exited, [0, null], 'stopped cleanly')
})

t.test('a certificate reload while the engine stops (or after) reloads nothing and does not crash it', async (t) => {
  const { dir, a, b, cert, key } = await renewableCert(t)
  const smsc = await createSmsc({
    dataDir: path.join(dir, 'data'), smpp: { host: '127.0.0.1', port: 0 }, tls: { host: '127.0.0.1', port: 0, cert, key },
    http: { host: '127.0.0.1', port: 0, tlsHost: '127.0.0.1', tlsPort: 0 }, accounts: ACCOUNTS, admin: { password: 'operator-secret' }, log: { level: 'silent' },
  })
  // Renewed files, so a reload would make a new HTTPS app: before the fix, one on a closed listener crashed the process (SIGSEGV).
  fs.writeFileSync(cert, b.cert)
  fs.writeFileSync(key, b.key)
  const stopping = smsc.stop()
  t.equal(smsc.reloadTls(), 'the engine is stopping: nothing reloaded', 'while it stops')
  await stopping
  t.equal(smsc.reloadTls(), 'the engine is stopping: nothing reloaded', 'and once stopped')
})
