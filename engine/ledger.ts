/**
 * Prepaid credit: balances in memory, changed only synchronously, and the ledger entries that record
 * each change. A check-and-debit (tryDebit) is one synchronous step in this single-threaded process, so
 * concurrent binds can never overdraw an account. Each change yields the LedgerEntry the caller commits
 * (CommitBatch.ledger) in the same store transaction as the messages it pays for; the store keeps
 * balances[systemId] = the last committed entry's balance, so balance == sum of the account's deltas.
 *
 * Units may be fractional (prices): arithmetic is exact in integer micro-units (1e-6) internally, and
 * every amount is rounded to the micro-unit.
 */
import type { Store } from './store'

export interface LedgerEntry {
  systemId: string
  /** Store-assigned at commit, increasing across all accounts. */
  seq?: number
  t: number
  /** Change of the balance (negative for debits). */
  delta: number
  /** Balance after this entry. */
  balance: number
  reason: 'opening' | 'grant' | 'transfer-in' | 'transfer-out' | 'submit' | 'refund' | 'adjust'
  /** Who made the change: a principal name, or the account itself for submits. */
  by: string
  /** What it pays for or relates to: a message id, the other side of a transfer. */
  ref?: string
  /** Message parts a submit/refund entry covers. */
  count?: number
}

export const MICRO = 1_000_000
const MAX_MICRO = Number.MAX_SAFE_INTEGER

/** `units` in micro-units, rounded; throws on NaN, infinities and amounts past 2^53 micro-units. */
export function toMicro(units: number): number {
  const m = Math.round(units * MICRO)
  if (!Number.isSafeInteger(m) || Math.abs(m) > MAX_MICRO) throw new RangeError(`credit amount out of range: ${units}`)
  return m
}

export function fromMicro(micro: number): number {
  return micro / MICRO
}

export class Ledger {
  private readonly micro = new Map<string, number>() // systemId -> balance in micro-units

  constructor(store: Store, private readonly now: () => number) {
    for (const [systemId, balance] of store.balances()) this.micro.set(systemId, toMicro(balance))
  }

  /** Current balance (committed and in flight); 0 for an unknown account. */
  balance(systemId: string): number {
    return fromMicro(this.micro.get(systemId) ?? 0)
  }

  /** Hot path: debit `units` (>= 0) if the balance covers it; false (and no change) otherwise. */
  tryDebit(systemId: string, units: number): boolean {
    const m = toMicro(units)
    if (m < 0) throw new RangeError(`debit must not be negative: ${units}`)
    const have = this.micro.get(systemId) ?? 0
    if (have < m) return false
    this.micro.set(systemId, have - m)
    return true
  }

  /** One entry for the debits of a batch already taken with tryDebit (delta = -units), reason 'submit'. */
  debitEntry(systemId: string, units: number, count: number, ref: string): LedgerEntry {
    return {
      systemId, t: this.now(), delta: -fromMicro(toMicro(units)), balance: this.balance(systemId), reason: 'submit', by: systemId, ref, count,
    }
  }

  /** Adds `units` (>= 0) and returns the entry: refunds, grants, the receiving side of a transfer. */
  credit(systemId: string, units: number, reason: LedgerEntry['reason'], by: string, ref?: string, count?: number): LedgerEntry {
    const m = toMicro(units)
    if (m < 0) throw new RangeError(`credit must not be negative: ${units}`)
    const after = (this.micro.get(systemId) ?? 0) + m
    if (after > MAX_MICRO) throw new RangeError(`balance of ${systemId} out of range`)
    this.micro.set(systemId, after)
    return entry(systemId, this.now(), m, after, reason, by, ref, count)
  }

  /** Checked debit with an entry (the giving side of a transfer, an adjustment): null, and no change, if the balance does not cover it. */
  debit(systemId: string, units: number, reason: LedgerEntry['reason'], by: string, ref?: string, count?: number): LedgerEntry | null {
    if (!this.tryDebit(systemId, units)) return null
    return entry(systemId, this.now(), -toMicro(units), this.micro.get(systemId) ?? 0, reason, by, ref, count)
  }

  /** Undo an entry whose commit failed (restores the in-memory balance). */
  revert(e: LedgerEntry): void {
    this.micro.set(e.systemId, (this.micro.get(e.systemId) ?? 0) - toMicro(e.delta))
  }
}

function entry(
  systemId: string, t: number, deltaMicro: number, balanceMicro: number, reason: LedgerEntry['reason'], by: string, ref?: string, count?: number,
): LedgerEntry {
  const e: LedgerEntry = { systemId, t, delta: fromMicro(deltaMicro), balance: fromMicro(balanceMicro), reason, by }
  if (ref !== undefined) e.ref = ref
  if (count !== undefined) e.count = count
  return e
}
