import type { FastifyInstance } from 'fastify'
import type { Deps } from '../deps.js'
import { BatonError } from '../errors.js'
import type { Sessions } from '../sessions.js'
import { authenticate } from './bearer.js'
import { createUserCache } from './user-cache.js'

/** `/api/me/`, JWKS, health, readiness and metrics. */
export function registerMiscRoutes(app: FastifyInstance, deps: Deps, sessions: Sessions): void {
  const findUser = createUserCache((id) => deps.credentials.findById(id), deps.clock)
  app.get('/api/me/', async (request) => {
    const claims = await authenticate(sessions, request)
    const user = await findUser(claims.sub)
    if (user === null) throw new BatonError('token_not_valid', { detail: 'User not found.' })
    return { id: user.id, username: user.username }
  })

  const jwks = JSON.stringify(deps.keys.jwks)
  app.get('/.well-known/jwks.json', async (_request, reply) => {
    return reply.header('content-type', 'application/json').header('cache-control', 'public, max-age=300').send(jwks)
  })

  app.get('/healthz', async () => ({ status: 'ok' }))

  app.get('/readyz', async (_request, reply) => {
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

  app.get('/metrics', async (_request, reply) => {
    return reply.header('content-type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics())
  })
}
