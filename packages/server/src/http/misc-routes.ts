import type { FastifyInstance } from 'fastify'
import type { Deps } from '../deps.js'
import { BatonError } from '../errors.js'
import type { Sessions } from '../sessions.js'
import { authenticate } from './bearer.js'
import { USER, errorResponses } from './schemas.js'
import { createUserCache } from './user-cache.js'

const STORE_KIND = { type: 'string', description: 'memory, sqlite, redis, …' } as const

/** `/api/me/`, JWKS, health, readiness and metrics. */
export function registerMiscRoutes(app: FastifyInstance, deps: Deps, sessions: Sessions): void {
  const findUser = createUserCache((id) => deps.credentials.findById(id), deps.clock)
  const meSchema = {
    security: [{ bearer: [] }],
    response: { 200: USER, ...errorResponses('token_not_valid', 'token_revoked', 'store_unavailable') },
  }
  app.get('/api/me/', { schema: meSchema }, async (request) => {
    const claims = await authenticate(sessions, request)
    const user = await findUser(claims.sub)
    if (user === null) throw new BatonError('token_not_valid', { detail: 'User not found.' })
    return { id: user.id, username: user.username }
  })

  // Sent as the string made once; the schema is the document's, nothing is serialised.
  const jwks = JSON.stringify(deps.keys.jwks)
  const jwksSchema = {
    response: {
      200: {
        type: 'object',
        description: 'The public keys of the access tokens (RFC 7517), so other services verify them alone.',
        properties: { keys: { type: 'array', items: { type: 'object', additionalProperties: true } } },
        required: ['keys'],
      },
    },
  }
  app.get('/.well-known/jwks.json', { schema: jwksSchema }, async (_request, reply) => {
    return reply.header('content-type', 'application/json').header('cache-control', 'public, max-age=300').send(jwks)
  })

  const status = { type: 'string' } as const
  const healthSchema = { response: { 200: { type: 'object', properties: { status }, required: ['status'], additionalProperties: false } } }
  app.get('/healthz', { schema: healthSchema }, async () => ({ status: 'ok' }))

  const readySchema = {
    response: {
      200: {
        type: 'object',
        description: 'The store answers.',
        properties: {
          status,
          store: {
            type: 'object',
            properties: { kind: STORE_KIND, state: { type: 'string', enum: ['up'] }, latency_ms: { type: 'number' } },
            required: ['kind', 'state', 'latency_ms'],
            additionalProperties: false,
          },
        },
        required: ['status', 'store'],
        additionalProperties: false,
      },
      503: {
        type: 'object',
        description: 'The store cannot be reached; Retry-After is set.',
        properties: {
          status,
          store: {
            type: 'object',
            properties: { kind: STORE_KIND, state: { type: 'string', enum: ['down'] } },
            required: ['kind', 'state'],
            additionalProperties: false,
          },
        },
        required: ['status', 'store'],
        additionalProperties: false,
      },
    },
  }
  app.get('/readyz', { schema: readySchema }, async (_request, reply) => {
    try {
      const latency = await deps.store.check()
      return { status: 'ok', store: { kind: deps.store.kind, state: 'up', latency_ms: Math.round(latency * 100) / 100 } }
    } catch {
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({ status: 'unavailable', store: { kind: deps.store.kind, state: 'down' } })
    }
  })

  const metricsSchema = {
    response: { 200: { description: 'Prometheus text exposition.', content: { 'text/plain': { schema: { type: 'string' } } } } },
  }
  app.get('/metrics', { schema: metricsSchema }, async (_request, reply) => {
    return reply.header('content-type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics())
  })
}
