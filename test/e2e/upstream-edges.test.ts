/**
 * Upstream connector edge cases found in review: a restart of ours never sends a message upstream
 * twice; a transmitter + receiver pair bound to one upstream account shares its id map; one
 * unusable message_id in a read does not cost the other messages of that read their receipts.
 * In-process engines (createSmsc) against a scriptable node-smpp upstream.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createSmsc, type Smsc } from '../../engine/index'
import { openEsme, gsm, isReceipt } from '../helpers/esme'
import { startUpstream } from '../helpers/upstream'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function engine(t: { teardown(fn: () => unknown): void }, extra: Record<string, unknown>, logs: string[] = []): Promise<Smsc> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-upedge-'))
  const smsc = await createSmsc({
    dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'esme1', password: 'secret1' }],
    simulator: { deliveryDelayMs: [10, 20], outcomes: { DELIVRD: 1 } },
    log: { level: 'silent' },
    ...extra,
  }, { log: (level, msg, f) => { logs.push(`${level} ${msg} ${JSON.stringify(f ?? {})}`) } })
  t.teardown(async () => { await smsc.stop(); fs.rmSync(dataDir, { recursive: true, force: true }) })
  return smsc
}

const upConnector = (port: number, over: Record<string, unknown> = {}) => ({ id: 'up', kind: 'smpp', host: '127.0.0.1', port, systemId: 'x', password: 'y', windowSize: 10, reconnectMs: [100, 1000], responseMs: 30000, ...over })

t.test('a restart of the simulator connector does not send a scheduled message upstream a second time', async (t) => {
  const up = await startUpstream(t)
  const smsc = await engine(t, { connectors: [upConnector(up.port)], routes: { mt: [{ name: 'all', match: {}, action: { failover: ['up', 'simulator'] } }], mo: [] } })
  await sleep(300)
  const esme = await openEsme(t, { port: smsc.ports.smpp })
  const r = await esme.submit({ source_addr: '1', destination_addr: '447700900001', short_message: gsm('scheduled'), schedule_delivery_time: '000000000002000R' })
  t.equal(r.command_status, 0)
  smsc.faultActor('carrier')
  await sleep(3500)
  t.equal(up.received('submit_sm').length, 1, 'one submit_sm upstream for one accepted message')
})

t.test('a restart of the dispatcher does not resend a message an upstream is working on', async (t) => {
  let first = true
  const up = await startUpstream(t, { onSubmit: () => (first ? ((first = false), 'hold') : undefined) })
  const smsc = await engine(t, { connectors: [upConnector(up.port)], routes: { mt: [{ name: 'all', match: {}, action: { connector: 'up' } }], mo: [] } })
  await sleep(300)
  const esme = await openEsme(t, { port: smsc.ports.smpp })
  t.equal((await esme.submit({ source_addr: '1', destination_addr: '447700900001', short_message: gsm('held') })).command_status, 0)
  await sleep(200)
  smsc.faultActor('dispatcher')
  await sleep(1000)
  t.equal(up.received('submit_sm').length, 1, 'one submit_sm upstream for one accepted message')
})

t.test('a receipt on the receiver of a transmitter + receiver pair finds the message the transmitter sent', async (t) => {
  const sent: { id: string; s: unknown }[] = []
  const up = await startUpstream(t, { onSubmit: (_pdu, s, id) => { sent.push({ id, s }); return 0 } })
  const smsc = await engine(t, {
    connectors: [upConnector(up.port, { id: 'tx', bindType: 'transmitter' }), upConnector(up.port, { id: 'rx', bindType: 'receiver' })],
    routes: { mt: [{ name: 'all', match: {}, action: { connector: 'tx' } }], mo: [] },
  })
  await sleep(400)
  const esme = await openEsme(t, { port: smsc.ports.smpp })
  const r = await esme.submit({ source_addr: '1', destination_addr: '447700900001', short_message: gsm('hi'), registered_delivery: 1 })
  while (sent.length < 1) await sleep(20)
  await sleep(200)
  for (const s of up.sessions.filter((x) => x !== sent[0].s)) {
    s.deliver_sm({ source_addr: '447700900001', destination_addr: '1', esm_class: 0x04, data_coding: 0, receipted_message_id: sent[0].id, message_state: 2,
      short_message: Buffer.from(`id:${sent[0].id} sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000 text:x`) })
  }
  await esme.waitFor((p) => isReceipt(p) && p.receipted_message_id === r.message_id, 5000)
  t.pass('the ESME got its receipt through the receiver entry')
})

t.test('an empty message_id in a read costs only that message its receipt, not the others of the read', async (t) => {
  const held: { pdu: { response(o: Record<string, unknown>): unknown; destination_addr: unknown }; id: string }[] = []
  let session: any
  const up = await startUpstream(t, { onSubmit: (pdu, s, id) => { session = s; held.push({ pdu: pdu as never, id }); return 'hold' } })
  const logs: string[] = []
  const smsc = await engine(t, { connectors: [upConnector(up.port)], routes: { mt: [{ name: 'all', match: {}, action: { connector: 'up' } }], mo: [] } }, logs)
  await sleep(300)
  const esme = await openEsme(t, { port: smsc.ports.smpp })
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push((await esme.submit({ source_addr: '1', destination_addr: `4477009000${i}`, short_message: gsm(`m${i}`), registered_delivery: 1 })).message_id as string)
  while (held.length < 3) await sleep(20)
  session.socket.cork()
  held.forEach((h, i) => session.send(h.pdu.response({ message_id: i === 0 ? '' : h.id })))
  process.nextTick(() => session.socket.uncork())
  await sleep(300)
  for (const h of held.slice(1)) {
    session.deliver_sm({ source_addr: String(h.pdu.destination_addr), destination_addr: '1', esm_class: 0x04, data_coding: 0,
      short_message: Buffer.from(`id:${h.id} sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000 text:x`), receipted_message_id: h.id, message_state: 2 })
  }
  await sleep(1000)
  const got = esme.delivered.filter(isReceipt).map((p) => p.receipted_message_id as string)
  t.same(got.sort(), ids.slice(1).sort(), 'receipts for the two messages that got real upstream ids')
  t.ok(logs.some((l) => /unusable message_id/.test(l)), 'the unusable id is logged')
})

t.test('cancel_sm and replace_sm remove the upstream id links of what they end or supersede', async (t) => {
  const sent: string[] = []
  const up = await startUpstream(t, { onSubmit: (_pdu, _s, id) => { sent.push(id); return 0 } })
  const smsc = await engine(t, { connectors: [upConnector(up.port)], routes: { mt: [{ name: 'all', match: {}, action: { connector: 'up' } }], mo: [] } })
  await sleep(300)
  const ns = `smpp:127.0.0.1:${up.port}:x`
  const esme = await openEsme(t, { port: smsc.ports.smpp })
  const waitLinked = async (n: number) => { while (sent.length < n) await sleep(20); await sleep(300) }
  const a = await esme.submit({ source_addr: '1', destination_addr: '447700900001', short_message: gsm('to cancel'), registered_delivery: 1 })
  await waitLinked(1)
  t.same(smsc.store.upstreamLookup(ns, sent[0]), [a.message_id, 0], 'linked once the upstream took it')
  t.equal((await esme.request('cancel_sm', { message_id: a.message_id, source_addr: '1' })).command_status, 0)
  await sleep(200)
  t.equal(smsc.store.upstreamLookup(ns, sent[0]), undefined, 'cancel_sm removed the link')
  const b = await esme.submit({ source_addr: '1', destination_addr: '447700900002', short_message: gsm('to replace'), registered_delivery: 1 })
  await waitLinked(2)
  t.same(smsc.store.upstreamLookup(ns, sent[1]), [b.message_id, 0])
  t.equal((await esme.request('replace_sm', { message_id: b.message_id, source_addr: '1', short_message: gsm('replaced') })).command_status, 0)
  await waitLinked(3)
  t.equal(smsc.store.upstreamLookup(ns, sent[1]), undefined, 'replace_sm removed the old submission\'s link')
  t.same(smsc.store.upstreamLookup(ns, sent[2]), [b.message_id, 0], 'and the new submission is linked')
})
