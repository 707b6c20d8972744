import { MAX_GRACE_CREDIT_MS } from './outage-spans.js'

/**
 * The Lua scripts of the Redis store. Each one touches a single key, so it runs in one Cluster
 * slot, and each store operation that needs one is exactly one `EVALSHA` round trip (ioredis
 * `defineCommand` sends `EVAL` the first time on a connection and again after `NOSCRIPT`).
 *
 * The session hash uses short field names, so a session stays in Redis's compact listpack
 * encoding; `redis.ts` owns the mapping to `SessionRecord`:
 *
 * | field | meaning | | field | meaning |
 * |---|---|---|---|---|
 * | `u` | user id | | `ca` | created at (ms since the epoch) |
 * | `c` | current jti | | `lu` | last used at |
 * | `g` | generation | | `e` | expires at |
 * | `ci` | current issued at | | `ae` | absolute expiry |
 * | `p` | previous jti | | `r` | revoked at (absent: live) |
 * | `pu` | previous jti accepted until | | `ip` | client address |
 * | `n` | next jti (absent: none chosen) | | `a0`…`a7` | user agent, in pieces of at most 64 bytes |
 *
 * Every time but `ca` is stored as milliseconds after `ca`: listpack stores an integer in the
 * fewest bytes that hold it, so an offset (under 2^31 for 24 days, 2^39 beyond) takes 5–6 bytes
 * where a 13-digit epoch time takes 9. With six times per session that is ~24 bytes, which moves
 * a typical session from jemalloc's 312-byte class to the 280-byte one (issue 5: under 400
 * bytes per session with the user index). Offsets may be negative (an app server whose clock
 * is behind the one that created the session); listpack and `%d` handle that.
 *
 * Times are milliseconds passed in by the caller, never Redis's clock: the app's injected clock
 * decides validity, and key TTLs are set relative (`PEXPIRE expiresAt - now + margin`) so a skew
 * between the app's clock and Redis's never deletes a live record early. Lua numbers are
 * doubles, exact for millisecond timestamps; `%d` formatting keeps them out of exponent form.
 *
 * Scripts that answer a session answer `HMGET` of {@link RECORD_FIELDS} (values only, in that
 * order): half the bytes of `HGETALL` to encode, send and parse on every refresh.
 */

/** The fields a session answer carries, in order; `redis.ts` reads them by position. */
// prettier-ignore
export const RECORD_FIELDS = [
  'u', 'c', 'g', 'ca', 'ci', 'lu', 'e', 'ae', 'p', 'pu', 'r', 'ip', 'n',
  'a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7',
] as const

const READ_RECORD = `redis.call('HMGET', k, ${RECORD_FIELDS.map((f) => `'${f}'`).join(', ')})`

/**
 * Replaces the session hash. KEYS[1] session; ARGV: ttlMs, then field/value pairs (times
 * already as offsets from `ca`). The record is written whole (HSET of every field) so a
 * half-written session cannot exist.
 */
export const CREATE_SESSION_LUA = `
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`

/**
 * SPEC §3.2 in one atomic step, the rules of `decideRotation` (store/rotation.ts). KEYS[1]
 * session; ARGV: jti, newJti, now, graceMs, refreshLifetimeMs, marginMs, presented generation
 * (0: unknown), spareJti ('': none), outage spans (`start,end;…`, '': none). Answers `{kind}`
 * or `{kind, record}`. The token `n` names at generation `g` + 1 is the successor of a rotation
 * this Redis lost (a failover to an asynchronous replica): it rotates like the current one. Any
 * other later generation is `not_found`. The previous token's grace window does not run during
 * the outage spans, capped as `graceCredit` (store/outage-spans.ts) caps it.
 */
export const ROTATE_LUA = rotateScript('ARGV[9]')

/** The rotation script, reading its outage spans from `spans` (a Lua expression). */
function rotateScript(spans: string): string {
  return `
local k = KEYS[1]
local jti, newJti = ARGV[1], ARGV[2]
local now = tonumber(ARGV[3])
local gen = tonumber(ARGV[7]) or 0
local f = redis.call('HMGET', k, 'e', 'r', 'c', 'p', 'pu', 'ae', 'g', 'ca', 'n')
if not f[1] or not f[8] then return {'not_found'} end
local base = tonumber(f[8])
local at = string.format('%d', now - base)
if now >= base + tonumber(f[1]) then return {'not_found'} end
if f[2] then return {'revoked'} end
local stored = tonumber(f[7])
local lost = f[9] and jti == f[9] and gen == stored + 1
if jti == f[3] or lost then
  local issued = f[9]
  if lost or not issued then issued = ARGV[8] ~= '' and ARGV[8] or newJti end
  local expires = math.min(now + tonumber(ARGV[5]), base + tonumber(f[6]))
  redis.call('HSET', k, 'p', jti, 'pu', string.format('%d', now + tonumber(ARGV[4]) - base),
    'c', issued, 'ci', at, 'lu', at, 'e', string.format('%d', expires - base),
    'g', string.format('%d', stored + (lost and 2 or 1)))
  if issued == newJti then redis.call('HDEL', k, 'n') else redis.call('HSET', k, 'n', newJti) end
  redis.call('PEXPIRE', k, string.format('%d', expires - now + tonumber(ARGV[6])))
  return {'rotated', ${READ_RECORD}}
end
if f[4] and jti == f[4] then
  local deadline = base + tonumber(f[5])
  local credit, from, spans = 0, deadline - tonumber(ARGV[4]), ${spans} or ''
  for s, e in string.gmatch(spans, '(%d+),(%d+)') do
    local overlap = math.min(tonumber(e), now) - math.max(tonumber(s), from)
    if overlap > 0 then credit = credit + overlap end
  end
  if now - math.min(credit, ${MAX_GRACE_CREDIT_MS}) < deadline then
    redis.call('HSET', k, 'lu', at)
    return {'grace', ${READ_RECORD}}
  end
end
if gen > stored then return {'not_found'} end
redis.call('HSET', k, 'r', at)
return {'reused', ${READ_RECORD}}
`
}

/**
 * SPEC §9 cut-over: ROTATE_LUA over a record created first when missing, in the same script (so
 * racing exchanges of one legacy token start one session). KEYS[1] session; ARGV 1–8 as
 * ROTATE_LUA (jti = the legacy jti, generation 0); ARGV[9] the new record's TTL; ARGV[10] the
 * refresh lifetime a new record rotates with (it outlives the legacy token); ARGV[11…] the new
 * record's field/value pairs (generation 0, current = the legacy jti, next = generation 1's).
 */
export const MIGRATE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 11))
  redis.call('PEXPIRE', KEYS[1], ARGV[9])
  ARGV[5] = ARGV[10]
end
${rotateScript("''")}`

/** Rotation off (SPEC §3.3). KEYS[1] session; ARGV: jti, now. */
export const TOUCH_LUA = `
local k = KEYS[1]
local now = tonumber(ARGV[2])
local f = redis.call('HMGET', k, 'e', 'r', 'c', 'ca')
if not f[1] or not f[4] then return {'not_found'} end
local base = tonumber(f[4])
if now >= base + tonumber(f[1]) then return {'not_found'} end
if f[2] then return {'revoked'} end
if ARGV[1] ~= f[3] then return {'not_found'} end
redis.call('HSET', k, 'lu', string.format('%d', now - base))
return {'touched', ${READ_RECORD}}
`

/**
 * Marks a live, unrevoked session revoked and keeps it until its expiry (so its tokens answer
 * `token_revoked`, not `token_not_valid`). KEYS[1] session; ARGV: now. Answers 1 when this
 * call revoked it, 0 otherwise.
 */
export const REVOKE_LUA = `
local k = KEYS[1]
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', k, 'e', 'r', 'ca')
if not f[1] or not f[3] or f[2] then return 0 end
local base = tonumber(f[3])
if now >= base + tonumber(f[1]) then return 0 end
redis.call('HSET', k, 'r', string.format('%d', now - base))
return 1
`

/**
 * Adds a session to its user's index (a sorted set scored by the session's absolute expiry,
 * which rotation never changes, so rotation never has to touch this key in another slot),
 * drops entries past their absolute expiry, and makes the key live as long as its longest
 * entry. KEYS[1] index; ARGV: sid, absoluteExpiresAt, now, marginMs.
 */
export const INDEX_ADD_LUA = `
local k = KEYS[1]
local now = tonumber(ARGV[3])
redis.call('ZADD', k, ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', k, '-inf', ARGV[3])
local last = redis.call('ZRANGE', k, -1, -1, 'WITHSCORES')
if not last[2] then return 0 end
redis.call('PEXPIRE', k, string.format('%d', tonumber(last[2]) - now + tonumber(ARGV[4])))
return 1
`

/**
 * A logout-all's mark in a Cluster (redis-user-marks.ts): "sessions created at or before ARGV[1]
 * are revoked", kept for ARGV[2] ms. Never moves back (instances with skewed clocks).
 * KEYS[1] mark; ARGV: now, ttlMs.
 */
export const USER_MARK_LUA = `
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1
`

/**
 * Fixed-window counter. KEYS[1] counter; ARGV: now, windowMs, marginMs.
 * Answers `{count, resetAt}`.
 */
export const INCREMENT_COUNTER_LUA = `
local k = KEYS[1]
local now = tonumber(ARGV[1])
local r = redis.call('HGET', k, 'r')
if r and now < tonumber(r) then
  return {redis.call('HINCRBY', k, 'n', 1), tonumber(r)}
end
local resetAt = now + tonumber(ARGV[2])
redis.call('DEL', k)
redis.call('HSET', k, 'n', 1, 'r', string.format('%d', resetAt))
redis.call('PEXPIRE', k, string.format('%d', tonumber(ARGV[2]) + tonumber(ARGV[3])))
return {1, resetAt}
`

/**
 * Takes back one count of the window that ends at ARGV[1] (a login's reservation, issue 11).
 * KEYS[1] counter. Another window, a missing counter or a count of 0 is left as it is.
 */
export const RELEASE_COUNTER_LUA = `
local k = KEYS[1]
local r = redis.call('HGET', k, 'r')
if not r or tonumber(r) ~= tonumber(ARGV[1]) then return 0 end
local n = tonumber(redis.call('HGET', k, 'n'))
if not n or n <= 0 then return 0 end
redis.call('HINCRBY', k, 'n', -1)
return 1
`
