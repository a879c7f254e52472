/**
 * `smsc backup` (and POST /api/v1/backup behind it): a consistent copy of the store made by a running
 * engine while an ESME keeps submitting, which another engine then runs on (accounts, messages still
 * in flight, the audit of the backup itself stays behind); the first start on the copy skips message
 * ids ahead, once. Offline (no engine on the data dir) the CLI copies under the data-dir lock. Refusals:
 * an --out directory with files in it (one line, exit 2, nothing copied), a data dir with no store, and
 * anyone but the operator.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { httpCall, projectRoot, startEngine, type Engine } from '../helpers/engine'
import { gsm, openEsme } from '../helpers/esme'

const ROOT = projectRoot()
const OPERATOR_PW = 'operator-secret'
const SRC = '12345'
/** a carrier that takes an hour: every message stays ENROUTE, in the store's active index */
const SLOW_CARRIER = { deliveryDelayMs: [3_600_000, 3_600_000] as [number, number], outcomes: { DELIVRD: 1 } }

/** The CLI, without blocking this process (its ESMEs keep submitting meanwhile). */
function smsc(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin', 'smsc.js'), ...args], { cwd: ROOT, timeout: 60_000 }, (err, out, errOut) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, out, err: errOut })
    })
  })
}

async function login(e: Engine, body: Record<string, string>): Promise<string> {
  const r = await httpCall(e.httpPort, 'POST', '/api/v1/login', { body })
  if (r.status !== 200) throw new Error(`login: ${r.status} ${r.body}`)
  return (r.json as { token: string }).token
}

function tmpDir(t: { teardown(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('a running engine under traffic is backed up; another engine runs on the copy, its ids skipped ahead once', async (t) => {
  const config = { accounts: [{ systemId: 'esme1', password: 'secret1' }], simulator: SLOW_CARRIER, extra: { admin: { password: OPERATOR_PW } } }
  const a = await startEngine(t, config)
  const token = await login(a, { password: OPERATOR_PW })
  const made = await httpCall(a.httpPort, 'POST', '/api/v1/accounts', { token, body: { systemId: 'made', password: 'madepw' } })
  t.equal(made.status, 201, 'an account created through the API before the backup')
  const esme = await openEsme(t, { port: a.smppPort, kind: 'transceiver' })
  const before = await esme.submitMany(Array.from({ length: 100 }, (_, i) => ({ source_addr: SRC, destination_addr: `4477009${String(i).padStart(5, '0')}`, short_message: gsm(`before ${i}`), data_coding: 0 })))
  t.ok(before.every((r) => r.command_status === 0), '100 messages accepted before the backup')
  const ids = before.map((r) => r.message_id as string)

  // Traffic goes on while the copy is made.
  let submitting = true
  const during: number[] = []
  const load = (async () => {
    let i = 0
    while (submitting) {
      const r = await esme.submit({ source_addr: SRC, destination_addr: `4478${String(i++).padStart(8, '0')}`, short_message: gsm('during'), data_coding: 0 })
      during.push(r.command_status)
      if (r.command_status === 0) ids.push(r.message_id as string)
    }
  })()
  await new Promise((r) => setTimeout(r, 200))
  const out = path.join(tmpDir(t, 'smsc-backup-'), 'copy')
  const cli = await smsc(['backup', '--config', a.configPath, '--out', out])
  await new Promise((r) => setTimeout(r, 200))
  submitting = false
  await load
  t.equal(cli.code, 0, cli.err)
  t.match(cli.out, new RegExp(`^backup: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\([\\d.]+ (KiB|MiB) in [\\d.]+ s, made by the running engine\\)\\nrestore: `), 'where the copy is, how big, and how to restore')
  t.ok(existsSync(path.join(out, 'store', 'data.mdb')), 'a data dir of its own: <out>/store/data.mdb')
  t.notOk(existsSync(path.join(a.dataDir, 'backups')), 'written straight to --out, not staged in the engine\'s data dir')
  t.ok(during.length > 20, `the ESME kept submitting while the copy was made (${during.length} submits)`)
  t.ok(during.every((s) => s === 0), 'and every submit was accepted')
  const state = await httpCall(a.httpPort, 'GET', '/api/v1/backup', { token })
  t.match(state.json, { backup: { state: 'done', path: out, bytes: Number, ms: Number } }, 'GET /api/v1/backup: the last backup, done, where it is')
  const audit = await httpCall(a.httpPort, 'GET', '/api/v1/audit?limit=5', { token })
  t.match((audit.json as { entries: unknown[] }).entries[0], { action: 'store.backup', by: 'admin', detail: { bytes: Number } }, 'audited, by the operator (shown as admin)')
  const highest = Math.max(...ids.map(Number))
  await a.stop()

  const b = await startEngine(t, { ...config, dataDir: out })
  t.equal(b.output().split('this data dir is a backup opened for the first time').length - 1, 1, 'the engine says it runs on a backup')
  const e2 = await openEsme(t, { port: b.smppPort, kind: 'transceiver' })
  const q = await e2.request('query_sm', { message_id: ids[0], source_addr: SRC })
  t.match(q, { command_status: 0, message_state: 1 }, 'a message in flight at the backup is there, ENROUTE')
  await openEsme(t, { port: b.smppPort, kind: 'transceiver', systemId: 'made', password: 'madepw' })
  t.pass('the account created through the API binds on the copy')
  const first = Number((await e2.submit({ source_addr: SRC, destination_addr: '4479000001', short_message: gsm('after'), data_coding: 0 })).message_id)
  t.ok(first > highest + 200_000, `the first id on the copy (${first}) is past every id the original handed out (${highest}) by at least one second's worth`)
  await b.restart()
  t.equal(b.output().split('this data dir is a backup opened for the first time').length - 1, 1, 'a restart on the copy is an ordinary start')
  const e3 = await openEsme(t, { port: b.smppPort, kind: 'transceiver' })
  const next = Number((await e3.submit({ source_addr: SRC, destination_addr: '4479000002', short_message: gsm('again'), data_coding: 0 })).message_id)
  t.ok(next > first && next - first <= 20_000, `ids go on from there (${next}), no second skip`)
})

t.test('offline backup under the data-dir lock; a non-empty --out is refused in one line; only the operator may back up', async (t) => {
  const a = await startEngine(t, { accounts: [{ systemId: 'res1', password: 'rpw1', role: 'reseller' }] as never, extra: { admin: { password: OPERATOR_PW } } })
  const reseller = await login(a, { systemId: 'res1', password: 'rpw1' })
  const refused = await httpCall(a.httpPort, 'POST', '/api/v1/backup', { token: reseller })
  t.equal(refused.status, 403, 'a reseller may not back up the store')
  t.match(refused.json, { code: 'SMSC_ERR_ADMIN_FORBIDDEN' })
  await a.stop()

  const dir = tmpDir(t, 'smsc-backup-')
  const full = path.join(dir, 'full')
  mkdirSync(full)
  writeFileSync(path.join(full, 'keep.txt'), 'x')
  const bad = await smsc(['backup', '--data-dir', a.dataDir, '--out', full])
  t.equal(bad.code, 2)
  t.match(bad.err, /^smsc: --out .*full: the directory is not empty; give a new or empty directory\n$/, 'one line naming --out')
  t.notOk(existsSync(path.join(a.dataDir, 'backups')), 'nothing was copied')

  const wrong = await smsc(['backup', '--data-dir', path.join(dir, 'not-a-data-dir'), '--out', path.join(dir, 'x')])
  t.equal(wrong.code, 2, 'a data dir with no store: no empty "backup" of it')
  t.match(wrong.err, /^smsc: no store in .*not-a-data-dir: nothing to back up there; give the --config or --data-dir the engine runs with\n$/)
  t.notOk(existsSync(path.join(dir, 'not-a-data-dir')), 'and no store is created there')
  const ok = await smsc(['backup', '--data-dir', a.dataDir, '--out', path.join(dir, 'offline')])
  t.equal(ok.code, 0, ok.err)
  t.match(ok.out, /^backup: .*offline \([\d.]+ (KiB|MiB) in [\d.]+ s\)\n/, 'made from the data dir (no engine running)')
  const b = await startEngine(t, { accounts: [{ systemId: 'res1', password: 'rpw1', role: 'reseller' }] as never, dataDir: path.join(dir, 'offline') })
  await openEsme(t, { port: b.smppPort, kind: 'transceiver', systemId: 'res1', password: 'rpw1' })
  t.pass('an engine runs on the offline copy')
  await b.stop()

  // Root runs the nightly `smsc backup` for an engine that runs as another user: what it makes under
  // <dataDir>/backups goes to the store's owner, or that engine could not make or prune its own backups there.
  if (process.getuid?.() !== 0) return t.comment('the ownership check needs root: skipped')
  const NOBODY = 65534
  for (const f of [a.dataDir, path.join(a.dataDir, 'store'), ...readdirSync(path.join(a.dataDir, 'store')).map((n) => path.join(a.dataDir, 'store', n))]) chownSync(f, NOBODY, NOBODY)
  const nightly = await smsc(['backup', '--data-dir', a.dataDir])
  t.equal(nightly.code, 0, nightly.err)
  const made = /^backup: (\S+) /.exec(nightly.out)?.[1] as string
  t.ok(made?.startsWith(path.join(a.dataDir, 'backups') + path.sep), `under <dataDir>/backups (${made})`)
  const owners = [path.join(a.dataDir, 'backups'), made, path.join(made, 'store'), path.join(made, 'store', 'data.mdb')].map((f) => statSync(f).uid)
  t.same(owners, [NOBODY, NOBODY, NOBODY, NOBODY], 'the backups directory and the copy belong to the store\'s owner, not root')
})
