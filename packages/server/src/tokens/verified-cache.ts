/**
 * A bounded map from a token to what verifying it produced, so a bearer token sent again is not
 * verified again. It only remembers: the caller decides what a hit is still worth (expiry is
 * re-checked against the clock on every hit; revocation is checked after it, per request).
 *
 * Only tokens that verified are ever stored, so an attacker cannot fill it with garbage; a
 * client minting many valid tokens only pushes out the oldest entries (insertion order).
 */
export interface VerifiedCache<T> {
  get(token: string): T | undefined
  set(token: string, value: T): void
  readonly size: number
}

export function createVerifiedCache<T>(maxEntries: number): VerifiedCache<T> {
  const entries = new Map<string, T>()
  return {
    get(token) {
      return maxEntries > 0 ? entries.get(token) : undefined
    },
    set(token, value) {
      if (maxEntries <= 0) return
      if (entries.size >= maxEntries) {
        // Map iterates in insertion order: drop the oldest tenth at once, not one per insert.
        let drop = Math.max(1, Math.floor(maxEntries / 10))
        for (const key of entries.keys()) {
          entries.delete(key)
          if (--drop === 0) break
        }
      }
      entries.set(token, value)
    },
    get size() {
      return entries.size
    },
  }
}
