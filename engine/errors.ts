/**
 * Engine errors, in one place. Every failure the engine raises has a stable `code`
 * (`SMSC_ERR_<AREA>_<WHAT>`) and the SMPP `command_status` it maps to on the wire, so the
 * failure → wire mapping is this one table (fastify's errors.js, undici's UND_ERR_*).
 *
 * Wire statuses themselves are data (CommandStatus in protocol/constants.ts): they go into
 * `*_resp` PDUs and are never thrown. Match errors on `.code`, never with `instanceof`:
 * errors that cross a worker thread are structured-cloned, which keeps `message` but drops the
 * class and every own property (`code` included), so worker envelopes must carry
 * `{ code, message, commandStatus }` explicitly; `isSmscError` accepts such plain objects.
 *
 * docs/ERRORS.md documents every code; test/errors.test.ts keeps the two in step.
 */
import { CommandStatus } from './protocol/constants'

const S = CommandStatus

/** Not an SMPP failure: the error never reaches the wire (config, CLI, local I/O). */
const NOT_ON_WIRE = 0

export interface SmscErrorDef {
  /** Default message; a `detail` given at the throw site replaces it. */
  readonly message: string
  /** command_status sent when this error answers a request; 0 = never sent on the wire. */
  readonly commandStatus: number
}

const TABLE = {
  // --- framing and decoding (SMPP 3.4 §3.2 header, §5.1.3 statuses) ---
  SMSC_ERR_PDU_TOO_LARGE: {
    message: 'command_length is larger than the maximum PDU length',
    commandStatus: S.ESME_RINVCMDLEN,
  },
  SMSC_ERR_PDU_TOO_SHORT: {
    message: 'command_length is smaller than the 16-octet header',
    commandStatus: S.ESME_RINVCMDLEN,
  },
  SMSC_ERR_PDU_MALFORMED: {
    message: 'PDU body does not match its command_length',
    commandStatus: S.ESME_RINVCMDLEN,
  },
  SMSC_ERR_PDU_UNKNOWN_COMMAND: {
    message: 'unknown command_id',
    commandStatus: S.ESME_RINVCMDID,
  },
  // The codec passes the field's own status (ESME_RINVSRCADR, ESME_RINVESMCLASS, ...) at the throw.
  SMSC_ERR_FIELD_INVALID: {
    message: 'invalid field value',
    commandStatus: S.ESME_RSYSERR,
  },
  SMSC_ERR_DCS_INVALID: {
    message: 'data_coding is not supported',
    commandStatus: S.ESME_RINVDCS,
  },

  // --- binds and authentication (SMPP 3.4 §2.3 session states, §4.1 bind) ---
  SMSC_ERR_BIND_STATE: {
    message: 'command not allowed in the current bind state',
    commandStatus: S.ESME_RINVBNDSTS,
  },
  SMSC_ERR_BIND_ALREADY: {
    message: 'session is already bound',
    commandStatus: S.ESME_RALYBND,
  },
  SMSC_ERR_BIND_LIMIT: {
    message: 'account has reached its maximum number of binds',
    commandStatus: S.ESME_RBINDFAIL,
  },
  SMSC_ERR_AUTH_PASSWORD: {
    message: 'invalid password',
    commandStatus: S.ESME_RINVPASWD,
  },
  SMSC_ERR_AUTH_SYSTEM_ID: {
    message: 'unknown system_id',
    commandStatus: S.ESME_RINVSYSID,
  },

  // --- flow control ---
  SMSC_ERR_WINDOW_FULL: {
    message: 'too many outstanding requests on this bind (window full)',
    commandStatus: S.ESME_RTHROTTLED,
  },
  SMSC_ERR_RATE_LIMITED: {
    message: 'account submit rate exceeded',
    commandStatus: S.ESME_RTHROTTLED,
  },
  SMSC_ERR_QUEUE_FULL: {
    message: 'message queue is full',
    commandStatus: S.ESME_RMSGQFUL,
  },
  SMSC_ERR_QUOTA_EXCEEDED: {
    message: 'the account has used its daily quota',
    commandStatus: S.SMSC_RQUOTA,
  },

  // --- accounts, credit and routing ---
  SMSC_ERR_CREDIT_EXHAUSTED: {
    message: 'the account has not enough credit for this message',
    commandStatus: S.SMSC_RNOCREDIT,
  },
  // A destination on an opt-out list (the global one, the account's or its reseller's; engine/optouts.ts). Not
  // ESME_RINVDSTADR (0x0B): the address is valid, and an ESME (or the operator's support) must be able to tell "this
  // subscriber said STOP" from "no route takes this number" (SMSC_ERR_NO_ROUTE answers 0x0B). SMPP 3.4 §5.1.3
  // reserves 0x400–0x4FF for the SMSC vendor's own errors, as 0x401 and 0x402 here; ESMEs resubmit only on the
  // temporary statuses (ESME_RTHROTTLED, ESME_RMSGQFUL), so an ESME that does not know 0x403 takes it as a
  // permanent failure of that destination, which is what it is. docs/ERRORS.md documents it.
  SMSC_ERR_DEST_OPTED_OUT: {
    message: 'the destination has opted out (it is on an opt-out list)',
    commandStatus: S.SMSC_ROPTEDOUT,
  },
  SMSC_ERR_NO_ROUTE: {
    message: 'no route for this destination',
    commandStatus: S.ESME_RINVDSTADR,
  },
  SMSC_ERR_SOURCE_NOT_ALLOWED: {
    message: 'source address is not allowed for this account',
    commandStatus: S.ESME_RINVSRCADR,
  },
  SMSC_ERR_ACCOUNT_SUSPENDED: {
    message: 'the account is suspended',
    commandStatus: S.ESME_RBINDFAIL,
  },
  SMSC_ERR_IP_NOT_ALLOWED: {
    message: 'the account may not bind from this address',
    commandStatus: S.ESME_RBINDFAIL,
  },
  SMSC_ERR_ADMIN_FORBIDDEN: {
    message: 'not allowed for this login',
    commandStatus: NOT_ON_WIRE,
  },
  // A viewer (a read-only staff login, engine/staff.ts): refused for every method but GET, in engine/http.ts.
  SMSC_ERR_ADMIN_READ_ONLY: {
    message: 'this login is read-only (a viewer)',
    commandStatus: NOT_ON_WIRE,
  },
  // A state-changing request (or the telemetry upgrade) authenticated by the session cookie from another origin than
  // the engine's own (cross-origin request forgery, WebSocket hijacking): refused in engine/http.ts.
  SMSC_ERR_CROSS_ORIGIN: {
    message: 'a request with the session cookie from another origin',
    commandStatus: NOT_ON_WIRE,
  },
  SMSC_ERR_STAFF_NOT_FOUND: {
    message: 'no such staff user',
    commandStatus: NOT_ON_WIRE,
  },
  SMSC_ERR_API_INVALID: {
    message: 'invalid request',
    commandStatus: NOT_ON_WIRE,
  },

  // --- connectors ---
  SMSC_ERR_CONNECTOR_DOWN: {
    message: 'the connector is not connected',
    commandStatus: NOT_ON_WIRE,
  },
  SMSC_ERR_CONNECTOR_NOT_FOUND: {
    message: 'no such connector',
    commandStatus: NOT_ON_WIRE,
  },
  SMSC_ERR_UPSTREAM_REJECTED: {
    message: 'the upstream refused the message permanently',
    commandStatus: NOT_ON_WIRE,
  },

  // --- store and messages ---
  SMSC_ERR_STORE_UNAVAILABLE: {
    message: 'message store is unavailable',
    commandStatus: S.ESME_RSYSERR,
  },
  SMSC_ERR_MESSAGE_NOT_FOUND: {
    message: 'no message with this message_id',
    commandStatus: S.ESME_RQUERYFAIL,
  },
  SMSC_ERR_MESSAGE_FINAL: {
    message: 'message is already in a final state and cannot be cancelled',
    commandStatus: S.ESME_RCANCELFAIL,
  },
  SMSC_ERR_MESSAGE_NOT_REPLACEABLE: {
    message: 'message is already in a final state and cannot be replaced',
    commandStatus: S.ESME_RREPLACEFAIL,
  },
  SMSC_ERR_MO_NO_ROUTE: {
    message: 'no account to deliver this MO to',
    commandStatus: NOT_ON_WIRE,
  },
  SMSC_ERR_SCHEDULE_INVALID: {
    message: 'invalid schedule_delivery_time',
    commandStatus: S.ESME_RINVSCHED,
  },
  SMSC_ERR_EXPIRY_INVALID: {
    message: 'invalid validity_period',
    commandStatus: S.ESME_RINVEXPIRY,
  },

  // --- sessions ---
  SMSC_ERR_SESSION_CRASH: {
    message: 'session failed unexpectedly',
    commandStatus: S.ESME_RSYSERR,
  },
  SMSC_ERR_SESSION_CLOSED: {
    message: 'session is closed',
    commandStatus: NOT_ON_WIRE,
  },
  SMSC_ERR_RESPONSE_TIMEOUT: {
    message: 'no response within the response timer',
    commandStatus: NOT_ON_WIRE,
  },

  // --- process level: never on the wire ---
  SMSC_ERR_CONFIG_INVALID: {
    message: 'invalid configuration',
    commandStatus: NOT_ON_WIRE,
  },
  SMSC_ERR_CLI_USAGE: {
    message: 'invalid command line',
    commandStatus: NOT_ON_WIRE,
  },
  SMSC_ERR_DATA_DIR_LOCKED: {
    message: 'the data dir is in use by another engine',
    commandStatus: NOT_ON_WIRE,
  },
  SMSC_ERR_DATA_DIR_ACCESS: {
    message: 'the user the engine runs as cannot write the data dir',
    commandStatus: NOT_ON_WIRE,
  },
  SMSC_ERR_BACKUP_RUNNING: {
    message: 'a backup is being made already',
    commandStatus: NOT_ON_WIRE,
  },
  SMSC_ERR_BACKUP_FAILED: {
    message: 'the backup could not be made',
    commandStatus: NOT_ON_WIRE,
  },
  SMSC_ERR_DISK_FULL: {
    message: "the data dir's filesystem is full",
    commandStatus: NOT_ON_WIRE,
  },
  SMSC_ERR_STORE_NEWER: {
    message: 'the data dir was written by a newer version of the engine',
    commandStatus: NOT_ON_WIRE,
  },
  SMSC_ERR_LISTEN_FAILED: {
    message: 'cannot listen on the configured address',
    commandStatus: NOT_ON_WIRE,
  },
} as const satisfies Record<string, SmscErrorDef>

export type SmscErrorCode = keyof typeof TABLE

/** The table: code → default message and command_status. Frozen. */
export const ERRORS: Readonly<Record<SmscErrorCode, SmscErrorDef>> = Object.freeze(TABLE)

export interface SmscErrorOptions {
  /** Overrides the table's command_status (the codec gives each field its own status). */
  commandStatus?: number
  cause?: unknown
}

export class SmscError extends Error {
  readonly code: SmscErrorCode
  readonly commandStatus: number

  /** `detail`, when given, is the whole message: write it to stand alone on one line. */
  constructor(code: SmscErrorCode, detail?: string, options?: SmscErrorOptions) {
    const def = ERRORS[code]
    super(detail ?? def.message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.commandStatus = options?.commandStatus ?? def.commandStatus
  }

  /** Plain form for envelopes that cross a thread or go over telemetry. */
  toJSON(): { code: SmscErrorCode; message: string; commandStatus: number } {
    return { code: this.code, message: this.message, commandStatus: this.commandStatus }
  }
}

Object.defineProperty(SmscError.prototype, 'name', { value: 'SmscError', configurable: true, writable: true })

/** What `isSmscError` guarantees: an SmscError, or its plain form after a thread hop. */
export interface SmscErrorLike {
  code: SmscErrorCode
  message: string
  commandStatus: number
}

export function smscError(code: SmscErrorCode, detail?: string, options?: SmscErrorOptions): SmscError {
  return new SmscError(code, detail, options)
}

/**
 * True when `e` carries an engine error code (optionally a given one). Works on SmscError
 * instances and on the plain `{ code, ... }` objects that come back from a worker.
 */
export function isSmscError(e: unknown, code?: SmscErrorCode): e is SmscErrorLike {
  if (typeof e !== 'object' || e === null) return false
  const o = e as { code?: unknown; message?: unknown; commandStatus?: unknown }
  if (typeof o.code !== 'string' || !Object.prototype.hasOwnProperty.call(ERRORS, o.code)) return false
  if (typeof o.message !== 'string' || typeof o.commandStatus !== 'number') return false
  return code === undefined || o.code === code
}

/** command_status to answer with for any thrown value: the error's own, else ESME_RSYSERR. */
export function commandStatusOf(e: unknown): number {
  if (isSmscError(e) && e.commandStatus !== NOT_ON_WIRE) return e.commandStatus
  return S.ESME_RSYSERR
}
