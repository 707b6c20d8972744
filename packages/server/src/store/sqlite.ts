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

/** Every column, named as the record's fields (in their order), so a row read is a record as it is. */
const RECORD_COLUMNS = `id, user_id AS userId, current_jti AS currentJti, generation, current_issued_at AS currentIssuedAt,
  next_jti AS nextJti, previous_jti AS previousJti, grace_until AS graceUntil, created_at AS createdAt,
  last_used_at AS lastUsedAt, expires_at AS expiresAt, absolute_expires_at AS absoluteExpiresAt,
  revoked_at AS revokedAt, user_agent AS userAgent, ip`

/**
 * What a rotation, grace answer, touch or reuse leaves as it was: the row keeps these, so an
 * UPDATE of the other columns writes the same row as writing it whole would.
 */
function sameFixedColumns(a: SessionRecord, b: SessionRecord): boolean {
  return (
    a.id === b.id &&
    a.userId === b.userId &&
    a.createdAt === b.createdAt &&
    a.absoluteExpiresAt === b.absoluteExpiresAt &&
    a.userAgent === b.userAgent &&
    a.ip === b.ip
  )
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
 *
 * Longer than ~100 lines on purpose: it is the SessionStore object over the prepared statements
 * and transactions this closure holds, one short method per operation (the rules are rotation.ts's).
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

  const select = db.prepare<[string], SessionRecord>(`SELECT ${RECORD_COLUMNS} FROM sessions WHERE id = ?`)
  const upsert = db.prepare<SessionRecord>(`INSERT OR REPLACE INTO sessions (id, user_id, current_jti,
    generation, current_issued_at, previous_jti, grace_until, created_at, last_used_at,
    expires_at, absolute_expires_at, revoked_at, user_agent, ip, next_jti) VALUES (@id, @userId,
    @currentJti, @generation, @currentIssuedAt, @previousJti, @graceUntil, @createdAt,
    @lastUsedAt, @expiresAt, @absoluteExpiresAt, @revokedAt, @userAgent, @ip, @nextJti)`)
  // INSERT OR REPLACE deletes the row and inserts it again, rewriting the primary key and both
  // indexes (about twice the WAL pages per rotation); a row that stays is updated in place, and
  // only in the columns it can change. SQLite leaves an index alone when the UPDATE assigns none
  // of its columns: sessions_user always (user_id, created_at are fixed), sessions_expiry when
  // expires_at stays (grace, touch, reuse).
  type Changeable = [string, number, number, string | null, number | null, number, number | null, string | null]
  const update = db.prepare<[...Changeable, number, string]>(`UPDATE sessions SET current_jti = ?, generation = ?,
    current_issued_at = ?, previous_jti = ?, grace_until = ?, last_used_at = ?, revoked_at = ?, next_jti = ?,
    expires_at = ? WHERE id = ?`)
  const updateSameExpiry = db.prepare<[...Changeable, string]>(`UPDATE sessions SET current_jti = ?, generation = ?,
    current_issued_at = ?, previous_jti = ?, grace_until = ?, last_used_at = ?, revoked_at = ?, next_jti = ? WHERE id = ?`)
  const byUser = db.prepare<[string, number], SessionRecord>(
    `SELECT ${RECORD_COLUMNS} FROM sessions WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC, rowid DESC`,
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
    return row === undefined || now >= row.expiresAt ? null : row
  }

  /**
   * Writes what a decision answered over `before`, the record read in the same transaction.
   * Null `before` can still have a row (an expired one, which migrateLegacy replaces).
   */
  function write(before: SessionRecord | null, after: SessionRecord): void {
    if (before === null || !sameFixedColumns(before, after)) {
      upsert.run(after)
      return
    }
    const { currentJti, generation, currentIssuedAt, previousJti, graceUntil, lastUsedAt, revokedAt, nextJti } = after
    const changeable: Changeable = [currentJti, generation, currentIssuedAt, previousJti, graceUntil, lastUsedAt, revokedAt, nextJti]
    if (after.expiresAt === before.expiresAt) updateSameExpiry.run(...changeable, after.id)
    else update.run(...changeable, after.expiresAt, after.id)
  }

  /**
   * SPEC §3.2: the read-decide-write of a rotation is one IMMEDIATE transaction (called with
   * `.immediate`); store/rotation.ts decides, the same rules as the Redis scripts.
   */
  function readDecideWrite<I extends { id: string; now: number }, O>(
    decide: (record: SessionRecord | null, input: I) => { outcome: O; write: SessionRecord | null },
  ) {
    return db.transaction((input: I): O => {
      const before = read(input.id, input.now)
      const decided = decide(before, input)
      if (decided.write !== null) write(before, decided.write)
      return decided.outcome
    })
  }
  const rotateTx = readDecideWrite(decideRotation)
  // SPEC §9: create-if-missing and rotate in the same transaction, so racing workers exchanging
  // one legacy token start one session.
  const migrateTx = readDecideWrite(decideMigration)
  const touchTx = readDecideWrite(decideTouch)
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
      upsert.run(record)
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
      return byUser.all(userId, now).filter((r) => r.revokedAt === null)
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
