/**
 * The login screen: the operator (admin password) or an account (system_id + its SMPP password:
 * resellers and users), chosen with a two-way toggle; POST /api/v1/login sets the session cookie.
 * The choice and the last system_id are remembered in localStorage (never the password).
 */
import { useState } from 'preact/hooks'
import { html } from './html'
import { api, ApiError } from '../api'
import type { Principal } from '../types'

type Mode = 'operator' | 'account'

const KEY_MODE = 'smsc.login.mode'
const KEY_ID = 'smsc.login.systemId'

function remembered(key: string): string | null {
  try {
    return localStorage.getItem(key)
  } catch {
    return null
  }
}
function remember(key: string, v: string): void {
  try {
    localStorage.setItem(key, v)
  } catch {
    // private mode: nothing remembered
  }
}

/** the refusal, for a human: what went wrong and what to do */
function refusal(e: unknown, mode: Mode, systemId: string): string {
  if (e instanceof ApiError) {
    if (e.status === 401) return mode === 'operator' ? 'Wrong password.' : 'Wrong system ID or password.'
    if (e.code === 'SMSC_ERR_ACCOUNT_SUSPENDED') return `Account ${systemId} is suspended: sign-in is refused until whoever manages it resumes it.`
    if (e.status === 0) return 'The engine is not reachable.'
  }
  return (e as Error).message
}

export function Login({ onDone, notice }: { onDone: (p: Principal) => void; notice?: string | null }) {
  const [mode, setMode] = useState<Mode>(remembered(KEY_MODE) === 'account' ? 'account' : 'operator')
  const [systemId, setSystemId] = useState(remembered(KEY_ID) ?? '')
  const [password, setPassword] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const id = systemId.trim()
  const submit = (ev: Event): void => {
    ev.preventDefault()
    setBusy(true)
    setError(null)
    remember(KEY_MODE, mode)
    if (mode === 'account') remember(KEY_ID, id)
    api.login(password, mode === 'account' ? id : undefined).then(
      (r) => {
        setBusy(false)
        onDone(r.principal)
      },
      (e: unknown) => {
        setBusy(false)
        setError(refusal(e, mode, id))
      },
    )
  }
  const pick = (m: Mode): void => {
    setMode(m)
    setError(null)
  }
  const seg = (m: Mode, label: string) =>
    html`<button type="button" role="radio" id=${`login-mode-${m}`} aria-checked=${mode === m ? 'true' : 'false'} class=${mode === m ? 'on' : ''} onClick=${() => pick(m)}>${label}</button>`
  return html`
    <main class="login">
      <form class="panel login-box" onSubmit=${submit}>
        <div class="brand big"><img class="logo" src="icons/icon-192.png" alt="" width="28" height="28" />SMSC console</div>
        ${notice ? html`<p class="notice" role="status" id="login-notice">${notice}</p>` : null}
        <div class="seg" role="radiogroup" aria-label="sign in as">${seg('operator', 'Operator')}${seg('account', 'Account')}</div>
        ${mode === 'account'
          ? html`<label>System ID
              <input name="systemId" autocomplete="username" autocapitalize="off" spellcheck=${false} required maxlength="15" value=${systemId}
                onInput=${(e: Event) => setSystemId((e.target as HTMLInputElement).value)} />
            </label>`
          : null}
        <label>${mode === 'operator' ? 'Admin password' : 'Password'}
          <input type="password" name="password" autocomplete="current-password" autofocus required value=${password}
            onInput=${(e: Event) => setPassword((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" class="btn primary" disabled=${busy || !password || (mode === 'account' && !id)}>${busy ? 'Signing in…' : 'Sign in'}</button>
        ${error ? html`<p class="error" role="alert" id="login-error">${error}</p>` : null}
        ${mode === 'operator'
          ? html`<p class="dim small">The password is <code>admin.password</code> in the engine config, or the one printed in the startup banner.</p>`
          : html`<p class="dim small">Resellers and users sign in with their SMPP system ID and password.</p>`}
      </form>
    </main>
  `
}
