import { performance } from 'node:perf_hooks'
import { RespErrorReply, type RespValue } from './resp.js'

/** Wording and numbers the doctor's checks share. */

/** What every check means for baton when it cannot pass: the store answers 503 until fixed. */
export const DOWN = 'baton cannot use this Redis: logins, refreshes and logouts answer 503 store_unavailable until it is fixed.'

/** A reply as a message shows it: an error reply in quotes with its `-`, long strings cut. */
export function describeReply(reply: RespValue): string {
  if (reply instanceof RespErrorReply) return `"-${reply.message.slice(0, 200)}"`
  if (reply === null) return 'nil'
  if (Array.isArray(reply)) return `an array of ${reply.length}`
  return `"${String(reply).slice(0, 80)}"`
}

/** An error's `code` (`ECONNREFUSED`, `TIMEOUT`, …), else its name. */
export function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code
  return err instanceof Error ? err.name : 'UNKNOWN'
}

/** Milliseconds since `start` (a `performance.now()`), to a tenth. */
export function elapsed(start: number): number {
  return round(performance.now() - start)
}

export function round(ms: number): number {
  return Math.round(ms * 10) / 10
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${round(n / 1024 ** 3)} GiB`
  if (n >= 1024 ** 2) return `${round(n / 1024 ** 2)} MiB`
  if (n >= 1024) return `${round(n / 1024)} KiB`
  return `${n} B`
}
