/**
 * The OpenAPI 3.1 document of the HTTP API, served as is at GET /api/v1/openapi.json (no login).
 * It describes what engine/http.ts answers; docs/API.md is the prose version with examples.
 * test/e2e/admin-api.test.ts checks that every route the server answers is in `paths`.
 */
import { REFERENCE } from './message'

const json = (schema: Record<string, unknown>) => ({ 'application/json': { schema } })
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })
const body = (name: string, required = true) => ({ required, content: json(ref(name)) })
const ok = (description: string, schema?: Record<string, unknown>) => (schema ? { description, content: json(schema) } : { description })
const err = (description: string) => ({ description, content: json(ref('Error')) })

/** A webhook the engine calls: a signed POST of a JSON array of up to 100 events; a 2xx acknowledges them all. */
const webhook = (summary: string, event: Record<string, unknown>) => ({
  post: {
    summary,
    parameters: [
      { name: 'X-Smsc-Timestamp', in: 'header', required: true, schema: { type: 'string' }, description: 'unix seconds when sent; refuse one more than 5 minutes off' },
      { name: 'X-Smsc-Signature', in: 'header', required: true, schema: { type: 'string' }, description: 'sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>", keyed with the account\'s webhook secret>' },
    ],
    requestBody: { required: true, content: json({ type: 'array', maxItems: 100, items: event }) },
    responses: { '2XX': { description: 'all the events acknowledged; any other answer (or none within webhooks.timeoutMs) and they are sent again with back-off' } },
  },
})

/** How webhook events give addresses (engine/message.ts eventAddress). */
const AS_SUBMITTED = 'as submitted, but an international number (TON 1) always with its "+" (+447700900123), typed or not'

/** Answers every authenticated endpoint may give. */
const AUTH_ERRORS = {
  400: err('a field is missing or invalid (SMSC_ERR_API_INVALID), or the body is not JSON (SMSC_ERR_HTTP_BODY)'),
  401: err('no valid login, or a login token in the URL: ?token= is the telemetry WebSocket\'s only (SMSC_ERR_HTTP_AUTH)'),
  403: err('outside the caller\'s scope (SMSC_ERR_ADMIN_FORBIDDEN), the caller\'s account is suspended (SMSC_ERR_ACCOUNT_SUSPENDED), or, on any method but GET, the caller is a viewer: a read-only staff login (SMSC_ERR_ADMIN_READ_ONLY), or the session cookie came from another origin than the engine\'s own (SMSC_ERR_CROSS_ORIGIN)'),
}
/** How a provider's receipt callback is refused (no login: the connector's callbackToken). */
const CALLBACK_REFUSALS = {
  401: err('no token, not the connector\'s callbackToken, or no connector of that id has receipts "callback": one answer for all three, so connector ids cannot be probed (SMSC_ERR_HTTP_AUTH)'),
  429: err('too many refused callbacks from this address (SMSC_ERR_RATE_LIMITED)'),
  503: err('not committed in time: send them again (SMSC_ERR_STORE_UNAVAILABLE)'),
}
const ACCOUNT_ERRORS = { ...AUTH_ERRORS, 404: err('no such account (SMSC_ERR_AUTH_SYSTEM_ID)') }
/** Endpoints that take an API key: ten unknown keys from an address lock unknown keys from it out for the minute. */
const KEY_THROTTLED = 'too many unknown API keys from this address within a minute (SMSC_ERR_RATE_LIMITED; a valid key is never refused)'
/** A single message's refusal: its SubmitResult ({ ok: false, status, code, error }); the others the Error. */
const sendErr = (description: string) => ({ description, content: json({ anyOf: [ref('SubmitResult'), ref('Error')] }) })
const LOGIN = [{ bearer: [] }, { cookie: [] }]
const LOGIN_OR_KEY = [{ bearer: [] }, { cookie: [] }, { apiKey: [] }]
const id = { name: 'id', in: 'path', required: true, description: 'the account\'s systemId', schema: { type: 'string' } }
/** An opt-out list's routes (docs/ROUTING.md "Opt-outs"): list, add, remove many, remove one. An API key (where
 *  `security` takes one) lists and adds only: removing needs a login, so a leaked key cannot undo subscribers' STOPs. */
function optOutPaths(base: string, params: Record<string, unknown>[], security: Record<string, unknown>[], what: string): Record<string, unknown> {
  const errors = params.length > 0 ? ACCOUNT_ERRORS : AUTH_ERRORS
  const removal = security.filter((s) => !('apiKey' in s))
  return {
    [base]: {
      parameters: params,
      get: {
        summary: `${what}: a page in number order`, security,
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          { name: 'after', in: 'query', schema: { type: 'string' }, description: 'the `next` of the previous page' },
          { name: 'prefix', in: 'query', schema: { type: 'string' }, description: 'only numbers starting with these digits (a leading "+" or "00" dropped); `total` still counts the whole list' },
        ],
        responses: { 200: ok('the page', ref('OptOutList')), ...errors },
      },
      post: { summary: `add numbers to ${what}`, security, requestBody: body('OptOutNumbers'), responses: { 200: ok('added', ref('OptOutAdded')), ...errors } },
    },
    [`${base}/remove`]: {
      parameters: params,
      post: { summary: `remove numbers from ${what} (a login: not with an API key, 403)`, security: removal, requestBody: body('OptOutNumbers'), responses: { 200: ok('removed', ref('OptOutRemoved')), ...errors } },
    },
    [`${base}/{number}`]: {
      parameters: [...params, { name: 'number', in: 'path', required: true, schema: { type: 'string' } }],
      delete: { summary: `remove one number from ${what} (a login: not with an API key, 403)`, security: removal, responses: { 200: ok('removed', ref('OptOutRemoved')), ...errors } },
    },
  }
}

/** A backup (Admin.backup). */
const BACKUP_STATE = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: ['running', 'done', 'failed'] },
    path: { type: 'string', description: 'absolute path of the copy, a data dir (<path>/store/data.mdb)' },
    startedAt: { type: 'integer' },
    bytes: { type: 'integer', description: 'size of its data.mdb, once done' },
    ms: { type: 'integer', description: 'how long the copy took' },
    error: { type: 'string', description: 'why it failed' },
    removed: { type: 'array', items: { type: 'string' }, description: 'older backups under <dataDir>/backups removed after this one (store.backupsKept)' },
  },
}
const page = [
  { name: 'limit', in: 'query', required: false, description: 'entries to return (newest first)', schema: { type: 'integer', minimum: 1 } },
  { name: 'before', in: 'query', required: false, description: 'only entries with seq below this (the next page)', schema: { type: 'integer', minimum: 0 } },
]

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'SMSC engine HTTP API',
    version: '1',
    description: 'Logins, the admin API (accounts, credit, API keys, audit, routes, connectors) and the send API. '
      + 'Errors answer { error, code } with a 4xx/5xx status; docs/API.md has the details and curl examples.',
  },
  servers: [{ url: '/' }],
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'a login token (POST /api/v1/login), or, on the send API and message lookups, an API key' },
      cookie: { type: 'apiKey', in: 'cookie', name: 'smsc_session', description: 'the cookie a login sets' },
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'a per-account API key (send API and message lookups only)' },
      callbackBearer: { type: 'http', scheme: 'bearer', description: 'an HTTP connector\'s callbackToken (its receipt callback only)' },
      callbackQuery: { type: 'apiKey', in: 'query', name: 'token', description: 'an HTTP connector\'s callbackToken, for providers that can only be given a URL' },
    },
    schemas: {
      Error: {
        type: 'object', required: ['error', 'code'],
        properties: { error: { type: 'string', description: 'one line for a human' }, code: { type: 'string', description: 'stable SMSC_ERR_* code (docs/ERRORS.md)' } },
      },
      Principal: {
        type: 'object', required: ['role', 'systemId', 'name'],
        properties: {
          role: { enum: ['operator', 'reseller', 'user'] },
          systemId: { type: ['string', 'null'], description: 'null for the operator' },
          name: { type: 'string', description: '"admin" for the built-in operator login, a staff user\'s name, or the account\'s systemId' },
          staff: { enum: ['admin', 'viewer'], description: 'a staff login\'s role (absent for the built-in operator and accounts); a viewer is read-only' },
        },
      },
      Login: {
        type: 'object', required: ['password'], additionalProperties: false,
        description: 'the operator: { password }; a staff user: { user, password }; an account: { systemId, password }',
        properties: {
          systemId: { type: 'string', description: 'an account (reseller or user); absent: the operator or a staff user' },
          user: { type: 'string', description: 'a staff user\'s name (not with systemId); absent: the built-in operator' },
          password: { type: 'string' },
        },
      },
      StaffUser: {
        type: 'object', required: ['name', 'role', 'createdAt', 'updatedAt'],
        properties: {
          name: { type: 'string' }, role: { enum: ['admin', 'viewer'] }, createdAt: { type: 'integer' }, updatedAt: { type: 'integer' },
        },
      },
      Account: {
        type: 'object', description: 'An account with its settings and credit balance.',
        required: ['systemId', 'role'],
        properties: {
          systemId: { type: 'string' },
          role: { enum: ['reseller', 'user'] },
          parent: { type: ['string', 'null'] },
          group: { type: ['string', 'null'] },
          suspended: { type: 'boolean' },
          maxBinds: { type: 'integer' },
          windowSize: { type: 'integer' },
          allowedIps: { type: 'array', items: { type: 'string' } },
          clientCerts: { type: 'array', items: { type: 'string' }, description: 'SHA-256 fingerprints of the TLS client certificates its binds must show (binds only on the TLS port then); [] = none asked' },
          allowedSources: { type: 'array', items: { type: 'string' } },
          rateLimit: { oneOf: [{ type: 'null' }, { type: 'object', properties: { perSecond: { type: 'number' }, burst: { type: 'number' } } }] },
          dailyQuota: { type: ['integer', 'null'] },
          registeredDelivery: { type: 'integer' },
          validity: { type: 'object', properties: { defaultMs: { type: 'integer' }, maxMs: { type: 'integer' } } },
          messageIdFormat: { enum: ['decimal', 'hex'] },
          receiptPolicy: { enum: ['every', 'last', 'aggregate'] },
          settlement: { enum: ['submit', 'refund'] },
          prepaid: { type: 'boolean' },
          webhooks: {
            type: 'object', properties: { receipts: { type: ['string', 'null'] }, mo: { type: ['string', 'null'] } },
            description: 'http(s) URLs receipts / MO are POSTed to, signed (X-Smsc-Timestamp, X-Smsc-Signature); one a reseller or user sets must point at a public address (SMSC_ERR_ADMIN_FORBIDDEN naming the field) unless config webhooks.allowPrivateTargets',
          },
          webhookSecret: { type: 'string', description: 'only in the answer of the PATCH that first gave the account webhooks: the secret their POSTs are signed with, shown this once (POST /api/v1/accounts answers it beside `account`, at the top of its body too; never in a view)' },
          outbind: {
            description: 'SMPP 3.4 §2.2.1: where the engine connects to send outbind when deliveries wait and no receiver is bound (operator only); null = off',
            oneOf: [{ type: 'null' }, {
              type: 'object', required: ['host', 'port'],
              properties: {
                host: { type: 'string' }, port: { type: 'integer' }, tls: { type: 'boolean' },
                password: { type: 'string', writeOnly: true, description: 'sent in the outbind PDU, 0 to 8 characters; never returned (give it again with each change of outbind)' },
                passwordSet: { type: 'boolean', readOnly: true, description: 'whether a password is set' },
              },
            }],
          },
          balance: { type: ['number', 'null'] },
          children: { type: 'integer' },
          createdAt: { type: 'integer' },
          updatedAt: { type: 'integer' },
          configKeys: { type: 'array', items: { type: 'string' }, readOnly: true, description: 'for an account listed in the config file: the settings it gives there, applied again at every start' },
          usage: {
            type: 'object', readOnly: true, description: 'live, from the running engine',
            properties: {
              binds: { type: 'integer', description: 'binds open now' },
              quotaUsedToday: { type: ['integer', 'null'], description: "message parts counted against today's quota (a reseller's: with its users'); null without a quota" },
              pendingDeliveries: { type: 'integer', description: 'receipts and MO stored for the account and not yet acknowledged by its ESME (waiting for a receiver to bind, or sent and unanswered)' },
              receivers: { type: 'integer', description: 'binds that take receipts and MO now: receivers and transceivers (a transmitter gets no deliver_sm)' },
            },
          },
          exceedsReseller: {
            type: 'array', items: { type: 'string', enum: ['allowedSources', 'rateLimit', 'dailyQuota', 'maxBinds', 'windowSize'] }, readOnly: true,
            description: "a reseller's user: its settings that are more than its reseller's own (given by the operator, or from before the reseller's were lowered); absent when none. Sender ids and rate are bounded at submit anyway; the others apply as set until changed",
          },
        },
      },
      AccountInput: {
        type: 'object', description: 'The settings of Account (all optional on PATCH), plus password (generated when absent) and credit (an opening grant, create only).',
        properties: { systemId: { type: 'string' }, password: { type: 'string' }, credit: { type: 'number' } },
        additionalProperties: true,
      },
      Created: {
        type: 'object', required: ['account', 'password'],
        properties: {
          account: ref('Account'), password: { type: 'string', description: 'shown once' },
          webhookSecret: { type: 'string', description: 'when the account is created with webhooks: the secret their POSTs are signed with, shown once; beside `account`, not in it (the PATCH that first gives an account webhooks answers it at the top of its body too, among the account\'s fields)' },
        },
      },
      LedgerEntry: {
        type: 'object', required: ['systemId', 't', 'delta', 'balance', 'reason', 'by'],
        properties: {
          seq: { type: 'integer' }, systemId: { type: 'string' }, t: { type: 'integer' }, delta: { type: 'number' }, balance: { type: 'number' },
          reason: { enum: ['opening', 'grant', 'transfer-in', 'transfer-out', 'submit', 'refund', 'adjust'] },
          by: { type: 'string' }, ref: { type: 'string' }, count: { type: 'integer' },
        },
      },
      TrafficCounts: {
        type: 'object', required: ['accepted', 'refused', 'refusedBy', 'receipts', 'toEsme'],
        description: 'one account\'s traffic of one UTC day (docs/ACCOUNTS.md "Traffic reports"), what smsc_submit_total, smsc_receipts_total and smsc_deliver_total counted for it',
        properties: {
          accepted: { type: 'integer', description: 'submits answered ESME_ROK: one per submit_sm, data_sm or submit_multi PDU (each part of a long message); one per part through the send API' },
          refused: { type: 'integer', description: 'submits refused, all statuses' },
          refusedBy: { type: 'object', additionalProperties: { type: 'integer' }, description: 'by command_status name: ESME_RTHROTTLED, SMSC_RQUOTA, SMSC_RNOCREDIT, SMSC_ROPTEDOUT, ESME_RINVDSTADR, …' },
          receipts: { type: 'object', additionalProperties: { type: 'integer' }, description: 'receipts made, by stat: DELIVRD, UNDELIV, EXPIRED, REJECTD, …' },
          toEsme: {
            type: 'object', description: 'deliver_sm and webhook POSTs to the account, answered ok or failed (each failed attempt); discarded: never acknowledged within receipts.maxAgeMs, so never delivered',
            properties: {
              receiptsOk: { type: 'integer' }, receiptsFailed: { type: 'integer' }, receiptsDiscarded: { type: 'integer' },
              moOk: { type: 'integer' }, moFailed: { type: 'integer' }, moDiscarded: { type: 'integer' },
            },
          },
        },
      },
      TrafficDay: {
        allOf: [ref('TrafficCounts'), {
          type: 'object', required: ['day'],
          properties: { day: { type: 'string', format: 'date' }, tree: { ...ref('TrafficCounts'), description: 'with ?tree=true (a reseller): the reseller and its users together' } },
        }],
      },
      AuditEntry: {
        type: 'object', required: ['t', 'by', 'action', 'target'],
        properties: { seq: { type: 'integer' }, t: { type: 'integer' }, by: { type: 'string' }, action: { type: 'string' }, target: { type: 'string' }, detail: { type: 'object' } },
      },
      ApiKey: {
        type: 'object', required: ['id', 'label', 'createdAt'],
        properties: { id: { type: 'string' }, label: { type: 'string' }, createdAt: { type: 'integer' } },
      },
      OptOut: {
        type: 'object', required: ['number', 'at', 'by'],
        properties: {
          number: { type: 'string', description: 'digits as stored: an international number without its "+" or "00", a national form as given' },
          at: { type: 'integer', description: 'when it was added (ms since the epoch)' },
          by: { type: 'string', description: 'who added it: a login (admin, an account, staff:<name>) or an MO route (mo:<keyword>)' },
        },
      },
      OptOutList: {
        type: 'object', required: ['optouts', 'total', 'next'],
        properties: {
          optouts: { type: 'array', items: ref('OptOut'), description: 'in number order' },
          total: { type: 'integer', description: 'numbers on the whole list (a `prefix` does not change it)' },
          next: { type: ['string', 'null'], description: 'give as `after` for the next page; null on the last page (a full one too)' },
        },
      },
      OptOutFind: {
        type: 'object', required: ['number', 'lists'],
        properties: {
          number: { type: 'string', description: 'digits, as the lists hold it (no leading "+")' },
          lists: {
            type: 'array', description: 'the lists holding it that the caller may see: the global one first',
            items: { allOf: [ref('OptOut'), { type: 'object', required: ['list'], properties: { list: { type: 'string', description: '"global" (the operator\'s) or the systemId of the account whose list it is' } } }] },
          },
        },
      },
      OptOutNumbers: {
        type: 'object', additionalProperties: false, description: 'numbers (or one number): digits, a leading "+" or "00" (dropped: the international prefix) and spaces, dashes, dots or brackets allowed',
        properties: { numbers: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string' } }, number: { type: 'string' } },
      },
      OptOutAdded: {
        type: 'object', properties: { added: { type: 'integer' }, already: { type: 'integer', description: 'on the list already (left as they were)' }, total: { type: 'integer' } },
      },
      OptOutRemoved: {
        type: 'object', properties: { removed: { type: 'integer' }, absent: { type: 'integer', description: 'not on the list' }, total: { type: 'integer' } },
      },
      NewApiKey: {
        type: 'object', required: ['id', 'key'],
        properties: { id: { type: 'string' }, key: { type: 'string', description: 'shown once; only its hash is kept' } },
      },
      Credit: {
        type: 'object', required: ['amount'], additionalProperties: false,
        properties: {
          amount: { type: 'number', description: 'credit units to move to the account in the path' },
          from: { type: 'string', description: 'the account that pays; absent: the caller (a reseller) or nobody (an operator grant)' },
          reason: { type: 'string' },
        },
      },
      Message: { allOf: [{ $ref: '#/components/schemas/MessageFields' }], unevaluatedProperties: false },
      MessageFields: {
        type: 'object', required: ['from', 'to'],
        properties: {
          from: { type: 'string', description: 'sender: a number (international, TON 1; a leading + allowed), a short code (1 to 8 digits without +: TON 3) or an alphanumeric id (TON 5); 1 to 20 characters' },
          to: { type: 'string', description: 'destination number, 1 to 20 characters' },
          text: { type: 'string', description: 'the text (split into parts when long); give text or binary' },
          binary: { type: 'string', pattern: '^([0-9a-fA-F]{2})*$', description: 'octets as hex; give text or binary' },
          coding: { enum: ['gsm', 'ucs2', 'latin1', 'binary'], description: 'default: GSM 03.38 when every character fits, else UCS2; binary for binary' },
          registeredDelivery: { type: 'boolean', description: 'ask for a receipt; default: the account\'s setting' },
          scheduleAt: { oneOf: [{ type: 'string', format: 'date-time' }, { type: 'integer' }], description: 'deliver not before (ISO-8601 or ms since the epoch)' },
          validityMs: { type: 'integer', minimum: 1, description: 'give up after this long' },
          reference: { type: 'string', minLength: 1, maxLength: 64, pattern: REFERENCE.source, description: 'your own id for the message (1 to 64 printable ASCII characters, no space at either end): given back in the answer, its receipt webhook calls, the lookup, and found by message search (reference=)' },
        },
      },
      SingleSend: {
        allOf: [{ $ref: '#/components/schemas/MessageFields' }],
        properties: { systemId: { type: 'string', description: 'operator or reseller: the account to send for' } },
        unevaluatedProperties: false,
      },
      BatchSend: {
        type: 'object', required: ['messages'], additionalProperties: false,
        properties: { systemId: { type: 'string' }, messages: { type: 'array', minItems: 1, maxItems: 1000, items: ref('Message') } },
      },
      SubmitResult: {
        oneOf: [
          {
            type: 'object', required: ['ok', 'ids', 'parts'],
            properties: { ok: { const: true }, ids: { type: 'array', items: { type: 'string' } }, parts: { type: 'integer' }, coding: { type: 'string' }, reference: { type: 'string', description: 'the message\'s reference, when it was given one' } },
          },
          {
            type: 'object', required: ['ok', 'status', 'code', 'error'],
            properties: { ok: { const: false }, status: { type: 'integer', description: 'the SMPP command_status a submit_sm would get' }, code: { type: 'string' }, error: { type: 'string' }, reference: { type: 'string', description: 'the message\'s reference, when it was given one that was not what was refused' } },
          },
        ],
      },
      MessageSummary: {
        type: 'object', description: 'A message as a search lists it.',
        required: ['id', 'systemId', 'from', 'to', 'state', 'stat', 'err', 'submitAt', 'doneAt', 'text', 'direction'],
        properties: {
          direction: { enum: ['mt', 'mo'], description: 'mt: a message the account sent; mo: one from a subscriber to the account (from: the subscriber, to: the number texted; state: its delivery to the account, ENROUTE until acknowledged)' },
          id: { type: 'string' }, systemId: { type: 'string' }, from: { type: 'string' }, to: { type: 'array', items: { type: 'string' } },
          state: { type: 'integer', description: 'SMPP message_state' }, stat: { type: 'string' }, err: { type: 'integer' },
          submitAt: { type: 'integer' }, doneAt: { type: 'integer' }, text: { type: 'string' },
          part: { type: 'array', items: { type: 'integer' }, minItems: 2, maxItems: 2, description: '[seq, total]: one part of a concatenated message' },
          reference: { type: 'string', description: 'the send API\'s reference it was given: the sender\'s own id for it' },
        },
      },
      MessageDest: {
        type: 'object', description: 'One destination: its outcome and how it was carried (fields the message has so far).',
        required: ['to', 'state', 'stat', 'err', 'doneAt'],
        properties: {
          to: { type: 'string' }, state: { type: 'integer' }, stat: { type: 'string' }, err: { type: 'integer' }, doneAt: { type: 'integer' },
          connector: { type: 'string', description: 'the connector that carries it, once dispatched' },
          upstreamId: { type: 'string', description: 'the upstream SMSC\'s message id, once an upstream connector accepted it' },
          price: { type: 'number', description: 'credit charged for this destination (prepaid accounts)' },
          refunded: { type: 'boolean', enum: [true], description: 'its price was given back (settlement refund: it ended without being delivered)' },
          via: { type: 'array', items: { type: 'string' }, description: 'the connectors its route gave, in the order tried' },
        },
      },
      MessageView: {
        type: 'object',
        allOf: [{ $ref: '#/components/schemas/MessageSummary' }],
        properties: {
          timeline: { type: 'array', items: { type: 'object', properties: { t: { type: 'integer' }, event: { type: 'string', description: 'received, stored, carrier, receipt, delivered (its receipt acknowledged by the account), discarded (its receipt never was, see receiptDiscarded); an MO\'s: received, delivered, refused, expired' }, stat: { type: 'string' } } } },
          dests: { type: 'array', items: ref('MessageDest') },
          receiptDiscarded: { type: 'integer', description: 'when a receipt of it was discarded, never acknowledged by the account within receipts.maxAgeMs (no receiver bound, or none answered): the account never got it' },
          registeredDelivery: { type: 'integer', description: 'registered_delivery as submitted (SMPP 3.4 §5.2.17): 0 asked for no receipt, 1 the final outcome, 2 failures only, 3 success only; +16 intermediate ones' },
          price: { type: 'number', description: 'credit charged for the message (prepaid accounts)' },
          scheduleAt: { type: 'integer', description: 'deliver not before, when scheduled' },
          expireAt: { type: 'integer', description: 'given up at' },
          mo: {
            type: 'object', description: "an MO's (direction mo): where it came from, its route, its delivery to the account",
            required: ['connector', 'delivery', 'parts', 'acked', 'retries'],
            properties: {
              connector: { type: 'string', description: "the connector it came from: an upstream's id, or simulator" },
              route: { type: 'string', description: 'the MO route that took it (absent: the request named the account, or a later part that followed its first)' },
              keyword: { type: 'string', description: "that route's keyword" },
              delivery: { enum: ['waiting', 'retrying', 'delivered', 'refused', 'expired'] },
              via: { enum: ['bind', 'webhook'], description: 'where it was delivered' },
              parts: { type: 'integer' }, acked: { type: 'integer' }, retries: { type: 'integer', description: 'failed attempts, tried again' },
              receivers: { type: 'integer', description: "while not delivered: the account's receivers and transceivers bound now" },
              webhook: { type: 'boolean', description: 'while not delivered: the account takes MO by webhook' },
              reply: { type: 'string', description: "its MO route's auto-reply: the id of the message that went back" },
              replyNot: { type: 'string', description: 'or why none went: the refusal\'s code (SMSC_ERR_QUOTA_EXCEEDED, …), "held" (one per route and sender a minute), "not a phone number"' },
            },
          },
        },
      },
      MessageSearchResult: {
        type: 'object', required: ['messages', 'truncated', 'next', 'since', 'until', 'ms'],
        properties: {
          messages: { type: 'array', items: ref('MessageSummary'), description: 'newest first' },
          scanned: { type: 'integer', description: 'stored messages read to answer, every account\'s (the platform\'s volume): the operator\'s and staff logins\' answers only' },
          truncated: { type: 'boolean', description: 'the walk stopped at its cap (1,000,000 messages read) before the start of the window: older matches may follow from `next`' },
          next: { type: ['string', 'null'], description: 'give as `before` for the next page; null when the window has been searched to its start' },
          since: { type: 'integer' }, until: { type: 'integer' }, ms: { type: 'integer', description: 'how long the search took' },
          refused: {
            type: 'array', description: 'submits refused in the window that match the numbers and account, newest first, at most `limit`: on the first page of a search without `state` or `direction=mo`. The engine keeps the last `stats.refusalsKept` of each account in memory, and across a clean restart',
            items: {
              type: 'object', required: ['t', 'systemId', 'via', 'command', 'status', 'statusName', 'from', 'to'],
              properties: {
                t: { type: 'integer' }, systemId: { type: 'string' }, via: { enum: ['smpp', 'http', 'auto-reply'], description: 'an SMPP bind, the HTTP send API, or an MO route\'s auto-reply (the engine\'s own reply for the account)' }, session: { type: 'integer', description: 'the bind (via smpp)' },
                command: { type: 'string', description: 'submit_sm, data_sm, submit_multi, send (the HTTP send API) or reply (an auto-reply)' },
                route: { type: 'string', description: 'via auto-reply: the MO route whose reply it was' }, keyword: { type: 'string', description: 'via auto-reply: that route\'s keyword' },
                mo: { type: 'string', description: 'via auto-reply: the id of the MO it answered' }, reference: { type: 'string', description: 'a send API message\'s reference' },
                status: { type: 'integer', description: 'the command_status it was refused with' }, statusName: { type: 'string' },
                from: { type: ['string', 'null'] }, to: { type: ['array', 'null'], items: { type: 'string' }, description: 'null when the PDU could not be decoded' },
              },
            },
          },
        },
      },
      RouteTables: {
        type: 'object', required: ['mt', 'mo'], description: 'docs/ROUTING.md',
        properties: { mt: { type: 'array', items: { type: 'object' } }, mo: { type: 'array', items: { type: 'object' } } },
      },
      ConnectorStats: {
        type: 'object',
        properties: {
          id: { type: 'string' }, kind: { type: 'string' }, up: { type: 'boolean' }, inFlight: { type: 'integer' }, sent: { type: 'integer' }, failed: { type: 'integer' },
          stopped: { type: 'boolean', description: 'stopped by the operator (POST /api/v1/connectors/{id}/stop): no link, routes skip it, until started' },
          queued: { type: 'integer', description: 'handed to it, waiting in its lane for its window' },
          paused: { type: ['string', 'null'], format: 'date-time', description: 'until when its submits are paused: its upstream throttles it (ESME_RTHROTTLED, ESME_RMSGQFUL, HTTP 429; throttlePauseMs). Up meanwhile; null when not paused' },
          stalled: { type: 'boolean', description: 'smpp only: its last link was dropped because the upstream answered no submit_sm (stallAfterTimeouts in a row, 3 by default), and none has been answered since (down and binding again, or bound again on trial)' },
          stalledSince: { type: 'string', format: 'date-time', description: 'smpp, while stalled: when the link was first dropped for the stall' },
          stalledTimeouts: { type: 'integer', description: 'smpp, while stalled: the submit_sm in a row unanswered that made its last drop' },
        },
      },
    },
  },
  paths: {
    '/api/v1/openapi.json': { get: { summary: 'this document', security: [], responses: { 200: ok('OpenAPI 3.1') } } },
    '/api/v1/login': {
      post: {
        summary: 'log in as the operator ({ password }), a staff user ({ user, password }) or an account ({ systemId, password })', security: [],
        requestBody: body('Login'),
        responses: {
          200: ok('a token (also set as the smsc_session cookie)', { type: 'object', properties: { token: { type: 'string' }, principal: ref('Principal') } }),
          400: err('bad body'), 401: err('wrong credentials (SMSC_ERR_HTTP_AUTH)'), 403: err('the account is suspended (SMSC_ERR_ACCOUNT_SUSPENDED)'),
          429: err('10 failed logins from this address as this login name, or 30 whatever the names, within a minute: refused, however right the password, until that minute ends, with Retry-After (SMSC_ERR_RATE_LIMITED)'),
        },
      },
    },
    '/api/v1/logout': { post: { summary: 'revoke the token', security: LOGIN, responses: { 204: ok('logged out') } } },
    '/api/v1/me': { get: { summary: 'who the token belongs to', security: LOGIN, responses: { 200: ok('the principal', ref('Principal')), ...AUTH_ERRORS } } },
    '/api/v1/accounts': {
      get: { summary: 'the accounts the caller may see', security: LOGIN, responses: { 200: ok('accounts', { type: 'object', properties: { accounts: { type: 'array', items: ref('Account') } } }), ...AUTH_ERRORS } },
      post: { summary: "create an account (operator: any; reseller: a user under itself, with limits within its own; limits not given are the reseller's)", security: LOGIN, requestBody: body('AccountInput'), responses: { 201: ok('created: the account, its password and, when created with webhooks, webhookSecret, all at the top of the body', ref('Created')), ...AUTH_ERRORS, 403: err("outside the caller's scope, or a reseller giving a user more than its own allowedSources, rateLimit, dailyQuota, maxBinds or windowSize (SMSC_ERR_ADMIN_FORBIDDEN, naming the field and the bound)"), 409: err('the opening credit is more than the payer has (SMSC_ERR_CREDIT_EXHAUSTED)') } },
    },
    '/api/v1/accounts/{id}': {
      parameters: [id],
      get: { summary: 'one account (with its balance); an API key reads its own account only', security: LOGIN_OR_KEY, responses: { 200: ok('the account', ref('Account')), ...ACCOUNT_ERRORS } },
      patch: { summary: 'change settings (a reseller: its users\' limits, within its own)', security: LOGIN, requestBody: body('AccountInput'), responses: { 200: ok('the account; the PATCH that first gives it webhooks has webhookSecret among its fields, at the top of the body as in the create\'s answer', ref('Account')), ...ACCOUNT_ERRORS, 403: err("outside the caller's scope, a reseller giving a user more than its own allowedSources, rateLimit, dailyQuota, maxBinds or windowSize (SMSC_ERR_ADMIN_FORBIDDEN, naming the field and the bound), or a reseller or user giving a webhook a URL that is not a public address") } },
      delete: { summary: 'remove the account', security: LOGIN, responses: { 204: ok('removed'), ...ACCOUNT_ERRORS } },
    },
    '/api/v1/accounts/{id}/suspend': { parameters: [id], post: { summary: 'suspend (refuses binds, logins and sends; unbinds its sessions)', security: LOGIN, responses: { 200: ok('the account', ref('Account')), ...ACCOUNT_ERRORS } } },
    '/api/v1/accounts/{id}/resume': { parameters: [id], post: { summary: 'resume a suspended account', security: LOGIN, responses: { 200: ok('the account', ref('Account')), ...ACCOUNT_ERRORS } } },
    '/api/v1/accounts/{id}/password': {
      parameters: [id],
      post: {
        summary: 'set the password (generated when absent)', security: LOGIN,
        requestBody: { required: false, content: json({ type: 'object', properties: { password: { type: 'string' } } }) },
        responses: { 200: ok('the new password', { type: 'object', properties: { password: { type: 'string' } } }), ...ACCOUNT_ERRORS },
      },
    },
    '/api/v1/accounts/{id}/webhook-secret': {
      parameters: [id],
      post: {
        summary: 'a new webhook secret (in scope as other account changes; audited as account.webhook-secret): the old one stops signing at once', security: LOGIN,
        responses: { 200: ok('the new secret, shown once', { type: 'object', properties: { secret: { type: 'string' } } }), ...ACCOUNT_ERRORS },
      },
    },
    '/api/v1/accounts/{id}/credit': {
      parameters: [id],
      post: {
        summary: 'move credit to the account', security: LOGIN, requestBody: body('Credit'),
        responses: {
          200: ok('the ledger entries written', { type: 'object', properties: { from: { oneOf: [ref('LedgerEntry'), { type: 'null' }] }, to: ref('LedgerEntry') } }),
          ...ACCOUNT_ERRORS, 409: err('the payer has not enough credit (SMSC_ERR_CREDIT_EXHAUSTED)'),
        },
      },
    },
    '/api/v1/accounts/{id}/ledger': {
      parameters: [id, ...page],
      get: { summary: 'credit movements, newest first; an API key reads its own account\'s only', security: LOGIN_OR_KEY, responses: { 200: ok('entries', { type: 'object', properties: { entries: { type: 'array', items: ref('LedgerEntry') } } }), ...ACCOUNT_ERRORS } },
    },
    '/api/v1/accounts/{id}/stats': {
      parameters: [id],
      get: {
        summary: 'the account\'s traffic per UTC day, a row per day oldest first (zeros where none); kept stats.retentionDays days; counted up to the last second. An API key reads its own account\'s only',
        security: LOGIN_OR_KEY,
        parameters: [
          { name: 'from', in: 'query', schema: { type: 'string', format: 'date' }, description: 'first day (YYYY-MM-DD, UTC); default: 6 days before `to`' },
          { name: 'to', in: 'query', schema: { type: 'string', format: 'date' }, description: 'last day; default today (or `from` when later); at most 366 days in all' },
          { name: 'tree', in: 'query', schema: { type: 'boolean', default: false }, description: 'a reseller: each row also gives `tree`, the reseller and its users summed' },
        ],
        responses: { 200: ok('the days', { type: 'object', properties: { days: { type: 'array', items: ref('TrafficDay') } } }), ...ACCOUNT_ERRORS },
      },
    },
    '/api/v1/accounts/{id}/apikeys': {
      parameters: [id],
      get: { summary: 'the account\'s API keys (never the keys themselves)', security: LOGIN, responses: { 200: ok('keys', { type: 'object', properties: { keys: { type: 'array', items: ref('ApiKey') } } }), ...ACCOUNT_ERRORS } },
      post: {
        summary: 'create an API key', security: LOGIN,
        requestBody: { required: false, content: json({ type: 'object', properties: { label: { type: 'string' } } }) },
        responses: { 201: ok('the key, shown once', ref('NewApiKey')), ...ACCOUNT_ERRORS },
      },
    },
    '/api/v1/accounts/{id}/apikeys/{keyId}': {
      parameters: [id, { name: 'keyId', in: 'path', required: true, schema: { type: 'string' } }],
      delete: { summary: 'revoke an API key', security: LOGIN, responses: { 204: ok('revoked'), ...ACCOUNT_ERRORS } },
    },
    '/api/v1/optouts/find': {
      get: {
        summary: 'which opt-out lists hold a number, among those the caller may see (the operator: all; a reseller: the global one and its tree\'s; a user: the global one, its own and its reseller\'s, which all refuse its sends to it)',
        security: LOGIN,
        parameters: [{ name: 'number', in: 'query', required: true, schema: { type: 'string' }, description: 'a phone number; "+", "00", spaces, dashes and brackets allowed' }],
        responses: { 200: ok('the lists', ref('OptOutFind')), ...AUTH_ERRORS },
      },
    },
    ...optOutPaths('/api/v1/optouts', [], LOGIN, 'the global opt-out list (the operator\'s; a viewer reads it)'),
    ...optOutPaths('/api/v1/accounts/{id}/optouts', [id], LOGIN_OR_KEY, 'the account\'s opt-out list (in scope: a reseller its own and its users\', an account its own; its API key lists and adds only)'),
    '/api/v1/stats': {
      get: {
        summary: 'every account\'s traffic of one UTC day, those the caller may see (the operator: all; a reseller: itself and its users); accounts with none that day left out',
        security: LOGIN,
        parameters: [{ name: 'day', in: 'query', schema: { type: 'string', format: 'date' }, description: 'YYYY-MM-DD (UTC); default today' }],
        responses: {
          200: ok('the day', { type: 'object', properties: { day: { type: 'string', format: 'date' }, accounts: { type: 'array', items: { allOf: [ref('TrafficCounts'), { type: 'object', required: ['systemId'], properties: { systemId: { type: 'string' } } }] } } } }),
          ...AUTH_ERRORS,
        },
      },
    },
    '/api/v1/audit': {
      parameters: page,
      get: { summary: 'admin actions in the caller\'s scope, newest first', security: LOGIN, responses: { 200: ok('entries', { type: 'object', properties: { entries: { type: 'array', items: ref('AuditEntry') } } }), ...AUTH_ERRORS } },
    },
    '/api/v1/backup': {
      post: {
        summary: 'start a backup of the store (operator): a consistent copy made while traffic goes on, as a data dir of its own in `dir` or under <dataDir>/backups (an engine started with --data-dir on it runs on the copy); one at a time', security: LOGIN,
        requestBody: { required: false, content: json({ type: 'object', additionalProperties: false, properties: { dir: { type: 'string', description: 'absolute path of a new or empty directory the engine can write' } } }) },
        responses: { 202: ok('started', { type: 'object', properties: { backup: BACKUP_STATE } }), ...AUTH_ERRORS, 409: err('a backup is being made already (SMSC_ERR_BACKUP_RUNNING)') },
      },
      get: {
        summary: 'the backup being made or the last one since the engine started, and the last 20 (operator)', security: LOGIN,
        responses: { 200: ok('their state', { type: 'object', properties: { backup: { ...BACKUP_STATE, nullable: true }, recent: { type: 'array', items: BACKUP_STATE } } }), ...AUTH_ERRORS },
      },
    },
    '/api/v1/routes': {
      get: { summary: 'the routing tables (operator)', security: LOGIN, responses: { 200: ok('tables', ref('RouteTables')), ...AUTH_ERRORS } },
      put: {
        summary: 'replace the routing tables (operator); validated, then applied at once. `warnings`: destinations the MT table in force routed and this one does not (docs/ROUTING.md "Narrowing warnings"); set all the same',
        security: LOGIN, requestBody: body('RouteTables'),
        responses: { 200: ok('tables, and warnings', { allOf: [ref('RouteTables'), { type: 'object', required: ['warnings'], properties: { warnings: { type: 'array', items: { type: 'string' } } } }] }), ...AUTH_ERRORS },
      },
    },
    '/api/v1/connectors': {
      get: { summary: 'connector state and counters (operator)', security: LOGIN, responses: { 200: ok('connectors', { type: 'object', properties: { connectors: { type: 'array', items: ref('ConnectorStats') } } }), ...AUTH_ERRORS } },
    },
    ...Object.fromEntries((['stop', 'start'] as const).map((action) => [`/api/v1/connectors/{id}/${action}`, {
      parameters: [{ name: 'id', in: 'path', required: true, description: 'the connector\'s id (config connectors[].id, or simulator)', schema: { type: 'string' } }],
      post: {
        summary: action === 'stop'
          ? 'stop a connector (operator): an smpp one unbinds; it counts as down, so its work fails over or waits, and it stays stopped across restarts until started'
          : 'start a stopped connector (operator): a new link',
        security: LOGIN,
        responses: { 200: ok('the connector', ref('ConnectorStats')), ...AUTH_ERRORS, 404: err('no such connector (SMSC_ERR_CONNECTOR_NOT_FOUND)') },
      },
    }])),
    '/api/v1/admin/password': {
      post: {
        summary: 'set the operator\'s admin password (operator; generated when absent, 8 to 128 characters): in force at once, and every operator login token ends, the caller\'s too', security: LOGIN,
        requestBody: { required: false, content: json({ type: 'object', additionalProperties: false, properties: { password: { type: 'string', minLength: 8, maxLength: 128 } } }) },
        responses: {
          200: ok('the new password', { type: 'object', properties: { password: { type: 'string' } } }),
          ...AUTH_ERRORS,
          400: err('the password is not 8 to 128 characters, or config admin.password is set (it takes precedence: change it there) (SMSC_ERR_API_INVALID)'),
        },
      },
    },
    '/api/v1/admin/users': {
      get: { summary: 'the staff logins (operator, staff)', security: LOGIN, responses: { 200: ok('staff users', { type: 'object', properties: { users: { type: 'array', items: ref('StaffUser') } } }), ...AUTH_ERRORS } },
      post: {
        summary: 'add a staff login (operator, staff admin); the password is generated (12 characters) when absent and returned only here', security: LOGIN,
        requestBody: { required: true, content: json({ type: 'object', required: ['user', 'role'], additionalProperties: false, properties: { user: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$', description: 'not "admin" (the built-in operator)' }, role: { enum: ['admin', 'viewer'] }, password: { type: 'string', minLength: 8, maxLength: 128 } } }) },
        responses: { 201: ok('the user and its password', { type: 'object', properties: { user: ref('StaffUser'), password: { type: 'string' } } }), ...AUTH_ERRORS },
      },
    },
    '/api/v1/admin/users/{name}': {
      parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
      patch: {
        summary: 'change a staff login\'s role (its login tokens end)', security: LOGIN,
        requestBody: { required: true, content: json({ type: 'object', required: ['role'], additionalProperties: false, properties: { role: { enum: ['admin', 'viewer'] } } }) },
        responses: { 200: ok('the user', ref('StaffUser')), ...AUTH_ERRORS, 404: err('no such staff user (SMSC_ERR_STAFF_NOT_FOUND)') },
      },
      delete: { summary: 'remove a staff login (its login tokens end)', security: LOGIN, responses: { 204: ok('removed'), ...AUTH_ERRORS, 404: err('no such staff user (SMSC_ERR_STAFF_NOT_FOUND)') } },
    },
    '/api/v1/admin/users/{name}/password': {
      parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
      post: {
        summary: 'set a staff login\'s password (generated, 12 characters, when absent; returned only here); its login tokens end', security: LOGIN,
        requestBody: { required: false, content: json({ type: 'object', additionalProperties: false, properties: { password: { type: 'string', minLength: 8, maxLength: 128 } } }) },
        responses: { 200: ok('the new password', { type: 'object', properties: { password: { type: 'string' } } }), ...AUTH_ERRORS, 404: err('no such staff user (SMSC_ERR_STAFF_NOT_FOUND)') },
      },
    },
    '/api/v1/binds/{id}/unbind': {
      parameters: [{ name: 'id', in: 'path', required: true, description: 'session id', schema: { type: 'integer' } }],
      post: { summary: 'unbind one SMPP session (operator)', security: LOGIN, responses: { 202: ok('unbinding', { type: 'object', properties: { id: { type: 'integer' } } }), ...AUTH_ERRORS, 404: err('no such session') } },
    },
    '/api/v1/messages': {
      get: {
        summary: 'search messages, newest first: by destination or source number (international form; a trailing * for a prefix), account, state and submit time, in pages (an account sees its own and, a reseller, its users\')',
        description: 'A walk of the stored messages from the newest, within the window (default: the 24 hours before `until`), reading at most 1,000,000 per request (then `truncated`, and `next` goes on). docs/API.md "Message search".',
        security: LOGIN_OR_KEY,
        parameters: [
          { name: 'to', in: 'query', required: false, description: 'destination number; a leading + or 00, spaces and dashes ignored; a trailing * matches a prefix', schema: { type: 'string' } },
          { name: 'from', in: 'query', required: false, description: 'source number or sender id (letters in any case); a trailing * matches a prefix', schema: { type: 'string' } },
          { name: 'systemId', in: 'query', required: false, description: 'only this account\'s messages', schema: { type: 'string' } },
          { name: 'state', in: 'query', required: false, description: 'message states (DELIVERED, UNDELIVERABLE, …), receipt stats (DELIVRD, UNDELIV, …) or their numbers, comma-separated', schema: { type: 'string' } },
          { name: 'direction', in: 'query', required: false, description: 'mt: only messages accounts sent; mo: only MO from subscribers', schema: { type: 'string', enum: ['mt', 'mo'] } },
          { name: 'since', in: 'query', required: false, description: 'submitted at or after (ISO-8601 or ms since the epoch); default until minus 24 h', schema: { type: 'string' } },
          { name: 'until', in: 'query', required: false, description: 'submitted at or before (ISO-8601 or ms since the epoch); default now', schema: { type: 'string' } },
          { name: 'limit', in: 'query', required: false, description: 'messages to return, 1 to 500 (default 50)', schema: { type: 'integer', minimum: 1, maximum: 500 } },
          { name: 'before', in: 'query', required: false, description: 'only messages older than this id: the `next` of the previous page', schema: { type: 'string' } },
          { name: 'upstreamId', in: 'query', required: false, description: 'only messages an upstream took under this id (its submit_sm_resp message_id), in any case; every message in the window is read in full', schema: { type: 'string', maxLength: 64 } },
          { name: 'reference', in: 'query', required: false, description: 'only send API messages given this reference, matched whole', schema: { type: 'string', maxLength: 64 } },
        ],
        responses: { 200: ok('a page of messages', ref('MessageSearchResult')), ...AUTH_ERRORS, 403: err('systemId names an account outside the caller\'s scope (SMSC_ERR_ADMIN_FORBIDDEN), or the caller\'s account is suspended'), 429: err(`the caller already has a search running or waiting: one at a time (SMSC_ERR_RATE_LIMITED); or ${KEY_THROTTLED}`) },
      },
      post: {
        summary: 'send one message, or a batch of up to 1000', security: LOGIN_OR_KEY,
        requestBody: { required: true, content: json({ oneOf: [ref('SingleSend'), ref('BatchSend')] }) },
        responses: {
          200: ok('a batch: one result per message, in order', { type: 'object', properties: { results: { type: 'array', items: ref('SubmitResult') } } }),
          202: ok('one message: accepted', ref('SubmitResult')),
          ...AUTH_ERRORS,
          400: sendErr('one message refused for a missing or invalid field: its SubmitResult (ok false, the SMPP status, SMSC_ERR_API_INVALID naming the field); a body that is neither one message nor a batch, or not JSON: an Error'),
          403: sendErr('one message refused by the account\'s policy (SMSC_ERR_SOURCE_NOT_ALLOWED) or an opt-out list (SMSC_ERR_DEST_OPTED_OUT): its SubmitResult; outside the caller\'s scope, suspended, or outside allowedIps: an Error'),
          404: err('the operator named an unknown account'),
          409: sendErr('one message: not enough credit (SMSC_ERR_CREDIT_EXHAUSTED), its SubmitResult'),
          413: err('more than 1000 messages, or a body over 1 MiB'),
          429: sendErr(`one message: the account's rate or daily quota is used up (its SubmitResult); or ${KEY_THROTTLED}`),
          503: sendErr('one message: the engine could not take it now (SMSC_ERR_QUEUE_FULL, SMSC_ERR_STORE_UNAVAILABLE, SMSC_ERR_CONNECTOR_DOWN), its SubmitResult: send it again later'),
        },
      },
    },
    '/api/v1/messages/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      get: { summary: 'one message, each destination with how it was carried (connector, upstream id, price), and its timeline (an account sees its own and, a reseller, its users\')', security: LOGIN_OR_KEY, responses: { 200: ok('the message', ref('MessageView')), 401: err('no login or key'), 403: err('the caller\'s account is suspended (SMSC_ERR_ACCOUNT_SUSPENDED), or the request comes from outside its allowedIps (SMSC_ERR_IP_NOT_ALLOWED)'), 404: err('no such message (SMSC_ERR_MESSAGE_NOT_FOUND)'), 429: err(KEY_THROTTLED) } },
      delete: {
        summary: 'cancels a message not final yet (scheduled, waiting for a connector, or with an upstream that has not reported), as cancel_sm does: its open destinations end DELETED; the charge stays. Answered once committed, with the message as it is now',
        security: LOGIN_OR_KEY,
        responses: {
          200: ok('cancelled', ref('MessageView')), 401: err('no login or key'),
          403: err('the caller\'s account is suspended (SMSC_ERR_ACCOUNT_SUSPENDED), outside its allowedIps (SMSC_ERR_IP_NOT_ALLOWED), or a viewer (SMSC_ERR_ADMIN_READ_ONLY)'),
          404: err('no such message, or not the caller\'s to see (SMSC_ERR_MESSAGE_NOT_FOUND)'), 409: err('the message is final already: nothing to cancel (SMSC_ERR_MESSAGE_FINAL)'),
          429: err(KEY_THROTTLED), 503: err('the cancel was not stored (SMSC_ERR_STORE_UNAVAILABLE)'),
        },
      },
    },
    '/api/v1/simulator/mo': {
      post: {
        summary: 'an MO from the simulated carrier (operator: the admin login or a staff admin; the plain HTTP port only)', security: LOGIN,
        requestBody: { required: true, content: json({ type: 'object', required: ['from', 'to', 'text'], properties: { from: { type: 'string' }, to: { type: 'string' }, text: { type: 'string' }, coding: { enum: ['gsm', 'ucs2', 'latin1'] }, systemId: { type: 'string' } } }) },
        responses: { 202: ok('queued for the account', { type: 'object', properties: { id: { type: 'string' }, systemId: { type: 'string' }, parts: { type: 'integer' } } }), ...AUTH_ERRORS, 403: err('not the operator: an account (SMSC_ERR_ADMIN_FORBIDDEN) or a viewer (SMSC_ERR_ADMIN_READ_ONLY)'), 404: err('the simulated carrier is off: simulator.enabled false (SMSC_ERR_HTTP_NOT_FOUND)') },
      },
    },
    '/api/v1/connectors/{id}/receipts': {
      post: {
        summary: 'delivery receipts from an HTTP provider (connector with receipts "callback"; no login: its callbackToken). Answered once they are matched and committed',
        security: [{ callbackBearer: [] }, { callbackQuery: [] }],
        parameters: [{ name: 'id', in: 'path', required: true, description: 'the connector\'s id', schema: { type: 'string' } }],
        requestBody: {
          required: true,
          content: {
            ...json({ description: 'one receipt, an array of them, or an object holding the array at callbackFields.list; field names per callbackFields (defaults id, status, err, doneAt)', oneOf: [{ type: 'object' }, { type: 'array', items: { type: 'object' } }] }),
            'application/x-www-form-urlencoded': { schema: { type: 'object', description: 'one receipt, its fields by name per callbackFields (as Twilio and Plivo post status callbacks)', additionalProperties: { type: 'string' } } },
          },
        },
        responses: {
          200: ok('matched and committed (ids we do not know are acknowledged too, and counted)', { type: 'object', properties: { received: { type: 'integer', description: 'receipts read whose status word maps (matched or not; those in unmapped are not counted)' }, unmapped: { type: 'array', items: { type: 'string' }, description: 'status words callbackStatuses does not map (their receipts changed nothing)' } } }),
          400: err('a receipt without its id or status, named as in the body (SMSC_ERR_API_INVALID), or the body is not JSON (SMSC_ERR_HTTP_BODY)'),
          ...CALLBACK_REFUSALS,
        },
      },
      get: {
        summary: 'one delivery receipt from an HTTP provider, its fields in the query string (as Kannel\'s dlr-url and Vonage\'s GET callbacks send them); otherwise as the POST. A HEAD checks the URL and token and settles nothing',
        security: [{ callbackQuery: [] }, { callbackBearer: [] }],
        parameters: [
          { name: 'id', in: 'path', required: true, description: 'the connector\'s id', schema: { type: 'string' } },
          { name: 'fields', in: 'query', style: 'form', explode: true, description: 'one receipt, its fields by name per callbackFields (defaults id, status, err, doneAt), and token', schema: { type: 'object', additionalProperties: { type: 'string' } } },
        ],
        responses: {
          200: ok('matched and committed', { type: 'object', properties: { received: { type: 'integer' }, unmapped: { type: 'array', items: { type: 'string' } } } }),
          400: err('the receipt\'s id or status is missing (SMSC_ERR_API_INVALID)'),
          ...CALLBACK_REFUSALS,
        },
      },
    },
    '/healthz': { get: { summary: 'health (no login)', security: [], responses: { 200: ok('ok'), 503: ok('starting or stopping') } } },
    '/metrics': { get: { summary: 'Prometheus text (no login)', security: [], responses: { 200: ok('text/plain 0.0.4') } } },
  },
  // What the engine POSTs to an account's webhooks (docs/API.md, "Outbound HTTP: webhooks", "Webhook signatures").
  webhooks: {
    receipts: webhook('delivery receipts, to the account\'s webhooks.receipts URL', {
      type: 'object', required: ['type', 'id', 'from', 'to', 'stat', 'err', 'submitAt', 'doneAt', 'part', 'reference'],
      properties: {
        type: { const: 'receipt' }, id: { type: 'string', description: 'the message id the send answered' },
        from: { type: 'string', description: `the destination the receipt is for; ${AS_SUBMITTED}` }, to: { type: 'string', description: `the original sender; ${AS_SUBMITTED}` },
        stat: { enum: ['DELIVRD', 'EXPIRED', 'DELETED', 'UNDELIV', 'ACCEPTD', 'UNKNOWN', 'REJECTD', 'ENROUTE', 'SKIPPED'] },
        err: { type: 'integer' }, submitAt: { type: 'integer', description: 'ms since the epoch' }, doneAt: { type: 'integer', description: 'ms since the epoch' },
        reference: { type: ['string', 'null'], description: 'the send API\'s reference of the message (your own id for it), null without one' },
        part: { type: ['array', 'null'], items: { type: 'integer' }, description: '[seq, total] of one part of a long message' },
      },
    }),
    mo: webhook('mobile-originated messages, to the account\'s webhooks.mo URL; a long one as one event per part', {
      type: 'object', required: ['type', 'id', 'from', 'to', 'text', 'dataCoding', 'hex', 'at', 'part', 'ref'],
      properties: {
        type: { const: 'mo' }, id: { type: 'string' }, from: { type: 'string', description: AS_SUBMITTED }, to: { type: 'string', description: AS_SUBMITTED },
        text: { type: 'string', description: 'this part\'s text, without its UDH' }, dataCoding: { type: 'integer' },
        hex: { type: 'string', description: 'this part\'s octets, UDH included' }, at: { type: 'integer', description: 'ms since the epoch' },
        part: { type: ['array', 'null'], items: { type: 'integer' }, description: '[seq, total] from its UDH or SAR TLVs; null for an MO in one piece' },
        ref: { type: ['integer', 'null'], description: 'the concatenation reference its parts share (its UDH\'s, or sar_msg_ref_num)' },
      },
    }),
  },
} as const
