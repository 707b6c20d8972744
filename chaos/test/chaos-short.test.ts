/**
 * The short chaos run (about a minute, fixed seed, 60 users) as part of `npm test`: the real
 * topology (Redis primary + replica + three Sentinels, two built baton instances) under faults,
 * judged by the oracle. Needs the build (scripts/test.sh builds first).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..')

// Once a todo: the run found two defects (a logout lost in a failover; token_reused after a 503
// whose rotation committed). The second is fixed (the client retries within the grace window:
// client/src/backoff.ts); the first is the documented revoke_unreplicated window, which the oracle
// now names instead of failing on (chaos/oracle.ts). Any other undone revocation fails this test.
/** Runs `npm run chaos` with `args` and checks its report and its one JSON line. */
async function chaosRun(args: string[], minKinds: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'chaos/main.ts', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => (out += c.toString()))
  child.stderr.on('data', (c: Buffer) => (err += c.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  const last = out.trim().split('\n').at(-1) ?? ''
  // The report (its table, invariants and excerpts) is the failure message.
  assert.equal(code, 0, `chaos run exited ${code}:\n${out}\n${err.slice(-4000)}`)
  const summary = JSON.parse(last) as {
    violated: number
    faults: Record<string, unknown>
    requests: number
    invariants: Record<string, boolean>
  }
  assert.equal(summary.violated, 0)
  assert.ok(Object.keys(summary.faults).length >= minKinds, `fault kinds injected: ${Object.keys(summary.faults).join(', ')}`)
  assert.ok(summary.requests > 1000, `only ${summary.requests} requests`)
  // The browser lane ran: its invariants are in the verdict.
  assert.ok(
    Object.keys(summary.invariants).some((name) => name.startsWith('browser: a tab waits for the refresh lock')),
    `invariants: ${Object.keys(summary.invariants).join(', ')}`,
  )
}

test('a one-minute chaos run (seed 11, 60 users, 3 Chromium tabs) violates no invariant', { timeout: 240_000 }, async () => {
  await chaosRun(['--seed', '11', '--minutes', '1', '--users', '60'], 5)
})

// The Cluster variant found two defects on its first runs (log out everywhere with a lost index;
// false MOVED errors at start-up): one minute of it stays in the suite. After the run above, in
// this file, so the two never share the machine's two cores.
test('a one-minute chaos run on a Redis Cluster (--cluster, seed 4, 40 users) violates no invariant', { timeout: 240_000 }, async () => {
  await chaosRun(['--cluster', '--seed', '4', '--minutes', '1', '--users', '40'], 5)
})
