import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'

/** Answers CPU seconds used so far by some set of processes. */
export type CpuProbe = () => number

const TICKS_PER_SECOND = 100 // getconf CLK_TCK on Linux

/** utime + stime of one process, in seconds; 0 once it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    // The command name (field 2) may contain spaces: fields are counted after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
  } catch {
    return 0
  }
}

/** The pid and every descendant (cluster workers) alive now. */
export function processTree(pid: number): number[] {
  const out = [pid]
  for (let i = 0; i < out.length; i++) {
    try {
      const children = readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, 'latin1').trim()
      if (children !== '') out.push(...children.split(' ').map(Number))
    } catch {
      // gone
    }
  }
  return out
}

/** CPU seconds of a process and all its descendants. */
export function treeProbe(pid: number): CpuProbe {
  return () => processTree(pid).reduce((s, p) => s + processCpuSeconds(p), 0)
}

export function cpuSnapshot(probes: Record<string, CpuProbe | undefined>): Record<string, number> {
  return Object.fromEntries(Object.entries(probes).flatMap(([k, p]) => (p === undefined ? [] : [[k, p()]])))
}

/**
 * A loopback port that is free now: the test helpers' one (below the kernel's ephemeral range,
 * so a client's own outgoing port never collides with it).
 */
export { freePort } from '../../packages/server/test/helpers/redis-server.js'

/** The 1, 5 and 15 minute load averages, rounded. */
export function loadAverage(): [number, number, number] {
  const [a, b, c] = loadavg()
  return [round2(a!), round2(b!), round2(c!)]
}

function round2(x: number): number {
  return Math.round(x * 100) / 100
}
