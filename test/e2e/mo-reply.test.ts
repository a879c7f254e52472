/**
 * MO routes' auto-replies end to end (docs/ROUTING.md "Auto-replies"): a STOP through an upstream SMSC puts the
 * subscriber on the list AND its confirmation goes back upstream as a submit_sm from the short code (its TON/NPI) to
 * the subscriber, charged to the route's account, while the account's next MT to the number is refused with 0x403; a
 * second STOP within the minute gets no second reply; a HELP to a listed number is refused as any MT, to another gets
 * its reply; a UCS2 reply goes as UCS2 parts; the replies are found by message search and counted in /metrics. From the
 * simulator's MO API: a reply goes out without a receipt to the ESME; an account without credit gets no reply (counted,
 * a warning, and listed among the refused submits as `via: "auto-reply"` with its route, keyword and MO, in the API and
 * the CLI) but its MO still arrives.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { projectRoot, startEngine, type Engine } from '../helpers/engine'
import { gsm, isMo, isReceipt, messageText, openEsme, type Pdu } from '../helpers/esme'
import { AdminApi, hex, httpCall, startPolicyEngine } from '../helpers/policy'
import { startUpstream, type NodePdu, type Upstream } from '../helpers/upstream'

const OPTED_OUT = 0x403 // SMSC_ROPTEDOUT
const SHORT_CODE = '70001'
const SUBSCRIBER = '4917700000042' // texts STOP
const OTHER = '4917700000043' // texts HELP and INFO, on no list
const STOP_REPLY = 'You are unsubscribed from Shop. No more messages will be sent. Reply START to resubscribe.'
const HELP_REPLY = 'Shop alerts: up to 4 msgs/week. Reply STOP to cancel. Msg&data rates may apply.'
// 100 Cyrillic characters and an emoji: UCS2, two parts
const INFO_REPLY = `${'Информация о магазине. '.repeat(4)}😀`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

/** The text of a submit_sm node-smpp decoded (`{ message, udh? }`). */
const upText = (p: NodePdu): string => String((p.short_message as { message?: unknown } | undefined)?.message ?? '')
const metric = async (e: Engine, result: string): Promise<number> => {
  const m = /smsc_mo_reply_total\{result="(\w+)"\} (\d+)/g
  const body = (await httpCall(e.httpPort, 'GET', '/metrics')).body
  for (const [, r, n] of body.matchAll(m)) if (r === result) return Number(n)
  throw new Error(`no smsc_mo_reply_total{result="${result}"} in /metrics`)
}

t.test('upstream: a STOP lists the sender and its confirmation goes back from the short code; HELP and UCS2 replies; one reply a minute', async (t) => {
  const up: Upstream = await startUpstream(t)
  const engine = await startPolicyEngine(t, {
    accounts: [{ systemId: 'shop', password: 'spw1', credit: 10 }],
    extra: {
      connectors: [{ id: 'up', kind: 'smpp', host: '127.0.0.1', port: up.port, systemId: 'engA', password: 'pwA', reconnectMs: [100, 1000] }],
      routes: {
        mt: [{ name: 'all', match: {}, action: { connector: 'up' } }],
        mo: [
          { name: 'stop', match: { keyword: ['STOP', 'UNSUBSCRIBE'] }, account: 'shop', optOut: 'add', reply: STOP_REPLY },
          { name: 'help', match: { keyword: 'HELP' }, account: 'shop', reply: HELP_REPLY },
          { name: 'info', match: { keyword: 'INFO' }, account: 'shop', reply: INFO_REPLY },
        ],
      },
    },
  })
  const api = await AdminApi.login(engine)
  const shop = await openEsme(t, { port: engine.smppPort, kind: 'transceiver', systemId: 'shop', password: 'spw1' })
  const session = await until('the connector bound to the upstream', () => up.sessions[0])
  // the short code as the subscriber's network gives it: TON 3 network specific, NPI 0
  const deliver = (from: string, text: string) => new Promise<NodePdu>((resolve) => session.deliver_sm({
    source_addr_ton: 1, source_addr_npi: 1, source_addr: from, dest_addr_ton: 3, dest_addr_npi: 0, destination_addr: SHORT_CODE,
    esm_class: 0, data_coding: 0, short_message: Buffer.from(text),
  }, resolve))
  const submitsTo = (to: string) => up.received('submit_sm').filter((p) => p.destination_addr === to)
  const moArrived = (from: string, text: string) => shop.waitFor((p: Pdu) => isMo(p) && p.source_addr === from && messageText(p) === text, 10_000)

  t.test('STOP: the sender is listed, the confirmation reaches the upstream from the short code, the next MT is refused', async (t) => {
    t.equal((await deliver(SUBSCRIBER, 'Stop')).command_status, 0, 'the STOP is acknowledged once stored')
    await moArrived(SUBSCRIBER, 'Stop')
    const [reply] = await until('the confirmation upstream', () => (submitsTo(SUBSCRIBER).length > 0 ? submitsTo(SUBSCRIBER) : undefined))
    t.match(reply, {
      source_addr: SHORT_CODE, source_addr_ton: 3, source_addr_npi: 0,
      destination_addr: SUBSCRIBER, dest_addr_ton: 1, dest_addr_npi: 1, data_coding: 0,
    }, 'from the number the subscriber texted (its TON and NPI), to the subscriber, GSM 7-bit')
    t.equal(upText(reply), STOP_REPLY)
    t.match(await api.ok('GET', '/api/v1/accounts/shop/optouts'), { optouts: [{ number: SUBSCRIBER, by: 'mo:STOP' }] }, 'and the subscriber is on the list')
    const next = await shop.submit({ source_addr: SHORT_CODE, destination_addr: SUBSCRIBER, short_message: gsm('Our offers this week'), registered_delivery: 1 })
    t.equal(hex(next.command_status), hex(OPTED_OUT), "the account's own MT right after: refused with SMSC_ROPTEDOUT")
    const viaApi = await httpCall(engine.httpPort, 'POST', '/api/v1/messages', { from: SHORT_CODE, to: SUBSCRIBER, text: 'again' }, { authorization: `Bearer ${(await api.ok<{ key: string }>('POST', '/api/v1/accounts/shop/apikeys', {})).key}` })
    t.match(viaApi, { status: 403, json: { code: 'SMSC_ERR_DEST_OPTED_OUT' } }, 'and through the send API')
    t.equal(await api.balance('shop'), 9, 'the confirmation is charged to the route\'s account (price 1, one part)')
    const found = await api.ok<{ messages: { systemId: string; from: string; to: string[]; text: string }[] }>('GET', `/api/v1/messages?to=${SUBSCRIBER}`)
    t.match(found.messages, [{ systemId: 'shop', from: SHORT_CODE, to: [SUBSCRIBER], text: STOP_REPLY }], 'support finds it by the number')
    t.equal(await metric(engine, 'sent'), 1)
  })

  t.test('a second STOP within the minute: delivered and listed, no second reply', async (t) => {
    t.equal((await deliver(SUBSCRIBER, 'UNSUBSCRIBE')).command_status, 0)
    await moArrived(SUBSCRIBER, 'UNSUBSCRIBE')
    await until('the reply held back', async () => ((await metric(engine, 'held')) === 1 ? true : undefined))
    await sleep(500)
    t.equal(submitsTo(SUBSCRIBER).length, 1, 'still one confirmation upstream')
    t.match(engine.output(), /MO auto-reply held back: one per route and sender a minute/)
    t.equal(await api.balance('shop'), 9, 'nothing more charged')
  })

  t.test('HELP from the listed number is refused as any MT (counted, a warning); from another number it is answered', async (t) => {
    t.equal((await deliver(SUBSCRIBER, 'HELP')).command_status, 0)
    await moArrived(SUBSCRIBER, 'HELP')
    await until('the reply refused', async () => ((await metric(engine, 'refused')) === 1 ? true : undefined))
    t.match(engine.output(), /"level":"warn","msg":"MO auto-reply not sent","route":"help".*"code":"SMSC_ERR_DEST_OPTED_OUT"/, 'a warning naming the route and why')
    t.equal((await deliver(OTHER, 'help me')).command_status, 0)
    await moArrived(OTHER, 'help me')
    const [reply] = await until('the HELP reply upstream', () => (submitsTo(OTHER).length > 0 ? submitsTo(OTHER) : undefined))
    t.equal(upText(reply), HELP_REPLY)
    await sleep(300)
    t.equal(submitsTo(SUBSCRIBER).length, 1, 'nothing more to the listed number')
    t.equal(await api.balance('shop'), 8)
  })

  t.test('a reply GSM cannot carry goes as UCS2, split with a UDH', async (t) => {
    t.equal((await deliver(OTHER, 'INFO')).command_status, 0)
    const parts = await until('the INFO reply upstream', () => {
      const got = submitsTo(OTHER).filter((p) => p.data_coding === 8)
      return got.length >= 2 ? got : undefined
    })
    t.equal(parts.length, 2, 'two parts')
    for (const p of parts) t.equal((p.esm_class as number) & 0x40, 0x40, 'each with its UDH (esm_class UDHI)')
    t.equal(parts.map(upText).join(''), INFO_REPLY, 'the whole text, emoji included')
    t.equal(await api.balance('shop'), 6, 'two parts charged')
    t.equal(await metric(engine, 'sent'), 3)
    t.equal(await metric(engine, 'refused'), 1)
    t.equal(await metric(engine, 'held'), 1)
  })
})

t.test("simulator MO API: a reply goes out without a receipt; an account without credit gets no reply, listed as a refused auto-reply of its route, but its MO", async (t) => {
  const engine = await startPolicyEngine(t, {
    accounts: [{ systemId: 'shop', password: 'spw1', credit: 5 }, { systemId: 'poor', password: 'ppw1', credit: 0 }],
    extra: {
      routes: {
        mt: [{ name: 'sim', match: {}, action: { connector: 'simulator' } }],
        mo: [
          { name: 'poor-help', match: { destPrefix: ['9090'], keyword: 'HELP' }, account: 'poor', reply: 'Poor help' },
          { name: 'help', match: { keyword: 'HELP' }, account: 'shop', reply: 'Shop help' },
        ],
      },
    },
  })
  const api = await AdminApi.login(engine)
  const shop = await openEsme(t, { port: engine.smppPort, kind: 'transceiver', systemId: 'shop', password: 'spw1' })
  const poor = await openEsme(t, { port: engine.smppPort, kind: 'transceiver', systemId: 'poor', password: 'ppw1' })
  const mo = (from: string, to: string, text: string) => api.call('POST', '/api/v1/simulator/mo', { from, to, text })

  t.equal((await mo(`+${OTHER}`, '12345', 'HELP')).status, 202)
  await shop.waitFor((p) => isMo(p) && messageText(p) === 'HELP', 10_000)
  const sent = await until('the reply stored and delivered by the simulator', async () => {
    const r = await api.ok<{ messages: { id: string; systemId: string; from: string; to: string[]; text: string; stat: string }[] }>('GET', `/api/v1/messages?to=${OTHER}`)
    return r.messages.find((m) => m.stat === 'DELIVRD')
  })
  t.match(sent, { systemId: 'shop', from: '12345', to: [OTHER], text: 'Shop help' }, "from the number texted, to the sender ('+' dropped), delivered")
  await sleep(300)
  t.notOk(shop.delivered.some(isReceipt), 'no receipt to the ESME: registered_delivery 0')
  t.equal(await api.balance('shop'), 4, 'charged like an API send')

  t.equal((await mo(OTHER, '9090', 'help')).status, 202)
  await poor.waitFor((p) => isMo(p) && messageText(p) === 'help', 10_000)
  await until('the reply refused', async () => ((await metric(engine, 'refused')) === 1 ? true : undefined))
  t.match(engine.output(), /"level":"warn","msg":"MO auto-reply not sent","route":"poor-help","systemId":"poor".*"code":"SMSC_ERR_CREDIT_EXHAUSTED"/, 'a warning: no credit')
  const found = await api.ok<{ messages: { systemId: string }[]; refused: Record<string, unknown>[] }>('GET', `/api/v1/messages?to=${OTHER}&systemId=poor`)
  t.same(found.messages, [], 'nothing stored for poor')
  t.equal(await metric(engine, 'sent'), 1)
  // the refused reply is listed as what it is: the engine's auto-reply of that route, answering that MO, not an HTTP send
  const moId = (await api.ok<{ messages: { id: string; direction: string }[] }>('GET', `/api/v1/messages?from=${OTHER}&systemId=poor&direction=mo`)).messages[0].id
  t.match(found.refused, [{ systemId: 'poor', via: 'auto-reply', command: 'reply', route: 'poor-help', keyword: 'HELP', mo: moId, from: '9090', to: [OTHER], statusName: 'SMSC_RNOCREDIT' }], 'refused: via auto-reply, its MO route, keyword and MO')
  t.equal(found.refused.length, 1)
  t.notOk('session' in found.refused[0], 'no bind')
  const control = path.join(engine.dataDir, 'control.json')
  for (let i = 0; i < 200 && !existsSync(control); i++) await sleep(25)
  const cli = spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'smsc.js'), 'message', 'find', '--to', OTHER, '--account', 'poor', '--config', engine.configPath], { encoding: 'utf8', timeout: 60_000 })
  t.equal(cli.status, 0, cli.stderr)
  t.match(cli.stdout, new RegExp(`\\n\\S+Z\\s+poor\\s+auto-reply\\s+9090\\s+${OTHER}\\s+SMSC_RNOCREDIT \\(0x00000401\\) \\(MO route poor-help, keyword HELP, to MO ${moId}\\)\\n`), 'the CLI says so too')
})

t.test('a route whose reply does not fit 3 parts stops the start in one line naming the route and field', async (t) => {
  const engine = startEngine(t, {
    extra: { routes: { mo: [{ name: 'help', match: { keyword: 'HELP' }, account: 'esme1', reply: 'x'.repeat(460) }] } },
    readyTimeoutMs: 15_000,
  })
  await t.rejects(engine, /config\.routes\.mo\[0\]\.reply must be a text of 1 to 3 message parts .*\(got 460 GSM characters: 4 parts\)/)
})

t.test('PUT /api/v1/routes takes a reply and gives it back, smsc route list shows it; a bad one is 400 naming the field', async (t) => {
  const engine = await startPolicyEngine(t, { accounts: [{ systemId: 'shop', password: 'spw1' }] })
  const api = await AdminApi.login(engine)
  const tables = { mt: [{ name: 'sim', match: {}, action: { connector: 'simulator' } }], mo: [{ name: 'stop', match: { keyword: 'STOP' }, account: 'shop', optOut: 'add', reply: STOP_REPLY }] }
  t.match(await api.ok('PUT', '/api/v1/routes', tables), { mo: [{ name: 'stop', reply: STOP_REPLY }] })
  t.match(await api.ok('GET', '/api/v1/routes'), { mo: [{ name: 'stop', reply: STOP_REPLY }] }, 'kept')
  const cli = spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'smsc.js'), 'route', 'list', '--config', engine.configPath], { encoding: 'utf8', timeout: 60_000 })
  t.equal(cli.status, 0, cli.stderr)
  t.match(cli.stdout, `1. stop             {"keyword":"STOP"} → shop (optOut add: the sender goes on its opt-out list)\n     reply ${JSON.stringify(STOP_REPLY)}\n`, 'smsc route list shows the reply under its route')
  const bad = await api.call('PUT', '/api/v1/routes', { ...tables, mo: [{ ...tables.mo[0], reply: 'ж'.repeat(202) }] })
  t.match(bad, { status: 400, json: { code: 'SMSC_ERR_API_INVALID', error: /^routes\.mo\[0\]\.reply must be a text of 1 to 3 message parts .*\(got 202 UCS2 characters: 4 parts\)$/ } })
})

t.test('replace_sm on a STOP confirmation still waiting: the new text is no confirmation, the opt-out list stops it when due', async (t) => {
  let busy = true // the upstream answers the subscriber's MTs ESME_RTHROTTLED until the test lets them through
  const up: Upstream = await startUpstream(t, { onSubmit: (p) => (busy && p.destination_addr === SUBSCRIBER ? 0x58 : 0) })
  const engine = await startPolicyEngine(t, {
    accounts: [{ systemId: 'shop', password: 'spw1', credit: 10 }],
    extra: {
      connectors: [{ id: 'up', kind: 'smpp', host: '127.0.0.1', port: up.port, systemId: 'engA', password: 'pwA', reconnectMs: [100, 1000] }],
      dispatch: { retryMs: [100, 200] },
      routes: {
        mt: [{ name: 'all', match: {}, action: { connector: 'up' } }],
        mo: [{ name: 'stop', match: { keyword: 'STOP' }, account: 'shop', optOut: 'add', reply: STOP_REPLY }],
      },
    },
  })
  const api = await AdminApi.login(engine)
  const shop = await openEsme(t, { port: engine.smppPort, kind: 'transceiver', systemId: 'shop', password: 'spw1' })
  const session = await until('the connector bound to the upstream', () => up.sessions[0])
  session.deliver_sm({
    source_addr_ton: 1, source_addr_npi: 1, source_addr: SUBSCRIBER, dest_addr_ton: 3, dest_addr_npi: 0, destination_addr: SHORT_CODE,
    esm_class: 0, data_coding: 0, short_message: Buffer.from('STOP'),
  })
  await until('the confirmation tried upstream', () => (up.received('submit_sm').some((p) => upText(p) === STOP_REPLY) ? true : undefined))
  type Found = { messages: { id: string; text: string; stat: string }[] }
  const [reply] = (await api.ok<Found>('GET', `/api/v1/messages?to=${SUBSCRIBER}`)).messages
  t.match(reply, { text: STOP_REPLY, stat: 'ENROUTE' }, 'the confirmation waits for a retry')
  const replaced = await shop.request('replace_sm', { message_id: reply.id, source_addr: SHORT_CODE, short_message: gsm('Big sale this week only!') })
  t.equal(replaced.command_status, 0, 'its account may replace it (it is its MT)')
  busy = false
  const sale = () => up.received('submit_sm').filter((p) => upText(p) === 'Big sale this week only!')
  const ended = await until('the message to end or reach the upstream', async () => {
    const m = (await api.ok<Found>('GET', `/api/v1/messages?to=${SUBSCRIBER}`)).messages.find((x) => x.id === reply.id)
    return m?.stat === 'REJECTD' || sale().length > 0 ? m : undefined
  })
  t.same(sale(), [], 'the replaced text never reaches the listed number')
  t.match(ended, { text: 'Big sale this week only!', stat: 'REJECTD' }, 'it ends REJECTD as opted out when due')
})

t.test("a STOP confirmation goes out though the account's daily quota is spent; another reply does not", async (t) => {
  const engine = await startPolicyEngine(t, {
    accounts: [{ systemId: 'capped', password: 'cpw1', dailyQuota: 1 }],
    extra: {
      routes: {
        mt: [{ name: 'sim', match: {}, action: { connector: 'simulator' } }],
        mo: [
          { name: 'stop', match: { keyword: 'STOP' }, account: 'capped', optOut: 'add', reply: 'You are unsubscribed' },
          { name: 'help', match: { keyword: 'HELP' }, account: 'capped', reply: 'Capped help' },
        ],
      },
    },
  })
  const api = await AdminApi.login(engine)
  const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver', systemId: 'capped', password: 'cpw1' })
  const used = await esme.submit({ source_addr: '12345', destination_addr: OTHER, short_message: gsm('the day\'s one part') })
  t.equal(used.command_status, 0, "the day's one part")
  t.equal(hex((await esme.submit({ source_addr: '12345', destination_addr: OTHER, short_message: gsm('over') })).command_status), hex(0x402), 'the quota is spent')

  t.equal((await api.call('POST', '/api/v1/simulator/mo', { from: SUBSCRIBER, to: '12345', text: 'STOP' })).status, 202)
  const confirmation = await until('the confirmation stored and delivered', async () => {
    const r = await api.ok<{ messages: { systemId: string; from: string; text: string; stat: string }[] }>('GET', `/api/v1/messages?to=${SUBSCRIBER}`)
    return r.messages.find((m) => m.stat === 'DELIVRD')
  })
  t.match(confirmation, { systemId: 'capped', from: '12345', text: 'You are unsubscribed' }, 'the STOP confirmation went out')
  t.match((await api.account('capped')).usage, { quotaUsedToday: 1 }, 'and took nothing from the quota')
  // Support's "did the subscriber get the STOP confirmation?": the STOP's lookup names its reply.
  const moOf = async (from: string) => {
    const r = await api.ok<{ messages: { id: string; direction: string }[] }>('GET', `/api/v1/messages?from=${from}`)
    return r.messages.find((m) => m.direction === 'mo')?.id
  }
  const stopId = await moOf(SUBSCRIBER)
  const stop = await until('the STOP names its reply', async () => {
    const v = await api.ok<{ mo: { reply?: string } }>('GET', `/api/v1/messages/${stopId}`)
    return v.mo.reply !== undefined ? v : undefined
  })
  t.match(await api.ok('GET', `/api/v1/messages/${stop.mo.reply}`), { text: 'You are unsubscribed', to: [SUBSCRIBER] }, "the STOP's lookup names the confirmation's id")
  const shown = spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'smsc.js'), 'message', 'show', String(stopId), '--config', engine.configPath], { encoding: 'utf8', timeout: 60_000 })
  t.match(shown.stdout, new RegExp(`^ {2}auto-reply {2}${stop.mo.reply} \\(smsc message show ${stop.mo.reply}\\)$`, 'm'), shown.stderr)

  t.equal((await api.call('POST', '/api/v1/simulator/mo', { from: OTHER, to: '12345', text: 'HELP' })).status, 202)
  await until('the HELP reply refused', async () => ((await metric(engine, 'refused')) === 1 ? true : undefined))
  t.match(engine.output(), /"msg":"MO auto-reply not sent","route":"help".*"code":"SMSC_ERR_QUOTA_EXCEEDED"/, 'a HELP answer is an ordinary send: over the quota, not sent')
  const helpId = await moOf(OTHER)
  await until("the HELP's lookup says why no reply went", async () => {
    const v = await api.ok<{ mo: { replyNot?: string } }>('GET', `/api/v1/messages/${helpId}`)
    return v.mo.replyNot === 'SMSC_ERR_QUOTA_EXCEEDED' ? true : undefined
  })
  t.pass("the HELP's lookup: replyNot SMSC_ERR_QUOTA_EXCEEDED")
})
