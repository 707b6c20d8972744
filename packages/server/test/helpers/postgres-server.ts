import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { freePort } from './redis-server.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'

const run = promisify(execFile)

/** A PostgreSQL for one test file. */
export interface TestPostgres {
  /** Where the server runs: `self-started` or `external` (BATON_TEST_DATABASE_URL). */
  readonly origin: 'self-started' | 'external'
  /** Creates a new, empty database and returns its URL. */
  createDatabase(): Promise<string>
  /** Stops the server (fast shutdown) and removes its files; external: drops its databases. */
  stop(): Promise<void>
}

/**
 * Starts a throw-away PostgreSQL on a free loopback port: `initdb` into a temp dir owned by the
 * `postgres` user (PostgreSQL refuses to run as root), `postgres` with fsync off, its socket in
 * the temp dir. Never touches a server on 5432.
 *
 * When `BATON_TEST_DATABASE_URL` is set (a role allowed to CREATE DATABASE), that server is used
 * instead: each `createDatabase()` makes a `baton_test_…` database there and `stop()` drops it.
 *
 * Call `stop()` in `after()`. A test that must stop the server itself (an outage test) passes
 * `{ allowExternal: false }`, and should skip when {@link hasLocalPostgres} is false.
 */
export async function startTestPostgres(options: { allowExternal?: boolean } = {}): Promise<TestPostgres> {
  const external = process.env.BATON_TEST_DATABASE_URL
  if (external && options.allowExternal !== false) return useExternal(external)
  return startOwn()
}

/** Whether PostgreSQL server binaries are installed here (so a server can be started). */
export function hasLocalPostgres(): boolean {
  try {
    findBinDir()
    return true
  } catch {
    return false
  }
}

let databaseCounter = 0
function newDatabaseName(): string {
  return `baton_test_${process.pid}_${++databaseCounter}_${Math.random().toString(36).slice(2, 8)}`
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

function useExternal(adminURL: string): TestPostgres {
  const created: string[] = []
  return {
    origin: 'external',
    async createDatabase() {
      const name = newDatabaseName()
      await withClient(adminURL, (c) => c.query(`CREATE DATABASE "${name}"`))
      created.push(name)
      const url = new URL(adminURL)
      url.pathname = `/${name}`
      return url.toString()
    },
    async stop() {
      await withClient(adminURL, async (c) => {
        for (const name of created) await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      })
    },
  }
}

/** The newest /usr/lib/postgresql/<version>/bin that has initdb. */
function findBinDir(): string {
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^[0-9]+(\.[0-9]+)?$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : []
  for (const version of versions) {
    const bin = join(root, version, 'bin')
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres'))) return bin
  }
  throw new Error(
    'PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin ' +
      '(apt-get install postgresql), or set BATON_TEST_DATABASE_URL',
  )
}

async function startOwn(): Promise<TestPostgres> {
  const bin = findBinDir()
  const isRoot = process.getuid?.() === 0
  // As root, every PostgreSQL program runs as `postgres`, and its files must be its own.
  const asPostgres = (cmd: string, args: string[]): [string, string[]] =>
    isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]

  const dir = mkdtempSync(join(tmpdir(), 'baton-pg-'))
  const dataDir = join(dir, 'data')
  const socketDir = join(dir, 'sock')
  mkdirSync(socketDir)
  if (isRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    chownSync(dir, uid, gid)
    chownSync(socketDir, uid, gid)
  }

  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  const cleanupOnExit = (): void => {
    // Last resort when the test process ends without calling stop(): immediate shutdown, and a
    // detached shell removes the directory once the server is gone (nothing async runs here).
    if (child && child.exitCode === null) signalPostmaster('SIGQUIT')
    const pid = child?.pid ?? 0
    const script = `while kill -0 ${pid} 2>/dev/null; do sleep 0.1; done; rm -rf '${dir}'`
    spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' }).unref()
  }

  function signalPostmaster(signal: NodeJS.Signals): void {
    // runuser does not forward signals to its child, so signal the postmaster itself.
    try {
      const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
      if (pid > 0) process.kill(pid, signal)
    } catch {
      child?.kill(signal)
    }
  }

  try {
    const [initCmd, initArgs] = asPostgres(join(bin, 'initdb'), [
      '-D',
      dataDir,
      '-A',
      'trust',
      '-U',
      'postgres',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ])
    await run(initCmd, initArgs)

    process.once('exit', cleanupOnExit)
    let port = 0
    for (let attempt = 1; ; attempt++) {
      port = await freePort()
      const [cmd, args] = asPostgres(join(bin, 'postgres'), [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-k',
        socketDir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
      ])
      const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      child = proc
      let output = ''
      const collect = (chunk: Buffer): void => {
        if (output.length < 64 * 1024) output += chunk.toString()
      }
      proc.stdout?.on('data', collect)
      proc.stderr?.on('data', collect)
      exited = new Promise((resolve) => proc.once('exit', () => resolve()))

      const ready = await waitUntilReady(port, proc, dataDir)
      if (ready) break
      if (proc.exitCode === null && proc.signalCode === null) {
        signalPostmaster('SIGQUIT')
        await exited
      }
      // Most often another process took the port between freePort() and bind: try another.
      if (attempt < 3) continue
      throw new Error(`postgres did not start:\n${output}`)
    }

    const adminURL = `postgres://postgres@127.0.0.1:${port}/postgres`
    return {
      origin: 'self-started',
      async createDatabase() {
        const name = newDatabaseName()
        await withClient(adminURL, (c) => c.query(`CREATE DATABASE "${name}"`))
        return `postgres://postgres@127.0.0.1:${port}/${name}`
      },
      async stop() {
        process.off('exit', cleanupOnExit)
        if (child && child.exitCode === null) {
          signalPostmaster('SIGINT') // fast shutdown: disconnects clients, then stops
          const timer = setTimeout(() => signalPostmaster('SIGQUIT'), 10_000)
          await exited
          clearTimeout(timer)
        }
        rmSync(dir, { recursive: true, force: true })
      },
    }
  } catch (err) {
    process.off('exit', cleanupOnExit)
    if (child && child.exitCode === null) {
      signalPostmaster('SIGQUIT')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
}

/**
 * Polls until our server accepts a connection (true) or its process has exited (false). The data
 * directory is compared so that another server that got the port first is never mistaken for ours.
 */
async function waitUntilReady(port: number, proc: ChildProcess, dataDir: string): Promise<boolean> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) return false
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      database: 'postgres',
      connectionTimeoutMillis: 1000,
    })
    client.on('error', () => {})
    try {
      await client.connect()
      const { rows } = await client.query<{ data_directory: string }>('SHOW data_directory')
      await client.end()
      if (rows[0]?.data_directory !== dataDir) return false
      return true
    } catch {
      await client.end().catch(() => {})
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return false
}
