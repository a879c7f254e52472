/**
 * What both benchmark peers do as a child process: listen on `--port`/`--host`, print
 * `port N` when listening (the runner reads it), and exit on SIGTERM/SIGINT.
 */
import type net from 'node:net'

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def
}

export function listen(server: net.Server, port: number, host: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve(server))
  })
}

export function runPeer(name: string, start: (port: number, host: string) => Promise<net.Server>): void {
  start(Number(arg('port', '0')), arg('host', '127.0.0.1')).then((server) => {
    process.stdout.write(`port ${(server.address() as net.AddressInfo).port}\n`)
    const stop = () => {
      server.close(() => process.exit(0))
      setTimeout(() => process.exit(0), 2000).unref() // open sockets would keep close() waiting
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
  }, (err: Error) => {
    process.stderr.write(`${name}: ${err.message}\n`)
    process.exit(1)
  })
}
