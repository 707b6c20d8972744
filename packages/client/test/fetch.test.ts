import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isSessionExpiredError } from '../src/errors.js'
import { createWorld } from './helpers/tabs.js'

test('fetch: attaches the bearer token to requests for the baseURL origin, paths resolved against baseURL', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  const { access } = await client.login({ username: 'ada', password: 'lovelace' })
  const response = await client.fetch('/api/me/')
  assert.equal(response.status, 200)
  assert.deepEqual(await response.json(), { id: 'ada', username: 'ada' })
  const sent = world.server.log.at(-1)
  assert.equal(sent?.path, '/api/me/')
  assert.equal(sent?.authorization, `Bearer ${access}`)
})

test('fetch: never sends the token to another origin', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await client.login({ username: 'ada', password: 'lovelace' })
  await client.fetch('https://elsewhere.test/api/me/')
  await client.fetch(new Request('https://api.test.evil.test/api/me/'))
  assert.deepEqual(
    world.browser.foreign.map((request) => request.authorization),
    [null, null],
  )
})

test("fetch: leaves a caller's own Authorization header alone", async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await client.login({ username: 'ada', password: 'lovelace' })
  await client.fetch('/api/me/', { headers: { Authorization: 'Basic abc' } })
  assert.equal(world.server.log.at(-1)?.authorization, 'Basic abc')
})

test('fetch: without a session the request goes out without a token and its 401 is returned', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  const response = await client.fetch('/api/me/')
  assert.equal(response.status, 401)
  assert.equal(world.server.log.at(-1)?.authorization, null)
  assert.equal(world.server.calls.refresh, 0)
})

test('fetch: N concurrent 401s cause exactly one refresh and every request is retried once', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await client.login({ username: 'ada', password: 'lovelace' })
  world.server.invalidateAccessTokens()
  const release = world.server.holdRefresh()
  const n = 8
  const pending = Array.from({ length: n }, () => client.fetch('/api/me/'))
  // Every request has had its 401 while the one refresh is held: they all wait on it.
  await world.server.until(() => world.server.calls.unauthorized === n && world.server.calls.refresh >= 1)
  assert.equal(world.server.calls.refresh, 1)
  release()
  const responses = await Promise.all(pending)
  assert.deepEqual(
    responses.map((response) => response.status),
    Array(n).fill(200),
  )
  assert.equal(world.server.calls.refresh, 1)
  assert.equal(world.server.calls.api, 2 * n)
})

test('fetch: a retried request answered 401 again is returned as is, with no second refresh', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await client.login({ username: 'ada', password: 'lovelace' })
  world.server.invalidateAccessTokens()
  const original = world.server.handle
  // Every access token is refused, even the refreshed one (for the first few refreshes, so a
  // client that loops fails this test instead of hanging it).
  const handle: typeof original = async (request) => {
    const response = await original(request)
    if (new URL(request.url).pathname === '/api/auth/refresh/' && world.server.calls.refresh < 5) world.server.invalidateAccessTokens()
    return response
  }
  ;(world.server as { handle: typeof original }).handle = handle
  const response = await client.fetch('/api/me/')
  assert.equal(response.status, 401)
  assert.equal(world.server.calls.refresh, 1)
  assert.equal(world.server.calls.api, 2)
})

test('fetch: a request to the refresh endpoint through client.fetch is not intercepted', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await client.login({ username: 'ada', password: 'lovelace' })
  const response = await client.fetch('/api/auth/refresh/', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh: 'not-a-token' }),
  })
  assert.equal(response.status, 401)
  assert.equal(world.server.calls.refresh, 1)
  const sent = world.server.log.at(-1)
  assert.equal(sent?.path, '/api/auth/refresh/')
  assert.equal(sent?.authorization, null)
  // The session is untouched: the client did not treat that 401 as its own.
  assert.equal((await client.fetch('/api/me/')).status, 200)
})

test('fetch: the retry resends the original method and body', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await client.login({ username: 'ada', password: 'lovelace' })
  world.server.invalidateAccessTokens()
  const response = await client.fetch('/api/echo/', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ n: 42 }),
  })
  assert.equal(response.status, 200)
  assert.deepEqual(await response.json(), { method: 'POST', body: { n: 42 } })
  assert.equal(world.server.calls.refresh, 1)
})

test('fetch: a 401 after another request already refreshed retries with the new token, no refresh', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await client.login({ username: 'ada', password: 'lovelace' })
  world.server.invalidateAccessTokens()
  assert.equal((await client.fetch('/api/me/')).status, 200)
  assert.equal(world.server.calls.refresh, 1)
  // A request sent with the old token before the refresh, answered after it.
  const oldToken = world.server.log.find((entry) => entry.path === '/api/me/')?.authorization
  assert.ok(oldToken)
  const fresh = await client.refreshAfterUnauthorized(oldToken.slice('Bearer '.length))
  assert.notEqual(`Bearer ${fresh}`, oldToken)
  assert.equal(world.server.calls.refresh, 1)
})

test('fetch: when the refresh is answered 401 the caller gets SessionExpiredError', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  const { access } = await client.login({ username: 'ada', password: 'lovelace' })
  world.server.invalidateAccessTokens()
  world.server.revokeSessionOf(access)
  await assert.rejects(client.fetch('/api/me/'), (error) => {
    assert.ok(isSessionExpiredError(error))
    assert.equal(error.code, 'token_revoked')
    return true
  })
})

test('fetch: concurrent 401s share one refresh even with a lock that serialises nothing', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab({ lock: (_name, fn) => fn() })
  await client.login({ username: 'ada', password: 'lovelace' })
  world.server.invalidateAccessTokens()
  const release = world.server.holdRefresh()
  const pending = Array.from({ length: 4 }, () => client.fetch('/api/me/'))
  await world.server.until(() => world.server.calls.unauthorized === 4 && world.server.calls.refresh >= 1)
  release()
  assert.deepEqual(
    (await Promise.all(pending)).map((response) => response.status),
    [200, 200, 200, 200],
  )
  assert.equal(world.server.calls.refresh, 1)
})
