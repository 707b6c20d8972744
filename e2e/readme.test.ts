/**
 * The README's curl walkthrough ("### Try the API with curl"), run as a reader runs it: the
 * built CLI on a port of its own (`PORT=…`, as the README says to pick another port), a fresh
 * data folder, and every `sh` block of the section pasted, in order, into one bash, with the
 * first line changed to that port as the README tells the reader. Each block's output must
 * match the shape of its `# {…}` comments: same keys, same codes, `…` standing for the rest of
 * a token. The second test feeds the checker the walkthrough as issue 14 found it, and a copy
 * with one line dropped, and expects both to fail.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { baseEnv, runProcess } from '../packages/server/test/helpers/run-process.js'
import { ROOT, startBaton } from './helpers.js'

const SECTION = '### Try the API with curl'
const DEFAULT_B = 'B=http://127.0.0.1:8000'

/** The `sh` blocks of the walkthrough, from its heading to the next heading outside a block. */
function walkthroughBlocks(readme: string): string[] {
  const lines = readme.split('\n')
  const start = lines.indexOf(SECTION)
  assert.ok(start >= 0, `README.md has no "${SECTION}" section`)
  const blocks: string[] = []
  let block: string[] | null = null
  let fenced = false
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('```')) {
      fenced = !fenced
      if (fenced && line === '```sh') block = []
      else if (!fenced && block !== null) {
        blocks.push(`${block.join('\n')}\n`)
        block = null
      }
      continue
    }
    if (fenced) block?.push(line)
    else if (/^#{1,3} /.test(line)) break
  }
  return blocks
}

/** A block's expected outputs: its comment lines that are JSON (`# {…}`, `# […]`, `# true`). */
function expectedOutputs(block: string): unknown[] {
  const out: unknown[] = []
  for (const line of block.split('\n')) {
    const comment = /^# (.*)$/.exec(line)?.[1]
    if (comment === undefined) continue
    const json = leadingJSON(comment)
    if (json !== undefined) out.push(json)
  }
  return out
}

/** The JSON value a comment starts with (an object or array up to its closing bracket), if any. */
function leadingJSON(text: string): unknown {
  if (text === 'true' || text === 'false') return text === 'true'
  const open = text[0]
  if (open !== '{' && open !== '[') return undefined
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
    } else if (c === '"') inString = true
    else if (c === '{' || c === '[') depth++
    else if (c === '}' || c === ']') {
      if (--depth === 0) return JSON.parse(text.slice(0, i + 1))
    }
  }
  return undefined
}

/** Whether `actual` has the shape of `expected`: same keys in order, `…` matching the rest of a string. */
function sameShape(expected: unknown, actual: unknown): boolean {
  if (typeof expected === 'string') {
    if (typeof actual !== 'string') return false
    const parts = expected.split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    return new RegExp(`^${parts.join('.+')}$`, 's').test(actual)
  }
  if (Array.isArray(expected))
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => sameShape(e, actual[i]))
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false
    const keys = Object.keys(expected)
    return (
      JSON.stringify(keys) === JSON.stringify(Object.keys(actual)) &&
      keys.every((k) => sameShape((expected as Record<string, unknown>)[k], (actual as Record<string, unknown>)[k]))
    )
  }
  return expected === actual
}

const MARK = '@@readme-block-done@@'

/**
 * Starts a fresh server, runs the blocks in one bash (`set -u`: a variable no block set is an
 * error, as `$ACCESS` was in issue 14) and answers the problems found, one line each.
 */
async function runWalkthrough(blocks: string[]): Promise<{ problems: string[]; transcript: string }> {
  const baton = await startBaton({})
  try {
    const b = `B=${baton.url}`
    assert.ok(blocks[0]?.split('\n').includes(DEFAULT_B), `the first block sets ${DEFAULT_B}`)
    const script = ['set -u', ...blocks.map((block, i) => (i === 0 ? block.replace(DEFAULT_B, b) : block) + `\necho ${MARK}`)].join('\n')
    const { code, stdout, stderr } = await bash(script)
    const problems: string[] = []
    if (code !== 0) problems.push(`bash exited ${code}`)
    if (stderr !== '') problems.push(`bash wrote to stderr: ${stderr.trim()}`)
    const outputs = stdout.split(`${MARK}\n`)
    blocks.forEach((block, i) => {
      const want = expectedOutputs(block)
      const chunk = outputs[i] ?? ''
      // A reader's prompt would follow an answer printed without a newline on the same line.
      if (chunk !== '' && !chunk.endsWith('\n')) problems.push(`block ${i + 1}: its last answer does not end with a newline`)
      const got = chunk.split('\n').filter((l) => l.trim() !== '')
      if (got.length !== want.length)
        problems.push(`block ${i + 1}: ${got.length} lines of output, the README shows ${want.length}: ${JSON.stringify(got)}`)
      want.forEach((w, j) => {
        const line = got[j]
        let value: unknown
        try {
          value = line === undefined ? undefined : JSON.parse(line)
        } catch {
          value = line
        }
        if (!sameShape(w, value)) problems.push(`block ${i + 1}, output ${j + 1}: ${line} does not have the shape of ${JSON.stringify(w)}`)
      })
    })
    return { problems, transcript: `${stdout}\n${stderr}` }
  } finally {
    await baton.stop()
  }
}

/** The reader's shell: PATH (curl, node) and HOME, nothing of this test's environment. */
const bash = (script: string) => runProcess('bash', ['--noprofile', '--norc', '-s'], { env: baseEnv({ LANG: 'C.UTF-8' }), input: script })

const README = readFileSync(join(ROOT, 'README.md'), 'utf8')

test('README walkthrough: every curl block runs as pasted and prints what its comments show', async () => {
  const blocks = walkthroughBlocks(README)
  assert.ok(blocks.length >= 3, `found ${blocks.length} sh blocks`)
  // The README tells the reader how to use another port, which is what this test does.
  assert.match(README, /`PORT=8001 npm start`/)
  assert.match(README, /`B=http:\/\/127\.0\.0\.1:8001`/)
  const codes = blocks.flatMap(expectedOutputs).map((o) => (o as { code?: string }).code)
  assert.ok(codes.includes('token_reused'), 'the walkthrough shows the replay')
  const { problems, transcript } = await runWalkthrough(blocks)
  assert.deepEqual(problems, [], transcript)
})

test('README walkthrough checker: fails on the walkthrough as issue 14 found it, and on a block with a line dropped', async () => {
  // The block as it was: ACCESS and REFRESH were never set, so /api/me/ answered 401.
  const broken = [
    `${DEFAULT_B}
curl -s -XPOST $B/api/auth/register/ -H 'content-type: application/json' \\
  -d '{"username":"alice","password":"correct horse battery staple"}'
# {"id":"1","username":"alice"}
curl -s -XPOST $B/api/auth/token/ -H 'content-type: application/json' \\
  -d '{"username":"alice","password":"correct horse battery staple"}'
# {"access":"eyJ…","refresh":"eyJ…"}
curl -s $B/api/me/ -H "authorization: Bearer $ACCESS"
# {"id":"1","username":"alice"}
`,
  ]
  assert.notDeepEqual((await runWalkthrough(broken)).problems, [])
  const dropped = walkthroughBlocks(README).map((block) =>
    block
      .split('\n')
      .filter((line) => !line.startsWith('ACCESS='))
      .join('\n'),
  )
  const { problems } = await runWalkthrough(dropped)
  assert.ok(
    problems.some((p) => p.startsWith('bash wrote to stderr') && p.includes('ACCESS')),
    problems.join('\n'),
  )
})
