import type { Clock } from '../clock.js'
import type { User } from '../users/types.js'

export interface UserCacheOptions {
  /** How long a found user is remembered, in ms. @default 1000 */
  ttlMs?: number
  /** Most users remembered; the map is emptied when full. @default 10000 */
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
  const ttl = options.ttlMs ?? 1000
  const max = options.maxEntries ?? 10_000
  const entries = new Map<string, { user: User; until: number }>()
  return async (id) => {
    const now = clock()
    const hit = entries.get(id)
    if (hit !== undefined && now < hit.until) return hit.user
    const user = await lookup(id)
    if (user === null) {
      entries.delete(id)
      return null
    }
    if (entries.size >= max) entries.clear()
    entries.set(id, { user, until: now + ttl })
    return user
  }
}
