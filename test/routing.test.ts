// engine/routing.ts: MT routing (first match, every match field alone and combined, time windows,
// round robin, failover, reject, no route, price), MO routing (keyword, prefix), and every class of
// validation message (exact, one line, with the caller's error code).
import t from 'tap'
import {
  DEFAULT_ROUTES,
  MtRouter,
  MoRouter,
  MoPartRoutes,
  ReplyGuard,
  routingLossText,
  routingLost,
  validateRouteTables,
  type MtRoute,
  type MtMatch,
  type MtDecision,
  type RouteTables,
} from '../engine/routing'
import { isSmscError, type SmscErrorCode } from '../engine/errors'
import { CommandStatus } from '../engine/protocol/constants'

// 2024-01-05 is a Friday; 2024-01-06 a Saturday; 2024-01-07 a Sunday.
const at = (d: number, h: number, m = 0, s = 0, ms = 0): number => Date.UTC(2024, 0, d, h, m, s, ms)
const NOW = at(5, 12)

function only(match: MtMatch): MtRouter {
  return new MtRouter([{ name: 'r', match, action: { connector: 'c' } }])
}
/** Whether the single route `only(match)` matches (sys, group, source, dest, now). */
function hits(r: MtRouter, sys = 'acct', group: string | null = null, source = '12345', dest = '447700900123', now = NOW): boolean {
  const d = r.route(sys, group, source, dest, now)
  return d.ok
}
function connectorsOf(d: MtDecision): string[] {
  if (!d.ok) throw new Error(`expected a delivery decision, got status ${d.status}`)
  return d.connectors
}

t.test('MT routing', async (t) => {
  t.test('DEFAULT_ROUTES send everything to the simulator at price 1', async (t) => {
    const r = new MtRouter(DEFAULT_ROUTES.mt)
    t.same(r.route('any', null, 'X', '1', NOW), { ok: true, route: 'default', connectors: ['simulator'], price: 1 })
    t.same(DEFAULT_ROUTES.mo, [])
  })

  t.test('the first matching route wins, in table order', async (t) => {
    const a: MtRoute = { name: 'uk', match: { destPrefix: ['44'] }, action: { connector: 'uk-gw' } }
    const b: MtRoute = { name: 'uk-mobile', match: { destPrefix: ['447'] }, action: { connector: 'mobile-gw' } }
    const c: MtRoute = { name: 'rest', match: {}, action: { connector: 'world' } }
    t.equal(new MtRouter([a, b, c]).route('s', null, 'x', '447700900123', NOW).route, 'uk')
    t.equal(new MtRouter([b, a, c]).route('s', null, 'x', '447700900123', NOW).route, 'uk-mobile')
    t.equal(new MtRouter([b, a, c]).route('s', null, 'x', '33612345678', NOW).route, 'rest')
  })

  t.test('accounts alone matches by systemId', async (t) => {
    const r = only({ accounts: ['alice', 'bob'] })
    t.ok(hits(r, 'alice'))
    t.ok(hits(r, 'bob'))
    t.notOk(hits(r, 'carol'))
    t.notOk(hits(r, 'Alice'), 'case-sensitive')
  })

  t.test('groups alone matches the account group; no group never matches', async (t) => {
    const r = only({ groups: ['gold'] })
    t.ok(hits(r, 'a', 'gold'))
    t.notOk(hits(r, 'a', 'silver'))
    t.notOk(hits(r, 'a', null))
  })

  t.test('destPrefix alone: any prefix, "+" ignored in the rule and in the address', async (t) => {
    const r = only({ destPrefix: ['+44', '33'] })
    t.ok(hits(r, 'a', null, 'x', '447700900123'))
    t.ok(hits(r, 'a', null, 'x', '+447700900123'))
    t.ok(hits(r, 'a', null, 'x', '33612345678'))
    t.notOk(hits(r, 'a', null, 'x', '4'), 'shorter than the prefix')
    t.notOk(hits(r, 'a', null, 'x', '1447700900123'), 'prefix, not substring')
  })

  t.test('destRegex alone is tested against the destination as submitted', async (t) => {
    const r = only({ destRegex: '^\\+?1\\d{10}$' })
    t.ok(hits(r, 'a', null, 'x', '12025550123'))
    t.ok(hits(r, 'a', null, 'x', '+12025550123'))
    t.notOk(hits(r, 'a', null, 'x', '120255501234'))
    t.notOk(hits(r, 'a', null, 'x', '447700900123'))
  })

  t.test('sourcePrefix alone: digits are prefixes, alphanumeric ids match exactly', async (t) => {
    const r = only({ sourcePrefix: ['+4477', 'ACME'] })
    t.ok(hits(r, 'a', null, '447700900123'))
    t.ok(hits(r, 'a', null, '+447700900123'))
    t.ok(hits(r, 'a', null, 'ACME'))
    t.notOk(hits(r, 'a', null, 'ACMEBANK'), 'an alphanumeric id is not a prefix')
    t.notOk(hits(r, 'a', null, 'acme'), 'exact, case-sensitive')
    t.notOk(hits(r, 'a', null, '4478'))
  })

  t.test('sourceRegex alone is tested against the source address', async (t) => {
    const r = only({ sourceRegex: '^[A-Z]{3,11}$' })
    t.ok(hits(r, 'a', null, 'BANK'))
    t.notOk(hits(r, 'a', null, '12345'))
  })

  t.test('every match field combined: all must match, and each one alone can veto', async (t) => {
    const match: MtMatch = {
      accounts: ['alice'],
      groups: ['gold'],
      destPrefix: ['44'],
      destRegex: '\\d{12}$',
      sourcePrefix: ['BANK'],
      sourceRegex: '^B',
      time: { from: '09:00', to: '17:00', days: [1, 2, 3, 4, 5] },
    }
    const r = only(match)
    const good = ['alice', 'gold', 'BANK', '447700900123', NOW] as const
    t.ok(r.route(...good).ok, 'all match')
    t.notOk(r.route('bob', 'gold', 'BANK', '447700900123', NOW).ok, 'account')
    t.notOk(r.route('alice', 'silver', 'BANK', '447700900123', NOW).ok, 'group')
    t.notOk(r.route('alice', 'gold', 'BANK', '337700900123', NOW).ok, 'destPrefix')
    t.notOk(r.route('alice', 'gold', 'BANK', '4477009001', NOW).ok, 'destRegex')
    t.notOk(r.route('alice', 'gold', 'SHOP', '447700900123', NOW).ok, 'sourcePrefix')
    t.notOk(r.route('alice', 'gold', 'BANK', '447700900123', at(5, 18)).ok, 'time of day')
    t.notOk(r.route('alice', 'gold', 'BANK', '447700900123', at(6, 12)).ok, 'day of week (Saturday)')
    const r2 = only({ ...match, sourcePrefix: ['BANK', 'XBANK'], sourceRegex: '^B' })
    t.notOk(r2.route('alice', 'gold', 'XBANK', '447700900123', NOW).ok, 'sourceRegex')
  })

  t.test('time window: [from, to) in UTC by default', async (t) => {
    const r = only({ time: { from: '08:00', to: '17:30' } })
    t.notOk(hits(r, 'a', null, 'x', '1', at(5, 7, 59, 59, 999)))
    t.ok(hits(r, 'a', null, 'x', '1', at(5, 8)), 'from is inclusive')
    t.ok(hits(r, 'a', null, 'x', '1', at(5, 17, 29, 59, 999)))
    t.notOk(hits(r, 'a', null, 'x', '1', at(5, 17, 30)), 'to is exclusive')
  })

  t.test('time window from > to wraps midnight', async (t) => {
    const r = only({ time: { from: '22:00', to: '06:00' } })
    t.ok(hits(r, 'a', null, 'x', '1', at(5, 22)))
    t.ok(hits(r, 'a', null, 'x', '1', at(5, 23, 59)))
    t.ok(hits(r, 'a', null, 'x', '1', at(6, 0)))
    t.ok(hits(r, 'a', null, 'x', '1', at(6, 5, 59)))
    t.notOk(hits(r, 'a', null, 'x', '1', at(6, 6)))
    t.notOk(hits(r, 'a', null, 'x', '1', at(6, 12)))
    t.notOk(hits(r, 'a', null, 'x', '1', at(5, 21, 59)))
  })

  t.test('time window "00:00" to "24:00" is the whole day', async (t) => {
    const r = only({ time: { from: '00:00', to: '24:00', days: [0] } })
    t.ok(hits(r, 'a', null, 'x', '1', at(7, 0)))
    t.ok(hits(r, 'a', null, 'x', '1', at(7, 23, 59, 59, 999)))
    t.notOk(hits(r, 'a', null, 'x', '1', at(8, 0)), 'Monday')
  })

  t.test('time window days: 0 = Sunday .. 6 = Saturday', async (t) => {
    const r = only({ time: { from: '00:00', to: '24:00', days: [0, 6] } })
    t.notOk(hits(r, 'a', null, 'x', '1', at(5, 12)), 'Friday')
    t.ok(hits(r, 'a', null, 'x', '1', at(6, 12)), 'Saturday')
    t.ok(hits(r, 'a', null, 'x', '1', at(7, 12)), 'Sunday')
    t.notOk(hits(r, 'a', null, 'x', '1', at(8, 12)), 'Monday')
  })

  t.test('a wrapping window with days belongs to the day it opens', async (t) => {
    const r = only({ time: { from: '22:00', to: '06:00', days: [5] } }) // Friday night
    t.ok(hits(r, 'a', null, 'x', '1', at(5, 23)), 'Friday 23:00')
    t.ok(hits(r, 'a', null, 'x', '1', at(6, 3)), 'Saturday 03:00 is Friday night')
    t.notOk(hits(r, 'a', null, 'x', '1', at(5, 3)), 'Friday 03:00 is Thursday night')
    t.notOk(hits(r, 'a', null, 'x', '1', at(6, 23)), 'Saturday 23:00')
  })

  t.test('utcOffsetMinutes shifts the window and the weekday', async (t) => {
    const east = only({ time: { from: '08:00', to: '09:00', utcOffsetMinutes: 120 } })
    t.ok(hits(east, 'a', null, 'x', '1', at(5, 6)), '06:00 UTC is 08:00 at UTC+2')
    t.notOk(hits(east, 'a', null, 'x', '1', at(5, 8)), '08:00 UTC is 10:00 at UTC+2')
    const west = only({ time: { from: '20:00', to: '22:00', days: [5], utcOffsetMinutes: -300 } })
    t.ok(hits(west, 'a', null, 'x', '1', at(6, 2)), 'Saturday 02:00 UTC is Friday 21:00 at UTC-5')
    t.notOk(hits(west, 'a', null, 'x', '1', at(5, 2)), 'Friday 02:00 UTC is Thursday 21:00 at UTC-5')
  })

  t.test('roundRobin rotates per call and every candidate list covers all connectors', async (t) => {
    const r = new MtRouter([{ name: 'rr', match: {}, action: { roundRobin: ['a', 'b', 'c'] } }])
    const seen = Array.from({ length: 6 }, () => connectorsOf(r.route('s', null, 'x', '1', NOW)))
    t.same(seen, [
      ['a', 'b', 'c'],
      ['b', 'c', 'a'],
      ['c', 'a', 'b'],
      ['a', 'b', 'c'],
      ['b', 'c', 'a'],
      ['c', 'a', 'b'],
    ])
  })

  t.test('roundRobin state advances only when its route is picked, per router instance', async (t) => {
    const routes: MtRoute[] = [
      { name: 'uk', match: { destPrefix: ['44'] }, action: { connector: 'uk' } },
      { name: 'rr', match: {}, action: { roundRobin: ['a', 'b'] } },
    ]
    const r = new MtRouter(routes)
    t.equal(connectorsOf(r.route('s', null, 'x', '1', NOW))[0], 'a')
    r.route('s', null, 'x', '44', NOW)
    r.route('s', null, 'x', '44', NOW)
    t.equal(connectorsOf(r.route('s', null, 'x', '1', NOW))[0], 'b')
    t.equal(connectorsOf(new MtRouter(routes).route('s', null, 'x', '1', NOW))[0], 'a', 'a new router starts over')
  })

  t.test('failover keeps its order on every call', async (t) => {
    const r = new MtRouter([{ name: 'fo', match: {}, action: { failover: ['primary', 'backup', 'last'] } }])
    for (let i = 0; i < 3; i++) t.same(connectorsOf(r.route('s', null, 'x', '1', NOW)), ['primary', 'backup', 'last'])
  })

  t.test('the candidate list is shared and frozen', async (t) => {
    const r = new MtRouter([{ name: 'fo', match: {}, action: { failover: ['p', 'b'] } }])
    const c = connectorsOf(r.route('s', null, 'x', '1', NOW))
    t.ok(Object.isFrozen(c))
    t.throws(() => c.push('x'))
  })

  t.test('the router does not see later changes to the table it was built from', async (t) => {
    const routes: MtRoute[] = [{ name: 'fo', match: { destPrefix: ['44'] }, action: { failover: ['p', 'b'] } }]
    const r = new MtRouter(routes)
    ;(routes[0].match.destPrefix as string[]).push('33')
    ;(routes[0].action as { failover: string[] }).failover.reverse()
    t.notOk(r.route('s', null, 'x', '33', NOW).ok)
    t.same(connectorsOf(r.route('s', null, 'x', '44', NOW)), ['p', 'b'])
  })

  t.test('reject refuses with its status and names the route', async (t) => {
    const r = new MtRouter([
      { name: 'block-premium', match: { destPrefix: ['449'] }, action: { reject: CommandStatus.ESME_RINVDSTADR } },
      { name: 'block-spam', match: { sourcePrefix: ['SPAM'] }, action: { reject: 0x401 } },
      { name: 'rest', match: {}, action: { connector: 'c' } },
    ])
    t.same(r.route('s', null, 'x', '449001', NOW), { ok: false, route: 'block-premium', status: 0x0b })
    t.same(r.route('s', null, 'SPAM', '447001', NOW), { ok: false, route: 'block-spam', status: 0x401 })
    t.equal(r.route('s', null, 'x', '447001', NOW).ok, true)
  })

  t.test('no match refuses with ESME_RINVDSTADR and route null', async (t) => {
    const r = new MtRouter([{ name: 'uk', match: { destPrefix: ['44'] }, action: { connector: 'c' } }])
    t.same(r.route('s', null, 'x', '33612345678', NOW), { ok: false, route: null, status: CommandStatus.ESME_RINVDSTADR })
    t.same(new MtRouter([]).route('s', null, 'x', '1', NOW), { ok: false, route: null, status: 0x0b })
  })

  t.test('price defaults to 1 and is the route price when given', async (t) => {
    const r = new MtRouter([
      { name: 'free', match: { destPrefix: ['1'] }, action: { connector: 'c' }, price: 0 },
      { name: 'dear', match: { destPrefix: ['2'] }, action: { roundRobin: ['c', 'd'] }, price: 2.5 },
      { name: 'plain', match: {}, action: { failover: ['c'] } },
    ])
    const price = (dest: string): number => {
      const d = r.route('s', null, 'x', dest, NOW)
      return d.ok ? d.price : -1
    }
    t.equal(price('1'), 0)
    t.equal(price('2'), 2.5)
    t.equal(price('3'), 1)
  })
})

t.test("MoRouter.decide: the route's account, its optOut, who an opt-out entry names, and its reply", async (t) => {
  const r = new MoRouter([
    { name: 'stop', match: { keyword: 'STOP' }, account: 'shop', optOut: 'add', reply: 'You are unsubscribed.' },
    { name: 'start', match: { keyword: 'start' }, account: 'shop', optOut: 'remove' },
    { name: 'stop-line', match: { destPrefix: ['7000'] }, account: 'shop', optOut: 'add' },
    { name: 'plain', match: {}, account: 'shop' },
  ])
  t.strictSame(r.decide('1', 'stop please'), { account: 'shop', optOut: 'add', by: 'mo:STOP', route: 'stop', reply: 'You are unsubscribed.' }, "by: the route's keyword as configured; its reply")
  t.strictSame(r.decide('1', 'START'), { account: 'shop', optOut: 'remove', by: 'mo:start', route: 'start', reply: null }, 'no reply: null')
  t.strictSame(r.decide('70001', 'anything'), { account: 'shop', optOut: 'add', by: 'mo:stop-line', route: 'stop-line', reply: null }, "a route without a keyword: its name")
  t.strictSame(r.decide('1', 'hello'), { account: 'shop', optOut: null, by: 'mo:plain', route: 'plain', reply: null }, 'no optOut: the list is not touched')
  t.equal(r.route('1', 'stop'), 'shop', 'route() is the decision\'s account')
  t.equal(new MoRouter([]).decide('1', 'STOP'), null)
})

t.test('MO routing', async (t) => {
  const r = new MoRouter([
    { name: 'stop', match: { keyword: 'STOP' }, account: 'optout' },
    { name: 'plus', match: { keyword: 'C++' }, account: 'devs' },
    { name: 'shortcode', match: { destPrefix: ['+8080'] }, account: 'shop' },
    { name: 'both', match: { destPrefix: ['9090'], keyword: 'info' }, account: 'info' },
  ])

  t.test('keyword is the first word, case-insensitive', async (t) => {
    t.equal(r.route('1', 'STOP'), 'optout')
    t.equal(r.route('1', 'stop'), 'optout')
    t.equal(r.route('1', '  Stop please'), 'optout', 'leading spaces skipped')
    t.equal(r.route('1', 'sToP\nnow'), 'optout')
  })

  t.test('keyword: the punctuation and symbols around the first word, and compatibility forms, do not count', async (t) => {
    for (const text of ['STOP.', 'Stop!', 'stop!!!', 'STOP🙏', '"STOP"', 'ＳＴＯＰ', 'ｓｔｏｐ please']) t.equal(r.route('1', text), 'optout', JSON.stringify(text))
    t.equal(r.route('1', 'STOPALL'), null, 'another word is another word')
    t.equal(r.route('1', 'ST.OP'), null, 'inside the word, punctuation counts')
  })

  t.test('keyword: a list of words, any of them', async (t) => {
    const list = new MoRouter([{ name: 'stop', match: { keyword: ['STOP', 'STOPALL', 'unsubscribe', 'Arrêt'] }, account: 'optout', optOut: 'add' }])
    for (const text of ['stop', 'StopAll', 'UNSUBSCRIBE me', 'arrêt', 'ARRÊT!']) t.equal(list.route('1', text), 'optout', text)
    t.equal(list.route('1', 'cancel'), null)
    t.same(list.decide('1', 'stopall'), { account: 'optout', optOut: 'add', by: 'mo:STOP', route: 'stop', reply: null }, "by: the route's first keyword")
  })

  t.test('keyword must be the whole first word, not a prefix or a later word', async (t) => {
    t.equal(r.route('1', 'STOPPED'), null)
    t.equal(r.route('1', 'please stop'), null)
    t.equal(r.route('1', ''), null)
  })

  t.test('keyword with regex characters matches literally', async (t) => {
    t.equal(r.route('1', 'c++ rocks'), 'devs')
    t.equal(r.route('1', 'cc rocks'), null)
  })

  t.test('destPrefix matches the destination, "+" ignored in the rule and in the address', async (t) => {
    t.equal(r.route('80801', 'hello'), 'shop')
    t.equal(r.route('+80801', 'hello'), 'shop')
    t.equal(r.route('7080', 'hello'), null)
  })

  t.test('destPrefix and keyword combined must both match; the first matching route wins', async (t) => {
    t.equal(r.route('9090', 'INFO please'), 'info')
    t.equal(r.route('9090', 'help'), null)
    t.equal(r.route('1234', 'info'), null)
    t.equal(r.route('8080', 'STOP'), 'optout', 'stop comes before shortcode')
  })

  t.test('an empty table routes nothing; an empty match routes everything', async (t) => {
    t.equal(new MoRouter([]).route('1', 'x'), null)
    t.equal(new MoRouter([{ name: 'all', match: {}, account: 'catch' }]).route('1', 'x'), 'catch')
  })
})

// -------------------------------------------------------------------------------------------
/** Asserts `fn` throws an engine error with `code` and exactly `message`, on one line. */
function throwsMessage(t: tap.Test, fn: () => unknown, message: string, code: SmscErrorCode = 'SMSC_ERR_CONFIG_INVALID'): void {
  try {
    fn()
    t.fail(`expected to throw: ${message}`)
  } catch (e) {
    t.ok(isSmscError(e, code), `${code}: ${String(e)}`)
    t.equal((e as Error).message, message)
    t.notMatch((e as Error).message, /\n/, 'one line')
  }
}

const P = 'config.routes'
const REPLY_RULE = 'a text of 1 to 3 message parts (at most 459 GSM 7-bit characters, €[]{}|^~\\ counting two, or 201 when it needs UCS2)'
const ok = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'r',
  match: {},
  action: { connector: 'c' },
  ...over,
})
const v = (tables: unknown, connectors?: ReadonlySet<string>): RouteTables =>
  validateRouteTables(tables, P, 'SMSC_ERR_CONFIG_INVALID', connectors)

t.test('validateRouteTables', async (t) => {
  t.test('a valid table comes back as an equal, fresh copy', async (t) => {
    const input: RouteTables = {
      mt: [
        {
          name: 'uk',
          match: {
            accounts: ['a'],
            groups: ['g'],
            destPrefix: ['+44'],
            destRegex: '^44',
            sourcePrefix: ['BANK', '123'],
            sourceRegex: '.',
            time: { from: '22:00', to: '06:00', days: [5, 6], utcOffsetMinutes: -90 },
          },
          action: { failover: ['c', 'd'] },
          price: 0.5,
        },
        { name: 'rr', match: {}, action: { roundRobin: ['c', 'c', 'd'] } },
        { name: 'no', match: {}, action: { reject: 0x0b } },
      ],
      mo: [{ name: 'stop', match: { keyword: 'STOP', destPrefix: ['80'] }, account: 'x' }],
    }
    const out = v(input, new Set(['c', 'd']))
    t.same(out, input)
    t.not(out.mt[0].match.destPrefix, input.mt[0].match.destPrefix, 'arrays are copied')
    t.not(out.mt[0], input.mt[0])
  })

  t.test('missing mt is the default table, missing mo is empty, missing match is {}', async (t) => {
    t.same(v({}), DEFAULT_ROUTES)
    t.same(v({ mt: [{ name: 'x', action: { connector: 'c' } }] }).mt, [{ name: 'x', match: {}, action: { connector: 'c' } }])
  })

  t.test('the API code is used when asked for', async (t) => {
    throwsMessage(
      t,
      () => validateRouteTables({ mt: 5 }, 'body', 'SMSC_ERR_API_INVALID'),
      'body.mt must be an array of routes (got 5)',
      'SMSC_ERR_API_INVALID',
    )
  })

  const bad: [string, unknown, string, ReadonlySet<string>?][] = [
    ['not an object', [], `${P} must be an object (got [])`],
    ['unknown top-level key', { mt: [], extra: 1 }, `${P}.extra is not a known key`],
    ['mo not an array', { mo: {} }, `${P}.mo must be an array of routes (got {})`],
    ['route not an object', { mt: [null] }, `${P}.mt[0] must be an object (got null)`],
    ['unknown route key', { mt: [ok({ weight: 3 })] }, `${P}.mt[0].weight is not a known key`],
    ['unknown match key', { mt: [ok({ match: { dest: ['1'] } })] }, `${P}.mt[0].match.dest is not a known key`],
    ['missing name', { mt: [ok({ name: undefined })] }, `${P}.mt[0].name must be a non-empty string (got undefined)`],
    [
      'duplicate route name',
      { mt: [ok({ name: 'a' }), ok({ name: 'b' }), ok({ name: 'a' })] },
      `${P}.mt[2].name must be unique (got "a", also ${P}.mt[0].name)`,
    ],
    [
      'duplicate MO route name',
      { mo: [{ name: 'm', account: 'x' }, { name: 'm', account: 'y' }] },
      `${P}.mo[1].name must be unique (got "m", also ${P}.mo[0].name)`,
    ],
    ['accounts not an array', { mt: [ok({ match: { accounts: 'alice' } })] }, `${P}.mt[0].match.accounts must be a non-empty array of strings (got "alice")`],
    ['empty groups', { mt: [ok({ match: { groups: [] } })] }, `${P}.mt[0].match.groups must be a non-empty array of strings (got [])`],
    ['empty string in accounts', { mt: [ok({ match: { accounts: ['a', ''] } })] }, `${P}.mt[0].match.accounts[1] must be a non-empty string (got "")`],
    [
      'non-digit destPrefix',
      { mt: [ok({ match: { destPrefix: ['44', '4x'] } })] },
      `${P}.mt[0].match.destPrefix[1] must be digits with an optional leading "+" (got "4x")`,
    ],
    ['"+" alone as destPrefix', { mt: [ok({ match: { destPrefix: ['+'] } })] }, `${P}.mt[0].match.destPrefix[0] must be digits with an optional leading "+" (got "+")`],
    [
      'destRegex does not compile',
      { mt: [ok({ match: { destRegex: '^(44' } })] },
      `${P}.mt[0].match.destRegex is not a valid regular expression: Unterminated group (got "^(44")`,
    ],
    [
      'sourceRegex does not compile',
      { mt: [ok({ match: { sourceRegex: '[a-' } })] },
      `${P}.mt[0].match.sourceRegex is not a valid regular expression: Unterminated character class (got "[a-")`,
    ],
    ['time not an object', { mt: [ok({ match: { time: '09-17' } })] }, `${P}.mt[0].match.time must be an object (got "09-17")`],
    [
      'bad HH:MM from',
      { mt: [ok({ match: { time: { from: '9:00', to: '17:00' } } })] },
      `${P}.mt[0].match.time.from must be a time "HH:MM" between "00:00" and "23:59" (got "9:00")`,
    ],
    [
      'out of range to',
      { mt: [ok({ match: { time: { from: '09:00', to: '24:01' } } })] },
      `${P}.mt[0].match.time.to must be a time "HH:MM" between "00:00" and "24:00" (got "24:01")`,
    ],
    [
      'from equals to',
      { mt: [ok({ match: { time: { from: '09:00', to: '09:00' } } })] },
      `${P}.mt[0].match.time.to must differ from ${P}.mt[0].match.time.from (got "09:00"; use "00:00" to "24:00" for the whole day)`,
    ],
    [
      'weekday out of range',
      { mt: [ok({ match: { time: { from: '09:00', to: '17:00', days: [1, 7] } } })] },
      `${P}.mt[0].match.time.days[1] must be a weekday, an integer between 0 (Sunday) and 6 (Saturday) (got 7)`,
    ],
    [
      'empty days',
      { mt: [ok({ match: { time: { from: '09:00', to: '17:00', days: [] } } })] },
      `${P}.mt[0].match.time.days must be a non-empty array of weekdays 0..6 (0 = Sunday) (got [])`,
    ],
    [
      'utc offset out of range',
      { mt: [ok({ match: { time: { from: '09:00', to: '17:00', utcOffsetMinutes: 900 } } })] },
      `${P}.mt[0].match.time.utcOffsetMinutes must be an integer between -840 and 840 (got 900)`,
    ],
    ['missing action', { mt: [ok({ action: undefined })] }, `${P}.mt[0].action must be an object (got undefined)`],
    [
      'two actions',
      { mt: [ok({ action: { connector: 'c', reject: 11 } })] },
      `${P}.mt[0].action must have exactly one of connector, roundRobin, failover, reject (got {"connector":"c","reject":11})`,
    ],
    ['no action', { mt: [ok({ action: {} })] }, `${P}.mt[0].action must have exactly one of connector, roundRobin, failover, reject (got {})`],
    ['unknown action key', { mt: [ok({ action: { drop: true } })] }, `${P}.mt[0].action.drop is not a known key`],
    ['empty failover', { mt: [ok(), ok({ name: 's' }), ok({ name: 'f', action: { failover: [] } })] }, `${P}.mt[2].action.failover must be a non-empty array of connector ids (got [])`],
    ['empty roundRobin', { mt: [ok({ action: { roundRobin: 'c' } })] }, `${P}.mt[0].action.roundRobin must be a non-empty array of connector ids (got "c")`],
    ['failover repeats an id', { mt: [ok({ action: { failover: ['a', 'b', 'a'] } })] }, `${P}.mt[0].action.failover[2] repeats ${P}.mt[0].action.failover[0] (got "a")`],
    ['connector not a string', { mt: [ok({ action: { connector: 7 } })] }, `${P}.mt[0].action.connector must be a connector id (got 7)`],
    [
      'unknown connector',
      { mt: [ok({ action: { connector: 'nope' } })] },
      `${P}.mt[0].action.connector must be a configured connector id (got "nope"; connectors: simulator, smpp1)`,
      new Set(['simulator', 'smpp1']),
    ],
    [
      'unknown connector in a failover list',
      { mt: [ok({ action: { failover: ['simulator', 'gone'] } })] },
      `${P}.mt[0].action.failover[1] must be a configured connector id (got "gone"; connectors: simulator)`,
      new Set(['simulator']),
    ],
    ['reject 0 (ESME_ROK)', { mt: [ok({ action: { reject: 0 } })] }, `${P}.mt[0].action.reject must be a command_status, an integer between 1 and 4294967295 (got 0)`],
    [
      'reject above u32',
      { mt: [ok({ action: { reject: 2 ** 32 } })] },
      `${P}.mt[0].action.reject must be a command_status, an integer between 1 and 4294967295 (got 4294967296)`,
    ],
    ['reject as a string', { mt: [ok({ action: { reject: '0x0B' } })] }, `${P}.mt[0].action.reject must be a command_status, an integer between 1 and 4294967295 (got "0x0B")`],
    ['negative price', { mt: [ok({ price: -1 })] }, `${P}.mt[0].price must be a non-negative number (got -1)`],
    ['infinite price', { mt: [ok({ price: Infinity })] }, `${P}.mt[0].price must be a non-negative number (got Infinity)`],
    ['price as a string', { mt: [ok({ price: '1' })] }, `${P}.mt[0].price must be a non-negative number (got "1")`],
    ['MO unknown match key', { mo: [{ name: 'm', match: { text: 'x' }, account: 'a' }] }, `${P}.mo[0].match.text is not a known key`],
    ['MO keyword with a space', { mo: [{ name: 'm', match: { keyword: 'two words' }, account: 'a' }] }, `${P}.mo[0].match.keyword must be one word or a list of 1 to 100 words, each at most 64 characters (got "two words")`],
    ['MO keyword list with a phrase', { mo: [{ name: 'm', match: { keyword: ['STOP', 'opt out'] }, account: 'a' }] }, `${P}.mo[0].match.keyword must be one word or a list of 1 to 100 words, each at most 64 characters (got ["STOP","opt out"])`],
    ['MO keyword list empty', { mo: [{ name: 'm', match: { keyword: [] }, account: 'a' }] }, `${P}.mo[0].match.keyword must be one word or a list of 1 to 100 words, each at most 64 characters (got [])`],
    ['MO missing account', { mo: [{ name: 'm', match: {} }] }, `${P}.mo[0].account must be a non-empty string (got undefined)`],
    ['MO optOut not add or remove', { mo: [{ name: 'm', match: { keyword: 'STOP' }, account: 'a', optOut: 'true' }] }, `${P}.mo[0].optOut must be "add" or "remove" (the sender goes on or off "a"'s opt-out list) (got "true")`],
    ['MO optOut as a boolean', { mo: [{ name: 'm', match: {}, account: 'a', optOut: true }] }, `${P}.mo[0].optOut must be "add" or "remove" (the sender goes on or off "a"'s opt-out list) (got true)`],
    ['odd key names are quoted', { mt: [ok({ 'a b': 1 })] }, `${P}.mt[0]["a b"] is not a known key`],
    ['MO reply empty', { mo: [{ name: 'help', match: {}, account: 'a', reply: '' }] }, `${P}.mo[0].reply must be ${REPLY_RULE} (got "")`],
    ['MO reply only spaces', { mo: [{ name: 'help', match: {}, account: 'a', reply: '  ' }] }, `${P}.mo[0].reply must be ${REPLY_RULE} (got "  ")`],
    ['MO reply not a string', { mo: [{ name: 'help', match: {}, account: 'a', reply: 42 }] }, `${P}.mo[0].reply must be ${REPLY_RULE} (got 42)`],
    ['MO reply of 460 GSM characters', { mo: [{ name: 'help', match: {}, account: 'a', reply: 'x'.repeat(460) }] }, `${P}.mo[0].reply must be ${REPLY_RULE} (got 460 GSM characters: 4 parts)`],
    ['MO reply whose € count two', { mo: [{ name: 'help', match: {}, account: 'a', reply: '€'.repeat(230) }] }, `${P}.mo[0].reply must be ${REPLY_RULE} (got 460 GSM characters: 4 parts)`],
    ['MO reply of 202 UCS2 characters', { mo: [{ name: 'help', match: {}, account: 'a', reply: 'ж'.repeat(202) }] }, `${P}.mo[0].reply must be ${REPLY_RULE} (got 202 UCS2 characters: 4 parts)`],
    // half an emoji (a text cut between the two halves of a surrogate pair): no coding carries it, so no reply would go
    ['MO reply with a lone surrogate', { mo: [{ name: 'help', match: {}, account: 'a', reply: 'Thanks \ud83d' }] }, `${P}.mo[0].reply must be ${REPLY_RULE} (got a text UCS2 cannot carry: half of a surrogate pair, \\ud83d, at character 8)`],
  ]
  for (const [name, input, message, connectors] of bad) {
    t.test(`rejects: ${name}`, async (t) => {
      throwsMessage(t, () => v(input, connectors), message)
    })
  }

  t.test('an MO route keeps its reply as given, up to 3 parts in GSM 7-bit or UCS2', async (t) => {
    const stop = 'You are unsubscribed from Shop. No more messages will be sent. Reply START to resubscribe.'
    const tables = v({ mo: [
      { name: 'stop', match: { keyword: 'STOP' }, account: 'a', optOut: 'add', reply: stop },
      { name: 'gsm', match: {}, account: 'a', reply: 'x'.repeat(459) },
      { name: 'ucs2', match: {}, account: 'a', reply: 'ж'.repeat(201) },
      { name: 'none', match: {}, account: 'a' },
    ] })
    t.same(tables.mo.map((r) => r.reply?.length), [stop.length, 459, 201, undefined])
  })

  t.test('an MO route keeps its optOut, and one without has none', async (t) => {
    const tables = v({ mo: [{ name: 'stop', match: { keyword: 'STOP' }, account: 'a', optOut: 'add' }, { name: 'start', match: { keyword: 'START' }, account: 'a', optOut: 'remove' }, { name: 'x', match: {}, account: 'a' }] })
    t.same(tables.mo.map((r) => r.optOut), ['add', 'remove', undefined])
  })

  t.test('connectors are not checked when no set is given', async (t) => {
    t.same(v({ mt: [ok({ action: { connector: 'anything' } })] }).mt[0].action, { connector: 'anything' })
  })
})

t.test('ReplyGuard: one reply per route and sender a window; other routes and senders apart; at most max followed', async (t) => {
  const g = new ReplyGuard(60_000, 10)
  t.ok(g.take('stop', '491', 0), 'the first reply')
  t.notOk(g.take('stop', '491', 59_999), 'the same route and sender within the window: held')
  t.ok(g.take('help', '491', 1), 'another route: apart')
  t.ok(g.take('stop', '492', 2), 'another sender: apart')
  t.ok(g.take('stop', '491', 60_000), 'a window after the first: again')
  t.notOk(g.take('stop', '491', 60_001), "and that one counts as the new window's")
  t.ok(g.take('stop', '493', 60_002))
  t.equal(g.size, 2, 'a reply forgets the keys whose window is over (help and stop/492)')

  const small = new ReplyGuard(60_000, 2)
  small.take('r', '1', 0)
  small.take('r', '2', 1)
  small.take('r', '3', 2)
  t.equal(small.size, 2, 'at most max followed: the oldest forgotten first')
  t.ok(small.take('r', '1', 3), 'a forgotten sender may get a reply early (never held too long)')
  t.notOk(small.take('r', '3', 4), 'one still followed is held')
})

t.test("MoPartRoutes: a concatenated MO's later parts follow the first part's route, for keepMs, at most max kept", async (t) => {
  const r = new MoPartRoutes(1000, 2)
  t.equal(r.decision('a', 0), undefined, 'no first part yet')
  r.remember('a', 'optout', 0)
  r.remember('b', null, 10)
  t.equal(r.decision('a', 999), 'optout', "the first part's account")
  t.equal(r.decision('b', 500), null, 'a first part that was refused: refused too')
  t.equal(r.decision('a', 1000), undefined, 'forgotten after keepMs')
  r.remember('c', 'x', 20)
  t.equal(r.decision('a', 30), undefined, 'the oldest goes beyond max')
  t.same([r.decision('b', 30), r.decision('c', 30)], [null, 'x'])
  r.remember('b', 'y', 40) // the reference reused: its new first part
  r.remember('d', 'z', 50)
  t.same([r.decision('b', 60), r.decision('c', 60), r.decision('d', 60)], ['y', undefined, 'z'], 'a key remembered again counts as new')
})

t.test('MoPartRoutes.route: whole MOs and first parts by the table; later parts by the first part, or wait for it', async (t) => {
  const r = new MoPartRoutes(1000, 10)
  t.equal(r.route(null, 1, 0, () => 'acme'), 'acme', 'an MO in one piece: the table')
  t.equal(r.route('k', 2, 0, () => null), 'wait', 'a later part before its first, that the table takes nowhere: wait')
  t.equal(r.route('k', 2, 0, () => 'shop'), 'shop', '... that the table takes somewhere: there')
  t.equal(r.route('k', 1, 5, () => 'optout'), 'optout', 'the first part: the table (its keyword)')
  t.equal(r.route('k', 3, 6, () => null), 'optout', 'a later part follows it')
  t.equal(r.route('n', 1, 7, () => null), null, 'a first part refused...')
  t.equal(r.route('n', 2, 8, () => 'shop'), null, '... refuses its later parts too')
})

t.test('routingLost: what the old MT table routed and the new one does not, by route, prefix and account; widening and sender/time routes say nothing', async (t) => {
  const to = (c: string) => ({ connector: c })
  const accts = [{ systemId: 'a1', group: 'gold' }, { systemId: 'a2', group: null }, { systemId: 'a3', group: 'gold' }]
  const uk: MtRoute = { name: 'uk', match: { destPrefix: ['44'] }, action: to('up') }
  const gold: MtRoute = { name: 'gold-de', match: { groups: ['gold'], destPrefix: ['49'] }, action: to('up') }
  t.same(routingLost([uk, gold], [uk, gold, { name: 'rest', match: {}, action: to('up') }], accts), [], 'only wider: nothing')
  t.same(routingLost([uk, gold], [uk], accts), [{ route: 'gold-de', prefix: '49', now: null, accounts: ['a1', 'a3'] }], 'a route removed: its prefix, for the group\'s accounts')
  t.same(routingLost([uk], [{ ...uk, match: { destPrefix: ['447'] } }], accts).map(routingLossText), ['44 (route "uk"): no route now, for a1, a2, a3'], 'a prefix narrowed')
  t.same(routingLost([uk], [{ ...uk, match: { accounts: ['a2'], destPrefix: ['44'] } }], accts).map(routingLossText), ['44 (route "uk"): no route now, for a1, a3'], 'an account no longer matched')
  t.same(routingLost([uk], [{ name: 'no', match: { destPrefix: ['44'] }, action: { reject: 11 } }, uk], accts).map(routingLossText), ['44 (route "uk"): refused now by route "no", for a1, a2, a3'], 'a reject route in front')
  t.same(routingLost([uk], [{ ...uk, action: to('other') }], accts), [], 'another connector: still routed')
  const timed: MtRoute = { name: 'night', match: { destPrefix: ['44'], time: { from: '22:00', to: '06:00' } }, action: to('up') }
  t.same(routingLost([uk, timed], [uk], accts), [], 'a time-window route removed is not judged')
  const many = Array.from({ length: 8 }, (_, i) => ({ systemId: `c${i}`, group: null }))
  t.same(routingLost([uk], [], many).map(routingLossText), ['44 (route "uk"): no route now, for c0, c1, c2, c3, c4 and 3 more'], 'the accounts listed are bounded')
})
