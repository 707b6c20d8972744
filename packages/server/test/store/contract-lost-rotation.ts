import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { NewSession, RotateInput, SessionStore } from '../../src/store/types.js'

const MINUTE = 60_000

/** What the contract suite lends these tests (contract.ts). */
export interface LostRotationContext {
  store(): SessionStore
  login(overrides?: Partial<NewSession>): Promise<NewSession>
  rotation(s: NewSession, jti: string, now: number, overrides?: Partial<RotateInput>): RotateInput
  id(prefix: string): string
  T0: number
  /** StoreContractOptions.snapshot: the store's own way to undo the writes after a copy. */
  snapshot: ((id: string) => Promise<() => Promise<void>>) | undefined
}

/**
 * SPEC §3: a refresh token is valid only while its record names it. A later generation alone
 * proves nothing; the successor of a rotation the store lost (a failover to an asynchronous
 * replica) is named, as the record's `nextJti` (store/rotation.ts). "Lost" is made here by
 * writing the record back as it was: `createSession` with the login's input for a first
 * rotation (every store), the store's own snapshot for a later one.
 */
export function describeLostRotation(ctx: LostRotationContext): void {
  const { login, rotation, id, T0 } = ctx

  test('rotate: a later generation with a jti the record does not name is not_found and changes nothing (SPEC §3)', async () => {
    const store = ctx.store()
    const s = await login()
    const before = await store.getSession(s.id, T0)
    // What a validly signed token could claim (sessions-lost-rotation.test.ts signs them): a
    // larger number proves nothing, be it gen 100 or the very next one with another jti.
    for (const generation of [100, 2]) {
      assert.equal((await store.rotate(rotation(s, id('j'), T0 + MINUTE, { generation }))).kind, 'not_found')
    }
    // The chosen successor's jti at another generation than the next is not it either.
    assert.equal((await store.rotate(rotation(s, s.nextJti!, T0 + MINUTE, { generation: 3 }))).kind, 'not_found')
    assert.deepEqual(await store.getSession(s.id, T0 + MINUTE), before)
    assert.equal((await store.rotate(rotation(s, s.jti, T0 + MINUTE, { generation: 1 }))).kind, 'rotated')
  })

  test('rotate: the successor of a lost rotation (the record written back as it was) rotates as if current', async () => {
    const store = ctx.store()
    const s = await login()
    const lost = await store.rotate(rotation(s, s.jti, T0 + MINUTE, { generation: 1 }))
    assert.ok(lost.kind === 'rotated')
    await store.createSession(s) // the failover: the record as it was before that rotation
    assert.equal((await store.getSession(s.id, T0 + MINUTE))?.generation, 1)
    const input = rotation(s, lost.session.currentJti, T0 + 2 * MINUTE, { generation: 2 })
    const out = await store.rotate(input)
    assert.ok(out.kind === 'rotated', out.kind)
    assert.equal(out.session.generation, 3)
    assert.equal(out.session.previousJti, lost.session.currentJti)
    // The successor the lost rotation chose is gone with it: the spare is issued instead.
    assert.equal(out.session.currentJti, input.spareJti)
    assert.equal(out.session.nextJti, input.newJti)
    assert.deepEqual(await store.getSession(s.id, T0 + 2 * MINUTE), out.session)
    // Within grace it answers the same successor; its predecessor is now reuse.
    const again = await store.rotate(rotation(s, lost.session.currentJti, T0 + 2 * MINUTE + 1, { generation: 2 }))
    assert.ok(again.kind === 'grace')
    assert.equal(again.session.currentJti, out.session.currentJti)
    assert.equal((await store.rotate(rotation(s, s.jti, T0 + 2 * MINUTE + 2, { generation: 1 }))).kind, 'reused')
  })

  test('rotate: after a lost rotation its predecessor is current again and issues the same successor jti', async () => {
    const store = ctx.store()
    const s = await login()
    const lost = await store.rotate(rotation(s, s.jti, T0 + MINUTE, { generation: 1 }))
    assert.ok(lost.kind === 'rotated')
    await store.createSession(s)
    // Another tab (or a retry) still holding the predecessor: where the lost write would
    // have answered grace, it rotates again, to the jti the holder of the successor has.
    const retry = await store.rotate(rotation(s, s.jti, T0 + MINUTE + 1, { generation: 1 }))
    assert.ok(retry.kind === 'rotated')
    assert.equal(retry.session.currentJti, lost.session.currentJti)
    assert.equal(retry.session.generation, 2)
    const next = await store.rotate(rotation(s, lost.session.currentJti, T0 + MINUTE + 2, { generation: 2 }))
    assert.ok(next.kind === 'rotated')
    assert.equal(next.session.generation, 3)
  })

  test('rotate: two lost rotations cannot be told from a forgery: the later token is not_found', async () => {
    const store = ctx.store()
    const s = await login()
    const g2 = await store.rotate(rotation(s, s.jti, T0 + MINUTE, { generation: 1 }))
    assert.ok(g2.kind === 'rotated')
    const g3 = await store.rotate(rotation(s, g2.session.currentJti, T0 + MINUTE + 1, { generation: 2 }))
    assert.ok(g3.kind === 'rotated')
    await store.createSession(s)
    assert.equal((await store.rotate(rotation(s, g3.session.currentJti, T0 + MINUTE + 2, { generation: 3 }))).kind, 'not_found')
    assert.equal((await store.getSession(s.id, T0 + MINUTE + 2))?.revokedAt, null)
  })

  test(
    "rotate: a lost rotation of a later generation, restored in the store's own way, recovers its successor",
    { skip: ctx.snapshot === undefined && 'this store cannot lose a write' },
    async () => {
      const store = ctx.store()
      const s = await login()
      let jti = s.jti
      for (let gen = 1; gen <= 2; gen++) {
        const out = await store.rotate(rotation(s, jti, T0 + gen, { generation: gen }))
        assert.ok(out.kind === 'rotated')
        jti = out.session.currentJti
      }
      const before = await store.getSession(s.id, T0 + 3)
      const restore = await ctx.snapshot!(s.id)
      const lost = await store.rotate(rotation(s, jti, T0 + MINUTE, { generation: 3 }))
      assert.ok(lost.kind === 'rotated')
      await restore()
      assert.deepEqual(await store.getSession(s.id, T0 + MINUTE), before)
      const forged = await store.rotate(rotation(s, id('j'), T0 + MINUTE + 1, { generation: 4 }))
      assert.equal(forged.kind, 'not_found')
      const out = await store.rotate(rotation(s, lost.session.currentJti, T0 + MINUTE + 2, { generation: 4 }))
      assert.ok(out.kind === 'rotated', out.kind)
      assert.equal(out.session.generation, 5)
      assert.equal(out.session.previousJti, lost.session.currentJti)
    },
  )
}
