/**
 * What a misbehaving peer sends, over a bare socket: an unknown command_id gets generic_nack ESME_RINVCMDID
 * and the session stays up (Jasmin #814 drops it); a bogus command_length gets generic_nack ESME_RINVCMDLEN
 * and the connection is closed without the SMSC allocating what the length claims (node-smpp #168); a
 * connection that never binds is closed after session_init_timer (SMPP 3.4 §7.2). The engine must stay up.
 */
import t from 'tap'
import { startEngine } from '../helpers/engine'
import { Esme, RawSmpp, Status, rawBindBody, rawPdu } from '../helpers/esme'

const BIND_TRANSCEIVER = 0x00000009
const ENQUIRE_LINK = 0x00000015
const GENERIC_NACK = 0x80000000

t.test('robustness against a misbehaving peer', async (t) => {
  const engine = await startEngine(t, { timers: { sessionInitMs: 500 } })

  const rawBound = async (t: tap.Test) => {
    const raw = await RawSmpp.connect(engine.smppPort)
    t.teardown(() => raw.close())
    raw.write(rawPdu(BIND_TRANSCEIVER, 1, rawBindBody('esme1', 'secret1')))
    const resp = await raw.next()
    t.equal(resp.commandId, (BIND_TRANSCEIVER | 0x80000000) >>> 0, 'bind_transceiver_resp')
    t.equal(resp.commandStatus, Status.ESME_ROK, 'bound')
    return raw
  }

  /** The engine is still up: healthz answers and a new client binds. */
  const stillUp = async (t: tap.Test) => {
    t.ok(engine.running, 'engine process still running')
    t.equal((await engine.http('GET', '/healthz')).status, 200, 'healthz still 200')
    const esme = await Esme.connect({ port: engine.smppPort })
    t.teardown(() => esme.close())
    t.equal((await esme.bind('transceiver', { systemId: 'esme1', password: 'secret1' })).command_status, Status.ESME_ROK, 'a new bind works')
  }

  t.test('unknown command_id → generic_nack ESME_RINVCMDID, session stays up', async (t) => {
    const raw = await rawBound(t)
    raw.write(rawPdu(0x00000099, 7))
    const nack = await raw.next()
    t.equal(nack.commandId >>> 0, GENERIC_NACK, 'generic_nack')
    t.equal(nack.commandStatus, Status.ESME_RINVCMDID)
    t.equal(nack.sequenceNumber, 7, 'with the request sequence_number')
    raw.write(rawPdu(ENQUIRE_LINK, 8))
    const el = await raw.next()
    t.equal(el.commandId >>> 0, (ENQUIRE_LINK | 0x80000000) >>> 0, 'enquire_link still answered')
    t.equal(el.commandStatus, Status.ESME_ROK)
    t.equal(el.sequenceNumber, 8)
    t.notOk(raw.closed, 'socket still open')
  })

  t.test('unknown command_id before bind also gets generic_nack', async (t) => {
    const raw = await RawSmpp.connect(engine.smppPort)
    t.teardown(() => raw.close())
    raw.write(rawPdu(0x0000abcd, 3))
    const nack = await raw.next()
    t.equal(nack.commandId >>> 0, GENERIC_NACK)
    t.equal(nack.commandStatus, Status.ESME_RINVCMDID)
  })

  t.test('command_length 0x7fffffff → generic_nack ESME_RINVCMDLEN, then close', async (t) => {
    const raw = await rawBound(t)
    const header = Buffer.alloc(16)
    header.writeUInt32BE(0x7fffffff, 0)
    header.writeUInt32BE(0x00000004, 4) // submit_sm
    header.writeUInt32BE(0, 8)
    header.writeUInt32BE(9, 12)
    raw.write(header)
    const nack = await raw.next()
    t.equal(nack.commandId >>> 0, GENERIC_NACK, 'generic_nack')
    t.equal(nack.commandStatus, Status.ESME_RINVCMDLEN)
    await t.resolves(raw.waitClosed(5000), 'the SMSC closes the connection')
    await stillUp(t)
  })

  t.test('command_length below the header size → generic_nack ESME_RINVCMDLEN, then close', async (t) => {
    const raw = await rawBound(t)
    const bad = rawPdu(ENQUIRE_LINK, 10)
    bad.writeUInt32BE(8, 0)
    raw.write(bad)
    const nack = await raw.next()
    t.equal(nack.commandId >>> 0, GENERIC_NACK)
    t.equal(nack.commandStatus, Status.ESME_RINVCMDLEN)
    await t.resolves(raw.waitClosed(5000), 'the SMSC closes the connection')
    await stillUp(t)
  })

  t.test('garbage (an HTTP request on the SMPP port) → generic_nack ESME_RINVCMDLEN, then close', async (t) => {
    const raw = await RawSmpp.connect(engine.smppPort)
    t.teardown(() => raw.close())
    raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')) // 'GET ' = command_length 0x47455420
    const nack = await raw.next()
    t.equal(nack.commandId >>> 0, GENERIC_NACK)
    t.equal(nack.commandStatus, Status.ESME_RINVCMDLEN)
    await t.resolves(raw.waitClosed(5000), 'the SMSC closes the connection')
    await stillUp(t)
  })

  t.test('random bytes on many connections do not take the engine down', async (t) => {
    const sockets = await Promise.all(Array.from({ length: 20 }, () => RawSmpp.connect(engine.smppPort)))
    for (const [i, s] of sockets.entries()) {
      t.teardown(() => s.close())
      const junk = Buffer.alloc(64 + i * 13)
      for (let j = 0; j < junk.length; j++) junk[j] = (j * 131 + i * 7 + 11) & 0xff
      s.write(junk)
    }
    await Promise.all(sockets.map((s) => s.waitClosed(5000).catch(() => s.close())))
    await stillUp(t)
  })

  t.test('a valid PDU split byte by byte is still understood', async (t) => {
    const raw = await RawSmpp.connect(engine.smppPort)
    t.teardown(() => raw.close())
    const bind = rawPdu(BIND_TRANSCEIVER, 1, rawBindBody('esme1', 'secret1'))
    for (const byte of bind) {
      raw.write(Buffer.from([byte]))
      await new Promise((r) => setImmediate(r))
    }
    const resp = await raw.next()
    t.equal(resp.commandStatus, Status.ESME_ROK, 'bound')
  })

  t.test('two PDUs in one write are both answered', async (t) => {
    const raw = await rawBound(t)
    raw.write(Buffer.concat([rawPdu(ENQUIRE_LINK, 21), rawPdu(ENQUIRE_LINK, 22)]))
    const a = await raw.next()
    const b = await raw.next()
    t.same([a.sequenceNumber, b.sequenceNumber].sort(), [21, 22])
  })

  t.test('no bind within session_init_timer (500 ms) → socket closed', async (t) => {
    const raw = await RawSmpp.connect(engine.smppPort)
    t.teardown(() => raw.close())
    const start = Date.now()
    await t.resolves(raw.waitClosed(5000), 'closed by the SMSC')
    const elapsed = Date.now() - start
    t.ok(elapsed >= 400, `not before the timer (${elapsed} ms)`)
    t.ok(elapsed <= 3000, `soon after the timer (${elapsed} ms)`)
  })
})
