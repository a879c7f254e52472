// Child process for the kill -9 durability test in test/store.test.ts (not a test file itself).
// argv: <dir> <n>. Commits n messages (plus n/10 receipts) in one batch, prints "committed", then keeps
// committing batches of BATCH messages, printing "allocated <lastId>" before each commit, until it is killed
// (the parent SIGKILLs it mid-stream) or MAX_MS passes (a safety stop if the parent died).
import { Store } from '../../engine/store'

const BATCH = 100
const MAX_MS = 20_000

async function main(): Promise<void> {
  const [dir, nArg] = process.argv.slice(2)
  if (dir === undefined) return // loaded without arguments: nothing to do
  const n = Number(nArg)
  const store = await Store.open(dir)
  const ids = store.allocateIds(n, 'decimal')
  const messages = ids.map((id, i) => ({ id, systemId: 'esme-a', state: 1, batch: 0, body: Buffer.from(`m${i}`) }))
  const enqueue = []
  for (let i = 0; i < n / 10; i++) {
    enqueue.push({ systemId: 'esme-a', kind: 'receipt' as const, createdAt: Date.now(), attempts: 0, messageId: ids[i] })
  }
  process.stdout.write(`allocated ${ids[ids.length - 1]}\n`)
  await store.commit({ messages, enqueue })
  process.stdout.write('committed\n')
  const started = Date.now()
  for (let b = 1; Date.now() - started < MAX_MS; b++) {
    const more = store.allocateIds(BATCH, 'decimal')
    process.stdout.write(`allocated ${more[more.length - 1]}\n`)
    await store.commit({ messages: more.map((id) => ({ id, systemId: 'esme-a', state: 1, batch: b })) })
  }
  await store.close()
}

main().catch((err: unknown) => {
  process.stderr.write(`store-writer: ${String(err)}\n`)
  process.exit(1)
})
