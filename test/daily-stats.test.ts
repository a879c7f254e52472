// engine/daily-stats.ts: the per-account daily buckets fed from the cumulative Metrics counters: deltas between
// samples, the UTC day a sample's deltas go to, a counter that starts again from 0, what a flush commits and what
// a restart reads back, retention, and the report range rules.
import t from 'tap'
import { DailyStats, TRAFFIC_META, reportRange, storedTraffic, trafficKey, type CumulativeCounters, type TrafficStore } from '../engine/daily-stats'
import { CommandStatus as S } from '../engine/protocol/constants'

const DAY = 86_400_000
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0) // 2024-05-01 12:00 UTC

/** The store's meta keys in memory: what commit({ meta }) would leave (null removes). */
class MetaStore implements TrafficStore {
  readonly data = new Map<string, unknown>()
  commit(entries: readonly [string, unknown][]): void {
    for (const [k, v] of entries) {
      if (v === null) this.data.delete(k)
      else this.data.set(k, structuredClone(v))
    }
  }
  getMeta(key: string): unknown { return structuredClone(this.data.get(key)) }
  metaWithPrefix(prefix: string): [string, unknown][] {
    return [...this.data].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1))
  }
  metaKeys(start: string, end: string): string[] {
    return [...this.data.keys()].filter((k) => k >= start && k < end).sort()
  }
}

/** An account's counters as engine/telemetry.ts Metrics keeps them. */
function counters(): CumulativeCounters & { statuses: Map<number, number>; receipts: Record<string, number>; byKind: { receipt: [number, number]; mo: [number, number] }; discarded: { receipt: number; mo: number } } {
  return { statuses: new Map(), receipts: {}, byKind: { receipt: [0, 0], mo: [0, 0] }, discarded: { receipt: 0, mo: 0 } }
}
const bump = (m: Map<number, number>, status: number, n: number) => m.set(status, (m.get(status) ?? 0) + n)

t.test('a sample adds what the counters grew since the last one, by status name and stat; deliveries by kind and outcome', async (t) => {
  const store = new MetaStore()
  const d = new DailyStats(store, 93)
  const a = counters()
  bump(a.statuses, 0, 10)
  bump(a.statuses, S.ESME_RTHROTTLED, 3)
  a.receipts.DELIVRD = 4
  a.byKind.receipt[0] = 4
  d.sample(T0, [['acme', a]])
  bump(a.statuses, 0, 5)
  bump(a.statuses, S.SMSC_RQUOTA, 2)
  a.receipts.DELIVRD += 1
  a.receipts.UNDELIV = 2
  a.byKind.receipt[0] += 3
  a.byKind.receipt[1] += 1
  a.byKind.mo[0] += 2
  a.discarded.receipt += 3
  a.discarded.mo += 1
  d.sample(T0 + 1000, [['acme', a]])
  d.sample(T0 + 2000, [['acme', a]]) // nothing grew: nothing added
  t.same(d.counts('2024-05-01', 'acme'), {
    accepted: 15, refused: 5, refusedBy: { ESME_RTHROTTLED: 3, SMSC_RQUOTA: 2 }, receipts: { DELIVRD: 5, UNDELIV: 2 },
    toEsme: { receiptsOk: 7, receiptsFailed: 1, receiptsDiscarded: 3, moOk: 2, moFailed: 0, moDiscarded: 1 },
  })
  t.equal(d.counts('2024-05-01', 'other'), undefined, 'an account with no traffic has no bucket')
})

t.test('submits refused before bind (account "") are no account\'s', async (t) => {
  const d = new DailyStats(new MetaStore(), 93)
  const u = counters()
  bump(u.statuses, S.ESME_RINVBNDSTS, 4)
  d.sample(T0, [['', u]])
  t.same([...d.accountsOf('2024-05-01').keys()], [])
})

t.test('a day boundary: the deltas of a sample go to the UTC day of the sample', async (t) => {
  const d = new DailyStats(new MetaStore(), 93)
  const a = counters()
  const midnight = Date.UTC(2024, 4, 2)
  bump(a.statuses, 0, 7)
  d.sample(midnight - 1, [['acme', a]])
  bump(a.statuses, 0, 3) // sent before midnight, sampled after it: counted on the new day
  d.sample(midnight + 999, [['acme', a]])
  t.equal(d.counts('2024-05-01', 'acme')?.accepted, 7)
  t.equal(d.counts('2024-05-02', 'acme')?.accepted, 3)
})

t.test('a counter that starts again from 0 (a new Metrics after a restart) is counted from 0, not as a loss', async (t) => {
  const d = new DailyStats(new MetaStore(), 93)
  const before = counters()
  bump(before.statuses, 0, 100)
  before.receipts.DELIVRD = 90
  before.byKind.receipt[0] = 90
  d.sample(T0, [['acme', before]])
  // a new counters object starting from 0: all of its counts are new, even once they pass the old ones
  const after = counters()
  bump(after.statuses, 0, 120)
  after.receipts.DELIVRD = 5
  after.byKind.receipt[0] = 5
  d.sample(T0 + 1000, [['acme', after]])
  // and the same object going below its last value (never expected; a reset all the same)
  after.statuses.set(0, 2)
  d.sample(T0 + 2000, [['acme', after]])
  const c = d.counts('2024-05-01', 'acme')
  t.equal(c?.accepted, 222)
  t.same(c?.receipts, { DELIVRD: 95 })
  t.equal(c?.toEsme.receiptsOk, 95)
})

t.test('flush gives the changed buckets once; a restart reads the day back and goes on with it', async (t) => {
  const store = new MetaStore()
  const d = new DailyStats(store, 93)
  const a = counters()
  const b = counters()
  bump(a.statuses, 0, 10)
  bump(b.statuses, S.SMSC_RNOCREDIT, 1)
  d.sample(T0, [['acme', a], ['beta', b]])
  const first = d.flush(T0)
  t.same(first.map(([k]) => k).sort(), [trafficKey('2024-05-01', 'acme'), trafficKey('2024-05-01', 'beta')])
  store.commit(first)
  bump(a.statuses, 0, 1)
  d.sample(T0 + 1000, [['acme', a], ['beta', b]])
  const second = d.flush(T0 + 1000)
  t.same(second.map(([k]) => k), [trafficKey('2024-05-01', 'acme')], 'only the bucket that changed')
  store.commit(second)
  t.same(d.flush(T0 + 2000), [], 'nothing changed: nothing to commit')

  // a restart: a new DailyStats and new counters from 0
  const again = new DailyStats(store, 93)
  const a2 = counters()
  bump(a2.statuses, 0, 4)
  again.sample(T0 + 60_000, [['acme', a2]])
  t.equal(again.counts('2024-05-01', 'acme')?.accepted, 15, 'the stored 11 and the 4 since the restart')
  t.equal(again.counts('2024-05-01', 'beta')?.refusedBy.SMSC_RNOCREDIT, 1, 'an account idle since the restart reads from the store')
  t.same([...again.accountsOf('2024-05-01').keys()].sort(), ['acme', 'beta'])
  store.commit(again.flush(T0 + 60_000))
  t.equal(storedTraffic(store).counts('2024-05-01', 'acme')?.accepted, 15, 'committed')
})

t.test('a flush whose commit failed is given again by the next one', async (t) => {
  const store = new MetaStore()
  const d = new DailyStats(store, 93)
  const a = counters()
  bump(a.statuses, 0, 3)
  d.sample(T0, [['acme', a]])
  const lost = d.flush(T0)
  d.unflushed(lost)
  const retry = d.flush(T0 + 60_000)
  t.same(retry.map(([k]) => k), [trafficKey('2024-05-01', 'acme')])
  store.commit(retry)
  t.equal(storedTraffic(store).counts('2024-05-01', 'acme')?.accepted, 3)
})

t.test('retention: days before the last retentionDays (today included) are removed, once a day', async (t) => {
  const store = new MetaStore()
  for (let i = 0; i < 5; i++) {
    const day = new Date(T0 - i * DAY).toISOString().slice(0, 10)
    store.commit([[trafficKey(day, 'acme'), { accepted: i + 1 }], [trafficKey(day, 'beta'), { accepted: 1 }]])
  }
  store.commit([['routes', { mt: [] }]]) // not a traffic key: never touched
  const d = new DailyStats(store, 3)
  const out = d.flush(T0)
  t.same(out.filter(([, v]) => v === null).map(([k]) => k), [
    trafficKey('2024-04-27', 'acme'), trafficKey('2024-04-27', 'beta'), trafficKey('2024-04-28', 'acme'), trafficKey('2024-04-28', 'beta'),
  ], 'the two days before 2024-04-29')
  store.commit(out)
  t.same([...store.data.keys()].filter((k) => k.startsWith(TRAFFIC_META)).map((k) => k.slice(8, 18)).sort(),
    ['2024-04-29', '2024-04-29', '2024-04-30', '2024-04-30', '2024-05-01', '2024-05-01'])
  t.ok(store.data.has('routes'))
  t.same(d.flush(T0 + 1000), [], 'purged once a day')
  const next = d.flush(T0 + DAY)
  t.same(next.map(([k]) => k), [trafficKey('2024-04-29', 'acme'), trafficKey('2024-04-29', 'beta')], 'the next day, the next one')
})

t.test('a stored bucket missing fields (an older engine\'s: no discarded counts) reads as zeros there; its refused total is the sum of refusedBy', async (t) => {
  const store = new MetaStore()
  store.commit([[trafficKey('2024-05-01', 'acme'), { accepted: 2, refusedBy: { SMSC_RQUOTA: 3, ESME_RTHROTTLED: 1 }, refused: 99 }]])
  t.same(storedTraffic(store).counts('2024-05-01', 'acme'), {
    accepted: 2, refused: 4, refusedBy: { SMSC_RQUOTA: 3, ESME_RTHROTTLED: 1 }, receipts: {},
    toEsme: { receiptsOk: 0, receiptsFailed: 0, receiptsDiscarded: 0, moOk: 0, moFailed: 0, moDiscarded: 0 },
  })
})

t.test('report range: defaults, checks and their one-line messages', async (t) => {
  const today = '2024-05-10'
  t.same(reportRange({}, today), ['2024-05-04', '2024-05-10'], 'the last 7 days')
  t.same(reportRange({ from: '2024-05-01' }, today), ['2024-05-01', '2024-05-10'], 'from: to today')
  t.same(reportRange({ to: '2024-03-01' }, today), ['2024-02-24', '2024-03-01'], 'to: the 7 days to then')
  t.same(reportRange({ from: '2024-05-12' }, today), ['2024-05-12', '2024-05-12'], 'a from after today: that day')
  t.equal(reportRange({ from: '2024-02-30' }, today), 'from must be a day as YYYY-MM-DD (UTC), today or yesterday (got "2024-02-30")')
  t.equal(reportRange({ to: 'tomorrow' }, today, { from: '--from', to: '--to' }), '--to must be a day as YYYY-MM-DD (UTC), today or yesterday (got "tomorrow")')
  t.same(reportRange({ from: 'yesterday', to: 'today' }, today), ['2024-05-09', '2024-05-10'], 'yesterday and today, as the CLI takes them')
  t.same(reportRange({ to: 'yesterday' }, today), ['2024-05-03', '2024-05-09'])
  t.equal(reportRange({ from: '2024-05-09', to: '2024-05-08' }, today), 'from 2024-05-09 is after to 2024-05-08')
  t.equal(reportRange({ from: '2022-01-01', to: '2024-05-01' }, today), 'from to to spans 852 days: at most 366')
})
