/**
 * `attachAxios`: the client's session for an axios instance. Only axios's types are imported
 * (`import type`), so this file compiles to JavaScript with no bare import and axios stays an
 * optional peer dependency.
 */
import type { AxiosError, AxiosInstance, InternalAxiosRequestConfig } from 'axios'
import type { AuthClient } from './client.js'

/**
 * Marks that baton adds to a request config. String keys, because axios's `mergeConfig`
 * copies a config's own string keys onto the retried request.
 */
interface BatonMarks {
  /** The access token baton attached; a 401 to a request without one is not baton's to handle. */
  _batonToken?: string
  /** Set on the retry, so a request is retried at most once (SPEC §6: never loops). */
  _batonRetried?: boolean
}

type MarkedConfig = InternalAxiosRequestConfig & BatonMarks

function requestURL(instance: AxiosInstance, config: InternalAxiosRequestConfig, client: AuthClient): string {
  // getUri joins baseURL, url and params as axios will; a relative result is resolved against
  // the client's baseURL, as client.fetch does.
  return new URL(instance.getUri(config), client.options.baseURL).href
}

/**
 * Adds two interceptors to `instance`: one attaches `Authorization: Bearer <access>` (from
 * `client.authorize`, so only for the client's origin and never for the auth endpoints), the
 * other answers a 401 with the client's single-flight refresh (shared with `client.fetch` and
 * every other attached instance) and retries the request once. A request that carries an
 * Authorization header of its own is left alone. Returns a function that removes both
 * interceptors.
 *
 * @example
 * ```ts
 * import axios from 'axios'
 * import { createAuthClient } from '@baton/client'
 * import { attachAxios } from '@baton/client/axios'
 *
 * const auth = createAuthClient({ baseURL: 'https://api.example.com/' })
 * const api = axios.create({ baseURL: 'https://api.example.com/api/' })
 * const detach = attachAxios(api, auth)
 *
 * const { data } = await api.get('me/') // bearer attached; a 401 refreshes once and retries once
 * detach()
 * ```
 */
export function attachAxios(instance: AxiosInstance, client: AuthClient): () => void {
  const requestInterceptor = instance.interceptors.request.use(async (config) => {
    const marked = config as MarkedConfig
    const current = config.headers.get('Authorization')
    const ours = marked._batonToken !== undefined && current === `Bearer ${marked._batonToken}`
    if (current != null && current !== '' && !ours) return config
    const token = await client.authorize(requestURL(instance, config, client))
    if (token === null) {
      if (ours) config.headers.delete('Authorization')
      delete marked._batonToken
      return config
    }
    config.headers.set('Authorization', `Bearer ${token}`)
    marked._batonToken = token
    return config
  })

  const responseInterceptor = instance.interceptors.response.use(undefined, async (error: unknown) => {
    const { config, response } = (error ?? {}) as Partial<AxiosError>
    const marked = config as MarkedConfig | undefined
    if (response?.status !== 401 || marked === undefined) throw error
    // Only requests baton authorised (so never its own refresh call), and each only once.
    if (marked._batonToken === undefined || marked._batonRetried === true) throw error
    const fresh = await client.refreshAfterUnauthorized(marked._batonToken)
    marked._batonRetried = true
    marked._batonToken = fresh
    marked.headers.set('Authorization', `Bearer ${fresh}`)
    return instance.request(marked)
  })

  return function detachAxios() {
    instance.interceptors.request.eject(requestInterceptor)
    instance.interceptors.response.eject(responseInterceptor)
  }
}
