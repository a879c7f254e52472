/**
 * SMPP listeners: plain TCP (2775 by convention) and TLS on its own port (3550, as node-smpp's
 * ssmpp:// default). Neither SMPP 3.4 nor 5.0 defines TLS; a separate TLS port is the common
 * practice. Each accepted socket is handed to `onSocket`; sessions own them from there.
 * `devTlsCert` makes a self-signed certificate under the data dir for trying TLS out.
 */
import net from 'node:net'
import tls from 'node:tls'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import fs from 'node:fs'
import { makeDirs } from '../dirs'
import path from 'node:path'
import { smscError } from '../errors'
import type { UnboundSlot } from './unbound'

export interface ListenerOptions {
  smpp: { host: string; port: number }
  /** Present when the TLS listener should run. `minVersion` and `ciphers` (undefined: Node's default list): config tls. */
  tls?: { host: string; port: number; cert: Buffer; key: Buffer; ca?: Buffer; requestCert: boolean; minVersion: tls.SecureVersion; ciphers?: string }
  /**
   * Milliseconds a TLS handshake may take before the connection is closed (tlsHandshakeMs(), from timers.sessionInitMs);
   * Node's default is 120 s, and a connection that never finishes its handshake holds its unbound slot until then.
   */
  tlsHandshakeTimeoutMs?: number
  /** A TLS handshake failed (wrong protocol version, untrusted certificate, plain SMPP on the TLS port…): no session existed. */
  onTlsError?: (remote: string, reason: string) => void
  /**
   * Asked at TCP accept, on both ports (on the TLS port before the handshake): a slot among the unbound connections
   * (engine/transport/unbound.ts), or null to close the connection at once. The slot goes back when the socket closes;
   * onSocket gets it to give back at bind.
   */
  admit?: (socket: net.Socket) => UnboundSlot | null
}

export interface Listeners {
  smppPort: number
  tlsPort: number | null
  /** Stops accepting; existing sockets stay open (sessions unbind them). */
  close(): Promise<void>
  /** New connections to the TLS listener get this certificate; open ones keep theirs. False without a TLS listener. */
  reloadTls(t: { cert: Buffer; key: Buffer; ca?: Buffer }): boolean
}

function listen(server: net.Server, host: string, port: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(smscError('SMSC_ERR_LISTEN_FAILED', `cannot listen for ${what} on ${host}:${port}: ${err.code ?? err.message}`)))
    server.listen({ host, port, backlog: 4096 }, () => resolve((server.address() as net.AddressInfo).port))
  })
}

/** Throws when `key` is not the private key of `cert` (the first certificate of the chain): OpenSSL would take the pair and fail every handshake. */
function checkPair(cert: Buffer, key: Buffer): void {
  if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) throw new Error('the key is not the private key of the certificate')
}

/** The longest a TLS handshake on the SMPP TLS port may take: a client's takes milliseconds; a stall holds an unbound slot. */
export const TLS_HANDSHAKE_MAX_MS = 10_000

/** The TLS handshake timeout for a session_init timer (timers.sessionInitMs, 0: none): the smaller, at most TLS_HANDSHAKE_MAX_MS. */
export const tlsHandshakeMs = (sessionInitMs: number): number => (sessionInitMs > 0 ? Math.min(sessionInitMs, TLS_HANDSHAKE_MAX_MS) : TLS_HANDSHAKE_MAX_MS)

/** The CA certificates client certificates are checked against: tls.ca when the port requires a certificate (tls.requestCert). */
const requestCa = (t: { ca?: Buffer; requestCert: boolean }): Buffer | undefined => (t.requestCert ? t.ca : undefined)

export async function startListeners(o: ListenerOptions, onSocket: (socket: net.Socket, secure: boolean, slot?: UnboundSlot) => void): Promise<Listeners> {
  /** The slot of an accepted TCP connection; null: refused and closed. */
  const admit = (s: net.Socket): UnboundSlot | undefined | null => {
    if (o.admit === undefined) return undefined
    const slot = o.admit(s)
    if (slot === null) {
      s.destroy()
      return null
    }
    s.once('close', slot.release)
    return slot
  }
  const plain = net.createServer({ noDelay: true }, (s) => {
    const slot = admit(s)
    if (slot !== null) onSocket(s, false, slot)
  })
  const smppPort = await listen(plain, o.smpp.host, o.smpp.port, 'SMPP')
  let secure: tls.Server | null = null
  let tlsPort: number | null = null
  if (o.tls) {
    // A TLS connection takes its slot at TCP accept: a flood that never finishes a handshake counts too. The TLS socket
    // is another object than the TCP one: its slot is found again by the peer's address and port.
    const handshaking = new Map<string, UnboundSlot>()
    try {
      checkPair(o.tls.cert, o.tls.key)
      // Every client is asked for a certificate (an account's clientCerts pins one); tls.ca only when the whole port
      // requires one: its names in the request make clients with a self-signed (pinned) certificate send none.
      secure = tls.createServer({ cert: o.tls.cert, key: o.tls.key, ca: requestCa(o.tls), requestCert: true, rejectUnauthorized: o.tls.requestCert, minVersion: o.tls.minVersion, ciphers: o.tls.ciphers, handshakeTimeout: o.tlsHandshakeTimeoutMs ?? TLS_HANDSHAKE_MAX_MS }, (s) => {
        const key = `${s.remoteAddress}|${s.remotePort}`
        const slot = handshaking.get(key)
        handshaking.delete(key)
        onSocket(s, true, slot)
      })
    } catch (e) {
      plain.close()
      throw smscError('SMSC_ERR_CONFIG_INVALID', `config.tls: the certificate or key is not usable: ${(e as Error).message}`)
    }
    secure.on('connection', (raw: net.Socket) => {
      const slot = admit(raw)
      if (slot === null || slot === undefined) return // refused: tlsClientError follows with ECONNRESET, not reported
      const key = `${raw.remoteAddress}|${raw.remotePort}`
      handshaking.set(key, slot)
      raw.once('close', () => { if (handshaking.get(key) === slot) handshaking.delete(key) })
    })
    secure.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
      // Closed here: Node does not close a connection whose handshake timed out (ERR_TLS_HANDSHAKE_TIMEOUT: a bare
      // TCP connection, half a ClientHello), which would hold its unbound slot for good. The slot goes back now, once
      // (release() again on the TCP socket's close does nothing).
      const remote = socket.remoteAddress
      const key = `${remote}|${socket.remotePort}`
      socket.destroy()
      handshaking.get(key)?.release()
      handshaking.delete(key)
      // A client that hung up mid-handshake (a TCP health check, a client giving up) is not a failure to report;
      // anything else is, with OpenSSL's reason or Node's code.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return
      o.onTlsError?.(remote ?? '?', (err as { reason?: string }).reason ?? err.code ?? err.message)
    })
    try {
      tlsPort = await listen(secure, o.tls.host, o.tls.port, 'SMPP over TLS')
    } catch (e) {
      plain.close()
      throw e
    }
  }
  // Stop accepting only: server.close()'s callback waits for every open connection, which the
  // sessions close themselves after unbinding.
  const stopAccepting = (s: net.Server | null) => { if (s && s.listening) s.close() }
  return {
    smppPort, tlsPort,
    close: async () => { stopAccepting(plain); stopAccepting(secure) },
    reloadTls: (t) => {
      if (secure === null) return false
      checkPair(t.cert, t.key)
      // A whole new context: the version floor and the cipher list go with the renewed pair, or they would fall back to Node's.
      secure.setSecureContext({ cert: t.cert, key: t.key, ca: requestCa({ ca: t.ca, requestCert: o.tls?.requestCert ?? false }), minVersion: o.tls?.minVersion, ciphers: o.tls?.ciphers }) // throws on an unusable pair: nothing changes
      return true
    },
  }
}

/** Returns a self-signed certificate and key for development, made once under `dir`. */
export async function devTlsCert(dir: string): Promise<{ cert: Buffer; key: Buffer; certPath: string; keyPath: string }> {
  const certPath = path.join(dir, 'dev-cert.pem')
  const keyPath = path.join(dir, 'dev-key.pem')
  if (!fs.existsSync(certPath) || !fs.existsSync(keyPath)) {
    makeDirs(dir)
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const selfsigned = require('selfsigned') as { generate(attrs: unknown, opts: unknown): Promise<{ cert: string; private: string }> }
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec', days: 365, extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
    })
    fs.writeFileSync(keyPath, pems.private, { mode: 0o600 })
    fs.writeFileSync(certPath, pems.cert)
  }
  return { cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath), certPath, keyPath }
}
