import { performance } from 'node:perf_hooks'
import { defineCheck, report, type Nothing, type Outcome, type Verdict } from '../check.js'
import type { BaseContext } from '../context.js'
import { DOWN, describeReply, formatBytes, round } from '../describe.js'
import { RespErrorReply } from '../resp.js'
import type { Speaking } from './session.js'

/** Phase `server`: how fast the server answers, what it is, and the settings that matter to baton. */

/** What `server` learns: INFO's fields, or `null` when INFO is not available. */
export interface InfoKnown {
  readonly info: ReadonlyMap<string, string> | null
}

export const latency = defineCheck({
  name: 'latency',
  phase: 'server',
  async run(ctx: BaseContext & Speaking) {
    const samples: number[] = []
    for (let i = 0; i < 5; i++) {
      const start = performance.now()
      const reply = await ctx.session.command(['PING'])
      if (reply instanceof RespErrorReply) {
        return report({
          status: 'warn',
          message: `PING after AUTH answered ${describeReply(reply)}.`,
          meaning: "baton's health checks use PING; /readyz may report the store as down.",
          fix: "Allow PING for baton's user (ACL +ping).",
        })
      }
      samples.push(performance.now() - start)
    }
    samples.sort((a, b) => a - b)
    const median = round(samples[2] ?? 0)
    const max = round(samples[4] ?? 0)
    const storeTimeout = ctx.settings.storeTimeoutMs
    const message = `PING round trip ${median} ms (median of 5, max ${max} ms).`
    if (median >= storeTimeout) {
      return report({
        status: 'fail',
        message,
        meaning: `A round trip is slower than baton's store timeout (${storeTimeout} ms): every store operation would time out and answer 503.`,
        fix: 'Run baton close to Redis (same region or network), or raise STORE_TIMEOUT_MS.',
        ms: median,
      })
    }
    if (median >= 100) {
      return report({
        status: 'warn',
        message,
        meaning: `Every login and refresh waits one round trip; at this latency they are slow (store timeout ${storeTimeout} ms).`,
        fix: 'Run baton close to Redis (same region or network).',
        ms: median,
      })
    }
    return report({ status: 'ok', message, meaning: 'Each refresh costs one round trip of about this much.', ms: median })
  },
})

/** INFO's text as fields (`role` → `master`); section headers and blank lines left out. */
function parseInfo(text: string): Map<string, string> {
  const info = new Map<string, string>()
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon > 0 && !line.startsWith('#')) info.set(line.slice(0, colon), line.slice(colon + 1).trim())
  }
  return info
}

/** What the server's version and role mean for baton. */
function serverVerdict(info: ReadonlyMap<string, string>): Verdict {
  const version = info.get('redis_version') ?? 'unknown version'
  const role = info.get('role') ?? 'unknown'
  if (role === 'slave' || role === 'replica') {
    const master = info.get('master_host')
    const masterPort = info.get('master_port')
    return {
      status: 'fail',
      message: `Redis ${version} is a replica${master !== undefined ? ` of ${master}:${masterPort ?? '?'}` : ''} (role ${role}).`,
      meaning: `baton writes on every login, refresh and logout; a replica refuses writes (READONLY) or loses them. ${DOWN}`,
      fix: 'Point REDIS_URL at the primary (after a failover the old primary becomes a replica; with Sentinel, use REDIS_SENTINELS).',
    }
  }
  const major = Number(version.split('.')[0])
  if (Number.isFinite(major) && major > 0 && major < 6) {
    return {
      status: 'warn',
      message: `Redis ${version}, role ${role}: older than 6.`,
      meaning: 'baton works with it, but it has no ACL users and is out of support.',
      fix: 'Upgrade to Redis 6.2 or later.',
    }
  }
  return { status: 'ok', message: `Redis ${version}, role ${role}.`, meaning: 'baton can write here.' }
}

export const server = defineCheck({
  name: 'server',
  phase: 'server',
  async run(ctx: Speaking): Promise<Outcome<InfoKnown>> {
    const reply = await ctx.session.command(['INFO'])
    if (typeof reply !== 'string') {
      return {
        verdict: {
          status: 'warn',
          message: `INFO is not available: ${describeReply(reply)}.`,
          meaning: 'Doctor cannot read the role, eviction policy or persistence; the write and scripting checks still run.',
          fix: "Allow INFO for this user (ACL +info) to let doctor and baton's start-up checks see the settings.",
        },
        learned: { info: null },
      }
    }
    const info = parseInfo(reply)
    return { verdict: serverVerdict(info), learned: { info } }
  },
})

/** The `skip` of a check that reads INFO when there is none. */
function unknown(what: string): Outcome<Nothing> {
  return report({ status: 'skip', message: `skipped: INFO is not available, so the ${what} cannot be read.`, meaning: 'Not checked.' })
}

export const eviction = defineCheck({
  name: 'eviction',
  phase: 'server',
  async run(ctx: InfoKnown) {
    if (ctx.info === null) return unknown('eviction policy')
    const policy = ctx.info.get('maxmemory_policy') ?? 'unknown'
    const maxmemory = Number(ctx.info.get('maxmemory') ?? '0')
    const limit = maxmemory > 0 ? `maxmemory ${formatBytes(maxmemory)}` : 'no maxmemory limit set'
    const message = `maxmemory-policy is ${policy} (${limit}).`
    if (policy.startsWith('allkeys-')) {
      return report({
        status: 'warn',
        message,
        meaning: `When memory fills, Redis evicts any key, live sessions included: those users are logged out${
          maxmemory > 0 ? '' : ' (today nothing is evicted; the policy applies as soon as a limit is set)'
        }.`,
        fix: 'Set maxmemory-policy to noeviction (or volatile-lru) for the Redis that keeps sessions, and give it enough memory; do not share it with a cache.',
      })
    }
    if (policy.startsWith('volatile-')) {
      return report({
        status: 'ok',
        message,
        meaning:
          "Only keys with a TTL can be evicted; baton's session keys have one, so a Redis shared with TTL-less data can still evict sessions when full. noeviction is the safest.",
      })
    }
    return report({
      status: 'ok',
      message,
      meaning:
        policy === 'noeviction'
          ? 'Redis never drops sessions to make room; when full, writes fail and logins answer 503 until memory is freed.'
          : 'baton reads this policy at start too.',
    })
  },
})

export const persistence = defineCheck({
  name: 'persistence',
  phase: 'server',
  async run(ctx: InfoKnown & Speaking) {
    if (ctx.info === null) return unknown('persistence settings')
    const aof = ctx.info.get('aof_enabled') === '1'
    const save = await ctx.session.command(['CONFIG', 'GET', 'save'])
    const rdb = Array.isArray(save) && typeof save[1] === 'string' ? save[1].trim() : null
    if (aof || (rdb !== null && rdb !== '')) {
      const what = [aof ? 'AOF on' : null, rdb !== null && rdb !== '' ? `RDB snapshots (save ${rdb})` : null].filter(Boolean).join(', ')
      return report({
        status: 'ok',
        message: `Persistence: ${what}.`,
        meaning: 'Sessions survive a Redis restart (up to the last write saved).',
      })
    }
    if (rdb === null) {
      return report({
        status: 'ok',
        message: `AOF is off; the RDB save setting cannot be read (CONFIG GET: ${describeReply(save)}).`,
        meaning:
          "Managed services often hide CONFIG; check in the provider's console that snapshots or AOF are on, or a restart logs everyone out.",
      })
    }
    // Without persistence a restart should come back empty, but Redis keeps the dump.rdb that a
    // full sync as a replica wrote (rdb-del-sync-files no, its default) and loads it at start: a
    // stale copy, in which sessions revoked since are live again (the chaos run saw one).
    const del = await ctx.session.command(['CONFIG', 'GET', 'rdb-del-sync-files'])
    const keepsSyncFiles = Array.isArray(del) && del[1] === 'no'
    if (keepsSyncFiles) {
      return report({
        status: 'warn',
        message: 'No persistence (AOF off, save ""), and rdb-del-sync-files is no.',
        meaning:
          'A restart does not come back empty: Redis loads the dump.rdb its last full sync as a replica left, a stale copy in which sessions logged out since are live again. Without that file, a restart would only log every user out.',
        fix: 'Set rdb-del-sync-files yes (Redis 6.2+), or turn on AOF (appendonly yes) or RDB snapshots (save 3600 1 300 100 60 10000).',
      })
    }
    return report({
      status: 'warn',
      message: 'No persistence: AOF is off and no RDB snapshots are configured (save "").',
      meaning: 'Sessions live only in memory: a Redis restart logs every user out (no one gets in who should not).',
      fix: 'Turn on AOF (appendonly yes) or RDB snapshots (save 3600 1 300 100 60 10000).',
    })
  },
})

export const cluster = defineCheck({
  name: 'cluster',
  phase: 'server',
  async run(ctx: BaseContext & InfoKnown) {
    if (ctx.info === null) return unknown('cluster mode')
    const enabled = ctx.info.get('cluster_enabled') === '1'
    const configured = ctx.settings.clusterConfigured
    if (enabled && !configured) {
      return report({
        status: 'warn',
        message: 'Redis runs in cluster mode and baton is not configured for Cluster.',
        meaning: 'A standalone client gets MOVED replies for keys on other nodes, so most sessions would fail.',
        fix: 'Set REDIS_CLUSTER=1 (and REDIS_CLUSTER_NODES if more seed nodes help).',
      })
    }
    if (!enabled && configured) {
      return report({
        status: 'warn',
        message: 'REDIS_CLUSTER is set but this Redis is not in cluster mode.',
        meaning: 'The cluster client will fail to load the slot map.',
        fix: 'Unset REDIS_CLUSTER for a standalone Redis.',
      })
    }
    return report({
      status: 'ok',
      message: enabled ? 'Cluster mode, and REDIS_CLUSTER is set.' : 'Standalone (not cluster mode).',
      meaning: "baton's client mode matches the server.",
    })
  },
})
