/**
 * What `npm install @baton/server` / `@baton/client` would get: the file list of `npm pack`, and
 * the two packaging checkers (publint, arethetypeswrong) on the real tarballs. Both packages are
 * checked here because the checkers are root dev dependencies; the client's own
 * test/packaging.test.ts checks that its dist loads in a browser and with axios.
 *
 * `--ignore-scripts` everywhere: other tests read dist/ while this runs, and no pack script may
 * rebuild it under them. It packs what the build left, so it needs `npm run build` first.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { ROOT } from './cli/run-cli.js'
import { runProcess } from './helpers/run-process.js'

interface Manifest {
  name: string
  bin?: Record<string, string>
  exports: Record<string, Record<string, string> | string>
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}

interface PackEntry {
  name: string
  filename: string
  files: { path: string; size: number }[]
}

const PACKAGES = [
  { name: '@baton/server', dir: join(ROOT, 'packages/server') },
  { name: '@baton/client', dir: join(ROOT, 'packages/client') },
] as const

const out = mkdtempSync(join(tmpdir(), 'baton-pack-'))
after(() => rmSync(out, { recursive: true, force: true }))

const run = (command: string, args: string[]) => runProcess(command, args, { cwd: ROOT })

async function pack(name: string, dryRun: boolean): Promise<PackEntry> {
  const args = ['pack', '--json', '--ignore-scripts', '-w', name]
  const ran = await run('npm', dryRun ? [...args, '--dry-run'] : [...args, '--pack-destination', out])
  assert.equal(ran.code, 0, ran.stderr)
  const [entry] = JSON.parse(ran.stdout) as PackEntry[]
  assert.ok(entry, ran.stdout)
  return entry
}

function manifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest
}

/** Every file an `exports` or `bin` entry names, as a path inside the package. */
function entryFiles(m: Manifest): string[] {
  const targets = [...Object.values(m.bin ?? {})]
  for (const entry of Object.values(m.exports)) {
    targets.push(...(typeof entry === 'string' ? [entry] : Object.values(entry)))
  }
  return targets.map((target) => target.replace(/^\.\//, ''))
}

/** Bare specifiers of static and literal dynamic imports (comments removed first). */
function bareImports(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
  const found = new Set<string>()
  for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g)) {
    const specifier = m[1] ?? ''
    if (specifier.startsWith('.') || specifier.startsWith('/')) continue
    found.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] ?? ''))
  }
  return [...found]
}

for (const { name, dir } of PACKAGES) {
  test(`packaging: npm pack of ${name} holds the built files, types, README and LICENSE, and nothing else`, async () => {
    assert.ok(existsSync(join(dir, 'dist/index.js')), 'build first: npm run build')
    const m = manifest(dir)
    const files = (await pack(name, true)).files.map((f) => f.path)
    for (const needed of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', ...entryFiles(m)]) {
      assert.ok(files.includes(needed), `${name} packs ${needed}`)
    }
    const allowed = /^(package\.json|README\.md|LICENSE|bin\/baton\.js|dist\/.+\.(js|d\.ts|js\.map|css|html))$/
    for (const file of files) {
      assert.match(file, allowed, `${name} packs ${file}`)
      assert.doesNotMatch(file, /(^|\/)(test|tests|__tests__)\/|\.test\.|\.tsbuildinfo$|(?<!\.d)\.ts$/, `${name} packs ${file}`)
    }
    for (const file of files.filter((f) => f.endsWith('.js') && !f.startsWith('dist/demo/') && f.startsWith('dist/'))) {
      // A file tsc wrote for a source since deleted would ship with the package.
      const source = join(dir, 'src', file.slice('dist/'.length).replace(/\.js$/, '.ts'))
      assert.ok(existsSync(source), `${file} is stale build output (no ${source}): rebuild from a clean dist`)
    }
    // Source maps work without the sources, which are not packed: each carries its sources' text.
    const maps = files.filter((f) => f.endsWith('.map'))
    assert.ok(maps.length > 10, 'source maps are packed')
    for (const map of maps) {
      const { sources, sourcesContent } = JSON.parse(readFileSync(join(dir, map), 'utf8')) as {
        sources: string[]
        sourcesContent?: (string | null)[]
      }
      assert.equal(sourcesContent?.filter((s) => typeof s === 'string').length, sources.length, `${map} carries its sources`)
    }
    // What the packed code imports is declared: a devDependency used at run time breaks users.
    const declared = new Set([...Object.keys(m.dependencies ?? {}), ...Object.keys(m.peerDependencies ?? {})])
    const imported = new Set<string>()
    for (const file of files.filter((f) => f.endsWith('.js') && !f.startsWith('dist/demo/'))) {
      for (const specifier of bareImports(readFileSync(join(dir, file), 'utf8'))) {
        assert.ok(specifier.startsWith('node:') || declared.has(specifier), `${file} imports ${specifier}, not a dependency of ${name}`)
        imported.add(specifier)
      }
    }
    // The scan sees imports at all (the client has no runtime dependency, but uses no node: either).
    if (name === '@baton/server') assert.ok(imported.has('fastify') && imported.has('node:crypto'), [...imported].join(' '))
    assert.deepEqual(bareImports("import a from 'x/y'\nexport * from '@s/p/q'\nimport './z.js'\nawait import('w')"), ['x', '@s/p', 'w'])
    if (name === '@baton/server') {
      // `baton serve` serves the demo page from dist/demo (app.ts DEMO_DIR).
      assert.ok(files.includes('dist/demo/index.html'), 'the demo page is packed')
      assert.ok(
        files.some((f) => /^dist\/demo\/assets\/.+\.js$/.test(f)),
        'the demo script is packed',
      )
    }
  })

  test(`packaging: publint and arethetypeswrong find no problem in ${name}`, async () => {
    const tarball = join(out, (await pack(name, false)).filename)
    const publint = await run(process.execPath, [
      join(ROOT, 'node_modules/publint/src/cli.js'),
      'run',
      tarball,
      '--level',
      'suggestion',
      '--strict',
    ])
    assert.equal(publint.code, 0, publint.stdout + publint.stderr)
    assert.match(publint.stdout, /All good!/, publint.stdout)
    // esm-only: the packages are ES modules; CommonJS callers use import() (or require() of ESM,
    // which Node ≥ 22.12 does), so node10 and node16-from-CJS resolutions are not a target.
    const attw = await run(process.execPath, [
      join(ROOT, 'node_modules/@arethetypeswrong/cli/dist/index.js'),
      tarball,
      '--profile',
      'esm-only',
      '--format',
      'json',
    ])
    assert.equal(attw.code, 0, attw.stdout + attw.stderr)
    const { analysis } = JSON.parse(attw.stdout) as {
      analysis: { entrypoints: Record<string, unknown>; problems: { resolutionKind?: string }[] }
    }
    assert.deepEqual(Object.keys(analysis.entrypoints).sort(), Object.keys(manifest(dir).exports).sort())
    for (const problem of analysis.problems) {
      assert.ok(problem.resolutionKind === 'node10' || problem.resolutionKind === 'node16-cjs', JSON.stringify(problem))
    }
  })
}
