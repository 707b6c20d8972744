import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Deps } from '../deps.js'
import { BatonError } from '../errors.js'
import type { ClientInfo, IssuedTokens, Sessions } from '../sessions.js'
import { MAX_TOKEN_LENGTH } from '../tokens/jwt.js'
import { MAX_PASSWORD_LENGTH, normalizeUsername, validatePassword, validateUsername } from '../users/password.js'
import { readFields } from './body.js'
import { clientGoneSignal } from './client-gone.js'
import { compactUserAgent } from './user-agent.js'
import { authenticate } from './bearer.js'
import { REFRESH_COOKIE, checkCSRF, clearRefreshCookie, readRefreshCookie, setRefreshCookie } from './cookies.js'

const USERNAME_MAX = 150

/** Login, refresh, verify, logout, logout-all and register (SPEC §1), simplejwt's wire format. */
export function registerAuthRoutes(app: FastifyInstance, deps: Deps, sessions: Sessions): void {
  const cookieMode = deps.config.tokenTransport === 'cookie'

  function client(request: FastifyRequest): ClientInfo {
    const ua = request.headers['user-agent']
    return { userAgent: typeof ua === 'string' && ua.trim() !== '' ? compactUserAgent(ua) : null, ip: request.ip ?? null }
  }

  function sendTokens(reply: FastifyReply, tokens: IssuedTokens): { access: string; refresh?: string } {
    void reply.header('cache-control', 'no-store')
    if (tokens.refresh === undefined) return { access: tokens.access }
    if (cookieMode) {
      const exp = JSON.parse(Buffer.from(tokens.refresh.split('.')[1]!, 'base64url').toString()).exp as number
      setRefreshCookie(deps.config, reply, tokens.refresh, exp)
      return { access: tokens.access }
    }
    return { access: tokens.access, refresh: tokens.refresh }
  }

  function refreshTokenOf(request: FastifyRequest): string {
    if (cookieMode) return readRefreshCookie(request)
    return readFields(request.body, { refresh: { max: MAX_TOKEN_LENGTH } }).refresh
  }

  async function login(request: FastifyRequest, reply: FastifyReply) {
    const { username, password } = readFields(request.body, {
      username: { max: USERNAME_MAX },
      password: { max: MAX_PASSWORD_LENGTH },
    })
    const signal = clientGoneSignal(request, reply)
    return sendTokens(reply, await sessions.login(username, password, client(request), { signal }))
  }
  app.post('/api/auth/token/', login)
  app.post('/api/auth/login/', login)

  async function refresh(request: FastifyRequest, reply: FastifyReply) {
    return sendTokens(reply, await sessions.refresh(refreshTokenOf(request), client(request)))
  }
  app.post('/api/auth/refresh/', refresh)

  async function verify(request: FastifyRequest, reply: FastifyReply) {
    const { token } = readFields(request.body, { token: { max: MAX_TOKEN_LENGTH } })
    await sessions.verify(token)
    void reply.header('cache-control', 'no-store')
    return {}
  }
  app.post('/api/auth/verify/', verify)

  async function logout(request: FastifyRequest, reply: FastifyReply) {
    // Cookie mode: no cookie means already logged out (idempotent); the CSRF check still runs.
    const token = cookieMode && request.cookies[REFRESH_COOKIE] === undefined ? (checkCSRF(request), null) : refreshTokenOf(request)
    if (token !== null) await sessions.logout(token)
    if (cookieMode) clearRefreshCookie(deps.config, reply)
    void reply.header('cache-control', 'no-store')
    return {}
  }
  app.post('/api/auth/logout/', logout)
  app.post('/api/auth/token/blacklist/', logout)

  // SPEC §9: simplejwt's documented paths, so a frontend written for it works unchanged (the
  // router's ignoreTrailingSlash serves each without its slash too). Body mode only: such a
  // frontend sends and expects `refresh` in the body, and cookie mode's refresh cookie
  // (Path=/api/auth/, SPEC §1) is never sent to /api/token/, so there they are 404.
  if (!cookieMode) {
    app.post('/api/token/', login)
    app.post('/api/token/refresh/', refresh)
    app.post('/api/token/verify/', verify)
    app.post('/api/token/blacklist/', logout)
  }

  app.post('/api/auth/logout-all/', async (request, reply) => {
    const claims = await authenticate(sessions, request)
    const revoked = await sessions.logoutAll(claims)
    if (cookieMode) clearRefreshCookie(deps.config, reply)
    return { revoked }
  })

  if (deps.config.registration) {
    app.post('/api/auth/register/', async (request, reply) => {
      const users = deps.users
      if (users === null) throw new BatonError('not_found')
      const fields = readFields(request.body, {
        username: { max: USERNAME_MAX },
        // Bounded by the body limit only, so that validatePassword below reports a long password
        // together with any username problem, DRF-style.
        password: { max: Number.MAX_SAFE_INTEGER },
      })
      const username = normalizeUsername(fields.username)
      const password = fields.password
      const messages: Record<string, string> = {}
      const badName = validateUsername(username)
      const badPassword = validatePassword(password)
      if (badName !== null) messages.username = badName
      if (badPassword !== null) messages.password = badPassword
      if (Object.keys(messages).length > 0) throw new BatonError('bad_request', { detail: 'Invalid request body.', messages })
      const passwordHash = await deps.hashPassword(password)
      const out = await users.createUser({ username, passwordHash, now: deps.clock() })
      if (out.kind === 'taken') throw new BatonError('username_taken')
      deps.log.info({ audit: 'registered', sub: out.user.id }, 'registered')
      return reply.code(201).send(out.user)
    })
  }
}
