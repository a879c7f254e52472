/**
 * The security headers every HTTP answer carries (engine/http.ts, `head`), on both listeners: nosniff, no framing, no
 * referrer, a Content-Security-Policy (the console's files: their own origin only; everything else: nothing), and on
 * HTTPS (http.tlsPort) Strict-Transport-Security; a login over HTTPS sets its session cookie Secure, one over the
 * plain port (loopback, the CLI's) does not. The console works under its policy: test/e2e/console*.test.ts run it in
 * Chromium, where anything the policy blocks is a page error (test/helpers/browser.ts).
 */
import t from 'tap'
import https from 'node:https'
import type { IncomingHttpHeaders } from 'node:http'
import { freePorts, httpCall, startEngine } from '../helpers/engine'

const CONSOLE_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "font-src 'self'; manifest-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
const API_CSP = "default-src 'none'; frame-ancestors 'none'"
const COMMON = { 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' }

interface Answer { status: number; headers: IncomingHttpHeaders }

/** One request over HTTPS (the dev certificate: not verified). */
function overTls(port: number, method: string, urlPath: string, o: { body?: unknown; cookie?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = o.body === undefined ? undefined : JSON.stringify(o.body)
    const headers: Record<string, string> = {}
    if (payload !== undefined) headers['content-type'] = 'application/json'
    if (o.cookie) headers.cookie = o.cookie
    const req = https.request({ host: '127.0.0.1', port, method, path: urlPath, rejectUnauthorized: false, agent: false, headers }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }))
    })
    req.on('error', reject)
    req.end(payload)
  })
}

t.test('every answer carries the security headers; the console a CSP of its own origin; HTTPS adds HSTS and a Secure session cookie', async (t) => {
  const [tlsPort] = await freePorts(1)
  const e = await startEngine(t, { devTls: true, extra: { http: { tlsHost: '127.0.0.1', tlsPort } } })
  const password = 'secret1'
  const plain = (method: string, urlPath: string, o: { body?: unknown; cookie?: string } = {}) => httpCall(e.httpPort, method, urlPath, o)

  for (const [method, urlPath] of [['GET', '/'], ['HEAD', '/'], ['GET', '/sw.js'], ['GET', '/accounts']] as const) {
    const r = await plain(method, urlPath)
    t.match(r, { status: 200, headers: { ...COMMON, 'content-security-policy': CONSOLE_CSP } }, `plain ${method} ${urlPath}: the console's policy`)
    t.notOk(r.headers['strict-transport-security'], `plain ${method} ${urlPath}: no HSTS over plain HTTP (RFC 6797 §7.2)`)
  }
  const apiAnswers: [string, string, number][] = [
    ['GET', '/healthz', 200], ['HEAD', '/healthz', 200], ['GET', '/metrics', 200], ['GET', '/api/v1/openapi.json', 200],
    ['GET', '/api/v1/me', 401], ['GET', '/api/v1/nothing-here', 404], ['PUT', '/api/v1/messages', 405],
  ]
  for (const [method, urlPath, status] of apiAnswers) {
    const r = await plain(method, urlPath)
    t.match(r, { status, headers: { ...COMMON, 'content-security-policy': API_CSP } }, `plain ${method} ${urlPath}: the API's policy`)
    t.notOk(r.headers['strict-transport-security'], `plain ${method} ${urlPath}: no HSTS`)
  }
  const login = await plain('POST', '/api/v1/login', { body: { systemId: 'esme1', password } })
  t.match(login, { status: 200, headers: COMMON })
  t.equal(login.headers['set-cookie']?.[0].replace(/=[^;]+;/, '=…;'), 'smsc_session=…; HttpOnly; SameSite=Strict; Path=/', 'a login over plain HTTP: no Secure (the CLI\'s loopback port)')

  for (const urlPath of ['/', '/sw.js']) {
    t.match(await overTls(tlsPort, 'GET', urlPath), { status: 200, headers: { ...COMMON, 'content-security-policy': CONSOLE_CSP, 'strict-transport-security': 'max-age=31536000' } }, `HTTPS GET ${urlPath}`)
  }
  for (const [method, urlPath, status] of [['GET', '/healthz', 200], ['HEAD', '/healthz', 200], ['GET', '/metrics', 404], ['GET', '/api/v1/me', 401]] as const) {
    t.match(await overTls(tlsPort, method, urlPath), { status, headers: { ...COMMON, 'content-security-policy': API_CSP, 'strict-transport-security': 'max-age=31536000' } }, `HTTPS ${method} ${urlPath}`)
  }
  const secure = await overTls(tlsPort, 'POST', '/api/v1/login', { body: { systemId: 'esme1', password } })
  t.equal(secure.status, 200)
  const cookie = secure.headers['set-cookie']?.[0] ?? ''
  t.equal(cookie.replace(/=[^;]+;/, '=…;'), 'smsc_session=…; HttpOnly; SameSite=Strict; Path=/; Secure', 'a login over HTTPS: Secure (RFC 6265 §4.1.2.5)')
  const session = cookie.split(';')[0]
  t.match(await overTls(tlsPort, 'GET', '/api/v1/me', { cookie: session }), { status: 200 }, 'the cookie works over HTTPS')
  const out = await overTls(tlsPort, 'POST', '/api/v1/logout', { cookie: session })
  t.equal(out.headers['set-cookie']?.[0], 'smsc_session=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/; Secure', 'the logout clears it with the same attributes')
})
