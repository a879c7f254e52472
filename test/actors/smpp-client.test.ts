/**
 * The upstream SMPP client connector over real sockets: against this engine as the upstream
 * (submit → upstream ids → DELIVRD receipts by those ids, plain and TLS), against a node-smpp
 * upstream scripted to throttle, refuse, send MO and text-only receipts, and through link loss,
 * reconnect with back-off, window, rate, response and enquire_link timers, sequence wrap, a
 * clean stop() with unbind, an upstream that stops answering submit_sm (the link is dropped and bound
 * again) and one that throttles (submits pause, with a growing pause).
 */
import t from 'tap'
import net from 'node:net'
import { SmppClientConnector, THROTTLING_QUIET_MS, type SmppConnectorConfig } from '../../actors/connectors/smpp-client'
import { CommandStatus, MessageState } from '../../engine/protocol/constants'
import type { LogFn } from '../../engine/log'
import { startEngine, type TestLike } from '../helpers/engine'
import { until } from '../helpers/policy'
import { Recorder, connectorConfig, dispatches, drive, notify, record, request, sleep, startUpstream, type NodePdu } from '../helpers/upstream'

const quiet: LogFn = () => {}

function connector(t: TestLike, cfg: SmppConnectorConfig) {
  const rec = new Recorder()
  const c = new SmppClientConnector(cfg, rec, quiet, Date.now)
  t.teardown(() => c.stop())
  return { c, rec }
}

t.test('against this engine: every submit gets an upstream id, and a DELIVRD receipt comes back for exactly those ids', async (t) => {
  const engine = await startEngine(t, {
    accounts: [{ systemId: 'up1', password: 'pw1', windowSize: 50 }, { systemId: 'up2', password: 'pw2' }],
    simulator: { deliveryDelayMs: [10, 30], outcomes: { DELIVRD: 1 } },
    devTls: true,
  })

  t.test('plain TCP, 30 messages through a window of 10', async (t) => {
    const { c, rec } = connector(t, connectorConfig(engine.smppPort, { systemId: 'up1', password: 'pw1', windowSize: 10 }))
    const d = drive(t, c, rec, { requeue: true })
    c.start()
    await rec.until(() => rec.got.up === 1, 'bind')
    t.equal(c.up, true)
    const N = 30
    const records = Array.from({ length: N }, (_, i) => record({ sm: Buffer.from(`message ${i}`) }))
    d.add(dispatches(records))
    await rec.until(() => rec.got.accepted.length === N, `${N} accepted`, 8000)
    const ids = new Set(rec.got.accepted.map((a) => a.upstreamId))
    t.equal(ids.size, N, 'N distinct upstream ids')
    t.same(new Set(rec.got.accepted.map((a) => a.id)), new Set(records.map((r) => r.id)), 'every record accepted once')
    t.ok(rec.got.accepted.every((a) => a.dest === 0 && a.upstreamId !== ''))
    await rec.until(() => rec.got.receipts.length >= N, `${N} receipts`, 8000)
    t.equal(rec.got.receipts.length, N, 'one receipt per message')
    t.same(new Set(rec.got.receipts.map((r) => r.upstreamId)), ids, 'receipts for exactly the accepted ids')
    t.ok(rec.got.receipts.every((r) => r.state === MessageState.DELIVERED && r.err === 0), 'all DELIVERED, err 0')
    t.same(rec.got.outcomes, [], 'no refusals')
    t.match(c.stats(), { id: 'up', kind: 'smpp', up: true, inFlight: 0, sent: N, failed: 0 })
    const calls = rec.got.batches.filter((b) => b.kind === 'accepted').length
    t.ok(calls < N, `submit_sm_resp reported per socket read, not per PDU (${calls} accepted() calls for ${N})`)
    await c.stop()
    t.equal(c.up, false)
  })

  t.test('TLS (dev certificate, rejectUnauthorized false)', async (t) => {
    const { c, rec } = connector(t, connectorConfig(engine.tlsPort, { systemId: 'up2', password: 'pw2', tls: true, rejectUnauthorized: false }))
    const d = drive(t, c, rec)
    c.start()
    await rec.until(() => rec.got.up === 1, 'bind over TLS')
    d.add(dispatches([record()]))
    await rec.until(() => rec.got.receipts.length === 1, 'receipt over TLS')
    t.equal(rec.got.receipts[0].upstreamId, rec.got.accepted[0].upstreamId)
    t.equal(rec.got.receipts[0].state, MessageState.DELIVERED)
  })

  t.test('a wrong password is a bind refusal: down() once, retried with back-off', async (t) => {
    const { c, rec } = connector(t, connectorConfig(engine.smppPort, { systemId: 'up1', password: 'wrong', reconnectMs: [50, 100] }))
    drive(t, c, rec)
    c.start()
    await rec.until(() => rec.got.down.length === 1, 'down')
    t.match(rec.got.down[0], /^bind refused: ESME_RINV(PASWD|SYSID)$/)
    await sleep(400)
    t.equal(rec.got.down.length, 1, 'one down() per outage, not one per attempt')
    t.equal(rec.got.up, 0)
    t.equal(c.submit(dispatches([record()]), Date.now()).length, 1, 'not up: everything handed back')
  })
})

t.test('against a node-smpp upstream: throttling is temporary, a bad address permanent; MO and text-only receipts come in', async (t) => {
  const SRC = '447700900001'
  const OK = '447700900100', LONG = '447700900101', THROTTLE = '447700900200', BAD = '447700900300'
  const deliverResps: NodePdu[] = []
  let okId = ''
  const up = await startUpstream(t, {
    onSubmit: (pdu, session, id) => {
      switch (pdu.destination_addr) {
        case THROTTLE: return CommandStatus.ESME_RTHROTTLED
        case BAD: return CommandStatus.ESME_RINVDSTADR
        case OK:
          okId = id
          // the answer goes out first, then a receipt in text form only (no TLVs)
          setImmediate(() => session.deliver_sm({
            source_addr: OK, destination_addr: SRC, esm_class: 0x04, data_coding: 0,
            short_message: Buffer.from(`id:${id} sub:001 dlvrd:000 submit date:2401011200 done date:2401011201 stat:UNDELIV err:005 text:first`),
          }, (r) => deliverResps.push(r)))
          return 0
      }
      return 0
    },
    onBound: (session) => {
      session.deliver_sm({
        source_addr_ton: 1, source_addr_npi: 1, source_addr: '447700900555', dest_addr_ton: 0, dest_addr_npi: 0,
        destination_addr: '12345', esm_class: 0, data_coding: 0, short_message: Buffer.from('hello from upstream'),
      }, (r) => deliverResps.push(r))
    },
  })
  const { c, rec } = connector(t, connectorConfig(up.port))
  const d = drive(t, c, rec)
  c.start()
  await rec.until(() => rec.got.up === 1 && rec.got.mo.length === 1, 'bind and MO')
  t.same(rec.got.mo[0], {
    from: [1, 1, '447700900555'], to: [0, 0, '12345'], esmClass: 0, dataCoding: 0, sm: Buffer.from('hello from upstream'),
  }, 'MO as the upstream sent it')

  const long = Buffer.alloc(300, 0x41)
  const rOk = record({ sm: Buffer.from('first') }, OK)
  const rLong = record({ sm: long, dataCoding: 4 }, LONG)
  const rThrottle = record({}, THROTTLE)
  const rBad = record({}, BAD)
  d.add(dispatches([rOk, rLong, rThrottle, rBad]))
  await rec.until(() => rec.got.accepted.length === 2 && rec.got.outcomes.length === 1 && rec.got.retried.length === 1 && rec.got.receipts.length === 1, 'all answers and the receipt')

  t.same(rec.got.accepted.map((a) => a.id).sort(), [rOk.id, rLong.id].sort(), 'accepted: the OK and the long one')
  t.equal(rec.got.accepted.find((a) => a.id === rOk.id)!.upstreamId, okId, "the upstream's message_id")
  t.same(rec.got.retried, [{ items: [{ record: rThrottle, dest: 0 }], reason: 'ESME_RTHROTTLED', counted: 'throttled' }], 'ESME_RTHROTTLED → retry(), counted as throttled')
  t.same(rec.got.outcomes, [{ id: rBad.id, dest: 0, state: MessageState.REJECTED, err: 0x0b, rev: undefined }], 'ESME_RINVDSTADR → REJECTED err 0x0B')
  t.same(rec.got.receipts, [{ upstreamId: okId, state: MessageState.UNDELIVERABLE, err: 5 }], 'text-only receipt parsed')
  t.match(c.stats(), { up: true, inFlight: 0, sent: 2, failed: 2 })

  // What the upstream decoded (a third-party codec reading ours)
  const submits = up.received('submit_sm')
  t.equal(submits.length, 4)
  const byDest = new Map([rOk, rLong, rThrottle, rBad].map((r) => [r.dests[0].addr[2], r]))
  for (const s of submits) {
    t.equal(s.registered_delivery, 1, 'registered_delivery 1 on every submit')
    // node-smpp reads the SMPP absolute time into a Date
    const expireAt = byDest.get(s.destination_addr as string)!.expireAt
    t.equal((s.validity_period as Date).getTime(), Math.floor(expireAt / 1000) * 1000, 'validity_period = expireAt (SMPP absolute time, UTC)')
    t.equal(s.source_addr, SRC)
  }
  const sLong = submits.find((s) => s.destination_addr === LONG)!
  t.equal((sLong.short_message as { message: Buffer }).message.length, 0, 'long message: sm_length 0')
  t.same((sLong.message_payload as { message: Buffer }).message, long, '… and the octets in message_payload')
  t.equal(sLong.data_coding, 4)
  await rec.until(() => deliverResps.length === 2, 'deliver_sm_resp for MO and receipt')
  t.ok(deliverResps.every((r) => r.command === 'deliver_sm_resp' && r.command_status === 0), 'deliver_sm answered with status 0')
})

t.test('receipts with TLVs, intermediate notifications and data_sm: TLVs win over the text', async (t) => {
  const up = await startUpstream(t, {
    onBound: (session) => {
      // SMPP 3.4 §5.2.12 esm_class 0x20 intermediate notification, TLVs only
      session.deliver_sm({ esm_class: 0x20, receipted_message_id: 'A1', message_state: 1, short_message: Buffer.alloc(0) })
      // TLV state, text id and err
      session.deliver_sm({ esm_class: 0x04, message_state: 2, receipted_message_id: 'B2', network_error_code: Buffer.from([3, 0, 7]), short_message: Buffer.from('id:XX stat:UNDELIV err:009') })
      // id from the TLV, state and err from the text
      session.deliver_sm({ esm_class: 0x04, receipted_message_id: 'D4', short_message: Buffer.from('id:D4 sub:001 dlvrd:000 stat:EXPIRED err:003 text:') })
      // a receipt carried by data_sm
      session.data_sm({ esm_class: 0x04, receipted_message_id: 'C3', message_state: 8 })
      // an MO carried by data_sm in message_payload
      session.data_sm({ source_addr: '111', destination_addr: '222', esm_class: 0, data_coding: 8, message_payload: Buffer.from([0, 0x48, 0, 0x69]) })
    },
  })
  const { c, rec } = connector(t, connectorConfig(up.port, { bindType: 'receiver' }))
  drive(t, c, rec)
  c.start()
  await rec.until(() => rec.got.receipts.length === 4 && rec.got.mo.length === 1, 'four receipts, one MO')
  t.same(rec.got.receipts, [
    { upstreamId: 'A1', state: MessageState.ENROUTE, err: 0 },
    { upstreamId: 'B2', textId: 'XX', state: MessageState.DELIVERED, err: 7 }, // the text's id kept: it differs from the TLV's
    { upstreamId: 'D4', state: MessageState.EXPIRED, err: 3 },
    { upstreamId: 'C3', state: MessageState.REJECTED, err: 0 },
  ])
  t.same(rec.got.mo[0].sm, Buffer.from([0, 0x48, 0, 0x69]))
  t.equal(rec.got.mo[0].dataCoding, 8)
  t.equal(c.up, false, 'a receiver bind takes no submits')
  t.equal(c.submit(dispatches([record()]), Date.now()).length, 1)
  t.equal(up.received('bind_receiver').length, 1, 'bound as receiver')
  await rec.until(() => up.received('deliver_sm_resp').length === 3 && up.received('data_sm_resp').length === 2, 'every request answered')
  t.ok([...up.received('deliver_sm_resp'), ...up.received('data_sm_resp')].every((r) => r.command_status === 0), 'all with status 0')
})

t.test('reconnect: a dropped link reports down(), hands in-flight submits back, and binds again after back-off', async (t) => {
  let hold = true
  const up = await startUpstream(t, { onSubmit: () => (hold ? 'hold' : 0) })
  const port = up.port
  const { c, rec } = connector(t, connectorConfig(port, { reconnectMs: [150, 600] }))
  const d = drive(t, c, rec)
  c.start()
  await rec.until(() => rec.got.up === 1, 'first bind')
  const records = [record(), record(), record()]
  d.add(dispatches(records))
  await rec.until(() => up.received('submit_sm').length === 3, 'submits at the upstream')
  t.equal(c.stats().inFlight, 3)

  up.dropAll()
  const droppedAt = Date.now()
  await rec.until(() => rec.got.down.length === 1, 'down')
  t.match(rec.got.down[0], /connection (closed by upstream|error)/)
  t.same(rec.retriedWith('link lost').map((x) => x.record.id).sort(), records.map((r) => r.id).sort(), 'in-flight submits → retry(link lost)')
  t.equal(c.stats().inFlight, 0)
  t.equal(c.up, false)
  await rec.until(() => rec.got.up === 2, 'bound again')
  t.ok(Date.now() - droppedAt >= 140, `reconnected after the back-off (${Date.now() - droppedAt} ms)`)

  // The upstream goes away altogether, then comes back on the same port.
  await up.close()
  await rec.until(() => rec.got.down.length === 2, 'second outage')
  const before = rec.got.down.length
  await sleep(700) // several failed attempts (150, 300, 600 ms)
  t.equal(rec.got.down.length, before, 'failed attempts during one outage report no further down()')
  hold = false
  const again = await startUpstream(t, { port })
  await rec.until(() => rec.got.up === 3, 'bound to the restarted upstream', 4000)
  d.add(dispatches([record()]))
  await rec.until(() => rec.got.accepted.length === 1, 'traffic flows again')
  t.equal(again.connections, 1)
})

t.test('an upstream bound and answering enquire_link but no submit_sm: three time-outs in a row drop the link with unbind, and it binds again ever later until a submit is answered', async (t) => {
  let answering = false
  const binds: number[] = []
  const up = await startUpstream(t, { onSubmit: () => (answering ? 0 : 'hold'), onBound: () => binds.push(Date.now()) })
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = []
  const log: LogFn = (level, msg, fields) => { lines.push({ level, msg, fields: fields ?? {} }) }
  const rec = new Recorder()
  const c = new SmppClientConnector(connectorConfig(up.port, { windowSize: 10, responseMs: 300, enquireLinkMs: 100, reconnectMs: [100, 1600] }), rec, log, Date.now)
  t.teardown(() => c.stop())
  const d = drive(t, c, rec, { requeue: true }) // what comes back is offered again, as the dispatcher would with no other candidate
  c.start()
  await rec.until(() => rec.got.up === 1, 'bind')
  const records = Array.from({ length: 10 }, () => record())
  d.add(dispatches(records))
  await rec.until(() => rec.got.down.length === 1, 'down after the time-outs', 3000)
  t.match(rec.got.down[0], /^stalled: 10 submit_sm in a row unanswered after responseMs 300: unbinding to bind again$/, 'down() says why')
  t.ok(up.received('enquire_link').length >= 1, 'the link answered enquire_link all along')
  await rec.until(() => up.received('unbind').length >= 1, 'unbind at the upstream')
  t.same(rec.retriedWith('response timeout').map((x) => x.record.id).sort(), records.map((r) => r.id).sort(), 'the ten come back for retry (failover)')
  t.ok(rec.got.retried.every((r) => r.counted === 'timeout'), 'counted as time-outs')
  t.match(c.stats(), { failed: 10, sent: 0, inFlight: 0 }, 'the time-outs count as failed')
  t.match(lines.find((l) => l.level === 'warn'), { msg: 'upstream link down', fields: { connector: 'up', reason: /^stalled: 10 submit_sm in a row/ } }, 'a warning names the connector and why')

  // Each bind is followed by the same silence: the reconnect back-off is not reset by the bind (100, 200, 400, 800 ms).
  await rec.until(() => binds.length >= 5, 'four more binds', 8000)
  const gaps = binds.slice(1, 5).map((b, i) => b - binds[i])
  t.ok(gaps[3] - gaps[0] >= 500, `the stalled link comes back less and less often (binds ${gaps.join(', ')} ms apart)`)

  // A submit answered: the back-off starts over, and the link stays.
  answering = true
  await rec.until(() => rec.got.accepted.length === 10, 'the ten accepted once the upstream answers', 6000)
  const downs = rec.got.down.length
  const bound = binds.length
  answering = false
  d.add(dispatches([record(), record(), record()]))
  await rec.until(() => rec.got.down.length === downs + 1 && binds.length === bound + 1, 'the next stall and its rebind', 4000)
  const last = binds[binds.length - 1] - binds[binds.length - 2]
  t.ok(last < gaps[3] - 400, `after an answered submit the back-off is the first one again (${last} ms between binds)`)
})

t.test('ESME_RTHROTTLED and ESME_RMSGQFUL pause submits: throttlePauseMs doubling while refused, from the start once one is accepted; one warning for the episode, an info line at its end', async (t) => {
  let status: number = CommandStatus.ESME_RTHROTTLED
  const at: number[] = []
  const up = await startUpstream(t, { onSubmit: () => { at.push(Date.now()); return status } })
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = []
  const log: LogFn = (level, msg, fields) => { lines.push({ level, msg, fields: fields ?? {} }) }
  const rec = new Recorder()
  const c = new SmppClientConnector(connectorConfig(up.port, { windowSize: 1, throttlePauseMs: [200, 800] }), rec, log, Date.now)
  t.teardown(() => c.stop())
  const d = drive(t, c, rec, { requeue: true })
  c.start()
  await rec.until(() => rec.got.up === 1, 'bind')
  d.add(dispatches([record()]))
  await rec.until(() => c.paused, 'paused by the first refusal')
  t.equal(c.up, true, 'a pause is not an outage: still up')
  const offered = dispatches([record()])
  t.same(c.submit(offered, Date.now()), offered, 'paused: takes nothing')
  await rec.until(() => at.length === 5, 'five tries', 4000)
  const gaps = at.slice(1).map((x, i) => x - at[i])
  // lower bounds show the doubling; the upper ones leave room for a loaded machine (two test files on two cores)
  ;[200, 400, 800, 800].forEach((want, i) => t.ok(gaps[i] >= want - 5 && gaps[i] < want + 350, `pause ${i + 1}: ${gaps[i]} ms (${want} ms)`))

  status = 0
  await rec.until(() => rec.got.accepted.length === 1, 'accepted once the upstream takes it', 2000)
  status = CommandStatus.ESME_RTHROTTLED
  const before = at.length
  d.add(dispatches([record()]))
  await rec.until(() => at.length === before + 2, 'refused, paused, tried again', 2000)
  const again = at[before + 1] - at[before]
  t.ok(again >= 195 && again < 600, `an accepted submit set the pause back to its first length (${again} ms, not 800)`)

  status = CommandStatus.ESME_RMSGQFUL
  await rec.until(() => rec.got.retried.some((r) => r.counted === 'queue_full'), 'ESME_RMSGQFUL counted as queue_full', 2000)
  await rec.until(() => c.paused, 'and paused too')
  const refusals = rec.got.retried.filter((r) => r.counted === 'throttled' || r.counted === 'queue_full').length
  t.equal(c.stats().failed, refusals, 'each refusal counts as failed')
  t.same(lines.filter((l) => l.level === 'warn').map((l) => l.msg), ['upstream throttling: submits paused'], 'one warning for the whole episode, not one per refusal')
  t.match(lines.find((l) => l.level === 'warn')?.fields, { connector: 'up', status: 'ESME_RTHROTTLED', pauseMs: 200, maxMs: 800 })
  status = 0
  await rec.until(() => rec.got.accepted.length === 2, 'accepted again', 2000)
  d.stop()
  c.tick(Date.now() + THROTTLING_QUIET_MS) // a minute without a refusal
  t.match(lines.find((l) => l.msg === 'upstream throttling over'), { level: 'info', fields: { connector: 'up', refusals } }, 'the episode ends in an info line')
})

t.test('an unbind from the upstream is answered, the link closes and binds again', async (t) => {
  const up = await startUpstream(t, {})
  const { c, rec } = connector(t, connectorConfig(up.port, { reconnectMs: [50, 100] }))
  drive(t, c, rec)
  c.start()
  await rec.until(() => rec.got.up === 1, 'bind')
  const unbindResp = await request(up.sessions[0], 'unbind')
  t.equal(unbindResp.command, 'unbind_resp')
  t.equal(unbindResp.command_status, 0)
  await rec.until(() => rec.got.down.length === 1 && rec.got.up === 2, 'down, then up again')
  t.equal(rec.got.down[0], 'unbind from upstream')
  t.equal(up.connections, 2, 'a new connection')
})

t.test('set_dpf goes upstream on submit_sm to an SMPP 5.0 bind only; an alert_notification from the upstream is reported and gets no response PDU', async (t) => {
  const up34 = await startUpstream(t, {})
  const old = connector(t, connectorConfig(up34.port))
  drive(t, old.c, old.rec).add(dispatches([record({ setDpf: true })]))
  old.c.start()
  await old.rec.until(() => old.rec.got.accepted.length === 1, 'the 3.4 submit accepted')
  t.equal(up34.received('submit_sm')[0].set_dpf, undefined, 'not to a 3.4 bind: SMPP 3.4 §5.3.2.29 has set_dpf on data_sm only')

  const up = await startUpstream(t, {})
  const { c, rec } = connector(t, connectorConfig(up.port, { interfaceVersion: 0x50 }))
  const q = drive(t, c, rec)
  c.start()
  await rec.until(() => rec.got.up === 1, 'bind')
  q.add(dispatches([record({ setDpf: true }), record()]))
  await rec.until(() => rec.got.accepted.length === 2, 'both submits accepted')
  const submits = up.received('submit_sm')
  t.equal(submits[0].set_dpf, 1, 'the message submitted with set_dpf 1 carries it to a 5.0 bind (SMPP 5.0 allows it on submit_sm)')
  t.equal(submits[1].set_dpf, undefined, 'the other carries no set_dpf')
  notify(up.sessions[0], 'alert_notification', {
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '447700900002',
    esme_addr_ton: 1, esme_addr_npi: 1, esme_addr: '447700900001', ms_availability_status: 2,
  })
  notify(up.sessions[0], 'alert_notification', { source_addr: '447700900003', esme_addr: '' })
  await rec.until(() => rec.got.alerts.length === 2, 'both alerts')
  t.same(rec.got.alerts, [
    { ms: [1, 1, '447700900002'], esme: [1, 1, '447700900001'], status: 2 },
    { ms: [0, 0, '447700900003'], esme: [0, 0, ''], status: 0 },
  ], 'subscriber, ESME address and ms_availability_status (0 when absent, §5.3.2.30)')
  t.same(rec.got.batches.filter((b) => b.kind === 'alerts'), [{ kind: 'alerts', size: 2 }], 'one event for the read that carried both')
  const resp = await request(up.sessions[0], 'enquire_link')
  t.equal(resp.command, 'enquire_link_resp', 'the link is fine')
  t.same(up.pdus.map((p) => p.command).filter((c) => c !== 'submit_sm' && !c.startsWith('bind') && c !== 'enquire_link_resp'), [], 'nothing answered the alerts (no response PDU exists, §4.12)')
  t.equal(rec.got.down.length, 0, 'and the link stayed up')
})

t.test('stallAfterTimeouts: the link counts as stalled only after that many submits in a row go unanswered (here 5, not the default 3), and says since when and after how many', async (t) => {
  const up = await startUpstream(t, { onSubmit: () => 'hold' })
  const { c, rec } = connector(t, connectorConfig(up.port, { windowSize: 10, responseMs: 300, enquireLinkMs: 100, reconnectMs: [5000, 5000], stallAfterTimeouts: 5 }))
  const d = drive(t, c, rec) // what times out is not offered again
  c.start()
  await rec.until(() => rec.got.up === 1, 'bind')
  d.add(dispatches([record(), record(), record()]))
  await rec.until(() => rec.retriedWith('response timeout').length === 3, 'three time-outs', 3000)
  await sleep(300) // ticks after the third
  t.equal(rec.got.down.length, 0, 'three unanswered in a row do not drop the link')
  t.match(c.stats(), { up: true, stalled: false }, 'up, not stalled')
  t.notOk('stalledSince' in c.stats(), 'no stall to date')
  const before = Date.now()
  d.add(dispatches([record(), record()]))
  await rec.until(() => rec.got.down.length === 1, 'down at the fifth', 3000)
  t.match(rec.got.down[0], /^stalled: 5 submit_sm in a row unanswered after responseMs 300: unbinding to bind again$/, 'the fifth in a row drops it')
  const st = c.stats()
  t.match(st, { up: false, stalled: true, stalledTimeouts: 5 }, 'stalled, after 5')
  t.ok(Date.parse(st.stalledSince ?? '') >= before - 1, `since the drop (${st.stalledSince})`)
})

t.test('window and rate: windowSize 5 takes 5 of 20; 100/s sends about 100 in a second; response timer hands back', async (t) => {
  t.test('window', async (t) => {
    // The upstream holds every submit but answers the fifth after 100 ms: it is alive, so the four time-outs of
    // submits sent before that answer are lost PDUs, not a stalled link (which would be dropped: see the stall test).
    let n = 0
    const up = await startUpstream(t, {
      onSubmit: (pdu, session, id) => {
        if (++n === 5) setTimeout(() => session.send(pdu.response({ message_id: id })), 100)
        return 'hold'
      },
    })
    const { c, rec } = connector(t, connectorConfig(up.port, { windowSize: 5, responseMs: 600 }))
    const tick = setInterval(() => c.tick(Date.now()), 20)
    t.teardown(() => clearInterval(tick))
    c.start()
    await rec.until(() => rec.got.up === 1, 'bind')
    const items = dispatches(Array.from({ length: 20 }, () => record()))
    const rest = c.submit(items, Date.now())
    t.equal(rest.length, 15, 'returns the 15 it could not take')
    t.same(rest, items.slice(5), 'the untaken ones, in order')
    t.equal(c.stats().inFlight, 5)
    t.equal(c.submit(rest, Date.now()), rest, 'window full: all handed back')
    await rec.until(() => up.received('submit_sm').length === 5, 'five at the upstream')
    // Four are never answered: after responseMs the tick hands them back.
    await rec.until(() => rec.retriedWith('response timeout').length === 4, 'response timeout', 3000)
    t.equal(c.stats().inFlight, 0)
    t.equal(rec.got.down.length, 0, 'unanswered submits do not drop a link that answers others')
    t.match(c.stats(), { sent: 1, failed: 4 }, 'the time-outs count as failed')
    t.ok(rec.got.retried.every((r) => r.counted === 'timeout'), 'counted as timeout')
    t.equal(c.submit(rest, Date.now()).length, 10, 'the window is free again')
  })

  t.test('rate', async (t) => {
    const up = await startUpstream(t, {})
    const { c, rec } = connector(t, connectorConfig(up.port, { windowSize: 1000, ratePerSecond: 100 }))
    const d = drive(t, c, rec)
    c.start()
    await rec.until(() => rec.got.up === 1, 'bind')
    d.add(dispatches(Array.from({ length: 1000 }, () => record())))
    await sleep(1000)
    d.stop()
    const n = up.received('submit_sm').length
    t.ok(n >= 70 && n <= 140, `about 100 submits in one second (got ${n})`)
  })
})

t.test('enquire_link: sent when idle, answered when asked; a missing enquire_link_resp closes and reconnects', async (t) => {
  const up = await startUpstream(t, {})
  const { c, rec } = connector(t, connectorConfig(up.port, { enquireLinkMs: 200, responseMs: 300, reconnectMs: [50, 100] }))
  drive(t, c, rec)
  c.start()
  await rec.until(() => rec.got.up === 1, 'bind')
  await rec.until(() => up.received('enquire_link').length >= 1, 'a probe on an idle link', 2000)
  t.equal(rec.got.down.length, 0, 'answered probes keep the link')

  const resp = await request(up.sessions[0], 'enquire_link')
  t.equal(resp.command, 'enquire_link_resp')
  t.equal(resp.command_status, 0)

  const silent = await startUpstream(t, { answerEnquireLink: false })
  const s2 = connector(t, connectorConfig(silent.port, { enquireLinkMs: 200, responseMs: 300, reconnectMs: [50, 100] }))
  drive(t, s2.c, s2.rec)
  s2.c.start()
  await s2.rec.until(() => s2.rec.got.down.length === 1, 'down on the missing enquire_link_resp', 3000)
  t.equal(s2.rec.got.down[0], 'enquire_link_resp timeout')
  await s2.rec.until(() => s2.rec.got.up === 2, 'reconnected')
})

t.test('sequence numbers wrap from 0x7FFFFFFF to 1 (SMPP 3.4 §3.2)', async (t) => {
  const up = await startUpstream(t, {})
  const { c, rec } = connector(t, connectorConfig(up.port))
  drive(t, c, rec)
  c.start()
  await rec.until(() => rec.got.up === 1, 'bind')
  c.setSequence(0x7ffffffe)
  c.submit(dispatches([record(), record(), record()]), Date.now())
  await rec.until(() => rec.got.accepted.length === 3, 'three accepted')
  t.same(up.received('submit_sm').map((p) => p.sequence_number), [0x7fffffff, 1, 2])
})

t.test('stop() unbinds cleanly: the upstream sees unbind, in-flight submits come back, no reconnect', async (t) => {
  const up = await startUpstream(t, { onSubmit: () => 'hold' })
  const { c, rec } = connector(t, connectorConfig(up.port, { reconnectMs: [50, 100] }))
  const d = drive(t, c, rec)
  c.start()
  await rec.until(() => rec.got.up === 1, 'bind')
  d.add(dispatches([record(), record()]))
  await rec.until(() => up.received('submit_sm').length === 2, 'submits in flight')
  await c.stop()
  t.equal(up.received('unbind').length, 1, 'the upstream got unbind')
  t.equal(rec.retriedWith('link lost').length, 2, 'in-flight submits handed back before stop() resolved')
  t.same(rec.got.down, ['stopped'])
  t.match(c.stats(), { up: false, inFlight: 0 })
  await sleep(300)
  t.equal(up.connections, 1, 'no reconnect after stop()')
  await c.stop() // idempotent
})

t.test('stop() on an upstream that never answers unbind resolves after responseMs', async (t) => {
  const up = await startUpstream(t, { answerUnbind: false })
  const { c, rec } = connector(t, connectorConfig(up.port, { responseMs: 300 }))
  c.start()
  await rec.until(() => rec.got.up === 1, 'bind')
  const t0 = Date.now()
  await c.stop()
  const took = Date.now() - t0
  t.ok(took >= 290 && took < 2500, `resolved after the unbind timer (${took} ms)`)
  t.same(rec.got.down, ['unbind_resp timeout'])
  t.equal(up.received('unbind').length, 1)
})

t.test('upstream receipts and MO are acknowledged only once the engine has stored them', async (t) => {
  const up = await startUpstream(t, {
    onBound: (session) => {
      session.deliver_sm({ esm_class: 0x04, receipted_message_id: 'K1', message_state: 2, short_message: Buffer.alloc(0) })
      session.deliver_sm({ source_addr: '111', destination_addr: '222', esm_class: 0, short_message: Buffer.from('hi') })
      // no id, no state: nothing to store, answered at once
      session.deliver_sm({ esm_class: 0x04, short_message: Buffer.from('garbage') })
    },
  })
  const { c, rec } = connector(t, connectorConfig(up.port))
  rec.holdAcks = true
  drive(t, c, rec)
  c.start()
  await rec.until(() => rec.got.receipts.length === 1 && rec.got.mo.length === 1, 'one receipt, one MO')
  await rec.until(() => up.received('deliver_sm_resp').length === 1, 'the empty receipt answered at once')
  await new Promise((r) => setTimeout(r, 200))
  t.equal(up.received('deliver_sm_resp').length, 1, 'the receipt and the MO wait for the store')
  for (const stored of rec.held.splice(0)) stored()
  await rec.until(() => up.received('deliver_sm_resp').length === 3, 'answered after stored()')
  t.ok(up.received('deliver_sm_resp').every((r) => r.command_status === 0))
})

t.test('an upstream that stays down: the first failure warns, then one warning a minute with the failed attempts and the last reason', async (t) => {
  // a port nobody listens on: every connect is refused
  const free = await new Promise<number>((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)) }) })
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = []
  const log: LogFn = (level, msg, fields) => { lines.push({ level, msg, fields: fields ?? {} }) }
  let now = 1_000_000
  const rec = new Recorder()
  const c = new SmppClientConnector(connectorConfig(free, { reconnectMs: [20, 20] }), rec, log, () => now)
  t.teardown(() => c.stop())
  c.start()
  const warns = () => lines.filter((l) => l.level === 'warn')
  await until('six failed connects', () => (lines.filter((l) => l.msg === 'reconnecting to upstream').length >= 6 ? true : undefined))
  t.same(warns().map((l) => l.msg), ['upstream link down', 'upstream still down: a reconnect attempt failed'], 'two warnings, then the attempts are counted')
  t.match(String(warns()[1].fields.reason), /ECONNREFUSED|refused/i, 'the reason says why')
  now += 60_000
  const before = lines.length
  await until('the minute\'s summary', () => (lines.length > before && warns().length >= 3 ? true : undefined))
  const summary = warns()[2]
  t.equal(summary.msg, 'upstream still down: reconnect attempts failed')
  t.ok((summary.fields.count as number) >= 1, 'with how many failed')
  t.match(JSON.stringify(summary.fields.last), /refused/i, 'and the last reason')
})
