/**
 * The chaos run's browser lane: one Chromium browser (one context), a few tabs of baton's own
 * origin, each loading the built @baton/client (packages/client/dist: build first), sharing
 * localStorage, BroadcastChannel and Web Locks as real tabs do. Tab 0 logs in; every tab calls
 * `client.fetch` every 0.4–1.6 s. Every request goes through the lane's route, which records it
 * into the history like recordingFetch (so the oracle judges these tabs too) and injects the
 * client-side faults on a seeded schedule: a tab frozen while it holds the refresh lock, a
 * refresh answer lost after the server rotated, the network gone for a while, and a 401 that is
 * not about the token. browser-judge.ts decides what the lock, the refreshes and the 401s did.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type Page, type Route } from 'playwright-core'
import { DEFAULT_TIMEOUT_MS } from '../packages/client/src/options.js'
import { LOCK_STEAL_SLACK_MS } from '../packages/client/src/tab-lock.js'
import {
  judgeLane,
  refreshesPer401,
  type Call401,
  type Interval,
  type LaneFigures,
  type LockRecord,
  type RefreshSpan,
} from './browser-judge.js'
import { NOT_ABOUT_TOKEN_PATH } from './client-faults.js'
import { EVENT_BINDING, LOCK_BINDING, LOCK_PROBE, tabPage } from './browser-page.js'
import { answerClaims, kindOf, laneOutcome, planLaneFaults, refreshClaims, type LaneCounts, type LaneFaultKind } from './browser-plan.js'
import { EXCHANGE_BOUND_MS, type Exchange, type Happening, type History } from './history.js'
import type { Invariant } from './oracle.js'
import type { Random } from './random.js'
import { CALL_BOUND_MS, GRACE_MS } from './users.js'

export const CHROMIUM = '/usr/bin/chromium'
const DIST = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'packages/client/dist')
const CHAOS_401 = NOT_ABOUT_TOKEN_PATH
/** How much past the client's lock bound (timeout + 2 s) a wait may run on a loaded machine. */
const LOCK_MARGIN_MS = 2_000

export interface BrowserLaneInput {
  /** Pushed into like users.ts does, so the oracle judges the browser tabs too. */
  history: History
  /** One baton instance's origin: the tabs' origin. */
  url: string
  username: string
  password: string
  /** Real ms time at which everything stops. */
  deadline: number
  random: Random
  log: (line: string) => void
  /** Actors are `<name>/t0`, `<name>/t1`, …; must start with `u` (honest). Default 'ub'. */
  name?: string
  /** The `user` of the lane's happenings (apart from the simulated users' indexes). Default -1. */
  user?: number
  /** The instance index `url` is (Exchange.inst). Default 0. */
  inst?: number
  /** Default 3. */
  tabs?: number
  /**
   * The frozen holder's refresh: `sent` (default) reaches baton as the tab freezes and only the
   * answer waits for the thaw (a frozen tab's request is already on the wire); `unsent` reaches
   * baton only after the thaw (a tab frozen between reading its token and sending it).
   */
  freezeVariant?: 'sent' | 'unsent'
}

export interface LaneFault {
  kind: LaneFaultKind
  start: number
  end: number
  note?: string
}

export interface BrowserLaneResult {
  invariants: Invariant[]
  faults: LaneFault[]
  figures: LaneFigures & LaneCounts
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)))

let nextId = 1_000_000_000

interface Armed {
  kind: 'freeze' | 'lose'
  until: number
  /** A request caught it: the catch window's timer stops. */
  taken: () => void
  done: (note: string, start: number, end: number) => void
  duration: number
}

export async function runBrowserLane(input: BrowserLaneInput): Promise<BrowserLaneResult> {
  const { history, url, log } = input
  const name = input.name ?? 'ub'
  const user = input.user ?? -1
  const inst = input.inst ?? 0
  const tabCount = input.tabs ?? 3
  const actors = Array.from({ length: tabCount }, (_, i) => `${name}/t${i}`)
  const origin = new URL(url).origin
  const started = Date.now()

  const locks: LockRecord[] = []
  const spans: RefreshSpan[] = []
  const calls401: Call401[] = []
  const answers401: { tab: number; t: number }[] = []
  const frozen = new Map<number, Interval[]>()
  const faults: LaneFault[] = []
  let drop: Interval | null = null
  let offline = false
  let armed: Armed | null = null
  let lostJti: string | undefined
  const pages: Page[] = []

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  })
  try {
    const context: BrowserContext = await browser.newContext()
    const tabOf = (page: Page): number => pages.indexOf(page)
    await context.exposeBinding(
      LOCK_BINDING,
      ({ page }, record: Omit<LockRecord, 'tab'>) => void locks.push({ ...record, tab: tabOf(page) }),
    )
    await context.exposeBinding(EVENT_BINDING, ({ page }, e: { what: Happening['what']; t: number; detail?: string; sid?: string }) => {
      const h: Happening = { t: e.t, actor: actors[tabOf(page)] ?? name, user, what: e.what }
      if (e.detail !== undefined && e.detail !== null) h.detail = e.detail
      if (e.sid !== undefined && e.sid !== null) h.sid = e.sid
      history.happenings.push(h)
      if (e.what !== 'degraded' && e.what !== 'recovered') log(`browser ${h.actor}: ${e.what}${h.detail ? ` ${h.detail}` : ''}`)
    })
    await context.addInitScript(LOCK_PROBE)
    // The page and the built client, from the baton origin itself: same origin, no CORS.
    await context.route(`${origin}/chaos-tab/**`, (route) => {
      const path = new URL(route.request().url()).pathname
      if (path.startsWith('/chaos-tab/dist/')) {
        const file = normalize(join(DIST, path.slice('/chaos-tab/dist/'.length)))
        if (!file.startsWith(DIST) || !existsSync(file)) return route.fulfill({ status: 404, body: 'missing' })
        return route.fulfill({ body: readFileSync(file), contentType: 'text/javascript' })
      }
      return route.fulfill({ body: tabPage('/chaos-tab/dist/'), contentType: 'text/html' })
    })

    /** Every API request of a tab: recorded, and faulted when a fault is armed. */
    const onApi = async (route: Route, tab: number): Promise<void> => {
      const request = route.request()
      const path = new URL(request.url()).pathname
      const kind = kindOf(path)
      const arrived = Date.now()
      const presented = kind === 'refresh' ? refreshClaims(request.postData()) : {}
      const span: RefreshSpan = { tab, start: arrived, end: arrived, outcome: 'failed', ...(presented.jti ? { jti: presented.jti } : {}) }
      if (kind === 'refresh') spans.push(span)
      const record: Exchange = { id: nextId++, actor: actors[tab] as string, kind, inst, t0: arrived, t1: 0, status: null, ...presented }
      if (offline) {
        // Routed requests bypass Chromium's offline emulation: the route drops them itself, and
        // records them as recordingFetch does (`offline`: nothing was sent, not a late answer).
        span.outcome = 'offline'
        history.exchanges.push({ ...record, t1: arrived, error: 'offline' })
        await route.abort('internetdisconnected').catch(() => {})
        span.end = Date.now()
        return
      }
      if (path.startsWith(CHAOS_401)) {
        // A 401 about permissions, not the token (the route answers it, whatever the token).
        answers401.push({ tab, t: arrived })
        Object.assign(record, { t1: Date.now(), status: 401, code: 'permission_denied' })
        history.exchanges.push(record)
        await route
          .fulfill({
            status: 401,
            contentType: 'application/json',
            body: JSON.stringify({ detail: 'Not allowed.', code: 'permission_denied' }),
          })
          .catch(() => {})
        return
      }
      const fault = kind === 'refresh' && armed !== null && Date.now() < armed.until ? armed : null
      if (fault !== null) armed = null
      let thaw: (() => Promise<void>) | null = null
      let sendFirst = false
      if (fault?.kind === 'freeze') {
        fault.taken()
        // The tab holds the refresh lock while this request waits here: freeze it now.
        await sleep(300)
        const cdp = await context.newCDPSession(pages[tab] as Page)
        const start = Date.now()
        // Page.setWebLifecycleState alone freezes nothing in this headless Chromium (timers
        // still fire, no `freeze` event): pausing the page's JavaScript is what really stops it.
        await cdp.send('Page.setWebLifecycleState', { state: 'frozen' }).catch(() => {})
        await cdp.send('Debugger.enable')
        await cdp.send('Debugger.pause')
        const window: Interval = { start, end: Infinity }
        frozen.set(tab, [...(frozen.get(tab) ?? []), window])
        sendFirst = (input.freezeVariant ?? 'sent') === 'sent'
        log(
          `browser fault: ${actors[tab]} frozen holding the refresh lock for ${Math.round(fault.duration)} ms (request ${sendFirst ? 'sent' : 'held'})`,
        )
        const wake = start + fault.duration
        thaw = async () => {
          await sleep(wake - Date.now())
          await cdp.send('Debugger.resume').catch(() => {})
          await cdp.send('Debugger.disable').catch(() => {})
          await cdp.send('Page.setWebLifecycleState', { state: 'active' }).catch(() => {})
          window.end = Date.now()
          await cdp.detach().catch(() => {})
          fault.done(
            `${actors[tab]} froze with its refresh of ${presented.jti ?? '?'} ${sendFirst ? 'sent, answer held' : 'held unsent'}`,
            start,
            window.end,
          )
        }
        if (!sendFirst) await sleep(wake - Date.now())
      }
      // The exchange with baton starts when the request is let through (recordingFetch's t0).
      record.t0 = Date.now()
      let body: Buffer | null = null
      let response: Awaited<ReturnType<Route['fetch']>> | null = null
      try {
        response = await route.fetch({ timeout: EXCHANGE_BOUND_MS, maxRedirects: 0 })
        body = await response.body()
        record.status = response.status()
        record.t1 = Date.now()
        const type = response.headers()['content-type'] ?? ''
        if (body.length > 0 && type.includes('json')) answerClaims(record, body)
      } catch (error) {
        record.t1 = Date.now()
        record.error = (error as Error).name === 'TimeoutError' ? 'bound' : 'network'
      }
      if (fault?.kind === 'lose' && record.status === 200) record.lost = true
      history.exchanges.push(record)
      if (kind === 'refresh')
        Object.assign(span, { status: record.status ?? undefined, ...(record.successor ? { successor: record.successor } : {}) })
      if (fault?.kind === 'lose' && record.status === 200) {
        // baton rotated; the tab never hears of it. Its retry must get the same successor.
        lostJti = record.jti
        span.outcome = 'lost'
        await route.abort('connectionreset').catch(() => {})
        span.end = Date.now()
        fault.done(`${actors[tab]}'s refresh of ${record.jti} answered ${record.successor}, then reset`, arrived, span.end)
        return
      }
      if (fault?.kind === 'lose') armed = fault // not rotated (503, …): wait for the next refresh
      // A frozen tab's answer reaches it only after the thaw: held until the freeze is over.
      if (sendFirst) await sleep((frozen.get(tab)?.at(-1)?.start ?? 0) + (fault?.duration ?? 0) - Date.now())
      if (response === null) await route.abort('failed').catch(() => {})
      else await route.fulfill({ response, ...(body === null ? {} : { body }) }).catch(() => {})
      span.outcome = response === null ? 'failed' : 'answered'
      span.end = Date.now()
      if (thaw !== null) await thaw()
    }

    for (let tab = 0; tab < tabCount; tab++) {
      const page = await context.newPage()
      pages.push(page)
      await page.route(`${origin}/api/**`, (route) => onApi(route, tab))
      await page.goto(`${origin}/chaos-tab/index.html`)
      await page.waitForFunction('window.ready === true')
    }
    log(`browser lane: ${tabCount} tabs of ${origin} as ${input.username}`)

    const isFrozen = (tab: number): boolean => (frozen.get(tab) ?? []).some((w) => w.end === Infinity)
    const frozenDuring = (tab: number, t0: number, t1: number): boolean => (frozen.get(tab) ?? []).some((w) => w.start <= t1 && t0 <= w.end)
    /** A page call, bounded like users.ts's; a call still pending then is `hung`, unless the tab was frozen. */
    const bounded = async <T>(tab: number, what: string, expression: string): Promise<T | undefined> => {
      const t0 = Date.now()
      let timer: NodeJS.Timeout | undefined
      const hang = new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), CALL_BOUND_MS)))
      const run = (pages[tab] as Page).evaluate(expression).then(
        (value) => value as T,
        () => undefined,
      )
      const outcome = await Promise.race([run, hang])
      clearTimeout(timer)
      if (outcome !== 'hung') return outcome
      if (!frozenDuring(tab, t0, Date.now()) && Date.now() < input.deadline + 5_000)
        history.happenings.push({ t: Date.now(), actor: actors[tab] as string, user, what: 'hung', detail: what })
      return undefined
    }
    const logIn = async (): Promise<boolean> => {
      for (let attempt = 0; attempt < 60 && Date.now() < input.deadline; attempt++) {
        const r = await bounded<{ ok: boolean; sid?: string | null; t: number; error?: string }>(
          0,
          'login',
          `window.chaos.login(${JSON.stringify(input.username)}, ${JSON.stringify(input.password)})`,
        )
        if (r?.ok === true) {
          history.happenings.push({ t: r.t, actor: actors[0] as string, user, what: 'logged-in', ...(r.sid ? { sid: r.sid } : {}) })
          return true
        }
        await sleep(input.random.range(500, 1500))
      }
      return false
    }

    const browse = async (tab: number, random: Random): Promise<void> => {
      while (Date.now() < input.deadline) {
        await sleep(random.range(400, 1600))
        if (Date.now() >= input.deadline) break
        if (isFrozen(tab)) continue
        if ((await bounded<boolean>(tab, 'hasSession', 'window.chaos.hasSession()')) !== true) {
          if (tab === 0 && !offline) await logIn()
          continue
        }
        const path = random.chance(0.08) ? CHAOS_401 : '/api/me/'
        const r = await bounded<{ t0: number; t1: number }>(tab, `fetch ${path}`, `window.chaos.call(${JSON.stringify(path)})`)
        if (r === undefined || path !== CHAOS_401) continue
        const call: Call401 = {
          tab,
          t0: r.t0,
          t1: r.t1,
          answers: answers401.filter((a) => a.tab === tab && a.t >= r.t0 && a.t <= r.t1).map((a) => a.t),
        }
        calls401.push(call)
        // For the oracle's own check: the refreshes this call cost after its first 401.
        const cost = refreshesPer401([call], spans)[0]?.refreshes ?? 0
        history.happenings.push({ t: r.t1, actor: actors[tab] as string, user, what: 'not-about-token', detail: String(cost) })
      }
    }

    const runFaults = async (): Promise<void> => {
      for (const f of planLaneFaults(input.random.fork(), input.deadline - started)) {
        await sleep(started + f.at - Date.now())
        if (Date.now() >= input.deadline) return
        if (f.kind === 'network-drop') {
          const start = Date.now()
          offline = true
          await context.setOffline(true)
          log(`browser fault: network drop for ${Math.round(f.duration)} ms`)
          await sleep(f.duration)
          await context.setOffline(false)
          offline = false
          drop = { start, end: Date.now() }
          faults.push({ kind: f.kind, start, end: drop.end })
          continue
        }
        const caught = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => {
            if (armed !== null && armed.kind === (f.kind === 'frozen-holder' ? 'freeze' : 'lose')) armed = null
            resolve(false)
          }, 15_000)
          armed = {
            kind: f.kind === 'frozen-holder' ? 'freeze' : 'lose',
            until: Date.now() + 15_000,
            taken: () => clearTimeout(timer),
            duration: f.duration,
            done: (note, start, end) => {
              clearTimeout(timer)
              faults.push({ kind: f.kind, start, end, note })
              log(`browser fault: ${f.kind}: ${note}`)
              resolve(true)
            },
          }
        })
        if (!caught) log(`browser fault: ${f.kind}: no refresh to catch within 15 s`)
      }
    }

    if (await logIn()) {
      const forks = actors.map(() => input.random.fork())
      await Promise.all([...actors.map((_, tab) => browse(tab, forks[tab] as Random)), runFaults()])
    } else log('browser lane: tab 0 could not log in')
    // A fault still under way ends before the judgement (a held request is let through).
    while (frozen.size > 0 && [...frozen.values()].some((l) => l.some((w) => w.end === Infinity))) await sleep(100)
    await context.close()
  } finally {
    await browser.close().catch(() => {})
  }

  const end = Date.now()
  const { invariants, figures } = judgeLane({
    actors,
    locks,
    spans,
    calls401,
    frozen,
    drop,
    faultWindows: faults.map((f) => ({ start: f.start, end: f.end + GRACE_MS / 3 })),
    timeoutMs: DEFAULT_TIMEOUT_MS,
    slackMs: LOCK_STEAL_SLACK_MS,
    marginMs: LOCK_MARGIN_MS,
    end,
  })
  const outcome = laneOutcome(history, actors, lostJti)
  invariants.push(outcome.invariant)
  return { invariants, faults, figures: { ...figures, ...outcome.figures } }
}
