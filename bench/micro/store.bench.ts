/**
 * Store micro-benchmarks (engine/store.ts): one group commit of 1, 100 and 1000 message records
 * (the record shape the engine stores per submit), awaited one after another, in a temp dir; and
 * the same with 8 commits in flight (lmdb merges the batches of one event turn into a transaction);
 * the writes of a message's life with a receipt (submit, final state + receipt, ack), in the binary layouts;
 * and one retention purge slice (2,500 final messages, engine/index.ts PURGE_SLICE) from a backlog.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { Store, type DeliveryItem, type StoredMessage } from '../../engine/store'
import { measureAsync, record, type MicroResult } from './harness'

function records(store: Store, n: number): StoredMessage[] {
  const ids = store.allocateIds(n, 'decimal')
  const now = Date.now()
  const sm = Buffer.from('Benchmark message in GSM 7-bit: Hello world, this is a typical text', 'latin1')
  return ids.map((id) => ({
    id, systemId: 'bench', state: 1, err: 0, submitAt: now, doneAt: 0,
    src: [5, 0, 'BENCH'], dests: [{ addr: [1, 1, '4915112345678'], state: 1, err: 0, doneAt: 0 }],
    serviceType: '', esmClass: 0, protocolId: 0, priority: 0, dataCoding: 0, registeredDelivery: 1,
    sm, scheduleAt: 0, expireAt: now + 86_400_000,
  }))
}

export async function run(): Promise<MicroResult[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smsc-bench-store-'))
  const store = await Store.open(path.join(dir, 'store'))
  const out: MicroResult[] = []
  try {
    for (const n of [1, 100, 1000]) {
      const batch = records(store, n) // the same records again and again: puts overwrite, as cheap as inserts in LMDB
      out.push(await measureAsync('store', `commit ${n} message${n > 1 ? 's' : ''} (awaited)`, () => store.commit({ messages: batch }), { items: n, minMs: 1500 }))
    }
    // 8 concurrent commits of 100: what a busy engine does across binds in one turn.
    const rounds = 200
    const batches = Array.from({ length: 8 }, () => records(store, 100))
    const t0 = performance.now()
    for (let r = 0; r < rounds; r++) {
      await Promise.all(batches.map((b) => store.commit({ messages: b })))
    }
    out.push(record('store', 'commit 100 messages, 8 in flight', rounds * 8, performance.now() - t0, 100))
    // What the engine writes per message with a receipt: the submit (one commit), the final state with its
    // receipt queued (a second), the receipt's ack (a third); 1,000 messages per commit, CPU time per message.
    let acks: { systemId: string; key: number }[] = []
    const receiptBytes = Buffer.alloc(180, 0x41) // the size of a templated deliver_sm receipt
    const lifecycle = async (): Promise<void> => {
      const batch = records(store, 1000)
      await store.commit({ messages: batch, ack: acks })
      const done = batch.map((m) => ({ ...m, state: 2, doneAt: Date.now(), dests: [{ ...(m.dests as object[])[0], state: 2, doneAt: Date.now() }] }))
      const items: DeliveryItem[] = done.map((m) => ({
        systemId: 'bench', kind: 'receipt', createdAt: Date.now(), attempts: 0, messageId: m.id, submitAt: Date.now(), stat: 'DELIVRD', frame: receiptBytes,
      }))
      await store.commit({ messages: done, enqueue: items })
      acks = items.map((it) => ({ systemId: it.systemId, key: it.key as number }))
    }
    for (let i = 0; i < 20; i++) await lifecycle()
    const cpu0 = process.cpuUsage()
    const l0 = performance.now()
    let lifecycles = 0
    while (performance.now() - l0 < 3000) { await lifecycle(); lifecycles++ }
    const cpu = process.cpuUsage(cpu0)
    const r = record('store', 'message lifecycle: submit, final + receipt, ack (1,000 per commit)', lifecycles, performance.now() - l0, 1000)
    process.stdout.write(`    process CPU (all threads) per message: ${((cpu.user + cpu.system) / (lifecycles * 1000)).toFixed(2)} µs\n`)
    out.push(r)
    // A backlog of final messages past their retention, purged a slice at a time.
    for (let b = 0; b < 40; b++) {
      const batch = records(store, 1000)
      for (const m of batch) { m.state = 2; m.doneAt = 1_000 + b }
      await store.commit({ messages: batch })
    }
    const slices = 16
    const p0 = performance.now()
    let purged = 0
    for (let i = 0; i < slices; i++) purged += await store.purgeFinal(1_000_000, 2_500)
    if (purged !== slices * 2_500) throw new Error(`purged ${purged} of ${slices * 2_500}`)
    out.push(record('store', 'purge a retention slice of 2,500 final messages (awaited)', slices, performance.now() - p0, 2_500))
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return out
}
