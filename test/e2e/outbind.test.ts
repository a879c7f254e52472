/**
 * Outbind (SMPP 3.4 §2.2.1, §4.1.7), the SMSC side: an account with an `outbind` setting that has
 * receipts waiting and no receiver bound is called by the engine, which sends `outbind` (the account's
 * system_id, the SMSC's password) and accepts the ESME's bind_receiver on that connection, checked
 * like any bind. Failures (nothing listening, a refused bind, no bind within session_init_timer) are
 * tried again with back-off (session.outbindRetryMs). The ESME side is the npm `smpp` package's
 * server (node-smpp), whose sessions emit 'outbind'.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { DEFAULT_ACCOUNT, freePorts, projectRoot, startEngine, type Engine, type EngineOptions } from '../helpers/engine'
import { devTlsCert } from '../../engine/transport/listener'
import { Status, gsm, isReceipt, openEsme, type Pdu } from '../helpers/esme'
import { ADMIN_PASSWORD, AdminApi, until, type AccountView } from '../helpers/policy'

interface SmppPdu extends Pdu { response(o?: Record<string, unknown>): SmppPdu }
interface SmppSession {
  on(ev: string, fn: (pdu: SmppPdu) => void): void
  on(ev: 'close', fn: () => void): void
  send(pdu: SmppPdu, cb?: (resp: Pdu) => void): boolean
  destroy(): void
  unbind(): void
}
interface SmppServer extends net.Server { sessions: SmppSession[] }
// node-smpp ships no type declarations; this is the small surface used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const smpp = require('smpp') as {
  createServer(options: { key?: Buffer; cert?: Buffer }, listener: (s: SmppSession) => void): SmppServer
  PDU: new (command: string, options?: Record<string, unknown>) => SmppPdu
}

const SMSC_PASSWORD = 'smscpw'
/** Fast back-off for the tests: 200 ms, doubling to 800 ms. */
const RETRY: [number, number] = [200, 800]

/** What the ESME does with the n-th outbind (0-based): bind with these credentials (and with `drop`, close the connection once bound), or nothing. */
type OnOutbind = (n: number) => { systemId: string; password: string; kind?: 'receiver' | 'transceiver'; drop?: boolean; unbindAfterDelivery?: boolean } | null

/** An ESME that listens for the SMSC's outbind connections (node-smpp's server). */
class OutbindEsme {
  readonly outbinds: Pdu[] = []
  readonly bindResps: Pdu[] = []
  readonly delivered: Pdu[] = []
  connections = 0
  closedByPeer = 0
  private constructor(readonly server: SmppServer, readonly port: number) {}

  /** With `tls` (key and certificate), the ESME listens for TLS connections (node-smpp's SecureServer). */
  static async listen(t: Test, onOutbind: OnOutbind, port = 0, tls?: { key: Buffer; cert: Buffer }): Promise<OutbindEsme> {
    let esme: OutbindEsme | null = null
    const server = smpp.createServer(tls ?? {}, (session) => {
      const e = esme!
      e.connections++
      session.on('close', () => { e.closedByPeer++ })
      session.on('error', () => {})
      let creds: ReturnType<OnOutbind> = null
      session.on('pdu', (pdu) => {
        if (pdu.command === 'outbind') {
          const n = e.outbinds.length
          e.outbinds.push(pdu)
          creds = onOutbind(n)
          if (creds === null) return
          const c = creds
          // SMPP 3.4 §4.1.7: the ESME answers an outbind with bind_receiver on the same connection
          session.send(new smpp.PDU(`bind_${c.kind ?? 'receiver'}`, { system_id: c.systemId, password: c.password, interface_version: 0x34 }), (resp) => {
            e.bindResps.push(resp)
            if (c.drop) session.destroy()
          })
        } else if (pdu.command === 'deliver_sm') {
          e.delivered.push(pdu)
          session.send(pdu.response())
          // an ESME that fetches what waits and goes away
          if (creds?.unbindAfterDelivery) setTimeout(() => session.unbind(), 100)
        } else if (pdu.command === 'enquire_link' || pdu.command === 'unbind') {
          session.send(pdu.response())
        }
      })
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    esme = new OutbindEsme(server, (server.address() as net.AddressInfo).port)
    t.teardown(() => esme!.close())
    return esme
  }

  receiptFor(id: string): Promise<Pdu> {
    return until(`a receipt for ${id} over the outbind connection`, () => this.delivered.find((p) => isReceipt(p) && p.receipted_message_id === id), 15_000)
  }

  close(): Promise<void> {
    for (const s of this.server.sessions) s.destroy()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

function engineWithOutbind(t: Test, port: number, more: EngineOptions = {}): Promise<Engine> {
  return startEngine(t, {
    accounts: [{ ...DEFAULT_ACCOUNT, outbind: { host: '127.0.0.1', port, password: SMSC_PASSWORD } }],
    ...more,
    extra: { session: { outbindRetryMs: RETRY }, ...more.extra },
  })
}

/** Submits from a transmitter bind (which cannot receive) with a receipt asked for; resolves with the message id. */
async function submitWithReceipt(t: Test, engine: Engine, text: string): Promise<string> {
  const tx = await openEsme(t, { port: engine.smppPort, kind: 'transmitter' })
  const resp = await tx.submit({ short_message: gsm(text), registered_delivery: 1 })
  if (resp.command_status !== 0 || !resp.message_id) throw new Error(`submit refused: 0x${resp.command_status.toString(16)}`)
  return resp.message_id
}

/** Runs the `smsc` CLI to its end (killed after 20 s). */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const bin = process.env.SMSC_BIN ?? path.join(projectRoot(), 'bin', 'smsc.js')
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { cwd: projectRoot(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')))
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000)
    p.on('exit', (code) => { clearTimeout(timer); setImmediate(() => resolve({ code, stdout, stderr })) })
  })
}

/** The engine's structured log lines with this msg. */
function logLines(engine: Engine, msg: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = []
  for (const line of engine.output().split('\n')) {
    if (!line.startsWith('{')) continue
    try {
      const o = JSON.parse(line) as Record<string, unknown>
      if (o.msg === msg) out.push(o)
    } catch { /* not a log line */ }
  }
  return out
}

t.test('a receipt for an account with no receiver bound reaches its ESME through an outbind connection', async (t) => {
  const esme = await OutbindEsme.listen(t, () => ({ systemId: 'esme1', password: 'secret1' }))
  const engine = await engineWithOutbind(t, esme.port)
  const id = await submitWithReceipt(t, engine, 'receipt via outbind')
  const receipt = await esme.receiptFor(id)
  t.ok(isReceipt(receipt), 'a delivery receipt (esm_class 0x04)')
  t.match(esme.outbinds[0], { command: 'outbind', system_id: 'esme1', password: SMSC_PASSWORD }, 'outbind names the account and carries the SMSC password')
  t.match(esme.bindResps[0], { command: 'bind_receiver_resp', command_status: Status.ESME_ROK, system_id: 'SMSC' }, 'the ESME bind_receiver is accepted')
  t.equal(esme.connections, 1, 'one outbind connection')
  t.equal(logLines(engine, 'outbind: ESME bound').length, 1, 'the bind is logged')
  t.match((await engine.http('GET', '/metrics')).body, /smsc_outbind_total\{result="attempt"\} 1\nsmsc_outbind_total\{result="bound"\} 1\nsmsc_outbind_total\{result="failed"\} 0\n/, 'and counted in /metrics')
  const show = await cli(['account', 'show', 'esme1', '--config', engine.configPath])
  t.equal(show.code, 0, `smsc account show: ${show.stderr}`)
  t.match(show.stdout, new RegExp(`outbind +127\\.0\\.0\\.1:${esme.port}, password set`), 'smsc account show prints the setting, not the password')
  t.notMatch(show.stdout, SMSC_PASSWORD)

  t.test('a second receipt uses the bound outbind session: no new connection', async (t) => {
    const id2 = await submitWithReceipt(t, engine, 'second')
    await esme.receiptFor(id2)
    t.equal(esme.connections, 1)
    t.equal(esme.outbinds.length, 1)
  })
})

t.test('an ESME bind with the wrong password is refused, the connection closed, and the engine calls again later', async (t) => {
  const esme = await OutbindEsme.listen(t, (n) => ({ systemId: 'esme1', password: n === 0 ? 'wrongpw' : 'secret1' }))
  const engine = await engineWithOutbind(t, esme.port)
  const id = await submitWithReceipt(t, engine, 'after a refused bind')
  await esme.receiptFor(id)
  t.match(esme.bindResps[0], { command: 'bind_receiver_resp', command_status: Status.ESME_RINVPASWD }, 'the first bind is refused')
  t.match(esme.bindResps[1], { command: 'bind_receiver_resp', command_status: Status.ESME_ROK }, 'the second is accepted')
  t.equal(esme.outbinds.length, 2, 'two outbinds')
  t.equal(esme.connections, 2, 'on two connections')
  t.ok(esme.closedByPeer >= 1, 'the refused connection was closed')
  t.match(logLines(engine, 'outbind: attempt failed'), [{ systemId: 'esme1', reason: 'outbind bind refused', retryInMs: RETRY[0] }])
})

t.test('an ESME bind as another account on the outbind connection is ESME_RINVSYSID', async (t) => {
  const esme = await OutbindEsme.listen(t, (n) => (n === 0 ? { systemId: 'other', password: 'secret1' } : { systemId: 'esme1', password: 'secret1', kind: 'transceiver' }))
  const engine = await engineWithOutbind(t, esme.port, { timers: { sessionInitMs: 500 } })
  const id = await submitWithReceipt(t, engine, 'wrong system_id first')
  await esme.receiptFor(id)
  t.match(esme.bindResps[0], { command: 'bind_receiver_resp', command_status: Status.ESME_RINVSYSID })
  t.match(esme.bindResps[1], { command: 'bind_transceiver_resp', command_status: Status.ESME_ROK }, 'a transceiver bind answers an outbind too')
})

t.test('an ESME that does not bind within session_init_timer is closed and called again', async (t) => {
  const esme = await OutbindEsme.listen(t, (n) => (n === 0 ? null : { systemId: 'esme1', password: 'secret1' }))
  const engine = await engineWithOutbind(t, esme.port, { timers: { sessionInitMs: 500 } })
  const id = await submitWithReceipt(t, engine, 'after a silent ESME')
  await esme.receiptFor(id)
  t.equal(esme.outbinds.length, 2)
  t.match(logLines(engine, 'outbind: attempt failed'), [{ reason: 'session_init timer' }])
})

t.test('with the session_init timer off, an ESME that never binds is closed after response_timer and called again', async (t) => {
  const esme = await OutbindEsme.listen(t, (n) => (n === 0 ? null : { systemId: 'esme1', password: 'secret1' }))
  const engine = await engineWithOutbind(t, esme.port, { timers: { sessionInitMs: 0, responseMs: 500 } })
  const id = await submitWithReceipt(t, engine, 'session_init off')
  await esme.receiptFor(id)
  t.equal(esme.outbinds.length, 2, 'the silent connection did not hold the account\'s one outbind slot')
  t.match(logLines(engine, 'outbind: attempt failed'), [{ reason: 'no bind within 500 ms of the outbind' }])
})

t.test('an ESME that binds and drops at once is called again after a growing delay, as after a failure', async (t) => {
  const esme = await OutbindEsme.listen(t, () => ({ systemId: 'esme1', password: 'secret1', drop: true }))
  const engine = await engineWithOutbind(t, esme.port)
  await submitWithReceipt(t, engine, 'flaky ESME')
  const failures = await until('three bound-then-dropped attempts', () => {
    const f = logLines(engine, 'outbind: attempt failed')
    return f.length >= 3 ? f : undefined
  }, 15_000)
  t.match(failures[0], { systemId: 'esme1', reason: /^bound, then closed after \d+ ms/ })
  t.same(failures.slice(0, 3).map((f) => f.retryInMs), [200, 400, 800], 'the back-off grows: a bind that does not hold is no success')
  t.equal(esme.bindResps.filter((r) => r.command_status === 0).length >= 3, true, 'each of those binds was accepted')
})

t.test('an ESME that fetches its receipts and unbinds is called again after the first delay, not a growing one', async (t) => {
  const esme = await OutbindEsme.listen(t, () => ({ systemId: 'esme1', password: 'secret1', unbindAfterDelivery: true }))
  const engine = await engineWithOutbind(t, esme.port)
  for (let i = 0; i < 3; i++) {
    const id = await submitWithReceipt(t, engine, `fetch ${i}`)
    await esme.receiptFor(id)
    await until(`session ${i + 1} ended`, () => logLines(engine, 'outbind: session ended').length > i || undefined)
  }
  t.equal(esme.outbinds.length, 3, 'one call per receipt')
  t.same(logLines(engine, 'outbind: attempt failed'), [], 'a session that took deliveries is no failure')
  t.match(logLines(engine, 'outbind: session ended'), [{ delivered: 1 }, { delivered: 1 }, { delivered: 1 }])
})

t.test('a bind refused on an outbind connection is logged with the status and what to do', async (t) => {
  const esme = await OutbindEsme.listen(t, (n) => (n === 0 ? { systemId: 'esme1', password: SMSC_PASSWORD } : { systemId: 'esme1', password: 'secret1' }))
  const engine = await engineWithOutbind(t, esme.port)
  const id = await submitWithReceipt(t, engine, 'after a wrong password')
  await esme.receiptFor(id)
  t.match(logLines(engine, "outbind: the ESME's bind was refused"), [{ systemId: 'esme1', status: 'ESME_RINVPASWD', hint: /account's password, not outbind\.password/ }])
})

t.test('outbind over TLS: the ESME\'s certificate is verified, and the receipts go over the TLS connection', async (t) => {
  const { cert, key, certPath } = await devTlsCert(fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-outbind-tls-')))
  const esme = await OutbindEsme.listen(t, () => ({ systemId: 'esme1', password: 'secret1' }), 0, { key, cert })
  // The engine trusts the ESME's (self-signed) certificate through NODE_EXTRA_CA_CERTS, read when it starts.
  process.env.NODE_EXTRA_CA_CERTS = certPath
  const engine = await startEngine(t, { accounts: [{ ...DEFAULT_ACCOUNT, outbind: { host: '127.0.0.1', port: esme.port, tls: true, password: SMSC_PASSWORD } }] as never, extra: { session: { outbindRetryMs: RETRY } } })
  delete process.env.NODE_EXTRA_CA_CERTS
  const id = await submitWithReceipt(t, engine, 'over TLS')
  await esme.receiptFor(id)
  t.match(esme.outbinds[0], { system_id: 'esme1', password: SMSC_PASSWORD }, 'the outbind came over TLS')
})

t.test('outbind over TLS to an ESME whose certificate does not verify: refused, said why, tried again later', async (t) => {
  const { cert, key } = await devTlsCert(fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-outbind-tls-')))
  const esme = await OutbindEsme.listen(t, () => ({ systemId: 'esme1', password: 'secret1' }), 0, { key, cert })
  const engine = await startEngine(t, { accounts: [{ ...DEFAULT_ACCOUNT, outbind: { host: '127.0.0.1', port: esme.port, tls: true } }] as never, extra: { session: { outbindRetryMs: RETRY } } })
  await submitWithReceipt(t, engine, 'untrusted')
  const failures = await until('two failed TLS attempts', () => {
    const f = logLines(engine, 'outbind: attempt failed')
    return f.length >= 2 ? f : undefined
  })
  t.match(failures[0], { systemId: 'esme1', reason: /self[- ]signed certificate/ }, 'the TLS error is the reason')
  t.equal(esme.outbinds.length, 0, 'no outbind was sent over an unverified connection')
  t.ok(engine.running, 'the engine stays up')
})

t.test('nothing listening: attempts back off, the engine stays healthy, and the ESME is reached once it listens', async (t) => {
  const [port] = await freePorts(1)
  const engine = await engineWithOutbind(t, port)
  const id = await submitWithReceipt(t, engine, 'nobody home')
  const failures = await until('four failed attempts', () => {
    const f = logLines(engine, 'outbind: attempt failed')
    return f.length >= 4 ? f : undefined
  })
  // 200 ms doubling to at most 800 ms (session.outbindRetryMs)
  t.same(failures.slice(0, 4).map((f) => f.retryInMs), [200, 400, 800, 800], 'the back-off doubles up to its maximum')
  t.match(failures[0], { systemId: 'esme1', reason: /ECONNREFUSED/ })
  t.ok(engine.running, 'the engine did not crash')
  t.equal((await engine.http('GET', '/healthz')).status, 200, 'and is healthy')
  const id2 = await submitWithReceipt(t, engine, 'still accepting')

  const esme = await OutbindEsme.listen(t, () => ({ systemId: 'esme1', password: 'secret1' }), port)
  await esme.receiptFor(id)
  await esme.receiptFor(id2)
  t.equal(esme.connections, 1, 'one connection once the ESME listens')
})

t.test('outbind set through the admin API applies to deliveries already waiting; a bad value is refused naming the field', async (t) => {
  const esme = await OutbindEsme.listen(t, () => ({ systemId: 'esme1', password: 'secret1' }))
  const engine = await startEngine(t, { extra: { admin: { password: ADMIN_PASSWORD }, session: { outbindRetryMs: RETRY } } })
  const id = await submitWithReceipt(t, engine, 'waiting for a receiver')
  const api = await AdminApi.login(engine)
  const bad = await api.call('PATCH', '/api/v1/accounts/esme1', { outbind: { host: '127.0.0.1', port: 70000 } })
  t.equal(bad.status, 400)
  t.match(bad.body, 'account.outbind.port must be an integer between 1 and 65535 (got 70000)')
  const view = await api.ok<AccountView>('PATCH', '/api/v1/accounts/esme1', { outbind: { host: '127.0.0.1', port: esme.port, password: SMSC_PASSWORD } })
  t.same(view.outbind, { host: '127.0.0.1', port: esme.port, tls: false, passwordSet: true }, 'the account shows the setting, tls false by default, and never the password')
  const shown = await api.ok<AccountView>('GET', '/api/v1/accounts/esme1')
  t.notMatch(JSON.stringify(shown), SMSC_PASSWORD, 'not in GET either')
  // What GET shows can be sent back; a change without the password keeps the one in force.
  t.same((await api.ok<AccountView>('PATCH', '/api/v1/accounts/esme1', { outbind: shown.outbind })).outbind, shown.outbind, 'the view sent back as is')
  t.match((await api.ok<AccountView>('PATCH', '/api/v1/accounts/esme1', { outbind: { host: '127.0.0.1', port: esme.port, tls: false } })).outbind, { host: '127.0.0.1', port: esme.port, tls: false, passwordSet: true }, 'no password given: kept')
  await esme.receiptFor(id)
  t.match(esme.outbinds[0], { system_id: 'esme1', password: SMSC_PASSWORD })
})

t.test('an account with clientCerts is not bound over a plain outbind connection (nothing vouches for the ESME there)', async (t) => {
  const esme = await OutbindEsme.listen(t, () => ({ systemId: 'esme1', password: 'secret1' }))
  const engine = await startEngine(t, { extra: { admin: { password: ADMIN_PASSWORD }, session: { outbindRetryMs: RETRY } } })
  const id = await submitWithReceipt(t, engine, 'for the pinned ESME only')
  const api = await AdminApi.login(engine)
  await api.ok<AccountView>('PATCH', '/api/v1/accounts/esme1', { clientCerts: ['ab'.repeat(32)], outbind: { host: '127.0.0.1', port: esme.port, password: SMSC_PASSWORD } })
  const resp = await until('the ESME\'s bind answered', () => esme.bindResps[0], 15_000)
  t.match(resp, { command: 'bind_receiver_resp', command_status: Status.ESME_RBINDFAIL }, 'the bind with the password alone is refused')
  t.match(logLines(engine, 'outbind: the ESME\'s bind was refused'), [{ systemId: 'esme1', status: 'ESME_RBINDFAIL', reason: /outbind\.tls/ }], 'the log says how the account binds')
  t.notOk(esme.delivered.some((p) => p.receipted_message_id === id), 'its receipt did not go to that connection')
})

t.test('a bad outbind setting in the config file stops the start with one line naming the field', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-outbind-cfg-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const [smppPort, httpPort] = await freePorts(2)
  const config = path.join(dir, 'smsc.json')
  fs.writeFileSync(config, JSON.stringify({
    dataDir: path.join(dir, 'data'), smpp: { host: '127.0.0.1', port: smppPort }, http: { host: '127.0.0.1', port: httpPort },
    accounts: [{ systemId: 'esme1', password: 'secret1', outbind: { host: '127.0.0.1', port: 70000 } }],
  }))
  const r = await cli(['start', '--config', config])
  t.equal(r.code, 2, 'exit code 2')
  t.equal(r.stderr.split('\n').filter(Boolean).length, 1, `one line: ${JSON.stringify(r.stderr)}`)
  t.match(r.stderr, 'config.accounts[0].outbind.port must be an integer between 1 and 65535 (got 70000)')
})
