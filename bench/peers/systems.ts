/**
 * The three systems of the peer bench behind one shape: started for a store row, then asked for
 * the lanes of a mode. `phase: 'login'` starts them for the login mode only, at the default
 * (OWASP) password cost; `'sessions'` at a cheap cost for the 64 set-up logins, as bench/run.ts.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Algorithm } from '../../packages/server/src/config.js'
import { generateKey } from '../../packages/server/src/tokens/keys.js'
import type { LoadOptions } from '../lib/load.js'
import type { CpuProbe } from '../lib/proc.js'
import { ROOT } from '../lib/server.js'
import { OWASP_USER, PASSWORD, SETUP_SCRYPT, seedUsers, sessionUser } from '../lib/users.js'
import { type BrokenLane, type TokenPair, UA, bearerLane, cookieGet, jsonPost, repeatLane, rotationLane } from '../lib/lanes.js'
import { startProcess, sendOnce } from './processes.js'

/** protected-jwt: baton's GET /api/me/ against a service verifying better-auth's JWT locally (jose + JWKS). */
export type Mode = 'refresh' | 'protected' | 'protected-jwt' | 'login'
export type Store = 'redis' | 'sqlite'
export type SystemName = 'baton' | 'django' | 'better-auth'

export interface System {
  name: SystemName
  /** What runs, for the table and the JSON (workers, store, algorithm). */
  describe: string
  port: number
  cpu: CpuProbe
  open?: LoadOptions['open']
  /** Another process answers this mode (better-auth's protected-jwt: the JWT-verifying service). */
  targets?: Partial<Record<Mode, { port: number; cpu: CpuProbe }>>
  supports(mode: Mode): boolean
  lanes(mode: Mode): BrokenLane[]
  stop(): Promise<void>
}

export interface StartContext {
  store: Store
  phase: 'sessions' | 'login'
  sessions: number
  loginConnections: number
  redisURL: string
  workers: number
  alg: Algorithm
}

const OWASP_LN = 17

export async function startBaton(ctx: StartContext): Promise<System> {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-peers-'))
  await seedUsers(dataDir, ctx.sessions)
  const key = await generateKey(ctx.alg)
  const env: Record<string, string> = {
    BATON_MODE: 'production',
    BATON_STORE: ctx.store,
    BATON_DATA_DIR: dataDir,
    JWT_ALGORITHM: ctx.alg,
    WORKERS: String(ctx.workers),
    LOG_LEVEL: 'warn',
    // As bench/run.ts: on, but high (everything comes from one address).
    LOGIN_RATE_LIMIT: '1000000/60',
    LOGIN_RATE_LIMIT_IP: '1000000/60',
    REFRESH_RATE_LIMIT: '1000000/60',
    ...(ctx.phase === 'sessions' ? { PASSWORD_SCRYPT_LN: String(SETUP_SCRYPT.ln) } : {}),
    ...(key.secret !== undefined ? { JWT_SECRET: key.secret } : { JWT_PRIVATE_KEY: JSON.stringify(key.privateJWK) }),
    ...(ctx.store === 'redis' ? { REDIS_URL: ctx.redisURL } : {}),
  }
  const proc = await startProcess({
    name: 'baton',
    command: process.execPath,
    args: () => ['packages/server/dist/cli/main.js', 'serve'],
    cwd: ROOT,
    env,
    processes: ctx.workers > 1 ? ctx.workers + 1 : 1,
    probe: { method: 'GET', path: '/healthz' },
  })
  const pairs: TokenPair[] = []
  if (ctx.phase === 'sessions') {
    // One at a time: a burst of set-up logins is shed with 503 login_busy (issue 15).
    for (let i = 0; i < ctx.sessions; i++) pairs.push(await setupLogin(proc.port, sessionUser(i)))
  }
  const login = jsonPost('/api/auth/token/', { username: OWASP_USER, password: PASSWORD })
  return {
    name: 'baton',
    describe: `baton WORKERS=${ctx.workers}, ${ctx.store}, ${ctx.alg}`,
    port: proc.port,
    cpu: proc.cpu,
    supports: () => true,
    lanes: (mode) =>
      mode === 'refresh'
        ? pairs.map((p) => rotationLane('/api/auth/refresh/', p))
        : mode === 'protected' || mode === 'protected-jwt'
          ? pairs.map((p) => bearerLane('/api/me/', p))
          : Array.from({ length: ctx.loginConnections }, () => repeatLane(login)),
    async stop() {
      await proc.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

async function setupLogin(port: number, username: string): Promise<TokenPair> {
  for (let attempt = 0; ; attempt++) {
    const res = await sendOnce(port, jsonPost('/api/auth/token/', { username, password: PASSWORD }))
    if (res.status === 200) return JSON.parse(res.body.toString()) as TokenPair
    if (res.status !== 503 || attempt >= 20) throw new Error(`baton set-up login: ${res.status} ${res.body.toString()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/**
 * better-auth (bench/peers/better-auth-server.ts): SQLite for its tables, Redis secondary storage
 * for the Redis row. Users sign up through its own route (not timed), which also opens the
 * session whose cookie the lanes present.
 */
export async function startBetterAuth(ctx: StartContext, options: { cookieCache: boolean }): Promise<System> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-peers-ba-'))
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    WORKERS: String(ctx.workers),
    PEER_DB: join(dir, 'better-auth.db'),
    PEER_SCRYPT_LN: String(ctx.phase === 'login' ? OWASP_LN : SETUP_SCRYPT.ln),
    PEER_ALG: ctx.alg === 'EdDSA' ? 'EdDSA' : 'ES256',
    PEER_COOKIE_CACHE: options.cookieCache ? '1' : '0',
    BETTER_AUTH_SECRET: randomBytes(32).toString('hex'),
    ...(ctx.store === 'redis' ? { REDIS_URL: ctx.redisURL } : {}),
  }
  const proc = await startProcess({
    name: 'better-auth',
    command: process.execPath,
    args: () => ['--import', 'tsx', 'bench/peers/better-auth-server.ts'],
    cwd: ROOT,
    env,
    processes: ctx.workers > 1 ? ctx.workers + 1 : 1,
    probe: { method: 'GET', path: '/healthz' },
  })
  const base = `http://127.0.0.1:${proc.port}`
  const signUp = async (email: string): Promise<string> => {
    const res = await fetch(`${base}/api/auth/sign-up/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': UA, origin: base },
      body: JSON.stringify({ email, password: PASSWORD, name: email.split('@')[0] }),
    })
    if (res.status !== 200) throw new Error(`better-auth sign-up: ${res.status} ${await res.text()}`)
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .join('; ')
    return cookie
  }
  const cookies: string[] = []
  try {
    // One at a time, as baton's set-up logins.
    for (let i = 0; ctx.phase === 'sessions' && i < ctx.sessions; i++) cookies.push(await signUp(`${sessionUser(i)}@example.com`))
  } catch (err) {
    await proc.stop()
    throw new Error(`${(err as Error).message}\n${proc.output()}`)
  }
  if (ctx.phase === 'login') await signUp(`${OWASP_USER}@example.com`)
  const jwts: TokenPair[] = []
  for (const cookie of cookies) {
    const res = await fetch(`${base}/api/auth/token`, { headers: { cookie, 'user-agent': UA } })
    const body = (await res.json()) as { token?: string }
    if (res.status !== 200 || body.token === undefined) throw new Error(`better-auth /api/auth/token: ${res.status}`)
    jwts.push({ access: body.token, refresh: '' })
  }
  const resource =
    ctx.phase === 'login'
      ? null
      : await startProcess({
          name: 'better-auth JWT service',
          command: process.execPath,
          args: () => ['--import', 'tsx', 'bench/peers/jwt-resource-server.ts'],
          cwd: ROOT,
          env: { NODE_ENV: 'production', WORKERS: String(ctx.workers), AUTH_URL: base },
          processes: ctx.workers > 1 ? ctx.workers + 1 : 1,
          probe: { method: 'GET', path: '/healthz' },
        })
  const login = jsonPost('/api/auth/sign-in/email', { email: `${OWASP_USER}@example.com`, password: PASSWORD })
  return {
    name: 'better-auth',
    describe: `better-auth 1.7.29, ${ctx.workers} processes (node:cluster), SQLite${ctx.store === 'redis' ? ' + Redis secondary storage' : ''}, ${env.PEER_ALG}${options.cookieCache ? ', cookie cache' : ''}`,
    port: proc.port,
    cpu: proc.cpu,
    ...(resource === null ? {} : { targets: { 'protected-jwt': { port: resource.port, cpu: resource.cpu } } }),
    supports: () => true,
    lanes: (mode) =>
      mode === 'refresh'
        ? cookies.map((c) => repeatLane(cookieGet('/api/auth/token', c), '"token":"'))
        : mode === 'protected'
          ? cookies.map((c) => repeatLane(cookieGet('/api/auth/get-session', c), '"session":'))
          : mode === 'protected-jwt'
            ? jwts.map((p) => bearerLane('/api/me/', p))
            : Array.from({ length: ctx.loginConnections }, () => repeatLane(login, '"token":"')),
    async stop() {
      await resource?.stop()
      await proc.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
