/**
 * The upstream SMPP client connector: the engine binds as an ESME to another SMSC and submits the
 * destinations routed to it. It owns one connection at a time (TCP or TLS), its bind, the window of
 * outstanding submit_sm, the send rate (a token bucket) and the reconnect back-off; it reports
 * through ConnectorEvents and never touches the store.
 *
 * Built on the engine's own protocol code (Framer, the table-driven codec, the receipt parser). A
 * socket read is one batch: every frame of it is handled, every answer to the upstream leaves as
 * ONE socket write, and the events of the read (accepted, outcomes, retry, receipts, mo) go out as
 * one call each. submit() writes all the submit_sm it takes as one write. The response, bind and
 * enquire_link timers are deadlines checked by tick(now); the only timers are the reconnect
 * back-off and the bound on stop() (which must not depend on anyone still ticking).
 *
 * down() is reported once per outage: when a bound link is lost, or when the first attempt after
 * start() (or after the last up) fails; failed reconnect attempts during the same outage are logged
 * only.
 *
 * Two ways an upstream that keeps its bind can still stop our traffic, both judged per answer or per
 * tick, never with a timer per submit (docs/CONNECTORS.md "When the upstream stalls or throttles"):
 * - it stops answering submit_sm (the link answers enquire_link): stallAfterTimeouts (3) submits in a
 *   row time out with no submit_sm_resp since they were sent, and the link is dropped and bound again,
 *   as Kannel and Jasmin do. Its reconnect back-off then starts over only once a submit is answered
 *   again, not at the bind: a link that binds and stalls again comes back less and less often.
 * - it answers ESME_RTHROTTLED or ESME_RMSGQFUL: the connector pauses its submits (`paused`) for
 *   throttlePauseMs, doubling while the upstream refuses again what we send after a pause, back to the
 *   minimum once it accepts one. One warning per throttling episode, an info line when it ends.
 */
import { readFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import { CommandId, CommandStatus as S, EsmClass, MAX_SEQUENCE, MessageState, RESPONSE_BIT, statusName, type CommandName } from '../../engine/protocol/constants'
import { decode, encode, peekHeader, type Pdu } from '../../engine/protocol/codec'
import { Framer } from '../../engine/protocol/framer'
import { MAX_SHORT_MESSAGE } from '../../engine/protocol/fields'
import { PDU_BY_ID, responseOf } from '../../engine/protocol/pdus'
import { formatSmppAbsolute } from '../../engine/protocol/time'
import { parseReceipt } from '../../engine/protocol/dlr'
import { codingOfDcs, ucs2Decode } from '../../engine/protocol/text/charsets'
import { STATE_OF_STAT } from '../../engine/message'
import { commandStatusOf, isSmscError } from '../../engine/errors'
import { RepeatedLog, type LogFn } from '../../engine/log'
import type { SmppConnectorOptions } from '../../engine/config'
import type { ConnectorRetryReason } from '../../engine/telemetry'
import type { Connector, ConnectorEvents, ConnectorOutcome, ConnectorStats, Dispatch, InboundMo, UpstreamAlert, UpstreamReceipt } from './types'

/** The connector's config: `connectors[i]` of kind 'smpp', checked and defaulted by engine/config.ts (docs/CONNECTORS.md). */
export type SmppConnectorConfig = SmppConnectorOptions

type Outstanding =
  | { kind: 'submit'; at: number; item: Dispatch }
  | { kind: 'bind' | 'enquire_link' | 'unbind'; at: number }

type LinkState = 'idle' | 'connecting' | 'binding' | 'bound' | 'unbinding' | 'down'

/**
 * Statuses that mean "not now" (retry later), not "never" (SMPP 3.4 §5.1.3), with the reason
 * smsc_connector_retries_total counts them under; `pause`: the upstream asks us to send less, so the
 * connector pauses its submits (throttlePauseMs).
 */
const TEMPORARY: ReadonlyMap<number, { reason: ConnectorRetryReason; pause: boolean }> = new Map([
  [S.ESME_RTHROTTLED, { reason: 'throttled', pause: true }], // 0x58 "Throttling error (ESME has exceeded allowed message limits)"
  [S.ESME_RMSGQFUL, { reason: 'queue_full', pause: true }], // 0x14 "Message Queue Full"
  [S.ESME_RSYSERR, { reason: 'system_error', pause: false }], // 0x08 "System Error"
])

/** A throttling episode ends (an info line) once the upstream has refused nothing for this long. */
export const THROTTLING_QUIET_MS = 60_000

const EMPTY = Buffer.alloc(0)

/** Receipt text as it arrived: UCS2 decoded, anything else read octet by octet (ids are ASCII). */
function receiptText(sm: Buffer, dcs: number): string {
  return codingOfDcs(dcs) === 'ucs2' ? ucs2Decode(sm) : sm.toString('latin1')
}

export class SmppClientConnector implements Connector {
  readonly kind = 'smpp' as const
  readonly id: string

  private link: LinkState = 'idle'
  private socket: net.Socket | null = null
  /** Resolves when the last socket opened has closed (stop() waits for it). */
  private socketClosed: Promise<void> = Promise.resolve()
  private socketError = ''
  private linkAt = 0
  private framer = new Framer()
  private readonly frames: Buffer[] = []
  private seq = 0
  private readonly outstanding = new Map<number, Outstanding>()
  private inFlightCount = 0
  private enquirePending = false
  private lastRx = 0
  private tokens = 0
  private refillAt = 0
  private sent = 0
  private failed = 0

  private backoff: number
  /** When the upstream last answered a submit (any status): time-outs of submits sent before it tell of no stall. */
  private lastAnswerAt = 0
  /** Submits timed out in a row, each sent after the last answer (cfg.stallAfterTimeouts). */
  private silentTimeouts = 0
  /** The last link was dropped for a stall: the reconnect back-off starts over at an answered submit, not at the bind. */
  private stalled = false
  /** When the link was last dropped for a stall, and the time-outs in a row that made it (stats(); while `stalled`). */
  private stalledAt = 0
  private stalledTimeouts = 0
  /** Throttled (ESME_RTHROTTLED, ESME_RMSGQFUL): no submit goes before pausedUntil; cleared by tick(). */
  private isPaused = false
  private pausedUntil = 0
  /** The length of the next pause (throttlePauseMs: doubles, back to the minimum at an accepted submit). */
  private pauseMs: number
  /** The throttling episode under way: its one warning went, its end is logged after THROTTLING_QUIET_MS without a refusal. */
  private throttling: { since: number; last: number; refusals: number; pauses: number } | null = null

  /** Failed reconnects while down: a warning a minute, with their count and the last reason (the first failure warns on its own). */
  private readonly stillDown: RepeatedLog
  private reconnectTimer: NodeJS.Timeout | null = null
  private stopTimer: NodeJS.Timeout | null = null
  private stopping = false
  private stopPromise: Promise<void> | null = null
  private reportedDown = false

  // Events of the current batch (one socket read, one tick, one submit call).
  private accepted: { id: string; dest: number; upstreamId: string }[] = []
  private outcomes: ConnectorOutcome[] = []
  private retries = new Map<string, { items: Dispatch[]; counted: ConnectorRetryReason | undefined }>()
  private receipts: UpstreamReceipt[] = []
  private mos: InboundMo[] = []
  private alerts: UpstreamAlert[] = []
  /** The deliver_sm/data_sm PDUs behind `receipts` and `mos`, answered when the engine has stored them. */
  private receiptAcks: Pdu[] = []
  private moAcks: Pdu[] = []

  // Output batching: between begin() and end() PDUs are collected and leave as one socket write.
  private out: Buffer[] = []
  private outBytes = 0
  private depth = 0

  constructor(
    private readonly cfg: SmppConnectorConfig,
    private readonly events: ConnectorEvents,
    private readonly log: LogFn,
    private readonly now: () => number,
  ) {
    this.id = cfg.id
    this.backoff = cfg.reconnectMs[0]
    this.pauseMs = cfg.throttlePauseMs[0]
    this.stillDown = new RepeatedLog(log, { level: 'warn', keyName: 'connector', first: 'upstream still down: a reconnect attempt failed', more: 'upstream still down: reconnect attempts failed' })
    // The config check read it already; a file gone since then leaves Node's CAs (the handshake then says why).
    if (cfg.tls && cfg.ca !== null) {
      try {
        this.ca = readFileSync(cfg.ca)
      } catch (e) {
        log('error', 'connector ca cannot be read: the upstream is verified against the public CAs', { connector: cfg.id, ca: cfg.ca, error: (e as Error).message })
      }
    }
  }

  /** The connector's CA certificates (config `ca`), when it has its own. */
  private readonly ca: Buffer | undefined

  /** Bound and able to submit (a receiver bind carries receipts and MO only). */
  get up(): boolean {
    return this.link === 'bound' && this.cfg.bindType !== 'receiver'
  }

  /** Up, but sending nothing until its throttling pause is over (a boolean: the dispatcher reads it per destination). */
  get paused(): boolean {
    return this.isPaused
  }

  start(): void {
    if (this.link !== 'idle') return
    this.stopping = false
    this.stopPromise = null
    this.reportedDown = false
    this.backoff = this.cfg.reconnectMs[0]
    this.connect()
  }

  stats(): ConnectorStats {
    return {
      id: this.id, kind: 'smpp', up: this.up, inFlight: this.inFlightCount, sent: this.sent, failed: this.failed,
      paused: this.isPaused ? new Date(this.pausedUntil).toISOString() : null, stalled: this.stalled,
      ...(this.stalled ? { stalledSince: new Date(this.stalledAt).toISOString(), stalledTimeouts: this.stalledTimeouts } : {}),
    }
  }

  /** Test hook: where the next sequence number starts. */
  setSequence(n: number): void { this.seq = n }

  // ------------------------------------------------------------------ submit

  submit(items: Dispatch[], now: number): Dispatch[] {
    if (!this.up || this.isPaused || items.length === 0) return items
    let room = this.cfg.windowSize - this.inFlightCount
    if (this.cfg.ratePerSecond > 0) {
      this.refill(now)
      room = Math.min(room, Math.floor(this.tokens))
    }
    if (room <= 0) return items
    let i = 0
    this.begin()
    try {
      for (let taken = 0; i < items.length && taken < room; i++) {
        const d = items[i]
        const seq = this.nextSeq()
        let frame: Buffer
        try {
          frame = encode(this.submitPdu(d, seq))
        } catch (e) {
          // A record this PDU cannot carry (e.g. a data_sm address longer than submit_sm's 21 octets).
          const err = commandStatusOf(e)
          this.failed++
          this.outcomes.push({ id: d.record.id, dest: d.dest, state: MessageState.REJECTED, err, rev: d.record.rev })
          this.log('warn', 'cannot encode submit_sm for upstream', { connector: this.id, id: d.record.id, error: (e as Error).message })
          continue
        }
        this.outstanding.set(seq, { kind: 'submit', at: now, item: d })
        this.inFlightCount++
        this.tokens--
        taken++
        this.push(frame)
      }
    } finally {
      this.end()
    }
    return i === 0 ? items : items.slice(i)
  }

  private submitPdu(d: Dispatch, seq: number): Pdu {
    const r = d.record
    const dst = r.dests[d.dest].addr
    const pdu: Pdu = {
      command: 'submit_sm', command_status: 0, sequence_number: seq,
      service_type: r.serviceType,
      source_addr_ton: r.src[0], source_addr_npi: r.src[1], source_addr: r.src[2],
      dest_addr_ton: dst[0], dest_addr_npi: dst[1], destination_addr: dst[2],
      esm_class: r.esmClass,
      protocol_id: r.protocolId,
      // SMPP 3.4 §5.2.14 priority_flag 0..3; 4 exists only in SMPP 5.0 (§4.7.19)
      priority_flag: Math.min(r.priority, this.cfg.interfaceVersion >= 0x50 ? 4 : 3),
      schedule_delivery_time: '',
      // SMPP 3.4 §7.1.1 absolute time; the dispatcher owns scheduling, the upstream gets the expiry
      validity_period: r.expireAt > 0 ? formatSmppAbsolute(r.expireAt) : '',
      // SMPP 3.4 §5.2.17: we always want the upstream's final receipt, whatever the ESME asked for
      registered_delivery: 1,
      replace_if_present_flag: 0,
      data_coding: r.dataCoding,
      sm_default_msg_id: 0,
    }
    // set_dpf: the ESME wants an alert_notification if the subscriber is absent, so the upstream should keep a
    // delivery pending flag. SMPP 3.4 §5.3.2.29 has it on data_sm only; SMPP 5.0 also on submit_sm: sent to 5.0 binds
    // only (a strict 3.4 upstream could refuse the submit_sm with ESME_ROPTPARNOTALLWD).
    if (r.setDpf && this.cfg.interfaceVersion >= 0x50) pdu.set_dpf = 1
    // SMPP 3.4 §5.2.21 sm_length ≤ 254; longer goes in message_payload with sm_length 0 (§5.3.2.32)
    if (r.sm.length <= MAX_SHORT_MESSAGE) {
      pdu.short_message = r.sm
    } else {
      pdu.short_message = EMPTY
      pdu.message_payload = r.sm
    }
    return pdu
  }

  /** Token bucket: ratePerSecond tokens a second, burst of one second's worth (at least 1). */
  private refill(now: number): void {
    const rate = this.cfg.ratePerSecond
    if (now > this.refillAt) {
      this.tokens = Math.min(Math.max(1, rate), this.tokens + ((now - this.refillAt) * rate) / 1000)
      this.refillAt = now
    }
  }

  // ------------------------------------------------------------------ tick

  tick(now: number): void {
    if (this.isPaused && now >= this.pausedUntil) this.isPaused = false
    if (this.throttling !== null && now - this.throttling.last >= THROTTLING_QUIET_MS) {
      const { since, last, refusals, pauses } = this.throttling
      this.throttling = null
      this.log('info', 'upstream throttling over', { connector: this.id, refusals, pauses, forMs: last - since })
    }
    if (this.link === 'connecting' || this.link === 'binding') {
      if (now - this.linkAt >= this.cfg.responseMs) this.linkLost(this.link === 'connecting' ? 'connect timeout' : 'bind_resp timeout')
      return
    }
    if (this.link !== 'bound' && this.link !== 'unbinding') return
    this.begin()
    try {
      // response_timer (SMPP 3.4 §7.2), oldest first: the Map keeps insertion order
      for (const [seq, o] of this.outstanding) {
        if (now - o.at < this.cfg.responseMs) break
        this.outstanding.delete(seq)
        if (o.kind === 'submit') {
          this.inFlightCount--
          this.addRetry(o.item, 'response timeout', 'timeout')
          // Sent after the upstream's last answer: silence. One lost among answered ones is not.
          if (o.at >= this.lastAnswerAt) this.silentTimeouts++
        } else {
          this.log('info', `upstream did not answer ${o.kind}, closing`, { connector: this.id })
          this.linkLost(`${o.kind}_resp timeout`)
          return
        }
      }
      // Bound, answering enquire_link, but no submit_sm_resp: drop the link and bind again (SMPP 3.4 §4.2 unbind; no
      // unbind_resp is awaited from a link that answers nothing). What it held goes back for failover (linkLost).
      // stallAfterTimeouts (3 by default), or the whole window when it is smaller
      const stallAfter = Math.min(this.cfg.stallAfterTimeouts, this.cfg.windowSize)
      if (this.link === 'bound' && this.silentTimeouts >= stallAfter) {
        const n = this.silentTimeouts
        // Since the first drop of a stall that lasts: a link bound again that stalls again keeps its start.
        if (!this.stalled) this.stalledAt = now
        this.stalled = true
        this.stalledTimeouts = n
        this.write({ command: 'unbind', command_status: 0, sequence_number: this.nextSeq() })
        this.linkLost(`stalled: ${n} submit_sm in a row unanswered after responseMs ${this.cfg.responseMs}: unbinding to bind again`)
        return
      }
      // enquire_link_timer (SMPP 3.4 §7.2): probe an idle link, one probe at a time
      if (this.link === 'bound' && this.cfg.enquireLinkMs > 0 && !this.enquirePending && now - this.lastRx >= this.cfg.enquireLinkMs) {
        const seq = this.nextSeq()
        this.enquirePending = true
        this.outstanding.set(seq, { kind: 'enquire_link', at: now })
        this.write({ command: 'enquire_link', command_status: 0, sequence_number: seq })
      }
    } finally {
      this.end()
    }
  }

  // ------------------------------------------------------------------ link

  private connect(): void {
    this.link = 'connecting'
    this.linkAt = this.now()
    this.socketError = ''
    this.framer = new Framer()
    const { host, port } = this.cfg
    const sock: net.Socket = this.cfg.tls
      ? tls.connect({ host, port, rejectUnauthorized: this.cfg.rejectUnauthorized, ca: this.ca, servername: net.isIP(host) ? undefined : host })
      : net.connect({ host, port })
    this.socket = sock
    sock.setNoDelay(true)
    this.socketClosed = new Promise((resolve) => sock.once('close', () => resolve()))
    sock.once(this.cfg.tls ? 'secureConnect' : 'connect', () => {
      if (sock === this.socket) this.guard(() => this.sendBind())
    })
    sock.on('data', (chunk: Buffer) => {
      if (sock === this.socket) this.guard(() => this.onData(sock, chunk))
    })
    sock.on('error', (e: Error) => {
      // a certificate refused against the connector's own CAs: say which file it was checked against
      if (sock === this.socket) this.socketError = this.ca !== undefined && /certificate|self[- ]signed|unable to verify/i.test(e.message) ? `${e.message} (checked against ca ${this.cfg.ca})` : e.message
    })
    sock.on('close', () => {
      if (sock === this.socket) this.guard(() => this.linkLost(this.socketError ? `connection error: ${this.socketError}` : 'connection closed by upstream'))
    })
  }

  /** A bug below (or in an event handler) closes the link instead of escaping from a socket callback. */
  private guard(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.log('error', 'connector crashed in a socket callback', { connector: this.id, error: String((err as Error)?.stack ?? err) })
      this.depth = 0
      this.linkLost('connector error')
    }
  }

  private sendBind(): void {
    this.link = 'binding'
    const now = this.now()
    this.linkAt = now
    const seq = this.nextSeq()
    this.outstanding.set(seq, { kind: 'bind', at: now })
    // SMPP 3.4 §4.1: bind_transmitter / bind_receiver / bind_transceiver
    this.write({
      command: `bind_${this.cfg.bindType}` as CommandName, command_status: 0, sequence_number: seq,
      system_id: this.cfg.systemId, password: this.cfg.password, system_type: this.cfg.systemType,
      interface_version: this.cfg.interfaceVersion, addr_ton: 0, addr_npi: 0, address_range: '',
    })
  }

  private bindAnswered(status: number): void {
    if (status !== 0) {
      this.log('warn', 'upstream refused the bind', { connector: this.id, status: statusName(status) })
      return this.linkLost(`bind refused: ${statusName(status)}`)
    }
    const now = this.now()
    this.link = 'bound'
    this.lastRx = now
    this.lastAnswerAt = now
    this.silentTimeouts = 0
    this.isPaused = false
    // After a stall, the bind alone proves nothing: the back-off starts over at the first answered submit.
    if (!this.stalled) this.backoff = this.cfg.reconnectMs[0]
    // The bucket starts with one token: the first second after a bind carries about ratePerSecond.
    this.tokens = 1
    this.refillAt = now
    this.reportedDown = false
    this.log('info', 'bound to upstream', { connector: this.id, host: this.cfg.host, port: this.cfg.port, bindType: this.cfg.bindType })
    this.events.up()
  }

  /**
   * The link is gone (closed by either side, timer, refusal): whatever is in flight goes back to
   * the dispatcher through retry(), down() is reported once per outage, and unless stopping a
   * reconnect is scheduled with back-off.
   */
  private linkLost(reason: string): void {
    const sock = this.socket
    if (sock === null) return
    this.socket = null
    this.link = this.stopping ? 'idle' : 'down'
    if (this.stopTimer) { clearTimeout(this.stopTimer); this.stopTimer = null }
    this.begin()
    try {
      // What this batch answered (an unbind_resp, a generic_nack) goes before the FIN.
      this.flushOut(sock)
      if (sock.connecting) {
        sock.destroy()
      } else if (!sock.destroyed) {
        // FIN first (the peer reads what we wrote), then destroy if the peer never closes its side
        sock.end()
        const t = setTimeout(() => sock.destroy(), 1000)
        t.unref()
        sock.once('close', () => clearTimeout(t))
      }
      for (const o of this.outstanding.values()) if (o.kind === 'submit') this.addRetry(o.item, 'link lost')
      this.outstanding.clear()
      this.inFlightCount = 0
      this.enquirePending = false
      // The first failure of an outage is worth a warning; the attempts that follow, one line a minute (how many, the last reason).
      if (this.stopping || !this.reportedDown) this.log(this.stopping ? 'info' : 'warn', 'upstream link down', { connector: this.id, reason })
      else this.stillDown.add(this.id, { reason }, this.now())
      if (!this.reportedDown) {
        this.reportedDown = true
        this.events.down(reason)
      }
      if (!this.stopping) this.scheduleReconnect()
    } finally {
      this.end()
    }
  }

  private scheduleReconnect(): void {
    const delay = this.backoff
    this.backoff = Math.min(this.cfg.reconnectMs[1], this.backoff * 2)
    this.log('debug', 'reconnecting to upstream', { connector: this.id, inMs: delay })
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null
      if (!this.stopping) this.connect()
    }, delay)
  }

  /**
   * Stops reconnecting; a bound link sends unbind (SMPP 3.4 §4.2) and closes on unbind_resp or
   * after responseMs. In-flight submits come back through retry(). Resolves once the socket closed.
   */
  stop(): Promise<void> {
    if (this.stopPromise) return this.stopPromise
    this.stopping = true
    if (this.reconnectTimer) { clearTimeout(this.reconnectTimer); this.reconnectTimer = null }
    if (this.socket !== null && this.link === 'bound') {
      this.link = 'unbinding'
      const seq = this.nextSeq()
      this.outstanding.set(seq, { kind: 'unbind', at: this.now() })
      this.write({ command: 'unbind', command_status: 0, sequence_number: seq })
      this.log('info', 'unbinding from upstream', { connector: this.id })
      this.stopTimer = setTimeout(() => {
        this.stopTimer = null
        this.linkLost('unbind_resp timeout')
      }, this.cfg.responseMs)
    } else {
      this.linkLost('stopped')
      this.link = 'idle'
    }
    this.stopPromise = this.socketClosed
    return this.stopPromise
  }

  // ------------------------------------------------------------------ inbound

  /** One socket read: frames → decode → handle; answers as one write, events as one call each. */
  private onData(sock: net.Socket, chunk: Buffer): void {
    const frames = this.frames
    frames.length = 0
    const intact = this.framer.push(chunk, frames)
    if (frames.length > 0) this.lastRx = this.now()
    this.begin()
    try {
      for (let i = 0; i < frames.length && this.socket === sock; i++) this.handleFrame(frames[i])
      if (!intact && this.socket === sock) {
        // SMPP 3.4 §3.2: a command_length we cannot trust leaves no way to find the next PDU.
        const err = this.framer.error!
        this.log('warn', 'bad command_length from upstream, closing', { connector: this.id, commandLength: err.commandLength })
        this.write({ command: 'generic_nack', command_status: err.status, sequence_number: err.sequenceNumber })
        this.linkLost('invalid command_length from upstream')
      }
    } finally {
      frames.length = 0
      this.end()
    }
  }

  private handleFrame(frame: Buffer): void {
    const commandId = frame.readUInt32BE(4)
    if ((commandId & RESPONSE_BIT) !== 0) return this.handleResponse(frame)
    let pdu: Pdu
    try {
      pdu = decode(frame)
    } catch (e) {
      const h = peekHeader(frame)
      const def = PDU_BY_ID.get(h.command_id)
      const status = commandStatusOf(e)
      this.log('debug', 'undecodable PDU from upstream', { connector: this.id, commandId: h.command_id, status, error: (e as Error).message })
      // Known request: its own response; unknown command: generic_nack (SMPP 3.4 §4.3).
      const resp = def && !isSmscError(e, 'SMSC_ERR_PDU_UNKNOWN_COMMAND') ? responseOf(def.name) : undefined
      this.write({ command: resp ?? 'generic_nack', command_status: status, sequence_number: h.sequence_number })
      return
    }
    switch (pdu.command) {
      case 'deliver_sm':
      case 'data_sm':
        // Answered once the engine has stored what it carries (flushEvents → stored()), or at once when it carries nothing.
        if (!this.inbound(pdu)) this.respond(pdu, 0)
        return
      case 'enquire_link':
        return this.respond(pdu, 0)
      case 'unbind':
        // SMPP 3.4 §4.2: answer, then the link is over; we reconnect
        this.respond(pdu, 0)
        return this.linkLost('unbind from upstream')
      case 'alert_notification':
        // SMPP 3.4 §4.12: a subscriber we asked about (set_dpf) is reachable again; no response PDU exists
        this.alerts.push({
          ms: [pdu.source_addr_ton ?? 0, pdu.source_addr_npi ?? 0, (pdu.source_addr as string | undefined) ?? ''],
          esme: [pdu.esme_addr_ton ?? 0, pdu.esme_addr_npi ?? 0, (pdu.esme_addr as string | undefined) ?? ''],
          status: (pdu.ms_availability_status as number | undefined) ?? 0,
        })
        return
      case 'outbind':
        return // no response PDU exists (SMPP 3.4 §4.1.7)
      default: {
        // ESME-side operations an SMSC does not send to an ESME
        const resp = responseOf(pdu.command)
        return this.write({ command: resp ?? 'generic_nack', command_status: S.ESME_RINVCMDID, sequence_number: pdu.sequence_number })
      }
    }
  }

  /** deliver_sm / data_sm: a receipt by esm_class message type (SMPP 3.4 §5.2.12), else an MO. True when it waits for the engine. */
  private inbound(pdu: Pdu): boolean {
    const esm = (pdu.esm_class ?? 0) as number
    const type = esm & EsmClass.TYPE_MASK
    const short = pdu.short_message as Buffer | undefined
    const sm = short !== undefined && short.length > 0 ? short : ((pdu.message_payload as Buffer | undefined) ?? EMPTY)
    if (type === EsmClass.MC_DELIVERY_RECEIPT || type === EsmClass.INTERMEDIATE_NOTIFICATION) {
      const r = this.receiptOf(pdu, sm)
      if (r) { this.receipts.push(r); this.receiptAcks.push(pdu); return true }
      this.log('warn', 'upstream receipt without message id or state, dropped', { connector: this.id, text: receiptText(sm, pdu.data_coding ?? 0).slice(0, 160) })
      return false
    }
    this.moAcks.push(pdu)
    const mo: InboundMo = {
      from: [pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr],
      to: [pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr],
      esmClass: esm,
      dataCoding: pdu.data_coding ?? 0,
      sm: Buffer.from(sm), // own the bytes: the frame's memory belongs to the socket chunk
    }
    // SMPP 3.4 §5.3.2.22–24: a part of a concatenated MO may say so with the SAR TLVs instead of a UDH (all three, or none)
    if (pdu.sar_msg_ref_num !== undefined && pdu.sar_total_segments !== undefined && pdu.sar_segment_seqnum !== undefined) {
      mo.sar = { ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum }
    }
    this.mos.push(mo)
    return true
  }

  /**
   * Answers upstream deliveries once the engine is done with them, on the link they came on: status 0
   * once stored, or statuses[i] for pdus[i] (an MO the engine refuses).
   */
  private acker(pdus: Pdu[]): (statuses?: readonly number[]) => void {
    const sock = this.socket
    let done = false
    return (statuses) => {
      if (done) return
      done = true
      if (this.socket !== sock || sock === null || sock.destroyed) return // the link changed: the upstream sends them again
      this.begin()
      for (let i = 0; i < pdus.length; i++) this.respond(pdus[i], statuses?.[i] ?? 0)
      this.end()
    }
  }

  /**
   * receipted_message_id (SMPP 3.4 §5.3.2.12), message_state (§5.3.2.35) and network_error_code
   * (§5.3.2.31) when present; what is missing comes from the Appendix B text (`id: … stat: … err:`).
   * The text's id is kept too when it differs from the TLV's: upstreams that write the two in different
   * forms exist, and the engine tries it when the TLV's id matches nothing (engine/upstream-ids.ts).
   */
  private receiptOf(pdu: Pdu, sm: Buffer): UpstreamReceipt | null {
    let id = pdu.receipted_message_id as string | undefined
    let state = pdu.message_state as number | undefined
    const nec = pdu.network_error_code as Buffer | undefined
    let err = nec !== undefined && nec.length === 3 ? nec.readUInt16BE(1) : undefined
    let textId: string | undefined
    const p = sm.length > 0 ? parseReceipt(receiptText(sm, pdu.data_coding ?? 0)) : null
    if (p) {
      if (!id) id = p.id
      else if (p.id && p.id !== id) textId = p.id
      if (state === undefined && p.stat !== undefined) state = STATE_OF_STAT[p.stat]
      if (err === undefined) err = p.err
    }
    if (!id || state === undefined) return null
    const r: UpstreamReceipt = { upstreamId: id, state, err: err ?? 0 }
    if (textId !== undefined) r.textId = textId
    return r
  }

  private handleResponse(frame: Buffer): void {
    const h = peekHeader(frame)
    const o = this.outstanding.get(h.sequence_number)
    if (o === undefined) {
      this.log('debug', 'upstream response to nothing outstanding', { connector: this.id, commandId: h.command_id, seq: h.sequence_number })
      return
    }
    const nack = h.command_id === CommandId.generic_nack
    if (!nack && h.command_id !== this.expectedResponse(o.kind)) {
      this.log('debug', 'upstream response does not match the request it names', { connector: this.id, commandId: h.command_id, seq: h.sequence_number })
      return
    }
    this.outstanding.delete(h.sequence_number)
    switch (o.kind) {
      case 'submit':
        this.inFlightCount--
        return this.submitAnswered(o.item, h.command_status, nack, frame)
      case 'bind':
        return this.bindAnswered(nack && h.command_status === 0 ? S.ESME_RUNKNOWNERR : h.command_status)
      case 'enquire_link':
        this.enquirePending = false
        return
      case 'unbind':
        return this.linkLost(this.stopping ? 'stopped' : 'unbound')
    }
  }

  private submitAnswered(item: Dispatch, status: number, nack: boolean, frame: Buffer): void {
    // Any answer: the upstream is not stalled (lastRx: this read's time).
    this.lastAnswerAt = this.lastRx
    this.silentTimeouts = 0
    if (this.stalled) { this.stalled = false; this.backoff = this.cfg.reconnectMs[0] }
    if (nack) {
      // generic_nack: the upstream could not take the PDU as sent; temporary
      return this.addRetry(item, `generic_nack ${statusName(status)}`, 'generic_nack')
    }
    if (status === 0) {
      let upstreamId = ''
      try {
        upstreamId = String(decode(frame).message_id ?? '')
      } catch (e) {
        this.log('warn', 'undecodable submit_sm_resp from upstream', { connector: this.id, error: (e as Error).message })
      }
      if (upstreamId === '') this.log('warn', 'upstream accepted a submit without a message_id', { connector: this.id, id: item.record.id })
      this.sent++
      this.accepted.push({ id: item.record.id, dest: item.dest, upstreamId })
      // Taken: the next pause starts from the minimum again.
      this.pauseMs = this.cfg.throttlePauseMs[0]
      return
    }
    const temporary = TEMPORARY.get(status)
    if (temporary !== undefined) {
      if (temporary.pause) this.pause(status)
      return this.addRetry(item, statusName(status), temporary.reason)
    }
    this.failed++
    // Any other status: the upstream refuses this message for good
    this.outcomes.push({ id: item.record.id, dest: item.dest, state: MessageState.REJECTED, err: status, rev: item.record.rev })
  }

  /**
   * ESME_RTHROTTLED / ESME_RMSGQFUL: no submit goes for pauseMs. Refusals that come during a pause (the rest of the
   * window sent before it) belong to it; one that comes after it starts the next, twice as long (up to
   * throttlePauseMs[1]). The dispatcher sends what it can elsewhere meanwhile (`paused`), the rest waits in the lane.
   */
  private pause(status: number): void {
    const now = this.lastRx
    if (this.throttling === null) {
      this.throttling = { since: now, last: now, refusals: 0, pauses: 0 }
      this.log('warn', 'upstream throttling: submits paused', { connector: this.id, status: statusName(status), pauseMs: this.pauseMs, maxMs: this.cfg.throttlePauseMs[1] })
    }
    this.throttling.last = now
    this.throttling.refusals++
    if (this.isPaused && now < this.pausedUntil) return
    this.throttling.pauses++
    this.isPaused = true
    this.pausedUntil = now + this.pauseMs
    this.pauseMs = Math.min(this.cfg.throttlePauseMs[1], this.pauseMs * 2)
  }

  private expectedResponse(kind: Outstanding['kind']): number {
    switch (kind) {
      case 'submit': return CommandId.submit_sm_resp
      case 'bind': return CommandId[`bind_${this.cfg.bindType}_resp`]
      case 'enquire_link': return CommandId.enquire_link_resp
      case 'unbind': return CommandId.unbind_resp
    }
  }

  // ------------------------------------------------------------------ plumbing

  /** `counted`: an upstream's temporary refusal or silence, in `failed` and under that reason (a lost link is neither). */
  private addRetry(item: Dispatch, reason: string, counted?: ConnectorRetryReason): void {
    let r = this.retries.get(reason)
    if (r === undefined) this.retries.set(reason, (r = { items: [], counted }))
    r.items.push(item)
    if (counted !== undefined) this.failed++
  }

  private nextSeq(): number {
    // SMPP 3.4 §5.1.4 (and §3.2): 0x00000001 .. 0x7FFFFFFF, then wrap
    this.seq = this.seq >= MAX_SEQUENCE ? 1 : this.seq + 1
    return this.seq
  }

  private respond(req: Pdu, status: number): void {
    const command = responseOf(req.command) ?? 'generic_nack'
    // deliver_sm_resp / data_sm_resp message_id is unused and set to NULL (SMPP 3.4 §4.6.2, §4.7.2)
    this.write({ command, command_status: status, sequence_number: req.sequence_number, message_id: '' })
  }

  private write(pdu: Pdu): void {
    this.push(encode(pdu))
  }

  private push(b: Buffer): void {
    if (this.depth === 0) {
      const s = this.socket
      if (s !== null && !s.destroyed && s.writable) s.write(b)
      return
    }
    this.out.push(b)
    this.outBytes += b.length
  }

  private begin(): void { this.depth++ }

  private end(): void {
    if (--this.depth > 0) return
    this.flushOut(this.socket)
    this.flushEvents()
  }

  private flushOut(sock: net.Socket | null): void {
    if (this.out.length === 0) return
    const b = this.out.length === 1 ? this.out[0] : Buffer.concat(this.out, this.outBytes)
    this.out = []
    this.outBytes = 0
    if (sock !== null && !sock.destroyed && sock.writable) sock.write(b)
  }

  /** One call per kind for the batch; the arrays are swapped first so a handler may call back in. */
  private flushEvents(): void {
    if (this.accepted.length > 0) {
      const a = this.accepted
      this.accepted = []
      this.events.accepted(a)
    }
    if (this.outcomes.length > 0) {
      const o = this.outcomes
      this.outcomes = []
      this.events.outcomes(o)
    }
    if (this.retries.size > 0) {
      const r = this.retries
      this.retries = new Map()
      for (const [reason, { items, counted }] of r) this.events.retry(items, reason, counted)
    }
    if (this.receipts.length > 0) {
      const r = this.receipts
      const acks = this.receiptAcks
      this.receipts = []
      this.receiptAcks = []
      this.events.receipts(r, this.acker(acks))
    }
    if (this.alerts.length > 0) {
      const a = this.alerts
      this.alerts = []
      this.events.alerts?.(a)
    }
    if (this.mos.length > 0) {
      const m = this.mos
      const acks = this.moAcks
      this.mos = []
      this.moAcks = []
      this.events.mo(m, this.acker(acks))
    }
  }
}
