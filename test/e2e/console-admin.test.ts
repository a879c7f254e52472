/**
 * The console's account pages end to end, in Debian's chromium driven by playwright-core, against a
 * real engine (test/helpers/engine.ts): the operator sees the whole tree, adds a user under a
 * reseller, gets an inline validation message from the engine, and grants credit; the reseller signs
 * in with its system_id, sees only its subtree (a user the operator moves away leaves it at once),
 * creates a user paid from its balance, moves more
 * credit, reads the user's ledger and suspends it; the suspended user's sign-in is refused on screen;
 * resumed, the user sees only itself. Every balance on screen is cross-checked with the API
 * (GET /api/v1/accounts/{id}). Screenshots at 1280 and 360 px go to test-artifacts/console/admin-*.png.
 */
import t from 'tap'
import path from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { startEngine, type AccountConfig } from '../helpers/engine'
import { openEsme } from '../helpers/esme'
import { ARTIFACTS, consoleReady, NEEDS_BROWSER, openPage, waitForExpression } from '../helpers/browser'

const ADMIN_PASSWORD = 'console-admin-e2e'
const RES1 = { systemId: 'res1', password: 'res1-pw', role: 'reseller', credit: 100 }
const U0 = { systemId: 'u0', password: 'u0-pw' }

interface AccountView { systemId: string; role: string; parent: string | null; suspended: boolean; balance: number | null; rateLimit: { perSecond: number } | null }
interface LedgerEntry { delta: number; balance: number; reason: string; by: string; ref?: string }

t.test('account pages in chromium: operator, reseller and user', NEEDS_BROWSER, async (t) => {
  consoleReady()

  const engine = await startEngine(t, {
    accounts: [RES1, U0] as unknown as AccountConfig[],
    extra: { admin: { password: ADMIN_PASSWORD } },
  })
  const base = `http://127.0.0.1:${engine.httpPort}`

  /** the API as a given login sees it (a token of its own, not the browser's cookie) */
  const apiAs = async (login: { systemId?: string; password: string }) => {
    const r = await fetch(`${base}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(login) })
    if (r.status !== 200) throw new Error(`login ${login.systemId ?? 'operator'}: ${r.status} ${await r.text()}`)
    const { token } = (await r.json()) as { token: string }
    const call = (method: string, p: string, body?: unknown) => fetch(`${base}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const json = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
      const res = await call(method, p, body)
      if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`)
      return (await res.json()) as T
    }
    return Object.assign(json, { status: async (method: string, p: string) => (await call(method, p)).status })
  }
  const operatorApi = await apiAs({ password: ADMIN_PASSWORD })
  const account = (id: string) => operatorApi<AccountView>('GET', `/api/v1/accounts/${id}`)

  const { browser, context, page, pageErrors } = await openPage(t, { locale: 'en-US' })
  const shot = (p: Page, name: string) => p.screenshot({ path: path.join(ARTIFACTS, `admin-${name}.png`), fullPage: true })

  const row = (id: string) => `[data-system-id="${id}"]`
  /** waits until the element's text matches */
  const untilText = (sel: string, re: RegExp) =>
    waitForExpression(page, `${re}.test(document.querySelector(${JSON.stringify(sel)})?.textContent.trim() ?? '')`)
  const text = async (sel: string) => ((await page.textContent(sel)) ?? '').trim()
  const balanceCell = (id: string) => `${row(id)} .acct-balance`
  /** opens an account's detail panel (closing another) and one of its panes */
  const openPane = async (id: string, action: string) => {
    if ((await page.getAttribute(`${row(id)} [data-action=manage]`, 'aria-expanded')) !== 'true') await page.click(`${row(id)} [data-action=manage]`)
    await page.waitForSelector(`[data-detail="${id}"]`)
    if ((await page.getAttribute(`[data-detail="${id}"] [data-action=${action}]`, 'aria-pressed')) !== 'true') await page.click(`[data-detail="${id}"] [data-action=${action}]`)
  }
  /** a second window of `width` px with this browser's cookies: the page must not scroll sideways */
  const narrow = async (width: number, name: string, open?: [id: string, action: string, ready: string]) => {
    const ctx: BrowserContext = await browser.newContext({ viewport: { width, height: 800 }, colorScheme: 'light', locale: 'en-US', storageState: await context.storageState() })
    try {
      const p = await ctx.newPage()
      p.setDefaultTimeout(15_000)
      p.on('pageerror', (e) => pageErrors.push(e.message))
      await p.goto(`${base}/#/accounts`)
      await p.waitForSelector('#account-tree [data-system-id]')
      if (open) {
        await p.click(`${row(open[0])} [data-action=manage]`)
        await p.click(`[data-detail="${open[0]}"] [data-action=${open[1]}]`)
        await p.waitForSelector(open[2])
      }
      t.equal(await p.evaluate('document.documentElement.scrollWidth'), width, `${name} at ${width} px: the page does not scroll sideways`)
      const manage = p.locator('#account-tree [data-action=manage]').first()
      const box = await manage.boundingBox()
      t.ok(box && box.x >= 0 && box.x + box.width <= width, `${name} at ${width} px: a row's Manage button is inside the window`)
      await p.evaluate('window.scrollTo(0, 0)')
      await shot(p, `${name}-${width}`)
    } finally {
      await ctx.close()
    }
  }
  const signOut = async () => {
    await page.click('button:has-text("Sign out")')
    await page.waitForSelector('input[name=password]')
  }
  const signInAccount = async (systemId: string, password: string) => {
    await page.click('#login-mode-account')
    await page.fill('input[name=systemId]', systemId)
    await page.fill('input[name=password]', password)
    await page.click('button[type=submit]')
  }

  await t.test('the operator sees the whole tree', async (t) => {
    await page.goto(`${base}/#/accounts`)
    await page.waitForSelector('input[name=password]')
    t.equal(await page.getAttribute('#login-mode-operator', 'aria-checked'), 'true', 'the login form starts as the operator’s')
    await page.fill('input[name=password]', ADMIN_PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForSelector(`${row('res1')}`)
    await page.waitForSelector(`${row('u0')}`)
    for (const tab of ['overview', 'binds', 'accounts', 'messages']) t.ok(await page.isVisible(`nav a[href="#/${tab}"]`), `the operator has the ${tab} tab`)
    t.equal(await page.getAttribute(row('res1'), 'aria-level'), '1', 'res1 is at the top level')
    t.equal(await page.getAttribute(row('u0'), 'aria-level'), '1', 'u0 (owned by the operator) is at the top level')
    t.match(await text(`${row('res1')} .acct-role`), /^reseller/)
    t.equal(await text(balanceCell('res1')), '100', 'res1 has its opening credit from the config')
    t.equal(await text(balanceCell('u0')), '—', 'u0 is not prepaid')
    t.equal(await text(`${row('u0')} [data-state]`), 'active')
    t.ok(await page.isVisible('#accounts'), 'the live traffic table is still on the page')
  })

  await t.test('the operator adds a user under res1 with new opening credit', async (t) => {
    await openPane('res1', 'add-user')
    await page.waitForSelector('#create-form')
    t.match(await text('#create-form h3'), /under res1/, 'the form creates under res1')
    await page.fill('#create-form input[name=systemId]', 'u1')
    await page.fill('#create-form input[name=password]', 'u1-pw')
    await page.fill('#create-form input[name=credit]', '10')
    await page.click('#create-form button[type=submit]')
    await page.waitForSelector('#created-password')
    t.equal(await text('#created-password'), 'u1-pw', 'the password is shown once')
    await page.waitForSelector(row('u1'))
    t.equal(await page.getAttribute(row('u1'), 'aria-level'), '2', 'u1 is listed under its reseller')
    await untilText(balanceCell('u1'), /^10$/)
    t.equal(await text(balanceCell('res1')), '100', 'the operator’s opening credit is new credit: res1 keeps 100')
    const u1 = await account('u1')
    t.match(u1, { parent: 'res1', role: 'user', balance: 10 }, 'the API agrees')
    t.equal((await account('res1')).balance, 100)
  })

  await t.test('a bad setting is refused with the engine’s message at the field', async (t) => {
    await openPane('u1', 'edit')
    await page.waitForSelector('#settings-form')
    await page.fill('#settings-form input[name=ratePerSecond]', 'fast')
    await page.click('#settings-form button[type=submit]')
    await page.waitForSelector('#settings-form [data-key=rateLimit] .field-error')
    t.match(await text('#settings-form [data-key=rateLimit] .field-error'), /rateLimit\.perSecond must be a number/, 'the error is under the rate field')
    await shot(page, 'operator-validation-1280')
    await page.fill('#settings-form input[name=ratePerSecond]', '50')
    await page.fill('#settings-form input[name=dailyQuota]', '1000')
    await page.click('#settings-form button[type=submit]')
    await untilText(`${row('u1')} .acct-rate`, /^50\/s$/)
    t.equal(await text(`${row('u1')} .acct-quota`), '0 / 1,000', 'the row shows the new quota, and none of it used today')
    t.notOk(await page.isVisible('#settings-form .field-error'), 'the error is gone')
    t.match(await account('u1'), { rateLimit: { perSecond: 50 }, dailyQuota: 1000 }, 'the API has the new limits')
  })

  await t.test('the operator sets an outbind target; a bad port is refused at the field; the password is never shown back', async (t) => {
    await openPane('u1', 'edit')
    await page.waitForSelector('#settings-form [data-key=outbind]')
    await page.fill('#settings-form input[name=outbindHost]', '127.0.0.1')
    await page.fill('#settings-form input[name=outbindPort]', '70000')
    await page.click('#settings-form button[type=submit]')
    await page.waitForSelector('#settings-form [data-key=outbind] .field-error')
    t.match(await text('#settings-form [data-key=outbind] .field-error'), /outbind\.port must be an integer between 1 and 65535/)
    await page.fill('#settings-form input[name=outbindPort]', '2776')
    await page.fill('#settings-form input[name=outbindPassword]', 'obpw1')
    await page.click('#settings-form button[type=submit]')
    await page.waitForSelector('#settings-form .ok')
    t.match(await account('u1'), { outbind: { host: '127.0.0.1', port: 2776, tls: false, passwordSet: true } }, 'the API has the target')
    t.equal(await page.inputValue('#settings-form input[name=outbindPassword]'), '', 'the password field is not filled back')
    await shot(page, 'operator-outbind-1280')
  })

  await t.test('the operator pastes openssl\'s fingerprint line as a TLS client certificate: kept as Node gives it; emptied, none asked', async (t) => {
    const fp = 'AB:'.repeat(31) + 'CD'
    const certs = async () => ((await account('u1')) as unknown as { clientCerts: string[] }).clientCerts
    const until = async (want: string[]) => {
      for (let i = 0; i < 100 && JSON.stringify(await certs()) !== JSON.stringify(want); i++) await new Promise((r) => setTimeout(r, 100))
    }
    await openPane('u1', 'edit')
    await page.waitForSelector('#settings-form input[name=clientCerts]')
    await page.fill('#settings-form input[name=clientCerts]', `sha256 Fingerprint=${fp}, ${'ef'.repeat(32)}`)
    await page.click('#settings-form button[type=submit]')
    await until([fp, 'EF:'.repeat(31) + 'EF'])
    t.same(await certs(), [fp, 'EF:'.repeat(31) + 'EF'], 'the API has both, upper case with colons')
    t.notOk(await page.isVisible('#settings-form .field-error'), 'no error at the field')
    await page.fill('#settings-form input[name=clientCerts]', '')
    await page.click('#settings-form button[type=submit]')
    await until([])
    t.same(await certs(), [], 'emptied: none asked')
  })

  await t.test('the operator grants credit to res1', async (t) => {
    await openPane('res1', 'credit')
    await page.waitForSelector('#credit-form')
    t.equal(await page.locator('#credit-form input[name=direction]').count(), 0, 'no owner to move from: a grant is the only way')
    t.match(await text('#credit-form'), /Grant new credit to res1/)
    await page.fill('#credit-form input[name=amount]', '50')
    await page.fill('#credit-form input[name=reason]', 'top-up')
    await page.click('#credit-form button[type=submit]')
    await page.waitForSelector('#credit-done')
    t.match(await text('#credit-done'), /Granted 50 to res1: balance 150/)
    await untilText(balanceCell('res1'), /^150$/)
    t.equal((await account('res1')).balance, 150, 'the API agrees: 100 + 50')
    await shot(page, 'operator-1280')
  })

  await t.test('the operator creates a reseller at the top level', async (t) => {
    await page.click('#account-new')
    await page.waitForSelector('#create-form')
    t.match(await text('#create-form h3'), /^New account$/)
    t.equal(await page.locator('#create-form select[name=parent]').count(), 1, 'a user gets an owner to choose')
    await page.selectOption('#create-form select[name=role]', 'reseller')
    t.equal(await page.locator('#create-form select[name=parent]').count(), 0, 'a reseller has none')
    await page.fill('#create-form input[name=systemId]', 'res2')
    await page.fill('#create-form input[name=credit]', '7')
    await shot(page, 'operator-create-1280')
    await page.click('#create-form button[type=submit]')
    await page.waitForSelector(row('res2'))
    t.equal(await page.getAttribute(row('res2'), 'aria-level'), '1')
    await untilText(balanceCell('res2'), /^7$/)
    t.match(await account('res2'), { role: 'reseller', parent: null, balance: 7 }, 'the API agrees')
  })

  await t.test('the operator deletes it after a confirmation', async (t) => {
    await openPane('res2', 'delete')
    await page.waitForSelector('#delete-confirm')
    t.match(await text('#delete-confirm'), /Delete res2\?.*balance of 7 is written off/, 'the confirmation says what happens to the balance')
    await page.click('#delete-go')
    await page.waitForSelector(row('res2'), { state: 'detached' })
    t.equal(await operatorApi.status('GET', '/api/v1/accounts/res2'), 404, 'the API no longer knows res2')
  })

  await t.test('the operator’s tree at 360 px', async () => {
    await narrow(360, 'operator')
  })

  let u2Password = ''
  await t.test('res1 signs in with its system_id and sees only its subtree', async (t) => {
    await signOut()
    await signInAccount('res1', 'wrong')
    await page.waitForSelector('#login-error')
    t.match(await text('#login-error'), /wrong system id or password/i, 'a wrong password is refused on screen')
    await page.fill('input[name=password]', RES1.password)
    await page.click('button[type=submit]')
    await page.waitForSelector(row('res1'))
    await page.waitForSelector(row('u1'))
    t.equal(await page.locator(row('u0')).count(), 0, 'u0 (the operator’s) is not shown to res1')
    t.equal(await page.locator('#account-tree [data-system-id]').count(), 2, 'res1 and its user u1, nothing else')
    t.match(await text('#whoami'), /res1\s*reseller/, 'the header says who is signed in')
    t.ok(await page.isVisible('nav a[href="#/overview"]'), 'an overview (its own accounts’ live figures)')
    t.ok(await page.isVisible('nav a[href="#/binds"]'), 'a binds page')
    t.ok(await page.isVisible('nav a[href="#/messages"]'), 'the send form and lookup are there')
    await page.waitForSelector('#stream-status[data-status=live]')
    t.pass('its scoped telemetry stream is live')
    t.equal(await text(balanceCell('res1')), '150')
  })

  await t.test('res1 sees its own binds live, not the operator’s accounts’, and cannot unbind', async (t) => {
    const own = await openEsme(t, { port: engine.smppPort, systemId: 'res1', password: RES1.password })
    await openEsme(t, { port: engine.smppPort, systemId: 'u0', password: U0.password })
    await page.goto(`${base}/#/binds`)
    await page.waitForSelector(`#page-binds [role=row][data-id]`)
    await page.waitForTimeout(600) // a few telemetry ticks: u0's bind would have arrived by now
    const rows = page.locator('#page-binds [role=row][data-id]')
    t.equal(await rows.count(), 1, 'one bind: res1’s own (u0 is bound too, but is not res1’s)')
    t.match(await rows.first().innerText(), /res1/)
    t.equal(await page.locator('#page-binds button', { hasText: 'Unbind' }).count(), 0, 'no unbind button: unbinding is the operator’s')
    await page.goto(`${base}/#/overview`)
    await untilText('#kpi-binds .kpi-value', /^1$/)
    t.equal(await page.locator('#chart-latency').count(), 0, 'no engine-wide latency chart')
    t.equal(await page.locator('#health').count(), 0, 'no engine health')
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-reseller-overview.png') })
    await own.unbind()
    await untilText('#kpi-binds .kpi-value', /^0$/)
    t.pass('the unbind shows at once')
    await page.goto(`${base}/#/accounts`)
    await page.waitForSelector(row('res1'))
  })

  await t.test('a user the operator moves away leaves res1’s tree at once, and comes back the same way', async (t) => {
    await page.waitForSelector(row('u1'))
    await operatorApi('PATCH', '/api/v1/accounts/u1', { parent: null })
    const moved = Date.now()
    // no traffic runs now: only the stream's new set of accounts can make the list reload this soon
    await page.waitForSelector(row('u1'), { state: 'detached', timeout: 1500 })
    t.pass(`u1 left res1’s tree ${Date.now() - moved} ms after the move`)
    await operatorApi('PATCH', '/api/v1/accounts/u1', { parent: 'res1' })
    await page.waitForSelector(row('u1'), { timeout: 1500 })
    t.equal(await page.getAttribute(row('u1'), 'aria-level'), '2', 'back under res1')
  })

  await t.test('res1 creates u2 with opening credit taken from its balance', async (t) => {
    await page.click('#account-new')
    await page.waitForSelector('#create-form')
    t.match(await text('#create-form h3'), /New user under res1/)
    t.match(await text('#create-form [data-key=credit]'), /taken from your balance \(150\)/)
    t.equal(await page.locator('#create-form select[name=role]').count(), 0, 'a reseller does not choose the role')
    await page.fill('#create-form input[name=systemId]', 'u2')
    await page.fill('#create-form input[name=credit]', '20')
    await page.click('#create-form button[type=submit]')
    await page.waitForSelector('#created-password')
    u2Password = await text('#created-password')
    t.match(u2Password, /^[A-Za-z0-9]{8}$/, 'a generated 8-character password is shown once')
    await page.waitForSelector(row('u2'))
    await untilText(balanceCell('res1'), /^130$/)
    t.equal(await text(balanceCell('u2')), '20')
    t.equal((await account('res1')).balance, 130, 'the API agrees: res1 150 − 20')
    t.match(await account('u2'), { parent: 'res1', balance: 20 })
  })

  await t.test('res1 moves 5 more to u2 and reads u2’s ledger', async (t) => {
    await openPane('u2', 'credit')
    await page.waitForSelector('#credit-form')
    t.ok(await page.isChecked('#credit-form input[value=give]'), 'giving from res1 is the default direction')
    t.ok(await page.isVisible('#credit-form input[value=take]'), 'taking back is offered too')
    await page.fill('#credit-form input[name=amount]', '5')
    await page.click('#credit-form button[type=submit]')
    await page.waitForSelector('#credit-done')
    t.match(await text('#credit-done'), /Moved 5 from res1 to u2: u2 has 25, res1 125/)
    await untilText(balanceCell('u2'), /^25$/)
    await untilText(balanceCell('res1'), /^125$/)
    t.equal((await account('res1')).balance, 125, 'the API agrees: res1 130 − 5')
    t.equal((await account('u2')).balance, 25, 'the API agrees: u2 20 + 5')

    await openPane('u2', 'ledger')
    await page.waitForSelector('#ledger tbody tr')
    const rows = await page.$$eval('#ledger tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())))
    t.equal(rows.length, 2, 'two entries')
    t.match(rows[0][0], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/, 'with their time')
    t.same(rows[0].slice(1), ['transfer in', '+5', '25', 'res1', 'res1', ''], 'newest first: the 5 from res1')
    t.same(rows[1].slice(1), ['opening', '+20', '20', 'res1', 'res1', ''], 'then the opening credit paid by res1')
    const api = await operatorApi<{ entries: LedgerEntry[] }>('GET', '/api/v1/accounts/u2/ledger?limit=10')
    t.same(api.entries.map((e) => [e.reason, e.delta, e.balance, e.by, e.ref]), [['transfer-in', 5, 25, 'res1', 'res1'], ['opening', 20, 20, 'res1', 'res1']], 'the API ledger is the same')

    await openPane('res1', 'ledger')
    await page.waitForSelector('[data-detail=res1] #ledger tbody tr')
    const res1Rows = await page.$$eval('#ledger tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1, 6).map((td) => (td.textContent ?? '').trim())))
    t.same(res1Rows, [
      ['transfer out', '−5', '125', 'res1', 'u2'],
      ['transfer out', '−20', '130', 'res1', 'u2'],
      ['grant', '+50', '150', 'admin', ''],
      ['opening', '+100', '100', 'config', ''],
    ], 'res1’s own ledger: both payments to u2, the grant and the opening')
    await shot(page, 'reseller-ledger-1280')
  })

  await t.test('res1 suspends u2', async (t) => {
    await openPane('u2', 'ledger')
    await page.click('[data-detail=u2] [data-action=suspend]')
    await page.waitForSelector(`${row('u2')} [data-state=suspended]`)
    t.equal(await text(`${row('u2')} [data-state]`), 'suspended', 'u2 is marked suspended')
    t.match(await text('#acct-msg'), /u2 is suspended/)
    t.ok(await page.isVisible('[data-detail=u2] [data-action=resume]'), 'and can be resumed')
    t.equal((await account('u2')).suspended, true, 'the API agrees')
    t.equal(await page.locator('[data-detail=u2] [data-action=delete]').count(), 1, 'res1 may delete its user')
    await openPane('res1', 'edit')
    t.equal(await page.locator('[data-detail=res1] [data-action=suspend]').count(), 0, 'res1 cannot suspend itself')
    t.equal(await page.locator('#settings-form input[name=ratePerSecond]').count(), 0, 'nor change its own limits')
    t.equal(await page.locator('#settings-form input[name=webhookReceipts]').count(), 1, 'only its webhooks')
    await page.click(`${row('res1')} [data-action=manage]`)
    await shot(page, 'reseller-1280')
  })

  await t.test('res1’s tree at 360 px', async () => {
    await narrow(360, 'reseller', ['u2', 'ledger', '#ledger'])
    await narrow(360, 'reseller-edit', ['u1', 'edit', '#settings-form'])
  })

  await t.test('the suspended user cannot sign in; resumed, it sees only itself', async (t) => {
    await signOut()
    await signInAccount('u2', u2Password)
    await page.waitForSelector('#login-error')
    t.match(await text('#login-error'), /Account u2 is suspended/, 'a clear refusal')
    await shot(page, 'suspended-login-1280')

    const resellerApi = await apiAs({ systemId: 'res1', password: RES1.password })
    await resellerApi('POST', '/api/v1/accounts/u2/resume')
    await page.click('button[type=submit]')
    await page.waitForSelector(row('u2'))
    t.equal(await page.locator('#account-tree [data-system-id]').count(), 1, 'a user sees only itself')
    t.match(await text('#whoami'), /u2\s*user/)
    await page.waitForSelector('[data-detail=u2]')
    const actions = await page.$$eval('[data-detail=u2] .acct-actions button', (bs) => bs.map((b) => b.getAttribute('data-action')))
    t.same(actions, ['edit', 'ledger', 'traffic', 'apikeys', 'optouts', 'password'], 'its own settings, ledger, traffic, API keys, opt-outs and password; no credit, suspend or delete')
    t.equal(await page.locator('#account-new').count(), 0, 'no new-account button')
    t.equal(await text(balanceCell('u2')), '25')
    await shot(page, 'user-1280')
  })

  await t.test('the user makes an API key in the console, sends with it, and revokes it', async (t) => {
    await page.click('[data-detail=u2] [data-action=apikeys]')
    await page.waitForSelector('#apikeys-empty')
    await page.fill('#apikeys input[name=label]', 'shop backend')
    await page.click('#apikey-create')
    await page.waitForSelector('#apikey-new')
    const key = await text('#apikey-new')
    t.match(key, /^smsc_/, 'the new key is shown once')
    await page.waitForSelector('#apikeys [data-key-id]')
    t.match(await text('#apikeys tbody'), /shop backend/, 'listed by its label')
    const sendWith = async (k: string) => (await fetch(`${base}/api/v1/messages`, { method: 'POST', headers: { 'x-api-key': k, 'content-type': 'application/json' }, body: JSON.stringify({ from: 'Shop', to: '4915100000042', text: 'by key' }) })).status
    t.equal(await sendWith(key), 202, 'the send API takes it')
    await page.click('#apikeys [data-action=revoke]')
    await page.waitForSelector('#apikeys-empty')
    t.equal(await sendWith(key), 401, 'revoked: refused at once')
    await shot(page, 'user-apikeys-1280')
  })

  await t.test('suspended while signed in: the stream ends and the login page says why', async (t) => {
    await page.goto(`${base}/#/overview`)
    await page.waitForSelector('#stream-status[data-status=live]')
    const resellerApi = await apiAs({ systemId: 'res1', password: RES1.password })
    await resellerApi('POST', '/api/v1/accounts/u2/suspend')
    await page.waitForSelector('#login-notice')
    t.match(await text('#login-notice'), /u2 is suspended/i, 'the stream closed (4003), the console signed out (its data forgotten) and says why')
    t.notOk(await page.isVisible('#whoami'), 'nobody is signed in')
    await resellerApi('POST', '/api/v1/accounts/u2/resume')
  })

  await t.test('removed while signed in: the login page gives the stream\'s close reason', async (t) => {
    await signInAccount('u2', u2Password)
    await page.waitForSelector('#whoami')
    await page.goto(`${base}/#/overview`)
    await page.waitForSelector('#stream-status[data-status=live]')
    const resellerApi = await apiAs({ systemId: 'res1', password: RES1.password })
    t.equal(await resellerApi.status('DELETE', '/api/v1/accounts/u2'), 204)
    await page.waitForSelector('#login-notice')
    t.match(await text('#login-notice'), /account u2 is removed/i, 'not a bare "session ended"')
  })

  t.same(pageErrors, [], 'no uncaught errors in the page')
})
