import type { Deps } from '../deps.js'
import type { IssuedTokens } from '../sessions.js'
import type { SessionRecord } from '../store/types.js'
import { newId } from '../tokens/jwt.js'

/** What every part of the session rules shares: minting a record's tokens and the audit line. */

export const SECOND = 1000

/** A fresh access token for `record`, and with `withRefresh` its refresh token. */
export async function issueTokens(deps: Deps, record: SessionRecord, withRefresh: boolean): Promise<IssuedTokens> {
  const { config, tokens, clock } = deps
  const now = clock()
  const iat = Math.floor(now / SECOND)
  const access = await tokens.signAccess({
    sub: record.userId,
    // SPEC §9: in the user store's type (Django's integer key is a number); sub stays a string.
    user_id: deps.credentials.userIdClaim?.(record.userId) ?? record.userId,
    sid: record.id,
    jti: newId(),
    iat,
    exp: iat + config.accessTokenLifetime,
  })
  if (!withRefresh) return { access, sid: record.id }
  // The refresh token is a pure function of the record, so the grace path (SPEC §3.2)
  // re-mints exactly the successor the rotation issued.
  const exp = Math.floor(record.expiresAt / SECOND)
  const refresh = await tokens.signRefresh({
    sub: record.userId,
    sid: record.id,
    jti: record.currentJti,
    gen: record.generation,
    iat: Math.floor(record.currentIssuedAt / SECOND),
    exp,
    auth_time: Math.floor(record.createdAt / SECOND),
  })
  return { access, refresh, refreshExpiresAt: exp, sid: record.id }
}

/** One audit line: `{ audit: event, …fields }` with the event as its message. */
export function audit(log: Deps['log'], event: string, fields: Record<string, unknown>, level: 'info' | 'warn' = 'info'): void {
  log[level]({ audit: event, ...fields }, event)
}
