import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createEmitter } from '../src/events.js'

test('events: listeners get payloads in order; unsubscribe stops them', () => {
  const emitter = createEmitter()
  const seen: string[] = []
  const off = emitter.on('session-expired', ({ code }) => seen.push(`a:${code}`))
  emitter.on('session-expired', ({ code }) => seen.push(`b:${code}`))
  emitter.on('recovered', () => seen.push('recovered'))
  emitter.emit('session-expired', { code: 'token_revoked' })
  off()
  emitter.emit('session-expired', { code: 'token_reused' })
  assert.deepEqual(seen, ['a:token_revoked', 'b:token_revoked', 'b:token_reused'])
})

test('events: a throwing listener is reported and the others still run', (t) => {
  const emitter = createEmitter()
  const reported: unknown[] = []
  const original = console.error
  console.error = (error: unknown) => reported.push(error)
  t.after(() => {
    console.error = original
  })
  const seen: string[] = []
  emitter.on('logout', () => {
    throw new Error('bug')
  })
  emitter.on('logout', () => seen.push('second'))
  emitter.emit('logout', {})
  assert.deepEqual(seen, ['second'])
  assert.equal((reported[0] as Error).message, 'bug')
})

test('events: a listener removed during emit does not stop the current round', () => {
  const emitter = createEmitter()
  const seen: string[] = []
  let offB = (): void => {}
  emitter.on('logout', () => {
    seen.push('a')
    offB()
  })
  offB = emitter.on('logout', () => seen.push('b'))
  emitter.emit('logout', {})
  emitter.emit('logout', {})
  assert.deepEqual(seen, ['a', 'b', 'a'])
})
