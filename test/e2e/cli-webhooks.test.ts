/**
 * `smsc account set --webhook-mo URL` on an account with a receipts webhook keeps it, and
 * `--webhook-receipts ""` turns off that one only (the CLI sent both, the one not given as null, and so
 * silently removed a customer's receipts webhook). Offline on a data dir: the same admin code as the API.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { projectRoot } from '../helpers/engine'

const ROOT = projectRoot()

function smsc(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'smsc.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

t.test('smsc account set changes only the webhook it is given', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smsc-cli-hooks-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const d = ['--data-dir', dir]
  const hooks = () => (JSON.parse(smsc(['account', 'show', 'shop2', '--json', ...d]).out) as { webhooks: unknown }).webhooks
  const add = smsc(['account', 'add', 'shop2', '--password', 'pw', '--webhook-receipts', 'https://shop.example/dlr', ...d])
  t.equal(add.code, 0, add.err)
  t.same(hooks(), { receipts: 'https://shop.example/dlr', mo: null })
  const set = smsc(['account', 'set', 'shop2', '--webhook-mo', 'https://shop.example/mo', ...d])
  t.equal(set.code, 0, set.err)
  t.same(hooks(), { receipts: 'https://shop.example/dlr', mo: 'https://shop.example/mo' }, 'the receipts webhook stays')
  const off = smsc(['account', 'set', 'shop2', '--webhook-receipts', '', ...d])
  t.equal(off.code, 0, off.err)
  t.same(hooks(), { receipts: null, mo: 'https://shop.example/mo' }, '"" turns off that one only')
})
