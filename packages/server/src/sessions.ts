import type { SessionInfo } from '@baton/client'
import type { Deps } from './deps.js'
import { createLegacyExchange } from './migration.js'
import { createFailureLimits } from './limits/failure-limits.js'
import { createSessionLiveness, createTokenChecks } from './sessions/liveness.js'
import { createListing } from './sessions/listing.js'
import { createLogin } from './sessions/login.js'
import { createRefresh, gateRefresh } from './sessions/refresh.js'
import { createRevocation } from './sessions/revocation.js'
import type { AccessClaims } from './tokens/jwt.js'

export interface ClientInfo {
  userAgent: string | null
  ip: string | null
}

export interface LoginOptions {
  /** Aborted when the client closed its connection: its login then leaves the queue (issue 15). */
  signal?: AbortSignal
}

export type IssuedTokens = {
  access: string
  sid: string
} & (
  | {
      refresh: string
      /** The refresh token's `exp` (seconds): cookie mode's cookie expires with it. */
      refreshExpiresAt: number
    }
  /** Rotation off: the presented refresh token stays in use. */
  | { refresh?: undefined; refreshExpiresAt?: undefined }
)

export interface ListOptions {
  /** At most this many sessions, the most recently used first; the current one always among them. */
  limit: number
}

/** A page of a user's live sessions, and how many there are in all. */
export interface SessionPage {
  sessions: SessionInfo[]
  total: number
}

/** The session rules of SPEC §3, over the store, the token codec and the credential check. */
export interface Sessions {
  login(username: string, password: string, client: ClientInfo, options?: LoginOptions): Promise<IssuedTokens>
  refresh(token: string, client: ClientInfo): Promise<IssuedTokens>
  /** Checks any of our tokens; a refresh token also against its session. */
  verify(token: string): Promise<void>
  logout(refreshToken: string): Promise<void>
  logoutAll(claims: AccessClaims): Promise<number>
  list(claims: AccessClaims, options: ListOptions): Promise<SessionPage>
  revoke(claims: AccessClaims, sessionId: string): Promise<void>
  /** Verifies a bearer access token for a protected route (and its session in revocation-check mode). */
  authenticate(token: string): Promise<AccessClaims>
}

/**
 * The session rules, one module per job under sessions/: login (the failure limits and the login
 * queue), refresh (rotation, grace, reuse, the legacy exchange, and the rate limit around it),
 * the token checks (with the liveness cache of the revocation check), revocation, and listing.
 */
export function createSessions(deps: Deps): Sessions {
  const limits = createFailureLimits(deps)
  const legacy = createLegacyExchange(deps)
  const liveness = createSessionLiveness(deps)
  const sessions: Sessions = {
    ...createLogin(deps, limits),
    ...createRefresh(deps, legacy),
    ...createTokenChecks(deps, liveness),
    ...createRevocation(deps, legacy, liveness),
    ...createListing(deps),
  }
  return gateRefresh(sessions, limits, deps.log)
}
