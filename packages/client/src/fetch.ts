/**
 * `client.fetch`: the platform `fetch` plus the bearer token, refreshed once on a 401 and the
 * request retried once (SPEC §6).
 */
import type { ResolvedClientOptions } from './options.js'
import type { SessionManager } from './session.js'

function withoutTrailingSlash(url: URL): string {
  return url.origin + url.pathname.replace(/\/+$/, '')
}

/**
 * Decides which requests get the bearer token: only those for the origin of `baseURL` (a token
 * must never leak to another site), and never the auth endpoints themselves (the client never
 * intercepts its own refresh call, SPEC §6).
 */
export function createBearerScope(options: ResolvedClientOptions): (url: string | URL) => boolean {
  const authEndpoints = new Set(
    [options.loginURL, options.refreshURL, options.logoutURL]
      .filter((url) => url !== null)
      .map((url) => withoutTrailingSlash(new URL(url))),
  )
  return function isInScope(url) {
    let parsed: URL
    try {
      parsed = new URL(url, options.baseURL)
    } catch {
      return false
    }
    return parsed.origin === options.origin && !authEndpoints.has(withoutTrailingSlash(parsed))
  }
}

/** Builds `client.fetch`. */
export function createAuthFetch(
  options: ResolvedClientOptions,
  session: SessionManager,
  isInScope: (url: string | URL) => boolean,
): (input: RequestInfo | URL, init?: RequestInit) => Promise<Response> {
  return async function authFetch(input, init) {
    // SPEC §6: a path is resolved as new URL(path, baseURL).
    const target = input instanceof Request ? input : new URL(input, options.baseURL)
    const request = new Request(target, init)
    // A request for another origin, an auth endpoint, or one that carries its own
    // Authorization header is passed through untouched.
    if (!isInScope(request.url) || request.headers.has('Authorization')) return options.fetch(request)
    const token = await session.authorize()
    if (token === null) return options.fetch(request)

    // Keep an unsent copy: a body can be read only once, and the retry needs it again.
    const spare = request.clone()
    request.headers.set('Authorization', `Bearer ${token}`)
    const response = await options.fetch(request)
    if (response.status !== 401) return response

    // SPEC §6: one refresh for all concurrent 401s (single-flight), then this request is
    // retried once; a second 401 is returned to the caller as is, so nothing loops.
    response.body?.cancel().catch(() => {})
    const fresh = await session.afterUnauthorized(token)
    spare.headers.set('Authorization', `Bearer ${fresh}`)
    return options.fetch(spare)
  }
}
