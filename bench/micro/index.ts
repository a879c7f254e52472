/**
 * `smsc bench micro [suite...]`: runs the micro-benchmark suites (bench/micro/*.bench.ts, mirroring
 * engine/) one after another in this process and writes their results as JSON when asked.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Machine } from '../run'
import type { MicroResult } from './harness'

const SUITES: Record<string, () => Promise<{ run(): Promise<MicroResult[]> }>> = {
  codec: () => import('./codec.bench'),
  framer: () => import('./framer.bench'),
  nact: () => import('./nact.bench'),
  store: () => import('./store.bench'),
  piscina: () => import('./piscina.bench'),
  record: () => import('./record.bench'),
}

export async function runMicro(names: string[], o: { machine: Machine; git?: unknown; resultsDir?: string; json?: string }): Promise<number> {
  const chosen = names.length > 0 ? names : Object.keys(SUITES)
  for (const n of chosen) {
    if (!SUITES[n]) {
      process.stderr.write(`smsc bench micro: unknown suite ${JSON.stringify(n)} (${Object.keys(SUITES).join(', ')})\n`)
      return 2
    }
  }
  const results: MicroResult[] = []
  for (const n of chosen) results.push(...(await (await SUITES[n]()).run()))
  const date = new Date().toISOString()
  const json = JSON.stringify({ date, command: `smsc bench micro ${names.join(' ')}`.trim(), machine: o.machine, git: o.git, results }, null, 2) + '\n'
  for (const file of [o.resultsDir && path.join(o.resultsDir, `${date.slice(0, 10)}-micro.json`), o.json]) {
    if (!file) continue
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, json)
    process.stdout.write(`results: ${path.resolve(file)}\n`)
  }
  return 0
}
