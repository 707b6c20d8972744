import type { Deps } from '../deps.js'
import { BatonError } from '../errors.js'
import type { Sessions } from '../sessions.js'
import { createTTLCache } from '../ttl-cache.js'
import { SECOND } from './issue.js'

/** Whether a session is live, read through a one-second cache; revocations drop their entries. */
export interface SessionLiveness {
  /** Lets StoreUnavailableError through, so a revocation check fails closed (503). */
  isLive(sid: string): Promise<boolean>
  forget(sid: string): void
  forgetAll(): void
}

export function createSessionLiveness(deps: Deps): SessionLiveness {
  const { store, clock } = deps
  const cache = createTTLCache<string, boolean>({ ttlMs: SECOND, maxEntries: 10_000, now: clock })
  return {
    async isLive(sid) {
      const hit = cache.get(sid)
      if (hit !== undefined) return hit
      const now = clock()
      const record = await store.getSession(sid, now)
      const live = record !== null && record.revokedAt === null
      // A short cache: revocation takes effect within a second (counted from the read), and a
      // busy user costs one store read per second instead of one per request.
      cache.set(sid, live, now)
      return live
    },
    forget: (sid) => cache.delete(sid),
    forgetAll: () => cache.clear(),
  }
}

/** Checking presented tokens: a protected route's bearer token, and any of our tokens (`verify`). */
export function createTokenChecks(deps: Deps, liveness: SessionLiveness): Pick<Sessions, 'verify' | 'authenticate'> {
  const { config, store, tokens, clock } = deps
  return {
    async verify(token) {
      const claims = await tokens.verifyAny(token)
      if (claims.token_type === 'access') {
        if (config.revocationCheck && !(await liveness.isLive(claims.sid))) throw new BatonError('token_revoked')
        return
      }
      const now = clock()
      const record = await store.getSession(claims.sid, now)
      if (record === null || record.userId !== claims.sub) throw new BatonError('token_not_valid')
      if (record.revokedAt !== null) throw new BatonError('token_revoked')
      const current = claims.jti === record.currentJti
      const inGrace = claims.jti === record.previousJti && record.graceUntil !== null && now < record.graceUntil
      // The successor of a rotation the store lost (store/rotation.ts): refresh accepts it.
      const lostSuccessor = claims.jti === record.nextJti && claims.gen === record.generation + 1
      if (!current && !inGrace && !lostSuccessor) throw new BatonError('token_not_valid')
    },

    async authenticate(token) {
      const claims = await tokens.verifyAccess(token)
      // SPEC §3.6: stateless by default; with the revocation check, fail closed (503) when the
      // store is down, because `isLive` lets StoreUnavailableError through.
      if (config.revocationCheck && !(await liveness.isLive(claims.sid))) throw new BatonError('token_revoked')
      return claims
    },
  }
}
