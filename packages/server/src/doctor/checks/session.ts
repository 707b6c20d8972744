import { performance } from 'node:perf_hooks'
import { defineCheck, defineConditionalCheck, report, stop, type Nothing, type Outcome } from '../check.js'
import type { BaseContext, TargetKnown } from '../context.js'
import { DOWN, describeReply, elapsed, errorCode } from '../describe.js'
import { describeBytes, RespClient, RespClosedError, RespErrorReply, RespProtocolError, RespTimeoutError, type RespValue } from '../resp.js'
import { RedisSession } from '../session.js'
import { probeTLS } from '../sockets.js'
import type { Connected, Secured } from './network.js'

/** Phase `session`: the port speaks Redis, the credentials are accepted, the database exists. */

/** What `protocol` learns: the connection to send commands on, and whether PING asked for AUTH. */
export interface Speaking {
  readonly session: RedisSession
  readonly needsAuth: boolean
}

/** Why PING failed, as a `fail` that stops the run. */
async function pingFailure(ctx: BaseContext & TargetKnown & Connected, err: unknown, ms: number): Promise<never> {
  const { parts, maskedURL } = ctx.target
  const timeout = ctx.settings.timeoutMs
  const tlsPort = !parts.tls && !(err instanceof RespTimeoutError) && (await probeTLS(ctx.pool, parts, ctx.address, timeout))
  if (tlsPort) {
    stop({
      message: `TLS/plain mismatch: this port speaks TLS: use rediss:// (a plain PING ${
        err instanceof RespProtocolError ? `was answered with ${describeBytes(err.received)}` : 'made the server close the connection'
      }; a TLS handshake on the same port succeeds).`,
      meaning: `redis:// is plain TCP and this port accepts only TLS. ${DOWN}`,
      fix: `Write the URL with rediss:// (${maskedURL.replace(/^redis:/, 'rediss:')}).`,
      ms,
    })
  }
  if (err instanceof RespTimeoutError) {
    stop({
      message: `Connected, but no answer to PING within ${timeout} ms (timeout).`,
      meaning: `Every store operation would time out. ${DOWN}`,
      fix: 'Check that the port belongs to Redis and not to a proxy or another service that waits; a busy Redis (a long script, a huge KEYS) also stalls. For a TLS-only port use rediss://.',
      ms,
    })
  }
  const cause = err instanceof RespClosedError ? errorCode(err.cause) : ''
  if (cause.includes('CERTIFICATE_REQUIRED')) {
    stop({
      message: `The server requires a client certificate (mutual TLS) and closed the connection (${cause}).`,
      meaning: `baton does not present a client certificate. ${DOWN}`,
      fix: 'Set tls-auth-clients to "optional" (or "no") on the Redis that baton uses, and rely on a password or ACL user.',
      ms,
    })
  }
  stop({
    message:
      err instanceof RespProtocolError
        ? `The server does not speak the Redis protocol: it answered PING with ${describeBytes(err.received)}.`
        : `The server closed the connection without answering PING.`,
    meaning: DOWN,
    fix: 'Check the port: it may belong to another service. A Redis in protected mode or with a client limit also closes connections.',
    ms,
  })
}

/** A PING reply other than PONG or NOAUTH, as a `fail` that stops the run. */
function pingRefused(reply: RespValue, ms: number): never {
  if (reply instanceof RespErrorReply && reply.code === 'LOADING') {
    stop({
      message: 'Redis is loading its data set into memory (LOADING).',
      meaning: `Redis answers nothing else until it has loaded. ${DOWN}`,
      fix: 'Wait for the load to finish and run doctor again.',
      ms,
    })
  }
  if (reply instanceof RespErrorReply && reply.code === 'DENIED') {
    stop({
      message: 'Redis refuses this client (DENIED: protected mode, no password set and not a local connection).',
      meaning: DOWN,
      fix: 'Set a password on Redis (requirepass or an ACL user) and put it in the URL, or bind Redis to a network it trusts.',
      ms,
    })
  }
  stop({
    message: `PING got an unexpected answer: ${describeReply(reply)}.`,
    meaning: DOWN,
    fix: 'Check that the port belongs to Redis (or a Redis-compatible server).',
    ms,
  })
}

export const protocol = defineCheck({
  name: 'protocol',
  phase: 'session',
  async run(ctx: BaseContext & TargetKnown & Connected & Secured): Promise<Outcome<Speaking>> {
    const client = new RespClient(ctx.tlsSocket ?? ctx.socket)
    ctx.pool.onClose(() => client.close())
    const timeout = ctx.settings.timeoutMs
    const session = new RedisSession(client, timeout)
    const start = performance.now()
    // PING before AUTH: nothing secret goes out until the port has proven it speaks Redis (a
    // password sent to a TLS port in plain text, or to some other service, would be exposed).
    let reply: RespValue
    try {
      reply = await client.command(['PING'], timeout)
    } catch (err) {
      return pingFailure(ctx, err, elapsed(start))
    }
    const ms = elapsed(start)
    if (reply === 'PONG') {
      return {
        verdict: { status: 'ok', message: 'Redis answered PING.', meaning: 'The port speaks Redis.', ms },
        learned: { session, needsAuth: false },
      }
    }
    if (reply instanceof RespErrorReply && reply.code === 'NOAUTH') {
      return {
        verdict: {
          status: 'ok',
          message: 'Redis answered PING with NOAUTH: it requires a password.',
          meaning: 'The port speaks Redis.',
          ms,
        },
        learned: { session, needsAuth: true },
      }
    }
    pingRefused(reply, ms)
  },
})

/** An AUTH that was not accepted, as a `warn` (no password configured) or a `fail` that stops the run. */
function authRefused(ctx: TargetKnown, reply: RespValue, who: string): Outcome<Nothing> {
  const p = ctx.target.parts
  const e = reply instanceof RespErrorReply ? reply : null
  const text = e?.message ?? ''
  if (e !== null && /without any password configured|no password is set/i.test(text)) {
    return report({
      status: 'warn',
      message: 'The URL carries a password but Redis has none configured (AUTH was refused as unnecessary).',
      meaning: 'baton works (its client ignores this answer), but anyone who can reach this port can read and change sessions.',
      fix: 'Set a password on Redis (requirepass or an ACL user), or remove it from the URL.',
    })
  }
  const colonless = p.username !== null && p.password === null
  if (e !== null && (e.code === 'WRONGPASS' || /invalid (username-)?password/i.test(text))) {
    stop({
      message: `Redis refused the credentials: WRONGPASS (wrong password, or unknown or disabled user) for ${who}.`,
      meaning: DOWN,
      fix: colonless
        ? 'The URL has a user name but no password ("redis://name@host"). If that name is the password, write redis://:<password>@host.'
        : 'Copy the password again from the provider; percent-encode special characters (encodeURIComponent). With an ACL user, check that it exists and is "on".',
    })
  }
  if (e !== null && /wrong number of arguments for 'auth'/i.test(text)) {
    stop({
      message: 'Redis does not accept a user name in AUTH (Redis 5 or older has no ACL users).',
      meaning: DOWN,
      fix: 'Remove the user name from the URL: redis://:<password>@host.',
    })
  }
  stop({ message: `AUTH failed: ${describeReply(reply)}.`, meaning: DOWN, fix: 'Check the user name and password in the URL.' })
}

export const auth = defineCheck({
  name: 'auth',
  phase: 'session',
  async run(ctx: TargetKnown & Speaking) {
    const { parts: p, hostPort } = ctx.target
    const password = p.password ?? ''
    // As ioredis does: AUTH <user> <password> with a user name, AUTH <password> without one,
    // and no AUTH at all without either.
    const args = p.username !== null ? ['AUTH', p.username, password] : password !== '' ? ['AUTH', password] : null
    if (args === null) {
      if (ctx.needsAuth) {
        stop({
          message: 'Redis requires a password (NOAUTH) and the URL has none.',
          meaning: DOWN,
          fix: `Put the password in the URL: ${p.tls ? 'rediss' : 'redis'}://:<password>@${hostPort} (or user:<password>@ for an ACL user), percent-encoded.`,
        })
      }
      return report({
        status: 'ok',
        message: 'No password in the URL and none required.',
        meaning: 'baton connects without AUTH; anyone who can reach this port can read and change its sessions.',
      })
    }
    const reply = await ctx.session.command(args)
    const who =
      p.username !== null && p.hasPassword ? `user "${p.username}"` : p.username !== null ? 'the user in the URL' : 'the default user'
    if (reply === 'OK')
      return report({ status: 'ok', message: `Authenticated as ${who}.`, meaning: 'The credentials in the URL are accepted.' })
    return authRefused(ctx, reply, who)
  },
})

export const select = defineConditionalCheck({
  name: 'select',
  phase: 'session',
  applies: (url) => url.db > 0,
  async run(ctx: TargetKnown & Speaking) {
    const db = ctx.target.parts.db
    const reply = await ctx.session.command(['SELECT', String(db)])
    if (reply === 'OK')
      return report({ status: 'ok', message: `Database ${db} selected.`, meaning: 'baton keeps its sessions in this database.' })
    const text = reply instanceof RespErrorReply ? reply.message : ''
    const cluster = /cluster/i.test(text)
    stop({
      message: cluster
        ? `SELECT ${db} is refused: Redis runs in cluster mode, which has only database 0.`
        : /out of range/i.test(text)
          ? `Database ${db} does not exist on this server (DB index is out of range).`
          : `SELECT ${db} failed: ${describeReply(reply)}.`,
      meaning: DOWN,
      fix: cluster
        ? 'Remove the db from the URL (or use /0) and set REDIS_CLUSTER=1.'
        : 'Use a database number below the server\'s "databases" setting (16 by default), or leave the path out.',
    })
  },
})
