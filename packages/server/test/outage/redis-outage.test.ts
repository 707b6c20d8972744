import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createRedisStore } from '../../src/store/redis.js'
import { startFaultProxy } from '../helpers/fault-proxy.js'
import { type TestServer, createTestServer } from '../helpers/make-server.js'
import { type RedisServer, freePort, startRedisServer, waitFor } from '../helpers/redis-server.js'

/**
 * SPEC §4 against a real redis-server that each test starts, kills, pauses and restarts.
 * Every expected failure is a 503 `store_unavailable` with `Retry-After`, within the deadline;
 * recovery needs no restart. Timing bounds are generous on purpose: tests never fail on speed,
 * they fail on hangs and on wrong answers.
 */

const TIMEOUT_MS = 300
/** A request that waits on a dead store may take the deadline plus scheduling noise; never seconds. */
const HANG = 3_000

async function server(redisURL: string, env: Record<string, string> = {}): Promise<TestServer> {
  const s = await createTestServer({ BATON_STORE: 'redis', REDIS_URL: redisURL, STORE_TIMEOUT_MS: String(TIMEOUT_MS), ...env })
  after(() => s.close())
  return s
}

async function redis(options: Parameters<typeof startRedisServer>[0] = {}): Promise<RedisServer> {
  const r = await startRedisServer(options)
  after(() => r.stop())
  return r
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now()
  const value = await fn()
  return { value, ms: performance.now() - start }
}

function assert503(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, what: string): void {
  assert.equal(res.statusCode, 503, `${what}: status`)
  assert.equal((res.json() as { code: string }).code, 'store_unavailable', `${what}: code`)
  assert.ok(Number(res.headers['retry-after']) >= 1, `${what}: Retry-After`)
}

async function waitUntilOK(s: TestServer, refresh: string): Promise<{ access: string; refresh: string }> {
  let out: { access: string; refresh: string } | undefined
  await waitFor(
    async () => {
      const res = await s.post('/api/auth/refresh/', { refresh })
      if (res.statusCode === 200) out = res.json()
      else assert.equal(res.statusCode, 503, `while recovering only 503 is acceptable, got ${res.statusCode} ${res.body}`)
      return res.statusCode === 200
    },
    15_000,
    'refresh to succeed again',
  )
  return out!
}

describe('outage: Redis absent at boot', () => {
  test('outage: the server starts, /readyz is 503, auth answers 503; once Redis starts the same refresh token works without a restart', async () => {
    const r = await redis({ aof: true })
    const first = await server(r.url)
    await first.addUser('alice', 'pw-alice-123')
    const tokens = await first.login('alice', 'pw-alice-123')
    await first.close()
    await r.kill()

    // A new instance boots while Redis is down.
    const s = await server(r.url)
    await s.addUser('alice', 'pw-alice-123') // the same user id in this instance's user store
    const ready = await s.get('/readyz')
    assert.equal(ready.statusCode, 503)
    assert.equal(ready.json().store.kind, 'redis')
    for (const [what, res] of [
      ['login', await s.post('/api/auth/token/', { username: 'alice', password: 'pw-alice-123' })],
      ['refresh', await s.post('/api/auth/refresh/', { refresh: tokens.refresh })],
      ['logout', await s.post('/api/auth/logout/', { refresh: tokens.refresh })],
    ] as const)
      assert503(res, what)
    // Protected routes need no store.
    assert.equal((await s.get('/api/me/', tokens.access)).statusCode, 200)

    await r.restart()
    const started = performance.now()
    const next = await waitUntilOK(s, tokens.refresh)
    const recoveryMs = performance.now() - started
    assert.ok(next.refresh !== tokens.refresh)
    assert.equal((await s.get('/readyz')).statusCode, 200)
    console.log(`# recovery after Redis accepted connections: ${Math.round(recoveryMs)} ms`)
  })

  test('outage: REDIS_URL set and unreachable never falls back to the embedded store', async () => {
    const port = await freePort()
    const s = await server(`redis://127.0.0.1:${port}`)
    const ready = await s.get('/readyz')
    assert.equal(ready.statusCode, 503)
    assert.equal(ready.json().store.kind, 'redis')
    assert.equal(s.deps.store.kind, 'redis')
    await s.addUser('bob', 'pw-bob-12345')
    assert503(await s.post('/api/auth/token/', { username: 'bob', password: 'pw-bob-12345' }), 'login')
  })
})

describe('outage: Redis killed mid-traffic and restarted (AOF)', () => {
  test('outage: only 200 or 503 meanwhile, each within the deadline; recovery without restart; nothing lost', async () => {
    const r = await redis({ aof: true })
    const rawStore = createRedisStore({ url: r.url, timeoutMs: TIMEOUT_MS })
    await rawStore.ready(2_000)
    const s = await createTestServer({ STORE_TIMEOUT_MS: String(TIMEOUT_MS) }, { store: rawStore })
    after(() => s.close())
    await s.addUser('carol', 'pw-carol-123')
    const chains = await Promise.all(Array.from({ length: 8 }, () => s.login('carol', 'pw-carol-123')))
    let refreshes = chains.map((c) => c.refresh)
    const statuses = new Map<number, number>()
    let slowest = 0

    async function round(): Promise<void> {
      await Promise.all(
        refreshes.map(async (refresh, i) => {
          const { value: res, ms } = await timed(() => s.post('/api/auth/refresh/', { refresh }))
          slowest = Math.max(slowest, ms)
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
          if (res.statusCode === 200) refreshes[i] = res.json().refresh
          else assert503(res, 'refresh during outage')
        }),
      )
    }

    for (let i = 0; i < 5; i++) await round()
    await r.kill()
    for (let i = 0; i < 10; i++) await round()
    assert.ok((statuses.get(503) ?? 0) > 0, 'the outage was seen')
    assert.ok(slowest < HANG, `no request hung (slowest ${Math.round(slowest)} ms)`)
    // No queue builds up while Redis is down (SPEC §4: no offline queue): every command of the
    // ten outage rounds was failed, none is still held by the client.
    assert.equal(rawStore.pendingCommands(), 0)

    await r.restart()
    // Every chain continues from the last token it received: nothing committed was lost.
    for (let i = 0; i < refreshes.length; i++) {
      const next = await waitUntilOK(s, refreshes[i]!)
      refreshes[i] = next.refresh
    }
    assert.deepEqual([...statuses.keys()].sort(), [200, 503])
    const logs = s.logs
    assert.equal(logs.filter((l) => l.event === 'store_down').length, 1, 'store_down logged once')
    assert.equal(logs.filter((l) => l.event === 'store_recovered').length, 1, 'store_recovered logged once')
    const failure = logs.find((l) => l.event === 'store_error') as {
      operation: string
      address: string
      sid: string
      sub: string
      err: { type: string; message: string }
    }
    assert.ok(failure, 'a failed operation is logged with its cause')
    assert.equal(failure.operation, 'rotate')
    // The audit event of SPEC §3.5: the session and the user of the refresh that failed.
    assert.match(failure.sid, /^s_/)
    assert.equal(typeof failure.sub, 'string')
    assert.ok(failure.sub.length > 0)
    assert.match(failure.address, /^redis:\/\/127\.0\.0\.1:\d+/)
    assert.ok(failure.err.message.length > 0)
  })
})

describe('outage: Redis frozen and black-holed', () => {
  test('outage: SIGSTOP gives 503 within the deadline, and recovery after SIGCONT', async () => {
    const r = await redis()
    const s = await server(r.url)
    await s.addUser('dave', 'pw-dave-1234')
    const t = await s.login('dave', 'pw-dave-1234')
    r.pause()
    try {
      const { value: res, ms } = await timed(() => s.post('/api/auth/refresh/', { refresh: t.refresh }))
      assert503(res, 'refresh while frozen')
      assert.ok(ms < HANG, `answered in ${Math.round(ms)} ms`)
      assert.equal((await s.get('/api/me/', t.access)).statusCode, 200, 'protected route still answers')
    } finally {
      r.resume()
    }
    await waitUntilOK(s, t.refresh)
  })

  test('outage: a black-hole proxy (accepts, never answers) gives 503 within the deadline, then recovery', async () => {
    const r = await redis()
    const proxy = await startFaultProxy({ port: r.port })
    after(() => proxy.close())
    const s = await server(`redis://127.0.0.1:${proxy.port}`)
    await s.addUser('erin', 'pw-erin-1234')
    const t = await s.login('erin', 'pw-erin-1234')
    proxy.setMode('blackhole')
    const results = []
    for (let i = 0; i < 5; i++) results.push(await timed(() => s.post('/api/auth/refresh/', { refresh: t.refresh })))
    for (const { value, ms } of results) {
      assert503(value, 'refresh into a black hole')
      assert.ok(ms < HANG, `answered in ${Math.round(ms)} ms`)
    }
    // Once the circuit is open, answers come without waiting for the deadline.
    const last = results.at(-1)!
    assert.ok(last.ms < TIMEOUT_MS, `open circuit answers at once (${Math.round(last.ms)} ms)`)
    proxy.setMode('pass')
    await waitUntilOK(s, t.refresh)
  })
})

describe('outage: Redis refusing writes', () => {
  let r: RedisServer
  // Started in a hook, so stopped by the suite's own hook (an `after` inside `before` would
  // run as soon as `before` returns).
  before(async () => {
    r = await startRedisServer({
      users: [{ name: 'reader', password: 'reader-pass-1', rules: '~* &* +@all -@write -evalsha -eval -evalsha_ro -fcall' }],
    })
  })
  after(() => r.stop())

  test('outage: read-only replica (REPLICAOF a dead port) gives 503 with the cause logged; logout is 503, not 200', async () => {
    const s = await server(r.url)
    await s.addUser('fay', 'pw-fay-12345')
    const t = await s.login('fay', 'pw-fay-12345')
    const dead = await freePort()
    await r.command('REPLICAOF', '127.0.0.1', dead)
    try {
      assert503(await s.post('/api/auth/refresh/', { refresh: t.refresh }), 'refresh on a replica')
      assert503(await s.post('/api/auth/logout/', { refresh: t.refresh }), 'logout on a replica')
      const line = s.logs.find((l) => l.event === 'store_error') as { err: { message: string } } | undefined
      assert.ok(line, 'the cause is logged')
      assert.match(line.err.message, /READONLY/)
    } finally {
      await r.command('REPLICAOF', 'NO', 'ONE')
    }
    // The session was never revoked: the same token works once the primary is writable.
    await waitUntilOK(s, t.refresh)
  })

  test('outage: out of memory (maxmemory 1, noeviction) gives 503 with OOM logged', async () => {
    const s = await server(r.url)
    await s.addUser('gus', 'pw-gus-12345')
    const t = await s.login('gus', 'pw-gus-12345')
    await r.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
    await r.command('CONFIG', 'SET', 'maxmemory', '1')
    try {
      assert503(await s.post('/api/auth/token/', { username: 'gus', password: 'pw-gus-12345' }), 'login when OOM')
      const line = s.logs.find((l) => l.event === 'store_error') as { err: { message: string } } | undefined
      assert.ok(line)
      assert.match(line.err.message, /OOM/)
    } finally {
      await r.command('CONFIG', 'SET', 'maxmemory', '0')
    }
    await waitUntilOK(s, t.refresh)
  })

  test('outage: a user whose ACL denies writes gets 503 with NOPERM logged', async () => {
    const s = await server(`redis://reader:reader-pass-1@127.0.0.1:${r.port}`)
    await s.addUser('hal', 'pw-hal-12345')
    const res = await s.post('/api/auth/token/', { username: 'hal', password: 'pw-hal-12345' })
    assert503(res, 'login with a read-only ACL user')
    const line = s.logs.find((l) => l.event === 'store_error') as { err: { message: string } } | undefined
    assert.ok(line)
    assert.match(line.err.message, /NOPERM/)
    assert.ok(!s.logText().includes('reader-pass-1'), 'the password is never logged')
  })
})

describe('outage: a write whose reply was lost', () => {
  test('outage: CLIENT PAUSE WRITE longer than the deadline gives 503; the retry inside grace gets the same successor, the session stays valid', async () => {
    const r = await redis()
    const s = await server(r.url)
    await s.addUser('ida', 'pw-ida-12345')
    const t = await s.login('ida', 'pw-ida-12345')
    await r.command('CLIENT', 'PAUSE', String(TIMEOUT_MS * 3), 'WRITE')
    const lost = await s.post('/api/auth/refresh/', { refresh: t.refresh })
    assert503(lost, 'refresh while writes are paused')
    // The paused rotation runs when the pause ends; the client retries with the same token.
    const retried = await waitUntilOK(s, t.refresh)
    const again = await s.post('/api/auth/refresh/', { refresh: t.refresh })
    assert.equal(again.statusCode, 200, 'still inside grace')
    // The same successor (SPEC §3.2): same header and claims; ES256 signatures differ each time.
    const signed = (token: string) => token.slice(0, token.lastIndexOf('.'))
    assert.equal(signed(again.json().refresh), signed(retried.refresh), 'the same successor')
    const next = await s.post('/api/auth/refresh/', { refresh: retried.refresh })
    assert.equal(next.statusCode, 200, 'the successor rotates: the session was not revoked')
  })
})

describe('outage: protected routes', () => {
  test('outage: stateless mode answers 200 with a valid access token while Redis is down; revocation-check mode answers 503', async () => {
    const r = await redis()
    const stateless = await server(r.url)
    const checked = await server(r.url, { BATON_REVOCATION_CHECK: 'true' })
    await stateless.addUser('jo', 'pw-jo-123456')
    await checked.addUser('jo', 'pw-jo-123456')
    const a = await stateless.login('jo', 'pw-jo-123456')
    const b = await checked.login('jo', 'pw-jo-123456')
    assert.equal((await checked.get('/api/me/', b.access)).statusCode, 200)
    await r.kill()
    checked.clock.advance(2_000) // past the one-second session cache
    assert.equal((await stateless.get('/api/me/', a.access)).statusCode, 200)
    assert503(await checked.get('/api/me/', b.access), 'revocation check with the store down')
    await r.restart()
  })
})

describe('outage: data loss is fail-safe', () => {
  test('outage: after Redis restarts empty, a logged-out refresh token is still refused, and so is every other', async () => {
    const r = await redis({ aof: false })
    const s = await server(r.url)
    await s.addUser('kim', 'pw-kim-12345')
    const out = await s.login('kim', 'pw-kim-12345')
    const live = await s.login('kim', 'pw-kim-12345')
    assert.equal((await s.post('/api/auth/logout/', { refresh: out.refresh })).statusCode, 200)
    await r.restart() // no persistence: everything is gone
    for (const refresh of [out.refresh, live.refresh]) {
      let res = await s.post('/api/auth/refresh/', { refresh })
      await waitFor(
        async () => {
          res = await s.post('/api/auth/refresh/', { refresh })
          return res.statusCode !== 503
        },
        15_000,
        'store back',
      )
      assert.equal(res.statusCode, 401)
      assert.equal(res.json().code, 'token_not_valid')
    }
  })
})

describe('outage: two instances sharing one Redis', () => {
  test('outage: rotate on one, replay the old token on the other after grace → token_reused, and the first sees the session revoked at once', async () => {
    const r = await redis()
    const a = await server(r.url)
    const b = await server(r.url, {})
    b.clock.set(a.clock.now())
    await a.addUser('lee', 'pw-lee-12345')
    const t = await a.login('lee', 'pw-lee-12345')
    const rotated = await a.post('/api/auth/refresh/', { refresh: t.refresh })
    assert.equal(rotated.statusCode, 200)
    b.clock.advance(16_000)
    a.clock.advance(16_000)
    const replay = await b.post('/api/auth/refresh/', { refresh: t.refresh })
    assert.equal(replay.statusCode, 401)
    assert.equal(replay.json().code, 'token_reused')
    const successor = await a.post('/api/auth/refresh/', { refresh: rotated.json().refresh })
    assert.equal(successor.statusCode, 401)
    assert.equal(successor.json().code, 'token_revoked')
  })
})
