/**
 * The piscina worker of the piscina micro-benchmark: `echo` (the bare round trip) and `decodeBatch`
 * (frames packed in one transferred ArrayBuffer, framed and decoded with the engine's codec, the
 * decoded PDUs returned by structured clone: what a worker-pool codec would pay per batch).
 */
import { decode, type Pdu } from '../../engine/protocol/codec'

export function echo(x: number): number {
  return x
}

export function decodeBatch(task: { buf: ArrayBuffer; length: number }): Pdu[] {
  const buf = Buffer.from(task.buf, 0, task.length)
  const out: Pdu[] = []
  for (let off = 0; off + 16 <= buf.length;) {
    const len = buf.readUInt32BE(off)
    out.push(decode(buf.subarray(off, off + len)))
    off += len
  }
  return out
}
