/**
 * The telemetry socket: /ws/telemetry?format=msgpack, binary frames decoded with msgpackr and handed
 * to TelemetryState. When the socket closes it reconnects with exponential back-off (250 ms doubling
 * to 10 s, with jitter), at once when the browser comes back online; before each retry it asks the
 * owner (`beforeReconnect`) whether to go on, so an expired login stops the loop instead of spinning.
 */
import { Unpackr } from 'msgpackr/unpack'
import type { Frame } from './types'
import type { TelemetryState } from './state'

export type StreamStatus = 'connecting' | 'live' | 'reconnecting' | 'stopped'

const MIN_BACKOFF_MS = 250
const MAX_BACKOFF_MS = 10_000

export interface StreamOptions {
  state: TelemetryState
  onStatus: (s: StreamStatus) => void
  /** asked before every reconnect: false stops the stream (e.g. the login expired) */
  beforeReconnect: () => Promise<boolean>
  path?: string
}

export class TelemetryStream {
  status: StreamStatus = 'stopped'
  private ws: WebSocket | null = null
  private attempt = 0
  private timer: ReturnType<typeof setTimeout> | null = null
  private running = false
  private readonly unpackr = new Unpackr({ int64AsType: 'number', mapsAsObjects: true })
  private readonly onOnline = (): void => {
    if (this.running && this.status === 'reconnecting') this.retryNow()
  }

  /** Why the server closed the stream last (codes 4001, 4003), else null. */
  closeReason: string | null = null

  constructor(private readonly o: StreamOptions) {}

  start(): void {
    if (this.running) return
    this.running = true
    window.addEventListener('online', this.onOnline)
    this.open()
  }

  stop(): void {
    this.running = false
    window.removeEventListener('online', this.onOnline)
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    const ws = this.ws
    this.ws = null
    if (ws) {
      ws.onclose = ws.onmessage = ws.onerror = null
      ws.close()
    }
    this.setStatus('stopped')
  }

  private setStatus(s: StreamStatus): void {
    if (s === this.status) return
    this.status = s
    this.o.onStatus(s)
  }

  private url(): string {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
    return `${proto}//${location.host}${this.o.path ?? '/ws/telemetry'}?format=msgpack`
  }

  private open(): void {
    if (!this.running) return
    this.setStatus(this.attempt === 0 ? 'connecting' : 'reconnecting')
    let ws: WebSocket
    try {
      ws = new WebSocket(this.url())
    } catch {
      this.scheduleReconnect()
      return
    }
    ws.binaryType = 'arraybuffer'
    this.ws = ws
    ws.onmessage = (ev: MessageEvent) => {
      let frame: Frame
      try {
        frame = typeof ev.data === 'string' ? JSON.parse(ev.data) : this.unpackr.unpack(new Uint8Array(ev.data as ArrayBuffer))
      } catch (e) {
        console.warn('telemetry: undecodable frame', e)
        return
      }
      if (frame.type === 'snapshot') {
        this.attempt = 0
        this.setStatus('live')
      }
      this.o.state.apply(frame)
    }
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return
      // 4001 (login ended) and 4003 (account suspended, removed, or its allowedIps) say why: the sign-in page shows it
      this.closeReason = ev.code === 4001 || ev.code === 4003 ? ev.reason : null
      this.ws = null
      this.scheduleReconnect()
    }
    ws.onerror = () => {
      // onclose follows; nothing to do here
    }
  }

  private scheduleReconnect(): void {
    if (!this.running) return
    this.setStatus('reconnecting')
    const base = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** this.attempt)
    this.attempt++
    const delay = base / 2 + Math.random() * (base / 2)
    this.timer = setTimeout(() => this.retryNow(), delay)
  }

  private retryNow(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.o.beforeReconnect().then(
      (goOn) => {
        if (goOn && this.running && this.ws === null) this.open()
        else if (!goOn) this.stop()
      },
      () => this.scheduleReconnect(),
    )
  }
}
