/**
 * Drained mailboxes (actors/mailbox.ts) on real nact actors: everything posted before the actor runs
 * is handled in one wake-up, in order; a message that throws is dropped, the actor is restarted or
 * resumed by its policy, and the messages after it are still handled.
 */
import t from 'tap'
import { Mailbox } from '../../actors/mailbox'
// eslint-disable-next-line @typescript-eslint/no-var-requires
const nact = require('nact') as {
  start(): unknown
  spawn(parent: unknown, f: (state: any, msg: any) => any, name: string, props?: Record<string, unknown>): unknown
  dispatch(ref: unknown, msg: unknown): void
  stop(ref: unknown): void
}

const turn = () => new Promise((resolve) => setImmediate(resolve))
const settle = async () => { for (let i = 0; i < 5; i++) await turn() }

function actor(handle: (seen: number[], msg: number) => number[], onCrash?: (msg: unknown, err: unknown, ctx: { reset: symbol; resume: symbol }) => symbol) {
  const system = nact.start()
  const box = new Mailbox<number>()
  const wakes: number[] = []
  let seen: number[] = []
  const ref = nact.spawn(system, (state: number[]) => {
    wakes.push(box.size)
    seen = box.drain(state, handle)
    return seen
  }, 'a', { initialStateFunc: () => (seen = []), ...(onCrash ? { onCrash } : {}) })
  box.bind((wake) => nact.dispatch(ref, wake))
  return { box, wakes, seen: () => seen, stop: () => nact.stop(system) }
}

t.test('a thousand posts in one turn are handled in order in one wake-up of the actor', async (t) => {
  const a = actor((s, m) => { s.push(m); return s })
  for (let i = 0; i < 1000; i++) a.box.post(i)
  t.equal(a.box.size, 1000)
  await settle()
  t.same(a.wakes, [1000], 'one nact message for the turn')
  t.same(a.seen(), Array.from({ length: 1000 }, (_, i) => i))
  t.equal(a.box.size, 0)
  a.box.post(1000)
  await settle()
  t.same(a.wakes, [1000, 1], 'a later post wakes it again')
  t.equal(a.seen().length, 1001)
  a.stop()
})

t.test('posts made while the actor handles a batch are handled in its next wake-up', async (t) => {
  let box: Mailbox<number> | null = null
  const a = actor((s, m) => {
    s.push(m)
    if (m < 3) box!.post(m + 10)
    return s
  })
  box = a.box
  a.box.post(0); a.box.post(1); a.box.post(2)
  await settle()
  t.same(a.seen(), [0, 1, 2, 10, 11, 12])
  t.same(a.wakes, [3, 3])
  a.stop()
})

t.test('a message that throws is dropped; the ones after it are handled after the actor restarts', async (t) => {
  const crashes: unknown[] = []
  const a = actor((s, m) => {
    if (m === 2) throw new Error('bad message')
    s.push(m)
    return s
  }, (_msg, err, ctx) => { crashes.push(err); return ctx.reset })
  for (let i = 0; i < 5; i++) a.box.post(i)
  await settle()
  t.equal(crashes.length, 1)
  t.same(a.seen(), [3, 4], 'reset: fresh state, then the rest of the batch')
  t.equal(a.box.size, 0)
  a.stop()
})

t.test('resume keeps the state and handles the rest', async (t) => {
  const a = actor((s, m) => {
    if (m === 1) throw new Error('bad message')
    s.push(m)
    return s
  }, (_msg, _err, ctx) => ctx.resume)
  for (let i = 0; i < 4; i++) a.box.post(i)
  await settle()
  t.same(a.seen(), [0, 2, 3])
  a.stop()
})

t.test('posting before the actor exists is a programming error, said plainly', async (t) => {
  const box = new Mailbox<number>()
  t.throws(() => box.post(1), /before its actor exists/)
})

t.test('the after-drain hook runs once per wake-up, after every message of it, even when one throws', async (t) => {
  const system = nact.start()
  const box = new Mailbox<number>()
  const log: string[] = []
  const ref = nact.spawn(system, (state: null) => box.drain(state, (s, m) => {
    if (m === 2) throw new Error('bad')
    log.push(`m${m}`)
    return s
  }, () => log.push('after')), 'a', { initialState: null, onCrash: (_m: unknown, _e: unknown, ctx: { resume: symbol }) => ctx.resume })
  box.bind((wake) => nact.dispatch(ref, wake))
  box.post(0); box.post(1)
  await settle()
  t.same(log, ['m0', 'm1', 'after'])
  box.post(2); box.post(3)
  await settle()
  t.same(log, ['m0', 'm1', 'after', 'after', 'm3', 'after'])
  nact.stop(system)
})
