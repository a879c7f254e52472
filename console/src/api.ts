/**
 * The admin API (docs/TELEMETRY.md "Admin API used by the console", docs/API.md): JSON over fetch,
 * same origin, authenticated by the smsc_session cookie the login sets. Errors come back as ApiError
 * with the HTTP status and the engine's { error, code } when it sent one; a network failure (engine
 * down) is ApiError with status 0. A call that finds the login gone (401, or 403 for an account
 * suspended meanwhile) also tells the onAuthLost listeners, so the shell can ask to sign in again;
 * the login itself and GET /api/v1/me answer their caller only.
 */
import type {
  AccountCreate, AccountSettings, AccountView, BackupState, CreditRequest, LedgerEntry, MessageInfo, MessageSearchResult, OptOutFind, OptOutPage, Principal, SendRequest,
  SendResult, StaffView, TrafficDay,
} from './types'

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly code?: string) {
    super(message)
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch (e) {
    throw new ApiError(0, 'the engine is not reachable')
  }
  const text = await res.text()
  let json: unknown
  try {
    json = text ? JSON.parse(text) : undefined
  } catch {
    json = undefined
  }
  if (!res.ok) {
    const j = (json ?? {}) as { error?: string; code?: string }
    const err = new ApiError(res.status, j.error ?? `${res.status} ${res.statusText}`, j.code)
    if ((res.status === 401 || j.code === 'SMSC_ERR_ACCOUNT_SUSPENDED') && path !== '/api/v1/login' && path !== '/api/v1/me') {
      for (const fn of authLost) fn(err)
    }
    throw err
  }
  return json as T
}

const authLost = new Set<(e: ApiError) => void>()

/** Called when a request finds the login gone (expired, password changed, account suspended). */
export function onAuthLost(fn: (e: ApiError) => void): () => void {
  authLost.add(fn)
  return () => authLost.delete(fn)
}

const acc = (id: string): string => `/api/v1/accounts/${encodeURIComponent(id)}`
/** an opt-out list's path: the global one (null) or an account's */
const optOutList = (id: string | null): string => (id === null ? '/api/v1/optouts' : `${acc(id)}/optouts`)

export const api = {
  /** the operator (password only), a staff user (its name as `user`) or an account (systemId + its SMPP password) */
  login: (password: string, who?: { systemId: string } | { user: string }) =>
    call<{ token: string; principal: Principal }>('POST', '/api/v1/login', { ...who, password }),
  logout: () => call<void>('POST', '/api/v1/logout'),
  me: () => call<Principal>('GET', '/api/v1/me'),
  accounts: () => call<{ accounts: AccountView[] }>('GET', '/api/v1/accounts'),
  account: (id: string) => call<AccountView>('GET', acc(id)),
  createAccount: (body: AccountCreate) => call<{ account: AccountView; password: string }>('POST', '/api/v1/accounts', body),
  /** `webhookSecret`: only in the answer to the PATCH that first gives the account webhooks (shown only then) */
  updateAccount: (id: string, patch: Partial<Record<keyof AccountSettings, unknown>>) => call<AccountView & { webhookSecret?: string }>('PATCH', acc(id), patch),
  /** a new webhook secret, in force at once; the answer is the only time it is shown */
  newWebhookSecret: (id: string) => call<{ secret: string }>('POST', `${acc(id)}/webhook-secret`),
  suspend: (id: string, suspended: boolean) => call<AccountView>('POST', `${acc(id)}/${suspended ? 'suspend' : 'resume'}`),
  removeAccount: (id: string) => call<void>('DELETE', acc(id)),
  /** no password: the engine generates one; the answer is the only time it is shown */
  setPassword: (id: string, password?: string) => call<{ password: string }>('POST', `${acc(id)}/password`, password === undefined ? {} : { password }),
  /** moves `amount` to `id`: from `from`, or (operator, no from) new credit */
  credit: (id: string, req: CreditRequest) => call<{ from: LedgerEntry | null; to: LedgerEntry }>('POST', `${acc(id)}/credit`, req),
  ledger: (id: string, limit: number, before?: number) =>
    call<{ entries: LedgerEntry[] }>('GET', `${acc(id)}/ledger?limit=${limit}${before !== undefined ? `&before=${before}` : ''}`),
  /** the account's traffic of the last 7 UTC days, oldest first; `tree` (a reseller): with its users summed */
  traffic: (id: string, tree = false) => call<{ days: TrafficDay[] }>('GET', `${acc(id)}/stats${tree ? '?tree=true' : ''}`),
  /** the account's API keys (never the keys themselves) */
  apiKeys: (id: string) => call<{ keys: { id: string; label: string; createdAt: number }[] }>('GET', `${acc(id)}/apikeys`),
  /** a new API key; the answer is the only time it is shown */
  createApiKey: (id: string, label: string) => call<{ id: string; key: string }>('POST', `${acc(id)}/apikeys`, label === '' ? {} : { label }),
  revokeApiKey: (id: string, keyId: string) => call<void>('DELETE', `${acc(id)}/apikeys/${encodeURIComponent(keyId)}`),
  /** an opt-out list, a page in number order: `systemId` null is the operator's global list */
  optOuts: (systemId: string | null, q: { limit: number; after?: string; prefix?: string }) => {
    const params = new URLSearchParams({ limit: String(q.limit) })
    if (q.after !== undefined) params.set('after', q.after)
    if (q.prefix) params.set('prefix', q.prefix)
    return call<OptOutPage>('GET', `${optOutList(systemId)}?${params.toString()}`)
  },
  addOptOuts: (systemId: string | null, numbers: string[]) =>
    call<{ added: number; already: number; total: number }>('POST', optOutList(systemId), { numbers }),
  removeOptOuts: (systemId: string | null, numbers: string[]) =>
    call<{ removed: number; absent: number; total: number }>('POST', `${optOutList(systemId)}/remove`, { numbers }),
  /** which lists hold one number, among those this login may see */
  findOptOut: (number: string) => call<OptOutFind>('GET', `/api/v1/optouts/find?${new URLSearchParams({ number }).toString()}`),
  unbind: (id: number) => call<unknown>('POST', `/api/v1/binds/${encodeURIComponent(String(id))}/unbind`),
  send: (req: SendRequest) => call<SendResult>('POST', '/api/v1/messages', req),
  message: (id: string) => call<MessageInfo>('GET', `/api/v1/messages/${encodeURIComponent(id)}`),
  /** a message search (docs/API.md "Message search"): to, from, systemId, state, since, until, limit, before; empty ones are left out */
  searchMessages: (params: Record<string, string>) => {
    const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v.trim() !== ''))
    return call<MessageSearchResult>('GET', `/api/v1/messages?${q.toString()}`)
  },
  /** stops (no link, routes skip it) or starts a connector (operator, not a viewer) */
  connector: (id: string, action: 'stop' | 'start') => call<unknown>('POST', `/api/v1/connectors/${encodeURIComponent(id)}/${action}`),
  /** the backup being made, or the last one (operator) */
  backup: () => call<{ backup: BackupState | null; recent: BackupState[] }>('GET', '/api/v1/backup'),
  /** starts a backup (operator; 409 while one is being made) */
  startBackup: () => call<{ backup: BackupState }>('POST', '/api/v1/backup'),
  /** staff logins (operator; a viewer may list them) */
  staff: () => call<{ users: StaffView[] }>('GET', '/api/v1/admin/users'),
  /** no password: the engine generates one; the answer is the only time it is shown */
  addStaff: (user: string, role: 'admin' | 'viewer', password?: string) =>
    call<{ user: StaffView; password: string }>('POST', '/api/v1/admin/users', password === undefined ? { user, role } : { user, role, password }),
  removeStaff: (user: string) => call<void>('DELETE', `/api/v1/admin/users/${encodeURIComponent(user)}`),
}
