/**
 * A tab frozen while it holds the refresh lock (Chromium's page lifecycle `frozen`, set through
 * CDP, as Chromium does to background tabs). A frozen page keeps its Web Locks, so with a plain
 * `navigator.locks.request` every other tab waits for ever (supabase-js met that deadlock in the
 * field). baton's lock waits at most `timeout` + 2 s, then steals; the server's grace window
 * makes the frozen tab's late refresh answer the same successor, so both tabs end on one pair.
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

    // The frozen tab's refresh request is held in the network until the tab has thawed.
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

    // The test can fail: the frozen tab really holds the lock, and nobody waits for it yet.
    const locks = await waiter.evaluate(async () => {
      const { held, pending } = await navigator.locks.query()
      return { held: held?.map((l) => l.name) ?? [], pending: pending?.length ?? 0 }
    })
    assert.equal(locks.held.length, 1, 'the frozen tab holds the refresh lock')
    assert.match(locks.held[0] as string, /^baton:refresh:/)

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
    assert.equal(server.calls.refresh, 1, "only the stealer's refresh reached the server so far")

    // The tab thaws; its request (the same, now replaced token) reaches the server inside the grace
    // window, which answers the same successor: both tabs hold one pair, nobody was logged out.
    await cdp.send('Page.setWebLifecycleState', { state: 'active' })
    await (held[0] as Route).continue()
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
