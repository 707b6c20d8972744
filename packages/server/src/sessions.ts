import type { SessionInfo } from '@baton/client'
import type { Deps } from './deps.js'
import { BatonError, StoreUnavailableError } from './errors.js'
import { createLegacyExchange } from './migration.js'
import { createFailureLimits, type FailureLimits } from './limits/failure-limits.js'
import { createLoginQueue } from './limits/login-queue.js'
import type { RotateOutcome, SessionRecord } from './store/types.js'
import { type AccessClaims, type RefreshClaims, newId, newRefreshJti } from './tokens/jwt.js'
import { createTTLCache } from './ttl-cache.js'

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

const SECOND = 1000

export function createSessions(deps: Deps): Sessions {
  const { config, store, tokens, clock, log, metrics } = deps
  const limits = createFailureLimits(deps)
  const legacy = createLegacyExchange(deps)
  let shedSinceLog = 0
  let shedLoggedAt = -Infinity
  // Only login's password checks wait here: refresh and protected routes do no password work,
  // so a login storm never stands in front of them (issue 15).
  const loginQueue = createLoginQueue({
    concurrency: config.loginConcurrency,
    maxWaiting: config.loginQueueLength,
    maxWaitMs: config.loginQueueWaitMs,
    clock,
    onChange(running, waiting) {
      metrics.loginQueue.set({ state: 'running' }, running)
      metrics.loginQueue.set({ state: 'waiting' }, waiting)
    },
    onShed(reason) {
      if (reason === 'gone') return // counted by login() below, with the gone clients the checker saw
      metrics.loginOutcomes.inc({ outcome: 'login_busy' })
      // One line per 10 s at most: a storm sheds hundreds a second.
      shedSinceLog++
      if (clock() - shedLoggedAt < 10 * SECOND) return
      log.warn(
        { event: 'login_busy', shed: shedSinceLog, concurrency: config.loginConcurrency, queue: config.loginQueueLength },
        'more logins at once than the password checks can serve: answering 503 login_busy',
      )
      shedSinceLog = 0
      shedLoggedAt = clock()
    },
  })
  // Whether a session is live, for the revocation check (sessionIsLive).
  const sessionCache = createTTLCache<string, boolean>({ ttlMs: SECOND, maxEntries: 10_000, now: clock })

  async function issue(record: SessionRecord, withRefresh: boolean): Promise<IssuedTokens> {
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

  /** SPEC §3.2's outcomes as answers: the same for baton's tokens and for legacy ones (§9). */
  async function answer(
    out: RotateOutcome,
    fields: { sid: string; sub: string; presented_gen: number },
    client: ClientInfo,
    legacyJtiHash?: string,
  ): Promise<IssuedTokens> {
    const { presented_gen, ...ids } = fields
    switch (out.kind) {
      case 'rotated':
        if (out.session.userId !== fields.sub) throw new BatonError('token_not_valid')
        metrics.refreshOutcomes.inc({ outcome: 'ok' })
        if (legacyJtiHash === undefined) audit('rotated', { ...ids, gen: out.session.generation })
        else {
          metrics.migrated.inc()
          audit('migrated', { ...ids, gen: out.session.generation, legacy_jti_hash: legacyJtiHash })
        }
        return await issue(out.session, true)
      case 'grace':
        if (out.session.userId !== fields.sub) throw new BatonError('token_not_valid')
        metrics.refreshOutcomes.inc({ outcome: 'grace' })
        metrics.graceHits.inc()
        audit('grace_hit', { ...ids, gen: out.session.generation })
        return await issue(out.session, true)
      case 'reused':
        metrics.reuseDetections.inc()
        audit(
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

  function countFailure(err: unknown): void {
    if (err instanceof StoreUnavailableError) {
      // The guard already wrote the one `store_error` line (with the cause and the sid).
      metrics.refreshOutcomes.inc({ outcome: 'store_unavailable' })
    } else if (err instanceof BatonError) {
      metrics.refreshOutcomes.inc({ outcome: err.code })
    }
  }

  /** SPEC §9: generation 0 of a new session; the store decides created, grace or reuse. */
  async function refreshLegacy(token: string, client: ClientInfo): Promise<IssuedTokens> {
    try {
      const { outcome, claims, sub, sid } = await legacy!.exchange(token, client)
      return await answer(outcome, { sid, sub, presented_gen: 0 }, client, legacy!.jtiHash(claims.jti))
    } catch (err) {
      countFailure(err)
      throw err
    }
  }

  function audit(event: string, fields: Record<string, unknown>, level: 'info' | 'warn' = 'info'): void {
    log[level]({ audit: event, ...fields }, event)
  }

  async function sessionIsLive(sid: string): Promise<boolean> {
    const hit = sessionCache.get(sid)
    if (hit !== undefined) return hit
    const now = clock()
    const record = await store.getSession(sid, now)
    const live = record !== null && record.revokedAt === null
    // A short cache: revocation takes effect within a second (counted from the read), and a
    // busy user costs one store read per second instead of one per request.
    sessionCache.set(sid, live, now)
    return live
  }

  /** A login whose client closed its connection: the answer goes nowhere, so any code would do. */
  function clientGone(): BatonError {
    metrics.loginOutcomes.inc({ outcome: 'client_gone' })
    return new BatonError('login_busy', { detail: 'The client closed the connection.' })
  }

  const sessions: Sessions = {
    async login(username, password, client, options = {}) {
      const { signal } = options
      // The attempt is counted before the password check (issue 11): see failure-limits.ts.
      // Reserve, then queue (issue 15): a name or address past its limit is refused before it
      // takes a place in the queue, so a locked-out guesser cannot fill it and shed everyone
      // else; a reservation held while waiting still counts, so a burst on one name cannot get
      // more checks than its limit by queueing. A login that is shed gives the attempt back.
      const reservation = await limits.reserveLogin(username, client.ip)
      let user: Awaited<ReturnType<typeof deps.credentials.check>>
      try {
        user = await loginQueue.run(() => deps.credentials.check(username, password, signal === undefined ? {} : { signal }), signal)
      } catch (err) {
        // Shed (login_busy), client gone, or the user database down: nothing was tried.
        await reservation.abandoned()
        if (signal?.aborted === true) throw clientGone()
        throw err
      }
      if (signal?.aborted === true) {
        // The check ran to its end but nobody is there to take the tokens: no session for them.
        if (user !== null) await reservation.succeeded()
        else {
          // A wrong password is a counted failure and an audit line, whoever stayed to hear it.
          metrics.loginOutcomes.inc({ outcome: 'invalid_credentials' })
          audit('login_failed', { ip: client.ip, client_gone: true }, 'warn')
        }
        throw clientGone()
      }
      if (user === null) {
        // The reserved attempt is the counted failure.
        metrics.loginOutcomes.inc({ outcome: 'invalid_credentials' })
        audit('login_failed', { ip: client.ip }, 'warn')
        throw new BatonError('invalid_credentials')
      }
      await reservation.succeeded()
      const now = clock()
      const record = await store.createSession({
        id: newId('s_'),
        userId: user.id,
        jti: newRefreshJti(),
        // Chosen now, so a lost first rotation is recoverable (store/rotation.ts).
        nextJti: newRefreshJti(),
        now,
        expiresAt: now + config.refreshTokenLifetime * SECOND,
        absoluteExpiresAt: now + config.sessionMaxLifetime * SECOND,
        userAgent: client.userAgent,
        ip: client.ip,
      })
      metrics.loginOutcomes.inc({ outcome: 'ok' })
      audit('login', { sid: record.id, sub: user.id })
      return issue(record, true)
    },

    async refresh(token, client) {
      // SPEC §9: a simplejwt refresh token during the cut-over (migration.ts).
      if (legacy !== null && legacy.accepts(token)) return refreshLegacy(token, client)
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
            return issue(out.session, false)
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
        return await answer(out, { ...fields, presented_gen: claims.gen }, client)
      } catch (err) {
        countFailure(err)
        throw err
      }
    },

    async verify(token) {
      const claims = await tokens.verifyAny(token)
      if (claims.token_type === 'access') {
        if (config.revocationCheck && !(await sessionIsLive(claims.sid))) throw new BatonError('token_revoked')
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

    async logout(refreshToken) {
      if (legacy !== null && legacy.accepts(refreshToken)) {
        // SPEC §9: simplejwt's blacklist path moved to baton; the legacy token is done for.
        const revoked = await legacy.logout(refreshToken)
        if (revoked !== null) audit('revoked', { ...revoked, reason: 'logout' })
        return
      }
      const claims = await tokens.verifyRefresh(refreshToken)
      // Idempotent: a session already revoked (or gone) is logged out all the same.
      const revoked = await store.revokeSession(claims.sid, clock())
      sessionCache.delete(claims.sid)
      if (revoked) audit('revoked', { sid: claims.sid, sub: claims.sub, reason: 'logout' })
    },

    async logoutAll(claims) {
      const n = await store.revokeUserSessions(claims.sub, clock())
      sessionCache.clear()
      audit('revoked', { sub: claims.sub, sid: claims.sid, reason: 'logout_all', count: n })
      return n
    },

    async list(claims, { limit }) {
      // The page is cut here: the store answers every live session (it could take the limit
      // itself later, e.g. ZRANGE … LIMIT on Redis's per-user index).
      const records = await store.listUserSessions(claims.sub, clock())
      const byRecentUse = [...records].sort((a, b) => b.lastUsedAt - a.lastUsedAt || b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1))
      const page = byRecentUse.slice(0, limit)
      const current = page.some((r) => r.id === claims.sid) ? undefined : byRecentUse.find((r) => r.id === claims.sid)
      // The caller's own session is always listed: it takes the last place, the least recent.
      if (current !== undefined) page[page.length - 1] = current
      const sessions = page.map((r) => ({
        id: r.id,
        created_at: new Date(r.createdAt).toISOString(),
        last_used_at: new Date(r.lastUsedAt).toISOString(),
        user_agent: r.userAgent,
        ip: r.ip,
        current: r.id === claims.sid,
      }))
      return { sessions, total: records.length }
    },

    async revoke(claims, sessionId) {
      const now = clock()
      const record = await store.getSession(sessionId, now)
      // Another user's session is indistinguishable from a missing one.
      if (record === null || record.userId !== claims.sub || record.revokedAt !== null) throw new BatonError('not_found')
      await store.revokeSession(sessionId, now)
      sessionCache.delete(sessionId)
      audit('revoked', { sid: sessionId, sub: claims.sub, reason: 'revoked_by_user' })
    },

    async authenticate(token) {
      const claims = await tokens.verifyAccess(token)
      // SPEC §3.6: stateless by default; with the revocation check, fail closed (503) when the
      // store is down, because `sessionIsLive` lets StoreUnavailableError through.
      if (config.revocationCheck && !(await sessionIsLive(claims.sid))) throw new BatonError('token_revoked')
      return claims
    },
  }
  return gateRefresh(sessions, limits, log)
}

/**
 * SPEC §5 `REFRESH_RATE_LIMIT` around `refresh`: each refresh holds a turn of its address's
 * failure budget until its outcome is known, so the limit holds under concurrency, with no store
 * call on a success (limits/refresh-gate.ts). A refused token counts as a failure; the store
 * being down does not (that is ours, SPEC §4).
 */
function gateRefresh(sessions: Sessions, limits: FailureLimits, log: Deps['log']): Sessions {
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
