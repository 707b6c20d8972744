import assert from 'node:assert/strict'
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto'
import { after, before, test } from 'node:test'
import { createDjangoProject, type DjangoProject } from '../../../../interop/helpers/django.js'
import { BatonError } from '../../src/errors.js'
import { type SimplejwtSettings, createSimplejwtVerifier } from '../../src/tokens/simplejwt.js'
import { b64url, fromB64url, rawToken, signBytes } from '../security/forge.js'

// Django's default key shape: `django-insecure-` plus 50 characters, some of them punctuation.
const SECRET_KEY = 'django-insecure-a!b@c#d$e%f^g&h*i(j-k_l=m+n)o0p1q2r3s4t5u6v7w8x9y0z1a2'

let django: DjangoProject
let real: { refresh: string; access: string }
let now: number

before(async () => {
  django = await createDjangoProject({ env: { DJANGO_SECRET_KEY: SECRET_KEY } })
  await django.seedUsers([{ username: 'ada', password: 'pw', hasher: 'pbkdf2_sha256' }])
  ;[real] = (await django.mintTokens(['ada'])) as [{ refresh: string; access: string }]
  now = JSON.parse(fromB64url(real.refresh.split('.')[1]!)).iat * 1000
})
after(() => django.cleanup())

function verifier(overrides: Partial<SimplejwtSettings> = {}) {
  return createSimplejwtVerifier({
    signingKey: SECRET_KEY,
    algorithm: 'HS256',
    acceptUntil: null,
    leeway: 5,
    clock: () => now,
    ...overrides,
  })
}

function claims(token: string): Record<string, unknown> {
  return JSON.parse(fromB64url(token.split('.')[1]!)) as Record<string, unknown>
}

/** A token signed with Django's key, from raw header and claims (hostile shapes included). */
function signed(header: object, payload: object, key: string = SECRET_KEY, alg = 'HS256'): string {
  const unsigned = rawToken(header, payload, null)
  const input = unsigned.slice(0, unsigned.lastIndexOf('.'))
  return `${input}.${b64url(signBytes(alg, key, input))}`
}

function rejects(fn: () => unknown, what: string): void {
  assert.throws(fn, (err: unknown) => err instanceof BatonError && err.code === 'token_not_valid', what)
}

test("simplejwt: a refresh token minted by Django's simplejwt verifies with its SECRET_KEY's raw bytes", () => {
  const out = verifier().verifyRefresh(real.refresh)
  const c = claims(real.refresh)
  assert.equal(out.jti, c.jti)
  assert.equal(out.userId, c.user_id)
  assert.equal(typeof out.userId, 'number', "an integer pk stays a JSON number, as Django's TokenUser.id")
  assert.equal(out.exp, c.exp)
  assert.ok(verifier().looksLegacy(real.refresh))
})

test('simplejwt: its access token is never accepted as a refresh token', () => {
  rejects(() => verifier().verifyRefresh(real.access), 'token_type access')
})

test('simplejwt: another key, another algorithm, or a base64 reading of the key is refused', () => {
  rejects(() => verifier({ signingKey: `${SECRET_KEY}x` }).verifyRefresh(real.refresh), 'another key')
  rejects(() => verifier({ algorithm: 'HS512' }).verifyRefresh(real.refresh), 'alg other than the configured one')
  rejects(() => verifier({ signingKey: Buffer.from(SECRET_KEY).toString('base64') }).verifyRefresh(real.refresh), 'the key base64-encoded')
})

test('simplejwt: expired, or presented after SIMPLEJWT_ACCEPT_UNTIL, is token_not_valid', () => {
  const exp = claims(real.refresh).exp as number
  rejects(() => verifier({ clock: () => (exp + 6) * 1000 }).verifyRefresh(real.refresh), 'expired beyond the leeway')
  assert.doesNotThrow(() => verifier({ clock: () => (exp + 4) * 1000 }).verifyRefresh(real.refresh), 'inside the leeway')
  rejects(() => verifier({ acceptUntil: now }).verifyRefresh(real.refresh), 'at the cut-over end')
  assert.doesNotThrow(() => verifier({ acceptUntil: now + 1 }).verifyRefresh(real.refresh), 'before it')
})

test('simplejwt: hostile headers are refused even when signed with the right key', () => {
  const payload = claims(real.refresh)
  const cases: [string, object][] = [
    ['alg none', { alg: 'none', typ: 'JWT' }],
    ['a kid (baton-shaped)', { alg: 'HS256', typ: 'JWT', kid: 'x' }],
    ['jku', { alg: 'HS256', typ: 'JWT', jku: 'http://127.0.0.1:1/jwks' }],
    ['x5u', { alg: 'HS256', typ: 'JWT', x5u: 'http://127.0.0.1:1/x5' }],
    ['embedded jwk', { alg: 'HS256', typ: 'JWT', jwk: { kty: 'oct', k: 'AA' } }],
    ['crit', { alg: 'HS256', typ: 'JWT', crit: ['exp'] }],
    ['baton refresh typ', { alg: 'HS256', typ: 'refresh+jwt' }],
  ]
  for (const [what, header] of cases) rejects(() => verifier().verifyRefresh(signed(header, payload)), what)
  assert.doesNotThrow(
    () => verifier().verifyRefresh(signed({ alg: 'HS256', typ: 'JWT' }, payload)),
    'the same claims re-signed normally verify',
  )
  assert.doesNotThrow(() => verifier().verifyRefresh(signed({ alg: 'HS256' }, payload)), 'typ may be absent')
})

test('simplejwt: alg none with an empty signature and HS/RS key confusion are refused', () => {
  const payload = claims(real.refresh)
  rejects(() => verifier().verifyRefresh(rawToken({ alg: 'none', typ: 'JWT' }, payload, null)), 'unsigned')
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const publicPEM = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const rs = verifier({ algorithm: 'RS256', signingKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() })
  // The classic confusion: HS256 over the public key's PEM text, presented to an RS256 verifier.
  rejects(() => rs.verifyRefresh(signed({ alg: 'HS256', typ: 'JWT' }, payload, publicPEM)), 'HS256 signed with the public PEM')
  const rsToken = (() => {
    const unsigned = rawToken({ alg: 'RS256', typ: 'JWT' }, payload, null)
    const input = unsigned.slice(0, unsigned.lastIndexOf('.'))
    return `${input}.${b64url(cryptoSign('sha256', Buffer.from(input), privateKey))}`
  })()
  assert.equal(rs.verifyRefresh(rsToken).jti, payload.jti, 'RS256 with the right key verifies')
  assert.equal(
    verifier({ algorithm: 'RS256', signingKey: publicPEM }).verifyRefresh(rsToken).jti,
    payload.jti,
    'the public PEM alone is enough',
  )
})

test('simplejwt: claims simplejwt always writes are required and typed', () => {
  const base = claims(real.refresh)
  const bad: [string, Record<string, unknown>][] = [
    ['no jti', { ...base, jti: undefined }],
    ['jti not a string', { ...base, jti: 7 }],
    ['jti with odd characters', { ...base, jti: '../../etc/passwd' }],
    ['no user_id', { ...base, user_id: undefined }],
    ['user_id an object', { ...base, user_id: { id: 1 } }],
    ['user_id a fraction', { ...base, user_id: 1.5 }],
    ['exp a string', { ...base, exp: String(base.exp) }],
    ['exp absurd', { ...base, exp: 1e300 }],
    ['iat in the future', { ...base, iat: (base.exp as number) + 10 }],
    ['token_type missing', { ...base, token_type: undefined }],
  ]
  for (const [what, payload] of bad)
    rejects(() => verifier().verifyRefresh(signed({ alg: 'HS256', typ: 'JWT' }, JSON.parse(JSON.stringify(payload)))), what)
  assert.equal(
    verifier().verifyRefresh(signed({ alg: 'HS256', typ: 'JWT' }, { ...base, user_id: 'a1b2' })).userId,
    'a1b2',
    'a string pk (UUID) is kept as a string',
  )
})

test('simplejwt: looksLegacy routes by shape only; garbage is neither legacy nor valid', () => {
  assert.equal(verifier().looksLegacy('garbage'), false)
  assert.equal(verifier().looksLegacy(signed({ alg: 'HS256', kid: 'k', typ: 'refresh+jwt' }, {})), false, 'a baton token')
  rejects(() => verifier().verifyRefresh('garbage'), 'garbage')
  rejects(() => verifier().verifyRefresh(`${real.refresh}=`), 'padding (not canonical base64url)')
  assert.notEqual(verifier().jtiHash('a'), verifier().jtiHash('b'))
  assert.ok(
    !verifier()
      .jtiHash(String(claims(real.refresh).jti))
      .includes(String(claims(real.refresh).jti)),
  )
})
