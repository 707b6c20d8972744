import { Cluster, Redis, ReplyError, type ClusterOptions, type RedisOptions } from 'ioredis'
import type { Logger } from 'pino'
import type { RedisURLParts } from '../redis-url.js'
import { describeError, scrubError } from '../secrets.js'
import { silenceIoredisDebug } from '../store/ioredis-debug.js'
import { quietPasswordNotRequired } from './redis-auth.js'
import { clearSocketTimeoutOnClose } from './redis-socket-timeout.js'
import { sinkLaterStreamErrors } from './redis-stream-errors.js'
import type { RecordValues } from './redis-records.js'
import {
  CREATE_SESSION_LUA,
  INCREMENT_COUNTER_LUA,
  INDEX_ADD_LUA,
  USER_MARK_LUA,
  MIGRATE_LUA,
  RELEASE_COUNTER_LUA,
  REVOKE_LUA,
  ROTATE_LUA,
  TOUCH_LUA,
} from './redis-scripts.js'

/**
 * Builds the ioredis client (standalone, TLS, Sentinel or Cluster) from a parsed Redis URL.
 * ioredis owns the connection: it connects, times out a connection attempt (`connectTimeout`),
 * drops a socket that stopped answering (`socketTimeout`: a frozen server, a black-holed route,
 * a TLS port spoken to in plain text), reconnects with our backoff (`retryStrategy`) and after a
 * failover demoted the primary (`reconnectOnError`). Nothing here decides whether the store is up:
 * that is the guard's (store/guard.ts), from the answers commands get.
 */

/** Reconnect backoff cap: a Redis that comes back is used again within about a second (SPEC §4). */
const MAX_RECONNECT_DELAY_MS = 1_000

/** The Lua scripts, as ioredis's `defineCommand` adds them to the client. */
interface Scripts {
  batonCreateSession(key: string, ...args: string[]): Promise<number>
  batonRotate(key: string, ...args: string[]): Promise<[string, RecordValues?]>
  batonMigrate(key: string, ...args: string[]): Promise<[string, RecordValues?]>
  batonTouch(key: string, ...args: string[]): Promise<[string, RecordValues?]>
  batonRevoke(key: string, now: string): Promise<number>
  batonIndexAdd(key: string, ...args: string[]): Promise<number>
  batonUserMark(key: string, now: string, ttlMs: string): Promise<number>
  batonIncrementCounter(key: string, ...args: string[]): Promise<[number, number]>
  batonReleaseCounter(key: string, resetAt: string): Promise<number>
}

export type RedisClient = (Redis | Cluster) & Scripts

export interface RedisConnectionOptions {
  /** The Redis URL's parts (redis-url.ts `parseRedisURL`). Sentinel: only user, password, db, TLS. */
  target: RedisURLParts
  cluster?: { nodes: string[] } | undefined
  sentinel?: { sentinels: { host: string; port: number }[]; name: string; password?: string } | undefined
  tlsCA?: string | undefined
  /** Per-command deadline in ms; connection deadlines derive from it. */
  timeoutMs: number
  log?: Logger | undefined
}

export interface RedisConnection {
  client: RedisClient
  /** The address for logs, password masked: `rediss://default:****@host:6380`. */
  address: string
  /** Every secret the connection holds, for `maskSecrets`/`scrubError`. */
  secrets: string[]
  /** Why the connection is down, masked (`Error ECONNREFUSED: …`); `null` while it is up. */
  lastConnectionError(): string | null
  /** A command was answered: the connection works, so an older error is no cause any more. */
  answered(): void
}

/**
 * A READONLY error reply: the node became a replica (a failover demoted our primary). Redis's
 * error replies start with their error code (`-READONLY You can't write against a read only
 * replica.`); that code is Redis's own, documented way to tell error kinds apart, and ioredis
 * hands it over unchanged in a `ReplyError` (its README's `reconnectOnError` example looks for
 * the same code). A typed check first, so a client-side error never matches by its text.
 */
export function isReadOnlyReply(err: unknown): boolean {
  return isReplyError(err) && err.message.startsWith('READONLY')
}

/** An error reply from Redis itself (`-ERR …`, `-NOPERM …`), as opposed to a client-side failure. */
export function isReplyError(err: unknown): err is Error {
  return err instanceof ReplyError
}

/** Creates the client and starts connecting in the background; never throws, never waits. */
export function openRedisConnection(options: RedisConnectionOptions): RedisConnection {
  const { target, timeoutMs, log } = options
  // DEBUG=ioredis:* would print AUTH's password in clear (issue 6): for applications that
  // embed baton without its CLI, the store keeps ioredis's debug output off itself.
  if (silenceIoredisDebug()) log?.warn('DEBUG turns on ioredis debug output, which prints the Redis password; ioredis:* is left off')
  const secrets = [target.password ?? '', options.sentinel?.password ?? ''].filter((s) => s !== '')
  let lastError: string | null = null
  let readOnlyReconnectAt = -Infinity
  const tls = target.tls ? (options.tlsCA === undefined ? {} : { ca: options.tlsCA }) : undefined
  const common: RedisOptions = {
    ...(target.username === null ? {} : { username: target.username }),
    ...(target.password === null || target.password === '' ? {} : { password: target.password }),
    ...(tls === undefined ? {} : { tls }),
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(1_000, 4 * timeoutMs),
    // No byte back for this long while commands wait (the ready check included): the socket is
    // dead, not slow; ioredis destroys it, fails what waits, and reconnects.
    socketTimeout: Math.max(1_000, 2 * timeoutMs),
    retryStrategy: reconnectDelay,
    // A failover turned our primary into a replica: reconnect (Sentinel asks for the new
    // primary; a DNS endpoint resolves again). The failed command is not resent: the caller
    // gets the error now, and a retry from the client is safe (grace answers it).
    // At most once a second, so a node that stays read-only is not reconnected per request.
    reconnectOnError: (err) => {
      if (!isReadOnlyReply(err)) return false
      if (performance.now() - readOnlyReconnectAt < 1_000) return false
      readOnlyReconnectAt = performance.now()
      lastError = describeError(scrubError(err, secrets))
      return 1
    },
  }

  const { client, address } = build(options, common)
  for (const [name, lua] of [
    ['batonCreateSession', CREATE_SESSION_LUA],
    ['batonRotate', ROTATE_LUA],
    ['batonMigrate', MIGRATE_LUA],
    ['batonTouch', TOUCH_LUA],
    ['batonRevoke', REVOKE_LUA],
    ['batonIndexAdd', INDEX_ADD_LUA],
    ['batonUserMark', USER_MARK_LUA],
    ['batonIncrementCounter', INCREMENT_COUNTER_LUA],
    ['batonReleaseCounter', RELEASE_COUNTER_LUA],
  ] as const) {
    client.defineCommand(name, { numberOfKeys: 1, lua })
  }

  // Without an 'error' listener ioredis errors would be unhandled. The last one (masked) is
  // the cause a "not connected" failure names; the guard logs it with the failure.
  const remember = (err: unknown): void => {
    lastError = describeError(scrubError(err, secrets))
  }
  client.on('error', remember)
  client.on('node error', remember)
  client.on('ready', () => {
    lastError = null
    // Each (re)connection, for operators following a failover; up and down are the guard's.
    log?.info({ store: address }, 'redis connected')
  })

  // A password Redis does not require: ioredis would print a raw "[WARN] ..." line (not JSON)
  // on every connect; the start-up self-check logs one JSON warning instead. That check cannot
  // reach a Sentinel's primary, so with Sentinel the store says it, once.
  let warned = options.sentinel === undefined
  const quieted = (): void => {
    if (warned) return
    warned = true
    log?.warn(
      { event: 'redis_password_not_required', address },
      'the URL carries a password but the Redis primary has none configured: anyone who reaches it can read and write sessions',
    )
  }
  const hook = (node: Redis): void => {
    quietPasswordNotRequired(node, quieted)
    clearSocketTimeoutOnClose(node)
    sinkLaterStreamErrors(node)
  }
  if (client instanceof Redis) hook(client)
  else client.on('+node', hook)
  // lazyConnect keeps connecting out of the constructor; start now, without waiting.
  client.connect().catch(() => undefined)
  return {
    client,
    address,
    secrets,
    lastConnectionError: () => lastError,
    answered: () => {
      lastError = null
    },
  }
}

function build(options: RedisConnectionOptions, common: RedisOptions): { client: RedisClient; address: string } {
  const { target, timeoutMs } = options
  if (options.cluster !== undefined) {
    const seeds = [{ host: target.host, port: target.port }, ...options.cluster.nodes.map(parseHostPort)]
    const clusterOptions: ClusterOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      scaleReads: 'master',
      clusterRetryStrategy: reconnectDelay,
      slotsRefreshTimeout: Math.max(1_000, 2 * timeoutMs),
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      redisOptions: common,
    }
    return { client: new Cluster(seeds, clusterOptions) as RedisClient, address: `${redisAddress(target)} (cluster)` }
  }
  if (options.sentinel !== undefined) {
    const { sentinels, name, password } = options.sentinel
    const client = new Redis({
      ...common,
      sentinels,
      name,
      role: 'master',
      db: target.db,
      ...(password === undefined ? {} : { sentinelPassword: password }),
      enableTLSForSentinelMode: target.tls,
      sentinelCommandTimeout: timeoutMs,
      sentinelRetryStrategy: reconnectDelay,
      // Hear `+switch-master` from the sentinels and move at once, not at the next error.
      failoverDetector: true,
    }) as RedisClient
    const at = sentinels.map((s) => `${s.host}:${s.port}`).join(',')
    return { client, address: `sentinel ${name}@${at} (${redisAddress({ ...target, host: name, port: 0 })})` }
  }
  const client = new Redis({ ...common, host: target.host, port: target.port, db: target.db }) as RedisClient
  return { client, address: redisAddress(target) }
}

function reconnectDelay(attempt: number): number {
  // 100, 200, 400, 800, then 1000 ms, jittered down so app servers do not reconnect in step.
  const base = Math.min(100 * 2 ** Math.min(attempt - 1, 10), MAX_RECONNECT_DELAY_MS)
  return Math.round(base * (0.75 + Math.random() * 0.25))
}

/** The address shown in logs: built from the parts, so it never holds the password. */
function redisAddress(t: RedisURLParts): string {
  const user = t.username ?? ''
  const auth = t.password === null || t.password === '' ? (user === '' ? '' : `${user}@`) : `${user || 'default'}:****@`
  const host = t.host.includes(':') ? `[${t.host}]` : t.host
  const port = t.port === 0 ? '' : `:${t.port}`
  const db = t.db === 0 ? '' : `/${t.db}`
  return `${t.tls ? 'rediss' : 'redis'}://${auth}${host}${port}${db}`
}

function parseHostPort(hostPort: string): { host: string; port: number } {
  const at = hostPort.lastIndexOf(':')
  if (at <= 0) return { host: hostPort, port: 6379 }
  return { host: hostPort.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(hostPort.slice(at + 1)) }
}
