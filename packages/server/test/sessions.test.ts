import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { createMemoryStore } from '../src/store/memory.js'
import type { SessionStore } from '../src/store/types.js'
import { type TestServer, createTestServer } from './helpers/make-server.js'

/** The payload of a JWT, unverified (the server verifies; tests only read claims). */
function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
}

/**
 * A token without its signature. SPEC §3.2's "same successor" is a token with the successor's
 * `jti`: re-minted from the session record, so header and claims are the same bytes; ES256 (the
 * default) signs with a random nonce, so only EdDSA and HS256 repeat the signature too.
 */
function signedPart(token: string): string {
  return token.slice(0, token.lastIndexOf('.'))
}

const PASSWORD = 'correct horse battery'

async function setup(t: TestContext, env: Record<string, string> = {}): Promise<TestServer> {
  const server = await createTestServer(env)
  t.after(() => server.close())
  await server.addUser('alice', PASSWORD)
  return server
}

async function refresh(server: TestServer, token: string) {
  return server.post('/api/auth/refresh/', { refresh: token })
}

test('rotate: the current refresh token rotates to a new token of the next generation in the same session', async (t) => {
  const s = await setup(t)
  const first = await s.login('alice', PASSWORD)
  const res = await refresh(s, first.refresh)
  assert.equal(res.statusCode, 200)
  const next = res.json() as { access: string; refresh: string }
  assert.notEqual(next.refresh, first.refresh)
  assert.equal(claims(next.refresh).gen, 2)
  assert.equal(claims(next.refresh).sid, claims(first.refresh).sid)
  assert.notEqual(claims(next.refresh).jti, claims(first.refresh).jti)
  assert.equal(claims(next.refresh).auth_time, claims(first.refresh).auth_time)
  assert.equal((await s.get('/api/me/', next.access)).statusCode, 200)
})

test('rotate: previous token within grace returns the same successor refresh token and a valid access token', async (t) => {
  const s = await setup(t)
  const first = await s.login('alice', PASSWORD)
  const rotated = (await refresh(s, first.refresh)).json() as { access: string; refresh: string }
  s.clock.advance(10_000)
  const again = await refresh(s, first.refresh)
  assert.equal(again.statusCode, 200)
  const body = again.json() as { access: string; refresh: string }
  assert.equal(signedPart(body.refresh), signedPart(rotated.refresh))
  assert.equal((await s.get('/api/me/', body.access)).statusCode, 200)
  // The successor is still the current token: it rotates normally.
  const third = await refresh(s, body.refresh)
  assert.equal(third.statusCode, 200)
  assert.equal(claims((third.json() as { refresh: string }).refresh).gen, 3)
})

test('rotate: previous token after grace is reuse (token_reused), and the successor is then token_revoked', async (t) => {
  const s = await setup(t)
  const first = await s.login('alice', PASSWORD)
  const rotated = (await refresh(s, first.refresh)).json() as { refresh: string }
  s.clock.advance(15_001)
  const replay = await refresh(s, first.refresh)
  assert.equal(replay.json().code, 'token_reused')
  assert.equal(replay.statusCode, 401)
  const successor = await refresh(s, rotated.refresh)
  assert.equal(successor.json().code, 'token_revoked')
  assert.equal(successor.statusCode, 401)
})

test('rotate: an older generation is reuse even inside the grace window, and revokes the session', async (t) => {
  const s = await setup(t)
  const g1 = await s.login('alice', PASSWORD)
  const g2 = (await refresh(s, g1.refresh)).json() as { refresh: string }
  const g3 = (await refresh(s, g2.refresh)).json() as { refresh: string }
  const replay = await refresh(s, g1.refresh)
  assert.equal(replay.json().code, 'token_reused')
  assert.equal(replay.statusCode, 401)
  assert.equal((await refresh(s, g3.refresh)).json().code, 'token_revoked')
})

test('rotate: 50 parallel refreshes with one token all succeed with the same successor; then only the successor works', async (t) => {
  const s = await setup(t)
  const first = await s.login('alice', PASSWORD)
  const answers = await Promise.all(Array.from({ length: 50 }, () => refresh(s, first.refresh)))
  assert.deepEqual(
    answers.map((r) => r.statusCode),
    answers.map(() => 200),
  )
  const successors = new Set(answers.map((r) => signedPart((r.json() as { refresh: string }).refresh)))
  assert.equal(successors.size, 1)
  const successor = (answers[0]!.json() as { refresh: string }).refresh
  assert.equal(claims(successor!).gen, 2)
  for (const r of answers) assert.equal((await s.get('/api/me/', (r.json() as { access: string }).access)).statusCode, 200)

  s.clock.advance(16_000)
  const next = await refresh(s, successor!)
  assert.equal(next.statusCode, 200)
  assert.equal(claims((next.json() as { refresh: string }).refresh).gen, 3)
  const old = await refresh(s, first.refresh)
  assert.equal(old.json().code, 'token_reused')
  assert.equal(old.statusCode, 401)
})

test('rotate: with ROTATE_REFRESH_TOKENS=false refresh answers only {access} and the same refresh token keeps working', async (t) => {
  const s = await setup(t, { ROTATE_REFRESH_TOKENS: 'false' })
  const first = await s.login('alice', PASSWORD)
  for (let i = 0; i < 3; i++) {
    s.clock.advance(60_000)
    const res = await refresh(s, first.refresh)
    assert.equal(res.statusCode, 200)
    assert.deepEqual(Object.keys(res.json()), ['access'])
    assert.equal((await s.get('/api/me/', (res.json() as { access: string }).access)).statusCode, 200)
  }
  // last-used moves with every refresh.
  const list = (await s.get('/api/auth/sessions/', first.access)).json() as { created_at: string; last_used_at: string }[]
  assert.equal(Date.parse(list[0]!.last_used_at) - Date.parse(list[0]!.created_at), 180_000)
  // Logout still ends it.
  assert.equal((await s.post('/api/auth/logout/', { refresh: first.refresh })).statusCode, 200)
  assert.equal((await refresh(s, first.refresh)).json().code, 'token_revoked')
})

test('lifetime: rotation never extends the absolute lifetime; after it the refresh token is token_not_valid', async (t) => {
  const s = await setup(t, { SESSION_MAX_LIFETIME: '600', REFRESH_TOKEN_LIFETIME: '300', ACCESS_TOKEN_LIFETIME: '60' })
  let token = (await s.login('alice', PASSWORD)).refresh
  const authTime = claims(token).auth_time as number
  assert.equal(typeof authTime, 'number')
  s.clock.advance(250_000)
  token = ((await refresh(s, token)).json() as { refresh: string }).refresh
  assert.equal(claims(token).exp, authTime + 550)
  s.clock.advance(250_000)
  const near = await refresh(s, token)
  assert.equal(near.statusCode, 200)
  token = (near.json() as { refresh: string }).refresh
  // Without the cap this token would live until 500 + 300 s.
  assert.equal(claims(token).auth_time, authTime)
  assert.ok((claims(token).exp as number) <= authTime + 600, `exp ${String(claims(token).exp)} beyond auth_time + 600`)
  s.clock.advance(101_000)
  const after = await refresh(s, token)
  assert.equal(after.json().code, 'token_not_valid')
  assert.equal(after.statusCode, 401)
})

test('lifetime: a refresh token unused for REFRESH_TOKEN_LIFETIME is token_not_valid; a use before resets the window', async (t) => {
  const s = await setup(t)
  const first = await s.login('alice', PASSWORD)
  s.clock.advance(86_399_000)
  const used = await refresh(s, first.refresh)
  assert.equal(used.statusCode, 200)
  const token = (used.json() as { refresh: string }).refresh
  s.clock.advance(86_401_000)
  const expired = await refresh(s, token)
  assert.equal(expired.json().code, 'token_not_valid')
  assert.equal(expired.statusCode, 401)
  // Far past the JWT leeway too: still the same answer.
  s.clock.advance(60_000)
  assert.equal((await refresh(s, token)).json().code, 'token_not_valid')
})

test('verify: access, current refresh and previous refresh within grace verify; superseded and revoked do not', async (t) => {
  const s = await setup(t)
  const verify = (token: string) => s.post('/api/auth/verify/', { token })
  const first = await s.login('alice', PASSWORD)
  const ok = await verify(first.access)
  assert.equal(ok.statusCode, 200)
  assert.deepEqual(ok.json(), {})
  assert.equal((await verify(first.refresh)).statusCode, 200)

  const second = (await refresh(s, first.refresh)).json() as { access: string; refresh: string }
  assert.equal((await verify(second.refresh)).statusCode, 200)
  assert.equal((await verify(first.refresh)).statusCode, 200, 'previous token inside its grace window')
  s.clock.advance(15_001)
  const superseded = await verify(first.refresh)
  assert.equal(superseded.json().code, 'token_not_valid')
  assert.equal(superseded.statusCode, 401)
  // Verifying is read-only: it did not count as reuse, so the session still works.
  assert.equal((await verify(second.refresh)).statusCode, 200)

  assert.equal((await s.post('/api/auth/logout/', { refresh: second.refresh })).statusCode, 200)
  const revoked = await verify(second.refresh)
  assert.equal(revoked.json().code, 'token_revoked')
  assert.equal(revoked.statusCode, 401)

  const garbage = await verify('not-a-token')
  assert.equal(garbage.json().code, 'token_not_valid')
  assert.equal(garbage.statusCode, 401)
})

test('audit: login, rotated, grace_hit, reused (with presented_gen) and revoked are logged with sid and sub, never a token', async (t) => {
  const s = await setup(t)
  const tokens: string[] = []
  const a = await s.login('alice', PASSWORD)
  tokens.push(a.access, a.refresh)
  const b = (await refresh(s, a.refresh)).json() as { access: string; refresh: string }
  tokens.push(b.access, b.refresh)
  const graced = (await refresh(s, a.refresh)).json() as { access: string; refresh: string }
  tokens.push(graced.access, graced.refresh)
  s.clock.advance(20_000)
  assert.equal((await refresh(s, a.refresh)).json().code, 'token_reused')

  const other = await s.login('alice', PASSWORD)
  tokens.push(other.access, other.refresh)
  assert.equal((await s.post('/api/auth/logout/', { refresh: other.refresh })).statusCode, 200)

  const sid = claims(a.refresh).sid
  const sub = claims(a.refresh).sub
  const events = s.logs.filter((l) => typeof l.audit === 'string')
  const find = (name: string, session = sid) => events.find((l) => l.audit === name && l.sid === session)
  for (const name of ['login', 'rotated', 'grace_hit', 'reused']) {
    const line = find(name)
    assert.ok(line, `no ${name} event`)
    assert.equal(line.sub, sub, `${name} has sub`)
  }
  assert.equal(find('reused')!.presented_gen, 1)
  const revoked = find('revoked', claims(other.refresh).sid)
  assert.ok(revoked, 'no revoked event')
  assert.equal(revoked.sub, sub)

  const text = s.logText()
  for (const token of tokens) {
    assert.ok(!text.includes(token), 'a token string is in the log')
    assert.ok(!text.includes(token.split('.')[2]!), 'a token signature is in the log')
  }
  assert.ok(!text.includes(PASSWORD), 'the password is in the log')
})

test('revocation check: with BATON_REVOCATION_CHECK on, an access token of a logged-out session is token_revoked within a second', async (t) => {
  const s = await setup(t, { BATON_REVOCATION_CHECK: 'true' })
  const { access, refresh: token } = await s.login('alice', PASSWORD)
  assert.equal((await s.get('/api/me/', access)).statusCode, 200)
  assert.equal((await s.post('/api/auth/logout/', { refresh: token })).statusCode, 200)
  s.clock.advance(1_000)
  const res = await s.get('/api/me/', access)
  assert.equal(res.json().code, 'token_revoked')
  assert.equal(res.statusCode, 401)
  const verified = await s.post('/api/auth/verify/', { token: access })
  assert.equal(verified.json().code, 'token_revoked')
})

test('revocation check: off by default, an access token lives out its lifetime after logout', async (t) => {
  const s = await setup(t)
  const { access, refresh: token } = await s.login('alice', PASSWORD)
  assert.equal((await s.post('/api/auth/logout/', { refresh: token })).statusCode, 200)
  s.clock.advance(2_000)
  assert.equal((await s.get('/api/me/', access)).statusCode, 200)
})

test('revocation check: protected routes fail closed (503 store_unavailable) while the store is down', async (t) => {
  const inner = createMemoryStore()
  let down = false
  const store: SessionStore = {
    ...inner,
    getSession: (id, now) => (down ? Promise.reject(new Error('connection refused')) : inner.getSession(id, now)),
  }
  const s = await createTestServer({ BATON_REVOCATION_CHECK: 'true' }, { store })
  t.after(() => s.close())
  await s.addUser('alice', PASSWORD)
  const { access } = await s.login('alice', PASSWORD)
  down = true
  s.clock.advance(1_000)
  const res = await s.get('/api/me/', access)
  assert.equal(res.json().code, 'store_unavailable')
  assert.equal(res.statusCode, 503)
  assert.ok(res.headers['retry-after'] !== undefined)
})

test("issued tokens: login and refresh answer the refresh token's exp beside it (the route never decodes it); rotation off answers neither", async (t) => {
  const { createSessions } = await import('../src/sessions.js')
  const s = await setup(t)
  const sessions = createSessions(s.deps)
  const client = { userAgent: null, ip: '127.0.0.1' }
  const first = await sessions.login('alice', PASSWORD, client)
  assert.ok(first.refresh !== undefined)
  assert.equal(first.refreshExpiresAt, claims(first.refresh).exp)
  s.clock.advance(10_000)
  const next = await sessions.refresh(first.refresh, client)
  assert.ok(next.refresh !== undefined)
  assert.equal(next.refreshExpiresAt, claims(next.refresh).exp)
  assert.ok(next.refreshExpiresAt > first.refreshExpiresAt, 'a rotation extends the refresh lifetime')

  const fixed = await setup(t, { ROTATE_REFRESH_TOKENS: 'false' })
  const fixedSessions = createSessions(fixed.deps)
  const pair = await fixedSessions.login('alice', PASSWORD, client)
  const access = await fixedSessions.refresh(pair.refresh!, client)
  assert.deepEqual([access.refresh, access.refreshExpiresAt], [undefined, undefined])
})
