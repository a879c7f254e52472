/**
 * An HTTP provider's receipt callbacks (POST /api/v1/connectors/:id/receipts) at their edges, in process:
 * a provider id no store key can hold (longer than 255 octets, or with a NUL) is an id we do not know,
 * acknowledged and counted, never a crash of the dispatcher (LMDB throws on such a key: six of them in ten
 * seconds spent the dispatcher's restart budget and stopped the engine), nor a 503. A 2xx answer whose id is such
 * an id leaves its message waiting for its validity like any other (it was in no queue: open for ever).
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createSmsc } from '../../engine/index'
import { httpCall } from '../helpers/engine'
import { startSink, until } from '../helpers/lifecycle'
import { MessageState } from '../../engine/protocol/constants'
import type { MessageRecord } from '../../engine/message'

const TOKEN = 'provider-callback-secret-0123'

t.test('a provider id no store key can hold is unmatched, not a crash', async (t) => {
  const sink = await startSink(t)
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-cb-edges-'))
  const logs: string[] = []
  let fatal: unknown = null
  const smsc = await createSmsc({
    dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'a', password: 'pw' }],
    connectors: [{ id: 'prov', kind: 'http', url: sink.url, timeoutMs: 1000, receipts: 'callback', callbackToken: TOKEN }],
    routes: { mt: [{ name: 'all', match: {}, action: { connector: 'prov' } }], mo: [] },
  }, { log: (level, msg) => { logs.push(`${level} ${msg}`) }, onFatal: (e) => { fatal = e } })
  t.teardown(async () => { await smsc.stop(); fs.rmSync(dataDir, { recursive: true, force: true }) })
  const ids = ['é'.repeat(200), 'a\u0000b', 'y'.repeat(256), 'x'.repeat(3000), ...['z', 'w', 'v', 'u', 'q', 'r'].map((c) => c.repeat(5000))]
  const answers = await Promise.all(ids.map((id) => httpCall(smsc.ports.http, 'POST', '/api/v1/connectors/prov/receipts', {
    body: { id, status: 'delivered' }, token: TOKEN, timeoutMs: 20_000,
  })))
  for (const [i, a] of answers.entries()) t.match([a.status, a.json], [200, { received: 1 }], `callback ${i} acknowledged (${a.body.slice(0, 100)})`)
  t.equal(fatal, null, 'the engine did not stop')
  t.notOk(logs.some((l) => l.includes('actor crashed')), 'no actor crashed')
  const metrics = (await httpCall(smsc.ports.http, 'GET', '/metrics')).body
  t.match(metrics, new RegExp(`smsc_connector_receipts_unmatched_total\\{connector="prov"\\} ${ids.length}\n`), 'each counted as an id we do not know')
})

t.test('a 2xx whose id no store key can hold leaves the message to end at its validity, not open for ever', async (t) => {
  const sink = await startSink(t)
  sink.answer = (p) => ({ status: 200, body: { id: `${'L'.repeat(300)}-${p.id}` } })
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-cb-edges-'))
  const smsc = await createSmsc({
    dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'a', password: 'pw' }], log: { level: 'silent' },
    connectors: [{ id: 'prov', kind: 'http', url: sink.url, timeoutMs: 1000, receipts: 'callback', callbackToken: TOKEN }],
    routes: { mt: [{ name: 'all', match: {}, action: { connector: 'prov' } }], mo: [] },
  })
  t.teardown(async () => { await smsc.stop(); fs.rmSync(dataDir, { recursive: true, force: true }) })
  const [r] = await smsc.submitMessages('a', [{ from: 'Shop', to: '447700900001', text: 'hi', validityMs: 1500 }])
  if (!r.ok) throw new Error(r.error)
  const id = r.ids[0]
  await until(() => sink.posted.some((p) => p.id === id), 'the provider took it')
  await until(() => (smsc.store.getMessage(id) as MessageRecord).state === MessageState.EXPIRED, 'EXPIRED at its validity', 6000)
  t.pass('it ended EXPIRED at its validity')
})
