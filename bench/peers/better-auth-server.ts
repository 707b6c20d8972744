/**
 * better-auth as its documentation sets it up (email and password, the JWT plugin, Redis secondary
 * storage when REDIS_URL is set), served by Node's http module, one process per WORKERS (cluster,
 * as baton's own WORKERS). Started by `npm run bench -- --peers` (bench/peers/main.ts); never part
 * of the product. Settings that differ from better-auth's defaults, and why, are in bench/README.md
 * ("Peers").
 *
 * Environment: PORT, HOST, PEER_DB (SQLite file), REDIS_URL (optional), WORKERS, PEER_SCRYPT_LN
 * (the scrypt cost of new hashes, log2 N), PEER_ALG (the JWT plugin's key algorithm),
 * PEER_COOKIE_CACHE ("1": session.cookieCache on), BETTER_AUTH_SECRET.
 */
import cluster from 'node:cluster'
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http'
import { promisify } from 'node:util'
import { redisStorage } from '@better-auth/redis-storage'
import { betterAuth } from 'better-auth'
import { getMigrations } from 'better-auth/db/migration'
import { jwt } from 'better-auth/plugins'
import Database from 'better-sqlite3'
import { getRequest } from 'better-call/node'
import { Redis } from 'ioredis'

const env = process.env
const port = Number(env.PORT)
const host = env.HOST ?? '127.0.0.1'
const workers = Math.max(1, Number(env.WORKERS ?? '1'))
const scryptLn = Number(env.PEER_SCRYPT_LN ?? '17')
const alg = (env.PEER_ALG ?? 'ES256') as 'ES256' | 'EdDSA'
const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>

/**
 * Node's native scrypt (libuv's thread pool, as baton's) instead of better-auth's default, the
 * pure-JS @noble/hashes scrypt (N=2^14, r=16): the same cost as baton's login (N=2^17, r=8, p=1)
 * computed as cheaply as this machine can. The stored form carries its parameters, so users
 * hashed at another cost still verify.
 */
async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scryptAsync(password.normalize('NFKC'), salt, 64, params(scryptLn))
  return `scrypt$${scryptLn}$8$1$${salt.toString('hex')}$${key.toString('hex')}`
}

async function verifyPassword({ hash, password }: { hash: string; password: string }): Promise<boolean> {
  const [kind, ln, , , salt, key] = hash.split('$')
  if (kind !== 'scrypt' || salt === undefined || key === undefined) return false
  const expected = Buffer.from(key, 'hex')
  const got = await scryptAsync(password.normalize('NFKC'), Buffer.from(salt, 'hex'), expected.length, params(Number(ln)))
  return timingSafeEqual(got, expected)
}

function required(name: string): string {
  const value = env[name]
  if (value === undefined || value === '') throw new Error(`${name} is required`)
  return value
}

function params(ln: number): { N: number; r: number; p: number; maxmem: number } {
  return { N: 2 ** ln, r: 8, p: 1, maxmem: 256 * 2 ** ln * 8 }
}

function makeAuth() {
  const database = new Database(env.PEER_DB ?? 'peer.db')
  // WAL lets the workers read while one writes (better-sqlite3's default journal is DELETE).
  database.pragma('journal_mode = WAL')
  database.pragma('busy_timeout = 5000')
  const redis = env.REDIS_URL === undefined || env.REDIS_URL === '' ? null : new Redis(env.REDIS_URL)
  return betterAuth({
    baseURL: `http://127.0.0.1:${port}`,
    // One secret for every worker: a session cookie one signed must verify at the others.
    secret: required('BETTER_AUTH_SECRET'),
    database,
    ...(redis === null ? {} : { secondaryStorage: redisStorage({ client: redis }) }),
    emailAndPassword: { enabled: true, password: { hash: hashPassword, verify: verifyPassword } },
    ...(env.PEER_COOKIE_CACHE === '1' ? { session: { cookieCache: { enabled: true, maxAge: 300 } } } : {}),
    // Everything comes from one address: the limiter would answer 429 within a second.
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    // JWTs for an hour (default 15 minutes): the protected-jwt lanes keep theirs for the whole run.
    plugins: [
      jwt({
        jwks: { keyPairConfig: { alg }, disablePrivateKeyEncryption: true },
        jwt: { expirationTime: '1h' },
        disableSettingJwtHeader: true,
      }),
    ],
  })
}

type Auth = ReturnType<typeof makeAuth>

/**
 * Like better-call's toNodeHandler, but the answer is buffered and sent with Content-Length in
 * one write (toNodeHandler streams it chunked): cheaper, and the bench's load generator frames
 * answers by Content-Length.
 */
function nodeHandler(auth: Auth) {
  const base = `http://127.0.0.1:${port}`
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok')
      return
    }
    try {
      const response = await auth.handler(getRequest({ base, request: req }))
      const body = Buffer.from(await response.arrayBuffer())
      const headers: Record<string, string | string[]> = {}
      response.headers.forEach((v, k) => {
        if (k !== 'set-cookie') headers[k] = v
      })
      const cookies = response.headers.getSetCookie()
      if (cookies.length > 0) headers['set-cookie'] = cookies
      headers['content-length'] = String(body.length)
      res.writeHead(response.status, headers).end(body)
    } catch (err) {
      const body = JSON.stringify({ error: String(err) })
      res.writeHead(500, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }).end(body)
    }
  }
}

if (cluster.isPrimary) {
  // Tables first, once, before any worker opens the database.
  const { runMigrations } = await getMigrations(makeAuth().options)
  await runMigrations()
  if (workers === 1) serve()
  else {
    for (let i = 0; i < workers; i++) cluster.fork()
    cluster.on('exit', (_w, code) => {
      process.stderr.write(`better-auth worker exited (${code})\n`)
    })
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(0))
  }
} else serve()

function serve(): void {
  const server = createServer({ keepAliveTimeout: 60_000 }, nodeHandler(makeAuth()))
  server.listen(port, host)
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(0))
}
