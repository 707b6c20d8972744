import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { MigrateInput, SessionStore } from '../../src/store/types.js'

const MINUTE = 60_000
const DAY = 86_400_000
const GRACE = 15_000

/** What the contract suite lends these tests (contract.ts). */
export interface MigrateContext {
  store(): SessionStore
  id(prefix: string): string
  T0: number
}

/**
 * SPEC §9: a simplejwt refresh token is generation 0 of a new session, exchanged in one atomic
 * store operation, after which SPEC §3's rules apply to it unchanged.
 */
export function describeMigrateLegacy(ctx: MigrateContext): void {
  const { id, T0 } = ctx

  function exchange(overrides: Partial<MigrateInput> = {}): MigrateInput {
    return {
      id: id('s'),
      userId: id('u'),
      legacyJti: id('legacy'),
      newJti: id('j'),
      nextJti: id('j'),
      now: T0,
      graceMs: GRACE,
      refreshLifetimeMs: DAY,
      absoluteExpiresAt: T0 + 30 * DAY,
      keepUntil: T0 + DAY,
      userAgent: 'legacy-agent',
      ip: '127.0.0.9',
      ...overrides,
    }
  }

  test('migrateLegacy: a missing session is created at generation 0 and rotated: generation 1, previous = the legacy jti', async () => {
    const store = ctx.store()
    const input = exchange()
    const out = await store.migrateLegacy(input)
    assert.equal(out.kind, 'rotated')
    assert.ok(out.kind === 'rotated')
    assert.equal(out.session.generation, 1)
    assert.equal(out.session.currentJti, input.newJti)
    assert.equal(out.session.nextJti, input.nextJti)
    assert.equal(out.session.previousJti, input.legacyJti)
    assert.equal(out.session.graceUntil, T0 + GRACE)
    assert.equal(out.session.userId, input.userId)
    const stored = await store.getSession(input.id, T0)
    assert.equal(stored?.currentJti, input.newJti)
    assert.equal(stored?.ip, '127.0.0.9')
    assert.deepEqual(
      (await store.listUserSessions(input.userId, T0)).map((r) => r.id),
      [input.id],
      'indexed under its user',
    )
    assert.equal(await store.revokeUserSessions(input.userId, T0 + 1), 1, 'log out everywhere finds it')
  })

  test('migrateLegacy: presented again within grace, the same successor; after grace, reuse and the family is revoked', async () => {
    const store = ctx.store()
    const input = exchange()
    const first = await store.migrateLegacy(input)
    assert.ok(first.kind === 'rotated')
    const again = await store.migrateLegacy({ ...input, newJti: id('j'), nextJti: id('j'), now: T0 + GRACE - 1 })
    assert.ok(again.kind === 'grace')
    assert.equal(again.session.currentJti, first.session.currentJti, 'the same successor')
    const late = await store.migrateLegacy({ ...input, newJti: id('j'), nextJti: id('j'), now: T0 + GRACE + 1 })
    assert.equal(late.kind, 'reused')
    assert.equal(
      (
        await store.rotate({
          id: input.id,
          jti: first.session.currentJti,
          newJti: id('j'),
          now: T0 + GRACE + 2,
          graceMs: GRACE,
          refreshLifetimeMs: DAY,
          generation: 1,
        })
      ).kind,
      'revoked',
    )
  })

  test('migrateLegacy: once its session rotated past generation 1, the legacy token is reuse even inside the grace window', async () => {
    const store = ctx.store()
    const input = exchange()
    const first = await store.migrateLegacy(input)
    assert.ok(first.kind === 'rotated')
    const second = await store.rotate({
      id: input.id,
      jti: first.session.currentJti,
      newJti: id('j'),
      now: T0 + 1000,
      graceMs: GRACE,
      refreshLifetimeMs: DAY,
      generation: 1,
    })
    assert.equal(second.kind, 'rotated')
    assert.equal((await store.migrateLegacy({ ...input, now: T0 + 2000 })).kind, 'reused')
  })

  test('migrateLegacy: twenty exchanges of one legacy token at once start one session and all answer its one successor', async () => {
    const store = ctx.store()
    const input = exchange()
    const outs = await Promise.all(Array.from({ length: 20 }, () => store.migrateLegacy({ ...input, newJti: id('j'), nextJti: id('j') })))
    assert.deepEqual(new Set(outs.map((o) => o.kind)), new Set(outs.some((o) => o.kind === 'grace') ? ['rotated', 'grace'] : ['rotated']))
    assert.equal(outs.filter((o) => o.kind === 'rotated').length, 1, 'one creation')
    const successors = new Set(outs.map((o) => ('session' in o ? o.session.currentJti : null)))
    assert.equal(successors.size, 1)
    assert.equal((await store.listUserSessions(input.userId, T0)).length, 1)
  })

  test('migrateLegacy: a revoked session answers revoked; the record outlives the legacy token (keepUntil), so it is never exchanged twice', async () => {
    const store = ctx.store()
    const input = exchange({ refreshLifetimeMs: 10 * MINUTE, keepUntil: T0 + 60 * MINUTE })
    const first = await store.migrateLegacy(input)
    assert.ok(first.kind === 'rotated')
    assert.equal(first.session.expiresAt, T0 + 60 * MINUTE, 'lives until the legacy token expires, not only the refresh lifetime')
    assert.equal(await store.revokeSession(input.id, T0 + MINUTE), true)
    assert.equal((await store.migrateLegacy({ ...input, now: T0 + 30 * MINUTE })).kind, 'revoked', 'logged out stays logged out')
  })
}
