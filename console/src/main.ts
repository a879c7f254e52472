/**
 * Entry point of the console bundle: styles, the app, and the service worker that keeps the shell
 * available offline (installable as a desktop app through manifest.webmanifest).
 */
import 'uplot/dist/uPlot.min.css'
import './app.css'
import { render } from 'preact'
import { html } from './ui/html'
import { App } from './ui/app'

render(html`<${App} />`, document.getElementById('app') as HTMLElement)

// service workers need a secure context: https, or http on localhost / 127.0.0.1
if ('serviceWorker' in navigator && window.isSecureContext) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('./sw.js', { scope: './' }).catch((e: unknown) => console.warn('service worker not registered', e))
  })
}
