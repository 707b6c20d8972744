/**
 * What runs inside each Chromium tab of the browser lane, as plain JavaScript strings (a
 * function's source would do, but tsx's keepNames wraps inner functions in `__name`, which the
 * page does not have). The page loads the built client from dist/ with its browser defaults
 * (baseURL = location.origin, localStorage, BroadcastChannel, Web Locks).
 */

/** Playwright bindings the page reports through (exposed on the context before any page). */
export const LOCK_BINDING = '__chaosLock'
export const EVENT_BINDING = '__chaosEvent'

/**
 * Wraps `navigator.locks.request` before any page script runs: every request, grant, release,
 * abort and steal is reported with the page's clock, so the lane measures each tab's real wait
 * for the refresh lock (the client's tab-lock.ts calls `locks.request` on this same object).
 */
export const LOCK_PROBE = `(() => {
  const locks = navigator.locks
  if (!locks || typeof locks.request !== 'function') return
  const original = locks.request.bind(locks)
  let seq = 0
  const report = (record) => { try { window.${LOCK_BINDING}(record) } catch (e) {} }
  locks.request = (name, a, b) => {
    const options = typeof a === 'function' ? {} : (a || {})
    const callback = typeof a === 'function' ? a : b
    const id = ++seq
    const requested = Date.now()
    const steal = options.steal === true
    let granted = false
    report({ id, name, event: 'requested', requested, at: requested, steal })
    const result = original(name, options, (lock) => {
      granted = true
      report({ id, name, event: 'granted', requested, at: Date.now(), steal })
      return callback(lock)
    })
    result.then(
      () => report({ id, name, event: 'released', requested, at: Date.now(), steal }),
      () => report({ id, name, event: granted ? 'lost' : 'not-granted', requested, at: Date.now(), steal }),
    )
    return result
  }
})()`

/** The tab: one client, its events reported, and `window.chaos` for the lane to drive. */
export function tabPage(distPath: string): string {
  return `<!doctype html><meta charset="utf-8"><title>chaos tab</title>
<script type="module">
  import * as baton from '${distPath}index.js'
  const client = baton.createAuthClient()
  const sidOf = (token) => {
    try {
      const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
      const sid = JSON.parse(atob(part)).sid
      return typeof sid === 'string' ? sid : undefined
    } catch (e) {
      return undefined
    }
  }
  // The session an event is about: on session-expired the storage is already cleared.
  let sid
  const remember = () => {
    try {
      const stored = JSON.parse(localStorage.getItem(client.options.storageKey) || 'null')
      if (stored && typeof stored.refresh === 'string') sid = sidOf(stored.refresh) || sid
    } catch (e) {}
  }
  const report = (what, detail) => { try { window.${EVENT_BINDING}({ what, t: Date.now(), detail, sid }) } catch (e) {} }
  client.on('tokens', ({ access }) => { sid = sidOf(access) || sid })
  client.on('session-expired', ({ code }) => report('session-expired', code))
  client.on('degraded', () => report('degraded'))
  client.on('recovered', () => report('recovered'))
  window.chaos = {
    async login(username, password) {
      try {
        const { access } = await client.login({ username, password })
        sid = sidOf(access)
        return { ok: true, sid: sid || null, t: Date.now() }
      } catch (e) {
        return { ok: false, error: String(e && e.name) + ' ' + String(e && e.code), t: Date.now() }
      }
    },
    hasSession() {
      remember()
      return localStorage.getItem(client.options.storageKey) !== null
    },
    async call(path) {
      remember()
      const t0 = Date.now()
      try {
        const response = await client.fetch(path)
        await response.arrayBuffer()
        return { t0, t1: Date.now(), status: response.status }
      } catch (e) {
        return { t0, t1: Date.now(), error: String(e && e.name) + (e && e.code ? ' ' + e.code : '') }
      }
    },
  }
  window.ready = true
</script>`
}
