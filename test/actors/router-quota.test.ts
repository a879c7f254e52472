/**
 * The router's part in the daily quotas (actors/router.ts): what it persists under `quota:<systemId>` is the count the
 * gate holds when the batch is committed, a reseller's own batches included (its users' batches go through other
 * routers and may be committed first); a batch whose commit fails was not sent, so its parts go back to the user's
 * quota and to its reseller's, as those the router refuses do.
 */
import t from 'tap'
import { Router, type RouterDeps } from '../../actors/router'
import { RateGate } from '../../actors/rate'
import type { AcceptJob } from '../../actors/messages'
import type { Account } from '../../engine/accounts'
import type { CommitBatch } from '../../engine/store'
import type { Ledger } from '../../engine/ledger'
import type { MessageRecord } from '../../engine/message'
import { CommandStatus as S } from '../../engine/protocol/constants'
import { record } from '../helpers/upstream'

const T0 = Date.UTC(2024, 0, 5, 12, 0, 0)
const DAY = Math.floor(T0 / 86_400_000)
const TABLES = { mt: [{ name: 'all', match: {}, action: { connector: 'simulator' } }], mo: [] }

/** A router over `gates`, whose commits land in `commits` (or fail with `fail`). */
function router(gates: Map<string, RateGate>, parents: Record<string, string | null>, fail: Error | null = null) {
  const commits: CommitBatch[] = []
  const deps: RouterDeps = {
    now: () => T0,
    ledger: {} as Ledger, // no account here is prepaid
    account: (systemId) => (systemId in parents ? ({ systemId, parent: parents[systemId], group: null, prepaid: false } as unknown as Account) : undefined),
    commit: (batch, done) => { commits.push(batch); done(fail) },
    accepted: () => {},
    quotaGiveBack: (systemId, units) => gates.get(systemId)?.give(units),
    quotaNow: (systemId) => gates.get(systemId)?.quotaState(),
    upstreamLinks: () => [],
  }
  return { router: new Router(deps, TABLES as never), commits }
}

function job(systemId: string, n: number): AcceptJob {
  const records: MessageRecord[] = Array.from({ length: n }, () => record({ systemId }))
  return { systemId, records, statuses: new Array<number>(n).fill(0), groups: null, done: () => {} }
}

const quotaMeta = (b: CommitBatch, systemId: string) => b.meta?.find(([k]) => k === `quota:${systemId}`)?.[1]

t.test("a reseller's own batch committed after its user's persists the tree's count now, not its admission's", async (t) => {
  const res = new RateGate({ rateLimit: null, dailyQuota: 10 }, undefined, T0)
  const shop = new RateGate({ rateLimit: null, dailyQuota: null }, undefined, T0)
  const gates = new Map([['res', res], ['shop', shop]])
  const parents = { res: null, shop: 'res' }
  const a = router(gates, parents) // res's router
  const b = router(gates, parents) // shop's router, which happens to get to its batch first
  const own = job('res', 2)
  res.admit(own, T0, null)
  const user = job('shop', 3)
  shop.admit(user, T0, res)
  t.same(res.quotaState(), { day: DAY, used: 5 }, 'the tree has 5 parts')
  b.router.route(user)
  t.same(quotaMeta(b.commits[0], 'res'), { day: DAY, used: 5 }, "the user's batch writes the tree's 5")
  a.router.route(own)
  t.same(quotaMeta(a.commits[0], 'res'), { day: DAY, used: 5 }, "the reseller's own batch, committed last, writes 5 too: not the 2 it was admitted at")
})

t.test('a batch whose commit fails gives its parts back to the quota of its account and of its reseller', async (t) => {
  const res = new RateGate({ rateLimit: null, dailyQuota: 10 }, undefined, T0)
  const shop = new RateGate({ rateLimit: null, dailyQuota: 4 }, undefined, T0)
  const gates = new Map([['res', res], ['shop', shop]])
  const r = router(gates, { res: null, shop: 'res' }, new Error('MDB_MAP_FULL'))
  const j = job('shop', 3)
  let answered: number[] = []
  j.done = (_err, st) => { answered = st }
  shop.admit(j, T0, res)
  r.router.route(j)
  t.same(answered, [S.ESME_RSYSERR, S.ESME_RSYSERR, S.ESME_RSYSERR], 'refused: not stored')
  t.same(shop.quotaState(), { day: DAY, used: 0 }, "not counted in the user's quota")
  t.same(res.quotaState(), { day: DAY, used: 0 }, "nor in its reseller's")
})
