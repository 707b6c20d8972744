import { isIP, isIPv6 } from 'node:net'
import { maskURL } from './secrets.js'

// Masking lives in secrets.ts (one policy for every URL and secret); these names stay here for
// the callers that import them from this module.
export { maskSecrets, maskURL, secretsOf } from './secrets.js'

/**
 * `REDIS_URL` linting (SPEC §5) and parsing. Masking is secrets.ts's.
 *
 * The lint works on the raw string, not on WHATWG `URL`: `URL` silently turns a `#` in a
 * password into a fragment, a `?` into a query and a `/` into a path, which is exactly the class of
 * mistake this module exists to catch. The parse follows ioredis's `parseURL` (which uses the
 * legacy `url.parse`): the user-info ends at the LAST `@`, the user name ends at the first `:`,
 * both are percent-decoded, `redis://:password@host` has an empty user name, an IPv6 host sits in
 * brackets, the path is the db number and the port defaults to 6379.
 *
 * Not supported (they answer `unknown_scheme`): `unix:` sockets, `redis+sentinel://` and other
 * Sentinel/Cluster URL forms — those are configured through their own variables.
 */

/** The default Redis port, as in ioredis. */
export const DEFAULT_REDIS_PORT = 6379

/** Codes of the corrections `lintRedisURL` applies; stable, for tests and log queries. */
export type FindingCode = 'surrounding_whitespace' | 'surrounding_quotes' | 'variable_prefix' | 'uppercase_scheme' | 'tls_only_host'

/** One correction applied to a URL whose mistake had only one possible meaning. */
export interface Finding {
  code: FindingCode
  /** What was wrong and what was done; shows the corrected URL with the password masked. */
  message: string
  /** How to fix the variable itself so that the warning goes away. */
  fix: string
}

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

/**
 * The URL is usable, possibly after corrections (each one is a finding).
 *
 * `url` holds the password, so it is a non-enumerable property: `JSON.stringify`, pino and
 * `console.log` of a result show only `maskedURL`. Read `result.url` directly (a spread copy
 * `{...result}` drops it).
 */
export interface LintOK {
  kind: 'ok'
  /** The corrected URL, to hand to the Redis client. Holds the password: never log it. */
  readonly url: string
  /** The corrected URL with its password masked, for messages. */
  maskedURL: string
  findings: Finding[]
}

/** The URL has a mistake with more than one possible meaning: nothing is guessed. */
export interface LintError {
  kind: 'error'
  code: LintErrorCode
  /** What is wrong, without the password. */
  problem: string
  /** What to write instead, without the password. */
  fix: string
}

export type LintResult = LintOK | LintError

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
 * Hosts that accept only TLS, so `redis://` to them can only be a mistake. A host is listed only
 * when its provider documents that plain connections are refused:
 * - `*.upstash.io` — Upstash Redis (SPEC §5).
 * - `*.serverless.<region>.cache.amazonaws.com` — ElastiCache Serverless ("all serverless caches
 *   have in-transit encryption enabled"; self-designed ElastiCache clusters are not listed: TLS is
 *   optional there).
 * - `*.redis.cache.windows.net` on port 6380 — Azure Cache for Redis: 6380 is its TLS port (6379
 *   is its optional plain port, so only the port makes this certain).
 * Considered and left out: Redis Cloud (TLS optional, off by default), DigitalOcean and Heroku
 * (TLS-only in practice, but their host names do not identify the Redis product with certainty).
 */
const TLS_ONLY_HOSTS: readonly { pattern: RegExp; port?: number; provider: string }[] = [
  { pattern: /(^|\.)upstash\.io$/i, provider: 'Upstash' },
  { pattern: /\.serverless\.[a-z0-9-]+\.cache\.amazonaws\.com$/i, provider: 'ElastiCache Serverless' },
  { pattern: /\.redis\.cache\.windows\.net$/i, port: 6380, provider: 'Azure Cache for Redis' },
]

const QUOTE_CHARS = new Set(['"', "'", '`', '\u201C', '\u201D', '\u2018', '\u2019'])
const PREFIX = /^(?:export\s+)?REDIS_URL\s*[=:]\s*/i
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//

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

/**
 * Lints a raw `REDIS_URL` value (SPEC §5). Mistakes with one possible meaning are corrected, one
 * finding each; ambiguous mistakes answer `kind: 'error'`. Pure; no message, finding or error
 * ever contains the password.
 *
 * @example
 * lintRedisURL(' "REDIS_URL=REDISS://:pw@h.upstash.io:6379" ')
 * // → { kind: 'ok', url: 'rediss://:pw@h.upstash.io:6379', findings: [4 findings] }
 */
export function lintRedisURL(raw: string): LintResult {
  const { text: s, applied } = peel(raw)
  if (s === '') {
    return error('empty', 'is empty.', 'Set it to redis://host:6379 (or rediss:// for TLS), or unset it to use the embedded store.')
  }

  const scheme = SCHEME.exec(s)
  if (scheme === null) return missingScheme(s)
  const schemeName = scheme[1] ?? ''
  const lower = schemeName.toLowerCase()
  if (lower !== 'redis' && lower !== 'rediss') return unknownScheme(lower)
  if (schemeName !== lower) applied.add('uppercase_scheme')

  const rest = s.slice(scheme[0].length)
  const parsed = parseRest(rest, lower === 'rediss')
  if (parsed.kind === 'error') return parsed

  let finalScheme = lower
  let tlsProvider: string | null = null
  if (lower === 'redis') {
    const match = TLS_ONLY_HOSTS.find((h) => h.pattern.test(parsed.parts.host) && (h.port === undefined || h.port === parsed.parts.port))
    if (match !== undefined) {
      applied.add('tls_only_host')
      finalScheme = 'rediss'
      tlsProvider = match.provider
    }
  }

  const url = `${finalScheme}://${rest}`
  const shown = maskURL(url)
  const setIt = `Set the variable to exactly ${shown} (with your password where **** is).`
  const findings: Finding[] = []
  // One finding per correction, in a fixed order, each naming the corrected form.
  const describe: Record<FindingCode, string> = {
    surrounding_whitespace: 'had spaces or line breaks around it; they were removed',
    variable_prefix: 'started with a "REDIS_URL=" prefix (a line of a .env file); it was removed',
    surrounding_quotes: 'was wrapped in quotes; they were removed',
    uppercase_scheme: `had an upper-case scheme "${schemeName}://"; it was read as "${lower}://"${lower === 'rediss' ? ' (TLS)' : ''}`,
    tls_only_host: `used redis:// for a host that accepts only TLS (${tlsProvider ?? ''}); it was upgraded to rediss://`,
  }
  for (const code of ['surrounding_whitespace', 'variable_prefix', 'surrounding_quotes', 'uppercase_scheme', 'tls_only_host'] as const) {
    if (applied.has(code)) {
      findings.push({ code, message: `The Redis URL ${describe[code]}. Using ${shown}.`, fix: setIt })
    }
  }
  const result = { kind: 'ok', maskedURL: shown, findings } as LintOK
  Object.defineProperty(result, 'url', { value: url, enumerable: false })
  return result
}

/**
 * One log line for all corrections of a lint result, or `null` when nothing was corrected (SPEC §5:
 * "one warning that shows the corrected form").
 */
export function formatLintWarning(result: LintResult, variable = 'REDIS_URL'): string | null {
  if (result.kind !== 'ok' || result.findings.length === 0) return null
  const what = describeCorrections(result.findings)
  return `${variable} corrected (${what}); using ${maskURL(result.url)}. Set ${variable} to that value to silence this warning.`
}

/** The corrections in a few words each: `REDIS_URL= prefix removed, quotes removed`. */
export function describeCorrections(findings: readonly Finding[]): string {
  return findings.map((f) => FINDING_SUMMARY[f.code]).join(', ')
}

const FINDING_SUMMARY: Record<FindingCode, string> = {
  surrounding_whitespace: 'surrounding whitespace removed',
  variable_prefix: 'REDIS_URL= prefix removed',
  surrounding_quotes: 'quotes removed',
  uppercase_scheme: 'scheme lower-cased',
  tls_only_host: 'TLS-only host: redis:// upgraded to rediss://',
}

/**
 * Parses a URL that `lintRedisURL` accepted into its parts, password included.
 * @throws TypeError when the URL does not lint clean (a programming error: lint first).
 */
export function parseRedisURL(url: string): RedisURLParts {
  const lint = lintRedisURL(url)
  if (lint.kind === 'error') throw new TypeError(`Not a valid Redis URL: ${lint.problem}`)
  const scheme = SCHEME.exec(lint.url)
  const rest = lint.url.slice(scheme?.[0].length ?? 0)
  const parsed = parseRest(rest, scheme?.[1] === 'rediss')
  if (parsed.kind === 'error') throw new TypeError(`Not a valid Redis URL: ${parsed.problem}`)
  return parsed.parts
}

/**
 * What a Redis URL points at, safe for logs and `doctor` output (no password).
 * @throws TypeError when the URL does not lint clean.
 */
export function describeRedisTarget(url: string): RedisTarget {
  const { password, ...target } = parseRedisURL(url)
  return { ...target, hasPassword: password !== null && password !== '' }
}

/** Peels the layers a copy-paste adds, in any order and nesting: `export REDIS_URL="…"\n`. */
function peel(raw: string): { text: string; applied: Set<FindingCode> } {
  const applied = new Set<FindingCode>()
  let s = raw
  for (let round = 0; round < 8; round++) {
    const before = s
    const trimmed = s.trim()
    if (trimmed !== s) applied.add('surrounding_whitespace')
    s = trimmed
    const prefix = PREFIX.exec(s)
    if (prefix !== null) {
      applied.add('variable_prefix')
      s = s.slice(prefix[0].length)
    }
    // A quote can never start (a scheme does) or end (a host, port or db does) a Redis URL, so a
    // lone or mismatched quote at either end has one meaning too.
    if (s.length > 0 && QUOTE_CHARS.has(s[0] ?? '')) {
      applied.add('surrounding_quotes')
      s = s.slice(1)
    }
    if (s.length > 0 && QUOTE_CHARS.has(s[s.length - 1] ?? '')) {
      applied.add('surrounding_quotes')
      s = s.slice(0, -1)
    }
    if (s === before) break
  }
  return { text: s, applied }
}

type ParseOutcome = { kind: 'ok'; parts: RedisURLParts } | LintError

/** Parses what follows `scheme://`, on the raw string (see the module comment). */
function parseRest(rest: string, tls: boolean): ParseOutcome {
  const at = rest.lastIndexOf('@')
  let username: string | null = null
  let password: string | null = null
  let afterUserinfo = rest
  if (at !== -1) {
    const userinfo = rest.slice(0, at)
    afterUserinfo = rest.slice(at + 1)
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
        return error(
          'unencoded_character',
          `has an unencoded ${chars} in the ${field}, so the URL can be read in more than one way.`,
          `Percent-encode the ${field} (${codes}; encodeURIComponent() does it) and write ${shape(tls, field, rest.slice(at + 1), field === 'password' ? rawUser : null)}.`,
        )
      }
      if (/\s/.test(value.replace(/ /g, ''))) return whitespaceInside()
      if (/%(?![0-9A-Fa-f]{2})/.test(value)) {
        return error(
          'bad_percent_encoding',
          `has a "%" in the ${field} that is not followed by two hex digits.`,
          `Percent-encode the ${field}: "%" → "%25" (encodeURIComponent() does it).`,
        )
      }
    }
    try {
      username = rawUser === '' ? null : decodeURIComponent(rawUser)
      password = rawPassword === null ? null : decodeURIComponent(rawPassword)
    } catch {
      return error(
        'bad_percent_encoding',
        'has a percent-escape in the user name or password that is not valid UTF-8.',
        'Percent-encode the password from its plain text with encodeURIComponent().',
      )
    }
  }
  if (/\s/.test(afterUserinfo)) return whitespaceInside()

  const hashAt = afterUserinfo.indexOf('#')
  if (hashAt !== -1) {
    return error(
      'fragment',
      'has a "#" after the host; a Redis URL has no "#…" part.',
      'Remove the "#" and what follows it; if it belongs to the password, percent-encode it as "%23".',
    )
  }
  const endOfHost = afterUserinfo.search(/[/?]/)
  const hostPort = endOfHost === -1 ? afterUserinfo : afterUserinfo.slice(0, endOfHost)
  const tail = endOfHost === -1 ? '' : afterUserinfo.slice(endOfHost)

  let host: string
  let portText: string | null = null
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']')
    const inside = close === -1 ? '' : hostPort.slice(1, close)
    const after = close === -1 ? '' : hostPort.slice(close + 1)
    if (close === -1 || !isIPv6(inside) || (after !== '' && !after.startsWith(':'))) {
      return error('bad_host', 'has a bracketed host that is not an IPv6 address.', 'Write an IPv6 host as redis://[::1]:6379.')
    }
    host = inside
    if (after !== '') portText = after.slice(1)
  } else {
    const colons = hostPort.split(':').length - 1
    if (colons > 1) {
      return error(
        'bad_host',
        'has more than one ":" in the host part (an IPv6 address without brackets?).',
        'Put an IPv6 address in brackets: redis://[::1]:6379.',
      )
    }
    const colon = hostPort.indexOf(':')
    host = colon === -1 ? hostPort : hostPort.slice(0, colon)
    if (colon !== -1) portText = hostPort.slice(colon + 1)
    if (host === '') {
      return error('missing_host', 'has no host.', `Write the host after "//"${at !== -1 ? ' and "@"' : ''}: ${shape(tls, null)}.`)
    }
    if (!/^[A-Za-z0-9._-]+$/.test(host) || host.startsWith('.') || host.includes('..')) {
      const odd = [...new Set(host.replace(/[A-Za-z0-9._-]/g, ''))].map((c) => `"${c}"`).join(', ')
      return error(
        'bad_host',
        `has a host name that is not valid${odd === '' ? '' : ` (it contains ${odd})`}.`,
        `Write a host name or IP address: ${shape(tls, null)}.`,
      )
    }
  }

  let port = DEFAULT_REDIS_PORT
  if (portText !== null) {
    // The port is echoed only when it is a number: a non-number here may be a password that
    // lost its "@host" (`redis://user:secret`).
    if (portText === '')
      return error('bad_port', 'has a ":" after the host but no port.', 'Write the port after the ":" (6379 by default) or remove the ":".')
    if (!/^\d+$/.test(portText))
      return error(
        'bad_port',
        'has a port that is not a number.',
        `Write a port from 1 to 65535: ${shape(tls, null)}. If it is a password, it belongs before "@host".`,
      )
    port = Number(portText)
    if (port < 1 || port > 65535)
      return error('bad_port', `has port ${portText}, outside 1–65535.`, `Write a port from 1 to 65535: ${shape(tls, null)}.`)
  }

  let db = 0
  const query = tail.indexOf('?')
  const path = query === -1 ? tail : tail.slice(0, query)
  if (path !== '' && path !== '/') {
    const dbText = path.slice(1)
    // Redis allows more than 16 databases (the `databases` setting), so any integer is accepted.
    if (!/^\d+$/.test(dbText)) {
      return error(
        'bad_db',
        'has a path that is not a database number (the path of a Redis URL is the db index).',
        'Write the db as a non-negative integer, as in redis://host:6379/0, or leave the path out.',
      )
    }
    db = Number(dbText)
  }
  return { kind: 'ok', parts: { host, port, tls, db, username, hasPassword: password !== null && password !== '', password } }
}

function missingScheme(s: string): LintError {
  if (/^rediss?[:/]/i.test(s)) {
    return error(
      'missing_scheme',
      'has a malformed scheme: it must start with "redis://" or "rediss://".',
      'Write it as redis://host:6379 (or rediss://host:6379 for TLS).',
    )
  }
  const guess = s.startsWith('//') ? `redis:${s}` : `redis://${s}`
  return error(
    'missing_scheme',
    'has no scheme: it must start with "redis://" or "rediss://" (TLS).',
    `Write ${maskURL(guess)} (or rediss:// if the server uses TLS).`,
  )
}

function unknownScheme(scheme: string): LintError {
  const hint: Record<string, string> = {
    http: "Redis does not speak HTTP (an http(s):// URL is often a REST endpoint, such as Upstash's REST URL, which baton does not use). Use the redis:// or rediss:// URL of the database.",
    https:
      "Redis does not speak HTTP (an https:// URL is often a REST endpoint, such as Upstash's REST URL, which baton does not use). Use the rediss:// URL of the database.",
    unix: 'Unix sockets are not supported; connect over TCP with redis://host:6379.',
    'redis-sentinel': 'Configure Sentinel with REDIS_SENTINELS and REDIS_SENTINEL_MASTER; keep REDIS_URL for credentials.',
    'redis+sentinel': 'Configure Sentinel with REDIS_SENTINELS and REDIS_SENTINEL_MASTER; keep REDIS_URL for credentials.',
    tcp: 'Use redis://host:6379 instead of tcp://.',
    tls: 'Use rediss://host:6379 for TLS.',
  }
  return error(
    'unknown_scheme',
    `has the scheme "${scheme}://"; only redis:// and rediss:// (TLS) are understood.`,
    hint[scheme] ?? 'Use redis://host:6379, or rediss://host:6379 for TLS.',
  )
}

function whitespaceInside(): LintError {
  return error(
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

function error(code: LintErrorCode, problem: string, fix: string): LintError {
  return { kind: 'error', code, problem, fix }
}

/** True when `host` is an IP address literal (no DNS lookup needed). */
export function isIPAddress(host: string): boolean {
  return isIP(host) !== 0
}
