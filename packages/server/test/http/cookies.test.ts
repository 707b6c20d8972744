import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { type TestServer, createTestServer } from '../helpers/make-server.js'

const PASSWORD = 'correct horse battery'
const CSRF = { 'x-baton-csrf': '1' }

async function setup(t: TestContext, env: Record<string, string> = {}): Promise<TestServer> {
  const server = await createTestServer({ BATON_TOKEN_TRANSPORT: 'cookie', ...env })
  t.after(() => server.close())
  await server.addUser('alice', PASSWORD)
  return server
}

/** The refresh cookie's value and attributes from a response's Set-Cookie. */
function refreshCookie(setCookie: string | string[] | undefined): { value: string; attributes: string } {
  const line = [setCookie ?? []].flat().find((c) => c.startsWith('baton_refresh='))
  assert.ok(line, 'no baton_refresh cookie')
  const value = line.slice('baton_refresh='.length, line.indexOf(';'))
  return { value, attributes: line.slice(line.indexOf(';')) }
}

test('cookies: login answers only {access} and sets the refresh token as an HttpOnly SameSite=Strict cookie on /api/auth/', async (t) => {
  const s = await setup(t)
  const res = await s.post('/api/auth/token/', { username: 'alice', password: PASSWORD })
  assert.equal(res.statusCode, 200)
  assert.deepEqual(Object.keys(res.json()), ['access'])
  assert.equal(res.headers['cache-control'], 'no-store')
  const cookie = refreshCookie(res.headers['set-cookie'])
  assert.match(cookie.attributes, /HttpOnly/i)
  assert.match(cookie.attributes, /SameSite=Strict/i)
  assert.match(cookie.attributes, /Path=\/api\/auth\//)
  assert.match(cookie.attributes, /Expires=/)
  // The cookie lives exactly as long as the token it holds.
  const exp = (JSON.parse(Buffer.from(cookie.value.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp
  assert.equal(Date.parse(/Expires=([^;]+)/.exec(cookie.attributes)![1]!), exp * 1000)
  // Development on a loopback host over plain HTTP: browsers would drop a Secure cookie.
  assert.doesNotMatch(cookie.attributes, /Secure/i)
})

test('cookies: outside local development the cookie is Secure', async (t) => {
  const s = await setup(t, { HOST: '0.0.0.0' })
  const res = await s.post('/api/auth/token/', { username: 'alice', password: PASSWORD })
  assert.match(refreshCookie(res.headers['set-cookie']).attributes, /Secure/)
})

test('cookies: refresh reads the cookie, requires the CSRF header, and rotates the cookie', async (t) => {
  const s = await setup(t)
  const login = await s.post('/api/auth/token/', { username: 'alice', password: PASSWORD })
  const first = refreshCookie(login.headers['set-cookie']).value
  const cookie = { cookie: `baton_refresh=${first}` }

  const noCSRF = await s.post('/api/auth/refresh/', {}, cookie)
  assert.equal(noCSRF.json().code, 'csrf_failed')
  assert.equal(noCSRF.statusCode, 403)

  const res = await s.post('/api/auth/refresh/', {}, { ...cookie, ...CSRF })
  assert.equal(res.statusCode, 200)
  assert.deepEqual(Object.keys(res.json()), ['access'])
  const next = refreshCookie(res.headers['set-cookie']).value
  assert.notEqual(next, first)
  assert.equal((await s.get('/api/me/', (res.json() as { access: string }).access)).statusCode, 200)

  const noCookie = await s.post('/api/auth/refresh/', {}, CSRF)
  assert.equal(noCookie.json().code, 'token_not_valid')
  assert.equal(noCookie.statusCode, 401)
})

test('cookies: logout revokes the session from the cookie and clears it', async (t) => {
  const s = await setup(t)
  const login = await s.post('/api/auth/token/', { username: 'alice', password: PASSWORD })
  const token = refreshCookie(login.headers['set-cookie']).value
  const cookie = { cookie: `baton_refresh=${token}` }
  assert.equal((await s.post('/api/auth/logout/', {}, cookie)).statusCode, 403)
  const res = await s.post('/api/auth/logout/', {}, { ...cookie, ...CSRF })
  assert.equal(res.statusCode, 200)
  const cleared = refreshCookie(res.headers['set-cookie'])
  assert.equal(cleared.value, '')
  assert.match(cleared.attributes, /Path=\/api\/auth\//)
  const after = await s.post('/api/auth/refresh/', {}, { ...cookie, ...CSRF })
  assert.equal(after.json().code, 'token_revoked')
})
