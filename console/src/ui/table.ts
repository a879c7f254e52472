/**
 * Sorting shared by the tables: a column list with a value getter, a header that toggles the sort
 * (aria-sort for screen readers), and a comparator that puts numbers and strings in natural order.
 */
import { html } from './html'

export interface Column<T> {
  key: string
  label: string
  get: (row: T) => number | string | boolean | null
  num?: boolean
  /** left-align even though numeric (e.g. a cell of chips) */
  left?: boolean
  title?: string
}

export interface Sort {
  key: string
  dir: 1 | -1
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' })

export function sortRows<T>(rows: T[], cols: Column<T>[], sort: Sort): T[] {
  const col = cols.find((c) => c.key === sort.key)
  if (!col) return rows
  const get = col.get
  const d = sort.dir
  return rows.sort((a, b) => {
    const x = get(a)
    const y = get(b)
    if (x === y) return 0
    if (x === null) return 1
    if (y === null) return -1
    if (typeof x === 'string' && typeof y === 'string') return d * collator.compare(x, y)
    return d * (x < y ? -1 : 1)
  })
}

export function nextSort(cur: Sort, key: string, numeric: boolean): Sort {
  if (cur.key === key) return { key, dir: cur.dir === 1 ? -1 : 1 }
  return { key, dir: numeric ? -1 : 1 } // numbers: biggest first
}

export function SortHeader<T>(p: { col: Column<T>; sort: Sort; onSort: (key: string) => void; role?: string }) {
  const active = p.sort.key === p.col.key
  const aria = active ? (p.sort.dir === 1 ? 'ascending' : 'descending') : 'none'
  return html`<div role=${p.role ?? 'columnheader'} aria-sort=${aria} class=${`th${p.col.num && !p.col.left ? ' num' : ''}${active ? ' sorted' : ''}`} title=${p.col.title}>
    <button type="button" class="sort" data-col=${p.col.key} onClick=${() => p.onSort(p.col.key)}>
      ${p.col.label}<span class="arrow" aria-hidden="true">${active ? (p.sort.dir === 1 ? '▲' : '▼') : ''}</span>
    </button>
  </div>`
}
