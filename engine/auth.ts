/**
 * Admin access to the console, the telemetry stream and the admin API. The password comes from
 * config `admin.password`, else a hash kept in the store (generated and shown once at the first
 * start; `smsc admin passwd` replaces it). A login yields a random token (cookie or bearer),
 * held in memory with its role; tokens die with the process or at logout. The role travels with
 * the token so per-account (reseller) views can narrow what a token sees later.
 */
import { randomBytes } from 'node:crypto'
import { Store, verifyScrypt } from './store'

export const ADMIN_HASH_KEY = 'admin:passwordHash'
export const SESSION_COOKIE = 'smsc_session'
const TOKEN_TTL_MS = 12 * 3_600_000

export interface Principal {
  role: 'admin'
}

export class AdminAuth {
  private readonly tokens = new Map<string, { p: Principal; expires: number }>()

  private constructor(private readonly hash: string) {}

  /** Returns the auth and, when the password was generated now, that password (to show once). */
  static async init(store: Store, configured: string | null): Promise<{ auth: AdminAuth; generated: string | null }> {
    if (configured !== null) return { auth: new AdminAuth(await Store.hashPassword(configured)), generated: null }
    const stored = store.getMeta(ADMIN_HASH_KEY)
    if (typeof stored === 'string') return { auth: new AdminAuth(stored), generated: null }
    const generated = randomBytes(9).toString('base64url')
    const hash = await Store.hashPassword(generated)
    await store.putMeta(ADMIN_HASH_KEY, hash)
    return { auth: new AdminAuth(hash), generated }
  }

  /** Sets a new admin password in the data dir (CLI `smsc admin passwd`). */
  static async setPassword(store: Store, password: string): Promise<void> {
    await store.putMeta(ADMIN_HASH_KEY, await Store.hashPassword(password))
  }

  async login(password: string): Promise<string | null> {
    if (!(await verifyScrypt(this.hash, password))) return null
    const token = randomBytes(24).toString('base64url')
    this.tokens.set(token, { p: { role: 'admin' }, expires: Date.now() + TOKEN_TTL_MS })
    return token
  }

  logout(token: string): void {
    this.tokens.delete(token)
  }

  check(token: string | undefined): Principal | null {
    if (!token) return null
    const t = this.tokens.get(token)
    if (!t) return null
    if (t.expires < Date.now()) {
      this.tokens.delete(token)
      return null
    }
    return t.p
  }

  /** The token of a request: `Authorization: Bearer`, the session cookie, or `?token=` (WebSocket). */
  static tokenOf(authorization: string, cookie: string, query: string): string | undefined {
    if (authorization.startsWith('Bearer ')) return authorization.slice(7).trim()
    for (const part of cookie.split(';')) {
      const [k, v] = part.trim().split('=')
      if (k === SESSION_COOKIE && v) return decodeURIComponent(v)
    }
    const m = /(?:^|&)token=([^&]+)/.exec(query)
    return m ? decodeURIComponent(m[1]) : undefined
  }
}
