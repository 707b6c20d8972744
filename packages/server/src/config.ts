import { createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import { DEFAULTS } from './config-defaults.js'
import { type Config, DEFAULT_ALGORITHM, type RedisConfig, type SimplejwtConfig } from './config-types.js'
import {
  type Env,
  type Parsed,
  type Row,
  Invalid,
  SERVE_FLAGS,
  VARIABLES,
  boolean,
  hostPorts,
  privateKey,
  scryptParams,
  valueOf,
} from './config-variables.js'
import { ConfigError, type ConfigProblem } from './errors.js'
import { lintRedisURL, type Finding } from './redis-url.js'
import { configuredPasswords } from './secrets.js'
import { createSimplejwtVerifier } from './tokens/simplejwt.js'

export * from './config-types.js'
export { loadPasswordParams, SERVE_FLAGS } from './config-variables.js'

/**
 * Resolves the configuration from environment variables and CLI flags (flags win). Pure: reads
 * only its arguments and the files they name (`REDIS_TLS_CA_FILE`, `JWT_PRIVATE_KEY_FILE`).
 * Throws ConfigError listing every problem at once.
 *
 * Longer than ~100 lines on purpose: it is the one place where variables are checked against
 * each other (mode × store × workers × key × secrets), in order, each rule next to the ones it
 * depends on, and every problem collected before failing. Single-variable parsing lives in
 * config-variables.ts, the types in config-types.ts, the defaults in config-defaults.ts.
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
