import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, test } from 'node:test'
import { createMemoryStore } from '../../src/store/memory.js'
import { createMemoryUserStore } from '../../src/users/memory.js'
import { createFakeClock } from '../helpers/fake-clock.js'
import { type TestServer, createTestServer } from '../helpers/make-server.js'
import { B, type Res, assertLimited, closeHarnesses, limitHarness } from './limit-harness.js'

/**
 * Brute force and abuse (issue 6): failure-counting limits on login (per username, per address)
 * and refresh (per address), kept in the session store; size limits on headers and bodies.
 */

afterEach(closeHarnesses)

describe('limits: failed logins per username', () => {
  test('limits: N failed logins for one username give 429 rate_limited with Retry-After, for known and unknown names alike', async () => {
    const h = await limitHarness({ LOGIN_RATE_LIMIT: '5/60', LOGIN_RATE_LIMIT_IP: 'off' })
    await h.server.addUser('alice', 'alice-password-1')
    for (const name of ['alice', 'nobody']) {
      for (let i = 0; i < 5; i++) assert.equal((await h.login(name, `wrong-${i}`)).status, 401)
      assertLimited(await h.login(name, 'wrong-again'), 60)
    }
    // The locked name answers 429 even to the right password, until the window ends.
    assertLimited(await h.login('alice', 'alice-password-1'), 60)
    // Both 429s are the same answer: a lock says nothing about which names exist.
    const known = await h.login('alice', 'x')
    const unknown = await h.login('nobody', 'x')
    assert.equal(known.body, unknown.body)
    assert.equal(known.headers['retry-after'], unknown.headers['retry-after'])
    // Another name is not affected.
    await h.server.addUser('bob', 'bob-password-1')
    assert.equal((await h.login('bob', 'bob-password-1')).status, 200)
  })

  test("limits: a correct login before the limit is never limited and resets that username's counter", async () => {
    const h = await limitHarness({ LOGIN_RATE_LIMIT: '5/60', LOGIN_RATE_LIMIT_IP: 'off' })
    await h.server.addUser('alice', 'alice-password-1')
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++) assert.equal((await h.login('alice', 'wrong')).status, 401)
      assert.equal((await h.login('alice', 'alice-password-1')).status, 200, `round ${round}`)
    }
    // After the reset, the full five failures are needed again.
    for (let i = 0; i < 5; i++) assert.equal((await h.login('alice', 'wrong')).status, 401)
    assertLimited(await h.login('alice', 'wrong'), 60)
  })

  test('limits: a user who logs in correctly at full speed is never limited', async () => {
    const h = await limitHarness({})
    await h.server.addUser('alice', 'alice-password-1')
    for (let i = 0; i < 150; i++) assert.equal((await h.login('alice', 'alice-password-1')).status, 200, `login ${i}`)
  })

  test('limits: spellings of one username (case, NFKC compatibility forms) share one counter', async () => {
    const h = await limitHarness({ LOGIN_RATE_LIMIT: '5/60', LOGIN_RATE_LIMIT_IP: 'off' })
    await h.server.addUser('alice', 'alice-password-1')
    const spellings = ['alice', 'ALICE', 'Alice', 'ａｌｉｃｅ', 'ＡＬＩＣＥ', '𝐚𝐥𝐢𝐜𝐞']
    for (const s of spellings.slice(0, 5)) assert.equal((await h.login(s, 'wrong')).status, 401, s)
    for (const s of spellings) assertLimited(await h.login(s, 'wrong'), 60)
  })

  test('limits: the window expires (fake clock) and the name can log in again', async () => {
    const h = await limitHarness({ LOGIN_RATE_LIMIT: '3/120', LOGIN_RATE_LIMIT_IP: 'off' })
    await h.server.addUser('alice', 'alice-password-1')
    for (let i = 0; i < 3; i++) await h.login('alice', 'wrong')
    assertLimited(await h.login('alice', 'alice-password-1'), 120)
    h.server.clock.advance(60_000)
    const half = await h.login('alice', 'alice-password-1')
    assertLimited(half, 60)
    h.server.clock.advance(60_001)
    assert.equal((await h.login('alice', 'alice-password-1')).status, 200)
  })

  test('limits: LOGIN_RATE_LIMIT=off never limits', async () => {
    const h = await limitHarness({ LOGIN_RATE_LIMIT: 'off', LOGIN_RATE_LIMIT_IP: 'off' })
    for (let i = 0; i < 60; i++) assert.equal((await h.login('alice', 'wrong')).status, 401)
  })
})

describe('limits: failed logins per address', () => {
  test('limits: many distinct usernames from one address hit the per-address limit; other addresses are not affected', async () => {
    const h = await limitHarness({ LOGIN_RATE_LIMIT: '5/60', LOGIN_RATE_LIMIT_IP: '20/60' })
    await h.server.addUser('alice', 'alice-password-1')
    for (let i = 0; i < 20; i++) assert.equal((await h.login(`user${i}`, 'wrong')).status, 401, `user${i}`)
    assertLimited(await h.login('user-new', 'wrong'), 60)
    // The address is limited for everyone behind it (a NAT): documented in docs/security.md.
    assertLimited(await h.login('alice', 'alice-password-1'), 60)
    assert.equal((await h.login('alice', 'alice-password-1', B)).status, 200)
    assert.equal((await h.login('user-new', 'wrong', B)).status, 401)
  })

  test('limits: addresses of one IPv6 /64 share a counter; IPv4-mapped addresses count as IPv4', async () => {
    const h = await limitHarness({ LOGIN_RATE_LIMIT: 'off', LOGIN_RATE_LIMIT_IP: '4/60' })
    const hosts = ['2001:db8:1:2::1', '2001:db8:1:2::dead:beef', '2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2:3:4:5:6']
    for (const ip of hosts) assert.equal((await h.login('x', 'wrong', ip)).status, 401, ip)
    assertLimited(await h.login('x', 'wrong', '2001:db8:1:2::abcd'), 60)
    assert.equal((await h.login('x', 'wrong', '2001:db8:1:3::1')).status, 401)
    for (let i = 0; i < 4; i++) await h.login('x', 'wrong', '192.0.2.1')
    assertLimited(await h.login('x', 'wrong', '::ffff:192.0.2.1'), 60)
  })
})

describe('limits: failed refreshes per address', () => {
  test('limits: failed refreshes from one address give 429 on further refresh attempts, valid ones included, until the window ends', async () => {
    const h = await limitHarness({ REFRESH_RATE_LIMIT: '10/60' })
    await h.server.addUser('alice', 'alice-password-1')
    const pair = (await h.login('alice', 'alice-password-1')).json() as { refresh: string }
    for (let i = 0; i < 10; i++) assert.equal((await h.refresh(`not-a-token-${i}`)).status, 401)
    assertLimited(await h.refresh('not-a-token'), 60)
    assertLimited(await h.refresh(pair.refresh), 60)
    // Another address refreshes normally.
    const other = await h.refresh(pair.refresh, B)
    assert.equal(other.status, 200, other.body)
    h.server.clock.advance(60_001)
    const next = other.json() as { refresh: string }
    assert.equal((await h.refresh(next.refresh)).status, 200)
  })

  test('limits: reused and revoked refresh tokens count as failures too', async () => {
    const h = await limitHarness({ REFRESH_RATE_LIMIT: '3/60', REFRESH_GRACE_SECONDS: '0' })
    await h.server.addUser('alice', 'alice-password-1')
    const first = (await h.login('alice', 'alice-password-1')).json() as { refresh: string }
    assert.equal((await h.refresh(first.refresh)).status, 200)
    h.server.clock.advance(1_000)
    assert.equal((await h.refresh(first.refresh)).json().code, 'token_reused')
    assert.equal((await h.refresh(first.refresh)).json().code, 'token_revoked')
    assert.equal((await h.refresh(first.refresh)).json().code, 'token_revoked')
    assertLimited(await h.refresh(first.refresh), 60)
  })

  test('limits: 200 successful refreshes in a rotation chain from one address, with grace replays, are never limited', async () => {
    const h = await limitHarness({ REFRESH_RATE_LIMIT: '5/60' })
    await h.server.addUser('alice', 'alice-password-1')
    let pair = (await h.login('alice', 'alice-password-1')).json() as { refresh: string }
    for (let i = 0; i < 200; i++) {
      const res = await h.refresh(pair.refresh)
      assert.equal(res.status, 200, `refresh ${i}: ${res.body}`)
      // Every tenth step a second tab presents the same token within grace: a success too.
      if (i % 10 === 0) assert.equal((await h.refresh(pair.refresh)).status, 200)
      pair = res.json() as { refresh: string }
    }
  })
})

describe('limits: shared between instances', () => {
  test('limits: counters live in the session store, so two instances on one store share them', async () => {
    const store = createMemoryStore()
    const clock = createFakeClock(Date.now())
    const users = createMemoryUserStore()
    const env = { LOGIN_RATE_LIMIT: '5/60', LOGIN_RATE_LIMIT_IP: 'off', REFRESH_RATE_LIMIT: '4/60' }
    const one = await limitHarness(env, { store, clock, users })
    const two = await limitHarness(env, { store, clock, users })
    await one.server.addUser('alice', 'alice-password-1')
    for (let i = 0; i < 3; i++) assert.equal((await one.login('alice', 'wrong')).status, 401)
    for (let i = 0; i < 2; i++) assert.equal((await two.login('alice', 'wrong')).status, 401)
    assertLimited(await one.login('alice', 'wrong'), 60)
    assertLimited(await two.login('alice', 'alice-password-1'), 60)
    for (let i = 0; i < 3; i++) assert.equal((await one.refresh('bad')).status, 401)
    // The fourth failure is counted by the other instance, which then blocks the address.
    assert.equal((await two.refresh('bad')).status, 401)
    assertLimited(await two.refresh('bad'), 60)
  })
})

describe('limits: unknown users and wrong passwords', () => {
  test('limits: an unknown user and a wrong password give the same answer and both pay one scrypt verification', async () => {
    const h = await limitHarness({ LOGIN_RATE_LIMIT: 'off', LOGIN_RATE_LIMIT_IP: 'off' })
    await h.server.addUser('alice', 'alice-password-1')
    const pick = (r: Res) => ({
      status: r.status,
      body: r.body,
      type: r.headers['content-type'],
      auth: r.headers['www-authenticate'],
      cache: r.headers['cache-control'],
    })
    const wrong = await h.login('alice', 'wrong-password')
    assert.deepEqual(h.verifications, ['wrong-password'])
    const unknown = await h.login('mallory', 'wrong-password')
    assert.deepEqual(h.verifications, ['wrong-password', 'wrong-password'])
    assert.deepEqual(pick(wrong), pick(unknown))
    assert.equal(wrong.json().code, 'invalid_credentials')
    // A name that cannot exist (not NFKC) is looked up as unknown: same answer, same cost.
    const odd = await h.login('ａｄｍｉｎ\u0000', 'wrong-password')
    assert.deepEqual(pick(odd), pick(wrong))
    assert.equal(h.verifications.length, 3)
  })
})

describe('limits: request size', () => {
  let server: TestServer
  afterEach(async () => {
    await server?.close()
  })

  /** One request over a real socket with Node's client (fetch refuses some of these headers). */
  function raw(port: number, headers: Record<string, string>, body = ''): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: body === '' ? 'GET' : 'POST', path: '/api/me/', headers }, (res) => {
        let text = ''
        res.on('data', (c: Buffer) => (text += c.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      })
      req.on('error', reject)
      req.end(body)
    })
  }

  test('limits: request headers over the limit get 431 with a JSON body (real socket)', async () => {
    server = await createTestServer()
    await server.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = server.app.server.address() as AddressInfo
    const res = await raw(port, { 'x-filler': 'a'.repeat(20_000) })
    assert.equal(res.status, 431)
    assert.deepEqual(JSON.parse(res.body), { detail: 'Request headers are too large.', code: 'request_header_fields_too_large' })
    const many: Record<string, string> = {}
    for (let i = 0; i < 400; i++) many[`x-h${i}`] = 'v'.repeat(40)
    assert.equal((await raw(port, many)).status, 431)
    // Just under the limit is served normally.
    assert.equal((await raw(port, { 'x-filler': 'a'.repeat(12_000) })).status, 401)
  })

  test('limits: a body over the limit gets 413 payload_too_large (real socket), at the limit it is parsed', async () => {
    server = await createTestServer({ BATON_BODY_LIMIT: '4096' })
    await server.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = server.app.server.address() as AddressInfo
    const post = (body: string) =>
      fetch(`http://127.0.0.1:${port}/api/auth/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    const big = await post(JSON.stringify({ username: 'a', password: 'p'.repeat(5_000) }))
    assert.equal(big.status, 413)
    assert.equal((await big.json()).code, 'payload_too_large')
    const fits = await post(JSON.stringify({ username: 'a', password: 'p'.repeat(1_000) }))
    assert.equal(fits.status, 401)
  })
})
