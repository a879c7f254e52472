/**
 * The overview: headline numbers, the two live charts (msg/s and latency percentiles), engine
 * health, queue depths and the recent events feed. Everything here is read from TelemetryState,
 * except the operator's backup panel (the admin API: start one, follow it).
 * A reseller or user (a scoped stream: no engine or latency part) gets its accounts' figures: the
 * msg/s chart of its accounts, their pending deliveries and their events.
 */
import { useEffect, useMemo, useState } from 'preact/hooks'
import { api } from '../api'
import { html } from './html'
import { Chart, type LineSpec } from './chart'
import { bytes, clock, count, duration, ms, msShort, n0, pct, rate, rateShort } from '../format'
import type { TelemetryState } from '../state'
import type { BackupState, TelemetryEvent } from '../types'

const RATE_LINES: LineSpec[] = [
  { label: 'in (submit)', colorVar: '--c-in' },
  { label: 'out (deliver)', colorVar: '--c-out' },
  { label: 'receipts', colorVar: '--c-rcpt' },
]
const LATENCY_LINES: LineSpec[] = [
  // submit→resp (a few ms) on the left axis, submit→receipt (seconds) on the right one
  { label: 'submit→resp p50', colorVar: '--c-in', scale: 'y' },
  { label: 'submit→resp p99', colorVar: '--c-in', dash: [4, 3], scale: 'y' },
  { label: 'submit→receipt p50', colorVar: '--c-rcpt', scale: 'y2' },
  { label: 'submit→receipt p99', colorVar: '--c-rcpt', dash: [4, 3], scale: 'y2' },
]

function Kpi(p: { label: string; value: string; hint?: string; id?: string }) {
  return html`<div class="kpi" id=${p.id}><div class="kpi-value">${p.value}</div><div class="kpi-label">${p.label}</div>${p.hint ? html`<div class="kpi-hint">${p.hint}</div>` : null}</div>`
}

export function Overview({ state, operator, readOnly = false }: { state: TelemetryState; operator: boolean; readOnly?: boolean }) {
  if (!operator) return html`<${ScopedOverview} state=${state} />`
  const e = state.engine
  const l = state.latency
  const q = state.queues
  const problems = e?.problems ?? []
  return html`
    ${problems.length > 0
      ? html`<section class="problems" id="health-problems" role="alert" aria-label="engine problems">
          <strong>Degraded</strong> (as GET /healthz says; the engine still serves)
          <ul>${problems.map((p) => html`<li>${p}</li>`)}</ul>
        </section>`
      : null}
    <section class="kpis" aria-label="headline numbers">
      <${Kpi} id="kpi-in" label="in msg/s" value=${rate(e?.submitPerSec)} />
      <${Kpi} id="kpi-out" label="out msg/s" value=${rate(e?.deliverPerSec)} />
      <${Kpi} id="kpi-rcpt" label="receipts/s" value=${rate(e?.receiptPerSec)} />
      <${Kpi} id="kpi-binds" label="binds" value=${n0(e?.bound)} hint=${e ? count(e.sessions, 'session') : ''} />
      <${Kpi} label="submit→resp p99" value=${l && l.submitResp.count ? ms(l.submitResp.p99) : '–'} />
      <${Kpi} label="pending deliveries" value=${n0(q?.pendingTotal)} hint="receipts + MO waiting for a receiver" />
    </section>
    <section class="charts">
      <${Chart} id="chart-rates" title="Messages per second · last 5 minutes" series=${state.rates} lines=${RATE_LINES} version=${state.version}
        unit=${rate} axisUnit=${rateShort} emptyText=${state.frames ? 'no data yet' : 'no data: waiting for telemetry…'} />
      <${Chart} id="chart-latency" title="Latency percentiles · left axis submit→resp, right axis submit→receipt" series=${state.latencySeries} lines=${LATENCY_LINES} version=${state.version}
        unit=${ms} axisUnit=${msShort} emptyText=${state.frames ? 'no data yet' : 'no data: waiting for telemetry…'} gapText="no messages in the last 5 minutes" />
    </section>
    <section class="cols">
      <${Health} state=${state} />
      <${QueuesPanel} state=${state} />
      <${BackupPanel} readOnly=${readOnly} />
    </section>
    <${ConnectorsPanel} state=${state} readOnly=${readOnly} />
    <${Events} events=${state.events} version=${state.eventsVersion} />
  `
}

/**
 * The connectors (docs/CONNECTORS.md): up, down, stalled (an smpp upstream that answered no submit_sm: its link dropped and
 * binding again), paused by its upstream's throttling or stopped by the operator, what each has in flight and queued in
 * front of it, what its upstream accepted and refused since the start; the destinations waiting for any connector (the
 * overload guard's backlog). An admin stops or starts one here as `smsc connector stop|start` does (a viewer sees only).
 */
const CONN_STATE_TITLE: Record<string, string> = {
  up: 'takes traffic',
  down: 'its link is down: routes fail over or wait',
  stopped: 'stopped by the operator: no link, routes skip it',
  paused: 'its upstream throttles it (ESME_RTHROTTLED, ESME_RMSGQFUL, HTTP 429): its submits wait, failover routes go past it',
  stalled: 'its upstream kept the bind but answered no submit_sm (stallAfterTimeouts in a row): the link was dropped and binds again; routes fail over or wait',
}

function ConnectorsPanel({ state, readOnly }: { state: TelemetryState; readOnly: boolean }) {
  const q = state.queues
  const [busy, setBusy] = useState<string | null>(null)
  const [err, setErr] = useState<string | null>(null)
  const act = async (id: string, action: 'stop' | 'start') => {
    if (action === 'stop' && !confirm(`Stop connector ${id}? It closes its link and routes skip it until it is started again (across restarts too).`)) return
    setBusy(id)
    try {
      await api.connector(id, action)
      setErr(null)
    } catch (e) {
      setErr(`${id}: ${(e as Error).message}`)
    } finally {
      setBusy(null)
    }
  }
  const list = q?.connectors ?? []
  return html`
    <section class="panel" id="connectors">
      <h2>Connectors</h2>
      ${q && q.connectors
        ? html`
            <dl class="facts">
              <${Row} k="waiting for a connector" v=${n0(q.backlog)} warn=${(q.backlog ?? 0) > 0 && list.some((c) => !c.up)} />
            </dl>
            <div class="scroll-x"><table class="mini" id="connectors-table"><thead><tr>
              <th>connector</th><th>kind</th><th>state</th><th class="num">in flight</th><th class="num">queued</th><th class="num">sent</th><th class="num">failed</th>${readOnly ? null : html`<th></th>`}
            </tr></thead><tbody>
              ${list.map((c) => {
                // as smsc connector list: stalled while down after a stall (bound again on trial, it is up)
                const st = c.stopped ? 'stopped' : !c.up ? (c.stalled !== undefined ? 'stalled' : 'down') : c.paused !== undefined ? 'paused' : 'up'
                return html`<tr key=${c.id} data-connector=${c.id} data-state=${st}>
                  <td>${c.id}</td><td class="dim">${c.kind}</td>
                  <td><span class=${`pill conn-${st}`} title=${CONN_STATE_TITLE[st]}>${st}${st === 'paused' ? html` <span class="dim">until ${clock(Date.parse(c.paused as string))}</span>` : null}${
                    st === 'stalled' && c.stalled ? html` <span class="dim">since ${clock(Date.parse(c.stalled.since))}, ${c.stalled.timeouts} unanswered</span>` : null}</span></td>
                  <td class="num">${n0(c.inFlight)}</td><td class="num">${n0(c.queued)}</td><td class="num">${n0(c.sent)}</td><td class="num">${n0(c.failed)}</td>
                  ${readOnly || c.kind === 'simulator' ? (readOnly ? null : html`<td></td>`) : html`<td><button type="button" class="btn small" data-action=${c.stopped ? 'start' : 'stop'} disabled=${busy === c.id}
                      onClick=${() => void act(c.id, c.stopped ? 'start' : 'stop')}>${c.stopped ? 'Start' : 'Stop'}</button></td>`}
                </tr>`
              })}
            </tbody></table></div>
            ${list.length === 0 ? html`<p class="empty">no connector</p>` : null}
            ${err ? html`<p class="error" role="alert">${err}</p>` : null}
            <p class="dim small">sent / failed: submits the upstream accepted / refused or that failed, since the engine started</p>`
        : html`<p class="empty">waiting for the first frame…</p>`}
    </section>
  `
}

/** The operator's backup of the store (README "Backup and restore"): start one, follow it, see the last one (a viewer: see only). */
function BackupPanel({ readOnly }: { readOnly: boolean }) {
  const [st, setSt] = useState<BackupState | null>(null)
  const [err, setErr] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const load = () => api.backup().then((r) => { setSt(r.backup); setErr(null) }, (e: Error) => setErr(e.message))
  useEffect(() => { void load() }, [])
  // followed while it runs
  useEffect(() => {
    if (st?.state !== 'running') return
    const timer = setInterval(() => void load(), 500)
    return () => clearInterval(timer)
  }, [st?.state, st?.path])
  const start = async () => {
    setBusy(true)
    try {
      setSt((await api.startBackup()).backup)
      setErr(null)
    } catch (e) {
      setErr((e as Error).message)
    } finally {
      setBusy(false)
    }
  }
  const running = st?.state === 'running'
  return html`
    <section class="panel" id="backup" data-state=${st?.state ?? 'none'}>
      <h2>Backup</h2>
      ${st
        ? html`
            <dl class="facts">
              <${Row} k=${running ? 'being made' : st.state === 'done' ? 'last backup' : 'last attempt'} v=${`${clock(st.startedAt)}${running ? '' : st.state === 'done' ? ` · ${bytes(st.bytes ?? 0)} in ${ms(st.ms ?? 0)}` : ' · failed'}`} warn=${st.state === 'failed'} />
              <${Row} k="where" v=${st.path} />
              ${st.error ? html`<${Row} k="why" v=${st.error} warn=${true} />` : null}
            </dl>`
        : html`<p class="empty">none since the engine started</p>`}
      ${err ? html`<p class="error" role="alert">${err}</p>` : null}
      <p class="dim small">A consistent copy of the store, made while traffic goes on. To restore, start the engine with <code>--data-dir</code> on it.</p>
      ${readOnly ? null : html`<button type="button" class="btn small" id="backup-start" disabled=${busy || running} onClick=${start}>${running ? 'backing up…' : 'Back up now'}</button>`}
    </section>
  `
}

function ScopedOverview({ state }: { state: TelemetryState }) {
  const q = state.queues
  let inS = 0
  let outS = 0
  let inFlight = 0
  for (const a of state.accounts.values()) { inS += a.submitPerSec; outS += a.deliverPerSec; inFlight += a.inFlight ?? 0 }
  let bound = 0
  for (const b of state.binds.values()) if (b.state.startsWith('BOUND')) bound++
  const rcpt = state.rates.cols[3]
  const last = rcpt.length ? rcpt[rcpt.length - 1] : null
  const waiting = state.frames === 0
  return html`
    <section class="kpis" aria-label="headline numbers">
      <${Kpi} id="kpi-in" label="in msg/s" value=${waiting ? '–' : rate(inS)} />
      <${Kpi} id="kpi-out" label="out msg/s" value=${waiting ? '–' : rate(outS)} />
      <${Kpi} id="kpi-rcpt" label="receipts/s" value=${rate(last)} />
      <${Kpi} id="kpi-binds" label="binds" value=${waiting ? '–' : n0(bound)} hint=${waiting ? '' : count(state.binds.size, 'session')} />
      <${Kpi} id="kpi-inflight" label="in flight" value=${waiting ? '–' : n0(inFlight)} hint="messages not final yet (carrier, upstream, scheduled)" />
      <${Kpi} id="kpi-pending" label="pending deliveries" value=${n0(q?.pendingTotal)} hint="receipts + MO waiting for a receiver" />
    </section>
    <section class="charts">
      <${Chart} id="chart-rates" title="Messages per second, your accounts · since this page opened (5 minutes)" series=${state.rates} lines=${RATE_LINES} version=${state.version}
        unit=${rate} axisUnit=${rateShort} emptyText=${state.frames ? 'no data yet' : 'no data: waiting for telemetry…'} />
    </section>
    <section class="cols">
      <${QueuesPanel} state=${state} />
    </section>
    <${Events} events=${state.events} version=${state.eventsVersion} />
  `
}

function Row(p: { k: string; v: string; warn?: boolean }) {
  return html`<div class=${p.warn ? 'warn' : ''}><dt>${p.k}</dt><dd>${p.v}</dd></div>`
}

function Health({ state }: { state: TelemetryState }) {
  const e = state.engine
  if (!e) return html`<section class="panel" id="health"><h2>Engine health</h2><p class="empty">waiting for the first frame…</p></section>`
  const w = e.workers
  return html`
    <section class="panel" id="health">
      <h2>Engine health</h2>
      <dl class="facts">
        <${Row} k="status" v=${e.problems?.length ? `degraded: ${e.problems.length === 1 ? 'one problem' : `${e.problems.length} problems`} (above)` : 'ok'} warn=${(e.problems?.length ?? 0) > 0} />
        <${Row} k="uptime" v=${duration(e.uptimeS)} />
        <${Row} k="CPU" v=${`${rate(e.cpu * 100)} % of a core`} warn=${e.cpu > 0.9} />
        <${Row} k="resident memory" v=${bytes(e.rssBytes)} />
        <${Row} k="heap used" v=${bytes(e.heapUsedBytes)} />
        <${Row} k="event-loop delay" v=${`p50 ${ms(e.eventLoopDelayMs.p50)} · p99 ${ms(e.eventLoopDelayMs.p99)} · max ${ms(e.eventLoopDelayMs.max)}`} warn=${e.eventLoopDelayMs.p99 > 100} />
        <${Row} k="store commit" v=${`p50 ${ms(e.storeCommitMs.p50)} · p99 ${ms(e.storeCommitMs.p99)} · ${n0(e.storeCommitMs.count)} commits`} />
        <${Row} k="workers" v=${w ? `${w.threads} threads · ${pct(w.utilization)} busy · ${n0(w.queued)} queued` : 'inline codec'} />
        <${Row} k="sessions" v=${`${n0(e.sessions)} open · ${n0(e.bound)} bound`} />
      </dl>
    </section>
  `
}

function QueuesPanel({ state }: { state: TelemetryState }) {
  const q = state.queues
  const rows = useMemo(() => {
    if (!q) return []
    return Object.entries(q.pending).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).slice(0, 12)
  }, [q])
  return html`
    <section class="panel" id="queues">
      <h2>Queues</h2>
      ${q
        ? html`
            <dl class="facts">
              <${Row} k="pending receipts + MO" v=${n0(q.pendingTotal)} />
              ${q.carrierInFlight !== undefined && q.connectors?.some((c) => c.kind === 'simulator') ? html`<${Row} k="with the simulated carrier" v=${n0(q.carrierInFlight)} />` : null}
            </dl>
            ${rows.length
              ? html`<table class="mini"><thead><tr><th>account</th><th class="num">pending</th></tr></thead><tbody>
                  ${rows.map(([id, v]) => html`<tr key=${id}><td>${id}</td><td class="num">${n0(v)}</td></tr>`)}
                </tbody></table>`
              : html`<p class="empty">no account has deliveries waiting</p>`}
          `
        : html`<p class="empty">waiting for the first frame…</p>`}
    </section>
  `
}

const EVENT_LABEL: Record<string, string> = {
  bind: 'bind',
  unbind: 'unbind',
  auth_failure: 'auth failure',
  bind_refused: 'bind refused',
  throttle: 'throttle',
  session_crash: 'session crash',
  connector_up: 'connector up',
  connector_down: 'connector down',
  connector: 'connector',
  outbind: 'outbind',
  account: 'account',
}

function Events({ events, version }: { events: TelemetryEvent[]; version: number }) {
  // the list is rebuilt only when events changed; the same vnode lets Preact skip the diff otherwise
  const list = useMemo(() => {
    const rows = []
    for (let i = events.length - 1; i >= 0; i--) {
      const e = events[i]
      rows.push(html`<li key=${e.seq} class=${`ev ev-${e.type}`}>
        <time>${clock(e.t)}</time>
        <span class="tag">${EVENT_LABEL[e.type] ?? e.type}</span>
        <span class="who">${e.systemId ?? ''}${e.session !== undefined ? html` <span class="dim">#${e.session}</span>` : null}</span>
        <span class="detail" title=${e.detail}>${e.detail ?? ''}</span>
      </li>`)
    }
    return rows.length ? html`<ol class="events">${rows}</ol>` : html`<p class="empty">no events yet</p>`
  }, [version])
  return html`<section class="panel" id="events"><h2>Recent events <span class="dim">(${events.length})</span></h2>${list}</section>`
}
