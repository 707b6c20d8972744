import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import pino from 'pino'
import { guardStore } from '../../src/store/guard.js'
import { createRedisStore } from '../../src/store/redis.js'
import { startRedisServer, waitFor, type RedisServer } from '../helpers/redis-server.js'
import { describeStoreContract } from './contract.js'

const PASSWORD = 'tls-test-pw-77'
/** Generous: the store's deadline is 500 ms; this only catches a hang. */
const FAIL_FAST_MS = 3_000

let redis: RedisServer

before(async () => {
  redis = await startRedisServer({ tls: true, password: PASSWORD })
})
after(async () => {
  await redis.stop()
})

const tlsURL = (): string => `rediss://default:${PASSWORD}@127.0.0.1:${redis.port}`

describeStoreContract('redis over TLS', async () => {
  const store = createRedisStore({ url: tlsURL(), tlsCA: redis.tls!.ca })
  await store.ready(5_000)
  return store
})

describe('redis TLS', () => {
  test('tls: plain redis:// against the TLS port fails fast and keeps failing fast, never hangs', async (t) => {
    const store = createRedisStore({ url: `redis://default:${PASSWORD}@127.0.0.1:${redis.port}` })
    t.after(() => store.close())
    for (let i = 0; i < 3; i++) {
      const start = performance.now()
      await assert.rejects(store.ping())
      assert.ok(performance.now() - start < FAIL_FAST_MS)
    }
    await assert.rejects(store.ready(1_500), /not ready/)
  })

  test('tls: rediss:// with a CA that did not sign the certificate is refused, and the log says why', async (t) => {
    let text = ''
    const log = pino(
      new Writable({
        write(chunk, _enc, done) {
          text += String(chunk)
          done()
        },
      }),
    )
    // Any valid CA other than the server's: the system store does not know the test CA either.
    const store = createRedisStore({ url: tlsURL(), log })
    // Behind the guard, as the server runs it: its store_down line names the cause.
    const guarded = guardStore(store, { timeoutMs: 1_000, address: store.address, log })
    t.after(() => guarded.close())
    await waitFor(
      () =>
        guarded.ping().then(
          () => false,
          () => text.includes('"event":"store_down"'),
        ),
      5_000,
      'the down log line',
    )
    await assert.rejects(store.ping(), /self[- ]signed|unable to (get|verify)|certificate/i)
    const down = text.split('\n').find((l) => l.includes('"event":"store_down"')) ?? ''
    assert.match(down, /self[- ]signed|unable to (get|verify)|certificate/i)
    assert.ok(!text.includes(PASSWORD))
  })

  test('tls: the session record written over TLS reads back through a second connection', async (t) => {
    const a = createRedisStore({ url: tlsURL(), tlsCA: redis.tls!.ca })
    const b = createRedisStore({ url: tlsURL(), tlsCA: redis.tls!.ca })
    t.after(() => Promise.all([a.close(), b.close()]))
    await Promise.all([a.ready(5_000), b.ready(5_000)])
    const id = randomBytes(16).toString('base64url')
    const T0 = Date.UTC(2026, 0, 1)
    await a.createSession({
      id,
      userId: 'u1',
      jti: 'j1',
      now: T0,
      expiresAt: T0 + 60_000,
      absoluteExpiresAt: T0 + 120_000,
      userAgent: null,
      ip: null,
    })
    assert.equal((await b.getSession(id, T0))?.currentJti, 'j1')
  })
})
