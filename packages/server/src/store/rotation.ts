import type { RotateInput, RotateOutcome, SessionRecord, TouchInput, TouchOutcome } from './types.js'

/**
 * SPEC §3.2 as a pure function over one record, shared by the memory and SQLite stores (each runs
 * it inside its own atomic section; Redis runs the same rules in Lua). Answers the outcome and
 * the record to write back, or `null` when nothing changes.
 */
export function decideRotation(
  record: SessionRecord | null,
  input: RotateInput,
): { outcome: RotateOutcome; write: SessionRecord | null } {
  const { now } = input
  // A missing or expired record means "not valid", never "valid" (SPEC §3).
  if (record === null || now >= record.expiresAt) return { outcome: { kind: 'not_found' }, write: null }
  if (record.revokedAt !== null) return { outcome: { kind: 'revoked' }, write: null }

  // The current token rotates; so does a token of a later generation than the record (a
  // rotation the store lost in a failover: see RotateInput.generation).
  const lostWrite = input.generation !== undefined && input.generation > record.generation
  if (input.jti === record.currentJti || lostWrite) {
    const next: SessionRecord = {
      ...record,
      previousJti: input.jti,
      graceUntil: now + input.graceMs,
      currentJti: input.newJti,
      generation: Math.max(record.generation, input.generation ?? 0) + 1,
      currentIssuedAt: now,
      lastUsedAt: now,
      // SPEC §3.4: rotation never extends the absolute lifetime.
      expiresAt: Math.min(now + input.refreshLifetimeMs, record.absoluteExpiresAt),
    }
    return { outcome: { kind: 'rotated', session: next }, write: next }
  }

  // SPEC §3.2: the previous token within grace answers the same successor.
  if (input.jti === record.previousJti && record.graceUntil !== null && now < record.graceUntil) {
    const next: SessionRecord = { ...record, lastUsedAt: now }
    return { outcome: { kind: 'grace', session: next }, write: next }
  }

  // Older, or the previous one after grace: reuse. Revoke the whole family.
  const revoked: SessionRecord = { ...record, revokedAt: now }
  return { outcome: { kind: 'reused', session: revoked }, write: revoked }
}

/** SPEC §3.3 (rotation off): only the current token is accepted; it updates last-used. */
export function decideTouch(
  record: SessionRecord | null,
  input: TouchInput,
): { outcome: TouchOutcome; write: SessionRecord | null } {
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
