/**
 * The console says when a message's receipt never reached the customer: the message card of a receipt discarded
 * unacknowledged (receipts.maxAgeMs; the account bound as transmitter only) has a "receipt discarded" line and a
 * timeline step for it, and the account's Traffic pane counts it next to what reached the account. In chromium,
 * against a real engine. Screenshot: test-artifacts/console/discarded-card.png.
 */
import t from 'tap'
import path from 'node:path'
import { startEngine } from '../helpers/engine'
import { gsm, openEsme } from '../helpers/esme'
import { ARTIFACTS, NEEDS_BROWSER, consoleReady, openPage, waitForExpression } from '../helpers/browser'

const ADMIN_PASSWORD = 'discarded-console-admin-1'

t.test('a message whose receipt was discarded says so on its card, and the Traffic pane counts it', NEEDS_BROWSER, async (t) => {
  consoleReady()
  const engine = await startEngine(t, {
    accounts: [{ systemId: 'txonly', password: 'secret1' }],
    extra: { admin: { password: ADMIN_PASSWORD }, receipts: { maxAgeMs: 1000 } },
  })
  const tx = await openEsme(t, { port: engine.smppPort, kind: 'transmitter', systemId: 'txonly', password: 'secret1' })
  const id = (await tx.submit({ source_addr: 'Shop', destination_addr: '447700900001', short_message: gsm('hi'), registered_delivery: 1 })).message_id as string
  const token = await engine.operatorToken()
  const day = new Date().toISOString().slice(0, 10)
  // discarded once a second old, counted in the day's report within the next second
  for (let i = 0; i < 100; i++) {
    const r = (await engine.http('GET', `/api/v1/accounts/txonly/stats?from=${day}&to=${day}`, undefined, token)).json as { days: { toEsme: { receiptsDiscarded: number } }[] }
    if (r.days[0].toEsme.receiptsDiscarded === 1) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }

  const { page, pageErrors } = await openPage(t, { locale: 'en-US' })
  await page.goto(`http://127.0.0.1:${engine.httpPort}/`)
  await page.fill('input[name=password]', ADMIN_PASSWORD)
  await page.click('button[type=submit]')
  await page.click('nav a[href="#/messages"]')
  await page.fill('#lookup input[name=id]', id)
  await page.click('#lookup button[type=submit]')
  const card = `#lookup-result [data-message-id="${id}"]`
  await page.waitForSelector(`${card} [data-receipt-discarded]`)
  t.match(await page.textContent(`${card} [data-receipt-discarded]`), /: the account never acknowledged it within receipts\.maxAgeMs \(no receiver bound, or none answered\), so it never got it$/,
    'the card says the receipt was discarded, and why it usually is')
  t.equal(await page.getAttribute(`${card} [data-state]`, 'data-state'), 'DELIVERED', 'while the message itself was delivered')
  t.match(await page.textContent(`${card} li[data-event="discarded"] .step`), 'receipt discarded: never acknowledged by the account', 'a timeline step for it')
  t.equal(await page.textContent(`${card} li[data-event="delivered"] .when`), 'never', 'and "delivered to ESME" says never, not waiting')
  await page.screenshot({ path: path.join(ARTIFACTS, 'discarded-card.png'), fullPage: true })

  await page.goto(`http://127.0.0.1:${engine.httpPort}/#/accounts`)
  await page.click('#account-tree [data-system-id="txonly"] [data-action=manage]')
  await page.click('[data-detail="txonly"] [data-action=traffic]')
  await waitForExpression(page, `document.querySelector('#traffic tr[data-day="${day}"][data-row=own] .t-discarded') !== null`)
  t.equal(await page.textContent(`#traffic tr[data-day="${day}"][data-row=own] .t-discarded`), '(1 discarded)', 'the Traffic pane counts it')
  t.same(pageErrors, [], 'no page errors')
})
