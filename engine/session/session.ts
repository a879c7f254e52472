/**
 * One SMPP session (one TCP/TLS connection), as a plain class the socket handler drives directly:
 * framing, decoding, the bind-state matrix, the windows both ways and the session timers live
 * here, so the hot path has no actor hop, promise or timer per PDU. A socket read is handled as a
 * batch: all frames are decoded, all submits are validated and handed to the host as ONE batch
 * (one store commit), and all responses of the read go out as one socket write.
 * The host (engine/index.ts) supplies what is not per-connection: credentials, the store, the
 * delivery queues. Tests drive a Session with a fake socket and a fake clock.
 */
import type { Socket } from 'node:net'
import { TLSSocket } from 'node:tls'
import { CommandId, CommandStatus as S, HEADER_LENGTH, InterfaceVersion, MAX_SEQUENCE, MessageState, RESPONSE_BIT, statusName, type BindKind, type CommandName } from '../protocol/constants'
import { decode, encode, encodeIdResp, peekHeader, withoutTlvs, type Pdu } from '../protocol/codec'
import { Framer } from '../protocol/framer'
import { PDU_BY_ID, responseOf } from '../protocol/pdus'
import { formatSmppAbsolute } from '../protocol/time'
import { commandStatusOf, isSmscError } from '../errors'
import type { DeliveryItem } from '../store'
import { isFinal, type Destination, type MessageRecord } from '../message'
import { ALLOWED, BIND_COMMANDS, OUTBOUND_KINDS, STATE_OF_KIND, canReceive, isBound, type BindState } from './bind-state'
import { validateSubmit, validateSubmitMulti, type Draft, type SubmitLimits } from './submit'
import type { DestAddress, UnsuccessSme } from '../protocol/fields'
import type { Tickable } from './timers'
import type { AccountCounters, Metrics } from '../telemetry'
import { performance } from 'node:perf_hooks'
import { YoungMap } from '../young-map'

/** Commands whose responses count as submits in telemetry (smsc_submit_total). */
/** At most one warning a minute per bind about the deliver_sm it does not answer or refuses for now. */
const DELIVER_WARN_MS = 60_000
const SUBMITS: ReadonlySet<CommandName> = new Set<CommandName>(['submit_sm', 'data_sm', 'submit_multi'])

export interface SessionTimers {
  sessionInitMs: number
  enquireLinkMs: number
  inactivityMs: number
  responseMs: number
}

/**
 * The output mark of a connection that has not bound: a stranger gets answers only to enquire_link and refusals, and up
 * to smpp.maxUnboundConnections of them may be open, so each may hold far less unsent output than a bound customer.
 */
export const UNBOUND_OUTPUT_BYTES = 64 * 1024

export interface SessionConfig {
  timers: SessionTimers
  maxPduLength: number
  /** Window before bind: the account's windowSize replaces it once bound. */
  windowSize: number
  limits: SubmitLimits
  /** system_id the SMSC presents in bind responses. */
  smscSystemId: string
  /** Unsent output (socket.writableLength) past which the session stops reading until the peer has read it (config smpp.maxQueuedOutputBytes). */
  maxQueuedOutputBytes: number
}

export interface BoundAccount {
  systemId: string
  windowSize: number
  /** The account's validity defaults (SMPP validity_period absent / too far). */
  limits?: SubmitLimits
}

/**
 * The answer to an accepted batch: one status per record (0 = stored), and, per record, the destinations opt-outs
 * took out of it (engine/optouts.ts: a submit_multi goes on without them and lists them in unsuccess_sme).
 */
export type AcceptDone = (err: Error | null, statuses: number[], optedOut?: readonly (readonly Destination[] | undefined)[]) => void

/** What a session needs from the engine. Every call takes or returns batches. */
export interface SessionHost {
  now(): number
  /** Checks credentials and bind limits; answers with status 0 and the account, or the status to refuse with. */
  /** `reason` (for the log, never sent): why a bind is refused, e.g. 'wrong password', 'maxBinds 2 reached'. */
  authenticate(s: Session, systemId: string, password: string, kind: BindKind, cb: (status: number, account?: BoundAccount, reason?: string) => void): void
  bound(s: Session): void
  closed(s: Session): void
  allocateIds(s: Session, n: number): string[]
  /**
   * Admits a read batch: account policy, rate limit, routing, credit, then one store commit.
   * `done` gets one command_status per record (0 = stored, answer with the message id).
   */
  accept(s: Session, records: MessageRecord[], done: AcceptDone): void
  /** SMPP 5.0 congestion_state (0-99) for responses on 5.0 binds. */
  congestion(): number
  /**
   * Which rate limit an ESME_RTHROTTLED from admission was about, in words for the throttle event: the account's, or
   * its reseller's bucket, which all the reseller's users share (docs/ACCOUNTS.md), so a user under its own rate is not
   * puzzled. Asked at most once a second per bind (the events' own limit).
   */
  rateLimitDetail(systemId: string): string
  /** A submit refused (any status but 0): kept for message search (engine/refusals.ts). `from`/`to` absent when the
   *  request could not be decoded. */
  refused(s: Session, command: string, status: number, from?: string, to?: readonly string[]): void
  getMessage(id: string): MessageRecord | undefined
  cancel(s: Session, pdu: Pdu, cb: (status: number) => void): void
  replace(s: Session, pdu: Pdu, cb: (status: number) => void): void
  /** deliver_sm outcomes of one read batch or one tick: acknowledged, to be sent again, and refused for good (with the status). */
  deliveryResults(s: Session, ok: DeliveryItem[], failed: DeliveryItem[], refused: RefusedDelivery[]): void
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void
  /** A refused bind (not on an outbind connection), for the log: the host keeps it to one line per client address a
   *  minute with a count (a password guesser or a misconfigured ESME in a loop would fill it). */
  bindRefused(s: Session, fields: Record<string, unknown>): void
  /** The session_init timer closed a connection that had not bound, for the log: one line per client address a minute
   *  with a count (a peer flooding idle connections would make one line each). */
  sessionInitExpired(s: Session): void
  /** Counters and histograms for telemetry: increments only. */
  readonly metrics: Metrics
}

/** A deliver_sm the ESME refused for good, and its deliver_sm_resp status. */
export interface RefusedDelivery { item: DeliveryItem; status: number }

/** deliver_sm_resp statuses that mean "never": the item is not sent again (SMPP 3.4 §5.1.3: 0x65 permanent, 0x66 rejected). */
const PERMANENT_REFUSALS: ReadonlySet<number> = new Set([S.ESME_RX_P_APPN, S.ESME_RX_R_APPN])

type Outstanding =
  | { kind: 'deliver'; at: number; item: DeliveryItem }
  | { kind: 'enquire_link'; at: number }
  | { kind: 'unbind'; at: number }

/** What a response needs of its request: kept instead of the decoded PDU, which can then die young (GC). */
interface RequestRef {
  command: Pdu['command']
  sequence_number: number
}

interface Pending {
  req: RequestRef
  draft: Draft
  unsuccess?: UnsuccessSme[]
}

const EXPECTED_RESP: Record<Outstanding['kind'], number> = {
  deliver: CommandId.deliver_sm_resp,
  enquire_link: CommandId.enquire_link_resp,
  unbind: CommandId.unbind_resp,
}

/** A destination an opt-out list refused, as submit_multi_resp lists it (SMPP 3.4 §4.5.2 unsuccess_sme). */
const optedOutSme = (d: Destination): UnsuccessSme =>
  ({ dest_addr_ton: d.addr[0], dest_addr_npi: d.addr[1], destination_addr: d.addr[2], error_status_code: S.SMSC_ROPTEDOUT })

/** Statuses for broadcast requests: this SMSC carries no cell broadcast (SMPP 5.0 §4.6). */
const BROADCAST_REFUSAL: Partial<Record<CommandName, number>> = {
  broadcast_sm: S.ESME_RBCASTFAIL,
  query_broadcast_sm: S.ESME_RBCASTQUERYFAIL,
  cancel_broadcast_sm: S.ESME_RBCASTCANCELFAIL,
}

export class Session implements Tickable {
  state: BindState = 'OPEN'
  systemId = ''
  kind: BindKind | null = null
  /** When the bind succeeded (host.now()), for the closing line's upMs. */
  private boundAt = 0
  interfaceVersion: number = InterfaceVersion.V34
  readonly connectedAt: number
  /** Counters for telemetry and logs. */
  readonly stats = { submitted: 0, rejected: 0, throttled: 0, delivered: 0, deliverFailed: 0, pdusIn: 0, pdusOut: 0 }
  /** Resolves when the session has closed, whatever the cause. */
  readonly closedPromise: Promise<void>

  private windowSize: number
  private readonly framer: Framer
  private readonly frames: Buffer[] = []
  private seq = 0
  private inFlightIn = 0
  private binding = false
  private readonly outstanding = new YoungMap<number, Outstanding>()
  private batch: Pending[] = []
  private okResults: DeliveryItem[] = []
  private failedResults: DeliveryItem[] = []
  private refusedResults: RefusedDelivery[] = []
  /** Last time any PDU arrived (enquire_link_timer). */
  private lastRx: number
  /** Last time a PDU other than enquire_link / enquire_link_resp arrived (inactivity_timer). */
  private lastActivity: number
  private peerUnbindSeq = -1
  private draining = false
  private drainDeadline = 0
  private resolveClosed!: () => void
  private acct: AccountCounters
  private limits: SubmitLimits
  private lastThrottleEvent = 0
  /** deliver_sm this bind left unanswered (response timer) or refused for now, since the last warning about them
   *  (at most one a minute per bind, from onTick): a receiver that never answers is otherwise silent. */
  private deliverUnanswered = 0
  private deliverRefusedFor: Map<number, number> | null = null // made at the first refusal: an idle bind holds none
  private lastDeliverWarn = 0

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly host: SessionHost,
    private readonly config: SessionConfig,
  ) {
    this.connectedAt = this.lastRx = this.lastActivity = host.now()
    this.windowSize = config.windowSize
    this.framer = new Framer(config.maxPduLength)
    this.closedPromise = new Promise((r) => { this.resolveClosed = r })
    this.acct = host.metrics.unbound
    this.limits = config.limits
    this.outputMark = Math.min(config.maxQueuedOutputBytes, UNBOUND_OUTPUT_BYTES)
  }

  /** Window size in force (the account's once bound). */
  get window(): number { return this.windowSize }

  /** The peer's IP address without the port (allowedIps checks). */
  get remoteAddress(): string {
    return this.socket.remoteAddress ?? ''
  }

  /**
   * What an account's clientCerts are checked against at bind: the SHA-256 fingerprint of the certificate the ESME
   * showed on the TLS port ("AB:CD:…"); null without TLS or without a certificate. 'outbind' on a TLS connection this
   * SMSC opened (outbind.tls): there the ESME's server certificate was checked, and none is a client's; a plain
   * outbind connection vouches for nothing (null), as the plain port.
   */
  get clientCertificate(): string | null | 'outbind' {
    if (this.outbindSystemId !== '') return this.socket instanceof TLSSocket ? 'outbind' : null
    if (!(this.socket instanceof TLSSocket)) return null
    return this.socket.getPeerCertificate()?.fingerprint256 ?? null
  }

  /** ip:port of the peer, read once: each read of socket.remoteAddress is a getpeername call, and telemetry asks every tick for every bind. */
  get remote(): string {
    if (this.remoteText === undefined && this.socket.remoteAddress !== undefined) this.remoteText = `${this.socket.remoteAddress}:${this.socket.remotePort ?? 0}`
    return this.remoteText ?? `?:${this.socket.remotePort ?? 0}`
  }
  private remoteText: string | undefined

  /** Outbound requests awaiting a response. */
  get outstandingCount(): number { return this.outstanding.size }
  /** Room for more deliver_sm right now. */
  get freeSlots(): number {
    return this.state !== 'CLOSED' && canReceive(this.state) && !this.draining ? Math.max(0, this.windowSize - this.outstanding.size) : 0
  }
  get inFlight(): number { return this.inFlightIn }

  isClosed(): boolean { return this.state === 'CLOSED' }

  // ------------------------------------------------------------------ inbound

  /** One socket read: frames → decode → dispatch, responses written as one buffer. */
  onData(chunk: Buffer): void {
    if (this.state === 'CLOSED') return
    const frames = this.frames
    const intact = this.framer.push(chunk, frames)
    if (frames.length > 0) {
      const now = this.host.now()
      this.lastRx = now
      // SMPP 3.4 §7.2: inactivity is time between transactions. Anything the ESME starts counts, its own
      // enquire_link included. An answer to our own enquire_link probe counts only on a bind that can receive: a
      // receiver or transceiver waiting for receipts and MO has nothing else to send, and many clients (node-smpp,
      // Net::SMPP) neither probe nor bind again once unbound; a transmitter that only answers probes is idle.
      const waits = canReceive(this.state)
      for (let i = 0; i < frames.length; i++) {
        if (waits || frames[i].readUInt32BE(4) !== CommandId.enquire_link_resp) { this.lastActivity = now; break }
      }
    }
    this.begin()
    try {
      for (let i = 0; i < frames.length && !this.isClosed(); i++) this.handleFrame(frames[i])
      if (this.batch.length > 0) this.flushSubmits()
      this.flushResults()
      if (!intact && !this.isClosed()) {
        // SMPP 3.4 §3.2: a command_length we cannot trust leaves no way to find the next PDU.
        const err = this.framer.error!
        this.host.log('warn', 'bad command_length, closing', { session: this.id, remote: this.remote, ...(this.systemId !== '' ? { systemId: this.systemId } : {}), commandLength: err.commandLength })
        this.write({ command: 'generic_nack', command_status: err.status, sequence_number: err.sequenceNumber })
        this.close('invalid command_length')
      }
    } finally {
      // Not kept until the next read: a frame held by this long-lived array outlives scavenges (young-map.ts).
      frames.length = 0
      this.end()
    }
    // Backpressure: a peer that sends without reading would have every answer queued in memory. Past the mark, stop
    // reading until what is queued has gone out ('drain'): its requests wait in the kernel, not in this process. One
    // property read per socket read; the benchmark's binds never queue near the mark.
    if (this.socket.writableLength > this.outputMark && !this.isClosed()) this.holdReads()
  }

  /** The unsent output past which reads stop: UNBOUND_OUTPUT_BYTES until the bind, then smpp.maxQueuedOutputBytes. */
  private outputMark: number
  /** When reads stopped because the peer does not read what it is sent (0: reading). */
  private readsHeldAt = 0

  private holdReads(): void {
    if (this.readsHeldAt !== 0) return
    this.readsHeldAt = this.host.now()
    this.socket.pause()
    this.socket.once('drain', this.resumeReads)
  }

  private readonly resumeReads = (): void => {
    this.readsHeldAt = 0
    if (this.state !== 'CLOSED') this.socket.resume()
  }

  /** Bytes written to the peer that it has not read yet (beyond what the kernel holds): bounded by smpp.maxQueuedOutputBytes and one read's answers. */
  get queuedOutputBytes(): number { return this.socket.writableLength }

  /** Whether reads are paused because the peer does not read (smpp.maxQueuedOutputBytes). */
  get readsHeld(): boolean { return this.readsHeldAt !== 0 }

  private handleFrame(frame: Buffer): void {
    this.stats.pdusIn++
    const commandId = frame.readUInt32BE(4)
    if ((commandId & RESPONSE_BIT) !== 0) return this.handleResponse(frame)
    let pdu: Pdu
    try {
      pdu = decode(frame)
    } catch (e) {
      const h = peekHeader(frame)
      const def = PDU_BY_ID.get(h.command_id)
      const status = commandStatusOf(e)
      this.host.log('debug', 'undecodable PDU', { session: this.id, commandId: h.command_id, status, error: (e as Error).message })
      // Known request: answer with its own response; unknown command: generic_nack (SMPP 3.4 §4.3).
      const resp = def && !isSmscError(e, 'SMSC_ERR_PDU_UNKNOWN_COMMAND') ? responseOf(def.name) : undefined
      if (def && SUBMITS.has(def.name)) {
        this.stats.rejected++
        this.host.metrics.submitted(this.acct, status)
        if (isBound(this.state)) this.host.refused(this, def.name, status)
      }
      this.write({ command: resp ?? 'generic_nack', command_status: status, sequence_number: h.sequence_number })
      return
    }
    this.handleRequest(pdu)
  }

  private handleRequest(pdu: Pdu): void {
    const cmd = pdu.command
    const kind = BIND_COMMANDS.get(cmd)
    if (kind !== undefined) return this.handleBind(pdu, kind)
    if (cmd === 'unbind' && this.state === 'UNBOUND' && this.draining) {
      // Both sides unbind at once: answer theirs and close (our unbind needs no answer then).
      this.respond(pdu, 0)
      return this.close('unbind')
    }
    if (!ALLOWED[this.state].has(cmd)) {
      // A request with no response PDU (outbind, SMPP 3.4 §4.1.7, and alert_notification, §4.12: both SMSC → ESME
      // only) is not an ESME operation in any state: generic_nack ESME_RINVCMDID, as the switch below intends.
      if (responseOf(cmd) === undefined) {
        return this.write({ command: 'generic_nack', command_status: S.ESME_RINVCMDID, sequence_number: pdu.sequence_number })
      }
      // SMPP 3.4 §2.3: operation not allowed in this bind state
      return this.respond(pdu, S.ESME_RINVBNDSTS)
    }
    switch (cmd) {
      case 'enquire_link':
        return this.respond(pdu, 0)
      case 'unbind':
        return this.peerUnbind(pdu)
      case 'submit_sm':
      case 'data_sm':
        return this.queueSubmit(pdu, validateSubmit(pdu, this.systemId, this.host.now(), this.limits))
      case 'submit_multi':
        return this.queueSubmit(pdu, validateSubmitMulti(pdu, this.systemId, this.host.now(), this.limits))
      case 'query_sm':
        return this.query(pdu)
      case 'cancel_sm':
      case 'replace_sm':
        // In flight like a submit: an unbind waits for the answer.
        this.inFlightIn++
        return (cmd === 'cancel_sm' ? this.host.cancel : this.host.replace).call(this.host, this, pdu, this.guard((status: number) => {
          this.inFlightIn--
          this.respondLater(pdu, status)
          this.maybeFinishPeerUnbind()
          this.maybeSendUnbind()
        }))
      case 'broadcast_sm':
      case 'query_broadcast_sm':
      case 'cancel_broadcast_sm':
        return this.respond(pdu, BROADCAST_REFUSAL[cmd]!)
      default:
        // alert_notification and anything else an ESME may not originate (SMPP 3.4 §4.12 is SMSC → ESME)
        return this.write({ command: 'generic_nack', command_status: S.ESME_RINVCMDID, sequence_number: pdu.sequence_number })
    }
  }

  // ------------------------------------------------------------------ bind / unbind

  private handleBind(pdu: Pdu, kind: BindKind): void {
    const resp = responseOf(pdu.command)!
    // SMPP 3.4 §4.1: a bind on a bound session is ESME_RALYBND; after unbind, nothing but close
    if (isBound(this.state) || this.binding) return this.respond(pdu, S.ESME_RALYBND)
    if (this.state === 'OUTBOUND') {
      // SMPP 3.4 §4.1.7: the ESME answers our outbind with bind_receiver, as the account we named
      const refusal = !OUTBOUND_KINDS.has(kind) ? S.ESME_RINVBNDSTS : pdu.system_id !== this.outbindSystemId ? S.ESME_RINVSYSID : 0
      if (refusal !== 0) {
        this.respond(pdu, refusal)
        this.host.log('warn', 'outbind: the ESME\'s bind was refused', {
          session: this.id, systemId: this.outbindSystemId, kind, status: statusName(refusal), remote: this.remote,
          hint: refusal === S.ESME_RINVSYSID
            ? `bind as ${this.outbindSystemId}, the account the outbind named (got ${JSON.stringify(pdu.system_id)})`
            : 'answer an outbind with bind_receiver or bind_transceiver',
        })
        return this.close('outbind bind refused')
      }
    } else if (this.state !== 'OPEN') return this.respond(pdu, S.ESME_RINVBNDSTS)
    this.binding = true
    this.interfaceVersion = pdu.interface_version
    this.host.authenticate(this, pdu.system_id, pdu.password, kind, this.guard((status, account, reason) => {
      this.binding = false
      if (this.state === 'CLOSED') return
      this.begin()
      if (status !== 0 || !account) {
        this.write({ command: resp, command_status: status, sequence_number: pdu.sequence_number, system_id: this.config.smscSystemId })
        const outbound = this.state === 'OUTBOUND'
        const fields = { session: this.id, systemId: pdu.system_id, kind, status: statusName(status), remote: this.remote, ...(reason ? { reason } : {}) }
        if (!outbound) this.host.bindRefused(this, fields)
        else {
          this.host.log('warn', 'outbind: the ESME\'s bind was refused', {
            ...fields, ...(status === S.ESME_RINVPASWD ? { hint: 'the ESME binds with the account\'s password, not outbind.password (that one is the SMSC\'s, sent in the outbind)' } : {}),
          })
        }
        // Too many binds is not an authentication problem: its own event type.
        this.host.metrics.event(status === S.ESME_RBINDFAIL ? 'bind_refused' : 'auth_failure',
          { systemId: pdu.system_id, session: this.id, detail: `${kind}: ${statusName(status)} from ${this.remote}${reason ? ` (${reason})` : ''}` })
        // An outbind connection exists for this one bind: refused, it closes (the dialer tries again later).
        if (outbound) this.close('outbind bind refused')
      } else {
        this.state = STATE_OF_KIND[kind]
        this.kind = kind
        this.outputMark = this.config.maxQueuedOutputBytes
        this.systemId = account.systemId
        this.boundAt = this.host.now()
        this.windowSize = account.windowSize
        this.acct = this.host.metrics.account(account.systemId)
        const base = account.limits ?? this.config.limits
        this.limits = pdu.interface_version >= InterfaceVersion.V50 ? { ...base, smpp5: true } : base
        const out: Pdu = { command: resp, command_status: 0, sequence_number: pdu.sequence_number, system_id: this.config.smscSystemId }
        // SMPP 3.4 §4.1.2 / §5.3.2.25: sc_interface_version tells a 3.4+ ESME which version we speak
        if (pdu.interface_version >= InterfaceVersion.V34) {
          out.sc_interface_version = pdu.interface_version >= InterfaceVersion.V50 ? InterfaceVersion.V50 : InterfaceVersion.V34
        }
        this.write(out)
        this.host.log('info', 'bound', { session: this.id, systemId: this.systemId, kind, remote: this.remote })
        this.host.bound(this)
      }
      this.end()
    }))
  }

  /**
   * SMPP 3.4 §4.12 alert_notification (fields: source_addr*, esme_addr*, ms_availability_status).
   * It has no response PDU, so it takes no window slot. False when this session cannot receive.
   */
  alertNotification(fields: Record<string, unknown>): boolean {
    // alert_notification carries ms_availability_status, a TLV: SMPP 3.3 binds have none (§5.3 is 3.4).
    if (!canReceive(this.state) || this.draining || this.interfaceVersion < InterfaceVersion.V34) return false
    this.write({ ...fields, command: 'alert_notification', command_status: 0, sequence_number: this.nextSeq() } as Pdu)
    return true
  }

  /** The account an outbind on this connection named ('' = none). */
  private outbindSystemId = ''

  /**
   * SMPP 3.4 §2.2.1, §4.1.7: on a connection the SMSC opened (engine/session/outbind.ts), ask the ESME
   * to bind: outbind carries the account's system_id and the password the SMSC presents. No response
   * PDU exists; the session waits in OUTBOUND for bind_receiver (session_init timer applies).
   */
  outbind(systemId: string, password: string): void {
    if (this.state !== 'OPEN') return
    this.state = 'OUTBOUND'
    this.outbindSystemId = systemId
    this.write({ command: 'outbind', command_status: 0, sequence_number: this.nextSeq(), system_id: systemId, password })
  }

  /**
   * Wraps a callback that runs outside the socket handler (after an await elsewhere), so that a
   * bug in it closes this session only, as a crash in onData does, instead of escaping as an
   * unhandled rejection.
   */
  private guard<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      try {
        fn(...args)
      } catch (err) {
        this.host.log('error', 'session crashed in a callback', { session: this.id, systemId: this.systemId, remote: this.remote, error: String((err as Error)?.stack ?? err) })
        this.host.metrics.event('session_crash', { systemId: this.systemId, session: this.id, detail: String((err as Error)?.message ?? err) })
        this.close('crash')
      }
    }
  }

  /** The ESME unbinds (SMPP 3.4 §4.2): stop delivering, answer once in-flight submits are answered, close. */
  private peerUnbind(pdu: Pdu): void {
    this.state = 'UNBOUND'
    this.failOutstandingDeliveries()
    this.peerUnbindSeq = pdu.sequence_number
    this.maybeFinishPeerUnbind()
  }

  private maybeFinishPeerUnbind(): void {
    // Submits read before the unbind (this.batch: same socket read, not yet handed to the host)
    // are answered first, like the ones already in flight.
    if (this.peerUnbindSeq < 0 || this.inFlightIn > 0 || this.batch.length > 0) return
    this.write({ command: 'unbind_resp', command_status: 0, sequence_number: this.peerUnbindSeq })
    this.peerUnbindSeq = -1
    this.close('unbind')
  }

  /**
   * The SMSC unbinds (shutdown, inactivity, admin): stop sending deliver_sm, wait for outstanding
   * responses and in-flight submits (bounded by the response timer), send unbind, close on
   * unbind_resp or after the response timer.
   */
  requestUnbind(reason: string): Promise<void> {
    if (this.state === 'CLOSED') return this.closedPromise
    if (!isBound(this.state)) {
      this.close(reason)
      return this.closedPromise
    }
    if (!this.draining) {
      this.draining = true
      this.drainDeadline = this.host.now() + this.config.timers.responseMs
      this.host.log('info', 'unbinding', { session: this.id, systemId: this.systemId, reason })
      this.maybeSendUnbind()
    }
    return this.closedPromise
  }

  private maybeSendUnbind(): void {
    if (!this.draining || !isBound(this.state)) return
    let deliveries = 0
    for (const o of this.outstanding.values()) if (o.kind === 'deliver') deliveries++
    if ((deliveries > 0 || this.inFlightIn > 0) && this.host.now() < this.drainDeadline) return
    this.failOutstandingDeliveries()
    this.state = 'UNBOUND'
    const seq = this.nextSeq()
    this.outstanding.set(seq, { kind: 'unbind', at: this.host.now() })
    this.write({ command: 'unbind', command_status: 0, sequence_number: seq })
  }

  // ------------------------------------------------------------------ submits

  private queueSubmit(pdu: Pdu, r: ReturnType<typeof validateSubmit>): void {
    if (r.status !== 0 || !('draft' in r)) {
      this.stats.rejected++
      return this.respond(pdu, r.status, r.unsuccess ? { unsuccess_smes: r.unsuccess } : undefined)
    }
    // Window (SMSC_ERR_WINDOW_FULL → ESME_RTHROTTLED): requests not yet answered on this bind
    if (this.inFlightIn + this.batch.length >= this.windowSize) {
      this.stats.rejected++
      this.stats.throttled++
      this.throttleEvent(`window of ${this.windowSize} full`)
      return this.respond(pdu, S.ESME_RTHROTTLED)
    }
    this.batch.push({ req: { command: pdu.command, sequence_number: pdu.sequence_number }, draft: r.draft, unsuccess: r.unsuccess })
  }

  /** At most one throttle event per second per bind (telemetry); `null`: the rate limit, named by the host. */
  private throttleEvent(detail: string | null): void {
    const now = this.host.now()
    if (now - this.lastThrottleEvent < 1000) return
    this.lastThrottleEvent = now
    this.host.metrics.event('throttle', { systemId: this.systemId, session: this.id, detail: detail ?? this.host.rateLimitDetail(this.systemId) })
  }

  /** Allocates ids for the whole batch, commits it as one store write, answers after the commit. */
  private flushSubmits(): void {
    const batch = this.batch
    this.batch = []
    const ids = this.host.allocateIds(this, batch.length)
    const records: MessageRecord[] = new Array(batch.length)
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i].draft as MessageRecord
      r.id = ids[i]
      records[i] = r
    }
    this.inFlightIn += batch.length
    const t0 = performance.now()
    this.host.accept(this, records, this.guard((err: Error | null, statuses: number[], optedOut?: readonly (readonly Destination[] | undefined)[]) => {
      this.inFlightIn -= batch.length
      this.host.metrics.submitLatency.recordN((performance.now() - t0) * 1000, batch.length)
      if (this.state === 'CLOSED') return
      this.begin()
      // SMPP 5.0 §4.8.4.7: congestion_state tells a 5.0 ESME how loaded the SMSC is
      const congestion = this.interfaceVersion >= InterfaceVersion.V50 ? this.host.congestion() : -1
      let ok = 0
      for (let i = 0; i < batch.length; i++) {
        const p = batch[i]
        const status = err && statuses[i] === 0 ? S.ESME_RSYSERR : statuses[i]
        // SMPP 3.4 §4.5.2: a submit_multi's destinations on an opt-out list go to unsuccess_sme with SMSC_ROPTEDOUT
        const opted = p.req.command === 'submit_multi' ? optedOut?.[i] : undefined
        if (opted !== undefined) p.unsuccess = [...(p.unsuccess ?? []), ...opted.map(optedOutSme)]
        if (status !== 0) {
          this.stats.rejected++
          if (status === S.ESME_RTHROTTLED) {
            this.stats.throttled++
            this.throttleEvent(null)
          }
          // a refused PDU allocates only what its response carries (a throttled flood answers many)
          const extra: Record<string, unknown> | undefined = opted !== undefined ? { unsuccess_smes: p.unsuccess } : congestion >= 0 ? {} : undefined
          if (extra !== undefined && congestion >= 0) extra.congestion_state = congestion
          const d = p.draft as MessageRecord
          this.host.refused(this, p.req.command, status, d.src[2], d.dests.map((x) => x.addr[2]))
          this.respond(p.req, status, extra, false, true)
        } else {
          ok++
          this.stats.submitted++
          const cmd = p.req.command
          if (congestion < 0 && (cmd === 'submit_sm' || cmd === 'data_sm')) {
            // the common answer, templated: status 0, message_id, no TLVs
            this.writeFrame(encodeIdResp(cmd === 'submit_sm' ? 'submit_sm_resp' : 'data_sm_resp', p.req.sequence_number, ids[i]))
            continue
          }
          const extra: Record<string, unknown> = { message_id: ids[i] }
          if (p.req.command === 'submit_multi') extra.unsuccess_smes = p.unsuccess ?? []
          if (congestion >= 0) extra.congestion_state = congestion
          this.respond(p.req, 0, extra, true)
        }
      }
      if (ok > 0) this.host.metrics.submitted(this.acct, 0, ok)
      this.maybeFinishPeerUnbind()
      this.maybeSendUnbind()
      this.end()
    }))
  }

  /** query_sm (SMPP 3.4 §4.8): answered from the store, synchronously. */
  private query(pdu: Pdu): void {
    const r = this.host.getMessage(pdu.message_id)
    // Only the account that submitted a message may query it; source_addr, when given, must match.
    if (!r || r.systemId !== this.systemId || (pdu.source_addr && pdu.source_addr !== r.src[2])) {
      return this.respond(pdu, S.ESME_RQUERYFAIL, { message_id: pdu.message_id })
    }
    this.respond(pdu, 0, {
      message_id: r.id,
      final_date: isFinal(r.state) && r.doneAt ? formatSmppAbsolute(r.doneAt) : '',
      // SMPP 5.0 §4.7.15 message_state 0 SCHEDULED; SMPP 3.4 §5.2.28 has no 0: a scheduled message reads as ENROUTE
      message_state: r.state === MessageState.SCHEDULED && this.interfaceVersion < InterfaceVersion.V50 ? MessageState.ENROUTE : r.state,
      error_code: r.err & 0xff,
    })
  }

  private respondLater(pdu: Pdu, status: number): void {
    if (this.state === 'CLOSED') return
    this.begin()
    this.respond(pdu, status)
    this.end()
  }

  // ------------------------------------------------------------------ outbound deliver_sm

  /**
   * Sends deliver_sm for as many items as the window allows; returns the ones not sent.
   * Called by the session actor with a batch from the delivery actor.
   */
  deliver(items: DeliveryItem[]): DeliveryItem[] {
    let free = this.freeSlots
    if (free === 0) return items
    const now = this.host.now()
    const rest: DeliveryItem[] = []
    this.begin()
    for (const item of items) {
      if (free === 0) { rest.push(item); continue }
      const seq = this.nextSeq()
      this.outstanding.set(seq, { kind: 'deliver', at: now, item })
      // The item's frame was encoded once; a copy gets this session's sequence number (an SMPP 3.3 bind: without TLVs).
      const frame = this.interfaceVersion < InterfaceVersion.V34 ? withoutTlvs(item.frame as Buffer) : Buffer.from(item.frame as Buffer)
      frame.writeUInt32BE(seq, 12)
      this.stats.pdusOut++
      this.push(frame)
      free--
    }
    this.end()
    return rest
  }

  private handleResponse(frame: Buffer): void {
    const h = peekHeader(frame)
    const o = this.outstanding.get(h.sequence_number)
    // A response settles the request it answers: same sequence number and the matching command
    // (or a generic_nack).
    if (o !== undefined && h.command_id !== CommandId.generic_nack && h.command_id !== EXPECTED_RESP[o.kind]) {
      this.host.log('debug', 'response does not match the request it names', { session: this.id, commandId: h.command_id, seq: h.sequence_number })
      return
    }
    if (o === undefined) {
      this.host.log('debug', 'response to nothing outstanding', { session: this.id, commandId: h.command_id, seq: h.sequence_number })
      return
    }
    this.outstanding.delete(h.sequence_number)
    if (frame.length > HEADER_LENGTH) {
      // Decode only to validate; the header says all we need.
      try { decode(frame) } catch { /* a malformed response still settles its request */ }
    }
    switch (o.kind) {
      case 'deliver':
        if (h.command_status === 0) {
          this.stats.delivered++
          this.okResults.push(o.item)
        } else if (PERMANENT_REFUSALS.has(h.command_status)) {
          // ESME_RX_P_APPN, ESME_RX_R_APPN: the ESME's application will never take it (SMPP 3.4 §5.1.3): not sent again.
          this.stats.deliverFailed++
          this.refusedResults.push({ item: o.item, status: h.command_status })
        } else {
          // any other negative deliver_sm_resp (ESME_RX_T_APPN, a full queue, …) or generic_nack: try again later
          // (the delivery actor backs off)
          this.stats.deliverFailed++
          this.failedResults.push(o.item)
          const status = h.command_id === CommandId.generic_nack ? -1 : h.command_status
          this.deliverRefusedFor ??= new Map()
          this.deliverRefusedFor.set(status, (this.deliverRefusedFor.get(status) ?? 0) + 1)
        }
        this.maybeSendUnbind()
        return
      case 'enquire_link':
        return
      case 'unbind':
        this.close('unbind_resp')
    }
  }

  private failOutstandingDeliveries(): void {
    for (const [seq, o] of this.outstanding) {
      if (o.kind !== 'deliver') continue
      this.outstanding.delete(seq)
      this.failedResults.push(o.item)
    }
  }

  private flushResults(): void {
    if (this.okResults.length === 0 && this.failedResults.length === 0 && this.refusedResults.length === 0) return
    const ok = this.okResults, failed = this.failedResults, refused = this.refusedResults
    this.okResults = []
    this.failedResults = []
    this.refusedResults = []
    this.host.deliveryResults(this, ok, failed, refused)
  }

  // ------------------------------------------------------------------ timers

  /** Called by the shared Ticker (SMPP 3.4 §7.2 timers). */
  onTick(now: number): void {
    if (this.state === 'CLOSED') return
    const t = this.config.timers
    // A peer whose queued output has not drained for the response timer's time since reads paused (reading slowly is
    // not enough: reads resume only on 'drain'): nothing it asks can be answered, nor can it answer (its requests and
    // responses wait unread). Closed, as an unanswered enquire_link closes it.
    if (this.readsHeldAt !== 0 && now - this.readsHeldAt >= t.responseMs) {
      this.host.log('warn', 'the peer does not read what it is sent, closing', {
        session: this.id, remote: this.remote, ...(this.systemId !== '' ? { systemId: this.systemId } : {}),
        queuedBytes: this.socket.writableLength, heldMs: now - this.readsHeldAt,
      })
      return this.close('peer not reading')
    }
    // session_init_timer: no bind within the time → close
    if ((this.state === 'OPEN' || this.state === 'OUTBOUND') && !this.binding && t.sessionInitMs > 0 && now - this.connectedAt >= t.sessionInitMs) {
      this.host.sessionInitExpired(this)
      return this.close('session_init timer')
    }
    // response_timer: oldest first; Map keeps insertion order, so stop at the first one not due
    for (const [seq, o] of this.outstanding) {
      if (now - o.at < t.responseMs) break
      this.outstanding.delete(seq)
      if (o.kind === 'deliver') {
        this.stats.deliverFailed++
        this.deliverUnanswered++
        this.failedResults.push(o.item)
      } else {
        this.host.log('info', `${o.kind} not answered, closing`, { session: this.id, systemId: this.systemId, remote: this.remote })
        this.flushResults()
        return this.close(`${o.kind} response timer`)
      }
    }
    // inactivity_timer: nothing received for too long → unbind
    if (isBound(this.state) && t.inactivityMs > 0 && now - this.lastActivity >= t.inactivityMs && !this.draining) {
      this.requestUnbind('inactivity timer')
    } else if (isBound(this.state) && t.enquireLinkMs > 0 && now - this.lastRx >= t.enquireLinkMs && !this.draining) {
      // enquire_link_timer: probe an idle ESME, once per idle period
      let pending = false
      for (const o of this.outstanding.values()) if (o.kind === 'enquire_link') { pending = true; break }
      if (!pending) {
        const seq = this.nextSeq()
        this.outstanding.set(seq, { kind: 'enquire_link', at: now })
        this.write({ command: 'enquire_link', command_status: 0, sequence_number: seq })
      }
    }
    if ((this.deliverUnanswered > 0 || this.deliverRefusedFor !== null) && now - this.lastDeliverWarn >= DELIVER_WARN_MS) this.warnDeliveries(now)
    if (this.draining) this.maybeSendUnbind()
    if (this.state === 'UNBOUND' && this.peerUnbindSeq < 0 && this.draining && now - this.drainDeadline >= t.responseMs) {
      this.close('unbind timeout')
    }
    this.flushResults()
  }

  /** What this bind did with the deliver_sm it was sent since the last warning: they go again later, with back-off. */
  private warnDeliveries(now: number): void {
    const refused: Record<string, number> = {}
    for (const [status, n] of this.deliverRefusedFor ?? []) refused[status < 0 ? 'generic_nack' : statusName(status)] = n
    this.host.log('warn', 'the ESME did not take receipts or MO sent to it: they are sent again later (at most one such line a minute per bind)', {
      session: this.id, systemId: this.systemId, remote: this.remote,
      ...(this.deliverUnanswered > 0 ? { unanswered: this.deliverUnanswered, responseMs: this.config.timers.responseMs } : {}),
      ...(this.deliverRefusedFor !== null ? { refused } : {}),
    })
    this.deliverUnanswered = 0
    this.deliverRefusedFor = null
    this.lastDeliverWarn = now
  }

  // ------------------------------------------------------------------ plumbing

  private nextSeq(): number {
    // SMPP 3.4 §5.1.4: 0x00000001 .. 0x7FFFFFFF, then wrap
    this.seq = this.seq >= MAX_SEQUENCE ? 1 : this.seq + 1
    return this.seq
  }

  /** Test hook: where the next sequence number starts. */
  setSequence(n: number): void { this.seq = n }

  /** `counted`: the caller counts this response itself (a committed batch counts once); `noted`: the caller gave a
   *  refusal to host.refused itself (else a refused submit's own addresses are given when `req` is the decoded PDU). */
  private respond(req: RequestRef, status: number, fields?: Record<string, unknown>, counted = false, noted = false): void {
    const pdu = (fields ?? {}) as Pdu
    if (!counted && SUBMITS.has(req.command)) {
      this.host.metrics.submitted(this.acct, status)
      if (status !== 0 && !noted && isBound(this.state)) this.refusedRequest(req as Pdu, status)
    }
    pdu.command = responseOf(req.command) ?? 'generic_nack'
    pdu.command_status = status
    pdu.sequence_number = req.sequence_number
    this.write(pdu)
  }

  /** A refused submit's addresses, when `pdu` is the decoded request (a RequestRef has none). */
  private refusedRequest(pdu: Pdu, status: number): void {
    const multi = pdu.dest_addresses as DestAddress[] | undefined
    const to = typeof pdu.destination_addr === 'string' ? [pdu.destination_addr]
      : Array.isArray(multi) ? multi.map((d) => (d.dest_flag === 1 ? d.destination_addr : d.dl_name)) : undefined
    this.host.refused(this, pdu.command, status, typeof pdu.source_addr === 'string' ? pdu.source_addr : undefined, to)
  }

  private write(pdu: Pdu): void {
    if (this.state === 'CLOSED' || this.socket.destroyed) return
    this.writeFrame(encode(pdu))
  }

  /** An encoded PDU out (batched between begin() and end()). */
  private writeFrame(frame: Buffer): void {
    if (this.state === 'CLOSED' || this.socket.destroyed) return
    this.stats.pdusOut++
    this.push(frame)
  }

  // Output batching: between begin() and end() encoded PDUs are collected and leave as ONE socket
  // write (one syscall, one stream request) when the outermost end() runs; outside, they go at once.
  private out: Buffer[] = []
  private outBytes = 0
  private depth = 0

  private push(b: Buffer): void {
    if (this.depth === 0) { this.socket.write(b); return }
    this.out.push(b)
    this.outBytes += b.length
  }

  private begin(): void { this.depth++ }

  private end(): void {
    if (--this.depth > 0) return
    this.flushOut()
  }

  private flushOut(): void {
    if (this.out.length === 0) return
    const b = this.out.length === 1 ? this.out[0] : Buffer.concat(this.out, this.outBytes)
    this.out = []
    this.outBytes = 0
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(b)
  }

  /** Why the session closed (for logs and the unbind event). */
  closeReason = ''

  /** Closes the connection once; outstanding deliveries go back to the delivery actor. */
  close(reason: string): void {
    if (this.state === 'CLOSED') return
    this.closeReason = reason
    this.failOutstandingDeliveries()
    this.outstanding.clear()
    this.state = 'CLOSED'
    // A bound session's end is worth a line, as its bind was; a connection that never bound (a port check, a refused bind) is not.
    // With what it did: the log keeps it after the telemetry's events are gone ("what did my bind do yesterday").
    if (this.systemId !== '') {
      const { submitted, rejected, throttled, delivered } = this.stats
      this.host.log('info', 'session closed', { session: this.id, systemId: this.systemId, kind: this.kind, remote: this.remote, reason, upMs: this.host.now() - this.boundAt, submitted, rejected, throttled, delivered })
    }
    else this.host.log('debug', 'session closed', { session: this.id, reason })
    this.flushOut() // what this read answered (a generic_nack, an unbind_resp) goes before the FIN
    this.socket.end()
    setTimeout(() => this.socket.destroy(), 1000).unref()
    this.flushResults()
    this.host.closed(this)
    this.resolveClosed()
  }
}
