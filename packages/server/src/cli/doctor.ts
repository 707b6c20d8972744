import { parseArgs } from 'node:util'
import { runDoctor, type DoctorDeps } from '../doctor/checks.js'
import { maskSecrets } from '../secrets.js'
import { exitCodeOf, formatHuman, formatJSON } from '../doctor/report.js'

/** Exit code for a command line doctor cannot understand (an unknown flag, a bad --timeout). */
export const EXIT_USAGE = 2

const USAGE = `Usage: baton doctor [options]

Checks the Redis that baton would use and says what to fix.

Options:
  --redis-url URL   the Redis URL to check (default: $REDIS_URL)
  --tls-ca FILE     PEM file of the CA that signed the Redis certificate
                    (default: $REDIS_TLS_CA_FILE)
  --timeout MS      timeout of each network step, in milliseconds (default: 2000)
  --json            print one JSON object { usable, url, findings }
  --help            print this help

Exit codes: 0 usable (warnings included), 1 not usable, 2 bad command line.
`

/**
 * `baton doctor`: diagnoses the Redis connection (SPEC §7) and prints one line per check.
 * Reads `REDIS_URL`, `REDIS_TLS_CA_FILE`, `REDIS_CLUSTER` and `STORE_TIMEOUT_MS` from `env`
 * (never from `process.env`). Returns the exit code: 0 usable (warnings included), 1 not usable
 * (an unusable URL is reported as a failed check, not as exit 78), 2 for a bad command line.
 * The password in the URL is never printed.
 */
export async function runDoctorCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  out: { write(s: string): void },
  deps?: DoctorDeps,
): Promise<number> {
  let values: { 'redis-url'?: string; json?: boolean; timeout?: string; 'tls-ca'?: string; help?: boolean }
  try {
    values = parseArgs({
      args: argv,
      options: {
        'redis-url': { type: 'string' },
        json: { type: 'boolean' },
        timeout: { type: 'string' },
        'tls-ca': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values
  } catch (err) {
    // parseArgs echoes a stray argument, which may be a URL with its password: mask it.
    const message = err instanceof Error ? (err.message.split('\n')[0] ?? '') : 'bad arguments'
    out.write(`baton doctor: ${maskSecrets(message)}\n\n${USAGE}`)
    return EXIT_USAGE
  }
  if (values.help === true) {
    out.write(USAGE)
    return 0
  }
  let timeoutMs = 2000
  if (values.timeout !== undefined) {
    if (!/^\d+$/.test(values.timeout) || Number(values.timeout) < 1) {
      out.write(`baton doctor: --timeout must be a positive number of milliseconds.\n\n${USAGE}`)
      return EXIT_USAGE
    }
    timeoutMs = Number(values.timeout)
  }
  const storeTimeout = Number(env.STORE_TIMEOUT_MS)
  const report = await runDoctor(
    {
      url: values['redis-url'] ?? (env.REDIS_URL === '' ? undefined : env.REDIS_URL),
      timeoutMs,
      tlsCAFile: values['tls-ca'] ?? env.REDIS_TLS_CA_FILE,
      clusterConfigured: ['1', 'true', 'yes', 'on'].includes((env.REDIS_CLUSTER ?? '').trim().toLowerCase()),
      storeTimeoutMs: Number.isFinite(storeTimeout) && storeTimeout > 0 ? storeTimeout : 500,
    },
    deps,
  )
  out.write(values.json === true ? formatJSON(report) : formatHuman(report))
  return exitCodeOf(report)
}
