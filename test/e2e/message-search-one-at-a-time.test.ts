/**
 * One message search at a time per principal (docs/API.md "Message search"; engine/index.ts search()):
 * a second search by the same login while its first runs is refused with 429 SMSC_ERR_RATE_LIMITED, a
 * search by another principal at the same time is not, and once the first has answered the same login
 * may search again.
 *
 * Deterministic overlap: the engine process starts on a store of 100,000 messages written before it
 * starts, so a search that finds nothing walks 50 slices of 2,000 with the event loop free between them.
 * Both requests are written at once on two sockets connected beforehand, so the engine reads the second
 * while the first is still at its first slices, whatever the machine's speed: the walk takes an event-loop
 * turn per slice, and reading a socket that is already readable takes one.
 */
import t from 'tap'
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Store } from '../../engine/store'
import type { MessageRecord } from '../../engine/message'
import { httpCall, startEngine } from '../helpers/engine'

const OPERATOR_PW = 'operator-secret'
const N = 100_000

/** A delivered message of account `shop`, submitted at `at`, to a number no search here asks for. */
function record(id: string, i: number, at: number): MessageRecord {
  return {
    id, systemId: 'shop', state: 2, err: 0, submitAt: at, doneAt: at,
    src: [5, 0, 'Shop'], dests: [{ addr: [1, 1, `49151${String(i).padStart(8, '0')}`], state: 2, err: 0, doneAt: at }],
    serviceType: '', esmClass: 0, protocolId: 0, priority: 0, dataCoding: 0, registeredDelivery: 1,
    sm: Buffer.from(`to ${i}`), scheduleAt: 0, expireAt: at + 48 * 3600_000,
  }
}

/** A data dir whose store holds N messages submitted over the last N ms (inside the default 24-hour window). */
async function storeOfN(t: { teardown(fn: () => void): void }): Promise<string> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'smsc-search-limit-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const store = await Store.open(path.join(dataDir, 'store'))
  const start = Date.now() - N - 60_000
  for (let done = 0; done < N; done += 10_000) {
    const ids = store.allocateIds(10_000, 'decimal')
    await store.commit({ messages: ids.map((id, i) => record(id, done + i, start + done + i)) })
  }
  await store.close()
  // as the engine keeps its store: readable by its user only (else it warns at start)
  for (const f of readdirSync(path.join(dataDir, 'store'))) chmodSync(path.join(dataDir, 'store', f), 0o600)
  return dataDir
}

interface Answer { status: number; json: any }

/** A keep-alive HTTP/1.1 connection to the engine, connected before any request is written. */
async function connection(t: { teardown(fn: () => void): void }, port: number) {
  const socket = net.connect(port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  let buf = Buffer.alloc(0)
  let waiting: ((a: Answer) => void) | null = null
  const parse = () => {
    const end = buf.indexOf('\r\n\r\n')
    if (end < 0 || waiting === null) return
    const head = buf.subarray(0, end).toString('latin1')
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
    if (buf.length < end + 4 + length) return
    const body = buf.subarray(end + 4, end + 4 + length).toString('utf8')
    buf = buf.subarray(end + 4 + length)
    let json: unknown
    try { json = JSON.parse(body) } catch { json = undefined }
    const w = waiting
    waiting = null
    w({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), json })
  }
  socket.on('data', (chunk: Buffer) => { buf = Buffer.concat([buf, chunk]); parse() })
  return {
    /** Writes a GET at once (synchronously into the socket) and resolves with its answer. */
    get(urlPath: string, token: string): Promise<Answer> {
      const answer = new Promise<Answer>((resolve, reject) => {
        waiting = resolve
        socket.once('error', reject)
        setTimeout(() => reject(new Error(`no answer to GET ${urlPath} in 20 s`)), 20_000).unref()
      })
      socket.write(`GET ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`)
      return answer
    },
  }
}

t.test('one search at a time per principal: a second by the same login is refused with 429, another principal\'s is not', async (t) => {
  const dataDir = await storeOfN(t)
  const e = await startEngine(t, {
    dataDir,
    accounts: [{ systemId: 'u1', password: 'pw1' }],
    extra: { admin: { password: OPERATOR_PW }, log: { level: 'warn' } },
  })
  const login = async (body: Record<string, string>): Promise<string> => {
    const r = await httpCall(e.httpPort, 'POST', '/api/v1/login', { body })
    if (r.status !== 200) throw new Error(`login ${JSON.stringify(body)}: ${r.status} ${r.body}`)
    return (r.json as { token: string }).token
  }
  const op = await login({ password: OPERATOR_PW })
  const u1 = await login({ systemId: 'u1', password: 'pw1' })
  // A number nobody was sent to: the search reads the whole window, N messages in slices.
  const SEARCH = '/api/v1/messages?to=4915199999999'

  const alone = await httpCall(e.httpPort, 'GET', SEARCH, { token: op, timeoutMs: 20_000 })
  t.equal(alone.status, 200, `a search on its own is answered: ${alone.body.slice(0, 200)}`)
  t.equal((alone.json as { scanned: number }).scanned, N, `it reads all ${N} messages (so it spans ${N / 2000} slices)`)

  const [a, b] = [await connection(t, e.httpPort), await connection(t, e.httpPort)]
  const same = await Promise.all([a.get(SEARCH, op), b.get(SEARCH, op)])
  const statuses = same.map((r) => r.status)
  t.same([...statuses].sort(), [200, 429], `the same login twice at once: one answered, one refused (got ${statuses.join(', ')})`)
  const refused = same.find((r) => r.status === 429)
  t.match(refused?.json, { code: 'SMSC_ERR_RATE_LIMITED', error: 'admin has a search running already: one at a time' }, 'the refusal names the principal (the operator is admin) and says why')
  t.equal(same.find((r) => r.status === 200)?.json?.scanned, N, 'the search that ran read everything')

  const others = await Promise.all([a.get(SEARCH, op), b.get(SEARCH, u1)])
  t.same(others.map((r) => r.status), [200, 200], 'the operator and u1 at the same time: neither is refused')
  t.equal(others[0].json?.scanned, N, 'and both read the whole window: the operator\'s answer counts it')
  t.match(others[1].json, { truncated: false, next: null }, 'u1\'s is whole too (a user is not told how many messages the platform holds: no scanned)')
  t.notOk('scanned' in (others[1].json ?? {}), 'u1 gets no scanned')

  // A staff user named like an account is another principal, with a slot of its own.
  const added = await httpCall(e.httpPort, 'POST', '/api/v1/admin/users', { token: op, body: { user: 'u1', role: 'viewer', password: 'staffpass1' } })
  t.equal(added.status, 201, added.body)
  const staffU1 = await login({ user: 'u1', password: 'staffpass1' })
  const namesakes = await Promise.all([a.get(SEARCH, staffU1), b.get(SEARCH, u1)])
  t.same(namesakes.map((r) => r.status), [200, 200], 'staff user u1 and account u1 at the same time: neither is refused')

  const again = await a.get(SEARCH, op)
  t.equal(again.status, 200, 'once its search has answered, the same login may search again')
})
