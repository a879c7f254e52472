/**
 * Framer: turns a TCP byte stream into complete PDU frames. One socket read yields a batch of
 * frames (zero-copy subarrays of the chunk where a frame lies inside it); leftovers are kept for
 * the next read. command_length is checked before anything is allocated: a value below the header
 * size or above maxPduLength breaks the stream (SMPP 3.4 §3.2: the length field is the whole PDU),
 * and the session answers generic_nack ESME_RINVCMDLEN and closes. The framer never allocates
 * more than maxPduLength, whatever a peer claims.
 */
import { CommandStatus, DEFAULT_MAX_PDU_LENGTH, HEADER_LENGTH } from './constants'

export interface FramerError {
  status: number
  commandLength: number
  /** Header fields when they were readable (to answer with the peer's sequence number). */
  commandId: number
  sequenceNumber: number
}

const EMPTY = Buffer.alloc(0)

export class Framer {
  /** Set once the stream is broken; no frame is produced after it. */
  error: FramerError | null = null
  private pending: Buffer = EMPTY
  /** Bytes of `pending` already filled when it is a preallocated frame of known length. */
  private filled = 0
  /** True when `pending` is a frame buffer of exactly command_length octets being filled. */
  private sized = false

  constructor(private readonly maxPduLength = DEFAULT_MAX_PDU_LENGTH) {}

  /** Bytes held back waiting for the rest of a frame. */
  get buffered(): number {
    return this.sized ? this.filled : this.pending.length
  }

  /**
   * Feeds one chunk; appends complete frames to `out`. Returns false once the stream is broken
   * (see `error`); frames that were complete before the bad header are still appended.
   */
  push(chunk: Buffer, out: Buffer[]): boolean {
    if (this.error) return false
    let off = 0
    // 1. Finish a frame that is being filled.
    if (this.sized) {
      const need = this.pending.length - this.filled
      const take = Math.min(need, chunk.length)
      chunk.copy(this.pending, this.filled, 0, take)
      this.filled += take
      off = take
      if (this.filled < this.pending.length) return true
      out.push(this.pending)
      this.pending = EMPTY
      this.sized = false
      this.filled = 0
    } else if (this.pending.length > 0) {
      // 2. A partial header is held: complete the header first (at most 15 bytes copied).
      const need = HEADER_LENGTH - this.pending.length
      const take = Math.min(need, chunk.length)
      const head = Buffer.concat([this.pending, chunk.subarray(0, take)])
      off = take
      if (head.length < HEADER_LENGTH) {
        this.pending = head
        return true
      }
      this.pending = EMPTY
      const len = head.readUInt32BE(0)
      if (!this.checkLength(len, head)) return false
      const frame = Buffer.allocUnsafe(len)
      head.copy(frame, 0)
      const rest = Math.min(len - HEADER_LENGTH, chunk.length - off)
      chunk.copy(frame, HEADER_LENGTH, off, off + rest)
      off += rest
      if (HEADER_LENGTH + rest < len) {
        this.pending = frame
        this.filled = HEADER_LENGTH + rest
        this.sized = true
        return true
      }
      out.push(frame)
    }
    // 3. Whole frames inside the chunk: zero-copy.
    while (chunk.length - off >= HEADER_LENGTH) {
      const len = chunk.readUInt32BE(off)
      if (!this.checkLength(len, chunk, off)) return false
      if (chunk.length - off < len) break
      out.push(chunk.subarray(off, off + len))
      off += len
    }
    // 4. Keep the tail.
    const tail = chunk.length - off
    if (tail === 0) return true
    if (tail < HEADER_LENGTH) {
      this.pending = Buffer.from(chunk.subarray(off))
      return true
    }
    const len = chunk.readUInt32BE(off)
    const frame = Buffer.allocUnsafe(len)
    chunk.copy(frame, 0, off)
    this.pending = frame
    this.filled = tail
    this.sized = true
    return true
  }

  private checkLength(len: number, buf: Buffer, off = 0): boolean {
    if (len >= HEADER_LENGTH && len <= this.maxPduLength) return true
    this.error = {
      status: CommandStatus.ESME_RINVCMDLEN,
      commandLength: len,
      commandId: buf.readUInt32BE(off + 4),
      sequenceNumber: buf.readUInt32BE(off + 12),
    }
    this.pending = EMPTY
    this.sized = false
    return false
  }
}
