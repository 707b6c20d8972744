import type { Deps } from '../deps.js'
import { BatonError } from '../errors.js'
import type { FailureLimits } from '../limits/failure-limits.js'
import { createLoginQueue, type LoginQueue } from '../limits/login-queue.js'
import type { Sessions } from '../sessions.js'
import { newId, newRefreshJti } from '../tokens/jwt.js'
import { audit, issueTokens, SECOND } from './issue.js'

/**
 * Login: the failure limits, then the password check in the login queue (issue 15),
 * then a new session and its first tokens.
 */
export function createLogin(deps: Deps, limits: FailureLimits): Pick<Sessions, 'login'> {
  const { config, store, clock, log, metrics } = deps
  const loginQueue = createShedLoggingQueue(deps)

  /** A login whose client closed its connection: the answer goes nowhere, so any code would do. */
  function clientGone(): BatonError {
    metrics.loginOutcomes.inc({ outcome: 'client_gone' })
    return new BatonError('login_busy', { detail: 'The client closed the connection.' })
  }

  return {
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
          audit(log, 'login_failed', { ip: client.ip, client_gone: true }, 'warn')
        }
        throw clientGone()
      }
      if (user === null) {
        // The reserved attempt is the counted failure.
        metrics.loginOutcomes.inc({ outcome: 'invalid_credentials' })
        audit(log, 'login_failed', { ip: client.ip }, 'warn')
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
      audit(log, 'login', { sid: record.id, sub: user.id })
      return issueTokens(deps, record, true)
    },
  }
}

/**
 * The login queue, with its gauges and a rate-limited line for the logins it sheds. Only login's
 * password checks wait here: refresh and protected routes do no password work, so a login storm
 * never stands in front of them (issue 15).
 */
function createShedLoggingQueue(deps: Deps): LoginQueue {
  const { config, clock, log, metrics } = deps
  let shedSinceLog = 0
  let shedLoggedAt = -Infinity
  return createLoginQueue({
    concurrency: config.loginConcurrency,
    maxWaiting: config.loginQueueLength,
    maxWaitMs: config.loginQueueWaitMs,
    clock,
    onChange(running, waiting) {
      metrics.loginQueue.set({ state: 'running' }, running)
      metrics.loginQueue.set({ state: 'waiting' }, waiting)
    },
    onShed(reason) {
      if (reason === 'gone') return // counted by login(), with the gone clients the checker saw
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
}
