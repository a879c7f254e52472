/**
 * engine/young-map.ts: a YoungMap answers like a Map through any sequence of sets and deletes (its
 * renewals included), and it does what it is for: a long-lived YoungMap that has been promoted
 * is young again after churn, where a plain Map stays in the old generation (so V8 would
 * allocate each of its later hash tables there too).
 */
import t from 'tap'
import fc from 'fast-check'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { YoungMap } from '../engine/young-map'

const failure = <T>(p: fc.IPropertyWithHooks<T>, numRuns = 300) => fc.defaultReportMessage(fc.check(p, { numRuns }))

t.test('answers like a Map through sets, deletes and renewals', async (t) => {
  const op = fc.oneof(
    fc.tuple(fc.constant('set' as const), fc.integer({ min: 0, max: 60 }), fc.integer()),
    fc.tuple(fc.constant('delete' as const), fc.integer({ min: 0, max: 60 }), fc.constant(0)),
    fc.tuple(fc.constant('clear' as const), fc.constant(0), fc.constant(0)),
  )
  t.equal(failure(fc.property(fc.array(op, { maxLength: 2000 }), (ops) => {
    const model = new Map<number, number>()
    const ym = new YoungMap<number, number>()
    for (const [kind, k, v] of ops) {
      if (kind === 'set') { model.set(k, v); ym.set(k, v) } else if (kind === 'clear') { model.clear(); ym.clear() } else if (model.delete(k) !== ym.delete(k)) return false
      if (model.size !== ym.size || model.get(k) !== ym.get(k) || model.has(k) !== ym.has(k)) return false
    }
    // insertion order survives renewals (a renewal copies the entries in order)
    return JSON.stringify([...model]) === JSON.stringify([...ym]) &&
      JSON.stringify([...model.keys()]) === JSON.stringify([...ym.keys()]) &&
      JSON.stringify([...model.values()]) === JSON.stringify([...ym.values()])
  })), undefined)
})

t.test('a promoted YoungMap is young again after churn; a promoted Map is not', async (t) => {
  // A child with V8's natives: %InYoungGeneration tells where an object lives.
  const script = `
    const { YoungMap } = require(${JSON.stringify(path.join(__dirname, '..', 'engine', 'young-map.js'))})
    const inner = (ym) => Object.values(ym).find((v) => v instanceof Map)
    const plain = new Map(); const ym = new YoungMap()
    plain.set('seed', {}); ym.set('seed', {})
    gc(); gc() // both promoted, with their tables
    const before = [%InYoungGeneration(plain), %InYoungGeneration(inner(ym))]
    for (let i = 0; i < 10000; i++) { const k = 'm' + i; plain.set(k, { i }); ym.set(k, { i }); plain.delete(k); ym.delete(k) }
    console.log(JSON.stringify({ before, after: [%InYoungGeneration(plain), %InYoungGeneration(inner(ym))], size: ym.size }))
  `
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--expose-gc', '-e', script], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout) as { before: boolean[]; after: boolean[]; size: number }
  t.same(out.before, [false, false], 'both start in the old generation')
  t.same(out.after, [false, true], 'after churn the plain Map is still old, the YoungMap young')
  t.equal(out.size, 1, 'the entry set before the churn is still there')
})
