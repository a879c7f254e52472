/**
 * Opt-outs, pure: the numbers MT admission refuses (a subscriber who texted STOP must get nothing more from that
 * brand; docs/ROUTING.md "Opt-outs"). A list is the operator's global one (scope GLOBAL) or one account's (its
 * systemId); a submit of an account is refused for a number on the global list, on its own, or on its reseller's.
 *
 * Numbers are compared in international form without prefix: digits, a leading '+' or '00' (the international
 * prefix) dropped, so "+4915112345678", "004915112345678" and "4915112345678" are one entry (numberKey). A national
 * form ("015112345678", TON 2) is another number: it cannot be made international without knowing the country, so it
 * matches only the same digits (docs/ROUTING.md "Opt-outs", "Which numbers match").
 *
 * OptOutLists is the in-memory index the hot path asks (a Set per list: one lookup per destination and list,
 * nothing at all while every list is empty). The store owns the one instance: it loads it at open and changes it
 * when a commit that carries opt-out changes is committed (engine/store.ts, `optouts` database), so what is in
 * memory is what is on disk.
 */

/** The scope of the operator's global list (no systemId is empty). */
export const GLOBAL = ''

/** Numbers on one list at most, and on all lists together: each costs ~70 bytes of heap (a Set entry and its string). */
export const MAX_PER_LIST = 1_000_000
export const MAX_TOTAL = 2_000_000
/** Numbers one add or remove request takes (API, CLI in chunks of this). */
export const MAX_PER_REQUEST = 1000
/** Digits of a number: an E.164 number has at most 15; SMPP 3.4 §5.2.9 destination_addr holds 20 characters. */
const MAX_DIGITS = 20

/** One entry as stored and listed: the number, when it was added (ms) and by whom or what ('admin', 'res1', 'staff:ann', 'mo:STOP'). */
export type { OptOutEntry } from './wire'

/** A change of a list, as the store commits it: `entry` null removes the number. */
export interface OptOutChange { scope: string; number: string; entry: { at: number; by: string } | null }

/** Which list refused a destination (the label of smsc_optout_refused_total). */
export type OptOutList = 'global' | 'account' | 'reseller'

/**
 * THE normalisation of a number for the lists (list keys, MT admission and dispatch, an MO's sender): the address
 * without a leading '+' or '00' (the international prefix: ITU-T E.164 numbers are written after either); no copy
 * when it has neither. National forms stay as they are.
 */
export function numberKey(addr: string): string {
  const c = addr.charCodeAt(0)
  if (c === 0x2b /* + */) return addr.slice(1)
  return c === 0x30 /* 0 */ && addr.charCodeAt(1) === 0x30 ? addr.slice(2) : addr
}

/** Whether an address is written in international form ('+' or '00' first): what an MO sender of TON 1 is anyway. */
export function looksInternational(addr: string): boolean {
  const c = addr.charCodeAt(0)
  return c === 0x2b || (c === 0x30 && addr.charCodeAt(1) === 0x30)
}

/**
 * A number as a person or an MO gives it, normalised: separators people type (spaces, dashes, dots, brackets) dropped,
 * then numberKey (a leading '+' or '00'); null unless 1 to 20 digits are left ("12ab" is not a number, nor is an alphanumeric sender).
 */
export function normaliseNumber(v: unknown): string | null {
  if (typeof v !== 'string') return null
  const s = numberKey(v.trim().replace(/[\s().-]/g, ''))
  return s.length >= 1 && s.length <= MAX_DIGITS && /^\d+$/.test(s) ? s : null
}

/** The problem with a number given at `where` (`numbers[2]`), or null: one line naming the field. */
export function numberProblem(v: unknown, where: string): string | null {
  if (normaliseNumber(v) !== null) return null
  return `${where} must be a phone number: 1 to ${MAX_DIGITS} digits, a leading "+" or "00" and spaces, dashes, dots or brackets allowed (got ${JSON.stringify(v) ?? String(v)})`
}

export class OptOutLists {
  private readonly lists = new Map<string, Set<string>>()
  private total = 0

  /** Numbers on all lists together: 0 means the hot path checks nothing. */
  get size(): number {
    return this.total
  }

  /** The list of a scope (GLOBAL or a systemId), undefined when it is empty. */
  list(scope: string): ReadonlySet<string> | undefined {
    return this.lists.get(scope)
  }

  /** Numbers on one list. */
  count(scope: string): number {
    return this.lists.get(scope)?.size ?? 0
  }

  has(scope: string, number: string): boolean {
    return this.lists.get(scope)?.has(number) === true
  }

  /** Adds; false when it was there already. */
  add(scope: string, number: string): boolean {
    let l = this.lists.get(scope)
    if (l === undefined) this.lists.set(scope, (l = new Set()))
    if (l.has(number)) return false
    l.add(number)
    this.total++
    return true
  }

  /** Removes; false when it was not there. An emptied list goes, so list() answers undefined for it. */
  delete(scope: string, number: string): boolean {
    const l = this.lists.get(scope)
    if (l === undefined || !l.delete(number)) return false
    this.total--
    if (l.size === 0) this.lists.delete(scope)
    return true
  }

  /** Forgets a whole list (its account was removed). */
  drop(scope: string): void {
    const l = this.lists.get(scope)
    if (l === undefined) return
    this.total -= l.size
    this.lists.delete(scope)
  }

  /** The scopes whose list holds `number` (GLOBAL first): one set lookup per list, for support's "who blocks this number". */
  holding(number: string): string[] {
    const out: string[] = []
    if (this.has(GLOBAL, number)) out.push(GLOBAL)
    for (const [scope, l] of this.lists) if (scope !== GLOBAL && l.has(number)) out.push(scope)
    return out
  }

  apply(changes: readonly OptOutChange[]): void {
    for (const c of changes) {
      if (c.entry === null) this.delete(c.scope, c.number)
      else this.add(c.scope, c.number)
    }
  }

  /**
   * The lists that bind an account (the global one, its own, its reseller's `parent`), looked up once for a batch;
   * null when none of them holds a number. With OptOutBinding.listOf, THE rule of who may not be sent to: MT admission
   * (screen) and the dispatcher's check of a destination when it is due (actors/dispatcher.ts) both ask it.
   */
  binding(systemId: string, parent: string | null): OptOutBinding | null {
    const g = this.lists.get(GLOBAL)
    const own = this.lists.get(systemId)
    const tree = parent === null ? undefined : this.lists.get(parent)
    return g === undefined && own === undefined && tree === undefined ? null : new OptOutBinding(g, own, tree)
  }

  /**
   * MT admission (engine/index.ts admitRecords, before the rate actor, routing and credit, so a refusal costs
   * nothing): every destination of the records still admitted (`statuses[i]` 0) on a list that binds the account
   * (the global one, its own, its reseller's) is taken out of its record. A record left without destinations is
   * refused with `status`; one that keeps some (submit_multi) goes on with those, and `removed[i]` lists the ones
   * taken out (for its unsuccess_sme). Null when nothing was refused. The lists are looked up once per batch (binding),
   * then one Set lookup per destination and non-empty list; the caller skips the call while size is 0. A STOP
   * confirmation (`confirmsOptOut`, an MO route's reply) passes: it is the one message allowed after a STOP.
   */
  screen<D extends { addr: [number, number, string] }>(
    systemId: string, parent: string | null, records: readonly { dests: D[]; confirmsOptOut?: true }[], statuses: number[], status: number,
  ): { removed: (D[] | undefined)[]; counts: Record<OptOutList, number> } | null {
    const b = this.binding(systemId, parent)
    if (b === null) return null
    let out: { removed: (D[] | undefined)[]; counts: Record<OptOutList, number> } | null = null
    for (let i = 0; i < records.length; i++) {
      if (statuses[i] !== 0 || records[i].confirmsOptOut === true) continue
      const dests = records[i].dests
      let kept: D[] | null = null
      for (let k = 0; k < dests.length; k++) {
        const list = b.listOf(dests[k].addr[2])
        if (list === null) { kept?.push(dests[k]); continue }
        out ??= { removed: [], counts: { global: 0, account: 0, reseller: 0 } }
        out.counts[list]++
        ;(out.removed[i] ??= []).push(dests[k])
        kept ??= dests.slice(0, k)
      }
      if (kept === null) continue
      if (kept.length === 0) statuses[i] = status
      else records[i].dests = kept
    }
    return out
  }
}

/** The lists that bind one account (OptOutLists.binding): each undefined when empty. */
export class OptOutBinding {
  constructor(
    private readonly global: ReadonlySet<string> | undefined,
    private readonly own: ReadonlySet<string> | undefined,
    private readonly reseller: ReadonlySet<string> | undefined,
  ) {}

  /** The list that refuses a destination address (the global one first, then the account's, then its reseller's), or null. */
  listOf(addr: string): OptOutList | null {
    const n = numberKey(addr)
    return this.global?.has(n) ? 'global' : this.own?.has(n) ? 'account' : this.reseller?.has(n) ? 'reseller' : null
  }
}
