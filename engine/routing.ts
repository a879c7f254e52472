/**
 * Routing tables, pure: the MT table (which connector(s) carry a submit, or which status refuses
 * it, and its price) and the MO table (which account receives a mobile-originated message).
 * validateRouteTables() checks a table from config, the API or the CLI with one-line errors that
 * name the path; MtRouter and MoRouter compile a validated table once and answer per message with
 * no I/O, no allocation beyond the result, and regexes compiled at construction.
 *
 * Matching rules (docs/ROUTING.md):
 * - Routes are tried in order; the first whose every given match field matches wins. A route with
 *   an empty match matches everything.
 * - Address prefixes are digits; a leading '+' is ignored both in the rule and in the address.
 * - sourcePrefix entries that are digits (with an optional '+') are prefixes; any other entry is an
 *   exact alphanumeric sender id (case-sensitive).
 * - Regexes are tested, unanchored and as written, against the address exactly as submitted.
 * - A time window is [from, to) in the zone `utcOffsetMinutes` east of UTC; from > to wraps
 *   midnight, and then `days` names the day the window opens (Fri 22:00-06:00 covers Sat 03:00).
 *   `to` may be "24:00" for the end of the day.
 * - Nothing matched → ESME_RINVDSTADR (SMPP 3.4 §5.1.3) with route null.
 * - An MO route's `optOut` ("add" | "remove") puts the MO's sender on or off its account's opt-out list
 *   (engine/optouts.ts; engine/index.ts applies MoRouter.decide's decision in the MO's commit).
 * - An MO route's `reply` is a text sent back to the MO's sender once the MO is committed (engine/index.ts sends it
 *   as an MT of the route's account); ReplyGuard keeps that to one per route and sender a minute.
 */
import { CommandStatus } from './protocol/constants'
import { countParts } from './protocol/text/split'
import { smscError } from './errors'
// config.ts imports this module too: only functions are shared, used at call time, so the cycle is safe.
import { at, isPlainObject, showValue } from './config'

// ---------------------------------------------------------------------------------------------
// Types

export interface TimeWindow {
  from: string // 'HH:MM'
  to: string // 'HH:MM'; from > to wraps midnight
  days?: number[] // 0=Sun..6=Sat
  utcOffsetMinutes?: number // default 0
}

export interface MtMatch {
  accounts?: string[] // systemIds
  groups?: string[] // account groups
  destPrefix?: string[] // destination address prefixes (digits; a leading '+' in the rule is ignored)
  destRegex?: string // tested against the destination address
  sourcePrefix?: string[] // source address (sender id) prefixes or exact alphanumeric ids
  sourceRegex?: string
  time?: TimeWindow
}

export type MtAction =
  | { connector: string }
  | { roundRobin: string[] }
  | { failover: string[] }
  | { reject: number } // command_status to refuse with (e.g. 0x0B ESME_RINVDSTADR)

export interface MtRoute {
  name: string
  match: MtMatch
  action: MtAction
  price?: number // credit units per message part, default 1
}

export interface MoRoute {
  name: string
  /** keyword: the first word of the text (see firstWord), case-insensitive; one word or a list of them */
  match: { destPrefix?: string[]; keyword?: string | string[] }
  account: string
  /** The MO's sender (the subscriber) goes on ('add', STOP) or off ('remove', START) `account`'s opt-out list
   *  (engine/optouts.ts); the MO is delivered to the account as any other. */
  optOut?: MoOptOut
  /** An auto-reply (Kannel's sms-service `text`; a STOP or HELP confirmation): sent back to the MO's sender from the number
   *  it texted, as an MT of `account`, once the MO is committed; at most MAX_REPLY_PARTS parts. */
  reply?: string
}

/** A UTF-16 surrogate without its other half (a JSON text may hold one: "\ud83d"). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** Parts an auto-reply may take: 459 GSM 7-bit characters, or 201 UCS2 ones (3GPP TS 23.040 concatenation, 8-bit reference). */
export const MAX_REPLY_PARTS = 3

export const MO_OPT_OUTS = ['add', 'remove'] as const
export type MoOptOut = (typeof MO_OPT_OUTS)[number]

/** Where an MO goes: the route's account, and what it does to that account's opt-out list. */
export interface MoDecision {
  account: string
  optOut: MoOptOut | null
  /** Who the opt-out list entry says added it: `mo:` and the route's keyword (or its name, without one). */
  by: string
  /** The route's name (logs, the reply guard's key). */
  route: string
  /** The route's auto-reply text, or null. */
  reply: string | null
}

export interface RouteTables {
  mt: MtRoute[]
  mo: MoRoute[]
}

export const DEFAULT_ROUTES: RouteTables = {
  mt: [{ name: 'default', match: {}, action: { connector: 'simulator' } }],
  mo: [],
}

/** Price of a message part when a route gives none. */
export const DEFAULT_PRICE = 1

// ---------------------------------------------------------------------------------------------
// Validation

type Code = 'SMSC_ERR_CONFIG_INVALID' | 'SMSC_ERR_API_INVALID'
type Obj = Record<string, unknown>

const MT_ROUTE_KEYS = ['name', 'match', 'action', 'price'] as const
const MT_MATCH_KEYS = ['accounts', 'groups', 'destPrefix', 'destRegex', 'sourcePrefix', 'sourceRegex', 'time'] as const
const MT_ACTION_KEYS = ['connector', 'roundRobin', 'failover', 'reject'] as const
const TIME_KEYS = ['from', 'to', 'days', 'utcOffsetMinutes'] as const
const MO_ROUTE_KEYS = ['name', 'match', 'account', 'optOut', 'reply'] as const
const MO_MATCH_KEYS = ['destPrefix', 'keyword'] as const

const MAX_U32 = 0xffff_ffff
/** UTC-12:00 .. UTC+14:00, in minutes. */
const MAX_UTC_OFFSET = 14 * 60
const PREFIX_RE = /^\+?\d+$/
const HHMM_RE = /^([01]\d|2[0-3]):([0-5]\d)$/

/** One validation pass: carries the error code so every helper throws the caller's code. */
class Checker {
  constructor(private readonly code: Code) {}

  fail(message: string): never {
    throw smscError(this.code, message)
  }

  object(v: unknown, path: string, known: readonly string[]): Obj {
    if (!isPlainObject(v)) this.fail(`${path} must be an object (got ${showValue(v)})`)
    for (const k of Object.keys(v)) if (!known.includes(k)) this.fail(`${at(path, k)} is not a known key`)
    return v
  }

  text(v: unknown, path: string): string {
    if (typeof v === 'string' && v.length > 0) return v
    return this.fail(`${path} must be a non-empty string (got ${showValue(v)})`)
  }

  /** A non-empty array whose elements pass `item`; `what` names the elements in the message. */
  list<T>(v: unknown, path: string, what: string, item: (x: unknown, p: string) => T): T[] {
    if (!Array.isArray(v) || v.length === 0) this.fail(`${path} must be a non-empty array of ${what} (got ${showValue(v)})`)
    return v.map((x, i) => item(x, `${path}[${i}]`))
  }

  strings(v: unknown, path: string): string[] {
    return this.list(v, path, 'strings', (x, p) => this.text(x, p))
  }

  prefixes(v: unknown, path: string): string[] {
    return this.list(v, path, 'digit prefixes', (x, p) => {
      if (typeof x === 'string' && PREFIX_RE.test(x)) return x
      return this.fail(`${p} must be digits with an optional leading "+" (got ${showValue(x)})`)
    })
  }

  regex(v: unknown, path: string): string {
    const s = this.text(v, path)
    try {
      new RegExp(s)
    } catch (e) {
      // V8: "Invalid regular expression: /(/: Unterminated group" → keep the reason only.
      const reason = String((e as Error).message).split(': ').pop()
      this.fail(`${path} is not a valid regular expression: ${reason} (got ${showValue(s)})`)
    }
    return s
  }

  connector(v: unknown, path: string, connectors: ReadonlySet<string> | undefined): string {
    if (typeof v !== 'string' || v.length === 0) this.fail(`${path} must be a connector id (got ${showValue(v)})`)
    if (connectors !== undefined && !connectors.has(v)) {
      this.fail(`${path} must be a configured connector id (got ${showValue(v)}; connectors: ${[...connectors].join(', ') || 'none'})`)
    }
    return v
  }

  connectorList(v: unknown, path: string, connectors: ReadonlySet<string> | undefined, unique: boolean): string[] {
    const ids = this.list(v, path, 'connector ids', (x, p) => this.connector(x, p, connectors))
    if (unique) {
      ids.forEach((id, i) => {
        const first = ids.indexOf(id)
        if (first !== i) this.fail(`${path}[${i}] repeats ${path}[${first}] (got ${showValue(id)})`)
      })
    }
    return ids
  }

  hhmm(v: unknown, path: string, allow24: boolean): string {
    if (typeof v === 'string' && (HHMM_RE.test(v) || (allow24 && v === '24:00'))) return v
    return this.fail(`${path} must be a time "HH:MM" between "00:00" and "${allow24 ? '24:00' : '23:59'}" (got ${showValue(v)})`)
  }

  time(v: unknown, path: string): TimeWindow {
    const o = this.object(v, path, TIME_KEYS)
    const from = this.hhmm(o.from, `${path}.from`, false)
    const to = this.hhmm(o.to, `${path}.to`, true)
    if (minutesOf(from) === minutesOf(to)) {
      this.fail(`${path}.to must differ from ${path}.from (got ${showValue(to)}; use "00:00" to "24:00" for the whole day)`)
    }
    const out: TimeWindow = { from, to }
    if (o.days !== undefined) {
      const days = this.list(o.days, `${path}.days`, 'weekdays 0..6 (0 = Sunday)', (x, p) => {
        if (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 6) return x
        return this.fail(`${p} must be a weekday, an integer between 0 (Sunday) and 6 (Saturday) (got ${showValue(x)})`)
      })
      out.days = days
    }
    if (o.utcOffsetMinutes !== undefined) {
      const off = o.utcOffsetMinutes
      if (typeof off !== 'number' || !Number.isInteger(off) || off < -MAX_UTC_OFFSET || off > MAX_UTC_OFFSET) {
        this.fail(`${path}.utcOffsetMinutes must be an integer between -${MAX_UTC_OFFSET} and ${MAX_UTC_OFFSET} (got ${showValue(off)})`)
      }
      out.utcOffsetMinutes = off
    }
    return out
  }

  /** Checks names are unique within one table. */
  uniqueNames(routes: readonly { name: string }[], path: string): void {
    const seen = new Map<string, number>()
    routes.forEach((r, i) => {
      const first = seen.get(r.name)
      if (first !== undefined) this.fail(`${path}[${i}].name must be unique (got ${showValue(r.name)}, also ${path}[${first}].name)`)
      seen.set(r.name, i)
    })
  }

  mtRoute(v: unknown, path: string, connectors: ReadonlySet<string> | undefined): MtRoute {
    const o = this.object(v, path, MT_ROUTE_KEYS)
    const name = this.text(o.name, `${path}.name`)
    const m = this.object(o.match ?? {}, `${path}.match`, MT_MATCH_KEYS)
    const mp = `${path}.match`
    const match: MtMatch = {}
    if (m.accounts !== undefined) match.accounts = this.strings(m.accounts, `${mp}.accounts`)
    if (m.groups !== undefined) match.groups = this.strings(m.groups, `${mp}.groups`)
    if (m.destPrefix !== undefined) match.destPrefix = this.prefixes(m.destPrefix, `${mp}.destPrefix`)
    if (m.destRegex !== undefined) match.destRegex = this.regex(m.destRegex, `${mp}.destRegex`)
    if (m.sourcePrefix !== undefined) match.sourcePrefix = this.strings(m.sourcePrefix, `${mp}.sourcePrefix`)
    if (m.sourceRegex !== undefined) match.sourceRegex = this.regex(m.sourceRegex, `${mp}.sourceRegex`)
    if (m.time !== undefined) match.time = this.time(m.time, `${mp}.time`)

    const ap = `${path}.action`
    const a = this.object(o.action, ap, MT_ACTION_KEYS)
    const given = MT_ACTION_KEYS.filter((k) => a[k] !== undefined)
    if (given.length !== 1) {
      this.fail(`${ap} must have exactly one of connector, roundRobin, failover, reject (got ${showValue(a)})`)
    }
    let action: MtAction
    switch (given[0]) {
      case 'connector':
        action = { connector: this.connector(a.connector, `${ap}.connector`, connectors) }
        break
      case 'roundRobin': // repeats allowed: an id listed twice gets twice the share
        action = { roundRobin: this.connectorList(a.roundRobin, `${ap}.roundRobin`, connectors, false) }
        break
      case 'failover':
        action = { failover: this.connectorList(a.failover, `${ap}.failover`, connectors, true) }
        break
      default: {
        const s = a.reject
        // command_status is an unsigned 32-bit integer (SMPP 3.4 §3.2); 0 is ESME_ROK, not a refusal.
        if (typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > MAX_U32) {
          this.fail(`${ap}.reject must be a command_status, an integer between 1 and ${MAX_U32} (got ${showValue(s)})`)
        }
        action = { reject: s }
      }
    }

    const route: MtRoute = { name, match, action }
    if (o.price !== undefined) {
      const p = o.price
      if (typeof p !== 'number' || !Number.isFinite(p) || p < 0) {
        this.fail(`${path}.price must be a non-negative number (got ${showValue(p)})`)
      }
      route.price = p
    }
    return route
  }

  moRoute(v: unknown, path: string): MoRoute {
    const o = this.object(v, path, MO_ROUTE_KEYS)
    const name = this.text(o.name, `${path}.name`)
    const mp = `${path}.match`
    const m = this.object(o.match ?? {}, mp, MO_MATCH_KEYS)
    const match: MoRoute['match'] = {}
    if (m.destPrefix !== undefined) match.destPrefix = this.prefixes(m.destPrefix, `${mp}.destPrefix`)
    if (m.keyword !== undefined) {
      const k = m.keyword
      const word = (w: unknown): boolean => typeof w === 'string' && /^\S+$/.test(w) && w.length <= 64
      if (Array.isArray(k) ? k.length === 0 || k.length > 100 || !k.every(word) : !word(k)) {
        this.fail(`${mp}.keyword must be one word or a list of 1 to 100 words, each at most 64 characters (got ${showValue(k)})`)
      }
      match.keyword = Array.isArray(k) ? [...(k as string[])] : (k as string)
    }
    const account = this.text(o.account, `${path}.account`)
    const route: MoRoute = { name, match, account }
    if (o.optOut !== undefined) {
      if (!(MO_OPT_OUTS as readonly unknown[]).includes(o.optOut)) {
        this.fail(`${path}.optOut must be "add" or "remove" (the sender goes on or off ${showValue(account)}'s opt-out list) (got ${showValue(o.optOut)})`)
      }
      route.optOut = o.optOut as MoOptOut
    }
    if (o.reply !== undefined) route.reply = this.reply(o.reply, `${path}.reply`)
    return route
  }

  /** An auto-reply text: what fits MAX_REPLY_PARTS parts in the coding it will be sent in (GSM 7-bit when it can be, else UCS2). */
  reply(v: unknown, path: string): string {
    const what = `a text of 1 to ${MAX_REPLY_PARTS} message parts (at most ${MAX_REPLY_PARTS * 153} GSM 7-bit characters, €[]{}|^~\\ counting two, or ${MAX_REPLY_PARTS * 67} when it needs UCS2)`
    if (typeof v !== 'string' || v.trim().length === 0) return this.fail(`${path} must be ${what} (got ${showValue(v)})`)
    // Half an emoji (a text cut between a surrogate pair's halves) is in no coding: every reply would be refused when sent.
    const half = LONE_SURROGATE.exec(v)
    if (half !== null) {
      this.fail(`${path} must be ${what} (got a text UCS2 cannot carry: half of a surrogate pair, \\u${half[0].charCodeAt(0).toString(16)}, at character ${half.index + 1})`)
    }
    const n = countParts(v)
    if (n.parts > MAX_REPLY_PARTS) {
      const units = n.coding === 'gsm' ? `${n.units} GSM characters` : `${n.units} UCS2 characters`
      this.fail(`${path} must be ${what} (got ${units}: ${n.parts} parts)`)
    }
    return v
  }
}

/**
 * Validates a whole table (from config, API or CLI) and returns a fresh copy. Throws SmscError(code)
 * with ONE line naming the path, e.g.
 *   config.routes.mt[2].action.failover must be a non-empty array of connector ids (got [])
 * A missing `mt` is DEFAULT_ROUTES.mt and a missing `mo` is [] (config merges objects over the
 * defaults; arrays replace them whole). `connectors`, when given, is the set of known connector ids.
 */
export function validateRouteTables(v: unknown, path: string, code: Code, connectors?: ReadonlySet<string>): RouteTables {
  const c: Checker = new Checker(code) // annotated so c.fail() narrows (never-returning method)
  const o = c.object(v, path, ['mt', 'mo'])
  const mtIn = o.mt === undefined ? DEFAULT_ROUTES.mt : o.mt
  const moIn = o.mo === undefined ? DEFAULT_ROUTES.mo : o.mo
  if (!Array.isArray(mtIn)) c.fail(`${path}.mt must be an array of routes (got ${showValue(mtIn)})`)
  if (!Array.isArray(moIn)) c.fail(`${path}.mo must be an array of routes (got ${showValue(moIn)})`)
  const mt = mtIn.map((r, i) => c.mtRoute(r, `${path}.mt[${i}]`, connectors))
  c.uniqueNames(mt, `${path}.mt`)
  const mo = moIn.map((r, i) => c.moRoute(r, `${path}.mo[${i}]`))
  c.uniqueNames(mo, `${path}.mo`)
  return { mt, mo }
}

/** The connectors an MT route sends to (none for a reject). */
export function routeConnectors(r: MtRoute): readonly string[] {
  const a = r.action
  return 'connector' in a ? [a.connector] : 'failover' in a ? a.failover : 'roundRobin' in a ? a.roundRobin : []
}

// ---------------------------------------------------------------------------------------------
// Compiled routers

export type MtDecision =
  | {
      ok: true
      route: string
      /** Candidates in the order to try: one, rotated for roundRobin, in order for failover.
       *  Shared and frozen: read it, do not mutate it. */
      connectors: string[]
      price: number
    }
  | { ok: false; route: string | null; status: number /* the reject status, or ESME_RINVDSTADR when nothing matched */ }

const MS_PER_MINUTE = 60_000
const MINUTES_PER_DAY = 24 * 60

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))
}

/** Prefix test that ignores a leading '+' in the address; `prefix` is already stripped. */
function hasPrefix(addr: string, prefix: string): boolean {
  return addr.startsWith(prefix, addr.charCodeAt(0) === 0x2b /* + */ ? 1 : 0)
}

function anyPrefix(addr: string, prefixes: readonly string[]): boolean {
  for (let i = 0; i < prefixes.length; i++) if (hasPrefix(addr, prefixes[i])) return true
  return false
}

function stripPlus(p: string): string {
  return p.charCodeAt(0) === 0x2b ? p.slice(1) : p
}

interface CompiledWindow {
  from: number // minute of day
  to: number // minute of day, 1..1440
  daysMask: number // bit d = weekday d allowed; 0x7f = every day
  offsetMs: number
}

function compileWindow(w: TimeWindow): CompiledWindow {
  let daysMask = 0x7f
  if (w.days !== undefined) {
    daysMask = 0
    for (const d of w.days) daysMask |= 1 << d
  }
  return { from: minutesOf(w.from), to: minutesOf(w.to), daysMask, offsetMs: (w.utcOffsetMinutes ?? 0) * MS_PER_MINUTE }
}

function inWindow(w: CompiledWindow, now: number): boolean {
  const localMin = Math.floor((now + w.offsetMs) / MS_PER_MINUTE)
  const dayNo = Math.floor(localMin / MINUTES_PER_DAY)
  const minute = localMin - dayNo * MINUTES_PER_DAY
  const weekday = (((dayNo + 4) % 7) + 7) % 7 // day 0 (1970-01-01) was a Thursday
  if (w.from < w.to) return minute >= w.from && minute < w.to && (w.daysMask & (1 << weekday)) !== 0
  // Wraps midnight: the part after midnight belongs to the window that opened the day before.
  if (minute >= w.from) return (w.daysMask & (1 << weekday)) !== 0
  if (minute < w.to) return (w.daysMask & (1 << ((weekday + 6) % 7))) !== 0
  return false
}

interface CompiledMt {
  name: string
  accounts: ReadonlySet<string> | null
  groups: ReadonlySet<string> | null
  destPrefix: readonly string[] | null
  destRegex: RegExp | null
  sourcePrefix: readonly string[] | null // digit prefixes, '+' stripped
  sourceExact: ReadonlySet<string> | null // alphanumeric ids
  sourceRegex: RegExp | null
  time: CompiledWindow | null
  price: number
  /** reject status, or 0 when the route delivers. */
  reject: number
  /** connectors candidates; for roundRobin, every rotation (rotations[k] starts at entry k). */
  rotations: readonly string[][]
  next: number
}

function compileMt(r: MtRoute): CompiledMt {
  const m = r.match
  let sourcePrefix: string[] | null = null
  let sourceExact: Set<string> | null = null
  for (const s of m.sourcePrefix ?? []) {
    if (PREFIX_RE.test(s)) (sourcePrefix ??= []).push(stripPlus(s))
    else (sourceExact ??= new Set()).add(s)
  }
  const a = r.action
  let reject = 0
  let rotations: string[][] = []
  if ('reject' in a) reject = a.reject
  else if ('connector' in a) rotations = [[a.connector]]
  else if ('failover' in a) rotations = [[...a.failover]]
  else rotations = a.roundRobin.map((_, k) => [...a.roundRobin.slice(k), ...a.roundRobin.slice(0, k)])
  for (const list of rotations) Object.freeze(list)
  return {
    name: r.name,
    accounts: m.accounts ? new Set(m.accounts) : null,
    groups: m.groups ? new Set(m.groups) : null,
    destPrefix: m.destPrefix ? m.destPrefix.map(stripPlus) : null,
    destRegex: m.destRegex !== undefined ? new RegExp(m.destRegex) : null,
    sourcePrefix,
    sourceExact,
    sourceRegex: m.sourceRegex !== undefined ? new RegExp(m.sourceRegex) : null,
    time: m.time ? compileWindow(m.time) : null,
    price: r.price ?? DEFAULT_PRICE,
    reject,
    rotations,
    next: 0,
  }
}

function matchesMt(c: CompiledMt, systemId: string, group: string | null, source: string, dest: string, now: number): boolean {
  if (c.accounts !== null && !c.accounts.has(systemId)) return false
  if (c.groups !== null && (group === null || !c.groups.has(group))) return false
  if (c.destPrefix !== null && !anyPrefix(dest, c.destPrefix)) return false
  if (c.destRegex !== null && !c.destRegex.test(dest)) return false
  if (c.sourcePrefix !== null || c.sourceExact !== null) {
    const ok =
      (c.sourceExact !== null && c.sourceExact.has(source)) || (c.sourcePrefix !== null && anyPrefix(source, c.sourcePrefix))
    if (!ok) return false
  }
  if (c.sourceRegex !== null && !c.sourceRegex.test(source)) return false
  if (c.time !== null && !inWindow(c.time, now)) return false
  return true
}

/**
 * A compiled MT table: first matching route wins (ordered). Compile once per table change (the
 * table must have passed validateRouteTables); route() is the hot path. Round robin state lives in
 * the instance: each call that picks a roundRobin route advances it by one.
 */
export class MtRouter {
  private readonly routes: CompiledMt[]

  constructor(routes: MtRoute[]) {
    this.routes = routes.map(compileMt)
  }

  route(systemId: string, group: string | null, source: string, dest: string, now: number): MtDecision {
    const routes = this.routes
    for (let i = 0; i < routes.length; i++) {
      const c = routes[i]
      if (!matchesMt(c, systemId, group, source, dest, now)) continue
      if (c.reject !== 0) return { ok: false, route: c.name, status: c.reject }
      let connectors = c.rotations[0]
      if (c.rotations.length > 1) {
        connectors = c.rotations[c.next]
        c.next = c.next + 1 === c.rotations.length ? 0 : c.next + 1
      }
      return { ok: true, route: c.name, connectors, price: c.price }
    }
    // No route: SMPP 3.4 §5.1.3 ESME_RINVDSTADR, "invalid destination address".
    return { ok: false, route: null, status: CommandStatus.ESME_RINVDSTADR }
  }
}

interface CompiledMo {
  destPrefix: readonly string[] | null
  keywords: ReadonlySet<string> | null
  decision: MoDecision
}

/** A keyword as compared: compatibility forms folded (full-width ＳＴＯＰ is STOP), upper case. */
const keywordKey = (w: string): string => w.normalize('NFKC').toUpperCase()

/**
 * The words an MO keyword route compares: the text's first whitespace-delimited word, compatibility forms folded
 * and upper-cased, as typed and without the punctuation and symbols around it ("Stop!", "STOP.", "STOP🙏",
 * '"STOP"' match STOP, "C++" matches C++; "STOPALL" is not STOP). Subscribers type keywords every way; the operator
 * lists the words, not their spellings.
 */
export function firstWord(text: string): [asTyped: string, bare: string] {
  const m = /^\s*(\S+)/u.exec(text.normalize('NFKC'))
  if (m === null) return ['', '']
  const w = m[1].toUpperCase()
  return [w, w.replace(/^[\p{P}\p{S}]+|[\p{P}\p{S}]+$/gu, '')]
}

/** First matching MO route's account, or null. */
export class MoRouter {
  private readonly routes: CompiledMo[]

  constructor(routes: MoRoute[]) {
    this.routes = routes.map((r) => ({
      destPrefix: r.match.destPrefix ? r.match.destPrefix.map(stripPlus) : null,
      keywords: r.match.keyword !== undefined ? new Set([r.match.keyword].flat().map(keywordKey)) : null,
      decision: Object.freeze({ account: r.account, optOut: r.optOut ?? null, by: `mo:${[r.match.keyword ?? r.name].flat()[0]}`, route: r.name, reply: r.reply ?? null }),
    }))
  }

  /** The first matching route's account, or null. */
  route(dest: string, text: string): string | null {
    return this.decide(dest, text)?.account ?? null
  }

  /** The first matching route's decision (shared and frozen), or null. */
  decide(dest: string, text: string): MoDecision | null {
    const routes = this.routes
    let word: [string, string] | null = null // the text's first word, made once a keyword route asks for it
    for (let i = 0; i < routes.length; i++) {
      const c = routes[i]
      if (c.destPrefix !== null && !anyPrefix(dest, c.destPrefix)) continue
      if (c.keywords !== null) {
        word ??= firstWord(text)
        if (!c.keywords.has(word[0]) && !c.keywords.has(word[1])) continue
      }
      return c.decision
    }
    return null
  }
}

/**
 * The parts of a concatenated MO follow its first part's route: a keyword is in the first part's text only (the
 * others would match no keyword route and be refused). Remembers the first part's decision (an account, or null:
 * refused) per key (sender, recipient, concatenation reference) for `keepMs`, at most `max` of them (oldest go first).
 */
export class MoPartRoutes {
  private readonly decided = new Map<string, { systemId: string | null; at: number }>()

  constructor(private readonly keepMs = 10 * 60_000, private readonly max = 100_000) {}

  /** The first part's decision. */
  remember(key: string, systemId: string | null, now: number): void {
    this.decided.delete(key) // a reused reference: its new first part, at the end (insertion order is age order)
    this.decided.set(key, { systemId, at: now })
    for (const [k, v] of this.decided) {
      if (this.decided.size <= this.max && now - v.at < this.keepMs) break
      this.decided.delete(k)
    }
  }

  /** A later part's route: the first part's decision, or undefined when that part has not come (or too long ago). */
  decision(key: string, now: number): string | null | undefined {
    const d = this.decided.get(key)
    return d === undefined || now - d.at >= this.keepMs ? undefined : d.systemId
  }

  /**
   * Where one MO goes: `route()` (the MO table on its own text; null: nowhere) for an MO in one piece (`key` null) or a
   * first part (whose decision is kept); a later part follows its first part's decision, or, before that part has
   * come, `route()`'s, and 'wait' when that is nowhere (the first part may still take it).
   */
  route(key: string | null, seq: number, now: number, route: () => string | null): string | null | 'wait' {
    if (key === null) return route()
    if (seq === 1) {
      const systemId = route()
      this.remember(key, systemId, now)
      return systemId
    }
    const first = this.decision(key, now)
    if (first !== undefined) return first
    return route() ?? 'wait'
  }
}

/**
 * The auto-reply guard: at most one reply per route and sender a window (a minute), so two auto-responders (ours and a
 * bot's) cannot ping-pong, and a subscriber who texts STOP ten times gets one confirmation. In memory only (a restart
 * forgets it: at worst one more reply), at most `max` senders followed; past that the oldest are forgotten first, so a
 * flood of distinct senders costs bounded memory and can only let a reply through early, never hold one back forever.
 */
export class ReplyGuard {
  /** route \0 sender → when its last reply was tried; insertion order is age order (a renewed key moves to the end). */
  private readonly last = new Map<string, number>()

  constructor(readonly windowMs = 60_000, private readonly max = 100_000) {}

  /** Whether a reply of `route` to `sender` may be tried now; if so, it counts as the window's one. */
  take(route: string, sender: string, now: number): boolean {
    const key = `${route}\0${sender}`
    const at = this.last.get(key)
    if (at !== undefined && now - at < this.windowMs) return false
    this.last.delete(key)
    this.last.set(key, now)
    for (const [k, t] of this.last) {
      if (this.last.size <= this.max && now - t < this.windowMs) break
      this.last.delete(k)
    }
    return true
  }

  get size(): number {
    return this.last.size
  }
}

// ---------------------------------------------------------------------------------------------
// What a change of the MT table stops routing (a reload or PUT /api/v1/routes that narrows it: warned, not refused)

/** An account as MT routes see it. */
export interface RouteSubject {
  systemId: string
  group: string | null
}

/** Destinations the old table routed to a connector and the new one does not, for these accounts. */
export interface RoutingLoss {
  /** The old table's route that carried them. */
  route: string
  /** The destination prefix (digits), or '' for destinations no route names a prefix for. */
  prefix: string
  /** What the new table does with them: the reject route that now refuses them, or null (no route matches). */
  now: string | null
  accounts: string[]
}

/** Accounts a warning names before "and N more". */
const LOSS_ACCOUNTS_SHOWN = 5

/**
 * What `before` routed to a connector and `after` does not (no route, or a reject route): probed with each destination
 * prefix either table names (and one destination neither names) for each kind of account (the accounts a route names
 * by systemId one by one, the others by group), with the routers that route submits. Cheap: no account or prefix is
 * probed twice for the same answer, nothing per message. Routes that match on the sender, a regex or a time window
 * are left out of both tables (no single probe stands for their traffic): a change to those is not judged.
 */
export function routingLost(before: readonly MtRoute[], after: readonly MtRoute[], accounts: readonly RouteSubject[]): RoutingLoss[] {
  const plain = (routes: readonly MtRoute[]) => routes.filter((r) => r.match.sourcePrefix === undefined && r.match.sourceRegex === undefined && r.match.destRegex === undefined && r.match.time === undefined)
  const b = plain(before)
  const a = plain(after)
  const named = new Set<string>()
  const groups = new Set<string>()
  const prefixes = new Set<string>([''])
  for (const r of [...b, ...a]) {
    for (const id of r.match.accounts ?? []) named.add(id)
    for (const g of r.match.groups ?? []) groups.add(g)
    for (const p of r.match.destPrefix ?? []) prefixes.add(stripPlus(p))
  }
  // Accounts no route tells apart answer alike: one probe per kind.
  const kinds = new Map<string, { rep: RouteSubject; ids: string[] }>()
  for (const acc of accounts) {
    const key = `${named.has(acc.systemId) ? acc.systemId : '*'}\0${acc.group !== null && groups.has(acc.group) ? acc.group : '*'}`
    const k = kinds.get(key)
    if (k === undefined) kinds.set(key, { rep: acc, ids: [acc.systemId] })
    else k.ids.push(acc.systemId)
  }
  const old = new MtRouter(b)
  const next = new MtRouter(a)
  const lost = new Map<string, RoutingLoss>()
  for (const { rep, ids } of kinds.values()) {
    for (const prefix of prefixes) {
      const was = old.route(rep.systemId, rep.group, '', prefix, 0)
      if (!was.ok) continue
      const is = next.route(rep.systemId, rep.group, '', prefix, 0)
      if (is.ok) continue
      const key = `${was.route}\0${prefix}\0${is.route ?? ''}`
      const l = lost.get(key)
      if (l === undefined) lost.set(key, { route: was.route, prefix, now: is.route, accounts: [...ids] })
      else l.accounts.push(...ids)
    }
  }
  return [...lost.values()].sort((x, y) => x.route.localeCompare(y.route) || x.prefix.localeCompare(y.prefix))
}

/** One line a loss: `44 (route "uk"): no route now, for esme1, esme2` (accounts cut after LOSS_ACCOUNTS_SHOWN). */
export function routingLossText(l: RoutingLoss): string {
  const shown = [...l.accounts].sort().slice(0, LOSS_ACCOUNTS_SHOWN).join(', ')
  const more = l.accounts.length > LOSS_ACCOUNTS_SHOWN ? ` and ${l.accounts.length - LOSS_ACCOUNTS_SHOWN} more` : ''
  const what = l.prefix === '' ? 'destinations of no named prefix' : l.prefix
  return `${what} (route ${JSON.stringify(l.route)}): ${l.now === null ? 'no route now' : `refused now by route ${JSON.stringify(l.now)}`}, for ${shown}${more}`
}
