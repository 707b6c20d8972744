import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ClusterNode, NodeState } from '../cluster.js'
import { settled } from '../cluster-faults.js'

const node = (port: number): ClusterNode => ({ name: `redis-cluster:${port}`, port, server: undefined as never, ask: async () => null })
const primary = (port: number, replicas = 1): NodeState => ({
  node: node(port),
  role: 'master',
  clusterOk: true,
  hasSlots: true,
  connectedReplicas: replicas,
})
const replica = (port: number, of: number, linkUp = true): NodeState => ({
  node: node(port),
  role: 'slave',
  clusterOk: true,
  masterPort: of,
  linkUp,
})
const healthy = (): NodeState[] => [primary(1), primary(2), primary(3), replica(4, 1), replica(5, 2), replica(6, 3)]

describe('settled (when after() stops waiting for the Cluster)', () => {
  it('holds for three primaries with slots, each with a linked replica, cluster_state:ok everywhere', () => {
    assert.equal(settled(healthy()), true)
  })

  it('not while a node does not answer, or one says cluster_state:fail', () => {
    const down = healthy()
    down[4] = { node: node(5), role: 'down' }
    assert.equal(settled(down), false)
    const fail = healthy()
    fail[0] = { ...primary(1), clusterOk: false }
    assert.equal(settled(fail), false)
  })

  it('not while a replica link is down or a primary has no replica (a restarted node still syncing)', () => {
    const s = healthy()
    s[3] = replica(4, 1, false)
    assert.equal(settled(s), false)
    const t = healthy()
    t[1] = primary(2, 0)
    assert.equal(settled(t), false)
  })

  it('not with a primary without slots (a node that came back as an empty primary) or a replica of a non-primary', () => {
    const s = healthy()
    s[5] = { ...primary(6, 0), hasSlots: false }
    assert.equal(settled(s), false)
    const t = healthy()
    t[5] = replica(6, 4)
    assert.equal(settled(t), false)
  })
})
