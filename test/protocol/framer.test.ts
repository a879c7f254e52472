/**
 * Framer: a TCP byte stream in, whole frames out, whatever the chunking. Every fixture split at
 * every byte offset; several PDUs per chunk; one byte at a time; and a command_length outside
 * 16..maxPduLength breaks the stream with ESME_RINVCMDLEN before anything of that size is allocated
 * (SMPP 3.4 §3.2; node-smpp crashes here, BRIEF §4).
 */
import t from 'tap'
import { CommandStatus, DEFAULT_MAX_PDU_LENGTH } from '../../engine/protocol/constants'
import { Framer } from '../../engine/protocol/framer'
import { FIXTURES } from './fixtures'

const FRAMES = FIXTURES.map((f) => Buffer.from(f.hex, 'hex'))
const STREAM = Buffer.concat(FRAMES)
const hex = (bufs: Buffer[]) => bufs.map((b) => b.toString('hex'))

/** Pushes the chunks in order; returns the frames, copied (the framer may hand out views). */
function run(framer: Framer, chunks: Buffer[]): { frames: Buffer[]; ok: boolean } {
  const frames: Buffer[] = []
  let ok = true
  for (const c of chunks) {
    const out: Buffer[] = []
    ok = framer.push(c, out) && ok
    for (const f of out) frames.push(Buffer.from(f))
  }
  return { frames, ok }
}

/** A 16-octet header (command_length, command_id, command_status, sequence_number). */
function header(commandLength: number, commandId: number, sequenceNumber: number): Buffer {
  const b = Buffer.alloc(16)
  b.writeUInt32BE(commandLength >>> 0, 0)
  b.writeUInt32BE(commandId >>> 0, 4)
  b.writeUInt32BE(sequenceNumber >>> 0, 12)
  return b
}

t.test('every fixture split at every byte offset yields exactly the original frame', async (t) => {
  let cases = 0
  for (let i = 0; i < FRAMES.length; i++) {
    const frame = FRAMES[i]
    for (let cut = 0; cut <= frame.length; cut++) {
      const framer = new Framer()
      const { frames, ok } = run(framer, [frame.subarray(0, cut), frame.subarray(cut)])
      cases++
      if (!ok || frames.length !== 1 || !frames[0].equals(frame) || framer.buffered !== 0) {
        t.fail(`${FIXTURES[i].name} cut at ${cut}: ok=${ok} frames=${hex(frames)} buffered=${framer.buffered}`)
        return
      }
    }
  }
  t.pass(`${cases} splits of ${FRAMES.length} fixtures`)
})

t.test('the stream of all fixtures split at every byte offset yields every frame in order', async (t) => {
  for (let cut = 0; cut <= STREAM.length; cut++) {
    const framer = new Framer()
    const { frames, ok } = run(framer, [STREAM.subarray(0, cut), STREAM.subarray(cut)])
    if (!ok || frames.length !== FRAMES.length || !Buffer.concat(frames).equals(STREAM)) {
      t.fail(`cut at ${cut}: ok=${ok}, ${frames.length} frames`)
      return
    }
  }
  t.pass(`${STREAM.length + 1} splits of a ${FRAMES.length}-frame stream`)
})

t.test('three and a half PDUs in one chunk, then the rest', async (t) => {
  const [a, b, c, d] = FRAMES.filter((f) => f.length > 20).slice(0, 4)
  const half = Math.floor(d.length / 2)
  const framer = new Framer()
  const out: Buffer[] = []
  t.equal(framer.push(Buffer.concat([a, b, c, d.subarray(0, half)]), out), true)
  t.strictSame(hex(out), hex([a, b, c]), 'the three whole frames at once')
  t.equal(framer.buffered, half, 'the half frame is held')
  const out2: Buffer[] = []
  t.equal(framer.push(d.subarray(half), out2), true)
  t.strictSame(hex(out2), hex([d]), 'the fourth frame on the next read')
  t.equal(framer.buffered, 0)
})

t.test('a partial header, then the rest of that frame plus more frames', async (t) => {
  const [a, b, c] = FRAMES.filter((f) => f.length > 20)
  const framer = new Framer()
  const { frames } = run(framer, [a.subarray(0, 5), Buffer.concat([a.subarray(5), b, c.subarray(0, 3)]), c.subarray(3)])
  t.strictSame(hex(frames), hex([a, b, c]))
})

t.test('one byte at a time', async (t) => {
  const framer = new Framer()
  const chunks: Buffer[] = []
  for (let i = 0; i < STREAM.length; i++) chunks.push(STREAM.subarray(i, i + 1))
  const { frames, ok } = run(framer, chunks)
  t.equal(ok, true)
  t.strictSame(hex(frames), hex(FRAMES))
  t.equal(framer.buffered, 0)
})

t.test('an empty chunk changes nothing', async (t) => {
  const framer = new Framer()
  const f = FRAMES[0]
  const { frames } = run(framer, [Buffer.alloc(0), f.subarray(0, 3), Buffer.alloc(0), f.subarray(3), Buffer.alloc(0)])
  t.strictSame(hex(frames), hex([f]))
})

t.test('frames stay intact after the chunk they came from is overwritten', async (t) => {
  // A frame may be a view of the chunk; the caller owns the chunk. A frame the framer assembled
  // across chunks must not be a view of either chunk.
  const f = FRAMES.find((x) => x.length > 40)!
  const first = Buffer.from(f.subarray(0, 20))
  const second = Buffer.from(f.subarray(20))
  const framer = new Framer()
  const out: Buffer[] = []
  framer.push(first, out)
  framer.push(second, out)
  first.fill(0xee)
  second.fill(0xee)
  t.equal(out[0].toString('hex'), f.toString('hex'))
})

// ------------------------------------------------------------- bad command_length

t.test('command_length 0x7fffffff: ESME_RINVCMDLEN with the sequence number, nothing allocated', async (t) => {
  const framer = new Framer()
  const before = process.memoryUsage().arrayBuffers
  const out: Buffer[] = []
  const bad = Buffer.concat([header(0x7fffffff, 0x00000004, 4242), Buffer.alloc(100, 0x41)])
  t.equal(framer.push(bad, out), false, 'push reports the broken stream')
  const grown = process.memoryUsage().arrayBuffers - before
  t.ok(grown < 16 * 1024 * 1024, `arrayBuffers grew by ${grown} octets, not by ~2 GB`)
  t.strictSame(framer.error, { status: CommandStatus.ESME_RINVCMDLEN, commandLength: 0x7fffffff, commandId: 4, sequenceNumber: 4242 })
  t.strictSame(out, [], 'no frame')
  t.ok(framer.buffered <= 16, `buffered ${framer.buffered}`)
  t.equal(framer.push(FRAMES[0], out), false, 'a broken stream stays broken')
  t.strictSame(out, [], 'and yields nothing more')
})

t.test('command_length above maxPduLength, header arriving in pieces', async (t) => {
  const framer = new Framer(1024)
  const h = header(1025, 0x00000004, 77)
  const out: Buffer[] = []
  t.equal(framer.push(h.subarray(0, 7), out), true, 'not decidable before the header is whole')
  t.equal(framer.push(h.subarray(7), out), false)
  t.equal(framer.error?.status, CommandStatus.ESME_RINVCMDLEN)
  t.equal(framer.error?.sequenceNumber, 77)
  t.equal(framer.error?.commandLength, 1025)
  t.ok(framer.buffered <= 16)
})

t.test('command_length equal to maxPduLength is accepted', async (t) => {
  const framer = new Framer(64)
  const frame = Buffer.concat([header(64, 0x00000015, 1), Buffer.alloc(48)])
  const { frames, ok } = run(framer, [frame.subarray(0, 30), frame.subarray(30)])
  t.equal(ok, true)
  t.strictSame(hex(frames), hex([frame]))
})

t.test('the default maximum is DEFAULT_MAX_PDU_LENGTH', async (t) => {
  const framer = new Framer()
  t.equal(framer.push(header(DEFAULT_MAX_PDU_LENGTH + 1, 4, 9), []), false)
  t.equal(framer.error?.commandLength, DEFAULT_MAX_PDU_LENGTH + 1)
})

for (const len of [0, 1, 15]) {
  t.test(`command_length ${len} (< 16) breaks the stream with ESME_RINVCMDLEN`, async (t) => {
    const framer = new Framer()
    const out: Buffer[] = []
    t.equal(framer.push(Buffer.concat([header(len, 0x00000015, 31), Buffer.alloc(16)]), out), false)
    t.equal(framer.error?.status, CommandStatus.ESME_RINVCMDLEN)
    t.equal(framer.error?.commandLength, len)
    t.equal(framer.error?.sequenceNumber, 31)
    t.strictSame(out, [])
  })
}

t.test('frames before a bad header are still returned, in the same chunk', async (t) => {
  const [a, b] = FRAMES
  const framer = new Framer()
  const out: Buffer[] = []
  t.equal(framer.push(Buffer.concat([a, b, header(0xffffffff, 0x00000004, 5), Buffer.alloc(8)]), out), false)
  t.strictSame(hex(out), hex([a, b]))
  t.equal(framer.error?.sequenceNumber, 5)
  t.equal(framer.error?.commandLength, 0xffffffff)
})

t.test('a frame completed by the chunk that also carries a bad header is returned', async (t) => {
  const a = FRAMES.find((x) => x.length > 30)!
  const framer = new Framer()
  const out: Buffer[] = []
  t.equal(framer.push(a.subarray(0, 20), out), true)
  t.equal(framer.push(Buffer.concat([a.subarray(20), header(3, 0x00000015, 6)]), out), false)
  t.strictSame(hex(out), hex([a]))
  t.equal(framer.error?.commandLength, 3)
})

t.test('a frame completed by a split header that turns out bad is returned', async (t) => {
  // the bad header straddles two chunks: the framer holds its first octets, then sees it whole
  const a = FRAMES[0]
  const bad = header(0x10000000, 0x00000004, 8)
  const framer = new Framer()
  const out: Buffer[] = []
  t.equal(framer.push(Buffer.concat([a, bad.subarray(0, 10)]), out), true)
  t.strictSame(hex(out), hex([a]))
  t.equal(framer.push(bad.subarray(10), out), false)
  t.equal(framer.error?.sequenceNumber, 8)
  t.ok(framer.buffered <= 16)
})
