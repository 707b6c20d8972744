import type { Deps } from '../deps.js'
import { BatonError } from '../errors.js'
import type { LegacyExchange } from '../migration.js'
import type { Sessions } from '../sessions.js'
import { audit } from './issue.js'
import type { SessionLiveness } from './liveness.js'

/** Ending sessions: logout, log out everywhere, and revoking one of one's own. */
export function createRevocation(
  deps: Deps,
  legacy: LegacyExchange | null,
  liveness: SessionLiveness,
): Pick<Sessions, 'logout' | 'logoutAll' | 'revoke'> {
  const { store, tokens, clock, log } = deps
  return {
    async logout(refreshToken) {
      if (legacy !== null && legacy.accepts(refreshToken)) {
        // SPEC §9: simplejwt's blacklist path moved to baton; the legacy token is done for.
        const revoked = await legacy.logout(refreshToken)
        if (revoked !== null) audit(log, 'revoked', { ...revoked, reason: 'logout' })
        return
      }
      const claims = await tokens.verifyRefresh(refreshToken)
      // Idempotent: a session already revoked (or gone) is logged out all the same.
      const revoked = await store.revokeSession(claims.sid, clock())
      liveness.forget(claims.sid)
      if (revoked) audit(log, 'revoked', { sid: claims.sid, sub: claims.sub, reason: 'logout' })
    },

    async logoutAll(claims) {
      const n = await store.revokeUserSessions(claims.sub, clock())
      liveness.forgetAll()
      audit(log, 'revoked', { sub: claims.sub, sid: claims.sid, reason: 'logout_all', count: n })
      return n
    },

    async revoke(claims, sessionId) {
      const now = clock()
      const record = await store.getSession(sessionId, now)
      // Another user's session is indistinguishable from a missing one.
      if (record === null || record.userId !== claims.sub || record.revokedAt !== null) throw new BatonError('not_found')
      await store.revokeSession(sessionId, now)
      liveness.forget(sessionId)
      audit(log, 'revoked', { sid: sessionId, sub: claims.sub, reason: 'revoked_by_user' })
    },
  }
}
