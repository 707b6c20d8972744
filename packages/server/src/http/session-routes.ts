import type { FastifyInstance } from 'fastify'
import { BatonError } from '../errors.js'
import type { Sessions } from '../sessions.js'
import { authenticate } from './bearer.js'

/** GET the user's live sessions; DELETE one of them (SPEC §1). */
export function registerSessionRoutes(app: FastifyInstance, sessions: Sessions): void {
  app.get('/api/auth/sessions/', async (request, reply) => {
    const claims = await authenticate(sessions, request)
    void reply.header('cache-control', 'no-store')
    return sessions.list(claims)
  })

  app.delete<{ Params: { id: string } }>('/api/auth/sessions/:id/', async (request, reply) => {
    const claims = await authenticate(sessions, request)
    const id = request.params.id
    if (typeof id !== 'string' || id.length === 0 || id.length > 64) throw new BatonError('not_found')
    await sessions.revoke(claims, id)
    return reply.code(204).send()
  })
}
