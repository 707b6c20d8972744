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
      const now = clock()
      const n = await store.revokeUserSessions(claims.sub, now)
      // The caller's own session is revoked by id too: in a Redis Cluster the user's index lives
      // on another shard than the sessions, and a shard restarted empty loses the index while
      // the sessions live on (the chaos run's Cluster variant: logout-all answered {"revoked":0}
      // and 5 of 6 sessions still refreshed). The store's logout-all mark ends the others at
      // their next use (store/redis-user-marks.ts); still live here means the index had lost
      // it, which one warning says, naming the user.
      const missed = await store.revokeSession(claims.sid, now)
      liveness.forgetAll()
      audit(log, 'revoked', { sub: claims.sub, sid: claims.sid, reason: 'logout_all', count: n + (missed ? 1 : 0) })
      if (missed)
        log.warn(
          { event: 'user_index_incomplete', sub: claims.sub, sid: claims.sid },
          "log out everywhere: the caller's own session was not in the user's session index (the store lost data); in a Redis Cluster the logout-all mark still ends every older session at its next use",
        )
      return n + (missed ? 1 : 0)
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
