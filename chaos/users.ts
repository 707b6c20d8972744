/**
 * The simulated users: each drives the real @baton/client (packages/client/src) in this Node
 * process through a recording fetch. Roles, drawn from the seed:
 * - plain: one client pinned to one instance; some are an attacker's victim;
 * - alternating: one client whose requests alternate between the two instances;
 * - tabs: two clients sharing one storage, one in-process lock and one channel hub (two tabs);
 * - devices: two independent sessions of one user; one later calls logout-all, or revokes the
 *   other with DELETE /api/auth/sessions/:id;
 * - leaver: logs out at some point (POST /api/auth/logout/), then logs in again.
 * Attackers copy a victim's refresh token and replay it after the grace window (SPEC §3.2: reuse).
 */
import { createAuthClient, type AuthClient } from '../packages/client/src/index.js'
import { createInProcessLock } from '../packages/client/src/tab-lock.js'
import { createMemoryStorage, readTokens, type TokenStorage } from '../packages/client/src/token-storage.js'
import { createChannelHub } from '../packages/client/test/helpers/channel-hub.js'
import { NOT_ABOUT_TOKEN_PATH, NOT_ABOUT_TOKEN_SHARE, planNet, recordDrop, type NetFaults } from './client-faults.js'
import { claimsOf, recordingFetch, type History } from './history.js'
import type { Random } from './random.js'

export type Role = 'plain' | 'alternating' | 'tabs' | 'devices' | 'leaver'

export interface UserPlan {
  index: number
  role: Role
  /** The instance a pinned client uses. */
  pin: number
  /** ms after the start: when a leaver logs out, or a device acts on the other session. */
  actionAt: number
  /** devices: which action. */
  action: 'logout-all' | 'revoke'
}

export interface AttackPlan {
  index: number
  victim: number
  copyAt: number
  /** ms after copying: past the grace window, so the replay is reuse (SPEC §3.2). */
  replayAfter: number
}

/** A refresh token the server answered a revocation for (200/204): it must never refresh again. */
export interface Revoked {
  token: string
  sid: string | undefined
  why: string
  t: number
}

export interface RunContext {
  history: History
  urls: readonly string[]
  random: Random
  /** Real time at which every loop stops. */
  deadline: number
  start: number
  revoked: Revoked[]
  /** The attacked sessions (sid) and when: the victim's logout there is expected. */
  attacked: Map<string, number>
  password: string
}

/** The hard bound on any one client call (its own timeout is 10 s; a refresh and a retry fit). */
export const CALL_BOUND_MS = 25_000
export const GRACE_MS = 15_000

export function planUsers(count: number, random: Random, runMs: number): { users: UserPlan[]; attacks: AttackPlan[] } {
  const users: UserPlan[] = []
  for (let index = 0; index < count; index++) {
    const r = random.next()
    const role: Role = r < 0.45 ? 'plain' : r < 0.6 ? 'alternating' : r < 0.75 ? 'tabs' : r < 0.88 ? 'devices' : 'leaver'
    users.push({
      index,
      role,
      pin: index % 2,
      actionAt: random.range(0.15, 0.85) * runMs,
      action: random.chance(0.5) ? 'logout-all' : 'revoke',
    })
  }
  const plain = users.filter((u) => u.role === 'plain')
  const attacks: AttackPlan[] = []
  const wanted = Math.max(2, Math.round(count / 30))
  for (let index = 0; index < wanted && plain.length > 0; index++) {
    const victim = plain.splice(random.int(0, plain.length - 1), 1)[0] as UserPlan
    const replayAfter = GRACE_MS + random.range(2_000, 6_000)
    // Copy early enough that the replay lands inside the run.
    const copyAt = random.range(0.05, 0.5) * Math.max(0, runMs - replayAfter - 5_000)
    attacks.push({ index, victim: victim.index, copyAt, replayAfter })
  }
  return { users, attacks }
}

export const username = (index: number): string => `chaos-user-${index}`

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Runs `call` with the hard bound; a call still pending then is recorded as `hung`. */
async function bounded<T>(ctx: RunContext, actor: string, user: number, what: string, call: () => Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), CALL_BOUND_MS)))
  const run = call().then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  )
  const outcome = await Promise.race([run, hang])
  clearTimeout(timer)
  if (outcome === 'hung') {
    ctx.history.happenings.push({ t: Date.now(), actor, user, what: 'hung', detail: what })
    return undefined
  }
  return outcome.ok ? outcome.value : undefined
}

interface Tab {
  actor: string
  client: AuthClient
  storage: TokenStorage
}

function makeTab(
  ctx: RunContext,
  user: number,
  actor: string,
  route: () => number,
  net: NetFaults,
  shared?: Omit<Tab, 'actor' | 'client'> & { lock: ReturnType<typeof createInProcessLock>; hub: ReturnType<typeof createChannelHub> },
): Tab {
  const storage = shared?.storage ?? createMemoryStorage()
  const client = createAuthClient({
    baseURL: ctx.urls[0] as string,
    storage,
    fetch: recordingFetch(ctx.history, actor, ctx.urls, route, net),
    // Each user is another browser: its own lock. The client's default in-process lock is one
    // per process and baseURL, so it would queue every user's refresh behind every other's
    // (seen in the first 5-minute run: retries 20 s late, past the grace window: token_reused).
    ...(shared === undefined ? { lock: createInProcessLock() } : { lock: shared.lock, channel: shared.hub.channel() }),
  })
  // The session a session-expired is about: storage is already cleared when it fires.
  let sid: string | undefined
  client.on('tokens', ({ access }) => (sid = sidOf(access).sid))
  const push = (what: 'session-expired' | 'degraded' | 'recovered', detail?: string): void => {
    ctx.history.happenings.push({
      t: Date.now(),
      actor,
      user,
      what,
      ...(detail === undefined ? {} : { detail }),
      ...(sid === undefined ? {} : { sid }),
    })
  }
  client.on('session-expired', ({ code }) => push('session-expired', code))
  client.on('degraded', () => push('degraded'))
  client.on('recovered', () => push('recovered'))
  return { actor, client, storage }
}

async function currentSid(tab: Tab): Promise<string | undefined> {
  const tokens = await readTokens(tab.storage, tab.client.options.storageKey)
  return tokens === null ? undefined : claimsOf(tokens.refresh).sid
}

async function currentRefresh(tab: Tab): Promise<string | null> {
  return (await readTokens(tab.storage, tab.client.options.storageKey))?.refresh ?? null
}

/** Logs in until it works or the run ends (a login during an outage is a 503). */
async function logIn(ctx: RunContext, user: number, tab: Tab): Promise<boolean> {
  for (let attempt = 0; attempt < 60 && Date.now() < ctx.deadline; attempt++) {
    const ok = await bounded(ctx, tab.actor, user, 'login', () => tab.client.login({ username: username(user), password: ctx.password }))
    if (ok !== undefined) {
      ctx.history.happenings.push({ t: Date.now(), actor: tab.actor, user, what: 'logged-in', ...sidOf(ok.access) })
      return true
    }
    await sleep(ctx.random.range(500, 1500))
  }
  return false
}

function sidOf(access: string): { sid?: string } {
  const part = access.split('.')[1]
  if (part === undefined) return {}
  const sid = (JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { sid?: unknown }).sid
  return typeof sid === 'string' ? { sid } : {}
}

/** The last exchange of `actor` of `kind` since `since` answered `status`. */
function answered(ctx: RunContext, actor: string, kind: string, since: number, status: number): boolean {
  for (let i = ctx.history.exchanges.length - 1; i >= 0; i--) {
    const e = ctx.history.exchanges[i]
    if (e === undefined || e.t0 < since) break
    if (e.actor === actor && e.kind === kind) return e.status === status
  }
  return false
}

/** One tab's loop: API calls every 0.4–1.6 s; after a session end, log in again (tab 0 only). */
async function browse(ctx: RunContext, user: number, tab: Tab, relogin: boolean, stop: () => boolean): Promise<void> {
  const random = ctx.random
  let loggedIn = (await currentRefresh(tab)) !== null
  for (let step = 0; step < 100_000 && Date.now() < ctx.deadline && !stop(); step++) {
    await sleep(random.range(400, 1600))
    if ((await currentRefresh(tab)) === null) {
      if (!relogin) continue
      if (loggedIn) await sleep(random.range(300, 1200))
      loggedIn = await logIn(ctx, user, tab)
      continue
    }
    loggedIn = true
    if (random.chance(NOT_ABOUT_TOKEN_SHARE)) {
      await notAboutToken(ctx, user, tab)
      continue
    }
    await bounded(ctx, tab.actor, user, 'fetch /api/me/', async () => {
      const response = await tab.client.fetch('/api/me/')
      await response.arrayBuffer()
    })
  }
}

/** A call the application's API answers 401 for another reason: it may cost one refresh, never a loop. */
async function notAboutToken(ctx: RunContext, user: number, tab: Tab): Promise<void> {
  const from = ctx.history.exchanges.length
  await bounded(ctx, tab.actor, user, `fetch ${NOT_ABOUT_TOKEN_PATH}`, async () => {
    const response = await tab.client.fetch(NOT_ABOUT_TOKEN_PATH)
    await response.arrayBuffer()
  })
  // Counted from the first 401: a token that was due is refreshed before the call is sent, as for
  // any call. A refused connect is passed on to the other instance (recordingFetch): one attempt.
  const mine = ctx.history.exchanges.slice(from).filter((e) => e.actor === tab.actor)
  const first = mine.findIndex((e) => e.kind === 'other' && e.status === 401)
  const refreshes = first < 0 ? 0 : mine.slice(first).filter((e) => e.kind === 'refresh' && e.error !== 'refused').length
  ctx.history.happenings.push({ t: Date.now(), actor: tab.actor, user, what: 'not-about-token', detail: String(refreshes) })
}

/** One user's network (all its tabs and devices share it here): a drop maybe, lost answers. */
function userNet(ctx: RunContext, user: number): NetFaults {
  const { drop, net } = planNet(ctx.random.fork(), ctx.deadline - ctx.start, ctx.start)
  if (drop !== null) recordDrop(ctx.history, user, drop)
  return net
}

async function runPlain(ctx: RunContext, plan: UserPlan, tabs: Map<number, Tab[]>): Promise<void> {
  const alternate = plan.role === 'alternating'
  let turn = plan.pin
  const tab = makeTab(ctx, plan.index, `u${plan.index}/t0`, alternate ? () => (turn = 1 - turn) : () => plan.pin, userNet(ctx, plan.index))
  tabs.set(plan.index, [tab])
  if (!(await logIn(ctx, plan.index, tab))) return
  let acted = false
  const leaver = plan.role === 'leaver'
  const loop = browse(ctx, plan.index, tab, true, () => leaver && !acted && Date.now() - ctx.start > plan.actionAt)
  await loop
  if (leaver && Date.now() < ctx.deadline) {
    acted = true
    const token = await currentRefresh(tab)
    const t = Date.now()
    ctx.history.happenings.push({
      t,
      actor: tab.actor,
      user: plan.index,
      what: 'logout-called',
      ...(token === null ? {} : { sid: claimsOf(token).sid ?? '' }),
    })
    await bounded(ctx, tab.actor, plan.index, 'logout', () => tab.client.logout())
    if (token !== null && answered(ctx, tab.actor, 'logout', t, 200))
      ctx.revoked.push({ token, sid: claimsOf(token).sid, why: `logout by ${tab.actor}`, t: Date.now() })
    await sleep(ctx.random.range(1000, 3000))
    await browse(ctx, plan.index, tab, true, () => false)
  }
  tab.client.close()
}

async function runTabs(ctx: RunContext, plan: UserPlan, tabs: Map<number, Tab[]>): Promise<void> {
  const shared = { storage: createMemoryStorage(), lock: createInProcessLock(), hub: createChannelHub() }
  // The two tabs may even talk to different instances, as two tabs behind a balancer do.
  const pins = [plan.pin, ctx.random.chance(0.5) ? plan.pin : 1 - plan.pin]
  const net = userNet(ctx, plan.index)
  const both = [0, 1].map((t) => makeTab(ctx, plan.index, `u${plan.index}/t${t}`, () => pins[t] as number, net, shared)) as [Tab, Tab]
  tabs.set(plan.index, both)
  if (!(await logIn(ctx, plan.index, both[0]))) return
  await Promise.all([browse(ctx, plan.index, both[0], true, () => false), browse(ctx, plan.index, both[1], false, () => false)])
  for (const tab of both) tab.client.close()
}

async function runDevices(ctx: RunContext, plan: UserPlan, tabs: Map<number, Tab[]>): Promise<void> {
  const net = userNet(ctx, plan.index)
  const devices = [0, 1].map((d) => makeTab(ctx, plan.index, `u${plan.index}/d${d}`, () => (plan.pin + d) % 2, net)) as [Tab, Tab]
  tabs.set(plan.index, devices)
  if (!(await logIn(ctx, plan.index, devices[0])) || !(await logIn(ctx, plan.index, devices[1]))) return
  let acted = false
  const target = devices[0]
  const actor = devices[1]
  const act = async (): Promise<void> => {
    while (Date.now() - ctx.start < plan.actionAt && Date.now() < ctx.deadline) await sleep(250)
    if (Date.now() >= ctx.deadline) return
    acted = true
    const before = await Promise.all(devices.map(currentRefresh))
    const t = Date.now()
    if (plan.action === 'logout-all') {
      await bounded(ctx, actor.actor, plan.index, 'logout-all', async () => {
        const response = await actor.client.fetch('/api/auth/logout-all/', { method: 'POST' })
        await response.arrayBuffer()
      })
      // Recorded once answered: a session whose login was answered before then is one it ended.
      ctx.history.happenings.push({ t: Date.now(), actor: actor.actor, user: plan.index, what: 'logout-all-called' })
      if (answered(ctx, actor.actor, 'logout-all', t, 200)) {
        for (const token of before)
          if (token !== null)
            ctx.revoked.push({
              token,
              sid: claimsOf(token).sid,
              why: `logout-all by ${actor.actor}`,
              t: Date.now(),
            })
      }
    } else {
      const sid = await currentSid(target)
      if (sid === undefined) return
      await bounded(ctx, actor.actor, plan.index, 'revoke', async () => {
        const response = await actor.client.fetch(`/api/auth/sessions/${sid}/`, { method: 'DELETE' })
        await response.arrayBuffer()
      })
      ctx.history.happenings.push({ t: Date.now(), actor: actor.actor, user: plan.index, what: 'revoke-called', target: sid })
      const token = before[0]
      if (token != null && answered(ctx, actor.actor, 'revoke', t, 204))
        ctx.revoked.push({ token, sid, why: `DELETE sessions/${sid} by ${actor.actor}`, t: Date.now() })
    }
  }
  // The target device logs in again after its session ends, so its load continues.
  await Promise.all([browse(ctx, plan.index, target, true, () => false), browse(ctx, plan.index, actor, true, () => false), act()])
  void acted
  for (const tab of devices) tab.client.close()
}

export async function runUser(ctx: RunContext, plan: UserPlan, tabs: Map<number, Tab[]>): Promise<void> {
  if (plan.role === 'tabs') return runTabs(ctx, plan, tabs)
  if (plan.role === 'devices') return runDevices(ctx, plan, tabs)
  return runPlain(ctx, plan, tabs)
}

/** An attacker: copies the victim's refresh token, waits past the grace window, replays it. */
export async function runAttack(ctx: RunContext, plan: AttackPlan, tabs: Map<number, Tab[]>): Promise<void> {
  const actor = `attacker${plan.index}`
  while (Date.now() - ctx.start < plan.copyAt && Date.now() < ctx.deadline) await sleep(200)
  const victim = tabs.get(plan.victim)?.[0]
  if (victim === undefined) return
  let token: string | null = null
  for (let i = 0; i < 100 && token === null && Date.now() < ctx.deadline; i++) {
    token = await currentRefresh(victim)
    if (token === null) await sleep(200)
  }
  if (token === null) return
  const sid = claimsOf(token).sid
  ctx.history.happenings.push({
    t: Date.now(),
    actor,
    user: plan.victim,
    what: 'copied',
    target: victim.actor,
    ...(sid === undefined ? {} : { sid }),
  })
  const replayAt = Date.now() + plan.replayAfter
  while (Date.now() < replayAt && Date.now() < ctx.deadline) await sleep(200)
  if (Date.now() >= ctx.deadline) return
  const inst = ctx.random.int(0, 1)
  const send = recordingFetch(ctx.history, actor, ctx.urls, () => inst)
  let detail = 'no answer'
  // A replay during an outage is a 503: the attacker simply tries again (bounded).
  for (let attempt = 0; attempt < 20 && Date.now() < ctx.deadline + 10_000; attempt++) {
    try {
      const response = await send(new URL('/api/auth/refresh/', ctx.urls[0]), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh: token }),
      })
      const body = (await response.json().catch(() => ({}))) as { code?: string }
      detail = `${response.status} ${body.code ?? ''}`.trim()
      if (response.status !== 503) break
    } catch {
      detail = 'network error'
    }
    await sleep(1000)
  }
  // A 200 means the copied token was still current (the victim had not refreshed since): the
  // victim's own next refresh is then the reuse. Either way this family is attacked.
  if (sid !== undefined && detail !== 'no answer' && detail !== 'network error') ctx.attacked.set(sid, Date.now())
  ctx.history.happenings.push({ t: Date.now(), actor, user: plan.victim, what: 'replayed', detail, ...(sid === undefined ? {} : { sid }) })
  if (detail.startsWith('401')) {
    // SPEC §3.2: reuse revokes the whole family, so the victim's current token is dead too.
    ctx.revoked.push({ token, sid, why: `replayed by ${actor}`, t: Date.now() })
    const current = await currentRefresh(victim)
    if (current !== null && claimsOf(current).sid === sid)
      ctx.revoked.push({ token: current, sid, why: `victim's token after ${actor}'s replay`, t: Date.now() })
  }
}
