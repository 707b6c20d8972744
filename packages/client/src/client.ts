/**
 * `createAuthClient`: resolves the options once and wires the session core, `fetch`, login,
 * logout and events together.
 */
import { callAuthEndpoint, stringField, toHTTPError, toInvalidResponseError } from './auth-call.js'
import { SessionExpiredError } from './errors.js'
import { createEmitter, type AuthEventListener, type AuthEventName, type TokensEvent } from './events.js'
import { createAuthFetch, createBearerScope } from './fetch.js'
import { resolveOptions, type AuthClientOptions, type ResolvedClientOptions } from './options.js'
import { createSessionManager } from './session.js'
import type { LoginRequest } from './wire.js'

/** A client that keeps one session alive. Create it with {@link createAuthClient}. */
export interface AuthClient {
  /** The resolved options (frozen). */
  readonly options: ResolvedClientOptions
  /**
   * Logs in and stores the tokens; fires `tokens`. Rejects with `HTTPError` carrying the
   * server's `code` (`invalid_credentials`, `rate_limited`, `store_unavailable`, `login_busy`,
   * …) and `retryAfter`, or with `NetworkError`. A login is never retried by itself.
   */
  login(credentials: LoginRequest): Promise<TokensEvent>
  /**
   * Forgets the session here and in the other tabs (fires `logout`), then asks the server to
   * revoke it. The local logout always happens; the promise rejects with `HTTPError` or
   * `NetworkError` only when the server could not be told (the session then lives on there
   * until it expires). With `paths.logout: null` no request is sent.
   */
  logout(): Promise<void>
  /**
   * `fetch` with the session: same signature and `Response`; a path is resolved against
   * `baseURL`. Requests for the `baseURL` origin carry the bearer token (refreshed first when
   * it has expired); a 401 triggers one shared refresh and one retry. Rejects with
   * `SessionExpiredError` when the refresh is answered 401, `RefreshUnavailableError` when a
   * fresh token is needed while refresh is failing; other failures are `fetch`'s own.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>
  /**
   * A valid access token, refreshed if needed. Rejects with `SessionExpiredError`
   * (`not_authenticated` when there is no session) or `RefreshUnavailableError`.
   */
  getAccessToken(): Promise<string>
  /**
   * Listens to `tokens`, `degraded`, `recovered`, `session-expired` or `logout`; returns the
   * unsubscribe function.
   */
  on<E extends AuthEventName>(event: E, listener: AuthEventListener<E>): () => void
  /**
   * For HTTP adapters such as `attachAxios`: the token to attach to a request for `url`, or
   * `null` when none should be (another origin, an auth endpoint, no session).
   */
  authorize(url: string | URL): Promise<string | null>
  /**
   * For HTTP adapters: after a 401 to a request sent with `rejectedToken`, the token to retry
   * with. Shares the client's single-flight refresh; rejects like
   * {@link AuthClient.getAccessToken}.
   */
  refreshAfterUnauthorized(rejectedToken: string): Promise<string>
  /** Stops timers and cross-tab listeners; the client should not be used afterwards. */
  close(): void
}

/**
 * Creates a client that logs in, attaches the access token, refreshes it (before expiry, and
 * once per wave of 401s), coordinates tabs and rides out server outages (SPEC §6).
 * Throws `TypeError` for invalid options.
 *
 * @example
 * ```ts
 * import { createAuthClient, isSessionExpiredError } from '@baton/client'
 *
 * const auth = createAuthClient({ baseURL: 'https://api.example.com/' })
 * auth.on('session-expired', () => showLoginPage())
 * auth.on('degraded', ({ retryAfter }) => showBanner(`Reconnecting in ${retryAfter} s…`))
 * auth.on('recovered', () => hideBanner())
 *
 * await auth.login({ username: 'ada', password: 'correct horse' })
 * const me = await (await auth.fetch('/api/me/')).json()
 * ```
 */
export function createAuthClient(options?: AuthClientOptions): AuthClient {
  const resolved = resolveOptions(options)
  const events = createEmitter()
  const session = createSessionManager(resolved, events)
  const isInScope = createBearerScope(resolved)

  async function login(credentials: LoginRequest): Promise<TokensEvent> {
    if (
      typeof credentials !== 'object' ||
      credentials === null ||
      typeof credentials.username !== 'string' ||
      typeof credentials.password !== 'string'
    ) {
      throw new TypeError('login: expected { username: string, password: string }')
    }
    const body: LoginRequest = { username: credentials.username, password: credentials.password }
    const result = await callAuthEndpoint(resolved, resolved.loginURL, body, { csrf: false })
    if (!result.response.ok) throw toHTTPError(result, resolved.now())
    const access = stringField(result.data, 'access')
    // Cookie mode: the refresh token is the HttpOnly cookie; JS keeps only the access token.
    const refresh = resolved.mode === 'body' ? stringField(result.data, 'refresh') : null
    if (access === undefined || refresh === undefined) throw toInvalidResponseError(result)
    const tokens = await session.begin(access, refresh, result.receipt)
    return { access: tokens.access, expiresAt: tokens.expiresAt }
  }

  async function logout(): Promise<void> {
    const previous = await session.end()
    // SPEC §9: `paths.logout: null` is a backend without a logout route: local only.
    if (resolved.logoutURL === null) return
    if (resolved.mode === 'body' && previous?.stored.refresh == null) return
    const body = resolved.mode === 'body' ? { refresh: previous?.stored.refresh } : {}
    const result = await callAuthEndpoint(resolved, resolved.logoutURL, body, { csrf: true })
    // SPEC §1: logout is idempotent; a 401 means the session was already over.
    if (result.response.ok || result.response.status === 401) return
    throw toHTTPError(result, resolved.now())
  }

  async function getAccessToken(): Promise<string> {
    const token = await session.authorize()
    if (token === null) throw new SessionExpiredError('not_authenticated')
    return token
  }

  async function authorize(url: string | URL): Promise<string | null> {
    return isInScope(url) ? session.authorize() : null
  }

  return {
    options: resolved,
    login,
    logout,
    fetch: createAuthFetch(resolved, session, isInScope),
    getAccessToken,
    on: (event, listener) => events.on(event, listener),
    authorize,
    refreshAfterUnauthorized: (rejectedToken) => session.afterUnauthorized(rejectedToken),
    close() {
      session.close()
      events.clear()
      if (resolved.ownsChannel) resolved.channel.close()
    },
  }
}
