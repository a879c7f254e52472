/**
 * The bind-state matrix (SMPP 3.4 §2.3, §2.4 table 2-1), as the Session answers it: for every bind
 * state an ESME can reach (OPEN, BOUND_TX, BOUND_RX, BOUND_TRX, and UNBOUND while an unbind drains)
 * and every request in THE PDU TABLE, the response command and command_status that comes back, and
 * whether the session is still open afterwards. A new request command in the table without a row
 * here fails the suite. The Session is driven synchronously through a recording fake socket; the
 * loopback tests are in session.test.ts.
 */
import t from 'tap'
import { Framer } from '../../engine/protocol/framer'
import { Metrics } from '../../engine/telemetry'
import type { Socket } from 'node:net'
import { CommandStatus as S, CommandId, MessageState, RESPONSE_BIT, type BindKind, type CommandName } from '../../engine/protocol/constants'
import { decode, encode, type Pdu } from '../../engine/protocol/codec'
import { PDUS } from '../../engine/protocol/pdus'
import { ALLOWED, BIND_COMMANDS, isBound, type BindState } from '../../engine/session/bind-state'
import { Session, type SessionConfig, type SessionHost } from '../../engine/session/session'
import { DEFAULT_LIMITS } from '../../engine/session/submit'
import type { MessageRecord } from '../../engine/message'
import { FIXTURES } from '../protocol/fixtures'

/** Records every write; each write is one encoded PDU. */
class RecordingSocket {
  readonly written: Buffer[] = []
  destroyed = false
  ended = false
  remoteAddress = '127.0.0.1'
  remotePort = 40000
  writableLength = 0
  cork(): void {}
  uncork(): void {}
  write(b: Buffer): boolean { this.written.push(Buffer.from(b)); return true }
  end(): void { this.ended = true }
  destroy(): void { this.destroyed = true }
}

const KNOWN_ID = '1000000001'
const KNOWN: MessageRecord = {
  id: KNOWN_ID, systemId: 'u', state: MessageState.ENROUTE, err: 0, submitAt: 0, doneAt: 0,
  src: [1, 1, '447700900001'], dests: [{ addr: [1, 1, '447700900002'], state: MessageState.ENROUTE, err: 0, doneAt: 0 }],
  serviceType: '', esmClass: 0, protocolId: 0, priority: 0, dataCoding: 0, registeredDelivery: 0,
  sm: Buffer.from('hi'), scheduleAt: 0, expireAt: Number.MAX_SAFE_INTEGER,
}

const CONFIG: SessionConfig = {
  timers: { sessionInitMs: 30_000, enquireLinkMs: 30_000, inactivityMs: 300_000, responseMs: 30_000 },
  maxPduLength: 65_536,
  windowSize: 10,
  limits: DEFAULT_LIMITS,
  smscSystemId: 'SMSC',
  maxQueuedOutputBytes: 1_048_576,
}

interface Harness {
  s: Session
  sock: RecordingSocket
  /** PDUs written since the last take(). */
  take(): Pdu[]
  send(pdu: Pdu): Pdu[]
  sendRaw(b: Buffer): Pdu[]
  /** accept() calls whose done is being held (holdAccept). */
  held: ((err: Error | null, statuses: number[]) => void)[]
}

let nextId = 1
function open(opts: { holdAccept?: boolean } = {}): Harness {
  const sock = new RecordingSocket()
  const held: ((err: Error | null, statuses: number[]) => void)[] = []
  let ids = 0
  const host: SessionHost = {
    metrics: new Metrics(),
    now: () => 1_000_000,
    authenticate(_s, systemId, password, _kind: BindKind, cb) {
      if (systemId !== 'u') return cb(S.ESME_RINVSYSID)
      if (password !== 'p') return cb(S.ESME_RINVPASWD)
      cb(0, { systemId: 'u', windowSize: 3 })
    },
    bound() {},
    closed() {},
    allocateIds: (_s, n) => Array.from({ length: n }, () => String(++ids)),
    accept(_s, records, done) { if (opts.holdAccept) held.push(done); else done(null, records.map(() => 0)) },
    congestion: () => 0,
    rateLimitDetail: () => 'rate limit',
    refused() {},
    getMessage: (id) => (id === KNOWN_ID ? KNOWN : undefined),
    cancel: (_s, _pdu, cb) => cb(0),
    replace: (_s, _pdu, cb) => cb(0),
    deliveryResults() {},
    log() {},
    bindRefused() {},
    sessionInitExpired() {},
  }
  const s = new Session(nextId++, sock as unknown as Socket, host, CONFIG)
  let seen = 0
  const take = (): Pdu[] => {
    // One socket write may carry several PDUs (a read's responses leave as one buffer).
    const frames: Buffer[] = []
    const framer = new Framer()
    for (const b of sock.written.slice(seen)) framer.push(b, frames)
    seen = sock.written.length
    return frames.map((b) => decode(b))
  }
  const sendRaw = (b: Buffer): Pdu[] => { s.onData(b); return take() }
  return { s, sock, take, send: (pdu) => sendRaw(encode(pdu)), sendRaw, held }
}

/** A valid request of each command, from the codec fixtures, pointed at the host's known message. */
function request(cmd: CommandName, seq: number): Pdu {
  const f = FIXTURES.find((x) => x.pdu.command === cmd)
  if (!f) throw new Error(`no fixture for ${cmd}`)
  const pdu: Pdu = { ...f.pdu, sequence_number: seq }
  if (cmd.startsWith('bind_') || cmd === 'outbind') Object.assign(pdu, { system_id: 'u', password: 'p' })
  if (cmd === 'query_sm' || cmd === 'cancel_sm' || cmd === 'replace_sm') pdu.message_id = KNOWN_ID
  return pdu
}

const BIND_OF: Record<Exclude<BindState, 'OPEN' | 'OUTBOUND' | 'UNBOUND' | 'CLOSED'>, CommandName> = {
  BOUND_TX: 'bind_transmitter',
  BOUND_RX: 'bind_receiver',
  BOUND_TRX: 'bind_transceiver',
}

/** A session in `state`, with the output of getting there already taken. */
function inState(state: 'OPEN' | 'BOUND_TX' | 'BOUND_RX' | 'BOUND_TRX' | 'UNBOUND'): Harness {
  if (state === 'OPEN') return open()
  if (state === 'UNBOUND') {
    // An ESME unbind waits for in-flight submits: hold one submit, unbind, and the session sits in UNBOUND.
    const h = open({ holdAccept: true })
    h.send(request('bind_transceiver', 1))
    h.send(request('submit_sm', 2))
    const out = h.send({ command: 'unbind', command_status: 0, sequence_number: 3 })
    if (out.length !== 0 || h.s.state !== 'UNBOUND') throw new Error(`expected a draining UNBOUND session, got ${h.s.state}`)
    return h
  }
  const h = open()
  const [resp] = h.send(request(BIND_OF[state], 1))
  if (resp.command_status !== 0 || h.s.state !== state) throw new Error(`bind for ${state} failed: ${JSON.stringify(resp)}`)
  return h
}

type Answer = { command: CommandName; status: number } | 'none'
const A = (command: CommandName, status: number): Answer => ({ command, status })

const STATES = ['OPEN', 'BOUND_TX', 'BOUND_RX', 'BOUND_TRX', 'UNBOUND'] as const
type Row = Record<(typeof STATES)[number], Answer>

/** What each request gets, per state. */
function row(resp: CommandName, asTx: number, other: number = S.ESME_RINVBNDSTS): Row {
  return { OPEN: A(resp, other), BOUND_TX: A(resp, asTx), BOUND_RX: A(resp, other), BOUND_TRX: A(resp, asTx), UNBOUND: A(resp, other) }
}
const bindRow = (cmd: CommandName): Row => ({
  // SMPP 3.4 §4.1: a second bind on a bound session is ESME_RALYBND; after unbind only close remains
  OPEN: A(`${cmd}_resp` as CommandName, 0),
  BOUND_TX: A(`${cmd}_resp` as CommandName, S.ESME_RALYBND),
  BOUND_RX: A(`${cmd}_resp` as CommandName, S.ESME_RALYBND),
  BOUND_TRX: A(`${cmd}_resp` as CommandName, S.ESME_RALYBND),
  UNBOUND: A(`${cmd}_resp` as CommandName, S.ESME_RINVBNDSTS),
})

const MATRIX: Partial<Record<CommandName, Row>> = {
  bind_transmitter: bindRow('bind_transmitter'),
  bind_receiver: bindRow('bind_receiver'),
  bind_transceiver: bindRow('bind_transceiver'),
  // SMPP 3.4 §4.1.7 outbind goes SMSC → ESME and has no response PDU: generic_nack ESME_RINVCMDID, as alert_notification
  outbind: { OPEN: A('generic_nack', S.ESME_RINVCMDID), BOUND_TX: A('generic_nack', S.ESME_RINVCMDID), BOUND_RX: A('generic_nack', S.ESME_RINVCMDID), BOUND_TRX: A('generic_nack', S.ESME_RINVCMDID), UNBOUND: A('generic_nack', S.ESME_RINVCMDID) },
  // §4.2 unbind: any bound state; before bind or a second time, ESME_RINVBNDSTS
  unbind: { OPEN: A('unbind_resp', S.ESME_RINVBNDSTS), BOUND_TX: A('unbind_resp', 0), BOUND_RX: A('unbind_resp', 0), BOUND_TRX: A('unbind_resp', 0), UNBOUND: A('unbind_resp', S.ESME_RINVBNDSTS) },
  // §4.11 enquire_link: answered in every state
  enquire_link: { OPEN: A('enquire_link_resp', 0), BOUND_TX: A('enquire_link_resp', 0), BOUND_RX: A('enquire_link_resp', 0), BOUND_TRX: A('enquire_link_resp', 0), UNBOUND: A('enquire_link_resp', 0) },
  // Transmitter operations (table 2-1): TX and TRX only
  submit_sm: row('submit_sm_resp', 0),
  data_sm: row('data_sm_resp', 0),
  submit_multi: row('submit_multi_resp', 0),
  query_sm: row('query_sm_resp', 0),
  cancel_sm: row('cancel_sm_resp', 0),
  replace_sm: row('replace_sm_resp', 0),
  // SMPP 5.0 §4.6: allowed where submits are, refused because this SMSC carries no cell broadcast
  broadcast_sm: row('broadcast_sm_resp', S.ESME_RBCASTFAIL),
  query_broadcast_sm: row('query_broadcast_sm_resp', S.ESME_RBCASTQUERYFAIL),
  cancel_broadcast_sm: row('cancel_broadcast_sm_resp', S.ESME_RBCASTCANCELFAIL),
  // deliver_sm goes SMSC → ESME: no bind state lets an ESME send it
  deliver_sm: row('deliver_sm_resp', S.ESME_RINVBNDSTS),
  // §4.12 alert_notification goes SMSC → ESME and has no response PDU: generic_nack ESME_RINVCMDID
  alert_notification: {
    OPEN: A('generic_nack', S.ESME_RINVCMDID), BOUND_TX: A('generic_nack', S.ESME_RINVCMDID), BOUND_RX: A('generic_nack', S.ESME_RINVCMDID),
    BOUND_TRX: A('generic_nack', S.ESME_RINVCMDID), UNBOUND: A('generic_nack', S.ESME_RINVCMDID),
  },
}

/** Requests in THE PDU TABLE (generic_nack carries the response bit and is handled as a response). */
const REQUESTS = (Object.values(PDUS).filter((d) => (d.id & RESPONSE_BIT) === 0).map((d) => d.name))

t.test('the matrix has a row for every request command in the PDU table', async (t) => {
  t.same(REQUESTS.filter((c) => MATRIX[c] === undefined), [], 'requests without a row')
  t.ok(REQUESTS.length >= 17)
})

for (const state of STATES) {
  t.test(`in ${state}`, async (t) => {
    for (const cmd of REQUESTS) {
      const expected = MATRIX[cmd]?.[state]
      if (expected === undefined) continue
      const h = inState(state)
      const out = h.send(request(cmd, 77))
      if (expected === 'none') {
        t.same(out, [], `${cmd}: no response`)
      } else {
        t.equal(out.length, 1, `${cmd}: one response`)
        t.match(out[0], { command: expected.command, command_status: expected.status, sequence_number: 77 }, `${cmd} → ${expected.command} 0x${expected.status.toString(16)}`)
      }
      // Only a successful unbind closes; everything else leaves the session up and answering.
      const closes = cmd === 'unbind' && expected !== 'none' && expected.status === 0
      t.equal(h.s.isClosed(), closes, `${cmd}: session ${closes ? 'closed' : 'still open'}`)
      if (!closes) {
        const [probe] = h.send({ command: 'enquire_link', command_status: 0, sequence_number: 78 })
        t.match(probe, { command: 'enquire_link_resp', command_status: 0, sequence_number: 78 }, `${cmd}: enquire_link still answered`)
      }
    }
  })
}

t.test('a successful bind moves OPEN to the state of its kind, and the ALLOWED table agrees', async (t) => {
  for (const [state, cmd] of Object.entries(BIND_OF) as [BindState, CommandName][]) {
    const h = open()
    // SMPP 3.4 §4.1.2: sc_interface_version answers a 3.4 (or later) ESME
    const [resp] = h.send({ ...request(cmd, 5), interface_version: 0x34 })
    t.match(resp, { command: `${cmd}_resp`, command_status: 0, system_id: 'SMSC', sc_interface_version: 0x34 })
    t.equal(h.s.state, state)
    t.ok(isBound(h.s.state))
    t.equal(h.s.systemId, 'u')
  }
  // The table the session consults says the same as the matrix above for the submit family.
  t.notOk(ALLOWED.OPEN.has('submit_sm'))
  t.notOk(ALLOWED.BOUND_RX.has('submit_sm'))
  t.ok(ALLOWED.BOUND_TX.has('submit_sm'))
  t.ok(ALLOWED.BOUND_TRX.has('data_sm'))
})

t.test('a bind refused for bad credentials leaves the session OPEN, and a later good bind succeeds', async (t) => {
  const h = open()
  t.match(h.send({ ...request('bind_transmitter', 1), password: 'x' })[0], { command: 'bind_transmitter_resp', command_status: S.ESME_RINVPASWD })
  t.equal(h.s.state, 'OPEN')
  t.match(h.send({ ...request('bind_transmitter', 2), system_id: 'nobody' })[0], { command: 'bind_transmitter_resp', command_status: S.ESME_RINVSYSID })
  t.match(h.send(request('submit_sm', 3))[0], { command: 'submit_sm_resp', command_status: S.ESME_RINVBNDSTS })
  t.match(h.send(request('bind_transmitter', 4))[0], { command: 'bind_transmitter_resp', command_status: 0 })
  t.equal(h.s.state, 'BOUND_TX')
})

t.test('a second bind while the first is still being authenticated is ESME_RALYBND', async (t) => {
  const sock = new RecordingSocket()
  let pending: ((status: number, acc?: { systemId: string; windowSize: number }) => void) | null = null
  const host = {
    now: () => 0, log() {}, bindRefused() {}, sessionInitExpired() {}, bound() {}, closed() {}, deliveryResults() {},
    authenticate(_s: Session, _id: string, _pw: string, _k: BindKind, cb: (status: number, acc?: { systemId: string; windowSize: number }) => void) { pending = cb },
    allocateIds: () => [], accept() {}, getMessage: () => undefined, cancel() {}, replace() {},
    congestion: () => 0,
    rateLimitDetail: () => 'rate limit',
    refused() {},
    metrics: new Metrics(),
  } satisfies SessionHost
  const s = new Session(999, sock as unknown as Socket, host, CONFIG)
  s.onData(encode(request('bind_transceiver', 1)))
  s.onData(encode(request('bind_transceiver', 2)))
  t.match(decode(sock.written[0]), { command: 'bind_transceiver_resp', command_status: S.ESME_RALYBND, sequence_number: 2 })
  pending!(0, { systemId: 'u', windowSize: 3 })
  t.match(decode(sock.written[1]), { command: 'bind_transceiver_resp', command_status: 0, sequence_number: 1 })
  t.equal(s.state, 'BOUND_TRX')
})

for (const state of STATES) {
  t.test(`in ${state}: an unknown command_id gets generic_nack ESME_RINVCMDID and the session stays open`, async (t) => {
    const h = inState(state)
    for (const id of [0x00000999, 0x00000010, 0x0000ffff, 0x7fffffff]) {
      const frame = Buffer.alloc(20)
      frame.writeUInt32BE(20, 0)
      frame.writeUInt32BE(id, 4)
      frame.writeUInt32BE(0, 8)
      frame.writeUInt32BE(0x1234, 12)
      const out = h.sendRaw(frame)
      t.match(out, [{ command: 'generic_nack', command_status: S.ESME_RINVCMDID, sequence_number: 0x1234 }], `0x${id.toString(16)}`)
      t.notOk(h.s.isClosed())
    }
    t.match(h.send({ command: 'enquire_link', command_status: 0, sequence_number: 9 }), [{ command: 'enquire_link_resp', sequence_number: 9 }])
  })
}

t.test('a generic_nack or a response to nothing from the ESME gets no answer and changes nothing', async (t) => {
  for (const state of STATES) {
    const h = inState(state)
    t.same(h.send({ command: 'generic_nack', command_status: S.ESME_RINVCMDID, sequence_number: 4242 }), [], `${state}: generic_nack`)
    t.same(h.send({ command: 'deliver_sm_resp', command_status: 0, sequence_number: 4243, message_id: '' }), [], `${state}: stray deliver_sm_resp`)
    t.equal(h.s.state, state)
    t.match(h.send({ command: 'enquire_link', command_status: 0, sequence_number: 9 }), [{ command: 'enquire_link_resp' }])
  }
})

t.test('the UNBOUND row is the draining state: the held submit is answered, then unbind_resp, then close', async (t) => {
  const h = inState('UNBOUND')
  t.equal(h.held.length, 1)
  h.held[0](null, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
  const out = h.take()
  t.match(out, [{ command: 'submit_sm_resp', command_status: 0, sequence_number: 2 }, { command: 'unbind_resp', command_status: 0, sequence_number: 3 }])
  t.ok(h.s.isClosed())
  t.ok(h.sock.ended)
})

t.test('CommandId and the matrix agree on which commands are requests', async (t) => {
  // Belt and braces: the table-derived list and the constants list name the same requests.
  const fromConstants = (Object.entries(CommandId) as [CommandName, number][]).filter(([, id]) => (id & RESPONSE_BIT) === 0).map(([n]) => n).sort()
  t.same([...REQUESTS].sort(), fromConstants)
})

// ------------------------------------------------------------------ OUTBOUND (SMPP 3.4 §2.2.1, §4.1.7)

/** A session the SMSC opened and sent outbind on, with that outbind already taken. */
function outbound(): Harness {
  const h = open()
  h.s.outbind('u', 'smscpw')
  const [pdu] = h.take()
  if (pdu?.command !== 'outbind' || h.s.state !== 'OUTBOUND') throw new Error(`expected an outbind and OUTBOUND, got ${pdu?.command} in ${h.s.state}`)
  return h
}

t.test('outbind sends the account system_id and the SMSC password, and the session waits in OUTBOUND', async (t) => {
  const h = open()
  h.s.outbind('u', 'smscpw')
  const out = h.take()
  t.equal(out.length, 1)
  t.match(out[0], { command: 'outbind', system_id: 'u', password: 'smscpw' })
  t.ok(out[0].sequence_number >= 1, 'a valid sequence number')
  t.equal(h.s.state, 'OUTBOUND')
  t.notOk(isBound(h.s.state))
})

t.test('in OUTBOUND a bind_receiver as the named account binds a receiver', async (t) => {
  const h = outbound()
  const [resp] = h.send({ ...request('bind_receiver', 1), interface_version: 0x34 })
  t.match(resp, { command: 'bind_receiver_resp', command_status: 0, system_id: 'SMSC', sc_interface_version: 0x34 })
  t.equal(h.s.state, 'BOUND_RX')
  t.equal(h.s.kind, 'receiver')
  t.ok(h.s.freeSlots > 0, 'deliver_sm may flow')
})

t.test('in OUTBOUND a bind_transceiver is accepted too', async (t) => {
  const h = outbound()
  t.match(h.send(request('bind_transceiver', 1))[0], { command: 'bind_transceiver_resp', command_status: 0 })
  t.equal(h.s.state, 'BOUND_TRX')
})

t.test('in OUTBOUND a bind_transmitter is ESME_RINVBNDSTS and the connection closes (the dialer calls again)', async (t) => {
  const h = outbound()
  t.match(h.send(request('bind_transmitter', 1))[0], { command: 'bind_transmitter_resp', command_status: S.ESME_RINVBNDSTS })
  t.ok(h.s.isClosed())
  t.equal(h.s.closeReason, 'outbind bind refused')
})

t.test('in OUTBOUND a bind as another system_id is ESME_RINVSYSID and the connection closes', async (t) => {
  const h = outbound()
  // 'v' is not the account the outbind named (whatever its credentials)
  t.match(h.send({ ...request('bind_receiver', 1), system_id: 'v' })[0], { command: 'bind_receiver_resp', command_status: S.ESME_RINVSYSID })
  t.ok(h.s.isClosed())
})

t.test('in OUTBOUND a bind with a wrong password is refused like any bind, and the connection closes', async (t) => {
  const h = outbound()
  t.match(h.send({ ...request('bind_receiver', 1), password: 'wrong' })[0], { command: 'bind_receiver_resp', command_status: S.ESME_RINVPASWD })
  t.ok(h.s.isClosed())
  t.equal(h.s.closeReason, 'outbind bind refused')
})

t.test('in OUTBOUND every other request is ESME_RINVBNDSTS; enquire_link is answered', async (t) => {
  for (const cmd of REQUESTS) {
    if (BIND_COMMANDS.has(cmd) || cmd === 'outbind') continue
    const h = outbound()
    const out = h.send(request(cmd, 77))
    t.equal(out.length, 1, `${cmd}: one response`)
    if (cmd === 'enquire_link') t.match(out[0], { command: 'enquire_link_resp', command_status: 0, sequence_number: 77 })
    // SMPP 3.4 §4.12: no response PDU exists for alert_notification; as in every state, generic_nack
    else if (cmd === 'alert_notification') t.match(out[0], { command: 'generic_nack', command_status: S.ESME_RINVCMDID, sequence_number: 77 })
    else t.match(out[0], { command: `${cmd}_resp`, command_status: S.ESME_RINVBNDSTS, sequence_number: 77 }, `${cmd} → ESME_RINVBNDSTS`)
    t.equal(h.s.state, 'OUTBOUND', `${cmd}: still OUTBOUND`)
  }
  t.same(ALLOWED.OUTBOUND.has('submit_sm'), false)
})

t.test('in OUTBOUND an outbind from the ESME is generic_nack ESME_RINVCMDID (outbind goes SMSC → ESME only), and the session waits on', async (t) => {
  const h = outbound()
  t.match(h.send(request('outbind', 5)), [{ command: 'generic_nack', command_status: S.ESME_RINVCMDID, sequence_number: 5 }])
  t.equal(h.s.state, 'OUTBOUND')
})

t.test('session_init timer: an OUTBOUND session the ESME does not bind closes', async (t) => {
  const h = outbound()
  h.s.onTick(1_000_000 + CONFIG.timers.sessionInitMs - 1)
  t.equal(h.s.state, 'OUTBOUND', 'not yet')
  h.s.onTick(1_000_000 + CONFIG.timers.sessionInitMs)
  t.ok(h.s.isClosed())
  t.equal(h.s.closeReason, 'session_init timer')
})

t.test('outbind is sent only on a fresh connection', async (t) => {
  const h = inState('BOUND_TX')
  h.s.outbind('u', 'x')
  t.same(h.take(), [])
  t.equal(h.s.state, 'BOUND_TX')
})
