// engine/accounts.ts: the account input checker (exact one-line messages and codes), defaults, CIDR matching
// (IPv4, IPv6, IPv4-mapped), sender id patterns, and the bounds a reseller's settings put on its users'.
import t from 'tap'
import {
  beyondReseller, BOUNDED_KEYS, checkAccountInput, defaultSettings, exceedsReseller, inheritedBounds, ipAllowed, OPERATOR,
  REFUND_SETTLEMENT, sourceAllowed, sourceWithin, SETTINGS_KEYS, type AccountInputCode, type ResellerBounds,
} from '../engine/accounts'
import { isSmscError } from '../engine/errors'
import { FINAL_STATES, statOf } from '../engine/message'

function throwsMessage(t: tap.Test, v: unknown, message: string, code: AccountInputCode = 'SMSC_ERR_API_INVALID', path = 'account'): void {
  try {
    checkAccountInput(v, path, code)
    t.fail(`expected to throw: ${message}`)
  } catch (e) {
    t.ok(isSmscError(e, code), `${code}: ${String(e)}`)
    t.equal((e as Error).message, message)
    t.notMatch((e as Error).message, /\n/, 'one line')
  }
}

t.test('defaultSettings: every setting, the engine limits passed in', async (t) => {
  const d = defaultSettings({ maxBinds: 3, windowSize: 50, messageIdFormat: 'hex' })
  t.same(Object.keys(d).sort(), [...SETTINGS_KEYS].sort())
  t.same(d, {
    role: 'user', parent: null, group: null, suspended: false, maxBinds: 3, windowSize: 50, allowedIps: [], clientCerts: [], allowedSources: [],
    rateLimit: null, dailyQuota: null, registeredDelivery: 0, validity: { defaultMs: 48 * 3_600_000, maxMs: 7 * 24 * 3_600_000 },
    messageIdFormat: 'hex', receiptPolicy: 'every', settlement: 'submit', prepaid: false, webhooks: { receipts: null, mo: null },
    outbind: null,
  })
  t.not(defaultSettings({ maxBinds: 1, windowSize: 1, messageIdFormat: 'decimal' }).allowedIps, d.allowedIps, 'fresh arrays each call')
})

t.test('checkAccountInput returns only the keys given; credit implies prepaid', async (t) => {
  t.same(checkAccountInput({}, 'account', 'SMSC_ERR_API_INVALID'), {})
  t.same(checkAccountInput({ maxBinds: 2, windowSize: undefined }, 'account', 'SMSC_ERR_API_INVALID'), { maxBinds: 2 }, 'undefined counts as absent')
  const all = {
    systemId: 'esme-1', password: 'pw', credit: 12.5, role: 'reseller', parent: null, group: 'gold', suspended: false, maxBinds: 4,
    windowSize: 20, allowedIps: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'], allowedSources: ['ACME', '4477*'],
    rateLimit: { perSecond: 2.5, burst: 5 }, dailyQuota: 1000, registeredDelivery: 1, validity: { defaultMs: 60_000, maxMs: 120_000 },
    messageIdFormat: 'hex', receiptPolicy: 'aggregate', settlement: 'refund', prepaid: true,
    webhooks: { receipts: 'https://example.com/dlr', mo: null },
    outbind: { host: 'esme.example.com', port: 2776, tls: true, password: 'smscpw' },
  }
  t.same(checkAccountInput(all, 'account', 'SMSC_ERR_API_INVALID'), all)
  t.same(checkAccountInput({ outbind: { host: '192.0.2.9', port: 2775 } }, 'a', 'SMSC_ERR_API_INVALID'),
    { outbind: { host: '192.0.2.9', port: 2775, tls: false, password: '' } }, 'outbind: tls false and an empty password by default')
  t.same(checkAccountInput({ outbind: null }, 'a', 'SMSC_ERR_API_INVALID'), { outbind: null })
  const fp = 'AB:'.repeat(31) + 'CD'
  t.same(checkAccountInput({ clientCerts: [fp, 'sha256 Fingerprint=' + fp, 'ab'.repeat(31) + 'cd', ` ${fp}\n`] }, 'a', 'SMSC_ERR_API_INVALID'), { clientCerts: [fp, fp, fp, fp] },
    'clientCerts: as openssl prints them, or hex without colons, read as Node gives them (upper case, colons)')
  t.same(checkAccountInput({ credit: 0 }, 'a', 'SMSC_ERR_CONFIG_INVALID'), { credit: 0, prepaid: true })
  t.same(checkAccountInput({ rateLimit: { perSecond: 2.5 } }, 'a', 'SMSC_ERR_API_INVALID'), { rateLimit: { perSecond: 2.5, burst: 3 } }, 'burst defaults to ceil(perSecond)')
  t.same(checkAccountInput({ rateLimit: null, dailyQuota: null, group: null }, 'a', 'SMSC_ERR_API_INVALID'), { rateLimit: null, dailyQuota: null, group: null })
})

t.test('checkAccountInput: one-line messages naming the field, with the value, in the caller\'s code', async (t) => {
  const cases: [unknown, string][] = [
    ['x', 'account must be an object (got "x")'],
    [[], 'account must be an object (got [])'],
    [{ maxbinds: 2 }, 'account.maxbinds is not a known key'],
    [{ 'max binds': 2 }, 'account["max binds"] is not a known key'],
    [{ systemId: '' }, 'account.systemId must be 1 to 15 printable ASCII characters (got "")'],
    [{ systemId: 'a-very-long-system-id' }, 'account.systemId must be 1 to 15 printable ASCII characters (got "a-very-long-system-id")'],
    [{ systemId: 'tab\there' }, 'account.systemId must be 1 to 15 printable ASCII characters (got "tab\\there")'],
    [{ password: 123 }, 'account.password must be a string (got number)'],
    [{ password: 'ninechars' }, 'account.password must be 1 to 8 characters (got 9)'],
    [{ password: 'é' }, 'account.password must be printable ASCII'],
    [{ credit: -1 }, 'account.credit must be a number between 0 and 1000000000000 (got -1)'],
    [{ credit: '5' }, 'account.credit must be a number between 0 and 1000000000000 (got "5")'],
    [{ credit: 5, prepaid: false }, 'account.credit needs prepaid true (got prepaid false)'],
    [{ role: 'admin' }, 'account.role must be one of "reseller", "user" (got "admin")'],
    [{ parent: 7 }, 'account.parent must be 1 to 15 printable ASCII characters (got 7)'],
    [{ group: '' }, 'account.group must be 1 to 32 printable ASCII characters, or null (got "")'],
    [{ suspended: 'yes' }, 'account.suspended must be true or false (got "yes")'],
    [{ maxBinds: 0 }, 'account.maxBinds must be an integer between 1 and 10000 (got 0)'],
    [{ windowSize: 1.5 }, 'account.windowSize must be an integer between 1 and 65535 (got 1.5)'],
    [{ allowedIps: '10.0.0.1' }, 'account.allowedIps must be an array of IP addresses or CIDR blocks (got "10.0.0.1")'],
    [{ allowedIps: ['10.0.0.0/8', '10.0.0.0/33'] }, 'account.allowedIps[1] must be an IPv4 or IPv6 address or CIDR block (got "10.0.0.0/33")'],
    [{ clientCerts: ['AB:CD'] }, 'account.clientCerts[0] must be a certificate\'s SHA-256 fingerprint: 64 hex digits, pairs may be separated by \':\' (openssl x509 -noout -fingerprint -sha256) (got "AB:CD")'],
    [{ allowedIps: ['2001:db8::/129'] }, 'account.allowedIps[0] must be an IPv4 or IPv6 address or CIDR block (got "2001:db8::/129")'],
    [{ allowedIps: ['example.com'] }, 'account.allowedIps[0] must be an IPv4 or IPv6 address or CIDR block (got "example.com")'],
    [{ allowedIps: ['1.2.3.4/'] }, 'account.allowedIps[0] must be an IPv4 or IPv6 address or CIDR block (got "1.2.3.4/")'],
    [{ allowedSources: ['AC*ME'] }, 'account.allowedSources[0] must be a sender id of 1 to 20 printable ASCII characters, \'*\' only at the end (got "AC*ME")'],
    [{ allowedSources: [''] }, 'account.allowedSources[0] must be a sender id of 1 to 20 printable ASCII characters, \'*\' only at the end (got "")'],
    [{ rateLimit: 10 }, 'account.rateLimit must be an object { perSecond, burst } or null (got 10)'],
    [{ rateLimit: { perSecond: 0 } }, 'account.rateLimit.perSecond must be a number > 0 and <= 1000000 (got 0)'],
    [{ rateLimit: { burst: 2 } }, 'account.rateLimit.perSecond is required'],
    [{ rateLimit: { perSecond: 1, burst: 0 } }, 'account.rateLimit.burst must be an integer between 1 and 10000000 (got 0)'],
    [{ rateLimit: { perSecond: 1, per: 2 } }, 'account.rateLimit.per is not a known key'],
    [{ dailyQuota: -5 }, 'account.dailyQuota must be a non-negative integer (got -5)'],
    [{ registeredDelivery: 2 }, 'account.registeredDelivery must be 0 or 1 (got 2)'],
    [{ validity: { defaultMs: 60_000 } }, 'account.validity.maxMs is required'],
    [{ validity: { defaultMs: 120_000, maxMs: 60_000 } }, 'account.validity.defaultMs must be <= maxMs (got 120000 > 60000)'],
    [{ validity: { defaultMs: 10, maxMs: 60_000 } }, 'account.validity.defaultMs must be an integer between 1000 and 31622400000 (got 10)'],
    [{ messageIdFormat: 'uuid' }, 'account.messageIdFormat must be one of "decimal", "hex" (got "uuid")'],
    [{ receiptPolicy: 'first' }, 'account.receiptPolicy must be one of "every", "last", "aggregate" (got "first")'],
    [{ settlement: 'deliver' }, 'account.settlement must be one of "submit", "refund" (got "deliver")'],
    [{ prepaid: 1 }, 'account.prepaid must be true or false (got 1)'],
    [{ webhooks: { receipts: 'ftp://x.example/' , mo: null } }, 'account.webhooks.receipts must be an http(s) URL or null (got "ftp://x.example/")'],
    [{ webhooks: { receipts: null, mo: 'not a url' } }, 'account.webhooks.mo must be an http(s) URL or null (got "not a url")'],
    [{ outbind: 'esme:2775' }, 'account.outbind must be an object { host, port, tls, password } or null (got "esme:2775")'],
    [{ outbind: { port: 2775 } }, 'account.outbind.host is required'],
    [{ outbind: { host: 'esme host', port: 2775 } }, 'account.outbind.host must be a host name or IP address (got "esme host")'],
    [{ outbind: { host: 'esme' } }, 'account.outbind.port is required'],
    [{ outbind: { host: 'esme', port: 0 } }, 'account.outbind.port must be an integer between 1 and 65535 (got 0)'],
    [{ outbind: { host: 'esme', port: 2775, tls: 'yes' } }, 'account.outbind.tls must be true or false (got "yes")'],
    [{ outbind: { host: 'esme', port: 2775, password: 'ninechars' } }, 'account.outbind.password must be 0 to 8 printable ASCII characters'],
    [{ outbind: { host: 'esme', port: 2775, user: 'x' } }, 'account.outbind.user is not a known key'],
  ]
  for (const [v, message] of cases) throwsMessage(t, v, message)
  // The config file uses its own code and path.
  throwsMessage(t, { maxBinds: 0 }, 'config.accounts[2].maxBinds must be an integer between 1 and 10000 (got 0)', 'SMSC_ERR_CONFIG_INVALID', 'config.accounts[2]')
})

t.test('webhooks: a key left out is none (the config file gives only the one it uses)', async (t) => {
  t.same(checkAccountInput({ webhooks: { receipts: 'https://shop.example/dlr' } }, 'account', 'SMSC_ERR_API_INVALID').webhooks,
    { receipts: 'https://shop.example/dlr', mo: null })
  t.same(checkAccountInput({ webhooks: {} }, 'account', 'SMSC_ERR_API_INVALID').webhooks, { receipts: null, mo: null })
})

t.test('a password is never echoed in a message', async (t) => {
  for (const password of ['secret123', 'pä', '']) {
    try {
      checkAccountInput({ password }, 'account', 'SMSC_ERR_API_INVALID')
      t.fail('should throw')
    } catch (e) {
      t.notMatch((e as Error).message, password === '' ? /""/ : password)
    }
  }
})

t.test('ipAllowed: IPv4 and IPv6 CIDR, bare addresses, IPv4-mapped remotes, [] = any', async (t) => {
  t.ok(ipAllowed([], '203.0.113.9'), 'no list: any address')
  const v4 = ['10.0.0.0/8', '192.0.2.7', '198.51.100.0/25']
  t.ok(ipAllowed(v4, '10.200.3.4'))
  t.ok(ipAllowed(v4, '192.0.2.7'))
  t.notOk(ipAllowed(v4, '192.0.2.8'), 'a bare address is /32')
  t.ok(ipAllowed(v4, '198.51.100.127'))
  t.notOk(ipAllowed(v4, '198.51.100.128'), '/25 boundary')
  t.notOk(ipAllowed(v4, '11.0.0.1'))
  t.ok(ipAllowed(v4, '::ffff:10.1.2.3'), 'IPv4-mapped IPv6 remote (dual-stack listener)')
  t.ok(ipAllowed(v4, '::FFFF:192.0.2.7'), 'mapped, upper case')
  t.notOk(ipAllowed(v4, '::ffff:192.0.2.8'))
  t.notOk(ipAllowed(v4, '2001:db8::1'))
  t.notOk(ipAllowed(v4, 'garbage'), 'an unparseable remote never matches')
  t.ok(ipAllowed(['0.0.0.0/0'], '8.8.8.8'))
  t.notOk(ipAllowed(['0.0.0.0/0'], '2001:db8::1'), '0.0.0.0/0 is every IPv4 address, not IPv6')

  const v6 = ['2001:db8:abcd::/48', '::1', 'fe80::/10']
  t.ok(ipAllowed(v6, '2001:db8:abcd:12::5'))
  t.ok(ipAllowed(v6, '2001:0db8:abcd:ffff:ffff:ffff:ffff:ffff'), 'leading zeros')
  t.notOk(ipAllowed(v6, '2001:db8:abce::1'), '/48 boundary')
  t.ok(ipAllowed(v6, '::1'))
  t.notOk(ipAllowed(v6, '::2'), 'a bare IPv6 address is /128')
  t.ok(ipAllowed(v6, 'fe80::1%eth0'), 'a zone id is ignored')
  t.ok(ipAllowed(v6, 'febf::1'))
  t.notOk(ipAllowed(v6, 'fec0::1'))
  t.notOk(ipAllowed(v6, '127.0.0.1'))
  t.ok(ipAllowed(['::ffff:0:0/96'], '203.0.113.1'), 'an IPv4 remote matches the IPv4-mapped block')
  t.ok(ipAllowed(['::ffff:203.0.113.0/120'], '203.0.113.200'), 'mapped block written with a dotted quad')
  t.ok(ipAllowed(['::/0'], '1.2.3.4'))
})

t.test('sourceAllowed: exact sender ids and prefixes ending in *', async (t) => {
  t.ok(sourceAllowed([], 'anything'), 'no list: any sender')
  const list = ['ACME', '4477*']
  t.ok(sourceAllowed(list, 'ACME'))
  t.notOk(sourceAllowed(list, 'ACME2'), 'exact entries are not prefixes')
  t.notOk(sourceAllowed(list, 'acme'), 'case-sensitive')
  t.ok(sourceAllowed(list, '447700900123'))
  t.ok(sourceAllowed(list, '4477'), 'the prefix itself')
  t.notOk(sourceAllowed(list, '4478000'))
  t.notOk(sourceAllowed(list, ''))
  t.ok(sourceAllowed(['*'], 'x'), "'*' alone is any sender")
})

t.test('OPERATOR is the admin login and frozen', async (t) => {
  t.same(OPERATOR, { role: 'operator', systemId: null, name: 'admin' })
  t.ok(Object.isFrozen(OPERATOR))
})

t.test('sourceWithin: an entry is within a bound when every sender id it allows, the bound allows too', async (t) => {
  const cases: [string, string, boolean][] = [
    ['RES1*', 'RES*', true], ['RES*', 'RES*', true], ['RES1', 'RES*', true], ['RES', 'RES*', true],
    ['RES*', 'RES1*', false], ['RE*', 'RES*', false], ['BANKOFX', 'RES*', false], ['XRES1', 'RES*', false],
    ['ACME', 'ACME', true], ['ACMEX', 'ACME', false], ['ACME*', 'ACME', false], ['ACM', 'ACME', false],
    ['ANY', '*', true], ['*', '*', true], ['*', 'A*', false],
  ]
  for (const [entry, bound, want] of cases) t.equal(sourceWithin(entry, bound), want, `${entry} within ${bound}: ${want}`)
  // The rule agrees with the submit-time predicate: what a within-entry allows, the bound allows.
  for (const [entry, bound, want] of cases) {
    if (!want) continue
    for (const id of ['RES', 'RES1', 'RES12', 'ACME', 'ANY', 'X']) {
      if (sourceAllowed([entry], id)) t.ok(sourceAllowed([bound], id), `${id}: allowed by ${entry}, so by ${bound}`)
    }
  }
})

t.test("beyondReseller: each bounded setting against the reseller's, with the one-line reason", async (t) => {
  const res1: ResellerBounds = { systemId: 'res1', allowedSources: ['RES*', 'ACME'], rateLimit: { perSecond: 10, burst: 20 }, dailyQuota: 1000, maxBinds: 5, windowSize: 50 }
  const open: ResellerBounds = { systemId: 'res2', allowedSources: [], rateLimit: null, dailyQuota: null, maxBinds: 5, windowSize: 50 }
  const src = "res1's allowed sources (RES*, ACME)"
  t.equal(beyondReseller('allowedSources', ['BANKOFX'], res1), `"BANKOFX" is not within ${src}`)
  t.equal(beyondReseller('allowedSources', ['RES1*', 'BANK*'], res1), `"BANK*" is not within ${src}`, 'the first entry outside is named')
  t.equal(beyondReseller('allowedSources', [], res1), `an empty list (any sender id) is not within ${src}`)
  t.equal(beyondReseller('allowedSources', ['AC*'], res1), `"AC*" is not within ${src}`, 'a prefix is not within an exact id')
  t.equal(beyondReseller('allowedSources', ['RES1*', 'RESX', 'ACME'], res1), null)
  t.equal(beyondReseller('allowedSources', [], open), null, 'a reseller without a list bounds nothing')
  t.equal(beyondReseller('allowedSources', ['BANKOFX'], open), null)

  t.equal(beyondReseller('rateLimit', null, res1), "unlimited is more than res1's rate limit (10/s, burst 20)")
  t.equal(beyondReseller('rateLimit', { perSecond: 10.5, burst: 1 }, res1), "10.5/s is more than res1's rate limit (10/s, burst 20)")
  t.equal(beyondReseller('rateLimit', { perSecond: 1, burst: 21 }, res1), "burst 21 is more than res1's rate limit (10/s, burst 20)")
  t.equal(beyondReseller('rateLimit', { perSecond: 10, burst: 20 }, res1), null, 'equal is within')
  t.equal(beyondReseller('rateLimit', null, open), null)

  t.equal(beyondReseller('dailyQuota', null, res1), "unlimited is more than res1's daily quota (1000)")
  t.equal(beyondReseller('dailyQuota', 1001, res1), "1001 is more than res1's daily quota (1000)")
  t.equal(beyondReseller('dailyQuota', 1000, res1), null)
  t.equal(beyondReseller('dailyQuota', 0, res1), null)
  t.equal(beyondReseller('dailyQuota', null, open), null)

  t.equal(beyondReseller('maxBinds', 1000, res1), "1000 is more than res1's max binds (5)")
  t.equal(beyondReseller('maxBinds', 5, res1), null)
  t.equal(beyondReseller('windowSize', 10000, res1), "10000 is more than res1's window size (50)")
  t.equal(beyondReseller('windowSize', 50, open), null)
  t.equal(beyondReseller('windowSize', 51, open), "51 is more than res2's window size (50)", 'binds and window bound whatever the reseller')

  const d = defaultSettings({ maxBinds: 10, windowSize: 100, messageIdFormat: 'decimal' })
  t.same(exceedsReseller(d, res1), ['allowedSources', 'rateLimit', 'dailyQuota', 'maxBinds', 'windowSize'], 'the defaults are beyond every bound of res1')
  t.same(exceedsReseller({ ...d, maxBinds: 5, windowSize: 50 }, open), [], 'and within a reseller without limits (binds and window equal)')
  t.same([...BOUNDED_KEYS].sort(), ['allowedSources', 'dailyQuota', 'maxBinds', 'rateLimit', 'windowSize'])
})

t.test("inheritedBounds: a new user's limits not given are its reseller's, never above the engine defaults for binds and window", async (t) => {
  const d = defaultSettings({ maxBinds: 10, windowSize: 100, messageIdFormat: 'decimal' })
  const res1: ResellerBounds = { systemId: 'res1', allowedSources: ['RES*'], rateLimit: { perSecond: 10, burst: 20 }, dailyQuota: 1000, maxBinds: 5, windowSize: 500 }
  const got = inheritedBounds(res1, d)
  t.same(got, { allowedSources: ['RES*'], rateLimit: { perSecond: 10, burst: 20 }, dailyQuota: 1000, maxBinds: 5, windowSize: 100 })
  t.same(exceedsReseller(got, res1), [], 'within its reseller')
  t.not(got.allowedSources, res1.allowedSources, 'its own copy of the list')
  t.not(got.rateLimit, res1.rateLimit, 'and of the rate')
  t.same(inheritedBounds({ systemId: 'r', allowedSources: [], rateLimit: null, dailyQuota: null, maxBinds: 50, windowSize: 50 }, d),
    { allowedSources: [], rateLimit: null, dailyQuota: null, maxBinds: 10, windowSize: 50 }, 'a reseller without limits: the defaults')
})

t.test("settlement 'refund': every final outcome is kept or refunded, and only DELIVRD is kept", async (t) => {
  t.same(Object.keys(REFUND_SETTLEMENT).map(Number).sort(), [...FINAL_STATES].sort(), 'exactly the final states')
  t.same(Object.entries(REFUND_SETTLEMENT).filter(([, v]) => v === 'keep').map(([k]) => statOf(Number(k))), ['DELIVRD'])
})
