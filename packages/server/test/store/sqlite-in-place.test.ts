import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import Database from 'better-sqlite3'
import { createSqliteStore } from '../../src/store/sqlite.js'
import type { NewSession } from '../../src/store/types.js'

// The SQLite store writes a rotation, grace answer, touch or reuse as an UPDATE of the columns
// those can change, and only a new record as a whole row: these tests fail if a write leaves a
// column behind, or updates where it must replace.

const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-in-place-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const T0 = Date.UTC(2026, 0, 1)
const MINUTE = 60_000
const GRACE = 15_000

function session(id: string, overrides: Partial<NewSession> = {}): NewSession {
  return {
    id,
    userId: 'u1',
    jti: `${id}_j1`,
    nextJti: `${id}_j2`,
    now: T0,
    expiresAt: T0 + MINUTE,
    absoluteExpiresAt: T0 + 10 * MINUTE,
    userAgent: 'agent/1',
    ip: '192.0.2.1',
    ...overrides,
  }
}

/** The row as another connection (another worker) reads it. */
function rawRow(file: string, id: string): Record<string, unknown> | undefined {
  const db = new Database(file, { readonly: true })
  try {
    return db.prepare('SELECT rowid, * FROM sessions WHERE id = ?').get(id) as Record<string, unknown> | undefined
  } finally {
    db.close()
  }
}

function integrity(file: string): unknown {
  const db = new Database(file, { readonly: true })
  try {
    return db.pragma('integrity_check', { simple: true })
  } finally {
    db.close()
  }
}

test('sqlite: rotate, grace and reuse update the row in place; fixed columns stay and both indexes find it', async () => {
  const file = join(dir, 'in-place.db')
  const store = await createSqliteStore({ file })
  await store.createSession(session('s_a'))
  await store.createSession(session('s_b'))
  const created = rawRow(file, 's_a')
  assert.ok(created)

  // Rotated at T0 + 30s with a 1-minute lifetime: the expiry moves from T0 + 60s to T0 + 90s.
  const rotated = await store.rotate({
    id: 's_a',
    jti: 's_a_j1',
    generation: 1,
    newJti: 's_a_j3',
    spareJti: 's_a_jx',
    now: T0 + 30_000,
    graceMs: GRACE,
    refreshLifetimeMs: MINUTE,
  })
  assert.ok(rotated.kind === 'rotated')
  assert.equal(rotated.session.expiresAt, T0 + 90_000)
  // Within grace: only last-used changes, the expiry stays.
  const grace = await store.rotate({
    id: 's_a',
    jti: 's_a_j1',
    generation: 1,
    newJti: 's_a_j4',
    spareJti: 's_a_jy',
    now: T0 + 31_000,
    graceMs: GRACE,
    refreshLifetimeMs: MINUTE,
  })
  assert.ok(grace.kind === 'grace')

  const row = rawRow(file, 's_a')
  assert.deepEqual(row, {
    ...created,
    current_jti: 's_a_j2',
    generation: 2,
    current_issued_at: T0 + 30_000,
    previous_jti: 's_a_j1',
    grace_until: T0 + 30_000 + GRACE,
    last_used_at: T0 + 31_000,
    expires_at: T0 + 90_000,
    next_jti: 's_a_j3',
  })
  assert.deepEqual(await store.getSession('s_a', T0 + 32_000), grace.session)

  // The user index: the rotated session is still listed under its user.
  assert.deepEqual((await store.listUserSessions('u1', T0 + 32_000)).map((r) => r.id).sort(), ['s_a', 's_b'])
  // The expiry index: a login after the old expiry purges s_b (T0 + 60s) but not s_a (now T0 + 90s).
  await store.createSession(session('s_c', { now: T0 + 61_000, expiresAt: T0 + 2 * MINUTE }))
  assert.equal(rawRow(file, 's_b'), undefined)
  assert.deepEqual(
    (await store.listUserSessions('u1', T0 + 62_000)).map((r) => r.id),
    ['s_c', 's_a'],
  )

  // Reuse: the presented token is two generations old; the row is revoked, in place.
  const reused = await store.rotate({
    id: 's_a',
    jti: 's_a_j0',
    generation: 1,
    newJti: 's_a_j5',
    spareJti: 's_a_jz',
    now: T0 + 63_000,
    graceMs: GRACE,
    refreshLifetimeMs: MINUTE,
  })
  assert.equal(reused.kind, 'reused')
  assert.deepEqual(rawRow(file, 's_a'), { ...row, revoked_at: T0 + 63_000 })
  assert.deepEqual(
    (await store.listUserSessions('u1', T0 + 64_000)).map((r) => r.id),
    ['s_c'],
  )
  assert.equal(integrity(file), 'ok')
  await store.close()
})

test('sqlite: touch updates only last-used, in place', async () => {
  const file = join(dir, 'touch.db')
  const store = await createSqliteStore({ file })
  await store.createSession(session('s_t'))
  const created = rawRow(file, 's_t')
  const touched = await store.touch({ id: 's_t', jti: 's_t_j1', now: T0 + 5_000 })
  assert.equal(touched.kind, 'touched')
  assert.deepEqual(rawRow(file, 's_t'), { ...created, last_used_at: T0 + 5_000 })
  await store.close()
})

test('sqlite: migrateLegacy over an expired row of the same id replaces it whole: new user, new creation time', async () => {
  const file = join(dir, 'migrate-over-expired.db')
  const store = await createSqliteStore({ file })
  // Expired at T0 + 60s and not purged yet (no login since).
  await store.createSession(session('s_m', { userId: 'u_old', userAgent: 'old-agent', ip: '192.0.2.9' }))
  const now = T0 + 2 * MINUTE
  const out = await store.migrateLegacy({
    id: 's_m',
    userId: 'u_new',
    legacyJti: 'legacy',
    newJti: 'g1',
    nextJti: 'g2',
    now,
    graceMs: GRACE,
    refreshLifetimeMs: MINUTE,
    absoluteExpiresAt: now + 10 * MINUTE,
    keepUntil: now + MINUTE,
    userAgent: 'legacy-agent',
    ip: '198.51.100.1',
  })
  assert.ok(out.kind === 'rotated')
  const record = await store.getSession('s_m', now + 1)
  assert.deepEqual(record, out.session)
  assert.equal(record?.userId, 'u_new')
  assert.equal(record?.createdAt, now)
  assert.equal(record?.userAgent, 'legacy-agent')
  assert.equal(record?.ip, '198.51.100.1')
  assert.equal(record?.absoluteExpiresAt, now + 10 * MINUTE)
  assert.deepEqual(
    (await store.listUserSessions('u_new', now + 1)).map((r) => r.id),
    ['s_m'],
  )
  assert.deepEqual(await store.listUserSessions('u_old', now + 1), [])
  assert.equal(integrity(file), 'ok')
  await store.close()
})
