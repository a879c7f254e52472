/**
 * The accounts the logged-in principal may see (GET /api/v1/accounts), shared by the accounts tree
 * and the send form. Plain mutable data and a version counter, as TelemetryState: the UI memoises on
 * `version` and re-renders when onUpdate fires. Loads are coalesced (one request in flight; a load
 * asked for meanwhile runs once more when it returns), and every change the console makes is
 * followed by a load, so balances on both sides of a credit move are the engine's.
 */
import { api, ApiError } from './api'
import type { AccountView } from './types'

export class AccountsStore {
  list: AccountView[] = []
  byId = new Map<string, AccountView>()
  version = 0
  loaded = false
  loading = false
  error: string | null = null
  /** time of the last answer (ms) */
  at = 0

  private listeners = new Set<() => void>()
  private inflight: Promise<void> | null = null
  private again = false
  /** bumped by reset: an answer for an earlier login is dropped */
  private generation = 0

  onUpdate(fn: () => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /** Fetch the list; resolves when the latest state asked for is on screen. */
  load(): Promise<void> {
    if (this.inflight) {
      this.again = true
      return this.inflight
    }
    this.loading = true
    this.notify()
    const gen = this.generation
    const run = async (): Promise<void> => {
      do {
        this.again = false
        try {
          const { accounts } = await api.accounts()
          if (gen !== this.generation) return
          this.set(accounts)
          this.error = null
        } catch (e) {
          if (gen !== this.generation) return
          this.error = e instanceof ApiError ? e.message : String(e)
        }
      } while (this.again)
    }
    this.inflight = run().finally(() => {
      this.inflight = null
      this.loading = false
      this.at = Date.now()
      this.notify()
    })
    return this.inflight
  }

  /** Forget everything (logout). */
  reset(): void {
    this.generation++
    this.again = false
    this.set([])
    this.loaded = false
    this.error = null
    this.notify()
  }

  private set(accounts: AccountView[]): void {
    this.list = accounts
    this.byId = new Map(accounts.map((a) => [a.systemId, a]))
    this.loaded = true
    this.version++
  }

  private notify(): void {
    for (const fn of this.listeners) fn()
  }
}
