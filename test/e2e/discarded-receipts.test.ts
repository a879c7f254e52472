/**
 * Receipts and MO an account never acknowledges within receipts.maxAgeMs (a customer bound as transmitter only) are
 * discarded, and that is visible where a NOC looks: one warn line naming the account (not one per tick), the counter
 * smsc_deliveries_discarded_total{account,kind}, smsc_pending_oldest_age_seconds before it happens, the account's
 * traffic report (toEsme.receiptsDiscarded, moDiscarded; `smsc account stats`), and the message's lookup (receiptDiscarded, a `discarded`
 * step: GET /api/v1/messages/{id} and `smsc message show`), which a restart keeps. A receipt that was delivered leaves
 * its message as it was. A real engine process, real SMPP binds (npm `smpp`).
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { projectRoot, startEngine, type Engine } from '../helpers/engine'
import { Status, gsm, isReceipt, openEsme } from '../helpers/esme'

const SRC = '12345'
const DEST = '4915112345678'
const MAX_AGE_MS = 3000
const ACCOUNTS = [{ systemId: 'txonly', password: 'pw1' }, { systemId: 'bound', password: 'pw2' }]
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The value of one series of a /metrics scrape (undefined: absent). */
async function series(engine: Engine, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const want = `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}`
  const line = (await engine.http('GET', '/metrics')).body.split('\n').find((l) => l.startsWith(want) && /[,}]/.test(l[want.length]))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await get()
    if (ok(v) || Date.now() > deadline) return v
    await sleep(200)
  }
}

t.test('receipts and MO never acknowledged within receipts.maxAgeMs: counted, logged once per account, in the report and on the message', async (t) => {
  const engine = await startEngine(t, { accounts: ACCOUNTS, extra: { receipts: { maxAgeMs: MAX_AGE_MS }, log: { level: 'info' } } })
  const token = await engine.operatorToken()
  const tx = await openEsme(t, { port: engine.smppPort, kind: 'transmitter', systemId: 'txonly', password: 'pw1' })
  const trx = await openEsme(t, { port: engine.smppPort, kind: 'transceiver', systemId: 'bound', password: 'pw2' })

  // 30 messages in three bursts, so their receipts come to their age over several of the delivery actor's ticks
  const ids: string[] = []
  for (let burst = 0; burst < 3; burst++) {
    const resps = await tx.submitMany(Array.from({ length: 10 }, (_, i) => ({ source_addr: SRC, destination_addr: DEST, short_message: gsm(`lost ${burst}.${i}`), registered_delivery: 1 })), 5)
    t.ok(resps.every((r) => r.command_status === Status.ESME_ROK), `burst ${burst} accepted`)
    ids.push(...resps.map((r) => r.message_id ?? ''))
    await sleep(400)
  }
  const mo = await engine.http('POST', '/api/v1/simulator/mo', { from: '4917700000001', to: '12345', text: 'hello', systemId: 'txonly' }, token)
  t.equal(mo.status, 202, mo.body)
  const moId = (mo.json as { id: string }).id
  const delivered = (await trx.submit({ source_addr: SRC, destination_addr: DEST, short_message: gsm('acknowledged'), registered_delivery: 1 })).message_id ?? ''
  await trx.waitFor((p) => isReceipt(p) && p.receipted_message_id === delivered, 10_000)

  const pending = await until('31 waiting', () => series(engine, 'smsc_pending_deliveries', { account: 'txonly' }), (v) => v === 31)
  t.equal(pending, 31, 'the 30 receipts and the MO wait for a receiver')
  const age = await series(engine, 'smsc_pending_oldest_age_seconds', { account: 'txonly' }) ?? -1
  t.ok(age > 0.5 && age < MAX_AGE_MS / 1000, `smsc_pending_oldest_age_seconds shows how old the oldest is (${age} s) before it is discarded`)
  t.equal(await series(engine, 'smsc_pending_oldest_age_seconds', { account: 'bound' }), 0, 'an account with none waiting: 0')
  t.equal(await series(engine, 'smsc_deliveries_discarded_total', { account: 'txonly', kind: 'receipt' }), 0, 'the counter is there from 0')

  const receipts = await until('all discarded', () => series(engine, 'smsc_deliveries_discarded_total', { account: 'txonly', kind: 'receipt' }), (v) => v === 30)
  t.equal(receipts, 30, 'smsc_deliveries_discarded_total{kind="receipt"} counts every receipt discarded')
  t.equal(await until('the MO', () => series(engine, 'smsc_deliveries_discarded_total', { account: 'txonly', kind: 'mo' }), (v) => v === 1), 1, 'and the MO, under kind="mo"')
  t.equal(await series(engine, 'smsc_deliveries_discarded_total', { account: 'bound', kind: 'receipt' }), 0, 'none of the account that acknowledged its receipt')
  t.equal(await series(engine, 'smsc_pending_deliveries', { account: 'txonly' }), 0, 'none waits any more')
  t.equal(await series(engine, 'smsc_pending_oldest_age_seconds', { account: 'txonly' }), 0)

  const lines = engine.output().split('\n').filter((l) => l.includes('discard'))
  t.equal(lines.length, 1, `one line for all of them, not one per tick:\n${lines.join('\n')}`)
  t.match(lines[0], /"level":"warn","msg":"discarding receipts\/MO the account never acknowledged within receipts\.maxAgeMs \(no receiver or transceiver bound, or none answered\): they are not sent again","systemId":"txonly"/, 'a warning naming the account')

  const day = new Date().toISOString().slice(0, 10)
  const report = await until('the report', async () => ((await engine.http('GET', `/api/v1/accounts/txonly/stats?from=${day}&to=${day}`, undefined, token)).json as { days: { toEsme: Record<string, number> }[] }).days[0],
    (d) => d?.toEsme.receiptsDiscarded === 30 && d.toEsme.moDiscarded === 1)
  t.match(report.toEsme, { receiptsOk: 0, receiptsDiscarded: 30, moOk: 0, moDiscarded: 1 }, 'the traffic report counts them under toEsme')
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'smsc.js'), ...args, '--config', engine.configPath], { encoding: 'utf8', timeout: 60_000 })
  const stats = cli('account', 'stats', 'txonly', '--from', day, '--to', day)
  t.equal(stats.status, 0, stats.stderr)
  const [head, row] = stats.stdout.split('\n').filter((l) => l.startsWith('day') || l.startsWith(day))
  t.match(head, /to ESME ok +failed discarded/, 'smsc account stats has a discarded column')
  t.same(row.trim().split(/ +/).slice(8, 11), ['0', '0', '31'], 'to ESME ok 0, failed 0, discarded 31 (receipts and MO)')

  const lookup = async (id: string) => (await engine.http('GET', `/api/v1/messages/${id}`, undefined, token)).json as { state: number; receiptDiscarded?: number; timeline: { event: string; t: number }[]; mo?: { delivery: string } }
  const lost = await lookup(ids[0])
  t.equal(lost.state, 2, 'the message stays DELIVERED: the carrier delivered it')
  t.type(lost.receiptDiscarded, 'number', 'and says when its receipt was discarded')
  t.same(lost.timeline.map((e) => e.event).slice(-1), ['discarded'], 'its timeline ends with the discard')
  t.ok(ids.every(Boolean), 'every submit had an id')
  t.equal((await lookup(moId)).mo?.delivery, 'expired', 'the MO says expired, as before')
  const fine = await lookup(delivered)
  t.equal(fine.receiptDiscarded, undefined, 'a receipt acknowledged leaves its message as it was')
  t.notOk(fine.timeline.some((e) => e.event === 'discarded'))

  const show = cli('message', 'show', ids[29])
  t.equal(show.status, 0, show.stderr)
  t.match(show.stdout, /receipt +asked for: the final outcome \(registered_delivery 1\)\n +discarded \d{4}-\d\d-\d\dT[\d:.]+Z: the account never acknowledged it within receipts\.maxAgeMs/, 'smsc message show says the receipt never reached the customer')

  await engine.restart()
  const after = await lookup(ids[15])
  t.type(after.receiptDiscarded, 'number', 'the mark is on the stored record: a restart keeps it')
  t.same(after.timeline.map((e) => e.event).slice(-1), ['discarded'])
})
