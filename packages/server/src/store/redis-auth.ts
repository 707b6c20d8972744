import type { Redis } from 'ioredis'
import { IOREDIS_VERIFIED } from './redis-pinned.js'

export { installedIoredisVersion, VERIFIED_IOREDIS_VERSIONS } from './redis-pinned.js'

/**
 * Why a hook and not an option: ioredis 5 has no setting for this. Its connection handshake
 * (`connectHandler` in built/redis/event_handler.js) sends AUTH with a callback and, on these two
 * answers, calls `console.warn` itself; the only other ways around it (leaving the password out
 * and sending AUTH from a `connect` listener, or silencing `console.warn`) would reimplement the
 * handshake (Cluster's slot refresh connections need the password too) or hide every other
 * library's warnings. So the hook wraps one public method (`auth`) of one client, and only on the
 * ioredis versions whose handshake was read for it (redis-pinned.ts): on any other it does
 * nothing (the raw line comes back, and test/store/redis-auth.test.ts fails, naming the version).
 */

/**
 * Redis's answer to AUTH when the URL has a password and the server has none: Redis 6 and
 * later name the `default` user, Redis 5 and older say "no password is set". ioredis goes on
 * with the connection (it works without a password), but first prints a raw
 * `[WARN] … does not require a password, but a password was supplied` with `console.warn`,
 * outside the JSON log, on every connect.
 */
const PASSWORD_NOT_REQUIRED = /without any password configured for the default user|no password is set/

type Callback = (err: Error | null | undefined, result?: unknown) => void
type Command = (...args: unknown[]) => Promise<unknown>

/**
 * Keeps ioredis from printing that line for `client`. Its connection hand-shake sends AUTH with
 * a callback; this answer reaches that callback as a success, which is what ioredis does itself
 * after printing. Every other AUTH answer, and AUTH sent as a command, go through unchanged.
 * Connections that `client.duplicate()` makes (Cluster's slot refresh) are covered too. baton
 * reports the situation itself: the start-up self-check (doctor's auth check) logs one warning;
 * `onQuieted` hears each occurrence (the Redis store warns once with Sentinel, which that check
 * does not reach). Answers whether it could (see {@link VERIFIED_IOREDIS_VERSIONS}).
 */
export function quietPasswordNotRequired(client: Redis, onQuieted: () => void = () => {}): boolean {
  if (!IOREDIS_VERIFIED) return false
  const target = client as unknown as { auth: Command; duplicate: (...args: unknown[]) => Redis }
  const auth = target.auth.bind(client)
  target.auth = (...args) => {
    const callback = args.at(-1)
    if (typeof callback !== 'function') return auth(...args)
    const answer: Callback = (err, result) => {
      if (err instanceof Error && PASSWORD_NOT_REQUIRED.test(err.message)) {
        onQuieted()
        ;(callback as Callback)(null, 'OK')
      } else (callback as Callback)(err, result)
    }
    return auth(...args.slice(0, -1), answer)
  }
  const duplicate = target.duplicate.bind(client)
  target.duplicate = (...args) => {
    const copy = duplicate(...args)
    quietPasswordNotRequired(copy, onQuieted)
    return copy
  }
  return true
}
