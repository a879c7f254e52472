/**
 * SMPP over TLS on its own port (node-smpp's ssmpp:// convention), with the self-signed certificate that
 * `devTls` generates: bind, submit, get the receipt over the encrypted session.
 */
import t from 'tap'
import tls from 'node:tls'
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
})
