// Staff logins on a real store (engine/staff.ts, the Admin calls that change them, engine/auth.ts's logins and
// tokens): a staff user logs in with its name, acts as the operator under that name (a viewer with staff
// 'viewer'), its tokens survive a restart and end when it is removed, its password changes or its role
// changes; the operator's password change leaves them alone; names and passwords are checked; the audit
// names the staff user, and an account that shares a staff user's name does not see that user's entries.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AdminAuth, LoginThrottle, MAX_TOKENS_PER_PRINCIPAL, ADMIN_HASH_KEY } from '../engine/auth'
import { defaultSettings, isReadOnly, OPERATOR, type Principal } from '../engine/accounts'
import { Admin } from '../engine/admin'
import { isSmscError, type SmscErrorCode } from '../engine/errors'
import { Ledger } from '../engine/ledger'
import { getStaff, listStaff, staffNameProblem } from '../engine/staff'
import { Store } from '../engine/store'

function freshDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'smsc-staff-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function adminOf(store: Store): Admin {
  const now = () => Date.now()
  return new Admin({
    store, ledger: new Ledger(store, now), now, commit: (b) => store.commit(b),
    defaults: defaultSettings({ maxBinds: 2, windowSize: 10, messageIdFormat: 'decimal' }), connectors: () => new Set(['simulator']),
  })
}

async function rejects(t: tap.Test, p: Promise<unknown> | (() => unknown), code: SmscErrorCode, message?: RegExp): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p)
    t.fail(`expected ${code}`)
  } catch (e) {
    t.ok(isSmscError(e, code), `${code}: ${String(e)}`)
    if (message) t.match((e as Error).message, message)
  }
}

t.test('a staff user logs in by name; its principal is the operator under its name; a viewer is read-only', async (t) => {
  const store = await Store.open(freshDir(t))
  t.teardown(() => store.close())
  const admin = adminOf(store)
  const { auth } = await AdminAuth.init(store, 'operator-pw')
  const { user, password } = await admin.addStaff(OPERATOR, { user: 'alice', role: 'admin' })
  t.match(user, { name: 'alice', role: 'admin' })
  t.notOk('passwordHash' in user, 'the view has no hash')
  t.equal(password.length, 12, 'a generated password')
  t.match(getStaff(store, 'alice')?.passwordHash, /^scrypt\$/, 'stored as a scrypt hash')
  await admin.addStaff(OPERATOR, { user: 'nina', role: 'viewer', password: 'nina-password' })

  t.equal(await auth.loginStaff('alice', 'wrong-password'), null, 'a wrong password')
  t.equal(await auth.loginStaff('nobody', password), null, 'an unknown user')
  t.equal(await auth.login(password), null, 'a staff password is not the operator\'s')
  const a = await auth.loginStaff('alice', password)
  t.same(a?.principal, { role: 'operator', systemId: null, name: 'alice', staff: 'admin' })
  t.same(auth.check(a?.token), a?.principal, 'its token gives the principal')
  t.notOk(isReadOnly(auth.check(a?.token) as Principal), 'a staff admin may change things')
  const n = await auth.loginStaff('nina', 'nina-password')
  t.same(auth.check(n?.token), { role: 'operator', systemId: null, name: 'nina', staff: 'viewer' })
  t.ok(isReadOnly(auth.check(n?.token) as Principal), 'a viewer is read-only')
  t.notOk(isReadOnly(OPERATOR), 'the built-in operator is not')
  t.same(admin.listStaff(OPERATOR).map((u) => [u.name, u.role]), [['alice', 'admin'], ['nina', 'viewer']])
})

t.test('a staff token survives a restart and ends with removal, a password change or a role change; the operator\'s password change leaves it', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  let admin = adminOf(store)
  let { auth } = await AdminAuth.init(store, null)
  for (const u of ['ann', 'bob', 'cid', 'dee']) await admin.addStaff(OPERATOR, { user: u, role: 'viewer', password: `${u}-password` })
  const tok: Record<string, string> = {}
  for (const u of ['ann', 'bob', 'cid', 'dee']) tok[u] = (await auth.loginStaff(u, `${u}-password`))?.token as string
  const op = await auth.login('nope')
  t.equal(op, null)
  // the operator's stored password replaced: operator tokens end, staff ones stay
  await admin.setAdminPassword(OPERATOR, 'new-operator-pw')
  auth.adminPasswordChanged()
  t.ok(store.getMeta(ADMIN_HASH_KEY))
  for (const u of Object.keys(tok)) t.ok(auth.check(tok[u]), `${u}'s token outlives the operator's password change`)
  await store.close() // waits for the token map write

  store = await Store.open(dir)
  t.teardown(() => store.close())
  admin = adminOf(store)
  auth = (await AdminAuth.init(store, null)).auth
  for (const u of Object.keys(tok)) t.match(auth.check(tok[u]), { name: u, staff: 'viewer' }, `${u}'s token survives a restart`)

  await admin.removeStaff(OPERATOR, 'ann')
  t.equal(auth.check(tok.ann), null, 'removed: its token ends')
  t.equal(await auth.loginStaff('ann', 'ann-password'), null, 'and it cannot log in')
  await admin.setStaffPassword(OPERATOR, 'bob', 'bob-password') // the same password: a new hash all the same
  t.equal(auth.check(tok.bob), null, 'password set: its token ends')
  t.ok(await auth.loginStaff('bob', 'bob-password'), 'the new password logs in')
  t.same(await admin.updateStaff(OPERATOR, 'cid', { role: 'admin' }), { ...admin.listStaff(OPERATOR).find((u) => u.name === 'cid'), role: 'admin' })
  t.equal(auth.check(tok.cid), null, 'role changed: its token ends')
  t.match((await auth.loginStaff('cid', 'cid-password'))?.principal, { staff: 'admin' }, 'a new login has the new role')
  t.match(auth.check(tok.dee), { name: 'dee' }, 'an untouched user keeps its token')
  // A removed user added again (same name, same password) does not get its old tokens back.
  const dee2 = tok.dee
  await admin.removeStaff(OPERATOR, 'dee')
  await admin.addStaff(OPERATOR, { user: 'dee', role: 'viewer', password: 'dee-password' })
  t.equal(auth.check(dee2), null, 'a token of an earlier user of the name stays dead')
})

t.test('a staff user keeps at most 20 tokens of its own; an account of the same name is another principal', async (t) => {
  const store = await Store.open(freshDir(t))
  t.teardown(() => store.close())
  const admin = adminOf(store)
  const { auth } = await AdminAuth.init(store, 'operator-pw')
  await admin.addStaff(OPERATOR, { user: 'sam', role: 'admin', password: 'sam-password' })
  await store.putAccount({ systemId: 'sam', passwordHash: await Store.hashPassword('pw'), createdAt: 1, updatedAt: 1 })
  const acc = await auth.loginAccount('sam', 'pw', '127.0.0.1')
  if (typeof acc !== 'object') throw new Error(`login: ${acc}`)
  const op = await auth.login('operator-pw') as string
  const mine: string[] = []
  for (let i = 0; i < MAX_TOKENS_PER_PRINCIPAL + 3; i++) mine.push((await auth.loginStaff('sam', 'sam-password'))?.token as string)
  t.same(mine.map((x) => auth.check(x) !== null), mine.map((_, i) => i >= 3), 'the 3 oldest are gone, the newest 20 work')
  t.match(auth.check(acc.token), { role: 'user', systemId: 'sam' }, 'the account sam keeps its token')
  t.same(auth.check(op), OPERATOR, 'the operator keeps its token')
})

t.test('names, roles and passwords are checked; admin is reserved; only the operator manages staff', async (t) => {
  const store = await Store.open(freshDir(t))
  t.teardown(() => store.close())
  const admin = adminOf(store)
  t.equal(staffNameProblem('noc.1_a-b'), null)
  for (const bad of ['', '-x', 'a b', 'x'.repeat(33), 'é', 7]) t.ok(staffNameProblem(bad), `${JSON.stringify(bad)} is refused`)
  for (const reserved of ['admin', 'Admin', 'ADMIN']) {
    await rejects(t, admin.addStaff(OPERATOR, { user: reserved, role: 'admin' }), 'SMSC_ERR_API_INVALID', /reserved for the built-in operator/)
  }
  await rejects(t, admin.addStaff(OPERATOR, { user: 'x', role: 'root' }), 'SMSC_ERR_API_INVALID', /role must be "admin" or "viewer"/)
  await rejects(t, admin.addStaff(OPERATOR, { user: 'x' }), 'SMSC_ERR_API_INVALID', /role is required/)
  await rejects(t, admin.addStaff(OPERATOR, { role: 'viewer' }), 'SMSC_ERR_API_INVALID', /user is required/)
  await rejects(t, admin.addStaff(OPERATOR, { user: 'x', role: 'viewer', password: 'short' }), 'SMSC_ERR_API_INVALID', /password must be 8 to 128/)
  await rejects(t, admin.addStaff(OPERATOR, { user: 'x', role: 'viewer', extra: 1 }), 'SMSC_ERR_API_INVALID', /extra is not a known field/)
  await admin.addStaff(OPERATOR, { user: 'x', role: 'viewer' })
  await rejects(t, admin.addStaff(OPERATOR, { user: 'x', role: 'admin' }), 'SMSC_ERR_API_INVALID', /exists already/)
  await rejects(t, admin.removeStaff(OPERATOR, 'y'), 'SMSC_ERR_STAFF_NOT_FOUND', /no staff user y/)
  await rejects(t, admin.setStaffPassword(OPERATOR, 'y'), 'SMSC_ERR_STAFF_NOT_FOUND')
  await rejects(t, admin.updateStaff(OPERATOR, 'y', { role: 'admin' }), 'SMSC_ERR_STAFF_NOT_FOUND')
  await rejects(t, admin.updateStaff(OPERATOR, 'x', { role: 'boss' }), 'SMSC_ERR_API_INVALID')
  const reseller: Principal = { role: 'reseller', systemId: 'r', name: 'r' }
  await rejects(t, admin.addStaff(reseller, { user: 'z', role: 'admin' }), 'SMSC_ERR_ADMIN_FORBIDDEN')
  await rejects(t, () => admin.listStaff(reseller), 'SMSC_ERR_ADMIN_FORBIDDEN')
  await rejects(t, admin.removeStaff(reseller, 'x'), 'SMSC_ERR_ADMIN_FORBIDDEN')
  t.same(listStaff(store).map((u) => u.name), ['x'], 'nothing else was stored')
})

t.test('the audit names the staff user as staff:<name>, apart from an account of that name, which sees it as admin', async (t) => {
  const store = await Store.open(freshDir(t))
  t.teardown(() => store.close())
  const admin = adminOf(store)
  const { auth } = await AdminAuth.init(store, 'operator-pw')
  await admin.addStaff(OPERATOR, { user: 'res1', role: 'admin', password: 'staff-password' })
  const p = (await auth.loginStaff('res1', 'staff-password'))?.principal as Principal
  await admin.create(p, { systemId: 'res1', role: 'reseller', password: 'rpw' })
  await admin.setStaffPassword(p, 'res1', 'staff-password2')
  const all = admin.audit(OPERATOR)
  t.match(all.map((e) => [e.action, e.target, e.by]), [['staff.password', 'res1', 'staff:res1'], ['account.create', 'res1', 'staff:res1'], ['staff.add', 'res1', 'admin']])
  const reseller: Principal = { role: 'reseller', systemId: 'res1', name: 'res1' }
  const seen = admin.audit(reseller)
  t.same(seen.map((e) => e.action), ['account.create'], 'the reseller res1 sees its account\'s entry, not the staff user\'s')
  t.same(seen.map((e) => e.by), ['admin'], 'made by a staff login: a customer sees admin, not the staff user\'s name')
  // A change the reseller res1 makes itself is its own, not the staff user's.
  await admin.create(reseller, { systemId: 'u9', password: 'u9pw' })
  t.same(admin.audit(OPERATOR).slice(0, 1).map((e) => [e.action, e.target, e.by]), [['account.create', 'u9', 'res1']], 'the account res1 is res1')
})

t.test('LoginThrottle.keyOf: a staff user\'s count is apart from an account of the same name', async (t) => {
  t.not(LoginThrottle.keyOf('10.0.0.1', 'sam', true), LoginThrottle.keyOf('10.0.0.1', 'sam'))
  t.not(LoginThrottle.keyOf('10.0.0.1', 'sam', true), LoginThrottle.keyOf('10.0.0.1', '\tsam'), 'not even a name that looks like it')
  t.equal(LoginThrottle.keyOf('::ffff:10.0.0.1', 'sam', true), LoginThrottle.keyOf('10.0.0.1', 'sam', true), 'the address as for accounts')
  const th = new LoginThrottle(2, 60_000, () => 0)
  th.failed(LoginThrottle.keyOf('10.0.0.1', 'sam', true))
  th.failed(LoginThrottle.keyOf('10.0.0.1', 'sam', true))
  t.ok(th.retryIn(LoginThrottle.keyOf('10.0.0.1', 'sam', true)) > 0, 'the staff user is throttled')
  t.equal(th.retryIn(LoginThrottle.keyOf('10.0.0.1', 'sam')), 0, 'the account sam is not')
})

t.test('a viewer sees a webhook URL without its user, password and query; the operator sees it whole', async (t) => {
  const store = await Store.open(freshDir(t))
  t.teardown(() => store.close())
  const admin = adminOf(store)
  const { auth } = await AdminAuth.init(store, 'operator-pw')
  const hook = 'https://hookuser:S3cretHookPw@hooks.example.com/dlr?x=1'
  await admin.create(OPERATOR, { systemId: 'u1', password: 'u1pw', webhooks: { receipts: hook, mo: 'https://hooks.example.com/mo' } })
  await admin.addStaff(OPERATOR, { user: 'nina', role: 'viewer', password: 'nina-password' })
  const nina = (await auth.loginStaff('nina', 'nina-password'))?.principal as Principal
  t.same(admin.get(nina, 'u1').webhooks, { receipts: 'https://hooks.example.com/dlr', mo: 'https://hooks.example.com/mo' }, 'get')
  t.same(admin.list(nina).find((a) => a.systemId === 'u1')?.webhooks.receipts, 'https://hooks.example.com/dlr', 'list')
  t.equal(admin.get(OPERATOR, 'u1').webhooks.receipts, hook, 'the operator (who may change it) sees it as set')
  t.equal(store.getAccount('u1')?.webhooks.receipts, hook, 'the account keeps it')
})

t.test('no account may be named like a staff login in the audit (staff:<name>)', async (t) => {
  const store = await Store.open(freshDir(t))
  t.teardown(() => store.close())
  const admin = adminOf(store)
  await t.rejects(admin.create(OPERATOR, { systemId: 'staff:bob', role: 'reseller', password: 'rpw' }), /systemId must not start with "staff:"/)
  t.equal(store.getAccount('staff:bob'), undefined, 'nothing made')
})
