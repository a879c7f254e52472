/**
 * DpfWatches: who asked an upstream to alert for a subscriber (set_dpf). An alert goes to the watches
 * whose source is its esme_addr (else to every one for that subscriber), once; expired watches and
 * other upstreams' watches get nothing; the table keeps at most `max` subscribers.
 */
import t from 'tap'
import { DpfWatches } from '../../actors/dpf'

const w = (systemId: string, src: string, until = 1000) => ({ systemId, src: [1, 1, src] as [number, number, string], until })

t.test('an alert goes to the watches whose source is its esme_addr, and clears only those', async (t) => {
  const d = new DpfWatches()
  d.watch('up', '4477', w('a', '111'))
  d.watch('up', '4477', w('b', '222'))
  t.same(d.take('up', '4477', '222', 0).map((x) => x.systemId), ['b'])
  t.same(d.take('up', '4477', '111', 0).map((x) => x.systemId), ['a'], 'a was still watched')
  t.same(d.take('up', '4477', '111', 0), [], 'cleared: a second alert finds nothing')
  t.equal(d.size, 0)
})

t.test('an esme_addr no watch has (the upstream\'s own address for us) alerts every watch of the subscriber', async (t) => {
  const d = new DpfWatches()
  d.watch('up', '4477', w('a', '111'))
  d.watch('up', '4477', w('b', '222'))
  t.same(d.take('up', '4477', '', 0).map((x) => x.systemId), ['a', 'b'])
  t.equal(d.size, 0)
})

t.test('the same account and source twice is one watch, kept until the later expiry', async (t) => {
  const d = new DpfWatches()
  d.watch('up', '4477', w('a', '111', 100))
  d.watch('up', '4477', w('a', '111', 500))
  t.same(d.take('up', '4477', '111', 400), [w('a', '111', 500)])
})

t.test('expired watches and other upstreams or subscribers get nothing', async (t) => {
  const d = new DpfWatches()
  d.watch('up', '4477', w('a', '111', 100))
  d.watch('other', '4488', w('b', '222', 1000))
  t.same(d.take('up', '4477', '111', 101), [], 'past its message\'s expiry')
  t.equal(d.size, 1, 'and dropped')
  t.same(d.take('up', '4488', '222', 0), [], 'another upstream\'s subscriber')
  t.same(d.take('other', '4477', '222', 0), [], 'another subscriber')
  t.equal(d.take('other', '4488', '222', 0).length, 1)
})

t.test('past max subscribers the oldest is forgotten', async (t) => {
  const d = new DpfWatches(3)
  for (const ms of ['1', '2', '3', '4']) d.watch('up', ms, w('a', '111'))
  t.equal(d.size, 3)
  t.same(d.take('up', '1', '111', 0), [], 'the first one is gone')
  t.equal(d.take('up', '4', '111', 0).length, 1)
})
