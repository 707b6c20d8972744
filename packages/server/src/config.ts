import { createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { type ConfigDefault, type ConfigVariable, DEFAULTS } from './config-defaults.js'
import { ConfigError, type ConfigProblem } from './errors.js'
import { lintRedisURL, type Finding } from './redis-url.js'
import { configuredPasswords } from './secrets.js'
import { type TrustProxy, parseTrustProxy } from './http/trust-proxy.js'
import { DEFAULT_SCRYPT_PARAMS, type ScryptParams } from './users/password.js'
import { checkSQLIdentifier, parseDatabaseURL } from './users/database-url.js'
import { SIMPLEJWT_ALGORITHMS, type SimplejwtAlgorithm, createSimplejwtVerifier } from './tokens/simplejwt.js'

export type Mode = 'development' | 'production'
export type StoreKind = 'memory' | 'sqlite' | 'redis'
export type Algorithm = 'EdDSA' | 'ES256' | 'RS256' | 'HS256'
export const ALGORITHMS: readonly Algorithm[] = ['EdDSA', 'ES256', 'RS256', 'HS256']
/** `JWT_ALGORITHM`'s default (SPEC §9: one simplejwt verifies; it refuses EdDSA). */
export const DEFAULT_ALGORITHM: Algorithm = DEFAULTS.JWT_ALGORITHM.value

/** A failure-counting limit: `max` failures within `windowSeconds`, or `null` (off). */
export interface RateLimit {
  max: number
  windowSeconds: number
}

export interface RedisConfig {
  /** The linted URL (corrections applied). For Sentinel it carries only credentials, db and TLS. */
  url: string
  /** Corrections the lint applied; logged once at start. */
  findings: readonly Finding[]
  /** PEM text of the CA that signs the server's certificate (`REDIS_TLS_CA_FILE`). */
  tlsCA: string | null
  cluster: { nodes: string[] } | null
  sentinel: { sentinels: { host: string; port: number }[]; name: string; password?: string } | null
}

/** SPEC §9 cut-over: simplejwt refresh tokens baton accepts once each (`SIMPLEJWT_*`). */
export interface SimplejwtConfig {
  /** Django's `SIMPLE_JWT["SIGNING_KEY"]` (by default its `SECRET_KEY`), exactly as Django has it. */
  readonly signingKey: string
  /** simplejwt's `ALGORITHM`. */
  readonly algorithm: SimplejwtAlgorithm
  /** After this time (ms since the epoch) legacy tokens are `token_not_valid`; `null` = no end. */
  readonly acceptUntil: number | null
}

/**
 * The resolved, frozen configuration. Every field comes from one row of `VARIABLES`; each
 * variable's default is in `DEFAULTS` (config-defaults.ts), and only there.
 */
export interface Config {
  readonly mode: Mode
  readonly port: number
  readonly host: string
  readonly store: StoreKind
  /** Absolute after resolving. */
  readonly dataDir: string
  readonly redis: RedisConfig | null
  /**
   * `postgres://…` for PostgreSQL users, or `sqlite:////abs/path` (dj-database-url's form) for a
   * SQLite file; `null` = the embedded SQLite user database.
   */
  readonly databaseURL: string | null
  /** `baton` (baton's own user table) or `django` (Django's, read-only: SPEC §9). */
  readonly userStore: 'baton' | 'django'
  /** Django's user table (`DJANGO_USER_TABLE`). */
  readonly djangoUserTable: string
  /** The column Django users log in with (`DJANGO_USERNAME_FIELD`). */
  readonly djangoUsernameField: string
  /** Seconds. */
  readonly accessTokenLifetime: number
  /** Seconds of inactivity a refresh token lives. */
  readonly refreshTokenLifetime: number
  /** Seconds from login after which the session ends, however active. */
  readonly sessionMaxLifetime: number
  readonly refreshGraceSeconds: number
  readonly rotateRefreshTokens: boolean
  /**
   * ES256 by default (SPEC §9): simplejwt, like many JWT libraries, cannot verify EdDSA, and a
   * Django API behind baton verifies its access tokens.
   */
  readonly algorithm: Algorithm
  /** PEM or JWK JSON of the signing key (`JWT_PRIVATE_KEY`), or null. */
  readonly privateKey: string | null
  /** HS256 secret bytes (`JWT_SECRET`), or null. */
  readonly secret: Uint8Array | null
  /** Older verification keys still accepted (`JWT_VERIFY_KEYS`, a JWKS JSON), for key rotation. */
  readonly verifyKeys: string | null
  /** HMAC key of refresh tokens (`BATON_REFRESH_SECRET`, issue 17); null = derived from the signing key. */
  readonly refreshSecret: Uint8Array | null
  /** Older refresh keys still accepted (`BATON_REFRESH_SECRETS_PREVIOUS`, comma-separated). */
  readonly refreshSecretsPrevious: readonly Uint8Array[]
  readonly leeway: number
  readonly issuer: string
  readonly audience: string
  /** Failed logins per username. */
  readonly loginRateLimit: RateLimit | null
  /** Failed logins per client address. */
  readonly loginRateLimitIP: RateLimit | null
  /** Failed refreshes per client address. */
  readonly refreshRateLimit: RateLimit | null
  readonly storeTimeoutMs: number
  readonly logLevel: string
  readonly registration: boolean
  /** Serve the demo page at `/`. */
  readonly demo: boolean
  /** `body` (simplejwt's) or `cookie` (HttpOnly refresh cookie). */
  readonly tokenTransport: 'body' | 'cookie'
  /** Origins allowed by CORS (`BATON_CORS_ORIGINS`, comma-separated). */
  readonly corsOrigins: readonly string[]
  /** Protected routes check the session too (fail closed). */
  readonly revocationCheck: boolean
  /** Worker processes. */
  readonly workers: number
  /**
   * Which proxies may name the client address in `X-Forwarded-For` (`BATON_TRUST_PROXY`: a hop
   * count or addresses/CIDRs; `true` only in development).
   */
  readonly trustProxy: TrustProxy
  /** Request body limit in bytes. */
  readonly bodyLimit: number
  /**
   * scrypt cost of new password hashes (`PASSWORD_SCRYPT_LN`: log2 of N; r=8, p=1). A user whose
   * stored hash has other params is re-hashed at their next successful login.
   */
  readonly passwordParams: Readonly<ScryptParams>
  /** The simplejwt cut-over (SPEC §9), on while `SIMPLEJWT_SIGNING_KEY` is set. */
  readonly simplejwt: SimplejwtConfig | null
  /** Password checks running at once in this process (`BATON_LOGIN_CONCURRENCY`; issue 15). */
  readonly loginConcurrency: number
  /** Logins that may wait for a check beyond those (`BATON_LOGIN_QUEUE`). */
  readonly loginQueueLength: number
  /** The longest a login waits for its check, in ms (`BATON_LOGIN_QUEUE_MS`). */
  readonly loginQueueWaitMs: number
}

type Env = Readonly<Record<string, string | undefined>>

/** Thrown inside a parser: becomes one ConfigProblem. */
class Invalid extends Error {
  readonly problem: string
  readonly fix: string
  constructor(problem: string, fix: string) {
    super(problem)
    this.problem = problem
    this.fix = fix
  }
}

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw.trim())) throw new Invalid(`"${raw}" is not a whole number.`, `Set a whole number from ${min} to ${max}.`)
    const n = Number(raw.trim())
    if (n < min || n > max) throw new Invalid(`${n} is out of range.`, `Set a whole number from ${min} to ${max}.`)
    return n
  }
}

function boolean(raw: string): boolean {
  const v = raw.trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(v)) return true
  if (['0', 'false', 'no', 'off'].includes(v)) return false
  throw new Invalid(`"${raw}" is not a boolean.`, 'Use true or false.')
}

function oneOf<T extends string>(values: readonly T[]) {
  return (raw: string): T => {
    const v = raw.trim()
    const match = values.find((x) => x.toLowerCase() === v.toLowerCase())
    if (match === undefined) throw new Invalid(`"${raw}" is not one of ${values.join(', ')}.`, `Use one of ${values.join(', ')}.`)
    return match
  }
}

function rateLimit(raw: string): RateLimit | null {
  const v = raw.trim().toLowerCase()
  if (v === 'off' || v === '0') return null
  const m = /^(\d+)\s*\/\s*(\d+)$/.exec(v)
  if (m === null || Number(m[1]) < 1 || Number(m[2]) < 1)
    throw new Invalid(`"${raw}" is not a rate limit.`, 'Use FAILURES/SECONDS, such as 10/900, or off.')
  return { max: Number(m[1]), windowSeconds: Number(m[2]) }
}

function hostPorts(raw: string): { host: string; port: number }[] {
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

function secret(raw: string): Uint8Array {
  // SPEC §5: the raw string (UTF-8), or `base64:` followed by base64.
  const bytes = raw.startsWith('base64:') ? Buffer.from(raw.slice(7), 'base64') : Buffer.from(raw, 'utf8')
  if (bytes.length < 32)
    throw new Invalid(`the secret is ${bytes.length} bytes; HS256 needs at least 32.`, 'Generate one with `npx baton keygen --alg HS256`.')
  return new Uint8Array(bytes)
}

/** JWT_SECRET's syntax (SPEC §5), with its own fix: a raw secret holding a comma needs `base64:` in the list. */
function refreshSecret(raw: string): Uint8Array {
  try {
    return secret(raw)
  } catch (err) {
    if (!(err instanceof Invalid)) throw err
    throw new Invalid(err.problem.replace('HS256 needs', 'a refresh secret needs'), 'Generate one with `npx baton keygen --refresh`.')
  }
}

function privateKey(raw: string): string {
  const v = raw.trim()
  // Many platforms cannot hold newlines in a variable: accept PEM with literal "\n".
  if (v.includes('-----BEGIN')) return v.replaceAll('\\n', '\n')
  if (v.startsWith('{')) return v
  throw new Invalid('it is neither a PEM private key nor a JWK.', 'Generate one with `npx baton keygen` and paste its output.')
}

function sqlIdentifier(raw: string): string {
  const problem = checkSQLIdentifier(raw.trim())
  if (problem !== null) throw new Invalid(problem, 'Write the table or column name as Django created it.')
  return raw.trim()
}

interface Row {
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
const MIN_SCRYPT_LN = 10
const MAX_SCRYPT_LN = 20

function scryptParams(ln: number | undefined): Readonly<ScryptParams> {
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
const VARIABLES = {
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

type Parsed = { -readonly [K in keyof typeof VARIABLES]?: ReturnType<(typeof VARIABLES)[K]['parse']> }

/**
 * A variable's value: as given, else its default from `DEFAULTS` read by the variable's own
 * parser (so `10/900` there means what it means in the environment). Only for variables whose
 * default is a value; those with a rule are worked out in `loadConfig`.
 */
function valueOf<K extends keyof Parsed>(key: K, given: Parsed[K]): Exclude<Parsed[K], undefined> {
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

/**
 * Resolves the configuration from environment variables and CLI flags (flags win). Pure: reads
 * only its arguments and the files they name (`REDIS_TLS_CA_FILE`, `JWT_PRIVATE_KEY_FILE`).
 * Throws ConfigError listing every problem at once.
 */
export function loadConfig(env: Env, argv: readonly string[] = []): Config {
  const problems: ConfigProblem[] = []
  const { values: flags } = parseArgs({ args: [...argv], options: SERVE_FLAGS, strict: false, allowPositionals: true })
  const parsed: Parsed = {}
  const rows = VARIABLES as Record<string, Row>
  for (const [key, row] of Object.entries(rows)) {
    const fromFlag = row.flag === undefined ? undefined : flags[row.flag]
    const raw = typeof fromFlag === 'string' ? fromFlag : env[row.env]
    if (raw === undefined || raw === '') continue
    try {
      ;(parsed as Record<string, unknown>)[key] = row.parse(raw)
    } catch (err) {
      if (!(err instanceof Invalid)) throw err
      const name = typeof fromFlag === 'string' ? `--${row.flag}` : row.env
      problems.push({ variable: name, problem: err.problem, fix: err.fix })
    }
  }

  const keyFile = env.JWT_PRIVATE_KEY_FILE
  if (keyFile && parsed.privateKey === undefined) {
    try {
      parsed.privateKey = privateKey(readFileSync(keyFile, 'utf8'))
    } catch (err) {
      problems.push({
        variable: 'JWT_PRIVATE_KEY_FILE',
        problem: err instanceof Invalid ? err.problem : `cannot read ${keyFile}.`,
        fix: 'Point it at a PEM or JWK file made by `npx baton keygen`.',
      })
    }
  }

  const mode = valueOf('mode', parsed.mode)
  const production = mode === 'production'
  const redis = loadRedis(env, problems)
  const store = parsed.store ?? (redis !== null ? 'redis' : 'sqlite')
  if (store === 'redis' && redis === null)
    problems.push({ variable: 'BATON_STORE', problem: 'is redis but no Redis is configured.', fix: 'Set REDIS_URL (or REDIS_SENTINELS).' })

  const algorithm = parsed.algorithm ?? DEFAULT_ALGORITHM
  if (algorithm === 'HS256' && parsed.secret === undefined && production)
    problems.push({
      variable: 'JWT_SECRET',
      problem: 'is required for HS256 in production.',
      fix: 'Generate one with `npx baton keygen --alg HS256`.',
    })
  if (algorithm !== 'HS256' && parsed.privateKey === undefined && production)
    problems.push({
      variable: 'JWT_PRIVATE_KEY',
      problem: 'is required in production (the development key is not used there).',
      fix: `Generate one with \`npx baton keygen --alg ${algorithm}\` and set JWT_PRIVATE_KEY.`,
    })
  if (algorithm === 'HS256' && parsed.privateKey !== undefined)
    problems.push({
      variable: 'JWT_PRIVATE_KEY',
      problem: 'is set but JWT_ALGORITHM is HS256.',
      fix: 'Use JWT_SECRET with HS256, or choose EdDSA, ES256 or RS256.',
    })
  if (algorithm !== 'HS256' && parsed.secret !== undefined)
    problems.push({
      variable: 'JWT_SECRET',
      problem: `is set but JWT_ALGORITHM is ${algorithm}.`,
      fix: 'Set JWT_ALGORITHM=HS256, or remove JWT_SECRET.',
    })
  // The default was EdDSA before SPEC §9: a deployment that set only JWT_PRIVATE_KEY (an Ed25519
  // key) would otherwise stop with "not a valid ES256 private key" after the upgrade.
  if (parsed.algorithm === undefined && parsed.privateKey !== undefined && isEd25519Key(parsed.privateKey))
    problems.push({
      variable: 'JWT_ALGORITHM',
      problem: `is unset, so ${DEFAULT_ALGORITHM} (the default), but JWT_PRIVATE_KEY is an Ed25519 (EdDSA) key.`,
      fix: `Set JWT_ALGORITHM=EdDSA to keep this key (simplejwt cannot verify EdDSA), or make an ${DEFAULT_ALGORITHM} key with \`npx baton keygen\`.`,
    })
  if (parsed.secret !== undefined && production && sharesSecret(parsed.secret, env))
    problems.push({
      variable: 'JWT_SECRET',
      problem: 'is the same as another secret (a database or Redis password).',
      fix: 'Generate a separate one with `npx baton keygen --alg HS256`.',
    })
  // Issue 17: the refresh key has one purpose; an access key or a password it is not.
  for (const variable of ['BATON_REFRESH_SECRET', 'BATON_REFRESH_SECRETS_PREVIOUS'] as const) {
    const values =
      variable === 'BATON_REFRESH_SECRET'
        ? parsed.refreshSecret === undefined
          ? []
          : [parsed.refreshSecret]
        : (parsed.refreshSecretsPrevious ?? [])
    if (values.some((v) => (parsed.secret !== undefined && Buffer.from(v).equals(Buffer.from(parsed.secret))) || sharesSecret(v, env)))
      problems.push({
        variable,
        problem: 'is the same as JWT_SECRET or another secret (a database or Redis password).',
        fix: 'Generate a separate one with `npx baton keygen --refresh`.',
      })
  }

  const accessTokenLifetime = valueOf('accessTokenLifetime', parsed.accessTokenLifetime)
  const refreshTokenLifetime = valueOf('refreshTokenLifetime', parsed.refreshTokenLifetime)
  const sessionMaxLifetime = valueOf('sessionMaxLifetime', parsed.sessionMaxLifetime)
  if (refreshTokenLifetime < accessTokenLifetime)
    problems.push({
      variable: 'REFRESH_TOKEN_LIFETIME',
      problem: 'is shorter than ACCESS_TOKEN_LIFETIME.',
      fix: 'Make refresh tokens live longer than access tokens.',
    })

  // Issue 11: trusting every hop lets any client choose its address (per-address limits, the
  // sessions' `ip`, every log line); development only, where index.ts warns about it.
  if (parsed.trustProxy?.kind === 'all' && production)
    problems.push({
      variable: 'BATON_TRUST_PROXY',
      problem: 'is true, which trusts every X-Forwarded-For entry: any client could choose its own address.',
      fix: 'Set the number of proxies in front of baton (1 for one nginx), or their addresses, such as 10.0.0.0/8,127.0.0.1.',
    })
  if (store === 'memory' && (parsed.workers ?? 1) > 1)
    problems.push({
      variable: 'WORKERS',
      problem: 'is above 1 with the memory store, whose sessions live in one process.',
      fix: 'Use BATON_STORE=sqlite or redis, or WORKERS=1.',
    })

  const simplejwt = loadSimplejwt(parsed, problems)

  // SPEC §9: Django's table is read-only, so it needs its database and cannot take registrations.
  const userStore = valueOf('userStore', parsed.userStore)
  if (userStore === 'django' && parsed.databaseURL == null)
    problems.push({
      variable: 'DATABASE_URL',
      problem: "is unset, but USER_STORE=django reads users from Django's database.",
      fix: "Set it as Django's DATABASE_URL: postgres://user:password@host:5432/dbname or sqlite:////abs/path/db.sqlite3.",
    })
  if (userStore === 'django' && parsed.registration === true)
    problems.push({
      variable: 'BATON_REGISTRATION',
      problem: "is true, but USER_STORE=django never writes Django's user table.",
      fix: 'Unset it; users sign up through Django.',
    })

  if (problems.length > 0) throw new ConfigError(problems)

  // The memory store's sessions live in one process: one worker, whatever the mode (a worker per
  // core would give each its own sessions, and a refresh on another worker would be not valid).
  const workers = parsed.workers ?? (production && store !== 'memory' ? availableParallelism() : 1)
  // Issue 15: scrypt keeps a core busy per check, so the workers share the cores between them;
  // more checks at once would only make each slower, and the event loops' share smaller.
  const loginConcurrency = parsed.loginConcurrency ?? Math.max(1, Math.floor(availableParallelism() / workers))
  const config: Config = {
    mode,
    port: valueOf('port', parsed.port),
    host: valueOf('host', parsed.host),
    store,
    dataDir: valueOf('dataDir', parsed.dataDir),
    redis,
    databaseURL: parsed.databaseURL ?? null,
    userStore,
    djangoUserTable: valueOf('djangoUserTable', parsed.djangoUserTable),
    djangoUsernameField: valueOf('djangoUsernameField', parsed.djangoUsernameField),
    accessTokenLifetime,
    refreshTokenLifetime,
    sessionMaxLifetime,
    refreshGraceSeconds: valueOf('refreshGraceSeconds', parsed.refreshGraceSeconds),
    rotateRefreshTokens: valueOf('rotateRefreshTokens', parsed.rotateRefreshTokens),
    algorithm,
    privateKey: parsed.privateKey ?? null,
    secret: parsed.secret ?? null,
    verifyKeys: parsed.verifyKeys ?? null,
    refreshSecret: parsed.refreshSecret ?? null,
    refreshSecretsPrevious: parsed.refreshSecretsPrevious ?? [],
    leeway: valueOf('leeway', parsed.leeway),
    // A value of spaces only is no issuer: the default, as when unset.
    issuer: valueOf('issuer', parsed.issuer || undefined),
    audience: valueOf('audience', parsed.audience || undefined),
    // `off` is null, a value: only an unset limit takes the default.
    loginRateLimit: valueOf('loginRateLimit', parsed.loginRateLimit),
    loginRateLimitIP: valueOf('loginRateLimitIP', parsed.loginRateLimitIP),
    refreshRateLimit: valueOf('refreshRateLimit', parsed.refreshRateLimit),
    storeTimeoutMs: valueOf('storeTimeoutMs', parsed.storeTimeoutMs),
    logLevel: valueOf('logLevel', parsed.logLevel),
    registration: parsed.registration ?? (!production && userStore === 'baton'),
    demo: parsed.demo ?? !production,
    tokenTransport: valueOf('tokenTransport', parsed.tokenTransport),
    corsOrigins: parsed.corsOrigins ?? [],
    revocationCheck: valueOf('revocationCheck', parsed.revocationCheck),
    workers,
    trustProxy: valueOf('trustProxy', parsed.trustProxy),
    bodyLimit: valueOf('bodyLimit', parsed.bodyLimit),
    passwordParams: scryptParams(parsed.passwordScryptLn),
    simplejwt,
    loginConcurrency,
    // About 2 s of checks at ~0.4 s each: those further back would time out anyway.
    loginQueueLength: parsed.loginQueueLength ?? 4 * loginConcurrency,
    loginQueueWaitMs: valueOf('loginQueueWaitMs', parsed.loginQueueWaitMs),
  }
  return deepFreeze(config)
}

/** An ISO 8601 date-time with an offset (`2027-01-31T00:00:00Z`), as milliseconds since the epoch. */
function isoTime(raw: string): number {
  const v = raw.trim()
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v) ? Date.parse(v) : Number.NaN
  if (Number.isNaN(ms)) throw new Invalid(`"${raw}" is not an ISO 8601 time with a zone.`, 'Use a time such as 2027-01-31T00:00:00Z.')
  return ms
}

function loadSimplejwt(parsed: Parsed, problems: ConfigProblem[]): SimplejwtConfig | null {
  const signingKey = parsed.simplejwtSigningKey
  if (signingKey === undefined) {
    for (const [key, variable] of [
      ['simplejwtAlgorithm', 'SIMPLEJWT_ALGORITHM'],
      ['simplejwtAcceptUntil', 'SIMPLEJWT_ACCEPT_UNTIL'],
    ] as const)
      if (parsed[key] !== undefined)
        problems.push({
          variable,
          problem: 'is set but SIMPLEJWT_SIGNING_KEY is not.',
          fix: "Set SIMPLEJWT_SIGNING_KEY to Django's SIMPLE_JWT SIGNING_KEY (by default its SECRET_KEY), or unset this one.",
        })
    return null
  }
  const algorithm = valueOf('simplejwtAlgorithm', parsed.simplejwtAlgorithm)
  // With rotation off a refresh answers only {access}: the client would keep presenting the
  // legacy token, which is reuse once its grace window ends. Refused rather than half-done.
  if (parsed.rotateRefreshTokens === false)
    problems.push({
      variable: 'SIMPLEJWT_SIGNING_KEY',
      problem: 'is set with ROTATE_REFRESH_TOKENS=false; the cut-over exchanges each simplejwt token for a rotating baton pair.',
      fix: 'Keep ROTATE_REFRESH_TOKENS on (the default) during the cut-over.',
    })
  try {
    // Builds the verifier once to find a key that cannot be used now, not at the first refresh.
    createSimplejwtVerifier({ signingKey, algorithm, acceptUntil: null, leeway: 0, clock: Date.now })
  } catch (err) {
    if (!(err instanceof TypeError)) throw err
    problems.push({
      variable: 'SIMPLEJWT_SIGNING_KEY',
      problem: err.message.replace(/^SIMPLEJWT_SIGNING_KEY /, ''),
      fix: `Paste Django's SIMPLE_JWT SIGNING_KEY (a PEM key for ${algorithm}), with literal \\n for newlines if need be.`,
    })
  }
  return { signingKey, algorithm, acceptUntil: parsed.simplejwtAcceptUntil ?? null }
}

function loadRedis(env: Env, problems: ConfigProblem[]): RedisConfig | null {
  const rawURL = env.REDIS_URL
  const sentinelsRaw = env.REDIS_SENTINELS?.trim()
  if ((rawURL === undefined || rawURL === '') && !sentinelsRaw) return null

  let url = 'redis://localhost:6379'
  let findings: readonly Finding[] = []
  if (rawURL !== undefined && rawURL !== '') {
    const lint = lintRedisURL(rawURL)
    if (lint.kind === 'error') {
      problems.push({ variable: 'REDIS_URL', problem: lint.problem, fix: lint.fix })
      return null
    }
    url = lint.url
    findings = lint.findings
  }

  let tlsCA: string | null = null
  if (env.REDIS_TLS_CA_FILE) {
    try {
      tlsCA = readFileSync(env.REDIS_TLS_CA_FILE, 'utf8')
    } catch {
      problems.push({
        variable: 'REDIS_TLS_CA_FILE',
        problem: `cannot read ${env.REDIS_TLS_CA_FILE}.`,
        fix: 'Point it at the PEM file of the CA that signed the Redis certificate.',
      })
    }
  }

  let cluster: RedisConfig['cluster'] = null
  let sentinel: RedisConfig['sentinel'] = null
  try {
    if (boolean(env.REDIS_CLUSTER || DEFAULTS.REDIS_CLUSTER.value)) {
      cluster = { nodes: hostPorts(env.REDIS_CLUSTER_NODES ?? '').map((n) => `${n.host}:${n.port}`) }
    }
  } catch (err) {
    if (!(err instanceof Invalid)) throw err
    problems.push({ variable: env.REDIS_CLUSTER_NODES ? 'REDIS_CLUSTER_NODES' : 'REDIS_CLUSTER', problem: err.problem, fix: err.fix })
  }
  if (sentinelsRaw) {
    try {
      const sentinels = hostPorts(sentinelsRaw)
      if (sentinels.length === 0) throw new Invalid('lists no sentinel.', 'Use a comma-separated list of host:port.')
      sentinel = { sentinels, name: env.REDIS_SENTINEL_MASTER?.trim() || DEFAULTS.REDIS_SENTINEL_MASTER.value }
      if (env.REDIS_SENTINEL_PASSWORD) sentinel.password = env.REDIS_SENTINEL_PASSWORD
    } catch (err) {
      if (!(err instanceof Invalid)) throw err
      problems.push({ variable: 'REDIS_SENTINELS', problem: err.problem, fix: err.fix })
    }
  }
  if (cluster !== null && sentinel !== null)
    problems.push({ variable: 'REDIS_SENTINELS', problem: 'is set together with REDIS_CLUSTER.', fix: 'Choose one: Cluster or Sentinel.' })
  return { url, findings, tlsCA, cluster, sentinel }
}

/** True when the secret equals a password configured elsewhere (secrets.ts reads the URLs). */
function sharesSecret(secretBytes: Uint8Array, env: Env): boolean {
  return configuredPasswords(env).includes(Buffer.from(secretBytes).toString('utf8'))
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}

/** Whether a JWT_PRIVATE_KEY (JWK JSON or PEM) is an Ed25519 key; an unreadable one is not. */
function isEd25519Key(text: string): boolean {
  try {
    if (text.trim().startsWith('{')) {
      const jwk = JSON.parse(text) as { kty?: unknown; crv?: unknown }
      return jwk.kty === 'OKP' && jwk.crv === 'Ed25519'
    }
    return createPrivateKey(text).asymmetricKeyType === 'ed25519'
  } catch {
    return false
  }
}
