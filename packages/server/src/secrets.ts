/**
 * The one owner of secret masking: URLs (Redis, Postgres, any `scheme://user:password@host`),
 * literal secrets in free text, and errors on their way to a log line or a reply.
 *
 * The policy, tested as a whole in test/secrets-policy.test.ts:
 * - URLs are read on the raw string, never with WHATWG `URL`: `URL` turns a `#` in a password
 *   into a fragment, a `?` into a query and a `/` into a path, and then shows the rest. The
 *   user-info ends at the LAST `@` (as ioredis's `url.parse` and libpq read it); the user name
 *   ends at the first `:`.
 * - A password is shown as `****`; so is a user-info without `:` in a Redis URL (ioredis sends
 *   it as a user name, but it is far more often a password in the wrong place). A database URL
 *   keeps such a user name (a user without a password is the normal case there).
 * - Password-like query parameters (`password=`, `sslpassword=`, `token=`, …) are masked.
 * - Known secrets (a URL's password, a Sentinel password) are masked wherever they appear in
 *   free text, raw and percent-encoded, but only from {@link MIN_SECRET_LENGTH} characters on:
 *   masking every `a` of a message because the password is `a` would make every log line
 *   unreadable and protect nothing (such a password is guessed, not read from a log). A short
 *   password is still masked where it sits in a URL.
 * - Errors are scrubbed in their message, stack and causes; ioredis's `command.args` (AUTH's
 *   password, our ids) are dropped, keeping the command's name.
 */

export const MASK = '****'

/** Literal secrets shorter than this are not searched for in free text (see the module comment). */
export const MIN_SECRET_LENGTH = 3

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//
/** Query parameters whose value is a secret, in any URL (`?password=…&sslpassword=…`). */
const QUERY_SECRET = /([?&](?:password|sslpassword|pass|pwd|secret|token|auth)=)[^&\s#]*/gi
const QUERY_SECRET_VALUE = /[?&](?:password|sslpassword|pass|pwd|secret|token|auth)=([^&\s#]*)/gi

/** The raw pieces of `scheme://[userinfo@]rest`; `null` when the text does not start with a scheme. */
interface RawURL {
  /** `redis://`, as written. */
  scheme: string
  /** What comes before the last `@`, or `null` when there is none. */
  userinfo: string | null
  /** Host, port, path, query: what follows the user-info. */
  rest: string
}

function splitURL(url: string): RawURL | null {
  const scheme = SCHEME.exec(url)
  if (scheme === null) return null
  const body = url.slice(scheme[0].length)
  const at = body.lastIndexOf('@')
  if (at === -1) return { scheme: scheme[0], userinfo: null, rest: body }
  return { scheme: scheme[0], userinfo: body.slice(0, at), rest: body.slice(at + 1) }
}

/**
 * The URL with its password replaced by `****`: `rediss://default:****@host:6379`. A user-info
 * without a `:` is masked whole (`redis://****@host`). Password-like query parameters are
 * masked too. Works on any string; text that is not a URL goes through {@link maskSecrets}.
 */
export function maskURL(url: string): string {
  const parts = splitURL(url)
  if (parts === null) return maskSecrets(url)
  if (parts.userinfo === null) return maskQuerySecrets(url)
  const colon = parts.userinfo.indexOf(':')
  const shownUser = colon === -1 ? MASK : `${parts.userinfo.slice(0, colon)}:${colon === parts.userinfo.length - 1 ? '' : MASK}`
  return maskQuerySecrets(`${parts.scheme}${shownUser}@${parts.rest}`)
}

/**
 * A database URL for logs: `postgres://user:****@host:5432/db`, its query string and fragment
 * dropped (they may carry `password=` or key paths). A user name without a password is kept.
 * Input that is not a `scheme://` URL gives a placeholder, never the input.
 */
export function maskDatabaseURL(url: string): string {
  const parts = splitURL(url.trim())
  if (parts === null) return '<unparseable DATABASE_URL>'
  const end = parts.rest.search(/[?#]/)
  const where = end === -1 ? parts.rest : parts.rest.slice(0, end)
  if (parts.userinfo === null) return `${parts.scheme.toLowerCase()}${where}`
  const colon = parts.userinfo.indexOf(':')
  const user = colon === -1 ? parts.userinfo : parts.userinfo.slice(0, colon)
  const hasPassword = colon !== -1 && colon < parts.userinfo.length - 1
  return `${parts.scheme.toLowerCase()}${user}${hasPassword ? `:${MASK}` : ''}@${where}`
}

/**
 * Masks every secret found in free text, such as an error message from a client library:
 * `scheme://user:password@` (any scheme; the password may hold `@`), `scheme://secret@`,
 * password-like query parameters, and every literal in `secrets` of at least
 * {@link MIN_SECRET_LENGTH} characters (raw, percent-encoded and JSON-escaped). Pass the known password in
 * `secrets` whenever you have it: it also catches a password that a library prints without its
 * URL (an `AUTH` command's arguments, for instance).
 */
export function maskSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text
  // Longest first, so a secret that contains another is masked whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length < MIN_SECRET_LENGTH) continue
    // Raw, percent-encoded, and as JSON escapes it (a `"` or `\\` in a password reaching a JSON line).
    for (const form of new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)])) out = out.split(form).join(MASK)
  }
  // Greedy up to the last `@` before whitespace: a password that holds `@` is masked whole.
  out = out.replace(/\b([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^\s:@/?#]*):(?!\*\*\*\*@)[^\s]*@/g, `$1$2:${MASK}@`)
  out = out.replace(/\b([A-Za-z][A-Za-z0-9+.-]*:\/\/)(?!\*\*\*\*@)[^\s:@/?#]+@/g, `$1${MASK}@`)
  return maskQuerySecrets(out)
}

function maskQuerySecrets(text: string): string {
  return text.replace(QUERY_SECRET, `$1${MASK}`)
}

/**
 * The secrets a URL carries, for `maskSecrets(text, secrets)`: its password raw and decoded,
 * and the values of password-like query parameters. Tolerates URLs that do not lint (quoted,
 * with unencoded `#?/@` in the password): whatever sits between the first `:` of the user-info
 * and the last `@` is secret, and so is a user-info without a `:`.
 */
export function secretsOf(url: string): string[] {
  const parts = splitURL(unwrap(url))
  if (parts === null) return []
  const out = new Set<string>()
  if (parts.userinfo !== null) {
    const colon = parts.userinfo.indexOf(':')
    const raw = colon === -1 ? parts.userinfo : parts.userinfo.slice(colon + 1)
    if (raw !== '') {
      out.add(raw)
      const decoded = safeDecode(raw)
      if (decoded !== null) out.add(decoded)
    }
  }
  for (const m of parts.rest.matchAll(QUERY_SECRET_VALUE)) {
    const value = m[1] ?? ''
    if (value !== '') out.add(value)
  }
  return [...out]
}

/** Environment variables that hold a URL with a password, or a password itself. */
const URL_VARIABLES = ['REDIS_URL', 'DATABASE_URL'] as const
const PASSWORD_VARIABLES = ['REDIS_SENTINEL_PASSWORD'] as const

/**
 * Every password the environment configures (in `REDIS_URL`, `DATABASE_URL`,
 * `REDIS_SENTINEL_PASSWORD`), each raw and decoded: config.ts refuses a signing key equal to one.
 */
export function configuredPasswords(env: Readonly<Record<string, string | undefined>>): string[] {
  const out = new Set<string>()
  for (const name of URL_VARIABLES) {
    const value = env[name]
    if (value) for (const s of secretsOf(value)) out.add(s)
  }
  for (const name of PASSWORD_VARIABLES) {
    const value = env[name]
    if (value) out.add(value)
  }
  return [...out]
}

/** Extra fields client libraries put on errors that may hold secrets or more errors. */
type ErrorExtras = Error & {
  command?: unknown
  lastNodeError?: unknown
  previousErrors?: unknown
}

/**
 * Masks secrets in an error (and its causes) in place, keeping its class (a `ReplyError` stays
 * one, for callers that test the type): the message, the stack, and ioredis's `command.args`
 * (which hold AUTH's password, and our ids: only the command's name is kept). Non-errors become
 * errors. For a library whose errors carry unknown properties, use {@link sanitizeError}.
 */
export function scrubError(err: unknown, secrets: readonly string[], depth = 0): Error {
  const error = err instanceof Error ? err : new Error(maskSecrets(String(err), secrets))
  error.message = maskSecrets(error.message, secrets)
  if (error.stack !== undefined) error.stack = maskSecrets(error.stack, secrets)
  const extra = error as ErrorExtras
  if (typeof extra.command === 'object' && extra.command !== null && 'name' in extra.command) {
    extra.command = { name: extra.command.name }
  }
  if (depth < 3) {
    if (extra.cause !== undefined) extra.cause = scrubError(extra.cause, secrets, depth + 1)
    if (extra.lastNodeError !== undefined) extra.lastNodeError = scrubError(extra.lastNodeError, secrets, depth + 1)
    if (Array.isArray(extra.previousErrors)) {
      extra.previousErrors = extra.previousErrors.map((e: unknown) => scrubError(e, secrets, depth + 1))
    }
  }
  return error
}

/**
 * A copy of `err` safe to log or print: name, masked message and stack, and a string `code`
 * (SQLSTATE, errno) only; no `cause` and no other properties. For libraries that attach the raw
 * URL or connection options to their errors (node-postgres; Node's `ERR_INVALID_URL` keeps
 * `input`), where masking known fields is not enough.
 */
export function sanitizeError(err: unknown, secrets: readonly string[]): Error & { code?: string } {
  const source = err instanceof Error ? err : new Error(String(err))
  const copy = new Error(maskSecrets(source.message, secrets)) as Error & { code?: string }
  copy.name = source.name
  const code = (source as { code?: unknown }).code
  if (typeof code === 'string') copy.code = code
  if (source.stack !== undefined) copy.stack = maskSecrets(source.stack, secrets)
  return copy
}

/** `Name: message` with a string `code` when there is one, for a log line's `cause` field. */
export function describeError(err: Error): string {
  const code = (err as Error & { code?: unknown }).code
  return `${err.name}${typeof code === 'string' ? ` ${code}` : ''}: ${err.message}`
}

/** Peels what a copy-paste adds around a URL (spaces, quotes, `NAME=`), to find its secret. */
function unwrap(text: string): string {
  let s = text
  for (let round = 0; round < 4; round++) {
    s = s
      .trim()
      .replace(/^(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*(?:=|:(?!\/\/))\s*/, '')
      .replace(/^["'`\u201C\u201D\u2018\u2019]|["'`\u201C\u201D\u2018\u2019]$/g, '')
  }
  return s
}

function safeDecode(s: string): string | null {
  try {
    return decodeURIComponent(s)
  } catch {
    // A malformed escape: the raw form is all there is.
    return null
  }
}
