/**
 * What an operator alerts on (docs/TELEMETRY.md "Alerting"): the rules there parse as Prometheus rules YAML and every
 * metric their expressions name is in a real engine's /metrics scrape (so the doc cannot drift from engine/telemetry.ts);
 * and the series they rest on say what they claim: smsc_health and smsc_health_problems follow /healthz (a connector
 * down, then stopped by the operator; the overload guard; the disk guard), smsc_build_info and
 * process_start_time_seconds, smsc_config_reload_success and its timestamp across a refused and a good SIGHUP, and a
 * disabled simulator listed as no connector at all. Real engine processes (`smsc start`), real SMPP binds.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import { spawnSync } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import YAML from 'yaml'
import { projectRoot, startEngine, type Engine } from '../helpers/engine'
import { gsm, openEsme } from '../helpers/esme'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The series of a scrape: name → [labels, value][]. */
async function scrape(engine: Engine): Promise<Map<string, [Record<string, string>, number][]>> {
  const out = new Map<string, [Record<string, string>, number][]>()
  for (const line of (await engine.http('GET', '/metrics')).body.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2]
    out.set(m[1], [...(out.get(m[1]) ?? []), [labels, Number(m[3])]])
  }
  return out
}

/** One series' value (undefined: no such series). */
function value(s: Map<string, [Record<string, string>, number][]>, name: string, labels: Record<string, string> = {}): number | undefined {
  return s.get(name)?.find(([l]) => Object.entries(labels).every(([k, v]) => l[k] === v))?.[1]
}

async function until(what: string, ok: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan'])

/**
 * The metric names a PromQL expression reads: what is left once strings, label matchers, range and subquery brackets,
 * grouping label lists, function names, keywords and numbers are taken out.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
  const names = new Set<string>()
  for (const m of bare.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    if (m[2] !== undefined || PROMQL_WORDS.has(m[1].toLowerCase())) continue // a function, a keyword
    names.add(m[1])
  }
  return [...names]
}

/** The yaml block under docs/TELEMETRY.md's "## Alerting", as text. */
function rulesBlock(): string {
  const doc = fs.readFileSync(path.join(projectRoot(), 'docs', 'TELEMETRY.md'), 'utf8')
  const at = doc.indexOf('\n## Alerting\n')
  if (at < 0) throw new Error('docs/TELEMETRY.md has no "## Alerting" section')
  const block = /```yaml\n([\s\S]*?)```/.exec(doc.slice(at))
  if (block === null) throw new Error('no yaml block in docs/TELEMETRY.md "Alerting"')
  return block[1]
}

/** The rules of the yaml block under docs/TELEMETRY.md's "## Alerting". */
function documentedRules(): { alert: string; expr: string; for?: string }[] {
  const parsed = YAML.parse(rulesBlock()) as { groups: { name: string; rules: { alert: string; expr: string; for?: string }[] }[] }
  return parsed.groups.flatMap((g) => g.rules)
}

/** Prometheus's own checker (Debian's prometheus package; .ci/run installs it). */
const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((f) => fs.existsSync(f))

t.test('promtool check rules passes the documented rules: their PromQL parses, their templates expand', { skip: PROMTOOL === undefined ? 'no promtool (apt-get install prometheus)' : false }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-rules-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'smsc.rules.yml')
  fs.writeFileSync(file, rulesBlock())
  const r = spawnSync(PROMTOOL as string, ['check', 'rules', file], { encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`)
  t.match(r.stdout, new RegExp(`SUCCESS: ${documentedRules().length} rules found`), 'every rule checked')
})

t.test('metricNames finds the metrics of an expression, not its labels, functions or keywords', async (t) => {
  t.same(metricNames('sum by (instance, account) (rate(a_total{status!="x y", b="c"}[10m])) / on (account) group_left b_seconds > 0.2 and changes(c[15m]) > 0'),
    ['a_total', 'b_seconds', 'c'])
  t.same(metricNames('predict_linear(smsc_store_free_bytes[6h], 24 * 3600) < 1e6'), ['smsc_store_free_bytes'])
  t.same(metricNames('up{job="smsc"} == 0 unless on (instance) x == bool 1'), ['up', 'x'])
})

t.test('every metric the alert rules of docs/TELEMETRY.md name is in a real /metrics scrape', async (t) => {
  const rules = documentedRules()
  t.ok(rules.length >= 12, `${rules.length} rules`)
  for (const r of rules) t.ok(typeof r.alert === 'string' && typeof r.expr === 'string' && r.expr.trim() !== '', `${r.alert}: a name and an expression`)
  // A prepaid account, so that its balance series exists; the simulator on, so that connectors do; TLS (the dev
  // certificate), so that the certificate's expiry does.
  const engine = await startEngine(t, { devTls: true, accounts: [{ systemId: 'esme1', password: 'secret1', credit: 100 } as never] })
  // and a message, so that the series a submit starts (smsc_submit_total) exist
  const esme = await openEsme(t, { port: engine.smppPort })
  t.equal((await esme.submit({ source_addr: '1', destination_addr: '4915112345678', short_message: gsm('scrape me') })).command_status, 0, 'one message sent')
  const s = await scrape(engine)
  t.ok(s.size > 30, `the scrape has ${s.size} metrics`)
  for (const r of rules) {
    const names = metricNames(r.expr)
    t.ok(names.length > 0, `${r.alert} reads a metric`)
    // `up` is Prometheus's own series for every scrape target, not the engine's
    for (const n of names) if (n !== 'up') t.ok(s.has(n), `${r.alert}: ${n} is in /metrics`)
  }
})

t.test('smsc_health, smsc_build_info, process_start_time_seconds, and smsc_config_reload_* across a refused and a good SIGHUP', async (t) => {
  const startedBefore = Date.now() / 1000
  const engine = await startEngine(t, { extra: { log: { level: 'info' } } })
  let s = await scrape(engine)
  t.equal(value(s, 'smsc_health', { status: 'ok' }), 1, 'ok')
  t.equal(value(s, 'smsc_health', { status: 'degraded' }), 0)
  t.equal(value(s, 'smsc_health', { status: 'starting' }), 0)
  for (const reason of ['connector_down', 'overload', 'disk']) t.equal(value(s, 'smsc_health_problems', { reason }), 0, `no ${reason} problem`)
  const version = (JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version
  t.equal(value(s, 'smsc_build_info', { version, node: process.version }), 1, `smsc_build_info{version="${version}"} 1`)
  const started = value(s, 'process_start_time_seconds') ?? 0
  t.ok(started > startedBefore - 1 && started < Date.now() / 1000, `process_start_time_seconds is the engine process's start (${started})`)
  t.equal(value(s, 'smsc_config_reload_success'), 1, 'no reload yet: 1')
  const loaded = value(s, 'smsc_config_reload_timestamp_seconds') ?? 0
  t.ok(loaded >= started && loaded < Date.now() / 1000, 'the config was taken at the start')

  const good = fs.readFileSync(engine.configPath, 'utf8')
  fs.writeFileSync(engine.configPath, JSON.stringify({ ...JSON.parse(good), connectors: [{ id: 'bad', kind: 'smpp', port: 'x' }] }))
  engine.signal('SIGHUP')
  await until('the refused reload', async () => /SIGHUP: config not reloaded/.test(engine.output()))
  s = await scrape(engine)
  t.equal(value(s, 'smsc_config_reload_success'), 0, 'a refused config: 0')
  t.equal(value(s, 'smsc_config_reload_timestamp_seconds'), loaded, 'the last good load stays the start')

  await sleep(20) // a later timestamp
  fs.writeFileSync(engine.configPath, good)
  engine.signal('SIGHUP')
  await until('the good reload', async () => /SIGHUP: config reloaded/.test(engine.output()))
  await until('the gauge', async () => value(await scrape(engine), 'smsc_config_reload_success') === 1, 5000)
  s = await scrape(engine)
  t.equal(value(s, 'smsc_config_reload_success'), 1, 'a good reload: 1 again')
  t.ok((value(s, 'smsc_config_reload_timestamp_seconds') ?? 0) > loaded, 'and its time')
  t.equal(value(s, 'process_start_time_seconds'), started, 'a reload is no restart')
})

t.test('a disabled simulator is no connector; a connector down makes the engine degraded until the operator stops it; the overload and disk guards', async (t) => {
  // a port nobody listens on: the connector stays down
  const closed = await new Promise<number>((resolve) => { const srv = net.createServer().listen(0, '127.0.0.1', () => { const p = (srv.address() as net.AddressInfo).port; srv.close(() => resolve(p)) }) })
  const engine = await startEngine(t, {
    simulator: { enabled: false } as never,
    extra: {
      connectors: [{ id: 'up1', kind: 'smpp', host: '127.0.0.1', port: closed, systemId: 'x', password: 'y', reconnectMs: [100, 1000] }],
      routes: { mt: [{ name: 'all', match: {}, action: { connector: 'up1' } }], mo: [] },
      overload: { highWater: 3, lowWater: 1 },
    },
  })
  const token = await engine.operatorToken()
  let s = await scrape(engine)
  t.same((s.get('smsc_connector_up') ?? []).map(([l]) => l.connector), ['up1'], 'smsc_connector_up lists up1 only: no simulator')
  t.equal(value(s, 'smsc_connector_up', { connector: 'up1' }), 0, 'up1 is down')
  t.equal(value(s, 'smsc_connector_stopped', { connector: 'up1' }), 0, 'not stopped by the operator')
  t.equal(value(s, 'smsc_health', { status: 'degraded' }), 1, 'degraded')
  t.equal(value(s, 'smsc_health_problems', { reason: 'connector_down' }), 1, 'for one connector down')
  const health = (await engine.http('GET', '/healthz')).json as { status: string; problems: string[]; connectors: { id: string }[] }
  t.same(health.connectors.map((c) => c.id), ['up1'], '/healthz lists no simulator either')
  t.same(health.problems, ['connector up1 is down'])
  const listed = (await engine.http('GET', '/api/v1/connectors', undefined, token)).json as { connectors: { id: string }[] }
  t.same(listed.connectors.map((c) => c.id), ['up1'], 'nor GET /api/v1/connectors')

  // Messages for up1 wait for it: past overload.highWater the overload guard refuses submits.
  const esme = await openEsme(t, { port: engine.smppPort })
  for (let i = 0; i < 4; i++) await esme.submit({ source_addr: '1', destination_addr: '4915112345678', short_message: gsm(`wait ${i}`) })
  await until('the overload guard', async () => value(await scrape(engine), 'smsc_health_problems', { reason: 'overload' }) === 1)
  t.pass('smsc_health_problems{reason="overload"} 1 once the backlog passed overload.highWater')

  t.equal((await engine.http('POST', '/api/v1/connectors/up1/stop', undefined, token)).status, 200, 'the operator stops up1')
  s = await scrape(engine)
  t.equal(value(s, 'smsc_connector_stopped', { connector: 'up1' }), 1, 'smsc_connector_stopped 1')
  t.equal(value(s, 'smsc_health_problems', { reason: 'connector_down' }), 0, 'down on purpose: no problem')
  t.equal(value(s, 'smsc_health', { status: 'degraded' }), 1, 'still degraded: the overload guard')

  const disk = await startEngine(t, { extra: { store: { minFreeMiB: 1_048_576 } } })
  s = await scrape(disk)
  t.equal(value(s, 'smsc_health_problems', { reason: 'disk' }), 1, 'below store.minFreeMiB: the disk guard')
  t.equal(value(s, 'smsc_health', { status: 'degraded' }), 1)
  t.same((s.get('smsc_connector_up') ?? []).map(([l]) => l.connector), ['simulator'], 'an enabled simulator is a connector')
})
