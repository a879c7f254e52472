/**
 * Per-account policy end to end (issue #5), each setting given in the config file's `accounts` entry
 * and observed over SMPP and the admin API:
 * - rateLimit { perSecond, burst }: one token bucket per account shared by all its binds; over it
 *   ESME_RTHROTTLED (0x58), the session stays up, and a throttled PDU succeeds when resubmitted later;
 * - dailyQuota: message parts per UTC day (each part of a UDH long message counts), then SMSC_RQUOTA
 *   (0x402), also after a restart;
 * - allowedSources (exact ids and '*' prefixes) → ESME_RINVSRCADR (0x0A); allowedIps (CIDR) and
 *   suspended (config or POST /api/v1/accounts/:id/suspend, which also unbinds live binds) and maxBinds
 *   → ESME_RBINDFAIL (0x0D) on bind;
 * - messageIdFormat 'hex' for one account only; validity { defaultMs, maxMs } (a validity_period beyond
 *   maxMs is clamped: EXPIRED receipt at maxMs);
 * - receiptPolicy for long messages: 'every', 'last' (the last part's receipt only), 'aggregate' (one
 *   receipt carrying the first part's id, with the stat of a failed part if any);
 * - global overload: over overload.highWater messages waiting for a connector, submits get
 *   ESME_RMSGQFUL (0x14) until the backlog drains below lowWater; SMPP 5.0 binds get congestion_state.
 */
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { freePorts } from '../helpers/engine'
import { HEX_ID_BASE } from '../../engine/store'
import { Esme, MessageState, gsm, gsmConcatParts, isReceipt, messageText, openEsme, parseReceipt, receiptFor, type Pdu } from '../helpers/esme'
import { startUpstream } from '../helpers/upstream'
import { AdminApi, PolicyStatus as P, hex, sleep, startPolicyEngine, statusCounts, ucs2ConcatParts, until } from '../helpers/policy'

const SRC = '12345'
const DEST = '4915112345678'
/** 150 UCS2 characters: 3 parts of at most 67 */
const LONG_UCS2 = 'Привет, мир! Это длинное сообщение. '.repeat(5).slice(0, 150)

/** Submits the parts of one long message in order on `esme` (UDHI, UCS2); the responses. */
async function submitUcs2Long(esme: Esme, ref: number, extra: Record<string, unknown> = {}): Promise<Pdu[]> {
  const parts = ucs2ConcatParts(LONG_UCS2, ref)
  if (parts.length !== 3) throw new Error(`expected 3 parts, got ${parts.length}`)
  const out: Pdu[] = []
  for (const sm of parts) out.push(await esme.submit({ source_addr: SRC, destination_addr: DEST, esm_class: 0x40, data_coding: 8, short_message: sm, ...extra }))
  return out
}

const okIds = (resps: Pdu[]): string[] => {
  const bad = resps.filter((r) => r.command_status !== 0)
  if (bad.length > 0) throw new Error(`submit refused: ${bad.map((r) => hex(r.command_status)).join(', ')}`)
  return resps.map((r) => r.message_id ?? '')
}

/** A marker message's receipt plus `ms`: receipts that were coming for earlier messages are in by then. */
async function quietAfterMarker(esme: Esme, ms: number): Promise<void> {
  const r = await esme.submit({ source_addr: SRC, destination_addr: DEST, short_message: gsm('marker'), registered_delivery: 1 })
  await esme.waitFor(receiptFor(r.message_id ?? ''), 10_000)
  await sleep(ms)
}

t.test('account policy on a fast carrier', async (t) => {
  const engine = await startPolicyEngine(t, {
    accounts: [
      { systemId: 'rate', password: 'secret1', rateLimit: { perSecond: 200, burst: 50 } },
      { systemId: 'quota', password: 'secret1', dailyQuota: 20 },
      { systemId: 'src', password: 'secret1', allowedSources: ['ACME', '4477*'] },
      { systemId: 'ipdeny', password: 'secret1', allowedIps: ['10.0.0.0/8'] },
      { systemId: 'ipallow', password: 'secret1', allowedIps: ['10.0.0.0/8', '127.0.0.0/8'] },
      { systemId: 'frozen', password: 'secret1', suspended: true },
      { systemId: 'live', password: 'secret1' },
      { systemId: 'two', password: 'secret1', maxBinds: 2 },
      { systemId: 'race', password: 'secret1', maxBinds: 2 },
      { systemId: 'retune', password: 'secret1' },
      { systemId: 'win', password: 'secret1', windowSize: 3 },
      { systemId: 'hexid', password: 'secret1', messageIdFormat: 'hex' },
      { systemId: 'decid', password: 'secret1' },
      { systemId: 'every', password: 'secret1' },
      { systemId: 'last', password: 'secret1', receiptPolicy: 'last' },
      { systemId: 'agg', password: 'secret1', receiptPolicy: 'aggregate' },
    ],
  })
  const bind = (systemId: string, kind: 'transmitter' | 'transceiver' = 'transceiver') => openEsme(t, { port: engine.smppPort, systemId, password: 'secret1', kind })
  /** A bind attempt's status (the connection is closed afterwards). */
  const bindStatus = async (systemId: string): Promise<number> => {
    const esme = await Esme.connect({ port: engine.smppPort })
    try {
      return (await esme.bind('transceiver', { systemId, password: 'secret1' })).command_status
    } finally {
      await esme.close()
    }
  }

  t.test('three binds of one account together stay within burst + rate × time', async (t) => {
    const binds = await Promise.all([bind('rate', 'transmitter'), bind('rate', 'transmitter'), bind('rate', 'transmitter')])
    const RATE = 200
    const BURST = 50
    let accepted = 0
    const other: number[] = []
    const throttled: Record<string, unknown>[] = []
    let n = 0
    const start = performance.now()
    const stopAt = start + 3000
    // 10 submits outstanding per bind (the window is 100, so no 0x58 comes from the window)
    await Promise.all(binds.flatMap((esme) => Array.from({ length: 10 }, async () => {
      while (performance.now() < stopAt) {
        const params = { source_addr: SRC, destination_addr: DEST, short_message: gsm(`rate ${n++}`) }
        const r = await esme.submit(params)
        if (r.command_status === 0) accepted++
        else if (r.command_status === P.ESME_RTHROTTLED) throttled.push(params)
        else other.push(r.command_status)
      }
    })))
    const elapsed = (performance.now() - start) / 1000
    const ceiling = BURST + RATE * elapsed
    t.comment(`${accepted} accepted, ${throttled.length} throttled in ${elapsed.toFixed(2)} s (ceiling ${ceiling.toFixed(0)})`)
    t.same(other.map(hex), [], 'no status other than 0 and 0x58')
    t.ok(accepted <= ceiling + 5, `accepted ${accepted} <= burst + rate × elapsed = ${ceiling.toFixed(1)} (+5)`)
    t.ok(accepted >= RATE * elapsed * 0.5, `accepted ${accepted} is at least half the rate × elapsed (the bucket refills)`)
    t.ok(throttled.length > 0, `some submits got ESME_RTHROTTLED (${throttled.length})`)
    for (const esme of binds) {
      t.notOk(esme.closed, 'bind still open after 0x58')
      t.equal((await esme.request('enquire_link')).command_status, 0, 'enquire_link answered')
    }
    await sleep(500) // 100 tokens back
    const again = await binds[0].submit(throttled[0])
    t.equal(again.command_status, 0, 'a throttled PDU resubmitted after a pause is accepted')
  })

  const utcDay = (): number => Math.floor(Date.now() / 86_400_000)
  let quotaDay = -1 // the UTC day the quota was used up (it resets at 00:00 UTC)
  t.test('dailyQuota 20: parts count, the 21st part gets SMSC_RQUOTA', async (t) => {
    const esme = await bind('quota', 'transmitter')
    const singles = await esme.submitMany(Array.from({ length: 17 }, (_, k) => ({ source_addr: SRC, destination_addr: DEST, short_message: gsm(`quota ${k}`) })), 1)
    t.same(statusCounts(singles), { '0x00': 17 }, '17 single messages accepted')
    const long = await submitUcs2Long(esme, 0x21)
    t.same(long.map((r) => hex(r.command_status)), ['0x00', '0x00', '0x00'], 'a 3-part UCS2 message takes parts 18..20')
    const over = await esme.submit({ source_addr: SRC, destination_addr: DEST, short_message: gsm('over quota') })
    t.equal(hex(over.command_status), hex(P.SMSC_RQUOTA), 'the 21st part is refused with SMSC_RQUOTA (0x402)')
    quotaDay = utcDay()
    t.notOk(esme.closed, 'the bind stays up')
  })

  t.test('allowedSources: exact ids and prefixes pass, other sender ids get ESME_RINVSRCADR', async (t) => {
    const esme = await bind('src', 'transmitter')
    const cases: [string, number, number][] = [
      ['ACME', 5, 0],
      ['447712345678', 1, 0],
      ['4477', 1, 0],
      ['OTHER', 5, P.ESME_RINVSRCADR],
      ['ACMEX', 5, P.ESME_RINVSRCADR],
      ['447812345678', 1, P.ESME_RINVSRCADR],
      ['12345', 1, P.ESME_RINVSRCADR],
    ]
    for (const [source, ton, want] of cases) {
      const r = await esme.submit({ source_addr: source, source_addr_ton: ton, destination_addr: DEST, short_message: gsm('from ' + source) })
      t.equal(hex(r.command_status), hex(want), `source_addr ${source} → ${hex(want)}`)
    }
    t.notOk(esme.closed, 'the bind stays up')
  })

  t.test('allowedIps: a bind from outside the CIDR blocks gets ESME_RBINDFAIL', async (t) => {
    t.equal(hex(await bindStatus('ipdeny')), hex(P.ESME_RBINDFAIL), 'only 10.0.0.0/8 allowed: 127.0.0.1 refused')
    t.equal(hex(await bindStatus('ipallow')), '0x00', '127.0.0.0/8 allowed: bound')
  })

  t.test('a suspended account cannot bind; suspending unbinds it; resuming lets it bind', async (t) => {
    t.equal(hex(await bindStatus('frozen')), hex(P.ESME_RBINDFAIL), 'suspended: true in the config → 0x0D')
    const api = await AdminApi.login(engine)
    const esme = await bind('live')
    const view = await api.suspend('live')
    t.equal(view.suspended, true, 'the API answers suspended')
    await esme.waitClosed(10_000)
    t.ok(esme.received.some((p) => p.command === 'unbind'), 'the engine sent unbind to the live bind')
    t.equal(hex(await bindStatus('live')), hex(P.ESME_RBINDFAIL), 'binding again is refused with 0x0D')
    await api.resume('live')
    t.equal(hex(await bindStatus('live')), '0x00', 'resumed: binds again')
  })

  t.test('maxBinds 2: the third concurrent bind gets ESME_RBINDFAIL', async (t) => {
    const a = await bind('two')
    await bind('two')
    t.equal(hex(await bindStatus('two')), hex(P.ESME_RBINDFAIL), 'third bind refused')
    await a.unbind()
    const status = await until('a bind slot to free up', async () => ((await bindStatus('two')) === 0 ? 0 : undefined), 5000)
    t.equal(status, 0, 'after one unbinds, a bind succeeds again')
  })

  t.test('maxBinds 2: six simultaneous bind attempts give exactly two binds', async (t) => {
    const conns = await Promise.all(Array.from({ length: 6 }, () => Esme.connect({ port: engine.smppPort })))
    t.teardown(() => Promise.all(conns.map((c) => c.close())))
    const statuses = await Promise.all(conns.map(async (c) => (await c.bind('transceiver', { systemId: 'race', password: 'secret1' })).command_status))
    t.same(statuses.map(hex).sort(), ['0x00', '0x00', hex(P.ESME_RBINDFAIL), hex(P.ESME_RBINDFAIL), hex(P.ESME_RBINDFAIL), hex(P.ESME_RBINDFAIL)].sort(),
      `two bound, four refused (got ${statuses.map(hex).join(' ')})`)
  })

  t.test('a rate limit set or removed through the API applies to a bind already open', async (t) => {
    const api = await AdminApi.login(engine)
    const esme = await bind('retune', 'transmitter')
    const burst = async (n: number) => {
      const start = performance.now()
      const resps = await esme.submitMany(Array.from({ length: n }, (_, k) => ({ source_addr: SRC, destination_addr: DEST, short_message: gsm(`retune ${k}`) })), 10)
      return { counts: statusCounts(resps), elapsed: (performance.now() - start) / 1000 }
    }
    t.same((await burst(40)).counts, { '0x00': 40 }, 'no limit: 40 of 40 accepted')
    await api.ok('PATCH', '/api/v1/accounts/retune', { rateLimit: { perSecond: 5, burst: 5 } })
    const limited = await burst(40)
    const ok = limited.counts['0x00'] ?? 0
    t.ok(ok <= 5 + 5 * limited.elapsed + 1, `limit 5/s burst 5: ${ok} accepted in ${limited.elapsed.toFixed(2)} s`)
    t.ok((limited.counts[hex(P.ESME_RTHROTTLED)] ?? 0) > 0, 'the rest throttled')
    await api.ok('PATCH', '/api/v1/accounts/retune', { rateLimit: null })
    t.same((await burst(40)).counts, { '0x00': 40 }, 'limit removed: 40 of 40 accepted')
  })

  t.test('windowSize 3: a fourth outstanding submit gets ESME_RTHROTTLED, within the window all pass', async (t) => {
    const esme = await bind('win', 'transmitter')
    const msgs = (n: number) => Array.from({ length: n }, (_, k) => ({ source_addr: SRC, destination_addr: DEST, short_message: gsm(`window ${k}`) }))
    t.same(statusCounts(await esme.submitMany(msgs(30), 3)), { '0x00': 30 }, '3 outstanding at a time: 30 of 30 accepted')
    const burst = statusCounts(await esme.submitMany(msgs(30), 30))
    t.ok((burst[hex(P.ESME_RTHROTTLED)] ?? 0) > 0 && (burst['0x00'] ?? 0) >= 3, `30 outstanding at once: some over the window throttled (${JSON.stringify(burst)})`)
    t.notOk(esme.closed, 'the bind stays up')
  })

  t.test("messageIdFormat 'hex' gives hex ids to that account only", async (t) => {
    const hexEsme = await bind('hexid')
    const decEsme = await bind('decid')
    const hexIds = okIds(await hexEsme.submitMany(Array.from({ length: 16 }, (_, k) => ({ source_addr: SRC, destination_addr: DEST, short_message: gsm(`hex ${k}`), registered_delivery: 1 })), 1))
    t.ok(hexIds.every((id) => /^[0-9a-f]+$/.test(id)), `hex ids: ${hexIds.join(' ')}`)
    t.ok(hexIds.every((id) => /^[a-f]/.test(id)), 'each starts with a letter: no hex id is also a decimal id')
    const values = hexIds.map((id) => parseInt(id, 16) - HEX_ID_BASE)
    t.ok(values.every((v, i) => i === 0 || v > values[i - 1]), 'hex ids increase as base-16 numbers')
    const decIds = okIds(await decEsme.submitMany(Array.from({ length: 3 }, (_, k) => ({ source_addr: SRC, destination_addr: DEST, short_message: gsm(`dec ${k}`) })), 1))
    t.ok(decIds.every((id) => /^\d+$/.test(id)), `the other account keeps decimal ids: ${decIds.join(' ')}`)
    t.ok(parseInt(decIds[0], 10) > values[values.length - 1], 'one id sequence: the decimal ids continue after the hex ones')
    const receipt = await hexEsme.waitFor(receiptFor(hexIds[15]), 10_000)
    t.equal(parseReceipt(messageText(receipt))?.id, hexIds[15], 'the receipt text carries the hex id')
    const q = await hexEsme.request('query_sm', { message_id: hexIds[15], source_addr: SRC })
    t.equal(q.command_status, 0, 'query_sm finds the message by its hex id')
    const api = await AdminApi.login(engine)
    const withLetter = hexIds.find((id) => /[a-f]/.test(id.slice(1).replace(/^0+/, '')))!
    const short = withLetter.slice(1).replace(/^0+/, '')
    const found = await api.call('GET', `/api/v1/messages/${short.toUpperCase()}`)
    t.equal((found.json as { id?: string }).id, withLetter, `the console lookup finds ${withLetter} as ${short.toUpperCase()}`)
    const digitsOnly = String(values[0])
    const decLookup = await api.call('GET', `/api/v1/messages/${digitsOnly}`)
    t.not((decLookup.json as { id?: string }).id, hexIds[0], 'a short form without a letter is a decimal id, never a hex one')
  })

  t.test("receiptPolicy 'every' (default): a receipt per part", async (t) => {
    const esme = await bind('every')
    const ids = okIds(await submitUcs2Long(esme, 0x31, { registered_delivery: 1 }))
    const got = await Promise.all(ids.map((id) => esme.waitFor(receiptFor(id), 10_000)))
    t.equal(got.length, 3, 'three receipts')
  })

  t.test("receiptPolicy 'last': one receipt, for the last part", async (t) => {
    const esme = await bind('last')
    const ids = okIds(await submitUcs2Long(esme, 0x32, { registered_delivery: 1 }))
    const r = await esme.waitFor(receiptFor(ids[2]), 10_000)
    t.equal(parseReceipt(messageText(r))?.stat, 'DELIVRD')
    await quietAfterMarker(esme, 300)
    const forParts = esme.delivered.filter((p) => isReceipt(p) && ids.includes(p.receipted_message_id ?? ''))
    t.same(forParts.map((p) => p.receipted_message_id), [ids[2]], 'exactly one receipt, for the last part')
  })

  t.test("receiptPolicy 'aggregate': one receipt with the first part's id, DELIVRD when all are", async (t) => {
    const esme = await bind('agg')
    const ids = okIds(await submitUcs2Long(esme, 0x33, { registered_delivery: 1 }))
    const r = await esme.waitFor(receiptFor(ids[0]), 10_000)
    t.equal(r.message_state, MessageState.DELIVERED, 'message_state DELIVERED')
    t.match(parseReceipt(messageText(r)), { id: ids[0], stat: 'DELIVRD' }, 'receipt text: first part id, DELIVRD')
    await quietAfterMarker(esme, 300)
    const forParts = esme.delivered.filter((p) => isReceipt(p) && ids.includes(p.receipted_message_id ?? ''))
    t.same(forParts.map((p) => p.receipted_message_id), [ids[0]], 'exactly one receipt for the 3 parts')
  })

  t.test('the used daily quota survives a restart', async (t) => {
    await engine.restart()
    const esme = await bind('quota', 'transmitter')
    const r = await esme.submit({ source_addr: SRC, destination_addr: DEST, short_message: gsm('after restart') })
    if (utcDay() === quotaDay) t.equal(hex(r.command_status), hex(P.SMSC_RQUOTA), 'still SMSC_RQUOTA after the restart')
    else t.equal(hex(r.command_status), '0x00', 'the run crossed 00:00 UTC: a new day, a fresh quota')
  })
})

t.test('validity per account and aggregate receipts with a failed part (slow carrier)', async (t) => {
  const DELAY = 3000
  const engine = await startPolicyEngine(t, {
    accounts: [
      { systemId: 'val', password: 'secret1', validity: { defaultMs: 1000, maxMs: 2000 } },
      { systemId: 'plain', password: 'secret1' },
      { systemId: 'aggx', password: 'secret1', receiptPolicy: 'aggregate' },
      { systemId: 'aggf', password: 'secret1', receiptPolicy: 'aggregate' },
    ],
    simulator: { deliveryDelayMs: [DELAY, DELAY], outcomes: { DELIVRD: 1 } },
  })
  const bind = (systemId: string) => openEsme(t, { port: engine.smppPort, systemId, password: 'secret1', kind: 'transceiver' })
  const ONE_HOUR = '000000010000000R' // SMPP 3.4 §7.1.1 relative time: 1 hour
  const ONE_SECOND = '000000000001000R'

  t.test('a validity_period beyond maxMs is clamped: EXPIRED at maxMs; none given: EXPIRED at defaultMs', async (t) => {
    const esme = await bind('val')
    const plain = await bind('plain')
    const t0 = Date.now()
    const [clamped] = okIds([await esme.submit({ source_addr: SRC, destination_addr: DEST, short_message: gsm('1 h asked'), registered_delivery: 1, validity_period: ONE_HOUR })])
    const [byDefault] = okIds([await esme.submit({ source_addr: SRC, destination_addr: DEST, short_message: gsm('default'), registered_delivery: 1 })])
    const [other] = okIds([await plain.submit({ source_addr: SRC, destination_addr: DEST, short_message: gsm('1 h, other account'), registered_delivery: 1, validity_period: ONE_HOUR })])
    const rDefault = await esme.waitFor(receiptFor(byDefault), 10_000)
    const tDefault = Date.now() - t0
    const rClamped = await esme.waitFor(receiptFor(clamped), 10_000)
    const tClamped = Date.now() - t0
    t.equal(parseReceipt(messageText(rDefault))?.stat, 'EXPIRED', 'no validity_period: EXPIRED (defaultMs 1000 < carrier delay)')
    t.equal(rDefault.message_state, MessageState.EXPIRED)
    t.ok(tDefault >= 900, `default expiry not before defaultMs (${tDefault} ms)`)
    t.equal(parseReceipt(messageText(rClamped))?.stat, 'EXPIRED', '1 h asked, clamped to maxMs 2000 < carrier delay: EXPIRED')
    t.ok(tClamped >= 1900, `clamped expiry not before maxMs (${tClamped} ms)`)
    const rOther = await plain.waitFor(receiptFor(other), 10_000)
    t.equal(parseReceipt(messageText(rOther))?.stat, 'DELIVRD', 'the same 1 h validity on an account with default limits: DELIVRD')
  })

  /** A 4-part GSM message whose part 2 expires after 1 s while the carrier holds the others for 3 s. */
  const submitWithFailingPart = async (esme: Esme, ref: number, registeredDelivery: number): Promise<string[]> => {
    const parts = gsmConcatParts('Aggregate receipt test. '.repeat(20), ref)
    if (parts.length !== 4) throw new Error(`expected 4 GSM parts, got ${parts.length}`)
    const ids: string[] = []
    for (let i = 0; i < parts.length; i++) {
      const extra = i === 1 ? { validity_period: ONE_SECOND } : {}
      ids.push(...okIds([await esme.submit({ source_addr: SRC, destination_addr: DEST, esm_class: 0x40, data_coding: 0, short_message: parts[i], registered_delivery: registeredDelivery, ...extra })]))
    }
    return ids
  }

  t.test("receiptPolicy 'aggregate' with registered_delivery 2 (failure only): the failure receipt comes", async (t) => {
    const esme = await bind('aggf')
    const ids = await submitWithFailingPart(esme, 0x45, 2)
    const r = await esme.waitFor(receiptFor(ids[0]), DELAY + 3000)
    t.match(parseReceipt(messageText(r)), { id: ids[0], stat: 'EXPIRED' }, 'one EXPIRED receipt for the whole message')
  })

  t.test("receiptPolicy 'aggregate' with a part that fails: one receipt with the failed part's stat", async (t) => {
    const esme = await bind('aggx')
    const ids = await submitWithFailingPart(esme, 0x44, 1)
    const r = await esme.waitFor(receiptFor(ids[0]), 10_000)
    t.match(parseReceipt(messageText(r)), { id: ids[0], stat: 'EXPIRED' }, "the aggregate receipt carries the first part's id and the failed part's stat")
    t.equal(r.message_state, MessageState.EXPIRED)
    await sleep(300)
    const forParts = esme.delivered.filter((p) => isReceipt(p) && ids.includes(p.receipted_message_id ?? ''))
    t.equal(forParts.length, 1, 'exactly one receipt for the 4 parts')
  })
})

t.test('receipt policies when the carrier fails every part (UNDELIV)', async (t) => {
  const engine = await startPolicyEngine(t, {
    accounts: [
      { systemId: 'agg', password: 'secret1', receiptPolicy: 'aggregate' },
      { systemId: 'last', password: 'secret1', receiptPolicy: 'last' },
    ],
    simulator: { deliveryDelayMs: [20, 80], outcomes: { UNDELIV: 1 } },
  })
  for (const [systemId, which] of [['agg', 0], ['last', 2]] as const) {
    t.test(`${systemId}: one UNDELIV receipt`, async (t) => {
      const esme = await openEsme(t, { port: engine.smppPort, systemId, password: 'secret1', kind: 'transceiver' })
      const ids = okIds(await submitUcs2Long(esme, 0x50 + which, { registered_delivery: 1 }))
      const r = await esme.waitFor(receiptFor(ids[which]), 10_000)
      t.match(parseReceipt(messageText(r)), { id: ids[which], stat: 'UNDELIV' })
      t.equal(r.message_state, MessageState.UNDELIVERABLE)
      await quietAfterMarker(esme, 300)
      const forParts = esme.delivered.filter((p) => isReceipt(p) && ids.includes(p.receipted_message_id ?? ''))
      t.same(forParts.map((p) => p.receipted_message_id), [ids[which]], 'exactly one receipt')
    })
  }
})

t.test("an account's receiptPolicy wins over the engine default receipts.multipart", async (t) => {
  const engine = await startPolicyEngine(t, {
    accounts: [
      { systemId: 'explicit', password: 'secret1', receiptPolicy: 'every' },
      { systemId: 'inherits', password: 'secret1' },
    ],
    extra: { receipts: { multipart: 'last' } },
  })
  for (const [systemId, want] of [['explicit', [0, 1, 2]], ['inherits', [2]]] as const) {
    t.test(`${systemId}: receipts for parts ${want.map((i) => i + 1).join(', ')}`, async (t) => {
      const esme = await openEsme(t, { port: engine.smppPort, systemId, password: 'secret1', kind: 'transceiver' })
      const ids = okIds(await submitUcs2Long(esme, 0x60, { registered_delivery: 1 }))
      await esme.waitFor(receiptFor(ids[2]), 10_000)
      await quietAfterMarker(esme, 300)
      const forParts = esme.delivered.filter((p) => isReceipt(p) && ids.includes(p.receipted_message_id ?? ''))
      t.same(forParts.map((p) => p.receipted_message_id).sort(), want.map((i) => ids[i]).sort())
    })
  }
})

t.test('overload: over highWater waiting messages, submits get ESME_RMSGQFUL until the backlog drains', async (t) => {
  const [deadPort] = await freePorts(1)
  const engine = await startPolicyEngine(t, {
    accounts: [{ systemId: 'flood', password: 'secret1' }],
    extra: {
      overload: { highWater: 50, lowWater: 10 },
      connectors: [{ id: 'dead', kind: 'smpp', host: '127.0.0.1', port: deadPort, systemId: 'x', password: 'y', reconnectMs: [50, 200] }],
      routes: { mt: [{ name: 'all', match: {}, action: { connector: 'dead' } }], mo: [] },
      dispatch: { retryMs: [100, 300] },
    },
  })
  const v50 = await openEsme(t, { port: engine.smppPort, systemId: 'flood', password: 'secret1', kind: 'transmitter', bindParams: { interface_version: 0x50 } })
  // node-smpp binds as 5.0 unless told: this one says 3.4
  const v34 = await openEsme(t, { port: engine.smppPort, systemId: 'flood', password: 'secret1', kind: 'transmitter', bindParams: { interface_version: 0x34 } })
  const msg = (k: number) => ({ source_addr: SRC, destination_addr: DEST, short_message: gsm(`flood ${k}`) })

  const resps = await v50.submitMany(Array.from({ length: 80 }, (_, k) => msg(k)), 1)
  const firstRefused = resps.findIndex((r) => r.command_status !== 0)
  t.comment(`statuses: ${JSON.stringify(statusCounts(resps))}, first refusal at #${firstRefused}`)
  t.ok(firstRefused >= 50 && firstRefused <= 55, `about highWater (50) submits accepted before the first refusal (${firstRefused})`)
  t.same(resps.slice(firstRefused).map((r) => hex(r.command_status)).filter((s) => s !== hex(P.ESME_RMSGQFUL)), [], 'every submit after that gets ESME_RMSGQFUL (0x14)')
  t.notOk(v50.closed, 'the bind stays up')
  t.ok(resps.every((r) => typeof r.congestion_state === 'number'), 'every submit_sm_resp on the SMPP 5.0 bind carries congestion_state (0x0428)')
  t.ok((resps[0].congestion_state as number) < 10, `congestion_state low at first (${resps[0].congestion_state})`)
  t.ok((resps[resps.length - 1].congestion_state as number) >= 90, `congestion_state high when overloaded (${resps[resps.length - 1].congestion_state})`)
  const r34 = await v34.submit(msg(100))
  t.equal(hex(r34.command_status), hex(P.ESME_RMSGQFUL), 'a 3.4 bind gets 0x14 too')
  t.equal(r34.congestion_state, undefined, 'no congestion_state TLV on an SMPP 3.4 bind')
  const health = await engine.http('GET', '/healthz')
  t.match(health, { status: 200, json: { overloaded: true, status: 'degraded' } }, '/healthz says overloaded: degraded, still 200 (a supervisor must not restart a serving engine)')
  t.same((health.json as { problems: string[] }).problems, ['connector dead is down', 'overloaded: submits are refused with ESME_RMSGQFUL until the backlog drains'], 'and names what an alert should say')

  // The upstream comes up: the backlog drains, the engine says so, and submits are accepted again.
  await startUpstream(t, { port: deadPort })
  const drained = await until('backlog below lowWater on /healthz', async () => {
    const h = (await engine.http('GET', '/healthz')).json as { backlog: number; overloaded: boolean }
    return h.backlog < 10 ? h : undefined
  }, 20_000)
  await sleep(200)
  const healthy = (await engine.http('GET', '/healthz')).json as Record<string, unknown>
  t.match(healthy, { overloaded: false, status: 'ok' }, `/healthz no longer says overloaded once the backlog (${drained.backlog}) is below lowWater`)
  t.equal(healthy.problems, undefined, 'and lists no problem')
  const again = await until('a submit accepted after the drain', async () => {
    const r = await v50.submit(msg(200))
    return r.command_status === 0 ? r : undefined
  }, 20_000)
  t.equal(again.command_status, 0, 'accepted again once the backlog drained below lowWater')
  t.ok((again.congestion_state as number) < 50, `congestion_state back down (${again.congestion_state})`)
})
