/**
 * engine/log.ts: JSON lines filtered by level, and RepeatedLog, which keeps a flood of one kind of
 * line (unmatched upstream receipts, failed TLS handshakes) to one line per key and interval.
 */
import t from 'tap'
import { RepeatedLog, createLogger, type Level } from '../engine/log'

type Line = { level: Level; msg: string; f: Record<string, unknown> }
const collect = () => {
  const lines: Line[] = []
  return { lines, log: (level: Level, msg: string, f?: Record<string, unknown>) => { lines.push({ level, msg, f: f ?? {} }) } }
}

t.test('createLogger: one JSON object per line, below the level dropped', async (t) => {
  const out: string[] = []
  const log = createLogger('warn', (l) => out.push(l))
  log('info', 'dropped')
  log('warn', 'kept', { a: 1 })
  t.equal(out.length, 1)
  t.ok(out[0].endsWith('\n'))
  const o = JSON.parse(out[0])
  t.match(o, { level: 'warn', msg: 'kept', a: 1 })
  t.ok(!Number.isNaN(Date.parse(o.time)), 'with an ISO time')
})

t.test('RepeatedLog: the first at once with its fields, then one line an interval with the count, per key', async (t) => {
  const { lines, log } = collect()
  const r = new RepeatedLog(log, { level: 'warn', first: 'first', more: 'more', keyName: 'connector', everyMs: 60_000 })
  r.add('up', { upstreamId: '4096', textId: '1000' }, 0)
  t.equal(lines.length, 1, 'the first one is logged at once')
  t.same(lines[0], { level: 'warn', msg: 'first', f: { connector: 'up', upstreamId: '4096', textId: '1000' } })
  for (let i = 1; i <= 1000; i++) r.add('up', { upstreamId: String(4096 + i) }, i * 10)
  r.tick(59_999)
  t.equal(lines.length, 1, 'a flood within the interval adds no line')
  r.add('other', { upstreamId: 'z' }, 20_000)
  t.equal(lines.length, 2, 'another key has its own first line')
  t.equal(lines[1].f.connector, 'other')
  r.tick(60_000)
  t.equal(lines.length, 3, 'an interval after the first: one line with the count')
  t.same(lines[2], { level: 'warn', msg: 'more', f: { connector: 'up', count: 1000, inLastMs: 60_000, last: { upstreamId: '5096' } } })
  r.tick(200_000)
  t.equal(lines.length, 3, 'nothing more came, so no line')
  r.add('up', { upstreamId: '9' }, 300_000)
  t.equal(lines.length, 4, 'after a quiet interval, the next one is logged at once, with its fields')
  t.equal(lines[3].f.upstreamId, '9')
  r.add('up', { upstreamId: '10' }, 300_001)
  r.add('up', { upstreamId: '11' }, 360_001)
  t.equal(lines.length, 5, 'a count due when the next one comes (no tick in between) is written then')
  t.same(lines[4].f, { connector: 'up', count: 2, inLastMs: 60_001, last: { upstreamId: '11' } })
})

t.test('RepeatedLog: past maxKeys the rest share one key, and quiet keys are forgotten', async (t) => {
  const { lines, log } = collect()
  const r = new RepeatedLog(log, { level: 'info', first: 'TLS handshake failed', more: 'more failed', keyName: 'remote', everyMs: 1000, maxKeys: 3 })
  for (let i = 0; i < 10; i++) r.add(`10.0.0.${i}`, { reason: 'x' }, 0)
  t.same(lines.map((l) => l.f.remote), ['10.0.0.0', '10.0.0.1', '10.0.0.2', '*'], 'three keys, then one line for all the rest')
  r.tick(1000)
  t.same(lines[4].f, { remote: '*', count: 6, inLastMs: 1000, last: { reason: 'x' } }, 'the rest counted under *')
  r.tick(2000)
  r.add('10.0.0.9', { reason: 'y' }, 2500)
  t.equal(lines.length, 6, 'keys quiet for two intervals are forgotten: a new address has a line of its own')
  t.equal(lines[5].f.remote, '10.0.0.9')
})

t.test('RepeatedLog: an add may stand for a batch of n: the count grows by n', async (t) => {
  const { lines, log } = collect()
  const r = new RepeatedLog(log, { level: 'warn', first: 'discarding', more: 'more discarded', keyName: 'systemId', everyMs: 60_000 })
  r.add('shop', { receipts: 4, mo: 1 }, 0, 5)
  t.same(lines[0].f, { systemId: 'shop', receipts: 4, mo: 1 }, 'the first batch at once, its counts in its fields')
  r.add('shop', { receipts: 2, mo: 0 }, 20, 2)
  r.add('shop', { receipts: 3, mo: 0 }, 40, 3)
  r.tick(60_000)
  t.same(lines[1].f, { systemId: 'shop', count: 5, inLastMs: 60_000, last: { receipts: 3, mo: 0 } }, 'then the things of the later batches, not the number of adds')
})
