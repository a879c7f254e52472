/**
 * The performance goals of issue 3, judged from measured runs: `smsc bench goals` runs the scenarios
 * (bench/run.ts) and hands their numbers to judge(), which says, goal by goal, met or missed and by
 * how much. Pure: the thresholds live here and nowhere else.
 */

/** What the goal runs measured (undefined: that run was not made or failed). */
export interface GoalMeasures {
  /** `receipts`, all targets in one run (the issue asks for 60 s). */
  receipts?: {
    seconds: number
    engine: { submitsPerSec: number; acked: number; sent: number; receiptsMatched: number; errors: number }
    nodeSmpp?: number
    floor?: number
  }
  /** `receipts --rate` at 80% of the engine's rate above: submit→resp p99 in ms, and the rate reached. */
  at80?: { rate: number; p99Ms: number }
  /** `1000x10tps`. */
  binds1000?: { bound: number; attempted: number; p99Ms: number }
  /** `idle-5000`. */
  idle?: { bound: number; kbPerBind: number }
  /** `soak` at half the engine's rate: anonymous RSS samples (KiB) every 5 s. */
  soak?: { rate: number; seconds: number; anonKb: number[] }
}

export interface Verdict {
  goal: string
  measured: string
  met: boolean | null // null: not measured
}

const n0 = (v: number) => Math.round(v).toLocaleString('en-US')

/** Anonymous memory is flat when the last third of the samples stays within 20% of the first third's highest. */
export function flat(anonKb: number[]): boolean {
  if (anonKb.length < 6) return false
  const third = Math.floor(anonKb.length / 3)
  const first = Math.max(...anonKb.slice(0, third))
  const last = Math.max(...anonKb.slice(anonKb.length - third))
  return last <= first * 1.2
}

export function judge(m: GoalMeasures): Verdict[] {
  const out: Verdict[] = []
  const r = m.receipts
  if (r) {
    const e = r.engine
    const allReceipts = e.receiptsMatched === e.acked && e.acked === e.sent && e.errors === 0
    out.push({
      goal: '100,000 submit_sm/s for 60 s with receipts (10 binds × window 100), every receipt delivered',
      measured: `${n0(e.submitsPerSec)}/s for ${r.seconds} s, ${n0(e.receiptsMatched)} of ${n0(e.acked)} receipts, ${e.errors} errors`,
      met: e.submitsPerSec >= 100_000 && r.seconds >= 60 && allReceipts,
    })
    out.push(r.nodeSmpp
      ? { goal: '≥ 5× the node-smpp server in the same run', measured: `${(e.submitsPerSec / r.nodeSmpp).toFixed(2)}× (${n0(r.nodeSmpp)}/s)`, met: e.submitsPerSec >= 5 * r.nodeSmpp }
      : { goal: '≥ 5× the node-smpp server in the same run', measured: 'not run', met: null })
    out.push(r.floor
      ? { goal: '≥ 35% of the raw floor in the same run', measured: `${((100 * e.submitsPerSec) / r.floor).toFixed(1)}% (${n0(r.floor)}/s)`, met: e.submitsPerSec >= 0.35 * r.floor }
      : { goal: '≥ 35% of the raw floor in the same run', measured: 'not run', met: null })
  } else {
    for (const goal of ['100,000 submit_sm/s for 60 s with receipts (10 binds × window 100), every receipt delivered', '≥ 5× the node-smpp server in the same run', '≥ 35% of the raw floor in the same run']) {
      out.push({ goal, measured: 'not run', met: null })
    }
  }
  out.push(m.at80
    ? { goal: 'submit→resp p99 ≤ 10 ms at 80% of the maximum rate', measured: `${m.at80.p99Ms.toFixed(1)} ms at ${n0(m.at80.rate)}/s`, met: m.at80.p99Ms <= 10 }
    : { goal: 'submit→resp p99 ≤ 10 ms at 80% of the maximum rate', measured: 'not run', met: null })
  out.push(m.binds1000
    ? { goal: '1,000 binds at 10 msg/s: all bound, p99 ≤ 10 ms', measured: `${n0(m.binds1000.bound)}/${n0(m.binds1000.attempted)} bound, p99 ${m.binds1000.p99Ms.toFixed(1)} ms`, met: m.binds1000.bound === m.binds1000.attempted && m.binds1000.p99Ms <= 10 }
    : { goal: '1,000 binds at 10 msg/s: all bound, p99 ≤ 10 ms', measured: 'not run', met: null })
  out.push(m.idle
    ? { goal: '≤ 50 KiB per idle bind (5,000 binds)', measured: `${m.idle.kbPerBind} KiB, ${n0(m.idle.bound)} bound`, met: m.idle.bound === 5000 && m.idle.kbPerBind <= 50 }
    : { goal: '≤ 50 KiB per idle bind (5,000 binds)', measured: 'not run', met: null })
  if (m.soak) {
    const a = m.soak.anonKb
    const mib = (kb: number) => Math.round(kb / 1024)
    out.push({
      goal: 'memory flat over 10 minutes at half load',
      measured: `${n0(m.soak.rate)}/s for ${m.soak.seconds} s, anonymous ${a.length ? `${mib(Math.min(...a))}–${mib(Math.max(...a))} MiB` : 'not sampled'}`,
      met: m.soak.seconds >= 600 && flat(a),
    })
  } else out.push({ goal: 'memory flat over 10 minutes at half load', measured: 'not run (--soak: 10 more minutes)', met: null })
  return out
}

export function formatVerdicts(v: Verdict[]): string {
  const width = Math.max(...v.map((x) => x.goal.length))
  return v.map((x) => `${x.met === null ? '  -   ' : x.met ? ' met  ' : 'MISSED'}  ${x.goal.padEnd(width)}  ${x.measured}`).join('\n')
}
