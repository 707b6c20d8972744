import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { type CheckCommandIO, runCheckCommand } from '../../src/cli/check.js'
import { createMemoryStore } from '../../src/store/memory.js'
import type { SessionStore } from '../../src/store/types.js'
import { type TestServer, createTestServer } from '../helpers/make-server.js'

/** A JWS anywhere in a text: no output of `baton check` may hold one. */
export const JWS_IN_TEXT = /[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/

export interface ListeningBaton {
  server: TestServer
  store: SessionStore
  /** `http://127.0.0.1:<port>/api/auth/` */
  url: string
  userId: string
  close(): Promise<void>
}

/**
 * A baton server with a fake clock on a real loopback socket (the check speaks HTTP through
 * global fetch), with one user. `env` configures it as a user would.
 */
export async function startBaton(env: Record<string, string>, username: string, password: string): Promise<ListeningBaton> {
  const store = createMemoryStore()
  const server = await createTestServer(env, { store })
  const userId = await server.addUser(username, password)
  await server.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = server.app.server.address() as AddressInfo
  return { server, store, url: `http://127.0.0.1:${port}/api/auth/`, userId, close: () => server.close() }
}

export interface CommandRun {
  code: number
  stdout: string
  stderr: string
  /** Every token string that crossed the wire, both ways. */
  tokens: Set<string>
  /** Requests the command sent, counted at fetch. */
  requests: number
}

/**
 * Runs `baton check` in-process with `stdin` as standard input. Waits move `clock` (no sleeping),
 * and every request and answer body is scanned for tokens so the test can prove none is printed.
 */
export async function runCheck(
  argv: string[],
  options: { stdin?: string; server?: TestServer; isTTY?: boolean; env?: Record<string, string> } = {},
): Promise<CommandRun> {
  let stdout = ''
  let stderr = ''
  const tokens = new Set<string>()
  let requests = 0
  const scan = (text: string) => {
    // The 3 MB probe body holds no token, and a regex over it would backtrack for minutes.
    if (text.length > 100_000) return
    for (const m of text.matchAll(new RegExp(JWS_IN_TEXT, 'g'))) tokens.add(m[0])
  }
  const io: CheckCommandIO = {
    out: { write: (s: string) => (stdout += s), ...(options.isTTY === true ? { isTTY: true } : {}) },
    err: { write: (s: string) => (stderr += s) },
    stdin: Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]),
  }
  const clock = options.server?.clock
  const code = await runCheckCommand(argv, options.env ?? {}, io, {
    fetch: async (input, init) => {
      requests++
      if (typeof init?.body === 'string') scan(init.body)
      const res = await fetch(input, init)
      const text = await res.clone().text()
      scan(text)
      return res
    },
    ...(clock !== undefined ? { now: clock.now, wait: async (ms: number) => clock.advance(ms) } : {}),
  })
  return { code, stdout, stderr, tokens, requests }
}

/** The findings of a `--json` run, by id. */
export function findingsById(stdout: string): Map<string, { id: string; status: string; title: string; meaning: string; fix: string }> {
  const report = JSON.parse(stdout) as { findings: { id: string; status: string; title: string; meaning: string; fix: string }[] }
  return new Map(report.findings.map((f) => [f.id, f]))
}
