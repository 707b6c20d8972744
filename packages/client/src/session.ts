/**
 * What requests ask of the session (SPEC §6): the token to send, and the token to retry with
 * after a 401. Both decide on the current state and leave the refresh to the single-flight core
 * (refresh.ts).
 */
import { SessionExpiredError } from './errors.js'
import type { Emitter } from './events.js'
import { isDue, isExpired, type HeldTokens } from './held-tokens.js'
import type { ResolvedClientOptions } from './options.js'
import { SessionCore, notAuthenticated, type Reuse } from './refresh.js'
import type { Receipt } from './server-clock.js'
import { mayProbe, tokensOf, type SessionState } from './session-state.js'

/** The session used by `client.fetch`, `getAccessToken`, login, logout and adapters. */
export interface SessionManager {
  /**
   * The access token to attach to a request: valid now, refreshed first if it has expired,
   * or `null` when there is no session (send the request without one).
   */
  authorize(): Promise<string | null>
  /**
   * After a 401 to a request sent with `rejected`: the token to retry with (refreshing once,
   * single-flight).
   */
  afterUnauthorized(rejected: string): Promise<string>
  /** Starts a session with tokens a login returned. */
  begin(access: string, refresh: string | null, receipt: Receipt): Promise<HeldTokens>
  /** Ends the session locally (logout) and returns the tokens it held. */
  end(): Promise<HeldTokens | null>
  /** The current state (session-state.ts), for tests and debugging. */
  readonly state: SessionState
  /** Stops timers and listeners. */
  close(): void
}

/** Creates the session of one client. */
export function createSessionManager(options: ResolvedClientOptions, events: Emitter): SessionManager {
  const core = new SessionCore(options, events)
  const now = options.now
  const hasStorage = options.storage !== null

  /** The token for a pair that is still valid; a due one is refreshed in the background. */
  function use(current: HeldTokens): string {
    // SPEC §6: proactive refresh. The token is still valid, so the request goes out now with
    // it, and while degraded it keeps going out until the token expires.
    if (isDue(current, now()) && core.state.name !== 'refreshing' && core.blocked() === null) {
      core.refresh(current.access).catch(() => {})
    }
    return current.access
  }

  async function authorize(): Promise<string | null> {
    const known = tokensOf(core.state)
    if (hasStorage && known !== null && isExpired(known, now()) && core.blocked() === null) {
      // Expired: the refresh's own read of the storage (under the lock) stands in for this
      // call's, and a valid pair found there (another tab's) is used as is.
      const fresh = await core.refresh(known.access, (current) => !isExpired(current, now()))
      return fresh === null ? null : use(fresh)
    }
    const current = await core.load()
    if (current === null) {
      if (!mayProbe(core.state)) return null
      // SPEC §6: a new tab uses the stored session; in cookie mode it is the HttpOnly cookie,
      // which only a refresh can read.
      const refused = core.blocked()
      if (refused !== null) throw refused
      try {
        return (await core.refresh(null))?.access ?? null
      } catch (error) {
        if (error instanceof SessionExpiredError) return null
        throw error
      }
    }
    if (!isExpired(current, now())) return use(current)
    const refused = core.blocked()
    if (refused !== null) throw refused
    return tokenOf(await core.refresh(current.access))
  }

  async function afterUnauthorized(rejected: string): Promise<string> {
    // Replaced since the request left (a refresh here or in another tab): just retry.
    const replaced: Reuse = (current) => current.access !== rejected && !isExpired(current, now())
    if (core.blocked() === null) {
      // The refresh reads the storage itself (under the lock): no read of this call's first.
      return tokenOf(await core.refresh(tokensOf(core.state)?.access ?? null, replaced))
    }
    // Backing off: only another tab's pair, seen in the storage, can help.
    const current = await core.load()
    if (current !== null && replaced(current)) return current.access
    if (current === null && !mayProbe(core.state)) throw notAuthenticated()
    const refused = core.blocked()
    if (refused !== null) throw refused
    return tokenOf(await core.refresh(current?.access ?? null))
  }

  return {
    authorize,
    afterUnauthorized,
    begin: (access, refresh, receipt) => core.begin(access, refresh, receipt),
    end: () => core.end(),
    get state() {
      return core.state
    },
    close: () => core.close(),
  }
}

/** A refresh's access token; a refresh that found no session is the session's end. */
function tokenOf(tokens: HeldTokens | null): string {
  if (tokens === null) throw notAuthenticated()
  return tokens.access
}
