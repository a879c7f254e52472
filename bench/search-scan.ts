/**
 * What a message search costs (docs/API.md "Message search"): `node dist/bench/search-scan.js [N] [dir]` writes N
 * messages (default 1,000,000: 50 accounts, one destination each, routed through a connector, with upstream id and
 * price, as a busy store holds them) into a store in `dir` (a temp dir unless given; reused when it has them
 * already), then runs a few searches three times each and prints the stored messages read per second and the
 * longest wait of a 1 ms timer meanwhile, and the time of one slice of SEARCH_SLICE messages. Not part of `smsc
 * bench`: it measures a read of the store, not the SMPP path.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Store } from '../engine/store'
import type { MessageRecord } from '../engine/message'
import { SEARCH_SLICE, parseSearchQuery, searchMessages } from '../engine/message-search'

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 1_000_000)
  const dir = process.argv[3] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-search-scan-'))
  const store = await Store.open(dir)
  try {
    if (store.nextIdCounter() < n) {
      const t0 = performance.now()
      const start = Date.now() - n * 50 // 20 messages a second, up to now
      for (let done = 0; done < n; done += 10_000) {
        const ids = store.allocateIds(Math.min(10_000, n - done), 'decimal')
        const records: MessageRecord[] = ids.map((id, k) => {
          const i = done + k
          const at = start + i * 50
          return {
            id, systemId: `acct${i % 50}`, state: 2, err: 0, submitAt: at, doneAt: at + 900, src: [5, 0, `Shop${i % 7}`],
            dests: [{ addr: [1, 1, `49151${String(10_000_000 + ((i * 7919) % 9_000_000))}`], state: 2, err: 0, doneAt: at + 900, via: ['up1'], conn: 'up1', up: `u${i}`, price: 0.05 }],
            serviceType: '', esmClass: 0, protocolId: 0, priority: 0, dataCoding: 0, registeredDelivery: 1,
            sm: Buffer.from(`Your verification code is ${i}. Do not share it with anyone.`), scheduleAt: 0, expireAt: at + 86_400_000, price: 0.05,
          }
        })
        await store.commit({ messages: records })
      }
      console.log(`wrote ${n} messages in ${Math.round(performance.now() - t0)} ms (${dir})`)
    }
    const now = Date.now()
    const searches: [string, Record<string, string>][] = [
      ['by number, no match', { to: '+4915199999999', since: '0' }],
      ['by account and state, no match', { systemId: 'acct3', state: 'UNDELIV', since: '0' }],
      ['by state alone, no match', { state: 'UNDELIV', since: '0' }],
      ['by number prefix, 500 found', { to: '4915110*', since: '0', limit: '500' }],
    ]
    for (const [label, params] of searches) {
      for (let rep = 0; rep < 3; rep++) {
        const q = parseSearchQuery((k) => params[k], now)
        if (typeof q === 'string') throw new Error(q)
        let worst = 0
        let last = performance.now()
        const timer = setInterval(() => { const t = performance.now(); worst = Math.max(worst, t - last); last = t }, 1)
        const r = await searchMessages(store, q, { sees: () => true })
        clearInterval(timer)
        const perSecond = Math.round((r.scanned ?? 0) / Math.max(1, r.ms) * 1000)
        console.log(`${label}: ${r.scanned} read, ${r.messages.length} found in ${r.ms} ms = ${perSecond.toLocaleString('en-US')}/s; longest event-loop wait ${worst.toFixed(1)} ms`)
      }
    }
    let below = store.nextIdCounter()
    let total = 0
    let worst = 0
    let slices = 0
    while (below > 0 && slices < 200) {
      const t = performance.now()
      below = store.scanMessagesDown(below, SEARCH_SLICE, () => true)
      const d = performance.now() - t
      total += d
      worst = Math.max(worst, d)
      slices++
    }
    console.log(`one slice of ${SEARCH_SLICE}: ${(total / slices).toFixed(2)} ms on average, ${worst.toFixed(2)} ms the longest (${slices} slices)`)
  } finally {
    await store.close()
  }
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
