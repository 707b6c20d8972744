/**
 * The demo page: one `@baton/client` driving the whole loop (log in, call an API, refresh
 * before expiry, share the session between tabs, ride out a store outage) with every step
 * visible. Plain DOM, no framework. The client is NOT bundled: the build rewrites the import
 * to `/client/index.js`, the client package's own ES modules served by baton (see
 * vite.config.ts), so the page runs exactly the code users install.
 *
 * `window.__baton` is a small test hook (demo/README.md); the e2e tests read it. The page never
 * shows it. In development mode the page also offers the outage switch of http/dev-routes.ts.
 */
import {
  createAuthClient,
  isHTTPError,
  isRefreshUnavailableError,
  isSessionExpiredError,
  readClaims,
  type AuthClient,
  type SessionInfo,
  type UserInfo,
} from '@baton/client'
import { explain, refreshMargin } from './explain.js'
import { setUpTryIt } from './try-it.js'

/** `GET /demo/config.json`: how the server was started (the page must match its token transport). */
interface DemoConfig {
  tokenTransport: 'body' | 'cookie'
  /** Development mode: the outage switch at /demo/dev/store exists (dev-routes.ts). */
  devControls: boolean
}

/** One entry of the event log. */
interface LoggedEvent {
  /** Local time, ms since the epoch. */
  at: number
  /** A client event name (`tokens`, `degraded`, …) or a demo action (`api`, `login`, …). */
  name: string
  detail: string
}

/** Live counters, also exposed as `window.__baton.stats`. */
interface DemoStats {
  mode: 'body' | 'cookie'
  loggedIn: boolean
  /** True between a `degraded` and the next `recovered` (or the end of the session). */
  degraded: boolean
  /** Refresh requests this tab sent, and their answers by status (`network` when none came). */
  refreshRequests: number
  refreshStatuses: Record<string, number>
  /** Access tokens this tab obtained itself by refreshing. */
  refreshesHere: number
  /** Access tokens adopted from another tab (or from storage at load). */
  adopted: number
  /** API calls made through `client.fetch`, by status or error code. */
  apiCalls: number
  apiOutcomes: Record<string, number>
  /** `up`, `down` or `unknown`, from polling `/readyz`. */
  store: 'up' | 'down' | 'unknown'
  /** The development switch has the store off. */
  switchedOff: boolean
  /** The session ended with token_not_valid after an outage: the store lost it. */
  lostSession: boolean
  /** Local expiry time of the current access token (ms), as the client reported it. */
  expiresAt: number | null
  lastEvent: string | null
  events: LoggedEvent[]
}

declare global {
  interface Window {
    /** Test hook of the demo page; see demo/README.md. */
    __baton?: { client: AuthClient; stats: DemoStats; config: DemoConfig; callMe(): Promise<void> }
  }
}

const LOG_LIMIT = 200
const params = new URLSearchParams(location.search)
/** `?every=250` sets the auto-call period (ms); the e2e tests use it to call more often. */
const autoCallEvery = Math.max(100, Number(params.get('every')) || 1000)
/** In cookie mode JavaScript cannot see the session; this flag (no token in it) saves a 401 probe on load. */
const COOKIE_HINT_KEY = 'baton-demo:cookie-session'

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id)
  if (el === null) throw new Error(`demo: #${id} missing from index.html`)
  return el as T
}

const ui = {
  banner: byId('banner'),
  authCard: byId('auth-card'),
  authForm: byId<HTMLFormElement>('auth-form'),
  username: byId<HTMLInputElement>('username'),
  password: byId<HTMLInputElement>('password'),
  authError: byId('auth-error'),
  accountCard: byId('account-card'),
  who: byId('who'),
  callMe: byId<HTMLButtonElement>('call-me'),
  autoCall: byId<HTMLInputElement>('auto-call'),
  autoCallLabel: byId('auto-call-label'),
  logout: byId<HTMLButtonElement>('logout'),
  meResult: byId('me-result'),
  status: byId('s-status'),
  expiry: byId('s-expiry'),
  expiryBar: byId<HTMLProgressElement>('s-expiry-bar'),
  refreshes: byId('s-refreshes'),
  store: byId('s-store'),
  lastEvent: byId('s-last-event'),
  mode: byId('s-mode'),
  nextRefresh: byId('s-next-refresh'),
  explain: byId('explain'),
  refreshNow: byId<HTMLButtonElement>('refresh-now'),
  storeToggle: byId<HTMLButtonElement>('store-toggle'),
  storeHint: byId('store-hint'),
  sessionsBody: byId<HTMLTableElement>('sessions').tBodies[0]!,
  loadSessions: byId<HTMLButtonElement>('load-sessions'),
  log: byId<HTMLOListElement>('log'),
  clearLog: byId<HTMLButtonElement>('clear-log'),
}

async function loadConfig(): Promise<DemoConfig> {
  try {
    const response = await fetch('/demo/config.json', { cache: 'no-store' })
    const data = (await response.json()) as Partial<DemoConfig>
    return { tokenTransport: data.tokenTransport === 'cookie' ? 'cookie' : 'body', devControls: data.devControls === true }
  } catch {
    return { tokenTransport: 'body', devControls: false }
  }
}

const config = await loadConfig()
const stats: DemoStats = {
  mode: config.tokenTransport,
  loggedIn: false,
  degraded: false,
  refreshRequests: 0,
  refreshStatuses: {},
  refreshesHere: 0,
  adopted: 0,
  apiCalls: 0,
  apiOutcomes: {},
  store: 'unknown',
  switchedOff: false,
  lostSession: false,
  expiresAt: null,
  lastEvent: null,
  events: [],
}
/** Access tokens this tab received in its own login or refresh answers (to tell them from adopted ones). */
const ownTokens = new Set<string>()
let lifetimeMs: number | null = null
/** An outage was seen during this session (so a later token_not_valid means the store lost it). */
let outageSeen = false
/** When the client tries a refresh again while degraded, as far as the page was told. */
let retryAt: number | null = null
let recoveredAt: number | null = null

const refreshURL = new URL('/api/auth/refresh/', location.origin).href
const loginURL = new URL('/api/auth/token/', location.origin).href

/**
 * The client's `fetch`, wrapped only to count: refresh requests and their answers, and which
 * access tokens this tab fetched itself. Requests and responses pass through untouched.
 */
const countingFetch: typeof fetch = async (input, init) => {
  const url = input instanceof Request ? input.url : String(input)
  const isRefresh = url === refreshURL
  if (isRefresh) stats.refreshRequests += 1
  let response: Response
  try {
    response = await fetch(input, init)
  } catch (error) {
    if (isRefresh) bump(stats.refreshStatuses, 'network')
    throw error
  }
  if (isRefresh) bump(stats.refreshStatuses, String(response.status))
  if ((isRefresh || url === loginURL) && response.ok) {
    const data = (await response
      .clone()
      .json()
      .catch(() => null)) as { access?: unknown } | null
    if (typeof data?.access === 'string') {
      ownTokens.add(data.access)
      if (isRefresh) stats.refreshesHere += 1
    }
  }
  return response
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1
}

const client = createAuthClient({ mode: config.tokenTransport, fetch: countingFetch })
window.__baton = { client, stats, config, callMe }

// ---- event log ------------------------------------------------------------------------------

function log(name: string, detail: string, clientEvent = false): void {
  const entry: LoggedEvent = { at: Date.now(), name, detail }
  stats.events.push(entry)
  if (stats.events.length > LOG_LIMIT) stats.events.shift()
  if (clientEvent) {
    stats.lastEvent = name
    ui.lastEvent.textContent = `${name} at ${formatTime(entry.at)}`
  }
  const item = document.createElement('li')
  item.className = `ev ev-${name}`
  const time = document.createElement('time')
  time.dateTime = new Date(entry.at).toISOString()
  time.textContent = formatTime(entry.at)
  const label = document.createElement('strong')
  label.textContent = name
  item.append(time, ' ', label, ' ', detail)
  ui.log.prepend(item)
  while (ui.log.children.length > LOG_LIMIT) ui.log.lastElementChild?.remove()
}

/** The browser's own locale and clock format (issue 14: no fixed locale), with milliseconds. */
function formatTime(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3 })
}

ui.clearLog.addEventListener('click', () => ui.log.replaceChildren())

// ---- client events --------------------------------------------------------------------------

client.on('tokens', ({ access, expiresAt }) => {
  stats.expiresAt = expiresAt
  const claims = readClaims(access)
  lifetimeMs = claims?.exp !== undefined && claims.iat !== undefined ? (claims.exp - claims.iat) * 1000 : null
  const own = ownTokens.delete(access)
  if (!own) stats.adopted += 1
  const left = expiresAt === null ? 'no expiry' : `expires in ${((expiresAt - Date.now()) / 1000).toFixed(1)} s`
  log('tokens', `new access token, ${left}${own ? '' : ' (adopted from another tab or storage)'}`, true)
  if (!stats.loggedIn) void enterSession()
  else scheduleSessionsReload()
  render()
})

client.on('degraded', ({ retryAfter, cause }) => {
  stats.degraded = true
  outageSeen = true
  retryAt = Date.now() + retryAfter * 1000
  const why = isHTTPError(cause) ? `${cause.status} ${cause.code}` : cause.code
  log('degraded', `refresh failed (${why}); keeping the session, retrying in ${retryAfter} s`, true)
  showBanner(`The session store is unavailable (${why}). You stay logged in; baton retries by itself.`)
  render()
})

client.on('recovered', () => {
  stats.degraded = false
  retryAt = null
  recoveredAt = Date.now()
  log('recovered', 'refresh works again', true)
  hideBanner()
  render()
})

client.on('session-expired', ({ code }) => {
  // An outage then token_not_valid: the session record is gone from the store (a Redis restarted
  // without persistence). SPEC §3 fails closed on a missing record; say it is data loss.
  stats.lostSession = code === 'token_not_valid' && outageSeen
  log(
    'session-expired',
    stats.lostSession ? `the store lost the session during the outage (${code})` : `the server ended the session (${code})`,
    true,
  )
  leaveSession(
    stats.lostSession
      ? `The store lost your session (no persistence): ${code} after the outage. Please log in again.`
      : `Your session ended (${code}). Please log in again.`,
  )
})

client.on('logout', () => {
  log('logout', 'logged out (here or in another tab)', true)
  leaveSession('')
})

// ---- session ----------------------------------------------------------------------------------

async function enterSession(): Promise<void> {
  stats.loggedIn = true
  if (config.tokenTransport === 'cookie') localStorage.setItem(COOKIE_HINT_KEY, '1')
  ui.authCard.hidden = true
  ui.accountCard.hidden = false
  ui.authError.textContent = ''
  render()
  try {
    const response = await client.fetch('/api/me/')
    if (response.ok) ui.who.textContent = ((await response.json()) as UserInfo).username
  } catch {
    // Shown by callMe's log when the user calls it; the name can wait.
  }
  await loadSessions()
}

function leaveSession(message: string): void {
  stats.loggedIn = false
  stats.degraded = false
  stats.expiresAt = null
  localStorage.removeItem(COOKIE_HINT_KEY)
  setAutoCall(false)
  hideBanner()
  ui.accountCard.hidden = true
  ui.authCard.hidden = false
  ui.authError.textContent = message
  ui.who.textContent = '…'
  ui.meResult.textContent = '—'
  ui.sessionsBody.replaceChildren(row(['Log in to see your sessions.'], 'muted'))
  render()
}

ui.authForm.addEventListener('submit', (event) => {
  event.preventDefault()
  const action = (event.submitter as HTMLButtonElement | null)?.value === 'register' ? 'register' : 'login'
  void authenticate(action)
})

async function authenticate(action: 'login' | 'register'): Promise<void> {
  const username = ui.username.value.trim()
  const password = ui.password.value
  if (username === '' || password === '') {
    ui.authError.textContent = 'Enter a username and a password.'
    return
  }
  ui.authError.textContent = ''
  setBusy(true)
  try {
    if (action === 'register') {
      const response = await fetch('/api/auth/register/', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username, password }),
      })
      if (!response.ok) {
        const body = (await response.json().catch(() => ({}))) as { detail?: string; messages?: Record<string, string> }
        const messages = body.messages === undefined ? '' : ` ${Object.values(body.messages).join(' ')}`
        ui.authError.textContent = `${body.detail ?? `Registration failed (${response.status}).`}${messages}`
        return
      }
      log('register', `registered ${username}`)
    }
    await client.login({ username, password })
    stats.lostSession = false
    outageSeen = stats.store === 'down'
    recoveredAt = null
    log('login', `logged in as ${username}`)
    ui.password.value = ''
  } catch (error) {
    ui.authError.textContent = isHTTPError(error) ? `${error.detail ?? 'Login failed'} (${error.code})` : `Login failed: ${String(error)}`
  } finally {
    setBusy(false)
  }
}

function setBusy(busy: boolean): void {
  for (const button of ui.authForm.querySelectorAll('button')) button.disabled = busy
}

ui.logout.addEventListener('click', () => {
  client.logout().catch((error: unknown) => log('logout', `the server could not be told: ${describe(error)}`))
})

// ---- API calls ------------------------------------------------------------------------------

/** The previous call's outcome (status or error code), so repeated failures are logged once. */
let lastApiOutcome = ''

/** Calls `/api/me/` through the client (the button, the auto-call, and the test hook). */
async function callMe(): Promise<void> {
  stats.apiCalls += 1
  try {
    const response = await client.fetch('/api/me/')
    bump(stats.apiOutcomes, String(response.status))
    const text = await response.text()
    ui.meResult.textContent = `${response.status} ${text}`
    if (!response.ok) log('api', `/api/me/ answered ${response.status}`)
    lastApiOutcome = String(response.status)
  } catch (error) {
    if (isRefreshUnavailableError(error)) retryAt = Date.now() + error.retryAfter * 1000
    const key = isRefreshUnavailableError(error) ? 'refresh_unavailable' : isSessionExpiredError(error) ? 'session_expired' : 'error'
    bump(stats.apiOutcomes, key)
    ui.meResult.textContent = `not sent: ${describe(error)}`
    // The auto-call would repeat the same line every tick of an outage: log changes only.
    if (key !== lastApiOutcome) log('api', `/api/me/ not sent: ${describe(error)}`)
    lastApiOutcome = key
  }
}

function describe(error: unknown): string {
  if (isRefreshUnavailableError(error)) return `refresh unavailable, next attempt in ${error.retryAfter} s`
  if (isHTTPError(error)) return `${error.status} ${error.code}`
  if (error instanceof Error) return error.message
  return String(error)
}

ui.callMe.addEventListener('click', () => void callMe())

let autoTimer: ReturnType<typeof setInterval> | null = null
function setAutoCall(on: boolean): void {
  ui.autoCall.checked = on
  if (autoTimer !== null) clearInterval(autoTimer)
  autoTimer = on ? setInterval(() => void callMe(), autoCallEvery) : null
}
ui.autoCall.addEventListener('change', () => setAutoCall(ui.autoCall.checked))

// ---- sessions list --------------------------------------------------------------------------

async function loadSessions(): Promise<void> {
  let list: SessionInfo[]
  try {
    const response = await client.fetch('/api/auth/sessions/')
    if (!response.ok) throw new Error(`answered ${response.status}`)
    list = (await response.json()) as SessionInfo[]
  } catch (error) {
    log('sessions', `could not load: ${describe(error)}`)
    return
  }
  ui.sessionsBody.replaceChildren(
    ...list.map((s) => {
      const tr = row([formatDate(s.created_at), formatDate(s.last_used_at), browserOf(s.user_agent), s.ip ?? '—'])
      const cell = document.createElement('td')
      if (s.current) {
        const badge = document.createElement('span')
        badge.className = 'badge'
        badge.textContent = 'this session'
        cell.append(badge)
      } else {
        const revoke = document.createElement('button')
        revoke.type = 'button'
        revoke.className = 'secondary small'
        revoke.textContent = 'Revoke'
        revoke.setAttribute('aria-label', `Revoke the session started ${formatDate(s.created_at)}`)
        revoke.addEventListener('click', () => void revokeSession(s.id))
        cell.append(revoke)
      }
      tr.append(cell)
      return tr
    }),
  )
  if (list.length === 0) ui.sessionsBody.replaceChildren(row(['No live sessions.'], 'muted'))
}

let reloadTimer: ReturnType<typeof setTimeout> | null = null
/** After a refresh the current session's "last used" moved: reload the list, once per burst. */
function scheduleSessionsReload(): void {
  if (reloadTimer !== null) return
  reloadTimer = setTimeout(() => {
    reloadTimer = null
    if (stats.loggedIn && !stats.degraded) void loadSessions()
  }, 300)
}

async function revokeSession(id: string): Promise<void> {
  try {
    const response = await client.fetch(`/api/auth/sessions/${encodeURIComponent(id)}/`, { method: 'DELETE' })
    log('sessions', response.ok ? 'revoked a session' : `revoke answered ${response.status}`)
  } catch (error) {
    log('sessions', `could not revoke: ${describe(error)}`)
  }
  await loadSessions()
}

function row(cells: string[], className?: string): HTMLTableRowElement {
  const tr = document.createElement('tr')
  for (const text of cells) {
    const td = document.createElement('td')
    td.textContent = text
    if (cells.length === 1) td.colSpan = 5
    if (className !== undefined) td.className = className
    tr.append(td)
  }
  return tr
}

function formatDate(iso: string): string {
  const date = new Date(iso)
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString()
}

function browserOf(userAgent: string | null): string {
  if (userAgent === null) return '—'
  const match = /(HeadlessChrome|Chromium|Chrome|Firefox|Safari|Edg|node)[/ ]?([\d.]*)/.exec(userAgent)
  return match === null ? userAgent.slice(0, 40) : `${match[1]} ${match[2]?.split('.')[0] ?? ''}`.trim()
}

ui.loadSessions.addEventListener('click', () => void loadSessions())

// ---- store state ----------------------------------------------------------------------------

async function pollStore(): Promise<void> {
  try {
    const response = await fetch('/readyz', { cache: 'no-store' })
    const body = (await response.json()) as { store?: { kind?: string; state?: string; latency_ms?: number } }
    stats.store = body.store?.state === 'up' ? 'up' : 'down'
    if (stats.store === 'down' && stats.loggedIn) outageSeen = true
    const kind = body.store?.kind ?? 'store'
    ui.store.textContent =
      stats.store === 'up' ? `${kind}: up (${body.store?.latency_ms ?? '?'} ms)` : `${kind}: DOWN (refresh paused, session kept)`
  } catch {
    stats.store = 'unknown'
    ui.store.textContent = 'server unreachable'
  }
  ui.store.className = `state-${stats.store}`
  renderExplain()
}

// ---- rendering --------------------------------------------------------------------------------

function showBanner(text: string): void {
  ui.banner.textContent = text
  ui.banner.hidden = false
}

function hideBanner(): void {
  ui.banner.hidden = true
  ui.banner.textContent = ''
}

function render(): void {
  ui.status.textContent = stats.loggedIn ? (stats.degraded ? 'Logged in · degraded' : 'Logged in') : 'Logged out'
  ui.status.className = stats.loggedIn ? (stats.degraded ? 'state-degraded' : 'state-up') : 'state-unknown'
  ui.refreshes.textContent =
    `${stats.refreshesHere} by this tab` + (stats.adopted > 0 ? ` · ${stats.adopted} adopted from other tabs or storage` : '')
  renderExpiry()
}

function renderExpiry(): void {
  renderNextRefresh()
  renderExplain()
  if (!stats.loggedIn || stats.expiresAt === null) {
    ui.expiry.textContent = '—'
    ui.expiryBar.value = 0
    return
  }
  const left = stats.expiresAt - Date.now()
  ui.expiry.textContent = left > 0 ? `${(left / 1000).toFixed(1)} s` : `expired ${(-left / 1000).toFixed(1)} s ago`
  ui.expiryBar.value = lifetimeMs === null || left <= 0 ? 0 : Math.min(1, left / lifetimeMs)
}

function refreshFrom(): number | null {
  return stats.expiresAt === null || lifetimeMs === null ? null : stats.expiresAt - refreshMargin(lifetimeMs)
}

function renderNextRefresh(): void {
  const from = refreshFrom()
  const now = Date.now()
  ui.nextRefresh.textContent = !stats.loggedIn
    ? '—'
    : stats.degraded
      ? retryAt !== null && retryAt > now
        ? `paused: the client retries in ${Math.ceil((retryAt - now) / 1000)} s`
        : 'paused: the client retries on the next call'
      : from === null
        ? 'on the next 401'
        : from > now
          ? `on the first API call from ${formatTime(from).replace(/[.,]\d{3}(?=\D*$)/, '')} (in ${Math.ceil((from - now) / 1000)} s)`
          : 'on the next API call'
}

function renderExplain(): void {
  const { state, text } = explain({
    now: Date.now(),
    loggedIn: stats.loggedIn,
    store: stats.store,
    switchedOff: stats.switchedOff,
    degraded: stats.degraded,
    retryAt,
    expiresAt: stats.expiresAt,
    refreshFrom: refreshFrom(),
    lifetimeMs,
    recoveredAt,
    lostSession: stats.lostSession,
  })
  if (ui.explain.textContent !== text) ui.explain.textContent = text
  ui.explain.dataset.state = state
}

// ---- try it: refresh now, and the development outage switch ------------------------------------

setUpTryIt({
  client,
  devControls: config.devControls,
  buttons: { refreshNow: ui.refreshNow, storeToggle: ui.storeToggle, storeHint: ui.storeHint },
  log,
  describe,
  onRetryAfter: (seconds) => (retryAt = Date.now() + seconds * 1000),
  onSwitched: (down) => {
    stats.switchedOff = down
    void pollStore()
  },
  render,
})

// ---- start ------------------------------------------------------------------------------------

if (autoCallEvery !== 1000) ui.autoCallLabel.textContent = `Call /api/me/ every ${autoCallEvery / 1000} s`
ui.mode.textContent = config.tokenTransport === 'cookie' ? 'cookie (refresh token in an HttpOnly cookie)' : 'body (tokens in localStorage)'
render()
setInterval(renderExpiry, 200)
void pollStore()
setInterval(() => void pollStore(), 2000)

// A session left by an earlier page or another tab is used without logging in again (SPEC §6).
// In cookie mode only a refresh can tell, so it is tried only when this page set the hint.
if (config.tokenTransport === 'body' || localStorage.getItem(COOKIE_HINT_KEY) === '1') {
  client.getAccessToken().then(
    () => (stats.loggedIn ? undefined : enterSession()),
    (error: unknown) => {
      if (isRefreshUnavailableError(error)) void enterSession()
      else leaveSession('')
    },
  )
}
ui.autoCall.checked = false
document.documentElement.dataset.ready = 'true'
