/**
 * Bind states and the operation matrix (SMPP 3.4 §2.3, §2.4): which requests an ESME may send in
 * each state. The session answers anything else with ESME_RINVBNDSTS, and a bind in a bound
 * state with ESME_RALYBND. This table is the only place that says so.
 * OUTBOUND is a connection the SMSC opened and sent outbind on (SMPP 3.4 §2.2.1, §4.1.7;
 * engine/session/outbind.ts): the ESME may only bind as a receiver (or transceiver) there.
 */
import type { BindKind, CommandName } from '../protocol/constants'

export type BindState = 'OPEN' | 'OUTBOUND' | 'BOUND_TX' | 'BOUND_RX' | 'BOUND_TRX' | 'UNBOUND' | 'CLOSED'

export const BIND_COMMANDS: ReadonlyMap<CommandName, BindKind> = new Map([
  ['bind_transmitter', 'transmitter'],
  ['bind_receiver', 'receiver'],
  ['bind_transceiver', 'transceiver'],
] as [CommandName, BindKind][])

/**
 * Binds an ESME may answer an outbind with (SMPP 3.4 §4.1.7: bind_receiver; a transceiver receives
 * too, so it is accepted as well). A bind_transmitter there is ESME_RINVBNDSTS.
 */
export const OUTBOUND_KINDS: ReadonlySet<BindKind> = new Set<BindKind>(['receiver', 'transceiver'])

export const STATE_OF_KIND: Record<BindKind, BindState> = {
  transmitter: 'BOUND_TX',
  receiver: 'BOUND_RX',
  transceiver: 'BOUND_TRX',
}

/** Requests an ESME sends as a transmitter (SMPP 3.4 §2.4 table 2-1). */
const TX: CommandName[] = [
  'submit_sm', 'submit_multi', 'data_sm', 'query_sm', 'cancel_sm', 'replace_sm',
  'broadcast_sm', 'query_broadcast_sm', 'cancel_broadcast_sm',
]
const ANY_BOUND: CommandName[] = ['enquire_link', 'unbind', 'generic_nack']

/** Requests allowed from the ESME, per state. Responses are matched against the window instead. */
export const ALLOWED: Readonly<Record<BindState, ReadonlySet<CommandName>>> = {
  OPEN: new Set<CommandName>(['enquire_link', 'generic_nack']),
  // Besides the bind (OUTBOUND_KINDS), only the link check: everything else is ESME_RINVBNDSTS.
  OUTBOUND: new Set<CommandName>(['enquire_link', 'generic_nack']),
  BOUND_TX: new Set<CommandName>([...TX, ...ANY_BOUND]),
  // A receiver sends no submits; data_sm towards the SMSC is a transmitter operation.
  BOUND_RX: new Set<CommandName>(ANY_BOUND),
  BOUND_TRX: new Set<CommandName>([...TX, ...ANY_BOUND]),
  UNBOUND: new Set<CommandName>(['enquire_link', 'generic_nack']),
  CLOSED: new Set<CommandName>(),
}

export const isBound = (s: BindState): boolean => s === 'BOUND_TX' || s === 'BOUND_RX' || s === 'BOUND_TRX'
/** The SMSC may send deliver_sm only to receivers and transceivers (SMPP 3.4 §2.3). */
export const canReceive = (s: BindState): boolean => s === 'BOUND_RX' || s === 'BOUND_TRX'
