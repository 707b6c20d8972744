import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import Database from 'better-sqlite3'
import { createSqliteStore } from '../../src/store/sqlite.js'
import { describeStoreContract } from './contract.js'

const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const contractFile = join(dir, 'contract.db')
describeStoreContract('sqlite', () => createSqliteStore({ file: contractFile }), {
  // A backup restored over the live row: another connection writes the old row back.
  async snapshot(id) {
    const db = new Database(contractFile)
    const row = db.prepare('SELECT * FROM sessions WHERE id = ?').get(id) as Record<string, unknown>
    db.close()
    return async () => {
      const again = new Database(contractFile)
      const columns = Object.keys(row)
      again.prepare(`INSERT OR REPLACE INTO sessions (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`).run(row)
      again.close()
    }
  },
})

/** The sessions table as baton made it before `next_jti` (lost-rotation recovery). */
const SCHEMA_BEFORE_NEXT_JTI = `CREATE TABLE sessions (
  id TEXT PRIMARY KEY, user_id TEXT NOT NULL, current_jti TEXT NOT NULL, generation INTEGER NOT NULL,
  current_issued_at INTEGER NOT NULL, previous_jti TEXT, grace_until INTEGER, created_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, absolute_expires_at INTEGER NOT NULL,
  revoked_at INTEGER, user_agent TEXT, ip TEXT) STRICT`

test('sqlite: a file from before next_jti gains the column; its sessions keep working, without lost-rotation recovery until they rotate', async () => {
  const file = join(dir, 'before-next-jti.db')
  const now = Date.UTC(2026, 0, 1)
  const old = new Database(file)
  old.exec(SCHEMA_BEFORE_NEXT_JTI)
  old
    .prepare('INSERT INTO sessions VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, NULL, NULL, NULL)')
    .run('s_old', 'u1', 'j1', 1, now, now, now, now + 60_000, now + 120_000)
  old.close()

  // A second store on the same file (another worker) finds the column there and adds none.
  const [a, b] = await Promise.all([createSqliteStore({ file }), createSqliteStore({ file })])
  await b.close()
  const r = await a.getSession('s_old', now + 1)
  assert.equal(r?.currentJti, 'j1')
  assert.equal(r?.nextJti, null)
  // A later generation is never taken for a lost rotation of a row that chose no successor.
  const forged = await a.rotate({
    id: 's_old',
    jti: 'jx',
    newJti: 'j2',
    spareJti: 'j3',
    now: now + 2,
    graceMs: 15_000,
    refreshLifetimeMs: 60_000,
    generation: 2,
  })
  assert.equal(forged.kind, 'not_found')
  const out = await a.rotate({
    id: 's_old',
    jti: 'j1',
    newJti: 'j2',
    spareJti: 'j3',
    now: now + 2,
    graceMs: 15_000,
    refreshLifetimeMs: 60_000,
    generation: 1,
  })
  assert.ok(out.kind === 'rotated')
  assert.equal(out.session.currentJti, 'j3')
  assert.equal(out.session.nextJti, 'j2')
  assert.deepEqual(await a.getSession('s_old', now + 3), out.session)
  await a.close()
  const check = new Database(file)
  const columns = check.prepare("SELECT name FROM pragma_table_info('sessions')").all() as { name: string }[]
  check.close()
  assert.equal(columns.filter((c) => c.name === 'next_jti').length, 1)
})

test('sqlite: sessions survive closing and reopening the file', async () => {
  const file = join(dir, 'restart.db')
  const now = Date.UTC(2026, 0, 1)
  const first = await createSqliteStore({ file })
  await first.createSession({
    id: 's_restart',
    userId: 'u1',
    jti: 'j1',
    now,
    expiresAt: now + 60_000,
    absoluteExpiresAt: now + 120_000,
    userAgent: null,
    ip: null,
  })
  const rotated = await first.rotate({ id: 's_restart', jti: 'j1', newJti: 'j2', now: now + 1, graceMs: 15_000, refreshLifetimeMs: 60_000 })
  assert.equal(rotated.kind, 'rotated')
  await first.close()

  const second = await createSqliteStore({ file })
  const r = await second.getSession('s_restart', now + 2)
  assert.equal(r?.currentJti, 'j2')
  assert.equal(r?.previousJti, 'j1')
  assert.equal(
    (await second.rotate({ id: 's_restart', jti: 'j1', newJti: 'j3', now: now + 3, graceMs: 15_000, refreshLifetimeMs: 60_000 })).kind,
    'grace',
  )
  await second.close()
})

test('sqlite: two connections to one file rotate one token exactly once', async () => {
  const file = join(dir, 'shared.db')
  const now = Date.UTC(2026, 0, 1)
  const a = await createSqliteStore({ file })
  const b = await createSqliteStore({ file })
  await a.createSession({
    id: 's_shared',
    userId: 'u1',
    jti: 'j1',
    now,
    expiresAt: now + 60_000,
    absoluteExpiresAt: now + 120_000,
    userAgent: null,
    ip: null,
  })
  const outs = await Promise.all(
    [a, b, a, b].map((s, i) =>
      s.rotate({ id: 's_shared', jti: 'j1', newJti: `n${i}`, now: now + 1, graceMs: 15_000, refreshLifetimeMs: 60_000 }),
    ),
  )
  assert.equal(outs.filter((o) => o.kind === 'rotated').length, 1)
  assert.equal(outs.filter((o) => o.kind === 'grace').length, 3)
  await a.close()
  await b.close()
})
