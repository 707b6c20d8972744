import { isIP, isIPv6 } from 'node:net'

/**
 * The grammar of a Redis URL after its `scheme://`: user-info, host, port and db, into
 * `RedisURLParts`, or the `LintError` that says which part is ambiguous. The corrections of a
 * copy-pasted value (quotes, prefix, scheme case, TLS-only hosts) are redis-url.ts's; this module
 * only reads what is there.
 *
 * It works on the raw string, not on WHATWG `URL`: `URL` silently turns a `#` in a password into a
 * fragment, a `?` into a query and a `/` into a path, which is exactly the class of mistake the
 * lint exists to catch. It follows ioredis's `parseURL` (which uses the legacy `url.parse`): the
 * user-info ends at the LAST `@`, the user name ends at the first `:`, both are percent-decoded,
 * `redis://:password@host` has an empty user name, an IPv6 host sits in brackets, the path is the
 * db number and the port defaults to 6379.
 */

/** The default Redis port, as in ioredis. */
export const DEFAULT_REDIS_PORT = 6379

/** `scheme://` at the start of a URL; group 1 is the scheme as written. */
export const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//

/** Codes of the ambiguous mistakes that stop start-up. */
export type LintErrorCode =
  | 'empty'
  | 'missing_scheme'
  | 'unknown_scheme'
  | 'unencoded_character'
  | 'bad_percent_encoding'
  | 'whitespace_inside'
  | 'missing_host'
  | 'bad_host'
  | 'bad_port'
  | 'bad_db'
  | 'fragment'

/** The URL has a mistake with more than one possible meaning: nothing is guessed. */
export interface LintError {
  kind: 'error'
  code: LintErrorCode
  /** What is wrong, without the password. */
  problem: string
  /** What to write instead, without the password. */
  fix: string
}

/** What a (linted) Redis URL points at, safe to log: no password, only whether there is one. */
export interface RedisTarget {
  host: string
  port: number
  tls: boolean
  db: number
  /** The ACL user name, or `null` when the URL names none (Redis then uses `default`). */
  username: string | null
  hasPassword: boolean
}

/** A parsed Redis URL including its secret. Only for code that must authenticate; never log it. */
export interface RedisURLParts extends RedisTarget {
  /** The percent-decoded password, or `null` when the URL carries none. */
  password: string | null
}

/**
 * Characters that cannot appear unencoded in the user name or password: each changes where the
 * parser thinks the user-info ends (`@`, `/`, `?`, `#`, and `\`, which `url.parse` turns into `/`).
 */
const UNSAFE_IN_USERINFO: readonly [string, string][] = [
  ['@', '%40'],
  ['#', '%23'],
  ['/', '%2F'],
  ['?', '%3F'],
  ['\\', '%5C'],
]

/** A step's result, or the error that ends the parse. */
type Outcome<T> = ({ kind: 'ok' } & T) | LintError

/** Parses what follows `scheme://`, on the raw string (see the module comment). */
export function parseRest(rest: string, tls: boolean): { kind: 'ok'; parts: RedisURLParts } | LintError {
  const at = rest.lastIndexOf('@')
  let username: string | null = null
  let password: string | null = null
  let afterUserinfo = rest
  if (at !== -1) {
    const userinfo = parseUserinfo(rest, at, tls)
    if (userinfo.kind === 'error') return userinfo
    username = userinfo.username
    password = userinfo.password
    afterUserinfo = rest.slice(at + 1)
  }
  if (/\s/.test(afterUserinfo)) return whitespaceInside()

  const hashAt = afterUserinfo.indexOf('#')
  if (hashAt !== -1) {
    return lintError(
      'fragment',
      'has a "#" after the host; a Redis URL has no "#…" part.',
      'Remove the "#" and what follows it; if it belongs to the password, percent-encode it as "%23".',
    )
  }
  const endOfHost = afterUserinfo.search(/[/?]/)
  const hostPort = endOfHost === -1 ? afterUserinfo : afterUserinfo.slice(0, endOfHost)
  const tail = endOfHost === -1 ? '' : afterUserinfo.slice(endOfHost)

  const host = parseHost(hostPort, tls, at !== -1)
  if (host.kind === 'error') return host
  const port = parsePort(host.portText, tls)
  if (port.kind === 'error') return port
  const db = parseDb(tail)
  if (db.kind === 'error') return db
  return {
    kind: 'ok',
    parts: { host: host.host, port: port.port, tls, db: db.db, username, hasPassword: password !== null && password !== '', password },
  }
}

/** The user name and password before the `@` at `at`, checked for what would move that `@`, then decoded. */
function parseUserinfo(rest: string, at: number, tls: boolean): Outcome<{ username: string | null; password: string | null }> {
  const userinfo = rest.slice(0, at)
  const colon = userinfo.indexOf(':')
  const rawUser = colon === -1 ? userinfo : userinfo.slice(0, colon)
  const rawPassword = colon === -1 ? null : userinfo.slice(colon + 1)

  for (const [field, value] of [
    ['user name', rawUser],
    ['password', rawPassword],
  ] as const) {
    if (value === null) continue
    const bad = UNSAFE_IN_USERINFO.filter(([c]) => value.includes(c))
    if (bad.length > 0) {
      const chars = bad.map(([c]) => `"${c}"`).join(', ')
      const codes = bad.map(([c, e]) => `${c} → ${e}`).join(', ')
      return lintError(
        'unencoded_character',
        `has an unencoded ${chars} in the ${field}, so the URL can be read in more than one way.`,
        `Percent-encode the ${field} (${codes}; encodeURIComponent() does it) and write ${shape(tls, field, rest.slice(at + 1), field === 'password' ? rawUser : null)}.`,
      )
    }
    if (/\s/.test(value.replace(/ /g, ''))) return whitespaceInside()
    if (/%(?![0-9A-Fa-f]{2})/.test(value)) {
      return lintError(
        'bad_percent_encoding',
        `has a "%" in the ${field} that is not followed by two hex digits.`,
        `Percent-encode the ${field}: "%" → "%25" (encodeURIComponent() does it).`,
      )
    }
  }
  try {
    return {
      kind: 'ok',
      username: rawUser === '' ? null : decodeURIComponent(rawUser),
      password: rawPassword === null ? null : decodeURIComponent(rawPassword),
    }
  } catch {
    return lintError(
      'bad_percent_encoding',
      'has a percent-escape in the user name or password that is not valid UTF-8.',
      'Percent-encode the password from its plain text with encodeURIComponent().',
    )
  }
}

/** The host (bracketed IPv6, or a name or IPv4 address) and the port text after its `:`, if any. */
function parseHost(hostPort: string, tls: boolean, hasUserinfo: boolean): Outcome<{ host: string; portText: string | null }> {
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']')
    const inside = close === -1 ? '' : hostPort.slice(1, close)
    const after = close === -1 ? '' : hostPort.slice(close + 1)
    if (close === -1 || !isIPv6(inside) || (after !== '' && !after.startsWith(':'))) {
      return lintError('bad_host', 'has a bracketed host that is not an IPv6 address.', 'Write an IPv6 host as redis://[::1]:6379.')
    }
    return { kind: 'ok', host: inside, portText: after === '' ? null : after.slice(1) }
  }
  const colons = hostPort.split(':').length - 1
  if (colons > 1) {
    return lintError(
      'bad_host',
      'has more than one ":" in the host part (an IPv6 address without brackets?).',
      'Put an IPv6 address in brackets: redis://[::1]:6379.',
    )
  }
  const colon = hostPort.indexOf(':')
  const host = colon === -1 ? hostPort : hostPort.slice(0, colon)
  const portText = colon === -1 ? null : hostPort.slice(colon + 1)
  if (host === '') {
    return lintError('missing_host', 'has no host.', `Write the host after "//"${hasUserinfo ? ' and "@"' : ''}: ${shape(tls, null)}.`)
  }
  if (!/^[A-Za-z0-9._-]+$/.test(host) || host.startsWith('.') || host.includes('..')) {
    const odd = [...new Set(host.replace(/[A-Za-z0-9._-]/g, ''))].map((c) => `"${c}"`).join(', ')
    return lintError(
      'bad_host',
      `has a host name that is not valid${odd === '' ? '' : ` (it contains ${odd})`}.`,
      `Write a host name or IP address: ${shape(tls, null)}.`,
    )
  }
  return { kind: 'ok', host, portText }
}

/** The port after the host's `:`, or the default when there is no `:`. */
function parsePort(portText: string | null, tls: boolean): Outcome<{ port: number }> {
  if (portText === null) return { kind: 'ok', port: DEFAULT_REDIS_PORT }
  // The port is echoed only when it is a number: a non-number here may be a password that
  // lost its "@host" (`redis://user:secret`).
  if (portText === '')
    return lintError(
      'bad_port',
      'has a ":" after the host but no port.',
      'Write the port after the ":" (6379 by default) or remove the ":".',
    )
  if (!/^\d+$/.test(portText))
    return lintError(
      'bad_port',
      'has a port that is not a number.',
      `Write a port from 1 to 65535: ${shape(tls, null)}. If it is a password, it belongs before "@host".`,
    )
  const port = Number(portText)
  if (port < 1 || port > 65535)
    return lintError('bad_port', `has port ${portText}, outside 1–65535.`, `Write a port from 1 to 65535: ${shape(tls, null)}.`)
  return { kind: 'ok', port }
}

/** The db index from the path (`/3`), 0 when there is none; the query is ignored. */
function parseDb(tail: string): Outcome<{ db: number }> {
  const query = tail.indexOf('?')
  const path = query === -1 ? tail : tail.slice(0, query)
  if (path === '' || path === '/') return { kind: 'ok', db: 0 }
  const dbText = path.slice(1)
  // Redis allows more than 16 databases (the `databases` setting), so any integer is accepted.
  if (!/^\d+$/.test(dbText)) {
    return lintError(
      'bad_db',
      'has a path that is not a database number (the path of a Redis URL is the db index).',
      'Write the db as a non-negative integer, as in redis://host:6379/0, or leave the path out.',
    )
  }
  return { kind: 'ok', db: Number(dbText) }
}

function whitespaceInside(): LintError {
  return lintError(
    'whitespace_inside',
    'has a space, tab or line break inside it.',
    'Remove it; a space that belongs to the password is written "%20".',
  )
}

/**
 * The shape of a correct URL, for fixes: the real host and user name where they are known and
 * look sane, placeholders for the rest, never the user's own password.
 */
function shape(tls: boolean, field: 'user name' | 'password' | null, after = '', user: string | null = null): string {
  const scheme = tls ? 'rediss' : 'redis'
  const hostPort = /^([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?(?=$|[/?])/.exec(after)?.[0] ?? 'host:6379'
  if (field === 'password') {
    const shownUser = user !== null && /^[A-Za-z0-9._-]*$/.test(user) ? user : '[user]'
    return `${scheme}://${shownUser}:<encoded password>@${hostPort}`
  }
  if (field === 'user name') return `${scheme}://<encoded user>:<password>@${hostPort}`
  return `${scheme}://host:6379`
}

export function lintError(code: LintErrorCode, problem: string, fix: string): LintError {
  return { kind: 'error', code, problem, fix }
}

/** True when `host` is an IP address literal (no DNS lookup needed). */
export function isIPAddress(host: string): boolean {
  return isIP(host) !== 0
}
