import { decodeSpans, KEEP_MS, type OutageSpan } from './outage-spans.js'
import type { RedisCommands } from './redis-commands.js'
import type { RedisClient } from './redis-connection.js'
import { OUTAGES_KEY } from './redis-records.js'

/** However often the store flaps, across however many instances: the newest this many spans. */
const MAX_SAVED = 64

/**
 * Every instance's outage spans in one sorted set (`start,end`, scored by end), for the grace
 * window (outage-spans.ts): one member per span; old ones trimmed and the key given a TTL in the
 * same round trip, so it stays small and never outlives what it holds.
 */
export async function saveOutage(client: RedisClient, commands: RedisCommands, span: OutageSpan, now: number): Promise<void> {
  const [start, end] = span
  await commands.run(
    () =>
      client
        .multi()
        .zadd(OUTAGES_KEY, end, `${Math.floor(start)},${Math.ceil(end)}`)
        .zremrangebyscore(OUTAGES_KEY, '-inf', now - KEEP_MS)
        .zremrangebyrank(OUTAGES_KEY, 0, -(MAX_SAVED + 1))
        .pexpire(OUTAGES_KEY, KEEP_MS)
        .exec(),
    () => true,
  )
}

/** The spans any instance saved that can still matter at `now`. */
export async function loadOutages(client: RedisClient, commands: RedisCommands, now: number): Promise<OutageSpan[]> {
  return decodeSpans(await commands.run(() => client.zrangebyscore(OUTAGES_KEY, now - KEEP_MS, '+inf')))
}
