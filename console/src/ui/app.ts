/**
 * The console shell: checks the login (GET /api/v1/me), shows the login screen or the pages, owns
 * the telemetry stream, the accounts list and the message watcher, and renders at most once per
 * animation frame however fast frames arrive. When the engine is unreachable the shell stays up
 * (the service worker serves it offline) with a "reconnecting…" badge and retries with back-off.
 *
 * Pages depend on who is logged in: the operator gets everything; a reseller or user gets the same
 * pages scoped to its accounts (the server sends it a scoped stream: its binds, rates, pending
 * counts and events, no engine-wide health or latency), with nothing it may not do (no unbind).
 * A staff login is the operator under its own name (the header says who and which role); a viewer gets
 * the operator's pages with every control that changes something hidden (scope.ts readOnly), and the
 * staff panel read-only.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { html } from './html'
import { Login } from './login'
import { Overview } from './overview'
import { Binds } from './binds'
import { Accounts } from './accounts'
import { AccountTree } from './account-tree'
import { StaffPanel } from './staff'
import { GlobalOptOuts } from './optouts'
import { readOnly, roleLabel } from '../scope'
import { Lookup, SendForm } from './messages'
import { api, ApiError, onAuthLost } from '../api'
import { AccountsStore } from '../admin'
import { TelemetryState } from '../state'
import { TelemetryStream, type StreamStatus } from '../stream'
import { MessageWatch } from '../watch'
import { clock, n0 } from '../format'
import type { Principal } from '../types'

type Auth = 'checking' | 'login' | 'in' | 'offline'

const PAGES = [
  { id: 'overview', label: 'Overview' },
  { id: 'binds', label: 'Binds' },
  { id: 'accounts', label: 'Accounts' },
  { id: 'messages', label: 'Messages' },
] as const
type Page = (typeof PAGES)[number]['id']

/** the page in the URL, else the first (every principal has every page, scoped to what it may see) */
function pageFromHash(): Page {
  const h = location.hash.replace(/^#\/?/, '')
  return (PAGES.find((x) => x.id === h)?.id ?? PAGES[0].id) as Page
}

// who was signed in last, so an offline start (the engine unreachable) shows that principal's shell
const KEY_ME = 'smsc.me'
function rememberMe(p: Principal | null): void {
  try {
    if (p) localStorage.setItem(KEY_ME, JSON.stringify(p))
    else localStorage.removeItem(KEY_ME)
  } catch {
    // private mode
  }
}
function rememberedMe(): Principal | null {
  try {
    const p = JSON.parse(localStorage.getItem(KEY_ME) ?? 'null') as Principal | null
    return p && typeof p.role === 'string' ? p : null
  } catch {
    return null
  }
}

/** resolves the principal (logged in) or null (needs login); rejects when the engine is unreachable */
async function checkLogin(): Promise<Principal | null> {
  try {
    return await api.me()
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return null
    throw e
  }
}

export function App() {
  const [, setTick] = useState(0)
  const [auth, setAuth] = useState<Auth>('checking')
  const [me, setMe] = useState<Principal | null>(rememberedMe)
  const [notice, setNotice] = useState<string | null>(null)
  const [status, setStatus] = useState<StreamStatus>('stopped')
  const [page, setPage] = useState<Page>(() => pageFromHash())

  const loginGone = useRef<(e: ApiError, why?: string | null) => void>(() => undefined)
  const core = useMemo(() => {
    const state = new TelemetryState()
    let raf = 0
    const render = (): void => {
      if (raf) return
      raf = requestAnimationFrame(() => {
        raf = 0
        setTick((x) => x + 1)
      })
    }
    state.onUpdate(render)
    const accounts = new AccountsStore()
    accounts.onUpdate(render)
    const watch = new MessageWatch(state, render)
    const stream = new TelemetryStream({
      state,
      onStatus: setStatus,
      // the stream closed: reconnect only while the login holds (a 4001/4003 close: it ended, or the account was suspended)
      beforeReconnect: async () => {
        try {
          await api.me()
          return true
        } catch (e) {
          if (e instanceof ApiError && (e.status === 401 || e.status === 403)) { loginGone.current(e, stream.closeReason); return false }
          throw e
        }
      },
    })
    return { state, accounts, watch, stream }
  }, [])

  const signedIn = (p: Principal): void => {
    rememberMe(p)
    setMe(p)
    setNotice(null)
    setPage(pageFromHash())
    setAuth('in')
  }
  const signedOut = (why: string | null): void => {
    core.stream.stop()
    core.state.reset()
    core.accounts.reset()
    setNotice(why)
    rememberMe(null)
    setMe(null)
    setAuth('login')
  }
  // Everything on screen belonged to that login: signedOut forgets it (the next login must not see it), saying why.
  loginGone.current = (e: ApiError, why?: string | null): void =>
    signedOut(e.code === 'SMSC_ERR_ACCOUNT_SUSPENDED' ? e.message : why ? `Signed out: ${why}.` : 'Your session ended: please sign in again.')

  // a request found the login gone (expired, password changed, suspended): ask again, saying why
  useEffect(() => onAuthLost((e) => {
    checkLogin().then((p) => {
      if (p === null) loginGone.current(e)
    }, () => undefined)
  }), [])

  // login check at start, with back-off while the engine is unreachable (offline shell)
  useEffect(() => {
    if (auth !== 'checking' && auth !== 'offline') return
    let timer: ReturnType<typeof setTimeout> | undefined
    let delay = 500
    let live = true
    const attempt = (): void => {
      checkLogin().then(
        (p) => {
          if (!live) return
          if (p) signedIn(p)
          else setAuth('login')
        },
        () => {
          if (!live) return
          setAuth('offline')
          timer = setTimeout(attempt, delay)
          delay = Math.min(10_000, delay * 2)
        },
      )
    }
    const online = (): void => {
      clearTimeout(timer)
      attempt()
    }
    window.addEventListener('online', online)
    attempt()
    return () => {
      live = false
      clearTimeout(timer)
      window.removeEventListener('online', online)
    }
  }, [auth === 'checking' || auth === 'offline'])

  // everyone gets the stream (scoped by the server for a reseller or user) and the accounts list
  const operator = me?.role === 'operator'
  const ro = me !== null && readOnly(me)
  useEffect(() => {
    if (auth === 'in' && me) core.stream.start()
    else if (auth === 'login') core.stream.stop()
    if (auth === 'in' && me) core.accounts.load()
  }, [auth, me])

  useEffect(() => {
    const on = (): void => setPage(pageFromHash())
    window.addEventListener('hashchange', on)
    return () => window.removeEventListener('hashchange', on)
  }, [])

  if (auth === 'login') return html`<${Login} onDone=${signedIn} notice=${notice} />`
  if (auth === 'checking') return html`<main class="login"><p class="dim">Connecting…</p></main>`

  // Signed out only when the engine ended the session (or it had ended already: 401). A refused sign-out (a proxy that
  // breaks the cross-origin check, the engine unreachable) keeps the cookie valid: saying "signed out" then would leave
  // the session open on a shared screen, a reload away.
  const logout = (): void => {
    api.logout().then(() => signedOut(null), (e: unknown) => {
      if (e instanceof ApiError && e.status === 401) return signedOut(null)
      alert(`Sign-out failed: ${(e as Error).message}\n\nThe session is still open.`)
    })
  }

  const { state, watch, accounts } = core
  const badge =
    auth === 'offline'
      ? { cls: 'bad', text: 'engine unreachable — reconnecting…' }
      : status === 'live'
        ? { cls: 'ok', text: 'live' }
        : status === 'reconnecting'
          ? { cls: 'warn', text: 'reconnecting…' }
          : { cls: 'warn', text: 'connecting…' }

  // the stream is down: what is on screen is the last frame, dimmed so nobody reads it as live
  const stale = auth === 'offline' || status !== 'live'
  // the send form offers the accounts this principal may send for
  const sendAccounts = operator || !me ? undefined
    : [me.systemId as string, ...accounts.list.map((a) => a.systemId).filter((id) => id !== me.systemId).sort()]

  return html`
    <div class="shell">
      <header class="top">
        <div class="brand"><img class="logo" src="icons/icon-192.png" alt="" width="22" height="22" />SMSC console</div>
        <nav>
          ${PAGES.map((p) => html`<a key=${p.id} href=${`#/${p.id}`} class=${page === p.id ? 'active' : ''} aria-current=${page === p.id ? 'page' : undefined}>${p.label}${p.id === 'binds' && state.binds.size ? html` <span class="count">${n0(state.binds.size)}</span>` : null}</a>`)}
        </nav>
        <div class="right">
          <span class=${`badge ${badge.cls}`} id="stream-status" data-status=${auth === 'offline' ? 'offline' : status} role="status">${badge.text}</span>
          ${state.t ? html`<span class="dim small" title="time of the last telemetry frame">${clock(state.t)}</span>` : null}
          ${me ? html`<span class="whoami" id="whoami" data-role=${me.role} data-staff=${me.role === 'operator' ? me.staff ?? 'none' : undefined}><b>${me.name}</b> <span class="dim">${roleLabel(me)}</span></span>`: null}
          <button type="button" class="btn small ghost" onClick=${logout} title=${me ? `signed in as ${me.name} (${me.role})` : undefined}>Sign out</button>
        </div>
      </header>
      <main class=${`page${stale ? ' stale' : ''}`} id=${`page-${page}`} aria-busy=${stale ? 'true' : undefined}
        title=${stale ? 'the telemetry stream is down: these figures are from the last frame received' : undefined}>
        ${page === 'overview' ? html`<${Overview} state=${state} operator=${operator} readOnly=${ro} />` : null}
        ${page === 'binds' ? html`<${Binds} state=${state} operator=${operator && !ro} />` : null}
        ${page === 'accounts' && me ? html`<${AccountTree} me=${me} store=${accounts} state=${state} />` : null}
        ${page === 'accounts' ? html`<${Accounts} state=${state} />` : null}
        ${page === 'accounts' && me && operator ? html`<${GlobalOptOuts} readOnly=${ro} />` : null}
        ${page === 'accounts' && me && operator ? html`<${StaffPanel} me=${me} />` : null}
        ${page === 'messages' ? html`<div class="cols">${ro ? null : html`<${SendForm} state=${state} watch=${watch} accounts=${sendAccounts} />`}<${Lookup} watch=${watch} state=${state} accounts=${sendAccounts} /></div>` : null}
      </main>
    </div>
  `
}
