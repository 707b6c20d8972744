/**
 * A tab frozen while it holds the refresh lock, its refresh request already sent (as Chromium
 * freezes background tabs). A frozen page keeps its Web Locks, so with a plain
 * `navigator.locks.request` every other tab waits for ever (supabase-js met that deadlock in the
 * field). baton's lock waits at most `timeout` + 2 s, then steals; the server's grace window
 * answers the stealer the successor the frozen tab's request got, so both tabs end on one pair.
 *
 * The freeze: CDP `Page.setWebLifecycleState {state: 'frozen'}` stops nothing in headless
 * Chromium 156 (its timers keep firing; seen by the chaos run's browser lane), so the tab's
 * JavaScript is stopped with `Debugger.pause`, and the test checks that it really is.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import type { Route } from 'playwright-core'
import { CHROMIUM, openBrowserTabs } from './helpers/browser-tabs.js'
import { createFakeServer } from './helpers/fake-server.js'

test(
  'browser: a tab frozen while holding the refresh lock is stolen from after timeout + 2 s; both tabs keep one session',
  { skip: !existsSync(CHROMIUM) && 'no chromium' },
  async (t) => {
    const server = createFakeServer({ now: Date.now })
    const { context, open } = await openBrowserTabs(t, server)
    // The frozen tab's own timeout is long, so that its thaw, not its timer, decides its refresh.
    const frozen = await open({ timeout: 60_000 })
    const waiter = await open({ timeout: 2_000 })
    const first = await frozen.evaluate(
      async () => (await (window as any).client.login({ username: 'ada', password: 'lovelace' })).access as string,
    )
    await waiter.waitForFunction(() => (window as any).events.includes('tokens'))

    // The frozen tab's refresh request waits in the network until the tab is frozen, then reaches
    // the server (which rotates), and its answer waits for the thaw.
    const held: Route[] = []
    await frozen.route('**/api/auth/refresh/', (route) => void held.push(route))
    await frozen.evaluate((token) => {
      ;(window as any).pending = (window as any).client.refreshAfterUnauthorized(token).then(
        (access: string) => access,
        (error: unknown) => `error: ${String(error)}`,
      )
    }, first)
    await waitUntil(() => held.length === 1)
    const cdp = await context.newCDPSession(frozen)
    await cdp.send('Page.setWebLifecycleState', { state: 'frozen' })
    await cdp.send('Debugger.enable')
    await cdp.send('Debugger.pause')
    // The test can fail: the frozen tab runs no JavaScript now, and it holds the refresh lock.
    const ran = await Promise.race([frozen.evaluate(() => 'ran'), new Promise((r) => setTimeout(() => r('stopped'), 500))])
    assert.equal(ran, 'stopped', "the frozen tab's JavaScript is stopped")
    const locks = await waiter.evaluate(async () => {
      const { held } = await navigator.locks.query()
      return held?.map((l) => l.name) ?? []
    })
    assert.equal(locks.length, 1, 'the frozen tab holds the refresh lock')
    assert.match(locks[0] as string, /^baton:refresh:/)
    await (held[0] as Route).continue()
    await server.until(() => server.calls.refresh === 1)

    // Bounded here, so that a lock that waits for ever fails the test instead of hanging it.
    const refreshed = waiter.evaluate(async (token) => {
      const started = performance.now()
      const access = (await (window as any).client.refreshAfterUnauthorized(token)) as string
      return { access, waited: performance.now() - started }
    }, first)
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('the waiting tab still waits after 15 s')), 15_000).unref(),
    )
    const { access, waited } = await Promise.race([refreshed, timeout])
    assert.notEqual(access, first)
    assert.ok(waited >= 3_900, `the waiting tab waited for timeout + 2 s before stealing (${Math.round(waited)} ms)`)
    assert.ok(waited < 9_000, `and no longer than that plus its refresh (${Math.round(waited)} ms)`)
    assert.equal(server.calls.refresh, 2, 'the stealer presented the same token, inside the grace window')

    // The tab thaws and reads the answer its request got: the same successor. One pair, nobody
    // logged out.
    await cdp.send('Debugger.resume')
    await cdp.send('Page.setWebLifecycleState', { state: 'active' })
    const late = await frozen.evaluate(() => (window as any).pending as Promise<string>)
    assert.equal(late, access, 'the thawed tab ends on the same access token')
    assert.equal(server.calls.refresh, 2)
    for (const page of [frozen, waiter]) {
      const events = (await page.evaluate(() => (window as any).events)) as string[]
      assert.ok(!events.includes('session-expired'), `no session ended: ${events.join(', ')}`)
    }
  },
)

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 20))
  }
}
