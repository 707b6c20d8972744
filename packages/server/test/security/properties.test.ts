import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import { createCredentialChecker } from '../../src/users/checker.js'
import { createMemoryUserStore } from '../../src/users/memory.js'
import { TEST_SCRYPT, type TestServer, createTestServer } from '../helpers/make-server.js'
import { accessClaims, attackerKey, b64url, rawToken, serverKey, signWithServerKey } from './forge.js'

/**
 * Property-based attacks against the real handlers (`app.inject()`): random strings, random JSON
 * bodies, and mutations of valid tokens. Invariants: never a 500; never a 200 for a token that
 * baton's own key did not sign exactly as it is; every endpoint answers only its own codes.
 * Runs are seeded by fast-check (the seed is printed on failure, to replay it).
 */

const RUNS = 400

type Where = 'bearer' | 'refresh' | 'verify'

describe('properties: tokens and bodies against the real handlers', () => {
  let server: TestServer
  let pair: { access: string; refresh: string }
  let userId: string

  before(async () => {
    // Failure limits off: every attempt must reach the token checks (limits: rate-limits.test.ts).
    // The unknown-user path verifies a stand-in hash at the test's cheap scrypt cost.
    const users = createMemoryUserStore()
    server = await createTestServer(
      { REFRESH_RATE_LIMIT: 'off', LOGIN_RATE_LIMIT: 'off', LOGIN_RATE_LIMIT_IP: 'off' },
      { users, credentials: createCredentialChecker(users, { params: TEST_SCRYPT }) },
    )
    userId = await server.addUser('alice', 'alice-password-1')
    pair = await server.login('alice', 'alice-password-1')
  })
  after(() => server.close())

  async function send(where: Where, token: string): Promise<{ status: number; body: string }> {
    const res =
      where === 'bearer'
        ? await server.app.inject({ method: 'GET', url: '/api/me/', headers: { authorization: `Bearer ${token}` } })
        : await server.post(`/api/auth/${where}/`, where === 'refresh' ? { refresh: token } : { token })
    return { status: res.statusCode, body: res.body }
  }

  /** Sends a token that baton did not sign as it is, everywhere it can travel: all refusals. */
  async function assertRefusedEverywhere(token: string): Promise<void> {
    const where: Where[] = ['refresh', 'verify']
    // Only visible ASCII can follow the scheme in a header (light-my-request refuses the rest).
    if (/^[\x21-\x7e]+$/.test(token)) where.push('bearer')
    for (const w of where) {
      const { status, body } = await send(w, token)
      assert.notEqual(status, 500, `${w}: 500: ${body}`)
      assert.notEqual(status, 200, `${w}: 200 for ${JSON.stringify(token.slice(0, 80))}`)
      assert.ok([400, 401, 413].includes(status), `${w}: unexpected ${status}: ${body}`)
      if (token.length >= 8) assert.ok(!body.includes(token), `${w}: body echoes the token`)
    }
  }

  test('properties: random strings as tokens are refused everywhere, never 500', async () => {
    const anyString = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({ unit: 'grapheme-ascii', maxLength: 400 }),
      fc.stringMatching(/^[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,200}\.[A-Za-z0-9_-]{0,90}$/),
      fc.array(fc.base64String({ maxLength: 80 }), { minLength: 1, maxLength: 6 }).map((a) => a.join('.')),
    )
    await fc.assert(
      fc.asyncProperty(anyString, async (token) => {
        if (token === pair.access || token === pair.refresh) return
        await assertRefusedEverywhere(token)
      }),
      { numRuns: RUNS },
    )
  })

  test('properties: mutations of valid tokens (flip, insert, delete, swap segments, re-encoded claims) are refused', async () => {
    const { access, refresh } = pair
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ '
    const charArb = fc.constantFrom(...alphabet.split(''))
    const source = fc.constantFrom(access, refresh)
    // Positions anywhere, with extra weight where encodings are fragile: the last character of
    // a segment (spare bits), the very end (padding), around the dots.
    const position = fc.oneof(
      fc.nat(),
      fc.constantFrom<(t: string) => number>(
        (t) => t.length - 1,
        (t) => t.length,
        (t) => t.indexOf('.'),
        (t) => t.lastIndexOf('.'),
        (t) => t.indexOf('.') - 1,
        (t) => t.lastIndexOf('.') - 1,
        (t) => t.lastIndexOf('.') + 1,
      ),
    )
    const at = (t: string, p: number | ((t: string) => number), room: number): number =>
      (typeof p === 'number' ? p : Math.max(0, p(t))) % room
    const flip = fc
      .tuple(source, position, charArb)
      .map(([t, p, c]) => t.slice(0, at(t, p, t.length)) + c + t.slice(at(t, p, t.length) + 1))
    const insert = fc
      .tuple(source, position, fc.string({ unit: charArb, minLength: 1, maxLength: 4 }))
      .map(([t, p, s]) => t.slice(0, at(t, p, t.length + 1)) + s + t.slice(at(t, p, t.length + 1)))
    const remove = fc
      .tuple(source, position, fc.integer({ min: 1, max: 5 }))
      .map(([t, p, n]) => t.slice(0, at(t, p, t.length)) + t.slice(at(t, p, t.length) + n))
    // Each segment from either token: header of one, payload of the other, and so on.
    const swap = fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()).map((picks) => {
      const a = access.split('.')
      const r = refresh.split('.')
      return picks.map((fromAccess, i) => (fromAccess ? a[i] : r[i])).join('.')
    })
    const reorder = fc
      .tuple(source, fc.constantFrom([0, 2, 1], [1, 0, 2], [2, 1, 0], [1, 2, 0], [0, 1, 1], [0, 0, 2], [0, 1, 2, 2]))
      .map(([t, order]) => {
        const p = t.split('.')
        return order.map((i) => p[i]).join('.')
      })
    // New claims or header members, re-encoded, the original signature kept.
    const claimKey = fc.constantFrom(
      'sub',
      'user_id',
      'exp',
      'iat',
      'nbf',
      'iss',
      'aud',
      'jti',
      'sid',
      'gen',
      'token_type',
      'auth_time',
      'x',
    )
    const headerKey = fc.constantFrom('alg', 'kid', 'typ', 'crit', 'jku', 'jwk', 'x5u', 'b64', 'cty', 'zip')
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constant(undefined),
      fc.constantFrom('none', 'HS256', 'refresh', 'access', userId, 'baton'),
    )
    const reencode = fc
      .tuple(source, fc.boolean(), fc.array(fc.tuple(fc.boolean(), claimKey, headerKey, value), { minLength: 1, maxLength: 3 }))
      .map(([t, inHeader, edits]) => {
        const [h, p, s] = t.split('.') as [string, string, string]
        const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>
        const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>
        for (const [toHeader, ck, hk, v] of edits) {
          const target = toHeader || inHeader ? header : payload
          const key = toHeader || inHeader ? hk : ck
          if (v === undefined) delete target[key]
          else target[key] = v
        }
        return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}.${s}`
      })
    const mutation = fc.oneof(flip, insert, remove, swap, reorder, reencode)
    let tried = 0
    await fc.assert(
      fc.asyncProperty(mutation, async (token) => {
        // A mutation that gives back a token byte for byte is not a mutation.
        if (token === access || token === refresh) return
        tried++
        await assertRefusedEverywhere(token)
      }),
      { numRuns: RUNS },
    )
    assert.ok(tried > RUNS / 2, `only ${tried} real mutations`)
    // Control: the originals still work (the mutations above never reached a valid token by luck).
    assert.equal((await send('bearer', access)).status, 200)
    assert.equal((await send('verify', refresh)).status, 200)
  })

  test("properties: tokens forged with random headers and claims by any key but baton's are refused", async () => {
    const attacker = await attackerKey('EdDSA')
    const { kid } = serverKey(server)
    const jwks = JSON.parse((await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).body) as { keys: { x: string }[] }
    const publicBytes = Buffer.from(jwks.keys[0]!.x, 'base64url')
    const header = fc.record(
      {
        alg: fc.constantFrom('none', 'None', 'HS256', 'HS512', 'EdDSA', 'ES256', 'RS256', 'PS256', ''),
        kid: fc.oneof(fc.constant(kid), fc.string({ maxLength: 40 })),
        typ: fc.constantFrom('at+jwt', 'refresh+jwt', 'JWT', 'at+JWT'),
        jwk: fc.constant(attacker.jwk),
        jku: fc.constant('http://127.0.0.1:9/jwks.json'),
      },
      { requiredKeys: ['alg'] },
    )
    const claims = fc.record(
      {
        sub: fc.oneof(fc.constant(userId), fc.jsonValue({ maxDepth: 1 })),
        exp: fc.oneof(fc.integer(), fc.constant(Math.floor(server.clock.now() / 1000) + 300), fc.double()),
        iat: fc.oneof(fc.integer(), fc.constant(Math.floor(server.clock.now() / 1000))),
        iss: fc.constantFrom('baton', 'evil'),
        aud: fc.constantFrom('baton', 'evil'),
        token_type: fc.constantFrom('access', 'refresh'),
        sid: fc.string(),
        jti: fc.string(),
        user_id: fc.constant(userId),
      },
      { requiredKeys: [] },
    )
    const signer = fc.constantFrom('attacker', 'hmac-public', 'hmac-kid', 'none')
    await fc.assert(
      fc.asyncProperty(header, claims, signer, async (h, c, how) => {
        const sign =
          how === 'attacker'
            ? { alg: 'EdDSA', key: attacker.privateKey }
            : how === 'hmac-public'
              ? { alg: 'HS256', key: publicBytes }
              : how === 'hmac-kid'
                ? { alg: 'HS256', key: kid }
                : null
        await assertRefusedEverywhere(rawToken(h, c, sign))
      }),
      { numRuns: RUNS },
    )
  })

  test("properties: control: tokens signed by baton's key with valid claims and random extra claims are accepted", async () => {
    const extra = fc.dictionary(
      fc.string({ minLength: 1, maxLength: 10 }).map((k) => `x_${k}`),
      fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 4 },
    )
    await fc.assert(
      fc.asyncProperty(extra, async (x) => {
        const token = await signWithServerKey(server, { ...x, ...accessClaims(server, userId) })
        const { status, body } = await send('bearer', token)
        assert.equal(status, 200, body)
      }),
      { numRuns: 100 },
    )
  })

  test('properties: random JSON bodies to login, refresh, verify, logout and register answer only their own codes', async () => {
    const field = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.constantFrom('alice', 'alice-password-1', pair.access, pair.refresh, ''),
      fc.jsonValue({ maxDepth: 2 }),
    )
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.record({ username: field, password: field }, { requiredKeys: [] }),
      fc.record({ refresh: field, token: field, extra: field }, { requiredKeys: [] }),
      fc.dictionary(fc.string({ maxLength: 20 }), field, { maxKeys: 5 }),
    )
    const expected: Record<string, number[]> = {
      '/api/auth/token/': [200, 400, 401],
      '/api/auth/refresh/': [200, 400, 401],
      '/api/auth/verify/': [200, 400, 401],
      '/api/auth/logout/': [200, 400, 401],
      '/api/auth/register/': [201, 400, 409],
    }
    const route = fc.constantFrom(...Object.keys(expected))
    await fc.assert(
      fc.asyncProperty(route, body, async (url, b) => {
        const res = await server.app.inject({
          method: 'POST',
          url,
          payload: JSON.stringify(b),
          headers: { 'content-type': 'application/json' },
        })
        assert.ok(expected[url]!.includes(res.statusCode), `${url}: ${res.statusCode} ${res.body}`)
        const parsed = JSON.parse(res.body) as Record<string, unknown>
        if (res.statusCode >= 400) {
          assert.equal(typeof parsed.code, 'string')
          assert.ok(!res.body.includes(pair.refresh) && !res.body.includes(pair.access), 'a token in an error body')
        }
      }),
      { numRuns: RUNS },
    )
  })

  test("properties: random session ids and URL paths are 400 or 404 (another user's session is never revoked), never 500", async () => {
    await server.addUser('bob', 'bob-password-1')
    const bobs = await server.login('bob', 'bob-password-1')
    const bobSid = (JSON.parse(Buffer.from(bobs.refresh.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid
    const id = fc.oneof(
      fc.string({ minLength: 1, maxLength: 300 }).map(encodeURIComponent),
      fc.stringMatching(/^[%A-Za-z0-9._~\-/]{1,80}$/),
      fc.constantFrom(bobSid, `${bobSid}x`, '__proto__', 'constructor', '..%2f..%2f', '%00', '%'),
    )
    await fc.assert(
      fc.asyncProperty(id, async (sid) => {
        const res = await server.app.inject({
          method: 'DELETE',
          url: `/api/auth/sessions/${sid}/`,
          headers: { authorization: `Bearer ${pair.access}` },
        })
        assert.ok([400, 404].includes(res.statusCode), `${sid}: ${res.statusCode} ${res.body}`)
        const path = await server.app.inject({ method: 'GET', url: `/api/${sid}`, headers: { authorization: `Bearer ${pair.access}` } })
        assert.ok(path.statusCode < 500, `${sid}: ${path.statusCode}`)
      }),
      { numRuns: RUNS },
    )
    // Bob's session survived every attempt by Alice.
    assert.equal((await send('verify', bobs.refresh)).status, 200)
  })

  test('properties: random raw bodies and content types are 400, 413 or 415, never 500', async () => {
    const raw = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.json(),
      fc.constantFrom('{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}', '{', '[', 'null', '"', '{"a":'),
      fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u).toString('latin1')),
    )
    const type = fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonx',
      '',
    )
    const url = fc.constantFrom('/api/auth/token/', '/api/auth/refresh/', '/api/auth/verify/', '/api/auth/logout/', '/api/auth/register/')
    await fc.assert(
      fc.asyncProperty(url, type, raw, async (u, t, payload) => {
        const res = await server.app.inject({ method: 'POST', url: u, payload, headers: t === '' ? {} : { 'content-type': t } })
        assert.notEqual(res.statusCode, 500, `${u} ${t}: ${res.body}`)
        assert.ok(res.statusCode < 500, `${u} ${t}: ${res.statusCode}`)
        if (res.statusCode >= 400) assert.equal(typeof (JSON.parse(res.body) as { code?: unknown }).code, 'string')
      }),
      { numRuns: RUNS },
    )
    // The prototype-pollution body changed nothing global.
    assert.equal(({} as Record<string, unknown>).admin, undefined)
  })
})
