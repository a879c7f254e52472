/**
 * Staff logins in the console, in Debian's chromium driven by playwright-core against a real engine
 * (test/helpers/engine.ts): a viewer signs in with the optional User field, the header names it and its
 * role, and every page of the operator's shows no control that would change something (no new account,
 * no account action but the ledger, no unbind, no send form, no backup button, the staff list without
 * add or remove); a staff admin signs in the same way, sees the controls, adds a viewer in the staff panel
 * (its generated password shown once, which then signs in) and removes it. The API cross-checks.
 * Screenshots go to test-artifacts/console/staff-*.png.
 */
import t from 'tap'
import path from 'node:path'
import { startEngine, type AccountConfig } from '../helpers/engine'
import { openEsme } from '../helpers/esme'
import { api } from '../helpers/ws'
import { ARTIFACTS, consoleReady, NEEDS_BROWSER, openPage } from '../helpers/browser'

const ADMIN_PASSWORD = 'console-staff-e2e'

t.test('staff logins in chromium: a viewer sees no mutation controls; a staff admin manages staff', NEEDS_BROWSER, async (t) => {
  consoleReady()
  const engine = await startEngine(t, {
    accounts: [{ systemId: 'res1', password: 'res1-pw', role: 'reseller', credit: 100 }, { systemId: 'u0', password: 'u0-pw' }] as unknown as AccountConfig[],
    extra: { admin: { password: ADMIN_PASSWORD } },
  })
  const port = engine.httpPort
  const base = `http://127.0.0.1:${port}`
  const op = (await api(port, 'POST', '/api/v1/login', { body: { password: ADMIN_PASSWORD } })).json as { token: string }
  for (const [user, role] of [['noc1', 'viewer'], ['sam', 'admin']]) {
    const r = await api(port, 'POST', '/api/v1/admin/users', { token: op.token, body: { user, role, password: `${user}-password` } })
    if (r.status !== 201) throw new Error(`add ${user}: ${r.status} ${r.body}`)
  }
  // a bind, so the binds page has a row (and, for the operator, an Unbind button)
  await openEsme(t, { port: engine.smppPort, systemId: 'u0', password: 'u0-pw' })

  const { page, pageErrors } = await openPage(t, { locale: 'en-US' })
  page.on('dialog', (d) => void d.accept())
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `staff-${name}.png`), fullPage: true })
  const text = async (sel: string) => ((await page.textContent(sel)) ?? '').trim()
  const count = (sel: string) => page.locator(sel).count()
  const signIn = async (user: string, password: string) => {
    await page.waitForSelector('input[name=password]')
    t.equal(await page.getAttribute('#login-mode-operator', 'aria-checked'), 'true', 'the operator\'s form (with its User field)')
    await page.fill('input[name=user]', user)
    await page.fill('input[name=password]', password)
    await page.click('button[type=submit]')
    await page.waitForSelector('#whoami')
  }
  const signOut = async () => {
    await page.click('button:has-text("Sign out")')
    await page.waitForSelector('input[name=password]')
  }
  const row = (id: string) => `#account-tree [data-system-id="${id}"]`

  await t.test('a viewer signs in with the User field; the header says who and the role', async (t) => {
    await page.goto(`${base}/#/overview`)
    await page.waitForSelector('input[name=password]')
    await page.fill('input[name=user]', 'noc1')
    await page.fill('input[name=password]', 'wrong-password')
    await page.click('button[type=submit]')
    await page.waitForSelector('#login-error')
    t.match(await text('#login-error'), /wrong user or password/i)
    await page.fill('input[name=password]', 'noc1-password')
    await page.click('button[type=submit]')
    await page.waitForSelector('#whoami')
    t.match(await text('#whoami'), /^noc1\s+viewer$/)
    t.equal(await page.getAttribute('#whoami', 'data-staff'), 'viewer')
  })

  await t.test('overview: the backup panel without its button', async (t) => {
    await page.waitForSelector('#backup')
    t.equal(await count('#backup-start'), 0, 'no "Back up now"')
    await shot('viewer-overview-1280')
  })

  await t.test('binds: the bind is listed, with no Unbind', async (t) => {
    await page.click('nav a[href="#/binds"]')
    await page.waitForSelector('#page-binds [role=row] >> text=u0')
    t.equal(await count('#page-binds button:has-text("Unbind")'), 0, 'no Unbind button')
  })

  await t.test('accounts: the whole tree, every account\'s detail with the ledger only, the staff list read-only', async (t) => {
    await page.click('nav a[href="#/accounts"]')
    await page.waitForSelector(row('res1'))
    await page.waitForSelector(row('u0'))
    t.equal(await count('#account-new'), 0, 'no "New account"')
    for (const id of ['res1', 'u0']) {
      await page.click(`${row(id)} [data-action=manage]`)
      await page.waitForSelector(`[data-detail="${id}"]`)
      const actions = await page.locator(`[data-detail="${id}"] .acct-actions button`).evaluateAll((bs) => bs.map((b) => b.getAttribute('data-action')))
      t.same(actions, ['ledger', 'traffic', 'apikeys', 'optouts'], `${id}: the ledger, the traffic, the API keys and the opt-outs, and nothing that changes them`)
      await page.click(`[data-detail="${id}"] [data-action=apikeys]`)
      await page.waitForSelector('#apikeys')
      t.equal(await count('#apikey-create') + await count('#apikeys [data-action=revoke]'), 0, `${id}: no key made or revoked by a viewer`)
      await page.click(`[data-detail="${id}"] [data-action=ledger]`)
      await page.waitForSelector(`[data-detail="${id}"] table.ledger, [data-detail="${id}"] .empty`)
    }
    await page.waitForSelector('#staff-list [data-staff=noc1]')
    t.equal(await count('#staff-list [data-staff]'), 2, 'both staff users listed')
    t.equal(await count('#staff-add'), 0, 'no add form')
    t.equal(await count('#staff [data-action=remove-staff]'), 0, 'no remove buttons')
    await shot('viewer-accounts-1280')
  })

  await t.test('messages: lookup and search, no send form', async (t) => {
    await page.click('nav a[href="#/messages"]')
    await page.waitForSelector('#lookup')
    t.equal(await count('#send'), 0, 'no send form')
  })

  await t.test('no page has an enabled control that changes something', async (t) => {
    // Every button left is one of these: navigation, sorting, the ledger, searches, sign-out.
    for (const tab of ['overview', 'binds', 'accounts', 'messages']) {
      await page.click(`nav a[href="#/${tab}"]`)
      await page.waitForSelector(`#page-${tab}`)
      const labels = await page.locator('main button:not([disabled])').evaluateAll((bs) => bs.map((b) => (b.getAttribute('data-action') ?? b.textContent ?? '').trim()))
      const changing = labels.filter((l) => /unbind|back up|new|add|remove|delete|suspend|resume|edit|credit|password|send|webhook|key/i.test(l))
      t.same(changing, [], `${tab}: ${labels.join(', ')}`)
    }
    t.same(pageErrors, [], 'no page errors')
  })

  await t.test('a staff admin sees the controls, adds a viewer in the staff panel and removes it', async (t) => {
    await signOut()
    t.equal(await page.inputValue('input[name=user]'), 'noc1', 'the last user is remembered')
    await signIn('sam', 'sam-password')
    t.match(await text('#whoami'), /^sam\s+staff admin$/)
    await page.click('nav a[href="#/accounts"]')
    await page.waitForSelector('#account-new')
    await page.waitForSelector('#staff-add')
    await page.fill('#staff-add input[name=staff-user]', 'noc2')
    await page.selectOption('#staff-add select[name=staff-role]', 'viewer')
    await page.click('#staff-add button[type=submit]')
    await page.waitForSelector('#staff-created')
    const m = /password is (\S{12})/.exec(await text('#staff-created'))
    t.ok(m, 'the generated password is shown')
    await page.waitForSelector('#staff-list [data-staff=noc2]')
    const login = await api(port, 'POST', '/api/v1/login', { body: { user: 'noc2', password: m?.[1] } })
    t.equal(login.status, 200, 'it signs in')
    const audit = (await api(port, 'GET', '/api/v1/audit?limit=1', { token: op.token })).json as { entries: { action: string; target: string; by: string }[] }
    t.match(audit.entries[0], { action: 'staff.add', target: 'noc2', by: 'staff:sam' }, 'audited under sam')
    await shot('admin-accounts-1280')
    await page.click('#staff-list [data-staff=noc2] [data-action=remove-staff]')
    await page.waitForSelector('#staff-list [data-staff=noc2]', { state: 'detached' })
    t.equal((await api(port, 'GET', '/api/v1/me', { token: (login.json as { token: string }).token })).status, 401, 'its login ended')
    t.same(pageErrors, [], 'no page errors')
  })
})
