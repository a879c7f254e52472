/**
 * Message search for support (GET /api/v1/messages, `smsc message find|show`) against an engine process:
 * messages submitted over SMPP by four accounts are found by the destination number in any international
 * form, by source, account, state and time; newest first, in pages through the `next` cursor; each caller
 * sees only its scope (a user its own, a reseller also its users', the operator all), and naming an account
 * out of scope is refused. The lookup of one message shows how it was carried: the connector, the upstream's
 * message id, the route's connectors and the price. The CLI finds the same through the running engine and,
 * once it is stopped, from the store.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { FAST_SIMULATOR, httpCall, loginToken, projectRoot, startEngine, type Engine } from '../helpers/engine'
import { gsm, openEsme, type Esme } from '../helpers/esme'
import { startUpstream } from '../helpers/upstream'

const ROOT = projectRoot()
const OPERATOR_PW = 'operator-secret'
const NUMBER = '4915112345678'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Res { status: number; json: any }
const call = (e: Engine, urlPath: string, token?: string): Promise<Res> => httpCall(e.httpPort, 'GET', urlPath, { token, timeoutMs: 20_000 })
const ids = (r: Res): string[] => (r.json?.messages ?? []).map((m: { id: string }) => m.id)

function smsc(args: string[], env: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'smsc.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

async function submit(esme: Esme, to: string, from = 'Shop'): Promise<string> {
  const alpha = /[a-z]/i.test(from)
  const r = await esme.submit({ source_addr: from, source_addr_ton: alpha ? 5 : 1, source_addr_npi: alpha ? 0 : 1, destination_addr: to, short_message: gsm(`hello ${to}`), registered_delivery: 1 })
  if (r.command_status !== 0 || !r.message_id) throw new Error(`submit to ${to} refused: 0x${r.command_status.toString(16)}`)
  return r.message_id as string
}

t.test('message search', async (t) => {
  const up = await startUpstream(t)
  const e = await startEngine(t, {
    accounts: [
      { systemId: 'u1', password: 'pw1', prepaid: true, credit: 100 },
      { systemId: 'u2', password: 'pw2' },
      { systemId: 'res', password: 'pw3', role: 'reseller' },
      { systemId: 'child', password: 'pw4', parent: 'res' },
    ] as never,
    simulator: FAST_SIMULATOR,
    extra: {
      admin: { password: OPERATOR_PW },
      connectors: [{ id: 'up', kind: 'smpp', host: '127.0.0.1', port: up.port, systemId: 'x', password: 'y', reconnectMs: [100, 1000] }],
      routes: {
        mt: [
          { name: 'mobile-de', match: { destPrefix: ['49177'] }, action: { connector: 'up' }, price: 2 },
          { name: 'rest', match: {}, action: { connector: 'simulator' } },
        ],
        mo: [],
      },
      log: { level: 'warn' },
    },
  })
  const login = (body: Record<string, string>): Promise<string> => loginToken(e.httpPort, body)
  const op = await login({ password: OPERATOR_PW })
  const tok = { u1: await login({ systemId: 'u1', password: 'pw1' }), res: await login({ systemId: 'res', password: 'pw3' }), child: await login({ systemId: 'child', password: 'pw4' }) }
  const esme = {
    u1: await openEsme(t, { port: e.smppPort, systemId: 'u1', password: 'pw1' }),
    u2: await openEsme(t, { port: e.smppPort, systemId: 'u2', password: 'pw2' }),
    child: await openEsme(t, { port: e.smppPort, systemId: 'child', password: 'pw4' }),
  }
  // in this order: ids grow
  const a1 = await submit(esme.u1, `+${NUMBER}`)
  const b1 = await submit(esme.u1, '4915199999999', '+4930123456')
  const c1 = await submit(esme.u2, `00${NUMBER}`)
  await sleep(30)
  const mid = Date.now()
  await sleep(30)
  const a2 = await submit(esme.u1, NUMBER)
  const d1 = await submit(esme.child, NUMBER)
  const a3 = await submit(esme.u1, `+${NUMBER}`)
  const e1 = await submit(esme.u1, '4917712345678') // to the upstream, which never sends a receipt
  const all = [a3, d1, a2, c1, a1]

  await t.test('the operator finds a number in every form, newest first', async (t) => {
    for (const form of [`%2B${NUMBER}`, `00${NUMBER}`, NUMBER, '%2B49%20151%201234%205678', `+${NUMBER}`]) {
      const r = await call(e, `/api/v1/messages?to=${form}`, op)
      t.equal(r.status, 200, `to=${form}: ${r.status}`)
      t.same(ids(r), all, `to=${form}: the five messages to the number, newest first`)
    }
    const r = await call(e, `/api/v1/messages?to=${NUMBER}`, op)
    t.match(r.json.messages[0], { id: a3, systemId: 'u1', from: 'Shop', to: [`+${NUMBER}`], text: `hello +${NUMBER}` })
    t.match(r.json, { truncated: false, next: null })
    t.ok(r.json.scanned >= 7, `every message of the window was read (${r.json.scanned})`)
    t.ok(r.json.until - r.json.since === 24 * 3600_000, 'the default window: 24 hours')
    t.same(ids(await call(e, '/api/v1/messages?to=491511234*', op)), all, 'a prefix')
    t.same(ids(await call(e, '/api/v1/messages?to=4915112345679', op)), [], 'another number: nothing')
    t.same(ids(await call(e, '/api/v1/messages?from=004930123456', op)), [b1], 'by source number')
    t.same(ids(await call(e, `/api/v1/messages?to=${NUMBER}&systemId=u2`, op)), [c1], 'one account')
    t.same(ids(await call(e, `/api/v1/messages?to=${NUMBER}&since=${mid}`, op)), [a3, d1, a2], 'since')
    t.same(ids(await call(e, `/api/v1/messages?to=${NUMBER}&until=${mid}`, op)), [c1, a1], 'until')
    t.same(ids(await call(e, `/api/v1/messages?to=${NUMBER}&since=${new Date(Date.now() + 3600_000).toISOString()}&until=${Date.now() + 7200_000}`, op)), [], 'a window in the future')
  })

  await t.test('a user finds its own only; a reseller also its users\'; naming another account is refused', async (t) => {
    t.same(ids(await call(e, `/api/v1/messages?to=${NUMBER}`, tok.u1)), [a3, a2, a1], 'u1: its own three')
    t.same(ids(await call(e, '/api/v1/messages?to=4915199999999', tok.u1)), [b1])
    t.same(ids(await call(e, `/api/v1/messages?to=${NUMBER}&systemId=u1`, tok.u1)), [a3, a2, a1], 'naming itself')
    t.match(await call(e, `/api/v1/messages?to=${NUMBER}&systemId=u2`, tok.u1), { status: 403, json: { code: 'SMSC_ERR_ADMIN_FORBIDDEN' } }, 'u1 may not search u2')
    t.equal((await call(e, `/api/v1/messages/${c1}`, tok.u1)).status, 404, "and cannot look up u2's message either")
    t.same(ids(await call(e, `/api/v1/messages?to=${NUMBER}`, tok.res)), [d1], "res: its user's message, nobody else's")
    t.same(ids(await call(e, `/api/v1/messages?to=${NUMBER}&systemId=child`, tok.res)), [d1])
    t.match(await call(e, `/api/v1/messages?to=${NUMBER}&systemId=u1`, tok.res), { status: 403, json: { code: 'SMSC_ERR_ADMIN_FORBIDDEN' } })
    t.match(await call(e, `/api/v1/messages?to=${NUMBER}&systemId=nobody`, tok.res), { status: 403 }, 'an unknown account looks the same')
    t.same(ids(await call(e, `/api/v1/messages?to=${NUMBER}`, tok.child)), [d1], 'child: its own')
    // `scanned` counts every account's messages in the window: the platform's volume, not an account's to know
    for (const [who, token] of [['a user', tok.u1], ['a reseller', tok.res]] as const) {
      const r = await call(e, `/api/v1/messages?to=${NUMBER}`, token)
      t.equal(r.status, 200)
      t.notOk('scanned' in r.json, `${who}'s answer has no scanned (it read ${(await call(e, `/api/v1/messages?to=${NUMBER}`, op)).json.scanned} for the operator)`)
      t.match(r.json, { truncated: false, next: null, ms: Number }, `${who}: the rest of the answer is as it was`)
    }
    const key = await httpCall(e.httpPort, 'POST', '/api/v1/accounts/u2/apikeys', { token: op, body: { label: 'support' } })
    const byKey = await httpCall(e.httpPort, 'GET', `/api/v1/messages?to=${NUMBER}`, { apiKey: (key.json as { key: string }).key })
    t.same(ids(byKey as Res), [c1], 'an API key searches as its account')
    t.notOk('scanned' in (byKey.json as object), 'and is not told how many messages the platform holds')
    t.match(await call(e, `/api/v1/messages?to=${NUMBER}`), { status: 401, json: { code: 'SMSC_ERR_HTTP_AUTH' } }, 'no credentials')
  })

  await t.test('pages: limit, then the next cursor', async (t) => {
    const seen: string[] = []
    let next: string | null = null
    const sizes: number[] = []
    for (let page = 0; page < 5; page++) {
      const r: Res = await call(e, `/api/v1/messages?to=${NUMBER}&limit=2${next ? `&before=${next}` : ''}`, op)
      t.equal(r.status, 200)
      sizes.push(r.json.messages.length)
      seen.push(...ids(r))
      next = r.json.next
      if (next === null) break
      t.equal(next, ids(r)[1], 'next is the last message of the page')
    }
    t.same(sizes, [2, 2, 1])
    t.same(seen, all, 'every message once, in order')
  })

  await t.test('by state, once the receipts are in', async (t) => {
    for (let i = 0; i < 100; i++) {
      const r = await call(e, `/api/v1/messages?to=${NUMBER}&state=DELIVERED`, op)
      if (ids(r).length === all.length) break
      await sleep(100)
    }
    t.same(ids(await call(e, `/api/v1/messages?to=${NUMBER}&state=DELIVRD`, op)), all, 'delivered, by receipt stat')
    t.same(ids(await call(e, '/api/v1/messages?systemId=u1&state=ENROUTE,SCHEDULED', op)), [e1], 'the one still with the upstream')
    t.same(ids(await call(e, '/api/v1/messages?state=UNDELIVERABLE', op)), [])
  })

  await t.test('bad parameters are refused in one line naming them', async (t) => {
    t.match(await call(e, `/api/v1/messages?dest=${NUMBER}`, op), { status: 400, json: { code: 'SMSC_ERR_API_INVALID', error: /^dest is not a search parameter/ } })
    t.match(await call(e, '/api/v1/messages?limit=0', op), { status: 400, json: { error: /^limit must be/ } })
    t.match(await call(e, '/api/v1/messages?since=yesterday', op), { status: 400, json: { error: /^since must be/ } })
    t.match(await call(e, '/api/v1/messages?state=LOST', op), { status: 400, json: { error: /^state must be/ } })
    t.match(await call(e, '/api/v1/messages?before=7', op), { status: 400, json: { error: /^before must be/ } })
  })

  await t.test('the lookup shows how a message was carried: connector, upstream id, route, price', async (t) => {
    let m: any
    for (let i = 0; i < 100; i++) {
      m = (await call(e, `/api/v1/messages/${e1}`, tok.u1)).json
      if (m?.dests?.[0]?.upstreamId) break
      await sleep(100)
    }
    t.match(m, { id: e1, systemId: 'u1', to: ['4917712345678'], state: 1, price: 2, registeredDelivery: 1 })
    t.same(m.dests, [{ to: '4917712345678', state: 1, stat: 'ENROUTE', err: 0, doneAt: 0, connector: 'up', upstreamId: 'U000001', price: 2, via: ['up'] }])
    // a carrier's escalation quotes its own id: found in any case, scoped like the rest
    t.same(ids(await call(e, '/api/v1/messages?upstreamId=u000001', op)), [e1], 'by the id the upstream gave it, in any case')
    t.same(ids(await call(e, '/api/v1/messages?upstreamId=U000001', tok.res)), [], "not in a reseller's scope when not its users'")
    t.same(ids(await call(e, '/api/v1/messages?upstreamId=U000002', op)), [], 'another id finds nothing')
    t.match(await call(e, `/api/v1/messages?upstreamId=${'9'.repeat(65)}`, op), { status: 400, json: { error: /^upstreamId must be an upstream's message id of at most 64 characters/ } })
    const sim = (await call(e, `/api/v1/messages/${a1}`, op)).json
    t.match(sim.dests[0], { to: `+${NUMBER}`, state: 2, stat: 'DELIVRD' })
    t.same([sim.dests[0].connector, sim.dests[0].upstreamId, sim.dests[0].via], [undefined, undefined, undefined], 'the simulator leaves no carrier fields')
    t.equal(sim.price, 1, 'the default price of a route without one')
    const free = (await call(e, `/api/v1/messages/${c1}`, op)).json
    t.equal(free.price, undefined, 'an account that is not prepaid is charged nothing')
  })

  await t.test('the CLI, through the running engine and then from the store', async (t) => {
    for (let i = 0; i < 200 && !existsSync(path.join(e.dataDir, 'control.json')); i++) await sleep(25)
    const cfg = ['--config', e.configPath]
    const found = smsc(['message', 'find', '--to', `+${NUMBER}`, ...cfg])
    t.equal(found.code, 0, found.err)
    for (const id of all) t.match(found.out, id)
    t.match(found.out, /^submitted \(UTC\)\s+id\s+account\s+from\s+to\s+state\s+err\n/, 'a header line')
    t.match(found.out, /\n5 messages, newest first \(\d+ stored messages read in \d+ ms; submitted \S+ \.\. \S+\)\n$/)
    const json = JSON.parse(smsc(['message', 'find', '--to', NUMBER, '--limit', '2', '--json', ...cfg]).out)
    t.same(json.messages.map((m: { id: string }) => m.id), [a3, d1])
    const paged = smsc(['message', 'find', '--to', NUMBER, '--limit', '2', ...cfg])
    const more = /\nmore: smsc message find (.+)\n$/.exec(paged.out)
    t.ok(more, 'a page that is not the last says how to go on')
    const next = smsc(['message', 'find', ...(more?.[1].split(' ') ?? []), ...cfg])
    t.equal(next.code, 0, next.err)
    t.match(next.out, a2)
    t.notMatch(next.out, a3, 'the next page goes on after the first')
    const mine = smsc(['message', 'find', '--to', NUMBER, '--as', 'u1', '--json', ...cfg], { SMSC_AS_PASSWORD: 'pw1' })
    t.same(JSON.parse(mine.out).messages.map((m: { id: string }) => m.id), [a3, a2, a1], '--as u1: its own only')
    const mineText = smsc(['message', 'find', '--to', NUMBER, '--as', 'u1', ...cfg], { SMSC_AS_PASSWORD: 'pw1' })
    t.match(mineText.out, /\n3 messages, newest first \(in \d+ ms; submitted \S+ \.\. \S+\)\n$/, '--as u1: no count of the platform\'s messages')
    const byUpstream = smsc(['message', 'find', '--upstream-id', 'u000001', '--json', ...cfg])
    t.same(JSON.parse(byUpstream.out).messages.map((m: { id: string }) => m.id), [e1], '--upstream-id: the id the carrier quotes')
    const shown = smsc(['message', 'show', e1, ...cfg])
    t.equal(shown.code, 0, shown.err)
    t.match(shown.out, `to 4917712345678: ENROUTE; connector up, upstream id U000001, route up, price 2`)
    t.match(shown.out, /^\s+price\s+2$/m)
    t.match(shown.out, /^\s+receipt\s+asked for: the final outcome \(registered_delivery 1\)$/m, 'which receipts it asked for')
    t.match(smsc(['message', 'find', '--since', 'soon', ...cfg]), { code: 2, err: /^smsc: --since must be an ISO-8601 time/ })
    t.match(smsc(['message', 'show', '9999999', ...cfg]), { code: 2, err: /no such message/ })

    await e.stop()
    const offline = smsc(['message', 'find', '--to', `00${NUMBER}`, '--json', ...cfg])
    t.equal(offline.code, 0, offline.err)
    t.same(JSON.parse(offline.out).messages.map((m: { id: string }) => m.id), all, 'with the engine stopped, from the store')
    const child = smsc(['message', 'find', '--to', NUMBER, '--as', 'res', '--json', ...cfg], { SMSC_AS_PASSWORD: 'pw3' })
    t.same(JSON.parse(child.out).messages.map((m: { id: string }) => m.id), [d1], 'scoped there too')
    t.match(smsc(['message', 'show', e1, ...cfg]).out, 'connector up, upstream id U000001')
    t.match(smsc(['message', 'show', c1, '--as', 'u1', ...cfg], { SMSC_AS_PASSWORD: 'pw1' }), { code: 2, err: /no such message/ }, "another account's message is unknown to u1")
  })
})
