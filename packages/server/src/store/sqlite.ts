import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { enableWAL } from '../sqlite-wal.js'
import { decideMigration, decideRotation, decideTouch, newRecord } from './rotation.js'
import type { Counter, SessionRecord, SessionStore } from './types.js'

export interface SqliteStoreOptions {
  /** The database file; `:memory:` for a throw-away database. */
  file: string
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  current_jti TEXT NOT NULL,
  generation INTEGER NOT NULL,
  current_issued_at INTEGER NOT NULL,
  previous_jti TEXT,
  grace_until INTEGER,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  absolute_expires_at INTEGER NOT NULL,
  revoked_at INTEGER,
  user_agent TEXT,
  ip TEXT,
  next_jti TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id, created_at);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS counters (
  key TEXT PRIMARY KEY,
  count INTEGER NOT NULL,
  reset_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS counters_expiry ON counters (reset_at);
`

interface Row {
  id: string
  user_id: string
  current_jti: string
  generation: number
  current_issued_at: number
  previous_jti: string | null
  grace_until: number | null
  created_at: number
  last_used_at: number
  expires_at: number
  absolute_expires_at: number
  revoked_at: number | null
  user_agent: string | null
  ip: string | null
  next_jti: string | null
}

function toRecord(row: Row): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    currentJti: row.current_jti,
    generation: row.generation,
    currentIssuedAt: row.current_issued_at,
    nextJti: row.next_jti,
    previousJti: row.previous_jti,
    graceUntil: row.grace_until,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    expiresAt: row.expires_at,
    absoluteExpiresAt: row.absolute_expires_at,
    revokedAt: row.revoked_at,
    userAgent: row.user_agent,
    ip: row.ip,
  }
}

function toParams(r: SessionRecord): Row {
  return {
    id: r.id,
    user_id: r.userId,
    current_jti: r.currentJti,
    generation: r.generation,
    current_issued_at: r.currentIssuedAt,
    previous_jti: r.previousJti,
    grace_until: r.graceUntil,
    created_at: r.createdAt,
    last_used_at: r.lastUsedAt,
    expires_at: r.expiresAt,
    absolute_expires_at: r.absoluteExpiresAt,
    revoked_at: r.revokedAt,
    user_agent: r.userAgent,
    ip: r.ip,
    next_jti: r.nextJti,
  }
}

/**
 * Adds `next_jti` (lost-rotation recovery, store/rotation.ts) to a file made before it. Rows
 * from before keep working with `next_jti` NULL: their next rotation issues a fresh jti and
 * chooses one, so only a rotation lost before that is unrecoverable. In one IMMEDIATE
 * transaction, so workers opening the same file at once add it once.
 */
function addNextJti(db: BetterSqlite3.Database): void {
  db.transaction(() => {
    const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('sessions')").all()
    if (!columns.some((c) => c.name === 'next_jti')) db.exec('ALTER TABLE sessions ADD COLUMN next_jti TEXT')
  }).immediate()
}

/**
 * The embedded store: one SQLite file in WAL mode, so sessions survive a restart with no set-up.
 * Several processes (workers) may share the file: each rotation is one `BEGIN IMMEDIATE`
 * transaction, which SQLite serialises across processes.
 *
 * better-sqlite3 is loaded lazily, so deployments on Redis never load the native addon.
 */
export async function createSqliteStore(options: SqliteStoreOptions): Promise<SessionStore> {
  const { default: Database } = await import('better-sqlite3')
  if (options.file !== ':memory:') mkdirSync(dirname(options.file), { recursive: true })
  const db: BetterSqlite3.Database = new Database(options.file)
  await enableWAL(db)
  db.pragma('synchronous = NORMAL')
  db.pragma('busy_timeout = 5000')
  db.exec(SCHEMA)
  addNextJti(db)

  const select = db.prepare<[string], Row>('SELECT * FROM sessions WHERE id = ?')
  const upsert = db.prepare<Row>(`INSERT OR REPLACE INTO sessions (id, user_id, current_jti,
    generation, current_issued_at, previous_jti, grace_until, created_at, last_used_at,
    expires_at, absolute_expires_at, revoked_at, user_agent, ip, next_jti) VALUES (@id, @user_id,
    @current_jti, @generation, @current_issued_at, @previous_jti, @grace_until, @created_at,
    @last_used_at, @expires_at, @absolute_expires_at, @revoked_at, @user_agent, @ip, @next_jti)`)
  const byUser = db.prepare<[string, number], Row>(
    'SELECT * FROM sessions WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC, rowid DESC',
  )
  const revoke = db.prepare<[number, string, number]>(
    'UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL AND expires_at > ?',
  )
  const revokeUser = db.prepare<[number, string, number]>(
    'UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?',
  )
  const purgeSessions = db.prepare<[number]>('DELETE FROM sessions WHERE expires_at <= ?')
  const purgeCounters = db.prepare<[number]>('DELETE FROM counters WHERE reset_at <= ?')
  const selectCounter = db.prepare<[string], { count: number; reset_at: number }>('SELECT count, reset_at FROM counters WHERE key = ?')
  const upsertCounter = db.prepare<[string, number, number]>('INSERT OR REPLACE INTO counters (key, count, reset_at) VALUES (?, ?, ?)')
  const deleteCounter = db.prepare<[string]>('DELETE FROM counters WHERE key = ?')
  // One statement, so atomic: only the window the reservation was made in, never below 0.
  const releaseCounter = db.prepare<[string, number]>('UPDATE counters SET count = count - 1 WHERE key = ? AND reset_at = ? AND count > 0')

  function read(id: string, now: number): SessionRecord | null {
    const row = select.get(id)
    return row === undefined || now >= row.expires_at ? null : toRecord(row)
  }

  // SPEC §3.2: the read-decide-write of a rotation is one IMMEDIATE transaction.
  const rotateTx = db.transaction((input: Parameters<SessionStore['rotate']>[0]) => {
    const { outcome, write } = decideRotation(read(input.id, input.now), input)
    if (write !== null) upsert.run(toParams(write))
    return outcome
  })
  // SPEC §9: create-if-missing and rotate in the same IMMEDIATE transaction, so racing workers
  // exchanging one legacy token start one session.
  const migrateTx = db.transaction((input: Parameters<SessionStore['migrateLegacy']>[0]) => {
    const { outcome, write } = decideMigration(read(input.id, input.now), input)
    if (write !== null) upsert.run(toParams(write))
    return outcome
  })
  const touchTx = db.transaction((input: Parameters<SessionStore['touch']>[0]) => {
    const { outcome, write } = decideTouch(read(input.id, input.now), input)
    if (write !== null) upsert.run(toParams(write))
    return outcome
  })
  const incrementTx = db.transaction((key: string, windowMs: number, now: number): Counter => {
    const row = selectCounter.get(key)
    const next =
      row === undefined || now >= row.reset_at ? { count: 1, reset_at: now + windowMs } : { count: row.count + 1, reset_at: row.reset_at }
    upsertCounter.run(key, next.count, next.reset_at)
    return { count: next.count, resetAt: next.reset_at }
  })

  return {
    kind: 'sqlite',
    async createSession(input) {
      const record = newRecord(input)
      // Expired rows go when new ones come, so the file stays bounded by live sessions.
      purgeSessions.run(input.now)
      upsert.run(toParams(record))
      return record
    },
    async rotate(input) {
      return rotateTx.immediate(input)
    },
    async migrateLegacy(input) {
      return migrateTx.immediate(input)
    },
    async touch(input) {
      return touchTx.immediate(input)
    },
    async getSession(id, now) {
      return read(id, now)
    },
    async revokeSession(id, now) {
      return revoke.run(now, id, now).changes > 0
    },
    async revokeUserSessions(userId, now) {
      return revokeUser.run(now, userId, now).changes
    },
    async listUserSessions(userId, now) {
      return byUser
        .all(userId, now)
        .filter((row) => row.revoked_at === null)
        .map(toRecord)
    },
    async incrementCounter(key, windowMs, now) {
      purgeCounters.run(now)
      return incrementTx.immediate(key, windowMs, now)
    },
    async getCounter(key, now) {
      const row = selectCounter.get(key)
      if (row === undefined || now >= row.reset_at) return { count: 0, resetAt: null }
      return { count: row.count, resetAt: row.reset_at }
    },
    async resetCounter(key) {
      deleteCounter.run(key)
    },
    async releaseCounter(key, resetAt) {
      releaseCounter.run(key, resetAt)
    },
    async ping() {
      const start = performance.now()
      db.prepare('SELECT 1').get()
      return performance.now() - start
    },
    async close() {
      if (db.open) db.close()
    },
  }
}
