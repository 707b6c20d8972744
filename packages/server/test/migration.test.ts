import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { test } from 'node:test'
import { createTestServer } from './helpers/make-server.js'

const KEY = 'django-insecure-migration-unit-key-0123456789abcdefghijklmnop'

/** A refresh token shaped and signed as simplejwt writes it (HS256 over Django's key's bytes). */
function simplejwtRefresh(userId: number, iat: number, exp: number, jti: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ token_type: 'refresh', exp, iat, jti, user_id: userId })}`
  return `${input}.${createHmac('sha256', KEY).update(input).digest('base64url')}`
}

// SPEC §9's "once" holds only while each rotation keeps the session past the legacy token's
// expiry; a REFRESH_TOKEN_LIFETIME shorter than what is left of it is said once, in the log.
test('cut-over: a simplejwt token that outlives REFRESH_TOKEN_LIFETIME is exchanged, with one warning naming the setting', async (t) => {
  const server = await createTestServer({ SIMPLEJWT_SIGNING_KEY: KEY, REFRESH_TOKEN_LIFETIME: '600' })
  t.after(() => server.close())
  const id = Number(await server.addUser('ada', 'correct horse battery staple'))
  const now = Math.floor(server.clock.now() / 1000)
  for (const jti of ['a'.repeat(32), 'b'.repeat(32)]) {
    const res = await server.post('/api/token/refresh/', { refresh: simplejwtRefresh(id, now, now + 86_400, jti) })
    assert.equal(res.statusCode, 200, res.body)
  }
  const warnings = server.logs.filter((l) => l.event === 'simplejwt_lifetime')
  assert.equal(warnings.length, 1)
  assert.match(String(warnings[0]!.msg), /REFRESH_TOKEN_LIFETIME/)
  assert.equal(server.logs.filter((l) => l.audit === 'migrated').length, 2)
  assert.ok(!server.logText().includes(KEY))
})

test('cut-over: no warning when REFRESH_TOKEN_LIFETIME covers the simplejwt token', async (t) => {
  const server = await createTestServer({ SIMPLEJWT_SIGNING_KEY: KEY })
  t.after(() => server.close())
  const id = Number(await server.addUser('ada', 'correct horse battery staple'))
  const now = Math.floor(server.clock.now() / 1000)
  const res = await server.post('/api/token/refresh/', { refresh: simplejwtRefresh(id, now, now + 3600, 'c'.repeat(32)) })
  assert.equal(res.statusCode, 200, res.body)
  assert.equal(server.logs.filter((l) => l.event === 'simplejwt_lifetime').length, 0)
})
