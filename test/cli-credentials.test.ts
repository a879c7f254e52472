/**
 * engine/cli.ts credentialLines: the passwords a first start generates go to <dataDir>/initial-credentials
 * (this user only) and are printed only on a terminal, never into a supervisor's log. The file is
 * replaced whole (engine/dirs.ts writePrivateFile), never written in place.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { credentialLines } from '../engine/cli'

const tmp = (t: Test) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-cred-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('on a terminal: printed once, and kept in the file too', async (t) => {
  const dir = tmp(t)
  const lines = credentialLines(dir, 'AdminPw12345', { systemId: 'demo', password: 'Demo1234' }, true).join('\n')
  t.match(lines, /Console admin password created \(shown only this once\): AdminPw12345/)
  t.match(lines, /system_id demo {2}password Demo1234/)
  const file = path.join(dir, 'initial-credentials')
  t.ok(lines.includes(`also in ${file}`))
  t.equal(fs.statSync(file).mode & 0o777, 0o600)
  t.match(fs.readFileSync(file, 'utf8'), /^console admin password: AdminPw12345$/m)
})

t.test('not on a terminal: only the file has them', async (t) => {
  const dir = tmp(t)
  const lines = credentialLines(dir, 'AdminPw12345', { systemId: 'demo', password: 'Demo1234' }, false).join('\n')
  t.notMatch(lines, /AdminPw12345|Demo1234/, 'no password in the banner')
  t.match(fs.readFileSync(path.join(dir, 'initial-credentials'), 'utf8'), /^account demo \(SMPP system_id and API login\) password: Demo1234$/m)
  t.same(credentialLines(dir, null, null, false).length, 1, 'a later start reminds of the file while it is there')
  fs.rmSync(path.join(dir, 'initial-credentials'))
  t.same(credentialLines(dir, null, null, false), [], 'and says nothing once it is deleted')
})

t.test('a data dir the file cannot be written to: printed, since nothing else would keep them', async (t) => {
  const dir = tmp(t)
  const lines = credentialLines(path.join(dir, 'missing', 'dir'), 'AdminPw12345', null, false).join('\n')
  t.match(lines, /AdminPw12345/)
  t.notMatch(lines, /also in/)
})

t.test('a later start that generates the other password adds it: the file keeps the first one', async (t) => {
  const dir = tmp(t)
  credentialLines(dir, null, { systemId: 'demo', password: 'Demo1234' }, false) // admin.password was set then
  credentialLines(dir, 'AdminPw12345', null, false) // later unset: the admin's is generated
  const text = fs.readFileSync(path.join(dir, 'initial-credentials'), 'utf8')
  t.match(text, /^account demo \(SMPP system_id and API login\) password: Demo1234$/m, 'the demo password is still there')
  t.match(text, /^console admin password: AdminPw12345$/m, 'with the admin one')
  credentialLines(dir, 'Second123456', null, false)
  const again = fs.readFileSync(path.join(dir, 'initial-credentials'), 'utf8')
  t.notMatch(again, /AdminPw12345/, 'a newer admin password replaces the older line')
  t.match(again, /Second123456/)
  t.match(again, /Demo1234/)
})

t.test('a merge replaces the file whole: mode 0600 even when the old one was wider, and no temp file stays', async (t) => {
  const dir = tmp(t)
  const file = path.join(dir, 'initial-credentials')
  credentialLines(dir, null, { systemId: 'demo', password: 'Demo1234' }, false)
  fs.chmodSync(file, 0o644) // widened by hand, or left by an older version
  const before = fs.statSync(file).ino
  credentialLines(dir, 'AdminPw12345', null, false)
  t.equal(fs.statSync(file).mode & 0o777, 0o600, 'mode 0600')
  t.not(fs.statSync(file).ino, before, 'a new file: the wider old one never held the new password')
  t.match(fs.readFileSync(file, 'utf8'), /Demo1234[^]*AdminPw12345/, 'both passwords')
  t.same(fs.readdirSync(dir), ['initial-credentials'], 'no temp file beside it')
})

t.test('a link where the file goes is replaced, not written through', async (t) => {
  const dir = tmp(t)
  const elsewhere = path.join(tmp(t), 'public.txt')
  fs.writeFileSync(elsewhere, 'someone else\'s file\n', { mode: 0o644 })
  const file = path.join(dir, 'initial-credentials')
  fs.symlinkSync(elsewhere, file)
  credentialLines(dir, 'AdminPw12345', null, false)
  t.equal(fs.readFileSync(elsewhere, 'utf8'), 'someone else\'s file\n', 'the link\'s target is untouched')
  t.ok(fs.lstatSync(file).isFile(), 'a regular file now')
  t.equal(fs.statSync(file).mode & 0o777, 0o600)
  t.notMatch(fs.readFileSync(file, 'utf8'), /someone else/, 'nothing read through the link')
})

t.test('a write that fails leaves no temp file and prints the passwords', async (t) => {
  const dir = tmp(t)
  fs.mkdirSync(path.join(dir, 'initial-credentials')) // the rename cannot replace a directory
  const lines = credentialLines(dir, 'AdminPw12345', null, false).join('\n')
  t.match(lines, /AdminPw12345/, 'printed: the file could not keep it')
  t.same(fs.readdirSync(dir), ['initial-credentials'], 'no temp file left')
})
