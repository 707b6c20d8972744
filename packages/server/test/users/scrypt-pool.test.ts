import assert from 'node:assert/strict'
import { randomBytes, scryptSync } from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import { test } from 'node:test'
import { PASSWORD_CHECK_NICE, ScryptPool } from '../../src/users/scrypt-pool.js'

const CHEAP = { N: 2 ** 10, r: 8, p: 1, maxmem: 32 * 1024 * 1024 }

test('ScryptPool: the same keys as node:crypto, for many concurrent derivations on two threads', async (t) => {
  const pool = new ScryptPool(2)
  t.after(() => pool.close())
  const inputs = Array.from({ length: 40 }, (_, i) => ({ password: `pw-${i}-${'é'.repeat(i)}`, salt: randomBytes(16), length: 16 + i }))
  const keys = await Promise.all(inputs.map((x) => pool.derive(x.password, x.salt, x.length, CHEAP)))
  inputs.forEach((x, i) => assert.deepEqual(keys[i], scryptSync(x.password, x.salt, x.length, CHEAP)))
})

test('ScryptPool: its threads run at a lower priority than the request loop (Linux)', { skip: process.platform !== 'linux' }, async (t) => {
  const pool = new ScryptPool(1)
  t.after(() => pool.close())
  const nice = (stat: string): number => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
  const niceOf = (tid: string): number => nice(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8'))
  const before = new Set(readdirSync('/proc/self/task').filter((tid) => niceOf(tid) === PASSWORD_CHECK_NICE))
  await pool.derive('pw', randomBytes(16), 32, CHEAP)
  const lowered = readdirSync('/proc/self/task').filter((tid) => niceOf(tid) === PASSWORD_CHECK_NICE && !before.has(tid))
  assert.equal(lowered.length, 1, 'one new thread at the lower priority')
  assert.equal(niceOf(String(process.pid)), 0, 'the main thread keeps its priority')
})

test('ScryptPool: a thread that dies fails its task, and the next task gets a new thread', async () => {
  const pool = new ScryptPool(1)
  const slow = pool.derive('pw', randomBytes(16), 32, { N: 2 ** 16, r: 8, p: 4, maxmem: 512 * 1024 * 1024 })
  await new Promise((resolve) => setImmediate(resolve))
  await pool.close()
  await assert.rejects(slow, /exited/)
  const key = await pool.derive('pw', Buffer.alloc(16), 32, CHEAP)
  assert.deepEqual(key, scryptSync('pw', Buffer.alloc(16), 32, CHEAP))
  await pool.close()
})
