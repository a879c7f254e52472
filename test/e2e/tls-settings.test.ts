/**
 * config tls.minVersion and tls.ciphers on both TLS listeners, the SMPP TLS port and HTTPS (http.tlsPort), tried
 * with real TLS clients (node:tls with maxVersion and ciphers): Node's default list by default, so an old carrier's
 * client offering only AES128-SHA over TLS 1.2 still connects; a forward-secret list refuses it on both ports, also
 * after a certificate reload (SIGHUP). A cipher list a listener cannot use stops the start in one line.
 */
import t, { type Test } from 'tap'
import tls from 'node:tls'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createSmsc, type Smsc } from '../../engine/index'
import { freePorts } from '../helpers/engine'

/** A self-signed RSA pair: suites with RSA key exchange (AES128-SHA, what old clients offer) need an RSA key. */
async function rsaPair(): Promise<{ cert: string; key: string }> {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const selfsigned = require('selfsigned') as { generate(attrs: unknown, opts: unknown): Promise<{ cert: string; private: string }> }
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'rsa', keySize: 2048, days: 2 })
  return { cert: pems.cert, key: pems.private }
}

/** Two certificate pairs (a renewal) and the paths the engine reads, in a temp dir removed at the end. */
async function certFiles(t: Test) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-tls-settings-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const [a, b] = await Promise.all([rsaPair(), rsaPair()])
  const cert = path.join(dir, 'cert.pem')
  const key = path.join(dir, 'key.pem')
  fs.writeFileSync(cert, a.cert)
  fs.writeFileSync(key, a.key)
  return { dir, b, cert, key }
}

async function engine(t: Test, tlsExtra: Record<string, unknown>, https = true): Promise<{ smsc: Smsc; renew: () => void }> {
  const { dir, b, cert, key } = await certFiles(t)
  // A port of its own, as in production: uWS sets SO_REUSEADDR only then, and a renewed app listening anew on a port 0
  // gave would find it held by the connections the server closed (TIME_WAIT).
  const [httpsPort] = await freePorts(1)
  const smsc = await createSmsc({
    dataDir: path.join(dir, 'data'), smpp: { host: '127.0.0.1', port: 0 }, tls: { host: '127.0.0.1', port: 0, cert, key, ...tlsExtra },
    http: { host: '127.0.0.1', port: 0, tlsHost: '127.0.0.1', tlsPort: https ? httpsPort : null },
    accounts: [{ systemId: 'esme1', password: 'secret1' }], admin: { password: 'operator-secret' }, log: { level: 'silent' },
  })
  t.teardown(() => smsc.stop())
  return { smsc, renew: () => { fs.writeFileSync(cert, b.cert); fs.writeFileSync(key, b.key) } }
}

/** What a client with these settings gets: the version and suite agreed, or the handshake's error. */
function handshake(port: number, o: tls.ConnectionOptions): Promise<{ version: string | null; cipher: string } | { error: string }> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...o }, () => {
      resolve({ version: s.getProtocol(), cipher: s.getCipher().name })
      s.destroy()
    })
    s.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }))
  })
}

/** An old carrier's SMPP client: TLS 1.2 with a suite that is not forward secret. */
const OLD_CLIENT: tls.ConnectionOptions = { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA' }
const TLS12_FS: tls.ConnectionOptions = { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }

t.test('by default both TLS listeners take Node\'s list: an old client (TLS 1.2, AES128-SHA) connects, TLS 1.3 too, TLS 1.1 not', async (t) => {
  const { smsc } = await engine(t, {})
  for (const [what, port] of [['SMPP/TLS', smsc.ports.tls as number], ['HTTPS', smsc.ports.https as number]] as const) {
    t.match(await handshake(port, OLD_CLIENT), { version: 'TLSv1.2', cipher: 'AES128-SHA' }, `${what}: the old client`)
    t.match(await handshake(port, {}), { version: 'TLSv1.3' }, `${what}: a current client`)
    t.match(await handshake(port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }), { error: String }, `${what}: TLS 1.1 is refused`)
  }
})

t.test('tls.ciphers applies to the SMPP TLS port and HTTPS, and stays with a renewed certificate (SIGHUP)', async (t) => {
  const { smsc, renew } = await engine(t, { ciphers: 'ECDHE+AESGCM:ECDHE+CHACHA20' })
  const check = async (when: string) => {
    for (const [what, port] of [['SMPP/TLS', smsc.ports.tls as number], ['HTTPS', smsc.ports.https as number]] as const) {
      t.match(await handshake(port, OLD_CLIENT), { error: String }, `${what} ${when}: AES128-SHA (not forward secret) is refused`)
      t.match(await handshake(port, TLS12_FS), { version: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-GCM-SHA256' }, `${what} ${when}: an ECDHE suite of the list`)
      t.match(await handshake(port, {}), { version: 'TLSv1.3' }, `${what} ${when}: TLS 1.3`)
    }
  }
  await check('at start')
  renew()
  t.match(smsc.reloadTls(), /new SMPP\/TLS and HTTPS connections get it/, 'the renewed certificate is taken by both')
  await check('after the reload')
})

t.test('/metrics says when the served certificate expires, and a reload with a renewed one moves it', async (t) => {
  const { smsc, renew } = await engine(t, {}, false)
  const expiry = async () => {
    const r = await fetch(`http://127.0.0.1:${smsc.ports.http}/metrics`)
    return Number(/\nsmsc_tls_cert_expiry_timestamp_seconds (\d+)\n/.exec(await r.text())?.[1])
  }
  const notAfter = (port: number) => new Promise<number>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(Math.round(Date.parse(s.getPeerCertificate().valid_to) / 1000))
      s.destroy()
    })
    s.on('error', reject)
  })
  t.equal(await expiry(), await notAfter(smsc.ports.tls as number), 'the notAfter of the certificate the SMPP TLS port serves')
  // the renewal: a certificate valid 30 days instead of 2
  const pems = await (require('selfsigned') as { generate(a: unknown, o: unknown): Promise<{ cert: string; private: string }> })
    .generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'rsa', keySize: 2048, days: 30 })
  renew()
  fs.writeFileSync(smsc.options.tls.cert as string, pems.cert)
  fs.writeFileSync(smsc.options.tls.key as string, pems.private)
  smsc.reloadTls()
  const after = await expiry()
  t.equal(after, await notAfter(smsc.ports.tls as number), 'after the reload: the new certificate\'s')
  t.ok(after - Date.now() / 1000 > 20 * 86400, 'about 30 days ahead')
})

t.test('tls.minVersion TLSv1.3: the SMPP TLS port refuses TLS 1.2, also after a reload', async (t) => {
  const { smsc, renew } = await engine(t, { minVersion: 'TLSv1.3' }, false)
  const port = smsc.ports.tls as number
  t.match(await handshake(port, TLS12_FS), { error: String }, 'a TLS 1.2 client is refused')
  t.match(await handshake(port, {}), { version: 'TLSv1.3' }, 'TLS 1.3 is taken')
  renew()
  smsc.reloadTls()
  t.match(await handshake(port, TLS12_FS), { error: String }, 'after the reload too')
})

t.test('a cipher list one listener cannot use stops the start in one line', async (t) => {
  // OpenSSL (the SMPP TLS port) has DHE suites; BoringSSL (uWebSockets.js, HTTPS) has none.
  const refused = await engine(t, { ciphers: 'DHE-RSA-AES128-GCM-SHA256' }).then(() => null, (e: Error & { code?: string }) => e)
  t.match(refused, { code: 'SMSC_ERR_CONFIG_INVALID', message: /^config\.tls\.ciphers has no suite the HTTPS listener \(uWebSockets\.js, BoringSSL[^\n]*: "DHE-RSA-AES128-GCM-SHA256"$/ })
})
