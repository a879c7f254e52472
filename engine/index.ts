/**
 * createSmsc(options): the one public entry. Wires the protocol, the sessions, the actor tree,
 * the store, the listeners and the HTTP port, and implements the session host: credentials,
 * batched acceptance (commit, then answer, then hand to the carrier), query/cancel/replace, MO.
 * Start order: store → actors → HTTP → SMPP listeners (traffic last). Stop order: listeners →
 * unbind sessions and drain windows → actors → HTTP → store flush.
 */
import fs from 'node:fs'
import { createHash, X509Certificate } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import path from 'node:path'
import type net from 'node:net'
import { DEFAULT_CIPHERS as tlsDefaultCiphers } from 'node:tls'
import { isDeepStrictEqual } from 'node:util'
import { SIMULATOR_CONNECTOR, connectorIdsOf, resolveOptions, type Options, type ResolvedOptions } from './config'
import { RepeatedLog, createLogger, type LogFn } from './log'
import { RESTORE_IDS_MAX, Store, verifyScrypt, type CommitBatch, type DeliveryItem, type UpstreamKey } from './store'
import { Session, type AcceptDone, type SessionHost, type BoundAccount } from './session/session'
import { Ticker } from './session/timers'
import { OutbindDialer } from './session/outbind'
import { canReceive, isBound } from './session/bind-state'
import { startListeners, devTlsCert, tlsHandshakeMs, type Listeners } from './transport/listener'
import { UnboundConnections, type UnboundSlot } from './transport/unbound'
import { addressKey } from './address-key'
import { startActors, type ActorRef, type ActorSystem } from '../actors/system'
import { CommandStatus as S, MessageState, statusName, type BindKind } from './protocol/constants'
import type { Pdu } from './protocol/codec'
import { formatSmppAbsolute, parseSmppTime } from './protocol/time'
import { dcsOfCoding, encodeText, type Coding } from './protocol/text/charsets'
import { splitMessage } from './protocol/text/split'
import { deliverFrame, eventAddress, isFinal, moText, senderAddress, statOf, type Address, type MessageRecord, type MoFacts, type Sar } from './message'
import { DEFAULT_LIMITS } from './session/submit'
import { smscError, type SmscErrorCode } from './errors'
import { startHttp, type HttpServer } from './http'
import { Metrics, TelemetryHub, type EngineHealth, type HubSources, type TickFrames } from './telemetry'
import { REFUSALS_META, Refusals, type AutoReplyOf, type Refusal } from './refusals'
import { DailyStats } from './daily-stats'
import { AdminAuth, LOGIN_FAILURES_PER_ADDRESS, LoginThrottle } from './auth'
import { clearUncleanStop, lockDataDir, uncleanStop } from './lock'
import { makeDataDir, writePrivateFile } from './dirs'
import { validateSubmit } from './session/submit'
import { EsmClass } from './protocol/constants'
import { defaultSettings, inheritedBounds, ipAllowed, sourceAllowed, type Account, type AccountSettings } from './accounts'
import { Ledger } from './ledger'
import { Admin, type AuditEntry, CONNECTOR_STOPPED_META, configKeysOf, generatePassword, generateWebhookSecret, customerBy, wasRemoved } from './admin'
import { DEFAULT_ROUTES, MoPartRoutes, MoRouter, ReplyGuard, routeConnectors, validateRouteTables, type MoDecision, type RouteTables } from './routing'
import { MAX_PER_LIST, MAX_TOTAL, looksInternational, normaliseNumber, type OptOutChange } from './optouts'
import { OPERATOR } from './accounts'
import { WebhookSender } from './webhook'
import { urlTargetRefusal } from './webhook-target'
import { findById, receiptIdsOf, searchMessages, viewOf, type MessageSearchResult, type MessageView, type SearchQuery } from './message-search'
import type { ApiMessage, ApiSubmitResult, HttpRoute } from './http'
import { groupEnd, type AcceptJob } from '../actors/messages'
import type { ConnectorStats, InboundMo } from '../actors/connectors/types'
import type { CallbackSpec, ParsedCallback } from './provider-receipts'

export interface MoRequest {
  from: string
  to: string
  text: string
  coding?: 'gsm' | 'ucs2' | 'latin1'
  systemId?: string
}

/** A text message submitted through the engine's own path (console send form, admin API). */
export interface TextSubmit {
  systemId?: string
  from: string
  to: string
  text: string
  /** Ask for receipts (registered_delivery 1); default true. */
  registeredDelivery?: boolean
}

export type { MessageView } from './message-search'

/** A start after a run that did not stop cleanly (Smsc.uncleanStart). */
export interface UncleanStart {
  /** The pid of the run that did not stop cleanly; 0 when its lock did not name one. */
  previousPid: number
  /** Messages not final (with the carrier or an upstream, waiting for a connector, scheduled), recovered from the store. */
  inFlight: number
  /** Receipts and MO waiting for their ESME (binds or webhooks), recovered from the store. */
  pendingDeliveries: number
}

export interface Smsc {
  readonly options: ResolvedOptions
  readonly ports: { smpp: number; tls: number | null; http: number; https: number | null }
  /** Set when the first start created the demo account: shown once in the banner. */
  readonly demoAccount: { systemId: string; password: string } | null
  /** Config accounts not created because they were removed through the API or CLI (warned at start). */
  readonly skippedAccounts: readonly string[]
  /**
   * Set when the previous run on this data dir did not stop cleanly (its lock was stale: kill -9, a crash, a power loss;
   * engine/lock.ts uncleanStop): its pid (0 when not known) and what this start found in the store to carry on with.
   * Shown in the banner; warned in the log; smsc_unclean_start.
   */
  readonly uncleanStart: UncleanStart | null
  readonly store: Store
  sessions(): Session[]
  mo(req: MoRequest): Promise<{ id: string; systemId: string; parts: number }>
  /** Set when the first start generated the admin password: shown once in the banner. */
  readonly adminPassword: string | null
  readonly metrics: Metrics
  readonly admin: Admin
  readonly ledger: Ledger
  connectorStats(): (ConnectorStats & { queued: number; stopped: boolean })[]
  /** An HTTP provider's receipt callback settings (engine/provider-receipts.ts): null for no such connector, or one without receipts "callback". */
  receiptCallback(connectorId: string): CallbackSpec | null
  /** A provider's callback, parsed: resolves once its receipts are matched and what they cause is committed (POST /api/v1/connectors/:id/receipts). */
  providerReceipts(connectorId: string, cb: ParsedCallback): Promise<{ received: number; unmapped: string[] }>
  /** The HTTP send API: the same policy, rate limits, routing, credit and store as SMPP submits. */
  submitMessages(systemId: string, msgs: ApiMessage[]): Promise<ApiSubmitResult[]>
  readonly telemetrySources: HubSources
  /** The frames of the last telemetry tick (null before the first). */
  telemetryFrames(): TickFrames | null
  submitText(req: TextSubmit): Promise<{ ids: string[]; parts: number; coding: string }>
  lookup(id: string): MessageView | null
  /**
   * Cancels a message that is not final yet (the HTTP API's DELETE /api/v1/messages/:id; cancel_sm by message_id):
   * its open destinations end DELETED, the charge stays. Resolves once committed; SMSC_ERR_MESSAGE_NOT_FOUND,
   * SMSC_ERR_MESSAGE_FINAL.
   */
  cancelMessage(id: string): Promise<void>
  /** A message search (engine/message-search.ts): `sees` is the caller's scope; `cancelled` ends it early. */
  /** `who.key` (one per principal: an account, the operator, a staff user) may have one search at a time; a second one while it runs is refused (SMSC_ERR_RATE_LIMITED, naming `who.name`). */
  searchMessages(q: SearchQuery, sees: (systemId: string) => boolean, cancelled?: () => boolean, who?: { key: string; name: string }): Promise<MessageSearchResult>
  /** Asks one session to unbind (drains first). */
  unbindSession(id: number): boolean
  /** Test hook: make one session's actor fail. */
  faultSession(id: number): boolean
  faultActor(actor: 'carrier' | 'delivery' | 'dispatcher' | `connector:${string}`): void
  /** The routes the HTTP port serves (engine/http.ts HttpServer.routes; empty before it listens). */
  httpRoutes(): readonly HttpRoute[]
  health(): Record<string, unknown>
  /**
   * Reads tls.cert/tls.key (and tls.ca) again for the SMPP TLS listener: new connections get the renewed
   * certificate, bound sessions stay; the HTTPS listener (http.tlsPort) too. What it did, for the log; throws an
   * SmscError (nothing changed) when the files cannot be read or do not make a certificate. `smsc start` calls it on SIGHUP.
   */
  reloadTls(): string
  /**
   * Applies a config (the file again, on SIGHUP) as far as it can change live: `connectors` (added ones start, removed
   * ones stop and their work is routed again, changed ones restart with the new settings, the rest are untouched) and
   * `routes` when the file changed them. Validated whole first: an SmscError (nothing changed) names the key, or the
   * route that names a connector the config no longer has. Other sections that differ are logged as needing a
   * restart. Resolves with what it did, for the log, once removed and changed connectors have closed their links.
   */
  reloadConfig(next: Options | ResolvedOptions): Promise<string>
  /**
   * SIGHUP (`smsc start`): reloadTls, then, with `read` (the config file read again), reloadConfig. What each step did
   * goes to `report` as it ends (a log line). Whether all of it succeeded is smsc_config_reload_success (Metrics
   * configReload): a file that cannot be read, a refused config or certificate make it 0 until a reload succeeds.
   */
  reload(read: (() => Options | ResolvedOptions) | null, report: (level: 'info' | 'error', text: string) => void): Promise<void>
  stop(): Promise<void>
}

/**
 * A message the engine sends itself through the send API's path (an MO route's auto-reply): its addresses whole
 * (TON, NPI, digits as the MO gave them), and the STOP confirmation's mark. Never built from a request body.
 */
interface EngineMessage extends ApiMessage {
  src?: Address
  dest?: Address
  confirmsOptOut?: true
  /** an MO route's auto-reply (moReply): a refusal is listed as one (engine/refusals.ts), not as an HTTP send */
  autoReply?: AutoReplyOf
}

const SMSC_SYSTEM_ID = 'SMSC'
/** How long a provider's callback waits for its commit beyond the connector's timeoutMs (its receipts may wait for answers that long). */
const CALLBACK_COMMIT_MS = 10_000

/** Which certificate and key (their contents): a SIGHUP renews HTTPS only when they changed. */
const tlsFingerprint = (f: { cert: Buffer; key: Buffer }): string => createHash('sha256').update(f.cert).update(f.key).digest('hex')

/** A file of config.tls (at start and on SIGHUP): one that cannot be read is a config error naming the key. */
/** A certificate's notAfter, s since the epoch (the first certificate of a PEM chain: the server's own); null if unreadable. */
function certExpiry(pem: Buffer | string): number | null {
  try {
    const t = Date.parse(new X509Certificate(pem).validTo)
    return Number.isFinite(t) ? Math.round(t / 1000) : null
  } catch {
    return null
  }
}

function readTlsFile(key: 'cert' | 'key' | 'ca', file: string): Buffer {
  try {
    return fs.readFileSync(file)
  } catch (e) {
    throw smscError('SMSC_ERR_CONFIG_INVALID', `config.tls.${key} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (${file})`)
  }
}
/** allowedSources of "no reseller": any sender id. */
const NO_SOURCES: readonly string[] = []
/** Account changes that go on the telemetry events feed (type 'account'), by their audit action. */
const ACCOUNT_EVENTS: Record<string, string> = { 'account.create': 'created', 'account.suspend': 'suspended', 'account.resume': 'resumed', 'account.remove': 'removed' }
/** Retention purge (engine/store.ts purgeFinal): at most PURGE_SLICE messages per slice, a slice every
 *  PURGE_BUSY_MS while there is a backlog (50,000/s: more than the engine takes in), else every PURGE_IDLE_MS.
 *  Small slices: a slice of 50,000 held the event loop for 66–112 ms. */
const PURGE_SLICE = 2_500
/** Message searches walking the store at once (engine/message-search.ts); more wait their turn. */
const SEARCHES_AT_ONCE = 2
const PURGE_BUSY_MS = 50
const PURGE_IDLE_MS = 1_000
/** How often the upstream links are swept for ones whose message the retention purged (store.sweepLinks). */
const LINK_SWEEP_MS = 3_600_000
/** How often the data dir's free space is read (the disk guard, store.minFreeMiB; smsc_store_free_bytes). */
const DISK_CHECK_MS = 1_000
/** Daily traffic (engine/daily-stats.ts): the counters are sampled every TRAFFIC_SAMPLE_MS (a sample's deltas go to
 *  its UTC day), the changed buckets committed every TRAFFIC_FLUSH_MS (what a kill -9 may lose) and at a stop. */
/** Lines of a routing narrowing (Admin.setRoutes warnings) the one warn line names; the rest are counted. */
const ROUTING_WARNINGS_LOGGED = 10
const TRAFFIC_SAMPLE_MS = 1_000
const TRAFFIC_FLUSH_MS = 60_000

export async function createSmsc(input: Options | ResolvedOptions = {}, extra: { log?: LogFn; onFatal?: (err: unknown) => void; now?: () => number } = {}): Promise<Smsc> {
  const options = resolveOptions(input)
  const log = extra.log ?? createLogger(options.log.level)
  /** The one clock (a test may give a fake one: schedules and expiry follow it). */
  const now = extra.now ?? (() => Date.now())
  /** A start on a full disk is refused in one line (lmdb's own error is a page position and a stack). */
  const orFull = (e: unknown): unknown => (/No space left on device/i.test(String((e as Error)?.message)) || (e as { code?: unknown })?.code === 'ENOSPC'
    ? smscError('SMSC_ERR_DISK_FULL', `the filesystem of the data dir ${path.resolve(options.dataDir)} is full (no space left on device): free space there, then start again`)
    : e)
  let unlock: () => void
  try {
    makeDataDir(options.dataDir)
    unlock = lockDataDir(options.dataDir)
  } catch (e) {
    throw orFull(e)
  }
  /** The previous run did not stop cleanly (its lock was stale, now or when a CLI command took it over since). */
  const unclean = uncleanStop(options.dataDir)
  const base = { maxBinds: options.session.maxBindsPerAccount, windowSize: options.session.windowSize, messageIdFormat: options.messageIdFormat }
  const defaults: AccountSettings = { ...defaultSettings(base), receiptPolicy: options.receipts.multipart }
  let store: Store
  try {
    store = await Store.open(path.join(options.dataDir, 'store'), { accountDefaults: { ...base, receiptPolicy: options.receipts.multipart }, restoreIds: true })
  } catch (e) {
    unlock()
    throw orFull(e)
  }
  const ledger = new Ledger(store, now)
  /** A start refused after the store is open: closed and unlocked first, so nothing stays behind. */
  const refuseStart = async (err: Error): Promise<never> => {
    await store.close()
    unlock()
    throw err
  }
  // Written under another umask (before smsc set 077, or by hand): message text and password hashes open to others.
  try {
    const mode = fs.statSync(path.join(options.dataDir, 'store', 'data.mdb')).mode & 0o777
    if ((mode & 0o077) !== 0) log('warn', `the store is readable by other users (mode ${mode.toString(8)}): it holds message text and password hashes. Run: chmod -R go-rwx ${path.resolve(options.dataDir)}`)
  } catch { /* no file yet: Store.open made it, under this process's umask */ }
  if (store.restored !== null) {
    const r = store.restored
    log('warn', 'this data dir is a backup opened for the first time: message ids skip ahead past any the engine may have handed out since the backup' +
      (r.capped ? ` (at most ${RESTORE_IDS_MAX.toLocaleString('en')}: had the original engine handed out more than that since, those ids could come again)` : ''), {
      backupAt: new Date(r.backupAt).toISOString(), skippedIds: r.skippedIds,
    })
  }

  // Accounts from the config are created or updated at start (settings given there win; `credit` is
  // the opening balance of a new account); a first start gets a demo account. An account removed through
  // the API or CLI stays removed (its id is never reused, engine/admin.ts): the config cannot bring it back.
  let demoAccount: { systemId: string; password: string } | null = null
  /** meta key prefix: a hash of the password the config file last set for an account */
  const CONFIG_PASSWORD_META = 'config:password:'
  const removed = new Set(options.accounts.filter((a) => wasRemoved(store, a.systemId)).map((a) => a.systemId))
  const configured = new Set(options.accounts.map((a) => a.systemId).filter((id) => !removed.has(id)))
  // Accounts without a parent first, so a reseller listed after its users exists when they are made (they take its settings).
  const inOrder = [...options.accounts.entries()].sort(([, x], [, y]) => Number(x.parent != null) - Number(y.parent != null))
  for (const [i, a] of inOrder) {
    if (removed.has(a.systemId)) {
      log('warn', `config account ${a.systemId} is not recreated: it was removed through the API or CLI, and a removed account's id is never reused. Delete it from the config file (accounts[${i}])`, { systemId: a.systemId })
      continue
    }
    if (a.parent != null && !configured.has(a.parent) && store.getAccount(a.parent)?.role !== 'reseller') {
      await refuseStart(smscError('SMSC_ERR_CONFIG_INVALID', `config.accounts: ${a.systemId}.parent ${JSON.stringify(a.parent)} is not a reseller account${removed.has(a.parent) ? ' (it was removed through the API or CLI)' : ''}`))
    }
    const existing = store.getAccount(a.systemId)
    const { password, credit, ...settings } = a
    // The file's password is applied when the account is made and whenever the file changes it; a password
    // changed since through the API, the console or the CLI stays (the file still holds the one it replaced).
    const same = existing !== undefined && (await store.verifyPassword(a.systemId, password)) === 'ok'
    const appliedKey = `${CONFIG_PASSWORD_META}${a.systemId}`
    const applied = store.getMeta(appliedKey)
    // A store from before this rule has no record of what the file set: an account whose password differs from the
    // file's then keeps it (it was changed through the API, most likely), and the file's is recorded as applied.
    const unrecorded = existing !== undefined && typeof applied !== 'string'
    const keep = same || unrecorded || (existing !== undefined && typeof applied === 'string' && (await verifyScrypt(applied, password)))
    if (keep && !same) log('info', `account ${a.systemId}: its password was changed through the API, console or CLI after the config file set it; the file's password (unchanged since) is not applied again. Change it in the file to set it from there`, { systemId: a.systemId })
    const passwordHash = keep ? (existing as Account).passwordHash : await Store.hashPassword(password)
    // A new user of a reseller bills like it and starts within its limits, as one the operator makes through the
    // API or CLI (engine/admin.ts create): a prepaid reseller's user that sent for free would be a billing leak.
    const reseller = existing === undefined && a.parent != null ? store.getAccount(a.parent) : undefined
    const inherited: Partial<AccountSettings> = reseller === undefined ? {} : {
      ...inheritedBounds(reseller, defaults),
      group: reseller.group, settlement: reseller.settlement, prepaid: reseller.prepaid, messageIdFormat: reseller.messageIdFormat,
    }
    const record = {
      ...(existing ?? defaults), ...inherited, ...settings,
      prepaid: credit !== undefined ? true : (settings.prepaid ?? existing?.prepaid ?? inherited.prepaid ?? false),
      systemId: a.systemId,
      passwordHash,
      createdAt: existing?.createdAt ?? now(), updatedAt: now(),
    } as Account
    // Webhooks the file gives are the operator's: the SSRF guard does not apply to them (engine/webhook-target.ts).
    if (settings.webhooks !== undefined) record.webhooksByOperator = { receipts: true, mo: true }
    const batch: CommitBatch = { accounts: [record] }
    // a hash the file's password verifies against: the account's own when they agree, else one of its own
    if (applied !== passwordHash && (same || !keep)) batch.meta = [[appliedKey, passwordHash]]
    else if (unrecorded && !same) batch.meta = [[appliedKey, await Store.hashPassword(password)]]
    if (!existing && credit !== undefined && credit > 0) batch.ledger = [ledger.credit(a.systemId, credit, 'opening', 'config')]
    await store.commit(batch)
  }
  // Webhooks stored before the engine recorded who set them count as the account's own, so the SSRF guard refuses
  // the private ones, an operator's internal gateway included: say which, and how to keep them.
  if (!options.webhooks.allowPrivateTargets) {
    for (const acc of store.listAccounts()) {
      if (acc.webhooksByOperator !== undefined) continue
      for (const kind of ['receipts', 'mo'] as const) {
        const url = acc.webhooks[kind]
        const why = url ? urlTargetRefusal(url) : null
        if (why !== null) log('warn', `account ${acc.systemId}: webhooks.${kind} was stored before webhooks recorded who set them, so it counts as set by the account, and it is refused (${why}). If the operator set it, set it again as the operator (smsc account set ${acc.systemId} --webhook-${kind} URL), or allow private targets (webhooks.allowPrivateTargets)`, { systemId: acc.systemId })
      }
    }
  }
  if (store.listAccounts().length === 0 && !wasRemoved(store, 'demo')) {
    demoAccount = { systemId: 'demo', password: generatePassword() }
    await store.putAccount({ ...defaults, systemId: demoAccount.systemId, passwordHash: await Store.hashPassword(demoAccount.password), createdAt: now(), updatedAt: now() } as Account)
  }
  // Webhook POSTs are always signed (docs/API.md "Webhook signatures"): an account with webhooks and no secret yet
  // (webhooks from the config file, a record older than signatures) gets one now, shown nowhere: the operator
  // gets one to give the customer with `smsc account webhook-secret <systemId>`, which makes a new one.
  const unsigned = store.listAccounts().filter((a) => (a.webhooks.receipts !== null || a.webhooks.mo !== null) && !a.webhookSecret)
  if (unsigned.length > 0) {
    await store.commit({ accounts: unsigned.map((a) => ({ ...a, webhookSecret: generateWebhookSecret() })) })
    log('info', 'webhook secrets made for accounts with webhooks and none: their POSTs are signed; `smsc account webhook-secret <systemId>` makes a new one and shows it', { systemIds: unsigned.map((a) => a.systemId) })
  }
  // Routing tables: the config's when it gives them (stored, so the API shows them), else the stored ones.
  if (options.routes !== null) await store.commit({ meta: [['routes', options.routes]] })
  const storedRoutes = store.getMeta('routes') as RouteTables | undefined
  const routes: RouteTables = storedRoutes ?? DEFAULT_ROUTES
  /** The connector ids routes may name: the config's, changed by a reload (reloadConfig). */
  let connectorIds = connectorIdsOf(options.simulator.enabled, options.connectors)
  // Routes set through the API or CLI name the connectors of the config they were set with. Started with a config
  // that lacks one (a connector taken out of the file, a backup started elsewhere), they would take messages
  // (acknowledged, charged) for a connector that never comes: refused, as PUT /api/v1/routes refuses them.
  try {
    validateRouteTables(routes, 'routes', 'SMSC_ERR_CONFIG_INVALID', connectorIds)
  } catch (e) {
    if (storedRoutes === undefined) {
      await refuseStart(smscError('SMSC_ERR_CONFIG_INVALID', 'simulator.enabled is false and no routes are set, so every message would go to the simulator: ' +
        'give config.routes, or set the routes first (smsc route set FILE, with this config)'))
    }
    await refuseStart(smscError('SMSC_ERR_CONFIG_INVALID', `the routes stored in ${path.resolve(options.dataDir)} (set through the API or CLI) do not fit this config: ${(e as Error).message}. ` +
      'Add that connector to config.connectors, or replace the routes (smsc route set FILE, with this config)'))
  }
  let moRouter = new MoRouter(routes.mo)
  let moRoutes = routes.mo // for the keyword an MO's record names (moRecord)
  /** Where the first parts of concatenated MOs from upstreams went: their other parts follow (engine/routing.ts). */
  const moParts = new MoPartRoutes()
  /** MO opt-outs from senders in a national form: a line per account a minute (a carrier sending them all so would flood). */
  const nationalOptOuts = new RepeatedLog(log, {
    level: 'warn', keyName: 'systemId',
    first: 'MO opt-out from a sender that is not international (TON not 1, no "+" or "00"): listed as given, it matches only MT to those same digits',
    more: 'more MO opt-outs from senders that are not international',
  })
  /** MO parts refused for now because their first part has not come: a line per upstream a minute (the upstream retries each). */
  const earlyParts = new RepeatedLog(log, { level: 'info', keyName: 'connector', first: 'MO part before its first part, which decides its route: refused for now with ESME_RX_T_APPN', more: 'more MO parts before their first part, refused for now' })
  /** MO routes' auto-replies (docs/ROUTING.md "Auto-replies"): one per route and sender a minute; a refused one is a
   *  warning (an account out of credit would otherwise log one per STOP), a held-back one a line, per route a minute. */
  const replyGuard = new ReplyGuard()
  const repliesRefused = new RepeatedLog(log, { level: 'warn', keyName: 'route', first: 'MO auto-reply not sent', more: 'more MO auto-replies of this route not sent' })
  const repliesHeld = new RepeatedLog(log, { level: 'info', keyName: 'route', first: 'MO auto-reply held back: one per route and sender a minute', more: 'more MO auto-replies of this route held back' })
  const webhooks = new WebhookSender({
    timeoutMs: options.webhooks.timeoutMs, concurrency: options.webhooks.concurrency, allowPrivateTargets: options.webhooks.allowPrivateTargets, log,
  })

  const metrics = new Metrics(options.telemetry.events, options.telemetry.timelineSize, now)
  metrics.uncleanStart = unclean !== null
  const refusals = new Refusals(options.stats.refusalsKept)
  refusals.restore(store.getMeta(REFUSALS_META)) // those of the last clean stop (engine/refusals.ts)
  const traffic = new DailyStats(store, options.stats.retentionDays)
  const { auth, generated: adminPassword } = await AdminAuth.init(store, options.admin.password)
  /** slot: the connection's place among the unbound ones (smpp.maxUnboundPerIp), given back at bind. */
  const all = new Map<number, { session: Session; ref: ActorRef; tls: boolean; slot?: UnboundSlot }>()
  const byAccount = new Map<string, Session[]>()
  let nextSessionId = 1
  let stopping = false
  let stopped: Promise<void> | null = null

  const bindThrottle = new LoginThrottle()
  /** Failed binds per address (IPv6: its /64) across system_ids, as HTTP logins (LOGIN_FAILURES_PER_ADDRESS, auth.ts). */
  const addressBinds = new LoginThrottle(LOGIN_FAILURES_PER_ADDRESS)
  const receivers = (systemId: string): Session[] => (byAccount.get(systemId) ?? []).filter((s) => canReceive(s.state))
  const telemetrySources: HubSources = {
    sessions: () => all.values(), // entries carry session and tls: no copy per tick
    accounts: () => store.listAccounts().map((a) => a.systemId),
    pending: () => new Map(store.accountsWithPending().map((a) => [a, store.pendingCount(a)])),
    inFlight: () => store.inFlightByAccount(),
    carrierInFlight: () => actors.stats().carrierInFlight,
    connectors: () => {
      const st = actors.stats()
      return { backlog: st.backlog, list: listed(st).map((c) => ({ id: c.id, kind: c.kind, up: c.up, ...(c.stopped ? { stopped: true as const } : {}), ...(c.paused !== null ? { paused: c.paused } : {}), ...(c.stalledSince !== undefined ? { stalled: { since: c.stalledSince, timeouts: c.stalledTimeouts ?? 0 } } : {}), inFlight: c.inFlight, queued: c.queued, sent: c.sent, failed: c.failed })) }
    },
    workers: () => null,
    balances: () => new Map(store.listAccounts().filter((a) => a.prepaid).map((a) => [a.systemId, ledger.balance(a.systemId)])),
    health: () => healthNow(actors.stats()),
    pendingOldest: () => {
      const out = new Map<string, number>()
      for (const a of store.accountsWithPending()) {
        const head = store.pendingDeliveries(a, 0, 1)[0]
        if (head !== undefined) out.set(a, head.createdAt)
      }
      return out
    },
    storeSpace: () => {
      try {
        // the disk reading's (below): a scrape reads no statfs of its own, but before a first reading there is none to take
        if (diskFreeBytes === null) diskRead(fs.statfsSync(options.dataDir))
        return { bytes: fs.statSync(path.join(options.dataDir, 'store', 'data.mdb')).size, free: diskFreeBytes as number }
      } catch {
        return null
      }
    },
  }
  const hub = new TelemetryHub(metrics, telemetrySources, options.telemetry.intervalMs, now)
  // Failed TLS handshakes on the SMPP TLS port (an old TLS version, a certificate the client does not
  // trust, plain SMPP sent to it): one line per client address a minute, and smsc_tls_handshake_failures_total.
  const tlsFailures = new RepeatedLog(log, { level: 'info', keyName: 'remote', first: 'TLS handshake failed', more: 'more TLS handshakes failed' })
  // Refused binds (wrong password, unknown system_id, allowedIps…): one line per client address a minute, with a count.
  const bindRefusals = new RepeatedLog(log, { level: 'info', keyName: 'ip', first: 'bind refused', more: 'more binds refused from this address' })
  // Connections the session_init timer closed (they had not bound): one line per client address (IPv6: its /64) a minute.
  const initExpired = new RepeatedLog(log, { level: 'info', keyName: 'ip', first: 'session_init timer expired', more: 'more connections from this address closed by the session_init timer' })
  // Connections closed at accept because too many have not bound (smpp.maxUnboundConnections, maxUnboundPerIp).
  const unboundRefusals = new RepeatedLog(log, {
    level: 'warn', keyName: 'ip',
    first: 'connection refused: too many connections that have not bound (smpp.maxUnboundConnections, smpp.maxUnboundPerIp)',
    more: 'more connections refused from this address: too many that have not bound',
  })
  // Counted by address key (IPv6: its /64). When the total is full, the biggest holder's oldest goes to let another address in (engine/transport/unbound.ts).
  const unbound = new UnboundConnections(options.smpp, (key, by) => {
    metrics.connectionsRefused.evicted++
    unboundRefusals.add(key, { cap: 'smpp.maxUnboundConnections', limit: options.smpp.maxUnboundConnections, evicted: true, for: by }, now())
  })
  // An HTTP provider's status words no callbackStatuses entry maps: one line per connector a minute.
  const unmappedStatuses = new RepeatedLog(log, {
    level: 'warn', keyName: 'connector',
    first: 'HTTP provider receipt with a status that callbackStatuses does not map: acknowledged, the message unchanged (add the word to callbackStatuses, docs/CONNECTORS.md)',
    more: 'more HTTP provider receipts with unmapped statuses',
  })
  let http: HttpServer | null = null
  /** The certificate files HTTPS serves (tlsFingerprint), null before they are read. */
  let httpsFiles: string | null = null
  const actors: ActorSystem = startActors({
    options, store, log, now, receivers, metrics, ledger, routes, webhooks,
    account: (systemId) => store.getAccount(systemId),
    inboundMo: (connector, items, settled) => inboundMo(connector, items, settled),
    telemetryIntervalMs: options.telemetry.intervalMs,
    publishTelemetry: () => {
      // What telemetry costs: the whole tick (collect, encode, publish) is timed.
      const t0 = performance.now()
      const frames = hub.tick((http?.subscribers() ?? 0) > 0)
      tlsFailures.tick(now())
      bindRefusals.tick(now())
      initExpired.tick(now())
      unboundRefusals.tick(now())
      http?.tick()
      unmappedStatuses.tick(now())
      earlyParts.tick(now())
      nationalOptOuts.tick(now())
      repliesRefused.tick(now())
      repliesHeld.tick(now())
      if (frames) http?.publish(frames)
      metrics.telemetryTick.record((performance.now() - t0) * 1000)
    },
    fatal: (err) => {
      log('error', 'permanent actor failed beyond its restart budget; stopping the engine', { error: String(err) })
      extra.onFatal?.(err)
      void smsc.stop()
    },
    connectorStopped: (id) => store.getMeta(CONNECTOR_STOPPED_META(id)) === true,
  })
  /** A batch through the store actor's group commit, as a promise (admin changes, a reload's marks). */
  const commitBatch = (batch: CommitBatch) => new Promise<void>((resolve, reject) => actors.commit(batch, (err) => (err ? reject(err) : resolve())))
  const admin = new Admin({
    store, ledger, now, defaults,
    configKeys: configKeysOf(options.accounts as unknown as Record<string, unknown>[]),
    dataDir: options.dataDir,
    backupsDir: path.join(options.dataDir, 'backups'),
    backupsKept: options.store.backupsKept,
    allowPrivateWebhookTargets: options.webhooks.allowPrivateTargets,
    commit: commitBatch,
    traffic,
    connectors: () => connectorIds,
    onAccountChanged: (systemId, a, change) => {
      actors.accountChanged(systemId, a)
      http?.scopeChanged()
      // On the events feed: created, suspended, resumed or removed, and by whom. A removal is filed under the owning
      // reseller (the account itself is gone: nobody would see it), an operator-owned account's under itself.
      const what = change && ACCOUNT_EVENTS[change.action]
      if (change && what) metrics.event('account', { systemId: what === 'removed' ? change.parent ?? systemId : systemId, detail: `${systemId} ${what} by ${customerBy(change.by)}` })
      // Suspended or removed: its binds go (unbind, drained), and new binds are refused.
      if (a === null || a.suspended) for (const s of byAccount.get(systemId) ?? []) void s.requestUnbind(a === null ? 'account removed' : 'account suspended')
      else {
        // Its allowedIps or clientCerts changed: the binds they no longer let in go as a new bind would be refused
        // (an operator locking out a leaked password expects the sessions made with it to end).
        for (const s of [...(byAccount.get(systemId) ?? [])]) {
          const refused = whereRefused(a, s)
          if (refused === null) continue
          log('info', 'bind ended: the account\'s policy no longer lets it in', { session: s.id, systemId, remote: s.remote, reason: refused })
          void s.requestUnbind(`account policy: ${refused}`)
        }
      }
      outbind.accountChanged(systemId, a === null || a.suspended ? null : a.outbind)
    },
    usage: (systemId) => {
      const a = store.getAccount(systemId)
      const q = store.getMeta(`quota:${systemId}`) as { day: number; used: number } | undefined
      return {
        binds: (byAccount.get(systemId) ?? []).filter((x) => isBound(x.state)).length,
        quotaUsedToday: a?.dailyQuota == null ? null : q !== undefined && q.day === Math.floor(now() / 86_400_000) ? q.used : 0,
        pendingDeliveries: store.pendingCount(systemId),
        receivers: receivers(systemId).length,
      }
    },
    onRoutesChanged: (tables, warnings) => {
      moRouter = new MoRouter(tables.mo)
      moRoutes = tables.mo
      actors.setRoutes(tables)
      log('info', 'routing tables reloaded', { mt: tables.mt.length, mo: tables.mo.length })
      // Applied all the same (a narrowing can be meant), but said: else the first sign is customers' submits refused.
      if (warnings.length > 0) {
        const shown = warnings.slice(0, ROUTING_WARNINGS_LOGGED).join('; ')
        log('warn', `routes narrowed: destinations the routes in force carried are not routed now: ${shown}${warnings.length > ROUTING_WARNINGS_LOGGED ? `; and ${warnings.length - ROUTING_WARNINGS_LOGGED} more` : ''}`, { lost: warnings.length })
      }
    },
    onConnectorStopped: (id, stopped, by) => {
      log('info', stopped ? 'connector stopped by the operator: no link, routes skip it' : 'connector started by the operator', { connector: id, by })
      metrics.event('connector', { detail: `${id} ${stopped ? 'stopped' : 'started'} by ${by}` })
      return actors.setConnectorStopped(id, stopped)
    },
  })

  // The disk reading: the free space of the data dir's filesystem (the store's), read once at start and then once a
  // second, off the message path: the disk guard's, and /metrics' smsc_store_free_bytes (a scrape reads none).
  // The disk guard: with less than store.minFreeMiB free there, new submits get ESME_RMSGQFUL
  // (a full disk fails every commit, and lmdb has been seen to abort the process after that); the outcomes and
  // receipts of messages already taken are still written. Taking submits again once 10% (at least 16 MiB) above the line.
  let diskFreeBytes: number | null = null
  let diskLow = false
  /** The guard's reading (null while store.minFreeMiB is 0: no guard), for /healthz. */
  let diskFreeMiB: number | null = null
  const diskRead = (st: fs.StatsFs): void => {
    diskFreeBytes = st.bavail * st.bsize
    const min = options.store.minFreeMiB
    if (min === 0) return
    diskFreeMiB = Math.floor(diskFreeBytes / 1_048_576)
    if (!diskLow && diskFreeMiB < min) {
      diskLow = true
      log('warn', 'disk almost full: refusing submits with ESME_RMSGQFUL', { dataDir: path.resolve(options.dataDir), freeMiB: diskFreeMiB, minFreeMiB: min })
      metrics.event('throttle', { detail: `${diskFreeMiB} MiB free on the data dir's disk, below store.minFreeMiB ${min}` })
    } else if (diskLow && diskFreeMiB >= min + Math.max(16, Math.ceil(min / 10))) {
      diskLow = false
      log('info', 'disk space back: accepting submits again', { freeMiB: diskFreeMiB, minFreeMiB: min })
    }
  }
  try { diskRead(fs.statfsSync(options.dataDir)) } catch { /* the store reports its own errors */ }
  // One statfs at a time: on a filesystem where it hangs, calls would pile up in libuv's thread pool (DNS, scrypt).
  let reading = false
  const diskTimer = setInterval(() => {
    if (reading) return
    reading = true
    fs.statfs(options.dataDir, (err, st) => { reading = false; if (!err) diskRead(st) })
  }, DISK_CHECK_MS)
  diskTimer.unref()

  /**
   * What /healthz says "degraded" for (still 200: the engine serves, a supervisor must not restart it), and the
   * console's health panel shows: what an alert should name. An upstream link down (one the operator stopped is
   * down on purpose: not a problem), the overload guard or the disk guard refusing submits.
   */
  const problems = (st: ReturnType<typeof actors.stats>, busy: boolean): EngineHealth['problems'] => [
    ...st.connectors.filter((c) => c.kind !== 'simulator' && !c.up && !c.stopped).map((c) => ({ reason: 'connector_down' as const, text: `connector ${c.id} is down` })),
    ...(busy ? [{ reason: 'overload' as const, text: 'overloaded: submits are refused with ESME_RMSGQFUL until the backlog drains' }] : []),
    ...(diskLow ? [{ reason: 'disk' as const, text: `disk almost full: ${diskFreeMiB} MiB free for the data dir, below store.minFreeMiB (${options.store.minFreeMiB}): submits are refused with ESME_RMSGQFUL` }] : []),
  ]
  /** GET /healthz's status and problems (smsc_health, smsc_health_problems and the console's banner say the same). */
  const healthNow = (st: ReturnType<typeof actors.stats>): EngineHealth => {
    const found = problems(st, overloaded())
    return { status: !listeners || stopping ? 'starting' : found.length > 0 ? 'degraded' : 'ok', problems: found }
  }
  /**
   * The connectors to list (/healthz, /metrics, the stream, GET /api/v1/connectors): a disabled simulator is none (its
   * actor still runs, for the messages it took before, docs/CONFIG.md simulator.enabled).
   */
  const listed = (st: ReturnType<typeof actors.stats>): ReturnType<typeof actors.stats>['connectors'] =>
    options.simulator.enabled ? st.connectors : st.connectors.filter((c) => c.id !== SIMULATOR_CONNECTOR)

  // Overload (high/low water on the backlog waiting for connectors): new submits get ESME_RMSGQFUL.
  let congested = false
  const overloaded = (): boolean => {
    const backlog = actors.backlog()
    if (congested && backlog < options.overload.lowWater) {
      congested = false
      log('info', 'overload over: accepting submits again', { backlog })
    } else if (!congested && backlog >= options.overload.highWater) {
      congested = true
      log('warn', 'overloaded: refusing submits with ESME_RMSGQFUL', { backlog, highWater: options.overload.highWater })
      metrics.event('throttle', { detail: `engine backlog ${backlog} over overload.highWater` })
    }
    return congested
  }

  /**
   * The way in for every submit (SMPP batch, HTTP batch, console): account policy checked here,
   * then the account's rate actor, a router actor (routes, credit) and the store; `done` gets one
   * status per record (0 = stored) and, when opt-outs took destinations out of records, those per record.
   */
  const admitRecords = (systemId: string, records: MessageRecord[], groups: number[] | null, done: AcceptDone) => {
    const statuses = new Array<number>(records.length).fill(0)
    const a = store.getAccount(systemId)
    if (a === undefined || a.suspended) return done(null, statuses.fill(a === undefined ? S.ESME_RINVSYSID : S.ESME_RBINDFAIL))
    if (overloaded() || diskLow) return done(null, statuses.fill(S.ESME_RMSGQFUL))
    // A sender id passes the account's allowedSources and its reseller's (docs/ACCOUNTS.md): a reseller's list
    // bounds its users at once, also users whose own list is older or wider. Both lists are the cached accounts'.
    const own = a.allowedSources
    const tree = a.parent === null ? NO_SOURCES : store.getAccount(a.parent)?.allowedSources ?? NO_SOURCES
    if (own.length > 0 || tree.length > 0) {
      for (let i = 0; i < records.length; i++) {
        const src = records[i].src[2]
        if (!sourceAllowed(own, src) || !sourceAllowed(tree, src)) statuses[i] = S.ESME_RINVSRCADR
      }
    }
    // Opt-outs (docs/ROUTING.md): a destination on the global list, the account's or its reseller's is taken out
    // here, before the rate actor, routing and credit, so it is neither sent nor charged nor counted; a record left
    // without destinations gets SMSC_ROPTEDOUT (SMSC_ERR_DEST_OPTED_OUT, engine/errors.ts says why that status).
    // Nothing but this size check while every list is empty.
    if (store.optOuts.size > 0) {
      const refused = store.optOuts.screen(systemId, a.parent, records, statuses, S.SMSC_ROPTEDOUT)
      if (refused !== null) {
        metrics.optOutRefused(refused.counts)
        const answer = done
        done = (err, st) => answer(err, st, refused.removed)
      }
    }
    const job: AcceptJob = { systemId, records, statuses, groups, done }
    if (statuses.every((x) => x !== 0)) return done(null, statuses)
    // replace_if_present_flag: find the pending messages each flagged record replaces (a scan of the
    // messages in flight, paid only by batches that use the flag).
    if (records.some((r) => r.replaceIfPresent)) {
      const key = (r: MessageRecord) => `${r.src[2]}\0${r.dests[0]?.addr[2]}\0${r.serviceType}`
      const pending = new Map<string, MessageRecord[]>()
      for (const m of store.activeMessages() as MessageRecord[]) {
        if (m.systemId !== systemId || isFinal(m.state) || m.dests.length !== 1) continue
        const k = key(m)
        const list = pending.get(k)
        if (list) list.push(m); else pending.set(k, [m])
      }
      job.replaces = records.map((r) => (r.replaceIfPresent && r.dests.length === 1 ? pending.get(key(r)) : undefined))
    }
    actors.admit(job)
  }

  const ticker = new Ticker(now, 100, (member, err) => {
    const s = member as Session
    log('error', 'session crashed in its timers', { session: s.id, systemId: s.systemId, error: String((err as Error)?.stack ?? err) })
    metrics.event('session_crash', { systemId: s.systemId, session: s.id, detail: String((err as Error)?.message ?? err) })
    s.close('crash')
  })
  ticker.start()

  // Retention: messages that ended more than store.retentionHours ago leave the store, oldest first, in slices.
  let purgeTimer: NodeJS.Timeout | undefined
  const purge = (): void => {
    if (options.store.retentionHours === 0 || stopping) return
    store.purgeFinal(now() - options.store.retentionHours * 3_600_000, PURGE_SLICE).then(
      (n) => { metrics.totals.purged += n; return n },
      (err: unknown) => { log('error', 'retention purge failed', { error: String(err) }); return 0 },
    ).then((n) => {
      if (!stopping) (purgeTimer = setTimeout(purge, n === PURGE_SLICE ? PURGE_BUSY_MS : PURGE_IDLE_MS)).unref()
    })
  }
  ;(purgeTimer = setTimeout(purge, PURGE_IDLE_MS)).unref()
  // Daily traffic per account: the Metrics counters' growth goes into the day's buckets once a second (no work on
  // the SMPP path); the changed buckets, and once a day the days past stats.retentionDays, are committed once a minute.
  let trafficFlushedAt = now()
  let trafficFlushing = false
  const flushTraffic = (): void => {
    if (trafficFlushing) return
    trafficFlushedAt = now()
    const entries = traffic.flush(trafficFlushedAt)
    if (entries.length === 0) return
    trafficFlushing = true
    actors.commit({ meta: entries }, (err) => {
      trafficFlushing = false
      if (err) {
        traffic.unflushed(entries)
        log('error', 'daily traffic commit failed; tried again in a minute', { error: err.message })
      }
    })
  }
  const trafficTimer = setInterval(() => {
    traffic.sample(now(), metrics.accounts)
    if (now() - trafficFlushedAt >= TRAFFIC_FLUSH_MS) flushTraffic()
  }, TRAFFIC_SAMPLE_MS)
  trafficTimer.unref()
  // Upstream links that outlived their message (store.sweepLinks): one pass every LINK_SWEEP_MS, in slices.
  let sweepTimer: NodeJS.Timeout | undefined
  let swept = 0
  const sweep = (after: UpstreamKey | null): void => {
    if (stopping) return
    Promise.resolve().then(() => store.sweepLinks(after, PURGE_SLICE)).then(({ removed, next }) => {
      swept += removed
      if (next === null && swept > 0) { log('info', 'upstream id links of purged messages removed', { links: swept }); swept = 0 }
      return next
    }, (err: unknown) => { log('error', 'upstream link sweep failed', { error: String(err) }); return null }).then((next) => {
      if (!stopping) (sweepTimer = setTimeout(() => sweep(next), next === null ? LINK_SWEEP_MS : PURGE_BUSY_MS)).unref()
    })
  }
  ;(sweepTimer = setTimeout(() => sweep(null), LINK_SWEEP_MS)).unref()

  const limits = DEFAULT_LIMITS

  /** Cancels messages not final (cancel_sm, the API's DELETE): their open destinations end DELETED, their upstream links go; one commit. */
  const cancelRecords = (records: MessageRecord[], done: (err: Error | null) => void): void => {
    const t = now()
    const unlinks = records.flatMap((r) => actors.upstreamLinks(r.dests.filter((d) => !isFinal(d.state))))
    for (const r of records) {
      for (const d of r.dests) if (!isFinal(d.state)) { d.state = MessageState.DELETED; d.doneAt = t }
      r.state = MessageState.DELETED
      r.doneAt = t
    }
    actors.commit({ messages: records, upstreamRemove: unlinks }, done)
  }

  /** Why the account's policy keeps this connection from being bound as it (allowedIps, clientCerts); null: it may. At bind, and for the binds an account change leaves. */
  const whereRefused = (acc: Account, s: Session): string | null => {
    if (!ipAllowed(acc.allowedIps, s.remoteAddress)) return `${s.remoteAddress} is not in allowedIps`
    if (acc.clientCerts.length === 0) return null
    const cert = s.clientCertificate
    if (cert === null) return 'the account has clientCerts: it binds on the TLS port with one of those client certificates, or on an outbind connection with outbind.tls'
    if (cert !== 'outbind' && !acc.clientCerts.includes(cert)) return `the client certificate (sha256 ${cert}) is not one of the account's clientCerts`
    return null
  }

  const host: SessionHost = {
    now,
    log,
    metrics,
    authenticate(_s, systemId, password, _kind: BindKind, cb) {
      if (stopping) return cb(S.ESME_RBINDFAIL, undefined, 'the engine is stopping')
      // Password guessing over SMPP: 10 failed binds a minute per address and system_id, and
      // LOGIN_FAILURES_PER_ADDRESS per address whatever the system_id, so many names cannot each be tried ten times
      // (as HTTP logins, auth.ts).
      const from = LoginThrottle.keyOf(_s.remoteAddress)
      const anyName = addressBinds.begin(from)
      if (anyName === null) return cb(S.ESME_RBINDFAIL, undefined, `too many failed binds from ${_s.remoteAddress} (${LOGIN_FAILURES_PER_ADDRESS} a minute, any system_id): try again in ${Math.ceil(addressBinds.retryIn(from) / 1000)} s`)
      const key = LoginThrottle.keyOf(_s.remoteAddress, systemId)
      const named = bindThrottle.begin(key)
      if (named === null) {
        anyName(false)
        return cb(S.ESME_RBINDFAIL, undefined, `too many failed binds from ${_s.remoteAddress} as ${systemId}: try again in ${Math.ceil(bindThrottle.retryIn(key) / 1000)} s`)
      }
      const attempt = (failed: boolean): void => { named(failed); anyName(failed) }
      // allowedIps and clientCerts before the password: from where the account may not bind, a right and a wrong
      // password get the same answer, so an outsider learns nothing of it. Counted as a failed attempt from there.
      const known = store.getAccount(systemId)
      const outside = known === undefined ? null : whereRefused(known, _s)
      if (outside !== null) {
        attempt(true)
        return cb(S.ESME_RBINDFAIL, undefined, outside) // SMSC_ERR_IP_NOT_ALLOWED, or the account's clientCerts
      }
      store.verifyPassword(systemId, password).then((r) => {
        attempt(r === 'no-account' || r === 'bad-password')
        if (r === 'no-account') return cb(S.ESME_RINVSYSID, undefined, 'no such account')
        if (r === 'bad-password') return cb(S.ESME_RINVPASWD, undefined, 'wrong password')
        const acc = store.getAccount(systemId) as Account
        if (acc.suspended) return cb(S.ESME_RBINDFAIL, undefined, 'the account is suspended') // SMSC_ERR_ACCOUNT_SUSPENDED
        const refused = whereRefused(acc, _s)
        if (refused !== null) return cb(S.ESME_RBINDFAIL, undefined, refused) // SMSC_ERR_IP_NOT_ALLOWED, or the account's clientCerts
        const binds = (byAccount.get(systemId) ?? []).filter((x) => isBound(x.state)).length
        if (binds >= acc.maxBinds) return cb(S.ESME_RBINDFAIL, undefined, `maxBinds ${acc.maxBinds} reached`)
        const bound: BoundAccount = { systemId, windowSize: acc.windowSize, limits: { ...limits, defaultValidityMs: acc.validity.defaultMs, maxValidityMs: acc.validity.maxMs } }
        cb(0, bound)
      }, (err) => {
        attempt(false)
        log('error', 'credential check failed', { error: String(err) })
        cb(S.ESME_RBINDFAIL, undefined, 'the credential check failed')
      })
    },
    bindRefused(s, fields) {
      bindRefusals.add(s.remoteAddress, fields, now())
    },
    sessionInitExpired(s) {
      initExpired.add(addressKey(s.remoteAddress), { session: s.id, remote: s.remote }, now())
    },
    refused(s, command, status, from, to) {
      refusals.add({ t: now(), systemId: s.systemId, session: s.id, command, status, from, to })
    },
    bound(s) {
      const entry = all.get(s.id)
      entry?.slot?.release() // bound: no longer among the unbound connections
      if (entry) entry.slot = undefined
      metrics.event('bind', { systemId: s.systemId, session: s.id, detail: `${s.kind} from ${s.remote}` })
      let list = byAccount.get(s.systemId)
      if (!list) byAccount.set(s.systemId, (list = []))
      list.push(s)
      outbind.bound(s)
      if (canReceive(s.state)) actors.bound(s.systemId)
    },
    closed(s) {
      ticker.delete(s)
      const entry = all.get(s.id)
      entry?.slot?.release()
      all.delete(s.id)
      const list = byAccount.get(s.systemId)
      if (list) {
        metrics.event('unbind', { systemId: s.systemId, session: s.id, detail: s.closeReason })
        const i = list.indexOf(s)
        if (i >= 0) list.splice(i, 1)
        if (list.length === 0) byAccount.delete(s.systemId)
      }
      if (entry) actors.stopSession(entry.ref)
    },
    allocateIds: (s, n) => store.allocateIds(n, store.getAccount(s.systemId)?.messageIdFormat ?? options.messageIdFormat),
    accept(s, records, done) {
      admitRecords(s.systemId, records, null, done)
    },
    congestion: () => Math.min(99, Math.round((actors.backlog() / options.overload.highWater) * 100)),
    rateLimitDetail(systemId) {
      // The events reach the account's own console: the words the send API's refusal uses.
      const a = store.getAccount(systemId)
      return rateLimitWords(a, a?.parent ? store.getAccount(a.parent) : undefined)
    },
    // query_sm, cancel_sm and replace_sm are for the ESME's own submits: an MO's record (`mo`) is an unknown id to them.
    getMessage: (id) => mtRecord(id),
    cancel(s, pdu, cb) {
      if (!pdu.message_id) {
        // SMPP 3.4 §4.9.1: an empty message_id cancels every pending message of this ESME with this
        // source_addr and destination_addr (and service_type when given).
        if (!pdu.source_addr || !pdu.destination_addr) return cb(S.ESME_RCANCELFAIL)
        const hits = (store.activeMessages() as MessageRecord[]).filter((r) => r.systemId === s.systemId && r.src[2] === pdu.source_addr &&
          (!pdu.service_type || r.serviceType === pdu.service_type) && !isFinal(r.state) && r.dests.some((d) => d.addr[2] === pdu.destination_addr))
        if (hits.length === 0) return cb(S.ESME_RCANCELFAIL)
        return cancelRecords(hits, (err) => cb(err ? S.ESME_RCANCELFAIL : 0))
      }
      // SMPP 3.4 §4.9: by message_id (source_addr must match when given); final messages cannot be cancelled
      const r = mtRecord(pdu.message_id)
      if (!r || r.systemId !== s.systemId || (pdu.source_addr && pdu.source_addr !== r.src[2])) return cb(S.ESME_RCANCELFAIL)
      if (pdu.destination_addr && !r.dests.some((d) => d.addr[2] === pdu.destination_addr)) return cb(S.ESME_RCANCELFAIL)
      if (isFinal(r.state)) return cb(S.ESME_RCANCELFAIL)
      cancelRecords([r], (err) => cb(err ? S.ESME_RCANCELFAIL : 0))
    },
    replace(s, pdu, cb) {
      // SMPP 3.4 §4.10: replace text, registered_delivery, schedule and validity of a pending message
      const r = mtRecord(pdu.message_id)
      if (!r || r.systemId !== s.systemId || (pdu.source_addr && pdu.source_addr !== r.src[2]) || isFinal(r.state)) return cb(S.ESME_RREPLACEFAIL)
      const t = now()
      // Validate everything before changing anything.
      let scheduleAt = r.scheduleAt
      let expireAt = r.expireAt
      if (pdu.schedule_delivery_time) {
        const st = parseSmppTime(pdu.schedule_delivery_time, t)
        if (!st.ok) return cb(S.ESME_RINVSCHED)
        scheduleAt = st.ms ?? 0
      }
      if (pdu.validity_period) {
        const vt = parseSmppTime(pdu.validity_period, t)
        if (!vt.ok || vt.ms === null || vt.ms <= t) return cb(S.ESME_RINVEXPIRY)
        expireAt = vt.ms
      }
      if (expireAt <= scheduleAt) return cb(S.ESME_RINVEXPIRY)
      const payload = (pdu.message_payload as Buffer | undefined) ?? (pdu.short_message as Buffer)
      r.sm = Buffer.from(payload)
      r.registeredDelivery = pdu.registered_delivery
      r.scheduleAt = scheduleAt
      r.expireAt = expireAt
      // A STOP confirmation with the ESME's text is no confirmation: the opt-out lists stop it when due as any MT.
      delete r.confirmsOptOut
      r.state = scheduleAt > t ? MessageState.SCHEDULED : MessageState.ENROUTE
      // A new revision is a new submission upstream: receipts for the old one must not settle it, and its id link goes.
      const unlinks = actors.upstreamLinks(r.dests.filter((d) => !isFinal(d.state)))
      for (const d of r.dests) if (!isFinal(d.state)) { d.state = r.state; d.up = undefined }
      // A new revision: the carrier takes the message again with the new times; outcomes of the
      // old revision are ignored by the delivery actor.
      r.rev = (r.rev ?? 0) + 1
      actors.commit({ messages: [r], upstreamRemove: unlinks }, (err) => {
        cb(err ? S.ESME_RREPLACEFAIL : 0)
        if (!err) actors.dispatch([r], false)
      })
    },
    deliveryResults(_s, ok, failed, refused) {
      actors.deliveryResults(ok, failed, refused)
    },
  }

  const sessionConfig = {
    timers: options.timers,
    maxPduLength: options.session.maxPduLength,
    windowSize: options.session.windowSize,
    limits,
    smscSystemId: SMSC_SYSTEM_ID,
    maxQueuedOutputBytes: options.smpp.maxQueuedOutputBytes,
  }

  /** A connection, accepted by a listener or opened by the outbind dialer, becomes a Session. */
  const onSocket = (socket: net.Socket, secure: boolean, slot?: UnboundSlot): Session | null => {
    if (stopping) { socket.destroy(); return null }
    socket.setNoDelay(true)
    const s = new Session(nextSessionId++, socket, host, sessionConfig)
    const ref = actors.spawnSession(s)
    all.set(s.id, { session: s, ref, tls: secure, slot })
    ticker.add(s)
    log('debug', 'connection', { session: s.id, remote: s.remote, tls: secure })
    socket.on('data', (chunk: Buffer) => {
      try {
        s.onData(chunk)
      } catch (err) {
        // A bug in one session's handling closes that connection only (its actor is stopped too).
        log('error', 'session crashed', { session: s.id, systemId: s.systemId, remote: s.remote, error: String((err as Error)?.stack ?? err) })
        metrics.event('session_crash', { systemId: s.systemId, session: s.id, detail: String((err as Error)?.message ?? err) })
        s.close('crash')
      }
    })
    socket.on('error', (err) => log('debug', 'socket error', { session: s.id, error: err.message }))
    socket.on('close', () => s.close('peer closed'))
    return s
  }

  // SMPP 3.4 §2.2.1 outbind: accounts with an `outbind` setting are called when deliveries wait for them.
  const outbind = new OutbindDialer({
    now, log, metrics,
    waiting: () => store.accountsWithPending(),
    target: (systemId) => {
      const a = store.getAccount(systemId)
      return a === undefined || a.suspended ? null : a.outbind
    },
    hasReceiver: (systemId) => receivers(systemId).length > 0,
    open: onSocket,
    retryMs: options.session.outbindRetryMs,
    connectTimeoutMs: options.timers.sessionInitMs || 30_000,
    bindTimeoutMs: options.timers.sessionInitMs > 0 ? 0 : options.timers.responseMs, // the outbind's "response" is the bind
  })

  // What the store's open and the dispatcher's recovery counted (the active messages are loaded once at start: no scan of its own).
  const uncleanStart: UncleanStart | null = unclean === null ? null : {
    previousPid: unclean.pid,
    inFlight: store.activeMessages().length,
    pendingDeliveries: store.accountsWithPending().reduce((n, a) => n + store.pendingCount(a), 0),
  }

  // HTTP first (health answers 503 until SMPP listens), SMPP listeners last.
  let listeners: Listeners | null = null
  const smsc: Smsc = {
    options,
    ports: { smpp: 0, tls: null, http: 0, https: null },
    demoAccount,
    skippedAccounts: [...removed],
    uncleanStart,
    store,
    sessions: () => [...all.values()].map((e) => e.session),
    mo: (req) => originateMo(req),
    adminPassword,
    metrics,
    admin,
    ledger,
    connectorStats: () => listed(actors.stats()),
    receiptCallback(id) {
      const c = options.connectors.find((x) => x.id === id)
      if (c === undefined || c.kind !== 'http' || c.receipts !== 'callback' || c.callbackToken === null) return null
      return { token: c.callbackToken, fields: c.callbackFields, statuses: c.callbackStatuses }
    },
    providerReceipts: (id, cb) => providerReceipts(id, cb),
    submitMessages: (systemId, msgs) => submitMessages(systemId, msgs),
    telemetrySources,
    telemetryFrames: () => hub.current,
    submitText: (req) => submitText(req),
    lookup: (id) => lookup(id),
    cancelMessage: (id) => new Promise((resolve, reject) => {
      const r = mtRecord(id)
      if (!r) return reject(smscError('SMSC_ERR_MESSAGE_NOT_FOUND', 'no such message'))
      if (isFinal(r.state)) return reject(smscError('SMSC_ERR_MESSAGE_FINAL', `message ${id} is ${statOf(r.state)} already: nothing to cancel`))
      cancelRecords([r], (err) => (err ? reject(smscError('SMSC_ERR_STORE_UNAVAILABLE', `the cancel was not stored: ${err.message}`)) : resolve()))
    }),
    searchMessages: (q, sees, cancelled, who) => search(q, sees, cancelled, who),
    unbindSession(id) {
      const e = all.get(id)
      if (!e) return false
      actors.sessionMsg(e.ref, { type: 'unbind', reason: 'admin' })
      return true
    },
    faultSession(id) {
      metrics.event('session_crash', { session: id, detail: 'injected fault' })
      const e = all.get(id)
      if (!e) return false
      actors.sessionMsg(e.ref, { type: 'fault' })
      return true
    },
    faultActor: (a) => actors.fault(a),
    httpRoutes: () => http?.routes ?? [],
    health: () => {
      const st = actors.stats()
      const { status, problems: found } = healthNow(st)
      return {
        status,
        ...(found.length > 0 ? { problems: found.map((p) => p.text) } : {}),
        smpp: { port: smsc.ports.smpp, tls: smsc.ports.tls },
        sessions: all.size,
        bound: [...all.values()].filter((e) => isBound(e.session.state)).length,
        carrierInFlight: st.carrierInFlight,
        backlog: st.backlog,
        overloaded: congested,
        ...(diskFreeMiB !== null ? { diskFreeMiB } : {}),
        connectors: listed(st).map((c) => ({ id: c.id, kind: c.kind, up: c.up, ...(c.stopped ? { stopped: true } : {}) })),
        uptimeS: Math.round(process.uptime()),
      }
    },
    reloadTls: () => {
      if (stopping) return 'the engine is stopping: nothing reloaded'
      const { cert, key, ca } = options.tls
      if (!cert || !key) {
        return options.devTls ? `no TLS certificate to reload: the listener uses the dev certificate (devTls, ${path.join(options.dataDir, 'tls')}), read at start only`
          : 'no TLS certificate to reload (tls.cert and tls.key are not set)'
      }
      const files = { cert: readTlsFile('cert', cert), key: readTlsFile('key', key), ca: ca ? readTlsFile('ca', ca) : undefined }
      try {
        if (!listeners?.reloadTls(files)) return 'no SMPP TLS listener runs'
      } catch (e) {
        throw smscError('SMSC_ERR_CONFIG_INVALID', `config.tls: the certificate or key is not usable, the old one stays: ${(e as Error).message}`)
      }
      metrics.tlsCertExpiry = certExpiry(files.cert)
      // HTTPS (http.tlsPort) serves the same files: a new HTTPS app takes them (the pair was checked just above).
      let https = false
      try {
        // Only files that changed: each HTTPS reload keeps the old app (and its connections) alive.
        const fp = tlsFingerprint(files)
        if (fp !== httpsFiles) {
          https = http?.reloadTls() ?? false
          if (https) httpsFiles = fp
        }
      } catch (e) {
        throw smscError('SMSC_ERR_LISTEN_FAILED', `TLS certificate reloaded from ${cert} for SMPP/TLS, but ${(e as Error).message}`)
      }
      if (https) return `TLS certificate reloaded from ${cert}: new SMPP/TLS and HTTPS connections get it, open ones keep theirs`
      if (smsc.ports.https !== null) return `TLS certificate reloaded from ${cert}: new SMPP/TLS connections get it, open ones keep theirs; HTTPS already serves these files`
      return `TLS certificate reloaded from ${cert}: new SMPP/TLS connections get it, open ones keep theirs`
    },
    reloadConfig: (next) => {
      const run = reloading.then(() => reloadConfig(next))
      reloading = run.catch(() => {})
      return run
    },
    reload: async (read, report) => {
      let ok = true
      try {
        report('info', smsc.reloadTls())
      } catch (e) {
        ok = false
        report('error', (e as Error).message)
      }
      if (read !== null) {
        try {
          report('info', `config reloaded: ${await smsc.reloadConfig(read())}`)
        } catch (e) {
          ok = false
          report('error', `config not reloaded, nothing changed: ${(e as Error).message}`)
        }
      }
      metrics.configReloaded(ok)
    },
    stop: () => (stopped ??= shutdown()),
  }

  /** Reloads one at a time (a second SIGHUP waits for the first). */
  let reloading: Promise<unknown> = Promise.resolve()
  async function reloadConfig(input: Options | ResolvedOptions): Promise<string> {
    if (stopping) return 'the engine is stopping: nothing reloaded'
    const next = resolveOptions(input) // the whole file first: a bad key refuses all of it
    // The routes in force after the reload: the file's when it changed them (applied as a start applies them), else
    // the stored ones (set through the API or CLI). None may name a connector the new config lacks.
    const fileRoutes = next.routes !== null && !isDeepStrictEqual(next.routes, options.routes) ? next.routes : null
    const ids = connectorIdsOf(options.simulator.enabled, next.connectors)
    for (const [i, r] of (fileRoutes ?? admin.getRoutes()).mt.entries()) {
      const gone = routeConnectors(r).find((c) => !ids.has(c))
      if (gone !== undefined) {
        throw smscError('SMSC_ERR_CONFIG_INVALID', `route ${JSON.stringify(r.name)} (routes.mt[${i}]) sends to connector ${JSON.stringify(gone)}, which config.connectors no longer has: ` +
          'change the routes first (smsc route set FILE, PUT /api/v1/routes), then reload')
      }
    }
    const before = new Map(options.connectors.map((c) => [c.id, c]))
    const after = new Map(next.connectors.map((c) => [c.id, c]))
    const added = next.connectors.filter((c) => !before.has(c.id))
    const removed = options.connectors.filter((c) => !after.has(c.id)).map((c) => c.id)
    const changed = next.connectors.filter((c) => before.has(c.id) && !isDeepStrictEqual(before.get(c.id), c))
    // Every other section is read at start only.
    const restart = (Object.keys(next) as (keyof ResolvedOptions)[]).filter((k) => k !== 'connectors' && k !== 'routes' && !isDeepStrictEqual(options[k], next[k]))
    if (restart.length > 0) log('warn', `config ${restart.join(', ')} changed: needs a restart (a reload applies connectors and routes only)`, { sections: restart })
    // Validated: from here on it is applied.
    connectorIds = ids
    options.connectors = next.connectors
    const done: string[] = []
    for (const c of added) {
      log('info', 'connector added (config reload)', { connector: c.id, kind: c.kind })
      metrics.event('connector', { detail: `${c.id} added (${c.kind})` })
      await actors.setConnector(c.id, c)
    }
    if (added.length > 0) done.push(`added ${added.map((c) => c.id).join(', ')}`)
    let narrowed = 0
    if (fileRoutes !== null) {
      narrowed = (await admin.setRoutes(OPERATOR, fileRoutes)).warnings.length
      options.routes = fileRoutes
    }
    for (const c of changed) {
      const was = before.get(c.id) as unknown as Record<string, unknown>
      // Names only: a value may be a password.
      const fields = Object.keys(c).filter((k) => !isDeepStrictEqual(was[k], (c as unknown as Record<string, unknown>)[k]))
      log('info', 'connector changed (config reload): restarting it with the new settings', { connector: c.id, fields })
      metrics.event('connector', { detail: `${c.id} changed (${fields.join(', ')}): restarted` })
      await actors.setConnector(c.id, c)
    }
    if (changed.length > 0) done.push(`changed ${changed.map((c) => c.id).join(', ')}`)
    for (const id of removed) {
      log('info', 'connector removed (config reload): its link closes, what it held is routed again', { connector: id })
      metrics.event('connector', { detail: `${id} removed` })
      await actors.setConnector(id, null)
      // Forgotten: the same id added again later starts running.
      if (admin.connectorStopped(id)) await commitBatch({ meta: [[CONNECTOR_STOPPED_META(id), null]] }).catch(() => {}) // kept on failure: it applies if the id comes back
    }
    if (removed.length > 0) done.push(`removed ${removed.join(', ')}`)
    const kept = next.connectors.length - added.length - changed.length
    const routes = fileRoutes === null ? '' : `; routes replaced by the file's (${fileRoutes.mt.length} MT, ${fileRoutes.mo.length} MO` +
      `${narrowed > 0 ? `; ${narrowed} destination${narrowed === 1 ? '' : 's'} no longer routed: the "routes narrowed" warning names them` : ''})`
    if (done.length === 0) return routes === '' ? `connectors and routes unchanged${restart.length > 0 ? ` (${restart.join(', ')} need a restart)` : ''}` : `connectors unchanged${routes}`
    return `connectors ${done.join('; ')}${kept > 0 ? `; ${kept} unchanged` : ''}${routes}`
  }

  async function originateMo(req: MoRequest): Promise<{ id: string; systemId: string; parts: number }> {
    if (!options.simulator.enabled) throw smscError('SMSC_ERR_API_INVALID', 'the simulated carrier is off (simulator.enabled false): it sends no MO')
    // The MO routing table picks the account (destination prefix, keyword); else the request names it.
    const decision = req.systemId === undefined ? moRouter.decide(req.to, req.text) : null
    const systemId = accountFor(req.systemId ?? decision?.account ?? undefined,
      () => `no MO route takes it (to ${JSON.stringify(req.to)}, first word ${JSON.stringify(req.text.trim().split(/\s+/)[0] ?? '')}: docs/ROUTING.md "MO routes"); give systemId to send it to one account`)
    const coding = req.coding ?? (encodeText(req.text, 'gsm') ? 'gsm' : 'ucs2')
    const split = splitMessage(req.text, coding)
    if (!split) throw smscError('SMSC_ERR_DCS_INVALID', `text cannot be encoded as ${coding}`)
    const [id] = store.allocateIds(1, options.messageIdFormat)
    const t = now()
    // the subscriber's address as a carrier gives it: a sender id TON 5, a number without its '+' (TON 1 says it)
    const from = senderAddress(req.from)
    const to: Address = req.to.startsWith('+') ? [1, 1, req.to.slice(1)] : [0, 1, req.to]
    const items: DeliveryItem[] = split.parts.map((sm) => moItem(systemId, id, t, from, to, split.udhi ? 0x40 : 0, dcsOfCoding(coding), sm))
    // One record for the whole text (its id names the whole), however many parts it goes out as.
    const record = moRecord(id, systemId, t, from, to, 0, dcsOfCoding(coding), encodeText(req.text, coding) ?? Buffer.alloc(0), items.length, SIMULATOR_CONNECTOR, decision)
    const optOut = moOptOut(decision, systemId, from, t)
    const batch = optOut === null ? { enqueue: items, mo: [record] } : { enqueue: items, mo: [record], optOuts: [optOut], audit: [moOptOutAudit(optOut, decision as MoDecision, t)] }
    await new Promise<void>((resolve, reject) => actors.commit(batch, (err) => (err ? reject(err) : resolve())))
    if (optOut !== null) moOptOutDone([optOut])
    actors.enqueue(items)
    log('info', 'MO accepted', { id, systemId, parts: items.length })
    if (decision !== null && decision.reply !== null && decision.account === systemId) void moReply(decision, from, to, id)
    return { id, systemId, parts: items.length }
  }

  /**
   * What an MO route's `optOut` does (docs/ROUTING.md "Opt-outs"): its sender (the subscriber) goes on ("add", STOP) or
   * off ("remove", START) the route's account's list, in the commit that stores the MO. The change is emitted whatever
   * the list holds now: a STOP and a START of one read (or one still being committed) are committed in MO order, so
   * the last one wins (the store applies a commit's changes in order, and commits in order). Null when nothing is to
   * change: no such route, the MO named its account itself, the sender is not a number, or the list is full (engine/
   * optouts.ts MAX_PER_LIST, MAX_TOTAL: logged, the MO is still delivered).
   */
  function moOptOut(d: MoDecision | null, systemId: string, from: readonly [number, number, string], t: number): OptOutChange | null {
    if (d === null || d.optOut === null || d.account !== systemId) return null
    const number = normaliseNumber(from[2])
    if (number === null) {
      log('warn', 'MO opt-out route: the sender is not a phone number, no list changed', { systemId, from: from[2], by: d.by })
      return null
    }
    // SMPP 3.4 §5.2.5 source_addr_ton: 1 international. Anything else not written as "+…"/"00…" may be a national
    // form, which the list cannot make international (no country code): kept as given, it matches only those digits.
    if (from[0] !== 1 && !looksInternational(from[2])) nationalOptOuts.add(systemId, { from: from[2], ton: from[0], by: d.by }, t)
    if (d.optOut === 'remove') return { scope: systemId, number, entry: null }
    if (!store.optOuts.has(systemId, number) && (store.optOuts.count(systemId) >= MAX_PER_LIST || store.optOuts.size >= MAX_TOTAL)) {
      log('warn', `opt-out list full (at most ${MAX_PER_LIST} numbers a list, ${MAX_TOTAL} in all): the MO's sender is not added`, { systemId, from: from[2], by: d.by })
      return null
    }
    return { scope: systemId, number, entry: { at: t, by: d.by } }
  }

  /** MO opt-out changes committed: a line each (what the list's owner asks about: "when did this number say STOP?"). */
  function moOptOutDone(changes: readonly OptOutChange[]): void {
    for (const c of changes) log('info', c.entry === null ? 'opt-out removed by MO' : 'opt-out added by MO', { systemId: c.scope, number: c.number, by: c.entry?.by })
  }

  /**
   * The audit entry of an MO's list change, committed with it: START takes the entry off the list, so the audit is
   * where "when did this number say STOP, and START?" is still answered (retention does not purge it). As the
   * admin's `optout.add`/`optout.remove`, by `mo:<keyword>`, the owning reseller in `detail.owner`.
   */
  function moOptOutAudit(c: OptOutChange, d: MoDecision, t: number): AuditEntry {
    const parent = store.getAccount(c.scope)?.parent ?? null
    return { t, by: d.by, action: c.entry === null ? 'optout.remove' : 'optout.add', target: c.scope, detail: { count: 1, numbers: [c.number], ...(parent !== null ? { owner: parent } : {}) } }
  }

  /**
   * One MO (one part of a concatenated one) as a queue item: the deliver_sm frame for binds (with the SAR TLVs the part
   * came with), and the webhook event when the account has one: the part's text without its UDH, and `part` and `ref`
   * (from its UDH or its SAR TLVs) to put the parts together.
   */
  function moItem(systemId: string, id: string, t: number, from: [number, number, string], to: [number, number, string], esmClass: number, dcs: number, sm: Buffer, sar?: Sar): DeliveryItem {
    const item: DeliveryItem = {
      systemId, kind: 'mo', createdAt: t, attempts: 0, messageId: id,
      frame: deliverFrame({
        service_type: '', source_addr_ton: from[0], source_addr_npi: from[1], source_addr: from[2],
        dest_addr_ton: to[0], dest_addr_npi: to[1], destination_addr: to[2],
        esm_class: esmClass, data_coding: dcs, short_message: sm,
        ...(sar === undefined ? {} : { sar_msg_ref_num: sar.ref, sar_total_segments: sar.total, sar_segment_seqnum: sar.seq }),
      }),
    }
    if (store.getAccount(systemId)?.webhooks.mo) {
      const { text, part, ref } = moText(sm, esmClass, dcs, sar)
      item.event = { type: 'mo', id, from: eventAddress(from), to: eventAddress(to), text, dataCoding: dcs, hex: sm.toString('hex'), at: t, part, ref }
    }
    return item
  }

  /**
   * An MO's record (engine/message.ts MoFacts): committed with its queue items, so it exists exactly when the MO is
   * acknowledged to its sender (the upstream, the simulator's API). Support finds it by id, number and account (message
   * search), with the connector it came from, its route, and its delivery to the account (actors/delivery.ts).
   */
  function moRecord(id: string, systemId: string, t: number, from: Address, to: Address, esmClass: number, dcs: number, sm: Buffer,
    parts: number, connector: string, d: MoDecision | null, part?: [number, number] | null, ref?: number | null): MessageRecord {
    const r: MessageRecord = {
      id, systemId, state: MessageState.ENROUTE, err: 0, submitAt: t, doneAt: 0, src: [from[0], from[1], from[2]],
      dests: [{ addr: [to[0], to[1], to[2]], state: MessageState.ENROUTE, err: 0, doneAt: 0 }],
      serviceType: '', esmClass, protocolId: 0, priority: 0, dataCoding: dcs, registeredDelivery: 0, sm, scheduleAt: 0, expireAt: 0,
      mo: { connector, parts, acked: 0, retries: 0 },
    }
    if (part != null) r.part = part
    if (ref != null) r.ref = ref
    if (d !== null) {
      const mo = r.mo as MoFacts
      mo.route = d.route
      const keyword = routeKeyword(d.route)
      if (keyword !== undefined) mo.keyword = keyword
    }
    return r
  }

  /** An MO route's keyword, the first it lists (what an MO's record and a refused auto-reply name); none without. */
  function routeKeyword(route: string): string | undefined {
    const keyword = moRoutes.find((x) => x.name === route)?.match.keyword
    return keyword === undefined ? undefined : [keyword].flat()[0]
  }

  /**
   * MO from an upstream connector: routed by the MO table, stored, delivered like any MO; `settled` then
   * answers the upstream (deliver_sm_resp) with a status per MO. An MO that matches no route is refused
   * with ESME_RX_P_APPN (SMPP 3.4 §5.1.3: permanent error at the receiving end) instead of being
   * acknowledged and dropped: the upstream keeps it, or reports the failure to its sender.
   */
  function inboundMo(connector: string, mos: InboundMo[], settled: (statuses: readonly number[]) => void): void {
    const items: DeliveryItem[] = []
    const records: MessageRecord[] = [] // the MOs' own records, one per MO (a part is an MO of its own)
    const optOuts: OptOutChange[] = []
    const audits: AuditEntry[] = [] // one per list change, with it
    const replies: [MoDecision, InboundMo, string][] = [] // the auto-replies (with their MO's id), sent once the MOs are committed
    const statuses = new Array<number>(mos.length).fill(0)
    const t = now()
    for (let i = 0; i < mos.length; i++) {
      const mo = mos[i]
      let decision = null as MoDecision | null // the route's, when this MO was routed on its own text (a later part follows its first)
      // routed by the text without its UDH: a keyword starts a concatenated MO's first part after the header; its
      // other parts (by their UDH or their SAR TLVs) go where the first went (they start with no keyword)
      const { text, part, ref } = moText(mo.sm, mo.esmClass, mo.dataCoding, mo.sar)
      // (a part numbered outside 1..total is malformed: routed on its own, and it decides nothing for the others)
      const key = part !== null && ref !== null && part[0] >= 1 && part[0] <= part[1] ? `${connector}\0${mo.from[2]}\0${mo.to[2]}\0${ref}` : null
      const systemId = moParts.route(key, part?.[0] ?? 1, t, () => {
        decision = moRouter.decide(mo.to[2], text)
        const s = decision?.account ?? null
        return s !== null && store.getAccount(s) ? s : null
      })
      if (systemId === 'wait') {
        // Its first part, which decides, has not come: refused for now, the upstream sends it again (SMPP 3.4 §5.1.3).
        statuses[i] = S.ESME_RX_T_APPN
        earlyParts.add(connector, { from: mo.from[2], to: mo.to[2], part }, t)
        continue
      }
      if (systemId === null || !store.getAccount(systemId)) {
        statuses[i] = S.ESME_RX_P_APPN
        log('warn', 'MO from upstream matches no MO route: refused with ESME_RX_P_APPN', { connector, from: mo.from[2], to: mo.to[2] })
        continue
      }
      const [id] = store.allocateIds(1, options.messageIdFormat)
      items.push(moItem(systemId, id, t, mo.from, mo.to, mo.esmClass, mo.dataCoding, mo.sm, mo.sar))
      records.push(moRecord(id, systemId, t, mo.from, mo.to, mo.esmClass, mo.dataCoding, mo.sm, 1, connector, decision, part, ref))
      // Only an MO in one piece or a first part changes a list: a later part that came first was routed on its own
      // text ("stop by our shop today"), which is no keyword of the subscriber's (docs/ROUTING.md "Opt-outs").
      if (part !== null && part[0] !== 1) continue
      const optOut = moOptOut(decision, systemId, mo.from, t)
      if (optOut !== null) { optOuts.push(optOut); audits.push(moOptOutAudit(optOut, decision as MoDecision, t)) }
      // An auto-reply answers the same MOs an opt-out takes: one in one piece, or a first part.
      if (decision !== null && decision.reply !== null) replies.push([decision, mo, id])
    }
    if (items.length === 0) return settled(statuses)
    actors.commit(optOuts.length === 0 ? { enqueue: items, mo: records } : { enqueue: items, mo: records, optOuts, audit: audits }, (err) => {
      if (err) return log('error', 'upstream MO commit failed; the upstream will send them again', { connector, error: err.message })
      settled(statuses)
      actors.enqueue(items)
      if (optOuts.length > 0) moOptOutDone(optOuts)
      for (const [d, mo, id] of replies) void moReply(d, mo.from, mo.to, id)
    })
  }

  /**
   * An MO route's auto-reply (docs/ROUTING.md "Auto-replies"), once its MO (and the MO's opt-out change) is committed:
   * the route's text from the number the subscriber texted (the MO's destination, its TON and NPI) to the subscriber, as
   * an MT of the route's account through the send API's path (policy, opt-out lists, rate, routing, price, credit,
   * store), without a receipt. The reply of an optOut "add" route is the STOP confirmation, marked to pass the lists
   * (the number went on one just now); any other reply to a listed number is refused as any MT. One reply per route and
   * sender a minute (ReplyGuard). Counted in smsc_mo_reply_total; a refusal is a warning. What became of it goes on
   * the MO's record (`moId`: its reply's id, or why none went), which support looks up. Never throws: the MO is
   * delivered whatever becomes of its reply.
   */
  async function moReply(d: MoDecision, from: Address, to: Address, moId: string): Promise<void> {
    const t = now()
    // A sender written "+…" is international whatever TON came with it; the MT carries the digits with TON 1.
    const dest: Address = from[2].charCodeAt(0) === 0x2b ? [1, 1, from[2].slice(1)] : [from[0], from[1], from[2]]
    const fields = { systemId: d.account, from: to[2], to: dest[2] }
    const refused = (why: Record<string, unknown>, not: string): void => {
      metrics.moReplies.refused++
      repliesRefused.add(d.route, { ...fields, ...why }, t)
      actors.moReplied(moId, { not })
    }
    // Replies go to phone numbers: an alphanumeric sender (a service's id) cannot be answered, and must not be pinged.
    const sender = normaliseNumber(from[2])
    if (sender === null) return refused({ error: "the MO's sender is not a phone number" }, 'not a phone number')
    if (!replyGuard.take(d.route, sender, t)) {
      metrics.moReplies.held++
      actors.moReplied(moId, { not: 'held' })
      return repliesHeld.add(d.route, fields, t)
    }
    const msg: EngineMessage = { from: to[2], to: dest[2], text: d.reply ?? '', registeredDelivery: false, src: [to[0], to[1], to[2]], dest }
    if (d.optOut === 'add') msg.confirmsOptOut = true
    // a refused reply is listed as what it is (message search's refused): the route, its keyword, the MO it answers
    msg.autoReply = { route: d.route, mo: moId }
    const keyword = routeKeyword(d.route)
    if (keyword !== undefined) msg.autoReply.keyword = keyword
    try {
      const [r] = await submitMessages(d.account, [msg])
      if (!r.ok) return refused({ status: statusName(r.status), code: r.code, error: r.error }, r.code)
      metrics.moReplies.sent++
      log('info', 'MO auto-reply sent', { ...fields, route: d.route, ids: r.ids })
      actors.moReplied(moId, { id: r.ids[0] })
    } catch (err) {
      refused({ error: String((err as Error)?.message ?? err) }, (err as { code?: string })?.code ?? 'error')
    }
  }

  /**
   * An HTTP provider's callback: its receipts go through the connector (which first reports the answers they may
   * name) to the dispatcher's matching and the delivery actor's commit, as one batch. The promise resolves once
   * that is committed, so the provider gets its 200 only then; past the connector's timeout and a commit's worth,
   * it fails (503) and the provider sends them again (a duplicate of a receipt already applied changes nothing).
   */
  function providerReceipts(id: string, cb: ParsedCallback): Promise<{ received: number; unmapped: string[] }> {
    const answer = { received: cb.receipts.length, unmapped: cb.unmapped }
    for (const status of cb.unmapped) unmappedStatuses.add(id, { status }, now())
    if (cb.receipts.length === 0) return Promise.resolve(answer)
    const c = options.connectors.find((x) => x.id === id)
    const waitMs = (c?.kind === 'http' ? c.timeoutMs : 0) + CALLBACK_COMMIT_MS
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(smscError('SMSC_ERR_STORE_UNAVAILABLE', `the receipts were not committed within ${Math.round(waitMs / 1000)} s: send them again`)), waitMs)
      timer.unref() // a stop does not wait for it
      const known = actors.connectorReceipts(id, cb.receipts, () => { clearTimeout(timer); resolve(answer) })
      if (!known) { clearTimeout(timer); reject(smscError('SMSC_ERR_STORE_UNAVAILABLE', `connector ${id} is not running: send them again`)) }
    })
  }

  /** The account a request names, or the only one there is; `why` says what is missing when there are several. */
  function accountFor(systemId: string | undefined, why = () => 'systemId is required when there is more than one account'): string {
    const accounts = store.listAccounts()
    const id = systemId ?? (accounts.length === 1 ? accounts[0].systemId : undefined)
    if (!id) throw smscError('SMSC_ERR_MO_NO_ROUTE', why())
    if (!store.getAccount(id)) throw smscError('SMSC_ERR_AUTH_SYSTEM_ID', `no account ${id}`)
    return id
  }

  /** The console's send form: one text message through the send API's path. */
  async function submitText(req: TextSubmit): Promise<{ ids: string[]; parts: number; coding: string }> {
    const systemId = accountFor(req.systemId)
    const [r] = await submitMessages(systemId, [{ from: req.from, to: req.to, text: req.text, registeredDelivery: req.registeredDelivery }])
    if (!r.ok) throw smscError('SMSC_ERR_FIELD_INVALID', `the message was refused with ${statusName(r.status)}: ${r.error}`, { commandStatus: r.status })
    return { ids: r.ids, parts: r.parts, coding: encodeText(req.text, 'gsm') ? 'GSM 03.38' : 'UCS2' }
  }

  /**
   * The HTTP send API: each message is split into parts, validated like an SMPP submit_sm, then
   * admitted as one batch (the parts of a message are admitted or refused together).
   */
  async function submitMessages(systemId: string, msgs: EngineMessage[]): Promise<ApiSubmitResult[]> {
    const refusal = (status: number, m: ApiMessage) => {
      const r = refusalOf(status, account, ledger.balance(systemId), m, account?.parent == null ? undefined : store.getAccount(account.parent))
      return refuse(status, r.code, r.text)
    }
    const account = store.getAccount(systemId)
    if (!account) throw smscError('SMSC_ERR_AUTH_SYSTEM_ID', `no account ${systemId}`)
    const t = now()
    const results: ApiSubmitResult[] = new Array(msgs.length)
    const records: MessageRecord[] = []
    const groups: number[] = []
    const refuse = (status: number, code: string, error: string): ApiSubmitResult => ({ ok: false, status, code, error })
    const accountLimits = { ...limits, defaultValidityMs: account.validity.defaultMs, maxValidityMs: account.validity.maxMs }
    msgs.forEach((m, k) => {
      let coding: 'gsm' | 'ucs2' | 'latin1' | 'binary'
      let parts: Buffer[]
      let udhi = false
      if (m.binary !== undefined) {
        coding = m.coding ?? 'binary'
        const bytes = Buffer.from(m.binary, 'hex')
        if (bytes.length > 140) return (results[k] = refuse(S.ESME_RINVMSGLEN, 'SMSC_ERR_API_INVALID', 'binary is longer than 140 octets (send the parts with their UDH)'))
        parts = [bytes]
      } else {
        coding = m.coding ?? (encodeText(m.text ?? '', 'gsm') ? 'gsm' : 'ucs2')
        if (coding === 'binary') return (results[k] = refuse(S.ESME_RINVDCS, 'SMSC_ERR_API_INVALID', 'coding binary needs binary (hex), not text'))
        const split = splitMessage(m.text ?? '', coding)
        if (!split) {
          // name what is wrong: a character the coding lacks, or a text too long for 255 parts
          const lacking = [...(m.text ?? '')].find((ch) => encodeText(ch, coding as Coding) === null)
          return (results[k] = refuse(S.ESME_RINVDCS, 'SMSC_ERR_DCS_INVALID', lacking !== undefined
            ? `text has a character ${coding} cannot carry: ${JSON.stringify(lacking)}${m.coding !== undefined ? ' (leave coding out: text GSM cannot carry goes as UCS2)' : ''}`
            : `text is longer than 255 parts in ${coding}`))
        }
        parts = split.parts
        udhi = split.udhi
      }
      let schedule = ''
      if (m.scheduleAt !== undefined) {
        const at = typeof m.scheduleAt === 'number' ? m.scheduleAt : Date.parse(m.scheduleAt)
        if (!Number.isFinite(at)) return (results[k] = refuse(S.ESME_RINVSCHED, 'SMSC_ERR_SCHEDULE_INVALID', 'scheduleAt is not an ISO-8601 time or ms since the epoch'))
        if (at > t) schedule = formatSmppAbsolute(at)
      }
      const validity = m.validityMs !== undefined ? formatSmppAbsolute(Math.max(t, m.scheduleAt !== undefined && schedule ? Date.parse(String(m.scheduleAt)) || Number(m.scheduleAt) : t) + m.validityMs) : ''
      // (an engine's own message gives its addresses whole: an MO's reply goes from the number the MO was sent to)
      const src: Address = m.src ?? senderAddress(m.from)
      // the formatting people type into a number ("+44 7700 900123", "(030) 12-34") is not part of it
      const dest: Address = m.dest ?? [1, 1, m.to.replace(/[\s().-]/g, '').replace(/^\+/, '')]
      const drafts: MessageRecord[] = []
      for (const sm of parts) {
        const pdu: Pdu = {
          command: 'submit_sm', command_status: 0, sequence_number: 0, service_type: '',
          source_addr_ton: src[0], source_addr_npi: src[1], source_addr: src[2],
          dest_addr_ton: dest[0], dest_addr_npi: dest[1], destination_addr: dest[2],
          esm_class: udhi ? EsmClass.UDHI : 0, protocol_id: 0, priority_flag: 0,
          schedule_delivery_time: schedule, validity_period: validity,
          registered_delivery: m.registeredDelivery === undefined ? account.registeredDelivery : m.registeredDelivery ? 1 : 0,
          replace_if_present_flag: 0, data_coding: coding === 'binary' ? 0x04 : dcsOfCoding(coding), sm_default_msg_id: 0, short_message: sm,
        }
        const r = validateSubmit(pdu, systemId, t, accountLimits)
        if (r.status !== 0 || !('draft' in r)) return (results[k] = refuse(r.status, 'SMSC_ERR_FIELD_INVALID', fieldRefusal(r.status, m, accountLimits.maxValidityMs)))
        const draft = r.draft as MessageRecord
        if (m.confirmsOptOut) draft.confirmsOptOut = true
        if (m.reference !== undefined) draft.reference = m.reference
        drafts.push(draft)
      }
      for (const d of drafts) { records.push(d); groups.push(k) }
    })
    if (records.length > 0) {
      const ids = store.allocateIds(records.length, account.messageIdFormat)
      records.forEach((r, i) => { r.id = ids[i] })
      const statuses = await new Promise<number[]>((resolve) => admitRecords(systemId, records, groups, (_err, st) => resolve(st)))
      let i = 0
      while (i < records.length) {
        const k = groups[i]
        const end = groupEnd(groups, i, records.length)
        const status = statuses[i]
        results[k] = status === 0 ? { ok: true, ids: records.slice(i, end).map((r) => r.id), parts: end - i } : refusal(status, msgs[k])
        i = end
      }
      const acct = metrics.account(systemId)
      for (let j = 0; j < statuses.length; j++) if (statuses[j] !== 0) metrics.submitted(acct, statuses[j])
      const ok = statuses.filter((x) => x === 0).length
      if (ok > 0) metrics.submitted(acct, 0, ok)
    }
    results.forEach((r, k) => {
      const m = msgs[k]
      if (r.ok) return
      const x: Refusal = { t, systemId, session: 0, command: 'send', status: r.status, from: m.from === undefined ? undefined : String(m.from), to: m.to === undefined ? undefined : [String(m.to)] }
      if (m.reference !== undefined) x.reference = m.reference
      if (m.autoReply !== undefined) { x.command = 'reply'; x.autoReply = m.autoReply }
      refusals.add(x)
    })
    return results
  }

  /** A message the account sent (query, cancel, replace): an MO's record is not one. */
  function mtRecord(id: string): MessageRecord | undefined {
    const r = store.getMessage(id) as MessageRecord | undefined
    return r === undefined || r.mo === undefined ? r : undefined
  }

  function lookup(id: string): MessageView | null {
    const r = findById(store, id)
    if (!r) return null
    const v = viewOf(r, metrics.timeline(r.id))
    // An MO not yet delivered: "no receiver bound" is the usual why, and only the running engine knows it.
    if (v.mo !== undefined && (v.mo.delivery === 'waiting' || v.mo.delivery === 'retrying')) {
      v.mo.receivers = receivers(r.systemId).length
      v.mo.webhook = !!store.getAccount(r.systemId)?.webhooks.mo
    }
    return v
  }

  /**
   * At most SEARCHES_AT_ONCE searches walk the store at a time; the others wait their turn. One search per principal
   * (running or waiting): a second is refused, so one API key cannot hold every turn. A search whose client went
   * away while it waited does not run.
   */
  let searching = 0
  const searchQueue: (() => void)[] = []
  const searchers = new Set<string>()
  async function search(q: SearchQuery, sees: (systemId: string) => boolean, cancelled?: () => boolean, who?: { key: string; name: string }): Promise<MessageSearchResult> {
    if (who !== undefined) {
      if (searchers.has(who.key)) throw smscError('SMSC_ERR_RATE_LIMITED', `${who.name} has a search running already: one at a time`)
      searchers.add(who.key)
    }
    try {
      if (searching >= SEARCHES_AT_ONCE) await new Promise<void>((resolve) => searchQueue.push(resolve))
      searching++
      try {
        const gone = () => stopping || (cancelled?.() ?? false)
        if (gone()) return { messages: [], scanned: 0, truncated: false, next: null, since: q.since, until: q.until, ms: 0 }
        const r = await searchMessages(store, q, { sees, cancelled: gone, receiptIds: (id) => receiptIdsOf(options.connectors, id) })
        // Refused submits have no record: the first page of a search for MT adds those the engine keeps (refusals.ts).
        if (q.before === undefined && q.states === undefined && q.direction !== 'mo' && q.upstreamId === undefined) r.refused = refusals.find(q, sees)
        return r
      } finally {
        searching--
        searchQueue.shift()?.()
      }
    } finally {
      if (who !== undefined) searchers.delete(who.key)
    }
  }

  async function shutdown(): Promise<void> {
    stopping = true
    outbind.stop()
    log('info', 'stopping: closing listeners')
    if (listeners) await listeners.close()
    log('info', 'stopping: unbinding sessions', { sessions: all.size })
    const closing = [...all.values()].map((e) => e.session.requestUnbind('shutdown'))
    const limit = options.timers.responseMs * 2 + 500
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, limit).unref())])
    for (const e of all.values()) e.session.close('shutdown')
    ticker.stop()
    clearTimeout(purgeTimer)
    clearTimeout(sweepTimer)
    clearInterval(diskTimer)
    clearInterval(trafficTimer)
    await actors.stop()
    // The last counts (the final answers and receipts included), straight to the store: its actor has stopped.
    traffic.sample(now(), metrics.accounts)
    const trafficLeft = traffic.flush(now())
    if (trafficLeft.length > 0) await store.commit({ meta: trafficLeft }).catch((err: unknown) => log('error', 'daily traffic commit failed at stop: the counts since the last minute are lost', { error: String(err) }))
    // The refused submits message search lists, for the next start (engine/refusals.ts).
    await store.commit({ meta: [[REFUSALS_META, refusals.all()]] }).catch((err: unknown) => log('warn', 'could not keep the refused submits at stop: message search lists none from before the restart', { error: String(err) }))
    hub.stop()
    await webhooks.stop()
    await http?.close()
    await new Promise((r) => setTimeout(r, 50))
    removeControlFile()
    await store.close()
    unlock()
    log('info', 'stopped')
  }

  try {
    // The SMPP TLS port and HTTPS take the same TLS settings (config tls.minVersion, tls.ciphers; null: Node's list).
    const tlsSettings = { minVersion: options.tls.minVersion, ciphers: options.tls.ciphers ?? tlsDefaultCiphers }
    // HTTPS (http.tlsPort) serves with the SMPP TLS listener's certificate: tls.cert/tls.key, or the dev one.
    let httpTls: { cert: string; key: string; ciphers: string } | null = null
    if (options.http.tlsPort !== null) {
      if (options.tls.cert && options.tls.key) {
        readTlsFile('cert', options.tls.cert)
        readTlsFile('key', options.tls.key)
        httpTls = { cert: options.tls.cert, key: options.tls.key, ciphers: tlsSettings.ciphers }
      } else {
        const dev = await devTlsCert(path.join(options.dataDir, 'tls'))
        httpTls = { cert: dev.certPath, key: dev.keyPath, ciphers: tlsSettings.ciphers }
        metrics.tlsCertExpiry = certExpiry(dev.cert)
      }
    }
    http = await startHttp({ ...options.http, tls: httpTls }, smsc, auth, log, options.telemetry.maxBufferedBytes)
    smsc.ports.http = http.port
    smsc.ports.https = http.tlsPort
    let tlsOpts
    if (options.tls.cert && options.tls.key) {
      const files = { host: options.tls.host, port: options.tls.port, cert: readTlsFile('cert', options.tls.cert), key: readTlsFile('key', options.tls.key), ca: options.tls.ca ? readTlsFile('ca', options.tls.ca) : undefined, requestCert: options.tls.requestCert, ...tlsSettings }
      httpsFiles = tlsFingerprint(files) // what the HTTPS app read a moment ago
      tlsOpts = files
      metrics.tlsCertExpiry = certExpiry(files.cert)
    } else if (options.devTls) {
      const dev = await devTlsCert(path.join(options.dataDir, 'tls'))
      // client certificates are asked for (tls.requestCert, tls.ca) with the dev certificate too
      tlsOpts = { host: options.tls.host, port: options.tls.port, cert: dev.cert, key: dev.key, ca: options.tls.ca ? readTlsFile('ca', options.tls.ca) : undefined, requestCert: options.tls.requestCert, ...tlsSettings }
      metrics.tlsCertExpiry = certExpiry(dev.cert)
    }
    const onTlsError = (remote: string, reason: string) => {
      metrics.totals.tlsHandshakeFailures++
      tlsFailures.add(remote, { reason }, now())
    }
    /** A slot among the connections not bound yet, or null: closed at once, counted, one warn line per address a minute. */
    const admit = (socket: net.Socket): UnboundSlot | null => {
      const ip = socket.remoteAddress
      if (ip === undefined) return null // gone before it was accepted
      const slot = unbound.take(ip, () => socket.destroy())
      if (typeof slot !== 'string') return slot
      metrics.connectionsRefused[slot]++
      unboundRefusals.add(addressKey(ip), slot === 'unbound_total'
        ? { cap: 'smpp.maxUnboundConnections', limit: options.smpp.maxUnboundConnections }
        : { cap: 'smpp.maxUnboundPerIp', limit: options.smpp.maxUnboundPerIp }, now())
      return null
    }
    listeners = await startListeners({ smpp: options.smpp, tls: tlsOpts, tlsHandshakeTimeoutMs: tlsHandshakeMs(options.timers.sessionInitMs), onTlsError, admit }, onSocket)
  } catch (e) {
    // Nothing half-started stays behind: a failed start leaves no listener, actor or open store. `stopping` keeps a
    // purge or sweep slice in flight from arming its timer again (its next slice would meet a closed store).
    stopping = true
    ticker.stop()
    clearTimeout(purgeTimer)
    clearTimeout(sweepTimer)
    clearInterval(diskTimer)
    clearInterval(trafficTimer)
    await actors.stop()
    await webhooks.stop()
    hub.stop()
    await http?.close()
    await store.close()
    unlock()
    throw e
  }
  smsc.ports.smpp = listeners.smppPort
  smsc.ports.tls = listeners.tlsPort
  outbind.start()
  // The CLI's way in while this engine runs: the admin API URL and an operator token, readable by this user only.
  // The token lives in memory only and ends with this engine (removeControlFile, at shutdown). The file is
  // written whole (writePrivateFile: 0600, renamed into place), so the CLI never reads half of it.
  const controlFile = path.join(options.dataDir, 'control.json')
  let controlToken: string | null = null
  const removeControlFile = () => {
    if (controlToken !== null) auth.logout(controlToken)
    controlToken = null
    try { fs.unlinkSync(controlFile) } catch { /* gone */ }
  }
  try {
    const host = options.http.host === '0.0.0.0' || options.http.host === '::' ? '127.0.0.1' : options.http.host
    controlToken = auth.issueOperatorToken()
    writePrivateFile(controlFile, JSON.stringify({ pid: process.pid, url: `http://${host.includes(':') ? `[${host}]` : host}:${http.port}`, token: controlToken }))
  } catch (e) {
    removeControlFile()
    log('warn', 'cannot write the CLI control file; CLI changes need the engine stopped', { error: String(e) })
  }
  if (uncleanStart !== null) {
    // Said once: the mark goes now that the start succeeded (a start refused before this point says it again next time).
    log('warn', `the previous run (${uncleanStart.previousPid > 0 ? `pid ${uncleanStart.previousPid}` : 'pid unknown'}) did not stop cleanly (kill -9, a crash or a power loss): ` +
      `recovered from the store ${uncleanStart.inFlight} message${uncleanStart.inFlight === 1 ? '' : 's'} in flight and ${uncleanStart.pendingDeliveries} receipt${uncleanStart.pendingDeliveries === 1 ? '' : 's'} and MO waiting for delivery (docs/OPERATIONS.md "After an unclean stop")`,
    { previousPid: uncleanStart.previousPid, inFlight: uncleanStart.inFlight, pendingDeliveries: uncleanStart.pendingDeliveries, foundAt: unclean === null || unclean.at === 0 ? undefined : new Date(unclean.at).toISOString() })
    clearUncleanStop(options.dataDir)
  }
  log('info', 'listening', { smpp: listeners.smppPort, tls: listeners.tlsPort, http: http.port, https: http.tlsPort })
  return smsc
}

/**
 * The send API's words for a message the submit checks refused (engine/session/submit.ts, the same as an SMPP
 * submit_sm's): which field, and what it must be; an ESME gets only the command_status.
 */
function fieldRefusal(status: number, m: { from?: unknown; to?: unknown }, maxValidityMs: number): string {
  const why = ` (${statusName(status)})`
  switch (status) {
    case S.ESME_RINVDSTADR: case S.ESME_RINVDSTTON: case S.ESME_RINVDSTNPI:
      return `to ${JSON.stringify(m.to)} is not a number a handset has: digits (* and # for service codes), with a + for an international number${why}`
    case S.ESME_RINVSRCADR: case S.ESME_RINVSRCTON: case S.ESME_RINVSRCNPI:
      return `from ${JSON.stringify(m.from)} is not a sender: a number, or a sender id of letters and digits${why}`
    case S.ESME_RINVSCHED:
      return `scheduleAt must be at most ${durationText(maxValidityMs)} ahead (the account's validity.maxMs)${why}`
    case S.ESME_RINVEXPIRY:
      return `validityMs must end after now and after scheduleAt${why}`
    default:
      return `refused with ${statusName(status)} (check from, to and the times)`
  }
}

/** 7 days, 36 hours, 90 minutes: a limit in ms as people say it. */
function durationText(ms: number): string {
  const [n, unit] = ms % 86_400_000 === 0 ? [ms / 86_400_000, 'day'] : ms % 3_600_000 === 0 ? [ms / 3_600_000, 'hour'] : [Math.round(ms / 60_000), 'minute']
  return `${n} ${unit}${n === 1 ? '' : 's'}`
}

/**
 * Admission refusals as the HTTP send API reports them: per command_status, the engine error code
 * (engine/errors.ts) and why, with the account's numbers. One table for both.
 */
type Why = (a: Account | undefined, balance: number, m: ApiMessage, reseller: Account | undefined) => string

/** Which rate limit an ESME_RTHROTTLED was about: the account's, its reseller's (shared by its users, numbers not shown), or either. */
function rateLimitWords(a: Account | undefined, r: Account | undefined): string {
  const own = a?.rateLimit ? `the account's rate limit (${a.rateLimit.perSecond}/s, burst ${a.rateLimit.burst})` : null
  const tree = r?.rateLimit ? `the rate limit of its reseller ${r.systemId}, shared by the reseller's users` : null
  return own && tree ? `${own} or ${tree}` : own ?? tree ?? "the account's rate limit"
}

const REFUSALS: Record<number, [SmscErrorCode, Why]> = {
  // A reseller's rate limit and quota are shared by its users (docs/ACCOUNTS.md): its numbers are not its users' to see.
  [S.ESME_RTHROTTLED]: ['SMSC_ERR_RATE_LIMITED', (a, _b, _m, r) => `over ${rateLimitWords(a, r)}; send again later`],
  [S.SMSC_RQUOTA]: ['SMSC_ERR_QUOTA_EXCEEDED', (a, _b, _m, r) => {
    const own = a?.dailyQuota != null ? `the account's daily quota (${a.dailyQuota} parts)` : null
    const tree = r?.dailyQuota != null ? `the daily quota of its reseller ${r.systemId}, shared by the reseller's users,` : null
    return `${own && tree ? `${own} or ${tree}` : own ?? tree ?? "the account's daily quota"} is used up until 00:00 UTC`
  }],
  [S.SMSC_ROPTEDOUT]: ['SMSC_ERR_DEST_OPTED_OUT', (_a, _b, m) => `${JSON.stringify(m.to)} has opted out (it is on an opt-out list): do not send to it`],
  [S.SMSC_RNOCREDIT]: ['SMSC_ERR_CREDIT_EXHAUSTED', (_a, balance) => `not enough credit (balance ${balance})`],
  [S.ESME_RMSGQFUL]: ['SMSC_ERR_QUEUE_FULL', () => 'the engine takes no messages just now (overloaded, or its disk almost full: GET /healthz says which); send again later'],
  [S.ESME_RINVSRCADR]: ['SMSC_ERR_SOURCE_NOT_ALLOWED', (a, _b, m, r) => a !== undefined && r !== undefined && sourceAllowed(a.allowedSources, m.from.replace(/^\+/, ''))
    ? `sender id ${JSON.stringify(m.from)} is not among the sender ids of this account's reseller ${r.systemId}`
    : `sender id ${JSON.stringify(m.from)} is not allowed for this account (allowed: ${a?.allowedSources.join(', ')})`],
  [S.ESME_RINVDSTADR]: ['SMSC_ERR_NO_ROUTE', (_a, _b, m) => `no route takes ${JSON.stringify(m.to)} (no route matches, or a route rejects it)`],
  [S.ESME_RBINDFAIL]: ['SMSC_ERR_ACCOUNT_SUSPENDED', () => 'the account is suspended'],
  [S.ESME_RSYSERR]: ['SMSC_ERR_STORE_UNAVAILABLE', () => 'the store failed; send again'],
}

function refusalOf(status: number, a: Account | undefined, balance: number, m: ApiMessage, reseller?: Account): { code: SmscErrorCode; text: string } {
  const [code, why] = REFUSALS[status] ?? ['SMSC_ERR_NO_ROUTE', () => 'refused by a routing rule']
  return { code, text: `${statusName(status)}: ${why(a, balance, m, reseller)}` }
}

export type { Options, ResolvedOptions } from './config'
