/**
 * An opt-out list (docs/ROUTING.md "Opt-outs"): the numbers no message goes to. The operator's global list is a
 * panel of the accounts page; an account's list is a pane of its detail. Listed a page at a time in number order,
 * filtered by a prefix; numbers added (pasted, one or many) and removed through the same API as the CLI. A viewer
 * (read-only staff login) sees the list without the add form and the Remove buttons. Errors are the engine's one
 * line naming the field ("numbers[1] must be a phone number …"). Numbers show as the API gives them, as stored:
 * digits without an international prefix ("+4915…" and "004915…" are stored as "4915…"; a national form as given).
 */
import { useEffect, useState } from 'preact/hooks'
import { html } from './html'
import { api, ApiError } from '../api'
import { dateTime, n0 } from '../format'
import type { OptOutEntry, OptOutFind } from '../types'

const PAGE = 100
/** Numbers one add request takes (engine/optouts.ts MAX_PER_REQUEST): more are sent in several, as the CLI does. */
const PER_REQUEST = 1000
const message = (e: unknown): string => (e instanceof ApiError ? e.message : String((e as Error)?.message ?? e))
/** numbers as pasted: one a line, or separated by commas or semicolons (a space may be inside a number) */
const numbersOf = (text: string): string[] => text.split(/[\n,;]+/).map((s) => s.trim()).filter(Boolean)

export function OptOutsView({ systemId, readOnly }: { systemId: string | null; readOnly: boolean }) {
  const [entries, setEntries] = useState<OptOutEntry[] | null>(null)
  const [total, setTotal] = useState(0)
  const [next, setNext] = useState<string | null>(null)
  const [prefix, setPrefix] = useState('')
  const [text, setText] = useState('')
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<string | null>(null)
  const [note, setNote] = useState<string | null>(null)
  const what = systemId === null ? 'the global opt-out list' : `the opt-out list of ${systemId}`
  const load = (after?: string): void => {
    api.optOuts(systemId, { limit: PAGE, after, prefix: prefix.trim() }).then(
      (r) => {
        setEntries((cur) => (after === undefined ? r.optouts : [...(cur ?? []), ...r.optouts]))
        setTotal(r.total)
        setNext(r.next)
        setErr(null)
      },
      (e: unknown) => setErr(message(e)),
    )
  }
  useEffect(() => load(), [systemId])
  const change = (work: Promise<string>): void => {
    setBusy(true)
    setErr(null)
    setNote(null)
    work.then((done) => { setBusy(false); setNote(done); load() }, (e: unknown) => { setBusy(false); setErr(message(e)) })
  }
  const add = (ev: Event): void => {
    ev.preventDefault()
    const numbers = numbersOf(text)
    change((async () => {
      let added = 0
      let already = 0
      for (let i = 0; i < numbers.length; i += PER_REQUEST) {
        try {
          const r = await api.addOptOuts(systemId, numbers.slice(i, i + PER_REQUEST))
          added += r.added
          already += r.already
        } catch (e) {
          // what went in before stays in: say so, and where the error is (its index is within its chunk)
          if (i === 0) throw e
          throw new Error(`${n0(added)} added from the first ${n0(i)} numbers; then, from number ${n0(i + 1)} on: ${message(e)}`)
        }
      }
      setText('')
      return `${n0(added)} added${already > 0 ? `, ${n0(already)} on the list already` : ''}`
    })())
  }
  const remove = (number: string): void => change(api.removeOptOuts(systemId, [number]).then(() => `${number} removed`))
  const filter = (ev: Event): void => {
    ev.preventDefault()
    load()
  }
  return html`
    <div class="optouts" id=${systemId === null ? 'optouts-global' : 'optouts'} data-optouts=${systemId ?? ''}>
      <p class="dim small">No message goes to these numbers${systemId === null ? ' from any account' : ` from ${systemId} (or, a reseller's list, from its users)`}: a submit to one is refused with SMSC_ROPTEDOUT (0x403) and costs nothing. An MO route with <code>optOut</code> adds a subscriber who texts STOP.</p>
      <form class="inline" onSubmit=${filter}>
        <input name="optout-prefix" aria-label="numbers starting with" placeholder="starting with…" inputmode="tel" value=${prefix}
          onInput=${(e: Event) => setPrefix((e.target as HTMLInputElement).value)} />
        <button type="submit" class="btn small">Filter</button>
        <span class="dim optout-total">${n0(total)} on the list</span>
      </form>
      ${entries === null
        ? html`<p class="dim">${err ? '' : 'loading the list…'}</p>`
        : entries.length === 0
          ? html`<p class="empty" id="optouts-empty">${prefix.trim() ? `no number starting with ${prefix.trim()}` : 'no numbers on the list'}</p>`
          : html`<table class="mini optout-list" aria-label=${what}>
              <thead><tr><th>number</th><th>added</th><th>by</th>${readOnly ? null : html`<th></th>`}</tr></thead>
              <tbody>${entries.map((e) => html`<tr key=${e.number} data-number=${e.number}>
                <td class="mono">${e.number}</td>
                <td class="nowrap dim">${dateTime(e.at)}</td>
                <td>${e.by}</td>
                ${readOnly ? null : html`<td><button type="button" class="btn small danger" data-action="remove-optout" disabled=${busy} onClick=${() => remove(e.number)}>Remove</button></td>`}
              </tr>`)}</tbody>
            </table>`}
      ${next !== null ? html`<button type="button" class="btn small" onClick=${() => load(next)}>More numbers</button>` : null}
      ${note ? html`<p class="ok" role="status" id="optouts-note">${note}</p>` : null}
      ${err ? html`<p class="error" role="alert">${err}</p>` : null}
      ${readOnly
        ? null
        : html`<form class="optout-add" onSubmit=${add}>
            <label>Add numbers <textarea name="optout-numbers" rows="2" placeholder="+4915112345678, one a line or comma-separated" value=${text}
              onInput=${(e: Event) => setText((e.target as HTMLTextAreaElement).value)}></textarea></label>
            <button type="submit" class="btn small primary" id="optout-add" disabled=${busy || text.trim() === ''}>${busy ? 'Saving…' : 'Add to the list'}</button>
          </form>`}
    </div>
  `
}

/**
 * Which lists hold one number ("I texted STOP", "why 0x403?"): every list this login may see, with when and by whom;
 * a user sees the lists that refuse its sends, its reseller's too (GET /api/v1/optouts/find).
 */
export function OptOutFinder() {
  const [number, setNumber] = useState('')
  const [found, setFound] = useState<OptOutFind | null>(null)
  const [err, setErr] = useState<string | null>(null)
  const find = (ev: Event): void => {
    ev.preventDefault()
    api.findOptOut(number.trim()).then((r) => { setFound(r); setErr(null) }, (e: unknown) => { setFound(null); setErr(message(e)) })
  }
  return html`
    <div class="optout-find" id="optout-find">
      <form class="inline" onSubmit=${find}>
        <input name="optout-find" aria-label="which lists hold this number" placeholder="which lists hold +49…?" inputmode="tel" value=${number}
          onInput=${(e: Event) => setNumber((e.target as HTMLInputElement).value)} />
        <button type="submit" class="btn small" disabled=${number.trim() === ''}>Find</button>
      </form>
      ${found === null
        ? null
        : found.lists.length === 0
          ? html`<p class="dim" id="optout-found" role="status">${found.number} is on no list you may see</p>`
          : html`<table class="mini" id="optout-found" aria-label=${`the lists holding ${found.number}`}>
              <thead><tr><th>list</th><th>added</th><th>by</th></tr></thead>
              <tbody>${found.lists.map((e) => html`<tr key=${e.list} data-list=${e.list}>
                <td>${e.list === 'global' ? 'global' : e.list}</td><td class="nowrap dim">${dateTime(e.at)}</td><td>${e.by}</td>
              </tr>`)}</tbody>
            </table>`}
      ${err ? html`<p class="error" role="alert">${err}</p>` : null}
    </div>
  `
}

/** The operator's global list, as a panel of the accounts page, with the finder over every list. */
export function GlobalOptOuts({ readOnly }: { readOnly: boolean }) {
  return html`
    <section class="panel" id="global-optouts">
      <h2>Opt-outs: the global list</h2>
      <${OptOutFinder} />
      <${OptOutsView} systemId=${null} readOnly=${readOnly} />
    </section>
  `
}
