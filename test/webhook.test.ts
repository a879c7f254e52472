/**
 * The webhook sender against a real HTTP server on loopback: one POST of one JSON array per call,
 * ok only on 2xx with the status passed on, status 0 for a timeout and for a refused connection,
 * never more requests in flight than `concurrency` (the rest wait, in order), and stop() answers
 * the waiting calls and waits for the ones on the wire.
 */
import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebhookSender, redact } from '../engine/webhook'

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
