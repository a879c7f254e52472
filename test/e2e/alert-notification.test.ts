/**
 * alert_notification (SMPP 3.4 §4.12): a message submitted with set_dpf 1 (§5.3.2.29: data_sm; SMPP
 * 5.0 also submit_sm) whose subscriber was absent and later becomes available makes the SMSC send
 * alert_notification to a bound receiver or transceiver of the account: source_addr = the subscriber
 * (the message's destination), esme_addr = the message's source, ms_availability_status 0 (§5.3.2.30).
 * The simulated carrier makes every subscriber absent at the first attempt (simulator.absentRate 1);
 * the dispatcher retries after dispatch.retryMs and the retry delivers. Best effort: no response PDU,
 * nothing queued for an ESME with no receiver bound.
 */
import t from 'tap'
import { startEngine, type Engine } from '../helpers/engine'
import { gsm, openEsme, receiptFor, parseReceipt, messageText, type Esme, type Pdu } from '../helpers/esme'
import { until } from '../helpers/policy'

const SRC = '12345'
const DEST = '4915112345678'

function absentEngine(t: Parameters<typeof startEngine>[0]): Promise<Engine> {
  return startEngine(t, { simulator: { absentRate: 1 }, extra: { dispatch: { retryMs: [100, 1000] } } })
}

const alertsOf = (esme: Esme): Pdu[] => esme.received.filter((p) => p.command === 'alert_notification')

t.test('data_sm with set_dpf 1 to an absent subscriber: alert_notification when it becomes available, then the receipt', async (t) => {
  const engine = await absentEngine(t)
  const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver' })
  const resp = await esme.request('data_sm', {
    source_addr: SRC, destination_addr: DEST, registered_delivery: 1, set_dpf: 1, message_payload: gsm('are you there?'),
  })
  t.equal(resp.command_status, 0, 'data_sm accepted')
  const id = resp.message_id as string
  const receipt = await esme.waitFor(receiptFor(id), 15_000)
  t.match(parseReceipt(messageText(receipt)), { id, stat: 'DELIVRD' }, 'delivered at the later attempt')
  const alerts = alertsOf(esme)
  t.equal(alerts.length, 1, 'one alert_notification')
  t.match(alerts[0], { source_addr: DEST, esme_addr: SRC, ms_availability_status: 0 }, 'the subscriber, the ESME address, available')
  t.ok(esme.received.indexOf(alerts[0]) < esme.received.indexOf(receipt), 'the alert comes before the receipt')
  t.match((await engine.http('GET', '/metrics')).body, /smsc_alert_notifications_total\{result="sent"\} 1\n/, 'counted in /metrics')
})

t.test('submit_sm with set_dpf 1 (SMPP 5.0) gets an alert_notification too', async (t) => {
  const engine = await absentEngine(t)
  const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver', bindParams: { interface_version: 0x50 } })
  const resp = await esme.submit({ source_addr: SRC, destination_addr: DEST, registered_delivery: 1, set_dpf: 1, short_message: gsm('hello') })
  t.equal(resp.command_status, 0)
  await esme.waitFor(receiptFor(resp.message_id as string), 15_000)
  t.match(alertsOf(esme), [{ source_addr: DEST, esme_addr: SRC, ms_availability_status: 0 }])
})

t.test('without set_dpf there is no alert_notification', async (t) => {
  const engine = await absentEngine(t)
  const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver' })
  const a = await esme.request('data_sm', { source_addr: SRC, destination_addr: DEST, registered_delivery: 1, message_payload: gsm('no flag') })
  const b = await esme.request('data_sm', { source_addr: SRC, destination_addr: DEST, registered_delivery: 1, set_dpf: 0, message_payload: gsm('flag 0') })
  // An alert goes out before its message's receipt: once both receipts are here, none can follow.
  await esme.waitFor(receiptFor(a.message_id as string), 15_000)
  await esme.waitFor(receiptFor(b.message_id as string), 15_000)
  t.same(alertsOf(esme), [], 'no alert_notification')
})

t.test('with no receiver bound the alert is not kept: a receiver binding later gets the receipt only', async (t) => {
  const engine = await absentEngine(t)
  const tx = await openEsme(t, { port: engine.smppPort, kind: 'transmitter' })
  const resp = await tx.request('data_sm', { source_addr: SRC, destination_addr: DEST, registered_delivery: 1, set_dpf: 1, message_payload: gsm('nobody listens') })
  const id = resp.message_id as string
  await until(`message ${id} DELIVERED (query_sm message_state 2)`, async () => {
    const q = await tx.request('query_sm', { message_id: id, source_addr: SRC })
    return q.message_state === 2 ? true : undefined
  }, 15_000)
  // query_sm sees DELIVERED as soon as the outcome is queued for its commit; the alert is decided after that
  // commit, so wait for the decision (on a busy machine a receiver bound now could still be in time for it).
  await until('the alert decided with no receiver bound', () => (/alert_notification not sent: no receiver bound/.test(engine.output()) ? true : undefined), 15_000)
  t.pass('the engine says why')
  const rx = await openEsme(t, { port: engine.smppPort, kind: 'receiver' })
  await rx.waitFor(receiptFor(id), 10_000)
  t.same(alertsOf(rx), [], 'no alert_notification for the receiver that bound later')
  t.match((await engine.http('GET', '/metrics')).body, /smsc_alert_notifications_total\{result="unsent"\} 1\n/, 'and counts it')
})

t.test('set_dpf other than 0 or 1 is ESME_RINVTLVVAL', async (t) => {
  const engine = await startEngine(t)
  const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver' })
  const resp = await esme.request('data_sm', { source_addr: SRC, destination_addr: DEST, set_dpf: 2, message_payload: gsm('x') })
  t.equal(resp.command_status, 0xc4, 'ESME_RINVTLVVAL')
})
