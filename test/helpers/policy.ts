/**
 * Helpers for the account-policy e2e tests (issue #5: accounts, credit, rate actors, routing,
 * webhooks): account entries with every per-account setting the config accepts, an engine started
 * with a known admin password, an authenticated client for the HTTP admin API (login, account,
 * ledger, credit, suspend), UCS2 concatenated parts with a UDH, and small status helpers.
 * Everything talks to the engine through its public interfaces only (config file, SMPP, HTTP).
 */
import { httpCall as engineHttpCall, startEngine, type AccountConfig, type Engine, type EngineOptions, type HttpResult, type TestLike } from './engine'
import type { Esme, Pdu } from './esme'

/** A config `accounts` entry with the settings of engine/accounts.ts (written into the config as given). */
export interface PolicyAccount extends AccountConfig {
  role?: 'reseller' | 'user'
  parent?: string | null
  group?: string | null
  suspended?: boolean
  allowedIps?: string[]
  allowedSources?: string[]
  rateLimit?: { perSecond: number; burst?: number } | null
  dailyQuota?: number | null
  registeredDelivery?: 0 | 1
  validity?: { defaultMs: number; maxMs: number }
  messageIdFormat?: 'decimal' | 'hex'
  receiptPolicy?: 'every' | 'last' | 'aggregate'
  settlement?: 'submit' | 'refund'
  prepaid?: boolean
  /** opening balance (makes the account prepaid) */
  credit?: number
  webhooks?: { receipts: string | null; mo: string | null }
}

/** The admin (operator) password every policy engine is started with (config `admin.password`). */
export const ADMIN_PASSWORD = 'policy-admin-1'

export interface PolicyEngineOptions extends Omit<EngineOptions, 'accounts'> {
  accounts: PolicyAccount[]
}

/** startEngine with per-account settings and the admin password set; stopped in t's teardown. */
export function startPolicyEngine(t: TestLike, opts: PolicyEngineOptions): Promise<Engine> {
  const { accounts, extra, ...rest } = opts
  return startEngine(t, { ...rest, accounts: accounts as AccountConfig[], extra: { admin: { password: ADMIN_PASSWORD }, ...extra } })
}

/** One HTTP request with headers. */
export function httpCall(port: number, method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<HttpResult> {
  return engineHttpCall(port, method, urlPath, { body, headers, timeoutMs })
}

import type { LedgerEntry } from '../../engine/ledger'
export type { LedgerEntry }

export interface AccountView {
  systemId: string
  balance: number | null
  suspended: boolean
  [key: string]: unknown
}

/** The HTTP admin API as the operator (POST /api/v1/login { password }, then a Bearer token). */
export class AdminApi {
  private constructor(private readonly engine: Engine, private readonly token: string) {}

  static async login(engine: Engine, password = ADMIN_PASSWORD): Promise<AdminApi> {
    const res = await httpCall(engine.httpPort, 'POST', '/api/v1/login', { password })
    const token = (res.json as { token?: unknown } | undefined)?.token
    if (res.status !== 200 || typeof token !== 'string') throw new Error(`POST /api/v1/login → ${res.status} ${res.body}`)
    return new AdminApi(engine, token)
  }

  call(method: string, urlPath: string, body?: unknown): Promise<HttpResult> {
    return httpCall(this.engine.httpPort, method, urlPath, body, { authorization: `Bearer ${this.token}` })
  }

  /** A call that must answer 2xx; its JSON body. */
  async ok<T>(method: string, urlPath: string, body?: unknown): Promise<T> {
    const res = await this.call(method, urlPath, body)
    if (res.status < 200 || res.status > 299) throw new Error(`${method} ${urlPath} → ${res.status} ${res.body}`)
    return res.json as T
  }

  account(systemId: string): Promise<AccountView> {
    return this.ok<AccountView>('GET', `/api/v1/accounts/${encodeURIComponent(systemId)}`)
  }

  async balance(systemId: string): Promise<number | null> {
    return (await this.account(systemId)).balance
  }

  /** Every ledger entry of the account (pages of 1000, newest first). */
  async ledger(systemId: string): Promise<LedgerEntry[]> {
    const out: LedgerEntry[] = []
    let before: number | undefined
    for (;;) {
      const q = before === undefined ? '?limit=1000' : `?limit=1000&before=${before}`
      const { entries } = await this.ok<{ entries: LedgerEntry[] }>('GET', `/api/v1/accounts/${encodeURIComponent(systemId)}/ledger${q}`)
      out.push(...entries)
      if (entries.length < 1000) return out
      const last = entries[entries.length - 1].seq
      if (last === undefined) return out
      before = last
    }
  }

  suspend(systemId: string): Promise<AccountView> {
    return this.ok<AccountView>('POST', `/api/v1/accounts/${encodeURIComponent(systemId)}/suspend`)
  }

  resume(systemId: string): Promise<AccountView> {
    return this.ok<AccountView>('POST', `/api/v1/accounts/${encodeURIComponent(systemId)}/resume`)
  }
}

/** Sum of ledger deltas, exact to the micro-unit (as the engine keeps balances). */
export function ledgerSum(entries: readonly LedgerEntry[]): number {
  let micro = 0
  for (const e of entries) micro += Math.round(e.delta * 1_000_000)
  return micro / 1_000_000
}

/**
 * A UCS2 text split into parts of at most 67 UTF-16 code units, each with an 8-bit reference
 * concatenation UDH (05 00 03 ref total seq, 3GPP TS 23.040 §9.2.3.24.1): short_message payloads
 * for submit_sm with esm_class 0x40 (UDHI) and data_coding 8.
 */
export function ucs2ConcatParts(text: string, ref: number): Buffer[] {
  const units = Buffer.from(text, 'utf16le').swap16()
  const chunks: Buffer[] = []
  for (let i = 0; i < units.length; ) {
    let end = Math.min(i + 134, units.length)
    // never cut a surrogate pair: a high surrogate (D800–DBFF) stays with its low half
    if (end < units.length && (units[end - 2] & 0xfc) === 0xd8) end -= 2
    chunks.push(units.subarray(i, end))
    i = end
  }
  return chunks.map((c, i) => Buffer.concat([Buffer.from([0x05, 0x00, 0x03, ref & 0xff, chunks.length, i + 1]), c]))
}

export const hex = (n: number): string => '0x' + n.toString(16).padStart(2, '0')

/** command_status values of issue #5 (docs/ERRORS.md). */
export const PolicyStatus = {
  ESME_RINVSRCADR: 0x0a,
  ESME_RBINDFAIL: 0x0d,
  ESME_RMSGQFUL: 0x14,
  ESME_RTHROTTLED: 0x58,
  SMSC_RNOCREDIT: 0x401,
  SMSC_RQUOTA: 0x402,
} as const

/** How many responses had each command_status, as { '0x00': n, '0x58': m }. */
export function statusCounts(resps: readonly Pdu[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const r of resps) out[hex(r.command_status)] = (out[hex(r.command_status)] ?? 0) + 1
  return out
}

/** Submits one by one on `esme`; the responses in order. */
export async function submitEach(esme: Esme, list: Record<string, unknown>[]): Promise<Pdu[]> {
  const out: Pdu[] = []
  for (const p of list) out.push(await esme.submit(p))
  return out
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 50 ms until it returns a value other than undefined; throws `what` after timeoutMs. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`)
    await sleep(50)
  }
}
