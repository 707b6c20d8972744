import { createHash } from 'node:crypto'
import type { Deps } from './deps.js'
import { BatonError } from './errors.js'
import type { ClientInfo } from './sessions.js'
import type { RotateOutcome } from './store/types.js'
import { newRefreshJti } from './tokens/jwt.js'
import { type LegacyRefreshClaims, createSimplejwtVerifier } from './tokens/simplejwt.js'
import { isDjangoUserStore } from './users/django-checker.js'

const SECOND = 1000

/**
 * SPEC §9's cut-over: while `SIMPLEJWT_SIGNING_KEY` is set, the refresh route also takes a
 * simplejwt refresh token, once: it becomes generation 0 of a new baton session (one atomic
 * store operation, `SessionStore.migrateLegacy`), so SPEC §3's rules apply to it unchanged —
 * presented again within grace it answers the same successor, later it is reuse.
 *
 * The session id is derived from the legacy `jti`, so every instance (and every racing request)
 * names the same session, and twenty parallel presentations start one.
 */
export interface LegacyExchange {
  /** True when the token is simplejwt-shaped (no `kid`; `typ` absent or `JWT`): not baton's. */
  accepts(token: string): boolean
  /** Exchanges a simplejwt refresh token; answers the store's outcome with the user's id. */
  exchange(token: string, client: ClientInfo): Promise<{ outcome: RotateOutcome; claims: LegacyRefreshClaims; sub: string; sid: string }>
  /**
   * Logout with a simplejwt refresh token (simplejwt's blacklist path moved to baton): its
   * session is created revoked, so the token can never be exchanged afterwards.
   */
  logout(token: string): Promise<{ sid: string; sub: string } | null>
  /** The audit name of a legacy jti (a hash; never the token or the jti itself). */
  jtiHash(jti: string): string
}

export function createLegacyExchange(deps: Deps): LegacyExchange | null {
  const { config, store, clock } = deps
  if (config.simplejwt === null) return null
  const verifier = createSimplejwtVerifier({ ...config.simplejwt, leeway: config.leeway, clock })
  const users = deps.users
  const blacklist = isDjangoUserStore(users) ? users : null

  /** Verified claims and the user they name, or a BatonError (SPEC §9's refusals). */
  async function check(token: string): Promise<{ claims: LegacyRefreshClaims; sub: string; sid: string }> {
    const claims = verifier.verifyRefresh(token)
    // Logged out at Django (or rotated away with BLACKLIST_AFTER_ROTATION): stays logged out.
    if (blacklist !== null && (await blacklist.isBlacklisted(claims.jti))) throw new BatonError('token_revoked')
    const user = await deps.credentials.findById(String(claims.userId))
    if (user === null) throw new BatonError('token_not_valid')
    return { claims, sub: user.id, sid: sessionId(claims.jti) }
  }

  let warnedLifetime = false

  function migrate(claims: LegacyRefreshClaims, sub: string, sid: string, client: ClientInfo): Promise<RotateOutcome> {
    const now = clock()
    // The session outlives the legacy token only while REFRESH_TOKEN_LIFETIME covers what is left
    // of it: each rotation sets the record's expiry to now + that lifetime, and a record gone
    // before the legacy token expires would let it be exchanged again. Said once, to be fixed
    // in configuration (README: keep it at least Django's REFRESH_TOKEN_LIFETIME).
    if (!warnedLifetime && claims.exp * SECOND > now + config.refreshTokenLifetime * SECOND) {
      warnedLifetime = true
      deps.log.warn(
        { event: 'simplejwt_lifetime', refresh_token_lifetime: config.refreshTokenLifetime },
        "a simplejwt refresh token outlives REFRESH_TOKEN_LIFETIME: set it at least to Django's REFRESH_TOKEN_LIFETIME, or an expired session could let that token be exchanged again",
      )
    }
    return store.migrateLegacy({
      id: sid,
      userId: sub,
      legacyJti: claims.jti,
      newJti: newRefreshJti(),
      nextJti: newRefreshJti(),
      now,
      graceMs: config.refreshGraceSeconds * SECOND,
      refreshLifetimeMs: config.refreshTokenLifetime * SECOND,
      absoluteExpiresAt: now + config.sessionMaxLifetime * SECOND,
      keepUntil: (claims.exp + config.leeway) * SECOND,
      userAgent: client.userAgent,
      ip: client.ip,
    })
  }

  return {
    accepts: (token) => verifier.looksLegacy(token),
    async exchange(token, client) {
      const { claims, sub, sid } = await check(token)
      return { outcome: await migrate(claims, sub, sid, client), claims, sub, sid }
    },
    async logout(token) {
      const { claims, sub, sid } = await check(token).catch((err: unknown) => {
        // Already revoked at Django: logging out is done (idempotent, as SPEC §1 says).
        if (err instanceof BatonError && err.code === 'token_revoked') return { claims: null, sub: '', sid: '' }
        throw err
      })
      if (claims === null) return null
      await migrate(claims, sub, sid, { userAgent: null, ip: null })
      return (await store.revokeSession(sid, clock())) ? { sid, sub } : null
    },
    jtiHash: (jti) => verifier.jtiHash(jti),
  }
}

/** The session a legacy token starts: the same id wherever and however often it is presented. */
function sessionId(jti: string): string {
  return `s_${createHash('sha256').update(`baton:simplejwt-session:${jti}`).digest('base64url').slice(0, 22)}`
}
