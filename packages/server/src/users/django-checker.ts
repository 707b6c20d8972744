import { createDjangoDummyHash, type DjangoVerifyOutcome, isVerifiableDjangoHash, verifyDjangoPassword } from './django-hashers.js'
import type { DjangoUserStore } from './django.js'
import { validatePassword } from './password.js'
import type { CredentialChecker, User, UserStore } from './types.js'

/** Whether a user store is Django's table (`USER_STORE=django`). */
export function isDjangoUserStore(store: UserStore | null): store is DjangoUserStore {
  return store !== null && store.kind === 'django'
}

export interface DjangoCredentialCheckerOptions {
  /** Where the one-per-hasher warnings go (never a password, a hash or a username). */
  log?: { warn(obj: object, msg: string): void }
  /** The verification; tests inject a counting wrapper. @default verifyDjangoPassword */
  verify?: (password: string, encoded: string) => Promise<DjangoVerifyOutcome>
}

/**
 * The credential check for `USER_STORE=django` (SPEC §9): Django's own answer for Django's rows.
 * An unknown user, an unusable password, an unknown hasher, a wrong password and an inactive
 * user are all `null` (`invalid_credentials`), and each costs one verification of a hash like
 * the table's own (SPEC §1: same answer, similar time), so timing tells nothing of which.
 *
 * The username is looked up exactly as given, as Django's ModelBackend does at login (no
 * normalization). Nothing is re-hashed: baton never writes Django's table.
 */
export function createDjangoCredentialChecker(store: DjangoUserStore, options: DjangoCredentialCheckerOptions = {}): CredentialChecker {
  const verify = options.verify ?? verifyDjangoPassword
  // Random salt and digest, with the hasher and cost of the table's newest verifiable hash: what
  // Django's default hasher costs there now (Django's ModelBackend runs it for unknown users).
  const dummyHash = createDjangoDummyHash(store.sampleHashes.find(isVerifiableDjangoHash) ?? null)
  const warned = new Set<string>()

  function warnOnce(outcome: DjangoVerifyOutcome): void {
    if (outcome.kind !== 'unknown_hasher' && outcome.kind !== 'malformed') return
    const key = `${outcome.kind}:${outcome.algorithm}`
    if (warned.has(key)) return
    warned.add(key)
    if (outcome.kind === 'unknown_hasher') {
      options.log?.warn(
        { event: 'django_unknown_hasher', hasher: outcome.algorithm },
        `a Django user's password uses the ${outcome.algorithm} hasher, which baton does not verify: such users get invalid_credentials until they set a new password in Django`,
      )
    } else {
      options.log?.warn(
        { event: 'django_hash_unreadable', hasher: outcome.algorithm },
        `a Django user's ${outcome.algorithm} password hash is malformed or beyond baton's cost limits: such users get invalid_credentials`,
      )
    }
  }

  return {
    async check(username, password, options = {}): Promise<User | null> {
      // Whether a password is acceptable does not depend on the username: refusing early tells
      // nothing about who exists.
      if (typeof username !== 'string' || validatePassword(password) !== null) return null
      const record = await store.findByUsername(username)
      // Issue 15: a client gone during the look-up is not worth a hash verification.
      options.signal?.throwIfAborted()
      if (record === null) {
        await verify(password, dummyHash)
        return null
      }
      const outcome = await verify(password, record.passwordHash)
      if (outcome.kind === 'match') return record.isActive ? { id: record.id, username: record.username } : null
      if (outcome.kind !== 'mismatch') {
        // Unusable or unverifiable: answered as fast as Django's default hasher would answer.
        warnOnce(outcome)
        await verify(password, dummyHash)
      }
      return null
    },
    async findById(id) {
      // Django's JWTAuthentication refuses an inactive user's token; so does /api/me/.
      const record = await store.findById(id)
      return record?.isActive ? { id: record.id, username: record.username } : null
    },
    userIdClaim: (id) => store.userIdClaim(id),
  }
}
