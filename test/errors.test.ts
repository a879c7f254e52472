// The engine error table (engine/errors.ts) and docs/ERRORS.md stay in step, and every error maps to
// a real SMPP command_status. Tests run with /work/main (the repo root) as cwd.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ERRORS, SmscError, smscError, isSmscError, commandStatusOf, type SmscErrorCode } from '../engine/errors'
import { CommandStatus } from '../engine/protocol/constants'

const codes = Object.keys(ERRORS) as SmscErrorCode[]
const doc = readFileSync(join(process.cwd(), 'docs', 'ERRORS.md'), 'utf8')

/** Rows of the markdown table whose header starts with `| <first> |`, as trimmed cells. */
function tableRows(md: string, first: string): string[][] {
  const lines = md.split('\n')
  const start = lines.findIndex((l) => l.startsWith(`| ${first} |`))
  if (start === -1) return []
  const rows: string[][] = []
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break
    rows.push(line.slice(1, line.endsWith('|') ? -1 : undefined).split('|').map((c) => c.trim()))
  }
  return rows
}
const unquote = (s: string): string => s.replace(/^`|`$/g, '')
const codeRows = tableRows(doc, 'Code')
const wireRows = tableRows(doc, 'command_status')

t.test('the table has the expected number of codes', async (t) => {
  t.equal(codes.length, 48, 'update this count, docs/ERRORS.md and the mapping test when adding a code')
})

t.test('every code follows SMSC_ERR_<AREA>_<WHAT>', async (t) => {
  for (const code of codes) t.match(code, /^SMSC_ERR_[A-Z0-9]+_[A-Z0-9_]+$/, code)
})

t.test('every key equals the .code of the error it constructs', async (t) => {
  for (const code of codes) {
    const e = smscError(code)
    t.equal(e.code, code)
    t.ok(e instanceof SmscError && e instanceof Error, `${code} is an SmscError`)
    t.equal(e.name, 'SmscError')
    t.equal(e.message, ERRORS[code].message, `${code} default message`)
    t.equal(e.commandStatus, ERRORS[code].commandStatus, `${code} commandStatus`)
  }
})

t.test('every commandStatus is 0 (never on the wire) or a CommandStatus value', async (t) => {
  const values = new Set<number>(Object.values(CommandStatus))
  for (const code of codes) {
    const s = ERRORS[code].commandStatus
    t.ok(s === 0 || (values.has(s) && s !== CommandStatus.ESME_ROK), `${code} → 0x${s.toString(16)}`)
  }
})

t.test('codes map to the statuses the brief names', async (t) => {
  const S = CommandStatus
  const expected: Record<SmscErrorCode, number> = {
    SMSC_ERR_PDU_TOO_LARGE: S.ESME_RINVCMDLEN,
    SMSC_ERR_PDU_TOO_SHORT: S.ESME_RINVCMDLEN,
    SMSC_ERR_PDU_MALFORMED: S.ESME_RINVCMDLEN,
    SMSC_ERR_PDU_UNKNOWN_COMMAND: S.ESME_RINVCMDID,
    SMSC_ERR_FIELD_INVALID: S.ESME_RSYSERR,
    SMSC_ERR_DCS_INVALID: S.ESME_RINVDCS,
    SMSC_ERR_BIND_STATE: S.ESME_RINVBNDSTS,
    SMSC_ERR_BIND_ALREADY: S.ESME_RALYBND,
    SMSC_ERR_BIND_LIMIT: S.ESME_RBINDFAIL,
    SMSC_ERR_AUTH_PASSWORD: S.ESME_RINVPASWD,
    SMSC_ERR_AUTH_SYSTEM_ID: S.ESME_RINVSYSID,
    SMSC_ERR_WINDOW_FULL: S.ESME_RTHROTTLED,
    SMSC_ERR_RATE_LIMITED: S.ESME_RTHROTTLED,
    SMSC_ERR_QUEUE_FULL: S.ESME_RMSGQFUL,
    SMSC_ERR_STORE_UNAVAILABLE: S.ESME_RSYSERR,
    SMSC_ERR_MESSAGE_NOT_FOUND: S.ESME_RQUERYFAIL,
    SMSC_ERR_MESSAGE_FINAL: S.ESME_RCANCELFAIL,
    SMSC_ERR_MESSAGE_NOT_REPLACEABLE: S.ESME_RREPLACEFAIL,
    SMSC_ERR_SCHEDULE_INVALID: S.ESME_RINVSCHED,
    SMSC_ERR_EXPIRY_INVALID: S.ESME_RINVEXPIRY,
    SMSC_ERR_SESSION_CRASH: S.ESME_RSYSERR,
    SMSC_ERR_MO_NO_ROUTE: 0,
    SMSC_ERR_SESSION_CLOSED: 0,
    SMSC_ERR_RESPONSE_TIMEOUT: 0,
    SMSC_ERR_CONFIG_INVALID: 0,
    SMSC_ERR_CLI_USAGE: 0,
    SMSC_ERR_DATA_DIR_LOCKED: 0,
    SMSC_ERR_DATA_DIR_ACCESS: 0,
    SMSC_ERR_DISK_FULL: 0,
    SMSC_ERR_STORE_NEWER: 0,
    SMSC_ERR_BACKUP_RUNNING: 0,
    SMSC_ERR_BACKUP_FAILED: 0,
    SMSC_ERR_LISTEN_FAILED: 0,
    SMSC_ERR_QUOTA_EXCEEDED: S.SMSC_RQUOTA,
    SMSC_ERR_CREDIT_EXHAUSTED: S.SMSC_RNOCREDIT,
    SMSC_ERR_NO_ROUTE: S.ESME_RINVDSTADR,
    SMSC_ERR_DEST_OPTED_OUT: S.SMSC_ROPTEDOUT,
    SMSC_ERR_SOURCE_NOT_ALLOWED: S.ESME_RINVSRCADR,
    SMSC_ERR_ACCOUNT_SUSPENDED: S.ESME_RBINDFAIL,
    SMSC_ERR_IP_NOT_ALLOWED: S.ESME_RBINDFAIL,
    SMSC_ERR_ADMIN_FORBIDDEN: 0,
    SMSC_ERR_ADMIN_READ_ONLY: 0,
    SMSC_ERR_CROSS_ORIGIN: 0,
    SMSC_ERR_STAFF_NOT_FOUND: 0,
    SMSC_ERR_API_INVALID: 0,
    SMSC_ERR_CONNECTOR_DOWN: 0,
    SMSC_ERR_CONNECTOR_NOT_FOUND: 0,
    SMSC_ERR_UPSTREAM_REJECTED: 0,
  }
  for (const code of codes) t.equal(ERRORS[code].commandStatus, expected[code], code)
})

t.test('a detail replaces the message; a commandStatus override wins over the table', async (t) => {
  const e = smscError('SMSC_ERR_FIELD_INVALID', 'source_addr is longer than 20 octets', {
    commandStatus: CommandStatus.ESME_RINVSRCADR,
  })
  t.equal(e.message, 'source_addr is longer than 20 octets')
  t.equal(e.commandStatus, CommandStatus.ESME_RINVSRCADR)
  t.equal(e.code, 'SMSC_ERR_FIELD_INVALID')
  const cause = new Error('disk')
  t.equal(new SmscError('SMSC_ERR_STORE_UNAVAILABLE', undefined, { cause }).cause, cause)
  t.same(e.toJSON(), {
    code: 'SMSC_ERR_FIELD_INVALID',
    message: 'source_addr is longer than 20 octets',
    commandStatus: CommandStatus.ESME_RINVSRCADR,
  })
})

t.test('isSmscError matches on code, also after a thread hop', async (t) => {
  const e = smscError('SMSC_ERR_WINDOW_FULL')
  t.ok(isSmscError(e))
  t.ok(isSmscError(e, 'SMSC_ERR_WINDOW_FULL'))
  t.notOk(isSmscError(e, 'SMSC_ERR_QUEUE_FULL'))
  // structuredClone drops `code` from an Error; the plain form keeps it.
  t.notOk(isSmscError(structuredClone(e)), 'a cloned Error has lost its code')
  const hopped: unknown = structuredClone(e.toJSON())
  t.ok(isSmscError(hopped, 'SMSC_ERR_WINDOW_FULL'), 'the plain form survives')
  t.notOk(isSmscError(Object.assign(new Error('x'), { code: 'ENOENT', commandStatus: 0 })))
  t.notOk(isSmscError({ code: 'SMSC_ERR_NOPE', message: 'x', commandStatus: 8 }))
  t.notOk(isSmscError({ code: 'SMSC_ERR_WINDOW_FULL' }), 'needs message and commandStatus')
  t.notOk(isSmscError(null))
  t.notOk(isSmscError('SMSC_ERR_WINDOW_FULL'))
})

t.test('commandStatusOf answers with the error status, else ESME_RSYSERR', async (t) => {
  t.equal(commandStatusOf(smscError('SMSC_ERR_BIND_STATE')), CommandStatus.ESME_RINVBNDSTS)
  t.equal(commandStatusOf(smscError('SMSC_ERR_WINDOW_FULL').toJSON()), CommandStatus.ESME_RTHROTTLED)
  t.equal(commandStatusOf(smscError('SMSC_ERR_CONFIG_INVALID')), CommandStatus.ESME_RSYSERR, 'never sends 0 for a failure')
  t.equal(commandStatusOf(new TypeError('boom')), CommandStatus.ESME_RSYSERR)
  t.equal(commandStatusOf(undefined), CommandStatus.ESME_RSYSERR)
})

t.test('docs/ERRORS.md has one row per code, and no row for a code that does not exist', async (t) => {
  t.ok(codeRows.length > 0, 'found the code table')
  const documented = codeRows.map((r) => unquote(r[0]))
  t.same([...documented].sort(), [...codes].sort(), 'table rows equal the ERRORS keys')
  t.equal(new Set(documented).size, documented.length, 'no duplicate rows')
  for (const row of codeRows) {
    t.equal(row.length, 4, `${row[0]} has 4 cells`)
    for (const cell of row) t.ok(cell.length > 0, `${row[0]} has no empty cell`)
  }
})

t.test('every SMSC_ERR_ code mentioned anywhere in docs/ERRORS.md exists', async (t) => {
  const mentioned = new Set(doc.match(/SMSC_ERR_[A-Z0-9_]+/g) ?? [])
  for (const m of mentioned) {
    if (m === 'SMSC_ERR_') continue
    t.ok(Object.prototype.hasOwnProperty.call(ERRORS, m), `${m} is in ERRORS`)
  }
})

t.test('the command_status column of docs/ERRORS.md matches the table', async (t) => {
  for (const row of codeRows) {
    const code = unquote(row[0]) as SmscErrorCode
    const def = ERRORS[code]
    if (def === undefined) continue // reported by the row test
    const m = /^`((?:ESME|SMSC)_R\w+)`/.exec(row[1].replace(/^set per field by the codec; /, ''))
    if (def.commandStatus === 0) t.match(row[1], /^none/, `${code} documented as never on the wire`)
    else if (m === null) t.fail(`${code}: command_status cell names no ESME_ status`)
    else t.equal(CommandStatus[m[1] as keyof typeof CommandStatus], def.commandStatus, `${code} → ${m[1]}`)
  }
})

t.test('the wire table lists real statuses with their values, including every status an error maps to', async (t) => {
  t.ok(wireRows.length > 0, 'found the wire table')
  const listed = new Map<string, string>()
  for (const row of wireRows) {
    const name = unquote(row[0])
    t.ok(name in CommandStatus, `${name} is a CommandStatus`)
    t.equal(Number(row[1]), CommandStatus[name as keyof typeof CommandStatus], `${name} value`)
    t.ok(row[2]?.length > 0, `${name} says when`)
    listed.set(name, row[2])
  }
  const byValue = new Map(Object.entries(CommandStatus).map(([k, v]) => [v as number, k]))
  for (const code of codes) {
    const s = ERRORS[code].commandStatus
    if (s === 0) continue
    t.ok(listed.has(byValue.get(s) ?? ''), `${code}'s status ${byValue.get(s)} is in the wire table`)
  }
})
