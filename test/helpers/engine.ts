/**
 * End-to-end engine harness: runs the SMSC as a separate process (`node bin/smsc.js start --config <file>`)
 * on free loopback ports with a fresh temporary dataDir, waits for `GET /healthz` to answer 200, and stops
 * it in the test's teardown. The e2e tests talk to it only through its public interface (SMPP, SMPP over
 * TLS, HTTP), exactly as an outside ESME would, so they keep testing the product and not its internals.
 *
 * The engine's stdout/stderr are captured and printed when the owning test fails, so a failing e2e test
 * shows what the engine said. Environment overrides: SMSC_BIN (path of the CLI script to run instead of
 * <root>/bin/smsc.js), SMSC_ROOT (the project root, used as cwd), SMSC_E2E_VERBOSE=1 (always print).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

/** The part of a tap Test the harness needs (kept structural so helpers do not depend on tap's types). */
export interface TestLike {
  teardown(fn: () => unknown): void
  passing(): boolean
}

export interface AccountConfig {
  systemId: string
  password: string
  maxBinds?: number
  windowSize?: number
  /** SMPP outbind target (docs/ACCOUNTS.md) */
  outbind?: { host: string; port: number; tls?: boolean; password?: string } | null
  /** SHA-256 fingerprints of TLS client certificates (docs/ACCOUNTS.md) */
  clientCerts?: string[]
}

export interface SimulatorConfig {
  deliveryDelayMs: [number, number]
  outcomes: Record<string, number>
  intermediate?: boolean
  /** probability that a subscriber is absent at the first attempt (alert_notification tests) */
  absentRate?: number
}

export interface TimersConfig {
  sessionInitMs?: number
  enquireLinkMs?: number
  inactivityMs?: number
  responseMs?: number
}

export interface EngineOptions {
  accounts?: AccountConfig[]
  simulator?: Partial<SimulatorConfig>
  timers?: TimersConfig
  messageIdFormat?: 'decimal' | 'hex'
  /** generate a self-signed certificate and listen for SMPP over TLS */
  devTls?: boolean
  /** reuse a dataDir (e.g. from an engine that was killed); a fresh temp dir otherwise */
  dataDir?: string
  /** how long to wait for /healthz; default 30 s */
  readyTimeoutMs?: number
  /** further top-level config keys (e.g. receipts, session, log), written as given */
  extra?: Record<string, unknown>
  /** environment variables for the engine process, over the test's own (e.g. NODE_OPTIONS with fakeDnsEnv()) */
  env?: Record<string, string>
}

/** The default account every e2e engine gets unless the test passes its own. */
export const DEFAULT_ACCOUNT: AccountConfig = { systemId: 'esme1', password: 'secret1' }

/** Fast carrier: receipts within tens of milliseconds, every message delivered. */
export const FAST_SIMULATOR: SimulatorConfig = { deliveryDelayMs: [10, 50], outcomes: { DELIVRD: 1 } }

export interface HttpResult {
  status: number
  body: string
  json: unknown
}

export interface Engine {
  readonly smppPort: number
  readonly tlsPort: number
  readonly httpPort: number
  readonly dataDir: string
  readonly configPath: string
  readonly config: Record<string, unknown>
  /** true while the engine process is alive */
  readonly running: boolean
  /** everything the engine wrote to stdout and stderr (all runs) */
  output(): string
  /** SIGTERM and wait for exit (SIGKILL after 20 s); resolves with the exit code or signal name */
  stop(): Promise<number | string | null>
  /** SIGKILL (the crash test) and wait for exit */
  kill(): Promise<void>
  /** sends a signal and returns at once (SIGHUP: the reload of `smsc start`) */
  signal(signal: NodeJS.Signals): void
  /** start again on the same ports, config and dataDir, and wait for /healthz */
  restart(): Promise<void>
  /** a request to the HTTP control port; `token`: a login token or API key (`Authorization: Bearer`) */
  http(method: string, urlPath: string, body?: unknown, token?: string): Promise<HttpResult>
  /** an operator login token (config admin.password, else the one the first start generated), made once */
  operatorToken(): Promise<string>
}

/**
 * The project root: SMSC_ROOT; else walk up from this file (dist/test/helpers) looking for our
 * package.json; else where the installed `smpp` package really lives (tests compiled to another outDir
 * reach node_modules through a symlink); else cwd.
 */
export function projectRoot(): string {
  if (process.env.SMSC_ROOT) return process.env.SMSC_ROOT
  const isRoot = (dir: string): boolean => {
    try {
      return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'smsc-engine'
    } catch {
      return false
    }
  }
  let dir = __dirname
  for (let i = 0; i < 6; i++) {
    if (isRoot(dir)) return dir
    dir = path.dirname(dir)
  }
  try {
    const pkg = realpathSync(require.resolve('smpp/package.json'))
    const candidate = path.dirname(path.dirname(path.dirname(pkg))) // <root>/node_modules/smpp/package.json
    if (isRoot(candidate)) return candidate
  } catch {
    // smpp not resolvable from here
  }
  return process.cwd()
}

/** n distinct free TCP ports on 127.0.0.1 (all servers held open together so the ports differ). */
/**
 * `n` distinct loopback ports free right now, drawn at random below the kernel's ephemeral range
 * (32768–60999 by default). listen(0) and outgoing connections take their ports from that range, so a
 * port picked there could be taken by another test's socket before the engine binds it (EADDRINUSE);
 * startEngine also picks again if that still happens.
 */
export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = []
  while (out.length < n) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    if (!out.includes(port) && (await portFree(port))) out.push(port)
  }
  return out
}

/** true when 127.0.0.1:port can be listened on (nobody holds it). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

export interface HttpCallOptions {
  /** JSON-encoded unless it is a string (sent as is) */
  body?: unknown
  /** exact bytes to send (wins over body) */
  raw?: Buffer
  headers?: Record<string, string>
  /** `Authorization: Bearer` (a login token or an API key) */
  token?: string
  /** `X-API-Key` */
  apiKey?: string
  cookie?: string
  timeoutMs?: number
  /** a reset or broken pipe (the server answered and closed before reading all) resolves with status -1 */
  resetIsAnswer?: boolean
}

export interface HttpCallResult extends HttpResult {
  headers: http.IncomingHttpHeaders
}


/** POST /api/v1/login with `body` (an account's systemId and password, or the operator's password): the token. */
export async function loginToken(port: number, body: Record<string, string>): Promise<string> {
  const r = await httpCall(port, 'POST', '/api/v1/login', { body })
  if (r.status !== 200) throw new Error(`login ${JSON.stringify(body)}: ${r.status} ${r.body}`)
  return (r.json as { token: string }).token
}
/** One request to the engine's HTTP port: the one HTTP client of the tests. */
export function httpCall(port: number, method: string, urlPath: string, o: HttpCallOptions = {}): Promise<HttpCallResult> {
  return new Promise((resolve, reject) => {
    const payload = o.raw ?? (o.body === undefined ? undefined : Buffer.from(typeof o.body === 'string' ? o.body : JSON.stringify(o.body)))
    const headers: Record<string, string | number> = { ...o.headers }
    if (payload) { headers['content-type'] ??= 'application/json'; headers['content-length'] = payload.length }
    if (o.token) headers.authorization = `Bearer ${o.token}`
    if (o.apiKey) headers['x-api-key'] = o.apiKey
    if (o.cookie) headers.cookie = o.cookie
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent: false, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        let json: unknown
        try { json = JSON.parse(body) } catch { json = undefined }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json })
      })
      res.on('error', reject)
    })
    const timeoutMs = o.timeoutMs ?? 5000
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`HTTP ${method} ${urlPath} timed out after ${timeoutMs} ms`)))
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (o.resetIsAnswer && (err.code === 'EPIPE' || err.code === 'ECONNRESET')) resolve({ status: -1, headers: {}, body: '', json: undefined })
      else reject(err)
    })
    req.end(payload)
  })
}

/** A JSON request without headers. */
export function httpRequest(port: number, method: string, urlPath: string, body?: unknown, timeoutMs = 5000): Promise<HttpResult> {
  return httpCall(port, method, urlPath, { body, timeoutMs })
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Start an engine for test `t`; it is stopped (SIGTERM, then SIGKILL) in t's teardown, and its temp
 * dataDir removed unless the test failed.
 */
export async function startEngine(t: TestLike, options: EngineOptions = {}): Promise<Engine> {
  const root = projectRoot()
  const bin = process.env.SMSC_BIN ?? path.join(root, 'bin', 'smsc.js')
  let [smppPort, tlsPort, httpPort] = await freePorts(3)
  const ownDataDir = options.dataDir === undefined
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'smsc-e2e-'))
  const configDir = mkdtempSync(path.join(os.tmpdir(), 'smsc-e2e-cfg-'))
  const configPath = path.join(configDir, 'smsc.json')

  const config: Record<string, unknown> = {
    smpp: { host: '127.0.0.1', port: smppPort },
    http: { host: '127.0.0.1', port: httpPort },
    dataDir,
    accounts: options.accounts ?? [DEFAULT_ACCOUNT],
    simulator: { ...FAST_SIMULATOR, ...options.simulator },
    messageIdFormat: options.messageIdFormat ?? 'decimal',
  }
  if (options.devTls) {
    config.tls = { host: '127.0.0.1', port: tlsPort }
    config.devTls = true
  }
  if (options.timers) config.timers = options.timers
  const http = config.http as Record<string, unknown>
  const smpp = config.smpp as Record<string, unknown>
  Object.assign(config, options.extra)
  // extra.http and extra.smpp add to the listeners this helper chose (their ports), rather than replacing them
  if (options.extra?.http !== undefined) config.http = { ...http, ...(options.extra.http as Record<string, unknown>) }
  if (options.extra?.smpp !== undefined) config.smpp = { ...smpp, ...(options.extra.smpp as Record<string, unknown>) }
  writeFileSync(configPath, JSON.stringify(config, null, 2))

  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000
  let log = ''
  let child: ChildProcess | null = null
  let exited: Promise<void> = Promise.resolve()
  let exitInfo: number | string | null = null

  const spawnEngine = (): void => {
    log += `--- spawn: node ${bin} start --config ${configPath} (cwd ${root})\n`
    const proc = spawn(process.execPath, [bin, 'start', '--config', configPath], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_ENV: 'test', ...options.env },
    })
    child = proc
    exitInfo = null
    proc.stdout?.on('data', (c: Buffer) => (log += c.toString('utf8')))
    proc.stderr?.on('data', (c: Buffer) => (log += c.toString('utf8')))
    exited = new Promise<void>((resolve) => {
      proc.once('exit', (code, signal) => {
        exitInfo = signal ?? code
        log += `--- engine exited: ${signal ?? `code ${code}`}\n`
        if (child === proc) child = null
        resolve()
      })
    })
  }

  const waitReady = async (): Promise<void> => {
    const deadline = Date.now() + readyTimeoutMs
    for (;;) {
      if (child === null) throw new Error(`engine exited before /healthz answered (${exitInfo})\n${log}`)
      try {
        const res = await httpRequest(httpPort, 'GET', '/healthz', undefined, 1000)
        if (res.status === 200) return
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`engine not ready after ${readyTimeoutMs} ms\n${log}`)
      await sleep(50)
    }
  }

  const signalAndWait = async (signal: NodeJS.Signals, graceMs: number): Promise<void> => {
    const proc = child as ChildProcess | null
    if (proc === null) return
    proc.kill(signal)
    const timer = new Promise<'timeout'>((resolve) => {
      const h = setTimeout(() => resolve('timeout'), graceMs)
      h.unref()
    })
    if ((await Promise.race([exited.then(() => 'exited' as const), timer])) === 'timeout') {
      log += `--- engine did not exit ${graceMs} ms after ${signal}; sending SIGKILL\n`
      proc.kill('SIGKILL')
      await exited
    }
  }

  let operatorToken: Promise<string> | undefined
  const engine: Engine = {
    get smppPort() { return smppPort },
    get tlsPort() { return tlsPort },
    get httpPort() { return httpPort },
    dataDir,
    configPath,
    config,
    get running() {
      return child !== null
    },
    output: () => log,
    async stop() {
      if (child === null) return exitInfo
      await signalAndWait('SIGTERM', 20_000)
      return exitInfo
    },
    async kill() {
      await signalAndWait('SIGKILL', 10_000)
    },
    signal(signal) {
      ;(child as ChildProcess | null)?.kill(signal)
    },
    async restart() {
      if (child !== null) await signalAndWait('SIGTERM', 20_000)
      spawnEngine()
      await waitReady()
    },
    http: (method, urlPath, body, token) => httpCall(httpPort, method, urlPath, { body, token }),
    operatorToken: () => (operatorToken ??= (async () => {
      const password = (config.admin as { password?: string } | undefined)?.password ?? initialCredentials(dataDir).admin
      const res = await httpCall(httpPort, 'POST', '/api/v1/login', { body: { password } })
      const token = (res.json as { token?: string } | undefined)?.token
      if (res.status !== 200 || !token) { operatorToken = undefined; throw new Error(`operator login → ${res.status} ${res.body}`) }
      return token
    })()),
  }

  t.teardown(async () => {
    if (child !== null) await signalAndWait('SIGTERM', 10_000)
    const failed = !t.passing()
    if (failed || process.env.SMSC_E2E_VERBOSE) {
      process.stderr.write(`\n===== engine output (smpp ${smppPort}, http ${httpPort}, dataDir ${dataDir}) =====\n${log}\n=====\n`)
    }
    if (!failed) {
      if (ownDataDir) rmSync(dataDir, { recursive: true, force: true })
      rmSync(configDir, { recursive: true, force: true })
    }
  })

  // A port taken between freePorts() and the engine's listen: pick new ones (twice at most).
  for (let attempt = 0; ; attempt++) {
    spawnEngine()
    try {
      await waitReady()
      return engine
    } catch (err) {
      if (attempt >= 2 || !/EADDRINUSE/.test(log)) throw err
      ;[smppPort, tlsPort, httpPort] = await freePorts(3)
      ;(config.smpp as { port: number }).port = smppPort
      ;(config.http as { port: number }).port = httpPort
      if (config.tls) (config.tls as { port: number }).port = tlsPort
      writeFileSync(configPath, JSON.stringify(config, null, 2))
      log += `--- a port was taken (EADDRINUSE): again with smpp ${smppPort}, http ${httpPort}\n`
    }
  }
}

/**
 * The passwords a first start generated, from <dataDir>/initial-credentials (engine/cli.ts credentialLines):
 * tests run the engine with stdout on a pipe, where the banner does not print them.
 */
export function initialCredentials(dataDir: string): { admin?: string; demo?: string } {
  const text = readFileSync(path.join(dataDir, 'initial-credentials'), 'utf8')
  return {
    admin: /^console admin password: (\S+)$/m.exec(text)?.[1],
    demo: /^account demo \(SMPP system_id and API login\) password: (\S+)$/m.exec(text)?.[1],
  }
}
