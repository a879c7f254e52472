/**
 * The key per-address limits count a client under (failed logins and binds, SMPP connections that have not bound):
 * its IPv4 address; an IPv6 client by its /64 (one host has a whole /64 to take addresses from); an IPv4-mapped IPv6
 * address (::ffff:a.b.c.d, a dual-stack listener's IPv4 client) as its IPv4 address.
 */
export function addressKey(remote: string): string {
  if (!remote.includes(':') || /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(remote)) return remote.replace(/^::ffff:/i, '')
  const [head, tail = ''] = remote.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === '' ? [] : tail.split(':')
  const full = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return `${full.slice(0, 4).map((x) => x.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`
}
