#!/usr/bin/env node
import { EXIT_CONFIG } from '../errors.js'
import { IOREDIS_DEBUG_WARNING, silenceIoredisDebug } from '../store/ioredis-debug.js'

const HELP = `baton: JWT access/refresh token service

Usage: baton <command> [options]

Commands:
  serve          run the HTTP service (default mode: no configuration needed)
  doctor         diagnose the Redis connection and say what to fix
  keygen         print a new signing key
  users add      create a user in baton's user store
  check URL      report on a deployed token service (baton or simplejwt): rotation, retries, headers

Run \`baton <command> --help\` for a command's options. Configuration is read from
environment variables (see README, "Configuration").
`

/** The `baton` command: dispatches to one module per subcommand, each answering an exit code. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  const io = { out: process.stdout, err: process.stderr }
  // Before any command opens a Redis connection: ioredis's debug output prints AUTH's password.
  if (silenceIoredisDebug()) io.err.write(IOREDIS_DEBUG_WARNING)
  switch (command) {
    case 'serve': {
      const { runServeCommand } = await import('./serve.js')
      return runServeCommand(rest, process.env, io)
    }
    case 'doctor': {
      const { runDoctorCommand } = await import('./doctor.js')
      return runDoctorCommand(rest, process.env, process.stdout)
    }
    case 'keygen': {
      const { runKeygenCommand } = await import('./keygen.js')
      return runKeygenCommand(rest, io, process.env)
    }
    case 'check': {
      const { runCheckCommand } = await import('./check.js')
      return runCheckCommand(rest, process.env, { out: process.stdout, err: process.stderr, stdin: process.stdin })
    }
    case 'users': {
      const { runUsersCommand } = await import('./users.js')
      return runUsersCommand(rest, process.env, io)
    }
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(HELP)
      return command === undefined ? 2 : 0
    default:
      process.stderr.write(`baton: unknown command "${command}"\n\n${HELP}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // `serve` keeps running: it answers -1 and exits on its own signal handling.
    if (code >= 0) process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`baton: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = err instanceof Error && err.name === 'ConfigError' ? EXIT_CONFIG : 1
  },
)
