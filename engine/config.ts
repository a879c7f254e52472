/**
 * Configuration, in one place: the DEFAULTS (every value with its unit), the Options a caller or a
 * JSON file may give (any subset), and resolveOptions(), which validates and fills in defaults.
 * It exists so that no other module guesses a default, parses a number or reads process.env:
 * loadConfig() is the only reader of the environment (SMSC_CONFIG) and of the config file, and
 * parseCliArgs() the only command-line parser.
 *
 * Every problem is an SmscError SMSC_ERR_CONFIG_INVALID (SMSC_ERR_CLI_USAGE for flags) whose
 * message is ONE line naming the key path and the problem, e.g.
 *   config.smpp.port must be an integer between 0 and 65535 (got "abc")
 * Unknown keys are errors at every level. Objects merge key by key over the defaults; arrays and
 * simulator.outcomes (a probability distribution) replace the default as a whole.
 * docs/CONFIG.md documents every key; test/config.test.ts asserts every message class.
 */
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'
import { SmscError } from './errors'
import type { ReceiptStat } from './protocol/dlr'
import { checkAccountInput, isCidr, type AccountInput } from './accounts'
import { validateRouteTables, type RouteTables } from './routing'
import { CALLBACK_STATS, DEFAULT_CALLBACK_FIELDS, DEFAULT_CALLBACK_STATUSES, isFieldPath, type CallbackFields, type CallbackStat } from './provider-receipts'

/** The engine's version (package.json): `smsc --version`, the banner, smsc_build_info. */
export const VERSION = (require('../../package.json') as { version: string }).version

// ---------------------------------------------------------------------------------------------
// Value sets

/**
 * Final receipt `stat:` values the simulator can produce (SMPP 3.4 Appendix B; ENROUTE is
 * intermediate, SKIPPED is SMPP 5.0 only).
 */
export const OUTCOME_STATS = [
  'DELIVRD', 'EXPIRED', 'DELETED', 'UNDELIV', 'ACCEPTD', 'UNKNOWN', 'REJECTD',
] as const satisfies readonly ReceiptStat[]
export type OutcomeStat = (typeof OUTCOME_STATS)[number]

/** tls.minVersion: TLS 1.0 and 1.1 are deprecated (RFC 8996), so 1.2 is the oldest offered. */
export const TLS_MIN_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const
export type TlsMinVersion = (typeof TLS_MIN_VERSIONS)[number]
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export const MESSAGE_ID_FORMATS = ['decimal', 'hex'] as const
export type MessageIdFormat = (typeof MESSAGE_ID_FORMATS)[number]

/**
 * How an upstream's submit_sm_resp message_id and the id in its receipts compare (connectors[].receiptIds,
 * engine/upstream-ids.ts; Kannel's msg-id-type): 'exact' as strings, or both as numbers, each side read
 * in its base: 'decimal' (both decimal, msg-id-type 0), 'hex-submit' (submit_sm_resp hex, receipt decimal:
 * 1), 'hex-receipt' (submit_sm_resp decimal, receipt hex: 2), 'hex' (both hex: 3).
 */
export const RECEIPT_ID_MODES = ['exact', 'decimal', 'hex', 'hex-submit', 'hex-receipt'] as const
export type ReceiptIdMode = (typeof RECEIPT_ID_MODES)[number]

/** 'every': each part of a long message gets its own receipt; 'last': only the last part does. */
export const MULTIPART_RECEIPTS = ['every', 'last'] as const
export type MultipartReceipts = (typeof MULTIPART_RECEIPTS)[number]

/** Longest delay Node timers take (2^31 - 1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2_147_483_647
const MAX_PORT = 65_535

// ---------------------------------------------------------------------------------------------
// Types

/**
 * An account in the config file: systemId and password, and any account setting (engine/accounts.ts,
 * docs/CONFIG.md): role, parent, rateLimit, dailyQuota, credit (opening balance), allowedIps, ...
 * Settings given here are applied at every start; `credit` only when the account is created.
 */
export interface AccountOptions extends AccountInput {
  /** SMPP system_id: C-Octet String of 16 including the NUL, so 1..15 printable ASCII characters. */
  systemId: string
  /** SMPP 3.4 password: C-Octet String of 9 including the NUL, so 1..8 printable ASCII characters. */
  password: string
}

/** An upstream SMSC the engine binds to as an ESME (actors/connectors/smpp-client.ts). */
export interface SmppConnectorOptions {
  id: string
  kind: 'smpp'
  host: string
  port: number
  tls: boolean
  rejectUnauthorized: boolean
  /** PEM file of the CAs that sign the upstream's certificate (a private CA), instead of Node's public ones. */
  ca: string | null
  systemId: string
  password: string
  systemType: string
  bindType: 'transceiver' | 'transmitter' | 'receiver'
  windowSize: number
  ratePerSecond: number
  enquireLinkMs: number
  responseMs: number
  reconnectMs: [number, number]
  /** [first, max] pause of submits after ESME_RTHROTTLED / ESME_RMSGQFUL: doubles while refused, first again once accepted. */
  throttlePauseMs: [number, number]
  /** submit_sm unanswered after responseMs in a row (none answered since they went) that make the link stalled: it is dropped and bound again. */
  stallAfterTimeouts: number
  interfaceVersion: 0x34 | 0x50
  /** How its submit_sm_resp ids and its receipts' ids compare (RECEIPT_ID_MODES). */
  receiptIds: ReceiptIdMode
}

/** A provider reached by HTTP POST (actors/connectors/http.ts). */
export interface HttpConnectorOptions {
  id: string
  kind: 'http'
  url: string
  headers: Record<string, string>
  timeoutMs: number
  concurrency: number
  ratePerSecond: number
  /** [first, max] pause of requests after a 429 (Retry-After, within it, wins): doubles while refused, first again at a 2xx. */
  throttlePauseMs: [number, number]
  /** [first, max] wait between the probes of a down connector with no traffic (a HEAD): doubles while they fail. */
  probeMs: [number, number]
  /** Where those probes go (a HEAD); null: the url. */
  probeUrl: string | null
  /** 'none': a 2xx is DELIVRD at once; 'callback': a 2xx with an id waits for the provider's receipt callback (engine/provider-receipts.ts). */
  receipts: 'none' | 'callback'
  /** Where the provider's message id is in its 2xx JSON answer: a dotted path ('id', 'messages.0.id'). */
  answerId: string
  /** The secret a receipt callback carries (Authorization: Bearer, or ?token=); null with receipts 'none'. */
  callbackToken: string | null
  /** Where each value is in a callback's receipt (merged over DEFAULT_CALLBACK_FIELDS). */
  callbackFields: CallbackFields
  /** The provider's status words in lower case → stat (DEFAULT_CALLBACK_STATUSES with the connector's own over them). */
  callbackStatuses: Record<string, CallbackStat>
}

export type ConnectorOptions = SmppConnectorOptions | HttpConnectorOptions
/** The built-in simulated carrier's connector id (always present). */
export const SIMULATOR_CONNECTOR = 'simulator'

/** The connector ids a route may name: the simulator's (unless simulator.enabled is false) and the configured ones. */
export function connectorIdsOf(simulatorEnabled: boolean, connectors: readonly { id: string }[]): Set<string> {
  return new Set([...(simulatorEnabled ? [SIMULATOR_CONNECTOR] : []), ...connectors.map((c) => c.id)])
}

export interface ResolvedOptions {
  smpp: { host: string; port: number; maxUnboundConnections: number; maxUnboundPerIp: number; maxQueuedOutputBytes: number }
  tls: { host: string; port: number; cert: string | null; key: string | null; ca: string | null; requestCert: boolean; minVersion: TlsMinVersion; ciphers: string | null }
  devTls: boolean
  http: { host: string; port: number; trustProxy: string[]; allowedOrigins: string[]; tlsHost: string; tlsPort: number | null }
  dataDir: string
  accounts: AccountOptions[]
  simulator: {
    enabled: boolean
    deliveryDelayMs: [number, number]
    outcomes: Partial<Record<OutcomeStat, number>>
    intermediate: boolean
    errorCodes: Record<OutcomeStat, number>
    absentRate: number
    /** destination prefix (digits, international form) -> the stat every message to it ends with */
    fixedOutcomes: Record<string, OutcomeStat>
  }
  messageIdFormat: MessageIdFormat
  timers: { sessionInitMs: number; enquireLinkMs: number; inactivityMs: number; responseMs: number }
  session: { windowSize: number; maxPduLength: number; maxBindsPerAccount: number; outbindRetryMs: [number, number] }
  receipts: { multipart: MultipartReceipts; redeliveryMs: [number, number]; maxAgeMs: number }
  log: { level: LogLevel }
  admin: { password: string | null }
  telemetry: { intervalMs: number; maxBufferedBytes: number; events: number; timelineSize: number }
  connectors: ConnectorOptions[]
  /** null: keep the table stored in the data dir (edited by API/CLI), or the default route. */
  routes: RouteTables | null
  dispatch: { retryMs: [number, number]; routers: number }
  overload: { highWater: number; lowWater: number }
  store: { retentionHours: number; backupsKept: number; minFreeMiB: number }
  /** Daily traffic per account (engine/daily-stats.ts). */
  stats: { retentionDays: number; refusalsKept: number }
  /** allowPrivateTargets: webhooks set by resellers and users may point at private addresses too (engine/webhook-target.ts). */
  webhooks: { timeoutMs: number; concurrency: number; allowPrivateTargets: boolean }
}

/** What a caller or a config file may give: any subset of ResolvedOptions. */
export interface Options {
  smpp?: Partial<ResolvedOptions['smpp']>
  tls?: Partial<ResolvedOptions['tls']>
  devTls?: boolean
  http?: Partial<ResolvedOptions['http']>
  dataDir?: string
  accounts?: readonly AccountInput[]
  connectors?: readonly Record<string, unknown>[]
  routes?: unknown
  dispatch?: { retryMs?: readonly [number, number]; routers?: number }
  overload?: Partial<ResolvedOptions['overload']>
  store?: Partial<ResolvedOptions['store']>
  stats?: Partial<ResolvedOptions['stats']>
  webhooks?: Partial<ResolvedOptions['webhooks']>
  simulator?: {
    deliveryDelayMs?: readonly [number, number]
    outcomes?: Partial<Record<OutcomeStat, number>>
    intermediate?: boolean
    errorCodes?: Partial<Record<OutcomeStat, number>>
    absentRate?: number
  }
  messageIdFormat?: MessageIdFormat
  timers?: Partial<ResolvedOptions['timers']>
  session?: Partial<Omit<ResolvedOptions['session'], 'outbindRetryMs'>> & { outbindRetryMs?: readonly [number, number] }
  receipts?: { multipart?: MultipartReceipts; redeliveryMs?: readonly [number, number]; maxAgeMs?: number }
  log?: Partial<ResolvedOptions['log']>
  admin?: Partial<ResolvedOptions['admin']>
  telemetry?: Partial<ResolvedOptions['telemetry']>
}

export type DeepReadonly<T> = T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T

// ---------------------------------------------------------------------------------------------
// Defaults

export const DEFAULTS: DeepReadonly<ResolvedOptions> = deepFreeze({
  smpp: {
    host: '0.0.0.0', // plain SMPP listener address
    port: 2775, // TCP port (SMPP convention)
    maxUnboundConnections: 1_000, // connections not bound yet (both SMPP ports, TLS handshakes included): more are closed at accept
    maxUnboundPerIp: 100, // of those, from one address: more from it are closed at accept
    maxQueuedOutputBytes: 1_048_576, // 1 MiB: a connection's unsent output past this, its reads pause until the peer reads
  },
  tls: {
    host: '0.0.0.0',
    port: 3550, // TCP port (node-smpp's ssmpp:// convention)
    cert: null, // PEM file path; the TLS listener runs when cert and key are set, or devTls is true
    key: null, // PEM file path
    ca: null, // PEM file path of CAs for client certificates
    requestCert: false, // ask ESMEs for a client certificate
    minVersion: 'TLSv1.2', // oldest TLS version the SMPP TLS port and HTTPS take: 'TLSv1.2' or 'TLSv1.3'
    ciphers: null, // OpenSSL cipher string for both; null = Node's default list (tls.DEFAULT_CIPHERS)
  },
  devTls: false, // generate a self-signed cert under <dataDir>/tls on start
  http: {
    host: '127.0.0.1', // HTTP + WebSocket (console, API, telemetry); loopback only by default
    port: 8080, // TCP port
    trustProxy: [], // addresses/CIDRs of reverse proxies whose X-Forwarded-For names the client; [] = the peer is the client
    allowedOrigins: [], // origins ("https://console.example.com") a session-cookie request may also come from; [] = the engine's own only
    tlsHost: '0.0.0.0', // the HTTPS listener's address (console, API, telemetry over TLS)
    tlsPort: null, // HTTPS port, with tls.cert/tls.key (or devTls); null = no HTTPS listener
  },
  dataDir: './data', // store and generated files; relative to the working directory
  accounts: [], // ESME accounts; see AccountOptions
  simulator: {
    enabled: true, // the built-in simulated carrier; false (production): no route may name 'simulator', no simulated MO
    deliveryDelayMs: [200, 2_000], // ms, [min, max]: time from submit to the final receipt
    outcomes: { DELIVRD: 0.9, UNDELIV: 0.06, EXPIRED: 0.02, REJECTD: 0.02 }, // probabilities, sum 1
    intermediate: false, // also send ENROUTE receipts when registered_delivery asks (bit 0x10)
    errorCodes: { DELIVRD: 0, EXPIRED: 0, DELETED: 0, UNDELIV: 1, ACCEPTD: 0, UNKNOWN: 0, REJECTD: 2 }, // err: per stat
    absentRate: 0, // probability 0..1 that a destination's subscriber is absent at the first attempt (retried, then alert_notification)
    fixedOutcomes: {}, // test numbers: { "4915100000002": "UNDELIV" }, destination prefix -> the stat it always gets (longest prefix wins)
  },
  messageIdFormat: 'decimal', // message_id text: 'decimal' or 'hex'
  timers: {
    sessionInitMs: 30_000, // 30 s: close a connection that has not bound; 0 disables
    enquireLinkMs: 30_000, // 30 s: send enquire_link to an idle bind; 0 disables
    inactivityMs: 300_000, // 5 min: close a bind with no traffic; 0 disables
    responseMs: 30_000, // 30 s: a request of ours unanswered this long is failed (>= 100 ms)
  },
  session: {
    windowSize: 100, // outstanding requests each way, per bind (account default)
    maxPduLength: 65_536, // bytes: larger command_length → generic_nack ESME_RINVCMDLEN and close
    maxBindsPerAccount: 10, // concurrent binds per account (account default)
    outbindRetryMs: [5_000, 300_000], // ms, [first, max] back-off between outbind attempts to an ESME (doubles per failure)
  },
  receipts: {
    multipart: 'every', // 'every' part of a long message gets its own receipt, or only the 'last'
    redeliveryMs: [1_000, 60_000], // ms, [min, max] back-off between attempts to an unbound ESME
    maxAgeMs: 86_400_000, // 24 h: receipts not delivered by then are dropped
  },
  log: {
    level: 'info', // 'debug' | 'info' | 'warn' | 'error' | 'silent'
  },
  admin: {
    password: null, // console/API admin password; null = generated at first start, kept hashed in the data dir
  },
  telemetry: {
    intervalMs: 250, // ms between telemetry deltas on /ws/telemetry
    maxBufferedBytes: 1_048_576, // bytes: a WebSocket client buffering more gets no deltas until it drains
    events: 500, // events kept in the ring buffer for late subscribers
    timelineSize: 100_000, // recent messages whose full timeline (carrier, receipt, delivered) is kept in memory
  },
  connectors: [], // upstream SMSCs (kind 'smpp') and HTTP providers (kind 'http'); 'simulator' always exists
  routes: null, // { mt, mo } routing tables; null = the table stored in the data dir, else one route to 'simulator'
  dispatch: {
    retryMs: [1_000, 300_000], // ms, [min, max] back-off when a connector is down or answers a temporary error
    routers: 2, // router actors; accounts are spread over them by a hash of the system_id
  },
  overload: {
    highWater: 100_000, // messages waiting for a connector: above this, new submits get ESME_RMSGQFUL
    lowWater: 50_000, // ... until the backlog drains below this
  },
  store: {
    retentionHours: 72, // messages in a final state are removed this long after they ended (query_sm then fails); 0 = keep forever
    backupsKept: 7, // backups the engine names itself (<dataDir>/backups) beyond the latest this many are removed; 0 = keep all
    minFreeMiB: 256, // MiB free on the data dir's filesystem below which new submits get ESME_RMSGQFUL (a full disk fails commits); 0 = off
  },
  stats: {
    retentionDays: 93, // days of per-account daily traffic kept (today included; GET /api/v1/accounts/{id}/stats); older days are removed
    refusalsKept: 200, // refused submits kept in memory per account, newest first, for message search (engine/refusals.ts); 0: none
  },
  webhooks: {
    timeoutMs: 10_000, // ms per receipt/MO webhook request
    concurrency: 16, // webhook requests in flight at once (all accounts)
    allowPrivateTargets: false, // webhooks a reseller or user sets go to public addresses only (the SSRF guard)
  },
})

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v)
    Object.freeze(o)
  }
  return o
}

// ---------------------------------------------------------------------------------------------
// Validation helpers: each returns the checked value or throws a one-line SMSC_ERR_CONFIG_INVALID.

type Obj = Record<string, unknown>

function fail(message: string): never {
  throw new SmscError('SMSC_ERR_CONFIG_INVALID', message)
}

/**
 * An origin (RFC 6454 §6.1) as browsers serialise it in the Origin header: lower case, no default port, no path; null
 * for anything else (a path, a query, credentials, another scheme than http/https, the opaque "null").
 */
export function originOf(v: unknown): string | null {
  if (typeof v !== 'string' || !/^https?:\/\/[^/?#@]+\/?$/i.test(v)) return null
  try {
    const u = new URL(v)
    return u.origin === 'null' ? null : u.origin
  } catch {
    return null
  }
}

/** A value as it appears in messages: JSON where possible, always one line, at most ~40 chars. */
export function showValue(v: unknown): string {
  let s: string
  if (v === undefined) s = 'undefined'
  else if (typeof v === 'number') s = String(v)
  else if (typeof v === 'bigint') s = `${v}n`
  else if (typeof v === 'function' || typeof v === 'symbol') s = typeof v
  else {
    try {
      s = JSON.stringify(v) ?? String(v)
    } catch {
      s = Object.prototype.toString.call(v)
    }
  }
  return s.length > 40 ? `${s.slice(0, 39)}…` : s
}

/** `config.smpp` + `port` → `config.smpp.port`; odd keys use brackets: `config["a b"]`. */
export function at(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/** Checks `v` is an object whose keys are all in `known`. */
function section(v: unknown, path: string, known: readonly string[]): Obj {
  if (!isPlainObject(v)) fail(`${path} must be an object (got ${showValue(v)})`)
  for (const k of Object.keys(v)) if (!known.includes(k)) fail(`${at(path, k)} is not a known key`)
  return v
}

function integer(v: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v
  let rule: string
  if (max !== Number.MAX_SAFE_INTEGER) rule = `an integer between ${min} and ${max}`
  else if (min === 0) rule = 'a non-negative integer'
  else if (min === 1) rule = 'a positive integer'
  else rule = `an integer >= ${min}`
  return fail(`${path} must be ${rule} (got ${showValue(v)})`)
}

function boolean(v: unknown, path: string): boolean {
  if (typeof v === 'boolean') return v
  return fail(`${path} must be true or false (got ${showValue(v)})`)
}

function text(v: unknown, path: string): string {
  if (typeof v === 'string' && v.length > 0) return v
  return fail(`${path} must be a non-empty string (got ${showValue(v)})`)
}

function filePathOrNull(v: unknown, path: string): string | null {
  if (v === null || (typeof v === 'string' && v.length > 0)) return v
  return fail(`${path} must be a file path or null (got ${showValue(v)})`)
}

/** A PEM file of certificates, read now so a wrong path stops the start with the field's name. */
function pemFileOrNull(v: unknown, path: string): string | null {
  const file = filePathOrNull(v, path)
  if (file === null) return null
  let body: string
  try {
    body = readFileSync(file, 'utf8')
  } catch (e) {
    return fail(`${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (${file})`)
  }
  const certs = body.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)
  if (!certs) fail(`${path} must be a PEM file of certificates (no "-----BEGIN CERTIFICATE-----" in ${file})`)
  for (const [i, pem] of certs!.entries()) {
    try {
      new X509Certificate(pem) // eslint-disable-line no-new
    } catch (e) {
      fail(`${path}: certificate ${i + 1} of ${file} cannot be parsed (${(e as Error).message})`)
    }
  }
  return file
}

/** An OpenSSL cipher string, or null (Node's default list): one OpenSSL refuses stops the start here, not at the first handshake. */
function cipherListOrNull(v: unknown, path: string): string | null {
  if (v === null) return null
  const list = text(v, path)
  try {
    createSecureContext({ ciphers: list })
  } catch (e) {
    fail(`${path} is not a cipher list OpenSSL accepts: ${(e as Error).message.replace(/^error:[0-9A-F]+:SSL routines::/, '')} (got ${showValue(v)})`)
  }
  return list
}

function oneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T {
  if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T
  return fail(`${path} must be one of ${values.map((x) => JSON.stringify(x)).join(', ')} (got ${showValue(v)})`)
}

/** `[min, max]`, both integers in [lo, hi], min <= max. */
function range(v: unknown, path: string, lo: number, hi: number): [number, number] {
  if (!Array.isArray(v) || v.length !== 2) fail(`${path} must be a [min, max] pair (got ${showValue(v)})`)
  const min = integer(v[0], `${path}[0]`, lo, hi)
  const max = integer(v[1], `${path}[1]`, lo, hi)
  if (min > max) fail(`${path} must have min <= max (got ${showValue(v)})`)
  return [min, max]
}

/** C-Octet String content: printable ASCII, 1..max characters (max excludes the NUL). */
function cOctetText(v: unknown, path: string, max: number): string {
  if (typeof v !== 'string') fail(`${path} must be a string (got ${showValue(v)})`)
  if (v.length < 1 || v.length > max) fail(`${path} must be 1 to ${max} characters`)
  if (!/^[\x20-\x7e]*$/.test(v)) fail(`${path} must be printable ASCII (got ${showValue(v)})`)
  return v
}

/** Reads `key` of `o` if present (undefined counts as absent), else the default. */
function pick<T>(o: Obj, key: string, def: T, check: (v: unknown, path: string) => T, path: string): T {
  const v = o[key]
  return v === undefined ? def : check(v, at(path, key))
}

// ---------------------------------------------------------------------------------------------
// resolveOptions

const KEYS = {
  root: Object.keys(DEFAULTS),
  smpp: Object.keys(DEFAULTS.smpp),
  tls: Object.keys(DEFAULTS.tls),
  http: Object.keys(DEFAULTS.http),
  simulator: Object.keys(DEFAULTS.simulator),
  timers: Object.keys(DEFAULTS.timers),
  session: Object.keys(DEFAULTS.session),
  receipts: Object.keys(DEFAULTS.receipts),
  log: Object.keys(DEFAULTS.log),
  admin: Object.keys(DEFAULTS.admin),
  telemetry: Object.keys(DEFAULTS.telemetry),
  dispatch: Object.keys(DEFAULTS.dispatch),
  overload: Object.keys(DEFAULTS.overload),
  store: Object.keys(DEFAULTS.store),
  stats: Object.keys(DEFAULTS.stats),
  webhooks: Object.keys(DEFAULTS.webhooks),
  smppConnector: ['id', 'kind', 'host', 'port', 'tls', 'rejectUnauthorized', 'ca', 'systemId', 'password', 'systemType', 'bindType', 'windowSize', 'ratePerSecond', 'enquireLinkMs', 'responseMs', 'reconnectMs', 'throttlePauseMs', 'stallAfterTimeouts', 'interfaceVersion', 'receiptIds'],
  httpConnector: ['id', 'kind', 'url', 'headers', 'timeoutMs', 'concurrency', 'ratePerSecond', 'throttlePauseMs', 'probeMs', 'probeUrl', 'receipts', 'answerId', 'callbackToken', 'callbackFields', 'callbackStatuses'],
}

/** Validates `input` (any subset of the options) and returns a complete, fresh ResolvedOptions. */
export function resolveOptions(input: unknown, source = 'config'): ResolvedOptions {
  const root = section(input === undefined ? {} : input, source, KEYS.root)
  const sub = (key: string, known: readonly string[]): Obj =>
    root[key] === undefined ? {} : section(root[key], at(source, key), known)

  const D = DEFAULTS
  const p = (key: string): string => at(source, key)

  const smppIn = sub('smpp', KEYS.smpp)
  const smpp = {
    host: pick(smppIn, 'host', D.smpp.host, text, p('smpp')),
    port: pick(smppIn, 'port', D.smpp.port, portCheck, p('smpp')),
    maxUnboundConnections: pick(smppIn, 'maxUnboundConnections', D.smpp.maxUnboundConnections, (v, path) => integer(v, path, 1, 1_000_000), p('smpp')),
    maxUnboundPerIp: pick(smppIn, 'maxUnboundPerIp', D.smpp.maxUnboundPerIp, (v, path) => integer(v, path, 1, 1_000_000), p('smpp')),
    maxQueuedOutputBytes: pick(smppIn, 'maxQueuedOutputBytes', D.smpp.maxQueuedOutputBytes, (v, path) => integer(v, path, 65_536, 1_073_741_824), p('smpp')),
  }

  const tlsIn = sub('tls', KEYS.tls)
  const tlsPath = p('tls')
  const tls = {
    host: pick(tlsIn, 'host', D.tls.host, text, tlsPath),
    port: pick(tlsIn, 'port', D.tls.port, portCheck, tlsPath),
    cert: pick(tlsIn, 'cert', D.tls.cert, filePathOrNull, tlsPath),
    key: pick(tlsIn, 'key', D.tls.key, filePathOrNull, tlsPath),
    ca: pick(tlsIn, 'ca', D.tls.ca, filePathOrNull, tlsPath),
    requestCert: pick(tlsIn, 'requestCert', D.tls.requestCert, boolean, tlsPath),
    minVersion: pick(tlsIn, 'minVersion', D.tls.minVersion, (v, path) => oneOf(v, path, TLS_MIN_VERSIONS), tlsPath),
    ciphers: pick(tlsIn, 'ciphers', D.tls.ciphers, cipherListOrNull, tlsPath),
  }
  if ((tls.cert === null) !== (tls.key === null)) {
    const [missing, given] = tls.cert === null ? ['cert', 'key'] : ['key', 'cert']
    fail(`${at(tlsPath, missing)} must be set when ${at(tlsPath, given)} is set`)
  }
  // Without a CA of its own, Node checks client certificates against its public CAs: anyone's would do.
  if (tls.requestCert && tls.ca === null) fail(`${at(tlsPath, 'requestCert')} needs ${at(tlsPath, 'ca')}: the CA certificates your ESMEs' certificates must be signed by (without it, a certificate from any public CA would pass)`)

  const devTls = pick(root, 'devTls', D.devTls, boolean, source)

  const httpIn = sub('http', KEYS.http)
  const http = {
    host: pick(httpIn, 'host', D.http.host, text, p('http')),
    port: pick(httpIn, 'port', D.http.port, portCheck, p('http')),
    trustProxy: pick(httpIn, 'trustProxy', [...D.http.trustProxy], (v, path) => {
      if (!Array.isArray(v)) fail(`${path} must be an array of IP addresses or CIDR blocks (got ${showValue(v)})`)
      v.forEach((x, i) => { if (!isCidr(x)) fail(`${path}[${i}] must be an IPv4 or IPv6 address or CIDR block (got ${showValue(x)})`) })
      return v as string[]
    }, p('http')),
    allowedOrigins: pick(httpIn, 'allowedOrigins', [...D.http.allowedOrigins], (v, path) => {
      if (!Array.isArray(v)) fail(`${path} must be an array of origins such as "https://console.example.com" (got ${showValue(v)})`)
      return v.map((x, i) => {
        if (typeof x === 'string' && x.includes('*')) fail(`${path}[${i}] has a wildcard, which an origin never matches: list each origin the console is reached at, e.g. "https://console.example.com" (got ${showValue(x)})`)
        const origin = originOf(x)
        if (origin === null) fail(`${path}[${i}] must be an origin, scheme://host[:port] with scheme http or https and no path (got ${showValue(x)})`)
        return origin as string
      })
    }, p('http')),
    tlsHost: pick(httpIn, 'tlsHost', D.http.tlsHost, text, p('http')),
    tlsPort: pick(httpIn, 'tlsPort', D.http.tlsPort, (v, path) => (v === null ? null : portCheck(v, path)), p('http')),
  }
  // uWebSockets.js (BoringSSL) takes a cipher list but no minimum version: its floor is TLS 1.2, which HTTPS would
  // still offer. Refused rather than left weaker than the operator asked.
  if (http.tlsPort !== null && tls.minVersion === 'TLSv1.3') fail(`${at(tlsPath, 'minVersion')} "TLSv1.3" cannot apply to HTTPS (${at(p('http'), 'tlsPort')}): uWebSockets.js has no minimum-version setting and also takes TLS 1.2; use "TLSv1.2" with http.tlsPort, or serve HTTPS from a reverse proxy`)
  if (http.tlsPort !== null && tls.cert === null && !devTls) fail(`${at(p('http'), 'tlsPort')} needs a certificate: set tls.cert and tls.key (the SMPP TLS listener's, shared), or start with --dev-tls`)
  // One port per listener where their hosts overlap: two on one port failed at start with EADDRINUSE, naming neither key.
  const listeners: [string, string, number | null][] = [
    [at(p('smpp'), 'port'), smpp.host, smpp.port],
    ...(tls.cert !== null || devTls ? [[at(tlsPath, 'port'), tls.host, tls.port] as [string, string, number]] : []),
    [at(p('http'), 'port'), http.host, http.port],
    [at(p('http'), 'tlsPort'), http.tlsHost, http.tlsPort],
  ]
  const anyHost = (h: string): boolean => h === '0.0.0.0' || h === '::' || h === ''
  for (let b = 1; b < listeners.length; b++) {
    for (let a = 0; a < b; a++) {
      const [pa, ha, na] = listeners[a]
      const [pb, hb, nb] = listeners[b]
      if (na !== null && na !== 0 && na === nb && (ha === hb || anyHost(ha) || anyHost(hb))) fail(`${pb} ${nb} is also ${pa}: each listener needs a port of its own`)
    }
  }

  const dataDir = pick(root, 'dataDir', D.dataDir, text, source)

  const timersIn = sub('timers', KEYS.timers)
  const tp = p('timers')
  const timer = (v: unknown, path: string): number => integer(v, path, 0, MAX_TIMER_MS)
  const timers = {
    sessionInitMs: pick(timersIn, 'sessionInitMs', D.timers.sessionInitMs, timer, tp),
    enquireLinkMs: pick(timersIn, 'enquireLinkMs', D.timers.enquireLinkMs, timer, tp),
    inactivityMs: pick(timersIn, 'inactivityMs', D.timers.inactivityMs, timer, tp),
    responseMs: pick(timersIn, 'responseMs', D.timers.responseMs, (v, path) => integer(v, path, 100, MAX_TIMER_MS), tp),
  }

  const sessionIn = sub('session', KEYS.session)
  const sp = p('session')
  const session = {
    windowSize: pick(sessionIn, 'windowSize', D.session.windowSize, positive, sp),
    maxPduLength: pick(sessionIn, 'maxPduLength', D.session.maxPduLength, (v, path) => integer(v, path, 1_024, 16_777_216), sp),
    maxBindsPerAccount: pick(sessionIn, 'maxBindsPerAccount', D.session.maxBindsPerAccount, positive, sp),
    outbindRetryMs: pick(sessionIn, 'outbindRetryMs', [...D.session.outbindRetryMs] as [number, number], (v, path) => range(v, path, 100, MAX_TIMER_MS), sp),
  }

  const accounts = resolveAccounts(root.accounts, p('accounts'))

  const simulator = resolveSimulator(sub('simulator', KEYS.simulator), p('simulator'))

  const messageIdFormat = pick(root, 'messageIdFormat', D.messageIdFormat, (v, path) => oneOf(v, path, MESSAGE_ID_FORMATS), source)

  const receiptsIn = sub('receipts', KEYS.receipts)
  const rp = p('receipts')
  const receipts = {
    multipart: pick(receiptsIn, 'multipart', D.receipts.multipart, (v, path) => oneOf(v, path, MULTIPART_RECEIPTS), rp),
    redeliveryMs: pick(receiptsIn, 'redeliveryMs', [...D.receipts.redeliveryMs] as [number, number], (v, path) => range(v, path, 1, MAX_TIMER_MS), rp),
    maxAgeMs: pick(receiptsIn, 'maxAgeMs', D.receipts.maxAgeMs, positive, rp),
  }

  const logIn = sub('log', KEYS.log)
  const log = { level: pick(logIn, 'level', D.log.level, (v, path) => oneOf(v, path, LOG_LEVELS), p('log')) }

  const adminIn = sub('admin', KEYS.admin)
  const admin = {
    password: pick(adminIn, 'password', D.admin.password, (v, path) => {
      if (v === null) return null
      if (typeof v !== 'string' || v.length < 8 || v.length > 128) fail(`${path} must be a string of 8 to 128 characters, or null`)
      return v
    }, p('admin')),
  }

  const telIn = sub('telemetry', KEYS.telemetry)
  const tel = p('telemetry')
  const telemetry = {
    intervalMs: pick(telIn, 'intervalMs', D.telemetry.intervalMs, (v, path) => integer(v, path, 50, 60_000), tel),
    maxBufferedBytes: pick(telIn, 'maxBufferedBytes', D.telemetry.maxBufferedBytes, (v, path) => integer(v, path, 1_024, 1_073_741_824), tel),
    events: pick(telIn, 'events', D.telemetry.events, (v, path) => integer(v, path, 1, 100_000), tel),
    timelineSize: pick(telIn, 'timelineSize', D.telemetry.timelineSize, (v, path) => integer(v, path, 0, 10_000_000), tel),
  }

  const connectors = resolveConnectors(root.connectors, p('connectors'))
  const routes = root.routes === undefined || root.routes === null ? null
    : validateRouteTables(root.routes, p('routes'), 'SMSC_ERR_CONFIG_INVALID', connectorIdsOf(simulator.enabled, connectors))

  const dIn = sub('dispatch', KEYS.dispatch)
  const dispatch = {
    retryMs: pick(dIn, 'retryMs', [...D.dispatch.retryMs] as [number, number], (v, path) => range(v, path, 1, MAX_TIMER_MS), p('dispatch')),
    routers: pick(dIn, 'routers', D.dispatch.routers, (v, path) => integer(v, path, 1, 64), p('dispatch')),
  }
  const oIn = sub('overload', KEYS.overload)
  const overload = {
    highWater: pick(oIn, 'highWater', D.overload.highWater, positive, p('overload')),
    lowWater: pick(oIn, 'lowWater', D.overload.lowWater, (v, path) => integer(v, path, 0), p('overload')),
  }
  if (overload.lowWater >= overload.highWater) fail(`${at(p('overload'), 'lowWater')} must be below overload.highWater (got ${overload.lowWater})`)
  const sIn = sub('store', KEYS.store)
  const store = {
    retentionHours: pick(sIn, 'retentionHours', D.store.retentionHours, (v, path) => integer(v, path, 0, 87_600), p('store')),
    backupsKept: pick(sIn, 'backupsKept', D.store.backupsKept, (v, path) => integer(v, path, 0, 1000), p('store')),
    minFreeMiB: pick(sIn, 'minFreeMiB', D.store.minFreeMiB, (v, path) => integer(v, path, 0, 1_048_576), p('store')),
  }
  const stIn = sub('stats', KEYS.stats)
  const stats = {
    retentionDays: pick(stIn, 'retentionDays', D.stats.retentionDays, (v, path) => integer(v, path, 1, 3_660), p('stats')),
    refusalsKept: pick(stIn, 'refusalsKept', D.stats.refusalsKept, (v, path) => integer(v, path, 0, 10_000), p('stats')),
  }
  const wIn = sub('webhooks', KEYS.webhooks)
  const webhooks = {
    timeoutMs: pick(wIn, 'timeoutMs', D.webhooks.timeoutMs, (v, path) => integer(v, path, 100, MAX_TIMER_MS), p('webhooks')),
    concurrency: pick(wIn, 'concurrency', D.webhooks.concurrency, (v, path) => integer(v, path, 1, 1_000), p('webhooks')),
    allowPrivateTargets: pick(wIn, 'allowPrivateTargets', D.webhooks.allowPrivateTargets, boolean, p('webhooks')),
  }

  return { smpp, tls, devTls, http, dataDir, accounts, simulator, messageIdFormat, timers, session, receipts, log, admin, telemetry, connectors, routes, dispatch, overload, store, stats, webhooks }
}

function resolveConnectors(v: unknown, path: string): ConnectorOptions[] {
  if (v === undefined) return []
  if (!Array.isArray(v)) fail(`${path} must be an array (got ${showValue(v)})`)
  const seen = new Set<string>([SIMULATOR_CONNECTOR])
  /** The first smpp entry bound to each upstream account: entries sharing one share its id map, so its receiptIds too. */
  const accounts = new Map<string, { i: number; receiptIds: ReceiptIdMode }>()
  return v.map((item: unknown, i: number): ConnectorOptions => {
    const ip = `${path}[${i}]`
    if (!isPlainObject(item)) fail(`${ip} must be an object (got ${showValue(item)})`)
    const kind = oneOf(item.kind, at(ip, 'kind'), ['smpp', 'http'] as const)
    const o = section(item, ip, kind === 'smpp' ? KEYS.smppConnector : KEYS.httpConnector)
    if (o.id === undefined) fail(`${at(ip, 'id')} is required`)
    const id = text(o.id, at(ip, 'id'))
    if (!/^[A-Za-z0-9_.-]{1,32}$/.test(id)) fail(`${at(ip, 'id')} must be 1 to 32 letters, digits, '_', '.' or '-' (got ${showValue(id)})`)
    if (seen.has(id)) fail(`${at(ip, 'id')} ${showValue(id)} is already used${id === SIMULATOR_CONNECTOR ? ' by the built-in simulated carrier' : ''}`)
    seen.add(id)
    const rate = pick(o, 'ratePerSecond', 0, (x, q) => integer(x, q, 0, 1_000_000), ip)
    if (kind === 'http') {
      if (o.url === undefined) fail(`${at(ip, 'url')} is required`)
      // Parsed as the connector will parse it: a URL that does not parse would crash its actor at every (re)start, and
      // spend its restart budget (a reload taking it stopped the engine).
      const httpUrl = (x: unknown, q: string): string => {
        const u = text(x, q)
        if (!/^https?:\/\/[^\s]+$/.test(u) || !URL.canParse(u)) fail(`${q} must be an http:// or https:// URL (got ${showValue(u)})`)
        return u
      }
      const url = httpUrl(o.url, at(ip, 'url'))
      const headers = pick(o, 'headers', {} as Record<string, string>, (x, q) => {
        const h = section(x, q, Object.keys(x as Obj ?? {}))
        for (const [k, val] of Object.entries(h)) if (typeof val !== 'string') fail(`${at(q, k)} must be a string (got ${showValue(val)})`)
        return h as Record<string, string>
      }, ip)
      return {
        id, kind, url, headers, ratePerSecond: rate,
        timeoutMs: pick(o, 'timeoutMs', 10_000, (x, q) => integer(x, q, 100, MAX_TIMER_MS), ip),
        concurrency: pick(o, 'concurrency', 16, (x, q) => integer(x, q, 1, 1_000), ip),
        throttlePauseMs: pick(o, 'throttlePauseMs', [1_000, 30_000] as [number, number], (x, q) => range(x, q, 10, MAX_TIMER_MS), ip),
        probeMs: pick(o, 'probeMs', [1_000, 30_000] as [number, number], (x, q) => range(x, q, 10, MAX_TIMER_MS), ip),
        probeUrl: pick(o, 'probeUrl', null, (x, q) => (x === null ? null : httpUrl(x, q)), ip),
        ...resolveHttpReceipts(o, ip),
      }
    }
    for (const req of ['host', 'port', 'systemId', 'password']) if (o[req] === undefined) fail(`${at(ip, req)} is required`)
    const host = text(o.host, at(ip, 'host'))
    const port = integer(o.port, at(ip, 'port'), 1, MAX_PORT)
    const systemId = cOctetText(o.systemId, at(ip, 'systemId'), 15)
    const receiptIds = pick(o, 'receiptIds', 'exact' as ReceiptIdMode, (x, q) => oneOf(x, q, RECEIPT_ID_MODES), ip)
    const account = `${host}:${port}:${systemId}`
    const first = accounts.get(account)
    if (first === undefined) accounts.set(account, { i, receiptIds })
    else if (first.receiptIds !== receiptIds) {
      fail(`${at(ip, 'receiptIds')} must be ${JSON.stringify(first.receiptIds)} as in ${path}[${first.i}] (got ${JSON.stringify(receiptIds)}): both bind to ${systemId}@${host}:${port} and share its message ids`)
    }
    return {
      id, kind, host, port,
      tls: pick(o, 'tls', false, boolean, ip),
      rejectUnauthorized: pick(o, 'rejectUnauthorized', true, boolean, ip),
      ca: pick(o, 'ca', null, (x, q) => {
        const file = pemFileOrNull(x, q)
        if (file !== null && o.tls !== true) fail(`${q} is set but ${at(ip, 'tls')} is not true (the ca verifies the upstream's TLS certificate)`)
        return file
      }, ip),
      systemId,
      password: cOctetText(o.password, at(ip, 'password'), 8),
      systemType: pick(o, 'systemType', '', (x, q) => (x === '' ? '' : cOctetText(x, q, 12)), ip),
      bindType: pick(o, 'bindType', 'transceiver' as const, (x, q) => oneOf(x, q, ['transceiver', 'transmitter', 'receiver'] as const), ip),
      windowSize: pick(o, 'windowSize', 10, (x, q) => integer(x, q, 1, 10_000), ip),
      ratePerSecond: rate,
      enquireLinkMs: pick(o, 'enquireLinkMs', 30_000, (x, q) => integer(x, q, 0, MAX_TIMER_MS), ip),
      responseMs: pick(o, 'responseMs', 10_000, (x, q) => integer(x, q, 100, MAX_TIMER_MS), ip),
      reconnectMs: pick(o, 'reconnectMs', [1_000, 60_000] as [number, number], (x, q) => range(x, q, 10, MAX_TIMER_MS), ip),
      throttlePauseMs: pick(o, 'throttlePauseMs', [1_000, 30_000] as [number, number], (x, q) => range(x, q, 10, MAX_TIMER_MS), ip),
      // submits, in a row (at most the window: all of it, when smaller)
      stallAfterTimeouts: pick(o, 'stallAfterTimeouts', 3, (x, q) => integer(x, q, 1, 10_000), ip),
      interfaceVersion: pick(o, 'interfaceVersion', 0x34 as const, (x, q) => {
        if (x === 0x34 || x === 0x50) return x
        return fail(`${q} must be 52 (0x34, SMPP 3.4) or 80 (0x50, SMPP 5.0) (got ${showValue(x)})`)
      }, ip),
      receiptIds,
    }
  })
}

/** An http connector's receipt settings (docs/CONNECTORS.md, "Receipts by callback"). */
function resolveHttpReceipts(o: Obj, ip: string): Pick<HttpConnectorOptions, 'receipts' | 'answerId' | 'callbackToken' | 'callbackFields' | 'callbackStatuses'> {
  const receipts = pick(o, 'receipts', 'none' as const, (x, q) => oneOf(x, q, ['none', 'callback'] as const), ip)
  // A token with receipts "none" is a mistake (no callback route would take it); null is how a resolved "none" says none.
  if (receipts === 'none' && o.callbackToken !== undefined && o.callbackToken !== null) fail(`${at(ip, 'callbackToken')} is set but ${at(ip, 'receipts')} is not "callback"`)
  const fieldPath = (x: unknown, q: string): string => {
    if (typeof x !== 'string' || !isFieldPath(x)) fail(`${q} must be a dotted path of JSON keys such as "id" or "messages.0.id" (got ${showValue(x)})`)
    return x
  }
  const answerId = pick(o, 'answerId', 'id', fieldPath, ip)
  let callbackToken: string | null = null
  if (receipts === 'callback') {
    if (o.callbackToken === undefined || o.callbackToken === null) fail(`${at(ip, 'callbackToken')} is required with receipts "callback": the secret the provider's callbacks carry`)
    const v = o.callbackToken
    if (typeof v !== 'string' || !/^[\x21-\x7e]{16,256}$/.test(v)) {
      fail(`${at(ip, 'callbackToken')} must be 16 to 256 printable ASCII characters without spaces (got ${typeof v === 'string' ? `${v.length} characters` : showValue(v)})`)
    }
    callbackToken = v
  }
  const fp = at(ip, 'callbackFields')
  const given = o.callbackFields === undefined ? {} : section(o.callbackFields, fp, Object.keys(DEFAULT_CALLBACK_FIELDS))
  const callbackFields: CallbackFields = { ...DEFAULT_CALLBACK_FIELDS }
  for (const k of Object.keys(given) as (keyof CallbackFields)[]) {
    const v = given[k]
    // list, err and doneAt may be null (no wrapping array; not read); id and status are always read.
    if (v === null && (k === 'list' || k === 'err' || k === 'doneAt')) callbackFields[k] = null
    else (callbackFields as unknown as Record<string, string>)[k] = fieldPath(v, at(fp, k))
  }
  const sp = at(ip, 'callbackStatuses')
  const callbackStatuses: Record<string, CallbackStat> = { ...DEFAULT_CALLBACK_STATUSES }
  if (o.callbackStatuses !== undefined) {
    if (!isPlainObject(o.callbackStatuses)) fail(`${sp} must be an object of status words and stats (got ${showValue(o.callbackStatuses)})`)
    for (const [word, stat] of Object.entries(o.callbackStatuses)) {
      if (word.length < 1 || word.length > 64) fail(`${at(sp, word)}: a status word must be 1 to 64 characters`)
      callbackStatuses[word.toLowerCase()] = oneOf(stat, at(sp, word), CALLBACK_STATS)
    }
  }
  return { receipts, answerId, callbackToken, callbackFields, callbackStatuses }
}

function portCheck(v: unknown, path: string): number {
  return integer(v, path, 0, MAX_PORT)
}

function positive(v: unknown, path: string): number {
  return integer(v, path, 1)
}

function resolveAccounts(v: unknown, path: string): AccountOptions[] {
  if (v === undefined) return []
  if (!Array.isArray(v)) fail(`${path} must be an array (got ${showValue(v)})`)
  const seen = new Map<string, number>()
  return v.map((item: unknown, i: number): AccountOptions => {
    const ip = `${path}[${i}]`
    // Every key and value is checked by the account model (engine/accounts.ts), the same rules as the admin API.
    const a = checkAccountInput(item, ip, 'SMSC_ERR_CONFIG_INVALID')
    if (a.systemId === undefined) fail(`${at(ip, 'systemId')} is required`)
    if (a.password === undefined) fail(`${at(ip, 'password')} is required`)
    const first = seen.get(a.systemId)
    if (first !== undefined) fail(`${at(ip, 'systemId')} ${showValue(a.systemId)} is already used by ${path}[${first}]`)
    seen.set(a.systemId, i)
    return a as AccountOptions
  })
}

function resolveSimulator(o: Obj, path: string): ResolvedOptions['simulator'] {
  const D = DEFAULTS.simulator
  const enabled = pick(o, 'enabled', D.enabled, boolean, path)
  const deliveryDelayMs = pick(o, 'deliveryDelayMs', [...D.deliveryDelayMs] as [number, number], (v, p) => range(v, p, 0, MAX_TIMER_MS), path)

  // outcomes replace the default as a whole: a partial distribution cannot be merged.
  let outcomes: Partial<Record<OutcomeStat, number>> = { ...D.outcomes }
  if (o.outcomes !== undefined) {
    const op = at(path, 'outcomes')
    const given = section(o.outcomes, op, OUTCOME_STATS)
    outcomes = {}
    let sum = 0
    for (const stat of OUTCOME_STATS) {
      const x = given[stat]
      if (x === undefined) continue
      if (typeof x !== 'number' || !(x >= 0 && x <= 1)) fail(`${at(op, stat)} must be a number between 0 and 1 (got ${showValue(x)})`)
      outcomes[stat] = x
      sum += x
    }
    if (Math.abs(sum - 1) > 1e-6) fail(`${op} must add up to 1 (got ${+sum.toPrecision(12)})`)
  }

  const intermediate = pick(o, 'intermediate', D.intermediate, boolean, path)

  // errorCodes merge over the defaults, stat by stat. DLR text `err:` has 3 digits.
  const errorCodes: Record<OutcomeStat, number> = { ...D.errorCodes }
  if (o.errorCodes !== undefined) {
    const ep = at(path, 'errorCodes')
    const given = section(o.errorCodes, ep, OUTCOME_STATS)
    for (const stat of OUTCOME_STATS) {
      if (given[stat] !== undefined) errorCodes[stat] = integer(given[stat], at(ep, stat), 0, 999)
    }
  }
  const absentRate = pick(o, 'absentRate', D.absentRate, (v, p) => {
    if (typeof v === 'number' && v >= 0 && v <= 1) return v
    return fail(`${p} must be a number between 0 and 1 (got ${showValue(v)})`)
  }, path)
  // Test numbers for integrators: a destination prefix always ends with one stat (the longest prefix wins).
  const fixedOutcomes: Record<string, OutcomeStat> = {}
  if (o.fixedOutcomes !== undefined) {
    const fp = at(path, 'fixedOutcomes')
    if (!isPlainObject(o.fixedOutcomes)) fail(`${fp} must be an object of destination prefixes and stats, e.g. {"4915100000002": "UNDELIV"} (got ${showValue(o.fixedOutcomes)})`)
    for (const [prefix, stat] of Object.entries(o.fixedOutcomes as Obj)) {
      if (!/^\d{1,20}$/.test(prefix)) fail(`${at(fp, prefix)}: a destination prefix is 1 to 20 digits, international form without + or 00 (got ${JSON.stringify(prefix)})`)
      if (typeof stat !== 'string' || !(OUTCOME_STATS as readonly string[]).includes(stat)) fail(`${at(fp, prefix)} must be one of ${OUTCOME_STATS.join(' ')} (got ${showValue(stat)})`)
      fixedOutcomes[prefix] = stat as OutcomeStat
    }
  }
  return { enabled, deliveryDelayMs, outcomes, intermediate, errorCodes, absentRate, fixedOutcomes }
}

// ---------------------------------------------------------------------------------------------
// loadConfig: file + environment + flags

/** Overrides the CLI passes to loadConfig (see configArgsFromFlags). */
export interface ConfigArgs {
  config?: string
  smppPort?: number
  tlsPort?: number
  httpPort?: number
  smppHost?: string
  tlsHost?: string
  httpHost?: string
  dataDir?: string
  devTls?: boolean
}

/** The command-line flags that feed loadConfig. */
export const CONFIG_FLAGS = ['config', 'smpp-port', 'tls-port', 'http-port', 'smpp-host', 'tls-host', 'http-host', 'data-dir', 'dev-tls'] as const

/**
 * Reads the JSON file named by argv.config (else env.SMSC_CONFIG; neither → defaults only),
 * applies the flag overrides, and resolves. Errors found in the file's content are prefixed
 * with the file name: `smsc.json: config.smpp.port must be ...`.
 */
export function loadConfig(argv: ConfigArgs, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  const smppPort = parsePortFlag('smpp-port', argv.smppPort)
  const tlsPort = parsePortFlag('tls-port', argv.tlsPort)
  const httpPort = parsePortFlag('http-port', argv.httpPort)
  if (argv.dataDir !== undefined && (typeof argv.dataDir !== 'string' || argv.dataDir.length === 0)) {
    throw new SmscError('SMSC_ERR_CLI_USAGE', `--data-dir must be a directory path (got ${showValue(argv.dataDir)})`)
  }
  if (argv.config !== undefined && (typeof argv.config !== 'string' || argv.config.length === 0)) {
    throw new SmscError('SMSC_ERR_CLI_USAGE', `--config must be a file path (got ${showValue(argv.config)})`)
  }
  const file = argv.config ?? (env.SMSC_CONFIG ? env.SMSC_CONFIG : undefined)
  const raw: unknown = file === undefined ? {} : readConfigFile(file)

  let input = raw
  if (isPlainObject(raw)) {
    const o: Obj = { ...raw }
    // Only merge into sections that are objects (or absent): a bad section still reports its own error.
    const override = (key: string, field: string, value: number | string | undefined): void => {
      if (value === undefined) return
      if (o[key] === undefined) o[key] = { [field]: value }
      else if (isPlainObject(o[key])) o[key] = { ...(o[key] as Obj), [field]: value }
    }
    override('smpp', 'port', smppPort)
    override('tls', 'port', tlsPort)
    override('http', 'port', httpPort)
    override('smpp', 'host', argv.smppHost)
    override('tls', 'host', argv.tlsHost)
    override('http', 'host', argv.httpHost)
    if (argv.dataDir !== undefined) o.dataDir = argv.dataDir
    if (argv.devTls !== undefined) o.devTls = argv.devTls
    input = o
  }
  try {
    return resolveOptions(input, 'config')
  } catch (e) {
    if (file !== undefined && e instanceof SmscError) throw new SmscError(e.code, `${file}: ${e.message}`)
    throw e
  }
}

/** Reads and parses a JSON config file; one-line errors naming the file (and line:column). */
export function readConfigFile(file: string): unknown {
  let body: string
  try {
    body = readFileSync(file, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    const reason =
      code === 'ENOENT' ? 'no such file' :
      code === 'EACCES' || code === 'EPERM' ? 'permission denied' :
      code === 'EISDIR' ? 'is a directory' :
      firstLine((e as Error).message)
    throw new SmscError('SMSC_ERR_CONFIG_INVALID', `cannot read config file ${JSON.stringify(file)}: ${reason}${code ? ` (${code})` : ''}`, { cause: e })
  }
  if (body.charCodeAt(0) === 0xfeff) body = body.slice(1)
  try {
    return JSON.parse(body)
  } catch (e) {
    // V8 (Node 20) says either "<what> in JSON at position N" or, with no position,
    // "Unexpected token 'x', <snippet of the input, may span lines> is not valid JSON".
    const msg = (e as Error).message
    const m = / in JSON at position (\d+)/.exec(msg)
    const pos = m ? Number(m[1]) : jsonErrorOffset(body)
    const what = firstLine(msg.replace(/ in JSON at position \d+[^]*$/, '').replace(/, (\.\.\.)?"[^]*"(\.\.\.)? is not valid JSON$/, ''))
    const { line, column } = lineColumn(body, pos)
    throw new SmscError(
      'SMSC_ERR_CONFIG_INVALID',
      `config file ${JSON.stringify(file)} is not valid JSON: ${what} at line ${line} column ${column}`,
      { cause: e },
    )
  }
}

function firstLine(s: string): string {
  const i = s.indexOf('\n')
  return i === -1 ? s : s.slice(0, i)
}

function lineColumn(s: string, pos: number): { line: number; column: number } {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < pos && i < s.length; i++) {
    if (s.charCodeAt(i) === 10) {
      line++
      lineStart = i + 1
    }
  }
  return { line, column: pos - lineStart + 1 }
}

/**
 * Offset of the first JSON syntax error in `s` (s.length for an early end). Used only when V8's
 * message has no position ("Unexpected token 'x', "..." is not valid JSON").
 */
export function jsonErrorOffset(s: string): number {
  let i = 0
  const n = s.length
  const ws = (): void => {
    while (i < n && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++
  }
  const digits = (): void => {
    if (!(s[i] >= '0' && s[i] <= '9')) throw i
    while (s[i] >= '0' && s[i] <= '9') i++
  }
  const value = (): void => {
    const c = s[i]
    if (c === '{') {
      i++
      ws()
      if (s[i] === '}') return void i++
      for (;;) {
        if (s[i] !== '"') throw i
        str()
        ws()
        if (s[i] !== ':') throw i
        i++
        ws()
        value()
        ws()
        if (s[i] === ',') { i++; ws(); continue }
        if (s[i] === '}') return void i++
        throw i
      }
    }
    if (c === '[') {
      i++
      ws()
      if (s[i] === ']') return void i++
      for (;;) {
        value()
        ws()
        if (s[i] === ',') { i++; ws(); continue }
        if (s[i] === ']') return void i++
        throw i
      }
    }
    if (c === '"') return str()
    if (c === '-' || (c >= '0' && c <= '9')) {
      if (s[i] === '-') i++
      if (s[i] === '0') i++
      else digits()
      if (s[i] === '.') { i++; digits() }
      if (s[i] === 'e' || s[i] === 'E') {
        i++
        if (s[i] === '+' || s[i] === '-') i++
        digits()
      }
      return
    }
    for (const word of ['true', 'false', 'null']) {
      if (c === word[0]) {
        for (let k = 0; k < word.length; k++, i++) if (s[i] !== word[k]) throw i
        return
      }
    }
    throw i
  }
  const str = (): void => {
    i++
    for (;;) {
      if (i >= n) throw n
      const c = s.charCodeAt(i)
      if (c === 0x22) return void i++
      if (c < 0x20) throw i
      if (c === 0x5c) {
        i++
        const e = s[i]
        if (e === 'u') {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(s[i + k] ?? '')) throw i + k
          i += 4
        } else if (e === undefined || !'"\\/bfnrt'.includes(e)) throw i
      }
      i++
    }
  }
  try {
    ws()
    value()
    ws()
    return i < n ? i : -1
  } catch (pos) {
    return Math.min(pos as number, n)
  }
}

// ---------------------------------------------------------------------------------------------
// Command line

export interface CliArgs {
  /** First word (`start`, `accounts`, ...); '' when there is none. */
  command: string
  /** Second word, if any (`accounts add` → 'add'). */
  sub?: string
  /** Flags without their dashes, as typed: `--smpp-port 1` → { 'smpp-port': '1' }; `-h` → { h: true }. */
  flags: Record<string, string | boolean>
  /** Words after command and sub, and everything after `--`. */
  positionals: string[]
}

/** Flags that never take a separate value, so `--dev-tls start` leaves `start` as the command. */
export const BOOLEAN_FLAGS: readonly string[] = ['help', 'version', 'dev-tls', 'json', 'tree']

/**
 * A tiny parser: `--flag value`, `--flag=value`, `--bool`, `--no-bool` (→ false, for names in
 * `booleans`), `-x` (→ x: true), `--` ends flags. A flag not in `booleans` takes the next word as
 * its value unless that word is itself a flag; then it is `true`. The last of repeated flags wins.
 */
export function parseCliArgs(argv: readonly string[], booleans: readonly string[] = BOOLEAN_FLAGS): CliArgs {
  const flags: Record<string, string | boolean> = {}
  const words: string[] = []
  const isFlag = (a: string | undefined): boolean => a !== undefined && a.length > 1 && a[0] === '-' && !/^-\d/.test(a)
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') {
      words.push(...argv.slice(i + 1))
      break
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=')
      if (eq !== -1) {
        flags[a.slice(2, eq)] = a.slice(eq + 1)
        continue
      }
      const name = a.slice(2)
      if (booleans.includes(name)) flags[name] = true
      else if (name.startsWith('no-') && booleans.includes(name.slice(3))) flags[name.slice(3)] = false
      else if (i + 1 < argv.length && !isFlag(argv[i + 1]) && argv[i + 1] !== '--') flags[name] = argv[++i]
      else flags[name] = true
      continue
    }
    if (isFlag(a)) {
      flags[a.slice(1)] = true
      continue
    }
    words.push(a)
  }
  const [command = '', sub, ...positionals] = words
  return sub === undefined ? { command, flags, positionals } : { command, sub, flags, positionals }
}

/**
 * `--<name>` as a port: undefined when absent; otherwise an integer 0..65535 or an
 * SMSC_ERR_CLI_USAGE `--smpp-port must be an integer between 0 and 65535 (got "x")`.
 */
export function parsePortFlag(name: string, value: string | number | boolean | undefined): number | undefined {
  if (value === undefined) return undefined
  if (value === true) throw new SmscError('SMSC_ERR_CLI_USAGE', `--${name} needs a value`)
  const n = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : value
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_PORT) return n
  throw new SmscError('SMSC_ERR_CLI_USAGE', `--${name} must be an integer between 0 and ${MAX_PORT} (got ${showValue(value)})`)
}

/** Throws SMSC_ERR_CLI_USAGE `--foo is not a known flag` for any flag outside `allowed`. */
export function assertKnownFlags(flags: Record<string, string | boolean>, allowed: readonly string[]): void {
  for (const name of Object.keys(flags)) {
    if (!allowed.includes(name)) throw new SmscError('SMSC_ERR_CLI_USAGE', `--${name} is not a known flag`)
  }
}

/** Turns parsed flags (CONFIG_FLAGS) into loadConfig's arguments, validating each. */
export function configArgsFromFlags(flags: Record<string, string | boolean>): ConfigArgs {
  const args: ConfigArgs = {}
  const pathFlag = (name: string): string | undefined => {
    const v = flags[name]
    if (v === undefined) return undefined
    if (typeof v !== 'string' || v.length === 0) throw new SmscError('SMSC_ERR_CLI_USAGE', `--${name} needs a path`)
    return v
  }
  const config = pathFlag('config')
  if (config !== undefined) args.config = config
  const dataDir = pathFlag('data-dir')
  if (dataDir !== undefined) args.dataDir = dataDir
  const smppPort = parsePortFlag('smpp-port', flags['smpp-port'])
  if (smppPort !== undefined) args.smppPort = smppPort
  const tlsPort = parsePortFlag('tls-port', flags['tls-port'])
  if (tlsPort !== undefined) args.tlsPort = tlsPort
  const httpPort = parsePortFlag('http-port', flags['http-port'])
  if (httpPort !== undefined) args.httpPort = httpPort
  // Listen addresses: an IP address or a host name (listen errors name the address at start).
  const hostFlag = (name: string): string | undefined => {
    const v = flags[name]
    if (v === undefined) return undefined
    if (typeof v !== 'string' || v.length === 0 || /\s/.test(v)) throw new SmscError('SMSC_ERR_CLI_USAGE', `--${name} needs an address to listen on, e.g. 127.0.0.1 (got ${showValue(v)})`)
    return v
  }
  const smppHost = hostFlag('smpp-host')
  if (smppHost !== undefined) args.smppHost = smppHost
  const tlsHost = hostFlag('tls-host')
  if (tlsHost !== undefined) args.tlsHost = tlsHost
  const httpHost = hostFlag('http-host')
  if (httpHost !== undefined) args.httpHost = httpHost
  const devTls = flags['dev-tls']
  if (devTls !== undefined) {
    if (devTls === true || devTls === 'true') args.devTls = true
    else if (devTls === false || devTls === 'false') args.devTls = false
    else throw new SmscError('SMSC_ERR_CLI_USAGE', `--dev-tls must be true or false (got ${showValue(devTls)})`)
  }
  return args
}
