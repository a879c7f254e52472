/**
 * Client certificates on the SMPP TLS port (config tls.requestCert, tls.ca): an ESME with a certificate of the
 * operator's CA binds, one without is refused at the handshake. Found in a trial: with `--dev-tls` the engine
 * ignored tls.requestCert and tls.ca (every client was let in without a certificate), and tls.requestCert
 * without tls.ca is now refused at start (Node would check client certificates against its public CAs).
 */
import t from 'tap'
import tls from 'node:tls'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import selfsigned from 'selfsigned'
import { startEngine } from '../helpers/engine'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const smpp = require('smpp') as { connect(o: Record<string, unknown>): SmppSession }
interface SmppSession {
  on(event: string, fn: (arg: never) => void): void
  destroy(): void
  bind_transmitter(fields: Record<string, string>, cb: (pdu: { command_status: number }) => void): void
}

/** Binds as test/test over TLS with the given client certificate (or none): the bind's command_status, or the error. */
function bindOverTls(port: number, client: { cert: string; key: string } | null): Promise<number | string> {
  return new Promise((resolve) => {
    const session = smpp.connect({ url: `ssmpp://127.0.0.1:${port}`, rejectUnauthorized: false, ...(client ?? {}) })
    const done = (v: number | string) => { clearTimeout(timer); session.destroy(); resolve(v) }
    const timer = setTimeout(() => done('timeout'), 5000)
    session.on('error', (e: Error) => done(e.message))
    session.on('close', () => done('closed'))
    session.bind_transmitter({ system_id: 'test', password: 'secret' }, (pdu: { command_status: number }) => done(pdu.command_status))
  })
}

t.test('tls.requestCert with the dev certificate: a certificate of tls.ca binds, none is refused', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smsc-client-ca-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const ca = await selfsigned.generate([{ name: 'commonName', value: 'Reseller CA' }], {
    keySize: 2048, algorithm: 'sha256',
    extensions: [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, digitalSignature: true }],
    clientCertificate: { cn: 'esme1' },
  })
  const caFile = path.join(dir, 'ca.pem')
  writeFileSync(caFile, ca.cert)
  const engine = await startEngine(t, { devTls: true, accounts: [{ systemId: 'test', password: 'secret' }] })
  // startEngine writes tls { host, port } for devTls; restart with the client-certificate settings added
  await engine.stop()
  writeFileSync(engine.configPath, JSON.stringify({ ...engine.config, tls: { ...(engine.config.tls as object), requestCert: true, ca: caFile } }))
  await engine.restart()

  t.equal(await bindOverTls(engine.tlsPort, { cert: ca.clientcert as string, key: ca.clientprivate as string }), 0, 'with a certificate of the CA: bound')
  t.not(await bindOverTls(engine.tlsPort, null), 0, 'without a certificate: no bind')
  let lines = ''
  for (let i = 0; i < 100 && lines === ''; i++) {
    lines = engine.output().split('\n').filter((l) => l.includes('"TLS handshake failed"')).join('\n')
    if (lines === '') await new Promise((r) => setTimeout(r, 50))
  }
  t.match(lines, /did not return a certificate|certificate required/, 'the refusal is logged with why')
})
