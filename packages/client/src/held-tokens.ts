/**
 * A token pair as the session core holds it: the stored record plus what the client needs to
 * know about it, worked out once when the pair arrives (from a login, a refresh, the storage or
 * another tab) instead of decoding the access token again at every timing check.
 */
import { readClaims, type TokenClaims } from './jwt-exp.js'
import { measureClaims, timeClaims, type Receipt } from './server-clock.js'
import type { StoredTokens } from './token-storage.js'

/** A pair with its timing on the local clock and the claims the core compares. */
export interface HeldTokens {
  /** The record as written to (or read from) the storage; nothing derived is stored. */
  readonly stored: StoredTokens
  /** The access token (`stored.access`). */
  readonly access: string
  /** Local time of expiry, in ms; `null` when the token carries no `exp`. */
  readonly expiresAt: number | null
  /** Local time from which a proactive refresh is due, in ms; `null` without `exp`. */
  readonly dueAt: number | null
  /** The session id (baton's `sid`), the same across rotations. */
  readonly sid: string | undefined
  /** The access token's `iat`, in seconds (orders two pairs of one session). */
  readonly iat: number | undefined
}

function hold(stored: StoredTokens, claims: TokenClaims | null): HeldTokens {
  const { expiresAt, margin } = timeClaims(claims, stored.skew, stored.lifetime)
  return {
    stored,
    access: stored.access,
    expiresAt,
    dueAt: expiresAt === null ? null : expiresAt - margin,
    sid: claims?.sid,
    iat: claims?.iat,
  }
}

/** Holds a pair read from the storage (or built from a message): decodes its access token once. */
export function holdTokens(stored: StoredTokens): HeldTokens {
  return hold(stored, readClaims(stored.access))
}

/**
 * A pair just received from the server, with its clock measured (server-clock.ts). On a refresh
 * `previousSkew` is the session's earlier estimate.
 */
export function receiveTokens(access: string, refresh: string | null, receipt: Receipt, previousSkew?: number): HeldTokens {
  const claims = readClaims(access)
  const { skew, lifetime } = measureClaims(claims, receipt, previousSkew)
  return hold({ access, refresh, skew, ...(lifetime === null ? {} : { lifetime }) }, claims)
}

/** A pair another tab sent on the channel (its skew and lifetime as that tab measured them). */
export function tokensFromMessage(
  access: string,
  refresh: string | null,
  { skew, lifetime }: { skew?: number; lifetime?: number },
): HeldTokens {
  return holdTokens({
    access,
    refresh,
    skew: skew ?? 0,
    ...(lifetime === undefined ? {} : { lifetime }),
  })
}

/** Whether the access token has expired at local time `now`. */
export function isExpired(tokens: HeldTokens, now: number): boolean {
  return tokens.expiresAt !== null && now >= tokens.expiresAt
}

/** Whether a proactive refresh is due at local time `now` (SPEC §6: the last quarter). */
export function isDue(tokens: HeldTokens, now: number): boolean {
  return tokens.dueAt !== null && now >= tokens.dueAt
}

/**
 * Whether `a` is a later pair of the same session than `b`: same `sid`, later `iat`. Only
 * baton's tokens carry `sid`; for others this is always false and the storage decides.
 */
export function isLater(a: HeldTokens, b: HeldTokens): boolean {
  return a.sid !== undefined && a.sid === b.sid && a.iat !== undefined && b.iat !== undefined && a.iat > b.iat
}
