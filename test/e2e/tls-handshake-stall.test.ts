/**
 * Connections to the SMPP TLS port that never finish their handshake (a bare TCP connection, half a ClientHello):
 * closed after the handshake timeout (timers.sessionInitMs, at most 10 s), and their slots among the unbound
 * connections (smpp.maxUnboundPerIp) given back once each. Before, Node's 120 s timeout logged an error and left the
 * socket open: 1000 such connections from 10 addresses kept every new SMPP connection out for good.
 */
import t from 'tap'
import { startEngine } from '../helpers/engine'
import { RawSmpp, rawPdu } from '../helpers/esme'

const ENQUIRE_LINK = 0x00000015

t.test('a TLS handshake that never finishes is closed after the handshake timeout and its unbound slot is free again, once', async (t) => {
  const engine = await startEngine(t, { devTls: true, timers: { sessionInitMs: 2000 }, extra: { smpp: { maxUnboundConnections: 100, maxUnboundPerIp: 3 } } })
  const from = '127.0.0.11'
  const opened = Date.now()
  // two send nothing, one half a ClientHello (a TLS record header promising 512 bytes, then 5 of them)
  const stalled = [
    await RawSmpp.connect(engine.tlsPort, '127.0.0.1', from),
    await RawSmpp.connect(engine.tlsPort, '127.0.0.1', from),
    await RawSmpp.connect(engine.tlsPort, '127.0.0.1', from),
  ]
  for (const s of stalled) t.teardown(() => s.close())
  stalled[2].write(Buffer.from('1603010200' + '010001fc03', 'hex'))
  const fourth = await RawSmpp.connect(engine.smppPort, '127.0.0.1', from)
  t.teardown(() => fourth.close())
  await fourth.waitClosed(3000)
  t.pass('while they handshake they hold the address\'s 3 slots: a plain connection from it is closed at accept')

  for (const s of stalled) await s.waitClosed(8000)
  const took = Date.now() - opened
  t.ok(took < 8000, `the engine closed all three stalled handshakes (after ${took} ms; Node's own timeout is 120 s and leaves them open)`)

  const again = []
  for (let i = 0; i < 3; i++) {
    const raw = await RawSmpp.connect(engine.smppPort, '127.0.0.1', from)
    t.teardown(() => raw.close())
    raw.write(rawPdu(ENQUIRE_LINK, 50 + i))
    t.equal((await raw.next(3000)).sequenceNumber, 50 + i, `connection ${i + 1} from ${from} is kept: the slots are free again`)
    again.push(raw)
  }
  const over = await RawSmpp.connect(engine.smppPort, '127.0.0.1', from)
  t.teardown(() => over.close())
  await over.waitClosed(3000)
  t.pass('a fourth is closed at accept: each slot was given back once (the per-address cap still holds)')
  const lines = engine.output().split('\n').filter((l) => l.includes('"TLS handshake failed"')).map((l) => JSON.parse(l) as Record<string, unknown>)
  t.match(lines[0], { level: 'info', remote: from, reason: 'ERR_TLS_HANDSHAKE_TIMEOUT' }, 'the timeout is logged as a failed handshake naming the address')
})
