/**
 * Supervision policies, named in OTP words (STYLE §10.3). nact calls an actor's `onCrash` when
 * its handler throws; the policy answers with a nact action. nact has no restart intensity, so
 * `restartWithBudget` keeps a small counter: restart (reset state) until the budget of restarts in
 * the period is spent, then escalate to the parent. Every actor gets an explicit policy.
 */
import type { LogFn } from '../engine/log'

// nact's supervision context: the action symbols plus the actor's path.
export interface CrashCtx {
  stop: symbol
  reset: symbol
  resume: symbol
  escalate: symbol
  stopChild: symbol
  path: { toString(): string }
}
export type Policy = (msg: unknown, err: unknown, ctx: CrashCtx) => symbol

/** permanent: restart on crash, at most `maxRestarts` per `periodMs`, then escalate. */
export function restartWithBudget(name: string, maxRestarts: number, periodMs: number, log: LogFn, onEscalate?: (err: unknown) => void): Policy {
  const restarts: number[] = []
  return (_msg, err, ctx) => {
    const now = Date.now()
    while (restarts.length > 0 && now - restarts[0] > periodMs) restarts.shift()
    if (restarts.length < maxRestarts) {
      restarts.push(now)
      log('error', 'actor crashed, restarting', { actor: name, restarts: restarts.length, budget: maxRestarts, error: String((err as Error)?.stack ?? err) })
      return ctx.reset
    }
    log('error', 'actor restart budget spent, escalating', { actor: name, error: String((err as Error)?.message ?? err) })
    onEscalate?.(err)
    return ctx.escalate
  }
}

/** temporary: a crashed actor is stopped and never restarted (sessions: the ESME rebinds). */
export function temporary(name: string, log: LogFn): Policy {
  return (_msg, err, ctx) => {
    log('error', 'actor crashed, stopping it', { actor: name, error: String((err as Error)?.message ?? err) })
    return ctx.stop
  }
}

/** transient: keep going with the same state (telemetry must never take traffic down). */
export function resume(name: string, log: LogFn): Policy {
  return (_msg, err, ctx) => {
    log('warn', 'actor error, resuming', { actor: name, error: String((err as Error)?.message ?? err) })
    return ctx.resume
  }
}
