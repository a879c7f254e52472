/**
 * submit_sm end to end: each text encoding the SMSC must carry (SMPP 3.4 §5.2.19 data_coding; GSM 03.38
 * unpacked septets with the extension table, UCS2 as UTF-16BE with surrogate pairs), long messages as UDH
 * concatenation (esm_class 0x40) and as message_payload (§5.3.2.32), each answered with a message_id and
 * followed by a delivery receipt (Appendix B) whose text field starts with the submitted text.
 */
import t from 'tap'
import { startEngine } from '../helpers/engine'
import {
  Status,
  gsm,
  gsmConcatParts,
  isReceipt,
  messageText,
  openEsme,
  parseReceipt,
  receiptFor,
  ucs2,
  type Pdu,
} from '../helpers/esme'

const DEST = '4915112345678'
const SRC = '12345'

t.test('submit_sm with each coding gets a message_id and a receipt', async (t) => {
  const engine = await startEngine(t)
  const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver' })

  /** Check the receipt for `id`: esm_class 0x04, TLVs, full text; returns the parsed text. */
  const checkReceipt = async (t: tap.Test, id: string, submitted?: string) => {
    const receipt = await esme.waitFor(receiptFor(id), 10_000)
    t.ok(isReceipt(receipt), 'esm_class marks an SMSC delivery receipt (0x04)')
    t.equal(receipt.receipted_message_id, id, 'receipted_message_id is the submit_sm_resp message_id')
    t.equal(receipt.message_state, 2, 'message_state DELIVERED')
    t.ok(receipt.network_error_code !== undefined, 'network_error_code TLV present')
    t.equal(receipt.source_addr, DEST, 'receipt comes from the original destination')
    t.equal(receipt.destination_addr, SRC, 'receipt goes to the original source')
    const text = messageText(receipt)
    const parsed = parseReceipt(text)
    t.ok(parsed, `receipt text has every standard field: ${JSON.stringify(text)}`)
    if (parsed) {
      t.equal(parsed.id, id, 'id: field is the message id')
      t.equal(parsed.stat, 'DELIVRD', 'stat:DELIVRD')
      t.equal(parsed.sub, '001', 'sub:001 (one message was submitted)')
      t.equal(parsed.dlvrd, '001', 'dlvrd:001')
      if (submitted !== undefined) {
        t.ok(parsed.text.length > 0, 'text: field is not empty')
        t.equal(parsed.text, submitted.slice(0, parsed.text.length), `text: field ${JSON.stringify(parsed.text)} starts the submitted text`)
      }
    }
    return receipt
  }

  const submitOk = async (t: tap.Test, params: Record<string, unknown>): Promise<string> => {
    const resp = await esme.submit({ source_addr: SRC, destination_addr: DEST, registered_delivery: 1, ...params })
    t.equal(resp.command, 'submit_sm_resp')
    t.equal(resp.command_status, Status.ESME_ROK, 'submit_sm accepted')
    t.match(resp.message_id, /^\d{1,65}$/, 'decimal message_id (messageIdFormat decimal)')
    return resp.message_id ?? ''
  }

  t.test('GSM 7-bit (data_coding 0)', async (t) => {
    const text = 'Hello world @ 123 £$ ÄÖÜ'
    const id = await submitOk(t, { short_message: gsm(text), data_coding: 0 })
    await checkReceipt(t, id, text)
  })

  t.test('GSM extension characters as ESC pairs', async (t) => {
    const text = '€[]{}~^|\\ ext'
    const bytes = gsm(text)
    // GSM 03.38 extension table: ESC 0x1B then the code of the character
    t.equal(bytes.subarray(0, 18).toString('hex'), '1b651b3c1b3e1b281b291b3d1b141b401b2f', 'test encodes the extension table')
    const id = await submitOk(t, { short_message: bytes, data_coding: 0 })
    await checkReceipt(t, id, text)
  })

  t.test('UCS2 with emoji (data_coding 8, surrogate pairs)', async (t) => {
    const text = 'Hi 😀 Привет 👍🏽'
    const bytes = ucs2(text)
    t.equal(bytes.subarray(6, 10).toString('hex'), 'd83dde00', 'test encodes the emoji as a surrogate pair')
    const id = await submitOk(t, { short_message: bytes, data_coding: 8 })
    const receipt = await checkReceipt(t, id)
    // the text: field of a UCS2 message: each character is the original one, or '?' where the receipt's
    // alphabet cannot carry it (never the low byte of a UTF-16 code unit)
    const field = [...(parseReceipt(messageText(receipt))?.text ?? '')]
    const original = [...text]
    const wrong = field.findIndex((c, i) => c !== original[i] && c !== '?')
    t.equal(wrong, -1, `text: field ${JSON.stringify(field.join(''))} is the submitted text (or '?' for what the alphabet lacks)`)
  })

  t.test('a long message in 3 UDH parts (esm_class 0x40): one id and one receipt per part', async (t) => {
    const text = 'Long message. '.repeat(30) + '€ end' // 420 + 6 septets → 3 parts
    const parts = gsmConcatParts(text, 0x42)
    t.equal(parts.length, 3, 'test splits into 3 parts')
    const ids: string[] = []
    for (const part of parts) ids.push(await submitOk(t, { short_message: part, esm_class: 0x40, data_coding: 0 }))
    t.equal(new Set(ids).size, 3, 'three distinct message ids')
    const receipts = await Promise.all(ids.map((id) => esme.waitFor(receiptFor(id), 10_000)))
    t.equal(receipts.length, 3, 'a receipt for each part')
    for (const r of receipts) t.match(parseReceipt(messageText(r)), { stat: 'DELIVRD' })
  })

  t.test('a long message in message_payload (sm_length 0)', async (t) => {
    const text = 'Payload message. '.repeat(25) // 425 septets
    const id = await submitOk(t, { short_message: Buffer.alloc(0), message_payload: gsm(text), data_coding: 0 })
    await checkReceipt(t, id, text)
  })

  t.test('data_sm gets a message_id and a receipt', async (t) => {
    const text = 'data_sm text'
    const resp = await esme.request('data_sm', { source_addr: SRC, destination_addr: DEST, registered_delivery: 1, data_coding: 0, message_payload: gsm(text) })
    t.equal(resp.command, 'data_sm_resp')
    t.equal(resp.command_status, Status.ESME_ROK)
    t.ok(resp.message_id, `message_id ${resp.message_id}`)
    await checkReceipt(t, resp.message_id ?? '', text)
  })

  t.test('ids are unique across many submits', async (t) => {
    const resps = await esme.submitMany(
      Array.from({ length: 50 }, (_, i) => ({ source_addr: SRC, destination_addr: DEST, short_message: gsm(`n${i}`), data_coding: 0 })),
      5,
    )
    t.ok(resps.every((r: Pdu) => r.command_status === 0), 'all accepted')
    t.equal(new Set(resps.map((r) => r.message_id)).size, 50, '50 distinct ids')
  })

})
