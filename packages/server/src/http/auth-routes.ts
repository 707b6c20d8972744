import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify'
import type { Deps } from '../deps.js'
import { BatonError } from '../errors.js'
import type { ClientInfo, IssuedTokens, Sessions } from '../sessions.js'
import { normalizeUsername } from '../users/password.js'
import { clientGoneSignal } from './client-gone.js'
import { compactUserAgent } from './user-agent.js'
import { authenticate } from './bearer.js'
import { REFRESH_COOKIE, checkCSRF, clearRefreshCookie, readRefreshCookie, setRefreshCookie } from './cookies.js'
import {
  BODY_ERRORS,
  CREDENTIALS_BODY,
  EMPTY_OBJECT,
  REFRESH_BODY,
  REGISTER_BODY,
  TOKEN_BODY,
  TOKEN_PAIR,
  USER,
  errorResponses,
} from './schemas.js'

type Body<K extends string> = { Body: Record<K, string> }

const BEARER = [{ bearer: [] }]

/**
 * Login, refresh, verify, logout, logout-all and register (SPEC §1), simplejwt's wire format.
 *
 * Longer than ~100 lines on purpose: it is the list of the auth routes, each schema beside its
 * handler and the aliases beside the route they alias.
 */
export function registerAuthRoutes(app: FastifyInstance, deps: Deps, sessions: Sessions): void {
  const cookieMode = deps.config.tokenTransport === 'cookie'
  // Cookie mode reads the refresh token from its cookie, after the CSRF header: no body then.
  const refreshBody = cookieMode ? {} : { body: REFRESH_BODY }
  const refreshErrors = cookieMode ? errorResponses('csrf_failed') : errorResponses(...BODY_ERRORS)

  function client(request: FastifyRequest): ClientInfo {
    const ua = request.headers['user-agent']
    return { userAgent: typeof ua === 'string' && ua.trim() !== '' ? compactUserAgent(ua) : null, ip: request.ip ?? null }
  }

  function sendTokens(reply: FastifyReply, tokens: IssuedTokens): { access: string; refresh?: string } {
    void reply.header('cache-control', 'no-store')
    if (tokens.refresh === undefined) return { access: tokens.access }
    if (cookieMode) {
      setRefreshCookie(deps.config, reply, tokens.refresh, tokens.refreshExpiresAt)
      return { access: tokens.access }
    }
    return { access: tokens.access, refresh: tokens.refresh }
  }

  function refreshTokenOf(request: FastifyRequest): string {
    if (cookieMode) return readRefreshCookie(request)
    return (request.body as { refresh: string }).refresh
  }

  const loginSchema: FastifySchema = {
    body: CREDENTIALS_BODY,
    response: {
      200: TOKEN_PAIR,
      ...errorResponses(...BODY_ERRORS, 'invalid_credentials', 'rate_limited', 'store_unavailable', 'login_busy'),
    },
  }
  async function login(request: FastifyRequest<Body<'username' | 'password'>>, reply: FastifyReply) {
    const { username, password } = request.body
    const signal = clientGoneSignal(request, reply)
    return sendTokens(reply, await sessions.login(username, password, client(request), { signal }))
  }
  app.post('/api/auth/token/', { schema: loginSchema }, login)
  app.post('/api/auth/login/', { schema: loginSchema }, login)

  const refreshSchema: FastifySchema = {
    ...refreshBody,
    response: {
      200: TOKEN_PAIR,
      ...refreshErrors,
      ...errorResponses('token_not_valid', 'token_revoked', 'token_reused', 'rate_limited', 'store_unavailable'),
    },
  }
  async function refresh(request: FastifyRequest, reply: FastifyReply) {
    return sendTokens(reply, await sessions.refresh(refreshTokenOf(request), client(request)))
  }
  app.post('/api/auth/refresh/', { schema: refreshSchema }, refresh)

  const verifySchema: FastifySchema = {
    body: TOKEN_BODY,
    response: { 200: EMPTY_OBJECT, ...errorResponses(...BODY_ERRORS, 'token_not_valid', 'token_revoked', 'store_unavailable') },
  }
  async function verify(request: FastifyRequest<Body<'token'>>, reply: FastifyReply) {
    await sessions.verify(request.body.token)
    void reply.header('cache-control', 'no-store')
    return {}
  }
  app.post('/api/auth/verify/', { schema: verifySchema }, verify)

  const logoutSchema: FastifySchema = {
    ...refreshBody,
    response: { 200: EMPTY_OBJECT, ...refreshErrors, ...errorResponses('token_not_valid', 'store_unavailable') },
  }
  async function logout(request: FastifyRequest, reply: FastifyReply) {
    // Cookie mode: no cookie means already logged out (idempotent); the CSRF check still runs.
    const token = cookieMode && request.cookies[REFRESH_COOKIE] === undefined ? (checkCSRF(request), null) : refreshTokenOf(request)
    if (token !== null) await sessions.logout(token)
    if (cookieMode) clearRefreshCookie(deps.config, reply)
    void reply.header('cache-control', 'no-store')
    return {}
  }
  app.post('/api/auth/logout/', { schema: logoutSchema }, logout)
  app.post('/api/auth/token/blacklist/', { schema: logoutSchema }, logout)

  // SPEC §9: simplejwt's documented paths, so a frontend written for it works unchanged (the
  // router's ignoreTrailingSlash serves each without its slash too). Body mode only: such a
  // frontend sends and expects `refresh` in the body, and cookie mode's refresh cookie
  // (Path=/api/auth/, SPEC §1) is never sent to /api/token/, so there they are 404.
  if (!cookieMode) {
    app.post('/api/token/', { schema: loginSchema }, login)
    app.post('/api/token/refresh/', { schema: refreshSchema }, refresh)
    app.post('/api/token/verify/', { schema: verifySchema }, verify)
    app.post('/api/token/blacklist/', { schema: logoutSchema }, logout)
  }

  const logoutAllSchema = {
    security: BEARER,
    response: {
      200: { type: 'object', properties: { revoked: { type: 'integer' } }, required: ['revoked'], additionalProperties: false },
      ...errorResponses('token_not_valid', 'token_revoked', 'store_unavailable'),
    },
  }
  app.post('/api/auth/logout-all/', { schema: logoutAllSchema }, async (request, reply) => {
    const claims = await authenticate(sessions, request)
    const revoked = await sessions.logoutAll(claims)
    if (cookieMode) clearRefreshCookie(deps.config, reply)
    return { revoked }
  })

  // Without a user store of baton's own (USER_STORE=django, custom credentials) there is no
  // route: the same 404 as any unknown path.
  const users = deps.users
  if (deps.config.registration && users !== null) {
    const schema = {
      body: REGISTER_BODY,
      response: { 201: USER, ...errorResponses(...BODY_ERRORS, 'username_taken', 'store_unavailable') },
    }
    app.post<Body<'username' | 'password'>>('/api/auth/register/', { schema }, async (request, reply) => {
      const username = normalizeUsername(request.body.username)
      const password = request.body.password
      const passwordHash = await deps.hashPassword(password)
      const out = await users.createUser({ username, passwordHash, now: deps.clock() })
      if (out.kind === 'taken') throw new BatonError('username_taken')
      deps.log.info({ audit: 'registered', sub: out.user.id }, 'registered')
      return reply.code(201).send(out.user)
    })
  }
}
