/**
 * Browser user agents are mostly boilerplate kept for compatibility ("Mozilla/5.0",
 * "AppleWebKit/537.36 (KHTML, like Gecko)", "Safari/537.36" on Chrome). The session list needs
 * only what tells one device from another, and every stored byte is paid per session (issue 5:
 * under 400 bytes per session in Redis), so these tokens are dropped before storing:
 * `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0
 * Safari/537.36` is kept as `(X11; Linux x86_64) Chrome/120.0.0.0`.
 */
const BOILERPLATE = [
  /^Mozilla\/5\.0\s+/,
  /\s*AppleWebKit\/[\d.]+(?:\+)?/g,
  /\s*\(KHTML, like Gecko\)/g,
  /\s*Gecko\/\d+/g,
  /\s*Mobile\/\w+/g,
]

/** Longest user agent stored, in characters, after compaction. */
export const MAX_USER_AGENT_LENGTH = 128

/** The user agent as stored with a session: boilerplate removed, at most 128 characters. */
export function compactUserAgent(ua: string): string {
  let out = ua
  for (const pattern of BOILERPLATE) out = out.replace(pattern, '')
  // Chrome-family agents end with a Safari/537.36 token that only repeats the engine version.
  if (/\b(?:Chrome|CriOS|Edg|OPR|HeadlessChrome)\/[\d.]+/.test(out)) out = out.replace(/\s*Safari\/[\d.]+/g, '')
  out = out.replace(/\s+/g, ' ').trim()
  return (out === '' ? ua.trim() : out).slice(0, MAX_USER_AGENT_LENGTH)
}
