/**
 * The caps on SMPP connections that have not bound (engine/transport/unbound.ts): per address (IPv6 by its /64) and
 * in all, and when the total is full the biggest holder's oldest connection gives way to a newcomer from an address
 * holding fewer.
 */
import t from 'tap'
import { UnboundConnections, type UnboundSlot } from '../engine/transport/unbound'

function caps(maxUnboundConnections: number, maxUnboundPerIp: number) {
  const evictions: [string, string][] = []
  const closed: string[] = []
  const u = new UnboundConnections({ maxUnboundConnections, maxUnboundPerIp }, (key, by) => evictions.push([key, by]))
  const take = (ip: string, name: string): UnboundSlot | string => u.take(ip, () => closed.push(name))
  return { u, take, evictions, closed }
}

t.test('when the total is full, the oldest connection of the address holding the most is closed and the newcomer admitted', async (t) => {
  const { u, take, evictions, closed } = caps(5, 3)
  take('10.0.0.1', 'a1'); take('10.0.0.2', 'b1'); take('10.0.0.2', 'b2'); take('10.0.0.1', 'a2'); take('10.0.0.2', 'b3')
  t.equal(u.count, 5)
  const c = take('10.0.0.3', 'c1')
  t.type(c, 'object', 'a newcomer from a fresh address is admitted')
  t.same(closed, ['b1'], '10.0.0.2 holds the most (3): its oldest is closed')
  t.same(evictions, [['10.0.0.2', '10.0.0.3']], 'and reported with who it made room for')
  t.equal(u.count, 5, 'the total stays at the cap')
  t.equal(u.heldBy('10.0.0.2'), 2)
  t.type(take('10.0.0.4', 'd1'), 'object', 'another newcomer')
  t.same(closed, ['b1', 'a1'], 'now 10.0.0.1 and 10.0.0.2 tie at 2: one of them gives way (the first seen), its oldest')
})

t.test('a newcomer from the biggest holder, or an address tying it, is refused when the total is full', async (t) => {
  const { take, closed } = caps(4, 3)
  take('10.0.0.1', 'a1'); take('10.0.0.1', 'a2'); take('10.0.0.2', 'b1'); take('10.0.0.2', 'b2')
  t.equal(take('10.0.0.1', 'a3'), 'unbound_total', 'the newcomer\'s own address ties the biggest: refused')
  t.equal(take('10.0.0.2', 'b3'), 'unbound_total')
  t.same(closed, [], 'nothing closed')
  const { take: take2 } = caps(10, 2)
  take2('10.0.0.1', 'x'); take2('10.0.0.1', 'y')
  t.equal(take2('10.0.0.1', 'z'), 'unbound_per_ip', 'the per-address cap is checked first')
})

t.test('a released slot, and an evicted one, are given back once: release() again does nothing', async (t) => {
  const { u, take } = caps(2, 2)
  const a = take('10.0.0.1', 'a1') as UnboundSlot
  take('10.0.0.1', 'a2')
  take('10.0.0.2', 'b1') // evicts a1
  t.equal(u.count, 2)
  a.release() // the evicted connection's close event
  a.release()
  t.equal(u.count, 2, 'the evicted slot was already given back')
  t.equal(u.heldBy('10.0.0.1'), 1)
})

t.test('IPv6 addresses count by their /64; IPv4-mapped IPv6 by the IPv4 address', async (t) => {
  const { u, take } = caps(100, 2)
  t.type(take('2001:db8:1:2::1', 'x'), 'object')
  t.type(take('2001:db8:1:2:ffff:0:0:99', 'y'), 'object')
  t.equal(take('2001:0db8:0001:0002:abcd::7', 'z'), 'unbound_per_ip', 'a third address of the same /64 is over the cap of 2')
  t.type(take('2001:db8:1:3::1', 'w'), 'object', 'another /64 is another address')
  t.equal(u.heldBy('2001:db8:1:2::5'), 2)
  take('::ffff:192.0.2.7', 'm1')
  t.equal(u.heldBy('192.0.2.7'), 1, '::ffff:192.0.2.7 counts as 192.0.2.7')
  t.equal(u.heldBy('::ffff:192.0.2.8'), 0, 'and not with its neighbour')
  t.type(take('192.0.2.7', 'm2'), 'object')
  t.equal(take('::ffff:192.0.2.7', 'm3'), 'unbound_per_ip', 'the mapped and the plain form share the cap')
})
