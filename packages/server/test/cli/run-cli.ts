import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type ProcessResult, baseEnv, runProcess } from '../helpers/run-process.js'

export { baseEnv }

/** The repository root (tsx is resolved from there). */
export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url))
const MAIN = 'packages/server/src/cli/main.ts'

/**
 * Runs `baton <args>` (the CLI through tsx, from the repository root) to completion in a clean
 * environment (`baseEnv(env)`), `input` piped to its standard input.
 */
export function runCLI(args: string[], env: Record<string, string> = {}, options: { input?: string } = {}): Promise<ProcessResult> {
  return runProcess(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: baseEnv(env), ...options })
}

export interface Served {
  child: ChildProcess
  url: string
  /** Everything printed so far. */
  output(): string
  /** Resolves once the output matches. */
  waitFor(pattern: RegExp): Promise<void>
  /** Resolves with the exit code. */
  exited: Promise<number | null>
}

/** Starts `baton serve` and resolves once it printed its URL. The caller must stop it. */
export function startServe(env: Record<string, string>): Promise<Served> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve'], {
    cwd: ROOT,
    env: baseEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const waiters: { pattern: RegExp; resolve: () => void }[] = []
  const onData = (d: string) => {
    out += d
    for (const w of [...waiters]) {
      if (w.pattern.test(out)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    }
  }
  child.stdout!.setEncoding('utf8').on('data', onData)
  child.stderr!.setEncoding('utf8').on('data', onData)
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const waitFor = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      if (pattern.test(out)) return resolve()
      waiters.push({ pattern, resolve })
      void exited.then((code) => reject(new Error(`baton exited (${String(code)}) before printing ${pattern}:\n${out}`)))
    })
  return waitFor(/baton is running at (http:\/\/\S+?)\/?\s/).then(
    () => {
      const url = /baton is running at (http:\/\/\S+?)\/?\s/.exec(out)![1]!
      return { child, url, output: () => out, waitFor, exited }
    },
    (err: unknown) => {
      child.kill('SIGKILL')
      throw err
    },
  )
}
