import { createHmac, createSecretKey, hkdfSync } from 'node:crypto'

/**
 * The symmetric key refresh tokens are authenticated with (issue 17). Only baton ever reads a
 * refresh token (SPEC §2: frontends decode `exp`, nothing verifies it), so it needs no public
 * key: two HMAC-SHA256 JWS operations (alg HS256) cost a few microseconds where they were two
 * of a refresh's three public-key operations (bench/README.md, issue 17). The access token stays
 * signed with the configured algorithm and published in the JWKS; this key never is.
 */
export interface RefreshKeys {
  /** `r-` and 16 characters (no thumbprint looks like it); looked up for refresh tokens only (jwt.ts). */
  kid: string
  secret: Uint8Array
  /** kid → secret of every key a refresh token may carry: the current one, previous ones, the derived one. */
  accepted: ReadonlyMap<string, Uint8Array>
  /** The current key was derived from the signing key (`BATON_REFRESH_SECRET` unset). */
  derived: boolean
}

export interface RefreshKeySource {
  /** `BATON_REFRESH_SECRET`, or null to derive one from the signing key. */
  secret: Uint8Array | null
  /** `BATON_REFRESH_SECRETS_PREVIOUS`: still accepted, never used to sign. */
  previous: readonly Uint8Array[]
  /** The signing key's private material (JWT_SECRET's bytes, or a private JWK's `d`). */
  signingMaterial: Uint8Array
}

/** Thrown for an unusable refresh key; `keys.ts` turns it into a KeyError. */
export class RefreshKeyError extends Error {
  override name = 'RefreshKeyError'
}

const SALT = Buffer.from('baton refresh-token key')
const INFO = Buffer.from('HS256 v1')

/**
 * With no `BATON_REFRESH_SECRET` the key is derived (HKDF-SHA256) from the signing key, so every
 * worker and instance with the same configuration (or the same development key in the data
 * folder) agrees on it, and a restart invalidates nothing: never a key from process memory alone.
 * The derivation is one-way; its cost is that a new signing key means a new derived key
 * (README, "Refresh-token key").
 */
export function deriveRefreshSecret(signingMaterial: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', signingMaterial, SALT, INFO, 32))
}

/** `r-` and 16 characters of an HMAC of the secret: stable, and says nothing about the secret. */
export function refreshKid(secret: Uint8Array): string {
  return `r-${createHmac('sha256', secret).update('baton refresh key id').digest('base64url').slice(0, 16)}`
}

export function loadRefreshKeys(source: RefreshKeySource): RefreshKeys {
  const derivedSecret = deriveRefreshSecret(source.signingMaterial)
  const secret = source.secret ?? derivedSecret
  for (const s of [secret, ...source.previous])
    if (s.length < 32) throw new RefreshKeyError(`a refresh secret is ${s.length} bytes; at least 32 are needed.`)
  const accepted = new Map<string, Uint8Array>()
  // The key derived from the current signing key stays accepted after BATON_REFRESH_SECRET is
  // set, so setting it logs nobody out. It adds nothing for an attacker: whoever holds the
  // signing key can already sign a refresh token the upgrade path accepts (jwt.ts).
  for (const s of [secret, ...source.previous, derivedSecret]) accepted.set(refreshKid(s), s)
  return { kid: refreshKid(secret), secret, accepted, derived: source.secret === null }
}

/** HMAC-SHA256 of the JWS signing input with the current key (RFC 7518 §3.2). */
export function refreshSigner(keys: RefreshKeys): (data: Buffer) => Buffer {
  const key = createSecretKey(keys.secret)
  return (data) => createHmac('sha256', key).update(data).digest()
}
