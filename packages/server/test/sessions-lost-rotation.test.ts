import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { createMemoryStore } from '../src/store/memory.js'
import type { SessionStore } from '../src/store/types.js'
import type { RefreshClaims } from '../src/tokens/jwt.js'
import { type TestServer, createTestServer } from './helpers/make-server.js'

// SPEC §3: a refresh token is valid only while its session record names it. A later generation
// alone is no proof (issue 11); the successor of a rotation the store lost is (store/rotation.ts).

const PASSWORD = 'correct horse battery'

function claims(token: string): RefreshClaims {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as RefreshClaims
}

async function setup(t: TestContext, store: SessionStore = createMemoryStore()): Promise<TestServer> {
  const server = await createTestServer({}, { store })
  t.after(() => server.close())
  await server.addUser('alice', PASSWORD)
  return server
}

const refresh = (s: TestServer, token: string) => s.post('/api/auth/refresh/', { refresh: token })
const verify = (s: TestServer, token: string) => s.post('/api/auth/verify/', { token })

/** Signs a refresh token as the server would, with some claims changed (a key holder's token). */
async function resigned(s: TestServer, token: string, change: Partial<RefreshClaims>): Promise<string> {
  const { iss: _iss, aud: _aud, token_type: _type, ...rest } = claims(token)
  return s.deps.tokens.signRefresh({ ...rest, ...change })
}

test('lost rotation: a validly signed refresh token of a later generation with a jti its session never issued is token_not_valid', async (t) => {
  const s = await setup(t)
  const first = await s.login('alice', PASSWORD)
  for (const gen of [100, 2]) {
    const forged = await resigned(s, first.refresh, { jti: 'never-issued-jti', gen })
    const res = await refresh(s, forged)
    assert.equal(res.statusCode, 401, `gen ${gen}: ${res.body}`)
    assert.equal(res.json().code, 'token_not_valid')
    assert.equal((await verify(s, forged)).json().code, 'token_not_valid')
  }
  // Not reuse either: the session is untouched and its current token rotates.
  const next = await refresh(s, first.refresh)
  assert.equal(next.statusCode, 200)
  assert.equal(claims((next.json() as { refresh: string }).refresh).gen, 2)
  assert.equal(s.logs.filter((l) => l.audit === 'reused').length, 0)
})

test('lost rotation: after the store loses a rotation, the token it issued verifies and refreshes', async (t) => {
  const store = createMemoryStore()
  const s = await setup(t, store)
  const first = await s.login('alice', PASSWORD)
  const { sid } = claims(first.refresh)
  const before = await store.getSession(sid, s.clock.now())
  assert.ok(before !== null)
  s.clock.advance(1_000)
  const lost = (await refresh(s, first.refresh)).json() as { refresh: string }
  // The failover: the record as it was at login (createSession rewrites it whole).
  await store.createSession({
    id: before.id,
    userId: before.userId,
    jti: before.currentJti,
    ...(before.nextJti === null ? {} : { nextJti: before.nextJti }),
    now: before.createdAt,
    expiresAt: before.expiresAt,
    absoluteExpiresAt: before.absoluteExpiresAt,
    userAgent: before.userAgent,
    ip: before.ip,
  })
  assert.deepEqual(await store.getSession(sid, s.clock.now()), before)

  assert.equal((await verify(s, lost.refresh)).statusCode, 200)
  const out = await refresh(s, lost.refresh)
  assert.equal(out.statusCode, 200, out.body)
  const recovered = (out.json() as { refresh: string }).refresh
  assert.equal(claims(recovered).gen, 3)
  assert.equal(claims(recovered).sid, sid)
  // Its predecessor is now two generations old: reuse, as had the write not been lost.
  s.clock.advance(1_000)
  assert.equal((await refresh(s, first.refresh)).json().code, 'token_reused')
})
