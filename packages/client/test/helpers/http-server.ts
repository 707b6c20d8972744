/**
 * Serves a fake server over a real socket (node:http on 127.0.0.1, port 0) for tests with real
 * HTTP clients (axios's Node adapter, Node's fetch). Closed by `t.after`, open connections too.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import { ConnectionDropped, type FakeServer } from './fake-server.js'

export async function serveOverHTTP(t: TestContext, server: Pick<FakeServer, 'handle'>): Promise<{ origin: string; port: number }> {
  const http = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const controller = new AbortController()
    res.on('close', () => {
      if (!res.writableEnded) controller.abort(new Error('client went away'))
    })
    const headers = new Headers()
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue
      for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item)
    }
    const method = req.method ?? 'GET'
    const request = new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, {
      method,
      headers,
      signal: controller.signal,
      ...(method === 'GET' || method === 'HEAD' ? {} : { body: Buffer.concat(chunks) }),
    })
    try {
      const response = await server.handle(request)
      const out: Record<string, string | string[]> = {}
      response.headers.forEach((value, name) => {
        if (name !== 'set-cookie') out[name] = value
      })
      const cookies = response.headers.getSetCookie()
      if (cookies.length > 0) out['set-cookie'] = cookies
      res.writeHead(response.status, out)
      res.end(Buffer.from(await response.arrayBuffer()))
    } catch (error) {
      if (error instanceof ConnectionDropped) req.socket.destroy()
      else if (!res.headersSent) {
        res.writeHead(500)
        res.end()
      }
    }
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  t.after(
    () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections()
        http.close(() => resolve())
      }),
  )
  const { port } = http.address() as AddressInfo
  return { origin: `http://127.0.0.1:${port}`, port }
}
