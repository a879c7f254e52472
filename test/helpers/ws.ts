/**
 * A telemetry WebSocket client for the tests (docs/TELEMETRY.md): every frame decoded (msgpackr for
 * binary frames, JSON for text frames) into an array with an awaitable `waitFor(predicate)`, and
 * `pause()`/`resume()` of the underlying socket to play a client that stops reading. Built on the
 * `ws` package, already installed as a dependency of tap and of uWebSockets.js: Node 20's own
 * WebSocket client needs --experimental-websocket. Plus `api()`, an HTTP request with headers
 * (bearer token, cookie) for the admin API.
 */
import type { EventEmitter } from 'node:events'
import { unpack } from 'msgpackr'
import { httpCall, type HttpCallResult } from './engine'
import type { BindRow } from '../../engine/telemetry'
import type { Account as AccountRow, TelemetryEvent as EventRow } from '../../engine/wire'

/** A telemetry frame as the server sends it; the topics are present or absent by subscription. */
export interface Frame {
  type: 'snapshot' | 'delta'
  t: number
  interval: number
  binds?: BindRow[] | { upsert: BindRow[]; remove: number[] }
  accounts?: AccountRow[]
  queues?: { pending: Record<string, number>; pendingTotal: number; carrierInFlight: number }
  engine?: Record<string, unknown> & { submitPerSec: number; deliverPerSec: number; receiptPerSec: number; sessions: number; bound: number; rssBytes: number }
  latency?: Record<string, unknown>
  events?: EventRow[]
  [k: string]: unknown
}

export type { BindRow } from '../../engine/telemetry'

export type { Account as AccountRow, TelemetryEvent as EventRow } from '../../engine/wire'

export interface Received {
  frame: Frame
  binary: boolean
  bytes: number
  /** performance.now() when it arrived */
  at: number
}

interface WsLike extends EventEmitter {
  readonly readyState: number
  readonly isPaused: boolean
  pause(): void
  resume(): void
  close(code?: number, reason?: string): void
  terminate(): void
}

interface WsResponse {
  statusCode?: number
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const WebSocket = require('ws') as new (url: string, options?: { headers?: Record<string, string>; perMessageDeflate?: boolean }) => WsLike

/** The rows of a frame's binds, whether a snapshot (array) or a delta (upsert). */
export function bindRows(f: Frame): BindRow[] {
  if (f.binds === undefined) return []
  return Array.isArray(f.binds) ? f.binds : f.binds.upsert
}

export class TelemetryClient {
  readonly frames: Received[] = []
  /** Bytes of every frame received (payload length). */
  bytes = 0
  /** Frames received (also counted when they are not kept). */
  count = 0
  closed = false
  /** The close code the server sent (1006 when the connection dropped without one). */
  closeCode = 0
  private readonly waiters = new Set<() => void>()

  private constructor(private readonly ws: WsLike, private readonly keep: boolean) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.bytes += data.length
      this.count++
      if (this.keep) {
        const frame = (isBinary ? unpack(data) : JSON.parse(data.toString('utf8'))) as Frame
        this.frames.push({ frame, binary: isBinary, bytes: data.length, at: performance.now() })
      }
      for (const w of [...this.waiters]) w()
    })
    ws.on('close', (code: number) => {
      this.closed = true
      this.closeCode = code
      for (const w of [...this.waiters]) w()
    })
    ws.on('error', () => { /* 'close' follows */ })
  }

  /**
   * Opens /ws/telemetry with `query` (format, topics, token) and optional headers (cookie, bearer).
   * Rejects with an Error carrying `status` when the server refuses the upgrade. With `keep: false`
   * frames are only counted (bytes, count), neither decoded nor kept: a cheap reader of a heavy stream.
   */
  static open(port: number, query = '', headers: Record<string, string> = {}, opts: { keep?: boolean; timeoutMs?: number } = {}): Promise<TelemetryClient> {
    const timeoutMs = opts.timeoutMs ?? 5000
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/telemetry${query ? `?${query}` : ''}`, { headers, perMessageDeflate: false })
    const client = new TelemetryClient(ws, opts.keep ?? true)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { ws.terminate(); reject(new Error(`WebSocket open timed out after ${timeoutMs} ms`)) }, timeoutMs)
      ws.once('open', () => { clearTimeout(timer); resolve(client) })
      ws.once('unexpected-response', (_req: unknown, res: WsResponse & { resume?: () => void }) => {
        clearTimeout(timer)
        res.resume?.()
        ws.terminate()
        reject(Object.assign(new Error(`upgrade refused with HTTP ${res.statusCode}`), { status: res.statusCode }))
      })
      ws.once('error', (err: Error) => { clearTimeout(timer); reject(err) })
    })
  }

  /**
   * The first frame at index >= `from` matching `predicate` (frames already received count).
   * Resolves with the frame and its index; rejects after timeoutMs or when the socket closes first.
   */
  async waitFor(predicate: (f: Frame, r: Received) => boolean, timeoutMs = 5000, from = 0): Promise<{ frame: Frame; index: number }> {
    const deadline = Date.now() + timeoutMs
    let i = from
    for (;;) {
      for (; i < this.frames.length; i++) if (predicate(this.frames[i].frame, this.frames[i])) return { frame: this.frames[i].frame, index: i }
      if (this.closed) throw new Error(`socket closed before a matching frame (${this.frames.length} frames)`)
      const left = deadline - Date.now()
      if (left <= 0) {
        const last = this.frames.slice(-3).map((r) => JSON.stringify(r.frame).slice(0, 400)).join('\n  ')
        throw new Error(`no matching frame within ${timeoutMs} ms (${this.frames.length} frames; last:\n  ${last})`)
      }
      await new Promise<void>((resolve) => {
        const wake = () => { clearTimeout(timer); this.waiters.delete(wake); resolve() }
        const timer = setTimeout(wake, left)
        this.waiters.add(wake)
      })
    }
  }

  /** Resolves when `cond()` holds (checked at each frame); rejects after timeoutMs. */
  async waitUntil(cond: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!cond()) {
      const left = deadline - Date.now()
      if (left <= 0 || this.closed) throw new Error(`condition not met within ${timeoutMs} ms (${this.count} frames, ${this.bytes} bytes${this.closed ? ', closed' : ''})`)
      await new Promise<void>((resolve) => {
        const wake = () => { clearTimeout(timer); this.waiters.delete(wake); resolve() }
        const timer = setTimeout(wake, left)
        this.waiters.add(wake)
      })
    }
  }

  /** Stop reading from the socket: the server's writes back up (TCP window, then its own buffer). */
  pause(): void { this.ws.pause() }
  resume(): void { this.ws.resume() }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve())
      this.ws.terminate()
    })
  }
}

export type ApiResult = HttpCallResult

/** One HTTP request to the engine's HTTP port, with headers (Authorization, Cookie). */
export function api(port: number, method: string, urlPath: string, opts: { body?: unknown; token?: string; cookie?: string; timeoutMs?: number } = {}): Promise<ApiResult> {
  return httpCall(port, method, urlPath, opts)
}
