/**
 * The CLI's way to the Admin service, as the operator. When an engine runs on the data dir (its
 * lock names a live pid and it wrote `<dataDir>/control.json`), every change goes through that
 * engine's admin API, so it applies live (rate limits, suspend → unbind, routes → routers) and
 * credit stays single-writer. When no engine runs, the CLI takes the data-dir lock (engine/lock.ts:
 * no engine can start meanwhile), opens the store and calls Admin itself; close() releases it. When
 * an engine holds the lock but its control file cannot be used (the engine is starting or stopping,
 * the file belongs to another user), the CLI refuses (SMSC_ERR_DATA_DIR_LOCKED): writing the store
 * beside the engine would reuse its ledger and audit seqs. Both paths run the same validation and
 * audit (engine/admin.ts).
 */
import fs from 'node:fs'
import path from 'node:path'
import { Store } from './store'
import { Ledger, type LedgerEntry } from './ledger'
import { Admin, configKeysOf, type AccountView, type AuditEntry, type BackupState } from './admin'
import { defaultSettings, OPERATOR, type Principal } from './accounts'
import type { RouteTables } from './routing'
import type { OptOutFind, OptOutPage } from './wire'
import type { TrafficDay, TrafficDayRows } from './daily-stats'
import type { StaffView } from './staff'
import { SmscError, isSmscError, type SmscErrorCode } from './errors'
import { connectorIdsOf, type ResolvedOptions } from './config'
import { holderText, lockDataDir, lockHolder, pidAlive } from './lock'
import { ADMIN_PASSWORD_CONFIGURED } from './auth'
import { makeDataDir } from './dirs'
import { findById, parseSearchQuery, receiptIdsOf, searchMessages, viewOf, type MessageSearchResult, type MessageView } from './message-search'

/**
 * A backup the CLI made as root under <dataDir>/backups goes to the store's owner (the engine's user): that
 * engine writes its own backups there and prunes old ones, which a root-owned directory would stop. `dirs`
 * are chowned themselves, `tree` with everything in it. Nothing happens unless this process is root and
 * the store belongs to another user.
 */
function giveToStoreOwner(storeDir: string, dirs: string[], tree: string): void {
  if (process.getuid?.() !== 0) return
  const { uid, gid } = fs.statSync(storeDir)
  if (uid === 0) return
  for (const d of dirs) fs.chownSync(d, uid, gid)
  const walk = (p: string): void => {
    fs.chownSync(p, uid, gid)
    if (fs.lstatSync(p).isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(p, n))
  }
  walk(tree)
}

export interface AdminClient {
  /** 'engine' when the changes go through a running engine's API, 'store' when applied offline. */
  readonly via: 'engine' | 'store'
  /** The config file gives `routes`: they replace the stored table at every start. */
  readonly configRoutes: boolean
  list(): Promise<AccountView[]>
  get(systemId: string): Promise<AccountView>
  create(input: Record<string, unknown>): Promise<{ account: AccountView; password: string; webhookSecret?: string }>
  update(systemId: string, patch: Record<string, unknown>): Promise<AccountView>
  setSuspended(systemId: string, suspended: boolean): Promise<AccountView>
  remove(systemId: string): Promise<void>
  setPassword(systemId: string, password?: string): Promise<string>
  /** A new webhook secret for the account (the old one stops signing); returns it. */
  rotateWebhookSecret(systemId: string): Promise<string>
  /** The operator's admin password (the console and API login); returns it. */
  setAdminPassword(password?: string): Promise<string>
  /** Staff logins (engine/staff.ts): list, add (the password returned, generated when not given), role, remove, password. */
  listStaff(): Promise<StaffView[]>
  addStaff(user: string, role: string, password?: string): Promise<{ user: StaffView; password: string }>
  setStaffRole(user: string, role: string): Promise<StaffView>
  removeStaff(user: string): Promise<void>
  setStaffPassword(user: string, password?: string): Promise<string>
  transfer(req: { to: string; amount: number; from?: string; reason?: string }): Promise<{ from: LedgerEntry | null; to: LedgerEntry }>
  ledger(systemId: string, limit: number): Promise<LedgerEntry[]>
  audit(limit: number): Promise<AuditEntry[]>
  createApiKey(systemId: string, label?: string): Promise<{ id: string; key: string }>
  listApiKeys(systemId: string): Promise<{ id: string; label: string; createdAt: number }[]>
  revokeApiKey(systemId: string, keyId: string): Promise<void>
  /** Opt-out lists (engine/optouts.ts): `systemId` null is the operator's global list. */
  listOptOuts(systemId: string | null, q: { limit?: number; after?: string; prefix?: string }): Promise<OptOutPage>
  addOptOuts(systemId: string | null, numbers: string[]): Promise<{ added: number; already: number; total: number }>
  removeOptOuts(systemId: string | null, numbers: string[]): Promise<{ removed: number; absent: number; total: number }>
  /** The lists holding one number, among those the caller may see. */
  findOptOut(number: string): Promise<OptOutFind>
  /** An account's traffic per UTC day (Admin.traffic: from/to YYYY-MM-DD; tree, a reseller with its users summed). */
  traffic(systemId: string, q: { from?: string; to?: string; tree?: boolean }): Promise<TrafficDay[]>
  /** Every account's traffic of one UTC day, in scope (Admin.trafficDay; default today). */
  trafficDay(day?: string): Promise<TrafficDayRows>
  getRoutes(): Promise<RouteTables>
  /** `warnings`: what the routes in force routed and these do not (Admin.setRoutes). */
  setRoutes(tables: unknown): Promise<RouteTables & { warnings: string[] }>
  /** A message search: GET /api/v1/messages's parameters (to, from, systemId, state, since, until, limit, before). */
  findMessages(params: Record<string, string>): Promise<MessageSearchResult>
  /** One message with how it was carried (offline: its timeline from the store only). */
  message(id: string): Promise<MessageView>
  /** A backup of the store (Admin.backup) into `target` (absolute), or under <dataDir>/backups; resolved once made. */
  backup(target?: string): Promise<BackupState>
  /** The connectors: the running engine's live state (GET /api/v1/connectors), else the config's with their stopped marks. */
  connectors(): Promise<ConnectorRow[]>
  /** Stops or starts a connector (Admin.setConnectorStopped): live when an engine runs, else at its next start. */
  setConnectorStopped(id: string, stopped: boolean): Promise<void>
  close(): Promise<void>
}

/** One connector as `smsc connector list` shows it; the counters only from a running engine. */
export interface ConnectorRow { id: string; kind: string; stopped: boolean; up?: boolean; inFlight?: number; queued?: number; sent?: number; failed?: number; paused?: string | null; stalled?: boolean; stalledSince?: string; stalledTimeouts?: number }

/** The running engine's control file when its pid is alive, else why it cannot be used. */
function control(dataDir: string): { url: string; token: string } | string {
  const file = path.join(dataDir, 'control.json')
  let c: { pid: number; url: string; token: string }
  try {
    c = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof c
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    return code === 'ENOENT' ? `${file} is missing` : `${file} cannot be read (${code ?? (e as Error).message})`
  }
  if (typeof c?.url !== 'string' || typeof c.token !== 'string') return `${file} is not a control file`
  return pidAlive(c.pid) ? c : `${file} names pid ${c.pid}, which is not running`
}

/**
 * The routes in force and the accounts of the engine running on `dataDir` (through its admin API), or null when none
 * runs there or its control file cannot be used: `smsc config check` compares a file's routes with them.
 */
export async function runningRoutes(dataDir: string): Promise<{ routes: RouteTables; accounts: AccountView[] } | null> {
  const c = control(dataDir)
  if (typeof c !== 'object') return null
  const r = remote(c.url, c.token)
  return { routes: await r.getRoutes(), accounts: await r.list() }
}

/** A reseller or user acting through the CLI (`--as`): the same scope as its console or API login. */
export interface AsAccount { systemId: string; password: string }

export async function openAdminClient(options: ResolvedOptions, as?: AsAccount): Promise<AdminClient> {
  const c = control(options.dataDir)
  const client = typeof c === 'object' ? remote(c.url, as === undefined ? c.token : await accountToken(c.url, as)) : await local(options, c, as)
  return { ...client, configRoutes: options.routes !== null }
}

/** The running engine's login for an account (allowedIps, suspension and wrong passwords apply). */
async function accountToken(url: string, as: AsAccount): Promise<string> {
  let res: Response
  try {
    res = await fetch(`${url}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(as), signal: AbortSignal.timeout(30_000) })
  } catch (e) {
    throw new SmscError('SMSC_ERR_CLI_USAGE', `the running engine's admin API at ${url} does not answer: ${(e as Error).message}`)
  }
  const json = (await res.json().catch(() => ({}))) as { token?: string; error?: string }
  if (!res.ok || typeof json.token !== 'string') throw new SmscError('SMSC_ERR_CLI_USAGE', `--as ${as.systemId}: ${json.error ?? `login refused (HTTP ${res.status})`}`)
  return json.token
}

/** The store, under the data-dir lock; `why` says why the running engine's API is not used. */
async function local(options: ResolvedOptions, why: string, as?: AsAccount): Promise<Omit<AdminClient, 'configRoutes'>> {
  // A data dir no engine has used: most likely not the one meant (smsc start was given another --config or
  // --data-dir). Said on stderr; the command still works there (accounts can be set up before a first start).
  if (!fs.existsSync(path.join(options.dataDir, 'store'))) {
    process.stderr.write(`smsc: note: no store in ${path.resolve(options.dataDir)} yet, so no engine has run on it; a new one is created. ` +
      'To work on a running or earlier engine, give the same --config or --data-dir as its smsc start.\n')
  }
  makeDataDir(options.dataDir)
  let unlock: () => void
  try {
    unlock = lockDataDir(options.dataDir)
  } catch (e) {
    // Locked, or the lock cannot even be tried (a data dir of another user): refuse if a live engine holds it.
    const pid = lockHolder(options.dataDir)
    if (pid === null) throw e
    throw new SmscError('SMSC_ERR_DATA_DIR_LOCKED', `an engine is running on ${path.resolve(options.dataDir)} (${holderText(pid)}) but its control file cannot be used: ${why}; ` +
      'retry in a moment if it is starting or stopping, else run this command as the user the engine runs as')
  }
  const base = { maxBinds: options.session.maxBindsPerAccount, windowSize: options.session.windowSize, messageIdFormat: options.messageIdFormat }
  let store: Store
  try {
    store = await Store.open(path.join(options.dataDir, 'store'), { accountDefaults: base })
  } catch (e) {
    unlock()
    throw e
  }
  const ledger = new Ledger(store, () => Date.now())
  const admin = new Admin({
    store, ledger, now: () => Date.now(),
    commit: (batch) => store.commit(batch),
    defaults: { ...defaultSettings(base), receiptPolicy: options.receipts.multipart },
    connectors: () => connectorIdsOf(options.simulator.enabled, options.connectors),
    configKeys: configKeysOf(options.accounts as unknown as Record<string, unknown>[]),
    dataDir: options.dataDir,
    backupsDir: path.join(options.dataDir, 'backups'),
    backupsKept: options.store.backupsKept,
    allowPrivateWebhookTargets: options.webhooks.allowPrivateTargets,
  })
  let p: Principal = OPERATOR
  if (as !== undefined) {
    const ok = await store.verifyPassword(as.systemId, as.password).catch(() => 'no-account')
    const acc = ok === 'ok' ? store.getAccount(as.systemId) : undefined
    if (acc === undefined || acc.suspended) {
      await store.close()
      unlock()
      throw new SmscError('SMSC_ERR_CLI_USAGE', `--as ${as.systemId}: ${acc?.suspended ? 'the account is suspended' : 'wrong systemId or password'}`)
    }
    p = { role: acc.role, systemId: acc.systemId, name: acc.systemId }
  }
  return {
    via: 'store',
    list: async () => admin.list(p),
    get: async (id) => admin.get(p, id),
    create: (input) => admin.create(p, input),
    update: (id, patch) => admin.update(p, id, patch),
    setSuspended: (id, s) => admin.setSuspended(p, id, s),
    remove: (id) => admin.remove(p, id),
    setPassword: (id, pw) => admin.setPassword(p, id, pw),
    rotateWebhookSecret: (id) => admin.rotateWebhookSecret(p, id),
    setAdminPassword: async (pw) => {
      if (options.admin.password !== null) throw new SmscError('SMSC_ERR_API_INVALID', ADMIN_PASSWORD_CONFIGURED)
      return admin.setAdminPassword(p, pw)
    },
    listStaff: async () => admin.listStaff(p),
    addStaff: (user, role, pw) => admin.addStaff(p, pw === undefined ? { user, role } : { user, role, password: pw }),
    setStaffRole: (user, role) => admin.updateStaff(p, user, { role }),
    removeStaff: (user) => admin.removeStaff(p, user),
    setStaffPassword: (user, pw) => admin.setStaffPassword(p, user, pw),
    transfer: (req) => admin.transfer(p, req),
    ledger: async (id, limit) => admin.ledger(p, id, { limit }),
    audit: async (limit) => admin.audit(p, { limit }),
    createApiKey: (id, label) => admin.createApiKey(p, id, label),
    listApiKeys: async (id) => admin.listApiKeys(p, id),
    revokeApiKey: (id, keyId) => admin.revokeApiKey(p, id, keyId),
    listOptOuts: async (id, q) => admin.listOptOuts(p, id, q),
    addOptOuts: (id, numbers) => admin.addOptOuts(p, id, { numbers }),
    removeOptOuts: (id, numbers) => admin.removeOptOuts(p, id, { numbers }),
    findOptOut: async (number) => admin.findOptOut(p, number),
    traffic: async (id, q) => admin.traffic(p, id, q),
    trafficDay: async (day) => admin.trafficDay(p, day),
    getRoutes: async () => admin.getRoutes(),
    setRoutes: (tables) => admin.setRoutes(p, tables),
    // Scoped as the engine's API scopes them (engine/http.ts).
    findMessages: async (params) => {
      const q = parseSearchQuery((k) => params[k], Date.now())
      if (typeof q === 'string') throw new SmscError('SMSC_ERR_API_INVALID', q)
      if (q.systemId !== undefined && !admin.canSee(p, q.systemId)) throw new SmscError('SMSC_ERR_ADMIN_FORBIDDEN', `${q.systemId} is not visible to ${p.name}`)
      return searchMessages(store, q, { sees: (id) => admin.canSee(p, id), receiptIds: (id) => receiptIdsOf(options.connectors, id) })
    },
    message: async (id) => {
      const r = findById(store, id)
      if (!r || !admin.canSee(p, r.systemId)) throw new SmscError('SMSC_ERR_MESSAGE_NOT_FOUND', 'no such message')
      return viewOf(r)
    },
    backup: async (target) => {
      const st = await admin.backup(p, target)
      if (target === undefined) giveToStoreOwner(path.join(options.dataDir, 'store'), [path.join(options.dataDir, 'backups')], st.path)
      return st
    },
    connectors: async () => [...connectorIdsOf(options.simulator.enabled, options.connectors)].map((id) => ({
      id, kind: options.connectors.find((c) => c.id === id)?.kind ?? 'simulator', stopped: admin.connectorStopped(id),
    })),
    setConnectorStopped: (id, stopped) => admin.setConnectorStopped(p, id, stopped),
    close: async () => {
      try { await store.close() } finally { unlock() }
    },
  }
}

function remote(url: string, token: string): Omit<AdminClient, 'configRoutes'> {
  const call = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
    let res: Response
    try {
      res = await fetch(url + p, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      })
    } catch (e) {
      throw new SmscError('SMSC_ERR_CLI_USAGE', `the running engine's admin API at ${url} does not answer: ${(e as Error).message}`)
    }
    if (res.status === 204) return undefined as T
    const json = (await res.json().catch(() => ({}))) as { error?: string; code?: string }
    if (!res.ok) {
      const code = (json.code && isSmscError({ code: json.code, message: '', commandStatus: 0 }) ? json.code : 'SMSC_ERR_API_INVALID') as SmscErrorCode
      throw new SmscError(code, json.error ?? `HTTP ${res.status}`)
    }
    return json as T
  }
  const acct = (id: string) => `/api/v1/accounts/${encodeURIComponent(id)}`
  const optouts = (id: string | null) => (id === null ? '/api/v1/optouts' : `${acct(id)}/optouts`)
  return {
    via: 'engine',
    list: async () => (await call<{ accounts: AccountView[] }>('GET', '/api/v1/accounts')).accounts,
    get: (id) => call('GET', acct(id)),
    create: (input) => call('POST', '/api/v1/accounts', input),
    update: (id, patch) => call('PATCH', acct(id), patch),
    setSuspended: (id, s) => call('POST', `${acct(id)}/${s ? 'suspend' : 'resume'}`),
    remove: (id) => call('DELETE', acct(id)),
    setPassword: async (id, pw) => (await call<{ password: string }>('POST', `${acct(id)}/password`, pw === undefined ? {} : { password: pw })).password,
    rotateWebhookSecret: async (id) => (await call<{ secret: string }>('POST', `${acct(id)}/webhook-secret`)).secret,
    setAdminPassword: async (pw) => (await call<{ password: string }>('POST', '/api/v1/admin/password', pw === undefined ? {} : { password: pw })).password,
    listStaff: async () => (await call<{ users: StaffView[] }>('GET', '/api/v1/admin/users')).users,
    addStaff: (user, role, pw) => call('POST', '/api/v1/admin/users', pw === undefined ? { user, role } : { user, role, password: pw }),
    setStaffRole: (user, role) => call('PATCH', `/api/v1/admin/users/${encodeURIComponent(user)}`, { role }),
    removeStaff: (user) => call('DELETE', `/api/v1/admin/users/${encodeURIComponent(user)}`),
    setStaffPassword: async (user, pw) => (await call<{ password: string }>('POST', `/api/v1/admin/users/${encodeURIComponent(user)}/password`, pw === undefined ? {} : { password: pw })).password,
    transfer: (req) => call('POST', `${acct(req.to)}/credit`, { amount: req.amount, from: req.from, reason: req.reason }),
    ledger: async (id, limit) => (await call<{ entries: LedgerEntry[] }>('GET', `${acct(id)}/ledger?limit=${limit}`)).entries,
    audit: async (limit) => (await call<{ entries: AuditEntry[] }>('GET', `/api/v1/audit?limit=${limit}`)).entries,
    createApiKey: (id, label) => call('POST', `${acct(id)}/apikeys`, label === undefined ? {} : { label }),
    listApiKeys: async (id) => (await call<{ keys: { id: string; label: string; createdAt: number }[] }>('GET', `${acct(id)}/apikeys`)).keys,
    revokeApiKey: (id, keyId) => call('DELETE', `${acct(id)}/apikeys/${encodeURIComponent(keyId)}`),
    listOptOuts: (id, q) => {
      const params = new URLSearchParams()
      for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v))
      return call('GET', `${optouts(id)}?${params.toString()}`)
    },
    addOptOuts: (id, numbers) => call('POST', optouts(id), { numbers }),
    removeOptOuts: (id, numbers) => call('POST', `${optouts(id)}/remove`, { numbers }),
    findOptOut: (number) => call('GET', `/api/v1/optouts/find?${new URLSearchParams({ number }).toString()}`),
    traffic: async (id, q) => {
      const params = new URLSearchParams()
      if (q.from !== undefined) params.set('from', q.from)
      if (q.to !== undefined) params.set('to', q.to)
      if (q.tree) params.set('tree', 'true')
      return (await call<{ days: TrafficDay[] }>('GET', `${acct(id)}/stats?${params.toString()}`)).days
    },
    trafficDay: (day) => call('GET', `/api/v1/stats${day === undefined ? '' : `?day=${encodeURIComponent(day)}`}`),
    getRoutes: () => call('GET', '/api/v1/routes'),
    setRoutes: (tables) => call('PUT', '/api/v1/routes', tables),
    findMessages: (params) => call('GET', `/api/v1/messages?${new URLSearchParams(params).toString()}`),
    message: (id) => call('GET', `/api/v1/messages/${encodeURIComponent(id)}`),
    // Started, then followed: a copy of a large store takes longer than a client waits for a response.
    backup: async (target) => {
      const started = (await call<{ backup: BackupState }>('POST', '/api/v1/backup', target === undefined ? {} : { dir: target })).backup
      for (;;) {
        await new Promise((r) => setTimeout(r, 250))
        const { recent } = await call<{ recent: BackupState[] }>('GET', '/api/v1/backup')
        const now = recent.find((b) => b.path === started.path && b.startedAt === started.startedAt)
        if (now === undefined) throw new SmscError('SMSC_ERR_BACKUP_FAILED', `the engine no longer knows the backup to ${started.path} (was it restarted?); look there for a complete copy (a data dir with store/data.mdb)`)
        if (now.state === 'done') return now
        if (now.state === 'failed') throw new SmscError('SMSC_ERR_BACKUP_FAILED', now.error ?? `the backup to ${started.path} failed`)
      }
    },
    connectors: async () => (await call<{ connectors: ConnectorRow[] }>('GET', '/api/v1/connectors')).connectors,
    setConnectorStopped: async (id, stopped) => { await call('POST', `/api/v1/connectors/${encodeURIComponent(id)}/${stopped ? 'stop' : 'start'}`) },
    close: async () => {},
  }
}
