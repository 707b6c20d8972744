import { closeSync, openSync } from 'node:fs'
import type BetterSqlite3 from 'better-sqlite3'
import { UserStoreUnavailableError } from './errors.js'
import type { CreateUserOutcome, UserRecord, UserStore } from './types.js'
import { enableWAL } from '../sqlite-wal.js'

export interface SqliteUserStoreOptions {
  /** The database file (created with mode 0600 when missing), or `:memory:`. */
  file: string
  /** How long a write waits for another process holding the file's write lock. @default 5000 */
  busyTimeoutMs?: number
}

/**
 * Schema versions, applied in order, each once, inside one write transaction. Append; never edit.
 * AUTOINCREMENT keeps ids of deleted users from being handed to new users, whose tokens would
 * otherwise carry a `sub` that still-valid old tokens also carry.
 */
const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `CREATE TABLE users (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      username TEXT NOT NULL UNIQUE,
      password_hash TEXT NOT NULL,
      created_at INTEGER NOT NULL
    ) STRICT`,
  },
]

interface UserRow {
  id: number
  username: string
  password_hash: string
  created_at: number
}

// Errors that mean "the file cannot be used right now", not "baton has a bug".
const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|READONLY|CANTOPEN|CORRUPT|NOTADB)/

/**
 * The embedded user database: one SQLite file in WAL mode, with a `users` table created on open.
 * better-sqlite3 (a native addon) is imported only here, so memory-only setups never load it.
 * Its calls are synchronous and short (an indexed lookup), so they run inline.
 */
export async function createSqliteUserStore(options: SqliteUserStoreOptions): Promise<UserStore> {
  const { file } = options
  const { default: Database } = await import('better-sqlite3')
  let db: BetterSqlite3.Database
  try {
    // Created here so the mode is 0600: the file holds password hashes.
    if (file !== ':memory:') closeSync(openSync(file, 'a', 0o600))
    db = new Database(file, { timeout: options.busyTimeoutMs ?? 5000 })
  } catch (err) {
    throw new UserStoreUnavailableError({ operation: 'open', address: file, cause: err })
  }
  try {
    await enableWAL(db, options.busyTimeoutMs ?? 5000)
    // Users are written rarely; FULL makes a created user survive a power cut too.
    db.pragma('synchronous = FULL')
    migrate(db)
  } catch (err) {
    db.close()
    throw new UserStoreUnavailableError({ operation: 'migrate', address: file, cause: err })
  }

  const insert = db.prepare<[string, string, number]>('INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)')
  const byName = db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?')
  const byId = db.prepare<[number], UserRow>('SELECT * FROM users WHERE id = ?')
  // One statement: the comparison and the write happen under SQLite's write lock together.
  const setHash = db.prepare<[string, number, string]>('UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?')

  function run<T>(operation: string, fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      if (UNAVAILABLE_CODES.test(errorCode(err))) {
        throw new UserStoreUnavailableError({ operation, address: file, cause: err })
      }
      throw err
    }
  }

  return {
    kind: 'sqlite',
    async createUser({ username, passwordHash, now }): Promise<CreateUserOutcome> {
      return run('createUser', () => {
        try {
          const { lastInsertRowid } = insert.run(username, passwordHash, now)
          return { kind: 'created', user: { id: String(lastInsertRowid), username } }
        } catch (err) {
          // The UNIQUE index decides, so concurrent creates (even from other processes) yield
          // exactly one `created`.
          if (errorCode(err) === 'SQLITE_CONSTRAINT_UNIQUE') return { kind: 'taken' }
          throw err
        }
      })
    },
    async findByUsername(username) {
      return run('findByUsername', () => toRecord(byName.get(username)))
    },
    async findById(id) {
      const rowid = parseId(id)
      if (rowid === null) return null
      return run('findById', () => toRecord(byId.get(rowid)))
    },
    async updatePasswordHash({ id, oldHash, newHash }) {
      const rowid = parseId(id)
      if (rowid === null) return false
      return run('updatePasswordHash', () => setHash.run(newHash, rowid, oldHash).changes === 1)
    },
    async close() {
      if (db.open) db.close()
    },
  }
}

function migrate(db: BetterSqlite3.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS baton_migrations (
    version INTEGER PRIMARY KEY,
    applied_at INTEGER NOT NULL
  )`)
  // IMMEDIATE takes the write lock before reading the version, so two processes opening a new
  // file together cannot both decide to apply the same migration.
  db.transaction(() => {
    const row = db.prepare('SELECT max(version) AS version FROM baton_migrations').get() as {
      version: number | null
    }
    const current = row.version ?? 0
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue
      db.exec(migration.sql)
      db.prepare('INSERT INTO baton_migrations (version, applied_at) VALUES (?, ?)').run(migration.version, Date.now())
    }
  }).immediate()
}

function toRecord(row: UserRow | undefined): UserRecord | null {
  if (row === undefined) return null
  return {
    id: String(row.id),
    username: row.username,
    passwordHash: row.password_hash,
    createdAt: row.created_at,
  }
}

/** A canonical positive integer id (`"12"`, not `"012"`, `"1e1"` or `"12.0"`), else `null`. */
function parseId(id: string): number | null {
  if (!/^[1-9][0-9]{0,15}$/.test(id)) return null
  const n = Number(id)
  return Number.isSafeInteger(n) ? n : null
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : ''
}
