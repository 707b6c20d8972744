import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { type TestServer, createTestServer } from '../helpers/make-server.js'

const PASSWORD = 'correct horse battery'

async function setup(t: TestContext): Promise<TestServer> {
  const server = await createTestServer()
  t.after(() => server.close())
  await server.addUser('alice', PASSWORD)
  await server.addUser('bob', PASSWORD)
  return server
}

function sid(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { sid: string }).sid
}

function del(s: TestServer, id: string, access: string) {
  return s.app.inject({ method: 'DELETE', url: `/api/auth/sessions/${id}/`, headers: { authorization: `Bearer ${access}` } })
}

test('sessions: lists the live sessions of the user with id, times, client info and the current flag, and no token', async (t) => {
  const s = await setup(t)
  const first = await s.app.inject({
    method: 'POST',
    url: '/api/auth/token/',
    payload: { username: 'alice', password: PASSWORD },
    headers: { 'user-agent': 'tab-one/1.0' },
  })
  const a = first.json() as { access: string; refresh: string }
  s.clock.advance(1000)
  const b = await s.login('alice', PASSWORD)
  await s.login('bob', PASSWORD)

  const res = await s.get('/api/auth/sessions/', b.access)
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['cache-control'], 'no-store')
  const list = res.json() as Record<string, unknown>[]
  assert.equal(list.length, 2)
  for (const row of list) assert.deepEqual(Object.keys(row).sort(), ['created_at', 'current', 'id', 'ip', 'last_used_at', 'user_agent'])
  const current = list.find((r) => r.current === true)
  assert.equal(current?.id, sid(b.refresh))
  const other = list.find((r) => r.current === false)
  assert.equal(other?.id, sid(a.refresh))
  assert.equal(other?.user_agent, 'tab-one/1.0')
  assert.equal(other?.ip, '127.0.0.1')
  assert.ok(!Number.isNaN(Date.parse(String(other?.created_at))))
  for (const token of [a.access, a.refresh, b.access, b.refresh]) assert.ok(!res.body.includes(token.split('.')[2]!))
  // The same list without the trailing slash, and 401 without a bearer token.
  assert.equal((await s.get('/api/auth/sessions', b.access)).statusCode, 200)
  const anonymous = await s.get('/api/auth/sessions/')
  assert.equal(anonymous.json().code, 'token_not_valid')
  assert.equal(anonymous.statusCode, 401)
})

test('sessions: DELETE of another own session answers 204 and revokes it; the list no longer shows it', async (t) => {
  const s = await setup(t)
  const a = await s.login('alice', PASSWORD)
  const b = await s.login('alice', PASSWORD)
  const res = await del(s, sid(a.refresh), b.access)
  assert.equal(res.statusCode, 204)
  assert.equal(res.body, '')
  assert.equal((await s.post('/api/auth/refresh/', { refresh: a.refresh })).json().code, 'token_revoked')
  const list = (await s.get('/api/auth/sessions/', b.access)).json() as { id: string }[]
  assert.deepEqual(
    list.map((r) => r.id),
    [sid(b.refresh)],
  )
  // Again: it is no longer a live session of yours.
  assert.equal((await del(s, sid(a.refresh), b.access)).statusCode, 404)
})

test('sessions: DELETE of the current session is a logout', async (t) => {
  const s = await setup(t)
  const a = await s.login('alice', PASSWORD)
  const res = await s.app.inject({
    method: 'DELETE',
    url: `/api/auth/sessions/${sid(a.refresh)}`,
    headers: { authorization: `Bearer ${a.access}` },
  })
  assert.equal(res.statusCode, 204)
  assert.equal((await s.post('/api/auth/refresh/', { refresh: a.refresh })).json().code, 'token_revoked')
})

test("sessions: DELETE of another user's session is 404 not_found and leaves it alive", async (t) => {
  const s = await setup(t)
  const alice = await s.login('alice', PASSWORD)
  const bob = await s.login('bob', PASSWORD)
  const res = await del(s, sid(bob.refresh), alice.access)
  assert.equal(res.json().code, 'not_found')
  assert.equal(res.statusCode, 404)
  // Indistinguishable from a session that does not exist.
  const missing = await del(s, 's_does-not-exist', alice.access)
  assert.equal(missing.statusCode, 404)
  assert.equal(missing.body, res.body)
  assert.equal((await s.post('/api/auth/refresh/', { refresh: bob.refresh })).statusCode, 200)
})
