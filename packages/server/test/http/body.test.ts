import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { type TestServer, createTestServer } from '../helpers/make-server.js'

async function setup(t: TestContext, env: Record<string, string> = {}): Promise<TestServer> {
  const server = await createTestServer(env)
  t.after(() => server.close())
  await server.addUser('alice', 'correct horse battery')
  return server
}

function raw(s: TestServer, payload: string | Buffer, contentType?: string, url = '/api/auth/token/') {
  return s.app.inject({ method: 'POST', url, payload, headers: contentType === undefined ? {} : { 'content-type': contentType } })
}

function assertNoEcho(body: string, ...inputs: string[]): void {
  for (const input of inputs) assert.ok(!body.includes(input), `the body echoes ${input}`)
}

test('body: malformed JSON is 400 bad_request and the input is not echoed', async (t) => {
  const s = await setup(t)
  const res = await raw(s, '{"username": "alice", "password": SECRET-INPUT', 'application/json')
  assert.equal(res.json().code, 'bad_request')
  assert.equal(res.statusCode, 400)
  assertNoEcho(res.body, 'SECRET-INPUT')
})

test('body: a JSON object with __proto__ is 400 bad_request, not a 500', async (t) => {
  const s = await setup(t)
  const res = await raw(s, '{"__proto__": {"admin": true}, "username": "alice", "password": "x"}', 'application/json')
  assert.equal(res.json().code, 'bad_request')
  assert.equal(res.statusCode, 400)
})

for (const [name, type, payload] of [
  ['text/plain', 'text/plain', 'username=alice'],
  ['a form', 'application/x-www-form-urlencoded', 'username=alice&password=x'],
  ['multipart', 'multipart/form-data; boundary=x', '--x--\r\n'],
  ['no content type', undefined, '{"username":"alice","password":"x"}'],
] as const) {
  test(`body: ${name} is 415 unsupported_media_type`, async (t) => {
    const s = await setup(t)
    const res = await raw(s, payload, type)
    assert.equal(res.json().code, 'unsupported_media_type')
    assert.equal(res.statusCode, 415)
  })
}

test('body: an empty body with a JSON content type is 400 bad_request', async (t) => {
  const s = await setup(t)
  const res = await raw(s, '', 'application/json')
  assert.equal(res.json().code, 'bad_request')
  assert.equal(res.statusCode, 400)
})

for (const payload of ['[]', '[{"username":"alice","password":"x"}]', 'null', '42', '"alice"']) {
  test(`body: a JSON ${payload.slice(0, 8)} body is 400 bad_request`, async (t) => {
    const s = await setup(t)
    const res = await raw(s, payload, 'application/json')
    assert.equal(res.json().code, 'bad_request')
    assert.equal(res.statusCode, 400)
  })
}

test('body: a missing field is 400 with "This field is required." for it', async (t) => {
  const s = await setup(t)
  const res = await s.post('/api/auth/token/', { username: 'alice' })
  assert.equal(res.json().code, 'bad_request')
  assert.equal(res.statusCode, 400)
  assert.deepEqual(res.json().messages, { password: 'This field is required.' })
})

test('body: an extra field is 400 with a message naming it', async (t) => {
  const s = await setup(t)
  const res = await s.post('/api/auth/token/', { username: 'alice', password: 'correct horse battery', admin: true })
  assert.equal(res.json().code, 'bad_request')
  assert.equal(res.statusCode, 400)
  assert.deepEqual(Object.keys(res.json().messages), ['admin'])
})

test('body: a non-string field is 400 with a message for it, and its value is not echoed', async (t) => {
  const s = await setup(t)
  const res = await s.post('/api/auth/token/', { username: 'alice', password: { $ne: 'ECHO-ME' } })
  assert.equal(res.json().code, 'bad_request')
  assert.equal(res.statusCode, 400)
  assert.deepEqual(Object.keys(res.json().messages), ['password'])
  assertNoEcho(res.body, 'ECHO-ME')
  const refresh = await s.post('/api/auth/refresh/', { refresh: 12345 })
  assert.equal(refresh.statusCode, 400)
  assert.deepEqual(Object.keys(refresh.json().messages), ['refresh'])
})

test('body: an oversized field is 400 with a length message, and its value is not echoed', async (t) => {
  const s = await setup(t)
  const long = 'u'.repeat(151)
  const res = await s.post('/api/auth/token/', { username: long, password: 'x' })
  assert.equal(res.json().code, 'bad_request')
  assert.equal(res.statusCode, 400)
  assert.match(res.json().messages.username, /no more than 150 characters/)
  assertNoEcho(res.body, long)
  const token = await s.post('/api/auth/verify/', { token: 't'.repeat(9000) })
  assert.equal(token.statusCode, 400)
  assert.deepEqual(Object.keys(token.json().messages), ['token'])
})

test('body: a body over BATON_BODY_LIMIT is 413 payload_too_large', async (t) => {
  const s = await setup(t, { BATON_BODY_LIMIT: '1024' })
  const res = await s.post('/api/auth/token/', { username: 'alice', password: 'p'.repeat(1000) })
  assert.equal(res.json().code, 'payload_too_large')
  assert.equal(res.statusCode, 413)
  // Just under the limit is parsed (and refused by the field rules, not the size).
  const under = await s.post('/api/auth/token/', { username: 'alice', password: 'p'.repeat(950) })
  assert.equal(under.json().code, 'invalid_credentials')
})

test('body: an unknown route is 404 not_found in the JSON error shape', async (t) => {
  const s = await setup(t)
  for (const [method, url] of [
    ['GET', '/nope'],
    ['GET', '/api/auth/token/'],
    ['PUT', '/api/auth/token/'],
  ] as const) {
    const res = await s.app.inject({ method, url })
    assert.equal(res.json().code, 'not_found')
    assert.equal(res.statusCode, 404)
  }
})

test('body: a URL that does not decode is 400 bad_request in the JSON shape, without echoing it', async (t) => {
  const s = await setup(t)
  const res = await s.app.inject({ method: 'DELETE', url: '/api/auth/sessions/%zzECHO/' })
  assert.equal(res.json().code, 'bad_request')
  assert.equal(res.statusCode, 400)
  assertNoEcho(res.body, 'ECHO')
})

test('body: an over-long session id in the path is 404 not_found in the JSON shape', async (t) => {
  const s = await setup(t)
  const { access } = await s.login('alice', 'correct horse battery')
  const res = await s.app.inject({
    method: 'DELETE',
    url: `/api/auth/sessions/${'a'.repeat(300)}/`,
    headers: { authorization: `Bearer ${access}` },
  })
  assert.equal(res.json().code, 'not_found')
  assert.equal(res.statusCode, 404)
})
