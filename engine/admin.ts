/**
 * The Admin service: the one place account, credit, route, API-key, opt-out list, admin-password, staff-login and connector stop/start changes happen. The HTTP API, the
 * CLI and the engine all call it, so scope rules, validation and the audit trail are the same for all.
 *
 * Scope (who may do what):
 *   operator  everything
 *   reseller  sees itself and its users; creates users (role 'user', parent = itself); changes its users'
 *             limits (RESELLER_KEYS), suspends/removes them; moves credit between itself and its users;
 *             changes its own password, webhooks and API keys. It gives its users limits only within its
 *             own (BOUNDED_KEYS, accounts.ts beyondReseller): allowed sources within its list, rate, quota,
 *             binds and window at most its own; a user created without them gets its reseller's
 *             (inheritedBounds, also when the operator creates a user under a reseller). The operator is
 *             not bound; a view lists what a user has beyond its reseller (`exceedsReseller`).
 *   user      sees itself; changes its own webhooks, password and API keys
 * Opt-out lists (engine/optouts.ts): the global one is the operator's; an account's list is managed by whoever
 * may see the account (a reseller its own and its users', a user its own).
 * A staff login (engine/staff.ts) acts as the operator under its own name (the audit's `by`); a viewer's changes
 * never get here (engine/http.ts refuses them). Staff users are the operator's to manage (addStaff …).
 * Webhooks: a URL a reseller or user sets must point at a public address (the SSRF guard,
 * engine/webhook-target.ts: literal addresses and local names are refused here, names are checked again
 * after resolution at send time) unless config webhooks.allowPrivateTargets; the operator's are not
 * checked (Account.webhooksByOperator). An account's webhook POSTs are signed with its webhook secret,
 * made when webhooks are first set (returned once, `webhookSecret`) and replaced by rotateWebhookSecret.
 * Out of scope → SMSC_ERR_ADMIN_FORBIDDEN (also for an account that does not exist, so a reseller cannot
 * probe for other resellers' accounts; and for a reseller giving a user more than its own, naming the field
 * and the bound: `account.allowedSources: "BANKOFX" is not within res1's allowed sources (RES*)`); the operator gets SMSC_ERR_AUTH_SYSTEM_ID for an unknown account.
 * Bad input → SMSC_ERR_API_INVALID with one line naming the field; a transfer the balance does not cover →
 * SMSC_ERR_CREDIT_EXHAUSTED.
 *
 * Every change is ONE deps.commit() carrying the change (account record, ledger entries, meta, keys) and its
 * AuditEntry, so the audit log never misses a change nor records one that did not happen. Credit moves
 * debit in memory first (Ledger, synchronous: never overdraws) and are reverted if the commit fails; the
 * balance after each entry is the store's (committed entries only), on the entry, not in the audit detail.
 * A removed account's systemId is never given to a new account (its history stays under that id).
 */
import { createHash, randomBytes, randomInt } from 'node:crypto'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import {
  BOUNDED_KEYS, OPERATOR, beyondReseller, isReadOnly, checkAccountInput, exceedsReseller, inheritedBounds, type Account, type AccountInput,
  type AccountSettings, type Principal, SETTINGS_KEYS,
} from './accounts'
import { ADMIN_HASH_KEY, generateAdminPassword } from './auth'
import { redact } from './webhook'
import { STAFF_ROLES, getStaff, listStaff, staffMetaKey, staffNameProblem, staffPasswordProblem, staffView, type StaffRole, type StaffUser, type StaffView } from './staff'
import { showValue } from './config'
import { ADMIN_CREDENTIAL, accountCredential, forgetInitialCredential } from './dirs'
import { smscError } from './errors'
import type { Ledger, LedgerEntry } from './ledger'
import { DEFAULT_ROUTES, routingLossText, routingLost, validateRouteTables, type RouteTables } from './routing'
import { GLOBAL, MAX_PER_LIST, MAX_PER_REQUEST, MAX_TOTAL, normaliseNumber, numberProblem, type OptOutChange } from './optouts'
import { Store, within, type CommitBatch } from './store'
import type { AccountView, BackupState, OptOutFind, OptOutPage, OutbindView } from './wire'
import { urlTargetRefusal } from './webhook-target'
import { addCounts, dayOf, dayProblem, daysBetween, emptyCounts, parseDay, reportRange, storedTraffic, type TrafficDay, type TrafficDayRows, type TrafficSource } from './daily-stats'

export type { AccountView, BackupState, OutbindView } from './wire'

/**
 * Who made a change, as audit and ledger entries record it: an account's systemId, `admin` (the built-in
 * operator), or `staff:<name>` for a staff login, so a staff user and an account of the same name are told
 * apart. Customers (resellers, users) see a staff user's entries as `admin`: staff names stay the operator's.
 */
export const actor = (p: Principal): string => (p.role === 'operator' && p.staff !== undefined ? `staff:${p.name}` : p.name)
export const isStaffActor = (by: string): boolean => by.startsWith('staff:')
/** `by` as a reseller or user sees it: a staff user's name is `admin`. */
export const customerBy = (by: string): string => (isStaffActor(by) ? OPERATOR.name : by)
const forCustomer = <T extends { by: string }>(e: T): T => (isStaffActor(e.by) ? { ...e, by: OPERATOR.name } : e)

export interface AuditEntry {
  seq?: number
  t: number
  /** Who: an account's systemId, 'admin', or 'staff:<name>' (actor()). */
  by: string
  /** 'account.create', 'account.update', 'account.suspend', 'account.resume', 'account.remove', 'account.password',
   *  'account.webhook-secret', 'credit.transfer', 'credit.adjust', 'apikey.create', 'apikey.revoke', 'routes.set', 'admin.password',
   *  'store.backup', 'staff.add', 'staff.update', 'staff.remove', 'staff.password' (target: the staff user's name),
   *  'connector.stop', 'connector.start' (target: the connector's id), 'optout.add', 'optout.remove' (target: the account
   *  whose list; by `mo:<keyword>` when an MO route changed it), 'global-optout.add', 'global-optout.remove' (target 'global'; detail: count and the first numbers) */
  action: string
  target: string
  /** Never a secret. `owner` is the target's reseller at the time (so a reseller sees entries of removed users). */
  detail?: Record<string, unknown>
}

/** The name backup() gives a backup under backupsDir: its UTC time, then 6 random hex digits. */
const BACKUP_NAME = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/

export interface AdminDeps {
  store: Store
  ledger: Ledger
  now(): number
  /** The engine's commit (group commit in the running engine; store.commit when offline). */
  commit(batch: CommitBatch): Promise<void>
  defaults: AccountSettings
  /** Known connector ids, for route validation. */
  connectors(): ReadonlySet<string>
  /** Called after a committed change so the engine applies it live (rate limits, suspend → unbind, routes → routers):
   *  the account's new version (null: removed), what was done (the audit action) and by whom. */
  onAccountChanged?(systemId: string, account: Account | null, change?: { action: string; by: string; parent: string | null }): void
  /** `warnings`: what the old MT table routed and the new one does not (routingLossText), for the log. */
  onRoutesChanged?(tables: RouteTables, warnings: string[]): void
  /** A connector stopped or started by the operator (committed): the running engine applies it (resolves once its link is closed or opening). */
  onConnectorStopped?(id: string, stopped: boolean, by: string): Promise<void> | void
  /** Live usage of an account (the running engine gives it; the offline CLI does not). */
  usage?(systemId: string): { binds: number; quotaUsedToday: number | null; pendingDeliveries: number; receivers: number }
  /** The settings the config file gives for an account: applied again at every start (configKeysOf). */
  configKeys?(systemId: string): readonly string[]
  /** Config webhooks.allowPrivateTargets: webhooks set by resellers and users may point at private addresses. */
  allowPrivateWebhookTargets?: boolean
  /** The data dir: a changed generated password leaves its `initial-credentials` file (forgetInitialCredential). */
  dataDir?: string
  /** Where backup() writes when given no directory (`<dataDir>/backups`). */
  backupsDir?: string
  /** Backups there beyond the latest this many are removed after each new one (config store.backupsKept); 0 keeps all. */
  backupsKept?: number
  /** The daily traffic buckets (engine/daily-stats.ts): the running engine's, counted up to the last second; else the store's. */
  traffic?: TrafficSource
}

/** Per account listed in the config file, the settings it gives there (they win at every start, engine/index.ts). */
export function configKeysOf(accounts: readonly Record<string, unknown>[]): (systemId: string) => readonly string[] {
  const keys = new Map(accounts.map((a) => [a.systemId as string, Object.keys(a).filter((k) => k !== 'systemId' && k !== 'password' && k !== 'credit' && a[k] !== undefined)]))
  return (systemId) => keys.get(systemId) ?? []
}

/** Settings a reseller may change on its users. */
export const RESELLER_KEYS: readonly (keyof AccountSettings)[] = [
  'rateLimit', 'dailyQuota', 'windowSize', 'maxBinds', 'allowedIps', 'clientCerts', 'allowedSources', 'validity',
  'registeredDelivery', 'receiptPolicy', 'webhooks', 'suspended',
]
/** Settings an account may change on itself: where its events go, and whether its HTTP sends ask for receipts by default. */
export const SELF_KEYS: readonly (keyof AccountSettings)[] = ['webhooks', 'registeredDelivery']

const ROUTES_META = 'routes'
/** meta key marking a connector the operator stopped: it stays stopped across restarts until started. */
export const CONNECTOR_STOPPED_META = (id: string) => `connector-stopped:${id}`
/** meta key marking a systemId a removed account used (its messages, ledger and balance stay as history). */
const REMOVED_META = (systemId: string) => `account.removed:${systemId}`
const PAGE_DEFAULT = 100
/** Audit actions about an account (the only ones a reseller or user may see, engine/admin.ts audit()). */
const ACCOUNT_ACTION = /^(account|credit|apikey|optout)\./
const PAGE_MAX = 1000
const AUDIT_SCAN_MAX = 100_000 // entries a reseller's audit query reads at most to fill one page
const TRANSFER_KEYS = ['to', 'amount', 'from', 'reason']
/** Numbers an opt-out change's audit entry names (its detail has the count of all). */
const AUDIT_NUMBERS = 20
const MAX_AMOUNT = 1_000_000_000_000
const PASSWORD_ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789' // no look-alikes (0/O, 1/l/I)

function invalid(message: string): never {
  throw smscError('SMSC_ERR_API_INVALID', message)
}
function forbidden(message: string): never {
  throw smscError('SMSC_ERR_ADMIN_FORBIDDEN', message)
}

function throwNotFound(message: string): never {
  throw smscError('SMSC_ERR_STAFF_NOT_FOUND', message)
}

/** A staff user's fields given (`keys` are the ones taken), checked: one line naming the field on the first problem. */
function staffInput(v: unknown, keys: readonly ('user' | 'role' | 'password')[]): { user?: string; role?: StaffRole; password?: string } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) invalid(`body must be a JSON object (got ${showValue(v)})`)
  const o = v as Record<string, unknown>
  for (const k of Object.keys(o)) if (!(keys as readonly string[]).includes(k)) invalid(`${k} is not a known field (${keys.join(', ')})`)
  const out: { user?: string; role?: StaffRole; password?: string } = {}
  if (o.user !== undefined) out.user = (staffNameProblem(o.user) === null ? o.user : invalid(staffNameProblem(o.user) as string)) as string
  if (o.role !== undefined) {
    if (!(STAFF_ROLES as readonly unknown[]).includes(o.role)) invalid(`role must be ${STAFF_ROLES.map((r) => JSON.stringify(r)).join(' or ')} (got ${showValue(o.role)})`)
    out.role = o.role as StaffRole
  }
  if (o.password !== undefined) {
    const bad = staffPasswordProblem(o.password)
    if (bad !== null) invalid(bad)
    out.password = o.password as string
  }
  return out
}

/** An 8-character password (SMPP 3.4 §5.2.2: at most 8). */
export function generatePassword(): string {
  let s = ''
  for (let i = 0; i < 8; i++) s += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)]
  return s
}

/** A webhook secret: `whsec_` and 32 random bytes in base64url (the HMAC key is the whole string). */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`
}

const hasWebhook = (w: AccountSettings['webhooks']): boolean => w.receipts !== null || w.mo !== null

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

function page(q: { limit?: number; before?: number } | undefined): { limit: number; before?: number } {
  const limit = q?.limit ?? PAGE_DEFAULT
  if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_MAX) invalid(`limit must be an integer between 1 and ${PAGE_MAX} (got ${showValue(limit)})`)
  const before = q?.before
  if (before !== undefined && (!Number.isInteger(before) || before < 1)) invalid(`before must be a positive integer (got ${showValue(before)})`)
  return before === undefined ? { limit } : { limit, before }
}

export class Admin {
  // Accounts whose change is being committed (null: being removed): later changes build on these, so two
  // changes in flight never lose one another; creates in flight reserve their systemId.
  private readonly inflight = new Map<string, Account | null>()
  /** Staff users being changed (their password is being hashed): one change at a time per name. */
  private readonly staffInflight = new Set<string>()

  constructor(private readonly deps: AdminDeps) {}

  // ---- reads -------------------------------------------------------------------------------------------

  list(p: Principal): AccountView[] {
    const all = this.deps.store.listAccounts()
    const children = childCounts(all)
    const mine = p.role === 'operator' ? all
      : p.role === 'reseller' ? all.filter((a) => a.systemId === p.systemId || a.parent === p.systemId)
      : all.filter((a) => a.systemId === p.systemId)
    return mine.map((a) => this.view(a, children.get(a.systemId) ?? 0, isReadOnly(p)))
  }

  get(p: Principal, systemId: string): AccountView {
    const a = this.visible(p, systemId)
    return this.view(a, a.role === 'reseller' ? this.childrenOf(a.systemId).length : 0, isReadOnly(p))
  }

  /** True if `p` may see `systemId` (the operator: every account; a reseller: itself and its users; a user: itself). */
  canSee(p: Principal, systemId: string): boolean {
    if (p.role === 'operator') return true
    if (systemId === p.systemId) return true
    if (p.role === 'user') return false
    return this.current(systemId)?.parent === p.systemId
  }

  // ---- account changes ---------------------------------------------------------------------------------

  /** A new account; `webhookSecret` when it has webhooks (shown only here). */
  async create(p: Principal, input: unknown): Promise<{ account: AccountView; password: string; webhookSecret?: string }> {
    if (p.role === 'user') forbidden(`${p.name} may not create accounts`)
    const inp = checkAccountInput(outbindInput(input, null), 'account', 'SMSC_ERR_API_INVALID')
    if (inp.systemId === undefined) invalid('account.systemId is required')
    const systemId = inp.systemId
    let parent: Account | null = null
    if (p.role === 'reseller') {
      // A reseller creates users it owns, with its own credit mode, settlement and group.
      const self = this.current(p.systemId) ?? forbidden(`${p.name} is not an account`)
      if (inp.role !== undefined && inp.role !== 'user') forbidden(`account.role: a reseller creates only users (got ${showValue(inp.role)})`)
      if (inp.parent !== undefined && inp.parent !== p.systemId) forbidden(`account.parent: a reseller creates only its own users (got ${showValue(inp.parent)})`)
      if (inp.credit !== undefined && !self.prepaid) forbidden(`account.credit: ${p.systemId} is not prepaid and has no credit to give`)
      // outbind makes the engine open connections to a host: the operator's decision only.
      if (inp.outbind != null) forbidden('account.outbind can only be set by the operator')
      for (const k of ['group', 'settlement', 'prepaid', 'messageIdFormat'] as const) {
        if (inp[k] !== undefined && inp[k] !== self[k]) forbidden(`account.${k} can only be set by the operator`)
      }
      withinReseller(inp, self)
      inp.role = 'user'
      inp.group = self.group
      inp.settlement = self.settlement
      inp.prepaid = self.prepaid
      parent = self
    } else if (inp.parent !== undefined && inp.parent !== null) {
      if (inp.role === 'reseller') invalid(`account.parent must be null for a reseller (got ${showValue(inp.parent)})`)
      parent = this.current(inp.parent) ?? invalid(`account.parent ${showValue(inp.parent)} is not an account`)
      if (parent.role !== 'reseller') invalid(`account.parent ${showValue(inp.parent)} is not a reseller`)
      // A reseller's user bills like its reseller unless the operator says otherwise (a prepaid
      // reseller's user sending for free would be a billing leak).
      inp.role ??= 'user'
      for (const k of ['group', 'settlement', 'prepaid', 'messageIdFormat'] as const) if (inp[k] === undefined) (inp as Record<string, unknown>)[k] = parent[k]
    }
    const hooksBy = inp.webhooks !== undefined ? this.webhooksBy(p, null, inp.webhooks) : undefined
    this.assertFree(systemId)
    const password = inp.password ?? generatePassword()
    this.inflight.set(systemId, null) // reserve the id while the password is hashed
    let account: Account
    const entries: LedgerEntry[] = []
    try {
      const passwordHash = await Store.hashPassword(password)
      const t = this.deps.now()
      // A reseller's user gets, for the limits not given, its reseller's (so it starts within them).
      const inherited = parent !== null ? inheritedBounds(parent, this.deps.defaults) : {}
      account = { ...this.deps.defaults, ...inherited, ...settingsOf(inp), systemId, passwordHash, createdAt: t, updatedAt: t }
      if (parent !== null) account.parent = parent.systemId
      if (hooksBy !== undefined) account.webhooksByOperator = hooksBy
      if (hasWebhook(account.webhooks)) account.webhookSecret = generateWebhookSecret()
      const { ledger } = this.deps
      if (inp.credit !== undefined) {
        if (p.role === 'reseller') {
          const out = ledger.debit(p.systemId, inp.credit, 'transfer-out', actor(p), systemId)
          if (out === null) throw creditExhausted(p.systemId, inp.credit, ledger.balance(p.systemId))
          entries.push(out)
          entries.push(ledger.credit(systemId, inp.credit, 'opening', actor(p), p.systemId))
        } else entries.push(ledger.credit(systemId, inp.credit, 'opening', actor(p)))
      }
      const detail: Record<string, unknown> = { role: account.role, prepaid: account.prepaid }
      if (inp.credit !== undefined) detail.credit = inp.credit
      if (account.outbind !== null) detail.outbind = describe({ outbind: account.outbind }).outbind
      if (account.webhookSecret) detail.webhookSecretCreated = true
      await this.write(p, 'account.create', account, { accounts: [account], ledger: entries }, detail, entries)
    } finally {
      if (this.inflight.get(systemId) === null) this.inflight.delete(systemId)
    }
    const created = { account: this.view(account, 0), password }
    return account.webhookSecret ? { ...created, webhookSecret: account.webhookSecret } : created
  }

  /** The account as changed; with `webhookSecret` when this change first gave it webhooks (the secret is made then, shown only here). */
  async update(p: Principal, systemId: string, patch: unknown): Promise<AccountView> {
    const cur = this.visible(p, systemId)
    const inp = checkAccountInput(webhooksInput(outbindInput(patch, cur), cur), 'account', 'SMSC_ERR_API_INVALID')
    if (inp.systemId !== undefined && inp.systemId !== systemId) invalid(`account.systemId cannot be changed (got ${showValue(inp.systemId)})`)
    if (inp.password !== undefined) invalid('account.password is changed with the password command, not an update')
    if (inp.credit !== undefined) invalid('account.credit is changed with a credit transfer, not an update')
    const changes = settingsOf(inp)
    const keys = Object.keys(changes) as (keyof AccountSettings)[]
    if (p.role !== 'operator') {
      const allowed = systemId === p.systemId ? SELF_KEYS : RESELLER_KEYS
      for (const k of keys) {
        if (!allowed.includes(k)) forbidden(`${p.name} may not change account.${k} of ${systemId}`)
      }
      // A reseller (the only one with RESELLER_KEYS) gives its user limits within its own.
      if (systemId !== p.systemId) withinReseller(changes, this.current(p.systemId) ?? forbidden(`${p.name} is not an account`))
    } else this.checkStructure(cur, changes)
    const next: Account = { ...cur, ...changes, updatedAt: this.deps.now() }
    const detail = describe(changes)
    let secret: string | undefined
    if (changes.webhooks !== undefined) {
      next.webhooksByOperator = this.webhooksBy(p, cur, changes.webhooks)
      if (hasWebhook(changes.webhooks) && !cur.webhookSecret) {
        next.webhookSecret = secret = generateWebhookSecret()
        detail.webhookSecretCreated = true
      }
    }
    await this.write(p, 'account.update', next, { accounts: [next] }, detail)
    const view = this.get(p, systemId)
    return secret === undefined ? view : { ...view, webhookSecret: secret }
  }

  /**
   * A new webhook secret for `systemId` (in scope as for any change of the account: the operator, a reseller
   * for itself and its users, a user for itself); the old one stops signing at once. Returned only here,
   * audited as `account.webhook-secret` (without it).
   */
  async rotateWebhookSecret(p: Principal, systemId: string): Promise<string> {
    const cur = this.visible(p, systemId)
    const secret = generateWebhookSecret()
    const next: Account = { ...cur, webhookSecret: secret, updatedAt: this.deps.now() }
    await this.write(p, 'account.webhook-secret', next, { accounts: [next] })
    return secret
  }

  /**
   * Who set each of the `webhooks` `p` gives for an account (`cur`: its version now; null: being created):
   * true for the operator's. A URL a reseller or user gives must pass the SSRF guard (engine/webhook-target.ts:
   * no literal private address in any form, no local name) unless webhooks.allowPrivateTargets, else
   * SMSC_ERR_ADMIN_FORBIDDEN naming the field; one it sends back as it is and the operator had set stays the
   * operator's (and is not checked).
   */
  private webhooksBy(p: Principal, cur: Account | null, webhooks: AccountSettings['webhooks']): { receipts: boolean; mo: boolean } {
    const by = { receipts: false, mo: false }
    for (const k of ['receipts', 'mo'] as const) {
      const url = webhooks[k]
      if (url === null) continue
      if (p.role === 'operator' || (cur !== null && cur.webhooks[k] === url && cur.webhooksByOperator?.[k] === true)) {
        by[k] = true
        continue
      }
      if (this.deps.allowPrivateWebhookTargets === true) continue
      const why = urlTargetRefusal(url)
      if (why !== null) {
        forbidden(`account.webhooks.${k}: ${why}; a webhook set by a reseller or user must point at a public address (the operator may set it, or allow private targets with config webhooks.allowPrivateTargets)`)
      }
    }
    return by
  }

  async setSuspended(p: Principal, systemId: string, suspended: boolean): Promise<AccountView> {
    if (typeof suspended !== 'boolean') invalid(`suspended must be true or false (got ${showValue(suspended)})`)
    const cur = this.visible(p, systemId)
    if (p.role !== 'operator' && systemId === p.systemId) forbidden(`${p.name} may not suspend or resume itself`)
    if (p.role === 'user') forbidden(`${p.name} may not suspend accounts`)
    const next: Account = { ...cur, suspended, updatedAt: this.deps.now() }
    await this.write(p, suspended ? 'account.suspend' : 'account.resume', next, { accounts: [next] })
    return this.get(p, systemId)
  }

  /** A reseller with users cannot be removed. A remaining balance goes back to the owning reseller (entries on
   *  both sides), or is written off with an 'adjust' entry for an operator-owned account, so the ledger stays whole. */
  async remove(p: Principal, systemId: string): Promise<void> {
    const cur = this.visible(p, systemId)
    if (p.role === 'user' || (p.role === 'reseller' && systemId === p.systemId)) forbidden(`${p.name} may not remove ${systemId}`)
    const users = this.childrenOf(systemId)
    if (users.length > 0) invalid(`account ${systemId} is a reseller with ${users.length} user(s): remove or move them first`)
    const { ledger } = this.deps
    const entries: LedgerEntry[] = []
    const balance = ledger.balance(systemId)
    const detail: Record<string, unknown> = {}
    if (balance > 0) {
      const owner = cur.parent !== null ? this.current(cur.parent) : undefined
      if (owner) {
        entries.push(ledger.debit(systemId, balance, 'transfer-out', actor(p), owner.systemId) as LedgerEntry)
        entries.push(ledger.credit(owner.systemId, balance, 'transfer-in', actor(p), systemId))
        detail.returned = { to: owner.systemId, amount: balance }
      } else {
        entries.push(ledger.debit(systemId, balance, 'adjust', actor(p), 'account removed') as LedgerEntry)
        detail.writtenOff = balance
      }
    }
    const batch: CommitBatch = { removeAccounts: [systemId], ledger: entries, meta: [[REMOVED_META(systemId), this.deps.now()]] }
    await this.write(p, 'account.remove', cur, batch, detail, entries, true)
  }

  /** Sets (or generates, 8 characters) the SMPP password; returns it. Never audited with its value. */
  async setPassword(p: Principal, systemId: string, password?: string): Promise<string> {
    this.visible(p, systemId)
    if (p.role === 'user' && systemId !== p.systemId) forbidden(`${p.name} may not change the password of ${systemId}`)
    if (password !== undefined) checkAccountInput({ password }, 'account', 'SMSC_ERR_API_INVALID')
    const pw = password ?? generatePassword()
    const passwordHash = await Store.hashPassword(pw)
    const cur = this.visible(p, systemId) // again: it may have changed while hashing
    const next: Account = { ...cur, passwordHash, updatedAt: this.deps.now() }
    await this.write(p, 'account.password', next, { accounts: [next] })
    if (this.deps.dataDir !== undefined) forgetInitialCredential(this.deps.dataDir, accountCredential(systemId))
    return pw
  }

  /** Sets (or generates, 12 characters) the operator's password, the admin login of the console and the API;
   *  returns it. The caller applies it to a running engine's logins (AdminAuth.adminPasswordChanged). */
  async setAdminPassword(p: Principal, password?: string): Promise<string> {
    if (p.role !== 'operator') forbidden(`${p.name} may not change the admin password`)
    if (password !== undefined && (typeof password !== 'string' || password.length < 8 || password.length > 128)) invalid('password must be 8 to 128 characters')
    const pw = password ?? generateAdminPassword()
    const audit: AuditEntry = { t: this.deps.now(), by: actor(p), action: 'admin.password', target: 'admin' }
    await this.deps.commit({ meta: [[ADMIN_HASH_KEY, await Store.hashPassword(pw)]], audit: [audit] })
    if (this.deps.dataDir !== undefined) forgetInitialCredential(this.deps.dataDir, ADMIN_CREDENTIAL)
    return pw
  }

  // ---- staff logins (engine/staff.ts): the operator's (a staff admin's too) --------------------------------

  listStaff(p: Principal): StaffView[] {
    this.assertOperator(p, 'see staff users')
    return listStaff(this.deps.store).map(staffView)
  }

  /** A new staff user `{ user, role, password? }`; returns it and its password (generated, 12 characters, when none is given: shown only here). */
  async addStaff(p: Principal, input: unknown): Promise<{ user: StaffView; password: string }> {
    this.assertOperator(p, 'add staff users')
    const b = staffInput(input, ['user', 'role', 'password'])
    const name = b.user ?? invalid('user is required')
    const role = b.role ?? invalid(`role is required (${STAFF_ROLES.map((r) => JSON.stringify(r)).join(' or ')})`)
    if (getStaff(this.deps.store, name) || this.staffInflight.has(name)) invalid(`staff user ${name} exists already`)
    const password = b.password ?? generateAdminPassword()
    return this.staffChange(name, async () => {
      const t = this.deps.now()
      const u: StaffUser = { name, role, passwordHash: await Store.hashPassword(password), createdAt: t, updatedAt: t }
      await this.deps.commit({ meta: [[staffMetaKey(name), u]], audit: [{ t, by: actor(p), action: 'staff.add', target: name, detail: { role } }] })
      return { user: staffView(u), password }
    })
  }

  /** A new role `{ role }` for a staff user (its logins end: they were made under the old one). */
  async updateStaff(p: Principal, name: string, patch: unknown): Promise<StaffView> {
    this.assertOperator(p, 'change staff users')
    const role = staffInput(patch, ['role']).role ?? invalid('role is required')
    return this.staffChange(name, async () => {
      const cur = this.staffUser(name)
      const t = this.deps.now()
      const u: StaffUser = { ...cur, role, updatedAt: Math.max(t, cur.updatedAt + 1) }
      await this.deps.commit({ meta: [[staffMetaKey(name), u]], audit: [{ t, by: actor(p), action: 'staff.update', target: name, detail: { role: { from: cur.role, to: role } } }] })
      return staffView(u)
    })
  }

  async removeStaff(p: Principal, name: string): Promise<void> {
    this.assertOperator(p, 'remove staff users')
    await this.staffChange(name, async () => {
      const cur = this.staffUser(name)
      await this.deps.commit({ meta: [[staffMetaKey(name), null]], audit: [{ t: this.deps.now(), by: actor(p), action: 'staff.remove', target: name, detail: { role: cur.role } }] })
    })
  }

  /** Sets (or generates, 12 characters) a staff user's password; returns it. Its logins end. */
  async setStaffPassword(p: Principal, name: string, password?: string): Promise<string> {
    this.assertOperator(p, 'change staff passwords')
    if (password !== undefined) staffInput({ password }, ['password'])
    const pw = password ?? generateAdminPassword()
    return this.staffChange(name, async () => {
      this.staffUser(name)
      const passwordHash = await Store.hashPassword(pw)
      const cur = this.staffUser(name)
      const t = this.deps.now()
      const u: StaffUser = { ...cur, passwordHash, updatedAt: Math.max(t, cur.updatedAt + 1) }
      await this.deps.commit({ meta: [[staffMetaKey(name), u]], audit: [{ t, by: actor(p), action: 'staff.password', target: name }] })
      return pw
    })
  }

  private assertOperator(p: Principal, what: string): void {
    if (p.role !== 'operator') forbidden(`${p.name} may not ${what}`)
  }

  private staffUser(name: string): StaffUser {
    return getStaff(this.deps.store, name) ?? throwNotFound(`no staff user ${name}`)
  }

  /** Runs one change of staff user `name`, refusing a second one while it is being made. */
  private async staffChange<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.staffInflight.has(name)) invalid(`staff user ${name} is being changed: try again`)
    this.staffInflight.add(name)
    try {
      return await fn()
    } finally {
      this.staffInflight.delete(name)
    }
  }

  // ---- credit ------------------------------------------------------------------------------------------

  /** operator: a grant (no `from`) or a move between any two accounts; reseller: from itself to its users or
   *  back; user: forbidden. Never overdraws: SMSC_ERR_CREDIT_EXHAUSTED when `from` has less than `amount`. */
  async transfer(p: Principal, req: unknown): Promise<{ from: LedgerEntry | null; to: LedgerEntry }> {
    if (p.role === 'user') forbidden(`${p.name} may not transfer credit`)
    if (typeof req !== 'object' || req === null || Array.isArray(req)) invalid(`transfer must be an object (got ${showValue(req)})`)
    const r = req as Record<string, unknown>
    for (const k of Object.keys(r)) if (!TRANSFER_KEYS.includes(k)) invalid(`transfer.${k} is not a known key`)
    if (typeof r.to !== 'string' || r.to.length === 0) invalid(`transfer.to must be a system_id (got ${showValue(r.to)})`)
    const amount = r.amount
    // The operator may also take credit away (a correction): a negative amount without `from` is an 'adjust' entry.
    const adjust = p.role === 'operator' && r.from === undefined && typeof amount === 'number' && amount < 0
    const size = typeof amount === 'number' ? Math.abs(amount) : NaN
    if (typeof amount !== 'number' || !Number.isFinite(amount) || (amount <= 0 && !adjust) || size > MAX_AMOUNT || Math.round(size * 1e6) === 0) {
      invalid(`transfer.amount must be a number > 0 and <= ${MAX_AMOUNT}${p.role === 'operator' ? ' (or < 0 without from: a correction)' : ''} (got ${showValue(amount)})`)
    }
    if (r.from !== undefined && (typeof r.from !== 'string' || r.from.length === 0)) invalid(`transfer.from must be a system_id (got ${showValue(r.from)})`)
    if (r.reason !== undefined && (typeof r.reason !== 'string' || r.reason.length > 200)) {
      invalid(`transfer.reason must be a string of at most 200 characters (got ${showValue(r.reason)})`)
    }
    const to = r.to as string
    let from = r.from as string | undefined
    if (p.role === 'reseller') {
      from ??= p.systemId
      const ok = (from === p.systemId && this.isChild(to, p.systemId)) || (to === p.systemId && this.isChild(from, p.systemId))
      if (!ok) forbidden(`${p.name} may only move credit between itself and its own users (got ${from} → ${to})`)
    }
    const toAcc = this.visible(p, to)
    if (!toAcc.prepaid) invalid(`transfer.to: account ${to} is not prepaid (make it prepaid first: smsc account set ${to} --prepaid true, or prepaid: true through the API)`)
    if (from !== undefined) {
      this.visible(p, from)
      if (from === to) invalid(`transfer.from and transfer.to are the same account (${to})`)
    }
    const { ledger } = this.deps
    const entries: LedgerEntry[] = []
    let out: LedgerEntry | null = null
    if (adjust) {
      const e = ledger.debit(to, size, 'adjust', actor(p), typeof r.reason === 'string' ? r.reason : undefined)
      if (e === null) throw creditExhausted(to, size, ledger.balance(to))
      const detail: Record<string, unknown> = { amount }
      if (r.reason !== undefined) detail.reason = r.reason
      await this.write(p, 'credit.adjust', toAcc, { ledger: [e] }, detail, [e])
      return { from: null, to: e }
    }
    if (from !== undefined) {
      out = ledger.debit(from, amount as number, 'transfer-out', actor(p), to)
      if (out === null) throw creditExhausted(from, amount as number, ledger.balance(from))
      entries.push(out)
    }
    const inn = ledger.credit(to, amount as number, from === undefined ? 'grant' : 'transfer-in', actor(p), from)
    entries.push(inn)
    const detail: Record<string, unknown> = { amount, from: from ?? null }
    if (r.reason !== undefined) detail.reason = r.reason
    await this.write(p, 'credit.transfer', toAcc, { ledger: entries }, detail, entries)
    return { from: out, to: inn }
  }

  ledger(p: Principal, systemId: string, q?: { limit?: number; before?: number }): LedgerEntry[] {
    const pg = page(q)
    if (!this.canSee(p, systemId)) forbidden(`${systemId} is not visible to ${p.name}`)
    // A removed account's ledger stays readable (its history); a name that never was an account is not an empty ledger.
    if (this.current(systemId) === undefined && !wasRemoved(this.deps.store, systemId)) throw smscError('SMSC_ERR_AUTH_SYSTEM_ID', `no account ${systemId}`)
    const entries = this.deps.store.ledgerEntries(systemId, pg)
    return p.role === 'operator' ? entries : entries.map(forCustomer)
  }

  /**
   * An account's traffic per UTC day (docs/ACCOUNTS.md "Traffic reports"), one row per day of the range, oldest first
   * (zeros where nothing happened); `tree` (a reseller): each row also sums the reseller and its users of now. Scoped as
   * the ledger: out of scope SMSC_ERR_ADMIN_FORBIDDEN; a removed account's days stay readable (its history).
   */
  traffic(p: Principal, systemId: string, q: { from?: string; to?: string; tree?: boolean } = {}): TrafficDay[] {
    if (!this.canSee(p, systemId)) forbidden(`${systemId} is not visible to ${p.name}`)
    const a = this.current(systemId)
    if (a === undefined && !wasRemoved(this.deps.store, systemId)) throw smscError('SMSC_ERR_AUTH_SYSTEM_ID', `no account ${systemId}`)
    const range = reportRange(q, dayOf(this.deps.now()))
    if (typeof range === 'string') invalid(range)
    if (q.tree && a?.role !== 'reseller') invalid(`tree: ${systemId} is not a reseller (tree sums a reseller and its users)`)
    const users = q.tree ? this.childrenOf(systemId).map((u) => u.systemId) : []
    const src = this.trafficSource()
    return daysBetween(range[0], range[1]).map((day) => {
      const own = addCounts(emptyCounts(), src.counts(day, systemId) ?? emptyCounts())
      const row: TrafficDay = { day, ...own }
      if (q.tree) {
        const tree = addCounts(emptyCounts(), own)
        for (const u of users) { const c = src.counts(day, u); if (c !== undefined) addCounts(tree, c) }
        row.tree = tree
      }
      return row
    })
  }

  /** Every account's traffic of one UTC day (default today) that `p` may see, by systemId; accounts with none left out. */
  trafficDay(p: Principal, day?: string): TrafficDayRows {
    const today = dayOf(this.deps.now())
    const d = day === undefined ? today : parseDay(day, today) ?? invalid(dayProblem('day', day))
    const rows = [...this.trafficSource().accountsOf(d)].filter(([id]) => this.canSee(p, id)).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    return { day: d, accounts: rows.map(([systemId, c]) => ({ systemId, ...addCounts(emptyCounts(), c) })) }
  }

  private trafficSource(): TrafficSource {
    return this.deps.traffic ?? storedTraffic(this.deps.store)
  }

  /** operator: all; reseller: entries about itself and its users (also removed ones); user: entries about itself. */
  audit(p: Principal, q?: { limit?: number; before?: number }): AuditEntry[] {
    const pg = page(q)
    const { store } = this.deps
    if (p.role === 'operator') return store.auditEntries(pg)
    const self = p.systemId
    // Only changes of accounts: an operator's entry whose target is a name (a staff user, 'admin', 'routes', 'store')
    // that an account also has is not that account's.
    const mine = (e: AuditEntry): boolean => ACCOUNT_ACTION.test(e.action) &&
      (e.target === self || (p.role === 'reseller' && (e.detail?.owner === self || this.isChild(e.target, self))))
    const out: AuditEntry[] = []
    let before = pg.before
    let scanned = 0
    while (out.length < pg.limit && scanned < AUDIT_SCAN_MAX) {
      const chunk = store.auditEntries(before === undefined ? { limit: 500 } : { limit: 500, before })
      if (chunk.length === 0) break
      for (const e of chunk) {
        if (mine(e)) out.push(forCustomer(e))
        if (out.length === pg.limit) break
      }
      scanned += chunk.length
      before = chunk[chunk.length - 1].seq
    }
    return out
  }

  // ---- API keys ----------------------------------------------------------------------------------------

  /** A new key for `systemId`: returned once, stored only as its sha256. */
  async createApiKey(p: Principal, systemId: string, label?: string): Promise<{ id: string; key: string }> {
    const acc = this.visible(p, systemId)
    if (label !== undefined && (typeof label !== 'string' || label.length > 64 || !/^[\x20-\x7e]*$/.test(label))) {
      invalid(`label must be at most 64 printable ASCII characters (got ${showValue(label)})`)
    }
    const id = randomBytes(6).toString('hex')
    const key = `smsc_${randomBytes(24).toString('base64url')}`
    const rec = { systemId, id, label: label ?? '', createdAt: this.deps.now() }
    await this.write(p, 'apikey.create', acc, { apiKeys: [{ hash: hashApiKey(key), key: rec }] }, { id, label: rec.label })
    return { id, key }
  }

  listApiKeys(p: Principal, systemId: string): { id: string; label: string; createdAt: number }[] {
    this.visible(p, systemId)
    return this.deps.store.apiKeysOf(systemId).map((k) => ({ id: k.id, label: k.label, createdAt: k.createdAt }))
  }

  async revokeApiKey(p: Principal, systemId: string, keyId: string): Promise<void> {
    const acc = this.visible(p, systemId)
    const k = this.deps.store.apiKeysOf(systemId).find((x) => x.id === keyId)
    if (k === undefined) invalid(`no API key ${showValue(keyId)} for ${systemId}`)
    await this.write(p, 'apikey.revoke', acc, { removeApiKeys: [k.hash] }, { id: keyId })
  }

  /** The systemId an API key belongs to, or null (sync, for the send API). */
  apiKeyOwner(key: string): string | null {
    if (typeof key !== 'string' || key.length === 0 || key.length > 256) return null
    const rec = this.deps.store.apiKey(hashApiKey(key))
    if (rec === undefined || this.deps.store.getAccount(rec.systemId) === undefined) return null
    return rec.systemId
  }

  // ---- opt-out lists -----------------------------------------------------------------------------------

  /**
   * One opt-out list, a page at a time in number order: `systemId` null is the global list (the operator's; a
   * viewer reads it too), else that account's (in scope). `after`: the last number of the previous page (the
   * answer's `next`); `prefix`: only numbers starting with these digits.
   */
  listOptOuts(p: Principal, systemId: string | null, q: { limit?: number; after?: string; prefix?: string } = {}): OptOutPage {
    const scope = this.optOutScope(p, systemId)
    const limit = q.limit ?? PAGE_DEFAULT
    if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_MAX) invalid(`limit must be an integer between 1 and ${PAGE_MAX} (got ${showValue(limit)})`)
    const after = q.after === undefined ? undefined : normaliseNumber(q.after) ?? invalid(numberProblem(q.after, 'after') as string)
    const prefix = q.prefix === undefined || q.prefix === '' ? undefined : normaliseNumber(q.prefix) ?? invalid(`prefix must be digits (a leading "+" allowed) (got ${showValue(q.prefix)})`)
    // one past the page: `next` is null on the last page, even a full one
    const found = this.deps.store.optOutEntries(scope, { limit: limit + 1, after, prefix })
    const optouts = found.slice(0, limit).map((e) => (p.role === 'operator' ? e : forCustomer(e)))
    return { optouts, total: this.deps.store.optOuts.count(scope), next: found.length > limit ? optouts[limit - 1].number : null }
  }

  /**
   * The lists that hold one number, among those `p` may see: the operator's eyes every list; a reseller the global list
   * and its tree's; a user the lists that bind it (the global one, its own, its reseller's: its sends to the number are
   * refused whichever holds it). Support's first question when a subscriber says "I texted STOP" or a customer asks why
   * a send got 0x403: one lookup instead of one list per account.
   */
  findOptOut(p: Principal, number: unknown): OptOutFind {
    const n = normaliseNumber(number) ?? invalid(numberProblem(number, 'number') as string)
    const { store } = this.deps
    const lists: OptOutFind['lists'] = []
    for (const scope of store.optOuts.holding(n)) {
      const mine = p.role === 'operator' || scope === GLOBAL || this.canSee(p, scope) || (p.role === 'user' && this.current(p.systemId)?.parent === scope)
      if (!mine) continue
      // the number sorts first among those it prefixes; absent when a removal was committed since the sets were read
      const e = store.optOutEntries(scope, { limit: 1, prefix: n })[0]
      if (e === undefined || e.number !== n) continue
      lists.push({ list: scope === GLOBAL ? 'global' : scope, ...(p.role === 'operator' ? e : forCustomer(e)) })
    }
    return { number: n, lists }
  }

  /** Adds numbers (`{ numbers: [...] }` or `{ number }`) to a list; those on it already are left as they are. Audited. */
  async addOptOuts(p: Principal, systemId: string | null, body: unknown): Promise<{ added: number; already: number; total: number }> {
    const scope = this.optOutScope(p, systemId)
    const numbers = optOutNumbers(body)
    const lists = this.deps.store.optOuts
    const fresh = numbers.filter((n) => !lists.has(scope, n))
    if (fresh.length > 0 && (lists.count(scope) + fresh.length > MAX_PER_LIST || lists.size + fresh.length > MAX_TOTAL)) {
      invalid(`numbers: the opt-out list ${systemId ?? 'global'} would hold more than its limit (${MAX_PER_LIST} numbers a list, ${MAX_TOTAL} on all lists; it has ${lists.count(scope)}): remove some first`)
    }
    const at = this.deps.now()
    const by = actor(p)
    await this.optOutWrite(p, systemId, 'add', fresh, fresh.map((number) => ({ scope, number, entry: { at, by } })))
    return { added: fresh.length, already: numbers.length - fresh.length, total: lists.count(scope) }
  }

  /** Removes numbers (`{ numbers: [...] }` or `{ number }`) from a list; those not on it are counted as `absent`. Audited. */
  async removeOptOuts(p: Principal, systemId: string | null, body: unknown): Promise<{ removed: number; absent: number; total: number }> {
    const scope = this.optOutScope(p, systemId)
    const numbers = optOutNumbers(body)
    const lists = this.deps.store.optOuts
    const on = numbers.filter((n) => lists.has(scope, n))
    await this.optOutWrite(p, systemId, 'remove', on, on.map((number) => ({ scope, number, entry: null })))
    return { removed: on.length, absent: numbers.length - on.length, total: lists.count(scope) }
  }

  /** The store scope of a list `p` may use: the global one (operator only), or an account in `p`'s scope. */
  private optOutScope(p: Principal, systemId: string | null): string {
    if (systemId === null) {
      if (p.role !== 'operator') forbidden(`${p.name} may not use the global opt-out list (the operator's): use its own, /api/v1/accounts/{id}/optouts`)
      return GLOBAL
    }
    return this.visible(p, systemId).systemId
  }

  /** Commits list changes with their audit entry (nothing when there are none: no entry either). */
  private async optOutWrite(p: Principal, systemId: string | null, what: 'add' | 'remove', numbers: string[], changes: OptOutChange[]): Promise<void> {
    if (changes.length === 0) return
    const detail = { count: numbers.length, numbers: numbers.slice(0, AUDIT_NUMBERS) }
    if (systemId !== null) return this.write(p, `optout.${what}`, this.visible(p, systemId), { optOuts: changes }, detail)
    const audit: AuditEntry = { t: this.deps.now(), by: actor(p), action: `global-optout.${what}`, target: 'global', detail }
    await this.deps.commit({ optOuts: changes, audit: [audit] })
  }

  // ---- routes ------------------------------------------------------------------------------------------

  /** The routing tables in force (meta 'routes'; DEFAULT_ROUTES when none were set). */
  getRoutes(): RouteTables {
    return (this.deps.store.getMeta(ROUTES_META) as RouteTables | undefined) ?? DEFAULT_ROUTES
  }

  /**
   * Replaces the routing tables. The answer carries `warnings`: destinations the MT table in force routed for some
   * account and the new one does not (engine/routing.ts routingLost), one line each; a narrowing can be meant, so it
   * is never refused.
   */
  async setRoutes(p: Principal, tables: unknown): Promise<RouteTables & { warnings: string[] }> {
    if (p.role !== 'operator') forbidden(`${p.name} may not change routes`)
    const routes = validateRouteTables(tables, 'routes', 'SMSC_ERR_API_INVALID', this.deps.connectors())
    const subjects = this.deps.store.listAccounts().map((a) => ({ systemId: a.systemId, group: a.group ?? null }))
    const warnings = routingLost(this.getRoutes().mt, routes.mt, subjects).map(routingLossText)
    const audit: AuditEntry = { t: this.deps.now(), by: actor(p), action: 'routes.set', target: 'routes', detail: { mt: routes.mt.length, mo: routes.mo.length } }
    await this.deps.commit({ meta: [[ROUTES_META, routes]], audit: [audit] })
    this.deps.onRoutesChanged?.(routes, warnings)
    return { ...routes, warnings }
  }

  // ---- connectors ----------------------------------------------------------------------------------------

  /** True when the operator stopped connector `id` (and has not started it since). */
  connectorStopped(id: string): boolean {
    return this.deps.store.getMeta(CONNECTOR_STOPPED_META(id)) === true
  }

  /**
   * Stops or starts a connector (operator): a stopped one holds no link and counts as down for routing, until
   * started, across restarts too. Stopping a stopped one (or starting a running one) changes nothing and is not audited.
   */
  async setConnectorStopped(p: Principal, id: string, stopped: boolean): Promise<void> {
    if (p.role !== 'operator') forbidden(`${p.name} may not stop or start connectors`)
    const known = this.deps.connectors()
    if (!known.has(id)) throw smscError('SMSC_ERR_CONNECTOR_NOT_FOUND', `no connector ${showValue(id)} (connectors: ${[...known].join(', ') || 'none'})`)
    if (this.connectorStopped(id) === stopped) return
    const audit: AuditEntry = { t: this.deps.now(), by: actor(p), action: stopped ? 'connector.stop' : 'connector.start', target: id }
    await this.deps.commit({ meta: [[CONNECTOR_STOPPED_META(id), stopped ? true : null]], audit: [audit] })
    await this.deps.onConnectorStopped?.(id, stopped, actor(p))
  }

  // ---- backup ------------------------------------------------------------------------------------------

  /** The backups made since start, the latest last (at most 20). */
  private readonly backups: BackupState[] = []

  /**
   * A backup of the store (operator), one at a time (Store.backup: consistent, made while traffic goes on):
   * into `target`, or a data dir of its own under `backupsDir` named by its UTC time. Checks and starts at
   * once (a refusal throws here); the promise settles when the copy is made (audited with its path and
   * size) or has failed. backupState() follows it meanwhile.
   */
  backup(p: Principal, target?: string): Promise<BackupState> {
    if (p.role !== 'operator') forbidden(`${p.name} may not back up the store`)
    const running = this.backups.at(-1)
    if (running?.state === 'running') throw smscError('SMSC_ERR_BACKUP_RUNNING', `a backup is being made already (to ${running.path}, since ${new Date(running.startedAt).toISOString()})`)
    const base = this.deps.backupsDir
    if (target === undefined && base === undefined) throw smscError('SMSC_ERR_API_INVALID', 'no backups directory here')
    const stamp = new Date(this.deps.now()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
    // The backups directory is the engine's own, pruned to backupsKept: a backup given a place is kept elsewhere.
    if (target !== undefined && base !== undefined && within(path.resolve(base), path.resolve(target))) {
      throw smscError('SMSC_ERR_BACKUP_FAILED', `${target} is inside ${base}, where the engine keeps its own backups (store.backupsKept removes old ones there): give a directory elsewhere`)
    }
    const dir = target ?? path.resolve(base as string, `${stamp}-${randomBytes(3).toString('hex')}`)
    const st: BackupState = { state: 'running', path: dir, startedAt: this.deps.now() }
    this.backups.push(st)
    if (this.backups.length > 20) this.backups.shift()
    const t0 = performance.now()
    return this.deps.store.backup(dir).then(async (bytes) => {
      Object.assign(st, { state: 'done', bytes, ms: Math.round(performance.now() - t0) })
      if (target === undefined) st.removed = this.pruneBackups(base as string, path.basename(dir))
      await this.deps.commit({ audit: [{ t: this.deps.now(), by: actor(p), action: 'store.backup', target: 'store', detail: { path: dir, bytes } }] })
      return st
    }, (e: unknown) => {
      Object.assign(st, { state: 'failed', error: (e as Error).message, ms: Math.round(performance.now() - t0) })
      throw e
    })
  }

  /**
   * Keeps `made` (the backup just made) and the latest `backupsKept - 1` other complete backups this engine named
   * in `base` (<UTC time>-<random>: the names sort by time); removes the older ones and any such directory that
   * holds no complete copy (left by a crash), and returns their names. A directory of any other name is left alone.
   */
  private pruneBackups(base: string, made: string): string[] {
    const keep = this.deps.backupsKept ?? 0
    if (keep <= 0) return []
    let names: string[]
    try { names = readdirSync(base).filter((n) => n !== made && BACKUP_NAME.test(n)).sort() } catch { return [] }
    const complete = names.filter((n) => existsSync(path.join(base, n, 'store', 'data.mdb')))
    const kept = new Set(complete.slice(Math.max(0, complete.length - (keep - 1))))
    const gone = names.filter((n) => !kept.has(n))
    for (const n of gone) rmSync(path.join(base, n), { recursive: true, force: true })
    return gone
  }

  /** The backup being made or the last one since start (`backup`), and the last 20 (`recent`, the latest last) (operator). */
  backupState(p: Principal): { backup: BackupState | null; recent: BackupState[] } {
    if (p.role !== 'operator') forbidden(`${p.name} may not back up the store`)
    return { backup: this.backups.at(-1) ?? null, recent: [...this.backups] }
  }

  // ---- internals ---------------------------------------------------------------------------------------

  /** The latest version of an account: in flight (being committed) or committed. */
  private current(systemId: string): Account | undefined {
    if (this.inflight.has(systemId)) return this.inflight.get(systemId) ?? undefined
    return this.deps.store.getAccount(systemId)
  }

  /** The account if `p` may see it; FORBIDDEN when out of scope (or absent, for non-operators), AUTH_SYSTEM_ID for the operator. */
  private visible(p: Principal, systemId: string): Account {
    if (typeof systemId !== 'string') invalid(`systemId must be a string (got ${showValue(systemId)})`)
    const a = this.current(systemId)
    if (!this.canSee(p, systemId) || (a === undefined && p.role !== 'operator')) forbidden(`${systemId} is not visible to ${p.name}`)
    if (a === undefined) throw smscError('SMSC_ERR_AUTH_SYSTEM_ID', `no account ${systemId}`)
    return a
  }

  private isChild(systemId: string, reseller: string): boolean {
    return this.current(systemId)?.parent === reseller
  }

  private childrenOf(reseller: string): Account[] {
    return this.deps.store.listAccounts().filter((a) => this.current(a.systemId)?.parent === reseller)
  }

  /** A new account never takes over an id in use, nor one a removed account left history under (its balance,
   *  ledger, messages or queued receipts would become the new tenant's). */
  private assertFree(systemId: string): void {
    const { store } = this.deps
    if (this.inflight.has(systemId) || store.getAccount(systemId) !== undefined) {
      invalid(`account.systemId ${showValue(systemId)} is already used`)
    }
    if (wasRemoved(store, systemId)) {
      invalid(`account.systemId ${showValue(systemId)} was used by a removed account whose history is kept: choose another id`)
    }
  }

  /** Operator changes of role/parent keep the tree two levels deep and consistent. */
  private checkStructure(cur: Account, changes: Partial<AccountSettings>): void {
    const role = changes.role ?? cur.role
    const parent = changes.parent !== undefined ? changes.parent : cur.parent
    if (role === 'reseller' && parent !== null) invalid(`account.parent must be null for a reseller (got ${showValue(parent)})`)
    if (role === 'user' && cur.role === 'reseller') {
      const n = this.childrenOf(cur.systemId).length
      if (n > 0) invalid(`account.role cannot become "user": ${cur.systemId} has ${n} user(s)`)
    }
    if (changes.parent !== undefined && changes.parent !== null) {
      const owner = this.current(changes.parent)
      if (owner === undefined) invalid(`account.parent ${showValue(changes.parent)} is not an account`)
      if (owner.role !== 'reseller' || owner.systemId === cur.systemId) invalid(`account.parent ${showValue(changes.parent)} is not a reseller`)
    }
  }

  /**
   * Commits `batch` with its audit entry in one transaction; `account` is the target (its new version, or the
   * removed one). On failure the ledger entries are reverted. Then tells the engine.
   */
  private async write(
    p: Principal, action: string, account: Account, batch: CommitBatch, detail: Record<string, unknown> = {},
    entries: LedgerEntry[] = [], removed = false,
  ): Promise<void> {
    const d: Record<string, unknown> = { ...detail }
    if (account.parent !== null) d.owner = account.parent
    const audit: AuditEntry = { t: this.deps.now(), by: actor(p), action, target: account.systemId }
    if (Object.keys(d).length > 0) audit.detail = d
    const changesAccount = batch.accounts !== undefined || removed
    const mine = removed ? null : account
    if (changesAccount) this.inflight.set(account.systemId, mine)
    try {
      await this.deps.commit({ ...batch, audit: [audit] })
    } catch (err) {
      for (let i = entries.length - 1; i >= 0; i--) this.deps.ledger.revert(entries[i])
      throw err
    } finally {
      // Commits settle in order: if no later change replaced ours, the store now answers (or never changed).
      if (changesAccount && this.inflight.get(account.systemId) === mine) this.inflight.delete(account.systemId)
    }
    if (changesAccount) this.deps.onAccountChanged?.(account.systemId, removed ? null : (this.deps.store.getAccount(account.systemId) ?? null), { action, by: actor(p), parent: account.parent })
  }

  /** `redacted`: for a viewer (a read-only staff login), whose job is to watch, not to hold customers' credentials: webhook URLs as the logs show them (no user, password or query). */
  private view(a: Account, children: number, redacted = false): AccountView {
    const v = { systemId: a.systemId } as AccountView
    for (const k of SETTINGS_KEYS) (v as unknown as Record<string, unknown>)[k] = structuredClone(a[k])
    if (redacted) v.webhooks = { receipts: a.webhooks.receipts && redact(a.webhooks.receipts), mo: a.webhooks.mo && redact(a.webhooks.mo) }
    v.outbind = a.outbind === null ? null : { host: a.outbind.host, port: a.outbind.port, tls: a.outbind.tls, passwordSet: a.outbind.password !== '' }
    v.balance = a.prepaid ? this.deps.ledger.balance(a.systemId) : null
    v.createdAt = a.createdAt
    v.updatedAt = a.updatedAt
    if (a.role === 'reseller') v.children = children
    if (this.deps.usage) v.usage = this.deps.usage(a.systemId)
    const fixed = this.deps.configKeys?.(a.systemId) ?? []
    if (fixed.length > 0) v.configKeys = [...fixed]
    const owner = a.parent !== null ? this.current(a.parent) : undefined
    if (owner !== undefined) {
      const beyond = exceedsReseller(a, owner)
      if (beyond.length > 0) v.exceedsReseller = beyond
    }
    return v
  }
}


/**
 * The views never show the outbind password (OutbindView), so an `outbind` sent back as shown (with
 * `passwordSet`), or changed without `password`, keeps the password in force ('' for a new one).
 */
function outbindInput(input: unknown, cur: Account | null): unknown {
  if (typeof input !== 'object' || input === null) return input
  const ob = (input as Record<string, unknown>).outbind
  if (typeof ob !== 'object' || ob === null || Array.isArray(ob)) return input
  const { passwordSet: _shown, ...rest } = ob as Record<string, unknown>
  if (rest.password === undefined) rest.password = cur?.outbind?.password ?? ''
  return { ...input, outbind: rest }
}

/** An update's `webhooks` that leaves out `receipts` or `mo` keeps the account's own URL for it (`null` turns one off). */
function webhooksInput(input: unknown, cur: Account): unknown {
  if (typeof input !== 'object' || input === null) return input
  const wh = (input as Record<string, unknown>).webhooks
  if (typeof wh !== 'object' || wh === null || Array.isArray(wh)) return input
  const given = wh as Record<string, unknown>
  return { ...input, webhooks: { receipts: cur.webhooks.receipts, mo: cur.webhooks.mo, ...given } }
}

/** True if `systemId` is not an account but was one: a removed account left its history (ledger, balance,
 *  messages, queued receipts) under it, so no account is created with it again (nor by the config at start). */
export function wasRemoved(store: Store, systemId: string): boolean {
  return store.getAccount(systemId) === undefined && (store.getMeta(REMOVED_META(systemId)) !== undefined || store.hasHistory(systemId))
}

function childCounts(all: readonly Account[]): Map<string, number> {
  const m = new Map<string, number>()
  for (const a of all) if (a.parent !== null) m.set(a.parent, (m.get(a.parent) ?? 0) + 1)
  return m
}

/**
 * A reseller gives its users limits only within its own: each bounded setting given in `changes` is checked
 * against `reseller`'s (accounts.ts beyondReseller); the first one beyond → SMSC_ERR_ADMIN_FORBIDDEN naming
 * the field and the bound. Settings not given are not checked (a user over its reseller's limits from
 * before keeps them until they are changed; its view lists them in `exceedsReseller`).
 */
function withinReseller(changes: Partial<AccountSettings>, reseller: Account): void {
  for (const k of BOUNDED_KEYS) {
    const v = changes[k]
    if (v === undefined) continue
    const why = beyondReseller(k, v, reseller)
    if (why !== null) forbidden(`account.${k}: ${why}`)
  }
}

/** The AccountSettings keys of an input (without systemId, password, credit). */
function settingsOf(inp: AccountInput): Partial<AccountSettings> {
  const out: Record<string, unknown> = {}
  for (const k of SETTINGS_KEYS) if (inp[k] !== undefined) out[k] = inp[k]
  return out as Partial<AccountSettings>
}

/** Audit detail of an update: the new values, except webhook URLs (they may carry tokens): only whether set;
 *  and never the outbind password. */
function describe(changes: Partial<AccountSettings>): Record<string, unknown> {
  const d: Record<string, unknown> = { ...changes }
  if (changes.webhooks) d.webhooks = { receipts: changes.webhooks.receipts !== null, mo: changes.webhooks.mo !== null }
  if (changes.outbind) d.outbind = { ...changes.outbind, password: changes.outbind.password !== '' }
  return d
}

/** The numbers of an opt-out add or remove body, `{ numbers: [...] }` or `{ number }`: normalised, each once. */
function optOutNumbers(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) invalid(`body must be a JSON object { "numbers": [...] } or { "number" } (got ${showValue(body)})`)
  const o = body as Record<string, unknown>
  for (const k of Object.keys(o)) if (k !== 'numbers' && k !== 'number') invalid(`${k} is not a known field (numbers, number)`)
  if (o.numbers === undefined && o.number === undefined) invalid('numbers (an array) or number (one) is missing: give one of them')
  if (o.numbers !== undefined && o.number !== undefined) invalid('give numbers (an array) or number (one), not both')
  if (o.number !== undefined) return [normaliseNumber(o.number) ?? invalid(numberProblem(o.number, 'number') as string)]
  const list = o.numbers
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_PER_REQUEST) {
    invalid(`numbers must be an array of 1 to ${MAX_PER_REQUEST} phone numbers (got ${Array.isArray(list) ? `${list.length} of them` : showValue(list)}); send more in several requests`)
  }
  return [...new Set(list.map((v, i) => normaliseNumber(v) ?? invalid(numberProblem(v, `numbers[${i}]`) as string)))]
}

function creditExhausted(systemId: string, amount: number, balance: number): Error {
  return smscError('SMSC_ERR_CREDIT_EXHAUSTED', `account ${systemId} has ${balance} credit, less than ${amount}`)
}
