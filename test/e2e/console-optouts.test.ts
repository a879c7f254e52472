/**
 * Opt-out lists in the console, in Debian's chromium driven by playwright-core against a real engine: the operator
 * adds numbers to the global list (pasted, several at once) and removes one, filters by prefix, and edits an
 * account's list in its detail's Opt-outs pane; a number the MO route's STOP added shows with who added it; a
 * wrong number gets the engine's one line naming it; a viewer (read-only staff login) sees the lists with no add
 * form and no Remove button; a reseller sees its user's list. The finder says which lists hold a number (the
 * operator's over every list, a reseller's over the global one and its tree's). The API cross-checks what the page shows.
 * Screenshots go to test-artifacts/console/optouts-*.png.
 */
import t from 'tap'
import path from 'node:path'
import { startEngine, type AccountConfig } from '../helpers/engine'
import { api } from '../helpers/ws'
import { ARTIFACTS, consoleReady, NEEDS_BROWSER, openPage, waitForExpression } from '../helpers/browser'

const ADMIN_PASSWORD = 'console-optouts-e2e'

t.test('opt-out lists in chromium: the global list and an account\'s, edited by the operator, read by a viewer', NEEDS_BROWSER, async (t) => {
  consoleReady()
  const engine = await startEngine(t, {
    accounts: [{ systemId: 'res1', password: 'res1-pw', role: 'reseller' }, { systemId: 'shop', password: 'shop-pw', parent: 'res1' }] as unknown as AccountConfig[],
    extra: { admin: { password: ADMIN_PASSWORD }, routes: { mo: [{ name: 'stop', match: { keyword: 'STOP' }, account: 'shop', optOut: 'add' }] } },
  })
  const port = engine.httpPort
  const base = `http://127.0.0.1:${port}`
  const op = ((await api(port, 'POST', '/api/v1/login', { body: { password: ADMIN_PASSWORD } })).json as { token: string }).token
  await api(port, 'POST', '/api/v1/admin/users', { token: op, body: { user: 'noc1', role: 'viewer', password: 'noc1-password' } })
  const listed = async (url: string) => ((await api(port, 'GET', url, { token: op })).json as { optouts: { number: string }[] }).optouts.map((x) => x.number)

  const { page, pageErrors } = await openPage(t, { locale: 'en-US' })
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `optouts-${name}.png`), fullPage: true })
  const count = (sel: string) => page.locator(sel).count()
  const row = (id: string) => `#account-tree [data-system-id="${id}"]`
  /** waits until `scope` lists `n` numbers */
  const rows = (scope: string, n: number) => waitForExpression(page, `document.querySelectorAll('${scope} tr[data-number]').length === ${n}`)
  const numbersShown = (scope: string) => page.locator(`${scope} tr[data-number]`).evaluateAll((rs) => rs.map((r) => r.getAttribute('data-number')))

  await t.test('the operator adds numbers to the global list, filters, removes one', async (t) => {
    await page.goto(`${base}/#/accounts`)
    await page.fill('input[name=password]', ADMIN_PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForSelector('#global-optouts #optouts-empty')
    await page.fill('#global-optouts textarea[name=optout-numbers]', '+49 151 0000 0001\n4915100000002, 4930123')
    await page.click('#global-optouts #optout-add')
    await page.waitForSelector('#global-optouts #optouts-note')
    t.match(await page.textContent('#global-optouts #optouts-note'), /3 added/)
    await page.waitForSelector('#global-optouts tr[data-number="4930123"]')
    t.same(await numbersShown('#global-optouts'), ['4915100000001', '4915100000002', '4930123'], 'listed in number order, normalised')
    t.same(await listed('/api/v1/optouts'), ['4915100000001', '4915100000002', '4930123'], 'the API has them')
    t.match(await page.textContent('#global-optouts tr[data-number="4930123"]'), /admin/, 'added by the operator')
    t.equal(await page.textContent('#global-optouts tr[data-number="4915100000001"] td.mono'), '4915100000001', 'shown as stored (and as the API gives it): digits, no "+"')
    await page.fill('#global-optouts input[name=optout-prefix]', '+4915')
    await page.click('#global-optouts button:has-text("Filter")')
    await rows('#global-optouts', 2)
    t.same(await numbersShown('#global-optouts'), ['4915100000001', '4915100000002'], 'a prefix filter')
    await page.click('#global-optouts tr[data-number="4915100000001"] [data-action=remove-optout]')
    await rows('#global-optouts', 1)
    t.same(await listed('/api/v1/optouts'), ['4915100000002', '4930123'], 'removed through the API')
    await page.fill('#global-optouts textarea[name=optout-numbers]', '12ab')
    await page.click('#global-optouts #optout-add')
    await page.waitForSelector('#global-optouts [role=alert]')
    t.match(await page.textContent('#global-optouts [role=alert]'), /^numbers\[0\] must be a phone number/, "the engine's line naming the field")
    await shot('operator-global-1280')
  })

  await t.test("an account's list in its detail: a subscriber's STOP shows, the operator adds one", async (t) => {
    const mo = await api(port, 'POST', '/api/v1/simulator/mo', { body: { from: '4917700000042', to: '12345', text: 'STOP' }, token: op })
    t.equal(mo.status, 202)
    await page.click(`${row('shop')} [data-action=manage]`)
    await page.click('[data-detail="shop"] [data-action=optouts]')
    await page.waitForSelector('#optouts tr[data-number="4917700000042"]')
    t.match(await page.textContent('#optouts tr[data-number="4917700000042"]'), /mo:STOP/, 'added by the MO route')
    await page.fill('#optouts textarea[name=optout-numbers]', '4917700000043')
    await page.click('#optouts #optout-add')
    await page.waitForSelector('#optouts tr[data-number="4917700000043"]')
    t.same(await listed('/api/v1/accounts/shop/optouts'), ['4917700000042', '4917700000043'])
    // more than one request takes (1000): sent in chunks, as the CLI does
    const many = Array.from({ length: 1200 }, (_, i) => `49160${String(i).padStart(7, '0')}`)
    await page.fill('#optouts textarea[name=optout-numbers]', many.join('\n'))
    await page.click('#optouts #optout-add')
    await waitForExpression(page, `/1,200 added/.test(document.querySelector('#optouts #optouts-note')?.textContent ?? '')`)
    t.equal(((await api(port, 'GET', '/api/v1/accounts/shop/optouts?limit=1', { token: op })).json as { total: number }).total, 1202, '1,200 pasted numbers added in two requests')
    await api(port, 'POST', '/api/v1/accounts/shop/optouts/remove', { token: op, body: { numbers: many.slice(0, 1000) } })
    await api(port, 'POST', '/api/v1/accounts/shop/optouts/remove', { token: op, body: { numbers: many.slice(1000) } })
    await shot('operator-account-1280')
    // which lists hold a number: the finder over every list, in the global panel
    await api(port, 'POST', '/api/v1/optouts', { token: op, body: { numbers: ['4917700000043'] } })
    await page.fill('#global-optouts input[name=optout-find]', '+49 177 00000043')
    await page.click('#global-optouts #optout-find button[type=submit]')
    await page.waitForSelector('#global-optouts #optout-found tr[data-list="shop"]')
    t.same(await page.locator('#global-optouts #optout-found tr[data-list]').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-list'))), ['global', 'shop'],
      'the operator finds the number on the global list and on shop\'s')
    await api(port, 'POST', '/api/v1/optouts/remove', { token: op, body: { numbers: ['4917700000043'] } })
  })

  await t.test('a viewer sees both lists, with nothing that changes them', async (t) => {
    await page.click('button:has-text("Sign out")')
    await page.waitForSelector('input[name=password]')
    await page.fill('input[name=user]', 'noc1')
    await page.fill('input[name=password]', 'noc1-password')
    await page.click('button[type=submit]')
    await page.waitForSelector('#whoami')
    await page.click('nav a[href="#/accounts"]')
    await page.waitForSelector('#global-optouts tr[data-number="4930123"]')
    await page.click(`${row('shop')} [data-action=manage]`)
    await page.click('[data-detail="shop"] [data-action=optouts]')
    await page.waitForSelector('#optouts tr[data-number="4917700000043"]')
    t.equal(await count('textarea[name=optout-numbers]'), 0, 'no add form')
    t.equal(await count('[data-action=remove-optout]'), 0, 'no Remove button')
    await shot('viewer-1280')
  })

  await t.test("a reseller sees its user's list, and no global one", async (t) => {
    await page.click('button:has-text("Sign out")')
    await page.waitForSelector('input[name=password]')
    await page.click('#login-mode-account')
    await page.fill('input[name=systemId]', 'res1')
    await page.fill('input[name=password]', 'res1-pw')
    await page.click('button[type=submit]')
    await page.waitForSelector(row('shop'))
    t.equal(await count('#global-optouts'), 0, 'the global list is the operator\'s')
    await page.click(`${row('shop')} [data-action=manage]`)
    await page.click('[data-detail="shop"] [data-action=optouts]')
    await page.waitForSelector('#optouts tr[data-number="4917700000042"]')
    // the finder in its pane: the global list holds 4930123, which refuses its users' sends too
    await page.fill('#optout-find input[name=optout-find]', '4930123')
    await page.click('#optout-find button[type=submit]')
    await page.waitForSelector('#optout-found tr[data-list="global"]')
    t.equal(await count('#optout-found tr[data-list]'), 1, 'the reseller learns the global list holds it')
    await page.click('#optouts tr[data-number="4917700000042"] [data-action=remove-optout]')
    await rows('#optouts', 1)
    t.same(await listed('/api/v1/accounts/shop/optouts'), ['4917700000043'], 'the reseller removed it')
    t.same(pageErrors, [], 'no page errors')
  })
})
