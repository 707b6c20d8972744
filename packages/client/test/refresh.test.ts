import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isHTTPError, isNetworkError, isRefreshUnavailableError, isSessionExpiredError } from '../src/errors.js'
import { readTokens } from '../src/token-storage.js'
import { claimsOf } from './helpers/jwt.js'
import { createLaggingView, createWorld, nextEvent, recordEvents, settle } from './helpers/tabs.js'

const ADA = { username: 'ada', password: 'lovelace' }

function names(events: { name: string }[]): string[] {
  return events.map((event) => event.name)
}

test('refresh: proactive refresh in the last quarter of the lifetime, with the server clock 10 min ahead', async (t) => {
  const world = createWorld({ serverSkew: 10 * 60_000 })
  t.after(world.close)
  const client = world.tab()
  const loggedInAt = world.time.now()
  const { access, expiresAt } = await client.login(ADA)
  // The server's exp is 10 min ahead of the local clock; the skew estimate from the answer's
  // Date brings it back: the middle of the Date's second, so within half a second.
  assert.equal(expiresAt, loggedInAt + 300_000 - 500)

  world.time.advance(230_000) // 70 s left: more than the 60 s margin
  assert.equal(await client.getAccessToken(), access)
  await settle()
  assert.equal(world.server.calls.refresh, 0)

  world.time.advance(20_000) // 50 s left: inside the margin
  const tokens = nextEvent(client, 'tokens')
  // Still valid: returned at once, refreshed in the background.
  assert.equal(await client.getAccessToken(), access)
  const { access: fresh } = await tokens
  assert.notEqual(fresh, access)
  assert.equal(world.server.calls.refresh, 1)
  assert.equal(await client.getAccessToken(), fresh)
})

test('refresh: a server clock 10 min behind causes no early refresh', async (t) => {
  const world = createWorld({ serverSkew: -10 * 60_000 })
  t.after(world.close)
  const client = world.tab()
  const { access } = await client.login(ADA)
  world.time.advance(100_000)
  assert.equal((await client.fetch('/api/me/')).status, 200)
  assert.equal(await client.getAccessToken(), access)
  await settle()
  assert.equal(world.server.calls.refresh, 0)
  world.time.advance(150_000) // 50 s left
  const tokens = nextEvent(client, 'tokens')
  await client.getAccessToken()
  await tokens
  assert.equal(world.server.calls.refresh, 1)
})

test('refresh: a short-lived token is refreshed once less than a quarter of its lifetime remains', async (t) => {
  const world = createWorld({ server: { accessLifetime: 40 } })
  t.after(world.close)
  const client = world.tab()
  await client.login(ADA)
  world.time.advance(29_000) // 11 s left, margin is 10 s
  await client.getAccessToken()
  await settle()
  assert.equal(world.server.calls.refresh, 0)
  world.time.advance(2_000) // 9 s left
  const tokens = nextEvent(client, 'tokens')
  await client.getAccessToken()
  await tokens
  assert.equal(world.server.calls.refresh, 1)
})

test('refresh: an expired token is refreshed before the request is sent', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  const { access } = await client.login(ADA)
  world.time.advance(301_000)
  const response = await client.fetch('/api/me/')
  assert.equal(response.status, 200)
  assert.equal(world.server.calls.unauthorized, 0)
  assert.deepEqual(
    world.server.log.slice(-2).map((entry) => entry.path),
    ['/api/auth/refresh/', '/api/me/'],
  )
  assert.notEqual(world.server.log.at(-1)?.authorization, `Bearer ${access}`)
})

test('refresh: 401 on refresh clears tokens, fires session-expired with the code, rejects with SessionExpiredError', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  const { access } = await client.login(ADA)
  const events = recordEvents(client)
  world.server.revokeSessionOf(access)
  world.time.advance(301_000)
  await assert.rejects(client.fetch('/api/me/'), (error) => {
    assert.ok(isSessionExpiredError(error))
    assert.equal(error.code, 'token_revoked')
    return true
  })
  assert.deepEqual(events, [{ name: 'session-expired', payload: { code: 'token_revoked' } }])
  assert.equal(await readTokens(world.storage, client.options.storageKey), null)
  assert.deepEqual(world.hub.posted.at(-1), {
    type: 'session-expired',
    code: 'token_revoked',
    session: claimsOf(access)['sid'],
  })
  await assert.rejects(client.getAccessToken(), {
    name: 'SessionExpiredError',
    code: 'not_authenticated',
  })
  // Afterwards requests go out anonymously; the client does not try to refresh again.
  assert.equal((await client.fetch('/api/me/')).status, 401)
  assert.equal(world.server.calls.refresh, 1)
})

test('refresh: 503 with Retry-After keeps tokens, fires degraded once, rejects at once, then recovers', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await client.login(ADA)
  const stored = await readTokens(world.storage, client.options.storageKey)
  const events = recordEvents(client)
  world.server.refreshFailure = { status: 503, retryAfter: 5 }
  world.time.advance(301_000)

  await assert.rejects(client.fetch('/api/me/'), (error) => {
    assert.ok(isRefreshUnavailableError(error))
    // 5 s from Retry-After plus jitter (random() = 0.5 → +10 %): next attempt in 5.5 s.
    assert.equal(error.retryAfter, 6)
    assert.ok(isHTTPError(error.cause))
    assert.equal(error.cause.status, 503)
    assert.equal(error.cause.code, 'store_unavailable')
    assert.equal(error.cause.retryAfter, 5)
    return true
  })
  assert.deepEqual(await readTokens(world.storage, client.options.storageKey), stored)
  assert.deepEqual(names(events), ['degraded'])
  assert.equal((events[0]?.payload as { retryAfter: number }).retryAfter, 6)

  // During the backoff a call that needs a fresh token is not sent.
  world.time.advance(2_000)
  await assert.rejects(client.fetch('/api/me/'), { name: 'RefreshUnavailableError', retryAfter: 4 })
  await assert.rejects(client.getAccessToken(), { name: 'RefreshUnavailableError' })
  assert.equal(world.server.calls.refresh, 1)
  assert.equal(world.server.calls.api, 0)

  // The scheduled retry fails once more: still one degraded event, no logout.
  world.time.advance(3_500)
  await world.server.until(() => world.server.calls.refresh === 2)
  await settle()
  assert.deepEqual(names(events), ['degraded'])

  world.server.refreshFailure = null
  const recovered = nextEvent(client, 'recovered')
  world.time.advance(30_000)
  await recovered
  assert.equal(world.server.calls.refresh, 3)
  assert.deepEqual(names(events), ['degraded', 'tokens', 'recovered'])
  assert.deepEqual(world.hub.posted.at(-1), { type: 'recovered' })
  assert.equal((await client.fetch('/api/me/')).status, 200)
  assert.equal(world.server.calls.refresh, 3)
})

test('refresh: while degraded, a request whose token is still valid is sent normally', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  const { access } = await client.login(ADA)
  world.server.refreshFailure = { status: 503, retryAfter: 10 }
  world.time.advance(250_000) // inside the refresh margin: a proactive refresh is attempted
  const degraded = nextEvent(client, 'degraded')
  assert.equal((await client.fetch('/api/me/')).status, 200)
  await degraded
  const response = await client.fetch('/api/me/')
  assert.equal(response.status, 200)
  assert.equal(world.server.log.at(-1)?.authorization, `Bearer ${access}`)
  assert.equal(world.server.calls.refresh, 1)
  // Once it has expired, the same call is refused without being sent.
  world.time.advance(50_001)
  await assert.rejects(client.fetch('/api/me/'), { name: 'RefreshUnavailableError' })
})

test('refresh: a network error is handled as an outage, never as a logout', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await client.login(ADA)
  const events = recordEvents(client)
  world.server.refreshFailure = 'network'
  world.time.advance(301_000)
  await assert.rejects(client.getAccessToken(), (error) => {
    assert.ok(isRefreshUnavailableError(error))
    assert.ok(isNetworkError(error.cause))
    assert.ok(error.retryAfter >= 1)
    return true
  })
  assert.deepEqual(names(events), ['degraded'])
  assert.ok(isNetworkError((events[0]?.payload as { cause: unknown }).cause))
  assert.notEqual(await readTokens(world.storage, client.options.storageKey), null)
  world.server.refreshFailure = null
  const recovered = nextEvent(client, 'recovered')
  world.time.advance(30_000)
  await recovered
  assert.deepEqual(names(events), ['degraded', 'tokens', 'recovered'])
})

test('refresh: a refresh that hangs times out as a network error and keeps the tokens', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab({ timeout: 8_000 })
  await client.login(ADA)
  world.server.refreshFailure = 'hang'
  world.time.advance(301_000)
  const pending = client.fetch('/api/me/')
  await world.server.until(() => world.server.calls.refresh === 1)
  world.time.advance(8_000)
  await assert.rejects(pending, (error) => {
    assert.ok(isRefreshUnavailableError(error))
    assert.ok(isNetworkError(error.cause))
    assert.equal((error.cause.cause as Error).name, 'TimeoutError')
    return true
  })
  assert.notEqual(await readTokens(world.storage, client.options.storageKey), null)
})

test('refresh: backoff between attempts grows and never exceeds 8 s (inside the server grace window)', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const timeout = 123_457 // tells the request timeouts apart from the backoff timers
  const client = world.tab({ timeout })
  await client.login(ADA)
  world.server.refreshFailure = { status: 503 }
  world.time.advance(301_000)
  await assert.rejects(client.getAccessToken(), { name: 'RefreshUnavailableError' })
  for (let attempt = 2; attempt <= 8; attempt += 1) {
    world.time.advance(30_000)
    await world.server.until(() => world.server.calls.refresh === attempt)
    await settle()
  }
  const delays = world.time.scheduled.filter((ms) => ms !== timeout)
  assert.equal(delays.length, 8)
  for (const [index, delay] of delays.entries()) {
    assert.ok(delay <= 8_000, `delay ${delay} over 8 s`)
    if (index > 0) assert.ok(delay >= (delays[index - 1] ?? 0), 'delays never shrink')
  }
  assert.ok((delays.at(-1) ?? 0) > (delays[0] ?? 0) * 4, `grows: ${delays.join(', ')}`)

  // A Retry-After above the cap is capped at 8 s.
  world.server.refreshFailure = { status: 503, retryAfter: 120 }
  world.time.advance(30_000)
  await world.server.until(() => world.server.calls.refresh === 9)
  await settle()
  assert.equal(world.time.scheduled.filter((ms) => ms !== timeout).at(-1), 8_000)
})

test('refresh: when the shared refresh fails, every queued request is rejected (none hangs)', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await client.login(ADA)
  world.server.invalidateAccessTokens()
  world.server.refreshFailure = { status: 503, retryAfter: 1 }
  const release = world.server.holdRefresh()
  const pending = Array.from({ length: 5 }, () => client.fetch('/api/me/'))
  await world.server.until(() => world.server.calls.unauthorized === 5 && world.server.calls.refresh >= 1)
  release()
  const results = await Promise.allSettled(pending)
  for (const result of results) {
    assert.equal(result.status, 'rejected')
    assert.ok(isRefreshUnavailableError(result.reason))
  }
  assert.equal(world.server.calls.refresh, 1)
})

test('refresh: two tabs sharing storage make one refresh; the other adopts the new tokens', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const a = world.tab()
  const b = world.tab()
  await a.login(ADA)
  await settle()
  const bEvents = recordEvents(b)
  world.time.advance(301_000)
  const [ra, rb] = await Promise.all([a.fetch('/api/me/'), b.fetch('/api/me/')])
  assert.equal(ra.status, 200)
  assert.equal(rb.status, 200)
  assert.equal(world.server.calls.refresh, 1)
  const [first, second] = world.server.log.filter((entry) => entry.path === '/api/me/')
  assert.equal(first?.authorization, second?.authorization)
  assert.equal(await b.getAccessToken(), await a.getAccessToken())
  assert.deepEqual(names(bEvents), ['tokens'])
})

test('refresh: a new tab with the same storage uses the stored session without logging in', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const a = world.tab()
  const { access } = await a.login(ADA)
  a.close()
  const b = world.tab()
  const tokens = nextEvent(b, 'tokens')
  assert.equal((await b.fetch('/api/me/')).status, 200)
  assert.equal((await tokens).access, access)
  assert.equal(world.server.calls.login, 1)
  assert.equal(world.server.calls.refresh, 0)
})

test("refresh: a tab hears another tab's refresh on the channel and fires tokens", async (t) => {
  const world = createWorld()
  t.after(world.close)
  const a = world.tab()
  const b = world.tab()
  await a.login(ADA)
  await settle()
  world.time.advance(301_000)
  const heard = nextEvent(b, 'tokens')
  const fresh = await a.getAccessToken()
  assert.equal((await heard).access, fresh)
})

test("refresh: a refresh that succeeds in another tab ends this tab's outage", async (t) => {
  const world = createWorld()
  t.after(world.close)
  // Separate storages: two sessions, one server, one channel.
  const a = world.tab({ storage: 'memory' })
  const b = world.tab({ storage: 'memory' })
  await a.login(ADA)
  await b.login(ADA)
  const bEvents = recordEvents(b)
  world.server.refreshFailure = { status: 503, retryAfter: 20 }
  world.time.advance(301_000)
  await assert.rejects(b.getAccessToken(), { name: 'RefreshUnavailableError' })
  world.server.refreshFailure = null
  // Tab a refreshes successfully (it was not degraded) and tells the others.
  const recovered = nextEvent(b, 'recovered')
  await a.getAccessToken()
  await recovered
  assert.deepEqual(names(bEvents), ['degraded', 'recovered'])
  // b is no longer backing off: its next call refreshes at once.
  assert.equal((await b.fetch('/api/me/')).status, 200)
  assert.equal(world.server.calls.refresh, 3)
})

test('refresh: two degraded tabs sharing storage recover with one successful refresh', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const a = world.tab()
  const b = world.tab()
  await a.login(ADA)
  await settle()
  const aEvents = recordEvents(a)
  const bEvents = recordEvents(b)
  world.server.refreshFailure = { status: 503, retryAfter: 2 }
  world.time.advance(301_000)
  await assert.rejects(a.getAccessToken(), { name: 'RefreshUnavailableError' })
  await assert.rejects(b.getAccessToken(), { name: 'RefreshUnavailableError' })
  assert.equal(world.server.calls.refresh, 2)
  world.server.refreshFailure = null
  const recoveredA = nextEvent(a, 'recovered')
  const recoveredB = nextEvent(b, 'recovered')
  world.time.advance(30_000)
  await Promise.all([recoveredA, recoveredB])
  await settle()
  assert.equal(world.server.calls.refresh, 3)
  assert.deepEqual(names(aEvents), ['degraded', 'tokens', 'recovered'])
  assert.deepEqual(names(bEvents), ['degraded', 'tokens', 'recovered'])
})

test('refresh: logout in one tab logs out the other tabs sharing its storage', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const a = world.tab()
  const b = world.tab()
  await a.login(ADA)
  await settle()
  const bEvents = recordEvents(b)
  await a.logout()
  await settle()
  assert.deepEqual(names(bEvents), ['logout'])
  await assert.rejects(b.getAccessToken(), {
    name: 'SessionExpiredError',
    code: 'not_authenticated',
  })
})

test('refresh: session-expired in one tab reaches the other tabs', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const a = world.tab()
  const b = world.tab()
  const { access } = await a.login(ADA)
  await settle()
  const bEvents = recordEvents(b)
  world.server.revokeSessionOf(access)
  world.time.advance(301_000)
  await assert.rejects(a.getAccessToken(), { name: 'SessionExpiredError', code: 'token_revoked' })
  await settle()
  assert.deepEqual(bEvents, [{ name: 'session-expired', payload: { code: 'token_revoked' } }])
})

test("refresh: a logout in a tab with its own storage does not end another tab's session", async (t) => {
  const world = createWorld()
  t.after(world.close)
  const a = world.tab({ storage: 'memory' })
  const b = world.tab({ storage: 'memory' })
  await a.login(ADA)
  await b.login(ADA)
  await settle()
  const bEvents = recordEvents(b)
  await a.logout()
  await settle()
  assert.deepEqual(bEvents, [])
  assert.equal((await b.fetch('/api/me/')).status, 200)
})

test('refresh: tokens a refresh returns after a logout in the same tab are dropped', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await client.login(ADA)
  const events = recordEvents(client)
  world.time.advance(301_000)
  const release = world.server.holdRefresh()
  const pending = client.fetch('/api/me/')
  await world.server.until(() => world.server.calls.refresh === 1)
  // The server cannot be told, so the session still rotates when the held refresh goes on.
  world.browser.offline = true
  await assert.rejects(client.logout(), { name: 'NetworkError' })
  world.browser.offline = false
  release()
  await assert.rejects(pending, { name: 'SessionExpiredError', code: 'not_authenticated' })
  assert.deepEqual(names(events), ['logout'])
  assert.equal(await readTokens(world.storage, client.options.storageKey), null)
})

test("refresh: a recovered message from another tab ends this tab's outage once", async (t) => {
  const world = createWorld()
  t.after(world.close)
  const client = world.tab()
  await client.login(ADA)
  const events = recordEvents(client)
  world.server.refreshFailure = { status: 503, retryAfter: 20 }
  world.time.advance(301_000)
  await assert.rejects(client.getAccessToken(), { name: 'RefreshUnavailableError' })
  const otherTab = world.hub.channel()
  otherTab.post({ type: 'recovered' })
  otherTab.post({ type: 'recovered' })
  await settle()
  assert.deepEqual(names(events), ['degraded', 'recovered'])
  assert.equal(world.time.pending(), 0, 'the backoff retry is cancelled')
})

test('refresh: a tab that sees the shared storage late takes the new pair from the channel, no second refresh', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const view = createLaggingView(world.storage)
  const a = world.tab()
  const b = world.tab({ storage: view.storage })
  await a.login(ADA)
  const loginAccess = await b.getAccessToken()
  await view.freeze(b.options.storageKey)
  world.time.advance(301_000)
  const [ra, rb] = await Promise.all([a.fetch('/api/me/'), b.fetch('/api/me/')])
  assert.equal(ra.status, 200)
  assert.equal(rb.status, 200)
  assert.equal(world.server.calls.refresh, 1)
  const fresh = await a.getAccessToken()
  assert.notEqual(fresh, loginAccess)
  // b's storage view still shows the login pair; b never steps back to it.
  assert.equal(await b.getAccessToken(), fresh)
  view.catchUp()
  assert.equal(await b.getAccessToken(), fresh)
})

test('refresh: a logout reaches a tab that still sees the old storage', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const view = createLaggingView(world.storage)
  const a = world.tab()
  const b = world.tab({ storage: view.storage })
  await a.login(ADA)
  await b.getAccessToken()
  await view.freeze(b.options.storageKey)
  const bEvents = recordEvents(b)
  await a.logout()
  await settle()
  assert.deepEqual(names(bEvents), ['logout'])
  view.catchUp()
  await assert.rejects(b.getAccessToken(), { name: 'SessionExpiredError' })
})
