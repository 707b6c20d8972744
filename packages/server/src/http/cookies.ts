import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config.js'
import { BatonError } from '../errors.js'

/** Name of the refresh cookie in cookie mode. */
export const REFRESH_COOKIE = 'baton_refresh'
/** The custom header cookie mode requires on refresh and logout (CSRF defence). */
export const CSRF_HEADER = 'x-baton-csrf'

/**
 * SPEC §1 cookie mode: `HttpOnly; Secure; SameSite=Strict; Path=/api/auth/`. `Secure` is dropped
 * only in development on a loopback host, where browsers would refuse it over plain HTTP.
 */
export function setRefreshCookie(config: Config, reply: FastifyReply, token: string, expiresAt: number): void {
  void reply.setCookie(REFRESH_COOKIE, token, {
    httpOnly: true,
    secure: !isLocalDevelopment(config),
    sameSite: 'strict',
    path: '/api/auth/',
    expires: new Date(expiresAt * 1000),
  })
}

export function clearRefreshCookie(config: Config, reply: FastifyReply): void {
  void reply.clearCookie(REFRESH_COOKIE, { httpOnly: true, secure: !isLocalDevelopment(config), sameSite: 'strict', path: '/api/auth/' })
}

/**
 * Reads the refresh cookie, after the CSRF check: a request from another site cannot set a
 * custom header without a CORS preflight that we would refuse, so its presence proves the
 * request comes from an allowed origin.
 */
export function readRefreshCookie(request: FastifyRequest): string {
  checkCSRF(request)
  const token = request.cookies[REFRESH_COOKIE]
  if (token === undefined || token === '') throw new BatonError('token_not_valid', { detail: 'No refresh cookie.' })
  return token
}

/** Cookie mode's CSRF defence: the custom header must be present. */
export function checkCSRF(request: FastifyRequest): void {
  if (request.headers[CSRF_HEADER] === undefined) throw new BatonError('csrf_failed', { detail: `Missing ${CSRF_HEADER} header.` })
}

function isLocalDevelopment(config: Config): boolean {
  return config.mode === 'development' && ['127.0.0.1', 'localhost', '::1'].includes(config.host)
}
