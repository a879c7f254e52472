/**
 * The accounts tree (GET /api/v1/accounts, scoped by the engine): operator → resellers → their
 * users, operator-owned users at the top level; a reseller sees itself and its users, a user only
 * itself. A row shows system_id, role, balance, rate, daily quota, binds allowed (with the live
 * binds for the operator, from telemetry) and state. Opening a row ("Manage") shows its settings
 * and the actions the principal may take (src/scope.ts): edit settings, move credit, ledger,
 * password, suspend/resume, add a user, delete. Every change reloads the list, so both sides of a
 * credit move show the engine's balances. On a narrow screen each row folds into a card.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { html } from './html'
import { ApiKeysView, CreateForm, CreditForm, DeleteConfirm, LedgerView, PasswordForm, Secret, SettingsForm, errorOf } from './account-forms'
import { OptOutFinder, OptOutsView } from './optouts'
import { TrafficView } from './traffic'
import { api } from '../api'
import type { AccountsStore } from '../admin'
import { credit, dateTime, n0, rate } from '../format'
import { buildTree, canAddUserUnder, canCreate, canRemove, canSetPassword, canSuspend, creditMoves, editableKeys, readOnly, type TreeNode } from '../scope'
import type { TelemetryState } from '../state'
import type { AccountView, Principal } from '../types'

type Pane = 'edit' | 'credit' | 'ledger' | 'traffic' | 'apikeys' | 'optouts' | 'password' | 'add-user' | 'delete'

interface Created {
  account: AccountView
  password: string
}

const HOUR = 3_600_000
const hoursText = (ms: number): string => `${Number((ms / HOUR).toFixed(2))} h`

function rateText(a: AccountView): string {
  return a.rateLimit ? `${rate(a.rateLimit.perSecond)}/s` : '∞'
}

export function AccountTree({ me, store, state }: { me: Principal; store: AccountsStore; state: TelemetryState | null }) {
  const [open, setOpen] = useState<string | null>(me.role === 'user' ? me.systemId : null)
  const [pane, setPane] = useState<Pane | null>(null)
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set())
  const [filter, setFilter] = useState('')
  const [creating, setCreating] = useState(false)
  const [created, setCreated] = useState<Created | null>(null)

  // visiting the page shows fresh balances
  useEffect(() => {
    store.load()
  }, [])

  // the operator sees traffic in telemetry: balances move with it, so reload (at most every 2 s)
  const traffic = state ? [...state.accounts.values()].reduce((s, x) => s + x.submitted, 0) : 0
  const lastTraffic = useRef(traffic)
  useEffect(() => {
    if (traffic === lastTraffic.current) return
    lastTraffic.current = traffic
    const wait = Math.max(0, 2000 - (Date.now() - store.at))
    const timer = setTimeout(() => store.load(), wait)
    return () => clearTimeout(timer)
  }, [traffic])

  // an account added, removed, or moved in or out of what a reseller or user sees: its stream's snapshot
  // has another set of accounts, so the list follows at once instead of at the next traffic-driven reload
  const seen = useMemo(() => (state ? [...state.accounts.keys()].sort().join('\n') : ''), [state, state?.accountsVersion])
  const lastSeen = useRef(seen)
  useEffect(() => {
    if (seen === lastSeen.current) return
    lastSeen.current = seen
    store.load()
  }, [seen])

  const tree = useMemo(() => buildTree(store.list), [store.version])
  const words = filter.trim().toLowerCase()
  const shown = useMemo(() => {
    if (!words) return tree
    const hit = (a: AccountView): boolean => a.systemId.toLowerCase().includes(words) || (a.group ?? '').toLowerCase().includes(words)
    const out: TreeNode[] = []
    for (const n of tree) {
      const kids = n.children.filter(hit)
      if (hit(n.account) || kids.length) out.push({ account: n.account, children: hit(n.account) ? n.children : kids })
    }
    return out
  }, [tree, words])

  const resellers = useMemo(() => store.list.filter((a) => a.role === 'reseller').map((a) => a.systemId).sort(), [store.version])
  const self = me.systemId !== null ? store.byId.get(me.systemId) : undefined

  const toggle = (id: string): void => {
    if (open === id) {
      setOpen(null)
      setPane(null)
    } else {
      setOpen(id)
      setPane(null)
    }
  }
  const fold = (id: string): void => {
    const next = new Set(collapsed)
    if (next.has(id)) next.delete(id)
    else next.add(id)
    setCollapsed(next)
  }
  const onCreated = (r: Created): void => {
    setCreated(r)
    setCreating(false)
    setPane(null)
    if (r.account.parent) setCollapsed((c) => {
      const next = new Set(c)
      next.delete(r.account.parent as string)
      return next
    })
    store.load()
  }

  const live = (id: string): number | null => state?.accounts.get(id)?.binds ?? null
  const count = store.list.length

  const row = (a: AccountView, level: number, kids: number) => {
    const isOpen = open === a.systemId
    const folded = collapsed.has(a.systemId)
    // Live binds: the operator's telemetry stream, else the account list's usage (resellers, users).
    const binds = live(a.systemId) ?? a.usage?.binds ?? null
    const usedToday = a.usage?.quotaUsedToday ?? null
    return html`
      <div role="row" class=${`acct-row${isOpen ? ' open' : ''}${a.suspended ? ' is-suspended' : ''}`} key=${a.systemId} data-system-id=${a.systemId}
        data-role=${a.role} aria-level=${level} aria-expanded=${kids ? (folded ? 'false' : 'true') : undefined} aria-selected=${isOpen ? 'true' : 'false'}>
        <div role="gridcell" class="acct-name">
          ${kids
            ? html`<button type="button" class="twisty" aria-label=${`${folded ? 'show' : 'hide'} the users of ${a.systemId}`} onClick=${() => fold(a.systemId)}>${folded ? '▸' : '▾'}</button>`
            : html`<span class="twisty" aria-hidden="true"></span>`}
          <button type="button" class="name" onClick=${() => toggle(a.systemId)} title=${`manage ${a.systemId}`}>${a.systemId}</button>
          ${a.systemId === me.systemId ? html`<span class="chip you">you</span>` : null}
          <span class="role-tag">${a.role === 'reseller' ? `reseller · ${n0(a.children ?? kids)} ${(a.children ?? kids) === 1 ? 'user' : 'users'}` : ''}</span>
        </div>
        <div role="gridcell" class="acct-role" data-label="role">${a.role}${a.role === 'reseller' ? html` <span class="dim">(${n0(a.children ?? kids)})</span>` : null}</div>
        <div role="gridcell" class="num acct-balance" data-label="balance" title=${a.prepaid ? 'prepaid balance' : 'not prepaid: no credit control'}>${a.prepaid ? credit(a.balance) : html`<span class="dim">—</span>`}</div>
        <div role="gridcell" class="num acct-rate" data-label="rate" title=${a.rateLimit ? `burst ${a.rateLimit.burst}` : 'unlimited'}>${rateText(a)}</div>
        <div role="gridcell" class="num acct-quota" data-label="quota/day" title=${a.dailyQuota === null ? 'unlimited' : a.role === 'reseller' ? 'message parts used today by the reseller and its users together / per UTC day' : 'message parts used today / per UTC day'}>${a.dailyQuota === null ? '∞' : usedToday !== null ? `${n0(usedToday)} / ${n0(a.dailyQuota)}` : n0(a.dailyQuota)}</div>
        <div role="gridcell" class="num acct-binds" data-label="binds" title=${binds !== null ? 'bound now / allowed' : 'binds allowed'}>${binds !== null ? `${n0(binds)} / ` : ''}${n0(a.maxBinds)}</div>
        <div role="gridcell" class="acct-state"><span class=${`pill state-${a.suspended ? 'suspended' : 'active'}`} data-state=${a.suspended ? 'suspended' : 'active'}>${a.suspended ? 'suspended' : 'active'}</span></div>
        <div role="gridcell" class="act"><button type="button" class="btn small" data-action="manage" aria-expanded=${isOpen ? 'true' : 'false'} onClick=${() => toggle(a.systemId)}>${isOpen ? 'Close' : 'Manage'}</button></div>
      </div>
      ${isOpen
        ? html`<div role="row" class="acct-detail-row" key=${`${a.systemId}-detail`}><div role="gridcell" class="acct-detail-cell">
            <${Detail} me=${me} a=${a} store=${store} pane=${pane} setPane=${setPane} resellers=${resellers} self=${self}
              onCreated=${onCreated} onDeleted=${() => { setOpen(null); setPane(null); store.load() }} />
          </div></div>`
        : null}
    `
  }

  return html`
    <section class="panel" id="account-tree">
      <div class="panel-head">
        <h2>Accounts <span class="dim">${store.loaded ? n0(count) : ''}</span></h2>
        <div class="tools">
          ${count > 6 ? html`<input type="search" class="filter" id="accounts-filter" placeholder="filter system_id or group" aria-label="filter accounts" value=${filter} onInput=${(e: Event) => setFilter((e.target as HTMLInputElement).value)} />` : null}
          <button type="button" class="btn small ghost" id="accounts-refresh" title="fetch the accounts again" disabled=${store.loading} onClick=${() => store.load()}>↻</button>
          ${canCreate(me)
            ? html`<button type="button" class="btn small primary" id="account-new" aria-expanded=${creating ? 'true' : 'false'} onClick=${() => { setCreating(!creating); setCreated(null) }}>${me.role === 'operator' ? '+ New account' : '+ New user'}</button>`
            : null}
        </div>
      </div>
      ${store.error ? html`<p class="error" role="alert">${store.error}</p>` : null}
      ${created
        ? html`<${Secret} id="created-password" label=${`Created ${created.account.systemId}${created.account.parent ? ` under ${created.account.parent}` : ''} · password`} value=${created.password}
            note="shown only now: give it to the account holder" onClose=${() => setCreated(null)} />`
        : null}
      ${creating
        ? html`<div class="create-top"><${CreateForm} me=${me} parent=${me.role === 'reseller' ? me.systemId : undefined} resellers=${resellers} self=${self}
            onCreated=${onCreated} onCancel=${() => setCreating(false)} /></div>`
        : null}
      ${!store.loaded
        ? html`<p class="empty">${store.loading ? 'loading accounts…' : 'no answer yet'}</p>`
        : count === 0
          ? html`<p class="empty">no accounts yet${canCreate(me) ? ': create one with “New account”' : ''}</p>`
          : html`<div class="acct-tree" role="treegrid" aria-label="accounts" aria-busy=${store.loading ? 'true' : undefined}>
              <div role="row" class="acct-row thead">
                <div role="columnheader">system_id</div><div role="columnheader">role</div><div role="columnheader" class="num">balance</div>
                <div role="columnheader" class="num">rate</div><div role="columnheader" class="num">quota/day</div>
                <div role="columnheader" class="num" title=${state ? 'bound now / allowed' : 'binds allowed'}>binds</div><div role="columnheader">state</div><div role="columnheader"></div>
              </div>
              ${shown.map((n) => html`
                ${row(n.account, 1, n.children.length)}
                ${collapsed.has(n.account.systemId) ? null : n.children.map((c) => row(c, 2, 0))}
              `)}
              ${shown.length === 0 ? html`<p class="empty">no account matches “${filter}”</p>` : null}
            </div>`}
    </section>
  `
}

interface DetailProps {
  me: Principal
  a: AccountView
  store: AccountsStore
  pane: Pane | null
  setPane: (p: Pane | null) => void
  resellers: string[]
  self: AccountView | undefined
  onCreated: (r: Created) => void
  onDeleted: () => void
}

function Fact({ k, v }: { k: string; v: unknown }) {
  return html`<div><dt>${k}</dt><dd>${v}</dd></div>`
}

/** One account opened: its settings and the actions allowed on it. */
function Detail(p: DetailProps) {
  const { me, a, store, pane, setPane } = p
  const [busy, setBusy] = useState(false)
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null)
  const keys = editableKeys(me, a)
  const moves = creditMoves(me, a, store.byId)
  const isSelf = me.systemId === a.systemId
  const show = (x: Pane): void => {
    setMsg(null)
    setPane(pane === x ? null : x)
  }
  const suspend = (): void => {
    const to = !a.suspended
    setBusy(true)
    setMsg(null)
    api.suspend(a.systemId, to).then(
      () => {
        setBusy(false)
        setMsg({ ok: true, text: to ? `${a.systemId} is suspended: its binds are closed, its sign-ins and sends refused.` : `${a.systemId} is active again.` })
        store.load()
      },
      (e: unknown) => {
        setBusy(false)
        setMsg({ ok: false, text: errorOf(e).text })
      },
    )
  }
  const button = (x: Pane, label: string, extra = '') =>
    html`<button type="button" class=${`btn small${pane === x ? ' on' : ''}${extra}`} data-action=${x} aria-pressed=${pane === x ? 'true' : 'false'} onClick=${() => show(x)}>${label}</button>`
  const w = a.webhooks
  return html`
    <div class="acct-detail" id="acct-detail" data-detail=${a.systemId}>
      <dl class="facts compact acct-facts">
        <${Fact} k="owner" v=${a.role === 'reseller' ? 'the operator' : a.parent ?? 'the operator'} />
        ${a.group !== null ? html`<${Fact} k="routing group" v=${a.group} />` : null}
        <${Fact} k="credit" v=${a.prepaid ? `prepaid · ${credit(a.balance)} · ${a.settlement === 'refund' ? 'failed messages refunded' : 'charged on submit'}` : 'not prepaid'} />
        <${Fact} k="window" v=${`${n0(a.windowSize)} per bind`} />
        <${Fact} k="rate" v=${a.rateLimit ? `${rate(a.rateLimit.perSecond)}/s, burst ${n0(a.rateLimit.burst)}` : 'unlimited'} />
        <${Fact} k="allowed IPs" v=${a.allowedIps.length ? a.allowedIps.join(', ') : 'any'} />
        ${a.clientCerts.length ? html`<${Fact} k="TLS client certificates" v=${a.clientCerts.map((c) => `${c.slice(0, 11)}…`).join(', ')} />` : null}
        <${Fact} k="sender ids" v=${a.allowedSources.length ? a.allowedSources.join(', ') : 'any'} />
        <${Fact} k="validity" v=${`${hoursText(a.validity.defaultMs)} (max ${hoursText(a.validity.maxMs)})`} />
        <${Fact} k="receipts" v=${`${a.registeredDelivery ? 'requested' : 'not requested'} by default · ${a.receiptPolicy === 'every' ? 'one per part' : a.receiptPolicy === 'last' ? 'last part only' : 'one per message'}`} />
        <${Fact} k="webhooks" v=${w.receipts || w.mo ? `${w.receipts ? `receipts → ${w.receipts}` : ''}${w.receipts && w.mo ? ' · ' : ''}${w.mo ? `MO → ${w.mo}` : ''}` : 'none'} />
        ${a.outbind ? html`<${Fact} k="outbind" v=${`${a.outbind.host.includes(':') ? `[${a.outbind.host}]` : a.outbind.host}:${a.outbind.port}${a.outbind.tls ? ' (TLS)' : ''}`} />` : null}
        <${Fact} k="message ids" v=${a.messageIdFormat} />
        <${Fact} k="created" v=${dateTime(a.createdAt)} />
        <${Fact} k="changed" v=${dateTime(a.updatedAt)} />
      </dl>
      <div class="acct-actions" role="toolbar" aria-label=${`actions on ${a.systemId}`}>
        ${keys.length ? button('edit', keys.length === 1 && keys[0] === 'webhooks' ? 'Webhooks' : 'Edit settings') : null}
        ${moves.length ? button('credit', 'Move credit') : null}
        ${button('ledger', 'Ledger')}
        ${button('traffic', 'Traffic')}
        ${button('apikeys', 'API keys')}
        ${button('optouts', 'Opt-outs')}
        ${canSetPassword(me, a) ? button('password', 'Password') : null}
        ${canAddUserUnder(me, a) ? button('add-user', 'Add user') : null}
        ${canSuspend(me, a) && !isSelf
          ? html`<button type="button" class=${`btn small${a.suspended ? '' : ' warn'}`} data-action=${a.suspended ? 'resume' : 'suspend'} disabled=${busy} onClick=${suspend}>${a.suspended ? 'Resume' : 'Suspend'}</button>`
          : null}
        ${canRemove(me, a) && !isSelf ? button('delete', 'Delete', ' danger') : null}
      </div>
      ${msg ? html`<p class=${msg.ok ? 'ok' : 'error'} role=${msg.ok ? 'status' : 'alert'} id="acct-msg">${msg.text}</p>` : null}
      <div class="acct-pane">
        ${pane === 'edit' ? html`<${SettingsForm} key=${`edit-${a.systemId}`} a=${a} keys=${keys} resellers=${p.resellers.filter((r) => r !== a.systemId)} onSaved=${() => store.load()} />` : null}
        ${pane === 'credit' ? html`<${CreditForm} key=${`credit-${a.systemId}`} a=${a} moves=${moves} byId=${store.byId} onDone=${() => store.load()} />` : null}
        ${pane === 'ledger' ? html`<${LedgerView} key=${`ledger-${a.systemId}`} a=${a} />` : null}
        ${pane === 'traffic' ? html`<${TrafficView} key=${`traffic-${a.systemId}`} a=${a} />` : null}
        ${pane === 'apikeys' ? html`<${ApiKeysView} key=${`keys-${a.systemId}`} a=${a} readOnly=${readOnly(me)} />` : null}
        ${pane === 'optouts' ? html`
          ${me.role === 'operator' ? null : html`<${OptOutFinder} />`}
          <${OptOutsView} key=${`optouts-${a.systemId}`} systemId=${a.systemId} readOnly=${readOnly(me)} />` : null}
        ${pane === 'password' ? html`<${PasswordForm} key=${`pw-${a.systemId}`} a=${a} self=${isSelf} />` : null}
        ${pane === 'add-user' ? html`<${CreateForm} key=${`add-${a.systemId}`} me=${me} parent=${a.systemId} resellers=${p.resellers} self=${p.self} onCreated=${p.onCreated} onCancel=${() => setPane(null)} />` : null}
        ${pane === 'delete' ? html`<${DeleteConfirm} a=${a} byId=${store.byId} onDeleted=${p.onDeleted} onCancel=${() => setPane(null)} />` : null}
      </div>
    </div>
  `
}
