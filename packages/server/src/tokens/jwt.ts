import {
  KeyObject,
  createHmac,
  createSecretKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto'
import { type JWTPayload, errors as joseErrors, jwtVerify } from 'jose'
import type { Clock } from '../clock.js'
import { BatonError } from '../errors.js'
import { parseCompactJWS } from '../tokens/jws-shape.js'
import type { KeySet, VerifyKey } from './keys.js'
import { refreshSigner } from './refresh-key.js'
import { createVerifiedCache } from './verified-cache.js'

/** RFC 9068 §2.1: access tokens are typed `at+jwt`, so a refresh token can never pass as one. */
export const ACCESS_TYP = 'at+jwt'
export const REFRESH_TYP = 'refresh+jwt'

export interface AccessClaims {
  iss: string
  aud: string
  sub: string
  iat: number
  exp: number
  jti: string
  sid: string
  token_type: 'access'
  /** `sub` in the user store's type (SPEC §9): a number for Django's integer keys. */
  user_id: string | number
}

export interface RefreshClaims {
  iss: string
  aud: string
  sub: string
  iat: number
  exp: number
  jti: string
  sid: string
  /** Generation of this token in its session; the first is 1. */
  gen: number
  /** Login time (SPEC §3.4): carried through every rotation, never extended. */
  auth_time: number
  token_type: 'refresh'
}

export interface TokenSettings {
  issuer: string
  audience: string
  /** Seconds of clock leeway for `exp`, `nbf` and `iat`. */
  leeway: number
  clock: Clock
}

const ID_BYTES = 16
/** Random bytes drawn 256 ids at a time: one CSPRNG call per id cost ~2% of a refresh (issue 5). */
let idPool = Buffer.alloc(0)
let idOffset = 0

/** A random id for `jti` and `sid`: 128 bits, URL-safe. Each pooled byte is used once. */
export function newId(prefix = ''): string {
  return prefix + pooledId(ID_BYTES)
}

/**
 * A refresh token's `jti` is 96 bits: it names a token within its session (the signature is
 * what authenticates it), and a session record holds three (current, previous, next): 16
 * characters where 128 bits take 22 keep a Redis session hash in its 224-byte listpack class
 * with the next jti added (store/redis-scripts.ts; SPEC §3 bounds storage per session).
 */
const REFRESH_JTI_BYTES = 12

/** A random `jti` for a refresh token (96 bits, URL-safe), from the same pool as {@link newId}. */
export function newRefreshJti(): string {
  return pooledId(REFRESH_JTI_BYTES)
}

function pooledId(bytes: number): string {
  if (idOffset + bytes > idPool.length) {
    idPool = randomBytes(ID_BYTES * 256)
    idOffset = 0
  }
  const id = idPool.toString('base64url', idOffset, idOffset + bytes)
  idOffset += bytes
  return id
}

/** Signs and verifies baton's two token types with one key set. */
export interface TokenCodec {
  signAccess(claims: Omit<AccessClaims, 'iss' | 'aud' | 'token_type'>): Promise<string>
  signRefresh(claims: Omit<RefreshClaims, 'iss' | 'aud' | 'token_type'>): Promise<string>
  /** Verifies an access token; throws BatonError `token_not_valid`. */
  verifyAccess(token: string): Promise<AccessClaims>
  /** Verifies a refresh token; throws BatonError `token_not_valid`. */
  verifyRefresh(token: string): Promise<RefreshClaims>
  /** Verifies either type (for `/api/auth/verify/`). */
  verifyAny(token: string): Promise<AccessClaims | RefreshClaims>
}

/** Longest token accepted; anything larger is refused before it is parsed. */
export const MAX_TOKEN_LENGTH = 8192

/**
 * Longest a token can live, `exp - iat` in seconds: the largest lifetime configuration allows
 * (400 days). A validly signed token claiming more (`exp: 1e300`) is refused as malformed.
 */
export const MAX_TOKEN_LIFETIME = 400 * 86_400

export interface TokenCodecOptions {
  /**
   * Verified access tokens remembered (keyed by the token itself), so a client that sends the
   * same bearer token many times pays one signature check. Expiry is checked on every hit.
   * 0 turns the cache off. @default 10000
   */
  accessCacheSize?: number
}

/**
 * Signs and verifies with `node:crypto` (keys are converted once to KeyObjects). jose's
 * `jwtVerify`/`SignJWT` go through WebCrypto, whose every call is a thread-pool job: on the
 * 2-core bench box that made one refresh's cryptography cost ~3x more CPU than the same
 * signatures done synchronously (bench/README.md). The checks are jose's (alg allow-list, `crit`,
 * `typ` normalisation, iss/aud/exp/nbf with leeway, required claims) plus baton's own below.
 * A verification key of an algorithm baton does not sign with (possible in JWT_VERIFY_KEYS)
 * is still checked by jose.
 */
export function createTokenCodec(keys: KeySet, settings: TokenSettings, options: TokenCodecOptions = {}): TokenCodec {
  // Issue 17: access tokens with the configured algorithm and key; refresh tokens with an HMAC
  // key only baton holds (tokens/refresh-key.ts), in a header of their own.
  const signers = new Map<string, { header: string; sign: Signer }>([
    [
      ACCESS_TYP,
      {
        header: b64json({ alg: keys.algorithm, kid: keys.kid, typ: ACCESS_TYP }),
        sign: signerFor(keys.algorithm, toKeyObject(keys.signingKey)),
      },
    ],
    [REFRESH_TYP, { header: b64json({ alg: 'HS256', kid: keys.refresh.kid, typ: REFRESH_TYP }), sign: refreshSigner(keys.refresh) }],
  ])
  const verifiers = new Map<string, Verifier>()
  for (const [kid, key] of keys.verifyKeys) verifiers.set(kid, verifierFor(key))
  // Only refresh tokens are looked up here, and only refresh tokens fall back to `verifiers`:
  // those issued before issue 17 were signed with the access key and live out their lifetime.
  const refreshOnly = new Map<string, Verifier>()
  for (const [kid, secret] of keys.refresh.accepted) refreshOnly.set(kid, verifierFor({ alg: 'HS256', key: secret }))
  const accessCache = createVerifiedCache<AccessClaims>(options.accessCacheSize ?? 10_000)

  async function sign(payload: JWTPayload, typ: string): Promise<string> {
    const signer = signers.get(typ)!
    const input = `${signer.header}.${b64json(payload)}`
    const signature = await signer.sign(Buffer.from(input, 'latin1'))
    return `${input}.${signature.toString('base64url')}`
  }

  async function verify(token: string, typ: string | null): Promise<JWTPayload & { token_type?: unknown }> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new BatonError('token_not_valid')
    // Before any cryptography: one spelling per token (canonical base64url, so no padding,
    // whitespace or spare bits) and no duplicate JSON members (issue 6; see tokens/jws-shape.ts).
    const parsed = parseCompactJWS(token)
    if (parsed.problem !== null) throw new BatonError('token_not_valid')
    const dot2 = token.lastIndexOf('.')
    const header = parsed.header
    // The key is chosen by our own kid only: `jku`, `x5u` and an embedded `jwk` are never
    // followed, and `alg` must be the key's (no `none`, no key confusion). No `crit` extension
    // is understood, so any is refused (as jose refuses those it does not know, and `b64`).
    if (
      header.jku !== undefined ||
      header.x5u !== undefined ||
      header.jwk !== undefined ||
      header.x5c !== undefined ||
      header.crit !== undefined
    )
      throw new BatonError('token_not_valid')
    if (
      typ !== null
        ? typeof header.typ !== 'string' || normalizeTyp(header.typ) !== normalizeTyp(typ)
        : header.typ !== ACCESS_TYP && header.typ !== REFRESH_TYP
    )
      throw new BatonError('token_not_valid')
    // The type decides which keys may have signed it: an access token never by the refresh key.
    const kid = typeof header.kid === 'string' ? header.kid : undefined
    const refresh = (typ ?? header.typ) === REFRESH_TYP
    const verifier = kid === undefined ? undefined : refresh ? (refreshOnly.get(kid) ?? verifiers.get(kid)) : verifiers.get(kid)
    if (verifier === undefined || typeof header.alg !== 'string' || verifier.alg !== header.alg) throw new BatonError('token_not_valid')

    let payload: JWTPayload & { token_type?: unknown }
    if (verifier.verify === null) {
      payload = await verifyWithJose(settings, token, verifier, typ)
    } else {
      const signature = Buffer.from(token.slice(dot2 + 1), 'base64url')
      if (!verifier.verify(Buffer.from(token.slice(0, dot2), 'latin1'), signature)) throw new BatonError('token_not_valid')
      payload = parsed.payload as JWTPayload
    }
    checkClaims(settings, payload)
    // verifyAny: the header's `typ` and the claims' `token_type` must name the same type.
    if (typ === null && (header.typ === REFRESH_TYP) !== (payload.token_type === 'refresh')) throw new BatonError('token_not_valid')
    return payload
  }

  return {
    signAccess: (claims) => sign({ iss: settings.issuer, aud: settings.audience, ...claims, token_type: 'access' }, ACCESS_TYP),
    signRefresh: (claims) => sign({ iss: settings.issuer, aud: settings.audience, ...claims, token_type: 'refresh' }, REFRESH_TYP),
    verifyAccess: async (token) => {
      // Only expiry can turn a verified token invalid later (the key set is fixed for the
      // process); revocation is checked by the caller, after this, on every request.
      const hit = accessCache.get(token)
      if (hit !== undefined && hit.exp > Math.floor(settings.clock() / 1000) - settings.leeway) return hit
      const claims = asAccess(await verify(token, ACCESS_TYP))
      accessCache.set(token, Object.freeze(claims))
      return claims
    },
    verifyRefresh: async (token) => asRefresh(await verify(token, REFRESH_TYP)),
    verifyAny: async (token) => {
      const p = await verify(token, null)
      return p.token_type === 'refresh' ? asRefresh(p) : asAccess(p)
    },
  }
}

const REQUIRED_CLAIMS = ['iss', 'aud', 'exp', 'iat', 'sub', 'jti', 'sid'] as const

/** jose's claim rules (required claims, iss, aud, nbf and exp with leeway), then baton's own. */
function checkClaims(settings: TokenSettings, payload: JWTPayload): void {
  for (const claim of REQUIRED_CLAIMS) if (!Object.hasOwn(payload, claim)) throw new BatonError('token_not_valid')
  const now = Math.floor(settings.clock() / 1000)
  const { leeway } = settings
  if (payload.iss !== settings.issuer) throw new BatonError('token_not_valid')
  const aud = payload.aud
  if (typeof aud === 'string' ? aud !== settings.audience : !Array.isArray(aud) || !aud.includes(settings.audience))
    throw new BatonError('token_not_valid')
  if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf > now + leeway)) throw new BatonError('token_not_valid')
  if (typeof payload.exp !== 'number' || payload.exp <= now - leeway) throw new BatonError('token_not_valid')
  // `iat` far in the future means a forged or broken clock: refuse beyond the leeway.
  if (typeof payload.iat !== 'number' || payload.iat > settings.clock() / 1000 + leeway) throw new BatonError('token_not_valid')
  // Times are whole seconds and a token's life is bounded: `exp: 1e300` is never "valid".
  if (!Number.isSafeInteger(payload.iat) || !Number.isSafeInteger(payload.exp) || payload.exp - payload.iat > MAX_TOKEN_LIFETIME)
    throw new BatonError('token_not_valid')
}

async function verifyWithJose(settings: TokenSettings, token: string, verifier: Verifier, typ: string | null): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(token, verifier.key.key, {
      algorithms: [verifier.alg],
      currentDate: new Date(settings.clock()),
      clockTolerance: settings.leeway,
      ...(typ === null ? {} : { typ }),
    })
    return payload
  } catch (err) {
    if (err instanceof joseErrors.JOSEError || err instanceof TypeError || err instanceof SyntaxError) {
      // The cause is kept for debugging; its message names a claim, never the token.
      throw new BatonError('token_not_valid', { cause: err })
    }
    throw err
  }
}

function asAccess(p: JWTPayload & { token_type?: unknown }): AccessClaims {
  if (p.token_type !== 'access' || typeof p.sid !== 'string' || typeof p.sub !== 'string' || p.sub === '' || !isUserIdOf(p.user_id, p.sub))
    throw new BatonError('token_not_valid')
  return p as unknown as AccessClaims
}

/** `user_id` names the same user as `sub`: the string itself, or its integer as a number. */
function isUserIdOf(userId: unknown, sub: string): boolean {
  return userId === sub || (typeof userId === 'number' && Number.isSafeInteger(userId) && String(userId) === sub)
}

function asRefresh(p: JWTPayload & { token_type?: unknown }): RefreshClaims {
  if (
    p.token_type !== 'refresh' ||
    typeof p.sid !== 'string' ||
    typeof p.sub !== 'string' ||
    p.sub === '' ||
    typeof p.jti !== 'string' ||
    !Number.isSafeInteger(p.gen) ||
    typeof p.auth_time !== 'number'
  )
    throw new BatonError('token_not_valid')
  return p as unknown as RefreshClaims
}

/** jose's `typ` comparison: case-insensitive, with or without the `application/` prefix. */
function normalizeTyp(value: string): string {
  const lower = value.toLowerCase()
  return value.includes('/') ? lower : `application/${lower}`
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

function toKeyObject(key: VerifyKey['key']): KeyObject {
  return key instanceof Uint8Array ? createSecretKey(key) : KeyObject.from(key)
}

type Signer = (data: Buffer) => Buffer | Promise<Buffer>

interface Verifier {
  alg: string
  key: VerifyKey
  /** Checks a signature synchronously; `null` for an algorithm left to jose. */
  verify: ((data: Buffer, signature: Buffer) => boolean) | null
}

function signerFor(alg: KeySet['algorithm'], key: KeyObject): Signer {
  switch (alg) {
    case 'EdDSA':
      return (data) => cryptoSign(null, data, key)
    case 'ES256':
      return (data) => cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
    case 'RS256':
      // ~1 ms of CPU per RSA-2048 signature: run it on the thread pool, not the event loop.
      return (data) => new Promise((resolve, reject) => cryptoSign('sha256', data, key, (err, sig) => (err ? reject(err) : resolve(sig))))
    case 'HS256':
      return (data) => createHmac('sha256', key).update(data).digest()
  }
}

function verifierFor(entry: VerifyKey): Verifier {
  const key = toKeyObject(entry.key)
  const safe = (check: (data: Buffer, signature: Buffer) => boolean) => (data: Buffer, signature: Buffer) => {
    try {
      return check(data, signature)
    } catch {
      return false
    }
  }
  switch (entry.alg) {
    case 'EdDSA':
      if (key.asymmetricKeyType !== 'ed25519') break
      return { alg: entry.alg, key: entry, verify: safe((d, s) => s.length === 64 && cryptoVerify(null, d, key, s)) }
    case 'ES256':
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') break
      return {
        alg: entry.alg,
        key: entry,
        verify: safe((d, s) => s.length === 64 && cryptoVerify('sha256', d, { key, dsaEncoding: 'ieee-p1363' }, s)),
      }
    case 'RS256':
      // jose refuses RSA keys under 2048 bits; so does this.
      if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) break
      return { alg: entry.alg, key: entry, verify: safe((d, s) => cryptoVerify('sha256', d, key, s)) }
    case 'HS256': {
      if (key.type !== 'secret') break
      return {
        alg: entry.alg,
        key: entry,
        verify: safe((d, s) => {
          const mac = createHmac('sha256', key).update(d).digest()
          return s.length === mac.length && timingSafeEqual(s, mac)
        }),
      }
    }
    default:
      return { alg: entry.alg, key: entry, verify: null }
  }
  // A key that does not fit its algorithm verifies nothing.
  return { alg: entry.alg, key: entry, verify: () => false }
}
