/**
 * Helpers for the routing, upstream and lifecycle tests: an HTTP sink (a node:http server standing
 * for an HTTP provider: it records every POST the engine's HTTP connector makes, answers with a
 * scriptable status, and can be closed and reopened on the same port), operator login and JSON
 * requests with a bearer token for the admin API, and a receipt ledger that checks "every accepted
 * id gets exactly one final receipt carrying that id".
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { httpCall, type TestLike } from './engine'
import { isReceipt, messageText, parseReceipt, type Esme, type Pdu } from './esme'
import type { Smsc } from '../../engine/index'
import type { ApiMessage } from '../../engine/http'

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** What the engine's HTTP connector POSTs (actors/connectors/http.ts). */
export interface Posted {
  id: string
  from: string
  to: string
  text: string | null
  binary: string
  dataCoding: number
  esmClass: number
  /** when the request arrived (Date.now()) */
  at: number
}

export interface Sink {
  readonly port: number
  readonly url: string
  /** every request body received, in arrival order */
  readonly posted: Posted[]
  /** status (and optional JSON body) for the next request; default 200 with {} */
  answer: (p: Posted, n: number) => number | { status: number; body?: unknown }
  readonly listening: boolean
  /** stops listening and drops every open connection (the provider dies) */
  close(): Promise<void>
  /** listens again on the same port */
  reopen(): Promise<void>
}

/** An HTTP provider on 127.0.0.1 (a free port unless given); closed in t's teardown. */
export async function startSink(t: TestLike, port = 0): Promise<Sink> {
  const posted: Posted[] = []
  let server: http.Server | null = null
  let bound = port
  const listen = () => new Promise<void>((resolve, reject) => {
    const srv = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        let p: Posted
        try {
          p = { ...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Omit<Posted, 'at'>), at: Date.now() }
        } catch {
          res.statusCode = 400
          return res.end()
        }
        posted.push(p)
        const a = sink.answer(p, posted.length)
        const { status, body } = typeof a === 'number' ? { status: a, body: {} } : a
        res.statusCode = status
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify(body ?? {}))
      })
    })
    srv.keepAliveTimeout = 60_000
    srv.once('error', reject)
    srv.listen(bound, '127.0.0.1', () => {
      bound = (srv.address() as AddressInfo).port
      server = srv
      resolve()
    })
  })
  await listen()
  const sink: Sink = {
    get port() { return bound },
    get url() { return `http://127.0.0.1:${bound}/sms` },
    posted,
    answer: () => 200,
    get listening() { return server !== null },
    close() {
      const srv = server
      if (srv === null) return Promise.resolve()
      server = null
      return new Promise<void>((resolve) => {
        srv.close(() => resolve())
        srv.closeAllConnections()
      })
    },
    reopen: () => listen(),
  }
  t.teardown(() => sink.close())
  return sink
}

export interface JsonResult { status: number; json: any; body: string }

/** A JSON request to the engine's HTTP port, with a bearer token when given. */
export function api(port: number, method: string, urlPath: string, body?: unknown, token?: string): Promise<JsonResult> {
  return httpCall(port, method, urlPath, { body, token, timeoutMs: 10_000 }) as Promise<JsonResult>
}

/** Logs in as the operator (config `admin: { password }`) and returns the token. */
export async function operatorToken(httpPort: number, password: string): Promise<string> {
  const r = await api(httpPort, 'POST', '/api/v1/login', { password })
  if (r.status !== 200 || typeof r.json?.token !== 'string') throw new Error(`operator login → ${r.status} ${r.body}`)
  return r.json.token as string
}

/** A final receipt's id (receipted_message_id TLV) and the id: of its text, with its stat. */
export function receiptIds(p: Pdu): { tlv: string | undefined; text: string | undefined; stat: string | undefined; err: string | undefined } {
  const parsed = parseReceipt(messageText(p))
  return { tlv: p.receipted_message_id, text: parsed?.id, stat: parsed?.stat, err: parsed?.err }
}

/** Final receipts an ESME received, by receipted_message_id. */
export function receiptsOf(esme: Esme): Map<string, Pdu[]> {
  const by = new Map<string, Pdu[]>()
  for (const p of esme.delivered) {
    if (!isReceipt(p)) continue
    const id = p.receipted_message_id ?? `(no TLV) ${messageText(p)}`
    let list = by.get(id)
    if (list === undefined) by.set(id, (list = []))
    list.push(p)
  }
  return by
}

export interface ReceiptCheck {
  missing: string[]
  duplicated: string[]
  unknown: string[]
  textMismatch: string[]
}

/**
 * What is wrong with the final receipts of `ids`: ids without a receipt, ids with more than one,
 * receipts whose text id: differs from the TLV, and (with `all`, when these ids are everything the
 * ESME submitted) receipts for ids it never got in a submit_sm_resp.
 */
export function checkReceipts(esme: Esme, ids: Iterable<string>, all = false): ReceiptCheck {
  const by = receiptsOf(esme)
  const want = new Set(ids)
  const out: ReceiptCheck = { missing: [], duplicated: [], unknown: [], textMismatch: [] }
  for (const id of want) {
    const list = by.get(id)
    if (list === undefined) out.missing.push(id)
    else if (list.length > 1) out.duplicated.push(`${id}×${list.length}`)
  }
  for (const [id, list] of by) {
    if (!want.has(id)) {
      if (all) out.unknown.push(id)
      continue
    }
    for (const p of list) if (parseReceipt(messageText(p))?.id !== id) out.textMismatch.push(`${id}: ${messageText(p).slice(0, 40)}`)
  }
  return out
}

/** Polls until every id has a final receipt (or the timeout); returns how many are still missing. */
export async function waitReceipts(esme: Esme, ids: Iterable<string>, timeoutMs: number): Promise<number> {
  const want = [...ids]
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const by = receiptsOf(esme)
    const missing = want.filter((id) => !by.has(id)).length
    if (missing === 0 || Date.now() > deadline) return missing
    await sleep(50)
  }
}

/** Polls `pred` every 25 ms; throws with `what` after timeoutMs. */
export async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(25)
  }
}

/**
 * Submits `size` messages of `systemId` through the send API (an in-process engine), again and again, `pauseMs` apart
 * (0: the next turn of the event loop), until stop(): the ids accepted. `extra` goes into every message.
 */
export function submitting(smsc: Smsc, size: number, pauseMs: number, extra: Partial<ApiMessage> = {}, systemId = 'esme1'): { stop(): Promise<string[]> } {
  const ids: string[] = []
  let sending = true
  const running = (async () => {
    let n = 0
    while (sending) {
      const batch = Array.from({ length: size }, () => ({ from: 'Shop', to: `4477009${String(++n).padStart(5, '0')}`, text: 'hi', ...extra }))
      for (const r of await smsc.submitMessages(systemId, batch)) if (r.ok) ids.push(...r.ids)
      await (pauseMs > 0 ? sleep(pauseMs) : new Promise((r) => setImmediate(r)))
    }
  })()
  return { stop: async () => { sending = false; await running; return ids } }
}

let sent = 0
/** Submits `count` one-part messages of `systemId` through the send API, each to a number of its own; their ids. */
export async function submitBatch(smsc: Smsc, count: number, systemId = 'esme1'): Promise<string[]> {
  const batch = Array.from({ length: count }, () => ({ from: 'Shop', to: `4477009${String(++sent).padStart(5, '0')}`, text: 'hi' }))
  const ids: string[] = []
  for (const r of await smsc.submitMessages(systemId, batch)) {
    if (!r.ok) throw new Error(`submit refused: ${r.code} ${r.error}`)
    ids.push(...r.ids)
  }
  return ids
}
