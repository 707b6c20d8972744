import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { loadConfig } from '../../src/config.js'
import { ConfigError } from '../../src/errors.js'
import { checkSQLIdentifier, parseDatabaseURL } from '../../src/users/database-url.js'
import { openUserStore } from '../../src/users/open.js'

const dir = mkdtempSync(join(tmpdir(), 'baton-database-url-'))
after(() => rmSync(dir, { recursive: true, force: true }))

describe('DATABASE_URL', () => {
  test("parseDatabaseURL: dj-database-url's sqlite form: four slashes absolute, three relative, escapes decoded", () => {
    assert.deepEqual(parseDatabaseURL('sqlite:////srv/app/db.sqlite3', '/work'), { kind: 'sqlite', file: '/srv/app/db.sqlite3' })
    assert.deepEqual(parseDatabaseURL('sqlite:///db.sqlite3', '/work'), { kind: 'sqlite', file: '/work/db.sqlite3' })
    assert.deepEqual(parseDatabaseURL('sqlite:///data/my%20db.sqlite3', '/work'), { kind: 'sqlite', file: '/work/data/my db.sqlite3' })
    assert.deepEqual(parseDatabaseURL(' postgresql://u:p@h/db '), { kind: 'postgres', url: 'postgresql://u:p@h/db' })
  })

  test('parseDatabaseURL: no file, a host, a query, memory or another scheme is invalid, password never shown', () => {
    for (const url of [
      'sqlite://',
      'sqlite:///',
      'sqlite://host/db.sqlite3',
      'sqlite:////x.db?mode=ro',
      'sqlite:///:memory:',
      'sqlite:x',
      'mysql://app:s3cr3t-pw@db/app',
      '"postgres://app:s3cr3t-pw@db/app"',
    ]) {
      const out = parseDatabaseURL(url)
      assert.equal(out.kind, 'invalid', url)
      assert.doesNotMatch(JSON.stringify(out), /s3cr3t-pw/)
    }
  })

  test('openUserStore: USER_STORE=baton takes the sqlite form too (the file is created)', async () => {
    const file = join(dir, 'users.sqlite3')
    const store = await openUserStore({ DATABASE_URL: `sqlite:///${file}`, BATON_DATA_DIR: join(dir, 'unused') })
    try {
      assert.equal(store.kind, 'sqlite')
      assert.equal((await store.createUser({ username: 'ann', passwordHash: 'x', now: 0 })).kind, 'created')
      assert.ok(existsSync(file))
      assert.ok(!existsSync(join(dir, 'unused')), 'BATON_DATA_DIR is not used for users')
    } finally {
      await store.close()
    }
  })

  test('config: USER_STORE, DJANGO_USER_TABLE and DJANGO_USERNAME_FIELD are validated; django needs DATABASE_URL', () => {
    const c = loadConfig({
      USER_STORE: 'django',
      DATABASE_URL: 'sqlite:////srv/db.sqlite3',
      DJANGO_USER_TABLE: 'accounts_Member',
      DJANGO_USERNAME_FIELD: 'email',
    })
    assert.equal(c.userStore, 'django')
    assert.equal(c.djangoUserTable, 'accounts_Member')
    assert.equal(c.djangoUsernameField, 'email')
    assert.equal(c.registration, false, 'registration is off with Django users')
    assert.equal(loadConfig({}).userStore, 'baton')
    const variables = (env: Record<string, string>) => {
      try {
        loadConfig(env)
        return []
      } catch (err) {
        assert.ok(err instanceof ConfigError)
        return err.problems.map((p) => p.variable)
      }
    }
    assert.deepEqual(variables({ USER_STORE: 'django' }), ['DATABASE_URL'])
    assert.deepEqual(variables({ USER_STORE: 'ldap' }), ['USER_STORE'])
    assert.deepEqual(variables({ DATABASE_URL: 'sqlite://' }), ['DATABASE_URL'])
    for (const name of ['auth user', 'auth_user"; --', '1users', 'public.auth_user', '', 'x'.repeat(64)]) {
      assert.notEqual(checkSQLIdentifier(name), null, name)
      if (name !== '')
        assert.deepEqual(variables({ USER_STORE: 'django', DATABASE_URL: 'sqlite:////x.db', DJANGO_USER_TABLE: name }), [
          'DJANGO_USER_TABLE',
        ])
    }
  })
})
