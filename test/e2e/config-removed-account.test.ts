/**
 * An account removed through the API or CLI stays removed across restarts, also when the config file
 * still lists it: the engine does not recreate it (its id is never reused, its ledger history stays
 * its own), warns once per start naming the account, and starts normally for every other account.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { projectRoot, startEngine, type Engine } from '../helpers/engine'
import { Status, bindStatus } from '../helpers/esme'

const ROOT = projectRoot()

function smsc(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'smsc.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

/** What the engine wrote since its last (re)start. */
const lastRun = (e: Engine) => e.output().split('--- spawn:').pop() ?? ''

/** The JSON log lines of one run at level warn. */
const warnings = (text: string) => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; msg: string; systemId?: string })
  .filter((l) => l.level === 'warn')

const bind = (e: Engine, systemId: string, password: string): Promise<number> => bindStatus(e.smppPort, systemId, password)

t.test('a config account removed through the CLI is not recreated at the next start; the others start as usual', async (t) => {
  const e = await startEngine(t, {
    accounts: [{ systemId: 'keep', password: 'kpw1' }, { systemId: 'gone', password: 'gpw1', credit: 50 }] as never,
  })
  const d = ['--data-dir', e.dataDir]
  const rm = smsc(['account', 'remove', 'gone', ...d])
  t.equal(rm.code, 0, rm.err)
  t.same(warnings(lastRun(e)), [], 'no warning before')

  await e.restart()
  const warned = warnings(lastRun(e))
  t.equal(warned.length, 1, 'one warning')
  t.equal(warned[0]?.msg, 'config account gone is not recreated: it was removed through the API or CLI, and a removed account\'s id is never reused. ' +
    'Delete it from the config file (accounts[1])', 'it names the account and what to do')
  t.equal(warned[0]?.systemId, 'gone')
  t.match(lastRun(e), /Accounts +keep +\(not recreated, removed through the API or CLI: gone; delete them from the config\)/, 'the banner says it too')
  t.same((JSON.parse(smsc(['account', 'list', '--json', ...d]).out) as { systemId: string }[]).map((a) => a.systemId), ['keep'])
  t.equal(await bind(e, 'gone', 'gpw1'), Status.ESME_RINVSYSID, 'the removed account cannot bind')
  t.equal(await bind(e, 'keep', 'kpw1'), Status.ESME_ROK, 'the other config account can')
  const ledger = JSON.parse(smsc(['credit', 'ledger', 'gone', '--json', ...d]).out) as { reason: string; delta: number }[]
  t.same(ledger.map((x) => [x.reason, x.delta]), [['adjust', -50], ['opening', 50]], 'the removed account\'s history is not reopened (no second opening grant)')

  await e.restart()
  t.equal(warnings(lastRun(e)).length, 1, 'warned again at every start while the config lists it')
  t.match(smsc(['account', 'add', 'gone', ...d]), { code: 2, err: /was used by a removed account/ }, 'the id stays retired for the API and CLI too')
})

t.test('a removed demo account is not recreated when no account is left', async (t) => {
  const e = await startEngine(t, { accounts: [] })
  const created = /Demo account created/g
  t.equal(lastRun(e).match(created)?.length, 1, 'the first start creates the demo account')
  t.equal(smsc(['account', 'remove', 'demo', '--data-dir', e.dataDir]).code, 0)
  await e.restart()
  t.notMatch(lastRun(e), created, 'not created again')
  t.same(JSON.parse(smsc(['account', 'list', '--json', '--data-dir', e.dataDir]).out), [])
})
