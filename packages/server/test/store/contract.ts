import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import type { NewSession, RotateInput, SessionStore } from '../../src/store/types.js'
import { describeLostRotation } from './contract-lost-rotation.js'
import { describeMigrateLegacy } from './contract-migrate.js'

const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE
const GRACE = 15_000

export interface StoreContractOptions {
  /**
   * Copies a session as the store holds it and answers a function that writes the copy back in
   * the store's own way, undoing every write since: what a failover to an asynchronous replica
   * does. Left out by stores that cannot lose a write (memory); the lost-first-rotation tests
   * still run there, restoring by repeating `createSession`.
   */
  snapshot?: (id: string) => Promise<() => Promise<void>>
}

/**
 * The one suite every SessionStore passes (lucia's `testAdapter`). Times are passed in and
 * start far from the wall clock on purpose: a store must judge expiry by the `now` it is given,
 * and derive any TTL relative to it (expiresAt - now), never as an absolute wall-clock time.
 */
export function describeStoreContract(name: string, makeStore: () => Promise<SessionStore>, options: StoreContractOptions = {}): void {
  describe(`store contract: ${name}`, () => {
    let store: SessionStore
    const T0 = Date.UTC(2026, 0, 1)

    before(async () => {
      store = await makeStore()
    })
    after(async () => {
      await store.close()
    })

    function id(prefix: string): string {
      return `${prefix}_${randomUUID().replaceAll('-', '')}`
    }

    async function login(overrides: Partial<NewSession> = {}): Promise<NewSession> {
      const input: NewSession = {
        id: id('s'),
        userId: id('u'),
        jti: id('j'),
        nextJti: id('j'),
        now: T0,
        expiresAt: T0 + DAY,
        absoluteExpiresAt: T0 + 30 * DAY,
        userAgent: 'test-agent',
        ip: '127.0.0.1',
        ...overrides,
      }
      await store.createSession(input)
      return input
    }

    function rotation(s: NewSession, jti: string, now: number, overrides: Partial<RotateInput> = {}): RotateInput {
      // As baton calls it: a fresh next successor and a spare (RotateInput).
      return { id: s.id, jti, newJti: id('j'), spareJti: id('j'), now, graceMs: GRACE, refreshLifetimeMs: DAY, ...overrides }
    }

    test('createSession: stores generation 1 with the given times and client info', async () => {
      const s = await login()
      const r = await store.getSession(s.id, T0)
      assert.ok(r)
      assert.equal(r.userId, s.userId)
      assert.equal(r.currentJti, s.jti)
      assert.equal(r.nextJti, s.nextJti)
      assert.equal(r.generation, 1)
      assert.equal(r.previousJti, null)
      assert.equal(r.revokedAt, null)
      assert.equal(r.createdAt, T0)
      assert.equal(r.lastUsedAt, T0)
      assert.equal(r.currentIssuedAt, T0)
      assert.equal(r.expiresAt, T0 + DAY)
      assert.equal(r.absoluteExpiresAt, T0 + 30 * DAY)
      assert.equal(r.userAgent, 'test-agent')
      assert.equal(r.ip, '127.0.0.1')
    })

    test('createSession: null client info round-trips as null', async () => {
      const s = await login({ userAgent: null, ip: null })
      const r = await store.getSession(s.id, T0)
      assert.equal(r?.userAgent, null)
      assert.equal(r?.ip, null)
    })

    test('getSession: unknown id is null', async () => {
      assert.equal(await store.getSession(id('s'), T0), null)
    })

    test('getSession: a record past its expiry is null', async () => {
      const s = await login()
      assert.equal(await store.getSession(s.id, T0 + DAY), null)
    })

    test('rotate: the current token rotates to the successor chosen before (nextJti), generation + 1; newJti is the next one', async () => {
      const s = await login()
      const input = rotation(s, s.jti, T0 + MINUTE)
      const out = await store.rotate(input)
      assert.equal(out.kind, 'rotated')
      assert.ok(out.kind === 'rotated')
      assert.equal(out.session.currentJti, s.nextJti)
      assert.equal(out.session.nextJti, input.newJti)
      assert.equal(out.session.generation, 2)
      assert.equal(out.session.previousJti, s.jti)
      assert.equal(out.session.graceUntil, T0 + MINUTE + GRACE)
      assert.equal(out.session.currentIssuedAt, T0 + MINUTE)
      assert.equal(out.session.lastUsedAt, T0 + MINUTE)
      assert.equal(out.session.expiresAt, T0 + MINUTE + DAY)
      const stored = await store.getSession(s.id, T0 + MINUTE)
      assert.deepEqual(stored, out.session)
      const second = await store.rotate(rotation(s, s.nextJti!, T0 + 2 * MINUTE))
      assert.ok(second.kind === 'rotated')
      assert.equal(second.session.currentJti, input.newJti)
    })

    test('rotate: a record with no successor chosen issues spareJti and chooses newJti; with no spare it issues newJti', async () => {
      // Sessions created without `nextJti` (as before it existed).
      const withoutNext = async (): Promise<NewSession> => {
        const s: NewSession = {
          id: id('s'),
          userId: id('u'),
          jti: id('j'),
          now: T0,
          expiresAt: T0 + DAY,
          absoluteExpiresAt: T0 + 30 * DAY,
          userAgent: null,
          ip: null,
        }
        await store.createSession(s)
        return s
      }
      const s = await withoutNext()
      assert.equal((await store.getSession(s.id, T0))?.nextJti, null)
      const input = rotation(s, s.jti, T0 + 1)
      const out = await store.rotate(input)
      assert.ok(out.kind === 'rotated')
      assert.equal(out.session.currentJti, input.spareJti)
      assert.equal(out.session.nextJti, input.newJti)
      const t = await withoutNext()
      const { spareJti: _, ...bareInput } = rotation(t, t.jti, T0 + 1)
      const bare = await store.rotate(bareInput)
      assert.ok(bare.kind === 'rotated')
      assert.equal(bare.session.currentJti, bareInput.newJti)
      assert.equal(bare.session.nextJti, null)
      assert.deepEqual(await store.getSession(t.id, T0 + 1), bare.session)
    })

    test('rotate: previous token within grace returns the same successor and changes nothing else', async () => {
      const s = await login()
      const first = await store.rotate(rotation(s, s.jti, T0 + MINUTE))
      assert.ok(first.kind === 'rotated')
      const again = await store.rotate(rotation(s, s.jti, T0 + MINUTE + GRACE - 1))
      assert.equal(again.kind, 'grace')
      assert.ok(again.kind === 'grace')
      assert.equal(again.session.currentJti, first.session.currentJti)
      assert.equal(again.session.generation, 2)
      assert.equal(again.session.currentIssuedAt, first.session.currentIssuedAt)
      assert.equal(again.session.revokedAt, null)
      assert.equal(again.session.lastUsedAt, T0 + MINUTE + GRACE - 1)
    })

    test('rotate: 50 concurrent presentations of one token give one rotation and 49 grace answers with the same successor', async () => {
      const s = await login()
      const outs = await Promise.all(Array.from({ length: 50 }, () => store.rotate(rotation(s, s.jti, T0 + MINUTE))))
      const rotated = outs.filter((o) => o.kind === 'rotated')
      const grace = outs.filter((o) => o.kind === 'grace')
      assert.equal(rotated.length, 1)
      assert.equal(grace.length, 49)
      const successors = new Set(outs.map((o) => ('session' in o ? o.session.currentJti : null)))
      assert.equal(successors.size, 1)
      const r = await store.getSession(s.id, T0 + MINUTE)
      assert.equal(r?.generation, 2)
    })

    test('rotate: previous token after grace is reuse and revokes the session', async () => {
      const s = await login()
      const first = await store.rotate(rotation(s, s.jti, T0 + MINUTE))
      assert.ok(first.kind === 'rotated')
      const late = await store.rotate(rotation(s, s.jti, T0 + MINUTE + GRACE))
      assert.equal(late.kind, 'reused')
      assert.ok(late.kind === 'reused')
      assert.equal(late.session.revokedAt, T0 + MINUTE + GRACE)
      // The legitimate holder of the successor is now out too: the family is revoked.
      const next = await store.rotate(rotation(s, first.session.currentJti, T0 + MINUTE + GRACE + 1))
      assert.equal(next.kind, 'revoked')
    })

    test('rotate: the grace window does not run while the store was unavailable (outage spans)', async () => {
      const s = await login()
      const R = T0 + MINUTE
      const first = await store.rotate(rotation(s, s.jti, R))
      assert.ok(first.kind === 'rotated')
      // Down from 5 s to 35 s after the rotation: 30 s of it count for nothing, so at R + 40 s
      // only 10 s of the 15 s window have run; at R + 45 s all 15 have.
      const outages = [[R + 5_000, R + 35_000]] as const
      const retry = await store.rotate(rotation(s, s.jti, R + 40_000, { outages }))
      assert.equal(retry.kind, 'grace')
      assert.ok(retry.kind === 'grace')
      assert.equal(retry.session.currentJti, first.session.currentJti)
      const late = await store.rotate(rotation(s, s.jti, R + 45_000, { outages }))
      assert.equal(late.kind, 'reused')
    })

    test('rotate: an outage before the rotation gives the window no credit', async () => {
      const s = await login()
      const R = T0 + MINUTE
      assert.equal((await store.rotate(rotation(s, s.jti, R))).kind, 'rotated')
      const before = [[R - 60_000, R - 1]] as const
      assert.equal((await store.rotate(rotation(s, s.jti, R + GRACE, { outages: before }))).kind, 'reused')
    })

    test('rotate: the outage credit is capped at five minutes, and the successor once used ends it', async () => {
      const s = await login()
      const R = T0 + MINUTE
      const first = await store.rotate(rotation(s, s.jti, R))
      assert.ok(first.kind === 'rotated')
      const hour = [[R, R + 60 * MINUTE]] as const
      // 5 minutes of credit: at R + 5 min + 14 s the window still holds, at + 15 s it is over.
      assert.equal((await store.rotate(rotation(s, s.jti, R + 5 * MINUTE + GRACE - 1_000, { outages: hour }))).kind, 'grace')
      const t = await login()
      const tFirst = await store.rotate(rotation(t, t.jti, R))
      assert.ok(tFirst.kind === 'rotated')
      assert.equal((await store.rotate(rotation(t, t.jti, R + 5 * MINUTE + GRACE, { outages: hour }))).kind, 'reused')
      // Once the successor has rotated, the first token is two generations old: reuse, credit or not.
      const u = await login()
      const u2 = await store.rotate(rotation(u, u.jti, R))
      assert.ok(u2.kind === 'rotated')
      assert.equal((await store.rotate(rotation(u, u2.session.currentJti, R + 1_000))).kind, 'rotated')
      assert.equal((await store.rotate(rotation(u, u.jti, R + 2_000, { outages: hour }))).kind, 'reused')
    })

    test('rotate: a token two generations old is reuse even inside the grace window', async () => {
      const s = await login()
      const g2 = await store.rotate(rotation(s, s.jti, T0 + MINUTE))
      assert.ok(g2.kind === 'rotated')
      const g3 = await store.rotate(rotation(s, g2.session.currentJti, T0 + MINUTE + 1))
      assert.ok(g3.kind === 'rotated')
      const old = await store.rotate(rotation(s, s.jti, T0 + MINUTE + 2))
      assert.equal(old.kind, 'reused')
    })

    test('rotate: an unknown jti on a live session is reuse', async () => {
      const s = await login()
      assert.equal((await store.rotate(rotation(s, id('j'), T0 + 1))).kind, 'reused')
    })

    // SPEC §3 and a store that lost writes (a failover): contract-lost-rotation.ts.
    describeLostRotation({ store: () => store, login, rotation, id, T0, snapshot: options.snapshot })
    // SPEC §9's cut-over: contract-migrate.ts.
    describeMigrateLegacy({ store: () => store, id, T0 })

    test('rotate: an unknown jti of the stored generation or older is reuse', async () => {
      const s = await login()
      assert.equal((await store.rotate(rotation(s, id('j'), T0 + 1, { generation: 1 }))).kind, 'reused')
    })

    test('rotate: unknown session is not_found', async () => {
      const s = await login()
      assert.equal((await store.rotate(rotation({ ...s, id: id('s') }, s.jti, T0))).kind, 'not_found')
    })

    test('rotate: expired session is not_found, not reuse', async () => {
      const s = await login()
      assert.equal((await store.rotate(rotation(s, s.jti, T0 + DAY))).kind, 'not_found')
    })

    test('rotate: revoked session answers revoked', async () => {
      const s = await login()
      assert.equal(await store.revokeSession(s.id, T0 + 1), true)
      assert.equal((await store.rotate(rotation(s, s.jti, T0 + 2))).kind, 'revoked')
    })

    test('rotate: the new expiry is capped by the absolute lifetime', async () => {
      const s = await login({ absoluteExpiresAt: T0 + DAY + MINUTE })
      const out = await store.rotate(rotation(s, s.jti, T0 + 12 * 60 * MINUTE))
      assert.ok(out.kind === 'rotated')
      assert.equal(out.session.expiresAt, T0 + DAY + MINUTE)
      assert.equal(out.session.absoluteExpiresAt, T0 + DAY + MINUTE)
      assert.equal((await store.rotate(rotation(s, out.session.currentJti, T0 + DAY + MINUTE))).kind, 'not_found')
    })

    test('rotate: a rotation chain keeps working and each step supersedes the last', async () => {
      const s = await login()
      let jti = s.jti
      for (let i = 1; i <= 20; i++) {
        const out = await store.rotate(rotation(s, jti, T0 + i * MINUTE))
        assert.ok(out.kind === 'rotated', `step ${i}`)
        assert.equal(out.session.generation, i + 1)
        jti = out.session.currentJti
      }
    })

    test('touch: the current token updates last-used; any other jti is not_found', async () => {
      const s = await login()
      const ok = await store.touch({ id: s.id, jti: s.jti, now: T0 + MINUTE })
      assert.ok(ok.kind === 'touched')
      assert.equal(ok.session.lastUsedAt, T0 + MINUTE)
      assert.equal(ok.session.generation, 1)
      assert.equal((await store.getSession(s.id, T0 + MINUTE))?.lastUsedAt, T0 + MINUTE)
      assert.equal((await store.touch({ id: s.id, jti: id('j'), now: T0 + MINUTE })).kind, 'not_found')
      assert.equal((await store.touch({ id: id('s'), jti: s.jti, now: T0 })).kind, 'not_found')
      await store.revokeSession(s.id, T0 + 2 * MINUTE)
      assert.equal((await store.touch({ id: s.id, jti: s.jti, now: T0 + 3 * MINUTE })).kind, 'revoked')
      const t = await login()
      assert.equal((await store.touch({ id: t.id, jti: t.jti, now: T0 + DAY })).kind, 'not_found')
    })

    test('revokeSession: true once, then false (idempotent); unknown is false', async () => {
      const s = await login()
      assert.equal(await store.revokeSession(s.id, T0 + 1), true)
      assert.equal(await store.revokeSession(s.id, T0 + 2), false)
      assert.equal(await store.revokeSession(id('s'), T0), false)
      const r = await store.getSession(s.id, T0 + 3)
      assert.equal(r?.revokedAt, T0 + 1)
    })

    test('revokeUserSessions: revokes every live session of that user only', async () => {
      const a = await login()
      const userId = a.userId
      const b = await login({ userId })
      const c = await login({ userId })
      await store.revokeSession(c.id, T0 + 1)
      const other = await login()
      assert.equal(await store.revokeUserSessions(userId, T0 + 2), 2)
      assert.equal((await store.rotate(rotation(a, a.jti, T0 + 3))).kind, 'revoked')
      assert.equal((await store.rotate(rotation(b, b.jti, T0 + 3))).kind, 'revoked')
      assert.equal((await store.rotate(rotation(other, other.jti, T0 + 3))).kind, 'rotated')
      assert.equal(await store.revokeUserSessions(userId, T0 + 4), 0)
      assert.equal(await store.revokeUserSessions(id('u'), T0 + 4), 0)
    })

    test('listUserSessions: live sessions of the user, newest first', async () => {
      const a = await login()
      const userId = a.userId
      const b = await login({ userId, now: T0 + 1000 })
      const revoked = await login({ userId, now: T0 + 2000 })
      await store.revokeSession(revoked.id, T0 + 3000)
      const expiring = await login({ userId, now: T0 + 4000, expiresAt: T0 + 5000 })
      await login()
      const list = await store.listUserSessions(userId, T0 + 4500)
      assert.deepEqual(
        list.map((r) => r.id),
        [expiring.id, b.id, a.id],
      )
      const later = await store.listUserSessions(userId, T0 + 5000)
      assert.deepEqual(
        later.map((r) => r.id),
        [b.id, a.id],
      )
      assert.deepEqual(await store.listUserSessions(id('u'), T0), [])
    })

    test('incrementCounter: counts within the window, restarts after it; reset clears', async () => {
      const key = id('k')
      assert.deepEqual(await store.getCounter(key, T0), { count: 0, resetAt: null })
      assert.deepEqual(await store.incrementCounter(key, MINUTE, T0), { count: 1, resetAt: T0 + MINUTE })
      assert.deepEqual(await store.incrementCounter(key, MINUTE, T0 + 10), { count: 2, resetAt: T0 + MINUTE })
      assert.deepEqual(await store.getCounter(key, T0 + 20), { count: 2, resetAt: T0 + MINUTE })
      assert.deepEqual(await store.getCounter(key, T0 + MINUTE), { count: 0, resetAt: null })
      assert.deepEqual(await store.incrementCounter(key, MINUTE, T0 + MINUTE), {
        count: 1,
        resetAt: T0 + 2 * MINUTE,
      })
      await store.resetCounter(key)
      assert.deepEqual(await store.getCounter(key, T0 + MINUTE), { count: 0, resetAt: null })
    })

    test('incrementCounter: concurrent increments are all counted', async () => {
      const key = id('k')
      const answers = await Promise.all(Array.from({ length: 25 }, () => store.incrementCounter(key, MINUTE, T0)))
      assert.equal((await store.getCounter(key, T0)).count, 25)
      // Each increment answers its own count: that answer is a login's reservation (issue 11).
      assert.deepEqual(
        answers.map((a) => a.count).sort((a, b) => a - b),
        Array.from({ length: 25 }, (_, i) => i + 1),
      )
    })

    test('releaseCounter: takes back one count of its own window, never below 0, never from a newer window', async () => {
      const key = id('k')
      const first = await store.incrementCounter(key, MINUTE, T0)
      await store.incrementCounter(key, MINUTE, T0 + 1)
      await store.releaseCounter(key, first.resetAt!)
      assert.deepEqual(await store.getCounter(key, T0 + 2), { count: 1, resetAt: T0 + MINUTE })
      await store.releaseCounter(key, first.resetAt!)
      await store.releaseCounter(key, first.resetAt!)
      assert.deepEqual(await store.getCounter(key, T0 + 3), { count: 0, resetAt: T0 + MINUTE })
      assert.deepEqual(await store.incrementCounter(key, MINUTE, T0 + 4), { count: 1, resetAt: T0 + MINUTE })
      // A release from the previous window, arriving late, does not give the new one a free attempt.
      const next = await store.incrementCounter(key, MINUTE, T0 + MINUTE)
      await store.releaseCounter(key, first.resetAt!)
      assert.deepEqual(await store.getCounter(key, T0 + MINUTE + 1), { count: 1, resetAt: next.resetAt })
      await store.releaseCounter(id('k'), T0 + MINUTE)
      assert.deepEqual(await store.getCounter(key, T0 + MINUTE + 1), { count: 1, resetAt: next.resetAt })
    })

    test('releaseCounter: concurrent reservations and releases leave an exact count', async () => {
      const key = id('k')
      const taken = await Promise.all(Array.from({ length: 30 }, () => store.incrementCounter(key, MINUTE, T0)))
      await Promise.all(taken.slice(0, 20).map((t) => store.releaseCounter(key, t.resetAt!)))
      assert.equal((await store.getCounter(key, T0)).count, 10)
    })

    test('ping: answers a latency in milliseconds', async () => {
      const ms = await store.ping()
      assert.equal(typeof ms, 'number')
      assert.ok(ms >= 0)
    })
  })
}
