/**
 * SMPP over TLS on its own port (node-smpp's ssmpp:// convention), with the self-signed certificate that
 * `devTls` generates: bind, submit, get the receipt over the encrypted session. Failed handshakes are
 * logged (one line per address a minute) and counted.
 */
import t from 'tap'
import tls from 'node:tls'
import net from 'node:net'
import { startEngine } from '../helpers/engine'
import { Status, gsm, isReceipt, openEsme, receiptFor } from '../helpers/esme'

t.test('SMPP over TLS with devTls', async (t) => {
  const engine = await startEngine(t, { devTls: true })

  t.test('the TLS port presents a certificate', async (t) => {
    const cert = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: engine.tlsPort, rejectUnauthorized: false }, () => {
        resolve(socket.getPeerCertificate())
        socket.destroy()
      })
      socket.once('error', reject)
    })
    t.ok(cert && Object.keys(cert).length > 0, 'a peer certificate')
  })

  t.test('bind over ssmpp:// and submit', async (t) => {
    const esme = await openEsme(t, { port: engine.tlsPort, tls: true, kind: 'transceiver' })
    const resp = await esme.submit({ source_addr: '12345', destination_addr: '4915112345678', short_message: gsm('over TLS'), data_coding: 0, registered_delivery: 1 })
    t.equal(resp.command_status, Status.ESME_ROK)
    const receipt = await esme.waitFor(receiptFor(resp.message_id ?? ''), 10_000)
    t.ok(isReceipt(receipt), 'receipt over TLS')
    t.equal((await esme.request('enquire_link')).command_status, Status.ESME_ROK)
    t.equal((await esme.request('unbind')).command_status, Status.ESME_ROK, 'unbind over TLS')
  })

  t.test('plain SMPP still works beside TLS', async (t) => {
    const esme = await openEsme(t, { port: engine.smppPort, kind: 'transmitter' })
    t.equal((await esme.request('enquire_link')).command_status, Status.ESME_ROK)
  })

  t.test('a failed handshake is logged with the address and why, once a minute per address, and counted', async (t) => {
    const metric = async () => Number(/smsc_tls_handshake_failures_total (\d+)\n/.exec((await engine.http('GET', '/metrics')).body)?.[1] ?? NaN)
    const before = await metric()
    t.ok(Number.isFinite(before), 'the metric is there')
    // Plain SMPP (a bind_transmitter's header) sent to the TLS port: not a TLS record.
    const plainToTls = () => new Promise<void>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: engine.tlsPort }, () => s.write(Buffer.from('0000001700000002000000000000000165736d653100', 'hex')))
      s.on('error', () => resolve())
      s.on('close', () => resolve())
    })
    await plainToTls()
    // A client that only speaks TLS 1.1 (the listener wants 1.2 or later).
    await new Promise<void>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: engine.tlsPort, rejectUnauthorized: false, minVersion: 'TLSv1', maxVersion: 'TLSv1.1' })
      s.on('error', () => resolve())
      s.on('close', () => resolve())
    })
    await plainToTls()
    const deadline = Date.now() + 5000
    while ((await metric()) < before + 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    t.equal(await metric(), before + 3, 'three failures counted')
    const lines = engine.output().split('\n').filter((l) => l.includes('"TLS handshake failed"')).map((l) => JSON.parse(l) as Record<string, unknown>)
    t.equal(lines.length, 1, `one line for the address within the minute: ${JSON.stringify(lines)}`)
    t.match(lines[0], { level: 'info', remote: /127\.0\.0\.1$/, reason: /\S/ }, 'naming the client and the cause')
  })
})
