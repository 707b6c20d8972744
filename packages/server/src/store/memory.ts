import { decideMigration, decideRotation, decideTouch, isLive, newRecord } from './rotation.js'
import type { Counter, NewSession, SessionRecord, SessionStore } from './types.js'

const MAX_COUNTERS = 100_000

/**
 * An in-process store: for tests, and for a single development process that may forget
 * everything on restart (which logs users out; it never lets anyone in).
 * Every method runs synchronously inside one turn of the event loop, so `rotate` is atomic.
 *
 * Longer than ~100 lines on purpose: it is the SessionStore object, one short method per
 * operation over the three maps this closure holds (the rules themselves are store/rotation.ts's).
 */
export function createMemoryStore(): SessionStore {
  const sessions = new Map<string, SessionRecord>()
  const byUser = new Map<string, Set<string>>()
  const counters = new Map<string, { count: number; resetAt: number }>()

  // Expired records are dropped lazily, when touched or listed, so storage stays bounded by
  // the sessions that are still alive plus those not looked at since they expired.
  function read(id: string, now: number): SessionRecord | null {
    const record = sessions.get(id)
    if (record === undefined) return null
    if (now >= record.expiresAt) {
      remove(record)
      return null
    }
    return record
  }

  function remove(record: SessionRecord): void {
    sessions.delete(record.id)
    const ids = byUser.get(record.userId)
    ids?.delete(record.id)
    if (ids?.size === 0) byUser.delete(record.userId)
  }

  // Counters are keyed by attacker-chosen values (usernames, addresses): bound the map.
  function sweepCounters(now: number): void {
    for (const [key, c] of counters) if (now >= c.resetAt) counters.delete(key)
    if (counters.size >= MAX_COUNTERS) counters.clear()
  }

  function userRecords(userId: string, now: number): SessionRecord[] {
    const out: SessionRecord[] = []
    for (const id of byUser.get(userId) ?? []) {
      const record = read(id, now)
      if (record !== null) out.push(record)
    }
    return out
  }

  return {
    kind: 'memory',
    async createSession(input: NewSession) {
      const record = newRecord(input)
      sessions.set(record.id, record)
      let ids = byUser.get(record.userId)
      if (ids === undefined) byUser.set(record.userId, (ids = new Set()))
      ids.add(record.id)
      return { ...record }
    },
    async rotate(input) {
      const { outcome, write } = decideRotation(read(input.id, input.now), input)
      if (write !== null) sessions.set(write.id, write)
      return outcome
    },
    async migrateLegacy(input) {
      const { outcome, write, created } = decideMigration(read(input.id, input.now), input)
      if (write === null) return outcome
      sessions.set(write.id, write)
      if (created) {
        let ids = byUser.get(write.userId)
        if (ids === undefined) byUser.set(write.userId, (ids = new Set()))
        ids.add(write.id)
      }
      return outcome
    },
    async touch(input) {
      const { outcome, write } = decideTouch(read(input.id, input.now), input)
      if (write !== null) sessions.set(write.id, write)
      return outcome
    },
    async getSession(id, now) {
      const record = read(id, now)
      return record === null ? null : { ...record }
    },
    async revokeSession(id, now) {
      const record = read(id, now)
      if (record === null || record.revokedAt !== null) return false
      sessions.set(id, { ...record, revokedAt: now })
      return true
    },
    async revokeUserSessions(userId, now) {
      let n = 0
      for (const record of userRecords(userId, now)) {
        if (record.revokedAt !== null) continue
        sessions.set(record.id, { ...record, revokedAt: now })
        n++
      }
      return n
    },
    async listUserSessions(userId, now) {
      return userRecords(userId, now)
        .filter((r) => isLive(r, now))
        .sort((a, b) => b.createdAt - a.createdAt)
        .map((r) => ({ ...r }))
    },
    async incrementCounter(key, windowMs, now): Promise<Counter> {
      let c = counters.get(key)
      if (c === undefined || now >= c.resetAt) {
        if (counters.size >= MAX_COUNTERS) sweepCounters(now)
        counters.set(key, (c = { count: 0, resetAt: now + windowMs }))
      }
      c.count++
      return { count: c.count, resetAt: c.resetAt }
    },
    async getCounter(key, now): Promise<Counter> {
      const c = counters.get(key)
      if (c === undefined || now >= c.resetAt) return { count: 0, resetAt: null }
      return { count: c.count, resetAt: c.resetAt }
    },
    async resetCounter(key) {
      counters.delete(key)
    },
    async releaseCounter(key, resetAt) {
      const c = counters.get(key)
      if (c !== undefined && c.resetAt === resetAt && c.count > 0) c.count--
    },
    async ping() {
      return 0
    },
    async close() {
      sessions.clear()
      byUser.clear()
      counters.clear()
    },
  }
}
