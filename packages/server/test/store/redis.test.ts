import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { after, before, describe, test, type TestContext } from 'node:test'
import pino from 'pino'
import { createRedisStore, sessionKey, userKey, type RedisStore, type RedisStoreOptions } from '../../src/store/redis.js'
import type { NewSession } from '../../src/store/types.js'
import { guardStore, type GuardedStore } from '../../src/store/guard.js'
import { maskSecrets, scrubError } from '../../src/secrets.js'
import { compactUserAgent } from '../../src/http/user-agent.js'
import { startFaultProxy } from '../helpers/fault-proxy.js'
import { startRedisServer, waitFor, type RedisServer } from '../helpers/redis-server.js'
import { parseCommands, REDIS_ERRORS, reply, startRespMockServer } from '../helpers/resp-mock-server.js'
import { describeStoreContract } from './contract.js'

const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE
const T0 = Date.UTC(2026, 0, 1)
/** Generous: the store's deadline is 500 ms; this only catches a hang, never a slow CI box. */
const FAIL_FAST_MS = 3_000
const CHROME_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

let redis: RedisServer

before(async () => {
  redis = await startRedisServer()
})
after(async () => {
  await redis.stop()
})

/** Ids as baton makes them: 16 random bytes, base64url. */
const newId = (): string => randomBytes(16).toString('base64url')
/** Refresh-token jtis as baton makes them (tokens/jwt.ts newRefreshJti): 12 random bytes. */
const newJti = (): string => randomBytes(12).toString('base64url')

async function openStore(
  t: TestContext | null,
  url: string,
  extra: Omit<Partial<RedisStoreOptions>, 'url' | 'target'> = {},
  waitReady = true,
): Promise<RedisStore> {
  const store = createRedisStore({ url, ...extra })
  if (t !== null) t.after(() => store.close())
  if (waitReady) await store.ready(5_000)
  return store
}

function session(overrides: Partial<NewSession> = {}): NewSession {
  return {
    id: newId(),
    userId: newId(),
    jti: newJti(),
    nextJti: newJti(),
    now: T0,
    expiresAt: T0 + DAY,
    absoluteExpiresAt: T0 + 30 * DAY,
    userAgent: CHROME_UA,
    ip: '203.0.113.7',
    ...overrides,
  }
}

/** A rotation as baton asks for one: a next successor and a spare (RotateInput). */
function rotation(s: NewSession, jti: string, now: number) {
  return { id: s.id, jti, newJti: newJti(), spareJti: newJti(), now, graceMs: 15_000, refreshLifetimeMs: DAY }
}

/** Resolves with how long `run` took to settle, and how (never waits past `FAIL_FAST_MS` + a bit). */
async function timed(run: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const start = performance.now()
  try {
    await run()
    return { ms: performance.now() - start, error: null }
  } catch (error) {
    return { ms: performance.now() - start, error }
  }
}

function logCapture(): {
  log: pino.Logger
  lines: () => Record<string, unknown>[]
  text: () => string
} {
  let text = ''
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk)
      done()
    },
  })
  return {
    log: pino({ level: 'debug' }, stream),
    lines: () =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => text,
  }
}

/**
 * `store` behind the guard, as the server runs it: up, down and their log lines (`store_down`,
 * `store_recovered`, one each per outage) are the guard's, the store has none of its own.
 */
function guarded(t: TestContext, store: RedisStore, log: pino.Logger): GuardedStore {
  const guard = guardStore(store, { timeoutMs: 1_000, address: store.address, log })
  t.after(() => guard.close())
  return guard
}

/** The guard's up/down events, in order. */
function upDown(lines: Record<string, unknown>[]): unknown[] {
  return lines.map((l) => l.event).filter((e) => e === 'store_down' || e === 'store_recovered')
}

/** A redis-server of the test's own, a store on it logging to `lines`, and one session in it. */
async function oneSessionOnOwnServer(t: TestContext) {
  const server = await startRedisServer()
  t.after(() => server.stop())
  const { log, lines } = logCapture()
  const store = await openStore(t, server.url, { log })
  const s = session()
  await store.createSession(s)
  return { server, store, lines, log, s }
}

describeStoreContract(
  'redis',
  async () => {
    const store = createRedisStore({ url: redis.url })
    await store.ready(5_000)
    return store
  },
  {
    // What a failover to a replica that missed the last writes leaves: the key as it was.
    async snapshot(id) {
      const key = sessionKey(id)
      const admin = redis.client()
      const [dump, ttl] = await Promise.all([admin.dumpBuffer(key), admin.pttl(key)])
      admin.disconnect()
      return async () => {
        const again = redis.client()
        await again.restore(key, ttl, dump!, 'REPLACE')
        again.disconnect()
      }
    },
  },
)

describe('redis store', () => {
  test('rotate: 50 concurrent presentations through 5 connections give one rotation and 49 grace answers', async (t) => {
    const stores = await Promise.all(Array.from({ length: 5 }, () => openStore(t, redis.url)))
    const s = session()
    await stores[0]!.createSession(s)
    const outs = await Promise.all(Array.from({ length: 50 }, (_, i) => stores[i % 5]!.rotate(rotation(s, s.jti, T0 + MINUTE))))
    assert.equal(outs.filter((o) => o.kind === 'rotated').length, 1)
    assert.equal(outs.filter((o) => o.kind === 'grace').length, 49)
    const successors = new Set(outs.map((o) => ('session' in o ? o.session.currentJti : null)))
    assert.equal(successors.size, 1)
    assert.equal((await stores[1]!.getSession(s.id, T0 + MINUTE))?.generation, 2)
  })

  test('rotate: exactly one command (an EVALSHA) goes to Redis per rotation', async (t) => {
    // Counted on the wire by a proxy, and by Redis (commandstats also counts the commands the
    // script runs inside Redis, so it shows evalsha = N plus those, and never an EVAL reload).
    let pending: Buffer = Buffer.alloc(0)
    const sent: string[][] = []
    const proxy = await startFaultProxy({
      port: redis.port,
      tap: (direction, chunk) => {
        if (direction !== 'toUpstream') return
        const { commands, rest } = parseCommands(Buffer.concat([pending, chunk]))
        sent.push(...commands)
        pending = rest
      },
    })
    t.after(() => proxy.close())
    const store = await openStore(t, `redis://127.0.0.1:${proxy.port}`)
    const s = session()
    await store.createSession(s)
    // Warm up: the first script call on a connection is an EVAL that loads it.
    let out = await store.rotate(rotation(s, s.jti, T0 + 1))
    assert.ok(out.kind === 'rotated')
    const admin = redis.client()
    t.after(() => admin.disconnect())
    await admin.config('RESETSTAT')
    sent.length = 0
    const N = 200
    for (let i = 0; i < N; i++) {
      out = await store.rotate(rotation(s, out.session.currentJti, T0 + 2 + i))
      assert.ok(out.kind === 'rotated')
    }
    const names = sent.map((c) => String(c[0]).toUpperCase())
    t.diagnostic(`commands sent for ${N} rotations: ${names.length} (${[...new Set(names)].join(', ')})`)
    assert.equal(names.length, N)
    assert.ok(names.every((n) => n === 'EVALSHA'))
    const stats = parseCommandStats(String(await admin.info('commandstats')))
    assert.equal(stats.evalsha, N)
    assert.equal(stats.eval, undefined)
  })

  test('rotate: works again after SCRIPT FLUSH (NOSCRIPT reloads the script)', async (t) => {
    const store = await openStore(t, redis.url)
    const s = session()
    await store.createSession(s)
    const first = await store.rotate(rotation(s, s.jti, T0 + 1))
    assert.ok(first.kind === 'rotated')
    await redis.command('SCRIPT', 'FLUSH')
    const second = await store.rotate(rotation(s, first.session.currentJti, T0 + 2))
    assert.equal(second.kind, 'rotated')
  })

  test('storage: a rotated session with a browser user agent stays under 400 bytes, 450 with its share of the user index (MEMORY USAGE)', async (t) => {
    const store = await openStore(t, redis.url)
    const admin = redis.client()
    t.after(() => admin.disconnect())
    // A user's first session: the index key is all its own (issue 5 counts bytes per session).
    const measure = async (userAgent: string | null, more: Partial<NewSession> = {}) => {
      const s = session({ userAgent, userId: String(1000 + Math.floor(Math.random() * 9000)), ip: '203.0.113.7', ...more })
      await store.createSession(s)
      const out = await store.rotate(rotation(s, s.jti, T0 + MINUTE))
      assert.ok(out.kind === 'rotated')
      assert.equal(out.session.userAgent, userAgent)
      const key = sessionKey(s.id)
      assert.equal(await admin.object('ENCODING', key), 'listpack')
      const hash = Number(await admin.memory('USAGE', key, 'SAMPLES', '0'))
      const index = Number(await admin.memory('USAGE', userKey(s.userId), 'SAMPLES', '0'))
      return { hash, index, total: hash + index }
    }
    // What the HTTP layer stores (http/user-agent.ts drops the boilerplate), and the raw string.
    const compacted = await measure(compactUserAgent(CHROME_UA))
    const raw = await measure(CHROME_UA)
    const none = await measure(null)
    // Bring-your-own-users ids can be long (a 22-character id here), addresses IPv6.
    const long = await measure(compactUserAgent(CHROME_UA), { userId: newId(), ip: '2001:db8:85a3::8a2e:370:7334' })
    t.diagnostic(
      `MEMORY USAGE per session, hash + user index (4-digit user id, IPv4): ${compacted.hash} + ${compacted.index} with the compacted user agent, ${raw.hash} + ${raw.index} with the raw ${CHROME_UA.length}-char one, ${none.hash} + ${none.index} without; 22-char user id and IPv6: ${long.hash} + ${long.index}`,
    )
    // The session hash is what each session costs; the index key is per user (the numbers here
    // are a user's first session; each further session adds its id and score, ~32 bytes).
    for (const m of [compacted, none, long]) assert.ok(m.hash < 400, `${m.hash} bytes`)
    assert.ok(compacted.total < 450, `${compacted.total} bytes`)
    assert.ok(raw.hash < 450, `${raw.hash} bytes`)
  })

  test('storage: a session hash in the earlier format (epoch times, old key) is not found, never misread', async (t) => {
    const store = await openStore(t, redis.url)
    const admin = redis.client()
    t.after(() => admin.disconnect())
    const s = session()
    // What the store wrote before times became offsets from `ca`: read as offsets, `e` and `ae`
    // would land decades ahead and the absolute lifetime would never end.
    const old = `baton:{${s.id}}:session`
    await admin.hset(old, { u: s.userId, c: s.jti, g: '1', ci: T0, ca: T0, lu: T0, e: s.expiresAt, ae: s.absoluteExpiresAt })
    await admin.pexpire(old, DAY)
    assert.notEqual(sessionKey(s.id), old)
    assert.equal(await store.getSession(s.id, T0 + 1), null)
    assert.deepEqual(await store.rotate(rotation(s, s.jti, T0 + 1)), { kind: 'not_found' })
    assert.equal(await store.revokeSession(s.id, T0 + 1), false)
    assert.equal(await admin.exists(sessionKey(s.id)), 0)
  })

  test('storage: a user agent is bounded to 512 bytes and multi-byte text survives the split', async (t) => {
    const store = await openStore(t, redis.url)
    const s = session({ userAgent: 'é'.repeat(40) + '🙂'.repeat(20) + 'x'.repeat(2_000) })
    const created = await store.createSession(s)
    const read = await store.getSession(s.id, T0)
    assert.equal(read?.userAgent, created.userAgent)
    assert.ok(Buffer.byteLength(created.userAgent ?? '') <= 512)
    assert.ok(created.userAgent?.startsWith('é'.repeat(40) + '🙂'.repeat(20)))
  })

  test('storage: every key baton writes has a TTL, and a session key ends with its session', async (t) => {
    const server = await startRedisServer()
    t.after(() => server.stop())
    const store = await openStore(t, server.url)
    const s = session()
    await store.createSession(s)
    const short = session({ userId: s.userId, expiresAt: T0 + MINUTE })
    await store.createSession(short)
    const out = await store.rotate(rotation(s, s.jti, T0 + 1))
    assert.ok(out.kind === 'rotated')
    await store.rotate(rotation(s, s.jti, T0 + 2)) // grace
    await store.touch({ id: short.id, jti: short.jti, now: T0 + 3 })
    await store.revokeSession(short.id, T0 + 4)
    await store.revokeUserSessions(s.userId, T0 + 5)
    await store.listUserSessions(s.userId, T0 + 6)
    await store.incrementCounter('login:alice', MINUTE, T0)
    const admin = server.client()
    t.after(() => admin.disconnect())
    const keys = await admin.keys('*')
    assert.equal(keys.length, 4, keys.join(' '))
    for (const key of keys) {
      const ttl = await admin.pttl(key)
      assert.ok(ttl > 0, `${key} has no TTL (${ttl})`)
    }
    // The session key lives as long as its record (T0+1 + a day) plus a 10 s margin, no more.
    const ttl = await admin.pttl(sessionKey(s.id))
    assert.ok(ttl <= DAY - 1 + 10_000 && ttl > DAY - 60_000, String(ttl))
    assert.ok((await admin.pttl(sessionKey(short.id))) <= MINUTE + 10_000)
    // The user index lives as long as its longest absolute expiry.
    assert.ok((await admin.pttl(userKey(s.userId))) <= 30 * DAY + 10_000)
  })

  test('storage: Redis holds ids and times only, never a token string', async (t) => {
    const server = await startRedisServer()
    t.after(() => server.stop())
    const store = await openStore(t, server.url)
    const s = session()
    // What a refresh token looks like on the wire: the store must never see one.
    const token = `eyJhbGciOiJFZERTQSJ9.${Buffer.from(JSON.stringify({ jti: s.jti, sid: s.id })).toString('base64url')}.c2lnbmF0dXJl`
    await store.createSession(s)
    const out = await store.rotate(rotation(s, s.jti, T0 + 1))
    assert.ok(out.kind === 'rotated')
    const admin = server.client()
    t.after(() => admin.disconnect())
    const allowed = new Set([s.id, s.userId, s.jti, out.session.currentJti, out.session.nextJti, s.ip])
    const values: string[] = []
    for (const key of await admin.keys('*')) {
      const type = await admin.type(key)
      if (type === 'hash') values.push(...Object.values(await admin.hgetall(key)))
      else if (type === 'zset') values.push(...(await admin.zrange(key, 0, -1)))
      else assert.fail(`unexpected ${type} key ${key}`)
    }
    const ua = values.filter((v) => CHROME_UA.includes(v) && !/^\d+$/.test(v)).join('')
    assert.equal(ua, CHROME_UA)
    for (const v of values) {
      assert.ok(allowed.has(v) || /^\d+$/.test(v) || CHROME_UA.includes(v), `unexpected value ${v}`)
      assert.ok(!v.includes(token) && !v.includes('.c2ln') && !v.startsWith('eyJ'), `token-like value ${v}`)
    }
  })

  test('rotate: p50 latency over 3000 sequential rotations on loopback is under 5 ms (reported)', async (t) => {
    const store = await openStore(t, redis.url)
    const s = session()
    await store.createSession(s)
    let jti = s.jti
    const times: number[] = []
    for (let i = 0; i < 3_000; i++) {
      const start = performance.now()
      const out = await store.rotate(rotation(s, jti, T0 + i + 1))
      times.push(performance.now() - start)
      assert.ok(out.kind === 'rotated')
      jti = out.session.currentJti
    }
    times.sort((a, b) => a - b)
    const p = (q: number): string => (times[Math.floor(q * (times.length - 1))] as number).toFixed(3)
    t.diagnostic(`rotate latency ms: p50 ${p(0.5)} p90 ${p(0.9)} p99 ${p(0.99)}`)
    assert.ok(Number(p(0.5)) < 5)
  })
})

describe('redis store outages', () => {
  test('outage: a store made while Redis is down constructs, fails fast, and connects once Redis is back', async (t) => {
    const server = await startRedisServer({ aof: true })
    t.after(() => server.stop())
    await server.kill()
    const { log, lines } = logCapture()
    const store = guarded(t, await openStore(t, server.url, { log }, false), log)
    for (let i = 0; i < 3; i++) {
      const { ms, error } = await timed(() => store.rotate(rotation(session(), 'j', T0)))
      assert.ok(error instanceof Error, 'rotate must fail while Redis is down')
      assert.ok(ms < FAIL_FAST_MS, `failed after ${ms} ms`)
    }
    await server.restart()
    await waitFor(() => store.ping().then(() => true), 5_000, 'store to connect')
    const s = session()
    await store.createSession(s)
    assert.equal((await store.rotate(rotation(s, s.jti, T0 + 1))).kind, 'rotated')
    assert.deepEqual(upDown(lines()), ['store_down', 'store_recovered'])
    // The store logs no up/down of its own ("redis down" was a second line for one outage).
    assert.ok(!lines().some((l) => l.msg === 'redis down' || l.msg === 'redis recovered'))
    assert.match(String(lines().find((l) => l.event === 'store_down')?.cause), /^RedisNotConnectedError/)
  })

  test('outage: a killed Redis fails commands fast; after a restart with AOF the session rotates on', async (t) => {
    const server = await startRedisServer({ aof: true })
    t.after(() => server.stop())
    const store = await openStore(t, server.url)
    const s = session()
    await store.createSession(s)
    const first = await store.rotate(rotation(s, s.jti, T0 + 1))
    assert.ok(first.kind === 'rotated')
    await server.kill()
    const { ms, error } = await timed(() => store.rotate(rotation(s, first.session.currentJti, T0 + 2)))
    assert.ok(error instanceof Error)
    assert.ok(ms < FAIL_FAST_MS, `failed after ${ms} ms`)
    await server.restart()
    await waitFor(() => store.ping().then(() => true), 5_000, 'store to reconnect')
    // Nothing committed is lost: the rotation before the crash holds.
    const next = await store.rotate(rotation(s, first.session.currentJti, T0 + 3))
    assert.equal(next.kind, 'rotated')
  })

  test('outage: a paused Redis fails each command within the timeout, and the store recovers on resume', async (t) => {
    const server = await startRedisServer()
    t.after(() => server.stop())
    const store = await openStore(t, server.url, { timeoutMs: 300 })
    const s = session()
    await store.createSession(s)
    server.pause()
    t.after(() => server.resume())
    for (let i = 0; i < 4; i++) {
      const { ms, error } = await timed(() => store.rotate(rotation(s, s.jti, T0 + 1)))
      assert.ok(error instanceof Error, 'rotate must fail while Redis is paused')
      assert.ok(ms < FAIL_FAST_MS, `failed after ${ms} ms`)
    }
    server.resume()
    await waitFor(() => store.ping().then(() => true), 5_000, 'store to recover')
    const out = await store.rotate(rotation(s, s.jti, T0 + 2))
    // The rotation sent while paused may have run once Redis resumed: either outcome is consistent.
    assert.ok(out.kind === 'rotated' || out.kind === 'grace', out.kind)
  })

  test('outage: a black-holed connection fails within the timeout, and the store recovers when traffic flows', async (t) => {
    const proxy = await startFaultProxy({ port: redis.port })
    t.after(() => proxy.close())
    const store = await openStore(t, `redis://127.0.0.1:${proxy.port}`, { timeoutMs: 300 })
    const s = session()
    await store.createSession(s)
    const before = proxy.accepted
    proxy.setMode('blackhole')
    for (let i = 0; i < 4; i++) {
      const { ms, error } = await timed(() => store.getSession(s.id, T0))
      assert.ok(error instanceof Error)
      assert.ok(ms < FAIL_FAST_MS, `failed after ${ms} ms`)
    }
    // A socket that answers nothing is dropped and a new one opened (ioredis's socketTimeout),
    // rather than kept while every command waits out its deadline.
    await waitFor(() => proxy.accepted > before, 5_000, 'the silent socket to be replaced')
    proxy.setMode('pass')
    await waitFor(() => store.ping().then(() => true), 5_000, 'store to recover')
    assert.equal((await store.rotate(rotation(s, s.jti, T0 + 1))).kind, 'rotated')
  })

  test('outage: reset connections fail fast; state changes are logged once each, not per retry', async (t) => {
    const proxy = await startFaultProxy({ port: redis.port })
    t.after(() => proxy.close())
    const { log, lines, text } = logCapture()
    const raw = await openStore(t, `redis://:not-a-real-secret@127.0.0.1:${proxy.port}`, { log })
    const store = guarded(t, raw, log)
    const s = session()
    await store.createSession(s)
    const before = proxy.accepted
    proxy.setMode('reset')
    for (let i = 0; i < 3; i++) {
      const { ms, error } = await timed(() => store.rotate(rotation(s, s.jti, T0 + 1)))
      assert.ok(error instanceof Error)
      assert.ok(ms < FAIL_FAST_MS, `failed after ${ms} ms`)
    }
    // Several reconnect attempts, each reset, and the guard's probe failing meanwhile: still
    // one store_down.
    await waitFor(() => proxy.accepted >= before + 3, 5_000, 'three reconnect attempts')
    proxy.setMode('pass')
    await waitFor(() => store.ping().then(() => true), 5_000, 'store to recover')
    assert.deepEqual(upDown(lines()), ['store_down', 'store_recovered'])
    assert.equal(lines().filter((l) => l.event === 'store_error').length, 3, 'one line per failed operation, none per retry')
    const down = lines().find((l) => l.event === 'store_down')
    assert.equal(raw.address, `redis://default:****@127.0.0.1:${proxy.port}`)
    assert.equal(down?.address, raw.address)
    // The real cause: the connection was reset, not "stream not writeable".
    assert.match(String(down?.cause), /ECONNRESET|Connection is closed/)
    assert.ok(!text().includes('not-a-real-secret'))
  })

  test('outage: a reset with a command waiting costs one reconnect, not a second one when its socketTimeout would have fired (ioredis#2147)', async (t) => {
    const proxy = await startFaultProxy({ port: redis.port })
    t.after(() => proxy.close())
    const { log, lines } = logCapture()
    // socketTimeout is 1 s here (the 1 s floor): the stale timer would fire about 1 s after the ping.
    const store = await openStore(t, `redis://127.0.0.1:${proxy.port}`, { log, timeoutMs: 300 })
    proxy.setMode({ latencyMs: 200 })
    const waiting = store.ping().catch(() => 'failed')
    await new Promise((r) => setTimeout(r, 50))
    proxy.setMode('reset')
    await new Promise((r) => setTimeout(r, 100))
    proxy.setMode('pass')
    assert.equal(await waiting, 'failed')
    await store.ready(5_000)
    await new Promise((r) => setTimeout(r, 1_500))
    const connected = lines().filter((l) => l.msg === 'redis connected').length
    assert.equal(connected, 2, 'the first connection and one reconnect')
    assert.ok(typeof (await store.ping()) === 'number')
  })

  test('outage: a store connecting into a black hole (its ready check never answered) starts over, and is ready once traffic flows', async (t) => {
    const proxy = await startFaultProxy({ port: redis.port })
    t.after(() => proxy.close())
    proxy.setMode('blackhole')
    // No store-side timer any more: ioredis's own deadlines (the ready check's commandTimeout,
    // socketTimeout) drop the silent socket.
    const store = await openStore(t, `redis://127.0.0.1:${proxy.port}`, { timeoutMs: 300 }, false)
    await assert.rejects(store.ready(1_000), /not ready/)
    await waitFor(() => proxy.accepted >= 2, 5_000, 'a second connection attempt')
    const { ms, error } = await timed(() => store.ping())
    assert.ok(error instanceof Error && ms < FAIL_FAST_MS)
    proxy.setMode('pass')
    await store.ready(5_000)
    assert.equal(typeof (await store.ping()), 'number')
  })

  test('readonly: after REPLICAOF a dead primary, rotate throws READONLY (no hang), ping fails, and all works after REPLICAOF NO ONE', async (t) => {
    const { server, store: raw, lines, log, s } = await oneSessionOnOwnServer(t)
    const store = guarded(t, raw, log)
    const dead = await startRedisServer()
    await dead.stop()
    await server.command('REPLICAOF', '127.0.0.1', dead.port)
    const first = await timed(() => raw.rotate(rotation(s, s.jti, T0 + 1)))
    assert.ok(first.error instanceof Error, 'rotate must fail on a replica')
    assert.match(first.error.message, /^READONLY/)
    for (let i = 0; i < 5; i++) {
      // Later calls meet READONLY again, or the reconnect it caused: both fail fast.
      const { ms, error } = await timed(() => store.rotate(rotation(s, s.jti, T0 + 1)))
      assert.ok(error instanceof Error, 'rotate must fail on a replica')
      assert.ok(ms < FAIL_FAST_MS, `failed after ${ms} ms`)
      // A replica answers PING; the store's ping probes with a write and so fails too.
      await assert.rejects(store.ping())
      await assert.rejects(raw.ping())
    }
    await server.command('REPLICAOF', 'NO', 'ONE')
    await waitFor(() => store.ping().then(() => true), 5_000, 'ping to pass on the primary again')
    assert.equal((await store.rotate(rotation(s, s.jti, T0 + 2))).kind, 'rotated')
    assert.deepEqual(upDown(lines()), ['store_down', 'store_recovered'])
    assert.match(String(lines().find((l) => l.event === 'store_down')?.cause), /READONLY/)
  })
})

describe('redis store errors', () => {
  test('errors: -READONLY, -OOM, -NOPERM and -NOAUTH replies reject rotate with that reply', async (t) => {
    const mock = await startRespMockServer()
    t.after(() => mock.close())
    const store = await openStore(t, mock.url)
    for (const message of [REDIS_ERRORS.readonly, REDIS_ERRORS.oom, REDIS_ERRORS.noperm, REDIS_ERRORS.noauth]) {
      mock.script({
        EVAL: reply.error(message),
        EVALSHA: reply.error(message),
        DEL: reply.integer(0),
      })
      // READONLY makes the store reconnect, then ping with a write (DEL): wait for an answer.
      await waitFor(() => store.ping().then(() => true), 5_000, 'store to reconnect')
      const { ms, error } = await timed(() => store.rotate(rotation(session(), 'j', T0)))
      assert.ok(error instanceof Error)
      assert.equal(error.message, message)
      assert.ok(ms < FAIL_FAST_MS)
    }
  })

  test('errors: a server that never answers fails rotate within the timeout; a dropped connection fails it at once', async (t) => {
    const mock = await startRespMockServer()
    t.after(() => mock.close())
    const store = await openStore(t, mock.url, { timeoutMs: 200 })
    mock.script({ EVAL: reply.hang(), EVALSHA: reply.hang() })
    const hung = await timed(() => store.rotate(rotation(session(), 'j', T0)))
    assert.ok(hung.error instanceof Error)
    assert.match(hung.error.message, /timed out/)
    assert.ok(hung.ms >= 150 && hung.ms < FAIL_FAST_MS, `${hung.ms} ms`)
    mock.script({ EVAL: reply.disconnect(), EVALSHA: reply.disconnect() })
    mock.dropConnections()
    await store.ready(5_000)
    const dropped = await timed(() => store.rotate(rotation(session(), 'j', T0)))
    assert.ok(dropped.error instanceof Error)
    assert.ok(dropped.ms < FAIL_FAST_MS)
  })

  test('errors: a wrong password never appears in errors or logs; the address is masked', async (t) => {
    const server = await startRedisServer({ password: 'correct-horse-battery' })
    t.after(() => server.stop())
    const { log, text } = logCapture()
    const secret = 'wrong-pass-0451'
    const raw = await openStore(t, `redis://default:${secret}@127.0.0.1:${server.port}`, { log }, false)
    const store = guarded(t, raw, log)
    // The guard's down line names the refusal (the store's "not connected" carries it).
    await waitFor(
      () =>
        store.ping().then(
          () => false,
          () => /"event":"store_down".*WRONGPASS/.test(text()),
        ),
      5_000,
      'the down log line',
    )
    const { error } = await timed(() => raw.ping())
    assert.ok(error instanceof Error)
    assert.match(error.message, /WRONGPASS/)
    const dump = `${error.message} ${error.stack} ${JSON.stringify(error)} ${text()}`
    assert.ok(!dump.includes(secret), dump)
    assert.ok(text().includes('WRONGPASS'), text())
    assert.equal(raw.address, `redis://default:****@127.0.0.1:${server.port}`)
  })

  test('errors: an invalid URL throws a TypeError that does not echo the URL', () => {
    assert.throws(
      () => createRedisStore({ url: 'redis://:pass-1234@host:99999' }),
      (err: Error) => err instanceof TypeError && !`${err.message}${err.stack}${JSON.stringify(err)}`.includes('pass-1234'),
    )
  })

  test('errors: scrubError masks URLs, known secrets and ioredis command arguments', () => {
    const err = Object.assign(new Error('connect to redis://bob:hunter22@10.0.0.1:6379 failed (hunter22)'), {
      command: { name: 'auth', args: ['bob', 'hunter22'] },
    })
    const scrubbed = scrubError(err, ['hunter22'])
    assert.ok(!JSON.stringify({ ...scrubbed, message: scrubbed.message, stack: scrubbed.stack }).includes('hunter22'))
    assert.deepEqual((scrubbed as Error & { command: unknown }).command, { name: 'auth' })
    assert.equal(maskSecrets('rediss://u:p%40ss@h:1', []), 'rediss://u:****@h:1')
  })

  test('acl: a username and password in the URL authenticate; a user without scripting gets NOPERM', async (t) => {
    const server = await startRedisServer({
      users: [
        { name: 'baton', password: 'baton-pw-1' },
        { name: 'reader', password: 'reader-pw-1', rules: '~* +@all -@scripting' },
      ],
    })
    t.after(() => server.stop())
    const store = await openStore(t, `redis://baton:baton-pw-1@127.0.0.1:${server.port}`)
    const s = session()
    await store.createSession(s)
    assert.equal((await store.rotate(rotation(s, s.jti, T0 + 1))).kind, 'rotated')
    const reader = await openStore(t, `redis://reader:reader-pw-1@127.0.0.1:${server.port}`)
    const { error } = await timed(() => reader.rotate(rotation(s, s.jti, T0 + 2)))
    assert.ok(error instanceof Error)
    assert.match(error.message, /^NOPERM/)
    assert.ok(!`${error.message}${JSON.stringify(error)}`.includes('reader-pw-1'))
  })
})

function parseCommandStats(info: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of info.split('\r\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line)
    if (m) out[m[1] as string] = Number(m[2])
  }
  return out
}

describe('redis store revocations and replicas', () => {
  test('revoke: with a replica, the revocation is on the replica when revokeSession answers; a replica that does not confirm in time is one warning, the revocation stands, and revocations stop waiting for a while', async (t) => {
    const primary = await startRedisServer()
    t.after(() => primary.stop())
    const replica = await startRedisServer({ replicaOf: { host: '127.0.0.1', port: primary.port } })
    t.after(() => replica.stop())
    await waitFor(
      async () => String(await primary.command('INFO', 'replication')).includes('connected_slaves:1'),
      10_000,
      'replica attached',
    )
    const { log, lines } = logCapture()
    // A generous wait, so that a loaded test machine's live replica still confirms in time.
    const store = await openStore(t, primary.url, { log, timeoutMs: 3_000, replicaWaitMs: 1_500 })
    const onReplica = replica.client()
    t.after(() => onReplica.disconnect())
    const admin = primary.client()
    t.after(() => admin.disconnect())
    const waits = async () => Number(/cmdstat_wait:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0)
    const unreplicated = () => lines().filter((l) => l.event === 'revoke_unreplicated')

    const a = session()
    await store.createSession(a)
    assert.equal(await store.revokeSession(a.id, T0 + 1), true)
    // WAIT 1 returned: the replica has applied the write, whatever its usual lag.
    assert.notEqual(await onReplica.hget(sessionKey(a.id), 'r'), null)

    // Logout everywhere: one confirmation for the node, covering every earlier write.
    const c1 = session()
    const c2 = session({ userId: c1.userId })
    await store.createSession(c1)
    await store.createSession(c2)
    const before = await waits()
    assert.equal(await store.revokeUserSessions(c1.userId, T0 + 3), 2)
    assert.equal(await waits(), before + 1)
    for (const c of [c1, c2]) assert.notEqual(await onReplica.hget(sessionKey(c.id), 'r'), null)
    assert.equal(unreplicated().length, 0)

    // A replica that stops answering (SIGSTOP: its link stays up) cannot confirm.
    const b = session()
    await store.createSession(b)
    replica.pause()
    try {
      assert.equal(await store.revokeSession(b.id, T0 + 1), true)
    } finally {
      replica.resume()
    }
    assert.equal(unreplicated().length, 1)
    assert.equal(unreplicated()[0]!.sid, b.id)
    assert.equal(unreplicated()[0]!.waitMs, 1_500)
    assert.equal((await store.getSession(b.id, T0 + 2))?.revokedAt, T0 + 1)

    // For a while after, revocations do not hold the shared connection: no WAIT, one warning.
    const d = session()
    await store.createSession(d)
    const paused = await waits()
    assert.equal(await store.revokeSession(d.id, T0 + 1), true)
    assert.equal(await waits(), paused)
    assert.equal(unreplicated().length, 2)
    assert.equal(unreplicated()[1]!.waitMs, 0)
  })

  test('revoke: a confirmation that fails (INFO refused by an ACL) is one warning; the revocation stands and revokeSession answers true', async (t) => {
    const server = await startRedisServer({ users: [{ name: 'noinfo', password: 'noinfo-pw-1', rules: '~* &* +@all -info' }] })
    t.after(() => server.stop())
    const { log, lines, text } = logCapture()
    const store = await openStore(t, `redis://noinfo:noinfo-pw-1@127.0.0.1:${server.port}`, { log })
    const s = session()
    await store.createSession(s)
    assert.equal(await store.revokeSession(s.id, T0 + 1), true)
    assert.equal((await store.getSession(s.id, T0 + 2))?.revokedAt, T0 + 1)
    const warnings = lines().filter((l) => l.event === 'revoke_unreplicated')
    assert.equal(warnings.length, 1)
    assert.match(JSON.stringify(warnings[0]!.err), /NOPERM/)
    assert.ok(!text().includes('noinfo-pw-1'))
  })

  test('revoke: without replicas no WAIT is sent (one INFO per revocation) and nothing is logged', async (t) => {
    const { server, store, lines, s } = await oneSessionOnOwnServer(t)
    // One admin connection, ready (its own ready-check INFO sent) before the counters reset.
    const admin = server.client()
    t.after(() => admin.disconnect())
    await admin.ping()
    await admin.config('RESETSTAT')
    assert.equal(await store.revokeSession(s.id, T0 + 1), true)
    assert.equal(await store.revokeSession(s.id, T0 + 2), false) // already revoked: nothing to confirm
    const stats = await admin.info('commandstats')
    assert.match(stats, /cmdstat_info:calls=1,/)
    assert.doesNotMatch(stats, /cmdstat_wait:/)
    assert.equal(lines().filter((l) => l.event === 'revoke_unreplicated').length, 0)
  })
})
