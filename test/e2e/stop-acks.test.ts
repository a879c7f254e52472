/**
 * A graceful stop keeps what an ESME acknowledged while it was stopping: receipts delivered to a receiver that answers
 * their deliver_sm only once the engine is stopping (SIGTERM; it waits for them before its unbind) are acknowledged in the store before the engine
 * exits, so the restarted engine does not deliver them again. (test/e2e/upstream.test.ts's restart saw the same thing
 * now and then: an ESME that acknowledged its last receipts as the engine stopped got them twice.)
 */
import t from 'tap'
import { FAST_SIMULATOR, startEngine } from '../helpers/engine'
import { gsm, isReceipt, openEsme, rawBindBody, rawPdu, RawSmpp } from '../helpers/esme'
import { sleep } from '../helpers/lifecycle'
import { CommandId as C } from '../../engine/protocol/constants'

const N = 5

t.test('receipts acknowledged while the engine stops are not delivered again after its restart', async (t) => {
  const engine = await startEngine(t, { simulator: FAST_SIMULATOR })
  const rx = await RawSmpp.connect(engine.smppPort)
  rx.write(rawPdu(C.bind_receiver, 1, rawBindBody('esme1', 'secret1')))
  t.equal((await rx.next()).commandStatus, 0, 'the raw receiver is bound')
  const tx = await openEsme(t, { port: engine.smppPort, kind: 'transmitter' })
  const resps = await tx.submitMany(Array.from({ length: N }, (_, i) => ({ source_addr: '447700900001', destination_addr: `44770090${String(i).padStart(4, '0')}`, short_message: gsm(`stop ${i}`), registered_delivery: 1 })))
  t.ok(resps.every((r) => r.command_status === 0), 'all accepted')
  const receipts: number[] = [] // their sequence numbers, unanswered so far
  while (receipts.length < N) {
    const p = await rx.next(10_000)
    if (p.commandId === C.deliver_sm) receipts.push(p.sequenceNumber)
  }
  // SIGTERM: the engine waits for its deliver_sm to be answered before it asks the receiver to unbind (draining its
  // window); the receiver answers them now, then the unbind.
  const restarted = engine.restart()
  await sleep(300)
  for (const seq of receipts) rx.write(rawPdu(C.deliver_sm_resp, seq, Buffer.from([0])))
  for (;;) {
    const p = await rx.next(10_000)
    if (p.commandId !== C.unbind) continue
    rx.write(rawPdu(C.unbind_resp, p.sequenceNumber))
    break
  }
  await restarted
  const again = await openEsme(t, { port: engine.smppPort, kind: 'receiver' })
  await sleep(1500)
  t.same(again.delivered.filter(isReceipt).map((p) => p.receipted_message_id), [], 'no receipt comes again: each was acknowledged before the stop')
})
