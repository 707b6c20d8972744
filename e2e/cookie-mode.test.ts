/**
 * Cookie mode (BATON_TOKEN_TRANSPORT=cookie) in real Chromium: the refresh token lives in an
 * HttpOnly cookie that no script can read, refresh works through it with the CSRF header, and a
 * frontend on another origin works through CORS as long as it is the same SITE (the cross-site
 * trap of docs/cookie-mode.md is shown, not just described).
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { NetworkLog, demoStats, launchChromium, openDemo, report, signIn, startBaton, waitFor } from './helpers.js'

let browser: Browser
before(async () => {
  browser = await launchChromium()
})
after(async () => {
  await browser?.close()
})

const PASSWORD = 'correct horse battery staple'

/** The refresh token a `Set-Cookie` header carries, if it sets `baton_refresh`. */
function refreshCookieOf(setCookie: string | null): string | null {
  const match = /(?:^|\n)baton_refresh=([^;\n]*)/.exec(setCookie ?? '')
  return match === null || match[1] === '' ? null : match[1]!
}

async function storageDump(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() => {
    const out: Record<string, string> = {}
    for (const [name, store] of [
      ['local', localStorage],
      ['session', sessionStorage],
    ] as const) {
      for (let i = 0; i < store.length; i++) {
        const key = store.key(i)!
        out[`${name}:${key}`] = store.getItem(key) ?? ''
      }
    }
    return out
  })
}

test('cookie mode: no script can read the refresh token, and refresh works through the HttpOnly cookie with the CSRF header', async (t) => {
  const baton = await startBaton({ BATON_TOKEN_TRANSPORT: 'cookie', ACCESS_TOKEN_LIFETIME: '4', REFRESH_GRACE_SECONDS: '15' })
  t.after(() => baton.stop())
  const context = await browser.newContext()
  t.after(() => context.close())
  const page = await context.newPage()
  const net = new NetworkLog()
  net.watch(page)

  await openDemo(page, baton.url)
  assert.equal((await demoStats(page)).mode, 'cookie')
  await signIn(page, 'lovelace', PASSWORD, true)
  await page.locator('#auto-call').check()
  await waitFor(() => net.refreshes().filter((r) => r.status === 200).length >= 2, 30_000, 'two refreshes')
  await page.locator('#auto-call').uncheck()
  await waitFor(() => net.requests.every((r) => r.status !== null), 10_000, 'every request answered')

  // The cookie as the browser holds it.
  const cookie = (await context.cookies(`${baton.url}/api/auth/refresh/`)).find((c) => c.name === 'baton_refresh')
  assert.ok(cookie !== undefined, 'the browser holds the refresh cookie')
  assert.equal(cookie.httpOnly, true)
  assert.equal(cookie.sameSite, 'Strict')
  assert.equal(cookie.path, '/api/auth/')

  // Every refresh token the server issued, from the Set-Cookie headers; none in a JSON body.
  const tokenAnswers = [...net.to('/api/auth/token/'), ...net.refreshes()]
  const setCookies = await Promise.all(tokenAnswers.map((r) => r.setCookie))
  const issued = setCookies.map(refreshCookieOf).filter((v): v is string => v !== null)
  assert.equal(issued.length, tokenAnswers.length, 'login and each refresh set the cookie')
  assert.ok(issued.includes(cookie.value))
  for (const r of tokenAnswers) assert.deepEqual(Object.keys((await r.json) as object), ['access'], `${r.path} answers {access} only`)

  // Scripts: not on the page, not even on a page under the cookie's own path, not in storage.
  const visible = await page.evaluate(() => document.cookie)
  assert.ok(!visible.includes('baton_refresh'), `document.cookie: ${visible}`)
  const underPath = await context.newPage()
  await underPath.goto(`${baton.url}/api/auth/nothing-here`)
  await underPath.evaluate(() => (document.cookie = 'probe=1; path=/api/auth/'))
  const visibleUnderPath = await underPath.evaluate(() => document.cookie)
  assert.match(visibleUnderPath, /probe=1/, 'a script-set cookie on that path is visible (the check can see cookies)')
  assert.ok(!visibleUnderPath.includes('baton_refresh'), `document.cookie under /api/auth/: ${visibleUnderPath}`)
  await underPath.close()
  const stored = await storageDump(page)
  for (const [key, value] of Object.entries(stored)) {
    assert.ok(!/refresh/i.test(key), `storage key ${key}`)
    assert.ok(!issued.some((token) => value.includes(token)), `storage ${key} holds no refresh token`)
    assert.ok(!value.includes('eyJ'), `storage ${key} holds no token at all (the access token stays in memory)`)
  }

  // Refresh went through the cookie with the CSRF header, the body carrying no token.
  const refreshes = net.refreshes()
  for (const r of refreshes) {
    assert.equal(r.headers['x-baton-csrf'], '1')
    assert.match(r.headers['cookie'] ?? '', /baton_refresh=/)
    assert.equal(r.body, '{}')
  }

  // The CSRF defence: the same request without the header is refused and consumes nothing.
  const forged = await page.evaluate(async () => {
    const response = await fetch('/api/auth/refresh/', {
      method: 'POST',
      credentials: 'include',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    })
    return { status: response.status, body: (await response.json()) as { code: string } }
  })
  assert.equal(forged.status, 403)
  assert.equal(forged.body.code, 'csrf_failed')

  // A reloaded page (a new tab alike) finds the session through the cookie, without a login.
  const logins = net.to('/api/auth/token/').length
  const refreshCount = net.refreshes().length
  await openDemo(page, baton.url)
  await page.waitForSelector('#account-card:not([hidden])')
  assert.equal(net.to('/api/auth/token/').length, logins)
  assert.equal(net.refreshes().at(-1)?.status, 200)
  assert.equal(net.refreshes().length, refreshCount + 1)

  // Logout clears the cookie.
  await page.locator('#logout').click()
  await waitFor(() => net.to('/api/auth/logout/').some((r) => r.status === 200), 10_000, 'logout')
  const logout = net.to('/api/auth/logout/')[0]!
  assert.equal(logout.headers['x-baton-csrf'], '1')
  assert.equal(
    (await context.cookies(`${baton.url}/api/auth/refresh/`)).find((c) => c.name === 'baton_refresh'),
    undefined,
  )

  report('cookie mode', {
    refreshRequests: refreshes.length + 1,
    responses401: net.withStatus(401).length,
    forgedRefresh: forged.status,
  })
  assert.deepEqual(net.withStatus(401), [])
  assert.deepEqual(net.pageErrors, [])
})

test('cookie mode: a frontend on another origin of the same site works through CORS; on another site the cookie is not sent', async (t) => {
  // The "frontend": a page on its own origin, importing the client from the API's origin.
  const frontend: Server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>frontend</title><p>frontend')
  })
  await new Promise<void>((resolve) => frontend.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => frontend.close(() => resolve())))
  const port = (frontend.address() as AddressInfo).port
  const sameSite = `http://127.0.0.1:${port}` // same site as the API (127.0.0.1), another origin
  const crossSite = `http://localhost:${port}` // another site: a different host

  const baton = await startBaton({
    BATON_TOKEN_TRANSPORT: 'cookie',
    BATON_CORS_ORIGINS: `${sameSite},${crossSite}`,
    ACCESS_TOKEN_LIFETIME: '30',
    LOGIN_RATE_LIMIT: '2/60',
  })
  t.after(() => baton.stop())
  const created = await fetch(`${baton.url}/api/auth/register/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'turing', password: PASSWORD }),
  })
  assert.equal(created.status, 201)

  async function runFrontend(origin: string): Promise<{ result: Record<string, unknown>; net: NetworkLog; cookies: string[] }> {
    const context = await browser.newContext()
    t.after(() => context.close())
    const page = await context.newPage()
    const net = new NetworkLog()
    net.watch(page)
    await page.goto(`${origin}/`)
    const result = await page.evaluate(
      async ({ api, password }) => {
        const lib = (await import(`${api}/client/index.js`)) as typeof import('@baton/client')
        const client = lib.createAuthClient({ baseURL: api, mode: 'cookie' })
        await client.login({ username: 'turing', password })
        const me = (await (await client.fetch('/api/me/')).json()) as { username: string }
        const first = await client.getAccessToken()
        try {
          // What a 401 would do: refresh (through the cookie) and hand back a new token.
          const second = await client.refreshAfterUnauthorized(first)
          const again = await client.fetch('/api/me/')
          // CORS must let the other origin revoke a session (DELETE) ...
          const sessions = (await (await client.fetch('/api/auth/sessions/')).json()) as { id: string; current: boolean }[]
          const current = sessions.find((s) => s.current)!
          const revoked = await client.fetch(`/api/auth/sessions/${current.id}/`, { method: 'DELETE' })
          // ... and read Retry-After (not a CORS-safelisted header) on a 429.
          let retryAfter: unknown = null
          for (let i = 0; i < 5 && retryAfter === null; i++) {
            try {
              await client.login({ username: 'nobody', password: 'wrong password' })
            } catch (error) {
              if ((error as { code?: string }).code === 'rate_limited') retryAfter = (error as { retryAfter?: unknown }).retryAfter
            }
          }
          return {
            me: me.username,
            refreshed: second !== first,
            after: again.status,
            revoked: revoked.status,
            retryAfter: typeof retryAfter,
          }
        } catch (error) {
          return { me: me.username, refreshed: false, error: (error as { code?: string }).code ?? String(error) }
        }
      },
      { api: baton.url, password: PASSWORD },
    )
    const cookies = (await context.cookies(`${baton.url}/api/auth/refresh/`)).map((c) => c.name)
    return { result, net, cookies }
  }

  const same = await runFrontend(sameSite)
  assert.deepEqual(same.result, { me: 'turing', refreshed: true, after: 200, revoked: 204, retryAfter: 'number' })
  assert.equal(same.net.refreshes().at(-1)?.status, 200)

  const cross = await runFrontend(crossSite)
  // Login and bearer calls work across sites, but the SameSite=Strict cookie never comes
  // back: the first refresh fails and the session is over.
  assert.equal(cross.result.me, 'turing')
  assert.equal(cross.result.refreshed, false)
  assert.equal(cross.result.error, 'token_not_valid')
  const crossRefresh = cross.net.refreshes().at(-1)!
  assert.equal(crossRefresh.status, 401)
  assert.doesNotMatch(crossRefresh.headers['cookie'] ?? '', /baton_refresh=/)
  assert.ok(!cross.cookies.includes('baton_refresh'), 'the browser did not even store the cookie')

  report('cookie mode across origins', {
    sameSiteRefreshes: same.net.refreshes().map((r) => r.status),
    crossSiteRefreshes: cross.net.refreshes().map((r) => r.status),
  })
})
