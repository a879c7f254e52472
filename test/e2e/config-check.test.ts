/**
 * `smsc config check`: a config file checked as a start or a reload would, without starting: ok and what it
 * configures, or the one line naming the key and what is wrong (exit 2), with nothing opened (no data dir made).
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { projectRoot } from '../helpers/engine'

const ROOT = projectRoot()

function smsc(args: string[], env: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'smsc.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, SMSC_CONFIG: '', ...env } })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

t.test('smsc config check', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'smsc-config-check-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = (name: string, o: unknown) => { const p = path.join(dir, name); writeFileSync(p, JSON.stringify(o)); return p }
  const data = path.join(dir, 'data')
  const good = file('good.json', {
    dataDir: data,
    connectors: [{ id: 'up1', kind: 'smpp', host: '127.0.0.1', port: 2776, systemId: 'x', password: 'y' }],
    routes: { mt: [{ name: 'all', match: {}, action: { connector: 'up1' } }], mo: [] },
  })
  t.match(smsc(['config', 'check', '--config', good]), { code: 0, out: `${good}: ok (0 accounts in the file, 1 connector and the simulator, routes: 1 MT, 0 MO, data dir ${data})\n`, err: '' })
  t.notOk(existsSync(data), 'no data dir made: nothing is opened')
  t.match(smsc(['config', 'check'], { SMSC_CONFIG: good }), { code: 0 }, 'SMSC_CONFIG names the file too')

  const badRoute = file('bad-route.json', { routes: { mt: [{ name: 'all', match: {}, action: { connector: 'nope' } }], mo: [] } })
  t.match(smsc(['config', 'check', '--config', badRoute]), { code: 2, out: '', err: `smsc: ${badRoute}: config.routes.mt[0].action.connector must be a configured connector id (got "nope"; connectors: simulator)\n` })
  const badKey = file('bad-key.json', { smpp: { prot: 2775 } })
  t.match(smsc(['config', 'check', '--config', badKey]), { code: 2, err: /^smsc: .*config\.smpp\.prot is not a known key/ })
  t.match(smsc(['config', 'check', '--config', path.join(dir, 'missing.json')]), { code: 2, err: /^smsc: cannot read config file ".*missing\.json": no such file/ })
  t.match(smsc(['config', 'check']), { code: 2, err: 'smsc: config check needs --config FILE (or SMSC_CONFIG)\n' })
  t.match(smsc(['config', 'check', '--data-dir', dir]), { code: 2, err: /--data-dir/ }, 'only --config')
})
