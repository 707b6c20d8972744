import { createTTLCache } from '../ttl-cache.js'

/**
 * A bounded map from a token to what verifying it produced, so a bearer token sent again is not
 * verified again. It only remembers: the caller decides what a hit is still worth (expiry is
 * re-checked against the clock on every hit; revocation is checked after it, per request).
 *
 * Only tokens that verified are ever stored, so an attacker cannot fill it with garbage; a
 * client minting many valid tokens only pushes out the oldest entries (ttl-cache.ts's rule).
 */
export interface VerifiedCache<T> {
  get(token: string): T | undefined
  set(token: string, value: T): void
  readonly size: number
}

export function createVerifiedCache<T>(maxEntries: number): VerifiedCache<T> {
  // No TTL of its own, so no clock: each token's expiry is its own and the codec checks it.
  return createTTLCache<string, T>({ maxEntries, ttlMs: Infinity, now: () => 0 })
}
