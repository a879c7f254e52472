/**
 * A uPlot line chart over a Series of the last 5 minutes. uPlot owns its canvas; Preact only owns the
 * container. The instance is created once per mount (and again when the colour scheme flips), sized
 * by a ResizeObserver, and fed with setData on every render the parent triggers (one per animation
 * frame at most). data-points / data-max on the container let the browser test see the data move.
 */
import uPlot from 'uplot'
import { useEffect, useRef } from 'preact/hooks'
import { html } from './html'
import { WINDOW_S, type Series } from '../state'

export interface LineSpec {
  label: string
  /** CSS custom property holding the colour, e.g. --c-in */
  colorVar: string
  dash?: number[]
}

interface Props {
  title: string
  series: Series
  lines: LineSpec[]
  /** bumps when the series changed */
  version: number
  unit: (v: number) => string
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

const dark = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null

export function Chart(p: Props) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const props = useRef(p)
  props.current = p

  useEffect(() => {
    const el = box.current
    if (!el) return
    const make = (): void => {
      plot.current?.destroy()
      const q = props.current
      const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid'), width: 1 }, ticks: { stroke: cssVar('--grid'), width: 1 } }
      const opts: uPlot.Options = {
        width: Math.max(200, el.clientWidth),
        height: q.height ?? 220,
        legend: { show: true, live: true },
        cursor: { drag: { x: false, y: false }, points: { size: 6 } },
        scales: {
          // the last 5 minutes once there are; until then at least the last minute, so a fresh console is readable
          x: { time: true, range: (_u, min, max) => [max - Math.min(WINDOW_S, Math.max(60, max - min)), max] },
          y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
        },
        axes: [
          { ...axis, space: 70, values: (_u, ticks) => ticks.map(timeTick) },
          { ...axis, size: 60, values: (_u, ticks) => ticks.map((v) => q.unit(v)) },
        ],
        series: [
          {},
          ...q.lines.map((l) => ({
            label: l.label,
            stroke: cssVar(l.colorVar),
            width: 1.5,
            dash: l.dash,
            spanGaps: false,
            points: { show: false },
            value: (_u: uPlot, v: number | null) => (v === null ? '–' : q.unit(v)),
          })),
        ],
      }
      plot.current = new uPlot(opts, q.series.cols as uPlot.AlignedData, el)
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
      plot.current?.destroy()
      plot.current = null
    }
  }, [])

  useEffect(() => {
    const u = plot.current
    if (u && p.series.length > 0) u.setData(p.series.cols as uPlot.AlignedData)
  }, [p.version])

  return html`
    <figure class="chart" id=${p.id} data-points=${p.series.length} data-max=${p.series.max(1)}>
      <figcaption>${p.title}</figcaption>
      <div class="chart-box" ref=${box}></div>
    </figure>
  `
}
