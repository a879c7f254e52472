#!/usr/bin/env node
/*
 * Builds the web console into console/dist/, which the engine serves at `/`:
 *   app.js (+ .map)  Preact + htm + uPlot + msgpackr/unpack and our code, bundled and minified by esbuild
 *   app.css (+ .map) src/app.css and uPlot's stylesheet
 *   index.html       src/index.html with the build id in the asset URLs (cache busting)
 *   sw.js            public/sw.js with the build id (a new build installs a new service worker)
 *   manifest.webmanifest, icons/icon-{192,512}.png, icons/icon-maskable-512.png (drawn here, see below)
 * Nothing is fetched at run time: no CDN. Plain CommonJS so `node console/build.js` needs no compile step.
 * Options: --watch (rebuild on change), --quiet.
 */
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const zlib = require('node:zlib')
const crypto = require('node:crypto')
const esbuild = require('esbuild')

const ROOT = __dirname
const SRC = path.join(ROOT, 'src')
const PUBLIC = path.join(ROOT, 'public')
const DIST = path.join(ROOT, 'dist')
const watch = process.argv.includes('--watch')
const quiet = process.argv.includes('--quiet')

// ---------------------------------------------------------------------------------------------
// Icons: a tiny PNG encoder (RGBA, filter 0, zlib from Node) and a supersampled vector drawing:
// a blue tile with a white speech bubble holding three rising bars.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

function crc32(buf) {
  let c = 0xffffffff
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function chunk(type, data) {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(td))
  return Buffer.concat([len, td, crc])
}

/** PNG (RFC 2083) of an RGBA image: 8 bits per channel, colour type 6, no interlace. */
function encodePng(width, height, rgba) {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 6 // RGBA
  const raw = Buffer.alloc((width * 4 + 1) * height)
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0 // filter: none
    rgba.copy(raw, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4)
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

function inRoundRect(x, y, x0, y0, x1, y1, r) {
  if (x < x0 || x > x1 || y < y0 || y > y1) return false
  const cx = Math.min(Math.max(x, x0 + r), x1 - r)
  const cy = Math.min(Math.max(y, y0 + r), y1 - r)
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r
}

function inTriangle(x, y, a, b, c) {
  const s = (p, q) => (x - q[0]) * (p[1] - q[1]) - (p[0] - q[0]) * (y - q[1])
  const d1 = s(a, b)
  const d2 = s(b, c)
  const d3 = s(c, a)
  return !((d1 < 0 || d2 < 0 || d3 < 0) && (d1 > 0 || d2 > 0 || d3 > 0))
}

const TOP = [0x3b, 0x7d, 0xf0]
const BOTTOM = [0x1f, 0x4f, 0xb8]
const WHITE = [0xff, 0xff, 0xff]
const BAR = [0x2f, 0x6f, 0xdf]
const BARS = [
  [0.345, 0.48],
  [0.465, 0.41],
  [0.585, 0.34],
] // [left, top]; width 0.07, bottom 0.57

/** Colour at (x, y) in unit coordinates, or null (transparent). maskable: full-bleed tile. */
function sample(x, y, maskable) {
  if (!maskable && !inRoundRect(x, y, 0, 0, 1, 1, 0.22)) return null
  const inBubble =
    inRoundRect(x, y, 0.24, 0.26, 0.76, 0.64, 0.09) || inTriangle(x, y, [0.33, 0.6], [0.29, 0.76], [0.49, 0.6])
  if (inBubble) {
    for (const [left, top] of BARS) if (x >= left && x <= left + 0.07 && y >= top && y <= 0.57) return BAR
    return WHITE
  }
  const k = (x + y) / 2
  return [0, 1, 2].map((i) => TOP[i] + (BOTTOM[i] - TOP[i]) * k)
}

function drawIcon(size, maskable) {
  const SS = 4 // 4x4 samples per pixel
  const out = Buffer.alloc(size * size * 4)
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0, g = 0, b = 0, a = 0
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const c = sample((px + (sx + 0.5) / SS) / size, (py + (sy + 0.5) / SS) / size, maskable)
          if (!c) continue
          r += c[0]; g += c[1]; b += c[2]; a++
        }
      }
      const o = (py * size + px) * 4
      if (a) {
        out[o] = Math.round(r / a)
        out[o + 1] = Math.round(g / a)
        out[o + 2] = Math.round(b / a)
        out[o + 3] = Math.round((a / (SS * SS)) * 255)
      }
    }
  }
  return encodePng(size, size, out)
}

// ---------------------------------------------------------------------------------------------

function writeShell() {
  const js = fs.readFileSync(path.join(DIST, 'app.js'))
  const css = fs.readFileSync(path.join(DIST, 'app.css'))
  const build = crypto.createHash('sha256').update(js).update(css).digest('hex').slice(0, 12)
  const html = fs.readFileSync(path.join(SRC, 'index.html'), 'utf8').replaceAll('%BUILD%', build)
  fs.writeFileSync(path.join(DIST, 'index.html'), html)
  fs.writeFileSync(path.join(DIST, 'sw.js'), fs.readFileSync(path.join(PUBLIC, 'sw.js'), 'utf8').replaceAll('%BUILD%', build))
  fs.copyFileSync(path.join(PUBLIC, 'manifest.webmanifest'), path.join(DIST, 'manifest.webmanifest'))
  return build
}

function writeIcons() {
  const dir = path.join(DIST, 'icons')
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, 'icon-192.png'), drawIcon(192, false))
  fs.writeFileSync(path.join(dir, 'icon-512.png'), drawIcon(512, false))
  fs.writeFileSync(path.join(dir, 'icon-maskable-512.png'), drawIcon(512, true))
}

function report(build) {
  if (quiet) return
  const size = (f) => {
    const b = fs.readFileSync(path.join(DIST, f))
    return `${f} ${(b.length / 1024).toFixed(1)} KiB (${(zlib.gzipSync(b, { level: 9 }).length / 1024).toFixed(1)} KiB gzip)`
  }
  console.log(`console: built ${build} into ${path.relative(process.cwd(), DIST) || DIST}: ${size('app.js')}, ${size('app.css')}`)
}

const options = {
  entryPoints: { app: path.join(SRC, 'main.ts') },
  outdir: DIST,
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['es2020'],
  legalComments: 'none',
  logLevel: quiet ? 'warning' : 'info',
  define: { 'process.env.NODE_ENV': '"production"' },
  // msgpackr's browser build: only its decoder is imported
  mainFields: ['browser', 'module', 'main'],
  conditions: ['browser'],
  platform: 'browser',
  metafile: false,
}

async function main() {
  fs.rmSync(DIST, { recursive: true, force: true })
  fs.mkdirSync(DIST, { recursive: true })
  writeIcons()
  if (!watch) {
    await esbuild.build(options)
    report(writeShell())
    return
  }
  const ctx = await esbuild.context({
    ...options,
    plugins: [{ name: 'shell', setup(b) { b.onEnd((r) => { if (r.errors.length === 0) report(writeShell()) }) } }],
  })
  await ctx.watch()
  console.log('console: watching console/src for changes')
}

main().catch((e) => {
  console.error(e && e.message ? e.message : e)
  process.exit(1)
})
