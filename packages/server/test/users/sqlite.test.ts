import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { createSqliteUserStore } from '../../src/users/sqlite.js'
import { describeUserStoreContract } from './contract.js'

const dir = mkdtempSync(join(tmpdir(), 'baton-users-sqlite-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const newFile = (): string => join(dir, `users-${++n}.db`)

describeUserStoreContract('sqlite', () => createSqliteUserStore({ file: newFile() }))

describe('sqlite user store', () => {
  test('reopen: users persist in the file and ids keep counting up', async () => {
    const file = newFile()
    const first = await createSqliteUserStore({ file })
    const alice = await first.createUser({ username: 'alice', passwordHash: 'h1', now: 1 })
    await first.close()

    const second = await createSqliteUserStore({ file })
    assert.ok(alice.kind === 'created')
    assert.deepEqual(await second.findByUsername('alice'), {
      id: alice.user.id,
      username: 'alice',
      passwordHash: 'h1',
      createdAt: 1,
    })
    const bob = await second.createUser({ username: 'bob', passwordHash: 'h2', now: 2 })
    assert.ok(bob.kind === 'created')
    assert.ok(Number(bob.user.id) > Number(alice.user.id))
    await second.close()
  })

  test('open: migrations run once however often the file is opened; WAL mode; mode 0600', async () => {
    const file = newFile()
    for (let i = 0; i < 3; i++) await (await createSqliteUserStore({ file })).close()
    const db = new Database(file, { readonly: true })
    try {
      assert.deepEqual(db.prepare('SELECT version FROM baton_migrations').all(), [{ version: 1 }])
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
    } finally {
      db.close()
    }
    assert.equal(statSync(file).mode & 0o777, 0o600)
  })

  test('open: several processes opening one new file at once all succeed, migrating once', async () => {
    const file = newFile()
    const fixture = fileURLToPath(new URL('./fixtures/sqlite-open.ts', import.meta.url))
    const names = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6']
    const children = names.map((name) =>
      spawn(process.execPath, ['--import', 'tsx', fixture, file, name], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    )
    const outputs = children.map((child) => {
      let out = ''
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
      return once(child, 'exit').then(([code]) => ({ code, out }))
    })
    // Barrier: every process has loaded its modules before any opens the file.
    await Promise.all(children.map((child) => once(child.stdout, 'data')))
    for (const child of children) child.stdin.end('go\n')
    const results = await Promise.all(outputs)
    assert.deepEqual(
      results,
      names.map(() => ({ code: 0, out: 'ready\ncreated' })),
    )
    const db = new Database(file, { readonly: true })
    try {
      assert.deepEqual(db.prepare('SELECT version FROM baton_migrations').all(), [{ version: 1 }])
      const stored = db.prepare('SELECT username FROM users ORDER BY username').pluck().all()
      assert.deepEqual(stored, names)
    } finally {
      db.close()
    }
  })

  test('open: a file that is not a database is a UserStoreUnavailableError naming the file', async () => {
    const file = join(dir, 'not-a-db.db')
    writeFileSync(file, 'this is not sqlite'.repeat(100))
    await assert.rejects(createSqliteUserStore({ file }), (err: unknown) => {
      assert.ok(err instanceof Error)
      assert.equal(err.name, 'UserStoreUnavailableError')
      assert.equal((err as { address?: string }).address, file)
      return true
    })
  })
})
