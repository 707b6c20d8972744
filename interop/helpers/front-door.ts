/**
 * One origin in front of several backends, routed by path prefix, with routes that can be
 * switched while requests are in flight — the reverse proxy a team moves `/api/token/` with at
 * the cut-over (SPEC §9). A switch applies to requests that arrive after it; the ones under way
 * finish where they started, as with an nginx reload.
 */
import { type IncomingMessage, type ServerResponse, createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Path prefix → `http://host:port` of the backend; the longest matching prefix wins. */
export type Routes = Record<string, string>

export interface FrontDoor {
  readonly url: string
  /** Replaces the routes for every request that arrives from now on. */
  route(routes: Routes): void
  close(): Promise<void>
}

export async function startFrontDoor(initial: Routes): Promise<FrontDoor> {
  let routes = initial
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/'
    const prefix = Object.keys(routes)
      .filter((p) => path.startsWith(p))
      .sort((a, b) => b.length - a.length)[0]
    if (prefix === undefined) {
      res.writeHead(404).end()
      return
    }
    const target = new URL(path, routes[prefix])
    const upstream = request(
      target,
      {
        method: req.method,
        headers: { ...req.headers, host: target.host, 'x-forwarded-for': req.socket.remoteAddress ?? '' },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
      },
    )
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' })
      res.end('{"detail":"bad gateway","code":"bad_gateway"}')
    })
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    route: (next) => {
      routes = next
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
