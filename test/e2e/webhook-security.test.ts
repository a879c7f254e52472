/**
 * Webhook signatures and the SSRF guard end to end, with a real engine and a node:http receiver on 127.0.0.1:
 *   - with webhooks.allowPrivateTargets true (the receiver is on loopback), a user sets its own webhooks
 *     through the API and gets the secret once; every POST carries X-Smsc-Timestamp and X-Smsc-Signature,
 *     which verify with that secret; a secret rotated through the API, then through the CLI, takes over at once;
 *   - with the default (false), a user's or reseller's loopback, link-local or private URL (in any literal
 *     form, or localhost) is refused at PATCH time (403 naming the field), and a name that resolves to
 *     127.0.0.1 (given by a preloaded fake resolver, test/helpers/fake-dns.ts) is refused at send time:
 *     nothing reaches the receiver, the refusal is logged once, and the event waits (a failure, retried);
 *     the operator may set the same target, and the waiting event is then delivered; a config-file webhook on
 *     127.0.0.1 is the operator's too, signed from the start with a secret the engine made, which the
 *     operator's rotation hands over.
 */
import t from 'tap'
import http from 'node:http'
import type net from 'node:net'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { projectRoot, startEngine } from '../helpers/engine'
import { Store } from '../../engine/store'
import { fakeDnsEnv } from '../helpers/fake-dns'
import { AdminApi, httpCall, sleep, startPolicyEngine, until } from '../helpers/policy'

interface Hit { path: string; headers: http.IncomingHttpHeaders; raw: string; events: Record<string, unknown>[]; at: number }

async function startReceiver(t: tap.Test): Promise<{ url: string; port: number; hits: Hit[] }> {
  const hits: Hit[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      let events: Record<string, unknown>[] = []
      try { events = JSON.parse(raw) as Record<string, unknown>[] } catch { /* kept raw */ }
      hits.push({ path: req.url ?? '', headers: req.headers, raw, events, at: Date.now() })
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const port = (server.address() as net.AddressInfo).port
  return { url: `http://127.0.0.1:${port}`, port, hits }
}

/** What a receiver does (docs/API.md "Webhook signatures"): HMAC-SHA256 of `${timestamp}.${raw body}`, compared. */
function verifies(h: Hit, secret: string): boolean {
  const ts = String(h.headers['x-smsc-timestamp'] ?? '')
  const expected = 'sha256=' + createHmac('sha256', secret).update(`${ts}.${h.raw}`).digest('hex')
  return h.headers['x-smsc-signature'] === expected
}

/** A login as an account: its API token. */
async function loginAs(port: number, systemId: string, password: string): Promise<string> {
  const r = await httpCall(port, 'POST', '/api/v1/login', { systemId, password })
  const token = (r.json as { token?: string } | undefined)?.token
  if (r.status !== 200 || !token) throw new Error(`login ${systemId} → ${r.status} ${r.body}`)
  return token
}

const as = (port: number, token: string) => (method: string, urlPath: string, body?: unknown) =>
  httpCall(port, method, urlPath, body, { authorization: `Bearer ${token}` })

t.test('allowPrivateTargets true: signed POSTs that verify with the secret from the API; rotations take over', async (t) => {
  const rx = await startReceiver(t)
  const engine = await startPolicyEngine(t, {
    accounts: [{ systemId: 'shop', password: 'secret1', registeredDelivery: 1 }],
    extra: { webhooks: { allowPrivateTargets: true }, receipts: { redeliveryMs: [50, 200] } },
    env: fakeDnsEnv({ 'hook.test': '127.0.0.1' }),
  })
  const shop = as(engine.httpPort, await loginAs(engine.httpPort, 'shop', 'secret1'))
  const set = await shop('PATCH', '/api/v1/accounts/shop', { webhooks: { receipts: `${rx.url}/dlr`, mo: `http://hook.test:${rx.port}/mo` } })
  t.equal(set.status, 200, `a user may point its webhooks at 127.0.0.1 here: ${set.body}`)
  const secret = (set.json as { webhookSecret?: string }).webhookSecret as string
  t.match(secret, /^whsec_[A-Za-z0-9_-]{43}$/, 'the PATCH that first set webhooks answers the secret')
  const view = await shop('GET', '/api/v1/accounts/shop')
  t.notOk(view.body.includes(secret), 'GET never shows it')

  const send = async (text: string): Promise<string> => {
    const r = await shop('POST', '/api/v1/messages', { from: '12345', to: '4915100007001', text })
    const ids = (r.json as { ids?: string[] }).ids
    if (r.status !== 202 || !ids) throw new Error(`POST /api/v1/messages → ${r.status} ${r.body}`)
    return ids[0]
  }
  const receiptOf = (id: string) => until(`the receipt of ${id}`, () => rx.hits.find((h) => h.path === '/dlr' && h.events.some((e) => e.id === id)), 15_000)

  const first = await receiptOf(await send('signed 1'))
  const ts = Number(first.headers['x-smsc-timestamp'])
  t.ok(Math.abs(ts - Date.now() / 1000) < 60, `X-Smsc-Timestamp is now, in unix seconds (${ts})`)
  t.match(first.headers['x-smsc-signature'], /^sha256=[0-9a-f]{64}$/)
  t.ok(verifies(first, secret), 'the signature verifies with the secret the API gave')
  t.notOk(verifies({ ...first, raw: first.raw.replace('DELIVRD', 'UNDELIV') }, secret), 'and not for another body')

  const mo = await engine.http('POST', '/api/v1/simulator/mo', { systemId: 'shop', from: '4915100000777', to: '12345', text: 'hello' }, await engine.operatorToken())
  t.equal(mo.status, 202)
  const moHit = await until('the MO at /mo (through hook.test)', () => rx.hits.find((h) => h.path === '/mo'), 10_000)
  t.equal(moHit.headers.host, `hook.test:${rx.port}`, 'posted to the name, resolved by the engine')
  t.ok(verifies(moHit, secret), 'MO POSTs are signed too')

  // Rotation through the API, by the account itself.
  const rot = await shop('POST', '/api/v1/accounts/shop/webhook-secret')
  t.equal(rot.status, 200, rot.body)
  const secret2 = (rot.json as { secret: string }).secret
  t.match(secret2, /^whsec_/)
  t.not(secret2, secret)
  const second = await receiptOf(await send('signed 2'))
  t.ok(verifies(second, secret2), 'the rotated secret signs the next POST')
  t.notOk(verifies(second, secret), 'the old one no longer does')

  // Rotation through the CLI (as the operator, through the running engine).
  const cli = spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'smsc.js'), 'account', 'webhook-secret', 'shop', '--config', engine.configPath],
    { cwd: projectRoot(), encoding: 'utf8', timeout: 60_000 })
  t.equal(cli.status, 0, cli.stderr)
  const m = /^new webhook secret for shop \(shown only this once; the old one no longer signs\): (whsec_\S+)\n$/.exec(cli.stdout)
  t.ok(m, `the CLI prints the new secret once: ${cli.stdout}`)
  const secret3 = m?.[1] ?? ''
  const third = await receiptOf(await send('signed 3'))
  t.ok(verifies(third, secret3), 'the secret from the CLI signs the next POST')
  t.notOk(verifies(third, secret2), 'the one before no longer does')

  const api = await AdminApi.login(engine)
  const audit = (await api.ok<{ entries: { action: string; by: string; target: string }[] }>('GET', '/api/v1/audit?limit=100')).entries
  t.same(audit.filter((e) => e.action === 'account.webhook-secret').map((e) => [e.by, e.target]).reverse(), [['shop', 'shop'], ['admin', 'shop']], 'both rotations audited')
  const text = JSON.stringify(audit)
  for (const s of [secret, secret2, secret3]) t.notOk(text.includes(s), 'no secret in the audit')
  t.notOk(engine.output().includes(secret2) || engine.output().includes(secret3), 'nor in the engine log')
})

t.test('allowPrivateTargets false (default): private targets refused at PATCH, names resolving to loopback at send time', async (t) => {
  const rx = await startReceiver(t)
  const engine = await startPolicyEngine(t, {
    accounts: [
      { systemId: 'shop1', password: 'secret1', registeredDelivery: 1 },
      { systemId: 'res1', password: 'secret1', role: 'reseller' },
      { systemId: 'shop2', password: 'secret1', parent: 'res1' },
      // webhooks from the config file are the operator's: not guarded; signed with a secret made at start
      { systemId: 'cfg', password: 'secret1', registeredDelivery: 1, webhooks: { receipts: `${rx.url}/cfg`, mo: null } },
    ],
    extra: { receipts: { redeliveryMs: [50, 200] } },
    env: fakeDnsEnv({ 'hook.test': '127.0.0.1' }),
  })
  const shop = as(engine.httpPort, await loginAs(engine.httpPort, 'shop1', 'secret1'))
  const res1 = as(engine.httpPort, await loginAs(engine.httpPort, 'res1', 'secret1'))

  // The trial's request, and the other literal forms: 403 naming the field, nothing changed.
  const refused: [unknown, RegExp][] = [
    [{ receipts: 'http://169.254.169.254/latest/meta-data/', mo: 'http://127.0.0.1:22/' }, /^account\.webhooks\.receipts: 169\.254\.169\.254 is a link-local address; /],
    [{ receipts: null, mo: 'http://127.0.0.1:22/' }, /^account\.webhooks\.mo: 127\.0\.0\.1 is a loopback address; /],
    [{ receipts: `${rx.url}/dlr`, mo: null }, /^account\.webhooks\.receipts: 127\.0\.0\.1 is a loopback address; /],
    [{ receipts: `http://2130706433:${rx.port}/dlr`, mo: null }, /^account\.webhooks\.receipts: 127\.0\.0\.1 is a loopback address; /],
    [{ receipts: `http://0x7f.1:${rx.port}/dlr`, mo: null }, /^account\.webhooks\.receipts: 127\.0\.0\.1 is a loopback address; /],
    [{ receipts: `http://[::ffff:127.0.0.1]:${rx.port}/dlr`, mo: null }, /^account\.webhooks\.receipts: ::ffff:7f00:1 is a loopback address; /],
    [{ receipts: `http://localhost:${rx.port}/dlr`, mo: null }, /^account\.webhooks\.receipts: localhost is a name of this host; /],
    [{ receipts: `http://localhost.:${rx.port}/dlr`, mo: null }, /^account\.webhooks\.receipts: localhost\. is a name of this host; /],
  ]
  for (const [webhooks, message] of refused) {
    const r = await shop('PATCH', '/api/v1/accounts/shop1', { webhooks })
    t.equal(r.status, 403, `${JSON.stringify(webhooks)} → 403`)
    t.match(r.json, { code: 'SMSC_ERR_ADMIN_FORBIDDEN' })
    t.match((r.json as { error?: string }).error, message)
  }
  const byReseller = await res1('PATCH', '/api/v1/accounts/shop2', { webhooks: { receipts: 'http://10.0.0.8/dlr', mo: null } })
  t.equal(byReseller.status, 403, 'a reseller for its user too')
  t.match((byReseller.json as { error?: string }).error, /^account\.webhooks\.receipts: 10\.0\.0\.8 is a private address; /)
  t.same(((await shop('GET', '/api/v1/accounts/shop1')).json as { webhooks: unknown }).webhooks, { receipts: null, mo: null }, 'nothing was set')
  t.same(((await res1('GET', '/api/v1/accounts/shop2')).json as { webhooks: unknown }).webhooks, { receipts: null, mo: null })

  // A name that looks public passes the PATCH; it resolves to 127.0.0.1 when the webhook is sent.
  const set = await shop('PATCH', '/api/v1/accounts/shop1', { webhooks: { receipts: `http://hook.test:${rx.port}/dlr`, mo: null } })
  t.equal(set.status, 200, set.body)
  t.match((set.json as { webhookSecret?: string }).webhookSecret, /^whsec_/)
  const sent = await shop('POST', '/api/v1/messages', { from: '12345', to: '4915100007002', text: 'to a rebound name' })
  t.equal(sent.status, 202, sent.body)
  const id = (sent.json as { ids: string[] }).ids[0]
  const refusals = () => engine.output().split('\n').filter((l) => l.includes('webhook target refused')).map((l) => JSON.parse(l) as Record<string, unknown>)
  await until('the refusal in the engine log', () => (refusals().length > 0 ? true : undefined), 15_000)
  await sleep(1500) // with redeliveryMs [50, 200] the receipt is offered again many times meanwhile
  t.equal(rx.hits.filter((h) => h.path === '/dlr').length, 0, 'nothing reached the receiver')
  t.equal(refusals().length, 1, 'the refusals of that URL are logged once (at most once a minute)')
  t.match(refusals()[0], { level: 'warn', systemId: 'shop1', url: `http://hook.test:${rx.port}/dlr`, why: '127.0.0.1 is a loopback address (hook.test resolves to it)' })
  // Each refused attempt counts as a failed delivery of the receipt (and is tried again with back-off).
  const metrics = (await engine.http('GET', '/metrics')).body
  const failed = Number(/^smsc_deliver_total\{account="shop1",kind="receipt",result="failed"\} (\d+)$/m.exec(metrics)?.[1] ?? -1)
  t.ok(failed >= 3, `refused attempts counted as failures, retried (${failed})`)

  // The operator may point the account at the same target: the waiting receipt (a failure, kept) is delivered.
  const api = await AdminApi.login(engine)
  const op = await api.call('PATCH', '/api/v1/accounts/shop1', { webhooks: { receipts: `${rx.url}/dlr`, mo: null } })
  t.equal(op.status, 200, `the operator may set 127.0.0.1: ${op.body}`)
  const hit = await until('the receipt at the operator\'s URL', () => rx.hits.find((h) => h.events.some((e) => e.id === id)), 15_000)
  t.equal(hit.path, '/dlr')
  t.match(hit.headers['x-smsc-signature'], /^sha256=[0-9a-f]{64}$/, 'signed, as every webhook POST')

  // The config file's webhook on 127.0.0.1 is the operator's: posted to, signed with the secret made at start.
  const made = engine.output().split('\n').filter((l) => l.includes('webhook secrets made')).map((l) => JSON.parse(l) as Record<string, unknown>)
  t.match(made, [{ level: 'info', systemIds: ['cfg'] }], 'a secret was made at start for the config account with webhooks')
  const cfg = as(engine.httpPort, await loginAs(engine.httpPort, 'cfg', 'secret1'))
  const sendCfg = async (text: string) => ((await cfg('POST', '/api/v1/messages', { from: '12345', to: '4915100007003', text })).json as { ids: string[] }).ids[0]
  const cfgId = await sendCfg('config webhook')
  const cfgHit = await until('the config account\'s receipt', () => rx.hits.find((h) => h.path === '/cfg' && h.events.some((e) => e.id === cfgId)), 15_000)
  t.match(cfgHit.headers['x-smsc-signature'], /^sha256=[0-9a-f]{64}$/, 'signed before anyone saw the secret')
  const rotated = await api.ok<{ secret: string }>('POST', '/api/v1/accounts/cfg/webhook-secret')
  t.notOk(verifies(cfgHit, rotated.secret), 'the secret made at start is not the new one')
  const cfgId2 = await sendCfg('config webhook 2')
  const cfgHit2 = await until('the next receipt', () => rx.hits.find((h) => h.path === '/cfg' && h.events.some((e) => e.id === cfgId2)), 15_000)
  t.ok(verifies(cfgHit2, rotated.secret), 'the operator\'s rotation gives the secret to hand over')
})

t.test('a private webhook stored before webhooks recorded who set them is named at start, with how to keep it', async (t) => {
  const engine = await startEngine(t, { accounts: [{ systemId: 'old1', password: 'pw1' }] as never })
  await engine.stop()
  const store = await Store.open(path.join(engine.dataDir, 'store'))
  const acc = store.getAccount('old1')
  t.ok(acc, 'the account is stored')
  // as an engine from before this change left it: a webhook, and no record of who set it
  const { webhooksByOperator: _by, ...rest } = { ...acc, webhooks: { receipts: 'http://10.0.0.5/dlr', mo: null } } as Record<string, unknown>
  await store.commit({ accounts: [rest as never] })
  await store.close()
  await engine.restart()
  const warned = engine.output().split('\n').filter((l) => l.includes('was stored before webhooks recorded who set them'))
  t.equal(warned.length, 1, 'one warning, for the one private webhook')
  t.match(warned[0], /"level":"warn","msg":"account old1: webhooks\.receipts was stored before webhooks recorded who set them, so it counts as set by the account, and it is refused \(.*10\.0\.0\.5.*\)\. If the operator set it, set it again as the operator \(smsc account set old1 --webhook-receipts URL\), or allow private targets \(webhooks\.allowPrivateTargets\)"/)
})
