/**
 * Upstream receipt ids that are not written as the submit_sm_resp id was (connectors[].receiptIds,
 * engine/upstream-ids.ts, docs/CONNECTORS.md). An in-process engine against a scripted node-smpp
 * upstream: each destination gets the message_id and the receipt (receipted_message_id, text id:) the
 * script says. Without the option a hex-submit / decimal-receipt upstream's receipts match nothing: each
 * is acknowledged with status 0, counted in smsc_connector_receipts_unmatched_total and warned about once,
 * and the message stays ENROUTE; with `receiptIds: "hex-submit"` the ESME gets DELIVRD with our id.
 * Without any option: an id in the other case, or a receipted_message_id in another form than the text's
 * id, still matches; leading zeros are not guessed (they are with "hex"). A duplicate receipt of a settled message
 * is stale: its text id never settles another message (nor does a text id that does not agree with an unknown TLV
 * id), and it is logged at debug, not counted unmatched.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import http from 'node:http'
import { createSmsc, type Smsc } from '../../engine/index'
import { MessageState } from '../../engine/protocol/constants'
import { gsm, isReceipt, messageText, openEsme, parseReceipt, type Esme } from '../helpers/esme'
import { startUpstream, type NodeSession } from '../helpers/upstream'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function engine(t: { teardown(fn: () => unknown): void }, connector: Record<string, unknown>, logs: string[]): Promise<Smsc> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-upids-'))
  const smsc = await createSmsc({
    dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'esme1', password: 'secret1' }],
    connectors: [connector],
    routes: { mt: [{ name: 'all', match: {}, action: { connector: 'up' } }], mo: [] },
    log: { level: 'silent' },
  }, { log: (level, msg, f) => { logs.push(`${level} ${msg} ${JSON.stringify(f ?? {})}`) } })
  t.teardown(async () => { await smsc.stop(); fs.rmSync(dataDir, { recursive: true, force: true }) })
  return smsc
}

const upConnector = (port: number, over: Record<string, unknown> = {}) => ({ id: 'up', kind: 'smpp', host: '127.0.0.1', port, systemId: 'x', password: 'y', reconnectMs: [100, 1000], ...over })

/**
 * What the upstream answers for a destination: its message_id, and the receipt's TLV id (none if absent) and text id;
 * `hold`: no receipt until the test sends one (`send`).
 */
interface Scripted { id: string; tlv?: string; text: string; hold?: boolean }

/**
 * A node-smpp upstream that answers each submit_sm with the scripted message_id and 50 ms later sends the
 * scripted DELIVRD receipt; `resps` collects the command_status of every deliver_sm_resp, `resend` sends a
 * destination's receipt again, `send` sends one for a destination, its ids as scripted or as given.
 */
async function scriptedUpstream(t: Parameters<typeof startUpstream>[0], script: Record<string, Scripted>) {
  const resps: number[] = []
  const receipts = new Map<string, (ids?: { tlv?: string; text?: string }) => void>()
  const up = await startUpstream(t, {
    onSubmit: (pdu, session: NodeSession) => {
      const dest = String(pdu.destination_addr)
      const s = script[dest]
      session.send(pdu.response({ message_id: s.id }))
      const send = (ids: { tlv?: string; text?: string } = s) => {
        const receipt: Record<string, unknown> = {
          source_addr: dest, destination_addr: String(pdu.source_addr), esm_class: 0x04, data_coding: 0,
          short_message: Buffer.from(`id:${ids.text} sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000 text:x`),
        }
        if (ids.tlv !== undefined) { receipt.receipted_message_id = ids.tlv; receipt.message_state = 2 }
        session.deliver_sm(receipt, (r) => resps.push(r.command_status))
      }
      receipts.set(dest, send)
      if (!s.hold) setTimeout(send, 50)
      return 'hold' // answered above, with the scripted id
    },
  })
  return {
    up, resps,
    resend: (dest: string) => receipts.get(dest)!(),
    send: (dest: string, ids?: { tlv?: string; text?: string }) => receipts.get(dest)!(ids),
  }
}

function metrics(smsc: Smsc): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: smsc.ports.http, path: '/metrics' }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { body += c })
      res.on('end', () => resolve(body))
    }).on('error', reject)
  })
}

async function unmatchedCount(smsc: Smsc): Promise<number | null> {
  const m = /^smsc_connector_receipts_unmatched_total\{connector="up"\} (\d+)$/m.exec(await metrics(smsc))
  return m ? Number(m[1]) : null
}

async function until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

async function submitTo(esme: Esme, dests: string[]): Promise<string[]> {
  const ids: string[] = []
  for (const d of dests) {
    const r = await esme.submit({ source_addr: '1', destination_addr: d, short_message: gsm(`to ${d}`), registered_delivery: 1 })
    if (r.command_status !== 0) throw new Error(`submit to ${d} refused: ${r.command_status}`)
    ids.push(r.message_id as string)
  }
  return ids
}

/** The stat of the receipt each id got, '' for none. */
const statsOf = (esme: Esme, ids: string[]) => ids.map((id) => {
  const p = esme.delivered.find((x) => isReceipt(x) && x.receipted_message_id === id)
  return p ? parseReceipt(messageText(p))?.stat ?? '?' : ''
})

// The operator's trial: ids 1000, 1001, 1002 in hex; receipts say id:4096, id:4097, id:4098.
const HEX_SUBMIT: Record<string, Scripted> = {
  447700900001: { id: '1000', text: '4096' },
  447700900002: { id: '1001', text: '4097' },
  447700900003: { id: '1002', text: '4098' },
}
const DESTS = Object.keys(HEX_SUBMIT)

t.test('hex submit ids, decimal receipt ids, no receiptIds: each receipt is acknowledged (status 0), counted, warned about once; the messages stay ENROUTE', async (t) => {
  const { up, resps } = await scriptedUpstream(t, HEX_SUBMIT)
  const logs: string[] = []
  const smsc = await engine(t, upConnector(up.port), logs)
  t.equal(await unmatchedCount(smsc), 0, 'the metric exists for the connector before any receipt')
  await sleep(300)
  const esme = await openEsme(t, { port: smsc.ports.smpp })
  const ids = await submitTo(esme, DESTS)
  await until(() => resps.length === 3, 'three deliver_sm_resp')
  t.same(resps, [0, 0, 0], 'the upstream got status 0 for each (it does not send them again)')
  t.equal(await unmatchedCount(smsc), 3, 'smsc_connector_receipts_unmatched_total{connector="up"} counts all three')
  const warns = logs.filter((l) => l.startsWith('warn ') && /receipt for a message id we do not know/.test(l))
  t.equal(warns.length, 1, `one warning for three (rate-limited): ${warns.join(' | ')}`)
  t.match(warns[0], /"connector":"up"/, 'it names the connector')
  t.match(warns[0], /"upstreamId":"4096"/, 'and the id received')
  await sleep(300)
  t.same(statsOf(esme, ids), ['', '', ''], 'no receipt reached the ESME')
  t.same(ids.map((id) => (smsc.store.getMessage(id) as { state: number }).state), [MessageState.ENROUTE, MessageState.ENROUTE, MessageState.ENROUTE], 'the messages are still ENROUTE')
})

t.test('the same upstream with receiptIds "hex-submit": every receipt matches, the ESME gets DELIVRD with our ids; a duplicate is not counted', async (t) => {
  const { up, resps, resend } = await scriptedUpstream(t, HEX_SUBMIT)
  const logs: string[] = []
  const smsc = await engine(t, upConnector(up.port, { receiptIds: 'hex-submit' }), logs)
  await sleep(300)
  const esme = await openEsme(t, { port: smsc.ports.smpp })
  const ids = await submitTo(esme, DESTS)
  await esme.waitForMany((p) => isReceipt(p) && ids.includes(p.receipted_message_id as string), 3, 5000)
  t.same(statsOf(esme, ids), ['DELIVRD', 'DELIVRD', 'DELIVRD'], 'one DELIVRD receipt per message, with our id')
  t.same(ids.map((id) => (smsc.store.getMessage(id) as { state: number }).state), [MessageState.DELIVERED, MessageState.DELIVERED, MessageState.DELIVERED], 'stored as DELIVERED')
  await until(() => resps.length === 3, 'three deliver_sm_resp')
  resend(DESTS[0]) // at least once: the upstream sends a receipt again
  await until(() => resps.length === 4, 'the duplicate answered')
  t.same(resps, [0, 0, 0, 0], 'all answered with status 0')
  t.equal(await unmatchedCount(smsc), 0, 'nothing counted unmatched, the duplicate of a settled message included')
  t.notOk(logs.some((l) => l.startsWith('warn ') && /we do not know/.test(l)), 'and nothing warned')
  t.ok(logs.some((l) => l.startsWith('debug ') && /already settled upstream id/.test(l) && /"upstreamId":"4096"/.test(l)), 'the duplicate is logged at debug')
  await sleep(200)
  t.equal(esme.delivered.filter((p) => isReceipt(p) && p.receipted_message_id === ids[0]).length, 1, 'the ESME got one receipt for it, not two')
})

t.test('without receiptIds: an id in the other case and a receipted_message_id the text corrects still match; leading zeros are not guessed', async (t) => {
  const script: Record<string, Scripted> = {
    447700900011: { id: 'ab12cd', tlv: 'AB12CD', text: 'AB12CD' }, // upper-case hex for a lower-case id
    447700900012: { id: 'ab12ce', tlv: String(0xab12ce), text: 'ab12ce' }, // TLV in decimal, text as submitted
    447700900013: { id: '00ab12cf', text: 'ab12cf' }, // leading zeros dropped
    447700900014: { id: 'Ab12d0', text: 'AB12D0' }, // mixed case: maybe a case-sensitive id, never folded
  }
  const { up, resps } = await scriptedUpstream(t, script)
  const logs: string[] = []
  const smsc = await engine(t, upConnector(up.port), logs)
  await sleep(300)
  const esme = await openEsme(t, { port: smsc.ports.smpp })
  const ids = await submitTo(esme, Object.keys(script))
  await until(() => resps.length === 4, 'four deliver_sm_resp')
  await esme.waitForMany((p) => isReceipt(p) && ids.includes(p.receipted_message_id as string), 2, 5000)
  await sleep(300)
  t.same(statsOf(esme, ids), ['DELIVRD', 'DELIVRD', '', ''], 'case and TLV-vs-text matched; leading zeros and mixed case not')
  t.equal(await unmatchedCount(smsc), 2, 'the two not matched are counted')
  t.same(resps, [0, 0, 0, 0], 'all answered with status 0')
})

t.test('receiptIds "hex": leading zeros and case are ignored; an id that is no number still matches as it is', async (t) => {
  const script: Record<string, Scripted> = {
    447700900021: { id: '00ab12cf', text: 'AB12CF' },
    447700900022: { id: 'ff', tlv: '00FF', text: '00FF' },
    447700900023: { id: 'msg-7', text: 'msg-7' },
    447700900024: { id: 'msg-8', text: 'MSG-8' }, // not a number: compared exactly, so not this one
  }
  const { up, resps } = await scriptedUpstream(t, script)
  const logs: string[] = []
  const smsc = await engine(t, upConnector(up.port, { receiptIds: 'hex' }), logs)
  await sleep(300)
  const esme = await openEsme(t, { port: smsc.ports.smpp })
  const ids = await submitTo(esme, Object.keys(script))
  await until(() => resps.length === 4, 'four deliver_sm_resp')
  await esme.waitForMany((p) => isReceipt(p) && ids.includes(p.receipted_message_id as string), 3, 5000)
  await sleep(300)
  t.same(statsOf(esme, ids), ['DELIVRD', 'DELIVRD', 'DELIVRD', ''], 'numbers by value, other ids exactly')
  t.equal(await unmatchedCount(smsc), 1, 'the one not matched is counted')
  t.match(logs.find((l) => l.startsWith('warn ') && /we do not know/.test(l)) ?? '', /"upstreamId":"MSG-8".*"receiptIds":"hex"/, 'the warning names the id and the mode')
})

t.test('a duplicate receipt of a settled message is dropped: its text id never settles another message, and it is not counted unmatched', async (t) => {
  // An upstream with hex message_ids that writes receipted_message_id as its submit_sm_resp did and the text's id:
  // in decimal (the two agree: hex 1000 is 4096). Its message_id for the second message is 4096: the text id of the
  // first message's receipts names the second message's link.
  const A = '447700900031'
  const B = '447700900032'
  const C = '447700900033'
  const script: Record<string, Scripted> = {
    [A]: { id: '1000', tlv: '1000', text: '4096' },
    [B]: { id: '4096', tlv: '4096', text: String(0x4096), hold: true }, // its receipt when the test sends it
    [C]: { id: '2000', tlv: '2000', text: '8192' }, // its text id names no message
  }
  const { up, resps, resend, send } = await scriptedUpstream(t, script)
  const logs: string[] = []
  const smsc = await engine(t, upConnector(up.port), logs)
  await sleep(300)
  const esme = await openEsme(t, { port: smsc.ports.smpp })
  const [idA, idB, idC] = await submitTo(esme, [A, B, C])
  const stateOf = (id: string) => (smsc.store.getMessage(id) as { state: number }).state
  await esme.waitForMany((p) => isReceipt(p) && (p.receipted_message_id === idA || p.receipted_message_id === idC), 2, 5000)
  await until(() => resps.length === 2, 'the receipts of A and C answered')
  t.same([stateOf(idA), stateOf(idB), stateOf(idC)], [MessageState.DELIVERED, MessageState.ENROUTE, MessageState.DELIVERED], 'A and C delivered, B waits for its receipt')
  await until(() => smsc.lookup(idB)?.dests[0]?.upstreamId === '4096', "B's upstream id stored")

  // The upstream sends A's and C's receipts again (at least once): A's TLV id finds nothing now (its link ended),
  // and its text id, which agrees with it, is B's upstream id.
  resend(A)
  resend(C)
  await until(() => resps.length === 4, 'the duplicates answered')
  t.same(resps, [0, 0, 0, 0], 'both duplicates acknowledged with status 0 (the upstream would only send them again)')
  await sleep(300)
  t.equal(stateOf(idB), MessageState.ENROUTE, "A's duplicate did not settle B through its text id")
  t.same(statsOf(esme, [idA, idB, idC]), ['DELIVRD', '', 'DELIVRD'], 'the ESME got no receipt for B')
  t.same([idA, idC].map((id) => esme.delivered.filter((p) => isReceipt(p) && p.receipted_message_id === id).length), [1, 1], 'nor a second one for A or C')
  t.equal(await unmatchedCount(smsc), 0, 'neither duplicate is counted in smsc_connector_receipts_unmatched_total')
  t.notOk(logs.some((l) => l.startsWith('warn ') && /we do not know/.test(l)), 'nor warned about')
  for (const id of ['1000', '2000']) {
    t.ok(logs.some((l) => l.startsWith('debug ') && /already settled upstream id/.test(l) && l.includes(`"upstreamId":"${id}"`)), `the duplicate with id ${id} is logged at debug as stale`)
  }

  // A receipt whose TLV id is unknown (not one that ended lately) and whose text id is B's but does not agree with
  // the TLV id: the text id does not stand in. It is unmatched.
  send(C, { tlv: '77777', text: '4096' })
  await until(() => resps.length === 5, 'the foreign receipt answered')
  await sleep(300)
  t.equal(stateOf(idB), MessageState.ENROUTE, 'a text id that does not agree with the TLV id does not settle B')
  t.equal(await unmatchedCount(smsc), 1, 'that receipt is counted unmatched')
  t.match(logs.find((l) => l.startsWith('warn ') && /we do not know/.test(l)) ?? '', /"upstreamId":"77777","textId":"4096"/, 'and warned about with both its ids')

  // B's own receipt still settles it, once.
  send(B)
  await esme.waitFor((p) => isReceipt(p) && p.receipted_message_id === idB, 5000)
  t.equal(stateOf(idB), MessageState.DELIVERED, "B's own receipt settles it")
  t.same(statsOf(esme, [idA, idB, idC]), ['DELIVRD', 'DELIVRD', 'DELIVRD'], 'one DELIVRD receipt per message')
  t.equal(await unmatchedCount(smsc), 1, 'and is not counted unmatched')
})
