/**
 * The admin API (docs/TELEMETRY.md "Admin API used by the console"): JSON over fetch, same origin,
 * authenticated by the smsc_session cookie the login sets. Errors come back as ApiError with the
 * HTTP status and the engine's { error, code } when it sent one; a network failure (engine down)
 * is ApiError with status 0.
 */
import type { MessageInfo, SendRequest, SendResult } from './types'

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly code?: string) {
    super(message)
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch (e) {
    throw new ApiError(0, 'the engine is not reachable')
  }
  const text = await res.text()
  let json: unknown
  try {
    json = text ? JSON.parse(text) : undefined
  } catch {
    json = undefined
  }
  if (!res.ok) {
    const j = (json ?? {}) as { error?: string; code?: string }
    throw new ApiError(res.status, j.error ?? `${res.status} ${res.statusText}`, j.code)
  }
  return json as T
}

export const api = {
  login: (password: string) => call<{ token: string }>('POST', '/api/v1/login', { password }),
  logout: () => call<void>('POST', '/api/v1/logout'),
  me: () => call<{ role: string }>('GET', '/api/v1/me'),
  unbind: (id: number) => call<unknown>('POST', `/api/v1/binds/${encodeURIComponent(String(id))}/unbind`),
  send: (req: SendRequest) => call<SendResult>('POST', '/api/v1/messages', req),
  message: (id: string) => call<MessageInfo>('GET', `/api/v1/messages/${encodeURIComponent(id)}`),
}
