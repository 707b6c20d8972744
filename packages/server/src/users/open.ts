import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigError } from '../errors.js'
import { parseDatabaseURL } from './database-url.js'
import type { UserStore } from './types.js'

/** The default data directory (SPEC §5 `BATON_DATA_DIR`). */
export const DEFAULT_DATA_DIR = './.baton'

/** `USER_STORE` (SPEC §9): baton's own user table, or Django's, read-only. */
export type UserStoreKind = 'baton' | 'django'

/**
 * The user store the environment names (SPEC §5, §9). `USER_STORE=baton` (the default):
 * PostgreSQL when `DATABASE_URL` is a `postgres://` or `postgresql://` URL, the SQLite file it
 * names in dj-database-url's `sqlite:////abs/path` form, else the SQLite file `users.db` in
 * `BATON_DATA_DIR` (created, mode 0700, when missing). `USER_STORE=django`: Django's user table
 * (`DJANGO_USER_TABLE`, `DJANGO_USERNAME_FIELD`) in the database `DATABASE_URL` names, read-only.
 * @throws ConfigError when `DATABASE_URL` is set to anything else (quietly falling back to the
 * embedded file would split users between instances), or a variable is invalid.
 */
export async function openUserStore(
  env: Record<string, string | undefined>,
  options: { log?: { warn(obj: object, msg: string): void } } = {},
): Promise<UserStore> {
  const kind = readUserStoreKind(env.USER_STORE)
  const raw = env.DATABASE_URL
  const location = raw === undefined || raw.trim() === '' ? null : parseDatabaseURL(raw)
  if (location?.kind === 'invalid') {
    throw new ConfigError([{ variable: 'DATABASE_URL', problem: location.problem, fix: location.fix }])
  }
  if (kind === 'django') {
    if (location === null) throw new ConfigError([DJANGO_NEEDS_DATABASE])
    const { createDjangoUserStore } = await import('./django.js')
    return createDjangoUserStore({
      location,
      ...(env.DJANGO_USER_TABLE ? { table: env.DJANGO_USER_TABLE.trim() } : {}),
      ...(env.DJANGO_USERNAME_FIELD ? { usernameField: env.DJANGO_USERNAME_FIELD.trim() } : {}),
      ...(options.log ? { log: options.log } : {}),
    })
  }
  if (location?.kind === 'postgres') {
    const { createPostgresUserStore } = await import('./postgres.js')
    return createPostgresUserStore({ url: location.url })
  }
  if (location?.kind === 'sqlite') {
    const { createSqliteUserStore } = await import('./sqlite.js')
    return createSqliteUserStore({ file: location.file })
  }
  const dir = env.BATON_DATA_DIR || DEFAULT_DATA_DIR
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const { createSqliteUserStore } = await import('./sqlite.js')
  return createSqliteUserStore({ file: join(dir, 'users.db') })
}

/** The problem of `USER_STORE=django` without a `DATABASE_URL`. */
export const DJANGO_NEEDS_DATABASE = {
  variable: 'DATABASE_URL',
  problem: "is unset, but USER_STORE=django reads users from Django's database.",
  fix: "Set it as Django's DATABASE_URL: postgres://user:password@host:5432/dbname or sqlite:////abs/path/db.sqlite3.",
}

/** `USER_STORE`'s value (case-insensitive; unset or empty is `baton`). @throws ConfigError */
export function readUserStoreKind(raw: string | undefined): UserStoreKind {
  const v = (raw ?? '').trim().toLowerCase()
  if (v === '' || v === 'baton') return 'baton'
  if (v === 'django') return 'django'
  throw new ConfigError([{ variable: 'USER_STORE', problem: `"${raw}" is not one of baton, django.`, fix: 'Use baton or django.' }])
}
