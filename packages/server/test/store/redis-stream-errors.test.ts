import assert from 'node:assert/strict'
import type { EventEmitter } from 'node:events'
import { test } from 'node:test'
import { Redis } from 'ioredis'
import { sinkLaterStreamErrors } from '../../src/store/redis-stream-errors.js'
import { startRedisServer } from '../helpers/redis-server.js'

// The crash this guards against: ioredis handles a stream's first error only; a second one (a
// TLS socket reading the server's alert after the client refused its certificate) was thrown
// as uncaught. Emitting the two errors on the real socket shows which side of that line we are.
async function secondErrorThrows(wrap: boolean): Promise<boolean> {
  const server = await startRedisServer()
  const client = new Redis({ host: server.host, port: server.port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  client.on('error', () => undefined)
  if (wrap) assert.equal(sinkLaterStreamErrors(client), true)
  try {
    await client.connect()
    const stream = (client as unknown as { stream: EventEmitter }).stream
    stream.emit('error', new Error('first: ioredis handles it'))
    try {
      stream.emit('error', new Error('second: nobody did'))
      return false
    } catch {
      return true
    }
  } finally {
    client.disconnect()
    await server.stop()
  }
}

test('redis streams: without the sink a second socket error is thrown (ioredis listens once); with it, it is not', async () => {
  assert.equal(await secondErrorThrows(false), true, 'the ioredis behaviour this works around')
  assert.equal(await secondErrorThrows(true), false)
})
