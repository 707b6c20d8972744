/**
 * SPEC §9: a Django API behind baton verifies baton's access tokens with simplejwt alone. Real
 * Django 3.2 + DRF + simplejwt 5.2.2 (PyJWT 2.6) under gunicorn, and a real baton server on a
 * socket (Django fetches JWK_URL from it), both on free loopback ports. Django's user rows and
 * baton's users are created in the same order in fresh databases, so their ids match (1, 2):
 * JWTAuthentication looks the token's `user_id` up in Django's own table.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test, type TestContext } from 'node:test'
import { decodeProtectedHeader } from 'jose'
import { generateKey } from '../../packages/server/src/tokens/keys.js'
import { runCLI } from '../../packages/server/test/cli/run-cli.js'
import { type TestServer, createTestServer } from '../../packages/server/test/helpers/make-server.js'
import { type DjangoEnv, type DjangoProject, type DjangoServer, createDjangoProject } from '../helpers/django.js'

const USERS = [
  { username: 'alice', password: 'alice-Pässword-1' },
  { username: 'bob', password: 'bob-password-2' },
]
/** The SIMPLE_JWT settings the README gives for baton's defaults (JWT_ISSUER, JWT_AUDIENCE = "baton"). */
const BATON_SETTINGS: DjangoEnv = { SJ_AUDIENCE: 'baton', SJ_ISSUER: 'baton', SJ_USER_ID_CLAIM: 'user_id' }
/** A raw-string HS256 secret (UTF-8, at least 32 bytes): simplejwt takes SIGNING_KEY's UTF-8 bytes. */
const RAW_SECRET = 'raw-string-secret-for-baton-and-django-0123456789'

let project: DjangoProject
let djangoIds: Record<string, number>

before(async () => {
  project = await createDjangoProject()
  const seeded = await project.seedUsers(USERS.map((u) => ({ ...u, hasher: 'pbkdf2_sha256' })))
  djangoIds = Object.fromEntries(Object.entries(seeded).map(([name, row]) => [name, row.id]))
})
after(() => project?.cleanup())

/** A baton server listening on a free loopback port, with the same users (same ids) as Django. */
async function startBaton(t: TestContext, env: Record<string, string>): Promise<{ server: TestServer; url: string }> {
  const server = await createTestServer(env)
  t.after(() => server.close())
  for (const u of USERS) {
    const id = await server.addUser(u.username, u.password)
    assert.equal(id, String(djangoIds[u.username]), `baton's id for ${u.username} is Django's`)
  }
  const url = await server.app.listen({ host: '127.0.0.1', port: 0 })
  return { server, url }
}

async function startDjango(t: TestContext, env: DjangoEnv): Promise<DjangoServer> {
  const django = await project.serve({ ...BATON_SETTINGS, ...env })
  t.after(() => django.stop())
  return django
}

async function call(django: DjangoServer, path: string, token: string): Promise<{ status: number; body: unknown; text: string }> {
  const res = await fetch(`${django.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
  const text = await res.text()
  let body: unknown = null
  try {
    body = JSON.parse(text)
  } catch {
    // Django's 500 page is HTML.
  }
  return { status: res.status, body, text }
}

/** Both authentication classes accept alice's and bob's access tokens, with the ids each sees. */
async function assertDjangoAccepts(django: DjangoServer, server: TestServer): Promise<void> {
  for (const u of USERS) {
    const { access, refresh } = await server.login(u.username, u.password)
    assert.equal(decodeProtectedHeader(access).typ, 'at+jwt', 'PyJWT 2.6 ignores typ')
    const me = await call(django, '/api/me/', access)
    assert.equal(me.status, 200, me.text)
    // JWTAuthentication: Django's own row, found by the string "1" (the ORM casts it).
    assert.deepEqual(me.body, { id: djangoIds[u.username], username: u.username })

    const stateless = await call(django, '/api/me-stateless/', access)
    assert.equal(stateless.status, 200, stateless.text)
    const { id, claims } = stateless.body as { id: unknown; claims: Record<string, unknown> }
    // TokenUser.id is the claim as it is: baton's own user store puts a string in user_id.
    assert.equal(id, String(djangoIds[u.username]))
    assert.equal(claims.user_id, String(djangoIds[u.username]))
    assert.equal(claims.token_type, 'access')
    assert.equal(claims.iss, 'baton')
    assert.equal(claims.aud, 'baton')

    // simplejwt checks token_type: a refresh token is no access token, and a forged one fails.
    assert.equal((await call(django, '/api/me/', refresh)).status, 401)
    const [h, p, s] = access.split('.') as [string, string, string]
    const forged = `${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`
    assert.equal((await call(django, '/api/me/', forged)).status, 401)
  }
}

/** `baton keygen --public-pem` for this key: the README's way to fill VERIFYING_KEY. */
async function publicPEM(env: Record<string, string>): Promise<string> {
  const { code, stdout, stderr } = await runCLI(['keygen', '--public-pem'], env)
  assert.equal(code, 0, stderr)
  return stdout
}

describe('django verifies baton access tokens (simplejwt 5.2.2, PyJWT 2.6)', () => {
  test('django: ES256 (the default) with JWK_URL = baton /.well-known/jwks.json, both authentication classes', async (t) => {
    const { server, url } = await startBaton(t, {})
    assert.equal(server.deps.config.algorithm, 'ES256')
    const django = await startDjango(t, { SJ_ALGORITHM: 'ES256', SJ_JWK_URL: `${url}/.well-known/jwks.json` })
    await assertDjangoAccepts(django, server)

    // Django's own login cannot sign ES256 with these settings (SIGNING_KEY is its SECRET_KEY):
    // why the README routes /api/token/ to baton.
    const own = await fetch(`${django.url}/api/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(USERS[0]),
    })
    assert.equal(own.status, 500)
  })

  test('django: AUDIENCE and ISSUER are checked: another issuer or audience refuses baton tokens (401)', async (t) => {
    const key = JSON.stringify((await generateKey('ES256')).privateJWK)
    const { server, url } = await startBaton(t, { JWT_PRIVATE_KEY: key })
    // The same key, another JWT_ISSUER: only `iss` differs.
    const other = await startBaton(t, { JWT_PRIVATE_KEY: key, JWT_ISSUER: 'https://auth.example' })
    const jwks = `${url}/.well-known/jwks.json`
    const django = await startDjango(t, { SJ_ALGORITHM: 'ES256', SJ_JWK_URL: jwks })
    assert.equal((await call(django, '/api/me/', (await server.login('alice', USERS[0]!.password)).access)).status, 200)
    const foreign = (await other.server.login('alice', USERS[0]!.password)).access
    for (const path of ['/api/me/', '/api/me-stateless/']) assert.equal((await call(django, path, foreign)).status, 401, path)

    const elsewhere = await startDjango(t, { SJ_ALGORITHM: 'ES256', SJ_JWK_URL: jwks, SJ_AUDIENCE: 'another-api' })
    const { access } = await server.login('alice', USERS[0]!.password)
    for (const path of ['/api/me/', '/api/me-stateless/']) assert.equal((await call(elsewhere, path, access)).status, 401, path)
  })

  test('django: ES256 with VERIFYING_KEY = the PEM `baton keygen --public-pem` prints', async (t) => {
    const env = { JWT_ALGORITHM: 'ES256', JWT_PRIVATE_KEY: JSON.stringify((await generateKey('ES256')).privateJWK) }
    const { server } = await startBaton(t, env)
    const django = await startDjango(t, { SJ_ALGORITHM: 'ES256', SJ_VERIFYING_KEY: await publicPEM(env) })
    await assertDjangoAccepts(django, server)
  })

  test('django: RS256 with JWK_URL and with VERIFYING_KEY (PEM)', async (t) => {
    const env = { JWT_ALGORITHM: 'RS256', JWT_PRIVATE_KEY: JSON.stringify((await generateKey('RS256')).privateJWK) }
    const { server, url } = await startBaton(t, env)
    const byJWKS = await startDjango(t, { SJ_ALGORITHM: 'RS256', SJ_JWK_URL: `${url}/.well-known/jwks.json` })
    await assertDjangoAccepts(byJWKS, server)
    const byPEM = await startDjango(t, { SJ_ALGORITHM: 'RS256', SJ_VERIFYING_KEY: await publicPEM(env) })
    await assertDjangoAccepts(byPEM, server)
  })

  test('django: HS256 with SIGNING_KEY = a raw-string JWT_SECRET, or the decoded form of a base64: one (not "base64:…" itself)', async (t) => {
    const raw = await startBaton(t, { JWT_ALGORITHM: 'HS256', JWT_SECRET: RAW_SECRET })
    // The same key bytes written as base64: (ASCII bytes, so Django can be given them as a str).
    const encoded = `base64:${Buffer.from(RAW_SECRET, 'utf8').toString('base64')}`
    const b64 = await startBaton(t, { JWT_ALGORITHM: 'HS256', JWT_SECRET: encoded })
    const django = await startDjango(t, { SJ_ALGORITHM: 'HS256', SJ_SIGNING_KEY: RAW_SECRET })
    await assertDjangoAccepts(django, raw.server)
    await assertDjangoAccepts(django, b64.server)

    // For contrast: Django's own token (it can sign HS256 itself) carries user_id as a JSON number.
    const own = await fetch(`${django.url}/api/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(USERS[0]),
    })
    assert.equal(own.status, 200)
    const ownStateless = await call(django, '/api/me-stateless/', ((await own.json()) as { access: string }).access)
    assert.equal((ownStateless.body as { id: unknown }).id, djangoIds.alice)

    const literal = await startDjango(t, { SJ_ALGORITHM: 'HS256', SJ_SIGNING_KEY: encoded })
    const { access } = await b64.server.login('alice', USERS[0]!.password)
    assert.equal((await call(literal, '/api/me/', access)).status, 401, 'the "base64:" text is not the key')
  })

  test("django: HS256 with `baton keygen`'s random base64: secret needs SIGNING_KEY = base64.b64decode(…) bytes", async (t) => {
    const secret = `base64:${Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 97 + 200) % 256)).toString('base64')}`
    const { server } = await startBaton(t, { JWT_ALGORITHM: 'HS256', JWT_SECRET: secret })
    const { access } = await server.login('alice', USERS[0]!.password)
    // simplejwt's own TokenBackend, configured as the README says, in Django's shell.
    const script = [
      'import base64, json',
      'from rest_framework_simplejwt.backends import TokenBackend',
      `key = base64.b64decode(${JSON.stringify(secret.slice('base64:'.length))})`,
      `print(json.dumps(TokenBackend("HS256", key, audience="baton", issuer="baton").decode(${JSON.stringify(access)})))`,
    ].join('\n')
    const claims = JSON.parse(await project.manage(['shell', '-c', script])) as Record<string, unknown>
    assert.equal(claims.user_id, String(djangoIds.alice))
    assert.equal(claims.token_type, 'access')
  })

  test('django: EdDSA is not supported by simplejwt: ALGORITHM "EdDSA" is a 500 (TokenBackendError), ES256 settings refuse the token (401)', async (t) => {
    const { server, url } = await startBaton(t, { JWT_ALGORITHM: 'EdDSA' })
    const { access } = await server.login('alice', USERS[0]!.password)
    const jwks = `${url}/.well-known/jwks.json`

    const eddsa = await startDjango(t, { SJ_ALGORITHM: 'EdDSA', SJ_JWK_URL: jwks })
    for (const path of ['/api/me/', '/api/me-stateless/']) assert.equal((await call(eddsa, path, access)).status, 500, path)
    // simplejwt's TokenBackend refuses the setting itself, on the first request that needs it.
    const deadline = Date.now() + 20_000
    while (!eddsa.output().includes("TokenBackendError: Unrecognized algorithm type 'EdDSA'") && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50))
    assert.match(eddsa.output(), /TokenBackendError: Unrecognized algorithm type 'EdDSA'/)

    const es256 = await startDjango(t, { SJ_ALGORITHM: 'ES256', SJ_JWK_URL: jwks })
    const refused = await call(es256, '/api/me/', access)
    assert.equal(refused.status, 401)
    assert.equal((refused.body as { code: string }).code, 'token_not_valid')
  })
})
