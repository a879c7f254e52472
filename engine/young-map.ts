/**
 * A Map for long-lived owners whose entries come and go with the messages in flight (the store's
 * unsettled and live messages, a session's outstanding deliveries). It renews its inner Map (a copy)
 * once the entries deleted since the last renewal reach twice the entries left, and at least
 * RENEW_AFTER: the copies cost at most half an entry per delete, and under load the inner Map lives
 * well under the two scavenges that would promote it.
 *
 * Why: V8 allocates a Map's next hash table in the generation of its current one. Once a long-lived
 * Map's table has been promoted, every later table goes straight to the old generation. A table
 * replaced by a rehash keeps pointing at the entries it held until the next mark-compact. Every
 * message object that passes through such a Map is then kept alive by a dead table through each
 * scavenge, copied, and promoted.
 *
 * Measured (docs/BENCHMARKS.md, seventh session): `1000x10tps` went from about 3 MB surviving each
 * scavenge, 9 ms pauses and a mark-compact every 5 s, to {see BENCHMARKS}.
 *
 * Renewals happen in set(), so a loop may delete the entry it is at; a loop that sets would leave its
 * iterator on the Map before the renewal.
 */
const RENEW_AFTER = 16

export class YoungMap<K, V> {
  private m = new Map<K, V>()
  private deleted = 0

  get size(): number { return this.m.size }
  get(key: K): V | undefined { return this.m.get(key) }
  has(key: K): boolean { return this.m.has(key) }
  set(key: K, value: V): this {
    if (this.deleted >= RENEW_AFTER && this.deleted >= 2 * this.m.size) {
      this.m = this.m.size === 0 ? new Map() : new Map(this.m)
      this.deleted = 0
    }
    this.m.set(key, value)
    return this
  }
  values(): IterableIterator<V> { return this.m.values() }
  keys(): IterableIterator<K> { return this.m.keys() }
  entries(): IterableIterator<[K, V]> { return this.m.entries() }
  [Symbol.iterator](): IterableIterator<[K, V]> { return this.m.entries() }

  delete(key: K): boolean {
    if (!this.m.delete(key)) return false
    this.deleted++
    return true
  }

  clear(): void {
    this.m = new Map()
    this.deleted = 0
  }
}
