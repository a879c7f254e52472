/**
 * The rate gate (actors/rate.ts) with a reseller's gate as `tree`: the reseller's bucket caps the sum of its own
 * and its users' batches; a batch takes its tokens from the user's bucket and the reseller's all or nothing, and
 * a record refused by one limit (the reseller's rate, the user's quota) costs nothing from the others. The
 * reseller's daily quota counts its whole tree the same way.
 */
import t from 'tap'
import { RateGate } from '../../actors/rate'
import type { AcceptJob } from '../../actors/messages'
import type { MessageRecord } from '../../engine/message'
import { CommandStatus as S } from '../../engine/protocol/constants'

const T0 = Date.UTC(2024, 0, 5, 12, 0, 0)
const OK = 0
const THR = S.ESME_RTHROTTLED
const QUOTA = S.SMSC_RQUOTA

/** A job of `n` single-destination records (groups: records with the same number go together). */
function job(n: number, groups: number[] | null = null): AcceptJob {
  const records = Array.from({ length: n }, () => ({ dests: [{}] }) as unknown as MessageRecord)
  return { systemId: 'x', records, statuses: new Array<number>(n).fill(0), groups, done: () => {} }
}

const gate = (rateLimit: { perSecond: number; burst: number } | null, dailyQuota: number | null = null): RateGate =>
  new RateGate({ rateLimit, dailyQuota }, undefined, T0)

/** The statuses the gate gives a job of `n` records at `now`. */
function admit(g: RateGate, n: number, now: number, tree: RateGate | null, groups: number[] | null = null): number[] {
  const j = job(n, groups)
  g.admit(j, now, tree)
  return j.statuses
}
const count = (st: number[], s: number): number => st.filter((x) => x === s).length

t.test("the reseller's bucket caps the sum of its users' and its own traffic", async (t) => {
  const res = gate({ perSecond: 10, burst: 10 })
  const a = gate(null)
  const b = gate(null)
  t.same(admit(a, 6, T0, res), [OK, OK, OK, OK, OK, OK], 'user a: 6 of the 10')
  t.same(admit(b, 6, T0, res), [OK, OK, OK, OK, THR, THR], 'user b: the 4 left, then throttled')
  t.same(admit(res, 1, T0, null), [THR], 'the reseller itself: nothing left either')
  t.same(admit(a, 3, T0, null), [OK, OK, OK], 'without the tree a user has no limit of its own')
  // one second: 10 tokens for the whole tree, whoever asks first
  t.equal(count(admit(a, 15, T0 + 1000, res), OK), 10)
  t.equal(count(admit(b, 5, T0 + 1000, res), OK), 0)
})

t.test("all or nothing: a batch the reseller's bucket refuses gives the user's own tokens back", async (t) => {
  const res = gate({ perSecond: 1, burst: 2 })
  const a = gate({ perSecond: 1, burst: 5 })
  t.same(admit(a, 3, T0, res), [OK, OK, THR], "the third over the reseller's 2")
  // a's own bucket: 5 − 2 = 3 left (the refused record's token came back), so 3 pass without the tree
  t.same(admit(a, 4, T0, null), [OK, OK, OK, THR], "a's own bucket lost only what was sent")
  // a's own bucket refuses first: the reseller's bucket is not touched
  const res2 = gate({ perSecond: 1, burst: 3 })
  const c = gate({ perSecond: 1, burst: 1 })
  t.same(admit(c, 3, T0, res2), [OK, THR, THR])
  t.same(admit(gate(null), 3, T0, res2), [OK, OK, THR], "the reseller's bucket gave only 1 to c")
})

t.test("a record over the user's quota costs no tokens of the reseller's (its other users get them)", async (t) => {
  const res = gate({ perSecond: 1, burst: 3 })
  const q = gate(null, 1)
  t.same(admit(q, 3, T0, res), [OK, QUOTA, QUOTA])
  t.same(admit(gate(null), 3, T0, res), [OK, OK, THR], 'a sibling gets the 2 tokens the refused records did not use')
})

t.test("a group (the parts of one message) passes the reseller's bucket whole or not at all", async (t) => {
  const res = gate({ perSecond: 1, burst: 4 })
  const a = gate(null)
  t.same(admit(a, 5, T0, res, [0, 0, 0, 1, 1]), [OK, OK, OK, THR, THR], '3 parts pass, the 2-part message finds 1 token: refused whole')
  t.same(admit(a, 1, T0, res), [OK], 'and took nothing: the last token is still there')
  t.same(admit(a, 1, T0, res), [THR])
})

t.test("the reseller's daily quota caps the sum of its users' and its own parts; a refusal by either quota costs nothing", async (t) => {
  const res = gate(null, 5)
  const a = gate(null, 4)
  const b = gate(null)
  const ja = job(3)
  a.admit(ja, T0, res)
  t.same(ja.statuses, [OK, OK, OK], 'user a: 3 of the 5')
  t.same(ja.quota, { day: Math.floor(T0 / 86_400_000), used: 3 }, "a's own count")
  t.equal(ja.treeQuota, true, 'the batch says it counted in the reseller\'s quota (the router persists and refunds it)')
  t.same(admit(b, 3, T0, res), [OK, OK, QUOTA], 'user b, without a quota of its own: the 2 left, then SMSC_RQUOTA')
  t.same(res.quotaState(), { day: Math.floor(T0 / 86_400_000), used: 5 }, "the reseller's count is the tree's")
  t.same(admit(res, 1, T0, null), [QUOTA], 'the reseller itself: nothing left either')
  // a's own quota lost only what was sent: 1 left of its 4, found again once the reseller's count is given back
  res.give(2)
  t.same(admit(a, 2, T0, res), [OK, QUOTA], "a's own quota refuses its 5th part: 1 of the 2 units the reseller got back")
  t.same(admit(b, 2, T0, res), [OK, QUOTA], "so the reseller's other unit is still there for b")
  // the next UTC day starts afresh for all
  t.same(admit(b, 5, T0 + 86_400_000, res), [OK, OK, OK, OK, OK])
})

t.test("a part over the reseller's quota gives back the user's own quota and the tokens of both buckets", async (t) => {
  const reseller = gate({ perSecond: 1, burst: 10 }, 2)
  const a = gate({ perSecond: 1, burst: 10 }, 10)
  t.same(admit(a, 4, T0, reseller), [OK, OK, QUOTA, QUOTA])
  t.same(a.quotaState()?.used, 2, "a's own quota counts the 2 sent only")
  // tokens: both buckets gave 2 for what was sent; the refused parts' came back, so 8 are left in each
  t.ok(a.take(8, T0), "a's bucket: 8 tokens left")
  t.notOk(a.take(1, T0), "a's bucket: not 9")
  t.ok(reseller.take(8, T0), "the reseller's bucket: 8 tokens left")
  t.notOk(reseller.take(1, T0), "the reseller's bucket: not 9")
})

t.test('a STOP confirmation passes a spent rate limit and quota, its own and its reseller\'s, and takes nothing from them', async (t) => {
  const reseller = gate({ perSecond: 1, burst: 1 }, 1)
  const a = gate({ perSecond: 1, burst: 1 }, 1)
  t.same(admit(a, 1, T0, reseller), [OK], 'the one part of the day and the one token')
  t.same(admit(a, 1, T0, reseller), [THR], 'spent')
  const j = job(3, [0, 0, 1])
  j.records[0].confirmsOptOut = true
  j.records[1].confirmsOptOut = true // the two parts of one confirmation, then an ordinary message
  a.admit(j, T0, reseller)
  t.same(j.statuses, [OK, OK, THR], 'the confirmation goes; the ordinary message is throttled')
  t.same(a.quotaState()?.used, 1, 'nothing taken from the quota')
  t.same(reseller.quotaState()?.used, 1, "nor from the reseller's")
  t.same(admit(a, 1, T0 + 1000, reseller), [QUOTA], 'a second later: a token again, the quota still spent (the confirmation took none of either)')
})
