/**
 * THE TLV TABLE: tag, spec name and value codec for every optional parameter of SMPP 3.4 §5.3.2
 * and the SMPP 5.0 additions (§4.8.4). Unknown tags are not an error: they round-trip as raw
 * bytes in `pdu.unknown_tlvs`. Derived maps are built once at module load.
 */

export type TlvType =
  | 'u8' | 'u16' | 'u32'
  /** C-Octet String with a maximum length including the NUL. */
  | 'cstring'
  /** Raw octets (Buffer). */
  | 'octets'
  /** Zero-length flag; value `true`. */
  | 'flag'

export interface TlvDef {
  readonly tag: number
  readonly name: string
  readonly type: TlvType
  /** For cstring/octets: maximum value length in octets. */
  readonly max?: number
  /** For octets with a fixed size. */
  readonly size?: number
  /** The tag may occur more than once (value is then an array). */
  readonly multiple?: boolean
}

const T = (tag: number, name: string, type: TlvType, extra: Partial<TlvDef> = {}): TlvDef => ({ tag, name, type, ...extra })

export const TLVS: readonly TlvDef[] = [
  // SMPP 3.4 §5.3.2
  T(0x0005, 'dest_addr_subunit', 'u8'),
  T(0x0006, 'dest_network_type', 'u8'),
  T(0x0007, 'dest_bearer_type', 'u8'),
  T(0x0008, 'dest_telematics_id', 'u16'),
  T(0x000d, 'source_addr_subunit', 'u8'),
  T(0x000e, 'source_network_type', 'u8'),
  T(0x000f, 'source_bearer_type', 'u8'),
  T(0x0010, 'source_telematics_id', 'u8'),
  T(0x0017, 'qos_time_to_live', 'u32'),
  T(0x0019, 'payload_type', 'u8'),
  T(0x001d, 'additional_status_info_text', 'cstring', { max: 256 }),
  T(0x001e, 'receipted_message_id', 'cstring', { max: 65 }),
  T(0x0030, 'ms_msg_wait_facilities', 'u8'),
  T(0x0201, 'privacy_indicator', 'u8'),
  T(0x0202, 'source_subaddress', 'octets', { max: 23 }),
  T(0x0203, 'dest_subaddress', 'octets', { max: 23 }),
  T(0x0204, 'user_message_reference', 'u16'),
  T(0x0205, 'user_response_code', 'u8'),
  T(0x020a, 'source_port', 'u16'),
  T(0x020b, 'destination_port', 'u16'),
  T(0x020c, 'sar_msg_ref_num', 'u16'),
  T(0x020d, 'language_indicator', 'u8'),
  T(0x020e, 'sar_total_segments', 'u8'),
  T(0x020f, 'sar_segment_seqnum', 'u8'),
  T(0x0210, 'sc_interface_version', 'u8'),
  T(0x0302, 'callback_num_pres_ind', 'u8'),
  T(0x0303, 'callback_num_atag', 'octets', { max: 65 }),
  T(0x0304, 'number_of_messages', 'u8'),
  T(0x0381, 'callback_num', 'octets', { max: 19 }),
  T(0x0420, 'dpf_result', 'u8'),
  T(0x0421, 'set_dpf', 'u8'),
  T(0x0422, 'ms_availability_status', 'u8'),
  /** 3 octets: network type (1) + error code (2), SMPP 3.4 §5.3.2.31. */
  T(0x0423, 'network_error_code', 'octets', { size: 3 }),
  T(0x0424, 'message_payload', 'octets', { max: 0xffff }),
  T(0x0425, 'delivery_failure_reason', 'u8'),
  T(0x0426, 'more_messages_to_send', 'u8'),
  T(0x0427, 'message_state', 'u8'),
  T(0x0501, 'ussd_service_op', 'u8'),
  T(0x1201, 'display_time', 'u8'),
  T(0x1203, 'sms_signal', 'u16'),
  T(0x1204, 'ms_validity', 'octets', { max: 4 }),
  T(0x130c, 'alert_on_message_delivery', 'flag'),
  T(0x1380, 'its_reply_type', 'u8'),
  T(0x1383, 'its_session_info', 'octets', { size: 2 }),
  // SMPP 5.0 §4.8.4 additions
  T(0x0428, 'congestion_state', 'u8'),
  T(0x0600, 'broadcast_channel_indicator', 'u8'),
  T(0x0601, 'broadcast_content_type', 'octets', { size: 3 }),
  T(0x0602, 'broadcast_content_type_info', 'octets', { max: 255 }),
  T(0x0603, 'broadcast_message_class', 'u8'),
  T(0x0604, 'broadcast_rep_num', 'u16'),
  T(0x0605, 'broadcast_frequency_interval', 'octets', { size: 3 }),
  T(0x0606, 'broadcast_area_identifier', 'octets', { max: 100, multiple: true }),
  T(0x0607, 'broadcast_error_status', 'u32'),
  T(0x0608, 'broadcast_area_success', 'u8', { multiple: true }),
  T(0x0609, 'broadcast_end_time', 'cstring', { max: 17 }),
  T(0x060a, 'broadcast_service_group', 'octets', { max: 255 }),
  T(0x060b, 'billing_identification', 'octets', { max: 1024 }),
  T(0x060d, 'source_network_id', 'cstring', { max: 65 }),
  T(0x060e, 'dest_network_id', 'cstring', { max: 65 }),
  T(0x060f, 'source_node_id', 'octets', { size: 6 }),
  T(0x0610, 'dest_node_id', 'octets', { size: 6 }),
  T(0x0611, 'dest_addr_np_resolution', 'u8'),
  T(0x0612, 'dest_addr_np_information', 'octets', { size: 10 }),
  T(0x0613, 'dest_addr_np_country', 'octets', { max: 5 }),
]

export const TLV_BY_TAG: ReadonlyMap<number, TlvDef> = new Map(TLVS.map((d) => [d.tag, d]))
export const TLV_BY_NAME: ReadonlyMap<string, TlvDef> = new Map(TLVS.map((d) => [d.name, d]))

/** An optional parameter the table does not know: kept as raw bytes so it round-trips. */
export interface UnknownTlv {
  tag: number
  value: Buffer
}
