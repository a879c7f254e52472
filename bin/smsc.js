#!/usr/bin/env -S node --max-semi-space-size=32 --no-allocation-site-pretenuring
// (--max-semi-space-size=32: young-generation semi-spaces of up to 32 MB instead of V8's 16: fewer messages in
// flight survive a scavenge; bench receipts 81.6-87.6k → 91.0-91.2k/s, 1000x10tps p99 unchanged, docs/BENCHMARKS.md.
// Run as `node bin/smsc.js`, give node the flag yourself.)
// The `smsc` command. The TypeScript sources compile to dist/ (npm install runs the build).
'use strict'
const path = require('node:path')
const fs = require('node:fs')
const cli = path.join(__dirname, '..', 'dist', 'engine', 'cli.js')
if (!fs.existsSync(cli)) {
  process.stderr.write('smsc: dist/ is missing; run "npm run build" first\n')
  process.exit(1)
}
require(cli).run(process.argv.slice(2))
