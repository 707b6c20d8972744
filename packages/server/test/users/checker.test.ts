import assert from 'node:assert/strict'
import { beforeEach, describe, test } from 'node:test'
import { createCredentialChecker } from '../../src/users/checker.js'
import { createMemoryUserStore } from '../../src/users/memory.js'
import {
  hashPassword,
  MAX_PASSWORD_LENGTH,
  readHashParams,
  verifyPassword,
} from '../../src/users/password.js'
import type { CredentialChecker, UserStore } from '../../src/users/types.js'

const CHEAP = { ln: 10, r: 8, p: 1 }

describe('credential checker', () => {
  let store: UserStore
  let checker: CredentialChecker
  /** Every verification the checker ran: the password and the hash it was checked against. */
  let verifications: { password: string; hash: string; result: boolean }[]
  let aliceId: string
  let aliceHash: string

  beforeEach(async () => {
    store = createMemoryUserStore()
    aliceHash = await hashPassword('alice-pw', CHEAP)
    const created = await store.createUser({ username: 'alice', passwordHash: aliceHash, now: 0 })
    assert.ok(created.kind === 'created')
    aliceId = created.user.id
    verifications = []
    checker = createCredentialChecker(store, {
      params: CHEAP,
      async verify(password, hash) {
        const result = await verifyPassword(password, hash)
        verifications.push({ password, hash, result })
        return result
      },
    })
  })

  test('check: the right name and password give the user, without its hash', async () => {
    assert.deepEqual(await checker.check('alice', 'alice-pw'), { id: aliceId, username: 'alice' })
    assert.deepEqual(verifications, [{ password: 'alice-pw', hash: aliceHash, result: true }])
  })

  test('check: a wrong password is null after one verification against the user\'s hash', async () => {
    assert.equal(await checker.check('alice', 'wrong'), null)
    assert.deepEqual(verifications, [{ password: 'wrong', hash: aliceHash, result: false }])
  })

  test('check: an unknown user is the same null after one verification at the same params', async () => {
    assert.equal(await checker.check('mallory', 'alice-pw'), null)
    assert.equal(verifications.length, 1)
    const [dummy] = verifications
    assert.ok(dummy)
    assert.equal(dummy.result, false)
    assert.notEqual(dummy.hash, aliceHash)
    assert.deepEqual(readHashParams(dummy.hash), CHEAP)
  })

  test('check: the unknown-user path uses the default (OWASP) params unless told otherwise', async () => {
    const seen: string[] = []
    const defaultChecker = createCredentialChecker(store, {
      async verify(_password, hash) {
        seen.push(hash)
        return false
      },
    })
    assert.equal(await defaultChecker.check('nobody', 'pw'), null)
    assert.equal(seen.length, 1)
    assert.deepEqual(readHashParams(seen[0] ?? ''), { ln: 17, r: 8, p: 1 })
  })

  test('check: names are case-sensitive; ALICE is unknown and still costs a verification', async () => {
    assert.equal(await checker.check('ALICE', 'alice-pw'), null)
    assert.equal(verifications.length, 1)
    assert.notEqual(verifications[0]?.hash, aliceHash)
  })

  test('check: the name is NFKC-normalized as at registration (full-width letters find alice)', async () => {
    assert.deepEqual(await checker.check('ａｌｉｃｅ', 'alice-pw'), { id: aliceId, username: 'alice' })
  })

  test('check: a name no one can register is null after a verification too', async () => {
    assert.equal(await checker.check('not a valid name!', 'alice-pw'), null)
    assert.equal(await checker.check('', 'alice-pw'), null)
    assert.equal(verifications.length, 2)
  })

  test('check: an empty or over-long password is null without hashing', async () => {
    assert.equal(await checker.check('alice', ''), null)
    assert.equal(await checker.check('alice', 'x'.repeat(MAX_PASSWORD_LENGTH + 1)), null)
    assert.equal(verifications.length, 0)
  })

  test('check: a corrupt stored hash is null, not an error', async () => {
    await store.createUser({ username: 'broken', passwordHash: 'garbage', now: 0 })
    assert.equal(await checker.check('broken', 'anything'), null)
  })

  test('findById: the user, or null when unknown', async () => {
    assert.deepEqual(await checker.findById(aliceId), { id: aliceId, username: 'alice' })
    assert.equal(await checker.findById('999'), null)
    assert.equal(await checker.findById('nope'), null)
  })
})
