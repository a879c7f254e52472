/**
 * Interop with Kannel (Debian's `kannel` package: bearerbox + smsbox), the most widely deployed open-source SMS
 * gateway, binding to the engine as an ESME the way our users' customers run it. Nothing of Kannel is mocked: the
 * test writes a kannel.conf, runs the real boxes, sends through Kannel's HTTP sendsms and checks what reaches the
 * engine's store, that Kannel matches each of our deliver_sm receipts to its submit_sm (it then calls the message's
 * dlr-url with type 1, DELIVERED, and %F, the id it matched on), and that an MO we inject reaches the sms-service.
 *
 * Receipts and message ids: Kannel stores each submit under the message_id of our submit_sm_resp and looks the
 * receipt up by receipted_message_id (SMPP 3.4+ binds) or by the `id:` of the receipt text (`interface-version = 33`).
 * Its smsc group's `msg-id-type` (gw/smsc/smsc_smpp.c) decides how both ids are read:
 *   - unset (the default, and what we recommend): both are compared as strings, so our ids match in either format;
 *   - set: bit 0 = the submit_sm_resp id is hex, bit 1 = the receipt id is hex, else decimal; but an id that is not
 *     all digits is read as hex whatever the bits say, and then both are compared as numbers.
 * Our decimal ids ("0000000042") therefore match with msg-id-type unset, 0 or 3, and never with 1 or 2 (one side
 * reads 0x42, the other 42: Kannel logs "got DLR but could not find message" and the dlr-url never hears of it).
 * Our hex ids ("a00000002a") always start with a letter, so Kannel reads them as hex on both sides: they match with
 * any msg-id-type. The links below check the three cases: "dec" (decimal ids, msg-id-type unset, SMPP 3.4
 * transceiver, the default setup), "hex" (hex ids, msg-id-type 1) and "bad" (decimal ids, msg-id-type 1: the
 * combination that cannot work, asserted to fail the way Kannel's code says, so the docs' advice stays true), plus
 * "v33" (SMPP 3.3 transmitter + receiver: the engine sends no TLVs there, and Kannel parses our receipt text). With msg-id-type
 * unset, %F is our id verbatim; with it set, %F is Kannel's number (a00000002a → 687194767402).
 *
 * Also learnt from Kannel 1.4.5 here: a message it splits asks for a receipt on its first part only (registered_delivery
 * 0x11 there, 0 on the others; gw/sms.c sms_split), so the engine sends one receipt and Kannel calls the dlr-url once,
 * with the first part's id. An MO whose source_addr_ton is 1 (international, as the simulator's) reaches the
 * sms-service as %p with a leading '+'.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import http from 'node:http'
import net from 'node:net'
import { spawn, type ChildProcess } from 'node:child_process'
import { createSmsc, type Smsc } from '../../engine/index'
import { HEX_ID_BASE } from '../../engine/store'
import { recordText, type MessageRecord } from '../../engine/message'

/** Debian installs the boxes in /usr/sbin, which is not on every user's PATH. */
function findBinary(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin']
  for (const d of dirs) {
    if (!d) continue
    const p = path.join(d, name)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return p
    } catch { /* next */ }
  }
  return null
}
const bearerbox = findBinary('bearerbox')
const smsbox = findBinary('smsbox')
/** util-linux setpriv: the boxes get SIGKILL if this process dies without its teardown (kill -9, a tap timeout). */
const setpriv = findBinary('setpriv')

/** Free TCP ports on 127.0.0.1 for Kannel (it cannot take port 0), held together so they differ. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => resolve(s))
  })))
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  return ports
}

function httpGet(url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // agent: false: no keep-alive socket (Node 20's default agent keeps them 5 s) holding the process after the test
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)))
    req.on('error', reject)
  })
}

function httpPost(url: string, body: unknown, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body))
    const headers = { 'content-type': 'application/json', 'content-length': data.length, ...(token ? { authorization: `Bearer ${token}` } : {}) }
    const req = http.request(url, { method: 'POST', headers, timeout: 5000, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('timeout', () => req.destroy(new Error(`POST ${url}: timeout`)))
    req.on('error', reject)
    req.end(data)
  })
}

/** The operator's password (config admin.password): the simulated carrier's MO needs its login. */
const ADMIN_PASSWORD = 'kannel-admin-1'

/** Set when a Kannel box exits before the teardown: every wait gives up at once with its output. */
let died: string | null = null

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `probe` until it returns a value other than undefined; throws with `what` after `ms`. */
async function until<T>(what: string, ms: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    if (died) throw new Error(died)
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(50)
  }
}

/** A Kannel smsc group, the account it binds as, and what is sent through it. */
interface Link {
  id: string
  systemId: string
  password: string
  messageIdFormat: 'decimal' | 'hex'
  /** Its smsc groups (one per connection), each with its lines besides the common ones. */
  groups: string[][]
  /** The id Kannel stores and shows as %F for one of our ids (its msg-id-type conversion). */
  foreignId: (ourId: string) => string
  /** Bound sessions the engine sees once Kannel is up (transceiver 1, transmitter + receiver 2). */
  binds: number
}

const PASSWORD = 'k4nnel' // SMPP passwords are at most 8 characters

const LINKS: Link[] = [
  // The default setup: SMPP 3.4 transceiver, msg-id-type unset: ids compared as strings.
  { id: 'dec', systemId: 'kdec', password: PASSWORD, messageIdFormat: 'decimal', groups: [['transceiver-mode = true']], foreignId: (id) => id, binds: 1 },
  // Hex ids start with a letter: Kannel reads both sides as hex whatever msg-id-type says, and %F is the number in decimal.
  { id: 'hex', systemId: 'khex', password: PASSWORD, messageIdFormat: 'hex', groups: [['transceiver-mode = true', 'msg-id-type = 1']], foreignId: (id) => BigInt(`0x${id}`).toString(10), binds: 1 },
  // Decimal ids with msg-id-type 1: the submit_sm_resp id is read as hex, the receipt's as decimal: no match.
  { id: 'bad', systemId: 'kbad', password: PASSWORD, messageIdFormat: 'decimal', groups: [['transceiver-mode = true', 'msg-id-type = 1']], foreignId: (id) => BigInt(`0x${id}`).toString(10), binds: 1 },
  // SMPP 3.3 (no transceiver there): Kannel ignores receipted_message_id and message_state and parses the receipt text.
  // Kannel 1.4.5 wants a group per connection (port: transmitter, receive-port: receiver) with the same smsc-id.
  { id: 'v33', systemId: 'k33', password: PASSWORD, messageIdFormat: 'decimal', groups: [['interface-version = 33', 'port = %PORT%'], ['interface-version = 33', 'receive-port = %PORT%']], foreignId: (id) => id, binds: 2 },
]

interface Send {
  tag: string
  link: string
  from: string
  to: string
  text: string
  /** Kannel's sendsms coding: 0 GSM 7-bit, 2 UCS-2. */
  coding: 0 | 2
  /** What the engine must store: data_coding and the number of parts. */
  dataCoding: number
  parts: number
}

const LONG = Array.from({ length: 8 }, (_, i) => `Part of a long message, sentence ${i + 1} of 8, sent through Kannel's sendsms.`).join(' ')

const SENDS: Send[] = [
  { tag: 'gsm', link: 'dec', from: 'KannelTest', to: '4915100001001', text: 'Hello from Kannel @ £$¥ è é ü Ä {x} [y] ~ ^ | \\ €', coding: 0, dataCoding: 0, parts: 1 },
  { tag: 'ucs2', link: 'dec', from: '4930123456', to: '4915100001002', text: 'Привет из Kannel, 你好 👋', coding: 2, dataCoding: 8, parts: 1 },
  { tag: 'long', link: 'dec', from: '4930123456', to: '4915100001003', text: LONG, coding: 0, dataCoding: 0, parts: Math.ceil(LONG.length / 153) },
  { tag: 'hex', link: 'hex', from: '4930123456', to: '4915100001004', text: 'Hex ids through msg-id-type 1', coding: 0, dataCoding: 0, parts: 1 },
  { tag: 'hexlong', link: 'hex', from: '4930123456', to: '4915100001005', text: LONG.slice(0, 200), coding: 0, dataCoding: 0, parts: 2 },
  { tag: 'bad', link: 'bad', from: '4930123456', to: '4915100001006', text: 'Decimal ids through msg-id-type 1', coding: 0, dataCoding: 0, parts: 1 },
  { tag: 'v33', link: 'v33', from: '4930123456', to: '4915100001007', text: 'Receipt text parsed by an SMPP 3.3 Kannel', coding: 0, dataCoding: 0, parts: 1 },
]

interface Dlr { tag: string; type: string; fid: string; smsc: string; reply: string; to: string }
interface Mo { from: string; to: string; coding: string; charset: string; hex: string; smsc: string }

/** All messages of the store, found by walking the ids the counter hands out (a fresh data dir starts at 1). */
/** The MT messages stored with the first `upTo` ids (MO have records of their own, with `mo`: left out). */
function storedMessages(smsc: Smsc, upTo: number): MessageRecord[] {
  const out: MessageRecord[] = []
  for (let n = 1; n <= upTo; n++) {
    for (const id of [String(n).padStart(10, '0'), (HEX_ID_BASE + n).toString(16)]) {
      const r = smsc.store.getMessage(id) as MessageRecord | undefined
      if (r && r.mo === undefined) out.push(r)
    }
  }
  return out
}

t.test('Kannel (bearerbox + smsbox) submits through sendsms, matches our receipts to its submits and gets our MO', {
  skip: bearerbox && smsbox ? false : 'Kannel is not installed: no bearerbox/smsbox on PATH or in /usr/sbin (apt-get install kannel; .ci/run installs it)',
  timeout: 60_000,
}, async (t) => {
  const started = Date.now()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-kannel-'))
  const children: ChildProcess[] = []
  const killAll = () => { for (const c of children) if (c.exitCode === null && c.signalCode === null) try { c.kill('SIGKILL') } catch { /* gone */ } }
  process.on('exit', killAll)
  let smsc: Smsc | null = null
  let server: http.Server | null = null
  let stopping = false
  t.teardown(async () => {
    stopping = true
    // Kannel first (bearerbox unbinds from the engine on SIGTERM), then the engine, then the rest.
    const stop = async (c: ChildProcess) => {
      if (c.exitCode !== null || c.signalCode !== null) return
      const exited = new Promise((r) => c.once('exit', r))
      c.kill('SIGTERM')
      const timer = setTimeout(() => c.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(timer)
    }
    for (const c of [...children].reverse()) await stop(c)
    process.removeListener('exit', killAll)
    await smsc?.stop()
    server?.closeAllConnections()
    await new Promise((r) => (server ? server.close(r) : r(null)))
    fs.rmSync(dir, { recursive: true, force: true })
  })

  smsc = await createSmsc({
    dataDir: path.join(dir, 'smsc'),
    smpp: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    accounts: LINKS.map((l) => ({ systemId: l.systemId, password: l.password, messageIdFormat: l.messageIdFormat })),
    simulator: { deliveryDelayMs: [200, 400], outcomes: { DELIVRD: 1 } },
    admin: { password: ADMIN_PASSWORD },
    log: { level: 'warn' },
  })
  const engine = smsc

  // The application behind Kannel: the dlr-url of every message and the sms-service's get-url.
  const dlrs: Dlr[] = []
  const mos: Mo[] = []
  server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1')
    const q = (k: string) => u.searchParams.get(k) ?? ''
    if (u.pathname === '/dlr') dlrs.push({ tag: q('tag'), type: q('type'), fid: q('fid'), smsc: q('smsc'), reply: q('reply'), to: q('to') })
    else if (u.pathname === '/mo') mos.push({ from: q('from'), to: q('to'), coding: q('coding'), charset: q('charset'), hex: q('hex'), smsc: q('smsc') })
    res.writeHead(200, { 'content-type': 'text/plain' }).end('')
  })
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
  const app = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`

  const [adminPort, smsboxPort, sendsmsPort] = await freePorts(3)
  const smppPort = engine.ports.smpp
  const conf = [
    'group = core',
    `admin-port = ${adminPort}`,
    'admin-interface = 127.0.0.1',
    'admin-password = adminpw',
    'status-password = statuspw',
    'admin-allow-ip = 127.0.0.1',
    `smsbox-port = ${smsboxPort}`,
    'smsbox-interface = 127.0.0.1',
    'box-allow-ip = 127.0.0.1',
    `log-file = "${dir}/bearerbox.log"`,
    'log-level = 0',
    `access-log = "${dir}/access.log"`,
    'dlr-storage = internal',
    '',
    ...LINKS.flatMap((l) => l.groups.flatMap((g) => [
      'group = smsc',
      'smsc = smpp',
      `smsc-id = ${l.id}`,
      `allowed-smsc-id = ${l.id}`,
      'host = 127.0.0.1',
      ...(g.some((c) => c.includes('port = %PORT%')) ? [] : [`port = ${smppPort}`]),
      `smsc-username = ${l.systemId}`,
      `smsc-password = ${l.password}`,
      'system-type = VMA', // Kannel refuses to start without one
      'reconnect-delay = 1',
      ...g.map((c) => c.replace('%PORT%', String(smppPort))),
      '',
    ])),
    'group = smsbox',
    'bearerbox-host = 127.0.0.1',
    `bearerbox-port = ${smsboxPort}`,
    `sendsms-port = ${sendsmsPort}`,
    'sendsms-interface = 127.0.0.1',
    `log-file = "${dir}/smsbox.log"`,
    'log-level = 0',
    `access-log = "${dir}/smsbox-access.log"`,
    '',
    'group = sendsms-user',
    'username = tester',
    'password = testpw',
    'max-messages = 10',
    'concatenation = true',
    '',
    // MO: every message goes to the default service; %e is the message as hex, %c its coding, %C its charset.
    'group = sms-service',
    'keyword = default',
    'catch-all = true',
    'max-messages = 0',
    `get-url = "${app}/mo?from=%p&to=%P&coding=%c&charset=%C&hex=%e&smsc=%i"`,
    '',
  ].join('\n')
  const confPath = path.join(dir, 'kannel.conf')
  fs.writeFileSync(confPath, conf)

  const logTail = (name: string, lines = 60) => {
    try {
      return fs.readFileSync(path.join(dir, name), 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
    } catch {
      return `(no ${name})`
    }
  }
  const run = (bin: string, name: string) => {
    const out = fs.openSync(path.join(dir, `${name}.out`), 'w')
    const args = ['-v', '1', confPath]
    const c = setpriv ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', bin, ...args], { stdio: ['ignore', out, out] }) : spawn(bin, args, { stdio: ['ignore', out, out] })
    fs.closeSync(out)
    children.push(c)
    c.on('exit', (code, signal) => {
      if (!stopping) died = `${name} exited early (code ${code}, signal ${signal}):\n${logTail(`${name}.out`, 20)}`
    })
    return c
  }

  try {
    run(bearerbox!, 'bearerbox')
    // smsbox gives up at once when bearerbox does not listen yet: start it once the box port accepts.
    await until('bearerbox to listen for boxes', 10_000, () => new Promise<true | undefined>((resolve) => {
      const s = net.connect(smsboxPort, '127.0.0.1', () => { s.destroy(); resolve(true) })
      s.on('error', () => resolve(undefined))
    }))
    run(smsbox!, 'smsbox')

    // Up: every link bound on the engine, and bearerbox reports its smsbox connected and its smscs online.
    await until('Kannel to bind every link', 15_000, () => {
      const bound = engine.sessions().filter((s) => s.state.startsWith('BOUND'))
      return LINKS.every((l) => bound.filter((s) => s.systemId === l.systemId).length === l.binds) || undefined
    })
    const status = await until('bearerbox status: smsbox connected, every smsc online', 15_000, async () => {
      const r = await httpGet(`http://127.0.0.1:${adminPort}/status.txt?password=statuspw`).catch(() => null)
      if (!r || r.status !== 200) return undefined
      // One line per smsc group: `    dec[dec]    SMPP:127.0.0.1:P/P:kdec:VMA (online 1s, ...`
      const online = LINKS.every((l) => r.body.split('\n').filter((x) => x.trim().startsWith(`${l.id}[${l.id}]`) && x.includes('(online ')).length === l.groups.length)
      return online && /smsbox:.*\(on-line/.test(r.body) ? r.body : undefined
    })
    t.ok(status, 'bearerbox: smsbox connected, every smsc online')
    t.comment(`Kannel up in ${Date.now() - started} ms`)

    // MT through Kannel's sendsms, each with its own dlr-url (Kannel escapes: %d type, %F our id as Kannel stored it,
    // %i its smsc-id, %A the receipt text, %p the receipt's source address).
    const sendsms = async (s: Send) => {
      const dlrUrl = `${app}/dlr?tag=${s.tag}&type=%d&fid=%F&smsc=%i&to=%p&reply=%A`
      const q = new URLSearchParams({
        username: 'tester', password: 'testpw', from: s.from, to: s.to, text: s.text, charset: 'UTF-8', coding: String(s.coding),
        smsc: s.link, 'dlr-mask': '31', 'dlr-url': dlrUrl,
      })
      const r = await httpGet(`http://127.0.0.1:${sendsmsPort}/cgi-bin/sendsms?${q}`)
      t.equal(r.status, 202, `sendsms ${s.tag}: 202 (${r.body.trim()})`)
      t.match(r.body, /Accepted for delivery/, `sendsms ${s.tag}: accepted`)
    }
    const expectedParts = SENDS.reduce((n, s) => n + s.parts, 0)
    for (const s of SENDS) if (s.link !== 'bad') await sendsms(s)
    // "bad" goes last, once the others are stored: Kannel delivers over its links in any order, and an id under 10
    // (0000000009) is the same number read as decimal or hex, so Kannel would match it. After the others its id is past 10.
    const others = expectedParts - SENDS.filter((s) => s.link === 'bad').reduce((n, s) => n + s.parts, 0)
    await until(`the engine to store the ${others} parts sent before "bad"`, 15_000, () => (storedMessages(engine, 100).length >= others ? true : undefined))
    for (const s of SENDS) if (s.link === 'bad') await sendsms(s)

    // Our side: every message stored, for the right account, with the text sent, in the right coding and parts.
    const stored = await until(`the engine to store ${expectedParts} parts`, 15_000, () => {
      const all = storedMessages(engine, 100)
      return all.length >= expectedParts ? all : undefined
    }).catch(() => storedMessages(engine, 100))
    t.equal(stored.length, expectedParts, 'every part stored, nothing else')
    /** The stored parts of one send (each has its own destination), in part order. */
    const partsOf = (s: Send) => stored.filter((r) => r.dests[0]?.addr[2] === s.to).sort((a, b) => (a.part?.[0] ?? 1) - (b.part?.[0] ?? 1))
    const idsOf = new Map<string, string[]>()
    for (const s of SENDS) {
      const link = LINKS.find((l) => l.id === s.link)!
      const parts = partsOf(s)
      idsOf.set(s.tag, parts.map((r) => r.id))
      t.equal(parts.length, s.parts, `${s.tag}: ${s.parts} part(s) stored`)
      t.ok(parts.every((r) => r.systemId === link.systemId), `${s.tag}: stored for account ${link.systemId}`)
      t.ok(parts.every((r) => r.src[2] === s.from), `${s.tag}: sender ${s.from}`)
      t.ok(parts.every((r) => r.dataCoding === s.dataCoding), `${s.tag}: data_coding ${s.dataCoding}`)
      t.ok(parts.every((r) => (link.messageIdFormat === 'hex' ? /^[a-f][0-9a-f]{9}$/ : /^\d{10}$/).test(r.id)), `${s.tag}: ${link.messageIdFormat} ids (${parts.map((r) => r.id).join(' ')})`)
      t.equal(parts.map((r) => recordText(r)).join(''), s.text, `${s.tag}: the text Kannel was given`)
    }

    // Kannel asks for a receipt on the first part of a message it splits only (gw/sms.c sms_split: the other parts get
    // dlr-mask 0), with registered_delivery 0x11 (final receipt + intermediate, dlr-mask bit 4 "buffered").
    for (const s of SENDS) {
      const rd = partsOf(s).map((r) => r.registeredDelivery)
      t.same(rd, [0x11, ...Array(s.parts - 1).fill(0)], `${s.tag}: registered_delivery 0x11 on the first part only`)
    }

    // Kannel's side: the dlr-url called with type 1 (DELIVERED) and %F = the id Kannel matched our receipt on, for the
    // first part (the one with a receipt), once per message.
    const good = SENDS.filter((s) => s.link !== 'bad')
    const finalsOf = (s: Send) => dlrs.filter((d) => d.tag === s.tag && d.type === '1')
    await until('a DELIVERED dlr-url call for every message', 15_000, () => good.every((s) => finalsOf(s).length > 0) || undefined).catch(() => null)
    await sleep(300) // time for a second, wrong, call to show up
    for (const s of good) {
      const link = LINKS.find((l) => l.id === s.link)!
      const id = idsOf.get(s.tag)![0]
      const finals = finalsOf(s)
      t.equal(finals.length, 1, `${s.tag}: one DELIVERED (type 1) dlr-url call`)
      const d = finals[0]
      if (!d) continue
      t.equal(d.fid, link.foreignId(id), `${s.tag}: Kannel matched our receipt to the submit of ${id} (%F ${d.fid})`)
      t.equal(d.smsc, s.link, `${s.tag}: through smsc ${s.link}`)
      t.equal(d.to, s.to, `${s.tag}: receipt from the destination`)
      t.match(d.reply, new RegExp(`^id:${id} sub:001 dlvrd:001 submit date:\\d{10} done date:\\d{10} stat:DELIVRD err:000 text:`), `${s.tag}: %A is our receipt text`)
      t.same(dlrs.filter((x) => x.tag === s.tag).map((x) => x.type).sort(), ['1', '8'], `${s.tag}: SMSC ack (type 8) and DELIVERED, nothing else`)
      t.equal(dlrs.find((x) => x.tag === s.tag && x.type === '8')?.fid, link.foreignId(id), `${s.tag}: the ack carries the id of our submit_sm_resp`)
    }
    t.ok(stored.every((r) => r.state === 2), 'every part DELIVERED in the engine')

    // The combination that cannot work: decimal ids with msg-id-type 1. Kannel stored the submit under the id read as
    // hex and looks the receipt up under the id read as decimal; it finds nothing and says so in its log.
    const bad = SENDS.find((s) => s.link === 'bad')!
    const [badId] = idsOf.get(bad.tag)!
    t.not(BigInt(`0x${badId}`), BigInt(badId), `bad: its id ${badId} is another number read as hex (the case this link shows)`)
    const miss = await until('bearerbox to log the receipt it could not match', 10_000, () =>
      logTail('bearerbox.log', 100000).split('\n').find((l) => l.includes('SMPP[bad]: got DLR but could not find message') && l.includes(`id<${Number(badId)}>`))).catch(() => undefined)
    t.ok(miss, `bad: Kannel could not match receipt ${badId} (looked it up as ${Number(badId)}, stored the submit as ${BigInt(`0x${badId}`)})`)
    t.notOk(dlrs.some((d) => d.tag === bad.tag && d.type === '1'), 'bad: no DELIVERED dlr-url call')
    const unmatched = logTail('bearerbox.log', 100000).split('\n').filter((l) => l.includes('could not find message'))
    t.ok(unmatched.every((l) => l.includes('SMPP[bad]')), `no receipt Kannel could not match on the other links (${unmatched.length} in all)`)
    t.ok(dlrs.some((d) => d.tag === bad.tag && d.type === '8' && d.fid === BigInt(`0x${badId}`).toString()), 'bad: the submit_sm_resp id was stored read as hex')

    // MO: injected into the engine for the account of the "dec" link, delivered by deliver_sm over Kannel's transceiver
    // bind, handed by bearerbox to smsbox, which calls the sms-service's get-url.
    const moSends = [
      { from: '4915112340001', to: '12345', text: 'Hi Kannel @ £ € [x] {y}', coding: '0' }, // GSM: Kannel hands it on as UTF-8
      { from: '4915112340002', to: '12345', text: 'Привет 👋 from a handset', coding: '2' }, // UCS-2: as UTF-16BE
      // Two UDH parts from the engine, combined by bearerbox (sms-combine-concatenated-mo, default true) into one call
      { from: '4915112340003', to: '12345', text: LONG.slice(0, 300), coding: '0' },
    ]
    // the simulated carrier's MO is the operator's to send
    const login = await httpPost(`http://127.0.0.1:${engine.ports.http}/api/v1/login`, { password: ADMIN_PASSWORD })
    const token = (JSON.parse(login.body) as { token: string }).token
    for (const m of moSends) {
      const r = await httpPost(`http://127.0.0.1:${engine.ports.http}/api/v1/simulator/mo`, { from: m.from, to: m.to, text: m.text, systemId: 'kdec' }, token)
      t.equal(r.status, 202, `MO accepted by the engine (${r.body})`)
    }
    await until('every MO at the sms-service', 10_000, () => (mos.length >= moSends.length ? true : undefined)).catch(() => null)
    // Our MO has source_addr_ton 1 (international): Kannel hands the number on with a '+' (gw/smsc/smsc_smpp.c pdu_to_msg).
    for (const m of moSends) {
      const got = mos.find((x) => x.from === `+${m.from}`)
      t.ok(got, `MO from ${m.from} reached the sms-service`)
      if (!got) continue
      t.equal(got.to, m.to, `MO from ${m.from}: recipient`)
      t.equal(got.smsc, 'dec', `MO from ${m.from}: through smsc dec`)
      const bytes = Buffer.from(got.hex, 'hex')
      const text = got.coding === '2' ? Buffer.from(bytes).swap16().toString('utf16le') : bytes.toString('utf8')
      t.equal(got.coding, m.coding, `MO from ${m.from}: coding ${got.coding} (charset ${got.charset})`)
      t.equal(text, m.text, `MO from ${m.from}: text`)
    }
    t.equal(mos.length, moSends.length, 'one sms-service call per MO')
    await sleep(300)
    t.equal(storedMessages(engine, 100).length, expectedParts, 'Kannel submitted no reply to the MO (sms-service max-messages 0)')
  } finally {
    if (!t.passing()) {
      t.comment(`dlr-url calls: ${JSON.stringify(dlrs)}`)
      t.comment(`mo calls: ${JSON.stringify(mos)}`)
      t.comment(`bearerbox.log (tail):\n${logTail('bearerbox.log', 120)}`)
      t.comment(`smsbox.log (tail):\n${logTail('smsbox.log', 40)}`)
    }
    t.comment(`done in ${Date.now() - started} ms`)
  }
})
