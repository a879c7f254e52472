/**
 * The table-driven codec: decode(frame) and encode(pdu) walk the PDU table (pdus.ts) and the TLV
 * table (tlvs.ts); there is no per-command code here. Decoding a malformed frame throws an
 * SmscError whose commandStatus is the precise status to answer with (the field's own status for
 * an over-long field, ESME_RINVCMDLEN for a truncated body, the TLV statuses for TLV errors).
 * Encoding is two passes: the exact length first, then one allocation and one write pass.
 */
import { CommandStatus as S, HEADER_LENGTH, RESPONSE_BIT, type CommandName } from './constants'
import { F, MAX_DESTS, MAX_SHORT_MESSAGE, type DestAddress, type FieldDef, type UnsuccessSme } from './fields'
import { PDUS, PDU_BY_ID, type PduDef } from './pdus'
import { TLV_BY_NAME, TLV_BY_TAG, type TlvDef, type UnknownTlv } from './tlvs'
import { SmscError, smscError } from '../errors'

/** A decoded PDU: header, body fields and TLVs by their spec names, flat (as node-smpp does). */
export interface Pdu {
  command: CommandName
  command_status: number
  sequence_number: number
  // Body fields and TLVs by spec name; the PDU table says which exist.
  [field: string]: any
}

function fieldError(status: number, detail: string): SmscError {
  return smscError('SMSC_ERR_FIELD_INVALID', detail, { commandStatus: status })
}

const tooShort = (what: string) => smscError('SMSC_ERR_PDU_MALFORMED', `body ends inside ${what}`)

/** Reads a C-Octet String; `max` counts the NUL (SMPP 3.4 §3.1). */
/** Where the last readCString ended (after its NUL): returned this way, not in a tuple, to allocate nothing per field. */
let cstrEnd = 0

function readCString(buf: Buffer, off: number, end: number, max: number, status: number, name: string): string {
  const limit = Math.min(end, off + max)
  for (let i = off; i < limit; i++) {
    if (buf[i] === 0) {
      cstrEnd = i + 1
      return i === off ? '' : buf.toString('latin1', off, i)
    }
  }
  if (limit === off + max) throw fieldError(status, `${name} longer than ${max - 1} octets`)
  throw tooShort(name)
}

/** The value encode() writes for an absent body field. */
function zeroValue(field: FieldDef): unknown {
  switch (field.kind) {
    case 'u8': case 'u16': case 'u32': return 0
    case 'cstring': return ''
    case 'sm': return Buffer.alloc(0)
    case 'dest_addresses': case 'unsuccess_smes': return []
  }
}

/**
 * Per command, a factory of the decoded object with its header and body fields in table order, made
 * once from the PDU table: the object is allocated with all its fields in place, where adding them
 * one by one grew (re-allocated) its property store up to six times per submit_sm. decodeBody then
 * overwrites every body field (placeholders: 0, '' and null, never a shared mutable value). The
 * factory's source is built from the table's field names only.
 */
type Shape = (command: CommandName, status: number, seq: number) => Pdu
const placeholder = (f: FieldDef): '' | 0 | null => (f.kind === 'cstring' ? '' : f.kind === 'u8' || f.kind === 'u16' || f.kind === 'u32' ? 0 : null)
const SHAPES: ReadonlyMap<number, Shape> = new Map(Object.values(PDUS).map((d): [number, Shape] => {
  const fields = d.body.map((f) => `${JSON.stringify(f.name)}: ${JSON.stringify(placeholder(f))}`)
  try {
    // eslint-disable-next-line no-new-func
    return [d.id, new Function('c', 's', 'q', `return { command: c, command_status: s, sequence_number: q${fields.map((x) => `, ${x}`).join('')} }`) as Shape]
  } catch {
    // node --disallow-code-generation-from-strings: the same object, field by field (slower)
    return [d.id, (c, s, q) => {
      const o: Pdu = { command: c, command_status: s, sequence_number: q }
      for (const f of d.body) o[f.name] = placeholder(f)
      return o
    }]
  }
}))

function decodeBody(def: PduDef, buf: Buffer, pdu: Pdu, end: number): number {
  let off = HEADER_LENGTH
  // A response with a non-zero status may come without a body (SMPP 3.4 §4.1.2, §4.4.2), and
  // peers also send shorter bodies with status 0 (deliver_sm_resp without its NULL message_id).
  const lenient = (def.id & RESPONSE_BIT) !== 0
  for (let f = 0; f < def.body.length; f++) {
    const field = def.body[f]
    if (off >= end && lenient) {
      // No body at all on a failed response: no body fields, and encode() writes none back.
      if (off === HEADER_LENGTH && pdu.command_status !== 0) return off
      // A body cut at a field boundary: the missing fields read as the zero values encode() writes,
      // so encode(decode(x)) decodes to the same object.
      for (; f < def.body.length; f++) pdu[def.body[f].name] = zeroValue(def.body[f])
      return off
    }
    switch (field.kind) {
      case 'u8':
        if (off + 1 > end) throw tooShort(field.name)
        pdu[field.name] = buf[off]
        off += 1
        break
      case 'u16':
        if (off + 2 > end) throw tooShort(field.name)
        pdu[field.name] = buf.readUInt16BE(off)
        off += 2
        break
      case 'u32':
        if (off + 4 > end) throw tooShort(field.name)
        pdu[field.name] = buf.readUInt32BE(off)
        off += 4
        break
      case 'cstring': {
        pdu[field.name] = readCString(buf, off, end, field.max, field.status, field.name)
        off = cstrEnd
        break
      }
      case 'sm': {
        if (off + 1 > end) throw tooShort('sm_length')
        const len = buf[off]
        // SMPP 3.4 §5.2.21 sm_length 0..254
        if (len > MAX_SHORT_MESSAGE) throw fieldError(S.ESME_RINVMSGLEN, `sm_length ${len} exceeds ${MAX_SHORT_MESSAGE}`)
        if (off + 1 + len > end) throw tooShort('short_message')
        pdu.short_message = buf.subarray(off + 1, off + 1 + len)
        off += 1 + len
        break
      }
      case 'dest_addresses': {
        if (off + 1 > end) throw tooShort('number_of_dests')
        const n = buf[off++]
        // SMPP 3.4 §5.2.24 number_of_dests: 1..254
        if (n === 0 || n > MAX_DESTS) throw fieldError(S.ESME_RINVNUMDESTS, `number_of_dests ${n}`)
        const list: DestAddress[] = new Array(n)
        for (let i = 0; i < n; i++) {
          if (off + 1 > end) throw tooShort('dest_flag')
          const flag = buf[off++]
          if (flag === 1) {
            if (off + 2 > end) throw tooShort('dest_address')
            const ton = buf[off], npi = buf[off + 1]
            const addr = readCString(buf, off + 2, end, 21, S.ESME_RINVDSTADR, 'destination_addr')
            list[i] = { dest_flag: 1, dest_addr_ton: ton, dest_addr_npi: npi, destination_addr: addr }
            off = cstrEnd
          } else if (flag === 2) {
            list[i] = { dest_flag: 2, dl_name: readCString(buf, off, end, 21, S.ESME_RINVDLNAME, 'dl_name') }
            off = cstrEnd
          } else {
            throw fieldError(S.ESME_RINVDESTFLAG, `dest_flag ${flag}`)
          }
        }
        pdu.dest_addresses = list
        break
      }
      case 'unsuccess_smes': {
        if (off + 1 > end) throw tooShort('no_unsuccess')
        const n = buf[off++]
        const list: UnsuccessSme[] = new Array(n)
        for (let i = 0; i < n; i++) {
          if (off + 2 > end) throw tooShort('unsuccess_sme')
          const ton = buf[off], npi = buf[off + 1]
          const addr = readCString(buf, off + 2, end, 21, S.ESME_RINVDSTADR, 'destination_addr')
          off = cstrEnd
          if (off + 4 > end) throw tooShort('error_status_code')
          list[i] = { dest_addr_ton: ton, dest_addr_npi: npi, destination_addr: addr, error_status_code: buf.readUInt32BE(off) }
          off += 4
        }
        pdu.unsuccess_smes = list
        break
      }
    }
  }
  return off
}

function decodeTlvs(def: PduDef, buf: Buffer, pdu: Pdu, off: number, end: number): void {
  if (off < end && !def.tlvs) {
    throw smscError('SMSC_ERR_PDU_MALFORMED', `${def.name} has ${end - off} octets after its last field`)
  }
  while (off < end) {
    // SMPP 3.4 §3.2.4: tag (2) + length (2) + value
    if (off + 4 > end) throw fieldError(S.ESME_RINVTLVSTREAM, 'TLV header cut short')
    const tag = buf.readUInt16BE(off)
    const len = buf.readUInt16BE(off + 2)
    const vs = off + 4
    const ve = vs + len
    if (ve > end) throw fieldError(S.ESME_RINVTLVSTREAM, `TLV 0x${tag.toString(16)} length ${len} overruns the PDU`)
    const t = TLV_BY_TAG.get(tag)
    if (t === undefined) {
      const unknown: UnknownTlv = { tag, value: buf.subarray(vs, ve) }
      ;(pdu.unknown_tlvs ??= []).push(unknown)
    } else {
      const v = readTlvValue(t, buf, vs, len)
      if (t.multiple) (pdu[t.name] ??= []).push(v)
      else pdu[t.name] = v
    }
    off = ve
  }
}

function readTlvValue(t: TlvDef, buf: Buffer, vs: number, len: number): unknown {
  const bad = () => fieldError(S.ESME_RINVTLVLEN, `TLV ${t.name} has length ${len}`)
  switch (t.type) {
    case 'u8': if (len !== 1) throw bad(); return buf[vs]
    case 'u16': if (len !== 2) throw bad(); return buf.readUInt16BE(vs)
    case 'u32': if (len !== 4) throw bad(); return buf.readUInt32BE(vs)
    case 'flag': if (len !== 0) throw bad(); return true
    case 'cstring': {
      // The terminating NUL is often missing in the field; accept that, but the text plus its NUL
      // must fit `max` (which counts the NUL), or encode() could not write the value back.
      const e = len > 0 && buf[vs + len - 1] === 0 ? vs + len - 1 : vs + len
      if (t.max !== undefined && e - vs + 1 > t.max) throw bad()
      return buf.toString('latin1', vs, e)
    }
    case 'octets':
      if ((t.size !== undefined && len !== t.size) || (t.max !== undefined && len > t.max)) throw bad()
      return buf.subarray(vs, vs + len)
  }
}

/**
 * Decodes one complete frame (as produced by the framer: length already checked).
 * Throws SmscError: SMSC_ERR_PDU_UNKNOWN_COMMAND, SMSC_ERR_PDU_MALFORMED, SMSC_ERR_FIELD_INVALID.
 */
export function decode(frame: Buffer): Pdu {
  if (frame.length < HEADER_LENGTH) throw smscError('SMSC_ERR_PDU_TOO_SHORT', `${frame.length} octets`)
  const end = frame.readUInt32BE(0)
  if (end !== frame.length) throw smscError('SMSC_ERR_PDU_MALFORMED', `command_length ${end} but frame has ${frame.length} octets`)
  const id = frame.readUInt32BE(4)
  const def = PDU_BY_ID.get(id)
  if (def === undefined) throw smscError('SMSC_ERR_PDU_UNKNOWN_COMMAND', `command_id 0x${id.toString(16).padStart(8, '0')}`)
  const status = frame.readUInt32BE(8)
  // A failed response with no body has no body fields (decodeBody below), so it does not take the shape.
  const bodiless = end === HEADER_LENGTH && status !== 0 && (id & RESPONSE_BIT) !== 0
  const seq = frame.readUInt32BE(12)
  const pdu: Pdu = bodiless ? { command: def.name, command_status: status, sequence_number: seq } : SHAPES.get(id)!(def.name, status, seq)
  const off = decodeBody(def, frame, pdu, end)
  decodeTlvs(def, frame, pdu, off, end)
  return pdu
}

/** Header of a frame, readable even when the body is not (to answer with the right sequence). */
export function peekHeader(frame: Buffer): { command_id: number; command_status: number; sequence_number: number } {
  return {
    command_id: frame.length >= 8 ? frame.readUInt32BE(4) : 0,
    command_status: frame.length >= 12 ? frame.readUInt32BE(8) : 0,
    sequence_number: frame.length >= 16 ? frame.readUInt32BE(12) : 0,
  }
}

// ---------------------------------------------------------------- encode

/** Header and body field names per command, to tell TLV keys apart when encoding. */
const NOT_TLV: ReadonlyMap<CommandName, ReadonlySet<string>> = new Map(
  Object.values(PDUS).map((d) => [d.name, new Set(['command', 'command_id', 'command_length', 'command_status', 'sequence_number', 'unknown_tlvs', ...d.body.map((f) => f.name)])]),
)

function cstrLen(v: unknown, max: number, name: string): number {
  const s = v === undefined || v === null ? '' : String(v)
  if (s.length + 1 > max) throw smscError('SMSC_ERR_FIELD_INVALID', `cannot encode ${name}: longer than ${max - 1} octets`)
  return s.length + 1
}

function bodyLength(def: PduDef, pdu: Pdu): number {
  let n = 0
  for (const field of def.body) {
    const v = pdu[field.name]
    switch (field.kind) {
      case 'u8': n += 1; break
      case 'u16': n += 2; break
      case 'u32': n += 4; break
      case 'cstring': n += cstrLen(v, field.max, field.name); break
      case 'sm': {
        const len = v ? (v as Buffer).length : 0
        if (len > MAX_SHORT_MESSAGE) throw smscError('SMSC_ERR_FIELD_INVALID', `cannot encode short_message of ${len} octets`)
        n += 1 + len
        break
      }
      case 'dest_addresses': {
        const list = (v ?? []) as DestAddress[]
        // SMPP 3.4 §5.2.24 number_of_dests 1..254, one octet: more would wrap and corrupt the frame.
        if (list.length === 0 || list.length > MAX_DESTS) {
          throw smscError('SMSC_ERR_FIELD_INVALID', `cannot encode ${list.length} dest_addresses (1..${MAX_DESTS})`, { commandStatus: S.ESME_RINVNUMDESTS })
        }
        n += 1
        for (const d of list) {
          n += d.dest_flag === 1 ? 3 + cstrLen(d.destination_addr, 21, 'destination_addr') : 1 + cstrLen(d.dl_name, 21, 'dl_name')
        }
        break
      }
      case 'unsuccess_smes': {
        const list = (v ?? []) as UnsuccessSme[]
        // SMPP 3.4 §4.5.2 no_unsuccess is one octet.
        if (list.length > 0xff) throw smscError('SMSC_ERR_FIELD_INVALID', `cannot encode ${list.length} unsuccess_smes (at most 255)`)
        n += 1
        for (const u of list) n += 2 + cstrLen(u.destination_addr, 21, 'destination_addr') + 4
        break
      }
    }
  }
  return n
}

function tlvValueLength(t: TlvDef, v: unknown): number {
  switch (t.type) {
    case 'u8': return 1
    case 'u16': return 2
    case 'u32': return 4
    case 'flag': return 0
    case 'cstring': return String(v).length + 1
    case 'octets': return (v as Buffer).length
  }
}

/** Length of a TLV value that decode() would accept; throws instead of writing a bad or wrapped length. */
function checkedTlvValueLength(t: TlvDef, v: unknown): number {
  const len = tlvValueLength(t, v)
  if (len > (t.max ?? 0xffff) || (t.size !== undefined && len !== t.size)) {
    throw smscError('SMSC_ERR_FIELD_INVALID', `cannot encode TLV ${t.name} of ${len} octets`)
  }
  return len
}

function tlvLength(def: PduDef, pdu: Pdu): number {
  if (!def.tlvs) return 0
  const skip = NOT_TLV.get(def.name)!
  let n = 0
  for (const k in pdu) {
    if (skip.has(k)) continue
    const v = pdu[k]
    if (v === undefined || v === null) continue
    const t = TLV_BY_NAME.get(k)
    if (t === undefined) continue
    if (t.multiple) for (const x of v as unknown[]) n += 4 + checkedTlvValueLength(t, x)
    else n += 4 + checkedTlvValueLength(t, v)
  }
  for (const u of (pdu.unknown_tlvs ?? []) as UnknownTlv[]) {
    if (u.value.length > 0xffff) throw smscError('SMSC_ERR_FIELD_INVALID', `cannot encode TLV 0x${u.tag.toString(16)} of ${u.value.length} octets`)
    n += 4 + u.value.length
  }
  return n
}

function writeCString(buf: Buffer, off: number, v: unknown): number {
  const s = v === undefined || v === null ? '' : String(v)
  off += buf.write(s, off, 'latin1')
  buf[off] = 0
  return off + 1
}

function writeTlv(buf: Buffer, off: number, t: TlvDef, v: unknown): number {
  buf.writeUInt16BE(t.tag, off)
  const len = tlvValueLength(t, v)
  buf.writeUInt16BE(len, off + 2)
  off += 4
  switch (t.type) {
    case 'u8': buf[off] = v as number; return off + 1
    case 'u16': buf.writeUInt16BE(v as number, off); return off + 2
    case 'u32': buf.writeUInt32BE(v as number, off); return off + 4
    case 'flag': return off
    case 'cstring': return writeCString(buf, off, v)
    case 'octets': (v as Buffer).copy(buf, off); return off + len
  }
}

const NO_FIELDS: readonly FieldDef[] = []

/**
 * A failed response is sent without a body (SMPP 3.4 §4.1.2, §4.4.2: the body is not returned when
 * command_status is non-zero; node-smpp does the same) when the caller gives no body field; decode() reads such a frame back without body fields. TLVs need the body
 * before them, so a failed response with TLVs keeps it.
 */
function isBodyless(def: PduDef, pdu: Pdu, tlvs: number): boolean {
  if ((pdu.command_status >>> 0) === 0 || tlvs !== 0 || (def.id & RESPONSE_BIT) === 0) return false
  for (const field of def.body) if (pdu[field.name] !== undefined) return false
  return true
}

/**
 * The accepting response to a submit (submit_sm_resp, data_sm_resp: SMPP 3.4 §4.4.2, §4.7.2): status 0,
 * message_id and no TLVs, written straight into its buffer, one per accepted submit on the hot path. The
 * general encoder's output byte for byte (test/protocol/codec.test.ts).
 */
export function encodeIdResp(command: 'submit_sm_resp' | 'data_sm_resp', seq: number, messageId: string): Buffer {
  const n = messageId.length
  if (n + 1 > MESSAGE_ID_MAX) throw smscError('SMSC_ERR_FIELD_INVALID', `cannot encode message_id: longer than ${MESSAGE_ID_MAX - 1} octets`)
  const length = HEADER_LENGTH + n + 1
  const buf = Buffer.allocUnsafe(length)
  buf.writeUInt32BE(length, 0)
  buf.writeUInt32BE(PDUS[command].id, 4)
  buf.writeUInt32BE(0, 8)
  buf.writeUInt32BE(seq >>> 0, 12)
  buf.write(messageId, HEADER_LENGTH, 'latin1')
  buf[length - 1] = 0
  return buf
}
const MESSAGE_ID_MAX = (F.message_id as Extract<FieldDef, { kind: 'cstring' }>).max

/**
 * Encodes a PDU. Missing body fields take their zero value (0 or empty string), except on a failed
 * response that gives none of them, which goes out without a body (see isBodyless).
 */
export function encode(pdu: Pdu): Buffer {
  const def = PDUS[pdu.command]
  if (def === undefined) throw smscError('SMSC_ERR_PDU_UNKNOWN_COMMAND', `cannot encode ${String(pdu.command)}`)
  const tlvs = tlvLength(def, pdu)
  const body = isBodyless(def, pdu, tlvs) ? NO_FIELDS : def.body
  const length = HEADER_LENGTH + (body.length === 0 ? 0 : bodyLength(def, pdu)) + tlvs
  const buf = Buffer.allocUnsafe(length)
  buf.writeUInt32BE(length, 0)
  buf.writeUInt32BE(def.id, 4)
  buf.writeUInt32BE(pdu.command_status >>> 0, 8)
  buf.writeUInt32BE(pdu.sequence_number >>> 0, 12)
  let off = HEADER_LENGTH
  for (const field of body) {
    const v = pdu[field.name]
    switch (field.kind) {
      case 'u8': buf[off++] = (v as number) | 0; break
      case 'u16': buf.writeUInt16BE((v as number) | 0, off); off += 2; break
      case 'u32': buf.writeUInt32BE((v as number) >>> 0, off); off += 4; break
      case 'cstring': off = writeCString(buf, off, v); break
      case 'sm': {
        const b = v as Buffer | undefined
        const len = b ? b.length : 0
        buf[off++] = len
        if (b) b.copy(buf, off)
        off += len
        break
      }
      case 'dest_addresses': {
        const list = (v ?? []) as DestAddress[]
        buf[off++] = list.length
        for (const d of list) {
          buf[off++] = d.dest_flag
          if (d.dest_flag === 1) {
            buf[off++] = d.dest_addr_ton
            buf[off++] = d.dest_addr_npi
            off = writeCString(buf, off, d.destination_addr)
          } else {
            off = writeCString(buf, off, d.dl_name)
          }
        }
        break
      }
      case 'unsuccess_smes': {
        const list = (v ?? []) as UnsuccessSme[]
        buf[off++] = list.length
        for (const u of list) {
          buf[off++] = u.dest_addr_ton
          buf[off++] = u.dest_addr_npi
          off = writeCString(buf, off, u.destination_addr)
          buf.writeUInt32BE(u.error_status_code >>> 0, off)
          off += 4
        }
        break
      }
    }
  }
  if (def.tlvs) {
    const skip = NOT_TLV.get(def.name)!
    for (const k in pdu) {
      if (skip.has(k)) continue
      const v = pdu[k]
      if (v === undefined || v === null) continue
      const t = TLV_BY_NAME.get(k)
      if (t === undefined) continue
      if (t.multiple) for (const x of v as unknown[]) off = writeTlv(buf, off, t, x)
      else off = writeTlv(buf, off, t, v)
    }
    for (const u of (pdu.unknown_tlvs ?? []) as UnknownTlv[]) {
      buf.writeUInt16BE(u.tag, off)
      buf.writeUInt16BE(u.value.length, off + 2)
      u.value.copy(buf, off + 4)
      off += 4 + u.value.length
    }
  }
  return buf
}

export type { FieldDef }

/**
 * A request as an SMPP 3.3 ESME may get it: the mandatory body only. SMPP 3.3 has no optional parameters
 * (they came with 3.4, §5.3), and a strict 3.3 client fails on bytes after short_message. A receipt then
 * carries its id and stat in its text alone (Appendix B), which is what 3.3 clients read. A message_payload
 * becomes the short_message when short_message is empty and it fits (254 octets); a longer one is kept, as
 * the text would be lost without it.
 */
export function withoutTlvs(frame: Buffer): Buffer {
  const pdu = decode(frame)
  const def = PDUS[pdu.command]
  if (!def.tlvs) return Buffer.from(frame)
  const out: Pdu = { command: pdu.command, command_status: pdu.command_status, sequence_number: pdu.sequence_number }
  for (const f of def.body) out[f.name] = pdu[f.name]
  const payload = pdu.message_payload as Buffer | undefined
  if (payload !== undefined) {
    if (payload.length > MAX_SHORT_MESSAGE) out.message_payload = payload
    else if (!(out.short_message as Buffer | undefined)?.length) out.short_message = payload
  }
  return encode(out)
}
