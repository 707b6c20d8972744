/**
 * "Log out everywhere" that survives a lost index, in a Redis Cluster. There the user's session
 * index (`baton:user:{uid}`) and the sessions (`baton:{sid}:session:v2`) live in different slots,
 * so on different shards: a shard restarted empty (no persistence, no failover) loses the index
 * while the sessions live on, and log-out-everywhere then finds nothing to revoke (the chaos
 * run's Cluster variant: `{"revoked":0}`, and 5 of 6 sessions still refreshed).
 *
 * So a logout-all also leaves a mark in the index's slot: "every session of this user created
 * at or before T is revoked". A rotation, a touch and a session read of that user ask for the
 * mark in parallel with their own command (another shard: no extra wait), and end a session the
 * mark covers as if it had been revoked one by one. Standalone and Sentinel keep the index and
 * the sessions on one node, lost or kept together: no mark is written or read there.
 */
import type { RedisClient } from './redis-connection.js'
import type { SessionRecord } from './types.js'

/** In the index's slot (the same `{uid}` hash tag). */
export const userMarkKey = (userId: string): string => `baton:user:{${userId}}:revoked-before`

/** Shared: standalone and Sentinel refreshes allocate nothing for the mark. */
const NO_MARK: Promise<null> = Promise.resolve(null)

export class UserMarks {
  readonly #client: RedisClient
  readonly #enabled: boolean
  readonly #ttlMs: number

  /** `ttlMs`: as long as a session can live (SESSION_MAX_LIFETIME), so no covered session outlives its mark. */
  constructor(client: RedisClient, enabled: boolean, ttlMs: number) {
    this.#client = client
    this.#enabled = enabled
    this.#ttlMs = ttlMs
  }

  /** Marks every session of `userId` created at or before `now` as revoked (Cluster only). */
  async mark(userId: string, now: number): Promise<void> {
    if (!this.#enabled) return
    await this.#client.batonUserMark(userMarkKey(userId), String(now), String(this.#ttlMs))
  }

  /**
   * The user's mark, or null (none, not a Cluster, or no user named). Best effort: a shard that
   * does not answer reads as no mark, so a refresh whose own shard is up never fails because the
   * user's index shard is down (logout-all itself needs that shard, and answers 503 without it).
   */
  read(userId: string | undefined): Promise<number | null> {
    if (!this.#enabled || userId === undefined) return NO_MARK
    return this.#client.get(userMarkKey(userId)).then(
      (value) => (value === null ? null : Number(value)),
      () => null,
    )
  }

  /** Whether `mark` ends `session` (created at or before it, and not revoked already). */
  covers(mark: number | null, session: SessionRecord): boolean {
    return mark !== null && session.revokedAt === null && session.createdAt <= mark
  }
}
