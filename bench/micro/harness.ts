/**
 * A tiny timing loop for the micro-benchmarks (no dependency): warm up, then run the function in
 * batches that grow until one batch takes ~10 ms, until at least `minMs` of measured time; report
 * operations per second and nanoseconds per operation (and items per second when one operation
 * handles several items, e.g. a batch of PDUs). Results are printed as one aligned line each.
 */
import { performance } from 'node:perf_hooks'

export interface MicroResult {
  suite: string
  name: string
  opsPerSec: number
  nsPerOp: number
  /** Items per operation (PDUs in a batch, messages in a commit); itemsPerSec = opsPerSec * items. */
  items: number
  itemsPerSec: number
  iterations: number
}

export interface MeasureOptions {
  warmupMs?: number
  minMs?: number
  items?: number
}

function result(suite: string, name: string, iterations: number, ms: number, items: number): MicroResult {
  const opsPerSec = iterations / (ms / 1000)
  return {
    suite, name, iterations, items,
    opsPerSec: Math.round(opsPerSec),
    nsPerOp: Math.round((ms * 1e6) / iterations),
    itemsPerSec: Math.round(opsPerSec * items),
  }
}

/** Times a synchronous function. */
export function measure(suite: string, name: string, fn: () => unknown, o: MeasureOptions = {}): MicroResult {
  const warmupMs = o.warmupMs ?? 300
  const minMs = o.minMs ?? 1000
  let sink: unknown
  const w0 = performance.now()
  while (performance.now() - w0 < warmupMs) for (let i = 0; i < 64; i++) sink = fn()
  let batch = 1
  let iterations = 0
  let spent = 0
  while (spent < minMs) {
    const t0 = performance.now()
    for (let i = 0; i < batch; i++) sink = fn()
    const dt = performance.now() - t0
    iterations += batch
    spent += dt
    if (dt < 10) batch *= 2
  }
  keep(sink)
  return report(result(suite, name, iterations, spent, o.items ?? 1))
}

/** Times an async function, one call at a time (each call awaited before the next). */
export async function measureAsync(suite: string, name: string, fn: () => Promise<unknown>, o: MeasureOptions = {}): Promise<MicroResult> {
  const warmupMs = o.warmupMs ?? 300
  const minMs = o.minMs ?? 1000
  const w0 = performance.now()
  while (performance.now() - w0 < warmupMs) await fn()
  let iterations = 0
  const t0 = performance.now()
  while (performance.now() - t0 < minMs) {
    await fn()
    iterations++
  }
  return report(result(suite, name, iterations, performance.now() - t0, o.items ?? 1))
}

/** A result measured by the caller (e.g. a stream of actor messages): `iterations` ops in `ms`. */
export function record(suite: string, name: string, iterations: number, ms: number, items = 1): MicroResult {
  return report(result(suite, name, iterations, ms, items))
}

let blackhole: unknown
function keep(v: unknown): void {
  blackhole = v
}
export function sinkValue(): unknown {
  return blackhole
}

const n0 = (v: number) => v.toLocaleString('en-US')

function report(r: MicroResult): MicroResult {
  const items = r.items > 1 ? `  ${n0(r.itemsPerSec).padStart(13)} items/s` : ''
  process.stdout.write(`${`${r.suite}: ${r.name}`.padEnd(52)} ${n0(r.opsPerSec).padStart(13)} ops/s ${n0(r.nsPerOp).padStart(11)} ns/op${items}\n`)
  return r
}
