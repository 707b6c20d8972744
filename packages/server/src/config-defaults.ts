import { DEFAULT_SCRYPT_PARAMS } from './users/password.js'

/** One configuration variable's default (SPEC §5), as `loadConfig` applies it. */
export interface ConfigDefault {
  /**
   * The default as it would be written in the variable: `loadConfig` parses it with the
   * variable's own parser when the variable is unset or empty. `null`: unset means none (off,
   * absent, an empty list), or the default is a rule (`rule`).
   */
  readonly value: string | null
  /** A default that depends on other settings, in the README's words; `loadConfig` applies it. */
  readonly rule?: string
  /** What the variable is for, in one line. */
  readonly doc: string
}

/**
 * Every configuration variable and its default, written once (issue 16: they were written in
 * the TSDoc of `Config`, in `loadConfig`'s literals and in the README). `loadConfig` reads the
 * values from here; test/config-defaults.test.ts checks the README's configuration table
 * against this one, both ways.
 */
export const DEFAULTS = {
  PORT: { value: '8000', doc: 'the port the server listens on' },
  HOST: { value: '127.0.0.1', doc: 'the address the server listens on' },
  BATON_MODE: { value: 'development', doc: 'development or production' },
  BATON_STORE: {
    value: null,
    rule: '`redis` if `REDIS_URL`/`REDIS_SENTINELS` is set, else `sqlite`',
    doc: 'the session store: memory, sqlite or redis',
  },
  BATON_DATA_DIR: { value: './.baton', doc: 'embedded session store, development key, embedded user database' },
  REDIS_URL: { value: null, doc: 'redis:// or rediss:// URL of the session store' },
  REDIS_TLS_CA_FILE: { value: null, doc: 'PEM file of the CA that signed the Redis certificate' },
  REDIS_CLUSTER: { value: 'false', doc: 'REDIS_URL is a seed node of a Redis Cluster' },
  REDIS_CLUSTER_NODES: { value: null, doc: 'more Cluster seeds, host:port,host:port' },
  REDIS_SENTINELS: { value: null, doc: 'Sentinel mode: the Sentinels, host:port,host:port' },
  REDIS_SENTINEL_MASTER: { value: 'mymaster', doc: 'the Sentinel master group name' },
  REDIS_SENTINEL_PASSWORD: { value: null, doc: 'password of the Sentinels themselves' },
  DATABASE_URL: { value: null, rule: 'the embedded SQLite file', doc: 'where users live: postgres:// or sqlite:////abs/path' },
  USER_STORE: { value: 'baton', doc: "baton's own user table, or Django's (read-only)" },
  DJANGO_USER_TABLE: { value: 'auth_user', doc: "Django's user table" },
  DJANGO_USERNAME_FIELD: { value: 'username', doc: 'the column Django users log in with' },
  SIMPLEJWT_SIGNING_KEY: { value: null, doc: "the cut-over (SPEC §9): Django's SIMPLE_JWT signing key" },
  SIMPLEJWT_ALGORITHM: { value: 'HS256', doc: "simplejwt's ALGORITHM" },
  SIMPLEJWT_ACCEPT_UNTIL: { value: null, doc: 'after this ISO 8601 time simplejwt tokens are refused' },
  ACCESS_TOKEN_LIFETIME: { value: '300', doc: 'seconds an access token lives' },
  REFRESH_TOKEN_LIFETIME: { value: '86400', doc: 'seconds of inactivity a refresh token lives' },
  SESSION_MAX_LIFETIME: { value: '2592000', doc: 'seconds from login after which the session ends, however active' },
  REFRESH_GRACE_SECONDS: { value: '15', doc: 'the previous refresh token answers the same successor this long' },
  ROTATE_REFRESH_TOKENS: { value: 'true', doc: 'false: a refresh answers only {access}' },
  JWT_ALGORITHM: { value: 'ES256', doc: "the access tokens' algorithm (simplejwt cannot verify EdDSA)" },
  JWT_PRIVATE_KEY: { value: null, doc: 'PEM or JWK of the signing key' },
  JWT_PRIVATE_KEY_FILE: { value: null, doc: 'a file holding JWT_PRIVATE_KEY' },
  JWT_SECRET: { value: null, doc: 'HS256 secret: raw (UTF-8, 32 bytes or more) or base64:' },
  JWT_VERIFY_KEYS: { value: null, doc: 'JWKS of older public keys still accepted' },
  BATON_REFRESH_SECRET: { value: null, rule: 'derived from the signing key', doc: 'the HMAC key of refresh tokens (issue 17)' },
  BATON_REFRESH_SECRETS_PREVIOUS: { value: null, doc: 'older refresh secrets still accepted, comma-separated' },
  JWT_LEEWAY: { value: '5', doc: 'seconds of clock leeway for exp/nbf/iat' },
  JWT_ISSUER: { value: 'baton', doc: 'iss' },
  JWT_AUDIENCE: { value: 'baton', doc: 'aud' },
  LOGIN_RATE_LIMIT: { value: '10/900', doc: 'failed logins per username per window' },
  LOGIN_RATE_LIMIT_IP: { value: '50/900', doc: 'failed logins per client address per window' },
  REFRESH_RATE_LIMIT: { value: '60/300', doc: 'failed refreshes per client address per window' },
  STORE_TIMEOUT_MS: { value: '500', doc: 'deadline of every store call' },
  LOG_LEVEL: { value: 'info', doc: 'pino level' },
  BATON_REGISTRATION: { value: null, rule: '`true` in development', doc: 'POST /api/auth/register/ on or off' },
  BATON_DEMO: { value: null, rule: '`true` in development', doc: 'the demo page at /' },
  BATON_TOKEN_TRANSPORT: { value: 'body', doc: "body (simplejwt's) or cookie (an HttpOnly refresh cookie)" },
  BATON_CORS_ORIGINS: { value: null, doc: 'origins allowed to call the API with credentials' },
  BATON_REVOCATION_CHECK: { value: 'false', doc: 'protected routes check the session too (fail closed)' },
  BATON_TRUST_PROXY: { value: 'false', doc: 'the proxies allowed to name the client address in X-Forwarded-For' },
  BATON_BODY_LIMIT: { value: '16384', doc: 'request body limit in bytes' },
  WORKERS: {
    value: null,
    rule: '`1` (development, or the memory store), core count (production)',
    doc: 'worker processes sharing the port',
  },
  // The scrypt parameters are users/password.ts's: N = 2^ln, r and p fixed.
  PASSWORD_SCRYPT_LN: { value: String(DEFAULT_SCRYPT_PARAMS.ln), doc: 'scrypt cost of new password hashes, log2 of N' },
  BATON_LOGIN_CONCURRENCY: { value: null, rule: 'core count ÷ `WORKERS` (at least 1)', doc: 'password checks running at once per process' },
  BATON_LOGIN_QUEUE: { value: null, rule: '4 × `BATON_LOGIN_CONCURRENCY`', doc: 'logins that may wait for a check' },
  BATON_LOGIN_QUEUE_MS: { value: '2000', doc: 'the longest a login waits for its check, in ms' },
} as const satisfies Record<string, ConfigDefault>

export type ConfigVariable = keyof typeof DEFAULTS
