/**
 * The demo page in real Chromium, body mode (the default): proactive refresh across several
 * access-token lifetimes, two tabs sharing one session with one refresh per expiry, and the
 * newcomer's minute (issue 14): refresh now, the store broken and healed from the page on the
 * default SQLite store, a store that lost the session explained, no switch in production.
 * Counts are taken at the network level, not from the page's own bookkeeping.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { startRedisServer } from '../packages/server/test/helpers/redis-server.js'
import { NetworkLog, demoStats, launchChromium, openDemo, report, screenshotPath, signIn, startBaton, waitFor } from './helpers.js'

let browser: Browser
before(async () => {
  browser = await launchChromium()
})
after(async () => {
  await browser?.close()
})

const PASSWORD = 'correct horse battery staple'

test('demo: API calls across several access-token lifetimes see zero 401s, each refresh sent before expiry', async (t) => {
  // JWT_LEEWAY=1 instead of the default 5: a token is refused one second after its `exp`, so a
  // client that sends expired tokens and relies on the 401 shows 401s here. One second, not
  // zero: `iat`/`exp` are whole seconds, so the client's clock-skew estimate can place `exp`
  // up to 1 s late (with 0, about one refresh in eight at a 4 s lifetime met a 401).
  // Proactivity itself is checked below from the request times.
  const lifetime = 6
  const baton = await startBaton({ ACCESS_TOKEN_LIFETIME: String(lifetime), JWT_LEEWAY: '1', REFRESH_GRACE_SECONDS: '15' })
  t.after(() => baton.stop())
  const context = await browser.newContext()
  t.after(() => context.close())
  const page = await context.newPage()
  const net = new NetworkLog()
  net.watch(page)

  await openDemo(page, baton.url)
  await signIn(page, 'ada', PASSWORD, true)
  await page.locator('#auto-call').check()
  await waitFor(() => net.refreshes().filter((r) => r.status === 200).length >= 3, 60_000, 'three refreshes')
  await page.screenshot({ path: screenshotPath('demo.png'), fullPage: true })
  await page.locator('#auto-call').uncheck()
  await waitFor(() => net.requests.every((r) => r.status !== null), 10_000, 'every request answered')

  const refreshes = net.refreshes()
  const apiCalls = net.to('/api/me/')
  const login = net.to('/api/auth/token/')
  report('proactive refresh', {
    refreshRequests: refreshes.length,
    responses401: net.withStatus(401).length,
    apiCalls: apiCalls.length,
    consoleErrors: net.consoleErrors.length,
  })
  assert.deepEqual(net.withStatus(401), [], 'no 401 reached the browser')
  assert.deepEqual(net.consoleErrors, [])
  assert.deepEqual(net.pageErrors, [])
  assert.ok(
    refreshes.every((r) => r.status === 200),
    `refresh statuses: ${refreshes.map((r) => r.status)}`,
  )
  assert.ok(apiCalls.length >= 20 && apiCalls.every((r) => r.status === 200))

  // Proactive: each refresh left before the token it replaces had lived its lifetime.
  assert.equal(login.length, 1)
  const arrivals = [login[0]!, ...refreshes].map((r) => r.respondedAt!)
  refreshes.forEach((r, i) => {
    const age = r.at - arrivals[i]!
    assert.ok(age < lifetime * 1000, `refresh ${i + 1} sent ${age} ms after the previous token arrived`)
  })

  const stats = await demoStats(page)
  assert.equal(stats.loggedIn, true)
  assert.equal(stats.refreshesHere, refreshes.length, 'the page counts the refreshes the network saw')
  assert.match((await page.locator('#s-status').textContent()) ?? '', /^Logged in$/)
  assert.match((await page.locator('#s-refreshes').textContent()) ?? '', new RegExp(`^${refreshes.length} by this tab`))
})

test('demo: two tabs of one origin make exactly one refresh per expiry and both stay logged in', async (t) => {
  const lifetime = 4
  const baton = await startBaton({ ACCESS_TOKEN_LIFETIME: String(lifetime), REFRESH_GRACE_SECONDS: '15' })
  t.after(() => baton.stop())
  // One context: the two pages share localStorage, Web Locks and BroadcastChannel, as tabs do.
  const context = await browser.newContext()
  t.after(() => context.close())
  const tabs = [await context.newPage(), await context.newPage()] as const
  const net = new NetworkLog()
  tabs.forEach((tab, i) => net.watch(tab, i))

  await openDemo(tabs[0], baton.url)
  await signIn(tabs[0], 'grace', PASSWORD, true)
  // The second tab uses the stored session without logging in.
  await openDemo(tabs[1], baton.url)
  await tabs[1].waitForSelector('#account-card:not([hidden])')
  for (const tab of tabs) await tab.locator('#auto-call').check()

  await waitFor(() => net.refreshes().filter((r) => r.status === 200).length >= 3, 60_000, 'three refreshes')
  const lastRefresh = net.refreshes().at(-1)!
  const newest = ((await lastRefresh.json) as { access: string }).access
  // Both tabs go on calling with the newest token: the other tab adopted it.
  await waitFor(
    () => [0, 1].every((tab) => net.to('/api/me/').some((r) => r.tab === tab && r.bearer === newest && r.status === 200)),
    10_000,
    'both tabs to call with the newest token',
  )
  for (const tab of tabs) await tab.locator('#auto-call').uncheck()
  await waitFor(() => net.requests.every((r) => r.status !== null), 10_000, 'every request answered')

  const refreshes = net.refreshes()
  const perTab = [0, 1].map((tab) => refreshes.filter((r) => r.tab === tab).length)
  report('two tabs', {
    refreshRequests: refreshes.length,
    perTab,
    responses401: net.withStatus(401).length,
    apiCalls: [0, 1].map((tab) => net.to('/api/me/').filter((r) => r.tab === tab).length),
  })
  assert.deepEqual(net.withStatus(401), [], 'no 401 (so no token_reused) reached either tab')
  assert.deepEqual(net.pageErrors, [])
  assert.ok(
    refreshes.every((r) => r.status === 200),
    `refresh statuses: ${refreshes.map((r) => r.status)}`,
  )

  // Exactly one refresh per expiry: each refresh presents the newest refresh token, which no
  // other request presented before (a second tab refreshing the same expiry would present the
  // same token, or the one just issued, seconds too early).
  const login = net.to('/api/auth/token/')
  assert.equal(login.length, 1)
  let expected = ((await login[0]!.json) as { refresh: string }).refresh
  const presented = new Set<string>()
  for (const [i, r] of refreshes.entries()) {
    const sent = (JSON.parse(r.body ?? '{}') as { refresh?: string }).refresh
    assert.equal(sent, expected, `refresh ${i + 1} presents the newest refresh token`)
    assert.ok(!presented.has(sent), `refresh ${i + 1} presents a token for the first time`)
    presented.add(sent)
    expected = ((await r.json) as { refresh: string }).refresh
  }
  for (let i = 1; i < refreshes.length; i++) {
    const gap = refreshes[i]!.at - refreshes[i - 1]!.respondedAt!
    assert.ok(gap > (lifetime * 1000) / 2, `refreshes ${i} and ${i + 1} are ${gap} ms apart`)
  }

  for (const [i, tab] of tabs.entries()) {
    const stats = await demoStats(tab)
    assert.equal(stats.loggedIn, true, `tab ${i} logged in`)
    assert.ok(!stats.events.some((e) => e.name === 'session-expired'), `tab ${i} saw no session-expired`)
    assert.equal(stats.refreshesHere, perTab[i], `tab ${i} counts its own refreshes`)
    assert.match((await tab.locator('#s-status').textContent()) ?? '', /^Logged in$/)
  }
})

/** The explanation line's state and text (packages/server/demo/explain.ts). */
async function explained(page: Page): Promise<{ state: string; text: string }> {
  const el = page.locator('#explain')
  return { state: (await el.getAttribute('data-state')) ?? '', text: (await el.textContent()) ?? '' }
}

test('demo in a minute, on the default SQLite store: refresh now, break the store (503, degraded, no logout), heal (recovered)', async (t) => {
  // The newcomer's set-up: no variables at all (SQLite, 300 s access tokens). A German browser,
  // to check that dates follow the browser's locale.
  const baton = await startBaton({})
  t.after(() => baton.stop())
  const context = await browser.newContext({ locale: 'de-DE', viewport: { width: 1100, height: 900 } })
  t.after(() => context.close())
  const page = await context.newPage()
  const net = new NetworkLog()
  net.watch(page)
  const started = Date.now()

  await openDemo(page, baton.url)
  assert.ok(!(await page.locator('body').innerText()).includes('__baton'), 'no test hook shown to users')
  await signIn(page, 'lin', PASSWORD, true)
  await waitFor(async () => (await explained(page)).state === 'ok', 10_000, 'the logged-in explanation')
  assert.match((await explained(page)).text, /lives 300 s/)
  assert.match((await page.locator('#s-next-refresh').textContent()) ?? '', /on the first API call from .* \(in \d+ s\)/)
  await page.waitForSelector('#sessions tbody td:has-text(".")')
  // de-DE writes 1.12.2026, 14:05:09; en-US would write 12/1/2026, 2:05:09 PM.
  assert.match((await page.locator('#sessions tbody td').first().textContent()) ?? '', /^\d{1,2}\.\d{1,2}\.\d{4}, \d{2}:\d{2}:\d{2}$/)
  await page.screenshot({ path: screenshotPath('demo-1-logged-in.png'), fullPage: true })

  // (a) Refresh now: one refresh, at once, not at 240 s.
  await page.click('#refresh-now')
  await waitFor(() => net.refreshes().length === 1 && net.refreshes()[0]!.status === 200, 10_000, 'one refresh')
  await waitFor(async () => (await demoStats(page)).refreshesHere === 1, 5_000, 'the page to count it')
  assert.match((await page.locator('#s-refreshes').textContent()) ?? '', /^1 by this tab/)
  await page.screenshot({ path: screenshotPath('demo-2-refreshed.png'), fullPage: true })

  // (b) Break the store: readyz goes down; API calls go on (the access token needs no store).
  const toggle = page.locator('#store-toggle')
  assert.equal(await toggle.textContent(), 'Break the session store')
  await toggle.click()
  await waitFor(async () => (await page.locator('#s-store').textContent())?.includes('DOWN') === true, 10_000, 'readyz down')
  await waitFor(async () => (await explained(page)).state === 'down', 5_000, 'the store-down explanation')
  assert.equal(await toggle.textContent(), 'Heal the session store')
  await page.locator('#auto-call').check()
  const brokenAt = Date.now()
  await waitFor(() => net.to('/api/me/').some((r) => r.at > brokenAt && r.status === 200), 10_000, 'an API call during the outage')
  await page.screenshot({ path: screenshotPath('demo-3-store-off.png'), fullPage: true })

  // The refresh that needs the store gets a 503: degraded, tokens kept, no logout.
  await page.click('#refresh-now')
  await waitFor(async () => (await demoStats(page)).degraded, 10_000, 'the degraded event')
  await waitFor(() => page.locator('#banner').isVisible(), 5_000, 'the banner')
  await waitFor(async () => (await explained(page)).state === 'degraded', 5_000, 'the degraded explanation')
  assert.ok(
    net.refreshes().some((r) => r.status === 503),
    'refresh answered 503',
  )
  assert.match((await page.locator('#s-status').textContent()) ?? '', /Logged in · degraded/)
  assert.match((await explained(page)).text, /You stay logged in/)
  const stored = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('baton:tokens:')).length)
  assert.equal(stored, 1, 'the tokens are kept')
  await page.screenshot({ path: screenshotPath('demo-4-degraded.png'), fullPage: true })

  // (c) Heal: the client's own retry succeeds, with nobody logged out.
  await toggle.click()
  await waitFor(async () => (await demoStats(page)).events.some((e) => e.name === 'recovered'), 45_000, 'the recovered event')
  await waitFor(async () => (await explained(page)).state === 'recovered', 5_000, 'the recovered explanation')
  await waitFor(async () => !(await page.locator('#banner').isVisible()), 5_000, 'the banner to go')
  const recoveredAfter = Date.now() - started
  await page.screenshot({ path: screenshotPath('demo-5-recovered.png'), fullPage: true })
  await page.locator('#auto-call').uncheck()
  await waitFor(() => net.requests.every((r) => r.status !== null), 10_000, 'every request answered')

  const stats = await demoStats(page)
  const count = (name: string): number => stats.events.filter((e) => e.name === name).length
  const refreshes = net.refreshes()
  report('demo in a minute', {
    refreshStatuses: refreshes.map((r) => r.status),
    msFromOpenToRecovered: recoveredAfter,
    apiCalls: net.to('/api/me/').length,
    responses401: net.withStatus(401).length,
  })
  assert.deepEqual(net.withStatus(401), [])
  assert.deepEqual(net.pageErrors, [])
  assert.ok(
    refreshes.every((r) => r.status === 200 || r.status === 503),
    `refresh statuses: ${refreshes.map((r) => r.status)}`,
  )
  assert.equal(refreshes.at(-1)!.status, 200)
  assert.ok(
    net.to('/api/me/').every((r) => r.status === 200),
    'every API call answered 200, outage or not',
  )
  assert.equal(stats.loggedIn, true)
  assert.equal(count('session-expired'), 0)
  assert.equal(count('logout'), 0)
  assert.equal(count('degraded'), 1)
  assert.equal(count('recovered'), 1)
  assert.ok(recoveredAfter < 60_000, `the whole loop took ${recoveredAfter} ms`)
})

test('demo: a store that lost the session in an outage (Redis without persistence) is explained as data loss, not a logout', async (t) => {
  const redis = await startRedisServer({ aof: false })
  t.after(() => redis.stop())
  const baton = await startBaton({ BATON_STORE: 'redis', REDIS_URL: redis.url })
  t.after(() => baton.stop())
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 900 } })
  t.after(() => context.close())
  const page = await context.newPage()
  const net = new NetworkLog()
  net.watch(page)

  await openDemo(page, baton.url)
  await signIn(page, 'noor', PASSWORD, true)
  // The browser's locale decides the clock too: 12-hour in en-US (the page once forced 24-hour).
  assert.match((await page.locator('#log time').first().textContent()) ?? '', /^\d{1,2}:\d{2}:\d{2}\.\d{3} [AP]M$/)
  await redis.kill()
  await page.click('#refresh-now')
  await waitFor(async () => (await demoStats(page)).degraded, 10_000, 'the degraded event')
  // Back, empty: the session record is gone. The client's own retry meets token_not_valid.
  await redis.restart()
  await waitFor(async () => (await explained(page)).state === 'lost', 45_000, 'the lost-session explanation')
  assert.match((await explained(page)).text, /The store lost your session \(no persistence\)/)
  assert.match((await page.locator('#auth-error').textContent()) ?? '', /The store lost your session \(no persistence\): token_not_valid/)
  assert.ok(net.refreshes().some((r) => r.status === 401))
  await page.screenshot({ path: screenshotPath('demo-6-store-lost-session.png'), fullPage: true })
  assert.equal((await demoStats(page)).lostSession, true)
})

test('demo: in production mode (BATON_DEMO=true) the page has no store switch and its route is 404', async (t) => {
  const baton = await startBaton({ BATON_MODE: 'production', BATON_DEMO: 'true', JWT_ALGORITHM: 'HS256', JWT_SECRET: 'p'.repeat(48) })
  t.after(() => baton.stop())
  const context = await browser.newContext()
  t.after(() => context.close())
  const page = await context.newPage()
  await openDemo(page, baton.url)
  assert.equal(await page.locator('#store-toggle').isVisible(), false)
  assert.equal(await page.locator('#store-hint').isVisible(), false)
  const status = await page.evaluate(
    async () =>
      (await fetch('/demo/dev/store', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"down":true}' })).status,
  )
  assert.equal(status, 404)
})
