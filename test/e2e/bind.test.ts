/**
 * Bind, the bind-state matrix, enquire_link and unbind over loopback with the npm `smpp` client
 * (SMPP 3.4 §2.3 session states, §4.1 bind operations, §4.2 unbind, §4.11 enquire_link).
 */
import t from 'tap'
import { startEngine } from '../helpers/engine'
import { Esme, Status, bindStatus, gsm, openEsme, type BindKind } from '../helpers/esme'

const limited = { systemId: 'limited', password: 'pw1', maxBinds: 1 }

t.test('bind operations and the bind-state matrix', async (t) => {
  const engine = await startEngine(t, {
    accounts: [{ systemId: 'esme1', password: 'secret1' }, limited],
  })
  const connect = async () => {
    const esme = await Esme.connect({ port: engine.smppPort })
    t.teardown(() => esme.close())
    return esme
  }

  for (const kind of ['transmitter', 'receiver', 'transceiver'] as BindKind[]) {
    t.test(`bind_${kind} with the right password succeeds`, async (t) => {
      const esme = await connect()
      const resp = await esme.bind(kind, { systemId: 'esme1', password: 'secret1' }, { interface_version: 0x34 })
      t.equal(resp.command, `bind_${kind}_resp`)
      t.equal(resp.command_status, Status.ESME_ROK)
      t.type(resp.system_id, 'string', 'bind_resp carries the SMSC system_id')
      // SMPP 3.4 §4.1.2: sc_interface_version TLV in bind_resp when the ESME supports TLVs (0x34)
      t.ok(resp.sc_interface_version !== undefined, 'bind_resp carries sc_interface_version')
      await esme.close()
    })
  }

  t.test('bind with an SMPP 5.0 interface_version succeeds', async (t) => {
    const esme = await connect()
    const resp = await esme.bind('transceiver', { systemId: 'esme1', password: 'secret1' }, { interface_version: 0x50 })
    t.equal(resp.command_status, Status.ESME_ROK)
  })

  t.test('wrong password → ESME_RINVPASWD', async (t) => {
    const esme = await connect()
    const resp = await esme.bind('transceiver', { systemId: 'esme1', password: 'wrong' })
    t.equal(resp.command_status, Status.ESME_RINVPASWD)
  })

  t.test('unknown system_id → ESME_RINVSYSID', async (t) => {
    const esme = await connect()
    const resp = await esme.bind('transmitter', { systemId: 'nobody', password: 'secret1' })
    t.equal(resp.command_status, Status.ESME_RINVSYSID)
  })

  t.test('second bind on the same session → ESME_RALYBND', async (t) => {
    const esme = await connect()
    t.equal((await esme.bind('transmitter', { systemId: 'esme1', password: 'secret1' })).command_status, Status.ESME_ROK)
    const again = await esme.bind('receiver', { systemId: 'esme1', password: 'secret1' })
    t.equal(again.command_status, Status.ESME_RALYBND)
    // the first bind still works
    t.equal((await esme.request('enquire_link')).command_status, Status.ESME_ROK)
  })

  t.test('submit_sm on a receiver bind → ESME_RINVBNDSTS', async (t) => {
    const esme = await openEsme(t, { port: engine.smppPort, kind: 'receiver' })
    const resp = await esme.submit({ short_message: gsm('not allowed'), data_coding: 0 })
    t.equal(resp.command_status, Status.ESME_RINVBNDSTS)
  })

  t.test('submit_sm before bind → ESME_RINVBNDSTS', async (t) => {
    const esme = await connect()
    const resp = await esme.submit({ short_message: gsm('too early'), data_coding: 0 })
    t.equal(resp.command_status, Status.ESME_RINVBNDSTS)
  })

  t.test('enquire_link is answered on every bind kind', async (t) => {
    for (const kind of ['transmitter', 'receiver', 'transceiver'] as BindKind[]) {
      const esme = await openEsme(t, { port: engine.smppPort, kind })
      const resp = await esme.request('enquire_link')
      t.equal(resp.command, 'enquire_link_resp', kind)
      t.equal(resp.command_status, Status.ESME_ROK, kind)
      await esme.close()
    }
  })

  t.test('unbind is answered with unbind_resp and the SMSC closes the socket', async (t) => {
    const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver' })
    const resp = await esme.request('unbind')
    t.equal(resp.command, 'unbind_resp')
    t.equal(resp.command_status, Status.ESME_ROK)
    await t.resolves(esme.waitClosed(5000), 'socket closed by the SMSC after unbind_resp')
  })

  t.test('maxBinds exceeded → ESME_RBINDFAIL, and a slot frees up on unbind', async (t) => {
    const creds = { systemId: limited.systemId, password: limited.password }
    const first = await connect()
    t.equal((await first.bind('transmitter', creds)).command_status, Status.ESME_ROK)
    const second = await connect()
    t.equal((await second.bind('transmitter', creds)).command_status, Status.ESME_RBINDFAIL)
    await first.unbind()
    // the bind count is released once the first session is gone
    let status = -1
    for (let i = 0; i < 20 && status !== Status.ESME_ROK; i++) {
      const third = await connect()
      status = (await third.bind('transmitter', creds)).command_status
      if (status !== Status.ESME_ROK) await new Promise((r) => setTimeout(r, 100))
    }
    t.equal(status, Status.ESME_ROK, 'bind succeeds after the first one unbound')
  })
})

t.test('the SMSC probes an idle bind with enquire_link (enquire_link_timer)', async (t) => {
  const engine = await startEngine(t, { timers: { enquireLinkMs: 300 } })
  const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver' })
  const deadline = Date.now() + 5000
  while (!esme.received.some((p) => p.command === 'enquire_link') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  t.ok(esme.received.some((p) => p.command === 'enquire_link'), 'enquire_link received from the SMSC')
  // our helper answered it; the bind is still usable
  t.equal((await esme.request('enquire_link')).command_status, Status.ESME_ROK, 'bind still up')
})

t.test('a refused bind or login is logged with the client address and why (what support and fail2ban read)', async (t) => {
  const engine = await startEngine(t, { accounts: [{ systemId: 'esme1', password: 'secret1' }, limited, { systemId: 'fenced', password: 'pw2', allowedIps: ['10.9.9.9'] }] as never })
  const logged = (msg: string): Record<string, unknown>[] => engine.output().split('\n').filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => o.msg === msg)
  // each refusal from an address of its own: refused binds are one log line per address a minute
  const bindAs = async (systemId: string, password: string, from: string): Promise<number> => {
    const esme = await Esme.connect({ port: engine.smppPort, localAddress: from })
    t.teardown(() => esme.close())
    return (await esme.bind('transceiver', { systemId, password })).command_status
  }
  t.equal(await bindAs('esme1', 'wrong', '127.0.0.21'), Status.ESME_RINVPASWD)
  t.equal(await bindAs('nobody', 'x', '127.0.0.22'), Status.ESME_RINVSYSID)
  t.equal(await bindAs('fenced', 'pw2', '127.0.0.23'), Status.ESME_RBINDFAIL)
  t.equal(await bindAs('limited', 'pw1', '127.0.0.1'), Status.ESME_ROK)
  t.equal(await bindAs('limited', 'pw1', '127.0.0.24'), Status.ESME_RBINDFAIL)
  const login = await engine.http('POST', '/api/v1/login', { systemId: 'esme1', password: 'wrong' })
  t.equal(login.status, 401)
  const deadline = Date.now() + 3000
  while (logged('login refused').length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))

  const local = /^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/
  const binds = logged('bind refused')
  t.same(binds.map((b) => [b.systemId, b.status, b.reason]), [
    ['esme1', 'ESME_RINVPASWD', 'wrong password'],
    ['nobody', 'ESME_RINVSYSID', 'no such account'],
    ['fenced', 'ESME_RBINDFAIL', `${String(binds[2]?.remote).replace(/:\d+$/, '')} is not in allowedIps`],
    ['limited', 'ESME_RBINDFAIL', 'maxBinds 1 reached'],
  ], 'each refusal says why: the three ESME_RBINDFAIL causes are told apart')
  t.same(binds.map((b) => String(b.remote).replace(/:\d+$/, '')), ['127.0.0.21', '127.0.0.22', '127.0.0.23', '127.0.0.24'], `with the client address and port (${binds.map((b) => b.remote).join(', ')})`)
  t.notOk(engine.output().includes('"wrong"'), 'never the password')
  t.match(logged('login refused'), [{ level: 'info', systemId: 'esme1', what: 'API login: wrong systemId or password', remote: local }], 'an HTTP login too')
  const metrics = (await engine.http('GET', '/metrics')).body
  t.match(metrics, /\nsmsc_auth_failures_total 3\n/, '/metrics counts the three refused credentials (two binds, one login)')
  t.match(metrics, /\nsmsc_binds_refused_total 2\n/, 'and the two binds refused with good credentials apart')
  t.match(metrics, /\nsmsc_account_binds\{account="limited"\} 1\n/, 'binds by account')
  const bytes = Number(/\nsmsc_store_bytes (\d+)\n/.exec(metrics)?.[1])
  const free = Number(/\nsmsc_store_free_bytes (\d+)\n/.exec(metrics)?.[1])
  t.ok(bytes > 0 && free > 0, `the store's size (${bytes}) and free space (${free}) for disk alerts`)
})

t.test('ten failed HTTP logins from one address in a minute: that address is refused (429), the right password included', async (t) => {
  const engine = await startEngine(t)
  for (let i = 0; i < 10; i++) t.equal((await engine.http('POST', '/api/v1/login', { systemId: 'esme1', password: `wrong${i}` })).status, 401, `failure ${i + 1}: 401`)
  const blocked = await engine.http('POST', '/api/v1/login', { systemId: 'esme1', password: 'secret1' })
  t.match(blocked, { status: 429, json: { code: 'SMSC_ERR_RATE_LIMITED', error: /^too many failed logins from \S+ as esme1: try again in (60|59) s$/ } }, 'the eleventh attempt is refused, however right')
  t.equal((await engine.http('POST', '/api/v1/login', { systemId: 'other', password: 'guess' })).status, 401, 'a first failure as another name')
  const parallel = await Promise.all(Array.from({ length: 12 }, (_, i) => engine.http('POST', '/api/v1/login', { systemId: 'other', password: `guess${i}` })))
  t.ok(parallel.filter((r) => r.status === 401).length <= 9, `after it, parallel guesses count from their start: at most 9 more checked (${parallel.map((r) => r.status).join(' ')})`)
  t.ok(parallel.some((r) => r.status === 429), 'the rest refused')
  const key = await engine.http('POST', '/api/v1/messages', { from: '1', to: '4915112345678', text: 'x' })
  t.equal(key.status, 401, 'a request with no credentials is not a guess: still answered 401')
})

t.test('logins refused during a lockout are counted and logged, the log once a minute per address (then a count), not once per guess', async (t) => {
  const engine = await startEngine(t)
  const statuses: number[] = []
  for (let i = 0; i < 30; i++) statuses.push((await engine.http('POST', '/api/v1/login', { systemId: 'esme1', password: `wrong${i}` })).status)
  t.same(statuses, [...Array(10).fill(401), ...Array(20).fill(429)], '10 checked and refused, then 20 refused unchecked (429)')
  const metrics = (await engine.http('GET', '/metrics')).body
  t.match(metrics, /\nsmsc_auth_failures_total 10\n/, 'the ten refused credentials')
  t.match(metrics, /\nsmsc_auth_lockout_refusals_total 20\n/, 'and the twenty refused during the lockout, apart')
  const refused = () => engine.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => o.msg === 'login refused')
  const deadline = Date.now() + 3000
  while (refused().length < 11 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  await new Promise((r) => setTimeout(r, 200))
  const lines = refused()
  t.equal(lines.filter((l) => l.what === 'API login: wrong systemId or password').length, 10, 'each checked refusal is a line')
  const lockout = lines.filter((l) => l.what !== 'API login: wrong systemId or password')
  t.equal(lockout.length, 1, 'the lockout\'s refusals: one line for the address in this minute (the rest a count a minute later), not twenty')
  t.match(lockout[0], { level: 'info', what: 'API login, refused unchecked during the lockout', systemId: 'esme1', remote: /^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/ })
})

t.test('ten failed binds from one address as one system_id in a minute: that pair is refused, other accounts from the address are not', async (t) => {
  const engine = await startEngine(t, { accounts: [{ systemId: 'esme1', password: 'secret1' }, { systemId: 'esme2', password: 'secret2' }] as never })
  for (let i = 0; i < 10; i++) t.equal(await bindStatus(engine.smppPort, 'esme1', `bad${i}`), Status.ESME_RINVPASWD, `failure ${i + 1}`)
  t.equal(await bindStatus(engine.smppPort, 'esme1', 'secret1'), Status.ESME_RBINDFAIL, 'the eleventh, however right, is refused')
  t.equal(engine.output().split('\n').filter((l) => l.includes('"msg":"bind refused"')).length, 1, 'one log line for the address: the other refusals are counted in a line a minute later, with the last one\'s reason')
  t.equal(await bindStatus(engine.smppPort, 'esme2', 'secret2'), Status.ESME_ROK, 'another account binds from the same address')
})

t.test('a pool of binds with the right password at once is never throttled', async (t) => {
  const engine = await startEngine(t, { accounts: [{ systemId: 'pool', password: 'pw', maxBinds: 100 }] as never })
  const statuses = await Promise.all(Array.from({ length: 40 }, () => bindStatus(engine.smppPort, 'pool', 'pw')))
  t.same([...new Set(statuses)], [Status.ESME_ROK], '40 binds at once from one address, all bound')
})
