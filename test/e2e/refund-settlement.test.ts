/**
 * Settlement 'refund' end to end (docs/ACCOUNTS.md, Credit): every way a destination can end without
 * being delivered gives its price back — refused, undeliverable, an upstream's EXPIRED, UNKNOWN or
 * DELETED receipt, and the engine's own expiry while the message waits for a connector, between
 * retries, for an upstream's receipt or for the simulated carrier — while a delivered message and one
 * the customer cancelled keep the charge. Each refunded destination says `refunded: true` in the
 * message lookup, and the refund entries' refs cover its id.
 */
import net from 'node:net'
import t from 'tap'
import { openEsme, parseReceipt, messageText, receiptFor, gsm } from '../helpers/esme'
import { AdminApi, ledgerSum, startPolicyEngine, until } from '../helpers/policy'
import { startUpstream } from '../helpers/upstream'
import type { MessageView } from '../../engine/message-search'

const SRC = '12345'

/** What the upstream does with a destination: a receipt with this stat (and message_state), no receipt, or ESME_RTHROTTLED. */
const UPSTREAM: Record<string, { stat: string; state: number } | 'silent' | 'throttle'> = {
  '447700900001': { stat: 'EXPIRED', state: 3 },
  '447700900002': { stat: 'UNKNOWN', state: 7 },
  '447700900003': { stat: 'DELETED', state: 4 },
  '447700900004': { stat: 'REJECTD', state: 8 },
  '447700900005': { stat: 'UNDELIV', state: 5 },
  '447700900006': { stat: 'DELIVRD', state: 2 },
  '447700900007': 'silent', // accepted, no receipt: expires waiting for it
  '447700900008': 'throttle', // retried until it expires
  '447700900009': 'silent', // cancelled by the customer
}
const DOWN = '4915100000001' // routed to a connector that never comes up
const SLOW = '4915200000001' // the simulated carrier, slower than the validity

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

t.test("settlement 'refund' gives back every destination not delivered, keeps delivered and cancelled ones", async (t) => {
  const up = await startUpstream(t, {
    onSubmit: (pdu, session, messageId) => {
      const what = UPSTREAM[String(pdu.destination_addr)]
      if (what === 'throttle') return 0x58
      if (what === undefined || what === 'silent') return 0
      const text = `id:${messageId} sub:001 dlvrd:000 submit date:2401011200 done date:2401011201 stat:${what.stat} err:000 text:x`
      setTimeout(() => session.deliver_sm({
        source_addr: String(pdu.destination_addr), destination_addr: String(pdu.source_addr), esm_class: 0x04, data_coding: 0,
        short_message: Buffer.from(text), receipted_message_id: messageId, message_state: what.state,
      }), 30)
      return 0
    },
  })
  const upstream = (id: string, port: number) => ({ id, kind: 'smpp', host: '127.0.0.1', port, systemId: 'engA', password: 'pwA', windowSize: 10, reconnectMs: [100, 500] })
  const engine = await startPolicyEngine(t, {
    accounts: [{ systemId: 'shop', password: 'secret1', credit: 100, settlement: 'refund', validity: { defaultMs: 2000, maxMs: 60_000 } }],
    simulator: { deliveryDelayMs: [10_000, 10_000], outcomes: { DELIVRD: 1 } },
    extra: {
      connectors: [upstream('up', up.port), upstream('down', await closedPort())],
      routes: {
        mt: [
          { name: 'up', match: { destPrefix: ['4477'] }, action: { connector: 'up' } },
          { name: 'down', match: { destPrefix: ['49151'] }, action: { connector: 'down' } },
          { name: 'slow', match: {}, action: { connector: 'simulator' } },
        ],
        mo: [],
      },
      dispatch: { retryMs: [100, 200] },
      log: { level: 'error' },
    },
  })
  const api = await AdminApi.login(engine)
  const esme = await openEsme(t, { port: engine.smppPort, systemId: 'shop', password: 'secret1', kind: 'transceiver' })

  const dests = [...Object.keys(UPSTREAM), DOWN, SLOW]
  const ids = new Map<string, string>()
  for (const d of dests) {
    const r = await esme.submit({ source_addr: SRC, destination_addr: d, short_message: gsm(`to ${d}`), registered_delivery: 1 })
    t.equal(r.command_status, 0, `${d} accepted`)
    ids.set(d, r.message_id as string)
  }
  const cancelled = ids.get('447700900009') as string
  await until('the upstream holds the message to cancel', () => (up.received('submit_sm').some((p) => p.destination_addr === '447700900009') ? true : undefined))
  const c = await esme.request('cancel_sm', { message_id: cancelled, source_addr: SRC, destination_addr: '447700900009' })
  t.equal(c.command_status, 0, 'cancel_sm of the message the upstream holds')

  const expected: Record<string, string> = {
    '447700900001': 'EXPIRED', '447700900002': 'UNKNOWN', '447700900003': 'DELETED', '447700900004': 'REJECTD',
    '447700900005': 'UNDELIV', '447700900006': 'DELIVRD', '447700900007': 'EXPIRED', '447700900008': 'EXPIRED',
    [DOWN]: 'EXPIRED', [SLOW]: 'EXPIRED',
  }
  for (const [d, stat] of Object.entries(expected)) {
    const receipt = await esme.waitFor(receiptFor(ids.get(d) as string), 15_000)
    t.equal(parseReceipt(messageText(receipt))?.stat, stat, `${d}: ${stat}`)
  }

  // 11 charged; 9 given back (all but the delivered and the cancelled)
  t.equal(await until('balance 98', async () => ((await api.balance('shop')) === 98 ? 98 : undefined), 5000), 98, 'balance: 100 - 11 + 9')
  const entries = await api.ledger('shop')
  t.equal(ledgerSum(entries), 98, 'ledger sum == balance')
  const refunds = entries.filter((e) => e.reason === 'refund')
  t.equal(ledgerSum(refunds), 9, 'refund entries give back 9 units')
  t.equal(refunds.reduce((n, e) => n + (e.count ?? 0), 0), 9, 'refund entries cover 9 destinations')

  const inRef = (id: string) => refunds.some((e) => {
    const [first, last = first] = (e.ref ?? '').split('..')
    return id >= first && id <= last
  })
  for (const d of dests) {
    const id = ids.get(d) as string
    const view = await api.ok<MessageView>('GET', `/api/v1/messages/${id}`)
    const kept = d === '447700900006' || d === '447700900009'
    t.equal(view.dests[0].refunded, kept ? undefined : true, `${d} (${view.dests[0].stat}): ${kept ? 'no refunded mark' : 'refunded: true'}`)
    if (!kept) t.ok(inRef(id), `${d}: a refund entry's ref covers ${id}`)
  }
})
