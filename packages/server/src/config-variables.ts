import { resolve } from 'node:path'
import { DEFAULTS, type ConfigDefault, type ConfigVariable } from './config-defaults.js'
import { ALGORITHMS, type RateLimit } from './config-types.js'
import { ConfigError } from './errors.js'
import { parseTrustProxy } from './http/trust-proxy.js'
import { SIMPLEJWT_ALGORITHMS } from './tokens/simplejwt.js'
import { checkSQLIdentifier, parseDatabaseURL } from './users/database-url.js'
import { DEFAULT_SCRYPT_PARAMS, type ScryptParams } from './users/password.js'

/**
 * The table of configuration variables (name, CLI flag, parser) and the parsers themselves: one
 * row per variable, read by `loadConfig` (config.ts). Defaults are in config-defaults.ts.
 */
export type Env = Readonly<Record<string, string | undefined>>

/** Thrown inside a parser: becomes one ConfigProblem. */
export class Invalid extends Error {
  readonly problem: string
  readonly fix: string
  constructor(problem: string, fix: string) {
    super(problem)
    this.problem = problem
    this.fix = fix
  }
}

export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw.trim())) throw new Invalid(`"${raw}" is not a whole number.`, `Set a whole number from ${min} to ${max}.`)
    const n = Number(raw.trim())
    if (n < min || n > max) throw new Invalid(`${n} is out of range.`, `Set a whole number from ${min} to ${max}.`)
    return n
  }
}

export function boolean(raw: string): boolean {
  const v = raw.trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(v)) return true
  if (['0', 'false', 'no', 'off'].includes(v)) return false
  throw new Invalid(`"${raw}" is not a boolean.`, 'Use true or false.')
}

export function oneOf<T extends string>(values: readonly T[]) {
  return (raw: string): T => {
    const v = raw.trim()
    const match = values.find((x) => x.toLowerCase() === v.toLowerCase())
    if (match === undefined) throw new Invalid(`"${raw}" is not one of ${values.join(', ')}.`, `Use one of ${values.join(', ')}.`)
    return match
  }
}

export function rateLimit(raw: string): RateLimit | null {
  const v = raw.trim().toLowerCase()
  if (v === 'off' || v === '0') return null
  const m = /^(\d+)\s*\/\s*(\d+)$/.exec(v)
  if (m === null || Number(m[1]) < 1 || Number(m[2]) < 1)
    throw new Invalid(`"${raw}" is not a rate limit.`, 'Use FAILURES/SECONDS, such as 10/900, or off.')
  return { max: Number(m[1]), windowSeconds: Number(m[2]) }
}

export function hostPorts(raw: string): { host: string; port: number }[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(s)
      if (m === null || Number(m[2]) < 1 || Number(m[2]) > 65535)
        throw new Invalid(`"${s}" is not host:port.`, 'Use a comma-separated list of host:port.')
      return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) }
    })
}

export function secret(raw: string): Uint8Array {
  // SPEC §5: the raw string (UTF-8), or `base64:` followed by base64.
  const bytes = raw.startsWith('base64:') ? Buffer.from(raw.slice(7), 'base64') : Buffer.from(raw, 'utf8')
  if (bytes.length < 32)
    throw new Invalid(`the secret is ${bytes.length} bytes; HS256 needs at least 32.`, 'Generate one with `npx baton keygen --alg HS256`.')
  return new Uint8Array(bytes)
}

/** JWT_SECRET's syntax (SPEC §5), with its own fix: a raw secret holding a comma needs `base64:` in the list. */
export function refreshSecret(raw: string): Uint8Array {
  try {
    return secret(raw)
  } catch (err) {
    if (!(err instanceof Invalid)) throw err
    throw new Invalid(err.problem.replace('HS256 needs', 'a refresh secret needs'), 'Generate one with `npx baton keygen --refresh`.')
  }
}

export function privateKey(raw: string): string {
  const v = raw.trim()
  // Many platforms cannot hold newlines in a variable: accept PEM with literal "\n".
  if (v.includes('-----BEGIN')) return v.replaceAll('\\n', '\n')
  if (v.startsWith('{')) return v
  throw new Invalid('it is neither a PEM private key nor a JWK.', 'Generate one with `npx baton keygen` and paste its output.')
}

export function sqlIdentifier(raw: string): string {
  const problem = checkSQLIdentifier(raw.trim())
  if (problem !== null) throw new Invalid(problem, 'Write the table or column name as Django created it.')
  return raw.trim()
}

export interface Row {
  /** Environment variable. */
  env: string
  /** CLI flag (`--port`), when there is one. */
  flag?: string
  parse: (raw: string) => unknown
}

/**
 * `PASSWORD_SCRYPT_LN` bounds. Below 2^10 scrypt stops being a password hash worth the name;
 * above 2^20 one hash needs 1 GiB of memory (128 * r * N bytes) and seconds of CPU.
 */
export const MIN_SCRYPT_LN = 10
export const MAX_SCRYPT_LN = 20

export function scryptParams(ln: number | undefined): Readonly<ScryptParams> {
  return ln === undefined ? DEFAULT_SCRYPT_PARAMS : Object.freeze({ ...DEFAULT_SCRYPT_PARAMS, ln })
}

/**
 * The password hashing cost alone (`PASSWORD_SCRYPT_LN`), for commands that need nothing else
 * (`baton users add`). Throws ConfigError like {@link loadConfig}.
 */
export function loadPasswordParams(env: Env): Readonly<ScryptParams> {
  const raw = env[VARIABLES.passwordScryptLn.env]
  if (raw === undefined || raw === '') return DEFAULT_SCRYPT_PARAMS
  try {
    return scryptParams(VARIABLES.passwordScryptLn.parse(raw))
  } catch (err) {
    if (!(err instanceof Invalid)) throw err
    throw new ConfigError([{ variable: VARIABLES.passwordScryptLn.env, problem: err.problem, fix: err.fix }])
  }
}

/**
 * SPEC §5 in one table: each variable, its flag and its parser. Defaults that depend on other
 * values (mode, Redis) are applied in `loadConfig`.
 */
export const VARIABLES = {
  mode: { env: 'BATON_MODE', flag: 'mode', parse: oneOf(['development', 'production'] as const) },
  port: { env: 'PORT', flag: 'port', parse: integer(0, 65535) },
  host: { env: 'HOST', flag: 'host', parse: (s: string) => s.trim() },
  store: { env: 'BATON_STORE', flag: 'store', parse: oneOf(['memory', 'sqlite', 'redis'] as const) },
  dataDir: { env: 'BATON_DATA_DIR', flag: 'data-dir', parse: (s: string) => resolve(s.trim()) },
  databaseURL: {
    env: 'DATABASE_URL',
    parse: (s: string) => {
      const v = s.trim()
      if (v === '') return null
      const location = parseDatabaseURL(v)
      if (location.kind === 'invalid') throw new Invalid(location.problem, location.fix)
      return v
    },
  },
  userStore: { env: 'USER_STORE', parse: oneOf(['baton', 'django'] as const) },
  djangoUserTable: { env: 'DJANGO_USER_TABLE', parse: sqlIdentifier },
  djangoUsernameField: { env: 'DJANGO_USERNAME_FIELD', parse: sqlIdentifier },
  accessTokenLifetime: { env: 'ACCESS_TOKEN_LIFETIME', parse: integer(1, 86_400) },
  refreshTokenLifetime: { env: 'REFRESH_TOKEN_LIFETIME', parse: integer(1, 400 * 86_400) },
  sessionMaxLifetime: { env: 'SESSION_MAX_LIFETIME', parse: integer(1, 400 * 86_400) },
  refreshGraceSeconds: { env: 'REFRESH_GRACE_SECONDS', parse: integer(0, 300) },
  rotateRefreshTokens: { env: 'ROTATE_REFRESH_TOKENS', parse: boolean },
  algorithm: { env: 'JWT_ALGORITHM', parse: oneOf(ALGORITHMS) },
  privateKey: { env: 'JWT_PRIVATE_KEY', parse: privateKey },
  secret: { env: 'JWT_SECRET', parse: secret },
  verifyKeys: { env: 'JWT_VERIFY_KEYS', parse: (s: string) => s.trim() || null },
  refreshSecret: { env: 'BATON_REFRESH_SECRET', parse: refreshSecret },
  refreshSecretsPrevious: {
    env: 'BATON_REFRESH_SECRETS_PREVIOUS',
    parse: (s: string) =>
      s
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean)
        .map(refreshSecret),
  },
  leeway: { env: 'JWT_LEEWAY', parse: integer(0, 300) },
  issuer: { env: 'JWT_ISSUER', parse: (s: string) => s.trim() },
  audience: { env: 'JWT_AUDIENCE', parse: (s: string) => s.trim() },
  loginRateLimit: { env: 'LOGIN_RATE_LIMIT', parse: rateLimit },
  loginRateLimitIP: { env: 'LOGIN_RATE_LIMIT_IP', parse: rateLimit },
  refreshRateLimit: { env: 'REFRESH_RATE_LIMIT', parse: rateLimit },
  storeTimeoutMs: { env: 'STORE_TIMEOUT_MS', parse: integer(10, 60_000) },
  logLevel: { env: 'LOG_LEVEL', parse: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const) },
  registration: { env: 'BATON_REGISTRATION', parse: boolean },
  demo: { env: 'BATON_DEMO', parse: boolean },
  tokenTransport: { env: 'BATON_TOKEN_TRANSPORT', parse: oneOf(['body', 'cookie'] as const) },
  corsOrigins: {
    env: 'BATON_CORS_ORIGINS',
    parse: (s: string) =>
      s
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
  },
  revocationCheck: { env: 'BATON_REVOCATION_CHECK', parse: boolean },
  workers: { env: 'WORKERS', flag: 'workers', parse: integer(1, 256) },
  trustProxy: {
    env: 'BATON_TRUST_PROXY',
    parse: (s: string) => {
      const out = parseTrustProxy(s)
      if (!out.ok) throw new Invalid(out.problem, out.fix)
      return out.value
    },
  },
  bodyLimit: { env: 'BATON_BODY_LIMIT', parse: integer(1024, 1_048_576) },
  passwordScryptLn: { env: 'PASSWORD_SCRYPT_LN', parse: integer(MIN_SCRYPT_LN, MAX_SCRYPT_LN) },
  loginConcurrency: { env: 'BATON_LOGIN_CONCURRENCY', parse: integer(1, 1024) },
  loginQueueLength: { env: 'BATON_LOGIN_QUEUE', parse: integer(0, 100_000) },
  loginQueueWaitMs: { env: 'BATON_LOGIN_QUEUE_MS', parse: integer(1, 60_000) },
  // Django's key as Django has it: not trimmed, no minimum length, no base64 (SPEC §9).
  simplejwtSigningKey: { env: 'SIMPLEJWT_SIGNING_KEY', parse: (s: string) => s },
  simplejwtAlgorithm: { env: 'SIMPLEJWT_ALGORITHM', parse: oneOf(SIMPLEJWT_ALGORITHMS) },
  simplejwtAcceptUntil: { env: 'SIMPLEJWT_ACCEPT_UNTIL', parse: isoTime },
} satisfies Record<string, Row>

export type Parsed = { -readonly [K in keyof typeof VARIABLES]?: ReturnType<(typeof VARIABLES)[K]['parse']> }

/**
 * A variable's value: as given, else its default from `DEFAULTS` read by the variable's own
 * parser (so `10/900` there means what it means in the environment). Only for variables whose
 * default is a value; those with a rule are worked out in `loadConfig`.
 */
export function valueOf<K extends keyof Parsed>(key: K, given: Parsed[K]): Exclude<Parsed[K], undefined> {
  if (given !== undefined) return given as Exclude<Parsed[K], undefined>
  const row: Row = VARIABLES[key]
  const fallback: ConfigDefault | undefined = DEFAULTS[row.env as ConfigVariable]
  if (fallback?.value == null) throw new TypeError(`${row.env} has no default value in DEFAULTS`)
  return row.parse(fallback.value) as Exclude<Parsed[K], undefined>
}

/** The CLI flags `baton serve` understands: each maps to a variable of the table. */
export const SERVE_FLAGS = Object.fromEntries(
  Object.values(VARIABLES as Record<string, Row>)
    .filter((row) => row.flag !== undefined)
    .map((row) => [row.flag!, { type: 'string' as const }]),
)

/** An ISO 8601 date-time with an offset (`2027-01-31T00:00:00Z`), as milliseconds since the epoch. */
export function isoTime(raw: string): number {
  const v = raw.trim()
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v) ? Date.parse(v) : Number.NaN
  if (Number.isNaN(ms)) throw new Invalid(`"${raw}" is not an ISO 8601 time with a zone.`, 'Use a time such as 2027-01-31T00:00:00Z.')
  return ms
}
