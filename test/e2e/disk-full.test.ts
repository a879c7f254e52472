/**
 * The data dir's filesystem fills up. Below store.minFreeMiB free, new submits get ESME_RMSGQFUL (the ESME sends them
 * again later) and /healthz says why, while the messages already taken finish (their receipts come); once space is
 * back, submits are taken again, and nothing acknowledged is lost. A start on a full filesystem is refused in one
 * line naming the data dir (lmdb's error was a page position and a stack). On a real tmpfs of 64 MiB mounted here:
 * it needs root, as CI has; skipped where mount is refused. /metrics' smsc_store_free_bytes is the guard's once-a-second
 * reading (statfs faked in this process).
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createSmsc, type Options, type Smsc } from '../../engine/index'
import { isSmscError } from '../../engine/errors'
import { CommandStatus as S } from '../../engine/protocol/constants'
import { httpCall } from '../helpers/engine'
import { gsm, openEsme, receiptFor } from '../helpers/esme'
import { sleep, until } from '../helpers/lifecycle'

const MIN_FREE_MIB = 24

/** A 64 MiB tmpfs, unmounted at teardown; null when this process may not mount. */
function smallDisk(t: { teardown(fn: () => unknown): void }): string | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-smalldisk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', dir], { stdio: 'pipe' })
  } catch {
    fs.rmdirSync(dir)
    return null
  }
  t.teardown(() => { execFileSync('umount', ['-l', dir]); fs.rmdirSync(dir) })
  return dir
}
const noMount = ((): string | false => {
  const probe = smallDisk({ teardown: (fn) => { fn() } })
  return probe === null ? 'mount refused (not root): the disk guard needs a filesystem it can fill' : false
})()

const freeMiB = (dir: string): number => { const st = fs.statfsSync(dir); return (st.bavail * st.bsize) / 1_048_576 }

/** Writes a file that leaves about `leaveMiB` free on dir's filesystem (all of it when 0: until ENOSPC). */
function fill(dir: string, leaveMiB: number): string {
  const file = path.join(dir, `filler-${Date.now()}`)
  const fd = fs.openSync(file, 'w')
  const chunk = Buffer.alloc(1024 * 1024, 1)
  try {
    while (freeMiB(dir) > leaveMiB + 1) fs.writeSync(fd, chunk)
    if (leaveMiB === 0) for (const size of [65536, 4096, 512, 1]) { try { for (;;) fs.writeSync(fd, chunk, 0, size) } catch { /* full at this size */ } }
  } finally {
    fs.closeSync(fd)
  }
  return file
}

const config = (dataDir: string): Options => ({
  dataDir, smpp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 },
  accounts: [{ systemId: 'esme1', password: 'secret1' }],
  simulator: { deliveryDelayMs: [300, 400], outcomes: { DELIVRD: 1 } },
  store: { minFreeMiB: MIN_FREE_MIB },
  log: { level: 'silent' },
} as Options)

t.test('below store.minFreeMiB submits get ESME_RMSGQFUL and /healthz says why; taken again once space is back; nothing taken is lost', { skip: noMount }, async (t) => {
  const disk = smallDisk(t) as string
  const smsc = await createSmsc(config(path.join(disk, 'data')))
  t.teardown(() => smsc.stop())
  const esme = await openEsme(t, { port: smsc.ports.smpp, kind: 'transceiver' })
  let n = 0
  const submit = () => esme.submit({ source_addr: 'Shop', destination_addr: `447700900${String(++n).padStart(3, '0')}`, short_message: gsm(`m${n}`), registered_delivery: 1 })
  const taken: string[] = []
  const first = await submit()
  t.equal(first.command_status, S.ESME_ROK, 'taken with room on the disk')
  taken.push(first.message_id as string)

  const filler = fill(disk, MIN_FREE_MIB - 10)
  // Within the guard's second, submits are refused; those taken meanwhile are the engine's to finish.
  let refused = 0
  await until(async () => {
    const r = await submit()
    if (r.command_status === S.ESME_ROK) taken.push(r.message_id as string)
    else refused = r.command_status
    return refused !== 0
  }, 'a submit refused', 5000)
  t.equal(refused, S.ESME_RMSGQFUL, 'ESME_RMSGQFUL (0x14): the ESME sends it again later')
  const health = smsc.health() as { status: string; problems?: string[]; diskFreeMiB?: number }
  t.equal(health.status, 'degraded')
  t.match(health.problems, [/^disk almost full: \d+ MiB free for the data dir, below store.minFreeMiB \(24\)/], '/healthz names the disk and the setting')
  t.ok((health.diskFreeMiB as number) < MIN_FREE_MIB, `diskFreeMiB ${health.diskFreeMiB}`)
  const api = await smsc.submitMessages('esme1', [{ from: 'Shop', to: '447700900999', text: 'by API' }])
  t.match(api[0], { ok: false, status: S.ESME_RMSGQFUL, error: /disk almost full/ }, 'the send API says so too')

  for (const id of taken) await esme.waitFor(receiptFor(id), 5000)
  t.pass(`all ${taken.length} messages taken got their receipts while the disk was low`)

  fs.unlinkSync(filler)
  await until(async () => (await submit()).command_status === S.ESME_ROK, 'a submit taken again', 5000)
  t.equal((smsc.health() as { status: string }).status, 'ok', 'healthy again')
  for (const id of taken) t.ok(smsc.lookup(id), `${id} is in the store`)
})

t.test('a start on a full filesystem is refused in one line naming the data dir', { skip: noMount }, async (t) => {
  const disk = smallDisk(t) as string
  const dataDir = path.join(disk, 'data')
  const smsc = await createSmsc(config(dataDir))
  await smsc.stop()
  fill(disk, 0)
  await sleep(10)
  const err = await createSmsc(config(dataDir)).then((s) => { void s.stop(); return null }, (e: unknown) => e)
  t.ok(isSmscError(err), `refused with an SmscError (${String(err)})`)
  t.match(err, { code: 'SMSC_ERR_DISK_FULL', message: `the filesystem of the data dir ${dataDir} is full (no space left on device): free space there, then start again` })
})

t.test("smsc_store_free_bytes is the disk guard's reading: right from the start, then one statfs a second however often /metrics is scraped", async (t) => {
  // the data dir's filesystem as statfs reports it, with a free space the test sets
  const real = { sync: fs.statfsSync, async: fs.statfs }
  let freeBytes = 5000 * 1_048_576
  let reads = 0
  const faked = (st: fs.StatsFs): fs.StatsFs => ({ ...st, bsize: 4096, bavail: freeBytes / 4096 })
  Object.assign(fs, {
    statfsSync: (p: fs.PathLike) => { reads++; return faked(real.sync(p)) },
    statfs: (p: fs.PathLike, cb: (err: NodeJS.ErrnoException | null, st: fs.StatsFs) => void) => { reads++; real.async(p, (err, st) => cb(err, err ? st : faked(st))) },
  })
  t.teardown(() => { Object.assign(fs, { statfsSync: real.sync, statfs: real.async }) })
  const metric = async (smsc: Smsc) => Number(/\nsmsc_store_free_bytes (\d+)\n/.exec((await httpCall(smsc.ports.http, 'GET', '/metrics')).body)?.[1])

  for (const minFreeMiB of [MIN_FREE_MIB, 0]) {
    freeBytes = 5000 * 1_048_576
    const smsc = await createSmsc({ ...config(fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-free-'))), store: { minFreeMiB } } as Options)
    t.teardown(() => smsc.stop())
    t.equal(await metric(smsc), freeBytes, `minFreeMiB ${minFreeMiB}: the free space at the first scrape, just after the start`)
    const before = reads
    const started = Date.now()
    for (let i = 0; i < 50; i++) await metric(smsc)
    const seconds = Math.ceil((Date.now() - started) / 1000)
    t.ok(reads - before <= seconds, `50 scrapes in ${seconds} s read statfs ${reads - before} times: the once-a-second reading's`)
    freeBytes = 4000 * 1_048_576
    await until(async () => (await metric(smsc)) === freeBytes, 'the new free space in /metrics', 3000)
    t.pass('a change of the free space shows within the second')
    t.same((smsc.health() as { diskFreeMiB?: number }).diskFreeMiB, minFreeMiB > 0 ? 4000 : undefined, "/healthz's diskFreeMiB is the same reading's (none without a guard)")
    await smsc.stop()
  }
})
