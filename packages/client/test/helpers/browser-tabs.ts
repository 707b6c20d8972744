/**
 * Tabs of one origin in real headless Chromium, each loading the built client straight from
 * dist/ (no bundler) with its browser defaults (baseURL = location.origin, localStorage,
 * BroadcastChannel, Web Locks), served beside the fake server. Closed by `t.after`.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, resolve } from 'node:path'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import type { FakeServer } from './fake-server.js'
import { serveOverHTTP } from './http-server.js'

export const CHROMIUM = '/usr/bin/chromium'
const dist = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'dist')

// `?options=<JSON>` is passed to createAuthClient (a tab's own `timeout`, say).
const PAGE = `<!doctype html><meta charset="utf-8"><title>tab</title>
<script type="module">
  import * as baton from '/dist/index.js'
  const client = baton.createAuthClient(JSON.parse(new URLSearchParams(location.search).get('options') ?? '{}'))
  window.events = []
  for (const name of ['tokens', 'degraded', 'recovered', 'session-expired', 'logout']) {
    client.on(name, () => window.events.push(name))
  }
  window.client = client
  window.baton = baton
  window.ready = true
</script>`

export interface BrowserTabs {
  origin: string
  context: BrowserContext
  /** A new tab of the origin, once its client is ready. */
  open(clientOptions?: Record<string, unknown>): Promise<Page>
}

export async function openBrowserTabs(t: TestContext, server: Pick<FakeServer, 'handle'>): Promise<BrowserTabs> {
  const { origin } = await serveOverHTTP(t, {
    async handle(request) {
      const { pathname } = new URL(request.url)
      if (pathname === '/') return new Response(PAGE, { headers: { 'content-type': 'text/html' } })
      if (pathname.startsWith('/dist/')) {
        const file = normalize(join(dist, pathname.slice('/dist/'.length)))
        if (!file.startsWith(dist) || !existsSync(file)) return new Response('missing', { status: 404 })
        return new Response(readFileSync(file), { headers: { 'content-type': 'text/javascript' } })
      }
      return server.handle(request)
    },
  })
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  t.after(() => browser.close())
  const context = await browser.newContext()
  return {
    origin,
    context,
    async open(clientOptions = {}) {
      const page = await context.newPage()
      await page.goto(`${origin}/?options=${encodeURIComponent(JSON.stringify(clientOptions))}`)
      await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true)
      return page
    },
  }
}
