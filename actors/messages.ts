/**
 * Message types per actor, as discriminated unions so every `switch (msg.type)` is exhaustive.
 * Every message carries a batch: no actor receives one message per PDU.
 */
import type { CommitBatch, DeliveryItem } from '../engine/store'
import type { MessageRecord } from '../engine/message'

export type StoreMsg = { type: 'commit'; batch: CommitBatch; done: (err: Error | null) => void }

export interface Outcome {
  id: string
  /** index into record.dests */
  dest: number
  /** message_state reached (ENROUTE for an intermediate notification) */
  state: number
  err: number
  /** The record's revision when the carrier took it; a replace_sm makes older outcomes stale. */
  rev?: number
}

export type CarrierMsg =
  | { type: 'submit'; records: MessageRecord[]; fresh: boolean }
  | { type: 'tick'; now: number }
  | { type: 'fault' }

export type DeliveryMsg =
  | { type: 'outcomes'; outcomes: Outcome[] }
  | { type: 'enqueue'; items: DeliveryItem[] }
  | { type: 'results'; ok: DeliveryItem[]; failed: DeliveryItem[] }
  | { type: 'bound'; systemId: string }
  | { type: 'tick'; now: number }
  | { type: 'fault' }

export type SessionMsg =
  | { type: 'unbind'; reason: string }
  /** Test and admin hook: make the session actor fail, to prove a crash closes only that bind. */
  | { type: 'fault' }

export type SessionsMsg = { type: 'noop' }
