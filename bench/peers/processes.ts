/**
 * The peer bench's servers are started by the bench's one process owner (lib/server.ts); what
 * is peculiar to the peers is here.
 */
import { type ServerProcess, sendOnce } from '../lib/server.js'
import type { Connection } from '../lib/http-client.js'

export { type StartOptions, sendOnce, startProcess } from '../lib/server.js'
export type PeerProcess = ServerProcess

/**
 * For runLoad's `open`: a new connection for every request. gunicorn's sync workers close each
 * connection after one answer (they do not do keep-alive), so every client of them pays a TCP
 * connect per request; the time is in the latency, as a client would see it.
 */
export function connectionPerRequest(port: number): Promise<Pick<Connection, 'send' | 'close'>> {
  return Promise.resolve({ send: (request: Buffer | string) => sendOnce(port, request), close: () => undefined })
}
