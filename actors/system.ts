/**
 * The actor system and its supervision tree, with start and stop order written down here and
 * nowhere else (STYLE §10.3, ranch-style: start top→down, stop bottom→up).
 *
 *   smsc (nact system)
 *   ├── store        permanent  restartWithBudget(3, 10 s) → escalate   group commit to LMDB (one transaction in flight)
 *   ├── delivery     permanent  restartWithBudget(5, 10 s) → escalate   receipts and MO to ESMEs and webhooks
 *   ├── connectors   permanent  parent of the connectors
 *   │   └── connector-<id>  permanent  restartWithBudget(5, 10 s): a new link; its destinations are dispatched again.
 *                       A config reload adds, removes or replaces them (setConnector); the operator stops and
 *                       starts them (setConnectorStopped). One such change at a time.
 *   ├── dispatcher   permanent  restartWithBudget(5, 10 s) → escalate   schedule, connector choice, retries, expiry
 *   ├── routers      permanent  parent of the routers
 *   │   └── router-<n>  permanent  restartWithBudget(5, 10 s): MT routing, credit, commit of admitted submits
 *   ├── rates        permanent  parent of the rate actors
 *   │   └── rate-<systemId>  resume: the account's token bucket and daily quota (spawned on first submit)
 *   ├── sessions     permanent  parent of the binds
 *   │   └── session-<n>  temporary: a crash closes that connection only; the ESME rebinds
 *   └── telemetry    transient  resume: builds the telemetry frames each interval; never takes traffic down
 *
 * A submit batch flows session → rate-<systemId> → router-<n> → store → (answer) → dispatcher →
 * connector-<id> → (outcome) → delivery: one actor message per batch per hop, never per PDU.
 * The listener (engine/transport/listener.ts) is started after this tree exists and stopped
 * before it is torn down. Escalation past a permanent actor's budget stops the engine: an SMSC
 * that cannot store must not keep acknowledging.
 */
// nact ships loose typings; this module is the only place that touches its API.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const nact = require('nact') as {
  start(...plugins: unknown[]): unknown
  spawn(parent: unknown, f: (state: any, msg: any, ctx: any) => any, name: string, props?: Record<string, unknown>): ActorRef
  dispatch(ref: ActorRef, msg: unknown): void
  stop(ref: unknown): void
}
import { RepeatedLog, type LogFn } from '../engine/log'
import type { CommitBatch, DeliveryItem, Store } from '../engine/store'
import type { RefusedDelivery, Session } from '../engine/session/session'
import { isFinal, type Destination, type MessageRecord } from '../engine/message'
import { SIMULATOR_CONNECTOR, type ConnectorOptions, type ReceiptIdMode, type ResolvedOptions } from '../engine/config'
import { RecentUpstreamIds, idsAgree, receiptCandidates, sameUpstreamId, upstreamKey } from '../engine/upstream-ids'
import type { Account } from '../engine/accounts'
import type { Ledger } from '../engine/ledger'
import { MtRouter, type RouteTables } from '../engine/routing'
import type { WebhookSender } from '../engine/webhook'
import { Delivery } from './delivery'
import { GroupCommit } from './group-commit'
import { DPF_META_PREFIX, DpfWatches, WATCH_MS } from './dpf'
import { Dispatcher, type Job } from './dispatcher'
import { Router } from './router'
import { RateGate } from './rate'
import { Lane } from './connectors/lane'
import { SimulatorConnector } from './connectors/simulator'
import { SmppClientConnector } from './connectors/smpp-client'
import { HttpConnector } from './connectors/http'
import type { Connector, ConnectorEvents, ConnectorStats, InboundMo, UpstreamReceipt } from './connectors/types'
import type { AcceptJob, ConnectorMsg, DeliveryMsg, DispatcherMsg, Outcome, RateMsg, RouterMsg, SessionMsg, StoreMsg } from './messages'
import { resume, restartWithBudget, temporary } from './supervision'
import { Mailbox } from './mailbox'
import type { Metrics } from '../engine/telemetry'

export type ActorRef = { readonly name: string; readonly path: unknown }

export interface ActorDeps {
  options: ResolvedOptions
  store: Store
  log: LogFn
  now(): number
  receivers(systemId: string): Session[]
  metrics: Metrics
  ledger: Ledger
  /** The account as last committed (cached by the engine). */
  account(systemId: string): Account | undefined
  routes: RouteTables
  /** MO from an upstream connector: the engine routes it to an account's queue, then calls `settled` (a status per item). */
  inboundMo(connector: string, items: InboundMo[], settled: (statuses: readonly number[]) => void): void
  webhooks: WebhookSender
  /** Builds and publishes the telemetry frames of one tick (the telemetry actor calls it). */
  publishTelemetry(): void
  telemetryIntervalMs: number
  /** Called when a permanent actor has spent its restart budget. */
  fatal(err: unknown): void
  /** Connectors the operator stopped (kept in the store): they start stopped. */
  connectorStopped(id: string): boolean
}

export interface ActorSystem {
  commit(batch: CommitBatch, done: (err: Error | null) => void): void
  /** A submit batch: rate actor of the account (when it has limits), router, store, answer, dispatcher. */
  admit(job: AcceptJob): void
  /** Committed records to (re)dispatch; `fresh` false for replace_sm (no second intermediate notification). */
  dispatch(records: MessageRecord[], fresh?: boolean): void
  enqueue(items: DeliveryItem[]): void
  deliveryResults(ok: DeliveryItem[], failed: DeliveryItem[], refused: RefusedDelivery[]): void
  /** What became of an MO's auto-reply, for its record (through the delivery actor, which writes the MO's records). */
  moReplied(id: string, reply: { id: string } | { not: string }): void
  bound(systemId: string): void
  spawnSession(s: Session): ActorRef
  sessionMsg(ref: ActorRef, msg: SessionMsg): void
  stopSession(ref: ActorRef): void
  /** Routing tables changed (API/CLI): every router recompiles; nothing in flight is dropped. */
  setRoutes(tables: RouteTables): void
  /** Account limits changed: its rate actor takes the new ones. */
  accountChanged(systemId: string, account: Account | null): void
  /**
   * A config reload: `cfg` starts connector `id`, or restarts it with new settings; null removes it. The old link
   * goes first (an smpp connector unbinds) and what it held goes back to the dispatcher, routed again when no
   * candidate of its route is left. Resolves once the old link is gone.
   */
  setConnector(id: string, cfg: ConnectorOptions | null): Promise<void>
  /** The operator stops (no link; counts as down, its work fails over or waits) or starts (a new link) connector `id`. */
  setConnectorStopped(id: string, stopped: boolean): Promise<void>
  /**
   * Receipts for connector `id` that came outside its link (an HTTP provider's callback), by the upstream's ids:
   * matched as its own receipts are; `stored` once what they cause is committed. False: no such connector.
   */
  connectorReceipts(id: string, items: UpstreamReceipt[], stored: () => void): boolean
  /** The upstream id links of these destinations (to remove when they end or are superseded outside the delivery actor). */
  upstreamLinks(dests: readonly Destination[]): { connector: string; upstreamId: string }[]
  /** Test hook: make a permanent actor throw once ('carrier' is the simulator's connector actor). */
  fault(actor: 'carrier' | 'delivery' | 'dispatcher' | `connector:${string}`): void
  /** Messages waiting for the store or a connector (group commit, dispatcher, lanes): the overload gauge, cheap. */
  backlog(): number
  /** Live counters for health, overload and telemetry. */
  stats(): { carrierInFlight: number; backlog: number; awaitingReceipts: number; connectors: (ConnectorStats & { queued: number; stopped: boolean })[] }
  /** Stops the tree; connectors unbind from their upstreams first. */
  stop(): Promise<void>
}

const TICK_MS = 20
/** How long a stop waits for the delivery actor and the store to write what they were handed (a hung disk does not hold it). */
const STOP_FLUSH_MS = 5_000

/** What the dispatcher sees of a connector the operator stopped, or one going away: down, not probing. */
const DOWN = Object.freeze({ up: false, probing: false })

/** FNV-1a of the system_id: which router actor an account's batches go to. */
function partition(systemId: string, n: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < systemId.length; i++) h = Math.imul(h ^ systemId.charCodeAt(i), 0x01000193)
  return (h >>> 0) % n
}

/** An actor on the message path: its ref (to stop it) and how to post to its drained mailbox. */
interface Drained<M> { ref: ActorRef; post(msg: M): void; /** what a stopped actor left unhandled */ leftovers(): M[]; /** messages posted, not yet handled */ size(): number }

/** Spawns an actor whose mailbox is drained at each wake-up (mailbox.ts): one nact message per turn, not per post. */
function spawnDrained<S, M>(parent: unknown, name: string, handle: (state: S, msg: M) => S, props: Record<string, unknown>, after?: (state: S) => void): Drained<M> {
  const box = new Mailbox<M>()
  const ref = nact.spawn(parent, (state: S) => box.drain(state, handle, after), name, props)
  box.bind((wake) => nact.dispatch(ref, wake))
  return { ref, post: (msg) => box.post(msg), leftovers: () => box.takeQueued(), size: () => box.size }
}

export function startActors(d: ActorDeps): ActorSystem {
  const root = nact.start()
  const { log } = d
  let tables = d.routes
  /**
   * The namespace of an upstream's message ids: one per upstream account, so a transmitter and a
   * receiver connector bound to the same upstream account share their id map.
   */
  const upstreamNs = new Map<string, string>()
  const nsOf = (id: string): string => upstreamNs.get(id) ?? id
  /** How each connector's submit_sm_resp ids and receipt ids compare (connectors[].receiptIds; the same for every entry of one namespace). */
  const receiptIds = new Map<string, ReceiptIdMode>()
  const modeOf = (id: string): ReceiptIdMode => receiptIds.get(id) ?? 'exact'
  /** What a warning about an unmatched receipt names: the settings that say where the connector's ids are read. */
  const idSettings = (c: ConnectorOptions): Record<string, string> =>
    c.kind === 'smpp' ? { receiptIds: c.receiptIds } : { answerId: c.answerId, callbackFieldsId: c.callbackFields.id }
  const idHints = new Map<string, Record<string, string>>()
  /** Connectors that are SMPP binds (set_dpf goes upstream through them). */
  const smppConnectors = new Set<string>()
  /** Where receipts of a connector's messages are looked up: at start, and kept for a removed one (its messages wait for receipts). */
  const learn = (c: ConnectorOptions): void => {
    upstreamNs.set(c.id, c.kind === 'smpp' ? `smpp:${c.host}:${c.port}:${c.systemId}` : c.id)
    receiptIds.set(c.id, c.kind === 'smpp' ? c.receiptIds : 'exact')
    idHints.set(c.id, idSettings(c))
    if (c.kind === 'smpp') smppConnectors.add(c.id); else smppConnectors.delete(c.id)
  }
  for (const c of d.options.connectors) learn(c)
  /** The store's key of an upstream id the connector's submit_sm_resp gave: its namespace and the id in the connector's canonical form. */
  const linkOf = (connectorId: string, upstreamId: string) => ({ connector: nsOf(connectorId), upstreamId: upstreamKey(upstreamId, 'submit', modeOf(connectorId)) })
  const upstreamLinks = (dests: readonly Destination[]) => {
    const out: { connector: string; upstreamId: string }[] = []
    for (const d of dests) if (d.up !== undefined && d.conn !== undefined) out.push(linkOf(d.conn, d.up))
    return out
  }
  /** Links removed lately (ended, cancelled, replaced): a receipt for one is a duplicate or stale, not an unknown id. */
  const recentlyUnlinked = new RecentUpstreamIds()
  /** Receipts that match no message: warned about per connector, rate-limited. */
  const unmatched = new RepeatedLog(log, {
    level: 'warn', keyName: 'connector',
    first: 'upstream receipt for a message id we do not know: acknowledged and dropped (does the connector need receiptIds, or an http one another answerId? docs/CONNECTORS.md)',
    more: 'more upstream receipts for message ids we do not know: acknowledged and dropped',
  })

  // 1. store: group commit; one write transaction in flight, later requests join the next one.
  let writer: GroupCommit | null = null
  const makeWriter = () => (writer = new GroupCommit(d.store,
    (ms) => d.metrics.commitLatency.record(ms * 1000),
    (err) => log('error', 'a commit callback failed', { error: String((err as Error)?.stack ?? err) }),
    () => storeActor.post({ type: 'kick' })))
  const storeActor = spawnDrained(root, 'store', (state: GroupCommit, msg: StoreMsg) => {
    switch (msg.type) {
      case 'commit':
        state.queue(msg.batch, msg.done)
        return state
      case 'kick': return state // the drain's end kicks
    }
  }, { initialStateFunc: makeWriter, onCrash: restartWithBudget('store', 3, 10_000, log, d.fatal) }, (state) => state.kick())
  const commit = (batch: CommitBatch, done: (err: Error | null) => void) => {
    if (batch.upstreamRemove) for (const l of batch.upstreamRemove) recentlyUnlinked.add(l.connector, l.upstreamId)
    storeActor.post({ type: 'commit', batch, done })
  }

  // 2. delivery: queues rebuilt from the store on every (re)start.
  let delivery: Drained<DeliveryMsg>
  const makeDelivery = () => new Delivery({
    store: d.store,
    commit,
    receivers: d.receivers,
    send: (s, items) => {
      try {
        return s.deliver(items)
      } catch (err) {
        // A session that throws while writing is that session's crash, not the delivery actor's.
        log('error', 'session failed while delivering', { session: s.id, error: String(err) })
        s.close('crash while delivering')
        return items
      }
    },
    enqueueLater: (items) => delivery.post({ type: 'enqueue', items }),
    resultsLater: (ok, failed) => delivery.post({ type: 'results', ok, failed, refused: [] }),
    now: d.now,
    redeliveryMs: d.options.receipts.redeliveryMs,
    maxAgeMs: d.options.receipts.maxAgeMs,
    multipart: d.options.receipts.multipart,
    account: d.account,
    ledger: d.ledger,
    webhooks: d.webhooks,
    upstreamLink: linkOf,
    log,
    metrics: d.metrics,
  })
  delivery = spawnDrained(root, 'delivery', (state: Delivery, msg: DeliveryMsg) => {
    switch (msg.type) {
      case 'outcomes': state.outcomes(msg.outcomes, msg.stored, msg.connector); return state
      case 'enqueue': state.enqueue(msg.items); return state
      case 'results': state.results(msg.ok, msg.failed, msg.refused); return state
      case 'bound': state.pump(msg.systemId); return state
      case 'moReplied': state.moReplied(msg.id, msg.reply); return state
      case 'tick': state.tick(msg.now); return state
      case 'alert': state.alertTo(msg.systemId, msg.ms, msg.esme, msg.status, { connector: msg.connector }); return state
      case 'fault': throw new Error('injected delivery fault')
    }
  }, { initialStateFunc: makeDelivery, onCrash: restartWithBudget('delivery', 5, 10_000, log, d.fatal) })
  const toDelivery = (outcomes: Outcome[], stored?: () => void, connector?: string) => delivery.post({ type: 'outcomes', outcomes, stored, connector })

  // 3. connectors: the simulator (always) and the configured upstreams, each behind its lane.
  let dispatcher: Drained<DispatcherMsg>
  const toDispatcher = (msg: DispatcherMsg) => dispatcher.post(msg)
  const lanes = new Map<string, Lane>()
  /** What earlier instances of a connector (before an operator's start, a reload's change, a crash) sent and failed. */
  const carried = new Map<string, { sent: number; failed: number }>()
  const connectorActors = new Map<string, Drained<ConnectorMsg>>()
  // Delivery pending flags asked of upstreams (set_dpf): who gets an upstream's alert_notification.
  const dpf = new DpfWatches()
  dpf.load(d.store.metaWithPrefix(DPF_META_PREFIX), d.now())
  const connectorsRef = nact.spawn(root, (state: null) => state, 'connectors', { initialState: null, onCrash: restartWithBudget('connectors', 3, 10_000, log, d.fatal) })
  type ConnectorCfg = ConnectorOptions | { id: string; kind: 'simulator' }
  const configs = new Map<string, ConnectorCfg>([[SIMULATOR_CONNECTOR, { id: SIMULATOR_CONNECTOR, kind: 'simulator' }], ...d.options.connectors.map((c) => [c.id, c] as const)])
  /** Stopped by the operator: no link, down for routing; kept across restarts (the store's meta, engine/admin.ts). */
  const stoppedIds = new Set([...configs.keys()].filter((id) => d.connectorStopped(id)))
  for (const id of stoppedIds) log('warn', `connector ${id} is stopped by the operator: it carries nothing until started (smsc connector start ${id})`, { connector: id })
  const spawnConnector = (cfg: ConnectorCfg): void => {
    const id = cfg.id
    /** This instance's lane: its link going down because the operator or a reload stopped it is no outage. */
    let own: Lane | null = null
    const events: ConnectorEvents = {
      outcomes: (outcomes) => toDelivery(outcomes, undefined, id),
      accepted: (items) => toDispatcher({ type: 'accepted', connector: id, items }),
      retry: (items, reason, counted) => {
        log('debug', 'connector hands back for retry', { connector: id, count: items.length, reason })
        if (counted !== undefined) d.metrics.connectorRetried(id, counted, items.length)
        toDispatcher({ type: 'retry', connector: id, jobs: items as Job[] })
      },
      receipts: (items, stored) => toDispatcher({ type: 'receipts', connector: id, items, stored }),
      mo: (items, settled) => d.inboundMo(id, items, settled),
      alerts: (items) => {
        const now = d.now()
        for (const a of items) {
          const watches = dpf.take(nsOf(id), a.ms[2], a.esme[2], now)
          if (watches.length === 0) log('debug', 'upstream alert_notification for a subscriber no account asked about (set_dpf), dropped', { connector: id, subscriber: a.ms[2], esme: a.esme[2] })
          for (const w of watches) delivery.post({ type: 'alert', systemId: w.systemId, ms: a.ms, esme: w.src, status: a.status, connector: id })
        }
        const kept = dpf.changes()
        if (kept.length > 0) commit({ meta: kept }, (err) => { if (err) log('error', 'delivery pending flags not stored', { error: err.message }) })
      },
      up: () => {
        d.metrics.event('connector_up', { detail: `${id} (${cfg.kind})` })
        log('info', 'connector up', { connector: id })
        connectorActors.get(id)?.post({ type: 'pump' })
        // What waits in a back-off for it goes now, not at the end of its back-off (up to dispatch.retryMs[1]). Not at
        // the tree's start: an http connector is up from start(), before the dispatcher exists (nothing backs off yet).
        if (dispatcher !== undefined) toDispatcher({ type: 'wake', connector: id })
      },
      down: (reason) => {
        if (own?.stopped !== true) d.metrics.event('connector_down', { detail: `${id}: ${reason}` })
        log(own?.stopped === true ? 'info' : 'warn', 'connector down', { connector: id, reason })
        connectorActors.get(id)?.post({ type: 'down' })
      },
    }
    let started = false
    /** Crash restarts so far: a reclaim's 'reclaimed' frees only the lane of its own restart. */
    let restarts = 0
    const make = (): Lane => {
      const old = lanes.get(id)
      // A restart: the old link goes, the destinations it held are dispatched again from the store.
      let oldStopped: Promise<void> = Promise.resolve()
      if (old) {
        // An old lane that crashed before its reclaim began never started its link: the one before it may still
        // have requests out. Its successor waits for both (else its reclaim sends those again while they are out).
        oldStopped = Promise.all([old.connector.stop().catch(() => {}), old.predecessorsStopped]).then(() => {})
        // Its counts go on in its successor's: sent and failed (smsc_connector_*_total) never go back while the engine runs.
        const was = old.connector.stats()
        const prev = carried.get(id) ?? { sent: 0, failed: 0 }
        carried.set(id, { sent: prev.sent + was.sent, failed: prev.failed + was.failed })
      }
      const c: Connector = cfg.kind === 'simulator' ? new SimulatorConnector(d.options.simulator, events, d.now())
        : cfg.kind === 'smpp' ? new SmppClientConnector(cfg, events, log, d.now)
          : new HttpConnector(cfg, events, log, d.now)
      // The simulator takes a message the moment it is stored (Metrics.accepted); an upstream when its lane hands it over.
      const lane = cfg.kind === 'simulator' ? new Lane(c)
        : new Lane(c, (jobs, now) => { for (const j of jobs) d.metrics.step(j.record.id, 'carrier', now) })
      lanes.set(id, lane)
      own = lane
      lane.stopped = stoppedIds.has(id)
      if (started) {
        // A crash restart. As retire() does for a reload: the dispatcher takes back the old instance's work once
        // that instance has stopped (its requests in flight answered or given up: else the reclaim sends them again
        // while they are still out), and the new one starts only then. What the dispatcher hands the new one before
        // the reclaim begins, the reclaim hands out again: the lane drops it then ('reclaimed').
        const gen = lane.awaitingReclaim = ++restarts
        lane.predecessorsStopped = oldStopped
        if (old) lane.receiptsTo = old.receiptsTo // the link that may still have requests out (see predecessorsStopped)
        void oldStopped.then(() => toDispatcher({
          type: 'reclaim', connector: id, records: d.store.activeMessages() as MessageRecord[],
          begin: () => actor.post({ type: 'reclaimed', gen }),
        }))
      } else if (!lane.stopped) c.start()
      started = true
      return lane
    }
    const actor = spawnDrained(connectorsRef, `connector-${id}`, (lane: Lane, msg: ConnectorMsg) => {
      switch (msg.type) {
        case 'submit': lane.add(msg.jobs, d.now()); return lane
        case 'pump': lane.pump(d.now()); return lane
        case 'tick': {
          lane.connector.tick(msg.now)
          // Jobs that reached the lane while the link was going down (or stopped) go back to be failed over (or expire);
          // so do those queued when its upstream throttled it, once a pause: what has another candidate up goes there,
          // the rest comes back to wait here (the dispatcher takes a paused connector when no other is up).
          const pauseBegan = lane.pauseBegan()
          if ((lane.stopped || !lane.connector.up || pauseBegan) && lane.queued > 0) toDispatcher({ type: 'retry', connector: id, jobs: lane.drain() })
          else lane.pump(msg.now)
          return lane
        }
        case 'down': {
          // Queued, never sent: back to the dispatcher, which fails them over or waits.
          const jobs = lane.drain()
          if (jobs.length > 0) toDispatcher({ type: 'retry', connector: id, jobs })
          return lane
        }
        case 'receipts': handOnReceipts(id, lane, msg.items, msg.stored); return lane
        case 'reclaimed': {
          if (lane.awaitingReclaim !== msg.gen) return lane // an earlier restart's (this lane has its own)
          lane.drain() // handed over before the reclaim began: the reclaim has them
          lane.awaitingReclaim = 0
          lane.receiptsTo = lane.connector // the old link has stopped: its answers are all reported
          if (!lane.stopped) lane.connector.start()
          lane.pump(d.now())
          return lane
        }
        case 'fault': throw new Error(`injected ${id} connector fault`)
      }
    }, { initialStateFunc: make, onCrash: restartWithBudget(`connector-${id}`, 5, 10_000, log, d.fatal) })
    connectorActors.set(id, actor)
  }
  /** Receipts from an upstream: an HTTP provider's callbacks through the link that sent the messages (it first reports
   *  the answers they may name: a provider calls back before its 2xx is seen); an SMPP upstream's straight on. */
  const handOnReceipts = (id: string, lane: Lane, items: UpstreamReceipt[], stored: () => void): void => {
    if (lane.receiptsTo.callbackReceipts) lane.receiptsTo.callbackReceipts(items, stored)
    else toDispatcher({ type: 'receipts', connector: id, items, stored })
  }
  for (const cfg of configs.values()) spawnConnector(cfg)
  /** Lanes whose connector a reload retired (its link stopped): their callbacks go on without the stopped actor. */
  const retired = new WeakSet<Lane>()
  /**
   * The link of connector `id` goes (an smpp connector unbinds, in-flight submits come back through retry) and its
   * actor stops; what its lane or mailbox still held is taken back by the dispatcher. `remove`: it leaves the
   * routing at once (destinations whose route names nothing else are routed again), else it reads as down until
   * its successor is spawned.
   */
  const retire = async (id: string, remove: boolean): Promise<void> => {
    const lane = lanes.get(id) as Lane
    const actor = connectorActors.get(id) as Drained<ConnectorMsg>
    lane.stopped = true
    if (remove) { lanes.delete(id); connectorActors.delete(id); configs.delete(id); carried.delete(id) }
    await lane.connector.stop().catch((err) => log('warn', 'connector stop failed', { connector: id, error: String(err) }))
    await lane.predecessorsStopped // restarted after a crash and its reclaim not begun: the old link may still have requests out
    retired.add(lane)
    nact.stop(actor.ref)
    // The store has the submits it left (the reclaim below); a provider's callbacks it had not handled only it had.
    for (const m of actor.leftovers()) if (m.type === 'receipts') handOnReceipts(id, lane, m.items, m.stored)
    // Resolved once the dispatcher has taken them back, and only then may a successor with this id be spawned: a
    // successor that is up at once (an http connector) would otherwise be handed, by a dispatcher message queued
    // before the reclaim, destinations that the reclaim then takes for the old instance's and hands out again (sent twice).
    // Not once the tree stops (its dispatcher never answers then): stop() lets such a wait go.
    await new Promise<void>((resolve) => {
      if (closing) return resolve()
      reclaiming.add(resolve)
      toDispatcher({ type: 'reclaim', connector: id, records: d.store.activeMessages() as MessageRecord[], done: () => { reclaiming.delete(resolve); resolve() } })
    })
  }
  /** Connector changes (reload, operator) one at a time; none once the tree stops. */
  let changing: Promise<void> = Promise.resolve()
  let closing = false
  /** retire()s waiting for the dispatcher to take a connector's work back. */
  const reclaiming = new Set<() => void>()
  const serially = (f: () => Promise<void>): Promise<void> => {
    const p = changing.then(() => (closing ? undefined : f()))
    changing = p.catch(() => {})
    return p
  }

  // 4. dispatcher: rebuilt from the store's active messages on every (re)start.
  /** Upstream ids accepted but not yet committed: a receipt may overtake the commit. */
  const upstreamPending = new Map<string, [string, number]>()
  /** The live dispatcher (nact keeps state private): read for the overload gauge and stats. */
  let dispatcherState: Dispatcher | null = null
  /** The routes in force, compiled for destinations routed again (their connectors were removed); made when first needed. */
  let rerouter: MtRouter | null = null
  const makeDispatcher = () => {
    const disp = new Dispatcher({
      now: d.now,
      connector: (id) => {
        const lane = lanes.get(id)
        return lane === undefined ? undefined : lane.stopped ? DOWN : lane.connector
      },
      reroute: (r, i) => {
        const dec = (rerouter ??= new MtRouter(tables.mt)).route(r.systemId, d.account(r.systemId)?.group ?? null, r.src[2], r.dests[i].addr[2], d.now())
        return dec.ok ? dec.connectors : null
      },
      send: (id, jobs) => connectorActors.get(id)?.post({ type: 'submit', jobs }),
      outcomes: (o) => toDelivery(o),
      optOuts: { lists: d.store.optOuts, parentOf: (systemId) => d.account(systemId)?.parent ?? null },
      retryMs: d.options.dispatch.retryMs,
    })
    const active = d.store.activeMessages() as MessageRecord[]
    if (active.length > 0) {
      disp.recover(active)
      log('info', 'dispatcher recovered active messages', { count: active.length })
    }
    dispatcherState = disp
    return disp
  }
  dispatcher = spawnDrained(root, 'dispatcher', (state: Dispatcher, msg: DispatcherMsg) => {
    switch (msg.type) {
      case 'submit': state.submit(msg.records, msg.fresh); state.tick(d.now()); return state
      case 'retry': state.retry(msg.jobs, msg.connector); return state
      case 'requeue': state.requeue(msg.jobs); return state
      case 'wake': state.wake(msg.connector); return state
      case 'reclaim': msg.begin?.(); try { state.reclaim(msg.connector, msg.records) } finally { msg.done?.() } return state
      case 'accepted': {
        // The upstream's ids, committed with the records so its receipts find our messages after a restart.
        const records = new Map<string, MessageRecord>()
        const upstream: NonNullable<CommitBatch['upstream']> = []
        const jobs: Job[] = []
        const ns = nsOf(msg.connector)
        const now = d.now()
        for (const it of msg.items) {
          const r = d.store.getMessage(it.id) as MessageRecord | undefined
          if (!r || !r.dests[it.dest] || isFinal(r.dests[it.dest].state)) continue
          // The id as the store keys it (engine/upstream-ids.ts): the id itself, or its number under receiptIds.
          const key = upstreamKey(it.upstreamId, 'submit', modeOf(msg.connector))
          // An id that cannot be a key (empty, too long) can never match a receipt: the message waits for its expiry
          // (with the others waiting for receipts: held by no one else, it would otherwise never end).
          if (it.upstreamId.length === 0 || Buffer.byteLength(key) > 255 || it.upstreamId.includes('\0')) {
            log('warn', 'upstream answered with an unusable message_id; its receipt cannot be matched', { connector: msg.connector, id: it.id, upstreamId: it.upstreamId })
            jobs.push({ record: r, dest: it.dest, attempts: 0, fresh: false, rev: r.rev ?? 0 })
            continue
          }
          r.dests[it.dest].up = it.upstreamId
          records.set(r.id, r)
          // Taken by an upstream SMSC: it may keep a delivery pending flag for this subscriber (set_dpf) and alert later.
          if (r.setDpf && smppConnectors.has(msg.connector)) dpf.watch(ns, r.dests[it.dest].addr[2], { systemId: r.systemId, src: r.src, until: Math.max(r.expireAt, now) + WATCH_MS }, now)
          upstream.push({ connector: ns, upstreamId: key, id: it.id, dest: it.dest })
          upstreamPending.set(`${ns}\0${key}`, [it.id, it.dest])
          jobs.push({ record: r, dest: it.dest, attempts: 0, fresh: false, rev: r.rev ?? 0 })
        }
        state.accepted(jobs)
        if (upstream.length > 0) {
          const watches = dpf.changes()
          commit({ messages: [...records.values()], upstream, ...(watches.length > 0 ? { meta: watches } : {}) }, (err) => {
            if (err) log('error', 'upstream id commit failed', { connector: msg.connector, error: err.message })
            for (const u of upstream) upstreamPending.delete(`${u.connector}\0${u.upstreamId}`)
          })
        }
        return state
      }
      case 'receipts': {
        const outcomes: Outcome[] = []
        const ns = nsOf(msg.connector)
        const mode = modeOf(msg.connector)
        for (const rc of msg.items) {
          // Keys in order (engine/upstream-ids.ts): the receipt's id under receiptIds, then the few safe fallbacks.
          const candidates = receiptCandidates(rc.upstreamId, rc.textId, mode)
          let hit: { at: [string, number]; r: MessageRecord } | undefined
          // A duplicate or late receipt of a message that ended lately: its own key says so, and no fallback may
          // then hand it to another message. The text's id stands in for the TLV's only where the two agree.
          let stale = recentlyUnlinked.has(ns, candidates[0].key) && (upstreamPending.get(`${ns}\0${candidates[0].key}`) ?? d.store.upstreamLookup(ns, candidates[0].key)) === undefined
          for (const c of stale ? [] : candidates) {
            if (c.id !== rc.upstreamId && !idsAgree(rc.upstreamId, c.id)) continue
            const at = upstreamPending.get(`${ns}\0${c.key}`) ?? d.store.upstreamLookup(ns, c.key)
            if (at === undefined) continue
            const r = d.store.getMessage(at[0]) as MessageRecord | undefined
            const up = r?.dests[at[1]]?.up
            // Only the submission the destination waits on: a receipt for one superseded since (replace_sm) is stale.
            if (r !== undefined && up !== undefined && sameUpstreamId(up, c.id, mode)) { hit = { at, r }; break }
            stale = true
          }
          if (hit === undefined) {
            if (stale || candidates.some((c) => recentlyUnlinked.has(ns, c.key))) {
              log('debug', 'receipt for a superseded or already settled upstream id', { connector: msg.connector, upstreamId: rc.upstreamId })
            } else {
              // Acknowledged all the same (msg.stored below): see docs/CONNECTORS.md, Receipt ids.
              d.metrics.receiptUnmatched(msg.connector)
              unmatched.add(msg.connector, { upstreamId: rc.upstreamId, ...(rc.textId !== undefined ? { textId: rc.textId } : {}), ...(idHints.get(msg.connector) ?? { receiptIds: mode }) }, d.now())
            }
            continue
          }
          outcomes.push({ id: hit.at[0], dest: hit.at[1], state: rc.state, err: rc.err, rev: hit.r.rev ?? 0, doneAt: rc.doneAt })
        }
        if (outcomes.length > 0) toDelivery(outcomes, msg.stored, msg.connector)
        else msg.stored() // nothing of ours: acknowledge (the upstream would only send them again)
        return state
      }
      case 'tick': state.tick(msg.now); unmatched.tick(msg.now); return state
      case 'fault': throw new Error('injected dispatcher fault')
    }
  }, { initialStateFunc: makeDispatcher, onCrash: restartWithBudget('dispatcher', 5, 10_000, log, d.fatal) })

  // 5. routers: accounts spread by hash; every router gets every table change.
  const routerDeps = {
    now: d.now,
    ledger: d.ledger,
    account: d.account,
    commit,
    accepted: (records: MessageRecord[]) => {
      d.metrics.accepted(records, d.now())
      toDispatcher({ type: 'submit', records, fresh: true })
    },
    upstreamLinks,
    // Synchronous, as a reseller's gate is taken by its users' gates: the count persisted next (quotaNow) includes it.
    quotaGiveBack: (systemId: string, units: number) => gates.get(systemId)?.give(units),
    quotaNow: (systemId: string) => gates.get(systemId)?.quotaState(),
  }
  const routersRef = nact.spawn(root, (state: null) => state, 'routers', { initialState: null, onCrash: restartWithBudget('routers', 3, 10_000, log, d.fatal) })
  const routers: Drained<RouterMsg>[] = []
  for (let i = 0; i < d.options.dispatch.routers; i++) {
    routers.push(spawnDrained(routersRef, `router-${i}`, (state: Router, msg: RouterMsg) => {
      switch (msg.type) {
        case 'route': state.route(msg.job); return state
        case 'tables': state.setTables(msg.tables); return state
      }
    }, { initialStateFunc: () => new Router(routerDeps, tables), onCrash: restartWithBudget(`router-${i}`, 5, 10_000, log, d.fatal) }))
  }
  const toRouter = (job: AcceptJob) => routers[partition(job.systemId, routers.length)].post({ type: 'route', job })

  // 6. rate actors: one per account with a rate limit or a daily quota, spawned at its first submit.
  const ratesRef = nact.spawn(root, (state: null) => state, 'rates', { initialState: null, onCrash: restartWithBudget('rates', 3, 10_000, log, d.fatal) })
  // A reseller's gate is also its users': their batches take its tokens and quota too (actors/rate.ts), so its limits cap its tree.
  const rates = new Map<string, Drained<RateMsg>>()
  const gates = new Map<string, RateGate>()
  let nextRate = 0 // actor names are never reused (a removed account's actor is stopped)
  const rateActor = (systemId: string, a: Account): Drained<RateMsg> => {
    let actor = rates.get(systemId)
    if (actor === undefined) {
      const gate = new RateGate(a, d.store.getMeta(`quota:${systemId}`) as { day: number; used: number } | undefined, d.now())
      gates.set(systemId, gate)
      actor = spawnDrained(ratesRef, `rate-${nextRate++}`, (gate: RateGate, msg: RateMsg) => {
        switch (msg.type) {
          case 'admit': {
            gate.admit(msg.job, d.now(), msg.tree)
            if (msg.job.statuses.every((s) => s !== 0)) msg.job.done(null, msg.job.statuses)
            else toRouter(msg.job)
            return gate
          }
          case 'limits': gate.reconfigure({ rateLimit: msg.rateLimit, dailyQuota: msg.dailyQuota }, undefined, d.now()); return gate
        }
      }, {
        initialStateFunc: () => gate,
        onCrash: resume(`rate-${systemId}`, log),
      })
      rates.set(systemId, actor)
    }
    return actor
  }

  // 7. sessions: parent of the binds; a child's crash policy is `temporary`.
  const sessionsRef = nact.spawn(root, (state: null) => state, 'sessions', {
    initialState: null,
    onCrash: restartWithBudget('sessions', 3, 10_000, log, d.fatal),
  })

  // 8. telemetry: builds and publishes one frame set per interval; an error never stops traffic.
  const telemetryRef = nact.spawn(root, (state: null, msg: { type: 'tick' }) => {
    if (msg.type === 'tick') d.publishTelemetry()
    return state
  }, 'telemetry', { initialState: null, onCrash: resume('telemetry', log) })
  const telemetryTick = setInterval(() => nact.dispatch(telemetryRef, { type: 'tick' }), d.telemetryIntervalMs)
  telemetryTick.unref()

  // One coarse tick drives the dispatcher, the connectors (simulator buckets, link timers) and the delivery retries.
  const tick = setInterval(() => {
    const now = d.now()
    toDispatcher({ type: 'tick', now })
    for (const c of connectorActors.values()) c.post({ type: 'tick', now })
    delivery.post({ type: 'tick', now })
  }, TICK_MS)
  tick.unref()

  return {
    commit,
    upstreamLinks,
    connectorReceipts(id, items, stored) {
      const lane = lanes.get(id)
      const actor = connectorActors.get(id)
      if (lane === undefined || actor === undefined) return false
      if (retired.has(lane)) handOnReceipts(id, lane, items, stored) // until its successor is spawned
      else actor.post({ type: 'receipts', items, stored })
      return true
    },
    admit(job) {
      const a = d.account(job.systemId)
      if (a === undefined) return toRouter(job)
      // A user of a reseller with a rate limit or a daily quota passes the reseller's gate too (they cap its tree).
      const r = a.parent === null ? undefined : d.account(a.parent)
      let tree: RateGate | null = null
      if (r !== undefined && (r.rateLimit !== null || r.dailyQuota !== null)) {
        rateActor(r.systemId, r) // its gate, made with its actor
        tree = gates.get(r.systemId) ?? null
      }
      if (a.rateLimit !== null || a.dailyQuota !== null || tree !== null) rateActor(job.systemId, a).post({ type: 'admit', job, tree })
      else toRouter(job)
    },
    dispatch: (records, fresh = true) => toDispatcher({ type: 'submit', records, fresh }),
    enqueue: (items) => delivery.post({ type: 'enqueue', items }),
    deliveryResults: (ok, failed, refused) => delivery.post({ type: 'results', ok, failed, refused }),
    moReplied: (id, reply) => delivery.post({ type: 'moReplied', id, reply }),
    bound: (systemId) => delivery.post({ type: 'bound', systemId }),
    spawnSession: (s) => nact.spawn(sessionsRef, (state: Session, msg: SessionMsg) => {
      switch (msg.type) {
        case 'unbind': void state.requestUnbind(msg.reason); return state
        case 'fault': throw new Error('injected session fault')
      }
    }, `session-${s.id}`, {
      initialState: s,
      onCrash: temporary(`session-${s.id}`, log),
      // Whatever stopped the actor, the connection goes with it.
      afterStop: (state: Session) => state.close('session actor stopped'),
    }),
    sessionMsg: (ref, msg) => nact.dispatch(ref, msg),
    stopSession: (ref) => nact.stop(ref),
    setRoutes(next) {
      tables = next
      rerouter = null
      for (const r of routers) r.post({ type: 'tables', tables: next })
    },
    accountChanged(systemId, a) {
      const actor = rates.get(systemId)
      if (actor === undefined) return
      // Removed: its rate actor goes too (a new account of that id would start afresh).
      if (a === null) { rates.delete(systemId); gates.delete(systemId); nact.stop(actor.ref); return }
      actor.post({ type: 'limits', rateLimit: a.rateLimit, dailyQuota: a.dailyQuota })
    },
    setConnector: (id, cfg) => serially(async () => {
      if (lanes.has(id)) await retire(id, cfg === null)
      if (cfg === null) { stoppedIds.delete(id); return }
      if (closing) return
      learn(cfg)
      configs.set(id, cfg)
      spawnConnector(cfg)
    }),
    setConnectorStopped: (id, stopped) => serially(async () => {
      const lane = lanes.get(id)
      if (lane === undefined || stoppedIds.has(id) === stopped) return
      if (stopped) {
        stoppedIds.add(id)
        lane.stopped = true
        await lane.connector.stop().catch((err) => log('warn', 'connector stop failed', { connector: id, error: String(err) }))
        connectorActors.get(id)?.post({ type: 'down' }) // what its lane holds goes back to the dispatcher
      } else {
        // A stopped connector does not start again (an HTTP connector's agent is gone): a new one takes its place.
        stoppedIds.delete(id)
        await retire(id, false)
        if (!closing) spawnConnector(configs.get(id) as ConnectorCfg)
      }
    }),
    fault: (actor) => {
      if (actor === 'carrier') connectorActors.get(SIMULATOR_CONNECTOR)!.post({ type: 'fault' })
      else if (actor.startsWith('connector:')) connectorActors.get(actor.slice('connector:'.length))?.post({ type: 'fault' })
      else if (actor === 'delivery') delivery.post({ type: 'fault' })
      else dispatcher.post({ type: 'fault' })
    },
    backlog: () => {
      let queued = 0
      for (const l of lanes.values()) queued += l.queued
      // Messages waiting for the store's next transaction, for a connector, or for a retry.
      return (writer?.waitingMessages ?? 0) + (dispatcherState?.backlog ?? 0) + queued
    },
    stats: () => {
      let queued = 0
      const connectors = [...lanes.values()].map((l) => {
        queued += l.queued
        const st = l.connector.stats()
        const before = carried.get(st.id)
        return { ...st, ...(before ? { sent: st.sent + before.sent, failed: st.failed + before.failed } : {}), queued: l.queued, stopped: stoppedIds.has(l.connector.id) }
      })
      const sim = lanes.get(SIMULATOR_CONNECTOR)?.connector.stats()
      return {
        carrierInFlight: sim?.inFlight ?? 0,
        backlog: (dispatcherState?.backlog ?? 0) + queued,
        awaitingReceipts: dispatcherState?.waitingForReceipt ?? 0,
        connectors,
      }
    },
    async stop() {
      // Stop order, bottom→up: ticks, sessions (already unbound by the caller), rates, routers,
      // dispatcher, connectors (unbind upstream), delivery, store.
      closing = true
      for (const go of reclaiming) go() // a change under way ends (no successor is spawned once closing)
      reclaiming.clear()
      clearInterval(tick)
      clearInterval(telemetryTick)
      nact.stop(telemetryRef)
      nact.stop(sessionsRef)
      nact.stop(ratesRef)
      nact.stop(routersRef)
      nact.stop(dispatcher.ref)
      await Promise.all([...lanes.values()].map((l) => l.connector.stop().catch((err) => log('warn', 'connector stop failed', { connector: l.connector.id, error: String(err) }))))
      nact.stop(connectorsRef)
      // What the delivery actor and the store were handed is written before they stop: the engine drains its binds'
      // windows before unbinding them, and the acks of those last deliver_sm reach the delivery actor just now; lost,
      // their receipts and MO would go to the ESME again after the restart. Bounded by STOP_FLUSH_MS.
      const until = Date.now() + STOP_FLUSH_MS
      while ((delivery.size() > 0 || storeActor.size() > 0 || (writer !== null && !writer.idle)) && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 2))
      }
      nact.stop(delivery.ref)
      nact.stop(storeActor.ref)
      nact.stop(root)
    },
  }
}
