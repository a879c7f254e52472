/**
 * The servers a benchmark runs against, each started as a SEPARATE CHILD PROCESS on free loopback
 * ports so that the load generator (in the runner process) and the server each get their own
 * event loop, and the server's memory and CPU can be read from /proc/<pid>:
 *   engine     node bin/smsc.js start --config <tmp.json> (temp dataDir, bench account, fast simulator)
 *   node-smpp  bench/peers/node-smpp-server.js
 *   floor      bench/peers/floor-server.js
 *   external   an SMSC already running (--host/--port); nothing is started or measured
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export const TARGETS = ['engine', 'node-smpp', 'floor'] as const
export type TargetName = (typeof TARGETS)[number] | 'external'

export interface TargetOptions {
  /** Project root (where bin/smsc.js and package.json are). */
  root: string
  /** Binds and window the load will use: the engine account is sized for them. */
  binds: number
  window: number
  /** Simulated carrier delay [min, max] ms for the engine. */
  carrierDelayMs: [number, number]
  /** Extra node flags for the child (e.g. --cpu-prof --cpu-prof-dir DIR). */
  nodeArgs: string[]
  /** Engine log level. */
  logLevel: string
  /** For 'external': where the SMSC listens, and the account to bind with. */
  host?: string
  port?: number
  systemId?: string
  password?: string
  /** The engine CLI to run instead of <root>/bin/smsc.js. */
  engineBin?: string
}

export interface Target {
  readonly name: TargetName
  readonly host: string
  readonly port: number
  readonly systemId: string
  readonly password: string
  /** The server process, or null for 'external'. */
  readonly pid: number | null
  /** The engine's HTTP port (telemetry, metrics); undefined for other targets. */
  readonly httpPort?: number
  /** What the child wrote to stdout/stderr (last 64 KiB). */
  output(): string
  stop(): Promise<string>
}

export const BENCH_ACCOUNT = { systemId: 'bench', password: 'bench' }
import { BENCH_ADMIN_PASSWORD } from './telemetry-subscribers'

/** The project root: walk up from `from` to the package.json named smsc-engine. */
export function projectRoot(from = __dirname): string {
  let dir = from
  for (let i = 0; i < 6; i++) {
    const pkg = path.join(dir, 'package.json')
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'smsc-engine') return dir
      } catch {
        // not ours
      }
    }
    dir = path.dirname(dir)
  }
  return process.cwd()
}

/**
 * The node flags on the first line of bin/smsc.js (`#!/usr/bin/env -S node FLAGS`): `npx smsc start` runs
 * with them, so every server child of the bench does too unless --server-node-args says otherwise.
 */
export function binNodeFlags(root = projectRoot()): string[] {
  try {
    const first = readFileSync(path.join(root, 'bin', 'smsc.js'), 'utf8').split('\n', 1)[0]
    const m = /^#!\S*env -S node((?:\s+--\S+)*)\s*$/.exec(first)
    return m ? m[1].split(/\s+/).filter(Boolean) : []
  } catch {
    return []
  }
}

/** n distinct free TCP ports on 127.0.0.1. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = []
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer()
      servers.push(s)
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject)
        s.listen(0, '127.0.0.1', () => resolve())
      })
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port)
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function httpStatus(port: number, urlPath: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 1000 }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(0))
  })
}

// ------------------------------------------------------------------ /proc readers (Linux)

/** Resident set size of a process in KiB (VmRSS), or 0 when unreadable. */
export function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}

/**
 * RSS split in KiB: anon (heap, buffers: what a leak grows) and file (mapped files, e.g. the LMDB
 * data file, which the kernel can drop). Zeros when unreadable.
 */
export function rssSplitKb(pid: number): { anon: number; file: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)\\s+kB`).exec(status)?.[1] ?? 0)
    return { anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') }
  } catch {
    return { anon: 0, file: 0 }
  }
}

/**
 * CPU seconds (user + system) a process has used so far, or 0 when unreadable; with `mainThread`, only
 * its main thread's (the JavaScript event loop; the rest is GC helpers, libuv and LMDB's write thread).
 */
export function cpuSeconds(pid: number, mainThread = false): number {
  try {
    const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15, in clock ticks (USER_HZ = 100)
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

// ------------------------------------------------------------------ children

class Child {
  log = ''
  exited: Promise<void>
  exitInfo: string | null = null
  readonly proc: ChildProcess

  constructor(args: string[], cwd: string) {
    this.proc = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    const keep = (c: Buffer) => {
      this.log += c.toString('utf8')
      if (this.log.length > 65_536) this.log = this.log.slice(-65_536)
    }
    this.proc.stdout?.on('data', keep)
    this.proc.stderr?.on('data', keep)
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.exitInfo = signal ?? `code ${code}`
        resolve()
      })
    })
  }

  get alive(): boolean {
    return this.exitInfo === null
  }

  /** SIGTERM, SIGKILL after graceMs; resolves with how it exited. */
  async stop(graceMs = 30_000): Promise<string> {
    if (this.alive) {
      this.proc.kill('SIGTERM')
      let timer: NodeJS.Timeout | undefined
      const timedOut = await Promise.race([
        this.exited.then(() => false),
        new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), graceMs) }),
      ])
      clearTimeout(timer)
      if (timedOut) {
        this.log += `\n--- no exit ${graceMs} ms after SIGTERM; SIGKILL\n`
        this.proc.kill('SIGKILL')
        await this.exited
      }
    }
    return this.exitInfo ?? 'unknown'
  }
}

async function startEngine(o: TargetOptions): Promise<Target> {
  const [smppPort, httpPort] = await freePorts(2)
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'smsc-bench-'))
  const configPath = path.join(dataDir, 'bench-config.json')
  const windowSize = Math.max(1000, o.window * 2)
  const config = {
    // idle-5000 and 1000x10tps connect thousands from 127.0.0.1 at once: the caps on unbound connections, set for real
    // deployments (docs/OPERATIONS.md "Exposing the SMPP port"), would refuse most of them
    smpp: { host: '127.0.0.1', port: smppPort, maxUnboundConnections: 100_000, maxUnboundPerIp: 100_000 },
    http: { host: '127.0.0.1', port: httpPort },
    dataDir: path.join(dataDir, 'data'),
    accounts: [{ ...BENCH_ACCOUNT, maxBinds: Math.max(10_000, o.binds * 2), windowSize }],
    simulator: { deliveryDelayMs: o.carrierDelayMs, outcomes: { DELIVRD: 1 } },
    session: { windowSize, maxBindsPerAccount: 10_000 },
    log: { level: o.logLevel },
    admin: { password: BENCH_ADMIN_PASSWORD },
  }
  writeFileSync(configPath, JSON.stringify(config, null, 2))
  const bin = o.engineBin ?? path.join(o.root, 'bin', 'smsc.js')
  const child = new Child([...o.nodeArgs, bin, 'start', '--config', configPath], o.root)
  const deadline = Date.now() + 60_000
  for (;;) {
    if (!child.alive) throw new Error(`the engine exited before /healthz answered (${child.exitInfo}):\n${child.log}`)
    if ((await httpStatus(httpPort, '/healthz')) === 200) break
    if (Date.now() > deadline) {
      await child.stop(5_000)
      throw new Error(`the engine was not ready after 60 s:\n${child.log}`)
    }
    await sleep(100)
  }
  return {
    name: 'engine', host: '127.0.0.1', port: smppPort, ...BENCH_ACCOUNT, pid: child.proc.pid ?? null, httpPort,
    output: () => child.log,
    async stop() {
      const how = await child.stop()
      rmSync(dataDir, { recursive: true, force: true })
      return how
    },
  }
}

async function startPeer(name: 'node-smpp' | 'floor', o: TargetOptions): Promise<Target> {
  const script = path.join(__dirname, 'peers', name === 'floor' ? 'floor-server.js' : 'node-smpp-server.js')
  const child = new Child([...o.nodeArgs, script, '--port', '0', '--host', '127.0.0.1'], o.root)
  const deadline = Date.now() + 15_000
  let port = 0
  while (port === 0) {
    const m = /^port (\d+)$/m.exec(child.log)
    if (m) port = Number(m[1])
    else if (!child.alive) throw new Error(`${name} exited before listening (${child.exitInfo}):\n${child.log}`)
    else if (Date.now() > deadline) {
      await child.stop(2_000)
      throw new Error(`${name} did not print its port within 15 s:\n${child.log}`)
    } else await sleep(20)
  }
  return {
    name, host: '127.0.0.1', port, ...BENCH_ACCOUNT, pid: child.proc.pid ?? null,
    output: () => child.log,
    stop: () => child.stop(5_000),
  }
}

export async function startTarget(name: TargetName, o: TargetOptions): Promise<Target> {
  switch (name) {
    case 'engine': return startEngine(o)
    case 'node-smpp':
    case 'floor': return startPeer(name, o)
    case 'external':
      if (!o.port) throw new Error('--target external needs --port (and --host, --system-id, --password)')
      return {
        name, host: o.host ?? '127.0.0.1', port: o.port,
        systemId: o.systemId ?? BENCH_ACCOUNT.systemId, password: o.password ?? BENCH_ACCOUNT.password,
        pid: null, output: () => '', stop: async () => 'left running',
      }
  }
}
