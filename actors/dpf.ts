/**
 * Delivery pending flags set at upstream SMSCs (SMPP 3.4 §5.3.2.29 set_dpf, §4.12 alert_notification).
 * When an upstream SMPP connector accepts a message sent with set_dpf 1, the upstream may set a
 * delivery pending flag for its subscriber and later send alert_notification once the subscriber is
 * reachable: often after the message failed or expired, which is when the ESME wants to know. This
 * table remembers, per upstream namespace (a transmitter and a receiver connector of the same
 * upstream account share one) and subscriber, which accounts asked and with which source address, so
 * the alert reaches them. An alert clears what it answers (the upstream resets its flag when it
 * alerts). Addresses are compared without a leading '+' or '00' (international forms of one number).
 * Bounded: at most `max` subscribers, least recently watched forgotten first, at most PER_SUBSCRIBER
 * watches each; a watch lasts WATCH_MS past its message's expiry. Kept in the store too (meta keys
 * `dpf:…`, written with the commits that change them: changes()), so an alert that comes after a
 * restart still reaches the account (load()).
 */
import { createHash } from 'node:crypto'
import type { Address } from '../engine/message'

export interface DpfWatch {
  systemId: string
  /** the message's source: the esme_addr of the alert relayed to the account */
  src: Address
  /** until when (ms) an alert still goes to this account */
  until: number
}

/** How long past its message's expiry a watch lasts: an upstream alerts when the subscriber comes back, maybe days later. */
export const WATCH_MS = 24 * 3600_000
/** Watches kept per subscriber (distinct account and source), the oldest dropped. */
const PER_SUBSCRIBER = 16

/** One number's international forms ('+4917…', '004917…', '4917…') alike. */
export function addressKey(addr: string): string {
  return addr.startsWith('+') ? addr.slice(1) : addr.startsWith('00') ? addr.slice(2) : addr
}

/**
 * The store's meta key of a subscriber's watches: a hash of upstream namespace and subscriber, so it fits a
 * store key whatever their length (a namespace holds the upstream's host); the value names both.
 */
const metaKey = (key: string): string => `dpf:${createHash('sha256').update(key).digest('hex').slice(0, 32)}`
export const DPF_META_PREFIX = 'dpf:'
/** What the store keeps per subscriber. */
interface Stored { ns: string; ms: string; watches: DpfWatch[] }

export class DpfWatches {
  private readonly byKey = new Map<string, DpfWatch[]>()
  /** Subscribers whose watches changed since the last changes(). */
  private readonly dirty = new Set<string>()

  constructor(private readonly max = 100_000) {}

  get size(): number { return this.byKey.size }

  /** An account asked to be alerted for `ms` through upstream `ns`; the same account and source once. */
  watch(ns: string, ms: string, w: DpfWatch, now: number): void {
    const key = `${ns}\0${addressKey(ms)}`
    const list = this.byKey.get(key)
    if (list !== undefined) this.byKey.delete(key) // re-inserted below: the most recently watched go last
    const kept = list === undefined ? [] : list.filter((x) => x.until >= now && !(x.systemId === w.systemId && addressKey(x.src[2]) === addressKey(w.src[2])))
    kept.push(w)
    if (kept.length > PER_SUBSCRIBER) kept.shift()
    this.byKey.set(key, kept)
    this.dirty.add(key)
    // Bounded: past `max`, the least recently watched subscriber goes; one expired at the front goes too (cheap upkeep).
    const oldest = this.byKey.keys().next().value as string
    if (this.byKey.size > this.max || (oldest !== key && (this.byKey.get(oldest) as DpfWatch[]).every((x) => x.until < now))) {
      this.byKey.delete(oldest)
      this.dirty.add(oldest)
    }
  }

  /** The meta entries to write for what changed since the last call: the subscriber's watches, or null (removed). */
  changes(): [string, Stored | null][] {
    const out: [string, Stored | null][] = []
    for (const key of this.dirty) {
      const watches = this.byKey.get(key)
      const [ns, ms] = key.split('\0')
      out.push([metaKey(key), watches === undefined ? null : { ns, ms, watches }])
    }
    this.dirty.clear()
    return out
  }

  /** Watches kept in the store (meta entries under DPF_META_PREFIX), at start: expired or malformed ones are left out. */
  load(entries: [string, unknown][], now: number): void {
    for (const [k, v] of entries) {
      const s = v as Partial<Stored> | null
      if (s === null || typeof s !== 'object' || typeof s.ns !== 'string' || typeof s.ms !== 'string' || !Array.isArray(s.watches)) continue
      const key = `${s.ns}\0${s.ms}`
      if (metaKey(key) !== k) continue
      const live = s.watches.filter((w) => w && typeof w.systemId === 'string' && Array.isArray(w.src) && typeof w.until === 'number' && w.until >= now)
      if (live.length > 0 && this.byKey.size < this.max) this.byKey.set(key, live)
      else this.dirty.add(key) // gone: removed at the next write
    }
  }

  /**
   * The watches an alert for `ms` from `ns` answers, removed: those whose source is the alert's
   * esme_addr, or, when none is, every one (an upstream may put its own address for us there).
   * Expired watches are dropped on the way.
   */
  take(ns: string, ms: string, esme: string, now: number): DpfWatch[] {
    const key = `${ns}\0${addressKey(ms)}`
    const list = this.byKey.get(key)
    if (list === undefined) return []
    const live = list.filter((w) => w.until >= now)
    const e = addressKey(esme)
    const mine = live.filter((w) => addressKey(w.src[2]) === e)
    const taken = mine.length > 0 ? mine : live
    const left = live.filter((w) => !taken.includes(w))
    if (left.length > 0) this.byKey.set(key, left)
    else this.byKey.delete(key)
    this.dirty.add(key)
    return taken
  }
}
