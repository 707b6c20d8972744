import { isIP } from 'node:net'
import { maskURL } from '../secrets.js'

/** baton's own endpoints, relative to the URL (SPEC §1), in `--paths` order. */
export const BATON_PATHS = 'token/,refresh/,verify/,logout/'
/** The protected resource tried for `WWW-Authenticate` when `--protected` is not given. */
export const DEFAULT_PROTECTED = '../me/'

/** The endpoints `baton check` may send requests to: nothing else is ever contacted. */
export interface CheckTarget {
  /** The URL as given, userinfo masked: the only form ever printed. */
  shown: string
  login: URL
  refresh: URL
  verify: URL
  blacklist: URL
  /** A resource that wants a bearer token, or null (`--protected none`). */
  protected: URL | null
  /** Whether `--protected` was given (a default that answers 404 is not the service's fault). */
  protectedGiven: boolean
}

export interface TargetInput {
  url: string
  paths?: string | undefined
  protected?: string | undefined
  insecure?: boolean | undefined
}

export type TargetResult = { kind: 'ok'; target: CheckTarget } | { kind: 'usage'; message: string }

/**
 * Resolves the four endpoints (and the protected one) against the URL and refuses what would
 * be unsafe to send a password to: a scheme other than http(s), plain http:// to a host that is
 * not loopback without `insecure` (SPEC §9), or a path that leaves the URL's origin (the check
 * sends its requests to the service named, nowhere else).
 */
export function resolveTarget(input: TargetInput): TargetResult {
  let base: URL
  try {
    base = new URL(input.url)
  } catch {
    return { kind: 'usage', message: 'URL is not a valid absolute URL (e.g. https://host/api/auth/)' }
  }
  const shown = maskURL(base.href)
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    return { kind: 'usage', message: `${shown}: only http:// and https:// URLs can be checked` }
  }
  if (base.protocol === 'http:' && !isLoopback(base.hostname) && input.insecure !== true) {
    return {
      kind: 'usage',
      message: `${shown}: refusing to send a password over plain http:// to a host that is not loopback; use https://, or pass --insecure if this network is trusted`,
    }
  }
  // Credentials in the URL are never sent (fetch refuses them anyway) and never printed.
  base.username = ''
  base.password = ''
  base.hash = ''
  if (!base.pathname.endsWith('/')) base.pathname += '/'

  const parts = (input.paths ?? BATON_PATHS).split(',').map((p) => p.trim())
  if (parts.length !== 4 || parts.some((p) => p === '')) {
    return { kind: 'usage', message: '--paths takes four comma-separated paths: LOGIN,REFRESH,VERIFY,BLACKLIST' }
  }
  const resolved: URL[] = []
  for (const part of parts) {
    const url = resolveSameOrigin(base, part)
    if (url === null) return { kind: 'usage', message: `--paths: ${JSON.stringify(part)} leaves ${base.origin}` }
    resolved.push(url)
  }
  let protectedURL: URL | null = null
  const protectedPath = input.protected ?? DEFAULT_PROTECTED
  if (protectedPath !== 'none') {
    protectedURL = resolveSameOrigin(base, protectedPath)
    if (protectedURL === null) return { kind: 'usage', message: `--protected: ${JSON.stringify(protectedPath)} leaves ${base.origin}` }
  }
  const [login, refresh, verify, blacklist] = resolved as [URL, URL, URL, URL]
  return {
    kind: 'ok',
    target: { shown, login, refresh, verify, blacklist, protected: protectedURL, protectedGiven: input.protected !== undefined },
  }
}

function resolveSameOrigin(base: URL, path: string): URL | null {
  try {
    const url = new URL(path, base)
    return url.origin === base.origin && url.username === '' && url.password === '' ? url : null
  } catch {
    return null
  }
}

/** `localhost`, 127.0.0.0/8 and ::1: where plain http:// never leaves the machine. */
export function isLoopback(hostname: string): boolean {
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname
  if (host.toLowerCase() === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1'
  return false
}
