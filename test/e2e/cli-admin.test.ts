/**
 * The admin CLI (account, credit, route, apikey, audit): offline on a data dir, and against a
 * running engine, where the same commands go through the engine's admin API and apply live
 * (a suspended account's bind is closed, a new route table is used by the next submit).
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { projectRoot, startEngine, FAST_SIMULATOR } from '../helpers/engine'
import { Esme, Status, gsm, openEsme } from '../helpers/esme'

const ROOT = projectRoot()
/** SMPP 3.4 §5.1.3 */
const ESME_RINVDSTADR = 0x0b

/** Runs the CLI; `as` another user, in a bare environment (`env -i`: tap's process hooks would write where that user may not). */
function smsc(args: string[], as?: { uid: number; gid: number }, env: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const cmd = [process.execPath, path.join(ROOT, 'bin', 'smsc.js'), ...args]
  const r = as
    ? spawnSync('env', ['-i', `PATH=${process.env.PATH ?? ''}`, ...cmd], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, ...as })
    : spawnSync(cmd[0], cmd.slice(1), { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

/** The engine writes control.json once its listeners are up (a little after /healthz answers). */
async function controlFile(dataDir: string): Promise<{ pid: number; url: string; token: string }> {
  const file = path.join(dataDir, 'control.json')
  for (let i = 0; i < 200 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 25))
  return JSON.parse(readFileSync(file, 'utf8')) as { pid: number; url: string; token: string }
}

t.test('offline: accounts, credit moves and the ledger are managed on the data dir, with one-line errors', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smsc-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const d = ['--data-dir', dir]
  const first = smsc(['account', 'add', 'res1', '--role', 'reseller', '--credit', '100', '--password', 'pw1', ...d])
  t.equal(first.code, 0)
  t.match(first.err, /^smsc: note: no store in .+ yet, so no engine has run on it; a new one is created\. To work on a running or earlier engine, give the same --config or --data-dir as its smsc start\.\n$/,
    'a data dir no engine has used is pointed out (often the wrong one)')
  t.equal(smsc(['account', 'list', ...d]).err, '', 'not once the store exists')
  const add = smsc(['account', 'add', 'u1', '--parent', 'res1', '--prepaid', 'true', '--rate', '50', '--burst', '10', ...d])
  t.equal(add.code, 0, add.err)
  t.match(add.out, /^added u1 with password \S{8}\n$/, 'a generated password is printed once')
  t.equal(smsc(['credit', 'ledger', 'u1', ...d]).out, 'no ledger entries for u1: it is not prepaid, or no credit was added or charged yet\n', 'an empty ledger says so (not a bare header)')
  const move = smsc(['credit', 'move', 'res1', 'u1', '30', '--reason', 'top-up', ...d])
  t.equal(move.code, 0, move.err)
  t.match(move.out, /res1: -30, balance 70\nu1: \+30, balance 30/)
  const list = JSON.parse(smsc(['account', 'list', '--json', ...d]).out) as { systemId: string; balance: number | null; rateLimit: unknown; parent: string | null }[]
  t.same(list.map((a) => [a.systemId, a.balance, a.parent]), [['res1', 70, null], ['u1', 30, 'res1']])
  t.same(list.find((a) => a.systemId === 'u1')?.rateLimit, { perSecond: 50, burst: 10 })
  const ledger = JSON.parse(smsc(['credit', 'ledger', 'res1', '--json', ...d]).out) as { delta: number; reason: string }[]
  t.same(ledger.map((e) => [e.reason, e.delta]), [['transfer-out', -30], ['opening', 100]], 'newest first, every change an entry')

  // Bad input: exit 2, one line naming the flag or field.
  const bad = smsc(['account', 'set', 'u1', '--allowed-ips', '300.1.1.1', ...d])
  t.equal(bad.code, 2)
  t.match(bad.err, /^smsc: .*allowedIps\[0\].*300\.1\.1\.1.*\n$/)
  t.equal(bad.err.trim().split('\n').length, 1)
  const over = smsc(['credit', 'move', 'res1', 'u1', '1000', ...d])
  t.equal(over.code, 2, 'moving more than the balance is refused')
  t.match(over.err, /credit|balance/i)
  t.equal(JSON.parse(smsc(['account', 'show', 'res1', '--json', ...d]).out).balance, 70, 'nothing moved')
  const fix = smsc(['credit', 'remove', 'res1', '20', '--reason', 'correction', ...d])
  t.equal(fix.code, 0, fix.err)
  t.match(fix.out, /res1: -20, balance 50/, 'the operator corrects a balance with an adjust entry')
  t.equal(smsc(['credit', 'remove', 'res1', '51', ...d]).code, 2, 'never below 0')
  t.same((JSON.parse(smsc(['credit', 'ledger', 'res1', '--json', '--limit', '1', ...d]).out) as { reason: string; delta: number }[]).map((e) => [e.reason, e.delta]), [['adjust', -20]])
  const unknown = smsc(['account', 'set', 'u1', '--rate', 'fast', ...d])
  t.match(unknown.err, /^smsc: --rate must be a non-negative number \(got "fast"\)\n$/)

  // Outbind (SMPP 3.4 §2.2.1) from the CLI: set, shown without the password, refused with one line, removed.
  t.equal(smsc(['account', 'set', 'u1', '--outbind', '127.0.0.1:2776', '--outbind-password', 'obpw', ...d]).code, 0)
  t.same(JSON.parse(smsc(['account', 'show', 'u1', '--json', ...d]).out).outbind, { host: '127.0.0.1', port: 2776, tls: false, passwordSet: true })
  t.match(smsc(['account', 'show', 'u1', ...d]).out, /outbind\s+127\.0\.0\.1:2776, password set\n/)
  t.notMatch(smsc(['account', 'show', 'u1', ...d]).out, /obpw/, 'the text form does not print the password')
  t.notMatch(smsc(['account', 'show', 'u1', '--json', ...d]).out, /obpw/, 'nor the JSON form')
  t.match(smsc(['account', 'set', 'u1', '--outbind', '127.0.0.1:70000', ...d]).err, /^smsc: account\.outbind\.port must be an integer between 1 and 65535 \(got 70000\)\n$/)
  t.match(smsc(['account', 'set', 'u1', '--outbind', 'nowhere', ...d]).err, /^smsc: --outbind must be HOST:PORT or off \(got "nowhere"\)\n$/)
  t.match(smsc(['account', 'set', 'u1', '--outbind-tls', 'true', ...d]).err, /^smsc: --outbind-tls and --outbind-password go with --outbind HOST:PORT\n$/)
  t.equal(smsc(['account', 'set', 'u1', '--outbind', 'off', ...d]).code, 0)
  t.equal(JSON.parse(smsc(['account', 'show', 'u1', '--json', ...d]).out).outbind, null)

  // --as: a reseller on the CLI has exactly its API scope.
  t.equal(smsc(['account', 'add', 'res2', '--role', 'reseller', '--credit', '5', ...d]).code, 0)
  t.equal(smsc(['account', 'add', 'r2u', '--parent', 'res2', ...d]).code, 0)
  const asRes1 = { SMSC_AS_PASSWORD: 'pw1' }
  const mine = JSON.parse(smsc(['account', 'list', '--json', '--as', 'res1', ...d], undefined, asRes1).out) as { systemId: string }[]
  t.same(mine.map((a) => a.systemId).sort(), ['res1', 'u1'], 'res1 sees itself and its users only')
  const other = smsc(['account', 'show', 'r2u', '--as', 'res1', ...d], undefined, asRes1)
  t.equal(other.code, 2, 'another reseller\'s user is out of reach')
  t.match(other.err, /not visible|may not|forbidden/i)
  const steal = smsc(['credit', 'move', 'res2', 'u1', '1', '--as', 'res1', ...d], undefined, asRes1)
  t.equal(steal.code, 2, 'res1 cannot take res2\'s credit')
  t.equal(JSON.parse(smsc(['account', 'show', 'res2', '--json', ...d]).out).balance, 5, 'res2 untouched')
  t.match(smsc(['account', 'list', '--as', 'res1', ...d], undefined, { SMSC_AS_PASSWORD: 'nope' }).err, /^smsc: --as res1: wrong systemId or password\n$/)
  t.equal(smsc(['route', 'set', '/dev/null', '--as', 'res1', ...d], undefined, asRes1).code, 2, 'routes are the operator\'s')
  // A user the operator creates under a prepaid reseller bills like it (no free sending by omission).
  t.equal(smsc(['account', 'add', 'u3', '--parent', 'res1', ...d]).code, 0)
  t.match(JSON.parse(smsc(['account', 'show', 'u3', '--json', ...d]).out), { parent: 'res1', prepaid: true, balance: 0 })
  const audit = smsc(['audit', '--json', ...d])
  const actions = (JSON.parse(audit.out) as { action: string }[]).map((e) => e.action)
  t.ok(actions.includes('account.create') && actions.some((a) => a.startsWith('credit')), `audited: ${actions.join(', ')}`)
  t.notMatch(audit.out, /pw1/, 'no password in the audit log')
})

t.test('against a running engine: changes go through its API and apply live', async (t) => {
  const admin = { password: 'cli-admin-pass' }
  const engine = await startEngine(t, { simulator: FAST_SIMULATOR, extra: { admin } })
  const d = ['--data-dir', engine.dataDir]

  // A new account can bind at once.
  const add = smsc(['account', 'add', 'live1', '--password', 'pw2', ...d])
  t.equal(add.code, 0, add.err)
  const esme = await openEsme(t, { port: engine.smppPort, systemId: 'live1', password: 'pw2' })
  t.match(JSON.parse(smsc(['account', 'show', 'live1', '--json', ...d]).out), { usage: { binds: 1, quotaUsedToday: null, pendingDeliveries: 0 } }, 'live usage: one bind open, no quota, nothing waiting')
  t.match(smsc(['account', 'show', 'live1', ...d]).out, /waiting +0 receipts\/MO not yet acknowledged by a receiver\n/, 'show says what waits for its receivers')
  t.match(smsc(['account', 'list', ...d]).out, /^live1 .* 1\/\d+ +active$/m, 'the list shows binds open / allowed')
  t.match(smsc(['account', 'show', 'live1', ...d]).out, /binds +1 open, max \d+/, 'and so does show')

  // A route table that rejects 99… is used by the next submit (hot reload, no restart).
  const routes = path.join(engine.dataDir, 'routes.json')
  writeFileSync(routes, JSON.stringify({ mt: [{ name: 'no99', match: { destPrefix: ['99'] }, action: { reject: ESME_RINVDSTADR } }, { name: 'rest', match: {}, action: { connector: 'simulator' } }], mo: [] }))
  const set = smsc(['route', 'set', routes, ...d])
  t.equal(set.code, 0, set.err)
  t.match(set.out, /routes set: 2 MT, 0 MO \(live\)/)
  const refused = await esme.request('submit_sm', { source_addr: '12345', destination_addr: '99123', short_message: gsm('x') })
  t.equal(refused.command_status, ESME_RINVDSTADR, 'the new table answers')
  const ok = await esme.request('submit_sm', { source_addr: '12345', destination_addr: '44123', short_message: gsm('x') })
  t.equal(ok.command_status, 0)
  t.match(smsc(['route', 'list', ...d]).out, /no99/)

  // --as against the running engine: the login goes through its API.
  const asLive = smsc(['account', 'list', '--json', '--as', 'live1', ...d], undefined, { SMSC_AS_PASSWORD: 'pw2' })
  t.equal(asLive.code, 0, asLive.err)
  t.same((JSON.parse(asLive.out) as { systemId: string }[]).map((a) => a.systemId), ['live1'], 'a user sees only itself')
  // Suspending closes the account's bind; a new bind is refused.
  const sus = smsc(['account', 'suspend', 'live1', ...d])
  t.equal(sus.code, 0, sus.err)
  await esme.waitClosed(10_000)
  t.ok(esme.closed, 'the bound session was unbound')
  const again = await Esme.connect({ port: engine.smppPort })
  t.teardown(() => again.close())
  const resp = await again.bind('transceiver', { systemId: 'live1', password: 'pw2' })
  t.equal(resp.command_status, Status.ESME_RBINDFAIL, 'a suspended account cannot bind')
  t.equal(smsc(['account', 'resume', 'live1', ...d]).code, 0)
})

t.test('a change to a setting the config file gives for an account is applied, with a note that the file wins at the next start', async (t) => {
  const engine = await startEngine(t, { accounts: [{ systemId: 'cfg1', password: 'pw', rateLimit: { perSecond: 10, burst: 10 } }] as never })
  const d = ['--data-dir', engine.dataDir]
  t.same(JSON.parse(smsc(['account', 'show', 'cfg1', '--json', ...d]).out).configKeys, ['rateLimit'], 'the view names the settings the config file gives')
  const set = smsc(['account', 'set', 'cfg1', '--rate', '20', ...d])
  t.equal(set.code, 0, set.err)
  t.equal(set.err, 'smsc: note: cfg1 is in the config file, which sets rateLimit: the value there applies again at the next start; change the file to keep this\n')
  t.match(set.out, /rate +20\/s/, 'applied now')
  const other = smsc(['account', 'set', 'cfg1', '--window-size', '50', ...d])
  t.equal(other.err, '', 'a setting the file does not give: no note')
  await engine.restart()
  t.same(JSON.parse(smsc(['account', 'show', 'cfg1', '--json', ...d]).out).rateLimit, { perSecond: 10, burst: 10 }, 'the file wins at the restart, as the note said')
})

t.test('an engine holds the data dir but its control file cannot be used: the CLI refuses instead of writing its store', async (t) => {
  const engine = await startEngine(t, { accounts: [{ systemId: 'c1', password: 'pw', credit: 100 }] as never })
  const d = ['--data-dir', engine.dataDir]
  const { pid } = await controlFile(engine.dataDir)
  const LOCKED = new RegExp(`^smsc: an engine is running on ${engine.dataDir} \\(pid ${pid}\\) but its control file cannot be used: .+; ` +
    'retry in a moment if it is starting or stopping, else run this command as the user the engine runs as\n$')

  // Starting or stopping (no control file yet or any more): writing the store beside the engine would reuse its seqs.
  unlinkSync(path.join(engine.dataDir, 'control.json'))
  const grant = smsc(['credit', 'add', 'c1', '50', ...d])
  t.equal(grant.code, 2, grant.out)
  t.match(grant.err, LOCKED)
  t.match(grant.err, /control\.json is missing/)
  t.equal(smsc(['account', 'list', ...d]).code, 2, 'reads too: the store is the engine\'s')

  // Another user (the file is the engine user's, 0600; kill(pid, 0) answers EPERM): told to run as that user.
  if (process.getuid?.() === 0) {
    writeFileSync(path.join(engine.dataDir, 'control.json'), JSON.stringify({ pid, url: 'http://127.0.0.1:1', token: 'x' }), { mode: 0o600 })
    chmodSync(engine.dataDir, 0o755)
    const other = smsc(['credit', 'add', 'c1', '50', ...d], { uid: 65534, gid: 65534 })
    t.equal(other.code, 2, other.out)
    t.match(other.err, LOCKED)
    t.match(other.err, /control\.json cannot be read \(EACCES\)/)
  } else t.comment('not root: the other-user case needs a second uid')

  t.equal(await engine.stop(), 0)
  const ledger = JSON.parse(smsc(['credit', 'ledger', 'c1', '--json', ...d]).out) as { reason: string; delta: number }[]
  t.same(ledger.map((e) => [e.reason, e.delta]), [['opening', 100]], 'nothing was written beside the engine')
  t.notOk(existsSync(path.join(engine.dataDir, 'smsc.lock')), 'the offline CLI released the lock it took')
})

t.test('the operator token of the control file ends with the engine', async (t) => {
  const engine = await startEngine(t, { extra: { admin: { password: 'cli-admin-pass' } } })
  const me = (token: string) => fetch(`http://127.0.0.1:${engine.httpPort}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status)
  const first = await controlFile(engine.dataDir)
  t.equal(await me(first.token), 200, 'valid while the engine runs')
  t.equal(await engine.stop(), 0)
  t.notOk(existsSync(path.join(engine.dataDir, 'control.json')), 'the file is removed at shutdown')
  await engine.restart()
  const second = await controlFile(engine.dataDir)
  t.not(second.token, first.token)
  t.equal(await me(first.token), 401, 'the old token does not outlive its engine')
  t.equal(await me(second.token), 200)
})

t.test('optout --file: every line checked first (a bad one named by its line, nothing changed); CSV with a header; --all exports every entry', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smsc-cli-optout-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const d = ['--data-dir', dir]
  const file = path.join(dir, 'optouts.csv')
  const lines = ['number,opted_out_at', ...Array.from({ length: 2500 }, (_, i) => `"4477009${String(i).padStart(5, '0')}",2024-01-01`)]
  lines[2001] = 'N/A,2024-01-01' // past the first two requests of 1,000
  writeFileSync(file, lines.join('\n') + '\n')
  const bad = smsc(['optout', 'add', '--file', file, ...d])
  t.equal(bad.code, 2)
  t.match(bad.err, new RegExp(`smsc: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} line 2002 must be a phone number: .*\\(got "N/A"\\); nothing was changed\\n$`), 'the line of the file, and that nothing was changed')
  t.match(smsc(['optout', 'list', ...d]).out, /^0 shown of 0 on the global list\n$/m, 'and nothing was: no request went before the check')
  lines[2001] = '447700999999'
  writeFileSync(file, lines.join('\r\n') + '\r\n')
  const ok = smsc(['optout', 'add', '--file', file, ...d])
  t.equal(ok.code, 0, ok.err)
  t.match(ok.out, /^2500 added to the global list; 2500 on it\n$/, 'the header skipped, the first field of each line taken')
  const all = smsc(['optout', 'list', '--all', ...d])
  t.equal(all.code, 0, all.err)
  const rows = all.out.trim().split('\n')
  t.equal(rows.length, 2501, 'every entry, over three pages, and a total')
  t.equal(rows[2500], '2500 on the global list')
  const json = smsc(['optout', 'list', '--all', '--json', ...d]).out.trim().split('\n').map((l) => JSON.parse(l) as { number: string })
  t.equal(new Set(json.map((e) => e.number)).size, 2500, '--json: one entry a line, none twice')
})

t.test('route list shows what an MO route does to the opt-out list', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smsc-cli-routes-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const d = ['--data-dir', dir]
  t.equal(smsc(['account', 'add', 'shop', '--password', 'shoppw12', ...d]).code, 0)
  const file = path.join(dir, 'routes.json')
  writeFileSync(file, JSON.stringify({ mt: [{ name: 'default', match: {}, action: { connector: 'simulator' } }], mo: [{ name: 'stop', match: { keyword: ['STOP', 'END'] }, account: 'shop', optOut: 'add' }, { name: 'start', match: { keyword: 'START' }, account: 'shop', optOut: 'remove' }] }))
  const set = smsc(['route', 'set', file, ...d])
  t.equal(set.code, 0, set.err)
  const list = smsc(['route', 'list', ...d]).out
  t.match(list, /stop +\{"keyword":\["STOP","END"\]\} → shop \(optOut add: the sender goes on its opt-out list\)/)
  t.match(list, /start +\{"keyword":"START"\} → shop \(optOut remove: the sender comes off its opt-out list\)/)
})
