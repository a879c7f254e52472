/**
 * Prepaid credit end to end (issue #5): the opening balance from the config is a ledger entry; a
 * submit is charged the route's price (default 1 unit per part) atomically, so eight binds racing
 * for the last units stop at exactly zero with SMSC_RNOCREDIT (0x401) for the rest and never
 * overdraw; a route's `price` is what a message costs; settlement 'refund' gives the price back for
 * UNDELIV/REJECTD outcomes. After every scenario the balance equals the sum of the account's ledger
 * (GET /api/v1/accounts/:id/ledger), and each entry's balance is the previous one plus its delta.
 */
import t from 'tap'
import { openEsme, parseReceipt, messageText, receiptFor, gsm, type Esme, type Pdu } from '../helpers/esme'
import { AdminApi, PolicyStatus, hex, ledgerSum, sleep, startPolicyEngine, statusCounts, until, type LedgerEntry } from '../helpers/policy'
import { httpCall } from '../helpers/engine'

const SRC = '12345'
const DEST = '4915112345678'
const UK = '447700900123'

/** Every entry's balance is the one before plus its delta, and none is negative. */
function checkLedgerChain(t: tap.Test, entries: LedgerEntry[]): void {
  const bySeq = [...entries].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))
  let balance = 0
  let broken = ''
  for (const e of bySeq) {
    const expected = Math.round((balance + e.delta) * 1e6) / 1e6
    if (Math.abs(expected - e.balance) > 1e-6 && !broken) broken = `entry seq ${e.seq} (${e.reason} ${e.delta}) has balance ${e.balance}, expected ${expected}`
    balance = e.balance
  }
  t.equal(broken, '', 'each ledger entry balance = previous balance + delta')
  t.notOk(bySeq.some((e) => e.balance < 0), 'no ledger entry has a negative balance')
}

t.test('prepaid credit is charged per message, atomically, and the ledger adds up', async (t) => {
  const engine = await startPolicyEngine(t, {
    accounts: [
      { systemId: 'prepaid', password: 'secret1', credit: 100 },
      { systemId: 'ukprice', password: 'secret2', credit: 11 },
      { systemId: 'postpaid', password: 'secret3' },
      { systemId: 'busy', password: 'secret4', credit: 1000 },
      { systemId: 'apilong', password: 'secret5', credit: 2 },
      { systemId: 'quotacr', password: 'secret6', credit: 2, dailyQuota: 5 },
      { systemId: 'gold', password: 'secret7', credit: 10, group: 'gold' },
    ],
    extra: {
      routes: {
        mt: [
          { name: 'gold', match: { groups: ['gold'] }, action: { connector: 'simulator' }, price: 0.25 },
          { name: 'uk', match: { destPrefix: ['44'] }, action: { connector: 'simulator' }, price: 2.5 },
          { name: 'default', match: {}, action: { connector: 'simulator' } },
        ],
        mo: [],
      },
    },
  })
  const api = await AdminApi.login(engine)

  t.test('the opening credit from the config is an "opening" ledger entry', async (t) => {
    const account = await api.account('prepaid')
    t.equal(account.balance, 100, 'balance 100')
    const entries = await api.ledger('prepaid')
    t.equal(entries.length, 1, 'one entry before any traffic')
    t.match(entries[0], { systemId: 'prepaid', reason: 'opening', delta: 100, balance: 100 })
    t.equal((await api.account('postpaid')).balance, null, 'an account without credit is not prepaid (balance null)')
    const metrics = (await httpCall(engine.httpPort, 'GET', '/metrics')).body
    t.match(metrics, /^smsc_account_balance\{account="prepaid"\} 100$/m, '/metrics has each prepaid account\'s balance')
    t.match(metrics, /^smsc_account_balance\{account="ukprice"\} 11$/m)
    t.notMatch(metrics, /smsc_account_balance\{account="postpaid"\}/, 'and no balance for a postpaid one')
  })

  t.test('8 binds submitting 150 at once: exactly 100 accepted, 50 refused with 0x401, balance 0', async (t) => {
    const binds: Esme[] = []
    for (let i = 0; i < 8; i++) binds.push(await openEsme(t, { port: engine.smppPort, systemId: 'prepaid', password: 'secret1', kind: 'transmitter' }))
    const perBind = binds.map((_, i) => Math.floor(150 / 8) + (i < 150 % 8 ? 1 : 0))
    t.equal(perBind.reduce((a, b) => a + b, 0), 150)
    const resps: Pdu[] = (await Promise.all(binds.map((esme, i) => {
      const list = Array.from({ length: perBind[i] }, (_, k) => ({ source_addr: SRC, destination_addr: DEST, short_message: gsm(`credit race ${i}.${k}`) }))
      // every submit of the bind in flight at once (window 100 > 19)
      return esme.submitMany(list, list.length)
    }))).flat()
    const counts = statusCounts(resps)
    t.same(counts, { '0x00': 100, [hex(PolicyStatus.SMSC_RNOCREDIT)]: 50 }, 'exactly 100 accepted and 50 refused with SMSC_RNOCREDIT')
    t.equal(new Set(resps.filter((r) => r.command_status === 0).map((r) => r.message_id)).size, 100, '100 distinct message ids')
    t.equal(await api.balance('prepaid'), 0, 'balance is exactly 0')
    const entries = await api.ledger('prepaid')
    t.equal(ledgerSum(entries), 0, 'ledger sum == balance')
    checkLedgerChain(t, entries)
    const charged = entries.filter((e) => e.reason === 'submit')
    t.equal(charged.reduce((n, e) => n + (e.count ?? 0), 0), 100, 'submit entries cover 100 messages')
    t.equal(ledgerSum(charged), -100, 'submit entries take 100 units')
    for (const b of binds) t.notOk(b.closed, 'bind stays up after SMSC_RNOCREDIT')

    const more = await binds[0].submit({ source_addr: SRC, destination_addr: DEST, short_message: gsm('one more') })
    t.equal(hex(more.command_status), hex(PolicyStatus.SMSC_RNOCREDIT), 'the next submit is refused too')
    t.equal(await api.balance('prepaid'), 0, 'still 0, never negative')
    t.match((await httpCall(engine.httpPort, 'GET', '/metrics')).body, /^smsc_account_balance\{account="prepaid"\} 0$/m, 'the gauge follows the charges')
  })

  t.test('credit granted through the API is spendable at once and is a ledger entry', async (t) => {
    const granted = await api.ok<{ to: LedgerEntry }>('POST', '/api/v1/accounts/prepaid/credit', { amount: 2 })
    t.match(granted.to, { systemId: 'prepaid', delta: 2, balance: 2 })
    const esme = await openEsme(t, { port: engine.smppPort, systemId: 'prepaid', password: 'secret1', kind: 'transmitter' })
    const resps = await esme.submitMany(Array.from({ length: 3 }, (_, k) => ({ source_addr: SRC, destination_addr: DEST, short_message: gsm(`top-up ${k}`) })), 1)
    t.same(resps.map((r) => hex(r.command_status)), ['0x00', '0x00', hex(PolicyStatus.SMSC_RNOCREDIT)], '2 units buy 2 messages')
    t.equal(await api.balance('prepaid'), 0)
    const entries = await api.ledger('prepaid')
    t.equal(ledgerSum(entries), 0, 'ledger sum == balance')
    t.ok(entries.some((e) => e.delta === 2 && e.reason === 'grant'), 'a "grant" entry for the top-up')
    checkLedgerChain(t, entries)
  })

  t.test('a route price of 2.5 takes 2.5 per message (the default route 1)', async (t) => {
    const esme = await openEsme(t, { port: engine.smppPort, systemId: 'ukprice', password: 'secret2', kind: 'transmitter' })
    const balances: (number | null)[] = []
    const statuses: string[] = []
    const send = async (dest: string) => {
      const r = await esme.submit({ source_addr: SRC, destination_addr: dest, short_message: gsm('priced') })
      statuses.push(hex(r.command_status))
      balances.push(await api.balance('ukprice'))
    }
    await send(DEST) // default route: 1
    for (let i = 0; i < 4; i++) await send(UK) // uk route: 2.5 each
    await send(UK) // nothing left
    t.same(statuses, ['0x00', '0x00', '0x00', '0x00', '0x00', hex(PolicyStatus.SMSC_RNOCREDIT)])
    t.same(balances, [10, 7.5, 5, 2.5, 0, 0], 'balance after each submit')
    const entries = await api.ledger('ukprice')
    t.equal(ledgerSum(entries), 0, 'ledger sum == balance')
    t.same(entries.filter((e) => e.reason === 'submit').map((e) => e.delta).sort(), [-1, -2.5, -2.5, -2.5, -2.5].sort(), 'one entry per submit with the route price')
    checkLedgerChain(t, entries)
  })

  t.test('grants through the API during traffic keep the ledger chain exact', async (t) => {
    const binds: Esme[] = []
    for (let i = 0; i < 4; i++) binds.push(await openEsme(t, { port: engine.smppPort, systemId: 'busy', password: 'secret4', kind: 'transmitter' }))
    const traffic = Promise.all(binds.map((esme, i) => esme.submitMany(
      Array.from({ length: 100 }, (_, k) => ({ source_addr: SRC, destination_addr: DEST, short_message: gsm(`busy ${i}.${k}`) })), 20)))
    const grants = Promise.all(Array.from({ length: 20 }, () => api.ok('POST', '/api/v1/accounts/busy/credit', { amount: 1 })))
    const [resps] = await Promise.all([traffic, grants])
    t.same(statusCounts(resps.flat()), { '0x00': 400 }, '400 accepted')
    t.equal(await api.balance('busy'), 620, '1000 + 20 granted - 400 spent')
    const entries = await api.ledger('busy')
    t.equal(ledgerSum(entries), 620, 'ledger sum == balance')
    t.equal(entries.filter((e) => e.reason === 'grant').length, 20, '20 grant entries')
    checkLedgerChain(t, entries)
  })

  t.test('the HTTP send API charges a long message per part, and refuses it whole when credit does not cover it', async (t) => {
    const text = 'Long message over the HTTP send API, charged per part. '.repeat(7) // 385 GSM chars: 3 parts
    const send = () => api.call('POST', '/api/v1/messages', { systemId: 'apilong', from: SRC, to: DEST, text })
    const refused = await send()
    t.match(refused.json, { ok: false, status: PolicyStatus.SMSC_RNOCREDIT, code: 'SMSC_ERR_CREDIT_EXHAUSTED' }, `3 parts with 2 units: refused (${refused.status} ${refused.body})`)
    t.equal(await api.balance('apilong'), 2, 'nothing charged for a refused message')
    await api.ok('POST', '/api/v1/accounts/apilong/credit', { amount: 1 })
    const accepted = await send()
    t.match(accepted.json, { ok: true, parts: 3 }, `3 parts with 3 units: accepted (${accepted.status} ${accepted.body})`)
    t.equal(await api.balance('apilong'), 0, '3 units charged')
    const entries = await api.ledger('apilong')
    t.equal(ledgerSum(entries), 0, 'ledger sum == balance')
    t.ok(entries.some((e) => e.reason === 'submit' && e.delta === -3 && e.count === 3), 'one submit entry: -3 for 3 parts')
  })

  t.test('submits refused for credit do not use up the daily quota', async (t) => {
    const esme = await openEsme(t, { port: engine.smppPort, systemId: 'quotacr', password: 'secret6', kind: 'transmitter' })
    const msg = (k: number) => ({ source_addr: SRC, destination_addr: DEST, short_message: gsm(`quota+credit ${k}`) })
    const first = await esme.submitMany(Array.from({ length: 5 }, (_, k) => msg(k)), 1)
    t.same(first.map((r) => hex(r.command_status)), ['0x00', '0x00', hex(PolicyStatus.SMSC_RNOCREDIT), hex(PolicyStatus.SMSC_RNOCREDIT), hex(PolicyStatus.SMSC_RNOCREDIT)],
      'credit 2: two accepted, three refused with SMSC_RNOCREDIT')
    await api.ok('POST', '/api/v1/accounts/quotacr/credit', { amount: 10 })
    const next = await esme.submitMany(Array.from({ length: 4 }, (_, k) => msg(10 + k)), 1)
    t.same(next.map((r) => hex(r.command_status)), ['0x00', '0x00', '0x00', hex(PolicyStatus.SMSC_RQUOTA)],
      'after a top-up: 3 more fit the quota of 5 (only 2 messages were sent), the 6th gets SMSC_RQUOTA')
  })

  t.test('balances and ledgers are the same after a restart', async (t) => {
    const ids = ['prepaid', 'ukprice', 'busy', 'apilong', 'quotacr']
    const before = await Promise.all(ids.map((id) => api.balance(id)))
    await engine.restart()
    const again = await AdminApi.login(engine)
    const after = await Promise.all(ids.map((id) => again.balance(id)))
    t.same(after, before, `balances ${JSON.stringify(before)}`)
    for (const id of ids) t.equal(ledgerSum(await again.ledger(id)), after[ids.indexOf(id)], `${id}: ledger sum == balance`)
  })

  t.test("a route matching the account's group sets its price", async (t) => {
    const esme = await openEsme(t, { port: engine.smppPort, systemId: 'gold', password: 'secret7', kind: 'transmitter' })
    const resps = await esme.submitMany([DEST, UK, DEST, UK].map((d, k) => ({ source_addr: SRC, destination_addr: d, short_message: gsm(`gold ${k}`) })), 1)
    t.same(statusCounts(resps), { '0x00': 4 })
    t.equal(await api.balance('gold'), 9, '4 × 0.25 (the group route comes first, also for 44…)')
    t.equal(ledgerSum(await api.ledger('gold')), 9, 'ledger sum == balance')
  })

  t.test('an account without credit (not prepaid) is never refused for credit', async (t) => {
    const esme = await openEsme(t, { port: engine.smppPort, systemId: 'postpaid', password: 'secret3', kind: 'transmitter' })
    const resps = await esme.submitMany(Array.from({ length: 20 }, (_, k) => ({ source_addr: SRC, destination_addr: UK, short_message: gsm(`postpaid ${k}`) })), 10)
    t.same(statusCounts(resps), { '0x00': 20 })
    t.same(await api.ledger('postpaid'), [], 'no ledger entries')
  })
})

t.test("settlement 'refund' gives the price back for UNDELIV outcomes", async (t) => {
  const engine = await startPolicyEngine(t, {
    accounts: [
      { systemId: 'refund', password: 'secret1', credit: 10, settlement: 'refund' },
      { systemId: 'keep', password: 'secret2', credit: 10 },
      { systemId: 'postref', password: 'secret3', settlement: 'refund' },
    ],
    simulator: { deliveryDelayMs: [20, 80], outcomes: { UNDELIV: 1 } },
  })
  const api = await AdminApi.login(engine)

  const run = async (t: tap.Test, systemId: string, password: string): Promise<void> => {
    const esme = await openEsme(t, { port: engine.smppPort, systemId, password, kind: 'transceiver' })
    const resps = await esme.submitMany(Array.from({ length: 5 }, (_, k) => ({ source_addr: SRC, destination_addr: DEST, short_message: gsm(`refund ${k}`), registered_delivery: 1 })), 5)
    t.same(statusCounts(resps), { '0x00': 5 }, '5 accepted')
    for (const r of resps) {
      const receipt = await esme.waitFor(receiptFor(r.message_id ?? ''), 10_000)
      t.equal(parseReceipt(messageText(receipt))?.stat, 'UNDELIV', `receipt for ${r.message_id} is UNDELIV`)
    }
  }

  t.test('refund account: back to the opening balance after the receipts', async (t) => {
    await run(t, 'refund', 'secret1')
    // the refund is committed with the outcome, before the receipt goes out
    const balance = await until('balance back to 10', async () => ((await api.balance('refund')) === 10 ? 10 : undefined), 5000)
    t.equal(balance, 10)
    const entries = await api.ledger('refund')
    t.equal(ledgerSum(entries), 10, 'ledger sum == balance')
    t.ok(entries.some((e) => e.reason === 'opening' && e.delta === 10), 'opening entry')
    const refunds = entries.filter((e) => e.reason === 'refund')
    t.ok(refunds.length > 0, `"refund" entries (${refunds.length})`)
    t.equal(ledgerSum(refunds), 5, 'refund entries give back 5 units')
    t.equal(refunds.reduce((n, e) => n + (e.count ?? 0), 0), 5, 'refund entries cover 5 messages')
    t.equal(ledgerSum(entries.filter((e) => e.reason === 'submit')), -5, 'submit entries took 5 units')
    checkLedgerChain(t, entries)
  })

  t.test("settlement 'submit' (the default) keeps the charge", async (t) => {
    await run(t, 'keep', 'secret2')
    t.equal(await api.balance('keep'), 5)
    const entries = await api.ledger('keep')
    t.equal(ledgerSum(entries), 5, 'ledger sum == balance')
    t.notOk(entries.some((e) => e.reason === 'refund'), 'no refund entries')
  })

  t.test("settlement 'refund' on an account that is not prepaid creates no credit", async (t) => {
    await run(t, 'postref', 'secret3')
    await sleep(200)
    t.equal((await api.account('postref')).balance, null, 'still not prepaid (balance null)')
    t.same(await api.ledger('postref'), [], 'no ledger entries: nothing was charged, so nothing is refunded')
  })
})
