/** A user as the service sees it: an id and a name. Ids are strings on the wire (`sub`). */
export interface User {
  id: string
  username: string
}

export interface UserRecord extends User {
  /** A self-describing hash (`scrypt$…`); see `users/password.ts`. */
  passwordHash: string
  createdAt: number
}

/**
 * Where users live: the embedded SQLite file by default, PostgreSQL in production.
 * Users and sessions are separate stores (SPEC §5: `DATABASE_URL`).
 *
 * Usernames are stored and compared exactly as given (case-sensitive, no normalization): callers
 * pass them through `normalizeUsername` and `validateUsername` (users/password.ts) first.
 * A database that cannot answer makes a method throw `UserStoreUnavailableError` (a 503); the
 * suite every implementation passes is `test/users/contract.ts`.
 */
export interface UserStore {
  /** `memory`, `sqlite`, `postgres` or `django` (Django's table, read-only: users/django.ts). */
  readonly kind: string
  /** Creates the user; `taken` when the username exists (usernames compare case-sensitively). */
  createUser(input: { username: string; passwordHash: string; now: number }): Promise<CreateUserOutcome>
  /** The user, or `null` when no such username. */
  findByUsername(username: string): Promise<UserRecord | null>
  /** The user, or `null` when no such id (a malformed id included: never an error). */
  findById(id: string): Promise<UserRecord | null>
  /**
   * Replaces the user's password hash with `newHash` only if it is still `oldHash` (an atomic
   * compare-and-set), so a re-hash at login never overwrites a password changed meanwhile.
   * `true` when written; `false` when the hash is no longer `oldHash` or there is no such id
   * (a malformed id included: never an error).
   */
  updatePasswordHash(input: { id: string; oldHash: string; newHash: string }): Promise<boolean>
  close(): Promise<void>
}

export type CreateUserOutcome = { kind: 'created'; user: User } | { kind: 'taken' }

/**
 * The credential check login uses. baton's default checks its own user store; an application
 * with its own user table passes its own (see README, "Bring your own users").
 */
export interface CredentialChecker {
  /**
   * The user for these credentials, or `null`: never says which part was wrong. `options.signal`
   * aborts when the login's client has closed its connection: a checker may then skip work it has
   * not begun (throwing anything), since nobody will read the answer.
   */
  check(username: string, password: string, options?: CheckOptions): Promise<User | null>
  /** Looks a user up by id for `/api/me/`; `null` when gone. */
  findById(id: string): Promise<User | null>
  /**
   * The id as access tokens carry it in `user_id` (SPEC §9): Django's users keep Django's type,
   * so an integer key is a JSON number; `sub` is always the string. @default the string id
   */
  userIdClaim?(id: string): string | number
}

/** What login passes to {@link CredentialChecker.check} besides the credentials. */
export interface CheckOptions {
  /** Aborted when the client closed its connection (issue 15): nothing new should start. */
  signal?: AbortSignal
}
