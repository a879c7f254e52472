/**
 * An account's TLS client certificates (accounts[].clientCerts, SHA-256 fingerprints): it binds only on the TLS port,
 * showing one of them; another certificate, none, or the plain port is refused with ESME_RBINDFAIL and the log says
 * why. Accounts without clientCerts bind on the TLS port without a certificate as before (the port asks for one
 * and takes none). The certificates are the clients' own (self-signed): the fingerprint pins them, no CA needed.
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import selfsigned from 'selfsigned'
import { startEngine } from '../helpers/engine'
import { api, operatorToken, until } from '../helpers/lifecycle'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const smpp = require('smpp') as { connect(o: Record<string, unknown>): SmppSession }
interface SmppSession {
  on(event: string, fn: (arg: never) => void): void
  send(pdu: unknown): void
  destroy(): void
  bind_transceiver(fields: Record<string, string>, cb: (pdu: { command_status: number }) => void): void
}

/** Binds as systemId over TLS (or plain) with the given client certificate (or none): the bind's command_status, or the error. */
/** `from`: the client's address, for refusals to be logged each (refused binds are one line per address a minute). */
function bind(url: string, systemId: string, client: { cert: string; key: string } | null, from?: string): Promise<number | string> {
  return new Promise((resolve) => {
    const session = smpp.connect({ url, rejectUnauthorized: false, ...(client ?? {}), ...(from !== undefined ? { localAddress: from } : {}) })
    const done = (v: number | string) => { clearTimeout(timer); session.destroy(); resolve(v) }
    const timer = setTimeout(() => done('timeout'), 5000)
    session.on('error', (e: Error) => done(e.message))
    session.on('close', () => done('closed'))
    session.bind_transceiver({ system_id: systemId, password: 'secret' }, (pdu: { command_status: number }) => done(pdu.command_status))
  })
}

async function clientCert(cn: string): Promise<{ cert: string; key: string; sha256: string }> {
  const c = await selfsigned.generate([{ name: 'commonName', value: cn }], { keySize: 2048, algorithm: 'sha256' })
  return { cert: c.cert, key: c.private, sha256: new X509Certificate(c.cert).fingerprint256 }
}

t.test("an account with clientCerts binds only over TLS with one of its certificates; the others as before", async (t) => {
  const [bankCert, otherCert] = [await clientCert('bank-esme'), await clientCert('someone-else')]
  const engine = await startEngine(t, {
    devTls: true,
    accounts: [
      // as openssl prints it, and as lower-case hex without colons: both read as the same fingerprint
      { systemId: 'bank', password: 'secret', clientCerts: [`sha256 Fingerprint=${bankCert.sha256}`, 'ab'.repeat(32)] },
      { systemId: 'shop', password: 'secret' },
    ],
  })
  const tlsUrl = `ssmpp://127.0.0.1:${engine.tlsPort}`
  const plainUrl = `smpp://127.0.0.1:${engine.smppPort}`
  t.equal(await bind(tlsUrl, 'bank', bankCert), 0, 'bank with its certificate: bound')
  t.equal(await bind(tlsUrl, 'bank', otherCert, '127.0.0.31'), 0x0d, 'bank with another certificate: ESME_RBINDFAIL')
  t.equal(await bind(tlsUrl, 'bank', null, '127.0.0.32'), 0x0d, 'bank without a certificate: ESME_RBINDFAIL')
  t.equal(await bind(plainUrl, 'bank', null, '127.0.0.33'), 0x0d, 'bank on the plain port: ESME_RBINDFAIL')
  t.equal(await bind(tlsUrl, 'shop', null), 0, 'an account without clientCerts binds over TLS without a certificate')
  t.equal(await bind(tlsUrl, 'shop', otherCert), 0, '...or with any')
  t.equal(await bind(plainUrl, 'shop', null), 0, '...and on the plain port')
  const log = engine.output()
  t.match(log, `the client certificate (sha256 ${otherCert.sha256}) is not one of the account's clientCerts`, 'the refusal names the certificate shown')
  t.match(log, 'the account has clientCerts: it binds on the TLS port with one of those client certificates', 'and says how to bind')
})

t.test("the port's certificate request names no CA unless tls.requestCert: a pinned self-signed certificate is still sent", async (t) => {
  // A client that reads the request's CA names (Java, Go, openssl) sends no certificate those names do not cover.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-ca-names-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const ca = await selfsigned.generate([{ name: 'commonName', value: 'Reseller CA For Names' }], { keySize: 2048, algorithm: 'sha256', extensions: [{ name: 'basicConstraints', cA: true }] })
  const caFile = path.join(dir, 'ca.pem')
  fs.writeFileSync(caFile, ca.cert)
  const engine = await startEngine(t, { devTls: true })
  await engine.stop()
  fs.writeFileSync(engine.configPath, JSON.stringify({ ...engine.config, tls: { ...(engine.config.tls as object), ca: caFile } }))
  await engine.restart()
  const out = execFileSync('openssl', ['s_client', '-connect', `127.0.0.1:${engine.tlsPort}`, '-tls1_2'], { input: '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 10_000 })
  t.match(out, /No client certificate CA names sent/, 'the request lists no CA')
  t.notMatch(out, /Reseller CA For Names/, 'not the tls.ca the port does not require')
})

t.test('binds the account no longer lets in end when the operator changes clientCerts or allowedIps; the others stay', async (t) => {
  const [certA, certB] = [await clientCert('esme-a'), await clientCert('esme-b')]
  const ADMIN = 'client-cert-admin-1'
  const engine = await startEngine(t, { devTls: true, accounts: [{ systemId: 'shop', password: 'secret', maxBinds: 5 }], extra: { admin: { password: ADMIN } } })
  /** A bind kept open: `ended` once the SMSC unbinds or closes it. */
  const keep = async (client: { cert: string; key: string } | null) => {
    const s = { ended: false }
    const session = smpp.connect({ url: `ssmpp://127.0.0.1:${engine.tlsPort}`, rejectUnauthorized: false, ...(client ?? {}) })
    t.teardown(() => session.destroy())
    session.on('error', () => {})
    session.on('close', () => { s.ended = true })
    session.on('unbind', ((pdu: { response(): unknown }) => { s.ended = true; session.send(pdu.response()) }) as never)
    const status = await new Promise<number>((resolve) => session.bind_transceiver({ system_id: 'shop', password: 'secret' }, (pdu) => resolve(pdu.command_status)))
    t.equal(status, 0, 'bound')
    return s
  }
  const withA = await keep(certA)
  const withB = await keep(certB)
  const without = await keep(null)
  const token = await operatorToken(engine.httpPort, ADMIN)
  const patch = async (body: unknown) => t.equal((await api(engine.httpPort, 'PATCH', '/api/v1/accounts/shop', body, token)).status, 200, `PATCH ${JSON.stringify(body).slice(0, 60)}`)
  await patch({ clientCerts: [certA.sha256] })
  await until(() => withB.ended && without.ended, 'the binds without certificate A to end')
  t.notOk(withA.ended, 'the bind with certificate A stays')
  t.match(engine.output(), /bind ended: the account's policy no longer lets it in.*"reason":"the client certificate \(sha256 [0-9A-F:]+\) is not one of the account's clientCerts"/, 'logged with why')
  await patch({ allowedIps: ['192.0.2.0/24'] })
  await until(() => withA.ended, 'the bind from outside allowedIps to end')
  t.pass('allowedIps that leave out 127.0.0.1 end the last one')
})
