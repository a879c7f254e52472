/**
 * The webhook sender: POSTs batches of events (receipts, MO) as one JSON array per request to an
 * account's webhook URL. It owns the HTTP side only: a request timeout, a cap on requests in
 * flight (the rest wait in a FIFO) and the answer (ok on 2xx, the HTTP status, 0 on a network
 * error or a timeout). Retries and back-off are the delivery actor's, from its durable queue: a
 * failed call here is reported once and forgotten.
 */
import type { LogFn } from './log'

export interface WebhookSenderOptions {
  /** Per request, from the start of the request to the end of the answer's body (ms). */
  timeoutMs: number
  /** Requests in flight at once, over all URLs; further calls wait in order. */
  concurrency: number
  log: LogFn
}

interface Job {
  url: string
  body: string
  cb: (ok: boolean, status: number) => void
}

export class WebhookSender {
  private readonly queue: Job[] = []
  private head = 0
  private readonly inFlight = new Set<Promise<void>>()
  private stopping = false

  constructor(private readonly opts: WebhookSenderOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new TypeError('WebhookSender concurrency must be a positive integer')
    if (!(opts.timeoutMs > 0)) throw new TypeError('WebhookSender timeoutMs must be a positive number of ms')
  }

  /** Requests waiting for a free slot. */
  get queued(): number {
    return this.queue.length - this.head
  }

  /** Requests on the wire now. */
  get active(): number {
    return this.inFlight.size
  }

  /**
   * POSTs `events` as one JSON array to `url` (one request per call); `cb(ok, httpStatus)`: ok on
   * 2xx, status 0 on a network error or timeout. Beyond `concurrency` requests in flight the call
   * waits its turn. After stop() the callback answers (false, 0) at once.
   */
  send(url: string, events: unknown[], cb: (ok: boolean, status: number) => void): void {
    if (this.stopping) { cb(false, 0); return }
    this.queue.push({ url, body: JSON.stringify(events), cb })
    this.pump()
  }

  /** Refuses new calls, answers the waiting ones (false, 0) and waits for the requests in flight. */
  async stop(): Promise<void> {
    this.stopping = true
    const waiting = this.queue.splice(this.head)
    this.queue.length = 0
    this.head = 0
    for (const j of waiting) this.answer(j, false, 0)
    await Promise.all([...this.inFlight])
  }

  private pump(): void {
    while (this.inFlight.size < this.opts.concurrency && this.head < this.queue.length) {
      const job = this.queue[this.head++]
      // Compact the FIFO now and then instead of shifting on every call.
      if (this.head > 1024 && this.head * 2 > this.queue.length) { this.queue.splice(0, this.head); this.head = 0 }
      const p = this.post(job)
      this.inFlight.add(p)
      void p.finally(() => {
        this.inFlight.delete(p)
        if (!this.stopping) this.pump()
      })
    }
  }

  private async post(job: Job): Promise<void> {
    let status = 0
    try {
      const res = await fetch(job.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'smsc-engine webhook' },
        body: job.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      })
      status = res.status
      // The answer's body is read (bounded by the same timeout) so the connection can be reused.
      await res.arrayBuffer()
    } catch (e) {
      if (status === 0) this.opts.log('debug', 'webhook request failed', { url: redact(job.url), error: String((e as Error)?.message ?? e) })
    }
    this.answer(job, status >= 200 && status < 300, status)
  }

  private answer(job: Job, ok: boolean, status: number): void {
    try {
      job.cb(ok, status)
    } catch (e) {
      this.opts.log('error', 'webhook callback failed', { error: String((e as Error)?.stack ?? e) })
    }
  }
}

/** A URL for the logs: user info and query string (which may carry secrets) left out. */
export function redact(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}`
  } catch {
    return '(invalid url)'
  }
}
