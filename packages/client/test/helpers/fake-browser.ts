/**
 * A fake `fetch` that plays a browser in front of the fake server: requests for the server's
 * origin reach `server.handle`, with the cookie jar sent only for `credentials: 'include'`;
 * requests for other origins are recorded and answered 200. It honours abort signals, and
 * `offline` makes every request fail as a network error.
 */
import { ConnectionDropped, type FakeServer } from './fake-server.js'

export const ORIGIN = 'https://api.test'
export const BASE_URL = `${ORIGIN}/`

export interface FakeBrowser {
  fetch: typeof fetch
  /** The cookie jar (name → value), shared by every tab using this browser. */
  readonly cookies: Map<string, string>
  /** Requests sent to other origins, with the Authorization header they carried. */
  readonly foreign: { url: string; authorization: string | null }[]
  /** While true, every request fails with a network error. */
  offline: boolean
  /**
   * While true, the page is on another origin than the API: as a browser does for a CORS
   * response, the client sees only the CORS-safelisted response headers and those the server
   * names in `Access-Control-Expose-Headers` (so no `Date` unless exposed).
   */
  crossOrigin: boolean
}

/** Fetch standard: the response headers a cross-origin page may always read. */
const CORS_SAFELISTED = ['cache-control', 'content-language', 'content-length', 'content-type', 'expires', 'last-modified', 'pragma']

function corsFiltered(response: Response): Response {
  const exposed = (response.headers.get('access-control-expose-headers') ?? '').split(',').map((name) => name.trim().toLowerCase())
  const headers = new Headers()
  response.headers.forEach((value, name) => {
    if (CORS_SAFELISTED.includes(name) || exposed.includes(name)) headers.set(name, value)
  })
  return new Response(response.body, { status: response.status, headers })
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

export function createFakeBrowser(server: FakeServer, origin = ORIGIN): FakeBrowser {
  const cookies = new Map<string, string>()
  const foreign: FakeBrowser['foreign'] = []
  const browser: FakeBrowser = {
    cookies,
    foreign,
    offline: false,
    crossOrigin: false,
    async fetch(input, init) {
      let request = new Request(input, init)
      if (new URL(request.url).origin !== origin) {
        foreign.push({ url: request.url, authorization: request.headers.get('authorization') })
        return new Response('{}', { status: 200 })
      }
      if (browser.offline) throw new TypeError('fetch failed')
      if (request.credentials === 'include' && cookies.size > 0) {
        const headers = new Headers(request.headers)
        headers.set('cookie', [...cookies].map(([name, value]) => `${name}=${value}`).join('; '))
        request = new Request(request, { headers })
      }
      let response: Response
      try {
        response = await abortable(server.handle(request), request.signal)
      } catch (error) {
        if (error instanceof ConnectionDropped) throw new TypeError('fetch failed', { cause: error })
        throw error
      }
      for (const line of response.headers.getSetCookie()) {
        const [pair = '', ...attributes] = line.split(';')
        const [name = '', ...value] = pair.trim().split('=')
        if (attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute))) cookies.delete(name)
        else cookies.set(name, value.join('='))
      }
      return browser.crossOrigin ? corsFiltered(response) : response
    },
  }
  return browser
}
