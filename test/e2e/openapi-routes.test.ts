/**
 * The OpenAPI document (engine/openapi.ts, GET /api/v1/openapi.json) names exactly the routes the HTTP
 * server registers: read from the server's own route table (Smsc.httpRoutes()), so a route added without
 * its documentation, or documentation of a route that is gone, fails here. HEAD is answered on every GET
 * route and documented by the GET (an OpenAPI GET implies HEAD).
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
  const api = smsc.httpRoutes().filter((r) => isApi(r.pattern))
  const key = (method: string, pattern: string) => `${method} ${pattern.replace(/:(\w+)/g, '{$1}')}`
  // HEAD is GET without the body (RFC 9110 §9.3.2): the server answers it on every GET route, and the GET documents it.
  const heads = new Set(api.filter((r) => r.method === 'HEAD').map((r) => key('GET', r.pattern)))
  const served = new Set(api.filter((r) => r.method !== 'HEAD').map((r) => key(r.method, r.pattern)))
  t.same([...served].filter((r) => r.startsWith('GET ') && !heads.has(r)), [], 'every GET route answers HEAD')
  t.same([...heads].filter((r) => !served.has(r)), [], 'HEAD only where GET is')
  const documented = new Set<string>()
  for (const [p, ops] of Object.entries(OPENAPI.paths as Record<string, Record<string, unknown>>)) {
    for (const m of Object.keys(ops)) if (['get', 'post', 'put', 'patch', 'delete'].includes(m)) documented.add(`${m.toUpperCase()} ${p}`)
  }
  t.ok(served.size >= 30, `the table holds the API (${served.size} routes)`)
  t.same([...served].filter((r) => !documented.has(r)).sort(), [], 'no route served without documentation')
  t.same([...documented].filter((r) => !served.has(r)).sort(), [], 'no route documented that is not served')
})
