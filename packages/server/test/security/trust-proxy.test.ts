import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, test } from 'node:test'
import { runCLI } from '../cli/run-cli.js'
import { type Nginx, startNginx } from '../helpers/nginx.js'
import { closeHarnesses, limitHarness, type LimitHarness } from './limit-harness.js'

/**
 * Issue 11, item 5: behind a proxy, the client address is the right-most X-Forwarded-For entry
 * a trusted proxy did not add, never the client's own left-most one. A real nginx (appending
 * with `$proxy_add_x_forwarded_for`, as README says) sits in front of a real listening server.
 *
 * Three loopback addresses keep the parties apart: the test's client connects from 127.0.0.2,
 * nginx connects to baton from 127.0.0.3 (`proxy_bind`), and the forged entries are 10.x.
 */

const CLIENT = '127.0.0.2'
const PROXY = '127.0.0.3'

let proxies: Nginx[] = []
afterEach(async () => {
  await Promise.all(proxies.map((p) => p.stop()))
  proxies = []
  await closeHarnesses()
})

interface Reply {
  status: number
  body: string
  json(): Record<string, unknown>
}

/** One request to nginx from CLIENT, on its own connection. */
function send(proxy: Nginx, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? '' : JSON.stringify(body)
    const req = httpRequest(
      {
        host: proxy.host,
        port: proxy.port,
        localAddress: CLIENT,
        agent: false,
        method,
        path,
        headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      },
      (res) => {
        let text = ''
        res.on('data', (c: Buffer) => (text += c.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, json: () => JSON.parse(text) as Record<string, unknown> }))
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}

async function behindNginx(trust: string, env: Record<string, string> = {}): Promise<{ h: LimitHarness; proxy: Nginx }> {
  const h = await limitHarness({ BATON_TRUST_PROXY: trust, ...env })
  await h.server.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = h.server.app.server.address() as AddressInfo
  const proxy = await startNginx({ upstream: `127.0.0.1:${port}`, bind: PROXY })
  proxies.push(proxy)
  return { h, proxy }
}

const forged = (i: number): Record<string, string> => ({ 'x-forwarded-for': `10.0.${i >> 8}.${i & 255}` })
const login = (proxy: Nginx, username: string, password: string, headers: Record<string, string>) =>
  send(proxy, 'POST', '/api/auth/token/', headers, { username, password })

for (const trust of ['1', PROXY, `${PROXY}/32,192.168.0.0/16`]) {
  describe(`trust proxy through a real nginx: BATON_TRUST_PROXY=${trust}`, () => {
    const limits = { LOGIN_RATE_LIMIT: 'off', LOGIN_RATE_LIMIT_IP: '3/900' }

    test(`trust proxy (${trust}): a forged X-Forwarded-For per request does not escape LOGIN_RATE_LIMIT_IP=3/900`, async () => {
      const { proxy } = await behindNginx(trust, limits)
      for (let i = 0; i < 3; i++) assert.equal((await login(proxy, `user${i}`, 'wrong', forged(i))).status, 401, proxy.errorLog())
      const fourth = await login(proxy, 'user3', 'wrong', forged(3))
      assert.equal(fourth.status, 429, fourth.body)
      assert.equal(fourth.json().code, 'rate_limited')
    })

    test(`trust proxy (${trust}): 40 wrong logins at once through nginx, each with its own forged address: 3 are checked, 37 are 429`, async () => {
      const { h, proxy } = await behindNginx(trust, limits)
      const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => login(proxy, `user${i}`, 'wrong', forged(i))))
      const statuses = replies.map((r) => r.status)
      assert.equal(statuses.filter((s) => s === 401).length, 3, JSON.stringify(statuses))
      assert.equal(statuses.filter((s) => s === 429).length, 37)
      assert.equal(h.verifications.length, 3)
    })

    test(`trust proxy (${trust}): the session list and the log lines carry the real client address, not the forged one`, async () => {
      const { h, proxy } = await behindNginx(trust)
      await h.server.addUser('alice', 'alice-password-1')
      assert.equal((await login(proxy, 'alice', 'wrong', forged(7))).status, 401)
      const ok = await login(proxy, 'alice', 'alice-password-1', forged(8))
      assert.equal(ok.status, 200, ok.body)
      const access = ok.json().access as string
      const list = await send(proxy, 'GET', '/api/auth/sessions/', { authorization: `Bearer ${access}`, ...forged(9) })
      assert.equal(list.status, 200, list.body)
      const sessions = list.json() as unknown as { ip: string }[]
      assert.deepEqual(
        sessions.map((s) => s.ip),
        [CLIENT],
      )
      const failed = h.server.logs.find((l) => l.audit === 'login_failed')
      assert.equal(failed?.ip, CLIENT)
      assert.ok(!h.server.logText().includes('10.0.0.'), 'no forged address in any log line')
    })
  })
}

describe('trust proxy: which peer is trusted', () => {
  const inject = (h: LimitHarness, remoteAddress: string, xff: string) =>
    h.server.app.inject({
      method: 'POST',
      url: '/api/auth/token/',
      payload: { username: 'x', password: 'wrong' },
      headers: { 'x-forwarded-for': xff },
      remoteAddress,
    })

  test("trust proxy: a peer outside the trusted list cannot name an address; the list's own peers can", async () => {
    const h = await limitHarness({ BATON_TRUST_PROXY: '10.0.0.0/8', LOGIN_RATE_LIMIT: 'off' })
    await inject(h, '192.0.2.50', '198.51.100.1')
    await inject(h, '10.1.2.3', '192.0.2.1, 198.51.100.2')
    await inject(h, '10.1.2.3', '198.51.100.3, 10.9.9.9')
    const ips = h.server.logs.filter((l) => l.audit === 'login_failed').map((l) => l.ip)
    assert.deepEqual(ips, ['192.0.2.50', '198.51.100.2', '198.51.100.3'])
  })

  test('trust proxy: false (the default) uses the socket address whatever the header says', async () => {
    const h = await limitHarness({ LOGIN_RATE_LIMIT: 'off' })
    await inject(h, '192.0.2.50', '198.51.100.1')
    assert.deepEqual(
      h.server.logs.filter((l) => l.audit === 'login_failed').map((l) => l.ip),
      ['192.0.2.50'],
    )
  })

  test('trust proxy: true in development warns once at start, naming the variable and the fix', async () => {
    const h = await limitHarness({ BATON_TRUST_PROXY: 'true' })
    const warnings = h.server.logs.filter((l) => l.variable === 'BATON_TRUST_PROXY')
    assert.equal(warnings.length, 1)
    assert.match(String(warnings[0]!.msg), /number of proxies/)
  })

  test('trust proxy: `baton serve` in production with BATON_TRUST_PROXY=true exits 78 naming the variable and the fix', async () => {
    const env = {
      BATON_MODE: 'production',
      JWT_ALGORITHM: 'HS256',
      JWT_SECRET: 'a-hs256-secret-that-is-long-enough-0123',
      BATON_TRUST_PROXY: 'true',
      PORT: '0',
    }
    const out = await runCLI(['serve'], env)
    assert.equal(out.code, 78, out.stderr)
    assert.match(out.stderr, /BATON_TRUST_PROXY: is true.*\n.*fix: Set the number of proxies/)
    assert.ok(!out.stderr.includes('a-hs256-secret'), 'no secret in the message')
  })
})
