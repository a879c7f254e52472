/**
 * The node-smpp peer: a minimal SMSC on the npm `smpp` package (smpp.createServer), the baseline
 * the engine is compared with. It accepts any bind, acknowledges every submit_sm with an
 * incrementing message id, and when registered_delivery asks for a receipt sends a deliver_sm
 * receipt (esm_class 0x04, receipted_message_id, message_state, `stat:DELIVRD` text) on the same
 * session right after the response. No store, no validation: an upper bound for a node-smpp SMSC.
 *
 * Run: node dist/bench/peers/node-smpp-server.js [--port N] [--host H]; prints "port <n>" when listening.
 */
import type net from 'node:net'
import { listen, runPeer } from './run-peer'

interface NodeSmppPdu {
  command: string
  sequence_number: number
  registered_delivery?: number
  source_addr?: string
  destination_addr?: string
  response(options?: Record<string, unknown>): NodeSmppPdu
}
interface NodeSmppSession {
  on(event: string, listener: (pdu: NodeSmppPdu) => void): void
  send(pdu: NodeSmppPdu): boolean
  deliver_sm(options: Record<string, unknown>): boolean
  close(): void
}
// node-smpp ships no type declarations; this is the surface used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const smpp = require('smpp') as { createServer(listener: (session: NodeSmppSession) => void): net.Server }

let counter = 0

function receiptDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0')
  return `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}`
}

function onSession(session: NodeSmppSession): void {
  const bind = (pdu: NodeSmppPdu) => session.send(pdu.response({ system_id: 'node-smpp' }))
  session.on('bind_transceiver', bind)
  session.on('bind_transmitter', bind)
  session.on('bind_receiver', bind)
  session.on('enquire_link', (pdu) => session.send(pdu.response()))
  session.on('unbind', (pdu) => {
    session.send(pdu.response())
    session.close()
  })
  session.on('submit_sm', (pdu) => {
    const id = String(++counter).padStart(10, '0')
    session.send(pdu.response({ message_id: id }))
    if (((pdu.registered_delivery ?? 0) & 0x03) !== 0) {
      const date = receiptDate(new Date())
      // SMPP 3.4 §4.6.1, Appendix B
      session.deliver_sm({
        source_addr: pdu.destination_addr,
        destination_addr: pdu.source_addr,
        esm_class: 0x04,
        short_message: `id:${id} sub:001 dlvrd:001 submit date:${date} done date:${date} stat:DELIVRD err:000 text:`,
        receipted_message_id: id,
        message_state: 2,
      })
    }
  })
  session.on('error', () => session.close())
}

export function startNodeSmppServer(port = 0, host = '127.0.0.1'): Promise<net.Server> {
  return listen(smpp.createServer(onSession), port, host)
}

if (require.main === module) runPeer('node-smpp-server', startNodeSmppServer)
