import type { Pool, PoolClient } from 'pg'
import { ConfigError } from '../errors.js'
import { maskDatabaseURL, sanitizeError, secretsOf } from '../secrets.js'
import { UserStoreUnavailableError } from './errors.js'
import type { CreateUserOutcome, UserRecord, UserStore } from './types.js'

/** The part of a pino logger the store uses. */
export interface UserStoreLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface PostgresUserStoreOptions {
  /** `postgres://user:password@host:5432/db` (`DATABASE_URL`); `?sslmode=…` is honoured. */
  url: string
  log?: UserStoreLogger
  /** How long to wait for a new connection. @default 5000 */
  connectTimeoutMs?: number
  /** How long to wait for a query's answer. @default 5000 */
  queryTimeoutMs?: number
  /** Pool size per process. @default 10 */
  maxConnections?: number
}

/**
 * Schema versions, applied in order, each once, each in its own transaction. Append; never edit.
 * `COLLATE "C"` makes names compare byte for byte (case-sensitive, as the other stores) and keeps
 * the unique index independent of the OS's locale tables, whose changes corrupt text indexes.
 * Identity ids are never reused, so a deleted user's `sub` never names a new user.
 */
const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `CREATE TABLE baton_users (
      id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      username TEXT COLLATE "C" NOT NULL UNIQUE,
      password_hash TEXT NOT NULL,
      created_at TIMESTAMPTZ NOT NULL
    )`,
  },
]

/** Key of the session-level advisory lock held while migrating ("baton" in ASCII). */
const MIGRATION_LOCK_KEY = '422815403886'
const MAX_BIGINT = 9223372036854775807n

interface UserRow {
  id: string
  username: string
  password_hash: string
  created_at: Date
}

/**
 * The production user database: PostgreSQL through a `pg` Pool. The schema (`baton_users`,
 * `baton_migrations`) is created on start under an advisory lock, so any number of instances
 * may start at once. Unreachable or refusing → {@link UserStoreUnavailableError} (503); no error
 * or log line carries the URL's password.
 * @throws ConfigError when `url` is not a URL; UserStoreUnavailableError when the database
 * cannot be reached or migrated.
 */
export async function createPostgresUserStore(options: PostgresUserStoreOptions): Promise<UserStore> {
  const { url, log } = options
  const address = maskDatabaseURL(url)
  const secrets = secretsOf(url)
  checkPostgresURL(url, address)
  const { default: pg } = await import('pg')
  const pool: Pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    query_timeout: options.queryTimeoutMs ?? 5000,
    max: options.maxConnections ?? 10,
    keepAlive: true,
    application_name: 'baton',
  })
  // Without a listener, an idle connection dropped by the server would crash the process.
  pool.on('error', (err) => {
    log?.warn({ err: sanitizeError(err, secrets), address }, 'user database: idle connection lost')
  })

  function failure(operation: string, err: unknown): Error {
    const safe = sanitizeError(err, secrets) as Error & { code?: string }
    // Data (22), integrity (23) and syntax/schema (42) errors are bugs or hand-edited schemas,
    // not outages: they stay errors (500). Everything else (network, auth, shutdown) is a 503.
    if (safe.code !== undefined && /^(22|23|42)/.test(safe.code)) return safe
    return new UserStoreUnavailableError({ operation, address, cause: safe })
  }

  try {
    const applied = await migrate(pool)
    if (applied.length > 0) log?.info({ address, versions: applied }, 'user database migrated')
  } catch (err) {
    await pool.end().catch(() => {})
    throw failure('migrate', err)
  }

  return {
    kind: 'postgres',
    async createUser({ username, passwordHash, now }): Promise<CreateUserOutcome> {
      try {
        // ON CONFLICT makes a concurrent second insert wait for the first and then do nothing.
        const { rows } = await pool.query<{ id: string }>(
          `INSERT INTO baton_users (username, password_hash, created_at) VALUES ($1, $2, $3)
           ON CONFLICT (username) DO NOTHING RETURNING id`,
          [username, passwordHash, new Date(now)],
        )
        const row = rows[0]
        return row ? { kind: 'created', user: { id: String(row.id), username } } : { kind: 'taken' }
      } catch (err) {
        if ((err as { code?: unknown }).code === '23505') return { kind: 'taken' }
        throw failure('createUser', err)
      }
    },
    async findByUsername(username) {
      // PostgreSQL text cannot hold NUL; such a name cannot exist, and asking would be a 22021.
      if (username.includes('\u0000')) return null
      try {
        const { rows } = await pool.query<UserRow>('SELECT id, username, password_hash, created_at FROM baton_users WHERE username = $1', [
          username,
        ])
        return toRecord(rows[0])
      } catch (err) {
        throw failure('findByUsername', err)
      }
    },
    async findById(id) {
      if (!isCanonicalId(id)) return null
      try {
        const { rows } = await pool.query<UserRow>('SELECT id, username, password_hash, created_at FROM baton_users WHERE id = $1', [id])
        return toRecord(rows[0])
      } catch (err) {
        throw failure('findById', err)
      }
    },
    async updatePasswordHash({ id, oldHash, newHash }) {
      if (!isCanonicalId(id) || oldHash.includes('\u0000')) return false
      try {
        // One statement. Under READ COMMITTED, an UPDATE that meets a row a concurrent
        // transaction changed waits for it, then re-checks the WHERE clause on the new row:
        // a password changed meanwhile matches no row and is kept.
        const { rowCount } = await pool.query('UPDATE baton_users SET password_hash = $3 WHERE id = $1 AND password_hash = $2', [
          id,
          oldHash,
          newHash,
        ])
        return rowCount === 1
      } catch (err) {
        throw failure('updatePasswordHash', err)
      }
    },
    async close() {
      if (!pool.ended) await pool.end()
    },
  }
}

/** @throws ConfigError when `url` is not a PostgreSQL URL (`address` is it masked, for the message). */
function checkPostgresURL(url: string, address: string): void {
  if (!URL.canParse(url) || !/^postgres(ql)?:\/\//i.test(url)) {
    throw new ConfigError([
      {
        variable: 'DATABASE_URL',
        problem: `is not a PostgreSQL URL (${address}).`,
        fix:
          'Write postgres://user:password@host:5432/dbname, percent-encoding special ' +
          'characters in the password (@ as %40, # as %23, / as %2F).',
      },
    ])
  }
}

/** Applies pending migrations under an advisory lock; returns the versions applied. */
async function migrate(pool: Pool): Promise<number[]> {
  const client: PoolClient = await pool.connect()
  let broken = false
  try {
    // Session-level lock: a second instance waits here until the first has finished, then
    // finds nothing to do. The server drops the lock if this connection dies.
    await client.query({
      text: 'SELECT pg_advisory_lock($1)',
      values: [MIGRATION_LOCK_KEY],
      query_timeout: 60_000,
    } as { text: string; values: unknown[] })
    try {
      await client.query(
        `CREATE TABLE IF NOT EXISTS baton_migrations (
          version INTEGER PRIMARY KEY,
          applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )`,
      )
      const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM baton_migrations')
      const current = rows[0]?.version ?? 0
      const applied: number[] = []
      for (const migration of MIGRATIONS) {
        if (migration.version <= current) continue
        await client.query('BEGIN')
        try {
          await client.query(migration.sql)
          await client.query('INSERT INTO baton_migrations (version) VALUES ($1)', [migration.version])
          await client.query('COMMIT')
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {})
          throw err
        }
        applied.push(migration.version)
      }
      return applied
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {
        broken = true
      })
    }
  } catch (err) {
    broken = true
    throw err
  } finally {
    // A connection whose unlock failed may still hold the lock: destroy it rather than reuse it.
    client.release(broken)
  }
}

/** A decimal id a BIGINT column can hold (`"12"`, not `"012"` or `"1e1"`). */
function isCanonicalId(id: string): boolean {
  return /^[1-9][0-9]{0,18}$/.test(id) && BigInt(id) <= MAX_BIGINT
}

function toRecord(row: UserRow | undefined): UserRecord | null {
  if (row === undefined) return null
  return {
    id: String(row.id),
    username: row.username,
    passwordHash: row.password_hash,
    createdAt: row.created_at.getTime(),
  }
}
