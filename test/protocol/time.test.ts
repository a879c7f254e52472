import t from 'tap'
import fc from 'fast-check'
import { formatReceiptDate, formatSmppAbsolute, parseReceiptDate, parseSmppTime } from '../../engine/protocol/time'

const failure = <T>(p: fc.IPropertyWithHooks<T>, numRuns = 500) => fc.defaultReportMessage(fc.check(p, { numRuns }))
const NOW = Date.UTC(2024, 5, 15, 12, 0, 0)

t.test('empty string means "not set"', async (t) => {
  t.same(parseSmppTime('', NOW), { ok: true, ms: null, relative: false })
})

t.test('absolute time in UTC', async (t) => {
  t.same(parseSmppTime('240615120000000+', NOW), { ok: true, ms: NOW, relative: false })
  t.same(parseSmppTime('991231235959900+', NOW), { ok: true, ms: Date.UTC(2099, 11, 31, 23, 59, 59, 900), relative: false })
})

t.test('absolute time with a positive offset (local ahead of UTC)', async (t) => {
  // 03:04:05.6 local at +2h (08 quarter hours) = 01:04:05.6 UTC
  const r = parseSmppTime('250102030405608+', NOW)
  t.same(r, { ok: true, ms: Date.UTC(2025, 0, 2, 1, 4, 5, 600), relative: false })
  // +05:45 (23 quarter hours) crossing midnight backwards
  t.same(parseSmppTime('250101003000023+', NOW), { ok: true, ms: Date.UTC(2024, 11, 31, 18, 45), relative: false })
})

t.test('absolute time with a negative offset (local behind UTC)', async (t) => {
  t.same(parseSmppTime('250102030405004-', NOW), { ok: true, ms: Date.UTC(2025, 0, 2, 4, 4, 5), relative: false })
  t.same(parseSmppTime('241231230000048-', NOW), { ok: true, ms: Date.UTC(2025, 0, 1, 11), relative: false }, '-12h max')
})

t.test('relative time is added to now (year 365 days, month 30 days)', async (t) => {
  t.same(parseSmppTime('000000000430000R', NOW), { ok: true, ms: NOW + 270_000, relative: true }, '4 min 30 s')
  t.same(parseSmppTime('000002000000000R', NOW), { ok: true, ms: NOW + 2 * 86_400_000, relative: true }, '2 days (spec example)')
  t.same(parseSmppTime('000000000000000R', NOW), { ok: true, ms: NOW, relative: true })
  const secs = ((1 * 365 + 2 * 30 + 3) * 86400) + 4 * 3600 + 5 * 60 + 6
  t.same(parseSmppTime('010203040506000R', NOW), { ok: true, ms: NOW + secs * 1000, relative: true })
  t.same(parseSmppTime('000000009000000R', NOW), { ok: true, ms: NOW + 90 * 60_000, relative: true }, 'fields are counts')
})

t.test('invalid strings are rejected', async (t) => {
  const bad = [
    '24061512000000+', '2406151200000000+', // length
    '24061512000a000+', ' 40615120000000+', '2406151200000-0+', // digits
    '241315120000000+', '240015120000000+', // month
    '240600120000000+', '240631120000000+', '230229120000000+', // day (2023 is not a leap year)
    '240615240000000+', '240615126000000+', '240615120060000+', // hour, minute, second
    '240615120000049+', '240615120000099-', // nn > 48
    '240615120000000x', '240615120000000 ', '240615120000000r', // p
    '000000000430100R', '000000000430001R', // relative needs tnn = 000
  ]
  for (const s of bad) t.same(parseSmppTime(s, NOW), { ok: false }, JSON.stringify(s))
  t.same(parseSmppTime('240229120000000+', NOW), { ok: true, ms: Date.UTC(2024, 1, 29, 12), relative: false }, 'leap day')
})

t.test('formatSmppAbsolute is UTC, 16 characters, 000+', async (t) => {
  t.equal(formatSmppAbsolute(Date.UTC(2025, 0, 2, 3, 4, 5, 678)), '250102030405000+')
  t.equal(formatSmppAbsolute(Date.UTC(2009, 11, 31, 23, 59, 59)), '091231235959000+')
})

t.test('formatReceiptDate with and without seconds', async (t) => {
  const ms = Date.UTC(2025, 0, 2, 3, 4, 5)
  t.equal(formatReceiptDate(ms), '2501020304')
  t.equal(formatReceiptDate(ms, true), '250102030405')
  t.equal(parseReceiptDate('2501020304'), Date.UTC(2025, 0, 2, 3, 4))
  t.equal(parseReceiptDate('250102030405'), ms)
  t.equal(parseReceiptDate('25010203040'), null)
  t.equal(parseReceiptDate('2513020304'), null)
  t.equal(parseReceiptDate('25010203046x'), null)
})

const msIn2000s = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2099, 11, 31, 23, 59, 59, 999) })

t.test('property: parse(formatSmppAbsolute(ms)) is ms truncated to the second', async (t) => {
  t.equal(failure(fc.property(msIn2000s, (ms) => {
    const r = parseSmppTime(formatSmppAbsolute(ms), 0)
    return r.ok && r.ms === ms - (ms % 1000) && !r.relative
  })), undefined)
})

t.test('property: an offset shifts the same wall clock by nn quarter hours', async (t) => {
  t.equal(failure(fc.property(msIn2000s, fc.integer({ min: 0, max: 48 }), fc.constantFrom('+', '-'), (ms, nn, p) => {
    const local = formatSmppAbsolute(ms).slice(0, 12)
    const r = parseSmppTime(`${local}0${String(nn).padStart(2, '0')}${p}`, 0)
    const base = ms - (ms % 1000)
    return r.ok && r.ms === base - (p === '+' ? 1 : -1) * nn * 900_000
  })), undefined)
})

t.test('property: parseSmppTime never throws on arbitrary 16-character strings', async (t) => {
  t.equal(failure(fc.property(fc.string({ minLength: 16, maxLength: 16, unit: fc.constantFrom(...'0123456789+-R x') }), (s) => {
    const r = parseSmppTime(s, NOW)
    return !r.ok || r.ms === null || Number.isFinite(r.ms)
  })), undefined)
})
