import { createHash, randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { defineCheck, report, type Verdict } from '../check.js'
import { DOWN, describeReply, elapsed } from '../describe.js'
import { RespErrorReply, type RespValue } from '../resp.js'
import type { Speaking } from './session.js'

/** Phase `data`: use the server as baton does (write, read back, delete; run a script). */

/** A key of the doctor's own, random, so that runs side by side never touch each other's. */
function doctorKey(): string {
  return `baton:doctor:${randomBytes(8).toString('hex')}`
}

/**
 * A doctor key the connected node itself serves: in a Cluster a random key lands on this node's
 * slots only a third of the time, and a write elsewhere is MOVED. baton's cluster client follows
 * MOVED, so that would be a false failure (seen in the chaos run's Cluster variant: start-up
 * logged "MOVED … Set REDIS_CLUSTER=1" with REDIS_CLUSTER set). Anywhere else (not a cluster, a
 * node with no slots, CLUSTER refused by the ACL) any key does, and the write's answer tells.
 */
async function servedKey(ctx: Speaking): Promise<string> {
  const nodes = await ctx.session.command(['CLUSTER', 'NODES'])
  if (typeof nodes !== 'string') return doctorKey()
  const myself = nodes.split('\n').find((line) => line.split(' ')[2]?.split(',').includes('myself'))
  const ranges = (myself?.split(' ').slice(8) ?? []).flatMap((r) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(r.trim())
    return m === null ? [] : [[Number(m[1]), Number(m[2] ?? m[1])] as const]
  })
  if (ranges.length === 0) return doctorKey()
  for (let attempt = 0; attempt < 64; attempt++) {
    const key = doctorKey()
    const slot = await ctx.session.command(['CLUSTER', 'KEYSLOT', key])
    if (typeof slot !== 'number') break
    if (ranges.some(([from, to]) => slot >= from && slot <= to)) return key
  }
  return doctorKey()
}

/** What a refused write's error code means, and its fix. */
const WRITE_ERRORS: Record<string, (what: string) => { message: string; fix: string }> = {
  READONLY: (what) => ({
    message: `${what} was refused: READONLY (this Redis is a read-only replica).`,
    fix: 'Point REDIS_URL at the primary; after a failover, reconnect to the new primary (Sentinel: REDIS_SENTINELS).',
  }),
  OOM: (what) => ({
    message: `${what} was refused: OOM (used memory is over maxmemory and the policy evicts nothing).`,
    fix: "Raise maxmemory, or free memory (other data in this Redis); baton's keys expire on their own.",
  }),
  NOPERM: (what) => ({
    message: `${what} was refused: NOPERM (the ACL user may not run this command or touch baton:* keys).`,
    fix: "Grant baton's user its keys and commands, e.g. ACL SETUSER <user> ~baton:* +@read +@write +@scripting +ping +info.",
  }),
  MISCONF: (what) => ({
    message: `${what} was refused: MISCONF (Redis cannot write its RDB snapshot, often a full disk, and stops writes).`,
    fix: "Free disk space on the Redis host or fix the snapshot directory's permissions.",
  }),
  MOVED: (what) => ({ message: `${what} was redirected: MOVED (Redis runs in cluster mode).`, fix: 'Set REDIS_CLUSTER=1.' }),
  CLUSTERDOWN: (what) => ({
    message: `${what} was refused: CLUSTERDOWN (the cluster does not serve this key's slot).`,
    fix: 'Fix the cluster (every slot assigned, cluster_state:ok) and set REDIS_CLUSTER=1.',
  }),
  CROSSSLOT: (what) => ({ message: `${what} was refused: CROSSSLOT (Redis runs in cluster mode).`, fix: 'Set REDIS_CLUSTER=1.' }),
  NOAUTH: (what) => ({ message: `${what} was refused: NOAUTH (not authenticated).`, fix: 'Put the password in the URL.' }),
}

function writeFailure(what: string, reply: RespValue): Verdict {
  const code = reply instanceof RespErrorReply ? reply.code : ''
  const known = Object.hasOwn(WRITE_ERRORS, code) ? WRITE_ERRORS[code]?.(what) : undefined
  return {
    status: 'fail',
    message: known?.message ?? `${what} failed: ${describeReply(reply)}.`,
    meaning: `baton writes on every login, refresh and logout. ${DOWN}`,
    fix: known?.fix ?? 'Check the Redis error above.',
  }
}

export const write = defineCheck({
  name: 'write',
  phase: 'data',
  async run(ctx: Speaking) {
    const key = await servedKey(ctx)
    const value = randomBytes(8).toString('hex')
    const start = performance.now()
    // A TTL, so the key goes away even if the DEL never runs.
    const set = await ctx.session.command(['SET', key, value, 'PX', '60000'])
    if (set !== 'OK') return report(writeFailure(`SET ${key}`, set))
    const got = await ctx.session.command(['GET', key])
    const del = await ctx.session.command(['DEL', key])
    if (got !== value) {
      return report({
        status: 'fail',
        message: `Read back ${describeReply(got)} instead of the value just written.`,
        meaning: `Something between baton and Redis does not keep writes. ${DOWN}`,
        fix: 'Check for a proxy in front of Redis, or another process deleting baton:* keys.',
      })
    }
    if (del instanceof RespErrorReply) return report(writeFailure('DEL', del))
    return report({
      status: 'ok',
      message: `Wrote, read back and deleted ${key} (with a TTL).`,
      meaning: 'baton can create, read and revoke sessions.',
      ms: elapsed(start),
    })
  },
})

function scriptFailure(command: string, reply: RespValue): Verdict {
  const e = reply instanceof RespErrorReply ? reply : null
  const code = e?.code ?? ''
  const unknown = e !== null && /unknown command/i.test(e.message)
  return {
    status: 'fail',
    message:
      code === 'NOPERM'
        ? `${command} was refused: NOPERM (the ACL user may not run scripts).`
        : code === 'NOSCRIPT'
          ? `${command} answered NOSCRIPT: scripts are not available.`
          : unknown
            ? `${command} is not available on this server (unknown command: disabled or renamed).`
            : `${command} failed: ${describeReply(reply)}.`,
    meaning: `baton's refresh-token rotation is one Lua script; without scripting every refresh fails. ${DOWN}`,
    fix:
      code === 'NOPERM'
        ? "Grant scripting to baton's user: ACL SETUSER <user> +@scripting (EVAL, EVALSHA, SCRIPT)."
        : 'Use a Redis (or provider plan) that allows Lua scripts (EVAL/EVALSHA).',
  }
}

export const scripting = defineCheck({
  name: 'scripting',
  phase: 'data',
  async run(ctx: Speaking) {
    const key = await servedKey(ctx)
    const value = randomBytes(8).toString('hex')
    // Declaring a key makes Redis apply the user's ACL key patterns, as for baton's own script.
    const script = 'return ARGV[1]'
    const start = performance.now()
    const evalReply = await ctx.session.command(['EVAL', script, '1', key, value])
    if (evalReply !== value) return report(scriptFailure('EVAL', evalReply))
    const sha = createHash('sha1').update(script).digest('hex')
    const shaReply = await ctx.session.command(['EVALSHA', sha, '1', key, value])
    if (shaReply instanceof RespErrorReply && shaReply.code === 'NOSCRIPT') {
      return report({
        status: 'warn',
        message: 'EVAL works, but EVALSHA right after it answered NOSCRIPT (the script cache is not kept, as behind some proxies).',
        meaning: "baton's client falls back to EVAL, sending the whole rotation script with every refresh: it works, with more traffic.",
        fix: 'Connect to Redis directly rather than through a proxy that spreads connections over nodes.',
        ms: elapsed(start),
      })
    }
    if (shaReply !== value) return report(scriptFailure('EVALSHA', shaReply))
    return report({
      status: 'ok',
      message: 'EVAL and EVALSHA run a script.',
      meaning: "baton's refresh-token rotation (one server-side script, one round trip) can run.",
      ms: elapsed(start),
    })
  },
})
