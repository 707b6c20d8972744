import { join } from 'node:path'
import { createSqliteUserStore } from '../../packages/server/src/users/sqlite.js'
import { DEFAULT_SCRYPT_PARAMS, type ScryptParams, hashPassword } from '../../packages/server/src/users/password.js'

/**
 * Set-up only: the users the refresh and protected modes log in once each, before anything is
 * timed, with a cheap hash so that 64 set-up logins do not take 13 s of scrypt. The login mode's
 * user has the default (OWASP) hash; `login-fast`'s has the cheap one and is labelled as such.
 */
export const SETUP_SCRYPT: ScryptParams = { ln: 10, r: 8, p: 1 }
export const PASSWORD = 'correct horse battery staple'
export const OWASP_USER = 'bench-owasp'
export const FAST_USER = 'bench-fast'
export const sessionUser = (i: number): string => `bench-user-${i}`

let owaspHash: string | null = null

/** Writes the bench users into `<dataDir>/users.db`, the embedded user database the server opens. */
export async function seedUsers(dataDir: string, sessions: number): Promise<void> {
  const store = await createSqliteUserStore({ file: join(dataDir, 'users.db') })
  try {
    const cheap = await hashPassword(PASSWORD, SETUP_SCRYPT)
    owaspHash ??= await hashPassword(PASSWORD, DEFAULT_SCRYPT_PARAMS)
    const now = Date.now()
    for (let i = 0; i < sessions; i++) await store.createUser({ username: sessionUser(i), passwordHash: cheap, now })
    await store.createUser({ username: OWASP_USER, passwordHash: owaspHash, now })
    await store.createUser({ username: FAST_USER, passwordHash: cheap, now })
  } finally {
    await store.close()
  }
}
