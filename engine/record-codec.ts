/**
 * The binary layouts of the two values the store writes per message: the message record (`messages`)
 * and the delivery queue item (`queue`). Field by field into one scratch buffer instead of a msgpackr
 * record: msgpackr's generic walk was 15–19% of the engine's CPU with receipts (bench `receipts
 * --profile`). A value starts with 0xC1, a byte msgpack never uses, then the layout; anything else
 * is a msgpackr value (written by an older version, or a value this layout does not cover), which
 * the store decodes as before.
 *
 * Covered: exactly the fields of MessageRecord / Destination (engine/message.ts) and of receipt and
 * MO items, with their usual types, but `receiptDiscarded` (set on the rare path of a receipt discarded
 * unacknowledged; the record's flags octet is full) and `reference` (the send API's, never an SMPP submit's:
 * left to msgpackr, so the store's schema and what older engines read stay as they are, and a search by
 * reference skips every record of this layout unread, HeadFilter.reference). A value with any other field, or a field of another type,
 * makes encode return null and the store writes it with msgpackr: nothing is ever dropped. A key
 * whose value is undefined is left out (it reads back absent).
 *
 * Layout (little endian; str = u8 length, or 0xFF + u32 length, then UTF-8; num = f64):
 *   record: C1 01 | flags u8 (umr, rev, part, ref, replaceIfPresent, price, setDpf, confirmsOptOut) | id str | systemId str |
 *           state u8 | err num | submitAt num | doneAt num | src (ton u8, npi u8, str) | dests u8 count,
 *           each: flags u8 (via, price, up, conn, refunded) | addr | state u8 | err num | doneAt num | [via u8 n + str…]
 *           [price num] [up str] [conn str] | serviceType str | esmClass, protocolId, priority, dataCoding,
 *           registeredDelivery u8 | sm u32 length + octets | scheduleAt num | expireAt num |
 *           [umr num] [rev num] [part num num] [ref num] [replaceIfPresent u8] [price num] [setDpf u8]
 *           (confirmsOptOut is its flag alone: it is only ever true)
 *   MO record: C1 03 | the record's fields as above | flags u8 (route, keyword, via, reply, replyNot) | connector str |
 *           parts num | acked num | retries num | [route str] [keyword str] [via u8 (0 bind, 1 webhook)] [reply str]
 *           [replyNot str]
 *           (a record with `mo`, engine/message.ts MoFacts: its own kind, so a record of kind 01 is never one, and
 *           the record's flags byte, full, stays as it is; store schema 4: an engine of schema 3 cannot read it)
 *   item:   C1 02 | flags u8 (key, messageId, submitAt, stat) | systemId str | kind u8 (0 receipt, 1 mo) |
 *           createdAt num | attempts num | [key num] [messageId str] [submitAt num] [stat str] | frame u32 + octets
 */
import type { Address, Destination, MessageRecord, MoFacts } from './message'
import type { DeliveryItem, StoredMessage } from './store'

export const MARK = 0xc1
const RECORD = 1
const ITEM = 2
const MO_RECORD = 3

// ---------------------------------------------------------------------------------------- writing

// Values are written one after another into a slab and handed out as views of it (no copy): a slab is never
// written again where a value was handed out (lmdb reads the value when its transaction runs). A value that
// does not fit moves, alone, to a fresh slab; the old slab lives as long as a view of it does.
const SLAB = 64 * 1024
let out = Buffer.allocUnsafeSlow(SLAB)
// Numbers go through a DataView of the slab: setFloat64 compiles to one store, writeDoubleLE copies octet by octet
// (encodeRecord 12% faster: `smsc bench micro record`, docs/BENCHMARKS.md, thirteenth session).
let view = new DataView(out.buffer, out.byteOffset, out.length)
let pos = 0
let start = 0 // where the value being written begins

function room(n: number): void {
  if (pos + n <= out.length) return
  const fresh = Buffer.allocUnsafeSlow(Math.max(SLAB, (pos - start) + n))
  out.copy(fresh, 0, start, pos)
  pos -= start
  start = 0
  out = fresh
  view = new DataView(out.buffer, out.byteOffset, out.length)
}

/** Starts a value at the current position. */
function begin(): void {
  start = pos
}

/** Drops a value that turned out not to fit the layout. */
function drop(): null {
  pos = start
  return null
}

function u8(v: number): void {
  room(1)
  out[pos++] = v
}

function num(v: number): void {
  room(8)
  view.setFloat64(pos, v, true)
  pos += 8
}

function str(s: string): void {
  const n = s.length
  room(5 + n)
  let ascii = n < 0xff
  if (ascii) {
    const start = pos + 1
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c > 0x7f) { ascii = false; break }
      out[start + i] = c
    }
  }
  if (ascii) {
    out[pos] = n
    pos += 1 + n
    return
  }
  const len = Buffer.byteLength(s)
  room(5 + len)
  out[pos] = 0xff
  out.writeUInt32LE(len, pos + 1)
  pos += 5
  pos += out.write(s, pos, 'utf8')
}

function bytes(b: Uint8Array): void {
  room(4 + b.length)
  out.writeUInt32LE(b.length, pos)
  pos += 4
  out.set(b, pos)
  pos += b.length
}

/** The value written: a view of the slab. */
function take(): Buffer {
  return out.subarray(start, pos)
}

const isByte = (v: unknown): v is number => typeof v === 'number' && (v & 0xff) === v
const isNum = (v: unknown): v is number => typeof v === 'number'
const isStr = (v: unknown): v is string => typeof v === 'string'

/** Own keys with a value other than undefined. */
function definedKeys(o: object): number {
  let n = 0
  for (const k in o) if ((o as Record<string, unknown>)[k] !== undefined) n++
  return n
}

function isAddress(a: unknown): a is Address {
  return Array.isArray(a) && a.length === 3 && isByte(a[0]) && isByte(a[1]) && isStr(a[2])
}

function address(a: Address): void {
  u8(a[0])
  u8(a[1])
  str(a[2])
}

/** Writes one destination; false if it has anything the layout does not cover. */
function destination(d: Destination): boolean {
  if (typeof d !== 'object' || d === null || !isAddress(d.addr) || !isByte(d.state) || !isNum(d.err) || !isNum(d.doneAt)) return false
  let fields = 4
  let flags = 0
  if (d.via !== undefined) { if (!Array.isArray(d.via) || d.via.length > 0xff || !d.via.every(isStr)) return false; flags |= 1; fields++ }
  if (d.price !== undefined) { if (!isNum(d.price)) return false; flags |= 2; fields++ }
  if (d.up !== undefined) { if (!isStr(d.up)) return false; flags |= 4; fields++ }
  if (d.conn !== undefined) { if (!isStr(d.conn)) return false; flags |= 8; fields++ }
  if (d.refunded !== undefined) { if (d.refunded !== true) return false; flags |= 16; fields++ } // the flag alone
  if (definedKeys(d) !== fields) return false
  u8(flags)
  address(d.addr)
  u8(d.state)
  num(d.err)
  num(d.doneAt)
  if (d.via !== undefined) { u8(d.via.length); for (const v of d.via) str(v) }
  if (d.price !== undefined) num(d.price)
  if (d.up !== undefined) str(d.up)
  if (d.conn !== undefined) str(d.conn)
  return true
}

/** The record in the binary layout, or null when the layout does not cover it (the store then uses msgpackr). */
export function encodeRecord(m: StoredMessage): Buffer | null {
  const r = m as unknown as MessageRecord
  if (!isStr(r.id) || !isStr(r.systemId) || !isByte(r.state) || !isNum(r.err) || !isNum(r.submitAt) || !isNum(r.doneAt) ||
    !isAddress(r.src) || !Array.isArray(r.dests) || r.dests.length > 0xff || !isStr(r.serviceType) || !isByte(r.esmClass) ||
    !isByte(r.protocolId) || !isByte(r.priority) || !isByte(r.dataCoding) || !isByte(r.registeredDelivery) ||
    !Buffer.isBuffer(r.sm) || !isNum(r.scheduleAt) || !isNum(r.expireAt)) return null
  let fields = 17
  let flags = 0
  if (r.umr !== undefined) { if (!isNum(r.umr)) return null; flags |= 1; fields++ }
  if (r.rev !== undefined) { if (!isNum(r.rev)) return null; flags |= 2; fields++ }
  if (r.part !== undefined) { if (!Array.isArray(r.part) || r.part.length !== 2 || !isNum(r.part[0]) || !isNum(r.part[1])) return null; flags |= 4; fields++ }
  if (r.ref !== undefined) { if (!isNum(r.ref)) return null; flags |= 8; fields++ }
  if (r.replaceIfPresent !== undefined) { if (typeof r.replaceIfPresent !== 'boolean') return null; flags |= 16; fields++ }
  if (r.price !== undefined) { if (!isNum(r.price)) return null; flags |= 32; fields++ }
  if (r.setDpf !== undefined) { if (typeof r.setDpf !== 'boolean') return null; flags |= 64; fields++ }
  if (r.confirmsOptOut !== undefined) { if (r.confirmsOptOut !== true) return null; flags |= 128; fields++ }
  if (definedKeys(r) !== fields) return null
  begin()
  u8(MARK)
  u8(RECORD)
  u8(flags)
  str(r.id)
  str(r.systemId)
  u8(r.state)
  num(r.err)
  num(r.submitAt)
  num(r.doneAt)
  address(r.src)
  u8(r.dests.length)
  for (const d of r.dests) if (!destination(d)) return drop()
  str(r.serviceType)
  u8(r.esmClass)
  u8(r.protocolId)
  u8(r.priority)
  u8(r.dataCoding)
  u8(r.registeredDelivery)
  bytes(r.sm)
  num(r.scheduleAt)
  num(r.expireAt)
  if (r.umr !== undefined) num(r.umr)
  if (r.rev !== undefined) num(r.rev)
  if (r.part !== undefined) { num(r.part[0]); num(r.part[1]) }
  if (r.ref !== undefined) num(r.ref)
  if (r.replaceIfPresent !== undefined) u8(r.replaceIfPresent ? 1 : 0)
  if (r.price !== undefined) num(r.price)
  if (r.setDpf !== undefined) u8(r.setDpf ? 1 : 0)
  return take()
}

/**
 * An MO's record (one with `mo`) in the binary layout, or null when the layout does not cover it (the store then uses
 * msgpackr). Only the store's MO paths call it: encodeRecord, which every MT goes through, never looks at `mo`.
 */
export function encodeMoRecord(m: StoredMessage): Buffer | null {
  const { mo, ...rest } = m as unknown as MessageRecord
  if (typeof mo !== 'object' || mo === null || !isStr(mo.connector) || !isNum(mo.parts) || !isNum(mo.acked) || !isNum(mo.retries)) return null
  let fields = 4
  let flags = 0
  if (mo.route !== undefined) { if (!isStr(mo.route)) return null; flags |= 1; fields++ }
  if (mo.keyword !== undefined) { if (!isStr(mo.keyword)) return null; flags |= 2; fields++ }
  if (mo.via !== undefined) { if (mo.via !== 'bind' && mo.via !== 'webhook') return null; flags |= 4; fields++ }
  if (mo.reply !== undefined) { if (!isStr(mo.reply)) return null; flags |= 8; fields++ }
  if (mo.replyNot !== undefined) { if (!isStr(mo.replyNot)) return null; flags |= 16; fields++ }
  if (definedKeys(mo) !== fields) return null
  if (encodeRecord(rest as StoredMessage) === null) return null
  out[start + 1] = MO_RECORD // the record's octets are [start, pos): its facts as an MO follow
  u8(flags)
  str(mo.connector)
  num(mo.parts)
  num(mo.acked)
  num(mo.retries)
  if (mo.route !== undefined) str(mo.route)
  if (mo.keyword !== undefined) str(mo.keyword)
  if (mo.via !== undefined) u8(mo.via === 'bind' ? 0 : 1)
  if (mo.reply !== undefined) str(mo.reply)
  if (mo.replyNot !== undefined) str(mo.replyNot)
  return take()
}

/** The item in the binary layout, or null when the layout does not cover it (webhook events, anything else). */
export function encodeItem(it: DeliveryItem): Buffer | null {
  if (!isStr(it.systemId) || (it.kind !== 'receipt' && it.kind !== 'mo') || !isNum(it.createdAt) || !isNum(it.attempts) || !Buffer.isBuffer(it.frame)) return null
  let fields = 5
  let flags = 0
  if (it.key !== undefined) { if (!isNum(it.key)) return null; flags |= 1; fields++ }
  if (it.messageId !== undefined) { if (!isStr(it.messageId)) return null; flags |= 2; fields++ }
  if (it.submitAt !== undefined) { if (!isNum(it.submitAt)) return null; flags |= 4; fields++ }
  if (it.stat !== undefined) { if (!isStr(it.stat)) return null; flags |= 8; fields++ }
  if (definedKeys(it) !== fields) return null
  begin()
  u8(MARK)
  u8(ITEM)
  u8(flags)
  str(it.systemId)
  u8(it.kind === 'receipt' ? 0 : 1)
  num(it.createdAt)
  num(it.attempts)
  if (it.key !== undefined) num(it.key)
  if (it.messageId !== undefined) str(it.messageId as string)
  if (it.submitAt !== undefined) num(it.submitAt as number)
  if (it.stat !== undefined) str(it.stat as string)
  bytes(it.frame as Buffer)
  return take()
}

// ---------------------------------------------------------------------------------------- reading

/** Reads one value of this layout; octets come out as Buffers of their own (never views of `b`). */
class Reader {
  private p = 2
  constructor(private readonly b: Buffer) {}
  u8(): number { return this.b[this.p++] }
  num(): number { const v = this.b.readDoubleLE(this.p); this.p += 8; return v }
  str(): string {
    let n = this.b[this.p++]
    if (n === 0xff) { n = this.b.readUInt32LE(this.p); this.p += 4 }
    const s = this.b.toString('utf8', this.p, this.p + n)
    this.p += n
    return s
  }
  bytes(): Buffer {
    const n = this.b.readUInt32LE(this.p)
    this.p += 4
    const v = Buffer.from(this.b.subarray(this.p, this.p + n))
    this.p += n
    return v
  }
  address(): Address { return [this.u8(), this.u8(), this.str()] }
}

/** A value whose first octet is MARK. */
export function decodeValue(b: Buffer): StoredMessage | DeliveryItem {
  const kind = b[1]
  if (kind === RECORD) return decodeRecord(new Reader(b))
  if (kind === ITEM) return decodeItem(new Reader(b))
  if (kind === MO_RECORD) return decodeMoRecord(new Reader(b))
  throw new Error(`store value of unknown layout ${kind}`)
}

function decodeRecord(rd: Reader): StoredMessage {
  const flags = rd.u8()
  const id = rd.str()
  const systemId = rd.str()
  const state = rd.u8()
  const err = rd.num()
  const submitAt = rd.num()
  const doneAt = rd.num()
  const src = rd.address()
  const dests: Destination[] = new Array(rd.u8())
  for (let i = 0; i < dests.length; i++) {
    const f = rd.u8()
    const d: Destination = { addr: rd.address(), state: rd.u8(), err: rd.num(), doneAt: rd.num() }
    if (f & 1) { const via: string[] = new Array(rd.u8()); for (let k = 0; k < via.length; k++) via[k] = rd.str(); d.via = via }
    if (f & 2) d.price = rd.num()
    if (f & 4) d.up = rd.str()
    if (f & 8) d.conn = rd.str()
    if (f & 16) d.refunded = true
    dests[i] = d
  }
  const r: MessageRecord = {
    id, systemId, state, err, submitAt, doneAt, src, dests,
    serviceType: rd.str(), esmClass: rd.u8(), protocolId: rd.u8(), priority: rd.u8(), dataCoding: rd.u8(), registeredDelivery: rd.u8(),
    sm: rd.bytes(), scheduleAt: rd.num(), expireAt: rd.num(),
  }
  if (flags & 1) r.umr = rd.num()
  if (flags & 2) r.rev = rd.num()
  if (flags & 4) r.part = [rd.num(), rd.num()]
  if (flags & 8) r.ref = rd.num()
  if (flags & 16) r.replaceIfPresent = rd.u8() === 1
  if (flags & 32) r.price = rd.num()
  if (flags & 64) r.setDpf = rd.u8() === 1
  if (flags & 128) r.confirmsOptOut = true
  return r
}

function decodeMoRecord(rd: Reader): StoredMessage {
  const r = decodeRecord(rd) as MessageRecord
  const flags = rd.u8()
  const mo: MoFacts = { connector: rd.str(), parts: rd.num(), acked: rd.num(), retries: rd.num() }
  if (flags & 1) mo.route = rd.str()
  if (flags & 2) mo.keyword = rd.str()
  if (flags & 4) mo.via = rd.u8() === 0 ? 'bind' : 'webhook'
  if (flags & 8) mo.reply = rd.str()
  if (flags & 16) mo.replyNot = rd.str()
  r.mo = mo
  return r
}

function decodeItem(rd: Reader): DeliveryItem {
  const flags = rd.u8()
  const it: DeliveryItem = { systemId: rd.str(), kind: rd.u8() === 0 ? 'receipt' : 'mo', createdAt: rd.num(), attempts: rd.num() }
  if (flags & 1) it.key = rd.num()
  if (flags & 2) it.messageId = rd.str()
  if (flags & 4) it.submitAt = rd.num()
  if (flags & 8) it.stat = rd.str()
  it.frame = rd.bytes()
  return it
}

// ---------------------------------------------------------------------------------------- a record's head

/** What a message search filters on (engine/message-search.ts): read from the front of a record, the text not touched. */
export interface RecordHead {
  /** false: the record failed the search's HeadFilter, and only submitAt and state were read */
  pass: boolean
  systemId: string
  /** message_state as stored */
  state: number
  submitAt: number
  /** source address */
  src: string
  /** destination addresses, in order */
  dests: string[]
  /** an MO's record (from a subscriber to the account), not an MT */
  mo: boolean
  /** the send API's `reference`: never in this layout (a record with one is msgpackr's), so only a msgpackr value's head has it */
  reference?: string
}

/** An address a HeadFilter matches, as octets: its international form (no leading + or 00), or a prefix of it. */
export interface AddressOctets {
  key: Buffer
  prefix: boolean
  /** compare ASCII letters in any case (`key` is lower case) */
  fold: boolean
}

/**
 * A search's first cut, made on the record's octets before any string is decoded: a record it refuses cannot
 * match; one it lets through is checked again on its strings (an address it cannot judge on octets, one
 * written as UTF-8, is let through).
 */
export interface HeadFilter {
  /** false when a record in this message_state cannot match */
  state?: (state: number) => boolean
  systemId?: Buffer
  src?: AddressOctets
  /** at least one destination matches */
  dest?: AddressOctets
  /** a search by the send API's `reference`: no record in this layout has one (encodeRecord leaves such a record to
   *  msgpackr), so every one is refused on sight */
  reference?: true
}

/** Whether the address at [start, start + len) of `b` may match `p`; true when it cannot tell (UTF-8). */
function addressMayMatch(b: Buffer, start: number, len: number, p: AddressOctets): boolean {
  if (len === 0xff) return true // written as UTF-8 (str()): left to the check on strings
  let at = start
  let end = start + len
  if (b[at] === 0x2b) at++ // '+'
  else if (len >= 2 && b[at] === 0x30 && b[at + 1] === 0x30) at += 2 // '00'
  const k = p.key
  const n = end - at
  if (p.prefix ? n < k.length : n !== k.length) return false
  end = at + k.length
  if (p.fold) {
    for (let i = at, j = 0; i < end; i++, j++) {
      const c = b[i]
      if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== k[j]) return false
    }
  } else {
    for (let i = at, j = 0; i < end; i++, j++) if (b[i] !== k[j]) return false
  }
  return true
}

/**
 * The head of a record in this layout (`n` octets of `b`), or null for any other value (a msgpackr one: the
 * caller decodes it whole). Reads straight from `b`, which may be lmdb's shared read buffer: nothing kept
 * refers to it. Skips the message id (the key has it), the destinations' routing fields and everything
 * after them (service type, text, times). With a `filter`, a record it refuses comes back with `pass` false
 * and its strings not decoded.
 */
export function readRecordHead(b: Uint8Array, n: number, filter?: HeadFilter): RecordHead | null {
  if (n < 3 || b[0] !== MARK || (b[1] !== RECORD && b[1] !== MO_RECORD)) return null
  const mo = b[1] === MO_RECORD // its head is a record's: the MO's own fields come after everything read here
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, n)
  let p = 3
  const skipStr = (): void => {
    const len = buf[p++]
    p += len === 0xff ? 4 + buf.readUInt32LE(p) : len
  }
  /** The string at `at` (its length octet). */
  const strAt = (at: number): string => {
    const len = buf[at]
    if (len === 0xff) return buf.toString('utf8', at + 5, at + 5 + buf.readUInt32LE(at + 1))
    return buf.toString('latin1', at + 1, at + 1 + len) // short strings are written as ASCII (str())
  }
  skipStr() // id
  const sysAt = p
  skipStr()
  const state = buf[p++]
  p += 8 // err
  const submitAt = buf.readDoubleLE(p)
  p += 16 // submitAt, doneAt
  p += 2 // src ton, npi
  const srcAt = p
  skipStr()
  let pass = true
  if (filter !== undefined) {
    const sys = filter.systemId
    if (filter.reference === true) pass = false
    else if (filter.state !== undefined && !filter.state(state)) pass = false
    else if (sys !== undefined && (buf[sysAt] !== sys.length || buf.compare(sys, 0, sys.length, sysAt + 1, sysAt + 1 + sys.length) !== 0)) pass = false
    else if (filter.src !== undefined && !addressMayMatch(buf, srcAt + 1, buf[srcAt], filter.src)) pass = false
  }
  const count = buf[p++]
  const destAt: number[] = new Array(count)
  let anyDest = filter?.dest === undefined
  for (let i = 0; i < count; i++) {
    const f = buf[p++]
    p += 2 // ton, npi
    destAt[i] = p
    if (!anyDest && pass && addressMayMatch(buf, p + 1, buf[p], filter!.dest!)) anyDest = true
    skipStr()
    p += 17 // state, err, doneAt
    if (f & 1) { const k = buf[p++]; for (let j = 0; j < k; j++) skipStr() }
    if (f & 2) p += 8
    if (f & 4) skipStr()
    if (f & 8) skipStr()
  }
  if (p > n) throw new Error('message record shorter than its head')
  if (!pass || !anyDest) return { pass: false, systemId: '', state, submitAt, src: '', dests: [], mo }
  const dests = new Array<string>(count)
  for (let i = 0; i < count; i++) dests[i] = strAt(destAt[i])
  return { pass: true, systemId: strAt(sysAt), state, submitAt, src: strAt(srcAt), dests, mo }
}
