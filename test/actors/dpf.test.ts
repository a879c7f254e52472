/**
 * DpfWatches: who asked an upstream to alert for a subscriber (set_dpf). An alert goes to the watches
 * whose source is its esme_addr (else to every one for that subscriber), once; expired watches and
 * other upstreams' watches get nothing; '+44…', '0044…' and '44…' are one subscriber; the table keeps
 * at most `max` subscribers (least recently watched forgotten first) and 16 watches per subscriber.
 */
import t from 'tap'
import { DpfWatches } from '../../actors/dpf'

const w = (systemId: string, src: string, until = 1000) => ({ systemId, src: [1, 1, src] as [number, number, string], until })

t.test('an alert goes to the watches whose source is its esme_addr, and clears only those', async (t) => {
  const d = new DpfWatches()
  d.watch('up', '4477', w('a', '111'), 0)
  d.watch('up', '4477', w('b', '222'), 0)
  t.same(d.take('up', '4477', '222', 0).map((x) => x.systemId), ['b'])
  t.same(d.take('up', '4477', '111', 0).map((x) => x.systemId), ['a'], 'a was still watched')
  t.same(d.take('up', '4477', '111', 0), [], 'cleared: a second alert finds nothing')
  t.equal(d.size, 0)
})

t.test('an esme_addr no watch has (the upstream\'s own address for us) alerts every watch of the subscriber', async (t) => {
  const d = new DpfWatches()
  d.watch('up', '4477', w('a', '111'), 0)
  d.watch('up', '4477', w('b', '222'), 0)
  t.same(d.take('up', '4477', '', 0).map((x) => x.systemId), ['a', 'b'])
  t.equal(d.size, 0)
})

t.test('international forms of one number are one subscriber, and one source', async (t) => {
  const d = new DpfWatches()
  d.watch('up', '+4477', w('a', '+111'), 0)
  d.watch('up', '4477', w('b', '222'), 0)
  t.same(d.take('up', '004477', '00111', 0).map((x) => x.systemId), ['a'], 'found by 0044…, matched by 00111 against +111')
  t.same(d.take('up', '+4477', '', 0).map((x) => x.systemId), ['b'])
})

t.test('the same account and source twice is one watch, the later one', async (t) => {
  const d = new DpfWatches()
  d.watch('up', '4477', w('a', '111', 100), 0)
  d.watch('up', '4477', w('a', '111', 500), 0)
  t.same(d.take('up', '4477', '111', 400), [w('a', '111', 500)])
})

t.test('expired watches and other upstreams or subscribers get nothing', async (t) => {
  const d = new DpfWatches()
  d.watch('up', '4477', w('a', '111', 100), 0)
  d.watch('other', '4488', w('b', '222', 1000), 0)
  t.same(d.take('up', '4477', '111', 101), [], 'past its time')
  t.equal(d.size, 1, 'and dropped')
  t.same(d.take('up', '4488', '222', 0), [], 'another upstream\'s subscriber')
  t.same(d.take('other', '4477', '222', 0), [], 'another subscriber')
  t.equal(d.take('other', '4488', '222', 0).length, 1)
})

t.test('past max subscribers the least recently watched is forgotten; an expired one at the front goes early', async (t) => {
  const d = new DpfWatches(3)
  for (const ms of ['1', '2', '3']) d.watch('up', ms, w('a', '111'), 0)
  d.watch('up', '1', w('b', '111'), 0) // 1 is watched again: now the most recent
  d.watch('up', '4', w('a', '111'), 0)
  t.equal(d.size, 3)
  t.same(d.take('up', '2', '111', 0), [], '2, the least recently watched, is gone')
  t.equal(d.take('up', '1', '', 0).length, 2, '1 stayed, with both its watches')
  const e = new DpfWatches(100)
  e.watch('up', 'old', w('a', '111', 50), 0)
  e.watch('up', 'new', w('a', '111', 1000), 60)
  t.equal(e.size, 1, 'the expired watch at the front is dropped by the next watch')
})

t.test('at most 16 watches per subscriber: the oldest goes', async (t) => {
  const d = new DpfWatches()
  for (let i = 0; i < 20; i++) d.watch('up', '4477', w(`acc${i}`, '111'), 0)
  const all = d.take('up', '4477', '111', 0).map((x) => x.systemId)
  t.equal(all.length, 16)
  t.equal(all[0], 'acc4', 'acc0..acc3 were dropped')
})

t.test('changes() gives the meta entries to store, load() takes them back: an alert after a restart finds its watch', async (t) => {
  const d = new DpfWatches()
  d.watch('up', '+4477', w('a', '111', 5000), 0)
  d.watch('up', '4488', w('b', '222', 5000), 0)
  d.watch('up', '4499', w('c', '333', 10), 0) // expired by the restart below
  const written = new Map<string, unknown>()
  const apply = (entries: [string, unknown][]) => { for (const [k, v] of entries) if (v === null) written.delete(k); else written.set(k, v) }
  apply(d.changes())
  t.equal(written.size, 3, 'one entry per subscriber')
  t.same(d.changes(), [], 'nothing more until something changes')
  t.same(d.take('up', '4488', '222', 0).map((x) => x.systemId), ['b'])
  apply(d.changes())
  t.equal(written.size, 2, 'a taken watch is removed from the store too')

  // a restart: a new table from what was stored, with a malformed entry beside it
  const e = new DpfWatches()
  e.load([...written.entries(), ['dpf:0000', { ns: 'up', ms: '4411', watches: [w('x', '1', 5000)] }], ['dpf:1111', 'not an entry']], 100)
  t.equal(e.size, 1, 'the live watch is back; the expired one and the malformed ones are not')
  t.same(e.take('up', '004477', '111', 100).map((x) => x.systemId), ['a'], 'and the alert finds it')
  const after = e.changes()
  t.equal(after.length, 2, 'the taken and the expired entries are written at the next write')
  t.ok(after.every(([k, v]) => written.has(k) && v === null), 'as removals of their keys')
})

t.test('a store key fits whatever the upstream namespace (its host) and the address', async (t) => {
  const d = new DpfWatches()
  d.watch(`smpp:${'h'.repeat(300)}:2775:sys`, '\u0001'.repeat(21), w('a', '111', 5000), 0)
  const [[key, value]] = d.changes()
  t.ok(Buffer.byteLength(key) <= 64, `a short key (${key})`)
  t.match(value, { ns: `smpp:${'h'.repeat(300)}:2775:sys`, ms: '\u0001'.repeat(21) }, 'the value names both')
})
