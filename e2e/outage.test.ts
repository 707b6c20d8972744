/**
 * The demo page in real Chromium while the session store (a real redis-server this test starts
 * on a free port) goes away and comes back: the page shows the degraded state, never logs the
 * user out, and recovers by itself.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { startRedisServer } from '../packages/server/test/helpers/redis-server.js'
import { NetworkLog, demoStats, launchChromium, openDemo, report, screenshotPath, signIn, startBaton, waitFor } from './helpers.js'

let browser: Browser
before(async () => {
  browser = await launchChromium()
})
after(async () => {
  await browser?.close()
})

test('demo: a Redis outage shows the degraded state, keeps the user logged in, and recovers when Redis returns', async (t) => {
  // Append-only file on: the sessions survive the kill, as in a production Redis with persistence.
  const redis = await startRedisServer({ aof: true })
  t.after(() => redis.stop())
  const baton = await startBaton({
    BATON_STORE: 'redis',
    REDIS_URL: redis.url,
    ACCESS_TOKEN_LIFETIME: '4',
    REFRESH_GRACE_SECONDS: '15',
  })
  t.after(() => baton.stop())
  const context = await browser.newContext()
  t.after(() => context.close())
  const page = await context.newPage()
  const net = new NetworkLog()
  net.watch(page)

  await openDemo(page, baton.url)
  await signIn(page, 'hopper', 'correct horse battery staple', true)
  await page.locator('#auto-call').check()
  await waitFor(() => net.refreshes().some((r) => r.status === 200), 30_000, 'a first refresh')

  await redis.kill()
  const stoppedAt = Date.now()
  await waitFor(async () => (await demoStats(page)).degraded, 30_000, 'the degraded event')
  await waitFor(() => page.locator('#banner').isVisible(), 5_000, 'the degraded banner')
  // The access token expires during the outage: calls that need a fresh one are not sent.
  await waitFor(async () => ((await demoStats(page)).apiOutcomes['refresh_unavailable'] ?? 0) > 0, 30_000, 'a call held back')
  await waitFor(async () => (await page.locator('#s-store').textContent())?.includes('DOWN') === true, 10_000, 'readyz down')
  await page.screenshot({ path: screenshotPath('demo-degraded.png'), fullPage: true })

  const during = await demoStats(page)
  assert.equal(during.loggedIn, true, 'still logged in during the outage')
  assert.match((await page.locator('#s-status').textContent()) ?? '', /Logged in · degraded/)
  assert.match((await page.locator('#banner').textContent()) ?? '', /store_unavailable/)
  assert.ok(
    net.refreshes().some((r) => r.status === 503),
    'the server answered 503 to refresh',
  )

  await redis.restart()
  const restartedAt = Date.now()
  await waitFor(async () => (await demoStats(page)).events.some((e) => e.name === 'recovered'), 45_000, 'the recovered event')
  const recoveredAfter = Date.now() - restartedAt
  await waitFor(async () => !(await page.locator('#banner').isVisible()), 5_000, 'the banner to go')
  const afterRecovery = Date.now()
  await waitFor(() => net.to('/api/me/').some((r) => r.at > afterRecovery && r.status === 200), 10_000, 'an API call after recovery')
  await page.locator('#auto-call').uncheck()
  await waitFor(() => net.requests.every((r) => r.status !== null), 10_000, 'every request answered')

  const refreshes = net.refreshes()
  const stats = await demoStats(page)
  const count = (name: string): number => stats.events.filter((e) => e.name === name).length
  report('store outage', {
    refreshRequests: refreshes.length,
    refreshStatuses: stats.refreshStatuses,
    responses401: net.withStatus(401).length,
    heldBackCalls: stats.apiOutcomes['refresh_unavailable'] ?? 0,
    outageMs: restartedAt - stoppedAt,
    recoveredMsAfterRestart: recoveredAfter,
  })
  assert.deepEqual(net.withStatus(401), [], 'no 401: the outage never looked like an ended session')
  assert.deepEqual(net.pageErrors, [])
  assert.ok(
    refreshes.every((r) => r.status === 200 || r.status === 503),
    `refresh statuses: ${refreshes.map((r) => r.status)}`,
  )
  assert.ok(refreshes.at(-1)!.status === 200, 'refresh works again')
  assert.equal(stats.loggedIn, true)
  assert.equal(count('session-expired'), 0)
  assert.equal(count('logout'), 0)
  assert.equal(count('degraded'), 1, 'one degraded event per outage')
  assert.equal(count('recovered'), 1, 'one recovered event per outage')
  assert.match((await page.locator('#s-status').textContent()) ?? '', /^Logged in$/)
})
