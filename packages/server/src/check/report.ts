import type { CheckReport, CheckStatus } from './types.js'

/** Exit code of `baton check` when no finding failed (warnings included). */
export const EXIT_PASSED = 0
/** Exit code of `baton check` when at least one finding failed. */
export const EXIT_FAILED = 1

const SYMBOL: Record<CheckStatus, string> = { ok: '✔', warn: '!', fail: '✘' }
const COLOR: Record<CheckStatus, string> = { ok: '\u001b[32m', warn: '\u001b[33m', fail: '\u001b[31m' }
const RESET = '\u001b[0m'

/** SPEC §9: 0 when nothing fails, 1 otherwise. */
export function exitCodeOf(report: CheckReport): number {
  return report.findings.some((f) => f.status === 'fail') ? EXIT_FAILED : EXIT_PASSED
}

/**
 * Human output, as `baton doctor` prints: one aligned line per finding, then, for warnings and
 * failures, what it means and the fix, indented. Colours only when `color` (a terminal).
 */
export function formatHuman(report: CheckReport, options: { color?: boolean } = {}): string {
  const width = Math.max(...report.findings.map((f) => f.id.length))
  const pad = ' '.repeat(width + 4)
  const lines = [`baton check: ${report.target}`, '']
  for (const f of report.findings) {
    const symbol = options.color === true ? `${COLOR[f.status]}${SYMBOL[f.status]}${RESET}` : SYMBOL[f.status]
    lines.push(`${symbol} ${f.id.padEnd(width)}  ${f.title}`)
    if (f.status !== 'ok') {
      lines.push(`${pad}means: ${f.meaning}`)
      if (f.fix !== '') lines.push(`${pad}fix:   ${f.fix}`)
    }
  }
  const count = (s: CheckStatus) => report.findings.filter((f) => f.status === s).length
  lines.push('')
  lines.push(`${count('fail')} failed, ${count('warn')} warnings, ${count('ok')} ok; ${report.requests} requests.`)
  return `${lines.join('\n')}\n`
}

/** `--json`: one object `{target, findings, requests}` on one line (SPEC §9). */
export function formatJSON(report: CheckReport): string {
  return `${JSON.stringify({ target: report.target, findings: report.findings, requests: report.requests })}\n`
}
