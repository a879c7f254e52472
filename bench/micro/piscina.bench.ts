/**
 * piscina round-trip micro-benchmarks: the bare task round trip, and decoding batches of 1, 10,
 * 100 and 1000 submit_sm in a worker (input transferred, decoded PDUs cloned back) against decoding
 * the same batch inline, to find the batch size where the pool starts to pay (the crossover the
 * engine's codec pool needs). Both one task at a time (latency) and 2 workers kept busy (throughput).
 */
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { Piscina } from 'piscina'
import { decode } from '../../engine/protocol/codec'
import { submitTemplates } from '../templates'
import { measure, measureAsync, record, type MicroResult } from './harness'

export async function run(): Promise<MicroResult[]> {
  const pool = new Piscina({ filename: path.join(__dirname, 'codec-worker.js'), minThreads: 2, maxThreads: 2 })
  const frame = submitTemplates('gsm', 1)[0].buf
  const out: MicroResult[] = []
  try {
    out.push(await measureAsync('piscina', 'round trip: echo (1 task in flight)', () => pool.run(1, { name: 'echo' })))
    for (const k of [1, 10, 100, 1000]) {
      const packed = Buffer.concat(Array.from({ length: k }, () => frame))
      const task = () => {
        const ab = new ArrayBuffer(packed.length)
        packed.copy(Buffer.from(ab))
        return pool.run({ buf: ab, length: packed.length }, { name: 'decodeBatch', transferList: [ab] })
      }
      out.push(await measureAsync('piscina', `decode ${k} submit_sm in a worker (1 in flight)`, task, { items: k }))
      // Throughput: keep 8 tasks in flight on the 2 workers for ~1 s.
      const inFlight = 8
      const t0 = performance.now()
      let done = 0
      await new Promise<void>((resolve) => {
        let running = 0
        const next = (): void => {
          if (performance.now() - t0 >= 1000) { if (running === 0) resolve(); return }
          running++
          task().then(() => { running--; done++; next() }, () => { running--; next() })
        }
        for (let i = 0; i < inFlight; i++) next()
      })
      out.push(record('piscina', `decode ${k} submit_sm in workers (8 in flight)`, done, performance.now() - t0, k))
      const frames = Array.from({ length: k }, () => frame)
      out.push(measure('piscina', `decode ${k} submit_sm inline (reference)`, () => { for (const f of frames) decode(f) }, { items: k }))
    }
  } finally {
    await pool.destroy()
  }
  return out
}
