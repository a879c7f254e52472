/**
 * One coarse ticker for every session timer (session_init, enquire_link, inactivity, response):
 * a single interval calls `onTick(now)` on each registered session, which compares a few
 * deadlines. Thousands of sessions cost one timer, not thousands (undici util/timers.js idea).
 * Tests drive `tick(now)` by hand with a fake clock instead of starting the interval.
 */

export interface Tickable {
  onTick(now: number): void
}

export class Ticker {
  private readonly members = new Set<Tickable>()
  private handle: NodeJS.Timeout | null = null

  constructor(
    private readonly now: () => number = Date.now,
    readonly resolutionMs = 100,
    /** A member whose onTick throws is handed here (the engine closes that session); the others still tick. */
    private readonly onError: (member: Tickable, err: unknown) => void = () => {},
  ) {}

  add(t: Tickable): void { this.members.add(t) }
  delete(t: Tickable): void { this.members.delete(t) }
  get size(): number { return this.members.size }

  start(): void {
    if (this.handle) return
    this.handle = setInterval(() => this.tick(this.now()), this.resolutionMs)
    this.handle.unref()
  }

  stop(): void {
    if (this.handle) clearInterval(this.handle)
    this.handle = null
  }

  tick(now: number): void {
    for (const m of this.members) {
      try {
        m.onTick(now)
      } catch (err) {
        this.onError(m, err)
      }
    }
  }
}
