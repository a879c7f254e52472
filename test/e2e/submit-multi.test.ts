/**
 * submit_multi end to end (SMPP 3.4 §4.5): per-destination outcome in submit_multi_resp (no_unsuccess and the
 * unsuccess_sme list), and a delivery receipt for each destination that was accepted.
 */
import t from 'tap'
import { startEngine } from '../helpers/engine'
import { Status, gsm, isReceipt, openEsme, type Pdu } from '../helpers/esme'

const SRC = '12345'
const dests = ['4915100000001', '4915100000002', '4915100000003']

t.test('submit_multi', async (t) => {
  const engine = await startEngine(t)
  const esme = await openEsme(t, { port: engine.smppPort, kind: 'transceiver' })
  const receiptFrom = (dest: string) => (p: Pdu) => isReceipt(p) && p.source_addr === dest

  t.test('three valid destinations: no_unsuccess 0 and a receipt for each', async (t) => {
    const resp = await esme.request('submit_multi', {
      source_addr: SRC,
      dest_address: dests.map((d) => ({ dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: d })),
      short_message: gsm('hello all'),
      data_coding: 0,
      registered_delivery: 1,
    })
    t.equal(resp.command, 'submit_multi_resp')
    t.equal(resp.command_status, Status.ESME_ROK)
    t.ok(resp.message_id, `message_id ${resp.message_id}`)
    t.same(resp.unsuccess_sme, [], 'no unsuccessful destinations')
    const receipts = await Promise.all(dests.map((d) => esme.waitFor(receiptFrom(d), 10_000)))
    t.equal(receipts.length, 3, 'one receipt per destination')
    for (const r of receipts) t.ok(r.receipted_message_id, `receipted_message_id ${r.receipted_message_id}`)
  })

  t.test('one invalid destination (dest_addr_ton 7) is listed in unsuccess_sme; the others go out', async (t) => {
    const bad = '4915100000009'
    const good = ['4915100000011', '4915100000012']
    const resp = await esme.request('submit_multi', {
      source_addr: SRC,
      dest_address: [
        { dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: good[0] },
        { dest_addr_ton: 7, dest_addr_npi: 1, destination_addr: bad }, // SMPP 3.4 §5.2.5: TON 7+ reserved
        { dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: good[1] },
      ],
      short_message: gsm('two of three'),
      data_coding: 0,
      registered_delivery: 1,
    })
    t.equal(resp.command_status, Status.ESME_ROK, 'the submit as a whole succeeds')
    const unsuccess = resp.unsuccess_sme ?? []
    t.equal(unsuccess.length, 1, 'no_unsuccess 1')
    t.equal(unsuccess[0]?.destination_addr, bad, 'the bad destination is named')
    t.not(unsuccess[0]?.error_status_code ?? 0, 0, `with a non-zero error_status_code (0x${(unsuccess[0]?.error_status_code ?? 0).toString(16)})`)
    await Promise.all(good.map((d) => esme.waitFor(receiptFrom(d), 10_000)))
    await new Promise((r) => setTimeout(r, 300))
    t.notOk(esme.delivered.some(receiptFrom(bad)), 'no receipt for the rejected destination')
  })
})
