import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'
import type { Logger } from 'pino'
import { silenceIoredisDebug } from '../security/ioredis-debug.js'
import { describeError, scrubError } from '../secrets.js'
import { quietPasswordNotRequired } from './redis-auth.js'
import { newRecord } from './rotation.js'
import { encodeSpans } from './outage-spans.js'
import {
  CREATE_SESSION_LUA,
  INCREMENT_COUNTER_LUA,
  INDEX_ADD_LUA,
  RECORD_FIELDS,
  RELEASE_COUNTER_LUA,
  REVOKE_LUA,
  MIGRATE_LUA,
  ROTATE_LUA,
  TOUCH_LUA,
} from './redis-scripts.js'
import type {
  Counter,
  NewSession,
  MigrateInput,
  RotateInput,
  RotateOutcome,
  SessionRecord,
  SessionStore,
  TouchInput,
  TouchOutcome,
} from './types.js'

/** Options of {@link createRedisStore}. Each default is in {@link DEFAULT_REDIS_STORE_OPTIONS}. */
export interface RedisStoreOptions {
  /**
   * A `redis://` or `rediss://` URL, already linted (`REDIS_URL`). Standalone: the server.
   * Cluster: one seed node. Sentinel: only the data nodes' username, password, db and TLS
   * (`rediss://`); its host and port are not used.
   */
  url: string
  /**
   * Redis Cluster (`REDIS_CLUSTER=1`): `url` is a seed; `nodes` are more seeds, `host:port`.
   * @default undefined
   */
  cluster?: { nodes: string[] }
  /**
   * Redis Sentinel (`REDIS_SENTINELS`, `REDIS_SENTINEL_MASTER`, `REDIS_SENTINEL_PASSWORD`):
   * the client asks the sentinels for the primary named `name` and follows failovers.
   * @default undefined
   */
  sentinel?: { sentinels: { host: string; port: number }[]; name: string; password?: string }
  /**
   * PEM text of the CA that signed the server's certificate (`REDIS_TLS_CA_FILE`).
   * @default the system CAs
   */
  tlsCA?: string
  /**
   * Per-command deadline in ms (`STORE_TIMEOUT_MS`). The guard enforces the same deadline;
   * this one also lets the client notice a connection that stopped answering.
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
   * Connection state changes ("redis down" / "redis recovered") go here, once each.
   * @default silent
   */
  log?: Logger
}

export const DEFAULT_REDIS_STORE_OPTIONS = {
  timeoutMs: 500,
} as const satisfies Partial<RedisStoreOptions>

/** After a replica failed to confirm a revocation in time, revocations stop waiting this long. */
export const REPLICA_WAIT_PAUSE_MS = 10_000
/** Keys live this long past the expiry they carry: room for clock skew between app servers. */
const TTL_MARGIN_MS = 10_000
/** Reconnect backoff cap: a Redis that comes back is used again within about a second (SPEC §4). */
const MAX_RECONNECT_DELAY_MS = 1_000
/** A hash value over 64 bytes (default `hash-max-listpack-value`) makes the hash ~2x larger. */
const UA_PIECE_BYTES = 64
/** User agents are attacker-chosen: 8 pieces (512 bytes) bound a session's size. */
const UA_MAX_PIECES = 8

/** Deleted (never written) by `ping()` to check a node accepts writes again. */
const PROBE_KEY = 'baton:probe'

/**
 * The session hash's key names its format: the hash of `baton:{<sid>}:session` (before
 * 2026-11-27) held epoch times where this one holds offsets from `ca`, and read as offsets they
 * would put the absolute lifetime decades away. A record in another format is simply not found
 * (the user logs in again), never misread. The next jti `n` (lost-rotation recovery) is an
 * addition, not a new format: a v2 hash without it reads as "no successor chosen" and gets one
 * at its next rotation, and an earlier baton ignores it (a stale `n` it leaves is never in any
 * token, so it names nothing).
 */
/**
 * The field/value pairs of a new session hash (redis-scripts.ts names the fields). Times after
 * `ca` are offsets from it (redis-scripts.ts says why); the user agent is already bounded.
 */
function recordFields(r: {
  userId: string
  jti: string
  nextJti?: string | undefined
  generation: number
  now: number
  expiresAt: number
  absoluteExpiresAt: number
  ip: string | null
  userAgent: string | null
}): string[] {
  // prettier-ignore
  const fields = [
    'u', r.userId,
    'c', r.jti,
    'g', String(r.generation),
    'ca', String(r.now),
    'ci', '0',
    'lu', '0',
    'e', String(r.expiresAt - r.now),
    'ae', String(r.absoluteExpiresAt - r.now),
  ]
  if (r.nextJti !== undefined) fields.push('n', r.nextJti)
  if (r.ip !== null) fields.push('ip', r.ip)
  if (r.userAgent !== null) splitUserAgent(r.userAgent).forEach((piece, i) => fields.push(`a${i}`, piece))
  return fields
}

export const sessionKey = (id: string): string => `baton:{${id}}:session:v2`
/** The user's index of session ids (a sorted set scored by absolute expiry). */
export const userKey = (userId: string): string => `baton:user:{${userId}}`
const counterKey = (key: string): string => `baton:rl:{${key}}`

interface Scripts {
  batonCreateSession(key: string, ...args: string[]): Promise<number>
  batonRotate(key: string, ...args: string[]): Promise<[string, RecordValues?]>
  batonMigrate(key: string, ...args: string[]): Promise<[string, RecordValues?]>
  batonTouch(key: string, ...args: string[]): Promise<[string, RecordValues?]>
  batonRevoke(key: string, now: string): Promise<number>
  batonIndexAdd(key: string, ...args: string[]): Promise<number>
  batonIncrementCounter(key: string, ...args: string[]): Promise<[number, number]>
  batonReleaseCounter(key: string, resetAt: string): Promise<number>
}

type Client = (Redis | Cluster) & Scripts

/** `HMGET key ...RECORD_FIELDS`: one value (or nil) per field, in that order. */
type RecordValues = (string | null)[]
/** Where the user agent's pieces (`a0`…`a7`) start in {@link RecordValues}. */
const UA_FIRST = RECORD_FIELDS.indexOf('a0')

/**
 * A Redis-backed session store (standalone, TLS, Sentinel or Cluster).
 *
 * Posture (SPEC §4): construction never throws and never waits (the server starts with Redis
 * absent); a command while disconnected fails at once (no offline queue, no resend of
 * unanswered commands); each command has a deadline; the client reconnects by itself with a
 * capped backoff, and on `READONLY` (a failover demoted our primary). Errors are thrown as they
 * come, with passwords masked, for `store/guard.ts` to turn into 503s.
 *
 * @example
 * ```ts
 * const store = createRedisStore({ url: 'rediss://default:secret@cache.example:6380', log })
 * await store.ready(2_000).catch(() => log.warn('redis not reachable yet'))
 * ```
 */
export class RedisStore implements SessionStore {
  readonly kind = 'redis'
  /** The store's address for logs, password masked: `rediss://default:****@host:6380`. */
  readonly address: string
  readonly #client: Client
  readonly #secrets: string[]
  readonly #log: Logger | undefined
  readonly #timeoutMs: number
  readonly #replicaWaitMs: number
  /** Whether Sentinel manages this Redis (a primary is then expected to have replicas). */
  readonly #sentinel: boolean
  /** Until then (performance.now()), revocations do not wait for a replica: one just failed to. */
  #replicaWaitPausedUntil = 0
  #state: 'starting' | 'up' | 'down' = 'starting'
  #closed = false
  #lastReplyAt = 0
  #readyTimer: NodeJS.Timeout | null = null
  /** Set by a READONLY answer; cleared once a write succeeds (ping then probes with a write). */
  #readOnly = false
  #readOnlyReconnectAt = -Infinity

  constructor(options: RedisStoreOptions) {
    const target = parseRedisURL(options.url)
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_REDIS_STORE_OPTIONS.timeoutMs
    this.#replicaWaitMs = Math.max(1, options.replicaWaitMs ?? Math.min(100, Math.floor(this.#timeoutMs / 4)))
    this.#log = options.log
    // DEBUG=ioredis:* would print AUTH's password in clear (issue 6): for applications that
    // embed baton without its CLI, the store keeps ioredis's debug output off itself.
    if (silenceIoredisDebug())
      this.#log?.warn(
        'DEBUG turns on ioredis debug output, which prints the Redis password; ioredis:* is left off',
      )
    this.#sentinel = options.sentinel !== undefined
    this.#secrets = [options.url, target.password, options.sentinel?.password ?? ''].filter(
      (s) => s.length >= 3,
    )
    const tls = target.tls ? (options.tlsCA === undefined ? {} : { ca: options.tlsCA }) : undefined
    const common: RedisOptions = {
      ...(target.username === '' ? {} : { username: target.username }),
      ...(target.password === '' ? {} : { password: target.password }),
      ...(tls === undefined ? {} : { tls }),
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: this.#timeoutMs,
      connectTimeout: Math.max(1_000, 4 * this.#timeoutMs),
      retryStrategy: reconnectDelay,
      // A failover turned our primary into a replica: reconnect (Sentinel asks for the new
      // primary; a DNS endpoint resolves again). The failed command is not resent: the caller
      // gets the error now, and a retry from the client is safe (grace answers it).
      // At most once a second, so a node that stays read-only is not reconnected per request.
      reconnectOnError: (err) => {
        if (!err.message.includes('READONLY')) return false
        if (performance.now() - this.#readOnlyReconnectAt < 1_000) return false
        this.#readOnlyReconnectAt = performance.now()
        return 1
      },
    }

    if (options.cluster !== undefined) {
      const seeds = [
        { host: target.host, port: target.port },
        ...options.cluster.nodes.map(parseHostPort),
      ]
      const clusterOptions: ClusterOptions = {
        lazyConnect: true,
        enableOfflineQueue: false,
        scaleReads: 'master',
        clusterRetryStrategy: reconnectDelay,
        slotsRefreshTimeout: Math.max(1_000, 2 * this.#timeoutMs),
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        retryDelayOnTryAgain: 100,
        redisOptions: common,
      }
      this.#client = new Cluster(seeds, clusterOptions) as Client
      this.address = `${maskedURL(target)} (cluster)`
    } else if (options.sentinel !== undefined) {
      const { sentinels, name, password } = options.sentinel
      this.#client = new Redis({
        ...common,
        sentinels,
        name,
        role: 'master',
        db: target.db,
        ...(password === undefined ? {} : { sentinelPassword: password }),
        enableTLSForSentinelMode: target.tls,
        sentinelCommandTimeout: this.#timeoutMs,
        sentinelRetryStrategy: reconnectDelay,
        // Hear `+switch-master` from the sentinels and move at once, not at the next error.
        failoverDetector: true,
      }) as Client
      const at = sentinels.map((s) => `${s.host}:${s.port}`).join(',')
      this.address = `sentinel ${name}@${at} (${maskedURL({ ...target, host: name, port: 0 })})`
    } else {
      this.#client = new Redis({
        ...common,
        host: target.host,
        port: target.port,
        db: target.db,
      }) as Client
      this.address = maskedURL(target)
    }

    const client = this.#client
    client.defineCommand('batonCreateSession', { numberOfKeys: 1, lua: CREATE_SESSION_LUA })
    client.defineCommand('batonRotate', { numberOfKeys: 1, lua: ROTATE_LUA })
    client.defineCommand('batonMigrate', { numberOfKeys: 1, lua: MIGRATE_LUA })
    client.defineCommand('batonTouch', { numberOfKeys: 1, lua: TOUCH_LUA })
    client.defineCommand('batonRevoke', { numberOfKeys: 1, lua: REVOKE_LUA })
    client.defineCommand('batonIndexAdd', { numberOfKeys: 1, lua: INDEX_ADD_LUA })
    client.defineCommand('batonIncrementCounter', { numberOfKeys: 1, lua: INCREMENT_COUNTER_LUA })
    client.defineCommand('batonReleaseCounter', { numberOfKeys: 1, lua: RELEASE_COUNTER_LUA })

    // Without an 'error' listener ioredis errors would be unhandled; log state changes only.
    client.on('error', (err: unknown) => {
      this.#lastConnectionError = describeError(scrubError(err, this.#secrets))
      this.#markDown(err)
    })
    client.on('node error', (err: unknown) => this.#markDown(err))
    client.on('close', () => this.#markDown(null))
    client.on('ready', () => {
      // Connected again, but to a node that refused writes: not "recovered" until one works.
      if (!this.#readOnly) this.#markUp()
    })
    if (client instanceof Redis) {
      // The socket is open but the ready check has no answer (a hung server, a black hole, a
      // TLS port spoken to in plain text): ioredis would wait forever; start over instead.
      client.on('connect', () => {
        this.#clearReadyTimer()
        this.#readyTimer = setTimeout(
          () => {
            if (client.status === 'connect') client.disconnect(true)
          },
          Math.max(1_000, 4 * this.#timeoutMs),
        )
        this.#readyTimer.unref()
      })
      client.on('ready', () => this.#clearReadyTimer())
    }
    // A password Redis does not require: ioredis would print a raw "[WARN] ..." line (not JSON)
    // on every connect; the start-up self-check logs one JSON warning instead. That check cannot
    // reach a Sentinel's primary, so with Sentinel the store says it, once.
    let warned = options.sentinel === undefined
    const quieted = (): void => {
      if (warned) return
      warned = true
      this.#log?.warn(
        { event: 'redis_password_not_required', address: this.address },
        'the URL carries a password but the Redis primary has none configured: anyone who reaches it can read and write sessions',
      )
    }
    if (client instanceof Redis) quietPasswordNotRequired(client, quieted)
    else client.on('+node', (node: Redis) => quietPasswordNotRequired(node, quieted))
    // lazyConnect keeps connecting out of the constructor; start now, without waiting.
    client.connect().catch(() => undefined)
  }

  /** Resolves once connected and ready; rejects (address masked) after `timeoutMs`. */
  /**
   * Commands waiting in the client (queued offline, or sent and unanswered). With no offline
   * queue and a deadline on every command this stays bounded by the requests in flight, also
   * through an outage (SPEC §4: no queue of commands building up). Standalone and Sentinel only.
   */
  pendingCommands(): number {
    const client = this.#client as unknown as { offlineQueue?: { length: number }; commandQueue?: { length: number } }
    return (client.offlineQueue?.length ?? 0) + (client.commandQueue?.length ?? 0)
  }

  async ready(timeoutMs: number): Promise<void> {
    const client = this.#client
    if (client.status === 'ready') return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off('ready', onReady)
        reject(new Error(`redis not ready within ${timeoutMs} ms (${this.address})`))
      }, timeoutMs)
      const onReady = (): void => {
        clearTimeout(timer)
        resolve()
      }
      client.once('ready', onReady)
    })
  }

  async createSession(input: NewSession): Promise<SessionRecord> {
    const expiresAt = Math.min(input.expiresAt, input.absoluteExpiresAt)
    const userAgent = input.userAgent === null ? null : boundUserAgent(input.userAgent)
    const fields = recordFields({ ...input, generation: 1, expiresAt, userAgent })
    const ttl = String(expiresAt - input.now + TTL_MARGIN_MS)
    // Two keys in two slots, so two commands, sent together. If either fails the login fails:
    // a session never handed out is harmless, and a dangling index entry is skipped when read.
    await this.#run(
      () =>
        Promise.all([
          this.#client.batonIndexAdd(
            userKey(input.userId),
            input.id,
            String(input.absoluteExpiresAt),
            String(input.now),
            String(TTL_MARGIN_MS),
          ),
          this.#client.batonCreateSession(sessionKey(input.id), ttl, ...fields),
        ]),
      () => true,
    )
    return newRecord({ ...input, userAgent })
  }

  async rotate(input: RotateInput): Promise<RotateOutcome> {
    const [kind, fields] = await this.#run(
      () =>
        this.#client.batonRotate(
          sessionKey(input.id),
          input.jti,
          input.newJti,
          String(input.now),
          String(input.graceMs),
          String(input.refreshLifetimeMs),
          String(TTL_MARGIN_MS),
          String(input.generation ?? 0),
          input.spareJti ?? '',
          encodeSpans(input.outages),
        ),
      ([kind]) => kind === 'rotated' || kind === 'grace' || kind === 'reused',
    )
    if (kind === 'revoked' || kind === 'not_found') return { kind }
    const session = fields === undefined ? null : toRecord(input.id, fields)
    if (session === null) return { kind: 'not_found' }
    if (kind === 'rotated' || kind === 'grace' || kind === 'reused') return { kind, session }
    throw new Error(`redis rotate script answered an unknown outcome: ${kind}`)
  }

  async migrateLegacy(input: MigrateInput): Promise<RotateOutcome> {
    const userAgent = input.userAgent === null ? null : boundUserAgent(input.userAgent)
    const lifetime = Math.max(input.refreshLifetimeMs, input.keepUntil - input.now)
    const expiresAt = Math.min(input.now + lifetime, input.absoluteExpiresAt)
    // The generation-0 record the script creates when missing.
    const fields = recordFields({ ...input, jti: input.legacyJti, nextJti: input.newJti, generation: 0, expiresAt, userAgent })
    // The user index lives in another slot: indexed first (an idempotent ZADD), so a session
    // this call creates is always found by "log out everywhere", even if the reply is lost.
    const [, [kind, values]] = await this.#run(
      () =>
        Promise.all([
          this.#client.batonIndexAdd(userKey(input.userId), input.id, String(input.absoluteExpiresAt), String(input.now), String(TTL_MARGIN_MS)),
          this.#client.batonMigrate(
            sessionKey(input.id),
            input.legacyJti,
            input.nextJti,
            String(input.now),
            String(input.graceMs),
            String(input.refreshLifetimeMs),
            String(TTL_MARGIN_MS),
            '0',
            '',
            String(expiresAt - input.now + TTL_MARGIN_MS),
            String(lifetime),
            ...fields,
          ),
        ]),
      () => true,
    )
    if (kind === 'revoked' || kind === 'not_found') return { kind }
    const session = values === undefined ? null : toRecord(input.id, values)
    if (session === null) return { kind: 'not_found' }
    if (kind === 'rotated' || kind === 'grace' || kind === 'reused') return { kind, session }
    throw new Error(`redis migrate script answered an unknown outcome: ${kind}`)
  }

  async touch(input: TouchInput): Promise<TouchOutcome> {
    const [kind, fields] = await this.#run(
      () => this.#client.batonTouch(sessionKey(input.id), input.jti, String(input.now)),
      ([kind]) => kind === 'touched',
    )
    if (kind === 'revoked' || kind === 'not_found') return { kind }
    const session = fields === undefined ? null : toRecord(input.id, fields)
    if (session === null || kind !== 'touched') return { kind: 'not_found' }
    return { kind, session }
  }

  async getSession(id: string, now: number): Promise<SessionRecord | null> {
    const values = await this.#run(() => this.#client.hmget(sessionKey(id), ...RECORD_FIELDS))
    const record = toRecord(id, values)
    return record === null || now >= record.expiresAt ? null : record
  }

  async revokeSession(id: string, now: number): Promise<boolean> {
    const changed = await this.#run(
      () => this.#client.batonRevoke(sessionKey(id), String(now)),
      (c) => c === 1,
    )
    if (changed === 1) await this.#confirmOnReplica(id)
    return changed === 1
  }

  async revokeUserSessions(userId: string, now: number): Promise<number> {
    const ids = await this.#userSessionIds(userId, now)
    // One command per session: in a Cluster they live in different slots.
    const changed = await this.#run(
      () => Promise.all(ids.map((id) => this.#client.batonRevoke(sessionKey(id), String(now)))),
      (cs) => cs.includes(1),
    )
    const revoked = ids.filter((_, i) => changed[i] === 1)
    // One confirmation per node: in a Cluster the sessions may live on several. One after the
    // other, so that a replica that does not answer costs one wait, not one per session.
    const confirm = this.#client instanceof Cluster ? revoked : revoked.slice(0, 1)
    for (const id of confirm) await this.#confirmOnReplica(id)
    return revoked.length
  }

  async listUserSessions(userId: string, now: number): Promise<SessionRecord[]> {
    const ids = await this.#userSessionIds(userId, now)
    const hashes = await this.#run(() =>
      Promise.all(ids.map((id) => this.#client.hmget(sessionKey(id), ...RECORD_FIELDS))),
    )
    const live: SessionRecord[] = []
    const gone: string[] = []
    hashes.forEach((hash, i) => {
      const id = ids[i] as string
      const record = toRecord(id, hash)
      if (record === null) gone.push(id)
      else if (record.revokedAt === null && now < record.expiresAt) live.push(record)
    })
    // Records that expired or were evicted leave their index entry behind: drop those here.
    if (gone.length > 0) {
      await this.#run(
        () => this.#client.zrem(userKey(userId), ...gone),
        () => true,
      )
    }
    return live.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1))
  }

  async incrementCounter(key: string, windowMs: number, now: number): Promise<Counter> {
    const [count, resetAt] = await this.#run(
      () =>
        this.#client.batonIncrementCounter(
          counterKey(key),
          String(now),
          String(windowMs),
          String(TTL_MARGIN_MS),
        ),
      () => true,
    )
    return { count, resetAt }
  }

  async getCounter(key: string, now: number): Promise<Counter> {
    const [n, r] = await this.#run(() => this.#client.hmget(counterKey(key), 'n', 'r'))
    if (n === null || r === null || now >= Number(r)) return { count: 0, resetAt: null }
    return { count: Number(n), resetAt: Number(r) }
  }

  async resetCounter(key: string): Promise<void> {
    await this.#run(
      () => this.#client.del(counterKey(key)),
      () => true,
    )
  }

  async releaseCounter(key: string, resetAt: number): Promise<void> {
    await this.#run(
      () => this.#client.batonReleaseCounter(counterKey(key), String(resetAt)),
      () => true,
    )
  }

  /**
   * PING's round trip. After a READONLY answer it probes with a write instead (DEL of a key that
   * never exists), so a store stuck on a replica does not look healthy to the guard's probe.
   */
  async ping(): Promise<number> {
    const start = performance.now()
    if (this.#readOnly) {
      await this.#run(
        () => this.#client.del(PROBE_KEY),
        () => true,
      )
    } else {
      await this.#run(() => this.#client.ping())
    }
    return performance.now() - start
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#clearReadyTimer()
    const client = this.#client
    if (client.status === 'ready') {
      const quit = client.quit().catch(() => undefined)
      const timer = setTimeout(() => client.disconnect(), this.#timeoutMs)
      await quit
      clearTimeout(timer)
    }
    client.disconnect()
  }

  /**
   * A revocation is the one write whose loss lets someone in: after a failover to an
   * asynchronous replica that never received it, a logged-out session would be live again. So
   * when the session's node has replicas, the store waits for one to confirm the write
   * (`WAIT 1`, `replicaWaitMs`). WAIT counts only this connection's writes, so it runs on the
   * connection every refresh shares and holds it while it waits: the wait is short (a healthy
   * replica answers within a round trip), and after one times out revocations stop waiting for
   * {@link REPLICA_WAIT_PAUSE_MS}. Unconfirmed, the revocation still stands on the primary and
   * the caller gets its answer; one warning per session names the window. A node without
   * replicas costs one `INFO replication` round trip per revocation and no wait. A failure here
   * (a connection lost, `INFO` refused by an ACL) is that warning too: the revocation is done,
   * and failing the logout for it would only make the client retry a logout already made.
   */
  async #confirmOnReplica(id: string): Promise<void> {
    try {
      await this.#waitForReplica(id)
    } catch (err) {
      this.#log?.warn(
        { event: 'revoke_unreplicated', sid: id, address: this.address, err },
        'a revocation could not be confirmed by a replica: a failover now could bring the session back',
      )
    }
  }

  async #waitForReplica(id: string): Promise<void> {
    const key = sessionKey(id)
    const info = String(await this.#run(() => this.#onNodeOf(key, ['info', 'replication'])))
    const replicas = Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? '0')
    if (replicas === 0) {
      // Standalone: nothing to confirm. Under Sentinel a primary with no replica is one in the
      // middle of a failover (its replica is being promoted) or cut off from them: a write it
      // takes now is dropped when it rejoins as a replica (the chaos run saw a logout come back
      // that way), so that is the same warning, naming the window.
      if (!this.#sentinel) return
      this.#log?.warn(
        { event: 'revoke_unreplicated', sid: id, replicas, waitMs: 0, address: this.address },
        'a revocation was made on a primary with no replica connected (a failover under way?): it could be lost',
      )
      return
    }
    const waitMs = this.#replicaWaitMs
    const paused = performance.now() < this.#replicaWaitPausedUntil
    const acked = paused ? 0 : Number(await this.#run(() => this.#onNodeOf(key, ['wait', '1', String(waitMs)])))
    if (acked >= 1) return
    if (!paused) this.#replicaWaitPausedUntil = performance.now() + REPLICA_WAIT_PAUSE_MS
    this.#log?.warn(
      { event: 'revoke_unreplicated', sid: id, replicas, waitMs: paused ? 0 : waitMs, address: this.address },
      'a revocation was not confirmed by any replica: a failover now could bring the session back',
    )
  }

  /** A keyless command on the node holding `key`: a Cluster pipeline goes where its keys live. */
  async #onNodeOf(key: string, command: string[]): Promise<unknown> {
    const replies = await this.#client.pipeline([['exists', key], command]).exec()
    const [err, value] = replies?.[1] ?? [new Error(`no reply to ${command[0]}`), null]
    if (err) throw err
    return value
  }

  async #userSessionIds(userId: string, now: number): Promise<string[]> {
    // Scored by absolute expiry: anything at or below `now` is over for good.
    return this.#run(() => this.#client.zrangebyscore(userKey(userId), `(${now}`, '+inf'))
  }

  /**
   * Runs commands, masks their errors, and tells a dead connection from a slow one. `wrote`
   * says whether a result proves the node took a write (which ends a read-only spell).
   */
  async #run<T>(command: () => Promise<T>, wrote?: (result: T) => boolean): Promise<T> {
    try {
      const result = await command()
      this.#lastReplyAt = performance.now()
      if (this.#readOnly && wrote?.(result) === true) this.#readOnly = false
      if (!this.#readOnly) this.#markUp()
      return result
    } catch (err) {
      const client = this.#client
      // A connection that answers nothing for a while (a frozen server, a lost route with no
      // RST) would keep every command waiting out its timeout: drop it and reconnect.
      if (
        client instanceof Redis &&
        client.status === 'ready' &&
        err instanceof Error &&
        err.message === 'Command timed out' &&
        performance.now() - this.#lastReplyAt > Math.max(1_000, 2 * this.#timeoutMs)
      ) {
        client.disconnect(true)
      }
      let scrubbed = scrubError(err, this.#secrets)
      // ioredis answers a command sent while disconnected with "Stream isn't writeable…": the
      // real cause (SPEC §4: in the log line) is why the connection is down.
      if (scrubbed.message.startsWith("Stream isn't writeable")) {
        scrubbed = new Error(`not connected to Redis (${this.#lastConnectionError ?? 'connection closed'})`, { cause: scrubbed })
        scrubbed.name = 'RedisNotConnectedError'
      }
      if (scrubbed.message.includes('READONLY')) {
        this.#readOnly = true
        this.#markDown(scrubbed)
      }
      throw scrubbed
    }
  }

  /** The last connection error, masked, to name the cause of a "not connected" failure. */
  #lastConnectionError: string | null = null

  #markUp(): void {
    if (this.#closed || this.#state === 'up') return
    this.#lastReplyAt = performance.now()
    this.#lastConnectionError = null
    if (this.#state === 'down') this.#log?.info({ store: this.address }, 'redis recovered')
    else this.#log?.info({ store: this.address }, 'redis connected')
    this.#state = 'up'
  }

  #markDown(err: unknown): void {
    if (this.#closed || this.#state === 'down') return
    if (err === null && this.#state === 'starting') return
    this.#state = 'down'
    const cause = err === null ? 'connection closed' : describeError(scrubError(err, this.#secrets))
    this.#log?.warn({ store: this.address, cause }, 'redis down')
  }

  #clearReadyTimer(): void {
    if (this.#readyTimer !== null) clearTimeout(this.#readyTimer)
    this.#readyTimer = null
  }
}

/**
 * Creates a {@link RedisStore}. It starts connecting in the background and never throws for an
 * absent Redis; only a malformed URL throws (a TypeError that does not echo the URL).
 */
export function createRedisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options)
}

function reconnectDelay(attempt: number): number {
  // 100, 200, 400, 800, then 1000 ms, jittered down so app servers do not reconnect in step.
  const base = Math.min(100 * 2 ** Math.min(attempt - 1, 10), MAX_RECONNECT_DELAY_MS)
  return Math.round(base * (0.75 + Math.random() * 0.25))
}

interface RedisTarget {
  tls: boolean
  host: string
  port: number
  username: string
  password: string
  db: number
}

/**
 * Reads a linted `redis://`/`rediss://` URL. Errors never carry the URL: `new URL()`'s own
 * TypeError does (in `input`), so it is replaced.
 */
export function parseRedisURL(url: string): RedisTarget {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TypeError('redis store: the Redis URL is not a valid URL')
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError('redis store: the Redis URL must start with redis:// or rediss://')
  }
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0
  if (!Number.isInteger(db) || db < 0)
    throw new TypeError('redis store: the Redis URL has a bad db')
  return {
    tls: parsed.protocol === 'rediss:',
    // WHATWG keeps IPv6 brackets; sockets want the bare address.
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    db,
  }
}

function maskedURL(t: RedisTarget): string {
  const auth =
    t.password === ''
      ? t.username === ''
        ? ''
        : `${t.username}@`
      : `${t.username || 'default'}:****@`
  const host = t.host.includes(':') ? `[${t.host}]` : t.host
  const port = t.port === 0 ? '' : `:${t.port}`
  const db = t.db === 0 ? '' : `/${t.db}`
  return `${t.tls ? 'rediss' : 'redis'}://${auth}${host}${port}${db}`
}

function parseHostPort(hostPort: string): { host: string; port: number } {
  const at = hostPort.lastIndexOf(':')
  if (at <= 0) return { host: hostPort, port: 6379 }
  return {
    host: hostPort.slice(0, at).replace(/^\[(.*)\]$/, '$1'),
    port: Number(hostPort.slice(at + 1)),
  }
}

function boundUserAgent(ua: string): string {
  return splitUserAgent(ua).join('')
}

/** Splits at code point boundaries into pieces of at most 64 UTF-8 bytes, at most 8 pieces. */
function splitUserAgent(ua: string): string[] {
  if (ua === '') return ['']
  const pieces: string[] = []
  let piece = ''
  let bytes = 0
  for (const ch of ua) {
    const size = Buffer.byteLength(ch)
    if (bytes + size > UA_PIECE_BYTES) {
      pieces.push(piece)
      if (pieces.length === UA_MAX_PIECES) return pieces
      piece = ''
      bytes = 0
    }
    piece += ch
    bytes += size
  }
  pieces.push(piece)
  return pieces
}

/**
 * The record from `HMGET` of {@link RECORD_FIELDS}; `null` when it is missing or malformed
 * (both mean "not valid"). Times other than `ca` are stored as offsets from it.
 */
function toRecord(id: string, values: RecordValues): SessionRecord | null {
  const [u, c, g, ca, ci, lu, e, ae, p, pu, r, ip, n] = values
  if (
    u == null ||
    c == null ||
    g == null ||
    ca == null ||
    ci == null ||
    lu == null ||
    e == null ||
    ae == null
  ) {
    return null
  }
  const base = Number(ca)
  let userAgent: string | null = null
  for (let i = UA_FIRST; i < values.length; i++) {
    const piece = values[i]
    if (piece == null) break
    userAgent = (userAgent ?? '') + piece
  }
  return {
    id,
    userId: u,
    currentJti: c,
    generation: Number(g),
    currentIssuedAt: base + Number(ci),
    nextJti: n ?? null,
    previousJti: p ?? null,
    graceUntil: pu == null ? null : base + Number(pu),
    createdAt: base,
    lastUsedAt: base + Number(lu),
    expiresAt: base + Number(e),
    absoluteExpiresAt: base + Number(ae),
    revokedAt: r == null ? null : base + Number(r),
    userAgent,
    ip: ip ?? null,
  }
}
