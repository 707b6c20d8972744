/** `paths: {login, refresh, logout}` against a backend on simplejwt's routes (SPEC §9). */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readTokens } from '../src/token-storage.js'
import { createWorld, recordEvents } from './helpers/tabs.js'

const ADA = { username: 'ada', password: 'lovelace' }
const SIMPLEJWT = {
  login: '/api/token/',
  refresh: '/api/token/refresh/',
  logout: '/api/token/blacklist/',
}

test('paths: login, refresh and logout go to the paths given; the auth routes get no bearer', async (t) => {
  const world = createWorld({ server: { paths: SIMPLEJWT } })
  t.after(world.close)
  const client = world.tab({ paths: SIMPLEJWT })
  await client.login(ADA)
  world.time.advance(301_000)
  assert.equal((await client.fetch('/api/me/')).status, 200)
  await client.logout()
  assert.deepEqual(
    world.server.log.map((entry) => entry.path),
    ['/api/token/', '/api/token/refresh/', '/api/me/', '/api/token/blacklist/'],
  )
  const logout = world.server.log.find((entry) => entry.path === '/api/token/blacklist/')
  assert.equal(logout?.authorization, null)
  assert.equal(world.server.calls.logout, 1)
})

test('paths: logout null clears the tokens here and in other tabs and sends no request', async (t) => {
  const world = createWorld({ server: { paths: SIMPLEJWT } })
  t.after(world.close)
  const client = world.tab({ paths: { ...SIMPLEJWT, logout: null } })
  const other = world.tab({ paths: { ...SIMPLEJWT, logout: null } })
  await client.login(ADA)
  const before = world.server.log.length
  const events = recordEvents(client)
  await client.logout()
  assert.equal(world.server.log.length, before, 'no request at all')
  assert.deepEqual(events, [{ name: 'logout', payload: {} }])
  assert.equal(await readTokens(world.storage, client.options.storageKey), null)
  assert.deepEqual(world.hub.posted.at(-1)?.type, 'logout')
  await assert.rejects(other.getAccessToken(), { name: 'SessionExpiredError' })
  // A second logout, with no session, is as quiet.
  await client.logout()
  assert.equal(world.server.log.length, before)
})

test('paths: without the option, logout on a backend without that route rejects with its 404', async (t) => {
  // What `paths.logout: null` is for: the default path on simplejwt's routes is a 404.
  const world = createWorld({ server: { paths: SIMPLEJWT } })
  t.after(world.close)
  const client = world.tab({ paths: { login: SIMPLEJWT.login, refresh: SIMPLEJWT.refresh } })
  await client.login(ADA)
  await assert.rejects(client.logout(), { name: 'HTTPError', status: 404 })
  assert.equal(await readTokens(world.storage, client.options.storageKey), null)
})
