/**
 * A reseller's user listed in the config file bills like its reseller and starts within its limits, as one the
 * operator makes through the API or CLI (docs/ACCOUNTS.md, docs/CONFIG.md `accounts[i].parent`). The trial that
 * found the hole: a prepaid reseller res1 (credit 5000) with shop1 and shop2 under it in the config file; shop1
 * and shop2 came up not prepaid ("unlimited"), with no rate limit, and sent for free: res1's balance never moved.
 * Here the user is listed before its reseller, too (the file's order does not matter).
 */
import t from 'tap'
import { gsm, openEsme } from '../helpers/esme'
import { AdminApi, PolicyStatus as P, hex, startPolicyEngine } from '../helpers/policy'

const DEST = '4915112345678'

t.test("a config user of a prepaid reseller is prepaid, takes the reseller's settings it does not give, and pays", async (t) => {
  const engine = await startPolicyEngine(t, {
    accounts: [
      { systemId: 'shop1', password: 'spw1', parent: 'res1' },
      { systemId: 'res1', password: 'rpw1', role: 'reseller', credit: 100, settlement: 'refund', group: 'gold',
        allowedSources: ['RES*'], rateLimit: { perSecond: 10, burst: 20 } },
      // the operator may say otherwise in the file
      { systemId: 'shop2', password: 'spw2', parent: 'res1', prepaid: false, rateLimit: { perSecond: 50, burst: 50 } },
    ],
  })
  const api = await AdminApi.login(engine)
  t.match(await api.account('shop1'), {
    parent: 'res1', prepaid: true, balance: 0, settlement: 'refund', group: 'gold',
    allowedSources: ['RES*'], rateLimit: { perSecond: 10, burst: 20 },
  }, "shop1 takes res1's billing and limits")
  const shop1View = await api.account('shop1')
  t.equal(shop1View.exceedsReseller, undefined, "shop1 is within res1's limits")
  t.match(await api.account('shop2'), { prepaid: false, balance: null, rateLimit: { perSecond: 50, burst: 50 } }, "shop2 keeps what the file gives")

  const shop1 = await openEsme(t, { port: engine.smppPort, systemId: 'shop1', password: 'spw1', kind: 'transmitter' })
  const submit = () => shop1.submit({ source_addr: 'RES1', source_addr_ton: 5, destination_addr: DEST, short_message: gsm('hi') })
  t.equal(hex((await submit()).command_status), hex(P.SMSC_RNOCREDIT), 'no credit moved to shop1 yet: SMSC_RNOCREDIT, nothing sent for free')
  await api.ok('POST', '/api/v1/accounts/shop1/credit', { amount: 5, from: 'res1' })
  t.equal(hex((await submit()).command_status), '0x00', 'with credit from res1: accepted')
  t.equal(await api.balance('shop1'), 4, 'and charged')
  t.equal(await api.balance('res1'), 95, 'res1 paid what it moved')
})
