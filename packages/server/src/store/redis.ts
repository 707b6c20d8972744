import { Cluster } from 'ioredis'
import { parseRedisURL } from '../redis-url.js'
import { DEFAULT_REDIS_STORE_OPTIONS, type RedisStoreOptions } from './redis-options.js'
import { encodeSpans, type OutageSpan } from './outage-spans.js'
import { RedisCommands } from './redis-commands.js'
import { loadOutages, saveOutage } from './redis-outages.js'
import { openRedisConnection, type RedisClient } from './redis-connection.js'
import { boundUserAgent, counterKey, PROBE_KEY, recordFields, sessionKey, toRecord, TTL_MARGIN_MS, userKey } from './redis-records.js'
import { UserMarks } from './redis-user-marks.js'
import { ReplicaConfirmer } from './redis-replicas.js'
import { RECORD_FIELDS } from './redis-scripts.js'
import { newRecord } from './rotation.js'
import type {
  Counter,
  MigrateInput,
  NewSession,
  RotateInput,
  RotateOutcome,
  SessionRecord,
  SessionStore,
  TouchInput,
  TouchOutcome,
} from './types.js'

export { sessionKey, userKey } from './redis-records.js'
export { RedisNotConnectedError } from './redis-commands.js'

export { DEFAULT_REDIS_STORE_OPTIONS, type RedisStoreOptions } from './redis-options.js'

export { REPLICA_WAIT_PAUSE_MS } from './redis-replicas.js'

/**
 * A Redis-backed session store (standalone, TLS, Sentinel or Cluster): a thin adapter from
 * SessionStore's operations to the Lua scripts (redis-scripts.ts) and the record encoding
 * (redis-records.ts). ioredis owns the connection (redis-connection.ts); the guard owns up,
 * down and the circuit.
 *
 * Posture (SPEC §4): construction never throws for an absent Redis and never waits (the server
 * starts with Redis absent); a command while disconnected fails at once (no offline queue, no
 * resend of unanswered commands); each command has a deadline; the client reconnects by itself
 * with a capped backoff, and on `READONLY` (a failover demoted our primary). Errors are thrown as
 * they come, with passwords masked, for `store/guard.ts` to turn into 503s.
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
  readonly #client: RedisClient
  /** Sends every command: refusal while disconnected, masked errors, read-only tracking. */
  readonly #commands: RedisCommands
  readonly #timeoutMs: number
  readonly #replicas: ReplicaConfirmer
  readonly #marks: UserMarks
  #closed = false

  constructor(options: RedisStoreOptions) {
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_REDIS_STORE_OPTIONS.timeoutMs
    const connection = openRedisConnection({
      target: options.target ?? parseRedisURL(options.url),
      cluster: options.cluster,
      sentinel: options.sentinel,
      tlsCA: options.tlsCA,
      timeoutMs: this.#timeoutMs,
      log: options.log,
    })
    this.#client = connection.client
    this.address = connection.address
    this.#commands = new RedisCommands(connection)
    this.#marks = new UserMarks(this.#client, options.cluster !== undefined, options.sessionMaxLifetimeMs ?? 30 * 86_400_000)
    this.#replicas = new ReplicaConfirmer({
      client: this.#client,
      run: (command) => this.#commands.run(command),
      waitMs: Math.max(1, options.replicaWaitMs ?? Math.min(100, Math.floor(this.#timeoutMs / 4))),
      sentinel: options.sentinel !== undefined,
      address: this.address,
      log: options.log,
    })
  }

  /**
   * Commands waiting in the client (queued offline, or sent and unanswered). With no offline
   * queue and a deadline on every command this stays bounded by the requests in flight, also
   * through an outage (SPEC §4: no queue of commands building up). Standalone and Sentinel only.
   */
  pendingCommands(): number {
    const client = this.#client as unknown as { offlineQueue?: { length: number }; commandQueue?: { length: number } }
    return (client.offlineQueue?.length ?? 0) + (client.commandQueue?.length ?? 0)
  }

  /** Resolves once connected and ready; rejects (address masked) after `timeoutMs`. */
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
    await this.#commands.run(
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
    const [[kind, fields], mark] = await this.#commands.run(
      () =>
        Promise.all([
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
          this.#marks.read(input.userId),
        ]),
      ([[kind]]) => kind === 'rotated' || kind === 'grace' || kind === 'reused',
    )
    if (kind === 'revoked' || kind === 'not_found') return { kind }
    const session = fields === undefined ? null : toRecord(input.id, fields)
    if (session === null) return { kind: 'not_found' }
    if (this.#marks.covers(mark, session)) return this.#endMarked(input.id, input.now)
    // Reuse revoked the family: as durable as a logout (a failover must not bring it back).
    if (kind === 'reused') await this.#replicas.confirm(input.id)
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
    const [, [kind, values]] = await this.#commands.run(
      () =>
        Promise.all([
          this.#client.batonIndexAdd(
            userKey(input.userId),
            input.id,
            String(input.absoluteExpiresAt),
            String(input.now),
            String(TTL_MARGIN_MS),
          ),
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
    if (kind === 'reused') await this.#replicas.confirm(input.id)
    if (kind === 'rotated' || kind === 'grace' || kind === 'reused') return { kind, session }
    throw new Error(`redis migrate script answered an unknown outcome: ${kind}`)
  }

  async touch(input: TouchInput): Promise<TouchOutcome> {
    const [[kind, fields], mark] = await this.#commands.run(
      () => Promise.all([this.#client.batonTouch(sessionKey(input.id), input.jti, String(input.now)), this.#marks.read(input.userId)]),
      ([[kind]]) => kind === 'touched',
    )
    if (kind === 'revoked' || kind === 'not_found') return { kind }
    const session = fields === undefined ? null : toRecord(input.id, fields)
    if (session === null || kind !== 'touched') return { kind: 'not_found' }
    if (this.#marks.covers(mark, session)) return this.#endMarked(input.id, input.now)
    return { kind, session }
  }

  async getSession(id: string, now: number): Promise<SessionRecord | null> {
    const values = await this.#commands.run(() => this.#client.hmget(sessionKey(id), ...RECORD_FIELDS))
    const record = toRecord(id, values)
    if (record === null || now >= record.expiresAt) return null
    // Cluster: the user's logout-all mark (another shard) may end it; a second round trip here.
    if (!this.#marks.covers(await this.#commands.run(() => this.#marks.read(record.userId)), record)) return record
    await this.#endMarked(id, now)
    return { ...record, revokedAt: now }
  }

  /** A session a logout-all mark covers: revoked now, as if the index had found it. */
  async #endMarked(id: string, now: number): Promise<{ kind: 'revoked' }> {
    await this.revokeSession(id, now)
    return { kind: 'revoked' }
  }

  async revokeSession(id: string, now: number): Promise<boolean> {
    const changed = await this.#commands.run(
      () => this.#client.batonRevoke(sessionKey(id), String(now)),
      (c) => c === 1,
    )
    if (changed === 1) await this.#replicas.confirm(id)
    return changed === 1
  }

  async revokeUserSessions(userId: string, now: number): Promise<number> {
    // First, so that a session the index lost is ended too (Cluster: redis-user-marks.ts).
    await this.#commands.run(() => this.#marks.mark(userId, now))
    const ids = await this.#userSessionIds(userId, now)
    // One command per session: in a Cluster they live in different slots.
    const changed = await this.#commands.run(
      () => Promise.all(ids.map((id) => this.#client.batonRevoke(sessionKey(id), String(now)))),
      (cs) => cs.includes(1),
    )
    const revoked = ids.filter((_, i) => changed[i] === 1)
    // One confirmation per node: in a Cluster the sessions may live on several. One after the
    // other, so that a replica that does not answer costs one wait, not one per session.
    // Without a Cluster one WAIT covers them all, and its warning names them all (the chaos run
    // of 2026-12-07 saw the second session of a logout-all come back unnamed).
    if (this.#client instanceof Cluster) for (const id of revoked) await this.#replicas.confirm(id)
    else if (revoked.length > 0) await this.#replicas.confirm(revoked[0] as string, revoked)
    return revoked.length
  }

  async listUserSessions(userId: string, now: number): Promise<SessionRecord[]> {
    const ids = await this.#userSessionIds(userId, now)
    const [hashes, mark] = await this.#commands.run(() =>
      Promise.all([Promise.all(ids.map((id) => this.#client.hmget(sessionKey(id), ...RECORD_FIELDS))), this.#marks.read(userId)]),
    )
    const live: SessionRecord[] = []
    const gone: string[] = []
    hashes.forEach((hash, i) => {
      const id = ids[i] as string
      const record = toRecord(id, hash)
      if (record === null) gone.push(id)
      else if (record.revokedAt === null && now < record.expiresAt && !this.#marks.covers(mark, record)) live.push(record)
    })
    // Records that expired or were evicted leave their index entry behind: drop those here.
    if (gone.length > 0) {
      await this.#commands.run(
        () => this.#client.zrem(userKey(userId), ...gone),
        () => true,
      )
    }
    return live.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1))
  }

  async incrementCounter(key: string, windowMs: number, now: number): Promise<Counter> {
    const [count, resetAt] = await this.#commands.run(
      () => this.#client.batonIncrementCounter(counterKey(key), String(now), String(windowMs), String(TTL_MARGIN_MS)),
      () => true,
    )
    return { count, resetAt }
  }

  async getCounter(key: string, now: number): Promise<Counter> {
    const [n, r] = await this.#commands.run(() => this.#client.hmget(counterKey(key), 'n', 'r'))
    if (n === null || r === null || now >= Number(r)) return { count: 0, resetAt: null }
    return { count: Number(n), resetAt: Number(r) }
  }

  async resetCounter(key: string): Promise<void> {
    await this.#commands.run(
      () => this.#client.del(counterKey(key)),
      () => true,
    )
  }

  async releaseCounter(key: string, resetAt: number): Promise<void> {
    await this.#commands.run(
      () => this.#client.batonReleaseCounter(counterKey(key), String(resetAt)),
      () => true,
    )
  }

  saveOutage(span: OutageSpan, now: number): Promise<void> {
    return saveOutage(this.#client, this.#commands, span, now)
  }

  loadOutages(now: number): Promise<OutageSpan[]> {
    return loadOutages(this.#client, this.#commands, now)
  }

  /**
   * PING's round trip. After a READONLY answer it probes with a write instead (DEL of a key that
   * never exists), so a store stuck on a replica does not look healthy to the guard's probe.
   */
  async ping(): Promise<number> {
    const start = performance.now()
    if (this.#commands.readOnly)
      await this.#commands.run(
        () => this.#client.del(PROBE_KEY),
        () => true,
      )
    else await this.#commands.run(() => this.#client.ping())
    return performance.now() - start
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const client = this.#client
    if (client.status === 'ready') {
      const quit = client.quit().catch(() => undefined)
      const timer = setTimeout(() => client.disconnect(), this.#timeoutMs)
      await quit
      clearTimeout(timer)
    }
    client.disconnect()
  }

  async #userSessionIds(userId: string, now: number): Promise<string[]> {
    // Scored by absolute expiry: anything at or below `now` is over for good.
    return this.#commands.run(() => this.#client.zrangebyscore(userKey(userId), `(${now}`, '+inf'))
  }
}

/**
 * Creates a {@link RedisStore}. It starts connecting in the background and never throws for an
 * absent Redis; only a malformed `url` throws (a TypeError that does not echo the URL).
 */
export function createRedisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options)
}
