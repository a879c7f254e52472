/** The login screen: one admin password field; POST /api/v1/login sets the session cookie. */
import { useState } from 'preact/hooks'
import { html } from './html'
import { api, ApiError } from '../api'

export function Login({ onDone }: { onDone: () => void }) {
  const [password, setPassword] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const submit = (ev: Event): void => {
    ev.preventDefault()
    setBusy(true)
    setError(null)
    api.login(password).then(
      () => {
        setBusy(false)
        onDone()
      },
      (e: unknown) => {
        setBusy(false)
        setError(e instanceof ApiError && e.status === 401 ? 'Wrong password.' : (e as Error).message)
      },
    )
  }
  return html`
    <main class="login">
      <form class="panel login-box" onSubmit=${submit}>
        <div class="brand big"><img class="logo" src="icons/icon-192.png" alt="" width="28" height="28" />SMSC console</div>
        <label>Admin password
          <input type="password" name="password" autocomplete="current-password" autofocus required value=${password}
            onInput=${(e: Event) => setPassword((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" class="btn primary" disabled=${busy || !password}>${busy ? 'Signing in…' : 'Sign in'}</button>
        ${error ? html`<p class="error" role="alert" id="login-error">${error}</p>` : null}
        <p class="dim small">The password is <code>admin.password</code> in the engine config, or the one printed in the startup banner.</p>
      </form>
    </main>
  `
}
