/**
 * Creating the directories a user names (data dir, backup target, certificate dir). Node's
 * mkdirSync({ recursive: true }) never returns where mkdir answers ENOENT under a parent that
 * exists (anything under /proc): it takes that for a missing parent and tries again, forever, so
 * `dataDir: "/proc/smsc"` hung the engine's start. This walks up to the nearest existing parent and
 * makes each level once, so such a path fails at once with the system's answer.
 */
import fs from 'node:fs'
import path from 'node:path'
import { smscError } from './errors'

/** mkdir -p: creates `dir` and its missing parents; true if `dir` was created here. Throws the first mkdir error. */
export function makeDirs(dir: string): boolean {
  const missing: string[] = []
  let at = path.resolve(dir)
  while (!fs.existsSync(at)) {
    missing.push(at)
    const up = path.dirname(at)
    if (up === at) break
    at = up
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      fs.mkdirSync(missing[i])
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e // made meanwhile by someone else: fine
    }
  }
  return missing.length > 0
}

/** The data dir (config `dataDir`, `--data-dir`), created if missing: a path that cannot be one is a config error in one line. */
export function makeDataDir(dir: string): void {
  try {
    makeDirs(dir)
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    throw smscError('SMSC_ERR_CONFIG_INVALID', `dataDir ${path.resolve(dir)}: cannot be created (${err.code ?? err.message}${err.path && path.resolve(err.path) !== path.resolve(dir) ? ` at ${err.path}` : ''})`)
  }
  if (!fs.statSync(dir).isDirectory()) throw smscError('SMSC_ERR_CONFIG_INVALID', `dataDir ${path.resolve(dir)}: not a directory`)
}
