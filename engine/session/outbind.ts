/**
 * The outbind dialer (SMPP 3.4 §2.2.1, §4.1.7): the SMSC side of outbind. It owns, per account, the one
 * outbound connection at a time and its retry back-off; nothing else. Each check (every CHECK_MS) it
 * looks at the accounts with deliveries waiting in the store (receipts, MO); for one that has an
 * `outbind` setting (engine/accounts.ts), is not suspended, and has no bound receiver or transceiver,
 * it connects to outbind.host:port (TCP, or TLS with the usual certificate checks), hands the socket
 * to the engine, which creates an ordinary Session on it (engine/index.ts onSocket, the same path as
 * an accepted connection), and sends `outbind` with the account's system_id and outbind.password. The
 * session then waits in OUTBOUND (engine/session/bind-state.ts) for the ESME's bind_receiver (or
 * bind_transceiver), authenticated like any bind; once bound it is an ordinary receiver bind and the
 * delivery actor sends the waiting items to it.
 * A connection that fails, or is closed without a bind (refused credentials, the session_init timer, or
 * bindTimeoutMs when that timer is off), is tried again after a back-off (session.outbindRetryMs: 5 s
 * doubling to 5 min by default), only while deliveries still wait. A bind resets the back-off once it
 * has taken a delivery or stayed up STABLE_MS: an ESME that binds and drops before anything reached
 * it counts as a failure, so it is not called again every 5 s; one that fetches and unbinds does not. stop() (engine shutdown) ends all
 * attempts; accountChanged() (account removed, suspended, or its outbind setting changed) ends the
 * account's attempt if it is not bound yet.
 */
import net from 'node:net'
import tls from 'node:tls'
import type { LogFn } from '../log'
import type { Metrics } from '../telemetry'
import type { OutbindSetting } from '../accounts'
import type { Session } from './session'

/** How often the dialer looks for accounts to reach (ms). */
export const CHECK_MS = 500
/** A bind that lasted this long resets the back-off (ms). */
export const STABLE_MS = 60_000

export interface OutbindDeps {
  now(): number
  log: LogFn
  metrics: Pick<Metrics, 'event' | 'totals'>
  /** Accounts with deliveries waiting in the store. */
  waiting(): Iterable<string>
  /** The account's outbind target, or null (no setting, suspended, removed). */
  target(systemId: string): OutbindSetting | null
  /** True when a receiver or transceiver of the account is bound. */
  hasReceiver(systemId: string): boolean
  /** Makes a Session of a connected socket (engine/index.ts onSocket); null when the engine is stopping. */
  open(socket: net.Socket, secure: boolean): Session | null
  /** [first, max] delay between attempts (ms); doubles after each failure. */
  retryMs: readonly [number, number]
  /** Longest wait for the TCP (and TLS) connection (ms). */
  connectTimeoutMs: number
  /** Longest wait for the ESME's bind after the outbind when the session_init timer is off (ms); 0 = that timer applies. */
  bindTimeoutMs: number
}

interface Dial {
  /** Delay before the next attempt after a failure. */
  delayMs: number
  /** No attempt before this time. */
  nextAt: number
  attempts: number
  /** The setting the last attempt used. */
  lastTarget: OutbindSetting | null
  /** The attempt in progress: its socket, and its session once connected. */
  active: { socket: net.Socket; target: OutbindSetting; session: Session | null; bound: boolean; boundAt: number } | null
}

export class OutbindDialer {
  private readonly dials = new Map<string, Dial>()
  private timer: NodeJS.Timeout | null = null
  private stopped = false

  constructor(private readonly deps: OutbindDeps) {}

  start(): void {
    if (this.timer || this.stopped) return
    this.timer = setInterval(() => this.check(), CHECK_MS)
    this.timer.unref()
  }

  /** Engine shutdown: no new attempts; connections not yet bound are closed (bound ones unbind with the rest). */
  stop(): void {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    for (const [systemId, d] of this.dials) if (d.active && !d.active.bound) this.abort(systemId, d, 'shutdown')
  }

  /**
   * An account changed: `target` is its outbind setting now (null: none, suspended or removed). When
   * that differs from what the account's attempt and back-off were for, both go: an attempt not yet
   * bound is closed, and a corrected setting is tried at the next check.
   */
  accountChanged(systemId: string, target: OutbindSetting | null): void {
    const d = this.dials.get(systemId)
    if (d === undefined) return
    if (d.active) {
      if (d.active.bound || sameTarget(d.active.target, target)) return
      this.abort(systemId, d, target === null ? 'account suspended, removed or outbind turned off' : 'outbind setting changed')
    } else if (d.lastTarget !== null && sameTarget(d.lastTarget, target)) return
    this.dials.delete(systemId)
  }

  /** The engine saw a bind: if it is our connection's, the back-off starts again from the first delay. */
  bound(s: Session): void {
    const d = this.dials.get(s.systemId)
    if (!d?.active || d.active.session !== s) return
    d.active.bound = true
    d.active.boundAt = this.deps.now()
    this.deps.log('info', 'outbind: ESME bound', { systemId: s.systemId, session: s.id, kind: s.kind })
    this.deps.metrics.event('outbind', { systemId: s.systemId, session: s.id, detail: `ESME bound as ${s.kind} after outbind` })
    this.deps.metrics.totals.outbindBound++
  }

  /** One pass: start an attempt for every account that needs one and is due. */
  check(): void {
    if (this.stopped) return
    const now = this.deps.now()
    const waiting = new Set(this.deps.waiting())
    // An account with nothing waiting any more needs no back-off state (the map stays as small as the work).
    for (const [systemId, d] of this.dials) if (d.active === null && !waiting.has(systemId) && now >= d.nextAt) this.dials.delete(systemId)
    for (const systemId of waiting) {
      const d = this.dials.get(systemId)
      if (d?.active) continue // at most one outbind connection per account
      if (d !== undefined && now < d.nextAt) continue
      const target = this.deps.target(systemId)
      if (target === null || this.deps.hasReceiver(systemId)) continue
      this.dial(systemId, target, d ?? this.fresh(systemId))
    }
  }

  private fresh(systemId: string): Dial {
    const d: Dial = { delayMs: this.deps.retryMs[0], nextAt: 0, attempts: 0, lastTarget: null, active: null }
    this.dials.set(systemId, d)
    return d
  }

  private dial(systemId: string, target: OutbindSetting, d: Dial): void {
    d.attempts++
    d.lastTarget = target
    const where = `${target.host}:${target.port}${target.tls ? ' (TLS)' : ''}`
    this.deps.log('info', 'outbind: connecting', { systemId, host: target.host, port: target.port, tls: target.tls, attempt: d.attempts })
    this.deps.metrics.event('outbind', { systemId, detail: `connecting to ${where} (attempt ${d.attempts})` })
    this.deps.metrics.totals.outbindAttempts++
    const socket = target.tls
      ? tls.connect({ host: target.host, port: target.port, servername: net.isIP(target.host) ? undefined : target.host })
      : net.connect({ host: target.host, port: target.port })
    const active: NonNullable<Dial['active']> = { socket, target, session: null, bound: false, boundAt: 0 }
    d.active = active
    let tcpUp = false
    if (target.tls) socket.once('connect', () => { tcpUp = true })
    const timeout = setTimeout(() => socket.destroy(new Error(tcpUp
      ? `TCP connected but no TLS handshake within ${this.deps.connectTimeoutMs} ms (does the ESME speak TLS on ${target.host}:${target.port}? else set outbind.tls false)`
      : `no connection within ${this.deps.connectTimeoutMs} ms`)), this.deps.connectTimeoutMs)
    timeout.unref()
    let settled = false
    const settle = (reason: string | null): void => {
      if (settled) return
      settled = true
      clearTimeout(timeout)
      if (d.active === active) d.active = null
      this.ended(systemId, d, active, where, reason)
    }
    socket.once(target.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timeout)
      if (d.active !== active || this.stopped) { socket.destroy(); return settle('stopped') }
      const s = this.deps.open(socket, target.tls)
      if (s === null) { socket.destroy(); return settle('engine stopping') }
      active.session = s
      this.deps.log('info', 'outbind: connected, sending outbind', { systemId, session: s.id, remote: s.remote })
      s.outbind(systemId, target.password)
      // With the session_init timer off, the attempt has a deadline of its own for the bind: an ESME that
      // never binds must not hold the account's one outbind connection for ever.
      const bindTimer = this.deps.bindTimeoutMs > 0
        ? setTimeout(() => { if (!active.bound) s.close(`no bind within ${this.deps.bindTimeoutMs} ms of the outbind`) }, this.deps.bindTimeoutMs)
        : null
      bindTimer?.unref()
      void s.closedPromise.then(() => { if (bindTimer) clearTimeout(bindTimer); settle(active.bound ? null : s.closeReason || 'closed') })
    })
    // Before the session exists the socket is ours to watch; after, the session's close settles.
    socket.on('error', (err) => { if (active.session === null) settle(err.message) })
    socket.once('close', () => { if (active.session === null) settle('connection closed') })
  }

  /** An attempt ended: `reason` null after a bind (the session closed later), else why it failed. */
  private ended(systemId: string, d: Dial, active: NonNullable<Dial['active']>, where: string, reason: string | null): void {
    const [first, max] = this.deps.retryMs
    if (this.stopped) {
      this.deps.log('debug', 'outbind: attempt ended by shutdown', { systemId })
      return
    }
    if (reason === null) {
      const upMs = this.deps.now() - active.boundAt
      const delivered = active.session?.stats.delivered ?? 0
      this.deps.log('info', 'outbind: session ended', { systemId, reason: active.session?.closeReason, upMs, delivered })
      if (delivered > 0 || upMs >= STABLE_MS) {
        // A bind that took deliveries (an ESME that fetches and unbinds) or held: the next attempt (if
        // deliveries wait again) after the first delay.
        d.delayMs = first
        d.attempts = 0
        d.nextAt = this.deps.now() + first
        return
      }
      reason = `bound, then closed after ${upMs} ms (${active.session?.closeReason || 'closed'})`
    }
    d.nextAt = this.deps.now() + d.delayMs
    this.deps.log('warn', 'outbind: attempt failed', { systemId, target: where, reason, retryInMs: d.delayMs })
    this.deps.metrics.event('outbind', { systemId, detail: `${where}: ${reason}; next attempt in ${Math.round(d.delayMs / 1000)} s` })
    this.deps.metrics.totals.outbindFailed++
    d.delayMs = Math.min(max, d.delayMs * 2)
  }

  /** Closes the attempt in progress (its end is reported through settle → ended). */
  private abort(systemId: string, d: Dial, reason: string): void {
    const a = d.active
    if (!a) return
    this.deps.log('info', 'outbind: attempt abandoned', { systemId, reason })
    if (a.session) a.session.close(`outbind ${reason}`)
    else a.socket.destroy()
  }
}

function sameTarget(a: OutbindSetting, b: OutbindSetting | null): boolean {
  return b !== null && a.host === b.host && a.port === b.port && a.tls === b.tls && a.password === b.password
}
