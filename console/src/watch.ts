/**
 * Message timelines that follow the engine without polling: a watched message is fetched once
 * (GET /api/v1/messages/{id}), then again only when a telemetry frame shows that its account's
 * receipts or pending deliveries moved, until its timeline reaches `delivered` (or it is dropped
 * after WATCH_MS). At most one request per message is in flight; a change seen meanwhile triggers
 * one more fetch when it returns. The one poll: a message with a receipt and no delivery yet is
 * looked at again RECHECK_MS after each answer, as the last frame may have come before its step.
 */
import { api, ApiError } from './api'
import type { MessageInfo } from './types'
import type { AccountChange, TelemetryState } from './state'

const WATCH_MS = 15 * 60_000
const MAX_WATCHED = 50
/** A receipt shown but not its delivery yet: look again this much later (see fetch). */
const RECHECK_MS = 1500

export interface Watched {
  id: string
  info: MessageInfo | null
  error: string | null
  /** the engine answered 404: nothing to follow */
  gone: boolean
  loading: boolean
  /** fetch again when the current request returns */
  dirty: boolean
  since: number
  /** the account, known from the send form or the first answer */
  systemId: string | null
}

export function isFinished(info: MessageInfo | null): boolean {
  return !!info && info.timeline.some((e) => e.event === 'delivered')
}

export class MessageWatch {
  private items = new Map<string, Watched>()
  version = 0

  constructor(state: TelemetryState, private readonly onChange: () => void) {
    state.onAccountChange((changes) => this.onAccounts(changes))
  }

  get(id: string): Watched | undefined {
    return this.items.get(id)
  }

  /** Start following `id` (fetches it now). */
  watch(id: string, systemId: string | null = null): Watched {
    let w = this.items.get(id)
    if (!w) {
      w = { id, info: null, error: null, gone: false, loading: false, dirty: false, since: Date.now(), systemId }
      this.items.set(id, w)
      if (this.items.size > MAX_WATCHED) this.items.delete(this.items.keys().next().value as string)
    } else {
      w.since = Date.now()
    }
    this.fetch(w)
    return w
  }

  refresh(id: string): void {
    const w = this.items.get(id)
    if (w) this.fetch(w)
  }

  private onAccounts(changes: AccountChange[]): void {
    const now = Date.now()
    for (const w of this.items.values()) {
      if (isFinished(w.info) || now - w.since > WATCH_MS || w.gone) continue
      if (w.systemId === null || changes.some((c) => c.systemId === w.systemId)) this.fetch(w)
    }
  }

  private fetch(w: Watched): void {
    if (w.loading) {
      w.dirty = true
      return
    }
    w.loading = true
    w.dirty = false
    this.changed()
    api.message(w.id).then(
      (info) => {
        w.info = info
        w.error = null
        w.gone = false
        if (info.systemId) w.systemId = info.systemId
      },
      (e: unknown) => {
        // 404 right after a submit can only mean a wrong id; keep the last good answer on a network error
        if (e instanceof ApiError && e.status === 0 && w.info) return
        w.gone = e instanceof ApiError && e.status === 404
        w.error = w.gone ? `no message with id ${w.id}` : (e as Error).message
      },
    ).finally(() => {
      w.loading = false
      this.changed()
      if (w.gone || isFinished(w.info)) return
      if (w.dirty) return this.fetch(w)
      // The frame that showed the last change can come before the engine has recorded the step it announced (the
      // ack of a receipt, then its timeline entry): with no later change to wake it, the card would stop short of
      // `delivered`. One more look shortly after, while the message has a receipt but is not delivered yet.
      if (w.info?.timeline.some((e) => e.event === 'receipt') && Date.now() - w.since <= WATCH_MS) {
        setTimeout(() => { if (!w.loading && !isFinished(w.info)) this.fetch(w) }, RECHECK_MS)
      }
    })
  }

  private changed(): void {
    this.version++
    this.onChange()
  }
}
