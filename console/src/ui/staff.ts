/**
 * The operator's staff logins (docs/ACCOUNTS.md "Staff logins"): the list, and for the operator or a staff
 * admin a form to add one (the generated password shown once) and a Remove button per user. A viewer sees
 * the list only. GET/POST /api/v1/admin/users, DELETE /api/v1/admin/users/{name}.
 */
import { useEffect, useState } from 'preact/hooks'
import { html } from './html'
import { api, ApiError } from '../api'
import { dateTime } from '../format'
import { readOnly } from '../scope'
import type { Principal, StaffView } from '../types'

const message = (e: unknown): string => (e instanceof ApiError ? e.message : String((e as Error)?.message ?? e))

export function StaffPanel({ me }: { me: Principal }) {
  const [users, setUsers] = useState<StaffView[] | null>(null)
  const [err, setErr] = useState<string | null>(null)
  const [name, setName] = useState('')
  const [role, setRole] = useState<'admin' | 'viewer'>('viewer')
  const [password, setPassword] = useState('')
  const [busy, setBusy] = useState(false)
  const [created, setCreated] = useState<{ user: string; password: string | null } | null>(null)
  const ro = readOnly(me)
  const load = () => api.staff().then((r) => { setUsers(r.users); setErr(null) }, (e: unknown) => setErr(message(e)))
  useEffect(() => { void load() }, [])

  const add = (ev: Event): void => {
    ev.preventDefault()
    setBusy(true)
    setErr(null)
    setCreated(null)
    const pw = password === '' ? undefined : password
    api.addStaff(name.trim(), role, pw).then(
      (r) => {
        setBusy(false)
        setCreated({ user: r.user.name, password: pw === undefined ? r.password : null })
        setName('')
        setPassword('')
        void load()
      },
      (e: unknown) => { setBusy(false); setErr(message(e)) },
    )
  }
  const remove = (user: string): void => {
    if (!confirm(`Remove the staff login ${user}? Its sessions end at once.`)) return
    setErr(null)
    api.removeStaff(user).then(() => void load(), (e: unknown) => setErr(message(e)))
  }

  return html`
    <section class="panel" id="staff">
      <h2>Staff logins <span class="dim">${users ? users.length : ''}</span></h2>
      <p class="dim small">Named logins to this console and the admin API: <b>admin</b> may do what the operator may (audited under its name), <b>viewer</b> only reads.</p>
      ${users === null
        ? html`<p class="empty">${err ? '' : 'loading…'}</p>`
        : users.length === 0
          ? html`<p class="empty">no staff logins yet</p>`
          : html`<table class="mini" id="staff-list">
              <thead><tr><th>user</th><th>role</th><th>changed</th>${ro ? null : html`<th></th>`}</tr></thead>
              <tbody>${users.map((u) => html`
                <tr key=${u.name} data-staff=${u.name}>
                  <td class="strong">${u.name}</td><td>${u.role}</td><td class="dim">${dateTime(u.updatedAt)}</td>
                  ${ro ? null : html`<td><button type="button" class="btn small danger" data-action="remove-staff" onClick=${() => remove(u.name)}>Remove</button></td>`}
                </tr>`)}
              </tbody>
            </table>`}
      ${created
        ? html`<p class="notice" role="status" id="staff-created">Added ${created.user}${created.password ? html`: its password is <code>${created.password}</code> (shown only now)` : ''}.</p>`
        : null}
      ${err ? html`<p class="error" role="alert">${err}</p>` : null}
      ${ro
        ? null
        : html`<form class="staff-add" id="staff-add" onSubmit=${add}>
            <label>User <input name="staff-user" required maxlength="32" autocapitalize="off" spellcheck=${false} value=${name} onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} /></label>
            <label>Role <select name="staff-role" value=${role} onChange=${(e: Event) => setRole((e.target as HTMLSelectElement).value as 'admin' | 'viewer')}>
              <option value="viewer">viewer (read-only)</option><option value="admin">admin</option>
            </select></label>
            <label>Password <input name="staff-password" type="password" autocomplete="new-password" minlength="8" maxlength="128" placeholder="generated when empty" value=${password} onInput=${(e: Event) => setPassword((e.target as HTMLInputElement).value)} /></label>
            <button type="submit" class="btn small primary" disabled=${busy || name.trim() === ''}>${busy ? 'Adding…' : 'Add staff login'}</button>
          </form>`}
    </section>
  `
}
