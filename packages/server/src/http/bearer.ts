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
