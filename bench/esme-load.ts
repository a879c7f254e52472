/**
 * The SMPP load generator (an ESME simulator) on the engine's own protocol code: the Framer cuts
 * the stream, the codec builds every template once (bench/templates.ts). It opens N binds
 * (transceivers, or transmitter + receiver pairs), keeps up to `window` submit_sm outstanding per
 * bind, answers every deliver_sm with deliver_sm_resp, and correlates receipts with their submits
 * by message id (receipted_message_id TLV, else the `id:` of the receipt text).
 *
 * It has to be much cheaper than the servers it measures, so the hot path is flat: no per-PDU
 * promise, timer, closure or decode. Submits are template copies with the sequence number patched;
 * send times live in a Float64Array ring per bind, indexed by sequence number; responses are read
 * from the header (and message_id bytes) directly; one timestamp is taken per socket read and per
 * send batch; everything a read produces (deliver_sm_resp, window refill) is one corked write.
 * One ticker drives rate control, the stop condition and the progress line for all binds.
 *
 * Rate: 0 = "as fast as it goes" (closed loop: every response frees a window slot that is refilled
 * in the same read); > 0 = tokens per second overall, handed out round robin to binds with a free
 * window slot every 2 ms; at most 50 ms of unused tokens are banked (an overloaded server is not
 * hit by a catch-up burst; the offered rate is reported next to the target).
 */
import net from 'node:net'
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks'
import { encode } from '../engine/protocol/codec'
import { CommandId, EsmClass, HEADER_LENGTH, MAX_SEQUENCE, statusName, type BindKind } from '../engine/protocol/constants'
import { Framer } from '../engine/protocol/framer'
import { Histogram, type LatencySummary } from '../engine/histogram'
import { formatMix, submitCycle, type MessageMix, type SubmitTemplate } from './templates'

export type BindType = 'transceiver' | 'pair'

export interface LoadOptions {
  host: string
  port: number
  systemId: string
  password: string
  /** Transceivers, or transmitter + receiver pairs (2 connections each). */
  binds: number
  bindType: BindType
  /** Outstanding submit_sm per sending bind. */
  window: number
  /** Stop after this many submit_sm PDUs (0 = no limit). */
  messages: number
  /** Stop sending after this many seconds (0 = no limit; one of messages/durationS must be set). */
  durationS: number
  /** Target submit_sm per second over all binds; 0 = as fast as it goes. */
  rate: number
  /** Only bind and hold the binds for durationS (answering enquire_link); no submits. */
  idle: boolean
  mix: MessageMix
  /** registered_delivery of every submit (SMPP 3.4 §5.2.17): 1 asks for a final receipt. */
  registeredDelivery: number
  /** After sending stops: how long to wait for the last responses and receipts. */
  drainMs: number
  /** Submits sent in the first warmupS seconds (JIT, heap growth, binds settling) count in every total
   *  but their latencies go to warmupLatencyMs, not to submitLatencyMs / receiptLatencyMs. */
  warmupS: number
  /** Concurrent connection + bind attempts while binding. */
  connectConcurrency: number
  /** How long a bind may take before it counts as failed. */
  bindTimeoutMs: number
  /** Progress line every second: true = stderr, a function = your sink, false = none. */
  progress: boolean | ((line: string) => void)
  /** Prefix of the progress line (the target's name). */
  label: string
}

export const LOAD_DEFAULTS: LoadOptions = {
  host: '127.0.0.1',
  port: 2775,
  systemId: 'bench',
  password: 'bench',
  binds: 1,
  bindType: 'transceiver',
  window: 1,
  messages: 0,
  durationS: 10,
  rate: 0,
  idle: false,
  mix: { gsm: 1 },
  registeredDelivery: 0,
  drainMs: 10_000,
  warmupS: 0,
  connectConcurrency: 100,
  bindTimeoutMs: 15_000,
  progress: true,
  label: '',
}

export interface TimelinePoint {
  /** Seconds since sending started. */
  t: number
  submitsPerSec: number
  receiptsPerSec: number
  inFlight: number
  /** p99 of submit→submit_sm_resp within this second, ms. */
  p99: number
  errors: number
}

export interface LoadResult {
  options: Omit<LoadOptions, 'progress' | 'password' | 'mix'> & { mix: string }
  /** Connections bound / attempted, and bind failures by status. */
  bound: number
  bindAttempts: number
  bindErrors: Record<string, number>
  bindSeconds: number
  /** From the first submit until sending stopped, and until the last response/receipt. */
  sendSeconds: number
  elapsedSeconds: number
  sent: number
  acked: number
  failed: number
  /** acked / (last submit_sm_resp - first submit) */
  submitsPerSec: number
  /** sent / sendSeconds (the offered load; compare with options.rate) */
  offeredPerSec: number
  receipts: number
  receiptsPerSec: number
  /** Receipts that matched a submit of this run. */
  receiptsMatched: number
  /** Submits acknowledged with status 0 (and registered_delivery set) whose receipt never came. */
  receiptsMissing: number
  otherDeliverSm: number
  /** After the warm-up (see LoadOptions.warmupS). */
  submitLatencyMs: LatencySummary
  /** submit→submit_sm_resp of the submits sent during the warm-up. */
  warmupLatencyMs: LatencySummary
  receiptLatencyMs: LatencySummary
  /** submit_sm_resp / generic_nack statuses other than ESME_ROK, by name. */
  errors: Record<string, number>
  /** Responses whose sequence_number matched nothing outstanding; submits never answered. */
  unmatched: number
  unanswered: number
  /** Connections the server closed or that failed while the run was on. */
  disconnects: number
  serverUnbinds: number
  enquireLinks: number
  /** CPU seconds the generator used (user + system) while sending and draining. */
  generatorCpuSeconds: number
  /** Event-loop delay of the generator (ms): a busy or stalled generator shows here, not in the server. */
  generatorLoopDelayMs: { p50: number; p99: number; max: number }
  timeline: TimelinePoint[]
}

const LOOP_RESOLUTION_MS = 10

const enum State { CONNECTING, BINDING, BOUND, UNBINDING, CLOSED }

const ID = CommandId
const DELIVER_SM_RESP_LEN = HEADER_LENGTH + 1
const ENQUIRE_LINK_RESP = headerOnly(ID.enquire_link_resp, 0)
const UNBIND_RESP = headerOnly(ID.unbind_resp, 0)

function headerOnly(commandId: number, status: number): Buffer {
  const b = Buffer.alloc(HEADER_LENGTH)
  b.writeUInt32BE(HEADER_LENGTH, 0)
  b.writeUInt32BE(commandId >>> 0, 4)
  b.writeUInt32BE(status >>> 0, 8)
  return b
}

function withSeq(template: Buffer, seq: number): Buffer {
  const b = Buffer.from(template)
  b.writeUInt32BE(seq, 12)
  return b
}

function nextPow2(n: number): number {
  let p = 16
  while (p < n) p *= 2
  return p
}

/** Index just past the NUL of the C-Octet String at `off` (or the frame end). */
function skipCString(f: Buffer, off: number): number {
  const end = f.length
  while (off < end && f[off] !== 0) off++
  return off + 1
}

/**
 * A message id as a map key: all-digit ids of up to 15 digits become numbers (no string is made on
 * the hot path), anything else the latin1 string. Both sides (resp and receipt) use this function.
 */
function idKey(f: Buffer, s: number, e: number): number | string {
  const n = e - s
  if (n > 0 && n <= 15) {
    let v = 0
    for (let i = s; i < e; i++) {
      const d = f[i] - 48
      if (d < 0 || d > 9) return f.toString('latin1', s, e)
      v = v * 10 + d
    }
    return v
  }
  return f.toString('latin1', s, e)
}

class Bind {
  socket!: net.Socket
  readonly framer = new Framer()
  readonly frames: Buffer[] = []
  state = State.CONNECTING
  seq = 1 // the bind request uses 1
  inFlight = 0
  cursor = 0
  ref = 0
  readonly times: Float64Array
  readonly seqs: Int32Array
  readonly mask: number
  bindDone: ((status: number) => void) | null = null
  unbindDone: (() => void) | null = null

  constructor(readonly index: number, readonly kind: BindKind, window: number, cycleLength: number) {
    const cap = nextPow2(window * 4)
    this.times = new Float64Array(cap)
    this.seqs = new Int32Array(cap)
    this.mask = cap - 1
    this.cursor = index % cycleLength // binds start at different points of the mix
  }

  get sends(): boolean {
    return this.kind !== 'receiver'
  }

  nextSeq(): number {
    this.seq = this.seq >= MAX_SEQUENCE ? 1 : this.seq + 1
    return this.seq
  }
}

export class EsmeLoad {
  readonly o: LoadOptions
  private readonly cycle: SubmitTemplate[]
  private readonly binds: Bind[] = []
  private senders: Bind[] = []
  private readonly submitHist = new Histogram()
  private readonly secondHist = new Histogram()
  private readonly receiptHist = new Histogram()
  private readonly warmupHist = new Histogram()
  /** performance.now() when the warm-up ends (startAt + warmupS). */
  private steadyAt = 0
  /** message id → submit time, for submits whose receipt has not come yet. */
  private readonly awaiting = new Map<number | string, number>()
  /** message id → arrival time, for receipts that overtook their submit_sm_resp (pairs). */
  private readonly early = new Map<number | string, number>()
  private readonly errors = new Map<string, number>()
  private readonly bindErrors = new Map<string, number>()
  private readonly deliverSeqs: number[] = []
  private readonly timeline: TimelinePoint[] = []

  private running = false
  private sending = false
  private startAt = 0
  private sendEndAt = 0
  private lastRespAt = 0
  private lastReceiptAt = 0
  private ticker: NodeJS.Timeout | null = null
  private tokens = 0
  private lastTick = 0
  private rr = 0
  private nextProgressAt = 0
  private finish: (() => void) | null = null
  private cpuStart: NodeJS.CpuUsage = { user: 0, system: 0 }
  private cpuSeconds = 0
  private loopDelay: IntervalHistogram | null = null
  private bindSeconds = 0

  sent = 0
  inFlight = 0
  acked = 0
  failed = 0
  receipts = 0
  receiptsMatched = 0
  otherDeliverSm = 0
  unmatched = 0
  lost = 0
  disconnects = 0
  serverUnbinds = 0
  enquireLinks = 0
  private lastSecond = { acked: 0, receipts: 0, errors: 0 }

  constructor(options: Partial<LoadOptions>) {
    this.o = { ...LOAD_DEFAULTS, ...options }
    const o = this.o
    if (!Number.isInteger(o.binds) || o.binds < 1) throw new Error('binds must be a positive integer')
    if (!Number.isInteger(o.window) || o.window < 1) throw new Error('window must be a positive integer')
    if (!o.idle && o.messages <= 0 && o.durationS <= 0) throw new Error('give messages or durationS')
    this.cycle = submitCycle(o.mix, o.registeredDelivery)
  }

  get boundCount(): number {
    let n = 0
    for (const b of this.binds) if (b.state === State.BOUND) n++
    return n
  }

  // ------------------------------------------------------------------ bind / unbind

  /** Opens and binds every connection (at most connectConcurrency at a time). */
  async connect(): Promise<void> {
    const o = this.o
    const t0 = performance.now()
    const kinds: BindKind[] = []
    for (let i = 0; i < o.binds; i++) {
      if (o.bindType === 'transceiver') kinds.push('transceiver')
      else kinds.push('transmitter', 'receiver')
    }
    kinds.forEach((k, i) => this.binds.push(new Bind(i, k, o.window, this.cycle.length)))
    let next = 0
    const worker = async () => {
      while (next < this.binds.length) {
        const b = this.binds[next++]
        const status = await this.bindOne(b)
        if (status !== 0) {
          const name = status === -1 ? 'timeout' : status === -2 ? 'connection closed' : statusName(status)
          this.bindErrors.set(name, (this.bindErrors.get(name) ?? 0) + 1)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(o.connectConcurrency, this.binds.length) }, worker))
    this.bindSeconds = (performance.now() - t0) / 1000
    this.senders = this.binds.filter((b) => b.sends && b.state === State.BOUND)
    if (this.boundCount === 0) {
      throw new Error(`no bind succeeded (${[...this.bindErrors].map(([k, v]) => `${k} x${v}`).join(', ')})`)
    }
  }

  private bindOne(b: Bind): Promise<number> {
    const o = this.o
    return new Promise((resolve) => {
      let settled = false
      const done = (status: number) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        b.bindDone = null
        if (status !== 0) {
          b.state = State.CLOSED
          b.socket.destroy()
        }
        resolve(status)
      }
      // Pseudo-statuses for failures that have no command_status.
      const timer = setTimeout(() => done(-1), o.bindTimeoutMs)
      const socket = net.connect({ host: o.host, port: o.port })
      b.socket = socket
      socket.setNoDelay(true)
      socket.on('connect', () => {
        b.state = State.BINDING
        b.bindDone = done
        socket.write(encode({
          command: `bind_${b.kind}`, command_status: 0, sequence_number: 1,
          system_id: o.systemId, password: o.password, system_type: 'bench', interface_version: 0x34,
          addr_ton: 0, addr_npi: 0, address_range: '',
        }))
      })
      socket.on('data', (chunk: Buffer) => this.onData(b, chunk))
      socket.on('error', () => { /* 'close' follows */ })
      socket.on('close', () => {
        const was = b.state
        b.state = State.CLOSED
        if (!settled) done(-2)
        if (b.unbindDone) b.unbindDone()
        if (was === State.BOUND && this.running) this.disconnects++
        if (b.inFlight > 0) {
          this.inFlight -= b.inFlight
          this.lost += b.inFlight
          b.inFlight = 0
        }
      })
    })
  }

  /** Unbinds every bound connection (waits up to timeoutMs for unbind_resp), then destroys all. */
  async close(timeoutMs = 5_000): Promise<void> {
    this.stopTicker()
    const waits: Promise<void>[] = []
    for (const b of this.binds) {
      if (b.state !== State.BOUND) {
        if (b.state !== State.CLOSED) b.socket?.destroy()
        continue
      }
      b.state = State.UNBINDING
      waits.push(new Promise<void>((resolve) => {
        b.unbindDone = resolve
        b.socket.write(withSeq(headerOnly(ID.unbind, 0), b.nextSeq()))
      }))
    }
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.all(waits), new Promise<void>((r) => { timer = setTimeout(r, timeoutMs) })])
    clearTimeout(timer)
    for (const b of this.binds) if (b.state !== State.CLOSED) b.socket?.destroy()
  }

  // ------------------------------------------------------------------ the run

  /** Sends until messages/durationS is reached, drains, and resolves with the result. */
  run(): Promise<LoadResult> {
    const o = this.o
    return new Promise((resolve) => {
      this.running = true
      this.sending = !o.idle
      this.cpuStart = process.cpuUsage()
      this.loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
      this.loopDelay.enable()
      const now = performance.now()
      this.startAt = now
      this.steadyAt = now + o.warmupS * 1000
      this.lastTick = now
      this.nextProgressAt = now + 1000
      this.finish = () => {
        this.finish = null
        this.running = false
        this.stopTicker()
        const cpu = process.cpuUsage(this.cpuStart)
        this.cpuSeconds = (cpu.user + cpu.system) / 1e6
        this.loopDelay?.disable()
        resolve(this.result())
      }
      if (!o.idle && o.rate === 0) {
        // Closed loop: fill every window now; each response refills its slot.
        for (const b of this.senders) this.fill(b, now)
      }
      this.ticker = setInterval(this.tick, o.rate > 0 && !o.idle ? 2 : 50)
    })
  }

  private stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker)
    this.ticker = null
  }

  private readonly tick = (): void => {
    const o = this.o
    const now = performance.now()
    const elapsed = now - this.startAt
    // A server that unbound or closed every bind (stopped, restarted) ends the sending: nothing more can be sent.
    if (this.sending && ((o.durationS > 0 && elapsed >= o.durationS * 1000) || (o.messages > 0 && this.sent >= o.messages) || (!o.idle && this.boundCount === 0))) {
      this.sending = false
      this.sendEndAt = now
    } else if (o.idle && elapsed >= o.durationS * 1000) {
      this.sendEndAt = now
      return this.finish?.()
    }
    if (this.sending && o.rate > 0) this.paced(now)
    this.lastTick = now
    if (now >= this.nextProgressAt) {
      this.second(now)
      this.nextProgressAt += 1000
    }
    if (!this.sending && !o.idle && this.running) {
      const receiptsPending = o.registeredDelivery & 0x03 ? this.awaiting.size : 0
      if ((this.inFlight <= 0 && receiptsPending === 0) || now - this.sendEndAt >= o.drainMs || this.boundCount === 0) this.finish?.()
    }
  }

  /** Rate mode: hand this tick's tokens to binds with a free window slot, round robin. */
  private paced(now: number): void {
    const o = this.o
    this.tokens += (o.rate * (now - this.lastTick)) / 1000
    const cap = Math.max(o.rate * 0.05, 1)
    if (this.tokens > cap) this.tokens = cap
    let budget = Math.floor(this.tokens)
    if (o.messages > 0) budget = Math.min(budget, o.messages - this.sent)
    const senders = this.senders
    const n = senders.length
    if (budget <= 0 || n === 0) return
    const per = Math.max(1, Math.floor(budget / n))
    let idle = 0
    while (budget > 0 && idle < n) {
      const b = senders[this.rr]
      this.rr = this.rr + 1 === n ? 0 : this.rr + 1
      const free = b.state === State.BOUND ? o.window - b.inFlight : 0
      const k = Math.min(free, per, budget)
      if (k > 0) {
        this.send(b, k, now)
        budget -= k
        this.tokens -= k
        idle = 0
      } else {
        idle++
      }
    }
  }

  /** Closed loop: fill the bind's free window (bounded by the message limit). */
  private fill(b: Bind, now: number): void {
    if (b.state !== State.BOUND) return
    let k = this.o.window - b.inFlight
    if (this.o.messages > 0) k = Math.min(k, this.o.messages - this.sent)
    if (k > 0) this.send(b, k, now)
  }

  /** Copies k templates into one buffer, patches sequence numbers (and concat refs), one write. */
  private send(b: Bind, k: number, now: number): void {
    const cycle = this.cycle
    const len = cycle.length
    let size = 0
    for (let i = 0, c = b.cursor; i < k; i++) {
      size += cycle[c].buf.length
      c = c + 1 === len ? 0 : c + 1
    }
    const out = Buffer.allocUnsafe(size)
    let off = 0
    for (let i = 0; i < k; i++) {
      const t = cycle[b.cursor]
      b.cursor = b.cursor + 1 === len ? 0 : b.cursor + 1
      t.buf.copy(out, off)
      const seq = b.nextSeq()
      out.writeUInt32BE(seq, off + 12)
      if (t.refOffset >= 0) {
        if (t.part === 1) b.ref = (b.ref + 1) & 0xff
        out[off + t.refOffset] = b.ref
      }
      const slot = seq & b.mask
      if (b.seqs[slot] !== 0) {
        // The submit that held this slot was never answered: give up on it.
        this.lost++
        b.inFlight--
        this.inFlight--
      }
      b.seqs[slot] = seq
      b.times[slot] = now
      off += t.buf.length
    }
    b.inFlight += k
    this.inFlight += k
    this.sent += k
    b.socket.write(out)
  }

  // ------------------------------------------------------------------ the read path

  private onData(b: Bind, chunk: Buffer): void {
    const frames = b.frames
    frames.length = 0
    if (!b.framer.push(chunk, frames)) {
      b.socket.destroy()
      return
    }
    const now = performance.now()
    const rd = this.o.registeredDelivery & 0x03
    const deliverSeqs = this.deliverSeqs
    deliverSeqs.length = 0
    let freed = 0
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]
      const id = f.readUInt32BE(4)
      if (id === ID.submit_sm_resp) {
        const seq = f.readUInt32BE(12)
        const slot = seq & b.mask
        if (b.seqs[slot] !== seq) {
          this.unmatched++
          continue
        }
        b.seqs[slot] = 0
        b.inFlight--
        this.inFlight--
        freed++
        this.lastRespAt = now
        const sentAt = b.times[slot]
        const status = f.readUInt32BE(8)
        if (status === 0) {
          this.acked++
          const us = (now - sentAt) * 1000
          if (sentAt >= this.steadyAt) this.submitHist.record(us)
          else this.warmupHist.record(us)
          this.secondHist.record(us)
          if (rd !== 0) this.correlateResp(f, sentAt, now)
        } else {
          this.failed++
          this.countError(status)
        }
      } else if (id === ID.deliver_sm) {
        deliverSeqs.push(f.readUInt32BE(12))
        this.onDeliver(f, now)
      } else {
        this.onOther(b, f, id)
      }
    }
    const answer = deliverSeqs.length > 0
    const refill = freed > 0 && this.sending && this.o.rate === 0 && b.sends
    if (!answer && !refill) return
    const socket = b.socket
    socket.cork()
    if (answer) {
      // SMPP 3.4 §4.6.2 deliver_sm_resp: header + message_id (unused, NULL)
      const n = deliverSeqs.length
      const out = Buffer.allocUnsafe(n * DELIVER_SM_RESP_LEN)
      for (let i = 0, off = 0; i < n; i++, off += DELIVER_SM_RESP_LEN) {
        out.writeUInt32BE(DELIVER_SM_RESP_LEN, off)
        out.writeUInt32BE(ID.deliver_sm_resp, off + 4)
        out.writeUInt32BE(0, off + 8)
        out.writeUInt32BE(deliverSeqs[i], off + 12)
        out[off + 16] = 0
      }
      socket.write(out)
    }
    if (refill) this.fill(b, now)
    socket.uncork()
  }

  private correlateResp(f: Buffer, sentAt: number, now: number): void {
    // submit_sm_resp body: message_id C-Octet String (SMPP 3.4 §4.4.2)
    const s = HEADER_LENGTH
    const e = skipCString(f, s) - 1
    if (e <= s) return
    const key = idKey(f, s, e)
    const arrived = this.early.get(key)
    if (arrived !== undefined) {
      this.early.delete(key)
      this.receiptsMatched++
      if (sentAt >= this.steadyAt) this.receiptHist.record((arrived - sentAt) * 1000)
    } else {
      this.awaiting.set(key, sentAt)
    }
    void now
  }

  /** A deliver_sm: a receipt (esm_class type 0x04) is counted and matched to its submit. */
  private onDeliver(f: Buffer, now: number): void {
    // SMPP 3.4 §4.6.1 deliver_sm body, walked only as far as needed.
    let off = skipCString(f, HEADER_LENGTH) // service_type
    off = skipCString(f, off + 2) // source_addr_ton, source_addr_npi, source_addr
    off = skipCString(f, off + 2) // dest_addr_ton, dest_addr_npi, destination_addr
    const esmClass = f[off]
    // SMPP 3.4 §5.2.12 esm_class bits 2-5: 0x04 MC delivery receipt
    if ((esmClass & EsmClass.TYPE_MASK) !== EsmClass.MC_DELIVERY_RECEIPT) {
      this.otherDeliverSm++
      return
    }
    this.receipts++
    this.lastReceiptAt = now
    if ((this.o.registeredDelivery & 0x03) === 0) return
    off = skipCString(f, off + 3) // esm_class, protocol_id, priority_flag, schedule_delivery_time
    off = skipCString(f, off) // validity_period
    off += 4 // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
    const smLen = f[off]
    const smStart = off + 1
    const smEnd = Math.min(smStart + smLen, f.length)
    // SMPP 3.4 §5.3.2.12 receipted_message_id TLV first
    let s = -1
    let e = -1
    for (let t = smEnd; t + 4 <= f.length;) {
      const tag = f.readUInt16BE(t)
      const len = f.readUInt16BE(t + 2)
      if (tag === 0x001e) {
        s = t + 4
        e = Math.min(s + len, f.length)
        if (e > s && f[e - 1] === 0) e--
        break
      }
      t += 4 + len
    }
    if (s < 0) {
      // Appendix B text: "id:<id> sub:..."
      for (let i = smStart; i + 3 <= smEnd; i++) {
        if (f[i] === 0x69 && f[i + 1] === 0x64 && f[i + 2] === 0x3a) {
          s = i + 3
          e = s
          while (e < smEnd && f[e] !== 0x20) e++
          break
        }
      }
    }
    if (s < 0 || e <= s) return
    const key = idKey(f, s, e)
    const sentAt = this.awaiting.get(key)
    if (sentAt !== undefined) {
      this.awaiting.delete(key)
      this.receiptsMatched++
      if (sentAt >= this.steadyAt) this.receiptHist.record((now - sentAt) * 1000)
    } else {
      this.early.set(key, now)
    }
  }

  private onOther(b: Bind, f: Buffer, id: number): void {
    const seq = f.readUInt32BE(12)
    const status = f.readUInt32BE(8)
    switch (id) {
      case ID.bind_transceiver_resp:
      case ID.bind_transmitter_resp:
      case ID.bind_receiver_resp:
        if (b.bindDone) {
          if (status === 0) b.state = State.BOUND
          b.bindDone(status)
        }
        return
      case ID.enquire_link:
        this.enquireLinks++
        b.socket.write(withSeq(ENQUIRE_LINK_RESP, seq))
        return
      case ID.enquire_link_resp:
        return
      case ID.unbind:
        this.serverUnbinds++
        b.state = State.UNBINDING
        b.socket.end(withSeq(UNBIND_RESP, seq))
        return
      case ID.unbind_resp:
        b.state = State.CLOSED
        b.socket.destroy()
        return
      case ID.generic_nack: {
        this.countError(status, 'generic_nack ')
        const slot = seq & b.mask
        if (seq !== 0 && b.seqs[slot] === seq) {
          b.seqs[slot] = 0
          b.inFlight--
          this.inFlight--
          this.failed++
        }
        return
      }
      default:
        if ((id & 0x80000000) === 0) {
          // A request we do not handle: SMPP 3.4 §4.3 generic_nack ESME_RINVCMDID
          b.socket.write(withSeq(headerOnly(ID.generic_nack, 0x03), seq))
        }
    }
  }

  private countError(status: number, prefix = ''): void {
    const name = prefix + statusName(status)
    this.errors.set(name, (this.errors.get(name) ?? 0) + 1)
  }

  // ------------------------------------------------------------------ reporting

  private second(now: number): void {
    const errors = this.failed + this.unmatched
    const point: TimelinePoint = {
      t: Math.round((now - this.startAt) / 100) / 10,
      submitsPerSec: this.acked - this.lastSecond.acked,
      receiptsPerSec: this.receipts - this.lastSecond.receipts,
      inFlight: this.inFlight,
      p99: this.secondHist.percentile(99) / 1000,
      errors: errors - this.lastSecond.errors,
    }
    this.lastSecond = { acked: this.acked, receipts: this.receipts, errors }
    this.secondHist.reset()
    this.timeline.push(point)
    const p = this.o.progress
    if (p === false) return
    const n = (v: number) => v.toLocaleString('en-US')
    const line = `${this.o.label ? `[${this.o.label}] ` : ''}${point.t.toFixed(0).padStart(3)}s` +
      (this.o.idle
        ? `  bound ${n(this.boundCount)}  enquire_link ${n(this.enquireLinks)}  disconnects ${this.disconnects}`
        : `  submit/s ${n(point.submitsPerSec).padStart(8)}  receipts/s ${n(point.receiptsPerSec).padStart(8)}` +
          `  in-flight ${n(this.inFlight).padStart(6)}  ${this.submitHist.count === 0 && this.warmupHist.count > 0 ? `p99 ${(this.warmupHist.percentile(99) / 1000).toFixed(2)} ms (warm-up)` : `p99 ${(this.submitHist.percentile(99) / 1000).toFixed(2)} ms`}` +
          `  errors ${n(errors)}${this.sending ? '' : '  (draining)'}`)
    if (typeof p === 'function') p(line)
    else process.stderr.write(line + '\n')
  }

  result(): LoadResult {
    const o = this.o
    const end = this.sendEndAt || performance.now()
    const sendSeconds = (end - this.startAt) / 1000
    const lastAt = Math.max(this.lastRespAt, this.lastReceiptAt, end)
    const respSpan = ((this.lastRespAt || end) - this.startAt) / 1000
    const rcptSpan = ((this.lastReceiptAt || end) - this.startAt) / 1000
    const { progress: _p, password: _pw, mix, ...rest } = o
    void _p
    void _pw
    return {
      options: { ...rest, mix: formatMix(mix) },
      bound: this.boundCount,
      bindAttempts: this.binds.length,
      bindErrors: Object.fromEntries(this.bindErrors),
      bindSeconds: round(this.bindSeconds, 3),
      sendSeconds: round(sendSeconds, 3),
      elapsedSeconds: round((lastAt - this.startAt) / 1000, 3),
      sent: this.sent,
      acked: this.acked,
      failed: this.failed,
      submitsPerSec: respSpan > 0 ? Math.round(this.acked / respSpan) : 0,
      offeredPerSec: sendSeconds > 0 ? Math.round(this.sent / sendSeconds) : 0,
      receipts: this.receipts,
      receiptsPerSec: rcptSpan > 0 && this.receipts > 0 ? Math.round(this.receipts / rcptSpan) : 0,
      receiptsMatched: this.receiptsMatched,
      receiptsMissing: o.registeredDelivery & 0x03 ? this.awaiting.size : 0,
      otherDeliverSm: this.otherDeliverSm,
      submitLatencyMs: this.submitHist.summary(),
      warmupLatencyMs: this.warmupHist.summary(),
      receiptLatencyMs: this.receiptHist.summary(),
      errors: Object.fromEntries(this.errors),
      unmatched: this.unmatched,
      unanswered: Math.max(0, this.inFlight) + this.lost,
      disconnects: this.disconnects,
      serverUnbinds: this.serverUnbinds,
      enquireLinks: this.enquireLinks,
      generatorCpuSeconds: round(this.cpuSeconds, 2),
      generatorLoopDelayMs: this.loopDelay
        ? { p50: loopMs(this.loopDelay.percentile(50)), p99: loopMs(this.loopDelay.percentile(99)), max: loopMs(this.loopDelay.max) }
        : { p50: 0, p99: 0, max: 0 },
      timeline: this.timeline,
    }
  }
}

/** monitorEventLoopDelay reports the timer period plus the delay: keep the delay, in ms. */
function loopMs(ns: number): number {
  return round(Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS), 2)
}

function round(v: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

/** connect + run + close in one call. */
export async function runLoad(options: Partial<LoadOptions>): Promise<LoadResult> {
  const load = new EsmeLoad(options)
  try {
    await load.connect()
    return await load.run()
  } finally {
    await load.close()
  }
}
