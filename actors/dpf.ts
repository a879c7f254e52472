/**
 * Delivery pending flags set at upstream SMSCs (SMPP 3.4 §5.3.2.29 set_dpf, §4.12 alert_notification).
 * When a message with set_dpf 1 goes to an upstream SMPP connector, the upstream may set a delivery
 * pending flag for its subscriber and later send alert_notification once the subscriber is reachable.
 * This table remembers, per upstream namespace (a transmitter and a receiver connector of the same
 * upstream account share one) and subscriber address, which accounts asked and with which source
 * address, so the alert reaches them. An alert clears what it answers (the upstream resets its flag
 * when it alerts). In memory only and bounded: after a restart, or past `max` subscribers, the
 * oldest watches are gone and their alerts are dropped with a log line.
 */
import type { Address } from '../engine/message'

export interface DpfWatch {
  systemId: string
  /** the message's source: the esme_addr of the alert relayed to the account */
  src: Address
  /** the message's expiry (ms): a watch is kept no longer than its message could be delivered */
  until: number
}

export class DpfWatches {
  private readonly byKey = new Map<string, DpfWatch[]>()

  constructor(private readonly max = 100_000) {}

  get size(): number { return this.byKey.size }

  /** An account asked to be alerted for `ms` through upstream `ns`; the same account and source once. */
  watch(ns: string, ms: string, w: DpfWatch): void {
    const key = `${ns}\0${ms}`
    const list = this.byKey.get(key)
    if (list === undefined) {
      this.byKey.set(key, [w])
      if (this.byKey.size > this.max) this.byKey.delete(this.byKey.keys().next().value as string)
      return
    }
    const same = list.find((x) => x.systemId === w.systemId && x.src[2] === w.src[2])
    if (same) same.until = Math.max(same.until, w.until)
    else list.push(w)
  }

  /**
   * The watches an alert for `ms` from `ns` answers, removed: those whose source is the alert's
   * esme_addr, or, when none is, every one (an upstream may put its own address for us there).
   * Expired watches are dropped on the way.
   */
  take(ns: string, ms: string, esme: string, now: number): DpfWatch[] {
    const key = `${ns}\0${ms}`
    const list = this.byKey.get(key)
    if (list === undefined) return []
    const live = list.filter((w) => w.until >= now)
    const mine = live.filter((w) => w.src[2] === esme)
    const taken = mine.length > 0 ? mine : live
    const left = live.filter((w) => !taken.includes(w))
    if (left.length > 0) this.byKey.set(key, left)
    else this.byKey.delete(key)
    return taken
  }
}
