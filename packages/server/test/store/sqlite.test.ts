import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { createSqliteStore } from '../../src/store/sqlite.js'
import { describeStoreContract } from './contract.js'

const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-'))
after(() => rmSync(dir, { recursive: true, force: true }))

describeStoreContract('sqlite', () => createSqliteStore({ file: join(dir, 'contract.db') }))

test('sqlite: sessions survive closing and reopening the file', async () => {
  const file = join(dir, 'restart.db')
  const now = Date.UTC(2026, 0, 1)
  const first = await createSqliteStore({ file })
  await first.createSession({
    id: 's_restart', userId: 'u1', jti: 'j1', now, expiresAt: now + 60_000,
    absoluteExpiresAt: now + 120_000, userAgent: null, ip: null,
  })
  const rotated = await first.rotate({ id: 's_restart', jti: 'j1', newJti: 'j2', now: now + 1, graceMs: 15_000, refreshLifetimeMs: 60_000 })
  assert.equal(rotated.kind, 'rotated')
  await first.close()

  const second = await createSqliteStore({ file })
  const r = await second.getSession('s_restart', now + 2)
  assert.equal(r?.currentJti, 'j2')
  assert.equal(r?.previousJti, 'j1')
  assert.equal((await second.rotate({ id: 's_restart', jti: 'j1', newJti: 'j3', now: now + 3, graceMs: 15_000, refreshLifetimeMs: 60_000 })).kind, 'grace')
  await second.close()
})

test('sqlite: two connections to one file rotate one token exactly once', async () => {
  const file = join(dir, 'shared.db')
  const now = Date.UTC(2026, 0, 1)
  const a = await createSqliteStore({ file })
  const b = await createSqliteStore({ file })
  await a.createSession({
    id: 's_shared', userId: 'u1', jti: 'j1', now, expiresAt: now + 60_000,
    absoluteExpiresAt: now + 120_000, userAgent: null, ip: null,
  })
  const outs = await Promise.all([a, b, a, b].map((s, i) => s.rotate({ id: 's_shared', jti: 'j1', newJti: `n${i}`, now: now + 1, graceMs: 15_000, refreshLifetimeMs: 60_000 })))
  assert.equal(outs.filter((o) => o.kind === 'rotated').length, 1)
  assert.equal(outs.filter((o) => o.kind === 'grace').length, 3)
  await a.close()
  await b.close()
})
