import type { Clock } from '../clock.js'
import { createTTLCache } from '../ttl-cache.js'
import type { User } from '../users/types.js'

export interface UserCacheOptions {
  /** How long a found user is remembered, in ms. @default 1000 */
  ttlMs?: number
  /** Most users remembered; past it the one found longest ago goes (ttl-cache.ts). @default 10000 */
  maxEntries?: number
}

/**
 * `/api/me/` looks its user up on every request: a database read per protected request (a
 * round trip with PostgreSQL), ~12% of the route's CPU with SQLite (issue 5). Found users are
 * remembered for a second, as `sessions.ts` remembers a session's liveness: users are never
 * renamed through baton, and a user removed from the database directly stops being found
 * within the TTL. A missing user is never remembered, so it is looked up every time.
 */
export function createUserCache(
  lookup: (id: string) => Promise<User | null>,
  clock: Clock,
  options: UserCacheOptions = {},
): (id: string) => Promise<User | null> {
  const users = createTTLCache<string, User>({ ttlMs: options.ttlMs ?? 1000, maxEntries: options.maxEntries ?? 10_000, now: clock })
  return async (id) => {
    const hit = users.get(id)
    if (hit !== undefined) return hit
    // The TTL counts from the lookup's start: the user is never remembered past what it read.
    const asOf = clock()
    const user = await lookup(id)
    if (user === null) {
      users.delete(id)
      return null
    }
    users.set(id, user, asOf)
    return user
  }
}
