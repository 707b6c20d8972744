import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { generateKey } from '../../src/tokens/keys.js'
import { type TestServer, createTestServer } from '../helpers/make-server.js'

const PASSWORD = 'correct horse battery'

async function setup(t: TestContext, env: Record<string, string> = {}): Promise<TestServer> {
  const server = await createTestServer(env)
  t.after(() => server.close())
  await server.addUser('alice', PASSWORD)
  return server
}

function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
}

for (const path of ['/api/auth/token/', '/api/auth/token', '/api/auth/login/', '/api/auth/login']) {
  test(`login: ${path} answers 200 {access, refresh} with Cache-Control: no-store`, async (t) => {
    const s = await setup(t)
    const res = await s.post(path, { username: 'alice', password: PASSWORD })
    assert.equal(res.statusCode, 200)
    assert.deepEqual(Object.keys(res.json()).sort(), ['access', 'refresh'])
    assert.equal(res.headers['cache-control'], 'no-store')
    const body = res.json() as { access: string; refresh: string }
    assert.equal(claims(body.access).token_type, 'access')
    assert.equal(claims(body.refresh).token_type, 'refresh')
  })
}

test('login: a wrong password and an unknown user get the same 401 invalid_credentials body', async (t) => {
  const s = await setup(t)
  const wrong = await s.post('/api/auth/token/', { username: 'alice', password: 'nope' })
  const unknown = await s.post('/api/auth/token/', { username: 'mallory', password: 'nope' })
  assert.equal(wrong.json().code, 'invalid_credentials')
  assert.equal(wrong.statusCode, 401)
  assert.equal(unknown.statusCode, 401)
  assert.equal(unknown.body, wrong.body)
  // No bearer token was presented: RFC 6750 names no error then.
  assert.ok(!String(wrong.headers['www-authenticate'] ?? '').includes('invalid_token'))
  assert.deepEqual(Object.keys(wrong.json()).sort(), ['code', 'detail'])
})

test('login: LOGIN_RATE_LIMIT=3/60 answers 429 with Retry-After on the 4th attempt, even with the right password', async (t) => {
  const s = await setup(t, { LOGIN_RATE_LIMIT: '3/60' })
  for (let i = 0; i < 3; i++) {
    assert.equal((await s.post('/api/auth/token/', { username: 'alice', password: 'wrong' })).statusCode, 401)
  }
  const limited = await s.post('/api/auth/token/', { username: 'alice', password: PASSWORD })
  assert.equal(limited.json().code, 'rate_limited')
  assert.equal(limited.statusCode, 429)
  const retryAfter = Number(limited.headers['retry-after'])
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${String(limited.headers['retry-after'])}`)
  // The window ends: the right password works again.
  s.clock.advance(60_000)
  assert.equal((await s.post('/api/auth/token/', { username: 'alice', password: PASSWORD })).statusCode, 200)
})

test('login: a correct login before the limit resets the per-username failure counter', async (t) => {
  const s = await setup(t, { LOGIN_RATE_LIMIT: '3/60' })
  const fail = () => s.post('/api/auth/token/', { username: 'alice', password: 'wrong' })
  assert.equal((await fail()).statusCode, 401)
  assert.equal((await fail()).statusCode, 401)
  assert.equal((await s.post('/api/auth/token/', { username: 'alice', password: PASSWORD })).statusCode, 200)
  assert.equal((await fail()).statusCode, 401)
  assert.equal((await fail()).statusCode, 401)
  // Four failures in the window, but never three in a row: not limited.
  assert.equal((await s.post('/api/auth/token/', { username: 'alice', password: PASSWORD })).statusCode, 200)
})

test('refresh: answers 200 {access, refresh} with Cache-Control: no-store, with and without the trailing slash', async (t) => {
  const s = await setup(t)
  let { refresh } = await s.login('alice', PASSWORD)
  for (const path of ['/api/auth/refresh/', '/api/auth/refresh']) {
    const res = await s.post(path, { refresh })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['cache-control'], 'no-store')
    refresh = (res.json() as { refresh: string }).refresh
  }
})

for (const path of ['/api/auth/logout/', '/api/auth/token/blacklist/', '/api/auth/logout']) {
  test(`logout: ${path} answers 200 {} idempotently; the refresh token is then token_revoked`, async (t) => {
    const s = await setup(t)
    const { refresh } = await s.login('alice', PASSWORD)
    const first = await s.post(path, { refresh })
    assert.equal(first.statusCode, 200)
    assert.deepEqual(first.json(), {})
    const second = await s.post(path, { refresh })
    assert.equal(second.statusCode, 200)
    assert.deepEqual(second.json(), {})
    const after = await s.post('/api/auth/refresh/', { refresh })
    assert.equal(after.json().code, 'token_revoked')
    assert.equal(after.statusCode, 401)
  })
}

// SPEC §9: simplejwt's documented paths, each with and without its trailing slash.
for (const slash of ['/', '']) {
  test(`simplejwt paths: /api/token${slash}, /api/token/refresh${slash}, /api/token/verify${slash}, /api/token/blacklist${slash} answer as baton's own`, async (t) => {
    const s = await setup(t)
    const login = await s.post(`/api/token${slash}`, { username: 'alice', password: PASSWORD })
    assert.equal(login.statusCode, 200)
    assert.equal(login.headers['cache-control'], 'no-store')
    const pair = login.json() as { access: string; refresh: string }
    assert.deepEqual(Object.keys(pair).sort(), ['access', 'refresh'])
    assert.equal(claims(pair.access).token_type, 'access')

    const refreshed = await s.post(`/api/token/refresh${slash}`, { refresh: pair.refresh })
    assert.equal(refreshed.statusCode, 200)
    assert.equal(refreshed.headers['cache-control'], 'no-store')
    const next = refreshed.json() as { access: string; refresh: string }
    assert.deepEqual(Object.keys(next).sort(), ['access', 'refresh'])
    assert.notEqual(next.refresh, pair.refresh)

    for (const token of [next.access, next.refresh]) {
      const verified = await s.post(`/api/token/verify${slash}`, { token })
      assert.equal(verified.statusCode, 200)
      assert.deepEqual(verified.json(), {})
    }
    const garbage = await s.post(`/api/token/verify${slash}`, { token: 'not.a.token' })
    assert.equal(garbage.json().code, 'token_not_valid')
    assert.equal(garbage.statusCode, 401)

    const out = await s.post(`/api/token/blacklist${slash}`, { refresh: next.refresh })
    assert.equal(out.statusCode, 200)
    assert.deepEqual(out.json(), {})
    assert.equal((await s.post(`/api/token/blacklist${slash}`, { refresh: next.refresh })).statusCode, 200)
    const after = await s.post('/api/auth/refresh/', { refresh: next.refresh })
    assert.equal(after.json().code, 'token_revoked')
  })
}

test('simplejwt paths: errors are the same bodies as on /api/auth/ (bad credentials, bad body, reuse)', async (t) => {
  const s = await setup(t)
  const wrong = [
    await s.post('/api/token/', { username: 'alice', password: 'nope' }),
    await s.post('/api/auth/token/', { username: 'alice', password: 'nope' }),
  ]
  assert.deepEqual(
    wrong.map((r) => [r.statusCode, r.body]),
    [
      [401, wrong[1]!.body],
      [401, wrong[1]!.body],
    ],
  )
  const missing = [await s.post('/api/token/refresh/', {}), await s.post('/api/auth/refresh/', {})]
  assert.equal(missing[0]!.statusCode, 400)
  assert.equal(missing[0]!.body, missing[1]!.body)
  const { refresh } = await s.login('alice', PASSWORD)
  assert.equal((await s.post('/api/token/refresh/', { refresh })).statusCode, 200)
  s.clock.advance(60_000)
  const reused = await s.post('/api/token/refresh/', { refresh })
  assert.equal(reused.json().code, 'token_reused')
  assert.equal(reused.statusCode, 401)
})

test('simplejwt paths: not served in cookie mode (404), whose refresh cookie is scoped to /api/auth/', async (t) => {
  const s = await setup(t, { BATON_TOKEN_TRANSPORT: 'cookie' })
  for (const path of ['/api/token/', '/api/token/refresh/', '/api/token/verify/', '/api/token/blacklist', '/api/token']) {
    const res = await s.post(path, { username: 'alice', password: PASSWORD }, { 'x-baton-csrf': '1' })
    assert.equal(res.statusCode, 404, path)
    assert.equal(res.json().code, 'not_found')
  }
  assert.equal((await s.post('/api/auth/token/', { username: 'alice', password: PASSWORD })).statusCode, 200)
})

test('logout: an access token is not a refresh token: 401 token_not_valid', async (t) => {
  const s = await setup(t)
  const { access } = await s.login('alice', PASSWORD)
  const res = await s.post('/api/auth/logout/', { refresh: access })
  assert.equal(res.json().code, 'token_not_valid')
  assert.equal(res.statusCode, 401)
})

test('logout-all: revokes every session of the user and answers {revoked: n}', async (t) => {
  const s = await setup(t)
  await s.addUser('bob', PASSWORD)
  const a = await s.login('alice', PASSWORD)
  const b = await s.login('alice', PASSWORD)
  const c = await s.login('alice', PASSWORD)
  const bob = await s.login('bob', PASSWORD)
  assert.equal((await s.post('/api/auth/logout/', { refresh: c.refresh })).statusCode, 200)

  const res = await s.post('/api/auth/logout-all/', {}, { authorization: `Bearer ${a.access}` })
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.json(), { revoked: 2 })
  for (const token of [a.refresh, b.refresh]) {
    assert.equal((await s.post('/api/auth/refresh/', { refresh: token })).json().code, 'token_revoked')
  }
  // Another user's session is untouched.
  assert.equal((await s.post('/api/auth/refresh/', { refresh: bob.refresh })).statusCode, 200)
  // Without a bearer token: 401.
  const anonymous = await s.post('/api/auth/logout-all/', {})
  assert.equal(anonymous.json().code, 'token_not_valid')
  assert.equal(anonymous.statusCode, 401)
})

test('register: 201 {id, username}, and the new user can log in', async (t) => {
  const s = await setup(t)
  const res = await s.post('/api/auth/register/', { username: 'carol', password: 'carol-password' })
  assert.equal(res.statusCode, 201)
  const body = res.json() as { id: string; username: string }
  assert.deepEqual(Object.keys(body).sort(), ['id', 'username'])
  assert.equal(body.username, 'carol')
  const tokens = await s.login('carol', 'carol-password')
  const me = await s.get('/api/me/', tokens.access)
  assert.deepEqual(me.json(), { id: body.id, username: 'carol' })
})

test('register: an existing username is 409 username_taken', async (t) => {
  const s = await setup(t)
  const res = await s.post('/api/auth/register/', { username: 'alice', password: 'another-one' })
  assert.equal(res.json().code, 'username_taken')
  assert.equal(res.statusCode, 409)
})

test('register: invalid fields are 400 bad_request with a message per field', async (t) => {
  const s = await setup(t)
  const res = await s.post('/api/auth/register/', { username: 'has space', password: '' })
  assert.equal(res.json().code, 'bad_request')
  assert.equal(res.statusCode, 400)
  const { messages } = res.json() as { messages: Record<string, string> }
  assert.deepEqual(Object.keys(messages).sort(), ['password'])
  const bad = await s.post('/api/auth/register/', { username: 'has space', password: 'fine-password' })
  assert.equal(bad.statusCode, 400)
  assert.deepEqual(Object.keys((bad.json() as { messages: object }).messages), ['username'])
  const both = await s.post('/api/auth/register/', { username: 'has space', password: 'p'.repeat(1025) })
  assert.equal(both.statusCode, 400)
  assert.deepEqual(Object.keys((both.json() as { messages: object }).messages).sort(), ['password', 'username'])
})

test('register: off in production mode (404 not_found)', async (t) => {
  const key = await generateKey('ES256')
  const s = await setup(t, { BATON_MODE: 'production', JWT_PRIVATE_KEY: JSON.stringify(key.privateJWK) })
  const res = await s.post('/api/auth/register/', { username: 'carol', password: 'carol-password' })
  assert.equal(res.json().code, 'not_found')
  assert.equal(res.statusCode, 404)
})

test('passwords: the limit is 1024 characters (code points) at login and registration, and the 400 names that limit', async (t) => {
  const s = await setup(t)
  const key = '🔑'.repeat(1024) // 2048 UTF-16 units: within the limit
  const created = await s.post('/api/auth/register/', { username: 'keys', password: key })
  assert.equal(created.statusCode, 201)
  assert.equal((await s.post('/api/auth/token/', { username: 'keys', password: key })).statusCode, 200)

  for (const password of ['x'.repeat(1025), '🔑'.repeat(1025), 'x'.repeat(5000)]) {
    for (const path of ['/api/auth/token/', '/api/auth/register/']) {
      const res = await s.post(path, { username: 'keys2', password })
      assert.equal(res.statusCode, 400, `${path} ${password.length}`)
      assert.equal(res.json().code, 'bad_request')
      assert.deepEqual(res.json().messages, { password: 'Ensure this field has no more than 1024 characters.' })
    }
  }
})
