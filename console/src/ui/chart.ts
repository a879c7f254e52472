/**
 * One live line chart (uPlot) over the last 5 minutes. uPlot owns its canvas; Preact only owns the
 * container and the legend. The instance is created once per mount (and again when the colour scheme
 * flips), sized by a ResizeObserver, and fed with setData on every render the parent triggers (one
 * per animation frame at most). Lines sit on a left scale (`y`) or a right one (`y2`), so values of
 * different magnitudes (2 ms and 2 s) each get a readable axis; the axes are as wide as their
 * labels. The legend is ours: the latest value of each line, or the value under the cursor. With no
 * point at all the chart shows a message instead of empty axes. data-points / data-max on the
 * container let the browser test see the data move.
 */
import uPlot from 'uplot'
import { useEffect, useRef, useState } from 'preact/hooks'
import { html } from './html'
import { clock } from '../format'
import { WINDOW_S, type Series } from '../state'

export interface LineSpec {
  label: string
  /** CSS custom property holding the colour, e.g. --c-in */
  colorVar: string
  dash?: number[]
  /** 'y' (left axis, default) or 'y2' (right axis) */
  scale?: 'y' | 'y2'
}

interface Props {
  title: string
  series: Series
  lines: LineSpec[]
  /** bumps when the series changed */
  version: number
  /** legend values, e.g. "2.5 ms" */
  unit: (v: number) => string
  /** axis tick labels (short), e.g. "2 s"; defaults to unit */
  axisUnit?: (v: number) => string
  /** shown instead of the axes while there is no point at all */
  emptyText?: string
  /** shown over the axes while every point is a gap (e.g. no message in the window) */
  gapText?: string
  height?: number
  id: string
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888'
}

/** x-axis label: HH:MM on whole minutes, :SS in between (ticks are in seconds) */
function timeTick(t: number): string {
  const d = new Date(t * 1000)
  const p = (v: number) => String(v).padStart(2, '0')
  return d.getSeconds() === 0 ? `${p(d.getHours())}:${p(d.getMinutes())}` : `:${p(d.getSeconds())}`
}

/** width of a y axis for its tick labels (12px UI font: ~7 px a character) plus the ticks and a gap */
function axisSize(_u: uPlot, values: string[] | null): number {
  let w = 0
  if (values) for (const v of values) if (v && v.length > w) w = v.length
  return Math.max(36, Math.ceil(w * 7.2) + 18)
}

const dark = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null

/** index of the last non-null value of column `c`, or -1 */
function lastValue(col: (number | null)[]): number | null {
  for (let i = col.length - 1; i >= 0; i--) if (col[i] !== null) return col[i]
  return null
}

export function Chart(p: Props) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const props = useRef(p)
  props.current = p
  const [hover, setHover] = useState<number | null>(null)

  useEffect(() => {
    const el = box.current
    if (!el) return
    const make = (): void => {
      plot.current?.destroy()
      const q = props.current
      const tick = q.axisUnit ?? q.unit
      const twoScales = q.lines.some((l) => l.scale === 'y2')
      const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid'), width: 1 }, ticks: { stroke: cssVar('--grid'), width: 1 } }
      // with two scales each axis takes the colour of its lines, so it is clear which is which
      const colorOf = (scale: 'y' | 'y2'): string => {
        const l = q.lines.find((x) => (x.scale ?? 'y') === scale)
        return twoScales && l ? cssVar(l.colorVar) : cssVar('--muted')
      }
      const yRange = (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, max > 0 ? max * 1.1 : 1]
      const axes: uPlot.Axis[] = [
        { ...axis, space: 70, values: (_u, ticks) => ticks.map(timeTick) },
        { ...axis, stroke: colorOf('y'), scale: 'y', size: axisSize, values: (_u, ticks) => ticks.map(tick) },
      ]
      if (twoScales) axes.push({ ...axis, stroke: colorOf('y2'), scale: 'y2', side: 1, grid: { show: false }, size: axisSize, values: (_u, ticks) => ticks.map(tick) })
      const opts: uPlot.Options = {
        width: Math.max(200, el.clientWidth),
        height: q.height ?? 220,
        legend: { show: false },
        cursor: { drag: { x: false, y: false }, points: { size: 6 } },
        scales: {
          // the last 5 minutes once there are; until then at least the last minute, so a fresh console is readable
          x: { time: true, range: (_u, min, max) => [max - Math.min(WINDOW_S, Math.max(60, max - min)), max] },
          y: { range: yRange },
          ...(twoScales ? { y2: { range: yRange } } : {}),
        },
        axes,
        series: [
          {},
          ...q.lines.map((l) => ({
            label: l.label,
            scale: l.scale ?? 'y',
            stroke: cssVar(l.colorVar),
            width: 1.5,
            dash: l.dash,
            spanGaps: false,
            points: { show: false },
          })),
        ],
        hooks: {
          setCursor: [(u: uPlot) => setHover(u.cursor.idx ?? null)],
        },
      }
      plot.current = new uPlot(opts, q.series.cols as uPlot.AlignedData, el)
      el.onmouseleave = () => setHover(null)
    }
    make()
    const ro = new ResizeObserver(() => {
      const u = plot.current
      if (u && el.clientWidth > 0 && Math.abs(u.width - el.clientWidth) > 1) u.setSize({ width: el.clientWidth, height: u.height })
    })
    ro.observe(el)
    dark?.addEventListener('change', make)
    return () => {
      ro.disconnect()
      dark?.removeEventListener('change', make)
      el.onmouseleave = null
      plot.current?.destroy()
      plot.current = null
    }
  }, [])

  useEffect(() => {
    const u = plot.current
    if (u) u.setData(p.series.cols as uPlot.AlignedData)
  }, [p.version])

  const cols = p.series.cols
  const n = p.series.length
  const empty = n === 0
  const at = hover !== null && hover < n ? hover : null
  const allGaps = !empty && p.lines.every((_l, i) => lastValue(cols[i + 1]) === null)
  const legend = p.lines.map((l, i) => {
    const v = at !== null ? cols[i + 1][at] : lastValue(cols[i + 1])
    return html`<span class="item" key=${l.label}>
      <span class=${`marker${l.dash ? ' dashed' : ''}`} style=${`--c: var(${l.colorVar})`}></span>${l.label}
      <b>${v === null || v === undefined ? '–' : p.unit(v)}</b>
    </span>`
  })

  return html`
    <figure class=${`chart${empty ? ' empty' : ''}`} id=${p.id} data-points=${n} data-max=${p.series.max(1)}>
      <figcaption>${p.title}</figcaption>
      <div class="chart-area">
        <div class="chart-box" ref=${box}></div>
        ${empty
          ? html`<p class="chart-msg">${p.emptyText ?? 'no data yet'}</p>`
          : allGaps && p.gapText ? html`<p class="chart-msg over">${p.gapText}</p>` : null}
      </div>
      ${empty
        ? null
        : html`<div class="chart-legend" aria-live="off">
            <span class="when">${at !== null ? clock((cols[0][at] as number) * 1000) : 'latest'}</span>
            ${legend}
          </div>`}
    </figure>
  `
}
