/**
 * Messages: the send-SMS form (account, from, to, text, registered delivery; a live "2 parts, UCS2"
 * counter) that submits through POST /api/v1/messages, the lookup by id, and the search by number,
 * sender, account, state, upstream id, the send API's reference and time (GET /api/v1/messages, newest first, a page at a time) whose results
 * open in the lookup. Both show a message's timeline (received, stored, carrier, receipt, delivered)
 * and how it was carried (connector, upstream id, route, price); the ones sent or looked up here are
 * followed by MessageWatch, which refetches only when telemetry shows their account's receipts move.
 */
import { useMemo, useState } from 'preact/hooks'
import { html } from './html'
import { api } from '../api'
import { countParts, describeParts, showChar } from '../sms'
import { clockMs, count, dateTime, n0 } from '../format'
import type { TelemetryState } from '../state'
import type { MessageWatch, Watched } from '../watch'
import type { MessageInfo, MessageSearchResult, SendResult } from '../types'

const STEPS: { event: string; label: string }[] = [
  { event: 'received', label: 'received' },
  { event: 'stored', label: 'stored' },
  { event: 'carrier', label: 'sent to carrier' },
  { event: 'receipt', label: 'receipt' },
  { event: 'delivered', label: 'delivered to ESME' },
]

// events past the steps, in words (others show as the engine names them)
const EXTRA_LABELS: Record<string, string> = {
  discarded: 'receipt discarded: never acknowledged by the account',
}

// an MO's steps: from the subscriber to the account's bind or webhook (no carrier, no receipt)
const MO_STEPS: { event: string; label: string }[] = [
  { event: 'received', label: 'received from the subscriber' },
  { event: 'delivered', label: 'delivered to the account' },
]

export function Timeline({ info }: { info: MessageInfo }) {
  const t0 = info.timeline.length ? info.timeline[0].t : info.submitAt ?? 0
  const steps = info.mo ? MO_STEPS : STEPS
  const known = new Set(steps.map((s) => s.event))
  const extra = info.timeline.filter((e) => !known.has(e.event))
  // a receipt discarded unacknowledged is never delivered to the ESME: not "waiting"
  const never = info.timeline.some((e) => e.event === 'discarded')
  return html`
    <ol class="timeline">
      ${steps.map((s) => {
        const e = info.timeline.find((x) => x.event === s.event)
        return html`<li key=${s.event} class=${e ? 'done' : 'todo'} data-event=${s.event}>
          <span class="dot" aria-hidden="true"></span>
          <span class="step">${s.label}${e && s.event === 'receipt' && (e.stat ?? info.stat) ? html` <span class="chip">${e.stat ?? info.stat}</span>` : null}</span>
          <span class="when">${e ? html`${clockMs(e.t)} <span class="dim">+${Math.max(0, e.t - t0)} ms</span>` : html`<span class="dim">${never && s.event === 'delivered' ? 'never' : 'waiting'}</span>`}</span>
        </li>`
      })}
      ${extra.map((e, i) => html`<li key=${`x${i}`} class="done" data-event=${e.event}><span class="dot"></span><span class="step">${EXTRA_LABELS[e.event] ?? e.event}</span><span class="when">${clockMs(e.t)}</span></li>`)}
    </ol>
  `
}

// SMPP 3.4 §5.2.28 message_state (9 SKIPPED is SMPP 5.0 §4.7.15)
const MESSAGE_STATES = ['SCHEDULED', 'ENROUTE', 'DELIVERED', 'EXPIRED', 'DELETED', 'UNDELIVERABLE', 'ACCEPTED', 'UNKNOWN', 'REJECTED', 'SKIPPED']

export function stateName(state: string | number): string {
  return typeof state === 'number' ? MESSAGE_STATES[state] ?? String(state) : state
}

// the receipt stat that merely abbreviates a message_state (SMPP 3.4 Appendix B): not worth a second badge
const STAT_OF_STATE: Record<string, string> = {
  ENROUTE: 'ENROUTE', DELIVERED: 'DELIVRD', EXPIRED: 'EXPIRED', DELETED: 'DELETED', UNDELIVERABLE: 'UNDELIV',
  ACCEPTED: 'ACCEPTD', UNKNOWN: 'UNKNOWN', REJECTED: 'REJECTD', SCHEDULED: 'SCHEDULED', SKIPPED: 'SKIPPED',
}

/** the receipt stat when it says more than the state name, else null */
export function extraStat(state: string, stat: string | null | undefined): string | null {
  if (!stat) return null
  const s = stat.toUpperCase()
  return s === state.toUpperCase() || STAT_OF_STATE[state.toUpperCase()] === s ? null : stat
}

/** a time, or "—" when there is none (0 / null: not done yet) */
const when = (t: number | null | undefined): string => (t ? dateTime(t) : '—')

export function MessageCard({ w, onRefresh }: { w: Watched; onRefresh: () => void }) {
  const info = w.info
  const state = info ? stateName(info.state) : ''
  const stat = info ? extraStat(state, info.stat) : null
  return html`
    <article class="message" data-message-id=${w.id}>
      <header>
        <span class="mono strong">${w.id}</span>
        ${info?.mo ? html`<span class="pill" data-direction="mo" title="from a subscriber to the account">MO</span>` : null}
        ${info ? html`<span class=${`pill msg-${state}`} data-state=${state} title=${info.stat ? `receipt stat ${info.stat}` : undefined}>${state}${stat ? html` <span class="dim">(stat ${stat})</span>` : null}</span>` : null}
        ${w.loading ? html`<span class="dim">loading…</span>` : html`<button type="button" class="btn small ghost" onClick=${onRefresh} title="fetch again">↻</button>`}
      </header>
      ${w.error && !info ? html`<p class="error">${w.error}</p>` : null}
      ${info
        ? html`
            <dl class="facts compact">
              <div><dt>account</dt><dd>${info.systemId}</dd></div>
              ${info.reference !== undefined ? html`<div><dt>reference</dt><dd class="mono" data-reference>${info.reference}</dd></div>` : null}
              <div><dt>from → to</dt><dd>${info.from} → ${Array.isArray(info.to) ? info.to.join(', ') : info.to}</dd></div>
              <div><dt>${info.mo ? 'received' : 'submitted'}</dt><dd>${when(info.submitAt)}</dd></div>
              <div><dt>done</dt><dd>${when(info.doneAt)}</dd></div>
              ${info.err !== null && info.err !== undefined && info.err !== '' ? html`<div><dt>err</dt><dd>${String(info.err)}</dd></div>` : null}
              ${(info.dests ?? []).filter((d) => d.connector || d.upstreamId || d.via?.length).map((d) => html`<div key=${d.to} class="carrier" data-dest=${d.to}>
                <dt>carried${(info.dests ?? []).length > 1 ? ` (${d.to})` : ''}</dt>
                <dd>${carriage(d)}</dd>
              </div>`)}
              ${info.price !== undefined ? html`<div><dt>price</dt><dd data-price>${info.price}${refundNote(info.dests)}</dd></div>` : null}
              ${info.mo ? html`<div><dt>came from</dt><dd data-mo-connector>${info.mo.connector}${info.mo.route ? ` · MO route ${info.mo.route}${info.mo.keyword ? ` (keyword ${info.mo.keyword})` : ''}` : ''}</dd></div>
                <div class="wide"><dt>delivery</dt><dd data-mo-delivery=${info.mo.delivery}>${moDelivery(info.mo)}</dd></div>
                ${info.mo.reply ?? info.mo.replyNot
                  ? html`<div class="wide"><dt>auto-reply</dt><dd data-mo-reply>${info.mo.reply !== undefined ? `sent as ${info.mo.reply}` : `not sent: ${info.mo.replyNot === 'held' ? 'held back (one per route and sender a minute)' : info.mo.replyNot}`}</dd></div>`
                  : null}` : null}
              ${info.registeredDelivery !== undefined && !info.mo ? html`<div><dt>receipt</dt><dd data-receipt>${receiptAsked(info.registeredDelivery)}</dd></div>` : null}
              ${info.receiptDiscarded ? html`<div class="wide"><dt>receipt discarded</dt><dd class="bad" data-receipt-discarded>${when(info.receiptDiscarded)}: the account never acknowledged it within receipts.maxAgeMs (no receiver bound, or none answered), so it never got it</dd></div>` : null}
              ${info.text ? html`<div class="wide"><dt>text</dt><dd class="text">${info.text}</dd></div>` : null}
            </dl>
            <${Timeline} info=${info} />`
        : null}
    </article>
  `
}

/** an MO's delivery to the account, in words ("my app never got it") */
function moDelivery(mo: NonNullable<MessageInfo['mo']>): string {
  const retried = mo.retries > 0 ? ` · ${mo.retries} failed attempt${mo.retries === 1 ? '' : 's'} retried` : ''
  const parts = mo.parts > 1 ? ` · ${mo.acked} of ${mo.parts} parts acknowledged` : ''
  switch (mo.delivery) {
    case 'delivered': return `delivered to ${mo.via === 'webhook' ? 'the MO webhook' : 'a bind (deliver_sm_resp 0)'}${retried}`
    case 'refused': return `refused for good by the ESME: not sent again${retried}`
    case 'expired': return `never acknowledged: discarded after receipts.maxAgeMs${retried}`
    default: return `${mo.delivery}: not yet acknowledged${parts}${retried}${mo.receivers === undefined ? '' : mo.webhook ? ' · goes to the MO webhook'
      : mo.receivers === 0 ? ' · no receiver bound: it goes out when one binds' : ` · ${mo.receivers} receiver${mo.receivers === 1 ? '' : 's'} bound`}`
  }
}

/** settlement 'refund': which destinations' price was given back (they ended without being delivered) */
function refundNote(dests: MessageInfo['dests']): string {
  const all = dests ?? []
  const n = all.filter((d) => d.refunded).length
  if (n === 0) return ''
  return n === all.length ? ' · refunded' : ` · ${n} of ${all.length} destinations refunded`
}

/** what registered_delivery asked for (SMPP 3.4 §5.2.17): "charged but no receipt" is often a message that asked for none */
function receiptAsked(rd: number): string {
  const asked = ['not asked for', 'asked for (final outcome)', 'asked for failures only', 'asked for success only'][rd & 0x03]
  return `${asked}${rd & 0x10 ? ', and intermediate ones' : ''} · registered_delivery ${rd}`
}

/** how one destination was carried: its connector, the upstream's id for it, the route's connectors */
function carriage(d: NonNullable<MessageInfo['dests']>[number]): string {
  const parts = [`connector ${d.connector ?? '—'}`, `upstream id ${d.upstreamId ?? '—'}`]
  if (d.via?.length) parts.push(`route ${d.via.join(' → ')}`)
  return parts.join(' · ')
}

const codePoint = (ch: string): string => `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`

interface SendProps {
  state: TelemetryState
  watch: MessageWatch
  /** the accounts to offer (a reseller's or user's own list); default: those telemetry has seen */
  accounts?: string[]
}

export function SendForm({ state, watch, accounts: given }: SendProps) {
  const seen = useMemo(() => [...state.accounts.keys()].sort(), [state.accountsVersion, state.accounts])
  const accounts = given ?? seen
  const [systemId, setSystemId] = useState<string | null>(null)
  const [from, setFrom] = useState('SMSC')
  const [to, setTo] = useState('')
  const [text, setText] = useState('')
  const [dlr, setDlr] = useState(true)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [sent, setSent] = useState<(SendResult & { systemId: string })[]>([])

  // the accounts telemetry has seen; any other system_id can be typed (the engine validates it)
  const account = (systemId ?? accounts[0] ?? '').trim()
  const count = countParts(text)

  const submit = (ev: Event): void => {
    ev.preventDefault()
    setBusy(true)
    setError(null)
    api.send({ systemId: account || undefined, from, to, text, registeredDelivery: dlr }).then(
      (r) => {
        for (const id of r.ids) watch.watch(String(id), account || null)
        setSent((cur) => [{ ...r, ids: r.ids.map(String), systemId: account }, ...cur].slice(0, 5))
        setBusy(false)
      },
      (e: Error) => {
        setError(e.message)
        setBusy(false)
      },
    )
  }

  return html`
    <section class="panel" id="send">
      <h2>Send an SMS</h2>
      <form class="form" onSubmit=${submit}>
        <label>account
          <input name="systemId" list="account-list" value=${systemId ?? accounts[0] ?? ''} autocomplete="off" spellcheck=${false}
            placeholder=${accounts.length ? 'system_id' : 'system_id (empty: the only account)'}
            onInput=${(e: Event) => setSystemId((e.target as HTMLInputElement).value)} />
          <datalist id="account-list">${accounts.map((a) => html`<option key=${a} value=${a} />`)}</datalist>
        </label>
        <div class="row2">
          <label>from<input name="from" required maxlength="20" value=${from} onInput=${(e: Event) => setFrom((e.target as HTMLInputElement).value)} autocomplete="off" /></label>
          <label>to<input name="to" required maxlength="20" value=${to} onInput=${(e: Event) => setTo((e.target as HTMLInputElement).value)} placeholder="+4915112345678" inputmode="tel" autocomplete="off" /></label>
        </div>
        <label>text
          <textarea name="text" rows="4" value=${text} onInput=${(e: Event) => setText((e.target as HTMLTextAreaElement).value)} placeholder="Hello from the SMSC console"></textarea>
        </label>
        <div class="counter" id="sms-counter" data-parts=${count.parts} data-coding=${count.coding} aria-live="polite">
          <b>${describeParts(count)}</b>
          <span class="dim"> · ${count.units} ${count.coding === 'GSM' ? (count.units === 1 ? 'septet' : 'septets') : count.units === 1 ? 'UCS2 unit' : 'UCS2 units'}, ${count.left} left in this part</span>
          ${count.nonGsm.length
            ? html`<span class="dim"> · not in GSM 03.38: </span>${count.nonGsm.map((ch) => {
                const shown = showChar(ch)
                return html`<code class=${`nongsm${shown === ch ? '' : ' cp'}`} key=${ch} title=${codePoint(ch)}>${shown}</code> `
              })}`
            : null}
        </div>
        <label class="check"><input type="checkbox" name="registeredDelivery" checked=${dlr} onChange=${(e: Event) => setDlr((e.target as HTMLInputElement).checked)} /> request a delivery receipt</label>
        <div class="actions">
          <button type="submit" class="btn primary" disabled=${busy || !to || !from}>${busy ? 'Sending…' : 'Send'}</button>
          ${error ? html`<span class="error" role="alert">${error}</span>` : null}
        </div>
      </form>
      ${sent.length
        ? html`<div class="sent" id="sent">
            ${sent.map((r, i) => html`<div class="sent-item" key=${r.ids.join(',')}>
              <p class="dim">${i === 0 ? 'Sent' : 'Earlier'}: ${r.parts} ${r.parts === 1 ? 'part' : 'parts'}, ${r.coding}, account ${r.systemId || '(default)'}</p>
              ${r.ids.map((id) => {
                const w = watch.get(id)
                return w ? html`<${MessageCard} key=${id} w=${w} onRefresh=${() => watch.refresh(id)} />` : null
              })}
            </div>`)}
          </div>`
        : null}
    </section>
  `
}

// the states a search offers (message_state names, SMPP 3.4 §5.2.28)
const SEARCH_STATES = ['DELIVERED', 'UNDELIVERABLE', 'EXPIRED', 'REJECTED', 'ENROUTE', 'SCHEDULED', 'DELETED', 'UNKNOWN', 'ACCEPTED', 'SKIPPED']

/** a datetime-local value (local time) as ms since the epoch; '' stays '' */
const localMs = (v: string): string => (v ? String(new Date(v).getTime()) : '')

type Found = MessageSearchResult & { params: Record<string, string> }

/**
 * The search: the filters given, newest first, a page of 20 at a time ("More" goes on where the last page
 * ended, in the same window); a result opens in the lookup below it.
 */
export function MessageSearch({ accounts, onOpen, open }: { accounts: string[]; onOpen: (id: string) => void; open: string | null }) {
  const [f, setF] = useState({ to: '', from: '', systemId: '', state: '', upstreamId: '', reference: '', since: '', until: '' })
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [found, setFound] = useState<Found | null>(null)
  const field = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement).value })

  const run = (params: Record<string, string>, more: Found | null): void => {
    setBusy(true)
    setError(null)
    api.searchMessages(more && more.next ? { ...params, before: more.next } : params).then(
      (r) => {
        // later pages search the same window as the first
        const pinned = { ...params, since: String(r.since), until: String(r.until) }
        setFound(more ? { ...r, params: pinned, refused: more.refused, messages: [...more.messages, ...r.messages], scanned: more.scanned === undefined || r.scanned === undefined ? undefined : more.scanned + r.scanned, ms: more.ms + r.ms } : { ...r, params: pinned })
        setBusy(false)
      },
      (e: Error) => {
        setError(e.message)
        setBusy(false)
      },
    )
  }
  const submit = (ev: Event): void => {
    ev.preventDefault()
    run({ to: f.to, from: f.from, systemId: f.systemId.trim(), state: f.state, upstreamId: f.upstreamId.trim(), reference: f.reference.trim(), since: localMs(f.since), until: localMs(f.until), limit: '20' }, null)
  }

  return html`
    <form class="form search" id="search" onSubmit=${submit}>
      <div class="row2">
        <label>to<input name="to" value=${f.to} onInput=${field('to')} placeholder="+4915112345678" inputmode="tel" autocomplete="off" /></label>
        <label>from<input name="from" value=${f.from} onInput=${field('from')} placeholder="number or sender id" autocomplete="off" /></label>
      </div>
      <div class="row2">
        <label>account
          <input name="systemId" list="search-account-list" value=${f.systemId} onInput=${field('systemId')} placeholder="any" autocomplete="off" spellcheck=${false} />
          <datalist id="search-account-list">${accounts.map((a) => html`<option key=${a} value=${a} />`)}</datalist>
        </label>
        <label>state
          <select name="state" value=${f.state} onChange=${field('state')}>
            <option value="">any</option>
            ${SEARCH_STATES.map((s) => html`<option key=${s} value=${s}>${s}</option>`)}
          </select>
        </label>
      </div>
      <div class="row2">
        <label>upstream id<input name="upstreamId" value=${f.upstreamId} onInput=${field('upstreamId')} placeholder="the carrier's message id" autocomplete="off" spellcheck=${false} class="mono"
          title="the id an upstream gave the message (its submit_sm_resp), as a carrier quotes it: every message in the window is read in full, so give a narrow one" /></label>
        <label>reference<input name="reference" value=${f.reference} onInput=${field('reference')} placeholder="the sender's own id" autocomplete="off" spellcheck=${false} class="mono"
          title="the reference the send API was given with the message, exactly" /></label>
      </div>
      <div class="row2">
        <label>submitted since<input type="datetime-local" name="since" value=${f.since} onInput=${field('since')} title="empty: 24 hours before 'until'" /></label>
        <label>until<input type="datetime-local" name="until" value=${f.until} onInput=${field('until')} title="empty: now" /></label>
      </div>
      <div class="actions">
        <button type="submit" class="btn" disabled=${busy}>${busy && !found ? 'Searching…' : 'Search'}</button>
        <span class="dim small">a trailing * matches a prefix · no dates: the last 24 hours</span>
      </div>
      ${error ? html`<p class="error" role="alert" id="search-error">${error}</p>` : null}
    </form>
    ${found
      ? html`<div id="search-results" data-count=${found.messages.length}>
          <p class="dim small" id="search-summary">${found.messages.length ? count(found.messages.length, 'message') : 'No message'} found, newest first · ${found.scanned === undefined ? '' : `${n0(found.scanned)} stored messages read `}in ${found.ms} ms</p>
          ${found.messages.length
            ? html`<ol class="found">
                ${found.messages.map((m) => {
                  const state = stateName(m.state)
                  return html`<li key=${m.id}>
                    <button type="button" class=${`found-row${open === m.id ? ' open' : ''}`} data-message-id=${m.id} onClick=${() => onOpen(m.id)} aria-pressed=${open === m.id}>
                      <span class="dim">${dateTime(m.submitAt)}</span>
                      <span class="mono">${m.id}${m.direction === 'mo' ? html` <span class="chip" data-direction="mo" title="from a subscriber to the account">MO</span>` : null}</span>
                      <span>${m.systemId}</span>
                      <span class="addr">${m.from} → ${m.to.join(', ')}</span>
                      <span class=${`pill msg-${state}`} data-state=${state}>${state}</span>
                    </button>
                  </li>`
                })}
              </ol>`
            : null}
          ${found.refused !== undefined && found.refused.length > 0
            ? html`<p class="dim small" id="refused-summary">${count(found.refused.length, 'refused submit')}: no message id; the engine keeps the last ones of each account</p>
              <ol class="found" id="refused">
                ${found.refused.map((r, i) => html`<li key=${i} class="found-row refused-row" data-status=${r.statusName}>
                  <span class="dim">${dateTime(r.t)}</span>
                  <span class="mono" data-via=${r.via}>${refusedVia(r)}</span>
                  <span>${r.systemId}</span>
                  <span class="addr">${r.from ?? '?'} → ${r.to?.join(', ') ?? '?'}</span>
                  <span class="pill msg-REJECTED" title=${`command_status 0x${r.status.toString(16).padStart(8, '0')}`}>${r.statusName}</span>
                </li>`)}
              </ol>`
            : null}
          ${found.truncated ? html`<p class="warn small" id="search-truncated">The search stopped ${found.scanned === undefined ? 'at its limit' : `after reading ${n0(found.scanned)} messages`}: older ones may match. More goes on from there.</p>` : null}
          ${found.next !== null
            ? html`<button type="button" class="btn small" id="search-more" disabled=${busy} onClick=${() => run(found.params, found)}>${busy ? 'Searching…' : 'More'}</button>`
            : null}
        </div>`
      : null}
  `
}

/** how a refused submit came: a bind, the send API, or an MO route's auto-reply (which route, answering which MO) */
function refusedVia(r: NonNullable<MessageSearchResult['refused']>[number]): string {
  if (r.via === 'auto-reply') return `auto-reply · MO route ${r.route ?? '?'}${r.keyword !== undefined ? ` (${r.keyword})` : ''} · to MO ${r.mo ?? '?'}`
  const how = r.via === 'http' ? 'HTTP send' : `SMPP bind #${r.session ?? '?'}`
  const what = r.command === 'send' || r.command === 'submit_sm' ? '' : ` · ${r.command}`
  return `${how}${what}${r.reference !== undefined ? ` · reference ${r.reference}` : ''}`
}

export function Lookup({ watch, state, accounts: given }: { watch: MessageWatch; state: TelemetryState; accounts?: string[] }) {
  const seen = useMemo(() => [...state.accounts.keys()].sort(), [state.accountsVersion, state.accounts])
  const [id, setId] = useState('')
  const [shown, setShown] = useState<string | null>(null)
  const w = shown ? watch.get(shown) : undefined
  const open = (v: string): void => {
    watch.watch(v)
    setShown(v)
  }
  const submit = (ev: Event): void => {
    ev.preventDefault()
    const v = id.trim()
    if (!v) return
    open(v)
  }
  return html`
    <section class="panel" id="lookup">
      <h2>Find a message</h2>
      <form class="form inline" onSubmit=${submit}>
        <input name="id" placeholder="message id" aria-label="message id" value=${id} onInput=${(e: Event) => setId((e.target as HTMLInputElement).value)} autocomplete="off" class="mono" />
        <button type="submit" class="btn">Look up</button>
      </form>
      <h3 class="sub">or search</h3>
      <${MessageSearch} accounts=${given ?? seen} onOpen=${open} open=${shown} />
      ${w ? html`<div id="lookup-result"><${MessageCard} w=${w} onRefresh=${() => watch.refresh(w.id)} /></div>` : null}
    </section>
  `
}
