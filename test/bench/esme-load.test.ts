import t from 'tap'
import net from 'node:net'
import { EsmeLoad, runLoad } from '../../bench/esme-load'
import { startFloorServer } from '../../bench/peers/floor-server'
import { submitCycle, submitTemplates } from '../../bench/templates'
import { decode } from '../../engine/protocol/codec'
import { Framer } from '../../engine/protocol/framer'
import { CommandId, CommandStatus } from '../../engine/protocol/constants'

async function floor(t: { teardown(fn: () => unknown): void }): Promise<number> {
  const server = await startFloorServer(0)
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as net.AddressInfo).port
}

/** A header-only PDU (16 octets), or with `body` octets of zeros after it (17: an empty C-octet string). */
function pdu(commandId: number, status: number, seq: number, body = 0): Buffer {
  const out = Buffer.alloc(16 + body)
  out.writeUInt32BE(out.length, 0)
  out.writeUInt32BE(commandId >>> 0, 4)
  out.writeUInt32BE(status, 8)
  out.writeUInt32BE(seq, 12)
  return out
}

/** A stand-in SMSC on loopback: `answer` gets each frame's command_id and sequence_number and its socket. */
async function standIn(t: { teardown(fn: () => unknown): void }, answer: (id: number, seq: number, socket: net.Socket) => void): Promise<{ port: number; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    const framer = new Framer()
    const frames: Buffer[] = []
    socket.on('data', (chunk: Buffer) => {
      frames.length = 0
      framer.push(chunk, frames)
      for (const f of frames) answer(f.readUInt32BE(4), f.readUInt32BE(12), socket)
    })
    socket.on('error', () => socket.destroy())
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { port: (server.address() as net.AddressInfo).port, sockets }
}

t.test('every submit is acknowledged and every receipt is matched to its submit', async (t) => {
  const port = await floor(t)
  const r = await runLoad({ port, binds: 3, window: 10, messages: 600, durationS: 0, registeredDelivery: 1, progress: false })
  t.equal(r.bound, 3)
  t.equal(r.sent, 600)
  t.equal(r.acked, 600)
  t.equal(r.receipts, 600)
  t.equal(r.receiptsMatched, 600)
  t.equal(r.receiptsMissing, 0)
  t.same(r.errors, {})
  t.equal(r.submitLatencyMs.count, 600)
  t.equal(r.receiptLatencyMs.count, 600)
  t.ok(r.submitLatencyMs.p99 > 0 && r.submitLatencyMs.p99 <= r.submitLatencyMs.max)
})

t.test('latencies of submits sent during the warm-up are kept apart; every submit is counted once', async (t) => {
  const port = await floor(t)
  const r = await runLoad({ port, binds: 2, window: 5, rate: 1000, durationS: 1.5, warmupS: 0.5, registeredDelivery: 1, progress: false })
  t.ok(r.warmupLatencyMs.count > 0, `${r.warmupLatencyMs.count} in the warm-up`)
  t.ok(r.submitLatencyMs.count > r.warmupLatencyMs.count, `${r.submitLatencyMs.count} after it`)
  t.equal(r.submitLatencyMs.count + r.warmupLatencyMs.count, r.acked, 'each acknowledged submit in exactly one histogram')
  t.equal(r.receiptLatencyMs.count, r.submitLatencyMs.count, 'receipt latencies only for submits after the warm-up')
  t.equal(r.receiptsMatched, r.acked, 'while every receipt is still counted')
})

t.test('transmitter + receiver pairs bind two connections per bind', async (t) => {
  const port = await floor(t)
  const r = await runLoad({ port, binds: 2, bindType: 'pair', window: 5, messages: 100, durationS: 0, progress: false })
  t.equal(r.bindAttempts, 4)
  t.equal(r.bound, 4)
  t.equal(r.acked, 100)
})

t.test('the rate limit never offers more than the target', async (t) => {
  // Only the upper bound is asserted: a busy machine may send less, never more (speed itself is
  // measured by the benchmarks, not by unit tests).
  const port = await floor(t)
  const r = await runLoad({ port, binds: 4, window: 50, rate: 2000, durationS: 1.5, progress: false })
  t.ok(r.sent > 0)
  t.ok(r.offeredPerSec < 2400, `offered ${r.offeredPerSec}/s for a target of 2000/s`)
  t.equal(r.acked, r.sent)
})

t.test('refusals are counted by command_status name', async (t) => {
  // A server that binds everyone and answers every submit_sm with ESME_RTHROTTLED.
  const { port } = await standIn(t, (id, seq, socket) => {
    const resp = (status: number, body = 0) => pdu((id | 0x80000000) >>> 0, status, seq, body)
    if (id === CommandId.bind_transceiver) socket.write(resp(0, 1)) // empty system_id
    else if (id === CommandId.submit_sm) socket.write(resp(CommandStatus.ESME_RTHROTTLED)) // no body on failure
    else if (id === CommandId.unbind) socket.end(resp(0))
  })
  const load = new EsmeLoad({ port, binds: 1, window: 5, messages: 50, durationS: 0, drainMs: 2000, progress: false })
  await load.connect()
  const r = await load.run()
  await load.close(500)
  t.equal(r.acked, 0)
  t.equal(r.failed, 50)
  t.same(r.errors, { ESME_RTHROTTLED: 50 })
})

t.test('a long message is three consecutive submit_sm with one concat reference', async (t) => {
  const parts = submitTemplates('long-ucs2', 1)
  t.equal(parts.length, 3)
  parts.forEach((p, i) => {
    const pdu = decode(p.buf)
    t.equal(pdu.esm_class & 0x40, 0x40, 'UDHI set')
    t.equal(pdu.data_coding, 8)
    t.equal(pdu.registered_delivery, 1)
    const sm = pdu.short_message as Buffer
    t.same([...sm.subarray(0, 3)], [0x05, 0x00, 0x03])
    t.equal(sm[4], 3, 'total')
    t.equal(sm[5], i + 1, 'seq')
    t.equal(p.refOffset, p.buf.length - sm.length + 3)
  })
  const cycle = submitCycle({ gsm: 70, ucs2: 20, 'long-gsm': 10 }, 0)
  const kinds = cycle.map((c) => c.kind)
  t.equal(kinds.filter((k) => k === 'gsm').length, 70)
  t.equal(kinds.filter((k) => k === 'ucs2').length, 20)
  t.equal(kinds.filter((k) => k === 'long-gsm').length, 30, '10 long messages of 3 parts')
  for (let i = 0; i < cycle.length; i++) {
    if (cycle[i].part === 1) t.same([cycle[i + 1].part, cycle[i + 2].part], [2, 3], 'parts stay consecutive')
  }
})

t.test('a server that unbinds every bind ends the run: sending stops, the unbinds are counted', async (t) => {
  // Binds everyone, acknowledges submits (an empty id), and after 300 ms sends unbind on every connection (a server stopping).
  const { port, sockets } = await standIn(t, (id, seq, socket) => {
    socket.write(pdu((id | 0x80000000) >>> 0, 0, seq, id === CommandId.bind_transceiver || id === CommandId.submit_sm ? 1 : 0))
  })
  const load = new EsmeLoad({ port, binds: 2, window: 5, rate: 200, durationS: 30, drainMs: 2000, progress: false })
  await load.connect()
  setTimeout(() => { for (const s of sockets) s.write(pdu(CommandId.unbind, 0, 1)) }, 300)
  const started = Date.now()
  const r = await load.run()
  await load.close(500)
  t.ok(Date.now() - started < 10_000, `the run ended ${Date.now() - started} ms after it began, not after its 30 s`)
  t.equal(r.serverUnbinds, 2, 'both unbinds counted')
  t.ok(r.sent > 0 && r.sent < 30 * 200, `${r.sent} sent`)
})
