/**
 * Daily traffic reports per account (docs/ACCOUNTS.md "Traffic reports"), end to end: a user's ESME sends past its
 * daily quota (some submits refused SMSC_RQUOTA), the simulated carrier fails some messages (UNDELIV, REJECTD), and
 * GET /api/v1/accounts/{id}/stats, GET /api/v1/stats and `smsc account stats` / `smsc stats` show the day's counts
 * exactly as the ESME saw them; they survive a graceful restart (committed at the stop) and are read from the store
 * by the CLI once no engine runs. Scope: another user gets what the other account routes answer it (403), an API
 * key reads its own account only, a reseller sums its users with tree=true and sees only its tree's day rows.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { projectRoot } from '../helpers/engine'
import { gsm, isReceipt, messageText, openEsme, parseReceipt, type Pdu } from '../helpers/esme'
import { ADMIN_PASSWORD, AdminApi, PolicyStatus as P, httpCall, startPolicyEngine, until } from '../helpers/policy'

const ROOT = projectRoot()
const today = () => new Date().toISOString().slice(0, 10)

function smsc(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'smsc.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

interface Counts { accepted: number; refused: number; refusedBy: Record<string, number>; receipts: Record<string, number>; toEsme: Record<string, number> }
interface Day extends Counts { day: string; tree?: Counts }

t.test('traffic reports: exact day counts over the API and the CLI, kept over a restart, scoped', async (t) => {
  const engine = await startPolicyEngine(t, {
    accounts: [
      { systemId: 'res1', password: 'res1pw', role: 'reseller' },
      { systemId: 'acme', password: 'acmepw', role: 'user', parent: 'res1', dailyQuota: 8, registeredDelivery: 1 },
      { systemId: 'zed', password: 'zedpw', role: 'user', prepaid: true, credit: 0 },
    ],
    simulator: { deliveryDelayMs: [10, 50], outcomes: { DELIVRD: 0.5, UNDELIV: 0.3, REJECTD: 0.2 } },
  })
  const admin = await AdminApi.login(engine)
  const login = async (systemId: string, password: string) =>
    ((await httpCall(engine.httpPort, 'POST', '/api/v1/login', { systemId, password })).json as { token: string }).token
  const as = (token: string, url: string) => httpCall(engine.httpPort, 'GET', url, undefined, { authorization: `Bearer ${token}` })

  // acme: 10 submits, the quota takes 8; every receipt acknowledged by the ESME
  const esme = await openEsme(t, { port: engine.smppPort, systemId: 'acme', password: 'acmepw', kind: 'transceiver' })
  const resps: Pdu[] = []
  for (let i = 0; i < 10; i++) resps.push(await esme.submit({ source_addr: 'ACME', destination_addr: `4915100000${i}`, short_message: gsm(`m${i}`), registered_delivery: 1 }))
  t.same(resps.map((r) => r.command_status), [0, 0, 0, 0, 0, 0, 0, 0, P.SMSC_RQUOTA, P.SMSC_RQUOTA], 'the 9th and 10th over the quota')
  const receipts = await esme.waitForMany(isReceipt, 8, 15_000)
  const stats: Record<string, number> = {}
  for (const r of receipts) {
    const stat = parseReceipt(messageText(r))?.stat as string
    stats[stat] = (stats[stat] ?? 0) + 1
  }
  // zed: prepaid with no credit, both refused
  const zesme = await openEsme(t, { port: engine.smppPort, systemId: 'zed', password: 'zedpw', kind: 'transmitter' })
  for (let i = 0; i < 2; i++) t.equal((await zesme.submit({ source_addr: 'ZED', destination_addr: '4915199', short_message: gsm('z') })).command_status, P.SMSC_RNOCREDIT)

  const expected = {
    accepted: 8, refused: 2, refusedBy: { SMSC_RQUOTA: 2 }, receipts: stats,
    toEsme: { receiptsOk: 8, receiptsFailed: 0, receiptsDiscarded: 0, moOk: 0, moFailed: 0, moDiscarded: 0 },
  }
  const day = today()
  const acmeToday = async () => (await admin.ok<{ days: Day[] }>('GET', `/api/v1/accounts/acme/stats?from=${day}&to=${day}`)).days[0]
  // sampled once a second: wait until the acknowledgements of the receipts are in
  const row = await until('the day\'s counts', async () => {
    const r = await acmeToday()
    return r.toEsme.receiptsOk === 8 ? r : undefined
  })
  t.same(row, { day, ...expected }, `the day's counts as the ESME saw them (${JSON.stringify(stats)})`)

  await t.test('the API: the last 7 days by default, every account of a day, bad days named', async (t) => {
    const week = (await admin.ok<{ days: Day[] }>('GET', '/api/v1/accounts/acme/stats')).days
    t.equal(week.length, 7)
    t.equal(week[6].day, day, 'oldest first, today last')
    t.same(week[0], { day: week[0].day, accepted: 0, refused: 0, refusedBy: {}, receipts: {}, toEsme: { receiptsOk: 0, receiptsFailed: 0, receiptsDiscarded: 0, moOk: 0, moFailed: 0, moDiscarded: 0 } }, 'a day without traffic is zeros')
    const all = await admin.ok<{ day: string; accounts: (Counts & { systemId: string })[] }>('GET', `/api/v1/stats?day=${day}`)
    t.same(all.accounts.map((a) => a.systemId), ['acme', 'zed'])
    t.same(all.accounts[1].refusedBy, { SMSC_RNOCREDIT: 2 })
    const bad = await admin.call('GET', '/api/v1/accounts/acme/stats?from=2024-02-30')
    t.equal(bad.status, 400)
    t.same(bad.json, { error: 'from must be a day as YYYY-MM-DD (UTC), today or yesterday (got "2024-02-30")', code: 'SMSC_ERR_API_INVALID' })
    t.same((await admin.ok<{ day: string }>('GET', '/api/v1/stats?day=today')).day, day, 'day=today, as the CLI takes it')
    t.equal((await admin.call('GET', '/api/v1/stats?day=tomorrow')).status, 400)
    t.equal((await admin.call('GET', '/api/v1/accounts/nobody/stats')).status, 404, 'an account that never was')
  })

  await t.test('scope: a reseller its tree, a user its own, an API key its own account', async (t) => {
    const res = await login('res1', 'res1pw')
    const tree = ((await as(res, `/api/v1/accounts/res1/stats?tree=true&from=${day}&to=${day}`)).json as { days: Day[] }).days[0]
    t.equal(tree.accepted, 0, 'the reseller sent nothing itself')
    t.equal(tree.tree?.accepted, 8, 'with its users: acme\'s')
    t.same(((await as(res, `/api/v1/stats?day=${day}`)).json as { accounts: { systemId: string }[] }).accounts.map((a) => a.systemId), ['acme'], 'not zed: outside its tree')
    t.equal((await as(res, '/api/v1/accounts/zed/stats')).status, 403)
    const zed = await login('zed', 'zedpw')
    const other = await as(zed, '/api/v1/accounts/acme/stats')
    const ledger = await as(zed, '/api/v1/accounts/acme/ledger')
    t.equal(other.status, 403)
    t.equal(other.status, ledger.status, 'as the other account routes answer')
    t.equal((other.json as { code: string }).code, 'SMSC_ERR_ADMIN_FORBIDDEN')
    t.equal((await as(zed, '/api/v1/accounts/zed/stats')).status, 200, 'its own')
    const key = (await admin.ok<{ key: string }>('POST', '/api/v1/accounts/acme/apikeys', {})).key
    t.equal(((await as(key, `/api/v1/accounts/acme/stats?from=${day}&to=${day}`)).json as { days: Day[] }).days[0].accepted, 8)
    t.equal((await as(key, '/api/v1/accounts/zed/stats')).status, 403, 'not another account\'s')
  })

  await t.test('the CLI against the running engine: the table and --json, one-line flag errors', async (t) => {
    const cfg = ['--config', engine.configPath]
    const json = smsc(['account', 'stats', 'acme', '--days', '1', '--json', ...cfg])
    t.equal(json.code, 0, json.err)
    t.same(JSON.parse(json.out), [{ day, ...expected }])
    const table = smsc(['account', 'stats', 'acme', '--from', day, '--to', day, ...cfg])
    t.equal(table.code, 0, table.err)
    const line = table.out.split('\n').find((l) => l.startsWith(day)) as string
    const cells = line.split(/\s+/)
    t.same(cells.slice(0, 9), [day, '8', '2', String(stats.DELIVRD ?? 0), String(stats.UNDELIV ?? 0), '0', String(stats.REJECTD ?? 0), '0', '8'], 'day, accepted, refused, DELIVRD, UNDELIV, EXPIRED, REJECTD, other, to ESME ok')
    t.match(line, /SMSC_RQUOTA 2$/, 'the top refusals')
    const all = smsc(['stats', '--day', 'today', ...cfg])
    t.equal(all.code, 0, all.err)
    t.match(all.out, /^zed\s+0\s+2\s.*SMSC_RNOCREDIT 2$/m)
    t.match(all.out, /^total\s+8\s+4\s/m)
    for (const [args, msg] of [
      [['account', 'stats', 'acme', '--days', '0'], /^smsc: --days must be an integer between 1 and 366 \(got "0"\)\n$/],
      [['account', 'stats', 'acme', '--days', '3', '--from', day], /^smsc: --days goes without --from and --to/],
      [['account', 'stats', 'acme', '--from', '2024-13-01'], /^smsc: --from must be a day as YYYY-MM-DD \(UTC\), today or yesterday \(got "2024-13-01"\)\n$/],
      [['stats', '--day', 'monday'], /^smsc: --day must be a day as YYYY-MM-DD/],
    ] as const) {
      const r = smsc([...args, ...cfg])
      t.equal(r.code, 2, args.join(' '))
      t.match(r.err, msg)
      t.equal(r.err.trim().split('\n').length, 1, 'one line')
    }
  })

  await t.test('a graceful restart keeps the day (committed at the stop), and the CLI reads it from the store', async (t) => {
    await esme.close()
    await zesme.close()
    await engine.restart()
    const again = await AdminApi.login(engine, ADMIN_PASSWORD)
    t.same((await again.ok<{ days: Day[] }>('GET', `/api/v1/accounts/acme/stats?from=${day}&to=${day}`)).days[0], { day, ...expected }, 'the same counts after the restart')
    // the quota remembers the day too: one more submit is refused, and counted on top of the stored ones
    const e2 = await openEsme(t, { port: engine.smppPort, systemId: 'acme', password: 'acmepw', kind: 'transmitter' })
    t.equal((await e2.submit({ source_addr: 'ACME', destination_addr: '491510000099', short_message: gsm('x') })).command_status, P.SMSC_RQUOTA)
    await until('the refusal counted', async () => ((await again.ok<{ days: Day[] }>('GET', `/api/v1/accounts/acme/stats?from=${day}&to=${day}`)).days[0].refused === 3 ? true : undefined))
    await e2.close()
    await engine.stop()
    const offline = smsc(['account', 'stats', 'acme', '--days', '1', '--json', '--config', engine.configPath])
    t.equal(offline.code, 0, offline.err)
    t.same(JSON.parse(offline.out), [{ ...expected, day, refused: 3, refusedBy: { SMSC_RQUOTA: 3 } }], 'from the store, with no engine running')
  })
})
