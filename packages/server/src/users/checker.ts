import {
  createDummyHash,
  DEFAULT_SCRYPT_PARAMS,
  normalizeUsername,
  type ScryptParams,
  validatePassword,
  validateUsername,
  verifyPassword,
} from './password.js'
import type { CredentialChecker, User, UserStore } from './types.js'

export interface CredentialCheckerOptions {
  /**
   * The params of the stand-in hash verified for unknown users: use the params new hashes are
   * made with, so both paths cost the same. @default DEFAULT_SCRYPT_PARAMS
   */
  params?: ScryptParams
  /** The verification; tests inject a counting wrapper. @default verifyPassword */
  verify?: (password: string, hash: string) => Promise<boolean>
}

/**
 * baton's own credential check against a {@link UserStore}. The answer for an unknown user and
 * for a wrong password is the same `null`, and both run one scrypt verification (SPEC §1
 * `invalid_credentials`: same answer, similar time), so timing does not tell which names exist.
 * The username is NFKC-normalized first, as at registration.
 */
export function createCredentialChecker(
  store: UserStore,
  options: CredentialCheckerOptions = {},
): CredentialChecker {
  const verify = options.verify ?? verifyPassword
  // Random salt and key: no password matches it, and verifying costs what a real hash costs.
  const dummyHash = createDummyHash(options.params ?? DEFAULT_SCRYPT_PARAMS)

  return {
    async check(username, password): Promise<User | null> {
      // Whether a password is acceptable does not depend on the username, so refusing it early
      // tells nothing about who exists (and spares scrypt a 1 MB input).
      if (typeof username !== 'string' || validatePassword(password) !== null) return null
      const name = normalizeUsername(username)
      const record = validateUsername(name) === null ? await store.findByUsername(name) : null
      if (record === null) {
        await verify(password, dummyHash)
        return null
      }
      const ok = await verify(password, record.passwordHash)
      return ok ? { id: record.id, username: record.username } : null
    },
    async findById(id) {
      const record = await store.findById(id)
      return record ? { id: record.id, username: record.username } : null
    },
  }
}
