/**
 * The password of an account listed in the config file: the file sets it when the account is made and
 * whenever the file's password changes; a password changed since through the API or CLI (a customer
 * changing it in the console, support resetting it) is not reverted by the next restart.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { projectRoot, startEngine, type Engine } from '../helpers/engine'
import { Store } from '../../engine/store'
import { Status, bindStatus } from '../helpers/esme'

const ROOT = projectRoot()

function smsc(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'smsc.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

const bind = (e: Engine, systemId: string, password: string): Promise<number> => bindStatus(e.smppPort, systemId, password)

/** Restart with the config file's password of `systemId` set to `password`. */
async function restartWithPassword(e: Engine, systemId: string, password: string): Promise<void> {
  await e.stop()
  const config = JSON.parse(readFileSync(e.configPath, 'utf8')) as { accounts: { systemId: string; password: string }[] }
  for (const a of config.accounts) if (a.systemId === systemId) a.password = password
  writeFileSync(e.configPath, JSON.stringify(config))
  await e.restart()
}

t.test('a password changed through the CLI survives restarts; a new password in the file replaces it', async (t) => {
  const e = await startEngine(t, { accounts: [{ systemId: 'acme', password: 'filepw1' }, { systemId: 'other', password: 'otherpw' }] as never })
  t.equal(await bind(e, 'acme', 'filepw1'), Status.ESME_ROK, 'the file sets the first password')

  const changed = smsc(['account', 'passwd', 'acme', '--password', 'newpw12', '--config', e.configPath])
  t.equal(changed.code, 0, changed.err)
  t.equal(await bind(e, 'acme', 'newpw12'), Status.ESME_ROK, 'the changed password works at once')

  await e.restart()
  t.equal(await bind(e, 'acme', 'newpw12'), Status.ESME_ROK, 'and after a restart with the same file (it used to be reverted)')
  t.equal(await bind(e, 'acme', 'filepw1'), Status.ESME_RINVPASWD, 'the file\'s old password does not come back')
  t.match(e.output(), /"msg":"account acme: its password was changed through the API, console or CLI after the config file set it; the file's password \(unchanged since\) is not applied again/, 'the log says why')
  t.equal(await bind(e, 'other', 'otherpw'), Status.ESME_ROK, 'another config account is untouched')

  await restartWithPassword(e, 'acme', 'filepw2')
  t.equal(await bind(e, 'acme', 'filepw2'), Status.ESME_ROK, 'a new password in the file is applied')
  t.equal(await bind(e, 'acme', 'newpw12'), Status.ESME_RINVPASWD, 'and replaces the one set through the CLI')

  await e.restart()
  t.equal(await bind(e, 'acme', 'filepw2'), Status.ESME_ROK, 'and stays across restarts')
})

t.test('a store from before the rule (no record of the file\'s password) keeps a password changed through the CLI', async (t) => {
  const e = await startEngine(t, { accounts: [{ systemId: 'acme', password: 'filepw1' }] as never })
  t.equal(smsc(['account', 'passwd', 'acme', '--password', 'newpw12', '--config', e.configPath]).code, 0)
  await e.stop()
  const store = await Store.open(path.join(e.dataDir, 'store'))
  t.equal(typeof store.getMeta('config:password:acme'), 'string', 'the record this start made')
  await store.commit({ meta: [['config:password:acme', null]] }) // as an older engine left it
  await store.close()
  await e.restart()
  t.equal(await bind(e, 'acme', 'newpw12'), Status.ESME_ROK, 'the changed password stays')
  t.equal(await bind(e, 'acme', 'filepw1'), Status.ESME_RINVPASWD, 'the file password does not come back')
  await restartWithPassword(e, 'acme', 'filepw2')
  t.equal(await bind(e, 'acme', 'filepw2'), Status.ESME_ROK, 'and a new password in the file is applied again')
})
