import { createRequire } from 'node:module'

/**
 * The ioredis versions whose internals baton's three hooks were read against: redis-auth.ts (the
 * connect handshake's AUTH callback), redis-socket-timeout.ts (the socketTimeout timer) and
 * redis-stream-errors.ts (the connector's connect). On any other version the hooks do nothing,
 * and test/store/redis-auth.test.ts fails naming the version, so an upgrade re-reads them
 * instead of trusting them blindly.
 */
export const VERIFIED_IOREDIS_VERSIONS: readonly string[] = ['5.9.2']

/** The installed ioredis's version (from its package.json, beside its entry point's folder). */
export function installedIoredisVersion(): string | null {
  try {
    const entry = createRequire(import.meta.url).resolve('ioredis')
    const pkg = createRequire(entry)('../package.json') as { name?: unknown; version?: unknown }
    return pkg.name === 'ioredis' && typeof pkg.version === 'string' ? pkg.version : null
  } catch {
    return null
  }
}

/** Whether the installed ioredis is one of {@link VERIFIED_IOREDIS_VERSIONS}. */
export const IOREDIS_VERIFIED = VERIFIED_IOREDIS_VERSIONS.includes(installedIoredisVersion() ?? '')
