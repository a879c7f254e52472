/**
 * Helpers for the upstream connector tests: a scriptable upstream SMSC on the npm `smpp` package
 * (node-smpp's createServer, as bench/peers/node-smpp-server.ts uses it), a ConnectorEvents
 * recorder with an awaitable `until`, a driver that ticks a connector every 20 ms and feeds it a
 * queue the way the dispatcher does, and MessageRecord / config factories.
 */
import type net from 'node:net'
import type { Connector, ConnectorEvents, ConnectorOutcome, Dispatch, InboundMo, UpstreamAlert, UpstreamReceipt } from '../../actors/connectors/types'
import type { SmppConnectorConfig } from '../../actors/connectors/smpp-client'
import type { MessageRecord } from '../../engine/message'
import type { TestLike } from './engine'

/** A PDU as node-smpp decodes it. */
export interface NodePdu {
  command: string
  command_status: number
  sequence_number: number
  [field: string]: unknown
  response(options?: Record<string, unknown>): NodePdu
}

export interface NodeSession {
  socket: net.Socket
  on(event: string, listener: (pdu: NodePdu) => void): void
  send(pdu: NodePdu, responseCallback?: (pdu: NodePdu) => void): boolean
  deliver_sm(options: Record<string, unknown>, responseCallback?: (pdu: NodePdu) => void): boolean
  data_sm(options: Record<string, unknown>, responseCallback?: (pdu: NodePdu) => void): boolean
  close(): void
  destroy(): void
}

// node-smpp ships no type declarations; this is the surface used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const smpp = require('smpp') as {
  createServer(listener: (session: NodeSession) => void): net.Server
  PDU: new (command: string, options?: Record<string, unknown>) => NodePdu
}

/** Sends a request from the upstream to the connector; resolves with the connector's response. */
export function request(session: NodeSession, command: string, options: Record<string, unknown> = {}): Promise<NodePdu> {
  return new Promise((resolve) => session.send(new smpp.PDU(command, options), resolve))
}

/** Sends a request that has no response PDU (alert_notification, outbind) from the upstream to the connector. */
export function notify(session: NodeSession, command: string, options: Record<string, unknown> = {}): void {
  session.send(new smpp.PDU(command, options))
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

// ------------------------------------------------------------------ records and config

let counter = 0

/** A stored-message record as validateSubmit drafts it (one destination), id `r<n>`. */
export function record(over: Partial<MessageRecord> = {}, dest = '447700900002'): MessageRecord {
  const now = Date.now()
  return {
    id: `r${++counter}`, systemId: 'esme1', state: 1, err: 0, submitAt: now, doneAt: 0,
    src: [1, 1, '447700900001'], dests: [{ addr: [1, 1, dest], state: 1, err: 0, doneAt: 0 }],
    serviceType: '', esmClass: 0, protocolId: 0, priority: 0, dataCoding: 0, registeredDelivery: 1,
    sm: Buffer.from('hello'), scheduleAt: 0, expireAt: now + 86_400_000,
    ...over,
  }
}

export const dispatches = (records: MessageRecord[]): Dispatch[] => records.map((r) => ({ record: r, dest: 0 }))

export function connectorConfig(port: number, over: Partial<SmppConnectorConfig> = {}): SmppConnectorConfig {
  return {
    id: 'up', kind: 'smpp', host: '127.0.0.1', port, tls: false, rejectUnauthorized: true, ca: null,
    systemId: 'esme1', password: 'secret1', systemType: '', bindType: 'transceiver',
    windowSize: 10, ratePerSecond: 0, enquireLinkMs: 30_000, responseMs: 3000,
    reconnectMs: [100, 400], throttlePauseMs: [1000, 30_000], stallAfterTimeouts: 3, interfaceVersion: 0x34, receiptIds: 'exact',
    ...over,
  }
}

// ------------------------------------------------------------------ events

/** Records every event; `until(pred)` resolves once pred holds (polled every 10 ms). */
export class Recorder implements ConnectorEvents {
  readonly got = {
    accepted: [] as { id: string; dest: number; upstreamId: string }[],
    outcomes: [] as ConnectorOutcome[],
    /** `counted`: the reason smsc_connector_retries_total counts them under, when the connector gave one */
    retried: [] as { items: Dispatch[]; reason: string; counted?: string }[],
    receipts: [] as UpstreamReceipt[],
    mo: [] as InboundMo[],
    alerts: [] as UpstreamAlert[],
    up: 0,
    down: [] as string[],
    /** sizes of the batches each event came in */
    batches: [] as { kind: string; size: number }[],
  }
  /** called with the items of every retry() (the driver requeues them) */
  onRetry: ((items: Dispatch[]) => void) | null = null

  outcomes(o: ConnectorOutcome[]): void { this.got.outcomes.push(...o); this.got.batches.push({ kind: 'outcomes', size: o.length }) }
  accepted(a: { id: string; dest: number; upstreamId: string }[]): void { this.got.accepted.push(...a); this.got.batches.push({ kind: 'accepted', size: a.length }) }
  retry(items: Dispatch[], reason: string, counted?: string): void {
    this.got.retried.push({ items, reason, ...(counted !== undefined ? { counted } : {}) })
    this.got.batches.push({ kind: 'retry', size: items.length })
    this.onRetry?.(items)
  }
  /** The engine stores at once here: acknowledge straight away (the ack-after-store rule has its own test). */
  receipts(r: UpstreamReceipt[], stored: () => void): void { this.got.receipts.push(...r); this.got.batches.push({ kind: 'receipts', size: r.length }); if (!this.holdAcks) stored(); else this.held.push(stored) }
  mo(m: InboundMo[], settled: (statuses: readonly number[]) => void): void {
    this.got.mo.push(...m)
    this.got.batches.push({ kind: 'mo', size: m.length })
    const stored = () => settled(m.map(() => 0))
    if (!this.holdAcks) stored(); else this.held.push(stored)
  }
  alerts(a: UpstreamAlert[]): void { this.got.alerts.push(...a); this.got.batches.push({ kind: 'alerts', size: a.length }) }
  /** When true, acknowledgements wait in `held` until the test calls them (the engine "storing"). */
  holdAcks = false
  readonly held: (() => void)[] = []
  up(): void { this.got.up++ }
  down(reason: string): void { this.got.down.push(reason) }

  retriedWith(reason: string): Dispatch[] {
    return this.got.retried.filter((r) => r.reason === reason).flatMap((r) => r.items)
  }

  async until(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; events: ${JSON.stringify(this.summary())}`)
      await sleep(10)
    }
  }

  summary(): Record<string, unknown> {
    const g = this.got
    return { accepted: g.accepted.length, outcomes: g.outcomes.length, retried: g.retried.map((r) => `${r.reason}×${r.items.length}`), receipts: g.receipts.length, mo: g.mo.length, up: g.up, down: g.down }
  }
}

/**
 * Ticks the connector every 20 ms (as the engine's coarse tick does) and offers it the queue; with
 * `requeue`, items it hands back through retry() join the queue again. Stopped in t's teardown.
 */
export function drive(t: TestLike, c: Connector, rec: Recorder, opts: { requeue?: boolean } = {}) {
  let queue: Dispatch[] = []
  if (opts.requeue) rec.onRetry = (items) => { queue = queue.concat(items) }
  const step = () => {
    const now = Date.now()
    c.tick(now)
    if (queue.length > 0) queue = c.submit(queue, now)
  }
  const timer = setInterval(step, 20)
  const stop = () => clearInterval(timer)
  t.teardown(stop)
  return {
    add(items: Dispatch[]) { queue = queue.concat(items) },
    get queued() { return queue.length },
    stop,
  }
}

// ------------------------------------------------------------------ a node-smpp upstream

export interface UpstreamOptions {
  port?: number
  /** status for a bind (0 accepts) */
  onBind?: (pdu: NodePdu) => number
  /**
   * What to do with a submit_sm: a status (0 = accept with the next id), 'hold' (never answer),
   * or undefined for accept.
   */
  onSubmit?: (pdu: NodePdu, session: NodeSession, messageId: string) => number | 'hold' | undefined
  /** answer enquire_link (default true) */
  answerEnquireLink?: boolean
  /** answer unbind and close (default true) */
  answerUnbind?: boolean
  /** called once a session is bound */
  onBound?: (session: NodeSession) => void
}

export interface Upstream {
  readonly port: number
  readonly sessions: NodeSession[]
  /** every PDU the upstream received, in order */
  readonly pdus: NodePdu[]
  readonly connections: number
  received(command: string): NodePdu[]
  /** destroys every open session's socket (the link drops) */
  dropAll(): void
  /** closes the listener and every session */
  close(): Promise<void>
}

/** Starts a node-smpp upstream on 127.0.0.1 (a free port unless given); closed in t's teardown. */
export async function startUpstream(t: TestLike, opts: UpstreamOptions = {}): Promise<Upstream> {
  const sessions: NodeSession[] = []
  const pdus: NodePdu[] = []
  let connections = 0
  let ids = 0
  const server = smpp.createServer((session) => {
    connections++
    sessions.push(session)
    session.socket.on('close', () => { const i = sessions.indexOf(session); if (i >= 0) sessions.splice(i, 1) })
    session.on('error', () => session.destroy())
    session.on('pdu', (pdu) => pdus.push(pdu))
    const bind = (pdu: NodePdu) => {
      const status = opts.onBind?.(pdu) ?? 0
      session.send(pdu.response({ command_status: status, system_id: 'node-smpp' }))
      if (status === 0) opts.onBound?.(session)
    }
    session.on('bind_transceiver', bind)
    session.on('bind_transmitter', bind)
    session.on('bind_receiver', bind)
    session.on('enquire_link', (pdu) => { if (opts.answerEnquireLink !== false) session.send(pdu.response()) })
    session.on('unbind', (pdu) => {
      if (opts.answerUnbind === false) return
      session.send(pdu.response())
      session.close()
    })
    session.on('submit_sm', (pdu) => {
      const id = `U${String(++ids).padStart(6, '0')}`
      const r = opts.onSubmit?.(pdu, session, id)
      if (r === 'hold') return
      const status = r ?? 0
      session.send(pdu.response(status === 0 ? { message_id: id } : { command_status: status }))
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as net.AddressInfo).port
  let closed = false
  const up: Upstream = {
    port,
    sessions,
    pdus,
    get connections() { return connections },
    received: (command) => pdus.filter((p) => p.command === command),
    dropAll() { for (const s of [...sessions]) s.socket.destroy() },
    close() {
      if (closed) return Promise.resolve()
      closed = true
      return new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of [...sessions]) s.socket.destroy()
      })
    },
  }
  t.teardown(() => up.close())
  return up
}
