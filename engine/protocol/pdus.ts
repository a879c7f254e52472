/**
 * THE PDU TABLE: one entry per SMPP command, body fields in spec order, and whether TLVs may
 * follow. The codec, the framer's checks, the session's dispatch and the compliance docs all read
 * this table; there is no other list of commands. Derived maps are built once, at module load.
 */
import { CommandId, type CommandName, RESPONSE_BIT } from './constants'
import { F, type FieldDef, destAddresses, shortMessage, unsuccessSmes } from './fields'

export interface PduDef {
  readonly name: CommandName
  readonly id: number
  readonly body: readonly FieldDef[]
  /** TLVs may follow the mandatory body. */
  readonly tlvs: boolean
}

type Table = { readonly [N in CommandName]: { readonly body: readonly FieldDef[]; readonly tlvs: boolean } }

const bind = [F.system_id, F.password, F.system_type, F.interface_version, F.addr_ton, F.addr_npi, F.address_range]
const bindResp = [F.system_id]
const sm = [
  F.service_type, F.source_addr_ton, F.source_addr_npi, F.source_addr21,
  F.dest_addr_ton, F.dest_addr_npi, F.destination_addr21,
  F.esm_class, F.protocol_id, F.priority_flag, F.schedule_delivery_time, F.validity_period,
  F.registered_delivery, F.replace_if_present_flag, F.data_coding, F.sm_default_msg_id, shortMessage,
]

const TABLE: Table = {
  generic_nack: { body: [], tlvs: false }, // SMPP 3.4 §4.3
  // SMPP 3.4 §4.1 bind operations; bind_*_resp may carry sc_interface_version (§4.1.2)
  bind_transmitter: { body: bind, tlvs: false },
  bind_transmitter_resp: { body: bindResp, tlvs: true },
  bind_receiver: { body: bind, tlvs: false },
  bind_receiver_resp: { body: bindResp, tlvs: true },
  bind_transceiver: { body: bind, tlvs: false },
  bind_transceiver_resp: { body: bindResp, tlvs: true },
  outbind: { body: [F.system_id, F.password], tlvs: false }, // §4.1.7
  unbind: { body: [], tlvs: false }, // §4.2
  unbind_resp: { body: [], tlvs: false },
  enquire_link: { body: [], tlvs: false }, // §4.11
  enquire_link_resp: { body: [], tlvs: false },
  submit_sm: { body: sm, tlvs: true }, // §4.4
  submit_sm_resp: { body: [F.message_id], tlvs: true }, // TLVs from SMPP 5.0 §4.2.1.2
  deliver_sm: { body: sm, tlvs: true }, // §4.6
  deliver_sm_resp: { body: [F.message_id], tlvs: true },
  // §4.7 data_sm: addresses are 65 octets here
  data_sm: {
    body: [
      F.service_type, F.source_addr_ton, F.source_addr_npi, F.source_addr65,
      F.dest_addr_ton, F.dest_addr_npi, F.destination_addr65, F.esm_class, F.registered_delivery, F.data_coding,
    ],
    tlvs: true,
  },
  data_sm_resp: { body: [F.message_id], tlvs: true },
  // §4.8 query_sm
  query_sm: { body: [F.message_id, F.source_addr_ton, F.source_addr_npi, F.source_addr21], tlvs: false },
  query_sm_resp: { body: [F.message_id, F.final_date, F.message_state, F.error_code], tlvs: false },
  // §4.9 cancel_sm
  cancel_sm: {
    body: [F.service_type, F.message_id, F.source_addr_ton, F.source_addr_npi, F.source_addr21,
      F.dest_addr_ton, F.dest_addr_npi, F.destination_addr21],
    tlvs: false,
  },
  cancel_sm_resp: { body: [], tlvs: false },
  // §4.10 replace_sm
  replace_sm: {
    body: [F.message_id, F.source_addr_ton, F.source_addr_npi, F.source_addr21, F.schedule_delivery_time,
      F.validity_period, F.registered_delivery, F.sm_default_msg_id, shortMessage],
    tlvs: true, // SMPP 5.0 §4.5.1.1 allows message_payload here
  },
  replace_sm_resp: { body: [], tlvs: false },
  // §4.5 submit_multi
  submit_multi: {
    body: [F.service_type, F.source_addr_ton, F.source_addr_npi, F.source_addr21, destAddresses,
      F.esm_class, F.protocol_id, F.priority_flag, F.schedule_delivery_time, F.validity_period,
      F.registered_delivery, F.replace_if_present_flag, F.data_coding, F.sm_default_msg_id, shortMessage],
    tlvs: true,
  },
  submit_multi_resp: { body: [F.message_id, unsuccessSmes], tlvs: true },
  // §4.12 alert_notification
  alert_notification: {
    body: [F.source_addr_ton, F.source_addr_npi, F.source_addr65, F.esme_addr_ton, F.esme_addr_npi, F.esme_addr],
    tlvs: true,
  },
  // SMPP 5.0 §4.6 broadcast operations
  broadcast_sm: {
    body: [F.service_type, F.source_addr_ton, F.source_addr_npi, F.source_addr21, F.message_id,
      F.priority_flag, F.schedule_delivery_time, F.validity_period, F.replace_if_present_flag,
      F.data_coding, F.sm_default_msg_id],
    tlvs: true,
  },
  broadcast_sm_resp: { body: [F.message_id], tlvs: true },
  query_broadcast_sm: { body: [F.message_id, F.source_addr_ton, F.source_addr_npi, F.source_addr21], tlvs: true },
  query_broadcast_sm_resp: { body: [F.message_id], tlvs: true },
  cancel_broadcast_sm: {
    body: [F.service_type, F.message_id, F.source_addr_ton, F.source_addr_npi, F.source_addr21],
    tlvs: true,
  },
  cancel_broadcast_sm_resp: { body: [], tlvs: false },
}

export const PDUS: { readonly [N in CommandName]: PduDef } = Object.fromEntries(
  (Object.keys(TABLE) as CommandName[]).map((name) => [name, { name, id: CommandId[name], ...TABLE[name] }]),
) as { readonly [N in CommandName]: PduDef }

/** command_id → definition. */
export const PDU_BY_ID: ReadonlyMap<number, PduDef> = new Map(Object.values(PDUS).map((d) => [d.id, d]))

const RESPONSE_OF: ReadonlyMap<CommandName, CommandName> = new Map(
  Object.values(PDUS).flatMap((d) => {
    const r = PDU_BY_ID.get((d.id | RESPONSE_BIT) >>> 0)
    return r && r !== d && r.name !== 'generic_nack' ? [[d.name, r.name] as [CommandName, CommandName]] : []
  }),
)

/** Request name → its response name (every request has one, except outbind and alert_notification). */
export function responseOf(name: CommandName): CommandName | undefined {
  return RESPONSE_OF.get(name)
}

export function isResponseId(commandId: number): boolean {
  return (commandId & RESPONSE_BIT) !== 0
}
