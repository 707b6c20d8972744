import { describeCorrections, lintRedisURL, parseRedisURL, type RedisURLParts } from '../../redis-url.js'
import { defineCheck, stop } from '../check.js'
import type { BaseContext, TargetKnown } from '../context.js'
import { DOWN } from '../describe.js'

/** Phase `config`: the URL itself, read through the same lint as `baton serve` (SPEC §5). */

export const url = defineCheck({
  name: 'url',
  phase: 'config',
  async run(ctx: BaseContext) {
    const raw = ctx.rawURL
    if (raw === undefined) {
      stop({
        message: 'No Redis URL: REDIS_URL is not set and --redis-url was not given.',
        meaning:
          'Without REDIS_URL baton keeps sessions in its embedded store, which needs no diagnosis; doctor checks a Redis connection.',
        fix: 'Run with REDIS_URL=redis://host:6379 (or --redis-url) to check the Redis baton should use.',
      })
    }
    const lint = lintRedisURL(raw)
    if (lint.kind === 'error') {
      stop({
        message: `The Redis URL ${lint.problem}`,
        meaning: `baton refuses to start with this URL (exit code 78). ${DOWN}`,
        fix: lint.fix,
      })
    }
    const parts = parseRedisURL(lint.url)
    const learned: TargetKnown = { target: { parts, maskedURL: lint.maskedURL, hostPort: hostPortOf(parts) } }
    const what = `${parts.tls ? 'TLS' : 'plain TCP, no TLS'}, db ${parts.db}${parts.hasPassword ? ', with a password' : ''}`
    if (lint.findings.length === 0) {
      return {
        verdict: {
          status: 'ok',
          message: `${lint.maskedURL} is a valid Redis URL (${what}).`,
          meaning: 'baton reads this URL as written.',
        },
        learned,
      }
    }
    // SPEC §5: one warning that shows the corrected form.
    return {
      verdict: {
        status: 'warn',
        message: `The Redis URL was corrected (${describeCorrections(lint.findings)}): using ${lint.maskedURL} (${what}).`,
        meaning: 'baton applies the same corrections at start and logs this warning once; it works.',
        fix: lint.findings[0]?.fix ?? '',
      },
      learned,
    }
  },
})

function hostPortOf(p: RedisURLParts): string {
  return `${p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port}`
}
