// bench/targets.ts: the server children run with the node flags of the smsc bin's first line.
import t from 'tap'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { binNodeFlags, projectRoot } from '../../bench/targets'

function rootWithBin(t: { teardown(fn: () => void): void }, firstLine: string | null): string {
  const dir = mkdtempSync(join(tmpdir(), 'smsc-bin-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  if (firstLine !== null) {
    mkdirSync(join(dir, 'bin'))
    writeFileSync(join(dir, 'bin', 'smsc.js'), `${firstLine}\n'use strict'\n`)
  }
  return dir
}

t.test("the bench's server flags are the ones on bin/smsc.js's first line, which npx smsc start runs with", async (t) => {
  const first = readFileSync(join(projectRoot(), 'bin', 'smsc.js'), 'utf8').split('\n', 1)[0]
  t.match(first, /^#!\/usr\/bin\/env -S node /, 'the bin passes node flags through env -S')
  t.same(binNodeFlags(), first.split(/\s+/).slice(3), 'every flag after "node"')
  t.ok(binNodeFlags().includes('--max-semi-space-size=32'))
  t.ok(binNodeFlags().includes('--no-allocation-site-pretenuring'), 'message objects are never allocated old (README, Stopping)')
})

t.test('several flags, no flags, or no bin at all', async (t) => {
  t.same(binNodeFlags(rootWithBin(t, '#!/usr/bin/env -S node --max-semi-space-size=8 --no-opt')), ['--max-semi-space-size=8', '--no-opt'])
  t.same(binNodeFlags(rootWithBin(t, '#!/usr/bin/env node')), [], 'a plain shebang gives none')
  t.same(binNodeFlags(rootWithBin(t, '#!/usr/bin/env -S node')), [])
  t.same(binNodeFlags(rootWithBin(t, null)), [], 'a root without bin/smsc.js gives none')
})
