/**
 * Shared parts of the browser tests: the built baton server started as its CLI on a free port
 * with a temp data dir, real Chromium through playwright-core, and a network-level recorder
 * of what the page sent and received. Everything started here is stopped by `after()` hooks
 * the callers register, even when a test fails.
 *
 * Needs a build first (`npm run build`, which `scripts/test.sh` runs): dist/ of both packages
 * and the demo page.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page, type Request, type Response } from 'playwright-core'
import { freePort } from '../packages/server/test/helpers/redis-server.js'

/**
 * Polls `check` (sync or async; a throw counts as false) until it is true. Never a fixed sleep:
 * the timeout only bounds how long a broken run takes to fail.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return
    if (Date.now() > deadline) throw new Error(`e2e: timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const CLI = join(ROOT, 'packages/server/dist/cli/main.js')
const DEMO = join(ROOT, 'packages/server/dist/demo/index.html')
export const OUTPUT_DIR = join(ROOT, 'test-output')

/** The flags every test launches Chromium with (no network beyond loopback, no sandbox as root). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
]

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
}

export interface BatonProcess {
  readonly url: string
  readonly port: number
  readonly dataDir: string
  /** Everything the server printed (JSON log lines), for failure messages. */
  output(): string
  stop(): Promise<void>
}

/**
 * Starts `baton serve` from dist/ with `env` on top of a minimal environment, and resolves once
 * `/healthz` answers. Retries on another port if the one found free was taken meanwhile.
 */
export async function startBaton(env: Record<string, string>): Promise<BatonProcess> {
  if (!existsSync(CLI) || !existsSync(DEMO)) {
    throw new Error('e2e: build first (npm run build): packages/server/dist/cli/main.js or dist/demo is missing')
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-e2e-'))
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    let output = ''
    const child = spawn(process.execPath, [CLI, 'serve'], {
      cwd: dataDir,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dataDir,
        HOST: '127.0.0.1',
        PORT: String(port),
        BATON_DATA_DIR: dataDir,
        LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const url = `http://127.0.0.1:${port}`
    const exited = new Promise<never>((_resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`baton exited (${code})`)))
    })
    exited.catch(() => undefined)
    try {
      await Promise.race([exited, waitFor(async () => (await fetch(`${url}/healthz`)).ok, 15_000, 'baton to answer /healthz')])
    } catch (err) {
      await kill(child)
      if (attempt < 3 && output.includes('EADDRINUSE')) continue
      rmSync(dataDir, { recursive: true, force: true })
      throw new Error(`baton did not start: ${String(err)}\n${output}`)
    }
    return {
      url,
      port,
      dataDir,
      output: () => output,
      async stop() {
        await kill(child)
        rmSync(dataDir, { recursive: true, force: true })
      },
    }
  }
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGKILL')
  await exited
}

/** One request the page sent, as seen on the network. */
export interface SeenRequest {
  /** Which page (tab) sent it: the index given to {@link NetworkLog.watch}. */
  tab: number
  method: string
  path: string
  /** Local time at which Chromium reported the request. */
  at: number
  /** The `Authorization` bearer token, if any. */
  bearer: string | null
  /** The request body (refresh and logout carry the refresh token in body mode). */
  body: string | null
  headers: Record<string, string>
  status: number | null
  /** Local time of the response, if one came. */
  respondedAt: number | null
  /** The response's JSON body, for the auth endpoints. */
  json: Promise<unknown> | null
  /** The response's `set-cookie` header(s), newline-separated, for the auth endpoints. */
  setCookie: Promise<string | null> | null
}

/**
 * Records every request of the watched pages at the network level (Playwright's request and
 * response events), plus console errors and uncaught page errors.
 */
export class NetworkLog {
  readonly requests: SeenRequest[] = []
  readonly consoleErrors: string[] = []
  readonly pageErrors: string[] = []
  private readonly byRequest = new Map<Request, SeenRequest>()

  watch(page: Page, tab = 0): void {
    page.on('request', (request) => {
      const url = new URL(request.url())
      if (!url.protocol.startsWith('http')) return
      const headers = request.headers()
      const auth = headers['authorization'] ?? null
      const seen: SeenRequest = {
        tab,
        method: request.method(),
        path: url.pathname,
        at: Date.now(),
        bearer: auth?.startsWith('Bearer ') ? auth.slice(7) : null,
        body: request.postData(),
        headers,
        status: null,
        respondedAt: null,
        json: null,
        setCookie: null,
      }
      this.byRequest.set(request, seen)
      this.requests.push(seen)
      // The raw headers (with Cookie) are only known once sent.
      request.allHeaders().then(
        (all) => (seen.headers = all),
        () => undefined,
      )
    })
    page.on('response', (response) => this.onResponse(response))
    page.on('console', (message) => {
      if (message.type() === 'error') this.consoleErrors.push(`tab ${tab}: ${message.text()}`)
    })
    page.on('pageerror', (error) => this.pageErrors.push(`tab ${tab}: ${error.message}`))
  }

  private onResponse(response: Response): void {
    const seen = this.byRequest.get(response.request())
    if (seen === undefined) return
    seen.status = response.status()
    seen.respondedAt = Date.now()
    if (seen.path.startsWith('/api/auth/')) {
      seen.json = response.json().catch(() => null)
      // headers() leaves out cookie headers; headerValue reads the raw ones.
      seen.setCookie = response.headerValue('set-cookie').catch(() => null)
    }
  }

  /** Requests to `path` (trailing slash included, as the client sends it). */
  to(path: string): SeenRequest[] {
    return this.requests.filter((r) => r.path === path)
  }

  refreshes(): SeenRequest[] {
    return this.to('/api/auth/refresh/')
  }

  /** Every response with status `status`, as `METHOD path`. */
  withStatus(status: number): string[] {
    return this.requests.filter((r) => r.status === status).map((r) => `${r.method} ${r.path}`)
  }
}

/** The test hook the demo page exposes (packages/server/demo/README.md). */
export interface DemoStats {
  mode: 'body' | 'cookie'
  loggedIn: boolean
  degraded: boolean
  refreshRequests: number
  refreshStatuses: Record<string, number>
  refreshesHere: number
  adopted: number
  apiCalls: number
  apiOutcomes: Record<string, number>
  store: 'up' | 'down' | 'unknown'
  expiresAt: number | null
  lastEvent: string | null
  events: { at: number; name: string; detail: string }[]
  /** The last session-expired came after an outage: the store lost the session. */
  lostSession: boolean
}

export function demoStats(page: Page): Promise<DemoStats> {
  return page.evaluate(() => (window as unknown as { __baton: { stats: unknown } }).__baton.stats as DemoStats)
}

/** Opens the demo page and waits until its script has run. `every`: the auto-call period (ms). */
export async function openDemo(page: Page, baseURL: string, every = 200): Promise<void> {
  await page.goto(`${baseURL}/?every=${every}`)
  await page.waitForSelector('html[data-ready="true"]')
}

/** Registers (or logs in) through the form, and waits for the signed-in card. */
export async function signIn(page: Page, username: string, password: string, register: boolean): Promise<void> {
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.click(register ? '#register' : '#login')
  await page.waitForSelector('#account-card:not([hidden])')
  await page.waitForFunction((name) => document.getElementById('who')?.textContent === name, username)
}

/** Decodes a JWT's payload (no verification: the test only reads `exp`, `iat`, `jti`). */
export function claimsOf(token: string): { exp: number; iat: number; jti: string; [key: string]: unknown } {
  const part = token.split('.')[1]
  if (part === undefined) throw new Error('not a JWT')
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
}

export function screenshotPath(name: string): string {
  mkdirSync(OUTPUT_DIR, { recursive: true })
  return join(OUTPUT_DIR, name)
}

/** Writes a one-line figure for the report (`e2e figures: ...`) to stdout. */
export function report(scenario: string, figures: Record<string, unknown>): void {
  process.stdout.write(`e2e figures ${scenario}: ${JSON.stringify(figures)}\n`)
}
