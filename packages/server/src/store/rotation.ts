import { graceCredit } from './outage-spans.js'
import type { RotateInput, RotateOutcome, SessionRecord, TouchInput, TouchOutcome } from './types.js'

/**
 * SPEC §3.2 as a pure function over one record, shared by the memory and SQLite stores (each runs
 * it inside its own atomic section; Redis runs the same rules in Lua). Answers the outcome and
 * the record to write back, or `null` when nothing changes.
 *
 * The record at generation g names three tokens: `currentJti` (the one that rotates),
 * `previousJti` (answered with the same successor until `graceUntil`) and `nextJti` (what the
 * current token's rotation will issue, at g + 1: chosen one rotation ahead, at creation or at
 * the rotation before). Rotating the current token: previous ← it, current ← `nextJti`,
 * `nextJti` ← `input.newJti`, g + 1.
 *
 * A lost rotation (acknowledged, then lost in a failover to an asynchronous replica) leaves the
 * record at g, and the token it issued is exactly (`nextJti`, g + 1): presented, it rotates as
 * if current, to g + 2, issuing `input.spareJti` (the successor that rotation chose was lost
 * with it). Its predecessor is current again: presented first (another tab, a retry), it rotates
 * once more and issues that same jti with a new `iat`, where the lost write would have answered
 * grace; once the successor has rotated, the predecessor is two generations old, reuse, as
 * without the loss. Two lost rotations of one session cannot be told from a forgery: g + 2 or
 * later is `not_found` and the user logs in again.
 */
export function decideRotation(record: SessionRecord | null, input: RotateInput): { outcome: RotateOutcome; write: SessionRecord | null } {
  const { now } = input
  // A missing or expired record means "not valid", never "valid" (SPEC §3).
  if (record === null || now >= record.expiresAt) return { outcome: { kind: 'not_found' }, write: null }
  if (record.revokedAt !== null) return { outcome: { kind: 'revoked' }, write: null }

  // The current token rotates; so does the successor of a rotation this store lost (above).
  const lost = record.nextJti !== null && input.jti === record.nextJti && input.generation === record.generation + 1
  if (input.jti === record.currentJti || lost) {
    // Issue the successor chosen one rotation ahead; a fresh one where there is none (a record
    // without it, or the lost rotation's own choice, which is lost with it).
    const issued = !lost && record.nextJti !== null ? record.nextJti : (input.spareJti ?? input.newJti)
    const next: SessionRecord = {
      ...record,
      previousJti: input.jti,
      graceUntil: now + input.graceMs,
      currentJti: issued,
      nextJti: issued === input.newJti ? null : input.newJti,
      generation: record.generation + (lost ? 2 : 1),
      currentIssuedAt: now,
      lastUsedAt: now,
      // SPEC §3.4: rotation never extends the absolute lifetime.
      expiresAt: Math.min(now + input.refreshLifetimeMs, record.absoluteExpiresAt),
    }
    return { outcome: { kind: 'rotated', session: next }, write: next }
  }

  // SPEC §3.2: the previous token within grace answers the same successor.
  // The window does not run while the store could not answer (outage-spans.ts says why).
  if (
    input.jti === record.previousJti &&
    record.graceUntil !== null &&
    now - graceCredit(input.outages, record.graceUntil, input.graceMs, now) < record.graceUntil
  ) {
    const next: SessionRecord = { ...record, lastUsedAt: now }
    return { outcome: { kind: 'grace', session: next }, write: next }
  }

  // SPEC §3: a later generation the record does not name is not valid. It is not reuse either:
  // nothing shows this store ever issued it (more than one lost rotation, or not baton's doing),
  // and answering reuse would let it revoke the session.
  if (input.generation !== undefined && input.generation > record.generation) {
    return { outcome: { kind: 'not_found' }, write: null }
  }

  // Older, or the previous one after grace: reuse. Revoke the whole family.
  const revoked: SessionRecord = { ...record, revokedAt: now }
  return { outcome: { kind: 'reused', session: revoked }, write: revoked }
}

/**
 * SPEC §9: a legacy token is generation 0 of its session, so §3's rules apply to it unchanged.
 * A missing record is created at generation 0 (current: the legacy `jti`; next: `newJti`) and
 * the legacy token rotates it at once; an existing one answers as {@link decideRotation} does.
 * `created` tells the caller to index the new record under its user.
 */
export function decideMigration(
  record: SessionRecord | null,
  input: import('./types.js').MigrateInput,
): { outcome: RotateOutcome; write: SessionRecord | null; created: boolean } {
  const rotate = {
    id: input.id,
    jti: input.legacyJti,
    newJti: input.nextJti,
    now: input.now,
    graceMs: input.graceMs,
    generation: 0,
    userId: input.userId,
  }
  if (record !== null) return { ...decideRotation(record, { ...rotate, refreshLifetimeMs: input.refreshLifetimeMs }), created: false }
  const start: SessionRecord = {
    ...newRecord({
      id: input.id,
      userId: input.userId,
      jti: input.legacyJti,
      nextJti: input.newJti,
      now: input.now,
      expiresAt: input.absoluteExpiresAt,
      absoluteExpiresAt: input.absoluteExpiresAt,
      userAgent: input.userAgent,
      ip: input.ip,
    }),
    generation: 0,
  }
  // The first record outlives the legacy token (MigrateInput.keepUntil).
  const lifetime = Math.max(input.refreshLifetimeMs, input.keepUntil - input.now)
  return { ...decideRotation(start, { ...rotate, refreshLifetimeMs: lifetime }), created: true }
}

/** SPEC §3.3 (rotation off): only the current token is accepted; it updates last-used. */
export function decideTouch(record: SessionRecord | null, input: TouchInput): { outcome: TouchOutcome; write: SessionRecord | null } {
  if (record === null || input.now >= record.expiresAt) return { outcome: { kind: 'not_found' }, write: null }
  if (record.revokedAt !== null) return { outcome: { kind: 'revoked' }, write: null }
  if (input.jti !== record.currentJti) return { outcome: { kind: 'not_found' }, write: null }
  const next = { ...record, lastUsedAt: input.now }
  return { outcome: { kind: 'touched', session: next }, write: next }
}

/** Live means: not expired and not revoked. */
export function isLive(record: SessionRecord, now: number): boolean {
  return record.revokedAt === null && now < record.expiresAt
}

/** Builds the first record of a session. */
export function newRecord(input: import('./types.js').NewSession): SessionRecord {
  return {
    id: input.id,
    userId: input.userId,
    currentJti: input.jti,
    generation: 1,
    currentIssuedAt: input.now,
    nextJti: input.nextJti ?? null,
    previousJti: null,
    graceUntil: null,
    createdAt: input.now,
    lastUsedAt: input.now,
    expiresAt: Math.min(input.expiresAt, input.absoluteExpiresAt),
    absoluteExpiresAt: input.absoluteExpiresAt,
    revokedAt: null,
    userAgent: input.userAgent,
    ip: input.ip,
  }
}
