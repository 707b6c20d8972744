/**
 * The built client in a real browser (headless Chromium): loaded straight from dist/ with no
 * bundler, with its browser defaults (baseURL = location.origin, localStorage,
 * BroadcastChannel, Web Locks), in two tabs of one origin against the fake server.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import type { Page } from 'playwright-core'
import { CHROMIUM, openBrowserTabs } from './helpers/browser-tabs.js'
import { createFakeServer } from './helpers/fake-server.js'
import { createFakeTime } from './helpers/fake-time.js'

test(
  'browser: two tabs load dist/ directly and share one refresh (Web Locks, BroadcastChannel, localStorage)',
  { skip: !existsSync(CHROMIUM) && 'no chromium' },
  async (t) => {
    const time = createFakeTime()
    const server = createFakeServer({ now: time.now })
    const { origin, open } = await openBrowserTabs(t, server)
    const a = await open()
    const b = await open()

    const defaults = await a.evaluate(() => {
      const { options } = (window as any).client
      return {
        baseURL: options.baseURL,
        lock: typeof navigator.locks,
        storage: options.storage !== null,
      }
    })
    assert.deepEqual(defaults, { baseURL: `${origin}/`, lock: 'object', storage: true })

    const access = await a.evaluate(async () => {
      const { access } = await (window as any).client.login({
        username: 'ada',
        password: 'lovelace',
      })
      return access as string
    })
    // Tab b uses the stored session without logging in, and heard about it on the channel.
    await b.waitForFunction(() => (window as any).events.includes('tokens'))
    assert.equal(await b.evaluate(() => (window as any).client.getAccessToken()), access)

    server.invalidateAccessTokens()
    const release = server.holdRefresh()
    const burst = (page: Page): Promise<number[]> =>
      page.evaluate(() => Promise.all([1, 2, 3].map(async () => (await (window as any).client.fetch('/api/me/')).status)))
    const statuses = Promise.all([burst(a), burst(b)])
    await server.until(() => server.calls.unauthorized === 6 && server.calls.refresh >= 1)
    assert.equal(server.calls.refresh, 1)
    release()
    assert.deepEqual(await statuses, [
      [200, 200, 200],
      [200, 200, 200],
    ])
    assert.equal(server.calls.refresh, 1, 'one refresh across both tabs')
    const [tokenA, tokenB] = await Promise.all([
      a.evaluate(() => (window as any).client.getAccessToken()),
      b.evaluate(() => (window as any).client.getAccessToken()),
    ])
    assert.equal(tokenA, tokenB)
    assert.notEqual(tokenA, access)

    await a.evaluate(() => (window as any).client.logout())
    await b.waitForFunction(() => (window as any).events.includes('logout'))
    const afterLogout = await b.evaluate(async () => {
      try {
        await (window as any).client.getAccessToken()
        return 'still logged in'
      } catch (error) {
        return (window as any).baton.isSessionExpiredError(error) ? 'session ended' : String(error)
      }
    })
    assert.equal(afterLogout, 'session ended')
  },
)
