/**
 * The wire types of the telemetry stream and the admin API, exactly as docs/TELEMETRY.md and docs/API.md
 * define them: the one contract between the engine and the browser. The engine builds its frames and
 * views as these types; the console (console/src/types.ts re-exports this file) trusts them. Types only,
 * no imports: the console's type-check has no Node types.
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
  /** destinations waiting for a connector (overload.highWater applies to it); engine-wide */
  backlog?: number
  /**
   * each connector, as GET /api/v1/connectors has it; engine-wide. `stopped`: by the operator (no link, routes skip it); `paused`: until when its
   * upstream throttles it; `stalled` (smpp): its link was dropped because the upstream answered no submit_sm, since when and after how many in a row
   */
  connectors?: { id: string; kind: 'simulator' | 'smpp' | 'http'; up: boolean; stopped?: true; paused?: string; stalled?: { since: string; timeouts: number }; inFlight: number; queued: number; sent: number; failed: number }[]
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
  /** What /healthz names while it says "degraded" (an upstream connector down, the overload or disk guard refusing submits); [] when healthy. */
  problems: string[]
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

export type EventType = 'bind' | 'unbind' | 'auth_failure' | 'bind_refused' | 'throttle' | 'session_crash' | 'connector_up' | 'connector_down' | 'connector' | 'outbind' | 'account'

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

/** discarded: the receipt was never acknowledged by the account within receipts.maxAgeMs (MessageInfo.receiptDiscarded) */
export type TimelineEventName = 'received' | 'stored' | 'carrier' | 'receipt' | 'delivered' | 'discarded'

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
  /** each destination: its outcome, and how it was carried (docs/API.md "Message lookup") */
  dests?: MessageDest[]
  /** 'mo': from a subscriber to the account (an engine older than this console sends none: 'mt') */
  direction?: 'mt' | 'mo'
  /** an MO's: where it came from, its route, its delivery to the account */
  mo?: MessageMo
  /** credit charged for the message (prepaid accounts) */
  price?: number
  /** [seq, total]: one part of a concatenated message */
  part?: [number, number]
  /** deliver not before (ms), when scheduled */
  scheduleAt?: number
  /** given up at (ms) */
  expireAt?: number
  /** registered_delivery as submitted: 0 asked for no receipt (SMPP 3.4 §5.2.17) */
  registeredDelivery?: number
  /** when a receipt of it was discarded, never acknowledged by the account within receipts.maxAgeMs (no receiver bound,
   *  or none answered): the account never got it */
  receiptDiscarded?: number
  /** the send API's `reference`: the caller's own id for the message */
  reference?: string
}

/** One destination of a message (GET /api/v1/messages/{id} `dests`). */
export interface MessageDest {
  to: string
  /** message_state of this destination (SMPP 3.4 §5.2.28) */
  state: number
  stat: string
  err: number
  doneAt: number
  /** the connector that carries it, once dispatched */
  connector?: string
  /** the upstream SMSC's message id, once an upstream connector accepted it */
  upstreamId?: string
  /** credit charged for this destination (prepaid accounts) */
  price?: number
  /** its price was given back (settlement 'refund': it ended without being delivered) */
  refunded?: true
  /** the connectors its route gave, in the order they are tried */
  via?: string[]
}

/** One message found by GET /api/v1/messages (a search): the lookup without its timeline and carrier details. */
export interface MessageSummary {
  id: string
  systemId: string
  from: string
  to: string[]
  state: number
  stat: string
  err: number
  submitAt: number
  doneAt: number
  text: string
  part?: [number, number]
  /** the send API's `reference`: the caller's own id for the message */
  reference?: string
  /** 'mt': a message the account sent; 'mo': one from a subscriber to the account (from: the subscriber, to: the number texted) */
  direction: 'mt' | 'mo'
}

/** What an MO's lookup adds (GET /api/v1/messages/{id} of a message with direction "mo"). */
export interface MessageMo {
  /** the connector it came from: an upstream's id, or 'simulator' (POST /api/v1/simulator/mo) */
  connector: string
  /** the MO route that took it, and that route's keyword; absent when the simulator's request named the account, or
   *  for a later part of a concatenated MO (it follows its first part's route) */
  route?: string
  keyword?: string
  /** its delivery to the account: waiting (not yet acknowledged, no failed attempt), retrying (an attempt failed: no
   *  answer, a temporary refusal, a failed webhook), delivered (deliver_sm_resp 0 or the webhook's 2xx, at doneAt),
   *  refused (the ESME refused it for good: err is its status), expired (not acknowledged within receipts.maxAgeMs) */
  delivery: 'waiting' | 'retrying' | 'delivered' | 'refused' | 'expired'
  /** where it was delivered: to a bind (receiver or transceiver) or to the account's MO webhook */
  via?: 'bind' | 'webhook'
  /** queue items it went out as (the simulator's MO split into parts; an upstream's part is an MO of its own), and how many the account acknowledged */
  parts: number
  acked: number
  /** failed attempts, each tried again with back-off */
  retries: number
  /** while not delivered, from the running engine: the account's receivers and transceivers bound now, and whether it
   *  takes MO by webhook (receivers 0 and no webhook: it waits for one to bind) */
  receivers?: number
  webhook?: boolean
  /** its MO route's auto-reply (docs/ROUTING.md "Auto-replies"): the id of the message that went back (look it up), or
   *  why none went (`replyNot`: the refusal's code such as SMSC_ERR_QUOTA_EXCEEDED, `held`: one a minute, or
   *  `not a phone number`); both absent when its route has no reply, or while the reply is being admitted */
  reply?: string
  replyNot?: string
}

/** GET /api/v1/messages: a page of a search, newest first (docs/API.md "Message search"). */
export interface MessageSearchResult {
  messages: MessageSummary[]
  /** stored messages read to answer (whatever their account or number): the platform's volume, so given to the operator
   *  (and staff) only; absent for a reseller, a user or an API key */
  scanned?: number
  /** the scan stopped at its cap before reaching `since`: older matches may follow (`next` goes on) */
  truncated: boolean
  /** give as `before` for the next page; null when the window has been searched to its start */
  next: string | null
  /** the window searched (ms since the epoch, both inclusive) */
  since: number
  until: number
  /** how long the search took */
  ms: number
  /** submits refused in the window that match the search's numbers and account, newest first (at most `limit`):
   *  on the first page (no `before`) of a search for MT (no `state`, no `direction=mo`) through the running engine,
   *  which keeps the last `stats.refusalsKept` of each account in memory; absent otherwise */
  refused?: RefusalView[]
}

/** A submit the engine refused (engine/refusals.ts): it has no message id and no record. */
export interface RefusalView {
  t: number
  systemId: string
  /** the SMPP bind (its session id in the logs and the console), the HTTP send API, or an MO route's auto-reply (the
   *  engine's own answer to an MO, docs/ROUTING.md "Auto-replies": `route`, `keyword` and the MO's id `mo` say which) */
  via: 'smpp' | 'http' | 'auto-reply'
  session?: number
  /** submit_sm, data_sm, submit_multi, send (HTTP) or reply (an auto-reply) */
  command: string
  /** the submit_sm_resp's command_status (or the HTTP refusal's) and its name */
  status: number
  statusName: string
  /** the addresses the request carried; null when it could not be decoded */
  from: string | null
  to: string[] | null
  /** via auto-reply: the MO route, its keyword (when it matches on keywords) and the id of the MO it answered */
  route?: string
  keyword?: string
  mo?: string
  /** a send API message's own `reference` */
  reference?: string
}

// ---- accounts, credit and logins (docs/API.md "Access", "Accounts", "Credit")

/**
 * Who is logged in (GET /api/v1/me): the operator (systemId null; name "admin" for the built-in login, else the
 * staff user's name with its `staff` role) or an account.
 */
export type Principal =
  | { role: 'operator'; systemId: null; name: string; staff?: 'admin' | 'viewer' }
  | { role: 'reseller' | 'user'; systemId: string; name: string }

/** A staff login as the API shows it (GET /api/v1/admin/users): never its password hash. */
export interface StaffView {
  name: string
  /** admin: what the built-in operator may do; viewer: read-only (every GET, the telemetry stream) */
  role: 'admin' | 'viewer'
  createdAt: number
  updatedAt: number
}

/** One number on an opt-out list (GET /api/v1/optouts, /api/v1/accounts/{id}/optouts; engine/optouts.ts). */
export interface OptOutEntry {
  /** digits, without a leading '+' */
  number: string
  /** when it was added (ms since the epoch) */
  at: number
  /** who added it: a login ('admin', an account's systemId, 'staff:<name>' for the operator's eyes) or an MO route ('mo:STOP') */
  by: string
}

/** A page of an opt-out list, in number order; `next` is the `after` of the next page (null: the last). */
/** A page of an opt-out list: `total` counts the whole list (a prefix filter does not change it); `next`, the `after` of
 *  the next page, is null on the last page. */
export interface OptOutPage { optouts: OptOutEntry[]; total: number; next: string | null }

/** GET /api/v1/optouts/find: the lists that hold one number, among those the caller may see (docs/ROUTING.md "Opt-outs"). */
export interface OptOutFind {
  /** the number as the lists hold it: digits, without a leading '+' */
  number: string
  /** `list`: 'global' (the operator's) or an account's systemId; for a user, also its reseller's list, which binds it */
  lists: (OptOutEntry & { list: string })[]
}

export type AccountRole = 'reseller' | 'user'

/** The settings of an account as the API shows them; the keys PATCH takes (engine/accounts.ts validates them). */
export interface AccountSettings {
  role: AccountRole
  /** Owning reseller's systemId; null = owned by the operator. */
  parent: string | null
  /** Routing group (MT routes can match it). */
  group: string | null
  suspended: boolean
  maxBinds: number
  windowSize: number
  /** CIDR blocks (IPv4 and IPv6; a bare address = /32 or /128); [] = any. */
  allowedIps: string[]
  /** SHA-256 fingerprints ("AB:CD:…", upper case) of the TLS client certificates its binds must show; [] = none asked. */
  clientCerts: string[]
  /** Sender ids; an entry ending in '*' is a prefix; [] = any. */
  allowedSources: string[]
  /** Token bucket; null = unlimited. */
  rateLimit: { perSecond: number; burst: number } | null
  /** Message parts per UTC day; null = unlimited. */
  dailyQuota: number | null
  /** Default registered_delivery for HTTP/console submits (0 or 1). */
  registeredDelivery: number
  validity: { defaultMs: number; maxMs: number }
  messageIdFormat: 'decimal' | 'hex'
  /** Receipts for long messages: one per part ('every'), only the last part's ('last'), or one for the whole message. */
  receiptPolicy: 'every' | 'last' | 'aggregate'
  /** 'submit': charge on submit and keep; 'refund': outcomes not delivered are refunded (docs/ACCOUNTS.md). */
  settlement: 'submit' | 'refund'
  /** false = no credit control (unlimited). */
  prepaid: boolean
  /** http(s) URLs receipts / MO are POSTed to; null = none. */
  webhooks: { receipts: string | null; mo: string | null }
  /** Where the SMSC connects to ask this ESME to bind (SMPP outbind); null = never. Operator only. */
  outbind: OutbindView | null
}

/** An outbind setting as accounts are shown: the password the SMSC sends is never echoed, only whether there is one. */
export interface OutbindView { host: string; port: number; tls: boolean; passwordSet: boolean }

/** GET /api/v1/accounts[/{id}] */
export interface AccountView extends AccountSettings {
  systemId: string
  /** null when the account is not prepaid */
  balance: number | null
  createdAt: number
  updatedAt: number
  /** resellers: how many users they own */
  children?: number
  /**
   * live usage, when an engine runs: binds open now, message parts counted against today's quota (null without a quota),
   * receipts and MO stored for the account and not yet acknowledged by it (waiting for a receiver, or sent and unanswered),
   * and the binds that take them now (receivers and transceivers: a transmitter gets no deliver_sm)
   */
  usage?: { binds: number; quotaUsedToday: number | null; pendingDeliveries: number; receivers: number }
  /** for an account listed in the config file: the settings it gives there, which apply again at every start */
  configKeys?: string[]
  /**
   * a reseller's user: its settings that are more than its reseller's own (docs/ACCOUNTS.md "A reseller's limits
   * bound its users"): given by the operator, or from before the reseller's were lowered; absent when none
   */
  exceedsReseller?: ('allowedSources' | 'rateLimit' | 'dailyQuota' | 'maxBinds' | 'windowSize')[]
  /**
   * only in the answer of the PATCH that first gave the account webhooks: the secret its webhook POSTs are
   * signed with (docs/API.md "Webhook signatures"), shown this once; POST /api/v1/accounts/{id}/webhook-secret makes a new one
   */
  webhookSecret?: string
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

/** GET/POST /api/v1/backup (docs/API.md): a backup of the store being made, or made (Admin.backup). */
export interface BackupState {
  state: 'running' | 'done' | 'failed'
  /** where the copy is (a data dir: <path>/store/data.mdb) */
  path: string
  startedAt: number
  /** size of the copy's data.mdb, once done */
  bytes?: number
  /** how long the copy took (done or failed) */
  ms?: number
  /** why it failed */
  error?: string
  /** older backups under <dataDir>/backups removed after this one (store.backupsKept) */
  removed?: string[]
}

/**
 * One account's traffic of one UTC day (docs/ACCOUNTS.md "Traffic reports"): what the smsc_submit_total,
 * smsc_receipts_total and smsc_deliver_total counters (docs/TELEMETRY.md) counted for it that day.
 */
export interface TrafficCounts {
  /** submits answered ESME_ROK: one per submit_sm, data_sm or submit_multi PDU (a long message's parts count one each); one per part through the send API */
  accepted: number
  /** submits refused, all statuses together (the sum of refusedBy) */
  refused: number
  /** refused by command_status name: ESME_RTHROTTLED, SMSC_RQUOTA, SMSC_RNOCREDIT, SMSC_ROPTEDOUT, ESME_RINVDSTADR, … */
  refusedBy: Record<string, number>
  /** receipts made, by stat: DELIVRD, UNDELIV, EXPIRED, REJECTD, … */
  receipts: Record<string, number>
  /** deliver_sm (and webhook POSTs) to the account: answered ok, or failed (every failed attempt counts; a retry that
   *  succeeds counts ok too); discarded: never acknowledged within receipts.maxAgeMs, so never delivered (absent from a
   *  day stored by an older engine: read as 0) */
  toEsme: { receiptsOk: number; receiptsFailed: number; receiptsDiscarded: number; moOk: number; moFailed: number; moDiscarded: number }
}

/** GET /api/v1/accounts/{id}/stats: a row per day; `tree` (a reseller, ?tree=true) is the reseller and its users together. */
export interface TrafficDay extends TrafficCounts {
  day: string
  tree?: TrafficCounts
}

/** GET /api/v1/stats?day=: every account seen (in scope) with traffic that day. */
export interface TrafficDayRows {
  day: string
  accounts: (TrafficCounts & { systemId: string })[]
}
