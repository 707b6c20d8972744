import fastifySwagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import { ERROR_BODY } from './schemas.js'

/** Where the OpenAPI document of the routes is served. */
export const OPENAPI_PATH = '/openapi.json'

/**
 * The OpenAPI 3.1 document of every route, made by @fastify/swagger from the same route schemas
 * the validator checks and the serialiser writes: it cannot describe a route that is not served.
 * Registered before the routes, whose `onRoute` it records; HEAD routes are listed too, as
 * Fastify serves one beside each GET. The demo's static files are hidden (@fastify/static marks
 * its routes so); everything else is in.
 */
export async function registerOpenAPI(app: FastifyInstance, version: string): Promise<void> {
  app.addSchema(ERROR_BODY)
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'baton',
        version,
        description: 'JWT access and rotating refresh tokens; simplejwt\'s wire format (README.md, "HTTP API").',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    exposeHeadRoutes: true,
    // Shared schemas keep their names (ErrorBody) in components.schemas.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  })

  let document: string | undefined
  const schema = { response: { 200: { type: 'object', description: 'This document (OpenAPI 3.1).', additionalProperties: true } } }
  app.get(OPENAPI_PATH, { schema }, async (_request, reply) => {
    // Made once, on the first request: every route is registered by then.
    document ??= JSON.stringify(app.swagger())
    return reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-cache').send(document)
  })
}
