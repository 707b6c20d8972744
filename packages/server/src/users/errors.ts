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

/**
 * `postgres://user:****@host:5432/db`: the URL with its password hidden and its query string
 * (which may carry `password=` or key paths) dropped. Unparseable input gives a placeholder,
 * never the input.
 */
export function maskDatabaseURL(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return '<unparseable DATABASE_URL>'
  }
  const user = parsed.username ? `${parsed.username}${parsed.password ? ':****' : ''}@` : ''
  return `${parsed.protocol}//${user}${parsed.host}${parsed.pathname}`
}

/**
 * Every spelling of the URL's secrets (the raw URL, the password raw and percent-decoded) that
 * must never appear in a message, longest first.
 */
export function secretsOfURL(url: string): string[] {
  const secrets = new Set<string>([url])
  try {
    const { password, searchParams } = new URL(url)
    if (password) {
      secrets.add(password)
      secrets.add(safeDecode(password))
    }
    for (const key of ['password', 'sslpassword']) {
      const value = searchParams.get(key)
      if (value) secrets.add(value)
    }
  } catch {
    // Unparseable: the raw URL alone is hidden; the password cannot be told apart reliably,
    // so the text after the scheme's `//` up to the last `@` is hidden too.
    const m = /\/\/(.*)@/.exec(url)
    if (m?.[1]) secrets.add(m[1])
  }
  return [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length)
}

/**
 * A copy of `err` safe to log or print: message with every secret replaced by `****`, SQLSTATE /
 * errno `code` kept, no `cause` and no other properties (client libraries attach the raw URL or
 * connection options to errors, e.g. Node's `ERR_INVALID_URL` keeps `input`).
 */
export function sanitizeError(err: unknown, secrets: readonly string[]): Error {
  const source = err instanceof Error ? err : new Error(String(err))
  let message = source.message
  for (const secret of secrets) message = message.split(secret).join('****')
  const copy = new Error(message) as Error & { code?: string }
  copy.name = source.name
  const code = (source as { code?: unknown }).code
  if (typeof code === 'string') copy.code = code
  if (source.stack) {
    let stack = source.stack
    for (const secret of secrets) stack = stack.split(secret).join('****')
    copy.stack = stack
  }
  return copy
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}
