/**
 * Delivery receipts by registered_delivery (SMPP 3.4 §5.2.17; value 3 "success only" from SMPP 5.0
 * §4.7.21): 0 none, 1 final (success or failure), 2 failure only, 3 success only, 0x10 bit intermediate
 * notifications (esm_class message type 0x20, §5.2.12) before the final receipt. user_message_reference
 * (§5.3.2.17) is echoed in the receipt.
 */
import t from 'tap'
import { startEngine, type Engine } from '../helpers/engine'
import {
  MessageState,
  Status,
  gsm,
  isIntermediate,
  isReceipt,
  messageText,
  openEsme,
  parseReceipt,
  receiptFor,
  type Esme,
} from '../helpers/esme'

const SRC = '12345'
const DEST = '4915112345678'
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function submit(esme: Esme, registeredDelivery: number, text: string, extra: Record<string, unknown> = {}): Promise<string> {
  const resp = await esme.submit({ source_addr: SRC, destination_addr: DEST, short_message: gsm(text), data_coding: 0, registered_delivery: registeredDelivery, ...extra })
  if (resp.command_status !== Status.ESME_ROK || !resp.message_id) throw new Error(`submit failed: 0x${resp.command_status.toString(16)}`)
  return resp.message_id
}

/**
 * Submit `id` first, then a marker with registered_delivery 1 and wait for the marker's receipt plus the
 * carrier's maximum delay: if `id` were going to get a receipt, it would have by then.
 */
async function assertNoReceipt(t: tap.Test, esme: Esme, id: string, maxDelayMs: number) {
  const marker = await submit(esme, 1, 'marker')
  await esme.waitFor(receiptFor(marker), 10_000)
  await settle(maxDelayMs + 300)
  const got = esme.delivered.filter(receiptFor(id))
  t.equal(got.length, 0, `no receipt for ${id} (got ${got.map((p) => JSON.stringify(messageText(p))).join(', ')})`)
}

t.test('carrier delivers everything (DELIVRD)', async (t) => {
  const engine: Engine = await startEngine(t)
  const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver', bindParams: { interface_version: 0x50 } })

  t.test('registered_delivery 0 → no receipt', async (t) => {
    await assertNoReceipt(t, esme, await submit(esme, 0, 'no receipt please'), 50)
  })

  t.test('registered_delivery 1 → DELIVRD receipt', async (t) => {
    const id = await submit(esme, 1, 'final receipt')
    const r = await esme.waitFor(receiptFor(id), 10_000)
    t.ok(isReceipt(r), 'esm_class 0x04')
    t.equal(r.message_state, MessageState.DELIVERED)
    t.match(parseReceipt(messageText(r)), { id, stat: 'DELIVRD', err: /^\w{3}$/ })
  })

  t.test('registered_delivery 2 (failure only) → none on success', async (t) => {
    await assertNoReceipt(t, esme, await submit(esme, 2, 'failure only'), 50)
  })

  t.test('registered_delivery 3 (success only, SMPP 5.0) → receipt on success', async (t) => {
    const id = await submit(esme, 3, 'success only')
    const r = await esme.waitFor(receiptFor(id), 10_000)
    t.match(parseReceipt(messageText(r)), { stat: 'DELIVRD' })
  })

  t.test('user_message_reference is echoed in the receipt', async (t) => {
    const id = await submit(esme, 1, 'with reference', { user_message_reference: 4242 })
    const r = await esme.waitFor(receiptFor(id), 10_000)
    t.equal(r.user_message_reference, 4242)
  })

  t.test('an SMPP 3.3 bind gets its receipts without TLVs (3.3 has none): id and stat in the text', async (t) => {
    const old = await openEsme(t, { port: engine.smppPort, kind: 'transceiver', bindParams: { interface_version: 0x33 } })
    const id = await submit(old, 1, 'to a 3.3 client')
    const r = await old.waitFor((p) => isReceipt(p) && parseReceipt(messageText(p))?.id === id, 10_000)
    t.match(parseReceipt(messageText(r)), { id, stat: 'DELIVRD' })
    for (const k of ['receipted_message_id', 'message_state', 'network_error_code', 'user_message_reference', 'unknown_tlvs']) t.equal(r[k], undefined, `no ${k}`)
    const current = await esme.waitFor(receiptFor(await submit(esme, 1, 'to a 5.0 client')), 10_000)
    t.equal(current.message_state, MessageState.DELIVERED, 'a 3.4/5.0 bind still gets them')
  })

  t.test('registered_delivery 0x10 alone gives no intermediate receipt when the carrier sends none', async (t) => {
    // intermediate is off in this engine's simulator
    await assertNoReceipt(t, esme, await submit(esme, 0x10, 'intermediate only'), 50)
  })
})

t.test('carrier fails everything (UNDELIV)', async (t) => {
  const engine = await startEngine(t, { simulator: { deliveryDelayMs: [10, 50], outcomes: { UNDELIV: 1 } } })
  const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver', bindParams: { interface_version: 0x50 } })

  t.test('registered_delivery 1 → UNDELIV receipt', async (t) => {
    const id = await submit(esme, 1, 'will fail')
    const r = await esme.waitFor(receiptFor(id), 10_000)
    t.ok(isReceipt(r), 'esm_class 0x04')
    t.equal(r.message_state, MessageState.UNDELIVERABLE)
    t.match(parseReceipt(messageText(r)), { id, stat: 'UNDELIV', dlvrd: '000' })
  })

  t.test('registered_delivery 2 (failure only) → receipt on failure', async (t) => {
    const id = await submit(esme, 2, 'failure only')
    const r = await esme.waitFor(receiptFor(id), 10_000)
    t.match(parseReceipt(messageText(r)), { stat: 'UNDELIV' })
  })

  t.test('registered_delivery 3 (success only) → none on failure', async (t) => {
    await assertNoReceipt(t, esme, await submit(esme, 3, 'success only'), 50)
  })

  t.test('query_sm says UNDELIVERABLE after the receipt', async (t) => {
    const id = await submit(esme, 1, 'query failed')
    await esme.waitFor(receiptFor(id), 10_000)
    const q = await esme.request('query_sm', { message_id: id, source_addr: SRC })
    t.equal(q.message_state, MessageState.UNDELIVERABLE)
  })
})

t.test('carrier sends intermediate notifications', async (t) => {
  const engine = await startEngine(t, { simulator: { deliveryDelayMs: [300, 500], outcomes: { DELIVRD: 1 }, intermediate: true } })
  const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver', bindParams: { interface_version: 0x50 } })

  t.test('registered_delivery 0x11 → ENROUTE intermediate notification, then the final receipt', async (t) => {
    const id = await submit(esme, 0x11, 'with intermediate')
    const [first, second] = await esme.waitForMany(receiptFor(id), 2, 10_000)
    t.comment(`intermediate esm_class 0x${(first.esm_class ?? 0).toString(16)}, final esm_class 0x${(second.esm_class ?? 0).toString(16)}`)
    t.ok(isIntermediate(first), 'first is an intermediate notification (esm_class type 0x20)')
    t.equal(first.message_state, MessageState.ENROUTE)
    t.match(parseReceipt(messageText(first)), { id, stat: 'ENROUTE' })
    t.ok(isReceipt(second), 'then the final delivery receipt (esm_class 0x04)')
    t.equal(second.message_state, MessageState.DELIVERED)
    t.match(parseReceipt(messageText(second)), { id, stat: 'DELIVRD' })
  })

  t.test('registered_delivery 1 → only the final receipt', async (t) => {
    const id = await submit(esme, 1, 'final only')
    await esme.waitFor((p) => isReceipt(p) && p.receipted_message_id === id, 10_000)
    await settle(200)
    const all = esme.delivered.filter(receiptFor(id))
    t.equal(all.length, 1, 'exactly one receipt')
    t.notOk(all.some(isIntermediate), 'no intermediate notification without bit 0x10')
  })
})
