/**
 * The SSRF guard's address and name classification (engine/webhook-target.ts): IPv4 and IPv6 ranges that
 * are not public unicast, the IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4),
 * the forms of an IPv4 address the URL parser accepts (decimal, hex, octal, short), names of this host
 * and of the local network; and config webhooks.allowPrivateTargets (default false, a boolean).
 */
import t from 'tap'
import { addressRefusal, classifyAddress, localNameRefusal, urlTargetRefusal } from '../engine/webhook-target'
import { DEFAULTS, resolveOptions } from '../engine/config'
import { isSmscError } from '../engine/errors'

t.test('IPv4: loopback, link-local, private, shared, unspecified, multicast, reserved; public ones pass', async (t) => {
  const cases: [string, ReturnType<typeof classifyAddress>][] = [
    ['127.0.0.1', 'loopback'], ['127.255.255.254', 'loopback'], ['127.1.2.3', 'loopback'],
    ['169.254.169.254', 'link-local'], ['169.254.0.1', 'link-local'],
    ['10.0.0.1', 'private'], ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'], ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'], ['100.100.100.200', 'private'], ['100.127.255.255', 'private'],
    ['198.18.0.1', 'private'], ['198.19.255.255', 'private'],
    ['0.0.0.0', 'unspecified'], ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'], ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'], ['255.255.255.255', 'reserved'], ['192.0.0.170', 'reserved'],
    // the neighbours of each block are public
    ['8.8.8.8', null], ['1.1.1.1', null], ['93.184.215.14', null],
    ['172.15.255.255', null], ['172.32.0.0', null], ['169.253.255.255', null], ['169.255.0.0', null],
    ['100.63.255.255', null], ['100.128.0.0', null], ['192.167.255.255', null], ['192.169.0.0', null],
    ['11.0.0.0', null], ['9.255.255.255', null], ['126.255.255.255', null], ['128.0.0.0', null],
    ['223.255.255.255', null], ['198.17.255.255', null], ['198.20.0.0', null], ['1.0.0.0', null],
  ]
  for (const [ip, want] of cases) t.equal(classifyAddress(ip), want, `${ip} → ${want ?? 'public'}`)
})

t.test('IPv6: loopback, unspecified, link-local, unique local, site-local, multicast; public ones pass', async (t) => {
  const cases: [string, ReturnType<typeof classifyAddress>][] = [
    ['::1', 'loopback'], ['0:0:0:0:0:0:0:1', 'loopback'], ['::', 'unspecified'],
    ['fe80::1', 'link-local'], ['fe80::1%eth0', 'link-local'], ['febf:ffff::1', 'link-local'],
    ['fc00::1', 'private'], ['fd12:3456:789a::1', 'private'], ['fec0::1', 'private'],
    ['ff02::1', 'multicast'], ['ff05::1:3', 'multicast'],
    ['2001:db8::1', 'reserved'], ['100::1', 'reserved'],
    ['2606:4700:4700::1111', null], ['2001:4860:4860::8888', null], ['2a00:1450:4001:80b::200e', null],
    ['fbff:ffff::1', null], ['fe7f:ffff::1', null],
  ]
  for (const [ip, want] of cases) t.equal(classifyAddress(ip), want, `${ip} → ${want ?? 'public'}`)
})

t.test('IPv6 forms carrying an IPv4 address are judged by it', async (t) => {
  const cases: [string, ReturnType<typeof classifyAddress>][] = [
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['0:0:0:0:0:ffff:7f00:0001', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'], ['::ffff:a9fe:a9fe', 'link-local'],
    ['::ffff:10.1.2.3', 'private'], ['::ffff:192.168.0.1', 'private'], ['::ffff:0.0.0.0', 'unspecified'],
    ['::ffff:8.8.8.8', null],
    ['::127.0.0.1', 'loopback'], ['::7f00:1', 'loopback'], ['::8.8.8.8', 'reserved'], // deprecated IPv4-compatible
    ['64:ff9b::127.0.0.1', 'loopback'], ['64:ff9b::a9fe:a9fe', 'link-local'], ['64:ff9b::8.8.8.8', null], ['64:ff9b:1::1', 'private'],
    ['2002:7f00:1::', 'loopback'], ['2002:a9fe:a9fe::1', 'link-local'], ['2002:0808:0808::1', null],
  ]
  for (const [ip, want] of cases) t.equal(classifyAddress(ip), want, `${ip} → ${want ?? 'public'}`)
  t.equal(classifyAddress('not an address'), 'reserved', 'something that is not an address is never a target')
  t.equal(addressRefusal('127.0.0.1'), '127.0.0.1 is a loopback address')
  t.equal(addressRefusal('169.254.169.254'), '169.254.169.254 is a link-local address')
  t.equal(addressRefusal('::ffff:10.0.0.1'), '::ffff:10.0.0.1 is a private address')
  t.equal(addressRefusal('8.8.8.8'), null)
})

t.test('URLs: every form of a literal address the URL parser accepts is judged as the address it is', async (t) => {
  const refused: [string, RegExp][] = [
    ['http://127.0.0.1/', /^127\.0\.0\.1 is a loopback address$/],
    ['http://2130706433/', /^127\.0\.0\.1 is a loopback address$/], // decimal
    ['http://0x7f.1/', /^127\.0\.0\.1 is a loopback address$/], // hex, short
    ['http://0x7f000001/', /^127\.0\.0\.1 is a loopback address$/],
    ['http://017700000001/', /^127\.0\.0\.1 is a loopback address$/], // octal
    ['http://0177.0.0.1/', /^127\.0\.0\.1 is a loopback address$/],
    ['http://127.1/', /^127\.0\.0\.1 is a loopback address$/],
    ['http://127.0.0.1./', /^127\.0\.0\.1 is a loopback address$/], // trailing dot
    ['http://0/', /^0\.0\.0\.0 is an unspecified address$/],
    ['http://[::1]:8080/x', /^::1 is a loopback address$/],
    ['http://[::ffff:127.0.0.1]/', /^::ffff:7f00:1 is a loopback address$/],
    ['http://[::ffff:169.254.169.254]/latest/meta-data/', /^::ffff:a9fe:a9fe is a link-local address$/],
    ['http://169.254.169.254/latest/meta-data/', /^169\.254\.169\.254 is a link-local address$/],
    ['http://2852039166/', /^169\.254\.169\.254 is a link-local address$/],
    ['https://10.0.0.8:8443/hook', /^10\.0\.0\.8 is a private address$/],
    ['http://[fe80::1]/', /^fe80::1 is a link-local address$/],
    ['http://[fd00::1]/', /^fd00::1 is a private address$/],
    ['http://u:p@192.168.1.1/', /^192\.168\.1\.1 is a private address$/],
  ]
  for (const [url, why] of refused) t.match(urlTargetRefusal(url), why, url)
  for (const url of ['https://shop.example.com/dlr', 'http://8.8.8.8/', 'http://134744072/', 'http://[2606:4700:4700::1111]/x', 'https://hooks.example.org:8443/a?b=c']) {
    t.equal(urlTargetRefusal(url), null, `${url} is left to the send-time check`)
  }
  t.match(urlTargetRefusal('not a url'), /is not a URL/)
})

t.test('local names: this host, single labels, .local, .internal, .home.arpa; case and a trailing dot do not matter', async (t) => {
  for (const host of ['localhost', 'LOCALHOST', 'localhost.', 'localhost..', 'foo.localhost', 'a.b.localhost.', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']) {
    t.match(localNameRefusal(host), /is a name of this host/, host)
  }
  for (const host of ['metadata', 'gateway', 'router.']) t.match(localNameRefusal(host), /single-label name/, host)
  t.match(localNameRefusal('printer.local'), /link-local \(mDNS\) name/)
  t.match(localNameRefusal('metadata.google.internal'), /name of the local network/)
  t.match(localNameRefusal('nas.home.arpa'), /name of the local network/)
  for (const host of ['shop.example.com', 'localhost.example.com', 'example.localhostx', 'internal.example.com', 'my-local.example']) {
    t.equal(localNameRefusal(host), null, `${host} is resolved and checked at send time`)
  }
  t.match(urlTargetRefusal('http://localhost:22/'), /^localhost is a name of this host$/)
  t.match(urlTargetRefusal('http://LocalHost./x'), /^localhost\. is a name of this host$/)
})

t.test('config webhooks.allowPrivateTargets: false by default, a boolean', async (t) => {
  t.equal(DEFAULTS.webhooks.allowPrivateTargets, false)
  t.equal(resolveOptions({}).webhooks.allowPrivateTargets, false)
  t.equal(resolveOptions({ webhooks: { allowPrivateTargets: true } }).webhooks.allowPrivateTargets, true)
  let err: unknown = null
  try { resolveOptions({ webhooks: { allowPrivateTargets: 'yes' as unknown as boolean } }) } catch (e) { err = e }
  t.ok(isSmscError(err, 'SMSC_ERR_CONFIG_INVALID'), 'a value that is not a boolean is refused')
  t.match(String((err as Error | null)?.message), /webhooks\.allowPrivateTargets must be true or false \(got "yes"\)/)
})
