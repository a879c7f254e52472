/**
 * The SMPP port exposed to the internet (docs/OPERATIONS.md "Exposing the SMPP port"), against a real engine process
 * over real sockets from several 127.0.0.x addresses (Linux routes all of 127/8 to lo):
 * - caps on connections that have not bound (smpp.maxUnboundConnections, smpp.maxUnboundPerIp): over one the
 *   connection is closed at accept, counted in smsc_connections_refused_total{reason}, one warn line per address;
 *   with the total full, the biggest holder's oldest is closed to let a new address in (reason evicted);
 * - a peer that sends without reading (smpp.maxQueuedOutputBytes): its reads pause, other binds are served, and after
 *   the response timer it is closed with a warn line naming it;
 * - refused binds: one log line per address a minute; allowedIps answered before the password (SMPP and HTTP);
 * - an outbind from an ESME: generic_nack ESME_RINVCMDID (SMPP 3.4 §4.1.7: SMSC → ESME only).
 */
import t from 'tap'
import net from 'node:net'
import { startEngine, type Engine } from '../helpers/engine'
import { Esme, RawSmpp, Status, gsm, rawBindBody, rawPdu } from '../helpers/esme'

const BIND_TRANSCEIVER = 0x00000009
const OUTBIND = 0x0000000b
const ENQUIRE_LINK = 0x00000015
const GENERIC_NACK = 0x80000000

const logLines = (engine: Engine, msg: string): Record<string, unknown>[] => engine.output().split('\n').filter((l) => l.startsWith('{'))
  .map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => o.msg === msg)
const metric = async (engine: Engine, name: string): Promise<number> => {
  const m = new RegExp(`\\n${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\d+)\\n`).exec((await engine.http('GET', '/metrics')).body)
  return m ? Number(m[1]) : NaN
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string, everyMs = 25): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`)
    await sleep(everyMs)
  }
}

/** A raw connection from `from` the engine kept: it answers an enquire_link. */
async function openFrom(t: { teardown(fn: () => unknown): void }, engine: Engine, from: string): Promise<RawSmpp> {
  const raw = await RawSmpp.connect(engine.smppPort, '127.0.0.1', from)
  t.teardown(() => raw.close())
  return raw
}
async function answers(raw: RawSmpp, seq: number): Promise<boolean> {
  raw.write(rawPdu(ENQUIRE_LINK, seq))
  try {
    return (await raw.next(3000)).sequenceNumber === seq
  } catch {
    return false
  }
}

t.test('connections that have not bound are capped per address and in all: over a cap closed at accept, counted and logged once per address', async (t) => {
  const engine = await startEngine(t, { extra: { smpp: { maxUnboundConnections: 6, maxUnboundPerIp: 3 } } })
  const fromA = [await openFrom(t, engine, '127.0.0.3'), await openFrom(t, engine, '127.0.0.3'), await openFrom(t, engine, '127.0.0.3')]
  for (const [i, raw] of fromA.entries()) t.ok(await answers(raw, 10 + i), `connection ${i + 1} from 127.0.0.3 kept`)
  const fourth = await openFrom(t, engine, '127.0.0.3')
  await fourth.waitClosed(3000)
  t.pass('a fourth from 127.0.0.3 is closed at once, before any PDU')

  const other = await Esme.connect({ port: engine.smppPort, localAddress: '127.0.0.4' })
  t.teardown(() => other.close())
  t.equal((await other.bind('transceiver', { systemId: 'esme1', password: 'secret1' })).command_status, Status.ESME_ROK, 'a bind from another address works meanwhile')
  t.equal((await engine.http('GET', '/healthz')).status, 200, 'and /healthz')

  fromA[0].write(rawPdu(BIND_TRANSCEIVER, 20, rawBindBody('esme1', 'secret1')))
  t.equal((await fromA[0].next()).commandStatus, Status.ESME_ROK, 'one of the three binds')
  const again = await openFrom(t, engine, '127.0.0.3')
  t.ok(await answers(again, 21), 'binding freed its slot: a new connection from 127.0.0.3 is kept')

  // 3 unbound from 127.0.0.3; 2 from 127.0.0.5 and 1 from 127.0.0.6 make the total cap of 6
  for (let i = 0; i < 2; i++) t.ok(await answers(await openFrom(t, engine, '127.0.0.5'), 30 + i), `connection ${i + 1} from 127.0.0.5 kept`)
  t.ok(await answers(await openFrom(t, engine, '127.0.0.6'), 32), 'one from 127.0.0.6 kept')
  const fresh = await openFrom(t, engine, '127.0.0.7')
  t.ok(await answers(fresh, 33), 'with 6 not bound (maxUnboundConnections) a connection from a new address is kept')
  await fromA[1].waitClosed(3000)
  t.pass('and the oldest unbound connection of 127.0.0.3, which held the most, is closed for it')
  const tying = await openFrom(t, engine, '127.0.0.3')
  await tying.waitClosed(3000)
  t.pass('a connection from 127.0.0.3, now tying the biggest holders (2), is closed at accept: the total is full')

  t.equal(await metric(engine, 'smsc_connections_refused_total{reason="unbound_per_ip"}'), 1, 'smsc_connections_refused_total: the first one over the address cap')
  t.equal(await metric(engine, 'smsc_connections_refused_total{reason="unbound_total"}'), 1, 'one over the total')
  t.equal(await metric(engine, 'smsc_connections_refused_total{reason="evicted"}'), 1, 'one closed for a newcomer')
  const lines = logLines(engine, 'connection refused: too many connections that have not bound (smpp.maxUnboundConnections, smpp.maxUnboundPerIp)')
  t.same(lines.map((l) => [l.level, l.ip, l.cap]), [['warn', '127.0.0.3', 'smpp.maxUnboundPerIp']],
    'one warn line per address naming it and the cap (the later ones from 127.0.0.3 a count a minute later)')

  // a closed connection gives its slot back too: 127.0.0.3 gets in again without closing anyone's
  fromA[2].close()
  await until(async () => {
    const raw = await RawSmpp.connect(engine.smppPort, '127.0.0.1', '127.0.0.3')
    const kept = await answers(raw, 40)
    if (!kept) raw.close()
    else t.teardown(() => raw.close())
    return kept
  }, 5000, 'a slot freed by a close')
  t.equal(await metric(engine, 'smsc_connections_refused_total{reason="evicted"}'), 1, 'a connection that closes frees its slot: nobody was closed for this one')
})

t.test('when the unbound connections fill the total cap, a new address gets in: the oldest connection of the address holding the most is closed, counted as evicted and logged', async (t) => {
  const engine = await startEngine(t, { extra: { smpp: { maxUnboundConnections: 4, maxUnboundPerIp: 3 } } })
  const big = [await openFrom(t, engine, '127.0.0.12'), await openFrom(t, engine, '127.0.0.12'), await openFrom(t, engine, '127.0.0.12')]
  const small = await openFrom(t, engine, '127.0.0.13')
  for (const [i, raw] of [...big, small].entries()) t.ok(await answers(raw, 60 + i), `connection ${i + 1} kept`)
  const esme = await Esme.connect({ port: engine.smppPort, localAddress: '127.0.0.14' })
  t.teardown(() => esme.close())
  t.equal((await esme.bind('transceiver', { systemId: 'esme1', password: 'secret1' })).command_status, Status.ESME_ROK, 'an ESME from a fresh address connects and binds while the total cap is full')
  await big[0].waitClosed(3000)
  t.pass('the oldest of 127.0.0.12 (3 of the 4) was closed for it')
  for (const [i, raw] of [...big.slice(1), small].entries()) t.ok(await answers(raw, 70 + i), `the others stay (${i + 1})`)
  t.equal(await metric(engine, 'smsc_connections_refused_total{reason="evicted"}'), 1, 'smsc_connections_refused_total{reason="evicted"}')
  const lines = logLines(engine, 'connection refused: too many connections that have not bound (smpp.maxUnboundConnections, smpp.maxUnboundPerIp)')
  t.same(lines.map((l) => [l.level, l.ip, l.cap, l.evicted, l.for]), [['warn', '127.0.0.12', 'smpp.maxUnboundConnections', true, '127.0.0.14']], 'a warn line naming the address that gave way and the one let in')
})

t.test('a peer that sends without reading: its reads pause, another bind is served meanwhile, and after the response timer it is closed with a warn line naming it', async (t) => {
  const engine = await startEngine(t, { extra: { smpp: { maxQueuedOutputBytes: 65_536 } }, timers: { responseMs: 5000 } })
  const flooder = net.connect({ port: engine.smppPort, host: '127.0.0.1', localAddress: '127.0.0.8' })
  t.teardown(() => flooder.destroy())
  await new Promise((r) => flooder.once('connect', r))
  flooder.on('error', () => {})
  const closed = new Promise<void>((r) => flooder.once('close', () => r()))
  // never read; 16 MB of enquire_link, far more than the kernel's socket buffers hold
  flooder.pause()
  const one = rawPdu(ENQUIRE_LINK, 1)
  const n = 1_000_000
  const flood = Buffer.allocUnsafe(n * 16)
  for (let i = 0; i < n; i++) one.copy(flood, i * 16)
  flooder.write(flood)
  // the engine stops taking its bytes: what it has not read stays unsent on the flooder's side
  let seen = -1
  await until(() => {
    const now = flooder.writableLength
    const still = now > 0 && now === seen
    seen = now
    return still
  }, 20_000, 'the engine to stop reading', 300)
  t.ok(seen > 0, `the engine reads no more of it (${seen} bytes still unsent)`)

  const esme = await Esme.connect({ port: engine.smppPort })
  t.teardown(() => esme.close())
  t.equal((await esme.bind('transceiver', { systemId: 'esme1', password: 'secret1' })).command_status, Status.ESME_ROK, 'another ESME binds meanwhile')
  t.equal((await esme.submit({ source_addr: 'Shop', source_addr_ton: 5, destination_addr: '447700900123', short_message: gsm('hi') })).command_status, Status.ESME_ROK, 'and submits')

  await Promise.race([closed, sleep(15_000).then(() => { throw new Error('the flooder was not closed') })])
  const lines = logLines(engine, 'the peer does not read what it is sent, closing')
  t.equal(lines.length, 1, 'one warn line')
  t.match(lines[0], { level: 'warn', remote: /^127\.0\.0\.8:\d+$/ })
  t.ok(Number(lines[0].queuedBytes) <= 65_536 + 128 * 1024, `what the engine held for it stayed bounded (${lines[0].queuedBytes} bytes)`)
})

t.test('refused binds: one log line per address a minute, not one per bind', async (t) => {
  const engine = await startEngine(t)
  for (let i = 0; i < 5; i++) {
    const esme = await Esme.connect({ port: engine.smppPort, localAddress: '127.0.0.9' })
    t.equal((await esme.bind('transceiver', { systemId: 'esme1', password: `wrong${i}` })).command_status, Status.ESME_RINVPASWD)
    await esme.close()
  }
  const esme = await Esme.connect({ port: engine.smppPort, localAddress: '127.0.0.10' })
  t.equal((await esme.bind('transceiver', { systemId: 'nobody', password: 'x' })).command_status, Status.ESME_RINVSYSID)
  await esme.close()
  await sleep(200)
  const lines = logLines(engine, 'bind refused')
  t.same(lines.map((l) => [l.ip, l.systemId, l.reason]), [['127.0.0.9', 'esme1', 'wrong password'], ['127.0.0.10', 'nobody', 'no such account']],
    'the first refusal from each address is a line with why; the other four from 127.0.0.9 a count a minute later')
})

t.test('from outside allowedIps a right and a wrong password get the same answer: ESME_RBINDFAIL over SMPP, 403 over HTTP; each counts as a failure', async (t) => {
  const engine = await startEngine(t, { accounts: [{ systemId: 'fenced', password: 'pw2', allowedIps: ['10.9.9.9'] }] as never })
  const bindAs = async (password: string): Promise<number> => {
    const esme = await Esme.connect({ port: engine.smppPort })
    try {
      return (await esme.bind('transceiver', { systemId: 'fenced', password })).command_status
    } finally {
      await esme.close()
    }
  }
  t.equal(await bindAs('pw2'), Status.ESME_RBINDFAIL, 'right password: ESME_RBINDFAIL')
  t.equal(await bindAs('wrong'), Status.ESME_RBINDFAIL, 'wrong password: ESME_RBINDFAIL too, not ESME_RINVPASWD')
  const login = async (password: string) => {
    const r = await engine.http('POST', '/api/v1/login', { systemId: 'fenced', password })
    return { status: r.status, json: r.json as { code?: string; error?: string } | undefined }
  }
  const right = await login('pw2')
  const wrong = await login('wrong')
  t.same([right.status, right.json?.code], [403, 'SMSC_ERR_IP_NOT_ALLOWED'], 'HTTP login, right password: 403')
  t.same([wrong.status, wrong.json?.code, wrong.json?.error], [403, right.json?.code, right.json?.error], 'wrong password: the same answer')
  // 10 failures a minute per address and name lock binds out (the 2 above count)
  for (let i = 0; i < 8; i++) await bindAs(`guess${i}`)
  t.equal(await bindAs('pw2'), Status.ESME_RBINDFAIL, 'still the same answer once locked out')
  const reasons = logLines(engine, 'bind refused').map((l) => String(l.reason))
  t.equal(reasons.length, 1, 'one log line (the rest counted a minute later)')
  t.match(reasons[0], /is not in allowedIps$/, 'with why')
  t.equal(await metric(engine, 'smsc_binds_refused_total'), 11, 'each counted as a refused bind')
})

t.test('an outbind sent by an ESME is answered with generic_nack ESME_RINVCMDID (outbind goes SMSC → ESME only), before and after bind', async (t) => {
  const engine = await startEngine(t)
  const raw = await RawSmpp.connect(engine.smppPort)
  t.teardown(() => raw.close())
  const cstr = (s: string) => Buffer.concat([Buffer.from(s, 'latin1'), Buffer.from([0])])
  raw.write(rawPdu(OUTBIND, 5, Buffer.concat([cstr('esme1'), cstr('secret1')])))
  t.match(await raw.next(), { commandId: GENERIC_NACK, commandStatus: Status.ESME_RINVCMDID, sequenceNumber: 5 }, 'before bind')
  raw.write(rawPdu(BIND_TRANSCEIVER, 6, rawBindBody('esme1', 'secret1')))
  t.equal((await raw.next()).commandStatus, Status.ESME_ROK)
  raw.write(rawPdu(OUTBIND, 7, Buffer.concat([cstr('esme1'), cstr('secret1')])))
  t.match(await raw.next(), { commandId: GENERIC_NACK, commandStatus: Status.ESME_RINVCMDID, sequenceNumber: 7 }, 'bound')
  t.ok(await answers(raw, 8), 'the session stays up')
})

t.test('connections the session_init timer closes: one log line per address a minute with a count, not one each', async (t) => {
  const engine = await startEngine(t, { timers: { sessionInitMs: 1000 } })
  const idle = []
  for (let i = 0; i < 5; i++) idle.push(await openFrom(t, engine, '127.0.0.15'))
  idle.push(await openFrom(t, engine, '127.0.0.16'))
  for (const raw of idle) await raw.waitClosed(8000)
  t.pass('all six closed by the session_init timer')
  await sleep(200)
  const lines = logLines(engine, 'session_init timer expired')
  t.same(lines.map((l) => [l.level, l.ip]), [['info', '127.0.0.15'], ['info', '127.0.0.16']],
    'the first from each address is a line; the other four from 127.0.0.15 a count a minute later')
  t.match(lines[0], { remote: /^127\.0\.0\.15:\d+$/ }, 'naming the connection')
})

t.test('bind guessing across system_ids: after 30 failed binds from one address a minute, whatever the names, its binds get ESME_RBINDFAIL; other addresses bind', async (t) => {
  const engine = await startEngine(t)
  const bindFrom = async (from: string, systemId: string, password: string): Promise<number> => {
    const esme = await Esme.connect({ port: engine.smppPort, localAddress: from })
    try {
      return (await esme.bind('transceiver', { systemId, password })).command_status
    } finally {
      await esme.close()
    }
  }
  // 29 names once each and esme1 with a wrong password: 30 failures, none of them ten for one name
  for (let i = 0; i < 29; i++) t.equal(await bindFrom('127.0.0.17', `guess${i}`, 'x'), Status.ESME_RINVSYSID, `guess${i}: no such account`)
  t.equal(await bindFrom('127.0.0.17', 'esme1', 'wrong'), Status.ESME_RINVPASWD, 'the thirtieth: a wrong password')
  t.equal(await bindFrom('127.0.0.17', 'esme1', 'secret1'), Status.ESME_RBINDFAIL, 'now even the right password from that address gets ESME_RBINDFAIL')
  t.equal(await bindFrom('127.0.0.17', 'guess99', 'x'), Status.ESME_RBINDFAIL, 'and any other name')
  t.equal(await bindFrom('127.0.0.18', 'esme1', 'secret1'), Status.ESME_ROK, 'another address binds')
})
