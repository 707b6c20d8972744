import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApp } from './app.js'
import { createBackgroundTasks } from './background-tasks.js'
import { type Clock, systemClock } from './clock.js'
import { type Config, loadConfig } from './config.js'
import type { Deps } from './deps.js'
import { createLogger } from './log.js'
import { type Metrics, createMetrics } from './metrics.js'
import { parseRedisURL } from './redis-url.js'
import { maskURL } from './secrets.js'
import { withFaultSwitch } from './store/fault-switch.js'
import { type GuardedStore, guardStore } from './store/guard.js'
import type { SessionStore } from './store/types.js'
import { createTokenCodec } from './tokens/jwt.js'
import { keySourceFromConfig, loadKeys } from './tokens/keys.js'
import { createCredentialChecker } from './users/checker.js'
import { openUserStore } from './users/open.js'
import { createDjangoCredentialChecker, isDjangoUserStore } from './users/django-checker.js'
import { DEFAULT_SCRYPT_PARAMS, type ScryptParams, hashPassword } from './users/password.js'
import type { CredentialChecker, UserStore } from './users/types.js'

export type { Config } from './config.js'
export { loadConfig } from './config.js'
export { BatonError, ConfigError, StoreUnavailableError, ERRORS } from './errors.js'
export type { SessionStore, SessionRecord, RotateOutcome } from './store/types.js'
export type { UserStore, CredentialChecker, CheckOptions, User } from './users/types.js'
export { createMemoryStore } from './store/memory.js'
export type { Clock } from './clock.js'

export interface ServerOptions {
  /** Resolved configuration; by default `loadConfig(env)`. */
  config?: Config
  /** Environment to load the configuration from. @default process.env */
  env?: Readonly<Record<string, string | undefined>>
  /** A session store to use instead of the configured one (tests, custom stores). */
  store?: SessionStore
  /** A user store to use instead of the configured one. */
  users?: UserStore
  /**
   * Your own credential check (an application with its own user table): see README. baton then
   * has nowhere to store a new hash, so it re-hashes nothing at login (your checker may).
   */
  credentials?: CredentialChecker
  /** Password hashing for registration; tests pass a cheap one. */
  hashPassword?: (password: string) => Promise<string>
  /**
   * scrypt cost for new hashes and for the unknown-user stand-in hash. A user whose stored hash
   * has other params gets a new hash with these after a successful login. @default OWASP's
   */
  passwordParams?: ScryptParams
  clock?: Clock
  log?: Logger
  metrics?: Metrics
}

export interface BatonServer {
  app: FastifyInstance
  deps: Deps
  /** Stops accepting, lets in-flight requests finish, closes the stores. */
  close(): Promise<void>
}

/**
 * Builds a baton server from configuration: keys, stores, routes. Call `app.listen()` to serve.
 *
 * @example
 * ```ts
 * const { app, close } = await createServer({ env: { BATON_STORE: 'memory' } })
 * await app.listen({ port: 8000 })
 * process.on('SIGTERM', () => void close())
 * ```
 */
export async function createServer(options: ServerOptions = {}): Promise<BatonServer> {
  const config = options.config ?? loadConfig(options.env ?? process.env)
  const clock = options.clock ?? systemClock
  const log =
    options.log ?? createLogger({ level: config.logLevel, pretty: config.mode === 'development' && process.stdout.isTTY === true })
  const metrics = options.metrics ?? createMetrics({ defaults: true })

  const keys = await loadKeys(keySourceFromConfig(config))
  if (keys.devKeyFile !== null)
    log.warn({ file: keys.devKeyFile }, 'using the development signing key kept in the data folder; set JWT_PRIVATE_KEY in production')
  // Issue 17: said once, because replacing the signing key then ends every session (README).
  if (keys.refresh.derived && config.mode === 'production')
    log.info(
      { variable: 'BATON_REFRESH_SECRET', kid: keys.refresh.kid },
      'refresh tokens are authenticated with a key derived from the signing key; set BATON_REFRESH_SECRET before replacing that key',
    )
  // Issue 11: refused in production by loadConfig; in development, said once at start.
  if (config.trustProxy.kind === 'all')
    log.warn(
      { variable: 'BATON_TRUST_PROXY' },
      'BATON_TRUST_PROXY=true trusts every X-Forwarded-For entry, so any client can choose its own address; set the number of proxies (1) or their addresses instead',
    )

  const raw = options.store ?? (await openSessionStore(config, log))
  // The demo's "break the store" control (development only): a switch in front of the store,
  // behind the guard, so the guard alone decides up, down and the circuit (SPEC §4).
  const faulty = config.mode === 'development' && config.demo ? withFaultSwitch(raw) : null
  const store: GuardedStore = guardStore(faulty?.store ?? raw, {
    timeoutMs: config.storeTimeoutMs,
    address: storeAddress(config, raw),
    log,
    metrics,
    clock,
  })
  // The outage spans other instances saved (bounded by STORE_TIMEOUT_MS; none on a store that is down).
  await store.ready

  let users: UserStore | null = options.users ?? null
  if (users === null && options.credentials === undefined) {
    const env = {
      DATABASE_URL: config.databaseURL ?? undefined,
      BATON_DATA_DIR: config.dataDir,
      USER_STORE: config.userStore,
      DJANGO_USER_TABLE: config.djangoUserTable,
      DJANGO_USERNAME_FIELD: config.djangoUsernameField,
    }
    users = await openUserStore(env, { log })
  }
  const params = options.passwordParams ?? config.passwordParams
  if (params.ln < DEFAULT_SCRYPT_PARAMS.ln && config.mode === 'production')
    log.warn(
      { variable: 'PASSWORD_SCRYPT_LN', ln: params.ln, recommended: DEFAULT_SCRYPT_PARAMS.ln },
      'password hashes are cheaper than OWASP recommends for scrypt (N=2^17): a stolen user database is that much faster to crack',
    )
  const background = createBackgroundTasks()
  // SPEC §9: Django's users are checked by Django's rules and never re-hashed.
  const credentials =
    options.credentials ??
    (isDjangoUserStore(users)
      ? createDjangoCredentialChecker(users, { log })
      : createCredentialChecker(users!, {
          params,
          log,
          background,
          onRehash: (outcome) => metrics.passwordRehashes.inc({ outcome }),
        }))

  const deps: Deps = {
    config,
    store,
    users,
    credentials,
    hashPassword: options.hashPassword ?? ((p) => hashPassword(p, params)),
    background,
    keys,
    tokens: createTokenCodec(keys, { issuer: config.issuer, audience: config.audience, leeway: config.leeway, clock }),
    clock,
    log,
    metrics,
    ...(faulty !== null ? { storeFault: faulty.fault } : {}),
  }
  const app = await buildApp(deps)
  let closing: Promise<void> | null = null
  return {
    app,
    deps,
    close() {
      closing ??= (async () => {
        await app.close()
        // A re-hash started by a login that has answered still needs the user store.
        await background.idle()
        await Promise.allSettled([store.close(), users?.close()])
      })()
      return closing
    },
  }
}

/** Opens the configured session store. Redis never falls back to the embedded store (SPEC §5). */
export async function openSessionStore(config: Config, log: Logger): Promise<SessionStore> {
  switch (config.store) {
    case 'memory': {
      const { createMemoryStore } = await import('./store/memory.js')
      return createMemoryStore()
    }
    case 'sqlite': {
      const { createSqliteStore } = await import('./store/sqlite.js')
      return createSqliteStore({ file: join(config.dataDir, 'sessions.db') })
    }
    case 'redis': {
      const redis = config.redis!
      for (const f of redis.findings) log.warn({ finding: f.code }, `REDIS_URL: ${f.message}`)
      const { createRedisStore } = await import('./store/redis.js')
      const store = createRedisStore({
        target: parseRedisURL(redis.url),
        timeoutMs: config.storeTimeoutMs,
        sessionMaxLifetimeMs: config.sessionMaxLifetime * 1000,
        log,
        ...(redis.tlsCA !== null ? { tlsCA: redis.tlsCA } : {}),
        ...(redis.cluster !== null ? { cluster: redis.cluster } : {}),
        ...(redis.sentinel !== null ? { sentinel: redis.sentinel } : {}),
      })
      // Give the first connection a moment so the first requests do not meet a half-open
      // client; an absent Redis is not fatal: the service starts and answers 503 (SPEC §4).
      await store.ready(2_000).catch((err: unknown) => {
        log.error(
          { event: 'store_unreachable_at_start', address: store.address, err },
          'Redis is not reachable at start; answering 503 until it is',
        )
      })
      return store
    }
  }
}

function storeAddress(config: Config, store: SessionStore): string {
  // A store that knows its own masked address (RedisStore) says it best.
  if ('address' in store && typeof store.address === 'string') return store.address
  if (store.kind === 'redis' && config.redis !== null) return maskURL(config.redis.url)
  if (store.kind === 'sqlite') return `sqlite:${join(config.dataDir, 'sessions.db')}`
  return store.kind
}
