import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { createRedisStore, sessionKey, userKey, type RedisStore } from '../../src/store/redis.js'
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

function rotation(s: NewSession, jti: string, now: number) {
  return { id: s.id, jti, newJti: newId(), now, graceMs: 15_000, refreshLifetimeMs: DAY }
}

describeStoreContract('redis cluster', openClusterStore)

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
      assert.equal(
        await node.command('CLUSTER', 'KEYSLOT', sessionKey(sid)),
        await node.command('CLUSTER', 'KEYSLOT', sid),
      )
      assert.equal(
        await node.command('CLUSTER', 'KEYSLOT', userKey(uid)),
        await node.command('CLUSTER', 'KEYSLOT', uid),
      )
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
