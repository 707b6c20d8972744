import type { Deps } from '../deps.js'
import { BatonError, StoreUnavailableError } from '../errors.js'
import type { FailureLimits } from '../limits/failure-limits.js'
import type { LegacyExchange } from '../migration.js'
import type { ClientInfo, IssuedTokens, Sessions } from '../sessions.js'
import type { RotateOutcome } from '../store/types.js'
import { type RefreshClaims, newRefreshJti } from '../tokens/jwt.js'
import { audit, issueTokens, SECOND } from './issue.js'

/**
 * Refresh (SPEC §3.2): rotation with its grace window and reuse detection, the touch of rotation
 * off, and the exchange of a legacy simplejwt token (§9). The rate limit around it is
 * {@link gateRefresh}'s.
 */
export function createRefresh(deps: Deps, legacy: LegacyExchange | null): Pick<Sessions, 'refresh'> {
  const { config, store, tokens, clock, metrics } = deps

  /** SPEC §9: generation 0 of a new session; the store decides created, grace or reuse. */
  async function refreshLegacy(exchange: LegacyExchange, token: string, client: ClientInfo): Promise<IssuedTokens> {
    try {
      const { outcome, claims, sub, sid } = await exchange.exchange(token, client)
      return await answer(deps, outcome, { sid, sub, presented_gen: 0 }, client, exchange.jtiHash(claims.jti))
    } catch (err) {
      countFailure(metrics, err)
      throw err
    }
  }

  return {
    async refresh(token, client) {
      // SPEC §9: a simplejwt refresh token during the cut-over (migration.ts).
      if (legacy !== null && legacy.accepts(token)) return refreshLegacy(legacy, token, client)
      let claims: RefreshClaims
      try {
        // SPEC §3.2 step 1: signature, type, issuer, audience and expiry before the store.
        claims = await tokens.verifyRefresh(token)
      } catch (err) {
        metrics.refreshOutcomes.inc({ outcome: 'token_not_valid' })
        throw err
      }
      const now = clock()
      const fields = { sid: claims.sid, sub: claims.sub }
      try {
        if (!config.rotateRefreshTokens) {
          const out = await store.touch({ id: claims.sid, jti: claims.jti, now, userId: claims.sub })
          if (out.kind === 'touched' && out.session.userId === claims.sub) {
            metrics.refreshOutcomes.inc({ outcome: 'ok' })
            return issueTokens(deps, out.session, false)
          }
          throw new BatonError(out.kind === 'revoked' ? 'token_revoked' : 'token_not_valid')
        }
        const out = await store.rotate({
          id: claims.sid,
          jti: claims.jti,
          newJti: newRefreshJti(),
          spareJti: newRefreshJti(),
          now,
          graceMs: config.refreshGraceSeconds * SECOND,
          // The grace window does not run while the store could not answer (outage-spans.ts).
          outages: store.outages(now),
          refreshLifetimeMs: config.refreshTokenLifetime * SECOND,
          generation: claims.gen,
          userId: claims.sub,
        })
        return await answer(deps, out, { ...fields, presented_gen: claims.gen }, client)
      } catch (err) {
        countFailure(metrics, err)
        throw err
      }
    },
  }
}

/** SPEC §3.2's outcomes as answers: the same for baton's tokens and for legacy ones (§9). */
async function answer(
  deps: Deps,
  out: RotateOutcome,
  fields: { sid: string; sub: string; presented_gen: number },
  client: ClientInfo,
  legacyJtiHash?: string,
): Promise<IssuedTokens> {
  const { log, metrics } = deps
  const { presented_gen, ...ids } = fields
  switch (out.kind) {
    case 'rotated':
      if (out.session.userId !== fields.sub) throw new BatonError('token_not_valid')
      metrics.refreshOutcomes.inc({ outcome: 'ok' })
      if (legacyJtiHash === undefined) audit(log, 'rotated', { ...ids, gen: out.session.generation })
      else {
        metrics.migrated.inc()
        audit(log, 'migrated', { ...ids, gen: out.session.generation, legacy_jti_hash: legacyJtiHash })
      }
      return await issueTokens(deps, out.session, true)
    case 'grace':
      if (out.session.userId !== fields.sub) throw new BatonError('token_not_valid')
      metrics.refreshOutcomes.inc({ outcome: 'grace' })
      metrics.graceHits.inc()
      audit(log, 'grace_hit', { ...ids, gen: out.session.generation })
      return await issueTokens(deps, out.session, true)
    case 'reused':
      metrics.reuseDetections.inc()
      audit(
        log,
        'reused',
        {
          ...ids,
          presented_gen,
          current_gen: out.session.generation,
          ip: client.ip,
          ...(legacyJtiHash === undefined ? {} : { legacy_jti_hash: legacyJtiHash }),
        },
        'warn',
      )
      throw new BatonError('token_reused')
    case 'revoked':
      throw new BatonError('token_revoked')
    case 'not_found':
      throw new BatonError('token_not_valid')
  }
}

function countFailure(metrics: Deps['metrics'], err: unknown): void {
  if (err instanceof StoreUnavailableError) {
    // The guard already wrote the one `store_error` line (with the cause and the sid).
    metrics.refreshOutcomes.inc({ outcome: 'store_unavailable' })
  } else if (err instanceof BatonError) {
    metrics.refreshOutcomes.inc({ outcome: err.code })
  }
}

/**
 * SPEC §5 `REFRESH_RATE_LIMIT` around `refresh`: each refresh holds a turn of its address's
 * failure budget until its outcome is known, so the limit holds under concurrency, with no store
 * call on a success (limits/refresh-gate.ts). A refused token counts as a failure; the store
 * being down does not (that is ours, SPEC §4).
 */
export function gateRefresh(sessions: Sessions, limits: FailureLimits, log: Deps['log']): Sessions {
  const refresh = sessions.refresh
  return {
    ...sessions,
    async refresh(token, client) {
      const pass = await limits.enterRefresh(client.ip)
      let failed = false
      try {
        return await refresh(token, client)
      } catch (err) {
        failed = err instanceof BatonError && !(err instanceof StoreUnavailableError)
        throw err
      } finally {
        if (!failed) limits.refreshDone(pass)
        else {
          // Counting is bookkeeping: its own error must not replace the refresh's answer (a 401
          // would become a 500). The guard already logged a store failure; anything else here.
          await limits.refreshFailed(pass).catch((err: unknown) => {
            if (!(err instanceof StoreUnavailableError)) log.error({ err }, 'counting a failed refresh failed')
          })
        }
      }
    },
  }
}
