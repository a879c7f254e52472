/**
 * Receipts for an ESME that is not bound to receive are kept and flushed when it binds (the Jasmin
 * complaint: DLRs dropped while the ESME is offline). Also: a receipt left unanswered because the receiver
 * dropped is delivered again on the next bind.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { projectRoot, startEngine } from '../helpers/engine'
import { Status, gsm, isReceipt, messageText, openEsme, parseReceipt, type Pdu } from '../helpers/esme'

const SRC = '12345'
const DEST = '4915112345678'

t.test('receipts kept for an unbound ESME and flushed on bind', async (t) => {
  const engine = await startEngine(t)
  const N = 5
  const tx = await openEsme(t, { port: engine.smppPort, kind: 'transmitter' })
  const resps = await tx.submitMany(
    Array.from({ length: N }, (_, i) => ({ source_addr: SRC, destination_addr: DEST, short_message: gsm(`offline ${i}`), data_coding: 0, registered_delivery: 1 })),
    5,
  )
  t.ok(resps.every((r) => r.command_status === Status.ESME_ROK), 'all accepted')
  const ids = resps.map((r) => r.message_id ?? '')
  await new Promise((r) => setTimeout(r, 1000)) // the carrier (10–50 ms) has finished with all of them
  // Support's view of "my receipts stopped": the account says how many wait, and that only a transmitter is bound.
  const token = await engine.operatorToken()
  const usage = async () => ((await engine.http('GET', `/api/v1/accounts/esme1`, undefined, token)).json as { usage: unknown }).usage
  t.same(await usage(), { binds: 1, quotaUsedToday: null, pendingDeliveries: N, receivers: 0 }, 'the receipts waiting, and no bind that takes them')
  const show = spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'smsc.js'), 'account', 'show', 'esme1', '--config', engine.configPath], { encoding: 'utf8', timeout: 60_000 })
  t.match(show.stdout, new RegExp(`waiting +${N} receipts/MO not yet acknowledged by a receiver \\(only transmitters bound: they go out when a receiver or transceiver binds\\)`), show.stderr)
  const unbind = await tx.unbind()
  t.equal(unbind.command_status, Status.ESME_ROK, 'transmitter unbound')
  t.equal(tx.delivered.length, 0, 'no deliver_sm on a transmitter bind')

  await new Promise((r) => setTimeout(r, 200))
  t.match(await usage(), { binds: 0, pendingDeliveries: N, receivers: 0 }, 'still waiting with no bind open')
  const rx = await openEsme(t, { port: engine.smppPort, kind: 'receiver' })
  const wanted = new Set(ids)
  const receipts = await rx.waitForMany((p: Pdu) => isReceipt(p) && wanted.has(p.receipted_message_id ?? ''), N, 10_000)
  t.same(new Set(receipts.map((r) => r.receipted_message_id)), wanted, 'one receipt for every id')
  await new Promise((r) => setTimeout(r, 500))
  t.equal(rx.delivered.filter((p) => isReceipt(p) && wanted.has(p.receipted_message_id ?? '')).length, N, 'no duplicates')
  t.match(await usage(), { binds: 1, pendingDeliveries: 0, receivers: 1 }, 'none waiting once the receiver acknowledged them')
})

t.test('a receipt not acknowledged before the receiver drops is delivered again on rebind', async (t) => {
  const engine = await startEngine(t, { timers: { responseMs: 1000 } })
  const tx = await openEsme(t, { port: engine.smppPort, kind: 'transmitter' })
  const rx1 = await openEsme(t, { port: engine.smppPort, kind: 'receiver' })
  rx1.deliverSmStatus = null // take the deliver_sm and never answer it
  const resp = await tx.submit({ source_addr: SRC, destination_addr: DEST, short_message: gsm('ack me'), data_coding: 0, registered_delivery: 1 })
  const id = resp.message_id ?? ''
  await rx1.waitFor((p) => p.receipted_message_id === id, 10_000)
  await rx1.close() // dropped without deliver_sm_resp
  const rx2 = await openEsme(t, { port: engine.smppPort, kind: 'receiver' })
  const again = await rx2.waitFor((p) => p.receipted_message_id === id, 10_000)
  t.ok(isReceipt(again), 'the receipt comes again on the new bind')
})

t.test('a receipt answered with an error status is redelivered', async (t) => {
  const engine = await startEngine(t, { timers: { responseMs: 1000 } })
  const trx = await openEsme(t, { port: engine.smppPort, kind: 'transceiver' })
  trx.deliverSmStatus = 0x08 // ESME_RSYSERR for the first attempt
  const resp = await trx.submit({ source_addr: SRC, destination_addr: DEST, short_message: gsm('retry me'), data_coding: 0, registered_delivery: 1 })
  const id = resp.message_id ?? ''
  await trx.waitFor((p) => p.receipted_message_id === id, 10_000)
  trx.deliverSmStatus = 0
  const both = await trx.waitForMany((p) => p.receipted_message_id === id, 2, 20_000)
  t.equal(both.length, 2, 'delivered again after the negative deliver_sm_resp')
})

t.test('a receipt refused for good (ESME_RX_P_APPN, ESME_RX_R_APPN) is not sent again; ESME_RX_T_APPN is', async (t) => {
  const engine = await startEngine(t, { extra: { receipts: { redeliveryMs: [200, 400] }, log: { level: 'warn' } } })
  const trx = await openEsme(t, { port: engine.smppPort, kind: 'transceiver' })
  const send = async (text: string) => (await trx.submit({ source_addr: SRC, destination_addr: DEST, short_message: gsm(text), data_coding: 0, registered_delivery: 1 })).message_id ?? ''
  // By the receipt's text: the first characters of the message it is for.
  const refusal: [string, number][] = [['refused for good', 0x65], ['rejected', 0x66], ['refused for now', 0x64]]
  trx.deliverSmStatus = (pdu) => refusal.find(([text]) => parseReceipt(messageText(pdu))?.text === text)?.[1] ?? 0
  const [permanent, rejected, temporary] = await Promise.all(refusal.map(([text]) => send(text)))
  await trx.waitForMany((p) => p.receipted_message_id === temporary, 3, 10_000)
  const count = (id: string) => trx.delivered.filter((p) => p.receipted_message_id === id).length
  t.equal(count(permanent), 1, 'ESME_RX_P_APPN: sent once, while ESME_RX_T_APPN was sent three times')
  t.equal(count(rejected), 1, 'ESME_RX_R_APPN: sent once')
  t.match(engine.output(), /the ESME refused a receipt or MO for good.*"refusal":"esme1 ESME_RX_P_APPN"/, 'a warning names the account and the status')
})
