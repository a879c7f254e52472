/**
 * The message lifecycle with the engine in-process (createSmsc) on a fake clock (`extra.now`: real
 * time plus a skew the test moves forward) and a temp dataDir, seen by an ESME on the npm `smpp`
 * client: schedule_delivery_time holds a message until the clock passes it, also across a restart
 * (stopped, started again on the same dataDir with the clock advanced); validity_period shorter
 * than the carrier's delay gives EXPIRED; a message routed to a connector that is down (an SMPP
 * connector to a closed port) gets EXPIRED at its validity, also across a restart; an HTTP
 * provider answering 503 twice then 200 is retried to DELIVRD (3 requests); a 400 answer gives a
 * REJECTD receipt carrying err 400 (text err: and network_error_code); a message that ended more than
 * store.retentionHours ago is purged (query_sm fails) while one still in flight stays.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createSmsc, type Smsc } from '../../engine/index'
import type { Options } from '../../engine/config'
import { httpCall } from '../helpers/engine'
import { freePorts, type TestLike } from '../helpers/engine'
import { Esme, gsm, isReceipt, messageText, parseReceipt, receiptFor, type Pdu } from '../helpers/esme'
import { sleep, startSink, type Sink } from '../helpers/lifecycle'

const MIN = 60_000
const HOUR = 60 * MIN
/** The simulated carrier takes one (fake) minute to deliver. */
const CARRIER_DELAY = MIN

/** Real time plus a skew the test moves forward; one clock for every engine of a test. */
class Clock {
  skew = 0
  readonly now = () => Date.now() + this.skew
  /** Moves the clock so that it reads `at` now. */
  set(at: number) { this.skew += at - this.now() }
}

/** SMPP 3.4 §7.1.2 relative time YYMMDDhhmmss000R. */
function relative(ms: number): string {
  let s = Math.round(ms / 1000)
  const hh = Math.floor(s / 3600); s -= hh * 3600
  const mm = Math.floor(s / 60); s -= mm * 60
  const p = (n: number) => String(n).padStart(2, '0')
  return `000000${p(hh)}${p(mm)}${p(s)}000R`
}

interface World { dataDir: string; clock: Clock; deadPort: number; flaky: Sink; refuse: Sink }

async function world(t: TestLike): Promise<World> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-lifecycle-'))
  t.teardown(() => { if (t.passing()) fs.rmSync(dataDir, { recursive: true, force: true }) })
  const [deadPort] = await freePorts(1) // nothing listens there
  return { dataDir, clock: new Clock(), deadPort, flaky: await startSink(t), refuse: await startSink(t) }
}

/** An engine on the world's dataDir and clock; stopped in t's teardown (stop() is idempotent). */
async function engine(t: TestLike, w: World, extra: Partial<Options> = {}): Promise<Smsc> {
  const smsc = await createSmsc({
    ...extra,
    dataDir: w.dataDir,
    smpp: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'esme1', password: 'secret1' }],
    simulator: { deliveryDelayMs: [CARRIER_DELAY, CARRIER_DELAY], outcomes: { DELIVRD: 1 } },
    // the clock jumps by hours: no session timer may fire because of that
    timers: { enquireLinkMs: 0, inactivityMs: 0, responseMs: 24 * HOUR },
    connectors: [
      { id: 'dead', kind: 'smpp', host: '127.0.0.1', port: w.deadPort, systemId: 'x', password: 'x', reconnectMs: [100, 1000], responseMs: 1000 },
      { id: 'flaky', kind: 'http', url: w.flaky.url, timeoutMs: 5000 },
      { id: 'refuse', kind: 'http', url: w.refuse.url, timeoutMs: 5000 },
    ],
    routes: {
      mt: [
        { name: 'dead', match: { destPrefix: ['31'] }, action: { connector: 'dead' } },
        { name: 'flaky', match: { destPrefix: ['49'] }, action: { connector: 'flaky' } },
        { name: 'refuse', match: { destPrefix: ['48'] }, action: { connector: 'refuse' } },
        { name: 'carrier', match: {}, action: { connector: 'simulator' } },
      ],
      mo: [],
    },
    dispatch: { retryMs: [100, 1000] },
  }, { now: w.clock.now, log: () => {} })
  t.teardown(() => smsc.stop())
  return smsc
}

async function bind(t: TestLike, smsc: Smsc): Promise<Esme> {
  const esme = await Esme.connect({ port: smsc.ports.smpp })
  t.teardown(() => esme.close())
  const r = await esme.bind('transceiver', { systemId: 'esme1', password: 'secret1' })
  if (r.command_status !== 0) throw new Error(`bind failed: 0x${r.command_status.toString(16)}`)
  return esme
}

async function submit(esme: Esme, to: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await esme.submit({ source_addr: '447700900001', destination_addr: to, short_message: gsm('lifecycle'), data_coding: 0, registered_delivery: 1, ...extra })
  if (r.command_status !== 0 || !r.message_id) throw new Error(`submit to ${to} refused: 0x${r.command_status.toString(16)}`)
  return r.message_id
}

/** Final receipts for `id` received so far. */
const receipts = (esme: Esme, id: string): Pdu[] => esme.delivered.filter((p) => isReceipt(p) && p.receipted_message_id === id)
const statOf = (p: Pdu) => parseReceipt(messageText(p))?.stat

/** Lets the engine run (its 20 ms ticks) for `ms` of real time. */
const run = (ms = 400) => sleep(ms)

t.test('schedule_delivery_time: held until the clock passes it, then delivered', async (t) => {
  const w = await world(t)
  const smsc = await engine(t, w)
  const esme = await bind(t, smsc)
  const t0 = w.clock.now()
  const id = await submit(esme, '447700900010', { schedule_delivery_time: relative(HOUR) })
  const q = await esme.request('query_sm', { message_id: id, source_addr: '447700900001' })
  t.equal(q.message_state, 0, 'query_sm: SCHEDULED, not final (node-smpp binds as SMPP 5.0, whose message_state 0 is SCHEDULED)')
  t.equal(q.final_date, '', 'no final_date')
  await run()
  w.clock.set(t0 + HOUR - 5000)
  await run()
  t.same(receipts(esme, id), [], 'nothing 5 s before schedule_delivery_time')
  w.clock.set(t0 + HOUR + 1000)
  await run()
  t.same(receipts(esme, id), [], 'due and handed to the carrier, which takes a minute')
  w.clock.set(t0 + HOUR + 1000 + CARRIER_DELAY + 1000)
  const r = await esme.waitFor(receiptFor(id), 5000)
  t.equal(statOf(r), 'DELIVRD', 'DELIVRD once the clock passed schedule + carrier delay')
  await run()
  t.equal(receipts(esme, id).length, 1, 'exactly one receipt')
})

t.test('schedule_delivery_time survives a restart', async (t) => {
  const w = await world(t)
  let smsc = await engine(t, w)
  let esme = await bind(t, smsc)
  const t0 = w.clock.now()
  const one = await submit(esme, '447700900011', { schedule_delivery_time: relative(HOUR) })
  const two = await submit(esme, '447700900012', { schedule_delivery_time: relative(2 * HOUR) })
  await esme.close()
  await smsc.stop()

  // stopped for 90 minutes: the first one became due meanwhile, the second not yet
  w.clock.set(t0 + 90 * MIN)
  smsc = await engine(t, w)
  esme = await bind(t, smsc)
  await run()
  t.same(receipts(esme, one), [], 'the carrier has it now (one minute)')
  w.clock.set(t0 + 90 * MIN + CARRIER_DELAY + 1000)
  t.equal(statOf(await esme.waitFor(receiptFor(one), 5000)), 'DELIVRD', 'the one that came due while stopped is delivered after the restart')
  t.same(receipts(esme, two), [], 'the other still waits')
  w.clock.set(t0 + 2 * HOUR - 5000)
  await run()
  t.same(receipts(esme, two), [], 'not before its schedule')
  w.clock.set(t0 + 2 * HOUR + 1000)
  await run()
  w.clock.set(t0 + 2 * HOUR + 1000 + CARRIER_DELAY + 1000)
  t.equal(statOf(await esme.waitFor(receiptFor(two), 5000)), 'DELIVRD', 'delivered once the clock passes its schedule')
  await run()
  t.equal(receipts(esme, one).length + receipts(esme, two).length, 2, 'one receipt each')
})

t.test('validity_period shorter than the carrier\'s delay gives EXPIRED at the validity', async (t) => {
  const w = await world(t)
  const smsc = await engine(t, w)
  const esme = await bind(t, smsc)
  const t0 = w.clock.now()
  const id = await submit(esme, '447700900013', { validity_period: relative(30_000) })
  await run()
  w.clock.set(t0 + 25_000)
  await run()
  t.same(receipts(esme, id), [], 'nothing before its validity')
  w.clock.set(t0 + 31_000)
  const r = await esme.waitFor(receiptFor(id), 5000)
  t.equal(statOf(r), 'EXPIRED', 'EXPIRED')
  t.equal(r.message_state, 3, 'message_state EXPIRED (3)')
  w.clock.set(t0 + CARRIER_DELAY + 5000)
  await run()
  t.equal(receipts(esme, id).length, 1, 'and no DELIVRD after it')
})

t.test('a connector that is down: EXPIRED at the validity, also across a restart', async (t) => {
  const w = await world(t)
  let smsc = await engine(t, w)
  let esme = await bind(t, smsc)
  const t0 = w.clock.now()
  const id = await submit(esme, '31612345001', { validity_period: relative(10 * MIN) })
  t.ok(id, 'accepted although its only connector is down (it may come up before the validity)')
  await run(1500) // a few back-offs
  w.clock.set(t0 + 9 * MIN)
  await run()
  t.same(receipts(esme, id), [], 'no receipt before its validity')
  w.clock.set(t0 + 10 * MIN + 2000)
  const r = await esme.waitFor(receiptFor(id), 5000)
  t.equal(statOf(r), 'EXPIRED', 'EXPIRED at its validity')

  // the same message situation, with the engine stopped over the expiry
  const t1 = w.clock.now()
  const later = await submit(esme, '31612345002', { validity_period: relative(10 * MIN) })
  await run(500)
  await esme.close()
  await smsc.stop()
  w.clock.set(t1 + 10 * MIN + 2000)
  smsc = await engine(t, w)
  esme = await bind(t, smsc)
  const r2 = await esme.waitFor(receiptFor(later), 5000)
  t.equal(statOf(r2), 'EXPIRED', 'EXPIRED after the restart')
  await run()
  t.equal(receipts(esme, later).length, 1, 'once')
  t.same(receipts(esme, id), [], 'the first one\'s receipt was acknowledged before the restart: not sent again')
})

t.test('retries: an HTTP provider answering 503 twice, then 200, gets the message delivered', async (t) => {
  const w = await world(t)
  const smsc = await engine(t, w)
  const esme = await bind(t, smsc)
  w.flaky.answer = (_p, n) => (n <= 2 ? 503 : 200)
  const id = await submit(esme, '4915100000001')
  const r = await esme.waitFor(receiptFor(id), 10_000)
  t.equal(statOf(r), 'DELIVRD', 'DELIVRD after the retries')
  t.equal(w.flaky.posted.filter((p) => p.id === id).length, 3, 'the provider saw 3 requests')
  await run()
  t.equal(receipts(esme, id).length, 1, 'one receipt, not one per attempt')
})

t.test('a permanent refusal: HTTP 400 gives REJECTD carrying err 400', async (t) => {
  const w = await world(t)
  const smsc = await engine(t, w)
  const esme = await bind(t, smsc)
  w.refuse.answer = () => 400
  const id = await submit(esme, '48600000001')
  const r = await esme.waitFor(receiptFor(id), 10_000)
  const parsed = parseReceipt(messageText(r))
  t.equal(parsed?.stat, 'REJECTD', 'REJECTD')
  t.equal(parsed?.err, '400', 'err:400 in the receipt text')
  t.equal(r.message_state, 8, 'message_state REJECTED (8)')
  t.same(r.network_error_code && [...(r.network_error_code as Buffer)], [3, 0x01, 0x90], 'network_error_code: GSM, 400')
  await run(1500)
  t.equal(w.refuse.posted.filter((p) => p.id === id).length, 1, 'not retried')
})

t.test('retention: a message that ended more than store.retentionHours ago leaves the store; one in flight stays', async (t) => {
  const w = await world(t)
  const smsc = await engine(t, w, { store: { retentionHours: 1 } })
  const esme = await bind(t, smsc)
  const t0 = w.clock.now()
  const done = await submit(esme, '447700900020')
  const held = await submit(esme, '447700900021', { schedule_delivery_time: relative(3 * HOUR) })
  w.clock.set(t0 + CARRIER_DELAY + 1000)
  await esme.waitFor(receiptFor(done), 5000)
  const endedAt = w.clock.now()
  const query = (id: string) => esme.request('query_sm', { message_id: id, source_addr: '447700900001' })
  w.clock.set(endedAt + HOUR - MIN)
  await run(1500) // the purge runs every second
  const before = await query(done)
  t.equal(before.command_status, 0, 'found 59 minutes after it ended')
  t.equal(before.message_state, 2, 'DELIVERED')
  w.clock.set(endedAt + HOUR + MIN)
  await run(1500)
  t.equal((await query(done)).command_status, 0x67, 'ESME_RQUERYFAIL 61 minutes after it ended: purged')
  t.equal((await query(held)).command_status, 0, 'the scheduled message (not final) stays')
  const metrics = await httpCall(smsc.ports.http, 'GET', '/metrics')
  t.match(String(metrics.body), /^smsc_messages_purged_total 1$/m, '/metrics counts it')
})
