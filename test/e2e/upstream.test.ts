/**
 * The upstream SMPP client connector end to end: engine A routes everything to engine B through a
 * connector (A binds to B as an ESME); an ESME on A submits 300 messages with registered_delivery 1
 * while B is stopped (SIGTERM) and started again on the same data dir and port in the middle; every
 * id A answered gets exactly one receipt on A carrying A's id (receipted_message_id and the id: of
 * the text), none lost, none duplicated. Then A against a node-smpp upstream (test/helpers/upstream.ts)
 * that sends every receipt twice (at-least-once) and an MO: the ESME on A gets each receipt once,
 * with A's ids, and the MO through A's MO routing table, its concatenated parts by UDH or by SAR TLVs.
 */
import t from 'tap'
import fs from 'node:fs'
import http from 'node:http'
import type net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { devTlsCert } from '../../engine/transport/listener'
import { startEngine } from '../helpers/engine'
import { gsm, isMo, isReceipt, messageText, openEsme, parseReceipt, type Pdu } from '../helpers/esme'
import { startUpstream, type NodePdu } from '../helpers/upstream'
import { checkReceipts, receiptIds, receiptsOf, sleep, until, waitReceipts } from '../helpers/lifecycle'

t.test('engine A → engine B through the SMPP client connector, B restarted in the middle', async (t) => {
  const B = await startEngine(t, {
    accounts: [{ systemId: 'engA', password: 'pwA', windowSize: 50 }],
    simulator: { deliveryDelayMs: [20, 200], outcomes: { DELIVRD: 1 } },
    extra: { log: { level: 'warn' } },
  })
  const A = await startEngine(t, {
    accounts: [{ systemId: 'esme1', password: 'secret1', windowSize: 50 }],
    extra: {
      connectors: [{ id: 'b', kind: 'smpp', host: '127.0.0.1', port: B.smppPort, systemId: 'engA', password: 'pwA', windowSize: 50, reconnectMs: [100, 1000], responseMs: 3000 }],
      routes: { mt: [{ name: 'all', match: {}, action: { connector: 'b' } }], mo: [] },
      dispatch: { retryMs: [100, 1000] },
      log: { level: 'warn' },
    },
  })
  const esme = await openEsme(t, { port: A.smppPort, kind: 'transceiver' })
  const N = 300
  const ids: string[] = []
  const refused: number[] = []
  let restart: Promise<void> | null = null
  let stoppingAt = 0
  let restartedAt = 0
  let receiptsBefore = 0
  const acceptedAt = new Map<string, number>()
  const submit = async (i: number) => {
    const r = await esme.submit({ source_addr: '447700900001', destination_addr: `4477009${String(i).padStart(5, '0')}`, short_message: gsm(`to B ${i}`), data_coding: 0, registered_delivery: 1 })
    if (r.command_status === 0 && r.message_id) { ids.push(r.message_id); acceptedAt.set(r.message_id, Date.now()) }
    else refused.push(r.command_status)
  }
  // A first third at full speed; once B has answered some of them with receipts (the rest still in
  // B's carrier), B goes down and comes back while the rest is submitted.
  let next = 0
  const worker = (upTo: number, pauseMs: number) => async () => {
    while (next < upTo) {
      await submit(next++)
      if (pauseMs > 0) await sleep(pauseMs)
    }
  }
  await Promise.all([1, 2, 3, 4, 5].map(worker(100, 0)))
  while (receiptsOf(esme).size < 20) await sleep(5)
  receiptsBefore = receiptsOf(esme).size
  stoppingAt = Date.now()
  restart = B.restart().then(() => { restartedAt = Date.now() })
  await Promise.all([1, 2, 3, 4, 5].map(worker(N, 50))) // the rest over about 2 s
  t.same(refused, [], 'A accepted every submit (B being down is A\'s business, not the ESME\'s)')
  await restart
  t.ok(restartedAt > 0, 'B was stopped (SIGTERM) and started again on the same data dir and port')
  t.match(B.output(), /engine exited: code 0/, 'B exited cleanly on SIGTERM')
  const whileDown = ids.filter((id) => acceptedAt.get(id)! > stoppingAt && acceptedAt.get(id)! < restartedAt).length
  t.ok(receiptsBefore < 100, `B stopped with messages in flight (${receiptsBefore} of 100 receipts by then)`)
  t.ok(whileDown > 10, `${whileDown} messages accepted by A while B was restarting`)

  const missing = await waitReceipts(esme, ids, 30_000)
  t.equal(missing, 0, `every id got a receipt (${missing} of ${ids.length} missing)`)
  await sleep(500) // a duplicate would come now
  const check = checkReceipts(esme, ids, true)
  t.same(check, { missing: [], duplicated: [], unknown: [], textMismatch: [] }, 'exactly one receipt per id, carrying A\'s id (TLV and text)')
  const stats = [...receiptsOf(esme).values()].map((l) => receiptIds(l[0]).stat)
  t.ok(stats.every((s) => s === 'DELIVRD'), `all DELIVRD (${[...new Set(stats)].join(', ')})`)
  t.equal(new Set(ids).size, N, 'N distinct ids from A')
})

t.test('an upstream over TLS with a private certificate: trusted through the connector\'s ca; without it the link is refused and the log says why', async (t) => {
  const B = await startEngine(t, { accounts: [{ systemId: 'engA', password: 'pwA' }], devTls: true })
  const caFile = path.join(B.dataDir, 'tls', 'dev-cert.pem') // B's self-signed certificate (smsc start --dev-tls)
  const engineA = (ca: string | null) => startEngine(t, {
    accounts: [{ systemId: 'esme1', password: 'secret1' }],
    extra: {
      connectors: [{ id: 'b', kind: 'smpp', host: '127.0.0.1', port: B.tlsPort, tls: true, ca, systemId: 'engA', password: 'pwA', reconnectMs: [100, 400] }],
      routes: { mt: [{ name: 'all', match: {}, action: { connector: 'b' } }], mo: [] },
      log: { level: 'info' },
    },
  })
  const trusting = await engineA(caFile)
  const esme = await openEsme(t, { port: trusting.smppPort, kind: 'transceiver' })
  const r = await esme.submit({ source_addr: '447700900001', destination_addr: '447700900002', short_message: gsm('over TLS'), registered_delivery: 1 })
  t.equal(r.command_status, 0)
  t.equal(await waitReceipts(esme, [r.message_id as string], 10_000), 0, 'the receipt came back from B over the TLS link')
  t.match(trusting.output(), /bound to upstream/, 'the link came up (bound over TLS)')

  const untrusting = await engineA(null)
  const deadline = Date.now() + 10_000
  while (!/self[- ]signed certificate/.test(untrusting.output()) && Date.now() < deadline) await sleep(100)
  t.match(untrusting.output(), /upstream link down.*self[- ]signed certificate/, 'without ca: refused, and the log names the certificate problem')
  t.ok(untrusting.running, 'the engine stays up')

  const other = await devTlsCert(fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-other-ca-'))) // a CA that did not sign B's certificate
  const wrong = await engineA(other.certPath)
  const until = Date.now() + 10_000
  while (!/checked against ca/.test(wrong.output()) && Date.now() < until) await sleep(100)
  t.match(wrong.output(), new RegExp(`upstream link down.*checked against ca ${other.certPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 'with the wrong ca: the log says which file the certificate was checked against')
})

t.test('engine A → a node-smpp upstream: receipts with A\'s ids, once each; the upstream\'s MO reaches the ESME', async (t) => {
  const sent = new Map<string, string>() // upstream id → destination
  const up = await startUpstream(t, {
    onSubmit: (pdu: NodePdu, session, messageId) => {
      sent.set(messageId, String(pdu.destination_addr))
      const text = `id:${messageId} sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000 text:hello`
      const receipt = {
        source_addr: String(pdu.destination_addr), destination_addr: String(pdu.source_addr), esm_class: 0x04, data_coding: 0,
        short_message: Buffer.from(text), receipted_message_id: messageId, message_state: 2,
      }
      // after the submit_sm_resp; twice: an upstream is at least once too
      setTimeout(() => { session.deliver_sm(receipt); session.deliver_sm(receipt) }, 30)
      return 0
    },
  })
  const A = await startEngine(t, {
    accounts: [{ systemId: 'esme1', password: 'secret1' }, { systemId: 'esme2', password: 'secret2' }],
    extra: {
      connectors: [{ id: 'up', kind: 'smpp', host: '127.0.0.1', port: up.port, systemId: 'engA', password: 'pwA', windowSize: 20, reconnectMs: [100, 1000] }],
      routes: {
        mt: [{ name: 'all', match: {}, action: { connector: 'up' } }],
        mo: [{ name: 'short-code', match: { destPrefix: ['7000'] }, account: 'esme2' }, { name: 'join', match: { keyword: 'JOIN' }, account: 'esme2' }],
      },
      dispatch: { retryMs: [100, 1000] },
      log: { level: 'warn' },
    },
  })
  const esme = await openEsme(t, { port: A.smppPort, kind: 'transceiver' })
  const list = Array.from({ length: 30 }, (_, i) => ({ source_addr: '447700900001', destination_addr: `44770090${String(i).padStart(4, '0')}`, short_message: gsm(`up ${i}`), registered_delivery: 1 }))
  const resps = await esme.submitMany(list, 5)
  const ids = resps.map((r) => r.message_id as string)
  t.ok(resps.every((r) => r.command_status === 0), 'all accepted by A')
  t.equal(await waitReceipts(esme, ids, 10_000), 0, 'a receipt for every id')
  await sleep(500) // the second copy of each upstream receipt has arrived by now
  t.equal(up.received('submit_sm').length, 30, 'the upstream got each message once')
  t.same(checkReceipts(esme, ids, true), { missing: [], duplicated: [], unknown: [], textMismatch: [] }, 'one receipt per id on the ESME, with A\'s id, although the upstream sent each twice')
  const r0 = receiptsOf(esme).get(ids[0])![0]
  t.equal(parseReceipt(messageText(r0))?.stat, 'DELIVRD')
  t.notOk(ids.some((id) => sent.has(id)), 'no receipt carries an upstream id')
  // receipt i is for the destination of message i
  const destOf = new Map(resps.map((r, i) => [r.message_id as string, list[i].destination_addr]))
  const wrongDest = ids.filter((id) => receiptsOf(esme).get(id)![0].source_addr !== destOf.get(id))
  t.same(wrongDest, [], 'each receipt is for its own message (source_addr = the destination)')
  t.match((await A.http('GET', '/metrics')).body, 'smsc_connector_final_seconds_count{connector="up"} 30\n', 'each final receipt timed once under its connector (the duplicates not)')

  // MO from the upstream → MO table → esme2
  const rx = await openEsme(t, { port: A.smppPort, kind: 'receiver', systemId: 'esme2', password: 'secret2' })
  const session = up.sessions[0]
  t.ok(session, 'A is bound to the upstream')
  const moResp = new Promise<NodePdu>((resolve) => session.deliver_sm({ source_addr_ton: 1, source_addr_npi: 1, source_addr: '447700900777', destination_addr: '70001234', esm_class: 0, data_coding: 0, short_message: Buffer.from('MO from upstream') }, resolve))
  const mo: Pdu = await rx.waitFor((p) => isMo(p) && p.source_addr === '447700900777', 10_000)
  t.equal(messageText(mo), 'MO from upstream')
  t.equal(mo.destination_addr, '70001234')
  t.equal((await moResp).command_status, 0, 'the upstream\'s MO is acknowledged once stored')
  // the first part of a concatenated MO: its keyword is read after the UDH
  const udh = Buffer.from([0x05, 0x00, 0x03, 0x11, 0x02, 0x01])
  const joinResp = await new Promise<NodePdu>((resolve) => session.deliver_sm({ source_addr: '447700900779', destination_addr: '90001234', esm_class: 0x40, data_coding: 0, short_message: Buffer.concat([udh, Buffer.from('JOIN the club, part one of two')]) }, resolve))
  t.equal(joinResp.command_status, 0, 'a concatenated MO\'s first part is routed by its keyword (the UDH is not text)')
  await rx.waitFor((p) => isMo(p) && p.source_addr === '447700900779', 10_000)
  // ... and its second part, which has no keyword, goes where the first went
  const partOf = (from: string, ref: number, seq: number, text: string) => new Promise<NodePdu>((resolve) => session.deliver_sm({
    source_addr: from, destination_addr: '90001234', esm_class: 0x40, data_coding: 0,
    short_message: Buffer.concat([Buffer.from([0x05, 0x00, 0x03, ref, 0x02, seq]), Buffer.from(text)]),
  }, resolve))
  t.equal((await partOf('447700900779', 0x11, 2, ' and part two')).command_status, 0, "a concatenated MO's second part follows its first part's route")
  await rx.waitFor((p) => isMo(p) && p.source_addr === '447700900779' && messageText(p).includes('part two'), 10_000)
  // a second part that comes before its first: refused for now (ESME_RX_T_APPN), taken once the first has come
  t.equal((await partOf('447700900780', 0x22, 2, ' early part two')).command_status, 0x64, 'a part before its first part: ESME_RX_T_APPN, sent again later')
  t.equal((await partOf('447700900780', 0x22, 1, 'JOIN late part one')).command_status, 0, 'its first part, by keyword')
  t.equal((await partOf('447700900780', 0x22, 2, ' early part two')).command_status, 0, 'the second part, sent again, follows it')
  await rx.waitFor((p) => isMo(p) && p.source_addr === '447700900780' && messageText(p).includes('early part two'), 10_000)
  // a part numbered 0 (malformed) is routed alone and decides nothing for the others
  t.equal((await partOf('447700900781', 0x33, 0, 'JOIN numbered zero')).command_status, 0, 'part 0: routed on its own (by its keyword)')
  t.equal((await partOf('447700900781', 0x33, 2, ' part two')).command_status, 0x64, 'the real part 2 still waits for its first part')
  // An MO that no route matches is refused (SMPP 3.4 §5.1.3 ESME_RX_P_APPN), not acknowledged and dropped
  const refused = await new Promise<NodePdu>((resolve) => session.deliver_sm({ source_addr: '447700900778', destination_addr: '90001234', esm_class: 0, data_coding: 0, short_message: Buffer.from('to nobody') }, resolve))
  t.equal(refused.command_status, 0x65, 'unrouted MO: deliver_sm_resp ESME_RX_P_APPN')
  await sleep(200)
  t.notOk(esme.delivered.some((p) => isMo(p)), 'not to esme1')
  t.notOk(rx.delivered.some((p) => isReceipt(p)), 'esme2 got no receipt of esme1')
})

t.test('engine A restarted while engine B holds its messages and sends their receipts', async (t) => {
  const B = await startEngine(t, {
    accounts: [{ systemId: 'engA', password: 'pwA', windowSize: 50 }],
    simulator: { deliveryDelayMs: [300, 3000], outcomes: { DELIVRD: 1 } },
    extra: { log: { level: 'warn' } },
  })
  const A = await startEngine(t, {
    accounts: [{ systemId: 'esme1', password: 'secret1', windowSize: 50 }],
    extra: {
      connectors: [{ id: 'b', kind: 'smpp', host: '127.0.0.1', port: B.smppPort, systemId: 'engA', password: 'pwA', windowSize: 50, reconnectMs: [100, 1000] }],
      routes: { mt: [{ name: 'all', match: {}, action: { connector: 'b' } }], mo: [] },
      dispatch: { retryMs: [100, 1000] },
      log: { level: 'warn' },
    },
  })
  let esme = await openEsme(t, { port: A.smppPort, kind: 'transceiver' })
  const N = 200
  const list = Array.from({ length: N }, (_, i) => ({ source_addr: '447700900001', destination_addr: `4477008${String(i).padStart(5, '0')}`, short_message: gsm(`A restart ${i}`), registered_delivery: 1 }))
  const resps = await esme.submitMany(list, 10)
  const ids = resps.map((r) => r.message_id as string)
  t.ok(resps.every((r) => r.command_status === 0), 'all accepted by A')
  // receipts are flowing from B (its carrier spreads them over 3 s): restart A in the middle of them
  while (receiptsOf(esme).size < 40) await sleep(5)
  const before = receiptsOf(esme)
  t.ok(before.size < N, `A stops with receipts still to come (${before.size} of ${N} received)`)
  await esme.close()
  await A.restart()
  esme = await openEsme(t, { port: A.smppPort, kind: 'transceiver' })
  const rest = ids.filter((id) => !before.has(id))
  const missing = await waitReceipts(esme, rest, 20_000)
  const lost = rest.filter((id) => !receiptsOf(esme).has(id))
  t.equal(missing, 0, `every receipt B sent around A's restart reached the ESME (${missing} missing, e.g. ${lost.slice(0, 5).join(' ')})`)
  await sleep(500)
  const dup = ids.filter((id) => (before.get(id)?.length ?? 0) + (receiptsOf(esme).get(id)?.length ?? 0) > 1)
  t.same(dup, [], 'no receipt twice across the restart')
  t.same(checkReceipts(esme, rest).textMismatch, [], 'carrying A\'s id')
})

t.test('engine A killed (SIGKILL) while engine B sends receipts: none is lost', async (t) => {
  // A answers B's deliver_sm only once the receipt is safe with A; a receipt A acknowledged and
  // then lost in a crash would never come again (B removed it from its queue).
  const B = await startEngine(t, {
    accounts: [{ systemId: 'engA', password: 'pwA', windowSize: 50 }],
    simulator: { deliveryDelayMs: [500, 1500], outcomes: { DELIVRD: 1 } },
    extra: { log: { level: 'warn' } },
  })
  const A = await startEngine(t, {
    accounts: [{ systemId: 'esme1', password: 'secret1', windowSize: 50 }],
    extra: {
      connectors: [{ id: 'b', kind: 'smpp', host: '127.0.0.1', port: B.smppPort, systemId: 'engA', password: 'pwA', windowSize: 50, reconnectMs: [100, 1000] }],
      routes: { mt: [{ name: 'all', match: {}, action: { connector: 'b' } }], mo: [] },
      dispatch: { retryMs: [100, 1000] },
      log: { level: 'warn' },
    },
  })
  let esme = await openEsme(t, { port: A.smppPort, kind: 'transceiver' })
  const N = 300
  const list = Array.from({ length: N }, (_, i) => ({ source_addr: '447700900001', destination_addr: `4477007${String(i).padStart(5, '0')}`, short_message: gsm(`A kill ${i}`), registered_delivery: 1 }))
  const resps = await esme.submitMany(list, 10)
  const ids = resps.map((r) => r.message_id as string)
  t.ok(resps.every((r) => r.command_status === 0), 'all accepted by A')
  while (receiptsOf(esme).size < 100) await sleep(2)
  await A.kill()
  const before = receiptsOf(esme)
  await esme.close()
  await A.restart()
  esme = await openEsme(t, { port: A.smppPort, kind: 'transceiver' })
  const rest = ids.filter((id) => !before.has(id))
  const missing = await waitReceipts(esme, rest, 20_000)
  const lost = rest.filter((id) => !receiptsOf(esme).has(id))
  t.equal(missing, 0, `every receipt reached the ESME after A's crash (${missing} of ${rest.length} missing, e.g. ${lost.slice(0, 5).join(' ')})`)
})

t.test("an upstream's MO in parts with SAR TLVs instead of a UDH: later parts follow the first's keyword route, and say where they sit", async (t) => {
  const events: Record<string, unknown>[] = []
  const hook = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => { events.push(...(JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>[])); res.end('ok') })
  })
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => { hook.closeAllConnections(); hook.close(() => resolve()) }))
  const up = await startUpstream(t)
  const A = await startEngine(t, {
    accounts: [
      { systemId: 'hook', password: 'secret1', webhooks: { receipts: null, mo: `http://127.0.0.1:${(hook.address() as net.AddressInfo).port}/mo` } },
      { systemId: 'esme2', password: 'secret2' },
    ] as never,
    extra: {
      connectors: [{ id: 'up', kind: 'smpp', host: '127.0.0.1', port: up.port, systemId: 'engA', password: 'pwA', reconnectMs: [100, 1000] }],
      routes: {
        mt: [{ name: 'all', match: {}, action: { connector: 'up' } }],
        mo: [{ name: 'join', match: { keyword: 'JOIN' }, account: 'hook' }, { name: 'club', match: { keyword: 'CLUB' }, account: 'esme2' }],
      },
      log: { level: 'warn' },
    },
  })
  const rx = await openEsme(t, { port: A.smppPort, kind: 'receiver', systemId: 'esme2', password: 'secret2' })
  const deadline = Date.now() + 10_000
  while (up.sessions.length === 0 && Date.now() < deadline) await sleep(50)
  const session = up.sessions[0]
  t.ok(session, 'A is bound to the upstream')
  // SMPP 3.4 §5.3.2.22–24: sar_msg_ref_num (16 bits), sar_total_segments, sar_segment_seqnum
  const part = (from: string, ref: number, seq: number, text: string) => new Promise<NodePdu>((resolve) => session.deliver_sm({
    source_addr_ton: 1, source_addr_npi: 1, source_addr: from, destination_addr: '90001234', esm_class: 0, data_coding: 0,
    short_message: Buffer.from(text), sar_msg_ref_num: ref, sar_total_segments: 2, sar_segment_seqnum: seq,
  }, resolve))

  t.equal((await part('447700900791', 0x1234, 1, 'JOIN the club, part one')).command_status, 0, 'the first part: by its keyword')
  t.equal((await part('447700900791', 0x1234, 2, ' and part two')).command_status, 0, 'the second part, no keyword, follows it')
  await until(() => events.filter((e) => e.from === '+447700900791').length >= 2, 'both parts at the webhook')
  const got = events.filter((e) => e.from === '+447700900791')
  t.same(got.map((e) => [e.part, e.ref, e.text]).sort(), [[[1, 2], 0x1234, 'JOIN the club, part one'], [[2, 2], 0x1234, ' and part two']],
    'the MO events carry part and ref from the TLVs, as for a UDH')

  t.equal((await part('447700900792', 0x2345, 2, ' early part two')).command_status, 0x64, 'a part before its first: ESME_RX_T_APPN, sent again later')
  t.equal((await part('447700900792', 0x2345, 1, 'CLUB part one')).command_status, 0, 'its first part')
  t.equal((await part('447700900792', 0x2345, 2, ' early part two')).command_status, 0, 'the second, sent again, follows it')
  const two = await rx.waitFor((p) => isMo(p) && p.source_addr === '447700900792' && messageText(p).includes('part two'), 10_000)
  t.match(two, { sar_msg_ref_num: 0x2345, sar_total_segments: 2, sar_segment_seqnum: 2 }, 'the deliver_sm to the bind carries the TLVs the part came with')
})
