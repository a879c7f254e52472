// The durable store: messages, the DLR/MO delivery queue, accounts and a few counters, in one embedded
// LMDB environment (package `lmdb`; values are msgpackr-encoded, Buffers come back as Buffers).
// It exists because a submit_sm_resp with command_status 0 is a promise (BRIEF §3 Durability): the message
// is stored before the response goes out, by GROUP COMMIT (one write transaction and one promise per
// batch, never per message), and receipts/MO for an ESME that is not bound are kept until it binds again.
//
// Commit semantics: commit() resolves when LMDB has COMMITTED the transaction, not when it is flushed.
// lmdb opens the environment with `overlappingSync` (default off Windows): the fsync runs after the commit,
// outside the write lock, and on reopen lmdb uses the latest committed transaction as long as the OS boot id
// is unchanged. So a committed batch survives kill -9 of the process (tested in test/store.test.ts); only
// an OS crash or power loss can lose the last un-flushed transactions. Open with
// { durability: 'flushed' } to make commit() also wait for `flushed` (power-loss safe, more latency).
//
// Layout (sub-databases of one environment, so one transaction spans all of them):
//   messages  id -> StoredMessage
//   active    id -> true            ids whose message_state is non-final (recovery index, no full scan)
//   queue     [systemId, key] -> DeliveryItem (key: store-assigned, increasing, unique across restarts)
//   accounts  systemId -> Account
//   meta      string -> value       store counters under the reserved prefix 'store:'

import { mkdirSync } from 'node:fs'
import { createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { open, asBinary, type Database, type RootDatabase, type RootDatabaseOptions } from 'lmdb'

export interface StoredMessage { id: string; systemId: string; state: number; [k: string]: unknown }
export interface DeliveryItem {
  key?: number; systemId: string; kind: 'receipt' | 'mo'; createdAt: number; attempts: number; [k: string]: unknown
}
export interface Account {
  systemId: string; passwordHash: string; maxBinds: number; windowSize: number; createdAt: number; updatedAt: number
  [k: string]: unknown
}
export interface CommitBatch { messages?: StoredMessage[]; enqueue?: DeliveryItem[]; ack?: { systemId: string; key: number }[] }
export interface StoreOptions {
  /** 'committed' (default): commit() resolves at commit, safe against process crash (kill -9).
   *  'flushed': commit() also waits for the fsync, safe against OS crash / power loss. */
  durability?: 'committed' | 'flushed'
}
export type VerifyResult = 'ok' | 'bad-password' | 'no-account'

// SMPP 3.4 §5.2.28 message_state (SMPP 5.0 §4.7.15 adds 0 SCHEDULED). Non-final states stay in `active`;
// every other value (2 DELIVERED, 3 EXPIRED, 4 DELETED, 5 UNDELIVERABLE, 7 UNKNOWN, 8 REJECTED, 9 SKIPPED) is final.
const ACTIVE_STATES: ReadonlySet<number> = new Set([0 /* SCHEDULED */, 1 /* ENROUTE */, 6 /* ACCEPTED */])

/**
 * A message or queue item as read from LMDB. With shared structures, a value decoded after a reopen
 * gives binary fields as Uint8Array; the engine keeps Buffers (only top-level fields are binary).
 */
function readMessage(v: unknown): StoredMessage | undefined {
  if (v === undefined || v === null) return undefined
  const m = v as Record<string, unknown>
  for (const k in m) {
    const x = m[k]
    if (x instanceof Uint8Array && !Buffer.isBuffer(x)) m[k] = Buffer.from(x) // a copy: never a view of a read buffer
  }
  return m as StoredMessage
}

/** Message ids are reserved on disk this many at a time; a crash skips the rest of the block, never reuses. */
export const ID_BLOCK = 10_000
/** Width of allocated ids: 10 digits, zero-padded (decimal "0000000042", hex "000000002a"). An id past
 *  the width (10^10 decimal, 16^10 hex) is printed longer rather than wrapped, so ids never repeat. */
export const ID_WIDTH = 10
/** Keys (message id, systemId) are limited so they always fit LMDB's key size and can never make a batch throw
 *  half-way through (lmdb commits what was written before a throw inside batch()). */
const MAX_KEY_BYTES = 255
const MAX_QUEUE_KEY = Number.MAX_SAFE_INTEGER

const META_PREFIX = 'store:'
const META_ID_HIGH = 'store:idHigh' // highest message id reserved (every id handed out is <= this)
const META_QUEUE_SEQ = 'store:queueSeq' // highest queue key committed
const META_SCHEMA = 'store:schema'
const SCHEMA_VERSION = 1

// Password hashing (scrypt, RFC 7914). 2^14 / 8 / 1 needs 16 MiB per hash and ~30-60 ms on one core.
const SCRYPT_N = 16_384
const SCRYPT_R = 8
const SCRYPT_P = 1
const SALT_BYTES = 16
const HASH_BYTES = 32

interface Encoder { encode(value: unknown): Buffer }
type QueueKey = [string, number]

function checkKey(what: string, v: unknown): asserts v is string {
  // Keys use NUL as the array delimiter in lmdb's ordered-binary encoding; SMPP C-Octet Strings have no NUL anyway.
  if (typeof v !== 'string' || v.length === 0 || v.includes('\0') || Buffer.byteLength(v) > MAX_KEY_BYTES) {
    throw new TypeError(`${what} must be a non-empty string of at most ${MAX_KEY_BYTES} bytes without NUL`)
  }
}

function checkQueueKey(v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new TypeError('ack.key must be a positive integer')
}

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number, len: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, len, { N: n, r, p, maxmem: 256 * n * r + (1 << 20) }, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

function noop(): void {}

export class Store {
  private closed = false
  private nextId: number // next message id to hand out
  private idHigh: number // highest id reserved on disk
  private queueSeq: number // highest queue key handed out
  private readonly pending = new Map<string, number>() // systemId -> committed queue items
  private readonly enqInflight = new Map<number, string>() // queue key -> systemId, enqueued, not yet committed
  private readonly ackInflight = new Set<number>() // queue keys acked, not yet committed
  // Messages in batches not yet committed: the latest version and how many batches still carry one.
  private readonly unsettled = new Map<string, { m: StoredMessage; batches: number }>()
  // Messages not in a final state, as the objects last committed: the carrier, the delivery actor,
  // cancel/replace and query_sm read and update these instead of decoding LMDB values again. Its
  // size is the number of messages in flight (with the carrier or scheduled).
  private readonly live = new Map<string, StoredMessage>()
  private readonly msgEncoder: Encoder
  private readonly queueEncoder: Encoder
  // Bind-storm cache: systemId -> HMAC of the last password that verified, and the hash it verified against.
  private readonly macKey = randomBytes(32)
  private readonly pwCache = new Map<string, { passwordHash: string; mac: Buffer }>()
  private readonly pwInflight = new Map<string, Promise<boolean>>()

  private constructor(
    private readonly root: RootDatabase,
    private readonly messages: Database<unknown, string>,
    private readonly active: Database<unknown, string>,
    private readonly queue: Database<unknown, QueueKey>,
    private readonly accounts: Database<unknown, string>,
    private readonly meta: Database<unknown, string>,
    private readonly waitFlush: boolean,
  ) {
    this.msgEncoder = (messages as unknown as { encoder: Encoder }).encoder
    this.queueEncoder = (queue as unknown as { encoder: Encoder }).encoder
    const high = meta.get(META_ID_HIGH)
    this.idHigh = typeof high === 'number' ? high : 0
    this.nextId = this.idHigh + 1 // skip whatever was left of the last reserved block
    // Rebuild per-account pending counts: one scan of the queue KEYS at open (values are not decoded).
    let maxKey = 0
    for (const k of queue.getKeys()) {
      const [systemId, key] = k as QueueKey
      this.pending.set(systemId, (this.pending.get(systemId) ?? 0) + 1)
      if (key > maxKey) maxKey = key
    }
    const seq = meta.get(META_QUEUE_SEQ)
    this.queueSeq = Math.max(typeof seq === 'number' ? seq : 0, maxKey)
    if (meta.get(META_SCHEMA) === undefined) meta.putSync(META_SCHEMA, SCHEMA_VERSION)
  }

  /** Open (creating `dir` if needed) the one LMDB environment in `dir`. */
  static async open(dir: string, options: StoreOptions = {}): Promise<Store> {
    mkdirSync(dir, { recursive: true })
    const envOptions: RootDatabaseOptions & { safeRestore: boolean } = {
      maxDbs: 8,
      noSubdir: false, // `dir` is a directory even if its name has a dot (lmdb would take it for a file name)
      // Pinned, not left to lmdb's LMDB_RESTORE env variable: 'safe' restore would drop committed but not yet
      // flushed transactions on reopen, breaking the kill -9 guarantee of durability 'committed'.
      safeRestore: false,
    }
    const root = open(dir, envOptions)
    try {
      return new Store(
        root,
        // Shared msgpackr structures: the record layout is stored once, not in every value (encode
        // 3.4 → 1.6 µs and 267 → 95 bytes per message record, bench/micro numbers in BENCHMARKS.md).
        root.openDB<unknown, string>('messages', { sharedStructuresKey: Symbol.for('structures') }),
        root.openDB<unknown, string>('active', {}),
        root.openDB<unknown, QueueKey>('queue', { sharedStructuresKey: Symbol.for('structures') }),
        root.openDB<unknown, string>('accounts', {}),
        root.openDB<unknown, string>('meta', {}),
        options.durability === 'flushed',
      )
    } catch (err) {
      await root.close()
      throw err
    }
  }

  // ---- message ids -------------------------------------------------------------------------------------

  /**
   * `n` fresh message ids, increasing, never reused across restarts or crashes (one counter for both formats).
   * Sync: ids come from memory; every ID_BLOCK ids a reservation is committed with putSync (~0.3 ms) BEFORE any
   * id of the block is handed out, and a reopened store starts after the last reservation. The reservation is
   * committed, not flushed; that is enough even with durability 'flushed', because LMDB flushes in order: the
   * flush of a batch that carries these ids also makes the earlier reservation durable.
   */
  allocateIds(n: number, format: 'decimal' | 'hex'): string[] {
    this.assertOpen()
    if (!Number.isSafeInteger(n) || n < 0) throw new TypeError('n must be a non-negative integer')
    const last = this.nextId + n - 1
    if (last > this.idHigh) {
      const high = this.nextId - 1 + Math.max(ID_BLOCK, n)
      this.meta.putSync(META_ID_HIGH, high)
      this.idHigh = high
    }
    const radix = format === 'hex' ? 16 : 10
    const out = new Array<string>(n)
    for (let i = 0; i < n; i++) out[i] = (this.nextId + i).toString(radix).padStart(ID_WIDTH, '0')
    this.nextId += n
    return out
  }

  // ---- group commit ------------------------------------------------------------------------------------

  /**
   * One LMDB write transaction for the whole batch: messages put (and moved in or out of the active index by
   * state), queue items appended under fresh keys, acked queue items removed. Queue keys are assigned
   * synchronously: `item.key` is set (overwritten) before this returns. To update a queued item (attempts),
   * ack its old key and enqueue it again in the same batch.
   * All or nothing: everything is validated and encoded before the first write, so a bad batch throws here
   * and writes nothing; the transaction itself is atomic in LMDB. Resolves once committed (see header).
   * Batches committed in the same event turn share one transaction (lmdb's event-turn batching).
   */
  commit(batch: CommitBatch): Promise<void> {
    this.assertOpen()
    const msgs = batch.messages ?? []
    const items = batch.enqueue ?? []
    const acks = batch.ack ?? []
    if (msgs.length === 0 && items.length === 0 && acks.length === 0) return Promise.resolve()

    // Phase 1: validate and encode. Nothing has been written yet, so a throw leaves the store untouched.
    const msgValues = new Array<Buffer>(msgs.length)
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]
      checkKey('message.id', m.id)
      checkKey('message.systemId', m.systemId)
      msgValues[i] = this.msgEncoder.encode(m)
    }
    for (const a of acks) { checkKey('ack.systemId', a.systemId); checkQueueKey(a.key) }
    for (const item of items) checkKey('item.systemId', item.systemId)
    const itemValues = new Array<Buffer>(items.length)
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      item.key = ++this.queueSeq // a throw below leaves a gap in keys, never a duplicate
      itemValues[i] = this.queueEncoder.encode(item)
    }
    // An ack counts (for pendingCount) once, and only if the item exists or is being enqueued.
    const counted: { systemId: string; key: number }[] = []
    for (const a of acks) {
      if (this.ackInflight.has(a.key)) continue
      const inflightOwner = this.enqInflight.get(a.key)
      if (inflightOwner === a.systemId || (inflightOwner === undefined && this.queue.doesExist([a.systemId, a.key]))) {
        this.ackInflight.add(a.key)
        counted.push(a)
      }
    }

    // Phase 2: queue the writes as one lmdb batch (ops run on lmdb's write thread, one transaction).
    const seq = this.queueSeq
    const committed = this.root.batch(() => {
      for (let i = 0; i < msgs.length; i++) {
        const m = msgs[i]
        this.messages.put(m.id, asBinary(msgValues[i]))
        if (ACTIVE_STATES.has(m.state)) this.active.put(m.id, true)
        else this.active.remove(m.id) // no-op when absent
      }
      for (let i = 0; i < items.length; i++) {
        const item = items[i]
        this.queue.put([item.systemId, item.key as number], asBinary(itemValues[i]))
      }
      if (items.length > 0) this.meta.put(META_QUEUE_SEQ, seq)
      for (const a of acks) this.queue.remove([a.systemId, a.key])
    })
    for (const item of items) this.enqInflight.set(item.key as number, item.systemId)
    // Read-your-writes: until this batch is committed, getMessage() answers from these objects, so a
    // read-modify-write (an outcome after another outcome, a cancel after an outcome) never starts
    // from an older committed version.
    for (const m of msgs) {
      const u = this.unsettled.get(m.id)
      if (u) { u.m = m; u.batches++ } else this.unsettled.set(m.id, { m, batches: 1 })
      if (ACTIVE_STATES.has(m.state)) this.live.set(m.id, m)
      else this.live.delete(m.id)
    }

    const settle = (ok: boolean): void => {
      for (const m of msgs) {
        const u = this.unsettled.get(m.id)
        if (u && --u.batches === 0) this.unsettled.delete(m.id)
        // A write that failed never happened: forget it unless a later version replaced it.
        if (!ok && this.live.get(m.id) === m) this.live.delete(m.id)
      }
      for (const item of items) {
        const key = item.key as number
        if (this.enqInflight.get(key) === item.systemId) this.enqInflight.delete(key)
        if (ok) this.pending.set(item.systemId, (this.pending.get(item.systemId) ?? 0) + 1)
      }
      for (const a of counted) {
        this.ackInflight.delete(a.key)
        if (!ok) continue
        const left = (this.pending.get(a.systemId) ?? 0) - 1
        if (left > 0) this.pending.set(a.systemId, left)
        else this.pending.delete(a.systemId)
      }
    }
    const done = committed.then(() => settle(true), (err: unknown) => { settle(false); throw err })
    return this.waitFlush ? done.then(() => this.root.flushed).then(noop) : done
  }

  // ---- reads (sync, from the last committed state) ---------------------------------------------------------

  getMessage(id: string): StoredMessage | undefined {
    return this.unsettled.get(id)?.m ?? this.live.get(id) ?? readMessage(this.messages.get(id))
  }

  /** Messages in a non-final state (0 SCHEDULED, 1 ENROUTE, 6 ACCEPTED), from the `active` index. */
  activeMessages(): StoredMessage[] {
    const out: StoredMessage[] = []
    for (const id of this.active.getKeys()) {
      const m = this.live.get(id as string) ?? readMessage(this.messages.get(id as string))
      if (m === undefined) continue
      this.live.set(m.id, m)
      out.push(m)
    }
    return out
  }

  /** Committed queue items of `systemId` with key > afterKey, in key order, at most `limit`. */
  pendingDeliveries(systemId: string, afterKey = 0, limit = 1000): DeliveryItem[] {
    const out: DeliveryItem[] = []
    const range = this.queue.getRange({ start: [systemId, Math.floor(afterKey) + 1], end: [systemId, MAX_QUEUE_KEY], limit })
    for (const { value } of range) out.push(readMessage(value) as unknown as DeliveryItem)
    return out
  }

  /** Committed, not yet acked queue items of `systemId` (kept in memory, rebuilt at open). */
  pendingCount(systemId: string): number {
    return this.pending.get(systemId) ?? 0
  }

  accountsWithPending(): string[] {
    return [...this.pending.keys()]
  }

  // ---- accounts ----------------------------------------------------------------------------------------

  getAccount(systemId: string): Account | undefined {
    return this.accounts.get(systemId) as Account | undefined
  }

  listAccounts(): Account[] {
    const out: Account[] = []
    for (const { value } of this.accounts.getRange({})) out.push(value as Account)
    return out
  }

  /** Resolves once committed; reads see the new account only after that. Drops the password cache entry. */
  putAccount(a: Account): Promise<void> {
    this.assertOpen()
    checkKey('account.systemId', a.systemId)
    this.pwCache.delete(a.systemId)
    return this.accounts.put(a.systemId, a).then(noop)
  }

  /** true if the account existed. Its queued deliveries are left in the queue. */
  async removeAccount(systemId: string): Promise<boolean> {
    this.assertOpen()
    this.pwCache.delete(systemId)
    if (!this.accounts.doesExist(systemId)) return false
    await this.accounts.remove(systemId)
    return true
  }

  /** "scrypt$N$r$p$saltB64$hashB64" with N=2^14, r=8, p=1, a 16-byte random salt and a 32-byte hash. */
  static async hashPassword(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES)
    const hash = await scryptAsync(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    return `scrypt$${SCRYPT_N}$${SCRYPT_R}$${SCRYPT_P}$${salt.toString('base64')}$${hash.toString('base64')}`
  }

  /**
   * Check a bind's password (never logged). A success is cached as an HMAC-SHA256 (per-process random key) of
   * the password, so a rebind storm pays the KDF once per account; concurrent checks of the same password are
   * coalesced into one KDF run. Wrong passwords always pay the KDF (nothing negative is cached).
   */
  async verifyPassword(systemId: string, password: string): Promise<VerifyResult> {
    const account = this.getAccount(systemId)
    if (account === undefined) return 'no-account'
    const stored = account.passwordHash
    const mac = createHmac('sha256', this.macKey).update(password).digest()
    const cached = this.pwCache.get(systemId)
    if (cached !== undefined && cached.passwordHash === stored && timingSafeEqual(cached.mac, mac)) return 'ok'

    const flightKey = `${systemId}\0${stored}\0${mac.toString('base64')}`
    let flight = this.pwInflight.get(flightKey)
    if (flight === undefined) {
      flight = verifyScrypt(stored, password)
      this.pwInflight.set(flightKey, flight)
      void flight.finally(() => this.pwInflight.delete(flightKey)).catch(noop)
    }
    const ok = await flight
    if (!ok) return 'bad-password'
    // Cache only if the account still has the hash we verified against (it may have changed meanwhile).
    if (this.getAccount(systemId)?.passwordHash === stored) this.pwCache.set(systemId, { passwordHash: stored, mac })
    return 'ok'
  }

  // ---- meta --------------------------------------------------------------------------------------------

  getMeta(key: string): unknown {
    return this.meta.get(key)
  }

  /** Keys starting with 'store:' are reserved for the store's own counters. */
  putMeta(key: string, value: unknown): Promise<void> {
    this.assertOpen()
    checkKey('meta key', key)
    if (key.startsWith(META_PREFIX)) throw new TypeError(`meta keys starting with '${META_PREFIX}' are reserved`)
    return this.meta.put(key, value).then(noop)
  }

  /** Waits for queued commits to commit and flush, then closes the environment. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    try {
      await this.root.flushed
    } finally {
      await this.root.close()
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('store is closed')
  }
}

/** Check `password` against an encoded scrypt hash. A malformed hash or absurd parameters fail closed. */
export async function verifyScrypt(encoded: string, password: string): Promise<boolean> {
  const parts = encoded.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const n = Number(parts[1])
  const r = Number(parts[2])
  const p = Number(parts[3])
  if (!Number.isInteger(n) || n < 2 || n > 1 << 20 || (n & (n - 1)) !== 0) return false
  if (!Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) return false
  const salt = Buffer.from(parts[4], 'base64')
  const expected = Buffer.from(parts[5], 'base64')
  if (salt.length === 0 || expected.length < 16) return false
  try {
    const actual = await scryptAsync(password, salt, n, r, p, expected.length)
    return timingSafeEqual(actual, expected)
  } catch {
    return false
  }
}
