/**
 * Test ESMEs for the e2e suite. `Esme` wraps the third-party npm `smpp` client (node-smpp) in promises:
 * connect + bind, any request answered by its response (with a timeout so nothing hangs), and every
 * deliver_sm collected into an array with an awaitable `waitFor(predicate, timeoutMs)`. Using an outside
 * client keeps the engine honest: it must interoperate with a real SMPP implementation, not only with its
 * own codec. `RawSmpp` is a bare net.Socket for the robustness tests (unknown command ids, garbage, bogus
 * command_length), which node-smpp cannot send. Plus text helpers (GSM 03.38 unpacked septets via
 * node-smpp's gsmCoder, UCS2 as UTF-16BE, UDH concatenation) and a delivery receipt text parser.
 */
import type { EventEmitter } from 'node:events'
import net from 'node:net'
import type { TestLike } from './engine'

/** A decoded PDU as node-smpp hands it over (fields named as in the spec). */
export interface Pdu {
  command: string
  command_id: number
  command_status: number
  sequence_number: number
  system_id?: string
  message_id?: string
  esm_class?: number
  data_coding?: number
  registered_delivery?: number
  source_addr?: string
  source_addr_ton?: number
  destination_addr?: string
  short_message?: DecodedMessage | Buffer
  message_payload?: DecodedMessage | Buffer
  receipted_message_id?: string
  message_state?: number
  network_error_code?: Buffer
  user_message_reference?: number
  sc_interface_version?: number
  error_code?: number
  unsuccess_sme?: UnsuccessSme[]
  [field: string]: unknown
}

export interface DecodedMessage {
  udh?: Buffer[]
  message: string | Buffer
}

export interface UnsuccessSme {
  dest_addr_ton: number
  dest_addr_npi: number
  destination_addr: string
  error_status_code: number
}

interface SmppPduInstance extends Pdu {
  response(options?: Record<string, unknown>): SmppPduInstance
}

interface SmppSession extends EventEmitter {
  socket: net.Socket
  send(pdu: SmppPduInstance, responseCallback?: (pdu: Pdu) => void): boolean
  close(callback?: () => void): void
  destroy(callback?: () => void): void
}

interface SmppModule {
  connect(options: Record<string, unknown>): SmppSession
  PDU: new (command: string, options?: Record<string, unknown>) => SmppPduInstance
  gsmCoder: { encode(text: string, shiftTable: number): Buffer; decode(bytes: Buffer, shiftTable: number): string }
}

// node-smpp ships no type declarations; this is the small surface the tests use.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const smpp = require('smpp') as SmppModule

/** command_status values the tests assert (SMPP 3.4 §5.1.3) */
export const Status = {
  ESME_ROK: 0x00,
  ESME_RINVMSGLEN: 0x01,
  ESME_RINVCMDLEN: 0x02,
  ESME_RINVCMDID: 0x03,
  ESME_RINVBNDSTS: 0x04,
  ESME_RALYBND: 0x05,
  ESME_RBINDFAIL: 0x0d,
  ESME_RINVPASWD: 0x0e,
  ESME_RINVSYSID: 0x0f,
  ESME_RCANCELFAIL: 0x11,
  ESME_RREPLACEFAIL: 0x13,
  ESME_RINVDSTTON: 0x50,
  ESME_RQUERYFAIL: 0x67,
} as const

/** message_state values (SMPP 5.0 §4.7.15) */
export const MessageState = {
  ENROUTE: 1,
  DELIVERED: 2,
  EXPIRED: 3,
  DELETED: 4,
  UNDELIVERABLE: 5,
  ACCEPTED: 6,
  UNKNOWN: 7,
  REJECTED: 8,
} as const

export type BindKind = 'transmitter' | 'receiver' | 'transceiver'

export interface Credentials {
  systemId: string
  password: string
}

export interface ConnectOptions {
  port: number
  host?: string
  tls?: boolean
  /** The client's own address (127.0.0.x: Linux routes all of 127/8 to lo), e.g. to bind from several addresses. */
  localAddress?: string
}

const hex = (n: number) => '0x' + n.toString(16).padStart(2, '0')

/** One line per PDU, for timeout messages: what did arrive instead. */
export function describePdu(pdu: Pdu): string {
  const parts = [`${pdu.command} status=${hex(pdu.command_status)} seq=${pdu.sequence_number}`]
  if (pdu.esm_class !== undefined) parts.push(`esm_class=${hex(pdu.esm_class)}`)
  if (pdu.receipted_message_id !== undefined) parts.push(`receipted_message_id=${pdu.receipted_message_id}`)
  if (pdu.source_addr !== undefined) parts.push(`from=${pdu.source_addr}`)
  if (pdu.short_message !== undefined || pdu.message_payload !== undefined) parts.push(`text=${JSON.stringify(messageText(pdu))}`)
  return parts.join(' ')
}

interface Waiter {
  predicate: (pdu: Pdu) => boolean
  count: number
  found: Pdu[]
  resolve: (pdus: Pdu[]) => void
}

export class Esme {
  /** every deliver_sm received, in order */
  readonly delivered: Pdu[] = []
  /** every PDU received (requests and responses) */
  readonly received: Pdu[] = []
  readonly errors: Error[] = []
  /** command_status to answer deliver_sm with (or a function of the deliver_sm giving it); null leaves them unanswered */
  deliverSmStatus: number | null | ((pdu: Pdu) => number | null) = Status.ESME_ROK
  closed = false
  private readonly waiters = new Set<Waiter>()
  /** rejecters of requests still waiting for their response; all fail when the socket closes */
  private readonly pending = new Set<(err: Error) => void>()
  private readonly closedPromise: Promise<void>

  private constructor(readonly session: SmppSession) {
    this.closedPromise = new Promise((resolve) =>
      session.on('close', () => {
        this.closed = true
        for (const fail of [...this.pending]) fail(new Error('connection closed before the response'))
        resolve()
      }),
    )
    session.on('error', (err: Error) => this.errors.push(err))
    session.on('pdu', (pdu: SmppPduInstance) => {
      this.received.push(pdu)
      if (pdu.command === 'deliver_sm') {
        this.delivered.push(pdu)
        const status = typeof this.deliverSmStatus === 'function' ? this.deliverSmStatus(pdu) : this.deliverSmStatus
        if (status !== null) session.send(pdu.response({ command_status: status }))
        for (const w of this.waiters) {
          if (w.predicate(pdu)) {
            w.found.push(pdu)
            if (w.found.length >= w.count) {
              this.waiters.delete(w)
              w.resolve(w.found)
            }
          }
        }
      } else if (pdu.command === 'enquire_link') {
        // the SMSC may probe us (enquire_link_timer); a real ESME answers
        session.send(pdu.response())
      } else if (pdu.command === 'unbind') {
        session.send(pdu.response())
      }
    })
  }

  static connect(opts: ConnectOptions, timeoutMs = 5000): Promise<Esme> {
    const scheme = opts.tls ? 'ssmpp' : 'smpp'
    const session = smpp.connect({
      url: `${scheme}://${opts.host ?? '127.0.0.1'}:${opts.port}`,
      rejectUnauthorized: false,
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
    })
    const esme = new Esme(session)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        session.destroy()
        reject(new Error(`connect to port ${opts.port} timed out`))
      }, timeoutMs)
      session.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer)
        resolve(esme)
      })
      session.once('error', (err: Error) => {
        clearTimeout(timer)
        reject(err)
      })
    })
  }

  /** Send any request and resolve with its response (or a generic_nack for it). */
  request(command: string, params: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<Pdu> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error(`connection closed before ${command} could be sent`))
      const pdu = new smpp.PDU(command, params)
      const fail = (err: Error) => {
        clearTimeout(timer)
        this.pending.delete(fail)
        reject(err)
      }
      const timer = setTimeout(() => fail(new Error(`no response to ${command} within ${timeoutMs} ms`)), timeoutMs)
      this.pending.add(fail)
      const sent = this.session.send(pdu, (resp) => {
        clearTimeout(timer)
        this.pending.delete(fail)
        resolve(resp)
      })
      if (!sent) fail(new Error(`socket not writable for ${command}`))
    })
  }

  bind(kind: BindKind, creds: Credentials, extra: Record<string, unknown> = {}): Promise<Pdu> {
    return this.request(`bind_${kind}`, { system_id: creds.systemId, password: creds.password, ...extra })
  }

  submit(params: Record<string, unknown>): Promise<Pdu> {
    return this.request('submit_sm', { source_addr: '12345', destination_addr: '4915112345678', ...params })
  }

  /** Submit many with at most `concurrency` outstanding (node-smpp has no window of its own). */
  async submitMany(list: Record<string, unknown>[], concurrency = 10, onResp?: (resp: Pdu, i: number) => void): Promise<Pdu[]> {
    const out: Pdu[] = new Array(list.length)
    let next = 0
    const worker = async () => {
      while (next < list.length) {
        const i = next++
        out[i] = await this.submit(list[i])
        onResp?.(out[i], i)
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker))
    return out
  }

  /** First deliver_sm (already received or arriving) matching predicate. */
  async waitFor(predicate: (pdu: Pdu) => boolean, timeoutMs = 10_000): Promise<Pdu> {
    return (await this.waitForMany(predicate, 1, timeoutMs))[0]
  }

  /** The first `count` deliver_sm matching predicate (already received ones count). */
  waitForMany(predicate: (pdu: Pdu) => boolean, count: number, timeoutMs = 10_000): Promise<Pdu[]> {
    const found = this.delivered.filter(predicate).slice(0, count)
    if (found.length >= count) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        count,
        found,
        resolve: (pdus) => {
          clearTimeout(timer)
          resolve(pdus)
        },
      }
      const timer = setTimeout(() => {
        this.waiters.delete(waiter)
        const seen = this.delivered.slice(-10).map(describePdu).join('\n  ')
        reject(new Error(`waited ${timeoutMs} ms for ${count} matching deliver_sm, got ${waiter.found.length}; ` +
          `${this.delivered.length} deliver_sm in all, last ones:\n  ${seen || '(none)'}`))
      }, timeoutMs)
      this.waiters.add(waiter)
    })
  }

  /** Resolve when the socket closes; reject after timeoutMs. */
  waitClosed(timeoutMs = 5000): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs)
      void this.closedPromise.then(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  /** unbind, wait for unbind_resp, then close the socket. */
  async unbind(): Promise<Pdu> {
    const resp = await this.request('unbind')
    await this.close()
    return resp
  }

  /** Close the socket without unbinding (as a client crash would). */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve()
    this.session.destroy()
    return this.closedPromise
  }
}

export interface OpenOptions extends Partial<Credentials> {
  port: number
  tls?: boolean
  kind?: BindKind
  bindParams?: Record<string, unknown>
}

/** The command_status a transceiver bind as systemId/password gets on a fresh connection (closed after). */
export async function bindStatus(port: number, systemId: string, password: string): Promise<number> {
  const esme = await Esme.connect({ port })
  try {
    return (await esme.bind('transceiver', { systemId, password })).command_status
  } finally {
    await esme.close()
  }
}

/** Connect and bind (asserting status 0); the ESME is closed in t's teardown. */
export async function openEsme(t: TestLike, opts: OpenOptions): Promise<Esme> {
  const esme = await Esme.connect({ port: opts.port, tls: opts.tls })
  t.teardown(() => esme.close())
  const kind = opts.kind ?? 'transceiver'
  const resp = await esme.bind(kind, { systemId: opts.systemId ?? 'esme1', password: opts.password ?? 'secret1' }, opts.bindParams)
  if (resp.command_status !== 0) {
    throw new Error(`bind_${kind} as ${opts.systemId ?? 'esme1'} failed: ${describePdu(resp)}`)
  }
  return esme
}

// ---------------------------------------------------------------------------------------------------
// Text

/** GSM 03.38 default alphabet, one septet per octet (unpacked), extension chars as ESC pairs. */
export function gsm(text: string): Buffer {
  return smpp.gsmCoder.encode(text, 0)
}

export function gsmDecode(bytes: Buffer): string {
  return smpp.gsmCoder.decode(bytes, 0)
}

/** UCS2 as UTF-16BE (non-BMP characters as surrogate pairs). */
export function ucs2(text: string): Buffer {
  return Buffer.from(text, 'utf16le').swap16()
}

/**
 * Split GSM text into concatenated parts with an 8-bit reference UDH (05 00 03 ref total seq), 153 septets
 * each, never cutting an ESC pair. Returns the short_message payloads (UDH + septets).
 */
export function gsmConcatParts(text: string, ref: number): Buffer[] {
  const septets = gsm(text)
  const chunks: Buffer[] = []
  for (let i = 0; i < septets.length; ) {
    let end = Math.min(i + 153, septets.length)
    if (end < septets.length && septets[end - 1] === 0x1b) end-- // keep ESC with its character
    chunks.push(septets.subarray(i, end))
    i = end
  }
  return chunks.map((c, i) => Buffer.concat([Buffer.from([0x05, 0x00, 0x03, ref & 0xff, chunks.length, i + 1]), c]))
}

/** The text of a deliver_sm as node-smpp decoded it (short_message, else message_payload). */
export function messageText(pdu: Pdu): string {
  const pick = (m: DecodedMessage | Buffer | undefined): string | undefined => {
    if (m === undefined) return undefined
    if (Buffer.isBuffer(m)) return m.length ? m.toString('latin1') : undefined
    const msg = m.message
    if (Buffer.isBuffer(msg)) return msg.length ? msg.toString('latin1') : undefined
    return msg.length ? msg : undefined
  }
  return pick(pdu.short_message) ?? pick(pdu.message_payload) ?? ''
}

/** esm_class message type bits 5..2 (SMPP 3.4 §5.2.12) */
export const isReceipt = (pdu: Pdu) => ((pdu.esm_class ?? 0) & 0x3c) === 0x04
export const isIntermediate = (pdu: Pdu) => ((pdu.esm_class ?? 0) & 0x3c) === 0x20
export const isMo = (pdu: Pdu) => ((pdu.esm_class ?? 0) & 0x3c) === 0x00

export interface Receipt {
  id: string
  sub: string
  dlvrd: string
  submitDate: string
  doneDate: string
  stat: string
  err: string
  text: string
}

/** Parse the delivery receipt text (SMPP 3.4 Appendix B); null when it does not have every field. */
export function parseReceipt(text: string): Receipt | null {
  const m = /^id:(\S+) sub:(\d{3}) dlvrd:(\d{3}) submit date:(\d{10}|\d{12}) done date:(\d{10}|\d{12}) stat:([A-Z]{7}) err:(\w{3}) text:(.*)$/is.exec(text)
  if (!m) return null
  return { id: m[1], sub: m[2], dlvrd: m[3], submitDate: m[4], doneDate: m[5], stat: m[6], err: m[7], text: m[8] }
}

/** A receipt for message id `id` (by the receipted_message_id TLV). */
export const receiptFor = (id: string) => (pdu: Pdu) => (isReceipt(pdu) || isIntermediate(pdu)) && pdu.receipted_message_id === id

// ---------------------------------------------------------------------------------------------------
// Raw SMPP over a bare socket (robustness tests)

export interface RawPdu {
  commandLength: number
  commandId: number
  commandStatus: number
  sequenceNumber: number
  body: Buffer
}

/** Build one PDU: 16-byte header (SMPP 3.4 §3.2) + body. */
export function rawPdu(commandId: number, sequenceNumber: number, body: Buffer = Buffer.alloc(0), commandStatus = 0): Buffer {
  const header = Buffer.alloc(16)
  header.writeUInt32BE(16 + body.length, 0)
  header.writeUInt32BE(commandId >>> 0, 4)
  header.writeUInt32BE(commandStatus, 8)
  header.writeUInt32BE(sequenceNumber, 12)
  return Buffer.concat([header, body])
}

/** bind_* body (SMPP 3.4 §4.1.1): system_id, password, system_type, interface_version, addr_ton, addr_npi, address_range. */
export function rawBindBody(systemId: string, password: string, interfaceVersion = 0x34): Buffer {
  const cstr = (s: string) => Buffer.concat([Buffer.from(s, 'latin1'), Buffer.from([0])])
  return Buffer.concat([cstr(systemId), cstr(password), cstr(''), Buffer.from([interfaceVersion, 0, 0]), cstr('')])
}

export class RawSmpp {
  closed = false
  private buffer = Buffer.alloc(0)
  private readonly queue: RawPdu[] = []
  private wake: (() => void) | null = null
  private readonly closedPromise: Promise<void>

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk])
      while (this.buffer.length >= 16) {
        const len = this.buffer.readUInt32BE(0)
        if (len < 16 || this.buffer.length < len) break
        this.queue.push({
          commandLength: len,
          commandId: this.buffer.readUInt32BE(4),
          commandStatus: this.buffer.readUInt32BE(8),
          sequenceNumber: this.buffer.readUInt32BE(12),
          body: this.buffer.subarray(16, len),
        })
        this.buffer = this.buffer.subarray(len)
      }
      this.wake?.()
    })
    socket.on('error', () => {
      // a reset by the server is an expected outcome in these tests; 'close' follows
    })
    this.closedPromise = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true
        this.wake?.()
        resolve()
      }),
    )
  }

  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawSmpp> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, ...(localAddress !== undefined ? { localAddress } : {}) })
      socket.once('connect', () => resolve(new RawSmpp(socket)))
      socket.once('error', reject)
    })
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  /** The next PDU from the server; rejects on timeout or when the socket closes first. */
  async next(timeoutMs = 5000): Promise<RawPdu> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const pdu = this.queue.shift()
      if (pdu) return pdu
      if (this.closed) throw new Error('socket closed before a PDU arrived')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no PDU within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.wake = null
    }
  }

  /** Resolve when the server closes the socket; reject after timeoutMs. */
  waitClosed(timeoutMs = 5000): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs)
      void this.closedPromise.then(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  close(): void {
    this.socket.destroy()
  }
}
