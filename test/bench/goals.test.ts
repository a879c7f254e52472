// bench/goals.ts: issue 3's goals judged from measured numbers (the runs themselves are `smsc bench goals`).
import t from 'tap'
import { flat, formatVerdicts, judge, type GoalMeasures } from '../../bench/goals'

const engine = (submitsPerSec: number, extra: Partial<{ acked: number; sent: number; receiptsMatched: number; errors: number }> = {}) =>
  ({ submitsPerSec, acked: 1000, sent: 1000, receiptsMatched: 1000, errors: 0, ...extra })

t.test('every goal met when the numbers reach the thresholds exactly', async (t) => {
  const m: GoalMeasures = {
    receipts: { seconds: 60, engine: engine(100_000), nodeSmpp: 20_000, floor: 100_000 / 0.35 },
    at80: { rate: 80_000, p99Ms: 10 },
    binds1000: { bound: 1000, attempted: 1000, p99Ms: 10 },
    idle: { bound: 5000, kbPerBind: 50 },
    soak: { rate: 50_000, seconds: 600, anonKb: [300, 310, 305, 320, 330, 340, 350, 360, 340] },
  }
  const v = judge(m)
  t.equal(v.length, 7, 'seven goals')
  t.same(v.map((x) => x.met), [true, true, true, true, true, true, true], formatVerdicts(v))
})

t.test('each goal misses on its own number', async (t) => {
  const v = judge({
    receipts: { seconds: 60, engine: engine(99_999), nodeSmpp: 20_001, floor: 300_000 },
    at80: { rate: 80_000, p99Ms: 10.1 },
    binds1000: { bound: 999, attempted: 1000, p99Ms: 5 },
    idle: { bound: 5000, kbPerBind: 50.1 },
    soak: { rate: 50_000, seconds: 600, anonKb: [300, 300, 300, 300, 300, 361] },
  })
  t.same(v.map((x) => x.met), [false, false, false, false, false, false, false], formatVerdicts(v))
  t.match(v[1].measured, /^5\.00× \(20,001\/s\)$/)
  t.match(v[2].measured, /^33\.3% /)
})

t.test('100k/s is missed when a receipt is missing, an error happened, or the run was shorter than 60 s', async (t) => {
  const at = (m: GoalMeasures['receipts']) => judge({ receipts: m })[0].met
  t.equal(at({ seconds: 60, engine: engine(120_000, { receiptsMatched: 999 }) }), false, 'a receipt not delivered')
  t.equal(at({ seconds: 60, engine: engine(120_000, { errors: 1 }) }), false, 'an error')
  t.equal(at({ seconds: 59, engine: engine(120_000) }), false, 'too short')
  t.equal(at({ seconds: 60, engine: engine(120_000, { acked: 999 }) }), false, 'a submit not acknowledged')
  t.equal(at({ seconds: 60, engine: engine(120_000) }), true)
})

t.test('runs not made are reported as not run, never as met', async (t) => {
  const v = judge({})
  t.same(v.map((x) => x.met), [null, null, null, null, null, null, null])
  t.ok(v.every((x) => x.measured.startsWith('not run')))
  t.match(formatVerdicts(v), /^ {2}- {3}/)
})

t.test('flat memory: the last third within 20% of the first third, and enough samples to say', async (t) => {
  t.equal(flat([100, 100, 100, 110, 115, 120]), true)
  t.equal(flat([100, 100, 100, 110, 115, 121]), false)
  t.equal(flat([100, 200, 300, 400, 500, 600, 700, 800, 900]), false, 'growing')
  t.equal(flat([100, 100, 100, 100, 100]), false, 'five samples are too few')
})
