import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import type { UserStore } from '../../src/users/types.js'

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0, 123)

/**
 * The behaviour every UserStore must have (lucia's `testAdapter` pattern). `makeStore` returns a
 * new, empty store each time; the suite closes it.
 *
 * Names are compared exactly (code point for code point): case-sensitive, and not normalized
 * by the store. Unicode letters are allowed (as Django allows them); callers NFKC-normalize first.
 */
export function describeUserStoreContract(name: string, makeStore: () => Promise<UserStore>): void {
  describe(`${name} user store (contract)`, () => {
    let store: UserStore
    beforeEach(async () => {
      store = await makeStore()
    })
    afterEach(async () => {
      await store.close()
    })

    test('createUser: a new name is created with a decimal string id', async () => {
      const outcome = await store.createUser({ username: 'alice', passwordHash: 'h1', now: NOW })
      assert.equal(outcome.kind, 'created')
      assert.ok(outcome.kind === 'created')
      assert.match(outcome.user.id, /^[1-9][0-9]*$/)
      assert.deepEqual(outcome.user, { id: outcome.user.id, username: 'alice' })
    })

    test('findByUsername: returns the whole record as created', async () => {
      const outcome = await store.createUser({ username: 'alice', passwordHash: 'h1', now: NOW })
      assert.ok(outcome.kind === 'created')
      assert.deepEqual(await store.findByUsername('alice'), {
        id: outcome.user.id,
        username: 'alice',
        passwordHash: 'h1',
        createdAt: NOW,
      })
    })

    test('findById: returns the record; each user has its own id', async () => {
      const a = await store.createUser({ username: 'alice', passwordHash: 'h1', now: NOW })
      const b = await store.createUser({ username: 'bob', passwordHash: 'h2', now: NOW + 1 })
      assert.ok(a.kind === 'created' && b.kind === 'created')
      assert.notEqual(a.user.id, b.user.id)
      assert.equal((await store.findById(a.user.id))?.username, 'alice')
      const bob = await store.findById(b.user.id)
      assert.deepEqual(bob, {
        id: b.user.id,
        username: 'bob',
        passwordHash: 'h2',
        createdAt: NOW + 1,
      })
    })

    test('createUser: an existing name is taken and the first record is kept', async () => {
      const first = await store.createUser({ username: 'alice', passwordHash: 'h1', now: NOW })
      assert.ok(first.kind === 'created')
      const second = await store.createUser({ username: 'alice', passwordHash: 'h2', now: NOW + 5 })
      assert.deepEqual(second, { kind: 'taken' })
      assert.deepEqual(await store.findByUsername('alice'), {
        id: first.user.id,
        username: 'alice',
        passwordHash: 'h1',
        createdAt: NOW,
      })
    })

    test('findByUsername: an unknown name is null', async () => {
      await store.createUser({ username: 'alice', passwordHash: 'h1', now: NOW })
      assert.equal(await store.findByUsername('bob'), null)
      assert.equal(await store.findByUsername(''), null)
      assert.equal(await store.findByUsername('alice\u0000'), null)
    })

    test('findById: unknown and malformed ids are null, never an error', async () => {
      for (const id of await unknownAndMalformedIds(store)) {
        assert.equal(await store.findById(id), null, `findById(${JSON.stringify(id)})`)
      }
    })

    test('names are case-sensitive: Alice and alice are two users', async () => {
      const upper = await store.createUser({ username: 'Alice', passwordHash: 'h1', now: NOW })
      const lower = await store.createUser({ username: 'alice', passwordHash: 'h2', now: NOW })
      assert.ok(upper.kind === 'created' && lower.kind === 'created')
      assert.notEqual(upper.user.id, lower.user.id)
      assert.equal((await store.findByUsername('Alice'))?.passwordHash, 'h1')
      assert.equal((await store.findByUsername('alice'))?.passwordHash, 'h2')
      assert.equal(await store.findByUsername('ALICE'), null)
    })

    test('names in any script are stored and compared exactly (no normalization in the store)', async () => {
      for (const username of ['Zoë', 'zoë', '用户', 'иван', 'José.García+1', '٣٤٥']) {
        const passwordHash = `h-${username}`
        const outcome = await store.createUser({ username, passwordHash, now: NOW })
        assert.equal(outcome.kind, 'created', username)
        assert.equal((await store.findByUsername(username))?.passwordHash, `h-${username}`)
      }
      // NFC "Zoë" and NFD "Zoë" differ to the store: callers normalize before asking.
      assert.equal(await store.findByUsername('Zoe\u0308'), null)
    })

    test('names of 150 characters outside the BMP fit', async () => {
      const username = '𠀀'.repeat(75) + 'ж'.repeat(75) // 150 code points, 225 UTF-16 units
      const outcome = await store.createUser({ username, passwordHash: 'h', now: NOW })
      assert.equal(outcome.kind, 'created')
      assert.equal((await store.findByUsername(username))?.username, username)
    })

    test('createUser: concurrent creates of one name give exactly one created', async () => {
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.createUser({ username: 'race', passwordHash: `h${i}`, now: NOW })),
      )
      const created = outcomes.filter((o) => o.kind === 'created')
      assert.equal(created.length, 1)
      assert.equal(outcomes.filter((o) => o.kind === 'taken').length, 9)
      const winner = created[0]
      assert.ok(winner?.kind === 'created')
      assert.equal((await store.findByUsername('race'))?.id, winner.user.id)
    })

    test('updatePasswordHash: replaces the hash when it is still the old one; nothing else changes', async () => {
      const a = await store.createUser({ username: 'alice', passwordHash: 'h1', now: NOW })
      assert.ok(a.kind === 'created')
      const id = a.user.id
      assert.equal(await store.updatePasswordHash({ id, oldHash: 'h1', newHash: 'h2' }), true)
      const expected = { id, username: 'alice', passwordHash: 'h2', createdAt: NOW }
      assert.deepEqual(await store.findById(id), expected)
      assert.deepEqual(await store.findByUsername('alice'), expected)
    })

    test('updatePasswordHash: a hash changed meanwhile is kept (compare-and-set)', async () => {
      const a = await store.createUser({ username: 'alice', passwordHash: 'h1', now: NOW })
      assert.ok(a.kind === 'created')
      const id = a.user.id
      // Someone changed the password after the re-hash read 'h0'.
      assert.equal(await store.updatePasswordHash({ id, oldHash: 'h0', newHash: 'h2' }), false)
      assert.equal((await store.findById(id))?.passwordHash, 'h1')
      // A second write from the same read loses too.
      assert.equal(await store.updatePasswordHash({ id, oldHash: 'h1', newHash: 'h2' }), true)
      assert.equal(await store.updatePasswordHash({ id, oldHash: 'h1', newHash: 'h3' }), false)
      assert.equal((await store.findById(id))?.passwordHash, 'h2')
    })

    test('updatePasswordHash: only the named user changes, even when others share the old hash', async () => {
      const a = await store.createUser({ username: 'alice', passwordHash: 'same', now: NOW })
      const b = await store.createUser({ username: 'bob', passwordHash: 'same', now: NOW })
      assert.ok(a.kind === 'created' && b.kind === 'created')
      assert.equal(await store.updatePasswordHash({ id: a.user.id, oldHash: 'same', newHash: 'new' }), true)
      assert.equal((await store.findByUsername('alice'))?.passwordHash, 'new')
      assert.equal((await store.findByUsername('bob'))?.passwordHash, 'same')
    })

    test('updatePasswordHash: unknown and malformed ids are false, never an error', async () => {
      for (const id of await unknownAndMalformedIds(store)) {
        const updated = await store.updatePasswordHash({ id, oldHash: 'h1', newHash: 'h2' })
        assert.equal(updated, false, `updatePasswordHash(${JSON.stringify(id)})`)
      }
      assert.equal((await store.findByUsername('alice'))?.passwordHash, 'h1')
    })

    test('updatePasswordHash: concurrent updates from one old hash give exactly one true', async () => {
      const a = await store.createUser({ username: 'alice', passwordHash: 'h0', now: NOW })
      assert.ok(a.kind === 'created')
      const id = a.user.id
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.updatePasswordHash({ id, oldHash: 'h0', newHash: `h${i + 1}` })),
      )
      assert.equal(results.filter(Boolean).length, 1)
      const winner = results.indexOf(true)
      assert.equal((await store.findById(id))?.passwordHash, `h${winner + 1}`)
    })

    test('createUser: concurrent creates of different names all succeed with distinct ids', async () => {
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.createUser({ username: `user${i}`, passwordHash: 'h', now: NOW })),
      )
      const ids = outcomes.map((o) => (o.kind === 'created' ? o.user.id : 'taken'))
      assert.ok(!ids.includes('taken'))
      assert.equal(new Set(ids).size, 10)
    })
  })
}

/**
 * Ids no user has: one past a fresh user's (alice, hash `h1`, created here) and spellings that
 * are not canonical ids at all.
 */
async function unknownAndMalformedIds(store: UserStore): Promise<string[]> {
  const a = await store.createUser({ username: 'alice', passwordHash: 'h1', now: NOW })
  assert.ok(a.kind === 'created')
  const id1 = a.user.id
  const unknown = String(BigInt(id1) + 1000n)
  return [unknown, '', 'abc', '0', '-1', `0${id1}`, `${id1}.0`, ` ${id1}`, '1e3', '99999999999999999999999']
}
