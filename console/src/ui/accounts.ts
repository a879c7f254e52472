/**
 * Accounts: rates and counters per system_id, receipts broken down by stat, deliveries pending.
 * Sortable by every column; receipts sort by their total.
 */
import { useMemo, useState } from 'preact/hooks'
import { html } from './html'
import { SortHeader, nextSort, sortRows, type Column, type Sort } from './table'
import { n0, rate } from '../format'
import type { TelemetryState } from '../state'
import type { Account } from '../types'

const receiptsTotal = (a: Account): number => Object.values(a.receipts).reduce((s, v) => s + v, 0)

const COLUMNS: Column<Account>[] = [
  { key: 'systemId', label: 'system_id', get: (a) => a.systemId },
  { key: 'binds', label: 'binds', get: (a) => a.binds, num: true },
  { key: 'submitPerSec', label: 'submit/s', get: (a) => a.submitPerSec, num: true },
  { key: 'deliverPerSec', label: 'deliver/s', get: (a) => a.deliverPerSec, num: true },
  { key: 'submitted', label: 'submitted', get: (a) => a.submitted, num: true },
  { key: 'rejected', label: 'rejected', get: (a) => a.rejected, num: true },
  { key: 'throttled', label: 'throttled', get: (a) => a.throttled, num: true },
  { key: 'receipts', label: 'receipts', get: receiptsTotal, num: true, left: true, title: 'receipts by stat; sorts by the total' },
  { key: 'inFlight', label: 'in flight', get: (a) => a.inFlight, num: true, title: 'messages not final yet: with the carrier or an upstream, waiting for a connector, or scheduled' },
  { key: 'pending', label: 'pending', get: (a) => a.pending, num: true, title: 'receipts + MO waiting for a receiver' },
]

const GOOD = new Set(['DELIVRD', 'ACCEPTD', 'ENROUTE'])

export function Accounts({ state }: { state: TelemetryState }) {
  const [sort, setSort] = useState<Sort>({ key: 'systemId', dir: 1 })
  const rows = useMemo(() => sortRows([...state.accounts.values()], COLUMNS, sort), [state.accountsVersion, state.accounts, sort])
  return html`
    <section class="panel" id="accounts">
      <h2>Traffic by account <span class="dim">${n0(rows.length)}</span></h2>
      ${rows.length === 0
        ? html`<p class="empty">${state.frames ? 'no accounts yet' : 'waiting for telemetry…'}</p>`
        : html`<div class="scroll-x"><div role="table" class="grid accounts-grid">
            <div role="row" class="tr thead">
              ${COLUMNS.map((c) => html`<${SortHeader} key=${c.key} col=${c} sort=${sort} onSort=${(k: string) => setSort(nextSort(sort, k, !!c.num))} />`)}
            </div>
            ${rows.map((a) => html`
              <div role="row" class="tr" key=${a.systemId} data-account=${a.systemId}>
                <div role="cell" class="strong">${a.systemId}</div>
                <div role="cell" class="num">${n0(a.binds)}</div>
                <div role="cell" class="num">${rate(a.submitPerSec)}</div>
                <div role="cell" class="num">${rate(a.deliverPerSec)}</div>
                <div role="cell" class="num">${n0(a.submitted)}</div>
                <div role="cell" class=${`num${a.rejected ? ' bad' : ''}`}>${n0(a.rejected)}</div>
                <div role="cell" class=${`num${a.throttled ? ' warnc' : ''}`}>${n0(a.throttled)}</div>
                <div role="cell" class="stats">
                  ${Object.keys(a.receipts).length === 0
                    ? html`<span class="dim">—</span>`
                    : Object.entries(a.receipts).sort((x, y) => y[1] - x[1]).map(([stat, v]) =>
                        html`<span class=${`chip ${GOOD.has(stat) ? 'ok' : 'no'}`} key=${stat}>${stat} <b>${n0(v)}</b></span>`)}
                </div>
                <div role="cell" class="num">${n0(a.inFlight)}</div>
                <div role="cell" class="num">${n0(a.pending)}</div>
              </div>`)}
          </div></div>`}
    </section>
  `
}
