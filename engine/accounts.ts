/**
 * The account model: roles (a reseller owns users; the operator owns resellers and its own users), the
 * settings every account has (limits, policy, credit mode, webhooks), their defaults, and the one checker
 * of account input, shared by the config file, the admin API and the CLI, so that all three give the
 * same one-line error naming the field, e.g.
 *   config.accounts[2].allowedIps[0] must be an IPv4 or IPv6 address or CIDR block (got "10.0.0.0/33")
 * Also the two policy predicates the bind and submit paths use: ipAllowed (CIDR, IPv4 and IPv6) and
 * sourceAllowed (sender ids, '*' prefix patterns); the bounds a reseller's settings put on its users'
 * (beyondReseller, exceedsReseller, inheritedBounds); and who is acting (Principal).
 * Changes to accounts go through engine/admin.ts; records live in engine/store.ts.
 */
import { isIPv4, isIPv6 } from 'node:net'
import { SmscError } from './errors'
import { at, isPlainObject, showValue } from './config'
import { MessageState } from './protocol/constants'
import type { AccountSettings as AccountSettingsView } from './wire'

export type Role = 'reseller' | 'user' // the operator is the admin login, not an account
export const ROLES = ['reseller', 'user'] as const satisfies readonly Role[]
/** Receipts for long messages: one per part ('every'), only the last part's ('last'), or one for the whole message. */
export const RECEIPT_POLICIES = ['every', 'last', 'aggregate'] as const
export type ReceiptPolicy = (typeof RECEIPT_POLICIES)[number]
export const SETTLEMENTS = ['submit', 'refund'] as const
/**
 * Settlement 'refund': what a final outcome does with a destination's price (docs/ACCOUNTS.md, Credit).
 * Whatever the network or the engine ended without delivering is given back. Only outcomes (a
 * connector's, an upstream's receipt, the dispatcher's expiry) are settled: the customer's own cancel_sm
 * or replace_if_present ends a message DELETED without an outcome and keeps the charge (the message may
 * already be with an upstream, which delivers it anyway). SMPP 3.4 §5.2.28 message_state.
 */
export const REFUND_SETTLEMENT: Readonly<Record<number, 'keep' | 'refund'>> = {
  [MessageState.DELIVERED]: 'keep', // the network took it
  [MessageState.REJECTED]: 'refund', // the network refused it
  [MessageState.UNDELIVERABLE]: 'refund', // the network could not deliver it
  [MessageState.EXPIRED]: 'refund', // validity ran out: waiting for a connector, a retry or a receipt, or upstream
  [MessageState.DELETED]: 'refund', // deleted by an upstream (its receipt), not by the customer
  [MessageState.UNKNOWN]: 'refund', // no one can show it was delivered
  [MessageState.SKIPPED]: 'refund', // SMPP 5.0: accepted but never sent on the network
}
export const MESSAGE_ID_FORMATS = ['decimal', 'hex'] as const

/** The settings of an account (engine/wire.ts documents each); here the outbind setting keeps its password. */
export interface AccountSettings extends Omit<AccountSettingsView, 'outbind'> {
  /**
   * Where the SMSC connects to ask this ESME to bind (SMPP 3.4 §2.2.1 outbind) when receipts or MO wait
   * and no receiver is bound (engine/session/outbind.ts); null = never. `password` is the one the SMSC
   * sends in the outbind PDU so the ESME can tell it is this SMSC ('' = none).
   */
  outbind: OutbindSetting | null
}

export interface OutbindSetting { host: string; port: number; tls: boolean; password: string }

export interface Account extends AccountSettings {
  systemId: string
  passwordHash: string
  createdAt: number
  updatedAt: number
  /**
   * The key the account's webhook POSTs are signed with (HMAC-SHA256, engine/webhook.ts): made when its
   * webhooks are first set (or at start for an account that has webhooks and none), replaced on request
   * (Admin.rotateWebhookSecret). Shown only when made; never in a view or the audit. Absent: none yet.
   */
  webhookSecret?: string | null
  /**
   * Per webhook, true when its URL was set by the operator (config file, CLI, admin login): the SSRF guard
   * (engine/webhook-target.ts) does not apply to it. Absent (also in records older than the guard): false.
   */
  webhooksByOperator?: { receipts: boolean; mo: boolean }
}

/** A SHA-256 certificate fingerprint as Node's TLS gives it (fingerprint256: "AB:CD:…", upper case), from 64 hex
 *  digits with or without ':' between pairs (openssl prints "sha256 Fingerprint=AB:CD:…"); null if it is not one. */
export function fingerprint(text: string): string | null {
  const hex = text.trim().replace(/^sha256 fingerprint=/i, '').replace(/:/g, '').toUpperCase()
  return /^[0-9A-F]{64}$/.test(hex) ? hex.match(/../g)!.join(':') : null
}

/** The keys of AccountSettings, in documentation order. */
export const SETTINGS_KEYS = [
  'role', 'parent', 'group', 'suspended', 'maxBinds', 'windowSize', 'allowedIps', 'clientCerts', 'allowedSources', 'rateLimit',
  'dailyQuota', 'registeredDelivery', 'validity', 'messageIdFormat', 'receiptPolicy', 'settlement', 'prepaid', 'webhooks',
  'outbind',
] as const satisfies readonly (keyof AccountSettings)[]

// Validity defaults match the session's (engine/session/submit.ts DEFAULT_LIMITS).
const DEFAULT_VALIDITY_MS = 48 * 3_600_000
const MAX_VALIDITY_MS = 7 * 24 * 3_600_000
const VALIDITY_LIMIT_MS = 366 * 24 * 3_600_000 // longest validity an account may be given
const MAX_CREDIT = 1_000_000_000_000 // units; keeps micro-unit arithmetic within 2^53

/** Settings a new account gets when a field is not given (the engine passes maxBinds/windowSize/messageIdFormat from its config). */
export function defaultSettings(base: { maxBinds: number; windowSize: number; messageIdFormat: 'decimal' | 'hex' }): AccountSettings {
  return {
    role: 'user',
    parent: null,
    group: null,
    suspended: false,
    maxBinds: base.maxBinds,
    windowSize: base.windowSize,
    allowedIps: [],
    clientCerts: [],
    allowedSources: [],
    rateLimit: null,
    dailyQuota: null,
    registeredDelivery: 0,
    validity: { defaultMs: DEFAULT_VALIDITY_MS, maxMs: MAX_VALIDITY_MS },
    messageIdFormat: base.messageIdFormat,
    receiptPolicy: 'every',
    settlement: 'submit',
    prepaid: false,
    webhooks: { receipts: null, mo: null },
    outbind: null,
  }
}

// ---------------------------------------------------------------------------------------------
// Input checking

/** An account input object: the keys given, checked. `credit` is the opening balance (given ⇒ prepaid true). */
export interface AccountInput extends Partial<AccountSettings> { systemId?: string; password?: string; credit?: number }

export type AccountInputCode = 'SMSC_ERR_CONFIG_INVALID' | 'SMSC_ERR_API_INVALID'

const INPUT_KEYS: readonly string[] = ['systemId', 'password', 'credit', ...SETTINGS_KEYS]

type Obj = Record<string, unknown>

const PRINTABLE = /^[\x20-\x7e]*$/

/**
 * Checks the fields of an account input object (config file entry, API body, CLI flags turned into an object).
 * Unknown key, bad type or range → throws SmscError(code) with ONE line naming `${path}.${key}` and the problem,
 * with the value (never a password's). Returns only the keys given (undefined counts as absent).
 */
export function checkAccountInput(v: unknown, path: string, code: AccountInputCode): AccountInput {
  const fail = (message: string): never => { throw new SmscError(code, message) }
  if (!isPlainObject(v)) fail(`${path} must be an object (got ${showValue(v)})`)
  const o = v as Obj
  for (const k of Object.keys(o)) if (!INPUT_KEYS.includes(k)) fail(`${at(path, k)} is not a known key`)
  const out: AccountInput = {}
  const p = (k: string): string => at(path, k)

  const int = (x: unknown, where: string, min: number, max: number): number => {
    if (typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max) return x
    const rule = max === Number.MAX_SAFE_INTEGER ? (min === 0 ? 'a non-negative integer' : 'a positive integer') : `an integer between ${min} and ${max}`
    return fail(`${where} must be ${rule} (got ${showValue(x)})`)
  }
  const bool = (x: unknown, where: string): boolean => (typeof x === 'boolean' ? x : fail(`${where} must be true or false (got ${showValue(x)})`))
  const oneOf = <T extends string>(x: unknown, where: string, values: readonly T[]): T =>
    typeof x === 'string' && (values as readonly string[]).includes(x)
      ? (x as T)
      : fail(`${where} must be one of ${values.map((y) => JSON.stringify(y)).join(', ')} (got ${showValue(x)})`)
  const systemIdText = (x: unknown, where: string): string => {
    // SMPP 3.4 §5.2.1 system_id: C-Octet String of max 16 including the NUL → 1..15 characters
    if (typeof x === 'string' && x.length >= 1 && x.length <= 15 && PRINTABLE.test(x)) {
      // Audit and ledger entries name a staff login `staff:<name>` (engine/admin.ts actor): no account may look like one.
      if (x.startsWith('staff:')) return fail(`${where} must not start with "staff:" (audit entries name staff logins so) (got ${showValue(x)})`)
      return x
    }
    return fail(`${where} must be 1 to 15 printable ASCII characters (got ${showValue(x)})`)
  }
  const sub = (x: unknown, where: string, keys: readonly string[], what: string): Obj => {
    if (!isPlainObject(x)) fail(`${where} must be an object ${what} (got ${showValue(x)})`)
    for (const k of Object.keys(x as Obj)) if (!keys.includes(k)) fail(`${at(where, k)} is not a known key`)
    return x as Obj
  }
  const list = (x: unknown, where: string, what: string): unknown[] =>
    Array.isArray(x) ? x : fail(`${where} must be an array of ${what} (got ${showValue(x)})`)

  if (o.systemId !== undefined) out.systemId = systemIdText(o.systemId, p('systemId'))
  if (o.password !== undefined) {
    // SMPP 3.4 §5.2.2 password: C-Octet String of max 9 including the NUL → 1..8 characters. Never echoed.
    const x = o.password
    if (typeof x !== 'string') fail(`${p('password')} must be a string (got ${typeof x === 'object' ? (x === null ? 'null' : 'object') : typeof x})`)
    const s = x as string
    if (s.length < 1 || s.length > 8) fail(`${p('password')} must be 1 to 8 characters (got ${s.length})`)
    if (!PRINTABLE.test(s)) fail(`${p('password')} must be printable ASCII`)
    out.password = s
  }
  if (o.credit !== undefined) {
    const x = o.credit
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > MAX_CREDIT) {
      fail(`${p('credit')} must be a number between 0 and ${MAX_CREDIT} (got ${showValue(x)})`)
    }
    if (o.prepaid === false) fail(`${p('credit')} needs prepaid true (got prepaid false)`)
    out.credit = x as number
    out.prepaid = true
  }
  if (o.role !== undefined) out.role = oneOf(o.role, p('role'), ROLES)
  if (o.parent !== undefined) out.parent = o.parent === null ? null : systemIdText(o.parent, p('parent'))
  if (o.group !== undefined) {
    const x = o.group
    if (x !== null && !(typeof x === 'string' && x.length >= 1 && x.length <= 32 && PRINTABLE.test(x))) {
      fail(`${p('group')} must be 1 to 32 printable ASCII characters, or null (got ${showValue(x)})`)
    }
    out.group = x as string | null
  }
  if (o.suspended !== undefined) out.suspended = bool(o.suspended, p('suspended'))
  if (o.maxBinds !== undefined) out.maxBinds = int(o.maxBinds, p('maxBinds'), 1, 10_000)
  if (o.windowSize !== undefined) out.windowSize = int(o.windowSize, p('windowSize'), 1, 65_535)
  if (o.allowedIps !== undefined) {
    const where = p('allowedIps')
    out.allowedIps = list(o.allowedIps, where, 'IP addresses or CIDR blocks').map((x, i) => {
      if (typeof x !== 'string' || parseCidr(x) === null) fail(`${where}[${i}] must be an IPv4 or IPv6 address or CIDR block (got ${showValue(x)})`)
      return x as string
    })
  }
  if (o.clientCerts !== undefined) {
    const where = p('clientCerts')
    out.clientCerts = list(o.clientCerts, where, 'SHA-256 certificate fingerprints').map((x, i) => {
      const fp = typeof x === 'string' ? fingerprint(x) : null
      return fp ?? fail(`${where}[${i}] must be a certificate's SHA-256 fingerprint: 64 hex digits, pairs may be separated by ':' (openssl x509 -noout -fingerprint -sha256) (got ${showValue(x)})`)
    })
  }
  if (o.allowedSources !== undefined) {
    const where = p('allowedSources')
    out.allowedSources = list(o.allowedSources, where, 'sender ids').map((x, i) => {
      // SMPP 3.4 §5.2.8 source_addr: C-Octet String of max 21 including the NUL → 1..20 characters
      if (typeof x !== 'string' || x.length < 1 || x.length > 20 || !PRINTABLE.test(x) || x.slice(0, -1).includes('*')) {
        fail(`${where}[${i}] must be a sender id of 1 to 20 printable ASCII characters, '*' only at the end (got ${showValue(x)})`)
      }
      return x as string
    })
  }
  if (o.rateLimit !== undefined) {
    const where = p('rateLimit')
    if (o.rateLimit === null) out.rateLimit = null
    else {
      const r = sub(o.rateLimit, where, ['perSecond', 'burst'], '{ perSecond, burst } or null')
      const ps = r.perSecond
      if (ps === undefined) fail(`${at(where, 'perSecond')} is required`)
      if (typeof ps !== 'number' || !Number.isFinite(ps) || ps <= 0 || ps > 1_000_000) {
        fail(`${at(where, 'perSecond')} must be a number > 0 and <= 1000000 (got ${showValue(ps)})`)
      }
      const burst = r.burst === undefined ? Math.max(1, Math.ceil(ps as number)) : int(r.burst, at(where, 'burst'), 1, 10_000_000)
      out.rateLimit = { perSecond: ps as number, burst }
    }
  }
  if (o.dailyQuota !== undefined) {
    out.dailyQuota = o.dailyQuota === null ? null : int(o.dailyQuota, p('dailyQuota'), 0, Number.MAX_SAFE_INTEGER)
  }
  if (o.registeredDelivery !== undefined) {
    // SMPP 3.4 §5.2.17: 0 = no receipt, 1 = receipt on final outcome (the default for HTTP/console submits)
    const x = o.registeredDelivery
    if (x !== 0 && x !== 1) fail(`${p('registeredDelivery')} must be 0 or 1 (got ${showValue(x)})`)
    out.registeredDelivery = x as number
  }
  if (o.validity !== undefined) {
    const where = p('validity')
    const r = sub(o.validity, where, ['defaultMs', 'maxMs'], '{ defaultMs, maxMs }')
    if (r.defaultMs === undefined) fail(`${at(where, 'defaultMs')} is required`)
    if (r.maxMs === undefined) fail(`${at(where, 'maxMs')} is required`)
    const defaultMs = int(r.defaultMs, at(where, 'defaultMs'), 1_000, VALIDITY_LIMIT_MS)
    const maxMs = int(r.maxMs, at(where, 'maxMs'), 1_000, VALIDITY_LIMIT_MS)
    if (defaultMs > maxMs) fail(`${at(where, 'defaultMs')} must be <= maxMs (got ${defaultMs} > ${maxMs})`)
    out.validity = { defaultMs, maxMs }
  }
  if (o.messageIdFormat !== undefined) out.messageIdFormat = oneOf(o.messageIdFormat, p('messageIdFormat'), MESSAGE_ID_FORMATS)
  if (o.receiptPolicy !== undefined) out.receiptPolicy = oneOf(o.receiptPolicy, p('receiptPolicy'), RECEIPT_POLICIES)
  if (o.settlement !== undefined) out.settlement = oneOf(o.settlement, p('settlement'), SETTLEMENTS)
  if (o.prepaid !== undefined) out.prepaid = bool(o.prepaid, p('prepaid'))
  if (o.webhooks !== undefined) {
    const where = p('webhooks')
    const r = sub(o.webhooks, where, ['receipts', 'mo'], '{ receipts, mo }')
    const url = (k: 'receipts' | 'mo'): string | null => {
      const x = r[k]
      // a key left out is none (an update keeps the account's own instead: engine/admin.ts webhooksInput)
      if (x === undefined || x === null) return null
      if (typeof x === 'string' && x.length <= 2048) {
        try {
          const u = new URL(x)
          if ((u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '') return x
        } catch { /* reported below */ }
      }
      return fail(`${at(where, k)} must be an http(s) URL or null (got ${showValue(x)})`)
    }
    out.webhooks = { receipts: url('receipts'), mo: url('mo') }
  }
  if (o.outbind !== undefined) {
    const where = p('outbind')
    if (o.outbind === null) out.outbind = null
    else {
      const r = sub(o.outbind, where, ['host', 'port', 'tls', 'password'], '{ host, port, tls, password } or null')
      const host = r.host
      if (host === undefined) fail(`${at(where, 'host')} is required`)
      if (typeof host !== 'string' || host.length < 1 || host.length > 253 || !/^[A-Za-z0-9.:_%-]+$/.test(host)) {
        fail(`${at(where, 'host')} must be a host name or IP address (got ${showValue(host)})`)
      }
      if (r.port === undefined) fail(`${at(where, 'port')} is required`)
      const port = int(r.port, at(where, 'port'), 1, 65_535)
      const tls = r.tls === undefined ? false : bool(r.tls, at(where, 'tls'))
      // SMPP 3.4 §4.1.7.1 outbind password: C-Octet String of max 9 including the NUL → 0..8 characters. Never echoed.
      const pw = r.password === undefined ? '' : r.password
      if (typeof pw !== 'string' || pw.length > 8 || !PRINTABLE.test(pw)) fail(`${at(where, 'password')} must be 0 to 8 printable ASCII characters`)
      out.outbind = { host: host as string, port, tls, password: pw as string }
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Policy predicates

interface Cidr { bytes: Uint8Array; prefix: number }

const cidrCache = new Map<string, Cidr | null>()

/** 16 bytes; IPv4 as the IPv4-mapped IPv6 address ::ffff:a.b.c.d, so '::ffff:1.2.3.4' and '1.2.3.4' are the same host. */
export function parseIp(s: string): Uint8Array | null {
  const zone = s.indexOf('%') // fe80::1%eth0: the zone is not part of the address
  if (zone !== -1) s = s.slice(0, zone)
  const out = new Uint8Array(16)
  if (isIPv4(s)) {
    out[10] = 0xff
    out[11] = 0xff
    const q = s.split('.')
    for (let i = 0; i < 4; i++) out[12 + i] = Number(q[i])
    return out
  }
  if (!isIPv6(s)) return null
  const groups: number[] = []
  const side = (part: string): number[] => {
    if (part === '') return []
    const g: number[] = []
    for (const x of part.split(':')) {
      if (x.includes('.')) {
        const q = x.split('.').map(Number)
        g.push((q[0] << 8) | q[1], (q[2] << 8) | q[3])
      } else g.push(parseInt(x, 16))
    }
    return g
  }
  const dbl = s.indexOf('::')
  if (dbl === -1) groups.push(...side(s))
  else {
    const left = side(s.slice(0, dbl))
    const right = side(s.slice(dbl + 2))
    groups.push(...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right)
  }
  if (groups.length !== 8) return null
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i] >> 8
    out[2 * i + 1] = groups[i] & 0xff
  }
  return out
}

/** 'a.b.c.d', 'a.b.c.d/n' (0..32), an IPv6 address, or 'x::y/n' (0..128); null if none of those. */
function parseCidr(s: string): Cidr | null {
  const cached = cidrCache.get(s)
  if (cached !== undefined) return cached
  let result: Cidr | null = null
  const slash = s.indexOf('/')
  const addr = slash === -1 ? s : s.slice(0, slash)
  const bytes = addr.includes('%') ? null : parseIp(addr)
  if (bytes !== null) {
    const v4 = isIPv4(addr)
    const width = v4 ? 32 : 128
    const prefixText = slash === -1 ? String(width) : s.slice(slash + 1)
    if (/^\d{1,3}$/.test(prefixText) && Number(prefixText) <= width) result = { bytes, prefix: Number(prefixText) + (v4 ? 96 : 0) }
  }
  if (cidrCache.size > 10_000) cidrCache.clear()
  cidrCache.set(s, result)
  return result
}

function inCidr(ip: Uint8Array, c: Cidr): boolean {
  const full = c.prefix >> 3
  for (let i = 0; i < full; i++) if (ip[i] !== c.bytes[i]) return false
  const rest = c.prefix & 7
  if (rest === 0) return true
  const mask = (0xff << (8 - rest)) & 0xff
  return (ip[full] & mask) === (c.bytes[full] & mask)
}

/** True if `remote` (a socket's remoteAddress: IPv4, IPv6, or IPv4-mapped '::ffff:1.2.3.4') is in one of the blocks; [] = any. */
/** An IPv4 or IPv6 address or CIDR block, as allowedIps takes them. */
export const isCidr = (s: unknown): boolean => typeof s === 'string' && parseCidr(s) !== null

export function ipAllowed(allowedIps: readonly string[], remote: string): boolean {
  if (allowedIps.length === 0) return true
  const ip = parseIp(remote)
  if (ip === null) return false
  for (const s of allowedIps) {
    const c = parseCidr(s)
    if (c !== null && inCidr(ip, c)) return true
  }
  return false
}

/** True if `source` equals an entry, or starts with an entry's text before a final '*'; [] = any. */
export function sourceAllowed(allowedSources: readonly string[], source: string): boolean {
  if (allowedSources.length === 0) return true
  for (const s of allowedSources) {
    if (s.endsWith('*') ? source.startsWith(s.slice(0, -1)) : source === s) return true
  }
  return false
}

// ---------------------------------------------------------------------------------------------
// A reseller's limits bound its users (docs/ACCOUNTS.md "A reseller's limits bound its users")

/** The settings whose value a reseller may give its users only within its own. */
export const BOUNDED_KEYS = ['allowedSources', 'rateLimit', 'dailyQuota', 'maxBinds', 'windowSize'] as const
export type BoundedKey = (typeof BOUNDED_KEYS)[number]

/** What a reseller's bounds are read from. */
export type ResellerBounds = Pick<AccountSettings, BoundedKey> & { systemId: string }

/**
 * True if every sender id `entry` allows is one `bound` allows (entries as in allowedSources: an id, or a
 * prefix ending in '*'): 'RES1', 'RES1*' and 'RES*' are within 'RES*'; 'RES*' is not within 'RES1*' nor 'RES'.
 */
export function sourceWithin(entry: string, bound: string): boolean {
  if (!bound.endsWith('*')) return entry === bound
  const prefix = bound.slice(0, -1)
  return (entry.endsWith('*') ? entry.slice(0, -1) : entry).startsWith(prefix)
}

const rateText = (r: { perSecond: number; burst: number }): string => `${r.perSecond}/s, burst ${r.burst}`

/**
 * Why `value` (a user's setting `key`) is more than `reseller` may give its users, as the end of a one-line
 * message (`"BANKOFX" is not within res1's allowed sources (RES*)`); null when it is within. The rules:
 * allowedSources: when the reseller has a list, the user's is not empty ([] = any) and each entry is within
 * one of the reseller's (sourceWithin); rateLimit: not unlimited (null) when the reseller has one, perSecond
 * and burst at most the reseller's; dailyQuota: not unlimited when the reseller has one, at most it;
 * maxBinds, windowSize: at most the reseller's.
 */
export function beyondReseller<K extends BoundedKey>(key: K, value: AccountSettings[K], reseller: ResellerBounds): string | null {
  const who = reseller.systemId
  switch (key) {
    case 'allowedSources': {
      const bound = reseller.allowedSources
      if (bound.length === 0) return null
      const list = value as string[]
      const shown = bound.join(', ')
      if (list.length === 0) return `an empty list (any sender id) is not within ${who}'s allowed sources (${shown})`
      for (const e of list) if (!bound.some((b) => sourceWithin(e, b))) return `${JSON.stringify(e)} is not within ${who}'s allowed sources (${shown})`
      return null
    }
    case 'rateLimit': {
      const bound = reseller.rateLimit
      if (bound === null) return null
      const r = value as AccountSettings['rateLimit']
      const tail = `is more than ${who}'s rate limit (${rateText(bound)})`
      if (r === null) return `unlimited ${tail}`
      if (r.perSecond > bound.perSecond) return `${r.perSecond}/s ${tail}`
      if (r.burst > bound.burst) return `burst ${r.burst} ${tail}`
      return null
    }
    case 'dailyQuota': {
      const bound = reseller.dailyQuota
      if (bound === null) return null
      const q = value as number | null
      if (q === null) return `unlimited is more than ${who}'s daily quota (${bound})`
      return q > bound ? `${q} is more than ${who}'s daily quota (${bound})` : null
    }
    case 'maxBinds':
    case 'windowSize': {
      const bound = reseller[key as 'maxBinds' | 'windowSize']
      const n = value as number
      return n > bound ? `${n} is more than ${who}'s ${key === 'maxBinds' ? 'max binds' : 'window size'} (${bound})` : null
    }
  }
  return null
}

/** The bounded settings of `user` that are more than its reseller's (set by the operator, or before the reseller's were lowered). */
export function exceedsReseller(user: Pick<AccountSettings, BoundedKey>, reseller: ResellerBounds): BoundedKey[] {
  return BOUNDED_KEYS.filter((k) => beyondReseller(k, user[k], reseller) !== null)
}

/**
 * The bounded settings a new user of `reseller` gets when they are not given: the reseller's own (maxBinds and
 * windowSize: the engine default when that is lower), so a user created without them is within its reseller.
 */
export function inheritedBounds(reseller: ResellerBounds, defaults: Pick<AccountSettings, BoundedKey>): Pick<AccountSettings, BoundedKey> {
  return {
    allowedSources: reseller.allowedSources.length > 0 ? [...reseller.allowedSources] : [...defaults.allowedSources],
    rateLimit: reseller.rateLimit !== null ? { ...reseller.rateLimit } : defaults.rateLimit,
    dailyQuota: reseller.dailyQuota ?? defaults.dailyQuota,
    maxBinds: Math.min(defaults.maxBinds, reseller.maxBinds),
    windowSize: Math.min(defaults.windowSize, reseller.windowSize),
  }
}

// ---------------------------------------------------------------------------------------------
// Who is acting

/**
 * The operator (the built-in admin login, or the CLI; or a staff login, engine/staff.ts, with its `staff` role:
 * 'viewer' is read-only) or an account login (reseller or user).
 */
export type Principal = { role: 'operator'; systemId: null; name: string; staff?: 'admin' | 'viewer' } | { role: Role; systemId: string; name: string }
export const OPERATOR: Principal = Object.freeze({ role: 'operator', systemId: null, name: 'admin' }) as Principal
/** A viewer's login (a read-only staff user): engine/http.ts refuses it every method but GET. */
export const isReadOnly = (p: Principal): boolean => p.role === 'operator' && p.staff === 'viewer'
