import { StoreUnavailableError } from '../errors.js'

/** Seconds a client should wait after the user database failed (login is retried by a person). */
const USER_STORE_RETRY_AFTER = 2

/**
 * The user database could not answer (down, unreachable, refusing our credentials, disk full).
 * A {@link StoreUnavailableError}, so the HTTP layer answers 503 `store_unavailable` with
 * `Retry-After` and never a 500 (SPEC: expected failures are never a 500). The message is
 * generic (it reaches the wire); `address` (password masked) and `cause` (sanitized) are for logs.
 */
export class UserStoreUnavailableError extends StoreUnavailableError {
  constructor(options: { operation: string; address: string; cause?: unknown }) {
    super({
      operation: `users.${options.operation}`,
      address: options.address,
      retryAfter: USER_STORE_RETRY_AFTER,
      cause: options.cause,
    })
    this.name = 'UserStoreUnavailableError'
    this.message = 'User database unavailable; retry shortly.'
  }
}
