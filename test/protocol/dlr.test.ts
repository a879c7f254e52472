import t from 'tap'
import fc from 'fast-check'
import {
  formatReceipt, MESSAGE_STATE, parseReceipt, stateOfStat, statOfState, type ReceiptFields, type ReceiptStat,
} from '../../engine/protocol/dlr'

const failure = <T>(p: fc.IPropertyWithHooks<T>, numRuns = 500) => fc.defaultReportMessage(fc.check(p, { numRuns }))
const STATS: ReceiptStat[] = ['DELIVRD', 'EXPIRED', 'DELETED', 'UNDELIV', 'ACCEPTD', 'UNKNOWN', 'REJECTD', 'ENROUTE', 'SKIPPED']

const sample: ReceiptFields = {
  id: '1234567890', sub: 1, dlvrd: 1,
  submitDate: Date.UTC(2025, 0, 2, 3, 4, 5), doneDate: Date.UTC(2025, 0, 2, 3, 6, 7),
  stat: 'DELIVRD', err: 0, text: 'Hello world, this is a longer message',
}

t.test('formatReceipt writes the Appendix B layout', async (t) => {
  t.equal(formatReceipt(sample),
    'id:1234567890 sub:001 dlvrd:001 submit date:2501020304 done date:2501020306 stat:DELIVRD err:000 text:Hello world, this is')
  t.equal(formatReceipt(sample, { withSeconds: true }),
    'id:1234567890 sub:001 dlvrd:001 submit date:250102030405 done date:250102030607 stat:DELIVRD err:000 text:Hello world, this is')
})

t.test('formatReceipt pads numbers, keeps an empty text and never cuts a surrogate pair', async (t) => {
  const s = formatReceipt({ ...sample, sub: 12, dlvrd: 0, err: 1234, stat: 'UNDELIV', text: '' })
  t.match(s, / sub:012 dlvrd:000 /)
  t.match(s, / stat:UNDELIV err:1234 text:$/)
  t.ok(formatReceipt({ ...sample, text: 'x'.repeat(19) + '😀!' }).endsWith('text:' + 'x'.repeat(19)))
  t.ok(formatReceipt({ ...sample, text: 'x'.repeat(18) + '😀!' }).endsWith('text:' + 'x'.repeat(18) + '😀'))
})

t.test('parseReceipt reads back what formatReceipt wrote', async (t) => {
  t.same(parseReceipt(formatReceipt(sample)), {
    id: '1234567890', sub: 1, dlvrd: 1,
    submitDateRaw: '2501020304', submitDate: Date.UTC(2025, 0, 2, 3, 4),
    doneDateRaw: '2501020306', doneDate: Date.UTC(2025, 0, 2, 3, 6),
    stat: 'DELIVRD', err: 0, text: 'Hello world, this is',
  })
})

t.test('parseReceipt is tolerant of case, seconds, spellings and missing fields', async (t) => {
  const r = parseReceipt('ID:abc-1 SUB:001 DLVRD:001 Submit_Date:250102030405 DONE DATE:250102030607 Stat:delivered Err:000 Text:hi there')!
  t.equal(r.id, 'abc-1')
  t.equal(r.submitDate, Date.UTC(2025, 0, 2, 3, 4, 5))
  t.equal(r.doneDate, Date.UTC(2025, 0, 2, 3, 6, 7))
  t.equal(r.doneDateRaw, '250102030607')
  t.equal(r.stat, 'DELIVRD')
  t.equal(r.text, 'hi there')
  t.same(parseReceipt('id:77 stat:UNDELIV err:069'), { id: '77', stat: 'UNDELIV', err: 69 })
  const odd = parseReceipt('id:9 sub:x submit date:99 stat:WHATEVER text:stat:DELIVRD err:1')!
  t.same(odd, { id: '9', submitDateRaw: '99', text: 'stat:DELIVRD err:1' }, 'bad values left out; text runs to the end')
  t.equal(parseReceipt('hello world'), null)
  t.equal(parseReceipt(''), null)
})

t.test('property: parse(format(f)) round trips at minute precision', async (t) => {
  const minute = fc.integer({ min: Date.UTC(2000, 0, 1) / 60_000, max: Date.UTC(2099, 11, 31, 23, 59) / 60_000 }).map((m) => m * 60_000)
  const fields = fc.record({
    id: fc.stringMatching(/^[0-9A-Za-z-]{1,65}$/),
    sub: fc.integer({ min: 0, max: 999 }),
    dlvrd: fc.integer({ min: 0, max: 999 }),
    submitDate: minute,
    doneDate: minute,
    stat: fc.constantFrom(...STATS),
    err: fc.integer({ min: 0, max: 999 }),
    text: fc.string({ maxLength: 20 }),
  })
  t.equal(failure(fc.property(fields, (f) => {
    const r = parseReceipt(formatReceipt(f))
    return r !== null && r.id === f.id && r.sub === f.sub && r.dlvrd === f.dlvrd && r.submitDate === f.submitDate &&
      r.doneDate === f.doneDate && r.stat === f.stat && r.err === f.err && r.text === f.text
  })), undefined)
})

t.test('message_state values and the stat mapping (SMPP 3.4 §5.2.28)', async (t) => {
  t.same(MESSAGE_STATE, {
    ENROUTE: 1, DELIVERED: 2, EXPIRED: 3, DELETED: 4, UNDELIVERABLE: 5, ACCEPTED: 6, UNKNOWN: 7, REJECTED: 8, SKIPPED: 9,
  })
  t.equal(statOfState(MESSAGE_STATE.DELIVERED), 'DELIVRD')
  t.equal(statOfState(MESSAGE_STATE.UNDELIVERABLE), 'UNDELIV')
  t.equal(statOfState(0), 'UNKNOWN')
  t.equal(statOfState(42), 'UNKNOWN')
  for (const stat of STATS) t.equal(statOfState(stateOfStat(stat)), stat, stat)
  t.equal(stateOfStat('REJECTD'), 8)
})
