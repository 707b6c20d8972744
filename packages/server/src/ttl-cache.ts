import type { Clock } from './clock.js'

export interface TTLCacheOptions {
  /** Most entries held; 0 turns the cache off (nothing is remembered). */
  maxEntries: number
  /** How long an entry is answered after it was set, in ms; `Infinity` = until pushed out. */
  ttlMs: number
  /** Read on every get and set; tests inject a fake clock. */
  now: Clock
}

export interface TTLCache<K, V> {
  /** The value set for `key`, or undefined when there is none or it has expired. */
  get(key: K): V | undefined
  /**
   * Remembers `value` for the cache's TTL from `asOf` (default: now). A caller that read the
   * value before an await passes the time it read it, so the entry is never fresher than the
   * value it holds.
   */
  set(key: K, value: V, asOf?: number): void
  delete(key: K): void
  clear(): void
  /** Entries held, expired ones not yet dropped included; never more than `maxEntries`. */
  readonly size: number
}

/** Expired entries a set drops from the front at most, besides the one it may push out. */
const SWEEP = 2

/**
 * One bounded TTL cache for every cache of the server (issue 16: four caches had four eviction
 * rules). No timers: expiry is checked when an entry is read.
 *
 * The eviction rule, the only one: **a set into a full cache drops the entry set longest ago**
 * (setting a key again counts as setting it anew). With the one TTL a cache has, the entry set
 * longest ago is also the first to expire, so expired entries always go before live ones; each
 * set also drops up to two expired entries from the front, so an idle cache shrinks as it is
 * used. A JavaScript Map iterates in insertion order, so all of this is O(1) per call.
 *
 * A clock that moves backwards only delays the sweep: a get never answers an expired entry.
 */
export function createTTLCache<K, V>(options: TTLCacheOptions): TTLCache<K, V> {
  const { maxEntries, ttlMs, now } = options
  const entries = new Map<K, { value: V; expiresAt: number }>()

  function sweep(at: number): void {
    let n = SWEEP
    for (const [key, entry] of entries) {
      if (n-- === 0 || at < entry.expiresAt) return
      entries.delete(key)
    }
  }

  return {
    get(key) {
      const entry = entries.get(key)
      if (entry === undefined) return undefined
      if (now() < entry.expiresAt) return entry.value
      entries.delete(key)
      return undefined
    },
    set(key, value, asOf) {
      if (maxEntries <= 0) return
      const at = now()
      entries.delete(key)
      sweep(at)
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as K)
      entries.set(key, { value, expiresAt: (asOf ?? at) + ttlMs })
    },
    delete(key) {
      entries.delete(key)
    },
    clear() {
      entries.clear()
    },
    get size() {
      return entries.size
    },
  }
}
