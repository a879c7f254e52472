/**
 * Admin access to the console, the telemetry stream and the admin API. The password comes from
 * config `admin.password`, else a hash kept in the store (generated and shown once at the first
 * start; `smsc admin passwd` replaces it). A login yields a random token (cookie or bearer) that
 * lives TOKEN_TTL_MS after its last use (sliding), survives engine restarts (only its SHA-256 is
 * kept, in the store) and ends at logout or when the admin password changes. The role travels
 * with the token so per-account (reseller) views can narrow what a token sees later.
 */
import { createHash, randomBytes } from 'node:crypto'
import { Store, verifyScrypt } from './store'

export const ADMIN_HASH_KEY = 'admin:passwordHash'
export const SESSION_COOKIE = 'smsc_session'
export const TOKENS_KEY = 'admin:tokens'
/** 7 days after the last use. */
export const TOKEN_TTL_MS = 7 * 24 * 3_600_000

const digest = (token: string) => createHash('sha256').update(token).digest('base64url')
type Tokens = Record<string, { role: 'admin'; expires: number }>

export interface Principal {
  role: 'admin'
}

export class AdminAuth {
  private readonly tokens = new Map<string, { p: Principal; expires: number }>()

  private constructor(private readonly hash: string, private readonly store: Store | null = null) {
    const saved = store?.getMeta(TOKENS_KEY) as Tokens | undefined
    const now = Date.now()
    // Tokens are valid only for the password they were issued under.
    const savedFor = store?.getMeta(`${TOKENS_KEY}:hash`)
    if (saved && savedFor === hash) for (const [d, v] of Object.entries(saved)) if (v.expires > now) this.tokens.set(d, { p: { role: v.role }, expires: v.expires })
  }

  private persist(): void {
    if (!this.store) return
    const out: Tokens = {}
    for (const [d, v] of this.tokens) out[d] = { role: v.p.role, expires: v.expires }
    this.store.putMeta(TOKENS_KEY, out).then(() => this.store!.putMeta(`${TOKENS_KEY}:hash`, this.hash)).catch(() => { /* a lost token write only means a new login */ })
  }

  /** Returns the auth and, when the password was generated now, that password (to show once). */
  static async init(store: Store, configured: string | null): Promise<{ auth: AdminAuth; generated: string | null }> {
    if (configured !== null) {
      // Keep the hash of a configured password while it stays the same, so tokens survive restarts.
      const kept = store.getMeta(`${ADMIN_HASH_KEY}:configured`)
      const hash = typeof kept === 'string' && (await verifyScrypt(kept, configured)) ? kept : await Store.hashPassword(configured)
      if (hash !== kept) await store.putMeta(`${ADMIN_HASH_KEY}:configured`, hash)
      return { auth: new AdminAuth(hash, store), generated: null }
    }
    const stored = store.getMeta(ADMIN_HASH_KEY)
    if (typeof stored === 'string') return { auth: new AdminAuth(stored, store), generated: null }
    const generated = randomBytes(9).toString('base64url')
    const hash = await Store.hashPassword(generated)
    await store.putMeta(ADMIN_HASH_KEY, hash)
    return { auth: new AdminAuth(hash, store), generated }
  }

  /** Sets a new admin password in the data dir (CLI `smsc admin passwd`). */
  static async setPassword(store: Store, password: string): Promise<void> {
    await store.putMeta(ADMIN_HASH_KEY, await Store.hashPassword(password))
  }

  async login(password: string): Promise<string | null> {
    if (!(await verifyScrypt(this.hash, password))) return null
    const token = randomBytes(24).toString('base64url')
    this.tokens.set(digest(token), { p: { role: 'admin' }, expires: Date.now() + TOKEN_TTL_MS })
    this.persist()
    return token
  }

  logout(token: string): void {
    if (this.tokens.delete(digest(token))) this.persist()
  }

  check(token: string | undefined): Principal | null {
    if (!token) return null
    const d = digest(token)
    const t = this.tokens.get(d)
    if (!t) return null
    const now = Date.now()
    if (t.expires < now) {
      this.tokens.delete(d)
      this.persist()
      return null
    }
    // Sliding expiry, written back at most once an hour per token.
    if (t.expires - now < TOKEN_TTL_MS - 3_600_000) {
      t.expires = now + TOKEN_TTL_MS
      this.persist()
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
