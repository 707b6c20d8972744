import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, beforeEach, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { runUsersCommand } from '../../src/cli/users.js'
import { readHashParams, verifyPassword } from '../../src/users/password.js'
import { createSqliteUserStore } from '../../src/users/sqlite.js'
import { runProcess } from '../helpers/run-process.js'

const CHEAP = { ln: 10, r: 8, p: 1 }
const root = mkdtempSync(join(tmpdir(), 'baton-users-cli-'))
after(() => rmSync(root, { recursive: true, force: true }))
let n = 0

interface Captured {
  code: number
  out: string
  err: string
}

/** Runs the command in-process with cheap scrypt params and `password` as the password input. */
async function users(argv: string[], env: Record<string, string | undefined>, password?: string): Promise<Captured> {
  let out = ''
  let err = ''
  const io = {
    out: { write: (s: string) => void (out += s) },
    err: { write: (s: string) => void (err += s) },
    ...(password === undefined ? {} : { readPassword: async () => password }),
  }
  const code = await runUsersCommand(argv, env, io, { passwordParams: CHEAP })
  return { code, out, err }
}

async function findUser(dataDir: string, username: string) {
  const store = await createSqliteUserStore({ file: join(dataDir, 'users.db') })
  try {
    return await store.findByUsername(username)
  } finally {
    await store.close()
  }
}

describe('baton users add', () => {
  let env: Record<string, string | undefined>
  let dataDir: string
  beforeEach(() => {
    dataDir = join(root, `data-${++n}`)
    env = { BATON_DATA_DIR: dataDir }
  })

  test('users add: PASSWORD_SCRYPT_LN sets the new hash cost; a bad value exits 78 before asking for the password', async () => {
    const io = (password: () => Promise<string>) => {
      const out = { text: '', err: '' }
      return {
        out,
        io: {
          out: { write: (s: string) => void (out.text += s) },
          err: { write: (s: string) => void (out.err += s) },
          readPassword: password,
        },
      }
    }
    const ok = io(async () => 'pw')
    assert.equal(await runUsersCommand(['add', 'carol'], { ...env, PASSWORD_SCRYPT_LN: '10' }, ok.io), 0, ok.out.err)
    const carol = await findUser(dataDir, 'carol')
    assert.deepEqual(readHashParams(carol?.passwordHash ?? ''), { ln: 10, r: 8, p: 1 })
    assert.equal(await verifyPassword('pw', carol?.passwordHash ?? ''), true)

    let asked = false
    const bad = io(async () => {
      asked = true
      return 'pw'
    })
    assert.equal(await runUsersCommand(['add', 'dave'], { ...env, PASSWORD_SCRYPT_LN: '9' }, bad.io), 78)
    assert.match(bad.out.err, /PASSWORD_SCRYPT_LN/)
    assert.equal(asked, false)
    assert.equal(await findUser(dataDir, 'dave'), null)
  })

  test('users add: creates the user, prints its id, trims exactly one trailing newline', async () => {
    const r = await users(['add', 'alice', '--password-stdin'], env, 'pw with space \n\n')
    assert.deepEqual(r, { code: 0, out: 'created user alice (id 1)\n', err: '' })
    const alice = await findUser(dataDir, 'alice')
    assert.ok(alice)
    assert.equal(await verifyPassword('pw with space \n', alice.passwordHash), true)
    assert.deepEqual(readHashParams(alice.passwordHash), CHEAP)
  })

  test('users add: CRLF counts as one newline', async () => {
    assert.equal((await users(['add', 'bob', '--password-stdin'], env, 'pw\r\n')).code, 0)
    const bob = await findUser(dataDir, 'bob')
    assert.equal(await verifyPassword('pw', bob?.passwordHash ?? ''), true)
  })

  test('users add: a taken name exits 1 and keeps the first password', async () => {
    assert.equal((await users(['add', 'alice', '--password-stdin'], env, 'first')).code, 0)
    const r = await users(['add', 'alice', '--password-stdin'], env, 'second')
    assert.equal(r.code, 1)
    assert.equal(r.out, '')
    assert.match(r.err, /"alice" is already taken/)
    const alice = await findUser(dataDir, 'alice')
    assert.equal(await verifyPassword('first', alice?.passwordHash ?? ''), true)
  })

  test("users add: an invalid username exits 2 with the validator's message, creating nothing", async () => {
    const r = await users(['add', 'bad name', '--password-stdin'], env, 'pw')
    assert.equal(r.code, 2)
    assert.match(
      r.err,
      /username "bad name": Enter a valid username\. This value may contain only letters, numbers, and @\/\.\/\+\/-\/_ characters\./,
    )
    const tooLong = await users(['add', 'x'.repeat(151), '--password-stdin'], env, 'pw')
    assert.equal(tooLong.code, 2)
    assert.match(tooLong.err, /no more than 150 characters/)
    // Refused before the database is even opened.
    assert.equal(existsSync(join(dataDir, 'users.db')), false)
  })

  test('users add: an empty or over-long password exits 2', async () => {
    const empty = await users(['add', 'carol', '--password-stdin'], env, '\n')
    assert.equal(empty.code, 2)
    assert.match(empty.err, /password: This field may not be blank/)
    const long = await users(['add', 'carol', '--password-stdin'], env, 'x'.repeat(1025))
    assert.equal(long.code, 2)
    assert.match(long.err, /no more than 1024 characters/)
    assert.equal(await findUser(dataDir, 'carol'), null)
  })

  test('users add: a full-width name is stored NFKC-normalized, with a note', async () => {
    const r = await users(['add', 'ｄａｖｅ', '--password-stdin'], env, 'pw')
    assert.equal(r.code, 0)
    assert.equal(r.out, 'created user dave (id 1)\n')
    assert.match(r.err, /normalized to "dave"/)
  })

  test('users: --help prints usage and exits 0; usage mistakes exit 2', async () => {
    for (const argv of [['--help'], ['add', '--help'], ['help'], ['add', 'x', '-h']]) {
      const r = await users(argv, env)
      assert.equal(r.code, 0, argv.join(' '))
      assert.match(r.out, /^Usage: baton users add <username> \[--password-stdin\]/)
    }
    const mistakes: [string[], RegExp][] = [
      [[], /missing command/],
      [['remove', 'x'], /unknown command "remove"/],
      [['add'], /missing <username>/],
      [['add', 'a', 'b'], /unexpected argument "b"/],
      [['add', 'a', '--password-file'], /unknown option "--password-file"/],
    ]
    for (const [argv, message] of mistakes) {
      const r = await users(argv, env, 'pw')
      assert.equal(r.code, 2, argv.join(' '))
      assert.match(r.err, message)
      assert.match(r.err, /Usage:/)
    }
  })

  test('users add: a name starting with - is taken literally after --', async () => {
    const r = await users(['add', '--password-stdin', '--', '-dash-'], env, 'pw')
    assert.equal(r.code, 0)
    assert.equal(r.out, 'created user -dash- (id 1)\n')
  })

  test('users add: a DATABASE_URL of another scheme exits 78, password masked', async () => {
    const badEnv = { ...env, DATABASE_URL: 'mysql://u:s3cr3t-pw@h/db' }
    const r = await users(['add', 'eve', '--password-stdin'], badEnv, 'pw')
    assert.equal(r.code, 78)
    assert.match(r.err, /DATABASE_URL/)
    assert.doesNotMatch(r.err + r.out, /s3cr3t-pw/)
  })

  test('users add: an unreachable PostgreSQL exits 1 with the cause, password masked', async () => {
    const port = await closedPort()
    const url = `postgres://app:s3cr3t-pw@127.0.0.1:${port}/app`
    const r = await users(['add', 'eve', '--password-stdin'], { ...env, DATABASE_URL: url }, 'pw')
    assert.equal(r.code, 1)
    const masked = `postgres://app:\\*\\*\\*\\*@127\\.0\\.0\\.1:${port}/app`
    assert.match(r.err, new RegExp(`user database ${masked} unavailable: .*ECONNREFUSED`))
    assert.doesNotMatch(r.err + r.out, /s3cr3t-pw/)
  })
})

describe('baton users add (as a process)', () => {
  const fixture = fileURLToPath(new URL('./fixtures/users-cli.ts', import.meta.url))

  async function runUsers(args: string[], env: Record<string, string>, stdin: string): Promise<Captured> {
    const r = await runProcess(process.execPath, ['--import', 'tsx', fixture, ...args], {
      env: { ...process.env, ...env, DATABASE_URL: '' },
      input: stdin,
    })
    return { code: r.code ?? -1, out: r.stdout, err: r.stderr }
  }

  test('users add: --password-stdin reads a piped password and hashes with the OWASP params', async () => {
    const dataDir = join(root, 'process')
    const args = ['add', 'frank', '--password-stdin']
    const r = await runUsers(args, { BATON_DATA_DIR: dataDir }, 'hunter2\n')
    assert.deepEqual(r, { code: 0, out: 'created user frank (id 1)\n', err: '' })
    const frank = await findUser(dataDir, 'frank')
    assert.ok(frank)
    assert.deepEqual(readHashParams(frank.passwordHash), { ln: 17, r: 8, p: 1 })
  })

  test('users add: without --password-stdin and no terminal, exits 2 saying how to pass it', async () => {
    const dataDir = join(root, 'process-notty')
    const r = await runUsers(['add', 'grace'], { BATON_DATA_DIR: dataDir }, 'pw\n')
    assert.equal(r.code, 2)
    assert.match(r.err, /not a terminal.*--password-stdin/)
    assert.equal(await findUser(dataDir, 'grace'), null)
  })
})

const noPty = !existsSync('/usr/bin/script') && 'needs script(1) for a pseudo-terminal'
describe('baton users add (on a terminal)', { skip: noPty }, () => {
  const fixture = fileURLToPath(new URL('./fixtures/users-cli.ts', import.meta.url))

  /** Runs the command on a pseudo-terminal (script(1)), typing each answer at each prompt. */
  async function runOnTerminal(args: string[], dataDir: string, answers: string[]): Promise<Captured> {
    const command = [process.execPath, '--import', 'tsx', fixture, ...args].join(' ')
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { ...process.env, BATON_DATA_DIR: dataDir, DATABASE_URL: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let out = ''
    let answered = 0
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      const prompts = out.match(/Password( \(again\))?: /g)?.length ?? 0
      while (answered < prompts && answered < answers.length) child.stdin.write(answers[answered++])
    })
    let err = ''
    child.stderr.on('data', (c: Buffer) => (err += c.toString()))
    const [code] = (await once(child, 'exit')) as [number]
    child.stdin.end()
    return { code, out, err }
  }

  test('users add: prompts twice on a terminal without echoing the password', async () => {
    const dataDir = join(root, 'tty')
    const r = await runOnTerminal(['add', 'henry'], dataDir, ['tty-s3cret\r', 'tty-s3cret\r'])
    assert.equal(r.code, 0, r.out + r.err)
    assert.match(r.out, /Password: \r?\nPassword \(again\): \r?\ncreated user henry \(id 1\)/)
    assert.doesNotMatch(r.out, /tty-s3cret/)
    const henry = await findUser(dataDir, 'henry')
    assert.ok(henry)
  })

  test('users add: on a terminal, two different passwords exit 2; Ctrl-C exits 130', async () => {
    const dataDir = join(root, 'tty-mismatch')
    const mismatch = await runOnTerminal(['add', 'ivan'], dataDir, ['one\r', 'two\r'])
    assert.equal(mismatch.code, 2)
    assert.match(mismatch.out, /passwords do not match/)
    const cancelled = await runOnTerminal(['add', 'ivan'], dataDir, ['\u0003'])
    assert.equal(cancelled.code, 130)
    assert.equal(await findUser(dataDir, 'ivan'), null)
  })
})

/** A loopback port nothing listens on (bound, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}
