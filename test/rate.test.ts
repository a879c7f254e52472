// engine/rate.ts: TokenBucket (burst, exact refill, partial grants, hot reconfigure, a property
// bounding every grant sequence) and DailyQuota (limit, carry-over, UTC day reset, give back).
import t from 'tap'
import fc from 'fast-check'
import { TokenBucket, DailyQuota, utcDay, MS_PER_DAY } from '../engine/rate'

const T0 = Date.UTC(2024, 0, 5, 12, 0, 0) // an arbitrary ms epoch

t.test('TokenBucket', async (t) => {
  t.test('starts full: a batch gets at most burst tokens at once', async (t) => {
    const b = new TokenBucket(10, 5, T0)
    t.equal(b.take(8, T0), 5)
    t.equal(b.take(1, T0), 0, 'empty until time passes')
  })

  t.test('grants all of a batch when enough tokens are stored', async (t) => {
    const b = new TokenBucket(10, 20, T0)
    t.equal(b.take(7, T0), 7)
    t.equal(b.take(7, T0), 7)
    t.equal(b.take(7, T0), 6, 'partial grant of what is left')
  })

  t.test('fractional tokens accumulate exactly: 3/s over 1000 calls 1 ms apart grants 3', async (t) => {
    const b = new TokenBucket(3, 3, T0)
    t.equal(b.take(3, T0), 3, 'drain the initial burst')
    let granted = 0
    for (let i = 1; i <= 1000; i++) granted += b.take(1, T0 + i)
    t.equal(granted, 3)
    // and keeps doing so for 10 more seconds
    for (let i = 1001; i <= 11_000; i++) granted += b.take(1, T0 + i)
    t.equal(granted, 33)
  })

  t.test('a fractional rate (0.5/s) grants one token every 2 s', async (t) => {
    const b = new TokenBucket(0.5, 1, T0)
    t.equal(b.take(1, T0), 1)
    t.equal(b.take(1, T0 + 1_999), 0)
    t.equal(b.take(1, T0 + 2_000), 1)
    t.equal(b.take(1, T0 + 3_000), 0)
    t.equal(b.take(1, T0 + 4_000), 1)
  })

  t.test('stored tokens never exceed burst, however long idle', async (t) => {
    const b = new TokenBucket(100, 10, T0)
    b.take(10, T0)
    t.equal(b.take(1_000, T0 + 3_600_000), 10)
  })

  t.test('a clock stepping back adds no tokens', async (t) => {
    const b = new TokenBucket(1, 1, T0)
    t.equal(b.take(1, T0), 1)
    t.equal(b.take(1, T0 - 5_000), 0)
    t.equal(b.take(1, T0 + 999), 0, 'the step back did not move the refill origin back')
    t.equal(b.take(1, T0 + 1_000), 1)
  })

  t.test('take(0) and negative n grant 0 and take nothing', async (t) => {
    const b = new TokenBucket(1, 2, T0)
    t.equal(b.take(0, T0), 0)
    t.equal(b.take(-3, T0), 0)
    t.equal(b.take(5, T0), 2)
  })

  t.test('Infinity per second is unlimited', async (t) => {
    const b = new TokenBucket(Infinity, 0, T0)
    t.equal(b.take(1_000_000, T0), 1_000_000)
  })

  t.test('reconfigure caps the current fill to the new burst', async (t) => {
    const b = new TokenBucket(10, 100, T0)
    b.reconfigure(10, 4)
    t.equal(b.take(50, T0), 4)
  })

  t.test('reconfigure applies the new rate from then on and keeps a lower fill', async (t) => {
    const b = new TokenBucket(1, 10, T0)
    t.equal(b.take(8, T0), 8) // 2 left
    b.reconfigure(100, 50)
    t.equal(b.take(50, T0), 2, 'raising burst does not add tokens')
    t.equal(b.take(50, T0 + 100), 10, '100/s for 100 ms')
  })

  t.test('property: never grants more than burst + perSecond * elapsed', async () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 1_000 }), fc.double({ min: 0, max: 500, noNaN: true })),
        fc.integer({ min: 0, max: 200 }),
        fc.array(fc.tuple(fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.double({ min: 0, max: 50, noNaN: true })), fc.integer({ min: 0, max: 300 })), { maxLength: 200 }),
        (perSecond, burst, steps) => {
          const b = new TokenBucket(perSecond, burst, T0)
          let now = T0
          let granted = 0
          for (const [dt, n] of steps) {
            now += dt
            const g = b.take(n, now)
            if (!Number.isInteger(g) || g < 0 || g > n) return false
            granted += g
            if (granted > burst + (perSecond * (now - T0)) / 1000 + 1e-6) return false
          }
          return true
        },
      ),
      { numRuns: 500 },
    )
  })
})

t.test('DailyQuota', async (t) => {
  const day = utcDay(T0)

  t.test('utcDay counts whole UTC days since the epoch', async (t) => {
    t.equal(utcDay(0), 0)
    t.equal(utcDay(MS_PER_DAY - 1), 0)
    t.equal(utcDay(MS_PER_DAY), 1)
    t.equal(utcDay(T0), Math.floor(T0 / 86_400_000))
  })

  t.test('grants up to the limit, partially at the edge, then 0', async (t) => {
    const q = new DailyQuota(10, 0, day)
    t.equal(q.take(4, T0), 4)
    t.equal(q.take(4, T0), 4)
    t.equal(q.take(4, T0), 2)
    t.equal(q.take(1, T0), 0)
    t.equal(q.used, 10)
    t.equal(q.day, day)
  })

  t.test('used carried over from the store counts against the same day', async (t) => {
    const q = new DailyQuota(10, 7, day)
    t.equal(q.take(5, T0), 3)
    t.equal(q.used, 10)
  })

  t.test('resets at 00:00 UTC: the last ms of a day still counts, the first of the next does not', async (t) => {
    const midnight = (day + 1) * MS_PER_DAY
    const q = new DailyQuota(3, 3, day)
    t.equal(q.take(1, midnight - 1), 0, '23:59:59.999 is still the used-up day')
    t.equal(q.day, day)
    t.equal(q.take(2, midnight), 2, '00:00:00.000 starts a fresh day')
    t.equal(q.day, day + 1)
    t.equal(q.used, 2)
  })

  t.test('a stored day several days old resets on the first take', async (t) => {
    const q = new DailyQuota(5, 5, day - 3)
    t.equal(q.take(5, T0), 5)
    t.equal(q.day, day)
  })

  t.test('a clock stepping back to an earlier day does not reset', async (t) => {
    const q = new DailyQuota(2, 2, day)
    t.equal(q.take(1, T0 - MS_PER_DAY), 0)
    t.equal(q.day, day)
  })

  t.test('give() returns units for another take and never goes below 0', async (t) => {
    const q = new DailyQuota(5, 0, day)
    t.equal(q.take(5, T0), 5)
    q.give(2)
    t.equal(q.used, 3)
    t.equal(q.take(5, T0), 2)
    q.give(100)
    t.equal(q.used, 0)
    q.give(-1)
    t.equal(q.used, 0, 'a negative give is ignored')
  })

  t.test('setLimit lowers and raises the limit live; used stays', async (t) => {
    const q = new DailyQuota(10, 6, day)
    q.setLimit(4)
    t.equal(q.take(1, T0), 0)
    t.equal(q.used, 6)
    q.setLimit(8)
    t.equal(q.take(5, T0), 2)
  })

  t.test('an Infinity limit is unlimited', async (t) => {
    const q = new DailyQuota(Infinity, 0, day)
    t.equal(q.take(1_000_000, T0), 1_000_000)
    t.equal(q.used, 1_000_000)
  })
})
