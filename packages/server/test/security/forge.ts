import { KeyObject, createHmac, sign as cryptoSign } from 'node:crypto'
import { type CryptoKey, type JWK, SignJWT, exportJWK, generateKeyPair } from 'jose'
import type { Algorithm } from '../../src/config.js'
import type { TestServer } from '../helpers/make-server.js'

/**
 * Tools to build hostile JWTs by hand: raw header and payload JSON (so duplicate keys and odd
 * types survive), signed with any key, including the server's own. Used by the security tests.
 */

export function b64url(input: string | Uint8Array): string {
  return Buffer.from(input).toString('base64url')
}

export function fromB64url(segment: string): string {
  return Buffer.from(segment, 'base64url').toString('utf8')
}

/** The signature of `signingInput` with `key` for `alg` (JWS: raw R||S for ECDSA). */
export function signBytes(alg: string, key: CryptoKey | Uint8Array | string, signingInput: string): Buffer {
  const data = Buffer.from(signingInput, 'ascii')
  if (alg === 'HS256') {
    const secret = typeof key === 'string' || key instanceof Uint8Array ? key : KeyObject.from(key)
    return createHmac('sha256', secret).update(data).digest()
  }
  if (typeof key === 'string' || key instanceof Uint8Array) throw new Error(`${alg} needs a private key`)
  const keyObject = KeyObject.from(key)
  if (alg === 'EdDSA') return cryptoSign(null, data, keyObject)
  if (alg === 'ES256') return cryptoSign('sha256', data, { key: keyObject, dsaEncoding: 'ieee-p1363' })
  if (alg === 'RS256') return cryptoSign('sha256', data, keyObject)
  throw new Error(`cannot sign ${alg}`)
}

/**
 * A compact JWS from raw JSON text: `header` and `payload` are encoded exactly as given, so a
 * test can put duplicate keys or any value in them. `key === null` leaves the signature empty.
 */
export function rawToken(
  header: string | object,
  payload: string | object,
  sign: { alg: string; key: CryptoKey | Uint8Array | string } | null,
): string {
  const h = b64url(typeof header === 'string' ? header : JSON.stringify(header))
  const p = b64url(typeof payload === 'string' ? payload : JSON.stringify(payload))
  const input = `${h}.${p}`
  return sign === null ? `${input}.` : `${input}.${b64url(signBytes(sign.alg, sign.key, input))}`
}

/** What the server needs to forge a token with its own key: alg, kid, signing key, clock. */
export interface ServerKey {
  alg: Algorithm
  kid: string
  key: CryptoKey | Uint8Array
}

export function serverKey(server: TestServer): ServerKey {
  const { keys } = server.deps
  return { alg: keys.algorithm, kid: keys.kid, key: keys.signingKey }
}

/** Access-token claims as baton issues them, at the server's (fake) clock. */
export function accessClaims(server: TestServer, sub: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(server.clock.now() / 1000)
  return {
    iss: server.deps.config.issuer,
    aud: server.deps.config.audience,
    sub,
    user_id: sub,
    sid: 's_forged',
    jti: 'forged-jti',
    iat: now,
    exp: now + 300,
    token_type: 'access',
    ...overrides,
  }
}

/**
 * Signs `claims` with the server's real key through jose (a valid signature: only the claims
 * can make the token fail). `undefined` claim values are dropped; `header` adds or replaces
 * header members.
 */
export async function signWithServerKey(
  server: TestServer,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  const { alg, kid, key } = serverKey(server)
  const payload = Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined))
  return new SignJWT(payload).setProtectedHeader({ alg, kid, typ: 'at+jwt', ...header }).sign(key)
}

/** Signs raw header/payload JSON text with the server's real key. */
export function rawWithServerKey(server: TestServer, header: string | object, payload: string | object): string {
  const { alg, key } = serverKey(server)
  return rawToken(header, payload, { alg, key })
}

/** A key pair the attacker controls, with its public JWK (kid set). */
export async function attackerKey(alg: Exclude<Algorithm, 'HS256'> = 'EdDSA'): Promise<{ privateKey: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) })
  const jwk = { ...(await exportJWK(publicKey)), kid: 'attacker', alg, use: 'sig' }
  return { privateKey, jwk }
}

/** Replaces the character at `index` by another from the base64url alphabet (never the same one). */
export function flipChar(token: string, index: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const c = token[index]!
  const at = alphabet.indexOf(c)
  // Move far along the alphabet, so the 6-bit value changes in its high bits (a change in only
  // the low bits of a segment's last character would be the malleability case, tested alone).
  const replacement = alphabet[(at + 32) % 64]!
  return token.slice(0, index) + replacement + token.slice(index + 1)
}

/** Flips one bit in the decoded bytes of segment `n` (0 header, 1 payload, 2 signature) and re-encodes. */
export function flipByte(token: string, n: 0 | 1 | 2, byteIndex = 5): string {
  const parts = token.split('.')
  const bytes = Buffer.from(parts[n]!, 'base64url')
  bytes[byteIndex % bytes.length]! ^= 0x01
  parts[n] = bytes.toString('base64url')
  return parts.join('.')
}
