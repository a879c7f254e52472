/**
 * The real browser of the console tests: Debian's chromium driven by playwright-core (CHROMIUM_PATH to
 * use another), headless, closed at the test's end; page errors (and what the CSP blocked) collected for the test to assert none.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { projectRoot, type TestLike } from './engine'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
/** Where the console tests leave their screenshots. */
export const ARTIFACTS = path.join(projectRoot(), 'test-artifacts', 'console')

/** tap's option for a console test: skipped, saying why, where there is no browser. */
export const NEEDS_BROWSER = { skip: fs.existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM} (apt-get install chromium)` }

/** What a console test needs first: the console built (console/dist, once per checkout) and the screenshots' dir. */
export function consoleReady(): void {
  const root = projectRoot()
  if (!fs.existsSync(path.join(root, 'console', 'dist', 'index.html'))) {
    execFileSync(process.execPath, [path.join(root, 'console', 'build.js'), '--quiet'], { stdio: 'inherit' })
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true })
}

/** A headless chromium with one page (1280×900 unless told), closed at the test's end. */
export async function openPage(t: TestLike, o: { width?: number; locale?: string } = {}): Promise<{ browser: Browser; context: BrowserContext; page: Page; pageErrors: string[] }> {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { chromium } = require('playwright-core') as typeof import('playwright-core')
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  t.teardown(() => browser.close())
  const context = await browser.newContext({ viewport: { width: o.width ?? 1280, height: 900 }, colorScheme: 'light', ...(o.locale ? { locale: o.locale } : {}) })
  const page: Page = await context.newPage()
  page.setDefaultTimeout(15_000)
  const pageErrors: string[] = []
  page.on('pageerror', (e) => pageErrors.push(e.message))
  // What the engine's Content-Security-Policy blocked (a script, a stylesheet, a connection) is an error too: Chromium
  // only says so on the console, and a blocked stylesheet or fetch would not throw.
  page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) pageErrors.push(m.text()) })
  return { browser, context, page, pageErrors }
}

/**
 * Waits until `expression` (JavaScript, evaluated in the page) is truthy; throws after `timeoutMs`. Not
 * page.waitForFunction: Playwright evaluates its predicate with the page's own eval, which the console's
 * Content-Security-Policy refuses (no 'unsafe-eval'), while page.evaluate goes through the DevTools protocol, which
 * the policy does not govern.
 */
export async function waitForExpression(page: Page, expression: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`waitForExpression: ${expression} still false after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
