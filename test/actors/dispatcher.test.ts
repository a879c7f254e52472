/**
 * The dispatcher (actors/dispatcher.ts) with a fake clock and fake connectors (plain objects that
 * implement the Connector interface; only `up` matters to the dispatcher): scheduled destinations
 * wait for schedule_delivery_time, the first candidate that is up takes a job (failover), temporary
 * failures wait with a back-off that doubles up to the maximum, validity_period gives EXPIRED
 * whether the job is scheduled, waiting for a retry or awaiting an upstream receipt, replaced and
 * final jobs are dropped, recover() rebuilds all of it from stored records, a destination whose
 * connectors a config reload removed is routed again, and one whose number was opted out since its
 * admission ends REJECTED (SMSC_ROPTEDOUT) when it is due instead of going out. A connector coming up
 * wakes what backs off for it; one paused by its upstream's throttling is the last resort.
 */
import t from 'tap'
import { Dispatcher, type DispatcherDeps, type Job } from '../../actors/dispatcher'
import type { Outcome } from '../../actors/messages'
import type { Connector, ConnectorStats, Dispatch } from '../../actors/connectors/types'
import { CommandStatus, MessageState } from '../../engine/protocol/constants'
import { GLOBAL, OptOutLists } from '../../engine/optouts'
import type { MessageRecord } from '../../engine/message'

const T0 = 1_700_000_000_000 // a whole second: the dispatcher's buckets are seconds
const SEC = 1000

let n = 0
/** A stored record with one destination routed to `via` (the router's candidate list). */
function rec(via: string[] | undefined, over: Partial<MessageRecord> = {}): MessageRecord {
  const r: MessageRecord = {
    id: `m${++n}`, systemId: 'esme1', state: MessageState.ENROUTE, err: 0, submitAt: T0, doneAt: 0,
    src: [1, 1, '447700900001'], dests: [{ addr: [1, 1, '447700900002'], state: MessageState.ENROUTE, err: 0, doneAt: 0 }],
    serviceType: '', esmClass: 0, protocolId: 0, priority: 0, dataCoding: 0, registeredDelivery: 1,
    sm: Buffer.from('x'), scheduleAt: 0, expireAt: T0 + 86_400_000,
    ...over,
  }
  if (via !== undefined) r.dests[0].via = via
  return r
}

/** A connector the test switches up and down (and pauses); the dispatcher only reads `id`, `up` and `paused`. */
class FakeConnector implements Connector {
  readonly kind = 'http' as const
  up = true
  paused = false
  constructor(readonly id: string) {}
  start(): void {}
  submit(items: Dispatch[]): Dispatch[] { return items }
  tick(): void {}
  stats(): ConnectorStats { return { id: this.id, kind: this.kind, up: this.up, inFlight: 0, sent: 0, failed: 0, paused: null } }
  async stop(): Promise<void> {}
}

/** A dispatcher on a fake clock, with every send and outcome recorded with its time. */
function harness(ids: string[], retryMs: [number, number] = [1000, 8000], reroute?: (r: MessageRecord, dest: number) => string[] | null, optOuts?: DispatcherDeps['optOuts']) {
  let now = T0
  const connectors = new Map(ids.map((id) => [id, new FakeConnector(id)]))
  const sent: { at: number; connector: string; job: Job }[] = []
  const outcomes: { at: number; o: Outcome }[] = []
  const d = new Dispatcher({
    now: () => now,
    connector: (id) => connectors.get(id),
    send: (connector, jobs) => { for (const job of jobs) sent.push({ at: now, connector, job }) },
    outcomes: (list) => { for (const o of list) outcomes.push({ at: now, o }) },
    retryMs,
    reroute,
    optOuts,
  })
  return {
    d, sent, outcomes,
    c: (id: string) => connectors.get(id)!,
    /** A config reload removed it. */
    remove: (id: string) => connectors.delete(id),
    get now() { return now },
    /** Advances the clock to `until` in ticks of `step` ms (the engine ticks every 20 ms). */
    runTo(until: number, step = 20) {
      while (now < until) {
        now = Math.min(until, now + step)
        d.tick(now)
      }
    },
    /** Jumps the clock (a stopped process, a busy loop) and ticks once. */
    jump(to: number) { now = to; d.tick(now) },
    /** Ticks until the next send of `id` (or `until`); returns its time or null. */
    nextSend(id: string, until: number, step = 20): { at: number; connector: string; job: Job } | null {
      const before = sent.length
      while (now < until) {
        now = Math.min(until, now + step)
        d.tick(now)
        const s = sent.slice(before).find((x) => x.job.record.id === id)
        if (s) return s
      }
      return null
    },
  }
}

t.test('schedule_delivery_time holds a destination until it is due', async (t) => {
  const h = harness(['a'])
  const r = rec(['a'], { scheduleAt: T0 + 2500, state: MessageState.SCHEDULED })
  r.dests[0].state = MessageState.SCHEDULED
  const now = rec(['a'])
  h.d.submit([r, now])
  h.runTo(T0 + 20)
  t.same(h.sent.map((s) => s.job.record.id), [now.id], 'an unscheduled message goes at the first tick; the scheduled one waits')
  h.runTo(T0 + 2480)
  t.equal(h.sent.filter((s) => s.job.record.id === r.id).length, 0, 'not sent before scheduleAt')
  const s = h.nextSend(r.id, T0 + 5000)
  t.ok(s, 'sent once due')
  t.ok(s!.at >= r.scheduleAt && s!.at <= r.scheduleAt + SEC, `sent at +${s!.at - T0} ms: not before scheduleAt, at most one 1 s bucket late`)
  t.equal(s!.connector, 'a')
  h.runTo(T0 + 8000)
  t.equal(h.sent.filter((x) => x.job.record.id === r.id).length, 1, 'sent exactly once')
})

t.test('a destination opted out since its admission ends REJECTED with SMSC_ROPTEDOUT when due (scheduled, or after a back-off), not sent', async (t) => {
  const lists = new OptOutLists()
  const parents: string[] = []
  const h = harness(['a'], [1000, 8000], undefined, { lists, parentOf: (s) => { parents.push(s); return s === 'esme1' ? 'res1' : null } })
  const plain = rec(['a'])
  h.d.submit([plain])
  h.runTo(T0 + 20)
  t.equal(h.sent.length, 1)
  t.same(parents, [], 'every list empty: no account looked up, nothing checked')
  const scheduled = rec(['a'], { scheduleAt: T0 + 2000 })
  const retried = rec(['a'])
  retried.dests[0].addr = [1, 1, '00447700900003'] // "00": the international prefix, as in the list's key below
  const other = rec(['a'], { scheduleAt: T0 + 2000, systemId: 'esme2' })
  h.d.submit([scheduled, other])
  h.c('a').up = false
  h.d.submit([retried])
  h.runTo(T0 + 100) // retried waits for a connector (back-off)
  lists.add('res1', '447700900002') // the reseller's list binds its user esme1, not esme2
  lists.add(GLOBAL, '447700900003')
  h.c('a').up = true
  h.runTo(T0 + 3000)
  t.same(h.outcomes.map(({ o }) => [o.id, o.state, o.err]).sort(), [
    [retried.id, MessageState.REJECTED, CommandStatus.SMSC_ROPTEDOUT], [scheduled.id, MessageState.REJECTED, CommandStatus.SMSC_ROPTEDOUT],
  ].sort(), 'the opted-out destinations end REJECTED, err 0x403')
  t.same(h.sent.slice(1).map((s) => s.job.record.id), [other.id], "only esme2's message goes: no list binds it")
})

t.test('a STOP confirmation (confirmsOptOut) waiting for a connector goes when due although its number is listed; the next message to it does not', async (t) => {
  const lists = new OptOutLists()
  const h = harness(['a'], [1000, 8000], undefined, { lists, parentOf: () => null })
  lists.add('esme1', '447700900002')
  const confirmation = rec(['a'], { confirmsOptOut: true })
  const next = rec(['a'])
  h.c('a').up = false
  h.d.submit([confirmation, next])
  h.runTo(T0 + 100)
  h.c('a').up = true
  h.runTo(T0 + 3000)
  t.same(h.sent.map((s) => s.job.record.id), [confirmation.id], 'the confirmation is sent')
  t.same(h.outcomes.map(({ o }) => [o.id, o.state, o.err]), [[next.id, MessageState.REJECTED, CommandStatus.SMSC_ROPTEDOUT]], 'the other ends REJECTED, 0x403')
})

t.test('a route with no candidates list goes to the simulator', async (t) => {
  const h = harness(['simulator'])
  const r = rec(undefined)
  h.d.submit([r])
  h.runTo(T0 + 20)
  t.same(h.sent.map((s) => s.connector), ['simulator'])
})

t.test('failover: the first candidate that is up takes the job', async (t) => {
  const h = harness(['a', 'b', 'c'])
  h.c('a').up = false
  const r1 = rec(['a', 'b', 'c'])
  h.d.submit([r1])
  h.runTo(T0 + 20)
  t.same(h.sent.map((s) => s.connector), ['b'], 'a is down: b, the next in the list')
  h.c('a').up = true
  const r2 = rec(['a', 'b', 'c'])
  h.d.submit([r2])
  h.runTo(T0 + 40)
  t.same(h.sent.map((s) => s.connector), ['b', 'a'], 'a is up again: it is first again')
  t.same(h.outcomes, [], 'no outcome')
})

t.test('failover: jobs a connector hands back when it goes down go to the next candidate at once', async (t) => {
  const h = harness(['a', 'b'])
  const r = rec(['a', 'b'])
  h.d.submit([r])
  h.runTo(T0 + 20)
  t.same(h.sent.map((s) => s.connector), ['a'])
  // the link drops: a is down and its in-flight jobs come back
  h.c('a').up = false
  h.d.retry([h.sent[0].job], 'a')
  const s = h.nextSend(r.id, T0 + 100)
  t.ok(s, 'sent again without waiting for a back-off')
  t.equal(s?.connector, 'b')
  t.equal(s?.job.attempts, 0, 'a failover is not a failed attempt')
})

t.test('failover: a temporary refusal by the first candidate (still up) sends the job to the next one', async (t) => {
  // ESME_RTHROTTLED / ESME_RMSGQFUL / HTTP 429 from a: a stays up, but this job should try b.
  const h = harness(['a', 'b'])
  const r = rec(['a', 'b'])
  h.d.submit([r])
  h.runTo(T0 + 20)
  t.equal(h.sent[0]?.connector, 'a')
  h.d.retry([h.sent[0].job], 'a')
  const s = h.nextSend(r.id, T0 + 3000)
  t.ok(s, 'sent again')
  t.equal(s?.connector, 'b', 'the retry goes to b, not back to the connector that just refused it')
})

t.test('failover: when every candidate keeps refusing, the job backs off instead of bouncing every tick', async (t) => {
  // Two upstreams that both answer ESME_RTHROTTLED (or HTTP 429, which never takes a connector down).
  const h = harness(['a', 'b'], [1000, 8000])
  const r = rec(['a', 'b'])
  h.d.submit([r])
  let seen = 0
  while (h.now < T0 + 3000) {
    h.runTo(h.now + 20)
    for (; seen < h.sent.length; seen++) h.d.retry([h.sent[seen].job], h.sent[seen].connector)
  }
  // back-off 1 s, 2 s: at most a handful of attempts in 3 s (one per candidate per back-off step)
  t.ok(h.sent.length <= 6, `${h.sent.length} attempts in 3 s (${h.sent.slice(0, 8).map((s) => `${s.connector}@+${s.at - T0}`).join(' ')}…)`)
})

t.test('retries back off exponentially, doubling up to the maximum', async (t) => {
  const h = harness(['a'], [1000, 8000])
  const r = rec(['a'])
  h.d.submit([r])
  let s = h.nextSend(r.id, T0 + 1000)!
  t.ok(s, 'first attempt')
  const delays: number[] = []
  for (let i = 0; i < 6; i++) {
    const failedAt = h.now
    h.d.retry([s.job], 'a') // a temporary failure; a is the only candidate
    const next = h.nextSend(r.id, failedAt + 30_000)
    if (!next) { t.fail(`attempt ${i + 2} never came`); return }
    delays.push(next.at - failedAt)
    s = next
  }
  const expected = [1000, 2000, 4000, 8000, 8000, 8000]
  delays.forEach((d, i) => {
    t.ok(d >= expected[i] && d < expected[i] + SEC, `retry ${i + 1} after ${d} ms (back-off ${expected[i]} ms, 1 s buckets)`)
  })
  t.equal(s.job.attempts, 6, 'attempts counted')
})

t.test('no candidate up: the job waits with back-off and goes as soon as one is up after it', async (t) => {
  const h = harness(['a', 'b'], [1000, 8000])
  h.c('a').up = false
  h.c('b').up = false
  const r = rec(['a', 'b'])
  h.d.submit([r])
  h.runTo(T0 + 2500)
  t.equal(h.sent.length, 0, 'nothing sent while every candidate is down')
  t.equal(h.d.backlog, 1, 'the job waits in the backlog')
  h.c('b').up = true
  const s = h.nextSend(r.id, T0 + 20_000)
  t.equal(s?.connector, 'b', 'b took it once up')
  t.same(h.outcomes, [], 'no outcome while waiting')
})

t.test('a connector coming up wakes the destinations backing off for it: they go at once and once; the others keep waiting', async (t) => {
  const h = harness(['a', 'b'], [1000, 60_000])
  h.c('a').up = false
  h.c('b').up = false
  const ra = rec(['a'])
  const rb = rec(['b'])
  h.d.submit([ra, rb])
  h.runTo(T0 + 20_000) // backing off 1, 2, 4, 8 s: the next try is 16 s away
  t.equal(h.sent.length, 0)
  h.c('a').up = true
  const wokeAt = h.now
  h.d.wake('a')
  const s = h.nextSend(ra.id, wokeAt + 1000)
  t.equal(s?.connector, 'a', 'sent to the connector that came up')
  t.ok(s !== null && s.at - wokeAt <= 20, `at the next tick (${s === null ? '-' : s.at - wokeAt} ms), not at the end of its back-off`)
  t.equal(h.d.backlog, 1, 'the one for b (still down) keeps waiting')
  h.runTo(T0 + 120_000) // past the second its back-off ended
  t.equal(h.sent.filter((x) => x.job.record.id === ra.id).length, 1, 'its old back-off does not send it a second time')
  t.equal(h.sent.filter((x) => x.job.record.id === rb.id).length, 0, 'b is still down')
})

t.test('a paused connector (its upstream throttles) is the last resort: failover takes its traffic; with no other up, the job waits for it, not in a back-off', async (t) => {
  const h = harness(['a', 'b'], [5000, 60_000])
  h.c('a').paused = true
  const r1 = rec(['a', 'b'])
  h.d.submit([r1])
  h.runTo(T0 + 20)
  t.same(h.sent.map((x) => x.connector), ['b'], 'b takes what paused a would have got')
  h.c('b').up = false
  const r2 = rec(['a', 'b'])
  h.d.submit([r2])
  h.runTo(T0 + 40)
  t.same(h.sent.map((x) => x.connector), ['b', 'a'], 'no other candidate up: to a, to wait in its lane for the pause to end')
  // a's lane hands it back at the pause's start (or a refusal of a): it comes straight back, no attempt counted.
  h.d.retry([h.sent[1].job], 'a')
  const s = h.nextSend(r2.id, T0 + 1000)
  t.equal(s?.connector, 'a', 'back to a, though a failed it: its pause is the back-off')
  t.equal(s?.job.attempts, 0, 'no back-off of dispatch.retryMs')
  h.c('a').paused = false
  h.d.retry([s!.job], 'a')
  t.equal(h.nextSend(r2.id, T0 + 3000), null, 'unpaused, a failure of a backs off as before (b is down)')
})

t.test('expiry: a scheduled destination past its validity when due is EXPIRED, not sent', async (t) => {
  const h = harness(['a'])
  const r = rec(['a'], { scheduleAt: T0 + 2000, expireAt: T0 + 2500 })
  h.d.submit([r])
  h.jump(T0 + 3000) // the process was busy (or stopped) past both times
  t.equal(h.sent.length, 0, 'not sent')
  t.same(h.outcomes.map((x) => [x.o.id, x.o.dest, x.o.state]), [[r.id, 0, MessageState.EXPIRED]], 'EXPIRED outcome')
})

t.test('expiry: a destination waiting for a retry is EXPIRED at its validity, not after the back-off', async (t) => {
  const h = harness(['a'], [10_000, 60_000])
  const r = rec(['a'], { expireAt: T0 + 3000 })
  h.d.submit([r])
  h.runTo(T0 + 20)
  t.equal(h.sent.length, 1)
  h.d.retry([h.sent[0].job], 'a') // back-off 10 s, longer than what is left of the validity
  h.runTo(T0 + 12_000)
  t.equal(h.sent.length, 1, 'not sent again after its expiry')
  t.equal(h.outcomes.length, 1, 'one outcome')
  const o = h.outcomes[0]
  t.equal(o?.o.state, MessageState.EXPIRED, 'EXPIRED')
  t.ok(o !== undefined && o.at >= r.expireAt && o.at <= r.expireAt + SEC, `EXPIRED at +${o ? o.at - T0 : '?'} ms: at its validity (+3000), within one bucket`)
})

t.test('expiry: a destination no connector could take is EXPIRED at its validity', async (t) => {
  const h = harness(['a'], [1000, 2000])
  h.c('a').up = false
  const r = rec(['a'], { expireAt: T0 + 5000 })
  h.d.submit([r])
  h.runTo(T0 + 9000)
  t.equal(h.sent.length, 0)
  t.equal(h.outcomes.length, 1, 'exactly one outcome')
  const o = h.outcomes[0]
  t.equal(o?.o.state, MessageState.EXPIRED)
  t.ok(o !== undefined && o.at >= r.expireAt && o.at <= r.expireAt + 2000 + SEC, `EXPIRED at +${o ? o.at - T0 : '?'} ms`)
  t.equal(h.d.backlog, 0, 'nothing left waiting')
})

t.test('expiry: a destination an upstream accepted is EXPIRED at its validity when no receipt came', async (t) => {
  const h = harness(['a'])
  const r = rec(['a'], { expireAt: T0 + 4000, rev: 2 })
  h.d.submit([r])
  h.runTo(T0 + 20)
  h.d.accepted([h.sent[0].job])
  t.equal(h.d.waitingForReceipt, 1, 'awaiting its receipt')
  h.runTo(T0 + 3980)
  t.same(h.outcomes, [], 'nothing before expireAt')
  h.runTo(T0 + 5000)
  t.equal(h.outcomes.length, 1)
  const o = h.outcomes[0]
  t.same(o && { id: o.o.id, dest: o.o.dest, state: o.o.state, rev: o.o.rev }, { id: r.id, dest: 0, state: MessageState.EXPIRED, rev: 2 }, 'EXPIRED for this revision')
  t.ok(o !== undefined && o.at >= r.expireAt && o.at <= r.expireAt + SEC, `at +${o ? o.at - T0 : '?'} ms`)
  t.equal(h.d.waitingForReceipt, 0)
  t.equal(h.sent.length, 1, 'never sent again')
})

t.test('an awaited destination whose receipt came (final) is not expired', async (t) => {
  const h = harness(['a'])
  const r = rec(['a'], { expireAt: T0 + 3000 })
  h.d.submit([r])
  h.runTo(T0 + 20)
  h.d.accepted([h.sent[0].job])
  r.dests[0].state = MessageState.DELIVERED // the delivery actor settled it from the upstream's receipt
  h.runTo(T0 + 6000)
  t.same(h.outcomes, [], 'no EXPIRED for a delivered message')
})

t.test('replaced (rev changed) and final jobs are dropped wherever they wait', async (t) => {
  const h = harness(['a'], [1000, 8000])
  const ready = rec(['a'])
  const finalNow = rec(['a'])
  const scheduled = rec(['a'], { scheduleAt: T0 + 2000, expireAt: T0 + 2500 })
  h.d.submit([ready, finalNow, scheduled])
  ready.rev = 1 // replace_sm before the tick: the new revision is dispatched on its own
  finalNow.dests[0].state = MessageState.DELETED // cancel_sm
  scheduled.rev = 1
  h.jump(T0 + 3000)
  t.same(h.sent, [], 'no stale job is sent')
  t.same(h.outcomes, [], 'and none is expired')

  const waiting = rec(['a'], { expireAt: T0 + 9000 })
  h.d.submit([waiting])
  h.runTo(T0 + 3020)
  t.equal(h.sent.length, 1)
  waiting.dests[0].state = MessageState.DELIVERED
  h.d.retry([h.sent[0].job], 'a')
  h.runTo(T0 + 12_000)
  t.equal(h.sent.length, 1, 'a final job handed back for retry is not sent again')
  t.same(h.outcomes, [], 'nor expired')

  const awaited = rec(['a'], { expireAt: T0 + 14_000 })
  h.d.submit([awaited])
  h.runTo(T0 + 12_020)
  h.d.accepted([h.sent[1].job])
  awaited.rev = 1 // replaced while the upstream holds it
  h.runTo(T0 + 16_000)
  t.same(h.outcomes, [], 'an awaited job of an older revision is not expired')
})

t.test('recover(): stored destinations go back where they were', async (t) => {
  const h = harness(['a'])
  const held = rec(['a'], { expireAt: T0 + 5000 })
  held.dests[0].up = 'U1' // the upstream accepted it before the restart
  held.dests[0].conn = 'a'
  const scheduled = rec(['a'], { scheduleAt: T0 + 2000 })
  const pending = rec(['a'])
  const done = rec(['a'])
  done.dests[0].state = MessageState.DELIVERED
  const multi = rec(['a'])
  multi.dests.push({ addr: [1, 1, '447700900003'], state: MessageState.UNDELIVERABLE, err: 1, doneAt: T0, via: ['a'] })
  h.d.recover([held, scheduled, pending, done, multi])
  t.equal(h.d.waitingForReceipt, 1, 'the upstream-held destination awaits its receipt')
  h.runTo(T0 + 20)
  t.same(h.sent.map((s) => [s.job.record.id, s.job.dest]).sort(), [[multi.id, 0], [pending.id, 0]].sort(), 'pending destinations go at once; held, scheduled and final ones do not')
  t.ok(h.sent.every((s) => s.job.fresh === false), 'recovered jobs are not fresh (no second intermediate notification)')
  h.runTo(T0 + 2000)
  t.ok(h.sent.some((s) => s.job.record.id === scheduled.id), 'the scheduled one goes when due')
  h.runTo(T0 + 6000)
  t.same(h.outcomes.map((x) => [x.o.id, x.o.state]), [[held.id, MessageState.EXPIRED]], 'the held one expires at its validity when no receipt came')
  t.notOk(h.sent.some((s) => s.job.record.id === held.id), 'the held one is never submitted again')
})

t.test('a destination none of whose candidates exists any more is routed again by the routes in force; a stopped one is only down', async (t) => {
  let routes: string[] | null = ['b']
  const asked: string[] = []
  const h = harness(['a', 'b'], [1000, 8000], (r) => { asked.push(r.id); return routes })
  h.c('a').up = false // stopped by the operator, say: down, but there
  const waiting = rec(['a'])
  h.d.submit([waiting])
  h.runTo(T0 + 1500)
  t.same(h.sent, [], 'a connector that is down makes it wait')
  t.same(asked, [], 'and is no reason to route again')
  h.remove('a')
  const s = h.nextSend(waiting.id, T0 + 4000)
  t.equal(s?.connector, 'b', 'removed: the next try routes it again and b takes it')
  t.same(waiting.dests[0].via, ['b'], 'its candidates are the new route\'s')
  routes = null
  const orphan = rec(['a'], { expireAt: T0 + 6000 })
  h.d.submit([orphan])
  h.runTo(T0 + 7000)
  t.equal(h.sent.filter((x) => x.job.record.id === orphan.id).length, 0, 'no route takes it now: it waits')
  t.match(h.outcomes.map((o) => o.o), [{ id: orphan.id, state: MessageState.EXPIRED }], 'and expires at its validity')
})
