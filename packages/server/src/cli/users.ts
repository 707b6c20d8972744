import { loadPasswordParams } from '../config.js'
import { ConfigError, EXIT_CONFIG, StoreUnavailableError } from '../errors.js'
import { openUserStore, readUserStoreKind } from '../users/open.js'
import {
  hashPassword,
  MAX_PASSWORD_LENGTH,
  normalizeUsername,
  type ScryptParams,
  validatePassword,
  validateUsername,
} from '../users/password.js'
import type { UserStore } from '../users/types.js'
import { PromptCancelled, promptHidden, readPasswordFrom, trimOneNewline } from './read-password.js'

export interface UsersCommandIO {
  out: { write(s: string): void }
  err: { write(s: string): void }
  /**
   * Where the password comes from. By default: all of standard input with `--password-stdin`,
   * else a prompt on the terminal (no echo, asked twice). Tests inject it.
   */
  readPassword?: () => Promise<string>
}

export interface UsersCommandOptions {
  /** scrypt params for the new hash. @default `PASSWORD_SCRYPT_LN`'s (OWASP's N=2^17, r=8, p=1 unset; tests pass cheap ones) */
  passwordParams?: ScryptParams
}

const USAGE = `Usage: baton users add <username> [--password-stdin]

Creates a user in the user database: the one DATABASE_URL names (postgres://… or
sqlite:////abs/path), else the SQLite file users.db in BATON_DATA_DIR (default ./.baton).
With USER_STORE=django it refuses (exit 1): baton never writes Django's user table.

Options:
  --password-stdin   read the password from standard input (one trailing newline is removed)
  -h, --help         show this help

Without --password-stdin, the password is asked for on the terminal (not echoed, twice).
Usernames: 1-150 letters, digits and @ . + - _ (case-sensitive).
Passwords: 1-${MAX_PASSWORD_LENGTH} characters.

Exit status: 0 created, 1 username taken, database unavailable or USER_STORE=django, 2 usage error,
${EXIT_CONFIG} bad configuration, 130 cancelled at the prompt.
`

const TOO_LONG = `Ensure this field has no more than ${MAX_PASSWORD_LENGTH} characters.`

/**
 * `baton users …`: `argv` is what follows `users` (`['add', 'alice', '--password-stdin']`).
 * Returns the exit status: 0 created (prints `created user <name> (id <id>)`), 1 taken or the
 * database unavailable, 2 usage error, 78 bad `DATABASE_URL`. Never prints a password or a URL
 * password.
 */
export async function runUsersCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  io: UsersCommandIO,
  options: UsersCommandOptions = {},
): Promise<number> {
  const parsed = parseArgs(argv)
  if (parsed.kind === 'help') {
    io.out.write(USAGE)
    return 0
  }
  if (parsed.kind === 'usage') {
    io.err.write(`baton users: ${parsed.message}\n\n${USAGE}`)
    return 2
  }

  const username = normalizeUsername(parsed.username)
  const usernameProblem = validateUsername(username)
  if (usernameProblem !== null) {
    io.err.write(`baton users: username ${JSON.stringify(parsed.username)}: ${usernameProblem}\n`)
    return 2
  }

  let store: UserStore | undefined
  try {
    // Read and opened before asking for the password, so a wrong PASSWORD_SCRYPT_LN or
    // DATABASE_URL fails before any typing.
    const params = options.passwordParams ?? loadPasswordParams(env)
    if (readUserStoreKind(env.USER_STORE) === 'django') {
      // SPEC §9: Django's user table is read-only for baton.
      io.err.write(
        "baton users: USER_STORE=django: users live in Django's table, which baton never writes; " +
          'create them with Django (manage.py createsuperuser, the admin or your sign-up view)\n',
      )
      return 1
    }
    store = await openUserStore(env)
    if ((await store.findByUsername(username)) !== null) {
      io.err.write(`baton users: username ${JSON.stringify(username)} is already taken\n`)
      return 1
    }

    const password = await readNewPassword(io, parsed.passwordStdin)
    if (typeof password === 'number') return password
    const passwordProblem = validatePassword(password)
    if (passwordProblem !== null) {
      io.err.write(`baton users: password: ${passwordProblem}\n`)
      return 2
    }

    const passwordHash = await hashPassword(password, params)
    const outcome = await store.createUser({ username, passwordHash, now: Date.now() })
    if (outcome.kind === 'taken') {
      io.err.write(`baton users: username ${JSON.stringify(username)} is already taken\n`)
      return 1
    }
    if (username !== parsed.username) {
      io.err.write(`baton users: note: username normalized to ${JSON.stringify(username)}\n`)
    }
    io.out.write(`created user ${outcome.user.username} (id ${outcome.user.id})\n`)
    return 0
  } catch (err) {
    if (err instanceof PromptCancelled) {
      io.err.write('\nbaton users: cancelled\n')
      return 130
    }
    if (err instanceof ConfigError) {
      io.err.write(`baton users: ${err.message}\n`)
      return EXIT_CONFIG
    }
    if (err instanceof StoreUnavailableError) {
      const cause = err.cause instanceof Error ? `: ${err.cause.message}` : ''
      io.err.write(`baton users: user database ${err.address} unavailable${cause}\n`)
      return 1
    }
    throw err
  } finally {
    await store?.close()
  }
}

/**
 * The new user's password: from the test hook, standard input (`--password-stdin`) or a prompt
 * asked twice. A number is the exit status of a failure, whose message is already written.
 */
async function readNewPassword(io: UsersCommandIO, passwordStdin: boolean): Promise<string | number> {
  if (io.readPassword) {
    const password = await io.readPassword()
    return passwordStdin ? trimOneNewline(password) : password
  }
  if (passwordStdin) {
    // Four bytes per character at most, plus a newline: more than that is not a password.
    const input = await readPasswordFrom(process.stdin, MAX_PASSWORD_LENGTH * 4 + 2)
    if (input === null) {
      io.err.write(`baton users: password: ${TOO_LONG}\n`)
      return 2
    }
    return input
  }
  if (process.stdin.isTTY) {
    const password = await promptHidden(process.stdin, process.stderr, 'Password: ')
    if ((await promptHidden(process.stdin, process.stderr, 'Password (again): ')) !== password) {
      io.err.write('baton users: the passwords do not match\n')
      return 2
    }
    return password
  }
  io.err.write(
    'baton users: standard input is not a terminal, so the password cannot be prompted for; ' + 'pipe it in with --password-stdin\n',
  )
  return 2
}

type ParsedArgs = { kind: 'help' } | { kind: 'usage'; message: string } | { kind: 'add'; username: string; passwordStdin: boolean }

function parseArgs(argv: readonly string[]): ParsedArgs {
  const [command, ...rest] = argv
  if (command === undefined) return { kind: 'usage', message: 'missing command (add)' }
  if (command === '-h' || command === '--help' || command === 'help') return { kind: 'help' }
  if (command !== 'add') {
    return { kind: 'usage', message: `unknown command ${JSON.stringify(command)}` }
  }

  const positional: string[] = []
  let passwordStdin = false
  let optionsEnded = false
  for (const arg of rest) {
    if (!optionsEnded && arg === '--') optionsEnded = true
    else if (!optionsEnded && (arg === '-h' || arg === '--help')) return { kind: 'help' }
    else if (!optionsEnded && arg === '--password-stdin') passwordStdin = true
    else if (!optionsEnded && arg.startsWith('--')) {
      return { kind: 'usage', message: `unknown option ${JSON.stringify(arg)}` }
    } else positional.push(arg)
  }
  const [username, ...extra] = positional
  if (username === undefined) return { kind: 'usage', message: 'missing <username>' }
  if (extra.length > 0) {
    return { kind: 'usage', message: `unexpected argument ${JSON.stringify(extra[0])}` }
  }
  return { kind: 'add', username, passwordStdin }
}
