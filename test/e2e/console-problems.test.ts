/**
 * The console's overview says when the engine is degraded, with what GET /healthz names (an upstream connector
 * down, the overload or disk guard refusing submits), and stops saying it once that is over. In chromium, against an
 * engine whose smpp connector points at a port nobody listens on; the operator then stops that connector (a
 * connector stopped on purpose is not a problem).
 */
import t from 'tap'
import { freePorts, httpCall, startEngine } from '../helpers/engine'
import { api, operatorToken } from '../helpers/lifecycle'
import { NEEDS_BROWSER, openPage } from '../helpers/browser'

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

  const token = await operatorToken(engine.httpPort, ADMIN_PASSWORD)
  t.equal((await api(engine.httpPort, 'POST', '/api/v1/connectors/carrier-a/stop', undefined, token)).status, 200, 'the operator stops the connector')
  await page.waitForSelector('#health-problems', { state: 'detached' })
  t.match(await page.textContent('#health'), /status\s*ok/, 'ok again: a stopped connector is down on purpose')
  t.match(await health(), { status: 'ok' })
  t.same(pageErrors, [], 'no page errors')
})
