/**
 * The `smsc` command: `start` runs the engine with a startup banner and graceful SIGTERM/SIGINT;
 * `account add|list|remove|passwd` manage accounts in the data dir. Errors are one line naming
 * the flag or key and what is wrong, exit code 2 for usage/config, 1 for runtime failures.
 */
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import fs from 'node:fs'
import { CONFIG_FLAGS, assertKnownFlags, configArgsFromFlags, loadConfig, parseCliArgs } from './config'
import { SmscError, isSmscError } from './errors'
import { createSmsc } from './index'
import { Store } from './store'
import { AdminAuth } from './auth'

// eslint-disable-next-line @typescript-eslint/no-var-requires
const VERSION = (require('../../package.json') as { version: string }).version

const HELP = `smsc ${VERSION}: an SMPP 3.4/5.0 SMSC engine

Usage:
  smsc start [options]                 run the SMSC (SMPP, SMPP over TLS, HTTP, simulated carrier)
  smsc account add <systemId> [--password P] [--max-binds N] [--window-size N]
  smsc account list
  smsc account remove <systemId>
  smsc account passwd <systemId> [--password P]
  smsc admin passwd [--password P]     set the web console's admin password
  smsc bench [scenario] [options]      the SMPP benchmark harness (smsc bench --help)
  smsc --help | smsc <command> --help
  smsc --version

Every command takes --config FILE and --data-dir DIR (the account commands work on the data dir
the config names). Environment: SMSC_CONFIG names the config file when --config is not given.
`

const START_HELP = `smsc start: run the SMSC

Options (flags override the config file):
  --config FILE      JSON config file (default: $SMSC_CONFIG, else built-in defaults; see docs/CONFIG.md)
  --smpp-port N      SMPP listener port (default 2775, on smpp.host 0.0.0.0)
  --tls-port N       SMPP over TLS port (default 3550); TLS runs when tls.cert and tls.key are set, or with --dev-tls
  --dev-tls          generate a self-signed certificate under <data-dir>/tls and run the TLS listener
  --http-port N      HTTP control port (default 8080, on http.host 127.0.0.1): /healthz, /api/v1/simulator/mo
  --data-dir DIR     where the store lives (default ./data)

The first start with no accounts creates the account "demo" and prints its password once.
SIGTERM or SIGINT stops gracefully: stop accepting, unbind every session, drain windows, flush the store.
`

const ACCOUNT_HELP = `smsc account: manage SMPP accounts in the data dir

  smsc account add <systemId> [--password P] [--max-binds N] [--window-size N]
      creates an account; without --password a random 8-character password is generated and printed
  smsc account list [--json]
  smsc account remove <systemId>
  smsc account passwd <systemId> [--password P]

  --config FILE / --data-dir DIR select the data dir (default ./data).
  system_id: 1 to 15 characters (SMPP 3.4 §5.2.1); password: 1 to 8 characters (SMPP 3.4 §5.2.2).
`

function usage(msg: string): never {
  throw new SmscError('SMSC_ERR_CLI_USAGE', msg)
}

function intFlag(flags: Record<string, string | boolean>, name: string, fallback: number): number {
  const v = flags[name]
  if (v === undefined) return fallback
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN
  if (!Number.isInteger(n) || n < 1 || n > 100_000) usage(`--${name} must be a positive integer (got ${JSON.stringify(v)})`)
  return n
}

function checkSystemId(id: string | undefined): string {
  if (!id) usage('a systemId is required')
  if (id.length > 15 || !/^[\x21-\x7e]+$/.test(id)) usage(`systemId must be 1 to 15 printable ASCII characters (got ${JSON.stringify(id)})`)
  return id
}

function checkPassword(pw: string | boolean | undefined): string {
  if (pw === undefined) return randomBytes(6).toString('base64url').slice(0, 8)
  if (typeof pw !== 'string' || pw.length === 0 || pw.length > 8 || !/^[\x20-\x7e]+$/.test(pw)) usage('--password must be 1 to 8 printable ASCII characters')
  return pw
}

async function account(sub: string | undefined, positionals: string[], flags: Record<string, string | boolean>): Promise<number> {
  if (flags.help) { process.stdout.write(ACCOUNT_HELP); return 0 }
  assertKnownFlags(flags, ['config', 'data-dir', 'password', 'max-binds', 'window-size', 'json', 'help'])
  const cfgFlags: Record<string, string | boolean> = {}
  for (const k of ['config', 'data-dir']) if (flags[k] !== undefined) cfgFlags[k] = flags[k]
  const options = loadConfig(configArgsFromFlags(cfgFlags))
  if (!['add', 'list', 'remove', 'passwd'].includes(sub ?? '')) usage(`account needs one of add, list, remove, passwd (got ${JSON.stringify(sub ?? '')})`)
  fs.mkdirSync(options.dataDir, { recursive: true })
  const store = await Store.open(path.join(options.dataDir, 'store'))
  try {
    const now = Date.now()
    switch (sub) {
      case 'list': {
        const list = store.listAccounts().map((a) => ({ systemId: a.systemId, maxBinds: a.maxBinds, windowSize: a.windowSize, pendingDeliveries: store.pendingCount(a.systemId) }))
        if (flags.json) process.stdout.write(JSON.stringify(list) + '\n')
        else {
          process.stdout.write('systemId         maxBinds  windowSize  pendingDeliveries\n')
          for (const a of list) process.stdout.write(`${a.systemId.padEnd(17)}${String(a.maxBinds).padEnd(10)}${String(a.windowSize).padEnd(12)}${a.pendingDeliveries}\n`)
        }
        return 0
      }
      case 'add': {
        const systemId = checkSystemId(positionals[0])
        if (store.getAccount(systemId)) usage(`account ${systemId} already exists (use "smsc account passwd")`)
        const password = checkPassword(flags.password)
        await store.putAccount({
          systemId, passwordHash: await Store.hashPassword(password),
          maxBinds: intFlag(flags, 'max-binds', options.session.maxBindsPerAccount),
          windowSize: intFlag(flags, 'window-size', options.session.windowSize),
          createdAt: now, updatedAt: now,
        })
        process.stdout.write(flags.password === undefined ? `added ${systemId} with password ${password}\n` : `added ${systemId}\n`)
        return 0
      }
      case 'remove': {
        const systemId = checkSystemId(positionals[0])
        if (!(await store.removeAccount(systemId))) usage(`no account ${systemId}`)
        process.stdout.write(`removed ${systemId}\n`)
        return 0
      }
      case 'passwd': {
        const systemId = checkSystemId(positionals[0])
        const acc = store.getAccount(systemId)
        if (!acc) usage(`no account ${systemId}`)
        const password = checkPassword(flags.password)
        await store.putAccount({ ...acc, passwordHash: await Store.hashPassword(password), updatedAt: now })
        process.stdout.write(flags.password === undefined ? `new password for ${systemId}: ${password}\n` : `password changed for ${systemId}\n`)
        return 0
      }
    }
    return 2
  } finally {
    await store.close()
  }
}

async function admin(sub: string | undefined, flags: Record<string, string | boolean>): Promise<number> {
  if (flags.help || sub !== 'passwd') {
    process.stdout.write('smsc admin passwd [--password P] [--config FILE | --data-dir DIR]: set the console admin password (8 to 128 characters; random when omitted). A password in config admin.password takes precedence.\n')
    return flags.help ? 0 : 2
  }
  assertKnownFlags(flags, ['config', 'data-dir', 'password', 'help'])
  const cfgFlags: Record<string, string | boolean> = {}
  for (const k of ['config', 'data-dir']) if (flags[k] !== undefined) cfgFlags[k] = flags[k]
  const options = loadConfig(configArgsFromFlags(cfgFlags))
  const given = flags.password
  if (given !== undefined && (typeof given !== 'string' || given.length < 8 || given.length > 128)) usage('--password must be 8 to 128 characters')
  const password = typeof given === 'string' ? given : randomBytes(9).toString('base64url')
  fs.mkdirSync(options.dataDir, { recursive: true })
  const store = await Store.open(path.join(options.dataDir, 'store'))
  try {
    await AdminAuth.setPassword(store, password)
  } finally {
    await store.close()
  }
  process.stdout.write(given === undefined ? `new console admin password: ${password}\n` : 'console admin password changed\n')
  if (options.admin.password !== null) process.stdout.write('note: config admin.password is set and takes precedence\n')
  return 0
}

async function start(flags: Record<string, string | boolean>): Promise<number> {
  if (flags.help) { process.stdout.write(START_HELP); return 0 }
  assertKnownFlags(flags, [...CONFIG_FLAGS, 'help'])
  const options = loadConfig(configArgsFromFlags(flags))
  // Last-resort guards: a bug that escapes every per-session guard is logged, and the engine keeps
  // serving the other sessions (everything acknowledged is already committed).
  const last = (kind: string) => (err: unknown) => {
    process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: kind, error: String((err as Error)?.stack ?? err) }) + '\n')
  }
  process.on('unhandledRejection', last('unhandled rejection'))
  process.on('uncaughtException', last('uncaught exception'))
  const smsc = await createSmsc(options, { onFatal: () => { process.exitCode = 1 } })
  const o = smsc.options
  const lines = [
    `SMSC engine ${VERSION} is running`,
    `  SMPP       smpp://${o.smpp.host}:${smsc.ports.smpp}`,
    smsc.ports.tls !== null
      ? `  SMPP/TLS   ssmpp://${o.tls.host}:${smsc.ports.tls}${o.tls.cert ? '' : `  (self-signed dev certificate in ${path.join(o.dataDir, 'tls')})`}`
      : '  SMPP/TLS   off (set tls.cert and tls.key, or start with --dev-tls)',
    `  Console    http://${o.http.host}:${smsc.ports.http}/  (telemetry ws://${o.http.host}:${smsc.ports.http}/ws/telemetry, GET /metrics, GET /healthz)`,
    `  Data       ${path.resolve(o.dataDir)}`,
    `  Carrier    simulated, delivery in ${o.simulator.deliveryDelayMs[0]}-${o.simulator.deliveryDelayMs[1]} ms, outcomes ${Object.entries(o.simulator.outcomes).map(([k, v]) => `${k} ${Math.round((v ?? 0) * 100)}%`).join(', ')}`,
    `  Accounts   ${smsc.store.listAccounts().map((a) => a.systemId).join(', ')}`,
  ]
  if (smsc.adminPassword) {
    lines.push(`  Console admin password created (shown only this once): ${smsc.adminPassword}   (change it: smsc admin passwd)`)
  }
  if (smsc.demoAccount) {
    lines.push(`  Demo account created (password shown only this once): system_id ${smsc.demoAccount.systemId}  password ${smsc.demoAccount.password}`)
  }
  process.stdout.write(lines.join('\n') + '\n')
  let stopping = false
  const stop = (sig: string) => {
    if (stopping) return
    stopping = true
    process.stdout.write(`${sig}: stopping (unbinding sessions, draining windows, flushing the store)\n`)
    smsc.stop().then(() => process.exit(process.exitCode ?? 0), (e) => { process.stderr.write(`smsc: stop failed: ${String(e)}\n`); process.exit(1) })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  return -1 // keep running
}

export async function main(argv: string[]): Promise<number> {
  const args = parseCliArgs(argv)
  if (args.flags.version) { process.stdout.write(`${VERSION}\n`); return 0 }
  switch (args.command) {
    case '':
    case 'help':
      process.stdout.write(HELP)
      return args.command === '' && !args.flags.help ? 2 : 0
    case 'start':
      if (args.sub !== undefined) usage(`start takes no argument (got ${JSON.stringify(args.sub)})`)
      return start(args.flags)
    case 'admin':
      return admin(args.sub, args.flags)
    case 'account':
    case 'accounts':
      return account(args.sub, args.positionals, args.flags)
    case 'bench':
      // The benchmark harness (bench/run.ts) parses its own flags; loaded only for this command.
      return (require('../bench/run') as typeof import('../bench/run')).main(argv.slice(argv.indexOf('bench') + 1))
    default:
      usage(`unknown command ${JSON.stringify(args.command)} (see smsc --help)`)
  }
}

export function run(argv: string[]): void {
  main(argv).then(
    (code) => { if (code >= 0) process.exitCode = code },
    (err) => {
      if (isSmscError(err) && (err.code === 'SMSC_ERR_CLI_USAGE' || err.code === 'SMSC_ERR_CONFIG_INVALID' || err.code === 'SMSC_ERR_LISTEN_FAILED' || err.code === 'SMSC_ERR_DATA_DIR_LOCKED')) {
        process.stderr.write(`smsc: ${err.message}\n`)
        process.exitCode = 2
      } else {
        process.stderr.write(`smsc: ${String((err as Error)?.stack ?? err)}\n`)
        process.exitCode = 1
      }
    },
  )
}
