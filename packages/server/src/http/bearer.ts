import type { FastifyRequest } from 'fastify'
import { BatonError } from '../errors.js'
import type { Sessions } from '../sessions.js'
import type { AccessClaims } from '../tokens/jwt.js'

/**
 * The bearer token of a request (RFC 6750 §2.1; the scheme is case-insensitive, RFC 7235 §2.1).
 * Spaces or tabs may separate scheme and token, as simplejwt's `header.split()` allows.
 * Tokens in the query string are ignored on purpose: they end up in logs and histories.
 */
export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization
  const m = typeof header === 'string' ? /^bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header) : null
  if (m === null) throw new BatonError('token_not_valid', { detail: 'Authentication credentials were not provided.' })
  return m[1]!
}

/** Verifies the request's bearer access token. */
export function authenticate(sessions: Sessions, request: FastifyRequest): Promise<AccessClaims> {
  return sessions.authenticate(bearerToken(request))
}

const verified = new WeakMap<FastifyRequest, AccessClaims>()

/**
 * A `preValidation` hook for a route whose query or path is checked by its schema: the bearer
 * is checked first, so an anonymous caller gets the 401 before any 400 or 404 about the rest.
 */
export function requireAccess(sessions: Sessions): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    verified.set(request, await authenticate(sessions, request))
  }
}

/** The claims {@link requireAccess} verified for this request. */
export function accessClaims(request: FastifyRequest): AccessClaims {
  const claims = verified.get(request)
  if (claims === undefined) throw new Error(`${request.routeOptions.url ?? 'route'}: no requireAccess hook`)
  return claims
}
