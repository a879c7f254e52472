/**
 * Logins to the console, the telemetry stream and the HTTP API. Three kinds:
 * - the operator: the password is config `admin.password`, else a hash kept in the store (generated
 *   and shown once at the first start; Admin.setAdminPassword, behind `smsc admin passwd` and
 *   POST /api/v1/admin/password, replaces it, and a running engine uses the new one at once);
 * - a staff user (engine/staff.ts): its name (`user`) and password; it acts as the operator, under its own
 *   name, and a viewer read-only (`staff` in its principal);
 * - an account (reseller or user): its SMPP system_id and password, checked by the store; a
 *   suspended account cannot log in.
 * A login yields a random token (cookie or bearer) that lives TOKEN_TTL_MS after its last use
 * (sliding) and survives engine restarts: only its SHA-256 is kept, in the store, with the
 * principal (role, systemId or staff user, name) and a fingerprint of the password hash it was issued under
 * (for a staff user, of its whole record: role and updatedAt too), so a token ends at logout, when that
 * password changes, when its account or staff user is removed, or when a staff user's role changes. The
 * account's current role is read at every check (a role change applies at once). A principal keeps at
 * most MAX_TOKENS_PER_PRINCIPAL tokens: a new login drops the least recently used one beyond that, so
 * repeated logins cannot grow the stored map. The operator token of the CLI's control file is the
 * exception: kept in memory only, never stored, and ended by the engine at shutdown.
 * API keys are not tokens: Admin owns them (apiKeyOwner); accountPrincipal() turns their owner
 * into the principal the send API acts for.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto'
import { Store, verifyScrypt } from './store'
import { OPERATOR, ipAllowed, type Principal } from './accounts'
import { getStaff, type StaffUser } from './staff'
import { addressKey } from './address-key'

export type { Principal } from './accounts'

export const ADMIN_HASH_KEY = 'admin:passwordHash'
export const SESSION_COOKIE = 'smsc_session'
/**
 * The Set-Cookie value of a login's session cookie (`token`), or of its clearing at logout (null). HttpOnly: no script
 * reads it; SameSite=Strict: no other site's request carries it; over HTTPS `Secure` (RFC 6265 §4.1.2.5): never sent
 * back over plain HTTP. The plain port's has none: a browser drops a Secure cookie set over plain HTTP (a loopback
 * name aside), and the console on that port must keep working.
 */
export function sessionCookie(token: string | null, secure: boolean): string {
  return `${SESSION_COOKIE}=${token ?? ''}; ${token === null ? 'Max-Age=0; ' : ''}HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}`
}
export const TOKENS_KEY = 'admin:tokens'
/** Why the stored admin password cannot be changed while config admin.password is set (API and CLI). */
export const ADMIN_PASSWORD_CONFIGURED = 'the admin password is config admin.password, which takes precedence: change it in the config file'
/** 7 days after the last use. */
export const TOKEN_TTL_MS = 7 * 24 * 3_600_000
/** Tokens one principal (the operator, or one account) keeps; beyond it the least recently used goes. */
export const MAX_TOKENS_PER_PRINCIPAL = 20

const digest = (token: string) => createHash('sha256').update(token).digest('base64url')
/** Which password hash a token belongs to (a token dies when that password changes). */
const fingerprint = (passwordHash: string) => createHash('sha256').update(passwordHash).digest('base64url').slice(0, 16)

/** A staff user's record as a token sees it: any change (password, role) ends its tokens. */
const staffFingerprint = (u: StaffUser) => fingerprint(`${u.role}\n${u.updatedAt}\n${u.passwordHash}`)

/** Persisted form. `role: 'admin'` and no `h` are tokens of the previous format (operator only). */
interface SavedToken { role: string; systemId?: string; user?: string; expires: number; h?: string }
type Tokens = Record<string, SavedToken>

interface Live {
  /** null: the operator or a staff user */
  systemId: string | null
  /** a staff user's name */
  user?: string
  expires: number
  h: string
  /** In memory only (the control file's token): never stored, not counted against the principal's cap. */
  memOnly?: boolean
}

export type AccountLogin = { token: string; principal: Principal } | 'bad-credentials' | 'suspended' | 'ip-not-allowed'

/** Whose tokens a token counts with (MAX_TOKENS_PER_PRINCIPAL): the operator, an account or a staff user. */
type Owner = string | null
/** A tab cannot be in a systemId (printable ASCII) nor a staff name: the two never share an owner. */
const ownerOf = (t: Live): Owner => (t.user !== undefined ? `\t${t.user}` : t.systemId)

/** A hash no password matches, made once: checked for unknown staff names. */
let dummy: Promise<string> | null = null
const dummyHash = (): Promise<string> => (dummy ??= Store.hashPassword(randomBytes(16).toString('hex')))

/** 12 letters and digits: no leading '-' to trip a command line, nothing to escape in a shell. */
export function generateAdminPassword(): string {
  const A = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789'
  let s = ''
  for (let i = 0; i < 12; i++) s += A[randomInt(A.length)]
  return s
}

export class AdminAuth {
  private readonly tokens = new Map<string, Live>()
  private operatorH: string

  /** `configured`: the password is config admin.password, which the stored one cannot replace. */
  private constructor(private hash: string, private readonly store: Store | null = null, readonly configured = false) {
    this.operatorH = fingerprint(hash)
    const saved = store?.getMeta(TOKENS_KEY) as Tokens | undefined
    const now = Date.now()
    // Tokens of the previous format are valid only for the admin password they were issued under.
    const legacyOk = store?.getMeta(`${TOKENS_KEY}:hash`) === hash
    if (saved) {
      for (const [d, v] of Object.entries(saved)) {
        if (!(v.expires > now)) continue
        if (v.user !== undefined) {
          if (typeof v.h === 'string') this.tokens.set(d, { systemId: null, user: v.user, expires: v.expires, h: v.h })
        } else if (v.systemId === undefined) {
          // operator token
          if (v.h === undefined ? legacyOk : v.h === this.operatorH) this.tokens.set(d, { systemId: null, expires: v.expires, h: this.operatorH })
        } else if (typeof v.h === 'string') {
          this.tokens.set(d, { systemId: v.systemId, expires: v.expires, h: v.h })
        }
      }
      // A map stored before the cap existed shrinks to it.
      for (const owner of new Set([...this.tokens.values()].map(ownerOf))) this.cap(owner)
    }
  }

  private persist(): void {
    if (!this.store) return
    const out: Tokens = {}
    const now = Date.now()
    for (const [d, v] of this.tokens) {
      if (v.memOnly || !(v.expires > now)) continue
      out[d] = v.user !== undefined ? { role: 'staff', user: v.user, expires: v.expires, h: v.h }
        : v.systemId === null ? { role: 'operator', expires: v.expires, h: v.h } : { role: 'account', systemId: v.systemId, expires: v.expires, h: v.h }
    }
    this.store.putMeta(TOKENS_KEY, out).catch(() => { /* a lost token write only means a new login */ })
  }

  /** Returns the auth and, when the password was generated now, that password (to show once). */
  static async init(store: Store, configured: string | null): Promise<{ auth: AdminAuth; generated: string | null }> {
    if (configured !== null) {
      // Keep the hash of a configured password while it stays the same, so tokens survive restarts.
      const kept = store.getMeta(`${ADMIN_HASH_KEY}:configured`)
      const hash = typeof kept === 'string' && (await verifyScrypt(kept, configured)) ? kept : await Store.hashPassword(configured)
      if (hash !== kept) await store.putMeta(`${ADMIN_HASH_KEY}:configured`, hash)
      return { auth: new AdminAuth(hash, store, true), generated: null }
    }
    const stored = store.getMeta(ADMIN_HASH_KEY)
    if (typeof stored === 'string') return { auth: new AdminAuth(stored, store), generated: null }
    const generated = generateAdminPassword()
    const hash = await Store.hashPassword(generated)
    await store.putMeta(ADMIN_HASH_KEY, hash)
    return { auth: new AdminAuth(hash, store), generated }
  }

  /**
   * The stored admin password was replaced (Admin.setAdminPassword, committed): it applies at once, and the
   * operator's login tokens end, as a password change ends them. The control file's token (no password) stays.
   */
  adminPasswordChanged(): void {
    const stored = this.store?.getMeta(ADMIN_HASH_KEY)
    if (this.configured || typeof stored !== 'string' || stored === this.hash) return
    this.hash = stored
    this.operatorH = fingerprint(stored)
    for (const [d, t] of this.tokens) {
      if (t.systemId !== null || t.user !== undefined) continue
      if (t.memOnly) t.h = this.operatorH
      else this.tokens.delete(d)
    }
    this.persist()
  }

  private issue(systemId: string | null, h: string, memOnly = false, user?: string): string {
    const token = randomBytes(24).toString('base64url')
    const live: Live = { systemId, expires: Date.now() + TOKEN_TTL_MS, h }
    if (user !== undefined) live.user = user
    if (memOnly) live.memOnly = true
    this.tokens.set(digest(token), live)
    if (memOnly) return token
    this.cap(ownerOf(live))
    this.persist()
    return token
  }

  /** Drops the principal's expired tokens and, beyond MAX_TOKENS_PER_PRINCIPAL, the least recently used ones. */
  private cap(owner: Owner): void {
    const now = Date.now()
    const mine: [string, Live][] = []
    for (const e of this.tokens) {
      if (ownerOf(e[1]) !== owner || e[1].memOnly) continue
      if (e[1].expires > now) mine.push(e)
      else this.tokens.delete(e[0])
    }
    if (mine.length <= MAX_TOKENS_PER_PRINCIPAL) return
    mine.sort((a, b) => a[1].expires - b[1].expires) // sliding expiry: the earliest is the least recently used
    for (let i = 0; i < mine.length - MAX_TOKENS_PER_PRINCIPAL; i++) this.tokens.delete(mine[i][0])
  }

  /**
   * An operator token without the password, for the CLI's control file (engine/index.ts), never over HTTP.
   * Kept in memory only: it ends with this process, or earlier with logout(token) (the engine's shutdown).
   */
  issueOperatorToken(): string {
    return this.issue(null, this.operatorH, true)
  }

  /** The operator's login: a token, or null on a wrong password. */
  async login(password: string): Promise<string | null> {
    if (!(await verifyScrypt(this.hash, password))) return null
    return this.issue(null, this.operatorH)
  }

  /**
   * An account's login with its SMPP credentials, from `remote` (the client's address). Unknown account and
   * wrong password look alike; an address outside the account's allowedIps gets 'ip-not-allowed' whatever the
   * password (as at bind); a suspended account gets no token.
   */
  async loginAccount(systemId: string, password: string, remote: string): Promise<AccountLogin> {
    if (!this.store) return 'bad-credentials'
    const checked = await this.store.verifyPassword(systemId, password)
    // An unknown systemId costs the same scrypt as a wrong password (as an unknown staff name does): the answer's time
    // does not tell which accounts exist.
    if (checked === 'no-account') { await verifyScrypt(await dummyHash(), password); return 'bad-credentials' }
    const acc = this.store.getAccount(systemId)
    // allowedIps before the password's verdict: from outside them a right and a wrong password get the same answer
    // (403), so an outsider learns nothing of the password; the scrypt ran either way, so neither does the time.
    if (acc && !ipAllowed(acc.allowedIps, remote)) return 'ip-not-allowed'
    if (checked !== 'ok' || !acc) return 'bad-credentials'
    if (acc.suspended) return 'suspended'
    return { token: this.issue(systemId, fingerprint(acc.passwordHash)), principal: principalOf(acc) }
  }

  /**
   * A staff user's login (engine/staff.ts) with its name and password: a token for the operator's principal
   * under that name, read-only for a viewer; null when the user is unknown or the password wrong (alike).
   */
  async loginStaff(user: string, password: string): Promise<{ token: string; principal: Principal } | null> {
    const u = this.store ? getStaff(this.store, user) : undefined
    // An unknown name costs the same scrypt as a wrong password: the answer's time does not tell which names exist.
    if (!u) { await verifyScrypt(await dummyHash(), password); return null }
    if (!(await verifyScrypt(u.passwordHash, password))) return null
    const now = getStaff(this.store as Store, user) // again: it may have changed while the password was checked
    if (!now || now.passwordHash !== u.passwordHash) return null
    return { token: this.issue(null, staffFingerprint(now), false, user), principal: staffPrincipal(now) }
  }

  logout(token: string): void {
    const d = digest(token)
    const t = this.tokens.get(d)
    if (t === undefined) return
    this.tokens.delete(d)
    if (!t.memOnly) this.persist()
  }

  /**
   * The principal of a token, or null (unknown, expired, password changed, account removed). The
   * principal of a suspended account is returned: isSuspended() tells the caller to refuse it.
   */
  check(token: string | undefined): Principal | null {
    if (!token) return null
    const d = digest(token)
    const t = this.tokens.get(d)
    if (!t) return null
    const now = Date.now()
    if (t.expires < now) {
      this.tokens.delete(d)
      if (!t.memOnly) this.persist()
      return null
    }
    let p: Principal = OPERATOR
    if (t.user !== undefined) {
      const u = this.store ? getStaff(this.store, t.user) : undefined
      if (!u || staffFingerprint(u) !== t.h) {
        this.tokens.delete(d)
        this.persist()
        return null
      }
      p = staffPrincipal(u)
    } else if (t.systemId !== null) {
      const acc = this.store?.getAccount(t.systemId)
      if (!acc || fingerprint(acc.passwordHash) !== t.h) {
        this.tokens.delete(d)
        this.persist()
        return null
      }
      p = principalOf(acc)
    }
    // Sliding expiry, written back at most once an hour per token.
    if (t.expires - now < TOKEN_TTL_MS - 3_600_000) {
      t.expires = now + TOKEN_TTL_MS
      if (!t.memOnly) this.persist()
    }
    return p
  }

  /** The principal an API key of `systemId` acts as (the account's role), or null if it is gone. */
  accountPrincipal(systemId: string): Principal | null {
    const acc = this.store?.getAccount(systemId)
    return acc ? principalOf(acc) : null
  }

  /** True for the principal of an account that is suspended now (its requests are refused, 403). */
  isSuspended(p: Principal): boolean {
    return p.systemId !== null && this.store?.getAccount(p.systemId)?.suspended === true
  }

  /** The token of a request: `Authorization: Bearer`, the session cookie, or `?token=` (WebSocket). */
  static tokenOf(authorization: string, cookie: string, query: string): string | undefined {
    if (authorization.startsWith('Bearer ')) return authorization.slice(7).trim()
    for (const part of cookie.split(';')) {
      const [k, v] = part.trim().split('=')
      if (k === SESSION_COOKIE && v) return decoded(v)
    }
    const m = /(?:^|&)token=([^&]+)/.exec(query)
    return m ? decoded(m[1]) : undefined
  }
}

/** A percent-encoded token as sent; one that does not decode (`%E0%A4%A`) is no token (a 401), never a throw: callers run in uWS handlers, where an exception ends the process. */
function decoded(v: string): string | undefined {
  try {
    return decodeURIComponent(v)
  } catch {
    return undefined
  }
}

function staffPrincipal(u: StaffUser): Principal {
  return { role: 'operator', systemId: null, name: u.name, staff: u.role }
}

function principalOf(acc: { systemId: string; role?: string }): Principal {
  return { role: acc.role === 'reseller' ? 'reseller' : 'user', systemId: acc.systemId, name: acc.systemId }
}

/** Failed HTTP logins from one address (IPv6: its /64), whatever the names, that lock logins from it for the minute. */
export const LOGIN_FAILURES_PER_ADDRESS = 30

/**
 * Failed HTTP logins (and unknown API keys) per client address: after `limit` in `windowMs`, that address
 * is refused (429) until the window that began with its first failure ends, so passwords (SMPP ones are
 * at most 8 characters) cannot be guessed at HTTP speed. A success does not clear the count. At most
 * `maxTracked` addresses are remembered, the stalest forgotten first, so a flood of addresses cannot
 * grow it without bound.
 */
export class LoginThrottle {
  private readonly fails = new Map<string, { n: number; since: number }>()
  constructor(readonly limit = 10, readonly windowMs = 60_000, private readonly now: () => number = Date.now, private readonly maxTracked = 10_000) {}

  /** Attempts being checked now (the password check is asynchronous), by address. */
  private readonly inflight = new Map<string, number>()

  /**
   * Milliseconds until `remote` may try again; 0 when it may now. Once an attempt has failed in the window, the ones
   * still being checked count as failures too (so parallel guesses cannot all slip past); before that they do not,
   * so a pool of ESMEs binding at once with the right password is never refused.
   */
  retryIn(remote: string): number {
    let f = this.fails.get(remote)
    if (f !== undefined && f.since + this.windowMs <= this.now()) { this.fails.delete(remote); f = undefined }
    if (f === undefined || f.n + (this.inflight.get(remote) ?? 0) < this.limit) return 0
    return f.since + this.windowMs - this.now()
  }

  /**
   * Starts an attempt from `remote`: null when it is refused now (retryIn); else the function to call once it is
   * decided, with whether it failed. Counted from its start: after a first failure, parallel guesses cannot all get
   * past a check made before they have failed.
   */
  begin(remote: string): ((failed: boolean) => void) | null {
    if (this.retryIn(remote) > 0) return null
    this.inflight.set(remote, (this.inflight.get(remote) ?? 0) + 1)
    let done = false
    return (failed) => {
      if (done) return
      done = true
      const n = (this.inflight.get(remote) ?? 1) - 1
      if (n > 0) this.inflight.set(remote, n)
      else this.inflight.delete(remote)
      if (failed) this.failed(remote)
    }
  }

  /**
   * The key failures count under: the client's address, IPv6 clients by their /64 (one host has a whole /64 to
   * take addresses from), and with `name` the login name too (one customer's wrong password behind a shared NAT
   * locks out no one else). `staff`: `name` is a staff user's, counted apart from an account of the same name.
   */
  static keyOf(remote: string, name?: string, staff = false): string {
    // A tab is in no systemId (printable ASCII): a staff user's count is never an account's.
    return name === undefined ? LoginThrottle.addressKey(remote) : `${LoginThrottle.addressKey(remote)}${staff ? '\t' : ' '}${name}`
  }

  private static addressKey(remote: string): string {
    return addressKey(remote)
  }

  failed(remote: string): void {
    const t = this.now()
    let f = this.fails.get(remote)
    if (f === undefined || t - f.since >= this.windowMs) {
      this.fails.delete(remote) // re-inserted last: Map order is then staleness order
      f = { n: 0, since: t }
      if (this.fails.size >= this.maxTracked) this.fails.delete(this.fails.keys().next().value as string)
      this.fails.set(remote, f)
    }
    f.n++
  }
}
