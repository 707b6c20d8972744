import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import axios, { AxiosError } from 'axios'
import { attachAxios } from '../src/axios.js'
import { createAuthClient } from '../src/client.js'
import { isRefreshUnavailableError, isSessionExpiredError } from '../src/errors.js'
import { createInProcessLock } from '../src/tab-lock.js'
import { createFakeServer, type FakeServerOptions } from './helpers/fake-server.js'
import { createFakeTime } from './helpers/fake-time.js'
import { serveOverHTTP } from './helpers/http-server.js'

const ADA = { username: 'ada', password: 'lovelace' }

/** The real axios and Node's real fetch against a fake baton server on a real socket. */
async function setUp(t: TestContext, serverOptions: Omit<FakeServerOptions, 'now'> = {}) {
  const time = createFakeTime()
  const server = createFakeServer({ ...serverOptions, now: time.now })
  const { origin, port } = await serveOverHTTP(t, server)
  const client = createAuthClient({
    baseURL: `${origin}/`,
    now: time.now,
    timers: time.timers,
    random: () => 0.5,
    lock: createInProcessLock(),
  })
  t.after(() => client.close())
  const api = axios.create({ baseURL: `${origin}/api/` })
  const detach = attachAxios(api, client)
  return { time, server, origin, port, client, api, detach }
}

test('axios: attaches the bearer token; a 401 refreshes once and the request is retried once', async (t) => {
  const { server, client, api } = await setUp(t)
  const { access } = await client.login(ADA)
  const first = await api.get('me/')
  assert.deepEqual(first.data, { id: 'ada', username: 'ada' })
  assert.equal(server.log.at(-1)?.authorization, `Bearer ${access}`)
  server.invalidateAccessTokens()
  const second = await api.get('me/')
  assert.equal(second.status, 200)
  assert.equal(server.calls.refresh, 1)
  assert.notEqual(server.log.at(-1)?.authorization, `Bearer ${access}`)
})

test('axios: two instances and client.fetch share one refresh', async (t) => {
  const { server, client, api, origin } = await setUp(t)
  const other = axios.create({ baseURL: origin })
  attachAxios(other, client)
  await client.login(ADA)
  server.invalidateAccessTokens()
  const release = server.holdRefresh()
  const pending = Promise.all([
    api.get('me/').then((response) => response.status),
    api.post('echo/', { n: 1 }).then((response) => response.status),
    other.get('/api/me/').then((response) => response.status),
    client.fetch('/api/me/').then((response) => response.status),
  ])
  await server.until(() => server.calls.unauthorized === 4 && server.calls.refresh >= 1)
  assert.equal(server.calls.refresh, 1)
  release()
  assert.deepEqual(await pending, [200, 200, 200, 200])
  assert.equal(server.calls.refresh, 1)
  assert.equal(server.calls.api, 8)
})

test('axios: a retried request answered 401 again rejects with its AxiosError, no second refresh', async (t) => {
  const { server, client, api } = await setUp(t)
  await client.login(ADA)
  server.invalidateAccessTokens()
  const original = server.handle
  ;(server as { handle: typeof original }).handle = async (request) => {
    const response = await original(request)
    if (new URL(request.url).pathname === '/api/auth/refresh/' && server.calls.refresh < 5) server.invalidateAccessTokens()
    return response
  }
  await assert.rejects(api.get('me/'), (error) => {
    assert.ok(error instanceof AxiosError)
    assert.equal(error.response?.status, 401)
    return true
  })
  assert.equal(server.calls.refresh, 1)
  assert.equal(server.calls.api, 2)
})

test('axios: the refresh endpoint called through axios is not intercepted', async (t) => {
  const { server, client, origin } = await setUp(t)
  const root = axios.create({ baseURL: origin })
  attachAxios(root, client)
  await client.login(ADA)
  await assert.rejects(root.post('/api/auth/refresh/', { refresh: 'junk' }), (error) => {
    assert.ok(error instanceof AxiosError)
    assert.equal(error.response?.status, 401)
    return true
  })
  assert.equal(server.calls.refresh, 1)
  assert.equal(server.log.at(-1)?.authorization, null)
  assert.equal((await root.get('/api/me/')).status, 200)
})

test('axios: a refresh answered 401 rejects with SessionExpiredError', async (t) => {
  const { server, client, api } = await setUp(t)
  const { access } = await client.login(ADA)
  server.invalidateAccessTokens()
  server.revokeSessionOf(access)
  await assert.rejects(api.get('me/'), (error) => isSessionExpiredError(error) && error.code === 'token_revoked')
})

test('axios: a 503 during refresh rejects with RefreshUnavailableError and keeps the session', async (t) => {
  const { server, client, api, time } = await setUp(t)
  await client.login(ADA)
  server.refreshFailure = { status: 503, retryAfter: 2 }
  time.advance(301_000)
  await assert.rejects(api.get('me/'), (error) => isRefreshUnavailableError(error) && error.retryAfter === 3)
  server.refreshFailure = null
  time.advance(3_000)
  assert.equal((await api.get('me/')).status, 200)
  assert.equal(server.calls.refresh, 2)
})

test('axios: a request for another origin gets no token', async (t) => {
  const { server, client, port } = await setUp(t)
  const plain = axios.create()
  attachAxios(plain, client)
  await client.login(ADA)
  // localhost and 127.0.0.1 are different origins.
  await assert.rejects(plain.get(`http://localhost:${port}/api/me/`), { name: 'AxiosError' })
  assert.equal(server.log.at(-1)?.authorization, null)
})

test("axios: a caller's own Authorization header is left alone", async (t) => {
  const { server, client, api } = await setUp(t)
  await client.login(ADA)
  await assert.rejects(api.get('me/', { headers: { Authorization: 'Bearer mine' } }), {
    name: 'AxiosError',
  })
  assert.equal(server.log.at(-1)?.authorization, 'Bearer mine')
  assert.equal(server.calls.refresh, 0)
})

test('axios: detach removes both interceptors', async (t) => {
  const { server, client, api, detach } = await setUp(t)
  await client.login(ADA)
  detach()
  await assert.rejects(api.get('me/'), (error) => error instanceof AxiosError && error.response?.status === 401)
  assert.equal(server.log.at(-1)?.authorization, null)
  assert.equal(server.calls.refresh, 0)
})
