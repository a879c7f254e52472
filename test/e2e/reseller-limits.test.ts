/**
 * A reseller's limits bound its users (docs/ACCOUNTS.md), end to end: a real engine, real SMPP binds, the CLI
 * (as the operator and `--as res1`) and the admin and send APIs. The operator's trial that found the hole:
 *   smsc account set res1 --allowed-sources "RES*" --rate 10          (operator)
 *   smsc account add shop3 --allowed-sources BANKOFX                   (as res1)
 *   smsc account set shop3 --rate 0 --max-binds 1000 --window-size 10000
 *   smsc account set shop1 --allowed-sources ""
 * were all accepted, and shop3 sent as BANKOFX. Here each is refused (403 SMSC_ERR_ADMIN_FORBIDDEN naming the
 * field and the bound) and leaves the account as it was; a user whose own list was set before its reseller was
 * tightened (shop1: BANKOFX) is refused that sender at submit at once, on a bind already open; and the
 * reseller's rate limit caps its users' traffic together.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { projectRoot } from '../helpers/engine'
import { gsm, messageText, openEsme, parseReceipt, receiptFor, type Esme } from '../helpers/esme'
import { AdminApi, PolicyStatus as P, hex, httpCall, sleep, startPolicyEngine, statusCounts } from '../helpers/policy'

const DEST = '4915112345678'
const ROOT = projectRoot()

/** Runs the CLI against the running engine (its data dir); `as` a reseller with its password. */
function smsc(args: string[], dataDir: string, as?: { systemId: string; password: string }): { code: number | null; out: string; err: string } {
  const extra = as ? ['--as', as.systemId] : []
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'smsc.js'), ...args, '--data-dir', dataDir, ...extra], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...(as ? { SMSC_AS_PASSWORD: as.password } : {}) },
  })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

/** An account's view without its live usage (binds open change while the test runs). */
async function settings(api: AdminApi, systemId: string): Promise<Record<string, unknown>> {
  const { usage: _usage, ...rest } = await api.account(systemId)
  return rest
}

t.test("a reseller's limits bound its users: refused admin changes, sender ids checked at submit against both lists, one rate for the tree", async (t) => {
  const engine = await startPolicyEngine(t, {
    accounts: [
      { systemId: 'res1', password: 'rpw1', role: 'reseller' },
      // its own list set while res1 had none
      { systemId: 'shop1', password: 'spw1', parent: 'res1', allowedSources: ['BANKOFX', 'RES1'] },
      { systemId: 'shop2', password: 'spw2', parent: 'res1' },
    ],
  })
  const d = engine.dataDir
  const RES1 = { systemId: 'res1', password: 'rpw1' }
  const api = await AdminApi.login(engine)
  const shop1 = await openEsme(t, { port: engine.smppPort, systemId: 'shop1', password: 'spw1', kind: 'transceiver' })
  const submit = (esme: Esme, source: string, text = `from ${source}`) =>
    esme.submit({ source_addr: source, source_addr_ton: 5, destination_addr: DEST, short_message: gsm(text), registered_delivery: 1 })

  // Before: res1 has no list, so shop1's own decides (this is how BANKOFX got through).
  const before = await submit(shop1, 'BANKOFX', 'before')
  t.equal(hex(before.command_status), '0x00', 'res1 without a list: shop1 sends as BANKOFX')

  // The operator tightens res1 (the trial's command): not bound, accepted.
  const tighten = smsc(['account', 'set', 'res1', '--allowed-sources', 'RES*', '--rate', '10'], d)
  t.equal(tighten.code, 0, tighten.err)
  t.match(await api.account('res1'), { allowedSources: ['RES*'], rateLimit: { perSecond: 10, burst: 10 } })

  await t.test("on the bind already open, shop1's BANKOFX is refused at once; its own list still applies too", async (t) => {
    const cases: [string, number][] = [['BANKOFX', P.ESME_RINVSRCADR], ['RES1', 0], ['RES2', P.ESME_RINVSRCADR]]
    for (const [source, want] of cases) t.equal(hex((await submit(shop1, source)).command_status), hex(want), `shop1 as ${source} → ${hex(want)}`)
    t.notOk(shop1.closed, 'the bind stays up')
    const shop2 = await openEsme(t, { port: engine.smppPort, systemId: 'shop2', password: 'spw2', kind: 'transmitter' })
    t.equal(hex((await submit(shop2, 'BANKOFX')).command_status), hex(P.ESME_RINVSRCADR), "shop2 (own list empty: any) is held to res1's")
    t.equal(hex((await submit(shop2, 'RES2')).command_status), '0x00', 'shop2 as RES2: within res1')
    // The send API says whose list refused it.
    const sent = await api.ok<{ results: { ok: boolean; status?: number; code?: string; error?: string }[] }>('POST', '/api/v1/messages',
      { systemId: 'shop1', messages: [{ from: 'BANKOFX', to: DEST, text: 'api' }] })
    t.match(sent.results[0], { ok: false, status: P.ESME_RINVSRCADR, code: 'SMSC_ERR_SOURCE_NOT_ALLOWED', error: /reseller res1/ })
    // shop1's settings stay as they were; its view says what is beyond res1's.
    const v = await api.account('shop1')
    t.same(v.allowedSources, ['BANKOFX', 'RES1'], 'shop1 keeps its list')
    t.same(v.exceedsReseller, ['allowedSources', 'rateLimit'], "the view names what is beyond res1's (its list, and unlimited rate)")
    t.match(smsc(['account', 'show', 'shop1'], d).out, /over res1's limits +allowedSources, rateLimit/, 'so does smsc account show')
  })

  await t.test('as res1: the changes of the trial are refused and change nothing', async (t) => {
    const add = smsc(['account', 'add', 'shop3', '--allowed-sources', 'BANKOFX'], d, RES1)
    t.equal(add.code, 2)
    t.match(add.err, `account.allowedSources: "BANKOFX" is not within res1's allowed sources (RES*)`)
    t.equal((await api.call('GET', '/api/v1/accounts/shop3')).status, 404, 'no shop3')

    const shop1Before = await settings(api, 'shop1')
    const refused: [string[], string][] = [
      [['account', 'set', 'shop1', '--allowed-sources', ''], `account.allowedSources: an empty list (any sender id) is not within res1's allowed sources (RES*)`],
      [['account', 'set', 'shop1', '--rate', '0'], "account.rateLimit: unlimited is more than res1's rate limit (10/s, burst 10)"],
      [['account', 'set', 'shop1', '--rate', '10', '--burst', '11'], "account.rateLimit: burst 11 is more than res1's rate limit (10/s, burst 10)"],
      [['account', 'set', 'shop1', '--max-binds', '1000'], "account.maxBinds: 1000 is more than res1's max binds (10)"],
      [['account', 'set', 'shop1', '--window-size', '10000'], "account.windowSize: 10000 is more than res1's window size (100)"],
    ]
    for (const [args, message] of refused) {
      const r = smsc(args, d, RES1)
      t.equal(r.code, 2, args.join(' '))
      t.match(r.err, message)
    }
    t.same(await settings(api, 'shop1'), shop1Before, 'shop1 is as it was (updatedAt too: nothing was written)')

    // Within its limits res1 creates shop3; it gets res1's rate; the trial's second change is refused.
    const made = smsc(['account', 'add', 'shop3', '--allowed-sources', 'RES3', '--password', 'spw3'], d, RES1)
    t.equal(made.code, 0, made.err)
    const shop3Before = await settings(api, 'shop3')
    t.match(shop3Before, { parent: 'res1', allowedSources: ['RES3'], rateLimit: { perSecond: 10, burst: 10 } })
    const set = smsc(['account', 'set', 'shop3', '--rate', '0', '--max-binds', '1000', '--window-size', '10000'], d, RES1)
    t.equal(set.code, 2)
    t.match(set.err, "account.rateLimit: unlimited is more than res1's rate limit (10/s, burst 10)")
    t.same(await settings(api, 'shop3'), shop3Before, 'shop3 is as it was')
    const res = await api.call('PATCH', '/api/v1/accounts/shop3', { maxBinds: 1000 })
    t.equal(res.status, 200, 'the operator is not bound')

    // shop3 cannot send as BANKOFX; as RES3 it is delivered.
    const shop3 = await openEsme(t, { port: engine.smppPort, systemId: 'shop3', password: 'spw3', kind: 'transceiver' })
    t.equal(hex((await submit(shop3, 'BANKOFX')).command_status), hex(P.ESME_RINVSRCADR), 'shop3 as BANKOFX → 0x0a')
    const ok = await submit(shop3, 'RES3')
    t.equal(hex(ok.command_status), '0x00')
    t.equal(parseReceipt(messageText(await shop3.waitFor(receiptFor(ok.message_id ?? ''), 10_000)))?.stat, 'DELIVRD', 'shop3 as RES3: DELIVRD')
  })

  await t.test("res1's rate (10/s, burst 10) caps shop1 and shop2 together, though neither has a limit of its own", async (t) => {
    const a = await openEsme(t, { port: engine.smppPort, systemId: 'shop1', password: 'spw1', kind: 'transmitter' })
    const b = await openEsme(t, { port: engine.smppPort, systemId: 'shop2', password: 'spw2', kind: 'transmitter' })
    await sleep(1100) // the bucket full again
    let accepted = 0
    const other: number[] = []
    let throttled = 0
    let n = 0
    const start = performance.now()
    const stopAt = start + 2000
    await Promise.all([[a, 'RES1'], [b, 'RES2']].flatMap(([esme, source]) => Array.from({ length: 4 }, async () => {
      while (performance.now() < stopAt) {
        const r = await (esme as Esme).submit({ source_addr: source, source_addr_ton: 5, destination_addr: DEST, short_message: gsm(`tree ${n++}`) })
        if (r.command_status === 0) accepted++
        else if (r.command_status === P.ESME_RTHROTTLED) throttled++
        else other.push(r.command_status)
      }
    })))
    const elapsed = (performance.now() - start) / 1000
    const ceiling = 10 + 10 * elapsed
    t.comment(`${accepted} accepted, ${throttled} throttled in ${elapsed.toFixed(2)} s (ceiling ${ceiling.toFixed(1)})`)
    t.same(other.map(hex), [], 'no status other than 0 and 0x58')
    t.ok(accepted <= ceiling + 2, `accepted ${accepted} <= burst + rate × elapsed = ${ceiling.toFixed(1)} (+2)`)
    t.ok(accepted >= 10, `at least the burst was accepted (${accepted})`)
    t.ok(throttled > 0, `the rest throttled (${throttled})`)
    // Without the reseller's rate, the same users are not throttled: it was res1's limit.
    await api.ok('PATCH', '/api/v1/accounts/res1', { rateLimit: null })
    const resps = await b.submitMany(Array.from({ length: 40 }, (_, k) => ({ source_addr: 'RES2', source_addr_ton: 5, destination_addr: DEST, short_message: gsm(`free ${k}`) })), 10)
    t.same(statusCounts(resps), { '0x00': 40 }, "res1's rate removed: 40 of 40 accepted")
  })
})

t.test("a reseller's daily quota counts its whole tree: its users' parts and its own, refused ones not, kept over a restart", async (t) => {
  const engine = await startPolicyEngine(t, {
    accounts: [
      { systemId: 'res2', password: 'rpw2', role: 'reseller', dailyQuota: 6 },
      { systemId: 'u1', password: 'upw1', parent: 'res2', dailyQuota: 4 },
      { systemId: 'u2', password: 'upw2', parent: 'res2', dailyQuota: 5 },
    ],
    extra: {
      routes: {
        mt: [
          { name: 'no-449', match: { destRegex: '^449' }, action: { reject: 11 } },
          { name: 'default', match: {}, action: { connector: 'simulator' } },
        ],
        mo: [],
      },
    },
  })
  const api = await AdminApi.login(engine)
  const bind = (systemId: string, password: string) => openEsme(t, { port: engine.smppPort, systemId, password, kind: 'transmitter' })
  const send = (esme: Esme, n: number, dest = DEST) =>
    esme.submitMany(Array.from({ length: n }, (_, k) => ({ source_addr: 'RES', source_addr_ton: 5, destination_addr: dest, short_message: gsm(`q ${k}`) })), 1)
  const u1 = await bind('u1', 'upw1')
  const u2 = await bind('u2', 'upw2')

  t.same(statusCounts(await send(u1, 3)), { '0x00': 3 }, 'u1: 3 parts')
  t.same(statusCounts(await send(u2, 2, '4491234567')), { '0x0b': 2 }, 'u2: 2 parts refused by a reject route, after the quota took them')
  t.same(statusCounts(await send(u2, 4)), { '0x00': 3, [hex(P.SMSC_RQUOTA)]: 1 }, "u2 (3 of its own 5 used then): the reseller's 3 left, then SMSC_RQUOTA: the refused parts were not counted")
  const used = async (systemId: string) => ((await api.account(systemId)).usage as { quotaUsedToday: number | null }).quotaUsedToday
  t.equal(await used('res2'), 6, "res2's count is its tree's")
  t.equal(await used('u1'), 3, "u1's own count")
  // smsc account show says it too, not only --json
  t.match(smsc(['account', 'show', 'res2'], engine.dataDir).out, /daily quota 6, 6 used today with its users \(UTC\)\n/, "the reseller's tree count in its text view")
  t.match(smsc(['account', 'show', 'u1'], engine.dataDir).out, /daily quota 4, 3 used today \(UTC\)\n/, "a user's own count in its text view")

  // The send API says whose quota it was, without the reseller's numbers.
  const login = await httpCall(engine.httpPort, 'POST', '/api/v1/login', { systemId: 'u2', password: 'upw2' })
  const token = (login.json as { token: string }).token
  const http = await httpCall(engine.httpPort, 'POST', '/api/v1/messages', { from: 'RES', to: `+${DEST}`, text: 'over' }, { authorization: `Bearer ${token}` })
  t.equal(http.status, 429)
  t.match(http.body, /daily quota of its reseller res2, shared by the reseller's users, is used up/)
  t.notMatch(http.body, /\b6\b parts/, "the reseller's quota is not shown to its user")

  await engine.restart()
  const again = await bind('u1', 'upw1')
  t.same(statusCounts(await send(again, 1)), { [hex(P.SMSC_RQUOTA)]: 1 }, "after a restart: u1 has 1 of its own 4 left, the reseller's 6 are used")
  await api.ok('PATCH', '/api/v1/accounts/res2', { dailyQuota: 8 })
  t.same(statusCounts(await send(again, 2)), { '0x00': 1, [hex(P.SMSC_RQUOTA)]: 1 }, "res2's quota raised to 8: u1 gets its own last part, then its own quota refuses")
})
