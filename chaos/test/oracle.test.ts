/**
 * The oracle on small made-up histories: a clean one passes, and each violation the chaos run
 * looks for makes its invariant fail with an excerpt naming the actor and jtis (so none of the
 * chaos run's checks is one that cannot fail).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createHistory, type Exchange, type FaultRecord, type History } from '../history.js'
import { judge, type OracleInput } from '../oracle.js'
import type { Revoked } from '../users.js'

let id = 0
function exchange(partial: Partial<Exchange>): Exchange {
  return { id: id++, actor: 'u1/t0', kind: 'refresh', inst: 0, t0: 1000, t1: 1010, status: 200, ...partial }
}

function input(history: History, extra: Partial<OracleInput> = {}): OracleInput {
  return {
    history,
    revoked: [],
    revokedProbes: [],
    attacked: new Map(),
    recovery: new Map(),
    storeTimeoutMs: 500,
    marginMs: 2500,
    recoveryBoundMs: 10_000,
    keys: { total: 3, withoutTTL: [] },
    memory: { batonRssMax: 100, redisUsedMax: 100, batonBound: 1000, redisBound: 1000, batonFdsMax: 50, batonFdsBound: 2000 },
    ...extra,
  }
}

function failed(i: OracleInput): string[] {
  return judge(i)
    .invariants.filter((x) => !x.pass)
    .map((x) => x.name)
}

function clean(): History {
  const h = createHistory()
  h.exchanges.push(
    exchange({ kind: 'login', successor: 'j1', successorSid: 's1', t0: 0, t1: 5 }),
    exchange({ jti: 'j1', sid: 's1', successor: 'j2', successorSid: 's1', t0: 3000, t1: 3010 }),
    // a second tab inside the grace window: the same successor
    exchange({ actor: 'u1/t1', jti: 'j1', sid: 's1', successor: 'j2', successorSid: 's1', t0: 3015, t1: 3020 }),
  )
  return h
}

test('a clean history passes every invariant', () => {
  assert.deepEqual(failed(input(clean())), [])
})

test('two successors of one jti fail, naming the jti', () => {
  const h = clean()
  h.exchanges.push(exchange({ actor: 'u1/t1', jti: 'j1', sid: 's1', successor: 'j3', successorSid: 's1', t0: 3100, t1: 3110 }))
  const verdict = judge(input(h))
  const fork = verdict.invariants.find((i) => i.name === 'one successor per refresh token')
  assert.equal(fork?.pass, false)
  assert.match(fork?.excerpt[0] ?? '', /jti j1 has successors j2, j3/)
})

// The 30-minute run of 2026-12-07: a revoked session came back from a stale copy, a probe
// rotated it, a second loss took that rotation, and the next probe got another successor. The
// first was no longer valid: named, not failed; without a fault in between it still fails.
test('two successors of one jti with a fault that destroyed data between them are named, not failed', () => {
  const h = clean()
  h.exchanges.push(exchange({ actor: 'u1/t1', jti: 'j1', sid: 's1', successor: 'j3', successorSid: 's1', t0: 9000, t1: 9010 }))
  h.faults.push({ kind: 'redis-kill', target: 'redis-a', start: 5000, end: 6000, failedOver: false, destroysData: true })
  const verdict = judge(input(h))
  assert.equal(verdict.invariants.find((i) => i.name === 'one successor per refresh token')?.pass, true)
  assert.match(verdict.explained.forksAfterLoss[0] ?? '', /jti j1 has successors j2, j3.*lost in redis-kill at 5000/)
  // A fault that keeps the data (a pause) explains nothing.
  h.faults[0] = { kind: 'redis-stop', target: 'redis-a', start: 5000, end: 6000, failedOver: false, destroysData: false }
  assert.equal(judge(input(h)).invariants.find((i) => i.name === 'one successor per refresh token')?.pass, false)
})

test('a 500 fails; a 503 does not', () => {
  const h = clean()
  h.exchanges.push(exchange({ status: 503, code: 'store_unavailable', jti: 'j2' }))
  assert.deepEqual(failed(input(h)), [])
  h.exchanges.push(exchange({ status: 500, code: 'internal_error', jti: 'j2' }))
  assert.deepEqual(failed(input(h)), ['no 5xx but 503'])
})

test('a 415 to an honest client fails', () => {
  const h = clean()
  h.exchanges.push(exchange({ kind: 'logout-all', status: 415, code: 'unsupported_media_type' }))
  assert.deepEqual(failed(input(h)), ['no unexpected 4xx'])
})

test('a late store call fails unless its instance was down then', () => {
  const h = clean()
  h.exchanges.push(exchange({ t0: 5000, t1: 9000, status: 503 }))
  assert.deepEqual(failed(input(h)), ['every request answered in time'])
  h.downtime.push({ inst: 0, start: 6000, end: 7000 })
  assert.deepEqual(failed(input(h)), [])
})

test('a logout nothing explains fails; a fault that destroyed the data explains it', () => {
  const h = clean()
  h.happenings.push({ t: 8000, actor: 'u1/t0', user: 1, what: 'session-expired', detail: 'token_not_valid', sid: 's1' })
  assert.deepEqual(failed(input(h)), ['no unexplained logout'])
  const fault: FaultRecord = { kind: 'redis-kill', target: 'redis-a', start: 5000, end: 6000, failedOver: false, destroysData: true }
  h.faults.push(fault)
  const verdict = judge(input(h, { recovery: new Map([[fault, 300]]) }))
  assert.deepEqual(
    verdict.invariants.filter((i) => !i.pass).map((i) => i.name),
    [],
  )
  assert.equal(verdict.explained.faultDestroyed.length, 1)
})

test('token_reused for a client that never replayed fails; for an attacked family it is expected', () => {
  const h = clean()
  h.exchanges.push(exchange({ jti: 'j1', sid: 's1', status: 401, code: 'token_reused', t0: 30_000, t1: 30_010 }))
  assert.deepEqual(failed(input(h)), ['no token_reused for an honest client'])
  assert.deepEqual(failed(input(h, { attacked: new Map([['s1', 29_000]]) })), [])
})

test('a family that refreshes after the replay was refused fails', () => {
  const h = clean()
  h.exchanges.push(
    exchange({ actor: 'attacker0', jti: 'j1', sid: 's1', status: 401, code: 'token_reused', t0: 20_000, t1: 20_010 }),
    exchange({ jti: 'j2', sid: 's1', successor: 'j4', successorSid: 's1', t0: 21_000, t1: 21_010 }),
  )
  assert.deepEqual(failed(input(h, { attacked: new Map([['s1', 20_010]]) })), ['every replay ends its family'])
})

test('a revoked token that refreshes again fails', () => {
  const h = clean()
  const revoked: Revoked[] = [{ token: 'x', sid: 's9', why: 'logout by u2/t0', t: 100 }]
  assert.deepEqual(
    failed(input(h, { revoked, revokedProbes: [{ index: 0, t: 200, status: 401, code: 'token_revoked', after: 'end' }] })),
    [],
  )
  assert.deepEqual(failed(input(h, { revoked, revokedProbes: [{ index: 0, t: 200, status: 200, after: 'end' }] })), [
    'a revocation is never undone',
  ])
})

test('an undone revocation baton logged as revoke_unreplicated is a named window; another sid still fails', () => {
  const h = clean()
  const revoked: Revoked[] = [{ token: 'x', sid: 's9', why: 'logout by u2/t0', t: 100 }]
  const probes = [{ index: 0, t: 200, status: 200, after: 'failover' }]
  const named = judge(input(h, { revoked, revokedProbes: probes, unreplicated: new Set(['s9']) }))
  assert.deepEqual(
    named.invariants.filter((i) => !i.pass).map((i) => i.name),
    [],
  )
  assert.equal(named.explained.unreplicatedUndone.length, 1)
  assert.match(named.explained.unreplicatedUndone[0]!, /s9.*revoke_unreplicated/)
  assert.deepEqual(failed(input(h, { revoked, revokedProbes: probes, unreplicated: new Set(['s8']) })), ['a revocation is never undone'])
})

test('failed refreshes closer than the backoff allows are a retry storm', () => {
  const h = clean()
  for (let i = 0; i < 12; i++)
    h.exchanges.push(exchange({ actor: 'u2/t0', status: 503, jti: 'k1', t0: 10_000 + i * 100, t1: 10_000 + i * 100 + 5 }))
  assert.deepEqual(failed(input(h)), ['no retry storm'])
  const spaced = clean()
  for (let i = 0; i < 6; i++)
    spaced.exchanges.push(exchange({ actor: 'u2/t0', status: 503, jti: 'k1', t0: 10_000 + 2 ** i * 1000, t1: 10_000 + 2 ** i * 1000 + 5 }))
  assert.deepEqual(failed(input(spaced)), [])
})

test('keys without a TTL, a hung call and a slow recovery each fail', () => {
  const h = clean()
  h.happenings.push({ t: 1, actor: 'u1/t0', user: 1, what: 'hung', detail: 'fetch /api/me/' })
  const fault: FaultRecord = { kind: 'failover', target: 'redis-a', start: 0, end: 1, failedOver: true, destroysData: true }
  h.faults.push(fault)
  assert.deepEqual(failed(input(h, { keys: { total: 1, withoutTTL: ['baton:x (PTTL -1)'] }, recovery: new Map([[fault, 12_000]]) })), [
    'no client call hangs',
    'every Redis key has a TTL',
    'recovery within the bound',
  ])
})

test('a call answered 401 not about the token that cost two refreshes fails; one passes', () => {
  const h = clean()
  h.happenings.push({ t: 4000, actor: 'u1/t0', user: 1, what: 'not-about-token', detail: '1' })
  assert.deepEqual(failed(input(h)), [])
  h.happenings.push({ t: 5000, actor: 'u1/t0', user: 1, what: 'not-about-token', detail: '2' })
  const verdict = judge(input(h))
  const loop = verdict.invariants.find((i) => i.name === 'a 401 not about the token costs at most one refresh')
  assert.equal(loop?.pass, false)
  assert.match(loop?.excerpt[0] ?? '', /u1\/t0 at 5000: 2 refreshes/)
})

test('a request the client network never sent (offline) is not a late answer; one sent and unanswered is', () => {
  const h = clean()
  h.exchanges.push(exchange({ status: null, error: 'offline', jti: 'j2', t0: 4000, t1: 4000 }))
  assert.deepEqual(failed(input(h)), [])
  h.exchanges.push(exchange({ status: null, error: 'TimeoutError', jti: 'j2', t0: 5000, t1: 17000 }))
  assert.deepEqual(failed(input(h)), ['every request answered in time'])
})

test('a lost refresh answer whose retry got another successor fails; the same successor passes', () => {
  const h = clean()
  h.exchanges.push(exchange({ jti: 'j2', sid: 's1', successor: 'j3', successorSid: 's1', t0: 4000, t1: 4010, lost: true }))
  h.exchanges.push(exchange({ jti: 'j2', sid: 's1', successor: 'j3', successorSid: 's1', t0: 5000, t1: 5010 }))
  assert.deepEqual(failed(input(h)), [])
  h.exchanges.push(exchange({ jti: 'j3', sid: 's1', successor: 'j4', successorSid: 's1', t0: 6000, t1: 6010, lost: true }))
  h.exchanges.push(exchange({ jti: 'j3', sid: 's1', status: 401, code: 'token_reused', t0: 7000, t1: 7010 }))
  assert.ok(failed(input(h)).includes('a lost refresh answer is retried to the same successor'))
})

test('two tabs of one user refreshing one token at the same time fail; one after the other passes', () => {
  const h = clean()
  h.exchanges.push(exchange({ actor: 'u1/t0', jti: 'j2', sid: 's1', successor: 'j3', t0: 4000, t1: 4010 }))
  h.exchanges.push(exchange({ actor: 'u1/t1', jti: 'j2', sid: 's1', successor: 'j3', t0: 4020, t1: 4030 }))
  assert.deepEqual(failed(input(h)), [])
  h.exchanges.push(exchange({ actor: 'u1/t0', jti: 'j3', sid: 's1', successor: 'j4', t0: 5000, t1: 5100 }))
  h.exchanges.push(exchange({ actor: 'u1/t1', jti: 'j3', sid: 's1', successor: 'j4', t0: 5050, t1: 5120 }))
  assert.deepEqual(failed(input(h)), ['no two tabs refresh one token at once'])
})

test('a Cluster shard measured wiped explains a logout even after a failover; one measured intact does not', () => {
  const h = clean()
  h.happenings.push({ t: 8000, actor: 'u1/t0', user: 1, what: 'session-expired', detail: 'token_not_valid', sid: 's1' })
  h.faults.push({
    kind: 'cluster-kill',
    target: 'redis-cluster:7000',
    start: 5000,
    end: 6000,
    failedOver: true,
    destroysData: true,
    wiped: true,
  })
  const verdict = judge(input(h))
  assert.deepEqual(failed(input(h)), [])
  assert.match(verdict.explained.faultDestroyed[0]?.why ?? '', /cluster-kill at 5000 wiped redis-cluster:7000/)
  // Intact and the session's last write long before: nothing explains it.
  h.faults[0] = { ...(h.faults[0] as FaultRecord), wiped: false, failedOver: false, destroysData: false }
  assert.deepEqual(failed(input(h)), ['no unexplained logout'])
})

test('token_reused after a lost answer and a network cut past the grace window is counted apart; with a refresh that got through, it fails', () => {
  const h = clean()
  h.exchanges.push(exchange({ jti: 'j2', sid: 's1', successor: 'j3', successorSid: 's1', t0: 4000, t1: 4010, lost: true }))
  // Offline for 16 s: nothing reached baton, then the old token is reuse.
  h.exchanges.push(exchange({ jti: 'j2', sid: 's1', status: null, error: 'offline', t0: 9000, t1: 9000 }))
  h.exchanges.push(exchange({ jti: 'j2', sid: 's1', status: 401, code: 'token_reused', t0: 20_100, t1: 20_110 }))
  h.happenings.push({ t: 20_120, actor: 'u1/t0', user: 1, what: 'session-expired', detail: 'token_reused', sid: 's1' })
  const verdict = judge(input(h))
  assert.deepEqual(failed(input(h)), [])
  assert.match(verdict.explained.faultDestroyed[0]?.why ?? '', /answer of j2's rotation was lost/)
  // A refresh of that user that reached baton inside the window: the retry should have got j3.
  h.exchanges.splice(
    -1,
    0,
    exchange({ actor: 'u1/t1', jti: 'j2', sid: 's1', status: 503, code: 'store_unavailable', t0: 12_000, t1: 12_010 }),
  )
  assert.ok(failed(input(h)).includes('no token_reused for an honest client'))
})

test('a lost answer whose retry finds another successor after a data-destroying fault between is named, not failed', () => {
  const h = clean()
  h.exchanges.push(exchange({ jti: 'j2', sid: 's1', successor: 'j3', successorSid: 's1', t0: 4000, t1: 4010, lost: true }))
  h.exchanges.push(exchange({ jti: 'j2', sid: 's1', successor: 'j9', successorSid: 's1', t0: 6000, t1: 6010 }))
  h.faults.push({ kind: 'failover', target: 'redis-a', start: 5000, end: 5500, failedOver: true, destroysData: true })
  const verdict = judge(input(h))
  assert.equal(verdict.invariants.find((i) => i.name === 'a lost refresh answer is retried to the same successor')?.pass, true)
  assert.match(verdict.explained.lostAfterLoss[0] ?? '', /failover at 5000 destroyed data between/)
  h.faults[0] = { ...(h.faults[0] as FaultRecord), destroysData: false, failedOver: false, kind: 'redis-stop' }
  assert.ok(failed(input(h)).includes('a lost refresh answer is retried to the same successor'))
})

test("a lost answer whose retry is token_revoked after the user's own logout-all passes; without that action it fails", () => {
  const h = clean()
  h.exchanges.push(exchange({ actor: 'u1/d0', jti: 'j2', sid: 's1', successor: 'j3', successorSid: 's1', t0: 4000, t1: 4010, lost: true }))
  h.exchanges.push(exchange({ actor: 'u1/d0', jti: 'j2', sid: 's1', status: 401, code: 'token_revoked', t0: 4600, t1: 4610 }))
  assert.ok(failed(input(h)).includes('a lost refresh answer is retried to the same successor'))
  h.happenings.push({ t: 4400, actor: 'u1/d1', user: 1, what: 'logout-all-called' })
  assert.ok(!failed(input(h)).includes('a lost refresh answer is retried to the same successor'))
})
