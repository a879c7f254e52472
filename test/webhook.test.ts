/**
 * The webhook sender against a real HTTP server on loopback: one POST of one JSON array per call,
 * ok only on 2xx with the status passed on, status 0 for a timeout and for a refused connection,
 * never more requests in flight than `concurrency` (the rest wait, in order), and stop() answers
 * the waiting calls and waits for the ones on the wire. Signatures (X-Smsc-Timestamp, X-Smsc-Signature)
 * verify with the secret; guarded calls (URLs a reseller or user set) never reach a private address,
 * literal or resolved, connect to the address that was checked, and their refusals are logged at most
 * once per interval; redirects are not followed.
 */
import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHmac } from 'node:crypto'
import { WebhookSender, redact, signature, type LookupAll, type SendOptions } from '../engine/webhook'
import { addressRefusal } from '../engine/webhook-target'

interface Seen { method: string; path: string; type: string | undefined; body: unknown }

/** A server whose answer per request is decided by `handle` (which may answer late, or never). */
async function server(t: { teardown(fn: () => unknown): void }, handle: (req: http.IncomingMessage, res: http.ServerResponse, body: unknown) => void) {
  const seen: Seen[] = []
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
      seen.push({ method: req.method ?? '', path: req.url ?? '', type: req.headers['content-type'], body })
      handle(req, res, body)
    })
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => { srv.closeAllConnections(); srv.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, seen }
}

const log = () => {}
const sendP = (w: WebhookSender, url: string, events: unknown[]) =>
  new Promise<{ ok: boolean; status: number }>((resolve) => w.send(url, events, (ok, status) => resolve({ ok, status })))

t.test('a 2xx answer is ok, with one POST of the events as one JSON array', async (t) => {
  const s = await server(t, (_req, res) => { res.statusCode = 204; res.end() })
  const w = new WebhookSender({ timeoutMs: 2000, concurrency: 2, log })
  const events = [{ id: '1', stat: 'DELIVRD' }, { id: '2', stat: 'UNDELIV' }]
  t.same(await sendP(w, `${s.url}/hook?secret=x`, events), { ok: true, status: 204 })
  t.equal(s.seen.length, 1, 'one request for the batch')
  t.match(s.seen[0], { method: 'POST', path: '/hook?secret=x', type: 'application/json' })
  t.same(s.seen[0].body, events)
  await w.stop()
})

t.test('4xx and 5xx answers are not ok and carry their status', async (t) => {
  const s = await server(t, (req, res) => { res.statusCode = req.url === '/gone' ? 410 : 503; res.end('no') })
  const w = new WebhookSender({ timeoutMs: 2000, concurrency: 2, log })
  t.same(await sendP(w, `${s.url}/busy`, [1]), { ok: false, status: 503 })
  t.same(await sendP(w, `${s.url}/gone`, [1]), { ok: false, status: 410 })
  await w.stop()
})

t.test('a server that does not answer in time gives status 0', async (t) => {
  const s = await server(t, () => { /* never answers */ })
  const w = new WebhookSender({ timeoutMs: 200, concurrency: 1, log })
  const t0 = Date.now()
  t.same(await sendP(w, s.url, [1]), { ok: false, status: 0 })
  const took = Date.now() - t0
  t.ok(took >= 150 && took < 2000, `gave up after the timeout (${took} ms)`)
  await w.stop()
})

t.test('a refused connection gives status 0', async (t) => {
  // a port that was free a moment ago: nothing listens there now
  const free = await new Promise<number>((resolve) => {
    const x = http.createServer().listen(0, '127.0.0.1', () => { const p = (x.address() as AddressInfo).port; x.close(() => resolve(p)) })
  })
  const w = new WebhookSender({ timeoutMs: 2000, concurrency: 1, log })
  t.same(await sendP(w, `http://127.0.0.1:${free}/`, [1]), { ok: false, status: 0 })
  await w.stop()
})

t.test('never more than `concurrency` requests in flight; the rest wait in order', async (t) => {
  let open = 0
  let most = 0
  const pending: http.ServerResponse[] = []
  const s = await server(t, (_req, res) => {
    open++
    most = Math.max(most, open)
    pending.push(res)
  })
  // Answer the requests one by one, a little later each, and only once every request started has
  // arrived: then each answer lets exactly one more out, and arrival order is the order they were
  // sent in (two requests started together on two sockets may arrive in either order).
  let answered = 0
  const answering = setInterval(() => {
    if (pending.length < Math.min(3, 12 - answered)) return
    const res = pending.shift()
    if (res) { open--; answered++; res.statusCode = 200; res.end('{}') }
  }, 10)
  t.teardown(() => clearInterval(answering))
  const w = new WebhookSender({ timeoutMs: 5000, concurrency: 3, log })
  const done: number[] = []
  const all = Array.from({ length: 12 }, (_, i) => new Promise<void>((resolve) => w.send(s.url, [i], (ok) => { t.ok(ok); done.push(i); resolve() })))
  t.equal(w.active, 3, 'three on the wire')
  t.equal(w.queued, 9, 'nine waiting')
  await Promise.all(all)
  t.equal(most, 3, 'the server never saw more than three at once')
  t.same(s.seen.map((x) => (x.body as number[])[0]), [...Array(12).keys()], 'sent in the order of the calls')
  t.same(done, [...Array(12).keys()], 'answered in order (the server answers in order)')
  await w.stop()
})

t.test('stop() answers the waiting calls at once and waits for the ones in flight', async (t) => {
  const held: { release: (() => void) | null } = { release: null }
  const s = await server(t, (_req, res) => { held.release = () => { res.statusCode = 200; res.end() } })
  const w = new WebhookSender({ timeoutMs: 5000, concurrency: 1, log })
  const first = sendP(w, s.url, ['a'])
  const second = sendP(w, s.url, ['b'])
  while (!held.release) await new Promise((r) => setTimeout(r, 5))
  let stopped = false
  const stopping = w.stop().then(() => { stopped = true })
  t.same(await second, { ok: false, status: 0 }, 'the waiting call is answered (false, 0)')
  await new Promise((r) => setTimeout(r, 50))
  t.notOk(stopped, 'stop waits for the request in flight')
  held.release()
  await stopping
  t.same(await first, { ok: true, status: 200 })
  t.same(await sendP(w, s.url, ['c']), { ok: false, status: 0 }, 'calls after stop are refused')
  t.equal(s.seen.length, 1)
})

t.test('URLs in the logs lose their query string and user info', async (t) => {
  t.equal(redact('https://u:p@example.com:8443/hook?token=secret'), 'https://example.com:8443/hook')
  t.equal(redact('not a url'), '(invalid url)')
})

// ---- signatures and the SSRF guard (engine/webhook-target.ts)

/** A server that records the raw body and headers of each request (answering `status`, `connection: close` when asked). */
async function rawServer(t: { teardown(fn: () => unknown): void }, host = '127.0.0.1', opts: { status?: number; close?: boolean; location?: string } = {}) {
  const seen: { headers: http.IncomingHttpHeaders; raw: string; path: string; local: string }[] = []
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      seen.push({ headers: req.headers, raw: Buffer.concat(chunks).toString('utf8'), path: req.url ?? '', local: req.socket.localAddress ?? '' })
      const headers: Record<string, string> = {}
      if (opts.close) headers.connection = 'close'
      if (opts.location) headers.location = opts.location
      res.writeHead(opts.status ?? 200, headers).end('ok')
    })
  })
  await new Promise<void>((resolve) => srv.listen(0, host, () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => { srv.closeAllConnections(); srv.close(() => resolve()) }))
  return { port: (srv.address() as AddressInfo).port, seen }
}

type Sent = { ok: boolean; status: number; refused?: string }
const sendWith = (w: WebhookSender, url: string, events: unknown[], o: SendOptions) =>
  new Promise<Sent>((resolve) => w.send(url, events, (ok, status, refused) => resolve(refused === undefined ? { ok, status } : { ok, status, refused }), o))

t.test('with a secret, each POST carries a timestamp and an HMAC-SHA256 of timestamp.body that verifies', async (t) => {
  const s = await rawServer(t)
  const w = new WebhookSender({ timeoutMs: 2000, concurrency: 1, log })
  const secret = 'whsec_test-secret'
  const events = [{ type: 'receipt', id: '42', stat: 'DELIVRD', text: 'é €' }]
  const before = Math.floor(Date.now() / 1000)
  t.same(await sendWith(w, `http://127.0.0.1:${s.port}/dlr`, events, { secret }), { ok: true, status: 200 })
  const after = Math.floor(Date.now() / 1000)
  const h = s.seen[0].headers
  const ts = Number(h['x-smsc-timestamp'])
  t.ok(Number.isInteger(ts) && ts >= before && ts <= after, `timestamp in unix seconds, now (${h['x-smsc-timestamp']})`)
  const expected = 'sha256=' + createHmac('sha256', secret).update(`${h['x-smsc-timestamp']}.${s.seen[0].raw}`).digest('hex')
  t.equal(h['x-smsc-signature'], expected, 'the receiver computes the same signature over the raw body')
  t.equal(signature(secret, ts, s.seen[0].raw), expected, 'signature() is that scheme')
  t.not(h['x-smsc-signature'], 'sha256=' + createHmac('sha256', 'another').update(`${ts}.${s.seen[0].raw}`).digest('hex'), 'another secret gives another signature')
  t.same(JSON.parse(s.seen[0].raw), events)
  t.equal(h['content-length'], String(Buffer.byteLength(s.seen[0].raw)))
  // without a secret: no signature headers
  t.same(await sendWith(w, `http://127.0.0.1:${s.port}/dlr`, events, {}), { ok: true, status: 200 })
  t.equal(s.seen[1].headers['x-smsc-signature'], undefined)
  t.equal(s.seen[1].headers['x-smsc-timestamp'], undefined)
  // user info in the URL is sent as HTTP Basic authentication
  t.same(await sendWith(w, `http://hook:p%40ss@127.0.0.1:${s.port}/dlr`, events, { secret }), { ok: true, status: 200 })
  t.equal(s.seen[2].headers.authorization, `Basic ${Buffer.from('hook:p@ss').toString('base64')}`)
  t.equal(s.seen[2].path, '/dlr')
  await w.stop()
})

t.test('guarded: a literal private address is refused without a request, logged at most once per interval', async (t) => {
  const s = await rawServer(t)
  const logs: { level: string; msg: string; fields?: Record<string, unknown> }[] = []
  const w = new WebhookSender({ timeoutMs: 2000, concurrency: 2, refusalLogMs: 300, log: (level, msg, fields) => { logs.push({ level, msg, fields: fields as Record<string, unknown> }) } })
  const url = `http://127.0.0.1:${s.port}/dlr?token=x`
  for (let i = 0; i < 3; i++) t.same(await sendWith(w, url, [i], { guarded: true }), { ok: false, status: 0, refused: '127.0.0.1 is a loopback address' })
  t.same(await sendWith(w, `http://2130706433:${s.port}/`, [1], { guarded: true }), { ok: false, status: 0, refused: '127.0.0.1 is a loopback address' }, 'decimal form')
  t.same(await sendWith(w, `http://[::ffff:127.0.0.1]:${s.port}/`, [1], { guarded: true }), { ok: false, status: 0, refused: '::ffff:7f00:1 is a loopback address' }, 'IPv4-mapped form')
  t.same(await sendWith(w, `http://localhost:${s.port}/`, [1], { guarded: true }), { ok: false, status: 0, refused: 'localhost is a name of this host' }, 'localhost, before any lookup')
  t.equal(s.seen.length, 0, 'nothing reached the server')
  const refusals = () => logs.filter((l) => l.msg.startsWith('webhook target refused') && l.fields?.url === `http://127.0.0.1:${s.port}/dlr`)
  t.equal(refusals().length, 1, 'three refusals of one URL: logged once')
  t.match(refusals()[0], { level: 'warn', fields: { why: '127.0.0.1 is a loopback address' } })
  t.notOk(JSON.stringify(logs).includes('token=x'), 'the query string stays out of the log')
  await new Promise((r) => setTimeout(r, 350))
  await sendWith(w, url, [9], { guarded: true })
  t.equal(refusals().length, 2, 'logged again after the interval')
  t.match(refusals()[1].fields, { refusedSinceLastLog: 2 })
  // not guarded (the operator's URL), or allowPrivateTargets: the same URL is posted to
  t.same(await sendWith(w, url, [1], {}), { ok: true, status: 200 })
  const open = new WebhookSender({ timeoutMs: 2000, concurrency: 1, log, allowPrivateTargets: true })
  t.same(await sendWith(open, url, [2], { guarded: true }), { ok: true, status: 200 }, 'allowPrivateTargets lets a guarded call through')
  t.equal(s.seen.length, 2)
  await w.stop()
  await open.stop()
})

t.test('guarded: a name is resolved and every address checked; the connection goes to the checked address', async (t) => {
  // 127.0.0.2 plays a public address here (the refusal rule is the test's): the server listens there.
  const s = await rawServer(t, '127.0.0.2', { close: true })
  const answers: Record<string, string[]> = { 'hook.test': ['127.0.0.2'], 'mixed.test': ['127.0.0.2', '127.0.0.1'], 'private.test': ['10.0.0.5'] }
  const lookups: string[] = []
  const lookup: LookupAll = (host, cb) => {
    lookups.push(host)
    const a = answers[host]
    if (a === undefined) return cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), [])
    cb(null, a.map((address) => ({ address, family: 4 })))
  }
  const refusal = (ip: string) => (ip === '127.0.0.2' ? null : addressRefusal(ip))
  const w = new WebhookSender({ timeoutMs: 2000, concurrency: 1, log, lookup, refusal })
  t.same(await sendWith(w, `http://hook.test:${s.port}/dlr`, [1], { guarded: true, secret: 'k' }), { ok: true, status: 200 })
  t.equal(s.seen.length, 1)
  t.equal(s.seen[0].local, '127.0.0.2', 'connected to the address the lookup gave and the check passed')
  t.equal(s.seen[0].headers.host, `hook.test:${s.port}`, 'the Host header is still the name')
  t.same(lookups, ['hook.test'], 'one lookup for the connection: the checked answer is the one used')
  // DNS rebinding: the name now resolves to loopback; the next connection (the server closed the last) is refused
  answers['hook.test'] = ['127.0.0.1']
  t.same(await sendWith(w, `http://hook.test:${s.port}/dlr`, [2], { guarded: true }), { ok: false, status: 0, refused: '127.0.0.1 is a loopback address (hook.test resolves to it)' })
  t.same(await sendWith(w, `http://mixed.test:${s.port}/dlr`, [3], { guarded: true }), { ok: false, status: 0, refused: '127.0.0.1 is a loopback address (mixed.test resolves to it)' }, 'one private address among public ones is enough')
  t.same(await sendWith(w, `http://private.test:${s.port}/dlr`, [4], { guarded: true }), { ok: false, status: 0, refused: '10.0.0.5 is a private address (private.test resolves to it)' })
  t.same(await sendWith(w, `http://nowhere.test:${s.port}/dlr`, [5], { guarded: true }), { ok: false, status: 0 }, 'a name that does not resolve: a network failure, not a refusal')
  t.equal(s.seen.length, 1, 'no refused request reached the server')
  // not guarded: the lookup hook is not used (the system resolver is)
  const before = lookups.length
  t.same(await sendWith(w, `http://127.0.0.2:${s.port}/dlr`, [6], {}), { ok: true, status: 200 })
  t.equal(lookups.length, before)
  await w.stop()
})

t.test('redirects are not followed: a 3xx is a failure with its status', async (t) => {
  const target = await rawServer(t)
  const s = await rawServer(t, '127.0.0.1', { status: 302, location: `http://127.0.0.1:${target.port}/elsewhere` })
  const w = new WebhookSender({ timeoutMs: 2000, concurrency: 1, log })
  t.same(await sendWith(w, `http://127.0.0.1:${s.port}/dlr`, [1], {}), { ok: false, status: 302 })
  t.equal(s.seen.length, 1)
  t.equal(target.seen.length, 0, 'the Location was not requested')
  await w.stop()
})
