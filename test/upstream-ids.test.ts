/**
 * engine/upstream-ids.ts: the keys upstream ids are stored and looked up by under each receiptIds mode
 * (leading zeros, case, hex vs decimal, ids that are not numbers), the fallback keys a receipt is tried
 * by, the check a hit must pass and the table of recently unlinked ids.
 */
import t from 'tap'
import { RECEIPT_ID_MODES, type ReceiptIdMode } from '../engine/config'
import { RecentUpstreamIds, idNumber, idsAgree, receiptCandidates, sameUpstreamId, upstreamKey } from '../engine/upstream-ids'

/** Whether a receipt id finds the link of a submit id: one of its candidate keys is the submit's key, and the hit passes the check. */
function matches(submitId: string, receiptId: string, mode: ReceiptIdMode, textId?: string): boolean {
  const key = upstreamKey(submitId, 'submit', mode)
  const c = receiptCandidates(receiptId, textId, mode).find((x) => x.key === key)
  return c !== undefined && sameUpstreamId(submitId, c.id, mode)
}

t.test('idNumber: the value in decimal without leading zeros; null for what is not a number in that base', async (t) => {
  t.equal(idNumber('0042', 'decimal'), '42')
  t.equal(idNumber('0000', 'decimal'), '0')
  t.equal(idNumber('1000', 'hex'), '4096')
  t.equal(idNumber('00ff', 'hex'), '255')
  t.equal(idNumber('00FF', 'hex'), '255', 'case does not matter for hex')
  t.equal(idNumber('ff', 'decimal'), null, 'hex digits are not decimal')
  t.equal(idNumber('', 'decimal'), null)
  t.equal(idNumber(' 42', 'decimal'), null, 'no spaces')
  t.equal(idNumber('-42', 'decimal'), null, 'no sign')
  t.equal(idNumber('0x1f', 'hex'), null, 'no 0x prefix')
  t.equal(idNumber('4.2', 'decimal'), null)
  t.equal(idNumber('1e3', 'decimal'), null, 'not read as a float')
  t.equal(idNumber('msg-7', 'hex'), null)
  // beyond a double's exact range: BigInt
  t.equal(idNumber('ffffffffffffffffffff', 'hex'), (2n ** 80n - 1n).toString())
  t.equal(idNumber('12345678901234567890123', 'decimal'), '12345678901234567890123')
  t.equal(idNumber('00012345678901234567890123', 'decimal'), '12345678901234567890123', 'leading zeros of a long id too')
  t.equal(idNumber('9007199254740993', 'decimal'), '9007199254740993', '2^53 + 1 stays exact')
  t.equal(idNumber('20000000000001', 'hex'), (2n ** 53n + 1n).toString(), 'a 14-digit hex id stays exact')
  t.equal(idNumber('1'.repeat(64), 'decimal'), '1'.repeat(64), '64 characters are read')
  t.equal(idNumber('1'.repeat(65), 'decimal'), null, 'longer than an SMPP message_id: not read')
})

t.test('upstreamKey: exact keeps the id; the numeric modes key by value, each side in its base', async (t) => {
  for (const id of ['1000', '00ff', 'AbC', 'msg-7', ' x ']) t.equal(upstreamKey(id, 'submit', 'exact'), id, `exact: ${JSON.stringify(id)} as it is`)
  t.equal(upstreamKey('0042', 'submit', 'decimal'), '42')
  t.equal(upstreamKey('42', 'receipt', 'decimal'), '42')
  t.equal(upstreamKey('1000', 'submit', 'hex-submit'), '4096', 'hex-submit: the submit_sm_resp id read as hex')
  t.equal(upstreamKey('4096', 'receipt', 'hex-submit'), '4096', '... the receipt id as decimal')
  t.equal(upstreamKey('4096', 'submit', 'hex-receipt'), '4096', 'hex-receipt: the submit_sm_resp id read as decimal')
  t.equal(upstreamKey('1000', 'receipt', 'hex-receipt'), '4096', '... the receipt id as hex')
  t.equal(upstreamKey('00AB', 'submit', 'hex'), upstreamKey('ab', 'receipt', 'hex'), 'hex: zeros and case ignored')
  for (const mode of RECEIPT_ID_MODES) {
    t.equal(upstreamKey('msg-7', 'submit', mode), 'msg-7', `${mode}: an id that is no number keys as itself (submit)`)
    t.equal(upstreamKey('msg-7', 'receipt', mode), 'msg-7', `${mode}: ... and in a receipt`)
    t.equal(upstreamKey('', 'receipt', mode), '', `${mode}: empty stays empty (refused as a key elsewhere)`)
  }
  t.equal(upstreamKey('abc', 'receipt', 'hex-submit'), '2748', 'a receipt id that cannot be decimal is read as hex (as Kannel does)')
  t.equal(upstreamKey('abc', 'submit', 'hex-receipt'), '2748', 'a submit id that cannot be decimal is read as hex')
  t.equal(upstreamKey('abc', 'receipt', 'decimal'), 'abc', 'with both sides decimal, it stays a string')
})

t.test('matching under each mode', async (t) => {
  // the operator's trial: hex in submit_sm_resp, decimal in the receipt
  t.notOk(matches('1000', '4096', 'exact'), 'exact: 1000 and 4096 do not match')
  t.ok(matches('1000', '4096', 'hex-submit'), 'hex-submit: they do')
  t.ok(matches('0001000', '04096', 'hex-submit'), 'hex-submit: with leading zeros on either side')
  t.ok(matches('1A2B', '6699', 'hex-submit') && matches('1a2b', '6699', 'hex-submit'), 'hex-submit: either case of hex')
  t.notOk(matches('1000', '1000', 'hex-submit'), 'hex-submit: the same digits are different numbers (1000 decimal is 3e8)')
  t.ok(matches('3e8', '1000', 'hex-submit'))
  t.ok(matches('4096', '1000', 'hex-receipt') && matches('04096', '01000', 'hex-receipt'), 'hex-receipt: the other way round')
  t.notOk(matches('1000', '4096', 'hex-receipt'))
  t.ok(matches('0042', '42', 'decimal') && matches('42', '00042', 'decimal'), 'decimal: leading zeros')
  t.notOk(matches('42', '2a', 'decimal'), 'decimal: a hex receipt id is not converted')
  t.ok(matches('00ab12cf', 'AB12CF', 'hex'), 'hex: zeros and case')
  t.notOk(matches('ab12cf', 'ab12ce', 'hex'))
  // ids that are no numbers: compared exactly whatever the mode, and nothing throws
  for (const mode of RECEIPT_ID_MODES) {
    t.ok(matches('msg-7', 'msg-7', mode), `${mode}: msg-7 matches msg-7`)
    t.notOk(matches('msg-7', 'MSG-7', mode), `${mode}: but not MSG-7`)
    t.notOk(matches('msg-7', 'msg-07', mode), `${mode}: nor msg-07`)
    t.notOk(matches('x1000', '1000', mode), `${mode}: x1000 is not 1000`)
    t.notOk(matches('1000', 'x1000', mode), `${mode}: nor the other way`)
    t.doesNotThrow(() => receiptCandidates('\u00e9\u0000/', '\u{1f600}', mode), `${mode}: odd characters do not throw`)
  }
  t.ok(matches('ABC', 'abc', 'hex-submit'), 'hex-submit: a receipt id of hex letters is the hex id as given')
})

t.test('the default (exact) mode: case of one-case hex ids, the text id, never leading zeros', async (t) => {
  t.ok(matches('ab12cd', 'AB12CD', 'exact'), 'upper-case receipt id for a lower-case submit id')
  t.ok(matches('AB12CD', 'ab12cd', 'exact'), 'and the other way')
  t.notOk(matches('Ab12cd', 'AB12CD', 'exact'), 'a mixed-case submit id is never folded (it may be case-sensitive)')
  t.notOk(matches('ab12cd', 'Ab12cd', 'exact'), 'nor a mixed-case receipt id')
  t.notOk(matches('abcxyz', 'ABCXYZ', 'exact'), 'nor ids that are not hex')
  t.notOk(matches('0042', '42', 'exact'), 'leading zeros are not guessed')
  t.notOk(matches('42', '0042', 'exact'), '... either way')
  t.ok(matches('ab12ce', String(0xab12ce), 'exact', 'ab12ce'), 'the text id when the TLV id is in another form')
  t.notOk(matches('ab12ce', String(0xab12ce), 'exact'), 'without the text id: no match')
  t.same(receiptCandidates('ab12ce', 'ab12ce', 'exact').map((c) => c.key), ['ab12ce', 'AB12CE'], 'a text id equal to the TLV id adds nothing')
  t.same(receiptCandidates('11211470', 'ab12ce', 'exact'), [
    { key: '11211470', id: '11211470' }, { key: 'ab12ce', id: 'ab12ce' }, { key: 'AB12CE', id: 'ab12ce' },
  ], 'the TLV id first, then the text id, then the case variant')
  t.same(receiptCandidates('12345', undefined, 'exact').map((c) => c.key), ['12345'], 'digits only: one key, one get')
  t.same(receiptCandidates('0042', undefined, 'decimal').map((c) => c.key), ['42', '0042'], 'decimal: the value, then the id as given (a link stored before the option was set)')
  t.same(receiptCandidates('4096', undefined, 'hex-submit').map((c) => c.key), ['4096'], 'hex-submit: no string fallback (the same digits are another number there)')
})

t.test('sameUpstreamId: a hit through a fallback key settles only the submission it compares equal to', async (t) => {
  t.ok(sameUpstreamId('1000', '4096', 'hex-submit'))
  t.notOk(sameUpstreamId('4096', '4096', 'hex-submit'), 'a link stored as the plain string 4096 is not the receipt 4096 under hex-submit')
  t.ok(sameUpstreamId('0042', '0042', 'decimal'))
  t.notOk(sameUpstreamId('42', 'x42', 'decimal'), 'a number and a non-number never compare equal')
  t.ok(sameUpstreamId('x42', 'x42', 'decimal'))
  t.ok(sameUpstreamId('abc', 'ABC', 'exact'))
  t.notOk(sameUpstreamId('aBc', 'ABC', 'exact'))
})

t.test('RecentUpstreamIds: remembers removed links by namespace, forgets when the slot is reused', async (t) => {
  const r = new RecentUpstreamIds()
  t.notOk(r.has('ns', '4096'), 'empty')
  r.add('ns', '4096')
  t.ok(r.has('ns', '4096'))
  t.notOk(r.has('other', '4096'), 'per namespace')
  t.notOk(r.has('ns', '4097'))
  t.notOk(r.has('ns4', '096'), 'the namespace and the id do not run together')
  const tiny = new RecentUpstreamIds(1) // two slots
  for (let i = 0; i < 64; i++) tiny.add('ns', String(i))
  let kept = 0
  for (let i = 0; i < 64; i++) if (tiny.has('ns', String(i))) kept++
  t.ok(kept >= 1 && kept <= 2, `a full table keeps only the latest per slot (${kept} of 64)`)
  t.ok(tiny.has('ns', '63'), 'the last one added is remembered')
})

t.test('idsAgree: the text id stands in for the TLV id only when they can name the same submission', async (t) => {
  t.ok(idsAgree('1A2B3C', '1a2b3c'), 'hex case aside')
  t.ok(idsAgree('12345', '3039'), 'the same number, decimal and hex')
  t.ok(idsAgree('0000004096', '4096'), 'leading zeros')
  t.ok(idsAgree('abcdef0123456789', 'abcdef0123'), 'a text id truncated to 10 characters')
  t.notOk(idsAgree('12345', '12346'), 'two numbers')
  t.ok(idsAgree('1a2b3c', '1715004'), 'hex 1a2b3c is decimal 1715004')
  t.notOk(idsAgree('1a2b3c', '1715005'), 'a hex id and a decimal that is another number')
  t.notOk(idsAgree('msg-1', 'msg-2'))
  t.notOk(idsAgree('12345', '2345'), 'a short tail is not a truncation')
})
