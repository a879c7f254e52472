/**
 * The simulated carrier's test numbers (simulator.fixedOutcomes): an ESME testing its failure paths sends to a
 * configured number and always gets that receipt; any other number draws from simulator.outcomes. Through a real
 * engine and node-smpp.
 */
import t from 'tap'
import { startEngine } from '../helpers/engine'
import { gsm, messageText, openEsme, parseReceipt, receiptFor } from '../helpers/esme'

t.test('a test number always gets its stat; other numbers draw as configured', async (t) => {
  const e = await startEngine(t, {
    simulator: { deliveryDelayMs: [10, 30], outcomes: { DELIVRD: 1 }, fixedOutcomes: { 4915100000002: 'UNDELIV', 4915100000003: 'EXPIRED' } } as never,
  })
  const esme = await openEsme(t, { port: e.smppPort })
  const stats: Record<string, string | undefined> = {}
  for (const to of ['+4915100000002', '4915100000003', '4915100000009']) {
    const r = await esme.submit({ destination_addr: to, short_message: gsm('test'), registered_delivery: 1 })
    t.equal(r.command_status, 0)
    const receipt = await esme.waitFor(receiptFor(r.message_id as string), 10_000)
    stats[to] = parseReceipt(messageText(receipt))?.stat
  }
  t.same(stats, { '+4915100000002': 'UNDELIV', 4915100000003: 'EXPIRED', 4915100000009: 'DELIVRD' })
  // Each final outcome is timed per connector (smsc_connector_final_seconds): 10–30 ms after the submit here.
  const metrics = (await e.http('GET', '/metrics')).body
  const final = (le: string) => Number(new RegExp(`smsc_connector_final_seconds_bucket\\{connector="simulator",le="${le}"\\} (\\d+)`).exec(metrics)?.[1])
  t.equal(final('0.005'), 0, 'none ended before the simulator\'s 10 ms delay')
  t.equal(final('1'), 3, 'all three ended within a second')
  t.equal(final('1800'), 3, 'the receipt bounds go on to 30 minutes')
  t.match(metrics, 'smsc_connector_final_seconds_count{connector="simulator"} 3\n')
  t.match(e.output(), /Carrier {4}simulated, .*; test numbers 4915100000002\* UNDELIV, 4915100000003\* EXPIRED \(simulator\.fixedOutcomes\)/, 'the banner lists them')
})
