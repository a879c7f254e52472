/**
 * MT and MO routing seen from outside: an engine process with five HTTP connectors, each pointing at
 * an HTTP sink in this test (a node:http server that records what it gets), and an ESME on the npm
 * `smpp` client. Shows on the wire: a reject route answers its own command_status and no match
 * answers ESME_RINVDSTADR (0x0B); destination prefix, source and account pick the connector;
 * round robin spreads evenly; failover moves traffic when the first provider dies (and back when
 * it returns); a connector that is down holds its messages until its provider answers again; a hot
 * reload of the table (PUT /api/v1/routes) while an ESME submits loses no message; and MO without
 * a systemId is routed by destination prefix and keyword.
 */
import t from 'tap'
import { startEngine } from '../helpers/engine'
import { gsm, isMo, isReceipt, messageText, openEsme, parseReceipt, receiptFor, type Esme, type Pdu } from '../helpers/esme'
import { api, checkReceipts, operatorToken, sleep, startSink, until, waitReceipts, type Sink } from '../helpers/lifecycle'

const ADMIN_PASSWORD = '12345678abc'

/** The routing table; the 55… route is the one the hot reload moves. */
function tables(route55: string) {
  return {
    mt: [
      { name: 'blocked', match: { destPrefix: ['999'] }, action: { reject: 0x45 } },
      { name: 'acme-sender', match: { sourcePrefix: ['ACME'] }, action: { reject: 0x0a } },
      { name: 'esme2-uk', match: { accounts: ['esme2'], destPrefix: ['44'] }, action: { connector: 'b' } },
      { name: 'uk', match: { destPrefix: ['44'] }, action: { connector: 'a' } },
      { name: 'fr', match: { destPrefix: ['+33'] }, action: { connector: 'b' } },
      { name: 'de-rr', match: { destPrefix: ['49'] }, action: { roundRobin: ['a', 'b'] } },
      { name: 'it-failover', match: { destPrefix: ['39'] }, action: { failover: ['c', 'd'] } },
      { name: 'nl-only-e', match: { destPrefix: ['31'] }, action: { connector: 'e' } },
      { name: 'reload', match: { destPrefix: ['55'] }, action: { connector: route55 } },
      { name: 'us-sim', match: { destRegex: '^1\\d{10}$' }, action: { connector: 'simulator' } },
    ],
    mo: [
      { name: 'stop', match: { keyword: 'STOP' }, account: 'esme3' },
      { name: 'short-code', match: { destPrefix: ['7000'] }, account: 'esme2' },
      { name: 'promo', match: { destPrefix: ['8000'], keyword: 'PROMO' }, account: 'esme3' },
    ],
  }
}

async function submitOk(esme: Esme, to: string, text: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await esme.submit({ source_addr: '447700900001', destination_addr: to, short_message: gsm(text), data_coding: 0, registered_delivery: 1, ...extra })
  if (r.command_status !== 0 || !r.message_id) throw new Error(`submit to ${to} refused: 0x${r.command_status.toString(16)}`)
  return r.message_id
}

const idsAt = (sink: Sink, pred: (to: string) => boolean = () => true) => sink.posted.filter((p) => pred(p.to)).map((p) => p.id)

t.test('routing', async (t) => {
  const [a, b, c, d, e] = await Promise.all([0, 0, 0, 0, 0].map(() => startSink(t)))
  const engine = await startEngine(t, {
    accounts: [
      { systemId: 'esme1', password: 'secret1' },
      { systemId: 'esme2', password: 'secret2' },
      { systemId: 'esme3', password: 'secret3' },
    ],
    extra: {
      admin: { password: ADMIN_PASSWORD },
      connectors: [
        { id: 'a', kind: 'http', url: a.url, timeoutMs: 2000 },
        { id: 'b', kind: 'http', url: b.url, timeoutMs: 2000 },
        { id: 'c', kind: 'http', url: c.url, timeoutMs: 2000 },
        { id: 'd', kind: 'http', url: d.url, timeoutMs: 2000 },
        { id: 'e', kind: 'http', url: e.url, timeoutMs: 2000 },
      ],
      routes: tables('a'),
      dispatch: { retryMs: [100, 1000] },
      log: { level: 'warn' },
    },
  })
  const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver' })
  const token = await operatorToken(engine.httpPort, ADMIN_PASSWORD)
  const connectorUp = async (id: string): Promise<boolean | undefined> => {
    const r = await api(engine.httpPort, 'GET', '/api/v1/connectors', undefined, token)
    return (r.json?.connectors as { id: string; up: boolean }[] | undefined)?.find((x) => x.id === id)?.up
  }

  t.test('a reject route answers its status; no match answers ESME_RINVDSTADR', async (t) => {
    const before = [a, b, c, d, e].reduce((n, s) => n + s.posted.length, 0)
    const blocked = await esme.submit({ source_addr: '447700900001', destination_addr: '9991234567', short_message: gsm('x'), registered_delivery: 1 })
    t.equal(blocked.command_status, 0x45, 'route "blocked" refuses with its own status 0x45')
    const acme = await esme.submit({ source_addr: 'ACME', source_addr_ton: 5, destination_addr: '447700900002', short_message: gsm('x') })
    t.equal(acme.command_status, 0x0a, 'route "acme-sender" matches the alphanumeric sender id')
    const none = await esme.submit({ source_addr: '447700900001', destination_addr: '6112345678', short_message: gsm('x') })
    t.equal(none.command_status, 0x0b, 'no route: ESME_RINVDSTADR (0x0B)')
    await sleep(300)
    t.equal([a, b, c, d, e].reduce((n, s) => n + s.posted.length, 0), before, 'nothing refused reached a provider')
  })

  t.test('destination prefixes send messages to different connectors', async (t) => {
    const uk: string[] = []
    const fr: string[] = []
    for (let i = 0; i < 5; i++) {
      uk.push(await submitOk(esme, `4477009000${10 + i}`, `uk ${i}`))
      fr.push(await submitOk(esme, `3361234560${i}`, `fr ${i}`))
    }
    const us = await submitOk(esme, '15551234567', 'us via the simulator')
    t.equal(await waitReceipts(esme, [...uk, ...fr, us], 10_000), 0, 'every message got its receipt')
    t.same(idsAt(a).sort(), uk.slice().sort(), 'server A got exactly the 44… messages')
    t.same(idsAt(b).sort(), fr.slice().sort(), 'server B got exactly the 33… messages (rule "+33")')
    const first = a.posted.find((p) => p.id === uk[0])
    t.match(first, { from: '447700900001', to: '447700900010', text: 'uk 0' }, 'the POST carries from, to and text')
    t.notOk([a, b, c, d, e].some((s) => s.posted.some((p) => p.id === us)), 'the 1… message went to the simulator, not to a provider')
    const r = await esme.waitFor(receiptFor(uk[0]), 1000)
    t.equal(parseReceipt(messageText(r))?.stat, 'DELIVRD', 'a 2xx answer is DELIVRD')
    t.same(checkReceipts(esme, [...uk, ...fr, us]), { missing: [], duplicated: [], unknown: [], textMismatch: [] }, 'one receipt each, carrying our id')
  })

  t.test('the account is part of the match', async (t) => {
    const esme2 = await openEsme(t, { port: engine.smppPort, kind: 'transceiver', systemId: 'esme2', password: 'secret2' })
    const id = await submitOk(esme2, '447700900099', 'from esme2')
    await esme2.waitFor(receiptFor(id), 10_000)
    t.ok(b.posted.some((p) => p.id === id), 'route "esme2-uk" (accounts: [esme2]) sent it to B')
    t.notOk(a.posted.some((p) => p.id === id), 'not to A')
  })

  t.test('round robin spreads evenly over two connectors', async (t) => {
    const list = Array.from({ length: 40 }, (_, i) => ({ source_addr: '447700900001', destination_addr: `4915100000${String(i).padStart(2, '0')}`, short_message: gsm(`rr ${i}`), registered_delivery: 1 }))
    const resps = await esme.submitMany(list, 4)
    const ids = resps.map((r) => r.message_id as string)
    t.ok(resps.every((r) => r.command_status === 0), 'all accepted')
    t.equal(await waitReceipts(esme, ids, 10_000), 0, 'all delivered')
    const atA = idsAt(a, (to) => to.startsWith('49')).length
    const atB = idsAt(b, (to) => to.startsWith('49')).length
    t.equal(atA + atB, 40, 'each message posted once')
    t.ok(Math.abs(atA - atB) <= 1, `evenly: A ${atA}, B ${atB}`)
  })

  t.test('failover: the first provider dies, the second takes over; it comes back, traffic returns', async (t) => {
    const warm: string[] = []
    for (let i = 0; i < 3; i++) warm.push(await submitOk(esme, `3933300000${i}`, `it ${i}`))
    t.equal(await waitReceipts(esme, warm, 10_000), 0)
    t.same(idsAt(c).filter((id) => warm.includes(id)).length, 3, 'C (first in the list) takes them while it is up')

    await c.close()
    const during: string[] = []
    for (let i = 0; i < 10; i++) during.push(await submitOk(esme, `3933300001${i}`, `it down ${i}`))
    t.equal(await waitReceipts(esme, during, 15_000), 0, 'every message sent while C is dead got its receipt')
    t.same(idsAt(d).filter((id) => during.includes(id)).sort(), during.slice().sort(), 'D got every one of them')
    t.same(checkReceipts(esme, during), { missing: [], duplicated: [], unknown: [], textMismatch: [] }, 'exactly once, none DELIVRD twice')
    const rs = during.map((id) => parseReceipt(messageText(esme.delivered.find(receiptFor(id))!))?.stat)
    t.ok(rs.every((s) => s === 'DELIVRD'), 'all DELIVRD')

    await c.reopen()
    // C is first in the list: once it answers again, new messages should reach it.
    const after: string[] = []
    let back = false
    const deadline = Date.now() + 6000
    while (!back && Date.now() < deadline) {
      const id = await submitOk(esme, `393330000${200 + after.length}`, 'it back')
      after.push(id)
      await esme.waitFor(receiptFor(id), 10_000)
      back = c.posted.some((p) => p.id === id)
      if (!back) await sleep(300)
    }
    t.ok(back, `after C came back a new message reached C (${after.length} tried, ${idsAt(c).filter((id) => after.includes(id)).length} at C, ${idsAt(d).filter((id) => after.includes(id)).length} at D; connector c up: ${await connectorUp('c')})`)
  })

  t.test('a connector that is down holds its messages and delivers them once its provider answers', async (t) => {
    await e.close()
    const ids: string[] = []
    for (let i = 0; i < 4; i++) ids.push(await submitOk(esme, `3161234500${i}`, `nl ${i}`, { validity_period: '000000000100000R' })) // 1 min
    let down = false
    await until(async () => (down = (await connectorUp('e')) === false), 'connector e reported down', 10_000).catch(() => {})
    t.ok(down, 'e is down after failed requests')
    t.equal(receivedFor(esme, ids), 0, 'no receipt while its provider is dead')
    await e.reopen()
    const missing = await waitReceipts(esme, ids, 10_000)
    t.equal(missing, 0, `every held message delivered once E answers again (connector e up: ${await connectorUp('e')}, E got ${e.posted.length})`)
    t.same(idsAt(e).filter((id) => ids.includes(id)).sort(), ids.slice().sort(), 'E got them')
  })

  t.test('MO without systemId is routed by destination prefix and keyword', async (t) => {
    const rx2 = await openEsme(t, { port: engine.smppPort, kind: 'receiver', systemId: 'esme2', password: 'secret2' })
    const rx3 = await openEsme(t, { port: engine.smppPort, kind: 'receiver', systemId: 'esme3', password: 'secret3' })
    const mo = async (from: string, to: string, text: string) => api(engine.httpPort, 'POST', '/api/v1/simulator/mo', { from, to, text }, token)
    const r1 = await mo('4915100000501', '70001234', 'hello short code')
    t.equal(r1.status, 202, `short-code MO accepted (${r1.body})`)
    t.equal(r1.json?.systemId, 'esme2', 'routed to esme2 by destPrefix 7000')
    const r2 = await mo('4915100000502', '12345', 'stop sending me things')
    t.equal(r2.json?.systemId, 'esme3', 'routed to esme3 by keyword STOP (case-insensitive)')
    const r3 = await mo('4915100000503', '80001', 'PROMO summer')
    t.equal(r3.json?.systemId, 'esme3', 'prefix 8000 + keyword PROMO → esme3')
    const r4 = await mo('4915100000504', '80001', 'nothing matches this')
    t.ok(r4.status >= 400 && r4.status < 500, `no MO route and several accounts: refused (${r4.status} ${r4.body})`)
    t.equal(r4.json?.code, 'SMSC_ERR_MO_NO_ROUTE')
    t.match(r4.json?.error, /^no MO route takes it \(to "80001", first word "nothing": docs\/ROUTING\.md "MO routes"\); give systemId to send it to one account$/, 'saying no route took it, and what would')
    const from = (f: string) => (p: Pdu) => isMo(p) && p.source_addr === f
    t.equal(messageText(await rx2.waitFor(from('4915100000501'), 10_000)), 'hello short code', 'esme2 got its MO')
    await rx3.waitFor(from('4915100000502'), 10_000)
    await rx3.waitFor(from('4915100000503'), 10_000)
    await sleep(200)
    t.notOk(esme.delivered.some((p) => isMo(p)), 'esme1 got none of them')
    t.notOk(rx2.delivered.some(from('4915100000502')), 'esme2 did not get the STOP MO')
  })

  t.test('a hot reload under load loses no message and later messages follow the new table', async (t) => {
    const sent = new Map<string, { sentAt: number; respAt: number }>()
    const refused: number[] = []
    let reloadStart = 0
    let reloadEnd = 0
    let n = 0
    const t0 = Date.now()
    const worker = async () => {
      while (Date.now() - t0 < 3000) {
        const i = n++
        const sentAt = Date.now()
        const r = await esme.submit({ source_addr: '447700900001', destination_addr: `55119${String(i).padStart(6, '0')}`, short_message: gsm(`reload ${i}`), registered_delivery: 1 })
        if (r.command_status === 0 && r.message_id) sent.set(r.message_id, { sentAt, respAt: Date.now() })
        else refused.push(r.command_status)
        await sleep(10)
      }
    }
    const reload = async () => {
      await sleep(1500)
      reloadStart = Date.now()
      const r = await api(engine.httpPort, 'PUT', '/api/v1/routes', tables('b'), token)
      reloadEnd = Date.now()
      t.equal(r.status, 200, `PUT /api/v1/routes (${r.body.slice(0, 120)})`)
    }
    await Promise.all([worker(), worker(), worker(), worker(), reload()])
    t.same(refused, [], 'no submit refused during the reload')
    t.ok(sent.size > 100, `${sent.size} messages accepted in 3 s`)
    const missing = await waitReceipts(esme, sent.keys(), 20_000)
    t.equal(missing, 0, 'every accepted message got its receipt')
    t.same(checkReceipts(esme, [...sent.keys()]), { missing: [], duplicated: [], unknown: [], textMismatch: [] }, 'exactly once each, carrying its id')
    const atA = new Set(idsAt(a, (to) => to.startsWith('55')))
    const atB = new Set(idsAt(b, (to) => to.startsWith('55')))
    const both = [...atA].filter((id) => atB.has(id))
    t.same(both, [], 'no message went to both')
    const before = [...sent].filter(([, s]) => s.respAt < reloadStart).map(([id]) => id)
    const after = [...sent].filter(([, s]) => s.sentAt > reloadEnd).map(([id]) => id)
    t.ok(before.length > 0 && after.length > 0, `messages on both sides of the reload (${before.length} before, ${after.length} after)`)
    t.same(before.filter((id) => !atA.has(id)), [], 'every message accepted before the reload went to A (old table)')
    t.same(after.filter((id) => !atB.has(id)), [], 'every message submitted after the reload went to B (new table)')
    t.same([...sent.keys()].filter((id) => !atA.has(id) && !atB.has(id)), [], 'every accepted message reached a provider')
    const rs = [...sent.keys()].map((id) => esme.delivered.find(receiptFor(id))).filter((p) => p && isReceipt(p))
    t.ok(rs.every((p) => parseReceipt(messageText(p!))?.stat === 'DELIVRD'), 'all DELIVRD')
    const ping = await esme.request('enquire_link')
    t.equal(ping.command_status, 0, 'the bind survived the reload')
    const stored = await api(engine.httpPort, 'GET', '/api/v1/routes', undefined, token)
    t.equal(stored.json?.mt?.find((r: { name: string }) => r.name === 'reload')?.action?.connector, 'b', 'GET /api/v1/routes shows the new table')
  })
})

/** How many of `ids` already have a final receipt. */
function receivedFor(esme: Esme, ids: string[]): number {
  return ids.filter((id) => esme.delivered.some((p) => isReceipt(p) && p.receipted_message_id === id)).length
}
