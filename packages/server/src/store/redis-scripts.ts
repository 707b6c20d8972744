/**
 * The Lua scripts of the Redis store. Each one touches a single key, so it runs in one Cluster
 * slot, and each store operation that needs one is exactly one `EVALSHA` round trip (ioredis
 * `defineCommand` sends `EVAL` the first time on a connection and again after `NOSCRIPT`).
 *
 * The session hash uses short field names, so a session stays in Redis's compact listpack
 * encoding (a few hundred bytes); `redis.ts` owns the mapping to `SessionRecord`:
 *
 * | field | meaning | | field | meaning |
 * |---|---|---|---|---|
 * | `u` | user id | | `ca` | created at |
 * | `c` | current jti | | `lu` | last used at |
 * | `g` | generation | | `e` | expires at |
 * | `ci` | current issued at | | `ae` | absolute expiry |
 * | `p` | previous jti | | `r` | revoked at (absent: live) |
 * | `pu` | previous jti accepted until | | `ip` | client address |
 * | `a0`…`a7` | user agent, in pieces of at most 64 bytes | | | |
 *
 * Times are milliseconds passed in by the caller, never Redis's clock: the app's injected clock
 * decides validity, and key TTLs are set relative (`PEXPIRE expiresAt - now + margin`) so a skew
 * between the app's clock and Redis's never deletes a live record early. Lua numbers are
 * doubles, exact for millisecond timestamps; `%d` formatting keeps them out of exponent form.
 */

/**
 * Replaces the session hash. KEYS[1] session; ARGV: ttlMs, then field/value pairs.
 * The record is written whole (HSET of every field) so a half-written session cannot exist.
 */
export const CREATE_SESSION_LUA = `
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`

/**
 * SPEC §3.2 in one atomic step. KEYS[1] session; ARGV: jti, newJti, now, graceMs,
 * refreshLifetimeMs, marginMs, presented generation (0: unknown). Answers `{kind}` or
 * `{kind, HGETALL}`. A generation above the stored one is a rotation this Redis lost (a
 * failover to an asynchronous replica): that token rotates like the current one.
 */
export const ROTATE_LUA = `
local k = KEYS[1]
local jti, newJti = ARGV[1], ARGV[2]
local now = tonumber(ARGV[3])
local gen = tonumber(ARGV[7]) or 0
local f = redis.call('HMGET', k, 'e', 'r', 'c', 'p', 'pu', 'ae', 'g')
if not f[1] or now >= tonumber(f[1]) then return {'not_found'} end
if f[2] then return {'revoked'} end
local stored = tonumber(f[7])
if jti == f[3] or gen > stored then
  local expires = math.min(now + tonumber(ARGV[5]), tonumber(f[6]))
  redis.call('HSET', k, 'p', jti, 'pu', string.format('%d', now + tonumber(ARGV[4])),
    'c', newJti, 'ci', ARGV[3], 'lu', ARGV[3], 'e', string.format('%d', expires),
    'g', string.format('%d', math.max(stored, gen) + 1))
  redis.call('PEXPIRE', k, string.format('%d', expires - now + tonumber(ARGV[6])))
  return {'rotated', redis.call('HGETALL', k)}
end
if f[4] and jti == f[4] and now < tonumber(f[5]) then
  redis.call('HSET', k, 'lu', ARGV[3])
  return {'grace', redis.call('HGETALL', k)}
end
redis.call('HSET', k, 'r', ARGV[3])
return {'reused', redis.call('HGETALL', k)}
`

/** Rotation off (SPEC §3.3). KEYS[1] session; ARGV: jti, now. */
export const TOUCH_LUA = `
local k = KEYS[1]
local now = tonumber(ARGV[2])
local f = redis.call('HMGET', k, 'e', 'r', 'c')
if not f[1] or now >= tonumber(f[1]) then return {'not_found'} end
if f[2] then return {'revoked'} end
if ARGV[1] ~= f[3] then return {'not_found'} end
redis.call('HSET', k, 'lu', ARGV[2])
return {'touched', redis.call('HGETALL', k)}
`

/**
 * Marks a live, unrevoked session revoked and keeps it until its expiry (so its tokens answer
 * `token_revoked`, not `token_not_valid`). KEYS[1] session; ARGV: now. Answers 1 when this
 * call revoked it, 0 otherwise.
 */
export const REVOKE_LUA = `
local k = KEYS[1]
local f = redis.call('HMGET', k, 'e', 'r')
if not f[1] or tonumber(ARGV[1]) >= tonumber(f[1]) or f[2] then return 0 end
redis.call('HSET', k, 'r', ARGV[1])
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
