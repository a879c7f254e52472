/**
 * The telemetry stream, /metrics and the admin API of docs/TELEMETRY.md, against an in-process engine
 * (the stream's frames are compared with what the ESMEs did): login and the session cookie or token,
 * snapshot then deltas in msgpack and JSON, bind rows and account counters following real ESMEs (npm
 * `smpp`), topic filtering, a client that stops reading (skipped, then resynchronised with a snapshot,
 * without slowing the engine), the Prometheus text, sending and looking up a message, unbinding a
 * session, and HTTP clients that go away before their answer.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { createSmsc, type Options, type Smsc } from '../../engine/index'
import { Esme, Status, openEsme, receiptFor, isReceipt, gsm, type Pdu } from '../helpers/esme'
import { TelemetryClient, api, bindRows, type Frame, type BindRow, type AccountRow, type EventRow } from '../helpers/ws'

const PASSWORD = 'console-secret'
const INTERVAL = 100
const ACCOUNTS = [
  { systemId: 'acc1', password: 'pw1' },
  { systemId: 'acc2', password: 'pw2' },
  { systemId: 'web', password: 'pwweb' },
  { systemId: 'load', password: 'pwload', windowSize: 100 },
]
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function engine(t: Test, extra: Partial<Options> = {}): Promise<Smsc> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-telemetry-'))
  const smsc = await createSmsc({
    dataDir,
    smpp: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    admin: { password: PASSWORD },
    accounts: ACCOUNTS,
    simulator: { deliveryDelayMs: [5, 20], outcomes: { DELIVRD: 1 } },
    telemetry: { intervalMs: INTERVAL },
    log: { level: 'silent' },
    ...extra,
  })
  t.teardown(async () => {
    await smsc.stop()
    fs.rmSync(dataDir, { recursive: true, force: true })
  })
  return smsc
}

async function login(port: number): Promise<string> {
  const res = await api(port, 'POST', '/api/v1/login', { body: { password: PASSWORD } })
  if (res.status !== 200) throw new Error(`login → ${res.status} ${res.body}`)
  return (res.json as { token: string }).token
}

async function stream(t: Test, port: number, query: string, headers: Record<string, string> = {}, keep = true): Promise<TelemetryClient> {
  const c = await TelemetryClient.open(port, query, headers, { keep })
  t.teardown(() => c.close())
  return c
}

const bindFor = (esme: Esme) => `127.0.0.1:${esme.session.socket.localPort}`
const keys = (f: Frame) => Object.keys(f).sort()
const eventsOf = (c: TelemetryClient): EventRow[] => c.frames.flatMap((r) => r.frame.events ?? [])
const account = (f: Frame, systemId: string): AccountRow | undefined => f.accounts?.find((a) => a.systemId === systemId)

t.test('the stream and the admin API need an admin login', async (t) => {
  const smsc = await engine(t)
  const port = smsc.ports.http

  const refused = await TelemetryClient.open(port, '').then(() => null, (e: Error & { status?: number }) => e)
  t.equal(refused?.status, 401, '/ws/telemetry without a login: the upgrade is refused with 401')
  const bogus = await TelemetryClient.open(port, 'token=not-a-token').then(() => null, (e: Error & { status?: number }) => e)
  t.equal(bogus?.status, 401, 'an unknown token is refused too')

  const me0 = await api(port, 'GET', '/api/v1/me')
  t.equal(me0.status, 401, 'GET /api/v1/me without a token')
  t.match(me0.json, { code: 'SMSC_ERR_HTTP_AUTH' })

  const res = await api(port, 'POST', '/api/v1/login', { body: { password: PASSWORD } })
  t.equal(res.status, 200, 'login with the configured password')
  const token = (res.json as { token: string }).token
  t.match(token, /^[\w-]{16,}$/, 'a token')
  const cookie = String(res.headers['set-cookie'])
  t.match(cookie, `smsc_session=${token}`, 'the session cookie carries the token')
  t.match(cookie, /HttpOnly/)
  t.match(cookie, /SameSite=Strict/)

  t.same((await api(port, 'GET', '/api/v1/me', { token })).json, { role: 'operator', systemId: null, name: 'admin' }, 'bearer token')
  t.same((await api(port, 'GET', '/api/v1/me', { cookie: `other=1; smsc_session=${token}` })).json, { role: 'operator', systemId: null, name: 'admin' }, 'session cookie')

  const byCookie = await stream(t, port, '', { cookie: `smsc_session=${token}` })
  t.equal((await byCookie.waitFor(() => true)).frame.type, 'snapshot', 'the stream opens with the cookie')
  const byQuery = await stream(t, port, `format=json&token=${token}`)
  t.equal((await byQuery.waitFor(() => true)).frame.type, 'snapshot', 'the stream opens with ?token=')

  const before = byQuery.frames.length
  const wrong = await api(port, 'POST', '/api/v1/login', { body: { password: 'console-secreT' } })
  t.equal(wrong.status, 401, 'a wrong password is refused')
  t.match(wrong.json, { code: 'SMSC_ERR_HTTP_AUTH' })
  const { frame } = await byQuery.waitFor((f) => (f.events ?? []).some((e) => e.type === 'auth_failure'), 3000, before)
  t.equal(frame.type, 'delta', 'the auth_failure event arrives in a later delta')
  t.match(frame.events?.find((e) => e.type === 'auth_failure'), { detail: /^console login: wrong password from (127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/, seq: Number, t: Number })
  const late = await stream(t, port, `format=json&token=${token}`)
  t.ok((await late.waitFor(() => true)).frame.events?.some((e) => e.type === 'auth_failure'), 'a late subscriber finds it in the snapshot ring')

  t.equal((await api(port, 'POST', '/api/v1/login', { body: { pass: PASSWORD } })).status, 400, 'a body without password is a 400')
  t.equal((await api(port, 'POST', '/api/v1/logout', { token })).status, 204, 'logout')
  t.equal((await api(port, 'GET', '/api/v1/me', { token })).status, 401, 'the token is revoked')
  const after = await TelemetryClient.open(port, `token=${token}`).then(() => null, (e: Error & { status?: number }) => e)
  t.equal(after?.status, 401, 'and the stream refuses it')
})

t.test('a subscriber gets a snapshot, then a delta every interval, in msgpack or JSON', async (t) => {
  const smsc = await engine(t)
  const port = smsc.ports.http
  const token = await login(port)
  const ALL = ['accounts', 'binds', 'engine', 'events', 'interval', 'latency', 'queues', 't', 'type']

  const mp = await stream(t, port, `token=${token}`)
  await mp.waitFor(() => mp.frames.length >= 7, 5000)
  const [first, ...rest] = mp.frames.slice(0, 7)
  t.equal(first.frame.type, 'snapshot', 'the first frame is a snapshot')
  t.ok(first.binary, 'msgpack frames are binary')
  t.same(keys(first.frame), [...ALL, 'history'].sort(), 'a snapshot has every topic, and the chart history')
  t.match(first.frame.history, { t: Array, submitPerSec: Array, deliverPerSec: Array, receiptPerSec: Array, submitP50: Array, submitP99: Array, receiptP50: Array, receiptP99: Array })
  t.ok(Array.isArray(first.frame.binds) && Array.isArray(first.frame.events), 'snapshot binds and events are lists')
  t.equal(first.frame.interval, INTERVAL)
  t.ok(rest.every((r) => r.frame.type === 'delta' && r.binary), 'then deltas')
  t.same(keys(rest[0].frame), ALL, 'a delta has every topic')
  t.match(rest[0].frame.binds, { upsert: Array, remove: Array })
  t.match(rest[0].frame.engine, { uptimeS: Number, cpu: Number, rssBytes: Number, heapUsedBytes: Number, eventLoopDelayMs: { p50: Number, p99: Number, max: Number }, storeCommitMs: Object, sessions: 0, bound: 0 })
  t.match(rest[0].frame.latency, { submitResp: { count: 0 }, submitReceipt: { count: 0 } })
  t.match(rest[0].frame.queues, { pending: Object, pendingTotal: 0, carrierInFlight: 0 })
  const ts = rest.map((r) => r.frame.t)
  const gaps = ts.slice(1).map((x, i) => x - ts[i])
  t.ok(gaps.every((g) => g > 0), `t increases (${gaps.join(', ')} ms)`)
  const mean = (ts[ts.length - 1] - ts[0]) / (ts.length - 1)
  t.ok(mean >= INTERVAL * 0.7 && mean <= INTERVAL * 3, `one delta about every ${INTERVAL} ms (mean ${mean.toFixed(0)} ms)`)

  const js = await stream(t, port, `format=json&token=${token}`)
  await js.waitFor(() => js.frames.length >= 2, 3000)
  t.equal(js.frames[0].frame.type, 'snapshot')
  t.notOk(js.frames[0].binary, 'format=json gives text frames')
  t.same(keys(js.frames[0].frame), [...ALL, 'history'].sort(), 'the same shape in JSON')
  t.equal(js.frames[1].frame.type, 'delta')
  t.same(keys(js.frames[1].frame), keys(rest[0].frame), 'the same delta shape in JSON')
  t.same(js.frames[0].frame.events, first.frame.events, 'the same events ring in both encodings')
})

t.test('binds, accounts and events follow the ESMEs', async (t) => {
  const smsc = await engine(t)
  const port = smsc.ports.http
  const c = await stream(t, port, `format=json&token=${await login(port)}`)
  await c.waitFor(() => true)

  const e1 = await openEsme(t, { port: smsc.ports.smpp, kind: 'transceiver', systemId: 'acc1', password: 'pw1' })
  const e2 = await openEsme(t, { port: smsc.ports.smpp, kind: 'transmitter', systemId: 'acc2', password: 'pw2' })
  const rowOf = async (esme: Esme): Promise<BindRow> => {
    const remote = bindFor(esme)
    const { frame } = await c.waitFor((f) => f.type === 'delta' && bindRows(f).some((r) => r.remote === remote && r.state.startsWith('BOUND')), 3000)
    return bindRows(frame).find((r) => r.remote === remote) as BindRow
  }
  const r1 = await rowOf(e1)
  const r2 = await rowOf(e2)
  t.match(r1, { systemId: 'acc1', kind: 'transceiver', state: 'BOUND_TRX', tls: false, submitted: 0, window: { inFlight: 0, outstanding: 0, size: Number } }, 'acc1 appears as an upserted row')
  t.match(r2, { systemId: 'acc2', kind: 'transmitter', state: 'BOUND_TX' }, 'acc2 too')
  t.not(r1.id, r2.id)
  t.ok(Math.abs(r1.connectedAt - Date.now()) < 10_000, 'connectedAt is a wall-clock time')

  const N = 40
  const mark = c.frames.length
  const resps = await e1.submitMany(Array.from({ length: N }, (_, i) => ({ short_message: gsm(`telemetry ${i}`), registered_delivery: 1 })), 10)
  t.ok(resps.every((r) => r.command_status === Status.ESME_ROK), 'every submit accepted')
  await e1.waitForMany((p) => isReceipt(p), N, 10_000)

  await c.waitFor((f) => (f.engine?.submitPerSec ?? 0) > 0, 3000, mark)
  t.pass('engine.submitPerSec moves')
  await c.waitFor((f) => (f.engine?.receiptPerSec ?? 0) > 0, 3000, mark)
  t.pass('engine.receiptPerSec moves')
  await c.waitFor((f) => bindRows(f).some((r) => r.id === r1.id && r.inPerSec > 0), 3000, mark)
  t.pass('the bind row shows msg/s in')
  const { frame } = await c.waitFor((f) => account(f, 'acc1')?.receipts.DELIVRD === N && bindRows(f).some((r) => r.id === r1.id && r.delivered === N), 5000, mark)
  t.match(account(frame, 'acc1'), { submitted: N, rejected: 0, receipts: { DELIVRD: N } }, 'account counters and receipts by stat')
  t.match(bindRows(frame).find((r) => r.id === r1.id), { submitted: N, delivered: N }, 'the bind row totals')
  const settled = await c.waitFor((f) => f.type === 'delta' && account(f, 'acc1')?.submitPerSec === 0 && (f.engine?.submitPerSec ?? 1) === 0, 3000, c.frames.length)
  t.match(account(settled.frame, 'acc1'), { binds: 1 }, 'the rates fall back to 0 when the load stops')

  const beforeUnbind = c.frames.length
  await e2.unbind()
  const gone = await c.waitFor((f) => f.type === 'delta' && (f.binds as { remove: number[] }).remove.includes(r2.id), 3000, beforeUnbind)
  t.notOk(bindRows(gone.frame).some((r) => r.id === r2.id), 'the unbound session is removed, not upserted')
  const after = await c.waitFor((f) => f.type === 'delta', 3000, gone.index + 1)
  t.notOk((after.frame.binds as { remove: number[] }).remove.includes(r2.id), 'and removed once')

  const events = eventsOf(c)
  t.match(events.find((e) => e.type === 'bind' && e.systemId === 'acc1'), { session: r1.id }, 'bind event of acc1')
  t.match(events.find((e) => e.type === 'bind' && e.systemId === 'acc2'), { session: r2.id }, 'bind event of acc2')
  t.match(events.find((e) => e.type === 'unbind'), { systemId: 'acc2', session: r2.id }, 'unbind event of acc2')
  const seqs = events.map((e) => e.seq)
  t.same(seqs, [...new Set(seqs)].sort((a, b) => a - b), 'each event once, in order')
})

t.test('topics narrow the stream', async (t) => {
  const smsc = await engine(t)
  const port = smsc.ports.http
  const token = await login(port)
  const all = await stream(t, port, `format=json&token=${token}`)
  const eng = await stream(t, port, `topics=engine&token=${token}`)
  const two = await stream(t, port, `format=json&topics=binds,accounts&token=${token}`)
  const ev1 = await stream(t, port, `format=json&topics=events:acc1&token=${token}`)

  await openEsme(t, { port: smsc.ports.smpp, kind: 'transceiver', systemId: 'acc2', password: 'pw2' })
  const e1 = await openEsme(t, { port: smsc.ports.smpp, kind: 'transceiver', systemId: 'acc1', password: 'pw1' })
  await e1.submit({ short_message: gsm('topics'), registered_delivery: 0 })
  await all.waitFor((f) => (f.events ?? []).some((e) => e.type === 'bind' && e.systemId === 'acc2'), 3000)
  await all.waitFor((f) => (f.events ?? []).some((e) => e.type === 'bind' && e.systemId === 'acc1'), 3000)
  await ev1.waitFor((f) => (f.events ?? []).some((e) => e.type === 'bind' && e.systemId === 'acc1'), 3000)
  await eng.waitFor((f) => f.type === 'delta' && (f.engine?.bound ?? 0) === 2, 3000)
  await two.waitFor((f) => account(f, 'acc1')?.submitted === 1, 3000)
  await settle(INTERVAL * 3)

  // The snapshot also carries the chart history with the engine topic.
  t.ok(eng.frames.every((r) => r.binary && keys(r.frame).join() === (r.frame.type === 'snapshot' ? 'engine,history,interval,t,type' : 'engine,interval,t,type')), 'topics=engine: only engine (and its history), no binds or accounts')
  t.ok(two.frames.every((r) => keys(r.frame).join() === 'accounts,binds,interval,t,type'), 'topics=binds,accounts: those two')
  t.ok(ev1.frames.every((r) => keys(r.frame).join() === 'events,interval,t,type'), 'topics=events:acc1: only events')
  const got = eventsOf(ev1)
  t.ok(got.length > 0 && got.every((e) => e.systemId === 'acc1'), `only acc1's events (${got.map((e) => `${e.type}:${e.systemId}`).join(', ')})`)
  t.ok(eventsOf(all).some((e) => e.systemId === 'acc2'), 'while the unfiltered stream saw acc2')
})

t.test('a reseller or a user gets a scoped stream: its own binds, accounts, pending counts and events, nothing engine-wide', async (t) => {
  const smsc = await engine(t, {
    accounts: [...ACCOUNTS, { systemId: 'res1', password: 'rpw1', role: 'reseller' }, { systemId: 'u1', password: 'upw1', parent: 'res1' }],
  })
  const port = smsc.ports.http
  const loginAs = async (systemId: string, password: string): Promise<string> => {
    const res = await api(port, 'POST', '/api/v1/login', { body: { systemId, password } })
    if (res.status !== 200) throw new Error(`login as ${systemId} → ${res.status} ${res.body}`)
    return (res.json as { token: string }).token
  }
  const resTok = await loginAs('res1', 'rpw1')
  const userTok = await loginAs('u1', 'upw1')
  const refusal = (query: string) => TelemetryClient.open(port, query).then(() => 0, (e: Error & { status?: number }) => e.status)
  t.equal(await refusal(`topics=engine&token=${resTok}`), 403, 'the engine topic is the operator\'s')
  t.equal(await refusal(`topics=binds,latency&token=${userTok}`), 403, 'so is latency')
  t.equal(await refusal(`topics=events:acc2&token=${resTok}`), 403, 'events:<systemId> of an account it may not see')

  const op = await stream(t, port, `format=json&token=${await login(port)}`)
  const res = await stream(t, port, `format=json&token=${resTok}`)
  const user = await stream(t, port, `token=${userTok}`) // msgpack
  await res.waitFor((f) => f.type === 'snapshot')

  const eu = await openEsme(t, { port: smsc.ports.smpp, kind: 'transceiver', systemId: 'u1', password: 'upw1' })
  const eo = await openEsme(t, { port: smsc.ports.smpp, kind: 'transceiver', systemId: 'acc2', password: 'pw2' })
  for (const e of [eu, eo]) {
    t.equal((await e.submit({ short_message: gsm('scoped'), registered_delivery: 1 })).command_status, Status.ESME_ROK)
    await e.waitFor((p) => isReceipt(p), 5000)
  }
  const rowIn = async (c: TelemetryClient, esme: Esme): Promise<BindRow> => {
    const remote = bindFor(esme)
    const { frame } = await c.waitFor((f) => bindRows(f).some((r) => r.remote === remote && r.state.startsWith('BOUND')), 3000)
    return bindRows(frame).find((r) => r.remote === remote) as BindRow
  }
  const uRow = await rowIn(res, eu)
  t.match(uRow, { systemId: 'u1', state: 'BOUND_TRX' }, 'the reseller sees its user\'s bind')
  const oRow = await rowIn(op, eo)
  await res.waitFor((f) => account(f, 'u1')?.receipts.DELIVRD === 1, 3000)
  await user.waitFor((f) => account(f, 'u1')?.submitted === 1, 3000)
  await res.waitFor((f) => (f.events ?? []).some((e) => e.type === 'bind' && e.systemId === 'u1'), 3000)
  t.pass('the reseller\'s stream carries its user\'s counters and bind event; the user\'s its own')

  const mark = res.frames.length
  await eu.unbind()
  await eo.unbind()
  await op.waitFor((f) => f.type === 'delta' && (f.binds as { remove: number[] }).remove.includes(oRow.id), 3000)
  await res.waitFor((f) => f.type === 'delta' && (f.binds as { remove: number[] }).remove.includes(uRow.id), 3000, mark)
  await settle(INTERVAL * 3)
  t.pass('its user\'s bind is removed from the reseller\'s stream')

  const check = (c: TelemetryClient, mine: string[]): void => {
    const sees = (id: string | undefined) => id !== undefined && mine.includes(id)
    const frames = c.frames.map((r) => r.frame)
    t.ok(frames.every((f) => keys(f).every((k) => ['accounts', 'binds', 'events', 'interval', 'queues', 't', 'type'].includes(k))), 'no engine, latency or history')
    t.ok(frames.every((f) => bindRows(f).every((r) => sees(r.systemId))), 'only its binds')
    t.ok(frames.every((f) => f.type === 'snapshot' || !(f.binds as { remove: number[] }).remove.includes(oRow.id)), 'never another account\'s bind removal')
    t.ok(frames.every((f) => (f.accounts ?? []).every((a) => sees(a.systemId))), 'only its accounts')
    t.ok(frames.every((f) => Object.keys(f.queues ?? {}).sort().join() === 'pending,pendingTotal' && Object.keys((f.queues as { pending: object }).pending).every(sees)), 'its pending counts only')
    t.ok(frames.every((f) => (f.events ?? []).every((e) => sees(e.systemId))), 'only its accounts\' events')
  }
  check(res, ['res1', 'u1'])
  check(user, ['u1'])
  t.ok(eventsOf(op).some((e) => e.systemId === 'acc2'), 'while the operator saw acc2')
  t.ok(bindRows(user.frames.find((r) => bindRows(r.frame).length > 0)?.frame as Frame).length > 0, 'the user saw its own bind')

  // A suspended account's stream ends (4003), as its login can no longer be used.
  t.equal((await api(port, 'POST', '/api/v1/accounts/u1/suspend', { token: await login(port) })).status, 200)
  const deadline = Date.now() + 3000
  while (!user.closed && Date.now() < deadline) await settle(INTERVAL)
  t.equal(user.closeCode, 4003, 'the suspended user\'s stream is closed with 4003')
  t.notOk(res.closed, 'its reseller\'s stays open')
})

t.test('accounts show their messages in flight (not final yet), for the reseller as for the operator', async (t) => {
  const smsc = await engine(t, {
    accounts: [...ACCOUNTS, { systemId: 'res1', password: 'rpw1', role: 'reseller' }, { systemId: 'u1', password: 'upw1', parent: 'res1' }],
    simulator: { deliveryDelayMs: [60_000, 60_000], outcomes: { DELIVRD: 1 } }, // the carrier holds them
  })
  const port = smsc.ports.http
  const resTok = ((await api(port, 'POST', '/api/v1/login', { body: { systemId: 'res1', password: 'rpw1' } })).json as { token: string }).token
  const res = await stream(t, port, `format=json&token=${resTok}`)
  const op = await stream(t, port, `format=json&topics=accounts&token=${await login(port)}`)
  const eu = await openEsme(t, { port: smsc.ports.smpp, kind: 'transceiver', systemId: 'u1', password: 'upw1' })
  for (let i = 0; i < 3; i++) t.equal((await eu.submit({ short_message: gsm(`held ${i}`), registered_delivery: 1 })).command_status, Status.ESME_ROK)
  await res.waitFor((f) => (f.accounts ?? []).some((a) => a.systemId === 'u1' && a.inFlight === 3), 3000)
  t.pass('the reseller sees its user\'s 3 messages in flight')
  await op.waitFor((f) => (f.accounts ?? []).some((a) => a.systemId === 'u1' && a.inFlight === 3), 3000)
  t.pass('so does the operator')
  t.ok(res.frames.every((r) => (r.frame.accounts ?? []).every((a) => a.systemId !== 'res1' || a.inFlight === 0)), 'the reseller itself has none')
})

t.test('a scoped stream follows account changes (a user removed, a user added) and never shares a group with another principal', async (t) => {
  const smsc = await engine(t, { accounts: [...ACCOUNTS, { systemId: 'res1', password: 'rpw1', role: 'reseller' }, { systemId: 'u1', password: 'upw1', parent: 'res1' }] })
  const port = smsc.ports.http
  const tokenOf = async (body: Record<string, string>): Promise<string> => ((await api(port, 'POST', '/api/v1/login', { body })).json as { token: string }).token
  const resTok = await tokenOf({ systemId: 'res1', password: 'rpw1' })
  const res = await stream(t, port, `format=json&token=${resTok}`)
  const eu = await openEsme(t, { port: smsc.ports.smpp, kind: 'transceiver', systemId: 'u1', password: 'upw1' })
  const uRow = (await res.waitFor((f) => bindRows(f).some((r) => r.remote === bindFor(eu)), 3000)).frame
  const uId = (bindRows(uRow).find((r) => r.remote === bindFor(eu)) as BindRow).id

  // res1 removes its user while it is bound: the user's bind and account leave the reseller's screen
  t.equal((await api(port, 'DELETE', '/api/v1/accounts/u1', { token: resTok })).status, 204)
  const after = await res.waitFor((f) => f.type === 'snapshot' && !(f.accounts ?? []).some((a) => a.systemId === 'u1'), 3000, 1)
  t.notOk(bindRows(after.frame).some((r) => r.id === uId), 'a fresh snapshot without the removed user\'s bind (its removal is no longer the reseller\'s to see)')
  await res.waitFor((f) => (f.events ?? []).some((e) => e.type === 'account' && e.systemId === 'res1' && e.detail === 'u1 removed by res1'), 3000)
  t.pass('the removal is on the reseller\'s events feed, filed under the reseller (u1 is gone)')
  // a new user shows up without reconnecting; what happened to its name before it existed does not
  const ghost = await Esme.connect({ port: smsc.ports.smpp })
  t.teardown(() => ghost.close())
  t.not((await ghost.bind('transceiver', { systemId: 'a|', password: 'guess' })).command_status, 0, 'a bind as "a|" before that account exists')
  const op0 = await stream(t, port, `format=json&topics=events&token=${await login(port)}`)
  await op0.waitFor((f) => (f.events ?? []).some((e) => e.type === 'auth_failure' && e.systemId === 'a|'), 3000)
  await settle(5) // the account is created in a later millisecond than the failure
  t.equal((await api(port, 'POST', '/api/v1/accounts', { token: resTok, body: { systemId: 'a|', password: 'pass1234' } })).status, 201)
  t.equal((await api(port, 'POST', '/api/v1/accounts', { token: resTok, body: { systemId: 'a||user:a', password: 'pass1234' } })).status, 201)
  const made = await res.waitFor((f) => f.type === 'snapshot' && (f.accounts ?? []).some((a) => a.systemId === 'a||user:a'), 3000, after.index)
  t.pass('the users it creates appear in its stream')
  // The event may come a tick after the snapshot that first lists the account (a scope change sends a snapshot at once).
  const created = (e: EventRow) => e.type === 'account' && e.systemId === 'a||user:a' && e.detail === 'a||user:a created by res1'
  if (!eventsOf(res).some(created)) await res.waitFor((f) => (f.events ?? []).some(created), 3000, after.index).catch(() => undefined)
  t.ok(eventsOf(res).some(created), 'with an event saying who created them')
  t.notOk((made.frame.events ?? []).some((e) => e.type === 'auth_failure' && e.systemId === 'a|'), 'not the auth failure of "a|" from before the account was created (the operator saw it)')

  // ids with separators in them: a user's stream and the operator's, same topics, must not share an encode
  const q = (id: string) => `format=json&topics=binds,accounts,queues,events:${encodeURIComponent(id)}`
  const user = await stream(t, port, `${q('a|')}&token=${await tokenOf({ systemId: 'a|', password: 'pass1234' })}`)
  const op = await stream(t, port, `${q('a||user:a')}&token=${await login(port)}`)
  await openEsme(t, { port: smsc.ports.smpp, kind: 'transceiver', systemId: 'acc2', password: 'pw2' })
  await op.waitFor((f) => bindRows(f).some((r) => r.systemId === 'acc2'), 3000)
  await settle(INTERVAL * 3)
  t.ok(user.frames.every((r) => (r.frame.accounts ?? []).every((a) => a.systemId === 'a|')), 'the user "a|" gets its own account only')
  t.ok(user.frames.every((r) => bindRows(r.frame).length === 0), 'and no one else\'s binds')
  t.ok(op.frames.some((r) => (r.frame.accounts ?? []).some((a) => a.systemId === 'acc2')), 'while the operator\'s stream is the operator\'s')

  // allowedIps that no longer admit the client end its stream, as they would refuse a request
  t.equal((await api(port, 'PATCH', `/api/v1/accounts/${encodeURIComponent('a|')}`, { token: resTok, body: { allowedIps: ['10.9.9.9'] } })).status, 200)
  const deadline = Date.now() + 3000
  while (!user.closed && Date.now() < deadline) await settle(INTERVAL)
  t.equal(user.closeCode, 4003, 'closed with 4003')
  t.notOk(op.closed, 'the operator\'s stays open')
})

t.test('a client that stops reading is skipped, does not slow the engine, and resynchronises with a snapshot', async (t) => {
  // The kernel absorbs a few MB of a paused socket before the server has to buffer anything, so the
  // stream is made heavy: the account counters of a large deployment (2,000 accounts in every frame).
  const smsc = await engine(t, { telemetry: { intervalMs: INTERVAL, maxBufferedBytes: 64 * 1024 } })
  for (let i = 0; i < 2000; i++) smsc.metrics.account(`bulk-${String(i).padStart(4, '0')}`)
  const port = smsc.ports.http
  const token = await login(port)
  // A subscriber that keeps reading (counting, not decoding: the test process is the engine's process).
  const reader = await stream(t, port, `format=json&token=${token}`, {}, false)
  await reader.waitUntil(() => reader.count >= 3, 3000)
  t.ok(reader.bytes / reader.count > 100_000, `frames are heavy (${(reader.bytes / reader.count).toFixed(0)} bytes)`)

  const esme = await openEsme(t, { port: smsc.ports.smpp, kind: 'transmitter', systemId: 'load', password: 'pwload' })
  const N = 2000
  const load = async (): Promise<number> => {
    const t0 = performance.now()
    const resps = await esme.submitMany(Array.from({ length: N }, () => ({ short_message: gsm('load'), registered_delivery: 0 })), 64)
    if (!resps.every((r) => r.command_status === Status.ESME_ROK)) throw new Error('a submit was refused')
    return performance.now() - t0
  }
  // Best of two runs each: the machine may be busy with other work; a slow client would slow every run.
  await load() // warm-up
  const base = Math.min(await load(), await load())

  const slow = await stream(t, port, `format=json&token=${token}`)
  await slow.waitFor((f) => f.type === 'delta', 3000)
  const rss0 = process.memoryUsage().rss
  slow.pause()
  const pausedAt = slow.frames.length
  const pausedT = Date.now()
  // Wait until far more has been published than any socket buffer holds: from then on the server must skip.
  const readerBytes0 = reader.bytes
  await reader.waitUntil(() => reader.bytes - readerBytes0 > 12 * 1024 * 1024, 20_000)
  const slowed = Math.min(await load(), await load())
  const h0 = performance.now()
  const health = await api(port, 'GET', '/healthz')
  const healthMs = performance.now() - h0
  const rssGrowth = process.memoryUsage().rss - rss0
  t.equal(health.status, 200, 'the engine answers /healthz while the client is paused')
  t.ok(healthMs < 1000, `quickly (${healthMs.toFixed(0)} ms)`)
  t.ok(slowed < base * 3 + 1000, `${N} submits take ${slowed.toFixed(0)} ms with the paused client, ${base.toFixed(0)} ms without`)
  t.ok(rssGrowth < 256 * 1024 * 1024, `memory does not explode (rss +${(rssGrowth / 1048576).toFixed(1)} MB)`)
  const ticksPaused = (Date.now() - pausedT) / INTERVAL
  const received = slow.frames.length - pausedAt
  t.ok(received < ticksPaused / 2, `the paused client got ${received} frames so far for ${ticksPaused.toFixed(0)} ticks`)

  slow.resume()
  const resumedAt = Date.now()
  const snap = await slow.waitFor((f) => f.type === 'snapshot', 10_000, pausedAt)
  const backlog = slow.frames.slice(pausedAt, snap.index)
  t.ok(backlog.every((r) => r.frame.type === 'delta'), `before it, the ${backlog.length} deltas the socket buffers held`)
  const lastBefore = backlog.length > 0 ? backlog[backlog.length - 1].frame.t : slow.frames[pausedAt - 1].frame.t
  t.ok(snap.frame.t - lastBefore > INTERVAL * 5, `deltas were skipped (${snap.frame.t - lastBefore} ms without a frame)`)
  t.ok(snap.frame.t >= resumedAt - INTERVAL * 2, 'the snapshot is fresh: made after the client caught up')
  const next = await slow.waitFor((f) => f.type === 'delta', 3000, snap.index + 1)
  t.ok(next.frame.t > snap.frame.t && next.frame.t - snap.frame.t <= INTERVAL * 5, 'then deltas again, in order')
  t.ok(slow.frames.slice(snap.index + 1).every((r) => r.frame.type === 'delta'), 'and no further snapshot')
  t.ok(Array.isArray(snap.frame.binds) && (snap.frame.binds as BindRow[]).some((r) => r.systemId === 'load' && r.submitted === 5 * N), `the snapshot has the current bind rows (${JSON.stringify((snap.frame.binds as BindRow[]).map((r) => [r.systemId, r.submitted]))})`)
})

/** `name{labels} value` lines of the Prometheus text, by name. */
function parseProm(text: string): Map<string, { labels: Record<string, string>; value: number }[]> {
  const out = new Map<string, { labels: Record<string, string>; value: number }[]>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2]
    const list = out.get(m[1]) ?? []
    list.push({ labels, value: Number(m[3]) })
    out.set(m[1], list)
  }
  return out
}

t.test('/metrics is Prometheus text with the engine counters and histograms', async (t) => {
  const smsc = await engine(t)
  const port = smsc.ports.http
  const trx = await openEsme(t, { port: smsc.ports.smpp, kind: 'transceiver', systemId: 'acc1', password: 'pw1' })
  await openEsme(t, { port: smsc.ports.smpp, kind: 'transmitter', systemId: 'acc2', password: 'pw2' })
  const N = 25
  const resps = await trx.submitMany(Array.from({ length: N }, (_, i) => ({ short_message: gsm(`prom ${i}`), registered_delivery: 1 })), 5)
  t.ok(resps.every((r) => r.command_status === Status.ESME_ROK))
  const bad = await trx.submit({ short_message: gsm('bad'), dest_addr_ton: 9 })
  t.not(bad.command_status, Status.ESME_ROK, 'one refused submit')
  await trx.waitForMany(isReceipt, N, 10_000)

  let text = ''
  let m = new Map<string, { labels: Record<string, string>; value: number }[]>()
  const deadline = Date.now() + 5000
  // the receipts' acknowledgements are counted when the delivery actor has them
  for (;;) {
    const res = await api(port, 'GET', '/metrics')
    t.equal(res.status, 200, 'GET /metrics needs no login')
    t.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
    text = res.body
    m = parseProm(text)
    if ((m.get('smsc_receipt_latency_seconds_count')?.[0]?.value ?? 0) >= N || Date.now() > deadline) break
    await settle(100)
  }
  const one = (name: string, labels: Record<string, string> = {}) =>
    m.get(name)?.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
  t.equal(one('smsc_submit_total', { account: 'acc1', status: 'ESME_ROK' }), N, `smsc_submit_total{account="acc1",status="ESME_ROK"} ${N}`)
  const refused = m.get('smsc_submit_total')?.filter((s) => s.labels.account === 'acc1' && s.labels.status !== 'ESME_ROK') ?? []
  t.equal(refused.reduce((a, s) => a + s.value, 0), 1, `the refused one under its status (${refused.map((s) => s.labels.status).join()})`)
  t.equal(one('smsc_receipts_total', { account: 'acc1', stat: 'DELIVRD' }), N, 'smsc_receipts_total by stat')
  t.equal(one('smsc_deliver_total', { account: 'acc1', kind: 'receipt', result: 'ok' }), N, 'smsc_deliver_total receipts ok')
  t.equal(one('smsc_binds', { type: 'transceiver' }), 1)
  t.equal(one('smsc_binds', { type: 'transmitter' }), 1)
  t.equal(one('smsc_binds', { type: 'receiver' }), 0)
  t.equal(one('smsc_connections'), 2)
  t.equal(one('smsc_carrier_in_flight'), 0)
  t.ok((one('process_resident_memory_bytes') ?? 0) > 1e6, 'process_resident_memory_bytes')
  t.ok((one('process_cpu_seconds_total') ?? 0) > 0, 'process_cpu_seconds_total')
  const loop50 = one('smsc_event_loop_delay_seconds', { quantile: '0.5' }) ?? -1
  const loop99 = one('smsc_event_loop_delay_seconds', { quantile: '0.99' }) ?? -1
  // The sampling step is subtracted, so an idle loop may report 0.
  t.ok(loop50 >= 0 && loop50 <= loop99 && loop99 < 5, `smsc_event_loop_delay_seconds by quantile (${loop50}, ${loop99})`)
  t.match(text, /# TYPE smsc_submit_total counter\n/)
  t.match(text, /# TYPE smsc_binds gauge\n/)
  t.match(text, /# TYPE smsc_submit_latency_seconds histogram\n/)

  for (const [name, count] of [['smsc_submit_latency_seconds', N], ['smsc_receipt_latency_seconds', N]] as const) {
    const buckets = m.get(`${name}_bucket`) ?? []
    t.ok(buckets.length > 5, `${name} has buckets`)
    const les = buckets.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)))
    t.ok(les.every((le, i) => i === 0 || le > les[i - 1]), `${name} le increasing`)
    t.ok(buckets.every((b, i) => i === 0 || b.value >= buckets[i - 1].value), `${name} buckets non-decreasing`)
    t.equal(les[les.length - 1], Infinity, `${name} ends with le="+Inf"`)
    t.equal(buckets[buckets.length - 1].value, one(`${name}_count`), `${name} +Inf equals _count`)
    t.equal(one(`${name}_count`), count, `${name}_count ${count}`)
    t.ok((one(`${name}_sum`) ?? -1) >= 0, `${name}_sum`)
  }
})

t.test('the admin API sends a message, looks it up and unbinds a session', async (t) => {
  const smsc = await engine(t)
  const port = smsc.ports.http
  const token = await login(port)
  const rx = await openEsme(t, { port: smsc.ports.smpp, kind: 'receiver', systemId: 'web', password: 'pwweb' })
  const text = 'Привет из консоли, это длинное сообщение! '.repeat(3)
  const body = { systemId: 'web', from: 'Console', to: '+4915112345678', text, registeredDelivery: true }

  t.equal((await api(port, 'POST', '/api/v1/messages', { body })).status, 401, 'sending needs a login')
  t.equal((await api(port, 'POST', '/api/v1/messages', { token, body: { systemId: 'web', from: 'x', text: 'x' } })).status, 400, 'to is required')
  const sent = await api(port, 'POST', '/api/v1/messages', { token, body })
  t.equal(sent.status, 202, sent.body)
  const { ids, parts, coding } = sent.json as { ids: string[]; parts: number; coding: string }
  t.equal(coding, 'UCS2')
  t.ok(parts >= 2, `${text.length} characters of UCS2 make ${parts} parts`)
  t.equal(ids.length, parts, 'one id per part')
  t.equal(new Set(ids).size, parts)

  const receipts: Pdu[] = []
  for (const id of ids) receipts.push(await rx.waitFor(receiptFor(id), 10_000))
  t.equal(receipts.length, parts, 'the receiver of the account gets a receipt for every part')

  const want = ['received', 'stored', 'carrier', 'receipt', 'delivered']
  for (const id of ids) {
    let view: { timeline: { t: number; event: string; stat?: string }[] } & Record<string, unknown> = { timeline: [] }
    const deadline = Date.now() + 5000
    while (Date.now() < deadline) {
      const res = await api(port, 'GET', `/api/v1/messages/${encodeURIComponent(id)}`, { token })
      t.equal(res.status, 200)
      view = res.json as typeof view
      if (view.timeline.length === want.length) break
      await settle(50)
    }
    t.same(view.timeline.map((e) => e.event), want, `timeline of ${id}`)
    t.ok(view.timeline.every((e, i) => i === 0 || e.t >= view.timeline[i - 1].t), 'in time order')
    t.equal(view.timeline[3].stat, 'DELIVRD')
    t.match(view, { id, systemId: 'web', from: 'Console', to: ['4915112345678'], stat: 'DELIVRD' })
    t.ok(text.includes(String(view.text)), 'the text of the part')
  }
  t.equal((await api(port, 'GET', `/api/v1/messages/${ids[0]}`)).status, 401, 'lookup needs a login')
  const unknown = await api(port, 'GET', '/api/v1/messages/999999999', { token })
  t.equal(unknown.status, 404, 'an unknown id')
  t.match(unknown.json, { code: 'SMSC_ERR_MESSAGE_NOT_FOUND' })

  const victim = await openEsme(t, { port: smsc.ports.smpp, kind: 'transceiver', systemId: 'acc1', password: 'pw1' })
  const remote = bindFor(victim)
  const session = smsc.sessions().find((s) => s.remote === remote)
  t.ok(session, 'the session of that ESME')
  t.equal((await api(port, 'POST', `/api/v1/binds/${session!.id}/unbind`)).status, 401, 'unbinding needs a login')
  t.equal((await api(port, 'POST', '/api/v1/binds/99999/unbind', { token })).status, 404, 'an unknown session')
  const res = await api(port, 'POST', `/api/v1/binds/${session!.id}/unbind`, { token })
  t.equal(res.status, 202)
  t.same(res.json, { id: session!.id })
  await victim.waitClosed(5000)
  t.ok(victim.received.some((p) => p.command === 'unbind'), 'the ESME was sent an unbind, then the connection closed')
  t.notOk(rx.closed, 'the other session stays')
})

t.test('HTTP clients that go away before their answer do not take the engine down', async (t) => {
  const smsc = await engine(t)
  const port = smsc.ports.http
  const token = await login(port)
  const rawPost = (urlPath: string, body: string, cut: 'after-body' | 'mid-body', extra = '') =>
    new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        const head = `POST ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n`
        s.write(cut === 'after-body' ? head + body : head + body.slice(0, body.length >> 1), () => { s.destroy(); resolve() })
      })
      s.on('error', () => resolve())
    })
  const mo = JSON.stringify({ from: '4915100000001', to: '12345', text: 'abandoned MO', systemId: 'acc1' })
  const send = JSON.stringify({ systemId: 'acc1', from: '12345', to: '4915112345678', text: 'abandoned send' })
  const jobs: Promise<void>[] = []
  for (let i = 0; i < 20; i++) {
    jobs.push(rawPost('/api/v1/simulator/mo', mo, i % 2 ? 'after-body' : 'mid-body', `Authorization: Bearer ${token}\r\n`))
    jobs.push(rawPost('/api/v1/messages', send, 'after-body', `Authorization: Bearer ${token}\r\n`))
    jobs.push(rawPost('/api/v1/login', JSON.stringify({ password: PASSWORD }), 'after-body'))
  }
  await Promise.all(jobs)
  await settle(500) // the commits and password checks of the abandoned requests finish

  t.equal((await api(port, 'GET', '/healthz')).status, 200, '/healthz still answers')
  const esme = await openEsme(t, { port: smsc.ports.smpp, kind: 'transceiver', systemId: 'acc1', password: 'pw1' })
  t.ok(esme, 'an SMPP bind still works')
  // a login of its own: the twenty abandoned logins above pushed the first token out (MAX_TOKENS_PER_PRINCIPAL)
  const ok = await api(port, 'POST', '/api/v1/simulator/mo', { body: JSON.parse(mo), token: await login(port) })
  t.equal(ok.status, 202, 'and a patient MO request is answered')
})
