import { createHash, pbkdf2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

/**
 * Django's password hash formats, verified natively (SPEC §9 "Django's users in place"): what
 * `django.contrib.auth.hashers.check_password` answers for `pbkdf2_sha256`, `pbkdf2_sha1`,
 * `argon2`, `bcrypt_sha256`, `bcrypt` and `scrypt`. Every hasher runs off the event loop: PBKDF2
 * and scrypt on libuv's pool (node:crypto), argon2 and bcrypt in native addons' async workers,
 * which are imported only when a hash of theirs is first met.
 *
 * A stored hash is not trusted: parameters beyond the bounds below are `malformed`, so a row
 * edited to `pbkdf2_sha256$999999999$…` cannot hold a login (and a pool thread) for minutes.
 */
export type DjangoVerifyOutcome =
  | { kind: 'match' }
  | { kind: 'mismatch' }
  /** Django's `make_password(None)`: `!` followed by 40 characters (or any `!…`). */
  | { kind: 'unusable' }
  /** A hasher baton does not implement (`md5`, `sha1`, `crypt`, …): named for one warning. */
  | { kind: 'unknown_hasher'; algorithm: string }
  /** A known hasher's string that does not parse, or parameters beyond the bounds. */
  | { kind: 'malformed'; algorithm: string }

const MAX_PBKDF2_ITERATIONS = 20_000_000
/** Same limit as baton's own scrypt hashes (users/password.ts). */
const MAX_SCRYPT_MEMORY = 512 * 1024 * 1024
/** argon2's `m` is in KiB: 512 MiB. Django's default is 102400 (100 MiB). */
const MAX_ARGON2_MEMORY_KIB = 512 * 1024
const MAX_ARGON2_TIME = 64
/** bcrypt's cost is log2 of the rounds; Django's default is 12 (about 0.25 s here). */
const MAX_BCRYPT_COST = 16
const SALT_PATTERN = /^[^$]{1,256}$/
const B64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/
// Django 3.2 wrote `v=19`; argon2-cffi reads a string without `v=` as version 0x10.
const ARGON2_PATTERN =
  /^\$(argon2id|argon2i|argon2d)\$(?:v=(16|19)\$)?m=([0-9]{1,7}),t=([0-9]{1,3}),p=([0-9]{1,3})\$([A-Za-z0-9+/]{11,88})\$([A-Za-z0-9+/]{6,172})$/
const BCRYPT_PATTERN = /^\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{53}$/
const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

const VERIFIED = new Set(['pbkdf2_sha256', 'pbkdf2_sha1', 'argon2', 'bcrypt_sha256', 'bcrypt', 'scrypt'])

/** Whether the string names a hasher baton verifies (not whether it parses). */
export function isVerifiableDjangoHash(encoded: string): boolean {
  return VERIFIED.has(djangoAlgorithmOf(encoded))
}

/** The hasher a Django hash string names: the part before its first `$`. */
export function djangoAlgorithmOf(encoded: string): string {
  const i = encoded.indexOf('$')
  if (i > 0) return encoded.slice(0, i)
  // Django's identify_hasher: a bare 32-hex-digit string is an unsalted MD5.
  return /^[0-9a-f]{32}$/i.test(encoded) ? 'unsalted_md5' : 'unknown'
}

/**
 * Whether `password` matches Django's `encoded` hash. Never throws for a bad hash: a corrupt row
 * must not let anyone in nor turn login into a 500. Comparisons are constant-time.
 */
export async function verifyDjangoPassword(password: string, encoded: string): Promise<DjangoVerifyOutcome> {
  // Django's UNUSABLE_PASSWORD_PREFIX: is_password_usable() is false for any such string.
  if (encoded.startsWith('!')) return { kind: 'unusable' }
  const algorithm = djangoAlgorithmOf(encoded)
  const rest = encoded.slice(algorithm.length + 1)
  let verdict: boolean | null
  switch (algorithm) {
    case 'pbkdf2_sha256':
      verdict = await verifyPBKDF2(password, rest, 'sha256')
      break
    case 'pbkdf2_sha1':
      verdict = await verifyPBKDF2(password, rest, 'sha1')
      break
    case 'scrypt':
      verdict = await verifyScrypt(password, rest)
      break
    case 'argon2':
      verdict = await verifyArgon2(password, `$${rest}`)
      break
    case 'bcrypt':
      // Django's BCryptPasswordHasher hashes the UTF-8 bytes as they are (bcrypt reads 72).
      verdict = password.includes('\u0000') ? false : await verifyBcrypt(password, rest)
      break
    case 'bcrypt_sha256':
      // Django: bcrypt over the hex digest of SHA-256, so no password is cut at 72 bytes.
      verdict = await verifyBcrypt(createHash('sha256').update(password, 'utf8').digest('hex'), rest)
      break
    default:
      return { kind: 'unknown_hasher', algorithm }
  }
  if (verdict === null) return { kind: 'malformed', algorithm }
  return verdict ? { kind: 'match' } : { kind: 'mismatch' }
}

/**
 * A hash no password matches, with the hasher and parameters of `template` (random salt and
 * digest), so verifying it costs what verifying a real user's costs (SPEC §1: similar time for
 * unknown users). Without a usable template: Django 3.2's default, PBKDF2-SHA256 with 260000
 * iterations.
 */
export function createDjangoDummyHash(template: string | null): string {
  const salt = randomBytes(16).toString('hex').slice(0, 22)
  const fallback = `pbkdf2_sha256$260000$${salt}$${randomBytes(32).toString('base64')}`
  if (template === null || template.startsWith('!')) return fallback
  const algorithm = djangoAlgorithmOf(template)
  const parts = template.split('$')
  switch (algorithm) {
    case 'pbkdf2_sha256':
    case 'pbkdf2_sha1': {
      const iterations = parseBounded(parts[1], MAX_PBKDF2_ITERATIONS)
      if (iterations === null) return fallback
      return `${algorithm}$${iterations}$${salt}$${randomBytes(algorithm === 'pbkdf2_sha1' ? 20 : 32).toString('base64')}`
    }
    case 'scrypt': {
      const params = parseScryptParams(parts[1], parts[3], parts[4])
      if (params === null) return fallback
      return `scrypt$${params.N}$${salt}$${params.r}$${params.p}$${randomBytes(64).toString('base64')}`
    }
    case 'argon2': {
      const m = ARGON2_PATTERN.exec(template.slice('argon2'.length))
      if (m === null) return fallback
      const version = m[2] === undefined ? '' : `v=${m[2]}$`
      const b64 = (n: number) => randomBytes(n).toString('base64').replace(/=+$/, '')
      return `argon2$${m[1]}$${version}m=${m[3]},t=${m[4]},p=${m[5]}$${b64(16)}$${b64(32)}`
    }
    case 'bcrypt':
    case 'bcrypt_sha256': {
      const m = BCRYPT_PATTERN.exec(template.slice(algorithm.length + 1))
      if (m === null) return fallback
      const chars = [...randomBytes(53)].map((b) => BCRYPT_ALPHABET[b % 64]).join('')
      return `${algorithm}$$2b$${m[1]}$${chars}`
    }
    default:
      return fallback
  }
}

/** `<iterations>$<salt>$<b64 digest>`: Django re-encodes and compares the whole string. */
async function verifyPBKDF2(password: string, rest: string, digest: 'sha256' | 'sha1'): Promise<boolean | null> {
  const [iterationsText, salt, stored, extra] = rest.split('$')
  if (extra !== undefined || salt === undefined || stored === undefined) return null
  const iterations = parseBounded(iterationsText, MAX_PBKDF2_ITERATIONS)
  if (iterations === null || !SALT_PATTERN.test(salt) || !B64_PATTERN.test(stored)) return null
  const length = digest === 'sha256' ? 32 : 20
  const key = await new Promise<Buffer | null>((resolve) => {
    pbkdf2(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), iterations, length, digest, (err, out) => resolve(err ? null : out))
  })
  return key === null ? null : equalStrings(key.toString('base64'), stored)
}

/** `<N>$<salt>$<r>$<p>$<b64 64 bytes>` (Django ≥ 4.0): the cost is read from the string. */
async function verifyScrypt(password: string, rest: string): Promise<boolean | null> {
  const [nText, salt, rText, pText, stored, extra] = rest.split('$')
  if (extra !== undefined || salt === undefined || stored === undefined) return null
  const params = parseScryptParams(nText, rText, pText)
  if (params === null || !SALT_PATTERN.test(salt) || !B64_PATTERN.test(stored)) return null
  const options = { ...params, maxmem: scryptMemory(params) + 1024 * 1024 }
  const key = await new Promise<Buffer | null>((resolve) => {
    scrypt(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), 64, options, (err, out) => resolve(err ? null : out))
  })
  return key === null ? null : equalStrings(key.toString('base64'), stored)
}

/** A PHC string after `argon2` (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), as argon2-cffi reads it. */
async function verifyArgon2(password: string, phc: string): Promise<boolean | null> {
  const m = ARGON2_PATTERN.exec(phc)
  if (m === null) return null
  const memory = Number(m[3])
  const time = Number(m[4])
  const lanes = Number(m[5])
  if (time < 1 || time > MAX_ARGON2_TIME || lanes < 1 || lanes > 64) return null
  if (memory < 8 * lanes || memory > MAX_ARGON2_MEMORY_KIB) return null
  const argon2 = await loadArgon2()
  // A string the pattern let through but the library refuses is a bad row, not a 500.
  return argon2.verify(phc, password).catch(() => null)
}

/** `$2b$<cost>$<22 salt><31 hash>`: the native addon compares in constant time. */
async function verifyBcrypt(password: string, data: string): Promise<boolean | null> {
  const m = BCRYPT_PATTERN.exec(data)
  if (m === null) return null
  const cost = Number(m[1])
  if (cost < 4 || cost > MAX_BCRYPT_COST) return null
  const bcrypt = await loadBcrypt()
  return bcrypt.compare(password, data).catch(() => null)
}

function parseScryptParams(
  nText: string | undefined,
  rText: string | undefined,
  pText: string | undefined,
): { N: number; r: number; p: number } | null {
  const N = parseBounded(nText, 2 ** 24)
  const r = parseBounded(rText, 64)
  const p = parseBounded(pText, 64)
  if (N === null || r === null || p === null || N < 2 || (N & (N - 1)) !== 0) return null
  return scryptMemory({ N, r, p }) <= MAX_SCRYPT_MEMORY ? { N, r, p } : null
}

/** OpenSSL's own estimate of scrypt's memory: 128·r·p for B plus 128·r·(N+2) for V. */
function scryptMemory({ N, r, p }: { N: number; r: number; p: number }): number {
  return 128 * r * p + 128 * r * (N + 2)
}

/** A canonical decimal from 1 to `max`, else `null`. */
function parseBounded(text: string | undefined, max: number): number | null {
  if (text === undefined || !/^[1-9][0-9]{0,9}$/.test(text)) return null
  const n = Number(text)
  return n <= max ? n : null
}

/** Constant-time for equal lengths; the length of a digest's encoding is no secret. */
function equalStrings(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

interface Argon2Module {
  verify(digest: string, password: string): Promise<boolean>
}
interface BcryptModule {
  compare(data: string, encrypted: string): Promise<boolean>
}
let argon2Module: Promise<Argon2Module> | null = null
let bcryptModule: Promise<BcryptModule> | null = null

// Native addons, loaded on first use: a deployment whose users are all PBKDF2 never loads them.
// An addon that fails to load is a broken install: that error propagates (and is logged), and
// the next login tries the import again.
function loadArgon2(): Promise<Argon2Module> {
  argon2Module ??= import('argon2').then(
    (m) => m.default,
    (err: unknown) => {
      argon2Module = null
      throw err
    },
  )
  return argon2Module
}
function loadBcrypt(): Promise<BcryptModule> {
  bcryptModule ??= import('bcrypt').then(
    (m) => m.default,
    (err: unknown) => {
      bcryptModule = null
      throw err
    },
  )
  return bcryptModule
}
