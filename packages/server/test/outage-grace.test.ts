import assert from 'node:assert/strict'
import { test } from 'node:test'
import { withFaultSwitch } from '../src/store/fault-switch.js'
import { createMemoryStore } from '../src/store/memory.js'
import { createFakeClock } from './helpers/fake-clock.js'
import { createTestServer } from './helpers/make-server.js'
import { startRedisServer, waitFor } from './helpers/redis-server.js'

// The chaos run's case (issue 15): a rotation commits but its answer is lost, and the store then
// stays unreachable for longer than the 15 s grace window. The client still holds the previous
// token; the retry that gets through after the outage must answer the successor, not
// token_reused (which logged honest users out).
test('a refresh whose answer was lost, retried through a store outage longer than the grace window, answers the successor', async (t) => {
  const { store, fault } = withFaultSwitch(createMemoryStore())
  const server = await createTestServer({ REFRESH_GRACE_SECONDS: '15' }, { store })
  t.after(() => server.close())
  await server.addUser('ann', 'correct horse')
  const pair = await server.login('ann', 'correct horse')

  const first = await server.post('/api/auth/refresh/', { refresh: pair.refresh })
  assert.equal(first.statusCode, 200)
  const successor = first.json<{ refresh: string }>().refresh
  // ...whose answer never reached the client, which keeps retrying with the old token.

  server.clock.advance(2_000)
  fault.set(true)
  for (let i = 0; i < 10; i++) {
    const res = await server.post('/api/auth/refresh/', { refresh: pair.refresh })
    assert.equal(res.statusCode, 503, res.body)
    assert.ok(res.headers['retry-after'] !== undefined)
    server.clock.advance(2_000)
  }
  fault.set(false)
  // The guard's probe closes the circuit by itself once the store answers again.
  await waitFor(async () => (await server.get('/readyz')).statusCode === 200, 5_000, 'the circuit to close')

  server.clock.advance(1_000) // 23 s after the rotation, 3 s of them with a store that answered
  const retry = await server.post('/api/auth/refresh/', { refresh: pair.refresh })
  assert.equal(retry.statusCode, 200, retry.body)
  const jti = (token: string): unknown => JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).jti
  assert.equal(jti(retry.json<{ refresh: string }>().refresh), jti(successor))
  assert.equal(server.logs.filter((l) => l.audit === 'reused').length, 0)

  // The window still closes: 16 s of a working store later, the old token is reuse.
  server.clock.advance(13_000)
  const late = await server.post('/api/auth/refresh/', { refresh: pair.refresh })
  assert.equal(late.statusCode, 401)
  assert.equal(late.json<{ code: string }>().code, 'token_reused')
})

test('OutageSpans: a span runs from the first failed call to the next answer; one under way ends now; old ones go', async () => {
  const { OutageSpans, graceCredit, MAX_GRACE_CREDIT_MS } = await import('../src/store/outage-spans.js')
  const spans = new OutageSpans()
  spans.succeeded(1_000) // nothing under way: nothing recorded
  assert.deepEqual(spans.list(1_000), [])
  spans.failed(2_000)
  spans.failed(1_500) // a call that started earlier and failed later moves the start back
  spans.failed(3_000)
  assert.deepEqual(spans.list(4_000), [[1_500, 4_000]])
  spans.succeeded(5_000)
  assert.deepEqual(spans.list(6_000), [[1_500, 5_000]])
  assert.equal(spans.list(6_000), spans.list(6_500), 'no outage under way, nothing changed: the same array')
  for (let i = 0; i < 40; i++) {
    spans.failed(10_000 + i * 10)
    spans.succeeded(10_005 + i * 10)
  }
  assert.equal(spans.list(11_000).length, 32)
  assert.deepEqual(spans.list(11_000 + 11 * 60_000), [])
  // Credit: overlap with [graceUntil - graceMs, now], capped.
  assert.equal(graceCredit([[0, 10_000]], 20_000, 15_000, 30_000), 5_000)
  assert.equal(graceCredit([[0, 10_000 * 60_000]], 15_000, 15_000, 20 * 60_000), MAX_GRACE_CREDIT_MS)
  assert.equal(graceCredit(undefined, 15_000, 15_000, 20_000), 0)
})

const jtiOf = (token: string): unknown => JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).jti

// The 30-minute chaos run of 2026-12-07: the rotation's answer was lost during an outage, the
// instance that saw the outage was killed, and the retry reached the restarted instance 23 s
// after the rotation. That instance had seen no outage, so the window had closed: token_reused,
// an honest user logged out. The spans are now kept in Redis, where every instance reads them.
test('redis: an outage one instance saw still extends the grace window after it restarts (the spans live in the store)', async (t) => {
  const redis = await startRedisServer()
  t.after(() => redis.stop())
  const clock = createFakeClock(Date.now())
  const env = { BATON_STORE: 'redis', REDIS_URL: redis.url, STORE_TIMEOUT_MS: '200', REFRESH_GRACE_SECONDS: '15' }
  const first = await createTestServer(env, { clock })
  await first.addUser('ann', 'correct horse')
  const pair = await first.login('ann', 'correct horse')
  const rotated = await first.post('/api/auth/refresh/', { refresh: pair.refresh })
  assert.equal(rotated.statusCode, 200)
  const successor = rotated.json<{ refresh: string }>().refresh
  // ...whose answer never reached the client. Then Redis stops answering for 20 s.
  clock.advance(2_000)
  redis.pause()
  for (let i = 0; i < 10; i++) {
    assert.equal((await first.post('/api/auth/refresh/', { refresh: pair.refresh })).statusCode, 503)
    clock.advance(2_000)
  }
  redis.resume()
  await waitFor(async () => (await first.get('/readyz')).statusCode === 200, 5_000, 'the circuit to close')
  const saved = async (): Promise<string[]> => (await redis.command('ZRANGE', 'baton:outages', '0', '-1')) as string[]
  await waitFor(async () => (await saved()).length === 1, 5_000, 'the span to be saved')
  assert.ok(Number(await redis.command('PTTL', 'baton:outages')) > 0, 'the key has a TTL')
  await first.close()

  // The instance comes back (a new process: nothing in memory) and the client's retry reaches it.
  clock.advance(1_000)
  const second = await createTestServer(env, { clock })
  t.after(() => second.close())
  const retry = await second.post('/api/auth/refresh/', { refresh: pair.refresh })
  assert.equal(retry.statusCode, 200, retry.body)
  assert.equal(jtiOf(retry.json<{ refresh: string }>().refresh), jtiOf(successor))
  assert.equal(second.logs.filter((l) => l.audit === 'reused').length, 0)
  // The window still closes once the store has answered for 15 s after the rotation.
  clock.advance(14_000)
  const late = await second.post('/api/auth/refresh/', { refresh: pair.refresh })
  assert.equal(late.json<{ code: string }>().code, 'token_reused', late.body)
  // Bounded however often the store flaps: the newest 64 spans.
  const store = (await import('../src/store/redis.js')).createRedisStore({ url: redis.url })
  await waitFor(
    () =>
      store.ping().then(
        () => true,
        () => false,
      ),
    5_000,
    'the store to connect',
  )
  for (let i = 0; i < 70; i++) await store.saveOutage([clock.now() + i, clock.now() + i + 1], clock.now())
  assert.equal(Number(await redis.command('ZCARD', 'baton:outages')), 64)
  assert.equal((await store.loadOutages(clock.now())).length, 64)
  await store.close()
})

test('unionSpans / decodeSpans: overlapping spans are one (no instant credited twice); malformed members are skipped', async () => {
  const { unionSpans, decodeSpans, graceCredit } = await import('../src/store/outage-spans.js')
  const own = [[1_000, 5_000]] as const
  assert.equal(unionSpans(own, []), own, 'nothing shared: the same list, no allocation')
  assert.deepEqual(unionSpans(own, [[1_000, 5_000]]), [[1_000, 5_000]], 'its own span read back from the store')
  assert.deepEqual(
    unionSpans(own, [
      [4_000, 9_000],
      [20_000, 21_000],
    ]),
    [
      [1_000, 9_000],
      [20_000, 21_000],
    ],
  )
  assert.equal(graceCredit(unionSpans(own, [[1_000, 5_000]]), 15_000, 15_000, 20_000), 4_000)
  assert.deepEqual(decodeSpans(['1,2', 'x,3', '5', '9,7', '10,20']), [
    [1, 2],
    [10, 20],
  ])
  const many = Array.from({ length: 50 }, (_, i) => [i * 10, i * 10 + 1] as const)
  assert.equal(unionSpans([], many).length, 32)
})
