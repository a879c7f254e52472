/**
 * SMPP wire constants: command ids, command_status values, and the small enumerations the engine
 * checks against. Pure data, no I/O; the PDU and TLV tables (pdus.ts, tlvs.ts) build on these.
 * Names follow the spec's spelling (SMPP 3.4 §5.1.2, §5.1.3; SMPP 5.0 §4.7.6).
 */

export const HEADER_LENGTH = 16
export const RESPONSE_BIT = 0x80000000
export const MAX_SEQUENCE = 0x7fffffff
/** Default cap on command_length; the framer never allocates more than this. */
export const DEFAULT_MAX_PDU_LENGTH = 64 * 1024

/** command_id values (SMPP 3.4 §5.1.2.1, SMPP 5.0 §4.7.5). */
export const CommandId = {
  generic_nack: 0x80000000,
  bind_receiver: 0x00000001,
  bind_receiver_resp: 0x80000001,
  bind_transmitter: 0x00000002,
  bind_transmitter_resp: 0x80000002,
  query_sm: 0x00000003,
  query_sm_resp: 0x80000003,
  submit_sm: 0x00000004,
  submit_sm_resp: 0x80000004,
  deliver_sm: 0x00000005,
  deliver_sm_resp: 0x80000005,
  unbind: 0x00000006,
  unbind_resp: 0x80000006,
  replace_sm: 0x00000007,
  replace_sm_resp: 0x80000007,
  cancel_sm: 0x00000008,
  cancel_sm_resp: 0x80000008,
  bind_transceiver: 0x00000009,
  bind_transceiver_resp: 0x80000009,
  outbind: 0x0000000b,
  enquire_link: 0x00000015,
  enquire_link_resp: 0x80000015,
  submit_multi: 0x00000021,
  submit_multi_resp: 0x80000021,
  alert_notification: 0x00000102,
  data_sm: 0x00000103,
  data_sm_resp: 0x80000103,
  broadcast_sm: 0x00000111,
  broadcast_sm_resp: 0x80000111,
  query_broadcast_sm: 0x00000112,
  query_broadcast_sm_resp: 0x80000112,
  cancel_broadcast_sm: 0x00000113,
  cancel_broadcast_sm_resp: 0x80000113,
} as const
export type CommandName = keyof typeof CommandId

/** command_status values (SMPP 3.4 §5.1.3, SMPP 5.0 §4.7.6). Wire statuses are data, never thrown. */
export const CommandStatus = {
  ESME_ROK: 0x00,
  ESME_RINVMSGLEN: 0x01,
  ESME_RINVCMDLEN: 0x02,
  ESME_RINVCMDID: 0x03,
  ESME_RINVBNDSTS: 0x04,
  ESME_RALYBND: 0x05,
  ESME_RINVPRTFLG: 0x06,
  ESME_RINVREGDLVFLG: 0x07,
  ESME_RSYSERR: 0x08,
  ESME_RINVSRCADR: 0x0a,
  ESME_RINVDSTADR: 0x0b,
  ESME_RINVMSGID: 0x0c,
  ESME_RBINDFAIL: 0x0d,
  ESME_RINVPASWD: 0x0e,
  ESME_RINVSYSID: 0x0f,
  ESME_RCANCELFAIL: 0x11,
  ESME_RREPLACEFAIL: 0x13,
  ESME_RMSGQFUL: 0x14,
  ESME_RINVSERTYP: 0x15,
  ESME_RINVNUMDESTS: 0x33,
  ESME_RINVDLNAME: 0x34,
  ESME_RINVDESTFLAG: 0x40,
  ESME_RINVSUBREP: 0x42,
  ESME_RINVESMCLASS: 0x43,
  ESME_RCNTSUBDL: 0x44,
  ESME_RSUBMITFAIL: 0x45,
  ESME_RINVSRCTON: 0x48,
  ESME_RINVSRCNPI: 0x49,
  ESME_RINVDSTTON: 0x50,
  ESME_RINVDSTNPI: 0x51,
  ESME_RINVSYSTYP: 0x53,
  ESME_RINVREPFLAG: 0x54,
  ESME_RINVNUMMSGS: 0x55,
  ESME_RTHROTTLED: 0x58,
  ESME_RINVSCHED: 0x61,
  ESME_RINVEXPIRY: 0x62,
  ESME_RINVDFTMSGID: 0x63,
  ESME_RX_T_APPN: 0x64,
  ESME_RX_P_APPN: 0x65,
  ESME_RX_R_APPN: 0x66,
  ESME_RQUERYFAIL: 0x67,
  ESME_RINVTLVSTREAM: 0xc0,
  ESME_RTLVNOTALLWD: 0xc1,
  ESME_RINVTLVLEN: 0xc2,
  ESME_RMISSINGTLV: 0xc3,
  ESME_RINVTLVVAL: 0xc4,
  ESME_RDELIVERYFAILURE: 0xfe,
  ESME_RUNKNOWNERR: 0xff,
  // SMPP 5.0 additions
  ESME_RSERTYPUNAUTH: 0x100,
  ESME_RPROHIBITED: 0x101,
  ESME_RSERTYPUNAVAIL: 0x102,
  ESME_RSERTYPDENIED: 0x103,
  ESME_RINVDCS: 0x104,
  ESME_RINVSRCADDRSUBUNIT: 0x105,
  ESME_RINVDSTADDRSUBUNIT: 0x106,
  ESME_RINVBCASTFREQINT: 0x107,
  ESME_RINVBCASTALIAS_NAME: 0x108,
  ESME_RINVBCASTAREAFMT: 0x109,
  ESME_RINVNUMBCAST_AREAS: 0x10a,
  ESME_RINVBCASTCNTTYPE: 0x10b,
  ESME_RINVBCASTMSGCLASS: 0x10c,
  ESME_RBCASTFAIL: 0x10d,
  ESME_RBCASTQUERYFAIL: 0x10e,
  ESME_RBCASTCANCELFAIL: 0x10f,
  ESME_RINVBCAST_REP: 0x110,
  ESME_RINVBCASTSRVGRP: 0x111,
  ESME_RINVBCASTCHANIND: 0x112,
  // Vendor-specific (SMPP 3.4 §5.1.3 reserves 0x400–0x4FF for SMSC vendor errors): this engine's own
  SMSC_RNOCREDIT: 0x401, // the account's prepaid credit does not cover the message
  SMSC_RQUOTA: 0x402, // the account's daily quota is used up
  SMSC_ROPTEDOUT: 0x403, // the destination is on an opt-out list (engine/optouts.ts): the subscriber asked for no more
} as const
export type StatusName = keyof typeof CommandStatus

/** Status number → spec name, for logs and telemetry. Built once. */
export const STATUS_NAME: ReadonlyMap<number, StatusName> = new Map(
  (Object.entries(CommandStatus) as [StatusName, number][]).map(([k, v]) => [v, k]),
)
export function statusName(status: number): string {
  return STATUS_NAME.get(status) ?? `0x${status.toString(16).padStart(8, '0')}`
}

/** interface_version (SMPP 3.4 §5.2.4). */
export const InterfaceVersion = { V33: 0x33, V34: 0x34, V50: 0x50 } as const

/** esm_class bits (SMPP 3.4 §5.2.12). */
export const EsmClass = {
  MODE_MASK: 0x03,
  TYPE_MASK: 0x3c,
  MC_DELIVERY_RECEIPT: 0x04,
  INTERMEDIATE_NOTIFICATION: 0x20,
  UDHI: 0x40,
  REPLY_PATH: 0x80,
} as const

/** registered_delivery bits (SMPP 3.4 §5.2.17; 0x03 success-only is SMPP 5.0 §4.7.21). */
export const RegisteredDelivery = {
  RECEIPT_MASK: 0x03,
  NONE: 0x00,
  FINAL: 0x01,
  FAILURE: 0x02,
  SUCCESS: 0x03,
  INTERMEDIATE: 0x10,
} as const

/** message_state (SMPP 3.4 §5.2.28). 0 is our own "scheduled, not yet due". */
export const MessageState = {
  SCHEDULED: 0,
  ENROUTE: 1,
  DELIVERED: 2,
  EXPIRED: 3,
  DELETED: 4,
  UNDELIVERABLE: 5,
  ACCEPTED: 6,
  UNKNOWN: 7,
  REJECTED: 8,
  SKIPPED: 9,
} as const

/** Bind kinds, by their request command. */
export type BindKind = 'transmitter' | 'receiver' | 'transceiver'
