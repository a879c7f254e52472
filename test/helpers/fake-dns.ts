/**
 * Names an e2e test controls, for an engine process: preloaded with `--require` (fakeDnsEnv() gives the
 * environment), it makes dns.lookup answer the names in SMSC_TEST_DNS ("name=address,name2=address") with
 * those addresses; every other name resolves as usual. The engine's webhook guard resolves names with
 * dns.lookup at send time, so a test can have a name that passes the check when it is set and resolves to
 * 127.0.0.1 when the webhook is sent (DNS rebinding) without a resolver of its own. Test-only: nothing in
 * the engine loads it.
 */
import dns from 'node:dns'
import path from 'node:path'

type Cb = (err: NodeJS.ErrnoException | null, address?: string | dns.LookupAddress[], family?: number) => void

/** The environment for startEngine's `env` that preloads this file with `names` (name → address). */
export function fakeDnsEnv(names: Record<string, string>): Record<string, string> {
  const preload = path.join(__dirname, 'fake-dns.js')
  return {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(preload)}`.trim(),
    SMSC_TEST_DNS: Object.entries(names).map(([n, a]) => `${n}=${a}`).join(','),
  }
}

function install(spec: string): void {
  const table = new Map<string, string>()
  for (const pair of spec.split(',')) {
    const [name, address] = pair.split('=')
    if (name && address) table.set(name.toLowerCase(), address)
  }
  const real = dns.lookup
  const fake = function (hostname: string, options: unknown, cb?: Cb): void {
    const callback = (typeof options === 'function' ? options : cb) as Cb
    const address = table.get(String(hostname).toLowerCase())
    if (address === undefined) return (real as (...a: unknown[]) => void)(hostname, options, cb)
    const family = address.includes(':') ? 6 : 4
    const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all === true
    process.nextTick(() => (all ? callback(null, [{ address, family }]) : callback(null, address, family)))
  }
  ;(dns as unknown as { lookup: unknown }).lookup = fake
}

if (process.env.SMSC_TEST_DNS) install(process.env.SMSC_TEST_DNS)
