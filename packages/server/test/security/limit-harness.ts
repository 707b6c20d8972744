import assert from 'node:assert/strict'
import { createCredentialChecker } from '../../src/users/checker.js'
import { createMemoryUserStore } from '../../src/users/memory.js'
import { verifyPassword } from '../../src/users/password.js'
import { type TestServer, TEST_SCRYPT, createTestServer } from '../helpers/make-server.js'

/** Two documentation addresses (RFC 5737) the injected requests come from. */
export const A = '198.51.100.7'
export const B = '203.0.113.9'

export interface Res {
  status: number
  body: string
  headers: Record<string, string | string[] | number | undefined>
  json(): Record<string, unknown>
}

export interface LimitHarness {
  server: TestServer
  /** Every scrypt verification the credential check ran: the password tried. */
  verifications: string[]
  login(username: string, password: string, ip?: string): Promise<Res>
  refresh(token: string, ip?: string): Promise<Res>
}

export interface HarnessOptions {
  /** Awaited inside each password verification, before scrypt: a test holds checks open with it. */
  beforeVerify?: () => Promise<void>
}

const open: TestServer[] = []

/** Closes every server the harness made (call it in `afterEach`). */
export async function closeHarnesses(): Promise<void> {
  await Promise.all(open.splice(0).map((s) => s.close()))
}

/**
 * A test server whose credential check is instrumented: `verifications` lists every password
 * that reached scrypt, so a test can count the checks a limit let through.
 */
export async function limitHarness(
  env: Record<string, string>,
  options: Parameters<typeof createTestServer>[1] = {},
  hooks: HarnessOptions = {},
): Promise<LimitHarness> {
  const users = options.users ?? createMemoryUserStore()
  const verifications: string[] = []
  const credentials = createCredentialChecker(users, {
    params: TEST_SCRYPT,
    async verify(password, hash) {
      verifications.push(password)
      await hooks.beforeVerify?.()
      return verifyPassword(password, hash)
    },
  })
  // These tests hold every check a limit lets through open at once; the login queue (issue 15,
  // tested in login-storm.test.ts) would otherwise make most of them wait or shed them.
  const server = await createTestServer({ BATON_LOGIN_CONCURRENCY: '1024', ...env }, { ...options, users, credentials })
  open.push(server)
  const post = async (url: string, body: unknown, ip: string): Promise<Res> => {
    const res = await server.app.inject({
      method: 'POST',
      url,
      payload: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
      remoteAddress: ip,
    })
    return { status: res.statusCode, body: res.body, headers: res.headers, json: () => res.json() }
  }
  return {
    server,
    verifications,
    login: (username, password, ip = A) => post('/api/auth/token/', { username, password }, ip),
    refresh: (token, ip = A) => post('/api/auth/refresh/', { refresh: token }, ip),
  }
}

export function assertLimited(res: Res, maxSeconds: number): void {
  assert.equal(res.status, 429, res.body)
  assert.equal(res.json().code, 'rate_limited')
  const retry = Number(res.headers['retry-after'])
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= maxSeconds, `Retry-After ${res.headers['retry-after']}`)
}

/**
 * Wakes waiters when a condition they wait for becomes true: code under test calls `changed()`
 * at each step, tests `await until(() => …)`. No timers, so nothing depends on speed.
 */
export function createProgress(): { changed(): void; until(condition: () => boolean): Promise<void> } {
  const waiting: { condition: () => boolean; resolve: () => void }[] = []
  return {
    changed() {
      for (const w of [...waiting]) {
        if (!w.condition()) continue
        waiting.splice(waiting.indexOf(w), 1)
        w.resolve()
      }
    },
    until(condition) {
      if (condition()) return Promise.resolve()
      return new Promise((resolve) => waiting.push({ condition, resolve }))
    },
  }
}
