import { isIPv4, isIPv6 } from 'node:net'

/**
 * Keys for the failure counters of `sessions.ts` (SPEC §5 `LOGIN_RATE_LIMIT`). Each key names
 * what one attacker cannot cheaply multiply: a username in all its spellings, and a client
 * network rather than one of the 2^64 addresses an IPv6 host is given.
 */

/**
 * The counter key of a username: NFKC (as the credential check normalizes it) and lower case,
 * so `ALICE`, `ａｌｉｃｅ` and `alice` share one counter instead of ten failures each.
 */
export function usernameLimitKey(username: string): string {
  return username.normalize('NFKC').toLowerCase().normalize('NFKC')
}

/**
 * The counter key of a client address: an IPv4 address as it is (an IPv4-mapped IPv6 address
 * as its IPv4 form), an IPv6 address as its /64 network (one host usually holds a whole /64, so
 * a per-address limit would otherwise be no limit). Anything else is kept as it is.
 */
export function addressLimitKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (mapped !== null && isIPv4(mapped[1]!)) return mapped[1]!
  if (isIPv4(ip) || !isIPv6(ip)) return ip
  const hextets = expandIPv6(ip.split('%')[0]!)
  if (hextets === null) return ip
  return `${hextets
    .slice(0, 4)
    .map((h) => h.toString(16))
    .join(':')}::/64`
}

/** The eight 16-bit groups of an IPv6 address (`::` expanded, an embedded IPv4 tail converted). */
function expandIPv6(ip: string): number[] | null {
  let text = ip
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4 !== null) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number]
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.split('::') as [string, string | undefined]
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const missing = 8 - left.length - right.length
  if (tail === undefined ? missing !== 0 : missing < 0) return null
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right].map((g) => Number.parseInt(g, 16))
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null
}
