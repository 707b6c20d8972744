import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createAuthClient } from '../src/client.js'
import { createMemoryStorage, createWebStorage, readTokens, writeTokens, type TokenStorage } from '../src/token-storage.js'
import { BASE_URL } from './helpers/fake-browser.js'
import { createWorld } from './helpers/tabs.js'

/** A Map-backed stand-in for the Web Storage API. */
class FakeWebStorage implements Storage {
  #values = new Map<string, string>()
  get length(): number {
    return this.#values.size
  }
  clear(): void {
    this.#values.clear()
  }
  getItem(key: string): string | null {
    return this.#values.get(key) ?? null
  }
  key(index: number): string | null {
    return [...this.#values.keys()][index] ?? null
  }
  removeItem(key: string): void {
    this.#values.delete(key)
  }
  setItem(key: string, value: string): void {
    this.#values.set(key, String(value))
  }
}

const TOKENS = { access: 'a.b.c', refresh: 'r.s.t', skew: -1200 }

test('token-storage: memory and web storage adapters set, get and remove', async () => {
  for (const storage of [createMemoryStorage(), createWebStorage(new FakeWebStorage())]) {
    assert.equal(await storage.get('k'), null)
    await storage.set('k', 'v')
    assert.equal(await storage.get('k'), 'v')
    await storage.remove('k')
    assert.equal(await storage.get('k'), null)
  }
})

test('token-storage: a record round-trips; junk reads as no session', async () => {
  const storage = createMemoryStorage()
  await writeTokens(storage, 'k', TOKENS)
  assert.deepEqual(await readTokens(storage, 'k'), TOKENS)
  for (const junk of ['not json', '[]', '{"refresh":"r"}', '{"access":""}', '{"access":"a","refresh":5}', 'null']) {
    await storage.set('k', junk)
    assert.equal(await readTokens(storage, 'k'), null, junk)
  }
  await storage.set('k', '{"access":"a"}')
  assert.deepEqual(await readTokens(storage, 'k'), { access: 'a', refresh: null, skew: 0 })
})

test('token-storage: the measured lifetime round-trips; an unusable one is left out', async () => {
  const storage = createMemoryStorage()
  await writeTokens(storage, 'k', { ...TOKENS, lifetime: 4_250 })
  assert.deepEqual(await readTokens(storage, 'k'), { ...TOKENS, lifetime: 4_250 })
  for (const lifetime of ['"4250"', '-1', 'null', '1e999']) {
    await storage.set('k', `{"access":"a","skew":0,"lifetime":${lifetime}}`)
    assert.deepEqual(await readTokens(storage, 'k'), { access: 'a', refresh: null, skew: 0 }, lifetime)
  }
})

for (const name of ['localStorage', 'sessionStorage'] as const) {
  test(`token-storage: storage '${name}' keeps the pair in ${name}, where a new client finds it`, async (t) => {
    const webStorage = new FakeWebStorage()
    Object.defineProperty(globalThis, name, { value: webStorage, configurable: true })
    t.after(() => {
      Reflect.deleteProperty(globalThis, name)
    })
    const world = createWorld()
    t.after(world.close)
    const client = world.tab({ storage: name })
    const { access } = await client.login({ username: 'ada', password: 'lovelace' })
    const raw = webStorage.getItem(`baton:tokens:${BASE_URL}`)
    assert.equal(JSON.parse(raw ?? '{}').access, access)
    const next = world.tab({ storage: name })
    assert.equal(await next.getAccessToken(), access)
  })
}

test('token-storage: an async custom storage works', async (t) => {
  const values = new Map<string, string>()
  const storage: TokenStorage = {
    get: async (key) => values.get(key),
    set: async (key, value) => {
      values.set(key, value)
    },
    remove: async (key) => {
      values.delete(key)
    },
  }
  const world = createWorld()
  t.after(world.close)
  const client = world.tab({ storage, storageKey: 'session' })
  const { access } = await client.login({ username: 'ada', password: 'lovelace' })
  assert.equal(JSON.parse(values.get('session') ?? '{}').access, access)
  world.time.advance(301_000)
  assert.equal((await client.fetch('/api/me/')).status, 200)
  await client.logout()
  assert.equal(values.has('session'), false)
})

test('token-storage: outside a browser the default storage is memory, private to the client', async (t) => {
  const world = createWorld()
  t.after(world.close)
  const shared = {
    baseURL: BASE_URL,
    fetch: world.browser.fetch,
    now: world.time.now,
    timers: world.time.timers,
  }
  const a = createAuthClient(shared)
  const b = createAuthClient(shared)
  t.after(() => {
    a.close()
    b.close()
  })
  await a.login({ username: 'ada', password: 'lovelace' })
  await assert.rejects(b.getAccessToken(), {
    name: 'SessionExpiredError',
    code: 'not_authenticated',
  })
})
