/**
 * The console's message card says when a message's price was given back (settlement 'refund': it ended without
 * being delivered), as the lookup API's `refunded` does. In chromium, against an engine whose simulated carrier
 * fails every message. The card also says which receipts the message asked for (registered_delivery).
 */
import t from 'tap'
import { startEngine } from '../helpers/engine'
import { gsm, openEsme, receiptFor } from '../helpers/esme'
import { NEEDS_BROWSER, openPage } from '../helpers/browser'

const ADMIN_PASSWORD = 'refund-console-admin-1'

t.test('a refunded message says so on its card', NEEDS_BROWSER, async (t) => {
  const engine = await startEngine(t, {
    simulator: { deliveryDelayMs: [0, 0], outcomes: { UNDELIV: 1 } },
    extra: {
      accounts: [{ systemId: 'shop', password: 'secret1', credit: 10, settlement: 'refund' }, { systemId: 'keeps', password: 'secret2', credit: 10 }],
      admin: { password: ADMIN_PASSWORD },
    },
  })
  const sendOne = async (systemId: string, password: string): Promise<string> => {
    const esme = await openEsme(t, { port: engine.smppPort, systemId, password })
    const r = await esme.submit({ source_addr: 'Shop', destination_addr: '447700900001', short_message: gsm('hi'), registered_delivery: 1 })
    t.equal(r.command_status, 0, `${systemId}: accepted`)
    await esme.waitFor(receiptFor(r.message_id as string), 10_000)
    return r.message_id as string
  }
  const refunded = await sendOne('shop', 'secret1')
  const kept = await sendOne('keeps', 'secret2')

  const { page, pageErrors } = await openPage(t)
  await page.goto(`http://127.0.0.1:${engine.httpPort}/`)
  await page.fill('input[name=password]', ADMIN_PASSWORD)
  await page.click('button[type=submit]')
  await page.click('nav a[href="#/messages"]')
  const price = async (id: string): Promise<string> => {
    await page.fill('#lookup input[name=id]', id)
    await page.click('#lookup button[type=submit]')
    await page.waitForSelector(`#lookup-result [data-message-id="${id}"] [data-price]`)
    return (await page.textContent(`#lookup-result [data-message-id="${id}"] [data-price]`)) ?? ''
  }
  t.equal(await price(refunded), '1 · refunded', "settlement 'refund': the undelivered message's price came back")
  t.equal(await price(kept), '1', "settlement 'submit': charged and kept")
  t.equal(await page.textContent(`#lookup-result [data-message-id="${kept}"] [data-receipt]`), 'asked for (final outcome) · registered_delivery 1',
    'the card says which receipts the message asked for')
  t.same(pageErrors, [], 'no page errors')
})
