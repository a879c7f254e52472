/**
 * The connector contract: what the engine hands a connector (one destination of one stored message)
 * and what a connector reports back. Every call carries a batch. Kinds: the simulated carrier, an
 * upstream SMPP client (the engine binds as an ESME to another SMSC) and an HTTP poster.
 *
 * Ownership: a connector owns its link (socket, HTTP agent), its window and its rate; the dispatcher
 * (actors/dispatcher.ts) owns scheduling, retries with back-off, failover and expiry; the delivery
 * actor turns outcomes into receipts. A connector never touches the store: it reports through
 * ConnectorEvents and the engine persists.
 */
import type { MessageRecord, Sar } from '../../engine/message'
import type { ConnectorRetryReason } from '../../engine/telemetry'

/** One destination of one accepted message. */
export interface Dispatch {
  record: MessageRecord
  /** index into record.dests */
  dest: number
}

/** A state reached by one destination (final, or ENROUTE for an intermediate notification). */
export interface ConnectorOutcome {
  id: string
  dest: number
  /** message_state (SMPP 3.4 §5.2.28) */
  state: number
  /** network or upstream error code, carried in the receipt's err: field */
  err: number
  /** revision of the record when it was dispatched (replace_sm makes older outcomes stale) */
  rev?: number
  /** the subscriber was absent at an earlier attempt and is reachable now (alert_notification) */
  available?: boolean
}

/** A receipt the upstream sent for a message it accepted, by the upstream's message id. */
export interface UpstreamReceipt {
  /** receipted_message_id (SMPP 3.4 §5.3.2.12), else the id: of the receipt text */
  upstreamId: string
  /** the id: of the receipt text, when the PDU has receipted_message_id too and the two differ (tried when upstreamId matches nothing) */
  textId?: string
  state: number
  err: number
  /** when the upstream says the message ended (ms since the epoch): the receipt's done date; else when it came */
  doneAt?: number
}

/** An MO the upstream delivered (deliver_sm / data_sm that is not a receipt). */
export interface InboundMo {
  from: [number, number, string]
  to: [number, number, string]
  esmClass: number
  dataCoding: number
  /** short_message or message_payload, UDH included when esmClass has UDHI */
  sm: Buffer
  /** A part of a concatenated MO sent with the SAR TLVs instead of a UDH (SMPP 3.4 §5.3.2.22–24): all three given. */
  sar?: Sar
}

/**
 * An alert_notification the upstream sent (SMPP 3.4 §4.12): subscriber `ms` is reachable again; `esme` is
 * the address the upstream says asked for it (the source of the message we submitted with set_dpf 1).
 */
export interface UpstreamAlert {
  ms: [number, number, string]
  esme: [number, number, string]
  /** ms_availability_status (§5.3.2.30): 0 available (the default), 1 denied, 2 unavailable */
  status: number
}

export interface ConnectorEvents {
  /** Final (or intermediate) states known at once: simulator outcomes, HTTP 2xx/4xx, permanent SMPP refusals. */
  outcomes(outcomes: ConnectorOutcome[]): void
  /** The upstream took these and answered with its own ids: the engine maps them for receipts. */
  accepted(items: { id: string; dest: number; upstreamId: string }[]): void
  /**
   * Temporary failures (link down, ESME_RTHROTTLED, ESME_RMSGQFUL, timeouts, HTTP 5xx): retry later. `counted`: the
   * reason smsc_connector_retries_total counts them under (an smpp connector's refusals and time-outs; not a lost link).
   */
  retry(items: Dispatch[], reason: string, counted?: ConnectorRetryReason): void
  /**
   * Receipts from the upstream, by its ids. `stored` is called once the engine has committed what
   * they caused: only then does the connector acknowledge them upstream (deliver_sm_resp), so an
   * acknowledged receipt is never lost. Not called when the commit fails: the upstream sends again.
   */
  receipts(items: UpstreamReceipt[], stored: () => void): void
  /**
   * Mobile-originated messages from the upstream; `settled` as `stored` for receipts, with a command_status
   * per item for its deliver_sm_resp: 0 once committed, non-zero for an MO the engine refuses (no MO route).
   */
  mo(items: InboundMo[], settled: (statuses: readonly number[]) => void): void
  /** alert_notification PDUs from the upstream (no response PDU exists): the engine relays them to the accounts that asked. */
  alerts?(items: UpstreamAlert[]): void
  /** Link state changes (for failover, telemetry events and /api/v1/connectors). */
  up(): void
  down(reason: string): void
}

export interface ConnectorStats {
  id: string
  kind: 'simulator' | 'smpp' | 'http'
  up: boolean
  /** dispatched, not yet answered */
  inFlight: number
  /** submits the upstream accepted / refused since start */
  sent: number
  failed: number
  /** Until when (ISO-8601) its submits are paused because its upstream throttled it (ESME_RTHROTTLED, ESME_RMSGQFUL, HTTP 429); null when not paused. */
  paused: string | null
  /** smpp: its last link was dropped for a stall (submit_sm unanswered), and no submit has been answered since (down, or bound again on trial). */
  stalled?: boolean
  /** smpp, while stalled: when its link was first dropped for the stall (ISO-8601), and the submit_sm in a row unanswered that made the last drop. */
  stalledSince?: string
  stalledTimeouts?: number
}

export interface Connector {
  readonly id: string
  readonly kind: 'simulator' | 'smpp' | 'http'
  /** true while the connector can take traffic (bound, or for HTTP: not in a failure pause). */
  readonly up: boolean
  /**
   * Up, but taking no submits for a while: its upstream throttled it (throttlePauseMs: an smpp connector's
   * ESME_RTHROTTLED / ESME_RMSGQFUL, an http one's 429). The
   * dispatcher sends elsewhere what has another candidate up; the rest waits in its lane for the pause to end.
   */
  readonly paused?: boolean
  /**
   * Down, but willing to take ONE item now to find out whether the link is back (the HTTP connector
   * has no link to watch: with traffic waiting, a request is its probe; without, it probes the provider
   * on its own, probeMs). Connectors with a link leave it undefined.
   */
  readonly probing?: boolean
  /** Starts connecting; events flow from here on. */
  start(): void
  /**
   * Takes what it can now (window, rate limit) and returns the rest, which the dispatcher offers
   * again on a later tick. Called with batches only.
   */
  submit(items: Dispatch[], now: number): Dispatch[]
  /** The engine's coarse tick (every 20 ms): rate buckets, timers, retries of the link. */
  tick(now: number): void
  stats(): ConnectorStats
  /**
   * Receipts that reached the engine outside the link (an HTTP provider's callback): the connector passes them
   * on through ConnectorEvents.receipts once it has reported what they may depend on (its answers' ids).
   */
  callbackReceipts?(items: UpstreamReceipt[], stored: () => void): void
  /** Unbinds/closes; in-flight items are reported through retry() before it resolves. */
  stop(): Promise<void>
}
