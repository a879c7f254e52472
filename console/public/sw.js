/*
 * Service worker of the SMSC console: keeps the app shell (index.html, bundle, css, manifest, icons)
 * in a cache named after the build, so the console opens with the engine down and reconnects by
 * itself when it comes back. Navigations go to the network first (a new build shows up at once) and
 * fall back to the cached shell; the versioned assets are served from the cache. The API, the
 * telemetry socket, /metrics and /healthz are never cached or intercepted.
 */
const BUILD = '%BUILD%'
const CACHE = 'smsc-console-' + BUILD
const SHELL = [
  './',
  'index.html',
  'app.js?v=' + BUILD,
  'app.css?v=' + BUILD,
  'manifest.webmanifest',
  'icons/icon-192.png',
  'icons/icon-512.png',
  'icons/icon-maskable-512.png',
]
const LIVE = /^\/(api|ws|metrics|healthz)(\/|$)/

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((u) => new Request(u, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  )
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('smsc-console-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const req = event.request
  if (req.method !== 'GET') return
  const url = new URL(req.url)
  if (url.origin !== self.location.origin || LIVE.test(url.pathname)) return

  if (req.mode === 'navigate') {
    event.respondWith(
      fetch(req)
        .then((res) => {
          if (res.ok && /\/(index\.html)?$/.test(url.pathname)) {
            const copy = res.clone()
            caches.open(CACHE).then((cache) => cache.put('index.html', copy))
          }
          return res
        })
        .catch(() => caches.match('index.html', { cacheName: CACHE }).then((r) => r || caches.match('./'))),
    )
    return
  }

  event.respondWith(
    caches.match(req, { cacheName: CACHE }).then((hit) => hit || fetch(req)),
  )
})
