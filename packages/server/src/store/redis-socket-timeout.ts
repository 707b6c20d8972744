import type { Redis } from 'ioredis'
import { IOREDIS_VERIFIED } from './redis-pinned.js'

/**
 * Works around an ioredis 5 bug (redis/ioredis#2147, fixed by #2148 in ioredis 6): the
 * `socketTimeout` timer lives on the client, not on the socket it watches, and only data on that
 * socket clears it. A socket that closes with a command waiting (a reset, a killed server) leaves
 * the timer running, and when it fires it destroys whatever socket the client has by then: the
 * healthy reconnected one, about `socketTimeout` after the first failure, which is a second
 * outage of its own (seen here: ready, reset, ready, "Socket timeout", ready).
 *
 * ioredis offers no way to reach that timer, so this clears it on `close` (what the upstream fix
 * does in its close handler), on the verified versions only (redis-pinned.ts). Drop it with the
 * move to ioredis 6. Answers whether it could.
 */
export function clearSocketTimeoutOnClose(client: Redis): boolean {
  if (!IOREDIS_VERIFIED) return false
  const internal = client as unknown as { socketTimeoutTimer?: NodeJS.Timeout | undefined }
  client.on('close', () => {
    if (internal.socketTimeoutTimer === undefined) return
    clearTimeout(internal.socketTimeoutTimer)
    internal.socketTimeoutTimer = undefined
  })
  return true
}
