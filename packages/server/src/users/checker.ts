import { type BackgroundTasks, createBackgroundTasks } from '../background-tasks.js'
import {
  createDummyHash,
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  needsRehash,
  normalizeUsername,
  readHashParams,
  type ScryptParams,
  validatePassword,
  validateUsername,
  verifyPassword,
} from './password.js'
import type { CredentialChecker, User, UserRecord, UserStore } from './types.js'

/** The part of a pino logger the checker uses. */
export interface CredentialCheckerLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface CredentialCheckerOptions {
  /**
   * The params new hashes are made with. The unknown-user stand-in hash uses them, so both paths
   * cost the same, and a stored hash made with other params is re-hashed with them after a
   * successful login. @default DEFAULT_SCRYPT_PARAMS
   */
  params?: ScryptParams
  /** The verification; tests inject a counting wrapper. @default verifyPassword */
  verify?: (password: string, hash: string) => Promise<boolean>
  /** Makes the re-hash's new hash; tests inject one. @default hashPassword(password, params) */
  hash?: (password: string) => Promise<string>
  /** Where re-hash outcomes and failures go (never a password or a hash). @default none */
  log?: CredentialCheckerLogger
  /**
   * Runs the re-hashes; `createServer` passes its own so that `close()` waits for them.
   * @default a private one nobody waits for
   */
  background?: BackgroundTasks
  /** Told each re-hash's outcome (the server counts them in `/metrics`). @default nothing */
  onRehash?: (outcome: RehashOutcome) => void
}

/** `deferred`: another re-hash was running, so the user's next login does it. */
export type RehashOutcome = 'rehashed' | 'skipped' | 'deferred' | 'failed'

/**
 * Re-hashes running at once, per process. Each holds a thread of libuv's pool (4 by default) for
 * one scrypt, and 128 MiB at the default params; logins' own verifications need the rest. A login
 * that finds the limit reached skips its re-hash: the user's next login does it.
 */
const MAX_REHASHES_IN_FLIGHT = 1

/**
 * baton's own credential check against a {@link UserStore}. The answer for an unknown user and
 * for a wrong password is the same `null`, and both run one scrypt verification (SPEC §1
 * `invalid_credentials`: same answer, similar time), so timing does not tell which names exist.
 * The username is NFKC-normalized first, as at registration.
 *
 * After a successful check, a stored hash made with other params than `params` is re-hashed and
 * stored with `UserStore.updatePasswordHash`, as Django's `check_password(setter=…)` does when
 * the hasher `must_update`; the password is known in clear only at login. The compare-and-set
 * keeps a password changed meanwhile.
 */
export function createCredentialChecker(store: UserStore, options: CredentialCheckerOptions = {}): CredentialChecker {
  const params = options.params ?? DEFAULT_SCRYPT_PARAMS
  const verify = options.verify ?? verifyPassword
  const hash = options.hash ?? ((password: string) => hashPassword(password, params))
  const background = options.background ?? createBackgroundTasks()
  const log = options.log
  const onRehash = options.onRehash ?? (() => {})
  // Random salt and key: no password matches it, and verifying costs what a real hash costs.
  const dummyHash = createDummyHash(params)
  let rehashesInFlight = 0

  /**
   * Started, not awaited: the login answers without waiting for it. Done inline, the second
   * scrypt would double every such login's time (about 0.4 s more at the default params) for
   * work the user gains nothing from now. scrypt runs on libuv's thread pool, so the event loop
   * goes on answering meanwhile. A failure is logged once and changes nothing: the old hash still
   * verifies, and the next login tries again.
   */
  function startRehash(record: UserRecord, password: string): void {
    if (rehashesInFlight >= MAX_REHASHES_IN_FLIGHT) {
      onRehash('deferred')
      return
    }
    rehashesInFlight++
    background.run(async () => {
      const fields = {
        sub: record.id,
        from: readHashParams(record.passwordHash),
        to: { ln: params.ln, r: params.r, p: params.p },
      }
      try {
        const newHash = await hash(password)
        const id = record.id
        if (await store.updatePasswordHash({ id, oldHash: record.passwordHash, newHash })) {
          log?.info({ audit: 'password_rehashed', ...fields }, 'password_rehashed')
          onRehash('rehashed')
        } else {
          // The password changed (or the user went) since this login read the hash: keep theirs.
          const msg = 'password re-hash skipped: the stored hash changed meanwhile'
          log?.info({ event: 'password_rehash_skipped', ...fields }, msg)
          onRehash('skipped')
        }
      } catch (err) {
        const msg = 'password re-hash failed; the login succeeded and the old hash stays'
        log?.warn({ event: 'password_rehash_failed', ...fields, err }, msg)
        onRehash('failed')
      } finally {
        rehashesInFlight--
      }
    })
  }

  return {
    async check(username, password, options = {}): Promise<User | null> {
      // Whether a password is acceptable does not depend on the username, so refusing it early
      // tells nothing about who exists (and spares scrypt a 1 MB input).
      if (typeof username !== 'string' || validatePassword(password) !== null) return null
      const name = normalizeUsername(username)
      const record = validateUsername(name) === null ? await store.findByUsername(name) : null
      // Issue 15: a client gone during the look-up is not worth ~0.4 s of scrypt.
      options.signal?.throwIfAborted()
      if (record === null) {
        await verify(password, dummyHash)
        return null
      }
      const ok = await verify(password, record.passwordHash)
      if (!ok) return null
      if (needsRehash(record.passwordHash, params)) startRehash(record, password)
      return { id: record.id, username: record.username }
    },
    async findById(id) {
      const record = await store.findById(id)
      return record ? { id: record.id, username: record.username } : null
    },
  }
}
