import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, before, describe, test } from 'node:test'
import { createMemoryStore } from '../../src/store/memory.js'
import { createRedisStore } from '../../src/store/redis.js'
import { createSqliteStore } from '../../src/store/sqlite.js'
import type { SessionStore } from '../../src/store/types.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { B, type Res, assertLimited, closeHarnesses, createProgress, limitHarness } from './limit-harness.js'

/**
 * Issue 11, item 1: the failure limits hold under any concurrency. A login's attempt is
 * reserved (counted) before its password check, so with a limit of N at most N checks run per
 * username and per address in a window, however many requests arrive at once; a refresh holds
 * a turn of its address's budget until its outcome is known.
 *
 * The instrumented credential check holds every verification at a door until the test has seen
 * each request either reach the check or be answered: before the fix, all of them reached it.
 */

afterEach(closeHarnesses)

const dir = mkdtempSync(join(tmpdir(), 'baton-limits-'))
let redis: RedisServer
before(async () => {
  redis = await startRedisServer()
})
after(async () => {
  await redis.stop()
  rmSync(dir, { recursive: true, force: true })
})

let files = 0
const STORES: [string, () => Promise<SessionStore>][] = [
  ['memory', async () => createMemoryStore()],
  ['sqlite', () => createSqliteStore({ file: join(dir, `limits-${files++}.db`) })],
  [
    'redis',
    async () => {
      // One server for the file: each test starts from empty counters.
      await redis.command('FLUSHALL')
      const store = createRedisStore({ url: redis.url })
      await store.ready(5_000)
      return store
    },
  ],
]

/**
 * Sends `count` logins at once (`attempt(i)` picks name and password) with every password check
 * held open until each request has either reached the check or been answered, then lets the
 * checks finish. Answers the responses and how many checks ran.
 */
async function burst(
  env: Record<string, string>,
  store: SessionStore,
  count: number,
  attempt: (i: number) => { username: string; password: string; ip?: string },
): Promise<{ responses: Res[]; checks: number }> {
  const progress = createProgress()
  let release!: () => void
  const door = new Promise<void>((resolve) => (release = resolve))
  const h = await limitHarness(
    env,
    { store },
    {
      beforeVerify: async () => {
        progress.changed()
        await door
      },
    },
  )
  let answered = 0
  const pending = Array.from({ length: count }, (_, i) => {
    const a = attempt(i)
    return h.login(a.username, a.password, a.ip).then((res) => {
      answered++
      progress.changed()
      return res
    })
  })
  await progress.until(() => h.verifications.length + answered >= count)
  release()
  const responses = await Promise.all(pending)
  return { responses, checks: h.verifications.length }
}

function tally(responses: Res[]): Record<number, number> {
  const out: Record<number, number> = {}
  for (const r of responses) out[r.status] = (out[r.status] ?? 0) + 1
  return out
}

for (const [name, makeStore] of STORES) {
  describe(`limits under concurrency: ${name}`, () => {
    for (const count of [40, 200]) {
      test(`limits (${name}): ${count} wrong passwords for one user at once: 10 reach the password check, the rest are 429 with Retry-After`, async () => {
        const { responses, checks } = await burst(
          { LOGIN_RATE_LIMIT: '10/900', LOGIN_RATE_LIMIT_IP: 'off' },
          await makeStore(),
          count,
          (i) => ({ username: 'alice', password: `wrong-${i}` }),
        )
        assert.deepEqual(tally(responses), { 401: 10, 429: count - 10 }, responses.find((r) => r.status !== 401 && r.status !== 429)?.body)
        assert.equal(checks, 10)
        for (const r of responses.filter((x) => x.status === 429)) assertLimited(r, 900)
      })
    }

    test(`limits (${name}): 200 wrong logins from one address across 200 usernames at once: 10 reach the check`, async () => {
      const { responses, checks } = await burst(
        { LOGIN_RATE_LIMIT: '10/900', LOGIN_RATE_LIMIT_IP: '10/900' },
        await makeStore(),
        200,
        (i) => ({ username: `user-${i}`, password: 'wrong' }),
      )
      assert.equal(checks, 10)
      assert.deepEqual(tally(responses), { 401: 10, 429: 190 })
      for (const r of responses.filter((x) => x.status === 429)) assertLimited(r, 900)
    })

    test(`limits (${name}): a user who logs in correctly 30 times in a row is never 429, and neither is her address`, async () => {
      const h = await limitHarness({ LOGIN_RATE_LIMIT: '5/900', LOGIN_RATE_LIMIT_IP: '5/900' }, { store: await makeStore() })
      await h.server.addUser('alice', 'alice-password-1')
      for (let i = 0; i < 30; i++) assert.equal((await h.login('alice', 'alice-password-1')).status, 200, `login ${i}`)
      // The successes gave the address its attempts back: five failures are still needed to lock it.
      for (let i = 0; i < 5; i++) assert.equal((await h.login(`other-${i}`, 'wrong')).status, 401)
      assertLimited(await h.login('other-5', 'wrong'), 900)
    })
  })
}

describe('limits under concurrency: what is not charged', () => {
  test('limits: an address already refused cannot use up the budget of the names it tries', async () => {
    const h = await limitHarness({ LOGIN_RATE_LIMIT: '3/900', LOGIN_RATE_LIMIT_IP: '3/900' })
    await h.server.addUser('alice', 'alice-password-1')
    for (let i = 0; i < 3; i++) assert.equal((await h.login(`x${i}`, 'wrong')).status, 401)
    for (let i = 0; i < 20; i++) assertLimited(await h.login('alice', `wrong-${i}`), 900)
    assert.equal(h.verifications.length, 3)
    // From elsewhere, alice still has her three attempts, and her password works.
    for (let i = 0; i < 2; i++) assert.equal((await h.login('alice', 'wrong', B)).status, 401)
    assert.equal((await h.login('alice', 'alice-password-1', B)).status, 200)
  })

  test('limits: the counter store down means 503 with Retry-After and no password check (no guessing while it is out)', async () => {
    const inner = createMemoryStore()
    const store: SessionStore = {
      ...inner,
      async incrementCounter() {
        throw new Error('connection reset')
      },
    }
    const h = await limitHarness({}, { store })
    await h.server.addUser('alice', 'alice-password-1')
    for (const password of ['wrong', 'alice-password-1']) {
      const res = await h.login('alice', password)
      assert.equal(res.status, 503)
      assert.equal(res.json().code, 'store_unavailable')
      assert.ok(res.headers['retry-after'] !== undefined)
    }
    assert.equal(h.verifications.length, 0)
  })

  test('limits: the user database failing during the check charges nothing', async () => {
    let failing = true
    const h = await limitHarness(
      { LOGIN_RATE_LIMIT: '2/900', LOGIN_RATE_LIMIT_IP: '2/900' },
      {},
      {
        async beforeVerify() {
          if (failing) throw new Error('user database unavailable')
        },
      },
    )
    await h.server.addUser('alice', 'alice-password-1')
    for (let i = 0; i < 5; i++) assert.ok((await h.login('alice', 'wrong')).status >= 500)
    failing = false
    assert.equal((await h.login('alice', 'wrong')).status, 401)
    assert.equal((await h.login('alice', 'alice-password-1')).status, 200)
  })
})

describe('limits under concurrency: refresh', () => {
  test('limits: 200 failing refreshes from one address at once: 10 reach the store, the rest are 429', async () => {
    const progress = createProgress()
    let release!: () => void
    const door = new Promise<void>((resolve) => (release = resolve))
    const inner = createMemoryStore()
    let rotations = 0
    const store: SessionStore = {
      ...inner,
      async rotate(input) {
        rotations++
        progress.changed()
        await door
        return inner.rotate(input)
      },
    }
    const h = await limitHarness({ REFRESH_RATE_LIMIT: '10/60' }, { store })
    await h.server.addUser('alice', 'alice-password-1')
    const { refresh } = await h.server.login('alice', 'alice-password-1')
    assert.equal((await h.server.post('/api/auth/logout/', { refresh })).statusCode, 200)
    // Each refresh presents the revoked session's token: a failure known only after the store answers.
    let answered = 0
    const pending = Array.from({ length: 200 }, () =>
      h.refresh(refresh).then((res) => {
        answered++
        return res
      }),
    )
    await progress.until(() => rotations >= 10)
    // Let every other request get as far as it can (the store does not answer the ten yet):
    // before the fix, each one passed the limit check and reached the store too.
    for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve))
    release()
    const responses = await Promise.all(pending)
    assert.equal(answered, 200)
    assert.equal(rotations, 10)
    assert.deepEqual(tally(responses), { 401: 10, 429: 190 })
    for (const r of responses.filter((x) => x.status === 429)) assertLimited(r, 60)
    // Another address is not affected.
    assert.equal((await h.refresh(refresh, B)).json().code, 'token_revoked')
  })

  test('limits: 100 successful refreshes at once from one address (REFRESH_RATE_LIMIT=5/60) all succeed', async () => {
    const h = await limitHarness({ REFRESH_RATE_LIMIT: '5/60' })
    await h.server.addUser('alice', 'alice-password-1')
    const tokens = []
    for (let i = 0; i < 100; i++) tokens.push((await h.server.login('alice', 'alice-password-1')).refresh)
    const responses = await Promise.all(tokens.map((t) => h.refresh(t)))
    assert.deepEqual(tally(responses), { 200: 100 })
  })
})
