import type { FastifyInstance } from 'fastify'
import type { Sessions } from '../sessions.js'
import { accessClaims, requireAccess } from './bearer.js'
import { SESSION_INFO, errorResponses } from './schemas.js'
import type { ObjectSchema } from './validator.js'

/** Sessions a list answers when the query names no `limit`, and the most it may name. */
export const SESSION_LIST_DEFAULT = 100
export const SESSION_LIST_MAX = 500
/** The header with how many live sessions the user has, listed or not. */
export const TOTAL_COUNT_HEADER = 'x-total-count'

const LIST_QUERY: ObjectSchema = {
  type: 'object',
  properties: {
    limit: {
      type: 'integer',
      minimum: 1,
      maximum: SESSION_LIST_MAX,
      default: SESSION_LIST_DEFAULT,
      description: 'At most this many sessions, the most recently used first; the current one is always among them.',
    },
  },
}

const SESSION_ID: ObjectSchema = {
  type: 'object',
  // Longer than any id baton issues: it names nothing of yours (404, as another user's session).
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
  required: ['id'],
}

const BEARER = [{ bearer: [] }]
const AUTH_ERRORS = errorResponses('token_not_valid', 'token_revoked', 'store_unavailable')

/** GET the user's live sessions; DELETE one of them (SPEC §1). */
export function registerSessionRoutes(app: FastifyInstance, sessions: Sessions): void {
  const preValidation = requireAccess(sessions)

  const listSchema = {
    security: BEARER,
    querystring: LIST_QUERY,
    response: {
      200: {
        type: 'array',
        description: 'The most recently used live sessions, at most `limit`, the current one always among them.',
        items: SESSION_INFO,
        headers: { [TOTAL_COUNT_HEADER]: { type: 'integer', description: 'How many live sessions the user has in all.' } },
      },
      ...errorResponses('bad_request'),
      ...AUTH_ERRORS,
    },
  }
  app.get<{ Querystring: { limit: number } }>('/api/auth/sessions/', { schema: listSchema, preValidation }, async (request, reply) => {
    const page = await sessions.list(accessClaims(request), { limit: request.query.limit })
    void reply.header('cache-control', 'no-store').header(TOTAL_COUNT_HEADER, String(page.total))
    return page.sessions
  })

  const deleteSchema = {
    security: BEARER,
    params: SESSION_ID,
    response: { 204: { type: 'null', description: 'Revoked.' }, ...errorResponses('not_found'), ...AUTH_ERRORS },
  }
  app.delete<{ Params: { id: string } }>('/api/auth/sessions/:id/', { schema: deleteSchema, preValidation }, async (request, reply) => {
    await sessions.revoke(accessClaims(request), request.params.id)
    return reply.code(204).send()
  })
}
