import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyCookie from '@fastify/cookie'
import fastifyCors from '@fastify/cors'
import fastifyStatic from '@fastify/static'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import type { Socket } from 'node:net'
import type { Deps } from './deps.js'
import { ERRORS } from './errors.js'
import { registerAuthRoutes } from './http/auth-routes.js'
import { registerDevRoutes } from './http/dev-routes.js'
import { CSRF_HEADER } from './http/cookies.js'
import { frameworkErrorHandler, installErrorHandler } from './http/error-handler.js'
import { registerMiscRoutes } from './http/misc-routes.js'
import { registerOpenAPI } from './http/openapi.js'
import { TOTAL_COUNT_HEADER, registerSessionRoutes } from './http/session-routes.js'
import { compileSchema, formatSchemaErrors } from './http/validator.js'
import { type Logger, lazyChildLogger } from './log.js'
import { fastifyTrustProxy } from './http/trust-proxy.js'
import { createSessions } from './sessions.js'

/** Where the demo page's built files are (`npm run build` puts them there). */
export const DEMO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'demo')

const PACKAGE_VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version

/** Builds the Fastify instance: plugins, routes, the error handler. Does not listen. */
export async function buildApp(deps: Deps): Promise<FastifyInstance> {
  const { config } = deps
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // The per-request child logger is made only if the request logs (see log.ts).
    childLoggerFactory: (logger, bindings, options) => lazyChildLogger(logger as Logger, bindings, options) as FastifyBaseLogger,
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler,
    // Route schemas are checked DRF-style, with SPEC §1's codes (http/validator.ts).
    schemaErrorFormatter: formatSchemaErrors,
    bodyLimit: config.bodyLimit,
    trustProxy: fastifyTrustProxy(config.trustProxy),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    genReqId: () => crypto.randomUUID(),
    return503OnClosing: true,
    http: { maxHeaderSize: 16_384 },
  })

  // Only JSON bodies (SPEC §1: anything else is 415). Fastify answers 415 for unknown types
  // once the default text/plain parser is gone.
  app.removeContentTypeParser(['text/plain'])
  app.setValidatorCompiler(compileSchema)

  await app.register(fastifyCookie)
  if (config.corsOrigins.length > 0) {
    await app.register(fastifyCors, {
      origin: [...config.corsOrigins],
      credentials: true,
      // DELETE: revoking a session (DELETE /api/auth/sessions/:id/) from the other origin.
      methods: ['GET', 'HEAD', 'POST', 'DELETE'],
      allowedHeaders: ['content-type', 'authorization', CSRF_HEADER],
      // A cross-origin script reads only CORS-safelisted headers; the client needs Retry-After
      // to back off as the server asks during an outage, and the sessions list's total.
      exposedHeaders: ['retry-after', TOTAL_COUNT_HEADER],
      maxAge: 600,
    })
  }

  installErrorHandler(app)
  // Graceful shutdown: a request in flight when close() began would otherwise answer
  // `Connection: keep-alive`, and the idle socket would hold the process open for the whole
  // keep-alive timeout (72 s). Closing it after its last answer lets shutdown finish at once.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  // The two per-request hooks take `done` instead of being async: an async hook costs Fastify a
  // promise and a microtask per request, on the path every request takes (issue 5).
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close')
    done(null, payload)
  })
  app.addHook('onResponse', (request, reply, done) => {
    deps.metrics.httpRequests.inc({
      route: request.routeOptions.url ?? 'unmatched',
      method: request.method,
      status: String(reply.statusCode),
    })
    done()
  })

  // Before the routes: the document is made from the schemas of the routes registered after it.
  await registerOpenAPI(app, PACKAGE_VERSION)
  const sessions = createSessions(deps)
  registerAuthRoutes(app, deps, sessions)
  registerSessionRoutes(app, sessions)
  registerMiscRoutes(app, deps, sessions)

  if (config.demo) await registerDemo(app, deps)
  // The demo's outage switch: development only, so in production these routes are a 404.
  if (config.demo && config.mode === 'development' && deps.storeFault !== undefined) registerDevRoutes(app, deps.storeFault)
  return app
}

async function registerDemo(app: FastifyInstance, deps: Deps): Promise<void> {
  const clientDir = dirname(createRequire(import.meta.url).resolve('@baton/client'))
  if (!existsSync(DEMO_DIR) || !existsSync(clientDir)) {
    deps.log.warn({ dir: DEMO_DIR }, 'demo page not built (run `npm run build`); serving the API only')
    return
  }
  // The demo page imports the client's own ES modules, straight from its package folder.
  await app.register(fastifyStatic, { root: clientDir, prefix: '/client/', decorateReply: false })
  await app.register(fastifyStatic, { root: DEMO_DIR, prefix: '/', decorateReply: false })
  // The page must create its client in the server's token transport (body or cookie).
  const demoConfig = {
    tokenTransport: deps.config.tokenTransport,
    devControls: deps.config.mode === 'development' && deps.storeFault !== undefined,
  }
  const schema = {
    response: {
      200: {
        type: 'object',
        description: "The demo page's settings.",
        properties: { tokenTransport: { type: 'string', enum: ['body', 'cookie'] }, devControls: { type: 'boolean' } },
        required: ['tokenTransport', 'devControls'],
        additionalProperties: false,
      },
    },
  }
  app.get('/demo/config.json', { schema }, async (_request, reply) => reply.header('cache-control', 'no-store').send(demoConfig))
}

/**
 * Errors Node's HTTP parser raises before Fastify sees a request. Headers over the limit get
 * 431 with baton's JSON body (issue 6); anything else a plain 400. Never a stack, never input.
 */
function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const code = err.code === 'HPE_HEADER_OVERFLOW' ? 'request_header_fields_too_large' : 'bad_request'
  const status = code === 'bad_request' ? '400 Bad Request' : '431 Request Header Fields Too Large'
  const body = JSON.stringify({ detail: ERRORS[code].detail, code })
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  )
}
