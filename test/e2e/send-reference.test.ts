/**
 * The send API's `reference` end to end (docs/API.md "Send API"): an integrator attaches its own id to a message
 * and gets it back, with the answer, in each receipt its webhook receives (a real node:http receiver; every part of a
 * long message), in the lookup and in message search (`reference=`, `smsc message find --reference`, `smsc message
 * show`), also after the engine restarts (the record keeps it in the store). A reference that breaks the rule (1 to 64
 * printable ASCII, no space at either end) is refused naming the field and the rule, alone in a batch; a send refused
 * for another reason is found among the refused submits by its reference.
 */
import t from 'tap'
import http from 'node:http'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import type net from 'node:net'
import path from 'node:path'
import { projectRoot } from '../helpers/engine'
import { AdminApi, httpCall, sleep, startPolicyEngine, until } from '../helpers/policy'

const ROOT = projectRoot()
const NUMBER = '4915112345678'

interface Event { type: string; id: string; stat: string; reference?: string | null; part?: [number, number] | null }

/** A receipts webhook: every event of every request, answered 200. */
async function startReceiver(t: tap.Test): Promise<{ url: string; events: Event[] }> {
  const events: Event[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      events.push(...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Event[]))
      res.writeHead(200).end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/dlr`, events }
}

function smsc(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'smsc.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

t.test("a message's reference comes back in the answer, the receipt webhooks, the lookup and search, after a restart too", async (t) => {
  const receiver = await startReceiver(t)
  const engine = await startPolicyEngine(t, {
    accounts: [{ systemId: 'shop', password: 'spw1', webhooks: { receipts: receiver.url, mo: null } }],
    extra: { log: { level: 'warn' } },
  })
  let api = await AdminApi.login(engine)
  const { key } = await api.ok<{ key: string }>('POST', '/api/v1/accounts/shop/apikeys', { label: 'integrator' })
  const send = (body: unknown) => httpCall(engine.httpPort, 'POST', '/api/v1/messages', body, { 'x-api-key': key })

  const one = await send({ from: 'Shop', to: `+${NUMBER}`, text: 'Your order shipped', registeredDelivery: true, reference: 'order-4711' })
  t.equal(one.status, 202, one.body)
  t.match(one.json, { ok: true, parts: 1, reference: 'order-4711' }, 'the answer gives it back')
  const id = (one.json as { ids: string[] }).ids[0]

  const long = 'Your invoice is ready. '.repeat(10) // 230 GSM characters: 2 parts
  const batch = await send({ messages: [
    { from: 'Shop', to: NUMBER, text: long, registeredDelivery: true, reference: 'INV 2026/12-07 #9~' },
    { from: 'Shop', to: NUMBER, text: 'no reference', registeredDelivery: true },
    { from: 'Shop', to: NUMBER, text: 'not ASCII', reference: 'café' },
    { from: 'Shop', to: NUMBER, text: 'too long', reference: 'x'.repeat(65) },
    { from: 'Shop', to: NUMBER, text: 'a space at the end', reference: 'order ' },
    { from: 'Shop', to: NUMBER, text: 'not a string', reference: 4711 },
  ] })
  t.equal(batch.status, 200, batch.body)
  const results = (batch.json as { results: Record<string, unknown>[] }).results
  t.match(results[0], { ok: true, parts: 2, reference: 'INV 2026/12-07 #9~' }, 'spaces and punctuation inside are printable ASCII')
  t.notOk('reference' in results[1], 'none given, none answered')
  const rule = 'reference must be 1 to 64 printable ASCII characters (space to ~), not starting or ending with a space'
  t.same(results.slice(2), [
    { ok: false, status: 8, code: 'SMSC_ERR_API_INVALID', error: `messages[2].${rule} (got "é" at 4)` },
    { ok: false, status: 8, code: 'SMSC_ERR_API_INVALID', error: `messages[3].${rule} (got 65 characters)` },
    { ok: false, status: 8, code: 'SMSC_ERR_API_INVALID', error: `messages[4].${rule} (got a space at an end)` },
    { ok: false, status: 8, code: 'SMSC_ERR_API_INVALID', error: `messages[5].${rule} (got number)` },
  ], 'each bad reference refused alone, naming the field and the rule; the good ones in the batch went through')
  const single = await send({ from: 'Shop', to: NUMBER, text: 'x', reference: '' })
  t.equal(single.status, 400, 'one message: 400')
  t.match(single.json, { ok: false, code: 'SMSC_ERR_API_INVALID', error: `${rule} (got 0 characters)` })
  const invIds = (results[0] as { ids: string[] }).ids
  const plainId = (results[1] as { ids: string[] }).ids[0]

  await until('a receipt at the webhook for each of the 4 messages', () => ([id, ...invIds, plainId].every((m) => receiver.events.some((e) => e.id === m)) ? true : undefined), 15_000)
  t.match(receiver.events.find((e) => e.id === id), { type: 'receipt', id, stat: 'DELIVRD', reference: 'order-4711' }, 'its receipt carries the reference')
  for (const [k, part] of invIds.entries()) {
    t.match(receiver.events.find((e) => e.id === part), { type: 'receipt', stat: 'DELIVRD', part: [k + 1, 2], reference: 'INV 2026/12-07 #9~' }, `so does part ${k + 1} of the long one`)
  }
  t.equal(receiver.events.find((e) => e.id === plainId)?.reference, null, 'a message without one: reference null')

  // a send refused for another reason (the number opted out) has no id: search finds it among the refused by its reference
  t.equal((await api.call('POST', '/api/v1/accounts/shop/optouts', { number: '4915100000999' })).status, 200)
  t.equal((await send({ from: 'Shop', to: '4915100000999', text: 'stopped', reference: 'order-4712' })).status, 403)

  const lookupAndSearch = async (t: tap.Test, key: string) => {
    const seen = await httpCall(engine.httpPort, 'GET', `/api/v1/messages/${id}`, undefined, { 'x-api-key': key })
    t.match(seen.json, { id, systemId: 'shop', reference: 'order-4711', text: 'Your order shipped' }, 'the lookup has it')
    const found = await httpCall(engine.httpPort, 'GET', `/api/v1/messages?reference=${encodeURIComponent('INV 2026/12-07 #9~')}`, undefined, { 'x-api-key': key })
    t.same((found.json as { messages: { id: string }[] }).messages.map((m) => m.id), [...invIds].reverse(), 'search by reference: both parts, newest first, nothing else')
    t.match((found.json as { messages: unknown[] }).messages, [{ reference: 'INV 2026/12-07 #9~' }, { reference: 'INV 2026/12-07 #9~' }])
    const exact = await httpCall(engine.httpPort, 'GET', '/api/v1/messages?reference=order-471', undefined, { 'x-api-key': key })
    t.same((exact.json as { messages: unknown[] }).messages, [], 'matched whole, not as a prefix')
  }
  await t.test('the lookup and search by reference', (t) => lookupAndSearch(t, key))
  const refused = await api.ok<{ messages: unknown[]; refused: Record<string, unknown>[] }>('GET', '/api/v1/messages?reference=order-4712')
  t.same(refused.messages, [], 'no message has it')
  t.match(refused.refused, [{ systemId: 'shop', via: 'http', command: 'send', statusName: 'SMSC_ROPTEDOUT', reference: 'order-4712', to: ['4915100000999'] }], 'the refused send, by its reference')
  t.equal(refused.refused.length, 1)
  const badRef = await api.call('GET', `/api/v1/messages?reference=${'y'.repeat(65)}`)
  t.match(badRef.json, { code: 'SMSC_ERR_API_INVALID', error: /^reference must be 1 to 64 printable ASCII characters .*\(got 65 characters\)/ }, 'a search by a reference no message can have: 400 naming the rule')

  await t.test('the CLI finds and shows it', async (t) => {
    for (let i = 0; i < 200 && !existsSync(path.join(engine.dataDir, 'control.json')); i++) await sleep(25)
    const found = smsc(['message', 'find', '--reference', 'order-4711', '--config', engine.configPath])
    t.equal(found.code, 0, found.err)
    t.match(found.out, new RegExp(`\\n\\S+Z\\s+${id}\\s+shop\\s`), 'the message')
    t.match(found.out, /\n1 message, newest first/)
    const shown = smsc(['message', 'show', id, '--config', engine.configPath])
    t.equal(shown.code, 0, shown.err)
    t.match(shown.out, /\n {2}reference {3}order-4711\n/)
  })

  await t.test('after a restart: the record kept it', async (t) => {
    await engine.restart()
    api = await AdminApi.login(engine)
    await lookupAndSearch(t, key)
  })

  await t.test('and from the store, with no engine running', async (t) => {
    await engine.stop()
    const found = smsc(['message', 'find', '--reference', 'INV 2026/12-07 #9~', '--json', '--config', engine.configPath])
    t.equal(found.code, 0, found.err)
    t.same((JSON.parse(found.out) as { messages: { id: string }[] }).messages.map((m) => m.id), [...invIds].reverse())
  })
})
