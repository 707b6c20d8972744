import type { Logger } from 'pino'
import type { Config } from './config.js'
import type { GuardedStore } from './store/guard.js'
import type { KeySet } from './tokens/keys.js'

/**
 * SPEC §7 start-up self-checks, logged once each, loud where it matters: the store is reachable
 * (with its latency), and for Redis the findings `baton doctor` would print as warnings or
 * failures (eviction policy that can drop live sessions, no persistence, a replica, no
 * scripting…), each one line with the masked URL. Never throws: the service runs either way.
 */
export async function runStartupChecks(config: Config, store: GuardedStore, keys: KeySet, log: Logger): Promise<void> {
  try {
    const ms = await store.check()
    log.info({ check: 'store', store: store.kind, latency_ms: Math.round(ms * 100) / 100 }, `session store reachable (${store.kind})`)
  } catch {
    log.error(
      { check: 'store', store: store.kind },
      'session store NOT reachable at start: login, refresh and logout answer 503 until it is',
    )
  }

  if (keys.devKeyFile === null && keys.algorithm === 'RS256') {
    const bits = keys.jwks.keys[0]?.n === undefined ? 0 : Buffer.from(keys.jwks.keys[0].n, 'base64url').length * 8
    if (bits < 2048) log.warn({ check: 'key', bits }, 'RS256 key is shorter than 2048 bits')
  }

  const redis = config.redis
  if (config.store !== 'redis' || redis === null || redis.sentinel !== null) return
  const { runDoctor } = await import('./doctor/checks.js')
  const report = await runDoctor({
    url: redis.url,
    timeoutMs: Math.max(config.storeTimeoutMs, 1000),
    // The CA that config read from REDIS_TLS_CA_FILE, as the store got it.
    tlsCA: redis.tlsCA ?? undefined,
    clusterConfigured: redis.cluster !== null,
    storeTimeoutMs: config.storeTimeoutMs,
  }).catch(() => null)
  if (report === null) return
  for (const f of report.findings) {
    if (f.status === 'warn' || f.status === 'fail') {
      log[f.status === 'fail' ? 'error' : 'warn'](
        { check: `redis.${f.check}`, url: report.url, meaning: f.meaning, fix: f.fix },
        `Redis self-check ${f.check}: ${f.message}`,
      )
    }
  }
}
