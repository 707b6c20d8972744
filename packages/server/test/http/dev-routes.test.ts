/**
 * The demo's development-only outage switch (README "Demo page", dev-routes.ts): it breaks the
 * store the way a dead Redis does (503 store_unavailable with Retry-After, readyz down, access
 * tokens still accepted, nobody logged out) and heals it; it does not exist in production or
 * with the demo off, and answers only a loopback client that did not come through a proxy.
 */
import assert from 'node:assert/strict'
import { networkInterfaces } from 'node:os'
import { after, test } from 'node:test'
import { DEV_STORE_PATH, isLoopback } from '../../src/http/dev-routes.js'
import { createTestServer, type TestServer } from '../helpers/make-server.js'

const PASSWORD = 'correct horse battery staple'

async function devServer(env: Record<string, string> = {}): Promise<TestServer> {
  const server = await createTestServer({ BATON_DEMO: 'true', ...env })
  after(() => server.close())
  return server
}

/** Polls `check` until true; the deadline only bounds how long a broken run takes to fail. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

test('dev store switch: broken, the store answers as a dead Redis does (503, readyz down, no logout); healed, it recovers by itself', async () => {
  const server = await devServer()
  await server.addUser('ada', PASSWORD)
  const { access, refresh } = await server.login('ada', PASSWORD)

  assert.deepEqual((await server.get(DEV_STORE_PATH)).json(), { down: false })
  const broken = await server.post(DEV_STORE_PATH, { down: true })
  assert.equal(broken.statusCode, 200)
  assert.deepEqual(broken.json(), { down: true })

  for (let i = 0; i < 4; i++) {
    const res = await server.post('/api/auth/refresh/', { refresh })
    assert.equal(res.statusCode, 503, res.body)
    assert.equal(res.json().code, 'store_unavailable')
    assert.equal(res.headers['retry-after'], '1')
  }
  const login = await server.post('/api/auth/token/', { username: 'ada', password: PASSWORD })
  assert.equal(login.statusCode, 503)
  const ready = await server.get('/readyz')
  assert.equal(ready.statusCode, 503)
  assert.equal(ready.json().store.state, 'down')
  assert.equal(server.deps.store.state(), 'open', 'the guard opened its circuit, as for a real outage')
  // SPEC §4: protected routes keep answering with a valid access token.
  assert.equal((await server.get('/api/me/', access)).statusCode, 200)
  const failures = server.logs.filter((l) => l.event === 'store_error')
  assert.ok(failures.length >= 3, 'one store_error line per failed operation')
  assert.match(JSON.stringify(failures[0]), /development fault injection/)
  assert.equal(server.logs.filter((l) => l.event === 'store_down').length, 1)

  assert.deepEqual((await server.post(DEV_STORE_PATH, { down: false })).json(), { down: false })
  await eventually(async () => (await server.get('/readyz')).statusCode === 200, 'the guard to close its circuit')
  // The refresh token presented during the outage is still the current one: nothing was lost.
  const again = await server.post('/api/auth/refresh/', { refresh })
  assert.equal(again.statusCode, 200, again.body)
  assert.equal(server.logs.filter((l) => l.event === 'store_recovered').length, 1)
})

test('dev store switch: absent in production mode and with the demo off (404), and then the store is not wrapped', async () => {
  for (const env of [{ BATON_MODE: 'production', JWT_ALGORITHM: 'HS256', JWT_SECRET: 'z'.repeat(64) }, { BATON_DEMO: 'false' }]) {
    const server = await devServer(env)
    assert.equal(server.deps.storeFault, undefined, JSON.stringify(env))
    for (const res of [await server.get(DEV_STORE_PATH), await server.post(DEV_STORE_PATH, { down: true })]) {
      assert.equal(res.statusCode, 404, JSON.stringify(env))
      assert.equal(res.json().code, 'not_found')
    }
  }
})

test('dev store switch: a non-loopback client, or one through a proxy, gets 404 and changes nothing', async () => {
  const server = await devServer({ BATON_TRUST_PROXY: 'true' })
  const attempts = [
    server.app.inject({ method: 'POST', url: DEV_STORE_PATH, remoteAddress: '192.0.2.10', payload: { down: true } }),
    server.app.inject({ method: 'POST', url: DEV_STORE_PATH, remoteAddress: '::ffff:10.1.2.3', payload: { down: true } }),
    server.app.inject({ method: 'GET', url: DEV_STORE_PATH, remoteAddress: 'fd00::7' }),
    // A reverse proxy on this host connects from loopback on behalf of anyone.
    server.post(DEV_STORE_PATH, { down: true }, { 'x-forwarded-for': '127.0.0.1' }),
    server.post(DEV_STORE_PATH, { down: true }, { forwarded: 'for=127.0.0.1' }),
    // DNS rebinding: a foreign site's name pointed at 127.0.0.1 still sends its own Host.
    server.app.inject({ method: 'POST', url: DEV_STORE_PATH, headers: { host: 'evil.example:8000' }, payload: { down: true } }),
  ]
  for (const res of await Promise.all(attempts)) {
    assert.equal(res.statusCode, 404)
    assert.equal(res.json().code, 'not_found')
  }
  assert.equal(server.deps.storeFault?.down(), false)
})

test("dev store switch: over a real socket, loopback is served and the machine's own non-loopback address is not", async (t) => {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)
  if (external === undefined) return t.skip('this machine has no non-loopback IPv4 address')
  const server = await devServer()
  await server.app.listen({ host: '0.0.0.0', port: 0 })
  const address = server.app.server.address()
  assert.ok(address !== null && typeof address === 'object')
  const local = await fetch(`http://127.0.0.1:${address.port}${DEV_STORE_PATH}`)
  assert.equal(local.status, 200)
  const remote = await fetch(`http://${external.address}:${address.port}${DEV_STORE_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"down":true}',
  })
  assert.equal(remote.status, 404)
  assert.equal(server.deps.storeFault?.down(), false)
})

test('dev store switch: a body other than {"down": boolean} is 400 bad_request', async () => {
  const server = await devServer()
  for (const body of [{}, { down: 'true' }, { down: true, extra: 1 }, [true]]) {
    const res = await server.post(DEV_STORE_PATH, body)
    assert.equal(res.statusCode, 400, JSON.stringify(body))
    assert.equal(res.json().code, 'bad_request')
  }
  const text = await server.app.inject({ method: 'POST', url: DEV_STORE_PATH, headers: { 'content-type': 'text/plain' }, payload: 'down' })
  assert.equal(text.statusCode, 415)
  assert.equal(server.deps.storeFault?.down(), false)
})

test('isLoopback: 127.0.0.0/8, ::1 and IPv4-mapped 127.x only', () => {
  for (const a of ['127.0.0.1', '127.3.4.5', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopback(a), true, a)
  for (const a of [undefined, '', '10.0.0.1', '::ffff:10.0.0.1', 'fd00::1', '::', '0.0.0.0', '127.0.0.1.evil', 'localhost'])
    assert.equal(isLoopback(a), false, String(a))
})
