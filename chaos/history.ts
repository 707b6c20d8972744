/**
 * The run's full history, kept compactly in memory: every HTTP exchange any simulated user,
 * attacker or probe had with baton (one record each, ids and outcomes only, never a token), every
 * client-visible event, and every fault. The oracle reads nothing else.
 */

import { NOT_ABOUT_TOKEN_PATH, notAboutTokenResponse, type NetFaults } from './client-faults.js'

export type CallKind = 'register' | 'login' | 'refresh' | 'logout' | 'logout-all' | 'revoke' | 'sessions' | 'me' | 'other'

/** One HTTP exchange. `status` null: no answer (network error or our hard bound). */
export interface Exchange {
  id: number
  /** Who sent it: `u12/t0` (user 12, tab 0), `attacker3`, `probe`, `revoked-probe`. */
  actor: string
  kind: CallKind
  /** 0 or 1: which baton instance it went to. */
  inst: number
  t0: number
  t1: number
  status: number | null
  code?: string
  /** Why there was no answer, when there was none. */
  error?: string
  /** Refresh/logout: the presented refresh token's jti, sid and generation. */
  jti?: string
  sid?: string
  gen?: number
  /** The answer was dropped on its way back: the client saw a network error (client-faults.ts). */
  lost?: boolean
  /** A 200 refresh or login: the refresh token's jti it answered. */
  successor?: string
  successorSid?: string
}

/** A client-visible event or action, in order. */
export interface Happening {
  t: number
  actor: string
  user: number
  what:
    | 'session-expired'
    | 'logged-in'
    | 'logout-called'
    | 'logout-all-called'
    | 'revoke-called'
    | 'copied'
    | 'replayed'
    | 'hung'
    | 'degraded'
    | 'recovered'
    | 'not-about-token'
  /** The session concerned (`sid`), when known. */
  sid?: string
  /** session-expired: the code; replayed: the final status/code; hung: which call; not-about-token: refreshes it cost. */
  detail?: string
  /** revoke-called: the sid revoked; copied: the victim actor. */
  target?: string
}

export interface FaultRecord {
  kind: string
  /** What it hit: a data node, a baton instance, a proxy. */
  target: string
  start: number
  end: number
  /** Sentinel named another primary after it. */
  failedOver: boolean
  /** It may have destroyed data (a restart without persistence, or a failover). */
  destroysData: boolean
  note?: string
  /**
   * Measured: the store (a Redis Cluster shard) came back without its data, failed over or not
   * (cluster-faults.ts checks a marker key). Unset: a Sentinel `redis-kill` without a failover wipes.
   */
  wiped?: boolean
  /** A fault of one client only (`u12/`): the report counts that client's requests around it. */
  actor?: string
}

export interface History {
  exchanges: Exchange[]
  happenings: Happening[]
  faults: FaultRecord[]
  /** Intervals in which each baton instance was down (signal sent → /healthz answers again). */
  downtime: { inst: number; start: number; end: number }[]
  samples: { t: number; rss: (number | null)[]; fds: (number | null)[]; redisUsedMemory: number | null }[]
}

export function createHistory(): History {
  return { exchanges: [], happenings: [], faults: [], downtime: [], samples: [] }
}

/** The claims the oracle needs from a JWT (no verification: baton verified it). */
export function claimsOf(token: unknown): { jti?: string; sid?: string; gen?: number } {
  if (typeof token !== 'string') return {}
  const part = token.split('.')[1]
  if (part === undefined) return {}
  try {
    const c = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>
    return {
      ...(typeof c.jti === 'string' ? { jti: c.jti } : {}),
      ...(typeof c.sid === 'string' ? { sid: c.sid } : {}),
      ...(typeof c.gen === 'number' ? { gen: c.gen } : {}),
    }
  } catch {
    return {}
  }
}

function kindOf(method: string, path: string): CallKind {
  if (path.startsWith('/api/auth/register')) return 'register'
  if (path.startsWith('/api/auth/token') || path.startsWith('/api/auth/login')) return 'login'
  if (path.startsWith('/api/auth/refresh')) return 'refresh'
  if (path.startsWith('/api/auth/logout-all')) return 'logout-all'
  if (path.startsWith('/api/auth/logout')) return 'logout'
  if (path.startsWith('/api/auth/sessions/') && method === 'DELETE' && path.length > 20) return 'revoke'
  if (path.startsWith('/api/auth/sessions')) return 'sessions'
  if (path.startsWith('/api/me')) return 'me'
  return 'other'
}

/** The hard bound on any one HTTP exchange (baton's own calls time out at 10 s). */
export const EXCHANGE_BOUND_MS = 12_000

let nextId = 0

/**
 * A `fetch` for one actor that sends each request to the instance `route()` picks (the URL's
 * origin is only a name: every request goes to 127.0.0.1), bounds it, and records it.
 */
export function recordingFetch(
  history: History,
  actor: string,
  urls: readonly string[],
  route: () => number,
  net?: NetFaults,
): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init)
    // No body stays no body: an empty string would go out as text/plain (a 415 from baton).
    const body = request.body === null ? undefined : await request.clone().text()
    return send(request, body, init?.signal ?? undefined, route(), true)
  }

  /**
   * One exchange with instance `inst`. A refused connection (the instance is down and nothing
   * was sent) goes once to the other instance, as a load balancer does (nginx's default
   * `proxy_next_upstream error` passes a request on when its connect fails; a request that
   * reached an instance is never sent twice). Both attempts are in the history.
   */
  async function send(
    request: Request,
    body: string | undefined,
    callerSignal: AbortSignal | undefined,
    inst: number,
    failover: boolean,
  ): Promise<Response> {
    const original = new URL(request.url)
    const target = new URL(original.pathname + original.search, urls[inst])
    const kind = kindOf(request.method, original.pathname)
    const record: Exchange = { id: nextId++, actor, kind, inst, t0: Date.now(), t1: 0, status: null }
    if (original.pathname === NOT_ABOUT_TOKEN_PATH) {
      history.exchanges.push({ ...record, t1: record.t0, status: 401, code: 'permission_denied' })
      return notAboutTokenResponse()
    }
    if ((kind === 'refresh' || kind === 'logout') && body !== undefined) {
      try {
        const presented = claimsOf((JSON.parse(body) as { refresh?: unknown }).refresh)
        if (presented.jti !== undefined) record.jti = presented.jti
        if (presented.sid !== undefined) record.sid = presented.sid
        if (presented.gen !== undefined) record.gen = presented.gen
      } catch {
        // not JSON: recorded without ids
      }
    }
    if (net?.offline() === true) {
      history.exchanges.push({ ...record, t1: record.t0, error: 'offline' })
      throw new TypeError('fetch failed (chaos: the network is down)')
    }
    const bound = AbortSignal.timeout(EXCHANGE_BOUND_MS)
    const signal = callerSignal ? AbortSignal.any([callerSignal, bound]) : bound
    try {
      const response = await fetch(target, {
        method: request.method,
        headers: request.headers,
        ...(body === undefined ? {} : { body }),
        signal,
        redirect: 'manual',
      })
      record.status = response.status
      const text = await response.text()
      record.t1 = Date.now()
      if (text !== '' && (response.headers.get('content-type') ?? '').includes('json')) {
        try {
          const data = JSON.parse(text) as { code?: unknown; refresh?: unknown }
          if (typeof data.code === 'string') record.code = data.code
          const next = claimsOf(data.refresh)
          if (next.jti !== undefined) record.successor = next.jti
          if (next.sid !== undefined) record.successorSid = next.sid
        } catch {
          // a body that is not JSON is the oracle's business only through the status
        }
      }
      if (kind === 'refresh' && response.status === 200 && net?.loseResponse() === true) {
        // The server rotated; the client never hears of it.
        history.exchanges.push({ ...record, lost: true })
        throw new TypeError('fetch failed (chaos: the answer was lost)')
      }
      history.exchanges.push(record)
      return new Response(text === '' ? null : text, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      })
    } catch (error) {
      if (error instanceof TypeError && error.message.startsWith('fetch failed (chaos:')) throw error
      record.t1 = Date.now()
      const refused = (error as { cause?: { code?: unknown } }).cause?.code === 'ECONNREFUSED'
      record.error = bound.aborted ? 'bound' : refused ? 'refused' : (error as Error).name
      history.exchanges.push(record)
      if (refused && failover && urls.length > 1 && !signal.aborted)
        return send(request, body, callerSignal, (inst + 1) % urls.length, false)
      throw error
    }
  }
}
