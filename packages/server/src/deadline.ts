/**
 * A deadline on one promise, shared by the callers that bound a call they cannot cancel (the
 * doctor's DNS lookup, every store call through the guard).
 */

/** The rejection of a call that outlived its deadline. `code` is stable: `TIMEOUT`. */
export class DeadlineExceeded extends Error {
  readonly code = 'TIMEOUT'
  readonly ms: number
  constructor(ms: number) {
    super(`no answer within ${ms} ms`)
    this.name = 'DeadlineExceeded'
    this.ms = ms
  }
}

/**
 * Settles as `promise` does, or rejects with `timeout(ms)` (a `DeadlineExceeded` by default) once
 * `ms` have passed. One promise and one timer per call (Promise.race with a finally made five;
 * issue 5). A late answer settles nothing, and a late rejection is handled here, so it is never
 * left unhandled.
 */
export function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  timeout: (ms: number) => Error = (n) => new DeadlineExceeded(n),
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(timeout(ms)), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (err: unknown) => {
        clearTimeout(timer)
        reject(err)
      },
    )
  })
}
