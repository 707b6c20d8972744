import { isIP } from 'node:net'

/**
 * Which peers may name the client address through `X-Forwarded-For` (`BATON_TRUST_PROXY`).
 *
 * Real proxies (nginx's `$proxy_add_x_forwarded_for`, Render, Heroku, most load balancers)
 * APPEND the address they saw to whatever the client sent, so only the right-hand entries are
 * theirs; the left-most is the client's own choice. The client address is therefore the
 * right-most entry not added by a trusted proxy (issue 11: with "trust everything" a client
 * picked a fresh address per request and walked past the per-address limits).
 */
export type TrustProxy =
  /** No proxy: the socket's address. */
  | { kind: 'none' }
  /** This many proxies in front (1 = one nginx): the Nth entry from the right is the client. */
  | { kind: 'hops'; hops: number }
  /** Only these peers (IPs, CIDRs, or proxy-addr's `loopback`, `linklocal`, `uniquelocal`). */
  | { kind: 'addresses'; addresses: readonly string[] }
  /** Every hop (`true`): the left-most entry, which the client chooses. Development only. */
  | { kind: 'all' }

export type TrustProxyParse = { ok: true; value: TrustProxy } | { ok: false; problem: string; fix: string }

const FIX =
  'Set the number of proxies in front of baton (1 for one nginx), or their addresses, such as 10.0.0.0/8,127.0.0.1; false for none.'
const NAMED = new Set(['loopback', 'linklocal', 'uniquelocal'])
const MAX_HOPS = 16

function isAddressOrRange(entry: string): boolean {
  if (NAMED.has(entry)) return true
  const slash = entry.indexOf('/')
  const ip = slash === -1 ? entry : entry.slice(0, slash)
  const family = isIP(ip)
  if (family === 0) return false
  if (slash === -1) return true
  const bits = entry.slice(slash + 1)
  if (!/^\d{1,3}$/.test(bits)) return false
  return Number(bits) <= (family === 4 ? 32 : 128)
}

/** Parses `BATON_TRUST_PROXY`: `false`/`0`, a hop count, a list of addresses/CIDRs, or `true`. */
export function parseTrustProxy(raw: string): TrustProxyParse {
  const v = raw.trim().toLowerCase()
  if (['', '0', 'false', 'no', 'off'].includes(v)) return { ok: true, value: { kind: 'none' } }
  if (['true', 'yes', 'on'].includes(v)) return { ok: true, value: { kind: 'all' } }
  if (/^\d+$/.test(v)) {
    const hops = Number(v)
    if (hops > MAX_HOPS) return { ok: false, problem: `${hops} proxies is more than any real chain (${MAX_HOPS} at most).`, fix: FIX }
    return { ok: true, value: { kind: 'hops', hops } }
  }
  const entries = v
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
  const bad = entries.find((e) => !isAddressOrRange(e))
  if (bad !== undefined || entries.length === 0)
    return { ok: false, problem: `"${bad ?? raw}" is not an IP address or CIDR range.`, fix: FIX }
  return { ok: true, value: { kind: 'addresses', addresses: entries } }
}

/** The value Fastify's `trustProxy` option takes for it. */
export function fastifyTrustProxy(trust: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  switch (trust.kind) {
    case 'none':
      return false
    case 'all':
      return true
    case 'addresses':
      return [...trust.addresses]
    case 'hops': {
      // Fastify 5.12 treats a bare number as "trust nothing" (it cannot check the peer), so the
      // count is a function: hop 0 is the socket's peer, 1 the entry it appended, and so on.
      const { hops } = trust
      return (_address, hop) => hop < hops
    }
  }
}
