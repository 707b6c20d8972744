import assert from 'node:assert/strict'
import { beforeEach, describe, test } from 'node:test'
import { type BackgroundTasks, createBackgroundTasks } from '../../src/background-tasks.js'
import { createCredentialChecker, type RehashOutcome } from '../../src/users/checker.js'
import { UserStoreUnavailableError } from '../../src/users/errors.js'
import { createMemoryUserStore } from '../../src/users/memory.js'
import { hashPassword, MAX_PASSWORD_LENGTH, readHashParams, verifyPassword } from '../../src/users/password.js'
import type { CredentialChecker, UserStore } from '../../src/users/types.js'

const CHEAP = { ln: 10, r: 8, p: 1 }
/** Cheaper than CHEAP: a hash made before the params were raised. */
const OLDER = { ln: 6, r: 8, p: 1 }

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

  test("check: a wrong password is null after one verification against the user's hash", async () => {
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

describe('credential checker: re-hash after a successful login', () => {
  let store: UserStore
  let background: BackgroundTasks
  let lines: { level: 'info' | 'warn'; obj: Record<string, unknown>; msg: string }[]
  /** Passwords the re-hash was asked to hash, in order. */
  let hashed: string[]
  /** What `onRehash` was told, in order. */
  let outcomes: RehashOutcome[]
  /** While set, a re-hash waits here before hashing; the test resolves it. */
  let gate: Promise<void> | null
  let oldHash: string
  let aliceId: string

  function makeChecker(overrides: { store?: UserStore } = {}): CredentialChecker {
    return createCredentialChecker(overrides.store ?? store, {
      params: CHEAP,
      background,
      async hash(password) {
        hashed.push(password)
        if (gate !== null) await gate
        return hashPassword(password, CHEAP)
      },
      log: {
        info: (obj, msg) => void lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
        warn: (obj, msg) => void lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
      },
      onRehash: (outcome) => void outcomes.push(outcome),
    })
  }

  function openGate(): () => void {
    let open: () => void = () => {}
    gate = new Promise((resolve) => (open = resolve))
    return open
  }

  beforeEach(async () => {
    store = createMemoryUserStore()
    background = createBackgroundTasks()
    lines = []
    hashed = []
    outcomes = []
    gate = null
    oldHash = await hashPassword('alice-pw', OLDER)
    const created = await store.createUser({ username: 'alice', passwordHash: oldHash, now: 0 })
    assert.ok(created.kind === 'created')
    aliceId = created.user.id
  })

  test('re-hash: the check answers before the re-hash ends; then the hash has the current params', async () => {
    const checker = makeChecker()
    const open = openGate()
    // The re-hash is held at its gate, yet the check has answered.
    assert.deepEqual(await checker.check('alice', 'alice-pw'), { id: aliceId, username: 'alice' })
    assert.equal((await store.findById(aliceId))?.passwordHash, oldHash)
    open()
    await background.idle()
    const stored = (await store.findById(aliceId))?.passwordHash ?? ''
    assert.notEqual(stored, oldHash)
    assert.deepEqual(readHashParams(stored), CHEAP)
    assert.equal(await verifyPassword('alice-pw', stored), true)
    assert.deepEqual(hashed, ['alice-pw'])
    assert.deepEqual(lines, [
      {
        level: 'info',
        obj: { audit: 'password_rehashed', sub: aliceId, from: OLDER, to: CHEAP },
        msg: 'password_rehashed',
      },
    ])
    // The next login finds the current params: nothing more to do.
    assert.ok(await checker.check('alice', 'alice-pw'))
    await background.idle()
    assert.equal(hashed.length, 1)
  })

  test('re-hash: a wrong password, an unknown user or a current hash never re-hash', async () => {
    const checker = makeChecker()
    assert.equal(await checker.check('alice', 'wrong'), null)
    assert.equal(await checker.check('mallory', 'alice-pw'), null)
    const current = await hashPassword('bob-pw', CHEAP)
    await store.createUser({ username: 'bob', passwordHash: current, now: 0 })
    assert.ok(await checker.check('bob', 'bob-pw'))
    await background.idle()
    assert.deepEqual(hashed, [])
    assert.equal((await store.findByUsername('alice'))?.passwordHash, oldHash)
    assert.equal((await store.findByUsername('bob'))?.passwordHash, current)
    assert.deepEqual(lines, [])
  })

  test('re-hash: a hash with higher params than the current ones is brought to them too', async () => {
    const costlier = await hashPassword('carol-pw', { ln: 11, r: 8, p: 1 })
    await store.createUser({ username: 'carol', passwordHash: costlier, now: 0 })
    assert.ok(await makeChecker().check('carol', 'carol-pw'))
    await background.idle()
    assert.deepEqual(readHashParams((await store.findByUsername('carol'))?.passwordHash ?? ''), CHEAP)
  })

  test('re-hash: a password changed while hashing is kept (compare-and-set), with one info line', async () => {
    const checker = makeChecker()
    const open = openGate()
    assert.ok(await checker.check('alice', 'alice-pw'))
    // The user changes the password while the re-hash is computing.
    const changed = await hashPassword('new-pw', OLDER)
    assert.equal(await store.updatePasswordHash({ id: aliceId, oldHash, newHash: changed }), true)
    open()
    await background.idle()
    assert.equal((await store.findById(aliceId))?.passwordHash, changed)
    assert.deepEqual(
      lines.map((l) => [l.level, l.obj.event]),
      [['info', 'password_rehash_skipped']],
    )
  })

  test('re-hash: one at a time; a login meanwhile skips its re-hash, and a later login does it', async () => {
    const bobHash = await hashPassword('bob-pw', OLDER)
    await store.createUser({ username: 'bob', passwordHash: bobHash, now: 0 })
    const checker = makeChecker()
    const open = openGate()
    assert.ok(await checker.check('alice', 'alice-pw'))
    assert.ok(await checker.check('bob', 'bob-pw'))
    open()
    await background.idle()
    assert.deepEqual(hashed, ['alice-pw'])
    assert.equal((await store.findByUsername('bob'))?.passwordHash, bobHash)
    gate = null
    assert.ok(await checker.check('bob', 'bob-pw'))
    await background.idle()
    assert.deepEqual(readHashParams((await store.findByUsername('bob'))?.passwordHash ?? ''), CHEAP)
    assert.deepEqual(outcomes, ['deferred', 'rehashed', 'rehashed'])
  })

  test('re-hash: a store that fails is one warn line without secrets; the check still answers', async () => {
    const failing: UserStore = {
      ...store,
      async updatePasswordHash() {
        throw new UserStoreUnavailableError({
          operation: 'updatePasswordHash',
          address: 'postgres://app:****@db:5432/app',
          cause: new Error('connect ECONNREFUSED 127.0.0.1:5432'),
        })
      },
    }
    const checker = makeChecker({ store: failing })
    assert.deepEqual(await checker.check('alice', 'alice-pw'), { id: aliceId, username: 'alice' })
    await background.idle()
    assert.equal(lines.length, 1)
    const [line] = lines
    assert.equal(line?.level, 'warn')
    assert.equal(line?.obj.event, 'password_rehash_failed')
    assert.equal(line?.obj.sub, aliceId)
    assert.equal((line?.obj.err as Error).name, 'UserStoreUnavailableError')
    const text = JSON.stringify(lines)
    assert.doesNotMatch(text, /alice-pw/)
    assert.ok(!text.includes(oldHash.split('$')[2] ?? oldHash))
    assert.equal((await store.findById(aliceId))?.passwordHash, oldHash)
    // Nothing is left held: the next login tries again.
    assert.ok(await checker.check('alice', 'alice-pw'))
    await background.idle()
    assert.equal(hashed.length, 2)
  })

  test('re-hash: a hashing failure is one warn line; the check still answers', async () => {
    const checker = createCredentialChecker(store, {
      params: CHEAP,
      background,
      hash: async () => {
        throw new RangeError('scrypt: out of memory')
      },
      log: { info: () => {}, warn: (obj, msg) => void lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }) },
    })
    assert.deepEqual(await checker.check('alice', 'alice-pw'), { id: aliceId, username: 'alice' })
    await background.idle()
    assert.deepEqual(
      lines.map((l) => l.obj.event),
      ['password_rehash_failed'],
    )
    assert.equal((await store.findById(aliceId))?.passwordHash, oldHash)
  })
})
