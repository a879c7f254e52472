/**
 * Framer micro-benchmarks (engine/protocol/framer.ts): a stream of submit_sm frames fed in 1-byte
 * chunks (the worst case: every frame reassembled), in 64 KiB chunks (the common case of a busy
 * socket: whole frames are zero-copy subarrays), and as exactly one frame per chunk.
 */
import { Framer } from '../../engine/protocol/framer'
import { submitTemplates } from '../templates'
import { measure, type MicroResult } from './harness'

export async function run(): Promise<MicroResult[]> {
  const frame = submitTemplates('gsm', 1)[0].buf
  const perStream = Math.floor((1 << 20) / frame.length) // ~1 MiB of frames
  const stream = Buffer.concat(Array.from({ length: perStream }, () => frame))
  const out: MicroResult[] = []
  const sink: Buffer[] = []

  const chunks64k: Buffer[] = []
  for (let off = 0; off < stream.length; off += 65_536) chunks64k.push(stream.subarray(off, Math.min(off + 65_536, stream.length)))
  out.push(measure('framer', `64 KiB chunks (${frame.length} B frames)`, () => {
    const f = new Framer()
    for (const c of chunks64k) { sink.length = 0; f.push(c, sink) }
  }, { items: perStream }))

  out.push(measure('framer', 'one frame per chunk', () => {
    const f = new Framer()
    sink.length = 0
    f.push(frame, sink)
  }))

  const small = stream.subarray(0, frame.length * 100)
  const bytes = Array.from({ length: small.length }, (_, i) => small.subarray(i, i + 1))
  out.push(measure('framer', '1-byte chunks (100 frames)', () => {
    const f = new Framer()
    for (const b of bytes) { sink.length = 0; f.push(b, sink) }
  }, { items: 100 }))
  return out
}
