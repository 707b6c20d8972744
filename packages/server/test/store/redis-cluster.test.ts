import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import pino from 'pino'
import { createRedisStore, sessionKey, userKey, type RedisStore } from '../../src/store/redis.js'
import { userMarkKey } from '../../src/store/redis-user-marks.js'
import type { NewSession } from '../../src/store/types.js'
import { startRedisCluster, type RedisCluster } from '../helpers/redis-server.js'
import { describeStoreContract } from './contract.js'

const DAY = 24 * 60 * 60_000
const T0 = Date.UTC(2026, 0, 1)

let cluster: RedisCluster

before(async () => {
  cluster = await startRedisCluster()
})
after(async () => {
  await cluster.stop()
})

const newId = (): string => randomBytes(16).toString('base64url')

async function openClusterStore(): Promise<RedisStore> {
  const [seed, ...rest] = cluster.seeds
  const store = createRedisStore({ url: `redis://${seed}`, cluster: { nodes: rest } })
  await store.ready(5_000)
  return store
}

function session(overrides: Partial<NewSession> = {}): NewSession {
  return {
    id: newId(),
    userId: newId(),
    jti: newId(),
    now: T0,
    expiresAt: T0 + DAY,
    absoluteExpiresAt: T0 + 30 * DAY,
    userAgent: 'test-agent',
    ip: '127.0.0.1',
    ...overrides,
  }
}

/** The node that serves `key`'s slot now. */
async function ownerOf(key: string): Promise<RedisCluster['nodes'][number]> {
  const admin = cluster.nodes[0]!.client()
  try {
    const slot = Number(await admin.cluster('KEYSLOT', key))
    const range = (await admin.cluster('SLOTS')).find(([from, to]) => slot >= from && slot <= to)
    const node = cluster.nodes.find((n) => n.port === range?.[2]?.[1])
    assert.ok(node !== undefined, `no node serves slot ${slot}`)
    return node
  } finally {
    admin.disconnect()
  }
}

function rotation(s: NewSession, jti: string, now: number) {
  return { id: s.id, jti, newJti: newId(), now, graceMs: 15_000, refreshLifetimeMs: DAY }
}

describeStoreContract('redis cluster', openClusterStore, {
  // A failover that lost the last writes: the key as it was, on the node that serves its slot.
  async snapshot(id) {
    const key = sessionKey(id)
    for (const node of cluster.nodes) {
      const admin = node.client()
      try {
        const [dump, ttl] = await Promise.all([admin.dumpBuffer(key), admin.pttl(key)])
        return async () => {
          const again = node.client()
          await again.restore(key, ttl, dump!, 'REPLACE')
          again.disconnect()
        }
      } catch {
        // MOVED: another node serves this slot.
      } finally {
        admin.disconnect()
      }
    }
    throw new Error(`no node holds ${key}`)
  },
})

describe('redis cluster', () => {
  let store: RedisStore
  before(async () => {
    store = await openClusterStore()
  })
  after(async () => {
    await store.close()
  })

  test('cluster: a session key hashes by its session id, a user index by its user id', async () => {
    const node = cluster.nodes[0]!
    for (let i = 0; i < 20; i++) {
      const sid = newId()
      const uid = newId()
      assert.equal(await node.command('CLUSTER', 'KEYSLOT', sessionKey(sid)), await node.command('CLUSTER', 'KEYSLOT', sid))
      assert.equal(await node.command('CLUSTER', 'KEYSLOT', userKey(uid)), await node.command('CLUSTER', 'KEYSLOT', uid))
    }
  })

  test('cluster: rotate works for 300 sessions spread over every node, one user index across slots', async () => {
    const userId = newId()
    const sessions = Array.from({ length: 300 }, () => session({ userId }))
    await Promise.all(sessions.map((s) => store.createSession(s)))
    const outs = await Promise.all(sessions.map((s) => store.rotate(rotation(s, s.jti, T0 + 1))))
    assert.ok(outs.every((o) => o.kind === 'rotated'))
    const sizes = await Promise.all(cluster.nodes.map((n) => n.command('DBSIZE')))
    assert.ok(
      sizes.every((n) => Number(n) > 50),
      `keys per node: ${sizes.join(', ')}`,
    )
    assert.equal((await store.listUserSessions(userId, T0 + 2)).length, 300)
    assert.equal(await store.revokeUserSessions(userId, T0 + 3), 300)
    const after = await Promise.all(sessions.map((s) => store.rotate(rotation(s, s.jti, T0 + 4))))
    assert.ok(after.every((o) => o.kind === 'revoked'))
  })

  // The chaos run's Cluster variant: a shard restarted empty lost a user's index while the
  // sessions (other shards) lived on; logout-all answered {revoked: 0} and they refreshed on.
  test('cluster: log out everywhere with the user index lost still ends every session created before it', async () => {
    const userId = newId()
    const sessions = Array.from({ length: 12 }, () => session({ userId }))
    await Promise.all(sessions.map((s) => store.createSession(s)))
    const owner = await ownerOf(userKey(userId))
    assert.equal(await owner.command('DEL', userKey(userId)), 1, 'the index, as its shard restarted empty leaves it')

    assert.equal(await store.revokeUserSessions(userId, T0 + 10), 0, 'the index found nothing to revoke')
    const outs = await Promise.all(sessions.map((s) => store.rotate({ ...rotation(s, s.jti, T0 + 11), userId })))
    assert.deepEqual(new Set(outs.map((o) => o.kind)), new Set(['revoked']))
    assert.ok((await store.getSession(sessions[0]!.id, T0 + 12))?.revokedAt != null)
    assert.deepEqual(await store.listUserSessions(userId, T0 + 12), [])
    // The mark lives in the index's slot, with a TTL; a session created after it is untouched.
    const ttl = Number(await owner.command('PTTL', userMarkKey(userId)))
    assert.ok(ttl > 0 && ttl <= 30 * DAY, `mark PTTL ${ttl}`)
    const fresh = session({ userId, now: T0 + 20 })
    await store.createSession(fresh)
    assert.equal((await store.rotate({ ...rotation(fresh, fresh.jti, T0 + 21), userId })).kind, 'rotated')
    assert.equal((await store.listUserSessions(userId, T0 + 22)).length, 1)
  })

  test('cluster: the logout-all mark is best effort: a refresh whose index shard is down still rotates', async () => {
    const userId = newId()
    const owner = await ownerOf(userKey(userId))
    // A session on another shard than the user's index.
    let s = session({ userId })
    while ((await ownerOf(sessionKey(s.id))) === owner) s = session({ userId })
    await store.createSession(s)
    owner.pause()
    try {
      assert.equal((await store.rotate({ ...rotation(s, s.jti, T0 + 1), userId })).kind, 'rotated')
    } finally {
      owner.resume()
    }
  })

  test('cluster: a killed node fails commands for its slots fast, never hangs', async () => {
    const victim = cluster.nodes[2]!
    const admin = victim.client()
    // A session whose slot the victim serves.
    let s = session()
    for (;;) {
      const slot = Number(await admin.cluster('KEYSLOT', sessionKey(s.id)))
      const owner = (await admin.cluster('SLOTS')).find(([from, to]) => slot >= from && slot <= to)
      if (owner?.[2]?.[1] === victim.port) break
      s = session()
    }
    admin.disconnect()
    await store.createSession(s)
    await victim.kill()
    for (let i = 0; i < 3; i++) {
      const start = performance.now()
      await assert.rejects(store.rotate(rotation(s, s.jti, T0 + 1)))
      const ms = performance.now() - start
      assert.ok(ms < 3_000, `failed after ${ms} ms`)
    }
  })
})

describe('redis cluster with replicas', () => {
  test('cluster: each revocation waits for a replica of the node that holds it; a silent replica is one revoke_unreplicated warning per session, and one wait', async (t) => {
    const withReplicas = await startRedisCluster({ replicas: 1 })
    t.after(() => withReplicas.stop())
    let text = ''
    const sink = new Writable({
      write(chunk, _enc, done) {
        text += String(chunk)
        done()
      },
    })
    const [seed, ...rest] = withReplicas.seeds
    const store = createRedisStore({
      url: `redis://${seed}`,
      cluster: { nodes: rest },
      log: pino({ level: 'debug' }, sink),
      timeoutMs: 3_000,
      replicaWaitMs: 1_500,
    })
    t.after(() => store.close())
    await store.ready(5_000)
    const roles = await Promise.all(withReplicas.nodes.map(async (n) => String(await n.command('INFO', 'replication'))))
    const primaries = withReplicas.nodes.filter((_, i) => roles[i]!.includes('role:master'))
    const replicas = withReplicas.nodes.filter((_, i) => roles[i]!.includes('role:slave'))
    assert.equal(primaries.length, 3)
    assert.equal(replicas.length, 3)
    const waits = async (): Promise<number[]> =>
      Promise.all(
        primaries.map(async (n) => Number(/cmdstat_wait:calls=(\d+)/.exec(String(await n.command('INFO', 'commandstats')))?.[1] ?? 0)),
      )
    const warnings = (): number => text.split('\n').filter((l) => l.includes('"revoke_unreplicated"')).length

    // Sessions until every primary holds two (a key's owner answers EXISTS; the others MOVED).
    const owned = primaries.map(() => 0)
    const sessions: NewSession[] = []
    while (owned.some((n) => n < 2) && sessions.length < 200) {
      const s = session()
      await store.createSession(s)
      sessions.push(s)
      const held = await Promise.all(primaries.map((n) => n.command('EXISTS', sessionKey(s.id)).catch(() => 0)))
      owned[held.findIndex((h) => Number(h) === 1)]! += 1
    }
    assert.ok(
      owned.every((n) => n >= 2),
      `sessions per primary: ${owned.join(', ')}`,
    )
    for (const s of sessions) assert.equal(await store.revokeSession(s.id, T0 + 1), true)
    // One WAIT per revocation, each on the primary that holds the session.
    assert.deepEqual(await waits(), owned)
    assert.equal(warnings(), 0, text)

    const a = session()
    const b = session({ userId: a.userId })
    await store.createSession(a)
    await store.createSession(b)
    for (const r of replicas) r.pause()
    try {
      assert.equal(await store.revokeUserSessions(a.userId, T0 + 2), 2)
    } finally {
      for (const r of replicas) r.resume()
    }
    // The first session's WAIT timed out; the second did not wait (revocations pause waiting).
    assert.equal(warnings(), 2, text)
  })
})
