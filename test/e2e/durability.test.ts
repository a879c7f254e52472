/**
 * A submit_sm_resp with status 0 is a promise: the message is committed before the response goes out.
 * SIGKILL the engine right after the last submit_sm_resp, restart on the same dataDir, and every message
 * must still be known (query_sm) and get exactly one receipt on the next receiver bind. The same after a
 * graceful SIGTERM. Message ids stay unique across restarts.
 */
import t from 'tap'
import { startEngine } from '../helpers/engine'
import { Status, gsm, isReceipt, openEsme, type Esme, type Pdu } from '../helpers/esme'

const SRC = '12345'
const DEST = '4915112345678'
const ACCOUNT = { systemId: 'esme1', password: 'secret1', windowSize: 20 }

async function submitN(esme: Esme, n: number, tag: string): Promise<string[]> {
  const resps = await esme.submitMany(
    Array.from({ length: n }, (_, i) => ({ source_addr: SRC, destination_addr: DEST, short_message: gsm(`${tag} ${i}`), data_coding: 0, registered_delivery: 1 })),
    10,
  )
  const bad = resps.filter((r) => r.command_status !== Status.ESME_ROK)
  if (bad.length) throw new Error(`${bad.length} submits refused, first status 0x${bad[0].command_status.toString(16)}`)
  return resps.map((r) => r.message_id ?? '')
}

async function checkRecovered(t: tap.Test, port: number, ids: string[]) {
  // every acknowledged message is known
  const tx = await openEsme(t, { port, kind: 'transmitter' })
  let next = 0
  const missing: string[] = []
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]
      const q = await tx.request('query_sm', { message_id: id, source_addr: SRC })
      if (q.command_status !== Status.ESME_ROK || q.message_id !== id) missing.push(`${id}: 0x${q.command_status.toString(16)}`)
    }
  }
  await Promise.all(Array.from({ length: 10 }, worker))
  t.same(missing, [], `query_sm finds all ${ids.length} messages`)

  // and each gets exactly one receipt on a receiver bind
  const rx = await openEsme(t, { port, kind: 'receiver' })
  const wanted = new Set(ids)
  const mine = (p: Pdu) => isReceipt(p) && wanted.has(p.receipted_message_id ?? '')
  const got = await rx.waitForMany(mine, ids.length, 60_000).catch((err: Error) => {
    const seen = new Set(rx.delivered.filter(mine).map((p) => p.receipted_message_id))
    t.fail(`${err.message.split('\n')[0]}; ${seen.size} distinct ids received, e.g. missing ${ids.filter((id) => !seen.has(id)).slice(0, 5).join(', ')}`)
    return [] as Pdu[]
  })
  t.equal(new Set(got.map((p) => p.receipted_message_id)).size, ids.length, `${ids.length} receipts, one per id`)
  await new Promise((r) => setTimeout(r, 1000))
  const all = rx.delivered.filter(mine)
  t.equal(all.length, ids.length, `no duplicate receipts (${all.length - ids.length} extra)`)
  await tx.close()
  await rx.close()
}

t.test('SIGKILL right after the last submit_sm_resp loses nothing', async (t) => {
  t.setTimeout(170_000)
  const N = 500
  const engine = await startEngine(t, { accounts: [ACCOUNT] })
  const tx = await openEsme(t, { port: engine.smppPort, kind: 'transmitter' })
  const ids = await submitN(tx, N, 'durable')
  await engine.kill() // kill -9, no chance to flush
  t.equal(new Set(ids).size, N, `${N} distinct ids acknowledged`)
  await tx.waitClosed(5000).catch(() => tx.close())

  await engine.restart()
  await checkRecovered(t, engine.smppPort, ids)

  const after = await openEsme(t, { port: engine.smppPort, kind: 'transmitter' })
  const newIds = await submitN(after, 20, 'after restart')
  const before = new Set(ids)
  t.same(newIds.filter((id) => before.has(id)), [], 'ids issued after the restart are new')
})

t.test('SIGTERM stops gracefully and loses nothing', async (t) => {
  t.setTimeout(120_000)
  const N = 100
  const engine = await startEngine(t, { accounts: [ACCOUNT], simulator: { deliveryDelayMs: [500, 1500], outcomes: { DELIVRD: 1 } } })
  const tx = await openEsme(t, { port: engine.smppPort, kind: 'transmitter' })
  const ids = await submitN(tx, N, 'graceful')
  const closed = tx.waitClosed(20_000).then(
    () => true,
    () => false,
  )
  const exit = await engine.stop()
  t.equal(exit, 0, 'exit code 0 after SIGTERM')
  t.ok(await closed, 'the bound ESME was disconnected on shutdown')
  t.ok(tx.received.some((p) => p.command === 'unbind'), 'the SMSC sent unbind before closing')

  await engine.restart()
  await checkRecovered(t, engine.smppPort, ids)
})
