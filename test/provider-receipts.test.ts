/**
 * engine/provider-receipts.ts: where an HTTP provider's id is in its answer, how its callback bodies
 * read (one receipt, an array, a wrapped array; field paths; status words; err and doneAt), what a
 * malformed body is refused with, and the token comparison.
 */
import t from 'tap'
import { DEFAULT_CALLBACK_FIELDS, DEFAULT_CALLBACK_STATUSES, idAt, parseCallback, tokenMatches, valueAt, type CallbackFields } from '../engine/provider-receipts'
import { MessageState } from '../engine/protocol/constants'

const spec = (fields: Partial<CallbackFields> = {}, statuses: Record<string, string> = {}) => ({
  fields: { ...DEFAULT_CALLBACK_FIELDS, ...fields },
  statuses: { ...DEFAULT_CALLBACK_STATUSES, ...statuses } as typeof DEFAULT_CALLBACK_STATUSES,
})

t.test('a dotted path reads objects and array indexes', async (t) => {
  const v = { messages: [{ id: 'a1', status: { name: 'DELIVERED' } }], n: 7 }
  t.equal(valueAt(v, 'messages.0.id'), 'a1')
  t.equal(valueAt(v, 'messages.0.status.name'), 'DELIVERED')
  t.equal(valueAt(v, 'messages.1.id'), undefined, 'past the end')
  t.equal(valueAt(v, 'messages.x'), undefined, 'a word does not index an array')
  t.equal(valueAt(v, 'n.toFixed'), undefined, 'never a property of a primitive or the prototype')
  t.equal(valueAt(v, 'constructor'), undefined)
})

t.test("the provider's id in its 2xx answer: a string or a number at the path, else none", async (t) => {
  t.equal(idAt(Buffer.from('{"id":"p-1"}'), 'id'), 'p-1')
  t.equal(idAt(Buffer.from('{"id":42}'), 'id'), '42', 'a number as its decimal text')
  t.equal(idAt(Buffer.from('{"messages":[{"id":"m-9"}]}'), 'messages.0.id'), 'm-9')
  t.equal(idAt(Buffer.from('{"id":""}'), 'id'), null, 'empty')
  t.equal(idAt(Buffer.from('{"id":{"x":1}}'), 'id'), null, 'an object')
  t.equal(idAt(Buffer.from('OK 12345'), 'id'), null, 'not JSON')
  t.equal(idAt(null, 'id'), null)
})

t.test('one receipt, an array, or an array wrapped at callbackFields.list', async (t) => {
  t.same(parseCallback({ id: 'p1', status: 'delivered' }, spec()), { receipts: [{ upstreamId: 'p1', state: MessageState.DELIVERED, err: 0 }], unmapped: [] })
  const many = parseCallback([{ id: 'p1', status: 'UNDELIVERED', err: 34 }, { id: 2, status: 'expired', err: '005' }, { id: 'p3', status: 'Rejected' }], spec())
  t.same(many, { receipts: [
    { upstreamId: 'p1', state: MessageState.UNDELIVERABLE, err: 34 },
    { upstreamId: '2', state: MessageState.EXPIRED, err: 5 },
    { upstreamId: 'p3', state: MessageState.REJECTED, err: 0 },
  ], unmapped: [] }, 'words in any case; a number id as text; err as a number or digits')
  const wrapped = parseCallback({ results: [{ messageId: 'x', status: { groupName: 'DELIVERED' }, error: { id: 0 } }] },
    spec({ list: 'results', id: 'messageId', status: 'status.groupName', err: 'error.id' }))
  t.same(wrapped, { receipts: [{ upstreamId: 'x', state: MessageState.DELIVERED, err: 0 }], unmapped: [] }, 'Infobip-like nesting through paths')
  t.same(parseCallback([], spec()), { receipts: [], unmapped: [] }, 'an empty array is nothing to do')
})

t.test('ACCEPTD and ENROUTE words are not final (an intermediate state)', async (t) => {
  const r = parseCallback([{ id: 'a', status: 'accepted' }, { id: 'b', status: 'sent' }, { id: 'c', status: 'ACCEPTD' }], spec()) as { receipts: { state: number }[] }
  t.same(r.receipts.map((x) => x.state), [MessageState.ENROUTE, MessageState.ENROUTE, MessageState.ENROUTE])
})

t.test("a connector's own words, numbers included; a word nothing maps is reported and its receipt left out", async (t) => {
  const s = spec({}, { '1': 'DELIVRD', '2': 'UNDELIV', failed: 'REJECTD' })
  const r = parseCallback([{ id: 'a', status: 1 }, { id: 'b', status: '2' }, { id: 'c', status: 'FAILED' }, { id: 'd', status: 'mystery' }, { id: 'e', status: 'Mystery' }], s)
  t.same(r, {
    receipts: [
      { upstreamId: 'a', state: MessageState.DELIVERED, err: 0 },
      { upstreamId: 'b', state: MessageState.UNDELIVERABLE, err: 0 },
      { upstreamId: 'c', state: MessageState.REJECTED, err: 0 },
    ],
    unmapped: ['mystery', 'Mystery'],
  }, 'its words override the defaults (failed → REJECTD here)')
})

t.test('err and doneAt that do not read are left out: err 0, no done time', async (t) => {
  const r = parseCallback([
    { id: 'a', status: 'delivered', err: 'EC_ABSENT', doneAt: 'yesterday-ish' },
    { id: 'b', status: 'delivered', err: 70000, doneAt: '2024-05-01T10:00:00Z' },
    { id: 'c', status: 'delivered', doneAt: 1714557600 },
    { id: 'd', status: 'delivered', doneAt: 1714557600123 },
    { id: 'e', status: 'delivered', doneAt: '1714557600' },
  ], spec()) as { receipts: { err: number; doneAt?: number }[] }
  t.same(r.receipts.map((x) => [x.err, x.doneAt]), [
    [0, undefined], [0, Date.parse('2024-05-01T10:00:00Z')], [0, 1714557600_000], [0, 1714557600123], [0, 1714557600_000],
  ], 'ISO-8601, epoch seconds, epoch ms, digits; err above 65535 is no network_error_code')
  const off = parseCallback({ id: 'a', status: 'failed', err: 12, doneAt: 1714557600 }, spec({ err: null, doneAt: null })) as { receipts: unknown[] }
  t.same(off.receipts, [{ upstreamId: 'a', state: MessageState.UNDELIVERABLE, err: 0 }], 'err and doneAt null: not read')
})

t.test('a malformed body is refused naming the field as the body has it', async (t) => {
  t.equal(parseCallback({ status: 'delivered' }, spec()), "id is required: the provider's message id (a string or a number)")
  t.equal(parseCallback([{ id: 'a', status: 'delivered' }, { id: 'b' }], spec()), "[1].status is required: the provider's status (a string or a number)")
  t.equal(parseCallback([{ id: 'a', status: 'x' }, 'b'], spec()), '[1] must be a JSON object (a receipt)')
  t.equal(parseCallback('delivered', spec()), 'the body must be a JSON object (a receipt)')
  t.equal(parseCallback({ results: [{ messageId: '', status: 'x' }] }, spec({ list: 'results', id: 'messageId' })), "results[0].messageId is required: the provider's message id (a string or a number)")
  t.equal(parseCallback({ id: 'a', status: 'delivered' }, spec({ list: 'results' })), 'results must be an array of receipts')
  t.equal(parseCallback({ id: 'a', status: { name: 'x' } }, spec()), "status is required: the provider's status (a string or a number)", 'an object is no status')
})

t.test('the token: only the exact string matches', async (t) => {
  const token = 'a-long-callback-secret-123'
  t.ok(tokenMatches(token, token))
  t.notOk(tokenMatches(undefined, token), 'none given')
  t.notOk(tokenMatches('', token))
  t.notOk(tokenMatches(token.slice(0, -1), token), 'a prefix')
  t.notOk(tokenMatches(`${token}x`, token), 'longer')
  t.notOk(tokenMatches(token.toUpperCase(), token), 'case matters')
})
