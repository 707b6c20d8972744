import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { test } from 'node:test'
import { type ConfigDefault, type ConfigVariable, DEFAULTS } from '../src/config-defaults.js'
import { loadConfig } from '../src/config.js'
import { DEFAULT_DATA_DIR } from '../src/users/open.js'

const README = new URL('../../../README.md', import.meta.url)

/** The README's "default" cell of a variable: the value in backticks, the rule, or — for none. */
function cellOf(d: ConfigDefault): string {
  if (d.rule !== undefined) return d.rule
  return d.value === null ? '—' : `\`${d.value}\``
}

/** The README's configuration table: variable name -> its default cell, as written. */
function readmeDefaults(): Map<string, string> {
  const text = readFileSync(README, 'utf8')
  const start = text.indexOf('\n## Configuration\n')
  assert.ok(start >= 0, 'README has a Configuration section')
  const section = text.slice(start + 1, text.indexOf('\n## ', start + 1))
  const rows = section.split('\n').filter((l) => l.startsWith('| `'))
  assert.ok(rows.length > 20, 'the table was found')
  const out = new Map<string, string>()
  for (const row of rows) {
    // Cells are split on ' | ': no default or name holds one (the meaning cell may, it is last).
    const [names, defaults] = row.slice(2).split(' | ') as [string, string]
    const vars = names.split(', ').map((n) => /^`([A-Z0-9_]+)`$/.exec(n)?.[1])
    assert.ok(
      vars.every((v) => v !== undefined),
      `a row names its variables in backticks: ${names}`,
    )
    // `PORT`, `HOST` | `8000`, `127.0.0.1`: one default per name, in the same order.
    const cells = vars.length === 1 ? [defaults] : defaults.split(', ')
    assert.equal(cells.length, vars.length, `one default per variable: ${row}`)
    for (const [i, v] of vars.entries()) {
      assert.ok(!out.has(v!), `${v} is in the table once`)
      out.set(v!, cells[i]!)
    }
  }
  return out
}

test('config defaults: every variable of DEFAULTS is in the README table with the same default', () => {
  const readme = readmeDefaults()
  for (const [name, d] of Object.entries(DEFAULTS) as [ConfigVariable, ConfigDefault][]) {
    assert.ok(readme.has(name), `${name} is missing from README.md's configuration table`)
    assert.equal(readme.get(name), cellOf(d), `${name}'s default in README.md`)
  }
})

test('config defaults: every variable of the README table is in DEFAULTS', () => {
  for (const name of readmeDefaults().keys()) assert.ok(Object.hasOwn(DEFAULTS, name), `${name} is in README.md but not in DEFAULTS`)
})

test('config defaults: setting a variable to its default is the same as leaving it unset', () => {
  // With the cut-over and Sentinel on, so that their variables are read at all.
  const base = { SIMPLEJWT_SIGNING_KEY: 'a Django SECRET_KEY of some length', REDIS_SENTINELS: '127.0.0.1:26379' }
  const unset = loadConfig(base)
  let checked = 0
  for (const [name, d] of Object.entries(DEFAULTS) as [ConfigVariable, ConfigDefault][]) {
    if (d.value === null) continue
    assert.deepEqual(loadConfig({ ...base, [name]: d.value }), unset, `${name}=${d.value}`)
    checked++
  }
  assert.ok(checked >= 25)
  // And a value other than the default does change something: the comparison can fail.
  assert.notDeepEqual(loadConfig({ ...base, REDIS_SENTINEL_MASTER: 'other' }), unset)
  assert.notDeepEqual(loadConfig({ ...base, LOGIN_RATE_LIMIT: '10/901' }), unset)
})

test('config defaults: the rules are what loadConfig does', () => {
  const dev = loadConfig({})
  const prod = loadConfig({ BATON_MODE: 'production', JWT_ALGORITHM: 'HS256', JWT_SECRET: 'x'.repeat(32) })
  assert.equal(dev.store, 'sqlite')
  assert.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).store, 'redis')
  assert.equal(loadConfig({ REDIS_SENTINELS: '127.0.0.1:26379' }).store, 'redis')
  assert.equal(dev.databaseURL, null)
  assert.equal(dev.refreshSecret, null)
  assert.deepEqual([dev.registration, dev.demo, prod.registration, prod.demo], [true, true, false, false])
  assert.deepEqual([dev.workers, prod.workers], [1, availableParallelism()])
  assert.equal(dev.loginConcurrency, Math.max(1, Math.floor(availableParallelism() / dev.workers)))
  assert.equal(loadConfig({ WORKERS: '2', BATON_STORE: 'sqlite' }).loginConcurrency, Math.max(1, Math.floor(availableParallelism() / 2)))
  assert.equal(dev.loginQueueLength, 4 * dev.loginConcurrency)
})

test('config defaults: the copies outside config.ts agree with the table', () => {
  // users/open.ts opens the user store without a Config (baton users); keep them in step.
  assert.equal(DEFAULT_DATA_DIR, DEFAULTS.BATON_DATA_DIR.value)
})
