/**
 * Who may do what to which account, as the console shows it: the same rules as engine/admin.ts (the
 * engine enforces them; the console only hides what would be refused). The accounts tree (operator
 * → resellers → their users; operator-owned users at the top level) is built here too.
 *
 *   operator  everything: any setting, suspend, remove, new credit (grant) or a move to/from the parent
 *   reseller  itself: its webhooks and password; its users: RESELLER_KEYS, suspend, remove, password,
 *             credit given from its own balance or taken back; creates users under itself
 *   user      itself: its webhooks and password
 *   viewer    (a read-only staff login: the operator's pages) nothing: every control that changes something is hidden
 */
import type { AccountSettings, AccountView, Principal } from './types'

/** engine/admin.ts RESELLER_KEYS: what a reseller may change on its users */
export const RESELLER_KEYS: readonly (keyof AccountSettings)[] = [
  'rateLimit', 'dailyQuota', 'windowSize', 'maxBinds', 'allowedIps', 'clientCerts', 'allowedSources', 'validity',
  'registeredDelivery', 'receiptPolicy', 'webhooks', 'suspended',
]
/** engine/admin.ts SELF_KEYS: what an account may change on itself */
export const SELF_KEYS: readonly (keyof AccountSettings)[] = ['webhooks', 'registeredDelivery']
/** every setting (engine/accounts.ts SETTINGS_KEYS): the operator's */
export const ALL_KEYS: readonly (keyof AccountSettings)[] = [
  'role', 'parent', 'group', 'suspended', 'maxBinds', 'windowSize', 'allowedIps', 'clientCerts', 'allowedSources', 'rateLimit',
  'dailyQuota', 'registeredDelivery', 'validity', 'messageIdFormat', 'receiptPolicy', 'settlement', 'prepaid', 'webhooks', 'outbind',
]

/** a viewer: a read-only staff login (the engine refuses it every change, 403 SMSC_ERR_ADMIN_READ_ONLY) */
export const readOnly = (p: Principal): boolean => p.role === 'operator' && p.staff === 'viewer'
/** who is signed in, for the header: the name and the role ('operator', 'staff admin', 'viewer', 'reseller', 'user') */
export const roleLabel = (p: Principal): string =>
  p.role !== 'operator' ? p.role : p.staff === 'viewer' ? 'viewer' : p.staff === 'admin' ? 'staff admin' : 'operator'

const isSelf = (p: Principal, a: AccountView): boolean => p.systemId !== null && p.systemId === a.systemId
const isMine = (p: Principal, a: AccountView): boolean => p.role === 'reseller' && a.parent === p.systemId

/** the settings `p` may change on `a` (suspended is left to its own button) */
export function editableKeys(p: Principal, a: AccountView): readonly (keyof AccountSettings)[] {
  if (readOnly(p)) return []
  if (p.role === 'operator') return ALL_KEYS
  if (isSelf(p, a)) return SELF_KEYS
  if (isMine(p, a)) return RESELLER_KEYS
  return []
}

export const canSuspend = (p: Principal, a: AccountView): boolean => !readOnly(p) && (p.role === 'operator' || isMine(p, a))
export const canRemove = canSuspend
/** the password of an account in scope: every visible one (a user sees only itself) */
export const canSetPassword = (p: Principal, _a: AccountView): boolean => !readOnly(p)
/** a reseller row where `p` may add a user */
export const canAddUserUnder = (p: Principal, a: AccountView): boolean =>
  !readOnly(p) && a.role === 'reseller' && (p.role === 'operator' || isSelf(p, a))
/** a "new account" button at the top of the tree */
export const canCreate = (p: Principal): boolean => p.role !== 'user' && !readOnly(p)

export interface CreditMove {
  id: 'grant' | 'give' | 'take' | 'from-parent' | 'to-parent'
  label: string
  /** the account credited (the URL's {id}) */
  to: string
  /** the account debited; absent for the operator's new credit */
  from?: string
}

/** the ways credit can move for account `a`, as `p` sees it (empty: none); `byId` holds the visible accounts */
export function creditMoves(p: Principal, a: AccountView, byId: ReadonlyMap<string, AccountView>): CreditMove[] {
  const out: CreditMove[] = []
  if (readOnly(p)) return out
  const parent = a.parent !== null ? byId.get(a.parent) : undefined
  if (p.role === 'operator') {
    if (a.prepaid) out.push({ id: 'grant', label: `grant new credit to ${a.systemId}`, to: a.systemId })
    if (parent?.prepaid && a.prepaid) {
      out.push({ id: 'from-parent', label: `move from ${parent.systemId} to ${a.systemId}`, to: a.systemId, from: parent.systemId })
      out.push({ id: 'to-parent', label: `move from ${a.systemId} back to ${parent.systemId}`, to: parent.systemId, from: a.systemId })
    }
  } else if (p.role === 'reseller' && isMine(p, a)) {
    if (a.prepaid) out.push({ id: 'give', label: `give from your balance to ${a.systemId}`, to: a.systemId, from: p.systemId })
    if (byId.get(p.systemId)?.prepaid) out.push({ id: 'take', label: `take back from ${a.systemId} to your balance`, to: p.systemId, from: a.systemId })
  }
  return out
}

export interface TreeNode {
  account: AccountView
  children: AccountView[]
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' })
const bySystemId = (x: AccountView, y: AccountView): number => collator.compare(x.systemId, y.systemId)

/**
 * The tree of the visible accounts: resellers first with their users under them, then the accounts
 * without a (visible) owner. A user whose reseller is not in the list (a user's own view) is a root.
 */
export function buildTree(list: readonly AccountView[]): TreeNode[] {
  const ids = new Set(list.map((a) => a.systemId))
  const kids = new Map<string, AccountView[]>()
  const roots: AccountView[] = []
  for (const a of list) {
    if (a.parent !== null && ids.has(a.parent)) {
      const k = kids.get(a.parent)
      if (k) k.push(a)
      else kids.set(a.parent, [a])
    } else roots.push(a)
  }
  roots.sort((x, y) => (x.role === y.role ? bySystemId(x, y) : x.role === 'reseller' ? -1 : 1))
  return roots.map((account) => ({ account, children: (kids.get(account.systemId) ?? []).sort(bySystemId) }))
}
