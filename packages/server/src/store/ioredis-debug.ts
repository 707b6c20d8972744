import { createRequire } from 'node:module'

/**
 * ioredis writes its debug output through the `debug` package when `DEBUG` names it
 * (`DEBUG=ioredis:*`, `DEBUG=*`), and that output prints every command's arguments: `AUTH`
 * with the Redis password in clear, and our session ids. baton's own debug logs are
 * `LOG_LEVEL=debug`; ioredis's are kept off. Filtering (rather than refusing to start) keeps
 * `DEBUG=*` usable for every other library.
 *
 * This patches nothing in ioredis: ioredis documents its debug output as the `debug` package's
 * (`DEBUG=ioredis:*`, in its README), and `debug.enable()`/`debug.disable()` are that package's
 * documented way to change the enabled namespaces at run time. The one thing assumed is the
 * package boundary, not internals: the `debug` module ioredis itself resolves (a dependency in
 * its package.json, possibly nested under it), which is why it is resolved from ioredis's entry.
 */

/** ioredis's debug namespaces (`ioredis:redis`, `ioredis:connection`, `ioredis:cluster`, ...). */
export const IOREDIS_NAMESPACES = 'ioredis:*'

/** What `baton` prints once when it turned ioredis's debug output off. */
export const IOREDIS_DEBUG_WARNING =
  'baton: DEBUG turns on ioredis debug output, which prints the Redis password (AUTH) in clear; ' +
  "ioredis:* is left off. Use LOG_LEVEL=debug for baton's own debug logs.\n"

interface DebugModule {
  enabled(namespace: string): boolean
  enable(namespaces: string): void
  disable(): string
}

const PROBES = ['ioredis:redis', 'ioredis:connection', 'ioredis:cluster', 'ioredis:SentinelConnector', 'ioredis:dataHandler']

/**
 * Turns ioredis's debug namespaces off in the `debug` instance ioredis uses, keeping every other
 * namespace `DEBUG` enabled; answers whether it had to. Works whether or not ioredis is loaded
 * yet (`debug` checks its namespaces on every call). Call it before any Redis connection opens.
 */
export function silenceIoredisDebug(): boolean {
  const debug = loadIoredisDebug()
  if (debug === null || !PROBES.some((ns) => debug.enabled(ns))) return false
  const current = debug.disable()
  // `debug` also writes this back to process.env.DEBUG, so worker processes inherit it.
  debug.enable(`${current},-${IOREDIS_NAMESPACES}`)
  return true
}

function loadIoredisDebug(): DebugModule | null {
  try {
    // The copy of `debug` that ioredis itself resolves (it may be nested under ioredis).
    const fromHere = createRequire(import.meta.url)
    const ioredisEntry = fromHere.resolve('ioredis')
    const mod = createRequire(ioredisEntry)('debug') as DebugModule | { default: DebugModule }
    return 'enabled' in mod ? mod : mod.default
  } catch {
    return null
  }
}
