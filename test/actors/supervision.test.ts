/**
 * Supervision: the named policies as units (restartWithBudget's budget and its refill, temporary,
 * resume), and the real engine in-process (createSmsc) with the npm `smpp` client: a fault injected
 * into one session actor closes that connection only while three other binds keep submitting and
 * get every receipt; a faulted delivery or carrier actor restarts and receipts keep flowing; a
 * permanent actor faulting past its budget escalates and stops the engine.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createSmsc, type Smsc } from '../../engine/index'
import type { Options } from '../../engine/config'
import { restartWithBudget, resume, temporary, type CrashCtx } from '../../actors/supervision'
import { isReceipt, openEsme, type Esme } from '../helpers/esme'

// ------------------------------------------------------------------ policies as units

const ctx = (): CrashCtx => ({
  stop: Symbol('stop'), reset: Symbol('reset'), resume: Symbol('resume'), escalate: Symbol('escalate'), stopChild: Symbol('stopChild'),
  path: { toString: () => 'system/actor' },
})
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('restartWithBudget: reset N times within the period, then escalate', async (t) => {
  const c = ctx()
  const escalated: unknown[] = []
  const logs: string[] = []
  const policy = restartWithBudget('x', 3, 60_000, (_l, msg) => { logs.push(msg) }, (err) => escalated.push(err))
  const err = new Error('boom')
  t.equal(policy(null, err, c), c.reset)
  t.equal(policy(null, err, c), c.reset)
  t.equal(policy(null, err, c), c.reset)
  t.same(escalated, [], 'within budget: no escalation')
  t.equal(policy(null, err, c), c.escalate, 'the 4th crash in the period escalates')
  t.same(escalated, [err], 'onEscalate gets the error')
  t.equal(policy(null, err, c), c.escalate, 'and stays escalating while the period lasts')
  t.same(logs.filter((m) => m.includes('restarting')).length, 3)
  t.ok(logs.some((m) => m.includes('escalating')))
})

t.test('restartWithBudget: the budget refills once the period has passed', async (t) => {
  const c = ctx()
  const policy = restartWithBudget('x', 2, 100, () => {})
  t.equal(policy(null, new Error('1'), c), c.reset)
  t.equal(policy(null, new Error('2'), c), c.reset)
  t.equal(policy(null, new Error('3'), c), c.escalate)
  await sleep(130)
  t.equal(policy(null, new Error('4'), c), c.reset, 'old restarts fell out of the period')
  t.equal(policy(null, new Error('5'), c), c.reset)
  t.equal(policy(null, new Error('6'), c), c.escalate)
})

t.test('restartWithBudget: restarts age out one by one (a sliding window, not a fixed one)', async (t) => {
  const c = ctx()
  const policy = restartWithBudget('x', 2, 150, () => {})
  t.equal(policy(null, 'a', c), c.reset)
  await sleep(100)
  t.equal(policy(null, 'b', c), c.reset)
  await sleep(70) // the first restart is now 170 ms old, the second 70 ms
  t.equal(policy(null, 'c', c), c.reset, 'one slot freed by the oldest restart')
  t.equal(policy(null, 'd', c), c.escalate, 'the other two are still within the period')
})

t.test('temporary stops, resume resumes', async (t) => {
  const c = ctx()
  t.equal(temporary('session-1', () => {})(null, new Error('x'), c), c.stop)
  t.equal(resume('telemetry', () => {})(null, new Error('x'), c), c.resume)
})

// ------------------------------------------------------------------ the engine in-process

interface LogEntry { level: string; msg: string; fields?: Record<string, unknown> }

async function startSmsc(t: { teardown(fn: () => unknown): void }): Promise<{ smsc: Smsc; logs: LogEntry[]; fatal: unknown[] }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-supervision-'))
  const logs: LogEntry[] = []
  const fatal: unknown[] = []
  const options: Options = {
    dataDir,
    smpp: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'a', password: 'p', maxBinds: 10 }],
    simulator: { deliveryDelayMs: [5, 20], outcomes: { DELIVRD: 1 } },
    // Short response timer and back-off: receipts caught in a dropped bind's window come back quickly.
    timers: { responseMs: 2_000 },
    receipts: { redeliveryMs: [100, 1_000] },
    log: { level: 'silent' },
  }
  const smsc = await createSmsc(options, { log: (level, msg, fields) => { logs.push({ level, msg, fields }) }, onFatal: (err) => fatal.push(err) })
  t.teardown(async () => {
    await smsc.stop()
    fs.rmSync(dataDir, { recursive: true, force: true })
  })
  return { smsc, logs, fatal }
}

const submission = (esme: number, i: number) => ({ short_message: `esme ${esme} message ${i}`, registered_delivery: 1 })

/** Message ids that have a delivery receipt among the given ESMEs' deliver_sm. */
function receiptIds(esmes: Esme[]): Set<string> {
  const ids = new Set<string>()
  for (const e of esmes) for (const p of e.delivered) if (isReceipt(p) && typeof p.receipted_message_id === 'string') ids.add(p.receipted_message_id)
  return ids
}

async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(20)
  }
}

t.test('a fault in one session actor closes that connection only; the other binds complete under load', async (t) => {
  const { smsc, fatal } = await startSmsc(t)
  const esmes: Esme[] = []
  for (let i = 0; i < 4; i++) esmes.push(await openEsme(t, { port: smsc.ports.smpp, systemId: 'a', password: 'p', kind: 'transceiver' }))
  t.equal(smsc.sessions().filter((s) => s.state === 'BOUND_TRX').length, 4)
  const victimIndex = 1
  const victim = esmes[victimIndex]
  const victimSession = smsc.sessions().find((s) => s.remote.endsWith(`:${victim.session.socket.localPort}`))
  if (!victimSession) throw new Error('cannot find the session of the victim ESME')

  const N = 150
  const acked: string[][] = esmes.map(() => [])
  let faulted = false
  const runs = esmes.map((e, i) => e.submitMany(Array.from({ length: N }, (_, k) => submission(i, k)), 5, (resp) => {
    if (resp.command_status === 0 && resp.message_id) acked[i].push(resp.message_id)
    if (i === victimIndex && acked[i].length === 20 && !faulted) {
      faulted = true
      t.ok(smsc.faultSession(victimSession.id), 'fault injected into the victim session actor')
    }
  }))
  const settled = await Promise.allSettled(runs)

  t.ok(faulted, 'the fault happened while the load ran')
  t.equal(settled[victimIndex].status, 'rejected', 'the victim connection dropped mid-run')
  await victim.waitClosed()
  t.ok(victimSession.isClosed())
  t.notOk(smsc.sessions().includes(victimSession), 'the victim session is gone from the engine')
  t.ok(acked[victimIndex].length < N, `the victim got ${acked[victimIndex].length} of ${N} answers`)

  const survivors = esmes.filter((_, i) => i !== victimIndex)
  for (let i = 0; i < esmes.length; i++) {
    if (i === victimIndex) continue
    const r = settled[i]
    t.equal(r.status, 'fulfilled', `ESME ${i} completed its run`)
    if (r.status === 'fulfilled') t.ok(r.value.every((p) => p.command_status === 0), `ESME ${i}: all ${N} submits accepted`)
    t.equal(acked[i].length, N)
    t.notOk(esmes[i].closed, `ESME ${i} still connected`)
  }
  t.equal(smsc.sessions().filter((s) => s.state === 'BOUND_TRX').length, 3)

  // Receipts go to any bound receiver of the account (round robin), so a receipt for a survivor's
  // message may have gone to the victim before it dropped. Every acknowledged message, the
  // victim's included, gets its receipt on some bind; the ones the victim did not take before it
  // dropped all reach the survivors; and nothing is left queued in the store.
  const survivorIds = acked.filter((_, i) => i !== victimIndex).flat()
  const allIds = acked.flat()
  await until('a receipt for every acknowledged submit', () => { const got = receiptIds(esmes); return allIds.every((id) => got.has(id)) })
  t.pass(`${allIds.length} receipts for ${allIds.length} acknowledged submits`)
  const toVictim = receiptIds([victim])
  const toSurvivors = receiptIds(survivors)
  t.same(survivorIds.filter((id) => !toVictim.has(id) && !toSurvivors.has(id)), [], 'survivor submits: every receipt delivered')
  t.same(acked[victimIndex].filter((id) => !toVictim.has(id) && !toSurvivors.has(id)), [], 'victim submits: every receipt delivered')
  t.ok(survivors.every((e) => e.delivered.some(isReceipt)), 'each surviving bind received receipts')
  await until('the receipt queue to drain', () => smsc.store.pendingCount('a') === 0)

  // The engine is healthy: no actor escalated, and a new bind works.
  t.same(fatal, [])
  t.match(smsc.health(), { status: 'ok', bound: 3 })
  const late = await openEsme(t, { port: smsc.ports.smpp, systemId: 'a', password: 'p', kind: 'transceiver' })
  const resp = await late.submit(submission(9, 0))
  t.equal(resp.command_status, 0)
  await until('a receipt for the late submit', () => receiptIds([...survivors, late]).has(resp.message_id as string))
  for (const e of [...survivors, late]) await e.close()
})

t.test('a faulted delivery actor restarts within its budget and receipts still flow', async (t) => {
  const { smsc, logs, fatal } = await startSmsc(t)
  const esme = await openEsme(t, { port: smsc.ports.smpp, systemId: 'a', password: 'p', kind: 'transceiver' })
  const before = await esme.submit(submission(0, 0))
  await until('a receipt before the fault', () => receiptIds([esme]).has(before.message_id as string))

  smsc.faultActor('delivery')
  await until('the restart', () => logs.some((l) => l.msg === 'actor crashed, restarting' && l.fields?.actor === 'delivery'))
  const after = await Promise.all([1, 2, 3].map((i) => esme.submit(submission(0, i))))
  t.ok(after.every((p) => p.command_status === 0))
  await until('receipts after the restart', () => { const got = receiptIds([esme]); return after.every((p) => got.has(p.message_id as string)) })
  t.pass('receipts for messages submitted after the fault arrived')
  t.same(fatal, [], 'no escalation')
  t.equal(smsc.health().status, 'ok')
  await esme.close()
})

t.test('a faulted carrier actor restarts from the store and accepted messages still get receipts', async (t) => {
  const { smsc, logs, fatal } = await startSmsc(t)
  const esme = await openEsme(t, { port: smsc.ports.smpp, systemId: 'a', password: 'p', kind: 'transceiver' })
  const acked = await esme.submitMany(Array.from({ length: 20 }, (_, i) => submission(0, i)), 10)
  smsc.faultActor('carrier')
  const more = await esme.submitMany(Array.from({ length: 5 }, (_, i) => submission(0, 100 + i)), 5)
  await until('the carrier restart', () => logs.some((l) => l.msg === 'actor crashed, restarting' && l.fields?.actor === 'connector-simulator'))
  const ids = [...acked, ...more].map((p) => p.message_id as string)
  await until('a receipt for every accepted message', () => { const got = receiptIds([esme]); return ids.every((id) => got.has(id)) })
  t.pass(`${ids.length} receipts across the carrier restart`)
  t.same(fatal, [])
  await esme.close()
})

t.test('a permanent actor faulting past its budget escalates and stops the engine', async (t) => {
  const { smsc, logs, fatal } = await startSmsc(t)
  // delivery: restartWithBudget(5, 10 s); the 6th crash within 10 s escalates.
  for (let i = 0; i < 6; i++) smsc.faultActor('delivery')
  await until('the escalation', () => fatal.length > 0)
  t.equal(fatal.length, 1)
  t.equal(logs.filter((l) => l.msg === 'actor crashed, restarting' && l.fields?.actor === 'delivery').length, 5)
  t.ok(logs.some((l) => l.msg === 'actor restart budget spent, escalating' && l.fields?.actor === 'delivery'))
  await until('the engine to stop', () => smsc.health().status !== 'ok')
  t.pass('the engine stops rather than run without a delivery actor')
})
