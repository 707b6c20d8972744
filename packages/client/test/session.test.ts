/**
 * The session core seen through its state (session-state.ts) while a real sequence runs
 * against the fake server: the states a session passes through, the storage reads a refresh
 * costs, and a held pair that is not decoded again at every call.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isRefreshUnavailableError, isSessionExpiredError } from '../src/errors.js'
import { createEmitter } from '../src/events.js'
import { resolveOptions } from '../src/options.js'
import { createSessionManager, type SessionManager } from '../src/session.js'
import { outageOf, tokensOf, type SessionState } from '../src/session-state.js'
import { readTokens, type TokenStorage } from '../src/token-storage.js'
import { BASE_URL } from './helpers/fake-browser.js'
import { createWorld, settle } from './helpers/tabs.js'

/** The state's name, with what lies underneath a refresh or an outage. */
function shape(state: SessionState): string {
  if (state.name === 'refreshing') return `refreshing(${shape(state.during)})`
  if (state.name === 'degraded') return `degraded(${shape(state.under)})`
  return state.name
}

/** A session core on the world's pieces, with a storage that counts its reads. */
function sessionIn(world: ReturnType<typeof createWorld>) {
  let reads = 0
  const storage: TokenStorage = {
    get(key) {
      reads += 1
      return world.storage.get(key)
    },
    set: (key, value) => world.storage.set(key, value),
    remove: (key) => world.storage.remove(key),
  }
  const options = resolveOptions({
    baseURL: BASE_URL,
    fetch: world.browser.fetch,
    now: world.time.now,
    timers: world.time.timers,
    random: () => 0.5,
    lock: world.lock,
    channel: world.hub.channel(),
    storage,
  })
  const events = createEmitter()
  const session: SessionManager = createSessionManager(options, events)
  const login = async (): Promise<void> => {
    const { access, refresh } = world.server.issue()
    const at = world.time.now()
    await session.begin(access, refresh, { date: null, sentAt: at, receivedAt: at })
  }
  return {
    session,
    events,
    options,
    login,
    /** Storage reads since the last call. */
    reads(): number {
      const count = reads
      reads = 0
      return count
    },
  }
}

test('session: states through login, a refresh, an outage and its recovery, and the end', async (t) => {
  const world = createWorld()
  const { session, events, options, login } = sessionIn(world)
  t.after(() => session.close())
  const seen: string[] = []
  for (const name of ['tokens', 'degraded', 'recovered', 'session-expired'] as const) events.on(name, () => seen.push(name))

  assert.equal(shape(session.state), 'anonymous')
  assert.equal(await session.authorize(), null)
  assert.equal(shape(session.state), 'anonymous')

  await login()
  assert.equal(shape(session.state), 'authenticated')

  // Expired, refresh answered 503: refreshing (over authenticated), then degraded.
  world.time.advance(301_000)
  world.server.refreshFailure = { status: 503, retryAfter: 5 }
  const release = world.server.holdRefresh()
  const pending = session.authorize()
  await world.server.until(() => world.server.calls.refresh === 1)
  assert.equal(shape(session.state), 'refreshing(authenticated)')
  release()
  await assert.rejects(pending, (error) => isRefreshUnavailableError(error))
  assert.equal(shape(session.state), 'degraded(authenticated)')
  assert.equal(outageOf(session.state)?.attempt, 0)
  assert.equal(world.time.pending(), 1, 'the background retry is scheduled')

  // The retry succeeds: authenticated again, with the new pair, and no retry left pending.
  world.server.refreshFailure = null
  world.time.advance(6_000)
  await world.server.until(() => world.server.calls.refresh === 2)
  for (let spin = 0; spin < 50 && session.state.name !== 'authenticated'; spin += 1) await settle()
  assert.equal(shape(session.state), 'authenticated')
  const stored = await readTokens(world.storage, options.storageKey)
  assert.equal(tokensOf(session.state)?.access, stored?.access)
  assert.equal(world.time.pending(), 0)

  // The session is revoked: the next refresh ends it.
  world.server.revokeSessionOf(stored?.access ?? '')
  world.time.advance(301_000)
  await assert.rejects(session.authorize(), (error) => isSessionExpiredError(error))
  assert.equal(shape(session.state), 'anonymous')
  assert.deepEqual(seen, ['tokens', 'degraded', 'tokens', 'recovered', 'session-expired'])
})

test('session: cookie mode starts probing; a refresh answered 401 with no token known makes it anonymous', async (t) => {
  const world = createWorld({ server: { mode: 'cookie' } })
  const client = world.tab()
  t.after(world.close)
  const session = createSessionManager(client.options, createEmitter())
  t.after(() => session.close())
  assert.equal(shape(session.state), 'probing')
  assert.equal(await session.authorize(), null)
  assert.equal(world.server.calls.refresh, 1)
  assert.equal(shape(session.state), 'anonymous')
  // Anonymous now: no further refresh is tried.
  assert.equal(await session.authorize(), null)
  assert.equal(world.server.calls.refresh, 1)
})

test('session: a refresh at expiry reads the storage twice (under the lock, and before writing)', async (t) => {
  const world = createWorld()
  const { session, login, reads } = sessionIn(world)
  t.after(() => session.close())
  await login()
  reads()
  const held = tokensOf(session.state)
  await session.authorize()
  assert.equal(reads(), 1, 'a request with a valid token reads once, to see other tabs')
  assert.equal(tokensOf(session.state), held, 'the same pair is not decoded again')

  world.time.advance(301_000)
  const fresh = await session.authorize()
  assert.equal(world.server.calls.refresh, 1)
  assert.notEqual(fresh, held?.access)
  // One read under the lock (it stands in for the request's own), one before writing (a
  // logout in another tab meanwhile must win).
  assert.equal(reads(), 2)
})

test('session: after a 401 the retry token costs the refresh its two reads, no more', async (t) => {
  const world = createWorld()
  const { session, login, reads } = sessionIn(world)
  t.after(() => session.close())
  await login()
  const rejected = await session.authorize()
  assert.ok(rejected !== null)
  reads()
  const fresh = await session.afterUnauthorized(rejected)
  assert.notEqual(fresh, rejected)
  assert.equal(world.server.calls.refresh, 1)
  assert.equal(reads(), 2)
})

test('session: a refresh whose answer comes after the storage was emptied elsewhere ends the session here', async (t) => {
  const world = createWorld()
  const { session, options, login } = sessionIn(world)
  t.after(() => session.close())
  await login()
  world.time.advance(301_000)
  const release = world.server.holdRefresh()
  const pending = session.authorize()
  await world.server.until(() => world.server.calls.refresh === 1)
  // Another client of the same storage logs out; no message reaches this one (no channel).
  await world.storage.remove(options.storageKey)
  release()
  await assert.rejects(pending, { name: 'SessionExpiredError', code: 'not_authenticated' })
  assert.equal(shape(session.state), 'anonymous')
  assert.equal(await readTokens(world.storage, options.storageKey), null)
})

test('session: a login during a refresh lands underneath it, and the refresh answer is dropped', async (t) => {
  const world = createWorld()
  const { session, options, login } = sessionIn(world)
  t.after(() => session.close())
  await login()
  world.time.advance(301_000)
  const release = world.server.holdRefresh()
  const pending = session.authorize()
  await world.server.until(() => world.server.calls.refresh === 1)
  await login()
  const loggedIn = tokensOf(session.state)
  assert.equal(shape(session.state), 'refreshing(authenticated)', 'the login lands underneath')
  release()
  await assert.rejects(pending, { name: 'SessionExpiredError', code: 'not_authenticated' })
  assert.equal(shape(session.state), 'authenticated')
  assert.equal(tokensOf(session.state), loggedIn, 'the refresh answer was dropped')
  assert.equal((await readTokens(world.storage, options.storageKey))?.access, loggedIn?.access)
  assert.equal(await session.authorize(), loggedIn?.access)
})
