/**
 * A start after a run that did not stop cleanly says so: the previous engine is SIGKILLed (its data-dir lock stays
 * behind, engine/lock.ts), and the next start logs one warn line naming its pid and what it recovered from the store,
 * says it in the banner, and /metrics has smsc_unclean_start 1. A start after SIGTERM says none of it; nor does a
 * CLI command run on the data dir between the crash and the start hide it.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { projectRoot, startEngine, type Engine } from '../helpers/engine'
import { Status, gsm, openEsme } from '../helpers/esme'

const ACCOUNT = { systemId: 'esme1', password: 'secret1' }
/** Receipts come long after the kill: the messages are still in flight when the engine dies. */
const SLOW = { deliveryDelayMs: [60_000, 60_000] as [number, number], outcomes: { DELIVRD: 1 } }

/** The log lines the engine wrote (JSON, one a line: stdout is a pipe here), from `from` on. */
function logLines(engine: Engine, from = 0): { level: string; msg: string; [k: string]: unknown }[] {
  return engine.output().slice(from).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; msg: string })
}
const unclean = (lines: ReturnType<typeof logLines>) => lines.filter((l) => /did not stop cleanly/.test(l.msg))

async function metric(engine: Engine): Promise<string | undefined> {
  const r = await engine.http('GET', '/metrics')
  return /^smsc_unclean_start (\d+)$/m.exec(r.body)?.[1]
}

async function submitSome(t: tap.Test, engine: Engine, n: number): Promise<void> {
  const tx = await openEsme(t, { port: engine.smppPort, kind: 'transmitter', ...ACCOUNT })
  for (let i = 0; i < n; i++) {
    const r = await tx.submit({ source_addr: '12345', destination_addr: '4915112345678', short_message: gsm(`m${i}`), registered_delivery: 1 })
    if (r.command_status !== Status.ESME_ROK) throw new Error(`submit refused: 0x${r.command_status.toString(16)}`)
  }
  await tx.close()
}

t.test('a start after SIGKILL warns once, names the dead pid and what was recovered, in the log, the banner and /metrics; a start after SIGTERM does not', async (t) => {
  t.setTimeout(120_000)
  const engine = await startEngine(t, { accounts: [ACCOUNT], simulator: SLOW })
  t.same(unclean(logLines(engine)), [], 'a first start is not unclean')
  t.equal(await metric(engine), '0', 'smsc_unclean_start 0 on a first start')
  await submitSome(t, engine, 3)
  const pid = Number(readFileSync(path.join(engine.dataDir, 'smsc.lock'), 'utf8'))
  t.ok(pid > 0, 'the engine holds the lock')
  await engine.kill()

  let mark = engine.output().length
  await engine.restart()
  const warned = unclean(logLines(engine, mark))
  t.equal(warned.length, 2, 'one warn line and one banner line')
  const warn = warned.find((l) => l.level === 'warn')
  t.match(warn, { level: 'warn', msg: new RegExp(`^the previous run \\(pid ${pid}\\) did not stop cleanly .*recovered from the store 3 messages in flight and 0 receipts and MO waiting`), previousPid: pid, inFlight: 3, pendingDeliveries: 0 },
    'the warn line names the pid and the messages recovered')
  t.match(warned.find((l) => l.level === 'info')?.msg, new RegExp(`^Last stop  NOT CLEAN: the previous run \\(pid ${pid}\\) did not stop cleanly.*recovered 3 messages in flight, 0 receipts and MO waiting`), 'the banner says so')
  t.equal(await metric(engine), '1', 'smsc_unclean_start 1')

  mark = engine.output().length
  t.equal(await engine.stop(), 0, 'SIGTERM stops it')
  await engine.restart()
  t.same(unclean(logLines(engine, mark)), [], 'a start after SIGTERM says nothing of an unclean stop')
  t.equal(await metric(engine), '0', 'smsc_unclean_start 0 after a clean stop')
})

t.test('a CLI command on the data dir after a SIGKILL (it takes the stale lock over, then lets it go) leaves the next start reported as unclean', async (t) => {
  t.setTimeout(120_000)
  const engine = await startEngine(t, { accounts: [ACCOUNT], simulator: SLOW })
  const pid = Number(readFileSync(path.join(engine.dataDir, 'smsc.lock'), 'utf8'))
  await engine.kill()
  const cli = spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'smsc.js'), 'account', 'list', '--data-dir', engine.dataDir], { encoding: 'utf8', timeout: 60_000 })
  t.equal(cli.status, 0, `the CLI works on the store itself: ${cli.stderr}`)
  t.match(cli.stdout, /esme1/, 'and lists the accounts')

  const mark = engine.output().length
  await engine.restart()
  t.match(unclean(logLines(engine, mark)).find((l) => l.level === 'warn'), { previousPid: pid }, 'the start still warns, naming the engine that was killed')
  t.equal(await metric(engine), '1', 'smsc_unclean_start 1')
  // Said once: the start after that (a clean stop between) is clean.
  await engine.restart()
  t.equal(await metric(engine), '0', 'the next start after a clean stop is clean')
})
