/**
 * A change of the routes that leaves some account's destinations unroutable goes live, but says so (docs/ROUTING.md
 * "Narrowing warnings"): PUT /api/v1/routes answers `warnings` naming the prefix, the route that carried it and the
 * accounts; a SIGHUP reload of a file with narrower routes logs one warn line; `smsc config check` prints the same
 * against the running engine. A change that only widens says nothing.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { projectRoot, startEngine, type Engine } from '../helpers/engine'
import { Status, gsm, openEsme } from '../helpers/esme'

const ACCOUNTS = [{ systemId: 'esme1', password: 'secret1' }, { systemId: 'acme', password: 'secret2' }]
const UK = { name: 'uk', match: { destPrefix: ['44'] }, action: { connector: 'simulator' } }
const DE = { name: 'de', match: { destPrefix: ['+49'] }, action: { connector: 'simulator' } }
const FR_ACME = { name: 'fr-acme', match: { accounts: ['acme'], destPrefix: ['33'] }, action: { connector: 'simulator' } }
const ROUTES = { mt: [UK, DE, FR_ACME], mo: [] }

async function until(engine: Engine, re: RegExp, from: number): Promise<string[]> {
  const lines = () => engine.output().slice(from).split('\n').filter((l) => re.test(l))
  const deadline = Date.now() + 10_000
  while (lines().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  return lines()
}

t.test('PUT /api/v1/routes that drops a route and an account\'s prefix answers warnings naming them, applies the table all the same; one that widens answers none', async (t) => {
  const engine = await startEngine(t, { accounts: ACCOUNTS, extra: { admin: { password: 'narrow-admin-1' } } })
  const token = await engine.operatorToken()
  // From the default table (every destination to the simulator) to named prefixes: the rest is no longer routed.
  t.same((await engine.http('PUT', '/api/v1/routes', ROUTES, token)).json, { ...ROUTES, warnings: [
    'destinations of no named prefix (route "default"): no route now, for acme, esme1',
    '33 (route "default"): no route now, for esme1',
  ] }, 'the default route\'s destinations that no route of the new table takes')
  const from = engine.output().length
  const narrower = { mt: [UK, { ...FR_ACME, match: { accounts: ['acme'], destPrefix: ['331'] } }], mo: [] }
  const r = await engine.http('PUT', '/api/v1/routes', narrower, token)
  t.equal(r.status, 200, 'applied: a narrowing can be meant')
  t.same((r.json as { warnings: string[] }).warnings, [
    '49 (route "de"): no route now, for acme, esme1',
    '33 (route "fr-acme"): no route now, for acme',
  ], 'the lost prefixes, the routes that carried them and the accounts (by route)')
  const warned = await until(engine, /"msg":"routes narrowed/, from)
  t.equal(warned.length, 1, 'one warn line')
  t.match(JSON.parse(warned[0]), { level: 'warn', msg: /^routes narrowed: .*49 \(route "de"\): no route now, for acme, esme1/, lost: 2 })
  // applied: a submit to 49 is refused now, 44 still goes
  const tx = await openEsme(t, { port: engine.smppPort, kind: 'transmitter' })
  t.equal((await tx.submit({ source_addr: '12345', destination_addr: '4915112345678', short_message: gsm('x') })).command_status, 0x0b, '49 is refused now (ESME_RINVDSTADR)')
  t.equal((await tx.submit({ source_addr: '12345', destination_addr: '447700900001', short_message: gsm('x') })).command_status, Status.ESME_ROK, '44 still goes')

  const wider = { mt: [UK, DE, FR_ACME, { name: 'rest', match: {}, action: { connector: 'simulator' } }], mo: [] }
  const w = await engine.http('PUT', '/api/v1/routes', wider, token)
  t.same((w.json as { warnings: string[] }).warnings, [], 'a table that only widens: no warning')
  const narrowedLines = await until(engine, /"msg":"routes narrowed/, from)
  t.equal(narrowedLines.length, 1, 'and no second warn line')
  // A reject route in front of a prefix: refused now, by that route.
  const rejecting = { mt: [{ name: 'block-4477', match: { destPrefix: ['4477'] }, action: { reject: 11 } }, ...wider.mt], mo: [] }
  t.same(((await engine.http('PUT', '/api/v1/routes', rejecting, token)).json as { warnings: string[] }).warnings,
    ['4477 (route "uk"): refused now by route "block-4477", for acme, esme1'], 'a reject route in front names itself')
})

t.test('a SIGHUP reload of a file whose routes are narrower logs the warn line; smsc config check names what a reload would stop routing', async (t) => {
  const engine = await startEngine(t, { accounts: ACCOUNTS, extra: { routes: ROUTES } })
  const from = engine.output().length
  writeFileSync(engine.configPath, JSON.stringify({ ...engine.config, routes: { mt: [UK, FR_ACME], mo: [] } }))
  engine.signal('SIGHUP')
  const reloaded = await until(engine, /SIGHUP: config reloaded/, from)
  t.match(reloaded[0], /routes replaced by the file's \(2 MT, 0 MO; 1 destination no longer routed: the \\"routes narrowed\\" warning names them\)/, 'the reload line says it')
  const warned = await until(engine, /"msg":"routes narrowed/, from)
  t.equal(warned.length, 1, 'one warn line')
  t.match(JSON.parse(warned[0]), { level: 'warn', msg: /^routes narrowed: destinations the routes in force carried are not routed now: 49 \(route "de"\): no route now, for acme, esme1$/ })

  const check = (routes: unknown) => {
    writeFileSync(engine.configPath, JSON.stringify({ ...engine.config, routes }))
    return spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'smsc.js'), 'config', 'check', '--config', engine.configPath], { encoding: 'utf8', timeout: 60_000 })
  }
  const narrower = check({ mt: [{ ...UK, match: { accounts: ['acme'], destPrefix: ['44'] } }, FR_ACME], mo: [] })
  t.equal(narrower.status, 0, `still ok: ${narrower.stderr}`)
  t.match(narrower.stdout, /^warning: a reload would stop routing 44 \(route "uk"\): no route now, for esme1$/m, 'config check names the prefix, route and account')
  const same = check({ mt: [UK, FR_ACME, DE], mo: [] })
  t.equal(same.status, 0)
  t.notMatch(same.stdout, /warning/, 'a file that only widens: no warning')
  t.match(same.stdout, /nothing it routes would stop being routed/)
})
