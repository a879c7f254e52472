/**
 * The OpenAPI document (engine/openapi.ts, GET /api/v1/openapi.json) names exactly the routes the HTTP
 * server registers: read from the server's own route table (Smsc.httpRoutes()), so a route added without
 * its documentation, or documentation of a route that is gone, fails here.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createSmsc } from '../../engine/index'
import { OPENAPI } from '../../engine/openapi'

t.test('every API route the server has is in the OpenAPI document, and the document has no other', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-openapi-'))
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const smsc = await createSmsc({
    dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'a', password: 'pw' }], admin: { password: 'operator-secret' }, log: { level: 'silent' },
  })
  t.teardown(() => smsc.stop())
  // The API and the two plain endpoints; the console's files and the catch-all 404 are not API routes.
  const isApi = (p: string) => p.startsWith('/api/') || p === '/healthz' || p === '/metrics'
  const served = new Set(smsc.httpRoutes().filter((r) => isApi(r.pattern)).map((r) => `${r.method} ${r.pattern.replace(/:(\w+)/g, '{$1}')}`))
  const documented = new Set<string>()
  for (const [p, ops] of Object.entries(OPENAPI.paths as Record<string, Record<string, unknown>>)) {
    for (const m of Object.keys(ops)) if (['get', 'post', 'put', 'patch', 'delete'].includes(m)) documented.add(`${m.toUpperCase()} ${p}`)
  }
  t.ok(served.size >= 30, `the table holds the API (${served.size} routes)`)
  t.same([...served].filter((r) => !documented.has(r)).sort(), [], 'no route served without documentation')
  t.same([...documented].filter((r) => !served.has(r)).sort(), [], 'no route documented that is not served')
})
