/**
 * GET /api/auth/sessions/ is one page-limited answer (issue 17 §3): at most `limit` (default
 * 100, at most 500) of the user's live sessions, the most recently used first, the caller's own
 * session always among them, and `X-Total-Count` with how many there are. A user with 1,000
 * sessions (made through the store, not HTTP), on the memory store and on a real Redis.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type TestServer, createTestServer } from '../helpers/make-server.js'
import { startRedisServer } from '../helpers/redis-server.js'

const PASSWORD = 'correct horse battery'
const SESSIONS = 1000

interface Row {
  id: string
  last_used_at: string
  current: boolean
}

function sid(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { sid: string }).sid
}

/** Alice logs in (her current session, the least recently used), then 1,000 more through the store. */
async function aliceWithManySessions(s: TestServer): Promise<{ access: string; refresh: string; current: string; userId: string }> {
  const userId = await s.addUser('alice', PASSWORD)
  await s.addUser('bob', PASSWORD)
  const tokens = await s.login('alice', PASSWORD)
  await s.login('bob', PASSWORD)
  const start = s.clock.now()
  const day = 86_400_000
  for (let i = 0; i < SESSIONS; i++) {
    const now = start + 1 + i * 50
    await s.deps.store.createSession({
      id: `s_many-${String(i).padStart(4, '0')}`,
      userId,
      jti: `j_many-${i}`,
      nextJti: `n_many-${i}`,
      now,
      expiresAt: now + day,
      absoluteExpiresAt: now + 30 * day,
      userAgent: `agent/${i}`,
      ip: null,
    })
  }
  // Every store session is newer than the login; the access token (300 s) is still valid.
  s.clock.advance(SESSIONS * 50 + 1000)
  return { ...tokens, current: sid(tokens.refresh), userId }
}

function list(s: TestServer, access: string, query = '') {
  return s.app.inject({ method: 'GET', url: `/api/auth/sessions/${query}`, headers: { authorization: `Bearer ${access}` } })
}

function assertNewestFirst(rows: Row[]): void {
  for (let i = 1; i < rows.length; i++)
    assert.ok(rows[i - 1]!.last_used_at >= rows[i]!.last_used_at, `row ${i} is more recent than row ${i - 1}`)
}

function suite(name: string, env: () => Record<string, string>): void {
  describe(`session list (${name})`, () => {
    let s: TestServer
    let alice: Awaited<ReturnType<typeof aliceWithManySessions>>

    before(async () => {
      s = await createTestServer({ REFRESH_RATE_LIMIT: 'off', ...env() })
      alice = await aliceWithManySessions(s)
    })
    after(() => s.close())

    test('no limit: the 100 most recently used, the current one last (it is the least recent), X-Total-Count 1001', async () => {
      const res = await list(s, alice.access)
      assert.equal(res.statusCode, 200)
      assert.equal(res.headers['x-total-count'], String(SESSIONS + 1))
      assert.equal(res.headers['cache-control'], 'no-store')
      const rows = res.json() as Row[]
      assert.equal(rows.length, 100)
      assert.deepEqual(
        rows.slice(0, 99).map((r) => r.id),
        Array.from({ length: 99 }, (_, i) => `s_many-${String(SESSIONS - 1 - i).padStart(4, '0')}`),
      )
      assert.deepEqual(rows.at(-1), { ...rows.at(-1), id: alice.current, current: true })
      assert.equal(rows.filter((r) => r.current).length, 1)
      assertNewestFirst(rows)
    })

    test('limit=500 is the most one page holds; limit=1 is the current session alone', async () => {
      const most = await list(s, alice.access, '?limit=500')
      assert.equal(most.statusCode, 200)
      assert.equal((most.json() as Row[]).length, 500)
      assert.equal(most.headers['x-total-count'], String(SESSIONS + 1))
      assertNewestFirst(most.json() as Row[])
      const one = await list(s, alice.access, '?limit=1')
      assert.deepEqual(
        (one.json() as Row[]).map((r) => [r.id, r.current]),
        [[alice.current, true]],
      )
    })

    test('a refresh makes the current session the most recently used: it comes first', async () => {
      const refreshed = await s.post('/api/auth/refresh/', { refresh: alice.refresh })
      assert.equal(refreshed.statusCode, 200, refreshed.body)
      const { access } = refreshed.json() as { access: string }
      const rows = (await list(s, access, '?limit=3')).json() as Row[]
      assert.deepEqual(
        rows.map((r) => r.id),
        [alice.current, 's_many-0999', 's_many-0998'],
      )
      assert.equal(rows[0]!.current, true)
    })

    test('limit out of range or not an integer is 400 bad_request naming limit; without a bearer token, 401 first', async () => {
      for (const [query, message] of [
        ['?limit=0', 'Ensure this value is greater than or equal to 1.'],
        ['?limit=-3', 'Ensure this value is greater than or equal to 1.'],
        ['?limit=501', 'Ensure this value is less than or equal to 500.'],
        ['?limit=99999999999999999999', 'A valid integer is required.'],
        ['?limit=abc', 'A valid integer is required.'],
        ['?limit=1.5', 'A valid integer is required.'],
        ['?limit=', 'A valid integer is required.'],
        ['?limit=1&limit=2', 'A valid integer is required.'],
      ] as const) {
        const res = await list(s, alice.access, query)
        assert.equal(res.statusCode, 400, query)
        assert.deepEqual(res.json(), { detail: 'Invalid query parameters.', code: 'bad_request', messages: { limit: message } }, query)
      }
      const anonymous = await s.app.inject({ method: 'GET', url: '/api/auth/sessions/?limit=0' })
      assert.equal(anonymous.statusCode, 401)
      assert.equal(anonymous.json().code, 'token_not_valid')
      // Other query parameters are ignored, as before.
      assert.equal((await list(s, alice.access, '?page=2&limit=2')).statusCode, 200)
    })
  })
}

suite('memory', () => ({}))

let redisURL = ''
describe('redis', () => {
  let stop = async (): Promise<void> => {}
  before(async () => {
    const r = await startRedisServer()
    stop = () => r.stop()
    redisURL = r.url
  })
  after(() => stop())
  suite('redis', () => ({ BATON_STORE: 'redis', REDIS_URL: redisURL }))
})
