/**
 * A connector replaced while traffic flows (a config reload that changes it, an operator's start) carries each
 * destination once. The old instance's work is reclaimed by the dispatcher; the new instance must not get a
 * destination before that reclaim is done, or the reclaim hands it out a second time: an HTTP provider (up the
 * moment it starts) was POSTed the same message twice. In process, against an HTTP provider that counts POSTs
 * per message id, with submits going on while the connector is replaced again and again.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createSmsc, type Options } from '../../engine/index'
import { OPERATOR } from '../../engine/accounts'
import { startSink, sleep, until } from '../helpers/lifecycle'

t.test('a connector replaced under traffic sends each message once', async (t) => {
  const sink = await startSink(t)
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-once-'))
  const config = (timeoutMs: number): Options => ({
    dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'esme1', password: 'secret1' }],
    connectors: [{ id: 'prov', kind: 'http', url: sink.url, timeoutMs }],
    routes: { mt: [{ name: 'all', match: {}, action: { connector: 'prov' } }], mo: [] },
    dispatch: { retryMs: [20, 40] },
    log: { level: 'silent' },
  } as Options)
  const smsc = await createSmsc(config(5000))
  t.teardown(async () => { await smsc.stop(); fs.rmSync(dataDir, { recursive: true, force: true }) })

  const ids: string[] = []
  let sending = true
  const traffic = (async () => {
    let n = 0
    while (sending) {
      const batch = Array.from({ length: 20 }, () => ({ from: 'Shop', to: `4477009${String(++n).padStart(5, '0')}`, text: 'hi' }))
      const res = await smsc.submitMessages('esme1', batch)
      for (const r of res) if (r.ok) ids.push(...r.ids)
      await new Promise((r) => setImmediate(r))
    }
  })()
  for (let i = 0; i < 40; i++) {
    await smsc.reloadConfig(config(5000 + (i % 2) + 1)) // changed: retired and spawned anew
    await smsc.admin.setConnectorStopped(OPERATOR, 'prov', true)
    await sleep(5)
    await smsc.admin.setConnectorStopped(OPERATOR, 'prov', false) // started: a new instance
    await sleep(5)
  }
  sending = false
  await traffic
  t.ok(ids.length > 0, `${ids.length} messages submitted`)
  await until(() => new Set(sink.posted.map((p) => p.id)).size >= ids.length, 'every message posted', 20_000)
  await sleep(300)
  const count = new Map<string, number>()
  for (const p of sink.posted) count.set(p.id, (count.get(p.id) ?? 0) + 1)
  const twice = [...count].filter(([, c]) => c > 1).map(([id]) => id)
  t.equal(twice.length, 0, `no message POSTed twice (twice: ${twice.slice(0, 5).join(', ')}${twice.length > 5 ? ` and ${twice.length - 5} more` : ''})`)
})
