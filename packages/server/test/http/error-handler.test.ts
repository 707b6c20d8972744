import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { type TestContext, test } from 'node:test'
import { createMemoryStore } from '../../src/store/memory.js'
import type { SessionStore } from '../../src/store/types.js'
import { UserStoreUnavailableError } from '../../src/users/errors.js'
import type { CredentialChecker } from '../../src/users/types.js'
import { type TestServer, createTestServer } from '../helpers/make-server.js'

const PASSWORD = 'correct horse battery'

/** A memory store whose listed operations fail with a plain Error (as a broken driver would). */
function failingStore(failing: (keyof SessionStore)[], message: string): SessionStore {
  const inner = createMemoryStore()
  const store = { ...inner, kind: 'flaky' } as Record<string, unknown>
  for (const op of failing) {
    store[op] = async () => {
      throw new Error(message)
    }
  }
  return store as unknown as SessionStore
}

/** Sends raw bytes to a listening server and answers everything it writes back. */
function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk) => {
      data += chunk
    })
    socket.on('end', () => resolve(data))
    socket.on('error', (err) => (data === '' ? reject(err) : resolve(data)))
    socket.write(request)
  })
}

async function listening(t: TestContext, s: TestServer): Promise<number> {
  await s.app.listen({ port: 0, host: '127.0.0.1' })
  const address = s.app.server.address()
  assert.ok(address !== null && typeof address === 'object')
  return address.port
}

test('errors: a store call that throws a plain Error is 503 store_unavailable with Retry-After and one cause line naming the operation', async (t) => {
  const store = failingStore(['rotate'], 'driver exploded')
  const s = await createTestServer({}, { store })
  t.after(() => s.close())
  await s.addUser('alice', PASSWORD)
  const { refresh } = await s.login('alice', PASSWORD)
  const res = await s.post('/api/auth/refresh/', { refresh })
  assert.equal(res.json().code, 'store_unavailable')
  assert.equal(res.statusCode, 503)
  assert.equal(res.headers['retry-after'], '1')
  assert.ok(!res.body.includes('driver exploded'))
  assert.ok(!res.body.includes('stack'))
  const causeLines = s.logs.filter((l) => l.event === 'store_error')
  assert.equal(causeLines.length, 1)
  assert.equal(causeLines[0]!.operation, 'rotate')
  assert.match(JSON.stringify(causeLines[0]!.err), /driver exploded/)
  // The audit trail records the outcome too, without the cause.
  const audit = s.logs.filter((l) => l.audit === 'store_error')
  assert.equal(audit.length, 1)
  assert.equal(audit[0]!.operation, 'rotate')
})

test('errors: login while the store fails is 503 store_unavailable, never a 500', async (t) => {
  const store = failingStore(['createSession', 'getCounter', 'incrementCounter', 'resetCounter'], 'connection reset')
  const s = await createTestServer({}, { store })
  t.after(() => s.close())
  await s.addUser('alice', PASSWORD)
  const res = await s.post('/api/auth/token/', { username: 'alice', password: PASSWORD })
  assert.equal(res.json().code, 'store_unavailable')
  assert.equal(res.statusCode, 503)
  assert.ok(res.headers['retry-after'] !== undefined)
})

test('errors: a store that hangs is 503 store_unavailable within STORE_TIMEOUT_MS', async (t) => {
  const inner = createMemoryStore()
  const store: SessionStore = { ...inner, kind: 'hung', rotate: () => new Promise(() => {}) }
  const s = await createTestServer({ STORE_TIMEOUT_MS: '50' }, { store })
  t.after(() => s.close())
  await s.addUser('alice', PASSWORD)
  const { refresh } = await s.login('alice', PASSWORD)
  const res = await s.post('/api/auth/refresh/', { refresh })
  assert.equal(res.json().code, 'store_unavailable')
  assert.equal(res.statusCode, 503)
  const cause = s.logs.find((l) => l.event === 'store_error')
  assert.equal(cause?.operation, 'rotate')
})

test('errors: the user database unavailable at login is 503 store_unavailable, with one log line carrying the cause', async (t) => {
  const credentials: CredentialChecker = {
    async check() {
      throw new UserStoreUnavailableError({
        operation: 'findByUsername',
        address: 'postgres://baton:****@127.0.0.1:5433/baton',
        cause: new Error('ECONNREFUSED 127.0.0.1:5433'),
      })
    },
    async findById() {
      return null
    },
  }
  const s = await createTestServer({}, { credentials })
  t.after(() => s.close())
  const res = await s.post('/api/auth/token/', { username: 'alice', password: PASSWORD })
  assert.equal(res.json().code, 'store_unavailable')
  assert.equal(res.statusCode, 503)
  assert.ok(res.headers['retry-after'] !== undefined)
  assert.ok(!res.body.includes('5433'))
  const lines = s.logs.filter((l) => l.operation === 'users.findByUsername')
  assert.equal(lines.length, 1, 'one log line names the failed user-database operation')
  assert.match(JSON.stringify(lines[0]), /ECONNREFUSED/)
})

test('errors: a bug (a TypeError) is 500 internal_error with a request_id that is in the log line with the stack', async (t) => {
  const credentials: CredentialChecker = {
    async check() {
      const user = undefined as unknown as { id: string }
      return { id: user.id, username: 'x' }
    },
    async findById() {
      return null
    },
  }
  const s = await createTestServer({}, { credentials })
  t.after(() => s.close())
  const res = await s.post('/api/auth/token/', { username: 'alice', password: PASSWORD })
  assert.equal(res.json().code, 'internal_error')
  assert.equal(res.statusCode, 500)
  const body = res.json() as { request_id: string; detail: string }
  assert.deepEqual(Object.keys(body).sort(), ['code', 'detail', 'request_id'])
  assert.ok(body.request_id.length > 0)
  assert.ok(!res.body.includes('TypeError') && !res.body.includes(' at '), 'the body carries a stack')
  const line = s.logs.find((l) => JSON.stringify(l).includes(body.request_id) && l.level === 50)
  assert.ok(line, 'no error line with the request id')
  const err = line.err as { type: string; stack: string }
  assert.equal(err.type, 'TypeError')
  assert.match(err.stack, /TypeError[^\n]*\n\s+at /)
  assert.ok(!s.logText().includes(PASSWORD))
})

test('errors: 401 carries WWW-Authenticate with error="invalid_token" only when a bearer token was presented', async (t) => {
  const s = await createTestServer()
  t.after(() => s.close())
  await s.addUser('alice', PASSWORD)
  const { refresh } = await s.login('alice', PASSWORD)
  // A refresh token presented as a bearer token: it was presented, and it is not valid here.
  const bearer = await s.get('/api/me/', refresh)
  assert.equal(bearer.statusCode, 401)
  assert.match(String(bearer.headers['www-authenticate']), /^Bearer .*error="invalid_token"/)
  const none = await s.get('/api/me/')
  assert.equal(none.statusCode, 401)
  assert.ok(!String(none.headers['www-authenticate']).includes('invalid_token'))
  const badRefresh = await s.post('/api/auth/refresh/', { refresh: 'x.y.z' })
  assert.equal(badRefresh.statusCode, 401)
  assert.ok(!String(badRefresh.headers['www-authenticate']).includes('invalid_token'))
})

test('errors: error bodies carry no token, key id or store address', async (t) => {
  const s = await createTestServer()
  t.after(() => s.close())
  await s.addUser('alice', PASSWORD)
  const { access, refresh } = await s.login('alice', PASSWORD)
  const kid = s.deps.keys.kid
  const answers = [
    await s.post('/api/auth/refresh/', { refresh: access }),
    await s.post('/api/auth/verify/', { token: `${refresh}x` }),
    await s.get('/api/me/', `${access}x`),
    await s.post('/api/auth/logout/', { refresh: access }),
  ]
  for (const res of answers) {
    assert.equal(res.statusCode, 401)
    assert.ok(!res.body.includes(kid))
    assert.ok(!res.body.includes(access.split('.')[2]!) && !res.body.includes(refresh.split('.')[2]!))
    assert.ok(!res.body.includes('memory'))
  }
})

test('errors: headers over the limit on a real socket are 431 request_header_fields_too_large', async (t) => {
  const s = await createTestServer()
  t.after(() => s.close())
  const port = await listening(t, s)
  const response = await rawRequest(port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
  assert.match(response, /^HTTP\/1\.1 431 /)
  const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { code: string }
  assert.equal(body.code, 'request_header_fields_too_large')
  // The server still answers afterwards.
  const ok = await rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
  assert.match(ok, /^HTTP\/1\.1 200 /)
})

test('errors: a request line that does not parse on a real socket is 400 bad_request in the JSON shape', async (t) => {
  const s = await createTestServer()
  t.after(() => s.close())
  const port = await listening(t, s)
  const response = await rawRequest(port, 'THIS IS NOT HTTP\r\n\r\n')
  assert.match(response, /^HTTP\/1\.1 400 /)
  const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { code: string }
  assert.equal(body.code, 'bad_request')
})
