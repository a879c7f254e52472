/**
 * Where a webhook set by a reseller or user may point (the SSRF guard; docs/API.md "Webhook targets"):
 * a public unicast address, never loopback, link-local (the cloud metadata service at 169.254.169.254),
 * private, shared (carrier-grade NAT), unspecified, multicast or reserved ranges, and never a name of
 * this host or of the local network. Two checks use it:
 *   - when the URL is set (engine/admin.ts): webTargetRefusal() on the URL's host, which the WHATWG URL
 *     parser has already normalised (http://2130706433/, http://0x7f.1/ and http://017700000001/ are
 *     127.0.0.1; [::ffff:127.0.0.1] is [::ffff:7f00:1]), so literal addresses in any form and obviously
 *     local names (localhost, *.localhost, single-label names, .local, .internal, .home.arpa) are refused;
 *   - at send time (engine/webhook.ts): a name is resolved, every address it resolves to is checked with
 *     addressRefusal(), and the connection goes to those checked addresses (a name that resolves to a
 *     private address later, DNS rebinding, is caught there).
 * The operator (config file, CLI, admin login) is not bound by it, and config webhooks.allowPrivateTargets
 * lifts it for everyone.
 */
import { isIP } from 'node:net'
import { parseIp } from './accounts'

/** What an address that is not public is. */
export type AddressClass = 'unspecified' | 'loopback' | 'link-local' | 'private' | 'multicast' | 'reserved'

const CLASS_TEXT: Record<AddressClass, string> = {
  unspecified: 'an unspecified address',
  loopback: 'a loopback address',
  'link-local': 'a link-local address',
  private: 'a private address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
}

/** [first octets, prefix length in bits, class] of IPv4 blocks that are not public unicast. */
const V4_BLOCKS: [number[], number, AddressClass][] = [
  [[0], 8, 'unspecified'], // "this network" (RFC 1122): 0.0.0.0 connects to this host
  [[10], 8, 'private'],
  [[100, 64], 10, 'private'], // shared address space, carrier-grade NAT (RFC 6598); 100.100.100.200 is a metadata service
  [[127], 8, 'loopback'],
  [[169, 254], 16, 'link-local'], // 169.254.169.254: the cloud metadata service
  [[172, 16], 12, 'private'],
  [[192, 0, 0], 24, 'reserved'], // IETF protocol assignments (RFC 6890)
  [[192, 168], 16, 'private'],
  [[198, 18], 15, 'private'], // benchmarking (RFC 2544)
  [[224], 4, 'multicast'],
  [[240], 4, 'reserved'], // and 255.255.255.255, the broadcast address
]

function inBlock(bytes: Uint8Array, offset: number, prefix: number[], bits: number): boolean {
  for (let i = 0; i * 8 < bits; i++) {
    const take = Math.min(8, bits - i * 8)
    const mask = (0xff << (8 - take)) & 0xff
    if ((bytes[offset + i] & mask) !== ((prefix[i] ?? 0) & mask)) return false
  }
  return true
}

function v4Class(b: Uint8Array, at: number): AddressClass | null {
  for (const [prefix, bits, cls] of V4_BLOCKS) if (inBlock(b, at, prefix, bits)) return cls
  return null
}

const zero = (b: Uint8Array, from: number, to: number): boolean => b.subarray(from, to).every((x) => x === 0)

/**
 * The class of `ip` (an IPv4 or IPv6 address, as a resolver or a socket gives it; an IPv6 zone is ignored),
 * or null when it is a public unicast address. IPv6 forms that carry an IPv4 address are judged by it:
 * IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96 and 6to4 2002::/16. Something
 * that is not an address at all is 'reserved' (never connected to).
 */
export function classifyAddress(ip: string): AddressClass | null {
  const b = parseIp(ip)
  if (b === null) return 'reserved'
  // IPv4, and IPv4-mapped IPv6 (parseIp gives IPv4 as ::ffff:a.b.c.d)
  if (zero(b, 0, 10) && b[10] === 0xff && b[11] === 0xff) return v4Class(b, 12)
  if (zero(b, 0, 12)) {
    if (zero(b, 12, 15) && b[15] <= 1) return b[15] === 0 ? 'unspecified' : 'loopback' // :: and ::1
    return v4Class(b, 12) ?? 'reserved' // ::a.b.c.d, deprecated IPv4-compatible: never a public target
  }
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b) {
    if (zero(b, 4, 12)) return v4Class(b, 12) // NAT64 64:ff9b::/96: the IPv4 address it reaches
    if (b[4] === 0x00 && b[5] === 0x01) return 'private' // 64:ff9b:1::/48, local-use NAT64
  }
  if (b[0] === 0x20 && b[1] === 0x02) return v4Class(b, 2) // 6to4 2002:a.b.c.d::/48
  if (b[0] === 0x01 && b[1] === 0x00 && zero(b, 2, 8)) return 'reserved' // 100::/64, discard-only
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return 'reserved' // 2001:db8::/32, documentation
  if ((b[0] & 0xfe) === 0xfc) return 'private' // fc00::/7, unique local
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return 'link-local' // fe80::/10
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0xc0) return 'private' // fec0::/10, site-local (deprecated)
  if (b[0] === 0xff) return 'multicast' // ff00::/8
  return null
}

/** Why `ip` may not be a webhook target ('127.0.0.1 is a loopback address'), or null when it may. */
export function addressRefusal(ip: string): string | null {
  const c = classifyAddress(ip)
  return c === null ? null : `${ip} is ${CLASS_TEXT[c]}`
}

/** Names of this host whatever the resolver says. */
const LOCAL_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback', 'ip6-localnet'])
/** Suffixes of names that are local by definition (RFC 6761 .localhost, RFC 6762 .local, RFC 8375 .home.arpa) or in practice. */
const LOCAL_SUFFIXES: [string, string][] = [
  ['.localhost', 'a name of this host'],
  ['.localdomain', 'a name of this host'],
  ['.local', 'a link-local (mDNS) name'],
  ['.internal', 'a name of the local network'], // metadata.google.internal: the cloud metadata service
  ['.home.arpa', 'a name of the local network'],
]

/**
 * Why a host name (not an address) may not be a webhook target, before any lookup: a name of this host
 * (localhost, *.localhost, ip6-localhost), a single-label name (resolved through the local search domains,
 * never a public host), or a name under .local, .internal, .home.arpa; null otherwise. A trailing dot and
 * letter case do not matter.
 */
export function localNameRefusal(host: string): string | null {
  const h = host.toLowerCase().replace(/\.+$/, '')
  if (h === '' || LOCAL_NAMES.has(h)) return `${host} is a name of this host`
  if (!h.includes('.')) return `${host} is a single-label name, resolved in the local network`
  for (const [suffix, what] of LOCAL_SUFFIXES) if (h.endsWith(suffix)) return `${host} is ${what}`
  return null
}

/** The host of a URL as the URL parser gives it (normalised), without the brackets of an IPv6 literal. */
export function hostOf(url: URL): string {
  const h = url.hostname
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h
}

/**
 * Why an http(s) URL may not be a webhook target before any lookup (its literal address, in any form the
 * URL parser accepts, is not public, or its name is local: localNameRefusal), or null when it has to be
 * resolved first (or is a public address). An unparsable URL is refused.
 */
export function urlTargetRefusal(url: string): string | null {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return `${JSON.stringify(url)} is not a URL`
  }
  const host = hostOf(u)
  return isIP(host) !== 0 ? addressRefusal(host) : localNameRefusal(host)
}
