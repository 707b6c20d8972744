/**
 * Where body mode keeps the token pair. One key holds one JSON record, so a write is atomic
 * and a tab never reads a new access token beside an old refresh token.
 */

/**
 * A key-value store for the token record. Methods may return promises (an async store such
 * as React Native's works as is). Every tab (or client) given the same storage shares the
 * session: a new tab uses it without logging in again (SPEC §6).
 */
export interface TokenStorage {
  /** The value under `key`, or `null`/`undefined` when there is none. */
  get(key: string): string | null | undefined | Promise<string | null | undefined>
  /** Stores `value` under `key`. */
  set(key: string, value: string): void | Promise<void>
  /** Removes `key`. */
  remove(key: string): void | Promise<void>
}

/** The tokens of one session, as stored and as held in memory. */
export interface StoredTokens {
  /** The access token (a JWT). */
  access: string
  /** The refresh token; `null` in cookie mode, where it is an HttpOnly cookie. */
  refresh: string | null
  /**
   * Estimated server clock minus local clock, in milliseconds, measured when the access token
   * was received (server-clock.ts: the answer's `Date` against the send and receive times).
   * Stored with the tokens so another tab on the same machine reuses the estimate.
   */
  skew: number
  /**
   * The access token's lifetime from its receipt to its `exp`, in milliseconds (not
   * `exp − iat`: simplejwt's refreshed tokens carry an old `iat`). Absent in records written
   * by older clients and for tokens without `exp`.
   */
  lifetime?: number
}

/** A storage that lives as long as the client (the default outside browsers). */
export function createMemoryStorage(): TokenStorage {
  const values = new Map<string, string>()
  return {
    get: (key) => values.get(key) ?? null,
    set(key, value) {
      values.set(key, value)
    },
    remove(key) {
      values.delete(key)
    },
  }
}

/** Adapts a Web Storage object (`localStorage`, `sessionStorage`). */
export function createWebStorage(storage: Storage): TokenStorage {
  return {
    get: (key) => storage.getItem(key),
    set(key, value) {
      storage.setItem(key, value)
    },
    remove(key) {
      storage.removeItem(key)
    },
  }
}

/** Reads the token record under `key`; a missing or unreadable record is `null` (no session). */
export async function readTokens(storage: TokenStorage, key: string): Promise<StoredTokens | null> {
  const raw = await storage.get(key)
  if (typeof raw !== 'string') return null
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const { access, refresh, skew, lifetime } = value as Record<string, unknown>
  if (typeof access !== 'string' || access === '') return null
  if (refresh !== null && refresh !== undefined && typeof refresh !== 'string') return null
  return {
    access,
    refresh: typeof refresh === 'string' ? refresh : null,
    skew: typeof skew === 'number' && Number.isFinite(skew) ? skew : 0,
    ...(isLifetime(lifetime) ? { lifetime } : {}),
  }
}

/** A stored or received lifetime: a finite number of ms, not negative. */
export function isLifetime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0
}

/** Writes the token record under `key`. */
export async function writeTokens(storage: TokenStorage, key: string, tokens: StoredTokens): Promise<void> {
  await storage.set(key, JSON.stringify(tokens))
}
