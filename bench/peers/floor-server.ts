/**
 * The raw floor: what this machine allows for SMPP over loopback with no SMSC logic at all.
 * Frames in (the engine's Framer), canned responses out: bind_*_resp, submit_sm_resp with a counter
 * id written into the output buffer, enquire_link_resp, unbind_resp, and one canned receipt
 * deliver_sm per submit_sm that asks for one. No validation, no store, no window, no timers; each
 * socket read is answered with ONE write of one preassembled buffer (what cork/uncork would give).
 *
 * Run: node dist/bench/peers/floor-server.js [--port N] [--host H]; prints "port <n>" when listening.
 */
import net from 'node:net'
import { listen, runPeer } from './run-peer'
import { CommandId, HEADER_LENGTH } from '../../engine/protocol/constants'
import { Framer } from '../../engine/protocol/framer'
import { encode } from '../../engine/protocol/codec'
import { RECEIPT_ID_DIGITS, receiptTemplate, writeIdDigits } from '../templates'

const ID = CommandId
const SUBMIT_RESP_LEN = HEADER_LENGTH + RECEIPT_ID_DIGITS + 1
const RECEIPT = receiptTemplate()
const RECEIPT_LEN = RECEIPT.buf.length
/** Largest answer to one frame: submit_sm_resp + receipt. */
const MAX_ANSWER = SUBMIT_RESP_LEN + RECEIPT_LEN

const BIND_RESP = new Map<number, Buffer>(
  ([['bind_transmitter', 'bind_transmitter_resp'], ['bind_receiver', 'bind_receiver_resp'], ['bind_transceiver', 'bind_transceiver_resp']] as const)
    .map(([req, resp]) => [ID[req], encode({ command: resp, command_status: 0, sequence_number: 0, system_id: 'floor' })]),
)

let counter = 0

/** registered_delivery of a submit_sm: after 5 C-Octet Strings and 7 octets (SMPP 3.4 §4.4.1). */
function registeredDelivery(f: Buffer): number {
  let off = HEADER_LENGTH
  const end = f.length
  for (let field = 0; field < 5; field++) {
    while (off < end && f[off] !== 0) off++
    off++ // the NUL
    // after service_type: source ton+npi; after source_addr: dest ton+npi; after destination_addr: esm_class, protocol_id, priority_flag
    if (field === 0 || field === 1) off += 2
    else if (field === 2) off += 3
  }
  return off < end ? f[off] : 0
}

function header(out: Buffer, off: number, len: number, id: number, seq: number): void {
  out.writeUInt32BE(len, off)
  out.writeUInt32BE(id, off + 4)
  out.writeUInt32BE(0, off + 8)
  out.writeUInt32BE(seq, off + 12)
}

function onConnection(socket: net.Socket): void {
  socket.setNoDelay(true)
  const framer = new Framer()
  const frames: Buffer[] = []
  let seq = 0
  socket.on('data', (chunk: Buffer) => {
    frames.length = 0
    if (!framer.push(chunk, frames)) {
      socket.destroy()
      return
    }
    if (frames.length === 0) return
    const out = Buffer.allocUnsafe(frames.length * MAX_ANSWER)
    let off = 0
    let end = false
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]
      const id = f.readUInt32BE(4)
      const fseq = f.readUInt32BE(12)
      switch (id) {
        case ID.submit_sm: {
          header(out, off, SUBMIT_RESP_LEN, ID.submit_sm_resp, fseq)
          const n = ++counter
          writeIdDigits(out, off + HEADER_LENGTH, n)
          out[off + SUBMIT_RESP_LEN - 1] = 0
          off += SUBMIT_RESP_LEN
          if ((registeredDelivery(f) & 0x03) !== 0) {
            RECEIPT.buf.copy(out, off)
            seq = seq >= 0x7fffffff ? 1 : seq + 1
            out.writeUInt32BE(seq, off + 12)
            writeIdDigits(out, off + RECEIPT.textIdOffset, n)
            writeIdDigits(out, off + RECEIPT.tlvIdOffset, n)
            off += RECEIPT_LEN
          }
          break
        }
        case ID.deliver_sm_resp:
        case ID.enquire_link_resp:
          break
        case ID.enquire_link:
          header(out, off, HEADER_LENGTH, ID.enquire_link_resp, fseq)
          off += HEADER_LENGTH
          break
        case ID.unbind:
          header(out, off, HEADER_LENGTH, ID.unbind_resp, fseq)
          off += HEADER_LENGTH
          end = true
          break
        case ID.bind_transmitter:
        case ID.bind_receiver:
        case ID.bind_transceiver: {
          const r = BIND_RESP.get(id) as Buffer
          r.copy(out, off)
          out.writeUInt32BE(fseq, off + 12)
          off += r.length
          break
        }
        default:
          if ((id & 0x80000000) === 0) {
            // generic_nack ESME_RINVCMDID (SMPP 3.4 §4.3)
            header(out, off, HEADER_LENGTH, ID.generic_nack, fseq)
            out.writeUInt32BE(0x03, off + 8)
            off += HEADER_LENGTH
          }
      }
    }
    if (off > 0) socket.write(out.subarray(0, off))
    if (end) socket.end()
  })
  socket.on('error', () => socket.destroy())
}

export function startFloorServer(port = 0, host = '127.0.0.1'): Promise<net.Server> {
  return listen(net.createServer(onConnection), port, host)
}

if (require.main === module) runPeer('floor-server', startFloorServer)
