// engine/auth.ts on a real store: the control file's operator token lives in memory only (never stored, so
// it cannot outlive the engine), and a principal keeps at most MAX_TOKENS_PER_PRINCIPAL tokens (repeated
// logins drop the least recently used, in memory and in the stored map).
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AdminAuth, LoginThrottle, MAX_TOKENS_PER_PRINCIPAL, TOKENS_KEY } from '../engine/auth'
import { OPERATOR } from '../engine/accounts'
import { Store } from '../engine/store'

function freshDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'smsc-auth-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const stored = (store: Store): Record<string, { role: string; systemId?: string }> =>
  (store.getMeta(TOKENS_KEY) as Record<string, { role: string; systemId?: string }> | undefined) ?? {}

t.test('the control file\'s operator token is never stored: it ends at logout and with the process', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  let { auth } = await AdminAuth.init(store, 'operator-pw')
  const control = auth.issueOperatorToken()
  t.same(auth.check(control), OPERATOR, 'valid while the engine runs')
  const console = await auth.login('operator-pw') as string
  t.ok(console, 'a console login')
  await store.close() // waits for the token map write
  store = await Store.open(dir)
  t.equal(Object.keys(stored(store)).length, 1, 'only the console login is stored')
  auth = (await AdminAuth.init(store, 'operator-pw')).auth
  t.equal(auth.check(control), null, 'the control token died with the engine')
  t.same(auth.check(console), OPERATOR, 'a console login survives a restart')

  const control2 = auth.issueOperatorToken()
  auth.logout(control2)
  t.equal(auth.check(control2), null, 'logout (the engine\'s shutdown) ends it at once')
  await store.close()
})

t.test('a principal keeps at most 20 tokens: repeated logins drop the least recently used, stored map included', async (t) => {
  const dir = freshDir(t)
  let store = await Store.open(dir)
  await store.putAccount({ systemId: 'acc', passwordHash: await Store.hashPassword('pw'), createdAt: 1, updatedAt: 1 })
  await store.putAccount({ systemId: 'other', passwordHash: await Store.hashPassword('pw2'), createdAt: 1, updatedAt: 1 })
  let { auth } = await AdminAuth.init(store, 'operator-pw')
  const control = auth.issueOperatorToken()
  const otherLogin = await auth.loginAccount('other', 'pw2', '127.0.0.1')
  if (typeof otherLogin !== 'object') throw new Error(`login: ${otherLogin}`)
  const accTokens: string[] = []
  const opTokens: string[] = []
  for (let i = 0; i < MAX_TOKENS_PER_PRINCIPAL + 5; i++) {
    const r = await auth.loginAccount('acc', 'pw', '127.0.0.1')
    if (typeof r !== 'object') throw new Error(`login ${i}: ${r}`)
    accTokens.push(r.token)
    opTokens.push(await auth.login('operator-pw') as string)
  }
  t.equal(MAX_TOKENS_PER_PRINCIPAL, 20)
  t.same(accTokens.map((x) => auth.check(x) !== null), accTokens.map((_, i) => i >= 5), 'the 5 oldest of the account are gone, the newest 20 work')
  t.same(opTokens.map((x) => auth.check(x) !== null), opTokens.map((_, i) => i >= 5), 'the same for the operator')
  t.same(auth.check(control), OPERATOR, 'the control token is not counted and not dropped')
  t.equal(auth.check(otherLogin.token)?.systemId, 'other', 'another account keeps its token')
  await store.close()
  store = await Store.open(dir)
  const saved = Object.values(stored(store))
  t.equal(saved.filter((v) => v.systemId === 'acc').length, 20, 'the stored map holds 20 of the account')
  t.equal(saved.filter((v) => v.systemId === undefined).length, 20, 'and 20 of the operator (no control token)')
  t.equal(saved.length, 41)
  auth = (await AdminAuth.init(store, 'operator-pw')).auth
  t.equal(auth.check(accTokens[4]), null)
  t.equal(auth.check(accTokens[24])?.systemId, 'acc', 'the newest survive a restart')
  await store.close()
})

t.test('LoginThrottle: 10 failures in a minute from one address refuse it until that minute ends; others are not affected', async (t) => {
  let now = 1_000_000
  const th = new LoginThrottle(10, 60_000, () => now, 3)
  for (let i = 0; i < 9; i++) th.failed('10.0.0.1')
  t.equal(th.retryIn('10.0.0.1'), 0, 'nine failures: may still try')
  th.failed('10.0.0.1')
  t.equal(th.retryIn('10.0.0.1'), 60_000, 'the tenth: refused for the rest of the window')
  t.equal(th.retryIn('10.0.0.2'), 0, 'another address is not')
  now += 59_000
  t.equal(th.retryIn('10.0.0.1'), 1_000, 'counted from the first failure')
  now += 1_000
  t.equal(th.retryIn('10.0.0.1'), 0, 'free again once the window ends')
  th.failed('10.0.0.1')
  t.equal(th.retryIn('10.0.0.1'), 0, 'and counting starts over')

  for (let i = 0; i < 10; i++) th.failed('10.0.0.9')
  th.failed('10.0.0.7')
  th.failed('10.0.0.8') // the fourth address with maxTracked 3: the stalest (10.0.0.1) is forgotten
  t.equal(th.retryIn('10.0.0.9'), 60_000, 'a blocked address is kept while newer ones come')
  th.failed('10.0.0.6')
  t.equal(th.retryIn('10.0.0.9'), 0, 'bounded: with more addresses than it keeps, the stalest goes')
})

t.test('LoginThrottle.keyOf: IPv4 as is (also IPv4-mapped), IPv6 by its /64', async (t) => {
  t.equal(LoginThrottle.keyOf('10.1.2.3'), '10.1.2.3')
  t.equal(LoginThrottle.keyOf('::ffff:10.1.2.3'), '10.1.2.3')
  t.equal(LoginThrottle.keyOf('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64')
  t.equal(LoginThrottle.keyOf('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64', 'another host of the same /64')
  t.equal(LoginThrottle.keyOf('::1'), '0:0:0:0::/64')
  t.not(LoginThrottle.keyOf('2001:db8:1:3::1'), LoginThrottle.keyOf('2001:db8:1:2::1'), 'another /64')
})

t.test('LoginThrottle.begin: after a failure, attempts being checked count, so parallel guesses stop at the limit', async (t) => {
  const th = new LoginThrottle(3, 60_000, () => 0)
  const pool = Array.from({ length: 20 }, () => th.begin('pool'))
  t.ok(pool.every((f) => f !== null), 'with no failure yet, any number may start (ESMEs binding at once)')
  for (const f of pool) f!(false)
  th.begin('x')!(true) // one failure
  const a = [th.begin('x'), th.begin('x')]
  t.ok(a.every((f) => f !== null), 'two more may start')
  t.equal(th.begin('x'), null, 'a fourth may not while they are checked')
  a[0]!(false) // a success frees its place
  const d = th.begin('x')
  t.not(d, null)
  a[1]!(true); d!(true)
  t.equal(th.retryIn('x'), 60_000, 'three failures: refused for the window')
})

t.test('an unknown systemId costs the same scrypt as a wrong password: the login\'s time does not tell which accounts exist', async (t) => {
  const dir = freshDir(t)
  const store = await Store.open(dir)
  t.teardown(() => store.close())
  await store.putAccount({ systemId: 'known', passwordHash: await Store.hashPassword('right-pw'), createdAt: 1, updatedAt: 1 })
  const { auth } = await AdminAuth.init(store, 'operator-pw')
  // auth.ts's own scrypt checks go through the store module's verifyScrypt (called through the module): counted here.
  // (A known account's password is checked inside the store, Store.verifyPassword, which this does not count.)
  const storeModule = require('../engine/store') as { verifyScrypt: (encoded: string, password: string) => Promise<boolean> }
  const real = storeModule.verifyScrypt
  let hashed = 0
  storeModule.verifyScrypt = (encoded, password) => { hashed++; return real(encoded, password) }
  t.teardown(() => { storeModule.verifyScrypt = real })

  t.equal(await auth.loginAccount('known', 'wrong-pw', '127.0.0.1'), 'bad-credentials', 'a wrong password (the store runs its scrypt)')
  hashed = 0
  t.equal(await auth.loginAccount('nobody', 'wrong-pw', '127.0.0.1'), 'bad-credentials', 'an unknown systemId looks the same')
  t.equal(hashed, 1, 'and costs one scrypt check too (a hash no password matches)')
  hashed = 0
  t.equal(await auth.loginStaff('nobody', 'wrong-pw'), null)
  t.equal(hashed, 1, 'as an unknown staff name does')
})
