import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, before, test, type TestContext } from 'node:test'
import { Redis } from 'ioredis'
import { installedIoredisVersion, quietPasswordNotRequired, VERIFIED_IOREDIS_VERSIONS } from '../../src/store/redis-auth.js'
import { clearSocketTimeoutOnClose } from '../../src/store/redis-socket-timeout.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'

let open: RedisServer
let locked: RedisServer

before(async () => {
  ;[open, locked] = await Promise.all([startRedisServer(), startRedisServer({ password: 'locked-s3cret' })])
})
after(async () => {
  await Promise.all([open.stop(), locked.stop()])
})

/** A client with `password` for `server`, disconnected after the test; `connect()` is the caller's. */
function client(t: TestContext, server: RedisServer, password: string): Redis {
  const c = new Redis({
    host: server.host,
    port: server.port,
    password,
    lazyConnect: true,
    retryStrategy: () => 50,
    maxRetriesPerRequest: 0,
  })
  c.on('error', () => {})
  t.after(() => c.disconnect())
  return c
}

/** What was printed with console.warn while the test ran. */
function captureWarnings(t: TestContext): string[] {
  const printed: string[] = []
  t.mock.method(console, 'warn', (...args: unknown[]) => printed.push(args.map(String).join(' ')))
  return printed
}

test('redis auth: without the hook ioredis prints a raw [WARN] line for a password Redis does not require', async (t) => {
  const printed = captureWarnings(t)
  const c = client(t, open, 'not-needed-pw')
  await c.connect()
  assert.equal(await c.ping(), 'PONG')
  assert.equal(printed.length, 1)
  assert.match(printed[0]!, /^\[WARN\] .*does not require a password, but a password was supplied/)
})

test('redis auth: with the hook the connection works as before and nothing is printed, also after a reconnect', async (t) => {
  const printed = captureWarnings(t)
  const c = client(t, open, 'not-needed-pw')
  quietPasswordNotRequired(c)
  await c.connect()
  assert.equal(await c.ping(), 'PONG')
  // Every connection authenticates again: a reconnect would print once more.
  const readyAgain = once(c, 'ready')
  c.disconnect(true)
  await readyAgain
  assert.equal(await c.ping(), 'PONG')
  assert.deepEqual(printed, [])
})

test('redis auth: connections made by duplicate() (Cluster slot refresh) are quiet too', async (t) => {
  const printed = captureWarnings(t)
  const c = client(t, open, 'not-needed-pw')
  quietPasswordNotRequired(c)
  const copy = c.duplicate()
  copy.on('error', () => {})
  t.after(() => copy.disconnect())
  assert.equal(await copy.ping(), 'PONG')
  assert.deepEqual(printed, [])
})

test('redis auth: with the hook a wrong password is still an error, and a right one connects', async (t) => {
  const wrong = client(t, locked, 'wrong-pw')
  quietPasswordNotRequired(wrong)
  const failed = new Promise<Error>((resolve) => wrong.once('error', resolve))
  await wrong.connect().catch(() => undefined)
  assert.match((await failed).message, /WRONGPASS|invalid (username-)?password/)
  const right = client(t, locked, 'locked-s3cret')
  quietPasswordNotRequired(right)
  await right.connect()
  assert.equal(await right.ping(), 'PONG')
})

test('redis auth: the installed ioredis is a version whose handshake the hook was checked against', () => {
  // On an ioredis upgrade: read connectHandler in built/redis/event_handler.js (AUTH sent with a
  // callback, console.warn on "no password is set" / "without any password configured") and
  // setSocketTimeout in built/Redis.js (redis-socket-timeout.ts: gone in ioredis 6, drop the
  // hook), then add the version to VERIFIED_IOREDIS_VERSIONS (store/redis-pinned.ts).
  const version = installedIoredisVersion()
  assert.ok(version !== null, 'ioredis/package.json is readable')
  assert.ok(VERIFIED_IOREDIS_VERSIONS.includes(version), `ioredis ${version} is not among ${VERIFIED_IOREDIS_VERSIONS.join(', ')}`)
  const c = new Redis({ lazyConnect: true })
  assert.equal(quietPasswordNotRequired(c), true)
  assert.equal(clearSocketTimeoutOnClose(c), true)
  c.disconnect()
})
