import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { createTokenCodec } from '../../src/tokens/jwt.js'
import { generateKey, loadKeys } from '../../src/tokens/keys.js'
import { createVerifiedCache } from '../../src/tokens/verified-cache.js'
import { createFakeClock } from '../helpers/fake-clock.js'
import { type TestServer, createTestServer } from '../helpers/make-server.js'

const PASSWORD = 'correct horse battery'
const LEEWAY = 5

async function codecs(cacheSize: number) {
  const { privateJWK } = await generateKey('EdDSA')
  const keys = await loadKeys({
    algorithm: 'EdDSA',
    privateKey: JSON.stringify(privateJWK),
    secret: null,
    verifyKeys: null,
    devKeyDir: null,
  })
  const clock = createFakeClock(Date.UTC(2026, 0, 1, 12))
  const settings = { issuer: 'baton', audience: 'baton', leeway: LEEWAY, clock: clock.now }
  return {
    clock,
    cached: createTokenCodec(keys, settings, { accessCacheSize: cacheSize }),
    uncached: createTokenCodec(keys, settings, { accessCacheSize: 0 }),
  }
}

async function server(t: TestContext, env: Record<string, string> = {}): Promise<TestServer> {
  const s = await createTestServer(env)
  t.after(() => s.close())
  await s.addUser('alice', PASSWORD)
  return s
}

test('verified cache: a second verification of the same access token is answered from the cache', async () => {
  const { cached, clock } = await codecs(100)
  const iat = Math.floor(clock.now() / 1000)
  const token = await cached.signAccess({ sub: '1', user_id: '1', sid: 's_1', jti: 'j1', iat, exp: iat + 300 })
  const first = await cached.verifyAccess(token)
  const second = await cached.verifyAccess(token)
  // The very same (frozen) object: no second signature check happened.
  assert.equal(second, first)
  assert.ok(Object.isFrozen(second))
})

test('verified cache: a cached token stops verifying at the same instant as an uncached one (exp + leeway)', async () => {
  const { cached, uncached, clock } = await codecs(100)
  const iat = Math.floor(clock.now() / 1000)
  const exp = iat + 300
  const token = await cached.signAccess({ sub: '1', user_id: '1', sid: 's_1', jti: 'j1', iat, exp })
  await cached.verifyAccess(token) // now in the cache

  // The last millisecond it is valid: jose's rule is `exp > now - leeway`, now in whole seconds.
  clock.set((exp + LEEWAY) * 1000 - 1)
  assert.equal((await cached.verifyAccess(token)).exp, exp)
  assert.equal((await uncached.verifyAccess(token)).exp, exp)

  clock.set((exp + LEEWAY) * 1000)
  await assert.rejects(cached.verifyAccess(token), { code: 'token_not_valid' })
  await assert.rejects(uncached.verifyAccess(token), { code: 'token_not_valid' })
  // And it stays refused: an expired hit is not put back.
  clock.advance(3_600_000)
  await assert.rejects(cached.verifyAccess(token), { code: 'token_not_valid' })
})

test('verified cache: a token refused once (not yet valid, bad signature) is never cached as valid', async () => {
  const { cached, clock } = await codecs(100)
  const iat = Math.floor(clock.now() / 1000)
  // Issued 60 s in the future: refused now (beyond the leeway), valid once the clock gets there.
  const early = await cached.signAccess({ sub: '1', user_id: '1', sid: 's_1', jti: 'j1', iat: iat + 60, exp: iat + 360 })
  await assert.rejects(cached.verifyAccess(early), { code: 'token_not_valid' })
  clock.advance(60_000)
  assert.equal((await cached.verifyAccess(early)).jti, 'j1')

  const good = await cached.signAccess({ sub: '1', user_id: '1', sid: 's_1', jti: 'j2', iat, exp: iat + 300 })
  const forged = good.slice(0, -4) + (good.endsWith('AAAA') ? 'BBBB' : 'AAAA')
  await cached.verifyAccess(good)
  await assert.rejects(cached.verifyAccess(forged), { code: 'token_not_valid' })
})

test('verified cache: holds at most its size, dropping the oldest entries first', () => {
  const cache = createVerifiedCache<number>(10)
  for (let i = 0; i < 25; i++) cache.set(`t${i}`, i)
  assert.equal(cache.size, 10)
  assert.equal(cache.get('t0'), undefined)
  // Oldest first, one at a time (ttl-cache.ts): the last ten set are all still there.
  assert.equal(cache.get('t14'), undefined)
  for (let i = 15; i < 25; i++) assert.equal(cache.get(`t${i}`), i)
  const off = createVerifiedCache<number>(0)
  off.set('t', 1)
  assert.equal(off.get('t'), undefined)
})

test('verified cache: through the server, an access token answered from the cache expires on the fake clock', async (t) => {
  const s = await server(t)
  const { access } = await s.login('alice', PASSWORD)
  assert.equal((await s.get('/api/me/', access)).statusCode, 200)
  assert.equal((await s.get('/api/me/', access)).statusCode, 200)
  s.clock.advance((300 + LEEWAY) * 1000)
  const res = await s.get('/api/me/', access)
  assert.equal(res.statusCode, 401)
  assert.equal(res.json().code, 'token_not_valid')
})

test('verified cache: with the revocation check on, a cached access token of a revoked session is refused at once', async (t) => {
  const s = await server(t, { BATON_REVOCATION_CHECK: 'true' })
  const { access, refresh } = await s.login('alice', PASSWORD)
  assert.equal((await s.get('/api/me/', access)).statusCode, 200)
  assert.equal((await s.get('/api/me/', access)).statusCode, 200)
  assert.equal((await s.post('/api/auth/logout/', { refresh })).statusCode, 200)
  const res = await s.get('/api/me/', access)
  assert.equal(res.statusCode, 401)
  assert.equal(res.json().code, 'token_revoked')
})
