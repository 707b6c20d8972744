import { rotationLane } from './lanes.js'
import { generateKey } from '../../packages/server/src/tokens/keys.js'
import { Connection, type RawResponse, buildRequest } from './http-client.js'
import { type Lane, type LoadResult, runLoad, sleep } from './load.js'
import type { CpuProbe } from './proc.js'
import { SCALE_UA } from './scale-seed.js'
import { type ServerProcess, startServer } from './server.js'
import { PASSWORD, SETUP_SCRYPT, sessionUser } from './users.js'

/**
 * One measurement of `npm run bench -- --scale`: a `baton serve` on an already seeded store,
 * the bench's users logged in once each (not timed), then refresh (rotation chains) and
 * `GET /api/auth/sessions/` in closed loops with bench/lib/load.ts, as `npm run bench` does.
 */

export interface StepOptions {
  store: 'redis' | 'sqlite'
  dataDir: string
  redisURL?: string
  redisCpu?: CpuProbe
  server: string
  workers: number
  connections: number
  warmupMs: number
  durationMs: number
  /** Sessions each bench user already has in the store (seeded): the list answers this + 1. */
  seededPerUser: number
}

export interface Measured {
  rps: number
  p50: number
  p99: number
  non2xx: number
  statuses: Record<string, number>
  errors: number
  /** Requests per CPU second the server used (all workers). */
  perServerCore: number
  cpu: Record<string, number>
}

export interface StepResult {
  refresh: Measured & { brokenChains: number }
  sessions: Measured & { listed: number; bodyBytes: number }
}

interface Session {
  access: string
  refresh: string
}

export async function measureStep(o: StepOptions): Promise<StepResult> {
  const env: Record<string, string> = {
    BATON_MODE: 'production',
    BATON_STORE: o.store,
    BATON_DATA_DIR: o.dataDir,
    JWT_ALGORITHM: 'ES256',
    JWT_PRIVATE_KEY: JSON.stringify((await generateKey('ES256')).privateJWK),
    WORKERS: String(o.workers),
    LOG_LEVEL: 'warn',
    // As in bench/run.ts: the limits stay on (their cost is part of a refresh) but never bite.
    LOGIN_RATE_LIMIT: '1000000/60',
    LOGIN_RATE_LIMIT_IP: '1000000/60',
    REFRESH_RATE_LIMIT: '1000000/60',
    PASSWORD_SCRYPT_LN: String(SETUP_SCRYPT.ln),
    ...(o.redisURL === undefined ? {} : { REDIS_URL: o.redisURL }),
  }
  const server = await startServer([o.server, 'serve'], env, o.workers)
  try {
    const probes = { server: server.cpu, ...(o.redisCpu === undefined ? {} : { redis: o.redisCpu }) }
    const sessions = await loginAll(server, o.connections)
    const refreshLanes = sessions.map((s) => rotationLane('/api/auth/refresh/', s, SCALE_UA))
    const r = await runLoad({ port: server.port, lanes: refreshLanes, warmupMs: o.warmupMs, durationMs: o.durationMs, probes })
    const broken = refreshLanes.filter((l) => l.broken !== null)
    if (broken.length > 0) process.stderr.write(`bench --scale: ${broken.length} rotation chains broke; first: ${broken[0]!.broken}\n`)

    const listLanes = sessions.map((s) => listLane(s, o.seededPerUser + 1))
    const l = await runLoad({ port: server.port, lanes: listLanes, warmupMs: o.warmupMs, durationMs: o.durationMs, probes })
    const wrong = listLanes.find((x) => x.wrong !== null)
    if (wrong !== undefined) throw new Error(`GET /api/auth/sessions/ answered the wrong list: ${wrong.wrong}`)
    return {
      refresh: { ...measured(r), brokenChains: broken.length },
      sessions: { ...measured(l), listed: o.seededPerUser + 1, bodyBytes: listLanes[0]?.bodyBytes ?? 0 },
    }
  } catch (err) {
    process.stderr.write(`bench --scale: ${o.store} step failed: ${(err as Error).message}\n${server.output()}\n`)
    throw err
  } finally {
    await server.stop()
  }
}

function measured(r: LoadResult): Measured {
  const server = r.cpu.server ?? 0
  return {
    rps: r.rps,
    p50: r.latencyMs.p50,
    p99: r.latencyMs.p99,
    non2xx: r.non2xx,
    statuses: r.statuses,
    errors: r.errors,
    perServerCore: server > 0 ? Math.round(r.rps / server) : 0,
    cpu: r.cpu,
  }
}

/**
 * One login per bench user (scrypt 2^10), all at once, each on its own connection. The server
 * sheds logins beyond its queue (503 login_busy, issue 15): those are sent again shortly, as a
 * client would, so the server runs with its default settings.
 */
async function loginAll(server: ServerProcess, n: number): Promise<Session[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const conn = await Connection.open(server.port)
      try {
        const req = buildRequest('POST', '/api/auth/token/', {
          body: { username: sessionUser(i), password: PASSWORD },
          headers: { 'user-agent': SCALE_UA },
        })
        for (let attempt = 0; ; attempt++) {
          const res = await conn.send(req)
          if (res.status === 200) return JSON.parse(res.body.toString()) as Session
          if (res.status !== 503 || attempt >= 100) throw new Error(`set-up login failed: ${res.status} ${res.body.toString()}`)
          await sleep(50 + Math.random() * 200)
        }
      } finally {
        conn.close()
      }
    }),
  )
}

/**
 * The user's session list with their current access token. Every 200 must list exactly
 * `expected` sessions (the seeded ones and the login's): a store that lost the seeded index, or
 * a list that leaked another user's sessions, fails the run instead of measuring it.
 */
function listLane(session: Session, expected: number): Lane & { wrong: string | null; bodyBytes: number } {
  let req: Buffer | null = null
  const lane = {
    wrong: null as string | null,
    bodyBytes: 0,
    request() {
      req ??= buildRequest('GET', '/api/auth/sessions/', { headers: { authorization: `Bearer ${session.access}`, 'user-agent': SCALE_UA } })
      return req
    },
    response(res: RawResponse) {
      if (res.status !== 200) return
      lane.bodyBytes = res.body.length
      const n = count(res.body.toString('latin1'), '"id":"')
      if (n !== expected && lane.wrong === null) lane.wrong = `${n} sessions, expected ${expected}`
    },
  }
  return lane
}

function count(text: string, needle: string): number {
  let n = 0
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) n++
  return n
}
