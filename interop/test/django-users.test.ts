/**
 * SPEC §9 "Django's users in place": baton logs in the users of a real Django database, made and
 * seeded by Django itself (migrate, then users with every hasher), on SQLite (dj-database-url's
 * `sqlite:////abs/path`) and on a throw-away PostgreSQL, and writes nothing there.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, test, type TestContext } from 'node:test'
import Database from 'better-sqlite3'
import pg from 'pg'
import pino from 'pino'
import { runUsersCommand } from '../../packages/server/src/cli/users.js'
import { loadConfig } from '../../packages/server/src/config.js'
import { ConfigError } from '../../packages/server/src/errors.js'
import { createServer } from '../../packages/server/src/index.js'
import { createDjangoCredentialChecker } from '../../packages/server/src/users/django-checker.js'
import { djangoAlgorithmOf, verifyDjangoPassword } from '../../packages/server/src/users/django-hashers.js'
import { createDjangoUserStore } from '../../packages/server/src/users/django.js'
import { type DatabaseLocation, parseDatabaseURL } from '../../packages/server/src/users/database-url.js'
import { type TestPostgres, startTestPostgres } from '../../packages/server/test/helpers/postgres-server.js'
import { type DjangoProject, type SeedUser, createDjangoProject } from '../helpers/django.js'

const SECRET = 'django-users-test-secret-0123456789-abcdefghij'
/** Every hasher SPEC §9 lists, non-ASCII passwords and names; scrypt as Django 4.0–5.0 (p=1) and later (p=5). */
const LOGINS: (SeedUser & { password: string })[] = [
  { username: 'pbkdf2', password: 'pässwörd-pbkdf2-日本', hasher: 'pbkdf2_sha256' },
  { username: 'jürgen.müller', password: 'ünïcode-näme', hasher: 'pbkdf2_sha256' },
  { username: 'pbkdf2sha1', password: 'sha1-ünïcode', hasher: 'pbkdf2_sha1' },
  { username: 'bcryptsha', password: `bcrypt-sha256-${'é'.repeat(40)}`, hasher: 'bcrypt_sha256' },
  { username: 'bcrypt', password: 'plain-bcrypt-ß', hasher: 'bcrypt' },
  { username: 'scrypt1', password: 'scrypt-p1-ñ', hasher: 'scrypt', p: 1 },
  { username: 'scrypt5', password: 'scrypt-p5-ñ', hasher: 'scrypt', p: 5 },
  { username: 'argon', password: 'argon-Ωmega-🔑', hasher: 'argon2' },
]
const REFUSED: SeedUser[] = [
  { username: 'inactive', password: 'inactive-pw', hasher: 'pbkdf2_sha256', is_active: false },
  { username: 'unusable', hasher: 'unusable' },
  { username: 'md5user', hasher: 'raw', encoded: `md5$salt$${'0'.repeat(32)}` },
]
/** Seeded last, so the newest verifiable hash (the unknown-user stand-in's model) is argon2. */
const MAIL_USER = { username: 'mail', email: 'ana@example.com', password: 'mail-pw-ü', hasher: 'argon2' }

interface Baton {
  post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }>
  get(url: string, access: string): Promise<{ status: number; json: Record<string, unknown> }>
  warnings(event: string): Record<string, unknown>[]
  logText(): string
  listen(): Promise<string>
}

const dataDir = mkdtempSync(join(tmpdir(), 'baton-django-users-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))

async function startBaton(t: TestContext, env: Record<string, string>): Promise<Baton> {
  const lines: string[] = []
  const log = pino({ level: 'debug' }, new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) }))
  const config = loadConfig({
    BATON_STORE: 'memory',
    BATON_DEMO: 'false',
    BATON_DATA_DIR: dataDir,
    JWT_ALGORITHM: 'HS256',
    JWT_SECRET: SECRET,
    LOGIN_RATE_LIMIT: 'off',
    LOGIN_RATE_LIMIT_IP: 'off',
    USER_STORE: 'django',
    ...env,
  })
  const server = await createServer({ config, log })
  t.after(() => server.close())
  const parsed = () =>
    lines
      .flatMap((l) => l.split('\n'))
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
  const answer = (res: { statusCode: number; body: string }) => ({
    status: res.statusCode,
    json: res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {},
  })
  return {
    post: async (url, body) => answer(await server.app.inject({ method: 'POST', url, payload: body as object })),
    get: async (url, access) => answer(await server.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${access}` } })),
    warnings: (event) => parsed().filter((l) => l.event === event),
    logText: () => lines.join(''),
    listen: () => server.app.listen({ host: '127.0.0.1', port: 0 }),
  }
}

function claimsOf(token: unknown): Record<string, unknown> {
  return JSON.parse(Buffer.from(String(token).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>
}

interface Backend {
  name: string
  databaseURL(): Promise<string>
  /** A fingerprint of every table and row, and the table names. */
  fingerprint(url: string): Promise<{ tables: string[]; digest: string }>
  /** Creates a table as a custom user model (email login, no is_active column) would have it. */
  createMemberTable(url: string, rows: { email: string; password: string }[]): Promise<void>
  stop(): Promise<void>
}

function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'baton-django-users-sqlite-'))
  const fileOf = (url: string) => url.replace(/^sqlite:\/\//, '').replace(/^\/\//, '/')
  return {
    name: 'SQLite',
    databaseURL: async () => `sqlite:///${join(dir, 'db.sqlite3')}`,
    async fingerprint(url) {
      const db = new Database(fileOf(url), { readonly: true })
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map(
        (r) => r.name,
      )
      db.close()
      // The file's bytes: any write (even one that changes no row) shows.
      return {
        tables,
        digest: createHash('sha256')
          .update(readFileSync(fileOf(url)))
          .digest('hex'),
      }
    },
    async createMemberTable(url, rows) {
      const db = new Database(fileOf(url))
      db.exec(
        'CREATE TABLE "accounts_member" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "password" varchar(128) NOT NULL, "email" varchar(254) NOT NULL UNIQUE)',
      )
      for (const r of rows) db.prepare('INSERT INTO accounts_member (password, email) VALUES (?, ?)').run(r.password, r.email)
      db.close()
    },
    stop: async () => rmSync(dir, { recursive: true, force: true }),
  }
}

function postgresBackend(): Backend {
  let server: TestPostgres | undefined
  async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    try {
      return await fn(c)
    } finally {
      await c.end()
    }
  }
  return {
    name: 'PostgreSQL',
    async databaseURL() {
      server ??= await startTestPostgres()
      return server.createDatabase()
    },
    fingerprint: (url) =>
      withClient(url, async (c) => {
        const { rows } = await c.query<{ name: string }>(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
        )
        const hash = createHash('sha256')
        for (const { name } of rows) {
          const r = await c.query<{ d: string | null }>(`SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) AS d FROM "${name}" t`)
          hash.update(`${name}:${r.rows[0]?.d ?? ''};`)
        }
        return { tables: rows.map((r) => r.name), digest: hash.digest('hex') }
      }),
    createMemberTable: (url, rows) =>
      withClient(url, async (c) => {
        await c.query(
          'CREATE TABLE "accounts_member" ("id" bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "password" varchar(128) NOT NULL, "email" varchar(254) NOT NULL UNIQUE)',
        )
        for (const r of rows) await c.query('INSERT INTO accounts_member (password, email) VALUES ($1, $2)', [r.password, r.email])
      }),
    stop: async () => server?.stop(),
  }
}

for (const backend of [sqliteBackend(), postgresBackend()]) {
  describe(`Django's users in place: ${backend.name}`, () => {
    let project: DjangoProject
    let url: string
    let ids: Record<string, { id: number; password: string }>

    before(async () => {
      url = await backend.databaseURL()
      project = await createDjangoProject({ databaseURL: url })
      ids = await project.seedUsers([...LOGINS, ...REFUSED, MAIL_USER])
    })
    after(async () => {
      project?.cleanup()
      await backend.stop()
    })

    test('login: every Django hasher logs in; user_id is the integer id, sub its string; /api/me/ and refresh work', async (t) => {
      const snapshot = await backend.fingerprint(url)
      const baton = await startBaton(t, { DATABASE_URL: url })
      for (const u of LOGINS) {
        assert.equal(djangoAlgorithmOf(ids[u.username]!.password), u.hasher, 'Django stored the hasher asked for')
        const res = await baton.post('/api/token/', { username: u.username, password: u.password })
        assert.equal(res.status, 200, `${u.username}: ${JSON.stringify(res.json)}`)
        const claims = claimsOf(res.json.access)
        const id = ids[u.username]!.id
        assert.equal(claims.user_id, id, `${u.username}: user_id is Django's integer, a JSON number`)
        assert.equal(claims.sub, String(id))
        const me = await baton.get('/api/me/', String(res.json.access))
        assert.deepEqual(me, { status: 200, json: { id: String(id), username: u.username } })
        const refreshed = await baton.post('/api/auth/refresh/', { refresh: res.json.refresh })
        assert.equal(refreshed.status, 200)
        assert.equal(claimsOf(refreshed.json.access).user_id, id)
      }
      if (backend.name === 'SQLite') assert.match(ids.scrypt5!.password, /^scrypt\$16384\$[^$]+\$8\$5\$/)
      assert.deepEqual(await backend.fingerprint(url), snapshot, "Django's tables are as they were: nothing created, nothing written")
      assert.ok(snapshot.tables.includes('auth_user'))
      assert.ok(!snapshot.tables.some((name) => name.startsWith('baton_')))
    })

    test('login: wrong password, unknown user, inactive, unusable and unknown hasher are 401 invalid_credentials; one warning per hasher', async (t) => {
      const baton = await startBaton(t, { DATABASE_URL: url })
      const attempts: [string, string][] = [
        ['pbkdf2', 'wrong'],
        ['argon', 'argon-Ωmega-🔑x'],
        ['bcrypt', 'Plain-bcrypt-ß'],
        ['nobody', 'whatever'],
        ['inactive', 'inactive-pw'],
        ['unusable', ids.unusable!.password],
        ['unusable', 'anything'],
        ['md5user', 'pw'],
        ['md5user', 'pw2'],
        ['PBKDF2', 'pässwörd-pbkdf2-日本'],
      ]
      for (const [username, password] of attempts) {
        const res = await baton.post('/api/token/', { username, password })
        assert.equal(res.status, 401, `${username}`)
        assert.equal(res.json.code, 'invalid_credentials', `${username}`)
      }
      const warnings = baton.warnings('django_unknown_hasher')
      assert.equal(warnings.length, 1, 'one warning for md5, however many logins')
      assert.equal(warnings[0]!.hasher, 'md5')
      assert.match(String(warnings[0]!.msg), /md5/)
      assert.doesNotMatch(baton.logText(), /0{32}|pw2|inactive-pw/, 'no hash or password in the log')
    })

    test('register and `baton users add` are refused; the table is untouched', async (t) => {
      const snapshot = await backend.fingerprint(url)
      const baton = await startBaton(t, { DATABASE_URL: url })
      const res = await baton.post('/api/auth/register/', { username: 'newbie', password: 'newbie-password' })
      assert.equal(res.status, 404, 'as when registration is disabled')
      assert.throws(
        () => loadConfig({ USER_STORE: 'django', DATABASE_URL: url, BATON_REGISTRATION: 'true' }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError)
          assert.deepEqual(
            err.problems.map((p) => p.variable),
            ['BATON_REGISTRATION'],
          )
          return true
        },
      )
      let err = ''
      const code = await runUsersCommand(
        ['add', 'newbie', '--password-stdin'],
        { USER_STORE: 'django', DATABASE_URL: url },
        {
          out: { write: () => {} },
          err: { write: (s) => void (err += s) },
          readPassword: async () => 'newbie-password',
        },
      )
      assert.equal(code, 1)
      assert.match(err, /USER_STORE=django.*never writes/)
      assert.deepEqual(await backend.fingerprint(url), snapshot)
    })

    test("DJANGO_USERNAME_FIELD=email logs in by email; unknown users cost one verification of the table's own hasher", async (t) => {
      const baton = await startBaton(t, { DATABASE_URL: url, DJANGO_USERNAME_FIELD: 'email' })
      const ok = await baton.post('/api/token/', { username: MAIL_USER.email, password: MAIL_USER.password })
      assert.equal(ok.status, 200, JSON.stringify(ok.json))
      assert.equal(claimsOf(ok.json.access).user_id, ids.mail!.id)
      assert.equal((await baton.post('/api/token/', { username: 'mail', password: MAIL_USER.password })).status, 401)

      // SPEC §1: an unknown name costs what a known one does (one argon2, the newest hasher).
      const location = parseDatabaseURL(url)
      assert.notEqual(location.kind, 'invalid')
      const store = await createDjangoUserStore({ location: location as DatabaseLocation })
      t.after(() => store.close())
      const calls: string[] = []
      const checker = createDjangoCredentialChecker(store, {
        verify: (password, encoded) => (calls.push(djangoAlgorithmOf(encoded)), verifyDjangoPassword(password, encoded)),
      })
      for (const name of ['nobody', 'inactive', 'unusable', 'md5user']) {
        calls.length = 0
        assert.equal(await checker.check(name, 'inactive-pw'), null)
        assert.deepEqual(
          calls.filter((a) => a !== 'md5' && a !== 'unknown'),
          name === 'inactive' ? ['pbkdf2_sha256'] : ['argon2'],
          name,
        )
      }
    })

    test("DJANGO_USER_TABLE: a custom user model's table (email login, no is_active column); bad names are ConfigError", async (t) => {
      await backend.createMemberTable(url, [{ email: 'kim@example.com', password: ids.bcrypt!.password }])
      const baton = await startBaton(t, { DATABASE_URL: url, DJANGO_USER_TABLE: 'accounts_member', DJANGO_USERNAME_FIELD: 'email' })
      const res = await baton.post('/api/token/', { username: 'kim@example.com', password: 'plain-bcrypt-ß' })
      assert.equal(res.status, 200, JSON.stringify(res.json))
      assert.equal(claimsOf(res.json.access).user_id, 1)
      for (const [variable, value] of [
        ['DJANGO_USER_TABLE', 'auth_user; DROP TABLE auth_user'],
        ['DJANGO_USERNAME_FIELD', 'email"--'],
      ]) {
        assert.throws(
          () => loadConfig({ USER_STORE: 'django', DATABASE_URL: url, [variable!]: value! }),
          (err: unknown) => {
            assert.ok(err instanceof ConfigError)
            assert.deepEqual(
              err.problems.map((p) => p.variable),
              [variable],
            )
            return true
          },
        )
      }
      await assert.rejects(startBaton(t, { DATABASE_URL: url, DJANGO_USER_TABLE: 'no_such_table' }), (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.match(err.message, /DJANGO_USER_TABLE.*no table no_such_table/)
        return true
      })
      await assert.rejects(
        startBaton(t, { DATABASE_URL: url, DJANGO_USERNAME_FIELD: 'nickname' }),
        /DJANGO_USERNAME_FIELD.*no column nickname/,
      )
    })
  })
}

describe("Django's users in place: Django verifies the tokens", () => {
  test("JWTAuthentication finds the user, and the stateless TokenUser sees the integer id, as in Django's own token", async (t) => {
    const project = await createDjangoProject()
    t.after(() => project.cleanup())
    const ids = await project.seedUsers([LOGINS[0]!])
    const baton = await startBaton(t, { DATABASE_URL: project.env.DATABASE_URL! })
    const django = await project.serve({ SJ_SIGNING_KEY: SECRET, SJ_AUDIENCE: 'baton', SJ_ISSUER: 'baton' })
    t.after(() => django.stop())
    const { username, password } = LOGINS[0]!
    const login = await baton.post('/api/token/', { username, password })
    assert.equal(login.status, 200)
    const call = async (path: string) => {
      const res = await fetch(`${django.url}${path}`, { headers: { authorization: `Bearer ${String(login.json.access)}` } })
      return { status: res.status, body: (await res.json()) as Record<string, unknown> }
    }
    assert.deepEqual(await call('/api/me/'), { status: 200, body: { id: ids[username]!.id, username } })
    const stateless = await call('/api/me-stateless/')
    assert.equal(stateless.status, 200)
    assert.equal(stateless.body.id, ids[username]!.id, 'a number, not "1"')

    // Django's own token for the same user carries the same user_id, in the same type.
    const own = await fetch(`${django.url}/api/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    })
    assert.equal(own.status, 200)
    assert.equal(claimsOf(((await own.json()) as { access: string }).access).user_id, claimsOf(login.json.access).user_id)
  })
})
