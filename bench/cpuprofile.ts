/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time and inclusive time per function, so a
 * benchmark run can say where the server spends its time without opening DevTools. Self time is
 * the sampled time with the function on top of the stack; inclusive time counts each sample once
 * for every distinct function on its stack (recursion is not double counted).
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileEntry {
  name: string
  /** Milliseconds, and share of the sampled total in percent. */
  selfMs: number
  selfPct: number
  totalMs: number
  totalPct: number
}

export interface ProfileSummary {
  file: string
  sampledMs: number
  /** Share of samples that were idle (no JS running: waiting in the event loop). */
  idlePct: number
  gcPct: number
  entries: ProfileEntry[]
}

function label(n: ProfileNode): string {
  const f = n.callFrame
  const name = f.functionName || '(anonymous)'
  if (!f.url) return name
  const url = f.url.replace(/^file:\/\//, '')
  const m = /(?:node_modules\/(.*)|\/(?:dist|bench|engine|actors|workers)\/.*)$/.exec(url)
  const where = m ? (m[1] ? `node_modules/${m[1]}` : m[0].slice(1)) : path.basename(url)
  return `${name} ${where}:${f.lineNumber + 1}`
}

export function summariseProfile(file: string): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const n of p.nodes) {
    byId.set(n.id, n)
    for (const c of n.children ?? []) parent.set(c, n.id)
  }
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  let sum = 0
  let idle = 0
  let gc = 0
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i] ?? 0) / 1000
    if (dt <= 0) continue
    const leaf = byId.get(p.samples[i])
    if (!leaf) continue
    sum += dt
    const leafName = leaf.callFrame.functionName
    if (leafName === '(idle)') { idle += dt; continue }
    if (leafName === '(garbage collector)') gc += dt
    const key = label(leaf)
    self.set(key, (self.get(key) ?? 0) + dt)
    const seen = new Set<string>()
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id) as ProfileNode
      if (node.callFrame.functionName === '(root)') break
      const k = label(node)
      if (seen.has(k)) continue
      seen.add(k)
      total.set(k, (total.get(k) ?? 0) + dt)
    }
  }
  const pct = (v: number) => (sum > 0 ? Math.round((v / sum) * 1000) / 10 : 0)
  const entries: ProfileEntry[] = [...new Set([...self.keys(), ...total.keys()])].map((name) => {
    const s = self.get(name) ?? 0
    const t = total.get(name) ?? 0
    return { name, selfMs: Math.round(s), selfPct: pct(s), totalMs: Math.round(t), totalPct: pct(t) }
  })
  entries.sort((a, b) => b.selfMs - a.selfMs)
  return { file, sampledMs: Math.round(sum), idlePct: pct(idle), gcPct: pct(gc), entries }
}

export function formatProfileSummary(s: ProfileSummary, top = 20): string {
  const lines = [`sampled ${s.sampledMs} ms, idle ${s.idlePct}%, GC ${s.gcPct}%`, 'self%  total%  function']
  for (const e of s.entries.slice(0, top)) lines.push(`${e.selfPct.toFixed(1).padStart(5)}  ${e.totalPct.toFixed(1).padStart(6)}  ${e.name}`)
  const inclusive = [...s.entries].filter((e) => /dist\/|bench\/|engine\/|actors\/|workers\//.test(e.name)).sort((a, b) => b.totalMs - a.totalMs).slice(0, top)
  if (inclusive.length > 0) {
    lines.push('', 'by inclusive time (project code):', 'total%  self%  function')
    for (const e of inclusive) lines.push(`${e.totalPct.toFixed(1).padStart(6)}  ${e.selfPct.toFixed(1).padStart(5)}  ${e.name}`)
  }
  return lines.join('\n')
}
