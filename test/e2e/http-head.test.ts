/**
 * HEAD on every GET route (RFC 9110 §9.3.2), as monitors and load balancers ask: the same status,
 * content-type and content-length as GET, the same login, and no body on the wire.
 */
import t from 'tap'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { createSmsc } from '../../engine/index'
import { api } from '../helpers/ws'

interface Raw { status: number; headers: Record<string, string>; body: Buffer }

/**
 * One request on a raw socket, read until the server has been quiet for 300 ms: what follows the
 * header block is exactly what the server wrote (an HTTP client library would hide a body sent to HEAD).
 */
function raw(port: number, method: string, url: string, token?: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let quiet: NodeJS.Timeout | undefined
    const done = () => {
      socket.destroy()
      const all = Buffer.concat(chunks)
      const end = all.indexOf('\r\n\r\n')
      if (end < 0) return reject(new Error(`no response to ${method} ${url}: ${JSON.stringify(all.toString())}`))
      const [statusLine, ...lines] = all.subarray(0, end).toString('latin1').split('\r\n')
      const headers: Record<string, string> = {}
      for (const l of lines) { const i = l.indexOf(':'); headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim() }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: all.subarray(end + 4) })
    }
    socket.on('data', (c) => { chunks.push(c); clearTimeout(quiet); quiet = setTimeout(done, 300) })
    socket.on('error', reject)
    socket.write(`${method} ${url} HTTP/1.1\r\nhost: 127.0.0.1\r\n${token ? `authorization: Bearer ${token}\r\n` : ''}\r\n`)
  })
}

t.test('HEAD answers every GET route like GET, without the body', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-head-'))
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const smsc = await createSmsc({
    dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'a', password: 'pw' }], admin: { password: 'operator-secret' }, log: { level: 'silent' },
  })
  t.teardown(() => smsc.stop())
  const port = smsc.ports.http
  const token = ((await api(port, 'POST', '/api/v1/login', { body: { password: 'operator-secret' } })).json as { token: string }).token

  const cases: [string, string | undefined, number][] = [
    ['/api/v1/openapi.json', undefined, 200],
    ['/api/v1/accounts', token, 200],
    ['/api/v1/accounts/a', token, 200],
    ['/api/v1/accounts', undefined, 401], // the same login as GET
    ['/api/v1/accounts/nobody', token, 404],
    ['/index.html', undefined, 200], // the console's files
    ['/', undefined, 200],
  ]
  for (const [url, tok, status] of cases) {
    const get = await raw(port, 'GET', url, tok)
    const head = await raw(port, 'HEAD', url, tok)
    t.equal(get.status, status, `GET ${url}${tok ? '' : ' (no login)'}: ${status}`)
    t.equal(head.status, status, `HEAD ${url}: ${status} as GET`)
    t.equal(head.headers['content-type'], get.headers['content-type'], `HEAD ${url}: content-type as GET`)
    t.equal(head.headers['content-length'], String(get.body.length), `HEAD ${url}: content-length of GET's body (${get.body.length})`)
    t.equal(head.body.length, 0, `HEAD ${url}: no body`)
  }
  for (const url of ['/healthz', '/metrics']) {
    const head = await raw(port, 'HEAD', url)
    t.equal(head.status, 200, `HEAD ${url}: 200`)
    t.ok(Number(head.headers['content-length']) > 0, `HEAD ${url}: content-length ${head.headers['content-length']}`)
    t.equal(head.body.length, 0, `HEAD ${url}: no body`)
  }
  const login = await raw(port, 'HEAD', '/api/v1/login')
  t.match([login.status, login.headers.allow], [405, 'POST'], 'HEAD of a POST-only route: 405, Allow: POST')
  t.equal((await raw(port, 'HEAD', '/api/v1/nosuch')).status, 404, 'HEAD of no route: 404')
})
