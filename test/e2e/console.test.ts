/**
 * The web console end to end, in Debian's chromium driven by playwright-core (docs/TELEMETRY.md):
 * open the console served by the engine, log in, run a short SMPP load with the bench harness and
 * see the msg/s chart move and the bind rows appear, sort and filter the binds, send an SMS from
 * the form and see its receipt arrive in the timeline, look a message up by id, search messages by
 * number (page through them, open one in the lookup), unbind a session,
 * then stop the engine and see the offline shell (service worker) reconnect when it comes back.
 * Against a second engine (an HTTP provider for UK numbers, an MO route whose account has no credit): search by an
 * upstream's id and by the send API's reference, and see a refused auto-reply listed as one.
 * Screenshots of each step go to test-artifacts/console/*.png.
 *
 * Also, without a browser: the console's live SMS counter (console/src/sms.ts, bundled for the
 * browser) agrees with the engine's own part counting on random texts.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { countParts as engineCountParts } from '../../engine/protocol/text/split'
import { DEFAULT_ACCOUNT, projectRoot, startEngine } from '../helpers/engine'
import { openEsme, receiptFor } from '../helpers/esme'
import { runLoad, type LoadResult } from '../../bench/esme-load'
import { ARTIFACTS, consoleReady, NEEDS_BROWSER, openPage, waitForExpression } from '../helpers/browser'
import { startSink } from '../helpers/lifecycle'

const ROOT = projectRoot()
const ADMIN_PASSWORD = 'console-e2e-admin'
const BENCH = { systemId: 'bench', password: 'bench-pw', maxBinds: 20 }
/** a prepaid account without credit: its MO route's auto-reply is refused */
const POOR = { systemId: 'poor', password: 'poor-pw', credit: 0 }
/** texts HELP to the poor account's short code */
const SUBSCRIBER = '4917700000043'
/** the id the HTTP provider (UK numbers) answers with */
const PROVIDER_ID = 'PROV-7731'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface ClientCount { coding: 'GSM' | 'UCS2'; parts: number; units: number }

/** console/src/sms.ts compiled on the fly (it is bundled for the browser, not built by tsc). */
function loadClientSms(): (text: string) => ClientCount {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const esbuild = require('esbuild') as typeof import('esbuild')
  const src = fs.readFileSync(path.join(ROOT, 'console', 'src', 'sms.ts'), 'utf8')
  const { code } = esbuild.transformSync(src, { loader: 'ts', format: 'cjs', target: 'node20' })
  const mod = { exports: {} as { countParts?: (text: string) => ClientCount } }
  new Function('module', 'exports', code)(mod, mod.exports)
  if (!mod.exports.countParts) throw new Error('console/src/sms.ts does not export countParts')
  return mod.exports.countParts
}

t.test('the send form counter agrees with the engine on coding and parts', async (t) => {
  const client = loadClientSms()
  const gsm = [...'@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCXYZÄÖÑÜ§¿abcxyzäöñüà']
  const ext = [...'\f^{}\\[~]|€']
  const other = ['ç', 'ï', '✓', 'Ж', '中', '😀', '👍🏽', '`']
  const text = fc
    .array(fc.oneof({ arbitrary: fc.constantFrom(...gsm), weight: 8 }, { arbitrary: fc.constantFrom(...ext), weight: 2 }, { arbitrary: fc.constantFrom(...other), weight: 1 }), { maxLength: 480 })
    .map((cs) => cs.join(''))
  fc.assert(
    fc.property(text, (s) => {
      const c = client(s)
      const e = engineCountParts(s)
      return c.parts === e.parts && c.coding.toLowerCase() === e.coding && c.units === e.units
    }),
    { numRuns: 1000 },
  )
  // the boundaries, spelled out (and the engine must agree with each)
  const cases: [string, ClientCount][] = [
    ['a'.repeat(160), { coding: 'GSM', parts: 1, units: 160 }],
    ['a'.repeat(161), { coding: 'GSM', parts: 2, units: 161 }],
    ['€'.repeat(80), { coding: 'GSM', parts: 1, units: 160 }],
    // 306 septets would fit 2 parts of 153, but the ESC pair at 153/154 moves to part 2: 3 parts
    ['a'.repeat(152) + '€' + 'a'.repeat(152), { coding: 'GSM', parts: 3, units: 306 }],
    ['Ж'.repeat(70), { coding: 'UCS2', parts: 1, units: 70 }],
    ['Ж'.repeat(71), { coding: 'UCS2', parts: 2, units: 71 }],
    // 134 units would fit 2 parts of 67, but the surrogate pair at 67/68 moves to part 2: 3 parts
    ['Ж'.repeat(66) + '😀' + 'Ж'.repeat(66), { coding: 'UCS2', parts: 3, units: 134 }],
  ]
  for (const [text, want] of cases) {
    t.match(client(text), want, `${want.parts} ${want.coding} part(s) for ${want.units} units`)
    t.equal(engineCountParts(text).parts, want.parts, 'the engine agrees')
  }
})

t.test('the console in chromium', NEEDS_BROWSER, async (t) => {
  consoleReady()

  const engine = await startEngine(t, {
    accounts: [DEFAULT_ACCOUNT, BENCH],
    extra: { admin: { password: ADMIN_PASSWORD } },
  })
  const base = `http://127.0.0.1:${engine.httpPort}`

  const { browser, context, page, pageErrors } = await openPage(t, { width: 1400 })
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true })
  const attr = async (sel: string, name: string) => Number(await page.getAttribute(sel, name))
  /** waits until the JavaScript expression (evaluated in the page) is truthy */
  const until = (expression: string, timeout?: number) => waitForExpression(page, expression, timeout)
  const rowCount = "document.querySelectorAll('#binds .tbody [role=row]').length"

  // an ESME of the default account, bound all along: it takes the receipt of the console's SMS
  const esme = await openEsme(t, { port: engine.smppPort, systemId: DEFAULT_ACCOUNT.systemId, password: DEFAULT_ACCOUNT.password })

  await t.test('login', async (t) => {
    await page.goto(`${base}/`)
    await page.waitForSelector('input[name=password]')
    t.equal(await page.title(), 'SMSC console')
    await page.fill('input[name=password]', 'not-the-password')
    await page.click('button[type=submit]')
    await page.waitForSelector('#login-error')
    t.match(await page.textContent('#login-error'), /wrong password/i, 'a wrong password is refused on screen')
    await shot('01-login')
    await page.fill('input[name=password]', ADMIN_PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForSelector('#stream-status[data-status=live]')
    t.equal(await page.textContent('#stream-status'), 'live', 'the telemetry stream is connected')
    // the first frames may still be on their way: until there is a point the charts show a message instead of axes
    await page.waitForSelector('#chart-rates canvas', { state: 'visible' })
    t.pass('the msg/s chart is drawn')
    await page.waitForSelector('#chart-latency canvas', { state: 'visible' })
    t.pass('the latency chart is drawn')
    t.notOk(await page.isVisible('#chart-rates .u-legend'), 'no uPlot legend with "--" placeholders')
    t.match(await page.textContent('#chart-rates .chart-legend'), /latest/, 'the legend shows the latest values')
    await until("/inline codec|threads/.test(document.querySelector('#health')?.textContent ?? '')")
    await shot('02-overview-idle')
  })

  let load: Promise<LoadResult> | undefined
  await t.test('a bench load moves the chart and fills the binds table', async (t) => {
    const before = await attr('#chart-rates', 'data-points')
    load = runLoad({
      host: '127.0.0.1', port: engine.smppPort, systemId: BENCH.systemId, password: BENCH.password,
      binds: 5, window: 10, durationS: 6, rate: 2000, registeredDelivery: 1, drainMs: 5000, progress: false,
    })
    load.catch(() => undefined) // awaited, and its failure reported, in the next step
    await until("Number(document.querySelector('#chart-rates')?.getAttribute('data-max')) > 0")
    t.ok((await attr('#chart-rates', 'data-max')) > 0, 'the chart has a non-zero msg/s point')
    const mid = await attr('#chart-rates', 'data-points')
    await sleep(1500)
    const after = await attr('#chart-rates', 'data-points')
    t.ok(mid > before && after > mid, `the chart keeps getting points (${before} → ${mid} → ${after})`)
    t.not(await page.textContent('#kpi-in .kpi-value'), '0', 'the headline shows msg/s in')
    await shot('03-overview-load')

    await page.click('nav a[href="#/binds"]')
    await until("[...document.querySelectorAll('#binds .tbody [role=row]')].filter((r) => /bench/.test(r.textContent) && /BOUND_TRX/.test(r.textContent)).length === 5")
    t.equal(await page.locator('#binds .tbody [role=row]', { hasText: 'bench' }).count(), 5, 'five bench binds are listed')
    t.equal(await page.locator('#binds .tbody [role=row]', { hasText: 'esme1' }).count(), 1, 'and the esme1 bind')
    t.equal(await page.textContent('#binds-count'), '6')

    await page.click('button[data-col=systemId]')
    t.equal(await page.getAttribute('[role=columnheader]:has(button[data-col=systemId])', 'aria-sort'), 'ascending')
    t.match(await page.locator('#binds .tbody [role=row]').first().textContent(), /bench/, 'sorted a→z: bench first')
    await page.click('button[data-col=systemId]')
    t.equal(await page.getAttribute('[role=columnheader]:has(button[data-col=systemId])', 'aria-sort'), 'descending')
    t.match(await page.locator('#binds .tbody [role=row]').first().textContent(), /esme1/, 'sorted z→a: esme1 first')

    await page.fill('#binds-filter', 'esme1')
    await until(`${rowCount} === 1`)
    t.match(await page.textContent('#binds-count'), /^1 of 6/, 'the filter narrows to one bind')
    await page.fill('#binds-filter', 'BOUND_TRX bench')
    await until(`${rowCount} === 5`)
    await page.fill('#binds-filter', '')
    await page.click('button[data-col=inPerSec]')
    await shot('04-binds')
  })

  await t.test('accounts show the load', async (t) => {
    if (!load) throw new Error('the bench load did not start')
    const result = await load
    t.ok(result.acked > 0, `the bench load was acknowledged (${result.acked})`)
    await page.click('nav a[href="#/accounts"]')
    await page.waitForSelector('[data-account=bench]')
    await until("/DELIVRD/.test(document.querySelector('[data-account=bench]')?.textContent ?? '')")
    t.match(await page.textContent('[data-account=bench]'), /DELIVRD/, 'receipts by stat for the bench account')
    await shot('05-accounts')
  })

  let sentId = ''
  await t.test('send an SMS from the form and see its receipt arrive', async (t) => {
    await page.click('nav a[href="#/messages"]')
    await page.fill('#send input[name=systemId]', DEFAULT_ACCOUNT.systemId)
    await page.fill('#send input[name=from]', 'Console')
    await page.fill('#send input[name=to]', '+4915112345678')
    await page.fill('#send textarea[name=text]', 'Привет, мир')
    t.equal(await page.getAttribute('#sms-counter', 'data-coding'), 'UCS2', 'Cyrillic needs UCS2')
    await page.fill('#send textarea[name=text]', 'x'.repeat(150) + ' {braces} €')
    t.match(await page.textContent('#sms-counter'), /^2 parts, GSM 03\.38/, 'extension characters count twice: 2 GSM parts')
    const text = 'Hello from the console e2e test [ok]'
    await page.fill('#send textarea[name=text]', text)
    t.match(await page.textContent('#sms-counter'), /^1 part, GSM 03\.38/)
    t.ok(await page.isChecked('#send input[name=registeredDelivery]'), 'a receipt is requested by default')
    await page.click('#send button[type=submit]')
    await page.waitForSelector('#send .message')
    sentId = (await page.getAttribute('#send .message', 'data-message-id')) ?? ''
    t.ok(sentId, `the engine answered with a message id (${sentId})`)
    await page.waitForSelector('#send .message [data-event=receipt].done', { timeout: 20_000 })
    t.pass('the timeline shows the receipt')
    await page.waitForSelector('#send .message [data-event=delivered].done', { timeout: 20_000 })
    t.pass('and its delivery to the bound ESME')
    const receipt = await esme.waitFor(receiptFor(sentId), 10_000)
    t.ok(receipt, 'the esme1 bind got the receipt of the message the console sent')
    t.match(await page.textContent('#send .message'), text)
    await shot('06-send')
  })

  await t.test('look a message up by id', async (t) => {
    await page.fill('#lookup input[name=id]', 'no-such-id-42')
    await page.click('#lookup button[type=submit]')
    await page.waitForSelector('#lookup-result .error')
    t.match(await page.textContent('#lookup-result'), /no message/, 'an unknown id says so')
    await page.fill('#lookup input[name=id]', sentId)
    await page.click('#lookup button[type=submit]')
    await page.waitForSelector(`#lookup-result [data-message-id="${sentId}"] [data-event=receipt].done`)
    for (const step of ['received', 'stored', 'carrier', 'receipt', 'delivered']) {
      t.ok(await page.isVisible(`#lookup-result [data-event=${step}].done`), `timeline: ${step}`)
    }
    t.equal(await page.getAttribute('#lookup-result .pill', 'data-state'), 'DELIVERED', 'state delivered')
    await shot('07-lookup')
  })

  await t.test('search messages by number, page through them, open one', async (t) => {
    // the bench load sent thousands to 4915112345678 too; the console's message is the newest
    await page.fill('#search input[name=to]', '+49 151 12345678')
    await page.click('#search button[type=submit]')
    await page.waitForSelector('#search-results')
    t.equal(await page.getAttribute('#search-results', 'data-count'), '20', 'a page of 20')
    t.equal(await page.getAttribute('#search-results .found-row >> nth=0', 'data-message-id'), sentId, 'newest first: the message sent from the form')
    t.match(await page.textContent('#search-summary'), /^20 messages found, newest first · [\d,. ]+ stored messages read in \d+ ms$/)
    await page.click('#search-more')
    await until("document.querySelector('#search-results')?.getAttribute('data-count') === '40'")
    t.pass('More adds the next page')
    const other = (await page.getAttribute('#search-results .found-row >> nth=1', 'data-message-id')) ?? ''
    t.not(other, sentId)
    await page.click(`#search-results [data-message-id="${other}"]`)
    await page.waitForSelector(`#lookup-result [data-message-id="${other}"] .pill`) // the card, once its answer is in
    t.match(await page.textContent('#lookup-result .facts'), /account\s*bench/, 'a result opens in the lookup: a bench message')

    await page.fill('#search input[name=systemId]', DEFAULT_ACCOUNT.systemId)
    await page.click('#search button[type=submit]')
    await until("document.querySelector('#search-results')?.getAttribute('data-count') === '1'")
    t.notOk(await page.isVisible('#search-more'), 'one account: one message, no more pages')
    await page.click(`#search-results [data-message-id="${sentId}"]`)
    await page.waitForSelector(`#lookup-result [data-message-id="${sentId}"] [data-event=delivered].done`)
    t.equal(await page.getAttribute('#lookup-result .pill', 'data-state'), 'DELIVERED', 'its timeline and state')
    t.equal(await page.locator('#lookup-result .carrier').count(), 0, 'the simulator carried it: no connector or upstream id to show')

    // a submit refused (no message id, no record) is listed under the messages
    const refused = await esme.submit({ source_addr: '12345', destination_addr: '4915199999999', short_message: 'too late', schedule_delivery_time: 'tomorrow' })
    t.equal(refused.command_status, 0x61, 'ESME_RINVSCHED')
    await page.fill('#search input[name=to]', '+4915199999999')
    await page.click('#search button[type=submit]')
    await until("document.querySelector('#search-results')?.getAttribute('data-count') === '0'")
    t.match(await page.textContent('#search-summary'), /^No message found/)
    t.equal(await page.getAttribute('#refused .refused-row', 'data-status'), 'ESME_RINVSCHED', 'the refused submit to that number')
    t.match(await page.textContent('#refused .refused-row'), /SMPP bind #\d+.*12345 → 4915199999999/)
    t.match(await page.textContent('#refused-summary'), /^1 refused submit: no message id/)
    await page.fill('#search input[name=to]', '*')
    await page.click('#search button[type=submit]')
    await page.waitForSelector('#search-error')
    t.match(await page.textContent('#search-error'), /to must be a number/, "the engine's refusal is shown")
    await page.fill('#search input[name=to]', '+4915112345678')
    await page.click('#search button[type=submit]')
    await until("document.querySelector('#search-results')?.getAttribute('data-count') === '1'")
    await shot('07a-search')
  })

  await t.test('back up the store from the overview and see where the copy is', async (t) => {
    await page.goto(`${base}/#/overview`)
    await page.waitForSelector('#backup[data-state=none]')
    t.match(await page.textContent('#backup'), /none since the engine started/)
    await page.click('#backup-start')
    await page.waitForSelector('#backup[data-state=done]', { timeout: 30_000 })
    const text = (await page.textContent('#backup')) ?? ''
    const where = await page.$$eval('#backup dt', (dts) => dts.find((dt) => dt.textContent === 'where')?.nextElementSibling?.textContent ?? '')
    t.ok(where.startsWith(path.join(engine.dataDir, 'backups')), `the path is shown: ${where}`)
    t.ok(fs.existsSync(path.join(where, 'store', 'data.mdb')), 'and the copy is there')
    t.match(text, /last backup/)
    await shot('07b-backup')
  })

  await t.test('a 420 px wide window: every tab is visible, readable and clickable', async (t) => {
    const narrow = await browser.newContext({ viewport: { width: 420, height: 860 }, colorScheme: 'light', storageState: await context.storageState() })
    t.teardown(() => narrow.close())
    const p = await narrow.newPage()
    p.setDefaultTimeout(15_000)
    p.on('pageerror', (e) => pageErrors.push(e.message))
    await p.goto(`${base}/#/overview`)
    await p.waitForSelector('#stream-status[data-status=live]')
    for (const [id, label] of [['overview', 'Overview'], ['binds', 'Binds'], ['accounts', 'Accounts'], ['messages', 'Messages']]) {
      const tab = p.locator(`nav a[href="#/${id}"]`)
      t.ok(await tab.isVisible(), `${label}: visible`)
      const box = await tab.boundingBox()
      t.ok(box && box.x >= 0 && box.x + box.width <= 420 && box.width > 0, `${label}: inside the window (${JSON.stringify(box)})`)
      t.ok(await tab.evaluate((el) => el.scrollWidth <= el.clientWidth), `${label}: its label is not cut`)
      t.match(await tab.textContent(), label)
      await tab.click()
      await p.waitForSelector(`main#page-${id}`)
      t.equal(await p.evaluate('document.documentElement.scrollWidth'), 420, `${label}: the page does not scroll sideways`)
      if (id !== 'overview') await p.screenshot({ path: path.join(ARTIFACTS, `07c-narrow-420-${id}.png`), fullPage: true })
    }
    await p.click('nav a[href="#/overview"]')
    await p.waitForSelector('main#page-overview')
    await p.screenshot({ path: path.join(ARTIFACTS, '07b-narrow-420.png'), fullPage: true })
    // down to 360 px every tab can still be reached (scrolled into view if need be) and clicked
    await p.setViewportSize({ width: 360, height: 780 })
    for (const id of ['messages', 'accounts', 'binds', 'overview']) {
      await p.click(`nav a[href="#/${id}"]`)
      await p.waitForSelector(`main#page-${id}`)
    }
    t.equal(await p.evaluate('document.documentElement.scrollWidth'), 360, '360 px: the page does not scroll sideways')
    await p.screenshot({ path: path.join(ARTIFACTS, '07d-narrow-360.png') })
  })

  await t.test('unbind a session from the binds table', async (t) => {
    await page.click('nav a[href="#/binds"]')
    await page.fill('#binds-filter', 'esme1')
    const row = page.locator('#binds .tbody [role=row]', { hasText: 'esme1' })
    await row.waitFor()
    const button = row.locator('button')
    await button.click()
    t.equal(await button.textContent(), 'Confirm', 'the first click asks for confirmation')
    await button.click()
    await row.waitFor({ state: 'detached', timeout: 15_000 })
    t.pass('the unbound session left the table')
    for (let i = 0; i < 100 && !esme.closed; i++) await sleep(50)
    t.ok(esme.closed, 'the ESME was unbound and disconnected')
    await page.fill('#binds-filter', '')
    await shot('08-unbound')
  })

  await t.test('offline shell, then reconnect when the engine is back', async (t) => {
    await page.click('nav a[href="#/overview"]')
    await until('navigator.serviceWorker.controller !== null')
    t.pass('the service worker controls the page')
    await engine.stop()
    await page.waitForSelector('#stream-status[data-status=reconnecting]')
    t.match(await page.textContent('#stream-status'), /reconnecting/)
    await page.waitForSelector('main.page.stale')
    t.pass('the stale figures are dimmed while the stream is down')
    await page.reload()
    await page.waitForSelector('#stream-status[data-status=offline]')
    t.match(await page.textContent('#stream-status'), /reconnecting/, 'the shell opens offline and keeps trying')
    await shot('09-offline')
    await engine.restart()
    // tokens survive restarts (docs/TELEMETRY.md): the console goes live again by itself; should
    // the engine have forgotten the token, it asks for the password instead
    await page.waitForSelector('#stream-status[data-status=live], input[name=password]', { timeout: 30_000 })
    if (await page.isVisible('input[name=password]')) {
      await page.fill('input[name=password]', ADMIN_PASSWORD)
      await page.click('button[type=submit]')
    }
    await page.waitForSelector('#stream-status[data-status=live]')
    t.pass('live again after the restart')
    t.notOk(await page.isVisible('main.page.stale'), 'and no longer dimmed')
    // the snapshot's history (when the engine sends one) replaces the chart series at once
    await page.waitForSelector('#chart-rates canvas', { state: 'visible' })
    t.ok((await attr('#chart-rates', 'data-points')) >= 1, 'the msg/s chart has points again')
    await shot('10-reconnected')
  })

  t.same(pageErrors, [], 'no uncaught errors in the page')
})

/**
 * The message search's other fields, against an engine whose UK numbers go to an HTTP provider that answers with its
 * own id (the upstream id a carrier quotes), and whose MO route answers HELP for an account without credit (its
 * auto-reply is refused). An engine of its own: an upstream connector on the overview would change what the first
 * test's narrow windows show.
 */
t.test("the console's message search by upstream id and by reference, and a refused auto-reply, in chromium", NEEDS_BROWSER, async (t) => {
  consoleReady()
  const provider = await startSink(t)
  provider.answer = () => ({ status: 200, body: { id: PROVIDER_ID } })
  const engine = await startEngine(t, {
    accounts: [DEFAULT_ACCOUNT, POOR as never],
    extra: {
      admin: { password: ADMIN_PASSWORD },
      connectors: [{ id: 'prov', kind: 'http', url: provider.url, receipts: 'callback', callbackToken: 'console-e2e-callback-token' }],
      routes: {
        mt: [{ name: 'uk', match: { destPrefix: ['44'] }, action: { connector: 'prov' } }, { name: 'rest', match: {}, action: { connector: 'simulator' } }],
        mo: [{ name: 'poor-help', match: { destPrefix: ['9090'], keyword: 'HELP' }, account: 'poor', reply: 'Poor help' }],
      },
    },
  })
  const { page, pageErrors } = await openPage(t)
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true })
  const until = (expression: string, timeout?: number) => waitForExpression(page, expression, timeout)
  const token = await engine.operatorToken()
  const sent = await engine.http('POST', '/api/v1/messages', { systemId: DEFAULT_ACCOUNT.systemId, from: 'Shop', to: '+447700900123', text: 'to the UK provider', reference: 'console-ref-1' }, token)
  t.equal(sent.status, 202, sent.body)
  const ukId = (sent.json as { ids: string[] }).ids[0]
  let upstreamId: string | undefined
  for (let i = 0; i < 200 && upstreamId !== PROVIDER_ID; i++) {
    if (i > 0) await sleep(50)
    upstreamId = ((await engine.http('GET', `/api/v1/messages/${ukId}`, undefined, token)).json as { dests: { upstreamId?: string }[] }).dests[0].upstreamId
  }
  t.equal(upstreamId, PROVIDER_ID, "the provider's answer gave the message its upstream id")
  // an MO for the account without credit: its auto-reply is refused
  t.equal((await engine.http('POST', '/api/v1/simulator/mo', { from: SUBSCRIBER, to: '9090', text: 'HELP' }, token)).status, 202)

  await page.goto(`http://127.0.0.1:${engine.httpPort}/`)
  await page.fill('input[name=password]', ADMIN_PASSWORD)
  await page.click('button[type=submit]')
  await page.waitForSelector('#stream-status[data-status=live]')
  await page.click('nav a[href="#/messages"]')
  await page.fill('#search input[name=upstreamId]', 'prov-7731')
  await page.click('#search button[type=submit]')
  await until(`document.querySelector('#search-results .found-row')?.getAttribute('data-message-id') === ${JSON.stringify(ukId)}`)
  t.equal(await page.getAttribute('#search-results', 'data-count'), '1', "the upstream's id, in any case: the one message it carried")
  await page.click(`#search-results [data-message-id="${ukId}"]`)
  await page.waitForSelector(`#lookup-result [data-message-id="${ukId}"] [data-reference]`)
  t.equal(await page.textContent('#lookup-result [data-reference]'), 'console-ref-1', 'the card shows its reference')
  t.match(await page.textContent('#lookup-result .carrier'), `upstream id ${PROVIDER_ID}`, 'and the id it was found by')
  await shot('07a2-search-upstream-id')

  await page.fill('#search input[name=upstreamId]', 'PROV-7732')
  await page.click('#search button[type=submit]')
  await until("document.querySelector('#search-results')?.getAttribute('data-count') === '0'")
  t.pass('another upstream id finds nothing')

  await page.fill('#search input[name=upstreamId]', '')
  await page.fill('#search input[name=reference]', 'console-ref-1')
  await page.click('#search button[type=submit]')
  await until(`document.querySelector('#search-results')?.getAttribute('data-count') === '1' && document.querySelector('#search-results .found-row')?.getAttribute('data-message-id') === ${JSON.stringify(ukId)}`)
  t.pass('the reference finds it too')

  await page.fill('#search input[name=reference]', '')
  await page.fill('#search input[name=to]', SUBSCRIBER)
  await page.click('#search button[type=submit]')
  await page.waitForSelector('#refused [data-via=auto-reply]')
  t.match(await page.textContent('#refused [data-via=auto-reply]'), /^auto-reply · MO route poor-help \(HELP\) · to MO \w+$/, "the refused reply is the route's auto-reply, not an HTTP send")
  t.match(await page.textContent('#refused .refused-row'), /poor.*9090 → 4917700000043.*SMSC_RNOCREDIT/)
  await shot('07a3-search-refused-auto-reply')
  t.same(pageErrors, [], 'no uncaught errors in the page')
})
