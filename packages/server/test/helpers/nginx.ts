import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort, waitFor } from './redis-server.js'

const execFileAsync = promisify(execFile)

/**
 * A real nginx (Debian's /usr/sbin/nginx) as a reverse proxy in front of a test server, the way
 * README's "behind a reverse proxy" note configures it: it APPENDS the address it saw to the
 * client's `X-Forwarded-For` (`$proxy_add_x_forwarded_for`). Its own temp dir holds the config,
 * pid, logs and temp paths; `daemon off`, so the child is nginx's master and dies with the test.
 *
 * @example
 * ```ts
 * const proxy = await startNginx({ upstream: `127.0.0.1:${port}`, bind: '127.0.0.3' })
 * after(() => proxy.stop())
 * await fetch(`${proxy.url}/api/auth/token/`, …)
 * ```
 */
export interface NginxOptions {
  /** `host:port` of the server behind it. */
  upstream: string
  /** Source address nginx connects to the upstream from (`proxy_bind`). @default the kernel's choice */
  bind?: string
}

/** A running nginx started from server blocks (`startNginxServers`). */
export interface RunningNginx {
  /** nginx's error log so far (for a failing test's message). */
  errorLog(): string
  /** SIGQUIT (graceful), then waits for the master to exit; removes the dir. Idempotent. */
  stop(): Promise<void>
}

export interface Nginx extends RunningNginx {
  readonly host: '127.0.0.1'
  readonly port: number
  readonly url: string
}

const NGINX = '/usr/sbin/nginx'
const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

/** The reverse proxy README's "behind a reverse proxy" note describes, on a free port. */
export async function startNginx(options: NginxOptions): Promise<Nginx> {
  const port = await freePort()
  const server = [
    '  server {',
    `    listen 127.0.0.1:${port};`,
    '    location / {',
    `      proxy_pass http://${options.upstream};`,
    '      proxy_set_header Host $host;',
    '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    ...(options.bind !== undefined ? [`      proxy_bind ${options.bind};`] : []),
    '    }',
    '  }',
  ].join('\n')
  const nginx = await startNginxServers(server, [port])
  return { host: '127.0.0.1', port, url: `http://127.0.0.1:${port}`, ...nginx }
}

/**
 * A real nginx serving `serverBlocks` (the inside of `http { }`: `server`/`upstream` blocks) with
 * its config, pid, logs and temp paths in its own temp dir. `nginx -t` runs first, so a directive
 * this nginx does not know fails with nginx's own message; resolves once every one of `ports`
 * (on 127.0.0.1) accepts connections.
 */
export async function startNginxServers(serverBlocks: string, ports: readonly number[]): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-nginx-'))
  const conf = join(dir, 'nginx.conf')
  const errorFile = join(dir, 'error.log')
  const temp = (name: string) => `${name}_temp_path ${join(dir, name)};`
  writeFileSync(
    conf,
    [
      'daemon off;',
      'worker_processes 1;',
      // As root, workers would otherwise switch to `nobody`, who cannot use the temp dir.
      ...(process.getuid?.() === 0 ? ['user root;'] : []),
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${errorFile} warn;`,
      'events { worker_connections 512; }',
      'http {',
      '  access_log off;',
      `  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}`,
      serverBlocks,
      '}',
      '',
    ].join('\n'),
  )
  const args = ['-p', dir, '-c', conf, '-e', errorFile]
  try {
    await execFileAsync(NGINX, ['-t', '-q', ...args])
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  const child = spawn(NGINX, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  live.add(child)
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const errorLog = (): string => {
    try {
      return readFileSync(errorFile, 'utf8') + stderr
    } catch {
      return stderr
    }
  }
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGQUIT')
      await exited
    }
    live.delete(child)
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (const port of ports) {
      await waitFor(
        () => {
          if (child.exitCode !== null) throw new Error('nginx exited')
          return new Promise<boolean>((resolve) => {
            const socket = connect(port, '127.0.0.1', () => {
              socket.destroy()
              resolve(true)
            })
            socket.once('error', () => resolve(false))
          })
        },
        10_000,
        `nginx to listen on ${port}`,
      )
    }
  } catch (err) {
    const log = errorLog()
    await stop()
    throw new Error(`nginx did not start: ${log}`, { cause: err })
  }
  return { errorLog, stop }
}
