// Runs against a real PostgreSQL the test starts itself (see test/helpers/postgres-server.ts),
// or the server named by BATON_TEST_DATABASE_URL.
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { inspect } from 'node:util'
import pg from 'pg'
import { runUsersCommand } from '../../src/cli/users.js'
import { ConfigError } from '../../src/errors.js'
import { openUserStore } from '../../src/users/open.js'
import { createPostgresUserStore, type UserStoreLogger } from '../../src/users/postgres.js'
import { verifyPassword } from '../../src/users/password.js'
import { hasLocalPostgres, startTestPostgres, type TestPostgres } from '../helpers/postgres-server.js'
import { describeUserStoreContract } from './contract.js'

let server: TestPostgres
before(async () => {
  server = await startTestPostgres()
})
after(async () => {
  await server?.stop()
})

describeUserStoreContract('postgres', async () => createPostgresUserStore({ url: await server.createDatabase() }))

async function queryOnce<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<T>(sql)).rows
  } finally {
    await client.end()
  }
}

/** Everything an error could show in a log line or on a terminal. */
function allTextOf(err: unknown): string {
  const e = err as Error & { address?: string; cause?: Error }
  const parts = [String(e), e.message, e.stack, e.address, e.cause?.message, e.cause?.stack]
  return [...parts, inspect(e, { depth: 10 }), JSON.stringify(e)].join('\n')
}

function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const address = s.address()
      s.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

describe('postgres user store', () => {
  test('migrate: opening a database again applies nothing twice; data persists', async () => {
    const url = await server.createDatabase()
    const first = await createPostgresUserStore({ url })
    const created = await first.createUser({ username: 'alice', passwordHash: 'h', now: 1000 })
    await first.close()
    const second = await createPostgresUserStore({ url })
    try {
      assert.ok(created.kind === 'created')
      assert.deepEqual(await second.findByUsername('alice'), {
        id: created.user.id,
        username: 'alice',
        passwordHash: 'h',
        createdAt: 1000,
      })
    } finally {
      await second.close()
    }
    assert.deepEqual(await queryOnce(url, 'SELECT version FROM baton_migrations'), [{ version: 1 }])
  })

  test('migrate: eight instances starting together on a new database all start, migrating once', async () => {
    const url = await server.createDatabase()
    const infos: object[] = []
    const log: UserStoreLogger = { info: (obj) => void infos.push(obj), warn: () => {} }
    const stores = await Promise.all(Array.from({ length: 8 }, () => createPostgresUserStore({ url, log })))
    try {
      const versions = await queryOnce(url, 'SELECT version FROM baton_migrations')
      assert.deepEqual(versions, [{ version: 1 }])
      // Exactly one instance applied the migration; the others found it done.
      assert.equal(infos.length, 1)
      const outcomes = await Promise.all(stores.map((s) => s.createUser({ username: 'same', passwordHash: 'h', now: 0 })))
      assert.equal(outcomes.filter((o) => o.kind === 'created').length, 1)
    } finally {
      await Promise.all(stores.map((s) => s.close()))
    }
  })

  test('open: an unreachable server is a UserStoreUnavailableError without the password', async () => {
    const port = await closedPort()
    const url = `postgres://app:pg-s3cret%40x@127.0.0.1:${port}/app`
    await assert.rejects(createPostgresUserStore({ url }), (err: unknown) => {
      assert.ok(err instanceof Error)
      assert.equal(err.name, 'UserStoreUnavailableError')
      assert.equal((err as { status?: number }).status, 503)
      const masked = `postgres://app:****@127.0.0.1:${port}/app`
      assert.equal((err as { address?: string }).address, masked)
      assert.match((err.cause as Error).message, /ECONNREFUSED/)
      const text = allTextOf(err)
      assert.doesNotMatch(text, /pg-s3cret/)
      return true
    })
  })

  test('open: a missing database is a UserStoreUnavailableError without the password', async () => {
    const base = new URL(await server.createDatabase())
    base.password = 'pg-s3cret'
    base.pathname = '/no_such_database'
    await assert.rejects(createPostgresUserStore({ url: base.toString() }), (err: unknown) => {
      assert.equal((err as Error).name, 'UserStoreUnavailableError')
      assert.match(((err as Error).cause as Error).message, /does not exist/)
      assert.doesNotMatch(allTextOf(err), /pg-s3cret/)
      return true
    })
  })

  test('open: a URL that does not parse is a ConfigError that never echoes it', async () => {
    const urls = ['postgres://app:pa#s3cret@db/app', 'postgres://app:s3cret@db:notaport/app']
    for (const url of urls) {
      await assert.rejects(createPostgresUserStore({ url }), (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.doesNotMatch(allTextOf(err), /s3cret/)
        return true
      })
    }
  })

  const noLocal = !hasLocalPostgres() && 'needs PostgreSQL binaries to start a server it can stop'
  test('queries: a server that goes away mid-run gives 503 errors and a log line, no crash, no password', { skip: noLocal }, async () => {
    // A server of its own, so stopping it leaves the other tests' server alone.
    const own = await startTestPostgres({ allowExternal: false })
    const url = new URL(await own.createDatabase())
    url.password = 'pg-s3cret' // trust auth ignores it; it is here to be masked
    let warned: (entry: { obj: object; msg: string }) => void = () => {}
    const lost = new Promise<{ obj: object; msg: string }>((resolve) => (warned = resolve))
    const store = await createPostgresUserStore({
      url: url.toString(),
      log: { info: () => {}, warn: (obj, msg) => warned({ obj, msg }) },
    })
    try {
      assert.equal(await store.findByUsername('nobody'), null) // leaves an idle pooled connection
      await own.stop()
      // The idle connection's termination is reported, not thrown (it would kill the process).
      const entry = await lost
      assert.match(entry.msg, /idle connection lost/)
      assert.doesNotMatch(inspect(entry.obj, { depth: 10 }), /pg-s3cret/)
      for (const call of [
        () => store.findByUsername('alice'),
        () => store.findById('1'),
        () => store.createUser({ username: 'alice', passwordHash: 'h', now: 0 }),
        () => store.updatePasswordHash({ id: '1', oldHash: 'h', newHash: 'h2' }),
      ]) {
        await assert.rejects(call(), (err: unknown) => {
          assert.equal((err as Error).name, 'UserStoreUnavailableError')
          assert.equal((err as { code?: string }).code, 'store_unavailable')
          assert.equal((err as { headers?: Record<string, string> }).headers?.['retry-after'], '2')
          assert.doesNotMatch(allTextOf(err), /pg-s3cret/)
          return true
        })
      }
    } finally {
      await store.close()
      await own.stop()
    }
  })

  test('openUserStore: a postgresql:// DATABASE_URL opens PostgreSQL', async () => {
    const url = (await server.createDatabase()).replace(/^postgres:/, 'postgresql:')
    const store = await openUserStore({ DATABASE_URL: url, BATON_DATA_DIR: '/nonexistent' })
    try {
      assert.equal(store.kind, 'postgres')
    } finally {
      await store.close()
    }
  })

  test('users add: creates the user in PostgreSQL when DATABASE_URL is set', async () => {
    const url = await server.createDatabase()
    let out = ''
    const code = await runUsersCommand(
      ['add', 'carol', '--password-stdin'],
      { DATABASE_URL: url },
      {
        out: { write: (s) => void (out += s) },
        err: { write: () => {} },
        readPassword: async () => 'pw\n',
      },
      { passwordParams: { ln: 10, r: 8, p: 1 } },
    )
    assert.equal(code, 0)
    assert.match(out, /^created user carol \(id [0-9]+\)\n$/)
    const [row] = await queryOnce<{ password_hash: string }>(url, "SELECT password_hash FROM baton_users WHERE username = 'carol'")
    assert.equal(await verifyPassword('pw', row?.password_hash ?? ''), true)
  })
})
