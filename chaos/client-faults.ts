/**
 * Faults on the client's side of the wire, from what users of other refresh libraries hit, for
 * the simulated users in Node (the real-browser ones, a frozen tab among them, are browser.ts's):
 * - a refresh answer lost after the server rotated (the request arrived, the client sees a
 *   network error): its retry must land inside the grace window and get the same successor;
 * - a network that drops for up to a minute (every request fails at once, nothing is sent): the
 *   client backs off, keeps its tokens, and nobody is logged out;
 * - a protected API (not baton: the application's own, e.g. its Django views) that answers 401
 *   for a reason that is not the token: at most one refresh per call, never a loop (SuperTokens
 *   users report endless refresh loops there).
 */
import type { FaultRecord, History } from './history.js'
import type { Random } from './random.js'

/** The application's path that answers 401 whatever the token (served by recordingFetch, never by baton). */
export const NOT_ABOUT_TOKEN_PATH = '/api/chaos-401/'
/** Share of 200 refresh answers lost on their way back to the client. */
const LOSE_SHARE = 0.02
/** Share of a user's API calls that go to NOT_ABOUT_TOKEN_PATH. */
export const NOT_ABOUT_TOKEN_SHARE = 0.04
/** Share of users whose network drops once. */
const DROP_SHARE = 0.1

/** What recordingFetch asks before and after each exchange of one user (all its tabs: one network). */
export interface NetFaults {
  /** The network is down now: fail at once, send nothing. */
  offline(): boolean
  /** This 200 refresh answer is lost after the server sent it. */
  loseResponse(): boolean
}

/** One user's network: a drop (drawn from the seed) and lost refresh answers. */
export function planNet(random: Random, runMs: number, start: number): { drop: { from: number; to: number } | null; net: NetFaults } {
  const ms = Math.min(60_000, runMs / 4)
  const at = start + random.range(0.1, 0.8) * runMs
  const drop = random.chance(DROP_SHARE) ? { from: at, to: at + ms } : null
  const lose = random.fork()
  return {
    drop,
    net: {
      offline: () => drop !== null && Date.now() >= drop.from && Date.now() < drop.to,
      loseResponse: () => lose.chance(LOSE_SHARE),
    },
  }
}

/** Records a user's network drop as a fault of that user only (the report counts its requests). */
export function recordDrop(history: History, user: number, drop: { from: number; to: number }): void {
  const record: FaultRecord = {
    kind: 'client-offline',
    target: `u${user}`,
    actor: `u${user}/`,
    start: drop.from,
    end: drop.to,
    failedOver: false,
    destroysData: false,
  }
  history.faults.push(record)
}

/** The 401 the application's own API answers (not about the token; baton never sees it). */
export function notAboutTokenResponse(): Response {
  return new Response(JSON.stringify({ detail: 'You do not have permission here.', code: 'permission_denied' }), {
    status: 401,
    headers: { 'content-type': 'application/json' },
  })
}
