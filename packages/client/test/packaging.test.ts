import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import axios from 'axios'
import { createFakeServer } from './helpers/fake-server.js'
import { createFakeTime } from './helpers/fake-time.js'
import { serveOverHTTP } from './helpers/http-server.js'

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(packageDir, 'dist')

function specifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
  const found: string[] = []
  for (const match of code.matchAll(/\b(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g)) {
    found.push(match[1] ?? '')
  }
  for (const match of code.matchAll(/\bimport\s*(?:\(\s*)?['"]([^'"]+)['"]/g)) found.push(match[1] ?? '')
  return found
}

test('packaging: dist has no bare imports, so a browser loads it with no bundler', () => {
  assert.ok(existsSync(join(dist, 'index.js')), 'build first: npx tsc -b packages/client')
  const files = readdirSync(dist).filter((name) => name.endsWith('.js'))
  assert.ok(files.includes('axios.js'))
  let relative = 0
  for (const file of files) {
    for (const specifier of specifiers(readFileSync(join(dist, file), 'utf8'))) {
      assert.match(specifier, /^\.\.?\/.+\.js$/, `${file} imports '${specifier}'`)
      assert.ok(existsSync(join(dist, specifier)), `${file} imports missing ${specifier}`)
      relative += 1
    }
  }
  assert.ok(relative > 10, 'the scan found the relative imports')
  assert.deepEqual(specifiers("import type { X } from 'axios'\nimport a from 'axios'"), ['axios', 'axios'])
})

test('packaging: package.json exports resolve to dist for "." and "./axios"', async () => {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    exports: Record<string, Record<string, string>>
    peerDependenciesMeta: Record<string, { optional: boolean }>
    dependencies?: Record<string, string>
  }
  assert.equal(manifest.dependencies, undefined, 'no runtime dependencies')
  assert.equal(manifest.peerDependenciesMeta['axios']?.optional, true)
  for (const entry of ['.', './axios']) {
    for (const target of Object.values(manifest.exports[entry] ?? {})) {
      assert.ok(existsSync(join(packageDir, target)), `${entry} → ${target}`)
    }
  }
  const main = (await import('@baton/client')) as Record<string, unknown>
  for (const name of ['createAuthClient', 'HTTPError', 'isSessionExpiredError', 'createInProcessLock', 'CSRF_HEADER']) {
    assert.ok(name in main, name)
  }
  const adapter = (await import('@baton/client/axios')) as Record<string, unknown>
  assert.equal(typeof adapter['attachAxios'], 'function')
})

test('packaging: the built files work together with the real axios', async (t) => {
  const { createAuthClient } = (await import(pathToFileURL(join(dist, 'index.js')).href)) as typeof import('../src/index.js')
  const { attachAxios } = (await import(pathToFileURL(join(dist, 'axios.js')).href)) as typeof import('../src/axios.js')
  const time = createFakeTime()
  const server = createFakeServer({ now: time.now })
  const { origin } = await serveOverHTTP(t, server)
  const client = createAuthClient({ baseURL: origin, now: time.now, timers: time.timers })
  t.after(() => client.close())
  const api = axios.create({ baseURL: origin })
  attachAxios(api, client)
  await client.login({ username: 'ada', password: 'lovelace' })
  server.invalidateAccessTokens()
  const [viaAxios, viaFetch] = await Promise.all([api.get('/api/me/'), client.fetch('/api/me/')])
  assert.equal(viaAxios.status, 200)
  assert.equal(viaFetch.status, 200)
  assert.equal(server.calls.refresh, 1)
})
