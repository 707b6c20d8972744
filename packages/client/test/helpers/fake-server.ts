/**
 * A small stand-in for the baton server, written against Web `Request`/`Response` so the same
 * logic serves a fake `fetch` (fake-browser.ts) and a real socket (http-server.ts). It keeps
 * SPEC §1's wire format and §3's rotation (current → rotate, previous within grace → same
 * successor, older → reuse), counts calls, and injects failures on refresh.
 */
import { CSRF_HEADER } from '../../src/wire.js'
import { claimsOf, makeToken } from './jwt.js'

/** How refresh misbehaves while set: an HTTP error, a dropped connection, or no answer at all. */
export type RefreshFailure = { status: number; code?: string; retryAfter?: number } | 'network' | 'hang'

/** Thrown by `handle` when the connection should fail without an HTTP answer. */
export class ConnectionDropped extends Error {
  constructor() {
    super('connection dropped')
    this.name = 'ConnectionDropped'
  }
}

export interface FakeServerOptions {
  /** The server's clock, in ms (may differ from the client's to test skew). */
  now: () => number
  /** @default 'body' */
  mode?: 'body' | 'cookie'
  /** @default true */
  rotate?: boolean
  /** Access token lifetime in seconds. @default 300 */
  accessLifetime?: number
  /** @default 15 */
  graceSeconds?: number
  /** @default { ada: 'lovelace' } */
  users?: Record<string, string>
  /**
   * Mint tokens as simplejwt 5 does (SPEC §9): a refreshed access token carries the `iat` of
   * the refresh token it was refreshed with, not its own issue time.
   * @default false
   */
  simplejwtIat?: boolean
  /** `Access-Control-Expose-Headers` on every answer (with a CORS-filtering browser). */
  exposeHeaders?: string
  /** The auth routes. @default baton's: /api/auth/token/, /api/auth/refresh/, /api/auth/logout/ */
  paths?: { login: string; refresh: string; logout: string }
}

export interface LoggedRequest {
  method: string
  path: string
  authorization: string | null
  csrf: string | null
  cookie: string | null
  credentials: RequestCredentials
  body: unknown
}

export interface FakeServer {
  readonly options: Required<FakeServerOptions>
  handle(request: Request): Promise<Response>
  /** Requests by kind; `unauthorized` counts 401s answered on protected routes. */
  readonly calls: {
    login: number
    refresh: number
    logout: number
    api: number
    unauthorized: number
  }
  readonly log: LoggedRequest[]
  /** While set, refresh requests fail this way (after being counted). */
  refreshFailure: RefreshFailure | null
  /**
   * The `Date` header of every answer, from the server's clock (`null`: none). Defaults to
   * the IMF-fixdate every HTTP server sends; a test may replace it (garbage, none).
   */
  dateHeader: (serverNow: number) => string | null
  /** Holds refresh requests (after counting them) until the returned function is called. */
  holdRefresh(): () => void
  /** Creates a session directly, as a login would, and returns its pair. */
  issue(username?: string): { access: string; refresh: string }
  /** Every access token issued so far is answered 401 from now on (as after a key rotation). */
  invalidateAccessTokens(): void
  /** Revokes the session of a token (refresh then answers 401 token_revoked). */
  revokeSessionOf(token: string): void
  /** Resolves once `predicate()` holds, checked after every request event. */
  until(predicate: () => boolean): Promise<void>
}

interface Pair {
  access: string
  refresh: string
}

interface Session {
  sid: string
  /** `iat` of the current refresh token (what simplejwt copies into refreshed access tokens). */
  refreshIat: number
  username: string
  currentJti: string
  previous: { jti: string; graceUntil: number; successor: Pair } | null
  current: Pair
  revoked: boolean
}

const BATON_PATHS = {
  login: '/api/auth/token/',
  refresh: '/api/auth/refresh/',
  logout: '/api/auth/logout/',
}

export function createFakeServer(input: FakeServerOptions): FakeServer {
  const options: Required<FakeServerOptions> = {
    mode: 'body',
    rotate: true,
    accessLifetime: 300,
    graceSeconds: 15,
    users: { ada: 'lovelace' },
    simplejwtIat: false,
    exposeHeaders: '',
    paths: BATON_PATHS,
    ...input,
  }
  const sessions = new Map<string, Session>()
  const invalidAccess = new Set<string>()
  const issuedAccess = new Set<string>()
  const calls = { login: 0, refresh: 0, logout: 0, api: 0, unauthorized: 0 }
  const log: LoggedRequest[] = []
  const waiters: { predicate: () => boolean; resolve: () => void }[] = []
  let gate: Promise<void> | null = null
  let counter = 0

  function changed(): void {
    for (const waiter of [...waiters]) {
      if (waiter.predicate()) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
    }
  }

  const seconds = (): number => Math.floor(options.now() / 1000)
  const nextId = (prefix: string): string => `${prefix}${++counter}`

  function pairFor(session: Session): Pair {
    const iat = seconds()
    const jti = nextId('r')
    const accessJti = nextId('a')
    issuedAccess.add(accessJti)
    session.currentJti = jti
    const access = makeToken({
      token_type: 'access',
      sub: session.username,
      user_id: session.username,
      sid: session.sid,
      jti: accessJti,
      iat: options.simplejwtIat ? session.refreshIat : iat,
      exp: iat + options.accessLifetime,
    })
    session.refreshIat = iat
    const refresh = makeToken(
      {
        token_type: 'refresh',
        sub: session.username,
        sid: session.sid,
        jti,
        iat,
        exp: iat + 86_400,
      },
      'refresh+jwt',
    )
    session.current = { access, refresh }
    return session.current
  }

  function newSession(username: string): Pair {
    const session: Session = {
      sid: nextId('s'),
      refreshIat: seconds(),
      username,
      currentJti: '',
      previous: null,
      current: { access: '', refresh: '' },
      revoked: false,
    }
    sessions.set(session.sid, session)
    return pairFor(session)
  }

  function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
    const date = server.dateHeader(options.now())
    return new Response(JSON.stringify(body), {
      status,
      headers: {
        'content-type': 'application/json',
        'cache-control': 'no-store',
        ...(date === null ? {} : { date }),
        ...(options.exposeHeaders === '' ? {} : { 'access-control-expose-headers': options.exposeHeaders }),
        ...headers,
      },
    })
  }

  function error(status: number, code: string, headers: Record<string, string> = {}): Response {
    return json(status, { detail: `fake: ${code}`, code }, headers)
  }

  function cookieValue(request: Request): string | undefined {
    const header = request.headers.get('cookie') ?? ''
    for (const part of header.split(';')) {
      const [name, ...rest] = part.trim().split('=')
      if (name === 'baton_refresh') return rest.join('=')
    }
    return undefined
  }

  function tokenAnswer(pair: Pair, withRefresh: boolean): Response {
    if (options.mode === 'cookie') {
      return json(
        200,
        { access: pair.access },
        {
          'set-cookie': `baton_refresh=${pair.refresh}; HttpOnly; Secure; SameSite=Strict; Path=/api/auth/`,
        },
      )
    }
    return json(200, withRefresh ? pair : { access: pair.access })
  }

  function presentedRefresh(request: Request, body: unknown): string | undefined {
    if (options.mode === 'cookie') return cookieValue(request)
    const value = (body as { refresh?: unknown } | undefined)?.refresh
    return typeof value === 'string' ? value : undefined
  }

  async function readBody(request: Request): Promise<unknown> {
    const text = await request.text()
    if (text === '') return undefined
    try {
      return JSON.parse(text) as unknown
    } catch {
      return text
    }
  }

  async function refresh(request: Request, body: unknown): Promise<Response> {
    calls.refresh += 1
    changed()
    if (gate !== null) await gate
    const failure = server.refreshFailure
    if (failure === 'network') throw new ConnectionDropped()
    if (failure === 'hang') {
      return new Promise<Response>((_, reject) => {
        request.signal.addEventListener('abort', () => reject(request.signal.reason))
      })
    }
    if (failure !== null) {
      const headers: Record<string, string> = failure.retryAfter === undefined ? {} : { 'retry-after': String(failure.retryAfter) }
      return error(failure.status, failure.code ?? 'store_unavailable', headers)
    }
    if (options.mode === 'cookie' && request.headers.get(CSRF_HEADER) !== '1') {
      return error(403, 'csrf_failed')
    }
    const token = presentedRefresh(request, body)
    if (token === undefined)
      return error(options.mode === 'cookie' ? 401 : 400, options.mode === 'cookie' ? 'token_not_valid' : 'bad_request')
    let claims: Record<string, unknown>
    try {
      claims = claimsOf(token)
    } catch {
      return error(401, 'token_not_valid')
    }
    const session = sessions.get(String(claims['sid']))
    if (session === undefined || Number(claims['exp']) <= seconds()) return error(401, 'token_not_valid')
    if (session.revoked) return error(401, 'token_revoked')
    if (claims['jti'] === session.currentJti) {
      if (!options.rotate) {
        // SPEC §3.3: rotation off answers {access} only; the refresh token stays current.
        const refreshIat = session.refreshIat
        const access = pairFor(session).access
        session.currentJti = String(claims['jti'])
        session.refreshIat = refreshIat
        session.current = { access, refresh: token }
        return tokenAnswer(session.current, false)
      }
      const successor = pairFor(session)
      session.previous = {
        jti: String(claims['jti']),
        graceUntil: options.now() + options.graceSeconds * 1000,
        successor,
      }
      return tokenAnswer(successor, true)
    }
    // SPEC §3.2: the previous token within grace answers the same successor.
    const previous = session.previous
    if (previous !== null && previous.jti === claims['jti'] && options.now() <= previous.graceUntil) {
      return tokenAnswer(previous.successor, true)
    }
    session.revoked = true
    return error(401, 'token_reused')
  }

  async function route(request: Request): Promise<Response> {
    const url = new URL(request.url)
    const body = request.method === 'GET' ? undefined : await readBody(request)
    log.push({
      method: request.method,
      path: url.pathname,
      authorization: request.headers.get('authorization'),
      csrf: request.headers.get(CSRF_HEADER),
      cookie: request.headers.get('cookie'),
      credentials: request.credentials,
      body,
    })
    if (request.method === 'POST' && url.pathname === options.paths.login) {
      calls.login += 1
      const { username, password } = (body ?? {}) as { username?: unknown; password?: unknown }
      if (typeof username !== 'string' || options.users[username] !== password) {
        return error(401, 'invalid_credentials')
      }
      return tokenAnswer(newSession(username), true)
    }
    if (request.method === 'POST' && url.pathname === options.paths.refresh) return refresh(request, body)
    if (request.method === 'POST' && url.pathname === options.paths.logout) {
      calls.logout += 1
      if (options.mode === 'cookie' && request.headers.get(CSRF_HEADER) !== '1') return error(403, 'csrf_failed')
      const token = presentedRefresh(request, body)
      if (token !== undefined) {
        const session = sessions.get(String(claimsOf(token)['sid']))
        if (session !== undefined) session.revoked = true
      }
      return json(200, {}, options.mode === 'cookie' ? { 'set-cookie': 'baton_refresh=; Max-Age=0; Path=/api/auth/' } : {})
    }
    if (url.pathname.startsWith('/api/') && !url.pathname.startsWith('/api/auth/')) {
      calls.api += 1
      const match = /^Bearer (.+)$/.exec(request.headers.get('authorization') ?? '')
      const claims = match?.[1] === undefined ? null : safeClaims(match[1])
      const valid =
        claims !== null &&
        claims['token_type'] === 'access' &&
        Number(claims['exp']) > seconds() &&
        !invalidAccess.has(String(claims['jti'])) &&
        sessions.has(String(claims['sid']))
      if (!valid) {
        calls.unauthorized += 1
        return error(401, 'token_not_valid', { 'www-authenticate': 'Bearer error="invalid_token"' })
      }
      if (url.pathname === '/api/me/') return json(200, { id: claims['sub'], username: claims['sub'] })
      if (url.pathname === '/api/echo/') return json(200, { method: request.method, body })
    }
    return error(404, 'not_found')
  }

  const server: FakeServer = {
    options,
    calls,
    log,
    refreshFailure: null,
    dateHeader: (serverNow) => new Date(serverNow).toUTCString(),
    async handle(request) {
      try {
        return await route(request)
      } finally {
        changed()
      }
    },
    holdRefresh() {
      let release = (): void => {}
      gate = new Promise<void>((resolve) => {
        release = () => {
          gate = null
          resolve()
        }
      })
      return release
    },
    issue: (username = 'ada') => newSession(username),
    invalidateAccessTokens() {
      for (const jti of issuedAccess) invalidAccess.add(jti)
    },
    revokeSessionOf(token) {
      const session = sessions.get(String(claimsOf(token)['sid']))
      if (session !== undefined) session.revoked = true
    },
    until(predicate) {
      if (predicate()) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ predicate, resolve }))
    },
  }
  return server
}

function safeClaims(token: string): Record<string, unknown> | null {
  try {
    return claimsOf(token)
  } catch {
    return null
  }
}
