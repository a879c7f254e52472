/**
 * The actor system and its supervision tree, with start and stop order written down here and
 * nowhere else (STYLE §10.3, ranch-style: start top→down, stop bottom→up).
 *
 *   smsc (nact system)
 *   ├── store      permanent  restartWithBudget(3, 10 s) → escalate   group commit to LMDB (one transaction in flight)
 *   ├── carrier    permanent  restartWithBudget(5, 10 s) → escalate   simulated carrier (default route)
 *   ├── delivery   permanent  restartWithBudget(5, 10 s) → escalate   receipts and MO to ESMEs
 *   ├── sessions   permanent  parent of the binds
 *   │   └── session-<n>  temporary: a crash closes that connection only; the ESME rebinds
 *   └── telemetry  transient  resume: builds the telemetry frames each interval; never takes traffic down
 *
 * The listener (engine/transport/listener.ts) is started after this tree exists and stopped
 * before it is torn down, so traffic only arrives once store, carrier and delivery are up.
 * Escalation past a permanent actor's budget reaches the system root, which stops the engine:
 * an SMSC that cannot store must not keep acknowledging.
 */
// nact ships loose typings; this module is the only place that touches its API.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const nact = require('nact') as {
  start(...plugins: unknown[]): unknown
  spawn(parent: unknown, f: (state: any, msg: any, ctx: any) => any, name: string, props?: Record<string, unknown>): ActorRef
  dispatch(ref: ActorRef, msg: unknown): void
  stop(ref: unknown): void
}
import type { LogFn } from '../engine/log'
import type { CommitBatch, DeliveryItem, Store } from '../engine/store'
import type { Session } from '../engine/session/session'
import type { MessageRecord } from '../engine/message'
import type { ResolvedOptions } from '../engine/config'
import { SimulatedCarrier } from './carrier'
import { Delivery } from './delivery'
import { GroupCommit } from './group-commit'
import type { CarrierMsg, DeliveryMsg, SessionMsg, StoreMsg } from './messages'
import { resume, restartWithBudget, temporary } from './supervision'
import type { Metrics } from '../engine/telemetry'

export type ActorRef = { readonly name: string; readonly path: unknown }

export interface ActorDeps {
  options: ResolvedOptions
  store: Store
  log: LogFn
  now(): number
  receivers(systemId: string): Session[]
  metrics: Metrics
  /** Builds and publishes the telemetry frames of one tick (the telemetry actor calls it). */
  publishTelemetry(): void
  telemetryIntervalMs: number
  /** Called when a permanent actor has spent its restart budget. */
  fatal(err: unknown): void
}

export interface ActorSystem {
  commit(batch: CommitBatch, done: (err: Error | null) => void): void
  /** `fresh` false for records the carrier had before (replace_sm): no second intermediate notification. */
  carrierSubmit(records: MessageRecord[], fresh?: boolean): void
  enqueue(items: DeliveryItem[]): void
  deliveryResults(ok: DeliveryItem[], failed: DeliveryItem[]): void
  bound(systemId: string): void
  spawnSession(s: Session): ActorRef
  sessionMsg(ref: ActorRef, msg: SessionMsg): void
  stopSession(ref: ActorRef): void
  /** Test hook: make a permanent actor throw once. */
  fault(actor: 'carrier' | 'delivery'): void
  /** Live counters for health and telemetry. */
  stats(): { carrierInFlight: number }
  stop(): void
}

const TICK_MS = 20

export function startActors(d: ActorDeps): ActorSystem {
  const root = nact.start()
  const { log } = d
  let carrierRef: ActorRef
  let deliveryRef: ActorRef
  let carrierState: SimulatedCarrier | null = null

  // 1. store: group commit; one write transaction in flight, later requests join the next one.
  const makeWriter = () => new GroupCommit(d.store,
    (ms) => d.metrics.commitLatency.record(ms * 1000),
    (err) => log('error', 'a commit callback failed', { error: String((err as Error)?.stack ?? err) }))
  const storeRef = nact.spawn(root, (state: GroupCommit, msg: StoreMsg) => {
    switch (msg.type) {
      case 'commit':
        state.add(msg.batch, msg.done)
        return state
    }
  }, 'store', { initialStateFunc: makeWriter, onCrash: restartWithBudget('store', 3, 10_000, log, d.fatal) })

  const commit = (batch: CommitBatch, done: (err: Error | null) => void) => nact.dispatch(storeRef, { type: 'commit', batch, done } satisfies StoreMsg)

  // 2. carrier: rebuilt from the store's active messages on every (re)start.
  const makeCarrier = () => {
    const c = new SimulatedCarrier(d.options.simulator, (outcomes) => nact.dispatch(deliveryRef, { type: 'outcomes', outcomes } satisfies DeliveryMsg), d.now())
    const active = d.store.activeMessages() as MessageRecord[]
    if (active.length > 0) {
      c.submit(active, d.now(), false)
      log('info', 'carrier recovered active messages', { count: active.length })
    }
    carrierState = c
    return c
  }
  carrierRef = nact.spawn(root, (state: SimulatedCarrier, msg: CarrierMsg) => {
    switch (msg.type) {
      case 'submit': state.submit(msg.records, d.now(), msg.fresh); return state
      case 'tick': state.tick(msg.now); return state
      case 'fault': throw new Error('injected carrier fault')
    }
  }, 'carrier', { initialStateFunc: makeCarrier, onCrash: restartWithBudget('carrier', 5, 10_000, log, d.fatal) })

  // 3. delivery: queues rebuilt from the store on every (re)start.
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
    enqueueLater: (items) => nact.dispatch(deliveryRef, { type: 'enqueue', items } satisfies DeliveryMsg),
    now: d.now,
    redeliveryMs: d.options.receipts.redeliveryMs,
    maxAgeMs: d.options.receipts.maxAgeMs,
    multipart: d.options.receipts.multipart,
    log,
    metrics: d.metrics,
  })
  deliveryRef = nact.spawn(root, (state: Delivery, msg: DeliveryMsg) => {
    switch (msg.type) {
      case 'outcomes': state.outcomes(msg.outcomes); return state
      case 'enqueue': state.enqueue(msg.items); return state
      case 'results': state.results(msg.ok, msg.failed); return state
      case 'bound': state.pump(msg.systemId); return state
      case 'tick': state.tick(msg.now); return state
      case 'fault': throw new Error('injected delivery fault')
    }
  }, 'delivery', { initialStateFunc: makeDelivery, onCrash: restartWithBudget('delivery', 5, 10_000, log, d.fatal) })

  // 4. sessions: parent of the binds; a child's crash policy is `temporary`.
  const sessionsRef = nact.spawn(root, (state: null) => state, 'sessions', {
    initialState: null,
    onCrash: restartWithBudget('sessions', 3, 10_000, log, d.fatal),
  })

  // 5. telemetry: builds and publishes one frame set per interval; an error never stops traffic.
  const telemetryRef = nact.spawn(root, (state: null, msg: { type: 'tick' }) => {
    if (msg.type === 'tick') d.publishTelemetry()
    return state
  }, 'telemetry', { initialState: null, onCrash: resume('telemetry', log) })
  const telemetryTick = setInterval(() => nact.dispatch(telemetryRef, { type: 'tick' }), d.telemetryIntervalMs)
  telemetryTick.unref()
  d.metrics.event('connector_up', { detail: 'simulated carrier' })

  // One coarse tick drives the carrier's buckets and the delivery retries.
  const tick = setInterval(() => {
    const now = d.now()
    nact.dispatch(carrierRef, { type: 'tick', now } satisfies CarrierMsg)
    nact.dispatch(deliveryRef, { type: 'tick', now } satisfies DeliveryMsg)
  }, TICK_MS)
  tick.unref()

  return {
    commit,
    carrierSubmit: (records, fresh = true) => nact.dispatch(carrierRef, { type: 'submit', records, fresh } satisfies CarrierMsg),
    enqueue: (items) => nact.dispatch(deliveryRef, { type: 'enqueue', items } satisfies DeliveryMsg),
    deliveryResults: (ok, failed) => nact.dispatch(deliveryRef, { type: 'results', ok, failed } satisfies DeliveryMsg),
    bound: (systemId) => nact.dispatch(deliveryRef, { type: 'bound', systemId } satisfies DeliveryMsg),
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
    fault: (actor) => nact.dispatch(actor === 'carrier' ? carrierRef : deliveryRef, { type: 'fault' }),
    stats: () => ({ carrierInFlight: carrierState?.inFlight ?? 0 }),
    stop: () => {
      // Stop order, bottom→up: tick, sessions (already unbound by the caller), delivery, carrier, store.
      clearInterval(tick)
      clearInterval(telemetryTick)
      nact.stop(telemetryRef)
      nact.stop(sessionsRef)
      nact.stop(deliveryRef)
      nact.stop(carrierRef)
      nact.stop(storeRef)
      nact.stop(root)
    },
  }
}
