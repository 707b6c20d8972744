import { DEFAULTS } from './config-defaults.js'
import type { Finding } from './redis-url.js'
import type { TrustProxy } from './http/trust-proxy.js'
import type { ScryptParams } from './users/password.js'
import type { SimplejwtAlgorithm } from './tokens/simplejwt.js'

/** What `loadConfig` answers: the resolved configuration (config.ts), and the types it is made of. */
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
