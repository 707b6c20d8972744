import type { Readable } from 'node:stream'
import { parseArgs } from 'node:util'
import { exitCodeOf, formatHuman, formatJSON } from '../check/report.js'
import { maskSecrets } from '../secrets.js'
import { type CheckDeps, DEFAULT_GRACE_SECONDS, runCheck } from '../check/runner.js'
import { BATON_PATHS, resolveTarget } from '../check/target.js'
import { PromptCancelled, type TTYInput, promptHidden, readPasswordFrom } from './read-password.js'

/** A command line `baton check` will not run: unknown flag, a password flag, unsafe http://. */
export const EXIT_USAGE = 2

const USAGE = `Usage: baton check URL --username NAME [--password-stdin] [options]

A black-box report on a deployed token service with simplejwt's wire format (baton, or Django
with djangorestframework-simplejwt): rotation, lost-response retries, parallel refreshes,
replay after the grace window, bad input, error shape, headers and lifetimes.

  URL                   where the endpoints live, e.g. https://host/api/auth/ (baton)
                        or https://host/api/ (Django, with the --paths below)

Options:
  --username NAME       the account to log in with (it is logged in several times and every
                        session the check opens is logged out at the end)
  --password-stdin      read the password from standard input (one trailing newline removed);
                        without it the password is asked for on the terminal, not echoed.
                        There is no flag for the password itself.
  --paths L,R,V,B       LOGIN,REFRESH,VERIFY,BLACKLIST relative to URL
                        (default ${BATON_PATHS}; Django: token/,token/refresh/,token/verify/,token/blacklist/)
  --protected PATH      a resource that needs a bearer token, for WWW-Authenticate
                        (default ../me/; "none" skips the check)
  --grace-seconds N     wait this long after a rotation before replaying the old token
                        (default ${DEFAULT_GRACE_SECONDS}: baton's grace window is 15 s; simplejwt has none, 0 is fine)
  --timeout MS          timeout of each request (default 10000)
  --insecure            allow plain http:// to a host that is not loopback (the password
                        would cross the network unencrypted); TLS is still verified for https://
  --json                print one JSON object {target, findings, requests}
  -h, --help            print this help

Exit codes: 0 nothing failed (warnings included), 1 a check failed, 2 bad command line
(including http:// to a non-loopback host without --insecure), 130 cancelled at the prompt.
`

export interface CheckCommandIO {
  out: { write(s: string): unknown; isTTY?: boolean }
  err: { write(s: string): unknown }
  /** Where --password-stdin reads from, and the terminal the prompt uses when it is one. */
  stdin: Readable & { isTTY?: boolean }
}

type Values = {
  username?: string
  'password-stdin'?: boolean
  paths?: string
  protected?: string
  'grace-seconds'?: string
  timeout?: string
  insecure?: boolean
  json?: boolean
  help?: boolean
}

/**
 * `baton check URL …` (SPEC §9). Returns the exit code: 0 nothing failed, 1 something failed,
 * 2 bad command line, 130 cancelled. Never prints the password or a token, even in --json or in
 * an error; the URL is printed with any userinfo masked.
 */
export async function runCheckCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  io: CheckCommandIO,
  deps: CheckDeps = {},
): Promise<number> {
  const usage = (message: string): number => {
    io.err.write(`baton check: ${message}\n\n${USAGE}`)
    return EXIT_USAGE
  }
  // Never take a password on the command line (it would sit in shell history and `ps`); say so
  // without echoing what followed the flag.
  if (argv.some((a) => /^(--password|-p)(=|$)/.test(a)))
    return usage('the password is never a flag: pipe it with --password-stdin, or type it at the prompt')
  let values: Values
  let positionals: string[]
  try {
    const parsed = parseArgs({
      args: argv,
      options: {
        username: { type: 'string', short: 'u' },
        'password-stdin': { type: 'boolean' },
        paths: { type: 'string' },
        protected: { type: 'string' },
        'grace-seconds': { type: 'string' },
        timeout: { type: 'string' },
        insecure: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    })
    values = parsed.values
    positionals = parsed.positionals
  } catch (err) {
    // First sentence only: parseArgs's advice repeats the argument.
    return usage(err instanceof Error ? (err.message.split('. ')[0] ?? 'bad arguments') : 'bad arguments')
  }
  if (values.help === true) {
    io.out.write(USAGE)
    return 0
  }
  if (positionals.length !== 1) return usage(positionals.length === 0 ? 'missing URL' : 'expected one URL')
  if (values.username === undefined || values.username === '') return usage('--username is required')
  const grace = values['grace-seconds'] ?? String(DEFAULT_GRACE_SECONDS)
  if (!/^\d+(\.\d+)?$/.test(grace) || Number(grace) > 3600) return usage('--grace-seconds takes a number of seconds (0 to 3600)')
  const timeout = values.timeout ?? '10000'
  // AbortSignal.timeout refuses more than 2^32 - 1 ms: an absurd value would make every request
  // look like a network failure of the target rather than a mistake on the command line.
  if (!/^\d+$/.test(timeout) || Number(timeout) < 1 || Number(timeout) > 3_600_000)
    return usage('--timeout takes a number of milliseconds (1 to 3600000)')

  const resolved = resolveTarget({ url: positionals[0]!, paths: values.paths, protected: values.protected, insecure: values.insecure })
  if (resolved.kind === 'usage') return usage(resolved.message)

  let password: string
  try {
    const read = await readPassword(values['password-stdin'] === true, values.username, io)
    if (read.kind === 'error') {
      io.err.write(`baton check: ${read.message}\n`)
      return EXIT_USAGE
    }
    password = read.password
  } catch (err) {
    if (err instanceof PromptCancelled) {
      io.err.write('baton check: cancelled\n')
      return 130
    }
    throw err
  }

  const { report, secrets } = await runCheck(
    { target: resolved.target, username: values.username, password, graceSeconds: Number(grace), timeoutMs: Number(timeout) },
    { progress: (line) => io.err.write(`baton check: ${line}\n`), ...deps },
  )
  const color = io.out.isTTY === true && (env.NO_COLOR ?? '') === '' && env.TERM !== 'dumb'
  const text = values.json === true ? formatJSON(report) : formatHuman(report, { color })
  // The last guard before anything is printed: every token and the password the run handled
  // are masked by the one policy (secrets.ts), should any have reached a title.
  io.out.write(maskSecrets(text, [...secrets]))
  return exitCodeOf(report)
}

async function readPassword(
  fromStdin: boolean,
  username: string,
  io: CheckCommandIO,
): Promise<{ kind: 'ok'; password: string } | { kind: 'error'; message: string }> {
  if (fromStdin) {
    const password = await readPasswordFrom(io.stdin)
    if (password === null) return { kind: 'error', message: 'standard input is too long to be a password' }
    if (password === '') return { kind: 'error', message: 'standard input is empty: no password' }
    return { kind: 'ok', password }
  }
  if (io.stdin.isTTY === true && typeof (io.stdin as Partial<TTYInput>).setRawMode === 'function') {
    const password = await promptHidden(io.stdin as TTYInput, io.err as { write(s: string): boolean }, `Password for ${username}: `)
    return password === '' ? { kind: 'error', message: 'no password typed' } : { kind: 'ok', password }
  }
  return {
    kind: 'error',
    message: 'standard input is not a terminal, so the password cannot be prompted for; pipe it in with --password-stdin',
  }
}
