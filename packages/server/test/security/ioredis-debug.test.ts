import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { afterEach, test } from 'node:test'
import { format } from 'node:util'
import pino from 'pino'
import { silenceIoredisDebug } from '../../src/store/ioredis-debug.js'
import { createRedisStore } from '../../src/store/redis.js'
import { startRedisServer } from '../helpers/redis-server.js'

interface Debug {
  log?: (...args: unknown[]) => void
  enabled(ns: string): boolean
  enable(ns: string): void
  disable(): string
}

// The `debug` instance ioredis uses, resolved the way the module under test resolves it.
const require = createRequire(import.meta.url)
const debug = createRequire(require.resolve('ioredis'))('debug') as Debug
const saved = process.env.DEBUG

afterEach(() => {
  debug.disable()
  if (saved === undefined) delete process.env.DEBUG
  else debug.enable(saved)
})

test('silenceIoredisDebug: turns ioredis namespaces off and keeps every other one', () => {
  for (const namespaces of ['ioredis:*', '*', 'io*,express:*', 'ioredis:redis', 'ioredis:connection,app:*']) {
    debug.enable(namespaces)
    assert.equal(debug.enabled('ioredis:redis') || debug.enabled('ioredis:connection'), true, namespaces)
    assert.equal(silenceIoredisDebug(), true, namespaces)
    for (const ns of ['ioredis:redis', 'ioredis:connection', 'ioredis:cluster', 'ioredis:SentinelConnector'])
      assert.equal(debug.enabled(ns), false, `${ns} after ${namespaces}`)
    if (namespaces.includes('app:*')) assert.equal(debug.enabled('app:x'), true)
    if (namespaces === '*') assert.equal(debug.enabled('express:router'), true)
    // Worker processes inherit the filtered value.
    assert.match(process.env.DEBUG ?? '', /-ioredis:\*/)
    // A second call has nothing left to do.
    assert.equal(silenceIoredisDebug(), false)
  }
})

test('silenceIoredisDebug: without DEBUG naming ioredis, changes nothing', () => {
  debug.enable('express:*')
  assert.equal(silenceIoredisDebug(), false)
  assert.equal(debug.enabled('express:router'), true)
  debug.disable()
  assert.equal(silenceIoredisDebug(), false)
})

test('silenceIoredisDebug: a RedisStore built by an embedding application (no CLI) prints no AUTH with DEBUG=ioredis:*', async (t) => {
  const password = 'S3cretPassw0rd'
  const redis = await startRedisServer({ password })
  t.after(() => redis.stop())
  const printed: string[] = []
  debug.log = (...args: unknown[]) => printed.push(format(...args))
  t.after(() => {
    delete debug.log
  })
  debug.enable('ioredis:*')
  assert.equal(debug.enabled('ioredis:redis'), true)
  const lines: string[] = []
  const log = pino({ level: 'debug' }, { write: (l: string) => lines.push(l) })
  const store = createRedisStore({ url: redis.url, log })
  try {
    await store.ready(5_000)
    await store.ping()
  } finally {
    await store.close()
  }
  assert.deepEqual(
    printed.filter((l) => l.includes(password)),
    [],
  )
  assert.deepEqual(
    printed.filter((l) => l.includes('ioredis:')),
    [],
  )
  assert.ok(
    lines.some((l) => l.includes('ioredis debug output')),
    'the store warned once',
  )
  assert.ok(!lines.join('').includes(password))
})
