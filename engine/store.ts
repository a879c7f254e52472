// The durable store: messages, the DLR/MO delivery queue, accounts and a few counters, in one embedded
// LMDB environment (package `lmdb`; message records and queue items in the binary layout of record-codec.ts,
// everything else, and values that layout does not cover, msgpackr-encoded; Buffers come back as Buffers).
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
//   messages  id -> StoredMessage   MTs, and MOs (a record with `mo`, written through commit()'s `mo` and `rewrites`:
//                                   final for the store whatever their state, so never in `active`; one `done` entry
//                                   at their receipt, so the retention purges them retentionHours after they came;
//                                   layout kind 03, which schema 4 brought: an older engine refuses the store). A final
//                                   MT is written again through `rewrites` only when its receipt was discarded
//   active    id -> true            ids whose message_state is non-final (recovery index, no full scan), WRITTEN LATE:
//                                   a message whose allocated id is >= meta 'store:activeFrom' is left out at its commit;
//                                   about once a second a checkpoint puts the ones still non-final and raises activeFrom
//                                   to the next id to allocate, in the same transaction. Most messages end before that and
//                                   never touch the index. Open scans the ids from activeFrom up (they are the last
//                                   seconds' messages, ids are ordered) and indexes the non-final ones it finds.
//   queue     [systemId, key] -> DeliveryItem (key: store-assigned, increasing, unique across restarts)
//   accounts  systemId -> Account   (records of older versions lack the newer settings: getAccount fills them in)
//   meta      string -> value       store counters under the reserved prefix 'store:'; generic keys (routes, …)
//   ledger    [systemId, seq] -> LedgerEntry   (seq: store-assigned, increasing, unique across restarts)
//   balances  systemId -> number    the balance after the account's last committed ledger entry: always the sum of
//                                   its committed entries (the store computes each entry's `balance`, see commit())
//   audit     seq -> AuditEntry
//   apikeys   sha256 hex of the key -> ApiKeyRecord (the key itself is never stored)
//   optouts   [scope, number] -> { at, by }   opt-out lists (engine/optouts.ts): scope '' is the operator's global
//                                   list, else a systemId; held in memory too (`optOuts`, loaded at open, changed when
//                                   a commit carrying changes is committed), which MT admission asks per destination
//   upstream  [connectorId, upstreamId] -> [messageId, destIndex]  (receipts from an upstream SMSC find their message)
//   done      [at, firstId, seq] -> [id, doneAt, id, doneAt, ...]   messages in a final state, by when they ended: one
//                                   entry per commit for all the messages it ended (at: the earliest doneAt among
//                                   them); purgeFinal() removes the ones past the retention, oldest first, without
//                                   reading the messages. Entries of schema 2 ([doneAt, id] -> '', one per message,
//                                   also what an upgrade from schema 1 builds) are read the same way.
// Everything a change needs (messages, ledger entries and balances, audit, accounts, keys, opt-outs) goes through commit():
// one transaction, so a credit debit is never committed without the messages it pays for, nor the reverse.

import { readdirSync, realpathSync, renameSync, rmdirSync, rmSync, statSync, statfsSync } from 'node:fs'
import path from 'node:path'
import { createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { open, asBinary, type Database, type RootDatabase, type RootDatabaseOptions } from 'lmdb'
import { defaultSettings, type Account, type AccountSettings } from './accounts'
import { DEFAULTS } from './config'
import { fromMicro, toMicro, type LedgerEntry } from './ledger'
import type { AuditEntry } from './admin'
import { smscError } from './errors'
import { makeDirs } from './dirs'
import { MARK, decodeValue, encodeItem, encodeMoRecord, encodeRecord, readRecordHead, type HeadFilter, type RecordHead } from './record-codec'
import { YoungMap } from './young-map'
import { OptOutLists, type OptOutChange } from './optouts'
import type { OptOutEntry } from './wire'

export interface StoredMessage { id: string; systemId: string; state: number; [k: string]: unknown }
export interface DeliveryItem {
  key?: number; systemId: string; kind: 'receipt' | 'mo'; createdAt: number; attempts: number; [k: string]: unknown
}
export type { Account } from './accounts'
/** An account as written: records of older versions have only maxBinds/windowSize; getAccount fills in defaults. */
export type AccountRecord = Pick<Account, 'systemId' | 'passwordHash' | 'createdAt' | 'updatedAt'> & Partial<AccountSettings>
export interface ApiKeyRecord { systemId: string; id: string; label: string; createdAt: number }
/** A message as a search walks them (Store.scanMessagesDown): its id, the counter the id was made from, its head. */
export interface ScannedMessage { id: string; counter: number; head: RecordHead }
export interface UpstreamLink { connector: string; upstreamId: string; id: string; dest: number }
export interface CommitBatch {
  messages?: StoredMessage[]
  /**
   * MO records (engine/message.ts MoFacts), in the commit that queues their items: stored with their `done` entry at
   * their receipt (submitAt) and never in the active index, whatever their state (their delivery to the account).
   */
  mo?: StoredMessage[]
  /**
   * Final records written again: an MO's delivery outcome, an MT whose receipt was discarded unacknowledged
   * (`receiptDiscarded`). Only while still stored (a purged one is not written back), with no new `done` entry (their
   * first write made it), never in the active index.
   */
  rewrites?: StoredMessage[]
  enqueue?: DeliveryItem[]
  ack?: { systemId: string; key: number }[]
  /** Each entry gets a store-assigned increasing `seq` and its `balance` (the account's balance after it, from
   *  the entries committed or queued before it: whatever the caller put there is overwritten); balances[systemId]
   *  = the account's last entry's balance. */
  ledger?: LedgerEntry[]
  /** [connector, upstreamId] -> [messageId, destIndex] */
  upstream?: UpstreamLink[]
  upstreamRemove?: { connector: string; upstreamId: string }[]
  /** Generic meta keys (never 'store:...'); a value of null removes the key. */
  meta?: [string, unknown][]
  /** Each entry gets a store-assigned increasing `seq`. */
  audit?: AuditEntry[]
  accounts?: AccountRecord[]
  removeAccounts?: string[]
  apiKeys?: { hash: string; key: ApiKeyRecord }[]
  removeApiKeys?: string[]
  /** Opt-out list changes (entry null removes the number); the in-memory lists (Store.optOuts) follow once committed. */
  optOuts?: OptOutChange[]
}
export interface StoreOptions {
  /** 'committed' (default): commit() resolves at commit, safe against process crash (kill -9).
   *  'flushed': commit() also waits for the fsync, safe against OS crash / power loss. */
  durability?: 'committed' | 'flushed'
  /** The engine's open: the first open of a backup copy skips message ids (RESTORE_IDS_PER_SECOND). The CLI's
   *  offline opens (which hand out no ids) leave the copy's mark for the engine. */
  restoreIds?: boolean
  /** Limits an account record without them reads back with (records of older versions); default: the config DEFAULTS. */
  accountDefaults?: { maxBinds: number; windowSize: number; messageIdFormat: 'decimal' | 'hex'; receiptPolicy?: 'every' | 'last' | 'aggregate' }
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

/**
 * Makes lmdb's reads of `db` (get, getRange) decode values of record-codec.ts's layout too; msgpackr
 * values (older stores, values the layout does not cover) decode as before.
 */
function readsOwnLayout(db: Database<unknown, never> | Database<unknown, string> | Database<unknown, [string, number]>): void {
  const d = db as unknown as { decoder: { decode(bytes: Uint8Array, end?: unknown): unknown } }
  const msgpack = d.decoder
  const decoder = Object.create(msgpack) as typeof msgpack
  decoder.decode = (bytes, end) => {
    // getRange passes the value's length (the buffer may be longer); get passes its options
    const n = typeof end === 'number' ? end : bytes.length
    return n >= 2 && bytes[0] === MARK ? decodeValue(Buffer.from(bytes.buffer, bytes.byteOffset, n)) : msgpack.decode(bytes, end)
  }
  d.decoder = decoder
}

const mib = (bytes: number): string => (bytes / 1048576).toFixed(1)

/** The real path of `p`, or of its nearest existing ancestor joined with the rest (symlinks resolved). */
function realOf(p: string): string {
  const abs = path.resolve(p)
  try {
    return realpathSync(abs)
  } catch {
    const parent = path.dirname(abs)
    return parent === abs ? abs : path.join(realOf(parent), path.basename(abs))
  }
}

/** Whether `p` is `dir` or inside it (both absolute, resolved). */
export function within(dir: string, p: string): boolean {
  const rel = path.relative(dir, p)
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
}

/** Message ids are reserved on disk this many at a time; a crash skips the rest of the block, never reuses. */
export const ID_BLOCK = 10_000
/** Width of allocated ids: 10 digits, zero-padded (decimal "0000000042"). An id past the width (10^10) is
 *  printed longer rather than wrapped, so ids never repeat. */
export const ID_WIDTH = 10
/**
 * Hex ids are HEX_ID_BASE + the counter in lowercase hex ("a00000002a" for 42): 10 digits, the first always a
 * letter, so a hex id can never be the decimal id of another number of the same counter ("0000000010" was both
 * decimal 10 and hex 16, and two accounts with different formats overwrote each other's messages).
 */
export const HEX_ID_BASE = 0xa0_0000_0000
/** Keys (message id, systemId) are limited so they always fit LMDB's key size and can never make a batch throw
 *  half-way through (lmdb commits what was written before a throw inside batch()). */
const MAX_KEY_BYTES = 255
const MAX_QUEUE_KEY = Number.MAX_SAFE_INTEGER

const META_PREFIX = 'store:'
const META_ID_HIGH = 'store:idHigh' // highest message id reserved (every id handed out is <= this)
const META_QUEUE_SEQ = 'store:queueSeq' // highest queue key committed
const META_SCHEMA = 'store:schema'
const META_DONE_INDEX = 'store:doneIndex' // set once the `done` index covers every final message
const META_ACTIVE_FROM = 'store:activeFrom' // every committed non-final message is in `active` or has an id counter >= this
/** How often commit() writes the `active` entries it left out (see the header). */
export const ACTIVE_CHECKPOINT_MS = 1000

/** When a final message ended, for the `done` index (a record without doneAt counts from when it is written). */
function endedAt(m: StoredMessage): number {
  const t = m.doneAt
  return typeof t === 'number' && Number.isFinite(t) && t > 0 ? t : Date.now()
}
const META_LEDGER_SEQ = 'store:ledgerSeq' // highest ledger seq committed
/** Set in a backup copy (backup()): when the copy was made. The store opened from it skips message ids (RESTORE_IDS_PER_SECOND). */
const META_BACKUP_AT = 'store:backupAt'
/**
 * The engine's first open of a backup copy skips this many message ids per second since the backup (at least
 * ID_BLOCK, at most RESTORE_IDS_MAX): ids the engine handed out after the copy was made must not be handed out
 * again, and twice the fastest rate measured (104,359 submit_sm/s, docs/BENCHMARKS.md) covers them.
 */
export const RESTORE_IDS_PER_SECOND = 200_000
/** The most a restore skips: ids stay 10 digits for long (longer ones lose the late `active` index, counterOf). */
export const RESTORE_IDS_MAX = 1_000_000_000
const META_AUDIT_SEQ = 'store:auditSeq' // highest audit seq committed
const MICRO = 1_000_000 // ledger sums are exact in integer micro-units
const MAX_MICRO = Number.MAX_SAFE_INTEGER
/** 1: msgpackr values. 2: record-codec.ts layouts and the done index (a version-1 engine cannot read them).
 *  3: the `active` index is written late (store:activeFrom); a version-2 engine would miss the newest messages.
 *  4: MO records (layout kind 03): a version-3 engine fails on one ("store value of unknown layout 3"), at its open
 *  when an MO came in the last second before the stop (indexLeftOut reads it), else at a lookup or a search. */
const SCHEMA_VERSION = 4

// Password hashing (scrypt, RFC 7914). 2^14 / 8 / 1 needs 16 MiB per hash and ~30-60 ms on one core.
const SCRYPT_N = 16_384
const SCRYPT_R = 8
const SCRYPT_P = 1
const SALT_BYTES = 16
const HASH_BYTES = 32

interface Encoder { encode(value: unknown): Buffer }
type QueueKey = [string, number]
type LedgerKey = [string, number]
export type UpstreamKey = [string, string]
type OptOutKey = [string, string] // [scope ('' = global), number]
/** The keys of one opt-out list, in number order (numbers are digits: '~' sorts after every one of them). */
const optOutRange = (scope: string, from = '') => ({ start: [scope, from] as OptOutKey, end: [scope, '~'] as OptOutKey })
type DoneKey = [number, string] | [number, string, number] // schema 2: [doneAt, id]; now [earliest doneAt, first id, seq]
/** A `done` entry's value: message ids and when each ended, in pairs; '' for a schema-2 entry (the key holds both). */
type DoneValue = (string | number)[] | ''
interface Dbs {
  messages: Database<unknown, string>; active: Database<unknown, string>; queue: Database<unknown, QueueKey>
  accounts: Database<unknown, string>; meta: Database<unknown, string>; ledger: Database<unknown, LedgerKey>
  balances: Database<unknown, string>; audit: Database<unknown, number>; apikeys: Database<unknown, string>
  upstream: Database<unknown, UpstreamKey>
  done: Database<unknown, DoneKey>
  optouts: Database<unknown, OptOutKey>
}

function checkKey(what: string, v: unknown): asserts v is string {
  // Keys use NUL as the array delimiter in lmdb's ordered-binary encoding; SMPP C-Octet Strings have no NUL anyway.
  // (a UTF-16 unit is at most 3 UTF-8 bytes: short keys need no byte count)
  if (typeof v !== 'string' || v.length === 0 || v.includes('\0') || (v.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(v) > MAX_KEY_BYTES)) {
    throw new TypeError(`${what} must be a non-empty string of at most ${MAX_KEY_BYTES} bytes without NUL`)
  }
}

/** A name asked for from outside (an API path, a login, a topic) that no key can be: no such record. */
const lookupable = (v: string): boolean => typeof v === 'string' && v.length > 0 && v.length <= MAX_KEY_BYTES && !v.includes('\0') && Buffer.byteLength(v) <= MAX_KEY_BYTES

function checkQueueKey(v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new TypeError('ack.key must be a positive integer')
}

/**
 * The counter an id of allocateIds() was made from (decimal "0000000042" or hex "a00000002a": 42), or -1 for any
 * other id (a test's, or a decimal id past ID_WIDTH digits): those are indexed at their commit, never left out.
 */
export function counterOf(id: string): number {
  if (id.length !== ID_WIDTH) return -1
  let n = 0
  const c0 = id.charCodeAt(0)
  if (c0 >= 48 && c0 <= 57) {
    for (let i = 0; i < ID_WIDTH; i++) {
      const c = id.charCodeAt(i) - 48
      if (c < 0 || c > 9) return -1
      n = n * 10 + c
    }
    return n
  }
  if (c0 < 97 || c0 > 102) return -1 // hex ids start with a..f
  for (let i = 0; i < ID_WIDTH; i++) {
    const c = id.charCodeAt(i)
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1
    if (d < 0) return -1
    n = n * 16 + d
  }
  return n - HEX_ID_BASE
}

/** What `recent` keeps of a left-out id: its counter (decimal ids) or -1 - counter (hex): a number, no string. */
function recentKey(id: string): number {
  const c = counterOf(id)
  return c < 0 ? NaN : id.charCodeAt(0) <= 57 ? c : -1 - c
}

/** The id a recentKey() was made from. */
function idOfRecent(k: number): string {
  return k >= 0 ? k.toString(10).padStart(ID_WIDTH, '0') : (HEX_ID_BASE - 1 - k).toString(16)
}

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number, len: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, len, { N: n, r, p, maxmem: 256 * n * r + (1 << 20) }, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

function noop(): void {}

/** `v` encoded by `db`'s own encoder (msgpackr), for a put with asBinary. */
function enc(db: Database<unknown, never>, v: unknown): Buffer {
  return (db as unknown as { encoder: Encoder }).encoder.encode(v)
}

function checkFinite(what: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`${what} must be a finite number`)
}

/** Deep-freezes a decoded record (only plain objects and arrays). */
function freeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v) && !ArrayBuffer.isView(v)) {
    Object.freeze(v)
    for (const k of Object.keys(v)) freeze((v as Record<string, unknown>)[k])
  }
  return v
}

export class Store {
  private closed = false
  private nextId: number // next message id to hand out
  private idHigh: number // highest id reserved on disk
  private queueSeq: number // highest queue key handed out
  private readonly pending = new Map<string, number>() // systemId -> committed queue items
  // Queue keys acked, not yet committed -> true once the item's own enqueue failed (the ack then counts for nothing).
  private readonly ackInflight = new YoungMap<number, boolean>()
  // Queue keys enqueued (being committed, or committed) in the last 5-10 s and not acked since -> systemId: most
  // acks come within milliseconds, and these answer whether the item exists without an LMDB read (older keys are read).
  private freshItems = new Map<number, string>()
  private olderItems = new Map<number, string>()
  private lastRotation = 0
  private olderTop = 0 // the highest queue key in olderItems
  private settledKey = 0 // the highest queue key whose batch has settled (batches settle in order)
  // Messages in batches not yet committed: the latest version (and, in unsettledMore, how many more batches carry one).
  private readonly unsettled = new YoungMap<string, StoredMessage>()
  // ids carried by more than one unsettled batch -> how many more (rare: no object per message for the usual one)
  private readonly unsettledMore = new Map<string, number>()
  // Messages not in a final state, as the objects last committed: the carrier, the delivery actor,
  // cancel/replace and query_sm read and update these instead of decoding LMDB values again. Its
  // size is the number of messages in flight (with the carrier or scheduled).
  private readonly live = new YoungMap<string, StoredMessage>()
  // The late `active` index (see the header): ids with a counter >= activeFrom are not indexed at their commit;
  // `recent` holds their ids, as numbers (recentKey), until the next checkpoint indexes the ones still live. Not the
  // records, nor the id strings: an object held for up to a second outlives two scavenges and is promoted (young-map.ts).
  private activeFrom = 0
  private recent: number[] = []
  private lastCheckpoint = 0 // performance.now(): a clock stepped back must not stop the checkpoints
  private liveLoaded = false // `live` holds every committed active message (activeMessages() loads the index once)
  private doneSeq = Date.now() // the third part of a `done` key: two commits never share one
  // Final messages purgeFinal must keep for now (pin/unpin).
  private readonly pinned = new Set<string>()
  private readonly msgEncoder: Encoder
  private readonly queueEncoder: Encoder
  // Bind-storm cache: systemId -> HMAC of the last password that verified, and the hash it verified against.
  private readonly macKey = randomBytes(32)
  private readonly pwCache = new Map<string, { passwordHash: string; mac: Buffer }>()
  private readonly pwInflight = new Map<string, Promise<boolean>>()
  private ledgerSeq: number // highest ledger seq handed out
  private auditSeq: number // highest audit seq handed out
  // systemId -> balance in micro-units after the account's last ledger entry committed or queued (in a batch
  // not yet settled); loaded from `balances` at the account's first entry. Each entry's `balance` comes from
  // here, so balances[systemId] is the sum of the committed entries; a failed commit takes its deltas back out.
  private readonly running = new Map<string, number>()
  // systemId -> batches with ledger entries of the account not yet settled.
  private readonly ledgerInflight = new Map<string, number>()
  // Accounts as last committed, normalised and frozen (read on every bind, and by the engine per batch).
  private readonly accountCache = new Map<string, Account>()
  private readonly accountDefaults: AccountSettings
  // Upstream links in batches not yet committed: a receipt from the upstream may arrive before the commit.
  private readonly upstreamInflight = new Map<string, { v: [string, number]; batches: number }>()
  private readonly messages: Database<unknown, string>
  private readonly active: Database<unknown, string>
  private readonly queue: Database<unknown, QueueKey>
  private readonly accounts: Database<unknown, string>
  private readonly meta: Database<unknown, string>
  private readonly ledger: Database<unknown, LedgerKey>
  private readonly balanceDb: Database<unknown, string>
  private readonly audit: Database<unknown, number>
  private readonly apikeys: Database<unknown, string>
  private readonly upstream: Database<unknown, UpstreamKey>
  private readonly done: Database<unknown, DoneKey>
  private readonly optouts: Database<unknown, OptOutKey>
  /** The opt-out lists as committed (engine/optouts.ts): what MT admission asks, one Set lookup per destination. */
  readonly optOuts = new OptOutLists()
  /** Accounts whose removal is being committed (count of such commits): opt-out changes for them are dropped. */
  private readonly removing = new Map<string, number>()
  // `messages` again, read as heads (record-codec.ts readRecordHead): what a search walks, without decoding the text.
  private readonly heads: Database<unknown, string>
  private headFilter: HeadFilter | undefined // the first cut of the walk under way (scanMessagesDown)

  private constructor(
    private readonly root: RootDatabase,
    dbs: Dbs,
    private readonly waitFlush: boolean,
    accountDefaults: StoreOptions['accountDefaults'],
    restoreIds: boolean,
    /** The environment's directory (its data.mdb). */
    private readonly dir: string,
  ) {
    const { messages, queue, meta } = dbs
    this.messages = messages
    this.active = dbs.active
    this.queue = queue
    this.accounts = dbs.accounts
    this.meta = meta
    this.ledger = dbs.ledger
    this.balanceDb = dbs.balances
    this.audit = dbs.audit
    this.apikeys = dbs.apikeys
    this.upstream = dbs.upstream
    this.done = dbs.done
    this.optouts = dbs.optouts
    for (const k of this.optouts.getKeys()) this.optOuts.add((k as OptOutKey)[0], (k as OptOutKey)[1])
    this.accountDefaults = defaultSettings(accountDefaults ?? {
      maxBinds: DEFAULTS.session.maxBindsPerAccount, windowSize: DEFAULTS.session.windowSize, messageIdFormat: DEFAULTS.messageIdFormat,
    })
    if (accountDefaults?.receiptPolicy) this.accountDefaults.receiptPolicy = accountDefaults.receiptPolicy
    this.msgEncoder = (messages as unknown as { encoder: Encoder }).encoder
    this.queueEncoder = (queue as unknown as { encoder: Encoder }).encoder
    readsOwnLayout(messages)
    this.heads = this.headReader()
    readsOwnLayout(queue)
    const ls = meta.get(META_LEDGER_SEQ)
    this.ledgerSeq = typeof ls === 'number' ? ls : 0
    const as = meta.get(META_AUDIT_SEQ)
    this.auditSeq = typeof as === 'number' ? as : 0
    const high = meta.get(META_ID_HIGH)
    this.idHigh = typeof high === 'number' ? high : 0
    const backupAt = meta.get(META_BACKUP_AT)
    if (typeof backupAt === 'number' && restoreIds) {
      // The engine's first open of a backup copy: skip the ids the engine may have handed out since the copy was made.
      const wanted = Math.ceil(Math.max(0, Date.now() - backupAt) / 1000) * RESTORE_IDS_PER_SECOND
      const skip = Math.max(ID_BLOCK, Math.min(RESTORE_IDS_MAX, wanted))
      this.idHigh += skip
      const idHigh = this.idHigh
      root.transactionSync(() => {
        meta.put(META_ID_HIGH, idHigh)
        meta.remove(META_BACKUP_AT)
      })
      this.restored = { backupAt, skippedIds: skip, capped: wanted > RESTORE_IDS_MAX }
    }
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
    const schema = meta.get(META_SCHEMA)
    if (typeof schema === 'number' && schema > SCHEMA_VERSION) {
      throw smscError('SMSC_ERR_STORE_NEWER', `the store in this data dir has schema ${schema}, this engine knows ${SCHEMA_VERSION} at most: run the newer engine (upgrades are one way)`)
    }
    if (schema !== SCHEMA_VERSION) meta.putSync(META_SCHEMA, SCHEMA_VERSION)
    if (meta.get(META_DONE_INDEX) === undefined) this.buildDoneIndex()
    this.indexLeftOut(meta.get(META_ACTIVE_FROM))
  }

  /** Open (creating `dir` if needed) the one LMDB environment in `dir`. */
  static async open(dir: string, options: StoreOptions = {}): Promise<Store> {
    makeDirs(dir)
    const envOptions: RootDatabaseOptions & { safeRestore: boolean } = {
      maxDbs: 16,
      noSubdir: false, // `dir` is a directory even if its name has a dot (lmdb would take it for a file name)
      // Pinned, not left to lmdb's LMDB_RESTORE env variable: 'safe' restore would drop committed but not yet
      // flushed transactions on reopen, breaking the kill -9 guarantee of durability 'committed'.
      safeRestore: false,
    }
    const root = open(dir, envOptions)
    try {
      return new Store(
        root,
        {
          // Shared msgpackr structures: the record layout is stored once, not in every value (encode
          // 3.4 → 1.6 µs and 267 → 95 bytes per message record, bench/micro numbers in BENCHMARKS.md).
          messages: root.openDB<unknown, string>('messages', { sharedStructuresKey: Symbol.for('structures') }),
          active: root.openDB<unknown, string>('active', {}),
          queue: root.openDB<unknown, QueueKey>('queue', { sharedStructuresKey: Symbol.for('structures') }),
          accounts: root.openDB<unknown, string>('accounts', {}),
          meta: root.openDB<unknown, string>('meta', {}),
          ledger: root.openDB<unknown, LedgerKey>('ledger', {}),
          balances: root.openDB<unknown, string>('balances', {}),
          audit: root.openDB<unknown, number>('audit', {}),
          apikeys: root.openDB<unknown, string>('apikeys', {}),
          upstream: root.openDB<unknown, UpstreamKey>('upstream', {}),
          done: root.openDB<unknown, DoneKey>('done', {}),
          optouts: root.openDB<unknown, OptOutKey>('optouts', {}),
        },
        options.durability === 'flushed',
        options.accountDefaults,
        options.restoreIds === true,
        dir,
      )
    } catch (err) {
      await root.close()
      throw err
    }
  }

  /** Set when this open was the engine's first of a backup copy: when the copy was made, how many message ids were
   *  skipped, and whether RESTORE_IDS_MAX cut the skip short. */
  readonly restored: { backupAt: number; skippedIds: number; capped: boolean } | null = null

  /** Backups being made: close() waits for them (closing the environment under a copy crashes the process). */
  private readonly copying = new Set<Promise<number>>()

  /**
   * A backup: a consistent copy of everything committed (LMDB's compacting copy, in one read transaction
   * on a thread of its own, so traffic goes on meanwhile) as a data dir of its own, `<dir>/store/data.mdb`;
   * an engine started with `--data-dir <dir>` runs on it. The copy is marked, so the engine's first open of it
   * skips message ids (RESTORE_IDS_PER_SECOND). `dir` must not exist or be empty (a new file system's lost+found
   * aside: a mount point will do), and not be inside the store. The
   * copy is made in `<dir>/.partial` and renamed to `<dir>/store` once complete: a failed one (disk full, say)
   * leaves nothing that looks like a backup. Resolves with the copy's size in bytes; fails with SMSC_ERR_BACKUP_FAILED.
   */
  backup(dir: string): Promise<number> {
    this.assertOpen()
    const p = this.copyTo(dir)
    this.copying.add(p)
    const forget = () => { this.copying.delete(p) }
    p.then(forget, forget)
    return p
  }

  private async copyTo(dir: string): Promise<number> {
    const partial = path.join(dir, '.partial')
    let created = false
    try {
      let entries: string[] = []
      try { entries = readdirSync(dir) } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; created = true }
      if (entries.some((x) => x !== '.partial' && x !== 'lost+found')) throw new Error(`${dir} is not empty`)
      if (within(realOf(this.dir), realOf(dir))) throw new Error(`${dir} is inside the store it would copy`)
      rmSync(partial, { recursive: true, force: true }) // left by a crash during an earlier attempt
      const into = path.join(partial, 'store')
      makeDirs(into)
      // A compacted copy is at most the live file's size: refuse at once rather than fill the disk.
      const need = statSync(path.join(this.dir, 'data.mdb')).size
      const fsStat = statfsSync(into)
      const free = fsStat.bavail * fsStat.bsize
      if (free < need) throw new Error(`not enough free space in ${path.dirname(dir)}: the copy may need ${mib(need)} MiB, ${mib(free)} MiB are free`)
      const at = Date.now()
      await this.root.backup(into, true)
      const copy = open(into, { maxDbs: 16, noSubdir: false, safeRestore: false } as RootDatabaseOptions)
      try {
        await copy.openDB<unknown, string>('meta', {}).put(META_BACKUP_AT, at)
      } finally {
        await copy.close()
      }
      const bytes = statSync(path.join(into, 'data.mdb')).size
      renameSync(into, path.join(dir, 'store'))
      rmdirSync(partial)
      return bytes
    } catch (e) {
      try {
        rmSync(partial, { recursive: true, force: true })
        if (created) rmdirSync(dir) // made here: a failed backup leaves no directory that looks like one
      } catch { /* a target that cannot even be listed has no partial copy */ }
      throw smscError('SMSC_ERR_BACKUP_FAILED', `backup to ${dir} failed: ${(e as Error).message}`)
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
    const out = new Array<string>(n)
    if (format === 'hex') for (let i = 0; i < n; i++) out[i] = (HEX_ID_BASE + this.nextId + i).toString(16)
    else for (let i = 0; i < n; i++) out[i] = (this.nextId + i).toString(10).padStart(ID_WIDTH, '0')
    this.nextId += n
    return out
  }

  // ---- group commit ------------------------------------------------------------------------------------

  /**
   * One LMDB write transaction for the whole batch: messages put (and moved in or out of the active index by
   * state), queue items appended under fresh keys, acked queue items removed. Queue keys are assigned
   * synchronously: `item.key` is set (overwritten) before this returns. To update a queued item (attempts),
   * ack its old key and enqueue it again in the same batch.
   * In the same transaction: ledger entries (each gets `seq` and `balance`: the account's balance after the
   * entries committed or queued before it, so a debit in memory that is never committed counts nowhere; and
   * balances[systemId] = the account's last entry's balance), upstream links, generic meta keys (null removes
   * one), audit entries (each gets `seq`), account records
   * (removeAccounts also removes the account's API keys), API keys.
   * All or nothing: everything is validated and encoded before the first write, so a bad batch throws here
   * and writes nothing; the transaction itself is atomic in LMDB. Resolves once committed (see header).
   * Batches committed in the same event turn share one transaction (lmdb's event-turn batching).
   */
  commit(batch: CommitBatch): Promise<void> {
    this.assertOpen()
    const msgs = batch.messages ?? []
    const items = batch.enqueue ?? []
    const acks = batch.ack ?? []
    const ledger = batch.ledger ?? []
    const links = batch.upstream ?? []
    const unlinks = batch.upstreamRemove ?? []
    const metas = batch.meta ?? []
    const mos = batch.mo ?? []
    const rewrites = batch.rewrites ?? []
    const audits = batch.audit ?? []
    const accounts = batch.accounts ?? []
    const removeAccounts = batch.removeAccounts ?? []
    const keys = batch.apiKeys ?? []
    const removeKeys = batch.removeApiKeys ?? []
    // An opt-out change for an account being removed (in this commit, or in one still being committed) is dropped: the
    // account is gone (Admin refuses it earlier; an MO routed just before the removal may still bring one).
    const optOuts = batch.optOuts === undefined ? [] : this.removing.size === 0 && batch.removeAccounts === undefined ? batch.optOuts
      : batch.optOuts.filter((c) => !this.removing.has(c.scope) && !batch.removeAccounts?.includes(c.scope))
    if (msgs.length === 0 && items.length === 0 && acks.length === 0 && ledger.length === 0 && links.length === 0 &&
      unlinks.length === 0 && metas.length === 0 && audits.length === 0 && accounts.length === 0 &&
      removeAccounts.length === 0 && keys.length === 0 && removeKeys.length === 0 && optOuts.length === 0 &&
      mos.length === 0 && rewrites.length === 0) return Promise.resolve()

    // Phase 1: validate and encode. Nothing has been written yet, so a throw leaves the store untouched.
    const msgValues = new Array<Buffer>(msgs.length)
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]
      checkKey('message.id', m.id)
      checkKey('message.systemId', m.systemId)
      msgValues[i] = encodeRecord(m) ?? this.msgEncoder.encode(m)
    }
    const moRecords = mos.length === 0 && rewrites.length === 0 ? mos : [...mos, ...rewrites]
    const moValues = new Array<Buffer>(moRecords.length)
    for (let i = 0; i < moRecords.length; i++) {
      const m = moRecords[i]
      checkKey('mo.id', m.id)
      checkKey('mo.systemId', m.systemId)
      // a rewritten MT (its receipt discarded) is no MO: the MT layout, which leaves it to msgpackr (record-codec.ts)
      moValues[i] = ((m as { mo?: unknown }).mo !== undefined ? encodeMoRecord(m) : encodeRecord(m)) ?? this.msgEncoder.encode(m)
    }
    for (const a of acks) { checkKey('ack.systemId', a.systemId); checkQueueKey(a.key) }
    for (const item of items) checkKey('item.systemId', item.systemId)
    // Each entry's balance: the account's running balance (committed and queued entries) plus its delta, exact
    // in micro-units. Kept aside until nothing below can throw.
    const after = new Map<string, number>()
    const deltas = new Array<number>(ledger.length)
    for (let i = 0; i < ledger.length; i++) {
      const e = ledger[i]
      checkKey('ledger.systemId', e.systemId)
      checkFinite('ledger.delta', e.delta)
      const d = Math.round(e.delta * MICRO)
      const b = (after.get(e.systemId) ?? this.runningBalance(e.systemId)) + d
      if (!Number.isSafeInteger(d) || Math.abs(b) > MAX_MICRO) throw new TypeError(`ledger.delta ${e.delta} puts the balance of ${e.systemId} out of range`)
      deltas[i] = d
      after.set(e.systemId, b)
      e.balance = fromMicro(b)
    }
    for (const l of links) {
      checkKey('upstream.connector', l.connector)
      checkKey('upstream.upstreamId', l.upstreamId)
      checkKey('upstream.id', l.id)
      if (!Number.isSafeInteger(l.dest) || l.dest < 0) throw new TypeError('upstream.dest must be a non-negative integer')
    }
    for (const l of unlinks) { checkKey('upstreamRemove.connector', l.connector); checkKey('upstreamRemove.upstreamId', l.upstreamId) }
    for (const [k] of metas) {
      checkKey('meta key', k)
      if (k.startsWith(META_PREFIX)) throw new TypeError(`meta keys starting with '${META_PREFIX}' are reserved`)
    }
    for (const a of audits) checkFinite('audit.t', a.t)
    for (const a of accounts) checkKey('account.systemId', a.systemId)
    for (const id of removeAccounts) checkKey('removeAccounts[]', id)
    for (const k of keys) { checkKey('apiKeys.hash', k.hash); checkKey('apiKeys.key.systemId', k.key.systemId) }
    for (const h of removeKeys) checkKey('removeApiKeys[]', h)
    for (const c of optOuts) {
      if (typeof c.scope !== 'string' || c.scope.includes('\0')) throw new TypeError('optOuts.scope must be a string without NUL')
      if (typeof c.number !== 'string' || !/^\d{1,20}$/.test(c.number)) throw new TypeError('optOuts.number must be 1 to 20 digits')
      if (c.entry !== null) checkFinite('optOuts.entry.at', c.entry.at)
    }
    // A removed account takes its API keys and its opt-out list with it (its ledger and balance stay as history). Its
    // list is dropped in the write transaction (below), not from the keys committed now: an add still being committed
    // is on disk by then, and a list of a million numbers is not scanned here, in the main thread's commit phase.
    const dropKeys = [...removeKeys]
    if (removeAccounts.length > 0) {
      const gone = new Set(removeAccounts)
      for (const { key, value } of this.apikeys.getRange({})) {
        if (gone.has((value as ApiKeyRecord).systemId)) dropKeys.push(key as string)
      }
    }
    // Seqs are assigned like queue keys: a throw below leaves a gap, never a duplicate.
    for (const e of ledger) e.seq = ++this.ledgerSeq
    for (const a of audits) a.seq = ++this.auditSeq
    const ledgerValues = ledger.map((e) => enc(this.ledger as never, e))
    const balanceValues = new Map<string, Buffer>() // the last entry of an account in the batch wins
    for (const [systemId, b] of after) balanceValues.set(systemId, enc(this.balanceDb as never, fromMicro(b)))
    const linkValues = links.map((l) => enc(this.upstream as never, [l.id, l.dest]))
    const metaValues = metas.map(([, v]) => (v === null ? null : enc(this.meta as never, v)))
    const auditValues = audits.map((a) => enc(this.audit as never, a))
    const accountValues = accounts.map((a) => enc(this.accounts as never, a))
    const keyValues = keys.map((k) => enc(this.apikeys as never, k.key))
    const optOutValues = optOuts.map((c) => (c.entry === null ? null : enc(this.optouts as never, { at: c.entry.at, by: c.entry.by })))

    const itemValues = new Array<Buffer>(items.length)
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      item.key = ++this.queueSeq // a throw below leaves a gap in keys, never a duplicate
      itemValues[i] = encodeItem(item) ?? this.queueEncoder.encode(item)
    }
    // An ack counts (for pendingCount) once, and only if the item exists or is being enqueued (in this call too).
    const counted: { systemId: string; key: number }[] = []
    const firstKey = this.queueSeq - items.length + 1
    if (acks.length > 0 || items.length > 0) this.rotateItems() // once per call, not per ack
    for (const a of acks) {
      if (this.ackInflight.has(a.key)) continue
      const own = a.key >= firstKey && a.key <= this.queueSeq ? items[a.key - firstKey].systemId === a.systemId : undefined
      if (own ?? this.itemExists(a.systemId, a.key)) {
        this.ackInflight.set(a.key, false)
        this.freshItems.delete(a.key)
        this.olderItems.delete(a.key)
        counted.push(a)
      }
    }

    // The late `active` index: about once a second, the messages left out and still live are indexed and
    // activeFrom rises to the next id to allocate (no id in this batch is above it: they are all allocated).
    let checkpoint: StoredMessage[] | undefined
    const now = performance.now()
    if (now - this.lastCheckpoint >= ACTIVE_CHECKPOINT_MS) {
      checkpoint = []
      for (const k of this.recent) { const m = this.live.get(idOfRecent(k)); if (m !== undefined) checkpoint.push(m) }
      this.recent = []
      this.activeFrom = this.nextId
      this.lastCheckpoint = now
    }
    const activeFrom = this.activeFrom
    const leftOut = new Array<boolean>(msgs.length)
    for (let i = 0; i < msgs.length; i++) {
      // only ids allocateIds handed out (below nextId) are found by the scan at open; any other id is indexed now
      const c = counterOf(msgs[i].id)
      leftOut[i] = c >= activeFrom && c < this.nextId
    }
    // The retention index: one `done` entry for every message this batch ends.
    const ended: (string | number)[] = []
    let endedFirst = Infinity
    for (const m of msgs) {
      if (ACTIVE_STATES.has(m.state)) continue
      const at = endedAt(m)
      ended.push(m.id, at)
      if (at < endedFirst) endedFirst = at
    }
    for (const m of mos) {
      const at = typeof m.submitAt === 'number' && m.submitAt > 0 ? m.submitAt : Date.now() // kept from its receipt
      ended.push(m.id, at)
      if (at < endedFirst) endedFirst = at
    }
    const endedKey: DoneKey | undefined = ended.length > 0 ? [endedFirst, ended[0] as string, ++this.doneSeq] : undefined
    const endedValue = endedKey ? enc(this.done as never, ended) : undefined

    // Phase 2: queue the writes as one lmdb batch (ops run on lmdb's write thread, one transaction).
    const seq = this.queueSeq
    const ledgerSeq = this.ledgerSeq
    const auditSeq = this.auditSeq
    const committed = this.root.batch(() => {
      if (checkpoint !== undefined) {
        for (const m of checkpoint) this.active.put(m.id, true)
        this.meta.put(META_ACTIVE_FROM, activeFrom)
      }
      for (let i = 0; i < msgs.length; i++) {
        const m = msgs[i]
        this.messages.put(m.id, asBinary(msgValues[i]))
        if (ACTIVE_STATES.has(m.state)) {
          if (!leftOut[i]) this.active.put(m.id, true)
        } else if (!leftOut[i]) this.active.remove(m.id) // no-op when absent
      }
      for (let i = 0; i < mos.length; i++) this.messages.put(mos[i].id, asBinary(moValues[i]))
      if (endedKey !== undefined) this.done.put(endedKey, asBinary(endedValue as Buffer))
      for (let i = 0; i < items.length; i++) {
        const item = items[i]
        this.queue.put([item.systemId, item.key as number], asBinary(itemValues[i]))
      }
      if (items.length > 0) this.meta.put(META_QUEUE_SEQ, seq)
      for (const a of acks) this.queue.remove([a.systemId, a.key])
      for (let i = 0; i < ledger.length; i++) this.ledger.put([ledger[i].systemId, ledger[i].seq as number], asBinary(ledgerValues[i]))
      for (const [systemId, v] of balanceValues) this.balanceDb.put(systemId, asBinary(v))
      if (ledger.length > 0) this.meta.put(META_LEDGER_SEQ, ledgerSeq)
      for (let i = 0; i < links.length; i++) this.upstream.put([links[i].connector, links[i].upstreamId], asBinary(linkValues[i]))
      for (const l of unlinks) this.upstream.remove([l.connector, l.upstreamId])
      for (let i = 0; i < metas.length; i++) {
        const v = metaValues[i]
        if (v === null) this.meta.remove(metas[i][0])
        else this.meta.put(metas[i][0], asBinary(v))
      }
      for (let i = 0; i < audits.length; i++) this.audit.put(audits[i].seq as number, asBinary(auditValues[i]))
      if (audits.length > 0) this.meta.put(META_AUDIT_SEQ, auditSeq)
      for (const id of removeAccounts) this.accounts.remove(id)
      for (let i = 0; i < accounts.length; i++) this.accounts.put(accounts[i].systemId, asBinary(accountValues[i]))
      for (const h of dropKeys) this.apikeys.remove(h)
      for (let i = 0; i < keys.length; i++) this.apikeys.put(keys[i].hash, asBinary(keyValues[i]))
      for (let i = 0; i < optOuts.length; i++) {
        const v = optOutValues[i]
        if (v === null) this.optouts.remove([optOuts[i].scope, optOuts[i].number])
        else this.optouts.put([optOuts[i].scope, optOuts[i].number], asBinary(v))
      }
    })
    // lmdb-js has no range delete: the removed lists' keys are read and removed by a transaction callback, which runs
    // in the same write transaction as this batch's writes (those queued in one event turn share it), after them
    // (lmdb's default ordering: callbacks after the single writes), so it sees every add committed before or with it.
    const dropped = removeAccounts.length === 0 ? undefined : this.root.transaction(() => {
      for (const id of removeAccounts) {
        const keys = [...this.optouts.getKeys(optOutRange(id))] // collected first: no removal under the open cursor
        for (const k of keys) this.optouts.remove(k)
      }
    })
    // A rewrite (an MO's outcome, an MT's discarded receipt) is written only if the retention has not purged its record:
    // checked in the write transaction (a transaction callback, as above), which a purge's transaction cannot interleave with.
    const rewritten = rewrites.length === 0 ? undefined : this.root.transaction(() => {
      for (let i = mos.length; i < moRecords.length; i++) {
        if (this.messages.doesExist(moRecords[i].id)) this.messages.put(moRecords[i].id, asBinary(moValues[i]))
      }
    })
    for (const id of removeAccounts) this.removing.set(id, (this.removing.get(id) ?? 0) + 1)
    for (const item of items) this.freshItems.set(item.key as number, item.systemId)
    for (const [systemId, b] of after) {
      this.running.set(systemId, b)
      this.ledgerInflight.set(systemId, (this.ledgerInflight.get(systemId) ?? 0) + 1)
    }
    // Read-your-writes: until this batch is committed, getMessage() answers from these objects, so a
    // read-modify-write (an outcome after another outcome, a cancel after an outcome) never starts
    // from an older committed version.
    for (const m of msgs) {
      if (this.unsettled.has(m.id)) this.unsettledMore.set(m.id, (this.unsettledMore.get(m.id) ?? 0) + 1)
      this.unsettled.set(m.id, m)
      if (ACTIVE_STATES.has(m.state)) this.live.set(m.id, m)
      else this.live.delete(m.id)
    }
    for (let i = 0; i < msgs.length; i++) if (leftOut[i] && ACTIVE_STATES.has(msgs[i].state)) this.recent.push(recentKey(msgs[i].id))
    // MO records and rewrites are read back from here until committed too, but are never `live` (nothing acts on them as an MT).
    for (const m of moRecords) {
      if (this.unsettled.has(m.id)) this.unsettledMore.set(m.id, (this.unsettledMore.get(m.id) ?? 0) + 1)
      this.unsettled.set(m.id, m)
    }
    for (const l of links) {
      const k = `${l.connector}\0${l.upstreamId}`
      const u = this.upstreamInflight.get(k)
      if (u) { u.v = [l.id, l.dest]; u.batches++ } else this.upstreamInflight.set(k, { v: [l.id, l.dest], batches: 1 })
    }
    const touched = accounts.length === 0 && removeAccounts.length === 0 ? removeAccounts : [...accounts.map((a) => a.systemId), ...removeAccounts]
    for (const id of touched) { this.accountCache.delete(id); this.pwCache.delete(id) }

    const settle = (ok: boolean): void => {
      // A checkpoint that failed indexed nothing: its messages wait for the next one (activeFrom on disk is unchanged).
      if (!ok && checkpoint !== undefined) for (const m of checkpoint) this.recent.push(recentKey(m.id))
      for (const m of moRecords) {
        const more = this.unsettledMore.get(m.id)
        if (more === undefined) this.unsettled.delete(m.id)
        else if (more === 1) this.unsettledMore.delete(m.id)
        else this.unsettledMore.set(m.id, more - 1)
      }
      for (const m of msgs) {
        const more = this.unsettledMore.get(m.id)
        if (more === undefined) this.unsettled.delete(m.id)
        else if (more === 1) this.unsettledMore.delete(m.id)
        else this.unsettledMore.set(m.id, more - 1)
        if (ok) continue
        // A write that failed never happened: forget it unless a later version replaced it. The committed
        // version, if it is still active, may have been left out of the index and out of the last checkpoint
        // (this version was final, or replaced it in `recent`): index it now.
        if (this.live.get(m.id) === m) this.live.delete(m.id)
        if (this.unsettled.has(m.id) || this.live.has(m.id) || this.closed) continue
        const was = readMessage(this.messages.get(m.id))
        if (was !== undefined && ACTIVE_STATES.has(was.state)) {
          this.live.set(was.id, was)
          if (counterOf(was.id) >= 0) this.recent.push(recentKey(was.id)) // the next checkpoint indexes it too
          this.active.put(was.id, true).catch(noop)
        }
      }
      for (const item of items) {
        const key = item.key as number
        if (key > this.settledKey) this.settledKey = key
        if (ok) { this.pending.set(item.systemId, (this.pending.get(item.systemId) ?? 0) + 1); continue }
        // never written: not an item to ack, and an ack of it already on its way counts for nothing
        if (this.freshItems.get(key) === item.systemId) this.freshItems.delete(key)
        if (this.olderItems.get(key) === item.systemId) this.olderItems.delete(key)
        if (this.ackInflight.has(key)) this.ackInflight.set(key, true)
      }
      for (const a of counted) {
        const voided = this.ackInflight.get(a.key)
        this.ackInflight.delete(a.key)
        if (!ok || voided) continue
        const left = (this.pending.get(a.systemId) ?? 0) - 1
        if (left > 0) this.pending.set(a.systemId, left)
        else this.pending.delete(a.systemId)
      }
      for (const l of links) {
        const k = `${l.connector}\0${l.upstreamId}`
        const u = this.upstreamInflight.get(k)
        if (u && --u.batches === 0) this.upstreamInflight.delete(k)
      }
      // A read between commit() and now may have cached the previous version.
      for (const id of touched) { this.accountCache.delete(id); this.pwCache.delete(id) }
      for (const systemId of after.keys()) {
        const left = (this.ledgerInflight.get(systemId) ?? 0) - 1
        if (left > 0) this.ledgerInflight.set(systemId, left)
        else this.ledgerInflight.delete(systemId)
      }
      if (!ok && ledger.length > 0) this.unwindLedger(ledger, deltas)
      for (const id of removeAccounts) {
        const left = (this.removing.get(id) ?? 0) - 1
        if (left > 0) this.removing.set(id, left)
        else this.removing.delete(id)
      }
      if (ok) {
        for (const id of removeAccounts) this.optOuts.drop(id)
        this.optOuts.apply(optOuts)
      }
    }
    const written = dropped === undefined && rewritten === undefined ? committed : Promise.all([committed, dropped, rewritten])
    const done = written.then(() => settle(true), (err: unknown) => { settle(false); throw err })
    return this.waitFlush ? done.then(() => this.root.flushed).then(noop) : done
  }

  /** Whether the queue holds [systemId, key], committed or being committed (an item being acked is not asked about). */
  private itemExists(systemId: string, key: number): boolean {
    const owner = this.freshItems.get(key) ?? this.olderItems.get(key)
    return owner !== undefined ? owner === systemId : this.queue.doesExist([systemId, key])
  }

  /**
   * Every 5 s the fresh keys become the older ones and the older ones are forgotten: they are on disk. Not while
   * an older key is still being committed (a stalled transaction): then it waits, and the maps grow meanwhile.
   */
  private rotateItems(): void {
    const now = performance.now()
    if (now - this.lastRotation < 5000 || this.olderTop > this.settledKey) return
    this.olderItems = this.freshItems
    this.olderTop = this.queueSeq
    this.freshItems = new Map()
    this.lastRotation = now
  }

  /** The account's balance in micro-units after its last committed or queued ledger entry. */
  private runningBalance(systemId: string): number {
    const m = this.running.get(systemId)
    if (m !== undefined) return m
    const v = this.balanceDb.get(systemId)
    return typeof v === 'number' ? toMicro(v) : 0
  }

  /**
   * A batch with ledger entries failed: its deltas never happened. Batches queued after it computed their
   * balances with them; if one of the account's is still in flight, a corrective write of the balance follows
   * it (LMDB commits in order), so balances[systemId] is again the sum of the committed entries.
   */
  private unwindLedger(ledger: LedgerEntry[], deltas: number[]): void {
    const touched = new Set<string>()
    for (let i = ledger.length - 1; i >= 0; i--) {
      const id = ledger[i].systemId
      this.running.set(id, this.runningBalance(id) - deltas[i])
      touched.add(id)
    }
    for (const id of touched) {
      if (this.ledgerInflight.has(id) && !this.closed) this.balanceDb.put(id, fromMicro(this.running.get(id) as number)).catch(noop)
    }
  }

  // ---- retention -----------------------------------------------------------------------------------------

  /**
   * Removes the messages that ended (reached a final state) before `before` (ms since epoch), oldest first, at
   * most `limit` of them, in one transaction; resolves with how many were removed once it is committed. Only
   * the `done` index is read, not the messages. A message being written right now, or pinned, is left for a later call.
   * Queue items (receipts not yet delivered), ledger entries and upstream links are not touched.
   */
  purgeFinal(before: number, limit: number): Promise<number> {
    this.assertOpen()
    const gone: string[] = []
    const goneSet = new Set<string>() // one message can be listed twice (two versions ended in one merged commit)
    const rewrite: { key: DoneKey; keep: (string | number)[] }[] = [] // keep [] removes the entry
    let checked = 0
    // Kept messages (pinned, being written, not yet past `before`) do not count towards `limit`, but the scan is bounded too.
    for (const { key, value } of this.done.getRange({ end: [before] })) {
      if (gone.length === limit || checked > limit * 4) break
      const k = key as DoneKey
      const v = value as DoneValue
      const pairs = v === '' ? [k[1], k[0]] : v
      const order: number[] = []
      for (let i = 0; i < pairs.length; i += 2) order.push(i)
      order.sort((a, b) => (pairs[a + 1] as number) - (pairs[b + 1] as number)) // oldest first
      const keep: (string | number)[] = []
      for (const i of order) {
        const id = pairs[i] as string
        const at = pairs[i + 1] as number
        checked++
        if (goneSet.has(id)) continue
        if (gone.length < limit && at < before && !this.unsettled.has(id) && !this.live.has(id) && !this.pinned.has(id)) {
          gone.push(id)
          goneSet.add(id)
        } else keep.push(id, at)
      }
      if (keep.length < pairs.length) rewrite.push({ key: k, keep })
    }
    if (gone.length === 0) return Promise.resolve(0)
    const values = rewrite.map((r) => (r.keep.length > 0 ? enc(this.done as never, r.keep) : null))
    return this.root.batch(() => {
      for (const id of gone) this.messages.remove(id)
      for (let i = 0; i < rewrite.length; i++) {
        const v = values[i]
        if (v === null) this.done.remove(rewrite[i].key)
        else this.done.put(rewrite[i].key, asBinary(v))
      }
    }).then(() => gone.length)
  }

  /** Keeps final messages from purgeFinal until unpinned (the parts of an aggregate receipt still open). In memory only. */
  pin(id: string): void { this.pinned.add(id) }
  unpin(id: string): void { this.pinned.delete(id) }

  /** One pass over the messages of a store written before the `done` index existed (at open, once). */
  private buildDoneIndex(): void {
    this.root.transactionSync(() => {
      for (const { key, value } of this.messages.getRange({})) {
        const m = value as StoredMessage
        if (!ACTIVE_STATES.has(m.state)) this.done.putSync([endedAt(m), key as string], '')
      }
      this.meta.putSync(META_DONE_INDEX, 1)
    })
  }

  // ---- reads (sync, from the last committed state) ---------------------------------------------------------

  getMessage(id: string): StoredMessage | undefined {
    if (!lookupable(id)) return undefined // a query's id, an API path: LMDB throws on a key it cannot hold
    return this.unsettled.get(id) ?? this.live.get(id) ?? readMessage(this.messages.get(id))
  }

  /**
   * Messages in a non-final state (0 SCHEDULED, 1 ENROUTE, 6 ACCEPTED) that are committed (a message whose first
   * version is not committed yet is not here), as their latest objects. `live` holds every one of them once the
   * `active` index has been loaded into it (at the first call after open: the index is complete then, see
   * indexLeftOut); from then on commits keep it, so a call costs the messages in flight, not a read of the index.
   */
  activeMessages(): StoredMessage[] {
    if (!this.liveLoaded) {
      for (const id of this.active.getKeys()) {
        if (this.live.has(id as string)) continue
        const m = readMessage(this.messages.get(id as string))
        if (m !== undefined && ACTIVE_STATES.has(m.state)) this.live.set(m.id, m)
      }
      this.liveLoaded = true
    }
    const out: StoredMessage[] = []
    for (const m of this.live.values()) {
      if (!ACTIVE_STATES.has(m.state)) continue // ended in place, its commit queued
      if (this.unsettled.has(m.id) && !this.messages.doesExist(m.id)) continue
      out.push(m)
    }
    return out
  }

  /**
   * Messages not in a final state, by account: what is with the carrier or an upstream, waiting for a connector, or
   * scheduled. A walk of the messages in flight (no index read once activeMessages() has loaded them, as the
   * engine does at start): telemetry calls it at most once a second, and only while a console is open.
   */
  inFlightByAccount(): Map<string, number> {
    if (!this.liveLoaded) this.activeMessages()
    const out = new Map<string, number>()
    for (const m of this.live.values()) if (ACTIVE_STATES.has(m.state)) out.set(m.systemId, (out.get(m.systemId) ?? 0) + 1)
    return out
  }

  // ---- message search: a walk of the messages by id, newest first (engine/message-search.ts) --------------------
  //
  // There is no index by number: a search walks the messages table backwards (ids grow with time) in slices the
  // caller bounds, so nothing is written per message for it. Decimal ids sort before hex ids in the table, so the
  // walk reads both ranges and merges them by counter (one counter hands out both).

  /** The handle `heads`: `messages` with a decoder that reads a record's head only (msgpackr values: decoded whole). */
  private headReader(): Database<unknown, string> {
    const whole = (this.messages as unknown as { decoder: { decode(bytes: Uint8Array, end?: unknown): unknown } }).decoder
    const decode = (bytes: Uint8Array, n: number): RecordHead => {
      const head = readRecordHead(bytes, n, this.headFilter)
      if (head !== null) return head
      // An older value, or one the layout does not cover: decoded from a copy (`bytes` may be lmdb's shared buffer).
      const m = readMessage(whole.decode(Uint8Array.prototype.slice.call(bytes, 0, n) as Uint8Array)) as Record<string, unknown> | undefined
      const addr = (a: unknown): string => (Array.isArray(a) && typeof a[2] === 'string' ? a[2] : '')
      return {
        pass: true, systemId: String(m?.systemId ?? ''), state: typeof m?.state === 'number' ? m.state : -1,
        submitAt: typeof m?.submitAt === 'number' ? m.submitAt : 0, src: addr(m?.src),
        dests: Array.isArray(m?.dests) ? (m.dests as { addr?: unknown }[]).map((d) => addr(d?.addr)) : [],
        mo: m?.mo !== undefined,
        ...(typeof m?.reference === 'string' ? { reference: m.reference } : {}),
      }
    }
    // No needsStableBuffer: lmdb hands the decoder its read buffer uncopied; decode() keeps nothing of it.
    return this.root.openDB<unknown, string>('messages', { encoder: { encode: (v: unknown) => v, decode } } as never)
  }

  /** The counter the next message id will be made from: every id handed out so far has a lower one. */
  nextIdCounter(): number {
    return this.nextId
  }

  /**
   * One slice of a newest-first walk of the committed messages: those whose id counter is below `below`, highest
   * first, at most `max` of them, each passed to `visit` (a messages of this moment's committed state; `visit`
   * returns false to stop the walk there). Ids of another shape than allocateIds' (see counterOf) are not visited.
   * Synchronous (lmdb reads are): `max` bounds how long it holds the event loop. Returns the counter to go on below
   * (the last one visited), or -1 when no message is left below it. With a `filter`, the heads of the messages it
   * refuses have `pass` false and no strings (record-codec.ts readRecordHead): they are visited all the same.
   */
  scanMessagesDown(below: number, max: number, visit: (m: ScannedMessage) => boolean, filter?: HeadFilter): number {
    this.assertOpen()
    this.headFilter = filter
    try {
      return this.scanDown(below, max, visit)
    } finally {
      this.headFilter = undefined
    }
  }

  private scanDown(below: number, max: number, visit: (m: ScannedMessage) => boolean): number {
    const decTop = Math.min(below, 10 ** ID_WIDTH) - 1
    const hexTop = Math.min(below, 16 ** ID_WIDTH - HEX_ID_BASE) - 1
    const noMore: Iterator<{ key: unknown; value: unknown }> = { next: () => ({ done: true, value: undefined }) }
    const dec = decTop >= 0 ? this.heads.getRange({ start: decTop.toString(10).padStart(ID_WIDTH, '0'), end: '0', reverse: true })[Symbol.iterator]() : noMore
    const hex = hexTop >= 0 ? this.heads.getRange({ start: (HEX_ID_BASE + hexTop).toString(16), end: 'a', reverse: true })[Symbol.iterator]() : noMore
    /** The next entry of `it` with an id of allocateIds' shape. */
    const pull = (it: Iterator<{ key: unknown; value: unknown }>): ScannedMessage | null => {
      for (;;) {
        const r = it.next()
        if (r.done) return null
        const id = r.value.key as string
        const counter = counterOf(id)
        if (counter >= 0) return { id, counter, head: r.value.value as RecordHead }
      }
    }
    let a = pull(dec)
    let b = pull(hex)
    let last = -1
    try {
      for (let n = 0; n < max && (a !== null || b !== null); n++) {
        let m: ScannedMessage
        if (b === null || (a !== null && a.counter > b.counter)) { m = a as ScannedMessage; a = pull(dec) } else { m = b; b = pull(hex) }
        last = m.counter
        if (!visit(m)) return last
      }
      return a === null && b === null ? -1 : last
    } finally {
      dec.return?.()
      hex.return?.()
    }
  }

  /**
   * Where a newest-first walk for messages submitted at `t` or before starts: the lowest counter from which on
   * every message was submitted after `t` (a binary search over the counters, a few dozen reads; ids grow with
   * submit time, so this is exact unless the clock stepped back). nextIdCounter() when the newest is not after `t`.
   */
  counterSubmittedAfter(t: number): number {
    this.assertOpen()
    /** The message with the lowest counter >= c, in either id format. */
    const first = (c: number): ScannedMessage | null => {
      let best: ScannedMessage | null = null
      const ranges: [string, string][] = []
      if (c < 10 ** ID_WIDTH) ranges.push([c.toString(10).padStart(ID_WIDTH, '0'), ':'])
      if (c < 16 ** ID_WIDTH - HEX_ID_BASE) ranges.push([(HEX_ID_BASE + c).toString(16), 'g'])
      for (const [start, end] of ranges) {
        for (const { key, value } of this.heads.getRange({ start, end })) {
          const counter = counterOf(key as string)
          if (counter < 0) continue
          if (best === null || counter < best.counter) best = { id: key as string, counter, head: value as RecordHead }
          break
        }
      }
      return best
    }
    let lo = 0
    let hi = this.nextId
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2)
      const f = first(mid)
      if (f === null || f.head.submitAt > t) hi = mid
      else lo = Math.min(f.counter + 1, hi)
    }
    return lo
  }

  /**
   * At open: the messages a checkpoint had not indexed yet (ids from `from` up to the last reserved one, in both
   * id formats: ids are ordered by their counter) go into `active` if non-final, in one transaction that also
   * moves activeFrom past every id reserved so far. A store without activeFrom (new, or schema 2) indexes everything.
   */
  private indexLeftOut(from: unknown): void {
    const next = this.nextId
    this.activeFrom = next
    this.lastCheckpoint = performance.now() // this is a checkpoint
    const found: string[] = []
    if (typeof from === 'number' && from < next) {
      // Only ids of ID_WIDTH characters are ever left out (counterOf): the ranges end at the last of them.
      const ranges: [string, string][] = []
      const decimalTop = Math.min(next, 10 ** ID_WIDTH) - 1
      if (from <= decimalTop) ranges.push([from.toString(10).padStart(ID_WIDTH, '0'), decimalTop.toString(10).padStart(ID_WIDTH, '0')])
      const hexTop = Math.min(next, 16 ** ID_WIDTH - HEX_ID_BASE) - 1
      if (from <= hexTop) ranges.push([(HEX_ID_BASE + from).toString(16), (HEX_ID_BASE + hexTop).toString(16)])
      for (const [start, end] of ranges) {
        for (const { key, value } of this.messages.getRange({ start, end, inclusiveEnd: true })) {
          const m = value as StoredMessage
          if (m && ACTIVE_STATES.has(m.state) && m.mo === undefined) found.push(key as string) // an MO is never active
        }
      }
    }
    this.root.transactionSync(() => {
      for (const id of found) this.active.putSync(id, true)
      this.meta.putSync(META_ACTIVE_FROM, next)
    })
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

  /** The committed account, every setting filled in (older records get the defaults), frozen: copy to change. */
  getAccount(systemId: string): Account | undefined {
    const cached = this.accountCache.get(systemId)
    if (cached !== undefined) return cached
    if (!lookupable(systemId)) return undefined
    const rec = this.accounts.get(systemId) as AccountRecord | undefined
    if (rec === undefined) return undefined
    const a = this.normalise(rec)
    this.accountCache.set(systemId, a)
    return a
  }

  /** Every account, in systemId order (normalised and frozen like getAccount). */
  listAccounts(): Account[] {
    const out: Account[] = []
    for (const { key, value } of this.accounts.getRange({})) {
      const id = key as string
      let a = this.accountCache.get(id)
      if (a === undefined) { a = this.normalise(value as AccountRecord); this.accountCache.set(id, a) }
      out.push(a)
    }
    return out
  }

  private normalise(rec: AccountRecord): Account {
    return freeze({ ...this.accountDefaults, ...rec } as Account)
  }

  /** Resolves once committed; reads see the new account only after that. Drops the password cache entry.
   *  (Same as commit({ accounts: [a] }); settings not given read back as the defaults.) */
  putAccount(a: AccountRecord): Promise<void> {
    return this.commit({ accounts: [a] })
  }

  /** true if the account existed. Its API keys go with it; its queued deliveries, ledger and balance stay. */
  async removeAccount(systemId: string): Promise<boolean> {
    this.assertOpen()
    this.pwCache.delete(systemId)
    if (!this.accounts.doesExist(systemId)) return false
    await this.commit({ removeAccounts: [systemId] })
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

  /** Generic meta keys starting with `prefix` (non-empty), with their values, in key order. */
  metaWithPrefix(prefix: string): [string, unknown][] {
    checkKey('meta prefix', prefix)
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)
    const out: [string, unknown][] = []
    for (const { key, value } of this.meta.getRange({ start: prefix, end })) out.push([key as string, value])
    return out
  }

  /** Generic meta keys from `start` (inclusive) to `end` (exclusive), keys only (no value is read), in key order. */
  metaKeys(start: string, end: string): string[] {
    checkKey('meta key', start)
    checkKey('meta key', end)
    return [...this.meta.getKeys({ start, end })] as string[]
  }

  /** Keys starting with 'store:' are reserved for the store's own counters. A value of null removes the key. */
  putMeta(key: string, value: unknown): Promise<void> {
    this.assertOpen()
    checkKey('meta key', key)
    if (key.startsWith(META_PREFIX)) throw new TypeError(`meta keys starting with '${META_PREFIX}' are reserved`)
    return (value === null ? this.meta.remove(key) : this.meta.put(key, value)).then(noop)
  }

  // ---- ledger and balances -------------------------------------------------------------------------------

  /** Committed balances: systemId -> balance after its last ledger entry (the Ledger loads these at start). */
  balances(): Map<string, number> {
    const out = new Map<string, number>()
    for (const { key, value } of this.balanceDb.getRange({})) out.set(key as string, value as number)
    return out
  }

  /** Committed ledger entries of `systemId`, newest first, at most `limit`, only seq < before when given. */
  ledgerEntries(systemId: string, q: { limit: number; before?: number }): LedgerEntry[] {
    const out: LedgerEntry[] = []
    const top = q.before === undefined ? Number.MAX_SAFE_INTEGER : Math.ceil(q.before) - 1
    if (top < 1 || q.limit <= 0) return out
    for (const { value } of this.ledger.getRange({ start: [systemId, top], end: [systemId, 0], reverse: true, limit: q.limit })) {
      out.push(value as LedgerEntry)
    }
    return out
  }

  /** True if `systemId` has ledger entries or a balance (committed or queued) or queued deliveries: the history
   *  a removed account leaves behind. */
  hasHistory(systemId: string): boolean {
    return this.running.has(systemId) || this.pendingCount(systemId) > 0 || this.balanceDb.doesExist(systemId) ||
      this.ledgerEntries(systemId, { limit: 1 }).length > 0
  }

  /**
   * One opt-out list's entries (scope '' = the global list), in number order: at most `limit`, only numbers after
   * `after` (the last one of the previous page) and starting with `prefix` when given.
   */
  optOutEntries(scope: string, q: { limit: number; after?: string; prefix?: string }): OptOutEntry[] {
    const out: OptOutEntry[] = []
    if (this.optOuts.count(scope) === 0) return out
    const prefix = q.prefix ?? ''
    const from = q.after !== undefined && q.after > prefix ? q.after : prefix
    for (const { key, value } of this.optouts.getRange(optOutRange(scope, from))) {
      const number = (key as OptOutKey)[1]
      if (number === q.after) continue
      if (!number.startsWith(prefix)) break
      const v = value as { at: number; by: string }
      out.push({ number, at: v.at, by: v.by })
      if (out.length === q.limit) break
    }
    return out
  }

  /** Sum of every committed delta of `systemId`, exact to the micro-unit (equals its balance: the ledger invariant). */
  ledgerSum(systemId: string): number {
    let micro = 0
    for (const { value } of this.ledger.getRange({ start: [systemId, 0], end: [systemId, Number.MAX_SAFE_INTEGER] })) {
      micro += Math.round((value as LedgerEntry).delta * MICRO)
    }
    return micro / MICRO
  }

  // ---- audit -------------------------------------------------------------------------------------------

  /** Committed audit entries, newest first, at most `limit`, only seq < before when given. */
  auditEntries(q: { limit: number; before?: number }): AuditEntry[] {
    const out: AuditEntry[] = []
    const top = q.before === undefined ? Number.MAX_SAFE_INTEGER : Math.ceil(q.before) - 1
    if (top < 1 || q.limit <= 0) return out
    for (const { value } of this.audit.getRange({ start: top, end: 0, reverse: true, limit: q.limit })) out.push(value as AuditEntry)
    return out
  }

  // ---- upstream links ----------------------------------------------------------------------------------

  /** [messageId, destIndex] an upstream SMSC's message id stands for; links of batches not yet committed too. */
  upstreamLookup(connector: string, upstreamId: string): [string, number] | undefined {
    const u = this.upstreamInflight.get(`${connector}\0${upstreamId}`)
    if (u !== undefined) return u.v
    // An id no link is stored under (the dispatcher stores none longer than 255 octets or with a NUL), such as a
    // provider's callback may carry: not looked up, for LMDB throws on a key it cannot hold (in the dispatcher, whose
    // restart budget that would spend).
    if (connector.length === 0 || !lookupable(upstreamId)) return undefined
    return this.upstream.get([connector, upstreamId]) as [string, number] | undefined
  }

  /**
   * Upstream links whose message is gone (the retention purged it) are removed. `limit` entries are read per call,
   * after `after` (null: from the first); `next` is where the next call goes on, null once the last was read. A link
   * leaves with its message's final outcome; one outlives it only when its connector's upstream changed in between
   * (a reload with another host, port or systemId: the outcome unlinks under the new namespace). A link of a batch
   * not yet committed is left (its key may be given to a newer message: the upstream reused an id).
   */
  sweepLinks(after: UpstreamKey | null, limit: number): Promise<{ removed: number; next: UpstreamKey | null }> {
    this.assertOpen()
    const dead: UpstreamKey[] = []
    let last: UpstreamKey | null = null
    let read = 0
    for (const { key, value } of this.upstream.getRange(after === null ? { limit } : { start: after, exclusiveStart: true, limit })) {
      const k = key as UpstreamKey
      last = k
      read++
      const id = (value as [string, number])[0]
      if (this.upstreamInflight.has(`${k[0]}\0${k[1]}`) || this.live.has(id) || this.messages.doesExist(id)) continue
      dead.push(k)
    }
    const next = read === limit ? last : null // fewer read: that was the last
    if (dead.length === 0) return Promise.resolve({ removed: 0, next })
    return this.root.batch(() => { for (const k of dead) this.upstream.remove(k) }).then(() => ({ removed: dead.length, next }))
  }

  // ---- API keys ----------------------------------------------------------------------------------------

  /** The key record stored under `hash` (sha256 hex of the key). */
  apiKey(hash: string): ApiKeyRecord | undefined {
    if (hash.length === 0) return undefined
    return this.apikeys.get(hash) as ApiKeyRecord | undefined
  }

  /** Every key record of `systemId` (a scan: keys are few), with its hash. */
  apiKeysOf(systemId: string): (ApiKeyRecord & { hash: string })[] {
    const out: (ApiKeyRecord & { hash: string })[] = []
    for (const { key, value } of this.apikeys.getRange({})) {
      const r = value as ApiKeyRecord
      if (r.systemId === systemId) out.push({ ...r, hash: key as string })
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
  }

  putApiKey(hash: string, key: ApiKeyRecord): Promise<void> {
    return this.commit({ apiKeys: [{ hash, key }] })
  }

  removeApiKey(hash: string): Promise<void> {
    return this.commit({ removeApiKeys: [hash] })
  }

  /** Waits for queued commits to commit and flush, then closes the environment. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.allSettled([...this.copying])
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
