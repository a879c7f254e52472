/**
 * query_sm, cancel_sm and replace_sm end to end (SMPP 3.4 §4.8 query_sm, §4.9 cancel_sm, §4.10 replace_sm).
 * The simulated carrier is slowed to ~3 s so a message stays ENROUTE long enough to query, cancel or
 * replace it, and reaches DELIVERED after its receipt.
 */
import t from 'tap'
import { startEngine } from '../helpers/engine'
import { MessageState, Status, gsm, messageText, openEsme, parseReceipt, receiptFor } from '../helpers/esme'

const SRC = '12345'
const DEST = '4915112345678'

t.test('query, cancel and replace', async (t) => {
  const engine = await startEngine(t, { simulator: { deliveryDelayMs: [2500, 3000], outcomes: { DELIVRD: 1 } } })
  const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver' })

  const submit = async (text: string) => {
    const resp = await esme.submit({ source_addr: SRC, destination_addr: DEST, short_message: gsm(text), data_coding: 0, registered_delivery: 1 })
    if (resp.command_status !== 0 || !resp.message_id) throw new Error(`submit failed: status ${resp.command_status}`)
    return resp.message_id
  }
  const query = (id: string) => esme.request('query_sm', { message_id: id, source_addr: SRC })

  t.test('query_sm: ENROUTE before the receipt, DELIVERED after', async (t) => {
    const id = await submit('query me')
    const before = await query(id)
    t.equal(before.command, 'query_sm_resp')
    t.equal(before.command_status, Status.ESME_ROK)
    t.equal(before.message_id, id, 'query_sm_resp echoes the message_id')
    t.equal(before.message_state, MessageState.ENROUTE, 'ENROUTE while the carrier holds it')
    await esme.waitFor(receiptFor(id), 15_000)
    const after = await query(id)
    t.equal(after.command_status, Status.ESME_ROK)
    t.equal(after.message_state, MessageState.DELIVERED, 'DELIVERED after the receipt')
    t.ok(after.final_date, 'final_date set once final')
  })

  t.test('query_sm of an unknown id → ESME_RQUERYFAIL', async (t) => {
    const resp = await query('999999999')
    t.equal(resp.command_status, Status.ESME_RQUERYFAIL)
  })

  t.test('cancel_sm of an enroute message, then query says DELETED', async (t) => {
    const id = await submit('cancel me')
    const resp = await esme.request('cancel_sm', { message_id: id, source_addr: SRC, destination_addr: DEST })
    t.equal(resp.command, 'cancel_sm_resp')
    t.equal(resp.command_status, Status.ESME_ROK)
    const q = await query(id)
    t.equal(q.command_status, Status.ESME_ROK)
    t.equal(q.message_state, MessageState.DELETED, 'message_state DELETED')
    // the carrier must not deliver it after all: no DELIVRD receipt once its delay has passed
    await new Promise((r) => setTimeout(r, 3500))
    const delivered = esme.delivered.filter(receiptFor(id)).map((p) => parseReceipt(messageText(p))?.stat)
    t.notOk(delivered.includes('DELIVRD'), `no DELIVRD receipt for a cancelled message (got ${JSON.stringify(delivered)})`)
    t.equal((await query(id)).message_state, MessageState.DELETED, 'still DELETED')
  })

  t.test('replace_sm of an enroute message; the receipt carries the new text', async (t) => {
    const id = await submit('original text')
    const resp = await esme.request('replace_sm', { message_id: id, source_addr: SRC, short_message: gsm('replaced text'), registered_delivery: 1 })
    t.equal(resp.command, 'replace_sm_resp')
    t.equal(resp.command_status, Status.ESME_ROK)
    const receipt = await esme.waitFor(receiptFor(id), 15_000)
    const parsed = parseReceipt(messageText(receipt))
    t.match(parsed, { stat: 'DELIVRD' })
    t.ok(parsed && 'replaced text'.startsWith(parsed.text) && parsed.text.length > 0, `receipt text is the replacement: ${JSON.stringify(parsed?.text)}`)
  })

  t.test('cancel_sm and replace_sm of a delivered message fail', async (t) => {
    const id = await submit('too late')
    await esme.waitFor(receiptFor(id), 15_000)
    const cancel = await esme.request('cancel_sm', { message_id: id, source_addr: SRC, destination_addr: DEST })
    t.equal(cancel.command_status, Status.ESME_RCANCELFAIL)
    const replace = await esme.request('replace_sm', { message_id: id, source_addr: SRC, short_message: gsm('x') })
    t.equal(replace.command_status, Status.ESME_RREPLACEFAIL)
    t.equal((await query(id)).message_state, MessageState.DELIVERED, 'still DELIVERED')
  })

  t.test('cancel_sm with an empty message_id cancels every pending message to that address (SMPP 3.4 §4.9.1)', async (t) => {
    const other = '4915100000001'
    const a = await submit('bulk one')
    const b = await submit('bulk two')
    const keep = (await esme.submit({ source_addr: SRC, destination_addr: other, short_message: gsm('keep me'), data_coding: 0, registered_delivery: 1 })).message_id as string
    const resp = await esme.request('cancel_sm', { message_id: '', source_addr: SRC, destination_addr: DEST })
    t.equal(resp.command_status, Status.ESME_ROK)
    for (const id of [a, b]) t.equal((await query(id)).message_state, MessageState.DELETED, `${id} cancelled`)
    t.equal((await query(keep)).message_state, MessageState.ENROUTE, 'a message to another address is not touched')
    const none = await esme.request('cancel_sm', { message_id: '', source_addr: SRC, destination_addr: '4915199999999' })
    t.equal(none.command_status, Status.ESME_RCANCELFAIL, 'nothing pending to that address: ESME_RCANCELFAIL')
  })

  t.test('submit_sm with replace_if_present_flag 1 replaces the pending message to the same address (SMPP 3.4 §5.2.18)', async (t) => {
    const dest = '4915100000077'
    const send = async (text: string, flag: number, to = dest) => (await esme.submit({ source_addr: SRC, destination_addr: to, short_message: gsm(text), data_coding: 0, registered_delivery: 1, replace_if_present_flag: flag })).message_id as string
    const old = await send('old text', 0)
    const elsewhere = await send('other address', 1, '4915100000078')
    const fresh = await send('new text', 1)
    t.not(fresh, old, 'the replacement has its own message id')
    t.equal((await query(old)).message_state, MessageState.DELETED, 'the pending message is replaced (deleted)')
    t.equal((await query(fresh)).message_state, MessageState.ENROUTE)
    t.equal((await query(elsewhere)).message_state, MessageState.ENROUTE, 'a flagged message to another address replaces nothing')
    const r = await esme.waitFor(receiptFor(fresh), 15_000)
    t.match(messageText(r), /text:new text/, 'the new text is delivered')
    await new Promise((resolve) => setTimeout(resolve, 500))
    t.notOk(esme.delivered.some(receiptFor(old)), 'no receipt for the replaced message')
  })

  t.test('cancel_sm of an unknown id → ESME_RCANCELFAIL', async (t) => {
    const resp = await esme.request('cancel_sm', { message_id: '999999998', source_addr: SRC, destination_addr: DEST })
    t.equal(resp.command_status, Status.ESME_RCANCELFAIL)
  })
})
