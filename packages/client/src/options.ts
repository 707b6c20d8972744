/**
 * What callers pass to `createAuthClient` ({@link AuthClientOptions}) and what the client runs
 * on ({@link ResolvedClientOptions}): resolved once, frozen, with a `TypeError` for misuse
 * (ky's Options / NormalizedOptions split).
 */
import { defaultChannel, type TabChannel } from './tab-channel.js'
import { defaultLock, LOCK_STEAL_SLACK_MS, refreshLockName, type Lock } from './tab-lock.js'
import { createMemoryStorage, createWebStorage, type TokenStorage } from './token-storage.js'

/** Default login path (djangorestframework-simplejwt's wire format, SPEC §1). */
export const DEFAULT_LOGIN_PATH = '/api/auth/token/'
/** Default refresh path (SPEC §1). */
export const DEFAULT_REFRESH_PATH = '/api/auth/refresh/'
/** Default logout path (SPEC §1). */
export const DEFAULT_LOGOUT_PATH = '/api/auth/logout/'
/** Default timeout of the client's own calls (login, refresh, logout), in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 10_000

/** Timer functions; injected by tests so backoff never needs real waiting. */
export interface Timers {
  /** Calls `callback` after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown
  /** Cancels a pending `setTimeout`. */
  clearTimeout(handle: unknown): void
}

/**
 * The auth endpoints. Each is a path (or URL) on the origin of `baseURL`, resolved as
 * `new URL(path, baseURL)` like every path. For an unchanged djangorestframework-simplejwt
 * backend: `{ login: '/api/token/', refresh: '/api/token/refresh/', logout:
 * '/api/token/blacklist/' }` (SPEC §9), or `logout: null` without the blacklist app.
 */
export interface AuthPaths {
  /** @default '/api/auth/token/' */
  login?: string
  /** @default '/api/auth/refresh/' */
  refresh?: string
  /**
   * `null`: the backend has no logout route, so `logout()` only clears the tokens here and in
   * the other tabs and sends no request (the refresh token stays valid on the server until it
   * expires).
   * @default '/api/auth/logout/'
   */
  logout?: string | null
}

/** Where body mode keeps the token pair. */
export type StorageOption = 'localStorage' | 'sessionStorage' | 'memory' | TokenStorage

/** Options of `createAuthClient`. Every field is optional except `baseURL` outside browsers. */
export interface AuthClientOptions {
  /**
   * The server's base URL. Paths (the auth endpoints, and the paths given to `client.fetch`)
   * are resolved as `new URL(path, baseURL)`. The bearer token is only ever attached to
   * requests for this origin.
   * @default `location.origin` in a browser; required elsewhere
   */
  baseURL?: string | URL
  /**
   * Where body mode keeps tokens: `'localStorage'` (shared by the tabs of the origin),
   * `'sessionStorage'` (one tab), `'memory'` (this client only) or your own
   * {@link TokenStorage}. Cookie mode keeps only the access token, in memory; any other value
   * there is a `TypeError`.
   * @default `'localStorage'` in a browser in body mode, else `'memory'`
   */
  storage?: StorageOption
  /**
   * `'body'`: the refresh token travels in JSON bodies (simplejwt's way). `'cookie'`: the
   * server keeps it in an HttpOnly cookie; the client sends `credentials: 'include'` and the
   * CSRF header `X-Baton-CSRF: 1` on refresh and logout.
   * @default 'body'
   */
  mode?: 'body' | 'cookie'
  /**
   * The auth endpoints: `{ login, refresh, logout }`, each optional; `logout: null` means
   * `logout()` clears the tokens locally only.
   * @default `{ login: '/api/auth/token/', refresh: '/api/auth/refresh/',
   *   logout: '/api/auth/logout/' }`
   */
  paths?: AuthPaths
  /**
   * @deprecated Use `paths.login`.
   * @default '/api/auth/token/'
   */
  loginPath?: string
  /**
   * @deprecated Use `paths.refresh`.
   * @default '/api/auth/refresh/'
   */
  refreshPath?: string
  /**
   * @deprecated Use `paths.logout`.
   * @default '/api/auth/logout/'
   */
  logoutPath?: string
  /**
   * The storage key of the token record.
   * @default `baton:tokens:<baseURL>`
   */
  storageKey?: string
  /**
   * The `fetch` used for every request.
   * @default globalThis.fetch
   */
  fetch?: typeof fetch
  /**
   * Serialises refreshes across tabs.
   * @default `navigator.locks` when present (a tab waits at most `timeout` + 2 s, then steals the
   * lock from a frozen holder), else an in-process lock
   */
  lock?: Lock
  /**
   * Carries tokens, logout, session end and recovery between tabs.
   * @default BroadcastChannel (storage-event fallback) in a browser; none elsewhere
   */
  channel?: TabChannel
  /**
   * The clock, in milliseconds since the epoch.
   * @default Date.now
   */
  now?: () => number
  /**
   * Timers for the backoff and the request timeout.
   * @default globalThis.setTimeout / clearTimeout (unref'ed in Node)
   */
  timers?: Timers
  /**
   * Randomness for the backoff jitter, in [0, 1).
   * @default Math.random
   */
  random?: () => number
  /**
   * Timeout of the client's own calls (login, refresh, logout), in milliseconds. A refresh
   * that times out counts as a network error: tokens are kept.
   * @default 10000
   */
  timeout?: number
}

/** The options the client runs on: complete, validated and frozen. */
export interface ResolvedClientOptions {
  readonly baseURL: string
  readonly origin: string
  readonly mode: 'body' | 'cookie'
  /** `null` in cookie mode (the access token is kept in memory only). */
  readonly storage: TokenStorage | null
  readonly storageKey: string
  readonly loginURL: string
  readonly refreshURL: string
  /** `null`: `logout()` clears the tokens locally and sends no request. */
  readonly logoutURL: string | null
  readonly fetch: typeof fetch
  readonly lock: Lock
  readonly lockName: string
  readonly channel: TabChannel
  /** Whether the client created `channel` (and so closes it in `close()`). */
  readonly ownsChannel: boolean
  readonly now: () => number
  readonly timers: Timers
  readonly random: () => number
  readonly timeout: number
}

function isBrowser(): boolean {
  return typeof window !== 'undefined' && typeof window.document !== 'undefined'
}

function fail(message: string): never {
  throw new TypeError(`createAuthClient: ${message}`)
}

function resolveBaseURL(value: string | URL | undefined): URL {
  if (value === undefined) {
    if (isBrowser()) return new URL(window.location.origin)
    fail('`baseURL` is required outside a browser')
  }
  if (typeof value !== 'string' && !(value instanceof URL)) fail('`baseURL` must be a string or a URL')
  let url: URL
  try {
    url = isBrowser() ? new URL(value, window.location.href) : new URL(value)
  } catch {
    fail('`baseURL` must be an absolute URL such as https://api.example.com/')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('`baseURL` must be http: or https:')
  return url
}

function resolvePath(name: string, value: string | null | undefined, fallback: string, base: URL): string {
  if (value === undefined) return new URL(fallback, base).href
  if (typeof value !== 'string' || value === '') fail(`\`${name}\` must be a non-empty string`)
  const url = new URL(value, base)
  if (url.origin !== base.origin) fail(`\`${name}\` must be on the origin of \`baseURL\``)
  return url.href
}

/** Which option names an endpoint: `paths.<key>` or the deprecated `<key>Path`, not both. */
function endpointOption(
  options: AuthClientOptions,
  key: 'login' | 'refresh' | 'logout',
): { name: string; value: string | null | undefined } {
  const value = options.paths?.[key]
  const legacy = options[`${key}Path`]
  if (value !== undefined && legacy !== undefined) fail(`give \`paths.${key}\` or \`${key}Path\`, not both`)
  if (value === undefined) return { name: `${key}Path`, value: legacy }
  return { name: `paths.${key}`, value }
}

function webStorage(name: 'localStorage' | 'sessionStorage'): TokenStorage {
  let storage: Storage | undefined
  try {
    storage = (globalThis as { [key: string]: unknown })[name] as Storage | undefined
  } catch (error) {
    throw new TypeError(`createAuthClient: ${name} cannot be used here`, { cause: error })
  }
  if (storage === undefined || storage === null || typeof storage.getItem !== 'function') {
    fail(`${name} is not available here; pass storage: 'memory' or an object with get, set and remove`)
  }
  return createWebStorage(storage)
}

function resolveStorage(value: StorageOption | undefined, mode: 'body' | 'cookie'): TokenStorage | null {
  if (mode === 'cookie') {
    // SPEC §6: in cookie mode only the access token is kept, in memory.
    if (value !== undefined && value !== 'memory') {
      fail("cookie mode keeps the access token in memory only; leave `storage` unset or 'memory'")
    }
    return null
  }
  if (value === undefined) {
    if (!isBrowser()) return createMemoryStorage()
    try {
      return webStorage('localStorage')
    } catch {
      // Storage disabled by the user or the embedding page: keep the session in memory.
      return createMemoryStorage()
    }
  }
  if (value === 'memory') return createMemoryStorage()
  if (value === 'localStorage' || value === 'sessionStorage') return webStorage(value)
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof value.get === 'function' &&
    typeof value.set === 'function' &&
    typeof value.remove === 'function'
  ) {
    return value
  }
  fail("`storage` must be 'localStorage', 'sessionStorage', 'memory' " + 'or an object with get, set and remove')
}

function defaultFetch(): typeof fetch {
  if (typeof globalThis.fetch !== 'function') fail('no global `fetch`; pass the `fetch` option')
  // Bound: browsers throw "Illegal invocation" when window.fetch is called on another object.
  return globalThis.fetch.bind(globalThis)
}

function defaultTimers(): Timers {
  return {
    setTimeout(callback, ms) {
      const handle: unknown = globalThis.setTimeout(callback, ms)
      // Node: a pending backoff retry must not keep the process alive.
      ;(handle as { unref?: () => void } | null)?.unref?.()
      return handle
    },
    clearTimeout(handle) {
      globalThis.clearTimeout(handle as number)
    },
  }
}

function checkFunction(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') fail(`\`${name}\` must be a function`)
}

/** Validates `options` and fills in every default. Throws `TypeError` on misuse. */
export function resolveOptions(options: AuthClientOptions = {}): ResolvedClientOptions {
  if (typeof options !== 'object' || options === null) fail('options must be an object')
  const mode = options.mode ?? 'body'
  if (mode !== 'body' && mode !== 'cookie') fail("`mode` must be 'body' or 'cookie'")
  for (const name of ['fetch', 'lock', 'now', 'random'] as const) checkFunction(name, options[name])
  if (
    options.timers !== undefined &&
    (typeof options.timers?.setTimeout !== 'function' || typeof options.timers.clearTimeout !== 'function')
  ) {
    fail('`timers` must have setTimeout and clearTimeout')
  }
  const channel = options.channel
  if (
    channel !== undefined &&
    (typeof channel?.post !== 'function' || typeof channel.subscribe !== 'function' || typeof channel.close !== 'function')
  ) {
    fail('`channel` must have post, subscribe and close')
  }
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS
  if (typeof timeout !== 'number' || !(timeout > 0) || !Number.isFinite(timeout)) {
    fail('`timeout` must be a positive number of milliseconds')
  }
  if (options.storageKey !== undefined && (typeof options.storageKey !== 'string' || options.storageKey === '')) {
    fail('`storageKey` must be a non-empty string')
  }

  if (options.paths !== undefined && (typeof options.paths !== 'object' || options.paths === null))
    fail('`paths` must be an object such as { login, refresh, logout }')
  const base = resolveBaseURL(options.baseURL)
  const login = endpointOption(options, 'login')
  const refresh = endpointOption(options, 'refresh')
  const logout = endpointOption(options, 'logout')
  const storage = resolveStorage(options.storage, mode)
  // A frozen tab's lock is stolen once it has been held longer than any refresh can take.
  const lock = options.lock ?? defaultLock(timeout + LOCK_STEAL_SLACK_MS)
  return Object.freeze({
    baseURL: base.href,
    origin: base.origin,
    mode,
    storage,
    storageKey: options.storageKey ?? `baton:tokens:${base.href}`,
    loginURL: resolvePath(login.name, login.value, DEFAULT_LOGIN_PATH, base),
    refreshURL: resolvePath(refresh.name, refresh.value, DEFAULT_REFRESH_PATH, base),
    // SPEC §9: `logout: null` = clear tokens locally only.
    logoutURL: logout.value === null ? null : resolvePath(logout.name, logout.value, DEFAULT_LOGOUT_PATH, base),
    fetch: options.fetch ?? defaultFetch(),
    lock,
    lockName: refreshLockName(lock, base.href, storage),
    channel: channel ?? defaultChannel(`baton:${base.href}`),
    ownsChannel: channel === undefined,
    now: options.now ?? Date.now,
    timers: options.timers ?? defaultTimers(),
    random: options.random ?? Math.random,
    timeout,
  })
}
