import { randomBytes } from 'node:crypto'
import { chmodSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { type CryptoKey, type JWK, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, importPKCS8 } from 'jose'
import type { Algorithm, Config } from '../config.js'
import { type RefreshKeys, RefreshKeyError, loadRefreshKeys } from './refresh-key.js'

/** A verification key and the algorithm it is for. */
export interface VerifyKey {
  alg: Algorithm
  key: CryptoKey | Uint8Array
}

/** The keys a server signs and verifies with: one signing key, any number of verification keys. */
export interface KeySet {
  algorithm: Algorithm
  /** Key id of the signing key (RFC 7638 thumbprint, so every instance agrees). */
  kid: string
  signingKey: CryptoKey | Uint8Array
  /** kid → key: the signing key's own public half plus older keys kept for rotation. */
  verifyKeys: ReadonlyMap<string, VerifyKey>
  /** Public keys for `/.well-known/jwks.json` (empty for HS256: a shared secret is never published). */
  jwks: { keys: JWK[] }
  /** The development key's file when no key was configured, else `null`. */
  devKeyFile: string | null
  /** The HMAC key of refresh tokens (issue 17): never in `verifyKeys`, never in the JWKS. */
  refresh: RefreshKeys
}

export interface KeySource {
  algorithm: Algorithm
  /** PEM (PKCS#8) or private JWK JSON. */
  privateKey: string | null
  secret: Uint8Array | null
  /** JWKS JSON of extra verification keys (public keys, or `oct` keys for HS256). */
  verifyKeys: string | null
  /** Where the development key is kept when no key is configured; `null` = refuse. */
  devKeyDir: string | null
  /** `BATON_REFRESH_SECRET`; unset or null = derived from the signing key (refresh-key.ts). */
  refreshSecret?: Uint8Array | null
  /** `BATON_REFRESH_SECRETS_PREVIOUS`. */
  refreshSecretsPrevious?: readonly Uint8Array[]
}

/** Thrown when the configured key cannot be used; the CLI shows it as a config problem. */
export class KeyError extends Error {
  override name = 'KeyError'
}

/** Loads the configured key, or makes and keeps a development key in `devKeyDir`. */
export async function loadKeys(source: KeySource): Promise<KeySet> {
  const { algorithm } = source
  let devKeyFile: string | null = null
  let signing: { key: CryptoKey | Uint8Array; publicJWK: JWK | null; kid: string }
  // What the refresh key is derived from when none is configured: the signing key's secret part.
  let signingMaterial: Uint8Array

  if (algorithm === 'HS256') {
    let secret = source.secret
    if (secret === null) {
      if (source.devKeyDir === null) throw new KeyError('JWT_SECRET is required for HS256.')
      devKeyFile = join(source.devKeyDir, 'dev-secret-HS256')
      const text = await readOrCreateOnce(devKeyFile, () => randomBytes(32).toString('base64url'))
      secret = Buffer.from(text.trim(), 'base64url')
    }
    const kid = (await calculateJwkThumbprint({ kty: 'oct', k: Buffer.from(secret).toString('base64url') })).slice(0, 16)
    signing = { key: secret, publicJWK: null, kid }
    signingMaterial = secret
  } else {
    let privateJWK: JWK
    if (source.privateKey !== null) {
      privateJWK = await parsePrivateKey(source.privateKey, algorithm)
    } else {
      if (source.devKeyDir === null) throw new KeyError('JWT_PRIVATE_KEY is required.')
      devKeyFile = join(source.devKeyDir, `dev-key-${algorithm}.json`)
      const text = await readOrCreateOnce(devKeyFile, async () => JSON.stringify((await generateKey(algorithm)).privateJWK))
      privateJWK = JSON.parse(text) as JWK
    }
    const publicJWK = toPublic(privateJWK)
    if (typeof privateJWK.d !== 'string' || privateJWK.d === '')
      throw new KeyError('JWT_PRIVATE_KEY is a public key; a private key is needed.')
    signingMaterial = Buffer.from(privateJWK.d, 'base64url')
    const kid = await calculateJwkThumbprint(publicJWK)
    // Extractable: the codec makes a node:crypto KeyObject of it (KeyObject.from), which Node 24
    // deprecates for a non-extractable CryptoKey (DEP0204, a warning at every start). A KeyObject
    // can export its key anyway, so non-extractable would protect nothing here.
    const key = (await importJWK({ ...privateJWK, alg: algorithm }, algorithm, { extractable: true })) as CryptoKey
    signing = { key, publicJWK: { ...publicJWK, kid, alg: algorithm, use: 'sig' }, kid }
  }

  const verifyKeys = new Map<string, VerifyKey>()
  const jwks: JWK[] = []
  if (signing.publicJWK !== null) {
    verifyKeys.set(signing.kid, { alg: algorithm, key: (await importJWK(signing.publicJWK, algorithm)) as CryptoKey })
    jwks.push(signing.publicJWK)
  } else {
    verifyKeys.set(signing.kid, { alg: algorithm, key: signing.key })
  }
  for (const extra of parseJWKS(source.verifyKeys)) {
    if ('d' in extra) throw new KeyError('JWT_VERIFY_KEYS must hold public keys only (a key has a "d" member).')
    const alg = (extra.alg as Algorithm | undefined) ?? algorithm
    let kid: string
    let key: CryptoKey | Buffer
    try {
      kid = extra.kid ?? (await calculateJwkThumbprint(extra))
      key = extra.kty === 'oct' ? Buffer.from(extra.k ?? '', 'base64url') : ((await importJWK(extra, alg)) as CryptoKey)
    } catch {
      // A configuration problem (exit 78 naming the variable), not a crash with jose's message.
      throw new KeyError(
        `JWT_VERIFY_KEYS holds a key that is not a valid ${alg} public key (set its "alg" if it is for another algorithm).`,
      )
    }
    verifyKeys.set(kid, { alg, key: key instanceof Buffer ? new Uint8Array(key) : key })
    if (extra.kty !== 'oct') jwks.push({ ...extra, kid, alg, use: 'sig' })
  }
  const refresh = loadRefresh(source, signingMaterial, verifyKeys)
  return { algorithm, kid: signing.kid, signingKey: signing.key, verifyKeys, jwks: { keys: jwks }, devKeyFile, refresh }
}

/** The refresh key, refused when it equals an access key: one key, one purpose (issue 17). */
function loadRefresh(source: KeySource, signingMaterial: Uint8Array, verifyKeys: ReadonlyMap<string, VerifyKey>): RefreshKeys {
  let refresh: RefreshKeys
  try {
    refresh = loadRefreshKeys({ secret: source.refreshSecret ?? null, previous: source.refreshSecretsPrevious ?? [], signingMaterial })
  } catch (err) {
    if (err instanceof RefreshKeyError) throw new KeyError(`BATON_REFRESH_SECRET(S_PREVIOUS): ${err.message}`)
    throw err
  }
  for (const { key } of verifyKeys.values())
    for (const secret of refresh.accepted.values())
      if (key instanceof Uint8Array && Buffer.from(key).equals(Buffer.from(secret)))
        throw new KeyError(
          'BATON_REFRESH_SECRET (or a previous one) is the same as JWT_SECRET or a key in JWT_VERIFY_KEYS; generate a separate one with `npx baton keygen --refresh`.',
        )
  return refresh
}

/** A new private key for `baton keygen`: PEM and JWK forms, or a secret for HS256. */
export async function generateKey(algorithm: Algorithm): Promise<{ privateJWK?: JWK; secret?: string; kid: string }> {
  if (algorithm === 'HS256') {
    const secret = randomBytes(32)
    return {
      secret: `base64:${secret.toString('base64')}`,
      kid: (await calculateJwkThumbprint({ kty: 'oct', k: secret.toString('base64url') })).slice(0, 16),
    }
  }
  const { privateKey } = await generateKeyPair(algorithm, { extractable: true, ...(algorithm === 'EdDSA' ? { crv: 'Ed25519' } : {}) })
  const privateJWK = await exportJWK(privateKey)
  return { privateJWK, kid: await calculateJwkThumbprint(toPublic(privateJWK)) }
}

async function parsePrivateKey(text: string, algorithm: Algorithm): Promise<JWK> {
  try {
    if (text.trim().startsWith('{')) {
      const jwk = JSON.parse(text) as JWK
      if (jwk.d === undefined) throw new KeyError('JWT_PRIVATE_KEY is a public key; a private key is needed.')
      await importJWK(jwk, algorithm)
      return jwk
    }
    return await exportJWK(await importPKCS8(text, algorithm, { extractable: true }))
  } catch (err) {
    if (err instanceof KeyError) throw err
    // Never echo the key: name the problem only.
    throw new KeyError(`JWT_PRIVATE_KEY is not a valid ${algorithm} private key.`)
  }
}

function toPublic(jwk: JWK): JWK {
  const {
    d: _d,
    p: _p,
    q: _q,
    dp: _dp,
    dq: _dq,
    qi: _qi,
    oth: _oth,
    alg: _alg,
    kid: _kid,
    use: _use,
    key_ops: _ops,
    ext: _ext,
    ...pub
  } = jwk
  return pub
}

function parseJWKS(text: string | null): JWK[] {
  if (text === null) return []
  try {
    const parsed = JSON.parse(text) as { keys?: JWK[] } | JWK[]
    const keys = Array.isArray(parsed) ? parsed : parsed.keys
    if (!Array.isArray(keys)) throw new Error('no keys')
    return keys
  } catch {
    throw new KeyError('JWT_VERIFY_KEYS is not a JWKS ({"keys": [...]}).')
  }
}

/**
 * The file's content, creating it first when it is missing: exactly once, however many workers
 * (node:cluster) or processes start on the same fresh data folder at the same moment (issue 11:
 * two workers that each made their own key signed with two keys, so every other request failed
 * to verify). The content is written whole to a private temp file, then `link`ed into place:
 * `link` fails with EEXIST when another process got there first, and a linked file is always
 * complete, so every racer ends up reading the one winner's key.
 */
async function readOrCreateOnce(file: string, create: () => string | Promise<string>): Promise<string> {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  // The data folder also holds the user database: only its owner may list or read it.
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const content = await create()
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  writeFileSync(temp, content, { mode: 0o600, flag: 'wx' })
  chmodSync(temp, 0o600)
  try {
    linkSync(temp, file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    unlinkSync(temp)
  }
  return readFileSync(file, 'utf8')
}

/** The keys exactly as `serve` loads them, from the resolved configuration (index.ts, `baton keygen`). */
export function keySourceFromConfig(config: Config): KeySource {
  return {
    algorithm: config.algorithm,
    privateKey: config.privateKey,
    secret: config.secret,
    verifyKeys: config.verifyKeys,
    // Production never makes or reads a development key.
    devKeyDir: config.mode === 'production' ? null : config.dataDir,
    refreshSecret: config.refreshSecret,
    refreshSecretsPrevious: config.refreshSecretsPrevious,
  }
}
