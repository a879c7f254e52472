/**
 * Interop with a client we did not write: Debian's Net::SMPP (libnet-smpp-perl) binds, submits
 * with registered_delivery, queries, receives receipts carrying our ids, and unbinds.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { createSmsc } from '../../engine/index'

const script = path.join(process.cwd(), 'test', 'e2e', 'clients', 'net-smpp.pl')
const hasNetSmpp = (() => {
  try {
    require('node:child_process').execFileSync('perl', ['-MNet::SMPP', '-e', '1'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

t.test('Net::SMPP transceiver submits, queries and receives a receipt for every message', { skip: hasNetSmpp ? false : 'libnet-smpp-perl is not installed (.ci/run installs it)' }, async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-netsmpp-'))
  const smsc = await createSmsc({
    dataDir,
    smpp: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    accounts: [{ systemId: 'perl', password: 'secret' }],
    // Receipts after the submits and the query: Net::SMPP's synchronous calls skip PDUs that are not
    // their response; a skipped receipt is redelivered after the (short) response timer.
    simulator: { deliveryDelayMs: [300, 600], outcomes: { DELIVRD: 1 } },
    timers: { responseMs: 1000 },
    log: { level: 'warn' },
  })
  t.teardown(() => smsc.stop())
  const count = 5
  const out = await new Promise<string>((resolve, reject) => {
    execFile('perl', [script, String(smsc.ports.smpp), 'perl', 'secret', String(count)], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}\n${stdout}`))
      else resolve(stdout)
    })
  })
  const lines = out.trim().split('\n')
  t.equal(lines[0], 'bind 0')
  const submits = lines.filter((l) => l.startsWith('submit ')).map((l) => l.split(' '))
  t.equal(submits.length, count)
  t.ok(submits.every((s) => s[1] === '0' && /^\d{10}$/.test(s[2])), 'every submit_sm_resp is ESME_ROK with a 10-digit id')
  const query = lines.find((l) => l.startsWith('query '))!.split(' ')
  t.equal(query[1], '0', 'query_sm answered')
  t.ok(['1', '2'].includes(query[2]), 'message_state is ENROUTE or DELIVERED')
  const receipts = lines.filter((l) => l.startsWith('receipt ')).map((l) => l.split(' '))
  t.same(receipts.map((r) => r[1]).sort(), submits.map((s) => s[2]).sort(), 'one receipt per submitted id, carrying our id')
  t.ok(receipts.every((r) => r[2] === 'DELIVRD'))
  t.equal(lines[lines.length - 1], 'unbind 0')
})
