import type { CheckStatus, DoctorReport } from './checks.js'

/** Exit code of `baton doctor` when the store is usable (warnings included). */
export const EXIT_USABLE = 0
/** Exit code of `baton doctor` when the store is not usable (any check failed). */
export const EXIT_NOT_USABLE = 1

const SYMBOL: Record<CheckStatus, string> = { ok: '✔', warn: '!', fail: '✘', skip: '-' }

/** The exit code a report calls for (SPEC §7: 0 when usable, warnings included; 1 when not). */
export function exitCodeOf(report: DoctorReport): number {
  return report.usable ? EXIT_USABLE : EXIT_NOT_USABLE
}

/**
 * Human output: one line per check (`✔`, `!`, `✘`, or `-` for skipped), then, for warnings and
 * failures, what it means for baton and the fix, indented. Ends with a one-line verdict.
 * The report is already masked (`runDoctor` masks every string).
 */
export function formatHuman(report: DoctorReport): string {
  const width = Math.max(...report.findings.map((f) => f.check.length), 5)
  const pad = ' '.repeat(width + 4)
  const lines: string[] = [report.url === null ? 'baton doctor' : `baton doctor: ${report.url}`, '']
  for (const f of report.findings) {
    const ms = f.ms !== undefined && f.status !== 'skip' ? `  [${f.ms} ms]` : ''
    lines.push(`${SYMBOL[f.status]} ${f.check.padEnd(width)}  ${f.message}${ms}`)
    if (f.status === 'warn' || f.status === 'fail') {
      lines.push(`${pad}means: ${f.meaning}`)
      if (f.fix !== undefined && f.fix !== '') lines.push(`${pad}fix:   ${f.fix}`)
    }
  }
  const warnings = report.findings.filter((f) => f.status === 'warn').length
  const failures = report.findings.filter((f) => f.status === 'fail').length
  lines.push('')
  lines.push(
    report.usable
      ? `Usable${warnings > 0 ? `, with ${warnings} warning${warnings === 1 ? '' : 's'}` : ''}: baton can keep its sessions in this Redis.`
      : `Not usable: ${failures} check${failures === 1 ? '' : 's'} failed; baton would answer 503 store_unavailable (or refuse to start).`,
  )
  return `${lines.join('\n')}\n`
}

/** `--json` output: one object `{ usable, url, findings }` on one line. */
export function formatJSON(report: DoctorReport): string {
  return `${JSON.stringify({ usable: report.usable, url: report.url, findings: report.findings })}\n`
}
