/**
 * Field descriptors for the PDU table. A field says how its bytes are laid out and which
 * command_status answers a violation, so every length check in the codec is data, decided here
 * and nowhere else. The codec (codec.ts) walks these descriptors; it has no per-command code.
 */
import { CommandStatus as S } from './constants'

export type FieldDef =
  | { kind: 'u8' | 'u16' | 'u32'; name: string; status: number }
  /** C-Octet String; `max` includes the terminating NUL, as the spec counts it (SMPP 3.4 §3.1). */
  | { kind: 'cstring'; name: string; max: number; status: number }
  /** sm_length (1 octet) followed by short_message (SMPP 3.4 §5.2.21, §5.2.22): at most 254 octets. */
  | { kind: 'sm'; name: 'short_message' }
  /** submit_multi dest_address list, preceded by number_of_dests (SMPP 3.4 §4.5.1.1). */
  | { kind: 'dest_addresses'; name: 'dest_addresses' }
  /** submit_multi_resp unsuccess_sme list, preceded by no_unsuccess (SMPP 3.4 §4.5.2). */
  | { kind: 'unsuccess_smes'; name: 'unsuccess_smes' }

export const u8 = (name: string, status: number = S.ESME_RINVCMDLEN): FieldDef => ({ kind: 'u8', name, status })
export const u16 = (name: string, status: number = S.ESME_RINVCMDLEN): FieldDef => ({ kind: 'u16', name, status })
export const u32 = (name: string, status: number = S.ESME_RINVCMDLEN): FieldDef => ({ kind: 'u32', name, status })
export const cstring = (name: string, max: number, status: number): FieldDef => ({ kind: 'cstring', name, max, status })
export const shortMessage: FieldDef = { kind: 'sm', name: 'short_message' }
export const destAddresses: FieldDef = { kind: 'dest_addresses', name: 'dest_addresses' }
export const unsuccessSmes: FieldDef = { kind: 'unsuccess_smes', name: 'unsuccess_smes' }

/** Maximum short_message length in octets (SMPP 3.4 §5.2.22). */
export const MAX_SHORT_MESSAGE = 254
/** number_of_dests upper bound (SMPP 3.4 §5.2.24: up to 254 destinations). */
export const MAX_DESTS = 254

/** A submit_multi destination: an SME address (dest_flag 1) or a distribution list (dest_flag 2). */
export type DestAddress =
  | { dest_flag: 1; dest_addr_ton: number; dest_addr_npi: number; destination_addr: string }
  | { dest_flag: 2; dl_name: string }

export interface UnsuccessSme {
  dest_addr_ton: number
  dest_addr_npi: number
  destination_addr: string
  error_status_code: number
}

// Reused descriptors, one per spec field, with the status that answers a bad value.
export const F = {
  service_type: cstring('service_type', 6, S.ESME_RINVSERTYP),
  source_addr_ton: u8('source_addr_ton', S.ESME_RINVSRCTON),
  source_addr_npi: u8('source_addr_npi', S.ESME_RINVSRCNPI),
  source_addr21: cstring('source_addr', 21, S.ESME_RINVSRCADR),
  source_addr65: cstring('source_addr', 65, S.ESME_RINVSRCADR),
  dest_addr_ton: u8('dest_addr_ton', S.ESME_RINVDSTTON),
  dest_addr_npi: u8('dest_addr_npi', S.ESME_RINVDSTNPI),
  destination_addr21: cstring('destination_addr', 21, S.ESME_RINVDSTADR),
  destination_addr65: cstring('destination_addr', 65, S.ESME_RINVDSTADR),
  esm_class: u8('esm_class', S.ESME_RINVESMCLASS),
  protocol_id: u8('protocol_id'),
  priority_flag: u8('priority_flag', S.ESME_RINVPRTFLG),
  schedule_delivery_time: cstring('schedule_delivery_time', 17, S.ESME_RINVSCHED),
  validity_period: cstring('validity_period', 17, S.ESME_RINVEXPIRY),
  registered_delivery: u8('registered_delivery', S.ESME_RINVREGDLVFLG),
  replace_if_present_flag: u8('replace_if_present_flag', S.ESME_RINVREPFLAG),
  data_coding: u8('data_coding', S.ESME_RINVDCS),
  sm_default_msg_id: u8('sm_default_msg_id', S.ESME_RINVDFTMSGID),
  message_id: cstring('message_id', 65, S.ESME_RINVMSGID),
  system_id: cstring('system_id', 16, S.ESME_RINVSYSID),
  password: cstring('password', 9, S.ESME_RINVPASWD),
  system_type: cstring('system_type', 13, S.ESME_RINVSYSTYP),
  interface_version: u8('interface_version'),
  addr_ton: u8('addr_ton', S.ESME_RINVSRCTON),
  addr_npi: u8('addr_npi', S.ESME_RINVSRCNPI),
  address_range: cstring('address_range', 41, S.ESME_RINVSRCADR),
  final_date: cstring('final_date', 17, S.ESME_RINVCMDLEN),
  message_state: u8('message_state'),
  error_code: u8('error_code'),
  esme_addr_ton: u8('esme_addr_ton', S.ESME_RINVDSTTON),
  esme_addr_npi: u8('esme_addr_npi', S.ESME_RINVDSTNPI),
  esme_addr: cstring('esme_addr', 65, S.ESME_RINVDSTADR),
} as const
