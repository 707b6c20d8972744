import type BetterSqlite3 from 'better-sqlite3'
import type { Pool } from 'pg'
import { ConfigError } from '../errors.js'
import { checkSQLIdentifier, type DatabaseLocation } from './database-url.js'
import { maskDatabaseURL, sanitizeError, secretsOf } from '../secrets.js'
import { UserStoreUnavailableError } from './errors.js'
import type { UserRecord, UserStore } from './types.js'

/** A row of Django's user table, as baton reads it (SPEC §9: id, username, password, is_active). */
export interface DjangoUserRecord extends UserRecord {
  /** Django's `password` column: `pbkdf2_sha256$…`, `argon2$…`, `!…` (unusable), … */
  passwordHash: string
  isActive: boolean
}

/**
 * Django's user table, read-only (SPEC §9 "Django's users in place"): SQLite opened read-only,
 * PostgreSQL in read-only transactions running SELECTs only; nothing is created or written.
 * `createUser` throws and `updatePasswordHash` writes nothing (answers `false`), so neither
 * registration nor the login re-hash can touch Django's rows.
 */
export interface DjangoUserStore extends UserStore {
  readonly kind: 'django'
  findByUsername(username: string): Promise<DjangoUserRecord | null>
  findById(id: string): Promise<DjangoUserRecord | null>
  /** The id as tokens carry it in `user_id`, in Django's type: an integer key is a number. */
  userIdClaim(id: string): string | number
  /**
   * SPEC §9: whether simplejwt's blacklist (token_blacklist app) holds this `jti`; `false` when
   * the database has no blacklist tables (looked for once, at start).
   */
  isBlacklisted(jti: string): Promise<boolean>
  /** The newest usable hashes in the table at start (up to 20, newest first): models for the unknown-user stand-in. */
  readonly sampleHashes: readonly string[]
}

export interface DjangoUserStoreOptions {
  location: DatabaseLocation
  /** `DJANGO_USER_TABLE`. @default 'auth_user' */
  table?: string
  /** `DJANGO_USERNAME_FIELD`: the column users log in with. @default 'username' */
  usernameField?: string
  log?: { warn(obj: object, msg: string): void }
  /** How long SQLite waits for Django's write lock, and PostgreSQL for a connection. @default 5000 */
  timeoutMs?: number
}

/** Double-quoted, so a mixed-case `db_table` is read as Django (which quotes too) created it. */
function quote(name: string): string {
  return `"${name}"`
}

interface Row {
  id: number | bigint | string
  username: string
  password: string
  is_active: number | boolean
}

interface Backend {
  /**
   * The table's columns and their declared types; empty when no such table. SQLite's names are
   * lower-cased (it compares identifiers so); PostgreSQL's are exact (quoted names are).
   */
  columns(): Promise<Map<string, string>>
  /** How a name is looked up in `columns()`. */
  columnKey(name: string): string
  one(sql: string, param: string | number): Promise<Row[]>
  /** Whether a table of this name exists. */
  hasTable(name: string): Promise<boolean>
  sample(sql: string): Promise<string[]>
  close(): Promise<void>
}

/**
 * Opens Django's user table and checks its shape once.
 * @throws ConfigError when the table or a needed column is missing or a name is not an
 * identifier; UserStoreUnavailableError when the database cannot be reached.
 */
export async function createDjangoUserStore(options: DjangoUserStoreOptions): Promise<DjangoUserStore> {
  const table = options.table ?? 'auth_user'
  const usernameField = options.usernameField ?? 'username'
  const problems = [
    { variable: 'DJANGO_USER_TABLE', problem: checkSQLIdentifier(table) },
    { variable: 'DJANGO_USERNAME_FIELD', problem: checkSQLIdentifier(usernameField) },
  ].filter((p): p is { variable: string; problem: string } => p.problem !== null)
  if (problems.length > 0)
    throw new ConfigError(problems.map((p) => ({ ...p, fix: 'Write the table or column name as Django created it.' })))

  const { location } = options
  const timeoutMs = options.timeoutMs ?? 5000
  const backend =
    location.kind === 'sqlite'
      ? await openSqlite(location.file, table, timeoutMs)
      : await openPostgres(location.url, table, timeoutMs, options.log)
  const [id, name, password] = [quote('id'), quote(usernameField), quote('password')]
  const { columns, sampleHashes } = await readTableShape(backend, location, table, usernameField)
  // AbstractBaseUser declares is_active = True as a class attribute: a custom model without the
  // column has only active users, as Django's ModelBackend sees them.
  const active = columns.has(backend.columnKey('is_active')) ? quote('is_active') : '1'
  const idType = columns.get(backend.columnKey('id')) ?? ''
  const maxId = location.kind === 'sqlite' ? BigInt(Number.MAX_SAFE_INTEGER) : postgresIntegerMax(idType)
  const integerId = /int/i.test(idType)
  const uuidId = /^uuid$/i.test(idType)
  const select = `SELECT ${id} AS id, ${name} AS username, ${password} AS password, ${active} AS is_active FROM ${quote(table)}`
  const byName = `${select} WHERE ${name} = ${location.kind === 'sqlite' ? '?' : '$1'} LIMIT 2`
  const byId = `${select} WHERE ${id} = ${location.kind === 'sqlite' ? '?' : '$1'}`
  const warned = new Set<string>()
  // simplejwt's blacklist: BlacklistedToken.token → OutstandingToken, looked up by jti.
  const blacklist =
    (await backend.hasTable('token_blacklist_blacklistedtoken')) && (await backend.hasTable('token_blacklist_outstandingtoken'))
      ? `SELECT o.id AS id FROM token_blacklist_blacklistedtoken b JOIN token_blacklist_outstandingtoken o ON o.id = b.token_id WHERE o.jti = ${location.kind === 'sqlite' ? '?' : '$1'} LIMIT 1`
      : null

  /** The lookup value for an id as `sub` carries it, or `null` when no row can have it. */
  function idParam(sub: string): string | number | null {
    if (integerId) {
      // Canonical decimals the column can hold: a larger one would be a driver error (a 500).
      if (!/^(0|-?[1-9][0-9]{0,18})$/.test(sub)) return null
      const n = BigInt(sub)
      if (n > maxId || n < -maxId) return null
      return location.kind === 'sqlite' ? Number(sub) : sub
    }
    if (uuidId) return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(sub) ? sub : null
    return sub === '' || sub.includes('\u0000') ? null : sub
  }

  return {
    kind: 'django',
    sampleHashes,
    async findByUsername(username) {
      if (username === '' || username.includes('\u0000')) return null
      const rows = await backend.one(byName, username)
      if (rows.length > 1) {
        // Django's get() would fail (MultipleObjectsReturned) for such a name: nobody logs in as it.
        if (!warned.has('ambiguous')) {
          warned.add('ambiguous')
          options.log?.warn(
            { event: 'django_username_ambiguous', table, field: usernameField },
            `several rows of ${table} share one ${usernameField}; such logins are refused`,
          )
        }
        return null
      }
      return toRecord(rows[0])
    },
    async findById(sub) {
      const param = idParam(sub)
      return param === null ? null : toRecord((await backend.one(byId, param))[0])
    },
    async isBlacklisted(jti) {
      return blacklist !== null && (await backend.one(blacklist, jti)).length > 0
    },
    userIdClaim(sub) {
      // simplejwt: an int primary key stays an int in user_id; anything else becomes str().
      if (!integerId) return sub
      const n = Number(sub)
      return Number.isSafeInteger(n) ? n : sub
    },
    async createUser() {
      throw new TypeError("USER_STORE=django: baton never writes Django's user table")
    },
    async updatePasswordHash() {
      return false
    },
    close: () => backend.close(),
  }
}

/**
 * The table's column types, checked for `id`, the username field and `password`, and a sample of
 * its password hashes (for the hasher check). Closes `backend` when the table does not fit.
 */
async function readTableShape(
  backend: Backend,
  location: DatabaseLocation,
  table: string,
  usernameField: string,
): Promise<{ columns: Map<string, string>; sampleHashes: string[] }> {
  const [id, password] = [quote('id'), quote('password')]
  try {
    const columns = await backend.columns()
    const missing = ['id', usernameField, 'password'].filter((c) => !columns.has(backend.columnKey(c)))
    if (columns.size === 0 || missing.length > 0) {
      const where = location.kind === 'sqlite' ? location.file : maskDatabaseURL(location.url)
      throw new ConfigError([
        columns.size === 0
          ? {
              variable: 'DJANGO_USER_TABLE',
              problem: `no table ${table} in ${where}.`,
              fix: "Run Django's migrate there, or name your user model's table.",
            }
          : {
              variable: missing.includes(usernameField) ? 'DJANGO_USERNAME_FIELD' : 'DJANGO_USER_TABLE',
              problem: `table ${table} has no column ${missing.join(', ')}.`,
              fix: "Name the user model's table (db_table) and the USERNAME_FIELD column.",
            },
      ])
    }
    const sampleHashes = await backend.sample(
      `SELECT ${password} AS password FROM ${quote(table)} WHERE ${password} NOT LIKE '!%' ORDER BY ${id} DESC LIMIT 20`,
    )
    return { columns, sampleHashes }
  } catch (err) {
    await backend.close()
    throw err
  }
}

/** The largest value of a PostgreSQL integer type (`format_type` spelling). */
function postgresIntegerMax(type: string): bigint {
  if (/^smallint$/i.test(type)) return 32767n
  if (/^integer$/i.test(type)) return 2147483647n
  return 9223372036854775807n
}

function toRecord(row: Row | undefined): DjangoUserRecord | null {
  if (row === undefined || typeof row.password !== 'string') return null
  const isActive = row.is_active === true || row.is_active === 1 || (row.is_active as unknown) === 1n
  return { id: String(row.id), username: String(row.username), passwordHash: row.password, isActive, createdAt: 0 }
}

// Errors that mean "the file cannot be used right now", not "baton has a bug".
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|CORRUPT|NOTADB|PROTOCOL)/

/** The longest a read of Django's SQLite file waits for Django's write lock. */
const SQLITE_BUSY_WAIT_MS = 200

async function openSqlite(file: string, table: string, timeoutMs: number): Promise<Backend> {
  const { default: Database } = await import('better-sqlite3')
  let db: BetterSqlite3.Database
  try {
    // Read-only, and never created: a wrong path is an error, not a new empty database.
    // better-sqlite3 waits for a lock on the event loop itself, and Django writes this file
    // (last_login, migrations, admin): wait briefly, then SQLITE_BUSY is a 503, not a frozen process.
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: Math.min(timeoutMs, SQLITE_BUSY_WAIT_MS) })
  } catch (err) {
    throw new UserStoreUnavailableError({ operation: 'open', address: `sqlite:${file}`, cause: err })
  }
  const statements = new Map<string, BetterSqlite3.Statement>()
  function run<T>(operation: string, fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      const code = (err as { code?: unknown }).code
      if (typeof code === 'string' && SQLITE_UNAVAILABLE.test(code)) {
        throw new UserStoreUnavailableError({ operation, address: `sqlite:${file}`, cause: err })
      }
      throw err
    }
  }
  function prepared(sql: string): BetterSqlite3.Statement {
    let s = statements.get(sql)
    if (s === undefined) statements.set(sql, (s = db.prepare(sql)))
    return s
  }
  return {
    async columns() {
      return run('columns', () => {
        const rows = db.prepare(`SELECT name, type FROM pragma_table_info(?)`).all(table) as { name: string; type: string }[]
        return new Map(rows.map((r) => [r.name.toLowerCase(), r.type]))
      })
    },
    columnKey: (name) => name.toLowerCase(),
    async hasTable(name) {
      return run('columns', () => db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined)
    },
    async one(sql, param) {
      return run('find', () => prepared(sql).all(param) as Row[])
    },
    async sample(sql) {
      return run('sample', () =>
        (prepared(sql).all() as { password: unknown }[]).map((r) => r.password).filter((p): p is string => typeof p === 'string'),
      )
    },
    async close() {
      if (db.open) db.close()
    },
  }
}

async function openPostgres(url: string, table: string, timeoutMs: number, log: DjangoUserStoreOptions['log']): Promise<Backend> {
  const address = maskDatabaseURL(url)
  const secrets = secretsOf(url)
  const { default: pg } = await import('pg')
  const pool: Pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    max: 10,
    keepAlive: true,
    application_name: 'baton',
    // The server refuses any write in these sessions: read-only is enforced, not only intended.
    options: '-c default_transaction_read_only=on',
  })
  // Without a listener, an idle connection dropped by the server would crash the process.
  pool.on('error', (err) => {
    log?.warn({ err: sanitizeError(err, secrets), address }, 'Django user database: idle connection lost')
  })
  async function query<T>(operation: string, sql: string, values: unknown[]): Promise<T[]> {
    try {
      return (await pool.query(sql, values)).rows as T[]
    } catch (err) {
      const safe = sanitizeError(err, secrets) as Error & { code?: string }
      // Data, integrity and schema errors (22, 23, 42) are bugs or a changed schema: a 500.
      if (safe.code !== undefined && /^(22|23|42)/.test(safe.code)) throw safe
      throw new UserStoreUnavailableError({ operation, address, cause: safe })
    }
  }
  return {
    async columns() {
      // to_regclass resolves the name through search_path, as the queries below will.
      const rows = await query<{ name: string; type: string }>(
        'columns',
        `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
         WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`,
        [quote(table)],
      )
      return new Map(rows.map((r) => [r.name, r.type]))
    },
    columnKey: (name) => name,
    async hasTable(name) {
      return (await query<{ t: string | null }>('columns', 'SELECT to_regclass($1)::text AS t', [name]))[0]?.t != null
    },
    one: (sql, param) => query<Row>('find', sql, [param]),
    async sample(sql) {
      return (await query<{ password: unknown }>('sample', sql, []))
        .map((r) => r.password)
        .filter((p): p is string => typeof p === 'string')
    },
    async close() {
      if (!pool.ended) await pool.end()
    },
  }
}
