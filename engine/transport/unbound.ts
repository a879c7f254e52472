/**
 * Caps on SMPP connections that have not bound yet (config smpp.maxUnboundConnections, smpp.maxUnboundPerIp): without
 * them a flood of idle TCP connections, which session_init closes only after 30 s, takes every file descriptor and
 * real binds fail. A connection takes a slot at accept (on the TLS port before its handshake) and gives it back when it
 * binds or closes; over a cap it is closed at once (engine/transport/listener.ts). Bound connections are limited per
 * account instead (maxBinds).
 */

/** A connection's place among the unbound ones; release() gives it back (once, whatever calls it again). */
export interface UnboundSlot { release(): void }

/** Why a connection was refused at accept: the label of smsc_connections_refused_total{reason}. */
export type UnboundRefusal = 'unbound_total' | 'unbound_per_ip'

export class UnboundConnections {
  private total = 0
  private readonly byIp = new Map<string, number>()

  constructor(private readonly limits: { maxUnboundConnections: number; maxUnboundPerIp: number }) {}

  /** Connections holding a slot now. */
  get count(): number { return this.total }

  /** A slot for a connection from `ip`, or which cap refuses it. */
  take(ip: string): UnboundSlot | UnboundRefusal {
    if (this.total >= this.limits.maxUnboundConnections) return 'unbound_total'
    const n = this.byIp.get(ip) ?? 0
    if (n >= this.limits.maxUnboundPerIp) return 'unbound_per_ip'
    this.total++
    this.byIp.set(ip, n + 1)
    let held = true
    return {
      release: () => {
        if (!held) return
        held = false
        this.total--
        const left = (this.byIp.get(ip) ?? 1) - 1
        if (left > 0) this.byIp.set(ip, left)
        else this.byIp.delete(ip)
      },
    }
  }
}
