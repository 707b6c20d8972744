/**
 * Summarises V8 CPU profiles (`--cpu-prof`): self time by function and by where the code lives
 * (baton, a package, Node internals, native/GC), over every profile in the given folders/files.
 * Usage: node --import tsx bench/profile-summary.ts <dir-or-file>... [--top 40]
 */
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: Node[]
  samples: number[]
  timeDeltas: number[]
}

const args = process.argv.slice(2)
const option = (name: string): string | undefined => {
  const at = args.indexOf(name)
  return at >= 0 ? args[at + 1] : undefined
}
const top = Number(option('--top') ?? 40)
/** `--callers fn`: also show which call paths lead to functions named `fn` (3 frames up). */
const callersOf = option('--callers')
const inputs = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'))
const files = inputs.flatMap((p) =>
  statSync(p).isDirectory()
    ? readdirSync(p)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(p, f))
    : [p],
)

const byFunction = new Map<string, number>()
const byCallers = new Map<string, number>()
const byPlace = new Map<string, number>()
let total = 0
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  for (let i = 0; i < profile.samples.length; i++) {
    const node = nodes.get(profile.samples[i]!)!
    const us = profile.timeDeltas[i] ?? 0
    const { functionName, url, lineNumber } = node.callFrame
    if (functionName === '(idle)') continue
    total += us
    const fn = `${functionName || '(anonymous)'} ${place(url)}:${lineNumber + 1}`
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us)
    byPlace.set(place(url, functionName), (byPlace.get(place(url, functionName)) ?? 0) + us)
    if (callersOf !== undefined && functionName === callersOf) {
      const path: string[] = []
      for (let id = parent.get(node.id); id !== undefined && path.length < 9; id = parent.get(id)) {
        const f = nodes.get(id)!.callFrame
        path.push(`${f.functionName || '(anonymous)'} ${place(f.url)}`)
      }
      const key = path.join(' < ')
      byCallers.set(key, (byCallers.get(key) ?? 0) + us)
    }
  }
}

function place(url: string, fn = ''): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native)'
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (nm) return nm[1]!
  const src = /packages\/server\/(?:dist|src)\/(.+?)(?:\.js|\.ts)?$/.exec(url)
  if (src) return `baton/${src[1]}`
  if (url.startsWith('node:')) return url
  return url.replace(/^file:\/\//, '')
}

const show = (m: Map<string, number>, n: number) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n')
if (callersOf !== undefined) process.stdout.write(`Call paths into ${callersOf}:\n${show(byCallers, 15)}\n\n`)
process.stdout.write(
  `${files.length} profile(s), ${(total / 1e6).toFixed(2)} s of CPU (idle excluded)\n\nBy place:\n${show(byPlace, 25)}\n\nBy function (self time):\n${show(byFunction, top)}\n`,
)
