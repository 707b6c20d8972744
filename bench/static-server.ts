/**
 * The HTTP ceiling: the same stack as baton (Fastify 5 with the options of `app.ts`, the same pino
 * logger at the same level, the same `WORKERS` cluster) answering a static JSON body the size of
 * `/api/me/`'s. No plugins, no hooks, no routes but two: what baton adds on top is its own cost.
 * Run by `bench/run.ts`; env: PORT, HOST, WORKERS, LOG_LEVEL.
 */
import cluster from 'node:cluster'
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify'
import { type Logger, createLogger, lazyChildLogger } from '../packages/server/src/log.js'

const workers = Number(process.env.WORKERS ?? '1')

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork()
  process.once('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM')
    process.exit(0)
  })
} else {
  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' })
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger, bindings, options) => lazyChildLogger(logger as Logger, bindings, options) as FastifyBaseLogger,
    bodyLimit: 16_384,
    trustProxy: false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    genReqId: () => crypto.randomUUID(),
    return503OnClosing: true,
    http: { maxHeaderSize: 16_384 },
  })
  const body = { id: '17', username: 'bench-user-17' }
  app.get('/api/static/', async () => body)
  app.get('/healthz', async () => ({ status: 'ok' }))
  await app.listen({ port: Number(process.env.PORT ?? '8001'), host: process.env.HOST ?? '127.0.0.1' })
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)))
}
