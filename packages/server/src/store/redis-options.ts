/** The options of `createRedisStore` (redis.ts): where Redis is, and how the store behaves. */
import type { Logger } from 'pino'
import type { RedisURLParts } from '../redis-url.js'

/** Options of {@link createRedisStore} other than where Redis is. Defaults: {@link DEFAULT_REDIS_STORE_OPTIONS}. */
interface RedisStoreSettings {
  /**
   * Redis Cluster (`REDIS_CLUSTER=1`): the URL's host is a seed; `nodes` are more seeds, `host:port`.
   * @default undefined
   */
  cluster?: { nodes: string[] }
  /**
   * Redis Sentinel (`REDIS_SENTINELS`, `REDIS_SENTINEL_MASTER`, `REDIS_SENTINEL_PASSWORD`):
   * the client asks the sentinels for the primary named `name` and follows failovers. Only the
   * URL's username, password, db and TLS (`rediss://`) are used, for the data nodes.
   * @default undefined
   */
  sentinel?: { sentinels: { host: string; port: number }[]; name: string; password?: string }
  /**
   * PEM text of the CA that signed the server's certificate (`REDIS_TLS_CA_FILE`).
   * @default the system CAs
   */
  tlsCA?: string
  /**
   * How long a session can live (`SESSION_MAX_LIFETIME`): a Cluster's logout-all mark is kept
   * that long (redis-user-marks.ts).
   * @default 30 days
   */
  sessionMaxLifetimeMs?: number
  /**
   * Per-command deadline in ms (`STORE_TIMEOUT_MS`). The guard enforces the same deadline;
   * this one also lets the client drop a connection that stopped answering.
   * @default 500
   */
  timeoutMs?: number
  /**
   * How long a revocation waits for a replica to confirm it (`WAIT 1 <ms>`), where the node has
   * replicas. The wait holds the connection every other command shares, so it is short; after
   * one times out, revocations do not wait for {@link REPLICA_WAIT_PAUSE_MS}.
   * @default the smaller of 100 ms and a quarter of `timeoutMs`
   */
  replicaWaitMs?: number
  /**
   * Each (re)connection ("redis connected") and warnings (`revoke_unreplicated`, a password the
   * server does not need). Up and down are the guard's lines (store/guard.ts), not the store's.
   * @default silent
   */
  log?: Logger
}

/**
 * Where Redis is: `target`, the parts of a `REDIS_URL` that redis-url.ts linted and parsed (as
 * the server passes it), or `url`, such a URL, parsed here (for tests and embedding).
 */
export type RedisStoreOptions = RedisStoreSettings & ({ target: RedisURLParts; url?: never } | { url: string; target?: never })

export const DEFAULT_REDIS_STORE_OPTIONS = {
  timeoutMs: 500,
} as const satisfies RedisStoreSettings
