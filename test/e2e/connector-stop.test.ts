/**
 * The operator stops and starts one connector (POST /api/v1/connectors/:id/stop|start, smsc connector list|stop|start)
 * on a running engine (the real CLI process): a stopped smpp connector unbinds, routes fail over past it, it shows
 * `stopped: true`, it stays stopped across a restart until started, and both changes are in the audit. Only the
 * operator may; an unknown id is a 404 naming the connectors.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { httpCall, projectRoot, startEngine, type Engine } from '../helpers/engine'
import { openEsme, gsm } from '../helpers/esme'
import { startUpstream, type Upstream } from '../helpers/upstream'

const ROOT = projectRoot()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The CLI, run without blocking this process: the scripted upstreams live here and must answer meanwhile (an unbind). */
function smsc(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(ROOT, 'bin', 'smsc.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')))
    p.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')))
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000)
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }) })
  })
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

interface Row { id: string; up: boolean; stopped: boolean; sent: number; failed: number }

t.test('stop and start a connector through the API and the CLI: failover while stopped, kept across a restart, audited', async (t) => {
  const a = await startUpstream(t)
  const b = await startUpstream(t)
  const conn = (id: string, up: Upstream) => ({ id, kind: 'smpp', host: '127.0.0.1', port: up.port, systemId: 'x', password: 'y', reconnectMs: [100, 1000] })
  const e: Engine = await startEngine(t, {
    extra: {
      admin: { password: 'operator-secret' },
      connectors: [conn('a', a), conn('b', b)],
      routes: { mt: [{ name: 'all', match: {}, action: { failover: ['a', 'b'] } }], mo: [] },
      dispatch: { retryMs: [100, 1000] },
    },
  })
  const token = async () => (await httpCall(e.httpPort, 'POST', '/api/v1/login', { body: { password: 'operator-secret' } })).json as { token: string }
  let op = (await token()).token
  const rows = async () => ((await httpCall(e.httpPort, 'GET', '/api/v1/connectors', { token: op })).json as { connectors: Row[] }).connectors
  const row = async (id: string) => (await rows()).find((c) => c.id === id) as Row
  await until('both to bind', async () => (await row('a')).up && (await row('b')).up)
  const esme = await openEsme(t, { port: e.smppPort })
  const send = async (to: string) => t.equal((await esme.submit({ source_addr: '1', destination_addr: to, short_message: gsm('x') })).command_status, 0, `${to} accepted`)

  // Only the operator; an unknown connector names the ones there are.
  const user = ((await httpCall(e.httpPort, 'POST', '/api/v1/login', { body: { systemId: 'esme1', password: 'secret1' } })).json as { token: string }).token
  const refused = await httpCall(e.httpPort, 'POST', '/api/v1/connectors/a/stop', { token: user })
  t.equal(refused.status, 403, 'an account may not')
  const unknown = await httpCall(e.httpPort, 'POST', '/api/v1/connectors/nope/stop', { token: op })
  t.equal(unknown.status, 404)
  t.same(unknown.json, { error: 'no connector "nope" (connectors: simulator, a, b)', code: 'SMSC_ERR_CONNECTOR_NOT_FOUND' })

  // Stopped through the API: it unbinds, counts as down, and the failover route goes to b.
  const stop = await httpCall(e.httpPort, 'POST', '/api/v1/connectors/a/stop', { token: op, timeoutMs: 15_000 })
  t.equal(stop.status, 200)
  t.match(stop.json, { id: 'a', up: false, stopped: true }, 'the answer is its row, once its link is closed')
  t.equal(a.received('unbind').length, 1, 'it unbound from its upstream')
  await send('447700900001')
  await until('b to carry it', () => b.received('submit_sm').length === 1)
  t.equal(a.received('submit_sm').length, 0, 'nothing went to the stopped one')
  const health = (await httpCall(e.httpPort, 'GET', '/healthz')).json as { status: string; connectors: Row[] }
  t.equal(health.status, 'ok', 'stopped on purpose is not a problem for /healthz')
  t.match(health.connectors.find((c) => c.id === 'a'), { up: false, stopped: true })
  await sleep(300)
  t.equal(a.received('bind_transceiver').length, 1, 'and it does not reconnect')

  // The CLI, through the running engine.
  const list = await smsc(['connector', 'list', '--config', e.configPath])
  t.equal(list.code, 0, list.err)
  t.match(list.out, /^a\s+smpp\s+stopped\s+0\s+0\s+0\s+0$/m, 'the list shows it stopped')
  t.match(list.out, /^b\s+smpp\s+up\s+0\s+0\s+1\s+0$/m)
  const start = await smsc(['connector', 'start', 'a', '--config', e.configPath])
  t.same([start.code, start.out, start.err], [0, 'a started\n', ''])
  await until('a to bind again', async () => (await row('a')).up)
  t.equal((await row('a')).stopped, false)
  await send('447700900002')
  await until('a to carry the next one', () => a.received('submit_sm').length === 1)
  await until('a to count it', async () => (await row('a')).sent === 1)

  // A stop and start makes a new instance of the connector: its counts go on (a *_total never goes back).
  t.equal((await httpCall(e.httpPort, 'POST', '/api/v1/connectors/a/stop', { token: op, timeoutMs: 15_000 })).status, 200)
  t.equal((await httpCall(e.httpPort, 'POST', '/api/v1/connectors/a/start', { token: op })).status, 200)
  t.match(await row('a'), { sent: 1, failed: 0 }, 'sent and failed carry over a stop and start')
  t.match((await httpCall(e.httpPort, 'GET', '/metrics')).body, /^smsc_connector_sent_total\{connector="a"\} 1$/m, 'and so does smsc_connector_sent_total')
  await until('a to bind again', async () => (await row('a')).up)

  // Stopped again, it stays stopped across a restart.
  t.equal((await smsc(['connector', 'stop', 'a', '--config', e.configPath])).out, 'a stopped\n')
  const bindsBefore = a.received('bind_transceiver').length
  await e.restart()
  op = (await token()).token
  await until('b to bind after the restart', async () => (await row('b')).up)
  await sleep(500)
  t.match(await row('a'), { up: false, stopped: true }, 'still stopped after the restart')
  t.equal(a.received('bind_transceiver').length, bindsBefore, 'no bind to its upstream')
  t.match(e.output(), /connector a is stopped by the operator: it carries nothing until started \(smsc connector start a\)/, 'the start says so')

  const audit = ((await httpCall(e.httpPort, 'GET', '/api/v1/audit?limit=10', { token: op })).json as { entries: { action: string; target: string; by: string }[] }).entries
  t.same(audit.filter((x) => x.action.startsWith('connector.')).map((x) => [x.action, x.target, x.by]),
    [['connector.stop', 'a', 'admin'], ['connector.start', 'a', 'admin'], ['connector.stop', 'a', 'admin'], ['connector.start', 'a', 'admin'], ['connector.stop', 'a', 'admin']], 'each change audited, newest first')
})

t.test('offline, the CLI marks the store: the next start has the connector stopped', async (t) => {
  const a = await startUpstream(t)
  const e = await startEngine(t, { extra: { connectors: [{ id: 'a', kind: 'smpp', host: '127.0.0.1', port: a.port, systemId: 'x', password: 'y' }] } })
  await e.stop()
  t.equal((await smsc(['connector', 'stop', 'a', '--config', e.configPath])).out, 'a stopped (at the next start: no engine runs on this data dir)\n')
  const list = await smsc(['connector', 'list', '--config', e.configPath])
  t.match(list.out, /^a\s+smpp\s+stopped$/m)
  t.match(list.out, /^simulator\s+simulator\s+\(no engine runs\)$/m)
  const bad = await smsc(['connector', 'start', 'zz', '--config', e.configPath])
  t.same([bad.code, bad.err], [2, 'smsc: no connector "zz" (connectors: simulator, a)\n'], 'one line naming the connectors')
  const binds = a.received('bind_transceiver').length
  await e.restart()
  await sleep(500)
  t.equal(a.received('bind_transceiver').length, binds, 'started stopped: no bind')
})
