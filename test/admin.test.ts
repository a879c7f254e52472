// engine/admin.ts on a real store: scope (operator / reseller / user, each denial's error code), credit moves
// keeping balance == sum(ledger) for every account, removal returning the balance, the audit trail (one entry
// per change, never a password), API keys, routes, and changes in flight not losing one another.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultSettings, OPERATOR, type Account, type Principal } from '../engine/accounts'
import { Admin, type AdminDeps } from '../engine/admin'
import { isSmscError, type SmscErrorCode } from '../engine/errors'
import { Ledger } from '../engine/ledger'
import { DEFAULT_ROUTES, type RouteTables } from '../engine/routing'
import { Store, type CommitBatch } from '../engine/store'

interface Fixture {
  store: Store
  ledger: Ledger
  admin: Admin
  changed: [string, Account | null][]
  routes: RouteTables[]
  batches: CommitBatch[]
  dir: string
}

async function fixture(t: tap.Test, dir = mkdtempSync(join(tmpdir(), 'smsc-admin-')), extra: Partial<AdminDeps> = {}): Promise<Fixture> {
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const store = await Store.open(dir)
  t.teardown(() => store.close())
  let clock = 1_700_000_000_000
  const now = (): number => ++clock
  const ledger = new Ledger(store, now)
  const changed: [string, Account | null][] = []
  const routes: RouteTables[] = []
  const batches: CommitBatch[] = []
  const deps: AdminDeps = {
    store, ledger, now,
    commit: (b) => { batches.push(b); return store.commit(b) },
    defaults: defaultSettings({ maxBinds: 2, windowSize: 10, messageIdFormat: 'decimal' }),
    connectors: () => new Set(['simulator', 'up1']),
    onAccountChanged: (id, a) => { changed.push([id, a]) },
    onRoutesChanged: (r) => { routes.push(r) },
    ...extra,
  }
  return { store, ledger, admin: new Admin(deps), changed, routes, batches, dir }
}

const reseller = (systemId: string): Principal => ({ role: 'reseller', systemId, name: systemId })
const user = (systemId: string): Principal => ({ role: 'user', systemId, name: systemId })

async function rejects(t: tap.Test, p: Promise<unknown> | (() => unknown), code: SmscErrorCode, message?: string | RegExp): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p)
    t.fail(`expected ${code}`)
  } catch (e) {
    t.ok(isSmscError(e, code), `${code}: ${String(e)}`)
    if (typeof message === 'string') t.equal((e as Error).message, message)
    else if (message) t.match((e as Error).message, message)
    t.notMatch((e as Error).message, /\n/, 'one line')
  }
}

/** balance == sum of committed ledger entries == stored balance, for every account that has a ledger. */
function invariant(t: tap.Test, f: Fixture, ids: string[]): void {
  const stored = f.store.balances()
  for (const id of ids) {
    const sum = f.store.ledgerSum(id)
    t.equal(f.ledger.balance(id), sum, `${id}: balance == sum(ledger)`)
    t.equal(stored.get(id) ?? 0, sum, `${id}: stored balance == sum(ledger)`)
  }
}

/** Two resellers with credit (binds and window above the defaults: a reseller gives its users at most its own), a user each, and an operator-owned user. */
async function world(t: tap.Test, extra: Partial<AdminDeps> = {}): Promise<Fixture & { passwords: string[] }> {
  const f = await fixture(t, undefined, extra)
  const passwords: string[] = []
  const keep = (r: { password: string }): void => { passwords.push(r.password) }
  keep(await f.admin.create(OPERATOR, { systemId: 'resA', role: 'reseller', credit: 100, maxBinds: 10, windowSize: 100 }))
  keep(await f.admin.create(OPERATOR, { systemId: 'resB', role: 'reseller', credit: 50, group: 'gold', maxBinds: 10, windowSize: 100 }))
  keep(await f.admin.create(reseller('resA'), { systemId: 'a1', credit: 30, password: 'pw-a1' }))
  keep(await f.admin.create(reseller('resB'), { systemId: 'b1' }))
  keep(await f.admin.create(OPERATOR, { systemId: 'solo', credit: 5 }))
  return { ...f, passwords }
}

t.test('create: generated password, views without secrets, opening credit from the operator or out of the reseller\'s balance', async (t) => {
  const f = await world(t)
  const { admin, store, ledger } = f
  t.equal(f.passwords[0].length, 8, 'generated passwords are 8 characters (SMPP 3.4 §5.2.2)')
  t.match(f.passwords[0], /^[A-Za-z0-9]{8}$/)
  t.equal(await store.verifyPassword('resA', f.passwords[0]), 'ok')
  t.equal(await store.verifyPassword('a1', 'pw-a1'), 'ok', 'a given password is used')
  const a1 = admin.get(OPERATOR, 'a1')
  t.match(a1, { systemId: 'a1', role: 'user', parent: 'resA', prepaid: true, balance: 30, maxBinds: 2, windowSize: 10 })
  t.notOk('passwordHash' in a1, 'a view has no password hash')
  t.equal(ledger.balance('resA'), 70, '30 moved from resA to its new user')
  t.equal(admin.get(OPERATOR, 'resA').children, 1)
  t.same(store.ledgerEntries('a1', { limit: 5 }).map((e) => [e.reason, e.delta, e.ref]), [['opening', 30, 'resA']])
  t.same(store.ledgerEntries('resA', { limit: 5 }).map((e) => [e.reason, e.delta]), [['transfer-out', -30], ['opening', 100]])
  const b1 = admin.get(OPERATOR, 'b1')
  t.match(b1, { parent: 'resB', group: 'gold', prepaid: true, balance: 0 }, 'a reseller\'s user inherits its group and credit mode')
  t.equal(admin.get(OPERATOR, 'solo').parent, null)
  const plain = await admin.create(OPERATOR, { systemId: 'free' })
  t.equal(plain.account.balance, null, 'not prepaid: no balance')
  t.same(admin.list(OPERATOR).map((a) => a.systemId), ['a1', 'b1', 'free', 'resA', 'resB', 'solo'])

  await rejects(t, admin.create(OPERATOR, { systemId: 'resA' }), 'SMSC_ERR_API_INVALID', 'account.systemId "resA" is already used')
  await rejects(t, admin.create(OPERATOR, { role: 'user' }), 'SMSC_ERR_API_INVALID', 'account.systemId is required')
  await rejects(t, admin.create(OPERATOR, { systemId: 'x', maxBinds: -1 }), 'SMSC_ERR_API_INVALID', 'account.maxBinds must be an integer between 1 and 10000 (got -1)')
  await rejects(t, admin.create(OPERATOR, { systemId: 'x', parent: 'solo' }), 'SMSC_ERR_API_INVALID', 'account.parent "solo" is not a reseller')
  await rejects(t, admin.create(OPERATOR, { systemId: 'x', parent: 'ghost' }), 'SMSC_ERR_API_INVALID', 'account.parent "ghost" is not an account')
  await rejects(t, admin.create(OPERATOR, { systemId: 'x', role: 'reseller', parent: 'resA' }), 'SMSC_ERR_API_INVALID', 'account.parent must be null for a reseller (got "resA")')
  await rejects(t, admin.create(reseller('resA'), { systemId: 'x', credit: 71 }), 'SMSC_ERR_CREDIT_EXHAUSTED', 'account resA has 70 credit, less than 71')
  t.equal(store.getAccount('x'), undefined, 'a create that fails on credit creates nothing')
  t.equal(ledger.balance('resA'), 70)
  invariant(t, f, ['resA', 'resB', 'a1', 'b1', 'solo'])

  // two creates of one id at once: one wins
  const both = await Promise.allSettled([admin.create(OPERATOR, { systemId: 'twin' }), admin.create(OPERATOR, { systemId: 'twin' })])
  t.same(both.map((r) => r.status).sort(), ['fulfilled', 'rejected'])
})

t.test('reseller isolation: A cannot see, change, credit or delete B\'s users; a user sees only itself', async (t) => {
  const f = await world(t)
  const { admin, store } = f
  const A = reseller('resA')
  const U = user('a1')
  t.same(admin.list(A).map((a) => a.systemId), ['a1', 'resA'])
  t.same(admin.list(U).map((a) => a.systemId), ['a1'])
  t.same(admin.list(OPERATOR).length, 5)
  t.ok(admin.canSee(A, 'a1') && admin.canSee(A, 'resA'))
  t.notOk(admin.canSee(A, 'b1') || admin.canSee(A, 'resB') || admin.canSee(A, 'solo'))
  t.notOk(admin.canSee(U, 'resA'))
  const F = 'SMSC_ERR_ADMIN_FORBIDDEN'

  for (const id of ['b1', 'resB', 'solo', 'nonexistent']) {
    await rejects(t, () => admin.get(A, id), F, `${id} is not visible to resA`)
  }
  await rejects(t, admin.update(A, 'b1', { maxBinds: 5 }), F)
  await rejects(t, admin.setSuspended(A, 'b1', true), F)
  await rejects(t, admin.remove(A, 'b1'), F)
  await rejects(t, admin.setPassword(A, 'b1'), F)
  await rejects(t, admin.transfer(A, { to: 'b1', amount: 1 }), F, 'resA may only move credit between itself and its own users (got resA → b1)')
  await rejects(t, admin.transfer(A, { from: 'b1', to: 'resA', amount: 1 }), F)
  await rejects(t, admin.transfer(A, { from: 'resB', to: 'a1', amount: 1 }), F)
  await rejects(t, () => admin.ledger(A, 'b1'), F)
  await rejects(t, admin.createApiKey(A, 'b1'), F)
  await rejects(t, () => admin.listApiKeys(A, 'b1'), F)
  await rejects(t, admin.create(A, { systemId: 'x', role: 'reseller' }), F, 'account.role: a reseller creates only users (got "reseller")')
  await rejects(t, admin.create(A, { systemId: 'x', parent: 'resB' }), F, 'account.parent: a reseller creates only its own users (got "resB")')
  await rejects(t, admin.create(A, { systemId: 'x', group: 'gold' }), F, 'account.group can only be set by the operator')
  await rejects(t, admin.update(A, 'resA', { maxBinds: 50 }), F, 'resA may not change account.maxBinds of resA')
  await rejects(t, admin.update(A, 'a1', { group: 'gold' }), F, 'resA may not change account.group of a1')
  await rejects(t, admin.update(A, 'a1', { prepaid: false }), F)
  await rejects(t, admin.remove(A, 'resA'), F)
  await rejects(t, admin.setSuspended(A, 'resA', true), F)
  await rejects(t, admin.setRoutes(A, DEFAULT_ROUTES), F, 'resA may not change routes')

  await rejects(t, () => admin.get(U, 'resA'), F)
  await rejects(t, admin.create(U, { systemId: 'x' }), F)
  await rejects(t, admin.transfer(U, { to: 'a1', amount: 1 }), F)
  await rejects(t, admin.update(U, 'a1', { maxBinds: 9 }), F, 'a1 may not change account.maxBinds of a1')
  await rejects(t, admin.setSuspended(U, 'a1', false), F)
  await rejects(t, admin.remove(U, 'a1'), F)

  await rejects(t, () => admin.get(OPERATOR, 'ghost'), 'SMSC_ERR_AUTH_SYSTEM_ID', 'no account ghost')

  // Nothing of B's changed.
  t.match(store.getAccount('b1'), { maxBinds: 2, suspended: false })
  t.equal(f.ledger.balance('b1'), 0)

  // What A may do to its own user, and a user to itself.
  const v = await admin.update(A, 'a1', { maxBinds: 4, rateLimit: { perSecond: 5, burst: 10 }, allowedIps: ['10.0.0.0/8'], webhooks: { receipts: 'https://a.example/dlr', mo: null } })
  t.match(v, { maxBinds: 4, rateLimit: { perSecond: 5, burst: 10 }, allowedIps: ['10.0.0.0/8'] })
  t.match(await admin.setSuspended(A, 'a1', true), { suspended: true })
  t.match(await admin.update(U, 'a1', { webhooks: { receipts: null, mo: 'https://u.example/mo' } }), { webhooks: { receipts: null, mo: 'https://u.example/mo' } })
  t.match(await admin.update(U, 'a1', { registeredDelivery: 1 }), { registeredDelivery: 1 }, "a user asks for receipts on its own HTTP sends by default")
  const pw = await admin.setPassword(U, 'a1', 'newpw')
  t.equal(pw, 'newpw')
  t.equal(await store.verifyPassword('a1', 'newpw'), 'ok')
  t.equal((await admin.setPassword(A, 'a1')).length, 8)
  await rejects(t, admin.setPassword(U, 'a1', 'waytoolongpw'), 'SMSC_ERR_API_INVALID', 'account.password must be 1 to 8 characters (got 12)')
  t.same(f.changed.slice(-7).map(([id]) => id), ['solo', 'a1', 'a1', 'a1', 'a1', 'a1', 'a1'], 'the engine is told of each change (6 to a1)')
  t.match(f.changed.at(-1)?.[1], { systemId: 'a1', suspended: true }, 'the engine is told the committed account')
})

t.test('credit moves keep balance == sum(ledger) for every account; never overdraw', async (t) => {
  const f = await world(t)
  const { admin, ledger } = f
  const A = reseller('resA')
  const ids = ['resA', 'resB', 'a1', 'b1', 'solo']
  const r1 = await admin.transfer(A, { to: 'a1', amount: 20, reason: 'top-up' })
  t.match(r1.from, { systemId: 'resA', delta: -20, balance: 50, reason: 'transfer-out', ref: 'a1', by: 'resA' })
  t.match(r1.to, { systemId: 'a1', delta: 20, balance: 50, reason: 'transfer-in', ref: 'resA' })
  await admin.transfer(A, { from: 'a1', to: 'resA', amount: 5 })
  t.equal(ledger.balance('a1'), 45)
  t.equal(ledger.balance('resA'), 55)
  await rejects(t, admin.transfer(A, { to: 'a1', amount: 55.5 }), 'SMSC_ERR_CREDIT_EXHAUSTED', 'account resA has 55 credit, less than 55.5')
  await rejects(t, admin.transfer(A, { from: 'a1', to: 'resA', amount: 46 }), 'SMSC_ERR_CREDIT_EXHAUSTED')
  t.equal(ledger.balance('resA'), 55, 'a refused transfer changes nothing')
  const g = await admin.transfer(OPERATOR, { to: 'resB', amount: 0.25 })
  t.equal(g.from, null)
  t.match(g.to, { reason: 'grant', delta: 0.25, balance: 50.25, by: 'admin' })
  await admin.transfer(OPERATOR, { from: 'resB', to: 'solo', amount: 10.125 })
  t.equal(ledger.balance('solo'), 15.125)

  await rejects(t, admin.transfer(OPERATOR, { to: 'a1', amount: 0 }), 'SMSC_ERR_API_INVALID', 'transfer.amount must be a number > 0 and <= 1000000000000 (or < 0 without from: a correction) (got 0)')
  // The operator's correction: a negative amount without `from` is an 'adjust' entry, never below 0.
  const before = ledger.balance('solo')
  const adj = await admin.transfer(OPERATOR, { to: 'solo', amount: -0.125, reason: 'typo' })
  t.match(adj, { from: null, to: { reason: 'adjust', delta: -0.125, balance: before - 0.125 } })
  await rejects(t, admin.transfer(OPERATOR, { to: 'solo', amount: -1000 }), 'SMSC_ERR_CREDIT_EXHAUSTED')
  t.equal(ledger.balance('solo'), before - 0.125, 'a refused correction changes nothing')
  await rejects(t, admin.transfer(OPERATOR, { to: 'a1', amount: 1, note: 'x' }), 'SMSC_ERR_API_INVALID', 'transfer.note is not a known key')
  await rejects(t, admin.transfer(OPERATOR, { to: 'a1', from: 'a1', amount: 1 }), 'SMSC_ERR_API_INVALID', 'transfer.from and transfer.to are the same account (a1)')
  await admin.create(OPERATOR, { systemId: 'free' })
  await rejects(t, admin.transfer(OPERATOR, { to: 'free', amount: 1 }), 'SMSC_ERR_API_INVALID', 'transfer.to: account free is not prepaid (make it prepaid first: smsc account set free --prepaid true, or prepaid: true through the API)')
  await rejects(t, admin.transfer(OPERATOR, { to: 'ghost', amount: 1 }), 'SMSC_ERR_AUTH_SYSTEM_ID')

  // Ten concurrent transfers of 10 from a balance of 55: exactly five pass, none overdraws.
  const results = await Promise.allSettled(Array.from({ length: 10 }, () => admin.transfer(A, { to: 'a1', amount: 10 })))
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 5)
  t.ok(results.filter((r) => r.status === 'rejected').every((r) => isSmscError((r as PromiseRejectedResult).reason, 'SMSC_ERR_CREDIT_EXHAUSTED')))
  t.equal(ledger.balance('resA'), 5)
  invariant(t, f, ids)
  t.equal(admin.get(A, 'a1').balance, 95)
  t.same(admin.ledger(A, 'a1', { limit: 2 }).map((e) => e.delta), [10, 10], 'newest first')
  await rejects(t, () => admin.ledger(A, 'a1', { limit: 0 }), 'SMSC_ERR_API_INVALID', 'limit must be an integer between 1 and 1000 (got 0)')
})

t.test('remove: a reseller with users cannot go; a user\'s balance goes back to its reseller; an operator-owned one is written off', async (t) => {
  const f = await world(t)
  const { admin, store, ledger } = f
  const key = await admin.createApiKey(reseller('resA'), 'a1', 'ci')
  await rejects(t, admin.remove(OPERATOR, 'resA'), 'SMSC_ERR_API_INVALID', 'account resA is a reseller with 1 user(s): remove or move them first')
  await admin.remove(reseller('resA'), 'a1')
  t.equal(store.getAccount('a1'), undefined)
  t.equal(ledger.balance('a1'), 0)
  t.equal(ledger.balance('resA'), 100, 'the user\'s 30 came back')
  t.same(store.ledgerEntries('a1', { limit: 1 }).map((e) => [e.reason, e.delta, e.ref]), [['transfer-out', -30, 'resA']])
  t.same(store.ledgerEntries('resA', { limit: 1 }).map((e) => [e.reason, e.delta, e.ref]), [['transfer-in', 30, 'a1']])
  t.equal(admin.apiKeyOwner(key.key), null, 'its API keys went with it')
  t.same(f.changed.at(-1), ['a1', null], 'the engine is told the account is gone')
  await admin.remove(OPERATOR, 'resA')
  t.equal(store.getAccount('resA'), undefined, 'a reseller without users can be removed')
  await admin.remove(OPERATOR, 'solo')
  t.same(store.ledgerEntries('solo', { limit: 1 }).map((e) => [e.reason, e.delta]), [['adjust', -5]])
  invariant(t, f, ['resA', 'a1', 'solo', 'resB', 'b1'])
  await rejects(t, admin.remove(OPERATOR, 'solo'), 'SMSC_ERR_AUTH_SYSTEM_ID')
})

t.test('a removed account\'s systemId is never given to a new account: its ledger, balance and messages stay its own', async (t) => {
  const f = await world(t)
  const { admin, store, ledger } = f
  await admin.remove(OPERATOR, 'solo') // prepaid: its 5 are written off, the ledger stays
  await admin.remove(reseller('resB'), 'b1') // never had a ledger entry
  const REUSED = /^account\.systemId "(solo|b1)" was used by a removed account whose history is kept: choose another id$/
  await rejects(t, admin.create(OPERATOR, { systemId: 'solo', credit: 1 }), 'SMSC_ERR_API_INVALID', REUSED)
  await rejects(t, admin.create(reseller('resB'), { systemId: 'b1' }), 'SMSC_ERR_API_INVALID', REUSED)
  t.equal(store.getAccount('solo'), undefined, 'nothing created')
  t.same(store.ledgerEntries('solo', { limit: 5 }).map((e) => [e.reason, e.delta]), [['adjust', -5], ['opening', 5]], 'the old ledger is untouched')
  t.equal(ledger.balance('solo'), 0)
  // History from before removals were marked (a balance left in the store) is enough to refuse too.
  await store.commit({ ledger: [ledger.credit('ghost', 7, 'grant', 'admin')] })
  await rejects(t, admin.create(OPERATOR, { systemId: 'ghost' }), 'SMSC_ERR_API_INVALID', /"ghost" was used by a removed account/)
  t.equal(ledger.balance('ghost'), 7, 'and the new tenant would not have inherited it')
  // A fresh id is fine.
  t.equal((await admin.create(OPERATOR, { systemId: 'solo2', credit: 1 })).account.balance, 1)
  invariant(t, f, ['solo', 'solo2', 'ghost', 'resB'])
})

t.test('the ledger of a name that never was an account is 404 for the operator, not an empty ledger; a removed one\'s stays readable', async (t) => {
  const f = await world(t)
  const { admin } = f
  await rejects(t, () => admin.ledger(OPERATOR, 'nosuch'), 'SMSC_ERR_AUTH_SYSTEM_ID', 'no account nosuch')
  await rejects(t, () => admin.ledger(reseller('resA'), 'nosuch'), 'SMSC_ERR_ADMIN_FORBIDDEN')
  t.same(admin.ledger(OPERATOR, 'b1'), [], 'an account with no entries yet: an empty ledger')
  await admin.remove(OPERATOR, 'solo')
  t.same(admin.ledger(OPERATOR, 'solo').map((e) => e.reason), ['adjust', 'opening'], 'a removed account\'s history')
  await admin.remove(reseller('resB'), 'b1')
  t.same(admin.ledger(OPERATOR, 'b1'), [], 'a removed account that never had an entry: still its (empty) ledger')
})

t.test('audit: one entry per change, in the same commit, never a password; a reseller sees its own', async (t) => {
  const f = await world(t)
  const { admin } = f
  const A = reseller('resA')
  await admin.update(A, 'a1', { dailyQuota: 100 })
  await admin.setSuspended(OPERATOR, 'b1', true)
  await admin.setSuspended(OPERATOR, 'b1', false)
  await admin.transfer(A, { to: 'a1', amount: 1 })
  const pw = await admin.setPassword(OPERATOR, 'b1')
  const key = await admin.createApiKey(OPERATOR, 'b1', 'k')
  await admin.revokeApiKey(OPERATOR, 'b1', key.id)
  await admin.setRoutes(OPERATOR, { mt: [{ name: 'all', match: {}, action: { connector: 'up1' } }] })
  await admin.remove(A, 'a1')
  const log = admin.audit(OPERATOR, { limit: 100 })
  t.same(log.map((e) => `${e.action} ${e.target} ${e.by}`).reverse(), [
    'account.create resA admin', 'account.create resB admin', 'account.create a1 resA', 'account.create b1 resB', 'account.create solo admin',
    'account.update a1 resA', 'account.suspend b1 admin', 'account.resume b1 admin', 'credit.transfer a1 resA', 'account.password b1 admin',
    'apikey.create b1 admin', 'apikey.revoke b1 admin', 'routes.set routes admin', 'account.remove a1 resA',
  ])
  t.ok(f.batches.every((b) => b.audit?.length === 1), 'every commit of the service carries its audit entry')
  t.equal(f.batches.length, log.length, 'and every audit entry came with a change')
  const text = JSON.stringify(log)
  for (const secret of [...f.passwords, pw, 'pw-a1', key.key]) t.notOk(text.includes(secret), 'no password or key in the audit log')
  t.notMatch(text, /scrypt\$/, 'no password hash')
  t.match(log.find((e) => e.action === 'account.update')?.detail, { dailyQuota: 100, owner: 'resA' })
  t.match(log.find((e) => e.action === 'credit.transfer')?.detail, { amount: 1, from: 'resA' })
  t.same(admin.audit(A).map((e) => `${e.action} ${e.target}`).reverse(), [
    'account.create resA', 'account.create a1', 'account.update a1', 'credit.transfer a1', 'account.remove a1',
  ], 'resA sees entries about itself and its users, also removed ones')
  t.same(admin.audit(user('b1')).map((e) => e.target), Array(6).fill('b1'), 'a user sees entries about itself')
  t.same(admin.audit(OPERATOR, { limit: 2, before: log[1].seq }).map((e) => e.seq), [log[2].seq, log[3].seq])
})

t.test('API keys: shown once, stored as sha256, looked up, listed without secrets, revoked', async (t) => {
  const f = await world(t)
  const { admin, store } = f
  const k1 = await admin.createApiKey(user('a1'), 'a1', 'laptop')
  const k2 = await admin.createApiKey(OPERATOR, 'a1')
  t.match(k1.key, /^smsc_[A-Za-z0-9_-]{32}$/)
  t.not(k1.key, k2.key)
  t.equal(admin.apiKeyOwner(k1.key), 'a1')
  t.equal(admin.apiKeyOwner(k2.key), 'a1')
  t.equal(admin.apiKeyOwner(k1.key + 'x'), null)
  t.equal(admin.apiKeyOwner(''), null)
  const list = admin.listApiKeys(reseller('resA'), 'a1')
  t.same(list.map((k) => k.label).sort(), ['', 'laptop'])
  t.same(Object.keys(list[0]).sort(), ['createdAt', 'id', 'label'])
  const raw = JSON.stringify(store.apiKeysOf('a1'))
  t.notOk(raw.includes(k1.key), 'the key itself is not stored')
  await admin.revokeApiKey(user('a1'), 'a1', k1.id)
  t.equal(admin.apiKeyOwner(k1.key), null)
  t.equal(admin.apiKeyOwner(k2.key), 'a1', 'the other key still works')
  await rejects(t, admin.revokeApiKey(OPERATOR, 'a1', k1.id), 'SMSC_ERR_API_INVALID', `no API key "${k1.id}" for a1`)
  await rejects(t, admin.revokeApiKey(OPERATOR, 'b1', k2.id), 'SMSC_ERR_API_INVALID', /^no API key /) // only through its own account
  await rejects(t, admin.createApiKey(user('a1'), 'a1', 'x'.repeat(65)), 'SMSC_ERR_API_INVALID', /^label must be at most 64 printable ASCII characters/)
})

t.test('routes: DEFAULT_ROUTES until set, validated against the connectors, kept across reopen', async (t) => {
  const f = await fixture(t)
  t.same(f.admin.getRoutes(), DEFAULT_ROUTES)
  await rejects(t, f.admin.setRoutes(OPERATOR, { mt: [{ name: 'x', match: {}, action: { connector: 'nope' } }] }), 'SMSC_ERR_API_INVALID', /^routes\.mt\[0\]\.action\.connector /)
  await rejects(t, f.admin.setRoutes(OPERATOR, 'all'), 'SMSC_ERR_API_INVALID', /^routes /)
  t.same(f.admin.getRoutes(), DEFAULT_ROUTES, 'a refused table changes nothing')
  t.equal(f.routes.length, 0)
  const tables = { mt: [{ name: 'uk', match: { destPrefix: ['44'] }, action: { failover: ['up1', 'simulator'] } }, { name: 'rest', match: {}, action: { connector: 'simulator' } }], mo: [] }
  const { warnings, ...set } = await f.admin.setRoutes(OPERATOR, tables)
  t.same(warnings, [], 'the default route\'s destinations are all still routed: no warning')
  t.same(f.admin.getRoutes(), set)
  t.same(f.routes, [set], 'the engine is told')
  t.equal(set.mt[0].name, 'uk')
  await f.store.close()
  const g = await fixture(t, f.dir)
  t.same(g.admin.getRoutes(), set, 'stored in the store (meta "routes")')
})

t.test('changes in flight build on one another: concurrent updates lose nothing', async (t) => {
  const f = await world(t)
  const { admin, store } = f
  await Promise.all([
    admin.update(OPERATOR, 'b1', { maxBinds: 7 }),
    admin.update(reseller('resB'), 'b1', { windowSize: 33 }),
    admin.setSuspended(OPERATOR, 'b1', true),
    admin.update(user('b1'), 'b1', { webhooks: { receipts: 'http://b.example/r', mo: null } }),
  ])
  t.match(store.getAccount('b1'), { maxBinds: 7, windowSize: 33, suspended: true, webhooks: { receipts: 'http://b.example/r', mo: null } })
  // operator structure changes
  await rejects(t, admin.update(OPERATOR, 'resB', { role: 'user' }), 'SMSC_ERR_API_INVALID', 'account.role cannot become "user": resB has 1 user(s)')
  await rejects(t, admin.update(OPERATOR, 'b1', { role: 'reseller' }), 'SMSC_ERR_API_INVALID', 'account.parent must be null for a reseller (got "resB")')
  await rejects(t, admin.update(OPERATOR, 'b1', { password: 'x' }), 'SMSC_ERR_API_INVALID', 'account.password is changed with the password command, not an update')
  await rejects(t, admin.update(OPERATOR, 'b1', { credit: 5 }), 'SMSC_ERR_API_INVALID', 'account.credit is changed with a credit transfer, not an update')
  await admin.update(OPERATOR, 'b1', { parent: 'resA' })
  t.same(admin.list(reseller('resA')).map((a) => a.systemId), ['a1', 'b1', 'resA'], 'moved to another reseller')
  t.same(admin.list(reseller('resB')).map((a) => a.systemId), ['resB'])
  await admin.update(OPERATOR, 'b1', { role: 'reseller', parent: null })
  t.match(admin.get(OPERATOR, 'b1'), { role: 'reseller', parent: null, children: 0 })
})

t.test("a reseller's limits bound its users: sender ids within its own, rate, quota, binds and window at most its own", async (t) => {
  const f = await fixture(t)
  const { admin, store } = f
  await admin.create(OPERATOR, { systemId: 'res1', role: 'reseller', allowedSources: ['RES*', 'ACME'], rateLimit: { perSecond: 10, burst: 20 }, dailyQuota: 1000, maxBinds: 5, windowSize: 50 })
  const R = reseller('res1')
  const F = 'SMSC_ERR_ADMIN_FORBIDDEN'
  const SRC = "res1's allowed sources (RES*, ACME)"

  // Created without limits: the reseller's (binds and window: the engine defaults 2 and 10, lower than res1's).
  const shop1 = (await admin.create(R, { systemId: 'shop1' })).account
  t.match(shop1, { parent: 'res1', allowedSources: ['RES*', 'ACME'], rateLimit: { perSecond: 10, burst: 20 }, dailyQuota: 1000, maxBinds: 2, windowSize: 10 })
  t.notOk('exceedsReseller' in shop1, 'within its reseller: no exceedsReseller')

  // Created with a sender id outside: refused, nothing created, nothing committed or audited.
  const commits = f.batches.length
  await rejects(t, admin.create(R, { systemId: 'shop3', allowedSources: ['BANKOFX'] }), F, `account.allowedSources: "BANKOFX" is not within ${SRC}`)
  await rejects(t, admin.create(R, { systemId: 'shop3', rateLimit: null }), F, "account.rateLimit: unlimited is more than res1's rate limit (10/s, burst 20)")
  await rejects(t, admin.create(R, { systemId: 'shop3', maxBinds: 6 }), F, "account.maxBinds: 6 is more than res1's max binds (5)")
  t.equal(store.getAccount('shop3'), undefined, 'no shop3')
  t.equal(f.batches.length, commits, 'no commit for a refused create')
  const shop2 = (await admin.create(R, { systemId: 'shop2', allowedSources: ['RES1*', 'RESX', 'ACME'], rateLimit: { perSecond: 10, burst: 20 }, dailyQuota: 1000, maxBinds: 5, windowSize: 50 })).account
  t.match(shop2, { allowedSources: ['RES1*', 'RESX', 'ACME'], maxBinds: 5, windowSize: 50 }, 'at the bounds: accepted')

  // Changes beyond the bounds: refused, each naming the field and the bound; the account stays as it was.
  const before = structuredClone(store.getAccount('shop1'))
  const refused: [Record<string, unknown>, string][] = [
    [{ allowedSources: ['BANKOFX'] }, `account.allowedSources: "BANKOFX" is not within ${SRC}`],
    [{ allowedSources: [] }, `account.allowedSources: an empty list (any sender id) is not within ${SRC}`],
    [{ allowedSources: ['RES2', 'AC*'] }, `account.allowedSources: "AC*" is not within ${SRC}`],
    [{ rateLimit: null }, "account.rateLimit: unlimited is more than res1's rate limit (10/s, burst 20)"],
    [{ rateLimit: { perSecond: 11, burst: 5 } }, "account.rateLimit: 11/s is more than res1's rate limit (10/s, burst 20)"],
    [{ rateLimit: { perSecond: 5, burst: 21 } }, "account.rateLimit: burst 21 is more than res1's rate limit (10/s, burst 20)"],
    [{ dailyQuota: null }, "account.dailyQuota: unlimited is more than res1's daily quota (1000)"],
    [{ dailyQuota: 1001 }, "account.dailyQuota: 1001 is more than res1's daily quota (1000)"],
    [{ maxBinds: 1000 }, "account.maxBinds: 1000 is more than res1's max binds (5)"],
    [{ windowSize: 10000 }, "account.windowSize: 10000 is more than res1's window size (50)"],
    [{ webhooks: { receipts: 'https://s.example/r', mo: null }, windowSize: 51 }, "account.windowSize: 51 is more than res1's window size (50)"],
  ]
  for (const [patch, message] of refused) await rejects(t, admin.update(R, 'shop1', patch), F, message)
  t.same(store.getAccount('shop1'), before, 'shop1 unchanged by the refused changes (also the webhooks sent with a refused window)')
  t.equal(f.batches.length, commits + 1, 'nothing committed or audited but shop2')
  t.match(await admin.update(R, 'shop1', { allowedSources: ['RES1'], rateLimit: { perSecond: 2, burst: 2 }, dailyQuota: 0, maxBinds: 5, windowSize: 50 }),
    { allowedSources: ['RES1'], rateLimit: { perSecond: 2, burst: 2 }, dailyQuota: 0, maxBinds: 5, windowSize: 50 }, 'within the bounds: accepted')

  // The operator is not bound; the views say what is beyond the reseller's, to the operator, the reseller and the user.
  const v = await admin.update(OPERATOR, 'shop1', { allowedSources: ['BANKOFX'], rateLimit: null, maxBinds: 100 })
  t.same(v.exceedsReseller, ['allowedSources', 'rateLimit', 'maxBinds'])
  t.same(admin.get(R, 'shop1').exceedsReseller, ['allowedSources', 'rateLimit', 'maxBinds'])
  t.same(admin.get(user('shop1'), 'shop1').exceedsReseller, ['allowedSources', 'rateLimit', 'maxBinds'])
  t.match(await admin.update(R, 'shop1', { webhooks: { receipts: 'https://s.example/r', mo: null } }), { webhooks: { receipts: 'https://s.example/r' }, rateLimit: null },
    'the reseller may change other settings of a user beyond its limits; those stay as they are')
  await rejects(t, admin.update(R, 'shop1', { rateLimit: null }), F, "account.rateLimit: unlimited is more than res1's rate limit (10/s, burst 20)")
  const op = (await admin.create(OPERATOR, { systemId: 'shop4', parent: 'res1' })).account
  t.match(op, { allowedSources: ['RES*', 'ACME'], rateLimit: { perSecond: 10, burst: 20 }, dailyQuota: 1000 }, 'created by the operator under res1: its limits too')
  t.match((await admin.create(OPERATOR, { systemId: 'shop5', parent: 'res1', dailyQuota: 5000 })).account, { dailyQuota: 5000, exceedsReseller: ['dailyQuota'] }, 'unless the operator gives others')

  // The operator tightens the reseller: users keep their settings, their views say what is now beyond.
  t.notOk('exceedsReseller' in admin.get(OPERATOR, 'shop2'))
  await admin.update(OPERATOR, 'res1', { allowedSources: ['RES1*'], windowSize: 20 })
  t.match(store.getAccount('shop2'), { allowedSources: ['RES1*', 'RESX', 'ACME'], windowSize: 50 }, 'shop2 unchanged')
  t.same(admin.get(R, 'shop2').exceedsReseller, ['allowedSources', 'windowSize'])
  t.same(admin.list(R).filter((a) => a.exceedsReseller).map((a) => a.systemId), ['shop1', 'shop2', 'shop4', 'shop5'], 'in the list too')
  await rejects(t, admin.update(R, 'shop2', { allowedSources: ['RES1*', 'RESX'] }), F, `account.allowedSources: "RESX" is not within res1's allowed sources (RES1*)`)
  t.notOk('exceedsReseller' in await admin.update(R, 'shop2', { allowedSources: ['RES12'], windowSize: 20 }), 'brought within: no exceedsReseller')
  t.notOk('exceedsReseller' in admin.get(OPERATOR, 'res1'), 'a reseller has no reseller')
})

t.test('webhooks a reseller or user sets must point at public addresses (the SSRF guard); the operator may set any', async (t) => {
  const f = await world(t)
  const { admin, store } = f
  const F = 'SMSC_ERR_ADMIN_FORBIDDEN'
  const A = reseller('resA')
  const U = user('a1')
  const tail = '; a webhook set by a reseller or user must point at a public address (the operator may set it, or allow private targets with config webhooks.allowPrivateTargets)'
  const before = store.getAccount('a1')
  const commits = f.batches.length
  // The operator's trial: a user pointing its webhooks at the cloud metadata service and a local port.
  await rejects(t, admin.update(U, 'a1', { webhooks: { receipts: 'http://169.254.169.254/latest/meta-data/', mo: 'http://127.0.0.1:22/' } }), F,
    `account.webhooks.receipts: 169.254.169.254 is a link-local address${tail}`)
  await rejects(t, admin.update(U, 'a1', { webhooks: { receipts: 'https://a1.example/dlr', mo: 'http://127.0.0.1:22/' } }), F,
    `account.webhooks.mo: 127.0.0.1 is a loopback address${tail}`)
  const refused: [string, string][] = [
    ['http://2130706433/', '127.0.0.1 is a loopback address'],
    ['http://0x7f.1/', '127.0.0.1 is a loopback address'],
    ['http://017700000001/', '127.0.0.1 is a loopback address'],
    ['http://[::ffff:127.0.0.1]:8080/', '::ffff:7f00:1 is a loopback address'],
    ['http://[::1]/', '::1 is a loopback address'],
    ['http://localhost:8080/dlr', 'localhost is a name of this host'],
    ['http://localhost./dlr', 'localhost. is a name of this host'],
    ['https://10.1.2.3/hook', '10.1.2.3 is a private address'],
    ['http://172.16.0.9/', '172.16.0.9 is a private address'],
    ['http://192.168.1.1/', '192.168.1.1 is a private address'],
    ['http://[fe80::1]/', 'fe80::1 is a link-local address'],
    ['http://[fd00::5]/', 'fd00::5 is a private address'],
    ['http://0.0.0.0:8080/', '0.0.0.0 is an unspecified address'],
    ['http://224.0.0.1/', '224.0.0.1 is a multicast address'],
    ['http://metadata.google.internal/computeMetadata/v1/', 'metadata.google.internal is a name of the local network'],
    ['http://gateway/', 'gateway is a single-label name, resolved in the local network'],
  ]
  for (const [url, why] of refused) {
    await rejects(t, admin.update(U, 'a1', { webhooks: { receipts: url, mo: null } }), F, `account.webhooks.receipts: ${why}${tail}`)
  }
  // A reseller: for its user, for itself, and creating a user.
  await rejects(t, admin.update(A, 'a1', { webhooks: { receipts: null, mo: 'http://192.168.0.10/mo' } }), F, `account.webhooks.mo: 192.168.0.10 is a private address${tail}`)
  await rejects(t, admin.update(A, 'resA', { webhooks: { receipts: 'http://127.0.0.1/', mo: null } }), F, /^account\.webhooks\.receipts: 127\.0\.0\.1 is a loopback address;/)
  await rejects(t, admin.create(A, { systemId: 'a9', webhooks: { receipts: 'http://169.254.169.254/', mo: null } }), F, /^account\.webhooks\.receipts: 169\.254\.169\.254 is a link-local address;/)
  t.equal(store.getAccount('a9'), undefined, 'not created')
  t.same(store.getAccount('a1'), before, 'a1 unchanged by the refused changes')
  t.equal(f.batches.length, commits, 'nothing committed or audited')

  // Public targets are fine for anyone; they are the customer's (checked again at send time).
  t.match(await admin.update(U, 'a1', { webhooks: { receipts: 'https://a1.example/dlr', mo: 'http://93.184.215.14:8080/mo' } }), { webhooks: { receipts: 'https://a1.example/dlr', mo: 'http://93.184.215.14:8080/mo' } })
  t.same(store.getAccount('a1')?.webhooksByOperator, { receipts: false, mo: false })

  // The operator may set a private target; it is the operator's (not checked at send time).
  t.match(await admin.update(OPERATOR, 'a1', { webhooks: { receipts: 'http://127.0.0.1:9000/dlr', mo: 'https://a1.example/mo' } }), { webhooks: { receipts: 'http://127.0.0.1:9000/dlr' } })
  t.same(store.getAccount('a1')?.webhooksByOperator, { receipts: true, mo: true })
  // The user sends the operator's URL back as it is while changing the other: accepted, and it stays the operator's.
  await admin.update(U, 'a1', { webhooks: { receipts: 'http://127.0.0.1:9000/dlr', mo: 'https://a1.example/mo2' } })
  t.same(store.getAccount('a1')?.webhooksByOperator, { receipts: true, mo: false })
  // But another private URL, or the operator's URL moved to the other webhook, is the user's and refused.
  await rejects(t, admin.update(U, 'a1', { webhooks: { receipts: 'http://127.0.0.1:9001/dlr', mo: null } }), F, /^account\.webhooks\.receipts: 127\.0\.0\.1 is a loopback address;/)
  await rejects(t, admin.update(U, 'a1', { webhooks: { receipts: null, mo: 'http://127.0.0.1:9000/dlr' } }), F, /^account\.webhooks\.mo: 127\.0\.0\.1 is a loopback address;/)
  await admin.update(U, 'a1', { webhooks: { receipts: 'https://a1.example/dlr', mo: 'https://a1.example/mo2' } })
  t.same(store.getAccount('a1')?.webhooksByOperator, { receipts: false, mo: false }, 'changed by the user: the user\'s')
  // The operator creating an account with a private webhook.
  await admin.create(OPERATOR, { systemId: 'internal', webhooks: { receipts: 'http://10.0.0.7/dlr', mo: null } })
  t.same(store.getAccount('internal')?.webhooksByOperator, { receipts: true, mo: false })

  t.test('config webhooks.allowPrivateTargets: customers may set private targets', async (t) => {
    const g = await world(t, { allowPrivateWebhookTargets: true })
    t.match(await g.admin.update(user('a1'), 'a1', { webhooks: { receipts: 'http://127.0.0.1:9000/dlr', mo: 'http://10.0.0.5/mo' } }), { webhooks: { receipts: 'http://127.0.0.1:9000/dlr', mo: 'http://10.0.0.5/mo' } })
    t.same(g.store.getAccount('a1')?.webhooksByOperator, { receipts: false, mo: false }, 'still the user\'s')
    t.ok((await g.admin.create(reseller('resA'), { systemId: 'a8', webhooks: { receipts: 'http://localhost:8080/', mo: null } })).webhookSecret)
  })
})

t.test('the webhook secret: made when webhooks are first set, shown once, never in a view or the audit; rotated in scope, audited', async (t) => {
  const f = await world(t)
  const { admin, store } = f
  const F = 'SMSC_ERR_ADMIN_FORBIDDEN'
  const SECRET = /^whsec_[A-Za-z0-9_-]{43}$/
  t.equal(store.getAccount('a1')?.webhookSecret ?? null, null, 'no webhooks, no secret')
  const first = await admin.update(user('a1'), 'a1', { webhooks: { receipts: 'https://a1.example/dlr', mo: null } })
  const secret = first.webhookSecret as string
  t.match(secret, SECRET, 'the PATCH that first sets webhooks answers the secret')
  t.equal(store.getAccount('a1')?.webhookSecret, secret, 'stored as it is (an HMAC needs it)')
  t.notOk('webhookSecret' in admin.get(user('a1'), 'a1'), 'not in a view')
  t.notOk(JSON.stringify(admin.list(OPERATOR)).includes(secret), 'nor in the list')
  const again = await admin.update(user('a1'), 'a1', { webhooks: { receipts: 'https://a1.example/dlr2', mo: 'https://a1.example/mo' } })
  t.notOk('webhookSecret' in again, 'a later change does not show it again')
  await admin.update(user('a1'), 'a1', { webhooks: { receipts: null, mo: null } })
  t.notOk('webhookSecret' in await admin.update(user('a1'), 'a1', { webhooks: { receipts: 'https://a1.example/dlr', mo: null } }), 'nor does setting webhooks again after removing them')
  t.equal(store.getAccount('a1')?.webhookSecret, secret, 'the secret stays')
  const noHooks = await admin.update(user('b1'), 'b1', { webhooks: { receipts: null, mo: null } })
  t.notOk('webhookSecret' in noHooks, 'webhooks set to none: no secret made')
  t.equal(store.getAccount('b1')?.webhookSecret ?? null, null)

  const created = await admin.create(OPERATOR, { systemId: 'hooked', webhooks: { receipts: null, mo: 'https://h.example/mo' } })
  t.match(created.webhookSecret, SECRET, 'a create with webhooks answers the secret')
  t.equal(store.getAccount('hooked')?.webhookSecret, created.webhookSecret)
  t.notOk(JSON.stringify(created.account).includes(created.webhookSecret as string), 'beside the account view, not in it')
  t.notOk('webhookSecret' in await admin.create(OPERATOR, { systemId: 'plain' }), 'none without webhooks')

  // Rotation: the account itself, its reseller, the operator; nobody else.
  const changedBefore = f.changed.length
  const r1 = await admin.rotateWebhookSecret(user('a1'), 'a1')
  t.match(r1, SECRET)
  t.not(r1, secret, 'a new secret')
  t.equal(store.getAccount('a1')?.webhookSecret, r1, 'in force at once')
  t.equal(f.changed.length, changedBefore + 1, 'the engine is told')
  t.equal(f.changed.at(-1)?.[1]?.webhookSecret, r1, 'with the account carrying the new secret')
  const r2 = await admin.rotateWebhookSecret(reseller('resA'), 'a1')
  const r3 = await admin.rotateWebhookSecret(OPERATOR, 'a1')
  t.equal(new Set([secret, r1, r2, r3]).size, 4, 'each rotation makes a new one')
  t.equal(store.getAccount('a1')?.webhookSecret, r3)
  await rejects(t, admin.rotateWebhookSecret(reseller('resB'), 'a1'), F, 'a1 is not visible to resB')
  await rejects(t, admin.rotateWebhookSecret(user('a1'), 'solo'), F, 'solo is not visible to a1')
  await rejects(t, admin.rotateWebhookSecret(user('b1'), 'a1'), F)
  await rejects(t, admin.rotateWebhookSecret(OPERATOR, 'ghost'), 'SMSC_ERR_AUTH_SYSTEM_ID', 'no account ghost')
  t.equal(store.getAccount('a1')?.webhookSecret, r3, 'unchanged by the refused rotations')
  t.equal(await admin.rotateWebhookSecret(user('plain'), 'plain').then((s) => SECRET.test(s)), true, 'an account without webhooks may get one ahead')

  const log = admin.audit(OPERATOR, { limit: 100 })
  t.same(log.filter((e) => e.action === 'account.webhook-secret').map((e) => [e.by, e.target]).reverse(), [['a1', 'a1'], ['resA', 'a1'], ['admin', 'a1'], ['plain', 'plain']], 'each rotation audited, by whom')
  t.match(log.find((e) => e.action === 'account.update' && e.target === 'a1' && e.detail?.webhookSecretCreated === true), { by: 'a1' }, 'the update that made it says so')
  t.match(log.find((e) => e.action === 'account.webhook-secret' && e.by === 'resA'), { detail: { owner: 'resA' } }, 'filed under the reseller')
  const text = JSON.stringify(log)
  for (const s of [secret, r1, r2, r3, created.webhookSecret as string]) t.notOk(text.includes(s), 'no secret in the audit log')
  t.same(admin.audit(reseller('resA')).filter((e) => e.action === 'account.webhook-secret').length, 3, 'the reseller sees the rotations of its user')
})

t.test('an update that gives one webhook keeps the other (smsc account set --webhook-mo URL kept no receipts webhook)', async (t) => {
  const f = await fixture(t)
  const { admin, store } = f
  await admin.create(OPERATOR, { systemId: 'w1', password: 'pw', webhooks: { receipts: 'https://w.example/dlr' } })
  t.same(store.getAccount('w1')?.webhooks, { receipts: 'https://w.example/dlr', mo: null }, 'created: the one left out is none')
  t.match(await admin.update(OPERATOR, 'w1', { webhooks: { mo: 'https://w.example/mo' } }), { webhooks: { receipts: 'https://w.example/dlr', mo: 'https://w.example/mo' } })
  t.match(await admin.update(user('w1'), 'w1', { webhooks: { receipts: null } }), { webhooks: { receipts: null, mo: 'https://w.example/mo' } }, 'null turns one off, the other stays')
  t.same(store.getAccount('w1')?.webhooksByOperator, { receipts: false, mo: true }, "the mo webhook the operator set stays the operator's")
})
