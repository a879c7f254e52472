/**
 * The wire types of the telemetry stream and the admin API, exactly as docs/TELEMETRY.md defines them.
 * The console trusts this shape; it is the only contract between the engine and the browser.
 */

export type BindKind = 'transmitter' | 'receiver' | 'transceiver' | null
export type BindStateName = 'OPEN' | 'OUTBOUND' | 'BOUND_TX' | 'BOUND_RX' | 'BOUND_TRX' | 'UNBOUND' | 'CLOSED'

export interface Bind {
  id: number
  systemId: string
  kind: BindKind
  state: BindStateName
  remote: string
  tls: boolean
  connectedAt: number
  window: { inFlight: number; outstanding: number; size: number }
  inPerSec: number
  outPerSec: number
  submitted: number
  delivered: number
  rejected: number
  errors: number
}

export interface Account {
  systemId: string
  binds: number
  submitPerSec: number
  deliverPerSec: number
  submitted: number
  rejected: number
  throttled: number
  receipts: Record<string, number>
  pending: number
  /** messages not final yet: with the carrier or an upstream, waiting for a connector, or scheduled (refreshed once a second) */
  inFlight: number
}

export interface Queues {
  pending: Record<string, number>
  pendingTotal: number
  /** engine-wide: absent from a scoped stream (a reseller or user) */
  carrierInFlight?: number
}

export interface Engine {
  uptimeS: number
  cpu: number
  rssBytes: number
  heapUsedBytes: number
  eventLoopDelayMs: { p50: number; p99: number; max: number }
  storeCommitMs: { p50: number; p99: number; count: number }
  workers: { threads: number; utilization: number; queued: number } | null
  sessions: number
  bound: number
  submitPerSec: number
  deliverPerSec: number
  receiptPerSec: number
}

export interface Percentiles {
  count: number
  p50: number
  p99: number
  p999: number
  max: number
}

export interface Latency {
  submitResp: Percentiles
  submitReceipt: Percentiles
}

export type EventType = 'bind' | 'unbind' | 'auth_failure' | 'bind_refused' | 'throttle' | 'session_crash' | 'connector_up' | 'connector_down' | 'outbind' | 'account'

export interface TelemetryEvent {
  seq: number
  t: number
  type: EventType
  systemId?: string
  session?: number
  detail?: string
}

/**
 * Chart history on snapshots (not deltas): parallel arrays, oldest first, up to the last 5 minutes
 * at the telemetry interval; t in ms since epoch, latencies in ms.
 */
export interface History {
  t: number[]
  submitPerSec: number[]
  deliverPerSec: number[]
  receiptPerSec: number[]
  submitP50: (number | null)[]
  submitP99: (number | null)[]
  receiptP50: (number | null)[]
  receiptP99: (number | null)[]
}

export interface SnapshotFrame {
  type: 'snapshot'
  t: number
  interval: number
  history?: History
  binds?: Bind[]
  accounts?: Account[]
  queues?: Queues
  engine?: Engine
  latency?: Latency
  events?: TelemetryEvent[]
}

export interface DeltaFrame {
  type: 'delta'
  t: number
  interval: number
  binds?: { upsert: Bind[]; remove: number[] }
  accounts?: Account[]
  queues?: Queues
  engine?: Engine
  latency?: Latency
  events?: TelemetryEvent[]
}

export type Frame = SnapshotFrame | DeltaFrame

/** POST /api/v1/messages */
export interface SendRequest {
  systemId?: string
  from: string
  to: string
  text: string
  registeredDelivery?: boolean
}
export interface SendResult {
  ids: string[]
  parts: number
  coding: string
}

export type TimelineEventName = 'received' | 'stored' | 'carrier' | 'receipt' | 'delivered'

/** GET /api/v1/messages/{id} */
export interface MessageInfo {
  id: string
  systemId: string
  from: string
  /** one address; the engine may send the list of a submit_multi */
  to: string | string[]
  /** message_state: a name, or its SMPP number (SMPP 3.4 §5.2.28) */
  state: string | number
  stat: string | null
  err: string | number | null
  submitAt: number | null
  doneAt: number | null
  text: string
  timeline: { t: number; event: TimelineEventName | string; stat?: string }[]
}

// ---- accounts, credit and logins (docs/API.md "Access", "Accounts", "Credit")

/** Who is logged in (GET /api/v1/me): the operator (systemId null, name "admin") or an account. */
export type Principal =
  | { role: 'operator'; systemId: null; name: string }
  | { role: 'reseller' | 'user'; systemId: string; name: string }

export type AccountRole = 'reseller' | 'user'

/** The settings of an account (engine/accounts.ts AccountSettings); the keys PATCH takes. */
export interface AccountSettings {
  role: AccountRole
  /** owning reseller; null = owned by the operator */
  parent: string | null
  group: string | null
  suspended: boolean
  maxBinds: number
  windowSize: number
  allowedIps: string[]
  allowedSources: string[]
  rateLimit: { perSecond: number; burst: number } | null
  dailyQuota: number | null
  registeredDelivery: number
  validity: { defaultMs: number; maxMs: number }
  messageIdFormat: 'decimal' | 'hex'
  receiptPolicy: 'every' | 'last' | 'aggregate'
  settlement: 'submit' | 'refund'
  prepaid: boolean
  webhooks: { receipts: string | null; mo: string | null }
  /** SMPP outbind target (operator only); null = off */
  outbind: { host: string; port: number; tls: boolean; passwordSet: boolean } | null
}

/** GET /api/v1/accounts[/{id}] */
export interface AccountView extends AccountSettings {
  systemId: string
  /** null when the account is not prepaid */
  balance: number | null
  createdAt: number
  updatedAt: number
  /** resellers: how many users they own */
  children?: number
  /** live usage (engine running): binds open now, parts counted against today's quota */
  usage?: { binds: number; quotaUsedToday: number | null }
  /** Settings the config file gives for this account: applied again at every engine start. */
  configKeys?: string[]
}

/** POST /api/v1/accounts: settings plus systemId, password (generated when absent), credit (opening balance) */
export type AccountCreate = Partial<AccountSettings> & { systemId: string; password?: string; credit?: number }

export type LedgerReason = 'opening' | 'grant' | 'transfer-in' | 'transfer-out' | 'submit' | 'refund' | 'adjust'

/** GET /api/v1/accounts/{id}/ledger, newest first */
export interface LedgerEntry {
  seq?: number
  systemId: string
  t: number
  delta: number
  balance: number
  reason: LedgerReason | string
  by: string
  ref?: string
  count?: number
}

export interface CreditRequest {
  amount: number
  from?: string
  reason?: string
}

/** GET/POST /api/v1/backup (docs/API.md): the backup being made, or the last one since the engine started. */
export interface BackupState {
  state: 'running' | 'done' | 'failed'
  /** a data dir: <path>/store/data.mdb */
  path: string
  startedAt: number
  bytes?: number
  ms?: number
  error?: string
}
