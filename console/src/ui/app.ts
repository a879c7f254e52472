/**
 * The console shell: checks the login (GET /api/v1/me), shows the login screen or the pages, owns
 * the telemetry stream and the message watcher, and renders at most once per animation frame
 * however fast frames arrive. When the engine is unreachable the shell stays up (the service worker
 * serves it offline) with a "reconnecting…" badge and retries with back-off until it answers.
 */
import { useEffect, useMemo, useState } from 'preact/hooks'
import { html } from './html'
import { Login } from './login'
import { Overview } from './overview'
import { Binds } from './binds'
import { Accounts } from './accounts'
import { Lookup, SendForm } from './messages'
import { api, ApiError } from '../api'
import { TelemetryState } from '../state'
import { TelemetryStream, type StreamStatus } from '../stream'
import { MessageWatch } from '../watch'
import { clock, n0 } from '../format'

type Auth = 'checking' | 'login' | 'in' | 'offline'

const PAGES = [
  { id: 'overview', label: 'Overview' },
  { id: 'binds', label: 'Binds' },
  { id: 'accounts', label: 'Accounts' },
  { id: 'messages', label: 'Messages' },
] as const
type Page = (typeof PAGES)[number]['id']

function pageFromHash(): Page {
  const h = location.hash.replace(/^#\/?/, '')
  return (PAGES.find((p) => p.id === h)?.id ?? 'overview') as Page
}

/** resolves true (logged in), false (needs login); rejects when the engine is unreachable */
async function checkLogin(): Promise<boolean> {
  try {
    await api.me()
    return true
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return false
    throw e
  }
}

export function App() {
  const [, setTick] = useState(0)
  const [auth, setAuth] = useState<Auth>('checking')
  const [status, setStatus] = useState<StreamStatus>('stopped')
  const [page, setPage] = useState<Page>(pageFromHash())

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
    const watch = new MessageWatch(state, render)
    const stream = new TelemetryStream({
      state,
      onStatus: setStatus,
      beforeReconnect: async () => {
        const ok = await checkLogin()
        if (!ok) setAuth('login')
        return ok
      },
    })
    return { state, watch, stream }
  }, [])

  // login check at start, with back-off while the engine is unreachable (offline shell)
  useEffect(() => {
    if (auth !== 'checking' && auth !== 'offline') return
    let timer: ReturnType<typeof setTimeout> | undefined
    let delay = 500
    let live = true
    const attempt = (): void => {
      checkLogin().then(
        (ok) => live && setAuth(ok ? 'in' : 'login'),
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

  useEffect(() => {
    if (auth === 'in') core.stream.start()
    else if (auth === 'login') core.stream.stop()
  }, [auth])

  useEffect(() => {
    const on = (): void => setPage(pageFromHash())
    window.addEventListener('hashchange', on)
    return () => window.removeEventListener('hashchange', on)
  }, [])

  if (auth === 'login') return html`<${Login} onDone=${() => setAuth('in')} />`
  if (auth === 'checking') return html`<main class="login"><p class="dim">Connecting…</p></main>`

  const logout = (): void => {
    api.logout().catch(() => undefined).finally(() => {
      core.stream.stop()
      core.state.reset()
      setAuth('login')
    })
  }

  const { state, watch } = core
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
          <button type="button" class="btn small ghost" onClick=${logout}>Sign out</button>
        </div>
      </header>
      <main class=${`page${stale ? ' stale' : ''}`} id=${`page-${page}`} aria-busy=${stale ? 'true' : undefined}
        title=${stale ? 'the telemetry stream is down: these figures are from the last frame received' : undefined}>
        ${page === 'overview' ? html`<${Overview} state=${state} />` : null}
        ${page === 'binds' ? html`<${Binds} state=${state} />` : null}
        ${page === 'accounts' ? html`<${Accounts} state=${state} />` : null}
        ${page === 'messages' ? html`<div class="cols"><${SendForm} state=${state} watch=${watch} /><${Lookup} watch=${watch} /></div>` : null}
      </main>
    </div>
  `
}
