import type { Deps } from '../deps.js'
import type { Sessions } from '../sessions.js'

/** A user's live sessions, a page at a time, the caller's own always among them. */
export function createListing(deps: Deps): Pick<Sessions, 'list'> {
  const { store, clock } = deps
  return {
    async list(claims, { limit }) {
      // The page is cut here: the store answers every live session (it could take the limit
      // itself later, e.g. ZRANGE … LIMIT on Redis's per-user index).
      const records = await store.listUserSessions(claims.sub, clock())
      const byRecentUse = [...records].sort((a, b) => b.lastUsedAt - a.lastUsedAt || b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1))
      const page = byRecentUse.slice(0, limit)
      const current = page.some((r) => r.id === claims.sid) ? undefined : byRecentUse.find((r) => r.id === claims.sid)
      // The caller's own session is always listed: it takes the last place, the least recent.
      if (current !== undefined) page[page.length - 1] = current
      const sessions = page.map((r) => ({
        id: r.id,
        created_at: new Date(r.createdAt).toISOString(),
        last_used_at: new Date(r.lastUsedAt).toISOString(),
        user_agent: r.userAgent,
        ip: r.ip,
        current: r.id === claims.sid,
      }))
      return { sessions, total: records.length }
    },
  }
}
