import { spawn } from 'node:child_process'

/** How a finished process ended and everything it printed. */
export interface ProcessResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface RunProcessOptions {
  /** @default the test's working directory */
  cwd?: string
  /** The whole environment of the child. @default the test's own (`process.env`) */
  env?: Record<string, string | undefined>
  /** Written to standard input, which is then closed. @default standard input is /dev/null */
  input?: string
}

/**
 * A user's shell: PATH and HOME only, so nothing of the runner's (REDIS_URL, DATABASE_URL,
 * npm_* variables) leaks into the child.
 */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...extra }
}

/**
 * Runs `command args` to completion and collects its output: the one place tests spawn a
 * process and wait for its exit code (every CLI, npm, git and packaging test goes through it).
 * Rejects only when the command cannot be started; a non-zero exit is the caller's to assert.
 */
export function runProcess(command: string, args: readonly string[], options: RunProcessOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const where = {
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.env !== undefined ? { env: options.env } : {}),
    }
    const child =
      options.input === undefined
        ? spawn(command, args, { ...where, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(command, args, { ...where, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    if (options.input !== undefined && child.stdin !== null) {
      // A child that exits before reading its input closes the pipe (EPIPE): its exit code and
      // output are what the test asserts, not an unhandled stream error.
      child.stdin.on('error', () => {})
      child.stdin.end(options.input)
    }
  })
}
