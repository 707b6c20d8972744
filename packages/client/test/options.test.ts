import assert from 'node:assert/strict'
import { test } from 'node:test'
import { resolveOptions, type AuthClientOptions } from '../src/options.js'
import { createMemoryStorage } from '../src/token-storage.js'

const fetch = (async () => new Response()) as typeof globalThis.fetch

test('options: defaults follow simplejwt paths and name the lock and storage key after baseURL', () => {
  const options = resolveOptions({ baseURL: 'https://api.example.com/v1/', fetch })
  assert.equal(options.mode, 'body')
  assert.equal(options.loginURL, 'https://api.example.com/api/auth/token/')
  assert.equal(options.refreshURL, 'https://api.example.com/api/auth/refresh/')
  assert.equal(options.logoutURL, 'https://api.example.com/api/auth/logout/')
  // Node here has no Web Locks: the in-process lock, named per storage (next test).
  assert.match(options.lockName, /^baton:refresh:https:\/\/api\.example\.com\/v1\/(#\d+)?$/)
  assert.equal(options.storageKey, 'baton:tokens:https://api.example.com/v1/')
  assert.equal(options.timeout, 10_000)
  assert.equal(options.origin, 'https://api.example.com')
  assert.ok(options.storage !== null)
  assert.ok(Object.isFrozen(options))
})

test('options: with the in-process lock each storage has its own lock name; clients sharing one storage share it; a given lock gets the plain name', () => {
  const baseURL = 'https://api.example.com/'
  const shared = createMemoryStorage()
  const [a, b, tab1, tab2] = [
    resolveOptions({ baseURL, fetch }),
    resolveOptions({ baseURL, fetch }),
    resolveOptions({ baseURL, fetch, storage: shared }),
    resolveOptions({ baseURL, fetch, storage: shared }),
  ]
  // Two users of one Node process (two memory storages) never queue behind each other.
  assert.notEqual(a.lockName, b.lockName)
  // Two "tabs" over one storage take turns, as tabs of an origin do.
  assert.equal(tab1.lockName, tab2.lockName)
  assert.notEqual(tab1.lockName, a.lockName)
  const lock = async <R>(_name: string, fn: () => Promise<R>): Promise<R> => fn()
  assert.equal(resolveOptions({ baseURL, fetch, lock }).lockName, `baton:refresh:${baseURL}`)
})

test('options: paths can be changed', () => {
  const options = resolveOptions({
    baseURL: new URL('https://api.example.com'),
    fetch,
    loginPath: '/auth/jwt/create/',
    refreshPath: 'auth/jwt/refresh/',
    logoutPath: '/auth/jwt/blacklist/',
  })
  assert.equal(options.loginURL, 'https://api.example.com/auth/jwt/create/')
  assert.equal(options.refreshURL, 'https://api.example.com/auth/jwt/refresh/')
  assert.equal(options.logoutURL, 'https://api.example.com/auth/jwt/blacklist/')
})

test('options: paths {login, refresh, logout} resolve against baseURL; logout null sends none', () => {
  const simplejwt = resolveOptions({
    baseURL: 'https://api.example.com/app/',
    fetch,
    paths: { login: '/api/token/', refresh: 'api/token/refresh/', logout: '/api/token/blacklist/' },
  })
  assert.equal(simplejwt.loginURL, 'https://api.example.com/api/token/')
  assert.equal(simplejwt.refreshURL, 'https://api.example.com/app/api/token/refresh/')
  assert.equal(simplejwt.logoutURL, 'https://api.example.com/api/token/blacklist/')
  // Each path is optional: the others keep baton's defaults.
  const some = resolveOptions({ baseURL: 'https://a.test', fetch, paths: { logout: null } })
  assert.equal(some.loginURL, 'https://a.test/api/auth/token/')
  assert.equal(some.refreshURL, 'https://a.test/api/auth/refresh/')
  assert.equal(some.logoutURL, null)
})

test('options: cookie mode keeps no storage', () => {
  assert.equal(resolveOptions({ baseURL: 'https://a.test', fetch, mode: 'cookie' }).storage, null)
  assert.equal(resolveOptions({ baseURL: 'https://a.test', fetch, mode: 'cookie', storage: 'memory' }).storage, null)
})

test('options: misuse is a TypeError naming the option', () => {
  const cases: [AuthClientOptions, RegExp][] = [
    [{ fetch }, /baseURL.*required/],
    [{ baseURL: 'api.example.com', fetch }, /absolute URL/],
    [{ baseURL: 'ftp://api.example.com', fetch }, /http: or https:/],
    [{ baseURL: 42 as never, fetch }, /baseURL/],
    [{ baseURL: 'https://a.test', fetch, mode: 'header' as never }, /mode/],
    [{ baseURL: 'https://a.test', fetch, storage: 'disk' as never }, /storage/],
    [{ baseURL: 'https://a.test', fetch, storage: { get() {}, set() {} } as never }, /storage/],
    [{ baseURL: 'https://a.test', fetch, storage: 'localStorage' }, /localStorage is not available/],
    [{ baseURL: 'https://a.test', fetch, mode: 'cookie', storage: createMemoryStorage() }, /cookie mode/],
    [{ baseURL: 'https://a.test', fetch: 'fetch' as never }, /fetch/],
    [{ baseURL: 'https://a.test', fetch, lock: {} as never }, /lock/],
    [{ baseURL: 'https://a.test', fetch, now: 5 as never }, /now/],
    [{ baseURL: 'https://a.test', fetch, timers: { setTimeout() {} } as never }, /timers/],
    [{ baseURL: 'https://a.test', fetch, channel: { post() {} } as never }, /channel/],
    [{ baseURL: 'https://a.test', fetch, timeout: 0 }, /timeout/],
    [{ baseURL: 'https://a.test', fetch, timeout: Number.POSITIVE_INFINITY }, /timeout/],
    [{ baseURL: 'https://a.test', fetch, storageKey: '' }, /storageKey/],
    [{ baseURL: 'https://a.test', fetch, refreshPath: 'https://evil.test/refresh/' }, /refreshPath/],
    [{ baseURL: 'https://a.test', fetch, paths: { refresh: 'https://evil.test/r/' } }, /paths\.refresh.*origin/],
    [{ baseURL: 'https://a.test', fetch, paths: { login: null } as never }, /paths\.login/],
    [{ baseURL: 'https://a.test', fetch, paths: { refresh: '' } }, /paths\.refresh/],
    [{ baseURL: 'https://a.test', fetch, paths: '/api/' as never }, /paths/],
    [{ baseURL: 'https://a.test', fetch, paths: { logout: null }, logoutPath: '/x/' }, /paths\.logout.*logoutPath.*not both/],
    [null as never, /options must be an object/],
  ]
  for (const [options, message] of cases) {
    assert.throws(
      () => resolveOptions(options),
      (error: unknown) => {
        assert.ok(error instanceof TypeError, String(error))
        assert.match(error.message, message)
        return true
      },
    )
  }
})
