/**
 * The webhook secret in the console: a user that gives itself a receipts webhook on its account page
 * sees the secret the engine answers that once (the PATCH's `webhookSecret`), and "New webhook secret"
 * makes and shows another. Each is checked against what it is for: the receipts its receiver gets are
 * signed with the secret on screen (X-Smsc-Signature, docs/API.md "Webhook signatures"). Before, the
 * console dropped the secret from the answer: a console-only user could never verify a webhook.
 */
import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHmac } from 'node:crypto'
import { startEngine, type AccountConfig } from '../helpers/engine'
import { consoleReady, NEEDS_BROWSER, openPage, waitForExpression } from '../helpers/browser'

const USER = { systemId: 'hooked', password: 'hook-pw' }

t.test('the console shows the webhook secret once, and a new one on request', NEEDS_BROWSER, async (t) => {
  consoleReady()
  // the customer's receiver, on loopback: private targets allowed for the test
  const got: { ts: string; sig: string; body: string }[] = []
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      got.push({ ts: String(req.headers['x-smsc-timestamp']), sig: String(req.headers['x-smsc-signature']), body: Buffer.concat(chunks).toString() })
      res.statusCode = 204
      res.end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => receiver.close(() => resolve())))
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/dlr`

  const engine = await startEngine(t, { accounts: [USER] as unknown as AccountConfig[], extra: { webhooks: { allowPrivateTargets: true } } })
  const base = `http://127.0.0.1:${engine.httpPort}`
  const login = await (await fetch(`${base}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(USER) })).json() as { token: string }
  /** one message with a receipt; resolves with the receipt's webhook request */
  const receiptOfOne = async () => {
    const before = got.length
    const r = await fetch(`${base}/api/v1/messages`, {
      method: 'POST', headers: { authorization: `Bearer ${login.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ from: 'Shop', to: '4915112345678', text: 'hello', registeredDelivery: true }),
    })
    t.equal(r.status, 202, 'sent')
    const until = Date.now() + 15_000
    while (got.length === before && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50))
    return got[got.length - 1]
  }
  const signs = (secret: string, hook: { ts: string; sig: string; body: string } | undefined) =>
    hook !== undefined && hook.sig === `sha256=${createHmac('sha256', secret).update(`${hook.ts}.${hook.body}`).digest('hex')}`

  const { page, pageErrors } = await openPage(t, { locale: 'en-US' })
  await page.goto(base)
  await page.click('#login-mode-account')
  await page.fill('input[name=systemId]', USER.systemId)
  await page.fill('input[name=password]', USER.password)
  await page.click('button[type=submit]')
  await page.goto(`${base}/#/accounts`)
  await page.waitForSelector('[data-system-id="hooked"]')
  if ((await page.getAttribute('[data-system-id="hooked"] [data-action=manage]', 'aria-expanded')) !== 'true') await page.click('[data-system-id="hooked"] [data-action=manage]')
  await page.click('[data-detail="hooked"] [data-action=edit]')
  await page.waitForSelector('#settings-form')
  t.equal(await page.locator('#webhook-secret-new').count(), 0, 'no webhook yet: no secret to renew')

  await page.fill('#settings-form input[name=webhookReceipts]', hookUrl)
  await page.click('#settings-form button[type=submit]')
  await page.waitForSelector('#webhook-secret')
  const first = ((await page.textContent('#webhook-secret')) ?? '').trim()
  t.match(first, /^whsec_\S+$/, 'the secret the PATCH answered is on screen')
  t.ok(signs(first, await receiptOfOne()), 'and it is the one that signs the receipts')

  await page.waitForSelector('#webhook-secret-new')
  await page.click('#webhook-secret-new')
  await waitForExpression(page, `(document.querySelector('#webhook-secret')?.textContent ?? '').trim() !== ${JSON.stringify(first)}`)
  const second = ((await page.textContent('#webhook-secret')) ?? '').trim()
  t.match(second, /^whsec_\S+$/, 'a new secret is shown')
  const hook = await receiptOfOne()
  t.ok(signs(second, hook), 'the new secret signs from then on')
  t.notOk(signs(first, hook), 'the old one no longer does')
  t.same(pageErrors, [], 'no page errors')
})
