import cluster from 'node:cluster'
import { parseArgs } from 'node:util'
import { type Config, SERVE_FLAGS, loadConfig } from '../config.js'
import { ConfigError, EXIT_CONFIG } from '../errors.js'
import { KeyError } from '../tokens/keys.js'

interface IO {
  out: { write(s: string): unknown }
  err: { write(s: string): unknown }
}

const HELP = `Usage: baton serve [--port N] [--host H] [--mode development|production]
                   [--store memory|sqlite|redis] [--data-dir DIR] [--workers N]

Runs the service. With no configuration: development mode, the embedded SQLite store and user
database in ./.baton, a development key kept there, and the demo page at /.
Every flag has an environment variable (PORT, HOST, BATON_MODE, BATON_STORE, BATON_DATA_DIR,
WORKERS); see README, "Configuration", for the rest.
`

/** Prints every configuration problem, one per line, naming the variable and the fix. */
export function formatConfigError(err: ConfigError): string {
  return `baton: cannot start: configuration\n${err.problems.map((p) => `  ${p.variable}: ${p.problem}\n    fix: ${p.fix}`).join('\n')}\n`
}

/**
 * `baton serve`. Answers an exit code when it cannot start (78 for configuration), or -1 while
 * it keeps serving; SIGTERM/SIGINT stop accepting, let in-flight requests finish, close stores.
 */
export async function runServeCommand(argv: string[], env: NodeJS.ProcessEnv, io: IO): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out.write(HELP)
    return 0
  }
  try {
    parseArgs({ args: argv, options: SERVE_FLAGS, strict: true, allowPositionals: false })
  } catch (err) {
    io.err.write(`baton serve: ${(err as Error).message}\n\n${HELP}`)
    return 2
  }
  let config: Config
  try {
    config = loadConfig(env, argv)
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err.write(formatConfigError(err))
      return EXIT_CONFIG
    }
    throw err
  }

  if (config.workers > 1 && cluster.isPrimary) return runPrimary(config, io)
  return runWorker(config, io)
}

async function runWorker(config: Config, io: IO): Promise<number> {
  const { createServer } = await import('../index.js')
  let server: Awaited<ReturnType<typeof createServer>>
  try {
    server = await createServer({ config })
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err.write(formatConfigError(err))
      return EXIT_CONFIG
    }
    if (err instanceof KeyError) {
      io.err.write(`baton: cannot start: ${err.message}\n`)
      return EXIT_CONFIG
    }
    throw err
  }
  const address = await server.app.listen({ port: config.port, host: config.host })
  const url = address.replace('[::1]', 'localhost')
  const firstWorker = cluster.isPrimary || cluster.worker?.id === 1
  if (firstWorker) {
    const { runStartupChecks } = await import('../startup-checks.js')
    void runStartupChecks(config, server.deps.store, server.deps.keys, server.deps.log)
  }
  if (cluster.isPrimary) {
    server.deps.log.info({ url, store: config.store, mode: config.mode }, `baton listening on ${url}`)
    io.out.write(`\nbaton is running at ${url}/${config.demo ? '  (demo page; API under /api/)' : ''}\n\n`)
  }

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    server.deps.log.info({ signal }, 'shutting down: finishing in-flight requests')
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        server.deps.log.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  // `on`, not `once`: a second signal (systemd's control group and the cluster primary both send
  // one to a worker) must not fall back to the default action and cut in-flight requests off.
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  return -1
}

/** Several workers share one port (node:cluster); each opens its own store connection. */
function runPrimary(config: Config, io: IO): number {
  for (let i = 0; i < config.workers; i++) cluster.fork()
  let stopping = false
  cluster.on('exit', (worker, code) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0)
      return
    }
    if (code === EXIT_CONFIG) process.exit(EXIT_CONFIG)
    io.err.write(`baton: worker ${worker.process.pid} exited (${code}); starting another\n`)
    cluster.fork()
  })
  const stop = () => {
    if (stopping) return
    stopping = true
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM')
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  // "Running" only once every worker listens: before that, connections all go to the workers
  // that are up, and a client (or a test) would be told the service is ready when it is not.
  let listening = 0
  const onListening = () => {
    if (++listening < config.workers) return
    cluster.off('listening', onListening)
    io.out.write(`\nbaton is running at http://${config.host}:${config.port}/ with ${config.workers} workers\n\n`)
  }
  cluster.on('listening', onListening)
  return -1
}
