// engine/dirs.ts: directories a user names are made once per level, so a path mkdir cannot make fails at once.
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { makeDataDir, makeDirs } from '../engine/dirs'
import { isSmscError } from '../engine/errors'

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-dirs-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('makeDirs makes the missing levels and says whether it made the directory', async (t) => {
  const base = tempDir(t)
  const deep = path.join(base, 'a', 'b', 'c')
  t.equal(makeDirs(deep), true)
  t.ok(fs.statSync(deep).isDirectory())
  t.equal(makeDirs(deep), false, 'already there: made nothing')
  t.equal(makeDirs(path.join(base, 'a', '..', 'a', 'd')), true, 'a path with .. is resolved first')
  t.ok(fs.existsSync(path.join(base, 'a', 'd')))
})

t.test('a path under /proc fails at once instead of looping (fs.mkdirSync recursive never returns there)', { skip: fs.existsSync('/proc/self') ? false : 'no /proc here' }, async (t) => {
  const started = Date.now()
  t.throws(() => makeDirs('/proc/smsc-test/data'), { code: 'ENOENT' })
  t.ok(Date.now() - started < 1000, 'at once')
})

t.test('makeDataDir: a data dir that cannot be one is a config error in one line', async (t) => {
  const base = tempDir(t)
  const file = path.join(base, 'a-file')
  fs.writeFileSync(file, 'x')
  const refused = (dir: string): string => {
    try {
      makeDataDir(dir)
    } catch (e) {
      t.ok(isSmscError(e) && e.code === 'SMSC_ERR_CONFIG_INVALID', 'SMSC_ERR_CONFIG_INVALID')
      return (e as Error).message
    }
    return 'accepted'
  }
  t.equal(refused(file), `dataDir ${file}: not a directory`)
  t.equal(refused(path.join(file, 'sub')), `dataDir ${path.join(file, 'sub')}: cannot be created (ENOTDIR)`)
  if (fs.existsSync('/proc/self')) t.equal(refused('/proc/smsc-test'), 'dataDir /proc/smsc-test: cannot be created (ENOENT)')
  t.equal(refused(path.join(base, 'new', 'data')), 'accepted')
  t.ok(fs.statSync(path.join(base, 'new', 'data')).isDirectory())
})
