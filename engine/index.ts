/**
 * createSmsc(options): the one public entry. Wires the protocol, the sessions, the actor tree,
 * the store, the listeners and the HTTP port, and implements the session host: credentials,
 * batched acceptance (commit, then answer, then hand to the carrier), query/cancel/replace, MO.
 * Start order: store → actors → HTTP → SMPP listeners (traffic last). Stop order: listeners →
 * unbind sessions and drain windows → actors → HTTP → store flush.
 */
import fs from 'node:fs'
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
import { CommandStatus as S, MessageState, type BindKind } from './protocol/constants'
import type { Pdu } from './protocol/codec'
import { parseSmppTime } from './protocol/time'
import { codingOfDcs, dcsOfCoding, encodeText } from './protocol/text/charsets'
import { splitMessage } from './protocol/text/split'
import { deliverFrame, isFinal, type MessageRecord } from './message'
import { DEFAULT_LIMITS } from './session/submit'
import { smscError } from './errors'
import { startHttp, type HttpServer } from './http'

export interface MoRequest {
  from: string
  to: string
  text: string
  coding?: 'gsm' | 'ucs2' | 'latin1'
  systemId?: string
}

export interface Smsc {
  readonly options: ResolvedOptions
  readonly ports: { smpp: number; tls: number | null; http: number }
  /** Set when the first start created the demo account: shown once in the banner. */
  readonly demoAccount: { systemId: string; password: string } | null
  readonly store: Store
  sessions(): Session[]
  mo(req: MoRequest): Promise<{ id: string; systemId: string; parts: number }>
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
  const store = await Store.open(path.join(options.dataDir, 'store'))

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

  const all = new Map<number, { session: Session; ref: ActorRef }>()
  const byAccount = new Map<string, Session[]>()
  let nextSessionId = 1
  let stopping = false
  let stopped: Promise<void> | null = null

  const receivers = (systemId: string): Session[] => (byAccount.get(systemId) ?? []).filter((s) => canReceive(s.state))
  const actors: ActorSystem = startActors({
    options, store, log, now, receivers,
    fatal: (err) => {
      log('error', 'permanent actor failed beyond its restart budget; stopping the engine', { error: String(err) })
      extra.onFatal?.(err)
      void smsc.stop()
    },
  })
  const ticker = new Ticker(now, 100)
  ticker.start()

  const limits = DEFAULT_LIMITS
  const host: SessionHost = {
    now,
    log,
    authenticate(s, systemId, password, kind: BindKind, cb) {
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
      void kind
    },
    bound(s) {
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
        const i = list.indexOf(s)
        if (i >= 0) list.splice(i, 1)
        if (list.length === 0) byAccount.delete(s.systemId)
      }
      if (entry) actors.stopSession(entry.ref)
    },
    allocateIds: (n) => store.allocateIds(n, options.messageIdFormat),
    accept(_s, records, done) {
      actors.commit({ messages: records }, (err) => {
        done(err)
        if (!err) actors.carrierSubmit(records)
      })
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
      if (pdu.schedule_delivery_time) {
        const st = parseSmppTime(pdu.schedule_delivery_time, t)
        if (!st.ok) return cb(S.ESME_RINVSCHED)
        r.scheduleAt = st.ms ?? 0
      }
      if (pdu.validity_period) {
        const vt = parseSmppTime(pdu.validity_period, t)
        if (!vt.ok || vt.ms === null || vt.ms <= t) return cb(S.ESME_RINVEXPIRY)
        r.expireAt = vt.ms
      }
      const payload = (pdu.message_payload as Buffer | undefined) ?? (pdu.short_message as Buffer)
      r.sm = Buffer.from(payload)
      r.registeredDelivery = pdu.registered_delivery
      actors.commit({ messages: [r] }, (err) => cb(err ? S.ESME_RREPLACEFAIL : 0))
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
    all.set(s.id, { session: s, ref })
    ticker.add(s)
    log('debug', 'connection', { session: s.id, remote: s.remote, tls: secure })
    socket.on('data', (chunk: Buffer) => {
      try {
        s.onData(chunk)
      } catch (err) {
        // A bug in one session's handling closes that connection only (its actor is stopped too).
        log('error', 'session crashed', { session: s.id, systemId: s.systemId, error: String((err as Error)?.stack ?? err) })
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
    faultSession(id) {
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
    const accounts = store.listAccounts()
    const systemId = req.systemId ?? (accounts.length === 1 ? accounts[0].systemId : undefined)
    if (!systemId) throw smscError('SMSC_ERR_MO_NO_ROUTE', 'systemId is required when there is more than one account')
    if (!store.getAccount(systemId)) throw smscError('SMSC_ERR_MO_NO_ROUTE', `no account ${systemId}`)
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
    await http.close()
    await new Promise((r) => setTimeout(r, 50))
    await store.close()
    log('info', 'stopped')
  }

  const http: HttpServer = await startHttp(options.http, smsc, log)
  smsc.ports.http = http.port
  let tlsOpts
  if (options.tls.cert && options.tls.key) {
    tlsOpts = { host: options.tls.host, port: options.tls.port, cert: fs.readFileSync(options.tls.cert), key: fs.readFileSync(options.tls.key), ca: options.tls.ca ? fs.readFileSync(options.tls.ca) : undefined, requestCert: options.tls.requestCert }
  } else if (options.devTls) {
    const dev = await devTlsCert(path.join(options.dataDir, 'tls'))
    tlsOpts = { host: options.tls.host, port: options.tls.port, cert: dev.cert, key: dev.key, requestCert: false }
  }
  try {
    listeners = await startListeners({ smpp: options.smpp, tls: tlsOpts }, onSocket)
  } catch (e) {
    ticker.stop()
    actors.stop()
    await http.close()
    await store.close()
    throw e
  }
  smsc.ports.smpp = listeners.smppPort
  smsc.ports.tls = listeners.tlsPort
  log('info', 'listening', { smpp: listeners.smppPort, tls: listeners.tlsPort, http: http.port })
  void codingOfDcs
  return smsc
}

export type { Options, ResolvedOptions } from './config'
