import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runInNewContext } from 'node:vm'
import {
  BatonClientError,
  HTTPError,
  NetworkError,
  RefreshUnavailableError,
  SessionExpiredError,
  isBatonClientError,
  isHTTPError,
  isNetworkError,
  isRefreshUnavailableError,
  isSessionExpiredError,
} from '../src/errors.js'

function httpError(): HTTPError {
  return new HTTPError({
    request: new Request('https://api.test/api/auth/token/', { method: 'POST' }),
    response: new Response(null, { status: 401 }),
    code: 'invalid_credentials',
    detail: 'No active account found with the given credentials.',
  })
}

test('errors: each class has its name and code and extends BatonClientError', () => {
  const cases: [BatonClientError, string, string][] = [
    [httpError(), 'HTTPError', 'invalid_credentials'],
    [new NetworkError(new Request('https://api.test/x'), new TypeError('fetch failed')), 'NetworkError', 'network_error'],
    [new SessionExpiredError('token_reused'), 'SessionExpiredError', 'token_reused'],
    [new RefreshUnavailableError(3, new Error('503')), 'RefreshUnavailableError', 'refresh_unavailable'],
  ]
  for (const [error, name, code] of cases) {
    assert.ok(error instanceof BatonClientError)
    assert.ok(error instanceof Error)
    assert.equal(error.name, name)
    assert.equal(error.code, code)
    assert.ok(error.stack?.includes(name), 'the stack is kept')
  }
})

test('errors: HTTPError keeps status, code, request and response; its message names method and URL', () => {
  const error = httpError()
  assert.equal(error.status, 401)
  assert.equal(error.request.method, 'POST')
  assert.equal(error.response.status, 401)
  assert.equal(error.message, 'Request failed with status 401 (invalid_credentials): POST https://api.test/api/auth/token/')
})

test('errors: guards accept their class and reject the others', () => {
  const all = {
    http: httpError(),
    network: new NetworkError(new Request('https://api.test/x'), new TypeError('fetch failed')),
    expired: new SessionExpiredError('token_revoked'),
    unavailable: new RefreshUnavailableError(1, null),
  }
  const guards = {
    http: isHTTPError,
    network: isNetworkError,
    expired: isSessionExpiredError,
    unavailable: isRefreshUnavailableError,
  }
  for (const [guardName, guard] of Object.entries(guards)) {
    for (const [errorName, error] of Object.entries(all)) {
      assert.equal(guard(error), guardName === errorName, `${guardName}(${errorName})`)
    }
  }
  for (const error of Object.values(all)) assert.ok(isBatonClientError(error))
  for (const value of [new Error('x'), new TypeError('y'), null, undefined, 'HTTPError', { name: 'Other', code: 'x' }]) {
    assert.equal(isBatonClientError(value), false)
    assert.equal(isHTTPError(value), false)
  }
})

test('errors: guards recognise errors from another realm by name', () => {
  const foreign = runInNewContext(`
    class SessionExpiredError extends Error {
      constructor() { super('ended'); this.name = 'SessionExpiredError'; this.code = 'token_revoked' }
    }
    new SessionExpiredError()
  `) as unknown
  assert.equal(foreign instanceof SessionExpiredError, false)
  assert.ok(isSessionExpiredError(foreign))
  assert.ok(isBatonClientError(foreign))
  assert.equal(isHTTPError(foreign), false)
})

test('errors: NetworkError says when it timed out', () => {
  const timedOut = new NetworkError(
    new Request('https://api.test/api/auth/refresh/', { method: 'POST' }),
    new DOMException('The request timed out.', 'TimeoutError'),
  )
  assert.equal(timedOut.message, 'Request timed out: POST https://api.test/api/auth/refresh/')
})
