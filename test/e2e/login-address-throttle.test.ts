/**
 * Failed HTTP logins are counted per client address across login names too (engine/http.ts, LOGIN_FAILURES_PER_ADDRESS):
 * each unknown name costs a scrypt hash (so the time does not tell which names exist), and a guesser trying a new name
 * each time was held by nothing (the limit of 10 counts per address and name). Against a real engine: logins with ever
 * new unknown names, staff and account, from one address end in 429 with Retry-After at the 31st, long before the
 * 200th; from then on every login from that address is held, the right password too; a login from another address
 * (127.0.0.2) goes on.
 */
import t from 'tap'
import http from 'node:http'
import { startEngine } from '../helpers/engine'

const OPERATOR_PW = 'address-throttle-e2e'

/** POST /api/v1/login from `localAddress`. */
function loginFrom(localAddress: string, port: number, body: Record<string, string>): Promise<{ status: number; retryAfter?: string; json: any }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body)
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/v1/login', localAddress, agent: false, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        let json: unknown
        try { json = JSON.parse(Buffer.concat(chunks).toString('utf8')) } catch { json = undefined }
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, json })
      })
    })
    req.on('error', reject)
    req.end(payload)
  })
}

t.test('many unknown login names from one address end in 429 before the 200th; another address logs in', async (t) => {
  const e = await startEngine(t, { extra: { admin: { password: OPERATOR_PW }, log: { level: 'warn' } } })
  const port = e.httpPort
  const statuses: number[] = []
  let held: { status: number; retryAfter?: string; json: any } | undefined
  for (let i = 0; i < 200; i++) {
    // a new name every time, staff and account names in turn: no name reaches its own limit of 10
    const r = await loginFrom('127.0.0.1', port, i % 2 === 0 ? { user: `nobody${i}`, password: 'guess' } : { systemId: `nobody${i}`, password: 'guess' })
    statuses.push(r.status)
    if (r.status !== 401) { held = r; break }
  }
  t.equal(statuses.length, 31, `30 failures (401), then held: ${statuses.length} attempts`)
  t.ok(statuses.slice(0, 30).every((s) => s === 401), 'the first 30 were checked and failed')
  t.match(held, { status: 429, json: { code: 'SMSC_ERR_RATE_LIMITED', error: /^too many failed logins from 127\.0\.0\.1: try again in \d+ s$/ } })
  const wait = Number(held?.retryAfter)
  t.ok(wait > 0 && wait <= 60, `Retry-After: the seconds left of the minute (${held?.retryAfter})`)

  const right = await loginFrom('127.0.0.1', port, { password: OPERATOR_PW })
  t.match(right, { status: 429, json: { code: 'SMSC_ERR_RATE_LIMITED' } }, 'the right password from that address is held too, until the minute ends')
  t.ok(Number(right.retryAfter) > 0, 'with Retry-After')
  t.equal((await loginFrom('127.0.0.2', port, { password: OPERATOR_PW })).status, 200, 'another address logs in')
  t.equal((await loginFrom('127.0.0.2', port, { systemId: 'esme1', password: 'secret1' })).status, 200, 'an account too')
})
