import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createUserCache } from '../../src/http/user-cache.js'
import type { User } from '../../src/users/types.js'
import { createFakeClock } from '../helpers/fake-clock.js'
import { createTestServer } from '../helpers/make-server.js'

function countingLookup(users: Map<string, User>) {
  const calls: string[] = []
  return { calls, lookup: async (id: string) => (calls.push(id), users.get(id) ?? null) }
}

test('user cache: a found user is looked up once per TTL, then again', async () => {
  const clock = createFakeClock()
  const users = new Map([['1', { id: '1', username: 'alice' }]])
  const { calls, lookup } = countingLookup(users)
  const find = createUserCache(lookup, clock.now, { ttlMs: 1000 })
  assert.deepEqual(await find('1'), { id: '1', username: 'alice' })
  clock.advance(999)
  assert.deepEqual(await find('1'), { id: '1', username: 'alice' })
  assert.equal(calls.length, 1)
  // Gone from the database: still answered until the TTL ends, then not found.
  users.delete('1')
  clock.advance(1)
  assert.equal(await find('1'), null)
  assert.equal(calls.length, 2)
})

test('user cache: a missing user is never remembered', async () => {
  const clock = createFakeClock()
  const users = new Map<string, User>()
  const { calls, lookup } = countingLookup(users)
  const find = createUserCache(lookup, clock.now)
  assert.equal(await find('7'), null)
  users.set('7', { id: '7', username: 'bob' })
  assert.deepEqual(await find('7'), { id: '7', username: 'bob' })
  assert.equal(calls.length, 2)
})

test('user cache: holds at most maxEntries users', async () => {
  const clock = createFakeClock()
  const users = new Map(Array.from({ length: 30 }, (_, i) => [String(i), { id: String(i), username: `u${i}` }] as const))
  const { calls, lookup } = countingLookup(users)
  const find = createUserCache(lookup, clock.now, { maxEntries: 10 })
  for (let i = 0; i < 30; i++) await find(String(i))
  await find('29')
  assert.equal(calls.length, 30) // the last one is still remembered
  await find('0')
  assert.equal(calls.length, 31) // the first one was dropped when the map filled
  // One rule for every cache (ttl-cache.ts): only the user found longest ago ('20') made room.
  await find('21')
  assert.equal(calls.length, 31)
  await find('20')
  assert.equal(calls.length, 32)
})

test('user cache: /api/me/ answers from the cache within a second and from the store after', async (t) => {
  const s = await createTestServer()
  t.after(() => s.close())
  await s.addUser('alice', 'correct horse battery')
  const { access } = await s.login('alice', 'correct horse battery')
  const users = s.deps.users!
  let lookups = 0
  const findById = users.findById.bind(users)
  users.findById = async (id) => (lookups++, findById(id))
  assert.equal((await s.get('/api/me/', access)).json().username, 'alice')
  assert.equal((await s.get('/api/me/', access)).json().username, 'alice')
  assert.equal(lookups, 1)
  s.clock.advance(1000)
  assert.equal((await s.get('/api/me/', access)).statusCode, 200)
  assert.equal(lookups, 2)
})
