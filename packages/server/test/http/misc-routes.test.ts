import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { type TestServer, createTestServer } from '../helpers/make-server.js'

const PASSWORD = 'correct horse battery'

async function setup(t: TestContext): Promise<TestServer> {
  const server = await createTestServer()
  t.after(() => server.close())
  return server
}

test('me: answers {id, username} of the bearer, with and without the trailing slash', async (t) => {
  const s = await setup(t)
  const id = await s.addUser('alice', PASSWORD)
  const { access } = await s.login('alice', PASSWORD)
  for (const path of ['/api/me/', '/api/me']) {
    const res = await s.get(path, access)
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), { id, username: 'alice' })
  }
})

test('me: without a token 401 token_not_valid, with no invalid_token error in WWW-Authenticate', async (t) => {
  const s = await setup(t)
  const res = await s.get('/api/me/')
  assert.equal(res.json().code, 'token_not_valid')
  assert.equal(res.statusCode, 401)
  assert.match(String(res.headers['www-authenticate']), /^Bearer/)
  assert.ok(!String(res.headers['www-authenticate']).includes('invalid_token'))
})

test('me: a bad bearer token is 401 token_not_valid with WWW-Authenticate: Bearer ... error="invalid_token"', async (t) => {
  const s = await setup(t)
  for (const header of ['Bearer not.a.token', 'bearer abc']) {
    const res = await s.app.inject({ method: 'GET', url: '/api/me/', headers: { authorization: header } })
    assert.equal(res.json().code, 'token_not_valid')
    assert.equal(res.statusCode, 401)
    assert.match(String(res.headers['www-authenticate']), /^Bearer .*error="invalid_token"/)
  }
})

test('me: an expired access token is 401 token_not_valid with error="invalid_token"', async (t) => {
  const s = await setup(t)
  await s.addUser('alice', PASSWORD)
  const { access } = await s.login('alice', PASSWORD)
  s.clock.advance(300_000 + 6_000)
  const res = await s.get('/api/me/', access)
  assert.equal(res.json().code, 'token_not_valid')
  assert.equal(res.statusCode, 401)
  assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/)
})

test('healthz: 200 {status: "ok"}', async (t) => {
  const s = await setup(t)
  const res = await s.get('/healthz')
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.json(), { status: 'ok' })
})

test('readyz: 200 with the store state while the store answers', async (t) => {
  const s = await setup(t)
  const res = await s.get('/readyz')
  assert.equal(res.statusCode, 200)
  assert.equal((res.json() as { store: { state: string } }).store.state, 'up')
})

test('metrics: Prometheus text with login and refresh outcomes', async (t) => {
  const s = await setup(t)
  await s.addUser('alice', PASSWORD)
  const { refresh } = await s.login('alice', PASSWORD)
  await s.post('/api/auth/refresh/', { refresh })
  const res = await s.get('/metrics')
  assert.equal(res.statusCode, 200)
  assert.match(String(res.headers['content-type']), /^text\/plain/)
  assert.match(res.body, /baton_login_total\{outcome="ok"\} 1/)
  assert.match(res.body, /baton_refresh_total\{outcome="ok"\} 1/)
})
