/**
 * Message types per actor, as discriminated unions so every `switch (msg.type)` is exhaustive.
 * Every message carries a batch: no actor receives one message per PDU.
 */
import type { CommitBatch, DeliveryItem } from '../engine/store'
import type { RefusedDelivery } from '../engine/session/session'
import type { Address, MessageRecord } from '../engine/message'
import type { Job } from './dispatcher'
import type { UpstreamReceipt } from './connectors/types'

export type StoreMsg =
  | { type: 'commit'; batch: CommitBatch; done: (err: Error | null) => void }
  /** a transaction ended with requests waiting: write them once the mailbox is drained (actors/group-commit.ts) */
  | { type: 'kick' }

export interface Outcome {
  id: string
  /** index into record.dests */
  dest: number
  /** message_state reached (ENROUTE for an intermediate notification) */
  state: number
  err: number
  /** The record's revision when the carrier took it; a replace_sm makes older outcomes stale. */
  rev?: number
  /** The subscriber was absent at an earlier attempt and is reachable now (alert_notification, SMPP 3.4 §4.12). */
  available?: boolean
  /** When the upstream says it ended (its receipt's done date, ms); else when the engine learnt it. */
  doneAt?: number
}

export type DispatcherMsg =
  | { type: 'submit'; records: MessageRecord[]; fresh: boolean }
  | { type: 'retry'; connector: string | null; jobs: Job[] }
  | { type: 'requeue'; jobs: Job[] }
  /** Connector `connector` came up (bound again, an HTTP one answering again): what backs off for it goes now. */
  | { type: 'wake'; connector: string }
  /** Connector `connector` restarted: take back what it held. */
  /** `begin` runs before the dispatcher takes anything back (a crash restart's lane drops what it got before), `done`
   *  after (a reload's successor of the connector is spawned only then). */
  | { type: 'reclaim'; connector: string; records: MessageRecord[]; begin?: () => void; done?: () => void }
  | { type: 'accepted'; connector: string; items: { id: string; dest: number; upstreamId: string }[] }
  | { type: 'receipts'; connector: string; items: UpstreamReceipt[]; stored: () => void }
  | { type: 'tick'; now: number }
  | { type: 'fault' }

export type ConnectorMsg =
  | { type: 'submit'; jobs: Job[] }
  | { type: 'pump' }
  | { type: 'down' }
  | { type: 'tick'; now: number }
  /** Receipts that came outside the connector's link (an HTTP provider's callback), by its ids. */
  | { type: 'receipts'; items: UpstreamReceipt[]; stored: () => void }
  /** After crash restart `gen`: the dispatcher begins to take back the old instance's work (it has what reached this one before). */
  | { type: 'reclaimed'; gen: number }
  | { type: 'fault' }

export type DeliveryMsg =
  /** `stored`, when given, is called once the outcomes' effects are committed (upstream receipts are acknowledged then). */
  /** `connector`: whose outcomes they are (none for the engine's own ends: expiry, no route left). */
  | { type: 'outcomes'; outcomes: Outcome[]; stored?: () => void; connector?: string }
  | { type: 'enqueue'; items: DeliveryItem[] }
  | { type: 'results'; ok: DeliveryItem[]; failed: DeliveryItem[]; refused: RefusedDelivery[] }
  | { type: 'bound'; systemId: string }
  /** What became of an MO's auto-reply (engine/index.ts moReply): written to the MO's record. */
  | { type: 'moReplied'; id: string; reply: { id: string } | { not: string } }
  | { type: 'tick'; now: number }
  /** An upstream's alert_notification for a subscriber `systemId` asked about (actors/dpf.ts). */
  | { type: 'alert'; systemId: string; ms: Address; esme: Address; status: number; connector: string }
  | { type: 'fault' }

export type SessionMsg =
  | { type: 'unbind'; reason: string }
  /** Test and admin hook: make the session actor fail, to prove a crash closes only that bind. */
  | { type: 'fault' }

export type SessionsMsg = { type: 'noop' }

/**
 * A batch of submits on its way in: session (or HTTP) → rate actor of the account → router actor →
 * store actor → answered. Each stage marks the records it refuses; the last one commits the rest.
 */
export interface AcceptJob {
  systemId: string
  records: MessageRecord[]
  /** per record: 0 while admitted so far, else the command_status it is refused with */
  statuses: number[]
  /** per record: records with the same number (the parts of one HTTP message) are admitted or refused together */
  groups: number[] | null
  /** per record: the pending messages it replaces (replace_if_present_flag), deleted in its commit if it is admitted */
  replaces?: (MessageRecord[] | undefined)[]
  /** daily quota state to persist with the batch (set by the rate actor) */
  quota?: { day: number; used: number }
  /** set by the rate actor when the account's reseller has a daily quota, which this batch counted in too */
  treeQuota?: true
  done(err: Error | null, statuses: number[]): void
}

/** End (exclusive) of the group that starts at record `i`: the parts of one HTTP message; alone without groups. */
export function groupEnd(groups: readonly number[] | null, i: number, n: number): number {
  let end = i + 1
  if (groups !== null) while (end < n && groups[end] === groups[i]) end++
  return end
}

export type RateMsg =
  /** `tree`: the gate of the account's reseller when that has a rate limit or a daily quota (they cap the reseller's whole tree) */
  | { type: 'admit'; job: AcceptJob; tree: import('./rate').RateGate | null }
  | { type: 'limits'; rateLimit: { perSecond: number; burst: number } | null; dailyQuota: number | null }

export type RouterMsg =
  | { type: 'route'; job: AcceptJob }
  | { type: 'tables'; tables: import('../engine/routing').RouteTables }
