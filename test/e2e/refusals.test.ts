/**
 * Refused submits in message search (engine/refusals.ts): a submit refused over SMPP (node-smpp) or through the HTTP
 * send API has no message id and no record, yet a support engineer searching for the number finds it, beside the
 * messages, with its account, bind, addresses and status. Each caller sees its scope only; a search by state or for
 * MO, or a later page, has none; `stats.refusalsKept` bounds them per account; the CLI prints them; a restart forgets
 * them.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { CommandStatus as S } from '../../engine/protocol/constants'
import { FAST_SIMULATOR, httpCall, loginToken, projectRoot, startEngine, type Engine } from '../helpers/engine'
import { gsm, openEsme } from '../helpers/esme'

const ROOT = projectRoot()
const OPERATOR_PW = 'operator-secret'
const NUMBER = '4915112345678'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Refused { t: number; systemId: string; via: string; session?: number; command: string; status: number; statusName: string; from: string | null; to: string[] | null }

function smsc(args: string[], env: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'smsc.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

t.test('refused submits are found by message search', async (t) => {
  const e: Engine = await startEngine(t, {
    accounts: [
      { systemId: 'u1', password: 'pw1', prepaid: true, credit: 1 },
      { systemId: 'res', password: 'pw3', role: 'reseller' },
      { systemId: 'child', password: 'pw4', parent: 'res' },
    ] as never,
    simulator: FAST_SIMULATOR,
    extra: { admin: { password: OPERATOR_PW }, log: { level: 'warn' }, stats: { refusalsKept: 3 } },
  })
  const login = (body: Record<string, string>): Promise<string> => loginToken(e.httpPort, body)
  const op = await login({ password: OPERATOR_PW })
  const tok = { u1: await login({ systemId: 'u1', password: 'pw1' }), res: await login({ systemId: 'res', password: 'pw3' }), child: await login({ systemId: 'child', password: 'pw4' }) }
  const search = async (query: string, token = op): Promise<{ messages: { id: string }[]; refused?: Refused[] }> => {
    const r = await httpCall(e.httpPort, 'GET', `/api/v1/messages?${query}`, { token, timeoutMs: 20_000 })
    if (r.status !== 200) throw new Error(`search ${query}: ${r.status} ${r.body}`)
    return r.json as never
  }

  const u1 = await openEsme(t, { port: e.smppPort, systemId: 'u1', password: 'pw1' })
  const sent = await u1.submit({ source_addr: '447700900001', destination_addr: `+${NUMBER}`, short_message: gsm('paid for'), registered_delivery: 1 })
  t.equal(sent.command_status, 0, 'the one credit pays for the first')
  const before = Date.now()
  await sleep(5)
  t.equal((await u1.submit({ source_addr: '447700900001', destination_addr: NUMBER, short_message: gsm('no credit left') })).command_status, S.SMSC_RNOCREDIT)
  t.equal((await u1.submit({ source_addr: '447700900001', destination_addr: '4915199999999', short_message: gsm('another number') })).command_status, S.SMSC_RNOCREDIT)
  t.equal((await u1.submit({ source_addr: '447700900001', destination_addr: NUMBER, short_message: gsm('bad time'), schedule_delivery_time: 'tomorrow' })).command_status, S.ESME_RINVSCHED)
  // the HTTP send API: a number on the child's own opt-out list
  t.equal((await httpCall(e.httpPort, 'POST', '/api/v1/accounts/child/optouts', { token: tok.child, body: { number: NUMBER } })).status, 200)
  const http = await httpCall(e.httpPort, 'POST', '/api/v1/messages', { token: tok.child, body: { from: 'Shop', to: `00${NUMBER}`, text: 'hello' } })
  t.equal(http.status, 403, http.body)

  const all = await search(`to=%2B${NUMBER}`)
  t.same(all.messages.map((m) => m.id), [sent.message_id], 'the one accepted message')
  t.match(all.refused, [
    { systemId: 'child', via: 'http', command: 'send', status: S.SMSC_ROPTEDOUT, statusName: 'SMSC_ROPTEDOUT', from: 'Shop', to: [`00${NUMBER}`] },
    { systemId: 'u1', via: 'smpp', command: 'submit_sm', status: S.ESME_RINVSCHED, statusName: 'ESME_RINVSCHED', from: '447700900001', to: [NUMBER] },
    { systemId: 'u1', via: 'smpp', command: 'submit_sm', status: S.SMSC_RNOCREDIT, statusName: 'SMSC_RNOCREDIT', from: '447700900001', to: [NUMBER] },
  ], 'the refusals to that number in any form, newest first; not the one to another number')
  t.equal(all.refused?.length, 3)
  t.ok(all.refused?.every((r) => r.t >= before && r.t <= Date.now()), 'when each was refused')
  t.equal(typeof all.refused?.[1].session, 'number', 'the bind it came on')

  t.same((await search(`to=${NUMBER}`, tok.u1)).refused?.map((r) => r.systemId), ['u1', 'u1'], 'a user sees its own')
  t.same((await search(`to=${NUMBER}`, tok.res)).refused?.map((r) => r.systemId), ['child'], "a reseller its users'")
  t.same((await search(`to=${NUMBER}&systemId=u1&limit=1`)).refused?.map((r) => r.status), [S.ESME_RINVSCHED], 'by account, at most limit')
  t.same((await search('from=447700900001')).refused?.map((r) => r.to), [[NUMBER], ['4915199999999'], [NUMBER]], 'by sender')
  t.same((await search(`to=${NUMBER}&until=${before}`)).refused, [], 'not outside the window')
  t.equal((await search(`to=${NUMBER}&state=DELIVERED`)).refused, undefined, 'a search by state is about messages only')
  t.equal((await search(`to=${NUMBER}&direction=mo`)).refused, undefined, 'and so is one for MO')

  // stats.refusalsKept 3: the oldest of u1's four goes
  t.equal((await u1.submit({ source_addr: '447700900001', destination_addr: '4915100000004', short_message: gsm('fourth') })).command_status, S.SMSC_RNOCREDIT)
  t.same((await search('systemId=u1')).refused?.map((r) => r.to?.[0]), ['4915100000004', NUMBER, '4915199999999'], 'the newest 3 of the account kept')

  await t.test('the CLI lists them after the messages', async (t) => {
    for (let i = 0; i < 200 && !existsSync(path.join(e.dataDir, 'control.json')); i++) await sleep(25)
    const found = smsc(['message', 'find', '--to', `+${NUMBER}`, '--config', e.configPath])
    t.equal(found.code, 0, found.err)
    t.match(found.out, sent.message_id as string)
    t.match(found.out, /\nrefused \(no message id; the engine keeps the last stats\.refusalsKept of each account\):\n/)
    t.match(found.out, /\n\S+Z\s+child\s+http send\s+Shop\s+0049151\S+\s+SMSC_ROPTEDOUT \(0x00000403\)\n/)
    t.match(found.out, /\n\S+Z\s+u1\s+smpp #\d+\s+447700900001\s+4915112345678\s+ESME_RINVSCHED \(0x00000061\)\n/)
  })

  await t.test('a clean restart keeps them, in their order; a kill -9 loses those since the last clean stop', async (t) => {
    const before = await search(`to=${NUMBER}`)
    t.equal(before.refused?.length, 2, 'u1\'s newest to it and child\'s')
    await e.restart() // SIGTERM: a clean stop writes them
    const op2 = await login({ password: OPERATOR_PW })
    t.same((await search(`to=${NUMBER}`, op2)).refused, before.refused, 'the same refusals after the restart, newest first')
    const u1b = await openEsme(t, { port: e.smppPort, systemId: 'u1', password: 'pw1' })
    t.equal((await u1b.submit({ source_addr: '447700900001', destination_addr: NUMBER, short_message: gsm('after') })).command_status, S.SMSC_RNOCREDIT)
    t.equal((await search(`to=${NUMBER}`, op2)).refused?.length, 3, 'a new one beside them')
    await e.kill()
    await e.restart()
    t.same((await search(`to=${NUMBER}`, await login({ password: OPERATOR_PW }))).refused, before.refused, 'after a kill -9: those of the last clean stop, without the newer one')
  })
})
