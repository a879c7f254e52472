/**
 * The benchmark runner behind `smsc bench` (and `npm run bench`). It prints the machine first, then
 * for each target (engine, node-smpp, floor; or an external SMSC) starts the server as a child
 * process, runs the load generator (bench/esme-load.ts) in this process, reads the server's CPU
 * time and resident memory from /proc, stops the server, and prints one line per target, a table,
 * and the ratios engine/node-smpp and engine/floor. Results are written as JSON to
 * bench/results/local/<date>-<scenario>.json (and to --json FILE). `smsc bench micro` runs the
 * micro-benchmarks; `smsc bench profile FILE` summarises a .cpuprofile.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { EsmeLoad, LOAD_DEFAULTS, type BindType, type LoadOptions, type LoadResult } from './esme-load'
import { SCENARIOS, findScenario, type Scenario } from './scenarios'
import { TARGETS, binNodeFlags, cpuSeconds, projectRoot, rssKb, rssSplitKb, startTarget, type Target, type TargetName } from './targets'
import { formatMix, parseMix } from './templates'
import { summariseProfile, formatProfileSummary } from './cpuprofile'
import { openSubscribers, telemetryTickCost } from './telemetry-subscribers'
import { formatVerdicts, judge, type GoalMeasures } from './goals'

const HELP = `smsc bench: the SMPP benchmark harness

Usage:
  smsc bench <scenario> [options]      run a named scenario (see the list below)
  smsc bench [options]                 a custom load (every option below; defaults 1 bind, window 1, 10 s)
  smsc bench list                      the scenarios
  smsc bench goals [--duration S] [--soak]   issue 3's goals in one go: receipts on all targets (60 s),
                                       80% of that rate, 1000x10tps, idle-5000 (--soak: and 10 minutes at half
                                       the rate), then each goal met or missed
  smsc bench micro [suite...]          micro-benchmarks: codec framer nact store piscina record (default: all)
  smsc bench profile <file.cpuprofile> [--top N]   top functions of a CPU profile

Options:
  --target T             engine | node-smpp | floor | all | external   (default: the scenario's; all for most)
  --duration S           seconds of sending (default: the scenario's)
  --messages N           stop after N submit_sm instead of a duration
  --binds N              binds (transceivers, or transmitter+receiver pairs)
  --bind-type T          transceiver | pair
  --window N             outstanding submit_sm per bind
  --rate N               target submit_sm/s overall; 0 = as fast as it goes
  --mix M                gsm | ucs2 | long-gsm | long-ucs2, or weights: gsm=70,ucs2=20,long-ucs2=10
  --registered-delivery 0|1   ask for a receipt per submit
  --carrier-delay A,B    engine simulator delivery delay in ms (default 0,0)
  --drain S              seconds to wait for the last responses and receipts (default 10)
  --warmup S             latencies of submits sent in the first S seconds are reported apart as warm-up
                         (default 2 for runs of 10 s or more, else 0); throughput always counts the whole run
  --json FILE            also write the result JSON to FILE
  --results-dir DIR      where result files go (default <root>/bench/results/local, not in git; the recorded
                         results in bench/results are written with --results-dir bench/results); --no-save to skip
  --profile DIR          run the server with --cpu-prof into DIR and print its top functions
  --subscribers N        keep N telemetry WebSocket clients open on the engine during the load
  smsc bench http [--duration S] [--connections N]   autocannon against /healthz, /metrics and the send API (one message, batches of 100) of the engine
  --server-node-args A   node flags for the server children, e.g. "--max-semi-space-size=64" (default: the
                         flags on bin/smsc.js's first line, which "npx smsc start" runs with)
  --log-level L          engine log level (default warn)
  --quiet                no progress line
  --host H --port N --system-id S --password P   for --target external
`

interface Flags {
  [name: string]: string | boolean
}

function parseArgs(argv: string[]): { words: string[]; flags: Flags } {
  const words: string[] = []
  const flags: Flags = {}
  const booleans = new Set(['help', 'quiet', 'no-save', 'all', 'soak'])
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '-h') { flags.help = true; continue }
    if (!a.startsWith('--')) { words.push(a); continue }
    const eq = a.indexOf('=')
    if (eq > 0) { flags[a.slice(2, eq)] = a.slice(eq + 1); continue }
    const name = a.slice(2)
    if (booleans.has(name)) flags[name] = true
    else if (i + 1 < argv.length) flags[name] = argv[++i]
    else throw new Error(`--${name} needs a value`)
  }
  return { words, flags }
}

const KNOWN = ['help', 'quiet', 'no-save', 'target', 'duration', 'messages', 'binds', 'bind-type', 'window', 'rate', 'mix',
  'registered-delivery', 'carrier-delay', 'drain', 'warmup', 'json', 'results-dir', 'profile', 'log-level', 'host', 'port', 'system-id',
  'password', 'top', 'engine-bin', 'server-node-args', 'subscribers', 'connections', 'soak']

function num(flags: Flags, name: string, min: number): number | undefined {
  const v = flags[name]
  if (v === undefined) return undefined
  const n = Number(v)
  if (typeof v !== 'string' || !Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min} (got ${JSON.stringify(v)})`)
  return n
}

function int(flags: Flags, name: string, min: number): number | undefined {
  const n = num(flags, name, min)
  if (n !== undefined && !Number.isInteger(n)) throw new Error(`--${name} must be an integer (got ${n})`)
  return n
}

// ------------------------------------------------------------------ machine

export interface Machine {
  cpu: string
  cores: number
  memoryGiB: number
  node: string
  os: string
  hostname: string
  /** 1-minute load average when the run started: other work on the machine skews every number. */
  loadAverage: number
}

export function machine(): Machine {
  let distro = ''
  try {
    distro = /PRETTY_NAME="([^"]*)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? ''
  } catch {
    // not Linux
  }
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${distro ? `${distro}, ` : ''}${os.type()} ${os.release()} ${os.arch()}`,
    hostname: os.hostname(),
    loadAverage: Math.round(os.loadavg()[0] * 100) / 100,
  }
}

/** The commit the results belong to (read-only git queries; undefined outside a work tree). */
export function gitInfo(): { commit: string; dirty: boolean } | undefined {
  for (const cwd of [projectRoot(), process.cwd()]) {
    try {
      const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()
      const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() !== ''
      return { commit, dirty }
    } catch {
      // not a git work tree here
    }
  }
  return undefined
}

function printMachine(m: Machine): void {
  process.stdout.write(`machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; Node ${m.node}; ${m.os}; load average ${m.loadAverage}\n`)
}

// ------------------------------------------------------------------ one target

export interface TargetRun {
  target: TargetName
  /** 1-minute load average of the machine just before this target started. */
  loadAverage: number
  load: LoadResult | null
  error?: string
  server: {
    pid: number | null
    /** CPU seconds the server used while the load ran, and that divided by the wall time (cores busy). */
    cpuSeconds: number
    cpuCores: number
    /** The same for the main thread alone (the event loop: what one Node process cannot spread over cores). */
    mainThreadCpuCores: number
    /** Server CPU (all threads) per submit_sm acked: the budget a faster engine has to shrink. */
    cpuMicrosPerSubmit: number | null
    rssKbBefore: number
    rssKbBound: number
    rssKbEnd: number
    /** (rssKbBound - rssKbBefore) / bound connections, for the memory scenarios. */
    kbPerBind?: number
    /** RSS every 5 s while the load ran ([seconds, RSS KiB, of which anonymous KiB]): flat, or growing? */
    rssTimelineKb: [number, number, number][]
    exit: string
  }
  /** The server's output when it wrote anything beyond its banner (warnings, errors), last 8 KiB. */
  serverOutput?: string
  profile?: string
  /** Telemetry clients open during the run, and what they received. */
  telemetry?: { clients: number; frames: number; bytes: number }
  /** Engine only: telemetry ticks during the whole run and the CPU they took (share of one core). */
  telemetryCost?: { ticks: number; seconds: number; coreShare: number }
}

interface RunPlan {
  scenario: Scenario
  load: Partial<LoadOptions>
  carrierDelayMs: [number, number]
  profileDir?: string
  serverNodeArgs: string[]
  logLevel: string
  external: { host?: string; port?: number; systemId?: string; password?: string }
  engineBin?: string
  /** Telemetry WebSocket clients kept open on the engine during the load. */
  subscribers: number
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

async function runTarget(name: TargetName, plan: RunPlan, root: string): Promise<TargetRun> {
  const nodeArgs = name === 'external' ? [] : [...plan.serverNodeArgs, ...(plan.profileDir ? ['--cpu-prof', '--cpu-prof-dir', plan.profileDir] : [])]
  const before = plan.profileDir ? listProfiles(plan.profileDir) : new Set<string>()
  const load = { ...LOAD_DEFAULTS, ...plan.load }
  const target: Target = await startTarget(name, {
    root, binds: load.binds * (load.bindType === 'pair' ? 2 : 1), window: load.window, carrierDelayMs: plan.carrierDelayMs,
    nodeArgs, logLevel: plan.logLevel, ...plan.external, engineBin: plan.engineBin,
  })
  const pid = target.pid
  const run: TargetRun = {
    target: name, loadAverage: Math.round(os.loadavg()[0] * 100) / 100, load: null,
    server: { pid, cpuSeconds: 0, cpuCores: 0, mainThreadCpuCores: 0, cpuMicrosPerSubmit: null, rssKbBefore: 0, rssKbBound: 0, rssKbEnd: 0, rssTimelineKb: [], exit: '' },
  }
  const gen = new EsmeLoad({ ...load, host: target.host, port: target.port, systemId: target.systemId, password: target.password, label: name })
  try {
    if (pid) run.server.rssKbBefore = rssKb(pid)
    await gen.connect()
    if (plan.scenario.measureMemory) await sleep(2_000) // let the server settle after the bind storm
    if (pid) run.server.rssKbBound = rssKb(pid)
    if (plan.scenario.measureMemory && pid) run.server.kbPerBind = Math.round(((run.server.rssKbBound - run.server.rssKbBefore) / gen.boundCount) * 10) / 10
    const cpu0 = pid ? cpuSeconds(pid) : 0
    const mainCpu0 = pid ? cpuSeconds(pid, true) : 0
    const t0 = Date.now()
    const subs = plan.subscribers > 0 && target.httpPort ? await openSubscribers(target.httpPort, plan.subscribers) : null
    const sampler = pid ? setInterval(() => run.server.rssTimelineKb.push([Math.round((Date.now() - t0) / 1000), rssKb(pid), rssSplitKb(pid).anon]), 5_000) : null
    try {
      run.load = await gen.run()
    } finally {
      if (sampler) clearInterval(sampler)
      if (subs) { run.telemetry = subs.stats(); subs.close() }
    }
    if (target.httpPort) {
      const c = await telemetryTickCost(target.httpPort)
      run.telemetryCost = { ...c, coreShare: Math.round((c.seconds / ((Date.now() - t0) / 1000)) * 10_000) / 10_000 }
    }
    if (pid) {
      run.server.cpuSeconds = Math.round((cpuSeconds(pid) - cpu0) * 100) / 100
      const wall = (Date.now() - t0) / 1000
      run.server.cpuCores = Math.round((run.server.cpuSeconds / wall) * 100) / 100
      run.server.mainThreadCpuCores = Math.round(((cpuSeconds(pid, true) - mainCpu0) / wall) * 100) / 100
      const acked = run.load?.acked ?? 0
      run.server.cpuMicrosPerSubmit = acked > 0 ? Math.round((run.server.cpuSeconds / acked) * 1e7) / 10 : null
      run.server.rssKbEnd = rssKb(pid)
    }
  } catch (err) {
    run.error = (err as Error).message
  } finally {
    await gen.close()
    run.server.exit = await target.stop()
  }
  const out = target.output()
  // What the run should show of the server's output: its warnings and errors, not its info records (the banner,
  // the stop) nor a text banner; anything else that looks like an error is kept.
  const noisy = out.split('\n').filter((l) => !/^\{"time":"[^"]*","level":"(info|debug)"/.test(l) && /"level"|error|warn|exited|SIGKILL/i.test(l))
  if (noisy.length > 0) run.serverOutput = noisy.join('\n').slice(-8192)
  if (plan.profileDir) {
    const fresh = [...listProfiles(plan.profileDir)].filter((f) => !before.has(f))
    if (fresh.length > 0) run.profile = path.join(plan.profileDir, fresh[fresh.length - 1])
  }
  return run
}

function listProfiles(dir: string): Set<string> {
  try {
    return new Set(readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort())
  } catch {
    return new Set()
  }
}

// ------------------------------------------------------------------ printing

const n0 = (v: number) => Math.round(v).toLocaleString('en-US')
const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2))

function errorText(r: LoadResult): string {
  const e = Object.entries(r.errors)
  const parts = e.map(([k, v]) => `${k} x${n0(v)}`)
  if (r.unanswered > 0) parts.push(`unanswered x${n0(r.unanswered)}`)
  if (r.unmatched > 0) parts.push(`unmatched x${n0(r.unmatched)}`)
  if (r.serverUnbinds > 0) parts.push(`unbound by the server x${r.serverUnbinds}`)
  if (r.disconnects > 0) parts.push(`disconnects x${r.disconnects}`)
  if (r.bound === 0 && r.bindAttempts > 0 && r.sendSeconds < r.options.durationS - 1) parts.push(`no bind left after ${r.sendSeconds.toFixed(1)} s: sending stopped`)
  if (r.receiptsMissing > 0) parts.push(`receipts missing x${n0(r.receiptsMissing)}`)
  return parts.length ? parts.join(', ') : 'none'
}

function printRun(run: TargetRun): void {
  const out = process.stdout
  if (run.error) out.write(`${run.target}: FAILED: ${run.error}\n`)
  const r = run.load
  const s = run.server
  if (r) {
    const bindErr = Object.keys(r.bindErrors).length ? `  bind errors ${JSON.stringify(r.bindErrors)}` : ''
    out.write(`${run.target}: bound ${n0(r.bound)}/${n0(r.bindAttempts)} in ${r.bindSeconds.toFixed(1)} s${bindErr}\n`)
    if (r.options.idle) {
      out.write(`  held ${r.sendSeconds.toFixed(0)} s, enquire_link answered ${r.enquireLinks}, disconnects ${r.disconnects}\n`)
    } else {
      const l = r.submitLatencyMs
      const rc = r.receiptLatencyMs
      out.write(`  submit_sm/s ${n0(r.submitsPerSec)} (offered ${n0(r.offeredPerSec)}/s, ${n0(r.acked)} acked of ${n0(r.sent)})` +
        `  receipts/s ${n0(r.receiptsPerSec)} (${n0(r.receipts)}, matched ${n0(r.receiptsMatched)})\n`)
      const w = r.warmupLatencyMs
      const after = r.options.warmupS > 0 ? ` (after ${r.options.warmupS} s warm-up)` : ' (whole run, the first second of JIT warm-up included; runs of 10 s or more report it apart)'
      if (l.count === 0 && w.count > 0) out.write(`  submit→resp ms${after}: n/a, every submit was sent during the warm-up (use a longer run or --warmup 0)\n`)
      else {
        out.write(`  submit→resp ms${after} p50 ${ms(l.p50)} p90 ${ms(l.p90)} p99 ${ms(l.p99)} p99.9 ${ms(l.p999)} max ${ms(l.max)}` +
          (rc.count > 0 ? `   submit→receipt ms p50 ${ms(rc.p50)} p99 ${ms(rc.p99)} max ${ms(rc.max)}` : '') + '\n')
      }
      if (w.count > 0) out.write(`  warm-up: ${n0(w.count)} submits, submit→resp ms p50 ${ms(w.p50)} p99 ${ms(w.p99)} max ${ms(w.max)} (their receipts are left out of submit→receipt)\n`)
      out.write(`  errors: ${errorText(r)}\n`)
    }
  }
  if (s.pid) {
    out.write(`  server: CPU ${s.cpuCores.toFixed(2)} cores (main thread ${(s.mainThreadCpuCores ?? 0).toFixed(2)})` +
      (s.cpuMicrosPerSubmit ? `, ${s.cpuMicrosPerSubmit} µs per submit_sm` : '') + `, RSS ${n0(s.rssKbBefore / 1024)} → ${n0(s.rssKbBound / 1024)} (bound) → ${n0(s.rssKbEnd / 1024)} MiB` +
      (s.kbPerBind !== undefined ? `, ${s.kbPerBind} KiB per bind` : '') + `; exit ${s.exit}` +
      (r ? `; generator CPU ${(r.generatorCpuSeconds / Math.max(r.elapsedSeconds, 0.001)).toFixed(2)} cores, loop delay p99 ${ms(r.generatorLoopDelayMs.p99)} max ${ms(r.generatorLoopDelayMs.max)} ms` : '') + '\n')
  }
  if (s.rssTimelineKb.length >= 1) {
    out.write(`  server RSS every 5 s, MiB total/anonymous: ${s.rssTimelineKb.map(([, kb, anon]) => `${Math.round(kb / 1024)}/${Math.round(anon / 1024)}`).join(' ')}` +
      ' (anonymous: heap and buffers; the rest is the mapped LMDB file, pages the kernel can reclaim)\n')
  }
  if (run.telemetry) out.write(`  telemetry: ${run.telemetry.clients} WebSocket subscribers received ${n0(run.telemetry.frames)} frames, ${n0(Math.round(run.telemetry.bytes / 1024))} KiB\n`)
  if (run.telemetryCost) out.write(`  telemetry cost: ${n0(run.telemetryCost.ticks)} ticks took ${(run.telemetryCost.seconds * 1000).toFixed(0)} ms of CPU, ${(run.telemetryCost.coreShare * 100).toFixed(2)}% of one core\n`)
  if (run.serverOutput) out.write(`  server said:\n${run.serverOutput.split('\n').slice(-12).map((l) => `    ${l.slice(0, 300)}`).join('\n')}\n`)
  if (run.profile) {
    out.write(`  CPU profile: ${run.profile}\n`)
    try {
      out.write(formatProfileSummary(summariseProfile(run.profile), 15).split('\n').map((l) => `    ${l}`).join('\n') + '\n')
    } catch (err) {
      out.write(`    (cannot read it: ${(err as Error).message})\n`)
    }
  }
}

function printTable(runs: TargetRun[]): void {
  const rows = runs.filter((r) => r.load && !r.load.options.idle)
  if (rows.length < 2) return
  const out = process.stdout
  const warm = rows[0].load?.options.warmupS ?? 0
  out.write(`\ntarget      submit/s  receipts/s   p50 ms   p90 ms   p99 ms   max ms  rcpt p99  server CPU${warm > 0 ? `   (latencies after the ${warm} s warm-up)` : ''}\n`)
  for (const run of rows) {
    const r = run.load as LoadResult
    const l = r.submitLatencyMs
    out.write(`${run.target.padEnd(10)}${n0(r.submitsPerSec).padStart(10)}${n0(r.receiptsPerSec).padStart(12)}` +
      `${ms(l.p50).padStart(9)}${ms(l.p90).padStart(9)}${ms(l.p99).padStart(9)}${ms(l.max).padStart(9)}` +
      `${(r.receiptLatencyMs.count ? ms(r.receiptLatencyMs.p99) : '-').padStart(10)}${run.server.cpuCores.toFixed(2).padStart(12)}\n`)
  }
}

export interface Ratios {
  [pair: string]: { submits: number; receipts: number | null }
}

function ratios(runs: TargetRun[]): Ratios {
  const by = new Map(runs.filter((r) => r.load && !r.load.options.idle).map((r) => [r.target, r.load as LoadResult]))
  const engine = by.get('engine')
  const out: Ratios = {}
  if (!engine) return out
  for (const peer of ['node-smpp', 'floor'] as const) {
    const p = by.get(peer)
    if (!p || p.submitsPerSec === 0) continue
    out[`engine/${peer}`] = {
      submits: Math.round((engine.submitsPerSec / p.submitsPerSec) * 1000) / 1000,
      receipts: p.receiptsPerSec > 0 ? Math.round((engine.receiptsPerSec / p.receiptsPerSec) * 1000) / 1000 : null,
    }
  }
  return out
}

// ------------------------------------------------------------------ main

function resolvePlan(words: string[], flags: Flags): { plan: RunPlan; targets: TargetName[] } {
  const name = words[0]
  let scenario: Scenario
  if (name === undefined) {
    scenario = { name: 'custom', description: 'load given by the flags', load: {}, targets: ['engine'] }
  } else {
    const found = findScenario(name)
    if (!found) throw new Error(`unknown scenario ${JSON.stringify(name)}; one of: ${SCENARIOS.map((s) => s.name).join(', ')} (or micro, list, profile)`)
    scenario = found
  }
  const load: Partial<LoadOptions> = { ...scenario.load }
  const set = <K extends keyof LoadOptions>(k: K, v: LoadOptions[K] | undefined) => { if (v !== undefined) load[k] = v }
  set('durationS', num(flags, 'duration', 0))
  set('messages', int(flags, 'messages', 1))
  if (flags.messages !== undefined && flags.duration === undefined) load.durationS = 0
  set('binds', int(flags, 'binds', 1))
  set('window', int(flags, 'window', 1))
  set('rate', num(flags, 'rate', 0))
  const drain = num(flags, 'drain', 0)
  if (drain !== undefined) load.drainMs = drain * 1000
  const warmup = num(flags, 'warmup', 0)
  const duration = load.durationS ?? LOAD_DEFAULTS.durationS
  load.warmupS = warmup ?? (duration >= 10 && !load.messages ? 2 : 0)
  if (load.warmupS > 0 && duration > 0 && load.warmupS >= duration) throw new Error(`--warmup (${load.warmupS} s) must be shorter than the run (${duration} s)`)
  if (flags.mix !== undefined) load.mix = parseMix(String(flags.mix))
  const rd = int(flags, 'registered-delivery', 0)
  if (rd !== undefined) load.registeredDelivery = rd
  if (flags['bind-type'] !== undefined) {
    const bt = String(flags['bind-type'])
    if (bt !== 'transceiver' && bt !== 'pair') throw new Error('--bind-type must be transceiver or pair')
    load.bindType = bt as BindType
  }
  if (flags.quiet) load.progress = false

  let carrierDelayMs: [number, number] = [0, 0]
  if (flags['carrier-delay'] !== undefined) {
    const m = /^(\d+),(\d+)$/.exec(String(flags['carrier-delay']))
    if (!m || Number(m[1]) > Number(m[2])) throw new Error('--carrier-delay must be MIN,MAX in ms (e.g. 1,5)')
    carrierDelayMs = [Number(m[1]), Number(m[2])]
  }
  let targets: TargetName[] = scenario.targets
  if (flags.target !== undefined) {
    const t = String(flags.target)
    if (t === 'all') targets = [...TARGETS]
    else if ((TARGETS as readonly string[]).includes(t) || t === 'external') targets = [t as TargetName]
    else throw new Error(`--target must be one of engine, node-smpp, floor, all, external (got ${JSON.stringify(t)})`)
  }
  const plan: RunPlan = {
    scenario, load, carrierDelayMs,
    serverNodeArgs: flags['server-node-args'] === undefined ? binNodeFlags() : String(flags['server-node-args']).split(/\s+/).filter(Boolean),
    logLevel: String(flags['log-level'] ?? 'warn'),
    subscribers: int(flags, 'subscribers', 0) ?? 0,
    external: {
      host: flags.host === undefined ? undefined : String(flags.host),
      port: int(flags, 'port', 1),
      systemId: flags['system-id'] === undefined ? undefined : String(flags['system-id']),
      password: flags.password === undefined ? undefined : String(flags.password),
    },
  }
  if (flags.profile !== undefined) {
    plan.profileDir = path.resolve(String(flags.profile))
    mkdirSync(plan.profileDir, { recursive: true })
  }
  if (flags['engine-bin'] !== undefined) plan.engineBin = path.resolve(String(flags['engine-bin']))
  return { plan, targets }
}

/**
 * `smsc bench goals`: the runs issue 3's goals are measured by, one after another on this machine, and a
 * verdict per goal (bench/goals.ts). The 80% and half-load runs take their rate from the first run.
 */
async function runGoals(flags: Flags, m: Machine, resultsDir: string | undefined): Promise<number> {
  const root = projectRoot()
  const seconds = num(flags, 'duration', 1) ?? 60
  const base: Flags = { quiet: true }
  if (flags['server-node-args'] !== undefined) base['server-node-args'] = flags['server-node-args']
  const all: Record<string, TargetRun[]> = {}
  const step = async (label: string, scenario: string, f: Flags): Promise<TargetRun[]> => {
    const { plan, targets } = resolvePlan([scenario], { ...base, ...f })
    process.stdout.write(`\n== ${label}\n`)
    const runs: TargetRun[] = []
    for (const t of targets) {
      const run = await runTarget(t, plan, root)
      printRun(run)
      runs.push(run)
      await sleep(1_000)
    }
    all[label] = runs
    return runs
  }
  const loadOf = (runs: TargetRun[], t: TargetName) => runs.find((r) => r.target === t)?.load ?? undefined
  const g: GoalMeasures = {}

  const first = await step(`receipts, all targets, ${seconds} s`, 'receipts', { target: 'all', duration: String(seconds) })
  const e = loadOf(first, 'engine')
  if (e) {
    g.receipts = {
      seconds,
      engine: { submitsPerSec: e.submitsPerSec, acked: e.acked, sent: e.sent, receiptsMatched: e.receiptsMatched, errors: e.failed + e.unmatched },
      nodeSmpp: loadOf(first, 'node-smpp')?.submitsPerSec,
      floor: loadOf(first, 'floor')?.submitsPerSec,
    }
    const rate = Math.round(e.submitsPerSec * 0.8)
    const at80 = loadOf(await step(`receipts at 80% of ${n0(e.submitsPerSec)}/s`, 'receipts', { target: 'engine', duration: '15', rate: String(rate) }), 'engine')
    if (at80) g.at80 = { rate: at80.submitsPerSec, p99Ms: at80.submitLatencyMs.p99 }
  }
  const b = loadOf(await step('1000x10tps', '1000x10tps', { target: 'engine', duration: '15' }), 'engine')
  if (b) g.binds1000 = { bound: b.bound, attempted: b.bindAttempts, p99Ms: b.submitLatencyMs.p99 }
  const idle = (await step('idle-5000', 'idle-5000', { target: 'engine' })).find((r) => r.target === 'engine')
  if (idle?.load && idle.server.kbPerBind !== undefined) g.idle = { bound: idle.load.bound, kbPerBind: idle.server.kbPerBind }
  if (flags.soak && e) {
    const rate = Math.round(e.submitsPerSec / 2)
    const soak = (await step(`soak at ${n0(rate)}/s`, 'soak', { target: 'engine', rate: String(rate) })).find((r) => r.target === 'engine')
    if (soak?.load) g.soak = { rate: soak.load.submitsPerSec, seconds: soak.load.options.durationS, anonKb: soak.server.rssTimelineKb.map(([, , anon]) => anon) }
  }

  const verdicts = judge(g)
  process.stdout.write(`\nissue 3's goals on this machine:\n${formatVerdicts(verdicts)}\n`)
  const date = new Date().toISOString()
  // --json FILE as for a single run (it was ignored here: a goals run without --results-dir left no file)
  for (const file of [resultsDir && path.join(resultsDir, `${date.slice(0, 10)}-goals.json`), typeof flags.json === 'string' ? path.resolve(flags.json) : undefined]) {
    if (!file) continue
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, JSON.stringify({ date, command: 'smsc bench goals', machine: m, git: gitInfo(), verdicts, measures: g, runs: all }, null, 2) + '\n')
    process.stdout.write(`results: ${file}\n`)
  }
  return 0
}

export async function main(argv: string[]): Promise<number> {
  let parsed: { words: string[]; flags: Flags }
  try {
    parsed = parseArgs(argv)
    for (const k of Object.keys(parsed.flags)) if (!KNOWN.includes(k)) throw new Error(`--${k} is not a known flag (smsc bench --help)`)
  } catch (err) {
    process.stderr.write(`smsc bench: ${(err as Error).message}\n`)
    return 2
  }
  const { words, flags } = parsed
  if (flags.help) {
    process.stdout.write(HELP + '\nScenarios:\n' + SCENARIOS.map((s) => `  ${s.name.padEnd(12)} ${s.description}`).join('\n') + '\n')
    return 0
  }
  if (words[0] === 'list') {
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(12)} ${s.description}\n`)
    return 0
  }
  if (words[0] === 'profile') {
    if (!words[1]) { process.stderr.write('smsc bench profile: give a .cpuprofile file\n'); return 2 }
    process.stdout.write(formatProfileSummary(summariseProfile(words[1]), int(flags, 'top', 1) ?? 25) + '\n')
    return 0
  }
  const m = machine()
  printMachine(m)
  const resultsDir = flags['no-save'] ? undefined
    : flags['results-dir'] !== undefined ? path.resolve(String(flags['results-dir'])) : path.join(projectRoot(), 'bench', 'results', 'local')
  if (words[0] === 'http') {
    const { runHttpBench } = await import('./http')
    return runHttpBench({ root: projectRoot(), durationS: num(flags, 'duration', 1) ?? 10, connections: int(flags, 'connections', 1) ?? 10, resultsDir, machine: m, git: gitInfo() })
  }
  if (words[0] === 'goals') return runGoals(flags, m, resultsDir)
  if (words[0] === 'micro') {
    const { runMicro } = await import('./micro/index')
    return runMicro(words.slice(1), { machine: m, git: gitInfo(), resultsDir, json: flags.json === undefined ? undefined : String(flags.json) })
  }

  let plan: RunPlan
  let targets: TargetName[]
  try {
    ({ plan, targets } = resolvePlan(words, flags))
  } catch (err) {
    process.stderr.write(`smsc bench: ${(err as Error).message}\n`)
    return 2
  }
  const root = projectRoot()
  const load = { ...LOAD_DEFAULTS, ...plan.load }
  process.stdout.write(`scenario ${plan.scenario.name}: ${plan.scenario.description}\n`)
  process.stdout.write(`load: ${load.binds} ${load.bindType === 'pair' ? 'transmitter+receiver pairs' : 'transceivers'}, window ${load.window}, ` +
    (load.idle ? '' : `${load.rate > 0 ? `${n0(load.rate)} submit_sm/s` : 'as fast as it goes'}, `) +
    `${load.idle ? `idle for ${load.durationS} s` : load.messages > 0 ? `${n0(load.messages)} messages` : `${load.durationS} s`}, ` +
    `mix ${formatMix(load.mix)}, registered_delivery ${load.registeredDelivery}; targets ${targets.join(', ')}` +
    (targets.includes('engine') ? `; engine carrier delay ${plan.carrierDelayMs.join('-')} ms` : '') + '\n')

  const runs: TargetRun[] = []
  for (const t of targets) {
    process.stdout.write(`\n== ${t}\n`)
    let run: TargetRun
    try {
      run = await runTarget(t, plan, root)
    } catch (err) {
      run = { target: t, loadAverage: Math.round(os.loadavg()[0] * 100) / 100, load: null, error: (err as Error).message, server: { pid: null, cpuSeconds: 0, cpuCores: 0, mainThreadCpuCores: 0, cpuMicrosPerSubmit: null, rssKbBefore: 0, rssKbBound: 0, rssKbEnd: 0, rssTimelineKb: [], exit: '' } }
    }
    runs.push(run)
    printRun(run)
    if (targets.length > 1) await sleep(1_000) // let the sockets of the last run close
  }
  printTable(runs)
  const r = ratios(runs)
  for (const [pair, v] of Object.entries(r)) {
    process.stdout.write(`${pair}: ${v.submits.toFixed(2)}x submit_sm/s` + (v.receipts !== null ? `, ${v.receipts.toFixed(2)}x receipts/s` : '') + '\n')
  }

  const result = {
    date: new Date().toISOString(),
    command: `smsc bench ${argv.join(' ')}`.trim(),
    machine: m,
    git: gitInfo(),
    scenario: { name: plan.scenario.name, description: plan.scenario.description },
    carrierDelayMs: targets.includes('engine') ? plan.carrierDelayMs : undefined,
    runs,
    ratios: r,
  }
  const json = JSON.stringify(result, null, 2) + '\n'
  if (resultsDir) {
    mkdirSync(resultsDir, { recursive: true })
    const suffix = targets.length === 1 ? `-${targets[0]}` : ''
    const file = path.join(resultsDir, `${result.date.slice(0, 10)}-${plan.scenario.name}${suffix}.json`)
    writeFileSync(file, json)
    process.stdout.write(`\nresults: ${file}\n`)
  }
  if (flags.json !== undefined) {
    writeFileSync(String(flags.json), json)
    process.stdout.write(`results: ${path.resolve(String(flags.json))}\n`)
  }
  // Every run stops by itself: whatever handle is left, exit shortly after the report.
  setTimeout(() => process.exit(process.exitCode ?? 0), 1_000).unref()
  return runs.some((x) => x.error) ? 1 : 0
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (err: Error) => {
    process.stderr.write(`smsc bench: ${err.stack ?? err.message}\n`)
    process.exitCode = 1
  })
}
