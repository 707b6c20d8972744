import { maskURL } from './secrets.js'
import { lintError, parseRest, SCHEME, type LintError, type RedisTarget, type RedisURLParts } from './redis-url-parts.js'

// Masking lives in secrets.ts (one policy for every URL and secret); these names stay here for
// the callers that import them from this module.
export { maskSecrets, maskURL, secretsOf } from './secrets.js'
// The grammar after `scheme://` is redis-url-parts.ts's; its names stay importable from here.
export {
  DEFAULT_REDIS_PORT,
  isIPAddress,
  type LintError,
  type LintErrorCode,
  type RedisTarget,
  type RedisURLParts,
} from './redis-url-parts.js'

/**
 * `REDIS_URL` linting (SPEC §5): the corrections of a copy-pasted value (whitespace, quotes, a
 * `REDIS_URL=` prefix, an upper-case scheme, redis:// to a TLS-only host), the findings that report
 * them, and the entry points that lint before parsing. The grammar of the rest of the URL is
 * redis-url-parts.ts's (raw string, not WHATWG `URL`; ioredis's rules); masking is secrets.ts's.
 *
 * Not supported (they answer `unknown_scheme`): `unix:` sockets, `redis+sentinel://` and other
 * Sentinel/Cluster URL forms — those are configured through their own variables.
 */

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

export type LintResult = LintOK | LintError

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
    return lintError('empty', 'is empty.', 'Set it to redis://host:6379 (or rediss:// for TLS), or unset it to use the embedded store.')
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

function missingScheme(s: string): LintError {
  if (/^rediss?[:/]/i.test(s)) {
    return lintError(
      'missing_scheme',
      'has a malformed scheme: it must start with "redis://" or "rediss://".',
      'Write it as redis://host:6379 (or rediss://host:6379 for TLS).',
    )
  }
  const guess = s.startsWith('//') ? `redis:${s}` : `redis://${s}`
  return lintError(
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
  return lintError(
    'unknown_scheme',
    `has the scheme "${scheme}://"; only redis:// and rediss:// (TLS) are understood.`,
    hint[scheme] ?? 'Use redis://host:6379, or rediss://host:6379 for TLS.',
  )
}
