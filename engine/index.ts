/**
 * createSmsc(options): the one public entry. Wires the protocol, the sessions, the actor tree,
 * the store, the listeners and the HTTP port, and implements the session host: credentials,
 * batched acceptance (commit, then answer, then hand to the carrier), query/cancel/replace, MO.
 * Start order: store → actors → HTTP → SMPP listeners (traffic last). Stop order: listeners →
 * unbind sessions and drain windows → actors → HTTP → store flush.
 */
import fs from 'node:fs'
import { performance } from 'node:perf_hooks'
import path from 'node:path'
import type net from 'node:net'
import { randomBytes } from 'node:crypto'
import { resolveOptions, type Options, type ResolvedOptions } from './config'
import { createLogger, type LogFn } from './log'
import { Store, type Account, type DeliveryItem } from './store'
import { Session, type SessionHost, type BoundAccount } from './session/session'
import { Ticker } from './session/timers'
import { canReceive, isBound } from './session/bind-state'
import { startListeners, devTlsCert, type Listeners } from './transport/listener'
import { startActors, type ActorRef, type ActorSystem } from '../actors/system'
import { CommandStatus as S, MessageState, statusName, type BindKind } from './protocol/constants'
import type { Pdu } from './protocol/codec'
import { parseSmppTime } from './protocol/time'
import { dcsOfCoding, encodeText } from './protocol/text/charsets'
import { splitMessage } from './protocol/text/split'
import { deliverFrame, isFinal, recordText, type MessageRecord } from './message'
import { DEFAULT_LIMITS } from './session/submit'
import { smscError } from './errors'
import { startHttp, type HttpServer } from './http'
import { Metrics, TelemetryHub, type HubSources, type TickFrames } from './telemetry'
import { AdminAuth } from './auth'
import { statOf } from './message'
import { validateSubmit } from './session/submit'
import { EsmClass } from './protocol/constants'

export interface MoRequest {
  from: string
  to: string
  text: string
  coding?: 'gsm' | 'ucs2' | 'latin1'
  systemId?: string
}

/** A text message submitted through the engine's own path (console send form, admin API). */
export interface TextSubmit {
  systemId?: string
  from: string
  to: string
  text: string
  /** Ask for receipts (registered_delivery 1); default true. */
  registeredDelivery?: boolean
}

export interface MessageView {
  id: string
  systemId: string
  from: string
  to: string[]
  state: number
  stat: string
  err: number
  submitAt: number
  doneAt: number
  text: string
  timeline: { t: number; event: string; stat?: string }[]
}

export interface Smsc {
  readonly options: ResolvedOptions
  readonly ports: { smpp: number; tls: number | null; http: number }
  /** Set when the first start created the demo account: shown once in the banner. */
  readonly demoAccount: { systemId: string; password: string } | null
  readonly store: Store
  sessions(): Session[]
  mo(req: MoRequest): Promise<{ id: string; systemId: string; parts: number }>
  /** Set when the first start generated the admin password: shown once in the banner. */
  readonly adminPassword: string | null
  readonly metrics: Metrics
  readonly telemetrySources: HubSources
  /** The frames of the last telemetry tick (null before the first). */
  telemetryFrames(): TickFrames | null
  submitText(req: TextSubmit): Promise<{ ids: string[]; parts: number; coding: string }>
  lookup(id: string): MessageView | null
  /** Asks one session to unbind (drains first). */
  unbindSession(id: number): boolean
  /** Test hook: make one session's actor fail. */
  faultSession(id: number): boolean
  faultActor(actor: 'carrier' | 'delivery'): void
  health(): Record<string, unknown>
  stop(): Promise<void>
}

const SMSC_SYSTEM_ID = 'SMSC'

export async function createSmsc(input: Options | ResolvedOptions = {}, extra: { log?: LogFn; onFatal?: (err: unknown) => void } = {}): Promise<Smsc> {
  const options = resolveOptions(input)
  const log = extra.log ?? createLogger(options.log.level)
  const now = () => Date.now()
  fs.mkdirSync(options.dataDir, { recursive: true })
  const unlock = lockDataDir(options.dataDir)
  let store: Store
  try {
    store = await Store.open(path.join(options.dataDir, 'store'))
  } catch (e) {
    unlock()
    throw e
  }

  // Accounts from the config are created or updated at start; a first start gets a demo account.
  let demoAccount: { systemId: string; password: string } | null = null
  for (const a of options.accounts) {
    const existing = store.getAccount(a.systemId)
    const same = existing && (await store.verifyPassword(a.systemId, a.password)) === 'ok'
    await store.putAccount({
      systemId: a.systemId,
      passwordHash: same ? existing.passwordHash : await Store.hashPassword(a.password),
      maxBinds: a.maxBinds, windowSize: a.windowSize,
      createdAt: existing?.createdAt ?? now(), updatedAt: now(),
    })
  }
  if (store.listAccounts().length === 0) {
    demoAccount = { systemId: 'demo', password: randomBytes(6).toString('base64url').slice(0, 8) }
    await store.putAccount({
      systemId: demoAccount.systemId, passwordHash: await Store.hashPassword(demoAccount.password),
      maxBinds: options.session.maxBindsPerAccount, windowSize: options.session.windowSize, createdAt: now(), updatedAt: now(),
    })
  }

  const metrics = new Metrics(options.telemetry.events, options.telemetry.timelineSize, now)
  const { auth, generated: adminPassword } = await AdminAuth.init(store, options.admin.password)
  const all = new Map<number, { session: Session; ref: ActorRef; tls: boolean }>()
  const byAccount = new Map<string, Session[]>()
  let nextSessionId = 1
  let stopping = false
  let stopped: Promise<void> | null = null

  const receivers = (systemId: string): Session[] => (byAccount.get(systemId) ?? []).filter((s) => canReceive(s.state))
  const telemetrySources: HubSources = {
    sessions: () => [...all.values()].map((e) => ({ session: e.session, tls: e.tls })),
    accounts: () => store.listAccounts().map((a) => a.systemId),
    pending: () => new Map(store.accountsWithPending().map((a) => [a, store.pendingCount(a)])),
    carrierInFlight: () => actors.stats().carrierInFlight,
    workers: () => null,
  }
  const hub = new TelemetryHub(metrics, telemetrySources, options.telemetry.intervalMs, now)
  let http: HttpServer | null = null
  const actors: ActorSystem = startActors({
    options, store, log, now, receivers, metrics,
    telemetryIntervalMs: options.telemetry.intervalMs,
    publishTelemetry: () => {
      // What telemetry costs: the whole tick (collect, encode, publish) is timed.
      const t0 = performance.now()
      const frames = hub.tick()
      http?.publish(frames)
      metrics.telemetryTick.record((performance.now() - t0) * 1000)
    },
    fatal: (err) => {
      log('error', 'permanent actor failed beyond its restart budget; stopping the engine', { error: String(err) })
      extra.onFatal?.(err)
      void smsc.stop()
    },
  })
  const ticker = new Ticker(now, 100, (member, err) => {
    const s = member as Session
    log('error', 'session crashed in its timers', { session: s.id, systemId: s.systemId, error: String((err as Error)?.stack ?? err) })
    metrics.event('session_crash', { systemId: s.systemId, session: s.id, detail: String((err as Error)?.message ?? err) })
    s.close('crash')
  })
  ticker.start()

  const limits = DEFAULT_LIMITS
  /** Commits accepted records, answers, then hands them to the carrier (one store write per call). */
  const acceptRecords = (records: MessageRecord[], done: (err: Error | null) => void) => {
    actors.commit({ messages: records }, (err) => {
      done(err)
      if (err) return
      // Stored and handed to the carrier in the same turn: one timeline entry per message.
      metrics.accepted(records, now())
      actors.carrierSubmit(records)
    })
  }

  const host: SessionHost = {
    now,
    log,
    metrics,
    authenticate(_s, systemId, password, _kind: BindKind, cb) {
      if (stopping) return cb(S.ESME_RBINDFAIL)
      store.verifyPassword(systemId, password).then((r) => {
        if (r === 'no-account') return cb(S.ESME_RINVSYSID)
        if (r === 'bad-password') return cb(S.ESME_RINVPASWD)
        const acc = store.getAccount(systemId) as Account
        const binds = (byAccount.get(systemId) ?? []).filter((x) => isBound(x.state)).length
        if (binds >= acc.maxBinds) return cb(S.ESME_RBINDFAIL)
        const bound: BoundAccount = { systemId, windowSize: acc.windowSize }
        cb(0, bound)
      }, (err) => {
        log('error', 'credential check failed', { error: String(err) })
        cb(S.ESME_RBINDFAIL)
      })
    },
    bound(s) {
      metrics.event('bind', { systemId: s.systemId, session: s.id, detail: `${s.kind} from ${s.remote}` })
      let list = byAccount.get(s.systemId)
      if (!list) byAccount.set(s.systemId, (list = []))
      list.push(s)
      if (canReceive(s.state)) actors.bound(s.systemId)
    },
    closed(s) {
      ticker.delete(s)
      const entry = all.get(s.id)
      all.delete(s.id)
      const list = byAccount.get(s.systemId)
      if (list) {
        metrics.event('unbind', { systemId: s.systemId, session: s.id, detail: s.closeReason })
        const i = list.indexOf(s)
        if (i >= 0) list.splice(i, 1)
        if (list.length === 0) byAccount.delete(s.systemId)
      }
      if (entry) actors.stopSession(entry.ref)
    },
    allocateIds: (n) => store.allocateIds(n, options.messageIdFormat),
    accept(_s, records, done) {
      acceptRecords(records, done)
    },
    getMessage: (id) => store.getMessage(id) as MessageRecord | undefined,
    cancel(s, pdu, cb) {
      // SMPP 3.4 §4.9: by message_id (source_addr must match when given); final messages cannot be cancelled
      const r = store.getMessage(pdu.message_id) as MessageRecord | undefined
      if (!r || r.systemId !== s.systemId || (pdu.source_addr && pdu.source_addr !== r.src[2])) return cb(S.ESME_RCANCELFAIL)
      if (pdu.destination_addr && !r.dests.some((d) => d.addr[2] === pdu.destination_addr)) return cb(S.ESME_RCANCELFAIL)
      if (isFinal(r.state)) return cb(S.ESME_RCANCELFAIL)
      const t = now()
      for (const d of r.dests) if (!isFinal(d.state)) { d.state = MessageState.DELETED; d.doneAt = t }
      r.state = MessageState.DELETED
      r.doneAt = t
      actors.commit({ messages: [r] }, (err) => cb(err ? S.ESME_RCANCELFAIL : 0))
    },
    replace(s, pdu, cb) {
      // SMPP 3.4 §4.10: replace text, registered_delivery, schedule and validity of a pending message
      const r = store.getMessage(pdu.message_id) as MessageRecord | undefined
      if (!r || r.systemId !== s.systemId || (pdu.source_addr && pdu.source_addr !== r.src[2]) || isFinal(r.state)) return cb(S.ESME_RREPLACEFAIL)
      const t = now()
      // Validate everything before changing anything.
      let scheduleAt = r.scheduleAt
      let expireAt = r.expireAt
      if (pdu.schedule_delivery_time) {
        const st = parseSmppTime(pdu.schedule_delivery_time, t)
        if (!st.ok) return cb(S.ESME_RINVSCHED)
        scheduleAt = st.ms ?? 0
      }
      if (pdu.validity_period) {
        const vt = parseSmppTime(pdu.validity_period, t)
        if (!vt.ok || vt.ms === null || vt.ms <= t) return cb(S.ESME_RINVEXPIRY)
        expireAt = vt.ms
      }
      if (expireAt <= scheduleAt) return cb(S.ESME_RINVEXPIRY)
      const payload = (pdu.message_payload as Buffer | undefined) ?? (pdu.short_message as Buffer)
      r.sm = Buffer.from(payload)
      r.registeredDelivery = pdu.registered_delivery
      r.scheduleAt = scheduleAt
      r.expireAt = expireAt
      r.state = scheduleAt > t ? MessageState.SCHEDULED : MessageState.ENROUTE
      for (const d of r.dests) if (!isFinal(d.state)) d.state = r.state
      // A new revision: the carrier takes the message again with the new times; outcomes of the
      // old revision are ignored by the delivery actor.
      r.rev = (r.rev ?? 0) + 1
      actors.commit({ messages: [r] }, (err) => {
        cb(err ? S.ESME_RREPLACEFAIL : 0)
        if (!err) actors.carrierSubmit([r], false)
      })
    },
    deliveryResults(_s, ok, failed) {
      actors.deliveryResults(ok, failed)
    },
  }

  const sessionConfig = {
    timers: options.timers,
    maxPduLength: options.session.maxPduLength,
    windowSize: options.session.windowSize,
    limits,
    smscSystemId: SMSC_SYSTEM_ID,
  }

  const onSocket = (socket: net.Socket, secure: boolean) => {
    if (stopping) { socket.destroy(); return }
    socket.setNoDelay(true)
    const s = new Session(nextSessionId++, socket, host, sessionConfig)
    const ref = actors.spawnSession(s)
    all.set(s.id, { session: s, ref, tls: secure })
    ticker.add(s)
    log('debug', 'connection', { session: s.id, remote: s.remote, tls: secure })
    socket.on('data', (chunk: Buffer) => {
      try {
        s.onData(chunk)
      } catch (err) {
        // A bug in one session's handling closes that connection only (its actor is stopped too).
        log('error', 'session crashed', { session: s.id, systemId: s.systemId, error: String((err as Error)?.stack ?? err) })
        metrics.event('session_crash', { systemId: s.systemId, session: s.id, detail: String((err as Error)?.message ?? err) })
        s.close('crash')
      }
    })
    socket.on('error', (err) => log('debug', 'socket error', { session: s.id, error: err.message }))
    socket.on('close', () => s.close('peer closed'))
  }

  // HTTP first (health answers 503 until SMPP listens), SMPP listeners last.
  let listeners: Listeners | null = null
  const smsc: Smsc = {
    options,
    ports: { smpp: 0, tls: null, http: 0 },
    demoAccount,
    store,
    sessions: () => [...all.values()].map((e) => e.session),
    mo: (req) => originateMo(req),
    adminPassword,
    metrics,
    telemetrySources,
    telemetryFrames: () => hub.current,
    submitText: (req) => submitText(req),
    lookup: (id) => lookup(id),
    unbindSession(id) {
      const e = all.get(id)
      if (!e) return false
      actors.sessionMsg(e.ref, { type: 'unbind', reason: 'admin' })
      return true
    },
    faultSession(id) {
      metrics.event('session_crash', { session: id, detail: 'injected fault' })
      const e = all.get(id)
      if (!e) return false
      actors.sessionMsg(e.ref, { type: 'fault' })
      return true
    },
    faultActor: (a) => actors.fault(a),
    health: () => ({
      status: listeners && !stopping ? 'ok' : 'starting',
      smpp: { port: smsc.ports.smpp, tls: smsc.ports.tls },
      sessions: all.size,
      bound: [...all.values()].filter((e) => isBound(e.session.state)).length,
      carrierInFlight: actors.stats().carrierInFlight,
      uptimeS: Math.round(process.uptime()),
    }),
    stop: () => (stopped ??= shutdown()),
  }

  async function originateMo(req: MoRequest): Promise<{ id: string; systemId: string; parts: number }> {
    const systemId = accountFor(req.systemId)
    const coding = req.coding ?? (encodeText(req.text, 'gsm') ? 'gsm' : 'ucs2')
    const split = splitMessage(req.text, coding)
    if (!split) throw smscError('SMSC_ERR_DCS_INVALID', `text cannot be encoded as ${coding}`)
    const [id] = store.allocateIds(1, options.messageIdFormat)
    const t = now()
    const items: DeliveryItem[] = split.parts.map((sm) => ({
      systemId, kind: 'mo', createdAt: t, attempts: 0, messageId: id,
      frame: deliverFrame({
        service_type: '', source_addr_ton: 1, source_addr_npi: 1, source_addr: req.from,
        dest_addr_ton: 0, dest_addr_npi: 1, destination_addr: req.to,
        esm_class: split.udhi ? 0x40 : 0, data_coding: dcsOfCoding(coding), short_message: sm,
      }),
    }))
    await new Promise<void>((resolve, reject) => actors.commit({ enqueue: items }, (err) => (err ? reject(err) : resolve())))
    actors.enqueue(items)
    log('info', 'MO accepted', { id, systemId, parts: items.length })
    return { id, systemId, parts: items.length }
  }

  function accountFor(systemId: string | undefined): string {
    const accounts = store.listAccounts()
    const id = systemId ?? (accounts.length === 1 ? accounts[0].systemId : undefined)
    if (!id) throw smscError('SMSC_ERR_MO_NO_ROUTE', 'systemId is required when there is more than one account')
    if (!store.getAccount(id)) throw smscError('SMSC_ERR_AUTH_SYSTEM_ID', `no account ${id}`)
    return id
  }

  /** The console's send form: the same validation, store, carrier and receipts as an SMPP submit. */
  async function submitText(req: TextSubmit): Promise<{ ids: string[]; parts: number; coding: string }> {
    const systemId = accountFor(req.systemId)
    const coding = encodeText(req.text, 'gsm') ? 'gsm' : 'ucs2'
    const split = splitMessage(req.text, coding)
    if (!split) throw smscError('SMSC_ERR_DCS_INVALID', 'text is too long (more than 255 parts)')
    const alpha = !/^\+?\d{1,20}$/.test(req.from)
    const t = now()
    const drafts = split.parts.map((sm) => {
      const pdu: Pdu = {
        command: 'submit_sm', command_status: 0, sequence_number: 0, service_type: '',
        // SMPP 3.4 §5.2.5: TON 5 alphanumeric sender ids, TON 1 international numbers
        source_addr_ton: alpha ? 5 : 1, source_addr_npi: alpha ? 0 : 1, source_addr: req.from.replace(/^\+/, ''),
        dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: req.to.replace(/^\+/, ''),
        esm_class: split.udhi ? EsmClass.UDHI : 0, protocol_id: 0, priority_flag: 0,
        schedule_delivery_time: '', validity_period: '', registered_delivery: req.registeredDelivery === false ? 0 : 1,
        replace_if_present_flag: 0, data_coding: dcsOfCoding(coding), sm_default_msg_id: 0, short_message: sm,
      }
      const r = validateSubmit(pdu, systemId, t, limits)
      if (r.status !== 0 || !('draft' in r)) throw smscError('SMSC_ERR_FIELD_INVALID', `the message was refused with ${statusName(r.status)} (check from and to)`, { commandStatus: r.status })
      return r.draft as MessageRecord
    })
    const ids = store.allocateIds(drafts.length, options.messageIdFormat)
    drafts.forEach((d, i) => { d.id = ids[i] })
    await new Promise<void>((resolve, reject) => acceptRecords(drafts, (err) => (err ? reject(err) : resolve())))
    metrics.submitted(metrics.account(systemId), 0, drafts.length)
    return { ids, parts: drafts.length, coding: coding === 'gsm' ? 'GSM 03.38' : 'UCS2' }
  }

  function lookup(id: string): MessageView | null {
    // Operators type ids as they read them: "34726" finds "0000034726".
    const padded = /^\d{1,9}$/.test(id) ? id.padStart(10, '0') : /^[0-9a-f]{1,9}$/i.test(id) ? id.toLowerCase().padStart(10, '0') : id
    const r = (store.getMessage(id) ?? store.getMessage(padded)) as MessageRecord | undefined
    if (!r) return null
    const tl = metrics.timeline(id)
    const timeline: MessageView['timeline'] = [{ t: r.submitAt, event: 'received' }]
    if (tl?.stored) timeline.push({ t: tl.stored, event: 'stored' })
    if (tl?.carrier) timeline.push({ t: tl.carrier, event: 'carrier' })
    if (tl?.receipt) timeline.push({ t: tl.receipt, event: 'receipt', stat: tl.stat })
    else if (isFinal(r.state) && r.doneAt) timeline.push({ t: r.doneAt, event: 'receipt', stat: statOf(r.state) })
    if (tl?.delivered) timeline.push({ t: tl.delivered, event: 'delivered' })
    return {
      id: r.id, systemId: r.systemId, from: r.src[2], to: r.dests.map((d) => d.addr[2]), state: r.state, stat: statOf(r.state),
      err: r.err, submitAt: r.submitAt, doneAt: r.doneAt, text: recordText(r), timeline,
    }
  }

  async function shutdown(): Promise<void> {
    stopping = true
    log('info', 'stopping: closing listeners')
    if (listeners) await listeners.close()
    log('info', 'stopping: unbinding sessions', { sessions: all.size })
    const closing = [...all.values()].map((e) => e.session.requestUnbind('shutdown'))
    const limit = options.timers.responseMs * 2 + 500
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, limit).unref())])
    for (const e of all.values()) e.session.close('shutdown')
    ticker.stop()
    actors.stop()
    hub.stop()
    await http?.close()
    await new Promise((r) => setTimeout(r, 50))
    await store.close()
    unlock()
    log('info', 'stopped')
  }

  try {
    http = await startHttp(options.http, smsc, auth, log, options.telemetry.maxBufferedBytes)
    smsc.ports.http = http.port
    let tlsOpts
    if (options.tls.cert && options.tls.key) {
      const read = (key: 'cert' | 'key' | 'ca', file: string) => {
        try {
          return fs.readFileSync(file)
        } catch (e) {
          throw smscError('SMSC_ERR_CONFIG_INVALID', `config.tls.${key} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (${file})`)
        }
      }
      tlsOpts = { host: options.tls.host, port: options.tls.port, cert: read('cert', options.tls.cert), key: read('key', options.tls.key), ca: options.tls.ca ? read('ca', options.tls.ca) : undefined, requestCert: options.tls.requestCert }
    } else if (options.devTls) {
      const dev = await devTlsCert(path.join(options.dataDir, 'tls'))
      tlsOpts = { host: options.tls.host, port: options.tls.port, cert: dev.cert, key: dev.key, requestCert: false }
    }
    listeners = await startListeners({ smpp: options.smpp, tls: tlsOpts }, onSocket)
  } catch (e) {
    // Nothing half-started stays behind: a failed start leaves no listener, actor or open store.
    ticker.stop()
    actors.stop()
    hub.stop()
    await http?.close()
    await store.close()
    unlock()
    throw e
  }
  smsc.ports.smpp = listeners.smppPort
  smsc.ports.tls = listeners.tlsPort
  log('info', 'listening', { smpp: listeners.smppPort, tls: listeners.tlsPort, http: http.port })
  return smsc
}

/**
 * One engine per data dir: a second `start` on the same store would hand out the same message ids.
 * The lock is a file holding the owner's pid; a lock left by a dead process is taken over.
 */
function lockDataDir(dir: string): () => void {
  const file = path.join(dir, 'smsc.lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' })
      return () => { try { if (fs.readFileSync(file, 'utf8') === String(process.pid)) fs.unlinkSync(file) } catch { /* gone already */ } }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      const pid = Number(fs.readFileSync(file, 'utf8'))
      let alive = false
      try { alive = Number.isInteger(pid) && pid > 0 && pid !== process.pid && (process.kill(pid, 0), true) } catch { alive = false }
      if (alive) throw smscError('SMSC_ERR_DATA_DIR_LOCKED', `data dir ${path.resolve(dir)} is in use by another smsc (pid ${pid})`)
      fs.unlinkSync(file) // stale: its process is gone
    }
  }
  throw smscError('SMSC_ERR_DATA_DIR_LOCKED', `cannot lock data dir ${path.resolve(dir)}`)
}

export type { Options, ResolvedOptions } from './config'
