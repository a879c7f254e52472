/**
 * Connectors change while the engine runs (Smsc.reloadConfig, what SIGHUP calls with the config file read again):
 * an added connector can be routed to and carries traffic, binds made before stay up; a removal is refused while a
 * route names the connector, and once the routes moved, what the connector held (in flight, queued) is routed
 * again and carried by the other one, none lost, while what it had already accepted waits for its receipt; a
 * changed connector rebinds with its new settings and the others are untouched; a bad config changes nothing.
 * In-process engines (createSmsc) against scripted node-smpp upstreams.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createSmsc, type Options, type Smsc } from '../../engine/index'
import { OPERATOR } from '../../engine/accounts'
import { MessageState } from '../../engine/protocol/constants'
import { openEsme, gsm } from '../helpers/esme'
import { startUpstream } from '../helpers/upstream'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

/** The config an engine starts with; a reload gives it again with changes, as an edited file would. */
function baseConfig(dataDir: string, over: Record<string, unknown> = {}): Options & Record<string, unknown> {
  return {
    dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'esme1', password: 'secret1' }],
    simulator: { deliveryDelayMs: [10, 20], outcomes: { DELIVRD: 1 } },
    dispatch: { retryMs: [100, 1000] },
    log: { level: 'silent' },
    ...over,
  }
}

async function engine(t: { teardown(fn: () => unknown): void }, over: Record<string, unknown>, logs: string[] = []): Promise<{ smsc: Smsc; config: (o?: Record<string, unknown>) => Options }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-reload-'))
  const smsc = await createSmsc(baseConfig(dataDir, over), { log: (level, msg, f) => { logs.push(`${level} ${msg} ${JSON.stringify(f ?? {})}`) } })
  t.teardown(async () => { await smsc.stop(); fs.rmSync(dataDir, { recursive: true, force: true }) })
  return { smsc, config: (o = {}) => baseConfig(dataDir, { ...over, ...o }) }
}

const upstream = (id: string, port: number, over: Record<string, unknown> = {}) =>
  ({ id, kind: 'smpp', host: '127.0.0.1', port, systemId: 'x', password: 'y', windowSize: 10, reconnectMs: [50, 500], responseMs: 2000, ...over })
const via = (action: Record<string, unknown>) => ({ mt: [{ name: 'all', match: {}, action }], mo: [] })
const state = (smsc: Smsc, id: string) => smsc.connectorStats().find((c) => c.id === id)

t.test('a reload adds an smpp connector: routes may name it, messages flow through it, binds made before stay', async (t) => {
  const up = await startUpstream(t)
  const logs: string[] = []
  const { smsc, config } = await engine(t, {}, logs)
  const esme = await openEsme(t, { port: smsc.ports.smpp })
  await t.rejects(smsc.admin.setRoutes(OPERATOR, via({ connector: 'up' })), /must be a configured connector id/, 'no route may name it before')

  const what = await smsc.reloadConfig(config({ connectors: [upstream('up', up.port)] }))
  t.equal(what, 'connectors added up', 'the reload says what it did')
  t.match(logs.join('\n'), /info connector added \(config reload\) \{"connector":"up","kind":"smpp"\}/, 'one line for the connector')
  t.ok(smsc.metrics.eventsSince(0).some((e) => e.type === 'connector' && e.detail === 'up added (smpp)'), 'and a telemetry event')
  await until('the new connector to bind', () => state(smsc, 'up')?.up === true)
  await smsc.admin.setRoutes(OPERATOR, via({ connector: 'up' }))

  t.notOk(esme.closed, 'the ESME bound before the reload is still bound')
  const r = await esme.submit({ source_addr: '1', destination_addr: '447700900001', short_message: gsm('through the new one') })
  t.equal(r.command_status, 0, 'submitted on the same bind')
  await until('the upstream to get it', () => up.received('submit_sm').length === 1)
  t.equal(up.received('submit_sm')[0].destination_addr, '447700900001', 'carried by the connector the reload added')
  t.equal(await smsc.reloadConfig(config({ connectors: [upstream('up', up.port)] })), 'connectors and routes unchanged', 'the same file again changes nothing')
  t.equal(up.connections, 1, 'an unchanged connector keeps its bind')
})

t.test('a reload that removes a connector a route names is refused, naming the route; once the routes moved, what it held goes to the other, none lost', async (t) => {
  let accepted = 0
  const a = await startUpstream(t, { onSubmit: () => (accepted++ === 0 ? 0 : 'hold') }) // takes the first, then holds one in flight
  const b = await startUpstream(t)
  const { smsc, config } = await engine(t, {
    connectors: [upstream('a', a.port, { windowSize: 1 }), upstream('b', b.port)],
  })
  await smsc.admin.setRoutes(OPERATOR, { mt: [{ name: 'to-a', match: {}, action: { connector: 'a' } }], mo: [] }) // through the API: the store's routes
  await until('both to bind', () => state(smsc, 'a')?.up === true && state(smsc, 'b')?.up === true)
  const esme = await openEsme(t, { port: smsc.ports.smpp })
  const ids: string[] = []
  for (let i = 0; i < 5; i++) ids.push((await esme.submit({ source_addr: '1', destination_addr: `44770090010${i}`, short_message: gsm(`m${i}`), registered_delivery: 1 })).message_id as string)
  await until('a to take the first and hold the second', () => a.received('submit_sm').length === 2)
  await sleep(100)

  const without = { connectors: [upstream('b', b.port)] }
  await t.rejects(smsc.reloadConfig(config(without)),
    { code: 'SMSC_ERR_CONFIG_INVALID', message: 'route "to-a" (routes.mt[0]) sends to connector "a", which config.connectors no longer has: change the routes first (smsc route set FILE, PUT /api/v1/routes), then reload' },
    'refused in one line naming the route')
  t.ok(state(smsc, 'a')?.up, 'nothing changed: a is still there and bound')

  await smsc.admin.setRoutes(OPERATOR, via({ connector: 'b' }))
  t.equal(await smsc.reloadConfig(config(without)), 'connectors removed a; 1 unchanged')
  t.equal(state(smsc, 'a'), undefined, 'a is gone')
  t.equal(a.received('unbind').length, 1, 'and unbound from its upstream cleanly')
  await until('b to get what a held and had queued', () => b.received('submit_sm').length === 4)
  await sleep(300)
  t.same(b.received('submit_sm').map((p) => p.destination_addr).sort(), ['447700900101', '447700900102', '447700900103', '447700900104'],
    'the one in flight and the three queued, each once')
  const first = smsc.lookup(ids[0])
  t.equal(first?.dests[0].connector, 'a', 'the one a accepted stays with a')
  t.equal(first?.dests[0].state, MessageState.ENROUTE, 'waiting for its receipt (or its validity)')
})

t.test('a reload that changes a connector (its password) rebinds it with the new one; the others keep their binds', async (t) => {
  const binds: string[] = []
  const a = await startUpstream(t, { onBind: (pdu) => { binds.push(String(pdu.password)); return 0 } })
  const b = await startUpstream(t)
  const logs: string[] = []
  const { smsc, config } = await engine(t, { connectors: [upstream('a', a.port, { password: 'old' }), upstream('b', b.port)] }, logs)
  await until('both to bind', () => state(smsc, 'a')?.up === true && state(smsc, 'b')?.up === true)
  t.same(binds, ['old'])

  t.equal(await smsc.reloadConfig(config({ connectors: [upstream('a', a.port, { password: 'new' }), upstream('b', b.port)] })), 'connectors changed a; 1 unchanged')
  t.match(logs.join('\n'), /info connector changed \(config reload\): restarting it with the new settings \{"connector":"a","fields":\["password"\]\}/, 'the line names the field, never its value')
  t.notMatch(logs.join('\n'), /"new"/, 'the password is not logged')
  t.equal(a.received('unbind').length, 1, 'the old bind unbound first')
  await until('a to bind again', () => state(smsc, 'a')?.up === true)
  t.same(binds, ['old', 'new'], 'then bound with the new password')
  t.equal(b.connections, 1, 'b was not touched')
  t.equal(b.received('unbind').length, 0)
  t.same(smsc.connectorStats().map((c) => c.id), ['simulator', 'a', 'b'], 'in the config\'s order still')
})

t.test('a bad config is refused whole, in one line naming the key; other changed sections need a restart', async (t) => {
  const b = await startUpstream(t)
  const logs: string[] = []
  const { smsc, config } = await engine(t, { connectors: [upstream('b', b.port)] }, logs)
  await until('b to bind', () => state(smsc, 'b')?.up === true)
  const bad = config({ connectors: [upstream('b', b.port), { id: 'c', kind: 'smpp', host: '127.0.0.1', systemId: 'x', password: 'y' }] })
  await t.rejects(smsc.reloadConfig(bad), { code: 'SMSC_ERR_CONFIG_INVALID', message: 'config.connectors[1].port is required' })
  await t.rejects(smsc.reloadConfig(config({ connectors: [], timers: { responseMs: 5 } })), { message: /^config\.timers\.responseMs must be an integer between 100/ },
    'a bad key elsewhere refuses the connectors too')
  // A URL only the connector's own parse would refuse: its actor crashed at every restart, and the engine stopped.
  await t.rejects(smsc.reloadConfig(config({ connectors: [upstream('b', b.port), { id: 'h', kind: 'http', url: 'http://exa%mple.com/' }] })),
    { code: 'SMSC_ERR_CONFIG_INVALID', message: 'config.connectors[1].url must be an http:// or https:// URL (got "http://exa%mple.com/")' })
  t.same(smsc.connectorStats().map((c) => c.id), ['simulator', 'b'], 'nothing changed')
  t.equal(b.connections, 1)

  const what = await smsc.reloadConfig(config({ connectors: [upstream('b', b.port)], timers: { responseMs: 5000 }, session: { windowSize: 5 } }))
  t.equal(what, 'connectors and routes unchanged (timers, session need a restart)')
  t.match(logs.join('\n'), /warn config timers, session changed: needs a restart/, 'one warning line names them')
})

t.test('one edit can move the file\'s routes and remove the connector they named: both applied, the routes audited', async (t) => {
  const a = await startUpstream(t)
  const b = await startUpstream(t)
  const { smsc, config } = await engine(t, { connectors: [upstream('a', a.port), upstream('b', b.port)], routes: via({ connector: 'a' }) })
  await until('both to bind', () => state(smsc, 'a')?.up === true && state(smsc, 'b')?.up === true)
  t.equal(await smsc.reloadConfig(config({ connectors: [upstream('b', b.port)], routes: via({ connector: 'b' }) })),
    'connectors removed a; 1 unchanged; routes replaced by the file\'s (1 MT, 0 MO)')
  t.same(smsc.admin.getRoutes().mt[0].action, { connector: 'b' }, 'the file\'s routes are in force')
  t.match(smsc.admin.audit(OPERATOR, { limit: 1 })[0], { action: 'routes.set', by: 'admin' })
  const esme = await openEsme(t, { port: smsc.ports.smpp })
  t.equal((await esme.submit({ source_addr: '1', destination_addr: '447700900001', short_message: gsm('x') })).command_status, 0)
  await until('b to carry it', () => b.received('submit_sm').length === 1)
})
