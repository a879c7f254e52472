/**
 * nact dispatch micro-benchmarks: how many messages per second one actor takes (nact runs every
 * message in its own setImmediate turn with a fresh context), and the same with 100 items per
 * message, the batching the engine's hot path relies on (docs/ARCHITECTURE.md "The hot path").
 */
import { performance } from 'node:perf_hooks'
import { record, type MicroResult } from './harness'

// nact ships loose typings; this is the surface used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const nact = require('nact') as {
  start(): unknown
  spawn(parent: unknown, f: (state: number, msg: Msg) => number, name: string, props?: Record<string, unknown>): unknown
  dispatch(ref: unknown, msg: unknown): void
  stop(ref: unknown): void
}

interface Msg { items: number; done?: () => void }

async function stream(system: unknown, name: string, messages: number, itemsPer: number): Promise<number> {
  let target = 0
  let resolve: () => void = () => {}
  const ref = nact.spawn(system, (count: number, msg: Msg) => {
    const next = count + msg.items
    if (next >= target) resolve()
    return next
  }, name, { initialState: 0 })
  const runOnce = (n: number) => new Promise<number>((res) => {
    const t0 = performance.now()
    target += n * itemsPer
    resolve = () => res(performance.now() - t0)
    const msg: Msg = { items: itemsPer }
    for (let i = 0; i < n; i++) nact.dispatch(ref, msg)
  })
  await runOnce(Math.min(messages, 20_000)) // warmup
  const ms = await runOnce(messages)
  nact.stop(ref)
  return ms
}

export async function run(): Promise<MicroResult[]> {
  const system = nact.start()
  const out: MicroResult[] = []
  const n = 300_000
  out.push(record('nact', 'dispatch: 1 item per message', n, await stream(system, 'one', n, 1)))
  const m = 30_000
  out.push(record('nact', 'dispatch: 100 items per message', m, await stream(system, 'batch', m, 100), 100))
  nact.stop(system)
  return out
}
