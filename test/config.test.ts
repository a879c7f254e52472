// engine/config.ts: defaults, every override, every class of validation message (exact, one line),
// loadConfig (file, SMSC_CONFIG, flag overrides) and the command-line parser.
import t from 'tap'
import { defaultSettings } from '../engine/accounts'
import fc from 'fast-check'
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  DEFAULTS,
  OUTCOME_STATS,
  resolveOptions,
  loadConfig,
  readConfigFile,
  jsonErrorOffset,
  parseCliArgs,
  parsePortFlag,
  configArgsFromFlags,
  assertKnownFlags,
  type ResolvedOptions,
  type HttpConnectorOptions,
} from '../engine/config'
import { isSmscError, type SmscErrorCode } from '../engine/errors'
import { DEFAULT_MAX_PDU_LENGTH } from '../engine/protocol/constants'
import { devTlsCert } from '../engine/transport/listener'

/** Asserts `fn` throws an engine error with `code` and exactly `message`, on one line. */
function throwsMessage(
  t: tap.Test,
  fn: () => unknown,
  message: string,
  code: SmscErrorCode = 'SMSC_ERR_CONFIG_INVALID',
): void {
  try {
    fn()
    t.fail(`expected to throw: ${message}`)
  } catch (e) {
    t.ok(isSmscError(e, code), `${code}: ${String(e)}`)
    t.equal((e as Error).message, message)
    t.notMatch((e as Error).message, /\n/, 'one line')
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'smsc-config-test-'))
t.teardown(() => rmSync(tmp, { recursive: true, force: true }))
let fileNo = 0
function file(body: string): string {
  const p = join(tmp, `c${fileNo++}.json`)
  writeFileSync(p, body)
  return p
}

// -------------------------------------------------------------------------------------------
t.test('defaults', async (t) => {
  t.test('{} and undefined resolve to DEFAULTS', async (t) => {
    t.same(resolveOptions({}), DEFAULTS)
    t.same(resolveOptions(undefined), DEFAULTS)
  })
  t.test('the documented values', async (t) => {
    const d = resolveOptions({})
    t.same(d.smpp, { host: '0.0.0.0', port: 2775, maxUnboundConnections: 1000, maxUnboundPerIp: 100, maxQueuedOutputBytes: 1_048_576 })
    t.same(d.tls, { host: '0.0.0.0', port: 3550, cert: null, key: null, ca: null, requestCert: false, minVersion: 'TLSv1.2', ciphers: null })
    t.equal(d.devTls, false)
    t.same(d.http, { host: '127.0.0.1', port: 8080, trustProxy: [], allowedOrigins: [], tlsHost: '0.0.0.0', tlsPort: null })
    t.equal(d.simulator.enabled, true)
    t.equal(d.dataDir, './data')
    t.same(d.accounts, [])
    t.same(d.simulator.deliveryDelayMs, [200, 2000])
    t.same(d.simulator.outcomes, { DELIVRD: 0.9, UNDELIV: 0.06, EXPIRED: 0.02, REJECTD: 0.02 })
    t.equal(d.simulator.intermediate, false)
    t.same(d.simulator.errorCodes, { DELIVRD: 0, EXPIRED: 0, DELETED: 0, UNDELIV: 1, ACCEPTD: 0, UNKNOWN: 0, REJECTD: 2 })
    t.equal(d.messageIdFormat, 'decimal')
    t.same(d.timers, { sessionInitMs: 30_000, enquireLinkMs: 30_000, inactivityMs: 300_000, responseMs: 30_000 })
    t.same(d.session, { windowSize: 100, maxPduLength: 65_536, maxBindsPerAccount: 10, outbindRetryMs: [5_000, 300_000] })
    t.same(d.receipts, { multipart: 'every', redeliveryMs: [1_000, 60_000], maxAgeMs: 86_400_000 })
    t.same(d.log, { level: 'info' })
    t.same(d.admin, { password: null })
    t.same(d.telemetry, { intervalMs: 250, maxBufferedBytes: 1_048_576, events: 500, timelineSize: 100_000 })
  })
  t.test('maxPduLength agrees with the protocol constant', async (t) => {
    t.equal(DEFAULTS.session.maxPduLength, DEFAULT_MAX_PDU_LENGTH)
  })
  t.test('default outcomes sum to 1', async (t) => {
    const sum = Object.values(DEFAULTS.simulator.outcomes).reduce((a, b) => a + b, 0)
    t.ok(Math.abs(sum - 1) < 1e-9, `sum ${sum}`)
  })
  t.test('DEFAULTS is frozen and results never share its objects', async (t) => {
    t.ok(Object.isFrozen(DEFAULTS) && Object.isFrozen(DEFAULTS.smpp) && Object.isFrozen(DEFAULTS.simulator.deliveryDelayMs))
    const r = resolveOptions({})
    r.smpp.port = 1
    r.accounts.push({ systemId: 'x', password: 'y', maxBinds: 1, windowSize: 1 })
    r.simulator.deliveryDelayMs[0] = 5
    r.simulator.errorCodes.UNDELIV = 9
    r.simulator.outcomes.DELIVRD = 0
    r.receipts.redeliveryMs[1] = 5
    t.same(resolveOptions({}), DEFAULTS, 'a second resolve is unaffected')
    t.equal(DEFAULTS.smpp.port, 2775)
  })
})

// -------------------------------------------------------------------------------------------
t.test('each key can be overridden', async (t) => {
  const cases: [string, unknown, (r: ResolvedOptions) => unknown, unknown][] = [
    ['smpp.host', { smpp: { host: '127.0.0.1' } }, (r) => r.smpp.host, '127.0.0.1'],
    ['smpp.port', { smpp: { port: 0 } }, (r) => r.smpp.port, 0],
    ['tls.host', { tls: { host: '::' } }, (r) => r.tls.host, '::'],
    ['tls.port', { tls: { port: 65535 } }, (r) => r.tls.port, 65535],
    ['tls.cert+key', { tls: { cert: 'c.pem', key: 'k.pem' } }, (r) => [r.tls.cert, r.tls.key], ['c.pem', 'k.pem']],
    ['tls.ca', { tls: { ca: 'ca.pem' } }, (r) => r.tls.ca, 'ca.pem'],
    ['tls.requestCert', { tls: { requestCert: true, ca: '/etc/smsc/ca.pem' } }, (r) => r.tls.requestCert, true],
    ['tls.minVersion', { tls: { minVersion: 'TLSv1.3' } }, (r) => r.tls.minVersion, 'TLSv1.3'],
    ['tls.ciphers', { tls: { ciphers: 'ECDHE+AESGCM:ECDHE+CHACHA20' } }, (r) => r.tls.ciphers, 'ECDHE+AESGCM:ECDHE+CHACHA20'],
    ['devTls', { devTls: true }, (r) => r.devTls, true],
    ['http.host', { http: { host: '0.0.0.0' } }, (r) => r.http.host, '0.0.0.0'],
    ['http.port', { http: { port: 9000 } }, (r) => r.http.port, 9000],
    ['http.allowedOrigins', { http: { allowedOrigins: ['HTTPS://Console.Example.com:443/', 'http://[::1]:8080'] } }, (r) => r.http.allowedOrigins, ['https://console.example.com', 'http://[::1]:8080']],
    ['dataDir', { dataDir: '/var/lib/smsc' }, (r) => r.dataDir, '/var/lib/smsc'],
    ['simulator.deliveryDelayMs', { simulator: { deliveryDelayMs: [0, 0] } }, (r) => r.simulator.deliveryDelayMs, [0, 0]],
    ['simulator.outcomes', { simulator: { outcomes: { DELIVRD: 1 } } }, (r) => r.simulator.outcomes, { DELIVRD: 1 }],
    ['simulator.intermediate', { simulator: { intermediate: true } }, (r) => r.simulator.intermediate, true],
    ['messageIdFormat', { messageIdFormat: 'hex' }, (r) => r.messageIdFormat, 'hex'],
    ['timers.sessionInitMs', { timers: { sessionInitMs: 0 } }, (r) => r.timers.sessionInitMs, 0],
    ['timers.enquireLinkMs', { timers: { enquireLinkMs: 5_000 } }, (r) => r.timers.enquireLinkMs, 5_000],
    ['timers.inactivityMs', { timers: { inactivityMs: 0 } }, (r) => r.timers.inactivityMs, 0],
    ['timers.responseMs', { timers: { responseMs: 100 } }, (r) => r.timers.responseMs, 100],
    ['session.windowSize', { session: { windowSize: 10 } }, (r) => r.session.windowSize, 10],
    ['session.maxPduLength', { session: { maxPduLength: 1024 } }, (r) => r.session.maxPduLength, 1024],
    ['session.maxBindsPerAccount', { session: { maxBindsPerAccount: 1 } }, (r) => r.session.maxBindsPerAccount, 1],
    ['session.outbindRetryMs', { session: { outbindRetryMs: [200, 1000] } }, (r) => r.session.outbindRetryMs, [200, 1000]],
    ['receipts.multipart', { receipts: { multipart: 'last' } }, (r) => r.receipts.multipart, 'last'],
    ['receipts.redeliveryMs', { receipts: { redeliveryMs: [10, 10] } }, (r) => r.receipts.redeliveryMs, [10, 10]],
    ['receipts.maxAgeMs', { receipts: { maxAgeMs: 1 } }, (r) => r.receipts.maxAgeMs, 1],
    ['log.level', { log: { level: 'silent' } }, (r) => r.log.level, 'silent'],
    ['admin.password', { admin: { password: 'longenough' } }, (r) => r.admin.password, 'longenough'],
    ['telemetry.intervalMs', { telemetry: { intervalMs: 500 } }, (r) => r.telemetry.intervalMs, 500],
  ]
  for (const [name, input, get, expected] of cases) t.same(get(resolveOptions(input)), expected, name)
})

t.test('objects merge over the defaults key by key', async (t) => {
  const r = resolveOptions({ smpp: { port: 1 }, timers: { enquireLinkMs: 0 } })
  t.same(r.smpp, { ...DEFAULTS.smpp, host: '0.0.0.0', port: 1 })
  t.same(r.timers, { ...DEFAULTS.timers, enquireLinkMs: 0 })
  t.same(r.http, DEFAULTS.http)
})

t.test('smpp.maxUnboundConnections, maxUnboundPerIp and maxQueuedOutputBytes: integers in range, else one line naming the key', async (t) => {
  t.match(resolveOptions({ smpp: { maxUnboundConnections: 5, maxUnboundPerIp: 2, maxQueuedOutputBytes: 65_536 } }).smpp, { maxUnboundConnections: 5, maxUnboundPerIp: 2, maxQueuedOutputBytes: 65_536 })
  throwsMessage(t, () => resolveOptions({ smpp: { maxUnboundConnections: 0 } }), 'config.smpp.maxUnboundConnections must be an integer between 1 and 1000000 (got 0)')
  throwsMessage(t, () => resolveOptions({ smpp: { maxUnboundPerIp: '10' } }), 'config.smpp.maxUnboundPerIp must be an integer between 1 and 1000000 (got "10")')
  throwsMessage(t, () => resolveOptions({ smpp: { maxQueuedOutputBytes: 1024 } }), 'config.smpp.maxQueuedOutputBytes must be an integer between 65536 and 1073741824 (got 1024)')
})

t.test('simulator.errorCodes merge stat by stat; outcomes replace as a whole', async (t) => {
  const r = resolveOptions({ simulator: { errorCodes: { UNDELIV: 5, DELETED: 7 }, outcomes: { DELIVRD: 0.5, EXPIRED: 0.5 } } })
  t.same(r.simulator.errorCodes, { ...DEFAULTS.simulator.errorCodes, UNDELIV: 5, DELETED: 7 })
  t.same(r.simulator.outcomes, { DELIVRD: 0.5, EXPIRED: 0.5 })
})

t.test('accounts: arrays replace; only the settings given are kept (the engine fills in the rest at start)', async (t) => {
  const r = resolveOptions({
    session: { windowSize: 7, maxBindsPerAccount: 3 },
    accounts: [
      { systemId: 'acme', password: 'secret' },
      { systemId: 'x'.repeat(15), password: 'p'.repeat(8), maxBinds: 1, windowSize: 2 },
    ],
  })
  t.same(r.accounts, [
    { systemId: 'acme', password: 'secret' },
    { systemId: 'x'.repeat(15), password: 'p'.repeat(8), maxBinds: 1, windowSize: 2 },
  ])
  t.same(resolveOptions({ accounts: [{ systemId: 'a', password: 'b', rateLimit: { perSecond: 5, burst: 2 }, credit: 10, role: 'reseller' }] }).accounts, [
    { systemId: 'a', password: 'b', rateLimit: { perSecond: 5, burst: 2 }, credit: 10, prepaid: true, role: 'reseller' },
  ], 'an opening credit makes the account prepaid')
})

t.test('outcomes within 1e-6 of 1 are accepted', async (t) => {
  t.doesNotThrow(() => resolveOptions({ simulator: { outcomes: { DELIVRD: 0.3333333, UNDELIV: 0.3333333, REJECTD: 0.3333334 } } }))
  t.doesNotThrow(() => resolveOptions({ simulator: { outcomes: { DELIVRD: 0.1, UNDELIV: 0.2, REJECTD: 0.7 } } }))
})

// -------------------------------------------------------------------------------------------
t.test('validation messages', async (t) => {
  t.test('unknown key at top level', async (t) => {
    throwsMessage(t, () => resolveOptions({ foo: 1 }), 'config.foo is not a known key')
  })
  t.test('unknown key nested', async (t) => {
    throwsMessage(t, () => resolveOptions({ smpp: { prot: 1 } }), 'config.smpp.prot is not a known key')
    throwsMessage(t, () => resolveOptions({ timers: { enquireLink: 1 } }), 'config.timers.enquireLink is not a known key')
    throwsMessage(t, () => resolveOptions({ accounts: [{ systemId: 'a', password: 'b', rate: 5 }] }), 'config.accounts[0].rate is not a known key')
    throwsMessage(t, () => resolveOptions({ simulator: { outcomes: { ENROUTE: 1 } } }), 'config.simulator.outcomes.ENROUTE is not a known key')
    throwsMessage(t, () => resolveOptions({ simulator: { errorCodes: { SKIPPED: 1 } } }), 'config.simulator.errorCodes.SKIPPED is not a known key')
    throwsMessage(t, () => resolveOptions({ log: { 'file name': 'x' } }), 'config.log["file name"] is not a known key')
  })
  t.test('the source names the root', async (t) => {
    throwsMessage(t, () => resolveOptions({ windowSize: 1 }, 'options'), 'options.windowSize is not a known key')
    throwsMessage(t, () => resolveOptions({ smpp: { port: -1 } }, 'options'), 'options.smpp.port must be an integer between 0 and 65535 (got -1)')
  })
  t.test('wrong type', async (t) => {
    throwsMessage(t, () => resolveOptions(null), 'config must be an object (got null)')
    throwsMessage(t, () => resolveOptions([]), 'config must be an object (got [])')
    throwsMessage(t, () => resolveOptions({ smpp: 5 }), 'config.smpp must be an object (got 5)')
    throwsMessage(t, () => resolveOptions({ devTls: 'yes' }), 'config.devTls must be true or false (got "yes")')
    throwsMessage(t, () => resolveOptions({ tls: { requestCert: 1 } }), 'config.tls.requestCert must be true or false (got 1)')
    throwsMessage(t, () => resolveOptions({ tls: { requestCert: true } }), "config.tls.requestCert needs config.tls.ca: the CA certificates your ESMEs' certificates must be signed by (without it, a certificate from any public CA would pass)")
    throwsMessage(t, () => resolveOptions({ dataDir: '' }), 'config.dataDir must be a non-empty string (got "")')
    throwsMessage(t, () => resolveOptions({ smpp: { host: 8 } }), 'config.smpp.host must be a non-empty string (got 8)')
    throwsMessage(t, () => resolveOptions({ simulator: { enabled: 'no' } }), 'config.simulator.enabled must be true or false (got "no")')
    throwsMessage(t, () => resolveOptions({ http: { trustProxy: '10.0.0.1' } }), 'config.http.trustProxy must be an array of IP addresses or CIDR blocks (got "10.0.0.1")')
    throwsMessage(t, () => resolveOptions({ http: { trustProxy: ['10.0.0.0/33'] } }), 'config.http.trustProxy[0] must be an IPv4 or IPv6 address or CIDR block (got "10.0.0.0/33")')
    throwsMessage(t, () => resolveOptions({ http: { allowedOrigins: 'https://a.example' } }), 'config.http.allowedOrigins must be an array of origins such as "https://console.example.com" (got "https://a.example")')
    throwsMessage(t, () => resolveOptions({ http: { allowedOrigins: ['https://*.example.com'] } }), 'config.http.allowedOrigins[0] has a wildcard, which an origin never matches: list each origin the console is reached at, e.g. "https://console.example.com" (got "https://*.example.com")')
    for (const bad of ['https://a.example/console', 'a.example', 'ftp://a.example', 'null', 'https://user@a.example', 'https://a.example?x=1', 7]) {
      throwsMessage(t, () => resolveOptions({ http: { allowedOrigins: ['https://ok.example', bad] } }), `config.http.allowedOrigins[1] must be an origin, scheme://host[:port] with scheme http or https and no path (got ${JSON.stringify(bad)})`)
    }
    throwsMessage(t, () => resolveOptions({ http: { tlsPort: 'x' } }), 'config.http.tlsPort must be an integer between 0 and 65535 (got "x")')
    throwsMessage(t, () => resolveOptions({ http: { tlsPort: 8443 } }), 'config.http.tlsPort needs a certificate: set tls.cert and tls.key (the SMPP TLS listener\'s, shared), or start with --dev-tls')
    // one port per listener where their hosts overlap (EADDRINUSE at start named neither key)
    throwsMessage(t, () => resolveOptions({ devTls: true, tls: { port: 2775 } }), 'config.tls.port 2775 is also config.smpp.port: each listener needs a port of its own')
    throwsMessage(t, () => resolveOptions({ devTls: true, http: { tlsPort: 8080, tlsHost: '127.0.0.1' } }), 'config.http.tlsPort 8080 is also config.http.port: each listener needs a port of its own')
    throwsMessage(t, () => resolveOptions({ http: { port: 2775 } }), 'config.http.port 2775 is also config.smpp.port: each listener needs a port of its own')
    t.equal(resolveOptions({ tls: { port: 2775 } }).tls.port, 2775, 'no TLS listener (no certificate): its port is not in use')
    t.equal(resolveOptions({ smpp: { host: '127.0.0.1' }, http: { host: '127.0.0.2', port: 2775 } }).http.port, 2775, 'two hosts, one port: no conflict')
    t.equal(resolveOptions({ smpp: { port: 0 }, http: { port: 0 } }).http.port, 0, 'port 0 (any free port) twice: no conflict')
    t.same(resolveOptions({ simulator: { enabled: false }, routes: { mt: [] } }).simulator.enabled, false)
    throwsMessage(t, () => resolveOptions({ simulator: { enabled: false }, routes: { mt: [{ name: 'a', match: {}, action: { connector: 'simulator' } }] } }),
      'config.routes.mt[0].action.connector must be a configured connector id (got "simulator"; connectors: none)')
    throwsMessage(t, () => resolveOptions({ tls: { cert: 5, key: 'k' } }), 'config.tls.cert must be a file path or null (got 5)')
    throwsMessage(t, () => resolveOptions({ accounts: { a: 1 } }), 'config.accounts must be an array (got {"a":1})')
    throwsMessage(t, () => resolveOptions({ accounts: ['acme'] }), 'config.accounts[0] must be an object (got "acme")')
    throwsMessage(t, () => resolveOptions({ accounts: [{ systemId: 'a', password: 'b', outbind: { host: '127.0.0.1', port: 'x' } }] }),
      'config.accounts[0].outbind.port must be an integer between 1 and 65535 (got "x")')
    throwsMessage(t, () => resolveOptions({ session: { outbindRetryMs: [5000] } }), 'config.session.outbindRetryMs must be a [min, max] pair (got [5000])')
    throwsMessage(t, () => resolveOptions({ simulator: { outcomes: [1] } }), 'config.simulator.outcomes must be an object (got [1])')
  })
  t.test('out of range', async (t) => {
    throwsMessage(t, () => resolveOptions({ smpp: { port: 'abc' } }), 'config.smpp.port must be an integer between 0 and 65535 (got "abc")')
    throwsMessage(t, () => resolveOptions({ http: { port: 70000 } }), 'config.http.port must be an integer between 0 and 65535 (got 70000)')
    throwsMessage(t, () => resolveOptions({ tls: { port: 1.5 } }), 'config.tls.port must be an integer between 0 and 65535 (got 1.5)')
    throwsMessage(t, () => resolveOptions({ timers: { enquireLinkMs: -1 } }), 'config.timers.enquireLinkMs must be an integer between 0 and 2147483647 (got -1)')
    throwsMessage(t, () => resolveOptions({ timers: { responseMs: 50 } }), 'config.timers.responseMs must be an integer between 100 and 2147483647 (got 50)')
    throwsMessage(t, () => resolveOptions({ timers: { responseMs: 0 } }), 'config.timers.responseMs must be an integer between 100 and 2147483647 (got 0)')
    throwsMessage(t, () => resolveOptions({ session: { windowSize: 0 } }), 'config.session.windowSize must be a positive integer (got 0)')
    throwsMessage(t, () => resolveOptions({ session: { maxPduLength: 100 } }), 'config.session.maxPduLength must be an integer between 1024 and 16777216 (got 100)')
    throwsMessage(t, () => resolveOptions({ receipts: { maxAgeMs: 0 } }), 'config.receipts.maxAgeMs must be a positive integer (got 0)')
    throwsMessage(t, () => resolveOptions({ telemetry: { intervalMs: 10 } }), 'config.telemetry.intervalMs must be an integer between 50 and 60000 (got 10)')
    throwsMessage(t, () => resolveOptions({ admin: { password: 'short' } }), 'config.admin.password must be a string of 8 to 128 characters, or null')
    throwsMessage(t, () => resolveOptions({ simulator: { errorCodes: { UNDELIV: 1000 } } }), 'config.simulator.errorCodes.UNDELIV must be an integer between 0 and 999 (got 1000)')
    throwsMessage(t, () => resolveOptions({ timers: { inactivityMs: Number.NaN } }), 'config.timers.inactivityMs must be an integer between 0 and 2147483647 (got NaN)')
  })
  t.test('bad enum', async (t) => {
    throwsMessage(t, () => resolveOptions({ log: { level: 'loud' } }), 'config.log.level must be one of "debug", "info", "warn", "error", "silent" (got "loud")')
    throwsMessage(t, () => resolveOptions({ messageIdFormat: 'uuid' }), 'config.messageIdFormat must be one of "decimal", "hex" (got "uuid")')
    throwsMessage(t, () => resolveOptions({ receipts: { multipart: 'first' } }), 'config.receipts.multipart must be one of "every", "last" (got "first")')
  })
  t.test('accounts items', async (t) => {
    const acc = (o: object, extra: object[] = []): unknown => ({ accounts: [...extra, o] })
    throwsMessage(t, () => resolveOptions(acc({ password: 'p' })), 'config.accounts[0].systemId is required')
    throwsMessage(t, () => resolveOptions(acc({ systemId: 's' })), 'config.accounts[0].password is required')
    throwsMessage(t, () => resolveOptions(acc({ systemId: 'x'.repeat(16), password: 'p' }, [{ systemId: 'a', password: 'b' }])), `config.accounts[1].systemId must be 1 to 15 printable ASCII characters (got "${'x'.repeat(16)}")`)
    throwsMessage(t, () => resolveOptions(acc({ systemId: '', password: 'p' })), 'config.accounts[0].systemId must be 1 to 15 printable ASCII characters (got "")')
    throwsMessage(t, () => resolveOptions(acc({ systemId: 's', password: '123456789' })), 'config.accounts[0].password must be 1 to 8 characters (got 9)')
    throwsMessage(t, () => resolveOptions(acc({ systemId: 's', password: 'p', colour: 'red' })), 'config.accounts[0].colour is not a known key')
    throwsMessage(t, () => resolveOptions(acc({ systemId: 's', password: 'p', rateLimit: { perSecond: -1, burst: 1 } })), 'config.accounts[0].rateLimit.perSecond must be a number > 0 and <= 1000000 (got -1)')
    throwsMessage(t, () => resolveOptions(acc({ systemId: 's', password: 'p', windowSize: '5' })), 'config.accounts[0].windowSize must be an integer between 1 and 65535 (got "5")')
    throwsMessage(t, () => resolveOptions(acc({ systemId: 5, password: 'p' })), 'config.accounts[0].systemId must be 1 to 15 printable ASCII characters (got 5)')
    throwsMessage(t, () => resolveOptions(acc({ systemId: 'café', password: 'p' })), 'config.accounts[0].systemId must be 1 to 15 printable ASCII characters (got "café")')
    throwsMessage(t, () => resolveOptions(acc({ systemId: 'a', password: 'p' }, [{ systemId: 'a', password: 'q' }])), 'config.accounts[1].systemId "a" is already used by config.accounts[0]')
    throwsMessage(t, () => resolveOptions(acc({ systemId: 's', password: 'p', maxBinds: 0 })), 'config.accounts[0].maxBinds must be an integer between 1 and 10000 (got 0)')
  })
  t.test('routes and connectors', async (t) => {
    throwsMessage(t, () => resolveOptions({ routes: { mt: [{ name: 'a', match: {}, action: { connector: 'nope' } }] } }), 'config.routes.mt[0].action.connector must be a configured connector id (got "nope"; connectors: simulator)')
    throwsMessage(t, () => resolveOptions({ connectors: [{ id: 'b', kind: 'smpp', host: 'h', port: 1, systemId: 's' }] }), 'config.connectors[0].password is required')
    throwsMessage(t, () => resolveOptions({ connectors: [{ id: 'b', kind: 'ftp' }] }), 'config.connectors[0].kind must be one of "smpp", "http" (got "ftp")')
    throwsMessage(t, () => resolveOptions({ connectors: [{ id: 'simulator', kind: 'http', url: 'http://x' }] }), 'config.connectors[0].id "simulator" is already used by the built-in simulated carrier')
    throwsMessage(t, () => resolveOptions({ connectors: [{ id: 'h', kind: 'http', url: 'ftp://x' }] }), 'config.connectors[0].url must be an http:// or https:// URL (got "ftp://x")')
    for (const url of ['http://exa%mple.com/', 'http://[bad', 'https://host:99999/x']) {
      throwsMessage(t, () => resolveOptions({ connectors: [{ id: 'h', kind: 'http', url }] }), `config.connectors[0].url must be an http:// or https:// URL (got ${JSON.stringify(url)})`)
    }
    throwsMessage(t, () => resolveOptions({ overload: { highWater: 10, lowWater: 10 } }), 'config.overload.lowWater must be below overload.highWater (got 10)')
    const r = resolveOptions({ connectors: [{ id: 'up', kind: 'smpp', host: '127.0.0.1', port: 2776, systemId: 'a', password: 'b' }], routes: { mt: [{ name: 'all', match: {}, action: { failover: ['up', 'simulator'] } }] } })
    t.match(r.connectors[0], { id: 'up', kind: 'smpp', bindType: 'transceiver', windowSize: 10, reconnectMs: [1000, 60000], throttlePauseMs: [1000, 30000], interfaceVersion: 0x34, ca: null, receiptIds: 'exact' }, 'smpp connector defaults')
    const smppC = (over: Record<string, unknown>) => ({ id: 'up', kind: 'smpp', host: 'h', port: 1, systemId: 'a', password: 'b', ...over })
    t.same((resolveOptions({ connectors: [smppC({ throttlePauseMs: [200, 5000] })] }).connectors[0] as { throttlePauseMs: number[] }).throttlePauseMs, [200, 5000], 'throttlePauseMs is kept')
    throwsMessage(t, () => resolveOptions({ connectors: [smppC({ throttlePauseMs: [5000, 200] })] }), 'config.connectors[0].throttlePauseMs must have min <= max (got [5000,200])')
    throwsMessage(t, () => resolveOptions({ connectors: [smppC({ throttlePauseMs: [5, 200] })] }), 'config.connectors[0].throttlePauseMs[0] must be an integer between 10 and 2147483647 (got 5)')
    // the submit_sm unanswered in a row that make an smpp upstream stalled (docs/CONNECTORS.md)
    t.equal((r.connectors[0] as { stallAfterTimeouts: number }).stallAfterTimeouts, 3, 'stallAfterTimeouts: 3 by default')
    t.equal((resolveOptions({ connectors: [smppC({ stallAfterTimeouts: 1 })] }).connectors[0] as { stallAfterTimeouts: number }).stallAfterTimeouts, 1, 'stallAfterTimeouts 1 is kept')
    for (const bad of [0, 2.5, '3', null]) {
      throwsMessage(t, () => resolveOptions({ connectors: [smppC({ stallAfterTimeouts: bad })] }), `config.connectors[0].stallAfterTimeouts must be an integer between 1 and 10000 (got ${JSON.stringify(bad)})`)
    }
    throwsMessage(t, () => resolveOptions({ connectors: [{ id: 'h', kind: 'http', url: 'http://x', stallAfterTimeouts: 3 }] }), 'config.connectors[0].stallAfterTimeouts is not a known key')
    const httpC = (over: Record<string, unknown> = {}) => resolveOptions({ connectors: [{ id: 'h', kind: 'http', url: 'http://x', ...over }] }).connectors[0]
    t.match(httpC(), { throttlePauseMs: [1000, 30000], probeMs: [1000, 30000], probeUrl: null }, 'http connector defaults: its 429 pause, its probes while down (a HEAD to its url)')
    t.match(httpC({ throttlePauseMs: [200, 5000], probeMs: [500, 8000], probeUrl: 'https://p.example/health' }), { throttlePauseMs: [200, 5000], probeMs: [500, 8000], probeUrl: 'https://p.example/health' }, 'kept')
    throwsMessage(t, () => httpC({ throttlePauseMs: [1, 2] }), 'config.connectors[0].throttlePauseMs[0] must be an integer between 10 and 2147483647 (got 1)')
    throwsMessage(t, () => httpC({ probeMs: [5000, 200] }), 'config.connectors[0].probeMs must have min <= max (got [5000,200])')
    throwsMessage(t, () => httpC({ probeUrl: 'ftp://x' }), 'config.connectors[0].probeUrl must be an http:// or https:// URL (got "ftp://x")')
    t.equal((resolveOptions({ connectors: [smppC({ receiptIds: 'hex-submit' })] }).connectors[0] as { receiptIds: string }).receiptIds, 'hex-submit', 'receiptIds is kept')
    throwsMessage(t, () => resolveOptions({ connectors: [smppC({ receiptIds: 'hexadecimal' })] }),
      'config.connectors[0].receiptIds must be one of "exact", "decimal", "hex", "hex-submit", "hex-receipt" (got "hexadecimal")')
    throwsMessage(t, () => resolveOptions({ connectors: [smppC({ id: 'tx', bindType: 'transmitter', receiptIds: 'hex' }), smppC({ id: 'rx', bindType: 'receiver' })] }),
      'config.connectors[1].receiptIds must be "hex" as in config.connectors[0] (got "exact"): both bind to a@h:1 and share its message ids')
    t.equal(resolveOptions({ connectors: [smppC({ id: 'tx', receiptIds: 'hex' }), smppC({ id: 'rx', receiptIds: 'hex' }), smppC({ id: 'other', systemId: 'b', receiptIds: 'decimal' })] }).connectors.length, 3,
      'entries of one upstream account with the same receiptIds, another account with its own')
    const up = (ca: unknown) => resolveOptions({ connectors: [{ id: 'up', kind: 'smpp', host: 'h', port: 1, systemId: 'a', password: 'b', tls: true, ca }] })
    const missing = join(tmp, 'no-such-ca.pem')
    throwsMessage(t, () => up(missing), `config.connectors[0].ca cannot be read: ENOENT (${missing})`)
    const notPem = join(tmp, 'not-a-ca.txt')
    writeFileSync(notPem, 'hello')
    throwsMessage(t, () => up(notPem), `config.connectors[0].ca must be a PEM file of certificates (no "-----BEGIN CERTIFICATE-----" in ${notPem})`)
    throwsMessage(t, () => up(''), 'config.connectors[0].ca must be a file path or null (got "")')
    const broken = join(tmp, 'broken-ca.pem')
    writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')
    const refusal = (() => { try { up(broken); return '' } catch (e) { return (e as Error).message } })()
    t.ok(refusal.startsWith(`config.connectors[0].ca: certificate 1 of ${broken} cannot be parsed (`), `a certificate that does not parse is refused at start: ${refusal}`)
    const { certPath } = await devTlsCert(join(tmp, 'tls'))
    t.equal((up(certPath).connectors[0] as { ca: string | null }).ca, certPath, 'a PEM file of certificates is kept as its path (read when the connector starts)')
    throwsMessage(t, () => resolveOptions({ connectors: [{ id: 'up', kind: 'smpp', host: 'h', port: 1, systemId: 'a', password: 'b', ca: certPath }] }),
      "config.connectors[0].ca is set but config.connectors[0].tls is not true (the ca verifies the upstream's TLS certificate)")
    t.same(r.routes?.mt[0].action, { failover: ['up', 'simulator'] })
  })
  t.test('http connector receipts', async (t) => {
    const httpC = (over: Record<string, unknown> = {}) => resolveOptions({ connectors: [{ id: 'h', kind: 'http', url: 'https://p.example/sms', ...over }] }).connectors[0] as HttpConnectorOptions
    t.match(httpC(), { receipts: 'none', answerId: 'id', callbackToken: null }, 'default: receipts "none" (a 2xx is DELIVRD)')
    const token = 'abcdefghijklmnop'
    const cb = httpC({ receipts: 'callback', callbackToken: token, answerId: 'messages.0.id', callbackFields: { list: 'results', status: 'status.groupName', err: null }, callbackStatuses: { Sent: 'ACCEPTD', '3': 'UNDELIV', failed: 'REJECTD' } })
    t.same(cb.callbackFields, { list: 'results', id: 'id', status: 'status.groupName', err: null, doneAt: 'doneAt' }, 'fields merge over the defaults; err null is not read')
    t.match(cb.callbackStatuses, { sent: 'ACCEPTD', '3': 'UNDELIV', failed: 'REJECTD', delivered: 'DELIVRD', expired: 'EXPIRED' }, 'words lower-cased, over the default words')
    t.equal(cb.answerId, 'messages.0.id')
    for (const c of [httpC(), cb]) t.same(resolveOptions({ connectors: [c] }).connectors[0], c, `resolving a resolved connector (receipts "${c.receipts}") changes nothing`)
    const at = 'config.connectors[0]'
    throwsMessage(t, () => httpC({ receipts: 'webhook' }), `${at}.receipts must be one of "none", "callback" (got "webhook")`)
    throwsMessage(t, () => httpC({ receipts: 'callback' }), `${at}.callbackToken is required with receipts "callback": the secret the provider's callbacks carry`)
    throwsMessage(t, () => httpC({ receipts: 'callback', callbackToken: 'short' }), `${at}.callbackToken must be 16 to 256 printable ASCII characters without spaces (got 5 characters)`)
    throwsMessage(t, () => httpC({ receipts: 'callback', callbackToken: 'with a space in it!' }), `${at}.callbackToken must be 16 to 256 printable ASCII characters without spaces (got 19 characters)`)
    throwsMessage(t, () => httpC({ callbackToken: token }), `${at}.callbackToken is set but ${at}.receipts is not "callback"`)
    throwsMessage(t, () => httpC({ answerId: 'a..b' }), `${at}.answerId must be a dotted path of JSON keys such as "id" or "messages.0.id" (got "a..b")`)
    throwsMessage(t, () => httpC({ receipts: 'callback', callbackToken: token, callbackFields: { msgid: 'x' } }), `${at}.callbackFields.msgid is not a known key`)
    throwsMessage(t, () => httpC({ receipts: 'callback', callbackToken: token, callbackFields: { id: null } }), `${at}.callbackFields.id must be a dotted path of JSON keys such as "id" or "messages.0.id" (got null)`)
    throwsMessage(t, () => httpC({ receipts: 'callback', callbackToken: token, callbackStatuses: { ok: 'DELIVERED' } }),
      `${at}.callbackStatuses.ok must be one of "DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED", "UNKNOWN", "ACCEPTD", "ENROUTE" (got "DELIVERED")`)
    throwsMessage(t, () => httpC({ receipts: 'callback', callbackToken: token, callbackStatuses: ['delivered'] }), `${at}.callbackStatuses must be an object of status words and stats (got ["delivered"])`)
  })
  t.test('outcomes', async (t) => {
    throwsMessage(t, () => resolveOptions({ simulator: { outcomes: { DELIVRD: 0.5, UNDELIV: 0.45 } } }), 'config.simulator.outcomes must add up to 1 (got 0.95)')
    throwsMessage(t, () => resolveOptions({ simulator: { outcomes: {} } }), 'config.simulator.outcomes must add up to 1 (got 0)')
    throwsMessage(t, () => resolveOptions({ simulator: { outcomes: { DELIVRD: 1.5, UNDELIV: -0.5 } } }), 'config.simulator.outcomes.DELIVRD must be a number between 0 and 1 (got 1.5)')
    throwsMessage(t, () => resolveOptions({ simulator: { outcomes: { DELIVRD: '1' } } }), 'config.simulator.outcomes.DELIVRD must be a number between 0 and 1 (got "1")')
  })
  t.test('fixedOutcomes: test numbers', async (t) => {
    t.same(resolveOptions({ simulator: { fixedOutcomes: { 4915100000002: 'UNDELIV' } } } as never).simulator.fixedOutcomes, { 4915100000002: 'UNDELIV' })
    t.same(resolveOptions({}).simulator.fixedOutcomes, {}, 'none by default')
    throwsMessage(t, () => resolveOptions({ simulator: { fixedOutcomes: { '+49151': 'UNDELIV' } } } as never),
      'config.simulator.fixedOutcomes["+49151"]: a destination prefix is 1 to 20 digits, international form without + or 00 (got "+49151")')
    throwsMessage(t, () => resolveOptions({ simulator: { fixedOutcomes: { 49151: 'FAILED' } } } as never),
      'config.simulator.fixedOutcomes["49151"] must be one of DELIVRD EXPIRED DELETED UNDELIV ACCEPTD UNKNOWN REJECTD (got "FAILED")')
    throwsMessage(t, () => resolveOptions({ simulator: { fixedOutcomes: ['49151'] } } as never),
      'config.simulator.fixedOutcomes must be an object of destination prefixes and stats, e.g. {"4915100000002": "UNDELIV"} (got ["49151"])')
  })
  t.test('[min, max] ranges', async (t) => {
    throwsMessage(t, () => resolveOptions({ simulator: { deliveryDelayMs: [2000, 200] } }), 'config.simulator.deliveryDelayMs must have min <= max (got [2000,200])')
    throwsMessage(t, () => resolveOptions({ simulator: { deliveryDelayMs: 200 } }), 'config.simulator.deliveryDelayMs must be a [min, max] pair (got 200)')
    throwsMessage(t, () => resolveOptions({ simulator: { deliveryDelayMs: [1, 2, 3] } }), 'config.simulator.deliveryDelayMs must be a [min, max] pair (got [1,2,3])')
    throwsMessage(t, () => resolveOptions({ simulator: { deliveryDelayMs: [-1, 5] } }), 'config.simulator.deliveryDelayMs[0] must be an integer between 0 and 2147483647 (got -1)')
    throwsMessage(t, () => resolveOptions({ receipts: { redeliveryMs: [0, 5] } }), 'config.receipts.redeliveryMs[0] must be an integer between 1 and 2147483647 (got 0)')
    throwsMessage(t, () => resolveOptions({ receipts: { redeliveryMs: [10, 5] } }), 'config.receipts.redeliveryMs must have min <= max (got [10,5])')
  })
  t.test('tls.minVersion and tls.ciphers: a version of the list, a cipher string OpenSSL takes; TLS 1.3 only not with HTTPS', async (t) => {
    throwsMessage(t, () => resolveOptions({ tls: { minVersion: 'TLSv1.1' } }), 'config.tls.minVersion must be one of "TLSv1.2", "TLSv1.3" (got "TLSv1.1")')
    throwsMessage(t, () => resolveOptions({ tls: { ciphers: 'NOT-A-SUITE' } }), 'config.tls.ciphers is not a cipher list OpenSSL accepts: no cipher match (got "NOT-A-SUITE")')
    throwsMessage(t, () => resolveOptions({ tls: { ciphers: '' } }), 'config.tls.ciphers must be a non-empty string (got "")')
    throwsMessage(t, () => resolveOptions({ tls: { minVersion: 'TLSv1.3', cert: 'c.pem', key: 'k.pem' }, http: { tlsPort: 8443 } }),
      'config.tls.minVersion "TLSv1.3" cannot apply to HTTPS (config.http.tlsPort): uWebSockets.js has no minimum-version setting and also takes TLS 1.2; use "TLSv1.2" with http.tlsPort, or serve HTTPS from a reverse proxy')
    t.equal(resolveOptions({ tls: { ciphers: null } }).tls.ciphers, null, 'null: Node\'s default list')
  })
  t.test('tls cert and key go together', async (t) => {
    throwsMessage(t, () => resolveOptions({ tls: { cert: 'c.pem' } }), 'config.tls.key must be set when config.tls.cert is set')
    throwsMessage(t, () => resolveOptions({ tls: { key: 'k.pem' } }), 'config.tls.cert must be set when config.tls.key is set')
  })
  t.test('long and odd values stay short and on one line', async (t) => {
    throwsMessage(t, () => resolveOptions({ dataDir: ['x'.repeat(100)] }), `config.dataDir must be a non-empty string (got ["${'x'.repeat(37)}…)`)
    throwsMessage(t, () => resolveOptions({ smpp: { host: 'a\nb', port: 'x\ny' } }), 'config.smpp.port must be an integer between 0 and 65535 (got "x\\ny")')
  })
})

// -------------------------------------------------------------------------------------------
t.test('loadConfig', async (t) => {
  t.test('no file: defaults', async (t) => {
    t.same(loadConfig({}, {}), DEFAULTS)
    t.same(loadConfig({}, { SMSC_CONFIG: '' }), DEFAULTS, 'an empty SMSC_CONFIG is unset')
  })
  t.test('reads the file named by SMSC_CONFIG; --config wins over it', async (t) => {
    const a = file(JSON.stringify({ smpp: { port: 1111 } }))
    const b = file(JSON.stringify({ smpp: { port: 2222 } }))
    t.equal(loadConfig({}, { SMSC_CONFIG: a }).smpp.port, 1111)
    t.equal(loadConfig({ config: b }, { SMSC_CONFIG: a }).smpp.port, 2222)
  })
  t.test('flags override the file', async (t) => {
    const f = file(JSON.stringify({ smpp: { host: '127.0.0.1', port: 1 }, tls: { port: 2 }, dataDir: '/a', devTls: false }))
    const r = loadConfig({ config: f, smppPort: 10, tlsPort: 20, httpPort: 30, dataDir: '/b', devTls: true }, {})
    t.same(r.smpp, { ...DEFAULTS.smpp, host: '127.0.0.1', port: 10 }, 'merged, host kept')
    t.equal(r.tls.port, 20)
    t.equal(r.http.port, 30)
    t.equal(r.dataDir, '/b')
    t.equal(r.devTls, true)
    t.equal(loadConfig({ smppPort: 0 }, {}).smpp.port, 0, 'without a file')
  })
  t.test('a file with a UTF-8 BOM is read', async (t) => {
    t.equal(loadConfig({ config: file('\ufeff{"http":{"port":81}}') }, {}).http.port, 81)
  })
  t.test('missing file', async (t) => {
    const p = join(tmp, 'nope.json')
    throwsMessage(t, () => loadConfig({ config: p }, {}), `cannot read config file ${JSON.stringify(p)}: no such file (ENOENT)`)
    throwsMessage(t, () => loadConfig({}, { SMSC_CONFIG: p }), `cannot read config file ${JSON.stringify(p)}: no such file (ENOENT)`)
  })
  t.test('a directory instead of a file', async (t) => {
    throwsMessage(t, () => readConfigFile(tmp), `cannot read config file ${JSON.stringify(tmp)}: is a directory (EISDIR)`)
  })
  t.test('bad JSON names the file, the problem and line:column', async (t) => {
    const a = file('{\n  "smpp": { "port": 1 },\n}\n')
    throwsMessage(t, () => loadConfig({ config: a }, {}), `config file ${JSON.stringify(a)} is not valid JSON: Expected double-quoted property name at line 3 column 1`)
    // V8 gives no position for this one ("Unexpected token '}', "..." is not valid JSON").
    const b = file('{\n  "smpp": {\n    "port": }\n}')
    throwsMessage(t, () => loadConfig({ config: b }, {}), `config file ${JSON.stringify(b)} is not valid JSON: Unexpected token '}' at line 3 column 13`)
    const c = file('')
    throwsMessage(t, () => loadConfig({ config: c }, {}), `config file ${JSON.stringify(c)} is not valid JSON: Unexpected end of JSON input at line 1 column 1`)
  })
  t.test('errors in the file content are prefixed with the file name', async (t) => {
    const f = file(JSON.stringify({ smpp: { port: 'abc' } }))
    throwsMessage(t, () => loadConfig({ config: f }, {}), `${f}: config.smpp.port must be an integer between 0 and 65535 (got "abc")`)
    const g = file('[]')
    throwsMessage(t, () => loadConfig({ config: g, smppPort: 5 }, {}), `${g}: config must be an object (got [])`)
    const h = file(JSON.stringify({ smpp: 7 }))
    throwsMessage(t, () => loadConfig({ config: h, smppPort: 5 }, {}), `${h}: config.smpp must be an object (got 7)`, 'SMSC_ERR_CONFIG_INVALID')
  })
  t.test('flag values are checked and named as flags', async (t) => {
    throwsMessage(t, () => loadConfig({ smppPort: 70000 }, {}), '--smpp-port must be an integer between 0 and 65535 (got 70000)', 'SMSC_ERR_CLI_USAGE')
    throwsMessage(t, () => loadConfig({ httpPort: -1 }, {}), '--http-port must be an integer between 0 and 65535 (got -1)', 'SMSC_ERR_CLI_USAGE')
    throwsMessage(t, () => loadConfig({ dataDir: '' }, {}), '--data-dir must be a directory path (got "")', 'SMSC_ERR_CLI_USAGE')
    throwsMessage(t, () => loadConfig({ config: '' }, {}), '--config must be a file path (got "")', 'SMSC_ERR_CLI_USAGE')
  })
})

t.test('jsonErrorOffset agrees with V8 on mutated JSON', async (t) => {
  const base = JSON.stringify({ a: [1, -2.5e3, 'x\u00e9\n', true, false, null], b: { c: {} }, d: [] }, null, 1)
  const edit = fc.tuple(
    fc.nat(base.length),
    fc.nat(2),
    fc.constantFrom('', '}', ']', ',', ':', '"', '\\', 'u', '0', '-', '.', 'e', '1', 'x', 't', 'n', ' ', '\n', '{', '[', '\u0001'),
  )
  let positioned = 0
  let tokens = 0
  fc.assert(
    fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
      let s = base
      for (const [i, del, ins] of edits) s = s.slice(0, Math.min(i, s.length)) + ins + s.slice(Math.min(i, s.length) + del)
      let msg: string | null = null
      try {
        JSON.parse(s)
      } catch (e) {
        msg = (e as Error).message
      }
      const mine = jsonErrorOffset(s)
      if (msg === null) return mine === -1
      const at = / at position (\d+)/.exec(msg)
      if (at) {
        positioned++
        return mine === Number(at[1])
      }
      const tok = /^Unexpected token '([^]*?)', /.exec(msg)
      if (tok) {
        tokens++
        return s[mine] === tok[1]
      }
      if (msg.includes('end of JSON input')) return mine === s.length
      return true
    }),
    { numRuns: 3000 },
  )
  t.ok(positioned > 100 && tokens > 100, `compared ${positioned} positions and ${tokens} tokens`)
})

// -------------------------------------------------------------------------------------------
t.test('parseCliArgs', async (t) => {
  t.same(parseCliArgs([]), { command: '', flags: {}, positionals: [] }, 'nothing')
  t.same(parseCliArgs(['start']), { command: 'start', flags: {}, positionals: [] })
  t.same(parseCliArgs(['start', '--config', 'a.json', '--smpp-port=2776']), {
    command: 'start',
    flags: { config: 'a.json', 'smpp-port': '2776' },
    positionals: [],
  }, '--flag value and --flag=value')
  t.same(parseCliArgs(['--dev-tls', 'start']), { command: 'start', flags: { 'dev-tls': true }, positionals: [] }, 'a boolean flag does not eat the next word')
  t.same(parseCliArgs(['start', '--verbose']), { command: 'start', flags: { verbose: true }, positionals: [] }, 'a trailing flag is true')
  t.same(parseCliArgs(['start', '--a', '--b', 'x']), { command: 'start', flags: { a: true, b: 'x' }, positionals: [] }, 'a flag followed by a flag is true')
  t.same(parseCliArgs(['start', '--no-dev-tls']), { command: 'start', flags: { 'dev-tls': false }, positionals: [] }, '--no-<boolean>')
  t.same(parseCliArgs(['start', '--no-such', 'x']), { command: 'start', flags: { 'no-such': 'x' }, positionals: [] }, '--no- only negates known booleans')
  t.same(parseCliArgs(['accounts', 'add', 'acme', 'pw', '--max-binds', '3']), {
    command: 'accounts',
    sub: 'add',
    flags: { 'max-binds': '3' },
    positionals: ['acme', 'pw'],
  }, 'command, sub, positionals')
  t.same(parseCliArgs(['-h']), { command: '', flags: { h: true }, positionals: [] }, 'short flag')
  t.same(parseCliArgs(['x', '--offset', '-5']), { command: 'x', flags: { offset: '-5' }, positionals: [] }, 'negative numbers are values')
  t.same(parseCliArgs(['send', '--', '--not-a-flag', 'b']), { command: 'send', sub: '--not-a-flag', flags: {}, positionals: ['b'] }, '-- ends flags')
  t.same(parseCliArgs(['s', '--k=', '--k2=a=b']), { command: 's', flags: { k: '', k2: 'a=b' }, positionals: [] }, '= splits once')
  t.same(parseCliArgs(['s', '--p', '1', '--p', '2']), { command: 's', flags: { p: '2' }, positionals: [] }, 'last one wins')
  t.same(parseCliArgs(['--json', 'x'], []), { command: '', flags: { json: 'x' }, positionals: [] }, 'booleans list is a parameter')
})

t.test('parsePortFlag', async (t) => {
  t.equal(parsePortFlag('smpp-port', undefined), undefined)
  t.equal(parsePortFlag('smpp-port', '2775'), 2775)
  t.equal(parsePortFlag('smpp-port', '0'), 0)
  t.equal(parsePortFlag('smpp-port', 65535), 65535)
  throwsMessage(t, () => parsePortFlag('smpp-port', 'x'), '--smpp-port must be an integer between 0 and 65535 (got "x")', 'SMSC_ERR_CLI_USAGE')
  throwsMessage(t, () => parsePortFlag('smpp-port', '65536'), '--smpp-port must be an integer between 0 and 65535 (got "65536")', 'SMSC_ERR_CLI_USAGE')
  throwsMessage(t, () => parsePortFlag('tls-port', '1e3'), '--tls-port must be an integer between 0 and 65535 (got "1e3")', 'SMSC_ERR_CLI_USAGE')
  throwsMessage(t, () => parsePortFlag('http-port', ''), '--http-port must be an integer between 0 and 65535 (got "")', 'SMSC_ERR_CLI_USAGE')
  throwsMessage(t, () => parsePortFlag('http-port', true), '--http-port needs a value', 'SMSC_ERR_CLI_USAGE')
})

t.test('configArgsFromFlags', async (t) => {
  const { flags } = parseCliArgs(['start', '--config', 'c.json', '--smpp-port', '1', '--tls-port=2', '--http-port', '3', '--data-dir', 'd', '--dev-tls'])
  t.same(configArgsFromFlags(flags), { config: 'c.json', smppPort: 1, tlsPort: 2, httpPort: 3, dataDir: 'd', devTls: true })
  t.same(configArgsFromFlags({}), {})
  t.same(configArgsFromFlags({ 'dev-tls': 'false' }), { devTls: false })
  throwsMessage(t, () => configArgsFromFlags({ 'dev-tls': 'maybe' }), '--dev-tls must be true or false (got "maybe")', 'SMSC_ERR_CLI_USAGE')
  throwsMessage(t, () => configArgsFromFlags({ config: true }), '--config needs a path', 'SMSC_ERR_CLI_USAGE')
  throwsMessage(t, () => configArgsFromFlags({ 'smpp-port': 'x' }), '--smpp-port must be an integer between 0 and 65535 (got "x")', 'SMSC_ERR_CLI_USAGE')
  t.same(configArgsFromFlags({ 'smpp-host': '127.0.0.1', 'tls-host': '::1', 'http-host': 'localhost' }), { smppHost: '127.0.0.1', tlsHost: '::1', httpHost: 'localhost' })
  throwsMessage(t, () => configArgsFromFlags({ 'smpp-host': true }), '--smpp-host needs an address to listen on, e.g. 127.0.0.1 (got true)', 'SMSC_ERR_CLI_USAGE')
  throwsMessage(t, () => configArgsFromFlags({ 'http-host': '' }), '--http-host needs an address to listen on, e.g. 127.0.0.1 (got "")', 'SMSC_ERR_CLI_USAGE')
})

t.test('host flags override the config file\'s listen addresses, and only those', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'smsc-cfg-host-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const f = join(dir, 'c.json')
  writeFileSync(f, JSON.stringify({ smpp: { host: '0.0.0.0', port: 2800 }, http: { port: 8090 } }))
  const o = loadConfig({ config: f, smppHost: '127.0.0.1', httpHost: '127.0.0.2', tlsHost: '127.0.0.3' }, {})
  t.same([o.smpp.host, o.smpp.port, o.http.host, o.http.port, o.tls.host], ['127.0.0.1', 2800, '127.0.0.2', 8090, '127.0.0.3'])
  t.equal(loadConfig({ config: f }, {}).smpp.host, '0.0.0.0', 'without the flag the file wins')
})

t.test('assertKnownFlags', async (t) => {
  t.doesNotThrow(() => assertKnownFlags({ config: 'x' }, ['config', 'help']))
  throwsMessage(t, () => assertKnownFlags({ confg: 'x' }, ['config']), '--confg is not a known flag', 'SMSC_ERR_CLI_USAGE')
})

t.test('OUTCOME_STATS are the final receipt stats', async (t) => {
  t.same([...OUTCOME_STATS].sort(), ['ACCEPTD', 'DELETED', 'DELIVRD', 'EXPIRED', 'REJECTD', 'UNDELIV', 'UNKNOWN'])
})

t.test('docs/CONFIG.md documents every key, and its example is valid', async (t) => {
  const doc = readFileSync(join(process.cwd(), 'docs', 'CONFIG.md'), 'utf8')
  const leaves: string[] = []
  const walk = (o: object, path: string): void => {
    for (const [k, v] of Object.entries(o)) {
      const p = path ? `${path}.${k}` : k
      if (typeof v === 'object' && v !== null && !Array.isArray(v) && !/^simulator\.(outcomes|errorCodes)$/.test(p)) walk(v, p)
      else leaves.push(p)
    }
  }
  walk(DEFAULTS, '')
  const accountKeys = Object.keys(defaultSettings({ maxBinds: 1, windowSize: 1, messageIdFormat: 'decimal' }))
  for (const k of ['systemId', 'password', 'credit', ...accountKeys]) leaves.push(`accounts[i].${k}`)
  t.ok(leaves.length > 30, `${leaves.length} keys`)
  for (const key of leaves) t.ok(doc.includes(`| \`${key}\` |`), `${key} has a row`)
  for (const flag of ['--config', '--smpp-port', '--tls-port', '--http-port', '--data-dir', '--dev-tls', 'SMSC_CONFIG']) {
    t.ok(doc.includes(flag), `${flag} documented`)
  }
  const example = /```json\n([^]*?)```/.exec(doc)
  t.ok(example, 'has a JSON example')
  if (example) t.doesNotThrow(() => resolveOptions(JSON.parse(example[1])), 'the example resolves')
})
