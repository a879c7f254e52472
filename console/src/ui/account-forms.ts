/**
 * The forms of the accounts page: settings (only the keys the principal may change, only the ones
 * changed are sent), a new account, a credit move, a password, the delete confirmation, and the
 * ledger table. Validation is the engine's: its one-line error names the field
 * ("account.rateLimit.perSecond must be …"), and the form shows it under that field; what the form
 * cannot place goes next to its button. Numbers are sent as typed when they do not parse, so the
 * engine's message (with the value) is what the user reads.
 */
import { useEffect, useState } from 'preact/hooks'
import { html } from './html'
import { api, ApiError } from '../api'
import { credit, dateTime, signed } from '../format'
import type { CreditMove } from '../scope'
import type { AccountSettings, AccountView, LedgerEntry, Principal } from '../types'

// ---------------------------------------------------------------------------------------------
// Form values: every input as a string (checkboxes as booleans); a setting is one or more inputs.

type Fields = Record<string, string | boolean>

const HOUR = 3_600_000
const hours = (ms: number): string => String(Number((ms / HOUR).toFixed(4)))

/** a number when the text is one, else the text itself (the engine names the field and the value) */
function num(s: string | boolean): number | string {
  const t = String(s).trim()
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t) ? Number(t) : t
}
const list = (s: string | boolean): string[] => String(s).split(/[\s,]+/).filter(Boolean)
/** fingerprints split at commas and line ends only: openssl's line ("sha256 Fingerprint=AB:…") has a space in it */
const lines = (s: string | boolean): string[] => String(s).split(/[,\n]+/).map((x) => x.trim()).filter(Boolean)
const orNull = (s: string | boolean): string | null => (String(s).trim() === '' ? null : String(s).trim())

function fieldsOf(a: AccountSettings): Fields {
  return {
    role: a.role,
    parent: a.parent ?? '',
    group: a.group ?? '',
    maxBinds: String(a.maxBinds),
    windowSize: String(a.windowSize),
    allowedIps: a.allowedIps.join(', '),
    clientCerts: a.clientCerts.join(', '),
    allowedSources: a.allowedSources.join(', '),
    ratePerSecond: a.rateLimit ? String(a.rateLimit.perSecond) : '',
    rateBurst: a.rateLimit ? String(a.rateLimit.burst) : '',
    dailyQuota: a.dailyQuota === null ? '' : String(a.dailyQuota),
    registeredDelivery: a.registeredDelivery === 1,
    validityDefault: hours(a.validity.defaultMs),
    validityMax: hours(a.validity.maxMs),
    messageIdFormat: a.messageIdFormat,
    receiptPolicy: a.receiptPolicy,
    settlement: a.settlement,
    prepaid: a.prepaid,
    webhookReceipts: a.webhooks.receipts ?? '',
    webhookMo: a.webhooks.mo ?? '',
    // the engine never shows the outbind password: empty means "keep the one in force"
    outbindHost: a.outbind?.host ?? '',
    outbindPort: a.outbind ? String(a.outbind.port) : '',
    outbindTls: a.outbind?.tls ?? false,
    outbindPassword: '',
  }
}

/** the inputs each setting is made of */
const INPUTS: Record<keyof AccountSettings, string[]> = {
  role: ['role'], parent: ['parent'], group: ['group'], suspended: [], maxBinds: ['maxBinds'], windowSize: ['windowSize'],
  allowedIps: ['allowedIps'], clientCerts: ['clientCerts'], allowedSources: ['allowedSources'], rateLimit: ['ratePerSecond', 'rateBurst'],
  dailyQuota: ['dailyQuota'], registeredDelivery: ['registeredDelivery'], validity: ['validityDefault', 'validityMax'],
  messageIdFormat: ['messageIdFormat'], receiptPolicy: ['receiptPolicy'], settlement: ['settlement'], prepaid: ['prepaid'],
  webhooks: ['webhookReceipts', 'webhookMo'],
  outbind: ['outbindHost', 'outbindPort', 'outbindTls', 'outbindPassword'],
}

/** the API value of setting `k` from the inputs */
function valueOf(k: keyof AccountSettings, f: Fields): unknown {
  switch (k) {
    case 'parent': return orNull(f.parent)
    case 'group': return orNull(f.group)
    case 'maxBinds': case 'windowSize': return num(f[k])
    case 'allowedIps': case 'allowedSources': return list(f[k])
    case 'clientCerts': return lines(f[k])
    case 'rateLimit': {
      if (String(f.ratePerSecond).trim() === '') return null
      const r: Record<string, unknown> = { perSecond: num(f.ratePerSecond) }
      if (String(f.rateBurst).trim() !== '') r.burst = num(f.rateBurst)
      return r
    }
    case 'dailyQuota': return String(f.dailyQuota).trim() === '' ? null : num(f.dailyQuota)
    case 'registeredDelivery': return f.registeredDelivery ? 1 : 0
    case 'validity': {
      const h = (s: string | boolean) => {
        const n = num(s)
        return typeof n === 'number' ? Math.round(n * HOUR) : n
      }
      return { defaultMs: h(f.validityDefault), maxMs: h(f.validityMax) }
    }
    case 'prepaid': case 'suspended': return f[k] === true
    case 'webhooks': return { receipts: orNull(f.webhookReceipts), mo: orNull(f.webhookMo) }
    case 'outbind': {
      // SMPP 3.4 §2.2.1: empty host turns it off; no password typed keeps the one in force
      if (String(f.outbindHost).trim() === '') return null
      const o: Record<string, unknown> = { host: String(f.outbindHost).trim(), port: num(f.outbindPort), tls: f.outbindTls === true }
      if (f.outbindPassword !== '') o.password = f.outbindPassword
      return o
    }
    default: return f[k]
  }
}

/** the settings among `keys` whose inputs differ from `base` */
function patchOf(keys: readonly (keyof AccountSettings)[], f: Fields, base: Fields): Record<string, unknown> {
  const patch: Record<string, unknown> = {}
  for (const k of keys) if (INPUTS[k].some((x) => f[x] !== base[x])) patch[k] = valueOf(k, f)
  return patch
}

// ---------------------------------------------------------------------------------------------
// Errors placed at their field

interface FormError {
  /** the field the engine named (a setting key, or amount/reason/systemId/password…), null: the form's */
  key: string | null
  text: string
}

/** "account.rateLimit.perSecond must …" → rateLimit; "transfer.amount …" / "amount must …" → amount */
export function errorOf(e: unknown): FormError {
  const text = e instanceof ApiError ? e.message : String((e as Error)?.message ?? e)
  const m = /\b(?:account|transfer)\.(\w+)/.exec(text) ?? /^(\w+) (?:must|is)\b/.exec(text)
  return { key: m ? m[1] : null, text }
}

type Setter = (name: string, v: string | boolean) => void

interface FieldOpts {
  hint?: string
  placeholder?: string
  inputmode?: string
  type?: string
  autocomplete?: string
  maxlength?: number
  required?: boolean
}

/** One setting (or request field) `key`: its label, inputs and, when the engine named it, the error. */
function Group(p: { field?: string; err: FormError | null; label: string; hint?: string; wide?: boolean; children: unknown }) {
  const bad = p.err !== null && p.err.key === p.field
  return html`<div class=${`fgroup${p.wide ? ' wide' : ''}${bad ? ' invalid' : ''}`} data-key=${p.field}>
    <span class="flabel">${p.label}</span>
    ${p.children}
    ${p.hint && !bad ? html`<span class="fhint">${p.hint}</span>` : null}
    ${bad ? html`<span class="field-error" role="alert">${p.err?.text}</span>` : null}
  </div>`
}

function input(name: string, f: Fields, set: Setter, err: FormError | null, key: string, label: string, o: FieldOpts = {}) {
  return html`<input name=${name} aria-label=${label} value=${f[name] as string} type=${o.type ?? 'text'} inputmode=${o.inputmode}
    placeholder=${o.placeholder} autocomplete=${o.autocomplete ?? 'off'} spellcheck=${false} maxlength=${o.maxlength} required=${o.required}
    aria-invalid=${err?.key === key ? 'true' : undefined}
    onInput=${(e: Event) => set(name, (e.target as HTMLInputElement).value)} />`
}

function select(name: string, f: Fields, set: Setter, label: string, options: [string, string][]) {
  return html`<select name=${name} aria-label=${label} value=${f[name] as string} onChange=${(e: Event) => set(name, (e.target as HTMLSelectElement).value)}>
    ${options.map(([v, l]) => html`<option key=${v} value=${v} selected=${f[name] === v}>${l}</option>`)}
  </select>`
}

function check(name: string, f: Fields, set: Setter, label: string) {
  return html`<label class="check"><input type="checkbox" name=${name} checked=${f[name] === true}
    onChange=${(e: Event) => set(name, (e.target as HTMLInputElement).checked)} /> ${label}</label>`
}

/** The inputs of setting `k` inside its group (shared by the settings and the new-account forms). */
function settingGroup(k: keyof AccountSettings, f: Fields, set: Setter, err: FormError | null, resellers: string[]) {
  const num1 = (name: string, label: string, o: FieldOpts = {}) => input(name, f, set, err, k, label, { inputmode: 'numeric', ...o })
  switch (k) {
    case 'maxBinds':
      return html`<${Group} field=${k} err=${err} label="binds allowed">${num1('maxBinds', 'binds allowed', { placeholder: 'engine default' })}</${Group}>`
    case 'windowSize':
      return html`<${Group} field=${k} err=${err} label="window size" hint="outstanding submits per bind">${num1('windowSize', 'window size')}</${Group}>`
    case 'rateLimit':
      return html`<${Group} field=${k} err=${err} label="rate limit" hint="messages/s and burst; empty: unlimited">
        <div class="pair">${num1('ratePerSecond', 'messages per second', { inputmode: 'decimal', placeholder: 'per second' })}${num1('rateBurst', 'burst', { placeholder: 'burst' })}</div>
      </${Group}>`
    case 'dailyQuota':
      return html`<${Group} field=${k} err=${err} label="daily quota" hint="message parts per UTC day; empty: unlimited">${num1('dailyQuota', 'daily quota', { placeholder: 'unlimited' })}</${Group}>`
    case 'validity':
      return html`<${Group} field=${k} err=${err} label="validity (hours)" hint="default and maximum">
        <div class="pair">${num1('validityDefault', 'default validity in hours', { inputmode: 'decimal' })}${num1('validityMax', 'maximum validity in hours', { inputmode: 'decimal' })}</div>
      </${Group}>`
    case 'allowedIps':
      return html`<${Group} field=${k} err=${err} label="allowed IPs" hint="addresses or CIDR blocks, comma separated; empty: any" wide=${true}>${input('allowedIps', f, set, err, k, 'allowed IPs', { placeholder: 'any' })}</${Group}>`
    case 'clientCerts':
      return html`<${Group} field=${k} err=${err} label="TLS client certificates" hint="SHA-256 fingerprints (openssl x509 -noout -fingerprint -sha256), comma separated: binds only on the TLS port with one of these; empty: none asked" wide=${true}>${input('clientCerts', f, set, err, k, 'TLS client certificate fingerprints', { placeholder: 'none' })}</${Group}>`
    case 'allowedSources':
      return html`<${Group} field=${k} err=${err} label="allowed sender ids" hint="comma separated, '*' at the end for a prefix; empty: any" wide=${true}>${input('allowedSources', f, set, err, k, 'allowed sender ids', { placeholder: 'any' })}</${Group}>`
    case 'registeredDelivery':
      return html`<${Group} field=${k} err=${err} label="receipts">${check('registeredDelivery', f, set, 'request by default')}</${Group}>`
    case 'receiptPolicy':
      return html`<${Group} field=${k} err=${err} label="receipts of long messages">${select('receiptPolicy', f, set, 'receipt policy', [['every', 'one per part'], ['last', 'last part only'], ['aggregate', 'one for the message']])}</${Group}>`
    case 'webhooks':
      return html`<${Group} field=${k} err=${err} label="webhooks" hint="http(s) URLs receipts and MO are POSTed to; empty: none" wide=${true}>
        <div class="stack">${input('webhookReceipts', f, set, err, k, 'receipts webhook URL', { placeholder: 'receipts: https://…', inputmode: 'url' })}${input('webhookMo', f, set, err, k, 'MO webhook URL', { placeholder: 'MO: https://…', inputmode: 'url' })}</div>
      </${Group}>`
    case 'outbind':
      return html`<${Group} field=${k} err=${err} label="outbind" hint=${`where the engine calls this ESME when receipts or MO wait and no receiver is bound; empty host: off. Password: the SMSC's, sent in the outbind${f.outbindHost ? '; empty: keep the one set' : ''}`} wide=${true}>
        <div class="pair">${input('outbindHost', f, set, err, k, 'outbind host', { placeholder: 'host: off' })}${input('outbindPort', f, set, err, k, 'outbind port', { inputmode: 'numeric', placeholder: 'port' })}</div>
        <div class="pair">${input('outbindPassword', f, set, err, k, 'outbind password', { type: 'password', maxlength: 8, autocomplete: 'new-password', placeholder: 'SMSC password (0–8)' })}${check('outbindTls', f, set, 'TLS')}</div>
      </${Group}>`
    case 'role':
      return html`<${Group} field=${k} err=${err} label="role">${select('role', f, set, 'role', [['user', 'user'], ['reseller', 'reseller']])}</${Group}>`
    case 'parent':
      return html`<${Group} field=${k} err=${err} label="owner">${select('parent', f, set, 'owner', [['', 'the operator'], ...resellers.map((r): [string, string] => [r, `reseller ${r}`])])}</${Group}>`
    case 'group':
      return html`<${Group} field=${k} err=${err} label="routing group" hint="MT routes can match it; empty: none">${input('group', f, set, err, k, 'routing group', { placeholder: 'none', maxlength: 32 })}</${Group}>`
    case 'messageIdFormat':
      return html`<${Group} field=${k} err=${err} label="message ids">${select('messageIdFormat', f, set, 'message id format', [['decimal', 'decimal'], ['hex', 'hex']])}</${Group}>`
    case 'settlement':
      return html`<${Group} field=${k} err=${err} label="settlement">${select('settlement', f, set, 'settlement', [['submit', 'charge on submit'], ['refund', 'refund failed']])}</${Group}>`
    case 'prepaid':
      return html`<${Group} field=${k} err=${err} label="credit control">${check('prepaid', f, set, 'prepaid')}</${Group}>`
    default:
      return null
  }
}

const SECTIONS: { title: string; keys: (keyof AccountSettings)[] }[] = [
  { title: 'Limits', keys: ['maxBinds', 'windowSize', 'rateLimit', 'dailyQuota'] },
  { title: 'Policy', keys: ['validity', 'registeredDelivery', 'receiptPolicy', 'allowedIps', 'clientCerts', 'allowedSources'] },
  { title: 'Webhooks', keys: ['webhooks'] },
  { title: 'Outbind', keys: ['outbind'] },
  { title: 'Ownership and billing', keys: ['role', 'parent', 'group', 'prepaid', 'settlement', 'messageIdFormat'] },
]

/** the form's own error line (one the engine did not tie to a visible field) */
function FormLine({ err, shown }: { err: FormError | null; shown: string[] }) {
  if (!err || (err.key !== null && shown.includes(err.key))) return null
  return html`<p class="error" role="alert">${err.text}</p>`
}

// ---------------------------------------------------------------------------------------------
// Settings

export function SettingsForm(p: { a: AccountView; keys: readonly (keyof AccountSettings)[]; resellers: string[]; onSaved: (a: AccountView) => void }) {
  const [base, setBase] = useState<Fields>(() => fieldsOf(p.a))
  const [f, setF] = useState<Fields>(base)
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<FormError | null>(null)
  const [saved, setSaved] = useState<string | null>(null)
  // the webhook secret, shown once: when the first webhook is set, or after "New webhook secret"
  const [secret, setSecret] = useState<string | null>(null)
  const set: Setter = (name, v) => {
    setF((cur) => ({ ...cur, [name]: v }))
    setSaved(null)
  }
  // an owner only for users; a reseller's parent is always the operator
  const keys = p.keys.filter((k) => k !== 'suspended' && !(k === 'parent' && f.role === 'reseller'))
  const patch = patchOf(keys, f, base)
  if (keys.includes('role') && f.role === 'reseller' && base.parent !== '') patch.parent = null
  const changed = Object.keys(patch)
  const submit = (ev: Event): void => {
    ev.preventDefault()
    setBusy(true)
    setErr(null)
    api.updateAccount(p.a.systemId, patch).then(
      (a) => {
        setBusy(false)
        // a password typed here is sent once, never kept in the form (the engine does not show it back)
        const kept = { ...f, outbindPassword: '' }
        setBase(kept)
        setF(kept)
        setSaved(`Saved ${changed.join(', ')}.`)
        if (a.webhookSecret) setSecret(a.webhookSecret)
        p.onSaved(a)
      },
      (e: unknown) => {
        setBusy(false)
        setErr(errorOf(e))
      },
    )
  }
  const renewSecret = (): void => {
    setBusy(true)
    setErr(null)
    api.newWebhookSecret(p.a.systemId).then(
      (r) => {
        setBusy(false)
        setSecret(r.secret)
      },
      (e: unknown) => {
        setBusy(false)
        setErr(errorOf(e))
      },
    )
  }
  const hooked = p.a.webhooks.receipts !== null || p.a.webhooks.mo !== null
  const sections = SECTIONS.map((s) => ({ ...s, keys: s.keys.filter((k) => keys.includes(k)) })).filter((s) => s.keys.length)
  return html`
    <form class="form acct-form" id="settings-form" onSubmit=${submit} noValidate>
      ${sections.map((s) => html`<fieldset key=${s.title}><legend>${s.title}</legend>
        <div class="form-grid">${s.keys.map((k) => settingGroup(k, f, set, err, p.resellers))}</div>
        ${s.keys.includes('webhooks') && hooked
          ? html`<div class="actions"><button type="button" class="btn small" id="webhook-secret-new" disabled=${busy} onClick=${renewSecret}>New webhook secret</button>
              <span class="dim small">the old one stops signing at once</span></div>`
          : null}
        ${s.keys.includes('webhooks') && secret !== null
          ? html`<${Secret} id="webhook-secret" label=${`Webhook secret of ${p.a.systemId}`} value=${secret}
              note="shown only now: your receiver checks X-Smsc-Signature with it (docs/API.md, Webhook signatures)" onClose=${() => setSecret(null)} />`
          : null}
      </fieldset>`)}
      <${FormLine} err=${err} shown=${keys} />
      <div class="actions">
        <button type="submit" class="btn primary" disabled=${busy || changed.length === 0}>${busy ? 'Saving…' : 'Save changes'}</button>
        ${changed.length ? html`<span class="dim small">changes: ${changed.join(', ')}</span>` : saved ? html`<span class="ok" role="status">${saved}</span>` : html`<span class="dim small">no changes</span>`}
      </div>
    </form>
  `
}

// ---------------------------------------------------------------------------------------------
// New account

const CREATE_DEFAULTS: Fields = {
  systemId: '', password: '', role: 'user', parent: '', prepaid: false, credit: '',
  maxBinds: '', ratePerSecond: '', rateBurst: '', dailyQuota: '',
}

export function CreateForm(p: {
  me: Principal
  /** the reseller the user is created under (a reseller row's "add user"; a reseller's own list) */
  parent?: string
  resellers: string[]
  /** the creator's own account (a reseller: pays the opening credit) */
  self?: AccountView
  onCreated: (r: { account: AccountView; password: string }) => void
  onCancel: () => void
}) {
  const operator = p.me.role === 'operator'
  const [f, setF] = useState<Fields>({ ...CREATE_DEFAULTS, parent: p.parent ?? '' })
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<FormError | null>(null)
  const set: Setter = (name, v) => setF((cur) => ({ ...cur, [name]: v }))
  const payer = !operator && p.self?.prepaid ? p.self : undefined
  const canCredit = operator || payer !== undefined
  const submit = (ev: Event): void => {
    ev.preventDefault()
    const body: Record<string, unknown> = { systemId: String(f.systemId).trim() }
    if (String(f.password) !== '') body.password = f.password
    if (operator) {
      body.role = f.role
      if (f.role === 'user' && f.parent !== '') body.parent = f.parent
      if (f.prepaid) body.prepaid = true
    }
    if (canCredit && String(f.credit).trim() !== '') body.credit = num(f.credit)
    if (String(f.maxBinds).trim() !== '') body.maxBinds = num(f.maxBinds)
    if (String(f.ratePerSecond).trim() !== '') body.rateLimit = valueOf('rateLimit', f)
    if (String(f.dailyQuota).trim() !== '') body.dailyQuota = num(f.dailyQuota)
    setBusy(true)
    setErr(null)
    api.createAccount(body as never).then(
      (r) => {
        setBusy(false)
        p.onCreated(r)
      },
      (e: unknown) => {
        setBusy(false)
        setErr(errorOf(e))
      },
    )
  }
  const shown = ['systemId', 'password', 'credit', 'role', 'parent', 'prepaid', 'maxBinds', 'rateLimit', 'dailyQuota']
  const under = operator ? (f.role === 'user' && f.parent !== '' ? ` under ${f.parent}` : '') : ` under ${p.me.systemId}`
  return html`
    <form class="form acct-form create-form" id="create-form" onSubmit=${submit} noValidate>
      <h3>${operator ? 'New account' : 'New user'}${under}</h3>
      <div class="form-grid">
        <${Group} field="systemId" err=${err} label="system ID" hint="1 to 15 characters">
          ${input('systemId', f, set, err, 'systemId', 'system ID', { maxlength: 15, required: true, autocomplete: 'off' })}
        </${Group}>
        <${Group} field="password" err=${err} label="password" hint="1 to 8 characters; empty: generated">
          ${input('password', f, set, err, 'password', 'password', { maxlength: 8, autocomplete: 'new-password', placeholder: 'generate' })}
        </${Group}>
        ${operator ? settingGroup('role', f, set, err, p.resellers) : null}
        ${operator && f.role === 'user' ? settingGroup('parent', f, set, err, p.resellers) : null}
        ${operator ? settingGroup('prepaid', f, set, err, p.resellers) : null}
        ${canCredit
          ? html`<${Group} field="credit" err=${err} label="opening credit"
              hint=${payer ? `taken from your balance (${credit(payer.balance)})` : 'new credit; makes the account prepaid'}>
              ${input('credit', f, set, err, 'credit', 'opening credit', { inputmode: 'decimal', placeholder: 'none' })}
            </${Group}>`
          : null}
        ${settingGroup('maxBinds', f, set, err, p.resellers)}
        ${settingGroup('rateLimit', f, set, err, p.resellers)}
        ${settingGroup('dailyQuota', f, set, err, p.resellers)}
      </div>
      <${FormLine} err=${err} shown=${shown} />
      <div class="actions">
        <button type="submit" class="btn primary" disabled=${busy || String(f.systemId).trim() === ''}>${busy ? 'Creating…' : 'Create'}</button>
        <button type="button" class="btn ghost" onClick=${p.onCancel}>Cancel</button>
      </div>
    </form>
  `
}

// ---------------------------------------------------------------------------------------------
// Credit

export function CreditForm(p: { a: AccountView; moves: CreditMove[]; byId: ReadonlyMap<string, AccountView>; onDone: () => void }) {
  const [moveId, setMoveId] = useState(p.moves[0]?.id)
  const [f, setF] = useState<Fields>({ amount: '', reason: '' })
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<FormError | null>(null)
  const [done, setDone] = useState<string | null>(null)
  const set: Setter = (name, v) => {
    setF((cur) => ({ ...cur, [name]: v }))
    setDone(null)
  }
  const move = p.moves.find((m) => m.id === moveId) ?? p.moves[0]
  if (!move) return html`<p class="dim">No credit can be moved here.</p>`
  const payer = move.from !== undefined ? p.byId.get(move.from) : undefined
  const submit = (ev: Event): void => {
    ev.preventDefault()
    const amount = num(f.amount)
    const req: Record<string, unknown> = { amount }
    if (move.from !== undefined) req.from = move.from
    if (String(f.reason).trim() !== '') req.reason = String(f.reason).trim()
    setBusy(true)
    setErr(null)
    api.credit(move.to, req as never).then(
      (r) => {
        setBusy(false)
        setF({ amount: '', reason: '' })
        setDone(move.from === undefined
          ? `Granted ${credit(r.to.delta)} to ${move.to}: balance ${credit(r.to.balance)}.`
          : `Moved ${credit(r.to.delta)} from ${move.from} to ${move.to}: ${move.to} has ${credit(r.to.balance)}, ${move.from} ${credit(r.from?.balance)}.`)
        p.onDone()
      },
      (e: unknown) => {
        setBusy(false)
        setErr(errorOf(e))
      },
    )
  }
  return html`
    <form class="form acct-form" id="credit-form" onSubmit=${submit} noValidate>
      ${p.moves.length > 1
        ? html`<fieldset class="moves"><legend>direction</legend>
            ${p.moves.map((m) => html`<label class="check" key=${m.id}><input type="radio" name="direction" value=${m.id} checked=${m.id === move.id}
              onChange=${() => { setMoveId(m.id); setDone(null) }} /> ${m.label}</label>`)}
          </fieldset>`
        : html`<p class="dim">${move.label[0].toUpperCase()}${move.label.slice(1)}.</p>`}
      <div class="form-grid">
        <${Group} field="amount" err=${err} label="amount" hint=${payer ? `${payer.systemId} has ${credit(payer.balance)}` : undefined}>
          ${input('amount', f, set, err, 'amount', 'amount', { inputmode: 'decimal', required: true, placeholder: '0' })}
        </${Group}>
        <${Group} field="reason" err=${err} label="note" hint="optional, kept in the audit log">
          ${input('reason', f, set, err, 'reason', 'note', { maxlength: 200 })}
        </${Group}>
      </div>
      <${FormLine} err=${err} shown=${['amount', 'reason']} />
      <div class="actions">
        <button type="submit" class="btn primary" disabled=${busy || String(f.amount).trim() === ''}>${busy ? 'Moving…' : move.from === undefined ? 'Grant' : 'Move credit'}</button>
        ${done ? html`<span class="ok" role="status" id="credit-done">${done}</span>` : null}
      </div>
    </form>
  `
}

// ---------------------------------------------------------------------------------------------
// Password

export function PasswordForm(p: { a: AccountView; self: boolean }) {
  const [f, setF] = useState<Fields>({ password: '' })
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<FormError | null>(null)
  const [shown, setShown] = useState<string | null>(null)
  const set: Setter = (name, v) => setF((cur) => ({ ...cur, [name]: v }))
  const submit = (ev: Event): void => {
    ev.preventDefault()
    setBusy(true)
    setErr(null)
    const pw = String(f.password)
    api.setPassword(p.a.systemId, pw === '' ? undefined : pw).then(
      (r) => {
        setBusy(false)
        setF({ password: '' })
        setShown(r.password)
      },
      (e: unknown) => {
        setBusy(false)
        setErr(errorOf(e))
      },
    )
  }
  return html`
    <form class="form acct-form" id="password-form" onSubmit=${submit} noValidate>
      <div class="form-grid">
        <${Group} field="password" err=${err} label="new password" hint="1 to 8 characters (SMPP); empty: generate one">
          ${input('password', f, set, err, 'password', 'new password', { maxlength: 8, autocomplete: 'new-password', placeholder: 'generate' })}
        </${Group}>
      </div>
      <${FormLine} err=${err} shown=${['password']} />
      <div class="actions">
        <button type="submit" class="btn primary" disabled=${busy}>${busy ? 'Setting…' : String(f.password) === '' ? 'Generate a new password' : 'Set password'}</button>
      </div>
      ${shown !== null
        ? html`<${Secret} id="new-password" label=${`New password of ${p.a.systemId}`} value=${shown}
            note=${p.self ? 'shown only now; sign in again with it' : 'shown only now; its login tokens have ended'} />`
        : null}
    </form>
  `
}

/** A password shown once, with a copy button. */
export function Secret(p: { id: string; label: string; value: string; note: string; onClose?: () => void }) {
  const [copied, setCopied] = useState(false)
  const copy = (): void => {
    navigator.clipboard?.writeText(p.value).then(() => setCopied(true), () => undefined)
  }
  return html`<div class="secret" role="status">
    <span>${p.label}:</span> <code id=${p.id} class="mono strong">${p.value}</code>
    ${navigator.clipboard ? html`<button type="button" class="btn small ghost" onClick=${copy}>${copied ? 'Copied' : 'Copy'}</button>` : null}
    <span class="dim small">${p.note}</span>
    ${p.onClose ? html`<button type="button" class="btn small ghost close" aria-label="dismiss" onClick=${p.onClose}>×</button>` : null}
  </div>`
}

// ---------------------------------------------------------------------------------------------
// Delete

export function DeleteConfirm(p: { a: AccountView; byId: ReadonlyMap<string, AccountView>; onDeleted: () => void; onCancel: () => void }) {
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<string | null>(null)
  const owner = p.a.parent !== null ? p.byId.get(p.a.parent) : undefined
  const balance = p.a.balance ?? 0
  const go = (): void => {
    setBusy(true)
    setErr(null)
    api.removeAccount(p.a.systemId).then(
      () => p.onDeleted(),
      (e: unknown) => {
        setBusy(false)
        setErr(errorOf(e).text)
      },
    )
  }
  return html`<div class="confirm" id="delete-confirm" role="alertdialog" aria-label=${`delete ${p.a.systemId}`}>
    <p><b>Delete ${p.a.systemId}?</b> Its binds are closed and it can no longer sign in.
      ${balance > 0 ? (p.a.parent !== null ? ` Its balance of ${credit(balance)} goes back to ${owner?.systemId ?? p.a.parent}.` : ` Its balance of ${credit(balance)} is written off.`) : ''}
      ${p.a.role === 'reseller' && (p.a.children ?? 0) > 0 ? html` <span class="warnc">It still owns ${p.a.children} user(s): remove or move them first.</span>` : null}
    </p>
    <div class="actions">
      <button type="button" class="btn danger" id="delete-go" disabled=${busy} onClick=${go}>${busy ? 'Deleting…' : `Delete ${p.a.systemId}`}</button>
      <button type="button" class="btn ghost" onClick=${p.onCancel}>Cancel</button>
    </div>
    ${err ? html`<p class="error" role="alert">${err}</p>` : null}
  </div>`
}

// ---------------------------------------------------------------------------------------------
// Ledger

const PAGE = 50

const REASON_LABEL: Record<string, string> = {
  opening: 'opening', grant: 'grant', 'transfer-in': 'transfer in', 'transfer-out': 'transfer out',
  submit: 'submit', refund: 'refund', adjust: 'adjustment',
}

/** The account's ledger, newest first, PAGE entries at a time; fetched again when its balance moves. */
export function LedgerView({ a }: { a: AccountView }) {
  const [entries, setEntries] = useState<LedgerEntry[] | null>(null)
  const [more, setMore] = useState(false)
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<string | null>(null)
  useEffect(() => {
    let live = true
    api.ledger(a.systemId, PAGE).then(
      (r) => {
        if (!live) return
        setEntries(r.entries)
        setMore(r.entries.length === PAGE)
        setErr(null)
      },
      (e: unknown) => live && setErr(errorOf(e).text),
    )
    return () => {
      live = false
    }
  }, [a.systemId, a.balance])
  const older = (): void => {
    const last = entries?.[entries.length - 1]
    if (!last || last.seq === undefined) return
    setBusy(true)
    api.ledger(a.systemId, PAGE, last.seq).then(
      (r) => {
        setBusy(false)
        setEntries((cur) => [...(cur ?? []), ...r.entries])
        setMore(r.entries.length === PAGE)
      },
      (e: unknown) => {
        setBusy(false)
        setErr(errorOf(e).text)
      },
    )
  }
  if (err && !entries) return html`<p class="error" role="alert">${err}</p>`
  if (!entries) return html`<p class="dim">loading the ledger…</p>`
  if (entries.length === 0) return html`<p class="empty" id="ledger-empty">${a.prepaid ? 'no entries yet' : `${a.systemId} is not prepaid: no ledger entries`}</p>`
  return html`
    <div class="scroll-x ledger-wrap">
      <table class="mini ledger" id="ledger" aria-label=${`ledger of ${a.systemId}, newest first`}>
        <thead><tr><th>time</th><th>reason</th><th class="num">change</th><th class="num">balance</th><th>by</th><th>ref</th><th class="num">parts</th></tr></thead>
        <tbody>
          ${entries.map((e) => html`<tr key=${e.seq ?? `${e.t}-${e.delta}`} data-reason=${e.reason}>
            <td class="nowrap l-time">${dateTime(e.t)}</td>
            <td class="l-reason"><span class=${`tag reason-${e.reason}`}>${REASON_LABEL[e.reason] ?? e.reason}</span></td>
            <td class=${`num l-delta ${e.delta < 0 ? 'bad' : 'ok'}`}>${signed(e.delta)}</td>
            <td class="num l-balance" data-label="balance">${credit(e.balance)}</td>
            <td class="l-by" data-label="by">${e.by}</td>
            <td class="mono ref l-ref" data-label="ref" title=${e.ref}>${e.ref ?? ''}</td>
            <td class="num l-count" data-label="parts">${e.count ?? ''}</td>
          </tr>`)}
        </tbody>
      </table>
    </div>
    ${more ? html`<button type="button" class="btn small" disabled=${busy} onClick=${older}>${busy ? 'Loading…' : 'Older entries'}</button>` : null}
    ${err ? html`<p class="error" role="alert">${err}</p>` : null}
  `
}

// ---------------------------------------------------------------------------------------------
// API keys

/** The account's API keys for the HTTP send API: listed by label, made (the key shown once) and revoked. */
export function ApiKeysView({ a, readOnly }: { a: AccountView; readOnly: boolean }) {
  const [keys, setKeys] = useState<{ id: string; label: string; createdAt: number }[] | null>(null)
  const [label, setLabel] = useState('')
  const [made, setMade] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<string | null>(null)
  const load = (): void => {
    api.apiKeys(a.systemId).then((r) => { setKeys(r.keys); setErr(null) }, (e: unknown) => setErr(errorOf(e).text))
  }
  useEffect(load, [a.systemId])
  const run = (work: Promise<unknown>): void => {
    setBusy(true)
    setErr(null)
    work.then(() => { setBusy(false); load() }, (e: unknown) => { setBusy(false); setErr(errorOf(e).text) })
  }
  const create = (ev: Event): void => {
    ev.preventDefault()
    run(api.createApiKey(a.systemId, label.trim()).then((r) => { setMade(r.key); setLabel('') }))
  }
  return html`
    <div class="apikeys" id="apikeys">
      ${made !== null
        ? html`<${Secret} id="apikey-new" label=${`New API key of ${a.systemId}`} value=${made}
            note="shown only now: give it as X-API-Key (or Authorization: Bearer) to the send API" onClose=${() => setMade(null)} />`
        : null}
      ${keys === null
        ? html`<p class="dim">loading the keys…</p>`
        : keys.length === 0
          ? html`<p class="empty" id="apikeys-empty">no API keys: the send API takes ${a.systemId}'s login only</p>`
          : html`<table class="mini" aria-label=${`API keys of ${a.systemId}`}>
              <thead><tr><th>label</th><th>created</th><th></th></tr></thead>
              <tbody>${keys.map((k) => html`<tr key=${k.id} data-key-id=${k.id}>
                <td>${k.label || html`<span class="dim">no label</span>`}</td>
                <td class="nowrap">${dateTime(k.createdAt)}</td>
                <td>${readOnly ? null : html`<button type="button" class="btn small danger" data-action="revoke" disabled=${busy}
                  onClick=${() => run(api.revokeApiKey(a.systemId, k.id))}>Revoke</button>`}</td>
              </tr>`)}</tbody>
            </table>`}
      ${readOnly
        ? null
        : html`<form class="inline" onSubmit=${create}>
            <input name="label" aria-label="label of the new key" placeholder="label (optional)" maxlength="64" value=${label}
              onInput=${(e: Event) => setLabel((e.target as HTMLInputElement).value)} />
            <button type="submit" class="btn small" id="apikey-create" disabled=${busy}>New API key</button>
          </form>`}
      ${err ? html`<p class="error" role="alert">${err}</p>` : null}
    </div>
  `
}
