#!/usr/bin/env node
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
