/**
 * The demo page in real Chromium, body mode (the default): proactive refresh across several
 * access-token lifetimes, and two tabs sharing one session with one refresh per expiry.
 * Counts are taken at the network level, not from the page's own bookkeeping.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser } from 'playwright-core'
import {
  NetworkLog,
  demoStats,
  launchChromium,
  openDemo,
  report,
  screenshotPath,
  signIn,
  startBaton,
  waitFor,
} from './helpers.js'

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
  assert.ok(refreshes.every((r) => r.status === 200), `refresh statuses: ${refreshes.map((r) => r.status)}`)
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
  assert.ok(refreshes.every((r) => r.status === 200), `refresh statuses: ${refreshes.map((r) => r.status)}`)

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
