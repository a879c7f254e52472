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
