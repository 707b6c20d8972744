import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { type TestServer, createTestServer } from '../helpers/make-server.js'

/** Error bodies never reflect a secret the request carried, wherever the request put it. */

let server: TestServer
let pair: { access: string; refresh: string }
const password = 'Correct-Horse-Battery-9'
before(async () => {
  server = await createTestServer({ REFRESH_RATE_LIMIT: 'off' })
  await server.addUser('alice', password)
  pair = await server.login('alice', password)
})
after(() => server.close())

function assertNoEcho(body: string, secrets: string[]): void {
  for (const s of secrets) {
    assert.ok(!body.includes(s), `echoed ${s.slice(0, 20)}… in ${body.slice(0, 200)}`)
    assert.ok(!body.includes(s.slice(0, 24)), `echoed the start of ${s.slice(0, 20)}… in ${body.slice(0, 200)}`)
  }
}

test('errors: a token or password sent as a field name is reported as non_field_errors, not echoed', async () => {
  for (const url of ['/api/auth/refresh/', '/api/auth/token/', '/api/auth/verify/', '/api/auth/logout/', '/api/auth/register/']) {
    const res = await server.post(url, { [pair.refresh]: 1, [password]: 2, [pair.access.split('.')[2]!]: 3 })
    assert.equal(res.statusCode, 400, res.body)
    const body = res.json() as { code: string; messages: Record<string, string> }
    assert.equal(body.code, 'bad_request')
    assert.equal(body.messages.non_field_errors, 'Unknown field.')
    assertNoEcho(res.body, [pair.refresh, pair.access, password])
  }
  // Control: a plain unknown name is still named, as DRF does.
  const plain = await server.post('/api/auth/refresh/', { refresh: pair.refresh, extra_field: 1 })
  assert.equal(plain.statusCode, 400)
  assert.equal((plain.json() as { messages: Record<string, string> }).messages.extra_field, 'Unknown field.')
})

test('errors: wrong-typed, oversized and malformed values carrying secrets are not echoed', async () => {
  const secrets = [pair.refresh, pair.access, password]
  const bodies: [string, unknown][] = [
    ['/api/auth/refresh/', { refresh: [pair.refresh] }],
    ['/api/auth/refresh/', { refresh: { token: pair.refresh } }],
    ['/api/auth/refresh/', { refresh: `${pair.refresh}${'x'.repeat(9000)}` }],
    ['/api/auth/token/', { username: password, password: [password] }],
    ['/api/auth/token/', { username: 'alice', password: password.repeat(200) }],
    ['/api/auth/register/', { username: `${password} `, password: 'short' }],
  ]
  for (const [url, b] of bodies) {
    const res = await server.post(url, b)
    assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${url}: ${res.statusCode}`)
    assertNoEcho(res.body, secrets)
  }
  // Malformed JSON: the parser's message would quote the input.
  for (const raw of [`{"refresh": "${pair.refresh}"`, `{"refresh": ${pair.refresh}}`, `{"password": "${password}",}`]) {
    const res = await server.app.inject({
      method: 'POST',
      url: '/api/auth/refresh/',
      payload: raw,
      headers: { 'content-type': 'application/json' },
    })
    assert.equal(res.statusCode, 400)
    assertNoEcho(res.body, secrets)
  }
})
