/**
 * The login screen: the operator (admin password; or a staff user: its name in the optional User field
 * and its own password) or an account (system_id + its SMPP password: resellers and users), chosen with a
 * two-way toggle; POST /api/v1/login sets the session cookie. The choice, the last system_id and the last
 * staff user are remembered in localStorage (never the password).
 */
import { useState } from 'preact/hooks'
import { html } from './html'
import { api, ApiError } from '../api'
import type { Principal } from '../types'

type Mode = 'operator' | 'account'

const KEY_MODE = 'smsc.login.mode'
const KEY_ID = 'smsc.login.systemId'
const KEY_USER = 'smsc.login.user'

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
function refusal(e: unknown, mode: Mode, systemId: string, staff: boolean): string {
  if (e instanceof ApiError) {
    if (e.status === 401) return mode === 'operator' ? (staff ? 'Wrong user or password.' : 'Wrong password.') : 'Wrong system ID or password.'
    if (e.code === 'SMSC_ERR_ACCOUNT_SUSPENDED') return `Account ${systemId} is suspended: sign-in is refused until whoever manages it resumes it.`
    if (e.status === 0) return 'The engine is not reachable.'
  }
  return (e as Error).message
}

export function Login({ onDone, notice }: { onDone: (p: Principal) => void; notice?: string | null }) {
  const [mode, setMode] = useState<Mode>(remembered(KEY_MODE) === 'account' ? 'account' : 'operator')
  const [systemId, setSystemId] = useState(remembered(KEY_ID) ?? '')
  const [user, setUser] = useState(remembered(KEY_USER) ?? '')
  const [password, setPassword] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const id = systemId.trim()
  const staff = user.trim()
  const submit = (ev: Event): void => {
    ev.preventDefault()
    setBusy(true)
    setError(null)
    remember(KEY_MODE, mode)
    if (mode === 'account') remember(KEY_ID, id)
    else remember(KEY_USER, staff)
    api.login(password, mode === 'account' ? { systemId: id } : staff !== '' ? { user: staff } : undefined).then(
      (r) => {
        setBusy(false)
        onDone(r.principal)
      },
      (e: unknown) => {
        setBusy(false)
        setError(refusal(e, mode, id, staff !== ''))
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
          : html`<label>User <span class="dim small">(optional: empty for the admin login)</span>
              <input name="user" autocomplete="username" autocapitalize="off" spellcheck=${false} maxlength="32" value=${user}
                onInput=${(e: Event) => setUser((e.target as HTMLInputElement).value)} />
            </label>`}
        <label>${mode === 'operator' ? (staff ? 'Password' : 'Admin password') : 'Password'}
          <input type="password" name="password" autocomplete="current-password" autofocus required value=${password}
            onInput=${(e: Event) => setPassword((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" class="btn primary" disabled=${busy || !password || (mode === 'account' && !id)}>${busy ? 'Signing in…' : 'Sign in'}</button>
        ${error ? html`<p class="error" role="alert" id="login-error">${error}</p>` : null}
        ${mode === 'operator'
          ? html`<p class="dim small">The admin password is <code>admin.password</code> in the engine config, or the one from the first start. Staff sign in with their user name and own password.</p>`
          : html`<p class="dim small">Resellers and users sign in with their SMPP system ID and password.</p>`}
      </form>
    </main>
  `
}
