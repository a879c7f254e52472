/**
 * A Map for long-lived owners whose entries come and go with the messages in flight (the store's
 * unsettled and live messages, a session's outstanding deliveries). It renews its inner Map (a copy)
 * once the entries deleted since the last renewal reach twice the entries left, and at least
 * RENEW_AFTER: the copies cost at most half an entry per delete, and under load the inner Map lives
 * well under the two scavenges that would promote it.
 *
 * Why (measured on Node 20; the mechanism is our reading of it): a Map that has been promoted and
 * then sees entries come and go keeps those entries alive through scavenges long after they are
 * deleted, so every message object that passed through it is copied and promoted.
 * - In a small script, a promoted Map churning short-lived objects made 4.4 MB survive each
 *   scavenge instead of 0.18 MB, and the pauses went from 1.3 to 9.5 ms.
 * - The likely cause: V8 allocates a Map's next hash table in the generation of its current one,
 *   and a table replaced by a rehash still points at the entries it held until the next
 *   mark-compact.
 * - A fresh Map starts young, with a young table.
 *
 * Measured (docs/BENCHMARKS.md, seventh session): with the store's unsettled Map alone turned into a
 * YoungMap, the bytes surviving each scavenge fell from 1.55 MB to 0.10 MB in a cut-down engine (no
 * carrier). With every change of that session, `bench 1000x10tps` dropped from about 3 MB surviving
 * each scavenge and 9 ms pauses to 0.9 MB and 3.5 ms.
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
