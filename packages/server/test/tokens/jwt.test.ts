import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { SignJWT, UnsecuredJWT, base64url, createRemoteJWKSet, decodeProtectedHeader, importJWK, jwtVerify } from 'jose'
import { ALGORITHMS, type Algorithm } from '../../src/config.js'
import { createMemoryStore } from '../../src/store/memory.js'
import type { SessionStore } from '../../src/store/types.js'
import { generateKey } from '../../src/tokens/keys.js'
import { type TestServer, createTestServer } from '../helpers/make-server.js'

const PASSWORD = 'correct horse battery'
/** 40 bytes: above HS256's 32-byte minimum. */
const SECRET = 'test-secret-for-hs256-0123456789abcdefgh'

function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
}

async function setup(t: TestContext, env: Record<string, string> = {}, store?: SessionStore): Promise<TestServer> {
  const server = await createTestServer(env, store === undefined ? {} : { store })
  t.after(() => server.close())
  await server.addUser('alice', PASSWORD)
  return server
}

function envFor(alg: Algorithm): Record<string, string> {
  return alg === 'HS256' ? { JWT_ALGORITHM: alg, JWT_SECRET: SECRET } : { JWT_ALGORITHM: alg }
}

for (const alg of ALGORITHMS) {
  test(`jwt: ${alg} tokens sign and verify through login, a protected route, refresh and the grace answer`, async (t) => {
    const s = await setup(t, envFor(alg))
    const { access, refresh } = await s.login('alice', PASSWORD)
    assert.equal(decodeProtectedHeader(access).alg, alg)
    // Issue 17: refresh tokens carry an HMAC with the refresh key, whatever the access algorithm.
    assert.equal(decodeProtectedHeader(refresh).alg, 'HS256')
    assert.equal(decodeProtectedHeader(refresh).kid, s.deps.keys.refresh.kid)
    assert.equal(decodeProtectedHeader(access).kid, s.deps.keys.kid)
    assert.equal((await s.get('/api/me/', access)).statusCode, 200)
    const next = await s.post('/api/auth/refresh/', { refresh })
    assert.equal(next.statusCode, 200)
    const graced = await s.post('/api/auth/refresh/', { refresh })
    assert.equal(graced.statusCode, 200)
    // The same successor: same jti, and the same string (an HMAC is deterministic).
    assert.equal(claims(graced.json().refresh).jti, claims(next.json().refresh).jti)
    assert.equal(graced.json().refresh, next.json().refresh)
    assert.equal((await s.post('/api/auth/verify/', { token: next.json().refresh })).statusCode, 200)
  })
}

test('jwt: access tokens are typed at+jwt and refresh tokens refresh+jwt, with the claims of SPEC §2', async (t) => {
  const s = await setup(t)
  const { access, refresh } = await s.login('alice', PASSWORD)
  assert.equal(decodeProtectedHeader(access).typ, 'at+jwt')
  assert.equal(decodeProtectedHeader(refresh).typ, 'refresh+jwt')
  const a = claims(access)
  for (const c of ['iss', 'aud', 'sub', 'iat', 'exp', 'jti', 'sid', 'token_type', 'user_id']) assert.ok(c in a, `access has ${c}`)
  assert.equal(a.token_type, 'access')
  assert.equal(a.user_id, a.sub)
  assert.equal(a.iss, 'baton')
  assert.equal(a.aud, 'baton')
  assert.equal((a.exp as number) - (a.iat as number), 300)
  const r = claims(refresh)
  for (const c of ['iss', 'aud', 'sub', 'iat', 'exp', 'jti', 'sid', 'gen', 'auth_time', 'token_type']) assert.ok(c in r, `refresh has ${c}`)
  assert.equal(r.token_type, 'refresh')
  assert.equal(r.gen, 1)
  assert.equal(r.auth_time, r.iat)
  assert.equal((r.exp as number) - (r.iat as number), 86_400)
  assert.equal(r.sid, a.sid)
  assert.ok(!('user_id' in r) || r.user_id === r.sub)
})

test('jwt: a refresh token is refused as a bearer token and an access token is refused by refresh and logout', async (t) => {
  const s = await setup(t)
  const { access, refresh } = await s.login('alice', PASSWORD)
  const asBearer = await s.get('/api/me/', refresh)
  assert.equal(asBearer.json().code, 'token_not_valid')
  assert.equal(asBearer.statusCode, 401)
  const asRefresh = await s.post('/api/auth/refresh/', { refresh: access })
  assert.equal(asRefresh.json().code, 'token_not_valid')
  assert.equal(asRefresh.statusCode, 401)
  assert.equal((await s.post('/api/auth/logout/', { refresh: access })).statusCode, 401)
})

test('jwt: a token whose typ and token_type disagree is refused both ways', async (t) => {
  const s = await setup(t)
  const { access, refresh } = await s.login('alice', PASSWORD)
  const { keys } = s.deps
  // Signed with the server's own key: only the type rules can refuse these.
  const refreshTypedAsAccess = await new SignJWT({ ...claims(refresh) })
    .setProtectedHeader({ alg: keys.algorithm, kid: keys.kid, typ: 'at+jwt' })
    .sign(keys.signingKey)
  const accessTypedAsRefresh = await new SignJWT({ ...claims(access), gen: 1, auth_time: claims(access).iat })
    .setProtectedHeader({ alg: keys.algorithm, kid: keys.kid, typ: 'refresh+jwt' })
    .sign(keys.signingKey)
  assert.equal((await s.get('/api/me/', refreshTypedAsAccess)).statusCode, 401)
  assert.equal((await s.post('/api/auth/refresh/', { refresh: accessTypedAsRefresh })).statusCode, 401)
  assert.equal((await s.post('/api/auth/verify/', { token: refreshTypedAsAccess })).statusCode, 401)
  assert.equal((await s.post('/api/auth/verify/', { token: accessTypedAsRefresh })).statusCode, 401)
  // A typ-less token with our key is neither.
  const untyped = await new SignJWT({ ...claims(access) }).setProtectedHeader({ alg: keys.algorithm, kid: keys.kid }).sign(keys.signingKey)
  assert.equal((await s.get('/api/me/', untyped)).statusCode, 401)
  assert.equal((await s.post('/api/auth/verify/', { token: untyped })).statusCode, 401)
})

test('jwt: alg none, key confusion (HS256 with the public key) and jku/jwk/x5u headers are refused', async (t) => {
  const s = await setup(t)
  const { access } = await s.login('alice', PASSWORD)
  const payload = claims(access)
  const { keys } = s.deps
  const none = new UnsecuredJWT(payload).encode()
  const noneWithKid = `${base64url.encode(JSON.stringify({ alg: 'none', kid: keys.kid, typ: 'at+jwt' }))}.${none.split('.')[1]}.`
  const publicJWK = keys.jwks.keys[0]!
  const confused = await new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', kid: keys.kid, typ: 'at+jwt' })
    .sign(new TextEncoder().encode(JSON.stringify(publicJWK)))
  const confusedX = await new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', kid: keys.kid, typ: 'at+jwt' })
    .sign(base64url.decode(publicJWK.x!))
  const withHeaders = await Promise.all(
    [{ jku: 'http://127.0.0.1:1/jwks.json' }, { jwk: publicJWK }, { x5u: 'http://127.0.0.1:1/cert.pem' }].map((extra) =>
      new SignJWT(payload).setProtectedHeader({ alg: keys.algorithm, kid: keys.kid, typ: 'at+jwt', ...extra }).sign(keys.signingKey),
    ),
  )
  for (const token of [none, noneWithKid, confused, confusedX, ...withHeaders]) {
    const res = await s.get('/api/me/', token)
    assert.equal(res.json().code, 'token_not_valid')
    assert.equal(res.statusCode, 401)
  }
})

test('jwt: tokens of another key with our kid, another issuer or audience, or an iat in the future are refused', async (t) => {
  const s = await setup(t, { JWT_ALGORITHM: 'EdDSA' })
  const other = await createTestServer({ JWT_ALGORITHM: 'ES256' })
  t.after(() => other.close())
  const { access } = await s.login('alice', PASSWORD)
  const payload = claims(access)
  const { keys } = s.deps
  const sign = (p: Record<string, unknown>, key = keys.signingKey, alg: string = keys.algorithm) =>
    new SignJWT(p).setProtectedHeader({ alg, kid: keys.kid, typ: 'at+jwt' }).sign(key)
  const now = Math.floor(s.clock.now() / 1000)
  const stranger = await importJWK((await generateKey('EdDSA')).privateJWK!, 'EdDSA')
  const tokens = [
    await sign(payload, stranger),
    await sign(payload, other.deps.keys.signingKey, 'ES256'),
    await sign({ ...payload, iss: 'someone-else' }),
    await sign({ ...payload, aud: 'another-api' }),
    await sign({ ...payload, iat: now + 3600, exp: now + 7200 }),
    await sign({ ...payload, sid: undefined }),
  ]
  for (const token of tokens) assert.equal((await s.get('/api/me/', token)).statusCode, 401)
  // The control: the same payload signed properly is accepted.
  assert.equal((await s.get('/api/me/', await sign(payload))).statusCode, 200)
})

test('jwt: expiry honours JWT_LEEWAY (default 5 s)', async (t) => {
  const s = await setup(t)
  const { access } = await s.login('alice', PASSWORD)
  s.clock.advance(300_000 + 4_000)
  assert.equal((await s.get('/api/me/', access)).statusCode, 200)
  s.clock.advance(2_000)
  assert.equal((await s.get('/api/me/', access)).statusCode, 401)

  const strict = await setup(t, { JWT_LEEWAY: '0' })
  const tokens = await strict.login('alice', PASSWORD)
  strict.clock.advance(300_000 + 1_000)
  assert.equal((await strict.get('/api/me/', tokens.access)).statusCode, 401)
})

test('jwks: another service verifies an access token with jose createRemoteJWKSet against a real socket', async (t) => {
  const s = await setup(t)
  await s.app.listen({ port: 0, host: '127.0.0.1' })
  const address = s.app.server.address()
  assert.ok(address !== null && typeof address === 'object')
  const { access } = await s.login('alice', PASSWORD)
  const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${address.port}/.well-known/jwks.json`))
  const { payload, protectedHeader } = await jwtVerify(access, jwks, {
    issuer: 'baton',
    audience: 'baton',
    typ: 'at+jwt',
    currentDate: new Date(s.clock.now()),
  })
  assert.equal(protectedHeader.kid, s.deps.keys.kid)
  assert.equal(payload.sub, claims(access).sub)
  const body = (await (await fetch(`http://127.0.0.1:${address.port}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] }
  assert.equal(body.keys.length, 1)
  for (const k of body.keys) for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.ok(!(priv in k), `JWKS publishes ${priv}`)
})

test('jwks: HS256 publishes an empty key set', async (t) => {
  const s = await setup(t, { JWT_ALGORITHM: 'HS256', JWT_SECRET: SECRET })
  const res = await s.get('/.well-known/jwks.json')
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.json(), { keys: [] })
  assert.ok(!res.body.includes(Buffer.from(SECRET).toString('base64url')))
})

test('keys: after a key rotation, tokens of the old key listed in JWT_VERIFY_KEYS still verify; new tokens carry the new kid', async (t) => {
  const shared = createMemoryStore()
  // Both servers share one session store (as instances share Redis); closing one must not clear it.
  const store: SessionStore = { ...shared, close: async () => {} }
  const old = await setup(t, {}, store)
  const oldTokens = await old.login('alice', PASSWORD)
  const oldJWKS = (await old.get('/.well-known/jwks.json')).body

  const next = await generateKey('ES256')
  // Issue 17: the refresh key was derived from the old signing key; pinning it (what
  // `baton keygen --refresh --derived` prints) keeps refresh tokens valid across the change.
  const pinned = `base64:${Buffer.from(old.deps.keys.refresh.secret).toString('base64')}`
  const current = await setup(
    t,
    { JWT_PRIVATE_KEY: JSON.stringify(next.privateJWK), JWT_VERIFY_KEYS: oldJWKS, BATON_REFRESH_SECRET: pinned },
    store,
  )
  assert.notEqual(current.deps.keys.kid, old.deps.keys.kid)
  assert.equal(current.deps.keys.kid, next.kid)

  assert.equal((await current.get('/api/me/', oldTokens.access)).statusCode, 200)
  assert.equal((await current.post('/api/auth/verify/', { token: oldTokens.refresh })).statusCode, 200)
  const rotated = await current.post('/api/auth/refresh/', { refresh: oldTokens.refresh })
  assert.equal(rotated.statusCode, 200)
  assert.equal(decodeProtectedHeader(rotated.json().access).kid, next.kid)
  assert.equal(decodeProtectedHeader(rotated.json().refresh).kid, old.deps.keys.refresh.kid)
  const kids = current.get('/.well-known/jwks.json').then((r) => (r.json() as { keys: { kid: string }[] }).keys.map((k) => k.kid))
  assert.deepEqual((await kids).sort(), [old.deps.keys.kid, next.kid].sort())

  // Without the old key listed, its tokens are refused.
  const forgetful = await setup(t, { JWT_PRIVATE_KEY: JSON.stringify(next.privateJWK) }, store)
  assert.equal((await forgetful.get('/api/me/', oldTokens.access)).statusCode, 401)
  // Without the refresh key pinned, the new signing key derives another: the README's warning.
  const unpinned = await setup(t, { JWT_PRIVATE_KEY: JSON.stringify(next.privateJWK), JWT_VERIFY_KEYS: oldJWKS }, store)
  assert.equal((await unpinned.post('/api/auth/verify/', { token: rotated.json().refresh })).statusCode, 401)
})
