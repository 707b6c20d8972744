import { randomBytes } from 'node:crypto'
import { type JWTHeaderParameters, type JWTPayload, SignJWT, errors as joseErrors, jwtVerify } from 'jose'
import type { Clock } from '../clock.js'
import { BatonError } from '../errors.js'
import { jwsShapeProblem } from '../security/jws-shape.js'
import type { KeySet } from './keys.js'

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
  user_id: string
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

/** A random id for `jti` and `sid`: 128 bits, URL-safe. */
export function newId(prefix = ''): string {
  return prefix + randomBytes(16).toString('base64url')
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

export function createTokenCodec(keys: KeySet, settings: TokenSettings): TokenCodec {
  const header = { alg: keys.algorithm, kid: keys.kid }

  function sign(payload: JWTPayload, typ: string): Promise<string> {
    return new SignJWT(payload).setProtectedHeader({ ...header, typ }).sign(keys.signingKey)
  }

  // The key is chosen by our own kid only: `jku`, `x5u` and an embedded `jwk` are never
  // followed, and `alg` must be the configured one (no `none`, no key confusion).
  function resolveKey(h: JWTHeaderParameters) {
    if (h.jku !== undefined || h.x5u !== undefined || h.jwk !== undefined || h.x5c !== undefined)
      throw new BatonError('token_not_valid')
    const found = typeof h.kid === 'string' ? keys.verifyKeys.get(h.kid) : undefined
    if (found === undefined || found.alg !== h.alg) throw new BatonError('token_not_valid')
    return found.key
  }

  async function verify(token: string, typ: string | null): Promise<JWTPayload & { token_type?: unknown }> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH)
      throw new BatonError('token_not_valid')
    // Before any cryptography: one spelling per token (canonical base64url, so no padding,
    // whitespace or spare bits) and no duplicate JSON members (issue 6; see security/jws-shape.ts).
    if (jwsShapeProblem(token) !== null) throw new BatonError('token_not_valid')
    try {
      const { payload, protectedHeader } = await jwtVerify(token, resolveKey, {
        algorithms: [...new Set([...keys.verifyKeys.values()].map((k) => k.alg))],
        issuer: settings.issuer,
        audience: settings.audience,
        clockTolerance: settings.leeway,
        currentDate: new Date(settings.clock()),
        requiredClaims: ['exp', 'iat', 'sub', 'jti', 'sid'],
        ...(typ === null ? {} : { typ }),
      })
      if (typ === null && protectedHeader.typ !== ACCESS_TYP && protectedHeader.typ !== REFRESH_TYP)
        throw new BatonError('token_not_valid')
      // `iat` far in the future means a forged or broken clock: refuse beyond the leeway.
      if (typeof payload.iat !== 'number' || payload.iat > settings.clock() / 1000 + settings.leeway)
        throw new BatonError('token_not_valid')
      // Times are whole seconds and a token's life is bounded: `exp: 1e300` is never "valid".
      if (!Number.isSafeInteger(payload.iat) || !Number.isSafeInteger(payload.exp) || payload.exp! - payload.iat > MAX_TOKEN_LIFETIME)
        throw new BatonError('token_not_valid')
      // verifyAny: the header's `typ` and the claims' `token_type` must name the same type.
      if (typ === null && (protectedHeader.typ === REFRESH_TYP) !== (payload.token_type === 'refresh'))
        throw new BatonError('token_not_valid')
      return payload
    } catch (err) {
      if (err instanceof BatonError) throw err
      if (err instanceof joseErrors.JOSEError || err instanceof TypeError || err instanceof SyntaxError) {
        // The cause is kept for debugging; its message names a claim, never the token.
        throw new BatonError('token_not_valid', { cause: err })
      }
      throw err
    }
  }

  function asAccess(p: JWTPayload & { token_type?: unknown }): AccessClaims {
    if (p.token_type !== 'access' || typeof p.sid !== 'string' || typeof p.sub !== 'string' || p.sub === '' || p.user_id !== p.sub)
      throw new BatonError('token_not_valid')
    return p as unknown as AccessClaims
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

  return {
    signAccess: (claims) =>
      sign({ iss: settings.issuer, aud: settings.audience, ...claims, token_type: 'access' }, ACCESS_TYP),
    signRefresh: (claims) =>
      sign({ iss: settings.issuer, aud: settings.audience, ...claims, token_type: 'refresh' }, REFRESH_TYP),
    verifyAccess: async (token) => asAccess(await verify(token, ACCESS_TYP)),
    verifyRefresh: async (token) => asRefresh(await verify(token, REFRESH_TYP)),
    verifyAny: async (token) => {
      const p = await verify(token, null)
      return p.token_type === 'refresh' ? asRefresh(p) : asAccess(p)
    },
  }
}
