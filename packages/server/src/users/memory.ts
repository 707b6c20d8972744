import type { CreateUserOutcome, UserRecord, UserStore } from './types.js'

/**
 * A user store in a Map: for tests and throw-away demos. Everything is lost on exit.
 * Ids count up from 1 and are never reused, as in the SQL stores.
 */
export function createMemoryUserStore(): UserStore {
  const byName = new Map<string, UserRecord>()
  const byId = new Map<string, UserRecord>()
  let lastId = 0

  return {
    kind: 'memory',
    async createUser({ username, passwordHash, now }): Promise<CreateUserOutcome> {
      // The check and the insert run in one synchronous turn, so two concurrent calls for the
      // same name cannot both pass the check.
      if (byName.has(username)) return { kind: 'taken' }
      const record: UserRecord = { id: String(++lastId), username, passwordHash, createdAt: now }
      byName.set(username, record)
      byId.set(record.id, record)
      return { kind: 'created', user: { id: record.id, username } }
    },
    async findByUsername(username) {
      const record = byName.get(username)
      return record ? { ...record } : null
    },
    async findById(id) {
      const record = byId.get(id)
      return record ? { ...record } : null
    },
    async updatePasswordHash({ id, oldHash, newHash }) {
      // Compare and set in one synchronous turn: nothing can run between the two.
      const record = byId.get(id)
      if (record === undefined || record.passwordHash !== oldHash) return false
      record.passwordHash = newHash
      return true
    },
    async close() {},
  }
}
