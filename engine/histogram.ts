/**
 * A log-linear latency histogram (the HDR idea, without the dependency): values are integer
 * microseconds; below 256 every value has its own bucket, above that each power of two is cut into
 * 128 linear sub-buckets, so any recorded value is reported within 1/128 (< 0.8%) of the truth.
 * 3,328 buckets cover 0 µs to 2^31 µs (35 minutes); larger values are clamped. record() is a few
 * integer operations and one array increment: cheap enough for every PDU of the load generator.
 */

const SUB_BITS = 7
const SUB = 1 << SUB_BITS // 128 sub-buckets per power of two
const MAX_VALUE = 0x7fffffff
const BUCKETS = (31 - SUB_BITS) * SUB + 2 * SUB // 3328

export interface LatencySummary {
  count: number
  /** All in milliseconds. */
  min: number
  mean: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
}

function indexOf(v: number): number {
  if (v < 2 * SUB) return v
  const shift = 31 - Math.clz32(v) - SUB_BITS // >= 1
  return shift * SUB + (v >>> shift)
}

/** Highest value that lands in bucket i (what HDR calls the highest equivalent value). */
function upperOf(i: number): number {
  if (i < 2 * SUB) return i
  const shift = Math.floor(i / SUB) - 1
  const m = i - shift * SUB // in [SUB, 2*SUB)
  return (m + 1) * 2 ** shift - 1
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS)
  count = 0
  private sum = 0
  private minV = Infinity
  private maxV = 0

  /** Records one value in microseconds (negative values count as 0). */
  record(us: number): void {
    let v = us > 0 ? Math.round(us) : 0
    if (v > MAX_VALUE) v = MAX_VALUE
    this.counts[indexOf(v)]++
    this.count++
    this.sum += v
    if (v < this.minV) this.minV = v
    if (v > this.maxV) this.maxV = v
  }

  /** Records `n` values of `us` microseconds at once (a batch answered together). */
  recordN(us: number, n: number): void {
    let v = us > 0 ? Math.round(us) : 0
    if (v > MAX_VALUE) v = MAX_VALUE
    this.counts[indexOf(v)] += n
    this.count += n
    this.sum += v * n
    if (v < this.minV) this.minV = v
    if (v > this.maxV) this.maxV = v
  }

  /** How many recorded values are at or below `us` (to the bucket's precision): Prometheus buckets. */
  countAtOrBelow(us: number): number {
    let v = us > 0 ? Math.floor(us) : 0
    if (v > MAX_VALUE) v = MAX_VALUE
    const last = indexOf(v)
    let n = 0
    for (let i = 0; i <= last; i++) n += this.counts[i]
    return n
  }

  /** The value (µs) at or below which `p` percent of the recorded values lie. */
  percentile(p: number): number {
    if (this.count === 0) return 0
    const target = Math.max(1, Math.ceil((p / 100) * this.count))
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]
      if (seen >= target) return Math.min(upperOf(i), this.maxV)
    }
    return this.maxV
  }

  get max(): number { return this.maxV }
  get min(): number { return this.count === 0 ? 0 : this.minV }
  get mean(): number { return this.count === 0 ? 0 : this.sum / this.count }

  add(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i]
    this.count += other.count
    this.sum += other.sum
    if (other.minV < this.minV) this.minV = other.minV
    if (other.maxV > this.maxV) this.maxV = other.maxV
  }

  reset(): void {
    this.counts.fill(0)
    this.count = 0
    this.sum = 0
    this.minV = Infinity
    this.maxV = 0
  }

  /** Percentiles in milliseconds, rounded to 3 decimals (1 µs). */
  summary(): LatencySummary {
    const ms = (us: number) => Math.round(us) / 1000
    return {
      count: this.count,
      min: ms(this.min),
      mean: ms(this.mean),
      p50: ms(this.percentile(50)),
      p90: ms(this.percentile(90)),
      p99: ms(this.percentile(99)),
      p999: ms(this.percentile(99.9)),
      max: ms(this.maxV),
    }
  }
}
