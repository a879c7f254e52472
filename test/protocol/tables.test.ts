/**
 * Invariants of the protocol tables (STYLE-EXAMPLES §10.4): the PDU table, the TLV table and the
 * status table are the single source the codec, the session and the docs read, so a duplicate id,
 * a request without its response or a TLV name that shadows a body field is caught here.
 */
import t from 'tap'
import { CommandId, CommandStatus, RESPONSE_BIT, STATUS_NAME, statusName, type CommandName } from '../../engine/protocol/constants'
import { decode, encode } from '../../engine/protocol/codec'
import { PDUS, PDU_BY_ID, isResponseId, responseOf } from '../../engine/protocol/pdus'
import { TLVS, TLV_BY_NAME, TLV_BY_TAG } from '../../engine/protocol/tlvs'

const DEFS = Object.values(PDUS)
const NAMES = Object.keys(PDUS) as CommandName[]
/** Requests with no response PDU: SMPP 3.4 §4.1.7 outbind, §4.12 alert_notification. */
const NO_RESPONSE = new Set<CommandName>(['outbind', 'alert_notification'])

const dupes = <T>(xs: readonly T[]) => xs.filter((x, i) => xs.indexOf(x) !== i)

t.test('the PDU table has exactly the commands of CommandId, each under its own name and id', async (t) => {
  t.strictSame([...NAMES].sort(), (Object.keys(CommandId) as CommandName[]).sort())
  for (const name of NAMES) {
    t.equal(PDUS[name].name, name, `${name}: name`)
    t.equal(PDUS[name].id, CommandId[name], `${name}: id`)
  }
})

t.test('command ids are unique', async (t) => {
  t.strictSame(dupes(DEFS.map((d) => d.id)), [])
  t.strictSame(dupes(Object.values(CommandId)), [])
})

t.test('every request has a _resp with id | 0x80000000, except outbind and alert_notification', async (t) => {
  for (const d of DEFS) {
    if (isResponseId(d.id)) continue
    if (NO_RESPONSE.has(d.name)) {
      t.equal(responseOf(d.name), undefined, `${d.name} has no response`)
      t.notOk(PDU_BY_ID.has((d.id | RESPONSE_BIT) >>> 0), `no id ${((d.id | RESPONSE_BIT) >>> 0).toString(16)}`)
      continue
    }
    const resp = `${d.name}_resp` as CommandName
    t.ok(resp in PDUS, `${resp} exists`)
    t.equal(PDUS[resp]?.id, (d.id | RESPONSE_BIT) >>> 0, `${resp} id`)
    t.equal(responseOf(d.name), resp, `responseOf(${d.name})`)
  }
})

t.test('every response but generic_nack answers a request of the table', async (t) => {
  for (const d of DEFS) {
    if (!isResponseId(d.id) || d.name === 'generic_nack') continue
    t.ok(d.name.endsWith('_resp'), `${d.name} is named *_resp`)
    const req = PDU_BY_ID.get((d.id & ~RESPONSE_BIT) >>> 0)
    t.equal(req?.name, d.name.slice(0, -'_resp'.length), `${d.name} answers ${req?.name}`)
  }
  t.equal(PDUS.generic_nack.id, RESPONSE_BIT, 'generic_nack is 0x80000000 (SMPP 3.4 §5.1.2.1)')
})

t.test('isResponseId tells requests from responses', async (t) => {
  for (const d of DEFS) t.equal(isResponseId(d.id), d.name.endsWith('_resp') || d.name === 'generic_nack', d.name)
})

t.test('PDU_BY_ID round-trips', async (t) => {
  t.equal(PDU_BY_ID.size, DEFS.length)
  for (const d of DEFS) t.equal(PDU_BY_ID.get(d.id), d, d.name)
  for (const [id, d] of PDU_BY_ID) t.equal(d.id, id)
})

t.test('body field names are unique within each PDU', async (t) => {
  for (const d of DEFS) t.strictSame(dupes(d.body.map((f) => f.name)), [], d.name)
})

t.test('every field answers a bad value with a real command_status', async (t) => {
  const statuses = new Set<number>(Object.values(CommandStatus))
  for (const d of DEFS) {
    for (const f of d.body) {
      if (f.kind === 'u8' || f.kind === 'u16' || f.kind === 'u32' || f.kind === 'cstring') {
        t.ok(statuses.has(f.status) && f.status !== 0, `${d.name}.${f.name}: ${statusName(f.status)}`)
      }
      if (f.kind === 'cstring') t.ok(f.max >= 2, `${d.name}.${f.name}: max ${f.max} leaves room for text and NUL`)
    }
  }
})

t.test('TLV tags are unique, names are unique, and the maps round-trip', async (t) => {
  t.strictSame(dupes(TLVS.map((d) => d.tag)), [])
  t.strictSame(dupes(TLVS.map((d) => d.name)), [])
  t.equal(TLV_BY_TAG.size, TLVS.length)
  t.equal(TLV_BY_NAME.size, TLVS.length)
  for (const d of TLVS) {
    t.ok(d.tag > 0 && d.tag <= 0xffff, `${d.name}: tag 0x${d.tag.toString(16)} fits 16 bits`)
    t.equal(TLV_BY_TAG.get(d.tag), d)
    t.equal(TLV_BY_NAME.get(d.name), d)
    if (d.type === 'octets') t.ok(d.size !== undefined || d.max !== undefined, `${d.name}: octets are bounded`)
    if (d.max !== undefined) t.ok(d.max <= 0xffff, `${d.name}: max fits the 16-bit length`)
  }
})

t.test('no TLV name shadows a header or body field name (the decoded PDU is flat)', async (t) => {
  const header = ['command', 'command_id', 'command_length', 'command_status', 'sequence_number', 'unknown_tlvs']
  for (const h of header) t.notOk(TLV_BY_NAME.has(h), h)
  for (const d of DEFS) {
    if (!d.tlvs) continue
    for (const f of d.body) t.notOk(TLV_BY_NAME.has(f.name), `${d.name}.${f.name}`)
  }
})

t.test('command_status values are unique and STATUS_NAME round-trips', async (t) => {
  t.strictSame(dupes(Object.values(CommandStatus)), [])
  t.equal(STATUS_NAME.size, Object.keys(CommandStatus).length)
  for (const [name, v] of Object.entries(CommandStatus)) t.equal(statusName(v), name)
  t.equal(statusName(0x12345), '0x00012345', 'unknown status prints as hex')
})

t.test('every field codec round-trips its default (encode with no body fields, decode)', async (t) => {
  // The missing-`return` class of bug: a codec that writes its zero value but reads something else.
  for (const d of DEFS) {
    // submit_multi needs at least one destination (SMPP 3.4 §5.2.24), so its list is given.
    const one = d.name === 'submit_multi' ? { dest_addresses: [{ dest_flag: 2, dl_name: '' }] } : {}
    const pdu = decode(encode({ command: d.name, command_status: 0, sequence_number: 1, ...one }))
    for (const f of d.body) {
      const v = pdu[f.name]
      const zero = f.kind === 'cstring' ? v === ''
        : f.kind === 'sm' ? Buffer.isBuffer(v) && v.length === 0
        : f.kind === 'dest_addresses' ? v.length === 1 && v[0].dl_name === ''
        : f.kind === 'unsuccess_smes' ? Array.isArray(v) && v.length === 0
        : v === 0
      t.ok(zero, `${d.name}.${f.name} reads back its zero value, got ${String(v)}`)
    }
  }
})
