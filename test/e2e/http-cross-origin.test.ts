/**
 * Cross-origin request forgery and WebSocket hijacking (engine/http.ts `originGuard`, `foreignOrigin`), against a real
 * engine with a cookie from a real login: a request that changes something, sent with the session cookie from another
 * origin (another port of the same host is the same *site*, so SameSite=Strict lets the cookie through), is refused 403
 * SMSC_ERR_CROSS_ORIGIN: a text/plain account creation, a staff admin's creation, a same-site request without Origin
 * (Sec-Fetch-Site), the telemetry WebSocket's upgrade. The engine's own origin passes, as do requests with neither header
 * (curl), Bearer tokens from any Origin (not ambient credentials), config http.allowedOrigins, and a reverse proxy's
 * X-Forwarded-Host/-Proto from an address of http.trustProxy only. A login token in the URL is refused but on the
 * telemetry upgrade. Then chromium: a page served from another port of 127.0.0.1 tries the forged POST and the WebSocket
 * while the operator is logged in, and both fail.
 */
import t from 'tap'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { httpCall, startEngine, type Engine, type TestLike } from '../helpers/engine'
import { TelemetryClient } from '../helpers/ws'
import { NEEDS_BROWSER, consoleReady, openPage } from '../helpers/browser'

const ADMIN_PASSWORD = 'cross-origin-e2e'
const FOREIGN = 'http://127.0.0.1:28999'
const PROXIED = 'https://smsc.example.com'
const ALLOWED = 'https://console.example.net'

/** The session cookie of a real operator login (name=value). */
async function sessionOf(e: Engine): Promise<{ cookie: string; token: string }> {
  const r = await httpCall(e.httpPort, 'POST', '/api/v1/login', { body: { password: ADMIN_PASSWORD } })
  if (r.status !== 200) throw new Error(`login: ${r.status} ${r.body}`)
  const set = r.headers['set-cookie']?.[0] ?? ''
  return { cookie: set.split(';')[0], token: (r.json as { token: string }).token }
}

/** A request from another local address (127.0.0.2: a reverse proxy of http.trustProxy, or not). */
function fromAddress(localAddress: string, port: number, method: string, urlPath: string, headers: Record<string, string>, body: string): Promise<{ status: number; json: any; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, localAddress, agent: false, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json: unknown
        try { json = JSON.parse(text) } catch { json = undefined }
        resolve({ status: res.statusCode ?? 0, json, headers: res.headers })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

const wsStatus = (port: number, query: string, headers: Record<string, string>): Promise<number> =>
  TelemetryClient.open(port, query, headers).then(async (c) => { await c.close(); return 101 }, (err: Error & { status?: number }) => err.status ?? -1)

t.test('session-cookie requests from another origin are refused; the engine\'s own, curl, Bearer tokens and configured origins pass', async (t) => {
  const e = await startEngine(t, {
    extra: { admin: { password: ADMIN_PASSWORD }, http: { trustProxy: ['127.0.0.2'], allowedOrigins: [ALLOWED] } },
  })
  const port = e.httpPort
  const own = `http://127.0.0.1:${port}`
  const { cookie, token } = await sessionOf(e)
  const accountBody = (id: string) => JSON.stringify({ systemId: id })
  const exists = async (id: string) => (await httpCall(port, 'GET', `/api/v1/accounts/${id}`, { token })).status === 200

  await t.test('a forged POST with the cookie from another port of the host is refused, and nothing happens', async (t) => {
    // what the page's no-cors fetch sends: a text/plain body, the cookie (same site), its Origin
    const r = await httpCall(port, 'POST', '/api/v1/accounts', { body: accountBody('forged1'), cookie, headers: { 'content-type': 'text/plain;charset=UTF-8', origin: FOREIGN, 'sec-fetch-site': 'same-site' } })
    t.equal(r.status, 403)
    t.match(r.json, { code: 'SMSC_ERR_CROSS_ORIGIN', error: /^POST \/api\/v1\/accounts with the session cookie from http:\/\/127\.0\.0\.1:28999, not this engine's origin/ })
    t.notOk(await exists('forged1'), 'no account was created')

    const staff = await httpCall(port, 'POST', '/api/v1/admin/users', { body: { user: 'evil', role: 'admin', password: 'evil-password-1' }, cookie, headers: { origin: FOREIGN } })
    t.match(staff, { status: 403, json: { code: 'SMSC_ERR_CROSS_ORIGIN' } }, 'a staff admin from another origin: refused')
    t.notOk(((await httpCall(port, 'GET', '/api/v1/admin/users', { token })).json as { users: { name: string }[] }).users.some((u) => u.name === 'evil'), 'and not made')

    const noOrigin = await httpCall(port, 'POST', '/api/v1/accounts', { body: accountBody('forged2'), cookie, headers: { 'sec-fetch-site': 'same-site' } })
    t.match(noOrigin, { status: 403, json: { code: 'SMSC_ERR_CROSS_ORIGIN', error: /from a same-site request \(Sec-Fetch-Site\) with no Origin/ } }, 'no Origin but Sec-Fetch-Site same-site: refused')
    t.match(await httpCall(port, 'DELETE', '/api/v1/accounts/esme1', { cookie, headers: { origin: 'null' } }), { status: 403, json: { code: 'SMSC_ERR_CROSS_ORIGIN' } }, 'Origin: null (a sandboxed frame)')
    t.match(await httpCall(port, 'POST', '/api/v1/logout', { cookie, headers: { origin: FOREIGN } }), { status: 403, json: { code: 'SMSC_ERR_CROSS_ORIGIN' } }, 'a forged logout too')
    const withKey = await httpCall(port, 'POST', '/api/v1/accounts', { body: accountBody('forged3'), cookie, headers: { origin: FOREIGN, 'x-api-key': 'anything' } })
    t.match(withKey, { status: 403, json: { code: 'SMSC_ERR_CROSS_ORIGIN' } }, 'an X-API-Key header beside the cookie does not lift the check (the cookie is what acts)')
    t.notOk(await exists('forged3'))
    t.equal((await httpCall(port, 'GET', '/api/v1/me', { cookie, headers: { origin: FOREIGN } })).status, 200, 'a read (GET) is not refused: another origin cannot read the answer')
  })

  await t.test('the engine\'s own origin, curl (neither header) and a Bearer token from anywhere pass', async (t) => {
    t.equal((await httpCall(port, 'POST', '/api/v1/accounts', { body: accountBody('own1'), cookie, headers: { origin: own, 'sec-fetch-site': 'same-origin' } })).status, 201, 'the console\'s own origin')
    t.equal((await httpCall(port, 'POST', '/api/v1/accounts', { body: accountBody('curl1'), cookie, headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status, 201, 'curl -d with the cookie: no Origin, no Sec-Fetch-Site')
    t.equal((await httpCall(port, 'POST', '/api/v1/accounts', { body: accountBody('bearer1'), token, cookie, headers: { origin: FOREIGN, 'sec-fetch-site': 'cross-site' } })).status, 201, 'a Bearer token is no ambient credential')
    const staff = await httpCall(port, 'POST', '/api/v1/admin/users', { body: { user: 'noc1', role: 'viewer', password: 'noc1-password-1' }, cookie, headers: { origin: own } })
    t.equal(staff.status, 201, 'a staff user from the engine\'s own origin')
  })

  await t.test('config http.allowedOrigins; a proxy\'s X-Forwarded-Host only from http.trustProxy', async (t) => {
    t.equal((await httpCall(port, 'POST', '/api/v1/accounts', { body: accountBody('allowed1'), cookie, headers: { origin: ALLOWED } })).status, 201, 'an origin of http.allowedOrigins')
    const proxied = { 'content-type': 'application/json', cookie, origin: PROXIED, 'x-forwarded-host': 'smsc.example.com', 'x-forwarded-proto': 'https' }
    t.equal((await fromAddress('127.0.0.2', port, 'POST', '/api/v1/accounts', proxied, accountBody('proxied1'))).status, 201, 'from the trusted proxy: its X-Forwarded-Host and -Proto are the origin')
    t.match(await fromAddress('127.0.0.1', port, 'POST', '/api/v1/accounts', proxied, accountBody('proxied2')), { status: 403, json: { code: 'SMSC_ERR_CROSS_ORIGIN' } }, 'the same headers from an address that is no trusted proxy: ignored')
    t.match(await fromAddress('127.0.0.2', port, 'POST', '/api/v1/accounts', { ...proxied, 'x-forwarded-proto': 'http' }, accountBody('proxied3')), { status: 403 }, 'another scheme is another origin')
    // A proxy that terminates TLS and passes the browser's Host (port included, nginx $http_host) sends only the scheme
    const passesHost = { 'content-type': 'application/json', cookie, origin: 'https://smsc.example.com:30444', host: 'smsc.example.com:30444', 'x-forwarded-proto': 'https' }
    t.equal((await fromAddress('127.0.0.2', port, 'POST', '/api/v1/accounts', passesHost, accountBody('proxied4'))).status, 201, 'a TLS-terminating proxy that passes Host: X-Forwarded-Proto with the Host is the origin')
    t.match(await fromAddress('127.0.0.2', port, 'POST', '/api/v1/accounts', { ...passesHost, host: 'smsc.example.com' }, accountBody('proxied5')), { status: 403 }, 'a Host without the browser\'s port (nginx $host) is another origin')
    const metrics = (await httpCall(port, 'GET', '/metrics')).body
    t.ok(Number(/smsc_http_cross_origin_refused_total (\d+)/.exec(metrics)?.[1]) >= 3, 'the refusals are counted')
  })

  await t.test('a login through a trusted proxy that says https gets a Secure cookie', async (t) => {
    const viaProxy = (await fromAddress('127.0.0.2', port, 'POST', '/api/v1/login', { 'content-type': 'application/json', 'x-forwarded-proto': 'https' }, JSON.stringify({ password: ADMIN_PASSWORD }))).headers
    t.match(viaProxy['set-cookie']?.[0], /; Secure/, 'Secure: the browser is on HTTPS')
    const direct = (await fromAddress('127.0.0.1', port, 'POST', '/api/v1/login', { 'content-type': 'application/json', 'x-forwarded-proto': 'https' }, JSON.stringify({ password: ADMIN_PASSWORD }))).headers
    t.notMatch(direct['set-cookie']?.[0] ?? '', /Secure/, 'the header from an address that is no trusted proxy: ignored')
  })

  await t.test('the telemetry upgrade with the cookie from another origin is refused; the engine\'s own and ?token= open', async (t) => {
    t.equal(await wsStatus(port, 'format=json', { cookie, origin: FOREIGN }), 403, 'the cookie from another origin: refused')
    t.equal(await wsStatus(port, 'format=json', { cookie, origin: own }), 101, 'from the engine\'s own origin: opens')
    t.equal(await wsStatus(port, 'format=json', { cookie }), 101, 'without Origin (not a browser): opens')
    t.equal(await wsStatus(port, `format=json&token=${encodeURIComponent(token)}`, { origin: FOREIGN }), 101, '?token= from anywhere: the page had to know the token')
    t.equal(await wsStatus(port, 'format=json&token=nonsense', { cookie, origin: FOREIGN }), 401, 'a wrong ?token= is not made good by the cookie')
  })

  await t.test('a login token in the URL is taken by the telemetry upgrade only', async (t) => {
    const r = await httpCall(port, 'GET', `/api/v1/accounts?token=${encodeURIComponent(token)}`)
    t.equal(r.status, 401)
    t.match(r.json, { code: 'SMSC_ERR_HTTP_AUTH', error: /a token in the URL \(\?token=\) is taken by the telemetry WebSocket only .*Authorization: Bearer/ })
    t.equal((await httpCall(port, 'POST', `/api/v1/accounts?token=${encodeURIComponent(token)}`, { body: accountBody('url1') })).status, 401, 'nor for a change')
    t.notOk(await exists('url1'))
    t.equal((await httpCall(port, 'GET', `/api/v1/messages?token=${encodeURIComponent(token)}`)).status, 401, 'nor for the send API\'s search')
    t.equal((await httpCall(port, 'GET', '/api/v1/accounts', { token })).status, 200, 'the header works')
  })
})

t.test('chromium: a page on another port of 127.0.0.1 cannot create an account nor read the stream with the operator\'s cookie', NEEDS_BROWSER, async (t) => {
  consoleReady()
  const e = await startEngine(t, { extra: { admin: { password: ADMIN_PASSWORD } } })
  const port = e.httpPort
  const { token } = await sessionOf(e)
  // the attacker's page: same site (127.0.0.1), another origin (its own port)
  const evil = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end(`<!doctype html><title>evil</title><script>
      window.result = { post: 'pending', ws: 'pending' };
      fetch('http://127.0.0.1:${port}/api/v1/accounts', { method: 'POST', mode: 'no-cors', credentials: 'include',
        headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ systemId: 'evil1' }) })
        .then(() => { window.result.post = 'sent' }, (e) => { window.result.post = 'error ' + e })
      const ws = new WebSocket('ws://127.0.0.1:${port}/ws/telemetry?format=json')
      ws.onmessage = (m) => { window.result.ws = 'read ' + String(m.data).slice(0, 40) }
      ws.onerror = () => { if (window.result.ws === 'pending') window.result.ws = 'refused' }
    </script>`)
  })
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => evil.close(() => resolve())))
  const evilPort = (evil.address() as AddressInfo).port

  const { page, context } = await openPage(t)
  // the operator signs in to the console (a real login through its form), which sets the cookie
  await page.goto(`http://127.0.0.1:${port}/#/overview`)
  await page.waitForSelector('input[name=password]')
  await page.fill('input[name=password]', ADMIN_PASSWORD)
  await page.click('button[type=submit]')
  await page.waitForSelector('#whoami')
  t.ok((await context.cookies(`http://127.0.0.1:${evilPort}`)).some((c) => c.name === 'smsc_session'), 'the browser sends the session cookie to 127.0.0.1 on any port (same site)')

  const evilPage = await context.newPage()
  await evilPage.goto(`http://127.0.0.1:${evilPort}/`)
  const deadline = Date.now() + 10_000
  let result: { post: string; ws: string } = { post: 'pending', ws: 'pending' }
  while (Date.now() < deadline) {
    result = await evilPage.evaluate('window.result') as { post: string; ws: string }
    if (result.post !== 'pending' && result.ws !== 'pending') break
    await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(result.post, 'sent', 'the page\'s no-cors POST went out (its answer is opaque to the page)')
  t.equal((await httpCall(port, 'GET', '/api/v1/accounts/evil1', { token })).status, 404, 'and created no account')
  t.equal(result.ws, 'refused', 'the WebSocket was refused: the page read no snapshot')

  // the console itself still changes things with the cookie: a new account through its form is covered by
  // test/e2e/console-admin.test.ts; here one POST from the console's page
  const own = await page.evaluate(`fetch('/api/v1/accounts', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ systemId: 'good1' }) }).then((r) => r.status)`)
  t.equal(own, 201, 'the console\'s own page creates an account with the cookie')
})

/**
 * A reverse proxy in front of the engine, as nginx's proxy_pass does it: it sends the engine's own address as Host
 * (nginx's default), and with `forward` also X-Forwarded-Host (the host:port the browser used) and X-Forwarded-Proto.
 * Requests and the telemetry WebSocket's upgrade both go through.
 */
async function reverseProxy(t: TestLike, enginePort: number, forward: boolean): Promise<number> {
  const headersFor = (h: http.IncomingHttpHeaders): Record<string, string> => {
    const out: Record<string, string> = {}
    for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v
    if (forward) { out['x-forwarded-host'] = String(h.host); out['x-forwarded-proto'] = 'http' }
    out.host = `127.0.0.1:${enginePort}`
    return out
  }
  const server = http.createServer((req, res) => {
    const up = http.request({ host: '127.0.0.1', port: enginePort, method: req.method, path: req.url, headers: headersFor(req.headers), agent: false }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers)
      r.pipe(res)
    })
    up.on('error', () => res.destroy())
    req.pipe(up)
  })
  // Upgraded sockets leave the server's books (closeAllConnections does not see them): kept here to end at teardown.
  const piped = new Set<net.Socket | import('node:stream').Duplex>()
  server.on('upgrade', (req, socket, head) => {
    const up = net.connect(enginePort, '127.0.0.1', () => {
      up.write(`${req.method} ${req.url} HTTP/1.1\r\n${Object.entries(headersFor(req.headers)).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`)
      up.write(head)
      up.pipe(socket)
      socket.pipe(up)
    })
    up.on('error', () => socket.destroy())
    socket.on('error', () => up.destroy())
    for (const s of [up, socket]) { piped.add(s); s.on('close', () => piped.delete(s)) }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    for (const s of piped) s.destroy()
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return (server.address() as AddressInfo).port
}

t.test('chromium through a reverse proxy: one that rewrites Host gets changes and the sign-out refused, and the console says the sign-out failed; with X-Forwarded-Host from a trusted proxy everything works', NEEDS_BROWSER, async (t) => {
  consoleReady()
  const e = await startEngine(t, { extra: { admin: { password: ADMIN_PASSWORD }, http: { trustProxy: ['127.0.0.1'] } } })
  const signIn = async (proxyPort: number) => {
    const { page } = await openPage(t)
    await page.goto(`http://127.0.0.1:${proxyPort}/#/overview`)
    await page.waitForSelector('input[name=password]')
    await page.fill('input[name=password]', ADMIN_PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForSelector('#whoami')
    return page
  }

  const bare = await reverseProxy(t, e.httpPort, false)
  const page = await signIn(bare)
  t.equal(await page.evaluate(`fetch('/api/v1/accounts', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ systemId: 'viaproxy1' }) }).then((r) => r.status)`), 403, 'a change through a proxy that rewrites Host: refused')
  // the alert blocks the page until accepted: accepted by the handler, so the click can finish
  const said: string[] = []
  page.once('dialog', (d) => { said.push(d.message()); void d.accept() })
  await page.click('button:has-text("Sign out")')
  for (let i = 0; i < 100 && said.length === 0; i++) await new Promise((r) => setTimeout(r, 50))
  t.match(said[0], /^Sign-out failed: .*session cookie from http:\/\/127\.0\.0\.1:\d+, not this engine's origin[\s\S]*The session is still open\.$/, 'the console says the sign-out failed, and why')
  t.ok(await page.isVisible('#whoami'), 'and stays signed in rather than pretend')
  const metrics = (await httpCall(e.httpPort, 'GET', '/metrics')).body
  t.ok(Number(/smsc_http_cross_origin_refused_total (\d+)/.exec(metrics)?.[1]) >= 2, 'counted')
  t.match(e.output(), /cross-origin request with the session cookie refused.*"host":"127\.0\.0\.1:\d+"/, 'logged with the Host it was compared with')

  const forwarding = await reverseProxy(t, e.httpPort, true)
  const page2 = await signIn(forwarding)
  t.equal(await page2.evaluate(`fetch('/api/v1/accounts', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ systemId: 'viaproxy2' }) }).then((r) => r.status)`), 201, 'with X-Forwarded-Host from a trusted proxy: a change works')
  await page2.waitForSelector('.badge.ok, [data-status=live]', { timeout: 10_000 }).catch(() => undefined)
  await page2.click('button:has-text("Sign out")')
  await page2.waitForSelector('input[name=password]')
  t.pass('and signing out works')
})
