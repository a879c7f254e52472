/**
 * kill -9 in the middle of traffic, through real connectors. One engine routes an ESME's submits to
 * three connectors: an upstream SMSC (node-smpp, test/helpers/upstream.ts) that sends its receipts
 * until they are acknowledged, an HTTP provider with receipts by callback that calls back until it
 * gets a 200, and a plain HTTP provider (a 2xx is DELIVRD, a 400 REJECTD). While a few thousand
 * submits go in, with submits, upstream submits, HTTP requests, callbacks and receipts (deliver_sm
 * the ESME answers late) all in flight, the engine is killed with SIGKILL three times, each in the tick
 * it has just promised something (a submit_sm_resp 0, the deliver_sm_resp to an upstream receipt, the
 * 200 to a callback), and started again on the same dataDir. Then everything settles, and from outside:
 * - every message the ESME got a submit_sm_resp 0 for is known (GET /api/v1/messages/:id), final,
 *   with the outcome its carrier gave (some are UNDELIV / REJECTD on purpose), and its final receipt
 *   reached the ESME with that outcome; a receipt comes twice only when a kill cut off its deliver_sm
 *   before the ESME's answer was stored (at least once), and never as a second receipt;
 * - every message the engine committed without answering (the kill came first) is final and has its
 *   receipt too; there are at most as many of them as submits that got no answer;
 * - the carriers may see a message twice (at least once towards upstreams), no more than their
 *   windows per kill, an HTTP provider under the same id;
 * - the prepaid account's credit is exact: the opening credit minus one per committed message plus
 *   one per refund (settlement "refund": UNDELIV, REJECTD), and its ledger says the same; submits
 *   refused (credit run out, a reject route) left no charge.
 */
import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { httpCall, startEngine, type TestLike } from '../helpers/engine'
import { Esme, gsm, isReceipt, messageText, parseReceipt, type Pdu } from '../helpers/esme'
import { startUpstream, type NodePdu, type NodeSession } from '../helpers/upstream'
import { AdminApi, ADMIN_PASSWORD, ledgerSum } from '../helpers/policy'
import { sleep, until } from '../helpers/lifecycle'

const TOKEN = 'crash-callback-secret-0123456'
const ACCOUNT = { systemId: 'load', password: 'secret1', windowSize: 50, credit: 0, settlement: 'refund' as const }
const N = 3000
const KILLS = 3
const WINDOW = 50 // the ESME's (both ways)
const UP_WINDOW = 20 // the upstream connector's
const HTTP_CONCURRENCY = 16 // an HTTP connector's (its default)

/** Which path a submit takes, by its index, and what its carrier makes of it. */
const PREFIX = ['4477', '3361', '4917'] as const // upstream SMSC, HTTP with callbacks, plain HTTP
const REJECT_PREFIX = '999' // a reject route: refused at submit, never charged
const destOf = (i: number) => (i % 53 === 52 ? REJECT_PREFIX : PREFIX[i % 3]) + String(i).padStart(8, '0')
const indexOf = (dest: string) => Number(dest.slice(-8))
/** every 7th message fails at its carrier: UNDELIV (upstream, callback) or REJECTD (plain HTTP's 400) */
const fails = (i: number) => i % 7 === 3
const expectedStat = (i: number) => (!fails(i) ? 'DELIVRD' : i % 3 === 2 ? 'REJECTD' : 'UNDELIV')
/** every 11th message's first try gets a temporary error (ESME_RTHROTTLED, HTTP 503): it waits in the dispatcher's back-off */
const refusedOnce = (i: number) => i % 11 === 5
/** every 5th message's receipt comes at once (right behind the upstream's submit_sm_resp, or the provider's 2xx); the rest 0.2–1.5 s later */
const fastReceipt = (i: number) => i % 5 === 1
const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo))

/**
 * The engine has just promised something (a submit_sm_resp 0; the deliver_sm_resp that tells the upstream
 * its receipt is stored; the 200 that tells the provider its callback is): each kill comes right then.
 */
let promised: (what: string) => void = () => {}
const MOMENTS = ['a submit_sm_resp 0', 'an upstream receipt acknowledged', 'a callback answered 200']

/** Counts how often each key was seen; dups: the sightings past the `expected` ones of each key. */
class Counter {
  readonly n = new Map<string, number>()
  constructor(private readonly expected: (k: string) => number = () => 1) {}
  add(k: string): number { const c = (this.n.get(k) ?? 0) + 1; this.n.set(k, c); return c }
  get dups() { let d = 0; for (const [k, c] of this.n) d += Math.max(0, c - this.expected(k)); return d }
}
/** sends a carrier expects per destination: one, two for a message it refuses once */
const sendsOf = (dest: string) => (refusedOnce(indexOf(dest)) ? 2 : 1)

/**
 * The upstream SMSC: answers each submit_sm after 0–20 ms with its own id, and sends the receipt
 * 20–300 ms later, again and again on whichever session is bound until one is answered with status 0
 * (what a real SMSC does with a receipt the link lost).
 */
async function upstreamSmsc(t: TestLike) {
  const sends = new Counter(sendsOf) // per destination
  interface Receipt { opts: Record<string, unknown>; due: number; on: NodeSession | null }
  const pending = new Map<string, Receipt>()
  let receiptsSent = 0
  const up = await startUpstream(t, {
    onSubmit: (pdu: NodePdu, session, messageId) => {
      const dest = String(pdu.destination_addr)
      if (sends.add(dest) === 1 && refusedOnce(indexOf(dest))) return 0x58 // ESME_RTHROTTLED: temporary
      const stat = fails(indexOf(dest)) ? 'UNDELIV' : 'DELIVRD'
      const text = `id:${messageId} sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:${stat} err:000 text:`
      setTimeout(() => {
        if (session.socket.destroyed) return // the link died: the engine sends it again
        session.send(pdu.response({ message_id: messageId }))
        const r = {
          due: Date.now() + rand(200, 1500), on: null as NodeSession | null,
          opts: { source_addr: dest, destination_addr: String(pdu.source_addr), esm_class: 0x04, data_coding: 0, short_message: Buffer.from(text), receipted_message_id: messageId, message_state: stat === 'DELIVRD' ? 2 : 5 },
        }
        pending.set(messageId, r)
        if (fastReceipt(indexOf(dest))) send(messageId, r, session) // right behind its submit_sm_resp, before the engine has stored the link

      }, rand(0, 20))
      return 'hold'
    },
  })
  function send(id: string, r: Receipt, s: NodeSession) {
    r.on = s
    receiptsSent++
    s.deliver_sm(r.opts, (resp) => {
      if (resp.command_status === 0) { pending.delete(id); promised('an upstream receipt acknowledged') }
      else r.on = null
    })
  }
  const timer = setInterval(() => {
    const now = Date.now()
    const live = up.sessions.filter((s) => !s.socket.destroyed)
    if (live.length === 0) return
    for (const [id, r] of pending) if (r.due <= now && (r.on === null || r.on.socket.destroyed)) send(id, r, live[0])
  }, 20)
  t.teardown(() => clearInterval(timer))
  return { up, sends, pending, get receiptsSent() { return receiptsSent } }
}

/**
 * An HTTP provider. `callback`: answers 200 { id } (a new id per request, as a provider does) and
 * calls the engine back 20–300 ms later, batched, again until the engine answers 200. Plain: 200, or
 * 400 for a message that fails.
 */
async function httpProvider(t: TestLike, mode: 'callback' | 'plain', engineHttpPort: () => number) {
  const sends = new Counter(sendsOf)
  const ourIds = new Map<string, string>() // destination → the engine's id in the POST
  const idChanged: string[] = [] // a destination POSTed again under another id
  const pending = new Map<string, { status: string; due: number }>()
  let n = 0
  let callbacks = 0
  const srv = http.createServer((req, res) => {
    if (req.method === 'HEAD') return void res.end() // the connector's probe while it counts the provider down
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; to: string }
      const first = sends.add(body.to) === 1
      if (!first && ourIds.get(body.to) !== body.id) idChanged.push(`${body.to}: ${ourIds.get(body.to)} then ${body.id}`)
      ourIds.set(body.to, body.id)
      const failed = fails(indexOf(body.to))
      setTimeout(() => {
        res.setHeader('content-type', 'application/json')
        if (first && refusedOnce(indexOf(body.to))) {
          res.statusCode = 503 // temporary
          res.end('{}')
          return
        }
        if (mode === 'plain') {
          res.statusCode = failed ? 400 : 200
          res.end('{}')
          return
        }
        const id = `prov-${++n}`
        res.end(JSON.stringify({ id }))
        // a fast one may be posted before this answer reaches the engine
        pending.set(id, { status: failed ? 'failed' : 'delivered', due: fastReceipt(indexOf(body.to)) ? 0 : Date.now() + rand(200, 1500) })
      }, rand(0, 20))
    })
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()))
  let posting = false
  const timer = setInterval(() => {
    if (posting) return
    const now = Date.now()
    const due = [...pending].filter(([, r]) => r.due <= now).slice(0, 200)
    if (due.length === 0) return
    posting = true
    callbacks++
    httpCall(engineHttpPort(), 'POST', '/api/v1/connectors/cb/receipts', { body: due.map(([id, r]) => ({ id, status: r.status })), token: TOKEN, timeoutMs: 15_000 })
      .then((r) => { if (r.status === 200) { for (const [id] of due) pending.delete(id); promised('a callback answered 200') } }, () => {})
      .finally(() => { posting = false })
  }, 50)
  t.teardown(() => new Promise<void>((resolve) => { clearInterval(timer); srv.closeAllConnections(); srv.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/sms`, sends, pending, idChanged, get callbacks() { return callbacks } }
}

t.test('SIGKILL three times under load through an upstream SMSC and HTTP providers: every acknowledged message ends with its receipt, and the credit is exact', async (t) => {
  t.setTimeout(90_000)
  let httpPort = 0
  const upstream = await upstreamSmsc(t)
  const cb = await httpProvider(t, 'callback', () => httpPort)
  const plain = await httpProvider(t, 'plain', () => httpPort)
  const opening = N - 700 // runs out before the end: some submits are refused for credit
  const engine = await startEngine(t, {
    accounts: [{ ...ACCOUNT, credit: opening } as typeof ACCOUNT],
    extra: {
      admin: { password: ADMIN_PASSWORD },
      connectors: [
        // Its one refusal in 11 pauses the connector (ESME_RTHROTTLED): briefly, the test is about retries across kills.
        { id: 'up', kind: 'smpp', host: '127.0.0.1', port: upstream.up.port, systemId: 'engA', password: 'pwA', windowSize: UP_WINDOW, reconnectMs: [50, 500], responseMs: 3000, throttlePauseMs: [20, 100] },
        { id: 'cb', kind: 'http', url: cb.url, timeoutMs: 3000, concurrency: HTTP_CONCURRENCY, receipts: 'callback', callbackToken: TOKEN },
        { id: 'plain', kind: 'http', url: plain.url, timeoutMs: 3000, concurrency: HTTP_CONCURRENCY },
      ],
      routes: {
        mt: [
          { name: 'reject', match: { destPrefix: [REJECT_PREFIX] }, action: { reject: 11 } },
          { name: 'up', match: { destPrefix: [PREFIX[0]] }, action: { connector: 'up' } },
          { name: 'cb', match: { destPrefix: [PREFIX[1]] }, action: { connector: 'cb' } },
          { name: 'plain', match: { destPrefix: [PREFIX[2]] }, action: { connector: 'plain' } },
        ],
        mo: [],
      },
      dispatch: { retryMs: [100, 1000] },
      log: { level: 'warn' },
    },
  })
  httpPort = engine.httpPort

  // ---- the ESME: one transceiver at a time, answering each deliver_sm 0–40 ms late
  const receipts: { id: string; stat: string | undefined; bind: number; answeredAt?: number }[] = []
  let binds = 0 // the ESME's binds so far: bind k ends with kill k
  const rcpt = new Counter()
  let esme!: Esme
  const bindEsme = async () => {
    const e = await Esme.connect({ port: engine.smppPort })
    const bind = binds++
    e.deliverSmStatus = null
    e.session.on('pdu', (pdu: Pdu & { response(o?: Record<string, unknown>): never }) => {
      if (pdu.command !== 'deliver_sm') return
      if (isReceipt(pdu)) {
        const id = pdu.receipted_message_id ?? ''
        const r = { id, stat: parseReceipt(messageText(pdu))?.stat, bind, answeredAt: undefined as number | undefined }
        receipts.push(r)
        rcpt.add(id)
        setTimeout(() => { if (!e.closed) { e.session.send(pdu.response()); r.answeredAt = Date.now() } }, rand(0, 40))
      } else setTimeout(() => { if (!e.closed) e.session.send(pdu.response()) }, rand(0, 40))
    })
    const r = await e.bind('transceiver', ACCOUNT)
    if (r.command_status !== 0) throw new Error(`bind refused 0x${r.command_status.toString(16)}`)
    esme = e
  }
  t.teardown(() => esme?.close())
  await bindEsme()

  // ---- submits: 10 at a time; a submit the kill cut off is not sent again (its fate is the engine's)
  const acked = new Map<string, number>() // message id → index
  const refused = new Map<number, number>() // status → count
  let unanswered = 0
  let next = 0
  let ready: Promise<void> = Promise.resolve()
  const worker = async () => {
    for (;;) {
      await ready
      if (next >= N) return
      const i = next++
      const e = esme
      try {
        const r = await e.submit({ source_addr: 'Shop', source_addr_ton: 5, destination_addr: destOf(i), short_message: gsm(`load ${i}`), registered_delivery: 1 })
        if (r.command_status === 0) { acked.set(r.message_id as string, i); promised('a submit_sm_resp 0') }
        else refused.set(r.command_status, (refused.get(r.command_status) ?? 0) + 1)
      } catch {
        unanswered++ // the connection died with it in flight
      }
    }
  }
  const workers = Array.from({ length: 10 }, worker)

  // ---- the kills: at random moments spread over the traffic
  const killAt = Array.from({ length: KILLS }, (_, k) => Math.floor(((k + 1) * N) / (KILLS + 1)) + rand(-150, 150))
  const killTimes: number[] = []
  const killed: { after: string; acked: number; receipts: number; upPending: number; cbPending: number }[] = []
  for (const [k, at] of killAt.entries()) {
    await until(() => acked.size + [...refused.values()].reduce((a, b) => a + b, 0) >= at, `${at} submits answered`, 30_000)
    let resume!: () => void
    // SIGKILL in the same tick as the next such promise reaches us (engine.kill() signals synchronously)
    const moment = MOMENTS[k % MOMENTS.length]
    let dead!: Promise<void>
    await new Promise<void>((fired) => {
      const kill = (after: string) => {
        promised = () => {}
        clearTimeout(timer)
        ready = new Promise((r) => (resume = r))
        dead = engine.kill()
        killTimes.push(Date.now())
        killed.push({ after, acked: acked.size, receipts: receipts.length, upPending: upstream.pending.size, cbPending: cb.pending.size })
        fired()
      }
      promised = (what) => { if (what === moment) kill(what) }
      const timer = setTimeout(() => kill('a timeout'), 5000)
    })
    await dead
    await esme.waitClosed(5000).catch(() => esme.close())
    await engine.restart()
    await bindEsme()
    resume()
  }
  await Promise.all(workers)
  t.equal(killed.length, KILLS, `killed ${KILLS} times mid-traffic: ${JSON.stringify(killed)}`)
  t.ok(killed.every((k) => k.upPending + k.cbPending > 0), 'each kill came with carrier receipts not yet taken by the engine')
  t.ok(killed.every((k, i) => k.after === MOMENTS[i % MOMENTS.length]), 'each kill came right after the engine promised something')

  // ---- settle: every receipt the carriers hold taken, every message the ESME knows has its receipt
  const refusedCount = [...refused.values()].reduce((a, b) => a + b, 0)
  t.equal(acked.size + refusedCount + unanswered, N, 'every submit was answered or cut off by a kill')
  t.ok((refused.get(0x401) ?? 0) > 0 && (refused.get(0x0b) ?? 0) > 0, `some submits refused for credit and by the reject route: ${JSON.stringify(Object.fromEntries(refused))}`)
  const settled = await until(() => upstream.pending.size === 0 && cb.pending.size === 0 && [...acked.keys()].every((id) => rcpt.n.has(id)), 'every acked message to have its receipt', 30_000)
    .then(() => true, (err: Error) => { t.fail(err.message); return false })
  await sleep(1000) // a duplicate or a late receipt would come now

  // ---- every acknowledged message: known, final, with its carrier's outcome, and its receipt
  const api = await AdminApi.login(engine)
  const lookups = new Map<string, { status: number; stat?: string; to?: string[]; dests?: { refunded?: true }[] }>()
  const lookup = async (ids: string[]) => {
    let k = 0
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (k < ids.length) {
        const id = ids[k++]
        const r = await api.call('GET', `/api/v1/messages/${id}`)
        lookups.set(id, { status: r.status, ...(r.json as object) })
      }
    }))
  }
  await lookup([...acked.keys()])
  const unknown = [...acked.keys()].filter((id) => lookups.get(id)?.status !== 200)
  t.same(unknown.slice(0, 10), [], `every acked message is known (${unknown.length} of ${acked.size} not found)`)
  const wrongState = [...acked].filter(([id, i]) => lookups.get(id)?.stat !== expectedStat(i)).map(([id, i]) => `${id}#${i}: ${lookups.get(id)?.stat} (want ${expectedStat(i)})`)
  t.same(wrongState.slice(0, 10), [], `every acked message is final with its carrier's outcome (${wrongState.length} not)`)
  const noReceipt = [...acked.keys()].filter((id) => !rcpt.n.has(id))
  t.same(noReceipt.slice(0, 10), [], `every acked message's receipt reached the ESME (${noReceipt.length} of ${acked.size} missing)`)
  const wrongReceipt = receipts.filter((r) => acked.has(r.id) && r.stat !== expectedStat(acked.get(r.id)!))
  t.same(wrongReceipt.slice(0, 10), [], 'every receipt carries its message\'s outcome')

  // ---- messages committed whose submit_sm_resp the kill cut off: final, with a receipt, no more than cut off
  const orphans = [...rcpt.n.keys()].filter((id) => !acked.has(id))
  await lookup(orphans)
  t.ok(orphans.length <= unanswered, `${orphans.length} messages committed without an answer, of ${unanswered} submits cut off`)
  const badOrphans = orphans.filter((id) => { const l = lookups.get(id); return l?.status !== 200 || l.stat !== expectedStat(indexOf(l.to?.[0] ?? '')) })
  t.same(badOrphans, [], 'each of them is final with its carrier\'s outcome')

  // ---- duplicates: receipts to the ESME (at least once), messages to the carriers (at least once)
  const dupReceipts = rcpt.dups
  const dupUp = upstream.sends.dups
  const dupCb = cb.sends.dups
  const dupPlain = plain.sends.dups
  t.comment(`kills ${KILLS}, submits ${N}: acked ${acked.size}, refused ${refusedCount} ${JSON.stringify(Object.fromEntries(refused))}, cut off ${unanswered} (committed ${orphans.length}); ` +
    `receipts ${receipts.length} (duplicates ${dupReceipts}); sent twice: upstream ${dupUp}, callback provider ${dupCb}, plain provider ${dupPlain}; ` +
    `upstream receipts sent ${upstream.receiptsSent}, callbacks posted ${cb.callbacks}`)
  // What a kill may send again: per kill, what was in flight (the ESME's window of deliver_sm; a connector's
  // window or concurrency), plus as many answered whose commit the kill beat. Never what a carrier had
  // accepted and the engine had stored: hundreds wait for their receipts at each kill.
  t.ok(dupReceipts <= KILLS * 2 * WINDOW, `receipts delivered twice: ${dupReceipts} (at most ${KILLS * 2 * WINDOW})`)
  // ... and each one is the same receipt again: its copy before came on a bind the kill ended, unanswered
  // by the ESME or answered just before the kill (its answer not yet stored); never a second receipt item.
  const copies = new Map<string, typeof receipts>()
  for (const r of receipts) copies.set(r.id, [...(copies.get(r.id) ?? []), r])
  const unexplained: string[] = []
  for (const [id, list] of copies) {
    for (let j = 1; j < list.length; j++) {
      const before = list[j - 1]
      const kill = killTimes[before.bind]
      const resent = list[j].bind > before.bind && (before.answeredAt === undefined || before.answeredAt > kill - 1000)
      if (!resent) unexplained.push(`${id}: ${list.map((r) => `${r.stat} on bind ${r.bind}${r.answeredAt ? ` answered ${r.answeredAt}` : ''}`).join(', ')}`)
    }
  }
  t.same(unexplained.slice(0, 5), [], `every duplicate receipt is one a kill cut off before its answer was stored (${unexplained.length} not; kills at ${killTimes.join(', ')})`)
  t.same([...cb.idChanged, ...plain.idChanged].slice(0, 5), [], 'a message POSTed again carries the same id (the provider can drop the copy)')
  t.ok(dupUp <= KILLS * 2 * UP_WINDOW, `messages the upstream SMSC got twice: ${dupUp} (at most ${KILLS * 2 * UP_WINDOW})`)
  t.ok(dupCb <= KILLS * 2 * HTTP_CONCURRENCY && dupPlain <= KILLS * 2 * HTTP_CONCURRENCY, `messages an HTTP provider got twice: ${dupCb} and ${dupPlain} (at most ${KILLS * 2 * HTTP_CONCURRENCY} each)`)

  // ---- credit: exact
  const committed = [...acked.keys(), ...orphans]
  const refunds = committed.filter((id) => lookups.get(id)?.stat !== 'DELIVRD').length
  const refundedMarks = committed.filter((id) => lookups.get(id)?.dests?.[0]?.refunded === true).length
  t.equal(refundedMarks, refunds, `every failed message is marked refunded (${refunds})`)
  const entries = await api.ledger(ACCOUNT.systemId)
  const balance = await api.balance(ACCOUNT.systemId)
  t.equal(balance, opening - committed.length + refunds, `balance = ${opening} opening − ${committed.length} committed + ${refunds} refunds`)
  t.equal(ledgerSum(entries), balance, 'the ledger adds up to the balance')
  const count = (reason: string) => entries.filter((e) => e.reason === reason).reduce((a, e) => a + (e.count ?? 0), 0)
  t.equal(count('submit'), committed.length, 'submit entries charge the committed messages only (none refused)')
  t.equal(count('refund'), refunds, 'refund entries cover the failed messages')
  t.ok(settled, 'settled')
})
