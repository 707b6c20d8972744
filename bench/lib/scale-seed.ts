import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import { compactUserAgent } from '../../packages/server/src/http/user-agent.js'
import { createRedisStore } from '../../packages/server/src/store/redis.js'
import { createSqliteStore } from '../../packages/server/src/store/sqlite.js'
import type { SessionStore } from '../../packages/server/src/store/types.js'
import { newId, newRefreshJti } from '../../packages/server/src/tokens/jwt.js'

/**
 * Seeding for `npm run bench -- --scale`: live sessions written through the store's own API
 * (`createSession`, exactly what a login writes), many calls in flight at once so that ioredis
 * sends them back to back on its one connection. Never over HTTP: a million logins would be a
 * million scrypt checks.
 */

/** What the server stores for the bench's user agent and address, so seeded records are the size of real ones. */
export const SCALE_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'
const STORED_UA = compactUserAgent(SCALE_UA)
const DAY_MS = 86_400_000

export interface SeedPlan {
  /** Sessions to create. */
  sessions: number
  /**
   * Sessions per user: user `k` (ids '1', '2', ... as the embedded user database numbers them)
   * gets sessions k*perUser .. k*perUser+perUser-1. Kept the same at every size, so the per-user
   * index costs the same share of every session.
   */
  perUser: number
  /** createSession calls in flight at once. */
  concurrency: number
}

export interface SeedResult {
  sessions: number
  users: number
  seconds: number
  perSecond: number
}

/** User ids that hold seeded sessions: '1' .. String(users). */
export function seededUsers(plan: SeedPlan): number {
  return Math.ceil(plan.sessions / plan.perUser)
}

export async function seedStore(store: SessionStore, plan: SeedPlan): Promise<SeedResult> {
  const started = performance.now()
  const now = Date.now()
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < plan.sessions) {
      const i = next++
      await store.createSession({
        id: newId('s_'),
        userId: String(Math.floor(i / plan.perUser) + 1),
        jti: newRefreshJti(),
        nextJti: newRefreshJti(),
        now,
        // The server's defaults (REFRESH_TOKEN_LIFETIME 1 day, SESSION_MAX_LIFETIME 30 days).
        expiresAt: now + DAY_MS,
        absoluteExpiresAt: now + 30 * DAY_MS,
        userAgent: STORED_UA,
        ip: '127.0.0.1',
      })
    }
  }
  await Promise.all(Array.from({ length: Math.min(plan.concurrency, plan.sessions) }, worker))
  const seconds = (performance.now() - started) / 1000
  return { sessions: plan.sessions, users: seededUsers(plan), seconds: round(seconds, 2), perSecond: Math.round(plan.sessions / seconds) }
}

export interface RedisMemory {
  usedMemory: number
  usedMemoryRss: number
  keys: number
}

export async function redisMemory(admin: Redis): Promise<RedisMemory> {
  const info = await admin.info('memory')
  const num = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN)
  return { usedMemory: num('used_memory'), usedMemoryRss: num('used_memory_rss'), keys: await admin.dbsize() }
}

export interface RedisSeed extends SeedResult {
  before: RedisMemory
  after: RedisMemory
  /** (used_memory after − before) ÷ sessions: the session hash, its share of the user index, both key tables. */
  bytesPerSession: number
}

/**
 * Empties the Redis, then seeds it through a RedisStore of its own. `used_memory` is read with
 * the seeding connection open both times, so its buffers are on both sides of the difference.
 */
export async function seedRedis(url: string, admin: Redis, plan: SeedPlan): Promise<RedisSeed> {
  // A generous deadline: a loaded box may take longer than the server's 500 ms per command
  // with hundreds of commands queued on one connection.
  const store = createRedisStore({ url, timeoutMs: 30_000 })
  try {
    await store.ready(10_000)
    // One session first, so the store's scripts are in Redis's script cache (FLUSHALL keeps
    // them) before `used_memory` is read: the first size would otherwise carry ~200 KB of them.
    await seedStore(store, { sessions: 1, perUser: 1, concurrency: 1 })
    await admin.flushall('SYNC')
    const before = await redisMemory(admin)
    const seeded = await seedStore(store, plan)
    const after = await redisMemory(admin)
    return { ...seeded, before, after, bytesPerSession: Math.round((after.usedMemory - before.usedMemory) / plan.sessions) }
  } finally {
    await store.close()
  }
}

export interface SqliteSeed extends SeedResult {
  fileBytes: number
  /** The database file (WAL checkpointed at close) ÷ sessions: row plus its three index entries. */
  bytesPerSession: number
}

/** Seeds `<dataDir>/sessions.db`, the file `baton serve` opens with BATON_STORE=sqlite. */
export async function seedSqlite(dataDir: string, plan: SeedPlan): Promise<SqliteSeed> {
  const file = join(dataDir, 'sessions.db')
  const store = await createSqliteStore({ file })
  let seeded: SeedResult
  try {
    seeded = await seedStore(store, plan)
  } finally {
    // The last connection to close checkpoints the WAL into the file and removes it.
    await store.close()
  }
  const fileBytes = statSync(file).size
  return { ...seeded, fileBytes, bytesPerSession: Math.round(fileBytes / plan.sessions) }
}

/** MemAvailable from /proc/meminfo, in bytes (os.freemem() leaves out the reclaimable page cache). */
export function availableMemory(): number {
  try {
    const kb = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'latin1'))?.[1]
    if (kb !== undefined) return Number(kb) * 1024
  } catch {
    // not Linux
  }
  return 0
}

function round(x: number, d: number): number {
  return Math.round(x * 10 ** d) / 10 ** d
}
