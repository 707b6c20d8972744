import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { ConfigError } from '../../src/errors.js'
import { openUserStore } from '../../src/users/open.js'

const run = promisify(execFile)
const dir = mkdtempSync(join(tmpdir(), 'baton-users-open-'))
after(() => rmSync(dir, { recursive: true, force: true }))

describe('openUserStore', () => {
  test('openUserStore: without DATABASE_URL, SQLite users.db in BATON_DATA_DIR (created 0700)', async () => {
    const dataDir = join(dir, 'nested', 'data')
    const store = await openUserStore({ BATON_DATA_DIR: dataDir, DATABASE_URL: '' })
    try {
      assert.equal(store.kind, 'sqlite')
      assert.ok(existsSync(join(dataDir, 'users.db')))
      assert.equal(statSync(dataDir).mode & 0o777, 0o700)
    } finally {
      await store.close()
    }
  })

  test('openUserStore: a DATABASE_URL of another scheme is a ConfigError, password masked', async () => {
    const urls = ['mysql://app:s3cr3t-pw@db:3306/app', '"postgres://app:s3cr3t-pw@db/app"', 'sqlite:x']
    for (const url of urls) {
      const env = { DATABASE_URL: url, BATON_DATA_DIR: dir }
      await assert.rejects(openUserStore(env), (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.equal(err.problems[0]?.variable, 'DATABASE_URL')
        assert.doesNotMatch(err.message, /s3cr3t-pw/)
        return true
      })
    }
  })

  test('users modules: a memory-only setup never loads the better-sqlite3 addon', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/memory-only.ts', import.meta.url))
    const memoryOnly = await run(process.execPath, ['--import', 'tsx', fixture])
    assert.deepEqual(JSON.parse(memoryOnly.stdout), [])
    // The control run opens SQLite, and the same probe sees the addon load.
    const control = await run(process.execPath, ['--import', 'tsx', fixture, 'control'])
    const loaded = JSON.parse(control.stdout) as string[]
    assert.ok(
      loaded.some((f) => f.endsWith('better_sqlite3.node')),
      control.stdout,
    )
  })
})
