/**
 * Real Django for the interop tests: the fixture project in `interop/django` (Django + DRF +
 * simplejwt with rotation and blacklist, as the stack baton replaces runs it), migrated into a
 * fresh database and served by gunicorn on a free loopback port.
 *
 * Always Debian's `/usr/bin/python3`: the `python3` on PATH may be a pyenv without Django.
 * `scripts/test.sh` installs the Debian packages where missing.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../packages/server/test/helpers/redis-server.js'

export const PYTHON = '/usr/bin/python3'

// A test file the runner ends early (a timeout) skips its after() hooks: its gunicorn must not
// outlive it, so every one still running is killed when the process exits.
const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})
export const DJANGO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../django')

/** The fixture's environment: DATABASE_URL plus simplejwt settings (`SJ_*`, see settings.py). */
export type DjangoEnv = Record<string, string>

export interface SeedUser {
  username: string
  password?: string
  /** A Django hasher name (`pbkdf2_sha256`, `argon2`, …), `scrypt`, `unusable`, or `raw` with `encoded`. */
  hasher?: string
  encoded?: string
  is_active?: boolean
  email?: string
  /** scrypt only: the parallelism Django wrote (4.0–5.0 wrote 1). */
  p?: number
}

export interface DjangoProject {
  /** Runs `manage.py <args>` with the project's environment; answers stdout. */
  manage(args: string[], input?: string): Promise<string>
  /** Creates users the way Django stores them; answers `{username: {id, password}}`. */
  seedUsers(users: SeedUser[]): Promise<Record<string, { id: number; password: string }>>
  /** simplejwt's own pairs for these users (RefreshToken.for_user, as its login view issues them). */
  mintTokens(usernames: string[]): Promise<{ refresh: string; access: string }[]>
  /** Starts gunicorn on a free port; `env` overrides the project's (e.g. SJ_JWK_URL). */
  serve(env?: DjangoEnv): Promise<DjangoServer>
  /** The project's environment (DATABASE_URL and the rest). */
  readonly env: DjangoEnv
  /** Removes the temp folder (the SQLite file, when it is the database). */
  cleanup(): void
}

export interface DjangoServer {
  readonly url: string
  readonly port: number
  output(): string
  stop(): Promise<void>
}

/**
 * A migrated Django project. `databaseURL` defaults to a new SQLite file in a temp folder
 * (`sqlite:////abs/path`, dj-database-url's form); pass a PostgreSQL database's URL to use that.
 */
export async function createDjangoProject(options: { databaseURL?: string; env?: DjangoEnv } = {}): Promise<DjangoProject> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-django-'))
  const sqlitePath = join(dir, 'db.sqlite3')
  const env: DjangoEnv = {
    DATABASE_URL: options.databaseURL ?? `sqlite:///${sqlitePath}`,
    ...options.env,
  }
  const project: DjangoProject = {
    env,
    manage: (args, input) => runPython(['manage.py', ...args], env, input),
    async seedUsers(users) {
      const out = await runPython(['manage.py', 'seed_users'], env, JSON.stringify(users))
      return JSON.parse(out) as Record<string, { id: number; password: string }>
    },
    async mintTokens(usernames) {
      return JSON.parse(await runPython(['manage.py', 'mint_tokens'], env, JSON.stringify(usernames))) as {
        refresh: string
        access: string
      }[]
    },
    serve: (extra = {}) => startGunicorn({ ...env, ...extra }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
  await project.manage(['migrate', '--noinput', '-v', '0'])
  return project
}

function pythonEnv(env: DjangoEnv): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LANG: 'C.UTF-8',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONPATH: DJANGO_DIR,
    DJANGO_SETTINGS_MODULE: 'project.settings',
    ...env,
  }
}

function runPython(args: string[], env: DjangoEnv, input?: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(PYTHON, args, { cwd: DJANGO_DIR, env: pythonEnv(env), maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`django: python3 ${args.join(' ')} failed: ${stderr || err.message}`))
      else resolvePromise(stdout)
    })
    child.stdin?.end(input ?? '')
  })
}

async function startGunicorn(env: DjangoEnv): Promise<DjangoServer> {
  const port = await freePort()
  let output = ''
  // Sync workers as gunicorn's docs suggest for the cores (2 here), plus one.
  const child: ChildProcess = spawn(
    PYTHON,
    ['-m', 'gunicorn', '--bind', `127.0.0.1:${port}`, '--workers', '3', '--log-level', 'warning', 'project.wsgi'],
    { cwd: DJANGO_DIR, env: pythonEnv(env), stdio: ['ignore', 'pipe', 'pipe'] },
  )
  live.add(child)
  child.once('exit', () => live.delete(child))
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`django: gunicorn exited ${child.exitCode}: ${output}`)
    const up = await fetch(`${url}/api/token/`, { method: 'OPTIONS' }).then(
      (r) => r.status > 0,
      () => false,
    )
    if (up) break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`django: gunicorn did not answer within 30 s: ${output}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url,
    port,
    output: () => output,
    stop: () =>
      new Promise<void>((resolveStop) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolveStop()
        child.once('exit', () => resolveStop())
        child.kill('SIGTERM')
        setTimeout(() => child.kill('SIGKILL'), 5000).unref()
      }),
  }
}
