import { randomBytes, timingSafeEqual } from 'node:crypto'
import { scryptPool } from './scrypt-pool.js'

/**
 * scrypt cost parameters: `N = 2^ln`, block size `r`, parallelism `p`.
 * They are written into every hash, so they can be raised later without breaking old hashes.
 */
export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number
  r: number
  p: number
}

/**
 * OWASP Password Storage Cheat Sheet's scrypt recommendation: N=2^17 (128 MiB), r=8, p=1.
 * About 0.4 s of one core per hash on the machine baton was built on; login pays this once.
 */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ ln: 17, r: 8, p: 1 })

/** Longest accepted password, in characters (Unicode code points). */
export const MAX_PASSWORD_LENGTH = 1024
/** Longest accepted username, in characters: Django's `User.username` limit. */
export const MAX_USERNAME_LENGTH = 150

const SALT_BYTES = 16
const KEY_BYTES = 32
/** Hashes that would need more memory than this are refused (a stored hash is not trusted). */
const MAX_SCRYPT_MEMORY = 512 * 1024 * 1024
const HASH_PATTERN = /^scrypt\$ln=([0-9]{1,2}),r=([0-9]{1,3}),p=([0-9]{1,3})\$([A-Za-z0-9+/]{22,88})\$([A-Za-z0-9+/]{43})$/

// Django's UnicodeUsernameValidator is `^[\w.@+-]+\Z` with Python's Unicode `\w`, which is
// letters (L*), numbers (N*) and `_`. Combining marks are not `\w` there either.
const USERNAME_PATTERN = /^[\p{L}\p{N}_.@+-]+$/u

/**
 * Why a username is refused, or `null` when it is acceptable: 1..150 letters, digits and
 * `@ . + - _` (Django's rules; letters and digits from any script), already in Unicode NFKC form.
 * Pass the name through {@link normalizeUsername} first, as login does.
 */
export function validateUsername(username: unknown): string | null {
  if (typeof username !== 'string' || username.length === 0) return 'This field may not be blank.'
  if (codePointLength(username, MAX_USERNAME_LENGTH) > MAX_USERNAME_LENGTH) {
    return `Ensure this field has no more than ${MAX_USERNAME_LENGTH} characters.`
  }
  if (!USERNAME_PATTERN.test(username)) {
    return 'Enter a valid username. ' + 'This value may contain only letters, numbers, and @/./+/-/_ characters.'
  }
  // Refusing un-normalized names (rather than storing them) means a register route that forgot
  // normalizeUsername() cannot create "ａｄｍｉｎ" beside "admin".
  if (username.normalize('NFKC') !== username) {
    return 'Enter a valid username. Use the plain (NFKC-normalized) form of each character.'
  }
  return null
}

/**
 * The canonical form of a username: Unicode NFKC, as Django's `normalize_username`, so that
 * look-alike spellings ("ｂｏｂ", "bob") are one account. Case is kept: names are case-sensitive.
 */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC')
}

/**
 * Why a password is refused, or `null`: a string of 1..{@link MAX_PASSWORD_LENGTH} characters
 * with no lone UTF-16 surrogate (it would encode as U+FFFD, so two passwords would collide).
 */
export function validatePassword(password: unknown): string | null {
  if (typeof password !== 'string' || password.length === 0) return 'This field may not be blank.'
  if (codePointLength(password, MAX_PASSWORD_LENGTH) > MAX_PASSWORD_LENGTH) {
    return `Ensure this field has no more than ${MAX_PASSWORD_LENGTH} characters.`
  }
  if (/\p{Cs}/u.test(password)) return 'Password contains an invalid character.'
  return null
}

/**
 * Hashes a password with scrypt into `scrypt$ln=17,r=8,p=1$<salt>$<key>` (unpadded base64).
 * Runs on a worker thread at a lower priority (scrypt-pool.ts), never on the event loop.
 * @throws RangeError when {@link validatePassword} refuses the password, or the params are out
 * of range.
 */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<string> {
  const problem = validatePassword(password)
  if (problem !== null) throw new RangeError(`password: ${problem}`)
  if (!areParamsAcceptable(params)) {
    const { ln, r, p } = params
    throw new RangeError(`scrypt params out of range: ln=${ln}, r=${r}, p=${p}`)
  }
  const salt = randomBytes(SALT_BYTES)
  const key = await deriveKey(password, salt, KEY_BYTES, params)
  return `${encodeParams(params)}$${b64(salt)}$${b64(key)}`
}

/**
 * Whether the password matches the hash. A malformed, tampered or unsupported hash is `false`
 * (never an exception): a corrupt row must not let anyone in, nor turn login into a 500.
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parsed = parseHash(hash)
  if (parsed === null || validatePassword(password) !== null) return false
  let key: Buffer
  try {
    key = await deriveKey(password, parsed.salt, parsed.key.length, parsed.params)
  } catch {
    return false
  }
  return timingSafeEqual(key, parsed.key)
}

/**
 * Whether a stored hash was made with other params than `params`, so the caller may re-hash the
 * password (which it has in clear only at login) and store the new hash.
 */
export function needsRehash(hash: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): boolean {
  const parsed = parseHash(hash)
  return parsed === null || encodeParams(parsed.params) !== encodeParams(params)
}

/** The params a hash was made with, or `null` when it is not a well-formed baton scrypt hash. */
export function readHashParams(hash: string): ScryptParams | null {
  return parseHash(hash)?.params ?? null
}

/**
 * A hash-shaped string no password matches (random salt and key), with the given params:
 * verifying against it costs as much as a real verification. Used for unknown users.
 */
export function createDummyHash(params: ScryptParams = DEFAULT_SCRYPT_PARAMS): string {
  return `${encodeParams(params)}$${b64(randomBytes(SALT_BYTES))}$${b64(randomBytes(KEY_BYTES))}`
}

interface ParsedHash {
  params: ScryptParams
  salt: Buffer
  key: Buffer
}

function parseHash(hash: string): ParsedHash | null {
  if (typeof hash !== 'string') return null
  const m = HASH_PATTERN.exec(hash)
  if (m === null) return null
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) }
  if (!areParamsAcceptable(params)) return null
  const salt = Buffer.from(m[4] ?? '', 'base64')
  const key = Buffer.from(m[5] ?? '', 'base64')
  // Strict: canonical base64 only, and a full-length key. scrypt's output is a PBKDF2 stream, so
  // a truncated key would otherwise still verify against its own prefix.
  if (b64(salt) !== m[4] || b64(key) !== m[5]) return null
  if (salt.length < SALT_BYTES || key.length !== KEY_BYTES) return null
  return { params, salt, key }
}

function encodeParams(params: ScryptParams): string {
  return `scrypt$ln=${params.ln},r=${params.r},p=${params.p}`
}

function areParamsAcceptable({ ln, r, p }: ScryptParams): boolean {
  if (![ln, r, p].every(Number.isSafeInteger)) return false
  if (ln < 1 || ln > 24 || r < 1 || r > 64 || p < 1 || p > 64) return false
  return scryptMemory({ ln, r, p }) <= MAX_SCRYPT_MEMORY
}

/** OpenSSL's own estimate of scrypt's memory: 128·r·p for B plus 128·r·(N+2) for V. */
function scryptMemory({ ln, r, p }: ScryptParams): number {
  return 128 * r * p + 128 * r * (2 ** ln + 2)
}

function deriveKey(password: string, salt: Buffer, length: number, params: ScryptParams): Promise<Buffer> {
  // Node's default maxmem is 32 MiB; N=2^17, r=8 needs 128 MiB, so the limit follows the params.
  const options = {
    N: 2 ** params.ln,
    r: params.r,
    p: params.p,
    maxmem: scryptMemory(params) + 1024 * 1024,
  }
  // On threads of their own at a lower priority than the request loop (scrypt-pool.ts says why).
  return scryptPool.derive(password, salt, length, options)
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '')
}

/** Code points in `s`, counting no further than just past `max` (inputs may be megabytes). */
function codePointLength(s: string, max: number): number {
  if (s.length <= max) return s.length // each code point is one or two UTF-16 units
  let n = 0
  for (const _ of s) if (++n > max) break
  return n
}
