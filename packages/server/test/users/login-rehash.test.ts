// Password re-hash at login, through the real HTTP handlers: a user whose stored hash was made
// with other scrypt params gets a new hash with the server's params after a successful login.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, type TestContext, test } from 'node:test'
import pino from 'pino'
import { loadConfig } from '../../src/config.js'
import { createServer } from '../../src/index.js'
import { createMemoryStore } from '../../src/store/memory.js'
import { UserStoreUnavailableError } from '../../src/users/errors.js'
import { createMemoryUserStore } from '../../src/users/memory.js'
import { hashPassword, readHashParams, verifyPassword } from '../../src/users/password.js'
import { createSqliteUserStore } from '../../src/users/sqlite.js'
import type { CredentialChecker, UserStore } from '../../src/users/types.js'
import { TEST_SCRYPT, type TestServer, createTestServer } from '../helpers/make-server.js'

const PASSWORD = 'correct horse battery'
/** Cheaper than the test server's params (TEST_SCRYPT): a hash from before they were raised. */
const OLD_SCRYPT = { ln: 2, r: 8, p: 1 }

const dir = mkdtempSync(join(tmpdir(), 'baton-rehash-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** A server whose user store holds alice with a hash made with OLD_SCRYPT. */
async function setup(
  t: TestContext,
  users: UserStore = createMemoryUserStore(),
): Promise<{ server: TestServer; users: UserStore; id: string; oldHash: string }> {
  const server = await createTestServer({}, { users })
  t.after(() => server.close())
  const oldHash = await hashPassword(PASSWORD, OLD_SCRYPT)
  const created = await users.createUser({ username: 'alice', passwordHash: oldHash, now: 0 })
  assert.ok(created.kind === 'created')
  return { server, users, id: created.user.id, oldHash }
}

/** A pino logger whose lines land in `lines`. */
function captureLog(level: string): { lines: string[]; log: pino.Logger } {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk))
      cb()
    },
  })
  return { lines, log: pino({ level }, sink) }
}

function login(server: TestServer, password: string): ReturnType<TestServer['post']> {
  return server.post('/api/auth/token/', { username: 'alice', password })
}

function eventsOf(server: TestServer): unknown[] {
  return server.logs.map((l) => l.audit ?? l.event).filter((e) => String(e).startsWith('password_'))
}

/** `baton_password_rehash_total` by outcome, as `/metrics` shows it. */
async function rehashCounts(server: TestServer): Promise<Record<string, number>> {
  const { values } = await server.deps.metrics.passwordRehashes.get()
  return Object.fromEntries(values.map((v) => [String(v.labels.outcome), v.value]))
}

test('login re-hash: an older hash is replaced with the current params after a successful login', async (t) => {
  const { server, users, id, oldHash } = await setup(t)
  const res = await login(server, PASSWORD)
  assert.equal(res.statusCode, 200)
  await server.deps.background.idle()

  const stored = (await users.findById(id))?.passwordHash ?? ''
  assert.notEqual(stored, oldHash)
  assert.deepEqual(readHashParams(stored), TEST_SCRYPT)
  assert.equal(await verifyPassword(PASSWORD, stored), true)
  assert.equal(await verifyPassword('not the password', stored), false)
  assert.deepEqual(eventsOf(server), ['password_rehashed'])
  assert.deepEqual(await rehashCounts(server), { rehashed: 1 })
  assert.ok(!server.logText().includes(PASSWORD))

  // The new hash logs in, and is current: no second re-hash.
  assert.equal((await login(server, PASSWORD)).statusCode, 200)
  await server.deps.background.idle()
  assert.equal((await users.findById(id))?.passwordHash, stored)
  assert.deepEqual(eventsOf(server), ['password_rehashed'])
})

test('login re-hash: a wrong password is 401 and leaves the hash alone', async (t) => {
  const { server, users, id, oldHash } = await setup(t)
  const res = await login(server, 'wrong password')
  assert.equal(res.statusCode, 401)
  assert.equal(res.json().code, 'invalid_credentials')
  await server.deps.background.idle()
  assert.equal((await users.findById(id))?.passwordHash, oldHash)
  assert.deepEqual(eventsOf(server), [])
})

test('login re-hash: a password changed meanwhile is not overwritten (compare-and-set)', async (t) => {
  const inner = createMemoryUserStore()
  let changedHash = ''
  // The password change lands between the login's read of the hash and the re-hash's write.
  const users: UserStore = {
    ...inner,
    async updatePasswordHash(input) {
      changedHash = await hashPassword('a new password', TEST_SCRYPT)
      assert.equal(await inner.updatePasswordHash({ id: input.id, oldHash: input.oldHash, newHash: changedHash }), true)
      return inner.updatePasswordHash(input)
    },
  }
  const { server, id } = await setup(t, users)
  assert.equal((await login(server, PASSWORD)).statusCode, 200)
  await server.deps.background.idle()

  assert.equal((await inner.findById(id))?.passwordHash, changedHash)
  assert.deepEqual(eventsOf(server), ['password_rehash_skipped'])
  assert.deepEqual(await rehashCounts(server), { skipped: 1 })
  assert.equal((await login(server, PASSWORD)).statusCode, 401)
})

test('login re-hash: a user store failing at the write still lets the login succeed, logged once without secrets', async (t) => {
  const inner = createMemoryUserStore()
  const users: UserStore = {
    ...inner,
    async updatePasswordHash() {
      throw new UserStoreUnavailableError({
        operation: 'updatePasswordHash',
        address: 'postgres://app:****@db.internal:5432/app',
        cause: new Error('Connection terminated unexpectedly'),
      })
    },
  }
  const { server, id, oldHash } = await setup(t, users)
  const res = await login(server, PASSWORD)
  assert.equal(res.statusCode, 200)
  assert.deepEqual(Object.keys(res.json()).sort(), ['access', 'refresh'])
  await server.deps.background.idle()

  const failures = server.logs.filter((l) => l.event === 'password_rehash_failed')
  assert.equal(failures.length, 1)
  assert.equal(failures[0]?.level, 40) // warn
  assert.equal(failures[0]?.sub, id)
  assert.deepEqual(await rehashCounts(server), { failed: 1 })
  const text = server.logText()
  assert.ok(!text.includes(PASSWORD))
  for (const part of oldHash.split('$').slice(2)) assert.ok(!text.includes(part))
  assert.equal((await inner.findById(id))?.passwordHash, oldHash)
  // The refresh token the login answered works: the session was created.
  const refreshed = await server.post('/api/auth/refresh/', { refresh: res.json().refresh })
  assert.equal(refreshed.statusCode, 200)
})

test('login re-hash: close() waits for a re-hash in flight before closing the SQLite user store', async (t) => {
  const file = join(dir, 'users-close.db')
  const { server, id } = await setup(t, await createSqliteUserStore({ file }))
  assert.equal((await login(server, PASSWORD)).statusCode, 200)
  // No idle(): close() itself must let the re-hash write before the file is closed.
  await server.close()
  assert.deepEqual(eventsOf(server), ['password_rehashed'])

  const reopened = await createSqliteUserStore({ file })
  try {
    const stored = (await reopened.findById(id))?.passwordHash ?? ''
    assert.deepEqual(readHashParams(stored), TEST_SCRYPT)
    assert.equal(await verifyPassword(PASSWORD, stored), true)
  } finally {
    await reopened.close()
  }
})

test('login re-hash: bring your own users (credentials, no user store) logs in and re-hashes nothing', async (t) => {
  // The application's checker accepts a hash baton would call old: baton must not touch it.
  const appHash = await hashPassword(PASSWORD, OLD_SCRYPT)
  const credentials: CredentialChecker = {
    async check(username, password) {
      return username === 'alice' && (await verifyPassword(password, appHash)) ? { id: '7', username } : null
    },
    async findById(id) {
      return id === '7' ? { id, username: 'alice' } : null
    },
  }
  const { lines, log } = captureLog('debug')
  const config = loadConfig({
    BATON_STORE: 'memory',
    BATON_DEMO: 'false',
    BATON_DATA_DIR: '/nonexistent-baton-test',
    JWT_SECRET: 'x'.repeat(64),
    JWT_ALGORITHM: 'HS256',
  })
  const server = await createServer({ config, store: createMemoryStore(), credentials, log, passwordParams: TEST_SCRYPT })
  t.after(() => server.close())
  assert.equal(server.deps.users, null)

  const res = await server.app.inject({
    method: 'POST',
    url: '/api/auth/token/',
    payload: { username: 'alice', password: PASSWORD },
  })
  assert.equal(res.statusCode, 200)
  await server.deps.background.idle()
  assert.ok(!lines.join('').includes('password_re'))
  await server.close()
})

test('login re-hash: PASSWORD_SCRYPT_LN sets the params a login re-hashes to; below 2^17 in production is one warning', async (t) => {
  const { lines, log } = captureLog('info')
  const users = createMemoryUserStore()
  const oldHash = await hashPassword(PASSWORD, OLD_SCRYPT)
  const created = await users.createUser({ username: 'alice', passwordHash: oldHash, now: 0 })
  assert.ok(created.kind === 'created')
  const env = {
    BATON_MODE: 'production',
    BATON_STORE: 'memory',
    BATON_DATA_DIR: '/nonexistent-baton-test',
    JWT_ALGORITHM: 'HS256',
    JWT_SECRET: 'y'.repeat(64),
    PASSWORD_SCRYPT_LN: '10',
  }
  // No passwordParams option: the variable decides.
  const server = await createServer({ env, store: createMemoryStore(), users, log })
  t.after(() => server.close())
  const warnings = lines.filter((l) => l.includes('PASSWORD_SCRYPT_LN'))
  assert.equal(warnings.length, 1, lines.join(''))
  assert.equal(JSON.parse(warnings[0]!).level, 40)

  const res = await server.app.inject({ method: 'POST', url: '/api/auth/token/', payload: { username: 'alice', password: PASSWORD } })
  assert.equal(res.statusCode, 200)
  await server.deps.background.idle()
  const stored = (await users.findById(created.user.id))?.passwordHash ?? ''
  assert.deepEqual(readHashParams(stored), { ln: 10, r: 8, p: 1 })
  assert.equal(await verifyPassword(PASSWORD, stored), true)

  // The default cost in production: no warning.
  const { lines: quiet, log: quietLog } = captureLog('info')
  const other = await createServer({
    env: { ...env, PASSWORD_SCRYPT_LN: '' },
    store: createMemoryStore(),
    users: createMemoryUserStore(),
    log: quietLog,
  })
  t.after(() => other.close())
  assert.deepEqual(other.deps.config.passwordParams, { ln: 17, r: 8, p: 1 })
  assert.ok(!quiet.join('').includes('PASSWORD_SCRYPT_LN'))
})
