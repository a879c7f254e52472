/**
 * An HTTP provider's receipt callbacks while its connector is replaced (a config reload that changes it, a crash of
 * its actor) are each answered 200 at once and matched: none waits for the 503 of a stopped actor (a reload's old
 * actor dropped the callbacks that reached it after its link stopped), and none overtakes the answers of the old
 * instance's requests in flight (after a crash, the new instance handed a callback on before the old one had reported
 * the provider ids it names: acknowledged, matched to nothing, the message open until its validity ended).
 * In process (createSmsc), against a node:http provider that calls back for every message it takes.
 */
import t from 'tap'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { createSmsc, type Options, type Smsc } from '../../engine/index'
import { httpCall, type TestLike } from '../helpers/engine'
import { sleep, submitting, until } from '../helpers/lifecycle'

const TOKEN = 'replaced-callback-token-0123'

interface Callback { id: string; status: number; ms: number }

/**
 * The provider: answers each POST with 200 { id: "prov-<our id>" } after `answerMs`, and calls the engine back with
 * "delivered" for it: `early` at once (before its answer), else right after the answer.
 */
async function provider(t: TestLike, o: { answerMs: number; early: boolean; callbackMs?: number }) {
  const p = { enginePort: 0, callbacks: [] as Callback[], url: '', requests: new Map<string, number>() }
  const callBack = (id: string) => {
    const started = Date.now()
    void httpCall(p.enginePort, 'POST', `/api/v1/connectors/prov/receipts?token=${TOKEN}`, { body: { id: `prov-${id}`, status: 'delivered' }, timeoutMs: 30_000 })
      .then((r) => p.callbacks.push({ id, status: r.status, ms: Date.now() - started }), () => p.callbacks.push({ id, status: 0, ms: Date.now() - started }))
  }
  const srv = http.createServer((req, res) => {
    // the connector's probe while it counts the provider down (probeUrl, a HEAD): answered as a web server would
    if (req.method === 'HEAD') return void res.end()
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const id = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string }).id
      p.requests.set(id, (p.requests.get(id) ?? 0) + 1)
      if (o.callbackMs !== undefined) setTimeout(() => callBack(id), o.callbackMs)
      else if (o.early) callBack(id)
      setTimeout(() => {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ id: `prov-${id}` }))
        if (!o.early) setTimeout(() => callBack(id), 2)
      }, o.answerMs)
    })
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => { srv.closeAllConnections(); srv.close(() => resolve()) }))
  p.url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/sms`
  return p
}

async function engine(t: TestLike, url: string, timeoutMs = 1000): Promise<{ smsc: Smsc; config: (timeoutMs: number) => Options }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-cb-replaced-'))
  const config = (timeoutMs: number): Options => ({
    dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'esme1', password: 'secret1' }],
    connectors: [{ id: 'prov', kind: 'http', url, timeoutMs, concurrency: 1000, receipts: 'callback', callbackToken: TOKEN }],
    routes: { mt: [{ name: 'all', match: {}, action: { connector: 'prov' } }], mo: [] },
    dispatch: { retryMs: [20, 40] },
    log: { level: 'silent' },
  } as Options)
  const smsc = await createSmsc(config(timeoutMs))
  t.teardown(async () => { await smsc.stop(); fs.rmSync(dataDir, { recursive: true, force: true }) })
  return { smsc, config }
}


/** Every callback answered 200 within a second or two, and every message final with the provider's DELIVRD. */
async function allSettled(t: tap.Test, smsc: Smsc, prov: { callbacks: Callback[] }, ids: string[]): Promise<void> {
  t.ok(ids.length > 0, `${ids.length} messages submitted`)
  await until(() => ids.every((id) => prov.callbacks.some((c) => c.id === id)), 'a callback answered for every message', 30_000)
  const bad = prov.callbacks.filter((c) => c.status !== 200)
  t.same(bad.map((c) => c.status), [], 'every callback answered 200')
  const slow = prov.callbacks.filter((c) => c.ms > 3000)
  t.equal(slow.length, 0, `none waited seconds for its answer (slowest ${Math.max(...prov.callbacks.map((c) => c.ms))} ms)`)
  await until(() => ids.every((id) => smsc.lookup(id)?.stat === 'DELIVRD'), 'every message delivered', 10_000).catch(() => {})
  const open = ids.filter((id) => smsc.lookup(id)?.stat !== 'DELIVRD')
  t.equal(open.length, 0, `every message final with the provider's DELIVRD (not: ${open.slice(0, 3).map((id) => `${id} ${smsc.lookup(id)?.stat}`).join(', ')})`)
}

t.test("callbacks while a reload replaces the provider's connector are all answered at once and matched", async (t) => {
  const prov = await provider(t, { answerMs: 0, early: false })
  const { smsc, config } = await engine(t, prov.url)
  prov.enginePort = smsc.ports.http
  const traffic = submitting(smsc, 10, 2, { registeredDelivery: true })
  for (let i = 0; i < 30; i++) {
    await smsc.reloadConfig(config(1000 + (i % 2) + 1)) // changed: the old actor stops, a new one is spawned
    await sleep(10)
  }
  await allSettled(t, smsc, prov, await traffic.stop())
})

t.test('callbacks that overtake the answers of a crashed connector are matched once those answers are in', async (t) => {
  // The provider calls back as it takes each message and answers 300 ms later: a crash finds requests in flight
  // whose callbacks have come, or come next, before their answers.
  const prov = await provider(t, { answerMs: 300, early: true })
  const { smsc } = await engine(t, prov.url)
  prov.enginePort = smsc.ports.http
  const traffic = submitting(smsc, 10, 10, { registeredDelivery: true })
  await sleep(500)
  smsc.faultActor('connector:prov')
  await sleep(800)
  smsc.faultActor('connector:prov')
  await sleep(800)
  await allSettled(t, smsc, prov, await traffic.stop())
})

t.test('a second crash before the first one\'s link has stopped: nothing is sent twice, and callbacks wait for that link\'s answers', async (t) => {
  // The provider answers 1.5 s after each request and calls back 1.2 s after it (before its answer). Two crashes
  // 100 ms apart find the first instance's requests on the wire: the second restart must wait for that instance too
  // (its predecessor, which never started, has nothing in flight), or its reclaim sends them again while they are
  // out, and the callbacks that come meanwhile are handed on before the answers that name their ids.
  const prov = await provider(t, { answerMs: 1500, early: false, callbackMs: 1200 })
  const { smsc } = await engine(t, prov.url, 5000)
  prov.enginePort = smsc.ports.http
  const ids = (await smsc.submitMessages('esme1', Array.from({ length: 20 }, (_, i) => ({ from: 'Shop', to: `44770090${String(i).padStart(4, '0')}`, text: 'hi', registeredDelivery: true }))))
    .flatMap((r) => (r.ok ? r.ids : []))
  await until(() => prov.requests.size === ids.length, 'every message on the wire', 5000)
  smsc.faultActor('connector:prov')
  await sleep(100)
  smsc.faultActor('connector:prov')
  await allSettled(t, smsc, prov, ids)
  await sleep(500)
  const twice = [...prov.requests].filter(([, n]) => n > 1)
  t.same(twice, [], 'each message sent to the provider once')
})
