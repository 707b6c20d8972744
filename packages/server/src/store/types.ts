import type { OutageSpan } from './outage-spans.js'

/**
 * The session store: where a refresh-token family (a session) lives.
 *
 * Validity needs a live record (an allow-list): a missing record always means "not valid",
 * so a store that loses data logs users out and never lets a revoked token back in (SPEC §3).
 * The store holds ids and times, never a token string or a password.
 *
 * Every time is milliseconds since the epoch, passed in by the caller (the injected clock),
 * so stores never read the wall clock themselves and tests never sleep.
 *
 * @example
 * ```ts
 * const store = createMemoryStore()
 * await store.createSession({ id: 's_1', userId: '42', jti: 'j1', nextJti: 'j2', now, expiresAt,
 *   absoluteExpiresAt, userAgent: null, ip: null })
 * const outcome = await store.rotate({ id: 's_1', jti: 'j1', generation: 1, newJti: 'j3',
 *   spareJti: 'j4', now, graceMs: 15_000, refreshLifetimeMs: 86_400_000 })
 * if (outcome.kind === 'rotated') issue(outcome.session.currentJti) // 'j2', generation 2
 * ```
 */
export interface SessionStore {
  /** A short name for logs and metrics: `memory`, `sqlite`, `redis`. */
  readonly kind: string
  /**
   * Stores a new session whose current refresh token is `input.jti` (generation 1) and whose
   * first rotation will issue `input.nextJti`.
   */
  createSession(input: NewSession): Promise<SessionRecord>
  /**
   * The one atomic operation of SPEC §3.2: given the presented refresh token's `jti`, rotate,
   * answer the grace successor, or detect reuse (and revoke). A missing or expired record is
   * `not_found`.
   */
  rotate(input: RotateInput): Promise<RotateOutcome>
  /**
   * SPEC §9 cut-over, in one atomic step: the session whose generation 0 is a simplejwt refresh
   * token. Missing: it is created at generation 0 and rotated at once (`rotated`, generation 1).
   * Present: the legacy token is presented to it as to {@link rotate} (`grace` inside the window,
   * `reused` once it is older, `revoked`, or `not_found` once expired), so parallel presentations
   * of one legacy token start one session and all answer its one successor.
   */
  migrateLegacy(input: MigrateInput): Promise<RotateOutcome>
  /** Rotation off (SPEC §3.3): checks that `jti` is current and updates last-used. */
  touch(input: TouchInput): Promise<TouchOutcome>
  /** The record, or `null` when missing or past its expiry (both mean "not valid"). */
  getSession(id: string, now: number): Promise<SessionRecord | null>
  /** Marks the session revoked; `false` when there was no live record. Idempotent. */
  revokeSession(id: string, now: number): Promise<boolean>
  /** Revokes every live session of the user; answers how many were revoked. */
  revokeUserSessions(userId: string, now: number): Promise<number>
  /** The user's live sessions (not revoked, not expired), newest first. */
  listUserSessions(userId: string, now: number): Promise<SessionRecord[]>
  /**
   * Adds one to a fixed-window counter (rate limits count failures with it) and answers the
   * count and when the window ends. A missing counter starts a new window.
   */
  incrementCounter(key: string, windowMs: number, now: number): Promise<Counter>
  /** The counter's current value; a missing or finished window is `{ count: 0 }`. */
  getCounter(key: string, now: number): Promise<Counter>
  /** Removes a counter (a successful login clears its failures). */
  resetCounter(key: string): Promise<void>
  /**
   * Takes back one count made in the window that ends at `resetAt` (the `resetAt` the increment
   * answered), in one atomic operation: a login reserves its attempt before the password check
   * and gives it back when the password was right (issue 11). Nothing happens when that window
   * is over or was reset, or the count is 0, so a late release never gives a new window a free
   * attempt.
   */
  releaseCounter(key: string, resetAt: number): Promise<void>
  /**
   * Stores that outlive the process (Redis) keep the outage spans of every instance
   * (outage-spans.ts), so that a retry reaching another instance, or one restarted, is credited
   * the same outage. Embedded stores have none: they live and die with the process.
   */
  saveOutage?(span: OutageSpan, now: number): Promise<void>
  /** The spans any instance saved that can still matter at `now`. */
  loadOutages?(now: number): Promise<OutageSpan[]>
  /** Round-trip latency in milliseconds; throws when the store cannot answer. */
  ping(): Promise<number>
  /** Releases connections and files. */
  close(): Promise<void>
}

export interface NewSession {
  id: string
  userId: string
  jti: string
  /**
   * The `jti` the first rotation issues, chosen now so that a lost first rotation can be
   * recovered (see {@link SessionRecord.nextJti}). Absent: that rotation issues a fresh one
   * (`RotateInput.spareJti`) and only later rotations are recoverable.
   */
  nextJti?: string
  now: number
  /** When the first refresh token expires: the record lives until then. */
  expiresAt: number
  /** The session's hard end (SPEC §3.4), anchored at login. */
  absoluteExpiresAt: number
  userAgent: string | null
  ip: string | null
}

export interface SessionRecord {
  id: string
  userId: string
  /** The `jti` of the only refresh token that rotates normally. */
  currentJti: string
  /** Generation of the current token; the first is 1. */
  generation: number
  /** When the current refresh token was issued (its `iat`), so a grace answer re-mints it exactly. */
  currentIssuedAt: number
  /**
   * The `jti` the next rotation of the current token issues (as generation + 1), chosen one
   * rotation ahead. So after a store loses an acknowledged rotation (a failover to an
   * asynchronous replica) it still knows the one token that rotation issued: the current
   * token's successor, exactly this jti at generation + 1, is rotated as if current. Any other
   * jti of a later generation is not valid (SPEC §3: the record must name the token); a larger
   * `gen` alone proves nothing. `null`: no successor chosen (a record from before this field,
   * or a caller that gave no `spareJti`), so a lost rotation of it is not recoverable.
   */
  nextJti: string | null
  /** The token the current one replaced, accepted until `graceUntil` (its successor is `currentJti`). */
  previousJti: string | null
  graceUntil: number | null
  createdAt: number
  lastUsedAt: number
  /** The record (and the current refresh token) expires then. */
  expiresAt: number
  absoluteExpiresAt: number
  revokedAt: number | null
  userAgent: string | null
  ip: string | null
}

export interface RotateInput {
  id: string
  /** The presented refresh token's `jti`. */
  jti: string
  /**
   * A fresh `jti`. If this call rotates, it becomes the record's `nextJti`: the token the
   * rotation after this one issues. (The token this rotation issues is the `nextJti` chosen
   * before, so a lost rotation can be recognised exactly.)
   */
  newJti: string
  /**
   * A second fresh `jti`, issued now when the record has no chosen successor to issue: a record
   * without `nextJti`, or a lost rotation being recovered (the successor that rotation chose was
   * lost with it). Absent then, `newJti` is issued and no successor is chosen (`nextJti: null`).
   */
  spareJti?: string
  now: number
  graceMs: number
  /**
   * When the store could not answer this instance (outage-spans.ts): the previous token's grace
   * window does not run during them (at most MAX_GRACE_CREDIT_MS more). Absent: no credit.
   */
  outages?: readonly OutageSpan[]
  /** The new token's lifetime; the record's expiry becomes min(now + this, absoluteExpiresAt). */
  refreshLifetimeMs: number
  /**
   * The presented token's generation (`gen`). A token of the record's generation + 1 whose jti
   * is the record's `nextJti` is the successor of a rotation the store acknowledged and then
   * lost (a failover): it rotates as if current, to generation + 2. Any other jti of a later
   * generation than the record is `not_found` (never a rotation, never reuse: nothing shows the
   * store issued it); an unknown jti of the record's generation or older is reuse.
   */
  generation?: number
  /**
   * The user the presented token names (`sub`). Stores do not use it (the record decides); the
   * guard's `store_error` line names it when the call fails (SPEC §3.5: `sid` and `sub`).
   */
  userId?: string
}

export interface MigrateInput {
  /** The session's id, derived from the legacy `jti` so that every instance names the same one. */
  id: string
  userId: string
  /** The simplejwt token's `jti`: generation 0 of the session. */
  legacyJti: string
  /** Generation 1's `jti`: what the legacy token is exchanged for. */
  newJti: string
  /** Generation 2's, chosen ahead (see SessionRecord.nextJti). */
  nextJti: string
  now: number
  graceMs: number
  refreshLifetimeMs: number
  /** The session's hard end (SPEC §3.4), anchored at the exchange. */
  absoluteExpiresAt: number
  /**
   * When the legacy token expires (ms). A new record lives at least until then, so the token is
   * exchanged once for its whole life: presented again, it finds the record (grace or reuse).
   */
  keepUntil: number
  userAgent: string | null
  ip: string | null
}

export type RotateOutcome =
  | { kind: 'rotated'; session: SessionRecord }
  /** The previous token inside its grace window: answer the same successor (`session.currentJti`). */
  | { kind: 'grace'; session: SessionRecord }
  /** An older token, or the previous one after grace: the session is now revoked. */
  | { kind: 'reused'; session: SessionRecord }
  | { kind: 'revoked' }
  /** No live record, or a later generation than the record with a jti it does not name. */
  | { kind: 'not_found' }

export interface TouchInput {
  id: string
  jti: string
  now: number
  /**
   * The user the presented token names (`sub`). Stores do not use it (the record decides); the
   * guard's `store_error` line names it when the call fails (SPEC §3.5: `sid` and `sub`).
   */
  userId?: string
}

export type TouchOutcome =
  | { kind: 'touched'; session: SessionRecord }
  | { kind: 'revoked' }
  /** No live record, or `jti` is not the current token. */
  | { kind: 'not_found' }

export interface Counter {
  count: number
  /** End of the window; `null` when the counter does not exist. */
  resetAt: number | null
}
