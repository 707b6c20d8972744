import { Writable } from 'node:stream'
import pino from 'pino'
import { loadConfig } from '../../src/config.js'
import { type BatonServer, type ServerOptions, createServer } from '../../src/index.js'
import { createMetrics } from '../../src/metrics.js'
import { createMemoryStore } from '../../src/store/memory.js'
import { createMemoryUserStore } from '../../src/users/memory.js'
import { hashPassword } from '../../src/users/password.js'
import { type FakeClock, createFakeClock } from './fake-clock.js'

/** Cheap scrypt for tests: the default (2^17) would cost ~0.4 s per hash. */
export const TEST_SCRYPT = { ln: 4, r: 8, p: 1 }

export interface TestServer extends BatonServer {
  clock: FakeClock
  /** Every log line the server wrote, parsed. */
  logs: Record<string, unknown>[]
  /** Everything the logger printed, as text (for secret searches). */
  logText(): string
  /** Registers a user through the store (no HTTP) and answers its id. */
  addUser(username: string, password: string): Promise<string>
  /** POST JSON through `app.inject()`. */
  post(url: string, body: unknown, headers?: Record<string, string>): Promise<Awaited<ReturnType<BatonServer['app']['inject']>>>
  get(url: string, access?: string): Promise<Awaited<ReturnType<BatonServer['app']['inject']>>>
  /** Logs in and answers the token pair. */
  login(username: string, password: string): Promise<{ access: string; refresh: string }>
}

/**
 * A baton server on the memory stores with a fake clock, captured logs and cheap hashing.
 * `env` sets configuration variables as a user would (`BATON_STORE` defaults to memory here).
 */
export async function createTestServer(
  env: Record<string, string> = {},
  options: Omit<ServerOptions, 'config' | 'env' | 'clock' | 'log'> & { clock?: FakeClock } = {},
): Promise<TestServer> {
  const clock = options.clock ?? createFakeClock(Date.now())
  const lines: string[] = []
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk))
      cb()
    },
  })
  const config = loadConfig({
    BATON_STORE: 'memory',
    BATON_DEMO: 'false',
    BATON_DATA_DIR: '/nonexistent-baton-test',
    JWT_SECRET: '',
    ...env,
  })
  const log = pino({ level: config.logLevel === 'info' ? 'debug' : config.logLevel }, destination)
  const users = options.users ?? createMemoryUserStore()
  const server = await createServer({
    config: needsDevKey(config) ? { ...config, privateKey: await testKey(config.algorithm) } : config,
    // A configured store (BATON_STORE=redis/sqlite) is opened by createServer as in production.
    ...(options.store !== undefined ? { store: options.store } : config.store === 'memory' ? { store: createMemoryStore() } : {}),
    users,
    hashPassword: options.hashPassword ?? ((p) => hashPassword(p, TEST_SCRYPT)),
    passwordParams: TEST_SCRYPT,
    clock: clock.now,
    log,
    metrics: options.metrics ?? createMetrics(),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
  })
  const { app } = server
  const test: TestServer = {
    ...server,
    clock,
    get logs() {
      return lines
        .flatMap((l) => l.split('\n'))
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    },
    logText: () => lines.join(''),
    async addUser(username, password) {
      const out = await users.createUser({ username, passwordHash: await hashPassword(password, TEST_SCRYPT), now: clock.now() })
      if (out.kind !== 'created') throw new Error(`user ${username} exists`)
      return out.user.id
    },
    post: (url, body, headers = {}) =>
      app.inject({ method: 'POST', url, payload: body as object, headers: { 'content-type': 'application/json', ...headers } }),
    get: (url, access) => app.inject({ method: 'GET', url, headers: access === undefined ? {} : { authorization: `Bearer ${access}` } }),
    async login(username, password) {
      const res = await test.post('/api/auth/token/', { username, password })
      if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`)
      return res.json()
    },
  }
  return test
}

function needsDevKey(config: ReturnType<typeof loadConfig>): boolean {
  return config.algorithm !== 'HS256' && config.privateKey === null
}

const keyCache = new Map<string, string>()
/** A signing key generated once per test process (never written to the tree). */
async function testKey(alg: string): Promise<string> {
  let key = keyCache.get(alg)
  if (key === undefined) {
    const { generateKey } = await import('../../src/tokens/keys.js')
    const out = await generateKey(alg as 'EdDSA')
    key = JSON.stringify(out.privateJWK)
    keyCache.set(alg, key)
  }
  return key
}
