import { resolve } from 'node:path'
import { maskDatabaseURL } from '../secrets.js'

/** Where users live, as `DATABASE_URL` names it (SPEC §5, §9). */
export type DatabaseLocation = { kind: 'postgres'; url: string } | { kind: 'sqlite'; file: string }

export type DatabaseURLParse = DatabaseLocation | { kind: 'invalid'; problem: string; fix: string }

const FIX =
  'Use postgres://user:password@host:5432/dbname, sqlite:////absolute/path/db.sqlite3 ' +
  '(four slashes; three before a path relative to the working directory), or unset it for the ' +
  'embedded database.'

/**
 * Reads `DATABASE_URL`: `postgres://` / `postgresql://` as given, or a SQLite file in
 * dj-database-url's form, so a Django project's own setting can be copied as it is:
 * `sqlite:////abs/path/db.sqlite3` is `/abs/path/db.sqlite3` (four slashes) and
 * `sqlite:///db.sqlite3` is `db.sqlite3` in the working directory (three); percent-escapes are
 * decoded. The file path comes back absolute. Never echoes a password in `problem`.
 */
export function parseDatabaseURL(raw: string, cwd: string = process.cwd()): DatabaseURLParse {
  const url = raw.trim()
  if (/^postgres(ql)?:\/\//i.test(url)) return { kind: 'postgres', url }
  const m = /^sqlite:\/\/(.*)$/i.exec(url)
  if (m === null) {
    const shown = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? maskDatabaseURL(url) : 'a value that is not a URL'
    return { kind: 'invalid', problem: `must be a postgres:// or sqlite:// URL (got ${shown}).`, fix: FIX }
  }
  const rest = m[1] ?? ''
  // dj-database-url: the host part is empty, so the path starts right after `sqlite://`.
  if (!rest.startsWith('/') || rest === '/') {
    return { kind: 'invalid', problem: `names no SQLite file (${url}).`, fix: FIX }
  }
  if (/[?#]/.test(rest)) {
    return { kind: 'invalid', problem: `takes no query string or fragment (${url}).`, fix: FIX }
  }
  let path: string
  try {
    // `sqlite:////abs` leaves `//abs`: the first slash ends the (empty) host, the next starts an
    // absolute path; `sqlite:///rel` leaves `/rel`, a relative one.
    path = decodeURIComponent(rest.slice(1))
  } catch {
    return { kind: 'invalid', problem: `has a bad percent-escape (${url}).`, fix: FIX }
  }
  if (path === '' || path === ':memory:' || path.includes('\u0000')) {
    return { kind: 'invalid', problem: `names no SQLite file (${url}).`, fix: FIX }
  }
  return { kind: 'sqlite', file: resolve(cwd, path) }
}

/** An unquoted SQL identifier, as Django's `db_table` and column names are: letters, digits, `_`. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

/**
 * Why `name` cannot be a table or column name (`DJANGO_USER_TABLE`, `DJANGO_USERNAME_FIELD`),
 * or `null`. Validated, then quoted: never pasted into SQL as it came.
 */
export function checkSQLIdentifier(name: string): string | null {
  return IDENTIFIER.test(name) ? null : `"${name}" is not a plain SQL identifier (letters, digits and _, at most 63).`
}
