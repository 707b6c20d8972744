import assert from 'node:assert/strict'
import { createPublicKey } from 'node:crypto'
import { type AddressInfo, createServer as createNetServer } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { JWK } from 'jose'
import type { Algorithm } from '../../src/config.js'
import { type TestServer, createTestServer } from '../helpers/make-server.js'
import {
  accessClaims,
  attackerKey,
  b64url,
  flipByte,
  flipChar,
  fromB64url,
  rawToken,
  rawWithServerKey,
  serverKey,
  signWithServerKey,
} from './forge.js'

/**
 * Every known attack on a JWT, sent to the RUNNING server over a real socket: as a bearer token
 * to `/api/me/`, as `{refresh}` to `/api/auth/refresh/` and as `{token}` to `/api/auth/verify/`.
 * None may answer 200 or 500. Each attack also has a control (the same construction, made
 * valid) where that is possible, so a test cannot pass because the forging itself is broken.
 */

type Where = 'bearer' | 'refresh' | 'verify'
const EVERYWHERE: Where[] = ['bearer', 'refresh', 'verify']

interface Seen {
  status: number
  body: string
  headers: Headers
  /** The token (or other secret-ish input) this request carried. */
  sent: string
}

/** A server on a real socket, with a user, a token pair and a log of every answer. */
interface Harness {
  server: TestServer
  base: string
  userId: string
  pair: { access: string; refresh: string }
  seen: Seen[]
  jwks: { keys: JWK[] }
  close(): Promise<void>
}

async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  // Rate limits are off here: they are tested in rate-limits.test.ts, and would turn the
  // hundreds of failing refreshes of this file into 429s.
  const server = await createTestServer({ REFRESH_RATE_LIMIT: 'off', LOGIN_RATE_LIMIT: 'off', LOGIN_RATE_LIMIT_IP: 'off', ...env })
  await server.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = server.app.server.address() as AddressInfo
  const base = `http://127.0.0.1:${port}`
  const userId = await server.addUser('alice', 'alice-password-1')
  const res = await fetch(`${base}/api/auth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'alice', password: 'alice-password-1' }),
  })
  assert.equal(res.status, 200)
  const pair = (await res.json()) as { access: string; refresh: string }
  const jwks = (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: JWK[] }
  return { server, base, userId, pair, seen: [], jwks, close: () => server.close() }
}

async function send(h: Harness, where: Where, token: string): Promise<Seen> {
  let res: Response
  if (where === 'bearer') {
    res = await fetch(`${h.base}/api/me/`, { headers: { authorization: `Bearer ${token}` } })
  } else {
    res = await fetch(`${h.base}/api/auth/${where}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(where === 'refresh' ? { refresh: token } : { token }),
    })
  }
  const seen = { status: res.status, body: await res.text(), headers: res.headers, sent: token }
  h.seen.push(seen)
  return seen
}

/**
 * Sends `token` to each endpoint and asserts a 401 `token_not_valid` (or another refusal in
 * `allowed`), never 200 or 500, and that the body does not echo the token or its signature.
 */
async function assertRefused(h: Harness, token: string, where: Where[] = EVERYWHERE, allowed: number[] = [401]): Promise<void> {
  for (const w of where) {
    // A header can carry only visible ASCII after the scheme: other tokens travel in bodies.
    if (w === 'bearer' && /[^\x21-\x7e]/.test(token)) continue
    const seen = await send(h, w, token)
    assert.notEqual(seen.status, 200, `${w}: 200 for a hostile token`)
    assert.notEqual(seen.status, 500, `${w}: 500 for a hostile token: ${seen.body}`)
    assert.ok(allowed.includes(seen.status), `${w}: status ${seen.status} not in ${allowed.join(',')}: ${seen.body}`)
    if (seen.status === 401) {
      assert.equal(JSON.parse(seen.body).code, 'token_not_valid', `${w}: ${seen.body}`)
      if (w === 'bearer') assert.match(seen.headers.get('www-authenticate') ?? '', /error="invalid_token"/)
    }
    const sig = token.split('.')[2]
    if (token.length >= 8) assert.ok(!seen.body.includes(token), `${w}: body echoes the token`)
    if (sig !== undefined && sig.length >= 16) assert.ok(!seen.body.includes(sig), `${w}: body echoes the signature`)
  }
}

async function assertAccepted(h: Harness, token: string, where: Where[]): Promise<void> {
  for (const w of where) {
    const seen = await send(h, w, token)
    assert.equal(seen.status, 200, `${w}: control token refused: ${seen.body}`)
  }
}

/** Splits a compact token into decoded header and payload objects and the signature segment. */
function parts(token: string): { header: Record<string, unknown>; payload: Record<string, unknown>; sig: string } {
  const [h, p, s] = token.split('.') as [string, string, string]
  return { header: JSON.parse(fromB64url(h)), payload: JSON.parse(fromB64url(p)), sig: s }
}

/** The public key in every byte form an attacker would try as an HMAC secret. */
function publicKeyForms(jwk: JWK): Uint8Array[] {
  const key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' })
  const pem = key.export({ type: 'spki', format: 'pem' }) as string
  const der = key.export({ type: 'spki', format: 'der' })
  const forms = [pem, pem.trim(), der, JSON.stringify(jwk)].map((f) => (typeof f === 'string' ? Buffer.from(f) : f))
  if (jwk.x !== undefined) forms.push(Buffer.from(jwk.x, 'base64url'))
  if (jwk.n !== undefined) forms.push(Buffer.from(jwk.n, 'base64url'))
  if (jwk.x !== undefined && jwk.y !== undefined)
    forms.push(Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]))
  return forms.map((f) => new Uint8Array(f))
}

const ALGORITHMS: Algorithm[] = ['EdDSA', 'ES256', 'RS256', 'HS256']
const HS_SECRET = 'a-test-secret-of-at-least-32-bytes-long!!'

// The attacks that depend on the key type, against a server of each algorithm.
for (const alg of ALGORITHMS) {
  describe(`hostile tokens, ${alg} server (real socket)`, () => {
    let h: Harness
    before(async () => {
      h = await startHarness(alg === 'HS256' ? { JWT_ALGORITHM: alg, JWT_SECRET: HS_SECRET } : { JWT_ALGORITHM: alg })
    })
    after(() => h.close())

    test(`jwt ${alg}: control: a token forged with the server's own key and right claims is accepted`, async () => {
      await assertAccepted(h, await signWithServerKey(h.server, accessClaims(h.server, h.userId)), ['bearer', 'verify'])
      await assertAccepted(h, h.pair.access, ['bearer', 'verify'])
    })

    test(`jwt ${alg}: alg none in any case, with and without a signature part, is refused`, async () => {
      const { header, payload, sig } = parts(h.pair.access)
      for (const none of ['none', 'None', 'NONE', 'nOnE']) {
        const unsigned = rawToken({ ...header, alg: none }, payload, null)
        await assertRefused(h, unsigned) // "h.p."
        await assertRefused(h, unsigned.slice(0, -1)) // "h.p"
        await assertRefused(h, `${unsigned}${sig}`) // the original signature kept
        const { kid: _kid, ...noKid } = header
        await assertRefused(h, rawToken({ ...noKid, alg: none }, payload, null))
      }
    })

    test(`jwt ${alg}: a token signed by another key under the server's kid is refused`, async () => {
      const { header, payload } = parts(h.pair.access)
      if (alg === 'HS256') {
        await assertRefused(h, rawToken(header, payload, { alg: 'HS256', key: 'another-secret-of-at-least-32-bytes!!' }))
      } else {
        const attacker = await attackerKey(alg)
        await assertRefused(h, rawToken(header, payload, { alg, key: attacker.privateKey }))
      }
    })

    if (alg !== 'HS256') {
      test(`jwt ${alg}: key confusion: HS256 signed with the public key's bytes (PEM, DER, JWK, raw) is refused`, async () => {
        const { header, payload } = parts(h.pair.access)
        assert.equal(h.jwks.keys.length, 1)
        const forms = publicKeyForms(h.jwks.keys[0]!)
        assert.ok(forms.length >= 5)
        for (const secret of forms) {
          await assertRefused(h, rawToken({ ...header, alg: 'HS256' }, payload, { alg: 'HS256', key: secret }))
          await assertRefused(h, rawToken({ ...header, alg: 'HS384' }, payload, null) + b64url(secret.slice(0, 8)))
        }
      })
    }

    test(`jwt ${alg}: an embedded jwk header carrying the attacker's key is refused`, async () => {
      const { payload } = parts(h.pair.access)
      const attacker = await attackerKey(alg === 'HS256' ? 'EdDSA' : alg)
      const attackerAlg = alg === 'HS256' ? 'EdDSA' : alg
      const kids = ['attacker', serverKey(h.server).kid]
      for (const kid of kids) {
        const header = { alg: attackerAlg, typ: 'at+jwt', kid, jwk: attacker.jwk }
        await assertRefused(h, rawToken(header, payload, { alg: attackerAlg, key: attacker.privateKey }))
      }
      // Even the server's own signature does not make a token with a `jwk` header acceptable.
      const own = await signWithServerKey(h.server, accessClaims(h.server, h.userId), { jwk: attacker.jwk })
      await assertRefused(h, own, ['bearer', 'verify'])
    })

    test(`jwt ${alg}: jku and x5u pointing at a listener are refused and never fetched`, async () => {
      let connections = 0
      const listener = createNetServer((socket) => {
        connections++
        socket.destroy()
      })
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
      try {
        const { port } = listener.address() as AddressInfo
        const url = `http://127.0.0.1:${port}/.well-known/jwks.json`
        const { payload } = parts(h.pair.access)
        const attacker = await attackerKey(alg === 'HS256' ? 'EdDSA' : alg)
        const attackerAlg = alg === 'HS256' ? 'EdDSA' : alg
        for (const member of ['jku', 'x5u']) {
          for (const kid of ['attacker', serverKey(h.server).kid]) {
            const header = { alg: attackerAlg, typ: 'at+jwt', kid, [member]: url }
            await assertRefused(h, rawToken(header, payload, { alg: attackerAlg, key: attacker.privateKey }))
          }
          await assertRefused(h, await signWithServerKey(h.server, accessClaims(h.server, h.userId), { [member]: url }), [
            'bearer',
            'verify',
          ])
        }
        const x5c = await signWithServerKey(h.server, accessClaims(h.server, h.userId), {
          x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'],
        })
        await assertRefused(h, x5c, ['bearer', 'verify'])
        assert.equal(connections, 0, 'the server connected to a URL named in a token header')
      } finally {
        await new Promise<void>((resolve) => listener.close(() => resolve()))
      }
    })

    test(`jwt ${alg}: one flipped byte in the header, payload or signature of a valid token is refused`, async () => {
      for (const token of [h.pair.access, h.pair.refresh]) {
        for (const segment of [0, 1, 2] as const) {
          for (const byte of [0, 7, 20]) await assertRefused(h, flipByte(token, segment, byte))
        }
      }
    })
  })
}

describe('hostile tokens: claims, encoding and transport (real socket)', () => {
  let h: Harness
  before(async () => {
    h = await startHarness()
  })
  after(() => h.close())

  const claims = (overrides: Record<string, unknown> = {}) => accessClaims(h.server, h.userId, overrides)

  test('jwt: hostile kid values (traversal, quotes, shell, SQL, 10 kB, unknown, prototype names) answer 401 without echoing them', async () => {
    const kids: unknown[] = [
      '../../etc/passwd',
      '../../../../../../dev/null',
      '"quoted"',
      "'; DROP TABLE sessions; --",
      "' OR '1'='1",
      '; rm -rf /',
      '$(touch /tmp/baton-pwned)',
      '`id`',
      '%00',
      '\u0000',
      'k'.repeat(10_240),
      'unknown-kid',
      '__proto__',
      'constructor',
      'toString',
      '',
      123,
      null,
      ['a'],
      { kid: 'x' },
    ]
    for (const kid of kids) {
      const token = await signWithServerKey(h.server, claims(), { kid })
      const before = h.seen.length
      // The 10 kB kid makes the token longer than any field accepts: 400 in a body.
      await assertRefused(h, token, EVERYWHERE, token.length > 8192 ? [400, 401] : [401])
      if (typeof kid === 'string' && kid.length >= 3) {
        for (const seen of h.seen.slice(before)) assert.ok(!seen.body.includes(kid), `body echoes kid ${kid.slice(0, 20)}`)
      }
    }
  })

  test('jwt: a refresh token used as a bearer token is refused, and an access token posted to refresh or logout', async () => {
    await assertRefused(h, h.pair.refresh, ['bearer'])
    await assertRefused(h, h.pair.access, ['refresh'])
    const res = await fetch(`${h.base}/api/auth/logout/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh: h.pair.access }),
    })
    assert.equal(res.status, 401)
    // Controls: each token works where it belongs.
    await assertAccepted(h, h.pair.access, ['bearer', 'verify'])
    await assertAccepted(h, h.pair.refresh, ['verify'])
  })

  test('jwt: typ and token_type that disagree are refused, even signed with the server key', async () => {
    const { payload: refreshPayload } = parts(h.pair.refresh)
    await assertRefused(h, await signWithServerKey(h.server, refreshPayload, { typ: 'at+jwt' }), EVERYWHERE)
    await assertRefused(h, await signWithServerKey(h.server, claims(), { typ: 'refresh+jwt' }), EVERYWHERE)
    await assertRefused(h, await signWithServerKey(h.server, claims(), { typ: 'JWT' }), EVERYWHERE)
    await assertRefused(h, await signWithServerKey(h.server, claims(), { typ: undefined }), EVERYWHERE)
  })

  test('jwt: wrong iss or aud, signed with the server key, is refused', async () => {
    for (const overrides of [
      { iss: 'evil' },
      { aud: 'evil' },
      { aud: ['evil'] },
      { iss: undefined },
      { aud: undefined },
      { iss: 'BATON' },
      { iss: 'baton ' },
    ]) {
      await assertRefused(h, await signWithServerKey(h.server, claims(overrides)), ['bearer', 'verify'])
      const { payload } = parts(h.pair.refresh)
      await assertRefused(h, await signWithServerKey(h.server, { ...payload, ...overrides }, { typ: 'refresh+jwt' }), ['refresh', 'verify'])
    }
    // Control: an aud array holding baton is a valid audience (RFC 7519 §4.1.3).
    await assertAccepted(h, await signWithServerKey(h.server, claims({ aud: ['other', 'baton'] })), ['bearer'])
  })

  test('jwt: exp just inside the leeway is accepted, just outside is refused (fake clock)', async () => {
    const s = await createTestServer({ JWT_LEEWAY: '5', REFRESH_RATE_LIMIT: 'off' })
    await s.app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const { port } = s.app.server.address() as AddressInfo
      const local: Harness = { ...h, server: s, base: `http://127.0.0.1:${port}` }
      local.userId = await s.addUser('bob', 'bob-password-1')
      const pair = await s.login('bob', 'bob-password-1')
      const { payload } = parts(pair.access)
      const exp = payload.exp as number
      // The fake clock sits at a whole second past `iat`; put it 4 s past `exp`.
      s.clock.set((exp + 4) * 1000)
      await assertAccepted(local, pair.access, ['bearer', 'verify'])
      s.clock.set((exp + 6) * 1000)
      await assertRefused(local, pair.access, ['bearer', 'verify'])
      // A refresh token past its exp is refused outside the leeway by its signature check, and
      // inside it by its session, whose record expired at exp (SPEC §3: the store decides).
      const refreshExp = parts(pair.refresh).payload.exp as number
      s.clock.set((refreshExp - 1) * 1000)
      await assertAccepted(local, pair.refresh, ['verify'])
      s.clock.set((refreshExp + 4) * 1000)
      await assertRefused(local, pair.refresh, ['refresh', 'verify'])
      s.clock.set((refreshExp + 6) * 1000)
      await assertRefused(local, pair.refresh, ['refresh', 'verify'])
    } finally {
      await s.close()
    }
  })

  test('jwt: nbf in the future, iat far in the future and a missing exp are refused', async () => {
    const now = Math.floor(h.server.clock.now() / 1000)
    await assertRefused(h, await signWithServerKey(h.server, claims({ nbf: now + 60 })), ['bearer', 'verify'])
    await assertRefused(h, await signWithServerKey(h.server, claims({ iat: now + 3600 })), ['bearer', 'verify'])
    await assertRefused(h, await signWithServerKey(h.server, claims({ iat: now + 3600 * 24 * 365 * 100 })), ['bearer', 'verify'])
    await assertRefused(h, await signWithServerKey(h.server, claims({ exp: undefined })), ['bearer', 'verify'])
    await assertRefused(h, await signWithServerKey(h.server, claims({ iat: undefined })), ['bearer', 'verify'])
    // Controls: nbf and iat inside the leeway are fine.
    await assertAccepted(h, await signWithServerKey(h.server, claims({ nbf: now + 3, iat: now + 3 })), ['bearer'])
  })

  test('jwt: exp as a string, a huge number, negative, fractional junk or NaN-like is refused', async () => {
    const now = Math.floor(h.server.clock.now() / 1000)
    const bad: unknown[] = [
      String(now + 300),
      '9999999999',
      1e300,
      Number.MAX_SAFE_INTEGER,
      2 ** 60,
      -1,
      -1e300,
      0,
      null,
      true,
      [now + 300],
      { n: 1 },
    ]
    for (const exp of bad) await assertRefused(h, await signWithServerKey(h.server, claims({ exp })), ['bearer', 'verify'])
    // Hand-built JSON for values JSON.stringify cannot write.
    const { kid, alg } = serverKey(h.server)
    const header = { alg, kid, typ: 'at+jwt' }
    const text = JSON.stringify(claims({ exp: 0 })).replace('"exp":0', '"exp":1e400')
    await assertRefused(h, rawWithServerKey(h.server, header, text), ['bearer', 'verify'])
    const big = JSON.stringify(claims({ exp: 0 })).replace('"exp":0', `"exp":${'9'.repeat(400)}`)
    await assertRefused(h, rawWithServerKey(h.server, header, big), ['bearer', 'verify'])
  })

  test('jwt: a sub that is not a string is refused', async () => {
    for (const sub of [123, null, true, [h.userId], { id: h.userId }, ''])
      await assertRefused(h, await signWithServerKey(h.server, claims({ sub, user_id: sub })), ['bearer', 'verify'])
    const { payload } = parts(h.pair.refresh)
    await assertRefused(h, await signWithServerKey(h.server, { ...payload, sub: 42 }, { typ: 'refresh+jwt' }), ['refresh', 'verify'])
  })

  test('jwt: duplicate JSON members in the header or payload are refused, even validly signed', async () => {
    const { kid, alg } = serverKey(h.server)
    const payload = JSON.stringify(claims())
    const header = JSON.stringify({ alg, kid, typ: 'at+jwt' })
    // Controls: the same hand-built JSON without duplicates is accepted.
    await assertAccepted(h, rawWithServerKey(h.server, header, payload), ['bearer'])
    const dupHeaders = [
      `{"alg":"none","alg":"${alg}","kid":"${kid}","typ":"at+jwt"}`,
      `{"alg":"${alg}","kid":"other","kid":"${kid}","typ":"at+jwt"}`,
      `{"alg":"${alg}","kid":"${kid}","typ":"refresh+jwt","typ":"at+jwt"}`,
      `{"alg":"${alg}","kid":"${kid}","typ":"at+jwt","\\u0061lg":"${alg}"}`,
    ]
    for (const dh of dupHeaders) await assertRefused(h, rawWithServerKey(h.server, dh, payload), ['bearer', 'verify'])
    const body = payload.slice(1, -1)
    const dupPayloads = [
      `{"sub":"someone-else",${body}}`,
      `{${body},"exp":1}`.replace(/,"exp":1}$/, `,"exp":${claims().exp as number}}`),
      `{"token_type":"refresh",${body}}`,
      `{${body},"\\u0073ub":"${h.userId}"}`,
      `{${body},"x":{"a":1,"a":2}}`,
    ]
    for (const dp of dupPayloads) await assertRefused(h, rawWithServerKey(h.server, header, dp), ['bearer', 'verify'])
  })

  test('jwt: an unknown crit header, or b64:false, is refused', async () => {
    // Hand-signed: jose itself refuses to sign an unknown `crit`.
    const { kid, alg } = serverKey(h.server)
    const base = { alg, kid, typ: 'at+jwt' }
    for (const extra of [
      { crit: ['x-baton-unknown'], 'x-baton-unknown': 1 },
      { crit: ['exp'] },
      { crit: [] },
      { crit: 'x' },
      { crit: ['kid'] },
      { b64: false, crit: ['b64'] },
    ]) {
      await assertRefused(h, rawWithServerKey(h.server, { ...base, ...extra }, claims()), ['bearer', 'verify'])
    }
    // Control: the same construction without `crit`.
    await assertAccepted(h, rawWithServerKey(h.server, base, claims()), ['bearer'])
  })

  test('jwt: padding, +/ characters, whitespace and spare low bits (other spellings of a valid token) are refused', async () => {
    // A token whose signature holds '-' or '_' so the standard alphabet spells it differently.
    let token = h.pair.access
    for (let i = 0; !/[-_]/.test(token.split('.')[2]!); i++) token = await signWithServerKey(h.server, claims({ jti: `j${i}` }))
    await assertAccepted(h, token, ['bearer', 'verify'])
    const [hd, pl, sig] = token.split('.') as [string, string, string]
    const standard = (s: string) => s.replaceAll('-', '+').replaceAll('_', '/')
    const padded = (s: string) => s + '='.repeat((4 - (s.length % 4)) % 4 || 4)
    const variants = [
      `${hd}.${pl}.${padded(sig)}`,
      `${hd}.${pl}.${sig}==`,
      `${hd}.${pl}.${sig}=`,
      `${padded(hd)}.${pl}.${sig}`,
      `${hd}.${padded(pl)}.${sig}`,
      `${hd}.${pl}.${standard(sig)}`,
      `${standard(hd)}.${standard(pl)}.${standard(sig)}`,
      `${hd}.${pl}.${sig.slice(0, 10)} ${sig.slice(10)}`,
      `${hd}.${pl}.${sig.slice(0, 10)}\n${sig.slice(10)}`,
      `${hd}.${pl}.${sig}\t`,
      ` ${token}`,
    ]
    // Spare low bits: a 64-byte (EdDSA) signature ends in a character carrying 4 data bits and
    // 2 unused ones; setting those decodes to the same bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const last = alphabet.indexOf(sig.at(-1)!)
    for (const spare of [1, 2, 3]) variants.push(`${hd}.${pl}.${sig.slice(0, -1)}${alphabet[(last & ~3) | spare]}`)
    for (const v of variants) {
      if (v === token) continue
      // Whitespace cannot travel in a header; those go in JSON bodies only.
      await assertRefused(h, v, /\s/.test(v) ? ['refresh', 'verify'] : EVERYWHERE)
    }
  })

  test('jwt: wrong segment counts, non-JSON header, array payload and an empty string are refused', async () => {
    const [hd, pl, sig] = h.pair.access.split('.') as [string, string, string]
    const header = parts(h.pair.access).header
    const malformed = [
      hd,
      `${hd}.${pl}`,
      `${hd}.${pl}.${sig}.${sig}`,
      `${hd}.${pl}.${sig}.x.y`,
      `${hd}.${pl}.${sig}.`,
      `.${pl}.${sig}`,
      `${hd}..${sig}`,
      '..',
      '....',
      `${b64url('not json')}.${pl}.${sig}`,
      `${b64url('"a string"')}.${pl}.${sig}`,
      `${b64url('[]')}.${pl}.${sig}`,
      `${b64url('null')}.${pl}.${sig}`,
      rawWithServerKey(h.server, header, '[1,2,3]'),
      rawWithServerKey(h.server, header, `[${JSON.stringify(claims())}]`),
      rawWithServerKey(h.server, header, '"just a string"'),
      rawWithServerKey(h.server, header, '42'),
      rawWithServerKey(h.server, header, 'not json at all'),
      rawWithServerKey(h.server, header, '{"sub":'),
      'Bearer',
      'null',
      'undefined',
      '%2e%2e%2f',
      '\u202e',
      'é.é.é',
    ]
    for (const m of malformed) await assertRefused(h, m)
    // An empty value is a missing field in a body (400) and no credentials in a header (401).
    await assertRefused(h, '', ['refresh', 'verify'], [400])
    const seen = await fetch(`${h.base}/api/me/`, { headers: { authorization: 'Bearer ' } })
    assert.equal(seen.status, 401)
  })

  test('jwt: one character changed anywhere in a valid access token is refused', async () => {
    const token = h.pair.access
    for (let i = 0; i < token.length; i += 7) {
      if (token[i] === '.') continue
      await assertRefused(h, flipChar(token, i), ['bearer'])
    }
  })

  test('jwt: a token of many kilobytes: 413 in a body, 431 in a header, 401 in between', async () => {
    const huge = `${'a'.repeat(50_000)}.${'b'.repeat(50_000)}.${'c'.repeat(1_000)}`
    await assertRefused(h, huge, ['refresh', 'verify'], [413])
    // 100 kB in a header: over Node's header limit, answered by the client-error handler.
    const header = await fetch(`${h.base}/api/me/`, { headers: { authorization: `Bearer ${huge}` } })
    assert.equal(header.status, 431)
    assert.equal((await header.json()).code, 'request_header_fields_too_large')
    // 10 kB: under both request limits, over the token limit.
    const mid = `${'a'.repeat(5_000)}.${'b'.repeat(5_000)}.${'c'.repeat(100)}`
    await assertRefused(h, mid, ['bearer'], [401])
    await assertRefused(h, mid, ['refresh', 'verify'], [400])
  })

  test('jwt: the bearer scheme is case-insensitive and takes spaces or tabs (RFC 7235), other schemes are refused', async () => {
    const get = (authorization: string) => fetch(`${h.base}/api/me/`, { headers: { authorization } })
    for (const scheme of ['bearer', 'BEARER', 'Bearer', 'bEaReR'])
      assert.equal((await get(`${scheme} ${h.pair.access}`)).status, 200, scheme)
    assert.equal((await get(`Bearer    ${h.pair.access}`)).status, 200, 'several spaces')
    assert.equal((await get(`Bearer\t${h.pair.access}`)).status, 200, 'a tab')
    assert.equal((await get(`Bearer \t ${h.pair.access}  `)).status, 200, 'mixed')
    for (const bad of [
      `Basic ${h.pair.access}`,
      `Token ${h.pair.access}`,
      `JWT ${h.pair.access}`,
      `Bearer${h.pair.access}`,
      h.pair.access,
      `Bearer ${h.pair.access} ${h.pair.access}`,
      `Bearer ${h.pair.access},Bearer ${h.pair.access}`,
      `Bearer "${h.pair.access}"`,
    ]) {
      const res = await get(bad)
      assert.equal(res.status, 401, bad.slice(0, 12))
      const body = await res.text()
      assert.ok(!body.includes(h.pair.access))
      h.seen.push({ status: res.status, body, headers: res.headers, sent: h.pair.access })
    }
  })

  test('jwt: a token in the query string or a cookie is ignored (401 without Authorization)', async () => {
    for (const query of ['token', 'access_token', 'access', 'jwt', 'bearer', 'authorization']) {
      const res = await fetch(`${h.base}/api/me/?${query}=${h.pair.access}`)
      assert.equal(res.status, 401, query)
      const body = await res.text()
      assert.equal(JSON.parse(body).code, 'token_not_valid')
      // No bearer token was presented: RFC 6750 §3.1 sends no error code then.
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="baton"')
      assert.ok(!body.includes(h.pair.access))
      h.seen.push({ status: res.status, body, headers: res.headers, sent: h.pair.access })
    }
    const cookie = await fetch(`${h.base}/api/me/`, { headers: { cookie: `access=${h.pair.access}; token=${h.pair.access}` } })
    assert.equal(cookie.status, 401)
    const form = await fetch(`${h.base}/api/me/`, {
      method: 'GET',
      headers: { 'x-access-token': h.pair.access, 'x-auth-token': h.pair.access },
    })
    assert.equal(form.status, 401)
  })

  test('jwt: no answer collected in this file holds a token, a key id, a store address or a stack', () => {
    const kids = [serverKey(h.server).kid]
    assert.ok(h.seen.length > 200, `only ${h.seen.length} answers collected`)
    for (const seen of h.seen) {
      assert.notEqual(seen.status, 500)
      // Controls answered 200 with the user: only refusals are searched.
      if (seen.status === 200) continue
      const body = seen.body
      assert.ok(!/\n\s+at\s/.test(body) && !body.includes('.ts:') && !body.includes('.js:'), `stack in ${body}`)
      for (const kid of kids) assert.ok(!body.includes(kid), `kid in ${body}`)
      assert.ok(!/redis:\/\/|rediss:\/\/|sqlite:|postgres:\/\//.test(body), `store address in ${body}`)
      for (const t of [h.pair.access, h.pair.refresh]) {
        assert.ok(!body.includes(t))
        assert.ok(!body.includes(t.split('.')[2]!))
      }
      const parsed = JSON.parse(body) as Record<string, unknown>
      assert.equal(typeof parsed.code, 'string')
      assert.equal(typeof parsed.detail, 'string')
    }
  })
})
