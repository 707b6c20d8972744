/**
 * The virtual users of the benches (bench/run.ts, --peers, --scale), one per keep-alive connection
 * (runLoad's lanes), for each system's own routes. Answers are read with indexOf, not JSON.parse, as in bench/run.ts: the
 * generator shares the two cores with the servers, so its cost per request stays small and the
 * same for every side.
 */
import type { RawResponse } from './http-client.js'
import { buildRequest } from './http-client.js'
import type { Lane } from './load.js'

export const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'

/** A token pair that a rotation chain replaces at every answer (baton, simplejwt). */
export interface TokenPair {
  access: string
  refresh: string
}

export type BrokenLane = Lane & { broken: string | null }

/**
 * A rotation chain: POST `path` with `{"refresh": <the last refresh token>}`, keep the pair the
 * answer carries. baton's /api/auth/refresh/ and simplejwt's /api/token/refresh/ (rotation and
 * blacklist on) have the same shape. A 503/429 is retried with the same token; any other non-200
 * ends the chain (it is reported).
 */
export function rotationLane(path: string, pair: TokenPair, ua: string = UA): BrokenLane {
  const head = `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nuser-agent: ${ua}\r\ncontent-type: application/json\r\ncontent-length: `
  const lane: BrokenLane = {
    broken: null,
    request() {
      if (lane.broken !== null) return null
      const body = `{"refresh":"${pair.refresh}"}`
      return `${head}${body.length}\r\n\r\n${body}`
    },
    response(res: RawResponse) {
      if (res.status !== 200) {
        if (res.status < 500 && res.status !== 429) lane.broken = `${res.status} ${res.body.toString().slice(0, 200)}`
        return
      }
      const text = res.body.toString('latin1')
      const access = field(text, 'access')
      const refresh = field(text, 'refresh')
      if (access === null || refresh === null) {
        lane.broken = `200 without a token pair: ${text.slice(0, 200)}`
        return
      }
      pair.access = access
      pair.refresh = refresh
    },
  }
  return lane
}

/** The same request again and again; an answer other than 2xx (or without `expect`) ends the lane. */
export function repeatLane(request: Buffer, expect: string | null = null): BrokenLane {
  const lane: BrokenLane = {
    broken: null,
    request: () => (lane.broken === null ? request : null),
    response(res: RawResponse) {
      if (res.status >= 200 && res.status < 300 && (expect === null || res.body.includes(expect))) return
      if (res.status >= 500 || res.status === 429) return
      lane.broken = `${res.status} ${res.body.toString().slice(0, 200)}`
    },
  }
  return lane
}

/** A protected request with a bearer access token that follows the pair's rotation. */
export function bearerLane(path: string, pair: TokenPair): BrokenLane {
  let token = ''
  let request: Buffer = Buffer.alloc(0)
  const lane: BrokenLane = {
    broken: null,
    request() {
      if (lane.broken !== null) return null
      if (token !== pair.access) {
        token = pair.access
        request = buildRequest('GET', path, { headers: { authorization: `Bearer ${token}`, 'user-agent': UA } })
      }
      return request
    },
    response(res: RawResponse) {
      if (res.status >= 200 && res.status < 300) return
      if (res.status >= 500 || res.status === 429) return
      lane.broken = `${res.status} ${res.body.toString().slice(0, 200)}`
    },
  }
  return lane
}

export function jsonPost(path: string, body: unknown): Buffer {
  return buildRequest('POST', path, { body, headers: { 'user-agent': UA } })
}

export function cookieGet(path: string, cookie: string): Buffer {
  return buildRequest('GET', path, { headers: { cookie, 'user-agent': UA } })
}

/** The string value of `"name":"..."` in flat JSON whose values need no unescaping. */
export function field(json: string, name: string): string | null {
  const key = `"${name}":"`
  const at = json.indexOf(key)
  if (at < 0) return null
  const end = json.indexOf('"', at + key.length)
  return end < 0 ? null : json.slice(at + key.length, end)
}
