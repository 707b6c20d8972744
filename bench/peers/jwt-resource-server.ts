/**
 * A service that checks better-auth's JWTs locally, as the JWT plugin's docs show: jose's
 * `jwtVerify` against `createRemoteJWKSet(<better-auth>/api/auth/jwks)` (fetched once, then
 * cached), with better-auth's issuer and audience (its base URL). `GET /api/me/` with
 * `Authorization: Bearer <jwt>` answers the subject, or 401. The peer of baton's `GET /api/me/`,
 * which also verifies locally. One process per WORKERS (node:cluster), as baton's.
 *
 * Environment: PORT, HOST, WORKERS, AUTH_URL (better-auth's base URL).
 */
import cluster from 'node:cluster'
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http'
import { createRemoteJWKSet, jwtVerify } from 'jose'

const env = process.env
const port = Number(env.PORT)
const host = env.HOST ?? '127.0.0.1'
const workers = Math.max(1, Number(env.WORKERS ?? '1'))
const authURL = env.AUTH_URL ?? ''

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }).end(text)
}

function handler(): (req: IncomingMessage, res: ServerResponse) => void {
  const jwks = createRemoteJWKSet(new URL(`${authURL}/api/auth/jwks`))
  return (req, res) => {
    if (req.url === '/healthz') return send(res, 200, { ok: true })
    if (req.url !== '/api/me/') return send(res, 404, { error: 'not found' })
    const header = req.headers.authorization ?? ''
    const token = header.startsWith('Bearer ') ? header.slice(7) : ''
    jwtVerify(token, jwks, { issuer: authURL, audience: authURL }).then(
      ({ payload }) => send(res, 200, { id: payload.sub, email: payload.email }),
      () => send(res, 401, { error: 'invalid token' }),
    )
  }
}

function serve(): void {
  createServer({ keepAliveTimeout: 60_000 }, handler()).listen(port, host)
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(0))
}

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork()
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(0))
} else serve()
