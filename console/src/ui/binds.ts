/**
 * The binds table: every session the engine holds, sortable by every column, filtered by system_id,
 * remote address or state (space-separated words must all match), with an Unbind action per row.
 * Rows are virtualised: only the rows in the scrolled window (plus a margin) are in the DOM, so
 * 1,000+ binds updating four times a second stay smooth. Sorting is memoised on the binds version.
 */
import { useMemo, useRef, useState, useEffect } from 'preact/hooks'
import { html } from './html'
import { SortHeader, nextSort, sortRows, type Column, type Sort } from './table'
import { api } from '../api'
import { duration, n0, rate } from '../format'
import type { TelemetryState } from '../state'
import type { Bind } from '../types'

const ROW_H = 32
const OVERSCAN = 8

const COLUMNS: Column<Bind>[] = [
  { key: 'id', label: 'id', get: (b) => b.id, num: true },
  { key: 'systemId', label: 'system_id', get: (b) => b.systemId },
  { key: 'kind', label: 'type', get: (b) => b.kind ?? '' },
  { key: 'state', label: 'state', get: (b) => b.state },
  { key: 'remote', label: 'remote', get: (b) => b.remote },
  { key: 'tls', label: 'TLS', get: (b) => (b.tls ? 1 : 0) },
  { key: 'connectedAt', label: 'connected', get: (b) => b.connectedAt, num: true, title: 'time since connect' },
  { key: 'window', label: 'window', get: (b) => b.window.inFlight + b.window.outstanding, num: true, title: 'submits being committed + deliver_sm awaiting resp / window size' },
  { key: 'inPerSec', label: 'in/s', get: (b) => b.inPerSec, num: true },
  { key: 'outPerSec', label: 'out/s', get: (b) => b.outPerSec, num: true, title: 'deliver_sm (receipts and MO) the ESME acknowledged per second' },
  { key: 'submitted', label: 'submitted', get: (b) => b.submitted, num: true },
  { key: 'delivered', label: 'delivered', get: (b) => b.delivered, num: true, title: 'deliver_sm (receipts and MO) the ESME acknowledged; not handset delivery (that is in the receipts)' },
  { key: 'rejected', label: 'rejected', get: (b) => b.rejected, num: true },
  { key: 'errors', label: 'errors', get: (b) => b.errors, num: true },
]

function matches(b: Bind, words: string[]): boolean {
  if (words.length === 0) return true
  const hay = `${b.systemId} ${b.remote} ${b.state} ${b.kind ?? ''}`.toLowerCase()
  return words.every((w) => hay.includes(w))
}

type Action = 'confirm' | 'sending' | 'sent' | { error: string }

/** The binds the stream carries (a reseller or user: its accounts' own); unbind is the operator's. */
export function Binds({ state, operator }: { state: TelemetryState; operator: boolean }) {
  const [sort, setSort] = useState<Sort>({ key: 'id', dir: 1 })
  const [filter, setFilter] = useState('')
  const [scrollTop, setScrollTop] = useState(0)
  const [viewH, setViewH] = useState(600)
  const [actions, setActions] = useState<Record<number, Action>>({})
  const scroller = useRef<HTMLDivElement>(null)

  useEffect(() => {
    const el = scroller.current
    if (!el) return
    const ro = new ResizeObserver(() => setViewH(el.clientHeight))
    ro.observe(el)
    return () => ro.disconnect()
  }, [])

  const words = useMemo(() => filter.toLowerCase().split(/\s+/).filter(Boolean), [filter])
  const rows = useMemo(() => {
    const out: Bind[] = []
    for (const b of state.binds.values()) if (matches(b, words)) out.push(b)
    return sortRows(out, COLUMNS, sort)
  }, [state.bindsVersion, state.binds, words, sort])

  const total = rows.length
  const headerH = ROW_H
  const first = Math.max(0, Math.floor((scrollTop - headerH) / ROW_H) - OVERSCAN)
  const last = Math.min(total, Math.ceil((scrollTop + viewH) / ROW_H) + OVERSCAN)
  const now = state.t || Date.now()

  const setAction = (id: number, a: Action | null): void =>
    setActions((cur) => {
      const next = { ...cur }
      if (a === null) delete next[id]
      else next[id] = a
      return next
    })

  const unbind = (id: number): void => {
    const a = actions[id]
    if (a !== 'confirm') {
      setAction(id, 'confirm')
      setTimeout(() => setActions((cur) => (cur[id] === 'confirm' ? (({ [id]: _, ...rest }) => rest)(cur) : cur)), 4000)
      return
    }
    setAction(id, 'sending')
    api.unbind(id).then(
      () => setAction(id, 'sent'),
      (e: Error) => setAction(id, { error: e.message }),
    )
  }

  const visible = []
  for (let i = first; i < last; i++) {
    const b = rows[i]
    const a = actions[b.id]
    const w = b.window
    visible.push(html`
      <div role="row" class=${`tr state-${b.state}`} key=${b.id} data-id=${b.id} style=${`top:${i * ROW_H}px`}>
        <div role="cell" class="num">${b.id}</div>
        <div role="cell" class="strong">${b.systemId || html`<span class="dim">—</span>`}</div>
        <div role="cell">${b.kind ?? html`<span class="dim">—</span>`}</div>
        <div role="cell"><span class=${`pill st-${b.state}`}>${b.state}</span></div>
        <div role="cell" class="mono">${b.remote}</div>
        <div role="cell" class="ok">${b.tls ? '✓' : ''}</div>
        <div role="cell" class="num" title=${new Date(b.connectedAt).toLocaleString()}>${duration((now - b.connectedAt) / 1000)}</div>
        <div role="cell" class="num">${w.inFlight + w.outstanding}/${w.size}</div>
        <div role="cell" class="num">${rate(b.inPerSec)}</div>
        <div role="cell" class="num">${rate(b.outPerSec)}</div>
        <div role="cell" class="num">${n0(b.submitted)}</div>
        <div role="cell" class="num">${n0(b.delivered)}</div>
        <div role="cell" class="num">${n0(b.rejected)}</div>
        <div role="cell" class=${`num${b.errors ? ' bad' : ''}`}>${n0(b.errors)}</div>
        <div role="cell" class="act">
          ${!operator ? null : a === 'sent'
            ? html`<span class="dim">unbinding…</span>`
            : typeof a === 'object'
              ? html`<button type="button" class="btn small danger" title=${a.error} onClick=${() => { setAction(b.id, null) }}>failed</button>`
              : html`<button type="button" class=${`btn small${a === 'confirm' ? ' danger' : ''}`} disabled=${a === 'sending' || b.state === 'CLOSED'} onClick=${() => unbind(b.id)}>${a === 'confirm' ? 'Confirm' : 'Unbind'}</button>`}
        </div>
      </div>`)
  }

  return html`
    <section class="panel binds" id="binds">
      <div class="panel-head">
        <h2>Binds <span class="dim" id="binds-count">${n0(total)}${words.length ? ` of ${n0(state.binds.size)}` : ''}</span></h2>
        <input type="search" class="filter" id="binds-filter" placeholder="filter: system_id, remote, state" aria-label="filter binds"
          value=${filter} onInput=${(e: Event) => { setFilter((e.target as HTMLInputElement).value); if (scroller.current) scroller.current.scrollTop = 0 }} />
      </div>
      <div class="vtable" role="table" aria-rowcount=${total} ref=${scroller} onScroll=${(e: Event) => setScrollTop((e.target as HTMLElement).scrollTop)}>
        <div role="row" class="tr thead">
          ${COLUMNS.map((c) => html`<${SortHeader} key=${c.key} col=${c} sort=${sort} onSort=${(k: string) => setSort(nextSort(sort, k, !!c.num))} />`)}
          <div role="columnheader" class="th"></div>
        </div>
        <div class="tbody" style=${`height:${total * ROW_H}px`}>
          ${visible}
        </div>
        ${total === 0 ? html`<p class="empty">${state.binds.size ? 'no bind matches the filter' : state.frames ? 'no binds yet' : 'waiting for telemetry…'}</p>` : null}
      </div>
    </section>
  `
}
