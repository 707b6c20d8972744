import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { decodeProtectedHeader } from 'jose'
import { ALGORITHMS, type Algorithm, loadConfig } from '../../src/config.js'
import { ConfigError } from '../../src/errors.js'
import { type RefreshClaims, type TokenCodec, createTokenCodec } from '../../src/tokens/jwt.js'
import { KeyError, type KeySet, type KeySource, generateKey, loadKeys } from '../../src/tokens/keys.js'
import { rawToken } from '../security/forge.js'

/**
 * Issue 17: refresh tokens carry an HMAC with a key only baton holds; access tokens keep the
 * configured algorithm. These tests hold the codec to the key rules: which key signs which type,
 * which keys verify it, where the key comes from, and the upgrade from access-key refresh tokens.
 */

const NOW = 1_800_000_000_000
const settings = { issuer: 'baton', audience: 'baton', leeway: 5, clock: () => NOW }
const HS_SECRET = 'hs256-access-secret-of-32-bytes-or-more!'

async function source(alg: Algorithm, extra: Partial<KeySource> = {}): Promise<KeySource> {
  if (alg === 'HS256')
    return { algorithm: alg, privateKey: null, secret: new TextEncoder().encode(HS_SECRET), verifyKeys: null, devKeyDir: null, ...extra }
  const { privateJWK } = await generateKey(alg)
  return { algorithm: alg, privateKey: JSON.stringify(privateJWK), secret: null, verifyKeys: null, devKeyDir: null, ...extra }
}

function refreshClaims(): Omit<RefreshClaims, 'iss' | 'aud' | 'token_type'> {
  const now = NOW / 1000
  return { sub: 'u1', sid: 's_1', jti: 'j1', gen: 1, iat: now, exp: now + 86_400, auth_time: now }
}

function accessClaims(): Record<string, unknown> {
  const now = NOW / 1000
  return { iss: 'baton', aud: 'baton', sub: 'u1', user_id: 'u1', sid: 's_1', jti: 'a1', iat: now, exp: now + 300, token_type: 'access' }
}

function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
}

async function refused(p: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(p, (err: Error & { code?: string }) => err.code === 'token_not_valid', what)
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'baton-refresh-key-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

for (const alg of ALGORITHMS) {
  test(`refresh key, ${alg}: refresh tokens are HS256 with an r- kid, a readable payload, and the key is not in the JWKS`, async () => {
    const keys = await loadKeys(await source(alg))
    const codec = createTokenCodec(keys, settings)
    const refresh = await codec.signRefresh(refreshClaims())
    const access = await codec.signAccess({ sub: 'u1', user_id: 'u1', sid: 's_1', jti: 'a1', iat: NOW / 1000, exp: NOW / 1000 + 300 })
    assert.deepEqual(decodeProtectedHeader(refresh), { alg: 'HS256', kid: keys.refresh.kid, typ: 'refresh+jwt' })
    assert.deepEqual(decodeProtectedHeader(access), { alg, kid: keys.kid, typ: 'at+jwt' })
    assert.match(keys.refresh.kid, /^r-[A-Za-z0-9_-]{16}$/)
    assert.ok(!keys.verifyKeys.has(keys.refresh.kid), 'the refresh key is not an access verification key')
    const p = payloadOf(refresh)
    assert.equal(p.exp, NOW / 1000 + 86_400)
    assert.equal(p.jti, 'j1')
    assert.equal(p.token_type, 'refresh')
    const published = JSON.stringify(keys.jwks)
    assert.ok(!published.includes(keys.refresh.kid))
    assert.ok(!published.includes(Buffer.from(keys.refresh.secret).toString('base64url')))
    assert.ok(keys.jwks.keys.every((k) => k.kty !== 'oct'))
    assert.equal((await codec.verifyRefresh(refresh)).sid, 's_1')
    assert.equal((await codec.verifyAny(refresh)).token_type, 'refresh')
    assert.equal((await codec.verifyAny(access)).token_type, 'access')
  })

  test(`refresh key, ${alg}: no confusion: a token made with the refresh key is never an access token, an access-key token never current-format refresh`, async () => {
    const keys = await loadKeys(await source(alg))
    const codec = createTokenCodec(keys, settings)
    const r = { alg: 'HS256', key: keys.refresh.secret }
    const forged = [
      rawToken({ alg: 'HS256', kid: keys.refresh.kid, typ: 'at+jwt' }, accessClaims(), r),
      rawToken({ alg: 'HS256', kid: keys.kid, typ: 'at+jwt' }, accessClaims(), r),
      rawToken({ alg: 'HS256', typ: 'at+jwt' }, accessClaims(), r),
      rawToken({ alg: 'HS256', kid: keys.refresh.kid, typ: 'refresh+jwt' }, accessClaims(), r),
    ]
    for (const [i, token] of forged.entries()) {
      await refused(codec.verifyAccess(token), `access #${i}`)
      await refused(codec.verifyAny(token), `verifyAny #${i}`)
    }
    // The refresh kid with the access algorithm and key: the kid names an HMAC key only.
    if (alg !== 'HS256') {
      const withAccessKey = rawToken(
        { alg, kid: keys.refresh.kid, typ: 'refresh+jwt' },
        { ...refreshClaims(), iss: 'baton', aud: 'baton', token_type: 'refresh' },
        { alg, key: keys.signingKey },
      )
      await refused(codec.verifyRefresh(withAccessKey), 'refresh kid, access key')
    }
    // A refresh token under the refresh kid, MACed with another secret, or with its MAC flipped.
    const good = await codec.signRefresh(refreshClaims())
    const [h, p] = good.split('.') as [string, string]
    await refused(
      codec.verifyRefresh(rawToken(decodeProtectedHeader(good), payloadOf(good), { alg: 'HS256', key: randomBytes(32) })),
      'another secret',
    )
    const sig = Buffer.from(good.split('.')[2]!, 'base64url')
    sig[0]! ^= 1
    await refused(codec.verifyRefresh(`${h}.${p}.${sig.toString('base64url')}`), 'flipped MAC')
    // The control: the same construction with the right key and type verifies.
    const control = rawToken(
      { alg: 'HS256', kid: keys.refresh.kid, typ: 'refresh+jwt' },
      { ...refreshClaims(), iss: 'baton', aud: 'baton', token_type: 'refresh' },
      r,
    )
    assert.equal((await codec.verifyRefresh(control)).jti, 'j1')
  })

  test(`refresh key, ${alg}: upgrade: a refresh token signed with the access key (before issue 17) verifies until it expires`, async () => {
    const keys = await loadKeys(await source(alg))
    const codec = createTokenCodec(keys, settings)
    const old = rawToken(
      { alg, kid: keys.kid, typ: 'refresh+jwt' },
      { iss: 'baton', aud: 'baton', ...refreshClaims(), token_type: 'refresh' },
      { alg, key: keys.signingKey },
    )
    assert.equal((await codec.verifyRefresh(old)).gen, 1)
    assert.equal((await codec.verifyAny(old)).token_type, 'refresh')
    const late = createTokenCodec(keys, { ...settings, clock: () => NOW + 86_400_000 + 6_000 })
    await refused(late.verifyRefresh(old), 'expired')
    // Still never an access token.
    await refused(codec.verifyAccess(old), 'as access')
  })
}

test('refresh key: derived from the signing key, so a restart, a second worker or instance and the development key agree', async (t) => {
  for (const alg of ALGORITHMS) {
    const src = await source(alg)
    const [a, b] = [await loadKeys(src), await loadKeys(src)]
    assert.ok(a.refresh.derived)
    assert.equal(a.refresh.kid, b.refresh.kid)
    const token = await createTokenCodec(a, settings).signRefresh(refreshClaims())
    assert.equal((await createTokenCodec(b, settings).verifyRefresh(token)).jti, 'j1', alg)
    // Another signing key derives another refresh key.
    const other = await loadKeys(alg === 'HS256' ? { ...src, secret: randomBytes(32) } : await source(alg))
    assert.notEqual(other.refresh.kid, a.refresh.kid)
    await refused(createTokenCodec(other, settings).verifyRefresh(token), `${alg}: another signing key`)
    if (alg === 'HS256') assert.ok(!Buffer.from(a.refresh.secret).equals(Buffer.from(HS_SECRET)), 'HS256: not JWT_SECRET itself')
  }
  const dir = tempDir(t)
  const first = await loadKeys({ algorithm: 'ES256', privateKey: null, secret: null, verifyKeys: null, devKeyDir: dir })
  const restarted = await loadKeys({ algorithm: 'ES256', privateKey: null, secret: null, verifyKeys: null, devKeyDir: dir })
  assert.equal(restarted.refresh.kid, first.refresh.kid)
  assert.deepEqual(readdirSync(dir), ['dev-key-ES256.json'], 'no second file: the development key is the source')
})

test('refresh key: BATON_REFRESH_SECRET signs; previous secrets and the derived key are accepted; nothing else', async () => {
  const src = await source('ES256')
  const [oldSecret, current] = [randomBytes(32), randomBytes(32)]
  const derived = await loadKeys(src)
  const before = await loadKeys({ ...src, refreshSecret: oldSecret })
  const now = await loadKeys({ ...src, refreshSecret: current, refreshSecretsPrevious: [oldSecret] })
  const after = await loadKeys({ ...src, refreshSecret: current })
  assert.ok(!now.refresh.derived)
  assert.equal(now.refresh.kid, after.refresh.kid)
  const sign = (k: KeySet) => createTokenCodec(k, settings).signRefresh(refreshClaims())
  const verify = (k: KeySet, token: string) => createTokenCodec(k, settings).verifyRefresh(token)
  const [byDerived, byOld, byNow] = [await sign(derived), await sign(before), await sign(now)]
  assert.equal(decodeProtectedHeader(byNow).kid, now.refresh.kid)
  for (const token of [byDerived, byOld, byNow]) assert.equal((await verify(now, token)).jti, 'j1')
  // Once the old secret is dropped from BATON_REFRESH_SECRETS_PREVIOUS, its tokens are refused.
  await refused(verify(after, byOld), 'old secret dropped')
  assert.equal((await verify(after, byDerived)).jti, 'j1', 'setting BATON_REFRESH_SECRET logs nobody out')
  // Previous keys verify, never sign.
  assert.equal(decodeProtectedHeader(await sign(now)).kid, now.refresh.kid)
})

test('refresh key: configuration: JWT_SECRET syntax, 32 bytes, a comma-separated previous list, never an access key or a password', async () => {
  const secret = randomBytes(32)
  const config = loadConfig({
    BATON_REFRESH_SECRET: `base64:${secret.toString('base64')}`,
    BATON_REFRESH_SECRETS_PREVIOUS: ` ${'p'.repeat(32)} , base64:${randomBytes(40).toString('base64')}`,
  })
  assert.ok(Buffer.from(config.refreshSecret!).equals(secret))
  assert.deepEqual(
    config.refreshSecretsPrevious.map((s) => s.length),
    [32, 40],
  )
  assert.equal(loadConfig({}).refreshSecret, null)
  assert.deepEqual(loadConfig({}).refreshSecretsPrevious, [])

  const problem = (env: Record<string, string>): string => {
    try {
      loadConfig(env)
    } catch (err) {
      assert.ok(err instanceof ConfigError)
      return JSON.stringify(err.problems)
    }
    return assert.fail('accepted')
  }
  const short = problem({ BATON_REFRESH_SECRET: 'too-short-secret' })
  assert.match(short, /BATON_REFRESH_SECRET.*16 bytes.*keygen --refresh/)
  assert.ok(!short.includes('too-short-secret'), 'the secret is not echoed')
  assert.match(problem({ BATON_REFRESH_SECRETS_PREVIOUS: `${'p'.repeat(32)},short` }), /BATON_REFRESH_SECRETS_PREVIOUS/)
  assert.match(
    problem({ JWT_ALGORITHM: 'HS256', JWT_SECRET: HS_SECRET, BATON_REFRESH_SECRET: HS_SECRET }),
    /BATON_REFRESH_SECRET.*same as JWT_SECRET/,
  )
  assert.match(
    problem({ REDIS_URL: `redis://:${'r'.repeat(32)}@127.0.0.1:1`, BATON_REFRESH_SECRETS_PREVIOUS: 'r'.repeat(32) }),
    /BATON_REFRESH_SECRETS_PREVIOUS.*same as/,
  )

  // An oct key in JWT_VERIFY_KEYS equal to a refresh secret: one key, one purpose.
  const verifyKeys = JSON.stringify({ keys: [{ kty: 'oct', kid: 'old', k: secret.toString('base64url'), alg: 'HS256' }] })
  await assert.rejects(loadKeys({ ...(await source('HS256')), verifyKeys, refreshSecret: secret }), KeyError)
})

test('refresh key: the codec of each algorithm is distinct per instance only by key, never by process state', async () => {
  // Two codecs over one KeySet and over two loads of it sign byte-identical refresh tokens
  // (HMAC is deterministic): nothing random or per-process enters a refresh token's MAC.
  const src = await source('ES256', { refreshSecret: randomBytes(32) })
  const codecs: TokenCodec[] = [createTokenCodec(await loadKeys(src), settings), createTokenCodec(await loadKeys(src), settings)]
  const [a, b] = await Promise.all(codecs.map((c) => c.signRefresh(refreshClaims())))
  assert.equal(a, b)
})
