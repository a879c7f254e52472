/**
 * One Session over a real loopback socket pair, with a fake clock: the server-side socket of
 * net.createServer() goes into `new Session(...)`, wired as engine/index.ts wires it; the client
 * side speaks SMPP through our own codec. Covers every session timer (session_init, enquire_link,
 * inactivity, response), the window both ways, sequence number wrap, batching of one TCP read into
 * one host.accept(), both unbind directions with drain, and the malformed-input answers.
 */
import t from 'tap'
import { Metrics } from '../../engine/telemetry'
import net from 'node:net'
import { CommandId, CommandStatus as S, MAX_SEQUENCE } from '../../engine/protocol/constants'
import { decode, encode, type Pdu } from '../../engine/protocol/codec'
import { Framer } from '../../engine/protocol/framer'
import { Session, UNBOUND_OUTPUT_BYTES, type SessionConfig, type SessionHost, type SessionTimers } from '../../engine/session/session'
import { DEFAULT_LIMITS } from '../../engine/session/submit'
import { deliverFrame, type MessageRecord } from '../../engine/message'
import type { DeliveryItem } from '../../engine/store'

/** The part of a tap Test the rig needs. */
interface Test { teardown(fn: () => unknown): void }

// ------------------------------------------------------------------ client side

/** The ESME end: our codec over a plain socket, PDUs queued as they arrive. */
class Peer {
  readonly queue: Pdu[] = []
  closed = false
  readonly closedPromise: Promise<void>
  private readonly framer = new Framer()
  private wake: (() => void) | null = null

  private barriers = 0

  constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      const frames: Buffer[] = []
      this.framer.push(chunk, frames)
      for (const f of frames) this.queue.push(decode(Buffer.from(f)))
      this.wake?.()
    })
    socket.on('error', () => { /* a reset by the server shows up as close */ })
    this.closedPromise = new Promise((resolve) => socket.on('close', () => {
      this.closed = true
      this.wake?.()
      resolve()
    }))
  }

  send(...pdus: Pdu[]): void {
    this.socket.write(Buffer.concat(pdus.map((p) => encode(p))))
  }

  /** The next PDU from the SMSC; rejects after timeoutMs or when the socket closes first. */
  async next(timeoutMs = 2000): Promise<Pdu> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const p = this.queue.shift()
      if (p) return p
      if (this.closed) throw new Error('socket closed while waiting for a PDU')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no PDU within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.wake = () => { clearTimeout(timer); resolve() }
      })
      this.wake = null
    }
  }

  /**
   * Sends an enquire_link and waits for its response: everything written before it has then been
   * handled by the session (one connection, handled in order). Other PDUs stay queued.
   */
  async barrier(timeoutMs = 2000): Promise<void> {
    const seq = 0x70000000 + ++this.barriers
    this.send({ command: 'enquire_link', command_status: 0, sequence_number: seq })
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = this.queue.findIndex((p) => p.command === 'enquire_link_resp' && p.sequence_number === seq)
      if (i >= 0) { this.queue.splice(i, 1); return }
      if (this.closed) throw new Error('socket closed while waiting for the barrier')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`barrier not answered within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.wake = () => { clearTimeout(timer); resolve() }
      })
      this.wake = null
    }
  }

  async take(n: number, timeoutMs = 2000): Promise<Pdu[]> {
    const out: Pdu[] = []
    for (let i = 0; i < n; i++) out.push(await this.next(timeoutMs))
    return out
  }

  waitClosed(timeoutMs = 2000): Promise<void> {
    return Promise.race([
      this.closedPromise,
      new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs).unref()),
    ])
  }
}

// ------------------------------------------------------------------ server side

interface TestHost extends SessionHost {
  accepted: MessageRecord[][]
  /** done() callbacks of accept() calls being held (holdAccept). */
  held: ((err: Error | null, statuses: number[]) => void)[]
  results: { ok: DeliveryItem[]; failed: DeliveryItem[] }[]
  closedCount: number
  logs: { level: string; msg: string; fields: Record<string, unknown> }[]
  refusals: { command: string; status: number; from?: string; to?: readonly string[] }[]
  messages?: Map<string, MessageRecord>
  onResults?: (ok: DeliveryItem[], failed: DeliveryItem[]) => void
}

interface Rig {
  s: Session
  peer: Peer
  host: TestHost
  /** The fake clock: advance it and run the session's timers once. */
  tick(ms: number): void
  now(): number
  bind(kind?: 'transmitter' | 'receiver' | 'transceiver'): Promise<Pdu>
}

const TIMERS: SessionTimers = { sessionInitMs: 1_000, enquireLinkMs: 5_000, inactivityMs: 60_000, responseMs: 2_000 }

async function rig(t: Test, opts: { windowSize?: number; holdAccept?: boolean; timers?: Partial<SessionTimers>; maxQueuedOutputBytes?: number } = {}): Promise<Rig> {
  let clock = 1_000_000
  let ids = 0
  const host: TestHost = {
    accepted: [], held: [], results: [], closedCount: 0, logs: [], refusals: [],
    metrics: new Metrics(),
    now: () => clock,
    authenticate(_s, systemId, password, _kind, cb) {
      setImmediate(() => (systemId === 'u' && password === 'p' ? cb(0, { systemId: 'u', windowSize: opts.windowSize ?? 3 }) : cb(S.ESME_RINVPASWD)))
    },
    bound() {},
    closed() { host.closedCount++ },
    allocateIds: (_s, n) => Array.from({ length: n }, () => `m${++ids}`),
    accept(_s, records, done) {
      host.accepted.push(records)
      if (opts.holdAccept) host.held.push(done)
      else setImmediate(() => done(null, records.map(() => 0)))
    },
    congestion: () => 0,
    rateLimitDetail: (systemId) => `${systemId}'s rate limit or its reseller's`,
    refused(_s, command, status, from, to) { host.refusals.push({ command, status, from, to }) },
    getMessage: (id) => host.messages?.get(id),
    cancel: (_s, _pdu, cb) => cb(0),
    replace: (_s, _pdu, cb) => cb(0),
    deliveryResults(_s, ok, failed) {
      host.results.push({ ok, failed })
      host.onResults?.(ok, failed)
    },
    log(level, msg, fields) { host.logs.push({ level, msg, fields: fields ?? {} }) },
    bindRefused(_s, fields) { host.logs.push({ level: 'info', msg: 'bind refused', fields }) },
    sessionInitExpired(s) { host.logs.push({ level: 'info', msg: 'session_init timer expired', fields: { session: s.id } }) },
  }
  const config: SessionConfig = {
    timers: { ...TIMERS, ...opts.timers },
    maxPduLength: 65_536,
    windowSize: 10,
    limits: DEFAULT_LIMITS,
    smscSystemId: 'SMSC',
    maxQueuedOutputBytes: opts.maxQueuedOutputBytes ?? 1_048_576,
  }
  let session!: Session
  const server = net.createServer((socket) => {
    // As engine/index.ts wires it: every read goes to onData; the socket closing closes the session.
    session = new Session(1, socket, host, config)
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => session.onData(chunk))
    socket.on('error', () => {})
    socket.on('close', () => session.close('peer closed'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  const accepted = new Promise<void>((resolve) => server.once('connection', () => setImmediate(resolve)))
  const client = net.connect(port, '127.0.0.1')
  const peer = new Peer(client)
  await Promise.all([accepted, new Promise((resolve) => client.once('connect', resolve))])
  t.teardown(async () => {
    client.destroy()
    session?.close('teardown')
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  let seq = 1000
  return {
    get s() { return session },
    peer,
    host,
    tick(ms) { clock += ms; session.onTick(clock) },
    now: () => clock,
    async bind(kind = 'transceiver') {
      peer.send({ command: `bind_${kind}`, command_status: 0, sequence_number: ++seq, system_id: 'u', password: 'p', system_type: '', interface_version: 0x34, addr_ton: 0, addr_npi: 0, address_range: '' })
      const resp = await peer.next()
      if (resp.command_status !== 0) throw new Error(`bind failed: 0x${resp.command_status.toString(16)}`)
      return resp
    },
  }
}

function submitSm(seq: number, over: Record<string, unknown> = {}): Pdu {
  return {
    command: 'submit_sm', command_status: 0, sequence_number: seq, service_type: '',
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '447700900001', dest_addr_ton: 1, dest_addr_npi: 1,
    destination_addr: '447700900002', esm_class: 0, protocol_id: 0, priority_flag: 0, schedule_delivery_time: '',
    validity_period: '', registered_delivery: 1, replace_if_present_flag: 0, data_coding: 0, sm_default_msg_id: 0,
    short_message: Buffer.from(`message ${seq}`), ...over,
  }
}

function item(n: number): DeliveryItem {
  return {
    key: n, systemId: 'u', kind: 'mo', createdAt: 0, attempts: 0, messageId: `mo${n}`,
    frame: deliverFrame({
      service_type: '', source_addr_ton: 1, source_addr_npi: 1, source_addr: '447700900009', dest_addr_ton: 0, dest_addr_npi: 1,
      destination_addr: '12345', esm_class: 0, data_coding: 0, short_message: Buffer.from(`mo ${n}`),
    }),
  }
}

const deliverSmResp = (seq: number, status = 0): Pdu => ({ command: 'deliver_sm_resp', command_status: status, sequence_number: seq, message_id: '' })
const enquireLink = (seq: number): Pdu => ({ command: 'enquire_link', command_status: 0, sequence_number: seq })
const flush = () => new Promise<void>((resolve) => setImmediate(resolve))

// ------------------------------------------------------------------ timers

t.test('the end of a bound session is logged at info with its account, reason and time bound; a connection that never bound, at debug', async (t) => {
  const r = await rig(t)
  await r.bind('transceiver')
  r.tick(4_000) // under enquireLinkMs: no probe in between
  r.peer.send({ command: 'unbind', command_status: 0, sequence_number: 7 })
  t.equal((await r.peer.next()).command, 'unbind_resp')
  await r.peer.waitClosed()
  const line = r.host.logs.find((l) => l.msg === 'session closed')
  t.equal(line?.level, 'info')
  t.match(line?.fields, { systemId: 'u', kind: 'transceiver', reason: 'unbind', upMs: 4_000 })
  const r2 = await rig(t)
  r2.tick(TIMERS.sessionInitMs + 1)
  await r2.peer.waitClosed()
  t.match(r2.host.logs.find((l) => l.msg === 'session closed'), { level: 'debug', fields: { reason: 'session_init timer' } })
})

t.test('session_init timer: an unbound connection is closed after sessionInitMs', async (t) => {
  const r = await rig(t)
  r.tick(TIMERS.sessionInitMs - 1)
  t.notOk(r.s.isClosed(), 'open one ms before the deadline')
  r.tick(1)
  t.ok(r.s.isClosed(), 'closed at the deadline')
  t.equal(r.host.closedCount, 1)
  await r.peer.waitClosed()
  t.same(r.peer.queue, [], 'closed without a PDU')
})

t.test('session_init timer: a bound session is not closed by it', async (t) => {
  const r = await rig(t)
  await r.bind()
  r.tick(TIMERS.sessionInitMs * 3)
  t.notOk(r.s.isClosed())
})

t.test('enquire_link timer: probe after enquireLinkMs of silence; unanswered within responseMs closes', async (t) => {
  const r = await rig(t)
  await r.bind()
  r.tick(TIMERS.enquireLinkMs - 1)
  t.equal(r.s.outstandingCount, 0, 'no probe before the idle period')
  r.tick(1)
  const probe = await r.peer.next()
  t.match(probe, { command: 'enquire_link', command_status: 0 })
  r.tick(TIMERS.responseMs - 1)
  t.equal(r.s.outstandingCount, 1, 'one probe per idle period, not one per tick')
  t.notOk(r.s.isClosed(), 'still waiting for enquire_link_resp')
  r.tick(1)
  t.ok(r.s.isClosed(), 'the probe was sent responseMs ago: closed')
  await r.peer.waitClosed()
})

t.test('enquire_link timer: an answered probe keeps the session up and the next comes after another idle period', async (t) => {
  const r = await rig(t)
  await r.bind()
  r.tick(TIMERS.enquireLinkMs)
  const probe = await r.peer.next()
  r.peer.send({ command: 'enquire_link_resp', command_status: 0, sequence_number: probe.sequence_number })
  await r.peer.barrier()
  t.equal(r.s.outstandingCount, 0, 'the response settled the probe')
  r.tick(TIMERS.responseMs * 2)
  t.notOk(r.s.isClosed())
  t.same(r.peer.queue, [])
  r.tick(TIMERS.enquireLinkMs - TIMERS.responseMs * 2)
  const again = await r.peer.next()
  t.match(again, { command: 'enquire_link' })
  t.equal(again.sequence_number, probe.sequence_number + 1)
})

t.test('enquire_link timer: traffic from the ESME restarts the idle period', async (t) => {
  const r = await rig(t)
  await r.bind()
  r.tick(TIMERS.enquireLinkMs - 100)
  r.peer.send(submitSm(1))
  t.match(await r.peer.next(), { command: 'submit_sm_resp', command_status: 0, sequence_number: 1 })
  r.tick(200)
  t.equal(r.s.outstandingCount, 0, 'not idle: the submit was 100 ms ago')
})

t.test('inactivity timer: nothing from the ESME for inactivityMs → unbind, closed on unbind_resp', async (t) => {
  const r = await rig(t, { timers: { enquireLinkMs: 0, inactivityMs: 10_000 } })
  await r.bind()
  r.tick(9_999)
  t.equal(r.s.state, 'BOUND_TRX')
  r.tick(1)
  const unbind = await r.peer.next()
  t.match(unbind, { command: 'unbind', command_status: 0 })
  t.equal(r.s.state, 'UNBOUND')
  r.peer.send({ command: 'unbind_resp', command_status: 0, sequence_number: unbind.sequence_number })
  await r.peer.waitClosed()
  t.ok(r.s.isClosed())
})

t.test('inactivity timer: a transmitter answering our own enquire_link probes is not active', async (t) => {
  // enquire_link every 5 s, inactivity at 12 s: a transmitter that only answers probes is still inactive.
  const r = await rig(t, { timers: { enquireLinkMs: 5_000, inactivityMs: 12_000, responseMs: 2_000 } })
  await r.bind('transmitter')
  for (let i = 0; i < 2; i++) {
    r.tick(5_000)
    const probe = await r.peer.next()
    t.match(probe, { command: 'enquire_link' })
    r.peer.send({ command: 'enquire_link_resp', command_status: 0, sequence_number: probe.sequence_number })
    await new Promise((resolve) => setTimeout(resolve, 30)) // no barrier: the ESME's own enquire_link is activity
  }
  r.tick(2_000)
  t.match(await r.peer.next(), { command: 'unbind' }, 'unbound 12 s after the last real traffic')
})

t.test('inactivity timer: a receiver or transceiver answering our probes is waiting for deliveries, not idle: it stays bound', async (t) => {
  for (const kind of ['receiver', 'transceiver'] as const) {
    const r = await rig(t, { timers: { enquireLinkMs: 5_000, inactivityMs: 12_000, responseMs: 2_000 } })
    await r.bind(kind)
    for (let i = 0; i < 6; i++) {
      r.tick(5_000)
      const probe = await r.peer.next()
      t.equal(probe.command, 'enquire_link', `${kind}: probe ${i + 1}, not an unbind`)
      r.peer.send({ command: 'enquire_link_resp', command_status: 0, sequence_number: probe.sequence_number })
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    t.ok(r.s.state === 'BOUND_RX' || r.s.state === 'BOUND_TRX', `${kind}: still bound 30 s later, past the 12 s inactivity timer`)
  }
})

t.test('inactivity timer 0: a receiver that only answers our probes stays bound; one that stops answering is closed by the probe', async (t) => {
  // docs/CONFIG.md timers.inactivityMs: the way to keep ESMEs that never send enquire_link themselves
  const r = await rig(t, { timers: { enquireLinkMs: 5_000, inactivityMs: 0, responseMs: 2_000 } })
  await r.bind('receiver')
  for (let i = 0; i < 30; i++) {
    r.tick(5_000)
    const probe = await r.peer.next()
    t.equal(probe.command, 'enquire_link', `probe ${i + 1}`)
    r.peer.send({ command: 'enquire_link_resp', command_status: 0, sequence_number: probe.sequence_number })
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  t.equal(r.s.state, 'BOUND_RX', 'still bound after 150 s of answered probes only')
  r.tick(5_000)
  t.match(await r.peer.next(), { command: 'enquire_link' })
  r.tick(2_000)
  t.ok(r.s.isClosed(), 'a probe unanswered within responseMs closes it')
})

t.test('inactivity timer: an enquire_link from the ESME is activity (a receiver has nothing else to send)', async (t) => {
  const r = await rig(t, { timers: { enquireLinkMs: 0, inactivityMs: 10_000 } })
  await r.bind('receiver')
  for (let i = 0; i < 3; i++) {
    r.tick(6_000)
    await r.peer.barrier() // enquire_link from the ESME, answered
  }
  r.tick(6_000)
  await r.peer.barrier()
  t.equal(r.s.state, 'BOUND_RX', 'still bound 24 s later: the receiver kept the link alive')
})

t.test('inactivity timer: a submit or a deliver_sm_resp from the ESME restarts it', async (t) => {
  const r = await rig(t, { timers: { enquireLinkMs: 0, inactivityMs: 10_000 } })
  await r.bind('transceiver')
  r.tick(9_000)
  r.peer.send(submitSm(1))
  t.match(await r.peer.next(), { command: 'submit_sm_resp', command_status: 0 })
  r.tick(9_000)
  r.s.deliver([item(1)])
  const d = await r.peer.next()
  r.peer.send(deliverSmResp(d.sequence_number))
  await r.peer.barrier()
  r.tick(9_999)
  t.equal(r.s.state, 'BOUND_TRX', 'each was less than inactivityMs after the last')
  r.tick(1)
  t.match(await r.peer.next(), { command: 'unbind' })
})

t.test('inactivity timer: an unanswered unbind closes after the response timer', async (t) => {
  const r = await rig(t, { timers: { enquireLinkMs: 0, inactivityMs: 10_000 } })
  await r.bind()
  r.tick(10_000)
  t.match(await r.peer.next(), { command: 'unbind' })
  r.tick(TIMERS.responseMs - 1)
  t.notOk(r.s.isClosed())
  r.tick(1)
  t.ok(r.s.isClosed())
  await r.peer.waitClosed()
})

t.test('response timer: an unanswered deliver_sm frees its slot and goes back to the host as failed', async (t) => {
  const r = await rig(t)
  await r.bind('receiver')
  const it = item(1)
  t.same(r.s.deliver([it]), [])
  const first = await r.peer.next()
  t.match(first, { command: 'deliver_sm', source_addr: '447700900009', short_message: Buffer.from('mo 1') })
  t.equal(r.s.freeSlots, 2)
  r.tick(TIMERS.responseMs - 1)
  t.same(r.host.results, [], 'not yet')
  r.tick(1)
  t.equal(r.host.results.length, 1)
  t.equal(r.host.results[0].failed[0], it, 'the very item is handed back')
  t.same(r.host.results[0].ok, [])
  t.equal(r.s.freeSlots, 3, 'slot freed')
  t.notOk(r.s.isClosed(), 'a late deliver_sm_resp does not close the session')
  // A late answer to the expired deliver_sm settles nothing.
  r.peer.send(deliverSmResp(first.sequence_number))
  await r.peer.barrier()
  t.equal(r.host.results.length, 1)
  // The host (delivery actor) sends it again; this time it is acknowledged.
  t.same(r.s.deliver(r.host.results[0].failed), [])
  const second = await r.peer.next()
  t.match(second, { command: 'deliver_sm', short_message: Buffer.from('mo 1') })
  t.not(second.sequence_number, first.sequence_number)
  r.peer.send(deliverSmResp(second.sequence_number))
  await r.peer.barrier()
  t.equal(r.host.results.length, 2)
  t.same(r.host.results[1].ok, [it])
})

t.test('deliver_sm a bind leaves unanswered or refuses for now are logged: a warning naming the bind and the counts, at most one a minute', async (t) => {
  const r = await rig(t, { timers: { enquireLinkMs: 0, inactivityMs: 0 } })
  await r.bind('receiver')
  const warnings = () => r.host.logs.filter((l) => l.level === 'warn' && l.msg.startsWith('the ESME did not take receipts or MO'))
  t.same(r.s.deliver([item(1), item(2)]), [])
  await r.peer.take(2)
  r.tick(TIMERS.responseMs)
  t.match(warnings(), [{ fields: { session: 1, systemId: 'u', unanswered: 2, responseMs: TIMERS.responseMs } }], 'unanswered: one warning with the count')
  t.same(r.s.deliver([item(3)]), [])
  const third = await r.peer.next()
  r.peer.send(deliverSmResp(third.sequence_number, S.ESME_RSYSERR))
  await r.peer.barrier()
  r.tick(30_000)
  t.equal(warnings().length, 1, 'not again within the minute')
  r.tick(30_000)
  t.equal(warnings().length, 2, 'the next minute: the refusals since')
  t.same(warnings()[1].fields.refused, { ESME_RSYSERR: 1 })
  t.equal(warnings()[1].fields.unanswered, undefined)
  r.tick(120_000)
  t.equal(warnings().length, 2, 'nothing failed since: no line')
})

// ------------------------------------------------------------------ windows

t.test('inbound window: with windowSize 3 and three submits in flight, the 4th gets ESME_RTHROTTLED', async (t) => {
  const r = await rig(t, { holdAccept: true })
  await r.bind('transmitter')
  r.peer.send(submitSm(1), submitSm(2), submitSm(3))
  await r.peer.barrier()
  t.equal(r.host.accepted.length, 1)
  t.equal(r.host.accepted[0].length, 3)
  t.equal(r.s.inFlight, 3)
  r.peer.send(submitSm(4))
  t.match(await r.peer.next(), { command: 'submit_sm_resp', command_status: S.ESME_RTHROTTLED, sequence_number: 4 })
  t.equal(r.host.accepted.length, 1, 'the throttled submit never reached the host')
  r.host.held[0](null, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
  const resps = await r.peer.take(3)
  t.same(resps.map((p) => [p.sequence_number, p.command_status, p.message_id]), [[1, 0, 'm1'], [2, 0, 'm2'], [3, 0, 'm3']])
  t.equal(r.s.inFlight, 0)
  r.peer.send(submitSm(5))
  await r.peer.barrier()
  t.equal(r.host.accepted.length, 2, 'room again once answered')
  r.host.held[1](null, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
  t.match(await r.peer.next(), { command: 'submit_sm_resp', command_status: 0, sequence_number: 5 })
})

t.test('inbound window: four submits in one read: three accepted in one batch, the 4th throttled', async (t) => {
  const r = await rig(t, { holdAccept: true })
  await r.bind('transmitter')
  r.peer.send(submitSm(1), submitSm(2), submitSm(3), submitSm(4))
  t.match(await r.peer.next(), { command: 'submit_sm_resp', command_status: S.ESME_RTHROTTLED, sequence_number: 4 })
  t.same(r.host.accepted.map((b) => b.length), [3])
  r.host.held[0](null, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
  t.same((await r.peer.take(3)).map((p) => p.command_status), [0, 0, 0])
})

t.test('a throttled submit: the throttle event says which limit (the window, or the rate limit as the host names it); the closing line counts', async (t) => {
  const r = await rig(t, { holdAccept: true, windowSize: 2 })
  await r.bind('transmitter')
  r.peer.send(submitSm(1), submitSm(2), submitSm(3))
  t.match(await r.peer.next(), { command: 'submit_sm_resp', command_status: S.ESME_RTHROTTLED, sequence_number: 3 })
  r.host.held[0](null, [0, S.ESME_RTHROTTLED])
  t.same((await r.peer.take(2)).map((p) => p.command_status), [0, S.ESME_RTHROTTLED])
  r.tick(1_000) // throttle events: one a second per bind
  r.peer.send(submitSm(4))
  await r.peer.barrier()
  r.host.held[1](null, [S.ESME_RTHROTTLED])
  t.equal((await r.peer.next()).command_status, S.ESME_RTHROTTLED)
  t.same(r.host.metrics.eventsSince(0).filter((e) => e.type === 'throttle').map((e) => e.detail), ['window of 2 full', "u's rate limit or its reseller's"],
    'a rate refusal is named by the host (a reseller\'s user may be over its reseller\'s shared rate, not its own)')
  r.peer.send({ command: 'unbind', command_status: 0, sequence_number: 7 })
  t.equal((await r.peer.next()).command, 'unbind_resp')
  await r.peer.waitClosed()
  t.match(r.host.logs.find((l) => l.msg === 'session closed')?.fields, { submitted: 1, rejected: 3, throttled: 3, delivered: 0 }, 'what the bind did, in its closing line')
})

t.test('every refused submit goes to the host with its addresses: the window, a field check, admission, an undecodable PDU; accepted ones do not', async (t) => {
  const r = await rig(t, { holdAccept: true, windowSize: 2 })
  await r.bind('transceiver')
  r.peer.send(submitSm(1), submitSm(2, { destination_addr: '447700900003' }), submitSm(3, { destination_addr: '447700900004' }))
  t.equal((await r.peer.next()).command_status, S.ESME_RTHROTTLED)
  r.host.held[0](null, [0, S.SMSC_RNOCREDIT])
  t.same((await r.peer.take(2)).map((p) => p.command_status), [0, S.SMSC_RNOCREDIT])
  r.peer.send(submitSm(4, { schedule_delivery_time: 'not a time' }))
  t.equal((await r.peer.next()).command_status, S.ESME_RINVSCHED)
  // an undecodable submit_sm: its body cut short after the header
  const cut = Buffer.alloc(20)
  cut.writeUInt32BE(20, 0); cut.writeUInt32BE(0x00000004, 4); cut.writeUInt32BE(5, 12)
  r.peer.socket.write(cut)
  t.equal((await r.peer.next()).sequence_number, 5)
  t.same(r.host.refusals, [
    { command: 'submit_sm', status: S.ESME_RTHROTTLED, from: '447700900001', to: ['447700900004'] },
    { command: 'submit_sm', status: S.SMSC_RNOCREDIT, from: '447700900001', to: ['447700900003'] },
    { command: 'submit_sm', status: S.ESME_RINVSCHED, from: '447700900001', to: ['447700900002'] },
    { command: 'submit_sm', status: r.host.refusals[3]?.status, from: undefined, to: undefined },
  ], 'in the order answered; the undecodable one without addresses')
  t.not(r.host.refusals[3]?.status, 0)
})

t.test('query_sm of a scheduled message: SCHEDULED (0) on an SMPP 5.0 bind, ENROUTE (1) on 3.4, which has no 0', async (t) => {
  for (const [version, state] of [[0x50, 0], [0x34, 1]]) {
    const r = await rig(t)
    const scheduled = { id: 'm9', systemId: 'u', state: 0, err: 0, submitAt: 1, doneAt: 0, src: [1, 1, '447700900001'], dests: [] } as unknown as MessageRecord
    r.host.messages = new Map([['m9', scheduled]])
    r.peer.send({ command: 'bind_transceiver', command_status: 0, sequence_number: 1, system_id: 'u', password: 'p', system_type: '', interface_version: version, addr_ton: 0, addr_npi: 0, address_range: '' })
    t.equal((await r.peer.next()).command_status, 0)
    r.peer.send({ command: 'query_sm', command_status: 0, sequence_number: 2, message_id: 'm9', source_addr_ton: 0, source_addr_npi: 0, source_addr: '' })
    t.match(await r.peer.next(), { command: 'query_sm_resp', command_status: 0, message_id: 'm9', message_state: state }, `interface_version 0x${version.toString(16)}`)
  }
})

t.test('a failed commit answers every submit of the batch with ESME_RSYSERR', async (t) => {
  const r = await rig(t, { holdAccept: true })
  await r.bind('transmitter')
  r.peer.send(submitSm(1), submitSm(2))
  await r.peer.barrier()
  r.host.held[0](new Error('disk full'), [0, 0])
  t.same((await r.peer.take(2)).map((p) => [p.sequence_number, p.command_status]), [[1, S.ESME_RSYSERR], [2, S.ESME_RSYSERR]])
})

t.test('outbound window: deliver() sends at most windowSize deliver_sm and returns the rest', async (t) => {
  const r = await rig(t)
  await r.bind('receiver')
  const items = [1, 2, 3, 4, 5].map(item)
  const rest = r.s.deliver(items)
  t.same(rest, items.slice(3), 'the last two come back, in order')
  const sent = await r.peer.take(3)
  t.same(sent.map((p) => p.short_message.toString()), ['mo 1', 'mo 2', 'mo 3'])
  t.equal(r.s.freeSlots, 0)
  t.same(r.s.deliver([items[3]]), [items[3]], 'a full window takes nothing')
  r.peer.send(deliverSmResp(sent[1].sequence_number))
  await r.peer.barrier()
  t.equal(r.s.freeSlots, 1, 'a deliver_sm_resp frees a slot')
  t.same(r.host.results, [{ ok: [items[1]], failed: [] }])
  t.same(r.s.deliver(rest), [items[4]])
  t.match(await r.peer.next(), { command: 'deliver_sm', short_message: Buffer.from('mo 4') })
})

t.test('outbound window: a transmitter bind has no slots for deliver_sm', async (t) => {
  const r = await rig(t)
  await r.bind('transmitter')
  t.equal(r.s.freeSlots, 0)
  t.same(r.s.deliver([item(1)]), [item(1)])
})

t.test('a negative deliver_sm_resp (and a generic_nack) put the item into failed', async (t) => {
  const r = await rig(t)
  await r.bind('transceiver')
  const [a, b] = [item(1), item(2)]
  r.s.deliver([a, b])
  const [da, db] = await r.peer.take(2)
  r.peer.send(deliverSmResp(da.sequence_number, S.ESME_RX_T_APPN))
  r.peer.send({ command: 'generic_nack', command_status: S.ESME_RINVCMDID, sequence_number: db.sequence_number })
  await r.peer.barrier()
  const failed = r.host.results.flatMap((x) => x.failed)
  const ok = r.host.results.flatMap((x) => x.ok)
  t.same(failed, [a, b])
  t.same(ok, [])
  t.equal(r.s.freeSlots, 3)
  t.notOk(r.s.isClosed())
})

// ------------------------------------------------------------------ sequence numbers

t.test('sequence numbers wrap from 0x7FFFFFFF to 1 (SMPP 3.4 §5.1.4)', async (t) => {
  const r = await rig(t)
  await r.bind('receiver')
  r.s.setSequence(MAX_SEQUENCE)
  r.s.deliver([item(1)])
  const d = await r.peer.next()
  t.equal(d.sequence_number, 1, 'after 0x7FFFFFFF comes 1, never 0 or 0x80000000')
  r.peer.send(deliverSmResp(1))
  await r.peer.barrier()
  t.same(r.host.results.flatMap((z) => z.ok).map((i) => i.messageId), ['mo1'], 'the response to sequence 1 settles it')
  r.s.setSequence(MAX_SEQUENCE - 1)
  r.s.deliver([item(2), item(3)])
  const [x, y] = await r.peer.take(2)
  t.same([x.sequence_number, y.sequence_number], [MAX_SEQUENCE, 1])
  // The numbers either side of the wrap still match their responses.
  r.peer.send(deliverSmResp(y.sequence_number), deliverSmResp(x.sequence_number))
  await r.peer.barrier()
  t.same(r.host.results.flatMap((z) => z.ok).map((i) => i.messageId), ['mo1', 'mo3', 'mo2'])
  t.equal(r.s.outstandingCount, 0)
})

// ------------------------------------------------------------------ batches

t.test('50 submit_sm in one TCP write: one host.accept with 50 records, 50 responses in order', async (t) => {
  const r = await rig(t, { windowSize: 100 })
  await r.bind('transmitter')
  const pdus = Array.from({ length: 50 }, (_, i) => submitSm(i + 1))
  r.peer.send(...pdus)
  const resps = await r.peer.take(50)
  t.equal(r.host.accepted.length, 1, 'one accept call')
  t.equal(r.host.accepted[0].length, 50, 'with all 50 records')
  t.same(resps.map((p) => p.sequence_number), pdus.map((p) => p.sequence_number))
  t.ok(resps.every((p) => p.command === 'submit_sm_resp' && p.command_status === 0))
  t.same(resps.map((p) => p.message_id), r.host.accepted[0].map((rec) => rec.id), 'each response carries its record id')
  t.same(r.host.accepted[0].map((rec) => rec.sm.toString()), pdus.map((p) => p.short_message.toString()))
  t.equal(r.s.stats.submitted, 50)
})

// ------------------------------------------------------------------ unbind

t.test('unbind from the ESME waits for in-flight submits, then unbind_resp, then close', async (t) => {
  const r = await rig(t, { holdAccept: true })
  await r.bind('transceiver')
  r.peer.send(submitSm(1), submitSm(2))
  await r.peer.barrier()
  r.peer.send({ command: 'unbind', command_status: 0, sequence_number: 3 })
  // TCP keeps order: an enquire_link answered now proves no unbind_resp went out before it.
  r.peer.send(enquireLink(4))
  t.match(await r.peer.next(), { command: 'enquire_link_resp', sequence_number: 4 })
  t.equal(r.s.state, 'UNBOUND')
  r.peer.send(submitSm(5))
  t.match(await r.peer.next(), { command: 'submit_sm_resp', command_status: S.ESME_RINVBNDSTS, sequence_number: 5 }, 'no new submits while unbinding')
  r.host.held[0](null, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
  const out = await r.peer.take(3)
  t.same(out.map((p) => [p.command, p.sequence_number, p.command_status]), [
    ['submit_sm_resp', 1, 0], ['submit_sm_resp', 2, 0], ['unbind_resp', 3, 0],
  ])
  await r.peer.waitClosed()
  t.ok(r.s.isClosed())
})

t.test('submits and unbind in the same read: the submits are answered before unbind_resp', async (t) => {
  const r = await rig(t)
  await r.bind('transceiver')
  r.peer.send(submitSm(1), submitSm(2), { command: 'unbind', command_status: 0, sequence_number: 3 })
  const out = await r.peer.take(3)
  t.same(out.map((p) => [p.command, p.sequence_number, p.command_status]), [
    ['submit_sm_resp', 1, 0], ['submit_sm_resp', 2, 0], ['unbind_resp', 3, 0],
  ])
  t.equal(r.host.accepted.length, 1)
  await r.peer.waitClosed()
})

t.test('unbind from the ESME hands outstanding deliver_sm back as failed', async (t) => {
  const r = await rig(t)
  await r.bind('receiver')
  r.s.deliver([item(1)])
  await r.peer.next()
  r.peer.send({ command: 'unbind', command_status: 0, sequence_number: 9 })
  t.match(await r.peer.next(), { command: 'unbind_resp', sequence_number: 9 })
  await r.peer.waitClosed()
  t.same(r.host.results.flatMap((x) => x.failed).map((i) => i.messageId), ['mo1'])
})

t.test('requestUnbind sends unbind and closes on unbind_resp', async (t) => {
  const r = await rig(t)
  await r.bind('transceiver')
  const done = r.s.requestUnbind('test')
  const unbind = await r.peer.next()
  t.match(unbind, { command: 'unbind', command_status: 0 })
  t.equal(r.s.freeSlots, 0, 'no deliver_sm while unbinding')
  t.notOk(r.s.isClosed())
  r.peer.send({ command: 'unbind_resp', command_status: 0, sequence_number: unbind.sequence_number })
  await done
  t.ok(r.s.isClosed())
  await r.peer.waitClosed()
})

t.test('requestUnbind drains the outbound window first', async (t) => {
  const r = await rig(t)
  await r.bind('receiver')
  r.s.deliver([item(1)])
  const d = await r.peer.next()
  const done = r.s.requestUnbind('test')
  r.peer.send(enquireLink(50))
  t.match(await r.peer.next(), { command: 'enquire_link_resp' }, 'no unbind while a deliver_sm is outstanding')
  r.peer.send(deliverSmResp(d.sequence_number))
  const unbind = await r.peer.next()
  t.match(unbind, { command: 'unbind' })
  t.same(r.host.results.flatMap((x) => x.ok).map((i) => i.messageId), ['mo1'])
  r.peer.send({ command: 'unbind_resp', command_status: 0, sequence_number: unbind.sequence_number })
  await done
})

t.test('requestUnbind on a session that never bound just closes it', async (t) => {
  const r = await rig(t)
  await r.s.requestUnbind('shutdown')
  t.ok(r.s.isClosed())
  await r.peer.waitClosed()
})

// ------------------------------------------------------------------ malformed input

t.test('a submit_sm with a source_addr too long gets submit_sm_resp ESME_RINVSRCADR with its sequence number', async (t) => {
  const r = await rig(t)
  await r.bind('transmitter')
  // Encode with a placeholder, then widen source_addr past its 21 octets (20 + NUL, SMPP 3.4 §4.4.1).
  const good = encode(submitSm(0x4242, { source_addr: 'X' }))
  const at = good.indexOf(Buffer.from('X\0', 'latin1'), 16)
  const bad = Buffer.concat([good.subarray(0, at), Buffer.from('1'.repeat(25) + '\0', 'latin1'), good.subarray(at + 2)])
  bad.writeUInt32BE(bad.length, 0)
  r.peer.socket.write(bad)
  t.match(await r.peer.next(), { command: 'submit_sm_resp', command_status: S.ESME_RINVSRCADR, sequence_number: 0x4242 })
  t.same(r.host.accepted, [])
  r.peer.send(enquireLink(7))
  t.match(await r.peer.next(), { command: 'enquire_link_resp', sequence_number: 7 }, 'session still up')
})

t.test('a command_length of 0x7fffffff gets generic_nack ESME_RINVCMDLEN and the socket closes', async (t) => {
  const r = await rig(t)
  await r.bind('transmitter')
  const header = Buffer.alloc(16)
  header.writeUInt32BE(0x7fffffff, 0)
  header.writeUInt32BE(CommandId.submit_sm, 4)
  header.writeUInt32BE(0, 8)
  header.writeUInt32BE(77, 12)
  r.peer.socket.write(header)
  t.match(await r.peer.next(), { command: 'generic_nack', command_status: S.ESME_RINVCMDLEN, sequence_number: 77 })
  await r.peer.waitClosed()
  t.ok(r.s.isClosed())
  t.equal(r.host.closedCount, 1)
})

t.test('frames before a bad command_length in the same read are still answered', async (t) => {
  const r = await rig(t)
  await r.bind('transmitter')
  const header = Buffer.alloc(16)
  header.writeUInt32BE(8, 0) // below the 16-octet header
  header.writeUInt32BE(CommandId.enquire_link, 4)
  header.writeUInt32BE(78, 12)
  r.peer.socket.write(Buffer.concat([encode(enquireLink(5)), header]))
  const out = await r.peer.take(2)
  t.same(out.map((p) => [p.command, p.sequence_number, p.command_status]), [['enquire_link_resp', 5, 0], ['generic_nack', 78, S.ESME_RINVCMDLEN]])
  await r.peer.waitClosed()
})

t.test('the peer hanging up closes the session once and returns outstanding deliveries', async (t) => {
  const r = await rig(t)
  await r.bind('receiver')
  r.s.deliver([item(1), item(2)])
  await r.peer.take(2)
  r.peer.socket.destroy()
  await r.s.closedPromise
  await flush()
  t.equal(r.host.closedCount, 1)
  t.same(r.host.results.flatMap((x) => x.failed).map((i) => i.messageId), ['mo1', 'mo2'])
  t.equal(r.s.freeSlots, 0)
})

t.test('bad command_length: the warning names the peer\'s address', async (t) => {
  const r = await rig(t)
  const header = Buffer.alloc(16)
  header.writeUInt32BE(8, 0)
  r.peer.socket.write(header)
  await r.peer.waitClosed()
  const line = r.host.logs.find((l) => l.msg === 'bad command_length, closing')
  t.match(line, { level: 'warn', fields: { remote: /^127\.0\.0\.1:\d+$/, commandLength: 8 } })
})

// ------------------------------------------------------------------ backpressure

const MARK = 65_536
/** `n` enquire_links in one buffer, sequence numbers 1..n (16 octets each, as their responses). */
function enquireLinks(n: number): Buffer {
  const one = encode(enquireLink(1))
  const b = Buffer.allocUnsafe(n * one.length)
  for (let i = 0; i < n; i++) {
    one.copy(b, i * one.length)
    b.writeUInt32BE(i + 1, i * one.length + 12)
  }
  return b
}
/** Until `cond` holds (polled every 20 ms), or fails after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
/** The peer stops reading and sends a flood of enquire_links (16 MB: more than the kernel's socket buffers hold). */
async function flood(r: Rig, n: number): Promise<void> {
  r.peer.socket.pause()
  r.peer.socket.write(enquireLinks(n))
  await until(() => r.s.readsHeld, 20_000, 'the session to stop reading')
}
const FLOOD = 1_000_000

t.test('a peer that sends without reading: past smpp.maxQueuedOutputBytes the session stops reading, its queued answers stay bounded, and once the peer reads it gets every answer', async (t) => {
  const r = await rig(t, { maxQueuedOutputBytes: MARK })
  // the peer counts bytes instead of decoding a million PDUs
  const sock = r.peer.socket
  sock.removeAllListeners('data')
  let got = 0
  let tail = Buffer.alloc(0)
  sock.on('data', (c: Buffer) => { got += c.length; tail = Buffer.concat([tail, c]).subarray(-16) })
  await flood(r, FLOOD)
  // One socket read (64 KiB of requests) is answered whole before the check: the bound is the mark and one read's answers.
  const queued = r.s.queuedOutputBytes
  t.ok(queued > MARK && queued <= MARK + 128 * 1024, `queued output ${queued} bytes: past the mark, by at most one read's answers`)
  await new Promise((res) => setTimeout(res, 300))
  t.equal(r.s.queuedOutputBytes, queued, 'and it does not grow while the peer does not read')
  t.ok(sock.writableLength > 0, `the peer's requests wait on its side (${sock.writableLength} bytes unsent): the session reads none`)
  t.notOk(r.s.isClosed(), 'the session stays open (under the response timer)')
  sock.resume()
  await until(() => got >= FLOOD * 16, 30_000, `${FLOOD} enquire_link_resp (got ${got / 16})`)
  t.equal(got, FLOOD * 16, 'every enquire_link answered once the peer reads')
  t.equal(tail.readUInt32BE(12), FLOOD, 'the last one last')
  t.notOk(r.s.readsHeld, 'reading again')
  // and the session works: a bind is answered
  sock.write(encode({ command: 'bind_transceiver', command_status: 0, sequence_number: 7, system_id: 'u', password: 'p', system_type: '', interface_version: 0x34, addr_ton: 0, addr_npi: 0, address_range: '' }))
  await until(() => r.s.state === 'BOUND_TRX', 5_000, 'the bind')
})

t.test('before its bind a connection stops being read past 64 KiB of unsent answers, whatever smpp.maxQueuedOutputBytes; once bound, past that', async (t) => {
  const r = await rig(t) // the default mark, 1 MiB
  r.peer.socket.removeAllListeners('data')
  await flood(r, FLOOD)
  const unbound = r.s.queuedOutputBytes
  t.ok(unbound > UNBOUND_OUTPUT_BYTES && unbound <= UNBOUND_OUTPUT_BYTES + 128 * 1024, `unbound: ${unbound} bytes queued, the 64 KiB mark and one read's answers`)

  const b = await rig(t)
  await b.bind('transceiver')
  b.peer.socket.removeAllListeners('data')
  await flood(b, FLOOD)
  t.ok(b.s.queuedOutputBytes > 1024 * 1024, `bound: ${b.s.queuedOutputBytes} bytes queued before it stopped, past the configured 1 MiB`)
})

t.test('a peer that reads nothing of what it was sent for responseMs is closed, logged once with its address', async (t) => {
  const r = await rig(t, { maxQueuedOutputBytes: MARK })
  await r.bind('transceiver')
  r.peer.socket.removeAllListeners('data')
  await flood(r, FLOOD)
  r.tick(TIMERS.responseMs - 1)
  t.notOk(r.s.isClosed(), 'open just under the response timer')
  r.tick(1)
  t.ok(r.s.isClosed(), 'closed at the response timer')
  t.equal(r.s.closeReason, 'peer not reading')
  const lines = r.host.logs.filter((l) => l.msg === 'the peer does not read what it is sent, closing')
  t.equal(lines.length, 1, 'one line')
  t.match(lines[0], { level: 'warn', fields: { remote: /^127\.0\.0\.1:\d+$/, systemId: 'u', heldMs: TIMERS.responseMs } })
  t.ok((lines[0].fields.queuedBytes as number) > MARK, 'with what it left unread')
  r.tick(TIMERS.responseMs)
  t.equal(r.host.logs.filter((l) => l.msg === 'the peer does not read what it is sent, closing').length, 1, 'still one line')
})

t.test('a peer that reads: the session never stops reading (a flood answered as it comes)', async (t) => {
  const r = await rig(t) // the default mark, 1 MiB
  const sock = r.peer.socket
  sock.removeAllListeners('data')
  let got = 0
  sock.on('data', (c: Buffer) => { got += c.length })
  let held = false
  const n = 200_000
  sock.write(enquireLinks(n))
  while (got < n * 16) {
    held ||= r.s.readsHeld
    await new Promise((res) => setImmediate(res))
  }
  t.notOk(held, 'reads never held')
  t.equal(got, n * 16)
})
