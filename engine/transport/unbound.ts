/**
 * Caps on SMPP connections that have not bound yet (config smpp.maxUnboundConnections, smpp.maxUnboundPerIp): without
 * them a flood of idle TCP connections, which session_init closes only after 30 s, takes every file descriptor and
 * real binds fail. A connection takes a slot at accept (on the TLS port before its handshake) and gives it back when it
 * binds or closes (engine/transport/listener.ts). Bound connections are limited per account instead (maxBinds).
 *
 * Addresses are counted by addressKey (engine/address-key.ts): IPv6 by its /64. Over the per-address cap a
 * connection is closed at accept. When the total cap is full, a few addresses must not keep every other one out:
 * the oldest unbound connection of the address holding the most is closed to let a newcomer from an address holding
 * fewer in; a newcomer from the biggest holder (or one tying it) is refused.
 */
import { addressKey } from '../address-key'

/** A connection's place among the unbound ones; release() gives it back (once, whatever calls it again). */
export interface UnboundSlot { release(): void }

/** Why a connection was refused at accept: the label of smsc_connections_refused_total{reason}. */
export type UnboundRefusal = 'unbound_total' | 'unbound_per_ip'

interface Held { close(): void; release(): void }

export class UnboundConnections {
  private total = 0
  /** The slots held per address key, oldest first (a Set keeps insertion order). */
  private readonly byAddress = new Map<string, Set<Held>>()

  /**
   * `evicted`: a connection from `key` was closed to make room for a newcomer from `by` (the total cap was full).
   */
  constructor(
    private readonly limits: { maxUnboundConnections: number; maxUnboundPerIp: number },
    private readonly evicted: (key: string, by: string) => void = () => {},
  ) {}

  /** Connections holding a slot now. */
  get count(): number { return this.total }

  /** Slots held by the address key of `ip` (IPv6: its /64). */
  heldBy(ip: string): number { return this.byAddress.get(addressKey(ip))?.size ?? 0 }

  /**
   * A slot for a connection from `ip`, or which cap refuses it. `close` closes the connection, should it be evicted
   * for a newcomer (it must end in release(); its slot is given back at once all the same).
   */
  take(ip: string, close: () => void): UnboundSlot | UnboundRefusal {
    const key = addressKey(ip)
    const mine = this.byAddress.get(key)?.size ?? 0
    if (mine >= this.limits.maxUnboundPerIp) return 'unbound_per_ip'
    if (this.total >= this.limits.maxUnboundConnections) {
      // O(addresses), only when the cap is full: the biggest holder's oldest connection goes, unless that is the newcomer's own address.
      let biggest: Set<Held> | undefined
      let biggestKey = ''
      for (const [k, set] of this.byAddress) if (biggest === undefined || set.size > biggest.size) { biggest = set; biggestKey = k }
      if (biggest === undefined || biggest.size <= mine) return 'unbound_total'
      const oldest = biggest.values().next().value as Held
      oldest.release()
      oldest.close()
      this.evicted(biggestKey, key)
    }
    let set = this.byAddress.get(key)
    if (set === undefined) this.byAddress.set(key, (set = new Set()))
    this.total++
    let held = true
    const slot: Held = {
      close,
      release: () => {
        if (!held) return
        held = false
        this.total--
        const s = this.byAddress.get(key)
        if (s === undefined) return
        s.delete(slot)
        if (s.size === 0) this.byAddress.delete(key)
      },
    }
    set.add(slot)
    return { release: slot.release }
  }
}
