import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import axios from 'axios'
import { type AuthClient, createAuthClient, isRefreshUnavailableError, isSessionExpiredError } from '../packages/client/src/index.js'
import { attachAxios } from '../packages/client/src/axios.js'
import { createFakeTime } from '../packages/client/test/helpers/fake-time.js'
import { createFakeClock } from '../packages/server/test/helpers/fake-clock.js'
import { type TestServer, createTestServer } from '../packages/server/test/helpers/make-server.js'
import { startRedisServer } from '../packages/server/test/helpers/redis-server.js'

/**
 * SPEC §6 rules with the client in Node against the REAL baton server over a real socket (the
 * browser scenarios are in the other e2e files). The server and the client each get their own
 * fake clock, so a test can let the server see an access token expire while the client still
 * believes it valid: that is how a real 401 reaches the client, with no sleeping.
 */

const PASSWORD = 'lovelace-password'

interface Setup {
  server: TestServer
  baseURL: string
  /** Paths the server was asked for, in order. */
  paths: string[]
  statuses: number[]
  client(): AuthClient
  clientTime: ReturnType<typeof createFakeTime>
}

async function setUp(env: Record<string, string> = {}): Promise<Setup> {
  const start = Date.now()
  const serverClock = createFakeClock(start)
  const clientTime = createFakeTime(start)
  const server = await createTestServer(env, { clock: serverClock })
  after(() => server.close())
  const paths: string[] = []
  const statuses: number[] = []
  server.app.addHook('onResponse', (request, reply, done) => {
    paths.push(request.url)
    statuses.push(reply.statusCode)
    done()
  })
  await server.app.listen({ port: 0, host: '127.0.0.1' })
  const address = server.app.server.address()
  const baseURL = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/`
  await server.addUser('ada', PASSWORD)
  return {
    server,
    baseURL,
    paths,
    statuses,
    clientTime,
    client: () => createAuthClient({ baseURL, storage: 'memory', now: clientTime.now, timers: clientTime.timers }),
  }
}

const refreshes = (paths: string[]): number => paths.filter((p) => p.startsWith('/api/auth/refresh')).length

test('client+server: concurrent 401s from fetch and two axios instances share one refresh, and each request is retried once', async () => {
  const s = await setUp()
  const client = s.client()
  await client.login({ username: 'ada', password: PASSWORD })
  const a = axios.create({ baseURL: s.baseURL })
  const b = axios.create({ baseURL: s.baseURL })
  attachAxios(a, client)
  attachAxios(b, client)
  // Only the server's clock moves: it now refuses the access token the client thinks is fresh.
  s.server.clock.advance(310_000) // past exp and the 5 s leeway
  const results = await Promise.all([
    client.fetch('/api/me/').then((r) => r.status),
    client.fetch('/api/me/').then((r) => r.status),
    a.get('/api/me/').then((r) => r.status),
    b.get('/api/me/').then((r) => r.status),
    b.get('/api/me/').then((r) => r.status),
  ])
  assert.deepEqual(results, [200, 200, 200, 200, 200])
  assert.equal(refreshes(s.paths), 1, 'one refresh for every concurrent 401')
  assert.equal(s.statuses.filter((c) => c === 401).length, 5, 'each request saw one 401, then its retry succeeded')
  assert.equal(s.paths.filter((p) => p.startsWith('/api/me')).length, 10, 'each request sent twice: once, then one retry')
})

test('client+server: proactive refresh before expiry means the server never answers 401', async () => {
  const s = await setUp()
  const client = s.client()
  await client.login({ username: 'ada', password: PASSWORD })
  for (let i = 0; i < 12; i++) {
    // Both clocks move together: 4 access-token lifetimes in 100 s steps.
    s.server.clock.advance(100_000)
    s.clientTime.advance(100_000)
    assert.equal((await client.fetch('/api/me/')).status, 200)
  }
  assert.equal(s.statuses.filter((c) => c === 401).length, 0)
  assert.ok(refreshes(s.paths) >= 4, `refreshed ahead of each expiry (${refreshes(s.paths)})`)
})

test('client+server: refresh answered 401 (session revoked elsewhere) clears tokens, emits session-expired and rejects with SessionExpiredError', async () => {
  const s = await setUp()
  const client = s.client()
  const expired: unknown[] = []
  client.on('session-expired', (payload) => expired.push(payload))
  const { access } = await client.login({ username: 'ada', password: PASSWORD })
  // Another device logs out everywhere.
  const res = await fetch(new URL('/api/auth/logout-all/', s.baseURL), { method: 'POST', headers: { authorization: `Bearer ${access}` } })
  assert.equal(res.status, 200)
  s.server.clock.advance(310_000) // past exp and the 5 s leeway
  await assert.rejects(
    client
      .getAccessToken()
      .then(() => client.fetch('/api/me/'))
      .then(async (r) => {
        if (r.status === 401) throw new Error('request answered 401 without a session-expired rejection')
        return r
      }),
    (error) => isSessionExpiredError(error),
  )
  assert.deepEqual(expired, [{ code: 'token_revoked' }])
  assert.equal(refreshes(s.paths), 1, 'no loop: one refresh attempt')
  // Tokens were cleared: there is no session to hand out any more.
  await assert.rejects(client.getAccessToken(), (error) => {
    return isSessionExpiredError(error)
  })
})

test('client+server: a store outage keeps the session: degraded once, RefreshUnavailableError meanwhile, recovered when Redis is back — never a logout', async () => {
  const redis = await startRedisServer({ aof: true })
  after(() => redis.stop())
  const s = await setUp({ BATON_STORE: 'redis', REDIS_URL: redis.url, STORE_TIMEOUT_MS: '300' })
  const client = s.client()
  const events: string[] = []
  for (const name of ['degraded', 'recovered', 'session-expired'] as const) client.on(name, () => events.push(name))
  await client.login({ username: 'ada', password: PASSWORD })
  await redis.kill()
  s.server.clock.advance(310_000) // past exp and the 5 s leeway
  s.clientTime.advance(310_000)
  await assert.rejects(client.getAccessToken(), (error) => isRefreshUnavailableError(error) && error.retryAfter >= 1)
  await assert.rejects(client.fetch('/api/me/'), (error) => isRefreshUnavailableError(error))
  assert.deepEqual(events, ['degraded'])

  await redis.restart()
  // The client retries on its own backoff (fake timers): move its clock until it recovers.
  for (let i = 0; i < 40 && !events.includes('recovered'); i++) {
    s.clientTime.advance(1_000)
    await new Promise((r) => setTimeout(r, 50))
  }
  assert.deepEqual(events, ['degraded', 'recovered'])
  assert.equal((await client.fetch('/api/me/')).status, 200)
  assert.equal(s.statuses.filter((c) => c === 401).length, 0, 'no 401 during the outage: the client never sent an expired token')
})
