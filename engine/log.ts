/**
 * Structured logs: one JSON object per line on stdout ({ time, level, msg, ...fields }), filtered
 * by config log.level. Passwords never reach a log call; fields are the caller's responsibility.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error'
const RANK: Record<Level | 'silent', number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

export type LogFn = (level: Level, msg: string, fields?: Record<string, unknown>) => void

export function createLogger(level: Level | 'silent', out: (line: string) => void = (l) => process.stdout.write(l)): LogFn {
  const min = RANK[level]
  return (lvl, msg, fields) => {
    if (RANK[lvl] < min) return
    out(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields }) + '\n')
  }
}

/**
 * One kind of log line that can come in floods, kept per key (a connector, a client address): the
 * first at once with its fields; then at most one line per `everyMs` with how many more came and the
 * fields of the last. At most `maxKeys` keys are followed; past that the rest share the key '*'.
 * An add may stand for `n` things (a batch): the count grows by n.
 */
export class RepeatedLog {
  private readonly by = new Map<string, { at: number; count: number; last: Record<string, unknown> }>()

  constructor(private readonly log: LogFn, private readonly o: { level: Level; first: string; more: string; keyName: string; everyMs?: number; maxKeys?: number }) {}

  add(key: string, fields: Record<string, unknown>, now: number, n = 1): void {
    if (!this.by.has(key) && this.by.size >= (this.o.maxKeys ?? 10_000)) key = '*'
    const s = this.by.get(key)
    if (s === undefined || (s.count === 0 && now - s.at >= this.every)) {
      this.log(this.o.level, this.o.first, { [this.o.keyName]: key, ...fields })
      this.by.set(key, { at: now, count: 0, last: fields })
      return
    }
    s.count += n
    s.last = fields
    if (now - s.at >= this.every) this.flush(key, s, now)
  }

  /** Writes the counts whose interval is over and forgets the keys quiet for a whole interval (call it on a tick). */
  tick(now: number): void {
    for (const [key, s] of this.by) {
      if (now - s.at < this.every) continue
      if (s.count > 0) this.flush(key, s, now)
      else if (now - s.at >= 2 * this.every) this.by.delete(key)
    }
  }

  private get every(): number { return this.o.everyMs ?? 60_000 }

  private flush(key: string, s: { at: number; count: number; last: Record<string, unknown> }, now: number): void {
    this.log(this.o.level, this.o.more, { [this.o.keyName]: key, count: s.count, inLastMs: now - s.at, last: s.last })
    s.at = now
    s.count = 0
  }
}
