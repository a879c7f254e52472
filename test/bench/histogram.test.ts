import t from 'tap'
import { Histogram } from '../../engine/histogram'

t.test('values below 256 µs are kept exactly', async (t) => {
  const h = new Histogram()
  for (let v = 0; v < 256; v++) h.record(v)
  t.equal(h.percentile(50), 127)
  t.equal(h.percentile(100), 255)
  t.equal(h.min, 0)
  t.equal(h.max, 255)
})

t.test('percentiles of a wide distribution are within 1% of the exact value', async (t) => {
  const h = new Histogram()
  const values: number[] = []
  for (let i = 1; i <= 100_000; i++) values.push(Math.round(Math.exp(Math.random() * 16))) // 1 µs .. ~9 s
  for (const v of values) h.record(v)
  values.sort((a, b) => a - b)
  for (const p of [50, 90, 99, 99.9]) {
    const exact = values[Math.ceil((p / 100) * values.length) - 1]
    const got = h.percentile(p)
    t.ok(got >= exact && got <= exact * 1.01 + 1, `p${p}: ${got} vs exact ${exact}`)
  }
  t.equal(h.max, values[values.length - 1], 'max is exact')
  t.equal(h.count, values.length)
})

t.test('huge and negative values are clamped, add() merges, reset() empties', async (t) => {
  const a = new Histogram()
  a.record(-5)
  a.record(1e12)
  t.equal(a.min, 0)
  t.equal(a.max, 0x7fffffff)
  const b = new Histogram()
  b.record(1000)
  a.add(b)
  t.equal(a.count, 3)
  t.ok(a.percentile(50) >= 1000 && a.percentile(50) < 1010, 'the median is the merged value, within a bucket')
  const s = a.summary()
  t.equal(s.count, 3)
  t.equal(s.max, 2147483.647)
  a.reset()
  t.equal(a.count, 0)
  t.equal(a.percentile(99), 0)
})
