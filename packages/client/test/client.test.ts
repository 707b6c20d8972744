import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isHTTPError, isNetworkError } from '../src/errors.js'
import { readTokens } from '../src/token-storage.js'
import { CSRF_HEADER } from '../src/wire.js'
import { claimsOf } from './helpers/jwt.js'
import { createWorld, nextEvent, recordEvents, settle } from './helpers/tabs.js'

const ADA = { username: 'ada', password: 'lovelace' }

test('login: stores the pair and fires tokens with expiresAt on the local clock', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  const events = recordEvents(client)
  const result = await client.login(ADA)
  const stored = await readTokens(world.storage, client.options.storageKey)
  assert.equal(stored?.access, result.access)
  assert.equal(claimsOf(stored?.refresh ?? '')['token_type'], 'refresh')
  // The answer's Date agrees with the local clock to the second: no skew correction.
  assert.equal(result.expiresAt, world.time.now() + 300_000)
  assert.deepEqual(events, [{ name: 'tokens', payload: result }])
  assert.deepEqual(world.server.log.at(-1)?.body, ADA)
  assert.equal(await client.getAccessToken(), result.access)
})

test('login: wrong password rejects with HTTPError invalid_credentials and stores nothing', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await assert.rejects(client.login({ username: 'ada', password: 'nope' }), (error) => {
    assert.ok(isHTTPError(error))
    assert.equal(error.status, 401)
    assert.equal(error.code, 'invalid_credentials')
    assert.equal(error.detail, 'fake: invalid_credentials')
    // The request kept in the error has no body: the password cannot leak through it.
    assert.equal(error.request.body, null)
    assert.ok(!error.message.includes('nope'))
    return true
  })
  assert.equal(await readTokens(world.storage, client.options.storageKey), null)
})

test('login: a 503 rejects with HTTPError store_unavailable carrying retryAfter', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  const original = world.server.handle
  ;(world.server as { handle: typeof original }).handle = async () =>
    new Response(JSON.stringify({ detail: 'down', code: 'store_unavailable' }), {
      status: 503,
      headers: { 'retry-after': '3' },
    })
  await assert.rejects(client.login(ADA), {
    name: 'HTTPError',
    status: 503,
    code: 'store_unavailable',
    retryAfter: 3,
  })
})

test('login: a network failure rejects with NetworkError', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  world.browser.offline = true
  await assert.rejects(client.login(ADA), (error) => {
    assert.ok(isNetworkError(error))
    assert.equal(error.code, 'network_error')
    assert.ok(error.cause instanceof TypeError)
    return true
  })
})

test('login: a 200 without tokens rejects with invalid_response', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  ;(world.server as { handle: typeof world.server.handle }).handle = async () => new Response('<html>')
  await assert.rejects(client.login(ADA), { name: 'HTTPError', code: 'invalid_response' })
})

test('login: misuse is a TypeError', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await assert.rejects(client.login({ username: 'ada' } as never), TypeError)
  assert.equal(world.server.calls.login, 0)
})

test('getAccessToken: without a session rejects with SessionExpiredError not_authenticated', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await assert.rejects(client.getAccessToken(), {
    name: 'SessionExpiredError',
    code: 'not_authenticated',
  })
  assert.equal(world.server.calls.refresh, 0)
})

test('logout: revokes the session on the server, clears storage and fires logout', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await client.login(ADA)
  const stored = await readTokens(world.storage, client.options.storageKey)
  const events = recordEvents(client)
  await client.logout()
  assert.deepEqual(events, [{ name: 'logout', payload: {} }])
  assert.equal(await readTokens(world.storage, client.options.storageKey), null)
  const sent = world.server.log.at(-1)
  assert.equal(sent?.path, '/api/auth/logout/')
  assert.deepEqual(sent?.body, { refresh: stored?.refresh })
  // The refresh token is now dead on the server too.
  const response = await world.browser.fetch('https://api.test/api/auth/refresh/', {
    method: 'POST',
    body: JSON.stringify({ refresh: stored?.refresh }),
  })
  assert.equal(response.status, 401)
  assert.equal((await client.fetch('/api/me/')).status, 401)
})

test('logout: with the server unreachable the local logout still happens and NetworkError says so', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await client.login(ADA)
  world.browser.offline = true
  await assert.rejects(client.logout(), { name: 'NetworkError' })
  assert.equal(await readTokens(world.storage, client.options.storageKey), null)
  await assert.rejects(client.getAccessToken(), { name: 'SessionExpiredError' })
})

test('logout: without a session sends nothing (body mode)', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  const events = recordEvents(client)
  await client.logout()
  assert.equal(world.server.calls.logout, 0)
  assert.deepEqual(events, [])
})

test('client: with rotation off the refresh answers {access} and the refresh token is kept', async (t) => {
  const world = createWorld({ server: { rotate: false } })
  t.after(world.close)
  const client = world.tab()
  await client.login(ADA)
  const before = await readTokens(world.storage, client.options.storageKey)
  world.time.advance(301_000)
  assert.equal((await client.fetch('/api/me/')).status, 200)
  const after = await readTokens(world.storage, client.options.storageKey)
  assert.notEqual(after?.access, before?.access)
  assert.equal(after?.refresh, before?.refresh)
  world.time.advance(301_000)
  assert.equal((await client.fetch('/api/me/')).status, 200)
  assert.equal(world.server.calls.refresh, 2)
})

test('client: a listener that throws does not break the client', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  const reported: unknown[] = []
  const original = console.error
  console.error = (error: unknown) => reported.push(error)
  t.after(() => {
    console.error = original
  })
  client.on('tokens', () => {
    throw new Error('listener bug')
  })
  const seen = nextEvent(client, 'tokens')
  await client.login(ADA)
  await seen
  assert.equal(reported.length, 1)
  assert.equal((await client.fetch('/api/me/')).status, 200)
})

test('cookie mode: keeps only the access token, in memory; sends credentials include and the CSRF header', async (t) => {
  const world = createWorld({ server: { mode: 'cookie' } })
  t.after(world.close)
  const client = world.tab()
  assert.equal(client.options.storage, null)
  const { access } = await client.login(ADA)
  assert.equal(world.server.log.at(-1)?.credentials, 'include')
  assert.ok(world.browser.cookies.has('baton_refresh'), 'the HttpOnly cookie is in the browser jar')
  assert.deepEqual(world.hub.posted.at(-1), { type: 'tokens', access, skew: 0, lifetime: 300_000 })

  world.time.advance(301_000)
  assert.equal((await client.fetch('/api/me/')).status, 200)
  const refresh = world.server.log.find((entry) => entry.path === '/api/auth/refresh/')
  assert.equal(refresh?.credentials, 'include')
  assert.equal(refresh?.csrf, '1')
  assert.deepEqual(refresh?.body, {})
  assert.match(refresh?.cookie ?? '', /^baton_refresh=/)

  await client.logout()
  const logout = world.server.log.at(-1)
  assert.equal(logout?.path, '/api/auth/logout/')
  assert.equal(logout?.csrf, '1')
  assert.equal(logout?.credentials, 'include')
  assert.equal(world.browser.cookies.has('baton_refresh'), false)
  assert.equal(CSRF_HEADER, 'X-Baton-CSRF')
})

test('cookie mode: a new tab resumes the session from the cookie with one refresh', async (t) => {
  const world = createWorld({ server: { mode: 'cookie' } })
  t.after(world.close)
  const a = world.tab()
  await a.login(ADA)
  a.close()
  const b = world.tab()
  assert.equal((await b.fetch('/api/me/')).status, 200)
  assert.equal(world.server.calls.refresh, 1)
  assert.equal(world.server.calls.login, 1)
})

test('cookie mode: without a cookie, requests go out anonymously and no session-expired fires', async (t) => {
  const world = createWorld({ server: { mode: 'cookie' } })
  t.after(world.close)
  const client = world.tab()
  const events = recordEvents(client)
  assert.equal((await client.fetch('/api/me/')).status, 401)
  assert.equal((await client.fetch('/api/me/')).status, 401)
  await assert.rejects(client.getAccessToken(), { name: 'SessionExpiredError' })
  // One probe of the cookie, not one per request.
  assert.equal(world.server.calls.refresh, 1)
  assert.deepEqual(events, [])
})

test('cookie mode: tabs share the access token over the channel and refresh once', async (t) => {
  const world = createWorld({ server: { mode: 'cookie' } })
  t.after(world.close)
  const a = world.tab()
  const b = world.tab()
  const heard = nextEvent(b, 'tokens')
  const { access } = await a.login(ADA)
  assert.equal((await heard).access, access)
  assert.equal(await b.getAccessToken(), access)
  world.time.advance(301_000)
  const [ra, rb] = await Promise.all([a.fetch('/api/me/'), b.fetch('/api/me/')])
  assert.equal(ra.status, 200)
  assert.equal(rb.status, 200)
  assert.equal(world.server.calls.refresh, 1)
  assert.equal(await a.getAccessToken(), await b.getAccessToken())

  const bEvents = recordEvents(b)
  await a.logout()
  await settle()
  assert.deepEqual(
    bEvents.map((event) => event.name),
    ['logout'],
  )
  await assert.rejects(b.getAccessToken(), { name: 'SessionExpiredError' })
  assert.equal(world.server.calls.refresh, 1, 'after a logout, b does not probe the cookie')
})
