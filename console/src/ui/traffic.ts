/**
 * An account's traffic of the last 7 UTC days (GET /api/v1/accounts/{id}/stats; docs/ACCOUNTS.md "Traffic
 * reports"), newest first: what a support engineer or a reseller asks first ("what did it send yesterday, how
 * much was throttled, delivered, failed?"). A reseller's own pane adds its users' traffic (`tree`).
 */
import { useEffect, useState } from 'preact/hooks'
import { html } from './html'
import { api } from '../api'
import { n0 } from '../format'
import { errorOf } from './account-forms'
import type { AccountView, TrafficCounts, TrafficDay } from '../types'

/** The refusals of a day, the most first: "ESME_RTHROTTLED 20, SMSC_RQUOTA 3". */
function refusals(c: TrafficCounts): string {
  return Object.entries(c.refusedBy).sort(([, x], [, y]) => y - x).map(([s, n]) => `${s} ${n0(n)}`).join(', ')
}

function Row({ d, c, label }: { d: TrafficDay; c: TrafficCounts; label?: string }) {
  const r = c.receipts
  const failed = c.toEsme.receiptsFailed + c.toEsme.moFailed
  // absent from an engine older than this console
  const discarded = (c.toEsme.receiptsDiscarded ?? 0) + (c.toEsme.moDiscarded ?? 0)
  return html`<tr data-day=${d.day} data-row=${label ?? 'own'}>
    <td class="nowrap t-day">${d.day}${label ? html` <span class="dim">${label}</span>` : null}</td>
    <td class="num t-accepted">${n0(c.accepted)}</td>
    <td class=${`num t-refused${c.refused > 0 ? ' bad' : ''}`} title=${refusals(c)}>${n0(c.refused)}</td>
    <td class="num t-delivrd">${n0(r.DELIVRD ?? 0)}</td>
    <td class=${`num t-failed${(r.UNDELIV ?? 0) + (r.EXPIRED ?? 0) + (r.REJECTD ?? 0) > 0 ? ' bad' : ''}`}>${n0(r.UNDELIV ?? 0)} / ${n0(r.EXPIRED ?? 0)} / ${n0(r.REJECTD ?? 0)}</td>
    <td class="num t-esme">${n0(c.toEsme.receiptsOk + c.toEsme.moOk)}${failed > 0 ? html` <span class="bad">(${n0(failed)} failed)</span>` : null}${discarded > 0
      ? html` <span class="bad t-discarded" title="never acknowledged within receipts.maxAgeMs: the account never got them">(${n0(discarded)} discarded)</span>` : null}</td>
    <td class="t-refusals">${refusals(c)}</td>
  </tr>`
}

/** A row's own counts (without `day` and `tree`), to tell whether its users added any. */
const own = ({ accepted, refused, refusedBy, receipts, toEsme }: TrafficDay): TrafficCounts => ({ accepted, refused, refusedBy, receipts, toEsme })

/** The last 7 days, newest first (a reseller's: a second row for a day its users sent on); fetched when opened. */
export function TrafficView({ a }: { a: AccountView }) {
  const [days, setDays] = useState<TrafficDay[] | null>(null)
  const [err, setErr] = useState<string | null>(null)
  const tree = a.role === 'reseller'
  useEffect(() => {
    let live = true
    api.traffic(a.systemId, tree).then(
      (r) => live && setDays([...r.days].reverse()),
      (e: unknown) => live && setErr(errorOf(e).text),
    )
    return () => {
      live = false
    }
  }, [a.systemId])
  if (err) return html`<p class="error" role="alert">${err}</p>`
  if (!days) return html`<p class="dim">loading the traffic…</p>`
  return html`
    <div class="scroll-x">
      <table class="mini traffic" id="traffic" aria-label=${`traffic of ${a.systemId} per UTC day, newest first`}>
        <thead><tr>
          <th>day (UTC)</th><th class="num">accepted</th><th class="num">refused</th><th class="num">delivered</th>
          <th class="num" title="receipts UNDELIV / EXPIRED / REJECTD">undeliv / expired / rejected</th>
          <th class="num" title="receipts and MO the account acknowledged (its binds or webhooks)">to the account</th><th>refused by</th>
        </tr></thead>
        <tbody>
          ${days.map((d) => html`
            <${Row} key=${d.day} d=${d} c=${d} />
            ${d.tree && JSON.stringify(d.tree) !== JSON.stringify(own(d)) ? html`<${Row} key=${`${d.day}-tree`} d=${d} c=${d.tree} label="with its users" />` : null}
          `)}
        </tbody>
      </table>
    </div>
    <p class="dim">Counted up to the last second. More days: smsc account stats ${a.systemId} --days N, or GET /api/v1/accounts/${a.systemId}/stats.</p>
  `
}
