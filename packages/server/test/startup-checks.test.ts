import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { runStartupChecks } from '../src/startup-checks.js'
import { createTestServer } from './helpers/make-server.js'
import { freePort, startRedisServer } from './helpers/redis-server.js'

test('startup checks: Redis with allkeys-lru and no persistence logs one warning each, with the masked URL and no password', async () => {
  const redis = await startRedisServer({ password: 'startup-s3cret', config: ['maxmemory 64mb', 'maxmemory-policy allkeys-lru'] })
  after(() => redis.stop())
  const s = await createTestServer({ BATON_STORE: 'redis', REDIS_URL: redis.url })
  after(() => s.close())
  await runStartupChecks(s.deps.config, s.deps.store, s.deps.keys, s.deps.log)
  const lines = s.logs.filter((l) => typeof l.check === 'string')
  const byCheck = (name: string) => lines.filter((l) => l.check === name)
  assert.equal(byCheck('store').length, 1)
  assert.equal(typeof byCheck('store')[0]!.latency_ms, 'number')
  assert.equal(byCheck('redis.eviction').length, 1)
  assert.equal(byCheck('redis.eviction')[0]!.level, 40)
  assert.equal(byCheck('redis.persistence').length, 1)
  assert.match(String(byCheck('redis.eviction')[0]!.url), /^redis:\/\/(default)?:\*\*\*\*@127\.0\.0\.1:\d+/)
  assert.ok(!s.logText().includes('startup-s3cret'), 'the password is never logged')
})

test('startup checks: an unreachable store is logged as an error once, and start-up goes on', async () => {
  const port = await freePort()
  const s = await createTestServer({ BATON_STORE: 'redis', REDIS_URL: `redis://127.0.0.1:${port}`, STORE_TIMEOUT_MS: '100' })
  after(() => s.close())
  await runStartupChecks(s.deps.config, s.deps.store, s.deps.keys, s.deps.log)
  const store = s.logs.filter((l) => l.check === 'store')
  assert.equal(store.length, 1)
  assert.equal(store[0]!.level, 50)
  assert.equal(s.logs.filter((l) => l.check === 'redis.tcp').length, 1, 'doctor names the refused connection')
})

test('startup checks: the TLS check trusts the CA that Config read, not process.env.REDIS_TLS_CA_FILE', async () => {
  const redis = await startRedisServer({ tls: true, password: 'startup-s3cret' })
  after(() => redis.stop())
  const s = await createTestServer({ BATON_STORE: 'redis', REDIS_URL: redis.url, REDIS_TLS_CA_FILE: redis.tls!.caFile })
  after(() => s.close())
  // The process environment names another CA file (here one that does not exist): a check that
  // read it would fail the TLS check with "Cannot read the CA file".
  const saved = process.env.REDIS_TLS_CA_FILE
  process.env.REDIS_TLS_CA_FILE = '/nonexistent/startup-ca.pem'
  try {
    await runStartupChecks(s.deps.config, s.deps.store, s.deps.keys, s.deps.log)
  } finally {
    if (saved === undefined) delete process.env.REDIS_TLS_CA_FILE
    else process.env.REDIS_TLS_CA_FILE = saved
  }
  const store = s.logs.filter((l) => l.check === 'store')
  assert.equal(store.length, 1)
  assert.equal(store[0]!.level, 30, 'the store reaches the TLS Redis with the CA from Config')
  const failures = s.logs.filter((l) => typeof l.check === 'string' && l.check.startsWith('redis.') && l.level === 50)
  assert.deepEqual(
    failures.map((l) => `${String(l.check)}: ${String(l.msg)}`),
    [],
    'no self-check fails: the TLS check used the same CA as the store',
  )
  assert.ok(
    s.logs.some((l) => l.check === 'redis.persistence'),
    'the doctor checks ran past TLS',
  )
})
