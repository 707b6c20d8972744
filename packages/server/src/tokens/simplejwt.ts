import {
  type KeyObject,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  timingSafeEqual,
  verify as cryptoVerify,
} from 'node:crypto'
import type { Clock } from '../clock.js'
import { BatonError } from '../errors.js'
import { parseCompactJWS } from '../tokens/jws-shape.js'
import { MAX_TOKEN_LENGTH, MAX_TOKEN_LIFETIME } from './jwt.js'

/**
 * SPEC §9 cut-over: reading the refresh tokens djangorestframework-simplejwt issued, so moving the
 * refresh route from Django to baton logs nobody out. Only refresh tokens, only at the refresh
 * route, only until `SIMPLEJWT_ACCEPT_UNTIL`: a simplejwt access token is never accepted anywhere
 * (baton's verifier wants its own `kid` and `typ: at+jwt`, which simplejwt never writes).
 *
 * simplejwt 5.x tokens (measured against Debian's 5.2.2): header `{"alg":"HS256","typ":"JWT"}`, no
 * `kid`; claims `token_type`, `exp`, `iat`, `jti` (32 hex), `user_id` (the user's pk: a JSON number
 * for an integer key), and `iss`/`aud` only when Django configures them. Its HS256 key is the raw
 * UTF-8 bytes of `SIGNING_KEY` (by default Django's `SECRET_KEY`): no base64 and no minimum.
 */

/** simplejwt's `ALGORITHM` values baton reads. */
export const SIMPLEJWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'] as const
export type SimplejwtAlgorithm = (typeof SIMPLEJWT_ALGORITHMS)[number]

export interface SimplejwtSettings {
  /** Django's `SIMPLE_JWT["SIGNING_KEY"]` as Django has it: the raw secret, or a PEM key (private or public). */
  signingKey: string
  algorithm: SimplejwtAlgorithm
  /** Milliseconds since the epoch after which no legacy token is accepted; `null` = no end. */
  acceptUntil: number | null
  /** Seconds of clock leeway for `exp` and `iat`. */
  leeway: number
  clock: Clock
}

/** What baton takes from a verified simplejwt refresh token. */
export interface LegacyRefreshClaims {
  jti: string
  /** The user's id as simplejwt wrote it (`user_id`): a number for an integer key. */
  userId: string | number
  /** Seconds since the epoch. */
  exp: number
}

export interface SimplejwtVerifier {
  /**
   * True when the token is shaped as simplejwt writes its tokens (no `kid`, `typ` absent or
   * `JWT`), so the refresh route should try this verifier rather than baton's own. Not a check.
   */
  looksLegacy(token: string): boolean
  /** Verifies a simplejwt refresh token; throws BatonError `token_not_valid` for anything else. */
  verifyRefresh(token: string): LegacyRefreshClaims
  /** A stable, non-reversible name of a legacy `jti` for audit lines (never the token). */
  jtiHash(jti: string): string
}

export function createSimplejwtVerifier(settings: SimplejwtSettings): SimplejwtVerifier {
  const { algorithm } = settings
  const check = signatureCheck(algorithm, legacyKey(settings.signingKey, algorithm))

  return {
    looksLegacy(token) {
      // Runs on every refresh during the cut-over, baton's own tokens included: the header alone
      // decides the route (the verifier that follows checks the whole token's shape).
      if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return false
      const dot = token.indexOf('.')
      if (dot <= 0) return false
      let header: unknown
      try {
        header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'))
      } catch {
        return false
      }
      if (header === null || typeof header !== 'object') return false
      const { kid, typ } = header as Record<string, unknown>
      return kid === undefined && (typ === undefined || typ === 'JWT')
    },

    verifyRefresh(token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new BatonError('token_not_valid')
      const now = settings.clock()
      // SPEC §9: after the cut-over's end, legacy tokens are simply not valid.
      if (settings.acceptUntil !== null && now >= settings.acceptUntil) throw new BatonError('token_not_valid')
      const parsed = parseCompactJWS(token)
      if (parsed.problem !== null) throw new BatonError('token_not_valid')
      const { header, payload } = parsed
      // The configured algorithm only (no `none`, no HS/RS confusion), and nothing that points
      // elsewhere for a key: simplejwt writes none of these.
      if (
        header.alg !== algorithm ||
        header.kid !== undefined ||
        header.jku !== undefined ||
        header.x5u !== undefined ||
        header.jwk !== undefined ||
        header.x5c !== undefined ||
        header.crit !== undefined
      )
        throw new BatonError('token_not_valid')
      if (header.typ !== undefined && header.typ !== 'JWT') throw new BatonError('token_not_valid')
      const dot = token.lastIndexOf('.')
      if (!check(Buffer.from(token.slice(0, dot), 'latin1'), Buffer.from(token.slice(dot + 1), 'base64url')))
        throw new BatonError('token_not_valid')

      const seconds = now / 1000
      const { exp, iat, jti, token_type: type, user_id: userId } = payload
      if (type !== 'refresh') throw new BatonError('token_not_valid')
      if (typeof jti !== 'string' || !/^[A-Za-z0-9_-]{8,64}$/.test(jti)) throw new BatonError('token_not_valid')
      if (!(typeof userId === 'string' ? userId !== '' && userId.length <= 255 : Number.isSafeInteger(userId)))
        throw new BatonError('token_not_valid')
      if (typeof exp !== 'number' || !Number.isSafeInteger(exp) || exp <= seconds - settings.leeway) throw new BatonError('token_not_valid')
      if (
        iat !== undefined &&
        (typeof iat !== 'number' || !Number.isSafeInteger(iat) || iat > seconds + settings.leeway || exp - iat > MAX_TOKEN_LIFETIME)
      )
        throw new BatonError('token_not_valid')
      if (exp - seconds > MAX_TOKEN_LIFETIME) throw new BatonError('token_not_valid')
      return { jti, userId: userId as string | number, exp }
    },

    jtiHash: (jti) => createHash('sha256').update(`simplejwt:${jti}`).digest('base64url').slice(0, 22),
  }
}

/** The key simplejwt signs with, as node:crypto wants it; a PEM private key yields its public half. */
function legacyKey(raw: string, algorithm: SimplejwtAlgorithm): KeyObject {
  if (algorithm.startsWith('HS')) return createSecretKey(Buffer.from(raw, 'utf8'))
  const pem = raw.includes('-----BEGIN') ? raw.replaceAll('\\n', '\n') : raw
  try {
    return pem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem)
  } catch {
    // Never echo the key: name the problem only.
    throw new TypeError(`SIMPLEJWT_SIGNING_KEY is not a PEM key usable with ${algorithm}.`)
  }
}

function signatureCheck(algorithm: SimplejwtAlgorithm, key: KeyObject): (data: Buffer, signature: Buffer) => boolean {
  const hash = `sha${algorithm.slice(2)}`
  const guard = (f: (d: Buffer, s: Buffer) => boolean) => (d: Buffer, s: Buffer) => {
    try {
      return f(d, s)
    } catch {
      return false
    }
  }
  if (algorithm.startsWith('HS'))
    return guard((d, s) => {
      const mac = createHmac(hash, key).update(d).digest()
      return s.length === mac.length && timingSafeEqual(s, mac)
    })
  if (algorithm.startsWith('RS')) {
    if (key.asymmetricKeyType !== 'rsa')
      throw new TypeError(`SIMPLEJWT_SIGNING_KEY is not an RSA key (SIMPLEJWT_ALGORITHM is ${algorithm}).`)
    return guard((d, s) => cryptoVerify(hash, d, key, s))
  }
  if (key.asymmetricKeyType !== 'ec') throw new TypeError(`SIMPLEJWT_SIGNING_KEY is not an EC key (SIMPLEJWT_ALGORITHM is ${algorithm}).`)
  return guard((d, s) => cryptoVerify(hash, d, { key, dsaEncoding: 'ieee-p1363' }, s))
}
