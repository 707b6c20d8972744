/**
 * `npx baton …` the way a user meets it: a fresh clone, `npm ci`, the README's build step.
 * npm links a workspace's bin only when its target exists at install time, so a bin pointing
 * into dist/ was missing after `npm ci` (`sh: 1: baton: not found`); packages/server/bin/baton.js
 * is committed for that reason.
 *
 * It clones the committed HEAD (not the working tree: a clone is what a user gets). Slow by
 * nature (npm ci and a build), so it is the one test that does this, and does it once.
 */
import assert from 'node:assert/strict'
import { existsSync, lstatSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { type ProcessResult, baseEnv, runProcess } from '../helpers/run-process.js'
import { ROOT } from './run-cli.js'

const dir = mkdtempSync(join(tmpdir(), 'baton-clone-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** A user's shell: PATH and HOME (the npm cache) only, none of the runner's npm_* variables. */
const env = baseEnv({ CI: 'true' })

const run = (command: string, args: string[], cwd = dir): Promise<ProcessResult> => runProcess(command, args, { cwd, env })

function ok(ran: ProcessResult, what: string): ProcessResult {
  assert.equal(ran.code, 0, `${what} exited ${String(ran.code)}:\n${ran.stdout}\n${ran.stderr}`)
  return ran
}

/**
 * `npx --no`: when the local bin is missing, fail instead of fetching the unrelated `baton`
 * package from the registry (without a TTY, npx would install it without asking).
 */
const baton = (...args: string[]) => run('npx', ['--no', '--', 'baton', ...args])

// Explicit timeouts: npm ci and a full build on a loaded 2-core machine outlast the suite's
// 120 s default; these bound a hung install, they are not timing assertions.
test('fresh clone: after npm ci, before the build, `npx baton` says to run `npm run build`', { timeout: 600_000 }, async () => {
  assert.ok(existsSync(join(ROOT, '.git')), `${ROOT} is not a git checkout`)
  ok(await run('git', ['clone', '--quiet', '--no-hardlinks', ROOT, dir], ROOT), 'git clone')
  // --ignore-scripts: the native SQLite addon's compile (over a minute) is not what this tests;
  // the bin links are made without scripts, and no command below opens a database.
  ok(await run('npm', ['ci', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund']), 'npm ci')
  assert.ok(lstatSync(join(dir, 'node_modules/.bin/baton')).isSymbolicLink(), 'npm ci linked node_modules/.bin/baton')
  assert.ok(!existsSync(join(dir, 'packages/server/dist')), 'a fresh clone has no build')
  const before = await baton('--help')
  assert.equal(before.code, 1, before.stdout + before.stderr)
  assert.equal(before.stderr, 'baton: not built yet; run `npm run build` in the repository first\n')
  assert.equal(before.stdout, '')
})

test("fresh clone: after `npm run build`, the README's `npx baton` commands work", { timeout: 600_000 }, async () => {
  assert.ok(existsSync(join(dir, 'node_modules')), 'the previous test installed the clone')
  ok(await run('npm', ['run', 'build']), 'npm run build')
  assert.match(ok(await baton('doctor', '--help'), 'baton doctor --help').stdout, /^Usage: baton doctor \[options\]/)
  assert.match(ok(await baton('users', 'add', '--help'), 'baton users add --help').stdout, /^Usage: baton users add <username>/)
  const keygen = ok(await baton('keygen'), 'baton keygen')
  // One key, printed once: the bin imports the CLI, which runs its main exactly once.
  assert.equal(keygen.stdout.match(/^JWT_ALGORITHM=/gm)?.length, 1, keygen.stdout)
  assert.equal(keygen.stdout.match(/^JWT_PRIVATE_KEY='\{"/gm)?.length, 1, 'one private key line')
  assert.equal(keygen.stderr.match(/^# key id /gm)?.length, 1, keygen.stderr)
  const help = ok(await baton('--help'), 'baton --help')
  assert.match(help.stdout, /^baton: JWT access\/refresh token service/)
})
