import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { Algorithm } from '../../src/config.js'
import { createMemoryStore } from '../../src/store/memory.js'
import type { SessionStore } from '../../src/store/types.js'
import { type TestServer, createTestServer } from '../helpers/make-server.js'
import { accessClaims, fromB64url, rawToken, serverKey, signWithServerKey } from './forge.js'

/**
 * Issue 17, beside hostile-tokens.test.ts: refresh tokens carry an HMAC with baton's refresh
 * key, so that key must never make an access token, and a refresh token must still be refused
 * before the store is asked. Every request goes to the running server over a real socket.
 */

const HS_SECRET = 'a-test-secret-of-at-least-32-bytes-long!!'
type Where = 'bearer' | 'refresh' | 'verify'

/** The memory store, counting every call a request makes (rate limits are off: they count too). */
function countingStore(): { store: SessionStore; calls: string[] } {
  const inner = createMemoryStore()
  const calls: string[] = []
  const store = new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown
      if (typeof value !== 'function' || name === 'ping' || name === 'close') return value
      return (...args: unknown[]) => {
        calls.push(String(name))
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
  return { store, calls }
}

interface Harness {
  server: TestServer
  base: string
  userId: string
  pair: { access: string; refresh: string }
  calls: string[]
}

async function start(env: Record<string, string>): Promise<Harness> {
  const { store, calls } = countingStore()
  const server = await createTestServer(
    { REFRESH_RATE_LIMIT: 'off', LOGIN_RATE_LIMIT: 'off', LOGIN_RATE_LIMIT_IP: 'off', ...env },
    { store },
  )
  await server.app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`
  const userId = await server.addUser('alice', 'alice-password-1')
  const pair = await server.login('alice', 'alice-password-1')
  return { server, base, userId, pair, calls }
}

async function send(h: Harness, where: Where, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res =
    where === 'bearer'
      ? await fetch(`${h.base}/api/me/`, { headers: { authorization: `Bearer ${token}` } })
      : await fetch(`${h.base}/api/auth/${where}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(where === 'refresh' ? { refresh: token } : { token }),
        })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

async function refused(h: Harness, token: string, where: Where[], what: string): Promise<void> {
  for (const w of where) {
    const { status, body } = await send(h, w, token)
    assert.equal(status, 401, `${what} at ${w}: ${JSON.stringify(body)}`)
    assert.equal(body.code, 'token_not_valid', `${what} at ${w}`)
  }
}

function parts(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = token.split('.') as [string, string]
  return { header: JSON.parse(fromB64url(h)), payload: JSON.parse(fromB64url(p)) }
}

for (const alg of ['ES256', 'EdDSA', 'RS256', 'HS256'] as Algorithm[]) {
  describe(`refresh key confusion, ${alg} server (real socket)`, () => {
    let h: Harness
    before(async () => {
      h = await start(alg === 'HS256' ? { JWT_ALGORITHM: alg, JWT_SECRET: HS_SECRET } : { JWT_ALGORITHM: alg })
    })
    after(() => h.server.close())

    test(`${alg}: an access token MACed with the refresh key is refused at a protected route and at verify`, async () => {
      const refreshKey = { alg: 'HS256', key: h.server.deps.keys.refresh.secret }
      const claims = accessClaims(h.server, h.userId)
      const { kid } = serverKey(h.server)
      const rkid = h.server.deps.keys.refresh.kid
      for (const header of [
        { alg: 'HS256', kid: rkid, typ: 'at+jwt' },
        { alg: 'HS256', kid, typ: 'at+jwt' },
        { alg: 'HS256', typ: 'at+jwt' },
        { alg: 'HS256', kid: rkid },
        // A refresh-typed token saying it is an access token: refused by type, whatever the key.
        { alg: 'HS256', kid: rkid, typ: 'refresh+jwt' },
      ])
        await refused(h, rawToken(header, claims, refreshKey), ['bearer', 'verify'], JSON.stringify(header))
      // The control: the same claims signed with the access key are accepted.
      const control = await signWithServerKey(h.server, claims)
      assert.equal((await send(h, 'bearer', control)).status, 200)
      assert.equal((await send(h, 'verify', control)).status, 200)
    })

    test(`${alg}: refresh tokens are HS256 under the r- kid; verify answers for both types`, async () => {
      assert.deepEqual(parts(h.pair.refresh).header, { alg: 'HS256', kid: h.server.deps.keys.refresh.kid, typ: 'refresh+jwt' })
      assert.equal(parts(h.pair.access).header.alg, alg)
      const jwks = await (await fetch(`${h.base}/.well-known/jwks.json`)).text()
      assert.ok(!jwks.includes(h.server.deps.keys.refresh.kid), 'the refresh key is published')
      assert.equal((await send(h, 'verify', h.pair.refresh)).status, 200)
      assert.equal((await send(h, 'verify', h.pair.access)).status, 200)
      await refused(h, h.pair.refresh, ['bearer'], 'refresh as bearer')
    })

    test(`${alg}: garbage, a wrong MAC, a wrong type or the wrong key cost no store command`, async () => {
      const { header, payload } = parts(h.pair.refresh)
      const [hh, pp, sig] = h.pair.refresh.split('.') as [string, string, string]
      const flipped = Buffer.from(sig, 'base64url')
      flipped[3]! ^= 0x10
      const hostile = [
        'garbage',
        'a.b.c',
        `${hh}.${pp}.${flipped.toString('base64url')}`,
        rawToken(header, payload, { alg: 'HS256', key: randomBytes(32) }),
        rawToken({ ...header, typ: 'at+jwt' }, payload, { alg: 'HS256', key: h.server.deps.keys.refresh.secret }),
        rawToken(header, { ...payload, token_type: 'access' }, { alg: 'HS256', key: h.server.deps.keys.refresh.secret }),
        rawToken({ ...header, alg: 'none' }, payload, null),
        h.pair.access,
      ]
      h.calls.length = 0
      for (const token of hostile) await refused(h, token, ['refresh'], token.slice(0, 40))
      assert.deepEqual(h.calls, [], 'a refused refresh token reached the store')
      // The control: the counting works (a real refresh is one rotation).
      const ok = await send(h, 'refresh', h.pair.refresh)
      assert.equal(ok.status, 200)
      assert.deepEqual(h.calls, ['rotate'])
      h.pair = { access: ok.body.access as string, refresh: ok.body.refresh as string }
    })
  })
}

test('upgrade: a refresh token signed with the access key (before issue 17) refreshes; its successor is HMAC; grace and reuse still apply', async () => {
  const h = await start({})
  try {
    const { payload } = parts(h.pair.refresh)
    const { alg, kid, key } = serverKey(h.server)
    // Exactly the shape the previous release issued: the access key, the access kid, typ refresh+jwt.
    const old = rawToken({ alg, kid, typ: 'refresh+jwt' }, payload, { alg, key })
    assert.equal((await send(h, 'verify', old)).status, 200)
    const first = await send(h, 'refresh', old)
    assert.equal(first.status, 200, JSON.stringify(first.body))
    const successor = first.body.refresh as string
    assert.deepEqual(parts(successor).header, { alg: 'HS256', kid: h.server.deps.keys.refresh.kid, typ: 'refresh+jwt' })
    assert.equal((await send(h, 'bearer', first.body.access as string)).status, 200)
    // Within grace the old token answers the same successor; the successor itself rotates.
    assert.equal((await send(h, 'refresh', old)).body.refresh, successor)
    const second = await send(h, 'refresh', successor)
    assert.equal(second.status, 200)
    h.server.clock.advance(16_000)
    const replay = await send(h, 'refresh', old)
    assert.equal(replay.status, 401)
    assert.equal(replay.body.code, 'token_reused')
  } finally {
    await h.server.close()
  }
})

test('a second instance (same configuration, same store) and a restart accept the refresh tokens the first issued', async () => {
  const shared = createMemoryStore()
  const store: SessionStore = { ...shared, close: async () => {} }
  const secret = `base64:${randomBytes(32).toString('base64')}`
  for (const env of [{}, { BATON_REFRESH_SECRET: secret }]) {
    const a = await createTestServer(env, { store })
    const b = await createTestServer(env, { store })
    try {
      await a.addUser('bob', 'bob-password-1')
      const pair = await a.login('bob', 'bob-password-1')
      const atB = await b.post('/api/auth/refresh/', { refresh: pair.refresh })
      assert.equal(atB.statusCode, 200, `${JSON.stringify(env)}: ${atB.body}`)
      assert.equal((await a.post('/api/auth/refresh/', { refresh: atB.json().refresh })).statusCode, 200)
    } finally {
      await a.close()
      await b.close()
    }
  }
})
