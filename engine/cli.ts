/**
 * The `smsc` command: `start` runs the engine with a startup banner and graceful SIGTERM/SIGINT;
 * `account add|list|remove|passwd` manage accounts in the data dir. Errors are one line naming
 * the flag or key and what is wrong, exit code 2 for usage/config, 1 for runtime failures.
 */
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { createLogger } from './log'
import fs from 'node:fs'
import { CONFIG_FLAGS, SIMULATOR_CONNECTOR, VERSION, assertKnownFlags, configArgsFromFlags, loadConfig, parseCliArgs } from './config'
import { SmscError, isSmscError } from './errors'
import { ADMIN_CREDENTIAL, INITIAL_CREDENTIALS, accountCredential, writePrivateFile } from './dirs'
import { numberProblem } from './optouts'
import { createSmsc } from './index'
import { openAdminClient, runningRoutes, type AdminClient } from './admin-client'
import { routingLossText, routingLost } from './routing'
import type { AccountView } from './admin'
import { CommandStatus, MessageState, RegisteredDelivery, statusName } from './protocol/constants'
import { isFinal } from './message'
import { MAX_REPORT_DAYS, addCounts, addDays, dayOf, dayProblem, emptyCounts, parseDay, reportRange, type TrafficCounts } from './daily-stats'
import { SEARCH_MAX_LIMIT, SEARCH_MAX_SCAN, type MessageSearchResult, type MessageView } from './message-search'

// eslint-disable-next-line @typescript-eslint/no-var-requires

const HELP = `smsc ${VERSION}: an SMPP 3.4/5.0 SMSC engine

Usage:
  smsc start [options]                 run the SMSC (SMPP, SMPP over TLS, HTTP, simulated carrier)
  smsc account add|set|show|list|suspend|resume|remove|passwd|webhook-secret …   resellers and users (smsc account --help)
  smsc credit add|remove|move|ledger … prepaid credit and its ledger
  smsc route list | route set <file>   the MT/MO routing tables (hot-reloaded)
  smsc config check [--config FILE]    check a config file as smsc start and a reload would, without starting
  smsc connector list | stop|start <id>   the connectors; stop one (no link, routes skip it) or start it again
  smsc apikey create|list|revoke …     API keys for the HTTP send API
  smsc optout list|add|remove|find [--account ID] NUMBER…   opt-out lists: numbers no message goes to (smsc optout --help)
  smsc audit                           who changed what
  smsc stats [--day D]                 every account's traffic of a UTC day; smsc account stats <id>: one account's days
  smsc message find|show …             find messages by number, sender, account, time, state; one message in full (smsc message --help)
  smsc backup [--out DIR]              a consistent copy of the store, made while the engine runs (smsc backup --help)
  smsc admin passwd [--password P]     set the web console's admin password
  smsc admin user add|list|remove|passwd|role …   named staff logins: admin, or viewer (read-only) (smsc admin --help)
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
  --smpp-host A      address the SMPP listener binds (default 0.0.0.0: every interface); 127.0.0.1 for loopback only
  --tls-host A       address the SMPP over TLS listener binds (default 0.0.0.0)
  --http-host A      address the HTTP listener binds (default 127.0.0.1)
  --data-dir DIR     where the store lives (default ./data)

The first start with no accounts creates the account "demo", and generates the console admin password
unless admin.password is set. Both go to <data-dir>/initial-credentials (this user only), and are printed
once when stdout is a terminal (not under a supervisor, whose log others may read).
SIGTERM or SIGINT stops gracefully: stop accepting, unbind every session, drain windows, flush the store.
SIGHUP reloads the TLS certificate files, and the config file's connectors and routes (docs/CONNECTORS.md,
"Changing connectors while running"); other changes need a restart.
`

export { INITIAL_CREDENTIALS }

/**
 * The banner's lines for the passwords a first start generated. They always go to
 * <dataDir>/initial-credentials (mode 0600, replaced whole by writePrivateFile, never rewritten in place). They are printed only on a terminal: under a supervisor
 * stdout is a log that journald or a collector keeps and others read, so there the banner names the
 * file instead. A later start reminds the operator of a file still there.
 */
export function credentialLines(dataDir: string, adminPassword: string | null, demo: { systemId: string; password: string } | null, tty: boolean): string[] {
  const file = path.join(path.resolve(dataDir), INITIAL_CREDENTIALS)
  if (adminPassword === null && demo === null) {
    return fs.existsSync(file) ? [`  Passwords  the first start's generated passwords are still in ${file}: delete it once they are kept elsewhere`] : []
  }
  const text = [
    ...(adminPassword !== null ? [`${ADMIN_CREDENTIAL}: ${adminPassword}`] : []),
    ...(demo !== null ? [`${accountCredential(demo.systemId)}: ${demo.password}`] : []),
  ]
  let saved = true
  try {
    // Lines an earlier start left (the demo password, when a later start generates the admin's) stay, unless replaced.
    let kept: string[] = []
    try {
      // O_NOFOLLOW: a link planted in its place is not read from (and writePrivateFile replaces it)
      const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
      let old: string
      try { old = fs.readFileSync(fd, 'utf8') } finally { fs.closeSync(fd) }
      kept = old.split('\n').filter((l) => l !== '' && !l.startsWith('#') && !text.some((n) => n.slice(0, n.indexOf(':')) === l.slice(0, l.indexOf(':'))))
    } catch { /* none yet */ }
    writePrivateFile(file, `# generated by the first start of the SMSC engine; delete this file once the passwords are kept elsewhere\n${[...kept, ...text].join('\n')}\n`)
  } catch {
    saved = false
  }
  // No file and no terminal: printing is the only way the operator gets them (better in the log than lost).
  if (tty || !saved) {
    return [
      ...(adminPassword !== null ? [`  Console admin password created (shown only this once): ${adminPassword}   (change it: smsc admin passwd)`] : []),
      ...(demo !== null ? [`  Demo account created (password shown only this once): system_id ${demo.systemId}  password ${demo.password}`] : []),
      ...(saved ? [`  Passwords  also in ${file} (this user only): delete it once they are kept elsewhere`] : []),
    ]
  }
  return [
    ...(adminPassword !== null ? ['  Console admin password created: not printed (stdout is not a terminal, so it goes to a log)'] : []),
    ...(demo !== null ? [`  Demo account created: system_id ${demo.systemId}, password not printed`] : []),
    `  Passwords  in ${file} (this user only): read it, then delete it`,
  ]
}

const ACCOUNT_HELP = `smsc account | credit | route | apikey | audit: accounts (resellers and users), credit, routing

  smsc account add <systemId> [settings] [--password P] [--credit N]
      creates an account; without --password a random 8-character password is generated and printed
  smsc account set <systemId> [settings]        change settings (only the flags given)
  smsc account show <systemId> [--json]
  smsc account list [--json]
  smsc account suspend|resume <systemId>        a suspended account cannot bind; its binds are closed
  smsc account remove <systemId>
  smsc account passwd <systemId> [--password P]
  smsc account webhook-secret <systemId>        a new secret for its webhook signatures, shown once (the old one stops)
  smsc account stats <systemId> [--days N | --from DAY --to DAY] [--tree] [--json]
      its traffic per UTC day (default the last 7; DAY is YYYY-MM-DD): accepted, refused (the top
      statuses), receipts by stat, deliveries to it ok/failed; --tree: a reseller with its users summed

  settings:
    --role reseller|user   --parent RESELLER   --group G
    --rate N --burst N     (submits per second shared by all binds; --rate 0 = unlimited)
    --daily-quota N        (message parts per UTC day; 0 = unlimited)
    --max-binds N          --window-size N
    --allowed-ips CIDR,…   --allowed-sources ID,…  (an entry ending in * is a prefix; "" = any)
    --client-certs FP,…    (SHA-256 fingerprints of TLS client certificates: binds only on the TLS port
                           with one of them; "" = none asked)
    --registered-delivery 0|1   --validity-ms N --max-validity-ms N
    --id-format decimal|hex     --receipt-policy every|last|aggregate   --settlement submit|refund
    --prepaid true|false        --webhook-receipts URL  --webhook-mo URL  ("" = none; each changes only its
                           own; POSTs signed with the account's webhook secret, shown once when webhooks
                           are first set; docs/API.md)
    --outbind HOST:PORT|off  [--outbind-tls true|false] [--outbind-password P]
                           (operator only: where the engine connects to send outbind when the account has
                            receipts or MO waiting and no receiver bound; docs/ACCOUNTS.md)

smsc credit add <systemId> <amount> [--reason R]          grant credit (operator)
smsc credit remove <systemId> <amount> [--reason R]       take credit away: a correction (operator; never below 0)
smsc credit move <from> <to> <amount> [--reason R]        move credit between accounts
smsc credit ledger <systemId> [--limit N] [--json]
smsc route list [--json]                                   the MT and MO routing tables
smsc route set <file.json>                                 replace both tables ({ "mt": [...], "mo": [...] }), hot-reloaded
smsc apikey create <systemId> [--label L] | list <systemId> | revoke <systemId> <keyId>
smsc audit [--limit N] [--json]
smsc stats [--day DAY] [--json]                             every account's traffic of a UTC day (default today;
                                                           DAY: YYYY-MM-DD, today or yesterday), kept stats.retentionDays

When an engine runs on the data dir, these commands go through its admin API (the engine writes
<dataDir>/control.json for that) and apply live; otherwise they change the store directly.
They act as the operator; --as SYSTEM_ID (password in SMSC_AS_PASSWORD) acts as that reseller or
user instead, with exactly its console/API scope (a reseller: itself and its users).
--config FILE / --data-dir DIR select the data dir (default ./data).
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

/** Account settings from flags, as the object the Admin service checks (engine/accounts.ts). */
function settingsFromFlags(flags: Record<string, string | boolean>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const str = (name: string): string | undefined => {
    const v = flags[name]
    if (v === undefined) return undefined
    if (typeof v !== 'string') usage(`--${name} needs a value`)
    return v
  }
  const num = (name: string): number | undefined => {
    const v = str(name)
    if (v === undefined) return undefined
    if (!/^\d+(\.\d+)?$/.test(v)) usage(`--${name} must be a non-negative number (got ${JSON.stringify(v)})`)
    return Number(v)
  }
  const list = (name: string): string[] | undefined => {
    const v = str(name)
    return v === undefined ? undefined : v.split(',').map((x) => x.trim()).filter((x) => x.length > 0)
  }
  const set = (key: string, v: unknown) => { if (v !== undefined) out[key] = v }
  set('role', str('role'))
  set('parent', str('parent'))
  set('group', str('group'))
  set('maxBinds', num('max-binds'))
  set('windowSize', num('window-size'))
  set('allowedIps', list('allowed-ips'))
  set('clientCerts', list('client-certs'))
  set('allowedSources', list('allowed-sources'))
  const rate = num('rate')
  const burst = num('burst')
  if (rate !== undefined) out.rateLimit = rate === 0 ? null : { perSecond: rate, burst: burst ?? Math.max(1, Math.ceil(rate)) }
  else if (burst !== undefined) usage('--burst needs --rate')
  const quota = num('daily-quota')
  if (quota !== undefined) out.dailyQuota = quota === 0 ? null : quota
  set('registeredDelivery', num('registered-delivery'))
  const vd = num('validity-ms')
  const vm = num('max-validity-ms')
  if (vd !== undefined || vm !== undefined) {
    if (vd === undefined || vm === undefined) usage('--validity-ms and --max-validity-ms go together')
    out.validity = { defaultMs: vd, maxMs: vm }
  }
  set('messageIdFormat', str('id-format'))
  set('receiptPolicy', str('receipt-policy'))
  set('settlement', str('settlement'))
  const prepaid = str('prepaid')
  if (prepaid !== undefined) {
    if (prepaid !== 'true' && prepaid !== 'false') usage(`--prepaid must be true or false (got ${JSON.stringify(prepaid)})`)
    out.prepaid = prepaid === 'true'
  }
  const wr = str('webhook-receipts')
  const wm = str('webhook-mo')
  // only the one given: `account set --webhook-mo URL` keeps the receipts webhook (the API keeps a URL left out)
  if (wr !== undefined || wm !== undefined) {
    const hooks: Record<string, string | null> = {}
    if (wr !== undefined) hooks.receipts = wr || null
    if (wm !== undefined) hooks.mo = wm || null
    out.webhooks = hooks
  }
  const ob = str('outbind')
  const obTls = str('outbind-tls')
  const obPw = str('outbind-password')
  if (ob === undefined) {
    if (obTls !== undefined || obPw !== undefined) usage('--outbind-tls and --outbind-password go with --outbind HOST:PORT')
  } else if (ob === 'off') {
    if (obTls !== undefined || obPw !== undefined) usage('--outbind off takes no --outbind-tls or --outbind-password')
    out.outbind = null
  } else {
    // The Admin service checks the host and port ranges and names the field; here only the shape.
    const m = /^(.+):(\d+)$/.exec(ob)
    if (!m) usage(`--outbind must be HOST:PORT or off (got ${JSON.stringify(ob)})`)
    if (obTls !== undefined && obTls !== 'true' && obTls !== 'false') usage(`--outbind-tls must be true or false (got ${JSON.stringify(obTls)})`)
    // Without --outbind-password the password in force is kept (the engine never shows it)
    out.outbind = { host: m[1].replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]), tls: obTls === 'true', ...(obPw !== undefined ? { password: obPw } : {}) }
  }
  return out
}

const SETTING_FLAGS = ['role', 'parent', 'group', 'max-binds', 'window-size', 'allowed-ips', 'client-certs', 'allowed-sources', 'rate', 'burst', 'daily-quota',
  'registered-delivery', 'validity-ms', 'max-validity-ms', 'id-format', 'receipt-policy', 'settlement', 'prepaid', 'webhook-receipts', 'webhook-mo',
  'outbind', 'outbind-tls', 'outbind-password']

function show(a: AccountView): string {
  const lines = [
    `${a.systemId}  (${a.role}${a.parent ? ` of ${a.parent}` : ''}${a.suspended ? ', SUSPENDED' : ''})`,
    `  balance         ${a.balance === null ? 'unlimited (not prepaid)' : a.balance}`,
    // Parts counted against today's quota (UTC day): a reseller's count is its tree's (docs/ACCOUNTS.md), as in the console
    `  rate            ${a.rateLimit ? `${a.rateLimit.perSecond}/s, burst ${a.rateLimit.burst}` : 'unlimited'}   daily quota ${a.dailyQuota ?? 'unlimited'}${a.usage?.quotaUsedToday != null ? `, ${a.usage.quotaUsedToday} used today${a.role === 'reseller' ? ' with its users' : ''} (UTC)` : ''}`,
    `  binds           ${a.usage ? `${a.usage.binds} open, ` : ''}max ${a.maxBinds}, window ${a.windowSize}`,
    // "My receipts stopped": stored for the account and not yet acknowledged by one of its receivers (smsc_pending_deliveries).
    ...(a.usage ? [`  waiting         ${a.usage.pendingDeliveries} receipts/MO not yet acknowledged by a receiver${a.usage.pendingDeliveries > 0 && a.usage.receivers === 0 ? ` (${a.usage.binds === 0 ? 'no bind open' : 'only transmitters bound'}: they go out when a receiver or transceiver binds${a.webhooks.receipts || a.webhooks.mo ? ', or by the webhook' : ''})` : ''}`] : []),
    `  message ids     ${a.messageIdFormat}   validity default ${a.validity.defaultMs / 3_600_000} h, max ${a.validity.maxMs / 3_600_000} h   registered_delivery default ${a.registeredDelivery}`,
    `  allowed ips     ${a.allowedIps.length ? a.allowedIps.join(', ') : 'any'}`,
    `  client certs    ${a.clientCerts.length ? a.clientCerts.join(', ') : 'none asked'}`,
    `  allowed sources ${a.allowedSources.length ? a.allowedSources.join(', ') : 'any'}`,
    `  receipts        for long messages: ${a.receiptPolicy === 'every' ? 'every part' : a.receiptPolicy === 'last' ? 'the last part' : 'one for the whole message'}; settlement ${a.settlement}; webhooks receipts ${a.webhooks.receipts ?? '-'}, mo ${a.webhooks.mo ?? '-'}`,
    // SMPP 3.4 §2.2.1: where the engine connects to send outbind (the password itself is not printed)
    `  outbind         ${a.outbind ? `${a.outbind.host.includes(':') ? `[${a.outbind.host}]` : a.outbind.host}:${a.outbind.port}${a.outbind.tls ? ' over TLS' : ''}, password ${a.outbind.passwordSet ? 'set' : 'empty'}` : 'off'}`,
  ]
  // Settings beyond the reseller's own (set by the operator, or before the reseller's were lowered): docs/ACCOUNTS.md
  if (a.exceedsReseller && a.exceedsReseller.length > 0) lines.push(`  over ${a.parent}'s limits  ${a.exceedsReseller.join(', ')}`)
  return lines.join('\n') + '\n'
}

async function withClient(flags: Record<string, string | boolean>, extraFlags: readonly string[], fn: (c: AdminClient) => Promise<number>): Promise<number> {
  assertKnownFlags(flags, ['config', 'data-dir', 'json', 'help', 'as', ...extraFlags])
  const cfgFlags: Record<string, string | boolean> = {}
  for (const k of ['config', 'data-dir']) if (flags[k] !== undefined) cfgFlags[k] = flags[k]
  const options = loadConfig(configArgsFromFlags(cfgFlags))
  // --as SYSTEM_ID: act as that reseller or user (its password in SMSC_AS_PASSWORD), with its scope.
  let as: { systemId: string; password: string } | undefined
  if (flags.as !== undefined) {
    if (typeof flags.as !== 'string') usage('--as needs a systemId')
    const password = process.env.SMSC_AS_PASSWORD
    if (!password) usage(`--as ${flags.as}: set SMSC_AS_PASSWORD to that account's password`)
    as = { systemId: checkSystemId(flags.as), password }
  }
  const client = await openAdminClient(options, as)
  try {
    return await fn(client)
  } catch (e) {
    // The Admin service's refusals are one line naming the field: shown as usage errors.
    if (isSmscError(e) && e.code !== 'SMSC_ERR_CLI_USAGE') throw new SmscError('SMSC_ERR_CLI_USAGE', e.message)
    throw e
  } finally {
    await client.close()
  }
}

const out = (s: string) => { process.stdout.write(s) }

async function account(sub: string | undefined, positionals: string[], flags: Record<string, string | boolean>): Promise<number> {
  if (flags.help) { out(ACCOUNT_HELP); return 0 }
  const subs = ['add', 'set', 'show', 'list', 'suspend', 'resume', 'remove', 'passwd', 'webhook-secret', 'stats']
  if (!subs.includes(sub ?? '')) usage(`account needs one of ${subs.join(', ')} (got ${JSON.stringify(sub ?? '')})`)
  if (sub === 'stats') return accountStats(positionals, flags)
  return withClient(flags, ['password', 'credit', ...SETTING_FLAGS], async (c) => {
    switch (sub) {
      case 'list': {
        const list = await c.list()
        if (flags.json) out(JSON.stringify(list) + '\n')
        else {
          // binds: open now / the most allowed (open binds only while an engine runs)
          out('systemId         role      parent           balance     rate/s   binds    state\n')
          for (const a of list) {
            const binds = `${a.usage ? a.usage.binds : '-'}/${a.maxBinds}`
            out(`${a.systemId.padEnd(17)}${a.role.padEnd(10)}${(a.parent ?? '-').padEnd(17)}${String(a.balance ?? 'unlimited').padEnd(12)}${String(a.rateLimit?.perSecond ?? '-').padEnd(9)}${binds.padEnd(9)}${a.suspended ? 'suspended' : 'active'}\n`)
          }
        }
        return 0
      }
      case 'show': {
        const a = await c.get(checkSystemId(positionals[0]))
        out(flags.json ? JSON.stringify(a) + '\n' : show(a))
        return 0
      }
      case 'add': {
        const systemId = checkSystemId(positionals[0])
        const input: Record<string, unknown> = { systemId, ...settingsFromFlags(flags) }
        if (flags.password !== undefined) input.password = checkPassword(flags.password)
        if (flags.credit !== undefined) {
          if (typeof flags.credit !== 'string' || !/^\d+(\.\d+)?$/.test(flags.credit)) usage(`--credit must be a non-negative number (got ${JSON.stringify(flags.credit)})`)
          input.credit = Number(flags.credit)
        }
        const { password, webhookSecret } = await c.create(input)
        out(flags.password === undefined ? `added ${systemId} with password ${password}\n` : `added ${systemId}\n`)
        if (webhookSecret) out(`webhook secret for ${systemId} (shown only this once): ${webhookSecret}\n`)
        return 0
      }
      case 'set': {
        const systemId = checkSystemId(positionals[0])
        const patch = settingsFromFlags(flags)
        if (Object.keys(patch).length === 0) usage('account set needs at least one setting flag (see smsc account --help)')
        const a = await c.update(systemId, patch)
        out(show(a))
        if (a.webhookSecret) out(`webhook secret for ${systemId} (shown only this once): ${a.webhookSecret}\n`)
        // The config file's settings for this account apply again at every start: say so when this change touches one.
        const fixed = Object.keys(patch).filter((k) => a.configKeys?.includes(k))
        if (fixed.length > 0) {
          process.stderr.write(`smsc: note: ${systemId} is in the config file, which sets ${fixed.join(', ')}: the value there applies again at the next start; change the file to keep this\n`)
        }
        return 0
      }
      case 'suspend':
      case 'resume': {
        const systemId = checkSystemId(positionals[0])
        await c.setSuspended(systemId, sub === 'suspend')
        out(`${sub === 'suspend' ? 'suspended' : 'resumed'} ${systemId}${c.via === 'engine' && sub === 'suspend' ? ' (its binds are being closed)' : ''}\n`)
        return 0
      }
      case 'remove': {
        const systemId = checkSystemId(positionals[0])
        await c.remove(systemId)
        out(`removed ${systemId}\n`)
        return 0
      }
      case 'passwd': {
        const systemId = checkSystemId(positionals[0])
        const given = flags.password === undefined ? undefined : checkPassword(flags.password)
        const password = await c.setPassword(systemId, given)
        out(given === undefined ? `new password for ${systemId}: ${password}\n` : `password changed for ${systemId}\n`)
        return 0
      }
      case 'webhook-secret': {
        const systemId = checkSystemId(positionals[0])
        const secret = await c.rotateWebhookSecret(systemId)
        out(`new webhook secret for ${systemId} (shown only this once; the old one no longer signs): ${secret}\n`)
        return 0
      }
    }
    return 2
  })
}

// ---- traffic reports (engine/daily-stats.ts; docs/ACCOUNTS.md "Traffic reports")

const RECEIPT_COLUMNS = ['DELIVRD', 'UNDELIV', 'EXPIRED', 'REJECTD'] as const
const TRAFFIC_HEAD = `${'accepted'.padStart(9)}${'refused'.padStart(9)}${RECEIPT_COLUMNS.map((s) => s.padStart(9)).join('')}${'other'.padStart(7)}${'to ESME ok'.padStart(12)}${'failed'.padStart(8)}${'discarded'.padStart(10)}  refused by`

/** One report line's counts: accepted, refused, receipts by stat (the rest as other), to the ESME ok, failed and discarded, the top refusals. */
function trafficCells(c: TrafficCounts): string {
  const other = Object.entries(c.receipts).filter(([s]) => !(RECEIPT_COLUMNS as readonly string[]).includes(s)).reduce((a, [, n]) => a + n, 0)
  const top = Object.entries(c.refusedBy).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
  const by = top.slice(0, 3).map(([s, n]) => `${s} ${n}`).join(', ') + (top.length > 3 ? `, ${top.length - 3} more` : '')
  const e = c.toEsme
  return `${String(c.accepted).padStart(9)}${String(c.refused).padStart(9)}${RECEIPT_COLUMNS.map((s) => String(c.receipts[s] ?? 0).padStart(9)).join('')}` +
    `${String(other).padStart(7)}${String(e.receiptsOk + e.moOk).padStart(12)}${String(e.receiptsFailed + e.moFailed).padStart(8)}` +
    `${String(e.receiptsDiscarded + e.moDiscarded).padStart(10)}  ${by}`.trimEnd()
}

/** A UTC day flag (--from, --to, --day): YYYY-MM-DD, or today / yesterday. */
function dayFlag(flags: Record<string, string | boolean>, name: string): string | undefined {
  const v = flags[name]
  if (v === undefined) return undefined
  return (typeof v === 'string' ? parseDay(v, dayOf(Date.now())) : null) ?? usage(dayProblem(`--${name}`, v))
}

async function accountStats(positionals: string[], flags: Record<string, string | boolean>): Promise<number> {
  const systemId = checkSystemId(positionals[0])
  if (positionals.length > 1) usage(`account stats takes one systemId (got ${JSON.stringify(positionals[1])} too)`)
  let from = dayFlag(flags, 'from')
  let to = dayFlag(flags, 'to')
  if (flags.days !== undefined) {
    if (from !== undefined || to !== undefined) usage('--days goes without --from and --to (the last N days, today included)')
    const n = typeof flags.days === 'string' && /^\d+$/.test(flags.days) ? Number(flags.days) : NaN
    if (!(n >= 1 && n <= MAX_REPORT_DAYS)) usage(`--days must be an integer between 1 and ${MAX_REPORT_DAYS} (got ${JSON.stringify(flags.days)})`)
    to = dayOf(Date.now())
    from = addDays(to, 1 - n)
  }
  if (flags.tree !== undefined && typeof flags.tree !== 'boolean') usage('--tree takes no value')
  const range = reportRange({ from, to }, dayOf(Date.now()), { from: '--from', to: '--to' })
  if (typeof range === 'string') usage(range)
  return withClient(flags, ['days', 'from', 'to', 'tree'], async (c) => {
    const days = await c.traffic(systemId, { from: range[0], to: range[1], tree: flags.tree === true })
    if (flags.json) { out(JSON.stringify(days) + '\n'); return 0 }
    out(`${systemId}${flags.tree === true ? ' and its users' : ''}: traffic per UTC day\n`)
    out(`day        ${TRAFFIC_HEAD}\n`)
    for (const d of days) out(`${d.day} ${trafficCells(flags.tree === true && d.tree ? d.tree : d)}\n`)
    return 0
  })
}

async function stats(flags: Record<string, string | boolean>): Promise<number> {
  if (flags.help) { out(ACCOUNT_HELP); return 0 }
  const day = dayFlag(flags, 'day')
  return withClient(flags, ['day'], async (c) => {
    const r = await c.trafficDay(day)
    if (flags.json) { out(JSON.stringify(r) + '\n'); return 0 }
    out(`traffic of ${r.day} (UTC)\n`)
    if (r.accounts.length === 0) { out('no account had traffic that day\n'); return 0 }
    out(`${'systemId'.padEnd(16)}${TRAFFIC_HEAD}\n`)
    const total = emptyCounts()
    for (const a of r.accounts) {
      addCounts(total, a)
      out(`${a.systemId.padEnd(16)}${trafficCells(a)}\n`)
    }
    if (r.accounts.length > 1) out(`${'total'.padEnd(16)}${trafficCells(total)}\n`)
    return 0
  })
}

function amountArg(v: string | undefined): number {
  if (v === undefined || !/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0) usage(`amount must be a positive number (got ${JSON.stringify(v ?? '')})`)
  return Number(v)
}

async function credit(sub: string | undefined, positionals: string[], flags: Record<string, string | boolean>): Promise<number> {
  if (flags.help || !['add', 'remove', 'move', 'ledger'].includes(sub ?? '')) { out(ACCOUNT_HELP); return flags.help ? 0 : 2 }
  return withClient(flags, ['reason', 'limit'], async (c) => {
    const reason = typeof flags.reason === 'string' ? flags.reason : undefined
    if (sub === 'add' || sub === 'remove') {
      const amount = amountArg(positionals[1])
      const r = await c.transfer({ to: checkSystemId(positionals[0]), amount: sub === 'add' ? amount : -amount, reason })
      out(`${r.to.systemId}: ${r.to.delta > 0 ? '+' : ''}${r.to.delta}, balance ${r.to.balance}\n`)
    } else if (sub === 'move') {
      const r = await c.transfer({ from: checkSystemId(positionals[0]), to: checkSystemId(positionals[1]), amount: amountArg(positionals[2]), reason })
      out(`${r.from?.systemId}: ${r.from?.delta}, balance ${r.from?.balance}\n${r.to.systemId}: +${r.to.delta}, balance ${r.to.balance}\n`)
    } else {
      const id = checkSystemId(positionals[0])
      const entries = await c.ledger(id, intFlag(flags, 'limit', 50))
      if (flags.json) out(JSON.stringify(entries) + '\n')
      else if (entries.length === 0) out(`no ledger entries for ${id}: it is not prepaid, or no credit was added or charged yet\n`)
      else {
        out(`${'time'.padEnd(24)}  ${'change'.padStart(12)}  ${'balance'.padStart(12)}  ${'reason'.padEnd(12)} by, reference\n`)
        for (const e of entries) out(`${new Date(e.t).toISOString()}  ${String(e.delta).padStart(12)}  ${String(e.balance).padStart(12)}  ${e.reason.padEnd(12)} ${e.by}${e.ref ? `  ${e.ref}` : ''}${e.count ? `  (${e.count} message${e.count === 1 ? '' : 's'})` : ''}\n`)
      }
    }
    return 0
  })
}

async function route(sub: string | undefined, positionals: string[], flags: Record<string, string | boolean>): Promise<number> {
  if (flags.help || !['list', 'set'].includes(sub ?? '')) { out(ACCOUNT_HELP); return flags.help ? 0 : 2 }
  return withClient(flags, [], async (c) => {
    if (sub === 'list') {
      const t = await c.getRoutes()
      if (flags.json) { out(JSON.stringify(t, null, 2) + '\n'); return 0 }
      out('MT routes (first match wins):\n')
      t.mt.forEach((r, i) => out(`  ${i + 1}. ${r.name.padEnd(16)} ${JSON.stringify(r.match)} → ${JSON.stringify(r.action)}${r.price !== undefined ? ` price ${r.price}` : ''}\n`))
      out('MO routes:\n')
      t.mo.forEach((r, i) => out(`  ${i + 1}. ${r.name.padEnd(16)} ${JSON.stringify(r.match)} → ${r.account}${r.optOut !== undefined ? ` (optOut ${r.optOut}: the sender ${r.optOut === 'add' ? 'goes on' : 'comes off'} its opt-out list)` : ''}\n` +
        // the whole text, quoted as JSON (one line however it is written): what the subscriber gets
        (r.reply !== undefined ? `${' '.repeat(String(i + 1).length + 4)}reply ${JSON.stringify(r.reply)}\n` : '')))
      return 0
    }
    const file = positionals[0]
    if (!file) usage('route set needs a JSON file: smsc route set routes.json')
    let text: string
    try {
      text = fs.readFileSync(file, 'utf8')
    } catch (e) {
      usage(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
    }
    let tables: unknown
    try {
      tables = JSON.parse(text)
    } catch (e) {
      usage(`${file} is not valid JSON: ${(e as Error).message}`)
    }
    const t = await c.setRoutes(tables)
    out(`routes set: ${t.mt.length} MT, ${t.mo.length} MO${c.via === 'engine' ? ' (live)' : ''}\n`)
    // Set all the same (a narrowing can be meant): what the table in force routed and this one does not.
    for (const w of t.warnings ?? []) out(`warning: no longer routed: ${w}\n`)
    if (c.configRoutes) out(`warning: the config file has "routes": they replace this table at the next start. Put the table in the config file to keep it.\n`)
    return 0
  })
}

async function apikey(sub: string | undefined, positionals: string[], flags: Record<string, string | boolean>): Promise<number> {
  if (flags.help || !['create', 'list', 'revoke'].includes(sub ?? '')) { out(ACCOUNT_HELP); return flags.help ? 0 : 2 }
  return withClient(flags, ['label'], async (c) => {
    const systemId = checkSystemId(positionals[0])
    if (sub === 'create') {
      const k = await c.createApiKey(systemId, typeof flags.label === 'string' ? flags.label : undefined)
      out(`API key ${k.id} for ${systemId} (shown only this once): ${k.key}\n`)
    } else if (sub === 'list') {
      const keys = await c.listApiKeys(systemId)
      if (flags.json) out(JSON.stringify(keys) + '\n')
      else for (const k of keys) out(`${k.id}  ${new Date(k.createdAt).toISOString()}  ${k.label}\n`)
    } else {
      if (!positionals[1]) usage('apikey revoke needs <systemId> <keyId>')
      await c.revokeApiKey(systemId, positionals[1])
      out(`revoked ${positionals[1]}\n`)
    }
    return 0
  })
}

const OPTOUT_HELP = `smsc optout list | add | remove: opt-out lists, the numbers MT admission refuses (SMSC_ROPTEDOUT 0x403)

  smsc optout list [--account ID] [--prefix DIGITS] [--limit N] [--after NUMBER] [--all] [--json]
  smsc optout add [--account ID] NUMBER…      (or --file FILE)
  smsc optout remove [--account ID] NUMBER…   (or --file FILE)
  smsc optout find NUMBER [--json]            which lists hold NUMBER (the global one, accounts'), when and by whom

--all lists every entry (page after page: an export). --file FILE: one number a line, or CSV/TSV whose first
field is the number; lines starting with # and a first line without digits (a header) are skipped. Every
number is checked before any is sent: a bad one is named by its line, and nothing is changed.

Without --account: the operator's global list, which refuses the number for every account. With it: that
account's list, which refuses it for the account (and, a reseller's, for its users). A subscriber's STOP adds
to an account's list through an MO route with "optOut": "add" (docs/ROUTING.md "Opt-outs").
A number is digits; a leading "+" and spaces, dashes, dots or brackets are dropped (+49 151 1234-5678 = 4915112345678).
--as SYSTEM_ID (password in SMSC_AS_PASSWORD) acts as that reseller or user: its own list and its users'.
find shows the lists the caller may see: the operator every list, a reseller the global one and its tree's, a
user the global one, its own and its reseller's (each refuses the user's sends to the number).
`

async function optout(sub: string | undefined, positionals: string[], flags: Record<string, string | boolean>): Promise<number> {
  if (flags.help || !['list', 'add', 'remove', 'find'].includes(sub ?? '')) { out(OPTOUT_HELP); return flags.help ? 0 : 2 }
  return withClient(flags, ['account', 'prefix', 'limit', 'after', 'file', 'all'], async (c) => {
    if (flags.account !== undefined && typeof flags.account !== 'string') usage('--account needs a systemId')
    const systemId = flags.account === undefined ? null : checkSystemId(flags.account as string)
    const list = systemId === null ? 'the global list' : `${systemId}'s list`
    if (sub === 'find') {
      if (positionals.length !== 1) usage(`optout find takes one NUMBER (got ${positionals.length})`)
      if (systemId !== null) usage('optout find takes no --account: it looks in every list you may see')
      const bad = numberProblem(positionals[0], 'NUMBER')
      if (bad !== null) usage(bad)
      const r = await c.findOptOut(positionals[0])
      if (flags.json) { out(JSON.stringify(r) + '\n'); return 0 }
      for (const e of r.lists) out(`${(e.list === 'global' ? 'global list' : `${e.list}'s list`).padEnd(24)}  ${new Date(e.at).toISOString()}  ${e.by}\n`)
      out(r.lists.length === 0 ? `${r.number} is on no list you may see\n` : `${r.number} is on ${r.lists.length} ${r.lists.length === 1 ? 'list' : 'lists'}\n`)
      return 0
    }
    if (sub === 'list') {
      if (positionals.length > 0) usage(`optout list takes no NUMBER (got ${JSON.stringify(positionals[0])}); --prefix DIGITS filters`)
      const limit = flags.limit === undefined ? undefined : Number(flags.limit)
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) usage(`--limit must be a positive integer (got ${JSON.stringify(flags.limit)})`)
      const q = { limit, prefix: typeof flags.prefix === 'string' ? flags.prefix : undefined, after: typeof flags.after === 'string' ? flags.after : undefined }
      if (flags.all) {
        // An export: page after page, as the entries come (a million is a thousand requests, no more in memory than a page)
        let after = q.after
        let shown = 0
        for (;;) {
          const r = await c.listOptOuts(systemId, { ...q, limit: 1000, after })
          for (const e of r.optouts) out(flags.json ? JSON.stringify(e) + '\n' : `${e.number.padEnd(20)}  ${new Date(e.at).toISOString()}  ${e.by}\n`)
          shown += r.optouts.length
          if (r.next === null || r.optouts.length === 0) break
          after = r.next
        }
        if (!flags.json) out(`${shown} on ${list}\n`)
        return 0
      }
      const r = await c.listOptOuts(systemId, q)
      if (flags.json) { out(JSON.stringify(r) + '\n'); return 0 }
      for (const e of r.optouts) out(`${e.number.padEnd(20)}  ${new Date(e.at).toISOString()}  ${e.by}\n`)
      out(`${r.optouts.length} shown of ${r.total} on ${list}${r.next !== null ? `; next page: --after ${r.next} (or --all)` : ''}\n`)
      return 0
    }
    // [number, where it came from]: all checked before the first request, so a bad line changes nothing
    const given: [string, string][] = positionals.map((n, i) => [n, `NUMBER ${i + 1}`])
    if (typeof flags.file === 'string') {
      let text: string
      try { text = fs.readFileSync(flags.file, 'utf8') } catch (e) { usage(`--file ${flags.file}: ${(e as Error).message}`) }
      text.split(/\r?\n/).forEach((line, i) => {
        const first = line.split(/[,;\t]/)[0].trim().replace(/^"(.*)"$/, '$1')
        if (first === '' || first.startsWith('#') || (i === 0 && !/\d/.test(first))) return // blank, comment, header
        given.push([first, `${flags.file} line ${i + 1}`])
      })
    }
    if (given.length === 0) usage(`optout ${sub} needs at least one NUMBER (or --file FILE)`)
    for (const [n, where] of given) { const bad = numberProblem(n, where); if (bad !== null) usage(`${bad}; nothing was changed`) }
    const numbers = given.map(([n]) => n)
    let done = 0
    let other = 0
    let total = 0
    // in requests of MAX_PER_REQUEST numbers (engine/optouts.ts), each committed and audited on its own
    for (let i = 0; i < numbers.length; i += 1000) {
      const chunk = numbers.slice(i, i + 1000)
      if (sub === 'add') {
        const r = await c.addOptOuts(systemId, chunk)
        done += r.added; other += r.already; total = r.total
      } else {
        const r = await c.removeOptOuts(systemId, chunk)
        done += r.removed; other += r.absent; total = r.total
      }
    }
    out(sub === 'add'
      ? `${done} added to ${list}${other > 0 ? ` (${other} on it already)` : ''}; ${total} on it${c.via === 'engine' ? ' (live)' : ''}\n`
      : `${done} removed from ${list}${other > 0 ? ` (${other} not on it)` : ''}; ${total} on it${c.via === 'engine' ? ' (live)' : ''}\n`)
    return 0
  })
}

const CONNECTOR_HELP = `smsc connector list | stop <id> | start <id>: the connectors (config connectors[], and simulator)

  smsc connector list [--json]   each connector: kind, state (up, paused, down, stalled, stopped), in flight, queued,
                                 sent, failed, and until when it is paused (up, but its upstream throttles it:
                                 ESME_RTHROTTLED, ESME_RMSGQFUL, HTTP 429; its submits wait); stalled: an smpp
                                 connector that dropped its link because its upstream stopped answering submit_sm,
                                 binding again (since when, and how many submit_sm in a row went unanswered)
  smsc connector stop <id>       an smpp connector unbinds; the connector counts as down, so routes fail over past
                                 it or their messages wait; it stays stopped across restarts until started
  smsc connector start <id>      starts it again (a new link)

With an engine running these go through its admin API and apply at once; otherwise they mark the store, and the
next start obeys. Stopping and starting are in the audit (connector.stop, connector.start).
`

async function connector(sub: string | undefined, positionals: string[], flags: Record<string, string | boolean>): Promise<number> {
  if (flags.help) { out(CONNECTOR_HELP); return 0 }
  if (!['list', 'stop', 'start'].includes(sub ?? '')) usage(`connector needs list, stop or start (got ${JSON.stringify(sub ?? '')}; smsc connector --help)`)
  return withClient(flags, [], async (c) => {
    if (sub === 'list') {
      const list = await c.connectors()
      if (flags.json) { out(JSON.stringify(list) + '\n'); return 0 }
      const live = c.via === 'engine'
      out(`connector                         kind       state${live ? '      in flight  queued       sent     failed  paused until / stalled since' : ''}\n`)
      for (const x of list) {
        const state = x.stopped ? 'stopped' : !live ? '(no engine runs)' : x.up ? (x.paused ? 'paused' : 'up') : x.stalled === true ? 'stalled' : 'down'
        const when = state === 'paused' ? x.paused ?? '' : state === 'stalled' && x.stalledSince ? `${x.stalledSince} (${x.stalledTimeouts ?? 0} submit_sm unanswered)` : ''
        out(`${x.id.padEnd(34)}${x.kind.padEnd(11)}${state.padEnd(live ? 11 : 0)}` +
          (live ? `${String(x.inFlight ?? 0).padStart(9)}${String(x.queued ?? 0).padStart(8)}${String(x.sent ?? 0).padStart(11)}${String(x.failed ?? 0).padStart(11)}  ${when}`.trimEnd() : '') + '\n')
      }
      return 0
    }
    const id = positionals[0]
    if (id === undefined) usage(`connector ${sub} needs the connector's id (smsc connector list)`)
    await c.setConnectorStopped(id, sub === 'stop')
    out(`${id} ${sub === 'stop' ? 'stopped' : 'started'}${c.via === 'engine' ? '' : ' (at the next start: no engine runs on this data dir)'}\n`)
    return 0
  })
}

async function audit(flags: Record<string, string | boolean>): Promise<number> {
  if (flags.help) { out(ACCOUNT_HELP); return 0 }
  return withClient(flags, ['limit'], async (c) => {
    const entries = await c.audit(intFlag(flags, 'limit', 50))
    if (flags.json) out(JSON.stringify(entries) + '\n')
    else for (const e of entries) out(`${new Date(e.t).toISOString()}  ${e.by.padEnd(12)} ${e.action.padEnd(20)} ${e.target}${e.detail ? `  ${JSON.stringify(e.detail)}` : ''}\n`)
    return 0
  })
}

const MESSAGE_HELP = `smsc message find | show: find messages for support

  smsc message find [--to N] [--from S] [--account A] [--state S] [--direction mt|mo] [--since T]
                    [--until T] [--upstream-id U] [--reference R] [--limit N] [--before ID] [--json]
      messages newest first, submitted between --since (default: 24 h before --until) and --until
      (default: now); every filter given must match. MO (from a subscriber to an account) are found
      too, marked MO: --from is the subscriber, --to the number it texted, their state their delivery
      to the account
        --to N        destination number; a leading + or 00, spaces and dashes are ignored
                      (+49 151 12345678 = 004915112345678 = 4915112345678); a trailing * matches a
                      prefix (4915112*)
        --from S      source number or sender id (letters in any case), the same way
        --account A   only account A's messages
        --state S     DELIVERED, UNDELIVERABLE, EXPIRED, REJECTED, ENROUTE, SCHEDULED, … or receipt
                      stats (DELIVRD, UNDELIV, …), comma-separated
        --direction D mt: only messages accounts sent; mo: only MO from subscribers
        --upstream-id U   the message id an upstream carrier gave it (its submit_sm_resp), as the
                      carrier quotes it: any case, and hex or decimal the way the connector's
                      receiptIds compares them. Every message in the window is read in full: slower
        --reference R the reference the send API was given with the message (the customer's own
                      id), exactly; only the messages that have one are read in full
        --since T, --until T   ISO-8601 (2024-05-01T08:00:00Z), ms since the epoch, or a time
                      ago: 30m, 6h, 2d
        --limit N     at most N messages (default 50, at most ${SEARCH_MAX_LIMIT})
        --before ID   go on from an earlier page: only messages older than ID (printed as "more:")
  smsc message show <id> [--json]
      one message: account, numbers, text, state, which receipts it asked for (registered_delivery),
      and for each destination the connector that carried it, the upstream's message id, the
      route's connectors and the price (refunded or not); its timeline. For an MO: the connector it
      came from, the MO route (keyword) that took it, and its delivery to the account: waiting (and
      whether a receiver is bound), retrying, delivered (to a bind or the webhook, when), refused

  Refused submits (a submit_sm_resp with an error, a refused HTTP send, an MO route's auto-reply
  refused: "auto-reply" with the route and the MO's id) have no id: the running engine keeps the
  last stats.refusalsKept (200) of each account in memory, and find lists those matching --to,
  --from, --account, --reference and the window after the messages (not with --state,
  --direction mo or --before; "?" when the PDU could not be decoded).
  There is no index by number: find reads the stored messages from the newest back to --since, at
  most ${SEARCH_MAX_SCAN.toLocaleString('en-US')} per run (docs/API.md "Message search" says what that costs); past that it says so
  and prints the --before to go on from. A narrow --since/--until is the cheap search.
  With an engine running on the data dir these go through its API; otherwise they read the store.
  --as SYSTEM_ID (password in SMSC_AS_PASSWORD): only what that reseller or user may see.
  --config FILE / --data-dir DIR select the data dir (default ./data).
`

const STATE_NAME: Record<number, string> = Object.fromEntries(Object.entries(MessageState).map(([k, v]) => [v, k]))
const stateName = (n: number): string => STATE_NAME[n] ?? String(n)
const iso = (t: number): string => (t ? new Date(t).toISOString() : '-')

/** --since / --until: ISO-8601, ms since the epoch, or a time ago (30m, 6h, 2d); as ms since the epoch. */
function timeFlag(flags: Record<string, string | boolean>, name: string, now: number): string | undefined {
  const v = flags[name]
  if (v === undefined) return undefined
  if (typeof v !== 'string' || v.trim() === '') usage(`--${name} needs a time`)
  const ago = /^(\d+)\s*(s|m|h|d)$/.exec(v.trim())
  if (ago) return String(now - Number(ago[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 's' | 'm' | 'h' | 'd'])
  if (/^\d+$/.test(v.trim())) return v.trim()
  const t = Date.parse(v)
  if (!/^\d{4}-\d\d-\d\d/.test(v.trim()) || !Number.isFinite(t)) usage(`--${name} must be an ISO-8601 time (2024-05-01T08:00:00Z), ms since the epoch, or a time ago (30m, 6h, 2d) (got ${JSON.stringify(v)})`)
  return String(t)
}

/**
 * What registered_delivery (SMPP 3.4 §5.2.17) asked for, and whether this outcome gets a receipt: the first thing
 * to check when a customer says it was charged and got no receipt (a message that asked for none still shows its
 * outcome in the timeline as `receipt`).
 */
function receiptAsked(m: MessageView): string {
  const rd = m.registeredDelivery
  const final = isFinal(m.state)
  const delivered = m.state === MessageState.DELIVERED
  const inter = (rd & RegisteredDelivery.INTERMEDIATE) !== 0 ? ', and intermediate ones' : ''
  switch (rd & RegisteredDelivery.RECEIPT_MASK) {
    case RegisteredDelivery.FINAL: return `asked for: the final outcome${inter} (registered_delivery ${rd})`
    case RegisteredDelivery.FAILURE: return `asked for failures only${inter} (registered_delivery ${rd})${final && delivered ? ': none for a delivered message' : ''}`
    case RegisteredDelivery.SUCCESS: return `asked for success only${inter} (registered_delivery ${rd})${final && !delivered ? ': none for this outcome' : ''}`
    default: return inter === '' ? `not asked for (registered_delivery ${rd}): the ESME gets none` : `intermediate ones only (registered_delivery ${rd}): none for the final outcome`
  }
}

/**
 * A message's `err` as support reads it: the engine's own vendor-specific status a stored message can end with by
 * name, 1027 (0x403 SMSC_ROPTEDOUT: opted out after it was accepted). Other numbers are an upstream's or a provider's
 * own codes (docs/CONNECTORS.md) and are shown as they came: naming them as SMPP statuses would mislead. That includes
 * the rest of 0x400–0x4FF, every SMSC's vendor range (SMPP 3.4 §5.1.3): the engine's 0x401 and 0x402 refuse a submit,
 * so no stored message carries them, and an upstream's 0x401 is its own. `connector`: the one that carried the
 * destination, whose own code a 0x403 may then be (the engine's, when it was opted out after a temporary failure).
 */
function errText(err: number, connector?: string): string {
  if (err !== CommandStatus.SMSC_ROPTEDOUT) return String(err)
  return connector === undefined ? `${err} (0x403 SMSC_ROPTEDOUT)` : `${err} (0x403: SMSC_ROPTEDOUT if the engine ended it, else connector ${connector}'s own code)`
}

/**
 * Which connector carried a destination, as support reads it: a record names upstreams only (docs/API.md "Message
 * lookup"), so one without, whose route is the simulator's (no `via`, or a `via` that goes on to it), and final, was
 * the simulated carrier's; else '-' (not carried yet, or expired before a connector took it).
 */
function carrierOf(d: MessageView['dests'][number]): string {
  if (d.connector !== undefined) return d.connector
  return isFinal(d.state) && (d.via === undefined || d.via.includes(SIMULATOR_CONNECTOR)) ? SIMULATOR_CONNECTOR : '-'
}

/** An MO's `err`: the status the account's own ESME answered its deliver_sm with, an SMPP command_status, so named. */
const moErr = (err: number): string => `${err} (0x${err.toString(16)} ${statusName(err)})`

/** An MO's delivery to the account, in words: what support answers "my app never got it" with. */
function moDelivery(m: MessageView): string {
  const mo = m.mo as NonNullable<MessageView['mo']>
  const parts = mo.parts > 1 ? ` (${mo.acked} of ${mo.parts} parts acknowledged)` : ''
  const retries = mo.retries > 0 ? `, ${mo.retries} failed attempt${mo.retries === 1 ? '' : 's'} retried` : ''
  switch (mo.delivery) {
    case 'delivered': return `delivered to ${mo.via === 'webhook' ? 'the MO webhook (2xx)' : 'a bind (deliver_sm_resp 0)'} at ${iso(m.doneAt)}${retries}`
    case 'refused': return `refused for good by the ESME (err ${moErr(m.err)}, not sent again) at ${iso(m.doneAt)}${retries}`
    case 'expired': return `never acknowledged: discarded after receipts.maxAgeMs at ${iso(m.doneAt)}${retries}`
    default: {
      const where = mo.receivers === undefined ? '' : mo.webhook ? '; the account takes MO by webhook'
        : mo.receivers === 0 ? '; no receiver or transceiver bound: it goes out when one binds' : `; ${mo.receivers} receiver${mo.receivers === 1 ? '' : 's'} bound`
      return `${mo.delivery === 'retrying' ? 'retrying' : 'waiting'}: not yet acknowledged by the account${parts}${retries}${where}`
    }
  }
}

/** An MO's lookup: where it came from, its route, its delivery to the account (no carrier, receipt or price). */
function showMo(m: MessageView): string {
  const mo = m.mo as NonNullable<MessageView['mo']>
  const lines = [
    `${m.id}  MO (from a subscriber to the account)  ${stateName(m.state)}${m.err ? `  err ${moErr(m.err)}` : ''}`,
    `  account     ${m.systemId}`,
    `  from → to   ${m.from} → ${m.to.join(', ')}`,
    `  received    ${iso(m.submitAt)}   done ${iso(m.doneAt)}`,
    `  came from   ${mo.connector === 'simulator' ? 'the simulator (POST /api/v1/simulator/mo)' : `connector ${mo.connector}`}`,
    `  MO route    ${mo.route === undefined ? '- (named account, or a later part following its first)' : `${mo.route}${mo.keyword !== undefined ? ` (keyword ${mo.keyword})` : ''}`}`,
    `  delivery    ${moDelivery(m)}`,
  ]
  // "Did the subscriber get the STOP confirmation?": its MO route's auto-reply, which `message show` finds by this id.
  if (mo.reply !== undefined) lines.push(`  auto-reply  ${mo.reply} (smsc message show ${mo.reply})`)
  else if (mo.replyNot !== undefined) lines.push(`  auto-reply  not sent: ${mo.replyNot === 'held' ? 'held back (one per route and sender a minute)' : mo.replyNot}`)
  if (m.part) lines.push(`  part        ${m.part[0]} of ${m.part[1]}`)
  lines.push(`  text        ${JSON.stringify(m.text)}`)
  const t0 = m.timeline[0]?.t ?? m.submitAt
  lines.push(`  timeline    ${m.timeline.map((e, i) => (i === 0 ? `${e.event} ${iso(e.t)}` : `${e.event} +${e.t - t0} ms`)).join(', ')}`)
  return lines.join('\n') + '\n'
}

export function showMessage(m: MessageView): string {
  if (m.mo !== undefined) return showMo(m)
  const lines = [
    `${m.id}  ${stateName(m.state)}${m.stat && m.stat !== 'UNKNOWN' ? ` (stat ${m.stat})` : ''}${m.err ? `  err ${errText(m.err, m.dests?.find((d) => d.err === m.err)?.connector)}` : ''}`,
    `  account     ${m.systemId}`,
    `  from → to   ${m.from} → ${m.to.join(', ')}`,
    `  submitted   ${iso(m.submitAt)}   done ${iso(m.doneAt)}${m.scheduleAt ? `   scheduled ${iso(m.scheduleAt)}` : ''}   expires ${iso(m.expireAt)}`,
  ]
  if (m.reference !== undefined) lines.push(`  reference   ${m.reference}`)
  if (m.part) lines.push(`  part        ${m.part[0]} of ${m.part[1]}`)
  const refunded = (m.dests ?? []).filter((d) => d.refunded).length
  if (m.price !== undefined) lines.push(`  price       ${m.price}${refunded === 0 ? '' : refunded === m.dests.length ? ', refunded' : `, ${refunded} of ${m.dests.length} destinations refunded`}`)
  // absent from an engine older than this CLI
  if (m.registeredDelivery !== undefined) lines.push(`  receipt     ${receiptAsked(m)}`)
  if (m.receiptDiscarded) lines.push(`              discarded ${iso(m.receiptDiscarded)}: the account never acknowledged it within receipts.maxAgeMs (no receiver bound, or none answered), so it never got it`)
  lines.push(`  text        ${JSON.stringify(m.text)}`)
  for (const d of m.dests ?? []) {
    lines.push(`  to ${d.to}: ${stateName(d.state)}${d.err ? ` err ${errText(d.err, d.connector)}` : ''}${d.doneAt ? ` at ${iso(d.doneAt)}` : ''}` +
      `; connector ${carrierOf(d)}, upstream id ${d.upstreamId ?? '-'}, route ${d.via?.join(' → ') ?? 'simulator'}` +
      `${d.price !== undefined ? `, price ${d.price}${d.refunded ? ' (refunded)' : ''}` : ''}`)
  }
  const t0 = m.timeline[0]?.t ?? m.submitAt
  lines.push(`  timeline    ${m.timeline.map((e, i) => (i === 0 ? `${e.event} ${iso(e.t)}` : `${e.event} +${e.t - t0} ms${e.stat ? ` (${e.stat})` : ''}`)).join(', ')}`)
  return lines.join('\n') + '\n'
}

function listMessages(r: MessageSearchResult, again: string[]): string {
  const cell = (s: string, w: number) => (s.length >= w ? s + ' ' : s.padEnd(w))
  let text = r.messages.length === 0 ? '' : `${cell('submitted (UTC)', 25)}${cell('id', 12)}${cell('account', 16)}${cell('from', 17)}${cell('to', 17)}${cell('state', 18)}err\n`
  for (const m of r.messages) {
    // an MO is marked: its from is the subscriber, its to the number texted, its state its delivery to the account
    text += `${cell(iso(m.submitAt), 25)}${cell(m.id, 12)}${cell(m.systemId, 16)}${cell(m.from, 17)}${cell(m.to.join(','), 17)}${cell(`${m.direction === 'mo' ? 'MO ' : ''}${stateName(m.state)}`, 18)}${m.err}\n`
  }
  if (r.messages.some((m) => m.direction === 'mo')) text += 'MO: from a subscriber to the account (from the subscriber, to the number texted; state: its delivery to the account)\n'
  text += `${r.messages.length === 0 ? 'no message found' : `${r.messages.length} message${r.messages.length === 1 ? '' : 's'}, newest first`} ` +
    `(${r.scanned === undefined ? '' : `${r.scanned.toLocaleString('en-US')} stored messages read `}in ${r.ms} ms; submitted ${iso(r.since)} .. ${iso(r.until)})\n`
  // `scanned` is the operator's only (an account's login, --as, does not get it)
  if (r.truncated) text += `the search stopped ${r.scanned === undefined ? 'at its limit per run' : `after reading ${r.scanned.toLocaleString('en-US')} messages (its limit per run)`}: older ones may match\n`
  if (r.next !== null) text += `more: smsc message find ${[...again, '--before', r.next].join(' ')}\n`
  // Refused submits have no id and no record: the running engine keeps the last ones per account (absent without one).
  if (r.refused !== undefined && r.refused.length > 0) {
    text += `\nrefused (no message id; the engine keeps the last stats.refusalsKept of each account):\n`
    text += `${cell('at (UTC)', 25)}${cell('account', 16)}${cell('via', 13)}${cell('from', 17)}${cell('to', 17)}status\n`
    for (const x of r.refused) {
      const via = x.via === 'http' ? 'http send' : x.via === 'auto-reply' ? 'auto-reply' : `smpp #${x.session}`
      // an auto-reply: which MO route (keyword) answered which MO
      const what = x.via === 'auto-reply' ? ` (MO route ${x.route}${x.keyword !== undefined ? `, keyword ${x.keyword}` : ''}, to MO ${x.mo})`
        : x.command === 'send' || x.command === 'submit_sm' ? '' : ` ${x.command}`
      text += `${cell(iso(x.t), 25)}${cell(x.systemId, 16)}${cell(via, 13)}${cell(x.from ?? '?', 17)}${cell(x.to?.join(',') ?? '?', 17)}` +
        `${x.statusName} (0x${x.status.toString(16).padStart(8, '0')})${what}${x.reference !== undefined ? ` reference ${x.reference}` : ''}\n`
    }
  }
  return text
}

async function message(sub: string | undefined, positionals: string[], flags: Record<string, string | boolean>): Promise<number> {
  if (flags.help || !['find', 'show'].includes(sub ?? '')) { out(MESSAGE_HELP); return flags.help ? 0 : 2 }
  const find = ['to', 'from', 'account', 'state', 'direction', 'since', 'until', 'limit', 'before', 'upstream-id', 'reference']
  if (sub === 'show') {
    if (!positionals[0]) usage('message show needs a message id')
    return withClient(flags, [], async (c) => {
      const m = await c.message(positionals[0])
      out(flags.json ? JSON.stringify(m) + '\n' : showMessage(m))
      return 0
    })
  }
  if (positionals.length > 0) usage(`message find takes flags only (got ${JSON.stringify(positionals[0])}); e.g. --to ${positionals[0]}`)
  const params: Record<string, string> = {}
  const again: string[] = [] // the flags as given, for the "more:" line
  const now = Date.now()
  for (const k of find) {
    const v = flags[k]
    if (v === undefined) continue
    if (typeof v !== 'string' || v.trim() === '') usage(`--${k} needs a value`)
    const param = k === 'account' ? 'systemId' : k === 'upstream-id' ? 'upstreamId' : k
    params[param] = k === 'since' || k === 'until' ? (timeFlag(flags, k, now) as string) : v
    // a relative --since is pinned: the next page searches the same window
    if (k !== 'before') again.push(`--${k}`, /^[\w.:+-]+$/.test(params[param]) ? params[param] : JSON.stringify(params[param]))
  }
  if (params.limit !== undefined && !/^\d+$/.test(params.limit)) usage(`--limit must be a positive integer (got ${JSON.stringify(params.limit)})`)
  return withClient(flags, find, async (c) => {
    const r = await c.findMessages(params)
    // the window as searched, so that a "more:" line goes on with the same one
    if (params.until === undefined) again.push('--until', String(r.until))
    out(flags.json ? JSON.stringify(r) + '\n' : listMessages(r, again))
    return 0
  })
}

const CONFIG_HELP = `smsc config check [--config FILE]: check a config file without starting

Reads the file (or $SMSC_CONFIG) and checks every key and value as smsc start and a reload (SIGHUP)
do, without opening the data dir or a port: "ok" and what it configures, exit 0; else the one line
naming the key and what is wrong, exit 2. Before a reload, so that a mistake is found before the
engine sees it (docs/OPERATIONS.md: systemd's ExecReload runs it first):
  smsc config check --config /etc/smsc/smsc.json && systemctl reload smsc
Routes in the file are checked against its connectors; routes kept in the data dir (no "routes" key)
are the engine's, checked when it loads them. With an engine running on the file's data dir, the file's
MT routes are compared with the routes in force: a destination they route for an account and the file's
would not is a "warning: a reload would stop routing …" line (still ok, exit 0: the reload applies it).
`

async function configCheck(sub: string | undefined, positionals: string[], flags: Record<string, string | boolean>): Promise<number> {
  if (flags.help || sub !== 'check') { out(CONFIG_HELP); return flags.help ? 0 : 2 }
  if (positionals.length > 0) usage(`config check takes no argument (got ${JSON.stringify(positionals[0])}); the file is --config FILE`)
  assertKnownFlags(flags, ['config', 'help'])
  const file = typeof flags.config === 'string' ? flags.config : process.env.SMSC_CONFIG
  if (file === undefined || file === '') usage('config check needs --config FILE (or SMSC_CONFIG)')
  const o = loadConfig(configArgsFromFlags({ config: file }))
  const routes = o.routes === null ? 'routes: the data dir\'s' : `routes: ${o.routes.mt.length} MT, ${o.routes.mo.length} MO`
  out(`${file}: ok (${o.accounts.length} account${o.accounts.length === 1 ? '' : 's'} in the file, ${o.connectors.length} connector${o.connectors.length === 1 ? '' : 's'}` +
    `${o.simulator.enabled ? ' and the simulator' : ''}, ${routes}, data dir ${o.dataDir})\n`)
  // The file's routes against those of the engine running on its data dir: what a reload would stop routing (it is
  // not refused: a narrowing can be meant). Without a running engine there is nothing to compare with.
  if (o.routes !== null) {
    const running = await runningRoutes(o.dataDir).catch(() => null)
    if (running === null) out(`routes not compared: no engine runs on ${path.resolve(o.dataDir)} whose admin API this user can reach (its control.json)\n`)
    else {
      const lost = routingLost(running.routes.mt, o.routes.mt, running.accounts.map((a) => ({ systemId: a.systemId, group: a.group ?? null })))
      for (const l of lost) out(`warning: a reload would stop routing ${routingLossText(l)}\n`)
      if (lost.length === 0) out('routes compared with the running engine\'s: nothing it routes would stop being routed\n')
    }
  }
  return 0
}

const BACKUP_HELP = `smsc backup [--out DIR] [--config FILE | --data-dir DIR]: back up the store

A consistent copy of everything committed (accounts, credit and ledger, routes, API keys, audit,
messages and their receipts still to deliver), made while the engine runs and takes traffic (with
no engine running, from the data dir directly). The copy is a data dir of its own: <DIR>/store.
--out must be a new or empty directory (lost+found aside), outside the store and outside
<dataDir>/backups; a running engine writes there itself, so its user must be able to. Without
--out the copy goes under <dataDir>/backups/<UTC time>-<random>, where the latest
store.backupsKept (7) are kept.

Restore: stop the engine, copy the backup (cp -a DIR NEW) and start the engine on the copy
(smsc start --data-dir NEW), or copy DIR/store over <dataDir>/store. The engine's first start on a
copy skips message ids ahead (200,000 per second since the backup, at most 1,000,000,000), so ids
handed out after the backup are not handed out again. Certificates under <dataDir>/tls and the
config file are not in the copy: keep them with it.
`

async function backup(flags: Record<string, string | boolean>): Promise<number> {
  if (flags.help) { out(BACKUP_HELP); return 0 }
  const given = flags.out
  if (given !== undefined && (typeof given !== 'string' || given === '')) usage('--out needs a directory')
  const to = given === undefined ? undefined : path.resolve(given)
  if (to !== undefined && fs.existsSync(to) && (!fs.statSync(to).isDirectory() || fs.readdirSync(to).some((x) => x !== 'lost+found'))) {
    usage(`--out ${given}: ${fs.statSync(to).isDirectory() ? 'the directory is not empty' : 'not a directory'}; give a new or empty directory`)
  }
  // A data dir with no store is a wrong --config or --data-dir: a backup of nothing would look like a good one.
  const cfgFlags: Record<string, string | boolean> = {}
  for (const k of ['config', 'data-dir']) if (flags[k] !== undefined) cfgFlags[k] = flags[k]
  const dataDir = path.resolve(loadConfig(configArgsFromFlags(cfgFlags)).dataDir)
  if (!fs.existsSync(path.join(dataDir, 'store', 'data.mdb'))) {
    usage(`no store in ${dataDir}: nothing to back up there; give the --config or --data-dir the engine runs with`)
  }
  return withClient(flags, ['out'], async (c) => {
    // The copy goes straight to --out: written by the running engine (so the engine's user must be able to write
    // there), or with no engine running by this command.
    const r = await c.backup(to)
    const where = r.path
    const bytes = r.bytes ?? 0
    const size = bytes < 1048576 ? `${Math.ceil(bytes / 1024)} KiB` : `${(bytes / 1048576).toFixed(1)} MiB`
    out(`backup: ${where} (${size} in ${((r.ms ?? 0) / 1000).toFixed(1)} s${c.via === 'engine' ? ', made by the running engine' : ''})\n`)
    out(`restore: stop the engine, copy the backup (cp -a ${where} <new data dir>) and start the engine on the copy (smsc start --data-dir <new data dir>, with your config's other settings)\n`)
    return 0
  })
}

const ADMIN_HELP = `smsc admin: the operator's logins to the console and the admin API

  smsc admin passwd [--password P]
      set the built-in operator's admin password (8 to 128 characters; random when omitted). With an engine
      running it applies at once and ends the operator logins (console, API) made with the old one. Refused
      while config admin.password is set: that one takes precedence.

  smsc admin user add <name> --role admin|viewer [--password P]
      a staff login of its own for one person (docs/ACCOUNTS.md "Staff logins"): admin may do what the operator
      may, and its changes are audited under its name; viewer reads everything and changes nothing (for a NOC).
      Without --password one is generated (12 characters) and printed once. Names: 1 to 32 letters, digits,
      '.', '_' or '-'; "admin" is the built-in operator's. They sign in with { "user", "password" }.
  smsc admin user list [--json]
  smsc admin user passwd <name> [--password P]   a new password (8 to 128 characters; generated when omitted)
  smsc admin user role <name> admin|viewer       a new role
  smsc admin user remove <name>
      A change of a user ends its logins (console, API, telemetry stream).

With an engine running on the data dir these go through its admin API and apply at once; otherwise they
change the store directly. --config FILE / --data-dir DIR select the data dir (default ./data).
`

async function admin(sub: string | undefined, positionals: string[], flags: Record<string, string | boolean>): Promise<number> {
  if (sub === 'user' && !flags.help) return adminUser(positionals, flags)
  if (flags.help || sub !== 'passwd') {
    process.stdout.write(ADMIN_HELP)
    return flags.help ? 0 : 2
  }
  assertKnownFlags(flags, ['config', 'data-dir', 'password', 'help'])
  const given = flags.password
  if (given !== undefined && (typeof given !== 'string' || given.length < 8 || given.length > 128)) usage('--password must be 8 to 128 characters')
  return withClient(flags, ['password'], async (c) => {
    const password = await c.setAdminPassword(given)
    out(given === undefined ? `new console admin password: ${password}\n` : 'console admin password changed\n')
    if (c.via === 'engine') out('in force now: operator logins made with the old password have ended\n')
    return 0
  })
}

/** A staff user's name on the command line: the engine says what is wrong with one. */
function staffNameArg(v: string | undefined): string {
  if (!v) usage('a staff user name is required (smsc admin --help)')
  return v
}

function staffPasswordFlag(v: string | boolean | undefined): string | undefined {
  if (v !== undefined && (typeof v !== 'string' || v.length < 8 || v.length > 128)) usage('--password must be 8 to 128 characters')
  return v as string | undefined
}

async function adminUser(positionals: string[], flags: Record<string, string | boolean>): Promise<number> {
  const [sub, name, extra] = positionals
  const subs = ['add', 'list', 'remove', 'passwd', 'role']
  if (!subs.includes(sub ?? '')) usage(`admin user needs one of ${subs.join(', ')} (got ${JSON.stringify(sub ?? '')})`)
  return withClient(flags, ['password', 'role'], async (c) => {
    switch (sub) {
      case 'list': {
        const users = await c.listStaff()
        if (flags.json) out(JSON.stringify(users) + '\n')
        else {
          out('user                              role     changed\n')
          for (const u of users) out(`${u.name.padEnd(34)}${u.role.padEnd(9)}${new Date(u.updatedAt).toISOString()}\n`)
        }
        return 0
      }
      case 'add': {
        const user = staffNameArg(name)
        if (typeof flags.role !== 'string') usage('admin user add needs --role admin or --role viewer')
        const given = staffPasswordFlag(flags.password)
        const r = await c.addStaff(user, flags.role, given)
        out(given === undefined ? `added ${r.user.role} ${user} with password ${r.password} (shown only this once)\n` : `added ${r.user.role} ${user}\n`)
        return 0
      }
      case 'passwd': {
        const user = staffNameArg(name)
        const given = staffPasswordFlag(flags.password)
        const password = await c.setStaffPassword(user, given)
        out(given === undefined ? `new password for ${user}: ${password}\n` : `password changed for ${user}\n`)
        if (c.via === 'engine') out(`in force now: ${user}'s logins made before have ended\n`)
        return 0
      }
      case 'role': {
        const user = staffNameArg(name)
        if (extra === undefined) usage('admin user role needs the new role: admin or viewer')
        const u = await c.setStaffRole(user, extra)
        out(`${user} is now ${u.role}\n`)
        return 0
      }
      case 'remove': {
        const user = staffNameArg(name)
        await c.removeStaff(user)
        out(`removed ${user}\n`)
        return 0
      }
    }
    return 2
  })
}

async function start(flags: Record<string, string | boolean>): Promise<number> {
  if (flags.help) { process.stdout.write(START_HELP); return 0 }
  assertKnownFlags(flags, [...CONFIG_FLAGS, 'help'])
  const configArgs = configArgsFromFlags(flags)
  const options = loadConfig(configArgs)
  // Last-resort guards: a bug that escapes every per-session guard is logged, and the engine keeps
  // serving the other sessions (everything acknowledged is already committed).
  const last = (kind: string) => (err: unknown) => {
    process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: kind, error: String((err as Error)?.stack ?? err) }) + '\n')
  }
  process.on('unhandledRejection', last('unhandled rejection'))
  process.on('uncaughtException', last('uncaught exception'))
  // A log reader that went away (a pipe into a shipper that died: EPIPE) is not the engine's failure: without
  // these, each write's error was an uncaught exception whose report failed the same way, in a loop at 100%
  // CPU, and SIGTERM never got through. The engine goes on, and stops, without its log.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {})
  // SIGHUP: handled from the first moment (a start can take seconds), see below once the engine runs.
  let onHup: () => void = () => { /* still starting: nothing to reload yet */ }
  process.on('SIGHUP', () => onHup())
  const smsc = await createSmsc(options, { onFatal: () => { process.exitCode = 1 } })
  const o = smsc.options
  const lines = [
    `SMSC engine ${VERSION} is running`,
    `  SMPP       smpp://${o.smpp.host}:${smsc.ports.smpp}`,
    smsc.ports.tls !== null
      ? `  SMPP/TLS   ssmpp://${o.tls.host}:${smsc.ports.tls}${o.tls.cert ? '' : `  (self-signed dev certificate in ${path.join(o.dataDir, 'tls')})`}`
      : '  SMPP/TLS   off (set tls.cert and tls.key, or start with --dev-tls)',
    `  Console    http://${o.http.host}:${smsc.ports.http}/  (telemetry ws://${o.http.host}:${smsc.ports.http}/ws/telemetry, GET /metrics, GET /healthz)`,
    ...(smsc.ports.https !== null ? [`  HTTPS      https://${o.http.tlsHost}:${smsc.ports.https}/  (the same console and API over TLS; telemetry wss://…/ws/telemetry)`] : []),
    `  Data       ${path.resolve(o.dataDir)}, ${o.store.retentionHours > 0 ? `messages kept ${o.store.retentionHours} h after they end (store.retentionHours)` : 'messages kept forever (store.retentionHours 0)'}`,
    !o.simulator.enabled ? '  Carrier    no simulator (simulator.enabled false): messages go where the routes send them' :
      `  Carrier    simulated, delivery in ${o.simulator.deliveryDelayMs[0]}-${o.simulator.deliveryDelayMs[1]} ms, outcomes ${Object.entries(o.simulator.outcomes).map(([k, v]) => `${k} ${Math.round((v ?? 0) * 100)}%`).join(', ')}` +
      (o.simulator.absentRate > 0 ? `, subscriber absent at the first attempt ${Math.round(o.simulator.absentRate * 100)}%` : '') +
      (Object.keys(o.simulator.fixedOutcomes).length > 0 ? `; test numbers ${Object.entries(o.simulator.fixedOutcomes).map(([p, stat]) => `${p}* ${stat}`).join(', ')} (simulator.fixedOutcomes)` : ''),
    `  Connectors ${smsc.connectorStats().filter((c) => c.kind !== 'simulator').map((c) => `${c.id} (${c.kind}${c.stopped ? ', stopped' : ''})`).join(', ') || (o.simulator.enabled ? 'none besides the simulator' : 'none')}; routes: ${smsc.admin.getRoutes().mt.length} MT, ${smsc.admin.getRoutes().mo.length} MO (smsc route list)`,
    `  Accounts   ${smsc.store.listAccounts().map((a) => `${a.systemId}${a.outbind ? ' (outbind)' : ''}`).join(', ')}` +
      (smsc.skippedAccounts.length > 0 ? `   (not recreated, removed through the API or CLI: ${smsc.skippedAccounts.join(', ')}; delete them from the config)` : ''),
  ]
  const u = smsc.uncleanStart
  if (u !== null) {
    lines.push(`  Last stop  NOT CLEAN: the previous run (${u.previousPid > 0 ? `pid ${u.previousPid}` : 'pid unknown'}) did not stop cleanly (kill -9, a crash or a power loss); ` +
      `recovered ${u.inFlight} message${u.inFlight === 1 ? '' : 's'} in flight, ${u.pendingDeliveries} receipt${u.pendingDeliveries === 1 ? '' : 's'} and MO waiting (docs/OPERATIONS.md "After an unclean stop")`)
  }
  const terminal = process.stdout.isTTY === true
  lines.push(...credentialLines(o.dataDir, smsc.adminPassword, smsc.demoAccount, terminal))
  const log = createLogger(o.log.level)
  const always = createLogger('debug') // the banner and the stop: whatever log.level says
  // On a terminal the banner is text for a person. Anywhere else stdout is the log (journald, a collector, a
  // pipe) and stays one JSON object per line: each banner line is an info record (the collector would choke on text).
  if (terminal) process.stdout.write(lines.join('\n') + '\n')
  else for (const line of lines) always('info', line.trim())
  let stopping = false
  const stop = (sig: string) => {
    if (stopping) return
    stopping = true
    always('info', `${sig}: stopping (unbinding sessions, draining windows, flushing the store)`)
    smsc.stop().then(() => process.exit(process.exitCode ?? 0), (e) => { process.stderr.write(`smsc: stop failed: ${String(e)}\n`); process.exit(1) })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  // SIGHUP (`systemctl reload`, a certificate renewal hook, a logrotate habit, the terminal of an ssh session that
  // closed) used to end the engine at once, with no drain. It reloads the TLS certificate files, then reads the config
  // file again (the same file and flags as at start) and applies its connectors and routes (Smsc.reloadConfig). The
  // log goes to stdout, so the collector rotates it.
  // Started with no config file (the README's first command): there is nothing to read again, and "unchanged"
  // would tell whoever just wrote a smsc.json and sent SIGHUP that it was read.
  const configFile = configArgs.config ?? (process.env.SMSC_CONFIG ? process.env.SMSC_CONFIG : undefined)
  // Smsc.reload: whether all of it took is smsc_config_reload_success.
  onHup = () => {
    void smsc.reload(configFile === undefined ? null : () => loadConfig(configArgs), (level, text) => log(level, `SIGHUP: ${text}`))
    if (configFile === undefined) {
      log('warn', 'SIGHUP: no config file to read again: the engine was started without --config (or SMSC_CONFIG), so its connectors and routes stay as they are; to change connectors by a reload, restart it once with --config FILE')
    }
  }
  // Started through npm (`npx smsc start`, `npm start`): npm does not pass a SIGTERM on, so stopping npm would
  // leave the engine running alone. It stops as on SIGTERM once the process that started it is gone. npm runs
  // the bin through `sh -c`, which outlives a SIGKILLed npm: the shells between are looked through to npm.
  if (process.env.npm_command !== undefined) {
    const chain = npmChain()
    setInterval(() => {
      const gone = chain.find((link) => parentOf(link.pid) !== link.parent)
      if (gone !== undefined) stop(`the process that started it under npm (pid ${chain[chain.length - 1].parent}) is gone`)
    }, 1000).unref()
  }
  return -1 // keep running
}

/** The parent pid and command name of a process, from /proc (Linux); null when it is gone or there is no /proc. */
function procStat(pid: number): { parent: number; comm: string } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const close = stat.lastIndexOf(')') // comm may hold spaces and parentheses
    return { parent: Number(stat.slice(close + 2).split(' ')[1]), comm: stat.slice(stat.indexOf('(') + 1, close) }
  } catch {
    return null
  }
}
const SHELLS = new Set(['sh', 'dash', 'bash', 'zsh'])
/** This process's parent, or a process's parent from /proc (0 when it is gone). */
const parentOf = (pid: number): number => (pid === process.pid ? process.ppid : procStat(pid)?.parent ?? 0)

/**
 * The processes between this one and npm, each with the parent it has now: this process, then every shell
 * above it (npm's `sh -c`), ending at the first process that is not a shell. Any of them that dies or is
 * re-parented means npm is gone. Without /proc: this process alone (its parent changes when the parent dies).
 */
function npmChain(): { pid: number; parent: number }[] {
  const chain = [{ pid: process.pid, parent: process.ppid }]
  for (let pid = process.ppid, hops = 0; hops < 4; hops++) {
    const st = procStat(pid)
    if (st === null || !SHELLS.has(st.comm) || st.parent <= 1) break
    chain.push({ pid, parent: st.parent })
    pid = st.parent
  }
  return chain
}

export async function main(argv: string[]): Promise<number> {
  const args = parseCliArgs(argv)
  // `smsc optout list --all | head`: a reader that stops reading ends the command quietly, as for any Unix tool
  // (the engine, `start`, handles its own log stream).
  if (args.command !== 'start') process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0) })
  // What the engine and its commands write (the store: message text and password hashes; backups, the TLS key,
  // control.json) is for the user it runs as alone, whatever the login's umask (022 made the store world-readable).
  if (args.command !== 'bench') process.umask(0o077)
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
      return admin(args.sub, args.positionals, args.flags)
    case 'account':
    case 'accounts':
      return account(args.sub, args.positionals, args.flags)
    case 'credit':
      return credit(args.sub, args.positionals, args.flags)
    case 'route':
    case 'routes':
      return route(args.sub, args.positionals, args.flags)
    case 'apikey':
      return apikey(args.sub, args.positionals, args.flags)
    case 'optout':
    case 'optouts':
      return optout(args.sub, args.positionals, args.flags)
    case 'connector':
    case 'connectors':
      return connector(args.sub, args.positionals, args.flags)
    case 'audit':
      if (args.sub !== undefined) usage(`audit takes no argument (got ${JSON.stringify(args.sub)})`)
      return audit(args.flags)
    case 'stats':
      if (args.sub !== undefined) usage(`stats takes no argument (got ${JSON.stringify(args.sub)}); the day is --day DAY`)
      return stats(args.flags)
    case 'message':
    case 'messages':
      return message(args.sub, args.positionals, args.flags)
    case 'backup':
      if (args.sub !== undefined) usage(`backup takes no argument (got ${JSON.stringify(args.sub)}); the target is --out DIR`)
      return backup(args.flags)
    case 'config':
      return configCheck(args.sub, args.positionals, args.flags)
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
      if (isSmscError(err) && (err.code === 'SMSC_ERR_CLI_USAGE' || err.code === 'SMSC_ERR_CONFIG_INVALID' || err.code === 'SMSC_ERR_LISTEN_FAILED' || err.code === 'SMSC_ERR_DATA_DIR_LOCKED' || err.code === 'SMSC_ERR_DATA_DIR_ACCESS' || err.code === 'SMSC_ERR_STORE_NEWER' || err.code === 'SMSC_ERR_DISK_FULL')) {
        process.stderr.write(`smsc: ${err.message}\n`)
        process.exitCode = 2
      } else {
        process.stderr.write(`smsc: ${String((err as Error)?.stack ?? err)}\n`)
        process.exitCode = 1
      }
    },
  )
}
