/**
 * The console's overview says when the engine is degraded, with what GET /healthz names (an upstream connector
 * down, the overload or disk guard refusing submits), and stops saying it once that is over. In chromium, against an
 * engine whose smpp connector points at a port nobody listens on; the operator then stops that connector (a
 * connector stopped on purpose is not a problem). The connectors panel's states: paused (a provider that throttles) and
 * stalled (an upstream that keeps its bind and answers no submit_sm).
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { freePorts, httpCall, projectRoot, startEngine } from '../helpers/engine'
import { api, operatorToken, startSink } from '../helpers/lifecycle'
import { NEEDS_BROWSER, openPage } from '../helpers/browser'
import { startUpstream } from '../helpers/upstream'

const ADMIN_PASSWORD = 'problems-console-admin-1'

t.test('a degraded engine shows its problems on the overview, and they go when resolved', NEEDS_BROWSER, async (t) => {
  const [nobody] = await freePorts(1)
  const engine = await startEngine(t, {
    extra: {
      admin: { password: ADMIN_PASSWORD },
      connectors: [{ id: 'carrier-a', kind: 'smpp', host: '127.0.0.1', port: nobody, systemId: 'x', password: 'y', reconnectMs: [200, 1000] }],
      telemetry: { intervalMs: 250 },
    },
  })
  const health = async () => (await httpCall(engine.httpPort, 'GET', '/healthz')).json as { status: string; problems?: string[] }
  t.match(await health(), { status: 'degraded', problems: ['connector carrier-a is down'] }, '/healthz: degraded')

  const { page, pageErrors } = await openPage(t)
  await page.goto(`http://127.0.0.1:${engine.httpPort}/`)
  await page.fill('input[name=password]', ADMIN_PASSWORD)
  await page.click('button[type=submit]')
  await page.waitForSelector('#health-problems')
  t.match(await page.textContent('#health-problems'), /Degraded.*connector carrier-a is down/s, 'the overview names the problem')
  t.match(await page.textContent('#health'), /status\s*degraded: one problem/, 'the health panel says degraded')

  // the connectors panel: each connector's state, and the operator's stop and start
  await page.waitForSelector('#connectors tr[data-connector=carrier-a][data-state=down]')
  t.equal(await page.getAttribute('#connectors tr[data-connector=simulator]', 'data-state'), 'up', 'the simulator beside it, up')
  t.equal(await page.locator('#connectors tr[data-connector=simulator] button').count(), 0, 'the simulator has no stop button')
  page.on('dialog', (d) => void d.accept())
  await page.click('#connectors tr[data-connector=carrier-a] button[data-action=stop]')
  await page.waitForSelector('#connectors tr[data-connector=carrier-a][data-state=stopped]')
  const token = await operatorToken(engine.httpPort, ADMIN_PASSWORD)
  const listed = async () => ((await api(engine.httpPort, 'GET', '/api/v1/connectors', undefined, token)).json as { connectors: { id: string; stopped: boolean }[] }).connectors
  t.match((await listed()).find((c) => c.id === 'carrier-a'), { stopped: true }, 'the console stopped it (the admin API says so)')
  await page.waitForSelector('#health-problems', { state: 'detached' })
  t.match(await page.textContent('#health'), /status\s*ok/, 'ok again: a stopped connector is down on purpose')
  t.match(await health(), { status: 'ok' })
  await page.click('#connectors tr[data-connector=carrier-a] button[data-action=start]')
  await page.waitForSelector('#connectors tr[data-connector=carrier-a][data-state=down]')
  t.match((await listed()).find((c) => c.id === 'carrier-a'), { stopped: false }, 'and started it again: down, nobody listens there')
  // a phone: the table with its Stop button scrolls in its panel, the page does not scroll sideways
  await page.setViewportSize({ width: 360, height: 780 })
  const width = () => page.evaluate('document.documentElement.scrollWidth') as Promise<number>
  for (let i = 0; i < 20 && await width() > 360; i++) await new Promise((r) => setTimeout(r, 100)) // the resize's layout
  t.equal(await width(), 360, '360 px: the overview with an upstream connector fits')
  t.ok(await page.isVisible('#connectors tr[data-connector=carrier-a] button[data-action=stop]'), 'its Stop button is still there')
  t.same(pageErrors, [], 'no page errors')
})

t.test('a connector its provider throttles shows paused, until when, in the connectors panel', NEEDS_BROWSER, async (t) => {
  const sink = await startSink(t)
  sink.answer = () => 429
  const engine = await startEngine(t, {
    extra: {
      admin: { password: ADMIN_PASSWORD },
      connectors: [{ id: 'prov', kind: 'http', url: sink.url, throttlePauseMs: [20_000, 30_000] }],
      routes: { mt: [{ name: 'uk', match: { destPrefix: ['44'] }, action: { connector: 'prov' } }, { name: 'rest', match: {}, action: { connector: 'simulator' } }], mo: [] },
      telemetry: { intervalMs: 250 },
    },
  })
  const token = await operatorToken(engine.httpPort, ADMIN_PASSWORD)
  const sent = await api(engine.httpPort, 'POST', '/api/v1/messages', { systemId: 'esme1', from: 'Shop', to: '447700900123', text: 'hi' }, token)
  t.equal(sent.status, 202, sent.body)
  const { page, pageErrors } = await openPage(t)
  await page.goto(`http://127.0.0.1:${engine.httpPort}/`)
  await page.fill('input[name=password]', ADMIN_PASSWORD)
  await page.click('button[type=submit]')
  await page.waitForSelector('#connectors tr[data-connector=prov][data-state=paused]', { timeout: 15_000 })
  t.match(await page.textContent('#connectors tr[data-connector=prov] .pill'), /^paused until \d\d:\d\d:\d\d$/, 'paused, and until when')
  t.ok(sink.posted.length >= 1, 'the provider answered 429')
  t.same(pageErrors, [], 'no page errors')
  // and the CLI, through the running engine
  for (let i = 0; i < 200 && !fs.existsSync(path.join(engine.dataDir, 'control.json')); i++) await new Promise((r) => setTimeout(r, 25))
  const list = spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'smsc.js'), 'connector', 'list', '--config', engine.configPath], { encoding: 'utf8', timeout: 60_000 })
  t.equal(list.status, 0, list.stderr)
  t.match(list.stdout, /^prov\s+http\s+paused\s+\d+\s+\d+\s+0\s+\d+\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/m, 'smsc connector list: paused, until when')
})

t.test('an smpp connector whose upstream answers no submit_sm shows stalled, since when and after how many, in the connectors panel (stallAfterTimeouts)', NEEDS_BROWSER, async (t) => {
  const up = await startUpstream(t, { onSubmit: () => 'hold' }) // binds, answers enquire_link, never a submit_sm
  const engine = await startEngine(t, {
    extra: {
      admin: { password: ADMIN_PASSWORD },
      // down for 30 s after the stall: the panel has time to show it
      connectors: [{ id: 'carrier-s', kind: 'smpp', host: '127.0.0.1', port: up.port, systemId: 'esme1', password: 'secret1', windowSize: 2, responseMs: 300, reconnectMs: [30_000, 30_000], stallAfterTimeouts: 2 }],
      routes: { mt: [{ name: 'all', match: {}, action: { failover: ['carrier-s', 'simulator'] } }], mo: [] },
      telemetry: { intervalMs: 250 },
    },
  })
  const token = await operatorToken(engine.httpPort, ADMIN_PASSWORD)
  const listed = async () => ((await api(engine.httpPort, 'GET', '/api/v1/connectors', undefined, token)).json as { connectors: { id: string; up: boolean }[] }).connectors.find((c) => c.id === 'carrier-s')
  for (let i = 0; i < 200 && !(await listed())?.up; i++) await new Promise((r) => setTimeout(r, 25))
  for (const to of ['447700900001', '447700900002']) {
    const sent = await api(engine.httpPort, 'POST', '/api/v1/messages', { systemId: 'esme1', from: 'Shop', to, text: 'hi' }, token)
    t.equal(sent.status, 202, sent.body)
  }
  const { page, pageErrors } = await openPage(t)
  await page.goto(`http://127.0.0.1:${engine.httpPort}/`)
  await page.fill('input[name=password]', ADMIN_PASSWORD)
  await page.click('button[type=submit]')
  await page.waitForSelector('#connectors tr[data-connector=carrier-s][data-state=stalled]', { timeout: 15_000 })
  t.match(await page.textContent('#connectors tr[data-connector=carrier-s] .pill'), /^stalled since \d\d:\d\d:\d\d, 2 unanswered$/, 'stalled, since when, after how many')
  t.equal(up.received('submit_sm').length, 2, 'the upstream got the two and answered neither')
  t.match(await listed(), { up: false, stalled: true, stalledTimeouts: 2, stalledSince: /^\d{4}-\d\d-\d\dT/ }, 'GET /api/v1/connectors says the same')
  const cli = spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'smsc.js'), 'connector', 'list', '--config', engine.configPath], { encoding: 'utf8', timeout: 60_000 })
  t.match(cli.stdout, /^carrier-s\s+smpp\s+stalled\s+\d+\s+\d+\s+\d+\s+\d+\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(2 submit_sm unanswered\)$/m, 'smsc connector list: stalled, since when, after how many')
  t.same(pageErrors, [], 'no page errors')
})
