import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigError } from '../errors.js'
import { maskDatabaseURL } from './errors.js'
import type { UserStore } from './types.js'

/** The default data directory (SPEC §5 `BATON_DATA_DIR`). */
export const DEFAULT_DATA_DIR = './.baton'

/**
 * The user store the environment names (SPEC §5): PostgreSQL when `DATABASE_URL` is a
 * `postgres://` or `postgresql://` URL, else the SQLite file `users.db` in `BATON_DATA_DIR`
 * (created, mode 0700, when missing).
 * @throws ConfigError when `DATABASE_URL` is set to anything else: quietly falling back to the
 * embedded file would split users between instances.
 */
export async function openUserStore(env: Record<string, string | undefined>): Promise<UserStore> {
  const url = env.DATABASE_URL
  if (url !== undefined && url !== '') {
    if (!/^postgres(ql)?:\/\//i.test(url)) {
      throw new ConfigError([
        {
          variable: 'DATABASE_URL',
          problem: `must be a postgres:// or postgresql:// URL (got ${maskDatabaseURL(url)}).`,
          fix:
            'Set it to postgres://user:password@host:5432/dbname, or unset it to use the ' +
            'embedded SQLite file in BATON_DATA_DIR.',
        },
      ])
    }
    const { createPostgresUserStore } = await import('./postgres.js')
    return createPostgresUserStore({ url })
  }
  const dir = env.BATON_DATA_DIR || DEFAULT_DATA_DIR
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const { createSqliteUserStore } = await import('./sqlite.js')
  return createSqliteUserStore({ file: join(dir, 'users.db') })
}
