/**
 * Per-account webhooks end to end (issue #5): an account with webhooks { receipts, mo } gets its
 * receipts and MO as HTTP POSTs of JSON arrays of events ({ type: 'receipt', id, stat, ... } and
 * { type: 'mo', from, to, text, ... }) instead of deliver_sm; a webhook that answers 5xx gets the same
 * events again with the engine's back-off (receipts.redeliveryMs) until it answers 2xx, and an event
 * acknowledged with a 2xx is not sent again. The receiving side is a node:http server in this test.
 */
import t from 'tap'
import http from 'node:http'
import type net from 'node:net'
import { gsm, isReceipt, openEsme } from '../helpers/esme'
import { AdminApi, sleep, startPolicyEngine, until } from '../helpers/policy'
import { OPENAPI } from '../../engine/openapi'

interface Hit {
  path: string
  status: number
  contentType: string
  events: Record<string, unknown>[]
  raw: string
  at: number
  headers: Record<string, string | string[] | undefined>
}

/** A webhook receiver: records every request; `answer(path, n)` picks the status of the n-th request (0-based) to that path. */
async function startReceiver(t: tap.Test, answer: (path: string, n: number) => number): Promise<{ url: string; hits: Hit[] }> {
  const hits: Hit[] = []
  const seen = new Map<string, number>()
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const path = req.url ?? ''
      const n = seen.get(path) ?? 0
      seen.set(path, n + 1)
      const status = answer(path, n)
      const raw = Buffer.concat(chunks).toString('utf8')
      let events: Record<string, unknown>[] = []
      try {
        const v = JSON.parse(raw) as unknown
        events = Array.isArray(v) ? (v as Record<string, unknown>[]) : [{ notAnArray: v }]
      } catch {
        events = [{ notJson: raw }]
      }
      hits.push({ path, status, contentType: String(req.headers['content-type'] ?? ''), events, raw, at: Date.now(), headers: req.headers })
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'try later')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, hits }
}

t.test('receipts and MO go to the account webhooks, with retries', async (t) => {
  const FAILS = 2
  const receiver = await startReceiver(t, (path, n) => (path === '/dlr' && n < FAILS ? 500 : 200))
  const engine = await startPolicyEngine(t, {
    accounts: [
      { systemId: 'hook', password: 'secret1', webhooks: { receipts: `${receiver.url}/dlr`, mo: `${receiver.url}/mo` } },
      { systemId: 'plain', password: 'secret1' },
      { systemId: 'apirx', password: 'secret1', registeredDelivery: 1, webhooks: { receipts: `${receiver.url}/api-dlr`, mo: null } },
      { systemId: 'apinorx', password: 'secret1', webhooks: { receipts: `${receiver.url}/api-dlr`, mo: null } },
    ],
    extra: { receipts: { redeliveryMs: [50, 200] } },
  })

  t.test('every receipt arrives as a JSON event; 500 answers are retried until acknowledged', async (t) => {
    const esme = await openEsme(t, { port: engine.smppPort, systemId: 'hook', password: 'secret1', kind: 'transceiver' })
    const resps = await esme.submitMany(Array.from({ length: 10 }, (_, k) => ({
      source_addr: '12345', destination_addr: `49151000000${String(k).padStart(2, '0')}`, short_message: gsm(`webhook ${k}`), registered_delivery: 1,
    })), 10)
    t.ok(resps.every((r) => r.command_status === 0), 'all 10 accepted')
    const ids = resps.map((r) => r.message_id ?? '')
    const acked = () => receiver.hits.filter((h) => h.path === '/dlr' && h.status === 200).flatMap((h) => h.events)
    await until('a 2xx-answered receipt event for each of the 10 ids', () => (ids.every((id) => acked().some((e) => e.id === id)) ? true : undefined), 15_000)
    await sleep(500) // anything sent twice would be in by now

    const dlr = receiver.hits.filter((h) => h.path === '/dlr')
    t.equal(dlr.filter((h) => h.status === 500).length, FAILS, `the first ${FAILS} requests were answered 500`)
    t.ok(dlr.every((h) => h.contentType.startsWith('application/json')), 'content-type application/json')
    t.ok(dlr.every((h) => h.events.length > 0 && h.events.every((e) => !('notJson' in e) && !('notArray' in e))), 'every body is a non-empty JSON array')
    const failedIds = dlr.filter((h) => h.status === 500).flatMap((h) => h.events.map((e) => e.id))
    t.ok(failedIds.length > 0, 'the refused requests carried events')
    const ackedEvents = acked()
    for (const id of failedIds) t.ok(ackedEvents.some((e) => e.id === id), `event for ${String(id)} refused with 500 was sent again and acknowledged`)
    const ackedIds = ackedEvents.map((e) => e.id)
    t.same([...ackedIds].sort(), [...ids].sort(), 'each id acknowledged exactly once (nothing sent again after a 2xx)')
    for (const id of ids) {
      const e = ackedEvents.find((x) => x.id === id)
      t.match(e, { type: 'receipt', id, stat: 'DELIVRD', to: '12345' }, `receipt event for ${id}`)
    }
    // back-off: an event refused at time T is offered again no sooner than T + redeliveryMs[0]
    const firstFail = dlr.find((h) => h.status === 500) as Hit
    const firstFailId = firstFail.events[0].id
    const ackedAt = dlr.find((h) => h.status === 200 && h.events.some((e) => e.id === firstFailId))?.at ?? 0
    t.ok(ackedAt - firstFail.at >= 50, `retried with back-off (${ackedAt - firstFail.at} ms between the refused attempt and the acknowledged one)`)
    t.equal(esme.delivered.filter(isReceipt).length, 0, 'no deliver_sm receipts on the bind: the webhook takes them')
  })

  t.test('an MO for the account arrives at the mo webhook', async (t) => {
    const res = await engine.http('POST', '/api/v1/simulator/mo', { systemId: 'hook', from: '4915100000777', to: '12345', text: 'hello webhook €' }, await engine.operatorToken())
    t.equal(res.status, 202, `POST /api/v1/simulator/mo → ${res.status} ${res.body}`)
    const hit = await until('the MO at /mo', () => receiver.hits.find((h) => h.path === '/mo' && h.events.some((e) => e.from === '+4915100000777')), 10_000)
    t.equal(hit.status, 200)
    t.match(hit.events.find((e) => e.from === '+4915100000777'), { type: 'mo', from: '+4915100000777', to: '12345', text: 'hello webhook €', part: null, ref: null })
  })

  t.test('a long MO arrives as its parts, each with its own text, part and ref, that put together give the message', async (t) => {
    const text = Array.from({ length: 30 }, (_, k) => `word${k}`).join(' ') + ' 👋 end' // UCS2, 3 parts of 67 characters
    const res = await engine.http('POST', '/api/v1/simulator/mo', { systemId: 'hook', from: '4915100000888', to: '12345', text }, await engine.operatorToken())
    t.equal(res.status, 202)
    const parts = JSON.parse(res.body).parts as number
    t.ok(parts > 1, `${parts} parts`)
    const events = await until('every part at /mo', () => {
      const got = receiver.hits.filter((h) => h.path === '/mo' && h.status === 200).flatMap((h) => h.events).filter((e) => e.from === '+4915100000888')
      return got.length >= parts ? got : undefined
    }, 10_000)
    t.equal(events.length, parts, 'one event per part')
    const ordered = [...events].sort((a, b) => (a.part as number[])[0] - (b.part as number[])[0])
    t.same(ordered.map((e) => e.part), Array.from({ length: parts }, (_, k) => [k + 1, parts]), 'part [seq, total] on each')
    t.equal(new Set(events.map((e) => e.ref)).size, 1, 'one ref for the parts of one message')
    t.equal(ordered.map((e) => e.text).join(''), text, 'the texts in order are the message (no UDH in them, none repeated)')
  })

  t.test("the events are what the OpenAPI document's webhooks section says: the same fields, the signature headers", async (t) => {
    const doc = JSON.parse(JSON.stringify(OPENAPI)) as { webhooks: Record<string, { post: { parameters: { name: string }[]; requestBody: { content: Record<string, { schema: { items: { required: string[]; properties: Record<string, unknown> } } }> } } }> }
    const event = (hook: string) => doc.webhooks[hook].post.requestBody.content['application/json'].schema.items
    const seen = (p: string, type: string) => receiver.hits.filter((h) => h.path === p).flatMap((h) => h.events).find((e) => e.type === type) as Record<string, unknown>
    for (const [hook, p, type] of [['receipts', '/dlr', 'receipt'], ['mo', '/mo', 'mo']] as const) {
      const e = seen(p, type)
      t.ok(e, `a ${type} event was received`)
      t.same(Object.keys(e).sort(), [...event(hook).required].sort(), `${hook}: the fields sent are the fields documented, all required`)
      t.same(Object.keys(event(hook).properties).sort(), Object.keys(e).sort(), `${hook}: and no documented field is missing`)
      const headers = doc.webhooks[hook].post.parameters.map((x) => x.name.toLowerCase())
      const hit = receiver.hits.find((h) => h.path === p) as Hit
      for (const name of headers) t.ok(hit.headers[name], `${hook}: header ${name} is sent`)
    }
  })

  t.test("HTTP sends follow the account's registeredDelivery default, and their receipts reach the webhook", async (t) => {
    const api = await AdminApi.login(engine)
    const send = async (systemId: string, to: string) => {
      const r = await api.call('POST', '/api/v1/messages', { systemId, from: '12345', to, text: `api ${systemId}` })
      const body = r.json as { ok?: boolean; ids?: string[] }
      if (!body?.ok || !body.ids) throw new Error(`POST /api/v1/messages for ${systemId} → ${r.status} ${r.body}`)
      return body.ids[0]
    }
    const withReceipt = await send('apirx', '4915100003001')
    const without = await send('apinorx', '4915100003002')
    const events = () => receiver.hits.filter((h) => h.path === '/api-dlr').flatMap((h) => h.events)
    const e = await until('the receipt of the registeredDelivery 1 account', () => events().find((x) => x.id === withReceipt), 10_000)
    t.match(e, { type: 'receipt', id: withReceipt, stat: 'DELIVRD' })
    await sleep(500)
    t.notOk(events().some((x) => x.id === without), 'no receipt for the account whose registeredDelivery is 0')
  })

  t.test('an account without webhooks still gets deliver_sm receipts', async (t) => {
    const before = receiver.hits.length
    const esme = await openEsme(t, { port: engine.smppPort, systemId: 'plain', password: 'secret1', kind: 'transceiver' })
    const r = await esme.submit({ source_addr: '12345', destination_addr: '4915100000999', short_message: gsm('no hook'), registered_delivery: 1 })
    await esme.waitFor((p) => isReceipt(p) && p.receipted_message_id === r.message_id, 10_000)
    t.equal(receiver.hits.length, before, 'nothing posted to the webhook')
  })
})

t.test('a webhook that is down at first gets every receipt once it comes up', async (t) => {
  // answers 503 for 1.5 s from the first request, then 200 (timed from the first request, not from the start:
  // on a busy machine the engine may take longer than that to start and send)
  let firstAt = 0
  const receiver = await startReceiver(t, () => {
    if (firstAt === 0) firstAt = Date.now()
    return Date.now() - firstAt < 1500 ? 503 : 200
  })
  const engine = await startPolicyEngine(t, {
    accounts: [{ systemId: 'hook', password: 'secret1', webhooks: { receipts: `${receiver.url}/dlr`, mo: null } }],
    extra: { receipts: { redeliveryMs: [50, 400] } },
  })
  const esme = await openEsme(t, { port: engine.smppPort, systemId: 'hook', password: 'secret1', kind: 'transmitter' })
  const resps = await esme.submitMany(Array.from({ length: 30 }, (_, k) => ({ source_addr: '12345', destination_addr: '4915100001000', short_message: gsm(`down ${k}`), registered_delivery: 1 })), 10)
  const ids = resps.map((r) => r.message_id ?? '')
  const acked = () => receiver.hits.filter((h) => h.status === 200).flatMap((h) => h.events.map((e) => e.id))
  await until('every receipt acknowledged', () => (ids.every((id) => acked().includes(id)) ? true : undefined), 15_000)
  await sleep(500)
  t.ok(receiver.hits.some((h) => h.status === 503), 'some attempts were refused')
  t.same([...acked()].sort(), [...ids].sort(), 'all 30 receipts arrive, each acknowledged once')
})

t.test('receipts waiting for a webhook survive an engine restart', async (t) => {
  let up = false
  const receiver = await startReceiver(t, () => (up ? 200 : 503))
  const engine = await startPolicyEngine(t, {
    accounts: [{ systemId: 'hook', password: 'secret1', webhooks: { receipts: `${receiver.url}/dlr`, mo: null } }],
    extra: { receipts: { redeliveryMs: [50, 200] } },
  })
  const esme = await openEsme(t, { port: engine.smppPort, systemId: 'hook', password: 'secret1', kind: 'transmitter' })
  const resps = await esme.submitMany(Array.from({ length: 5 }, (_, k) => ({ source_addr: '12345', destination_addr: '4915100002000', short_message: gsm(`restart ${k}`), registered_delivery: 1 })), 5)
  const ids = resps.map((r) => r.message_id ?? '')
  // every receipt has been offered (and refused) at least once
  await until('each receipt offered to the webhook', () => (ids.every((id) => receiver.hits.some((h) => h.events.some((e) => e.id === id))) ? true : undefined), 10_000)
  await esme.close()
  await engine.restart()
  up = true
  const acked = () => receiver.hits.filter((h) => h.status === 200).flatMap((h) => h.events.map((e) => e.id))
  await until('every receipt acknowledged after the restart', () => (ids.every((id) => acked().includes(id)) ? true : undefined), 15_000)
  await sleep(300)
  t.same([...acked()].sort(), [...ids].sort(), 'all 5 receipts arrive after the restart, each acknowledged once')
})

t.test('webhook events give international numbers (TON 1) with their "+", whether the "+" came typed or as the TON', async (t) => {
  const receiver = await startReceiver(t, () => 200)
  const engine = await startPolicyEngine(t, {
    accounts: [{ systemId: 'hook', password: 'secret1', registeredDelivery: 1, webhooks: { receipts: `${receiver.url}/dlr`, mo: `${receiver.url}/mo` } }],
  })
  const esme = await openEsme(t, { port: engine.smppPort, systemId: 'hook', password: 'secret1', kind: 'transmitter' })
  // SMPP 3.4 §5.2.5 addr_ton: 1 international, 2 national, 0 unknown (the address is then all there is)
  const smpp = [
    { src: [1, 1, '+447700900001'], dst: [1, 1, '+447700900101'], from: '+447700900101', to: '+447700900001', what: "'+' typed, TON 1" },
    { src: [1, 1, '447700900002'], dst: [1, 1, '447700900102'], from: '+447700900102', to: '+447700900002', what: "TON 1 without '+'" },
    { src: [0, 1, '+447700900003'], dst: [0, 1, '+447700900103'], from: '+447700900103', to: '+447700900003', what: "'+' typed, TON 0" },
    { src: [0, 0, '12345'], dst: [0, 1, '447700900104'], from: '447700900104', to: '12345', what: 'TON 0 without \'+\': as submitted' },
    { src: [5, 0, 'Shop'], dst: [2, 1, '07700900105'], from: '07700900105', to: 'Shop', what: 'national and alphanumeric: as submitted' },
  ] as const
  const ids = new Map<string, (typeof smpp)[number] | { from: string; to: string; what: string }>()
  for (const c of smpp) {
    const r = await esme.submit({
      source_addr_ton: c.src[0], source_addr_npi: c.src[1], source_addr: c.src[2],
      dest_addr_ton: c.dst[0], dest_addr_npi: c.dst[1], destination_addr: c.dst[2], short_message: gsm(c.what), registered_delivery: 1,
    })
    t.equal(r.command_status, 0, `submit_sm accepted: ${c.what}`)
    ids.set(r.message_id ?? '', c)
  }
  const api = await AdminApi.login(engine)
  for (const c of [
    { body: { from: '+447700900006', to: '+447700900106' }, from: '+447700900106', to: '+447700900006', what: "send API, '+' typed" },
    { body: { from: 'Shop', to: '447700900107' }, from: '+447700900107', to: 'Shop', what: "send API without '+' (its numbers are international)" },
    { body: { from: '12345', to: '447700900108' }, from: '+447700900108', to: '12345', what: 'send API, a short code: TON 3 (network specific), so no +' },
  ]) {
    const r = await api.ok<{ ids: string[] }>('POST', '/api/v1/messages', { systemId: 'hook', ...c.body, text: c.what })
    ids.set(r.ids[0], c)
  }
  const receipts = await until('a receipt event for each message', () => {
    const got = receiver.hits.filter((h) => h.path === '/dlr').flatMap((h) => h.events)
    return [...ids.keys()].every((id) => got.some((e) => e.id === id)) ? got : undefined
  }, 15_000)
  for (const [id, c] of ids) t.match(receipts.find((e) => e.id === id), { from: c.from, to: c.to }, `receipt: ${c.what}`)

  for (const from of ['+447700900201', '447700900202']) {
    const res = await engine.http('POST', '/api/v1/simulator/mo', { systemId: 'hook', from, to: '12345', text: `mo from ${from}` }, await engine.operatorToken())
    t.equal(res.status, 202)
  }
  const mo = await until('both MO events', () => {
    const got = receiver.hits.filter((h) => h.path === '/mo').flatMap((h) => h.events)
    return got.length >= 2 ? got : undefined
  }, 10_000)
  t.same(mo.map((e) => [e.text, e.from, e.to]).sort(), [['mo from +447700900201', '+447700900201', '12345'], ['mo from 447700900202', '+447700900202', '12345']],
    "MO: the simulated carrier's senders are international (TON 1); the service number as given")
})
