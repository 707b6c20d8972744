import { RECORD_FIELDS } from './redis-scripts.js'
import type { SessionRecord } from './types.js'

/**
 * How a session lives in Redis: its keys and the hash fields the scripts in redis-scripts.ts
 * read and write (that file's table names them). The store (redis.ts) only moves these values.
 *
 * The session hash's key names its format: the hash of `baton:{<sid>}:session` (before
 * 2026-11-27) held epoch times where this one holds offsets from `ca`, and read as offsets they
 * would put the absolute lifetime decades away. A record in another format is simply not found
 * (the user logs in again), never misread. The next jti `n` (lost-rotation recovery) is an
 * addition, not a new format: a v2 hash without it reads as "no successor chosen" and gets one
 * at its next rotation, and an earlier baton ignores it (a stale `n` it leaves is never in any
 * token, so it names nothing).
 */

export const sessionKey = (id: string): string => `baton:{${id}}:session:v2`
/** The user's index of session ids (a sorted set scored by absolute expiry). */
export const userKey = (userId: string): string => `baton:user:{${userId}}`
export const counterKey = (key: string): string => `baton:rl:{${key}}`
/** Every instance's outage spans (outage-spans.ts): a sorted set of `start,end`, scored by end. */
export const OUTAGES_KEY = 'baton:outages'
/** Deleted (never written) by `ping()` to check a node accepts writes again. */
export const PROBE_KEY = 'baton:probe'

/** Keys live this long past the expiry they carry: room for clock skew between app servers. */
export const TTL_MARGIN_MS = 10_000
/** A hash value over 64 bytes (default `hash-max-listpack-value`) makes the hash ~2x larger. */
const UA_PIECE_BYTES = 64
/** User agents are attacker-chosen: 8 pieces (512 bytes) bound a session's size. */
const UA_MAX_PIECES = 8

/** `HMGET key ...RECORD_FIELDS`: one value (or nil) per field, in that order. */
export type RecordValues = (string | null)[]
/** Where the user agent's pieces (`a0`…`a7`) start in {@link RecordValues}. */
const UA_FIRST = RECORD_FIELDS.indexOf('a0')

/** What a new session hash is made of. */
export interface NewRecordFields {
  userId: string
  jti: string
  nextJti?: string | undefined
  generation: number
  now: number
  expiresAt: number
  absoluteExpiresAt: number
  ip: string | null
  userAgent: string | null
}

/**
 * The field/value pairs of a new session hash. Times after `ca` are offsets from it
 * (redis-scripts.ts says why); the user agent is already bounded.
 */
export function recordFields(r: NewRecordFields): string[] {
  // prettier-ignore
  const fields = [
    'u', r.userId,
    'c', r.jti,
    'g', String(r.generation),
    'ca', String(r.now),
    'ci', '0',
    'lu', '0',
    'e', String(r.expiresAt - r.now),
    'ae', String(r.absoluteExpiresAt - r.now),
  ]
  if (r.nextJti !== undefined) fields.push('n', r.nextJti)
  if (r.ip !== null) fields.push('ip', r.ip)
  if (r.userAgent !== null) splitUserAgent(r.userAgent).forEach((piece, i) => fields.push(`a${i}`, piece))
  return fields
}

/** The user agent as it will be stored: at most 8 pieces of 64 bytes, cut at code points. */
export function boundUserAgent(ua: string): string {
  return splitUserAgent(ua).join('')
}

/** Splits at code point boundaries into pieces of at most 64 UTF-8 bytes, at most 8 pieces. */
function splitUserAgent(ua: string): string[] {
  if (ua === '') return ['']
  const pieces: string[] = []
  let piece = ''
  let bytes = 0
  for (const ch of ua) {
    const size = Buffer.byteLength(ch)
    if (bytes + size > UA_PIECE_BYTES) {
      pieces.push(piece)
      if (pieces.length === UA_MAX_PIECES) return pieces
      piece = ''
      bytes = 0
    }
    piece += ch
    bytes += size
  }
  pieces.push(piece)
  return pieces
}

/**
 * The record from `HMGET` of {@link RECORD_FIELDS}; `null` when it is missing or malformed
 * (both mean "not valid"). Times other than `ca` are stored as offsets from it.
 */
export function toRecord(id: string, values: RecordValues): SessionRecord | null {
  const [u, c, g, ca, ci, lu, e, ae, p, pu, r, ip, n] = values
  if (u == null || c == null || g == null || ca == null || ci == null || lu == null || e == null || ae == null) {
    return null
  }
  const base = Number(ca)
  let userAgent: string | null = null
  for (let i = UA_FIRST; i < values.length; i++) {
    const piece = values[i]
    if (piece == null) break
    userAgent = (userAgent ?? '') + piece
  }
  return {
    id,
    userId: u,
    currentJti: c,
    generation: Number(g),
    currentIssuedAt: base + Number(ci),
    nextJti: n ?? null,
    previousJti: p ?? null,
    graceUntil: pu == null ? null : base + Number(pu),
    createdAt: base,
    lastUsedAt: base + Number(lu),
    expiresAt: base + Number(e),
    absoluteExpiresAt: base + Number(ae),
    revokedAt: r == null ? null : base + Number(r),
    userAgent,
    ip: ip ?? null,
  }
}
