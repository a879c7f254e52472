/**
 * Staff logins: named people who use the operator's console and API instead of sharing the one operator
 * password, each with a role:
 *   admin   everything the built-in operator may do, managing staff included
 *   viewer  read-only: every GET and the telemetry stream; any other method is refused, in one place
 *           (engine/http.ts, SMSC_ERR_ADMIN_READ_ONLY), as Kannel's status-password is
 * Their changes are audited under their name. This module owns the model: names, roles, the record (kept in
 * the store's meta, one key per user, `staff:<name>`, with the scrypt hash only, as an account's password)
 * and its checks. Changes go through engine/admin.ts; logins and tokens are engine/auth.ts's. The built-in
 * operator (config admin.password or the stored hash; principal name 'admin') is not a staff user, and
 * its name is reserved.
 */
import type { Store } from './store'
import type { StaffView } from './wire'

export type { StaffView } from './wire'

export const STAFF_ROLES = ['admin', 'viewer'] as const
export type StaffRole = (typeof STAFF_ROLES)[number]

export interface StaffUser extends StaffView {
  passwordHash: string
}

/** meta keys of staff users: `staff:<name>` */
export const STAFF_META_PREFIX = 'staff:'
export const staffMetaKey = (name: string): string => STAFF_META_PREFIX + name

/** The built-in operator's principal name: no staff user may take it (any case). */
export const RESERVED_STAFF_NAME = 'admin'
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/
/** A staff password: as the operator's, 8 to 128 characters (generated: 12). */
export const STAFF_PASSWORD_MIN = 8
export const STAFF_PASSWORD_MAX = 128

/** Why `name` cannot name a staff user (one line naming the rule), or null. */
export function staffNameProblem(name: unknown): string | null {
  if (typeof name !== 'string' || !NAME.test(name)) {
    return `user must be 1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit (got ${JSON.stringify(name)})`
  }
  if (name.toLowerCase() === RESERVED_STAFF_NAME) return `user ${JSON.stringify(name)} is reserved for the built-in operator login`
  return null
}

export function staffPasswordProblem(password: unknown): string | null {
  if (typeof password !== 'string' || password.length < STAFF_PASSWORD_MIN || password.length > STAFF_PASSWORD_MAX) {
    return `password must be ${STAFF_PASSWORD_MIN} to ${STAFF_PASSWORD_MAX} characters`
  }
  return null
}

const isRecord = (v: unknown): v is StaffUser => typeof v === 'object' && v !== null && typeof (v as StaffUser).passwordHash === 'string'
  && (STAFF_ROLES as readonly string[]).includes((v as StaffUser).role) && typeof (v as StaffUser).name === 'string'

/** The staff user `name`, or undefined. */
export function getStaff(store: Store, name: string): StaffUser | undefined {
  if (staffNameProblem(name) !== null) return undefined
  const v = store.getMeta(staffMetaKey(name))
  return isRecord(v) ? v : undefined
}

/** Every staff user, by name. */
export function listStaff(store: Store): StaffUser[] {
  return store.metaWithPrefix(STAFF_META_PREFIX).map(([, v]) => v).filter(isRecord)
}

export const staffView = (u: StaffUser): StaffView => ({ name: u.name, role: u.role, createdAt: u.createdAt, updatedAt: u.updatedAt })
