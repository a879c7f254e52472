/**
 * The Traffic pane of an account in the console (Debian's chromium, playwright-core, a real engine): the last 7 UTC
 * days, newest first, with today's accepted and refused submits and receipts as GET /api/v1/accounts/{id}/stats
 * gives them; a reseller's pane adds a row with its users. Screenshot: test-artifacts/console/traffic-*.png.
 */
import t from 'tap'
import path from 'node:path'
import { startEngine, type AccountConfig } from '../helpers/engine'
import { gsm, isReceipt, openEsme } from '../helpers/esme'
import { api } from '../helpers/ws'
import { ARTIFACTS, consoleReady, NEEDS_BROWSER, openPage, waitForExpression } from '../helpers/browser'

const ADMIN_PASSWORD = 'console-traffic-e2e'

t.test('an account\'s Traffic pane shows its last 7 days as the API counts them', NEEDS_BROWSER, async (t) => {
  consoleReady()
  const engine = await startEngine(t, {
    accounts: [{ systemId: 'res1', password: 'res1-pw', role: 'reseller' }, { systemId: 'shop', password: 'shop-pw', parent: 'res1', dailyQuota: 3 }] as unknown as AccountConfig[],
    simulator: { deliveryDelayMs: [10, 30], outcomes: { DELIVRD: 1 } },
    extra: { admin: { password: ADMIN_PASSWORD } },
  })
  const port = engine.httpPort
  const op = ((await api(port, 'POST', '/api/v1/login', { body: { password: ADMIN_PASSWORD } })).json as { token: string }).token
  const esme = await openEsme(t, { port: engine.smppPort, systemId: 'shop', password: 'shop-pw', kind: 'transceiver' })
  for (let i = 0; i < 5; i++) await esme.submit({ source_addr: 'Shop', destination_addr: `4915100000${i}`, short_message: gsm('hi'), registered_delivery: 1 })
  await esme.waitForMany(isReceipt, 3)
  const day = new Date().toISOString().slice(0, 10)
  // counted once a second: wait for the API to have the acknowledged receipts
  for (let i = 0; i < 100; i++) {
    const r = (await api(port, 'GET', `/api/v1/accounts/shop/stats?from=${day}&to=${day}`, { token: op })).json as { days: { toEsme: { receiptsOk: number } }[] }
    if (r.days[0].toEsme.receiptsOk === 3) break
    await new Promise((r) => setTimeout(r, 100))
  }

  const { page, pageErrors } = await openPage(t, { locale: 'en-US' })
  await page.goto(`http://127.0.0.1:${port}/#/accounts`)
  await page.fill('input[name=password]', ADMIN_PASSWORD)
  await page.click('button[type=submit]')
  await page.click('#account-tree [data-system-id="shop"] [data-action=manage]')
  await page.click('[data-detail="shop"] [data-action=traffic]')
  await page.waitForSelector(`#traffic tr[data-day="${day}"]`)
  t.equal(await page.locator('#traffic tbody tr').count(), 7, 'a row per day')
  t.equal(await page.getAttribute('#traffic tbody tr:first-child', 'data-day'), day, 'newest first')
  const cell = (c: string) => page.textContent(`#traffic tr[data-day="${day}"][data-row=own] .${c}`)
  t.equal(await cell('t-accepted'), '3')
  t.equal(await cell('t-refused'), '2')
  t.equal(await cell('t-delivrd'), '3')
  t.equal(await cell('t-esme'), '3')
  t.equal(await cell('t-refusals'), 'SMSC_RQUOTA 2')

  await page.click('#account-tree [data-system-id="res1"] [data-action=manage]')
  await page.click('[data-detail="res1"] [data-action=traffic]')
  await waitForExpression(page, `document.querySelector('#traffic tr[data-day="${day}"][data-row="with its users"] .t-accepted')?.textContent === '3'`)
  t.equal(await page.textContent(`#traffic tr[data-day="${day}"][data-row=own] .t-accepted`), '0', 'the reseller sent nothing itself')
  await page.screenshot({ path: path.join(ARTIFACTS, 'traffic-reseller-1280.png'), fullPage: true })
  t.same(pageErrors, [], 'no page errors (nothing the CSP refused)')
})
