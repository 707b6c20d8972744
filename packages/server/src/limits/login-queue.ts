import { randomInt } from 'node:crypto'
import type { Clock } from '../clock.js'
import { BatonError } from '../errors.js'

/**
 * Why a login left the queue without its password check: `full` (no room to wait), `timeout`
 * (waited the longest a login may wait), `gone` (its client closed the connection).
 */
export type LoginShedReason = 'full' | 'timeout' | 'gone'

export interface LoginQueueOptions {
  /** Password checks running at once (`BATON_LOGIN_CONCURRENCY`). */
  concurrency: number
  /** Logins that may wait for a check beyond those (`BATON_LOGIN_QUEUE`); 0: none wait. */
  maxWaiting: number
  /** The longest a login waits for its turn, in ms (`BATON_LOGIN_QUEUE_MS`). */
  maxWaitMs: number
  clock: Clock
  /** Told of every login that left without being checked. @default nothing */
  onShed?: (reason: LoginShedReason) => void
  /** Told the checks running and the logins waiting after each change (a gauge). @default nothing */
  onChange?: (running: number, waiting: number) => void
}

/** A fixed number of password checks in flight, and a short queue in front of them. */
export interface LoginQueue {
  /**
   * Runs `check` once one of the `concurrency` slots is free. Rejects without running it with
   * 503 `login_busy` (Retry-After) when `maxWaiting` logins already wait or its turn has not come
   * within `maxWaitMs`, and with {@link ClientGoneError} when `signal` aborts first. A check
   * already running is never interrupted: scrypt cannot be, and its slot is held until it ends.
   */
  run<T>(check: () => Promise<T>, signal?: AbortSignal): Promise<T>
  /** Checks running now. */
  readonly running: number
  /** Logins waiting now. */
  readonly waiting: number
}

/** The login's client closed its connection before its check began: nothing was checked. */
export class ClientGoneError extends Error {
  constructor() {
    super('the client closed the connection before its login was checked')
    this.name = 'ClientGoneError'
  }
}

interface Waiter {
  enqueuedAt: number
  start(): void
  shed(reason: LoginShedReason): void
}

/**
 * Issue 15 (a login storm). Each password check costs ~0.4 s of one core by design (SPEC §1's
 * similar time, OWASP's scrypt cost), so a few hundred logins at once — everyone logged out by a
 * store that lost its data — queued without bound behind libuv's thread pool: requests waited
 * past their clients' timeouts, and the checks of clients that had given up still ran, so a
 * login a second later waited behind them all. Here at most `concurrency` checks run, at most
 * `maxWaiting` logins wait and none waits longer than `maxWaitMs`; the rest are told at once to
 * come back (503, as for any overload), and a login whose client has gone leaves the queue.
 *
 * First come, first served: with the wait bounded, the oldest waiter is still within its
 * client's patience. The wait is bounded twice: by a timer (so a waiter is answered even if no
 * check ends), and by the clock when its turn comes (so a late timer never lets a stale one in).
 */
export function createLoginQueue(options: LoginQueueOptions): LoginQueue {
  const { concurrency, maxWaiting, maxWaitMs, clock } = options
  const onShed = options.onShed ?? (() => {})
  const onChange = options.onChange ?? (() => {})
  const queue: Waiter[] = []
  let running = 0
  /** A moving average of one check's time (ms), for Retry-After. */
  let checkMs = 0

  /**
   * Retry-After: about when everyone waiting or running now has been checked (at the checks'
   * recent pace, and never beyond the wait bound, by when they have all been served or sent
   * away), spread up to twice that so the clients sent away do not come back as one storm.
   */
  function busy(): BatonError {
    const drainMs = Math.min(maxWaitMs, (checkMs * (queue.length + running)) / concurrency)
    const base = Math.max(1, Math.ceil(drainMs / 1000))
    return new BatonError('login_busy', { headers: { 'retry-after': String(base + randomInt(0, base + 1)) } })
  }

  function pump(): void {
    while (running < concurrency && queue.length > 0) {
      const next = queue.shift()!
      if (clock() - next.enqueuedAt > maxWaitMs) next.shed('timeout')
      else next.start()
    }
    onChange(running, queue.length)
  }

  function execute<T>(check: () => Promise<T>): Promise<T> {
    running++
    const startedAt = clock()
    let done: Promise<T>
    try {
      done = check()
    } catch (err) {
      done = Promise.reject(err)
    }
    return done.finally(() => {
      checkMs = checkMs === 0 ? clock() - startedAt : 0.8 * checkMs + 0.2 * (clock() - startedAt)
      running--
      pump()
    })
  }

  return {
    run(check, signal) {
      if (signal?.aborted === true) {
        onShed('gone')
        return Promise.reject(new ClientGoneError())
      }
      if (running < concurrency && queue.length === 0) {
        const done = execute(check)
        onChange(running, queue.length)
        return done
      }
      // Also full when the checks already waiting take the whole wait bound at their recent
      // pace: this login would only be sent away later, having waited for nothing.
      if (queue.length >= maxWaiting || Math.floor(queue.length / concurrency) * checkMs >= maxWaitMs) {
        onShed('full')
        return Promise.reject(busy())
      }
      return new Promise((resolve, reject) => {
        const leave = (): void => {
          clearTimeout(timer)
          signal?.removeEventListener('abort', gone)
          const i = queue.indexOf(waiter)
          if (i >= 0) queue.splice(i, 1)
          onChange(running, queue.length)
        }
        const waiter: Waiter = {
          enqueuedAt: clock(),
          start() {
            leave()
            execute(check).then(resolve, reject)
          },
          shed(reason) {
            leave()
            onShed(reason)
            reject(reason === 'gone' ? new ClientGoneError() : busy())
          },
        }
        const gone = (): void => waiter.shed('gone')
        const timer = setTimeout(() => waiter.shed('timeout'), maxWaitMs)
        // A waiter must not keep a closing process alive; close() answers it anyway.
        timer.unref()
        signal?.addEventListener('abort', gone, { once: true })
        queue.push(waiter)
        onChange(running, queue.length)
      })
    },
    get running() {
      return running
    },
    get waiting() {
      return queue.length
    },
  }
}
